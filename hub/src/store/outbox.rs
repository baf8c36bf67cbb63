//! The outbox: every business change's event, numbered by a per-hub sequence that is never
//! reused (`AUTOINCREMENT`), written in the change's own transaction. It feeds the
//! WebSocket stream (resume by sequence) and, later, the headquarters sync.

use chrono::{DateTime, Utc};
use protocol::sync::{SyncStatus, WireEvent};
use protocol::{EventEnvelope, HubEvent};
use rusqlite::{Connection, params};

use super::{ClockStamp, StoreError, WriteCtx};

pub(super) fn append(
    conn: &Connection,
    now: DateTime<Utc>,
    stamp: ClockStamp,
    event: HubEvent,
) -> Result<EventEnvelope, StoreError> {
    let payload = serde_json::to_string(&event).map_err(|e| StoreError::Internal(e.to_string()))?;
    let seq: i64 = conn
        .prepare_cached(
            "INSERT INTO outbox (at, clock_synced, boot_id, mono_ms, kind, payload, epoch)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT epoch FROM sync_state WHERE id = 1)) RETURNING seq",
        )?
        .query_row(
            params![
                now,
                stamp.synced,
                stamp.boot,
                stamp.mono_ms,
                event.kind(),
                payload
            ],
            |r| r.get(0),
        )?;
    Ok(EventEnvelope {
        seq,
        at: now,
        clock_synced: stamp.synced,
        boot: stamp.boot,
        mono_ms: stamp.mono_ms,
        event,
    })
}

/// One outbox row as read back: the envelope's fields, the stored JSON and the epoch.
struct StoredRow {
    seq: i64,
    at: DateTime<Utc>,
    clock_synced: bool,
    boot: i64,
    mono_ms: i64,
    kind: String,
    payload: String,
    epoch: i64,
}

const ROW_COLUMNS: &str = "seq, at, clock_synced, boot_id, mono_ms, kind, payload, epoch";

fn stored_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok(StoredRow {
        seq: r.get(0)?,
        at: r.get(1)?,
        clock_synced: r.get(2)?,
        boot: r.get(3)?,
        mono_ms: r.get(4)?,
        kind: r.get(5)?,
        payload: r.get(6)?,
        epoch: r.get(7)?,
    })
}

impl StoredRow {
    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_str(&self.payload)
            .map_err(|e| StoreError::Corrupt(format!("outbox event {}: {e}", self.seq)))
    }
}

/// Up to `limit` events after `since`, in sequence order.
pub fn events_since(
    conn: &Connection,
    since: i64,
    limit: u32,
) -> Result<Vec<EventEnvelope>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![since, limit], stored_row)?;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        out.push(EventEnvelope {
            event: row.parse()?,
            seq: row.seq,
            at: row.at,
            clock_synced: row.clock_synced,
            boot: row.boot,
            mono_ms: row.mono_ms,
        });
    }
    Ok(out)
}

pub fn last_seq(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT coalesce(max(seq), 0) FROM outbox", [], |r| r.get(0))?)
}

pub fn unsent_count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM outbox WHERE sent_at IS NULL",
        [],
        |r| r.get(0),
    )?)
}

/// The oldest run of unsent events that share one epoch, at most `limit` of them, as they
/// go to headquarters. `None` when everything was acknowledged.
pub fn unsent_batch(
    conn: &Connection,
    limit: u32,
) -> Result<Option<(i64, Vec<WireEvent>)>, StoreError> {
    let first_epoch: Option<i64> = conn
        .prepare_cached("SELECT epoch FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 1")?
        .query_row([], |r| r.get(0))
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    let Some(epoch) = first_epoch else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], stored_row)?;
    let mut events = Vec::new();
    for row in rows {
        let row = row?;
        if row.epoch != epoch {
            break;
        }
        events.push(WireEvent {
            payload: row.parse()?,
            seq: row.seq,
            at: row.at,
            clock_synced: row.clock_synced,
            boot: row.boot,
            mono_ms: row.mono_ms,
            kind: row.kind,
        });
    }
    Ok(Some((epoch, events)))
}

