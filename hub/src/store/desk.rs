//! What the kiosk and the counter desk need beyond tickets and requests: the kiosk's
//! intake (request and ticket together), device alerts, appointments and their check-in
//! (GB/T 8.1), ratings (9.1.2), the counter's waiting list and figures (4.1.1, 4.1.2),
//! versioned service agreements (8.2) and follow-up calls (8.1 回访).

use chrono::{DateTime, Duration, Utc};
use domain::{Fen, PriorityClass, QuoteLine, RequestStage, ServiceType, TicketState};
use protocol::{
    AgreementView, AlertKind, AlertView, CounterToday, CreateRequest, DeviceAlert, DraftAgreement,
    FollowUpDue, FollowUpView, HubEvent, IntakeReceipt, IssueTicket, KioskIntake, Rate,
    RatingReason, RatingView, RecordFollowUp, RequestView, TicketView, WaitingList, WaitingTicket,
};
use rusqlite::{Connection, params};

use super::day::{current_day, secs_between};
use super::requests::{advance_request, create_request, read_request};
use super::tickets::{issue_ticket, load_many, read_ticket};
use super::{Actor, Session, StoreError, WriteCtx, parse_code};
use crate::config::Config;

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn check_device(device: &Option<String>) -> Result<(), StoreError> {
    match device {
        Some(d) if d.is_empty() || d.len() > 64 => {
            Err(StoreError::invalid("device", "1 to 64 characters"))
        }
        _ => Ok(()),
    }
}

fn device_actor(device: &Option<String>, fallback: &str) -> Actor {
    Actor {
        staff_id: None,
        device: Some(device.clone().unwrap_or_else(|| fallback.to_owned())),
    }
}

// ------------------------------------------------------------------ kiosk intake

/// The kiosk's intake: the request and its ticket commit together or not at all.
/// GB/T 4.2.3, 8.4.1: a paid service needs the customer's acknowledgement of the
/// published fee list, stored with the request.
pub fn kiosk_intake(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    req: &KioskIntake,
) -> Result<IntakeReceipt, StoreError> {
    check_device(&req.device)?;
    let service = cfg.require_service(req.service)?;
    if !req.confirmed_by_customer {
        return Err(StoreError::invalid(
            "confirmed_by_customer",
            "the customer must confirm the summary before it is saved (GB/T 6.1.2)",
        ));
    }
    if service.spec.paid && req.fees_acknowledged.is_none() {
        return Err(StoreError::Rule(
            "fees_not_acknowledged",
            format!(
                "{} is a paid service: the customer must see and acknowledge the fee list first (GB/T 4.2.3)",
                req.service.code()
            ),
        ));
    }
    if req.class == PriorityClass::Appointment {
        return Err(StoreError::invalid(
            "class",
            "appointment tickets come from an appointment check-in",
        ));
    }
    let ticket = issue_ticket(
        ctx,
        cfg,
        &IssueTicket {
            service: req.service,
            class: req.class,
            channel: domain::Channel::OnSite,
            device: req.device.clone(),
        },
    )?;
    let request = create_request(
        ctx,
        cfg,
        &device_actor(&req.device, "kiosk"),
        &CreateRequest {
            service: req.service,
            channel: domain::Channel::OnSite,
            ticket_id: Some(ticket.ticket.id),
            intake: req.intake.clone(),
            start_stage: None,
            confirmed_by_customer: true,
            contact: req.contact.clone(),
            fees_acknowledged: req.fees_acknowledged.clone(),
        },
    )?;
    Ok(IntakeReceipt { request, ticket })
}

