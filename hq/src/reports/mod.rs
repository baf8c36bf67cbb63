//! Report pages (GB/T 9.1.3, 9.2, 4.1.1, 4.1.2, 8.4.3): satisfaction, response and
//! service time, requests within their promised time, refunds within 5 working days and
//! improvement targets, per centre / service / counter / staff and period, as server-drawn
//! HTML with inline SVG charts and as CSV. Reads the projection tables and writes only
//! `targets`; never touches `events` or the projector's tables. All SQL binds its values.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use deadpool_postgres::Client;

mod csv;
mod error;
mod filter;
mod overview;
mod page;
mod refunds;
mod requests;
mod response;
mod satisfaction;
mod stats;
mod svg;
mod targets;

use error::ReportError;
use filter::Filter;
use page::escape;

/// The report pages' routes.
pub fn router() -> Router<crate::HqState> {
    Router::new()
        .route("/reports", get(overview::html))
        .route("/reports.csv", get(overview::csv))
        .route("/reports/satisfaction", get(satisfaction::html))
        .route("/reports/satisfaction.csv", get(satisfaction::csv))
        .route("/reports/response", get(response::html))
        .route("/reports/response.csv", get(response::csv))
        .route("/reports/requests", get(requests::html))
        .route("/reports/requests.csv", get(requests::csv))
        .route("/reports/refunds", get(refunds::html))
        .route("/reports/refunds.csv", get(refunds::csv))
        .route("/reports/targets", get(targets::list).post(targets::set))
        .route("/reports/targets.csv", get(targets::list_csv))
}

/// The query string as the handlers read it.
type Q = Query<HashMap<String, String>>;

/// What every report handler starts with: a connection and the checked filter.
async fn begin(
    state: &crate::HqState,
    q: &HashMap<String, String>,
    csv_path: bool,
) -> Result<(Client, Filter), ReportError> {
    let db = state.pool.get().await?;
    let filter = Filter::from_query(q, &db, csv_path).await?;
    Ok((db, filter))
}

/// Every centre, `(id, name)`, for the filter form and the overview.
async fn centres(db: &Client) -> Result<Vec<(String, String)>, ReportError> {
    let rows = db
        .query(
            "SELECT centre_id, name FROM centres ORDER BY centre_id",
            &[],
        )
        .await?;
    let mut v = Vec::with_capacity(rows.len());
    for r in rows {
        v.push((r.try_get(0)?, r.try_get(1)?));
    }
    Ok(v)
}

/// SQL for the centre's local date of a `timestamptz` column (the centre's
/// `utc_offset_minutes`, China Standard Time when the centre is unknown). Needs the
/// centre joined as `c`.
fn local_date(col: &str) -> String {
    format!(
        "(({col} AT TIME ZONE 'UTC') + make_interval(mins => COALESCE(c.utc_offset_minutes, 480)))::date"
    )
}

/// SQL for the four filters, `$1` centre, `$2` service, `$3` counter, `$4` staff, over the
/// given columns (constants of this module, never input).
fn filters(centre: &str, service: &str, counter: &str, staff: &str) -> String {
    format!(
        "($1::text IS NULL OR {centre} = $1) AND ($2::text IS NULL OR {service} = $2) \
         AND ($3::int4 IS NULL OR {counter} = $3) AND ($4::text IS NULL OR {staff} = $4)"
    )
}

/// SQL for a coarse UTC range around the period `$5`..=`$6` on a `timestamptz` column, a
/// day wider on each side so that any centre's offset is inside it: lets an index on the
/// column narrow the rows before the exact local-date test.
fn around_period(at: &str) -> String {
    format!(
        "{at} >= (($5::date - 1)::timestamp AT TIME ZONE 'UTC') \
         AND {at} < (($6::date + 2)::timestamp AT TIME ZONE 'UTC')"
    )
}

/// SQL naming each grouping set's row: `dim` (all, centre, service, counter, staff) and
/// `key` (the group's value; NULL for `all` and for rows without a counter or staff).
const DIM_COLUMNS: &str = "CASE WHEN GROUPING(centre_id) = 0 THEN 'centre' \
     WHEN GROUPING(service) = 0 THEN 'service' WHEN GROUPING(counter) = 0 THEN 'counter' \
     WHEN GROUPING(staff_id) = 0 THEN 'staff' ELSE 'all' END AS dim, \
     COALESCE(centre_id, service, counter::text, staff_id) AS key";

/// The grouping sets every report computes in one pass: the whole and each breakdown.
const GROUPING_SETS: &str =
    "GROUP BY GROUPING SETS ((), (centre_id), (service), (counter), (staff_id))";

/// A breakdown dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dim {
    All,
    Centre,
    Service,
    Counter,
    Staff,
}

