//! The queue engine: issuing tickets (counter bump + ticket row + outbox row in one
//! transaction), routing "call next" by qualification and priority ratio, every other
//! ticket move, print confirmation and the start-up review of unprinted tickets, and the
//! queue snapshot with wait estimates.

use chrono::{DateTime, Utc};
use domain::queue::{LanePolicy, LaneState, Waiting, pick_next, transfer_key};
use domain::ticket::next_state;
use domain::{Channel, PriorityClass, ServiceType, TicketAction, TicketNumber, TicketState};
use protocol::{HubEvent, IssueTicket, IssuedTicket, QueueSnapshot, ServiceQueue, TicketView};
use rusqlite::{Connection, OptionalExtension, params};

use super::day::{current_day, open_day_view, secs_between};
use super::staff::counters_serving;
use super::{Session, StoreError, WriteCtx, parse_code};
use crate::config::Config;

const TICKET_COLUMNS: &str = "t.id, t.number, t.service, t.class, t.channel, t.state, d.date, t.counter, t.staff_id,
    t.issued_at, t.called_at, t.started_at, t.finished_at, t.recalls, t.printed_at IS NOT NULL, t.day_id,
    coalesce(t.status_token, '')";

struct Row {
    view: TicketView,
    day_id: i64,
}

type RawTicket = (TicketView, i64, [String; 4]);

fn ticket_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawTicket> {
    let codes = [r.get::<_, String>(2)?, r.get(3)?, r.get(4)?, r.get(5)?];
    Ok((
        TicketView {
            id: r.get(0)?,
            number: r.get(1)?,
            service: ServiceType::Consultation,
            class: PriorityClass::Normal,
            channel: Channel::OnSite,
            state: TicketState::Waiting,
            business_date: r.get(6)?,
            counter: r.get(7)?,
            staff_id: r.get(8)?,
            issued_at: r.get(9)?,
            called_at: r.get(10)?,
            started_at: r.get(11)?,
            finished_at: r.get(12)?,
            recalls: r.get(13)?,
            printed: r.get(14)?,
            status_token: r.get(16)?,
        },
        r.get(15)?,
        codes,
    ))
}

fn finish_row((mut view, day_id, codes): RawTicket) -> Result<Row, StoreError> {
    let [service, class, channel, state] = codes;
    view.service = parse_code(&service, "service", |s| s.parse().ok())?;
    view.class = parse_code(&class, "priority class", PriorityClass::from_code)?;
    view.channel = parse_code(&channel, "channel", |s| s.parse().ok())?;
    view.state = parse_code(&state, "ticket state", TicketState::from_code)?;
    Ok(Row { view, day_id })
}

fn load(conn: &Connection, id: i64) -> Result<Row, StoreError> {
    let raw = conn
        .prepare_cached(&format!(
            "SELECT {TICKET_COLUMNS} FROM tickets t JOIN business_days d ON d.id = t.day_id WHERE t.id = ?1"
        ))?
        .query_row([id], ticket_from_row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("ticket {id}")))?;
    finish_row(raw)
}

pub(crate) fn load_many(
    conn: &Connection,
    where_clause: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<TicketView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TICKET_COLUMNS} FROM tickets t JOIN business_days d ON d.id = t.day_id WHERE {where_clause}"
    ))?;
    let raws = stmt
        .query_map(p, ticket_from_row)?
        .collect::<Result<Vec<_>, _>>()?;
    raws.into_iter()
        .map(|r| finish_row(r).map(|r| r.view))
        .collect()
}

pub fn read_ticket(conn: &Connection, id: i64) -> Result<TicketView, StoreError> {
    load(conn, id).map(|r| r.view)
}

/// Recent measured service times of `service`, newest first.
fn recent_service_secs(conn: &Connection, service: ServiceType) -> Result<Vec<u32>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT service_secs FROM tickets WHERE service = ?1 AND service_secs IS NOT NULL ORDER BY id DESC LIMIT ?2",
    )?;
    let v = stmt
        .query_map(
            params![service.code(), domain::estimate::SAMPLE_WINDOW as i64],
            |r| r.get(0),
        )?
        .collect::<Result<Vec<u32>, _>>()?;
    Ok(v)
}

