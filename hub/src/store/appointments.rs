//! Appointments (GB/T 8.1 预约): bookable slots per service with a capacity from the
//! counters that serve it, closed on holidays and outside opening hours; booking by
//! staff with a short confirmation code; kiosk check-in within the early/late window to
//! an appointment-priority ticket; reschedule and cancel with a kept history; a no-show
//! once the window has passed, recorded once.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::{PriorityClass, RequestStage, ServiceType};
use protocol::{
    AppointmentChange, AppointmentState, AppointmentView, CheckIn, CheckedIn, CreateAppointment,
    CreateRequest, HubEvent, IssueTicket, IssuedTicket, Reschedule, SlotView,
};
use rusqlite::{Connection, OptionalExtension, params};

use super::desk::check_device;
use super::requests::create_request;
use super::tickets::{issue_ticket, read_ticket};
use super::{Actor, Session, StoreError, WriteCtx, parse_code};
use crate::config::Config;

/// Confirmation codes avoid look-alike characters (0/O, 1/I/L) so they can be read out.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 6;
/// The furthest ahead a slot can be booked.
const MAX_DAYS_AHEAD: i64 = 366;

fn state_code(s: AppointmentState) -> &'static str {
    match s {
        AppointmentState::Booked => "booked",
        AppointmentState::CheckedIn => "checked_in",
        AppointmentState::NoShow => "no_show",
        AppointmentState::Cancelled => "cancelled",
    }
}

fn state_from(s: &str) -> Option<AppointmentState> {
    [
        AppointmentState::Booked,
        AppointmentState::CheckedIn,
        AppointmentState::NoShow,
        AppointmentState::Cancelled,
    ]
    .into_iter()
    .find(|k| state_code(*k) == s)
}

/// Normalises what a customer typed or a scanner sent: upper case, no spaces or dashes.
pub fn normalise_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn history(conn: &Connection, id: i64) -> Result<Vec<AppointmentChange>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT kind, at, staff_id, from_slot, to_slot, reason FROM appointment_changes
         WHERE appointment_id = ?1 ORDER BY id",
    )?;
    let v = stmt
        .query_map([id], |r| {
            Ok(AppointmentChange {
                kind: r.get(0)?,
                at: r.get(1)?,
                staff_id: r.get(2)?,
                from_slot: r.get(3)?,
                to_slot: r.get(4)?,
                reason: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(v)
}

fn record_change(
    ctx: &WriteCtx<'_>,
    id: i64,
    kind: &str,
    actor: &Actor,
    from_slot: Option<DateTime<Utc>>,
    to_slot: Option<DateTime<Utc>>,
    reason: Option<&str>,
) -> Result<(), StoreError> {
    ctx.conn.execute(
        "INSERT INTO appointment_changes (appointment_id, kind, at, staff_id, from_slot, to_slot, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, kind, ctx.now, actor.staff_id, from_slot, to_slot, reason],
    )?;
    Ok(())
}

fn load(
    conn: &Connection,
    where_clause: &str,
    p: impl rusqlite::Params,
) -> Result<Option<AppointmentView>, StoreError> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT id, code, service, slot_start, slot_end, state, request_id, ticket_id FROM appointments
             WHERE {where_clause}"
        ))?
        .query_row(p, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, DateTime<Utc>>(3)?,
                r.get::<_, DateTime<Utc>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, Option<i64>>(7)?,
            ))
        })
        .optional()?;
    raw.map(
        |(id, code, service, slot_start, slot_end, state, request_id, ticket_id)| {
            Ok(AppointmentView {
                id,
                code,
                service: parse_code(&service, "service", |s| s.parse().ok())?,
                slot_start,
                slot_end,
                state: parse_code(&state, "appointment state", state_from)?,
                request_id,
                ticket_id,
                history: history(conn, id)?,
            })
        },
    )
    .transpose()
}

fn reload(conn: &Connection, id: i64) -> Result<AppointmentView, StoreError> {
    load(conn, "id = ?1", [id])?.ok_or_else(|| StoreError::Internal("appointment vanished".into()))
}

pub fn appointment_by_code(conn: &Connection, code: &str) -> Result<AppointmentView, StoreError> {
    let code = normalise_code(code);
    load(conn, "code = ?1", [&code])?.ok_or_else(|| {
        StoreError::Unknown(
            "unknown_appointment",
            format!("no appointment has the code {code}: please check it or ask at a counter"),
        )
    })
}

