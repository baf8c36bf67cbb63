//! Backups (GB/T 5.6.2.2): taken from a busy hub without stalling it, verified, rotated,
//! restored into a stopped hub whose audit chain still verifies, and refused when
//! damaged or while the hub runs.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use hub::backup::{self, BackupError};
use protocol::IssueTicket;

fn ticket() -> IssueTicket {
    IssueTicket {
        service: domain::ServiceType::Consultation,
        class: domain::PriorityClass::Normal,
        channel: domain::Channel::OnSite,
        device: Some("kiosk-1".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backups_under_load_verify_rotate_and_restore() {
    let hub = TestHub::start(config("")).await;
    let db = hub.dir.join(hub::DB_FILE);
    let backups = hub.dir.join("usb-stick");
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let client = hub.client.clone();
        let stop = stop.clone();
        load.push(tokio::spawn(async move {
            let mut issued = 0u32;
            let mut slowest = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                client.issue_ticket(&ticket()).await.unwrap();
                slowest = slowest.max(t.elapsed());
                issued += 1;
            }
            (issued, slowest)
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut taken = Vec::new();
    for i in 0..3 {
        let (db, dir) = (db.clone(), backups.clone());
        let now = Utc::now() + chrono::Duration::seconds(i);
        let info = tokio::task::spawn_blocking(move || backup::backup_into(&db, &dir, now))
            .await
            .unwrap()
            .unwrap();
        assert!(info.bytes > 0);
        // Every finished backup is a sound hub database.
        backup::verify(&info.path).unwrap();
        taken.push(info);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut issued = 0;
    for task in load {
        let (n, slowest) = task.await.unwrap();
        issued += n;
        // Not a timing target (that lives in the benchmark): the hub kept answering.
        assert!(
            slowest < Duration::from_secs(5),
            "a ticket took {slowest:?}"
        );
    }
    assert!(
        issued > 20,
        "only {issued} tickets issued during the backups"
    );
    // No half-written file is ever left under a backup's name.
    assert_eq!(backup::list(&backups).unwrap().len(), 3);
    let removed = backup::rotate(&backups, 2).unwrap();
    assert_eq!(removed, vec![taken[0].path.clone()]);
    assert_eq!(backup::list(&backups).unwrap().len(), 2);

    // A restore is refused while the hub runs.
    let latest = taken[2].path.clone();
    assert!(matches!(
        backup::restore(&latest, &hub.dir),
        Err(BackupError::HubRunning(_))
    ));
    let dir = hub.stop().await;
    let in_backup: i64 = rusqlite::Connection::open(&latest)
        .unwrap()
        .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
        .unwrap();
    let restored = backup::restore(&latest, &dir).unwrap();
    assert!(restored.previous.as_ref().is_some_and(|p| p.exists()));
    assert!(restored.epoch > 0);

    let hub = TestHub::start_in(dir, config(""), true).await;
    let health = hub.client.health().await.unwrap();
    // Events from now on go in the new epoch (headquarters may hold other events under
    // the sequence numbers this older copy hands out next).
    assert_eq!(health.sync.epoch, restored.epoch);
    hub.client.issue_ticket(&ticket()).await.unwrap();
    let (sup, _) = hub.login("sup", Some(1)).await;
    let audit = sup.verify_audit().await.unwrap();
    assert!(
        audit.ok,
        "the restored hub's audit chain must verify: {audit:?}"
    );
    let dir = hub.stop().await;
    let now_stored: i64 = rusqlite::Connection::open(dir.join(hub::DB_FILE))
        .unwrap()
        .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
        .unwrap();
    assert_eq!(now_stored, in_backup + 1);
}

#[tokio::test]
async fn a_damaged_backup_is_refused_and_the_live_database_kept() {
    let hub = TestHub::start(config("")).await;
    hub.client.issue_ticket(&ticket()).await.unwrap();
    let db = hub.dir.join(hub::DB_FILE);
    let dir = hub.dir.join("backups-here");
    let info = backup::backup_into(&db, &dir, Utc::now()).unwrap();
    let data = hub.stop().await;

    // Flip bytes in the middle of the file: a failing USB stick. From the start of a
    // page (4 KiB), so the damage hits a page's header, whatever the number of pages.
    let mut bytes = std::fs::read(&info.path).unwrap();
    let mid = bytes.len() / 2 / 4096 * 4096;
    for b in &mut bytes[mid..mid + 2048] {
        *b ^= 0x5a;
    }
    let broken = dir.join("hub-broken.db");
    std::fs::write(&broken, &bytes).unwrap();
    assert!(backup::verify(&broken).is_err());
    let before = std::fs::read(data.join(hub::DB_FILE)).unwrap();
    assert!(backup::restore(&broken, &data).is_err());
    assert_eq!(std::fs::read(data.join(hub::DB_FILE)).unwrap(), before);

    // Something that is not a hub database at all.
    let other = dir.join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    assert!(matches!(
        backup::verify(&other),
        Err(BackupError::NotAHubDatabase(_))
    ));
}

#[tokio::test]
async fn two_hubs_cannot_share_a_data_directory() {
    let hub = TestHub::start(config("")).await;
    let second = hub::OpenHub::open(hub::HubOptions {
        data_dir: hub.dir.clone(),
        config: config(""),
        clock: None,
        open_day_on_start: false,
    })
    .await;
    assert!(matches!(
        second,
        Err(hub::HubError::Backup(BackupError::HubRunning(_)))
    ));
    hub.stop().await;
}
