//! The reports' front page: one row per centre (and all centres together) with the
//! headline figure of each report, its target verdict (GB/T 9.2) and links to the full
//! reports for that centre. Only reads; the figures come from the reports' own queries.

use std::fmt::Write as _;

use axum::response::Response;
use deadpool_postgres::Client;

use super::csv::{self, Csv};
use super::error::ReportError;
use super::filter::Filter;
use super::page::{self, escape, num, opt_num};
use super::refunds::Refunds;
use super::requests::Req;
use super::response::Resp;
use super::satisfaction::Sat;
use super::targets::{Metric, Verdict};
use super::{Ctx, Dim, Group, PageInfo, Part, Report, grouped};

/// Each report's figures for the period, whole and per centre.
pub(crate) struct Overview {
    sat: Vec<Group<Sat>>,
    resp: Vec<Group<Resp>>,
    req: Vec<Group<Req>>,
    refunds: Vec<Group<Refunds>>,
}

/// One centre's (or all centres') headline figures.
#[derive(Debug, Default)]
struct Row {
    sat: Sat,
    resp: Resp,
    req: Req,
    refunds: Refunds,
}

fn pick<T: Clone + Default>(groups: &[Group<T>], centre: Option<&str>) -> T {
    groups
        .iter()
        .find(|g| match centre {
            None => g.dim == Dim::All,
            Some(c) => g.dim == Dim::Centre && g.key.as_deref() == Some(c),
        })
        .map(|g| g.stats.clone())
        .unwrap_or_default()
}

impl Overview {
    fn row(&self, centre: Option<&str>) -> Row {
        Row {
            sat: pick(&self.sat, centre),
            resp: pick(&self.resp, centre),
            req: pick(&self.req, centre),
            refunds: pick(&self.refunds, centre),
        }
    }

    /// The headline figures of a row with their metric.
    fn figures(row: &Row) -> [(Metric, Option<f64>); 4] {
        [
            (Metric::SatisfactionMean, row.sat.mean),
            (Metric::ResponseP90Secs, row.resp.wait_p90()),
            (Metric::WithinPromiseShare, row.req.resolve.share()),
            (Metric::RefundsOnTimeShare, row.refunds.share()),
        ]
    }
}

/// GB/T 9.2: a row's figure against the target for its centre (all centres: the target
/// for every centre) and the filter's service.
fn verdict(
    ctx: &Ctx,
    metric: Metric,
    centre: Option<&str>,
    measured: Option<f64>,
) -> (Verdict, Option<f64>) {
    let t = ctx.target_at(metric, centre, ctx.service());
    (Verdict::of(metric, t, measured), t.map(|t| t.value))
}

/// The rows in order: all centres, then each centre (the chosen one only, if any).
fn keys(ctx: &Ctx) -> Vec<Option<String>> {
    let mut keys = vec![None];
    for (id, _) in &ctx.centres {
        if ctx.filter.centre.as_deref().is_none_or(|c| c == id) {
            keys.push(Some(id.clone()));
        }
    }
    keys
}

impl Report for Overview {
    const PAGE: PageInfo = PageInfo {
        path: "/reports",
        title_zh: "服务质量报表",
        title_en: "Service quality reports",
        nav_zh: "服务质量报表",
        nav_en: "Service quality reports",
    };

    async fn load(db: &Client, f: &Filter) -> Result<Self, ReportError> {
        let p = f.period;
        Ok(Overview {
            sat: grouped(db, f, p).await?,
            resp: grouped(db, f, p).await?,
            req: grouped(db, f, p).await?,
            refunds: grouped(db, f, p).await?,
        })
    }

    fn render(&self, ctx: &Ctx) -> String {
        render(self, ctx)
    }

    fn csv(&self, ctx: &Ctx, _part: Part) -> Response {
        csv_of(self, ctx)
    }
}

