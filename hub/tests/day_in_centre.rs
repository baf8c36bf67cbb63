//! A day in a service centre over real HTTP: open the day, tickets of every service and
//! priority, calls from counters with different skills, transfer, no-show, recall, hold,
//! finish, close the day — asserting call order and ticket states.

mod common;

use common::{code, config};
use domain::{Channel, PriorityClass, ServiceType, TicketState};
use protocol::{HubClient, IssueTicket, IssuedTicket, OpenDay, TicketView, TransferTicket};

const STAFF: &str = r#"
[[staff]]
id = "clerk"
name = "Clerk without certificates"
secret_hash = "{PIN}"

[[staff]]
id = "tech"
name = "Repair technician"
secret_hash = "{PIN}"
skills = [{ skill = "repair", valid_until = "2099-12-31" }]

[[staff]]
id = "lapsed"
name = "Installer whose certificate expired"
secret_hash = "{PIN}"
skills = [{ skill = "installation", valid_until = "2020-01-01" }]

[[counters]]
number = 1
services = ["consultation", "return_exchange", "complaint"]

[[counters]]
number = 2
services = ["repair", "installation"]

[[counters]]
number = 3

[[services]]
kind = "consultation"
priority_every = 2
"#;

async fn issue(c: &HubClient, service: ServiceType, class: PriorityClass) -> IssuedTicket {
    c.issue_ticket(&IssueTicket {
        service,
        class,
        channel: Channel::OnSite,
        device: Some("kiosk-1".into()),
    })
    .await
    .unwrap()
}

async fn serve(c: &HubClient, t: &TicketView) -> TicketView {
    let started = c.ticket_action(t.id, "start").await.unwrap();
    assert_eq!(started.state, TicketState::Serving);
    let done = c.ticket_action(t.id, "finish").await.unwrap();
    assert_eq!(done.state, TicketState::Finished);
    done
}

