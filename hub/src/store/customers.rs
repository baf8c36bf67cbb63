//! Customers' personal data (GB/T 5.4): names, phones and addresses live in their own
//! table, linked from requests, never copied into events (which carry the pseudonym),
//! and shown masked unless a staff member reveals them — an audited action — until they
//! are erased (GB/T 5.4, 5.6.2.2), which leaves the row and its pseudonym with nothing
//! personal in it and tells headquarters with a tombstone event.

use chrono::{DateTime, Utc};
use domain::mask::{mask_address, mask_name, mask_phone};
use domain::phone::normalise_phone;
use protocol::{Contact, ContactConsent, ContactView, ErasureReason, ErasureView, HubEvent};
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Actor, Session, StoreError, WriteCtx};

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
    Ok(row.map(|(name, phone, address, updates, sms, erased)| {
        if erased.is_some() {
            // GB/T 5.4: the request keeps the fact that there was a contact, nothing of it.
            return ContactView {
                name: None,
                phone: String::new(),
                address: None,
                consent: ContactConsent {
                    service_updates: false,
                    queue_sms: false,
                },
                revealed: false,
                erased: true,
            };
        }
        let phone = phone.unwrap_or_default();
        ContactView {
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
            erased: false,
        }
    }))
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
        .filter(|c| !c.erased)
        .ok_or_else(|| StoreError::NotFound(format!("a contact for request {request_id}")))?;
    ctx.audit(
        &session.actor(),
        "contact_reveal",
        &format!("request {request_id}"),
    )?;
    Ok(contact)
}

/// GB/T 5.4, 5.6.2.2: erases the personal data of the customer known as `pseudonym`:
/// name, phone and address are cleared, consents withdrawn, text messages not yet handed
/// to a modem dropped, the erasure audited and a [`HubEvent::CustomerErased`] tombstone
/// written for headquarters. Erasing an erased customer changes nothing and emits nothing.
pub fn erase_customer(
    ctx: &mut WriteCtx<'_>,
    pseudonym: &str,
    reason: ErasureReason,
    actor: &Actor,
) -> Result<ErasureView, StoreError> {
    let unknown = || {
        StoreError::Unknown(
            "unknown_customer",
            format!("no customer is known as `{pseudonym}`"),
        )
    };
    if pseudonym.is_empty()
        || pseudonym.len() > 64
        || !pseudonym.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(unknown());
    }
    let (id, erased_at): (i64, Option<DateTime<Utc>>) = ctx
        .conn
        .prepare_cached("SELECT id, erased_at FROM customers WHERE pseudonym = ?1")?
        .query_row([pseudonym], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(unknown)?;
    if let Some(at) = erased_at {
        return Ok(ErasureView {
            customer: pseudonym.to_owned(),
            erased_at: at,
            already_erased: true,
        });
    }
    ctx.conn.execute(
        "UPDATE customers SET name = NULL, phone = NULL, address = NULL,
             consent_updates = 0, consent_queue_sms = 0, erased_at = ?2
         WHERE id = ?1",
        params![id, ctx.now],
    )?;
    // A message already leased to a modem is the agent's to settle; the rest never go.
    let dropped = ctx.conn.execute(
        "UPDATE sms_messages SET state = 'dropped', reason = 'customer data erased'
         WHERE customer_id = ?1 AND state = 'pending'",
        [id],
    )?;
    ctx.audit(
        actor,
        "customer_erase",
        &format!(
            "customer {pseudonym} ({}), {dropped} pending text message(s) dropped",
            reason.code()
        ),
    )?;
    ctx.emit(HubEvent::CustomerErased {
        customer: pseudonym.to_owned(),
        reason: reason.code().to_owned(),
    })?;
    Ok(ErasureView {
        customer: pseudonym.to_owned(),
        erased_at: ctx.now,
        already_erased: false,
    })
}
