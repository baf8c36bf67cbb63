//! The raw rate of headquarters' ingest path (COPY into staging, digest comparison,
//! INSERT .. ON CONFLICT DO NOTHING, commit), driven directly through
//! `hq::ingest::store_batch` against a throwaway PostgreSQL: no HTTP, no JSON body.
//! The hub-to-headquarters end-to-end bench compares against this figure.
//!
//! `cargo bench -p servicehall-hq --bench ingest`
//! (`HQ_BENCH_EVENTS`, default 200000; `HQ_BENCH_BATCH`, default 1000). Also prints the
//! projector's rate over the same events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use domain::{Channel, PriorityClass, ServiceType};
use hq::testkit::{TestPg, wire_event};
use protocol::HubEvent;
use protocol::sync::{IngestBatch, WireEvent};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A day's mix: issue, call, start, finish for each ticket.
fn event(seq: i64) -> WireEvent {
    let t0 = Utc.with_ymd_and_hms(2025, 3, 3, 1, 0, 0).unwrap();
    let ticket_id = seq / 4 + 1;
    let number = format!("A{:03}", ticket_id % 1000);
    let e = match seq % 4 {
        0 => HubEvent::TicketIssued {
            ticket_id,
            number,
            service: ServiceType::Repair,
            class: PriorityClass::Normal,
            channel: Channel::OnSite,
            token: format!("{:032x}", seq * 7919),
        },
        1 => HubEvent::TicketCalled {
            ticket_id,
            number,
            service: ServiceType::Repair,
            counter: 3,
            recall: false,
            staff_id: Some("staff-7".into()),
        },
        2 => HubEvent::TicketStarted {
            ticket_id,
            number,
            counter: 3,
        },
        _ => HubEvent::TicketFinished {
            ticket_id,
            number,
            counter: 3,
            service_secs: 420,
            staff_id: Some("staff-7".into()),
        },
    };
    wire_event(seq, t0 + Duration::milliseconds(seq * 250), &e)
}

fn main() {
    let total = env_or("HQ_BENCH_EVENTS", 200_000);
    let per_batch = env_or("HQ_BENCH_BATCH", 1000).clamp(1, hq::ingest::MAX_EVENTS);
    let pg = TestPg::start();
    let url = pg.fresh_database();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = hq::db::pool(&url).unwrap();
        let mut client = pool.get().await.unwrap();
        hq::migrate::migrate(&mut client).await.unwrap();
        let plain: &tokio_postgres::Client = &client;
        hq::centres::add_centre(plain, "bench", "Bench", 480)
            .await
            .unwrap();
        let batches: Vec<IngestBatch> = (0..total as i64)
            .collect::<Vec<_>>()
            .chunks(per_batch)
            .map(|seqs| IngestBatch {
                centre_id: "bench".into(),
                epoch: 1,
                events: seqs.iter().map(|s| event(s + 1)).collect(),
            })
            .collect();

        for (label, expect_new) in [("new events", true), ("resent (all duplicates)", false)] {
            let start = Instant::now();
            let mut stored = 0u64;
            for b in &batches {
                let ack = hq::ingest::store_batch(&mut client, "bench", b)
                    .await
                    .unwrap();
                assert_eq!(ack.conflict_from, None);
                stored += if expect_new { ack.inserted } else { ack.duplicates };
            }
            let secs = start.elapsed().as_secs_f64();
            assert_eq!(stored, total as u64);
            println!(
                "ingest {label}: {total} events in batches of {per_batch}: {secs:.2} s, {:.0} events/s, {:.1} ms per batch",
                total as f64 / secs,
                secs * 1000.0 / batches.len() as f64
            );
        }

        // For comparison: how fast the projector turns those events into tickets.
        drop(client);
        let start = Instant::now();
        let applied = hq::projector::catch_up(&pool).await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(applied, total as u64);
        println!(
            "projector: {applied} events in {secs:.2} s, {:.0} events/s",
            applied as f64 / secs
        );
    });
    drop(pg);
}
