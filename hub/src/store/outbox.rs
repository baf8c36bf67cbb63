//! The outbox: every business change's event, numbered by a per-hub sequence that is never
//! reused (`AUTOINCREMENT`), written in the change's own transaction. It feeds the
//! WebSocket stream (resume by sequence) and, later, the headquarters sync.

use chrono::{DateTime, Utc};
use protocol::{EventEnvelope, HubEvent};
use rusqlite::{Connection, params};

use super::{ClockStamp, StoreError};

pub(super) fn append(
    conn: &Connection,
    now: DateTime<Utc>,
    stamp: ClockStamp,
    event: HubEvent,
) -> Result<EventEnvelope, StoreError> {
    let payload = serde_json::to_string(&event).map_err(|e| StoreError::Internal(e.to_string()))?;
    let seq: i64 = conn
        .prepare_cached(
            "INSERT INTO outbox (at, clock_synced, boot_id, mono_ms, kind, payload)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING seq",
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

/// Up to `limit` events after `since`, in sequence order.
pub fn events_since(
    conn: &Connection,
    since: i64,
    limit: u32,
) -> Result<Vec<EventEnvelope>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, at, clock_synced, boot_id, mono_ms, payload FROM outbox
         WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![since, limit], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, DateTime<Utc>>(1)?,
            r.get::<_, bool>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, at, clock_synced, boot, mono_ms, payload) = row?;
        let event: HubEvent = serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("outbox event {seq}: {e}")))?;
        out.push(EventEnvelope {
            seq,
            at,
            clock_synced,
            boot,
            mono_ms,
            event,
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
