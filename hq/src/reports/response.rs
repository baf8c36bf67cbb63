//! GB/T 4.1.1: response time (ticket issued → first called) and service time
//! (`service_secs`) from `tickets`, as p50 / p90 / p95 (`percentile_cont`, interpolated),
//! against the previous period and the targets, with a daily p90 trend and breakdowns.
//! Only reads.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use deadpool_postgres::Client;

use super::csv::{self, Csv};
use super::error::ReportError;
use super::filter::{Filter, Period};
use super::page::{self, col_td, figure_td, num, opt_num, secs};
use super::svg::{self, Bar};
use super::targets::{self, Metric, Target, Targets, Verdict};
use super::{DIM_COLUMNS, Dim, GROUPING_SETS, Group, Q, begin, filters, local_date};
use crate::HqState;

/// p50, p90, p95 in seconds.
pub(crate) type Quantiles = [f64; 3];

#[derive(Debug, Clone, Default)]
pub(crate) struct Resp {
    pub(crate) wait_n: i64,
    pub(crate) wait: Option<Quantiles>,
    pub(crate) service_n: i64,
    pub(crate) service: Option<Quantiles>,
}

impl Resp {
    pub(crate) fn wait_p90(&self) -> Option<f64> {
        self.wait.map(|q| q[1])
    }

    pub(crate) fn service_p90(&self) -> Option<f64> {
        self.service.map(|q| q[1])
    }
}

fn base() -> String {
    // GB/T 4.1.1: the response is issued → first called; a call stamped before the issue
    // (a clock step on the hub) is left out rather than counted as a negative wait.
    format!(
        "WITH base AS (SELECT t.centre_id, t.service, t.counter, t.staff_id, \
         CASE WHEN t.called_at >= t.issued_at THEN EXTRACT(EPOCH FROM (t.called_at - t.issued_at))::float8 END AS wait, \
         t.service_secs::float8 AS svc, {} AS day \
         FROM tickets t LEFT JOIN centres c ON c.centre_id = t.centre_id WHERE {} AND {}) ",
        local_date("t.issued_at"),
        filters("t.centre_id", "t.service", "t.counter", "t.staff_id"),
        super::around_period("t.issued_at"),
    )
}

fn quantiles(v: Option<Vec<f64>>) -> Option<Quantiles> {
    match v.as_deref() {
        Some([a, b, c]) => Some([*a, *b, *c]),
        _ => None,
    }
}

pub(crate) async fn groups(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<Group<Resp>>, ReportError> {
    let sql = format!(
        "{}SELECT {DIM_COLUMNS}, count(wait)::int8, \
         percentile_cont(ARRAY[0.5, 0.9, 0.95]::float8[]) WITHIN GROUP (ORDER BY wait), \
         count(svc)::int8, \
         percentile_cont(ARRAY[0.5, 0.9, 0.95]::float8[]) WITHIN GROUP (ORDER BY svc) \
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
            stats: Resp {
                wait_n: r.try_get(2)?,
                wait: quantiles(r.try_get(3)?),
                service_n: r.try_get(4)?,
                service: quantiles(r.try_get(5)?),
            },
        });
    }
    super::sort_groups(&mut out);
    Ok(out)
}