/// How many appointments one slot of `service` takes: one per counter that serves it,
/// times the configured appointments per counter per slot.
fn capacity(cfg: &Config, service: ServiceType) -> u32 {
    let counters = cfg
        .counters
        .values()
        .filter(|c| c.services.contains(&service))
        .count() as u32;
    counters.saturating_mul(cfg.policies.per_counter)
}

/// The slots of `service` on local date `day`: from opening to closing in steps of the
/// slot length; none on a holiday or a closed weekday.
pub fn slots(
    conn: &Connection,
    cfg: &Config,
    service: ServiceType,
    day: NaiveDate,
) -> Result<Vec<SlotView>, StoreError> {
    cfg.require_service(service)?;
    let Some((open, close)) = cfg.opening_on(day) else {
        return Ok(Vec::new());
    };
    let step = Duration::minutes(i64::from(cfg.policies.slot_minutes));
    let capacity = capacity(cfg, service);
    let mut out = Vec::new();
    let mut t = open;
    let mut count = conn.prepare_cached(
        "SELECT count(*) FROM appointments WHERE service = ?1 AND slot_start = ?2 AND state <> 'cancelled'",
    )?;
    // Slots end by closing time (`t + step` must not wrap past midnight).
    while t.overflowing_add_signed(step).1 == 0 && t + step <= close {
        let local = day.and_time(t);
        let start = match local.and_local_timezone(cfg.centre.utc_offset) {
            chrono::LocalResult::Single(s) => s.with_timezone(&Utc),
            _ => break,
        };
        let booked: u32 = count.query_row(params![service.code(), start], |r| r.get(0))?;
        out.push(SlotView {
            start,
            end: start + step,
            capacity,
            booked,
        });
        t += step;
    }
    Ok(out)
}

/// The slot starting exactly at `start`, with room for one more; otherwise the reason.
fn check_slot(
    conn: &Connection,
    cfg: &Config,
    service: ServiceType,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<SlotView, StoreError> {
    if start <= now {
        return Err(StoreError::invalid(
            "slot_start",
            "an appointment is booked for a time still to come",
        ));
    }
    if start > now + Duration::days(MAX_DAYS_AHEAD) {
        return Err(StoreError::invalid(
            "slot_start",
            format!("appointments are booked at most {MAX_DAYS_AHEAD} days ahead"),
        ));
    }
    let day = start.with_timezone(&cfg.centre.utc_offset).date_naive();
    let all = slots(conn, cfg, service, day)?;
    if all.is_empty() {
        return Err(StoreError::invalid(
            "slot_start",
            format!("the centre is closed on {day}"),
        ));
    }
    let slot = all.into_iter().find(|s| s.start == start).ok_or_else(|| {
        StoreError::invalid(
            "slot_start",
            "not the start of a bookable slot: pick one from the slot list",
        )
    })?;
    if slot.booked >= slot.capacity {
        return Err(StoreError::Rule(
            "slot_full",
            "this slot is fully booked: pick another".into(),
        ));
    }
    Ok(slot)
}

/// GB/T 8.1 预约: staff book a slot for a request that arrived by phone, letter, fax,
/// web or SMS; the request starts in its `appointment` stage.
pub fn book_appointment(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    req: &CreateAppointment,
) -> Result<AppointmentView, StoreError> {
    cfg.require_service(req.service)?;
    let slot = check_slot(ctx.conn, cfg, req.service, req.slot_start, ctx.now)?;
    let actor = session.actor();
    let request = create_request(
        ctx,
        cfg,
        &actor,
        &CreateRequest {
            service: req.service,
            channel: req.channel,
            ticket_id: None,
            intake: req.intake.clone(),
            start_stage: Some(RequestStage::Appointment),
            confirmed_by_customer: true,
            contact: req.contact.clone(),
            fees_acknowledged: None,
        },
    )?;
    let code = loop {
        let code = crate::auth::random_text(CODE_ALPHABET, CODE_LEN);
        let taken: bool = ctx.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM appointments WHERE code = ?1)",
            [&code],
            |r| r.get(0),
        )?;
        if !taken {
            break code;
        }
    };
    ctx.conn.execute(
        "INSERT INTO appointments (code, service, slot_start, slot_end, state, request_id, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, 'booked', ?5, ?6, ?7)",
        params![
            code,
            req.service.code(),
            slot.start,
            slot.end,
            request.id,
            ctx.now,
            session.staff_id
        ],
    )?;
    let id = ctx.conn.last_insert_rowid();
    record_change(ctx, id, "booked", &actor, None, Some(slot.start), None)?;
    ctx.emit(HubEvent::AppointmentBooked {
        appointment_id: id,
        request_id: request.id,
        service: req.service,
        slot_start: slot.start,
    })?;
    ctx.audit(
        &actor,
        "appointment_book",
        &format!("appointment {id} for request {}", request.id),
    )?;
    let view = reload(ctx.conn, id)?;
    super::sms::on_appointment_booked(ctx, cfg, &view)?;
    Ok(view)
}