/// The wait for `people_ahead` people of `service` (GB/T 5.2.1): the median of recent
/// measured service times shared among the counters serving it now.
pub(crate) fn estimate(
    conn: &Connection,
    cfg: &Config,
    service: ServiceType,
    people_ahead: u32,
    now: DateTime<Utc>,
) -> Result<u32, StoreError> {
    let default_secs = cfg
        .service(service)
        .map_or(300, |s| s.spec.default_service_minutes.saturating_mul(60));
    let mut recent = recent_service_secs(conn, service)?;
    recent.reverse(); // the estimator takes oldest first
    let counters = counters_serving(conn, service, now)?;
    Ok(domain::estimate::estimate_wait(people_ahead, counters, &recent, default_secs).wait_secs)
}

/// The unguessable key of a ticket's public status page: 20 characters from 31 (about
/// 99 bits), so tickets cannot be enumerated by trying numbers.
fn status_token() -> String {
    crate::auth::random_text(crate::auth::READABLE, 20)
}

/// GB/T 4.1.1: a walk-in gets a ticket in one transaction: the day's counter for the
/// service, the ticket row and its outbox event commit together.
pub fn issue_ticket(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    req: &IssueTicket,
) -> Result<IssuedTicket, StoreError> {
    let day = current_day(ctx.conn)?.ok_or(StoreError::NoBusinessDay)?;
    let service = cfg.require_service(req.service)?;
    let seq: u32 = ctx
        .conn
        .prepare_cached(
            "INSERT INTO ticket_counters (day_id, service, last_seq) VALUES (?1, ?2, 1)
             ON CONFLICT (day_id, service) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
        )?
        .query_row(params![day.id, req.service.code()], |r| r.get(0))?;
    let queue_key = next_queue_key(ctx.conn, day.id)?;
    let number = TicketNumber {
        prefix: service.spec.prefix,
        seq,
    }
    .to_string();
    let token = status_token();
    ctx.conn
        .prepare_cached(
            "INSERT INTO tickets (day_id, issued_service, service, seq, number, class, channel, state, queue_key,
                 device, issued_at, status_token)
             VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, 'waiting', ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            day.id,
            req.service.code(),
            seq,
            number,
            req.class.code(),
            req.channel.code(),
            queue_key,
            req.device,
            ctx.now,
            token
        ])?;
    let id = ctx.conn.last_insert_rowid();
    let people_ahead = people_ahead(ctx.conn, id)?;
    let estimated_wait_secs = estimate(ctx.conn, cfg, req.service, people_ahead, ctx.now)?;
    let seq_no = ctx.emit(HubEvent::TicketIssued {
        ticket_id: id,
        number: number.clone(),
        service: req.service,
        class: req.class,
        channel: req.channel,
        token: token.clone(),
    })?;
    Ok(IssuedTicket {
        ticket: TicketView {
            id,
            number,
            service: req.service,
            class: req.class,
            channel: req.channel,
            state: TicketState::Waiting,
            business_date: day.date,
            counter: None,
            staff_id: None,
            issued_at: ctx.now,
            called_at: None,
            started_at: None,
            finished_at: None,
            recalls: 0,
            printed: false,
            status_token: token,
        },
        people_ahead,
        estimated_wait_secs,
        seq: seq_no,
    })
}

/// Waiting tickets of the same service called before ticket `id` in queue order (0 when
/// it is not waiting). The one count the kiosk, the check-in and "turn is near" share.
pub(crate) fn people_ahead(conn: &Connection, id: i64) -> Result<u32, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM tickets t JOIN tickets o
               ON o.day_id = t.day_id AND o.service = t.service AND o.state = 'waiting' AND o.id <> t.id
              AND (o.queue_key < t.queue_key OR (o.queue_key = t.queue_key AND o.id < t.id))
             WHERE t.id = ?1 AND t.state = 'waiting'",
        )?
        .query_row([id], |r| r.get(0))?)
}

