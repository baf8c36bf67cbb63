//! The report's question from the query string: which centre, service, counter, staff
//! member and period (`from`/`to`, inclusive local dates; the last 30 days by default), and
//! the same-length period just before for comparison. Rejects what it cannot answer with
//! a clear bilingual message; never builds SQL from the input (the values are bound).

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, Utc};
use deadpool_postgres::Client;
use domain::ServiceType;
use tokio_postgres::types::ToSql;

use super::error::ReportError;
use super::page;

/// The default period length in days.
pub(crate) const DEFAULT_DAYS: i64 = 30;
/// The longest period a report covers (about ten years).
const MAX_DAYS: i64 = 3660;
/// China Standard Time, for "today" when no centre is chosen.
const DEFAULT_OFFSET_MINUTES: i32 = 480;

/// Inclusive local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Period {
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
}

impl Period {
    pub(crate) fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The same-length period that ends the day before this one starts.
    pub(crate) fn previous(&self) -> Period {
        let to = self.from - Duration::days(1);
        Period {
            from: to - Duration::days(self.days() - 1),
            to,
        }
    }

    /// Every day of the period, in order.
    pub(crate) fn each_day(&self) -> impl Iterator<Item = NaiveDate> {
        let from = self.from;
        (0..self.days()).map(move |i| from + Duration::days(i))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) centre: Option<String>,
    pub(crate) service: Option<ServiceType>,
    pub(crate) counter: Option<i32>,
    pub(crate) staff: Option<String>,
    pub(crate) period: Period,
    pub(crate) csv: bool,
}

/// The bound values of a report query, in the order every report's SQL uses:
/// `$1` centre, `$2` service, `$3` counter, `$4` staff, `$5` from, `$6` to.
#[derive(Debug)]
pub(crate) struct Args<'a> {
    centre: Option<&'a str>,
    service: Option<&'static str>,
    counter: Option<i32>,
    staff: Option<&'a str>,
    from: NaiveDate,
    to: NaiveDate,
}

impl Args<'_> {
    pub(crate) fn refs(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.centre,
            &self.service,
            &self.counter,
            &self.staff,
            &self.from,
            &self.to,
        ]
    }
}

fn get<'a>(q: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    q.get(key).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn parse_date(q: &HashMap<String, String>, key: &str) -> Result<Option<NaiveDate>, ReportError> {
    let Some(s) = get(q, key) else {
        return Ok(None);
    };
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| {
            ReportError::bad(
                format!("日期“{key}”无效：“{s}”。请用 年-月-日 格式，例如 2024-03-01。"),
                format!(
                    "The date `{key}` is not valid: “{s}”. Write it as YYYY-MM-DD, e.g. 2024-03-01."
                ),
            )
        })
}

