//! GB/T 8.4.3: refunds paid within 5 working days. Each refund's `due_date` is already the
//! fifth working day in the centre's calendar; a refund is on time when the centre's local
//! date of `paid_at` (`centres.utc_offset_minutes`) is on or before it. Unpaid after the
//! due date is late; unpaid up to and on it is pending. Refunds are counted in the period
//! of their due date, and the overdue list names each one. Only reads.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use deadpool_postgres::Client;

use super::csv::{self, Csv};
use super::error::ReportError;
use super::filter::{Filter, Period};
use super::page::{self, col_td, escape, figure_td, num, opt_num, pct, yuan};
use super::svg::{self, Bar};
use super::targets::{self, Metric, Target, Targets, Verdict};
use super::{DIM_COLUMNS, Dim, GROUPING_SETS, Group, Q, begin, filters, local_date};
use crate::HqState;

#[derive(Debug, Clone, Default)]
pub(crate) struct Refunds {
    pub(crate) total: i64,
    pub(crate) on_time: i64,
    pub(crate) late: i64,
    pub(crate) pending: i64,
    /// Late and still unpaid.
    pub(crate) unpaid_late: i64,
    pub(crate) unpaid_late_fen: i64,
}

impl Refunds {
    /// GB/T 8.4.3: the share paid by the due date among those decided.
    pub(crate) fn share(&self) -> Option<f64> {
        let decided = self.on_time + self.late;
        (decided > 0).then(|| self.on_time as f64 / decided as f64)
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

pub(crate) async fn groups(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<Group<Refunds>>, ReportError> {
    let sql = format!(
        "{}SELECT {DIM_COLUMNS}, count(*)::int8, \
         count(*) FILTER (WHERE status = 'on_time')::int8, count(*) FILTER (WHERE status = 'late')::int8, \
         count(*) FILTER (WHERE status = 'pending')::int8, \
         count(*) FILTER (WHERE status = 'late' AND paid_day IS NULL)::int8, \
         COALESCE(sum(amount_fen) FILTER (WHERE status = 'late' AND paid_day IS NULL), 0)::int8 \
         FROM s WHERE day BETWEEN $5 AND $6 {GROUPING_SETS}",
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
            stats: Refunds {
                total: r.try_get(2)?,
                on_time: r.try_get(3)?,
                late: r.try_get(4)?,
                pending: r.try_get(5)?,
                unpaid_late: r.try_get(6)?,
                unpaid_late_fen: r.try_get(7)?,
            },
        });
    }
    super::sort_groups(&mut out);
    Ok(out)
}

/// The overdue list: refunds late in the period, and refunds due before it that are still
/// unpaid (an unpaid overdue refund never drops off the list). At most 1000 rows.
async fn overdue(db: &Client, f: &Filter) -> Result<Vec<Overdue>, ReportError> {
    let sql = format!(
        "{}SELECT centre_id, refund_id, request_id, service, amount_fen, due_date, paid_day, \
         (COALESCE(paid_day, today) - due_date)::int4 \
         FROM s WHERE status = 'late' AND (day BETWEEN $5 AND $6 OR (paid_day IS NULL AND day < $5)) \
         ORDER BY paid_day IS NOT NULL, due_date, centre_id, refund_id LIMIT 1000",
        base()
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

/// The on-time share of the refunds due on each day.
async fn trend(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<(NaiveDate, Option<f64>)>, ReportError> {
    let sql = format!(
        "{}SELECT day, count(*) FILTER (WHERE status = 'on_time')::int8, \
         count(*) FILTER (WHERE status = 'late')::int8 FROM s \
         WHERE day BETWEEN $5 AND $6 GROUP BY day",
        base()
    );
    let args = f.args(period);
    let rows = db.query(&sql, &args.refs()).await?;
    let mut by_day = HashMap::new();
    for r in rows {
        let d: NaiveDate = r.try_get(0)?;
        let s = Refunds {
            on_time: r.try_get(1)?,
            late: r.try_get(2)?,
            ..Refunds::default()
        };
        by_day.insert(d, s.share());
    }
    Ok(period
        .each_day()
        .map(|d| (d, by_day.get(&d).copied().flatten()))
        .collect())
}

struct Report {
    filter: Filter,
    groups: Vec<Group<Refunds>>,
    prev: Refunds,
    overdue: Vec<Overdue>,
    trend: Vec<(NaiveDate, Option<f64>)>,
    targets: Targets,
    centres: Vec<(String, String)>,
}

impl Report {
    fn target(&self, g: Option<&Group<Refunds>>) -> Option<&Target> {
        let mut centre = self.filter.centre.as_deref();
        let mut service = self.filter.service.map(domain::ServiceType::code);
        match g.map(|g| (g.dim, g.key.as_deref())) {
            Some((Dim::Centre, k)) => centre = k,
            Some((Dim::Service, k)) => service = k,
            _ => {}
        }
        self.targets.applicable(
            Metric::RefundsOnTimeShare,
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
    let overdue = overdue(&db, &filter).await?;
    let trend = trend(&db, &filter, filter.period).await?;
    let targets = Targets::load(&db).await?;
    let centres = super::centres(&db).await?;
    Ok(Report {
        filter,
        groups,
        prev,
        overdue,
        trend,
        targets,
        centres,
    })
}

pub(crate) async fn html(State(state): State<HqState>, q: Q) -> Result<Response, ReportError> {
    let overdue_csv = part_is_overdue(&q.0)?;
    let r = load(&state, &q.0, false).await?;
    if r.filter.csv {
        return Ok(if overdue_csv {
            overdue_csv_of(&r)
        } else {
            csv_of(&r)
        });
    }
    Ok(Html(render(&r)).into_response())
}

pub(crate) async fn csv(State(state): State<HqState>, q: Q) -> Result<Response, ReportError> {
    let overdue_csv = part_is_overdue(&q.0)?;
    let r = load(&state, &q.0, true).await?;
    Ok(if overdue_csv {
        overdue_csv_of(&r)
    } else {
        csv_of(&r)
    })
}

/// `part=overdue` asks the CSV for the overdue list instead of the figures.
fn part_is_overdue(q: &HashMap<String, String>) -> Result<bool, ReportError> {
    match q.get("part").map(|s| s.trim()) {
        None | Some("") | Some("summary") => Ok(false),
        Some("overdue") => Ok(true),
        Some(other) => Err(ReportError::bad(
            format!("未知的导出部分“{other}”：请用 summary 或 overdue。"),
            format!("Unknown part “{other}”: use summary or overdue."),
        )),
    }
}

fn render(r: &Report) -> String {
    let f = &r.filter;
    let cur = super::total(&r.groups);
    let target = r.target(None);
    let mut b = page::heading(
        1,
        "title",
        "退款时效（5 个工作日内）",
        "Refunds paid within 5 working days (GB/T 8.4.3)",
    );
    b.push_str(&page::filter_form("/reports/refunds", f, &r.centres));
    b.push_str(&page::period_line(f, &f.csv_href("/reports/refunds")));
    b.push_str(&page::heading(2, "h-summary", "汇总", "Summary"));
    let _ = write!(
        b,
        "<table id=\"ref-summary\"><thead><tr><th>本期到期<span class=\"en\">Due in the period</span></th>\
         <th>按时退款<span class=\"en\">Paid on time</span></th><th>逾期<span class=\"en\">Late</span></th>\
         <th>未到期<span class=\"en\">Not yet due</span></th><th>按时率<span class=\"en\">Share on time</span></th>\
         <th>上一期按时率<span class=\"en\">Previous period</span></th>{}</tr></thead><tbody><tr>{}{}{}{}{}{}{}</tr></tbody></table>",
        targets::HEAD,
        figure_td("ref-total", &cur.total.to_string(), &cur.total.to_string()),
        figure_td(
            "ref-on-time",
            &cur.on_time.to_string(),
            &cur.on_time.to_string()
        ),
        figure_td("ref-late", &cur.late.to_string(), &cur.late.to_string()),
        figure_td(
            "ref-pending",
            &cur.pending.to_string(),
            &cur.pending.to_string()
        ),
        figure_td("ref-share", &opt_num(cur.share()), &pct(cur.share())),
        figure_td(
            "ref-prev-share",
            &opt_num(r.prev.share()),
            &pct(r.prev.share())
        ),
        targets::cells("ref-share", Metric::RefundsOnTimeShare, target, cur.share()),
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
        ("按时 on time", cur.on_time),
        ("逾期 late", cur.late),
        ("未到期 pending", cur.pending),
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
        &r.trend,
        Some(1.0),
        target.map(|t| (t.value, pct(Some(t.value)))),
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
        &r.groups,
        &r.centres,
        head,
        |g| {
            let s = &g.stats;
            let t = r.target(Some(g));
            let v = Verdict::of(Metric::RefundsOnTimeShare, t, s.share());
            format!(
                "{}{}{}{}{}<td class=\"fig\" data-col=\"target\" data-value=\"{}\">{}</td>{}",
                col_td("n", &s.total.to_string(), &s.total.to_string()),
                col_td("on_time", &s.on_time.to_string(), &s.on_time.to_string()),
                col_td("late", &s.late.to_string(), &s.late.to_string()),
                col_td("pending", &s.pending.to_string(), &s.pending.to_string()),
                col_td("share", &opt_num(s.share()), &pct(s.share())),
                t.map(|t| num(t.value)).unwrap_or_default(),
                t.map_or_else(|| "—".to_owned(), |t| pct(Some(t.value))),
                targets::met_td(v),
            )
        },
    ));
    page::shell("退款时效", "Refunds", "/reports/refunds", &f.keep(), &b)
}

fn csv_of(r: &Report) -> Response {
    let mut out = Csv::new(&[
        "period",
        "from",
        "to",
        "group",
        "key",
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
    let period = r.filter.period;
    let mut line =
        |label: &str, p: Period, g: Option<&Group<Refunds>>, s: &Refunds, with_target: bool| {
            let mut fields = vec![
                label.to_owned(),
                page::date(p.from),
                page::date(p.to),
                g.map_or("all", |g| g.dim.code()).to_owned(),
                csv::text(g.and_then(|g| g.key.as_deref()).unwrap_or("")),
                s.total.to_string(),
                s.on_time.to_string(),
                s.late.to_string(),
                s.pending.to_string(),
                opt_num(s.share()),
                s.unpaid_late.to_string(),
                s.unpaid_late_fen.to_string(),
            ];
            match r.target(g).filter(|_| with_target) {
                Some(t) => {
                    fields.push(num(t.value));
                    fields.push(
                        Verdict::of(Metric::RefundsOnTimeShare, Some(t), s.share())
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
    out.response("refunds.csv")
}

fn overdue_csv_of(r: &Report) -> Response {
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
    for o in &r.overdue {
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
