//! Service requests through the GB/T 8.1 stages, fee disclosure before paid work
//! (4.2.3, 8.4.1), payments with idempotency keys (8.4.2) and refunds due in five working
//! days (8.4.3), over real HTTP.

mod common;

use chrono::{Duration, Utc};
use common::{code, config};
use domain::{Channel, Fen, RequestStage, ServiceType};
use protocol::{
    AcknowledgeQuote, CreateRequest, Intake, MakeQuote, OpenDay, PaymentMethod, QuoteItem,
    RecordPayment, RecordRefund,
};

fn intake() -> Intake {
    Intake {
        product: Some("洗衣机".into()),
        model: Some("XQG-100".into()),
        serial_number: Some("SN123456".into()),
        purchase_date: Some("2025-06-01".parse().unwrap()),
        problem: Some("不脱水 / does not spin".into()),
        ..Intake::default()
    }
}

fn new_request(service: ServiceType, channel: Channel) -> CreateRequest {
    CreateRequest {
        service,
        channel,
        ticket_id: None,
        intake: intake(),
        start_stage: None,
        confirmed_by_customer: true,
        contact: None,
        fees_acknowledged: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_repair_from_phone_call_to_evaluation() {
    let hub = common::start(config("")).await;
    let (sup, _) = hub.login("sup", Some(2)).await;
    sup.open_day(&OpenDay::default()).await.unwrap();

    // GB/T 6.1.2: nothing is saved before the customer confirmed the summary.
    let mut unconfirmed = new_request(ServiceType::Repair, Channel::Phone);
    unconfirmed.confirmed_by_customer = false;
    match sup.create_request(&unconfirmed).await {
        Err(protocol::ClientError::Refused(p)) => {
            assert_eq!(
                (p.status, p.field.as_deref()),
                (422, Some("confirmed_by_customer"))
            )
        }
        other => panic!("{other:?}"),
    }

    // GB/T 4.2.2: a request that came by phone enters the same lifecycle.
    let before = Utc::now();
    let r = sup
        .create_request(&new_request(ServiceType::Repair, Channel::Phone))
        .await
        .unwrap();
    assert_eq!(
        (r.stage, r.channel, r.paid),
        (RequestStage::Acceptance, Channel::Phone, true)
    );
    // GB/T 5.5.2, 4.1.2: deadlines from the service's limits (repair: 60 min, 168 h).
    let reply_due = r.reply_due.unwrap();
    assert!(
        reply_due >= before + Duration::minutes(60)
            && reply_due <= Utc::now() + Duration::minutes(60)
    );
    assert_eq!(r.resolve_due.unwrap() - r.created_at, Duration::hours(168));
    assert!(!r.overdue);

    // GB/T 4.2.3: paid work cannot start before the itemised fees are acknowledged.
    assert_eq!(
        code(sup.advance_request(r.id, RequestStage::Processing).await),
        "quote_not_acknowledged"
    );
    assert_eq!(
        code(sup.advance_request(r.id, RequestStage::Reply).await),
        "illegal_stage"
    );
    let unknown = MakeQuote {
        items: vec![QuoteItem {
            code: "gold_plating".into(),
            quantity: 1,
        }],
    };
    assert_eq!(code(sup.make_quote(r.id, &unknown).await), "invalid_quote");
    let q1 = sup
        .make_quote(
            r.id,
            &MakeQuote {
                items: vec![
                    QuoteItem {
                        code: "inspection".into(),
                        quantity: 1,
                    },
                    QuoteItem {
                        code: "labour_hour".into(),
                        quantity: 2,
                    },
                ],
            },
        )
        .await
        .unwrap();
    // The published prices (GB/T 5.3.2): the catalogue and the quote agree.
    let cat = hub.client.catalogue().await.unwrap();
    let repair = cat
        .services
        .iter()
        .find(|s| s.service == ServiceType::Repair)
        .unwrap();
    let price = |c: &str| {
        repair
            .fees
            .iter()
            .find(|f| f.code == c)
            .unwrap()
            .unit_price
            .0
    };
    assert_eq!(
        q1.total,
        Fen(price("inspection") + 2 * price("labour_hour"))
    );
    assert_eq!(q1.lines.len(), 2);

    // A changed list needs a new acknowledgement: v1's digest does not cover v2.
    let q2 = sup
        .make_quote(
            r.id,
            &MakeQuote {
                items: vec![QuoteItem {
                    code: "inspection".into(),
                    quantity: 1,
                }],
            },
        )
        .await
        .unwrap();
    assert_eq!(q2.version, 2);
    let stale = AcknowledgeQuote {
        version: 1,
        digest: q1.digest.clone(),
        via: "kiosk".into(),
    };
    assert_eq!(
        code(hub.client.acknowledge_quote(r.id, &stale).await),
        "conflict"
    );
    let forged = AcknowledgeQuote {
        version: 2,
        digest: q1.digest.clone(),
        via: "kiosk".into(),
    };
    assert_eq!(
        code(hub.client.acknowledge_quote(r.id, &forged).await),
        "invalid_field"
    );
    // The customer acknowledges at the kiosk: no staff session needed.
    let acked = hub
        .client
        .acknowledge_quote(
            r.id,
            &AcknowledgeQuote {
                version: 2,
                digest: q2.digest.clone(),
                via: "kiosk".into(),
            },
        )
        .await
        .unwrap();
    assert!(acked.acknowledged_at.is_some());
    assert_eq!(acked.acknowledged_via.as_deref(), Some("kiosk"));

    sup.advance_request(r.id, RequestStage::Processing)
        .await
        .unwrap();
    // During the repair a part turns out to be needed: the new list must be acknowledged
    // before the work is handed back (GB/T 4.2.3, 8.4.1).
    let q3 = sup
        .make_quote(
            r.id,
            &MakeQuote {
                items: vec![
                    QuoteItem {
                        code: "inspection".into(),
                        quantity: 1,
                    },
                    QuoteItem {
                        code: "part_board".into(),
                        quantity: 1,
                    },
                ],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        code(sup.advance_request(r.id, RequestStage::Reply).await),
        "quote_not_acknowledged"
    );
    sup.acknowledge_quote(
        r.id,
        &AcknowledgeQuote {
            version: q3.version,
            digest: q3.digest.clone(),
            via: "counter".into(),
        },
    )
    .await
    .unwrap();

    // GB/T 8.1: the remaining stages in order, each stamped.
    for stage in [
        RequestStage::Reply,
        RequestStage::Archiving,
        RequestStage::FollowUp,
        RequestStage::Evaluation,
    ] {
        let v = sup.advance_request(r.id, stage).await.unwrap();
        assert_eq!(v.stage, stage);
    }
    let done = sup.request(r.id).await.unwrap();
    let stages: Vec<RequestStage> = done.history.iter().map(|h| h.stage).collect();
    assert_eq!(stages, &RequestStage::ALL[1..]);
    // GB/T 5.5.2: answered and resolved are separate moments.
    assert!(done.answered_at.unwrap() <= done.resolved_at.unwrap());
    assert_eq!(
        code(sup.advance_request(r.id, RequestStage::Evaluation).await),
        "illegal_stage"
    );

    // GB/T 8.4.2: a payment retried with the same key is recorded once.
    let pay = RecordPayment {
        amount: q3.total,
        method: PaymentMethod::BankCard,
        reference: Some("TERM-0001".into()),
        idempotency_key: "visit-1-payment".into(),
    };
    let p1 = sup.record_payment(r.id, &pay).await.unwrap();
    let p2 = sup.record_payment(r.id, &pay).await.unwrap();
    assert_eq!(p1, p2);
    let mut other = pay.clone();
    other.amount = Fen(1);
    assert_eq!(code(sup.record_payment(r.id, &other).await), "conflict");
    assert_eq!(
        code(hub.client.record_payment(r.id, &pay).await),
        "login_required"
    );

    // GB/T 8.4.3: a refund is due five working days later on the centre's calendar.
    let refund = RecordRefund {
        payment_id: p1.id,
        amount: Fen(1000),
        method: PaymentMethod::BankCard,
        reason: "part not needed".into(),
        idempotency_key: "visit-1-refund".into(),
    };
    let rf = sup.record_refund(r.id, &refund).await.unwrap();
    assert_eq!(
        sup.record_refund(r.id, &refund).await.unwrap(),
        rf,
        "a retry records nothing new"
    );
    let cal = domain::WorkCalendar::default();
    assert_eq!(rf.due_date, cal.refund_due_date(rf.requested_on));
    assert!(!rf.overdue);
    for amount in [p1.amount, Fen(i64::MAX)] {
        let too_much = RecordRefund {
            amount,
            idempotency_key: format!("too-much-{}", amount.0),
            ..refund.clone()
        };
        assert_eq!(
            code(sup.record_refund(r.id, &too_much).await),
            "invalid_field"
        );
    }
    let due = sup.refunds().await.unwrap();
    assert_eq!(due.len(), 1);
    // Paying a refund out is an event too (for headquarters).
    let paid = sup
        .post::<_, protocol::RefundView>(
            &format!("/refunds/{}/paid", rf.id),
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert!(paid.paid_at.is_some() && !paid.overdue);
    assert!(sup.refunds().await.unwrap().is_empty());
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_due_date_skips_the_centres_holidays() {
    // GB/T 8.4.3 with public holidays: the next five calendar days are declared holidays,
    // so the due date moves past them.
    let today = Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive();
    let holidays: Vec<String> = (1..=5)
        .map(|d| format!("\"{}\"", today + Duration::days(d)))
        .collect();
    let extra = format!("[calendar]\nholidays = [{}]\n", holidays.join(", "));
    let cfg = config(&extra);
    let expected = cfg.calendar.refund_due_date(today);
    assert!(expected > domain::WorkCalendar::default().refund_due_date(today));
    let hub = common::start(cfg).await;
    let (sup, _) = hub.login("sup", Some(1)).await;
    sup.open_day(&OpenDay::default()).await.unwrap();
    let r = sup
        .create_request(&new_request(ServiceType::ReturnExchange, Channel::OnSite))
        .await
        .unwrap();
    let p = sup
        .record_payment(
            r.id,
            &RecordPayment {
                amount: Fen(19900),
                method: PaymentMethod::Cash,
                reference: None,
                idempotency_key: "k1".into(),
            },
        )
        .await
        .unwrap();
    let rf = sup
        .record_refund(
            r.id,
            &RecordRefund {
                payment_id: p.id,
                amount: Fen(19900),
                method: PaymentMethod::Cash,
                reason: "returned goods".into(),
                idempotency_key: "r1".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(rf.due_date, expected);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_consultation_needs_no_quote_and_appointments_start_early() {
    let hub = common::start(config("")).await;
    let (sup, _) = hub.login("sup", Some(1)).await;
    sup.open_day(&OpenDay::default()).await.unwrap();
    // GB/T 4.2.3: free services start processing without a quote.
    let r = sup
        .create_request(&new_request(ServiceType::Consultation, Channel::Web))
        .await
        .unwrap();
    assert!(!r.paid);
    // GB/T 5.5.2: a consultation is answered on the spot, so it has no reply deadline
    // and is not overdue for lack of one.
    assert_eq!(r.reply_due, None);
    assert!(!sup.request(r.id).await.unwrap().overdue);
    sup.advance_request(r.id, RequestStage::Processing)
        .await
        .unwrap();

    // GB/T 8.1: a booked visit starts at "appointment"; deadlines start at acceptance.
    let mut booked = new_request(ServiceType::Installation, Channel::Sms);
    booked.start_stage = Some(RequestStage::Appointment);
    let b = sup.create_request(&booked).await.unwrap();
    assert_eq!((b.stage, b.reply_due), (RequestStage::Appointment, None));
    let accepted = sup
        .advance_request(b.id, RequestStage::Acceptance)
        .await
        .unwrap();
    assert!(accepted.reply_due.is_some() && accepted.resolve_due.is_some());
    let mut bad = new_request(ServiceType::Repair, Channel::OnSite);
    bad.start_stage = Some(RequestStage::Processing);
    assert_eq!(code(sup.create_request(&bad).await), "invalid_field");

    // The kiosk can record a walk-in's request without a staff session.
    let kiosk = hub
        .client
        .create_request(&new_request(ServiceType::Complaint, Channel::OnSite))
        .await
        .unwrap();
    assert_eq!(kiosk.stage, RequestStage::Acceptance);
    hub.stop().await;
}
