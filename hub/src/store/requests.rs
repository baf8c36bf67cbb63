//! Service requests through the GB/T 8.1 stages with their deadlines (4.1.2, 5.5.2);
//! itemised quotes that must be acknowledged before paid work (4.2.3, 8.4.1); payments
//! with idempotency keys (8.4.2); refunds due in 5 working days (8.4.3).

use chrono::{DateTime, NaiveDate, Utc};
use domain::request::{Deadlines, check_advance};
use domain::{Fen, Quote, QuoteLine, RequestStage};
use protocol::{
    AcknowledgeQuote, CreateRequest, FeeAcknowledgement, HubEvent, Intake, MakeQuote,
    PaymentMethod, PaymentView, QuoteView, RecordPayment, RecordRefund, RefundView, RequestView,
    StageStamp,
};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Actor, Session, StoreError, WriteCtx, parse_code};
use crate::config::Config;

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn latest_quote(conn: &Connection, request_id: i64) -> Result<Option<QuoteView>, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT version, lines, total, digest, created_at, acknowledged_at, acknowledged_via FROM quotes
             WHERE request_id = ?1 ORDER BY version DESC LIMIT 1",
        )?
        .query_row([request_id], |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, DateTime<Utc>>(4)?,
                r.get::<_, Option<DateTime<Utc>>>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })
        .optional()?;
    row.map(
        |(version, lines, total, digest, created_at, acknowledged_at, acknowledged_via)| {
            Ok(QuoteView {
                version,
                lines: from_json::<Vec<QuoteLine>>(&lines, "quote lines")?,
                total: Fen(total),
                digest,
                created_at,
                acknowledged_at,
                acknowledged_via,
            })
        },
    )
    .transpose()
}

