//! Text messages (GB/T 4.2.2 names SMS as a service channel; 4.1.2 asks that the
//! customer be told the result): a persistent queue in the hub, sent by an SMS agent
//! that leases one message at a time and reports the outcome.
//!
//! - Nothing is lost: a message stays `pending` until the agent reports it `sent`; a
//!   modem that is down or out of credit only delays it (`retry` with backoff).
//! - Nothing is sent twice: each message has a unique key (one confirmation per booking
//!   and slot, one "turn is near" per ticket...), and an outcome the agent cannot know (a
//!   timeout after the modem took the message, or a lease that ran out) becomes
//!   `unknown` for staff to check, never resent automatically.
//! - A message whose moment has passed is dropped with a reason, not sent late: a "turn
//!   is near" for a ticket already called, a reminder for an appointment that was
//!   cancelled, checked in or missed.
//! - GB/T 5.4: only to customers who consented to that use, never after an opt-out, at
//!   most a configured number per phone per hour and per minute overall; the texts hold
//!   nothing beyond what the customer gave (ticket number, code, time, place).

use chrono::{DateTime, Duration, Utc};
use domain::mask::mask_phone;
use domain::{RequestStage, TicketState};
use protocol::{AppointmentView, HubEvent, SmsOutcome, SmsResult, SmsToSend, SmsView};
use rusqlite::{Connection, OptionalExtension, params};

use super::{StoreError, WriteCtx};
use crate::config::Config;

/// How long the agent has to report an outcome.
const LEASE_SECS: i64 = 120;
/// Longest delay between retries.
const MAX_BACKOFF_SECS: i64 = 30 * 60;

/// Which use of the phone number a message is for (GB/T 5.4: the stated purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Appointment confirmations, reminders and results.
    ServiceUpdates,
    /// "Your turn is near".
    QueueSms,
}

struct Recipient {
    customer_id: i64,
    lang: String,
}

/// The customer of request `request_id`, if they gave a phone number for `purpose`.
fn recipient(
    conn: &Connection,
    request_id: i64,
    purpose: Purpose,
) -> Result<Option<Recipient>, StoreError> {
    let column = match purpose {
        Purpose::ServiceUpdates => "consent_updates",
        Purpose::QueueSms => "consent_queue_sms",
    };
    Ok(conn
        .prepare_cached(&format!(
            "SELECT c.id, c.lang FROM requests r JOIN customers c ON c.id = r.customer_id
             WHERE r.id = ?1 AND c.{column} AND c.erased_at IS NULL AND c.phone IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.phone = c.phone)"
        ))?
        .query_row([request_id], |r| {
            Ok(Recipient {
                customer_id: r.get(0)?,
                lang: r.get(1)?,
            })
        })
        .optional()?)
}

#[derive(Default)]
struct Links {
    ticket_id: Option<i64>,
    appointment_id: Option<i64>,
    request_id: Option<i64>,
}

/// Queues one message unless its key was queued before.
fn enqueue(
    ctx: &WriteCtx<'_>,
    key: &str,
    kind: &str,
    to: &Recipient,
    text: &str,
    not_before: DateTime<Utc>,
    links: Links,
) -> Result<(), StoreError> {
    ctx.conn.execute(
        "INSERT INTO sms_messages (dedupe_key, customer_id, kind, text, not_before, ticket_id, appointment_id,
             request_id, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', ?9) ON CONFLICT (dedupe_key) DO NOTHING",
        params![
            key,
            to.customer_id,
            kind,
            text,
            not_before,
            links.ticket_id,
            links.appointment_id,
            links.request_id,
            ctx.now
        ],
    )?;
    Ok(())
}

fn centre_name(cfg: &Config, zh: bool) -> &str {
    if zh {
        &cfg.centre.name_zh
    } else {
        &cfg.centre.name_en
    }
}

fn service_name(cfg: &Config, service: domain::ServiceType, zh: bool) -> String {
    cfg.service(service).map_or_else(
        || service.code().to_owned(),
        |s| {
            if zh {
                s.spec.name_zh.clone()
            } else {
                s.spec.name_en.clone()
            }
        },
    )
}

