//! The status bar tells staff how the hub's sync to headquarters stands, from `/health`:
//! what waits, since when, and the last error, amber when it lags or fails, in the desk's
//! language. A real hub whose headquarters cannot be reached, the real Slint components on
//! Slint's testing backend. One test: the testing backend is per process.

mod common;

use std::time::{Duration, Instant};

use counter::adapter::{self, BlockingBridge, UiState};
use counter::slint_ui::{CounterWindow, Desk as DeskPage, LoginPage};
use counter::text::SyncLevel;
use counter::{Desk, DeskConfig, Devices};
use domain::{PriorityClass, ServiceType};
use hub::testkit::{TestHub, config};
use i_slint_backend_testing::ElementHandle;
use protocol::IssueTicket;
use slint::ComponentHandle;
use ui::Lang;

fn shown(w: &CounterWindow, label: &str) -> bool {
    ElementHandle::find_by_accessible_label(w, label)
        .next()
        .is_some()
}

#[test]
fn the_status_bar_shows_what_waits_for_headquarters() {
    i_slint_backend_testing::init_no_event_loop();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Headquarters at a port nobody listens on: every attempt fails.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cfg = config(&format!(
        "{}\n[hq]\nurl = \"http://127.0.0.1:{port}\"\ntoken = \"centre-token\"\n",
        common::STAFF
    ));
    let hub = rt.block_on(TestHub::start(cfg));
    let health = rt.block_on(async {
        hub.client
            .issue_ticket(&IssueTicket {
                service: ServiceType::Repair,
                class: PriorityClass::Normal,
                channel: domain::Channel::OnSite,
                device: Some("kiosk-1".into()),
            })
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let h = hub.client.health().await.unwrap();
            if h.sync.last_error.is_some() || Instant::now() > deadline {
                return h;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert!(health.sync.enabled);
    assert!(health.sync.pending > 0);
    assert!(health.sync.last_error.is_some(), "{:?}", health.sync);

    let w = CounterWindow::new().unwrap();
    w.show().unwrap();
    slint::select_bundled_translation("en").unwrap();
    let state = UiState::new(Lang::En, 5);
    let desk = Desk::new(
        DeskConfig::new(hub.url.clone(), 2, Lang::En),
        Devices {
            printer: None,
            terminal: None,
        },
    );
    let view = desk.view();
    adapter::fill_names(&w, &view, Lang::En);
    adapter::fill(&w, &view, &state);
    let bridge = BlockingBridge::new(desk, rt.handle().clone(), w.as_weak(), state.clone());
    adapter::install(&w, bridge.clone(), state.clone());
    let d = w.global::<DeskPage>();
    assert!(!d.get_sync_shown(), "nothing known before the hub answered");

    // Logged out, the station polls `/health`: the line appears at once.
    let h = rt.block_on(hub.client.health()).unwrap();
    adapter::set_sync(&w, h.sync, &state);
    assert!(d.get_sync_shown());

    let login = w.global::<LoginPage>();
    login.set_staff_id("tech".into());
    login.set_pin(hub::testkit::PIN.into());
    login.invoke_login();
    assert!(d.get_logged_in(), "{}", login.get_error());
    bridge.refresh_queue();

    // Amber: the last attempt failed; the error is shown, shortened.
    assert!(d.get_sync_shown());
    assert_eq!(d.get_sync_level(), SyncLevel::Late.code());
    let line = d.get_sync_text().to_string();
    assert!(line.starts_with("HQ sync: "), "{line}");
    assert!(line.contains(" pending, oldest "), "{line}");
    assert!(line.contains("; error: "), "{line}");
    assert!(line.chars().count() < 120, "{line}");
    assert!(shown(&w, &line), "the line is on screen");

    // In Chinese after the language switch.
    login.invoke_switch_language();
    let line = d.get_sync_text().to_string();
    assert!(line.starts_with("总部同步：待发 "), "{line}");
    assert!(
        line.contains("条，最早 ") && line.contains("；错误："),
        "{line}"
    );
    assert!(shown(&w, &line));
    drop(w);
    rt.block_on(hub.stop());
}
