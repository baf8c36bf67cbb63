//! Upstream sync throughput, printed in one run (run with `cargo bench -p servicehall-hq --bench sync_throughput`):
//!
//! 1. **hub → headquarters**: a hub whose outbox holds N events (a centre offline for a
//!    while) is started with headquarters reachable; the time until headquarters
//!    acknowledged everything gives events/s through the whole path (read the outbox,
//!    HTTP, COPY → staging → ON CONFLICT, mark sent).
//! 2. **raw**: the same events driven straight into headquarters' ingest function
//!    (`hq::ingest::store_batch`) in batches of the same size.
//! 3. their ratio (target ≥ 0.5).
//!
//! `-- --days 7` fills the outbox with a busy centre's week offline (over a million
//! events) and reports the catch-up time; `-- --events N` sets N directly (default
//! 200,000). PostgreSQL is a throwaway server started by the benchmark.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use domain::{Channel, PriorityClass, RequestStage, ServiceType};
use hq::testkit::TestHq;
use hub::testkit::{TestHub, config};
use protocol::HubEvent;
use protocol::sync::{IngestBatch, WireEvent};

const BATCH: usize = 1000;
/// A busy centre's day: about 3,000 visits, ~50 events each way in the outbox... see
/// `events_for_day` for the mix (about 150k events a day).
const TICKETS_PER_DAY: usize = 30_000;

fn events_for_day(day: u32, out: &mut Vec<(DateTime<Utc>, HubEvent)>, limit: usize) {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 30, 0)
        .single()
        .unwrap_or_default()
        + chrono::Duration::days(i64::from(day));
    out.push((
        start,
        HubEvent::DayOpened {
            day_id: i64::from(day) + 1,
            date: start.date_naive(),
        },
    ));
    let services = ServiceType::ALL;
    for t in 0..TICKETS_PER_DAY {
        if out.len() >= limit {
            return;
        }
        let id = i64::from(day) * TICKETS_PER_DAY as i64 + t as i64 + 1;
        let at = start + chrono::Duration::milliseconds(t as i64 * 1_400);
        let service = services[t % services.len()];
        let number = format!("A{:03}", t % 1000);
        let counter = (t % 8) as u32 + 1;
        let staff = Some(format!("s{counter:02}"));
        out.push((
            at,
            HubEvent::TicketIssued {
                ticket_id: id,
                number: number.clone(),
                service,
                class: PriorityClass::Normal,
                channel: Channel::OnSite,
                token: format!("{id:020}"),
            },
        ));
        out.push((
            at,
            HubEvent::TicketPrinted {
                ticket_id: id,
                number: number.clone(),
            },
        ));
        out.push((
            at + chrono::Duration::seconds(300),
            HubEvent::TicketCalled {
                ticket_id: id,
                number: number.clone(),
                service,
                counter,
                recall: false,
                staff_id: staff.clone(),
            },
        ));
        out.push((
            at + chrono::Duration::seconds(320),
            HubEvent::TicketStarted {
                ticket_id: id,
                number: number.clone(),
                counter,
            },
        ));
        out.push((
            at + chrono::Duration::seconds(600),
            HubEvent::TicketFinished {
                ticket_id: id,
                number,
                counter,
                service_secs: 280,
                staff_id: staff.clone(),
            },
        ));
        if t % 5 == 0 {
            out.push((
                at + chrono::Duration::seconds(660),
                HubEvent::RatingGiven {
                    rating_id: id,
                    ticket_id: Some(id),
                    request_id: None,
                    service,
                    score: (t % 5) as u8 + 1,
                    via: "kiosk".into(),
                    counter: Some(counter),
                    staff_id: staff,
                },
            ));
        }
        if t % 4 == 0 {
            out.push((
                at + chrono::Duration::seconds(400),
                HubEvent::RequestAdvanced {
                    request_id: id,
                    from: RequestStage::Acceptance,
                    to: RequestStage::Processing,
                    deadlines: None,
                },
            ));
        }
    }
}

