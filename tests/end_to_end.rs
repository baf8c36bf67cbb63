//! One visit from door to follow-up call, through the real parts: a hub on 127.0.0.1:0,
//! the kiosk's controller recording the intake (with the fee acknowledgement) and
//! printing the slip on the printer simulator, the counter's desk calling the ticket,
//! quoting, writing the agreement, taking the card on the terminal simulator over a pty,
//! refunding part of it, resolving, and recording the follow-up call's evaluation. The
//! stored stage timestamps must tell the same story (GB/T 8.1).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use counter::desk::{CardOutcome, Desk, DeskConfig, RefundDraft};
use counter::devices::{DeskPrinter, Devices, counter_profile};
use domain::{Fen, PriorityClass, RequestStage, ServiceType};
use hardware::printer::PaperWidth;
use hardware::printer::sim::SimPrinter;
use hardware::terminal::sim::PtySim;
use hardware::terminal::{
    LineFormat, PaymentTerminal, SimTiming, TeliumConfig, TeliumTerminal, Timeouts,
};
use hub::testkit::{TestHub, config};
use kiosk::controller::{Controller, Sink};
use kiosk::model::{Effect, Outcome};
use protocol::*;
use ui::Lang;

const STAFF: &str = r#"
[[staff]]
id = "tech"
name = "李师傅"
role = "staff"
secret_hash = "{PIN}"
skills = [{ skill = "repair" }]

[follow_up]
after_hours = 0
"#;

/// The counter's side of the cable to the terminal simulator.
fn register_side(sim: &PtySim, journal: &Path) -> Box<dyn PaymentTerminal> {
    let cfg = TeliumConfig {
        line: LineFormat::EightN1,
        timeouts: Timeouts {
            ack: Duration::from_millis(600),
            frame: Duration::from_millis(600),
            answer: Duration::from_millis(1500),
            reconcile: Duration::from_millis(1000),
        },
        ..TeliumConfig::default()
    };
    Box::new(
        TeliumTerminal::open_serial(sim.register_end().to_str().unwrap(), cfg, journal).unwrap(),
    )
}