fn local_time(cfg: &Config, t: DateTime<Utc>) -> String {
    t.with_timezone(&cfg.centre.utc_offset)
        .format("%m-%d %H:%M")
        .to_string()
}

/// A booking (or its new slot after a reschedule): the confirmation now and a reminder
/// before the slot. Pending messages about the old slot are dropped.
pub(crate) fn on_appointment_booked(
    ctx: &WriteCtx<'_>,
    cfg: &Config,
    a: &AppointmentView,
) -> Result<(), StoreError> {
    drop_for_appointment(ctx, a.id, "appointment rescheduled")?;
    let Some(to) = recipient(ctx.conn, a.request_id, Purpose::ServiceUpdates)? else {
        return Ok(());
    };
    let zh = to.lang != "en";
    let (centre, service, when) = (
        centre_name(cfg, zh),
        service_name(cfg, a.service, zh),
        local_time(cfg, a.slot_start),
    );
    let place = &cfg.centre.address;
    let confirmation = if zh {
        format!(
            "【{centre}】预约成功：{service}，{when}，{place}。确认码 {}，到店请在自助机签到。",
            a.code
        )
    } else {
        format!(
            "[{centre}] Booked: {service}, {when}, {place}. Code {}: check in at the kiosk.",
            a.code
        )
    };
    let slot_key = a.slot_start.timestamp();
    let links = || Links {
        appointment_id: Some(a.id),
        request_id: Some(a.request_id),
        ..Links::default()
    };
    enqueue(
        ctx,
        &format!("confirm:{}:{slot_key}", a.id),
        "appointment_confirmation",
        &to,
        &confirmation,
        ctx.now,
        links(),
    )?;
    let remind_at = a.slot_start - Duration::minutes(i64::from(cfg.sms.reminder_minutes));
    if remind_at > ctx.now {
        let reminder = if zh {
            format!(
                "【{centre}】提醒：您预约的{service}在{when}，确认码 {}。",
                a.code
            )
        } else {
            format!(
                "[{centre}] Reminder: your {service} appointment is at {when}, code {}.",
                a.code
            )
        };
        enqueue(
            ctx,
            &format!("remind:{}:{slot_key}", a.id),
            "appointment_reminder",
            &to,
            &reminder,
            remind_at,
            links(),
        )?;
    }
    Ok(())
}

/// Drops the appointment's messages not yet sent (cancelled, checked in, missed, moved).
pub(crate) fn drop_for_appointment(
    ctx: &WriteCtx<'_>,
    appointment_id: i64,
    reason: &str,
) -> Result<(), StoreError> {
    ctx.conn.execute(
        "UPDATE sms_messages SET state = 'dropped', reason = ?2
         WHERE appointment_id = ?1 AND state = 'pending'",
        params![appointment_id, reason],
    )?;
    Ok(())
}

/// GB/T 4.1.2: the customer is told the result when the request is resolved.
pub(crate) fn on_request_resolved(
    ctx: &WriteCtx<'_>,
    cfg: &Config,
    request_id: i64,
    service: domain::ServiceType,
) -> Result<(), StoreError> {
    let Some(to) = recipient(ctx.conn, request_id, Purpose::ServiceUpdates)? else {
        return Ok(());
    };
    let zh = to.lang != "en";
    let (centre, service) = (centre_name(cfg, zh), service_name(cfg, service, zh));
    let phone = &cfg.centre.phone;
    let text = match (zh, phone.is_empty()) {
        (true, true) => {
            format!("【{centre}】您的{service}服务单 {request_id} 已处理完毕，感谢您的耐心。")
        }
        (true, false) => format!(
            "【{centre}】您的{service}服务单 {request_id} 已处理完毕，感谢您的耐心。如有疑问请致电 {phone}。"
        ),
        (false, true) => format!(
            "[{centre}] Your {service} request {request_id} is complete. Thank you for your patience."
        ),
        (false, false) => format!(
            "[{centre}] Your {service} request {request_id} is complete. Questions: call {phone}."
        ),
    };
    enqueue(
        ctx,
        &format!("result:{request_id}"),
        "request_result",
        &to,
        &text,
        ctx.now,
        Links {
            request_id: Some(request_id),
            ..Links::default()
        },
    )
}