/// The requests made for ticket `ticket_id` (normally one), oldest first.
pub fn requests_for_ticket(
    conn: &Connection,
    cfg: &Config,
    ticket_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<RequestView>, StoreError> {
    read_ticket(conn, ticket_id)?;
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM requests WHERE ticket_id = ?1 ORDER BY id")?
        .query_map([ticket_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    ids.into_iter()
        .map(|id| read_request(conn, cfg, id, now))
        .collect()
}

// ------------------------------------------------------------------ device alerts

fn alert_code(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::PrinterPaperOut => "printer_paper_out",
        AlertKind::PrinterFault => "printer_fault",
        AlertKind::TerminalFault => "terminal_fault",
        AlertKind::ScannerFault => "scanner_fault",
    }
}

fn alert_from_code(s: &str) -> Option<AlertKind> {
    [
        AlertKind::PrinterPaperOut,
        AlertKind::PrinterFault,
        AlertKind::TerminalFault,
        AlertKind::ScannerFault,
    ]
    .into_iter()
    .find(|k| alert_code(*k) == s)
}

/// A device reports a fault or its recovery. Only a change of state emits an event, so a
/// kiosk repeating its report does not flood staff.
pub fn report_alert(ctx: &mut WriteCtx<'_>, req: &DeviceAlert) -> Result<bool, StoreError> {
    check_device(&Some(req.device.clone()))?;
    if req.detail.as_ref().is_some_and(|d| d.chars().count() > 200) {
        return Err(StoreError::invalid("detail", "at most 200 characters"));
    }
    let code = alert_code(req.kind);
    let known: i64 = ctx
        .conn
        .query_row("SELECT count(*) FROM device_alerts", [], |r| r.get(0))?;
    let existed: bool = ctx.conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM device_alerts WHERE device = ?1 AND kind = ?2)",
        params![req.device, code],
        |r| r.get(0),
    )?;
    if req.active && !existed && known >= MAX_ALERTS {
        return Err(StoreError::Rule(
            "too_many_alerts",
            "too many device alerts are open: staff must clear some first".into(),
        ));
    }
    if req.active {
        ctx.conn.execute(
            "INSERT INTO device_alerts (device, kind, detail, ticket_id, since) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (device, kind) DO UPDATE SET detail = excluded.detail,
                 ticket_id = coalesce(excluded.ticket_id, ticket_id)",
            params![req.device, code, req.detail, req.ticket_id, ctx.now],
        )?;
    } else {
        ctx.conn.execute(
            "DELETE FROM device_alerts WHERE device = ?1 AND kind = ?2",
            params![req.device, code],
        )?;
    }
    let changed = existed != req.active;
    if changed {
        ctx.emit(HubEvent::DeviceAlert {
            device: req.device.clone(),
            kind: req.kind,
            active: req.active,
        })?;
        ctx.audit(
            &device_actor(&Some(req.device.clone()), "device"),
            if req.active {
                "device_alert"
            } else {
                "device_alert_cleared"
            },
            &format!(
                "{code}: {}",
                super::untrusted(req.detail.as_deref().unwrap_or("-"))
            ),
        )?;
    }
    Ok(changed)
}

/// Open alerts kept at most (one per device and kind).
const MAX_ALERTS: i64 = 200;

pub fn active_alerts(conn: &Connection) -> Result<Vec<AlertView>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT device, kind, detail, ticket_id, since FROM device_alerts ORDER BY since, device",
    )?;
    let raw = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, DateTime<Utc>>(4)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter()
        .map(|(device, kind, detail, ticket_id, since)| {
            Ok(AlertView {
                device,
                kind: parse_code(&kind, "alert kind", alert_from_code)?,
                detail,
                ticket_id,
                since,
            })
        })
        .collect()
}

// ------------------------------------------------------------------ ratings

fn check_score(score: u8, field: &str) -> Result<(), StoreError> {
    if (1..=5).contains(&score) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            field,
            "a rating is 1 (very dissatisfied) to 5 (very satisfied)",
        ))
    }
}

#[allow(clippy::too_many_arguments)]
fn insert_rating(
    ctx: &mut WriteCtx<'_>,
    ticket: Option<&TicketView>,
    request_id: Option<i64>,
    service: ServiceType,
    score: u8,
    reasons: &[RatingReason],
    comment: Option<&str>,
    via: &str,
) -> Result<RatingView, StoreError> {
    let inserted = ctx.conn.execute(
        "INSERT INTO ratings (ticket_id, request_id, service, score, reasons, comment, via, counter, staff_id, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING",
        params![
            ticket.map(|t| t.id),
            request_id,
            service.code(),
            score,
            to_json(&reasons)?,
            comment,
            via,
            ticket.and_then(|t| t.counter),
            ticket.and_then(|t| t.staff_id.clone()),
            ctx.now
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::Rule(
            "already_rated",
            "this visit has already been rated: thank you".into(),
        ));
    }
    let id = ctx.conn.last_insert_rowid();
    ctx.emit(HubEvent::RatingGiven {
        rating_id: id,
        ticket_id: ticket.map(|t| t.id),
        request_id,
        service,
        score,
        via: via.to_owned(),
        counter: ticket.and_then(|t| t.counter),
        staff_id: ticket.and_then(|t| t.staff_id.clone()),
    })?;
    Ok(RatingView {
        id,
        ticket_id: ticket.map(|t| t.id),
        request_id,
        score,
        reasons: reasons.to_vec(),
        via: via.to_owned(),
        at: ctx.now,
    })
}

