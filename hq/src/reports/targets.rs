//! GB/T 9.2: improvement targets. Sets them (one per metric, centre or `*`, service or
//! `*`, valid from a date), lists them, and picks the one that applies to a report so the
//! measured figure is shown beside it as met / not met. Never decides what is measured.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use deadpool_postgres::Client;
use domain::ServiceType;

use super::csv::{self, Csv};
use super::error::ReportError;
use super::page::{self, escape};
use crate::HqState;

/// What a target can be set on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    /// GB/T 9.1.3: the mean satisfaction score (1–5), higher is better.
    SatisfactionMean,
    /// GB/T 4.1.1: the 90th percentile of issued → called, seconds, lower is better.
    ResponseP90Secs,
    /// GB/T 4.1.1: the 90th percentile of the service time, seconds, lower is better.
    ServiceP90Secs,
    /// GB/T 4.1.2: the share of requests resolved within the promised time, higher is better.
    WithinPromiseShare,
    /// GB/T 8.4.3: the share of refunds paid within 5 working days, higher is better.
    RefundsOnTimeShare,
}

impl Metric {
    pub(crate) const ALL: [Metric; 5] = [
        Metric::SatisfactionMean,
        Metric::ResponseP90Secs,
        Metric::ServiceP90Secs,
        Metric::WithinPromiseShare,
        Metric::RefundsOnTimeShare,
    ];

    pub(crate) fn code(self) -> &'static str {
        match self {
            Metric::SatisfactionMean => "satisfaction_mean",
            Metric::ResponseP90Secs => "response_p90_secs",
            Metric::ServiceP90Secs => "service_p90_secs",
            Metric::WithinPromiseShare => "within_promise_share",
            Metric::RefundsOnTimeShare => "refunds_on_time_share",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.code() == s)
    }

    pub(crate) fn name_zh(self) -> &'static str {
        match self {
            Metric::SatisfactionMean => "平均满意度",
            Metric::ResponseP90Secs => "响应时间 P90（秒）",
            Metric::ServiceP90Secs => "服务时长 P90（秒）",
            Metric::WithinPromiseShare => "承诺时限内办结率",
            Metric::RefundsOnTimeShare => "5 个工作日内退款率",
        }
    }

    pub(crate) fn name_en(self) -> &'static str {
        match self {
            Metric::SatisfactionMean => "Mean satisfaction (1–5)",
            Metric::ResponseP90Secs => "Response time p90 (seconds)",
            Metric::ServiceP90Secs => "Service time p90 (seconds)",
            Metric::WithinPromiseShare => "Share resolved within the promised time (0–1)",
            Metric::RefundsOnTimeShare => "Share of refunds paid within 5 working days (0–1)",
        }
    }

    fn higher_is_better(self) -> bool {
        matches!(
            self,
            Metric::SatisfactionMean | Metric::WithinPromiseShare | Metric::RefundsOnTimeShare
        )
    }

    /// The allowed range of a target value.
    fn range(self) -> (f64, f64) {
        match self {
            Metric::SatisfactionMean => (1.0, 5.0),
            Metric::ResponseP90Secs | Metric::ServiceP90Secs => (0.0, 7.0 * 86_400.0),
            Metric::WithinPromiseShare | Metric::RefundsOnTimeShare => (0.0, 1.0),
        }
    }

    /// A value of this metric for people.
    pub(crate) fn show(self, v: f64) -> String {
        match self {
            Metric::SatisfactionMean => format!("{v:.2}"),
            Metric::ResponseP90Secs | Metric::ServiceP90Secs => page::secs(Some(v)),
            Metric::WithinPromiseShare | Metric::RefundsOnTimeShare => page::pct(Some(v)),
        }
    }
}

/// One stored target.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) centre: String,
    pub(crate) metric: String,
    pub(crate) service: String,
    pub(crate) valid_from: NaiveDate,
    pub(crate) value: f64,
    pub(crate) note: String,
    pub(crate) set_at: DateTime<Utc>,
}

/// Every stored target, to pick from.
#[derive(Debug, Default)]
pub(crate) struct Targets(Vec<Target>);