fn require_booked(a: &AppointmentView) -> Result<(), StoreError> {
    if a.state == AppointmentState::Booked {
        Ok(())
    } else {
        Err(StoreError::Rule(
            "appointment_closed",
            format!(
                "appointment {} is {} and can no longer change",
                a.code,
                state_code(a.state)
            ),
        ))
    }
}

fn clean_reason(reason: &Option<String>) -> Result<Option<&str>, StoreError> {
    match reason.as_deref().map(str::trim) {
        Some(r) if r.chars().count() > 200 => {
            Err(StoreError::invalid("reason", "at most 200 characters"))
        }
        Some("") | None => Ok(None),
        Some(r) => Ok(Some(r)),
    }
}

/// Moves a booked appointment to another slot; the old slot is kept in the history.
pub fn reschedule(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    code: &str,
    req: &Reschedule,
) -> Result<AppointmentView, StoreError> {
    let a = appointment_by_code(ctx.conn, code)?;
    require_booked(&a)?;
    let reason = clean_reason(&req.reason)?;
    if req.slot_start == a.slot_start {
        return Ok(a);
    }
    let slot = check_slot(ctx.conn, cfg, a.service, req.slot_start, ctx.now)?;
    ctx.conn.execute(
        "UPDATE appointments SET slot_start = ?2, slot_end = ?3 WHERE id = ?1",
        params![a.id, slot.start, slot.end],
    )?;
    let actor = session.actor();
    record_change(
        ctx,
        a.id,
        "rescheduled",
        &actor,
        Some(a.slot_start),
        Some(slot.start),
        reason,
    )?;
    ctx.emit(HubEvent::AppointmentChanged {
        appointment_id: a.id,
        change: "rescheduled".into(),
        slot_start: slot.start,
    })?;
    ctx.audit(
        &actor,
        "appointment_reschedule",
        &format!("appointment {}", a.id),
    )?;
    let view = reload(ctx.conn, a.id)?;
    super::sms::on_appointment_booked(ctx, cfg, &view)?;
    Ok(view)
}

/// Cancels a booked appointment; its slot frees up and the history keeps the reason.
pub fn cancel(
    ctx: &mut WriteCtx<'_>,
    session: &Session,
    code: &str,
    reason: &Option<String>,
) -> Result<AppointmentView, StoreError> {
    let a = appointment_by_code(ctx.conn, code)?;
    require_booked(&a)?;
    let reason = clean_reason(reason)?;
    ctx.conn.execute(
        "UPDATE appointments SET state = 'cancelled' WHERE id = ?1",
        [a.id],
    )?;
    let actor = session.actor();
    record_change(
        ctx,
        a.id,
        "cancelled",
        &actor,
        Some(a.slot_start),
        None,
        reason,
    )?;
    ctx.emit(HubEvent::AppointmentChanged {
        appointment_id: a.id,
        change: "cancelled".into(),
        slot_start: a.slot_start,
    })?;
    ctx.audit(
        &actor,
        "appointment_cancel",
        &format!("appointment {}", a.id),
    )?;
    super::sms::drop_for_appointment(ctx, a.id, "appointment cancelled")?;
    reload(ctx.conn, a.id)
}

/// Booked appointments whose check-in window closed become no-shows, each exactly once
/// (the state changes in the same statement that selects it).
pub fn sweep_no_shows(ctx: &mut WriteCtx<'_>, cfg: &Config) -> Result<u32, StoreError> {
    let cutoff = ctx.now - Duration::minutes(i64::from(cfg.policies.late_minutes));
    let missed: Vec<(i64, DateTime<Utc>)> = ctx
        .conn
        .prepare_cached(
            "UPDATE appointments SET state = 'no_show' WHERE state = 'booked' AND slot_start < ?1
             RETURNING id, slot_start",
        )?
        .query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, slot_start) in &missed {
        record_change(
            ctx,
            *id,
            "no_show",
            &Actor::system(),
            Some(*slot_start),
            None,
            None,
        )?;
        ctx.audit(
            &Actor::system(),
            "appointment_no_show",
            &format!("appointment {id}"),
        )?;
        ctx.emit(HubEvent::AppointmentChanged {
            appointment_id: *id,
            change: "no_show".into(),
            slot_start: *slot_start,
        })?;
        super::sms::drop_for_appointment(ctx, *id, "appointment missed")?;
    }
    Ok(missed.len() as u32)
}

