//! GB/T 4.1.2 (and 5.5.2 for replies): requests accepted in the period that were resolved
//! (`resolved_at`) by their promised `resolve_due`, and answered by `reply_due` where one
//! was set. A request still open after its deadline counts as late; one still open before
//! it is pending and left out of the share. Counter and staff come from the request's
//! ticket. Only reads.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use deadpool_postgres::Client;

use super::csv::{self, Csv};
use super::error::ReportError;
use super::filter::{Filter, Period};
use super::page::{self, col_td, figure_td, num, opt_num, pct};
use super::svg::{self, Bar};
use super::targets::{self, Metric, Target, Targets, Verdict};
use super::{DIM_COLUMNS, Dim, GROUPING_SETS, Group, Q, begin, filters, local_date};
use crate::HqState;

/// On time, late and still pending, for one deadline.
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
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Req {
    pub(crate) total: i64,
    pub(crate) resolve: Tally,
    pub(crate) reply: Tally,
}

/// SQL classifying one deadline: `on_time`, `late`, `pending` or NULL (no deadline).
/// GB/T 4.1.2: done by the deadline is on time; done after it, or not done once it has
/// passed, is late (the same rule as `domain::request::Deadlines::overdue`).
fn status(due: &str, done: &str) -> String {
    format!(
        "CASE WHEN {due} IS NULL THEN NULL \
         WHEN {done} IS NOT NULL THEN CASE WHEN {done} <= {due} THEN 'on_time' ELSE 'late' END \
         WHEN {due} < now() THEN 'late' ELSE 'pending' END"
    )
}

fn base() -> String {
    format!(
        "WITH base AS (SELECT r.centre_id, r.service, t.counter, t.staff_id, {} AS day, \
         {} AS resolve, {} AS reply \
         FROM requests r LEFT JOIN centres c ON c.centre_id = r.centre_id \
         LEFT JOIN tickets t ON t.centre_id = r.centre_id AND t.ticket_id = r.ticket_id WHERE {} AND {}) ",
        local_date("r.created_at"),
        status("r.resolve_due", "r.resolved_at"),
        status("r.reply_due", "r.answered_at"),
        filters("r.centre_id", "r.service", "t.counter", "t.staff_id"),
        super::around_period("r.created_at"),
    )
}

