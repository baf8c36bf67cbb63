//! The upstream sync as the tests observe it: a hub's outbox and headquarters' events as
//! `(epoch, seq) → (kind, payload)`, waiting until a hub has nothing pending upstream, and
//! the hub's `[hq]` configuration section.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use protocol::HubClient;
use serde_json::Value;

/// (epoch, seq) → (kind, payload).
pub(crate) type Events = BTreeMap<(i64, i64), (String, Value)>;

/// Every event in a hub's outbox, read from its database file (read-only).
pub(crate) fn hub_events(db: &Path) -> Events {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT epoch, seq, kind, payload FROM outbox ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        let payload: String = r.get(3)?;
        Ok((
            (r.get(0)?, r.get(1)?),
            (r.get(2)?, serde_json::from_str(&payload).unwrap()),
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Headquarters' events of one centre, one entry per stored row (so that a duplicate
/// shows in the count), in `(epoch, seq)` order.
pub(crate) async fn hq_event_rows(
    client: &tokio_postgres::Client,
    centre: &str,
) -> Vec<((i64, i64), (String, Value))> {
    client
        .query(
            "SELECT epoch, seq, kind, payload FROM events WHERE centre_id = $1 ORDER BY epoch, seq",
            &[&centre],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3))))
        .collect()
}

/// Headquarters' events of one centre.
pub(crate) async fn hq_events(client: &tokio_postgres::Client, centre: &str) -> Events {
    hq_event_rows(client, centre).await.into_iter().collect()
}

/// Waits (up to a minute) until the hub reports nothing pending upstream and no error.
pub(crate) async fn synced(client: &HubClient) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = client.health().await.unwrap();
        assert!(h.sync.enabled, "the hub does not sync upstream");
        if h.sync.pending == 0 && h.sync.last_error.is_none() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "still {} event(s) pending, last error {:?}",
            h.sync.pending,
            h.sync.last_error
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The hub's `[hq]` section: headquarters' `url`, the centre's `token`, then `extra`
/// lines (each ending in a line break).
pub(crate) fn hq_section(url: &str, token: &str, extra: &str) -> String {
    format!("[hq]\nurl = \"{url}\"\ntoken = \"{token}\"\n{extra}")
}