/// The day's next queue position (issue order; a transfer to the back takes one too).
fn next_queue_key(conn: &Connection, day_id: i64) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached(
            "UPDATE business_days SET next_key = next_key + 1 WHERE id = ?1 RETURNING next_key",
        )?
        .query_row([day_id], |r| r.get(0))?)
}

fn lane_state(
    conn: &Connection,
    day_id: i64,
    service: ServiceType,
) -> Result<LaneState, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT normal_since_priority, priority_served FROM lane_state WHERE day_id = ?1 AND service = ?2",
        )?
        .query_row(params![day_id, service.code()], |r| {
            Ok(LaneState {
                normal_since_priority: r.get(0)?,
                priority_served: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

fn save_lane_state(
    conn: &Connection,
    day_id: i64,
    service: ServiceType,
    s: LaneState,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO lane_state (day_id, service, normal_since_priority, priority_served) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (day_id, service) DO UPDATE SET normal_since_priority = excluded.normal_since_priority,
             priority_served = excluded.priority_served",
    )?
    .execute(params![day_id, service.code(), s.normal_since_priority, s.priority_served])?;
    Ok(())
}

/// The heads of both lanes of `service`: all the selector needs.
fn lane_heads(
    conn: &Connection,
    day_id: i64,
    service: ServiceType,
    counter: u32,
) -> Result<Vec<Waiting>, StoreError> {
    let mut out = Vec::with_capacity(2);
    for (lane_sql, class_hint) in [("class = 'normal'", false), ("class <> 'normal'", true)] {
        let row = conn
            .prepare_cached(&format!(
                "SELECT id, class, queue_key FROM tickets WHERE day_id = ?1 AND state = 'waiting' AND service = ?2
                 AND (for_counter IS NULL OR for_counter = ?3) AND {lane_sql} ORDER BY queue_key, id LIMIT 1"
            ))?
            .query_row(params![day_id, service.code(), counter], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })
            .optional()?;
        if let Some((id, class, queue_key)) = row {
            let class = parse_code(&class, "priority class", PriorityClass::from_code)?;
            debug_assert_eq!(class.in_priority_lane(), class_hint);
            out.push(Waiting {
                id,
                service,
                class,
                queue_key,
            });
        }
    }
    Ok(out)
}

fn session_counter(session: &Session, requested: Option<u32>) -> Result<u32, StoreError> {
    match (requested, session.counter) {
        (Some(r), Some(own)) if r != own => Err(StoreError::Forbidden(format!(
            "you are logged in at counter {own}, not counter {r}"
        ))),
        (_, Some(own)) => Ok(own),
        (Some(_), None) | (None, None) => Err(StoreError::Forbidden(
            "log in at a counter to call tickets".into(),
        )),
    }
}

/// A counter serves one customer at a time: a called or serving ticket must be finished,
/// parked or transferred first.
fn ensure_counter_free(conn: &Connection, day_id: i64, counter: u32) -> Result<(), StoreError> {
    let busy: Option<String> = conn
        .prepare_cached(
            "SELECT number FROM tickets WHERE day_id = ?1 AND counter = ?2 AND state IN ('called', 'serving') LIMIT 1",
        )?
        .query_row(params![day_id, counter], |r| r.get(0))
        .optional()?;
    match busy {
        Some(n) => Err(StoreError::Conflict(format!(
            "counter {counter} still has {n}: finish, park or transfer it first"
        ))),
        None => Ok(()),
    }
}

/// "Call next": GB/T 5.2.3 routing among the services this staff member may serve at
/// this counter, with each service's priority ratio. `None` when nobody is waiting.
pub fn call_next(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    requested_counter: Option<u32>,
) -> Result<Option<TicketView>, StoreError> {
    let counter = session_counter(session, requested_counter)?;
    let day = current_day(ctx.conn)?.ok_or(StoreError::NoBusinessDay)?;
    ensure_counter_free(ctx.conn, day.id, counter)?;
    let mut lanes = Vec::new();
    let mut waiting = Vec::new();
    for service in &session.services {
        let Some(svc) = cfg.service(*service) else {
            continue;
        };
        lanes.push(LanePolicy {
            service: *service,
            priority_every: svc.spec.priority_every,
            state: lane_state(ctx.conn, day.id, *service)?,
        });
        waiting.extend(lane_heads(ctx.conn, day.id, *service, counter)?);
    }
    let Some(pick) = pick_next(&waiting, &lanes) else {
        return Ok(None);
    };
    save_lane_state(ctx.conn, day.id, pick.ticket.service, pick.new_state)?;
    let row = load(ctx.conn, pick.ticket.id)?;
    apply_call(ctx, session, row, counter, CallKind::First).map(Some)
}

/// The three ways a ticket gets announced at a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallKind {
    /// Called from the queue: stamps `called_at` (GB/T 4.1.1 response time ends here).
    First,
    /// Announced again: counts a recall, keeps the first call time.
    Recall,
    /// Called back from hold: keeps the first call time.
    Resume,
}

fn apply_call(
    ctx: &mut WriteCtx<'_>,
    session: &Session,
    row: Row,
    counter: u32,
    kind: CallKind,
) -> Result<TicketView, StoreError> {
    let t = &row.view;
    ctx.conn.execute(
        "UPDATE tickets SET state = 'called', counter = ?2, staff_id = ?3, called_at = coalesce(?4, called_at),
             recalls = recalls + ?5 WHERE id = ?1",
        params![
            t.id,
            counter,
            session.staff_id,
            (kind == CallKind::First).then_some(ctx.now),
            i64::from(kind == CallKind::Recall)
        ],
    )?;
    ctx.emit(HubEvent::TicketCalled {
        ticket_id: t.id,
        number: t.number.clone(),
        service: t.service,
        counter,
        recall: kind == CallKind::Recall,
        staff_id: Some(session.staff_id.clone()),
    })?;
    let action = match kind {
        CallKind::First => "call",
        CallKind::Recall => "recall",
        CallKind::Resume => "resume",
    };
    ctx.audit(
        &session.actor(),
        action,
        &format!("{} at counter {counter}", t.number),
    )?;
    read_ticket(ctx.conn, t.id)
}

/// Every move other than "call next".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketMove {
    /// Call this ticket out of order.
    Call,
    Recall,
    Start,
    Finish,
    NoShow,
    Hold,
    Resume,
    Transfer {
        service: ServiceType,
        to_front: bool,
        /// Only this counter may call it next.
        counter: Option<u32>,
        reason: Option<String>,
    },
    Cancel {
        reason: Option<String>,
    },
}

