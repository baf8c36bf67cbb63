//! The public status of one ticket behind its QR code (GB/T 4.1.3): found by the ticket's
//! unguessable status token, never by its id, and carrying no personal data (GB/T 5.4.2):
//! no name, phone, address, staff or internal id leaves through here.

use chrono::{DateTime, Utc};
use domain::{RequestStage, ServiceType, TicketState};
use protocol::sync::TicketStatus;
use rusqlite::{Connection, OptionalExtension};

use super::{StoreError, parse_code};
use crate::config::Config;

/// Longest status token accepted; tickets' tokens are 20 characters.
const MAX_TOKEN: usize = 64;

/// Whether `token` could be a status token at all (tokens are lowercase letters and
/// digits): anything else is not looked up.
fn plausible(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The status of the ticket whose status token is `token`, as of `now`; `None` when no
/// ticket has that token (a ticket's id is not a token: GB/T 4.1.3 pages cannot be
/// enumerated).
pub fn ticket_status(
    conn: &Connection,
    cfg: &Config,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<TicketStatus>, StoreError> {
    if !plausible(token) {
        return Ok(None);
    }
    let row = conn
        .prepare_cached(
            "SELECT id, number, service, state, counter FROM tickets
             WHERE status_token = ?1 AND status_token <> ''",
        )?
        .query_row([token], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<u32>>(4)?,
            ))
        })
        .optional()?;
    let Some((id, number, service, state, counter)) = row else {
        return Ok(None);
    };
    let service: ServiceType = parse_code(&service, "service", |s| s.parse().ok())?;
    let state = parse_code(&state, "ticket state", TicketState::from_code)?;
    let (people_ahead, estimated_wait_secs) = if state == TicketState::Waiting {
        let ahead = super::tickets::people_ahead(conn, id)?;
        (
            Some(ahead),
            Some(super::tickets::estimate(conn, cfg, service, ahead, now)?),
        )
    } else {
        (None, None)
    };
    let counter = match state {
        TicketState::Called | TicketState::Serving | TicketState::OnHold => counter,
        _ => None,
    };
    let stage: Option<String> = conn
        .prepare_cached("SELECT stage FROM requests WHERE ticket_id = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    let request_stage = stage
        .map(|s| parse_code(&s, "request stage", RequestStage::from_code))
        .transpose()?;
    Ok(Some(TicketStatus {
        centre_name: cfg.centre.name_zh.clone(),
        number,
        service,
        state,
        people_ahead,
        estimated_wait_secs,
        counter,
        request_stage,
        as_of: now,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_token_shaped_keys_are_looked_up() {
        assert!(plausible("abcdefghjkmnpqrst2345"));
        assert!(!plausible(""));
        assert!(!plausible("A1"));
        assert!(!plausible("x'; DROP TABLE tickets; --"));
        assert!(!plausible(&"a".repeat(65)));
    }
}
