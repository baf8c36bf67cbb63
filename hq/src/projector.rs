//! The projector: applies each centre's events, in ingest order (`events.received`), to
//! the projection tables the reports and the status page read. Each batch is one
//! transaction that also moves the centre's cursor, so every event is applied exactly
//! once whatever stops the process; two projectors never work on one centre at once (the
//! cursor row is locked).
//!
//! A batch is applied set-based: one statement per kind of change over the whole batch,
//! reading the events where they are stored, in an order that gives the same tables as
//! applying the events one by one (the test `projection_is_the_same_in_any_batch_size`
//! checks this). Each payload is first decoded with the protocol's own types, so what
//! counts as malformed is exactly what the hub's event family says.
//!
//! After a hub was restored from an older copy, its ticket, request, payment, refund and
//! rating ids may repeat within the centre: the later event wins (an issue or create for a
//! known id replaces the row). Unknown kinds are skipped (they stay in `events`); an event
//! that cannot be applied is recorded in `projection_skipped` instead of stopping the
//! projector. The projector never writes to `events`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use protocol::HubEvent;
use tokio::sync::{Notify, watch};
use tokio_postgres::{Client, GenericClient, Transaction};

use crate::HqError;

/// Events applied per transaction.
pub const BATCH: i64 = 5000;
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
    catch_up_in_batches_of(pool, BATCH).await
}