fn generate(n: usize) -> Vec<(DateTime<Utc>, HubEvent)> {
    let mut out = Vec::with_capacity(n);
    let mut day = 0;
    while out.len() < n {
        events_for_day(day, &mut out, n);
        day += 1;
    }
    out.truncate(n);
    out
}

/// Writes `events` straight into a fresh hub database's outbox, unsent.
fn fill_outbox(db: &Path, events: &[(DateTime<Utc>, HubEvent)]) {
    let mut conn = hub::store::open_write_connection(db).unwrap_or_else(|e| panic!("{e}"));
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare(
                "INSERT INTO outbox (at, clock_synced, boot_id, mono_ms, kind, payload, epoch)
                 VALUES (?1, 1, 1, ?2, ?3, ?4, 0)",
            )
            .unwrap();
        for (i, (at, e)) in events.iter().enumerate() {
            stmt.execute(rusqlite::params![
                at,
                i as i64,
                e.kind(),
                serde_json::to_string(e).unwrap()
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn wire(events: &[(DateTime<Utc>, HubEvent)]) -> Vec<WireEvent> {
    events
        .iter()
        .enumerate()
        .map(|(i, (at, e))| WireEvent {
            seq: i as i64 + 1,
            at: *at,
            clock_synced: true,
            boot: 1,
            mono_ms: i as i64,
            kind: e.kind().to_owned(),
            payload: serde_json::to_value(e).unwrap(),
        })
        .collect()
}

fn arg(name: &str) -> Option<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n = match (arg("--days"), arg("--events")) {
        (Some(days), _) => {
            let mut probe = Vec::new();
            events_for_day(0, &mut probe, usize::MAX);
            probe.len() * days
        }
        (None, Some(n)) => n,
        (None, None) => 200_000,
    };
    println!("generating {n} events…");
    let events = generate(n);

    // 1. hub → headquarters.
    let hq = TestHq::start().await;
    let token = hq.add_centre("test-centre", "基准测试中心").await;
    let dir = tempfile::tempdir().unwrap().keep();
    let t = Instant::now();
    fill_outbox(&dir.join(hub::DB_FILE), &events);
    println!("outbox filled in {:.1} s", t.elapsed().as_secs_f64());
    let cfg = config(&format!(
        "[hq]\nurl = \"{}\"\ntoken = \"{token}\"\nbatch_size = {BATCH}\n",
        hq.url
    ));
    let started = Instant::now();
    let hub = TestHub::start_in(dir.clone(), cfg, false).await;
    let mut last_report = Instant::now();
    loop {
        let h = hub.client.health().await.unwrap();
        if h.sync.pending == 0 {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            println!(
                "  … {} pending ({:.0}%)",
                h.sync.pending,
                100.0 * (1.0 - h.sync.pending as f64 / n as f64)
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let end_to_end = started.elapsed();
    hub.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let stored: i64 = hq
        .pool()
        .get()
        .await
        .unwrap()
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, n, "headquarters holds every event once");

    // 2. The raw ingest path, same events, same batch size.
    let raw_hq = TestHq::start().await;
    raw_hq.add_centre("test-centre", "基准测试中心").await;
    let batches: Vec<IngestBatch> = wire(&events)
        .chunks(BATCH)
        .map(|chunk| IngestBatch {
            centre_id: "test-centre".into(),
            epoch: 0,
            events: chunk.to_vec(),
        })
        .collect();
    let mut pooled = raw_hq.pool().get().await.unwrap();
    let client: &mut tokio_postgres::Client = &mut pooled;
    let started = Instant::now();
    for batch in &batches {
        hq::ingest::store_batch(client, "test-centre", batch)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let raw = started.elapsed();

    let e2e_rate = rate(n, end_to_end);
    let raw_rate = rate(n, raw);
    println!("events                    {n}");
    println!(
        "hub outbox → hq           {:.1} s, {e2e_rate:.0} events/s",
        end_to_end.as_secs_f64()
    );
    println!(
        "raw COPY → ON CONFLICT    {:.1} s, {raw_rate:.0} events/s",
        raw.as_secs_f64()
    );
    println!(
        "ratio                     {:.2} (target ≥ 0.5)",
        e2e_rate / raw_rate
    );
}