/// The p90 response time of each day of the period.
async fn trend(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<(NaiveDate, Option<f64>)>, ReportError> {
    let sql = format!(
        "{}SELECT day, percentile_cont(0.9) WITHIN GROUP (ORDER BY wait) FROM base \
         WHERE day BETWEEN $5 AND $6 GROUP BY day",
        base()
    );
    let args = f.args(period);
    let rows = db.query(&sql, &args.refs()).await?;
    let mut by_day = HashMap::new();
    for r in rows {
        let d: NaiveDate = r.try_get(0)?;
        let v: Option<f64> = r.try_get(1)?;
        by_day.insert(d, v);
    }
    Ok(period
        .each_day()
        .map(|d| (d, by_day.get(&d).copied().flatten()))
        .collect())
}

struct Report {
    filter: Filter,
    groups: Vec<Group<Resp>>,
    prev: Resp,
    trend: Vec<(NaiveDate, Option<f64>)>,
    targets: Targets,
    centres: Vec<(String, String)>,
}

impl Report {
    fn target(&self, metric: Metric, g: Option<&Group<Resp>>) -> Option<&Target> {
        let mut centre = self.filter.centre.as_deref();
        let mut service = self.filter.service.map(domain::ServiceType::code);
        match g.map(|g| (g.dim, g.key.as_deref())) {
            Some((Dim::Centre, k)) => centre = k,
            Some((Dim::Service, k)) => service = k,
            _ => {}
        }
        self.targets
            .applicable(metric, centre, service, self.filter.period.to)
    }
}

async fn load(
    state: &HqState,
    q: &HashMap<String, String>,
    csv_path: bool,
) -> Result<Report, ReportError> {
    let (db, filter) = begin(state, q, csv_path).await?;
    let groups = groups(&db, &filter, filter.period).await?;
    let prev = super::total(&groups_prev(&db, &filter).await?);
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

async fn groups_prev(db: &Client, f: &Filter) -> Result<Vec<Group<Resp>>, ReportError> {
    groups(db, f, f.period.previous()).await
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

const QS: [&str; 3] = ["p50", "p90", "p95"];

fn quantile_cells(id: &str, n: i64, q: Option<Quantiles>) -> String {
    let mut out = figure_td(&format!("{id}-n"), &n.to_string(), &n.to_string());
    for (i, name) in QS.iter().enumerate() {
        let v = q.map(|q| q[i]);
        out.push_str(&figure_td(&format!("{id}-{name}"), &opt_num(v), &secs(v)));
    }
    out
}

fn quantile_bars(q: Option<Quantiles>) -> Vec<Bar> {
    QS.iter()
        .enumerate()
        .map(|(i, name)| {
            let v = q.map(|q| q[i]);
            Bar {
                label: (*name).to_owned(),
                value: v,
                text: secs(v),
            }
        })
        .collect()
}

fn render(r: &Report) -> String {
    let f = &r.filter;
    let cur = super::total(&r.groups);
    let wait_target = r.target(Metric::ResponseP90Secs, None);
    let svc_target = r.target(Metric::ServiceP90Secs, None);
    let mut b = page::heading(
        1,
        "title",
        "响应时间与服务时长",
        "Response time and service time (GB/T 4.1.1)",
    );
    b.push_str(&page::filter_form("/reports/response", f, &r.centres));
    b.push_str(&page::period_line(f, &f.csv_href("/reports/response")));
    b.push_str(&page::heading(2, "h-summary", "汇总", "Summary"));
    let head = "<th>票数<span class=\"en\">Tickets</span></th><th>P50<span class=\"en\">median</span></th>\
                <th>P90</th><th>P95</th>";
    let _ = write!(
        b,
        "<table id=\"resp-summary\"><thead><tr><th></th>{head}<th>上一期 P90<span class=\"en\">Previous p90</span></th>{}</tr></thead><tbody>\
         <tr><th scope=\"row\">响应时间（取号→首次叫号）<span class=\"en\">Response (issued → first called)</span></th>{}{}{}</tr>\
         <tr><th scope=\"row\">服务时长<span class=\"en\">Service time</span></th>{}{}{}</tr></tbody></table>",
        targets::HEAD,
        quantile_cells("resp-wait", cur.wait_n, cur.wait),
        figure_td(
            "resp-prev-wait-p90",
            &opt_num(r.prev.wait_p90()),
            &secs(r.prev.wait_p90())
        ),
        targets::cells(
            "resp-wait-p90",
            Metric::ResponseP90Secs,
            wait_target,
            cur.wait_p90()
        ),
        quantile_cells("resp-svc", cur.service_n, cur.service),
        figure_td(
            "resp-prev-svc-p90",
            &opt_num(r.prev.service_p90()),
            &secs(r.prev.service_p90())
        ),
        targets::cells(
            "resp-svc-p90",
            Metric::ServiceP90Secs,
            svc_target,
            cur.service_p90()
        ),
    );
    let _ = write!(
        b,
        "<p class=\"note\">分位数用 percentile_cont（线性插值）。上一期 {} 张已叫号，{} 张有服务时长。<br>\
         Quantiles are percentile_cont (linear interpolation). Previous period: \
         <span id=\"resp-prev-wait-n\" data-value=\"{}\">{}</span> tickets called, \
         <span id=\"resp-prev-svc-n\" data-value=\"{}\">{}</span> with a service time.</p>",
        r.prev.wait_n,
        r.prev.service_n,
        r.prev.wait_n,
        r.prev.wait_n,
        r.prev.service_n,
        r.prev.service_n,
    );
    b.push_str("<div class=\"charts\">");
    b.push_str(&svg::bar_chart(
        "chart-resp-wait",
        "响应时间分位数（秒）",
        "Response time quantiles (seconds)",
        &quantile_bars(cur.wait),
        None,
        wait_target.map(|t| (t.value, secs(Some(t.value)))),
    ));
    b.push_str(&svg::bar_chart(
        "chart-resp-svc",
        "服务时长分位数（秒）",
        "Service time quantiles (seconds)",
        &quantile_bars(cur.service),
        None,
        svc_target.map(|t| (t.value, secs(Some(t.value)))),
    ));
    b.push_str(&svg::line_chart(
        "chart-resp-trend",
        "每日响应时间 P90（秒）",
        "Daily response time p90 (seconds)",
        &r.trend,
        None,
        wait_target.map(|t| (t.value, secs(Some(t.value)))),
    ));
    b.push_str("</div>");
    b.push_str(&page::heading(2, "h-breakdown", "分组统计", "Breakdowns"));
    let head = "<th>已叫号<span class=\"en\">Called</span></th><th>响应 P50<span class=\"en\">Response p50</span></th>\
                <th>响应 P90<span class=\"en\">Response p90</span></th><th>响应 P95<span class=\"en\">Response p95</span></th>\
                <th>有服务时长<span class=\"en\">Served</span></th><th>服务 P50<span class=\"en\">Service p50</span></th>\
                <th>服务 P90<span class=\"en\">Service p90</span></th><th>服务 P95<span class=\"en\">Service p95</span></th>\
                <th>响应 P90 目标<span class=\"en\">Response p90 target</span></th>";
    b.push_str(&super::breakdowns(
        "resp",
        &r.groups,
        &r.centres,
        head,
        |g| {
            let s = &g.stats;
            let mut out = col_td("wait_n", &s.wait_n.to_string(), &s.wait_n.to_string());
            for (i, name) in QS.iter().enumerate() {
                let v = s.wait.map(|q| q[i]);
                out.push_str(&col_td(&format!("wait_{name}"), &opt_num(v), &secs(v)));
            }
            out.push_str(&col_td(
                "service_n",
                &s.service_n.to_string(),
                &s.service_n.to_string(),
            ));
            for (i, name) in QS.iter().enumerate() {
                let v = s.service.map(|q| q[i]);
                out.push_str(&col_td(&format!("service_{name}"), &opt_num(v), &secs(v)));
            }
            let t = r.target(Metric::ResponseP90Secs, Some(g));
            let v = Verdict::of(Metric::ResponseP90Secs, t, s.wait_p90());
            let _ = write!(
                out,
                "<td data-col=\"met\" data-value=\"{}\" data-target=\"{}\" class=\"{}\">{}</td>",
                v.code(),
                t.map(|t| num(t.value)).unwrap_or_default(),
                v.class(),
                t.map_or_else(
                    || "—".to_owned(),
                    |t| format!("{} · {}", secs(Some(t.value)), v.text())
                ),
            );
            out
        },
    ));
    page::shell(
        "响应时间",
        "Response time",
        "/reports/response",
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
        "wait_n",
        "wait_p50_secs",
        "wait_p90_secs",
        "wait_p95_secs",
        "service_n",
        "service_p50_secs",
        "service_p90_secs",
        "service_p95_secs",
        "wait_p90_target",
        "wait_p90_target_met",
        "service_p90_target",
        "service_p90_target_met",
    ]);
    let period = r.filter.period;
    let mut line =
        |label: &str, p: Period, g: Option<&Group<Resp>>, s: &Resp, with_targets: bool| {
            let mut fields = vec![
                label.to_owned(),
                page::date(p.from),
                page::date(p.to),
                g.map_or("all", |g| g.dim.code()).to_owned(),
                csv::text(g.and_then(|g| g.key.as_deref()).unwrap_or("")),
                s.wait_n.to_string(),
            ];
            fields.extend((0..3).map(|i| opt_num(s.wait.map(|q| q[i]))));
            fields.push(s.service_n.to_string());
            fields.extend((0..3).map(|i| opt_num(s.service.map(|q| q[i]))));
            for (metric, measured) in [
                (Metric::ResponseP90Secs, s.wait_p90()),
                (Metric::ServiceP90Secs, s.service_p90()),
            ] {
                let t = if with_targets {
                    r.target(metric, g)
                } else {
                    None
                };
                match t {
                    Some(t) => {
                        fields.push(num(t.value));
                        fields.push(Verdict::of(metric, Some(t), measured).code().to_owned());
                    }
                    None => fields.extend([String::new(), String::new()]),
                }
            }
            out.row(fields);
        };
    line("current", period, None, &super::total(&r.groups), true);
    line("previous", period.previous(), None, &r.prev, false);
    for g in r.groups.iter().filter(|g| g.dim != Dim::All) {
        line("current", period, Some(g), &g.stats, true);
    }
    out.response("response.csv")
}