/// GB/T 8.1: a booked customer checks in at the kiosk and gets an appointment-priority
/// ticket, within the configured early/late window. Checking in twice gives the same
/// ticket back.
pub fn check_in(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    req: &CheckIn,
) -> Result<CheckedIn, StoreError> {
    check_device(&req.device)?;
    let a = appointment_by_code(ctx.conn, &req.code)?;
    match a.state {
        AppointmentState::CheckedIn => {
            let ticket_id = a
                .ticket_id
                .ok_or_else(|| StoreError::Corrupt("checked in without a ticket".into()))?;
            let ticket = read_ticket(ctx.conn, ticket_id)?;
            let people_ahead = super::tickets::people_ahead(ctx.conn, ticket.id)?;
            return Ok(CheckedIn {
                appointment: a,
                ticket: IssuedTicket {
                    estimated_wait_secs: 0,
                    people_ahead,
                    seq: super::outbox::last_seq(ctx.conn)?,
                    ticket,
                },
                again: true,
            });
        }
        AppointmentState::Cancelled | AppointmentState::NoShow => {
            return Err(StoreError::Rule(
                "appointment_closed",
                format!(
                    "appointment {} was {}: please ask at a counter",
                    a.code,
                    if a.state == AppointmentState::Cancelled {
                        "cancelled"
                    } else {
                        "missed"
                    }
                ),
            ));
        }
        AppointmentState::Booked => {}
    }
    let opens = a.slot_start - Duration::minutes(i64::from(cfg.policies.early_minutes));
    let closes = a.slot_start + Duration::minutes(i64::from(cfg.policies.late_minutes));
    let local = |t: DateTime<Utc>| cfg.local_format(t, "%Y-%m-%d %H:%M");
    if ctx.now < opens {
        return Err(StoreError::Rule(
            "too_early",
            format!(
                "check-in for {} opens at {}; please come back then or take a normal ticket",
                a.code,
                local(opens)
            ),
        ));
    }
    if ctx.now > closes {
        return Err(StoreError::Rule(
            "too_late",
            format!(
                "check-in for {} closed at {}; please take a normal ticket or ask at a counter",
                a.code,
                local(closes)
            ),
        ));
    }
    let ticket = issue_ticket(
        ctx,
        cfg,
        &IssueTicket {
            service: a.service,
            class: PriorityClass::Appointment,
            channel: domain::Channel::OnSite,
            device: req.device.clone(),
        },
    )?;
    ctx.conn.execute(
        "UPDATE appointments SET state = 'checked_in', ticket_id = ?2 WHERE id = ?1",
        params![a.id, ticket.ticket.id],
    )?;
    ctx.conn.execute(
        "UPDATE requests SET ticket_id = ?2 WHERE id = ?1",
        params![a.request_id, ticket.ticket.id],
    )?;
    let actor = Actor {
        staff_id: None,
        device: req.device.clone(),
    };
    record_change(
        ctx,
        a.id,
        "checked_in",
        &actor,
        Some(a.slot_start),
        None,
        None,
    )?;
    ctx.emit(HubEvent::AppointmentCheckedIn {
        appointment_id: a.id,
        ticket_id: ticket.ticket.id,
    })?;
    super::sms::drop_for_appointment(ctx, a.id, "customer checked in")?;
    Ok(CheckedIn {
        appointment: reload(ctx.conn, a.id)?,
        ticket,
        again: false,
    })
}

/// GB/T 8.1: a request waiting for its appointment moves on only while the appointment
/// stands; a cancelled or missed one closes that path.
pub(crate) fn check_request_may_leave_appointment(
    conn: &Connection,
    request_id: i64,
) -> Result<(), StoreError> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM appointments WHERE request_id = ?1")?
        .query_row([request_id], |r| r.get(0))
        .optional()?;
    match state.as_deref() {
        Some("cancelled") | Some("no_show") => Err(StoreError::Rule(
            "appointment_closed",
            format!(
                "the appointment of request {request_id} was cancelled or missed: book again or record a new request"
            ),
        )),
        _ => Ok(()),
    }
}
