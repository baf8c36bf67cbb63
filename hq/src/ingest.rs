//! Exactly-once ingest of a hub's outbox batch: one transaction per batch, the batch
//! COPYed into a temporary staging table, compared with what is already held under the
//! same `(centre_id, epoch, seq)` and inserted with `ON CONFLICT DO NOTHING`. The answer
//! is given only after the commit, so an acknowledged event is durable.
//!
//! Batches of one centre are taken one at a time (a transaction-scoped advisory lock), so
//! events' ingest order (`events.received`) is the order in which they became visible:
//! the projector can follow it without missing a late commit.
//!
//! Never trusts the batch: sizes, order and kinds are checked before anything is written.

use chrono::SecondsFormat;
use protocol::sync::{IngestAck, IngestBatch, WireEvent};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;

/// The most events one batch may carry (the hub sends at most 5000).
pub const MAX_EVENTS: usize = 5000;
/// The largest payload one event may carry, as canonical JSON.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// The request body limit: 5000 ordinary events fit with a wide margin.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
const MAX_KIND_BYTES: usize = 64;

/// Why a batch was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The batch itself is wrong: the hub must not send it again unchanged.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
}

fn invalid(code: &'static str, message: impl Into<String>) -> IngestError {
    IngestError::Invalid {
        code,
        message: message.into(),
    }
}

/// Checks a batch's shape and returns each event's digest, in batch order.
pub fn validate(batch: &IngestBatch) -> Result<Vec<[u8; 32]>, IngestError> {
    if !crate::centres::valid_centre_id(&batch.centre_id) {
        return Err(invalid("bad_centre_id", "centre_id is empty or malformed"));
    }
    if batch.epoch < 0 {
        return Err(invalid("bad_epoch", "epoch must not be negative"));
    }
    if batch.events.len() > MAX_EVENTS {
        return Err(invalid(
            "batch_too_large",
            format!(
                "a batch carries at most {MAX_EVENTS} events, this one {}",
                batch.events.len()
            ),
        ));
    }
    let mut previous: Option<i64> = None;
    let mut digests = Vec::with_capacity(batch.events.len());
    for e in &batch.events {
        if e.seq < 1 {
            return Err(invalid(
                "bad_seq",
                format!("sequence {} is not positive", e.seq),
            ));
        }
        if let Some(p) = previous
            && e.seq <= p
        {
            return Err(invalid(
                "seq_order",
                format!(
                    "events must be in strictly increasing sequence order: {} follows {p}",
                    e.seq
                ),
            ));
        }
        previous = Some(e.seq);
        if e.kind.is_empty()
            || e.kind.len() > MAX_KIND_BYTES
            || !e
                .kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(invalid(
                "bad_kind",
                format!(
                    "event {}: the kind must be 1 to {MAX_KIND_BYTES} of a-z, 0-9 and _",
                    e.seq
                ),
            ));
        }
        let Value::Object(map) = &e.payload else {
            return Err(invalid(
                "bad_payload",
                format!("event {}: the payload must be a JSON object", e.seq),
            ));
        };
        if let Some(tag) = map.get("type")
            && tag.as_str() != Some(e.kind.as_str())
        {
            return Err(invalid(
                "bad_payload",
                format!(
                    "event {}: the payload's type does not match its kind `{}`",
                    e.seq, e.kind
                ),
            ));
        }
        let digest = event_digest(e).ok_or_else(|| {
            invalid(
                "payload_too_large",
                format!(
                    "event {}: the payload is larger than {MAX_PAYLOAD_BYTES} bytes",
                    e.seq
                ),
            )
        })?;
        digests.push(digest);
    }
    Ok(digests)
}

