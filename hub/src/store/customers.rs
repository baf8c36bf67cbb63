//! Customers' personal data (GB/T 5.4): names, phones and addresses live in their own
//! table, linked from requests, never copied into events (which carry the pseudonym),
//! and shown masked unless a staff member reveals them — an audited action.

use chrono::{DateTime, Utc};
use domain::mask::{mask_address, mask_name, mask_phone};
use domain::phone::normalise_phone;
use protocol::{Contact, ContactConsent, ContactView};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Session, StoreError, WriteCtx};

/// GB/T 5.4: a phone number is kept only for a purpose the customer agreed to.
pub(crate) fn validate_contact(c: &Contact, field: &str) -> Result<(), StoreError> {
    canonical_phone(&c.phone, &format!("{field}.phone"))?;
    if !c.consent.service_updates && !c.consent.queue_sms {
        return Err(StoreError::invalid(
            &format!("{field}.consent"),
            "the customer must agree to at least one use of their phone number (GB/T 5.4)",
        ));
    }
    if c.name.as_ref().is_some_and(|n| n.chars().count() > 50) {
        return Err(StoreError::invalid(
            &format!("{field}.name"),
            "at most 50 characters",
        ));
    }
    if c.address.as_ref().is_some_and(|a| a.chars().count() > 200) {
        return Err(StoreError::invalid(
            &format!("{field}.address"),
            "at most 200 characters",
        ));
    }
    Ok(())
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The one stored form of a phone number, or the error naming `field`.
pub(crate) fn canonical_phone(raw: &str, field: &str) -> Result<String, StoreError> {
    normalise_phone(raw).ok_or_else(|| {
        StoreError::invalid(
            field,
            "a phone number is 5 to 20 digits (spaces, dashes and a leading + allowed)",
        )
    })
}

/// Stores a validated contact; returns the customer's row id and pseudonym (the only
/// customer identity that leaves the hub, GB/T 5.4.2).
pub(crate) fn insert_customer(
    ctx: &WriteCtx<'_>,
    c: &Contact,
) -> Result<(i64, String), StoreError> {
    let mut raw = [0u8; 12];
    rand::rng().fill_bytes(&mut raw);
    let pseudonym = hex::encode(raw);
    ctx.conn.execute(
        "INSERT INTO customers (pseudonym, name, phone, address, consent_updates, consent_queue_sms, created_at, lang)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            pseudonym,
            non_empty(&c.name),
            canonical_phone(&c.phone, "contact.phone")?,
            non_empty(&c.address),
            c.consent.service_updates,
            c.consent.queue_sms,
            ctx.now,
            // Messages are in Chinese unless the customer reads English.
            if c.lang.as_deref().is_some_and(|l| l.starts_with("en")) {
                "en"
            } else {
                "zh"
            }
        ],
    )?;
    let id = ctx.conn.last_insert_rowid();
    // Consent given now supersedes an earlier opt-out of the same number.
    ctx.conn.execute(
        "DELETE FROM sms_opt_outs WHERE phone = ?1",
        [canonical_phone(&c.phone, "contact.phone")?],
    )?;
    Ok((id, pseudonym))
}

/// The contact of customer `id`, masked unless `reveal`.
pub(crate) fn read_contact(
    conn: &Connection,
    id: i64,
    reveal: bool,
) -> Result<Option<ContactView>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT name, phone, address, consent_updates, consent_queue_sms, erased_at FROM customers WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, bool>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, Option<DateTime<Utc>>>(5)?,
            ))
        })
        .optional()?;
    Ok(
        row.and_then(|(name, phone, address, updates, sms, erased)| {
            if erased.is_some() {
                return None;
            }
            let phone = phone.unwrap_or_default();
            Some(ContactView {
                name: if reveal {
                    name
                } else {
                    name.map(|n| mask_name(&n))
                },
                phone: if reveal { phone } else { mask_phone(&phone) },
                address: if reveal {
                    address
                } else {
                    address.map(|a| mask_address(&a))
                },
                consent: ContactConsent {
                    service_updates: updates,
                    queue_sms: sms,
                },
                revealed: reveal,
            })
        }),
    )
}

/// GB/T 5.4: staff see a customer's contact in clear only by asking for it, and the
/// audit log says who looked and when.
pub fn reveal_contact(
    ctx: &mut WriteCtx<'_>,
    session: &Session,
    request_id: i64,
) -> Result<ContactView, StoreError> {
    let customer: Option<i64> = ctx
        .conn
        .prepare_cached("SELECT customer_id FROM requests WHERE id = ?1")?
        .query_row([request_id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("request {request_id}")))?;
    let contact = customer
        .map(|c| read_contact(ctx.conn, c, true))
        .transpose()?
        .flatten()
        .ok_or_else(|| StoreError::NotFound(format!("a contact for request {request_id}")))?;
    ctx.audit(
        &session.actor(),
        "contact_reveal",
        &format!("request {request_id}"),
    )?;
    Ok(contact)
}
