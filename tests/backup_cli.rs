//! `servicehall backup` and `servicehall restore` (GB/T 5.6.2.2) as an operator runs them:
//! a backup taken from a running hub, a restore refused while it runs and done once it
//! has stopped, after which the hub starts on the restored data.

use std::path::Path;
use std::process::{Command, Output};

use hub::testkit::{TestHub, config};
use protocol::IssueTicket;

fn servicehall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servicehall"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn ticket() -> IssueTicket {
    IssueTicket {
        service: domain::ServiceType::Repair,
        class: domain::PriorityClass::Normal,
        channel: domain::Channel::OnSite,
        device: None,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn back_up_a_running_hub_then_restore_it_once_stopped() {
    let hub = TestHub::start(config("")).await;
    for _ in 0..3 {
        hub.client.issue_ticket(&ticket()).await.unwrap();
    }
    let usb = hub.dir.join("usb");
    let out = servicehall(&["backup", "--data-dir", s(&hub.dir), "--to", s(&usb)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("verified"), "{}", text(&out));
    let backups = hub::backup::list(&usb).unwrap();
    assert_eq!(backups.len(), 1);
    hub.client.issue_ticket(&ticket()).await.unwrap();

    let out = servicehall(&["restore", s(&backups[0]), "--data-dir", s(&hub.dir)]);
    assert!(
        !out.status.success(),
        "a restore under a running hub must be refused"
    );
    assert!(
        text(&out).contains("stop it before restoring"),
        "{}",
        text(&out)
    );

    let dir = hub.stop().await;
    let out = servicehall(&["restore", s(&backups[0]), "--data-dir", s(&dir)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("epoch"), "{}", text(&out));

    let hub = TestHub::start_in(dir, config(""), true).await;
    // The fourth ticket was after the backup: the restored hub numbers D004 again.
    let next = hub.client.issue_ticket(&ticket()).await.unwrap();
    assert_eq!(next.ticket.number, "D004");
    hub.stop().await;
}
