//! GB/T 8.4.3: refunds paid within 5 working days. Each refund's `due_date` is already the
//! fifth working day in the centre's calendar; a refund is on time when the centre's local
//! date of `paid_at` (`centres.utc_offset_minutes`) is on or before it. Unpaid after the
//! due date is late; unpaid up to and on it is pending. Refunds are counted in the period
//! of their due date, and the overdue list names each one. Only reads.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::response::Response;
use chrono::NaiveDate;
use deadpool_postgres::Client;

use super::csv::{self, Csv};
use super::error::ReportError;
use super::filter::Filter;
use super::page::{self, count_figure, count_td, escape, figure_td, opt_num, pct, yuan};
use super::svg::{self, Bar};
use super::targets::{self, Metric};
use super::{
    CsvKey, Ctx, Figures, Measure, PageInfo, Part, Report, Tally, filters, keyed_csv, local_date,
    share_columns, tally_columns,
};

#[derive(Debug, Clone, Default)]
pub(crate) struct Refunds {
    pub(crate) total: i64,
    pub(crate) status: Tally,
    /// Late and still unpaid.
    pub(crate) unpaid_late: i64,
    pub(crate) unpaid_late_fen: i64,
}

impl Refunds {
    /// GB/T 8.4.3: the share paid by the due date among those decided.
    pub(crate) fn share(&self) -> Option<f64> {
        self.status.share()
    }
}

/// One late refund.
#[derive(Debug, Clone)]
struct Overdue {
    centre: String,
    refund_id: i64,
    request_id: i64,
    service: Option<String>,
    amount_fen: i64,
    due_date: NaiveDate,
    paid_day: Option<NaiveDate>,
    days_late: i32,
}

impl Measure for Refunds {
    fn base() -> String {
        // GB/T 8.4.3: compare local dates: the day the refund was paid, in the centre's time,
        // against the due date; today is the centre's today.
        format!(
            "WITH base AS (SELECT f.centre_id, r.service, t.counter, t.staff_id, f.refund_id, \
             f.request_id, f.amount_fen, f.due_date, f.due_date AS day, {} AS paid_day, {} AS today \
             FROM refunds f LEFT JOIN centres c ON c.centre_id = f.centre_id \
             LEFT JOIN requests r ON r.centre_id = f.centre_id AND r.request_id = f.request_id \
             LEFT JOIN tickets t ON t.centre_id = r.centre_id AND t.ticket_id = r.ticket_id WHERE {}), \
             s AS (SELECT *, CASE WHEN paid_day IS NOT NULL THEN \
             CASE WHEN paid_day <= due_date THEN 'on_time' ELSE 'late' END \
             WHEN due_date < today THEN 'late' ELSE 'pending' END AS status FROM base) ",
            local_date("f.paid_at"),
            local_date("now()"),
            filters("f.centre_id", "r.service", "t.counter", "t.staff_id"),
        )
    }

    const FROM: &'static str = "s";

    fn columns() -> String {
        format!(
            "count(*)::int8, {}, \
             count(*) FILTER (WHERE status = 'late' AND paid_day IS NULL)::int8, \
             COALESCE(sum(amount_fen) FILTER (WHERE status = 'late' AND paid_day IS NULL), 0)::int8",
            tally_columns("status")
        )
    }

    fn read(r: &tokio_postgres::Row) -> Result<Refunds, ReportError> {
        Ok(Refunds {
            total: r.try_get(2)?,
            status: Tally::read(r, 3)?,
            unpaid_late: r.try_get(6)?,
            unpaid_late_fen: r.try_get(7)?,
        })
    }

    /// The on-time share of the refunds due on the day.
    fn daily_columns() -> String {
        share_columns("status")
    }

    fn daily(r: &tokio_postgres::Row) -> Result<Option<f64>, ReportError> {
        Tally::read_share(r, 1)
    }
}

const METRIC: Metric = Metric::RefundsOnTimeShare;

/// The overdue list: refunds late in the period, and refunds due before it that are still
/// unpaid (an unpaid overdue refund never drops off the list). At most 1000 rows.
async fn overdue(db: &Client, f: &Filter) -> Result<Vec<Overdue>, ReportError> {
    let sql = format!(
        "{}SELECT centre_id, refund_id, request_id, service, amount_fen, due_date, paid_day, \
         (COALESCE(paid_day, today) - due_date)::int4 \
         FROM s WHERE status = 'late' AND (day BETWEEN $5 AND $6 OR (paid_day IS NULL AND day < $5)) \
         ORDER BY paid_day IS NOT NULL, due_date, centre_id, refund_id LIMIT 1000",
        Refunds::base()
    );
    let args = f.args(f.period);
    let rows = db.query(&sql, &args.refs()).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(Overdue {
            centre: r.try_get(0)?,
            refund_id: r.try_get(1)?,
            request_id: r.try_get(2)?,
            service: r.try_get(3)?,
            amount_fen: r.try_get(4)?,
            due_date: r.try_get(5)?,
            paid_day: r.try_get(6)?,
            days_late: r.try_get(7)?,
        });
    }
    Ok(out)
}