/// SHA-256 over the kind, the time in RFC 3339 and the payload's canonical JSON (object
/// keys sorted, no spaces), separated by NUL bytes. `None` when the payload is too large.
pub fn event_digest(e: &WireEvent) -> Option<[u8; 32]> {
    let mut json = Vec::with_capacity(256);
    canonical_json(&e.payload, &mut json);
    if json.len() > MAX_PAYLOAD_BYTES {
        return None;
    }
    let mut h = Sha256::new();
    h.update(e.kind.as_bytes());
    h.update([0]);
    h.update(e.at.to_rfc3339_opts(SecondsFormat::AutoSi, true).as_bytes());
    h.update([0]);
    h.update(&json);
    Some(h.finalize().into())
}

/// Writes `v` as canonical JSON: object keys in byte order, whatever the map type
/// `serde_json` was built with, so two equal payloads always give the same bytes.
pub fn canonical_json(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push(b'{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(k, out);
                out.push(b':');
                if let Some(item) = map.get(k) {
                    canonical_json(item, out);
                }
            }
            out.push(b'}');
        }
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // serde_json's string escaping cannot fail on a `&str`.
    match serde_json::to_vec(s) {
        Ok(bytes) => out.extend_from_slice(&bytes),
        Err(_) => out.extend_from_slice(b"\"\""),
    }
}

const STAGING: &str = "SET LOCAL client_min_messages = warning;
    CREATE TEMP TABLE IF NOT EXISTS ingest_staging (
        seq          bigint NOT NULL,
        at           timestamptz NOT NULL,
        clock_synced boolean NOT NULL,
        boot         bigint NOT NULL,
        mono_ms      bigint NOT NULL,
        kind         text NOT NULL,
        payload      jsonb NOT NULL,
        digest       bytea NOT NULL
    ) ON COMMIT DELETE ROWS";