fn intake() -> Intake {
    Intake {
        category: Some("phone".into()),
        product: Some("手机".into()),
        model: Some("X100".into()),
        serial_number: Some("SN-2026-0042".into()),
        purchase_date: Some("2025-05-20".parse().unwrap()),
        problem: Some("无法开机".into()),
        problem_code: Some("no_power".into()),
        details: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_from_the_kiosk_to_the_follow_up_call() {
    let hub = TestHub::start(config(STAFF)).await;
    let jobs = tempfile::tempdir().unwrap();
    let printer = SimPrinter::start(jobs.path().join("jobs"), "127.0.0.1:0").unwrap();
    let cable = tempfile::tempdir().unwrap();
    let terminal = PtySim::start(
        cable.path(),
        LineFormat::EightN1,
        SimTiming {
            ack: Duration::from_millis(600),
            frame: Duration::from_millis(1000),
            reply: Duration::from_millis(2000),
            retries: 3,
        },
    )
    .unwrap();

    // ---- the kiosk: the customer reads the fee list, acknowledges it, confirms the
    // summary; the request and its ticket are created together and a slip is printed.
    let catalogue = hub.client.catalogue().await.unwrap();
    let repair = catalogue
        .services
        .iter()
        .find(|s| s.service == ServiceType::Repair)
        .unwrap();
    let kiosk = Controller::new(
        hub.client.clone(),
        "kiosk-1",
        Some(Arc::new(kiosk::printer::EscPos::new(
            kiosk::PrinterTarget::Tcp(printer.local_addr().to_string()),
            PaperWidth::Mm80,
        ))),
    );
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let sink: Sink = {
        let outcomes = outcomes.clone();
        Arc::new(move |o| outcomes.lock().unwrap().push(o))
    };
    kiosk.run(Effect::Refresh, &sink).await;
    kiosk
        .run(
            Effect::SubmitIntake {
                intake: Box::new(KioskIntake {
                    service: ServiceType::Repair,
                    class: PriorityClass::Normal,
                    intake: intake(),
                    contact: Some(Contact {
                        name: Some("王小明".into()),
                        phone: "13912345678".into(),
                        address: None,
                        consent: ContactConsent {
                            service_updates: true,
                            queue_sms: false,
                        },
                        lang: None,
                    }),
                    fees_acknowledged: Some(repair.fee_digest.clone()),
                    confirmed_by_customer: true,
                    device: Some("kiosk-1".into()),
                }),
                lang: Lang::ZhCn,
            },
            &sink,
        )
        .await;
    let receipt = outcomes
        .lock()
        .unwrap()
        .iter()
        .find_map(|o| match o {
            Outcome::IntakeAccepted(r) => Some(r.clone()),
            _ => None,
        })
        .expect("the hub accepted the intake");
    let request_id = receipt.request.id;
    let ticket = receipt.ticket.ticket.clone();
    assert_eq!(receipt.request.ticket_id, Some(ticket.id));
    // GB/T 4.2.3: the acknowledgement is stored with the request.
    assert_eq!(
        receipt
            .request
            .fees_acknowledged
            .as_ref()
            .map(|a| a.via.as_str()),
        Some("kiosk")
    );
    for _ in 0..250 {
        if !printer.jobs().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!printer.jobs().is_empty(), "the intake slip was printed");

    // ---- the counter: the technician calls the ticket and finds the kiosk's request.
    let mut desk = Desk::new(
        DeskConfig::new(hub.url.clone(), 2, Lang::ZhCn),
        Devices {
            printer: Some(DeskPrinter::new(
                counter::PrinterTarget::Tcp(printer.local_addr().to_string()),
                counter_profile("counter-2"),
            )),
            terminal: Some(register_side(
                &terminal,
                &cable.path().join("payments.journal"),
            )),
        },
    );
    desk.login("tech", hub::testkit::PIN).await.unwrap();
    let called = desk.call_next().await.unwrap().expect("the kiosk's ticket");
    assert_eq!(called.id, ticket.id);
    desk.start().await.unwrap();
    let request = desk
        .request()
        .expect("the request came with the ticket")
        .clone();
    assert_eq!(request.id, request_id);
    assert_eq!(
        request.intake.serial_number.as_deref(),
        Some("SN-2026-0042")
    );
    // The phone stays masked at the counter.
    assert_eq!(request.contact.as_ref().unwrap().phone, "139****5678");

    // GB/T 8.4.1: the quote, acknowledged by the customer before work starts.
    desk.add_item("inspection").unwrap();
    desk.add_item("part_board").unwrap();
    let quote = desk.issue_quote().await.unwrap();
    assert_eq!(quote.total, Fen(3000 + 28000));
    desk.acknowledge_quote().await.unwrap();

    // GB/T 8.2: the agreement states content, time, place, fees and technician.
    let agreement = desk
        .write_agreement(DraftAgreement {
            content: "更换主板并检测".into(),
            time: "2026-12-01 14:00".into(),
            place: "服务中心维修间".into(),
            technician: "李师傅".into(),
            change_procedure: Some("变更需双方书面确认".into()),
        })
        .await
        .unwrap();
    assert_eq!((agreement.version, agreement.total), (1, quote.total));

    desk.advance_to(RequestStage::Processing).await.unwrap();

    // GB/T 8.4.2: the card, on the terminal over the serial cable.
    let paid = match desk.pay_card().await.unwrap() {
        CardOutcome::Paid(p) => p,
        other => panic!("the card was not paid: {other:?}"),
    };
    assert_eq!(terminal.handle().charges().len(), 1);
    let payment = hub.client.with_token(desk.session().unwrap().token.clone());
    let payments = payment.request(request_id).await.unwrap().payments;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].amount, quote.total);
    let _ = paid;

    // GB/T 8.4.3: the main board was not needed after all: refunded, due in 5 working
    // days on the centre's calendar.
    let (refund, _printed) = desk
        .refund(RefundDraft {
            payment_id: payments[0].id,
            amount: Fen(28000),
            method: PaymentMethod::BankCard,
            reason: "主板无需更换".into(),
        })
        .await
        .unwrap();
    let cfg = config(STAFF);
    let today = cfg.local_date(chrono::Utc::now());
    assert_eq!(refund.requested_on, today);
    assert_eq!(refund.due_date, cfg.calendar.refund_due_date(today));
    assert!(!refund.overdue);

    desk.advance_to(RequestStage::Reply).await.unwrap();
    desk.advance_to(RequestStage::Archiving).await.unwrap();
    desk.finish().await.unwrap();

    // ---- the follow-up call (GB/T 8.1 回访) and the evaluation it brings (9.1.2).
    let due = desk.load_follow_ups().await.unwrap();
    assert!(due.iter().any(|d| d.request.id == request_id));
    desk.record_follow_up(
        request_id,
        RecordFollowUp {
            reached: true,
            note: "客户确认手机正常".into(),
            score: Some(5),
            reasons: vec![RatingReason::Resolved, RatingReason::Professional],
        },
    )
    .await
    .unwrap();

    // ---- the stored story: every stage once, in order, stamped by who moved it.
    let done = payment.request(request_id).await.unwrap();
    assert_eq!(done.stage, RequestStage::Evaluation);
    let stages: Vec<RequestStage> = done.history.iter().map(|s| s.stage).collect();
    assert_eq!(
        stages,
        [
            RequestStage::Acceptance,
            RequestStage::Processing,
            RequestStage::Reply,
            RequestStage::Archiving,
            RequestStage::FollowUp,
            RequestStage::Evaluation,
        ]
    );
    assert!(done.history.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(done.history[0].staff_id, None, "accepted at the kiosk");
    assert!(
        done.history[1..]
            .iter()
            .all(|s| s.staff_id.as_deref() == Some("tech"))
    );
    // GB/T 5.5.2: answered and resolved are their own moments, within the deadlines.
    assert_eq!(done.answered_at, Some(done.history[2].at));
    assert_eq!(done.resolved_at, Some(done.history[3].at));
    assert!(done.resolved_at.unwrap() <= done.resolve_due.unwrap());
    assert!(!done.overdue);
    assert_eq!(done.agreement_version, Some(1));
    assert_eq!(done.refunds.len(), 1);
    assert_eq!(terminal.handle().charges().len(), 1, "charged exactly once");
}