/// The refunds report: the figures and the overdue list.
pub(crate) struct RefundsReport {
    figures: Figures<Refunds>,
    overdue: Vec<Overdue>,
}

impl Report for RefundsReport {
    const PAGE: PageInfo = PageInfo {
        path: "/reports/refunds",
        title_zh: "退款时效（5 个工作日内）",
        title_en: "Refunds paid within 5 working days (GB/T 8.4.3)",
        nav_zh: "退款时效",
        nav_en: "Refunds",
    };

    fn part(q: &HashMap<String, String>) -> Result<Part, ReportError> {
        part(q)
    }

    async fn load(db: &Client, f: &Filter) -> Result<Self, ReportError> {
        Ok(RefundsReport {
            figures: Figures::load(db, f).await?,
            overdue: overdue(db, f).await?,
        })
    }

    fn render(&self, ctx: &Ctx) -> String {
        render(self, ctx)
    }

    fn csv(&self, ctx: &Ctx, part: Part) -> Response {
        match part {
            Part::Summary => csv_of(&self.figures, ctx),
            Part::Overdue => overdue_csv_of(&self.overdue),
        }
    }
}

/// `part=overdue` asks the CSV for the overdue list instead of the figures.
fn part(q: &HashMap<String, String>) -> Result<Part, ReportError> {
    match q.get("part").map(|s| s.trim()) {
        None | Some("") | Some("summary") => Ok(Part::Summary),
        Some("overdue") => Ok(Part::Overdue),
        Some(other) => Err(ReportError::bad(
            format!("未知的导出部分“{other}”：请用 summary 或 overdue。"),
            format!("Unknown part “{other}”: use summary or overdue."),
        )),
    }
}

