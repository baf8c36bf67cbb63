//! Report pages (GB/T 9.1.3, 9.2, 4.1.1, 4.1.2, 8.4.3): satisfaction, response and
//! service time, requests within their promised time, refunds within 5 working days and
//! improvement targets, per centre / service / counter / staff and period, as server-drawn
//! HTML with inline SVG charts and as CSV. Reads the projection tables and writes only
//! `targets`; never touches `events` or the projector's tables. All SQL binds its values.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use chrono::NaiveDate;
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

use csv::Csv;
use error::ReportError;
use filter::{Filter, Period};
use page::{col_td, count_figure, count_td, escape, opt_num, pct};
use targets::{Metric, Target, Targets};

use crate::HqState;

/// The report pages' routes.
pub fn router() -> Router<crate::HqState> {
    Router::new()
        .route("/reports", get(html::<overview::Overview>))
        .route("/reports.csv", get(csv::<overview::Overview>))
        .route(
            "/reports/satisfaction",
            get(html::<Figures<satisfaction::Sat>>),
        )
        .route(
            "/reports/satisfaction.csv",
            get(csv::<Figures<satisfaction::Sat>>),
        )
        .route("/reports/response", get(html::<Figures<response::Resp>>))
        .route("/reports/response.csv", get(csv::<Figures<response::Resp>>))
        .route("/reports/requests", get(html::<Figures<requests::Req>>))
        .route("/reports/requests.csv", get(csv::<Figures<requests::Req>>))
        .route("/reports/refunds", get(html::<refunds::RefundsReport>))
        .route("/reports/refunds.csv", get(csv::<refunds::RefundsReport>))
        .route("/reports/targets", get(targets::list).post(targets::set))
        .route("/reports/targets.csv", get(targets::list_csv))
}

/// The query string as the handlers read it.
type Q = Query<HashMap<String, String>>;

/// Which CSV a request asks for: the figures, or (refunds) the overdue list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Summary,
    Overdue,
}

/// What every report page has besides its own figures: the checked filter, the stored
/// targets and the centres.
struct Ctx {
    filter: Filter,
    targets: Targets,
    centres: Vec<(String, String)>,
}

impl Ctx {
    /// The service filter's code.
    fn service(&self) -> Option<&'static str> {
        self.filter.service.map(domain::ServiceType::code)
    }

    /// GB/T 9.2: the target for `metric` on `centre` and `service` over this period.
    fn target_at(
        &self,
        metric: Metric,
        centre: Option<&str>,
        service: Option<&str>,
    ) -> Option<&Target> {
        self.targets
            .applicable(metric, centre, service, self.filter.period.to)
    }

    /// The target for the whole report (`None`) or one breakdown row: a centre row has its
    /// centre's, a service row its service's, any other row the filter's.
    fn target<T>(&self, metric: Metric, g: Option<&Group<T>>) -> Option<&Target> {
        let mut centre = self.filter.centre.as_deref();
        let mut service = self.service();
        match g.map(|g| (g.dim, g.key.as_deref())) {
            Some((Dim::Centre, k)) => centre = k,
            Some((Dim::Service, k)) => service = k,
            _ => {}
        }
        self.target_at(metric, centre, service)
    }
}

/// A report page's path, its title and its short name in the navigation.
struct PageInfo {
    path: &'static str,
    title_zh: &'static str,
    title_en: &'static str,
    nav_zh: &'static str,
    nav_en: &'static str,
}

/// One report page: its figures, read once, then shown as HTML or CSV.
trait Report: Sized + Send + Sync {
    const PAGE: PageInfo;

    /// Checks the query's own parameters before anything is read; the CSV part asked for.
    fn part(_q: &HashMap<String, String>) -> Result<Part, ReportError> {
        Ok(Part::Summary)
    }

    fn load(
        db: &Client,
        f: &Filter,
    ) -> impl std::future::Future<Output = Result<Self, ReportError>> + Send;

    /// The page's body below the title, the filter form and the period line.
    fn render(&self, ctx: &Ctx) -> String;

    fn csv(&self, ctx: &Ctx, part: Part) -> Response;
}

/// A report made of `Figures` only: how they show as HTML and CSV.
trait FiguresPage: Measure {
    const PAGE: PageInfo;

    fn render(r: &Figures<Self>, ctx: &Ctx) -> String;

    fn csv(r: &Figures<Self>, ctx: &Ctx) -> Response;
}

impl<T: FiguresPage> Report for Figures<T> {
    const PAGE: PageInfo = T::PAGE;