fn render(r: &Overview, ctx: &Ctx) -> String {
    let f = &ctx.filter;
    let mut b = String::new();
    b.push_str(
        "<table id=\"overview\"><thead><tr><th>服务中心<span class=\"en\">Centre</span></th>\
         <th>评价数<span class=\"en\">Ratings</span></th>\
         <th>平均满意度<span class=\"en\">Mean satisfaction</span></th>\
         <th>响应时间 P90<span class=\"en\">Response p90</span></th>\
         <th>时限内办结率<span class=\"en\">Resolved within promise</span></th>\
         <th>按时退款率<span class=\"en\">Refunds on time</span></th>\
         <th>逾期未退款<span class=\"en\">Overdue unpaid refunds</span></th>\
         <th>报表<span class=\"en\">Reports</span></th></tr></thead><tbody>",
    );
    const COLS: [&str; 4] = ["sat_mean", "resp_p90", "within_promise", "refunds_on_time"];
    for key in keys(ctx) {
        let centre = key.as_deref();
        let row = r.row(centre);
        let label = match centre {
            None => "全部服务中心 All centres".to_owned(),
            Some(c) => super::key_label(Dim::Centre, Some(c), &ctx.centres),
        };
        let _ = write!(
            b,
            "<tr data-centre=\"{}\"><th scope=\"row\">{}</th><td class=\"fig\" data-col=\"sat_n\" data-value=\"{}\">{}</td>",
            escape(centre.unwrap_or("*")),
            escape(&label),
            row.sat.n,
            row.sat.n
        );
        for ((metric, v), col) in Overview::figures(&row).into_iter().zip(COLS) {
            let (verdict, target) = verdict(ctx, metric, centre, v);
            let mark = match verdict {
                Verdict::Met => " <span class=\"met\">✓ 达标</span>",
                Verdict::NotMet => " <span class=\"notmet\">✗ 未达标</span>",
                _ => "",
            };
            let _ = write!(
                b,
                "<td class=\"fig\" data-col=\"{col}\" data-value=\"{}\" data-target=\"{}\" data-met=\"{}\">{}{mark}</td>",
                opt_num(v),
                target.map(num).unwrap_or_default(),
                verdict.code(),
                escape(&v.map_or_else(|| "—".to_owned(), |v| metric.show(v))),
            );
        }
        let mut keep = vec![];
        if let Some(c) = centre {
            keep.push(("centre", c.to_owned()));
        }
        keep.extend(f.pairs().into_iter().filter(|(k, _)| *k != "centre"));
        let qs = escape(&page::query_string(&keep));
        let _ = write!(
            b,
            "<td class=\"fig\" data-col=\"refunds_unpaid_late\" data-value=\"{}\">{}</td>\
             <td><a href=\"/reports/satisfaction{qs}\" title=\"Satisfaction\">满意度</a> · <a href=\"/reports/response{qs}\" title=\"Response time\">响应</a> · \
             <a href=\"/reports/requests{qs}\" title=\"Within promised time\">时限</a> · <a href=\"/reports/refunds{qs}\" title=\"Refunds\">退款</a></td></tr>",
            row.refunds.unpaid_late, row.refunds.unpaid_late,
        );
    }
    b.push_str("</tbody></table>");
    b.push_str(
        "<p class=\"note\">满意度 GB/T 9.1.3 · 响应时间 GB/T 4.1.1 · 承诺时限 GB/T 4.1.2 · 退款 GB/T 8.4.3 · 目标 GB/T 9.2。\
         目标按服务中心取适用者。<br>Satisfaction GB/T 9.1.3 · response time GB/T 4.1.1 · promised time \
         GB/T 4.1.2 · refunds GB/T 8.4.3 · targets GB/T 9.2. Each centre's row is judged against the target \
         that applies to that centre.</p>",
    );
    b
}

fn csv_of(r: &Overview, ctx: &Ctx) -> Response {
    let mut out = Csv::new(&[
        "centre",
        "from",
        "to",
        "ratings",
        "satisfaction_mean",
        "satisfaction_target_met",
        "response_p90_secs",
        "response_target_met",
        "within_promise_share",
        "within_promise_target_met",
        "refunds_on_time_share",
        "refunds_target_met",
        "refunds_unpaid_late",
    ]);
    for key in keys(ctx) {
        let centre = key.as_deref();
        let row = r.row(centre);
        let mut fields = vec![
            csv::text(centre.unwrap_or("*")),
            page::date(ctx.filter.period.from),
            page::date(ctx.filter.period.to),
            row.sat.n.to_string(),
        ];
        for (metric, v) in Overview::figures(&row) {
            fields.push(opt_num(v));
            fields.push(verdict(ctx, metric, centre, v).0.code().to_owned());
        }
        fields.push(row.refunds.unpaid_late.to_string());
        out.row(fields);
    }
    out.response("overview.csv")
}
