//! The projector: applies each centre's events, in ingest order (`events.received`), to
//! the projection tables the reports and the status page read. Each batch is one
//! transaction that also moves the centre's cursor, so every event is applied exactly
//! once whatever stops the process; two projectors never work on one centre at once (the
//! cursor row is locked).
//!
//! After a hub was restored from an older copy, its ticket, request, payment, refund and
//! rating ids may repeat within the centre: the later event wins (an issue or create for a
//! known id replaces the row). Unknown kinds are skipped (they stay in `events`); an event
//! that cannot be applied is recorded in `projection_skipped` instead of stopping the
//! projector. The projector never writes to `events`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use protocol::HubEvent;
use tokio::sync::{Notify, watch};
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::HqError;

/// Events applied per transaction.
pub const BATCH: i64 = 500;
/// With nothing new, look again at least this often (ingest also wakes the projector).
pub const POLL: Duration = Duration::from_secs(3);

/// Runs until `stop` turns true: catches up, then waits for a wake-up or [`POLL`].
pub async fn run(pool: Pool, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        if *stop.borrow() {
            return;
        }
        if let Err(e) = catch_up(&pool).await {
            tracing::warn!("projector: {e}; trying again shortly");
        }
        tokio::select! {
            r = stop.changed() => if r.is_err() { return },
            _ = wake.notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Applies the pending events of every centre that has some. Returns how many.
pub async fn catch_up(pool: &Pool) -> Result<u64, HqError> {
    let mut client = pool.get().await?;
    let centres: Vec<String> = client
        .query(
            "SELECT c.centre_id FROM centres c
               LEFT JOIN projection_cursor p ON p.centre_id = c.centre_id
              WHERE EXISTS (SELECT 1 FROM events e
                             WHERE e.centre_id = c.centre_id
                               AND e.received > coalesce(p.last_received, 0))
              ORDER BY c.centre_id",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut total = 0u64;
    for centre in centres {
        loop {
            let n = project_batch(&mut client, &centre).await?;
            total += n;
            if n < BATCH as u64 {
                break;
            }
        }
    }
    Ok(total)
}

/// Events stored but not yet projected, over every centre.
pub async fn lag(client: &impl GenericClient) -> Result<i64, tokio_postgres::Error> {
    client
        .query_one(
            "SELECT count(*) FROM centres c
               LEFT JOIN projection_cursor p ON p.centre_id = c.centre_id
               JOIN events e ON e.centre_id = c.centre_id
                            AND e.received > coalesce(p.last_received, 0)",
            &[],
        )
        .await?
        .try_get(0)
}

struct Pending {
    received: i64,
    kind: String,
    at: DateTime<Utc>,
    payload: serde_json::Value,
}

/// Applies up to [`BATCH`] of `centre`'s pending events in one transaction. Returns how
/// many events the cursor moved over.
pub async fn project_batch(client: &mut Client, centre: &str) -> Result<u64, HqError> {
    let mut tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO projection_cursor (centre_id) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&centre],
    )
    .await?;
    let last: i64 = tx
        .query_one(
            "SELECT last_received FROM projection_cursor WHERE centre_id = $1 FOR UPDATE",
            &[&centre],
        )
        .await?
        .try_get(0)?;
    let rows = tx
        .query(
            "SELECT received, kind, at, payload FROM events
              WHERE centre_id = $1 AND received > $2 ORDER BY received LIMIT $3",
            &[&centre, &last, &BATCH],
        )
        .await?;
    let mut pending = Vec::with_capacity(rows.len());
    for r in &rows {
        pending.push(Pending {
            received: r.try_get(0)?,
            kind: r.try_get(1)?,
            at: r.try_get(2)?,
            payload: r.try_get(3)?,
        });
    }
    let (Some(newest), Some(max_at)) = (
        pending.last().map(|p| p.received),
        pending.iter().map(|p| p.at).max(),
    ) else {
        tx.commit().await?;
        return Ok(0);
    };

    // The whole batch at once; should one event fail, again one by one, each in its own
    // savepoint, so only that event is skipped.
    let sp = tx.savepoint("projector_batch").await?;
    let mut rejected = Vec::new();
    let mut fallback = false;
    for p in &pending {
        match apply(&sp, centre, p).await {
            Ok(()) => {}
            Err(Apply::Reject(why)) => rejected.push((p, why)),
            Err(Apply::Db(e)) if is_data_error(&e) => {
                fallback = true;
                break;
            }
            Err(Apply::Db(e)) => return Err(e.into()),
        }
    }
    if fallback {
        sp.rollback().await?;
        rejected.clear();
        for p in &pending {
            let one = tx.savepoint("projector_event").await?;
            match apply(&one, centre, p).await {
                Ok(()) => one.commit().await?,
                Err(Apply::Reject(why)) => {
                    one.commit().await?;
                    rejected.push((p, why));
                }
                Err(Apply::Db(e)) if is_data_error(&e) => {
                    one.rollback().await?;
                    rejected.push((p, crate::db::db_error_text(&e)));
                }
                Err(Apply::Db(e)) => return Err(e.into()),
            }
        }
    } else {
        sp.commit().await?;
    }
    for (p, why) in &rejected {
        tracing::warn!(
            "projector: centre {centre} event {} ({}) skipped: {why}",
            p.received,
            p.kind
        );
        tx.execute(
            "INSERT INTO projection_skipped (centre_id, received, kind, error)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&centre, &p.received, &p.kind, why],
        )
        .await?;
    }
    let n = pending.len() as i64;
    tx.execute(
        "UPDATE projection_cursor
            SET last_received = $2,
                last_event_at = greatest(last_event_at, $3),
                applied = applied + $4,
                updated_at = now()
          WHERE centre_id = $1",
        &[&centre, &newest, &max_at, &n],
    )
    .await?;
    tx.commit().await?;
    Ok(n as u64)
}

/// Data exceptions (22) and integrity violations (23): the event, not the database.
fn is_data_error(e: &tokio_postgres::Error) -> bool {
    e.as_db_error()
        .is_some_and(|d| matches!(&d.code().code()[..2], "22" | "23"))
}

enum Apply {
    /// The event is malformed for its kind: skip it, say why.
    Reject(String),
    Db(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Apply {
    fn from(e: tokio_postgres::Error) -> Self {
        Apply::Db(e)
    }
}

/// Kinds the projector maps; any other kind is stored but not projected.
const PROJECTED: &[&str] = &[
    "ticket_issued",
    "ticket_called",
    "ticket_started",
    "ticket_finished",
    "ticket_no_show",
    "ticket_on_hold",
    "ticket_cancelled",
    "ticket_transferred",
    "day_closed",
    "request_created",
    "request_advanced",
    "payment_recorded",
    "refund_recorded",
    "refund_paid",
    "rating_given",
    "customer_erased",
];

fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

async fn set_state(
    tx: &Transaction<'_>,
    centre: &str,
    ticket_id: i64,
    state: &str,
    counter: u32,
    at: DateTime<Utc>,
) -> Result<(), Apply> {
    tx.execute(
        "UPDATE tickets SET state = $3, counter = $4, updated_at = $5
          WHERE centre_id = $1 AND ticket_id = $2",
        &[&centre, &ticket_id, &state, &i32_of(counter), &at],
    )
    .await?;
    Ok(())
}

async fn apply(tx: &Transaction<'_>, centre: &str, p: &Pending) -> Result<(), Apply> {
    if !PROJECTED.contains(&p.kind.as_str()) {
        return Ok(());
    }
    let event: HubEvent = serde_json::from_value(p.payload.clone())
        .map_err(|e| Apply::Reject(format!("payload does not match its kind: {e}")))?;
    let at = p.at;
    match event {
        HubEvent::TicketIssued {
            ticket_id,
            number,
            service,
            class,
            channel,
            token,
        } => {
            let token = (!token.is_empty()).then_some(token);
            // A repeated id (a restored hub) replaces the old ticket: the later event wins.
            tx.execute(
                "INSERT INTO tickets (centre_id, ticket_id, number, service, class, channel, token,
                                      issued_at, state, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'waiting', $8)
                 ON CONFLICT (centre_id, ticket_id) DO UPDATE
                   SET number = excluded.number, service = excluded.service,
                       class = excluded.class, channel = excluded.channel, token = excluded.token,
                       issued_at = excluded.issued_at, called_at = NULL, counter = NULL,
                       staff_id = NULL, started_at = NULL, finished_at = NULL,
                       service_secs = NULL, state = 'waiting', updated_at = excluded.updated_at",
                &[
                    &centre,
                    &ticket_id,
                    &number,
                    &service.code(),
                    &class.code(),
                    &channel.code(),
                    &token,
                    &at,
                ],
            )
            .await?;
        }
        HubEvent::TicketCalled {
            ticket_id,
            counter,
            staff_id,
            ..
        } => {
            tx.execute(
                "UPDATE tickets
                    SET called_at = coalesce(called_at, $3), counter = $4,
                        staff_id = coalesce($5, staff_id), state = 'called', updated_at = $3
                  WHERE centre_id = $1 AND ticket_id = $2",
                &[&centre, &ticket_id, &at, &i32_of(counter), &staff_id],
            )
            .await?;
        }
        HubEvent::TicketStarted {
            ticket_id, counter, ..
        } => {
            tx.execute(
                "UPDATE tickets
                    SET started_at = coalesce(started_at, $3), counter = $4,
                        state = 'serving', updated_at = $3
                  WHERE centre_id = $1 AND ticket_id = $2",
                &[&centre, &ticket_id, &at, &i32_of(counter)],
            )
            .await?;
        }
        HubEvent::TicketFinished {
            ticket_id,
            counter,
            service_secs,
            staff_id,
            ..
        } => {
            tx.execute(
                "UPDATE tickets
                    SET finished_at = $3, service_secs = $4, counter = $5,
                        staff_id = coalesce($6, staff_id), state = 'finished', updated_at = $3
                  WHERE centre_id = $1 AND ticket_id = $2",
                &[
                    &centre,
                    &ticket_id,
                    &at,
                    &i32_of(service_secs),
                    &i32_of(counter),
                    &staff_id,
                ],
            )
            .await?;
        }
        HubEvent::TicketNoShow {
            ticket_id, counter, ..
        } => set_state(tx, centre, ticket_id, "no_show", counter, at).await?,
        HubEvent::TicketOnHold {
            ticket_id, counter, ..
        } => set_state(tx, centre, ticket_id, "on_hold", counter, at).await?,
        HubEvent::TicketCancelled { ticket_id, .. } => {
            tx.execute(
                "UPDATE tickets SET state = 'cancelled', updated_at = $3
                  WHERE centre_id = $1 AND ticket_id = $2",
                &[&centre, &ticket_id, &at],
            )
            .await?;
        }
        HubEvent::TicketTransferred { ticket_id, to, .. } => {
            tx.execute(
                "UPDATE tickets SET service = $3, state = 'waiting', counter = NULL, updated_at = $4
                  WHERE centre_id = $1 AND ticket_id = $2",
                &[&centre, &ticket_id, &to.code(), &at],
            )
            .await?;
        }
        HubEvent::DayClosed { .. } => {
            // The hub cancels what is still open at closing; do the same here.
            tx.execute(
                "UPDATE tickets SET state = 'cancelled', updated_at = $2
                  WHERE centre_id = $1 AND state IN ('waiting', 'called') AND issued_at <= $2",
                &[&centre, &at],
            )
            .await?;
        }
        HubEvent::RequestCreated {
            request_id,
            service,
            channel,
            stage,
            ticket_id,
            customer,
            deadlines,
        } => {
            let reply_due = deadlines.as_ref().and_then(|d| d.reply_due);
            let resolve_due = deadlines.as_ref().map(|d| d.resolve_due);
            // An erased pseudonym is never stored again (GB/T 5.4.2).
            tx.execute(
                "INSERT INTO requests (centre_id, request_id, service, channel, ticket_id, customer,
                                       stage, created_at, reply_due, resolve_due, updated_at)
                 VALUES ($1, $2, $3, $4, $5,
                         CASE WHEN EXISTS (SELECT 1 FROM erasures
                                            WHERE centre_id = $1 AND customer = $6)
                              THEN NULL ELSE $6 END,
                         $7, $8, $9, $10, $8)
                 ON CONFLICT (centre_id, request_id) DO UPDATE
                   SET service = excluded.service, channel = excluded.channel,
                       ticket_id = excluded.ticket_id, customer = excluded.customer,
                       stage = excluded.stage, created_at = excluded.created_at,
                       reply_due = excluded.reply_due, resolve_due = excluded.resolve_due,
                       answered_at = NULL, resolved_at = NULL, updated_at = excluded.updated_at",
                &[
                    &centre,
                    &request_id,
                    &service.code(),
                    &channel.code(),
                    &ticket_id,
                    &customer,
                    &stage.code(),
                    &at,
                    &reply_due,
                    &resolve_due,
                ],
            )
            .await?;
        }
        HubEvent::RequestAdvanced {
            request_id,
            to,
            deadlines,
            ..
        } => {
            let has_deadlines = deadlines.is_some();
            let reply_due = deadlines.as_ref().and_then(|d| d.reply_due);
            let resolve_due = deadlines.as_ref().map(|d| d.resolve_due);
            // The hub's rule: answered on reaching reply, resolved on reaching archiving.
            tx.execute(
                "UPDATE requests
                    SET stage = $3,
                        reply_due = CASE WHEN $4 THEN $5 ELSE reply_due END,
                        resolve_due = CASE WHEN $4 THEN $6 ELSE resolve_due END,
                        answered_at = CASE WHEN $3 = 'reply' THEN $7 ELSE answered_at END,
                        resolved_at = CASE WHEN $3 = 'archiving' THEN $7 ELSE resolved_at END,
                        updated_at = $7
                  WHERE centre_id = $1 AND request_id = $2",
                &[
                    &centre,
                    &request_id,
                    &to.code(),
                    &has_deadlines,
                    &reply_due,
                    &resolve_due,
                    &at,
                ],
            )
            .await?;
        }
        HubEvent::PaymentRecorded {
            request_id,
            payment_id,
            amount,
            method,
        } => {
            tx.execute(
                "INSERT INTO payments (centre_id, payment_id, request_id, amount_fen, method, at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (centre_id, payment_id) DO UPDATE
                   SET request_id = excluded.request_id, amount_fen = excluded.amount_fen,
                       method = excluded.method, at = excluded.at",
                &[
                    &centre,
                    &payment_id,
                    &request_id,
                    &amount.0,
                    &method.code(),
                    &at,
                ],
            )
            .await?;
        }
        HubEvent::RefundRecorded {
            request_id,
            refund_id,
            amount,
            due_date,
        } => {
            tx.execute(
                "INSERT INTO refunds (centre_id, refund_id, request_id, amount_fen, due_date, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (centre_id, refund_id) DO UPDATE
                   SET request_id = excluded.request_id, amount_fen = excluded.amount_fen,
                       due_date = excluded.due_date, recorded_at = excluded.recorded_at,
                       paid_at = NULL",
                &[&centre, &refund_id, &request_id, &amount.0, &due_date, &at],
            )
            .await?;
        }
        HubEvent::RefundPaid { refund_id, .. } => {
            tx.execute(
                "UPDATE refunds SET paid_at = $3 WHERE centre_id = $1 AND refund_id = $2",
                &[&centre, &refund_id, &at],
            )
            .await?;
        }
        HubEvent::RatingGiven {
            rating_id,
            ticket_id,
            request_id,
            service,
            score,
            via,
            counter,
            staff_id,
        } => {
            if !(1..=5).contains(&score) {
                return Err(Apply::Reject(format!("rating score {score} is not 1 to 5")));
            }
            let counter = counter.map(i32_of);
            tx.execute(
                "INSERT INTO ratings (centre_id, rating_id, ticket_id, request_id, service, score,
                                      via, counter, staff_id, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (centre_id, rating_id) DO UPDATE
                   SET ticket_id = excluded.ticket_id, request_id = excluded.request_id,
                       service = excluded.service, score = excluded.score, via = excluded.via,
                       counter = excluded.counter, staff_id = excluded.staff_id, at = excluded.at",
                &[
                    &centre,
                    &rating_id,
                    &ticket_id,
                    &request_id,
                    &service.code(),
                    &i16::from(score),
                    &via,
                    &counter,
                    &staff_id,
                    &at,
                ],
            )
            .await?;
        }
        HubEvent::CustomerErased { customer, reason } => {
            // GB/T 5.4.2: headquarters forgets every link to the pseudonym.
            tx.execute(
                "INSERT INTO erasures (centre_id, customer, reason, at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (centre_id, customer) DO NOTHING",
                &[&centre, &customer, &reason, &at],
            )
            .await?;
            tx.execute(
                "UPDATE requests SET customer = NULL WHERE centre_id = $1 AND customer = $2",
                &[&centre, &customer],
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}