async fn next_number(c: &HubClient) -> Option<String> {
    c.call_next().await.unwrap().map(|t| t.number)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_in_the_centre() {
    use PriorityClass::*;
    use ServiceType::*;
    let hub = common::start(config(STAFF)).await;
    let kiosk = hub.client.clone();

    // Nothing can be issued before the day is opened explicitly.
    let refused = kiosk
        .issue_ticket(&IssueTicket {
            service: Consultation,
            class: Normal,
            channel: Channel::OnSite,
            device: None,
        })
        .await;
    assert_eq!(code(refused), "no_business_day");

    let (sup, _) = hub.login("sup", None).await;
    let (clerk, clerk_session) = hub.login("clerk", Some(1)).await;
    assert_eq!(
        code(clerk.open_day(&OpenDay::default()).await),
        "forbidden",
        "staff cannot open the day"
    );
    let day = sup.open_day(&OpenDay::default()).await.unwrap();
    assert!(day.closed_at.is_none());
    assert_eq!(
        code(sup.open_day(&OpenDay::default()).await),
        "day_already_open"
    );

    // GB/T 4.2.1: tickets of every service, numbered per service with its prefix.
    let a1 = issue(&kiosk, Consultation, Normal).await;
    let a2 = issue(&kiosk, Consultation, Normal).await;
    let a3 = issue(&kiosk, Consultation, Priority).await;
    let a4 = issue(&kiosk, Consultation, Normal).await;
    let a5 = issue(&kiosk, Consultation, Appointment).await;
    let a6 = issue(&kiosk, Consultation, Normal).await;
    let d1 = issue(&kiosk, Repair, Normal).await;
    let d2 = issue(&kiosk, Repair, Priority).await;
    let c1 = issue(&kiosk, Installation, Normal).await;
    let b1 = issue(&kiosk, Complaint, Normal).await;
    let e1 = issue(&kiosk, ReturnExchange, Normal).await;
    let numbers: Vec<&str> = [&a1, &a2, &a3, &a4, &a5, &a6, &d1, &d2, &c1, &b1, &e1]
        .iter()
        .map(|t| t.ticket.number.as_str())
        .collect();
    assert_eq!(
        numbers,
        [
            "A001", "A002", "A003", "A004", "A005", "A006", "D001", "D002", "C001", "B001", "E001"
        ]
    );
    assert_eq!(a4.people_ahead, 3);
    assert!(
        a4.estimated_wait_secs > 0,
        "a wait estimate is given once people are ahead"
    );

    let q = kiosk.queue().await.unwrap();
    assert_eq!(q.open_counters, [1], "only the clerk is at a counter");
    let consult = q
        .services
        .iter()
        .find(|s| s.service == Consultation)
        .unwrap();
    assert_eq!((consult.waiting, consult.waiting_priority), (6, 2));

    // GB/T 5.2.3: routing by qualification. The clerk has no complaint certificate, the
    // lapsed installer's certificate expired.
    assert_eq!(clerk_session.services, vec![Consultation, ReturnExchange]);
    let (tech, tech_session) = hub.login("tech", Some(2)).await;
    assert_eq!(tech_session.services, vec![Repair]);
    let (lapsed, lapsed_session) = hub.login("lapsed", Some(3)).await;
    assert_eq!(lapsed_session.services, vec![Consultation, ReturnExchange]);
    assert_eq!(
        code(lapsed.ticket_action(c1.ticket.id, "call").await),
        "forbidden"
    );

    // Counter 1: priority first (none served yet today), then 2 normal : 1 priority.
    let first = clerk.call_next().await.unwrap().unwrap();
    assert_eq!(first.number, "A003");
    assert_eq!((first.state, first.counter), (TicketState::Called, Some(1)));
    // One customer at a time.
    assert_eq!(code(clerk.call_next().await), "conflict");
    serve(&clerk, &first).await;
    let mut order = vec![];
    for _ in 0..3 {
        let t = clerk.call_next().await.unwrap().unwrap();
        order.push(t.number.clone());
        serve(&clerk, &t).await;
    }
    assert_eq!(
        order,
        ["A001", "A002", "A005"],
        "two normal, then the appointment"
    );

    // Recall re-announces without changing the call time; no-show closes the ticket.
    let t = clerk.call_next().await.unwrap().unwrap();
    assert_eq!(t.number, "A004");
    let recalled = clerk.ticket_action(t.id, "recall").await.unwrap();
    assert_eq!((recalled.recalls, recalled.called_at), (1, t.called_at));
    let gone = clerk.ticket_action(t.id, "no-show").await.unwrap();
    assert_eq!(gone.state, TicketState::NoShow);
    assert_eq!(
        code(clerk.ticket_action(t.id, "start").await),
        "illegal_move"
    );

    // A6 turns out to need a repair: transferred to the front of the repair queue.
    let t = clerk.call_next().await.unwrap().unwrap();
    assert_eq!(t.number, "A006");
    // Someone at another counter may not touch it.
    assert_eq!(code(tech.ticket_action(t.id, "finish").await), "forbidden");
    let moved = clerk
        .transfer(
            t.id,
            &TransferTicket {
                service: Repair,
                to_front: true,
                counter: None,
                reason: Some("needs a technician".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (moved.state, moved.service, moved.counter),
        (TicketState::Waiting, Repair, None)
    );
    assert_eq!(moved.number, "A006", "the customer keeps their number");

    // Counter 2: the priority repair first, parked while the transferred ticket is served.
    let t = tech.call_next().await.unwrap().unwrap();
    assert_eq!(t.number, "D002");
    tech.ticket_action(t.id, "start").await.unwrap();
    let parked = tech.ticket_action(t.id, "hold").await.unwrap();
    assert_eq!(parked.state, TicketState::OnHold);
    assert_eq!(
        next_number(&tech).await.as_deref(),
        Some("A006"),
        "front of the repair queue"
    );
    let a6_at_2 = tech.ticket(moved.id).await.unwrap();
    serve(&tech, &a6_at_2).await;
    let resumed = tech.ticket_action(t.id, "resume").await.unwrap();
    assert_eq!(
        resumed.called_at, t.called_at,
        "the response time ends at the first call"
    );
    assert_eq!(
        (resumed.state, resumed.counter),
        (TicketState::Called, Some(2))
    );
    serve(&tech, &resumed).await;
    assert_eq!(next_number(&tech).await.as_deref(), Some("D001"));

    // The counter-1 clerk still has E001; then nothing they may serve is left.
    assert_eq!(next_number(&clerk).await.as_deref(), Some("E001"));
    let e = clerk.ticket(e1.ticket.id).await.unwrap();
    serve(&clerk, &e).await;
    assert_eq!(
        clerk.call_next().await.unwrap(),
        None,
        "complaint and installation are not theirs"
    );

    // The supervisor, qualified for everything, takes the installation out of order.
    let (sup3, _) = {
        lapsed.logout().await.unwrap();
        hub.login("sup", Some(3)).await
    };
    let c = sup3.ticket_action(c1.ticket.id, "call").await.unwrap();
    assert_eq!((c.number.as_str(), c.counter), ("C001", Some(3)));
    serve(&sup3, &c).await;
    // A logged-out session is refused.
    assert_eq!(code(lapsed.call_next().await), "session_expired");

    // Illegal moves are refused with a reason.
    assert_eq!(
        code(sup3.ticket_action(b1.ticket.id, "finish").await),
        "illegal_move"
    );

    // The snapshot reports response times (GB/T 4.1.1) and what is at the counters.
    let q = kiosk.queue().await.unwrap();
    assert!(
        q.services
            .iter()
            .find(|s| s.service == Consultation)
            .unwrap()
            .mean_response_secs
            .is_some()
    );
    assert_eq!(
        q.open_counters,
        [1, 2, 3],
        "idle counters count as open too"
    );
    let at_counters: Vec<&str> = q.at_counters.iter().map(|t| t.number.as_str()).collect();
    assert_eq!(at_counters, ["D001"]);

    // A6 kept its number in the repair queue; repair numbering goes on past 6 unharmed.
    let mut more = vec![];
    for _ in 0..5 {
        more.push(issue(&kiosk, Repair, Normal).await.ticket.number);
    }
    assert_eq!(more, ["D003", "D004", "D005", "D006", "D007"]);

    // Closing the day cancels what is left; nothing can be issued until the next day.
    let closed = sup.close_day().await.unwrap();
    assert!(closed.closed_at.is_some());
    assert_eq!(
        kiosk.ticket(b1.ticket.id).await.unwrap().state,
        TicketState::Cancelled
    );
    assert_eq!(
        kiosk.ticket(d1.ticket.id).await.unwrap().state,
        TicketState::Cancelled
    );
    assert_eq!(
        code(
            kiosk
                .issue_ticket(&IssueTicket {
                    service: Repair,
                    class: Normal,
                    channel: Channel::OnSite,
                    device: None
                })
                .await
        ),
        "no_business_day"
    );
    // The same date cannot be reopened: ticket numbers would repeat.
    assert_eq!(
        code(
            sup.open_day(&OpenDay {
                date: Some(day.date)
            })
            .await
        ),
        "day_already_used"
    );

    // GB/T 5.6.2.3: every staff action is in the audit chain, and it verifies.
    let v = sup.verify_audit().await.unwrap();
    assert!(v.ok && v.entries > 30, "{v:?}");
    assert_eq!(code(clerk.verify_audit().await), "forbidden");
    hub.stop().await;
}