impl Targets {
    pub(crate) async fn load(db: &Client) -> Result<Targets, ReportError> {
        let rows = db
            .query(
                "SELECT centre_id, metric, service, valid_from, target, note, set_at FROM targets \
                 ORDER BY metric, centre_id, service, valid_from DESC",
                &[],
            )
            .await?;
        let mut v = Vec::with_capacity(rows.len());
        for r in rows {
            v.push(Target {
                centre: r.try_get(0)?,
                metric: r.try_get(1)?,
                service: r.try_get(2)?,
                valid_from: r.try_get(3)?,
                value: r.try_get(4)?,
                note: r.try_get(5)?,
                set_at: r.try_get(6)?,
            });
        }
        Ok(Targets(v))
    }

    /// GB/T 9.2: the target for `metric` that applies to a report on `centre` and `service`
    /// (`None` = all) whose period ends on `on`. Only targets valid by then count; a
    /// target for the exact centre beats one for every centre, then the exact service beats
    /// every service; among equals the latest `valid_from` wins.
    pub(crate) fn applicable(
        &self,
        metric: Metric,
        centre: Option<&str>,
        service: Option<&str>,
        on: NaiveDate,
    ) -> Option<&Target> {
        self.0
            .iter()
            .filter(|t| t.metric == metric.code() && t.valid_from <= on)
            .filter_map(|t| {
                let c = if t.centre == "*" {
                    0
                } else if Some(t.centre.as_str()) == centre {
                    2
                } else {
                    return None;
                };
                let s = if t.service == "*" {
                    0
                } else if Some(t.service.as_str()) == service {
                    1
                } else {
                    return None;
                };
                Some((c + s, t))
            })
            .max_by_key(|(rank, t)| (*rank, t.valid_from))
            .map(|(_, t)| t)
    }
}

/// How a measured figure stands against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Met,
    NotMet,
    /// A target applies but nothing was measured.
    NoData,
    /// No target applies.
    NoTarget,
}

impl Verdict {
    pub(crate) fn of(metric: Metric, target: Option<&Target>, measured: Option<f64>) -> Verdict {
        match (target, measured) {
            (None, _) => Verdict::NoTarget,
            (Some(_), None) => Verdict::NoData,
            (Some(t), Some(m)) => {
                let met = if metric.higher_is_better() {
                    m >= t.value
                } else {
                    m <= t.value
                };
                if met { Verdict::Met } else { Verdict::NotMet }
            }
        }
    }

    pub(crate) fn code(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "not_met",
            Verdict::NoData => "no_data",
            Verdict::NoTarget => "none",
        }
    }

    pub(crate) fn text(self) -> &'static str {
        match self {
            Verdict::Met => "达标 Met",
            Verdict::NotMet => "未达标 Not met",
            Verdict::NoData => "无数据 No data",
            Verdict::NoTarget => "未设目标 No target",
        }
    }

    pub(crate) fn class(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "notmet",
            _ => "muted",
        }
    }
}

/// A breakdown row's verdict cell: `data-col="met"`, the code in `data-value`.
pub(crate) fn met_td(v: Verdict) -> String {
    format!(
        "<td data-col=\"met\" data-value=\"{}\" class=\"{}\">{}</td>",
        v.code(),
        v.class(),
        v.text()
    )
}

/// A breakdown row's target and verdict cells: `data-col="target"` (the target's value,
/// shown as the metric is) and `data-col="met"`.
pub(crate) fn row_cells(metric: Metric, target: Option<&Target>, measured: Option<f64>) -> String {
    format!(
        "<td class=\"fig\" data-col=\"target\" data-value=\"{}\">{}</td>{}",
        target.map(|t| page::num(t.value)).unwrap_or_default(),
        target.map_or_else(|| "—".to_owned(), |t| metric.show(t.value)),
        met_td(Verdict::of(metric, target, measured)),
    )
}

/// The CSV fields `target` and `target_met` (both empty without a target).
pub(crate) fn csv_fields(
    metric: Metric,
    target: Option<&Target>,
    measured: Option<f64>,
) -> [String; 2] {
    match target {
        Some(t) => [
            page::num(t.value),
            Verdict::of(metric, Some(t), measured).code().to_owned(),
        ],
        None => [String::new(), String::new()],
    }
}

/// A chart's target line: the value and how it reads.
pub(crate) fn mark(metric: Metric, target: Option<&Target>) -> Option<(f64, String)> {
    target.map(|t| (t.value, metric.show(t.value)))
}

