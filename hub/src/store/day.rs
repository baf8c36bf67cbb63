//! The business day: opened explicitly (by staff, or automatically once the clock is
//! trustworthy), never derived from an unsynchronised clock; closing it cancels what is
//! still open. Ticket numbers restart each business day.

use chrono::{DateTime, NaiveDate, Utc};
use protocol::{BusinessDayView, HubEvent};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Actor, StoreError, WriteCtx};

fn day_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BusinessDayView> {
    Ok(BusinessDayView {
        id: r.get(0)?,
        date: r.get(1)?,
        opened_at: r.get(2)?,
        closed_at: r.get(3)?,
        clock_synced: r.get(4)?,
    })
}

/// The open business day, if any.
pub fn current_day(conn: &Connection) -> Result<Option<BusinessDayView>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, date, opened_at, closed_at, clock_synced FROM business_days
             WHERE closed_at IS NULL ORDER BY id DESC LIMIT 1",
        )?
        .query_row([], day_from_row)
        .optional()?)
}

/// The most recent business day, open or closed.
pub fn open_day_view(conn: &Connection) -> Result<Option<BusinessDayView>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT id, date, opened_at, closed_at, clock_synced FROM business_days ORDER BY id DESC LIMIT 1",
        )?
        .query_row([], day_from_row)
        .optional()?)
}

pub fn open_day(
    ctx: &mut WriteCtx<'_>,
    actor: &Actor,
    date: NaiveDate,
) -> Result<BusinessDayView, StoreError> {
    if let Some(open) = current_day(ctx.conn)? {
        return Err(StoreError::DayAlreadyOpen(open.date));
    }
    if day_exists(ctx.conn, date)? {
        return Err(StoreError::DayAlreadyUsed(date));
    }
    let synced = ctx.stamp.synced;
    ctx.conn.execute(
        "INSERT INTO business_days (date, opened_at, opened_by, clock_synced) VALUES (?1, ?2, ?3, ?4)",
        params![date, ctx.now, actor.staff_id, synced],
    )?;
    let id = ctx.conn.last_insert_rowid();
    ctx.emit(HubEvent::DayOpened { day_id: id, date })?;
    ctx.audit(
        actor,
        "day_open",
        &format!("business day {date} opened (clock synced: {synced})"),
    )?;
    Ok(BusinessDayView {
        id,
        date,
        opened_at: ctx.now,
        closed_at: None,
        clock_synced: synced,
    })
}

pub fn close_day(ctx: &mut WriteCtx<'_>, actor: &Actor) -> Result<BusinessDayView, StoreError> {
    let day = current_day(ctx.conn)?.ok_or(StoreError::NoBusinessDay)?;
    let open: Vec<(i64, String)> = {
        let mut stmt = ctx.conn.prepare(
            "SELECT id, number FROM tickets WHERE day_id = ?1
             AND state IN ('waiting', 'called', 'serving', 'on_hold') ORDER BY id",
        )?;
        let rows = stmt.query_map([day.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (id, number) in &open {
        ctx.conn.execute(
            "UPDATE tickets SET state = 'cancelled', finished_at = ?2 WHERE id = ?1",
            params![id, ctx.now],
        )?;
        ctx.emit(HubEvent::TicketCancelled {
            ticket_id: *id,
            number: number.clone(),
            voided: false,
        })?;
    }
    ctx.conn.execute(
        "UPDATE business_days SET closed_at = ?2 WHERE id = ?1",
        params![day.id, ctx.now],
    )?;
    let cancelled = u32::try_from(open.len()).unwrap_or(u32::MAX);
    ctx.emit(HubEvent::DayClosed {
        day_id: day.id,
        date: day.date,
        cancelled,
    })?;
    ctx.audit(
        actor,
        "day_close",
        &format!(
            "business day {} closed, {cancelled} open tickets cancelled",
            day.date
        ),
    )?;
    Ok(BusinessDayView {
        closed_at: Some(ctx.now),
        ..day
    })
}

/// Whether a day with this date was already opened (auto-open uses it to open once).
pub fn day_exists(conn: &Connection, date: NaiveDate) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) > 0 FROM business_days WHERE date = ?1",
        [date],
        |r| r.get(0),
    )?)
}

/// Seconds between two stored instants, never negative.
pub(crate) fn secs_between(a: DateTime<Utc>, b: DateTime<Utc>) -> u32 {
    u32::try_from((b - a).num_seconds().max(0)).unwrap_or(u32::MAX)
}