impl TicketMove {
    fn action(&self) -> TicketAction {
        match self {
            TicketMove::Call => TicketAction::Call,
            TicketMove::Recall => TicketAction::Recall,
            TicketMove::Start => TicketAction::Start,
            TicketMove::Finish => TicketAction::Finish,
            TicketMove::NoShow => TicketAction::NoShow,
            TicketMove::Hold => TicketAction::Hold,
            TicketMove::Resume => TicketAction::Resume,
            TicketMove::Transfer { .. } => TicketAction::Transfer,
            TicketMove::Cancel { .. } => TicketAction::Cancel,
        }
    }
}

pub fn act_on_ticket(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    session: &Session,
    id: i64,
    mv: TicketMove,
) -> Result<TicketView, StoreError> {
    let row = load(ctx.conn, id)?;
    let t = row.view.clone();
    let day = current_day(ctx.conn)?.ok_or(StoreError::NoBusinessDay)?;
    if row.day_id != day.id {
        return Err(StoreError::Conflict(format!(
            "{} belongs to business day {}, which is closed",
            t.number, t.business_date
        )));
    }
    let supervisor = session.role.at_least(domain::Role::Supervisor);
    // Moves on a ticket at a counter are for that counter (or a supervisor).
    if t.state.is_at_counter()
        && !matches!(mv, TicketMove::Resume)
        && t.counter != session.counter
        && !supervisor
    {
        return Err(StoreError::Forbidden(format!(
            "{} is at counter {}, not yours",
            t.number,
            t.counter.map_or_else(|| "?".to_owned(), |c| c.to_string())
        )));
    }
    let to = next_state(t.state, mv.action())?;
    let actor = session.actor();
    match mv {
        TicketMove::Call | TicketMove::Resume => {
            let counter = session_counter(session, None)?;
            // GB/T 5.2.3: only services this staff member is qualified for.
            if !session.services.contains(&t.service) {
                return Err(StoreError::Forbidden(format!(
                    "you are not qualified for {} at this counter",
                    t.service.code()
                )));
            }
            ensure_counter_free(ctx.conn, day.id, counter)?;
            let kind = if matches!(mv, TicketMove::Call) {
                let lane = lane_state(ctx.conn, day.id, t.service)?;
                save_lane_state(ctx.conn, day.id, t.service, lane.after_serving(t.class))?;
                CallKind::First
            } else {
                CallKind::Resume
            };
            apply_call(ctx, session, row, counter, kind)
        }
        TicketMove::Recall => {
            let counter = t.counter.unwrap_or_default();
            apply_call(ctx, session, row, counter, CallKind::Recall)
        }
        TicketMove::Start => {
            set_state(ctx.conn, id, to, Some("started_at"), ctx.now)?;
            ctx.emit(HubEvent::TicketStarted {
                ticket_id: id,
                number: t.number.clone(),
                counter: t.counter.unwrap_or_default(),
            })?;
            ctx.audit(&actor, "start", &t.number)?;
            read_ticket(ctx.conn, id)
        }
        TicketMove::Finish => {
            let service_secs = secs_between(t.started_at.unwrap_or(ctx.now), ctx.now);
            ctx.conn.execute(
                "UPDATE tickets SET state = ?2, finished_at = ?3, service_secs = ?4 WHERE id = ?1",
                params![id, to.code(), ctx.now, service_secs],
            )?;
            ctx.emit(HubEvent::TicketFinished {
                ticket_id: id,
                number: t.number.clone(),
                counter: t.counter.unwrap_or_default(),
                service_secs,
                staff_id: t.staff_id.clone(),
            })?;
            ctx.audit(
                &actor,
                "finish",
                &format!("{} after {service_secs} s", t.number),
            )?;
            read_ticket(ctx.conn, id)
        }
        TicketMove::NoShow => {
            set_state(ctx.conn, id, to, Some("finished_at"), ctx.now)?;
            ctx.emit(HubEvent::TicketNoShow {
                ticket_id: id,
                number: t.number.clone(),
                counter: t.counter.unwrap_or_default(),
            })?;
            ctx.audit(&actor, "no_show", &t.number)?;
            read_ticket(ctx.conn, id)
        }
        TicketMove::Hold => {
            set_state(ctx.conn, id, to, None, ctx.now)?;
            ctx.emit(HubEvent::TicketOnHold {
                ticket_id: id,
                number: t.number.clone(),
                counter: t.counter.unwrap_or_default(),
            })?;
            ctx.audit(&actor, "hold", &t.number)?;
            read_ticket(ctx.conn, id)
        }
        TicketMove::Transfer {
            service,
            to_front,
            counter: to_counter,
            reason,
        } => {
            cfg.require_service(service)?;
            if let Some(c) = to_counter {
                match cfg.counters.get(&c) {
                    None => {
                        return Err(StoreError::invalid(
                            "counter",
                            format!("there is no counter {c}"),
                        ));
                    }
                    Some(k) if !k.services.contains(&service) => {
                        return Err(StoreError::invalid(
                            "counter",
                            format!("counter {c} does not serve {}", service.code()),
                        ));
                    }
                    Some(_) => {}
                }
            }
            if reason.as_ref().is_some_and(|r| r.chars().count() > 200) {
                return Err(StoreError::invalid("reason", "at most 200 characters"));
            }
            let keys: Vec<i64> = {
                let mut stmt = ctx.conn.prepare_cached(
                    "SELECT queue_key FROM tickets WHERE day_id = ?1 AND state = 'waiting' AND service = ?2",
                )?;
                stmt.query_map(params![day.id, service.code()], |r| r.get(0))?
                    .collect::<Result<_, _>>()?
            };
            let back = next_queue_key(ctx.conn, day.id)?;
            let key = transfer_key(keys, to_front, back);
            ctx.conn.execute(
                "UPDATE tickets SET state = 'waiting', service = ?2, queue_key = ?3, counter = NULL, staff_id = NULL,
                     called_at = NULL, started_at = NULL, for_counter = ?4 WHERE id = ?1",
                params![id, service.code(), key, to_counter],
            )?;
            ctx.conn.execute(
                "INSERT INTO transfers (ticket_id, day_id, from_service, to_service, from_counter, to_counter,
                     to_front, reason, staff_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![
                    id,
                    day.id,
                    t.service.code(),
                    service.code(),
                    t.counter,
                    to_counter,
                    to_front,
                    reason,
                    session.staff_id,
                    ctx.now
                ],
            )?;
            ctx.emit(HubEvent::TicketTransferred {
                ticket_id: id,
                number: t.number.clone(),
                from: t.service,
                to: service,
                to_front,
            })?;
            ctx.audit(
                &actor,
                "transfer",
                &format!(
                    "{} from {} to {}{} ({}), reason: {}",
                    t.number,
                    t.service.code(),
                    service.code(),
                    to_counter.map_or_else(String::new, |c| format!(" at counter {c}")),
                    if to_front { "front" } else { "back" },
                    reason.as_deref().unwrap_or("-")
                ),
            )?;
            read_ticket(ctx.conn, id)
        }
        TicketMove::Cancel { reason } => {
            set_state(ctx.conn, id, to, Some("finished_at"), ctx.now)?;
            ctx.emit(HubEvent::TicketCancelled {
                ticket_id: id,
                number: t.number.clone(),
                voided: false,
            })?;
            ctx.audit(
                &actor,
                "cancel",
                &format!("{}, reason: {}", t.number, reason.as_deref().unwrap_or("-")),
            )?;
            read_ticket(ctx.conn, id)
        }
    }
}

