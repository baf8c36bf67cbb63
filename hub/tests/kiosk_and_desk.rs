//! The kiosk's and the counter desk's endpoints against a real hub: intake with fee
//! acknowledgement and contact consent, device alerts, appointment check-in, ratings, the
//! waiting list, transfer to a counter, agreements, follow-ups and contact reveal.

use chrono::{Duration, Utc};
use domain::{PriorityClass, RequestStage, ServiceType, TicketState};
use hub::testkit::{TestHub, config, refusal_code};
use protocol::*;

fn intake() -> Intake {
    Intake {
        category: Some("phone".into()),
        product: Some("手机".into()),
        model: Some("X100".into()),
        serial_number: Some("SN-778899".into()),
        purchase_date: Some("2025-03-01".parse().unwrap()),
        problem: Some("无法开机".into()),
        problem_code: Some("no_power".into()),
        details: Some("摔过一次".into()),
    }
}

fn contact() -> Contact {
    Contact {
        name: Some("张伟".into()),
        phone: "13812345678".into(),
        address: Some("上海市浦东新区张江路88弄5号".into()),
        consent: ContactConsent {
            service_updates: true,
            queue_sms: false,
        },
        lang: None,
    }
}

fn kiosk_intake(service: ServiceType, digest: Option<String>) -> KioskIntake {
    KioskIntake {
        service,
        class: PriorityClass::Normal,
        intake: intake(),
        contact: Some(contact()),
        fees_acknowledged: digest,
        confirmed_by_customer: true,
        device: Some("kiosk-1".into()),
    }
}

async fn fee_digest(hub: &TestHub, service: ServiceType) -> String {
    let cat = hub.client.catalogue().await.unwrap();
    cat.services
        .iter()
        .find(|s| s.service == service)
        .unwrap()
        .fee_digest
        .clone()
}

