//! Every counter flow through the desk controller, without a window, against a real hub
//! on 127.0.0.1 and the printer simulator: log in and lock, the queue and the calls,
//! serving a kiosk intake and a phone request through the GB/T 8.1 stages, the quote,
//! cash/QR/cheque payments with receipts, the versioned agreement, refunds, follow-up
//! calls, appointments, a printer out of paper and a hub that goes away.

mod common;

use common::{FixedHub, Printer, audit, contains, desk, hub, kiosk_intake, ticket};
use counter::Command;
use counter::desk::{
    CardOutcome, DeskError, OtherPayment, Printed, RefundDraft, RequestDraft, Transfer,
};
use domain::{Channel, Fen, RequestStage, ServiceType, TicketState, WorkCalendar};
use protocol::{
    AlertKind, CreateAppointment, DraftAgreement, PaymentMethod, RatingReason, RecordFollowUp,
};

fn refused(e: DeskError) -> String {
    match e {
        DeskError::Refused { code, .. } => code,
        other => panic!("expected a refusal by the hub, got {other:?}"),
    }
}

fn invalid(r: Result<impl std::fmt::Debug, DeskError>) -> String {
    match r {
        Err(DeskError::Invalid(why)) => why,
        other => panic!("expected the counter to refuse, got {other:?}"),
    }
}

fn phone_request(service: ServiceType) -> RequestDraft {
    RequestDraft {
        service,
        channel: Channel::Phone,
        intake: common::intake(),
        contact: Some(common::contact()),
        confirmed_by_customer: true,
        fee_list_shown: true,
        for_ticket: false,
    }
}

