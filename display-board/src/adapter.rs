//! Copies the board model into the Slint `BoardPage` global (conventions habit 9): the
//! only place that knows both. Changes from the network thread arrive through
//! `upgrade_in_event_loop`; the clock and the highlight's end are a UI-thread tick.
//!
//! It holds no state of its own and never talks to the hub.

use chrono::{DateTime, Datelike, FixedOffset, Local, Timelike, Utc};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel, Weak};

use crate::model::{BoardView, Connection, TileState};
use crate::slint_ui::{BoardPage, BoardWindow, CallRow, CounterTileRow, WaitRow};
use crate::subscriber::{SharedBoard, lock};
use ui::Lang;

fn call_row(c: &crate::model::Call, lang: Lang) -> CallRow {
    CallRow {
        number: c.number.as_str().into(),
        counter: c.counter as i32,
        service_primary: lang.pick(c.service.name_zh(), c.service.name_en()).into(),
        service_secondary: lang
            .other()
            .pick(c.service.name_zh(), c.service.name_en())
            .into(),
        recall: c.recall,
    }
}

/// Minutes shown for an estimate: rounded up, at least 1.
pub fn wait_minutes(secs: u32) -> i32 {
    secs.div_ceil(60).max(1) as i32
}

/// The information band: each item in the leading language, then the other.
pub fn ticker_text(view: &BoardView, lang: Lang) -> String {
    view.centre
        .info
        .iter()
        .map(|(zh, en)| format!("{}　{}", lang.pick(zh, en), lang.other().pick(zh, en)))
        .collect::<Vec<_>>()
        .join("　　◆　　")
}

/// Sets every property of the page from a view.
pub fn fill(page: &BoardPage<'_>, view: &BoardView, lang: Lang) {
    let c = &view.centre;
    page.set_centre_primary(lang.pick(&c.name_zh, &c.name_en).into());
    page.set_centre_secondary(lang.other().pick(&c.name_zh, &c.name_en).into());
    page.set_has_latest(view.latest.is_some());
    if let Some(l) = &view.latest {
        page.set_latest(call_row(l, lang));
    }
    page.set_highlight(view.highlight);
    let history: Vec<CallRow> = view.history.iter().map(|c| call_row(c, lang)).collect();
    page.set_history(ModelRc::new(VecModel::from(history)));
    let tiles: Vec<CounterTileRow> = view
        .counters
        .iter()
        .map(|t| CounterTileRow {
            counter: t.counter as i32,
            state: match t.state {
                TileState::Idle => 0,
                TileState::Called => 1,
                TileState::Serving => 2,
            },
            number: t.number.as_deref().unwrap_or_default().into(),
        })
        .collect();
    page.set_counters(ModelRc::new(VecModel::from(tiles)));
    let waits: Vec<WaitRow> = view
        .waits
        .iter()
        .map(|w| WaitRow {
            prefix: SharedString::from(w.prefix.to_string()),
            name_primary: lang.pick(&w.name_zh, &w.name_en).into(),
            name_secondary: lang.other().pick(&w.name_zh, &w.name_en).into(),
            waiting: w.waiting as i32,
            wait_minutes: wait_minutes(w.estimated_wait_secs),
        })
        .collect();
    page.set_waits(ModelRc::new(VecModel::from(waits)));
    page.set_ticker(ticker_text(view, lang).into());
    page.set_connection(match view.connection {
        Connection::Connecting => 0,
        Connection::Live => 1,
        Connection::Reconnecting => 2,
    });
    page.set_day_open(view.day_open);
}

/// From any thread: re-renders the board from the model on the UI thread.
pub fn push(window: &Weak<BoardWindow>, board: &SharedBoard, lang: Lang) {
    let view = lock(board).view(std::time::Instant::now());
    let posted = window.upgrade_in_event_loop(move |w| fill(&w.global::<BoardPage>(), &view, lang));
    if let Err(e) = posted {
        tracing::debug!("board: window gone, update dropped: {e}");
    }
}

/// The clock, the date and the weekday (0 = Monday) at `utc` in the centre's time zone
/// (`offset`, from the catalogue; the machine's own zone until the catalogue arrives).
pub fn clock_text(utc: DateTime<Utc>, offset: Option<FixedOffset>) -> (String, String, i32) {
    let offset = offset.unwrap_or_else(|| *utc.with_timezone(&Local).offset());
    let now = utc.with_timezone(&offset);
    (
        format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second()),
        format!("{}-{:02}-{:02}", now.year(), now.month(), now.day()),
        now.weekday().num_days_from_monday() as i32,
    )
}

/// On the UI thread, a few times a second: the clock, and the highlight's end.
pub fn tick(page: &BoardPage<'_>, board: &SharedBoard) {
    let (offset, lit) = {
        let b = lock(board);
        (b.utc_offset(), b.highlighted(std::time::Instant::now()))
    };
    let (clock, date, weekday) = clock_text(Utc::now(), offset);
    page.set_clock(clock.into());
    page.set_date(date.into());
    page.set_weekday(weekday);
    if page.get_highlight() != lit {
        page.set_highlight(lit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_clock_shows_the_centres_time_not_the_machines() {
        // 2026-03-01 (a Sunday) 20:30 UTC is Monday 04:30 in China (UTC+8).
        let utc = Utc.with_ymd_and_hms(2026, 3, 1, 20, 30, 5).unwrap();
        let china = FixedOffset::east_opt(480 * 60);
        assert_eq!(
            clock_text(utc, china),
            ("04:30:05".to_owned(), "2026-03-02".to_owned(), 0)
        );
        let utc0 = FixedOffset::east_opt(0);
        assert_eq!(
            clock_text(utc, utc0),
            ("20:30:05".to_owned(), "2026-03-01".to_owned(), 6)
        );
    }
}