/// Sets the state and, where given, stamps one timestamp column with `now`.
fn set_state(
    conn: &Connection,
    id: i64,
    to: TicketState,
    stamp: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    match stamp {
        Some(column) => conn.execute(
            &format!("UPDATE tickets SET state = ?2, {column} = ?3 WHERE id = ?1"),
            params![id, to.code(), now],
        )?,
        None => conn.execute(
            "UPDATE tickets SET state = ?2 WHERE id = ?1",
            params![id, to.code()],
        )?,
    };
    Ok(())
}

/// The kiosk confirms the ticket came out of the printer (or was reprinted).
pub fn mark_printed(ctx: &mut WriteCtx<'_>, id: i64) -> Result<TicketView, StoreError> {
    let t = read_ticket(ctx.conn, id)?;
    if !t.printed {
        ctx.conn.execute(
            "UPDATE tickets SET printed_at = ?2 WHERE id = ?1",
            params![id, ctx.now],
        )?;
        ctx.emit(HubEvent::TicketPrinted {
            ticket_id: id,
            number: t.number.clone(),
        })?;
    }
    read_ticket(ctx.conn, id)
}

/// Tickets of the open day committed but never confirmed printed (e.g. the hub lost
/// power between commit and print): staff reprint or void them.
pub fn unprinted_tickets(conn: &Connection) -> Result<Vec<TicketView>, StoreError> {
    let Some(day) = current_day(conn)? else {
        return Ok(Vec::new());
    };
    load_many(
        conn,
        "t.day_id = ?1 AND t.state = 'waiting' AND t.printed_at IS NULL ORDER BY t.id",
        [day.id],
    )
}