/// [`catch_up`] with at most `batch` events per transaction (at least 1). The result does
/// not depend on the batch size; the tests compare sizes.
pub async fn catch_up_in_batches_of(pool: &Pool, batch: i64) -> Result<u64, HqError> {
    let batch = batch.max(1);
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
            let n = project_batch_of(&mut client, &centre, batch).await?;
            total += n;
            if n < batch as u64 {
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

/// Applies up to [`BATCH`] of `centre`'s pending events in one transaction. Returns how
/// many events the cursor moved over.
pub async fn project_batch(client: &mut Client, centre: &str) -> Result<u64, HqError> {
    project_batch_of(client, centre, BATCH).await
}

/// One pending event as read for decoding.
struct Pending {
    received: i64,
    kind: String,
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

/// Why an event of a projected kind cannot be applied, judged on its payload alone.
fn rejection(payload: &str) -> Option<String> {
    match serde_json::from_str::<HubEvent>(payload) {
        Err(e) => Some(format!("payload does not match its kind: {e}")),
        Ok(HubEvent::RatingGiven { score, .. }) if !(1..=5).contains(&score) => {
            Some(format!("rating score {score} is not 1 to 5"))
        }
        Ok(_) => None,
    }
}

/// Applies up to `limit` of `centre`'s pending events in one transaction.
async fn project_batch_of(client: &mut Client, centre: &str, limit: i64) -> Result<u64, HqError> {
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
    // Walk the (centre_id, received) index in order and stop after `limit` rows. Without
    // statistics on `events` (a new database, or a burst of ingest since the last
    // ANALYZE) the planner guesses a few hundred pending rows and prefers to fetch every
    // pending event and sort them, which made each batch cost as much as the whole
    // backlog.
    tx.batch_execute("SET LOCAL enable_sort = off").await?;
    let rows = tx
        .query(
            "SELECT received, kind, at,
                    CASE WHEN kind = ANY($4) THEN payload::text END
               FROM events
              WHERE centre_id = $1 AND received > $2 ORDER BY received LIMIT $3",
            &[&centre, &last, &limit, &PROJECTED],
        )
        .await?;
    tx.batch_execute("SET LOCAL enable_sort TO DEFAULT").await?;

    let mut pending = Vec::with_capacity(rows.len());
    let mut rejected: Vec<(i64, String, String)> = Vec::new();
    let mut max_at: Option<DateTime<Utc>> = None;
    for r in &rows {
        let received: i64 = r.try_get(0)?;
        let kind: String = r.try_get(1)?;
        let at: DateTime<Utc> = r.try_get(2)?;
        let payload: Option<String> = r.try_get(3)?;
        max_at = max_at.max(Some(at));
        let Some(payload) = payload else {
            continue;
        };
        match rejection(&payload) {
            Some(why) => rejected.push((received, kind, why)),
            None => pending.push(Pending { received, kind }),
        }
    }
    let (Some(newest), Some(max_at)) = (
        rows.last().map(|r| r.try_get::<_, i64>(0)).transpose()?,
        max_at,
    ) else {
        tx.commit().await?;
        return Ok(0);
    };

    // The whole batch at once. Should the database refuse it (a value out of its range, a
    // token another ticket holds), each half again, each in its own savepoint, down to the
    // single event, which is then skipped. Applying consecutive parts one after the other
    // gives the same tables as applying the whole.
    let bad: Vec<i64> = rejected.iter().map(|r| r.0).collect();
    let mut parts = vec![(0, pending.len())];
    while let Some((from, to)) = parts.pop() {
        let part = &pending[from..to];
        let (Some(first), Some(end)) = (part.first(), part.last()) else {
            continue;
        };
        let after = pending[..from].last().map_or(last, |p| p.received);
        let kinds: BTreeSet<&str> = part.iter().map(|p| p.kind.as_str()).collect();
        let sp = tx.savepoint("projector_part").await?;
        match apply(&sp, centre, after, end.received, &bad, &kinds).await {
            Ok(()) => sp.commit().await?,
            Err(e) if is_data_error(&e) => {
                sp.rollback().await?;
                if part.len() == 1 {
                    let why = crate::db::db_error_text(&e);
                    rejected.push((first.received, first.kind.clone(), why));
                } else {
                    let middle = from + part.len() / 2;
                    parts.push((middle, to));
                    parts.push((from, middle));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    for (received, kind, why) in &rejected {
        tracing::warn!("projector: centre {centre} event {received} ({kind}) skipped: {why}");
        tx.execute(
            "INSERT INTO projection_skipped (centre_id, received, kind, error)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[&centre, received, kind, why],
        )
        .await?;
    }
    let n = rows.len() as i64;
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

/// The events of the batch as `e`: `$1` centre, received in (`$2`, `$3`], except the
/// rejected ones `$4`. Every statement below reads its events through this. `OFFSET 0`
/// keeps the kind tests outside: the rows are found by the (centre_id, received) index
/// alone. Offered `centre_id` and `kind` together, a planner without statistics on
/// `events` takes the (centre_id, kind, at) index and reads every event of that kind the
/// centre ever sent, for each batch.
macro_rules! batch {
    () => {
        "(SELECT e.received, e.kind, e.at, e.payload FROM events e
           WHERE e.centre_id = $1 AND e.received > $2 AND e.received <= $3
             AND e.received <> ALL($4)
          OFFSET 0) e"
    };
}

/// The kinds that change one ticket (`day_closed` changes many).
macro_rules! ticket_kinds {
    () => {
        "('ticket_issued', 'ticket_called', 'ticket_started', 'ticket_finished',
          'ticket_no_show', 'ticket_on_hold', 'ticket_cancelled', 'ticket_transferred')"
    };
}

/// A `u32` of the payload as `integer`, saturating like the hub's own conversion.
macro_rules! int4 {
    ($field:literal) => {
        concat!("least((p->>'", $field, "')::int8, 2147483647)::int4")
    };
}

// The updates below also find their rows by primary key from the batch (`= ANY
// (ARRAY(..))`): joined on the key alone, a planner without statistics on the projection
// tables scans every row of the centre for each batch, and the projector slows down as
// the tables grow.

/// The latest issue of each ticket replaces the row (a restored hub's repeated id).
const TICKETS_ISSUED: &str = concat!(
    "INSERT INTO tickets (centre_id, ticket_id, number, service, class, channel, token,
                          issued_at, state, updated_at)
     SELECT DISTINCT ON (ticket_id) $1, ticket_id, number, service, class, channel, token,
            at, 'waiting', at
       FROM (SELECT (p->>'ticket_id')::int8 AS ticket_id, p->>'number' AS number,
                    p->>'service' AS service, p->>'class' AS class, p->>'channel' AS channel,
                    nullif(p->>'token', '') AS token, e.at, e.received
               FROM ",
    batch!(),
    ", LATERAL (SELECT e.payload AS p) x
      WHERE e.kind = 'ticket_issued') i
      ORDER BY ticket_id, received DESC
     ON CONFLICT (centre_id, ticket_id) DO UPDATE
       SET number = excluded.number, service = excluded.service,
           class = excluded.class, channel = excluded.channel, token = excluded.token,
           issued_at = excluded.issued_at, called_at = NULL, counter = NULL,
           staff_id = NULL, started_at = NULL, finished_at = NULL,
           service_secs = NULL, state = 'waiting', updated_at = excluded.updated_at"
);

/// Every other ticket event after the ticket's latest issue in the batch (all of them
/// when it has none), folded in order: the first call sets `called_at` and the first
/// start `started_at`; the last event with a counter sets the counter (a transfer clears
/// it), the last finish the finish, the last staff member given stays; the state and
/// `updated_at` are the latest event's.
const TICKETS_CHANGED: &str = concat!(
    "WITH ev AS (
       SELECT (e.payload->>'ticket_id')::int8 AS ticket_id, e.received, e.kind, e.at,
              e.payload AS p,
              max(e.received) FILTER (WHERE e.kind = 'ticket_issued')
                OVER (PARTITION BY (e.payload->>'ticket_id')::int8) AS issued
         FROM ",
    batch!(),
    "
      WHERE e.kind IN ",
    ticket_kinds!(),
    "),
     folded AS (
       SELECT ticket_id,
              (array_agg(at ORDER BY received) FILTER (WHERE kind = 'ticket_called'))[1]
                AS first_call,
              (array_agg(at ORDER BY received) FILTER (WHERE kind = 'ticket_started'))[1]
                AS first_start,
              bool_or(kind NOT IN ('ticket_cancelled')) AS sets_counter,
              (array_agg(CASE WHEN kind <> 'ticket_transferred' THEN ",
    int4!("counter"),
    " END ORDER BY received DESC)
                 FILTER (WHERE kind <> 'ticket_cancelled'))[1] AS counter,
              (array_agg(p->>'staff_id' ORDER BY received DESC)
                 FILTER (WHERE kind IN ('ticket_called', 'ticket_finished')
                           AND p->>'staff_id' IS NOT NULL))[1] AS staff_id,
              bool_or(kind = 'ticket_finished') AS finished,
              (array_agg(at ORDER BY received DESC) FILTER (WHERE kind = 'ticket_finished'))[1]
                AS finished_at,
              (array_agg(",
    int4!("service_secs"),
    " ORDER BY received DESC) FILTER (WHERE kind = 'ticket_finished'))[1] AS service_secs,
              (array_agg(p->>'to' ORDER BY received DESC)
                 FILTER (WHERE kind = 'ticket_transferred'))[1] AS service,
              (array_agg(kind ORDER BY received DESC))[1] AS last_kind,
              (array_agg(at ORDER BY received DESC))[1] AS last_at
         FROM ev
        WHERE kind <> 'ticket_issued' AND received > coalesce(issued, 0)
        GROUP BY ticket_id)
     UPDATE tickets t
        SET called_at = coalesce(t.called_at, f.first_call),
            started_at = coalesce(t.started_at, f.first_start),
            counter = CASE WHEN f.sets_counter THEN f.counter ELSE t.counter END,
            staff_id = coalesce(f.staff_id, t.staff_id),
            finished_at = CASE WHEN f.finished THEN f.finished_at ELSE t.finished_at END,
            service_secs = CASE WHEN f.finished THEN f.service_secs ELSE t.service_secs END,
            service = coalesce(f.service, t.service),
            state = CASE f.last_kind
                      WHEN 'ticket_called' THEN 'called'
                      WHEN 'ticket_started' THEN 'serving'
                      WHEN 'ticket_finished' THEN 'finished'
                      WHEN 'ticket_no_show' THEN 'no_show'
                      WHEN 'ticket_on_hold' THEN 'on_hold'
                      WHEN 'ticket_cancelled' THEN 'cancelled'
                      WHEN 'ticket_transferred' THEN 'waiting'
                    END,
            updated_at = f.last_at
       FROM folded f
      WHERE t.centre_id = $1 AND t.ticket_id = f.ticket_id
        AND t.ticket_id = ANY (ARRAY(SELECT ticket_id FROM folded))"
);

/// The hub cancels what is still open at closing; so does this. A ticket's state at a
/// close is its state after its last event before the close, which is its state now when
/// it has no event after that close in the batch: so each ticket still waiting or called
/// is cancelled by the first close after its last event (any close of the batch when it
/// had none) that is not before its issue. (The closes are materialised: a batch holds
/// one or two, looked at for each open ticket.)
const TICKETS_CLOSED: &str = concat!(
    "WITH closes AS MATERIALIZED (
       SELECT e.received, e.at FROM ",
    batch!(),
    "
      WHERE e.kind = 'day_closed'),
     latest AS MATERIALIZED (
       SELECT (e.payload->>'ticket_id')::int8 AS ticket_id, max(e.received) AS received
         FROM ",
    batch!(),
    "
      WHERE e.kind IN ",
    ticket_kinds!(),
    " GROUP BY 1),
     closed AS (
       SELECT t.ticket_id,
              (SELECT c.at FROM closes c
                WHERE c.received > coalesce(l.received, 0) AND c.at >= t.issued_at
                ORDER BY c.received LIMIT 1) AS at
         FROM tickets t LEFT JOIN latest l ON l.ticket_id = t.ticket_id
        WHERE t.centre_id = $1 AND t.state IN ('waiting', 'called'))
     UPDATE tickets t SET state = 'cancelled', updated_at = c.at
       FROM closed c
      WHERE t.centre_id = $1 AND t.ticket_id = c.ticket_id AND c.at IS NOT NULL"
);

/// The latest creation of each request replaces the row; an erased pseudonym is never
/// stored again (GB/T 5.4.2; erasures of this batch are applied after this).
const REQUESTS_CREATED: &str = concat!(
    "INSERT INTO requests (centre_id, request_id, service, channel, ticket_id, customer,
                           stage, created_at, reply_due, resolve_due, updated_at)
     SELECT DISTINCT ON (request_id) $1, request_id, service, channel, ticket_id,
            CASE WHEN EXISTS (SELECT 1 FROM erasures x
                               WHERE x.centre_id = $1 AND x.customer = c.customer)
                 THEN NULL ELSE c.customer END,
            stage, at, reply_due, resolve_due, at
       FROM (SELECT (p->>'request_id')::int8 AS request_id, p->>'service' AS service,
                    p->>'channel' AS channel, (p->>'ticket_id')::int8 AS ticket_id,
                    p->>'customer' AS customer, p->>'stage' AS stage, e.at, e.received,
                    CASE WHEN jsonb_typeof(p->'deadlines') = 'object'
                         THEN (p->'deadlines'->>'reply_due')::timestamptz END AS reply_due,
                    CASE WHEN jsonb_typeof(p->'deadlines') = 'object'
                         THEN (p->'deadlines'->>'resolve_due')::timestamptz END AS resolve_due
               FROM ",
    batch!(),
    ", LATERAL (SELECT e.payload AS p) x
      WHERE e.kind = 'request_created') c
      ORDER BY request_id, received DESC
     ON CONFLICT (centre_id, request_id) DO UPDATE
       SET service = excluded.service, channel = excluded.channel,
           ticket_id = excluded.ticket_id, customer = excluded.customer,
           stage = excluded.stage, created_at = excluded.created_at,
           reply_due = excluded.reply_due, resolve_due = excluded.resolve_due,
           answered_at = NULL, resolved_at = NULL, updated_at = excluded.updated_at"
);

/// Each request's moves after its latest creation in the batch: the last move's stage;
/// the last deadlines given; the hub's rule: answered on the last move to reply, resolved
/// on the last move to archiving.
const REQUESTS_ADVANCED: &str = concat!(
    "WITH ev AS (
       SELECT (e.payload->>'request_id')::int8 AS request_id, e.received, e.kind, e.at,
              e.payload AS p,
              max(e.received) FILTER (WHERE e.kind = 'request_created')
                OVER (PARTITION BY (e.payload->>'request_id')::int8) AS created
         FROM ",
    batch!(),
    "
      WHERE e.kind IN ('request_created', 'request_advanced')),
     folded AS (
       SELECT request_id,
              (array_agg(p->>'to' ORDER BY received DESC))[1] AS stage,
              (array_agg(at ORDER BY received DESC))[1] AS last_at,
              (array_agg(p->'deadlines' ORDER BY received DESC)
                 FILTER (WHERE jsonb_typeof(p->'deadlines') = 'object'))[1] AS deadlines,
              (array_agg(at ORDER BY received DESC) FILTER (WHERE p->>'to' = 'reply'))[1]
                AS answered_at,
              (array_agg(at ORDER BY received DESC) FILTER (WHERE p->>'to' = 'archiving'))[1]
                AS resolved_at
         FROM ev
        WHERE kind = 'request_advanced' AND received > coalesce(created, 0)
        GROUP BY request_id)
     UPDATE requests r
        SET stage = f.stage,
            reply_due = CASE WHEN f.deadlines IS NULL THEN r.reply_due
                             ELSE (f.deadlines->>'reply_due')::timestamptz END,
            resolve_due = CASE WHEN f.deadlines IS NULL THEN r.resolve_due
                               ELSE (f.deadlines->>'resolve_due')::timestamptz END,
            answered_at = coalesce(f.answered_at, r.answered_at),
            resolved_at = coalesce(f.resolved_at, r.resolved_at),
            updated_at = f.last_at
       FROM folded f
      WHERE r.centre_id = $1 AND r.request_id = f.request_id
        AND r.request_id = ANY (ARRAY(SELECT request_id FROM folded))"
);

const PAYMENTS_RECORDED: &str = concat!(
    "INSERT INTO payments (centre_id, payment_id, request_id, amount_fen, method, at)
     SELECT DISTINCT ON ((p->>'payment_id')::int8) $1, (p->>'payment_id')::int8,
            (p->>'request_id')::int8, (p->>'amount')::int8, p->>'method', e.at
       FROM ",
    batch!(),
    ", LATERAL (SELECT e.payload AS p) x
      WHERE e.kind = 'payment_recorded'
      ORDER BY (p->>'payment_id')::int8, e.received DESC
     ON CONFLICT (centre_id, payment_id) DO UPDATE
       SET request_id = excluded.request_id, amount_fen = excluded.amount_fen,
           method = excluded.method, at = excluded.at"
);

const REFUNDS_RECORDED: &str = concat!(
    "INSERT INTO refunds (centre_id, refund_id, request_id, amount_fen, due_date, recorded_at)
     SELECT DISTINCT ON ((p->>'refund_id')::int8) $1, (p->>'refund_id')::int8,
            (p->>'request_id')::int8, (p->>'amount')::int8, (p->>'due_date')::date, e.at
       FROM ",
    batch!(),
    ", LATERAL (SELECT e.payload AS p) x
      WHERE e.kind = 'refund_recorded'
      ORDER BY (p->>'refund_id')::int8, e.received DESC
     ON CONFLICT (centre_id, refund_id) DO UPDATE
       SET request_id = excluded.request_id, amount_fen = excluded.amount_fen,
           due_date = excluded.due_date, recorded_at = excluded.recorded_at,
           paid_at = NULL"
);

/// The last payment of each refund after its latest recording in the batch.
const REFUNDS_PAID: &str = concat!(
    "WITH ev AS (
       SELECT (e.payload->>'refund_id')::int8 AS refund_id, e.received, e.kind, e.at,
              max(e.received) FILTER (WHERE e.kind = 'refund_recorded')
                OVER (PARTITION BY (e.payload->>'refund_id')::int8) AS recorded
         FROM ",
    batch!(),
    "
      WHERE e.kind IN ('refund_recorded', 'refund_paid')),
     paid AS (
       SELECT DISTINCT ON (refund_id) refund_id, at FROM ev
        WHERE kind = 'refund_paid' AND received > coalesce(recorded, 0)
        ORDER BY refund_id, received DESC)
     UPDATE refunds f SET paid_at = paid.at
       FROM paid
      WHERE f.centre_id = $1 AND f.refund_id = paid.refund_id
        AND f.refund_id = ANY (ARRAY(SELECT refund_id FROM paid))"
);

const RATINGS_GIVEN: &str = concat!(
    "INSERT INTO ratings (centre_id, rating_id, ticket_id, request_id, service, score,
                          via, counter, staff_id, at)
     SELECT DISTINCT ON ((p->>'rating_id')::int8) $1, (p->>'rating_id')::int8,
            (p->>'ticket_id')::int8, (p->>'request_id')::int8, p->>'service',
            (p->>'score')::int2, p->>'via', ",
    int4!("counter"),
    ", p->>'staff_id', e.at
       FROM ",
    batch!(),
    ", LATERAL (SELECT e.payload AS p) x
      WHERE e.kind = 'rating_given'
      ORDER BY (p->>'rating_id')::int8, e.received DESC
     ON CONFLICT (centre_id, rating_id) DO UPDATE
       SET ticket_id = excluded.ticket_id, request_id = excluded.request_id,
           service = excluded.service, score = excluded.score, via = excluded.via,
           counter = excluded.counter, staff_id = excluded.staff_id, at = excluded.at"
);

/// GB/T 5.4.2: the first tombstone of a pseudonym stays.
const CUSTOMERS_ERASED: &str = concat!(
    "INSERT INTO erasures (centre_id, customer, reason, at)
     SELECT DISTINCT ON (e.payload->>'customer') $1, e.payload->>'customer',
            e.payload->>'reason', e.at
       FROM ",
    batch!(),
    "
      WHERE e.kind = 'customer_erased'
      ORDER BY e.payload->>'customer', e.received
     ON CONFLICT (centre_id, customer) DO NOTHING"
);

/// Headquarters forgets every link to an erased pseudonym, after this batch's creations.
const CUSTOMERS_UNLINKED: &str = concat!(
    "UPDATE requests r SET customer = NULL
      WHERE r.centre_id = $1
        AND r.customer IN (SELECT e.payload->>'customer' FROM ",
    batch!(),
    "
      WHERE e.kind = 'customer_erased')"
);

/// Applies the events of `centre` received in (`after`, `upto`], except `rejected`, one
/// statement per change, each run only when the batch holds one of the `kinds` it reads.
async fn apply(
    tx: &Transaction<'_>,
    centre: &str,
    after: i64,
    upto: i64,
    rejected: &[i64],
    kinds: &BTreeSet<&str>,
) -> Result<(), tokio_postgres::Error> {
    let has = |names: &[&str]| names.iter().any(|k| kinds.contains(k));
    let ticket_changes = [
        "ticket_called",
        "ticket_started",
        "ticket_finished",
        "ticket_no_show",
        "ticket_on_hold",
        "ticket_cancelled",
        "ticket_transferred",
    ];
    // Order matters where one table is changed by several statements: a ticket's issue
    // before its later events, the day's close after them; a request's creation before
    // its moves and before the erasures; a refund's recording before its payment.
    let statements: [(&str, bool); 11] = [
        (TICKETS_ISSUED, has(&["ticket_issued"])),
        (TICKETS_CHANGED, has(&ticket_changes)),
        (TICKETS_CLOSED, has(&["day_closed"])),
        (REQUESTS_CREATED, has(&["request_created"])),
        (REQUESTS_ADVANCED, has(&["request_advanced"])),
        (PAYMENTS_RECORDED, has(&["payment_recorded"])),
        (REFUNDS_RECORDED, has(&["refund_recorded"])),
        (REFUNDS_PAID, has(&["refund_paid"])),
        (RATINGS_GIVEN, has(&["rating_given"])),
        (CUSTOMERS_ERASED, has(&["customer_erased"])),
        (CUSTOMERS_UNLINKED, has(&["customer_erased"])),
    ];
    let rejected = rejected.to_vec();
    for (sql, wanted) in statements {
        if wanted {
            tx.execute(sql, &[&centre, &after, &upto, &rejected])
                .await?;
        }
    }
    Ok(())
}