impl Dim {
    fn parse(s: &str) -> Option<Dim> {
        match s {
            "all" => Some(Dim::All),
            "centre" => Some(Dim::Centre),
            "service" => Some(Dim::Service),
            "counter" => Some(Dim::Counter),
            "staff" => Some(Dim::Staff),
            _ => None,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Dim::All => "all",
            Dim::Centre => "centre",
            Dim::Service => "service",
            Dim::Counter => "counter",
            Dim::Staff => "staff",
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Dim::All => "合计",
            Dim::Centre => "按服务中心",
            Dim::Service => "按服务类型",
            Dim::Counter => "按窗口",
            Dim::Staff => "按员工",
        }
    }

    fn en(self) -> &'static str {
        match self {
            Dim::All => "Total",
            Dim::Centre => "By centre",
            Dim::Service => "By service",
            Dim::Counter => "By counter",
            Dim::Staff => "By staff",
        }
    }

    const BREAKDOWNS: [Dim; 4] = [Dim::Centre, Dim::Service, Dim::Counter, Dim::Staff];
}

/// One row of a grouped report.
#[derive(Debug, Clone)]
struct Group<T> {
    dim: Dim,
    key: Option<String>,
    stats: T,
}

/// Reads `dim` and `key` (the first two columns) of a grouped row.
fn dim_key(row: &tokio_postgres::Row) -> Result<Option<(Dim, Option<String>)>, ReportError> {
    let dim: String = row.try_get(0)?;
    let key: Option<String> = row.try_get(1)?;
    Ok(Dim::parse(&dim).map(|d| (d, key)))
}

/// Orders groups by dimension, then key (counters by number, absent keys last).
fn sort_groups<T>(groups: &mut [Group<T>]) {
    groups.sort_by(|a, b| {
        let ka = (
            a.key.is_none(),
            a.key.as_deref().and_then(|k| k.parse::<i64>().ok()),
        );
        let kb = (
            b.key.is_none(),
            b.key.as_deref().and_then(|k| k.parse::<i64>().ok()),
        );
        (a.dim, ka, &a.key).cmp(&(b.dim, kb, &b.key))
    });
}

/// The whole-period row (`dim = all`), or the default when no row came back.
fn total<T: Clone + Default>(groups: &[Group<T>]) -> T {
    groups
        .iter()
        .find(|g| g.dim == Dim::All)
        .map(|g| g.stats.clone())
        .unwrap_or_default()
}

/// How a group's key reads on the page.
fn key_label(dim: Dim, key: Option<&str>, centres: &[(String, String)]) -> String {
    match (dim, key) {
        (Dim::All, _) => "合计 Total".to_owned(),
        (Dim::Centre, Some(k)) => match centres.iter().find(|(id, _)| id == k) {
            Some((_, name)) if !name.is_empty() => format!("{k} {name}"),
            _ => k.to_owned(),
        },
        (Dim::Service, Some(k)) => page::service_label(k),
        (Dim::Counter, Some(k)) => format!("{k} 号窗口 Counter {k}"),
        (Dim::Staff, Some(k)) => k.to_owned(),
        (Dim::Counter, None) => "无窗口（自助） No counter (self-service)".to_owned(),
        (_, None) => "未记录 Not recorded".to_owned(),
    }
}

/// The breakdown tables of one report: a table per dimension, `head` the metric columns'
/// headings and `cells` each group's metric cells.
fn breakdowns<T>(
    prefix: &str,
    groups: &[Group<T>],
    centres: &[(String, String)],
    head: &str,
    cells: impl Fn(&Group<T>) -> String,
) -> String {
    let mut out = String::new();
    for dim in Dim::BREAKDOWNS {
        let rows: Vec<&Group<T>> = groups.iter().filter(|g| g.dim == dim).collect();
        let _ = write!(
            out,
            "{}<table id=\"{prefix}-by-{}\" class=\"breakdown\"><thead><tr><th>{}<span class=\"en\">{}</span></th>{head}</tr></thead><tbody>",
            page::heading(3, &format!("{prefix}-h-{}", dim.code()), dim.zh(), dim.en()),
            dim.code(),
            dim.zh(),
            dim.en(),
        );
        if rows.is_empty() {
            out.push_str("<tr><td class=\"muted\" colspan=\"20\">无数据 No data</td></tr>");
        }
        for g in rows {
            let _ = write!(
                out,
                "<tr data-dim=\"{}\" data-key=\"{}\"><th scope=\"row\">{}</th>{}</tr>",
                dim.code(),
                escape(g.key.as_deref().unwrap_or("")),
                escape(&key_label(dim, g.key.as_deref(), centres)),
                cells(g),
            );
        }
        out.push_str("</tbody></table>");
    }
    out
}
