//! The append-only, hash-chained audit log of staff actions (GB/T 5.6.2.3): who, on which
//! device, did what, when. Each entry's hash covers the previous entry's hash, so removing
//! or altering any entry breaks every hash after it; triggers refuse UPDATE and DELETE.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use super::{Actor, StoreError};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub staff_id: Option<String>,
    pub device: Option<String>,
    pub action: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

fn entry_hash(
    prev: &str,
    at: &str,
    staff: Option<&str>,
    device: Option<&str>,
    action: &str,
    detail: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        at,
        staff.unwrap_or(""),
        device.unwrap_or(""),
        action,
        detail,
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

pub(super) fn append(
    conn: &Connection,
    now: DateTime<Utc>,
    actor: &Actor,
    action: &str,
    detail: &str,
) -> Result<(), StoreError> {
    let prev: String = conn
        .prepare_cached("SELECT hash FROM audit ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| r.get(0))
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(GENESIS.to_owned()),
            e => Err(e),
        })?;
    // Stored as text exactly as hashed, so verification never depends on re-formatting.
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let hash = entry_hash(
        &prev,
        &at,
        actor.staff_id.as_deref(),
        actor.device.as_deref(),
        action,
        detail,
    );
    conn.prepare_cached(
        "INSERT INTO audit (at, staff_id, device, action, detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        at,
        actor.staff_id,
        actor.device,
        action,
        detail,
        prev,
        hash
    ])?;
    Ok(())
}

/// Most characters of text from outside (a request) kept in an audit entry.
const UNTRUSTED_CHARS: usize = 200;

/// GB/T 5.6.2.3: text a request supplied, made safe to put into an audit entry: at most
/// 200 characters (then `…`), control characters and the invisible ones that reorder or
/// break lines escaped (`\n`, `\u{202e}`), so nobody can write a line that reads like
/// another entry.
pub fn untrusted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(UNTRUSTED_CHARS * 2));
    for (n, c) in text.chars().enumerate() {
        if n == UNTRUSTED_CHARS {
            out.push('…');
            break;
        }
        let invisible = matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        );
        if c.is_control() || invisible {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Walks the whole chain; returns the number of entries and the id of the first entry
/// whose link or hash does not match.
pub fn verify_chain(conn: &Connection) -> Result<(i64, Option<i64>), StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, at, staff_id, device, action, detail, prev_hash, hash FROM audit ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(AuditEntry {
            id: r.get(0)?,
            at: r.get(1)?,
            staff_id: r.get(2)?,
            device: r.get(3)?,
            action: r.get(4)?,
            detail: r.get(5)?,
            prev_hash: r.get(6)?,
            hash: r.get(7)?,
        })
    })?;
    let mut prev = GENESIS.to_owned();
    let mut count = 0;
    for row in rows {
        let e = row?;
        count += 1;
        let expected = entry_hash(
            &prev,
            &e.at,
            e.staff_id.as_deref(),
            e.device.as_deref(),
            &e.action,
            &e.detail,
        );
        if e.prev_hash != prev || e.hash != expected {
            return Ok((count, Some(e.id)));
        }
        prev = e.hash;
    }
    Ok((count, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        c
    }

    #[test]
    fn chain_verifies_and_detects_tampering() {
        // GB/T 5.6.2.3
        let c = db();
        let actor = Actor {
            staff_id: Some("s1".into()),
            device: Some("counter-1".into()),
        };
        for i in 0..5 {
            append(&c, Utc::now(), &actor, "call", &format!("ticket {i}")).unwrap();
        }
        assert_eq!(verify_chain(&c).unwrap(), (5, None));
        // Someone with file access bypasses the trigger and edits entry 3.
        c.execute_batch(
            "DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'ticket 99' WHERE id = 3;",
        )
        .unwrap();
        assert_eq!(verify_chain(&c).unwrap(), (3, Some(3)));
    }

    #[test]
    fn untrusted_text_is_capped_and_cannot_forge_a_line() {
        // GB/T 5.6.2.3
        assert_eq!(untrusted("POST"), "POST");
        assert_eq!(untrusted("读卡器"), "读卡器");
        let forged = untrusted("x\n2026-01-01 admin login ok\r\u{1b}[2J\u{202e}");
        assert!(!forged.chars().any(|c| c.is_control()), "{forged}");
        assert_eq!(
            forged,
            "x\\n2026-01-01 admin login ok\\r\\u{1b}[2J\\u{202e}"
        );
        let long = untrusted(&"字".repeat(60_000));
        assert_eq!(long.chars().count(), 201);
        assert!(long.ends_with('…'));
    }
}
