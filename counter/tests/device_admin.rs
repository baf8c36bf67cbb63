//! GB/T 5.4 device enrolment from the counter, through the desk controller without a
//! window: a supervisor sees the enrolled devices but the hub refuses them a pairing code;
//! an administrator makes one and gets the code, the CA fingerprint and the exact command
//! for the device; a device id the hub would refuse is caught before the hub is asked; a
//! revocation waits for its confirmation, then the hub refuses the device's next request.
//! Against the hub's testkit (plain HTTP) and a hub in mutual TLS mode where this station
//! and the new device really enrol.

mod common;

use common::{ADMIN_PASSWORD, SecureHub, admin_staff, audit, desk};
use counter::command::{self, Level, error_text};
use counter::desk::DeskError;
use counter::enrolment::Access;
use counter::{Command, Lang};
use hub::testkit::{TestHub, config};
use protocol::devices::{DeviceRole, valid_device_id};

async fn hub_with_admin() -> TestHub {
    TestHub::start(config(&format!("{}{}", common::STAFF, admin_staff()))).await
}

fn pairings_made(dir: &std::path::Path) -> usize {
    audit(dir)
        .iter()
        .filter(|(_, action, _)| action == "device_pairing_created")
        .count()
}

/// The value after `flag` in a command line.
fn arg<'a>(command: &'a str, flag: &str) -> &'a str {
    let mut words = command.split_whitespace();
    words.find(|w| *w == flag);
    words
        .next()
        .unwrap_or_else(|| panic!("no {flag} in `{command}`"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_the_list_but_the_hub_refuses_them_a_pairing_code() {
    let hub = hub_with_admin().await;

    // Staff have no Devices page, and the hub would not list the devices for them.
    let mut tech = desk(&hub.url, 3, None, None);
    tech.login("tech", "1234").await.unwrap();
    assert_eq!(tech.device_access(), Access::None);
    assert_eq!(tech.view().device_access, Access::None);
    match tech.load_devices().await.unwrap_err() {
        DeskError::Refused { status, detail, .. } => {
            assert_eq!(status, 403);
            assert_eq!(detail, "this needs a supervisor");
        }
        other => panic!("expected the hub's refusal, got {other:?}"),
    }

    // A supervisor: the list only.
    let mut sup = desk(&hub.url, 2, None, None);
    sup.login("sup", "1234").await.unwrap();
    assert_eq!(sup.view().device_access, Access::List);
    assert!(sup.load_devices().await.unwrap().is_empty());

    // A direct call (the button is hidden) gets the hub's own sentence, in both languages'
    // frames, and no code.
    let e = sup
        .pair_device(DeviceRole::Kiosk, "kiosk-2")
        .await
        .unwrap_err();
    assert!(matches!(e, DeskError::Refused { status: 403, .. }), "{e:?}");
    assert_eq!(error_text(&e, Lang::En), "This needs an administrator");
    assert_eq!(
        error_text(&e, Lang::ZhCn),
        "服务器拒绝：this needs an administrator"
    );
    let reply = command::handle(
        &mut sup,
        Command::PairDevice {
            role: DeviceRole::Kiosk,
            device_id: "kiosk-2".into(),
        },
    )
    .await;
    let notice = reply.notice.unwrap();
    assert_eq!(notice.level, Level::Error);
    assert_eq!(notice.text, "服务器拒绝：this needs an administrator");
    assert!(reply.clear.is_empty(), "the typed id stays");
    assert!(sup.view().pairing.is_none());
    assert_eq!(pairings_made(&hub.dir), 0);

    // Revoking is the administrator's too.
    sup.ask_revoke("kiosk-1").unwrap();
    let e = sup.confirm_revoke().await.unwrap_err();
    assert_eq!(error_text(&e, Lang::En), "This needs an administrator");
    assert_eq!(sup.revoking(), None, "the question is closed either way");

    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_gets_the_code_the_fingerprint_and_the_command() {
    let hub = hub_with_admin().await;
    let mut boss = desk(&hub.url, 2, None, None);
    boss.login("boss", ADMIN_PASSWORD).await.unwrap();
    assert_eq!(boss.view().device_access, Access::Manage);

    let before = chrono::Utc::now();
    let reply = command::handle(
        &mut boss,
        Command::PairDevice {
            role: DeviceRole::Board,
            device_id: "  board-2 ".into(),
        },
    )
    .await;
    let notice = reply.notice.unwrap();
    assert_eq!(notice.level, Level::Done, "{}", notice.text);
    assert!(notice.text.contains("board-2"), "{}", notice.text);
    assert!(notice.text.contains("显示屏"), "{}", notice.text);
    assert_eq!(reply.clear, vec![command::Clear::DeviceId]);

    let view = boss.view();
    let shown = view.pairing.as_ref().expect("the code is shown");
    let p = &shown.pairing;
    assert_eq!(
        (p.role, p.device_id.as_str()),
        (DeviceRole::Board, "board-2")
    );
    // Eight digits written 1234-5678, for a few minutes (`security.pairing_minutes`).
    let digits: String = p.code.chars().filter(|c| *c != '-').collect();
    assert_eq!(p.code.len(), 9, "{}", p.code);
    assert_eq!(p.code.chars().nth(4), Some('-'));
    assert!(digits.len() == 8 && digits.chars().all(|c| c.is_ascii_digit()));
    assert!(p.expires_at > before);
    assert!(p.expires_at <= chrono::Utc::now() + chrono::Duration::minutes(60));
    // The CA fingerprint: 16 groups of 4 hex digits, in two rows of eight on the screen.
    let groups: Vec<&str> = p.ca_fingerprint.split(':').collect();
    assert_eq!(groups.len(), 16);
    assert!(
        groups
            .iter()
            .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_hexdigit()))
    );
    let (a, b) = counter::enrolment::fingerprint_rows(&p.ca_fingerprint);
    assert_eq!((a.len(), b.len()), (8, 8));
    // The command the technician types, with this counter's hub.
    assert_eq!(
        shown.command,
        format!(
            "servicehall enrol --hub {} --role board --id board-2 --code {} --fingerprint {}",
            hub.url, p.code, p.ca_fingerprint
        )
    );
    assert_eq!(pairings_made(&hub.dir), 1);

    // GB/T 5.4: the code does not stay on a locked screen, nor for the next person.
    boss.lock();
    assert!(boss.view().pairing.is_none());
    assert_eq!(boss.view().device_access, Access::None, "locked");
    boss.unlock(ADMIN_PASSWORD).await.unwrap();
    boss.pair_device(DeviceRole::Kiosk, "kiosk-2")
        .await
        .unwrap();
    boss.load_devices().await.unwrap();
    boss.logout().await.unwrap();
    let view = boss.view();
    assert!(view.pairing.is_none() && view.enrolled.is_empty());
    assert_eq!(view.device_access, Access::None);

    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_id_the_hub_would_refuse_is_caught_before_asking_it() {
    let hub = hub_with_admin().await;
    let mut boss = desk(&hub.url, 2, None, None);
    boss.login("boss", ADMIN_PASSWORD).await.unwrap();

    for bad in ["kiosk 1", "柜台一", "", "   ", &"k".repeat(41), "kiosk/1"] {
        assert!(!valid_device_id(bad.trim()));
        match boss.pair_device(DeviceRole::Kiosk, bad).await {
            Err(DeskError::BadDeviceId(id)) => assert_eq!(id, bad.trim()),
            other => panic!("`{bad}` should be refused here, got {other:?}"),
        }
        assert_eq!(boss.view().bad_device_id.as_deref(), Some(bad.trim()));
    }
    assert_eq!(pairings_made(&hub.dir), 0, "the hub was never asked");

    // The refusal in both languages: the status line in the screen's, the field shows both.
    let reply = command::handle(
        &mut boss,
        Command::PairDevice {
            role: DeviceRole::Kiosk,
            device_id: "kiosk 1".into(),
        },
    )
    .await;
    let notice = reply.notice.unwrap();
    assert_eq!(notice.level, Level::Error);
    let (zh, en) = counter::enrolment::bad_id_text("kiosk 1");
    assert_eq!(notice.text, zh);
    assert!(zh.contains("“kiosk 1”") && zh.contains("1 至 40"), "{zh}");
    assert!(en.contains("`kiosk 1` is not a device id"), "{en}");
    assert_eq!(
        error_text(&DeskError::BadDeviceId("kiosk 1".into()), Lang::En),
        "`kiosk 1` is not a device id: use 1 to 40 letters, digits, '-' or '_'"
    );
    assert!(reply.clear.is_empty(), "the typed id stays to be corrected");
    assert_eq!(pairings_made(&hub.dir), 0);

    // Corrected: the hub is asked, and the error goes.
    boss.pair_device(DeviceRole::Kiosk, "kiosk-1")
        .await
        .unwrap();
    assert_eq!(boss.view().bad_device_id, None);
    assert_eq!(pairings_made(&hub.dir), 1);

    // Revoking a device the hub never enrolled: the hub's own sentence.
    boss.ask_revoke("kiosk-9").unwrap();
    let reply = command::handle(&mut boss, Command::ConfirmRevoke).await;
    let notice = reply.notice.unwrap();
    assert_eq!(notice.level, Level::Error);
    assert_eq!(
        notice.text,
        "服务器拒绝：no device `kiosk-9` was ever enrolled at this hub"
    );
    assert!(matches!(
        boss.ask_revoke("kiosk 9"),
        Err(DeskError::BadDeviceId(_))
    ));

    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_enrols_with_the_command_shown_and_is_refused_once_revoked() {
    let cfg = config(&format!("{}{}", common::STAFF, admin_staff()));
    let (mut hub, _) = SecureHub::start(cfg, 2, &[]).await;
    let mut boss = hub.desk(Lang::En);
    boss.login("boss", ADMIN_PASSWORD).await.unwrap();

    // This station is on the list, enrolled over mutual TLS.
    let list = boss.load_devices().await.unwrap().to_vec();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].device_id.as_str(), list[0].role),
        ("counter-2", DeviceRole::Counter)
    );
    assert!(list[0].revoked_at.is_none());

    // A new kiosk: the technician types exactly the command shown.
    let shown = boss
        .pair_device(DeviceRole::Kiosk, "kiosk-7")
        .await
        .unwrap()
        .clone();
    let c = &shown.command;
    assert_eq!(arg(c, "--hub"), hub.url);
    assert_eq!(
        arg(c, "--role").parse::<DeviceRole>(),
        Ok(DeviceRole::Kiosk)
    );
    assert_eq!(arg(c, "--id"), "kiosk-7");
    let kiosk_id = protocol::identity::enrol(
        arg(c, "--hub"),
        arg(c, "--code"),
        arg(c, "--fingerprint"),
        arg(c, "--id"),
        DeviceRole::Kiosk,
    )
    .await
    .expect("the device enrols with the command shown");
    let kiosk = protocol::HubClient::for_device(hub.url.clone(), Some(&kiosk_id)).unwrap();
    kiosk.catalogue().await.expect("the new kiosk is served");

    let list = boss.load_devices().await.unwrap().to_vec();
    let k = list.iter().find(|d| d.device_id == "kiosk-7").unwrap();
    assert_eq!(k.role, DeviceRole::Kiosk);
    assert!(k.revoked_at.is_none() && k.not_after > k.enrolled_at);

    // Revoke asks first: nothing happens until it is confirmed.
    let reply = command::handle(&mut boss, Command::AskRevoke("kiosk-7".into())).await;
    assert!(reply.notice.is_none());
    assert_eq!(boss.view().revoking.as_deref(), Some("kiosk-7"));
    command::handle(&mut boss, Command::CancelRevoke).await;
    assert_eq!(boss.view().revoking, None);
    kiosk.catalogue().await.expect("cancelled: still served");

    command::handle(&mut boss, Command::AskRevoke("kiosk-7".into())).await;
    let reply = command::handle(&mut boss, Command::ConfirmRevoke).await;
    let notice = reply.notice.unwrap();
    assert_eq!(notice.level, Level::Done, "{}", notice.text);
    assert_eq!(
        notice.text,
        "kiosk-7 is revoked: the hub refuses its next request."
    );
    let view = boss.view();
    assert_eq!(view.revoking, None);
    let k = view
        .enrolled
        .iter()
        .find(|d| d.device_id == "kiosk-7")
        .unwrap();
    assert!(k.revoked_at.is_some(), "the list was loaded again");
    assert!(
        view.enrolled
            .iter()
            .any(|d| d.device_id == "counter-2" && d.revoked_at.is_none())
    );
    assert!(
        kiosk.catalogue().await.is_err(),
        "the hub refuses the revoked device's next request"
    );

    // Nothing is waiting any more.
    let e = boss.confirm_revoke().await.unwrap_err();
    assert!(matches!(e, DeskError::Invalid(_)), "{e:?}");

    hub.stop().await;
}
