//! GB/T 4.1.1: response time (ticket issued → first called) and service time
//! (`service_secs`) from `tickets`, as p50 / p90 / p95 (`percentile_cont`, interpolated),
//! against the previous period and the targets, with a daily p90 trend and breakdowns.
//! Only reads.

use std::fmt::Write as _;

use axum::response::Response;

use super::error::ReportError;
use super::page::{self, col_td, count_figure, count_td, figure_td, num, opt_num, secs};
use super::svg::{self, Bar};
use super::targets::{self, Metric, Verdict};
use super::{CsvKey, Ctx, Figures, FiguresPage, Measure, PageInfo, filters, keyed_csv, local_date};

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

fn quantiles(v: Option<Vec<f64>>) -> Option<Quantiles> {
    match v.as_deref() {
        Some([a, b, c]) => Some([*a, *b, *c]),
        _ => None,
    }
}

impl Measure for Resp {
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

    fn columns() -> String {
        "count(wait)::int8, \
         percentile_cont(ARRAY[0.5, 0.9, 0.95]::float8[]) WITHIN GROUP (ORDER BY wait), \
         count(svc)::int8, \
         percentile_cont(ARRAY[0.5, 0.9, 0.95]::float8[]) WITHIN GROUP (ORDER BY svc)"
            .to_owned()
    }

    fn read(r: &tokio_postgres::Row) -> Result<Resp, ReportError> {
        Ok(Resp {
            wait_n: r.try_get(2)?,
            wait: quantiles(r.try_get(3)?),
            service_n: r.try_get(4)?,
            service: quantiles(r.try_get(5)?),
        })
    }

    /// The p90 response time of the day.
    fn daily_columns() -> String {
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY wait)".to_owned()
    }

    fn daily(r: &tokio_postgres::Row) -> Result<Option<f64>, ReportError> {
        Ok(r.try_get(1)?)
    }
}

impl FiguresPage for Resp {
    const PAGE: PageInfo = PageInfo {
        path: "/reports/response",
        title_zh: "响应时间与服务时长",
        title_en: "Response time and service time (GB/T 4.1.1)",
        nav_zh: "响应时间",
        nav_en: "Response time",
    };

    fn render(r: &Figures<Resp>, ctx: &Ctx) -> String {
        render(r, ctx)
    }

    fn csv(r: &Figures<Resp>, ctx: &Ctx) -> Response {
        csv_of(r, ctx)
    }
}

const QS: [&str; 3] = ["p50", "p90", "p95"];

fn quantile_cells(id: &str, n: i64, q: Option<Quantiles>) -> String {
    let mut out = count_figure(&format!("{id}-n"), n);
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

fn render(r: &Figures<Resp>, ctx: &Ctx) -> String {
    let cur = r.total();
    let wait_target = ctx.target::<Resp>(Metric::ResponseP90Secs, None);
    let svc_target = ctx.target::<Resp>(Metric::ServiceP90Secs, None);
    let mut b = String::new();
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
        targets::mark(Metric::ResponseP90Secs, wait_target),
    ));
    b.push_str(&svg::bar_chart(
        "chart-resp-svc",
        "服务时长分位数（秒）",
        "Service time quantiles (seconds)",
        &quantile_bars(cur.service),
        None,
        targets::mark(Metric::ServiceP90Secs, svc_target),
    ));
    b.push_str(&svg::line_chart(
        "chart-resp-trend",
        "每日响应时间 P90（秒）",
        "Daily response time p90 (seconds)",
        &r.trend,
        None,
        targets::mark(Metric::ResponseP90Secs, wait_target),
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
        &ctx.centres,
        head,
        |g| {
            let s = &g.stats;
            let mut out = String::new();
            for (col, n, q) in [
                ("wait", s.wait_n, s.wait),
                ("service", s.service_n, s.service),
            ] {
                out.push_str(&count_td(&format!("{col}_n"), n));
                for (i, name) in QS.iter().enumerate() {
                    let v = q.map(|q| q[i]);
                    out.push_str(&col_td(&format!("{col}_{name}"), &opt_num(v), &secs(v)));
                }
            }
            let t = ctx.target(Metric::ResponseP90Secs, Some(g));
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
    b
}

fn csv_of(r: &Figures<Resp>, ctx: &Ctx) -> Response {
    let mut out = keyed_csv(&[
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
    r.csv_lines(ctx.filter.period, |key: CsvKey<'_, Resp>, s, current| {
        let mut fields = key.fields();
        for (n, q) in [(s.wait_n, s.wait), (s.service_n, s.service)] {
            fields.push(n.to_string());
            fields.extend((0..3).map(|i| opt_num(q.map(|q| q[i]))));
        }
        for (metric, measured) in [
            (Metric::ResponseP90Secs, s.wait_p90()),
            (Metric::ServiceP90Secs, s.service_p90()),
        ] {
            let t = if current {
                ctx.target(metric, key.group)
            } else {
                None
            };
            fields.extend(targets::csv_fields(metric, t, measured));
        }
        out.row(fields);
    });
    out.response("response.csv")
}