pub fn read_request(
    conn: &Connection,
    cfg: &Config,
    id: i64,
    now: DateTime<Utc>,
) -> Result<RequestView, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT service, channel, ticket_id, stage, intake, created_at, reply_due, resolve_due, answered_at, resolved_at,
                 customer_id, fees_ack_digest, fees_ack_at, fees_ack_via
             FROM requests WHERE id = ?1",
        )?
        .query_row([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, DateTime<Utc>>(5)?,
                r.get::<_, Option<DateTime<Utc>>>(6)?,
                r.get::<_, Option<DateTime<Utc>>>(7)?,
                r.get::<_, Option<DateTime<Utc>>>(8)?,
                r.get::<_, Option<DateTime<Utc>>>(9)?,
                (
                    r.get::<_, Option<i64>>(10)?,
                    r.get::<_, Option<String>>(11)?,
                    r.get::<_, Option<DateTime<Utc>>>(12)?,
                    r.get::<_, Option<String>>(13)?,
                ),
            ))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("request {id}")))?;
    let (
        service,
        channel,
        ticket_id,
        stage,
        intake,
        created_at,
        reply_due,
        resolve_due,
        answered_at,
        resolved_at,
        (customer_id, ack_digest, ack_at, ack_via),
    ) = row;
    let service: domain::ServiceType = parse_code(&service, "service", |s| s.parse().ok())?;
    let history = {
        let mut stmt = conn.prepare_cached(
            "SELECT stage, at, staff_id FROM request_stages WHERE request_id = ?1 ORDER BY at",
        )?;
        let raw = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, DateTime<Utc>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut h = raw
            .into_iter()
            .map(|(s, at, staff_id)| {
                Ok(StageStamp {
                    stage: parse_code(&s, "stage", RequestStage::from_code)?,
                    at,
                    staff_id,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        h.sort_by_key(|s| s.stage);
        h
    };
    // GB/T 4.1.2, 5.5.2: overdue when a deadline passed before its stage was reached.
    let overdue = match resolve_due {
        Some(resolve_due) => Deadlines {
            reply_due,
            resolve_due,
        }
        .overdue(now, answered_at, resolved_at),
        _ => false,
    };
    Ok(RequestView {
        id,
        service,
        channel: parse_code(&channel, "channel", |s| s.parse().ok())?,
        ticket_id,
        stage: parse_code(&stage, "stage", RequestStage::from_code)?,
        intake: from_json::<Intake>(&intake, "intake")?,
        paid: cfg.service(service).is_some_and(|s| s.spec.paid),
        created_at,
        reply_due,
        resolve_due,
        answered_at,
        resolved_at,
        overdue,
        history,
        quote: latest_quote(conn, id)?,
        contact: customer_id
            .map(|c| super::customers::read_contact(conn, c, false))
            .transpose()?
            .flatten(),
        fees_acknowledged: match (ack_digest, ack_at) {
            (Some(digest), Some(at)) => Some(FeeAcknowledgement {
                digest,
                at,
                via: ack_via.unwrap_or_default(),
            }),
            _ => None,
        },
        payments: payments_of(conn, id)?,
        refunds: refunds_where(
            conn,
            cfg.local_date(now),
            "request_id = ?1 ORDER BY id",
            [id],
        )?,
        agreement_version: conn
            .prepare_cached("SELECT max(version) FROM agreements WHERE request_id = ?1")?
            .query_row([id], |r| r.get(0))?,
    })
}

fn payments_of(conn: &Connection, request_id: i64) -> Result<Vec<PaymentView>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, request_id, amount, method, reference, at, staff_id FROM payments
         WHERE request_id = ?1 ORDER BY id",
    )?;
    let raw = stmt
        .query_map([request_id], payment_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter()
        .map(|(mut v, method)| {
            v.method = parse_code(&method, "payment method", PaymentMethod::from_code)?;
            Ok(v)
        })
        .collect()
}

fn stamp_stage(
    ctx: &WriteCtx<'_>,
    id: i64,
    stage: RequestStage,
    actor: &Actor,
) -> Result<(), StoreError> {
    ctx.conn.execute(
        "INSERT INTO request_stages (request_id, stage, at, staff_id) VALUES (?1, ?2, ?3, ?4)",
        params![id, stage.code(), ctx.now, actor.staff_id],
    )?;
    Ok(())
}

fn set_deadlines(
    ctx: &WriteCtx<'_>,
    cfg: &Config,
    id: i64,
    service: domain::ServiceType,
) -> Result<Deadlines, StoreError> {
    let spec = &cfg.require_service(service)?.spec;
    // GB/T 4.1.2, 5.5.2: deadlines run from acceptance.
    let d = Deadlines::from_acceptance(ctx.now, spec);
    ctx.conn.execute(
        "UPDATE requests SET reply_due = ?2, resolve_due = ?3 WHERE id = ?1",
        params![id, d.reply_due, d.resolve_due],
    )?;
    Ok(d)
}

fn clean(text: &Option<String>, field: &str, max: usize) -> Result<(), StoreError> {
    if let Some(t) = text
        && t.chars().count() > max
    {
        return Err(StoreError::invalid(
            field,
            format!("at most {max} characters"),
        ));
    }
    Ok(())
}

/// Records a request (from the kiosk's intake, or typed in by staff for phone, letter,
/// fax, web or SMS requests, GB/T 4.2.2).
pub fn create_request(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    actor: &Actor,
    req: &CreateRequest,
) -> Result<RequestView, StoreError> {
    // GB/T 6.1.2: the summary was repeated back and confirmed before it is saved.
    if !req.confirmed_by_customer {
        return Err(StoreError::invalid(
            "confirmed_by_customer",
            "the customer must confirm the summary read back to them (GB/T 6.1.2)",
        ));
    }
    cfg.require_service(req.service)?;
    let start = req.start_stage.unwrap_or(RequestStage::Acceptance);
    if !start.is_valid_start() {
        return Err(domain::request::StageError::BadStart(start).into());
    }
    clean(&req.intake.product, "intake.product", 100)?;
    clean(&req.intake.model, "intake.model", 100)?;
    clean(&req.intake.serial_number, "intake.serial_number", 100)?;
    clean(&req.intake.problem, "intake.problem", 2000)?;
    clean(&req.intake.category, "intake.category", 50)?;
    clean(&req.intake.problem_code, "intake.problem_code", 50)?;
    clean(&req.intake.details, "intake.details", 2000)?;
    if let Some(date) = req.intake.purchase_date
        && date > cfg.local_date(ctx.now)
    {
        return Err(StoreError::invalid(
            "intake.purchase_date",
            "the purchase date cannot be in the future",
        ));
    }
    if let Some(c) = &req.contact {
        super::customers::validate_contact(c, "contact")?;
    }
    // GB/T 4.2.3: a customer recording a paid request themselves (no staff member to
    // read the fees to them) must have acknowledged the published list.
    if actor.staff_id.is_none()
        && cfg.require_service(req.service)?.spec.paid
        && req.fees_acknowledged.is_none()
    {
        return Err(StoreError::Rule(
            "fees_not_acknowledged",
            format!(
                "{} is a paid service: the customer must see and acknowledge the fee list first (GB/T 4.2.3)",
                req.service.code()
            ),
        ));
    }
    // GB/T 4.2.3: the acknowledged list must be the one published now.
    if let Some(digest) = &req.fees_acknowledged {
        let current = cfg.require_service(req.service)?.fee_digest();
        if *digest != current {
            return Err(StoreError::Rule(
                "fee_list_changed",
                "the fee list changed since the customer saw it: show it again".into(),
            ));
        }
    }
    if let Some(t) = req.ticket_id {
        super::tickets::read_ticket(ctx.conn, t)
            .map_err(|_| StoreError::invalid("ticket_id", format!("ticket {t} does not exist")))?;
    }
    ctx.conn.execute(
        "INSERT INTO requests (service, channel, ticket_id, stage, intake, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            req.service.code(),
            req.channel.code(),
            req.ticket_id,
            start.code(),
            to_json(&req.intake)?,
            ctx.now,
            actor.staff_id
        ],
    )?;
    let id = ctx.conn.last_insert_rowid();
    let mut pseudonym = None;
    if let Some(c) = &req.contact {
        let (customer, p) = super::customers::insert_customer(ctx, c)?;
        pseudonym = Some(p);
        ctx.conn.execute(
            "UPDATE requests SET customer_id = ?2 WHERE id = ?1",
            params![id, customer],
        )?;
    }
    if let Some(digest) = &req.fees_acknowledged {
        let via = if actor.staff_id.is_some() {
            "counter"
        } else {
            "kiosk"
        };
        ctx.conn.execute(
            "UPDATE requests SET fees_ack_digest = ?2, fees_ack_at = ?3, fees_ack_via = ?4 WHERE id = ?1",
            params![id, digest, ctx.now, via],
        )?;
    }
    stamp_stage(ctx, id, start, actor)?;
    let deadlines = if start == RequestStage::Acceptance {
        Some(set_deadlines(ctx, cfg, id, req.service)?)
    } else {
        None
    };
    ctx.emit(HubEvent::RequestCreated {
        request_id: id,
        service: req.service,
        channel: req.channel,
        stage: start,
        ticket_id: req.ticket_id,
        customer: pseudonym,
        deadlines,
    })?;
    if actor.staff_id.is_some() {
        ctx.audit(
            actor,
            "request_create",
            &format!(
                "request {id}, {} via {}",
                req.service.code(),
                req.channel.code()
            ),
        )?;
    }
    read_request(ctx.conn, cfg, id, ctx.now)
}

/// GB/T 8.1: one stage forward, timestamped; GB/T 4.2.3: paid work needs the quote
/// acknowledged first.
pub fn advance_request(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    id: i64,
    to: RequestStage,
) -> Result<RequestView, StoreError> {
    let current = read_request(ctx.conn, cfg, id, ctx.now)?;
    let unacknowledged = current
        .quote
        .as_ref()
        .is_none_or(|q| q.acknowledged_at.is_none());
    check_advance(current.stage, to, current.paid && unacknowledged)?;
    if current.stage == RequestStage::Appointment {
        super::appointments::check_request_may_leave_appointment(ctx.conn, id)?;
    }
    ctx.conn.execute(
        "UPDATE requests SET stage = ?2 WHERE id = ?1",
        params![id, to.code()],
    )?;
    let actor = session.actor();
    stamp_stage(ctx, id, to, &actor)?;
    let mut deadlines = None;
    match to {
        RequestStage::Acceptance => deadlines = Some(set_deadlines(ctx, cfg, id, current.service)?),
        // GB/T 5.5.2: "answered" and "resolved" are separate moments.
        RequestStage::Reply => {
            ctx.conn.execute(
                "UPDATE requests SET answered_at = ?2 WHERE id = ?1",
                params![id, ctx.now],
            )?;
        }
        RequestStage::Archiving => {
            ctx.conn.execute(
                "UPDATE requests SET resolved_at = ?2 WHERE id = ?1",
                params![id, ctx.now],
            )?;
        }
        _ => {}
    }
    // GB/T 4.1.2: the customer hears the result.
    if super::sms::is_result_stage(to) {
        super::sms::on_request_resolved(ctx, cfg, id, current.service)?;
    }
    ctx.emit(HubEvent::RequestAdvanced {
        request_id: id,
        from: current.stage,
        to,
        deadlines,
    })?;
    ctx.audit(
        &actor,
        "request_advance",
        &format!("request {id}: {} -> {}", current.stage.code(), to.code()),
    )?;
    read_request(ctx.conn, cfg, id, ctx.now)
}

/// GB/T 8.4.1: an itemised quote priced from the published fee schedule. Each new quote
/// is a new version; an acknowledgement covers one version only.
pub fn make_quote(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    id: i64,
    req: &MakeQuote,
) -> Result<QuoteView, StoreError> {
    let current = read_request(ctx.conn, cfg, id, ctx.now)?;
    if current.stage > RequestStage::Processing {
        return Err(StoreError::Conflict(format!(
            "request {id} is at {}: quotes are made before or during processing",
            current.stage.code()
        )));
    }
    let schedule = &cfg
        .service(current.service)
        .ok_or_else(|| {
            StoreError::Conflict(format!("{} is no longer offered", current.service.code()))
        })?
        .fees;
    let picks: Vec<(String, u32)> = req
        .items
        .iter()
        .map(|i| (i.code.clone(), i.quantity))
        .collect();
    let quote = Quote::from_schedule(schedule, &picks)?;
    let total = quote.total()?;
    let digest = quote.digest();
    let version = current.quote.map_or(1, |q| q.version + 1);
    ctx.conn.execute(
        "INSERT INTO quotes (request_id, version, lines, total, digest, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            id,
            version,
            to_json(&quote.lines)?,
            total.0,
            digest,
            ctx.now,
            session.staff_id
        ],
    )?;
    ctx.emit(HubEvent::QuoteIssued {
        request_id: id,
        version,
        total,
    })?;
    ctx.audit(
        &session.actor(),
        "quote",
        &format!("request {id} quote v{version} total {total}"),
    )?;
    latest_quote(ctx.conn, id)?.ok_or_else(|| StoreError::Internal("quote vanished".into()))
}