/// The two cells beside a measured figure: `{id}-target` and `{id}-target-met`.
pub(crate) fn cells(
    id: &str,
    metric: Metric,
    target: Option<&Target>,
    measured: Option<f64>,
) -> String {
    let verdict = Verdict::of(metric, target, measured);
    let (value, text, title) = match target {
        Some(t) => (
            page::num(t.value),
            metric.show(t.value),
            format!(
                "{} · {} · {} {}",
                t.centre,
                t.service,
                t.valid_from,
                if t.note.is_empty() { "" } else { &t.note }
            ),
        ),
        None => (String::new(), "—".to_owned(), String::new()),
    };
    format!(
        "<td id=\"{id}-target\" class=\"fig\" data-value=\"{}\" data-metric=\"{}\" title=\"{}\">{}</td>\
         <td id=\"{id}-target-met\" data-value=\"{}\" class=\"{}\">{}</td>",
        escape(&value),
        metric.code(),
        escape(&title),
        escape(&text),
        verdict.code(),
        verdict.class(),
        verdict.text(),
        id = escape(id),
    )
}

/// The table headings for `cells`.
pub(crate) const HEAD: &str =
    "<th>目标<span class=\"en\">Target</span></th><th>是否达标<span class=\"en\">Met?</span></th>";

/// GET /reports/targets (and `.csv`): every target, and the form to set one.
pub(crate) async fn list(
    State(state): State<HqState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ReportError> {
    list_as(state, q, false).await
}

pub(crate) async fn list_csv(
    State(state): State<HqState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ReportError> {
    list_as(state, q, true).await
}

async fn list_as(
    state: HqState,
    q: HashMap<String, String>,
    csv_path: bool,
) -> Result<Response, ReportError> {
    let db = state.pool.get().await?;
    let targets = Targets::load(&db).await?;
    let csv = csv_path || q.get("format").map(String::as_str) == Some("csv");
    if csv {
        let mut out = Csv::new(&[
            "metric",
            "centre",
            "service",
            "valid_from",
            "target",
            "note",
            "set_at",
        ]);
        for t in &targets.0 {
            out.row([
                csv::text(&t.metric),
                csv::text(&t.centre),
                csv::text(&t.service),
                page::date(t.valid_from),
                page::num(t.value),
                csv::text(&t.note),
                t.set_at.to_rfc3339(),
            ]);
        }
        return Ok(out.response("targets.csv"));
    }
    let centres = super::centres(&db).await?;
    let mut body = page::heading(1, "title", "改进目标", "Improvement targets (GB/T 9.2)");
    if q.contains_key("saved") {
        body.push_str(
            "<p id=\"saved\" class=\"met\">目标已保存。<br><span class=\"en\">The target was saved.</span></p>",
        );
    }
    body.push_str(
        "<p class=\"note\">每份报表在实测值旁显示适用的目标：指定服务中心的目标优先于“全部”，\
         其次指定服务优先于“全部”，同级取生效日期最近者（不晚于统计期末）。比例填 0–1（例如 0.95）。<br>\
         Every report shows the applicable target beside the measured figure: a target for the \
         exact centre beats one for all centres, then the exact service beats all services; among \
         equals the latest valid-from date on or before the period's end wins. Shares are 0–1 (e.g. 0.95).</p>",
    );
    body.push_str(
        "<p><a class=\"csv\" id=\"csv-link\" href=\"/reports/targets.csv\">CSV 导出 export</a></p>",
    );
    body.push_str(&page::heading(2, "set", "设定目标", "Set a target"));
    body.push_str(&target_form(&centres));
    body.push_str(&page::heading(2, "all", "全部目标", "All targets"));
    body.push_str(
        "<table id=\"targets\"><thead><tr><th>指标<span class=\"en\">Metric</span></th>\
         <th>服务中心<span class=\"en\">Centre</span></th><th>服务<span class=\"en\">Service</span></th>\
         <th>生效日期<span class=\"en\">Valid from</span></th><th>目标<span class=\"en\">Target</span></th>\
         <th>说明<span class=\"en\">Note</span></th><th>设定时间<span class=\"en\">Set at (UTC)</span></th></tr></thead><tbody>",
    );
    if targets.0.is_empty() {
        body.push_str(
            "<tr><td colspan=\"7\" class=\"muted\">尚未设定目标 No targets yet</td></tr>",
        );
    }
    for t in &targets.0 {
        let metric = Metric::parse(&t.metric);
        let metric_text = metric.map_or_else(
            || t.metric.clone(),
            |m| format!("{} {}", m.name_zh(), m.name_en()),
        );
        let shown = metric.map_or_else(|| page::num(t.value), |m| m.show(t.value));
        let service = if t.service == "*" {
            "全部 All".to_owned()
        } else {
            page::service_label(&t.service)
        };
        let centre = if t.centre == "*" {
            "全部 All".to_owned()
        } else {
            t.centre.clone()
        };
        let _ = write!(
            body,
            "<tr class=\"target\" data-metric=\"{}\" data-centre=\"{}\" data-service=\"{}\" data-valid-from=\"{}\" data-value=\"{}\">\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"fig\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&t.metric),
            escape(&t.centre),
            escape(&t.service),
            t.valid_from,
            page::num(t.value),
            escape(&metric_text),
            escape(&centre),
            escape(&service),
            t.valid_from,
            escape(&shown),
            escape(&t.note),
            t.set_at.format("%Y-%m-%d %H:%M"),
        );
    }
    body.push_str("</tbody></table>");
    Ok(Html(page::shell(
        "改进目标",
        "Improvement targets",
        "/reports/targets",
        "",
        &body,
    ))
    .into_response())
}

fn target_form(centres: &[(String, String)]) -> String {
    let mut metrics = String::new();
    for m in Metric::ALL {
        let _ = write!(
            metrics,
            "<option value=\"{}\">{} {}</option>",
            m.code(),
            m.name_zh(),
            m.name_en()
        );
    }
    let mut centre_opts = String::from("<option value=\"*\">全部 All</option>");
    for (id, name) in centres {
        let _ = write!(
            centre_opts,
            "<option value=\"{}\">{} {}</option>",
            escape(id),
            escape(id),
            escape(name)
        );
    }
    let mut service_opts = String::from("<option value=\"*\">全部 All</option>");
    for t in ServiceType::ALL {
        let _ = write!(
            service_opts,
            "<option value=\"{}\">{} {}</option>",
            t.code(),
            t.name_zh(),
            t.name_en()
        );
    }
    let today = (Utc::now() + Duration::hours(8)).date_naive();
    format!(
        "<form class=\"target\" id=\"target-form\" method=\"post\" action=\"/reports/targets\">\
         <label>指标 Metric<select name=\"metric\" required>{metrics}</select></label>\
         <label>服务中心 Centre<select name=\"centre\">{centre_opts}</select></label>\
         <label>服务 Service<select name=\"service\">{service_opts}</select></label>\
         <label>生效日期 Valid from<input type=\"date\" name=\"valid_from\" value=\"{today}\" required></label>\
         <label>目标值 Target<input name=\"target\" inputmode=\"decimal\" required></label>\
         <label>说明 Note<input name=\"note\" maxlength=\"500\"></label>\
         <button type=\"submit\">保存 Save</button></form>"
    )
}

/// POST /reports/targets: sets (or replaces) one target, then back to the list.
pub(crate) async fn set(
    State(state): State<HqState>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Result<Response, ReportError> {
    let field = |k: &str| form.get(k).map(|s| s.trim()).unwrap_or("");
    let metric_s = field("metric");
    let metric = Metric::parse(metric_s).ok_or_else(|| {
        ReportError::bad(
            format!("未知的指标“{metric_s}”。"),
            format!(
                "Unknown metric “{metric_s}”. Use one of satisfaction_mean, response_p90_secs, \
                 service_p90_secs, within_promise_share, refunds_on_time_share."
            ),
        )
    })?;
    let centre = match field("centre") {
        "" => "*",
        c => c,
    };
    let service = match field("service") {
        "" => "*",
        s => s,
    };
    if service != "*" && service.parse::<ServiceType>().is_err() {
        return Err(ReportError::bad(
            format!("未知的服务类型“{service}”。"),
            format!(
                "Unknown service “{service}”. Use * or one of consultation, complaint, installation, repair, return_exchange."
            ),
        ));
    }
    let vf = field("valid_from");
    let valid_from = NaiveDate::parse_from_str(vf, "%Y-%m-%d").map_err(|_| {
        ReportError::bad(
            format!("生效日期“{vf}”无效：请用 年-月-日 格式。"),
            format!("The valid-from date “{vf}” is not valid: write it as YYYY-MM-DD."),
        )
    })?;
    let tv = field("target");
    let (lo, hi) = metric.range();
    let value = tv
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= lo && *v <= hi)
        .ok_or_else(|| {
            ReportError::bad(
                format!(
                    "目标值“{tv}”无效：{} 的目标应在 {lo} 与 {hi} 之间。",
                    metric.name_zh()
                ),
                format!(
                    "The target “{tv}” is not valid: a target for {} lies between {lo} and {hi}.",
                    metric.code()
                ),
            )
        })?;
    let note = field("note");
    if note.chars().count() > 500 {
        return Err(ReportError::bad(
            "说明过长（最多 500 个字符）。",
            "The note is too long (at most 500 characters).",
        ));
    }
    let db = state.pool.get().await?;
    if centre != "*" {
        let known = db
            .query_opt("SELECT 1 FROM centres WHERE centre_id = $1", &[&centre])
            .await?;
        if known.is_none() {
            return Err(ReportError::bad(
                format!("没有编号为“{centre}”的服务中心。"),
                format!("There is no centre “{centre}”."),
            ));
        }
    }
    // GB/T 9.2: one target per metric, centre, service and start date; setting it again
    // replaces the value and the note.
    db.execute(
        "INSERT INTO targets (centre_id, metric, service, valid_from, target, note, set_at) \
         VALUES ($1, $2, $3, $4, $5, $6, now()) \
         ON CONFLICT (centre_id, metric, service, valid_from) \
         DO UPDATE SET target = EXCLUDED.target, note = EXCLUDED.note, set_at = now()",
        &[
            &centre,
            &metric.code(),
            &service,
            &valid_from,
            &value,
            &note,
        ],
    )
    .await?;
    Ok(Redirect::to("/reports/targets?saved=1").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(centre: &str, service: &str, from: &str, value: f64) -> Target {
        Target {
            centre: centre.into(),
            metric: "satisfaction_mean".into(),
            service: service.into(),
            valid_from: NaiveDate::parse_from_str(from, "%Y-%m-%d").unwrap(),
            value,
            note: String::new(),
            set_at: Utc::now(),
        }
    }

    #[test]
    fn the_most_specific_target_valid_by_the_period_end_applies() {
        // GB/T 9.2
        let all = Targets(vec![
            t("*", "*", "2024-01-01", 4.0),
            t("*", "*", "2024-02-01", 4.1),
            t("*", "repair", "2024-01-01", 4.2),
            t("c1", "*", "2024-01-01", 4.3),
            t("c1", "repair", "2024-06-01", 4.4),
        ]);
        let on = NaiveDate::parse_from_str("2024-03-31", "%Y-%m-%d").unwrap();
        let m = Metric::SatisfactionMean;
        let v = |c, s| all.applicable(m, c, s, on).map(|t| t.value);
        assert_eq!(v(None, None), Some(4.1));
        assert_eq!(v(None, Some("repair")), Some(4.2));
        assert_eq!(v(Some("c2"), Some("repair")), Some(4.2));
        assert_eq!(
            v(Some("c1"), Some("repair")),
            Some(4.3),
            "4.4 is not valid yet"
        );
        assert_eq!(v(Some("c1"), None), Some(4.3));
        assert!(
            all.applicable(Metric::RefundsOnTimeShare, None, None, on)
                .is_none()
        );
    }

    #[test]
    fn lower_is_better_for_times() {
        let mut target = t("*", "*", "2024-01-01", 300.0);
        target.metric = "response_p90_secs".into();
        let m = Metric::ResponseP90Secs;
        assert_eq!(Verdict::of(m, Some(&target), Some(300.0)), Verdict::Met);
        assert_eq!(Verdict::of(m, Some(&target), Some(301.0)), Verdict::NotMet);
        assert_eq!(Verdict::of(m, Some(&target), None), Verdict::NoData);
        assert_eq!(Verdict::of(m, None, Some(1.0)), Verdict::NoTarget);
        let s = Metric::SatisfactionMean;
        let four = t("*", "*", "2024-01-01", 4.0);
        assert_eq!(Verdict::of(s, Some(&four), Some(3.99)), Verdict::NotMet);
    }
}