/// How many tickets [`unprinted_tickets`] would list.
pub fn unprinted_count(conn: &Connection) -> Result<i64, StoreError> {
    let Some(day) = current_day(conn)? else {
        return Ok(0);
    };
    Ok(conn
        .prepare_cached("SELECT count(*) FROM tickets WHERE day_id = ?1 AND state = 'waiting' AND printed_at IS NULL")?
        .query_row([day.id], |r| r.get(0))?)
}

/// Voids an unprinted waiting ticket, with an audit entry naming who decided.
pub fn void_unprinted(
    ctx: &mut WriteCtx<'_>,
    session: &Session,
    id: i64,
) -> Result<TicketView, StoreError> {
    let t = read_ticket(ctx.conn, id)?;
    if t.printed {
        return Err(StoreError::Conflict(format!(
            "{} was printed: cancel it instead of voiding",
            t.number
        )));
    }
    next_state(t.state, TicketAction::Cancel)?;
    set_state(
        ctx.conn,
        id,
        TicketState::Cancelled,
        Some("finished_at"),
        ctx.now,
    )?;
    ctx.emit(HubEvent::TicketCancelled {
        ticket_id: id,
        number: t.number.clone(),
        voided: true,
    })?;
    ctx.audit(&session.actor(), "void_unprinted", &t.number)?;
    read_ticket(ctx.conn, id)
}