/// GB/T 4.2.3: the customer acknowledges the full itemised list they were shown.
pub fn acknowledge_quote(
    ctx: &mut WriteCtx<'_>,
    actor: &Actor,
    id: i64,
    req: &AcknowledgeQuote,
) -> Result<QuoteView, StoreError> {
    if !matches!(req.via.as_str(), "kiosk" | "counter") {
        return Err(StoreError::invalid("via", "must be `kiosk` or `counter`"));
    }
    let latest = latest_quote(ctx.conn, id)?
        .ok_or_else(|| StoreError::NotFound(format!("a quote for request {id}")))?;
    if latest.version != req.version {
        return Err(StoreError::Conflict(format!(
            "quote v{} was replaced by v{}: show the customer the new list",
            req.version, latest.version
        )));
    }
    if latest.digest != req.digest {
        return Err(StoreError::invalid(
            "digest",
            "does not match the quote's lines: show the customer the current list",
        ));
    }
    if latest.acknowledged_at.is_none() {
        ctx.conn.execute(
            "UPDATE quotes SET acknowledged_at = ?3, acknowledged_via = ?4 WHERE request_id = ?1 AND version = ?2",
            params![id, req.version, ctx.now, req.via],
        )?;
        ctx.emit(HubEvent::QuoteAcknowledged {
            request_id: id,
            version: req.version,
        })?;
        ctx.audit(
            actor,
            "quote_acknowledged",
            &format!("request {id} quote v{} via {}", req.version, req.via),
        )?;
    }
    latest_quote(ctx.conn, id)?.ok_or_else(|| StoreError::Internal("quote vanished".into()))
}