/// How long after finishing a visit can be rated at the kiosk.
const RATING_WINDOW_MINUTES: i64 = 60;
/// Unreached follow-up calls after which a request leaves the follow-up list.
const MAX_FOLLOW_UP_ATTEMPTS: u32 = 3;

/// Each reason once, in the standard order (so counts in reports are not skewed).
fn unique_reasons(reasons: &[RatingReason]) -> Result<Vec<RatingReason>, StoreError> {
    if reasons.len() > RatingReason::ALL.len() {
        return Err(StoreError::invalid("reasons", "each reason at most once"));
    }
    let out: Vec<RatingReason> = RatingReason::ALL
        .into_iter()
        .filter(|r| reasons.contains(r))
        .collect();
    if out.len() != reasons.len() {
        return Err(StoreError::invalid("reasons", "each reason at most once"));
    }
    Ok(out)
}

/// GB/T 9.1.2: the customer rates the visit just finished, once.
pub fn rate_ticket(
    ctx: &mut WriteCtx<'_>,
    ticket_id: i64,
    req: &Rate,
) -> Result<RatingView, StoreError> {
    check_score(req.score, "score")?;
    if !matches!(req.via.as_str(), "kiosk" | "feedback_terminal") {
        return Err(StoreError::invalid(
            "via",
            "`kiosk` or `feedback_terminal` (follow-up calls record their evaluation themselves)",
        ));
    }
    let reasons = unique_reasons(&req.reasons)?;
    if req
        .comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > 500)
    {
        return Err(StoreError::invalid("comment", "at most 500 characters"));
    }
    let ticket = read_ticket(ctx.conn, ticket_id)?;
    if ticket.state != TicketState::Finished {
        return Err(StoreError::Rule(
            "not_finished",
            format!("{} has not been served yet", ticket.number),
        ));
    }
    // A rating is about the visit just finished, by the customer still there.
    if ticket
        .finished_at
        .is_some_and(|f| f + Duration::minutes(RATING_WINDOW_MINUTES) < ctx.now)
    {
        return Err(StoreError::Rule(
            "rating_closed",
            format!(
                "{} finished more than {RATING_WINDOW_MINUTES} minutes ago",
                ticket.number
            ),
        ));
    }
    let request_id: Option<i64> = ctx
        .conn
        .prepare_cached("SELECT min(id) FROM requests WHERE ticket_id = ?1")?
        .query_row([ticket_id], |r| r.get(0))?;
    insert_rating(
        ctx,
        Some(&ticket),
        request_id,
        ticket.service,
        req.score,
        &reasons,
        req.comment.as_deref(),
        &req.via,
    )
}

// ------------------------------------------------------------------ counter desk

/// Waiting tickets in calling order per service (priority lane first) and tickets on
/// hold, with GB/T 4.1.2's promised waiting limit checked for each.
pub fn waiting_list(
    conn: &Connection,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<WaitingList, StoreError> {
    let Some(day) = current_day(conn)? else {
        return Ok(WaitingList {
            waiting: Vec::new(),
            on_hold: Vec::new(),
        });
    };
    let tickets = load_many(
        conn,
        "t.day_id = ?1 AND t.state = 'waiting' ORDER BY t.service, t.class = 'normal', t.queue_key, t.id",
        [day.id],
    )?;
    let mut for_counter = conn.prepare_cached("SELECT for_counter FROM tickets WHERE id = ?1")?;
    let mut waiting = Vec::with_capacity(tickets.len());
    for ticket in tickets {
        let waited_secs = secs_between(ticket.issued_at, now);
        let limit = cfg
            .service(ticket.service)
            .map_or(u32::MAX, |s| s.wait_limit_minutes.saturating_mul(60));
        waiting.push(WaitingTicket {
            for_counter: for_counter.query_row([ticket.id], |r| r.get(0))?,
            overdue: waited_secs > limit,
            waited_secs,
            ticket,
        });
    }
    let on_hold = load_many(
        conn,
        "t.day_id = ?1 AND t.state = 'on_hold' ORDER BY t.counter, t.id",
        [day.id],
    )?;
    Ok(WaitingList { waiting, on_hold })
}

/// Today's figures for one counter (GB/T 4.1.1 response and service times).
pub fn counter_today(
    conn: &Connection,
    cfg: &Config,
    counter: u32,
) -> Result<CounterToday, StoreError> {
    if !cfg.counters.contains_key(&counter) {
        return Err(StoreError::NotFound(format!("counter {counter}")));
    }
    let Some(day) = current_day(conn)? else {
        return Ok(CounterToday {
            counter,
            ..CounterToday::default()
        });
    };
    let (served, no_shows, mean_service, mean_wait): (u32, u32, Option<f64>, Option<f64>) = conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE state = 'finished'),
                    count(*) FILTER (WHERE state = 'no_show'),
                    avg(service_secs) FILTER (WHERE state = 'finished'),
                    avg((julianday(called_at) - julianday(issued_at)) * 86400.0) FILTER (WHERE called_at IS NOT NULL)
             FROM tickets WHERE day_id = ?1 AND counter = ?2",
        )?
        .query_row(params![day.id, counter], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    let transferred: u32 = conn
        .prepare_cached("SELECT count(*) FROM transfers WHERE day_id = ?1 AND from_counter = ?2")?
        .query_row(params![day.id, counter], |r| r.get(0))?;
    let secs = |v: Option<f64>| v.map(|s| s.max(0.0).round() as u32);
    Ok(CounterToday {
        counter,
        served,
        no_shows,
        transferred,
        mean_service_secs: secs(mean_service),
        mean_wait_secs: secs(mean_wait),
    })
}