    async fn load(db: &Client, f: &Filter) -> Result<Self, ReportError> {
        Figures::load(db, f).await
    }

    fn render(&self, ctx: &Ctx) -> String {
        T::render(self, ctx)
    }

    fn csv(&self, ctx: &Ctx, _part: Part) -> Response {
        T::csv(self, ctx)
    }
}

/// A report as HTML, or as CSV when `format=csv` asks for it.
async fn html<R: Report>(State(state): State<HqState>, q: Q) -> Result<Response, ReportError> {
    serve::<R>(&state, &q.0, false).await
}

/// A report's `….csv` route.
async fn csv<R: Report>(State(state): State<HqState>, q: Q) -> Result<Response, ReportError> {
    serve::<R>(&state, &q.0, true).await
}

async fn serve<R: Report>(
    state: &HqState,
    q: &HashMap<String, String>,
    csv_path: bool,
) -> Result<Response, ReportError> {
    let part = R::part(q)?;
    let (db, filter) = begin(state, q, csv_path).await?;
    let report = R::load(&db, &filter).await?;
    let ctx = Ctx {
        targets: Targets::load(&db).await?,
        centres: centres(&db).await?,
        filter,
    };
    if ctx.filter.csv {
        return Ok(report.csv(&ctx, part));
    }
    let p = R::PAGE;
    let mut body = page::top(p.path, p.title_zh, p.title_en, &ctx.filter, &ctx.centres);
    body.push_str(&report.render(&ctx));
    let keep = ctx.filter.keep();
    Ok(Html(page::shell(p.nav_zh, p.nav_en, p.path, &keep, &body)).into_response())
}

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

/// What a grouped report measures: the grouped query's figure columns (after `dim` and
/// `key`) and how a row reads back, and the daily trend's one figure.
trait Measure: Clone + Default + Send + Sync {
    /// The `WITH ...` query every figure is read from; it yields `day`, `centre_id`,
    /// `service`, `counter` and `staff_id`.
    fn base() -> String;
    /// The relation of `base()` to select from.
    const FROM: &'static str = "base";
    /// The figure columns of the grouped query.
    fn columns() -> String;
    /// Reads the figure columns, from column 2 on.
    fn read(row: &tokio_postgres::Row) -> Result<Self, ReportError>;
    /// The trend's figure column(s) of one day.
    fn daily_columns() -> String;
    /// Reads the trend's figure, from column 1 on.
    fn daily(row: &tokio_postgres::Row) -> Result<Option<f64>, ReportError>;
}