/// Stores `batch` for `centre` (already authenticated; must equal `batch.centre_id`) in
/// one transaction and returns the acknowledgement to send after the commit.
pub async fn store_batch(
    client: &mut Client,
    centre: &str,
    batch: &IngestBatch,
) -> Result<IngestAck, IngestError> {
    if centre != batch.centre_id {
        return Err(invalid(
            "wrong_centre",
            "the batch is for another centre than the token's",
        ));
    }
    let digests = validate(batch)?;
    let epoch = batch.epoch;
    let tx = client.transaction().await?;
    // One batch per centre at a time: ingest order is commit order (see the module doc).
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('ingest/' || $1, 0))",
        &[&centre],
    )
    .await?;
    let before: i64 = tx
        .query_one(
            "SELECT coalesce(max(seq), 0) FROM events WHERE centre_id = $1 AND epoch = $2",
            &[&centre, &epoch],
        )
        .await?
        .try_get(0)?;
    let (Some(first), Some(last_seq)) = (batch.events.first(), batch.events.last().map(|e| e.seq))
    else {
        tx.commit().await?;
        return Ok(IngestAck {
            centre_id: centre.to_owned(),
            epoch,
            high_water: before,
            inserted: 0,
            duplicates: 0,
            conflict_from: None,
        });
    };
    tx.batch_execute(STAGING).await?;
    let sink = tx
        .copy_in(
            "COPY ingest_staging (seq, at, clock_synced, boot, mono_ms, kind, payload, digest) \
             FROM STDIN (FORMAT binary)",
        )
        .await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::TIMESTAMPTZ,
            Type::BOOL,
            Type::INT8,
            Type::INT8,
            Type::TEXT,
            Type::JSONB,
            Type::BYTEA,
        ],
    );
    let mut writer = std::pin::pin!(writer);
    for (e, digest) in batch.events.iter().zip(&digests) {
        writer
            .as_mut()
            .write(&[
                &e.seq,
                &e.at,
                &e.clock_synced,
                &e.boot,
                &e.mono_ms,
                &e.kind,
                &e.payload,
                &digest.as_slice(),
            ])
            .await?;
    }
    writer.finish().await?;

    // Overlap with what is held is possible only when the batch starts at or below the
    // high water (a resend); otherwise skip the comparison.
    let conflict_from: Option<i64> = if first.seq <= before {
        tx.query_one(
            // The seq range keeps the plan on the primary key's range, whatever the
            // planner guesses about the (never analysed) staging table.
            "SELECT min(s.seq) FROM ingest_staging s
               JOIN events e ON e.centre_id = $1 AND e.epoch = $2 AND e.seq = s.seq
              WHERE e.seq BETWEEN $3 AND $4 AND e.digest <> s.digest",
            &[&centre, &epoch, &first.seq, &last_seq],
        )
        .await?
        .try_get(0)?
    } else {
        None
    };
    if let Some(from) = conflict_from {
        tx.execute("DELETE FROM ingest_staging WHERE seq >= $1", &[&from])
            .await?;
    }
    let inserted = tx
        .execute(
            "INSERT INTO events (centre_id, epoch, seq, at, clock_synced, boot, mono_ms, kind, payload, digest)
             SELECT $1, $2, seq, at, clock_synced, boot, mono_ms, kind, payload, digest
               FROM ingest_staging ORDER BY seq
             ON CONFLICT (centre_id, epoch, seq) DO NOTHING",
            &[&centre, &epoch],
        )
        .await?;
    tx.commit().await?;

    let kept: Vec<&WireEvent> = batch
        .events
        .iter()
        .filter(|e| conflict_from.is_none_or(|c| e.seq < c))
        .collect();
    let kept_max = kept.last().map_or(0, |e| e.seq);
    Ok(IngestAck {
        centre_id: centre.to_owned(),
        epoch,
        high_water: before.max(kept_max),
        inserted,
        duplicates: (kept.len() as u64).saturating_sub(inserted),
        conflict_from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn ev(seq: i64, kind: &str, payload: Value) -> WireEvent {
        WireEvent {
            seq,
            at: Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap(),
            clock_synced: true,
            boot: 1,
            mono_ms: seq * 10,
            kind: kind.into(),
            payload,
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let mut out = Vec::new();
        canonical_json(
            &json!({"b": 1, "a": {"z": [true, null, "x\"y"], "c": 2.5}}),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":{"c":2.5,"z":[true,null,"x\"y"]},"b":1}"#
        );
    }

    #[test]
    fn digest_depends_on_contents_only() {
        let a = ev(1, "day_opened", json!({"type": "day_opened", "day_id": 1}));
        let mut b = a.clone();
        b.seq = 2;
        b.mono_ms = 99;
        assert_eq!(event_digest(&a), event_digest(&b));
        b.payload = json!({"type": "day_opened", "day_id": 2});
        assert_ne!(event_digest(&a), event_digest(&b));
    }

    #[test]
    fn validation_refuses_disorder_bad_kinds_and_mismatched_types() {
        let batch = |events| IngestBatch {
            centre_id: "c1".into(),
            epoch: 1,
            events,
        };
        let code = |r: Result<Vec<[u8; 32]>, IngestError>| match r {
            Err(IngestError::Invalid { code, .. }) => code,
            other => panic!("{other:?}"),
        };
        let ok = json!({"type": "x"});
        assert!(validate(&batch(vec![ev(1, "x", ok.clone()), ev(2, "x", ok.clone())])).is_ok());
        assert_eq!(
            code(validate(&batch(vec![
                ev(2, "x", ok.clone()),
                ev(2, "x", ok.clone())
            ]))),
            "seq_order"
        );
        assert_eq!(
            code(validate(&batch(vec![ev(1, "", ok.clone())]))),
            "bad_kind"
        );
        assert_eq!(
            code(validate(&batch(vec![ev(1, "y", ok.clone())]))),
            "bad_payload"
        );
        assert_eq!(
            code(validate(&batch(vec![ev(1, "x", json!([1]))]))),
            "bad_payload"
        );
        let big = json!({"type": "x", "blob": "a".repeat(MAX_PAYLOAD_BYTES)});
        assert_eq!(
            code(validate(&batch(vec![ev(1, "x", big)]))),
            "payload_too_large"
        );
    }
}
