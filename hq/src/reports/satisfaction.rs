//! GB/T 9.1.3: the satisfaction report from `ratings`: count, mean, the 1–5 distribution,
//! the 95% confidence interval of the mean (Student's t, n−1 degrees of freedom), the
//! previous period beside it, daily means and the breakdowns. Only reads.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use chrono::NaiveDate;
use deadpool_postgres::Client;

use super::csv::{self, Csv};
use super::error::ReportError;
use super::filter::{Filter, Period};
use super::page::{self, col_td, dec2, figure_td, num, opt_num};
use super::stats::{Interval, mean_ci};
use super::svg::{self, Bar};
use super::targets::{self, Metric, Targets, Verdict};
use super::{DIM_COLUMNS, Dim, GROUPING_SETS, Group, Q, begin, filters, local_date};
use crate::HqState;

#[derive(Debug, Clone, Default)]
pub(crate) struct Sat {
    pub(crate) n: i64,
    pub(crate) mean: Option<f64>,
    sd: Option<f64>,
    dist: [i64; 5],
}

impl Sat {
    /// GB/T 9.1.3: the 95% confidence interval of the mean (none below two ratings).
    fn ci(&self) -> Option<Interval> {
        mean_ci(self.n, self.mean?, self.sd?)
    }
}

fn base() -> String {
    format!(
        "WITH base AS (SELECT r.centre_id, r.service, r.counter, r.staff_id, r.score, {} AS day \
         FROM ratings r LEFT JOIN centres c ON c.centre_id = r.centre_id WHERE {} AND {}) ",
        local_date("r.at"),
        filters("r.centre_id", "r.service", "r.counter", "r.staff_id"),
        super::around_period("r.at"),
    )
}

/// The period's figures, whole and per breakdown.
pub(crate) async fn groups(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<Group<Sat>>, ReportError> {
    let sql = format!(
        "{}SELECT {DIM_COLUMNS}, count(*)::int8, avg(score)::float8, stddev_samp(score)::float8, \
         count(*) FILTER (WHERE score = 1)::int8, count(*) FILTER (WHERE score = 2)::int8, \
         count(*) FILTER (WHERE score = 3)::int8, count(*) FILTER (WHERE score = 4)::int8, \
         count(*) FILTER (WHERE score = 5)::int8 \
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
            stats: Sat {
                n: r.try_get(2)?,
                mean: r.try_get(3)?,
                sd: r.try_get(4)?,
                dist: [
                    r.try_get(5)?,
                    r.try_get(6)?,
                    r.try_get(7)?,
                    r.try_get(8)?,
                    r.try_get(9)?,
                ],
            },
        });
    }
    super::sort_groups(&mut out);
    Ok(out)
}

/// The mean score of each day of the period.
async fn trend(
    db: &Client,
    f: &Filter,
    period: Period,
) -> Result<Vec<(NaiveDate, Option<f64>)>, ReportError> {
    let sql = format!(
        "{}SELECT day, avg(score)::float8 FROM base WHERE day BETWEEN $5 AND $6 GROUP BY day",
        base()
    );
    let args = f.args(period);
    let rows = db.query(&sql, &args.refs()).await?;
    let mut by_day = std::collections::HashMap::new();
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
    groups: Vec<Group<Sat>>,
    prev: Sat,
    trend: Vec<(NaiveDate, Option<f64>)>,
    targets: Targets,
    centres: Vec<(String, String)>,
}

impl Report {
    fn target(&self, centre: Option<&str>, service: Option<&str>) -> Option<&targets::Target> {
        self.targets.applicable(
            Metric::SatisfactionMean,
            centre,
            service,
            self.filter.period.to,
        )
    }

    fn headline_target(&self) -> Option<&targets::Target> {
        self.target(
            self.filter.centre.as_deref(),
            self.filter.service.map(domain::ServiceType::code),
        )
    }

    /// The target for a breakdown row (centre and service rows have their own).
    fn row_target(&self, g: &Group<Sat>) -> Option<&targets::Target> {
        let centre = self.filter.centre.as_deref();
        let service = self.filter.service.map(domain::ServiceType::code);
        match g.dim {
            Dim::Centre => self.target(g.key.as_deref(), service),
            Dim::Service => self.target(centre, g.key.as_deref()),
            _ => self.target(centre, service),
        }
    }
}