/// Headquarters acknowledged `(epoch, seq <= up_to)`: those events are sent. Only events
/// that were in the batch (`seq <= sent_max`) are marked, whatever headquarters claims.
pub fn mark_sent(
    ctx: &WriteCtx<'_>,
    epoch: i64,
    up_to: i64,
    sent_max: i64,
) -> Result<usize, StoreError> {
    let limit = up_to.min(sent_max);
    let n = ctx.conn.execute(
        "UPDATE outbox SET sent_at = ?1 WHERE sent_at IS NULL AND epoch = ?2 AND seq <= ?3",
        params![ctx.now, epoch, limit],
    )?;
    ctx.conn.execute(
        "UPDATE sync_state SET last_success_at = ?1, last_error = NULL, last_error_at = NULL WHERE id = 1",
        params![ctx.now],
    )?;
    Ok(n)
}

/// Headquarters holds different events under this hub's sequence numbers from `from_seq`
/// on: this database is an older copy (a restored backup). New events, and every unsent
/// one from `from_seq` on, move to a fresh epoch so they can never be taken for
/// duplicates. Returns the new epoch.
pub fn start_new_epoch(ctx: &mut WriteCtx<'_>, from_seq: i64) -> Result<i64, StoreError> {
    let old: i64 = ctx
        .conn
        .query_row("SELECT epoch FROM sync_state WHERE id = 1", [], |r| {
            r.get(0)
        })?;
    // Milliseconds since 1970, and always past the old one: two restores of the same
    // backup (each finding its own conflict) still end in different epochs.
    let epoch = ctx.now.timestamp_millis().max(old + 1);
    ctx.conn.execute(
        "UPDATE sync_state SET epoch = ?1 WHERE id = 1",
        params![epoch],
    )?;
    let moved = ctx.conn.execute(
        "UPDATE outbox SET epoch = ?1 WHERE sent_at IS NULL AND seq >= ?2",
        params![epoch, from_seq],
    )?;
    ctx.audit(
        &super::Actor::system(),
        "sync_new_epoch",
        &format!(
            "headquarters holds other events from sequence {from_seq}: this database is an older copy; \
             {moved} unsent event(s) moved from epoch {old} to {epoch}"
        ),
    )?;
    Ok(epoch)
}

/// Remembers a failed attempt for the health endpoint.
pub fn record_sync_error(ctx: &WriteCtx<'_>, error: &str) -> Result<(), StoreError> {
    ctx.conn.execute(
        "UPDATE sync_state SET last_error = ?1, last_error_at = ?2 WHERE id = 1",
        params![error, ctx.now],
    )?;
    Ok(())
}

/// Pending events and the last outcomes (`enabled` is the caller's to set).
pub fn sync_status(conn: &Connection) -> Result<SyncStatus, StoreError> {
    let (pending, oldest): (i64, Option<DateTime<Utc>>) = conn.query_row(
        "SELECT count(*), min(at) FROM outbox WHERE sent_at IS NULL",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let (epoch, last_success_at, last_error, last_error_at) = conn.query_row(
        "SELECT epoch, last_success_at, last_error, last_error_at FROM sync_state WHERE id = 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    Ok(SyncStatus {
        enabled: false,
        pending,
        oldest_pending_at: oldest,
        last_success_at,
        last_error,
        last_error_at,
        epoch,
    })
}