/// Reads the audit log's actions straight from the database file.
fn audit_actions(hub: &TestHub) -> Vec<(Option<String>, String, String)> {
    let conn = rusqlite::Connection::open(hub.dir.join(hub::DB_FILE)).unwrap();
    let mut stmt = conn
        .prepare("SELECT staff_id, action, detail FROM audit ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_intake_needs_fees_acknowledged_and_consent_and_keeps_the_phone_private() {
    let hub = TestHub::start(config("")).await;
    let kiosk = &hub.client;

    // GB/T 5.3.2, 7.3: the catalogue describes each service, the knowledge base answers.
    let cat = kiosk.catalogue().await.unwrap();
    assert!(cat.services.iter().all(|s| !s.description_zh.is_empty()));
    let kb = kiosk.knowledge(None).await.unwrap();
    let phone = kb.categories.iter().find(|c| c.code == "phone").unwrap();
    assert!(phone.problems.iter().any(|p| p.code == "no_power"));
    let found = kiosk.knowledge(Some("保修")).await.unwrap();
    assert!(!found.faqs.is_empty() && found.faqs.len() < kb.faqs.len());

    // GB/T 4.2.3: a paid repair is not accepted before the fee list is acknowledged...
    let r = kiosk.intake(&kiosk_intake(ServiceType::Repair, None)).await;
    assert_eq!(refusal_code(r), "fees_not_acknowledged");
    // ...and an acknowledgement of another list is not one of this list.
    let r = kiosk
        .intake(&kiosk_intake(
            ServiceType::Repair,
            Some("0badc0ffee".into()),
        ))
        .await;
    assert_eq!(refusal_code(r), "fee_list_changed");
    // GB/T 5.4: a phone number needs the customer's consent to a use.
    let mut no_consent = kiosk_intake(ServiceType::Complaint, None);
    no_consent.contact.as_mut().unwrap().consent = ContactConsent::default();
    match kiosk.intake(&no_consent).await {
        Err(ClientError::Refused(p)) => {
            assert_eq!(p.field.as_deref(), Some("contact.consent"), "{p:?}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let mut future = kiosk_intake(ServiceType::Complaint, None);
    future.intake.purchase_date = Some(Utc::now().date_naive() + Duration::days(30));
    match kiosk.intake(&future).await {
        Err(ClientError::Refused(p)) => {
            assert_eq!(p.field.as_deref(), Some("intake.purchase_date"))
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Nothing of the refused attempts was saved: no ticket was issued.
    assert!(
        kiosk
            .queue()
            .await
            .unwrap()
            .services
            .iter()
            .all(|s| s.waiting == 0)
    );

    let digest = fee_digest(&hub, ServiceType::Repair).await;
    let receipt = kiosk
        .intake(&kiosk_intake(ServiceType::Repair, Some(digest.clone())))
        .await
        .unwrap();
    // The request and its ticket were created together.
    assert_eq!(receipt.request.ticket_id, Some(receipt.ticket.ticket.id));
    assert_eq!(receipt.request.stage, RequestStage::Acceptance);
    let ack = receipt.request.fees_acknowledged.clone().unwrap();
    assert_eq!(
        (ack.digest.as_str(), ack.via.as_str()),
        (digest.as_str(), "kiosk")
    );
    let c = receipt.request.contact.clone().unwrap();
    assert_eq!(c.phone, "138****5678");
    assert_eq!(c.name.as_deref(), Some("张*"));
    assert!(!c.revealed);
    assert_eq!(receipt.request.intake, intake());

    // Staff find it from the ticket and reveal the phone only by asking: audited.
    let (clerk, _) = hub.login("sup", Some(1)).await;
    let found = clerk
        .requests_for_ticket(receipt.ticket.ticket.id)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].contact.as_ref().unwrap().phone, "138****5678");
    assert_eq!(
        refusal_code(kiosk.reveal_contact(receipt.request.id).await),
        "login_required"
    );
    let clear = clerk.reveal_contact(receipt.request.id).await.unwrap();
    assert_eq!(clear.phone, "13812345678");
    assert!(clear.revealed);
    let audit = audit_actions(&hub);
    assert!(
        audit
            .iter()
            .any(|(staff, action, detail)| staff.as_deref() == Some("sup")
                && action == "contact_reveal"
                && detail == &format!("request {}", receipt.request.id)),
        "{audit:?}"
    );
    // The event that travels upstream carries no personal data (GB/T 5.4.2).
    let conn = rusqlite::Connection::open(hub.dir.join(hub::DB_FILE)).unwrap();
    let leaked: i64 = conn
        .query_row(
            "SELECT count(*) FROM outbox WHERE payload LIKE '%13812345678%' OR payload LIKE '%张伟%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(leaked, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printer_alerts_reach_staff_once_and_clear() {
    let hub = TestHub::start(config("")).await;
    let alert = |active| DeviceAlert {
        device: "kiosk-1".into(),
        kind: AlertKind::PrinterPaperOut,
        active,
        detail: Some("paper out".into()),
        ticket_id: None,
    };
    let before = hub.client.health().await.unwrap().last_seq;
    hub.client.alert(&alert(true)).await.unwrap();
    hub.client.alert(&alert(true)).await.unwrap();
    let health = hub.client.health().await.unwrap();
    assert_eq!(health.alerts.len(), 1);
    assert_eq!(health.alerts[0].kind, AlertKind::PrinterPaperOut);
    // A repeated report is not a new event.
    assert_eq!(health.last_seq, before + 1);
    hub.client.alert(&alert(false)).await.unwrap();
    assert!(hub.client.alerts().await.unwrap().is_empty());
    assert_eq!(hub.client.health().await.unwrap().last_seq, before + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_visit_is_rated_once() {
    // GB/T 9.1.2
    let hub = TestHub::start(config("")).await;
    let (clerk, _) = hub.login("sup", Some(1)).await;
    let t = hub
        .client
        .issue_ticket(&IssueTicket {
            service: ServiceType::Consultation,
            class: PriorityClass::Normal,
            channel: domain::Channel::OnSite,
            device: None,
        })
        .await
        .unwrap()
        .ticket;
    let rate = |score| Rate {
        score,
        reasons: vec![RatingReason::Friendly, RatingReason::ShortWait],
        comment: None,
        via: "feedback_terminal".into(),
    };
    assert_eq!(
        refusal_code(hub.client.rate(t.id, &rate(5)).await),
        "not_finished"
    );
    clerk.call_next().await.unwrap().unwrap();
    clerk.ticket_action(t.id, "start").await.unwrap();
    let done = clerk.ticket_action(t.id, "finish").await.unwrap();
    assert_eq!(done.state, TicketState::Finished);
    assert_eq!(
        refusal_code(hub.client.rate(t.id, &rate(0)).await),
        "invalid_field"
    );
    // Each reason counts once: a repeated one is refused, not stored twice.
    let twice = Rate {
        reasons: vec![
            RatingReason::LongWait,
            RatingReason::Unfriendly,
            RatingReason::LongWait,
        ],
        ..rate(2)
    };
    assert_eq!(
        refusal_code(hub.client.rate(t.id, &twice).await),
        "invalid_field"
    );
    let r = hub.client.rate(t.id, &rate(5)).await.unwrap();
    assert_eq!(r.score, 5);
    assert_eq!(r.ticket_id, Some(t.id));
    assert_eq!(
        refusal_code(hub.client.rate(t.id, &rate(1)).await),
        "already_rated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_to_a_named_counter_and_the_counter_figures() {
    let hub = TestHub::start(config("")).await;
    let (at1, _) = hub.login("sup", Some(1)).await;
    let issue = || IssueTicket {
        service: ServiceType::Consultation,
        class: PriorityClass::Normal,
        channel: domain::Channel::OnSite,
        device: None,
    };
    let a = hub.client.issue_ticket(&issue()).await.unwrap().ticket;
    let b = hub.client.issue_ticket(&issue()).await.unwrap().ticket;
    let waiting = at1.waiting().await.unwrap();
    assert_eq!(
        waiting
            .waiting
            .iter()
            .map(|w| w.ticket.id)
            .collect::<Vec<_>>(),
        [a.id, b.id]
    );
    assert!(
        waiting
            .waiting
            .iter()
            .all(|w| !w.overdue && w.for_counter.is_none())
    );
    // GB/T 4.1.2: past the promised 30 minutes a waiting ticket is flagged overdue.
    let conn = rusqlite::Connection::open(hub.dir.join(hub::DB_FILE)).unwrap();
    let later =
        hub::store::desk::waiting_list(&conn, &config(""), Utc::now() + Duration::minutes(31))
            .unwrap();
    assert!(
        later
            .waiting
            .iter()
            .all(|w| w.overdue && w.waited_secs > 30 * 60)
    );

    assert_eq!(at1.call_next().await.unwrap().unwrap().id, a.id);
    at1.ticket_action(a.id, "start").await.unwrap();
    let bad = at1
        .transfer(
            a.id,
            &TransferTicket {
                service: ServiceType::Repair,
                to_front: true,
                counter: Some(99),
                reason: None,
            },
        )
        .await;
    assert_eq!(refusal_code(bad), "invalid_field");
    // Counter 1 hands the customer to counter 3's technician for a repair.
    let moved = at1
        .transfer(
            a.id,
            &TransferTicket {
                service: ServiceType::Repair,
                to_front: true,
                counter: Some(3),
                reason: Some("needs the repair bench".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.state, TicketState::Waiting);
    let listed = at1.waiting().await.unwrap();
    let w = listed.waiting.iter().find(|w| w.ticket.id == a.id).unwrap();
    assert_eq!(w.for_counter, Some(3));
    // Counter 1 is not counter 3: it gets the next consultation, not the transfer.
    assert_eq!(at1.call_next().await.unwrap().unwrap().id, b.id);
    at1.ticket_action(b.id, "no-show").await.unwrap();
    assert!(at1.call_next().await.unwrap().is_none());
    hub.client.logout().await.ok();
    let (at3, _) = hub.login("sup", Some(3)).await;
    assert_eq!(at3.call_next().await.unwrap().unwrap().id, a.id);

    let today = at1.counter_today(1).await.unwrap();
    assert_eq!((today.served, today.no_shows, today.transferred), (0, 1, 1));
    assert!(today.mean_wait_secs.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agreements_are_versioned_and_follow_up_records_the_evaluation() {
    let hub = TestHub::start(config("[follow_up]\nafter_hours = 0\n")).await;
    let (tech, _) = hub.login("sup", Some(2)).await;
    let digest = fee_digest(&hub, ServiceType::Installation).await;
    let receipt = hub
        .client
        .intake(&kiosk_intake(ServiceType::Installation, Some(digest)))
        .await
        .unwrap();
    let id = receipt.request.id;
    let draft = |time: &str| DraftAgreement {
        content: "安装壁挂空调一台".into(),
        time: time.into(),
        place: "客户家中".into(),
        technician: "李师傅".into(),
        change_procedure: None,
    };
    // GB/T 8.2: a paid agreement states its fees, so it needs the quote first.
    assert_eq!(
        refusal_code(tech.write_agreement(id, &draft("2026-12-01 14:00")).await),
        "quote_required"
    );
    let quote = tech
        .make_quote(
            id,
            &MakeQuote {
                items: vec![
                    QuoteItem {
                        code: "install_standard".into(),
                        quantity: 1,
                    },
                    QuoteItem {
                        code: "bracket".into(),
                        quantity: 1,
                    },
                ],
            },
        )
        .await
        .unwrap();
    let v1 = tech
        .write_agreement(id, &draft("2026-12-01 14:00"))
        .await
        .unwrap();
    assert_eq!((v1.version, v1.total), (1, quote.total));
    // GB/T 8.4.1: never more than the quoted total, e.g. a repeated click.
    let pay = |key: &str, amount| RecordPayment {
        amount,
        method: PaymentMethod::Cash,
        reference: None,
        idempotency_key: key.into(),
    };
    tech.record_payment(id, &pay("cash-1", quote.total))
        .await
        .unwrap();
    assert_eq!(
        refusal_code(tech.record_payment(id, &pay("cash-2", quote.total)).await),
        "overpayment"
    );
    // The same key again is the same payment, not a refusal.
    tech.record_payment(id, &pay("cash-1", quote.total))
        .await
        .unwrap();
    assert_eq!(v1.lines.len(), 2);
    let v2 = tech
        .write_agreement(id, &draft("2026-12-02 09:00"))
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let all = tech.agreements(id).await.unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], v1, "the first version stays as it was");
    assert_eq!(tech.request(id).await.unwrap().agreement_version, Some(2));
    // The stored versions cannot be edited behind the API either.
    let conn = rusqlite::Connection::open(hub.dir.join(hub::DB_FILE)).unwrap();
    assert!(
        conn.execute("UPDATE agreements SET place = 'x'", [])
            .is_err()
    );

    // Through the stages to archiving; then the follow-up call is due.
    tech.acknowledge_quote(
        id,
        &AcknowledgeQuote {
            version: quote.version,
            digest: quote.digest.clone(),
            via: "counter".into(),
        },
    )
    .await
    .unwrap();
    for stage in [
        RequestStage::Processing,
        RequestStage::Reply,
        RequestStage::Archiving,
    ] {
        tech.advance_request(id, stage).await.unwrap();
    }
    // A request without a phone for service calls is not on the list (GB/T 5.4).
    let anonymous = tech
        .create_request(&CreateRequest {
            service: ServiceType::Consultation,
            channel: domain::Channel::Phone,
            ticket_id: None,
            intake: intake(),
            start_stage: None,
            confirmed_by_customer: true,
            contact: None,
            fees_acknowledged: None,
        })
        .await
        .unwrap();
    for stage in [
        RequestStage::Processing,
        RequestStage::Reply,
        RequestStage::Archiving,
    ] {
        tech.advance_request(anonymous.id, stage).await.unwrap();
    }
    let due = tech.follow_ups().await.unwrap();
    assert_eq!(due.iter().map(|d| d.request.id).collect::<Vec<_>>(), [id]);
    assert_eq!(due[0].attempts, 0);
    // Not reached: still due, one attempt counted.
    let miss = RecordFollowUp {
        reached: false,
        note: "无人接听".into(),
        score: None,
        reasons: vec![],
    };
    tech.record_follow_up(id, &miss).await.unwrap();
    assert_eq!(tech.follow_ups().await.unwrap()[0].attempts, 1);
    let bad = RecordFollowUp {
        score: Some(9),
        reached: true,
        ..miss.clone()
    };
    assert_eq!(
        refusal_code(tech.record_follow_up(id, &bad).await),
        "invalid_field"
    );
    // Reached, but the customer will give their evaluation later...
    let talked = RecordFollowUp {
        reached: true,
        note: "客户稍后评价".into(),
        score: None,
        reasons: vec![],
    };
    tech.record_follow_up(id, &talked).await.unwrap();
    assert_eq!(
        tech.request(id).await.unwrap().stage,
        RequestStage::FollowUp
    );
    // ...and gives it on the next call.
    let reached = RecordFollowUp {
        reached: true,
        note: "安装满意".into(),
        score: Some(4),
        reasons: vec![RatingReason::Professional],
    };
    tech.record_follow_up(id, &reached).await.unwrap();
    let after = tech.request(id).await.unwrap();
    assert_eq!(after.stage, RequestStage::Evaluation);
    let stages: Vec<_> = after.history.iter().map(|s| s.stage).collect();
    assert!(stages.ends_with(&[RequestStage::FollowUp, RequestStage::Evaluation]));
    assert!(tech.follow_ups().await.unwrap().is_empty());
    // GB/T 9.1.2: the evaluation from the call is satisfaction data.
    let (score, via): (u8, String) = conn
        .query_row(
            "SELECT score, via FROM ratings WHERE request_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((score, via.as_str()), (4, "follow_up"));
    assert_eq!(
        refusal_code(tech.record_follow_up(id, &reached).await),
        "not_due"
    );
}
