//! The real Slint UI, driven headlessly through Slint's testing backend (taps are the
//! elements' accessible default actions, typing is key events into the window), wired
//! to the real controller, a real hub on 127.0.0.1:0 and the printer simulator:
//! a tap makes a ticket and a print job; a whole intake is confirmed and saved; fees
//! must be acknowledged before paid work; an idle kiosk wipes what was typed.
//!
//! One test: Slint's platform and selected translation are per process.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{centre, contains, escpos, printer_sim, wait_jobs};
use domain::ServiceType;
use hub::testkit::TestHub;
use i_slint_backend_testing::ElementHandle;
use kiosk::app::{Backend, KioskApp};
use kiosk::controller::Controller;
use kiosk::feed::FeedOptions;
use kiosk::model::{Input, KioskModel, ModelConfig, Screen};
use kiosk::slint_ui::KioskWindow;
use slint::ComponentHandle;
use slint::platform::WindowEvent;

fn labels(app: &KioskApp, label: &str) -> Vec<ElementHandle> {
    ElementHandle::find_by_accessible_label(app.window(), label).collect()
}

/// Taps the element labelled `label` (the first enabled one).
fn tap(app: &KioskApp, label: &str) {
    let found = labels(app, label);
    let e = found
        .iter()
        .find(|e| e.accessible_enabled() != Some(false))
        .unwrap_or_else(|| {
            let all: Vec<String> = i_slint_backend_testing::ElementQuery::from_root(app.window())
                .find_all()
                .iter()
                .filter_map(|e| e.accessible_label().map(|l| l.to_string()))
                .filter(|l| !l.is_empty())
                .collect();
            panic!(
                "nothing to tap labelled `{label}` on {:?}; labels: {all:?}",
                app.model().screen
            )
        });
    e.invoke_accessible_default_action();
}

fn shows(app: &KioskApp, label: &str) -> bool {
    !labels(app, label).is_empty()
}

/// Types on a hardware keyboard (or a scanner).
fn keys(app: &KioskApp, text: &str) {
    for c in text.chars() {
        let text: slint::SharedString = c.to_string().into();
        app.window()
            .window()
            .dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
        app.window()
            .window()
            .dispatch_event(WindowEvent::KeyReleased { text });
    }
}

