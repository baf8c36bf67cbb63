//! Screenshots of the Devices page (GB/T 5.4) in Chinese and English, rendered headlessly
//! from a real session: the example centre's hub in mutual TLS mode with this station,
//! a kiosk, a board and a text-message gateway enrolled through the real enrolment path,
//! one old kiosk revoked, and an administrator who has just made a pairing code. Re-run to
//! refresh `docs/screenshots/counter-devices-*.png`:
//!
//!     cargo test -p servicehall-counter --test screenshots_devices -- --ignored
//!
//! A test binary of its own: the headless platform is per process, and this hub is not the
//! plain one of `screenshots.rs`.

mod common;

use common::{ADMIN_PASSWORD, SecureHub, admin_staff, enrol};
use counter::adapter::{self, BlockingBridge, UiState};
use counter::headless::HeadlessCounter;
use counter::options::WindowSize;
use counter::slint_ui::{Desk as DeskPage, DevicesPage, LoginPage};
use protocol::devices::DeviceRole;
use slint::ComponentHandle;
use ui::Lang;

#[test]
#[ignore = "writes docs/screenshots/counter-devices-*.png"]
fn screenshots_of_the_devices_page_in_both_languages() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let centre = common::example_centre_and(&admin_staff());
    let (hub, pairings) = rt.block_on(SecureHub::start(
        centre,
        2,
        &[
            (DeviceRole::Kiosk, "kiosk-1"),
            (DeviceRole::Kiosk, "kiosk-old"),
            (DeviceRole::Board, "board-hall"),
            (DeviceRole::SmsGateway, "sms-1"),
        ],
    ));
    rt.block_on(async {
        for p in &pairings {
            enrol(&hub.url, p).await;
        }
    });

    let screen = HeadlessCounter::new(WindowSize::MIN).unwrap();
    screen.set_lang(Lang::ZhCn).unwrap();
    let w = screen.ui();
    let state = UiState::new(Lang::ZhCn, 5);
    let d = hub.desk(Lang::ZhCn);
    let view = d.view();
    adapter::fill_names(w, &view, Lang::ZhCn);
    adapter::fill(w, &view, &state);
    let bridge = BlockingBridge::new(d, rt.handle().clone(), w.as_weak(), state.clone());
    adapter::install(w, bridge.clone(), state.clone());

    let shoot = |name: &str| common::window::shoot(&screen, &state, name);

    adapter::Bridge::send(&*bridge, counter::Command::Tick);
    let login = w.global::<LoginPage>();
    login.set_staff_id("boss".into());
    login.set_pin(ADMIN_PASSWORD.into());
    login.invoke_login();
    let desk = w.global::<DeskPage>();
    assert!(desk.get_logged_in(), "{}", login.get_error());

    // The old kiosk was replaced: revoked, after the question.
    desk.invoke_select_tab(6);
    let page = w.global::<DevicesPage>();
    assert_eq!(page.get_access(), 2);
    page.invoke_revoke("kiosk-old".into());
    assert!(page.get_confirming());
    page.invoke_confirm_revoke();
    assert!(!page.get_confirming(), "{}", desk.get_notice());

    // A new kiosk for the second entrance.
    page.set_role(0);
    page.set_device_id("kiosk-2".into());
    page.invoke_pair();
    assert!(page.get_has_pairing(), "{}", desk.get_notice());
    shoot("devices");

    // The question before a revocation.
    page.invoke_revoke("board-hall".into());
    assert!(page.get_confirming());
    shoot("devices-revoke");
    page.invoke_cancel_revoke();

    drop(bridge);
    rt.block_on(async move {
        let mut hub = hub;
        hub.stop().await;
    });
}