fn check_idempotency_key(key: &str) -> Result<(), StoreError> {
    if key.trim().is_empty() || key.len() > 128 {
        return Err(StoreError::invalid(
            "idempotency_key",
            "must be 1 to 128 characters",
        ));
    }
    Ok(())
}

fn payment_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(PaymentView, String)> {
    Ok((
        PaymentView {
            id: r.get(0)?,
            request_id: r.get(1)?,
            amount: Fen(r.get(2)?),
            method: PaymentMethod::Cash,
            reference: r.get(4)?,
            at: r.get(5)?,
            staff_id: r.get(6)?,
        },
        r.get(3)?,
    ))
}

fn load_payment(
    conn: &Connection,
    where_clause: &str,
    p: impl rusqlite::Params,
) -> Result<Option<PaymentView>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT id, request_id, amount, method, reference, at, staff_id FROM payments WHERE {where_clause}"
        ))?
        .query_row(p, payment_from_row)
        .optional()?;
    row.map(|(mut v, method)| {
        v.method = parse_code(&method, "payment method", PaymentMethod::from_code)?;
        Ok(v)
    })
    .transpose()
}

/// GB/T 8.4.2: a payment by any accepted method; a retry with the same idempotency key
/// returns the first payment and records nothing new.
pub fn record_payment(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    id: i64,
    req: &RecordPayment,
) -> Result<PaymentView, StoreError> {
    check_idempotency_key(&req.idempotency_key)?;
    if let Some(existing) = load_payment(ctx.conn, "idempotency_key = ?1", [&req.idempotency_key])?
    {
        if existing.request_id != id
            || existing.amount != req.amount
            || existing.method != req.method
        {
            return Err(StoreError::Conflict(
                "this idempotency key was already used for a different payment".into(),
            ));
        }
        return Ok(existing);
    }
    if req.amount.0 <= 0 {
        return Err(StoreError::invalid("amount", "must be more than zero"));
    }
    let request = read_request(ctx.conn, cfg, id, ctx.now)?;
    // GB/T 8.4.1: never more than the quoted total (a repeated click or a second counter
    // taking the same amount is refused, not collected twice).
    if let Some(q) = &request.quote {
        let paid: i64 = request.payments.iter().map(|p| p.amount.0).sum();
        if paid.saturating_add(req.amount.0) > q.total.0 {
            return Err(StoreError::Rule(
                "overpayment",
                format!(
                    "request {id} has {} of {} paid already: {} more would be too much",
                    Fen(paid),
                    q.total,
                    req.amount
                ),
            ));
        }
    }
    ctx.conn.execute(
        "INSERT INTO payments (request_id, amount, method, reference, idempotency_key, at, staff_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![id, req.amount.0, req.method.code(), req.reference, req.idempotency_key, ctx.now, session.staff_id],
    )?;
    let payment_id = ctx.conn.last_insert_rowid();
    ctx.emit(HubEvent::PaymentRecorded {
        request_id: id,
        payment_id,
        amount: req.amount,
        method: req.method,
    })?;
    ctx.audit(
        &session.actor(),
        "payment",
        &format!(
            "request {id} payment {payment_id}: {} by {}",
            req.amount,
            req.method.code()
        ),
    )?;
    load_payment(ctx.conn, "id = ?1", [payment_id])?
        .ok_or_else(|| StoreError::Internal("payment vanished".into()))
}

