//! The projector and the public status page, from real hub events through real HTTP.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use domain::request::Deadlines;
use domain::{Channel, Fen, PriorityClass, RequestStage, ServiceType, TicketState};
use hq::testkit::TestHq;
use protocol::HubEvent;
use protocol::PaymentMethod;
use protocol::sync::TicketStatus;

/// 10:00 in Beijing on a Monday.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 2, 0, 0).unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

fn issue(ticket_id: i64, number: &str, service: ServiceType) -> HubEvent {
    HubEvent::TicketIssued {
        ticket_id,
        number: number.into(),
        service,
        class: PriorityClass::Normal,
        channel: Channel::OnSite,
        token: format!("qr{ticket_id}x"),
    }
}

fn call(ticket_id: i64, number: &str, counter: u32) -> HubEvent {
    HubEvent::TicketCalled {
        ticket_id,
        number: number.into(),
        service: ServiceType::Repair,
        counter,
        recall: false,
        staff_id: Some("staff-7".into()),
    }
}

fn finish(ticket_id: i64, number: &str, service_secs: u32) -> HubEvent {
    HubEvent::TicketFinished {
        ticket_id,
        number: number.into(),
        counter: 3,
        service_secs,
        staff_id: Some("staff-7".into()),
    }
}

const PSEUDONYM: &str = "cust-5f2a9c";

/// Issue → call → start → finish, a request through its stages with deadlines, a payment,
/// a refund paid, a rating and finally the customer's erasure.
fn visit() -> Vec<(DateTime<Utc>, HubEvent)> {
    let deadlines = Deadlines {
        reply_due: Some(at(60)),
        resolve_due: at(60 * 24 * 3),
    };
    vec![
        (
            at(0),
            HubEvent::DayOpened {
                day_id: 1,
                date: NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(),
            },
        ),
        (at(1), issue(1, "R001", ServiceType::Repair)),
        (at(5), call(1, "R001", 3)),
        (
            at(6),
            HubEvent::TicketStarted {
                ticket_id: 1,
                number: "R001".into(),
                counter: 3,
            },
        ),
        (
            at(7),
            HubEvent::RequestCreated {
                request_id: 11,
                service: ServiceType::Repair,
                channel: Channel::OnSite,
                stage: RequestStage::Acceptance,
                ticket_id: Some(1),
                customer: Some(PSEUDONYM.into()),
                deadlines: Some(deadlines),
            },
        ),
        (
            at(8),
            HubEvent::RequestAdvanced {
                request_id: 11,
                from: RequestStage::Acceptance,
                to: RequestStage::Processing,
                deadlines: None,
            },
        ),
        (
            at(9),
            HubEvent::PaymentRecorded {
                request_id: 11,
                payment_id: 21,
                amount: Fen(12_000),
                method: PaymentMethod::BankCard,
            },
        ),
        (at(13), finish(1, "R001", 420)),
        (
            at(20),
            HubEvent::RequestAdvanced {
                request_id: 11,
                from: RequestStage::Processing,
                to: RequestStage::Reply,
                deadlines: None,
            },
        ),
        (
            at(21),
            HubEvent::RefundRecorded {
                request_id: 11,
                refund_id: 31,
                amount: Fen(2_000),
                due_date: NaiveDate::from_ymd_opt(2025, 3, 10).unwrap(),
            },
        ),
        (
            at(22),
            HubEvent::RatingGiven {
                rating_id: 41,
                ticket_id: Some(1),
                request_id: Some(11),
                service: ServiceType::Repair,
                score: 5,
                via: "kiosk".into(),
                counter: Some(3),
                staff_id: Some("staff-7".into()),
            },
        ),
        (
            at(30),
            HubEvent::RequestAdvanced {
                request_id: 11,
                from: RequestStage::Reply,
                to: RequestStage::Archiving,
                deadlines: None,
            },
        ),
        (
            at(60 * 24),
            HubEvent::RefundPaid {
                request_id: 11,
                refund_id: 31,
            },
        ),
        (
            at(60 * 24 + 1),
            HubEvent::CustomerErased {
                customer: PSEUDONYM.into(),
                reason: "request".into(),
            },
        ),
    ]
}

