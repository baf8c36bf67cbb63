//! GB/T 4.1.2 (and 5.5.2 for replies): requests accepted in the period that were resolved
//! (`resolved_at`) by their promised `resolve_due`, and answered by `reply_due` where one
//! was set. A request still open after its deadline counts as late; one still open before
//! it is pending and left out of the share. Counter and staff come from the request's
//! ticket. Only reads.

use std::fmt::Write as _;

use axum::response::Response;

use super::error::ReportError;
use super::page::{self, col_td, count_td, figure_td, opt_num, pct};
use super::svg::{self, Bar};
use super::targets::{self, Metric};
use super::{
    CsvKey, Ctx, Dim, Figures, FiguresPage, Measure, PageInfo, Tally, filters, keyed_csv,
    local_date, share_columns, tally_columns,
};

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

impl Measure for Req {
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

    fn columns() -> String {
        format!(
            "count(*)::int8, {}, {}",
            tally_columns("resolve"),
            tally_columns("reply")
        )
    }

    fn read(r: &tokio_postgres::Row) -> Result<Req, ReportError> {
        Ok(Req {
            total: r.try_get(2)?,
            resolve: Tally::read(r, 3)?,
            reply: Tally::read(r, 6)?,
        })
    }

    /// The share resolved on time of the requests accepted on the day.
    fn daily_columns() -> String {
        share_columns("resolve")
    }

    fn daily(r: &tokio_postgres::Row) -> Result<Option<f64>, ReportError> {
        Tally::read_share(r, 1)
    }
}

const METRIC: Metric = Metric::WithinPromiseShare;

impl FiguresPage for Req {
    const PAGE: PageInfo = PageInfo {
        path: "/reports/requests",
        title_zh: "承诺时限内办结",
        title_en: "Requests within their promised time limit (GB/T 4.1.2)",
        nav_zh: "承诺时限内办结",
        nav_en: "Within the promised time",
    };

    fn render(r: &Figures<Req>, ctx: &Ctx) -> String {
        render(r, ctx)
    }

    fn csv(r: &Figures<Req>, ctx: &Ctx) -> Response {
        csv_of(r, ctx)
    }
}

fn render(r: &Figures<Req>, ctx: &Ctx) -> String {
    let cur = r.total();
    let target = ctx.target::<Req>(METRIC, None);
    let mut b = String::new();
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
        cur.resolve.figure_cells("req-resolve"),
        figure_td(
            "req-prev-resolve-share",
            &opt_num(r.prev.resolve.share()),
            &pct(r.prev.resolve.share())
        ),
        targets::cells("req-resolve-share", METRIC, target, cur.resolve.share()),
        cur.reply.figure_cells("req-reply"),
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
        targets::mark(METRIC, target),
    ));
    b.push_str(&svg::line_chart(
        "chart-req-trend",
        "按受理日的按时办结率",
        "Share resolved on time by day accepted",
        &r.trend,
        Some(1.0),
        targets::mark(METRIC, target),
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
        &ctx.centres,
        head,
        |g| {
            let s = &g.stats;
            format!(
                "{}{}{}{}",
                count_td("n", s.total),
                s.resolve.col_cells(),
                col_td(
                    "reply_share",
                    &opt_num(s.reply.share()),
                    &pct(s.reply.share())
                ),
                targets::row_cells(METRIC, ctx.target(METRIC, Some(g)), s.resolve.share()),
            )
        },
    ));
    b
}

fn csv_of(r: &Figures<Req>, ctx: &Ctx) -> Response {
    let mut out = keyed_csv(&[
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
    r.csv_lines(ctx.filter.period, |key: CsvKey<'_, Req>, s, current| {
        let mut fields = key.fields();
        fields.push(s.total.to_string());
        fields.extend(s.resolve.csv_fields());
        fields.extend(s.reply.csv_fields());
        let t = if current {
            ctx.target(METRIC, key.group)
        } else {
            None
        };
        fields.extend(targets::csv_fields(METRIC, t, s.resolve.share()));
        out.row(fields);
    });
    out.response("requests.csv")
}
