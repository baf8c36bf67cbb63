//! Every kiosk flow through the model and the controller, against a real hub on
//! 127.0.0.1:0 and the printer simulator: tickets (GB/T 4.1.1), printer failure, the
//! GPIO button, request intake with confirmation (GB/T 6.1.2), fees acknowledged before
//! paid work (GB/T 4.2.3), bad input refused in the customer's terms (GB/T 5.4),
//! appointment check-in (GB/T 8.1), ratings (GB/T 9.1.2), the idle wipe (GB/T 5.4.2),
//! the hub going away and coming back, and the QR on tickets leading to the ticket's
//! public status page (GB/T 4.1.3).

mod common;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use common::{Rig, contains, serve, slot_after};
use domain::{PriorityClass, ServiceType};
use hardware::gpio::{SimGpio, SimInput};
use kiosk::model::{
    Consent, Field, FieldError, HubState, Input, ModelConfig, Notice, Outcome, PrintState, Screen,
};
use protocol::{AlertKind, CreateAppointment, Intake, RatingReason};

fn config() -> ModelConfig {
    ModelConfig::default()
}

async fn printed(rig: &Rig) -> PrintState {
    rig.model
        .ticket
        .as_ref()
        .expect("a ticket is shown")
        .print
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tap_issues_prints_and_confirms_a_ticket() {
    let mut rig = Rig::start(config()).await;
    // GB/T 4.1.1: a walk-in's ticket in one tap.
    rig.act(Input::TakeTicket(ServiceType::Consultation)).await;
    assert_eq!(rig.model.screen, Screen::Ticket);
    assert_eq!(printed(&rig).await, PrintState::Printed);
    let shown = rig.model.ticket.clone().unwrap().issued;
    let at_hub = rig.hub.client.ticket(shown.ticket.id).await.unwrap();
    assert_eq!(at_hub.number, shown.ticket.number);
    assert_eq!(at_hub.class, PriorityClass::Normal);
    assert!(at_hub.printed, "the kiosk confirmed the printout");
    let jobs = rig.jobs(1).await;
    assert_eq!(jobs.len(), 1);
    assert!(
        contains(&jobs[0], &shown.ticket.number),
        "the number is on paper"
    );

    // A second tap counts the first as ahead; priority is chosen before the tap.
    rig.act(Input::TogglePriority).await;
    rig.act(Input::TakeTicket(ServiceType::Consultation)).await;
    let second = rig.model.ticket.clone().unwrap().issued;
    assert_ne!(second.ticket.id, shown.ticket.id);
    assert_eq!(second.ticket.class, PriorityClass::Priority);
    assert_eq!(rig.jobs(2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_printer_out_of_paper_leaves_a_valid_ticket_and_tells_staff() {
    let mut rig = Rig::start(config()).await;
    rig.printer.set_paper_out(true);
    rig.act(Input::TakeTicket(ServiceType::Repair)).await;
    // The ticket stands; the screen says the printer failed.
    assert_eq!(rig.model.screen, Screen::Ticket);
    assert!(matches!(
        printed(&rig).await,
        PrintState::Failed {
            paper_out: true,
            ..
        }
    ));
    let id = rig.model.ticket.as_ref().unwrap().issued.ticket.id;
    let at_hub = rig.hub.client.ticket(id).await.unwrap();
    assert!(!at_hub.printed);
    let alerts = rig.hub.client.alerts().await.unwrap();
    assert!(
        alerts.iter().any(|a| a.kind == AlertKind::PrinterPaperOut
            && a.device == "kiosk-test"
            && a.ticket_id == Some(id)),
        "{alerts:?}"
    );
    assert!(rig.printer.jobs().is_empty());

    // A new roll: the next ticket prints and the alert is cleared.
    rig.printer.set_paper_out(false);
    rig.act(Input::Go(Screen::Home)).await;
    rig.act(Input::TakeTicket(ServiceType::Repair)).await;
    assert_eq!(printed(&rig).await, PrintState::Printed);
    assert!(rig.hub.client.alerts().await.unwrap().is_empty());
    assert_eq!(rig.jobs(1).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gpio_button_issues_a_ticket_for_the_configured_service() {
    let mut rig = Rig::start(ModelConfig {
        button_service: ServiceType::ReturnExchange,
        ..config()
    })
    .await;
    let (mut gpio, button) = SimGpio::new(Duration::from_millis(5));
    let (tx, rx) = std::sync::mpsc::channel();
    let follower = std::thread::spawn(move || {
        kiosk::follow_button(&mut gpio, || tx.send(Input::ButtonPressed).is_ok());
    });
    // A bouncing contact is one press.
    let t0 = std::time::Instant::now();
    for (ms, level) in [(0, true), (1, false), (2, true), (20, true), (30, false)] {
        button
            .send_at(SimInput::ButtonLevel(level), t0 + Duration::from_millis(ms))
            .unwrap();
    }
    let press = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    rig.act(press).await;
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "one press"
    );
    let t = rig.model.ticket.clone().unwrap();
    assert_eq!(t.issued.ticket.service, ServiceType::ReturnExchange);
    assert_eq!(t.print, PrintState::Printed);
    assert_eq!(rig.jobs(1).await.len(), 1);
    drop(button);
    follower.join().unwrap();
}

/// Fills the three intake steps of `service` as a customer would.
async fn fill_intake(rig: &mut Rig, service: ServiceType) {
    rig.act(Input::StartIntake(service)).await;
    assert_eq!(rig.model.screen, Screen::Product);
    rig.act(Input::PickCategory(0)).await;
    rig.act(Input::Focus(Field::Model)).await;
    rig.typed("xqg100-14").await;
    rig.act(Input::Focus(Field::Serial)).await;
    rig.typed("sn 2024/01").await;
    rig.act(Input::Focus(Field::PurchaseDate)).await;
    rig.typed("2025-06-01").await;
    rig.act(Input::Next).await;
    assert_eq!(rig.model.screen, Screen::Problem);
    assert!(
        !rig.model.problems().is_empty(),
        "a pick-list from the knowledge base"
    );
    rig.act(Input::PickProblem(0)).await;
    // Chinese by pinyin: `menkou` → 门口.
    rig.act(Input::Focus(Field::Details)).await;
    rig.typed("menkou").await;
    let i = rig
        .model
        .composer
        .page()
        .iter()
        .position(|c| c.text == "门口")
        .expect("门口 is offered");
    rig.act(Input::PickCandidate(i)).await;
    rig.act(Input::Next).await;
    assert_eq!(rig.model.screen, Screen::Contact);
    rig.act(Input::Focus(Field::Phone)).await;
    rig.typed("13812345678").await;
    rig.act(Input::ToggleConsent(Consent::ServiceUpdates)).await;
    rig.act(Input::Next).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_is_confirmed_then_saved_with_its_ticket_and_slip() {
    let mut rig = Rig::start(config()).await;
    fill_intake(&mut rig, ServiceType::ReturnExchange).await;
    // GB/T 6.1.2: the key points repeated before anything is saved; free: no fees step.
    assert_eq!(rig.model.screen, Screen::Summary);
    let staff = rig.staff().await;
    let intake = rig.model.intake().unwrap();
    assert_eq!(intake.intake.model.as_deref(), Some("xqg100-14"));
    assert_eq!(intake.intake.serial_number.as_deref(), Some("SN2024/01"));
    assert_eq!(intake.intake.details.as_deref(), Some("门口"));
    // Phone masked on screen once entered (GB/T 5.4.2).
    assert_eq!(rig.model.shown_text(Field::Phone), "138****5678");
    // Correct one thing: back to the problem step and on again.
    rig.act(Input::Edit(Screen::Problem)).await;
    assert_eq!(rig.model.screen, Screen::Problem);
    rig.act(Input::Focus(Field::Details)).await;
    rig.act(Input::NextKeyMode).await;
    rig.typed(" left").await;
    rig.act(Input::Next).await;
    rig.act(Input::Next).await;
    assert_eq!(rig.model.screen, Screen::Summary);
    rig.act(Input::Confirm).await;
    assert_eq!(rig.model.screen, Screen::Accepted);
    let shown = rig.model.ticket.clone().unwrap();
    assert_eq!(shown.print, PrintState::Printed);
    let request = shown.request.clone().unwrap();
    assert_eq!(request.ticket_id, Some(shown.issued.ticket.id));
    let saved = staff.request(request.id).await.unwrap();
    assert_eq!(saved.intake.details.as_deref(), Some("门口 left"));
    assert_eq!(
        saved.intake.purchase_date.map(|d| d.to_string()).as_deref(),
        Some("2025-06-01")
    );
    assert!(saved.intake.problem_code.is_some());
    let contact = saved.contact.unwrap();
    assert!(contact.consent.service_updates && !contact.consent.queue_sms);
    assert_eq!(contact.phone, "138****5678");
    // The ticket and the slip; the slip carries the request number and no full phone.
    let jobs = rig.jobs(2).await;
    assert_eq!(jobs.len(), 2);
    let no = request.number(chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    assert!(contains(&jobs[1], &no), "request {no} on the slip");
    assert!(!jobs.iter().any(|j| contains(j, "13812345678")));
    // The request was saved: the form is empty again.
    assert_eq!(rig.model.text(Field::Details), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paid_work_needs_the_published_fees_acknowledged() {
    let mut rig = Rig::start(config()).await;
    fill_intake(&mut rig, ServiceType::Repair).await;
    // GB/T 4.2.3: a paid service shows the itemised list before the summary...
    assert_eq!(rig.model.screen, Screen::Fees);
    let listed = rig.model.intake_service().unwrap().clone();
    assert!(listed.paid && !listed.fees.is_empty());
    // ...and goes no further until the customer acknowledges it.
    rig.act(Input::Next).await;
    assert_eq!(rig.model.screen, Screen::Fees);
    assert_eq!(rig.model.notice, Some(Notice::FeesRequired));
    rig.act(Input::ToggleFeesAcknowledged).await;
    rig.act(Input::Next).await;
    assert_eq!(rig.model.screen, Screen::Summary);
    rig.act(Input::Confirm).await;
    assert_eq!(rig.model.screen, Screen::Accepted);
    let request = rig.model.ticket.clone().unwrap().request.unwrap();
    let ack = rig
        .staff()
        .await
        .request(request.id)
        .await
        .unwrap()
        .fees_acknowledged
        .expect("the acknowledgement is stored with the request");
    assert_eq!(ack.digest, listed.fee_digest);
    assert_eq!(ack.via, "kiosk");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fee_list_changed_while_read_is_shown_again() {
    let mut rig = Rig::start(config()).await;
    // The kiosk holds a list the hub no longer publishes (it changed after the fetch).
    let mut stale = rig.model.catalogue.clone().unwrap();
    for s in &mut stale.services {
        s.fee_digest = format!("{}-old", s.fee_digest);
    }
    rig.act(Input::Hub(Outcome::Catalogue(stale))).await;
    fill_intake(&mut rig, ServiceType::Installation).await;
    rig.act(Input::ToggleFeesAcknowledged).await;
    rig.act(Input::Next).await;
    rig.act(Input::Confirm).await;
    // GB/T 4.2.3: refused by the hub; the current list is fetched and must be read again.
    assert_eq!(rig.model.screen, Screen::Fees);
    assert_eq!(rig.model.notice, Some(Notice::FeeListChanged));
    assert!(rig.model.form.fees_acknowledged.is_none());
    assert!(
        !rig.model
            .intake_service()
            .unwrap()
            .fee_digest
            .ends_with("-old")
    );
    rig.act(Input::ToggleFeesAcknowledged).await;
    rig.act(Input::Next).await;
    rig.act(Input::Confirm).await;
    assert_eq!(rig.model.screen, Screen::Accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_in_the_customers_terms_and_nothing_is_lost() {
    let mut rig = Rig::start(config()).await;
    rig.act(Input::StartIntake(ServiceType::Complaint)).await;
    // Not a date, then a date to come.
    rig.act(Input::Focus(Field::PurchaseDate)).await;
    rig.typed("20250231").await;
    rig.act(Input::Next).await;
    assert_eq!(
        rig.model.error(Field::PurchaseDate),
        Some(FieldError::DateInvalid)
    );
    assert_eq!(rig.model.focus, Some(Field::PurchaseDate));
    let next_year = (Utc::now().date_naive() + chrono::Duration::days(400)).format("%Y%m%d");
    rig.act(Input::Focus(Field::PurchaseDate)).await;
    for _ in 0..8 {
        rig.typed("\u{8}").await;
    }
    rig.typed(&next_year.to_string()).await;
    rig.act(Input::Next).await;
    assert_eq!(
        rig.model.error(Field::PurchaseDate),
        Some(FieldError::DateInFuture)
    );
    rig.act(Input::Focus(Field::PurchaseDate)).await;
    rig.typed("\u{8}\u{8}\u{8}\u{8}").await;
    rig.act(Input::Next).await;
    assert_eq!(
        rig.model.error(Field::PurchaseDate),
        Some(FieldError::DateIncomplete)
    );
    rig.act(Input::Focus(Field::PurchaseDate)).await;
    for _ in 0..8 {
        rig.typed("\u{8}").await;
    }
    rig.act(Input::Next).await;
    assert_eq!(rig.model.screen, Screen::Problem);
    // A problem must be said.
    rig.act(Input::Next).await;
    assert_eq!(rig.model.problem_error(), Some(FieldError::ProblemMissing));
    rig.act(Input::Focus(Field::Details)).await;
    rig.act(Input::NextKeyMode).await;
    rig.typed("Rude answer on the phone").await;
    rig.act(Input::Next).await;
    assert_eq!(rig.model.screen, Screen::Contact);
    // A phone number is digits: letters never get in; too short is said.
    rig.act(Input::Focus(Field::Phone)).await;
    rig.typed("1a3b8-12").await;
    assert_eq!(rig.model.text(Field::Phone), "13812");
    rig.act(Input::Next).await;
    assert_eq!(rig.model.error(Field::Phone), Some(FieldError::PhoneLength));
    rig.act(Input::Focus(Field::Phone)).await;
    rig.typed("3456789").await;
    // GB/T 5.4: no stated use, no number kept.
    rig.act(Input::Next).await;
    assert_eq!(
        rig.model.error(Field::Phone),
        Some(FieldError::ConsentMissing)
    );
    rig.act(Input::ToggleConsent(Consent::QueueSms)).await;
    rig.act(Input::Next).await;
    assert_eq!(rig.model.screen, Screen::Summary);
    // Everything typed survived the refusals.
    assert_eq!(rig.model.text(Field::Details), "Rude answer on the phone");
    rig.act(Input::Confirm).await;
    assert_eq!(rig.model.screen, Screen::Accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_checks_in_by_typed_code_or_scanned_link() {
    let mut rig = Rig::start(config()).await;
    let staff = rig.staff().await;
    let slot = slot_after(
        &rig.hub.client,
        ServiceType::Installation,
        Utc::now() + chrono::Duration::minutes(1),
    )
    .await;
    let booked = staff
        .create_appointment(&CreateAppointment {
            service: ServiceType::Installation,
            slot_start: slot.start,
            channel: domain::Channel::Phone,
            intake: Intake::default(),
            contact: None,
        })
        .await
        .unwrap();
    // A wrong code first.
    rig.act(Input::Go(Screen::CheckIn)).await;
    rig.typed("NOPE42\n").await;
    assert_eq!(rig.model.notice, Some(Notice::AppointmentUnknown));
    // Typed on the on-screen keyboard (lower case is fine).
    rig.act(Input::Go(Screen::CheckIn)).await;
    rig.typed(&booked.code.to_lowercase()).await;
    rig.act(Input::SubmitCheckIn).await;
    assert_eq!(rig.model.screen, Screen::Ticket);
    let t = rig.model.ticket.clone().unwrap();
    assert_eq!(t.issued.ticket.class, PriorityClass::Appointment);
    assert_eq!(t.print, PrintState::Printed);
    // Scanned again from the confirmation's QR (a link, typed by the scanner): same ticket.
    rig.act(Input::Go(Screen::Home)).await;
    rig.typed(&format!("https://centre.example/a/{}\n", booked.code))
        .await;
    assert_eq!(rig.model.screen, Screen::Ticket);
    assert_eq!(rig.model.notice, Some(Notice::AppointmentAgain));
    assert_eq!(
        rig.model.ticket.as_ref().unwrap().issued.ticket.id,
        t.issued.ticket.id
    );
    assert_eq!(rig.jobs(2).await.len(), 2);

    // Too early: a slot two days out.
    let later = slot_after(
        &rig.hub.client,
        ServiceType::Installation,
        Utc::now() + chrono::Duration::hours(49),
    )
    .await;
    let early = staff
        .create_appointment(&CreateAppointment {
            service: ServiceType::Installation,
            slot_start: later.start,
            channel: domain::Channel::Phone,
            intake: Intake::default(),
            contact: None,
        })
        .await
        .unwrap();
    rig.act(Input::Go(Screen::CheckIn)).await;
    rig.typed(&format!("{}\n", early.code)).await;
    assert!(
        matches!(rig.model.notice, Some(Notice::AppointmentTooEarly(ref d)) if !d.is_empty()),
        "{:?}",
        rig.model.notice
    );
    assert_eq!(rig.model.screen, Screen::CheckIn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_ticket_is_rated_once() {
    let mut rig = Rig::start(config()).await;
    rig.act(Input::TakeTicket(ServiceType::Consultation)).await;
    let t = rig.model.ticket.clone().unwrap().issued.ticket;
    rig.act(Input::Go(Screen::Home)).await;
    // Not served yet: the hub says so.
    rig.act(Input::Hub(Outcome::TicketFinished {
        finished: kiosk::model::Finished {
            ticket_id: t.id,
            number: t.number.clone(),
            counter: 1,
        },
        fresh: true,
    }))
    .await;
    rig.act(Input::Go(Screen::Feedback)).await;
    rig.typed(&format!("{}\n", t.number.to_lowercase())).await;
    assert!(rig.model.rating_ticket.is_some(), "found by its number");
    rig.act(Input::SetScore(5)).await;
    rig.act(Input::SubmitRating).await;
    assert_eq!(rig.model.notice, Some(Notice::NotFinished));

    serve(&rig.staff().await, t.id).await;
    rig.act(Input::SubmitRating).await;
    // A score is needed, reasons are optional.
    rig.act(Input::ToggleReason(RatingReason::Friendly)).await;
    rig.act(Input::SubmitRating).await;
    assert_eq!(rig.model.screen, Screen::Thanks);

    // GB/T 9.1.2: one rating per ticket.
    rig.act(Input::Go(Screen::Feedback)).await;
    rig.typed(&format!("{}\n", t.number)).await;
    rig.act(Input::SetScore(1)).await;
    rig.act(Input::SubmitRating).await;
    assert_eq!(rig.model.notice, Some(Notice::AlreadyRated));
    // A number nobody finished.
    rig.act(Input::Go(Screen::Feedback)).await;
    rig.typed("Z999\n").await;
    assert_eq!(
        rig.model.error(Field::TicketNo),
        Some(FieldError::TicketNotFound)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feedback_terminal_asks_the_customer_its_counter_just_finished() {
    let rig = Rig::start(config()).await;
    let controller = rig.controller.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let sink: kiosk::controller::Sink = Arc::new(move |o| {
        let _ = tx.send(o);
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(kiosk::feed::follow(
        controller,
        sink,
        kiosk::feed::FeedOptions::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut terminal = kiosk::model::KioskModel::new(ModelConfig {
        feedback_counter: Some(1),
        ..config()
    });
    assert_eq!(terminal.screen, Screen::RateWait);
    let issued = rig
        .hub
        .client
        .issue_ticket(&protocol::IssueTicket {
            service: ServiceType::Consultation,
            class: PriorityClass::Normal,
            channel: domain::Channel::OnSite,
            device: None,
        })
        .await
        .unwrap();
    let staff = rig.staff().await;
    // The follower is live before the counter finishes.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let drain = |terminal: &mut kiosk::model::KioskModel| {
        while let Ok(o) = rx.try_recv() {
            terminal.apply(Input::Hub(o));
        }
    };
    while terminal.hub != HubState::Live {
        drain(&mut terminal);
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    serve(&staff, issued.ticket.id).await;
    while terminal.screen != Screen::Feedback {
        drain(&mut terminal);
        assert!(std::time::Instant::now() < deadline, "no rating prompt");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        terminal.rating_ticket.as_ref().map(|t| t.ticket_id),
        Some(issued.ticket.id)
    );
    terminal.apply(Input::SetScore(4));
    let fx = terminal.apply(Input::SubmitRating);
    let (tx2, rx2) = std::sync::mpsc::channel();
    let sink2: kiosk::controller::Sink = Arc::new(move |o| {
        let _ = tx2.send(o);
    });
    for e in fx {
        rig.controller.run(e, &sink2).await;
    }
    while let Ok(o) = rx2.try_recv() {
        if let Outcome::Rated(v) = &o {
            assert_eq!(v.via, "feedback_terminal");
            assert_eq!(v.score, 4);
        }
        terminal.apply(Input::Hub(o));
    }
    assert_eq!(terminal.screen, Screen::Thanks);
    let _ = stop.send(());
    follower.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kiosk_forgets_the_last_customer() {
    let mut rig = Rig::start(config()).await;
    rig.act(Input::SetLang(kiosk::Lang::En)).await;
    rig.act(Input::ToggleLargeText).await;
    rig.act(Input::StartIntake(ServiceType::Repair)).await;
    rig.act(Input::Focus(Field::Model)).await;
    rig.typed("SECRET-1").await;
    rig.act(Input::Focus(Field::Details)).await;
    rig.act(Input::NextKeyMode).await;
    rig.act(Input::NextKeyMode).await;
    rig.typed("woj").await;
    // Not yet: a warning in the last seconds.
    rig.tick(Duration::from_secs(85));
    assert_eq!(rig.model.screen, Screen::Product);
    assert!(rig.model.idle_warning().is_some());
    rig.tick(Duration::from_secs(91));
    // GB/T 5.4.2: home, and nothing of theirs left.
    assert_eq!(rig.model.screen, Screen::Home);
    assert_eq!(rig.model.text(Field::Model), "");
    assert!(rig.model.composer.is_empty());
    assert_eq!(rig.model.lang, kiosk::Lang::ZhCn);
    assert!(!rig.model.large_text);
    assert_eq!(rig.model.form, kiosk::model::IntakeForm::default());
    assert!(rig.model.intake().is_none());
}

/// A TCP forwarder in front of the hub that can cut the line and restore it on the
/// same port: the kiosk sees a hub that goes away and comes back.
struct Line {
    addr: std::net::SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<tokio::sync::Notify>,
}

impl Line {
    async fn start(to: std::net::SocketAddr) -> Line {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = Arc::new(tokio::sync::Notify::new());
        let (u, c) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !u.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let c = c.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = c.notified() => {}
                    }
                });
            }
        });
        Line { addr, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.conns.notify_waiters();
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_hub_is_away_the_kiosk_says_so_and_recovers_by_itself() {
    let rig = Rig::start(config()).await;
    let hub_addr: std::net::SocketAddr = rig.hub.url.trim_start_matches("http://").parse().unwrap();
    let line = Line::start(hub_addr).await;
    let controller = Arc::new(
        kiosk::controller::Controller::new(
            protocol::HubClient::new(format!("http://{}", line.addr)),
            "kiosk-away",
            None,
        )
        .with_timeout(Duration::from_secs(2)),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let sink: kiosk::controller::Sink = Arc::new(move |o| {
        let _ = tx.send(o);
    });
    let opts = kiosk::feed::FeedOptions {
        min_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let follower = tokio::spawn(kiosk::feed::follow(
        controller.clone(),
        sink.clone(),
        opts,
        async move {
            let _ = stopped.await;
        },
    ));
    let mut m = kiosk::model::KioskModel::new(config());
    async fn wait(
        m: &mut kiosk::model::KioskModel,
        rx: &std::sync::mpsc::Receiver<Outcome>,
        want: HubState,
    ) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            while let Ok(o) = rx.try_recv() {
                m.apply(Input::Hub(o));
            }
            if m.hub == want {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "never {want:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    wait(&mut m, &rx, HubState::Live).await;
    assert!(m.can_issue());
    line.cut();
    wait(&mut m, &rx, HubState::Offline).await;
    // Plain words and no ticket promised; a tap does nothing but say so.
    assert_eq!(m.notice, Some(Notice::Offline));
    assert!(!m.can_issue());
    assert!(
        m.apply(Input::TakeTicket(ServiceType::Consultation))
            .is_empty()
    );
    // A tap that raced the outage: the hub call fails within the timeout, not for ever.
    let started = std::time::Instant::now();
    controller
        .run(
            kiosk::model::Effect::IssueTicket {
                service: ServiceType::Consultation,
                class: PriorityClass::Normal,
                origin: kiosk::model::Origin::Tap,
                lang: kiosk::Lang::ZhCn,
            },
            &sink,
        )
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    line.restore();
    wait(&mut m, &rx, HubState::Live).await;
    assert_eq!(m.notice, None, "the notice went away by itself");
    assert!(m.can_issue());
    let _ = stop.send(());
    follower.await.unwrap();
}

/// A plain HTTP/1.1 GET of `url` (`http://host:port/path`), as a phone scanning the QR
/// would do it: the status code and the body.
async fn open_link(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("an http link");
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap();
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_qr_on_the_ticket_opens_its_status_page() {
    let mut rig = Rig::start(config()).await;
    rig.act(Input::TakeTicket(ServiceType::Consultation)).await;
    assert_eq!(printed(&rig).await, PrintState::Printed);
    let ticket = rig.model.ticket.clone().unwrap().issued.ticket;
    let cat = rig.model.catalogue.clone().unwrap();
    assert_eq!(
        cat.status_base_url, None,
        "no headquarters: the hub serves it"
    );

    // GB/T 4.1.3: the link is the ticket's public page, keyed by its token, not its id.
    let url = rig.controller.status_url(&cat, &ticket);
    assert_eq!(
        url,
        format!("{}/s/test-centre/{}", rig.hub.url, ticket.status_token)
    );
    assert!(!ticket.status_token.is_empty());
    // The same link on the screen and on paper.
    assert_eq!(
        kiosk::controller::status_url(rig.controller.hub().base(), &cat, &ticket),
        url
    );
    let jobs = rig.jobs(1).await;
    assert!(contains(&jobs[0], &url), "the printed QR holds {url}");

    // Scanned, it opens: the page shows the ticket's number.
    let (status, page) = open_link(&url).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("<p id=number>{}</p>", ticket.number)),
        "{page}"
    );
    // The old link by ticket id is no way in.
    let (status, _) = open_link(&format!("{}/s/test-centre/{}", rig.hub.url, ticket.id)).await;
    assert_eq!(status, 404);

    // An intake's ticket and slip carry the same kind of link.
    rig.act(Input::Go(Screen::Home)).await;
    fill_intake(&mut rig, ServiceType::ReturnExchange).await;
    rig.act(Input::Confirm).await;
    assert_eq!(rig.model.screen, Screen::Accepted);
    let second = rig.model.ticket.clone().unwrap().issued.ticket;
    let url = rig.controller.status_url(&cat, &second);
    let jobs = rig.jobs(3).await;
    assert!(contains(&jobs[1], &url) && contains(&jobs[2], &url));
    let (status, page) = open_link(&url).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=stage"), "the request's stage is shown");
    assert!(!page.contains("5678"), "no phone on the public page");
}

#[test]
fn with_a_public_address_the_qr_points_at_headquarters() {
    let mut cat = kiosk::demo::catalogue();
    let ticket = protocol::TicketView {
        status_token: "k7q2mxabcdefghjkmnpq".into(),
        ..kiosk::demo::ticket("A012", ServiceType::Consultation, PriorityClass::Normal).ticket
    };
    assert_eq!(
        kiosk::controller::status_url("http://10.0.0.2:8470", &cat, &ticket),
        "http://10.0.0.2:8470/s/sh-pudong-001/k7q2mxabcdefghjkmnpq"
    );
    cat.status_base_url = Some("https://hq.example.com/".into());
    assert_eq!(
        kiosk::controller::status_url("http://10.0.0.2:8470", &cat, &ticket),
        "https://hq.example.com/s/sh-pudong-001/k7q2mxabcdefghjkmnpq"
    );
}