/// After a restore from a backup: events written from now on go in a new epoch, so
/// headquarters (which may hold other events under the sequence numbers this older copy
/// will hand out next) never takes them for duplicates. Unsent events already in the
/// backup keep their epoch: they are the very events headquarters may already hold.
/// Audited. Returns the new epoch.
pub fn epoch_after_restore(
    db: &std::path::Path,
    backup: &std::path::Path,
) -> Result<i64, StoreError> {
    let mut conn = super::open_write_connection(db)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = Utc::now();
    let old: i64 = tx.query_row("SELECT epoch FROM sync_state WHERE id = 1", [], |r| {
        r.get(0)
    })?;
    let epoch = now.timestamp_millis().max(old + 1);
    tx.execute(
        "UPDATE sync_state SET epoch = ?1 WHERE id = 1",
        params![epoch],
    )?;
    super::audit::append(
        &tx,
        now,
        &super::Actor::system(),
        "restore",
        &format!(
            "restored from {}; new events continue in epoch {epoch} (was {old})",
            backup.display()
        ),
    )?;
    tx.commit()?;
    Ok(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    fn append_n(conn: &Connection, n: usize) {
        let stamp = ClockStamp {
            synced: true,
            boot: 1,
            mono_ms: 0,
        };
        for i in 0..n {
            append(
                conn,
                Utc::now(),
                stamp,
                HubEvent::DeviceAlert {
                    device: format!("kiosk-{i}"),
                    kind: protocol::AlertKind::PrinterFault,
                    active: true,
                },
            )
            .unwrap();
        }
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Store::open(&dir.path().join("hub.db"), crate::store::Clock::new(true)).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn acknowledged_events_are_marked_only_up_to_what_was_sent() {
        let (_dir, store) = store().await;
        store
            .write(|ctx| {
                append_n(ctx.conn, 10);
                Ok(())
            })
            .await
            .unwrap();
        let (epoch, batch) = store.read(|c| unsent_batch(c, 4)).await.unwrap().unwrap();
        assert_eq!(epoch, 0);
        assert_eq!(
            batch.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(batch[0].kind, "device_alert");
        assert_eq!(batch[0].payload["type"], "device_alert");
        // Headquarters claims more than we sent (another copy of us sent it): we only
        // mark what this batch carried.
        let marked = store
            .write(move |ctx| mark_sent(ctx, epoch, 9, 4))
            .await
            .unwrap();
        assert_eq!(marked, 4);
        let status = store.read(sync_status).await.unwrap();
        assert_eq!(status.pending, 6);
        assert!(status.last_success_at.is_some());
        let (_, next) = store.read(|c| unsent_batch(c, 100)).await.unwrap().unwrap();
        assert_eq!(next.first().map(|e| e.seq), Some(5));
        assert_eq!(next.len(), 6);
    }

    #[tokio::test]
    async fn a_conflict_moves_unsent_events_and_new_ones_to_a_new_epoch() {
        let (_dir, store) = store().await;
        store
            .write(|ctx| {
                append_n(ctx.conn, 6);
                Ok(())
            })
            .await
            .unwrap();
        store.write(|ctx| mark_sent(ctx, 0, 3, 3)).await.unwrap();
        let epoch = store.write(|ctx| start_new_epoch(ctx, 5)).await.unwrap();
        assert!(epoch > 0);
        // Event 4 stays in epoch 0 (headquarters had no other event 4); 5 and 6 move.
        let (e, batch) = store.read(|c| unsent_batch(c, 100)).await.unwrap().unwrap();
        assert_eq!((e, batch.len()), (0, 1));
        assert_eq!(batch[0].seq, 4);
        store.write(|ctx| mark_sent(ctx, 0, 4, 4)).await.unwrap();
        store
            .write(|ctx| {
                append_n(ctx.conn, 1);
                Ok(())
            })
            .await
            .unwrap();
        let (e, batch) = store.read(|c| unsent_batch(c, 100)).await.unwrap().unwrap();
        assert_eq!(e, epoch);
        assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6, 7]);
        assert_eq!(store.read(sync_status).await.unwrap().epoch, epoch);
        // A sent event can never move epoch, nor be "unsent".
        let refused = store
            .write(|ctx| {
                ctx.conn
                    .execute("UPDATE outbox SET epoch = 99 WHERE seq = 1", [])?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("keeps its epoch"), "{refused}");
        let refused = store
            .write(|ctx| {
                ctx.conn
                    .execute("UPDATE outbox SET sent_at = NULL WHERE seq = 1", [])?;
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("stays acknowledged"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn a_second_conflict_never_reuses_an_epoch() {
        let (_dir, store) = store().await;
        store
            .write(|ctx| {
                append_n(ctx.conn, 2);
                Ok(())
            })
            .await
            .unwrap();
        let a = store.write(|ctx| start_new_epoch(ctx, 1)).await.unwrap();
        let b = store.write(|ctx| start_new_epoch(ctx, 1)).await.unwrap();
        assert!(b > a && a > 0);
    }
}