/// The period's figures, whole and per breakdown, sorted.
async fn grouped<T: Measure>(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<Group<T>>, ReportError> {
    let sql = format!(
        "{}SELECT {DIM_COLUMNS}, {} FROM {} WHERE day BETWEEN $5 AND $6 {GROUPING_SETS}",
        T::base(),
        T::columns(),
        T::FROM,
    );
    let args = f.args(period);
    let rows = db.query(&sql, &args.refs()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some((dim, key)) = dim_key(&r)? else {
            continue;
        };
        out.push(Group {
            dim,
            key,
            stats: T::read(&r)?,
        });
    }
    sort_groups(&mut out);
    Ok(out)
}

/// The trend's figure for each day of the period (`None` on days without one).
async fn trend<T: Measure>(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<(NaiveDate, Option<f64>)>, ReportError> {
    let sql = format!(
        "{}SELECT day, {} FROM {} WHERE day BETWEEN $5 AND $6 GROUP BY day",
        T::base(),
        T::daily_columns(),
        T::FROM,
    );
    let args = f.args(period);
    let rows = db.query(&sql, &args.refs()).await?;
    let mut by_day = HashMap::new();
    for r in rows {
        let d: NaiveDate = r.try_get(0)?;
        by_day.insert(d, T::daily(&r)?);
    }
    Ok(period
        .each_day()
        .map(|d| (d, by_day.get(&d).copied().flatten()))
        .collect())
}

/// A report's figures: the period's groups, the previous period's total and the trend.
struct Figures<T> {
    groups: Vec<Group<T>>,
    prev: T,
    trend: Vec<(NaiveDate, Option<f64>)>,
}

impl<T: Measure> Figures<T> {
    async fn load(db: &Client, f: &Filter) -> Result<Figures<T>, ReportError> {
        Ok(Figures {
            groups: grouped(db, f, f.period).await?,
            prev: total(&grouped::<T>(db, f, f.period.previous()).await?),
            trend: trend::<T>(db, f, f.period).await?,
        })
    }

    /// The current period's total.
    fn total(&self) -> T {
        total(&self.groups)
    }

    /// Calls `line` for each CSV row: the current total (`current` true), the previous
    /// period's total, then each breakdown row.
    fn csv_lines(&self, period: Period, mut line: impl FnMut(CsvKey<'_, T>, &T, bool)) {
        let cur = self.total();
        line(CsvKey::new("current", period, None), &cur, true);
        line(
            CsvKey::new("previous", period.previous(), None),
            &self.prev,
            false,
        );
        for g in self.groups.iter().filter(|g| g.dim != Dim::All) {
            line(CsvKey::new("current", period, Some(g)), &g.stats, true);
        }
    }
}

/// A report's CSV with its header: the key columns, then `columns`.
fn keyed_csv(columns: &[&str]) -> Csv {
    Csv::new(&[&["period", "from", "to", "group", "key"], columns].concat())
}

/// The first columns of a report's CSV row: `period`, `from`, `to`, `group`, `key`.
struct CsvKey<'a, T> {
    label: &'static str,
    period: Period,
    group: Option<&'a Group<T>>,
}

impl<'a, T> CsvKey<'a, T> {
    fn new(label: &'static str, period: Period, group: Option<&'a Group<T>>) -> Self {
        CsvKey {
            label,
            period,
            group,
        }
    }

    fn fields(&self) -> Vec<String> {
        vec![
            self.label.to_owned(),
            page::date(self.period.from),
            page::date(self.period.to),
            self.group.map_or("all", |g| g.dim.code()).to_owned(),
            csv::text(self.group.and_then(|g| g.key.as_deref()).unwrap_or("")),
        ]
    }
}

/// On time, late and still pending, against one deadline.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    pub(crate) on_time: i64,
    pub(crate) late: i64,
    pub(crate) pending: i64,
}

impl Tally {
    /// The share on time among those decided (on time or late).
    pub(crate) fn share(&self) -> Option<f64> {
        let decided = self.on_time + self.late;
        (decided > 0).then(|| self.on_time as f64 / decided as f64)
    }

    /// Reads on time, late and pending from three columns starting at `at`.
    fn read(row: &tokio_postgres::Row, at: usize) -> Result<Tally, ReportError> {
        Ok(Tally {
            on_time: row.try_get(at)?,
            late: row.try_get(at + 1)?,
            pending: row.try_get(at + 2)?,
        })
    }

    /// The share on time from two columns (on time, late) starting at `at`.
    fn read_share(row: &tokio_postgres::Row, at: usize) -> Result<Option<f64>, ReportError> {
        let t = Tally {
            on_time: row.try_get(at)?,
            late: row.try_get(at + 1)?,
            pending: 0,
        };
        Ok(t.share())
    }

    /// The summary cells `{id}-on-time`, `{id}-late`, `{id}-pending`, `{id}-share`.
    fn figure_cells(&self, id: &str) -> String {
        format!(
            "{}{}{}{}",
            count_figure(&format!("{id}-on-time"), self.on_time),
            count_figure(&format!("{id}-late"), self.late),
            count_figure(&format!("{id}-pending"), self.pending),
            page::figure_td(
                &format!("{id}-share"),
                &opt_num(self.share()),
                &pct(self.share())
            ),
        )
    }

    /// The breakdown cells `on_time`, `late`, `pending`, `share`.
    fn col_cells(&self) -> String {
        format!(
            "{}{}{}{}",
            count_td("on_time", self.on_time),
            count_td("late", self.late),
            count_td("pending", self.pending),
            col_td("share", &opt_num(self.share()), &pct(self.share())),
        )
    }

    /// The CSV fields: on time, late, pending, share.
    fn csv_fields(&self) -> [String; 4] {
        [
            self.on_time.to_string(),
            self.late.to_string(),
            self.pending.to_string(),
            opt_num(self.share()),
        ]
    }
}

/// SQL counting a status column's `on_time`, `late` and `pending` rows.
fn tally_columns(col: &str) -> String {
    format!(
        "count(*) FILTER (WHERE {col} = 'on_time')::int8, count(*) FILTER (WHERE {col} = 'late')::int8, \
         count(*) FILTER (WHERE {col} = 'pending')::int8"
    )
}

/// SQL counting a status column's `on_time` and `late` rows (for a daily share).
fn share_columns(col: &str) -> String {
    format!(
        "count(*) FILTER (WHERE {col} = 'on_time')::int8, count(*) FILTER (WHERE {col} = 'late')::int8"
    )
}
