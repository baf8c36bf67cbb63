//! The centre's working-day calendar: weekends, public holidays and the make-up working
//! days China shifts around them (调休). Used for the refund due date of GB/T 8.4.3.

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// GB/T 8.4.3: refunds are returned within this many working days.
pub const REFUND_WORKING_DAYS: u32 = 5;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkCalendar {
    /// Days off that would otherwise be working days.
    pub holidays: BTreeSet<NaiveDate>,
    /// Weekend days that are working days (make-up days).
    pub makeup_workdays: BTreeSet<NaiveDate>,
}

impl WorkCalendar {
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.makeup_workdays.contains(&day) {
            return true;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holidays.contains(&day)
    }

    /// The `n`th working day after `from` (`from` itself never counts).
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> NaiveDate {
        let mut day = from;
        let mut left = n;
        while left > 0 {
            // Dates run out in the year 262143; a refund calendar never gets there.
            day = day.succ_opt().unwrap_or(NaiveDate::MAX);
            if day == NaiveDate::MAX || self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// GB/T 8.4.3: a refund requested on `requested_on` is due 5 working days later.
    pub fn refund_due_date(&self, requested_on: NaiveDate) -> NaiveDate {
        self.add_working_days(requested_on, REFUND_WORKING_DAYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn plain_week() {
        let cal = WorkCalendar::default();
        // Wednesday + 5 working days skips the weekend.
        assert_eq!(cal.refund_due_date(d("2026-03-04")), d("2026-03-11"));
        // Saturday request: Mon..Fri.
        assert_eq!(cal.refund_due_date(d("2026-03-07")), d("2026-03-13"));
    }

    #[test]
    fn national_day_golden_week_with_makeup_days() {
        // GB/T 8.4.3 with the 2026 National Day holiday shape: 1–7 Oct off,
        // Sun 27 Sep and Sat 10 Oct worked.
        let mut cal = WorkCalendar::default();
        for day in 1..=7 {
            cal.holidays
                .insert(NaiveDate::from_ymd_opt(2026, 10, day).unwrap());
        }
        cal.makeup_workdays.insert(d("2026-09-27"));
        cal.makeup_workdays.insert(d("2026-10-10"));
        assert!(cal.is_working_day(d("2026-09-27")));
        // Requested Wed 30 Sep: 8 Oct, 9 Oct, 10 Oct (Sat, make-up), 12 Oct, 13 Oct.
        assert_eq!(cal.refund_due_date(d("2026-09-30")), d("2026-10-13"));
    }
}
