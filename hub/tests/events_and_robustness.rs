//! The event stream's resume-by-sequence, the login lockout, the start-up review of
//! unprinted tickets across a restart, and bad input that must never crash the hub.

mod common;

use std::time::Duration;

use common::{TestHub, code, config};
use domain::{Channel, PriorityClass, ServiceType};
use futures_util::StreamExt;
use protocol::{EventEnvelope, HubEvent, IssueTicket, Login, OpenDay};
use tokio_tungstenite::tungstenite::Message;

fn ticket(service: ServiceType) -> IssueTicket {
    IssueTicket {
        service,
        class: PriorityClass::Normal,
        channel: Channel::OnSite,
        device: None,
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(hub: &TestHub, since: Option<i64>) -> Ws {
    let mut url = format!("{}/api/v1/events", hub.url.replace("http://", "ws://"));
    if let Some(s) = since {
        url.push_str(&format!("?since={s}"));
    }
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Reads `n` events, failing if they do not arrive within a few seconds.
async fn read_events(ws: &mut Ws, n: usize) -> Vec<EventEnvelope> {
    let mut out = Vec::new();
    while out.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("event did not arrive")
            .expect("stream ended")
            .unwrap();
        if let Message::Text(t) = msg {
            out.push(serde_json::from_str(&t).unwrap());
        }
    }
    out
}

/// Asserts nothing more arrives for a short while.
async fn assert_quiet(ws: &mut Ws) {
    if let Ok(Some(Ok(Message::Text(t)))) =
        tokio::time::timeout(Duration::from_millis(300), ws.next()).await
    {
        panic!("unexpected extra event: {t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_that_reconnects_sees_each_missed_event_exactly_once() {
    let hub = common::start(config("")).await;
    let (sup, _) = hub.login("sup", Some(1)).await;
    sup.open_day(&OpenDay::default()).await.unwrap();
    let snapshot = hub.client.queue().await.unwrap();

    // Live: subscribe from the snapshot's sequence, then a ticket is issued and called.
    let mut ws = subscribe(&hub, Some(snapshot.last_seq)).await;
    let t = hub
        .client
        .issue_ticket(&ticket(ServiceType::Consultation))
        .await
        .unwrap();
    sup.call_next().await.unwrap();
    let live = read_events(&mut ws, 2).await;
    assert!(matches!(live[0].event, HubEvent::TicketIssued { ref number, .. } if number == "A001"));
    assert!(matches!(
        live[1].event,
        HubEvent::TicketCalled {
            counter: 1,
            recall: false,
            ..
        }
    ));
    assert_eq!(live[0].seq, t.seq);
    assert_eq!(live[1].seq, live[0].seq + 1);
    let last_seen = live[1].seq;
    drop(ws);

    // While the board is away: three more tickets and a recall.
    for _ in 0..3 {
        hub.client
            .issue_ticket(&ticket(ServiceType::Repair))
            .await
            .unwrap();
    }
    sup.ticket_action(t.ticket.id, "recall").await.unwrap();

    // Back with the last sequence it saw: exactly the four missed events, in order, then live.
    let mut ws = subscribe(&hub, Some(last_seen)).await;
    let missed = read_events(&mut ws, 4).await;
    let seqs: Vec<i64> = missed.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (last_seen + 1..=last_seen + 4).collect::<Vec<_>>());
    assert!(matches!(
        missed[3].event,
        HubEvent::TicketCalled { recall: true, .. }
    ));
    assert_quiet(&mut ws).await;
    hub.client
        .issue_ticket(&ticket(ServiceType::Repair))
        .await
        .unwrap();
    let next = read_events(&mut ws, 1).await;
    assert_eq!(next[0].seq, last_seen + 5);
    assert_quiet(&mut ws).await;

    // From zero: the whole outbox, gap-free.
    let mut all = subscribe(&hub, Some(0)).await;
    let everything = read_events(&mut all, (last_seen + 5) as usize).await;
    assert!(
        everything
            .iter()
            .enumerate()
            .all(|(i, e)| e.seq == i as i64 + 1)
    );
    assert!(everything.iter().all(|e| e.clock_synced && e.boot > 0));
    drop(all);
    drop(ws);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_pins_lock_the_account() {
    let hub = common::start(config(
        "[security]\nmax_failed_logins = 3\nlockout_minutes = 10\n",
    ))
    .await;
    let attempt = |secret: &str| Login {
        staff_id: "sup".into(),
        secret: secret.into(),
        counter: None,
        device: Some("counter-9".into()),
    };
    for _ in 0..2 {
        assert_eq!(
            code(hub.client.login(&attempt("0000")).await),
            "bad_credentials"
        );
    }
    assert_eq!(code(hub.client.login(&attempt("0000")).await), "locked_out");
    // Guesses sent all at once get no extra tries either.
    let other = common::start(config(
        "[security]\nmax_failed_logins = 3\nlockout_minutes = 10\n",
    ))
    .await;
    let guesses: Vec<_> = (0..12)
        .map(|i| {
            let c = other.client.clone();
            let a = attempt(&format!("{:04}", 5000 + i));
            tokio::spawn(async move { code(c.login(&a).await) })
        })
        .collect();
    let mut refused_as_wrong = 0;
    for g in guesses {
        if g.await.unwrap() == "bad_credentials" {
            refused_as_wrong += 1;
        }
    }
    assert!(
        refused_as_wrong <= 2,
        "{refused_as_wrong} guesses were checked past the limit of 3"
    );
    other.stop().await;
    // Even the right PIN is refused while locked.
    assert_eq!(code(hub.client.login(&attempt("1234")).await), "locked_out");
    // Unknown accounts get the same answer as wrong PINs.
    let unknown = Login {
        staff_id: "nobody".into(),
        ..attempt("1234")
    };
    assert_eq!(code(hub.client.login(&unknown).await), "bad_credentials");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprinted_tickets_are_offered_for_reprint_or_void_after_a_restart() {
    let hub = common::start(config("")).await;
    let (sup, _) = hub.login("sup", Some(1)).await;
    sup.open_day(&OpenDay::default()).await.unwrap();
    let printed = hub
        .client
        .issue_ticket(&ticket(ServiceType::Consultation))
        .await
        .unwrap();
    hub.client
        .ticket_action(printed.ticket.id, "printed")
        .await
        .unwrap();
    let lost = hub
        .client
        .issue_ticket(&ticket(ServiceType::Consultation))
        .await
        .unwrap();
    let lost2 = hub
        .client
        .issue_ticket(&ticket(ServiceType::Repair))
        .await
        .unwrap();
    let dir = hub.stop().await;

    let hub = TestHub::start_in(dir, config(""), false).await;
    let health = hub.client.health().await.unwrap();
    assert_eq!(health.unprinted_tickets, 2);
    let (sup, _) = hub.login("sup", Some(1)).await;
    let listed: Vec<i64> = sup
        .get::<Vec<protocol::TicketView>>("/tickets/unprinted")
        .await
        .unwrap()
        .iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, [lost.ticket.id, lost2.ticket.id]);
    // One is reprinted, the other voided (with an audit entry).
    hub.client
        .ticket_action(lost.ticket.id, "printed")
        .await
        .unwrap();
    let voided = sup.ticket_action(lost2.ticket.id, "void").await.unwrap();
    assert_eq!(voided.state, domain::TicketState::Cancelled);
    assert_eq!(
        code(sup.ticket_action(printed.ticket.id, "void").await),
        "conflict"
    );
    assert_eq!(hub.client.health().await.unwrap().unprinted_tickets, 0);
    // Numbering continues after the restart.
    let next = hub
        .client
        .issue_ticket(&ticket(ServiceType::Consultation))
        .await
        .unwrap();
    assert_eq!(next.ticket.number, "A003");
    assert!(sup.verify_audit().await.unwrap().ok);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_problem_body_never_a_crash() {
    let hub = common::start(config("")).await;
    let (sup, s) = hub.login("sup", Some(1)).await;
    sup.open_day(&OpenDay::default()).await.unwrap();
    let http = reqwest::Client::new();
    let base = format!("{}/api/v1", hub.url);
    let cases: &[(&str, &str, &str, u16, Option<&str>)] = &[
        (
            "POST",
            "/tickets",
            r#"{"service":"massage"}"#,
            422,
            Some("service"),
        ),
        (
            "POST",
            "/tickets",
            r#"{"service":"repair","class":"vip"}"#,
            422,
            Some("class"),
        ),
        ("POST", "/tickets", r#"{}"#, 422, Some("service")),
        ("POST", "/tickets", r#"{"service":"repair""#, 400, None),
        ("POST", "/tickets", "\u{0}\u{1}garbage", 400, None),
        ("POST", "/tickets", r#"[1,2,3]"#, 400, None),
        ("GET", "/tickets/-1", "", 400, Some("id")),
        ("GET", "/tickets/99999999999999999999", "", 400, Some("id")),
        ("GET", "/tickets/424242", "", 404, None),
        ("POST", "/tickets/1/explode", "", 404, Some("action")),
        (
            "POST",
            "/sessions",
            r#"{"staff_id":"","secret":"x"}"#,
            422,
            Some("staff_id"),
        ),
        (
            "POST",
            "/requests",
            r#"{"service":"repair","confirmed_by_customer":"yes"}"#,
            422,
            Some("confirmed_by_customer"),
        ),
        (
            "POST",
            "/requests",
            r#"{"service":"repair","confirmed_by_customer":true,"intake":{"purchase_date":"yesterday"}}"#,
            422,
            Some("intake.purchase_date"),
        ),
        ("GET", "/events?since=abc", "", 400, Some("since")),
        ("GET", "/events?since=999999", "", 409, Some("since")),
        ("GET", "/nowhere", "", 404, None),
    ];
    for (method, path, body, status, field) in cases {
        let req = match *method {
            "GET" => http.get(format!("{base}{path}")),
            _ => http.post(format!("{base}{path}")).body(body.to_string()),
        };
        let resp = req.bearer_auth(&s.token).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), *status, "{method} {path} {body}");
        let p: protocol::Problem = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no problem body: {e}"));
        assert_eq!(p.field.as_deref(), *field, "{method} {path} {body}: {p:?}");
        assert!(!p.detail.is_empty());
    }
    // A bad token is a 401, not a silent anonymous call.
    let resp = http
        .post(format!("{base}/call-next"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // Random bytes at every endpoint: 4xx only, and the hub still answers afterwards.
    let paths = [
        "/tickets",
        "/sessions",
        "/requests",
        "/call-next",
        "/day/open",
        "/requests/1/quote",
        "/requests/1/payments",
    ];
    let mut seed: u64 = 0x5eed;
    for i in 0..300 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let len = (seed >> 40) as usize % 64;
        let body: Vec<u8> = (0..len).map(|j| (seed >> (j % 56)) as u8).collect();
        let path = paths[i % paths.len()];
        let resp = http
            .post(format!("{base}{path}"))
            .bearer_auth(&s.token)
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_client_error() || resp.status().is_success(),
            "{path}: {}",
            resp.status()
        );
    }
    assert_eq!(hub.client.health().await.unwrap().status, "ok");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_day_opens_by_itself_only_on_a_trusted_clock() {
    let cfg = config("[day]\nauto_open_at = \"00:00\"\n");
    // No time-sync signal and not trusted: the hub must not pick a business date.
    let unsynced =
        hub::store::Clock::with_flag(false, "/nonexistent/servicehall-timesync-flag".into());
    let dir = tempfile::tempdir().unwrap().keep();
    let hub = common::start_with_clock(dir.clone(), cfg.clone(), unsynced).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let h = hub.client.health().await.unwrap();
    assert!(!h.clock_synced);
    assert_eq!(h.day, None);
    // Staff must name the date while the clock cannot be trusted.
    let (sup, _) = hub.login("sup", None).await;
    assert_eq!(
        code(sup.open_day(&OpenDay::default()).await),
        "clock_not_synced"
    );
    hub.stop().await;

    // Synchronised (here: the sync flag file exists): the day opens at the configured time.
    let flag = dir.join("synchronized");
    std::fs::write(&flag, b"").unwrap();
    let hub = common::start_with_clock(dir, cfg, hub::store::Clock::with_flag(false, flag)).await;
    let mut day = None;
    for _ in 0..50 {
        day = hub.client.health().await.unwrap().day;
        if day.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let day = day.expect("the day opened by itself");
    assert!(day.clock_synced);
    let t = hub
        .client
        .issue_ticket(&ticket(ServiceType::Consultation))
        .await
        .unwrap();
    assert_eq!(t.ticket.business_date, day.date);
    hub.stop().await;
}