/// "Your turn is near": waiting tickets of customers who agreed to queue messages, with
/// at most the configured number of people ahead, each once.
fn enqueue_turn_near(ctx: &WriteCtx<'_>, cfg: &Config) -> Result<(), StoreError> {
    let ahead = cfg.sms.turn_near_ahead;
    if ahead == 0 {
        return Ok(());
    }
    let candidates: Vec<(i64, String, i64, String, i64)> = ctx
        .conn
        .prepare_cached(
            "SELECT t.id, t.number, r.id, t.service,
                    (SELECT count(*) FROM tickets o WHERE o.day_id = t.day_id AND o.state = 'waiting'
                       AND o.service = t.service AND o.queue_key < t.queue_key)
             FROM tickets t JOIN requests r ON r.ticket_id = t.id
             JOIN business_days d ON d.id = t.day_id AND d.closed_at IS NULL
             WHERE t.state = 'waiting'
               AND NOT EXISTS (SELECT 1 FROM sms_messages m WHERE m.dedupe_key = 'near:' || t.id)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
        .collect::<Result<_, _>>()?;
    for (ticket_id, number, request_id, _service, people_ahead) in candidates {
        if people_ahead > i64::from(ahead) {
            continue;
        }
        let Some(to) = recipient(ctx.conn, request_id, Purpose::QueueSms)? else {
            continue;
        };
        let zh = to.lang != "en";
        let centre = centre_name(cfg, zh);
        let text = if zh {
            format!(
                "【{centre}】您的号码 {number} 前面还有 {people_ahead} 位，请回到大厅等候叫号。"
            )
        } else {
            format!(
                "[{centre}] Ticket {number}: {people_ahead} ahead of you. Please come back to the hall."
            )
        };
        enqueue(
            ctx,
            &format!("near:{ticket_id}"),
            "turn_near",
            &to,
            &text,
            ctx.now,
            Links {
                ticket_id: Some(ticket_id),
                request_id: Some(request_id),
                ..Links::default()
            },
        )?;
    }
    Ok(())
}

fn settle(ctx: &mut WriteCtx<'_>, id: i64, kind: &str, state: &str) -> Result<(), StoreError> {
    ctx.emit(HubEvent::SmsSettled {
        sms_id: id,
        kind: kind.to_owned(),
        state: state.to_owned(),
    })?;
    Ok(())
}

/// Why a pending message must not go any more, if it must not.
fn stale_reason(
    conn: &Connection,
    kind: &str,
    ticket_id: Option<i64>,
    appointment_id: Option<i64>,
    phone: &str,
) -> Result<Option<&'static str>, StoreError> {
    let opted_out: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM sms_opt_outs WHERE phone = ?1)")?
        .query_row([phone], |r| r.get(0))?;
    if opted_out {
        return Ok(Some("customer opted out"));
    }
    match kind {
        "turn_near" => {
            let state: Option<String> = match ticket_id {
                Some(t) => conn
                    .prepare_cached("SELECT state FROM tickets WHERE id = ?1")?
                    .query_row([t], |r| r.get(0))
                    .optional()?,
                None => None,
            };
            if state.as_deref() != Some(TicketState::Waiting.code()) {
                return Ok(Some("ticket no longer waiting"));
            }
        }
        "appointment_reminder" | "appointment_confirmation" => {
            let state: Option<String> = match appointment_id {
                Some(a) => conn
                    .prepare_cached("SELECT state FROM appointments WHERE id = ?1")?
                    .query_row([a], |r| r.get(0))
                    .optional()?,
                None => None,
            };
            if state.as_deref() != Some("booked") {
                return Ok(Some("appointment no longer booked"));
            }
        }
        _ => {}
    }
    Ok(None)
}