impl Filter {
    /// Reads and checks the query; `csv_path` is true for the `….csv` routes.
    pub(crate) async fn from_query(
        q: &HashMap<String, String>,
        db: &Client,
        csv_path: bool,
    ) -> Result<Filter, ReportError> {
        let csv = match get(q, "format") {
            None | Some("html") => csv_path,
            Some("csv") => true,
            Some(other) => {
                return Err(ReportError::bad(
                    format!("未知的格式“{other}”：请用 html 或 csv。"),
                    format!("Unknown format “{other}”: use html or csv."),
                ));
            }
        };
        let service = match get(q, "service") {
            None | Some("*") => None,
            Some(s) => Some(s.parse::<ServiceType>().map_err(|_| {
                ReportError::bad(
                    format!(
                        "未知的服务类型“{s}”。可选：consultation 咨询、complaint 投诉、installation 安装、repair 维修、return_exchange 退换货。"
                    ),
                    format!(
                        "Unknown service “{s}”. Use one of consultation, complaint, installation, repair, return_exchange."
                    ),
                )
            })?),
        };
        let counter = match get(q, "counter") {
            None => None,
            Some(s) => Some(s.parse::<i32>().ok().filter(|c| *c >= 0).ok_or_else(|| {
                ReportError::bad(
                    format!("窗口号“{s}”无效：请填写一个非负整数。"),
                    format!("The counter “{s}” is not valid: give a whole number, 0 or more."),
                )
            })?),
        };
        let staff = match get(q, "staff") {
            None => None,
            Some(s) if s.chars().count() <= 64 && !s.chars().any(char::is_control) => {
                Some(s.to_owned())
            }
            Some(_) => {
                return Err(ReportError::bad(
                    "员工编号无效（最多 64 个字符）。",
                    "The staff id is not valid (at most 64 characters).",
                ));
            }
        };
        let centre = match get(q, "centre") {
            None | Some("*") => None,
            Some(s) => Some(s.to_owned()),
        };
        let mut offset = DEFAULT_OFFSET_MINUTES;
        if let Some(c) = &centre {
            let row = db
                .query_opt(
                    "SELECT utc_offset_minutes FROM centres WHERE centre_id = $1",
                    &[c],
                )
                .await?;
            match row {
                Some(r) => offset = r.try_get(0)?,
                None => {
                    return Err(ReportError::bad(
                        format!("没有编号为“{c}”的服务中心。"),
                        format!("There is no centre “{c}”."),
                    ));
                }
            }
        }
        let from = parse_date(q, "from")?;
        let to = parse_date(q, "to")?;
        let today = (Utc::now() + Duration::minutes(i64::from(offset))).date_naive();
        let (from, to) = match (from, to) {
            (Some(f), Some(t)) => (f, t),
            (Some(f), None) => (f, today.max(f)),
            (None, Some(t)) => (t - Duration::days(DEFAULT_DAYS - 1), t),
            (None, None) => (today - Duration::days(DEFAULT_DAYS - 1), today),
        };
        if from > to {
            return Err(ReportError::bad(
                format!(
                    "开始日期 {} 晚于结束日期 {}。",
                    page::date(from),
                    page::date(to)
                ),
                format!(
                    "The start date {} is after the end date {}.",
                    page::date(from),
                    page::date(to)
                ),
            ));
        }
        let period = Period { from, to };
        if period.days() > MAX_DAYS {
            return Err(ReportError::bad(
                format!("统计期过长：最多 {MAX_DAYS} 天。"),
                format!("The period is too long: at most {MAX_DAYS} days."),
            ));
        }
        Ok(Filter {
            centre,
            service,
            counter,
            staff,
            period,
            csv,
        })
    }

    pub(crate) fn args(&self, period: Period) -> Args<'_> {
        Args {
            centre: self.centre.as_deref(),
            service: self.service.map(ServiceType::code),
            counter: self.counter,
            staff: self.staff.as_deref(),
            from: period.from,
            to: period.to,
        }
    }

    /// The filter as query pairs (for links that keep it).
    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        if let Some(c) = &self.centre {
            v.push(("centre", c.clone()));
        }
        if let Some(s) = self.service {
            v.push(("service", s.code().to_owned()));
        }
        if let Some(c) = self.counter {
            v.push(("counter", c.to_string()));
        }
        if let Some(s) = &self.staff {
            v.push(("staff", s.clone()));
        }
        v.push(("from", page::date(self.period.from)));
        v.push(("to", page::date(self.period.to)));
        v
    }

    /// `?centre=..&from=..` keeping this filter.
    pub(crate) fn keep(&self) -> String {
        page::query_string(&self.pairs())
    }

    /// The CSV link for a report path.
    pub(crate) fn csv_href(&self, path: &str) -> String {
        format!("{path}.csv{}", self.keep())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn previous_period_has_the_same_length_and_ends_the_day_before() {
        let p = Period {
            from: d("2024-03-01"),
            to: d("2024-03-10"),
        };
        assert_eq!(p.days(), 10);
        let q = p.previous();
        assert_eq!(q.from, d("2024-02-20"));
        assert_eq!(q.to, d("2024-02-29"));
        assert_eq!(q.days(), 10);
        assert_eq!(p.each_day().count(), 10);
    }
}