fn agreement(place: &str) -> DraftAgreement {
    DraftAgreement {
        content: "检测并更换主板".into(),
        time: "2026-12-01 14:00".into(),
        place: place.into(),
        technician: "李师傅".into(),
        change_procedure: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_is_bound_to_the_counter_offers_qualified_services_and_locks() {
    let hub = hub().await;
    let mut tech = desk(&hub.url, 2, None, None);
    let mut clerk = desk(&hub.url, 3, None, None);

    // A wrong PIN is refused by the hub.
    let e = tech.login("tech", "0000").await.unwrap_err();
    assert_eq!(refused(e), "bad_credentials");
    assert!(tech.session().is_none());

    // GB/T 5.2.3: the services offered follow the certificates held.
    let s = tech.login("tech", "1234").await.unwrap();
    assert_eq!(s.counter, Some(2));
    assert!(s.services.contains(&ServiceType::Repair));
    assert!(!s.services.contains(&ServiceType::Installation));
    let c = clerk.login("clerk", "1234").await.unwrap();
    assert!(!c.services.contains(&ServiceType::Repair));

    // ...and so does routing: the clerk is never called a repair.
    let kiosk = &hub.client;
    let d1 = ticket(kiosk, ServiceType::Repair).await;
    let a1 = ticket(kiosk, ServiceType::Consultation).await;
    assert_eq!(clerk.call_next().await.unwrap().unwrap().id, a1.id);
    assert_eq!(tech.call_next().await.unwrap().unwrap().id, d1.id);
    let q = tech.queue().await.unwrap();
    let repair = q
        .services
        .iter()
        .find(|l| l.service == ServiceType::Repair)
        .unwrap();
    assert!(repair.mine);
    let complaint = q
        .services
        .iter()
        .find(|l| l.service == ServiceType::Complaint)
        .unwrap();
    assert!(!complaint.mine, "tech holds no complaint-handling skill");

    // Locked: nothing happens until the PIN is given again; a wrong PIN does not unlock.
    tech.lock();
    assert!(matches!(tech.recall().await, Err(DeskError::Locked)));
    assert_eq!(
        refused(tech.unlock("9999").await.unwrap_err()),
        "bad_credentials"
    );
    assert!(tech.is_locked());
    tech.unlock("1234").await.unwrap();
    assert!(!tech.is_locked());
    // The check of the PIN did not close the counter on the board.
    let snapshot = kiosk.queue().await.unwrap();
    assert!(
        snapshot.open_counters.contains(&2),
        "{:?}",
        snapshot.open_counters
    );
    assert_eq!(tech.recall().await.unwrap().recalls, 1);

    tech.logout().await.unwrap();
    assert!(matches!(tech.queue().await, Err(DeskError::NotLoggedIn)));
    assert!(!kiosk.queue().await.unwrap().open_counters.contains(&2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_recall_hold_resume_transfer_and_no_show_move_the_queue() {
    let hub = hub().await;
    let kiosk = &hub.client;
    let a1 = ticket(kiosk, ServiceType::Consultation).await;
    let a2 = ticket(kiosk, ServiceType::Consultation).await;
    let a3 = ticket(kiosk, ServiceType::Consultation).await;
    let mut d = desk(&hub.url, 1, None, None);
    d.login("sup", "1234").await.unwrap();

    let q = d.queue().await.unwrap();
    let consult = q
        .services
        .iter()
        .find(|l| l.service == ServiceType::Consultation)
        .unwrap();
    assert_eq!(consult.waiting, 3);
    assert_eq!(q.waiting.len(), 3);

    // Call next, re-announce, start, park.
    let t = d.call_next().await.unwrap().unwrap();
    assert_eq!(t.id, a1.id);
    // One ticket at a time: the counter is busy until this one is dealt with.
    assert!(invalid(d.call_next().await).contains(&a1.number));
    assert_eq!(d.recall().await.unwrap().recalls, 1);
    assert_eq!(d.start().await.unwrap().state, TicketState::Serving);
    d.hold().await.unwrap();
    assert!(d.ticket().is_none());
    let q = d.queue().await.unwrap();
    assert_eq!(q.on_hold.len(), 1);
    assert_eq!(q.hold_order(1)[0].id, a1.id);

    // Call a specific ticket by its number, as typed.
    let t = d.call_number(&a2.number.to_lowercase()).await.unwrap();
    assert_eq!(t.id, a2.id);
    // A transfer needs a reason; then it goes to the front of another service's queue,
    // for counter 2 only.
    assert!(
        invalid(
            d.transfer(Transfer {
                service: ServiceType::ReturnExchange,
                counter: Some(2),
                to_front: true,
                reason: " ".into(),
            })
            .await
        )
        .contains("why")
    );
    let moved = d
        .transfer(Transfer {
            service: ServiceType::ReturnExchange,
            counter: Some(2),
            to_front: true,
            reason: "要求退货".into(),
        })
        .await
        .unwrap();
    assert_eq!(moved.state, TicketState::Waiting);
    assert_eq!(moved.service, ServiceType::ReturnExchange);
    let q = d.queue().await.unwrap();
    let w = q.waiting.iter().find(|w| w.ticket.id == a2.id).unwrap();
    assert_eq!(w.for_counter, Some(2));

    // Resume the parked one and finish it.
    let t = d.resume(a1.id).await.unwrap();
    assert_eq!(t.id, a1.id);
    assert_eq!(t.counter, Some(1));
    d.start().await.unwrap();
    d.finish().await.unwrap();

    // Counter 1 is not offered the ticket transferred to counter 2.
    let t = d.call_next().await.unwrap().unwrap();
    assert_eq!(t.id, a3.id);
    d.no_show().await.unwrap();
    assert!(d.call_next().await.unwrap().is_none());

    // Today's figures for this counter.
    let q = d.queue().await.unwrap();
    assert_eq!(q.today.served, 1);
    assert_eq!(q.today.no_shows, 1);
    assert_eq!(q.today.transferred, 1);
    assert!(q.on_hold.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_intake_is_served_with_its_summary_and_the_contact_revealed_only_by_asking() {
    let hub = hub().await;
    let receipt = kiosk_intake(&hub.client, ServiceType::Repair).await;
    let mut d = desk(&hub.url, 2, None, None);
    d.login("tech", "1234").await.unwrap();
    d.call_next().await.unwrap().unwrap();

    // GB/T 6.1.2: the request from the kiosk, as the customer confirmed it.
    let r = d.request().unwrap().clone();
    assert_eq!(r.id, receipt.request.id);
    assert_eq!(r.intake, common::intake());
    assert_eq!(r.channel, Channel::OnSite);
    assert!(r.fees_acknowledged.is_some(), "GB/T 4.2.3 at the kiosk");
    // GB/T 5.4: masked by default...
    let v = d.view();
    assert_eq!(v.contact.as_ref().unwrap().phone, "138****5678");
    assert!(!v.contact.as_ref().unwrap().revealed);
    // ...in clear only by asking, and the asking is audited with the staff identity.
    let c = d.reveal_contact().await.unwrap();
    assert_eq!(c.phone, "13812345678");
    assert!(d.view().contact.unwrap().revealed);
    let log = audit(&hub.dir);
    assert!(
        log.iter()
            .any(|(staff, action, detail)| staff.as_deref() == Some("tech")
                && action == "contact_reveal"
                && detail.contains(&r.id.to_string())),
        "{log:?}"
    );
    // Locking the screen hides it again.
    d.lock();
    assert!(!d.view().contact.unwrap().revealed);
    d.unlock("1234").await.unwrap();

    // GB/T 7.3: the knowledge base is searchable at the counter.
    let kb = d.search_knowledge("保修").await.unwrap();
    assert!(!kb.faqs.is_empty());
    let all = d.search_knowledge("").await.unwrap();
    assert!(all.faqs.len() > kb.faqs.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_request_goes_through_the_stages_with_the_quote_acknowledged_before_work() {
    let hub = hub().await;
    let mut d = desk(&hub.url, 1, None, None);
    d.login("sup", "1234").await.unwrap();

    // GB/T 6.1.2: nothing is saved before the customer confirmed the summary.
    let mut draft = phone_request(ServiceType::Repair);
    draft.confirmed_by_customer = false;
    assert!(invalid(d.create_request(draft).await).contains("6.1.2"));
    // GB/T 4.2.3: a paid service's fee list is told first.
    let mut draft = phone_request(ServiceType::Repair);
    draft.fee_list_shown = false;
    assert!(invalid(d.create_request(draft).await).contains("4.2.3"));

    // GB/T 4.2.2: a request that came by phone joins the same lifecycle.
    let r = d
        .create_request(phone_request(ServiceType::Repair))
        .await
        .unwrap();
    assert_eq!(r.channel, Channel::Phone);
    assert_eq!(r.stage, RequestStage::Acceptance);
    assert!(r.reply_due.is_some() && r.resolve_due.is_some());
    assert_eq!(r.fees_acknowledged.as_ref().unwrap().via, "counter");

    // GB/T 4.2.3: no work before the itemised quote is acknowledged.
    assert_eq!(
        refused(d.advance().await.unwrap_err()),
        "quote_not_acknowledged"
    );
    assert!(invalid(d.acknowledge_quote().await).contains("quote"));
    assert!(invalid(d.issue_quote().await).contains("fee item"));
    assert!(invalid(d.add_item("gold")).contains("gold"));
    d.add_item("inspection").unwrap();
    d.add_item("labour_hour").unwrap();
    d.add_item("labour_hour").unwrap();
    d.remove_item("labour_hour");
    assert_eq!(d.view().draft_total, Fen(3000 + 6000));
    let q1 = d.issue_quote().await.unwrap();
    assert_eq!((q1.version, q1.total), (1, Fen(9000)));
    // Not paid before the customer acknowledged it either.
    assert!(
        invalid(
            d.pay(OtherPayment::Cash {
                tendered: Fen(10_000)
            })
            .await
        )
        .contains("4.2.3")
    );
    d.acknowledge_quote().await.unwrap();
    let r = d.advance().await.unwrap();
    assert_eq!(r.stage, RequestStage::Processing);

    // A changed quote during processing is acknowledged again before the reply.
    d.add_item("part_board").unwrap();
    let q2 = d.issue_quote().await.unwrap();
    assert_eq!(q2.version, 2);
    assert_eq!(
        refused(d.advance().await.unwrap_err()),
        "quote_not_acknowledged"
    );
    d.acknowledge_quote().await.unwrap();
    assert_eq!(d.advance().await.unwrap().stage, RequestStage::Reply);
    let r = d.advance().await.unwrap();
    assert_eq!(r.stage, RequestStage::Archiving);
    assert!(r.answered_at.is_some() && r.resolved_at.is_some());
    let stamped: Vec<RequestStage> = r.history.iter().map(|h| h.stage).collect();
    assert_eq!(
        stamped,
        vec![
            RequestStage::Acceptance,
            RequestStage::Processing,
            RequestStage::Reply,
            RequestStage::Archiving
        ]
    );
}

/// A repair from the kiosk, called at counter 2 by `tech`, quoted and acknowledged.
async fn quoted_repair(
    hub: &hub::testkit::TestHub,
    printer: Option<&Printer>,
    items: &[&str],
) -> counter::Desk {
    kiosk_intake(&hub.client, ServiceType::Repair).await;
    let mut d = desk(&hub.url, 2, printer.map(Printer::desk_printer), None);
    d.login("tech", "1234").await.unwrap();
    d.call_next().await.unwrap().unwrap();
    d.start().await.unwrap();
    for code in items {
        d.add_item(code).unwrap();
    }
    d.issue_quote().await.unwrap();
    d.acknowledge_quote().await.unwrap();
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cash_qr_and_cheque_payments_are_recorded_and_receipts_printed() {
    let hub = hub().await;
    let printer = Printer::start();
    let mut d = quoted_repair(&hub, Some(&printer), &["inspection"]).await;
    assert_eq!(d.amount_due(), Some(Fen(3000)));

    // Cash: the tender must cover the amount; the change is computed in fen.
    assert!(
        invalid(
            d.pay(OtherPayment::Cash {
                tendered: Fen(2000)
            })
            .await
        )
        .contains("¥30.00")
    );
    let paid = d
        .pay(OtherPayment::Cash {
            tendered: Fen(5000),
        })
        .await
        .unwrap();
    assert_eq!(paid.change, Some(Fen(2000)));
    assert_eq!(paid.receipt, Printed::Printed);
    assert_eq!(paid.payment.method, PaymentMethod::Cash);
    assert_eq!(d.amount_due(), Some(Fen::ZERO));
    assert!(invalid(d.pay(OtherPayment::Cash { tendered: Fen(100) }).await).contains("nothing"));
    let jobs = printer.wait_docs(1);
    let receipt = &jobs[0];
    assert!(contains(receipt, "收款收据"), "{receipt:?}");
    assert!(contains(receipt, "检测费"));
    assert!(contains(receipt, "找零"));
    assert!(contains(receipt, "20.00"));

    // QR / online: recorded with its transaction reference, printed on the receipt.
    d.add_item("labour_hour").unwrap();
    d.issue_quote().await.unwrap();
    d.acknowledge_quote().await.unwrap();
    assert_eq!(d.amount_due(), Some(Fen(6000)));
    assert!(
        invalid(
            d.pay(OtherPayment::Online {
                reference: "  ".into()
            })
            .await
        )
        .contains("reference")
    );
    let paid = d
        .pay(OtherPayment::Online {
            reference: "WX20261201-778".into(),
        })
        .await
        .unwrap();
    assert_eq!(paid.payment.reference.as_deref(), Some("WX20261201-778"));
    let jobs = printer.wait_docs(2);
    assert!(contains(&jobs[1], "WX20261201-778"), "{:?}", jobs[1]);

    // A cheque, for a further item.
    d.add_item("part_board").unwrap();
    d.issue_quote().await.unwrap();
    d.acknowledge_quote().await.unwrap();
    let paid = d
        .pay(OtherPayment::Cheque {
            number: "CHQ 000123".into(),
        })
        .await
        .unwrap();
    assert_eq!(paid.payment.method, PaymentMethod::Cheque);
    let r = d.request().unwrap();
    assert_eq!(r.payments.len(), 3);
    let total: i64 = r.payments.iter().map(|p| p.amount.0).sum();
    assert_eq!(Fen(total), r.quote.as_ref().unwrap().total);
    // The receipt can be printed again.
    let first = r.payments[0].id;
    assert_eq!(d.print_receipt(first).await.unwrap(), Printed::Printed);
    printer.wait_docs(4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agreement_is_versioned_previewed_and_printed() {
    let hub = hub().await;
    let printer = Printer::start();
    let mut d = quoted_repair(&hub, Some(&printer), &["inspection", "part_board"]).await;

    let mut bad = agreement("浦东服务中心 2 号窗口");
    bad.time = "tomorrow".into();
    assert!(invalid(d.write_agreement(bad).await).contains("YYYY-MM-DD"));
    let v1 = d
        .write_agreement(agreement("浦东服务中心 2 号窗口"))
        .await
        .unwrap();
    assert_eq!(v1.version, 1);
    // GB/T 8.2.1: every fee from the quote, itemised, with the total.
    assert_eq!(v1.lines.len(), 2);
    assert_eq!(v1.total, Fen(3000 + 28000));
    // GB/T 8.2.2: a change is a new version; the old one is kept.
    let v2 = d
        .write_agreement(agreement("客户家中：张江路88弄"))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let versions = d.agreements();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].place, "浦东服务中心 2 号窗口");
    assert_eq!(d.request().unwrap().agreement_version, Some(2));

    // The preview is the printer's own bytes, rendered.
    let picture = d.preview_agreement(2).unwrap();
    let text = picture.text_lines.join("\n");
    assert!(text.contains("服务协议"), "{text}");
    assert!(text.contains("第 2 版"), "{text}");
    assert!(text.contains("张江路88弄"), "{text}");
    assert!(text.contains("李师傅"), "{text}");
    assert!(text.contains("280.00"), "the itemised fee: {text}");
    assert!(picture.height > 500);

    assert_eq!(d.print_agreement(1).await.unwrap(), Printed::Printed);
    let jobs = printer.wait_docs(1);
    assert!(contains(&jobs[0], "服务协议"));
    assert!(contains(&jobs[0], "第 1 版"));
    assert!(contains(&jobs[0], "浦东服务中心 2 号窗口"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_are_due_in_five_working_days_and_listed_until_paid() {
    let hub = hub().await;
    let printer = Printer::start();
    let mut d = quoted_repair(&hub, Some(&printer), &["inspection", "labour_hour"]).await;
    let paid = d
        .pay(OtherPayment::Cash {
            tendered: Fen(9000),
        })
        .await
        .unwrap();
    printer.wait_docs(1);

    let draft = |amount: i64, reason: &str| RefundDraft {
        payment_id: paid.payment.id,
        amount: Fen(amount),
        method: PaymentMethod::Cash,
        reason: reason.into(),
    };
    assert!(invalid(d.refund(draft(6000, "  ")).await).contains("reason"));
    assert_eq!(
        refused(d.refund(draft(20_000, "多收")).await.unwrap_err()),
        "invalid_field"
    );
    let (refund, printed) = d.refund(draft(6000, "未使用工时")).await.unwrap();
    assert_eq!(printed, Printed::Printed);
    // GB/T 8.4.3: due 5 working days after it was recorded (this centre has no holidays).
    assert_eq!(
        refund.due_date,
        WorkCalendar::default().refund_due_date(refund.requested_on)
    );
    assert_eq!(refund.method, PaymentMethod::Cash);
    assert_eq!(refund.reason, "未使用工时");
    let slip = &printer.wait_docs(2)[1];
    assert!(contains(slip, "退款单"), "{slip:?}");
    assert!(contains(slip, &refund.due_date.to_string()), "{slip:?}");
    assert!(contains(slip, "未使用工时"));

    let due = d.load_refunds().await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(!due[0].overdue);
    match d.pay_out_refund(refund.id).await.unwrap() {
        CardOutcome::Refunded(r) => assert!(r.paid_at.is_some()),
        other => panic!("{other:?}"),
    }
    assert!(d.load_refunds().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_calls_record_the_result_and_the_evaluation() {
    let hub = hub().await;
    let mut d = desk(&hub.url, 1, None, None);
    d.login("sup", "1234").await.unwrap();
    let r = d
        .create_request(phone_request(ServiceType::Consultation))
        .await
        .unwrap();
    for _ in 0..3 {
        d.advance().await.unwrap();
    }
    assert_eq!(d.request().unwrap().stage, RequestStage::Archiving);

    // Due at once in this centre's configuration.
    let due = d.load_follow_ups().await.unwrap();
    let item = due.iter().find(|f| f.request.id == r.id).unwrap();
    assert_eq!(item.attempts, 0);
    assert_eq!(item.request.contact.as_ref().unwrap().phone, "138****5678");
    let c = d.reveal_follow_up_contact(r.id).await.unwrap();
    assert_eq!(c.phone, "13812345678");
    assert!(
        audit(&hub.dir)
            .iter()
            .any(|(s, a, _)| s.as_deref() == Some("sup") && a == "contact_reveal")
    );

    // Not reached: recorded, still due.
    let not_reached = RecordFollowUp {
        reached: false,
        note: "无人接听".into(),
        score: None,
        reasons: vec![],
    };
    d.record_follow_up(r.id, not_reached).await.unwrap();
    let due = d.load_follow_ups().await.unwrap();
    assert_eq!(
        due.iter().find(|f| f.request.id == r.id).unwrap().attempts,
        1
    );

    // A score is only given by a customer who was reached, from 1 to 5.
    let bad = RecordFollowUp {
        reached: true,
        note: String::new(),
        score: Some(6),
        reasons: vec![],
    };
    assert!(invalid(d.record_follow_up(r.id, bad).await).contains("1 to 5"));
    let v = d
        .record_follow_up(
            r.id,
            RecordFollowUp {
                reached: true,
                note: "客户满意".into(),
                score: Some(5),
                reasons: vec![RatingReason::Friendly, RatingReason::Resolved],
            },
        )
        .await
        .unwrap();
    assert!(v.reached);
    // GB/T 9.1.2: the evaluation from the call is satisfaction data; the request has
    // reached its last stage.
    assert_eq!(d.request().unwrap().stage, RequestStage::Evaluation);
    assert!(
        d.load_follow_ups()
            .await
            .unwrap()
            .iter()
            .all(|f| f.request.id != r.id)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_call_books_a_visit_in_a_free_slot() {
    let hub = hub().await;
    let mut d = desk(&hub.url, 1, None, None);
    d.login("sup", "1234").await.unwrap();
    // The next few days: at least one is open.
    let today = chrono::Utc::now().date_naive();
    let mut slots = Vec::new();
    for n in 1..=7 {
        slots = d
            .find_slots(ServiceType::Installation, today + chrono::Days::new(n))
            .await
            .unwrap();
        if !slots.is_empty() {
            break;
        }
    }
    assert!(!slots.is_empty(), "no open day in the coming week");
    let a = d
        .book_appointment(CreateAppointment {
            service: ServiceType::Installation,
            slot_start: slots[0].start,
            channel: Channel::Phone,
            intake: common::intake(),
            contact: Some(common::contact()),
        })
        .await
        .unwrap();
    assert!(!a.code.is_empty());
    assert_eq!(a.slot_start, slots[0].start);
    let booked = d.open_request(a.request_id).await.unwrap();
    assert_eq!(booked.stage, RequestStage::Appointment);
    assert_eq!(booked.channel, Channel::Phone);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_is_looked_up_rescheduled_and_cancelled_with_its_history() {
    let hub = hub().await;
    let mut d = desk(&hub.url, 1, None, None);
    d.login("sup", "1234").await.unwrap();
    // A day with at least two free times in the coming week.
    let today = chrono::Utc::now().date_naive();
    let mut day = None;
    for n in 1..=7 {
        let date = today + chrono::Days::new(n);
        if d.find_slots(ServiceType::Installation, date)
            .await
            .unwrap()
            .len()
            >= 2
        {
            day = Some(date);
            break;
        }
    }
    let day = day.expect("no day with two free times in the coming week");
    let slots = d.find_slots(ServiceType::Installation, day).await.unwrap();
    let booked = d
        .book_appointment(CreateAppointment {
            service: ServiceType::Installation,
            slot_start: slots[0].start,
            channel: Channel::Phone,
            intake: common::intake(),
            contact: Some(common::contact()),
        })
        .await
        .unwrap();

    // Looked up by its code (as typed, with stray spaces), on a desk that forgot it.
    let mut other = desk(&hub.url, 3, None, None);
    other.login("sup", "1234").await.unwrap();
    let found = other
        .lookup_appointment(&format!(" {} ", booked.code))
        .await
        .unwrap();
    assert_eq!(found.id, booked.id);
    assert_eq!(found.service, ServiceType::Installation);
    assert_eq!(found.slot_start, slots[0].start);
    assert_eq!(
        other.view().appointment.as_ref().map(|a| a.id),
        Some(booked.id)
    );
    assert_eq!(
        refused(other.lookup_appointment("NOSUCH").await.unwrap_err()),
        "unknown_appointment"
    );

    // Moved to another free time of the same day.
    let free = other
        .find_slots(ServiceType::Installation, day)
        .await
        .unwrap();
    let to = free
        .iter()
        .find(|s| s.start != booked.slot_start)
        .expect("another free time")
        .start;
    let moved = other
        .reschedule_appointment(&booked.code, to, Some("客户改时间".into()))
        .await
        .unwrap();
    assert_eq!(moved.slot_start, to);
    assert_eq!(moved.state, protocol::AppointmentState::Booked);
    let kinds: Vec<&str> = moved.history.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, ["booked", "rescheduled"]);
    let change = &moved.history[1];
    assert_eq!(change.from_slot, Some(booked.slot_start));
    assert_eq!(change.to_slot, Some(to));
    assert_eq!(change.reason.as_deref(), Some("客户改时间"));

    // Cancelled with the customer's reason; the history is kept.
    let cancelled = other
        .cancel_appointment(&booked.code, Some("客户出差".into()))
        .await
        .unwrap();
    assert_eq!(cancelled.state, protocol::AppointmentState::Cancelled);
    let kinds: Vec<&str> = cancelled.history.iter().map(|c| c.kind.as_str()).collect();
    assert_eq!(kinds, ["booked", "rescheduled", "cancelled"]);
    assert_eq!(cancelled.history[2].reason.as_deref(), Some("客户出差"));
    assert_eq!(
        d.lookup_appointment(&booked.code).await.unwrap().history,
        cancelled.history
    );

    // A second cancel, or a move, is refused: the appointment is closed.
    assert_eq!(
        refused(
            other
                .cancel_appointment(&booked.code, Some("again".into()))
                .await
                .unwrap_err()
        ),
        "appointment_closed"
    );
    // On the screen, the refusal is said plainly in the station's language.
    let reply = counter::command::handle(
        &mut other,
        Command::CancelAppointment {
            code: booked.code.clone(),
            reason: None,
        },
    )
    .await;
    let notice = reply.notice.expect("a notice");
    assert_eq!(notice.level, counter::command::Level::Error);
    assert!(!notice.text.is_empty());
}

#[test]
fn the_appointment_code_becomes_a_qr_picture() {
    let img = counter::adapter::qr_image("K7Q2MX").expect("a QR code");
    let size = img.size();
    assert!(size.width > 0 && size.height > 0);
    assert_eq!(size.width, size.height);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_out_of_paper_keeps_the_job_and_prints_it_once_paper_is_back() {
    let hub = hub().await;
    let printer = Printer::start();
    let mut d = quoted_repair(&hub, Some(&printer), &["inspection"]).await;
    printer.sim.set_paper_out(true);

    let paid = d
        .pay(OtherPayment::Cash {
            tendered: Fen(3000),
        })
        .await
        .unwrap();
    // The payment is recorded; the receipt is kept, and the hub hears of the fault.
    assert_eq!(d.request().unwrap().payments.len(), 1);
    match &paid.receipt {
        Printed::Kept(why) => assert!(why.contains("out of paper"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(d.pending_print().is_some());
    assert!(printer.documents().is_empty());
    let alerts = hub.client.alerts().await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.device == "counter-2-printer" && a.kind == AlertKind::PrinterPaperOut),
        "{alerts:?}"
    );

    // Still no paper: still kept.
    d.tick().await;
    assert!(d.pending_print().is_some());
    // A new roll: the upkeep prints it by itself, once, and clears the alert.
    printer.sim.set_paper_out(false);
    assert!(d.tick().await);
    assert!(d.pending_print().is_none());
    let jobs = printer.wait_docs(1);
    assert!(contains(&jobs[0], "收款收据"));
    assert!(!d.tick().await);
    assert_eq!(printer.documents().len(), 1);
    assert!(
        hub.client
            .alerts()
            .await
            .unwrap()
            .iter()
            .all(|a| a.device != "counter-2-printer")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_hub_goes_away_the_desk_says_so_and_carries_on_when_it_is_back() {
    let mut hub = FixedHub::start().await;
    let mut d = desk(&hub.url, 1, None, None);
    d.login("sup", "1234").await.unwrap();
    ticket(&hub.client(), ServiceType::Consultation).await;

    hub.stop().await;
    let e = d.call_next().await.unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    assert!(d.session().is_some(), "the session is kept");
    assert!(d.queue().await.unwrap_err().is_unreachable());

    let mut hub = FixedHub::start_at(hub.dir.clone(), hub.addr).await;
    let t = d.call_next().await.unwrap().unwrap();
    assert_eq!(t.number, "A001");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_forgets_a_revealed_follow_up_number() {
    let hub = hub().await;
    let mut d = desk(&hub.url, 1, None, None);
    d.login("sup", "1234").await.unwrap();
    let r = d
        .create_request(phone_request(ServiceType::Consultation))
        .await
        .unwrap();
    for _ in 0..3 {
        d.advance().await.unwrap();
    }
    d.load_follow_ups().await.unwrap();
    let c = d.reveal_follow_up_contact(r.id).await.unwrap();
    assert_eq!(c.phone, "13812345678");
    assert!(d.view().follow_up_contact.is_some());

    // GB/T 5.4: the next person at the counter never sees it.
    d.logout().await.unwrap();
    let v = d.view();
    assert!(v.follow_up_contact.is_none(), "{:?}", v.follow_up_contact);
    assert!(v.contact.is_none());
    d.login("sup", "1234").await.unwrap();
    assert!(d.view().follow_up_contact.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_at_the_counter_stops_text_messages_without_the_number_shown() {
    // GB/T 5.4, 4.2.2
    let hub = hub().await;
    let mut d = desk(&hub.url, 1, None, None);
    d.login("sup", "1234").await.unwrap();
    let r = d
        .create_request(phone_request(ServiceType::Consultation))
        .await
        .unwrap();
    for _ in 0..2 {
        d.advance().await.unwrap();
    }
    d.stop_texts().await.unwrap();
    assert!(d.view().contact.is_none_or(|c| !c.revealed));
    // Resolving the request would text the result: nothing is queued for this number.
    d.advance().await.unwrap();
    let (staff, _) = hub.login("sup", Some(2)).await;
    assert!(
        staff
            .sms_messages()
            .await
            .unwrap()
            .iter()
            .all(|m| m.state != "pending"),
        "request {}",
        r.id
    );
}

fn inspection_price(d: &counter::Desk) -> Fen {
    d.view()
        .catalogue
        .unwrap()
        .services
        .iter()
        .find(|s| s.service == ServiceType::Repair)
        .unwrap()
        .fees
        .iter()
        .find(|f| f.code == "inspection")
        .unwrap()
        .unit_price
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fee_list_is_fetched_again_at_login() {
    let mut hub = FixedHub::start().await;
    let mut d = desk(&hub.url, 2, None, None);
    d.login("tech", "1234").await.unwrap();
    let before = inspection_price(&d);
    d.logout().await.unwrap();

    // The centre publishes new fees (the hub restarts with them).
    hub.stop().await;
    let fees = r#"
[[services]]
kind = "repair"
paid = true
required_skills = ["repair"]

[[services.fees]]
code = "inspection"
name_zh = "检测费"
name_en = "Inspection"
unit_price_fen = 4500
"#;
    let cfg = hub::testkit::config(&format!("{}{fees}", common::STAFF));
    let mut hub = FixedHub::start_with(hub.dir.clone(), hub.addr, cfg).await;
    d.login("tech", "1234").await.unwrap();
    assert_ne!(before, Fen(4500));
    assert_eq!(inspection_price(&d), Fen(4500), "the new fee list is shown");
    hub.stop().await;
}