/// Applies results from the runtime until `cond` holds (10 s at most).
fn wait(app: &KioskApp, what: &str, cond: impl Fn(&KioskModel) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        app.pump();
        if cond(&app.model()) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; screen {:?}, notice {:?}",
            app.model().screen,
            app.model().notice
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_real_ui_drives_the_real_hub_and_printer() {
    i_slint_backend_testing::init_no_event_loop();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hub = rt.block_on(TestHub::start(centre()));
    let staff = rt.block_on(hub.login("sup", Some(1))).0;
    let (sim, _jobs) = printer_sim();
    let controller = Arc::new(Controller::new(
        hub.client.clone(),
        "kiosk-ui",
        Some(escpos(&sim)),
    ));
    let link = Backend::start(
        rt.handle(),
        controller,
        Some(FeedOptions {
            min_backoff: Duration::from_millis(50),
            ..FeedOptions::default()
        }),
        Arc::new(|| {}),
        std::future::pending(),
    );
    let window = KioskWindow::new().unwrap();
    window.show().unwrap();
    let app = KioskApp::new(window, ModelConfig::default(), link, false);
    app.tick();
    wait(&app, "the catalogue", |m| m.can_issue());

    // Chinese first: the home screen speaks it.
    assert!(shows(&app, "请选择服务"), "the home screen is in Chinese");
    tap(&app, "English");
    assert!(shows(&app, "Please choose a service"));

    // ---- tap a service → a ticket at the hub and a job at the printer (GB/T 4.1.1).
    tap(&app, "Consultation");
    wait(&app, "the printed ticket", |m| {
        m.ticket
            .as_ref()
            .is_some_and(|t| t.print == kiosk::model::PrintState::Printed)
    });
    let ticket = app.model().ticket.clone().unwrap().issued.ticket;
    assert!(shows(&app, &ticket.number), "the number is on screen");
    let at_hub = rt.block_on(hub.client.ticket(ticket.id)).unwrap();
    assert!(at_hub.printed);
    let jobs = rt.block_on(wait_jobs(&sim, 1));
    assert_eq!(jobs.len(), 1);
    assert!(contains(&jobs[0], &ticket.number));
    tap(&app, "Done");
    // Done: the next customer starts afresh, in the kiosk's own language.
    assert_eq!(app.model().screen, Screen::Home);
    assert!(shows(&app, "请选择服务"));
    tap(&app, "English");

    // ---- a whole intake, confirmed before it is saved (GB/T 6.1.2).
    tap(&app, "Complaint – Describe my request");
    assert_eq!(app.model().screen, Screen::Product);
    let category = app.model().categories()[0].name_en.clone();
    tap(&app, &category);
    tap(&app, "Model (optional)");
    keys(&app, "ab-100\n");
    // Enter moved on to the serial number.
    keys(&app, "sn42");
    tap(&app, "Next");
    assert_eq!(app.model().screen, Screen::Problem);
    let problem = app.model().problems()[0].text_en.clone();
    tap(&app, &problem);
    // Chinese on the on-screen keyboard: switch to pinyin, tap w-e-i-x-i-u, pick 维修.
    tap(&app, "In your own words (optional)");
    assert!(shows(&app, "Space"), "the keyboard is up");
    while app.model().key_mode != kiosk::model::KeyMode::Pinyin {
        let mode_key = ["拼音", "ABC", "123"]
            .into_iter()
            .find(|l| shows(&app, l))
            .unwrap();
        tap(&app, mode_key);
    }
    for k in ["w", "e", "i", "x", "i", "u"] {
        tap(&app, k);
    }
    assert!(
        shows(&app, "weixiu"),
        "the letters being composed are shown"
    );
    tap(&app, "维修");
    assert_eq!(app.model().text(kiosk::model::Field::Details), "维修");
    tap(&app, "Next");
    assert_eq!(app.model().screen, Screen::Contact);
    tap(&app, "Mobile phone (optional)");
    for d in "13812345678".chars() {
        tap(&app, &d.to_string());
    }
    tap(
        &app,
        "Call or message me about this request (result, follow-up)",
    );
    tap(&app, "Next");
    assert_eq!(app.model().screen, Screen::Summary);
    // The summary repeats the key points, the phone masked (GB/T 5.4.2).
    for shown in [
        "AB-100".to_owned(),
        "SN42".to_owned(),
        problem.clone(),
        "维修".to_owned(),
        "138****5678".to_owned(),
    ] {
        assert!(
            shows(&app, &shown) || shows(&app, &shown.to_lowercase()),
            "`{shown}` is on the summary"
        );
    }
    assert!(!shows(&app, "13812345678"));
    tap(&app, "Correct – submit");
    wait(&app, "the recorded request", |m| {
        m.screen == Screen::Accepted
            && m.ticket
                .as_ref()
                .is_some_and(|t| t.print == kiosk::model::PrintState::Printed)
    });
    let request = app.model().ticket.clone().unwrap().request.unwrap();
    let saved = rt.block_on(staff.request(request.id)).unwrap();
    assert_eq!(saved.service, ServiceType::Complaint);
    assert_eq!(saved.intake.details.as_deref(), Some("维修"));
    assert_eq!(saved.intake.model.as_deref(), Some("ab-100"));
    assert!(saved.contact.unwrap().consent.service_updates);
    assert_eq!(
        rt.block_on(wait_jobs(&sim, 3)).len(),
        3,
        "ticket and slip printed"
    );
    tap(&app, "Done");
    tap(&app, "English");

    // ---- paid work: the fee list must be acknowledged first (GB/T 4.2.3).
    tap(&app, "Repair – Describe my request");
    tap(&app, "Next");
    tap(&app, "In your own words (optional)");
    keys(&app, "it stopped");
    tap(&app, "Next");
    tap(&app, "Next");
    assert_eq!(app.model().screen, Screen::Fees);
    let fees = app.model().intake_service().unwrap().fees.clone();
    assert!(shows(&app, &fees[0].name_en), "the itemised list is shown");
    assert!(shows(&app, &fees[0].unit_price.to_string()));
    // Next is refused until the box is ticked.
    tap_even_disabled(&app, "Next");
    assert_eq!(app.model().screen, Screen::Fees);
    tap(&app, "I have read the fees above");
    tap(&app, "Next");
    assert_eq!(app.model().screen, Screen::Summary);
    assert!(shows(&app, "I have read the published fee list"));
    tap(&app, "Correct – submit");
    wait(&app, "the paid request", |m| m.screen == Screen::Accepted);
    let request = app.model().ticket.clone().unwrap().request.unwrap();
    let saved = rt.block_on(staff.request(request.id)).unwrap();
    assert_eq!(
        saved.fees_acknowledged.map(|a| a.digest),
        Some(
            app.model()
                .catalogue_service(ServiceType::Repair)
                .unwrap()
                .fee_digest
                .clone()
        )
    );
    tap(&app, "Done");
    tap(&app, "English");

    // ---- the idle wipe (GB/T 5.4.2): what was typed is gone.
    tap(&app, "Installation – Describe my request");
    tap(&app, "Model (optional)");
    keys(&app, "private-77");
    assert!(shows(&app, "PRIVATE-77") || shows(&app, "private-77｜"));
    app.input(Input::Tick {
        now: Instant::now() + Duration::from_secs(3600),
        utc: chrono::Utc::now(),
    });
    assert_eq!(app.model().screen, Screen::Home);
    assert!(shows(&app, "请选择服务"), "back to the default language");
    assert!(labels(&app, "private-77").is_empty() && labels(&app, "private-77｜").is_empty());
    tap(&app, "安装 – 先登记需求");
    assert_eq!(app.model().text(kiosk::model::Field::Model), "");
    drop(app);
    rt.block_on(hub.stop());
}

/// Invokes the default action even of a disabled element (which must then do nothing).
fn tap_even_disabled(app: &KioskApp, label: &str) {
    for e in labels(app, label) {
        e.invoke_accessible_default_action();
    }
}
