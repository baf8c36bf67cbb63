//! The public ticket status page (GB/T 4.1.3, no personal data: 5.4.2) over real HTTP,
//! the erasure of a customer's personal data with its tombstone event (GB/T 5.4,
//! 5.6.2.2), and the upstream sync figures of `/health`.

use chrono::{Duration, Utc};
use domain::{PriorityClass, RequestStage, ServiceType, TicketState};
use hub::testkit::{TestHub, config, refusal_code};
use protocol::*;

fn centre() -> hub::Config {
    config(
        r#"
[[staff]]
id = "clerk"
name = "Clerk"
secret_hash = "{PIN}"

[[counters]]
number = 1
services = ["consultation", "complaint", "installation", "repair", "return_exchange"]

[[counters]]
number = 3
services = ["consultation", "complaint", "installation", "repair", "return_exchange"]
"#,
    )
}

const PHONE: &str = "13812345678";
const NAME: &str = "张伟";
const ADDRESS: &str = "上海市浦东新区张江路88弄5号";

fn contact() -> Contact {
    Contact {
        name: Some(NAME.into()),
        phone: PHONE.into(),
        address: Some(ADDRESS.into()),
        consent: ContactConsent {
            service_updates: true,
            queue_sms: true,
        },
        lang: None,
    }
}

/// A complaint taken at the kiosk with the customer's contact (no fees to acknowledge).
async fn intake_with_contact(hub: &TestHub) -> IntakeReceipt {
    hub.client
        .intake(&KioskIntake {
            service: ServiceType::Complaint,
            class: PriorityClass::Normal,
            intake: Intake {
                problem: Some("维修后仍无法开机".into()),
                ..Intake::default()
            },
            contact: Some(contact()),
            fees_acknowledged: None,
            confirmed_by_customer: true,
            device: Some("kiosk-1".into()),
        })
        .await
        .unwrap()
}

async fn take(hub: &TestHub, service: ServiceType) -> IssuedTicket {
    hub.client
        .issue_ticket(&IssueTicket {
            service,
            class: PriorityClass::Normal,
            channel: domain::Channel::OnSite,
            device: Some("kiosk-1".into()),
        })
        .await
        .unwrap()
}

struct Page {
    status: u16,
    content_type: String,
    body: String,
}

async fn get(url: &str) -> Page {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Page {
        status,
        content_type,
        body: r.text().await.unwrap(),
    }
}

fn page_url(hub: &TestHub, token: &str) -> String {
    status_page_url(&hub.url, "test-centre", token)
}

