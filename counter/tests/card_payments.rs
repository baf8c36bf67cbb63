//! Card payments at the counter (GB/T 8.4.2) on the payment terminal simulator at the far
//! end of a real pty pair, with a real hub and the printer simulator: approve, decline,
//! a timeout mid-sale shown as unknown and reconciled, a crash mid-sale found again after
//! a restart, an approval the hub could not hear of yet, and a refund to the card. In
//! every case the card is charged at most once (`SimHandle::charges`).

mod common;

use std::time::Duration;

use common::{FixedHub, Printer, PtyTerminal, contains, desk, kiosk_intake, terminal_config};
use counter::Desk;
use counter::desk::{CardOutcome, DeskError, OtherPayment, Printed, RefundDraft};
use domain::{Fen, ServiceType};
use hardware::terminal::message::TransactionType;
use hardware::terminal::{SimBehaviour, TeliumConfig, Timeouts};
use protocol::{HubClient, PaymentMethod};

/// A repair from the kiosk, called at counter 2, quoted (inspection ¥30 + labour ¥60) and
/// acknowledged.
async fn quoted(
    url: &str,
    kiosk: &HubClient,
    printer: Option<&Printer>,
    terminal: &PtyTerminal,
    cfg: TeliumConfig,
) -> Desk {
    kiosk_intake(kiosk, ServiceType::Repair).await;
    let mut d = desk(
        url,
        2,
        printer.map(Printer::desk_printer),
        Some(terminal.register_with(cfg)),
    );
    d.login("tech", "1234").await.unwrap();
    d.call_next().await.unwrap().unwrap();
    d.start().await.unwrap();
    d.add_item("inspection").unwrap();
    d.add_item("labour_hour").unwrap();
    d.issue_quote().await.unwrap();
    d.acknowledge_quote().await.unwrap();
    d
}