pub(crate) async fn groups(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<Group<Req>>, ReportError> {
    let sql = format!(
        "{}SELECT {DIM_COLUMNS}, count(*)::int8, \
         count(*) FILTER (WHERE resolve = 'on_time')::int8, count(*) FILTER (WHERE resolve = 'late')::int8, \
         count(*) FILTER (WHERE resolve = 'pending')::int8, \
         count(*) FILTER (WHERE reply = 'on_time')::int8, count(*) FILTER (WHERE reply = 'late')::int8, \
         count(*) FILTER (WHERE reply = 'pending')::int8 \
         FROM base WHERE day BETWEEN $5 AND $6 {GROUPING_SETS}",
        base()
    );
    let args = f.args(period);
    let rows = db.query(&sql, &args.refs()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some((dim, key)) = super::dim_key(&r)? else {
            continue;
        };
        out.push(Group {
            dim,
            key,
            stats: Req {
                total: r.try_get(2)?,
                resolve: Tally {
                    on_time: r.try_get(3)?,
                    late: r.try_get(4)?,
                    pending: r.try_get(5)?,
                },
                reply: Tally {
                    on_time: r.try_get(6)?,
                    late: r.try_get(7)?,
                    pending: r.try_get(8)?,
                },
            },
        });
    }
    super::sort_groups(&mut out);
    Ok(out)
}

/// The share resolved on time of the requests accepted on each day.
async fn trend(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<(NaiveDate, Option<f64>)>, ReportError> {
    let sql = format!(
        "{}SELECT day, count(*) FILTER (WHERE resolve = 'on_time')::int8, \
         count(*) FILTER (WHERE resolve = 'late')::int8 FROM base \
         WHERE day BETWEEN $5 AND $6 GROUP BY day",
        base()
    );
    let args = f.args(period);
    let rows = db.query(&sql, &args.refs()).await?;
    let mut by_day = HashMap::new();
    for r in rows {
        let d: NaiveDate = r.try_get(0)?;
        let t = Tally {
            on_time: r.try_get(1)?,
            late: r.try_get(2)?,
            pending: 0,
        };
        by_day.insert(d, t.share());
    }
    Ok(period
        .each_day()
        .map(|d| (d, by_day.get(&d).copied().flatten()))
        .collect())
}

struct Report {
    filter: Filter,
    groups: Vec<Group<Req>>,
    prev: Req,
    trend: Vec<(NaiveDate, Option<f64>)>,
    targets: Targets,
    centres: Vec<(String, String)>,
}

impl Report {
    fn target(&self, g: Option<&Group<Req>>) -> Option<&Target> {
        let mut centre = self.filter.centre.as_deref();
        let mut service = self.filter.service.map(domain::ServiceType::code);
        match g.map(|g| (g.dim, g.key.as_deref())) {
            Some((Dim::Centre, k)) => centre = k,
            Some((Dim::Service, k)) => service = k,
            _ => {}
        }
        self.targets.applicable(
            Metric::WithinPromiseShare,
            centre,
            service,
            self.filter.period.to,
        )
    }
}

async fn load(
    state: &HqState,
    q: &HashMap<String, String>,
    csv_path: bool,
) -> Result<Report, ReportError> {
    let (db, filter) = begin(state, q, csv_path).await?;
    let prev = super::total(&groups(&db, &filter, filter.period.previous()).await?);
    let groups = groups(&db, &filter, filter.period).await?;
    let trend = trend(&db, &filter, filter.period).await?;
    let targets = Targets::load(&db).await?;
    let centres = super::centres(&db).await?;
    Ok(Report {
        filter,
        groups,
        prev,
        trend,
        targets,
        centres,
    })
}

pub(crate) async fn html(State(state): State<HqState>, q: Q) -> Result<Response, ReportError> {
    let r = load(&state, &q.0, false).await?;
    if r.filter.csv {
        return Ok(csv_of(&r));
    }
    Ok(Html(render(&r)).into_response())
}

pub(crate) async fn csv(State(state): State<HqState>, q: Q) -> Result<Response, ReportError> {
    let r = load(&state, &q.0, true).await?;
    Ok(csv_of(&r))
}

fn tally_cells(id: &str, t: &Tally) -> String {
    format!(
        "{}{}{}{}",
        figure_td(
            &format!("{id}-on-time"),
            &t.on_time.to_string(),
            &t.on_time.to_string()
        ),
        figure_td(
            &format!("{id}-late"),
            &t.late.to_string(),
            &t.late.to_string()
        ),
        figure_td(
            &format!("{id}-pending"),
            &t.pending.to_string(),
            &t.pending.to_string()
        ),
        figure_td(&format!("{id}-share"), &opt_num(t.share()), &pct(t.share())),
    )
}

fn render(r: &Report) -> String {
    let f = &r.filter;
    let cur = super::total(&r.groups);
    let target = r.target(None);
    let mut b = page::heading(
        1,
        "title",
        "承诺时限内办结",
        "Requests within their promised time limit (GB/T 4.1.2)",
    );
    b.push_str(&page::filter_form("/reports/requests", f, &r.centres));
    b.push_str(&page::period_line(f, &f.csv_href("/reports/requests")));
    b.push_str(&page::heading(2, "h-summary", "汇总", "Summary"));
    let _ = write!(
        b,
        "<p>本期受理请求 Requests accepted in the period: <span id=\"req-total\" data-value=\"{}\">{}</span></p>",
        cur.total, cur.total
    );
    let _ = write!(
        b,
        "<table id=\"req-summary\"><thead><tr><th></th><th>按时<span class=\"en\">On time</span></th>\
         <th>超时<span class=\"en\">Late</span></th><th>未到期<span class=\"en\">Not yet due</span></th>\
         <th>按时率<span class=\"en\">Share on time</span></th><th>上一期<span class=\"en\">Previous period</span></th>{}</tr></thead><tbody>\
         <tr><th scope=\"row\">办结（承诺时限）<span class=\"en\">Resolved by the promised time</span></th>{}{}{}</tr>\
         <tr><th scope=\"row\">答复（答复时限）<span class=\"en\">Answered by the reply deadline</span></th>{}{}<td></td><td></td></tr>\
         </tbody></table>",
        targets::HEAD,
        tally_cells("req-resolve", &cur.resolve),
        figure_td(
            "req-prev-resolve-share",
            &opt_num(r.prev.resolve.share()),
            &pct(r.prev.resolve.share())
        ),
        targets::cells(
            "req-resolve-share",
            Metric::WithinPromiseShare,
            target,
            cur.resolve.share()
        ),
        tally_cells("req-reply", &cur.reply),
        figure_td(
            "req-prev-reply-share",
            &opt_num(r.prev.reply.share()),
            &pct(r.prev.reply.share())
        ),
    );
    b.push_str(
        "<p class=\"note\">统计本期受理（创建）的请求。在期限前完成为按时；期限后完成、或期限已过仍未完成为超时；\
         期限未到且未完成的不计入按时率。没有期限的请求不计入该项。<br>Requests accepted (created) in the period. \
         Done by the deadline is on time; done after it, or still open once it has passed, is late; still \
         open before it is not yet due and left out of the share. Requests without that deadline are left out.</p>",
    );
    b.push_str("<div class=\"charts\">");
    let by_service: Vec<Bar> = r
        .groups
        .iter()
        .filter(|g| g.dim == Dim::Service)
        .map(|g| Bar {
            label: g
                .key
                .as_deref()
                .and_then(|k| k.parse::<domain::ServiceType>().ok())
                .map_or_else(
                    || g.key.clone().unwrap_or_default(),
                    |s| s.name_zh().to_owned(),
                ),
            value: g.stats.resolve.share(),
            text: pct(g.stats.resolve.share()),
        })
        .collect();
    b.push_str(&svg::bar_chart(
        "chart-req-service",
        "各服务按时办结率",
        "Share resolved on time by service",
        &by_service,
        Some(1.0),
        target.map(|t| (t.value, pct(Some(t.value)))),
    ));
    b.push_str(&svg::line_chart(
        "chart-req-trend",
        "按受理日的按时办结率",
        "Share resolved on time by day accepted",
        &r.trend,
        Some(1.0),
        target.map(|t| (t.value, pct(Some(t.value)))),
    ));
    b.push_str("</div>");
    b.push_str(&page::heading(2, "h-breakdown", "分组统计", "Breakdowns"));
    let head = "<th>请求<span class=\"en\">Requests</span></th><th>办结按时<span class=\"en\">Resolved on time</span></th>\
                <th>办结超时<span class=\"en\">Resolved late</span></th><th>未到期<span class=\"en\">Not yet due</span></th>\
                <th>按时办结率<span class=\"en\">Share resolved on time</span></th>\
                <th>答复按时率<span class=\"en\">Share answered on time</span></th>\
                <th>目标<span class=\"en\">Target</span></th><th>是否达标<span class=\"en\">Met?</span></th>";
    b.push_str(&super::breakdowns(
        "req",
        &r.groups,
        &r.centres,
        head,
        |g| {
            let s = &g.stats;
            let t = r.target(Some(g));
            let v = Verdict::of(Metric::WithinPromiseShare, t, s.resolve.share());
            format!(
                "{}{}{}{}{}{}<td class=\"fig\" data-col=\"target\" data-value=\"{}\">{}</td>{}",
                col_td("n", &s.total.to_string(), &s.total.to_string()),
                col_td(
                    "on_time",
                    &s.resolve.on_time.to_string(),
                    &s.resolve.on_time.to_string()
                ),
                col_td(
                    "late",
                    &s.resolve.late.to_string(),
                    &s.resolve.late.to_string()
                ),
                col_td(
                    "pending",
                    &s.resolve.pending.to_string(),
                    &s.resolve.pending.to_string()
                ),
                col_td(
                    "share",
                    &opt_num(s.resolve.share()),
                    &pct(s.resolve.share())
                ),
                col_td(
                    "reply_share",
                    &opt_num(s.reply.share()),
                    &pct(s.reply.share())
                ),
                t.map(|t| num(t.value)).unwrap_or_default(),
                t.map_or_else(|| "—".to_owned(), |t| pct(Some(t.value))),
                targets::met_td(v),
            )
        },
    ));
    page::shell(
        "承诺时限内办结",
        "Within the promised time",
        "/reports/requests",
        &f.keep(),
        &b,
    )
}

fn csv_of(r: &Report) -> Response {
    let mut out = Csv::new(&[
        "period",
        "from",
        "to",
        "group",
        "key",
        "requests",
        "resolve_on_time",
        "resolve_late",
        "resolve_pending",
        "resolve_share",
        "reply_on_time",
        "reply_late",
        "reply_pending",
        "reply_share",
        "target",
        "target_met",
    ]);
    let period = r.filter.period;
    let mut line = |label: &str, p: Period, g: Option<&Group<Req>>, s: &Req, with_target: bool| {
        let mut fields = vec![
            label.to_owned(),
            page::date(p.from),
            page::date(p.to),
            g.map_or("all", |g| g.dim.code()).to_owned(),
            csv::text(g.and_then(|g| g.key.as_deref()).unwrap_or("")),
            s.total.to_string(),
        ];
        for t in [&s.resolve, &s.reply] {
            fields.extend([
                t.on_time.to_string(),
                t.late.to_string(),
                t.pending.to_string(),
                opt_num(t.share()),
            ]);
        }
        match r.target(g).filter(|_| with_target) {
            Some(t) => {
                fields.push(num(t.value));
                fields.push(
                    Verdict::of(Metric::WithinPromiseShare, Some(t), s.resolve.share())
                        .code()
                        .to_owned(),
                );
            }
            None => fields.extend([String::new(), String::new()]),
        }
        out.row(fields);
    };
    line("current", period, None, &super::total(&r.groups), true);
    line("previous", period.previous(), None, &r.prev, false);
    for g in r.groups.iter().filter(|g| g.dim != Dim::All) {
        line("current", period, Some(g), &g.stats, true);
    }
    out.response("requests.csv")
}