/// The text inside the element with `id` (tags inside it removed).
fn element(html: &str, id: &str) -> Option<String> {
    let needle = format!(" id={id}");
    let start = html
        .match_indices(&needle)
        .map(|(i, _)| i)
        .find(|i| matches!(html.as_bytes().get(i + needle.len()), Some(b' ' | b'>')))?;
    let rest = &html[start..];
    let open_end = rest.find('>')? + 1;
    let tag_end = rest.find('\n').unwrap_or(rest.len());
    let inner = &rest[open_end..tag_end];
    let mut text = String::new();
    let mut in_tag = false;
    for c in inner.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_follows_a_ticket_from_waiting_to_the_counter() {
    let hub = TestHub::start(centre()).await;
    let first = take(&hub, ServiceType::Consultation).await;
    let _second = take(&hub, ServiceType::Consultation).await;
    let third = take(&hub, ServiceType::Consultation).await;
    let token = &third.ticket.status_token;
    assert_eq!(
        token.len(),
        20,
        "an unguessable key comes with every ticket"
    );

    // GB/T 4.1.3: waiting, with the people ahead and the wait the kiosk announced.
    let p = get(&page_url(&hub, token)).await;
    assert_eq!(p.status, 200);
    assert!(
        p.content_type.starts_with("text/html"),
        "{}",
        p.content_type
    );
    assert!(
        p.body
            .contains(r#"<meta name=viewport content="width=device-width, initial-scale=1">"#)
    );
    assert!(p.body.contains("<meta http-equiv=refresh content=15>"));
    assert!(p.body.contains("<html lang=zh-CN>"));
    // Nothing from elsewhere, no script.
    for outside in ["<script", "src=", "href=", "http://", "https://", "@import"] {
        assert!(!p.body.contains(outside), "{outside} in the page");
    }
    assert_eq!(
        element(&p.body, "number").as_deref(),
        Some(third.ticket.number.as_str())
    );
    assert!(
        element(&p.body, "service")
            .unwrap()
            .ends_with("Consultation")
    );
    assert_eq!(element(&p.body, "state").as_deref(), Some("等候中 Waiting"));
    assert_eq!(third.people_ahead, 2);
    assert_eq!(element(&p.body, "ahead").as_deref(), Some("2 人 2 people"));
    let wait = element(&p.body, "wait").unwrap();
    let minutes = third.estimated_wait_secs.div_ceil(60);
    assert!(
        wait.contains(&format!("about {minutes} min")) || minutes >= 60,
        "{wait}"
    );
    assert!(element(&p.body, "counter").is_none());
    assert!(element(&p.body, "stage").is_none());
    assert!(element(&p.body, "as-of").unwrap().contains("As of"));

    // The same figures as JSON.
    let s = hub
        .client
        .ticket_status("test-centre", token)
        .await
        .unwrap();
    assert_eq!(s.number, third.ticket.number);
    assert_eq!(s.service, ServiceType::Consultation);
    assert_eq!(s.state, TicketState::Waiting);
    assert_eq!(s.people_ahead, Some(2));
    assert_eq!(s.estimated_wait_secs, Some(third.estimated_wait_secs));
    assert_eq!(s.counter, None);
    assert_eq!(s.request_stage, None);
    assert_eq!(s.centre_name, "测试服务中心");
    assert!((Utc::now() - s.as_of) < Duration::seconds(30));

    // The first is called to counter 3: its page says where to go; the third moves up.
    let (staff, _) = hub.login("sup", Some(3)).await;
    staff.ticket_action(first.ticket.id, "call").await.unwrap();
    let p = get(&page_url(&hub, &first.ticket.status_token)).await;
    assert_eq!(p.status, 200);
    assert_eq!(
        element(&p.body, "counter").as_deref(),
        Some("请到 3 号窗口 Please go to counter 3")
    );
    assert!(
        element(&p.body, "ahead").is_none(),
        "no queue figures once called"
    );
    let s = hub
        .client
        .ticket_status("test-centre", &first.ticket.status_token)
        .await
        .unwrap();
    assert_eq!((s.state, s.counter), (TicketState::Called, Some(3)));
    let p = get(&page_url(&hub, token)).await;
    assert_eq!(element(&p.body, "ahead").as_deref(), Some("1 人 1 person"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_shows_its_stage_and_never_the_customers_contact() {
    let hub = TestHub::start(centre()).await;
    let receipt = intake_with_contact(&hub).await;
    let token = receipt.ticket.ticket.status_token.clone();

    // GB/T 8.1: the request opened on the ticket shows where it stands.
    let p = get(&page_url(&hub, &token)).await;
    assert_eq!(p.status, 200);
    assert_eq!(element(&p.body, "stage").as_deref(), Some("受理 Accepted"));
    let s = hub
        .client
        .ticket_status("test-centre", &token)
        .await
        .unwrap();
    assert_eq!(s.request_stage, Some(RequestStage::Acceptance));

    // GB/T 5.4.2: neither in clear nor masked.
    let json = reqwest::get(format!("{}.json", page_url(&hub, &token)))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for personal in [PHONE, "5678", "138", NAME, "张*", "张江路", "浦东"] {
        assert!(
            !p.body.contains(personal),
            "`{personal}` on the status page"
        );
    }
    for personal in [PHONE, "138****", NAME, "张*", "张江路"] {
        assert!(!json.contains(personal), "`{personal}` in the status JSON");
    }
    // No internal id either.
    assert!(!json.contains("\"id\""), "{json}");

    // Staff move the request on; the page follows.
    let (staff, _) = hub.login("sup", Some(1)).await;
    staff
        .advance_request(receipt.request.id, RequestStage::Processing)
        .await
        .unwrap();
    let s = hub
        .client
        .ticket_status("test-centre", &token)
        .await
        .unwrap();
    assert_eq!(s.request_stage, Some(RequestStage::Processing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_ticket_ids_and_other_centres_find_nothing() {
    let hub = TestHub::start(centre()).await;
    let t = take(&hub, ServiceType::Consultation).await;

    let mut refused = vec![
        // Unknown token of the right shape.
        page_url(&hub, "abcdefghjkmnpqrstuvw"),
        // GB/T 4.1.3: a ticket id (guessable) is not a key.
        page_url(&hub, &t.ticket.id.to_string()),
        page_url(&hub, &t.ticket.number),
        // A real token under another centre's id.
        status_page_url(&hub.url, "other-centre", &t.ticket.status_token),
        // Not even shaped like a token.
        page_url(&hub, "%3Cscript%3E"),
    ];
    refused.push(page_url(&hub, &t.ticket.status_token.to_uppercase()));
    for url in &refused {
        let p = get(url).await;
        assert_eq!(p.status, 404, "{url}");
        assert!(p.content_type.starts_with("text/html"), "{url}");
        assert!(
            p.body.contains("未找到") && p.body.contains("not found"),
            "{url}"
        );
        assert!(!p.body.contains("<script>"));
        let j = reqwest::get(format!("{url}.json")).await.unwrap();
        assert_eq!(j.status().as_u16(), 404, "{url}.json");
        let problem: Problem = j.json().await.unwrap();
        assert_eq!(problem.code, "unknown_ticket");
    }
    // The real one answers.
    assert_eq!(
        get(&page_url(&hub, &t.ticket.status_token)).await.status,
        200
    );
    // The page is at the root, not under the API prefix.
    let under_api = format!(
        "{}{}",
        hub.client.url(""),
        &page_url(&hub, &t.ticket.status_token)[hub.url.len()..]
    );
    assert_eq!(get(&under_api).await.status, 404);
}

fn db(hub: &TestHub) -> rusqlite::Connection {
    rusqlite::Connection::open(hub.dir.join(hub::DB_FILE)).unwrap()
}

fn pseudonym_of_request(hub: &TestHub, request_id: i64) -> String {
    db(hub)
        .query_row(
            "SELECT c.pseudonym FROM requests r JOIN customers c ON c.id = r.customer_id
             WHERE r.id = ?1",
            [request_id],
            |r| r.get(0),
        )
        .unwrap()
}

fn erasure_events(hub: &TestHub) -> Vec<serde_json::Value> {
    let conn = db(hub);
    let mut stmt = conn
        .prepare("SELECT payload FROM outbox WHERE kind = 'customer_erased' ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|p| serde_json::from_str(&p.unwrap()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_clears_the_contact_once_and_leaves_a_tombstone() {
    let hub = TestHub::start(centre()).await;
    let receipt = intake_with_contact(&hub).await;
    let request_id = receipt.request.id;
    let pseudonym = pseudonym_of_request(&hub, request_id);
    // The pseudonym is what headquarters knows the customer by.
    let created: String = db(&hub)
        .query_row(
            "SELECT payload FROM outbox WHERE kind = 'request_created' ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(created.contains(&pseudonym));

    // An appointment for the same customer queues a confirmation text (pending).
    let (sup, _) = hub.login("sup", Some(1)).await;
    let slot = {
        let after = Utc::now() + Duration::hours(2);
        let mut found = None;
        for n in 0..3 {
            let day = after.date_naive() + Duration::days(n);
            if let Some(s) = sup
                .slots(ServiceType::Consultation, day)
                .await
                .unwrap()
                .into_iter()
                .find(|s| s.start >= after && s.booked < s.capacity)
            {
                found = Some(s);
                break;
            }
        }
        found.expect("a free slot")
    };
    let booked = sup
        .create_appointment(&CreateAppointment {
            service: ServiceType::Consultation,
            slot_start: slot.start,
            channel: domain::Channel::Phone,
            intake: Intake::default(),
            contact: Some(contact()),
        })
        .await
        .unwrap();
    let booked_customer = pseudonym_of_request(&hub, booked.request_id);
    let pending: i64 = db(&hub)
        .query_row(
            "SELECT count(*) FROM sms_messages m JOIN customers c ON c.id = m.customer_id
             WHERE c.pseudonym = ?1 AND m.state = 'pending'",
            [&booked_customer],
            |r| r.get(0),
        )
        .unwrap();
    assert!(pending > 0, "a confirmation text waits to be sent");

    // Only a supervisor or an administrator erases (GB/T 5.4): not a device, not a clerk.
    let reason = ErasureReason::Request;
    assert_eq!(
        refusal_code(hub.client.erase_customer(&pseudonym, reason).await),
        "login_required"
    );
    let (clerk, _) = hub.login("clerk", Some(3)).await;
    assert_eq!(
        refusal_code(clerk.erase_customer(&pseudonym, reason).await),
        "forbidden"
    );
    assert_eq!(
        refusal_code(sup.erase_customer("00112233445566778899aabb", reason).await),
        "unknown_customer"
    );
    assert_eq!(
        refusal_code(sup.erase_customer("not-a-pseudonym", reason).await),
        "unknown_customer"
    );
    // A reason is required, and only the two the standard's practice knows.
    let bad: Result<ErasureView, _> = sup
        .post(
            &format!("/customers/{pseudonym}/erase"),
            &serde_json::json!({ "reason": "because" }),
        )
        .await;
    assert_eq!(refusal_code(bad), "invalid_field");
    assert!(erasure_events(&hub).is_empty(), "refusals change nothing");

    // GB/T 5.4, 5.6.2.2: erased.
    let done = sup.erase_customer(&pseudonym, reason).await.unwrap();
    assert_eq!(done.customer, pseudonym);
    assert!(!done.already_erased);
    let (name, phone, address, erased_at): (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = db(&hub)
        .query_row(
            "SELECT name, phone, address, erased_at FROM customers WHERE pseudonym = ?1",
            [&pseudonym],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!((name, phone, address), (None, None, None));
    assert!(erased_at.is_some());
    // The request keeps that there was a contact, and nothing of it.
    let view = sup.request(request_id).await.unwrap();
    let c = view
        .contact
        .expect("the request shows the contact as erased");
    assert!(c.erased);
    assert_eq!((c.name, c.phone.as_str(), c.address), (None, "", None));
    assert_eq!(
        refusal_code(sup.reveal_contact(request_id).await),
        "not_found"
    );
    // The tombstone, exactly once, with the pseudonym and the reason only.
    let events = erasure_events(&hub);
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["customer"], pseudonym.as_str());
    assert_eq!(events[0]["reason"], "request");
    // Audited, naming who and why (GB/T 5.6.2.3).
    let audited: i64 = db(&hub)
        .query_row(
            "SELECT count(*) FROM audit WHERE action = 'customer_erase' AND staff_id = 'sup'
             AND detail LIKE '%' || ?1 || '%request%'",
            [&pseudonym],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 1);

    // Idempotent: a second erasure answers the same and emits nothing.
    let again = sup
        .erase_customer(&pseudonym, ErasureReason::Retention)
        .await
        .unwrap();
    assert!(again.already_erased);
    assert_eq!(again.erased_at, done.erased_at);
    assert_eq!(erasure_events(&hub).len(), 1);

    // The appointment's customer: its pending text is dropped, never sent.
    sup.erase_customer(&booked_customer, ErasureReason::Retention)
        .await
        .unwrap();
    let left: i64 = db(&hub)
        .query_row(
            "SELECT count(*) FROM sms_messages m JOIN customers c ON c.id = m.customer_id
             WHERE c.pseudonym = ?1 AND m.state = 'pending'",
            [&booked_customer],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    let leased = hub.client.lease_sms("sms-agent").await.unwrap();
    assert!(leased.is_none(), "{leased:?}");
    let events = erasure_events(&hub);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["reason"], "retention");
    // Still no personal data anywhere in the outbox.
    let leaked: i64 = db(&hub)
        .query_row(
            "SELECT count(*) FROM outbox WHERE payload LIKE '%' || ?1 || '%' OR payload LIKE '%' || ?2 || '%'",
            [PHONE, NAME],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaked, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_outbox_when_no_headquarters_is_configured() {
    let hub = TestHub::start(centre()).await;
    take(&hub, ServiceType::Consultation).await;
    take(&hub, ServiceType::Repair).await;
    let h = hub.client.health().await.unwrap();
    assert!(!h.sync.enabled, "no [hq] in the configuration");
    assert!(h.sync.pending >= 2, "{:?}", h.sync);
    assert_eq!(h.sync.pending, h.outbox_unsent);
    let oldest = h.sync.oldest_pending_at.expect("the oldest unsent event");
    assert!(oldest <= Utc::now());
    assert_eq!(h.sync.last_success_at, None);
    assert_eq!(h.sync.last_error, None);
    // The catalogue names no outside address: tickets' QR codes point at the hub.
    assert_eq!(hub.client.catalogue().await.unwrap().status_base_url, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_public_address_the_catalogue_points_qr_codes_there() {
    let cfg = config(
        r#"
[hq]
url = "http://127.0.0.1:9"
token = "centre-token"
public_url = "https://status.example.com/"
"#,
    );
    let hub = TestHub::start(cfg).await;
    let cat = hub.client.catalogue().await.unwrap();
    assert_eq!(
        cat.status_base_url.as_deref(),
        Some("https://status.example.com")
    );
    assert_eq!(
        status_page_url(cat.status_base_url.as_deref().unwrap(), "test-centre", "k"),
        "https://status.example.com/s/test-centre/k"
    );
    assert!(hub.client.health().await.unwrap().sync.enabled);
}
