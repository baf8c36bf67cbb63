//! Upstream sync between a real hub and a real headquarters (PostgreSQL started by the
//! test): every outbox event lands at headquarters exactly once, also after the hub is
//! restored from an older copy of its database, and no personal data travels
//! (GB/T 5.4.2).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use domain::{Channel, PriorityClass, ServiceType};
use hq::testkit::TestHq;
use hub::testkit::{TestHub, config};
use protocol::{HubClient, IssueTicket};

use common::sync::{Events, hq_section, hub_events, synced};

async fn issue(client: &HubClient, n: usize) {
    for i in 0..n {
        client
            .issue_ticket(&IssueTicket {
                service: if i % 2 == 0 {
                    ServiceType::Consultation
                } else {
                    ServiceType::Repair
                },
                class: PriorityClass::Normal,
                channel: Channel::OnSite,
                device: Some("kiosk-1".into()),
            })
            .await
            .unwrap();
    }
}

fn hub_config(hq: &TestHq, token: &str) -> hub::Config {
    config(&hq_section(&hq.url, token, "batch_size = 7\n"))
}

async fn hq_events(hq: &TestHq, centre: &str) -> Events {
    common::sync::hq_events(&hq.pool().get().await.unwrap(), centre).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_reaches_headquarters_exactly_once() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("test-centre", "测试服务中心").await;
    let hub = TestHub::start(hub_config(&hq, &token)).await;
    issue(&hub.client, 40).await;
    synced(&hub.client).await;
    let db = hub.dir.join(hub::DB_FILE);
    let dir = hub.stop().await;
    let ours = hub_events(&db);
    assert!(ours.len() >= 41, "{} events", ours.len());
    assert_eq!(hq_events(&hq, "test-centre").await, ours);
    // Restarted, the hub sends nothing twice and goes on from where it was.
    let hub = TestHub::start_in(dir, hub_config(&hq, &token), true).await;
    issue(&hub.client, 5).await;
    synced(&hub.client).await;
    hub.stop().await;
    let ours = hub_events(&db);
    assert_eq!(hq_events(&hq, "test-centre").await, ours);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_restored_from_an_older_copy_does_not_lose_new_events() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("test-centre", "测试服务中心").await;
    let hub = TestHub::start(hub_config(&hq, &token)).await;
    issue(&hub.client, 10).await;
    synced(&hub.client).await;

    // A hot copy of the database (what a backup holds), then more business.
    let db = hub.dir.join(hub::DB_FILE);
    let backup = hub.dir.join("backup.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
        .unwrap();
    issue(&hub.client, 15).await;
    synced(&hub.client).await;
    let dir = hub.stop().await;
    let lost_timeline = hub_events(&db);
    assert_eq!(hq_events(&hq, "test-centre").await, lost_timeline);

    // The disk dies; the hub comes back from the backup and works on.
    for f in ["hub.db-wal", "hub.db-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    std::fs::rename(&backup, &db).unwrap();
    let hub = TestHub::start_in(dir, hub_config(&hq, &token), true).await;
    issue(&hub.client, 12).await;
    synced(&hub.client).await;
    let epoch = hub.client.health().await.unwrap().sync.epoch;
    hub.stop().await;

    // The restored hub reused sequence numbers headquarters already held for other
    // events: its new events went in a new epoch, none was dropped as a "duplicate".
    assert_ne!(epoch, 0);
    let restored = hub_events(&db);
    let at_hq = hq_events(&hq, "test-centre").await;
    let new: Vec<_> = restored.keys().filter(|(e, _)| *e == epoch).collect();
    assert!(new.len() >= 12, "{} events in the new epoch", new.len());
    for (key, event) in &restored {
        assert_eq!(at_hq.get(key), Some(event), "event {key:?} at headquarters");
    }
    // Nothing headquarters had was lost either: both timelines are there, once.
    for (key, event) in &lost_timeline {
        assert_eq!(at_hq.get(key), Some(event));
    }
    assert_eq!(at_hq.len(), lost_timeline.len() + new.len());
}

fn intake(name: &str, phone: &str) -> protocol::KioskIntake {
    protocol::KioskIntake {
        service: ServiceType::Complaint,
        class: PriorityClass::Normal,
        intake: protocol::Intake {
            product: Some("洗衣机".into()),
            problem: Some("上门安装迟到".into()),
            ..Default::default()
        },
        contact: Some(protocol::Contact {
            name: Some(name.into()),
            phone: phone.into(),
            address: Some("北京市海淀区中关村大街1号".into()),
            consent: protocol::ContactConsent {
                service_updates: true,
                queue_sms: true,
            },
            lang: Some("zh".into()),
        }),
        fees_acknowledged: None,
        confirmed_by_customer: true,
        device: Some("kiosk-1".into()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn events_carry_no_personal_data() {
    let hq = TestHq::start().await;
    let token = hq.add_centre("test-centre", "测试服务中心").await;
    let hub = TestHub::start(hub_config(&hq, &token)).await;
    hub.client
        .intake(&intake("张三丰", "13912345678"))
        .await
        .unwrap();
    synced(&hub.client).await;
    hub.stop().await;
    let client = hq.pool().get().await.unwrap();
    let all: String = client
        .query_one(
            "SELECT coalesce(string_agg(payload::text, ' '), '') FROM events",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(all.contains("request_created"), "{all}");
    for secret in ["张三丰", "13912345678", "5678", "中关村"] {
        assert!(!all.contains(secret), "{secret} reached headquarters");
    }
}

/// GB/T 5.4, 5.6.2.2: once a customer's requests are closed and the retention period
/// has passed, their contact is erased on the hub, absent from new backups, and
/// headquarters gets the tombstone (and forgets the pseudonym's link).
#[tokio::test(flavor = "multi_thread")]
async fn retention_erases_personal_data_everywhere() {
    use domain::RequestStage;
    let hq = TestHq::start().await;
    let token = hq.add_centre("test-centre", "测试服务中心").await;
    let cfg = || {
        config(&format!(
            "[privacy]\nretention_days = 0\n{}",
            hq_section(&hq.url, &token, "")
        ))
    };
    let hub = TestHub::start(cfg()).await;
    let done = hub
        .client
        .intake(&intake("李四光", "13700001111"))
        .await
        .unwrap();
    let open = hub
        .client
        .intake(&intake("王五", "13600002222"))
        .await
        .unwrap();
    let (sup, _) = hub.login("sup", Some(1)).await;
    for to in [
        RequestStage::Processing,
        RequestStage::Reply,
        RequestStage::Archiving,
    ] {
        sup.advance_request(done.request.id, to).await.unwrap();
    }
    let dir = hub.stop().await;
    // The sweep runs when the hub starts (and hourly).
    let hub = TestHub::start_in(dir, cfg(), true).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let db = hub.dir.join(hub::DB_FILE);
    let erased = |db: &Path| -> Vec<(String, bool)> {
        let c = rusqlite::Connection::open(db).unwrap();
        let mut s = c
            .prepare("SELECT pseudonym, name IS NULL AND phone IS NULL AND address IS NULL FROM customers ORDER BY id")
            .unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    while !erased(&db)[0].1 {
        assert!(
            Instant::now() < deadline,
            "the closed customer was not erased"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let customers = erased(&db);
    assert!(customers[0].1, "closed and past retention: erased");
    assert!(!customers[1].1, "a customer with an open request is kept");
    let view = sup_view(&hub, open.request.id).await;
    assert!(view.contains("王") || view.contains("*"), "{view}");

    // A new backup holds nothing of the erased customer.
    let backups = hub.dir.join("retention-backups");
    let info = hub::backup::backup_into(&db, &backups, chrono::Utc::now()).unwrap();
    let bytes = std::fs::read(&info.path).unwrap();
    let found = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        !found("13700001111") && !found("李四光"),
        "erased data in a new backup"
    );
    assert!(found("13600002222"), "the kept customer is in the backup");

    // Headquarters got the tombstone and forgot the link.
    synced(&hub.client).await;
    hub.stop().await;
    hq.project().await;
    let pg = hq.pool().get().await.unwrap();
    let who = &customers[0].0;
    let tomb: i64 = pg
        .query_one(
            "SELECT count(*) FROM erasures WHERE centre_id = 'test-centre' AND customer = $1 AND reason = 'retention'",
            &[who],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tomb, 1);
    let linked: i64 = pg
        .query_one("SELECT count(*) FROM requests WHERE customer = $1", &[who])
        .await
        .unwrap()
        .get(0);
    assert_eq!(linked, 0);
}

async fn sup_view(hub: &TestHub, request: i64) -> String {
    let (sup, _) = hub.login("sup", Some(1)).await;
    format!("{:?}", sup.request(request).await.unwrap().contact)
}