fn paid(o: CardOutcome) -> counter::desk::Paid {
    match o {
        CardOutcome::Paid(p) => p,
        other => panic!("expected the card payment to be recorded, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_card_is_recorded_once_with_its_reference_and_a_receipt() {
    let hub = common::hub().await;
    let printer = Printer::start();
    let terminal = PtyTerminal::start();
    let mut d = quoted(
        &hub.url,
        &hub.client,
        Some(&printer),
        &terminal,
        terminal_config(),
    )
    .await;

    let p = paid(d.pay_card().await.unwrap());
    assert_eq!(p.payment.amount, Fen(9000));
    assert_eq!(p.payment.method, PaymentMethod::BankCard);
    let reference = p
        .payment
        .reference
        .clone()
        .expect("the terminal's reference");
    assert_eq!(p.receipt, Printed::Printed);
    let charges = terminal.sim.charges();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount, Fen(9000));
    // The receipt shows the method and the terminal's reference, never the card number.
    let receipt = &printer.wait_docs(1)[0];
    assert!(contains(receipt, "银行卡"), "{receipt:?}");
    assert!(contains(receipt, &reference), "{receipt:?}");
    assert!(!receipt.iter().any(|l| l.contains("6222021234567890")));
    // Nothing more is due: a second card payment is refused before the terminal is asked.
    assert!(matches!(d.pay_card().await, Err(DeskError::Invalid(_))));
    assert_eq!(terminal.sim.requests().len(), 1);

    // A refund of part of it goes back to the card on the terminal (GB/T 8.4.3).
    let (refund, _) = d
        .refund(RefundDraft {
            payment_id: p.payment.id,
            amount: Fen(6000),
            method: PaymentMethod::BankCard,
            reason: "未维修，退工时费".into(),
        })
        .await
        .unwrap();
    d.load_refunds().await.unwrap();
    match d.pay_out_refund(refund.id).await.unwrap() {
        CardOutcome::Refunded(r) => assert!(r.paid_at.is_some()),
        other => panic!("{other:?}"),
    }
    let requests = terminal.sim.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].transaction, TransactionType::Credit);
    assert_eq!(requests[1].amount, Fen(6000));
    assert!(d.load_refunds().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_charges_nothing_and_the_customer_may_try_again() {
    let hub = common::hub().await;
    let terminal = PtyTerminal::start();
    let mut d = quoted(&hub.url, &hub.client, None, &terminal, terminal_config()).await;

    terminal.sim.push(SimBehaviour::Decline);
    match d.pay_card().await.unwrap() {
        CardOutcome::Declined(why) => assert!(why.contains("declined"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(terminal.sim.charges().is_empty());
    assert!(d.request().unwrap().payments.is_empty());
    assert!(d.pending_card().is_none());
    assert_eq!(d.amount_due(), Some(Fen(9000)));

    let p = paid(d.pay_card().await.unwrap());
    assert_eq!(p.receipt, Printed::NoPrinter);
    assert_eq!(terminal.sim.charges().len(), 1);
    assert_eq!(d.request().unwrap().payments.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_mid_sale_is_shown_as_unknown_blocks_retries_and_is_reconciled_once() {
    let hub = common::hub().await;
    let terminal = PtyTerminal::start();
    let mut d = quoted(&hub.url, &hub.client, None, &terminal, terminal_config()).await;

    // The terminal takes the request, charges the card and never answers.
    terminal.sim.push(SimBehaviour::NoAnswer);
    match d.pay_card().await.unwrap() {
        CardOutcome::Unknown(why) => assert!(why.contains("not known"), "{why}"),
        other => panic!("{other:?}"),
    }
    let pending = d.pending_card().cloned().expect("shown as unknown");
    assert_eq!(pending.amount, Fen(9000));
    assert!(d.view().card.is_some());
    assert!(
        d.request().unwrap().payments.is_empty(),
        "nothing recorded as paid"
    );

    // Never retried blindly: neither by card nor by another method meanwhile.
    assert!(matches!(
        d.pay_card().await,
        Err(DeskError::CardUnresolved { amount: Fen(9000) })
    ));
    assert!(matches!(
        d.pay(OtherPayment::Cash {
            tendered: Fen(9000)
        })
        .await,
        Err(DeskError::CardUnresolved { .. })
    ));
    assert_eq!(terminal.sim.requests().len(), 1);

    // Asking again changes nothing without an answer from the terminal.
    assert!(matches!(
        d.check_card().await.unwrap(),
        CardOutcome::Unknown(_)
    ));
    // Staff look at the terminal: it shows the charge. Recorded once, under the same key.
    let p = paid(d.resolve_card(true).await.unwrap());
    assert_eq!(p.payment.amount, Fen(9000));
    assert!(d.pending_card().is_none());
    assert_eq!(d.request().unwrap().payments.len(), 1);
    assert_eq!(d.amount_due(), Some(Fen::ZERO));
    assert_eq!(terminal.sim.charges().len(), 1, "charged exactly once");
    assert_eq!(terminal.sim.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_answer_after_a_timeout_is_reconciled_by_itself() {
    let hub = common::hub().await;
    let terminal = PtyTerminal::start();
    // The register gives up on the answer after 1 s and then listens for 10 s; the
    // terminal answers 3 s after taking the request.
    let cfg = TeliumConfig {
        timeouts: Timeouts {
            answer: Duration::from_secs(1),
            reconcile: Duration::from_secs(10),
            ..terminal_config().timeouts
        },
        ..terminal_config()
    };
    let mut d = quoted(&hub.url, &hub.client, None, &terminal, cfg).await;
    terminal
        .sim
        .push(SimBehaviour::AnswerAfter(Duration::from_secs(3)));
    let p = paid(d.pay_card().await.unwrap());
    assert_eq!(p.payment.amount, Fen(9000));
    assert_eq!(terminal.sim.charges().len(), 1);
    assert_eq!(d.request().unwrap().payments.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_sale_is_found_again_after_the_restart_and_settled_by_staff() {
    let hub = common::hub().await;
    let terminal = PtyTerminal::start();
    let d = quoted(&hub.url, &hub.client, None, &terminal, terminal_config()).await;
    let request_id = d.request().unwrap().id;
    drop(d);
    // The station lost power after journalling the sale, before the terminal took it.
    terminal.leave_in_flight(&format!("c2-s{request_id}-1-0"), Fen(9000));

    // The restarted station finds it at login and shows it as unknown.
    let mut d = desk(&hub.url, 2, None, Some(terminal.register()));
    d.login("tech", "1234").await.unwrap();
    let pending = d
        .pending_card()
        .cloned()
        .expect("found again after the restart");
    assert_eq!(pending.amount, Fen(9000));
    assert!(pending.reason.contains("restarted"), "{}", pending.reason);
    assert!(matches!(
        d.pay_card().await,
        Err(DeskError::CardUnresolved { .. })
    ));
    // The terminal's own journal shows nothing: staff settle it as not charged, and the
    // customer pays once.
    assert!(matches!(
        d.resolve_card(false).await.unwrap(),
        CardOutcome::Declined(_)
    ));
    assert_eq!(
        d.request().unwrap().id,
        request_id,
        "the ticket at the counter was picked up"
    );
    paid(d.pay_card().await.unwrap());
    assert_eq!(terminal.sim.charges().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_the_hub_did_not_hear_of_is_recorded_once_when_it_is_back() {
    let mut hub = FixedHub::start().await;
    let terminal = PtyTerminal::start();
    let mut d = quoted(&hub.url, &hub.client(), None, &terminal, terminal_config()).await;
    let request_id = d.request().unwrap().id;

    // The hub goes away while the customer pays.
    hub.stop().await;
    match d.pay_card().await.unwrap() {
        CardOutcome::Unrecorded(why) => assert!(why.contains("approved"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(terminal.sim.charges().len(), 1);
    assert_eq!(d.unrecorded_payments(), 1);
    // Nothing is retried while it cannot be reached.
    assert!(!d.tick().await);
    assert_eq!(d.unrecorded_payments(), 1);

    let mut hub = FixedHub::start_at(hub.dir.clone(), hub.addr).await;
    assert!(d.tick().await);
    assert_eq!(d.unrecorded_payments(), 0);
    assert!(!d.tick().await);
    // A restarted station re-sends the last approved sale under the same key: still one.
    drop(d);
    let mut d = desk(&hub.url, 2, None, Some(terminal.register()));
    d.login("tech", "1234").await.unwrap();
    let r = d.open_request(request_id).await.unwrap();
    assert_eq!(r.payments.len(), 1);
    assert_eq!(r.payments[0].method, PaymentMethod::BankCard);
    assert_eq!(terminal.sim.charges().len(), 1);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_that_does_not_answer_is_reported_and_nothing_is_charged() {
    let hub = common::hub().await;
    let terminal = PtyTerminal::start();
    let mut d = quoted(&hub.url, &hub.client, None, &terminal, terminal_config()).await;

    // Switched off: it ignores the enquiry, so it never took the request.
    terminal.sim.set_silent(true);
    match d.pay_card().await {
        Err(e @ DeskError::Terminal(_)) => {
            assert!(e.to_string().contains("nothing was charged"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(
        d.pending_card().is_none(),
        "an error is never an unknown outcome"
    );
    assert!(terminal.sim.requests().is_empty());
    let alerts = hub.client.alerts().await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.device == "counter-2-terminal"
                && a.kind == protocol::AlertKind::TerminalFault),
        "{alerts:?}"
    );

    // Back on: the next attempt goes through, once, and the alert is cleared.
    terminal.sim.set_silent(false);
    paid(d.pay_card().await.unwrap());
    assert_eq!(terminal.sim.charges().len(), 1);
    assert!(
        hub.client
            .alerts()
            .await
            .unwrap()
            .iter()
            .all(|a| a.device != "counter-2-terminal")
    );
}

/// A hub client acting as the supervisor at the back office (no counter).
async fn back_office(kiosk: &HubClient) -> HubClient {
    let s = kiosk
        .login(&protocol::Login {
            staff_id: "sup".into(),
            secret: "1234".into(),
            counter: None,
            device: Some("back-office".into()),
        })
        .await
        .unwrap();
    kiosk.with_token(s.token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_sale_not_yet_recorded_blocks_every_new_payment_for_the_request() {
    let mut hub = FixedHub::start().await;
    let terminal = PtyTerminal::start();
    let mut d = quoted(&hub.url, &hub.client(), None, &terminal, terminal_config()).await;
    let request_id = d.request().unwrap().id;

    hub.stop().await;
    match d.pay_card().await.unwrap() {
        CardOutcome::Unrecorded(why) => assert!(why.contains("approved"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(terminal.sim.charges().len(), 1);
    // The approved sale counts as paid on the screen, and nothing else is taken.
    assert_eq!(d.amount_due(), Some(Fen::ZERO));
    let v = d.view();
    assert_eq!(v.unrecorded_here, 1);
    assert_eq!(v.amount_due, Some(Fen::ZERO));
    match d.pay_card().await {
        Err(DeskError::Invalid(why)) => assert!(why.contains("not recorded"), "{why}"),
        other => panic!("a second card payment must be refused, got {other:?}"),
    }
    assert!(matches!(
        d.pay(OtherPayment::Cash {
            tendered: Fen(9000)
        })
        .await,
        Err(DeskError::Invalid(_))
    ));
    assert!(matches!(
        d.pay(OtherPayment::Online {
            reference: "WX-1".into()
        })
        .await,
        Err(DeskError::Invalid(_))
    ));
    assert_eq!(terminal.sim.charges().len(), 1, "the card was charged once");
    assert_eq!(terminal.sim.requests().len(), 1);

    // Back: recorded once, and the request is paid.
    let mut hub = FixedHub::start_at(hub.dir.clone(), hub.addr).await;
    assert!(d.tick().await);
    assert_eq!(d.unrecorded_payments(), 0);
    assert_eq!(d.view().unrecorded_here, 0);
    assert_eq!(d.amount_due(), Some(Fen::ZERO));
    let r = back_office(&hub.client())
        .await
        .request(request_id)
        .await
        .unwrap();
    assert_eq!(r.payments.len(), 1);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_sale_the_hub_refuses_is_kept_shown_and_never_drops_the_others() {
    let mut hub = FixedHub::start().await;
    let kiosk = hub.client();
    let terminal = PtyTerminal::start();
    let office = back_office(&kiosk).await;
    // Two repairs waiting; the first is served and quoted ¥90.
    kiosk_intake(&kiosk, ServiceType::Repair).await;
    let mut d = quoted(&hub.url, &kiosk, None, &terminal, terminal_config()).await;
    let first = d.request().unwrap().id;

    // Meanwhile the customer paid it in cash at another desk: the hub refuses the card
    // sale (overpayment), but the card was charged on the terminal.
    office
        .record_payment(
            first,
            &protocol::RecordPayment {
                amount: Fen(9000),
                method: PaymentMethod::Cash,
                reference: None,
                idempotency_key: "office-cash-1".into(),
            },
        )
        .await
        .unwrap();
    match d.pay_card().await.unwrap() {
        CardOutcome::Unrecorded(why) => assert!(why.contains("approved"), "{why}"),
        other => panic!("an approved sale must never be dropped, got {other:?}"),
    }
    assert_eq!(terminal.sim.charges().len(), 1);
    assert_eq!(d.unrecorded_payments(), 1);

    // The second repair is paid while the hub is away.
    d.finish().await.unwrap();
    d.call_next().await.unwrap().unwrap();
    d.start().await.unwrap();
    let second = d.request().unwrap().id;
    assert_ne!(first, second);
    d.add_item("inspection").unwrap();
    d.issue_quote().await.unwrap();
    d.acknowledge_quote().await.unwrap();
    hub.stop().await;
    match d.pay_card().await.unwrap() {
        CardOutcome::Unrecorded(_) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(d.unrecorded_payments(), 2);

    // Back: the refused one stays (and staff are told), the other one is recorded.
    let mut hub = FixedHub::start_at(hub.dir.clone(), hub.addr).await;
    assert!(d.tick().await);
    assert_eq!(d.unrecorded_payments(), 1);
    let notice = d.view().notice.expect("the refusal is shown to staff");
    assert!(notice.contains(&first.to_string()), "{notice}");
    let office = back_office(&hub.client()).await;
    let r = office.request(second).await.unwrap();
    assert_eq!(
        r.payments.len(),
        1,
        "the sale after the refused one is recorded"
    );
    assert_eq!(r.payments[0].method, PaymentMethod::BankCard);
    // Sent again on the next round, still kept.
    d.tick().await;
    assert_eq!(d.unrecorded_payments(), 1);
    assert_eq!(terminal.sim.charges().len(), 2);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_refund_the_hub_did_not_hear_of_is_marked_paid_later_and_credited_once() {
    let mut hub = FixedHub::start().await;
    let terminal = PtyTerminal::start();
    let mut d = quoted(&hub.url, &hub.client(), None, &terminal, terminal_config()).await;
    let p = paid(d.pay_card().await.unwrap());
    let (refund, _) = d
        .refund(RefundDraft {
            payment_id: p.payment.id,
            amount: Fen(3000),
            method: PaymentMethod::BankCard,
            reason: "未检测".into(),
        })
        .await
        .unwrap();
    d.load_refunds().await.unwrap();

    // The hub goes away while the terminal credits the card.
    hub.stop().await;
    match d.pay_out_refund(refund.id).await {
        Ok(CardOutcome::Unrecorded(why)) => assert!(why.contains("credited"), "{why}"),
        other => panic!("a credited refund must be kept, got {other:?}"),
    }
    let credits = || {
        terminal
            .sim
            .requests()
            .iter()
            .filter(|r| r.transaction == TransactionType::Credit)
            .count()
    };
    assert_eq!(credits(), 1);
    // It is not credited a second time.
    assert!(matches!(
        d.pay_out_refund(refund.id).await,
        Err(DeskError::Invalid(_))
    ));
    assert_eq!(credits(), 1);
    assert_eq!(d.view().unpaid_refunds, vec![refund.id]);

    let mut hub = FixedHub::start_at(hub.dir.clone(), hub.addr).await;
    assert!(d.tick().await);
    assert!(d.view().unpaid_refunds.is_empty());
    assert!(d.load_refunds().await.unwrap().is_empty(), "marked paid");
    assert_eq!(credits(), 1);
    hub.stop().await;
}