/// Housekeeping the agent's polling drives: new "turn is near" messages, and leases that
/// ran out without an outcome become `unknown` (the modem may have sent them).
pub fn tick(ctx: &mut WriteCtx<'_>, cfg: &Config) -> Result<(), StoreError> {
    enqueue_turn_near(ctx, cfg)?;
    let expired: Vec<(i64, String)> = ctx
        .conn
        .prepare_cached(
            "UPDATE sms_messages SET state = 'unknown', reason = 'no outcome reported before the lease ran out'
             WHERE state = 'leased' AND leased_until < ?1 RETURNING id, kind",
        )?
        .query_map([ctx.now], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, kind) in expired {
        settle(ctx, id, &kind, "unknown")?;
    }
    Ok(())
}

/// A pending message: id, kind, text, phone, ticket, appointment, attempts so far.
type Candidate = (i64, String, String, String, Option<i64>, Option<i64>, u32);

/// The next message that may go now, leased to the agent; stale ones on the way are
/// dropped, rate-limited ones wait.
pub fn lease(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    device: &str,
) -> Result<Option<SmsToSend>, StoreError> {
    if device.is_empty() || device.len() > 64 {
        return Err(StoreError::invalid("device", "1 to 64 characters"));
    }
    tick(ctx, cfg)?;
    let minute_ago = ctx.now - Duration::minutes(1);
    let sent_last_minute: u32 = ctx
        .conn
        .prepare_cached(
            "SELECT count(*) FROM sms_messages WHERE sent_at > ?1 OR (state = 'leased')",
        )?
        .query_row([minute_ago], |r| r.get(0))?;
    if sent_last_minute >= cfg.sms.per_minute {
        return Ok(None);
    }
    let candidates: Vec<Candidate> = ctx
        .conn
        .prepare_cached(
            "SELECT m.id, m.kind, m.text, c.phone, m.ticket_id, m.appointment_id, m.attempts
             FROM sms_messages m JOIN customers c ON c.id = m.customer_id
             WHERE m.state = 'pending' AND m.not_before <= ?1 ORDER BY m.not_before, m.id LIMIT 50",
        )?
        .query_map([ctx.now], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let hour_ago = ctx.now - Duration::hours(1);
    for (id, kind, text, phone, ticket_id, appointment_id, attempts) in candidates {
        if let Some(reason) = stale_reason(ctx.conn, &kind, ticket_id, appointment_id, &phone)? {
            ctx.conn.execute(
                "UPDATE sms_messages SET state = 'dropped', reason = ?2 WHERE id = ?1",
                params![id, reason],
            )?;
            settle(ctx, id, &kind, "dropped")?;
            continue;
        }
        let to_this_phone: u32 = ctx
            .conn
            .prepare_cached(
                "SELECT count(*) FROM sms_messages m JOIN customers c ON c.id = m.customer_id
                 WHERE c.phone = ?1 AND (m.sent_at > ?2 OR m.state = 'leased')",
            )?
            .query_row(params![phone, hour_ago], |r| r.get(0))?;
        if to_this_phone >= cfg.sms.per_phone_per_hour {
            continue;
        }
        let lease_until = ctx.now + Duration::seconds(LEASE_SECS);
        ctx.conn.execute(
            "UPDATE sms_messages SET state = 'leased', leased_until = ?2, attempts = attempts + 1,
                 leased_by = ?3 WHERE id = ?1",
            params![id, lease_until, device],
        )?;
        return Ok(Some(SmsToSend {
            id,
            phone,
            text,
            attempt: attempts + 1,
            lease_until,
        }));
    }
    Ok(None)
}

/// The agent reports what the modem said about a leased message.
pub fn report(ctx: &mut WriteCtx<'_>, id: i64, req: &SmsResult) -> Result<SmsView, StoreError> {
    let (kind, state, attempts): (String, String, u32) = ctx
        .conn
        .prepare_cached("SELECT kind, state, attempts FROM sms_messages WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("text message {id}")))?;
    if state != "leased" {
        return Err(StoreError::Rule(
            "not_leased",
            format!("text message {id} is {state}, not waiting for an outcome"),
        ));
    }
    let detail = req
        .detail
        .as_deref()
        .map(|d| d.chars().take(200).collect::<String>());
    match req.outcome {
        SmsOutcome::Sent => {
            ctx.conn.execute(
                "UPDATE sms_messages SET state = 'sent', sent_at = ?2, leased_until = NULL WHERE id = ?1",
                params![id, ctx.now],
            )?;
            settle(ctx, id, &kind, "sent")?;
        }
        SmsOutcome::Retry => {
            let backoff = (30i64 << attempts.min(10)).min(MAX_BACKOFF_SECS);
            ctx.conn.execute(
                "UPDATE sms_messages SET state = 'pending', leased_until = NULL, not_before = ?2, last_error = ?3
                 WHERE id = ?1",
                params![id, ctx.now + Duration::seconds(backoff), detail],
            )?;
        }
        SmsOutcome::Failed | SmsOutcome::Unknown => {
            let new_state = if req.outcome == SmsOutcome::Failed {
                "failed"
            } else {
                "unknown"
            };
            ctx.conn.execute(
                "UPDATE sms_messages SET state = ?2, leased_until = NULL, last_error = ?3, reason = ?3 WHERE id = ?1",
                params![id, new_state, detail],
            )?;
            settle(ctx, id, &kind, new_state)?;
        }
    }
    message(ctx.conn, id)
}

fn message(conn: &Connection, id: i64) -> Result<SmsView, StoreError> {
    messages_where(conn, "m.id = ?1", [id])?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("text message {id}")))
}