async fn load(
    state: &HqState,
    q: &std::collections::HashMap<String, String>,
    csv_path: bool,
) -> Result<Report, ReportError> {
    let (db, filter) = begin(state, q, csv_path).await?;
    let groups = groups(&db, &filter, filter.period).await?;
    let prev = super::total(&groups_total(&db, &filter).await?);
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

/// The previous period's groups (only its total is shown).
async fn groups_total(db: &Client, f: &Filter) -> Result<Vec<Group<Sat>>, ReportError> {
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

fn ci_cells(id: &str, s: &Sat) -> String {
    match s.ci() {
        Some(ci) => format!(
            "{}{}",
            figure_td(
                &format!("{id}-ci-low"),
                &num(ci.low),
                &format!("{:.2}", ci.low)
            ),
            figure_td(
                &format!("{id}-ci-high"),
                &num(ci.high),
                &format!("{:.2}", ci.high)
            ),
        ),
        None => format!(
            "<td id=\"{id}-ci-low\" class=\"muted\" data-value=\"\" colspan=\"1\">评价不足 Not enough ratings</td>\
             <td id=\"{id}-ci-high\" class=\"muted\" data-value=\"\">—</td>"
        ),
    }
}

fn render(r: &Report) -> String {
    let f = &r.filter;
    let cur = super::total(&r.groups);
    let target = r.headline_target();
    let mut b = page::heading(
        1,
        "title",
        "客户满意度",
        "Customer satisfaction (GB/T 9.1.3)",
    );
    b.push_str(&page::filter_form("/reports/satisfaction", f, &r.centres));
    b.push_str(&page::period_line(f, &f.csv_href("/reports/satisfaction")));

    // The headline: this period, the previous one, the target.
    b.push_str(&page::heading(2, "h-summary", "汇总", "Summary"));
    let _ = write!(
        b,
        "<table id=\"sat-summary\"><thead><tr><th></th><th>评价数<span class=\"en\">Ratings</span></th>\
         <th>平均分<span class=\"en\">Mean (1–5)</span></th><th>95% 置信下限<span class=\"en\">95% CI low</span></th>\
         <th>95% 置信上限<span class=\"en\">95% CI high</span></th>{}</tr></thead><tbody>\
         <tr><th scope=\"row\">本期<span class=\"en\">This period</span></th>{}{}{}{}</tr>\
         <tr><th scope=\"row\">上一期<span class=\"en\">Previous period</span></th>{}{}{}<td></td><td></td></tr></tbody></table>",
        targets::HEAD,
        figure_td("sat-n", &cur.n.to_string(), &cur.n.to_string()),
        figure_td("sat-mean", &opt_num(cur.mean), &dec2(cur.mean)),
        ci_cells("sat", &cur),
        targets::cells("sat-mean", Metric::SatisfactionMean, target, cur.mean),
        figure_td("sat-prev-n", &r.prev.n.to_string(), &r.prev.n.to_string()),
        figure_td("sat-prev-mean", &opt_num(r.prev.mean), &dec2(r.prev.mean)),
        ci_cells("sat-prev", &r.prev),
    );
    // The comparison with the previous period.
    let diff = cur.mean.zip(r.prev.mean).map(|(a, p)| a - p);
    let overlap = cur.ci().zip(r.prev.ci()).map(|(a, p)| a.overlaps(&p));
    let overlap_text = match overlap {
        Some(true) => "重叠（差异不显著） Overlap (no clear difference)",
        Some(false) => "不重叠（差异明显） Do not overlap (a clear difference)",
        None => "无法比较（评价不足） Cannot compare (not enough ratings)",
    };
    let _ = write!(
        b,
        "<table id=\"sat-compare\"><tbody><tr><th scope=\"row\">与上一期之差<span class=\"en\">Difference from the previous period</span></th>{}</tr>\
         <tr><th scope=\"row\">置信区间是否重叠<span class=\"en\">Do the intervals overlap?</span></th>\
         <td id=\"sat-overlap\" data-value=\"{}\">{}</td></tr></tbody></table>",
        figure_td(
            "sat-diff",
            &opt_num(diff),
            &diff.map_or_else(|| "—".to_owned(), |d| format!("{d:+.2}"))
        ),
        overlap.map_or("", |o| if o { "true" } else { "false" }),
        overlap_text,
    );
    b.push_str(
        "<p class=\"note\" id=\"sat-method\" data-method=\"t\">95% 置信区间按 t 分布计算：平均分 ± t(0.975, n−1)·s/√n，\
         s 为样本标准差；少于 2 条评价时不计算；区间按公式给出，可能超出 1–5。<br>The 95% confidence interval uses Student's t: \
         mean ± t(0.975, n−1)·s/√n with s the sample standard deviation; it needs at least 2 ratings and is shown as computed, so it may reach beyond 1–5.</p>",
    );

    // Distribution and charts.
    b.push_str(&page::heading(
        2,
        "h-dist",
        "评分分布",
        "Distribution of scores",
    ));
    b.push_str("<table id=\"sat-dist\"><thead><tr><th>分数<span class=\"en\">Score</span></th>\
                <th>条数<span class=\"en\">Count</span></th><th>占比<span class=\"en\">Share</span></th></tr></thead><tbody>");
    let mut bars = Vec::new();
    for (i, count) in cur.dist.iter().enumerate() {
        let score = i + 1;
        let share = (cur.n > 0).then(|| *count as f64 / cur.n as f64);
        let _ = write!(
            b,
            "<tr><th scope=\"row\">{score}</th>{}{}</tr>",
            figure_td(
                &format!("sat-dist-{score}"),
                &count.to_string(),
                &count.to_string()
            ),
            figure_td(
                &format!("sat-share-{score}"),
                &opt_num(share),
                &page::pct(share)
            ),
        );
        bars.push(Bar {
            label: score.to_string(),
            value: Some(*count as f64),
            text: count.to_string(),
        });
    }
    b.push_str("</tbody></table><div class=\"charts\">");
    b.push_str(&svg::bar_chart(
        "chart-sat-dist",
        "评分分布",
        "Ratings by score",
        &bars,
        None,
        None,
    ));
    b.push_str(&svg::line_chart(
        "chart-sat-trend",
        "每日平均分",
        "Daily mean score",
        &r.trend,
        Some(5.0),
        target.map(|t| (t.value, format!("{:.2}", t.value))),
    ));
    b.push_str("</div>");

    // Breakdowns.
    b.push_str(&page::heading(2, "h-breakdown", "分组统计", "Breakdowns"));
    let head = format!(
        "<th>评价数<span class=\"en\">Ratings</span></th><th>平均分<span class=\"en\">Mean</span></th>\
         <th>95% 置信区间<span class=\"en\">95% CI</span></th>{}",
        targets::HEAD
    );
    b.push_str(&super::breakdowns("sat", &r.groups, &r.centres, &head, |g| {
        let s = &g.stats;
        let ci = match s.ci() {
            Some(ci) => format!(
                "<td class=\"fig\" data-col=\"ci\" data-low=\"{}\" data-high=\"{}\">{:.2} – {:.2}</td>",
                num(ci.low),
                num(ci.high),
                ci.low,
                ci.high
            ),
            None => "<td class=\"muted\" data-col=\"ci\" data-low=\"\" data-high=\"\">评价不足 Not enough ratings</td>".to_owned(),
        };
        let t = r.row_target(g);
        let v = Verdict::of(Metric::SatisfactionMean, t, s.mean);
        format!(
            "{}{}{ci}<td class=\"fig\" data-col=\"target\" data-value=\"{}\">{}</td>{}",
            col_td("n", &s.n.to_string(), &s.n.to_string()),
            col_td("mean", &opt_num(s.mean), &dec2(s.mean)),
            t.map(|t| num(t.value)).unwrap_or_default(),
            t.map_or_else(|| "—".to_owned(), |t| format!("{:.2}", t.value)),
            targets::met_td(v),
        )
    }));
    page::shell(
        "客户满意度",
        "Customer satisfaction",
        "/reports/satisfaction",
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
        "n",
        "mean",
        "sd",
        "ci95_low",
        "ci95_high",
        "score_1",
        "score_2",
        "score_3",
        "score_4",
        "score_5",
        "target",
        "target_met",
        "diff_vs_previous",
        "ci_overlap_previous",
    ]);
    let cur = super::total(&r.groups);
    let period = r.filter.period;
    let prev_period = period.previous();
    let diff = cur.mean.zip(r.prev.mean).map(|(a, p)| a - p);
    let overlap = cur
        .ci()
        .zip(r.prev.ci())
        .map(|(a, p)| if a.overlaps(&p) { "true" } else { "false" });
    let mut line = |label: &str,
                    p: Period,
                    dim: Dim,
                    key: Option<&str>,
                    s: &Sat,
                    target: Option<&targets::Target>,
                    extra: [String; 2]| {
        let ci = s.ci();
        let mut fields = vec![
            label.to_owned(),
            page::date(p.from),
            page::date(p.to),
            dim.code().to_owned(),
            csv::text(key.unwrap_or("")),
            s.n.to_string(),
            opt_num(s.mean),
            opt_num(s.sd),
            opt_num(ci.map(|c| c.low)),
            opt_num(ci.map(|c| c.high)),
        ];
        fields.extend(s.dist.iter().map(i64::to_string));
        match target {
            Some(t) => {
                fields.push(num(t.value));
                fields.push(
                    Verdict::of(Metric::SatisfactionMean, Some(t), s.mean)
                        .code()
                        .to_owned(),
                );
            }
            None => fields.extend([String::new(), String::new()]),
        }
        fields.extend(extra);
        out.row(fields);
    };
    line(
        "current",
        period,
        Dim::All,
        None,
        &cur,
        r.headline_target(),
        [opt_num(diff), overlap.unwrap_or("").to_owned()],
    );
    line(
        "previous",
        prev_period,
        Dim::All,
        None,
        &r.prev,
        None,
        [String::new(), String::new()],
    );
    for g in r.groups.iter().filter(|g| g.dim != Dim::All) {
        line(
            "current",
            period,
            g.dim,
            g.key.as_deref(),
            &g.stats,
            r.row_target(g),
            [String::new(), String::new()],
        );
    }
    out.response("satisfaction.csv")
}