#[tokio::test]
async fn a_realistic_visit_fills_every_projection() {
    let hq = TestHq::start().await;
    hq.add_centre("c1", "一").await;
    let ack = hq.store("c1", 1, 1, &visit()).await;
    assert_eq!(ack.inserted, 14);
    let db = hq.client().await;

    let t = db
        .query_one(
            "SELECT number, service, state, token, called_at, counter, staff_id, started_at,
                    finished_at, service_secs FROM tickets WHERE centre_id = 'c1' AND ticket_id = 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(t.get::<_, String>(0), "R001");
    assert_eq!(t.get::<_, String>(1), "repair");
    assert_eq!(t.get::<_, String>(2), "finished");
    assert_eq!(t.get::<_, Option<String>>(3).as_deref(), Some("qr1x"));
    assert_eq!(t.get::<_, Option<DateTime<Utc>>>(4), Some(at(5)));
    assert_eq!(t.get::<_, Option<i32>>(5), Some(3));
    assert_eq!(t.get::<_, Option<String>>(6).as_deref(), Some("staff-7"));
    assert_eq!(t.get::<_, Option<DateTime<Utc>>>(7), Some(at(6)));
    assert_eq!(t.get::<_, Option<DateTime<Utc>>>(8), Some(at(13)));
    assert_eq!(t.get::<_, Option<i32>>(9), Some(420));

    let r = db
        .query_one(
            "SELECT stage, ticket_id, customer, reply_due, resolve_due, answered_at, resolved_at
               FROM requests WHERE centre_id = 'c1' AND request_id = 11",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "archiving");
    assert_eq!(r.get::<_, Option<i64>>(1), Some(1));
    // GB/T 5.4.2: the tombstone removed the pseudonym.
    assert_eq!(r.get::<_, Option<String>>(2), None);
    assert_eq!(r.get::<_, Option<DateTime<Utc>>>(3), Some(at(60)));
    assert_eq!(r.get::<_, Option<DateTime<Utc>>>(4), Some(at(60 * 24 * 3)));
    assert_eq!(r.get::<_, Option<DateTime<Utc>>>(5), Some(at(20)));
    assert_eq!(r.get::<_, Option<DateTime<Utc>>>(6), Some(at(30)));

    let p = db
        .query_one("SELECT request_id, amount_fen, method, at FROM payments WHERE centre_id = 'c1' AND payment_id = 21", &[])
        .await
        .unwrap();
    assert_eq!((p.get::<_, i64>(0), p.get::<_, i64>(1)), (11, 12_000));
    assert_eq!(p.get::<_, String>(2), "bank_card");
    assert_eq!(p.get::<_, DateTime<Utc>>(3), at(9));

    let f = db
        .query_one("SELECT amount_fen, due_date, recorded_at, paid_at FROM refunds WHERE centre_id = 'c1' AND refund_id = 31", &[])
        .await
        .unwrap();
    assert_eq!(f.get::<_, i64>(0), 2_000);
    assert_eq!(
        f.get::<_, NaiveDate>(1),
        NaiveDate::from_ymd_opt(2025, 3, 10).unwrap()
    );
    assert_eq!(f.get::<_, DateTime<Utc>>(2), at(21));
    assert_eq!(f.get::<_, Option<DateTime<Utc>>>(3), Some(at(60 * 24)));

    let g = db
        .query_one("SELECT score, via, counter, staff_id, ticket_id FROM ratings WHERE centre_id = 'c1' AND rating_id = 41", &[])
        .await
        .unwrap();
    assert_eq!(g.get::<_, i16>(0), 5);
    assert_eq!(g.get::<_, String>(1), "kiosk");
    assert_eq!(g.get::<_, Option<i32>>(2), Some(3));
    assert_eq!(g.get::<_, Option<String>>(3).as_deref(), Some("staff-7"));
    assert_eq!(g.get::<_, Option<i64>>(4), Some(1));

    let e = db
        .query_one(
            "SELECT customer, reason FROM erasures WHERE centre_id = 'c1'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (e.get::<_, String>(0), e.get::<_, String>(1)),
        (PSEUDONYM.into(), "request".into())
    );

    // A late copy of the request's creation cannot bring the erased pseudonym back.
    hq.store(
        "c1",
        1,
        15,
        &[(
            at(60 * 25),
            HubEvent::RequestCreated {
                request_id: 12,
                service: ServiceType::Repair,
                channel: Channel::Phone,
                stage: RequestStage::Acceptance,
                ticket_id: None,
                customer: Some(PSEUDONYM.into()),
                deadlines: None,
            },
        )],
    )
    .await;
    let leaked: i64 = db
        .query_one(
            "SELECT count(*) FROM requests WHERE customer IS NOT NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);
}

async fn snapshot(hq: &TestHq) -> Vec<String> {
    let db = hq.client().await;
    let mut out = Vec::new();
    for table in [
        "tickets",
        "requests",
        "payments",
        "refunds",
        "ratings",
        "erasures",
        "projection_cursor",
    ] {
        let rows = db
            .query(
                &format!("SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1"),
                &[],
            )
            .await
            .unwrap();
        out.extend(rows.iter().map(|r| r.get::<_, String>(0)));
    }
    out.into_iter()
        .map(|s| {
            // updated_at on the cursor is the projector's own clock.
            let mut v: serde_json::Value = serde_json::from_str(&s).unwrap();
            if let Some(o) = v.as_object_mut() {
                o.remove("updated_at");
            }
            v.to_string()
        })
        .collect()
}

#[tokio::test]
async fn projecting_twice_or_after_a_restart_changes_nothing() {
    let hq = TestHq::start().await;
    hq.add_centre("c1", "一").await;
    hq.store("c1", 1, 1, &visit()).await;
    let first = snapshot(&hq).await;
    assert_eq!(hq.project().await, 0, "nothing left to apply");
    assert_eq!(snapshot(&hq).await, first);
    let hq = hq.restart().await;
    assert_eq!(hq.project().await, 0);
    assert_eq!(snapshot(&hq).await, first);

    // Rewind the cursor: applying the same events again is harmless...
    hq.client()
        .await
        .execute(
            "UPDATE projection_cursor SET last_received = 0, applied = 0",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(hq.project().await, 14);
    assert_eq!(snapshot(&hq).await, first);
}

#[tokio::test]
async fn unknown_kinds_and_bad_events_are_skipped_without_stopping_the_projector() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("c1", "一").await;
    let mut events = vec![
        hq::testkit::wire_event(1, at(0), &issue(1, "A001", ServiceType::Consultation)),
        hq::testkit::wire_event(2, at(1), &issue(2, "A002", ServiceType::Consultation)),
        hq::testkit::wire_event(3, at(2), &issue(3, "A003", ServiceType::Consultation)),
    ];
    // A newer hub's kind, and a rating with a score out of range.
    events[1].kind = "ticket_teleported".into();
    events[1].payload = serde_json::json!({"type": "ticket_teleported", "ticket_id": 2});
    events.push(hq::testkit::wire_event(
        4,
        at(3),
        &HubEvent::RatingGiven {
            rating_id: 1,
            ticket_id: Some(1),
            request_id: None,
            service: ServiceType::Consultation,
            score: 9,
            via: "kiosk".into(),
            counter: None,
            staff_id: None,
        },
    ));
    let ack = hq
        .send(
            &token,
            &protocol::sync::IngestBatch {
                centre_id: "c1".into(),
                epoch: 1,
                events,
            },
        )
        .await;
    assert_eq!(ack.inserted, 4);
    hq.project().await;
    let db = hq.client().await;
    let tickets: i64 = db
        .query_one("SELECT count(*) FROM tickets", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(tickets, 2);
    let skipped: Vec<String> = db
        .query("SELECT kind FROM projection_skipped ORDER BY received", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(skipped, vec!["rating_given".to_string()]);
    let lag: i64 = hq::projector::lag(&**db).await.unwrap();
    assert_eq!(lag, 0);
}

#[tokio::test]
async fn closing_the_day_cancels_open_tickets_and_a_transfer_requeues() {
    let hq = TestHq::start().await;
    hq.add_centre("c1", "一").await;
    hq.store(
        "c1",
        1,
        1,
        &[
            (at(0), issue(1, "A001", ServiceType::Consultation)),
            (at(1), issue(2, "A002", ServiceType::Consultation)),
            (at(2), issue(3, "A003", ServiceType::Consultation)),
            (at(3), call(1, "A001", 2)),
            (
                at(4),
                HubEvent::TicketTransferred {
                    ticket_id: 1,
                    number: "A001".into(),
                    from: ServiceType::Consultation,
                    to: ServiceType::Repair,
                    to_front: true,
                },
            ),
            (at(5), call(2, "A002", 2)),
            (
                at(6),
                HubEvent::TicketStarted {
                    ticket_id: 2,
                    number: "A002".into(),
                    counter: 2,
                },
            ),
        ],
    )
    .await;
    let state = |rows: Vec<tokio_postgres::Row>| -> Vec<(i64, String, String)> {
        rows.iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    };
    let db = hq.client().await;
    let q = "SELECT ticket_id, service, state FROM tickets ORDER BY ticket_id";
    assert_eq!(
        state(db.query(q, &[]).await.unwrap()),
        vec![
            (1, "repair".into(), "waiting".into()),
            (2, "consultation".into(), "serving".into()),
            (3, "consultation".into(), "waiting".into()),
        ]
    );
    hq.store(
        "c1",
        1,
        8,
        &[(
            at(600),
            HubEvent::DayClosed {
                day_id: 1,
                date: NaiveDate::from_ymd_opt(2025, 3, 3).unwrap(),
                cancelled: 2,
            },
        )],
    )
    .await;
    assert_eq!(
        state(db.query(q, &[]).await.unwrap()),
        vec![
            (1, "repair".into(), "cancelled".into()),
            (2, "consultation".into(), "serving".into()),
            (3, "consultation".into(), "cancelled".into()),
        ]
    );
}

#[tokio::test]
async fn a_restored_hubs_repeated_ticket_id_is_the_later_ticket() {
    let hq = TestHq::start().await;
    hq.add_centre("c1", "一").await;
    hq.store(
        "c1",
        1,
        1,
        &[
            (at(0), issue(1, "A001", ServiceType::Consultation)),
            (at(1), finish(1, "A001", 60)),
        ],
    )
    .await;
    // Epoch 2 after a restore: ticket id 1 again, a different ticket.
    hq.store(
        "c1",
        2,
        2,
        &[(at(5), issue(1, "B001", ServiceType::Repair))],
    )
    .await;
    let r = hq
        .client()
        .await
        .query_one(
            "SELECT number, state, finished_at FROM tickets WHERE ticket_id = 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "B001");
    assert_eq!(r.get::<_, String>(1), "waiting");
    assert_eq!(r.get::<_, Option<DateTime<Utc>>>(2), None);
}

async fn get(url: String) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The inner HTML of the element with `id` (elements with ids do not nest their own tag).
fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let open = html[..at].rfind('<').unwrap();
    let tag: String = html[open + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let inner = at + html[at..].find('>').unwrap() + 1;
    let close = html[inner..].find(&format!("</{tag}>")).unwrap();
    &html[inner..inner + close]
}

#[tokio::test]
async fn the_status_page_shows_the_figures_and_no_personal_data() {
    let hq = TestHq::start().await;
    hq.add_centre("c1", "浦东服务中心").await;
    let mut events = vec![];
    // Yesterday's leftover waiting ticket does not count as ahead (another local day).
    events.push((at(-60 * 24), issue(100, "R100", ServiceType::Repair)));
    // Three finished repairs: 600, 900 and 600 seconds (median 600).
    for (i, secs) in [(1, 600), (2, 900), (3, 600)] {
        let n = format!("R00{i}");
        events.push((at(i), issue(i, &n, ServiceType::Repair)));
        events.push((at(i) + Duration::seconds(10), call(i, &n, 3)));
        events.push((at(i) + Duration::seconds(20), finish(i, &n, secs)));
    }
    // Waiting: R004, R005, then ours R006; a consultation in between does not count.
    events.push((at(10), issue(4, "R004", ServiceType::Repair)));
    events.push((at(11), issue(5, "R005", ServiceType::Repair)));
    events.push((at(12), issue(50, "C001", ServiceType::Consultation)));
    events.push((at(13), issue(6, "R006", ServiceType::Repair)));
    events.push((at(14), issue(7, "R007", ServiceType::Repair)));
    // A called ticket with a request in processing, for a customer with a pseudonym.
    events.push((at(15), issue(8, "R008", ServiceType::Repair)));
    events.push((at(16), call(8, "R008", 5)));
    events.push((
        at(17),
        HubEvent::RequestCreated {
            request_id: 80,
            service: ServiceType::Repair,
            channel: Channel::OnSite,
            stage: RequestStage::Acceptance,
            ticket_id: Some(8),
            customer: Some(PSEUDONYM.into()),
            deadlines: None,
        },
    ));
    events.push((
        at(18),
        HubEvent::RequestAdvanced {
            request_id: 80,
            from: RequestStage::Acceptance,
            to: RequestStage::Processing,
            deadlines: None,
        },
    ));
    hq.store("c1", 1, 1, &events).await;

    let (status, html) = get(format!("{}/s/c1/qr6x", hq.url)).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<meta name=\"viewport\""));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
    assert!(html.contains("lang=\"zh-CN\""));
    assert!(html.contains("浦东服务中心"));
    assert_eq!(element(&html, "number"), "R006");
    assert!(element(&html, "service").contains("维修"));
    assert!(element(&html, "service").contains("Repair"));
    assert!(element(&html, "state").contains("等候中"));
    assert!(
        element(&html, "ahead").contains("前面还有 2 人"),
        "{}",
        element(&html, "ahead")
    );
    // The hub's estimate (GB/T 5.2.1): 2 ahead × the typical 600 s, shared by the 2
    // counters that served repairs today = 10 minutes.
    assert!(
        element(&html, "wait").contains("约 10 分钟"),
        "{}",
        element(&html, "wait")
    );
    assert_eq!(element(&html, "counter"), "—");
    assert_eq!(element(&html, "stage"), "—");
    // As of the newest event, in the centre's local time (UTC+8): 10:18.
    assert!(html.contains("id=\"as-of\""));
    assert!(html.contains("2025-03-03 10:18"), "{html}");
    assert!(html.contains("lag") && html.contains("延迟"));
    // No scripts, no external resources.
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));

    let (status, html) = get(format!("{}/s/c1/qr8x", hq.url)).await;
    assert_eq!(status, 200);
    assert!(element(&html, "state").contains("已叫号"));
    assert!(element(&html, "counter").contains("5 号窗口"));
    assert!(element(&html, "stage").contains("处理"));
    assert_eq!(element(&html, "ahead"), "—");
    // GB/T 5.4.2: no personal data, no staff, no internal ids.
    for secret in [PSEUDONYM, "staff-7", "cust-", "staff"] {
        assert!(!html.contains(secret), "the page shows {secret}: {html}");
    }

    let r = reqwest::get(format!("{}/s/c1/qr6x.json", hq.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let s: TicketStatus = r.json().await.unwrap();
    assert_eq!(
        s,
        TicketStatus {
            centre_name: "浦东服务中心".into(),
            number: "R006".into(),
            service: ServiceType::Repair,
            state: TicketState::Waiting,
            people_ahead: Some(2),
            estimated_wait_secs: Some(600),
            counter: None,
            request_stage: None,
            as_of: at(18),
        }
    );
    let s: TicketStatus = reqwest::get(format!("{}/s/c1/qr8x.json", hq.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (s.counter, s.request_stage),
        (Some(5), Some(RequestStage::Processing))
    );
}

#[tokio::test]
async fn unknown_tokens_get_a_bilingual_404() {
    let hq = TestHq::start().await;
    hq.add_centre("c1", "一").await;
    hq.store(
        "c1",
        1,
        1,
        &[(at(0), issue(1, "A001", ServiceType::Consultation))],
    )
    .await;
    for path in [
        "/s/c1/nope",
        "/s/c2/qr1x",
        "/s/c1/..%2Fetc",
        "/s/c1/qr1x%3Cscript%3E",
    ] {
        let (status, html) = get(format!("{}{path}", hq.url)).await;
        assert_eq!(status, 404, "{path}");
        assert!(
            html.contains("未找到号票") && html.contains("Ticket not found"),
            "{html}"
        );
    }
    let r = reqwest::get(format!("{}/s/c1/nope.json", hq.url))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["code"], "unknown_ticket");
    // With no estimate yet, a waiting ticket assumes five minutes per person ahead.
    hq.store(
        "c1",
        1,
        2,
        &[(at(1), issue(2, "A002", ServiceType::Consultation))],
    )
    .await;
    let s: TicketStatus = reqwest::get(format!("{}/s/c1/qr2x.json", hq.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (s.people_ahead, s.estimated_wait_secs),
        (Some(1), Some(300))
    );
}

/// A small deterministic generator (splitmix64): the same stream on every run.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const SERVICES: [ServiceType; 3] = [
    ServiceType::Consultation,
    ServiceType::Repair,
    ServiceType::Complaint,
];
const STAGES: [RequestStage; 6] = [
    RequestStage::Acceptance,
    RequestStage::Processing,
    RequestStage::Reply,
    RequestStage::Archiving,
    RequestStage::FollowUp,
    RequestStage::Evaluation,
];
const CUSTOMERS: [&str; 5] = ["cust-a", "cust-b", "cust-c", "cust-d", "cust-e"];

/// A few days of a busy centre, as its hub would write them, with the untidy parts a real
/// stream has: recalls, transfers, holds, tickets left open at closing, a stray event
/// after the close, ratings out of range, payloads that do not parse, a kind headquarters
/// does not know, a token that another ticket already holds, and erasures of customers
/// with requests before and after.
fn random_stream(dice: &mut Dice, tag: &str, days: i64) -> Vec<protocol::sync::WireEvent> {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Waiting,
        Called,
        Serving,
        OnHold,
        Done,
    }
    let mut events: Vec<(DateTime<Utc>, HubEvent)> = Vec::new();
    let mut tampered: Vec<(usize, &str)> = Vec::new();
    let (mut next_ticket, mut next_request, mut next_money, mut next_rating) =
        (1i64, 1i64, 1i64, 1i64);
    let mut requests: Vec<(i64, usize)> = Vec::new();
    let mut refunds: Vec<(i64, i64)> = Vec::new();
    for day in 0..days {
        let mut t = at(day * 24 * 60);
        let mut tickets: Vec<(i64, String, S)> = Vec::new();
        events.push((
            t,
            HubEvent::DayOpened {
                day_id: day + 1,
                date: (t + Duration::hours(8)).date_naive(),
            },
        ));
        for _ in 0..150 {
            t += Duration::seconds(1 + dice.below(120) as i64);
            let roll = dice.below(100);
            if roll < 25 || tickets.is_empty() {
                let id = next_ticket;
                next_ticket += 1;
                let number = format!("A{id:03}");
                let mut e = issue(id, &number, dice.pick(&SERVICES));
                if let HubEvent::TicketIssued { token, .. } = &mut e {
                    *token = if dice.chance(1) && id > 1 {
                        // A token another ticket already holds: the database refuses it.
                        format!("{tag}-{}", id - 1)
                    } else {
                        format!("{tag}-{id}")
                    };
                }
                events.push((t, e));
                tickets.push((id, number, S::Waiting));
            } else if roll < 75 {
                let i = dice.below(tickets.len() as u64) as usize;
                let (id, number, state) = tickets[i].clone();
                let counter = 1 + dice.below(4) as u32;
                let staff = dice.chance(80).then(|| format!("staff-{}", dice.below(3)));
                let (e, next) = match (state, dice.below(10)) {
                    (S::Waiting | S::OnHold, 0) => (
                        HubEvent::TicketCancelled {
                            ticket_id: id,
                            number,
                            voided: false,
                        },
                        S::Done,
                    ),
                    (S::Waiting | S::OnHold, _) | (S::Called, 0..=1) => (
                        HubEvent::TicketCalled {
                            ticket_id: id,
                            number,
                            service: ServiceType::Repair,
                            counter,
                            recall: state == S::Called,
                            staff_id: staff,
                        },
                        S::Called,
                    ),
                    (S::Called, 2) => (
                        HubEvent::TicketNoShow {
                            ticket_id: id,
                            number,
                            counter,
                        },
                        S::Done,
                    ),
                    (S::Called, 3) => (
                        HubEvent::TicketOnHold {
                            ticket_id: id,
                            number,
                            counter,
                        },
                        S::OnHold,
                    ),
                    (S::Called | S::Serving, 4) => (
                        HubEvent::TicketTransferred {
                            ticket_id: id,
                            number,
                            from: ServiceType::Consultation,
                            to: dice.pick(&SERVICES),
                            to_front: dice.chance(50),
                        },
                        S::Waiting,
                    ),
                    (S::Called, _) => (
                        HubEvent::TicketStarted {
                            ticket_id: id,
                            number,
                            counter,
                        },
                        S::Serving,
                    ),
                    (S::Serving, _) => (
                        HubEvent::TicketFinished {
                            ticket_id: id,
                            number,
                            counter,
                            service_secs: dice.below(1800) as u32,
                            staff_id: staff,
                        },
                        S::Done,
                    ),
                    (S::Done, _) => (
                        HubEvent::RatingGiven {
                            rating_id: next_rating,
                            ticket_id: Some(id),
                            request_id: None,
                            service: dice.pick(&SERVICES),
                            // Now and then a score the projector must refuse.
                            score: if dice.chance(5) {
                                9
                            } else {
                                1 + dice.below(5) as u8
                            },
                            via: "kiosk".into(),
                            counter: Some(counter),
                            staff_id: staff,
                        },
                        S::Done,
                    ),
                };
                if matches!(e, HubEvent::RatingGiven { .. }) {
                    next_rating += 1;
                }
                tickets[i].2 = next;
                events.push((t, e));
            } else if roll < 85 || requests.is_empty() {
                let id = next_request;
                next_request += 1;
                let customer = dice.chance(80).then(|| dice.pick(&CUSTOMERS).to_owned());
                let deadlines = dice.chance(60).then(|| Deadlines {
                    reply_due: dice.chance(70).then(|| t + Duration::hours(4)),
                    resolve_due: t + Duration::days(3),
                });
                let ticket_id = tickets.last().map(|x| x.0).filter(|_| dice.chance(70));
                events.push((
                    t,
                    HubEvent::RequestCreated {
                        request_id: id,
                        service: dice.pick(&SERVICES),
                        channel: Channel::OnSite,
                        stage: RequestStage::Acceptance,
                        ticket_id,
                        customer,
                        deadlines,
                    },
                ));
                requests.push((id, 0));
            } else if roll < 93 {
                let i = dice.below(requests.len() as u64) as usize;
                let (id, stage) = requests[i];
                if stage + 1 < STAGES.len() {
                    events.push((
                        t,
                        HubEvent::RequestAdvanced {
                            request_id: id,
                            from: STAGES[stage],
                            to: STAGES[stage + 1],
                            deadlines: dice.chance(20).then(|| Deadlines {
                                reply_due: None,
                                resolve_due: t + Duration::days(5),
                            }),
                        },
                    ));
                    requests[i].1 = stage + 1;
                }
            } else if roll < 96 {
                let (request_id, _) = requests[dice.below(requests.len() as u64) as usize];
                let id = next_money;
                next_money += 1;
                let e = if dice.chance(50) {
                    HubEvent::PaymentRecorded {
                        request_id,
                        payment_id: id,
                        amount: Fen(100 * (1 + dice.below(500) as i64)),
                        method: PaymentMethod::Online,
                    }
                } else {
                    refunds.push((request_id, id));
                    HubEvent::RefundRecorded {
                        request_id,
                        refund_id: id,
                        amount: Fen(100 * (1 + dice.below(100) as i64)),
                        due_date: (t + Duration::days(7)).date_naive(),
                    }
                };
                events.push((t, e));
            } else if roll < 98 && !refunds.is_empty() {
                let (request_id, refund_id) = refunds[dice.below(refunds.len() as u64) as usize];
                events.push((
                    t,
                    HubEvent::RefundPaid {
                        request_id,
                        refund_id,
                    },
                ));
            } else {
                events.push((
                    t,
                    HubEvent::CustomerErased {
                        customer: dice.pick(&CUSTOMERS).to_owned(),
                        reason: "request".into(),
                    },
                ));
            }
            if dice.chance(2) {
                tampered.push((events.len() - 1, "malformed"));
            } else if dice.chance(1) {
                tampered.push((events.len() - 1, "unknown"));
            }
        }
        if day + 1 == days {
            // The last day is still open: its waiting tickets stay waiting.
            break;
        }
        t += Duration::minutes(30);
        let open = tickets
            .iter()
            .filter(|x| matches!(x.2, S::Waiting | S::Called))
            .count();
        events.push((
            t,
            HubEvent::DayClosed {
                day_id: day + 1,
                date: (t + Duration::hours(8)).date_naive(),
                cancelled: open as u32,
            },
        ));
        // Stray events after the close: a late finish and a call of a closed ticket.
        for (id, number, state) in tickets.iter().take(3) {
            t += Duration::seconds(5);
            let e = if *state == S::Serving {
                finish(*id, number, 60)
            } else {
                call(*id, number, 1)
            };
            events.push((t, e));
        }
    }
    let mut wire: Vec<protocol::sync::WireEvent> = events
        .iter()
        .enumerate()
        .map(|(i, (at, e))| hq::testkit::wire_event(i as i64 + 1, *at, e))
        .collect();
    for (i, how) in tampered {
        let e = &mut wire[i];
        if how == "unknown" {
            e.kind = "ticket_teleported".into();
            e.payload = serde_json::json!({"type": "ticket_teleported", "ticket_id": 1});
        } else if let Some(map) = e.payload.as_object_mut() {
            // A field of the wrong type: the kind's decoder refuses it.
            let key = map.keys().find(|k| *k != "type").cloned();
            if let Some(key) = key {
                map.insert(key, serde_json::json!({"broken": true}));
            }
        }
    }
    wire
}

/// Every projection table, as sorted JSON rows (the moments the projector itself chose
/// left out).
async fn projection_rows(db: &tokio_postgres::Client) -> Vec<String> {
    let mut out = Vec::new();
    for (table, volatile) in [
        ("tickets", ""),
        ("requests", ""),
        ("payments", ""),
        ("refunds", ""),
        ("ratings", ""),
        ("erasures", ""),
        ("projection_cursor", "updated_at"),
        ("projection_skipped", "at"),
    ] {
        let rows = db
            .query(
                &format!(
                    "SELECT '{table} ' || (to_jsonb(t) - $1::text)::text FROM {table} t ORDER BY 1"
                ),
                &[&volatile],
            )
            .await
            .unwrap();
        out.extend(rows.iter().map(|r| r.get::<_, String>(0)));
    }
    out
}

#[tokio::test]
async fn projection_is_the_same_in_any_batch_size() {
    let mut dice = Dice(0x005e_41ce_4a11);
    // Three centres; the first also restored from an older copy (epoch 2 repeats its ids).
    let mut batches: Vec<(String, i64, Vec<protocol::sync::WireEvent>)> = Vec::new();
    for (c, days) in [("c1", 4), ("c2", 2), ("c3", 1)] {
        batches.push((
            c.into(),
            1,
            random_stream(&mut dice, &format!("{c}e1"), days),
        ));
    }
    batches.push(("c1".into(), 2, random_stream(&mut dice, "c1e2", 1)));

    let mut results = Vec::new();
    for batch_size in [hq::projector::BATCH, 1, 7] {
        let url = hq::testkit::shared_pg().fresh_database();
        let pool = hq::db::pool(&url).unwrap();
        let mut db = pool.get().await.unwrap();
        hq::migrate::migrate(&mut db).await.unwrap();
        for c in ["c1", "c2", "c3"] {
            hq::centres::add_centre(&**db, c, c, 480).await.unwrap();
        }
        // Ingest interleaved between centres, in the hub's batches of at most 100.
        let mut stored = 0;
        let mut cursors = vec![0usize; batches.len()];
        while cursors.iter().zip(&batches).any(|(i, b)| *i < b.2.len()) {
            for (k, (centre, epoch, events)) in batches.iter().enumerate() {
                let from = cursors[k];
                let to = (from + 100).min(events.len());
                if from == to {
                    continue;
                }
                let ack = hq::ingest::store_batch(
                    &mut db,
                    centre,
                    &protocol::sync::IngestBatch {
                        centre_id: centre.clone(),
                        epoch: *epoch,
                        events: events[from..to].to_vec(),
                    },
                )
                .await
                .unwrap();
                stored += ack.inserted;
                cursors[k] = to;
            }
        }
        let applied = hq::projector::catch_up_in_batches_of(&pool, batch_size)
            .await
            .unwrap();
        assert_eq!(applied, stored, "batch size {batch_size}");
        results.push((batch_size, projection_rows(&db).await));

        if batch_size == hq::projector::BATCH {
            // The stream is untidy enough to be a test: every state, closes that cancelled,
            // refused events, erasures that removed links.
            let distinct = |sql: &'static str| {
                let db = &db;
                async move {
                    db.query(sql, &[])
                        .await
                        .unwrap()
                        .iter()
                        .map(|r| r.get::<_, String>(0))
                        .collect::<Vec<String>>()
                }
            };
            let kinds = distinct("SELECT DISTINCT kind FROM events").await;
            for kind in [
                "ticket_issued",
                "ticket_called",
                "ticket_started",
                "ticket_finished",
                "ticket_no_show",
                "ticket_on_hold",
                "ticket_cancelled",
                "ticket_transferred",
                "day_closed",
                "request_created",
                "request_advanced",
                "payment_recorded",
                "refund_recorded",
                "refund_paid",
                "rating_given",
                "customer_erased",
                "ticket_teleported",
            ] {
                assert!(kinds.iter().any(|k| k == kind), "no {kind} in the stream");
            }
            let states = distinct("SELECT DISTINCT state FROM tickets").await;
            for state in [
                "waiting",
                "called",
                "serving",
                "finished",
                "no_show",
                "cancelled",
            ] {
                assert!(states.iter().any(|s| s == state), "no ticket {state}");
            }
            let count = |sql: &'static str| {
                let db = &db;
                async move { db.query_one(sql, &[]).await.unwrap().get::<_, i64>(0) }
            };
            assert!(count("SELECT count(*) FROM projection_skipped WHERE kind = 'rating_given' AND error LIKE 'rating score%'").await > 0);
            assert!(count("SELECT count(*) FROM projection_skipped WHERE error LIKE 'payload does not match%'").await > 0);
            assert!(
                count("SELECT count(*) FROM projection_skipped WHERE error LIKE '23505%'").await
                    > 0
            );
            assert!(count("SELECT count(*) FROM erasures").await > 0);
            assert!(count("SELECT count(*) FROM requests WHERE customer IS NULL").await > 0);
            assert!(count("SELECT count(*) FROM refunds WHERE paid_at IS NOT NULL").await > 0);
            assert!(count("SELECT count(*) FROM tickets WHERE called_at IS NOT NULL AND service_secs IS NOT NULL").await > 0);
            // No erased pseudonym is linked anywhere.
            assert_eq!(
                count(
                    "SELECT count(*) FROM requests r JOIN erasures x USING (centre_id, customer)"
                )
                .await,
                0
            );
        }
    }
    let (_, reference) = &results[0];
    assert!(reference.len() > 500, "{} rows", reference.len());
    for (batch_size, rows) in &results[1..] {
        let first_difference = reference
            .iter()
            .zip(rows)
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("{a}\n  vs\n{b}"));
        assert!(
            rows == reference,
            "batches of {batch_size} differ from one big batch ({} vs {} rows): {first_difference:?}",
            rows.len(),
            reference.len()
        );
    }
}