/// Waiting counts and estimates per service, and what is at the counters.
pub fn queue_snapshot(
    conn: &Connection,
    cfg: &Config,
    now: DateTime<Utc>,
) -> Result<QueueSnapshot, StoreError> {
    let last_seq = super::outbox::last_seq(conn)?;
    let day = current_day(conn)?;
    let open_counters = super::staff::open_counters(conn, now)?;
    let Some(open) = day.clone() else {
        return Ok(QueueSnapshot {
            now,
            day: open_day_view(conn)?,
            services: Vec::new(),
            at_counters: Vec::new(),
            last_seq,
            open_counters,
        });
    };
    let mut services = Vec::new();
    for svc in cfg.services.values() {
        let kind = svc.spec.kind;
        let (waiting, waiting_priority, oldest): (u32, u32, Option<DateTime<Utc>>) = conn
            .prepare_cached(
                "SELECT count(*), count(*) FILTER (WHERE class <> 'normal'), min(issued_at) FROM tickets
                 WHERE day_id = ?1 AND state = 'waiting' AND service = ?2",
            )?
            .query_row(params![open.id, kind.code()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        let mean_response_secs: Option<f64> = conn
            .prepare_cached(
                "SELECT avg((julianday(called_at) - julianday(issued_at)) * 86400.0) FROM tickets
                 WHERE day_id = ?1 AND service = ?2 AND called_at IS NOT NULL",
            )?
            .query_row(params![open.id, kind.code()], |r| r.get(0))?;
        services.push(ServiceQueue {
            service: kind,
            name_zh: svc.spec.name_zh.clone(),
            name_en: svc.spec.name_en.clone(),
            prefix: svc.spec.prefix,
            paid: svc.spec.paid,
            waiting,
            waiting_priority,
            longest_wait_secs: oldest.map_or(0, |o| secs_between(o, now)),
            estimated_wait_secs: estimate(conn, cfg, kind, waiting, now)?,
            counters_serving: counters_serving(conn, kind, now)?,
            mean_response_secs: mean_response_secs.map(|s| s.max(0.0).round() as u32),
        });
    }
    let at_counters = load_many(
        conn,
        "t.day_id = ?1 AND t.state IN ('called', 'serving', 'on_hold') ORDER BY t.counter, t.id",
        [open.id],
    )?;
    Ok(QueueSnapshot {
        now,
        day,
        services,
        at_counters,
        last_seq,
        open_counters,
    })
}