const REFUND_COLUMNS: &str =
    "id, request_id, payment_id, amount, method, reason, requested_on, due_date, paid_at";

fn refunds_where(
    conn: &Connection,
    today: NaiveDate,
    where_clause: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<RefundView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {REFUND_COLUMNS} FROM refunds WHERE {where_clause}"
    ))?;
    let raw = stmt
        .query_map(p, |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, NaiveDate>(6)?,
                r.get::<_, NaiveDate>(7)?,
                r.get::<_, Option<DateTime<Utc>>>(8)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter()
        .map(
            |(
                id,
                request_id,
                payment_id,
                amount,
                method,
                reason,
                requested_on,
                due_date,
                paid_at,
            )| {
                Ok(RefundView {
                    id,
                    request_id,
                    payment_id,
                    amount: Fen(amount),
                    method: parse_code(&method, "payment method", PaymentMethod::from_code)?,
                    reason,
                    requested_on,
                    due_date,
                    paid_at,
                    // GB/T 8.4.3: flagged once the due date has passed unpaid.
                    overdue: paid_at.is_none() && today > due_date,
                })
            },
        )
        .collect()
}

/// GB/T 8.4.3: a refund is due 5 working days after it is requested, on the centre's
/// calendar (weekends, public holidays and make-up working days).
pub fn record_refund(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    id: i64,
    req: &RecordRefund,
) -> Result<RefundView, StoreError> {
    if req.reason.trim().is_empty() {
        return Err(StoreError::invalid("reason", "a refund needs a reason"));
    }
    check_idempotency_key(&req.idempotency_key)?;
    let today = cfg.local_date(ctx.now);
    if let Some(existing) = refunds_where(
        ctx.conn,
        today,
        "idempotency_key = ?1",
        [&req.idempotency_key],
    )?
    .pop()
    {
        if existing.request_id != id
            || existing.payment_id != req.payment_id
            || existing.amount != req.amount
        {
            return Err(StoreError::Conflict(
                "this idempotency key was already used for a different refund".into(),
            ));
        }
        return Ok(existing);
    }
    if req.amount.0 <= 0 {
        return Err(StoreError::invalid("amount", "must be more than zero"));
    }
    let payment = load_payment(ctx.conn, "id = ?1", [req.payment_id])?
        .filter(|p| p.request_id == id)
        .ok_or_else(|| {
            StoreError::invalid(
                "payment_id",
                format!(
                    "payment {} is not a payment of request {id}",
                    req.payment_id
                ),
            )
        })?;
    let refunded: i64 = ctx.conn.query_row(
        "SELECT coalesce(sum(amount), 0) FROM refunds WHERE payment_id = ?1",
        [payment.id],
        |r| r.get(0),
    )?;
    // Compared without adding, so no amount can overflow past the check.
    if req.amount.0 > payment.amount.0 - refunded {
        return Err(StoreError::invalid(
            "amount",
            format!(
                "only {} of payment {} is left to refund",
                Fen(payment.amount.0 - refunded),
                payment.id
            ),
        ));
    }
    let due = cfg.calendar.refund_due_date(today);
    ctx.conn.execute(
        "INSERT INTO refunds (request_id, payment_id, amount, method, reason, idempotency_key, requested_on,
             due_date, staff_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            payment.id,
            req.amount.0,
            req.method.code(),
            req.reason,
            req.idempotency_key,
            today,
            due,
            session.staff_id
        ],
    )?;
    let refund_id = ctx.conn.last_insert_rowid();
    ctx.emit(HubEvent::RefundRecorded {
        request_id: id,
        refund_id,
        amount: req.amount,
        due_date: due,
    })?;
    ctx.audit(
        &session.actor(),
        "refund",
        &format!("request {id} refund {refund_id}: {}, due {due}", req.amount),
    )?;
    refunds_where(ctx.conn, today, "id = ?1", [refund_id])?
        .pop()
        .ok_or_else(|| StoreError::Internal("refund vanished".into()))
}

pub fn mark_refund_paid(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    refund_id: i64,
) -> Result<RefundView, StoreError> {
    let n = ctx.conn.execute(
        "UPDATE refunds SET paid_at = ?2 WHERE id = ?1 AND paid_at IS NULL",
        params![refund_id, ctx.now],
    )?;
    let refund = refunds_where(ctx.conn, cfg.local_date(ctx.now), "id = ?1", [refund_id])?
        .pop()
        .ok_or_else(|| StoreError::NotFound(format!("refund {refund_id}")))?;
    if n == 1 {
        ctx.emit(HubEvent::RefundPaid {
            request_id: refund.request_id,
            refund_id,
        })?;
        ctx.audit(
            &session.actor(),
            "refund_paid",
            &format!("refund {refund_id}"),
        )?;
    }
    Ok(refund)
}

/// All refunds not yet paid, due first; overdue ones are flagged.
pub fn list_refunds(
    conn: &Connection,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<RefundView>, StoreError> {
    refunds_where(
        conn,
        cfg.local_date(now),
        "paid_at IS NULL ORDER BY due_date, id",
        [],
    )
}
