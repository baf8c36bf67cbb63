//! Text messages (GB/T 4.2.2 names SMS as a service channel; 4.1.2 asks that the
//! customer be told the result): a persistent queue in the hub, sent by an SMS agent
//! that leases one message at a time and reports the outcome.
//!
//! - Nothing is lost: a message stays `pending` until the agent reports it `sent`; a
//!   modem that is down or out of credit only delays it (`retry` with backoff).
//! - Nothing is sent twice: each message has a unique key (one confirmation per booking
//!   or change, one "turn is near" per ticket...), and an outcome the agent cannot know
//!   (a timeout after the modem took the message, or a lease that ran out) becomes
//!   `unknown` for staff to check, never resent automatically.
//! - A message whose moment has passed is dropped with a reason, not sent late: a "turn
//!   is near" for a ticket already called or counted too long ago, a reminder for an
//!   appointment that was cancelled, moved, checked in, missed or has started.
//! - GB/T 5.4: only to customers who consent to that use (checked again just before
//!   sending), never after an opt-out, at most a configured number per phone per hour
//!   and per minute overall; texts hold nothing beyond what the customer gave (ticket
//!   number, code, time, place). Every lease of a phone number is audited.

use chrono::{DateTime, Duration, Utc};
use domain::mask::mask_phone;
use domain::{RequestStage, TicketState};
use protocol::{AppointmentView, HubEvent, SmsOutcome, SmsResult, SmsToSend, SmsView};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Actor, StoreError, WriteCtx};
use crate::config::Config;