// ------------------------------------------------------------------ agreements

fn required_text(value: &str, field: &str, max: usize) -> Result<String, StoreError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(StoreError::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(StoreError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

/// GB/T 8.2: a service agreement stating content, time, place, every fee with its
/// breakdown (from the current quote), the change procedure and the technician. A change
/// is a new version; earlier versions stay as they were.
pub fn write_agreement(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    request_id: i64,
    req: &DraftAgreement,
) -> Result<AgreementView, StoreError> {
    let request = read_request(ctx.conn, cfg, request_id, ctx.now)?;
    let content = required_text(&req.content, "content", 2000)?;
    let time = required_text(&req.time, "time", 100)?;
    let place = required_text(&req.place, "place", 200)?;
    let technician = required_text(&req.technician, "technician", 50)?;
    let change_procedure = match &req.change_procedure {
        Some(p) => required_text(p, "change_procedure", 1000)?,
        None => cfg.centre.change_procedure_zh.clone(),
    };
    // GB/T 4.2.3: paid work states all its fees.
    if request.paid && request.quote.is_none() {
        return Err(StoreError::Rule(
            "quote_required",
            "make the itemised quote first: the agreement states every fee".into(),
        ));
    }
    let (quote_version, lines, total) = match &request.quote {
        Some(q) => (Some(q.version), q.lines.clone(), q.total),
        None => (None, Vec::<QuoteLine>::new(), Fen(0)),
    };
    let version: u32 = ctx
        .conn
        .prepare_cached(
            "SELECT coalesce(max(version), 0) + 1 FROM agreements WHERE request_id = ?1",
        )?
        .query_row([request_id], |r| r.get(0))?;
    ctx.conn.execute(
        "INSERT INTO agreements (request_id, version, content, time, place, technician, change_procedure,
             quote_version, lines, total, staff_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            request_id,
            version,
            content,
            time,
            place,
            technician,
            change_procedure,
            quote_version,
            to_json(&lines)?,
            total.0,
            session.staff_id,
            ctx.now
        ],
    )?;
    ctx.emit(HubEvent::AgreementWritten {
        request_id,
        version,
    })?;
    ctx.audit(
        &session.actor(),
        "agreement_write",
        &format!("request {request_id} agreement v{version}"),
    )?;
    agreements(ctx.conn, request_id)?
        .pop()
        .ok_or_else(|| StoreError::Internal("agreement vanished".into()))
}

/// Every version of a request's agreement, oldest first.
pub fn agreements(conn: &Connection, request_id: i64) -> Result<Vec<AgreementView>, StoreError> {
    let exists: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM requests WHERE id = ?1)",
        [request_id],
        |r| r.get(0),
    )?;
    if !exists {
        return Err(StoreError::NotFound(format!("request {request_id}")));
    }
    let mut stmt = conn.prepare_cached(
        "SELECT version, content, time, place, technician, change_procedure, quote_version, lines, total,
                staff_id, created_at
         FROM agreements WHERE request_id = ?1 ORDER BY version",
    )?;
    let raw = stmt
        .query_map([request_id], |r| {
            Ok((
                AgreementView {
                    request_id,
                    version: r.get(0)?,
                    content: r.get(1)?,
                    time: r.get(2)?,
                    place: r.get(3)?,
                    technician: r.get(4)?,
                    change_procedure: r.get(5)?,
                    quote_version: r.get(6)?,
                    lines: Vec::new(),
                    total: Fen(r.get(8)?),
                    staff_id: r.get(9)?,
                    created_at: r.get(10)?,
                },
                r.get::<_, String>(7)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter()
        .map(|(mut a, lines)| {
            a.lines = from_json(&lines, "agreement lines")?;
            Ok(a)
        })
        .collect()
}

// ------------------------------------------------------------------ follow-ups

/// GB/T 8.1 回访: archived requests whose follow-up call is due, most overdue first —
/// only for customers who left a phone number for service calls (GB/T 5.4), and no
/// more after three unanswered attempts.
pub fn follow_ups_due(
    conn: &Connection,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<FollowUpDue>, StoreError> {
    let delay = Duration::hours(i64::from(cfg.policies.follow_up_after_hours));
    let rows: Vec<(i64, Option<DateTime<Utc>>, u32)> = conn
        .prepare_cached(
            "SELECT r.id, r.resolved_at, (SELECT count(*) FROM follow_ups f WHERE f.request_id = r.id) AS n
             FROM requests r JOIN customers c ON c.id = r.customer_id
             WHERE r.stage = 'archiving' AND c.consent_updates AND c.erased_at IS NULL AND c.phone IS NOT NULL
               AND n < ?1
             ORDER BY r.resolved_at, r.id",
        )?
        .query_map([MAX_FOLLOW_UP_ATTEMPTS], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (id, resolved_at, attempts) in rows {
        let due = resolved_at.unwrap_or(now) + delay;
        if due <= now {
            out.push(FollowUpDue {
                request: read_request(conn, cfg, id, now)?,
                due,
                attempts,
            });
        }
    }
    Ok(out)
}

/// Records a follow-up call. Reaching the customer moves the request to `follow_up`; an
/// evaluation given on the call moves it to `evaluation` and counts as satisfaction data
/// (GB/T 9.1.2).
pub fn record_follow_up(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    request_id: i64,
    req: &RecordFollowUp,
) -> Result<FollowUpView, StoreError> {
    let request = read_request(ctx.conn, cfg, request_id, ctx.now)?;
    // A call that reached the customer without an evaluation may be followed by one
    // that records it.
    let evaluation_later =
        request.stage == RequestStage::FollowUp && req.reached && req.score.is_some();
    if request.stage != RequestStage::Archiving && !evaluation_later {
        return Err(StoreError::Rule(
            "not_due",
            format!(
                "request {request_id} is in stage {}: follow-up calls are for archived requests",
                request.stage.code()
            ),
        ));
    }
    let note = required_text(&req.note, "note", 1000)?;
    let reasons = unique_reasons(&req.reasons)?;
    if let Some(score) = req.score {
        check_score(score, "score")?;
        if !req.reached {
            return Err(StoreError::invalid(
                "score",
                "an evaluation needs the customer reached",
            ));
        }
    }
    ctx.conn.execute(
        "INSERT INTO follow_ups (request_id, reached, note, score, staff_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![request_id, req.reached, note, req.score, session.staff_id, ctx.now],
    )?;
    ctx.emit(HubEvent::FollowUpRecorded {
        request_id,
        reached: req.reached,
    })?;
    ctx.audit(
        &session.actor(),
        "follow_up",
        &format!(
            "request {request_id}: {}",
            if req.reached {
                "reached"
            } else {
                "not reached"
            }
        ),
    )?;
    if req.reached {
        if request.stage == RequestStage::Archiving {
            advance_request(ctx, cfg, session, request_id, RequestStage::FollowUp)?;
        }
        if let Some(score) = req.score {
            let ticket = request
                .ticket_id
                .map(|t| read_ticket(ctx.conn, t))
                .transpose()?;
            insert_rating(
                ctx,
                ticket.as_ref(),
                Some(request_id),
                request.service,
                score,
                &reasons,
                None,
                "follow_up",
            )?;
            advance_request(ctx, cfg, session, request_id, RequestStage::Evaluation)?;
        }
    }
    Ok(FollowUpView {
        request_id,
        reached: req.reached,
        note,
        score: req.score,
        staff_id: session.staff_id.clone(),
        at: ctx.now,
    })
}