fn messages_where(
    conn: &Connection,
    where_clause: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<SmsView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.id, m.kind, m.state, c.phone, m.text, m.attempts, m.not_before, m.reason, m.sent_at
         FROM sms_messages m JOIN customers c ON c.id = m.customer_id WHERE {where_clause}"
    ))?;
    let v = stmt
        .query_map(p, |r| {
            Ok(SmsView {
                id: r.get(0)?,
                kind: r.get(1)?,
                state: r.get(2)?,
                phone_masked: mask_phone(&r.get::<_, Option<String>>(3)?.unwrap_or_default()),
                text: r.get(4)?,
                attempts: r.get(5)?,
                not_before: r.get(6)?,
                reason: r.get(7)?,
                sent_at: r.get(8)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// Every message, newest first (phones masked), for staff.
pub fn list(conn: &Connection) -> Result<Vec<SmsView>, StoreError> {
    messages_where(conn, "1 ORDER BY m.id DESC LIMIT 500", [])
}

/// Counts for the health endpoint: pending (incl. leased) and unknown.
pub fn counts(conn: &Connection) -> Result<(i64, i64), StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE state IN ('pending', 'leased')),
                    count(*) FILTER (WHERE state = 'unknown') FROM sms_messages",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The customer wants no more messages: recorded, and everything pending is dropped.
pub fn opt_out(ctx: &mut WriteCtx<'_>, phone: &str) -> Result<u32, StoreError> {
    let phone = phone.trim();
    let digits = phone.strip_prefix('+').unwrap_or(phone);
    if digits.len() < 5 || digits.len() > 20 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(StoreError::invalid(
            "phone",
            "a phone number is 5 to 20 digits, optionally starting with +",
        ));
    }
    ctx.conn.execute(
        "INSERT INTO sms_opt_outs (phone, at) VALUES (?1, ?2) ON CONFLICT (phone) DO NOTHING",
        params![phone, ctx.now],
    )?;
    let dropped = ctx.conn.execute(
        "UPDATE sms_messages SET state = 'dropped', reason = 'customer opted out'
         WHERE state = 'pending' AND customer_id IN (SELECT id FROM customers WHERE phone = ?1)",
        [phone],
    )?;
    ctx.audit(&super::Actor::system(), "sms_opt_out", &mask_phone(phone))?;
    Ok(dropped as u32)
}

/// Whether `to` is a stage at which the customer hears the result (GB/T 4.1.2).
pub(crate) fn is_result_stage(to: RequestStage) -> bool {
    to == RequestStage::Archiving
}
