//! Retention of customers' personal data (GB/T 5.4, 5.6.2.2; PIPL: kept no longer than
//! the purpose needs). A customer's name, phone and address are needed while any of their
//! requests is still open; once every request is resolved (archived or later) or ended
//! as a cancelled or missed appointment, they are kept `retention_days` more, then erased
//! exactly as an erasure on request is (audited, a tombstone event for headquarters).

use chrono::Duration;
use protocol::ErasureReason;

use super::{Actor, StoreError, WriteCtx};

/// Most customers erased in one sweep (the next sweep takes the rest).
const PER_SWEEP: u32 = 200;

/// Erases every customer whose data is past its retention; returns how many.
pub fn sweep(ctx: &mut WriteCtx<'_>, retention_days: u32) -> Result<u32, StoreError> {
    let cutoff = ctx.now - Duration::days(i64::from(retention_days));
    let due: Vec<String> = {
        let mut stmt = ctx.conn.prepare_cached(
            "SELECT c.pseudonym FROM customers c
             WHERE c.erased_at IS NULL
               -- No request of theirs is still open...
               AND NOT EXISTS (
                   SELECT 1 FROM requests r
                   WHERE r.customer_id = c.id
                     AND r.stage IN ('appointment', 'acceptance', 'processing', 'reply')
                     AND NOT EXISTS (
                         SELECT 1 FROM appointments a
                         WHERE a.request_id = r.id AND a.state IN ('cancelled', 'no_show')))
               -- ...and nothing happened on any of them since the cutoff.
               AND coalesce((
                   SELECT max(s.at) FROM requests r JOIN request_stages s ON s.request_id = r.id
                   WHERE r.customer_id = c.id), c.created_at) <= ?1
               AND (SELECT coalesce(max(a.created_at), '') FROM appointments a
                    JOIN requests r ON r.id = a.request_id WHERE r.customer_id = c.id) <= ?1
             ORDER BY c.id LIMIT ?2",
        )?;
        stmt.query_map(rusqlite::params![cutoff, PER_SWEEP], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    let actor = Actor::system();
    for pseudonym in &due {
        super::customers::erase_customer(ctx, pseudonym, ErasureReason::Retention, &actor)?;
    }
    Ok(due.len() as u32)
}