/// How long the agent has to report an outcome.
const LEASE_SECS: i64 = 120;
/// Longest delay between retries.
const MAX_BACKOFF_SECS: i64 = 30 * 60;
/// A "turn is near" older than this has a stale count: dropped, not sent late.
const TURN_NEAR_FRESH_MINUTES: i64 = 10;
/// Messages examined per lease (stale ones on the way are dropped).
const LEASE_SCAN: i64 = 50;

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
    /// The appointment slot the text names.
    slot_start: Option<DateTime<Utc>>,
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
             request_id, slot_start, state, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', ?10) ON CONFLICT (dedupe_key) DO NOTHING",
        params![
            key,
            to.customer_id,
            kind,
            text,
            not_before,
            links.ticket_id,
            links.appointment_id,
            links.request_id,
            links.slot_start,
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

/// A booking (or its new slot after a reschedule): the confirmation now and a reminder
/// before the slot. Pending messages about the old slot are dropped; each change gets
/// its own messages, so moving back to an earlier slot confirms it again.
pub(crate) fn on_appointment_booked(
    ctx: &WriteCtx<'_>,
    cfg: &Config,
    a: &AppointmentView,
) -> Result<(), StoreError> {
    drop_for_appointment(ctx, a.id, "appointment moved to another slot")?;
    let Some(to) = recipient(ctx.conn, a.request_id, Purpose::ServiceUpdates)? else {
        return Ok(());
    };
    let zh = to.lang != "en";
    let centre = centre_name(cfg, zh);
    let service = service_name(cfg, a.service, zh);
    let when = cfg.local_format(a.slot_start, "%m-%d %H:%M");
    let place = match cfg.centre.address.trim() {
        "" => String::new(),
        p if zh => format!("，{p}"),
        p => format!(", {p}"),
    };
    let confirmation = if zh {
        format!(
            "【{centre}】预约成功：{service}，{when}{place}。确认码 {}，到店请在自助机签到。",
            a.code
        )
    } else {
        format!(
            "[{centre}] Booked: {service}, {when}{place}. Code {}: check in at the kiosk.",
            a.code
        )
    };
    let change: i64 = ctx.conn.query_row(
        "SELECT coalesce(max(id), 0) FROM appointment_changes WHERE appointment_id = ?1",
        [a.id],
        |r| r.get(0),
    )?;
    let links = || Links {
        appointment_id: Some(a.id),
        request_id: Some(a.request_id),
        slot_start: Some(a.slot_start),
        ..Links::default()
    };
    enqueue(
        ctx,
        &format!("confirm:{}:{change}", a.id),
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
            &format!("remind:{}:{change}", a.id),
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
/// One already with the modem is caught by the staleness check if it comes back.
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
    let phone = cfg.centre.phone.trim();
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
    let candidates: Vec<(i64, String, i64)> = ctx
        .conn
        .prepare_cached(
            "SELECT t.id, t.number, r.id
             FROM tickets t JOIN requests r ON r.ticket_id = t.id
             JOIN business_days d ON d.id = t.day_id AND d.closed_at IS NULL
             JOIN customers c ON c.id = r.customer_id AND c.consent_queue_sms
             WHERE t.state = 'waiting'
               AND NOT EXISTS (SELECT 1 FROM sms_messages m WHERE m.dedupe_key = 'near:' || t.id)",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (ticket_id, number, request_id) in candidates {
        let people_ahead = super::tickets::people_ahead(ctx.conn, ticket_id)?;
        if people_ahead > ahead {
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

/// A pending message as the lease sees it.
struct Candidate {
    id: i64,
    customer_id: i64,
    kind: String,
    text: String,
    phone: Option<String>,
    ticket_id: Option<i64>,
    appointment_id: Option<i64>,
    slot_start: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    attempts: u32,
}

/// Why a pending message must not go any more, if it must not: the customer withdrew
/// (opt-out, consent, erasure) or its moment passed.
fn stale_reason(
    conn: &Connection,
    m: &Candidate,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>, StoreError> {
    let (still_consents, opted_out): (bool, bool) = conn
        .prepare_cached(
            "SELECT c.erased_at IS NULL AND c.phone IS NOT NULL
                    AND CASE ?2 WHEN 'turn_near' THEN c.consent_queue_sms ELSE c.consent_updates END,
                    EXISTS (SELECT 1 FROM sms_opt_outs o WHERE o.phone = c.phone)
             FROM customers c WHERE c.id = ?1",
        )?
        .query_row(params![m.customer_id, m.kind], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    if opted_out {
        return Ok(Some("customer opted out"));
    }
    if !still_consents {
        return Ok(Some("consent withdrawn or contact erased"));
    }
    match m.kind.as_str() {
        "turn_near" => {
            let state: Option<String> = match m.ticket_id {
                Some(t) => conn
                    .prepare_cached("SELECT state FROM tickets WHERE id = ?1")?
                    .query_row([t], |r| r.get(0))
                    .optional()?,
                None => None,
            };
            if state.as_deref() != Some(TicketState::Waiting.code()) {
                return Ok(Some("ticket no longer waiting"));
            }
            if m.created_at + Duration::minutes(TURN_NEAR_FRESH_MINUTES) < now {
                return Ok(Some("too late: the count of people ahead is out of date"));
            }
        }
        "appointment_reminder" | "appointment_confirmation" => {
            let current: Option<(String, DateTime<Utc>)> = match m.appointment_id {
                Some(a) => conn
                    .prepare_cached("SELECT state, slot_start FROM appointments WHERE id = ?1")?
                    .query_row([a], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?,
                None => None,
            };
            match current {
                None => return Ok(Some("appointment not found")),
                Some((state, _)) if state != "booked" => {
                    return Ok(Some("appointment no longer booked"));
                }
                Some((_, slot)) if Some(slot) != m.slot_start => {
                    return Ok(Some("appointment moved to another slot"));
                }
                Some((_, slot)) if slot <= now => {
                    return Ok(Some("too late: the appointment has started"));
                }
                Some(_) => {}
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

/// States in which a message may have reached the phone (they count towards the limits).
const MAYBE_SENT: &str = "('sent', 'leased', 'unknown')";

/// The next message that may go now, leased to the agent; stale ones on the way are
/// dropped, ones to a phone at its hourly limit wait.
pub fn lease(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    device: &str,
) -> Result<Option<SmsToSend>, StoreError> {
    super::desk::check_device(&Some(device.to_owned()))?;
    tick(ctx, cfg)?;
    let minute_ago = ctx.now - Duration::minutes(1);
    let last_minute: u32 = ctx
        .conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM sms_messages WHERE last_attempt_at > ?1 AND state IN {MAYBE_SENT}"
        ))?
        .query_row([minute_ago], |r| r.get(0))?;
    if last_minute >= cfg.sms.per_minute {
        return Ok(None);
    }
    let hour_ago = ctx.now - Duration::hours(1);
    // Phones at their hourly limit are left out here, so they cannot crowd out others.
    let candidates: Vec<Candidate> = ctx
        .conn
        .prepare_cached(&format!(
            "SELECT m.id, m.customer_id, m.kind, m.text, c.phone, m.ticket_id, m.appointment_id, m.slot_start,
                    m.created_at, m.attempts
             FROM sms_messages m JOIN customers c ON c.id = m.customer_id
             WHERE m.state = 'pending' AND m.not_before <= ?1
               AND coalesce(c.phone, '') NOT IN (
                   SELECT c2.phone FROM sms_messages m2 JOIN customers c2 ON c2.id = m2.customer_id
                   WHERE m2.last_attempt_at > ?2 AND m2.state IN {MAYBE_SENT} AND c2.phone IS NOT NULL
                   GROUP BY c2.phone HAVING count(*) >= ?3)
             ORDER BY m.not_before, m.id LIMIT ?4"
        ))?
        .query_map(
            params![ctx.now, hour_ago, cfg.sms.per_phone_per_hour, LEASE_SCAN],
            |r| {
                Ok(Candidate {
                    id: r.get(0)?,
                    customer_id: r.get(1)?,
                    kind: r.get(2)?,
                    text: r.get(3)?,
                    phone: r.get(4)?,
                    ticket_id: r.get(5)?,
                    appointment_id: r.get(6)?,
                    slot_start: r.get(7)?,
                    created_at: r.get(8)?,
                    attempts: r.get(9)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    for m in candidates {
        if let Some(reason) = stale_reason(ctx.conn, &m, ctx.now)? {
            ctx.conn.execute(
                "UPDATE sms_messages SET state = 'dropped', reason = ?2 WHERE id = ?1",
                params![m.id, reason],
            )?;
            settle(ctx, m.id, &m.kind, "dropped")?;
            continue;
        }
        let Some(phone) = m.phone else {
            continue;
        };
        let lease_until = ctx.now + Duration::seconds(LEASE_SECS);
        ctx.conn.execute(
            "UPDATE sms_messages SET state = 'leased', leased_until = ?2, attempts = attempts + 1,
                 leased_by = ?3, last_attempt_at = ?4 WHERE id = ?1",
            params![m.id, lease_until, device, ctx.now],
        )?;
        // GB/T 5.4: every hand-over of a phone number is on record.
        ctx.audit(
            &Actor {
                staff_id: None,
                device: Some(device.to_owned()),
            },
            "sms_lease",
            &format!("message {} ({}) to {}", m.id, m.kind, mask_phone(&phone)),
        )?;
        return Ok(Some(SmsToSend {
            id: m.id,
            phone,
            text: m.text,
            attempt: m.attempts + 1,
            lease_until,
        }));
    }
    Ok(None)
}

/// The agent reports what the modem said about a leased message. A `sent` or `failed`
/// that arrives after the lease ran out (the message was marked `unknown`) is still
/// taken from the agent that held it, so staff are not led to send it twice.
pub fn report(ctx: &mut WriteCtx<'_>, id: i64, req: &SmsResult) -> Result<SmsView, StoreError> {
    let (kind, state, attempts, leased_by): (String, String, u32, Option<String>) = ctx
        .conn
        .prepare_cached("SELECT kind, state, attempts, leased_by FROM sms_messages WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("text message {id}")))?;
    let late_but_known = state == "unknown"
        && matches!(req.outcome, SmsOutcome::Sent | SmsOutcome::Failed)
        && req.device.is_some()
        && req.device == leased_by;
    if state != "leased" && !late_but_known {
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
                "UPDATE sms_messages SET state = 'sent', sent_at = ?2, leased_until = NULL, reason = NULL
                 WHERE id = ?1",
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

/// The customer wants no more messages: recorded (however the number is written), and
/// everything pending for that number is dropped.
pub fn opt_out(ctx: &mut WriteCtx<'_>, actor: &Actor, phone: &str) -> Result<(), StoreError> {
    let phone = super::customers::canonical_phone(phone, "phone")?;
    ctx.conn.execute(
        "INSERT INTO sms_opt_outs (phone, at) VALUES (?1, ?2) ON CONFLICT (phone) DO NOTHING",
        params![phone, ctx.now],
    )?;
    ctx.conn.execute(
        "UPDATE sms_messages SET state = 'dropped', reason = 'customer opted out'
         WHERE state = 'pending' AND customer_id IN (SELECT id FROM customers WHERE phone = ?1)",
        [&phone],
    )?;
    ctx.audit(actor, "sms_opt_out", &mask_phone(&phone))?;
    Ok(())
}

/// The customer of request `request_id` asked staff for no more text messages: the
/// number is opted out without being shown to anyone.
pub fn opt_out_request(
    ctx: &mut WriteCtx<'_>,
    actor: &Actor,
    request_id: i64,
) -> Result<(), StoreError> {
    let phone: Option<String> = ctx
        .conn
        .prepare_cached(
            "SELECT c.phone FROM requests r JOIN customers c ON c.id = r.customer_id
             WHERE r.id = ?1 AND c.erased_at IS NULL",
        )?
        .query_row([request_id], |r| r.get(0))
        .optional()?
        .flatten();
    let phone = phone
        .ok_or_else(|| StoreError::NotFound(format!("a phone number for request {request_id}")))?;
    opt_out(ctx, actor, &phone)
}

/// Whether `to` is a stage at which the customer hears the result (GB/T 4.1.2).
pub(crate) fn is_result_stage(to: RequestStage) -> bool {
    to == RequestStage::Archiving
}