fn render(r: &RefundsReport, ctx: &Ctx) -> String {
    let f = &ctx.filter;
    let fig = &r.figures;
    let cur = fig.total();
    let target = ctx.target::<Refunds>(METRIC, None);
    let mut b = String::new();
    b.push_str(&page::heading(2, "h-summary", "汇总", "Summary"));
    let _ = write!(
        b,
        "<table id=\"ref-summary\"><thead><tr><th>本期到期<span class=\"en\">Due in the period</span></th>\
         <th>按时退款<span class=\"en\">Paid on time</span></th><th>逾期<span class=\"en\">Late</span></th>\
         <th>未到期<span class=\"en\">Not yet due</span></th><th>按时率<span class=\"en\">Share on time</span></th>\
         <th>上一期按时率<span class=\"en\">Previous period</span></th>{}</tr></thead><tbody><tr>{}{}{}{}</tr></tbody></table>",
        targets::HEAD,
        count_figure("ref-total", cur.total),
        cur.status.figure_cells("ref"),
        figure_td(
            "ref-prev-share",
            &opt_num(fig.prev.share()),
            &pct(fig.prev.share())
        ),
        targets::cells("ref-share", METRIC, target, cur.share()),
    );
    let _ = write!(
        b,
        "<p>其中逾期仍未退款 Of these, late and still unpaid: \
         <span id=\"ref-unpaid-late\" data-value=\"{}\">{}</span>，金额 amount \
         <span id=\"ref-unpaid-late-amount\" data-value=\"{}\">{}</span></p>",
        cur.unpaid_late,
        cur.unpaid_late,
        cur.unpaid_late_fen,
        yuan(cur.unpaid_late_fen)
    );
    b.push_str(
        "<p class=\"note\">到期日为同意退款后第 5 个工作日（服务中心日历）。退款日按服务中心当地日期计；\
         到期日之后仍未退款即为逾期，到期日当天及之前未退款的计为未到期。<br>The due date is the fifth working day \
         after the refund was agreed (the centre's calendar). The payment day is the centre's local date; \
         unpaid after the due date is late, unpaid up to and on it is not yet due.</p>",
    );
    b.push_str("<div class=\"charts\">");
    let bars = [
        ("按时 on time", cur.status.on_time),
        ("逾期 late", cur.status.late),
        ("未到期 pending", cur.status.pending),
    ]
    .map(|(label, v)| Bar {
        label: label.to_owned(),
        value: Some(v as f64),
        text: v.to_string(),
    });
    b.push_str(&svg::bar_chart(
        "chart-ref-status",
        "退款状态",
        "Refunds by status",
        &bars,
        None,
        None,
    ));
    b.push_str(&svg::line_chart(
        "chart-ref-trend",
        "按到期日的按时退款率",
        "Share paid on time by due date",
        &fig.trend,
        Some(1.0),
        targets::mark(METRIC, target),
    ));
    b.push_str("</div>");

    b.push_str(&page::heading(
        2,
        "h-overdue",
        "逾期退款清单",
        "Overdue refunds",
    ));
    let _ = write!(
        b,
        "<p class=\"note\">本期到期的逾期退款，以及更早到期仍未退款的。 Refunds late in the period, and refunds due \
         earlier that are still unpaid. <a class=\"csv\" id=\"csv-overdue-link\" href=\"{}\">CSV</a></p>",
        escape(&format!(
            "/reports/refunds.csv{}",
            page::query_string(&[f.pairs(), vec![("part", "overdue".to_owned())]].concat())
        ))
    );
    b.push_str(
        "<table id=\"ref-overdue\"><thead><tr><th>服务中心<span class=\"en\">Centre</span></th>\
         <th>退款号<span class=\"en\">Refund</span></th><th>请求号<span class=\"en\">Request</span></th>\
         <th>服务<span class=\"en\">Service</span></th><th>金额<span class=\"en\">Amount</span></th>\
         <th>到期日<span class=\"en\">Due</span></th><th>退款日<span class=\"en\">Paid</span></th>\
         <th>逾期天数<span class=\"en\">Days late</span></th></tr></thead><tbody>",
    );
    if r.overdue.is_empty() {
        b.push_str(
            "<tr><td colspan=\"8\" class=\"muted\">没有逾期退款 No overdue refunds</td></tr>",
        );
    }
    for o in &r.overdue {
        let _ = write!(
            b,
            "<tr class=\"overdue\" data-centre=\"{}\" data-refund-id=\"{}\" data-paid=\"{}\" data-days-late=\"{}\">\
             <td>{}</td><td class=\"fig\">{}</td><td class=\"fig\">{}</td><td>{}</td><td class=\"fig\">{}</td>\
             <td>{}</td><td>{}</td><td class=\"fig\">{}</td></tr>",
            escape(&o.centre),
            o.refund_id,
            o.paid_day.is_some(),
            o.days_late,
            escape(&o.centre),
            o.refund_id,
            o.request_id,
            escape(
                &o.service
                    .as_deref()
                    .map(page::service_label)
                    .unwrap_or_default()
            ),
            yuan(o.amount_fen),
            o.due_date,
            o.paid_day
                .map_or_else(|| "未退款 unpaid".to_owned(), |d| d.to_string()),
            o.days_late,
        );
    }
    b.push_str("</tbody></table>");

    b.push_str(&page::heading(2, "h-breakdown", "分组统计", "Breakdowns"));
    let head = "<th>到期<span class=\"en\">Due</span></th><th>按时<span class=\"en\">On time</span></th>\
                <th>逾期<span class=\"en\">Late</span></th><th>未到期<span class=\"en\">Not yet due</span></th>\
                <th>按时率<span class=\"en\">Share on time</span></th><th>目标<span class=\"en\">Target</span></th>\
                <th>是否达标<span class=\"en\">Met?</span></th>";
    b.push_str(&super::breakdowns(
        "ref",
        &fig.groups,
        &ctx.centres,
        head,
        |g| {
            let s = &g.stats;
            format!(
                "{}{}{}",
                count_td("n", s.total),
                s.status.col_cells(),
                targets::row_cells(METRIC, ctx.target(METRIC, Some(g)), s.share()),
            )
        },
    ));
    b
}

fn csv_of(r: &Figures<Refunds>, ctx: &Ctx) -> Response {
    let mut out = keyed_csv(&[
        "refunds",
        "on_time",
        "late",
        "pending",
        "share",
        "unpaid_late",
        "unpaid_late_fen",
        "target",
        "target_met",
    ]);
    r.csv_lines(ctx.filter.period, |key: CsvKey<'_, Refunds>, s, current| {
        let mut fields = key.fields();
        fields.push(s.total.to_string());
        fields.extend(s.status.csv_fields());
        fields.extend([s.unpaid_late.to_string(), s.unpaid_late_fen.to_string()]);
        let t = if current {
            ctx.target(METRIC, key.group)
        } else {
            None
        };
        fields.extend(targets::csv_fields(METRIC, t, s.share()));
        out.row(fields);
    });
    out.response("refunds.csv")
}

fn overdue_csv_of(overdue: &[Overdue]) -> Response {
    let mut out = Csv::new(&[
        "centre",
        "refund_id",
        "request_id",
        "service",
        "amount_fen",
        "due_date",
        "paid_date",
        "days_late",
    ]);
    for o in overdue {
        out.row([
            csv::text(&o.centre),
            o.refund_id.to_string(),
            o.request_id.to_string(),
            csv::text(o.service.as_deref().unwrap_or("")),
            o.amount_fen.to_string(),
            page::date(o.due_date),
            o.paid_day.map(page::date).unwrap_or_default(),
            o.days_late.to_string(),
        ]);
    }
    out.response("refunds-overdue.csv")
}
