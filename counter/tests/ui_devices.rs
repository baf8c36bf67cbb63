//! The Devices page (GB/T 5.4) on the real Slint components with Slint's testing backend,
//! as staff would use it: staff have no Devices tab; a supervisor sees the list without
//! the pairing form or a revoke button; an administrator types an id the hub would refuse
//! and is told why in both languages before the hub is asked, then makes a pairing code
//! and sees it with the fingerprint, the command and its QR; a revocation asks first,
//! Escape cancels it, and a confirmed one shows the hub's answer in its own words.
//! One test: the testing backend is per process.

mod common;

use common::window::{click, ctrl, press, shown, type_into};

use common::{ADMIN_PASSWORD, admin_staff};
use counter::adapter::{self, BlockingBridge, UiState};
use counter::slint_ui::{CounterWindow, Desk as DeskPage, DevicesPage};
use counter::{Desk, DeskConfig, Devices};
use hub::testkit::{TestHub, config};
use slint::platform::Key;
use slint::{ComponentHandle, Model};
use ui::Lang;

fn log_in(w: &CounterWindow, who: &str, secret: &str) {
    type_into(w, "Staff id", who);
    type_into(w, "PIN", secret);
    click(w, "Log in");
    let d = w.global::<DeskPage>();
    assert!(d.get_logged_in(), "{who}: {}", d.get_notice());
}

#[test]
fn the_devices_page_follows_the_role_and_asks_before_revoking() {
    i_slint_backend_testing::init_no_event_loop();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hub = rt.block_on(TestHub::start(config(&format!(
        "{}{}",
        common::STAFF,
        admin_staff()
    ))));

    let w = CounterWindow::new().unwrap();
    w.show().unwrap();
    slint::select_bundled_translation("en").unwrap();
    let state = UiState::new(Lang::En, 5);
    let desk = Desk::new(
        DeskConfig::new(hub.url.clone(), 2, Lang::En),
        Devices::default(),
    );
    let view = desk.view();
    adapter::fill_names(&w, &view, Lang::En);
    adapter::fill(&w, &view, &state);
    let bridge = BlockingBridge::new(desk, rt.handle().clone(), w.as_weak(), state.clone());
    adapter::install(&w, bridge.clone(), state.clone());
    let d = w.global::<DeskPage>();
    let page = w.global::<DevicesPage>();

    // Staff: no Devices tab, and Ctrl+7 does nothing.
    log_in(&w, "tech", "1234");
    assert_eq!(page.get_access(), 0);
    assert!(shown(&w, "New request"));
    assert!(!shown(&w, "Devices"));
    ctrl(&w, '7');
    assert_eq!(d.get_tab(), 0);
    click(&w, "Log out");

    // A supervisor: the list, no pairing form, no revoke button.
    log_in(&w, "sup", "1234");
    assert_eq!(page.get_access(), 1);
    click(&w, "Devices");
    assert_eq!(d.get_tab(), 6);
    assert!(shown(&w, "Enrolled devices"), "{}", d.get_notice());
    assert!(shown(&w, "No device is enrolled yet."));
    assert!(shown(&w, "only an administrator pairs or revokes devices"));
    assert!(!shown(&w, "Make pairing code"));
    assert!(!shown(&w, "Id of the new device"));
    assert_ne!(d.get_notice_level(), 3, "{}", d.get_notice());
    click(&w, "Log out");
    assert_eq!(d.get_tab(), 0);

    // An administrator: Ctrl+7 opens the page with the pairing form.
    log_in(&w, "boss", ADMIN_PASSWORD);
    assert_eq!(page.get_access(), 2);
    ctrl(&w, '7');
    assert_eq!(d.get_tab(), 6);
    assert!(shown(&w, "Make pairing code"));
    assert_eq!(page.get_roles().row_count(), 4);
    assert_eq!(
        page.get_roles().row_data(3).unwrap(),
        "SMS gateway (sms-gateway)"
    );

    // An id with a space: refused here, in both languages, and nothing is made.
    type_into(&w, "Id of the new device", "board 2");
    click(&w, "Make pairing code");
    assert!(!page.get_has_pairing());
    assert_eq!(d.get_notice_level(), 3);
    assert!(
        page.get_id_error()
            .starts_with("`board 2` is not a device id"),
        "{}",
        page.get_id_error()
    );
    assert!(
        page.get_id_error_other()
            .starts_with("“board 2”不能作设备编号"),
        "{}",
        page.get_id_error_other()
    );
    assert!(
        shown(&w, &page.get_id_error()),
        "the error is on the screen"
    );
    assert_eq!(page.get_device_id(), "board 2", "kept to be corrected");

    // Corrected: the code, big, with its expiry, the fingerprint, the command and its QR.
    page.set_role(2);
    type_into(&w, "Id of the new device", "board-2");
    click(&w, "Make pairing code");
    assert!(page.get_has_pairing(), "{}", d.get_notice());
    assert_eq!(page.get_id_error(), "");
    assert_eq!(page.get_device_id(), "", "the field is cleared");
    let code = page.get_code().to_string();
    assert!(shown(&w, &code), "the code is on the screen");
    assert_eq!(page.get_paired_device(), "board-2 (Board)");
    assert_eq!(page.get_fingerprint_a().row_count(), 8);
    assert_eq!(page.get_fingerprint_b().row_count(), 8);
    let fingerprint: Vec<String> = page
        .get_fingerprint_a()
        .iter()
        .chain(page.get_fingerprint_b().iter())
        .map(|g| g.to_string())
        .collect();
    let command = page.get_command().to_string();
    assert_eq!(
        command,
        format!(
            "servicehall enrol --hub {} --role board --id board-2 --code {code} --fingerprint {}",
            hub.url,
            fingerprint.join(":")
        )
    );
    assert!(page.get_command_qr().size().width > 100, "the QR is drawn");
    assert!(shown(&w, "QR code of the enrolment command"));
    assert!(
        page.get_valid_until().len() == 16,
        "YYYY-MM-DD HH:MM, the centre's time: {}",
        page.get_valid_until()
    );

    // Revoke asks first, in both languages; Escape cancels.
    page.invoke_revoke("board-2".into());
    assert!(page.get_confirming());
    assert!(shown(&w, "Revoke now"));
    assert!(
        page.get_confirm_text()
            .starts_with("board-2 loses its certificate"),
        "{}",
        page.get_confirm_text()
    );
    assert!(
        page.get_confirm_other().contains("吊销后，board-2"),
        "{}",
        page.get_confirm_other()
    );
    press(&w, Key::Escape.into());
    assert!(!page.get_confirming());
    assert!(!shown(&w, "Revoke now"));

    // Confirmed: the hub answers in its own words (this plain hub never enrolled it).
    page.invoke_revoke("board-2".into());
    click(&w, "Revoke now");
    assert!(!page.get_confirming());
    assert_eq!(d.get_notice_level(), 3);
    assert_eq!(
        d.get_notice(),
        "No device `board-2` was ever enrolled at this hub"
    );

    // Handed over: the code leaves the screen; so it does when the screen locks.
    click(&w, "Done: hide the code");
    assert!(!page.get_has_pairing());
    assert!(!shown(&w, &code));
    type_into(&w, "Id of the new device", "kiosk-3");
    click(&w, "Make pairing code");
    assert!(page.get_has_pairing(), "{}", d.get_notice());
    press(&w, Key::F12.into());
    assert!(d.get_locked());
    assert!(!page.get_has_pairing());
    assert_eq!(page.get_access(), 0);

    drop(bridge);
    rt.block_on(async move { hub.stop().await });
}
