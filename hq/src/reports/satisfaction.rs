//! GB/T 9.1.3: the satisfaction report from `ratings`: count, mean, the 1–5 distribution,
//! the 95% confidence interval of the mean (Student's t, n−1 degrees of freedom), the
//! previous period beside it, daily means and the breakdowns. Only reads.

use std::fmt::Write as _;

use axum::response::Response;

use super::error::ReportError;
use super::page::{self, col_td, count_figure, count_td, dec2, figure_td, num, opt_num};
use super::stats::{Interval, mean_ci};
use super::svg::{self, Bar};
use super::targets::{self, Metric};
use super::{CsvKey, Ctx, Figures, FiguresPage, Measure, PageInfo, filters, keyed_csv, local_date};

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

impl Measure for Sat {
    fn base() -> String {
        format!(
            "WITH base AS (SELECT r.centre_id, r.service, r.counter, r.staff_id, r.score, {} AS day \
             FROM ratings r LEFT JOIN centres c ON c.centre_id = r.centre_id WHERE {} AND {}) ",
            local_date("r.at"),
            filters("r.centre_id", "r.service", "r.counter", "r.staff_id"),
            super::around_period("r.at"),
        )
    }

    fn columns() -> String {
        "count(*)::int8, avg(score)::float8, stddev_samp(score)::float8, \
         count(*) FILTER (WHERE score = 1)::int8, count(*) FILTER (WHERE score = 2)::int8, \
         count(*) FILTER (WHERE score = 3)::int8, count(*) FILTER (WHERE score = 4)::int8, \
         count(*) FILTER (WHERE score = 5)::int8"
            .to_owned()
    }

    fn read(r: &tokio_postgres::Row) -> Result<Sat, ReportError> {
        Ok(Sat {
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
        })
    }

    /// The mean score of the day.
    fn daily_columns() -> String {
        "avg(score)::float8".to_owned()
    }

    fn daily(r: &tokio_postgres::Row) -> Result<Option<f64>, ReportError> {
        Ok(r.try_get(1)?)
    }
}

const METRIC: Metric = Metric::SatisfactionMean;

impl FiguresPage for Sat {
    const PAGE: PageInfo = PageInfo {
        path: "/reports/satisfaction",
        title_zh: "客户满意度",
        title_en: "Customer satisfaction (GB/T 9.1.3)",
        nav_zh: "客户满意度",
        nav_en: "Customer satisfaction",
    };

    fn render(r: &Figures<Sat>, ctx: &Ctx) -> String {
        render(r, ctx)
    }

    fn csv(r: &Figures<Sat>, ctx: &Ctx) -> Response {
        csv_of(r, ctx)
    }
}

fn ci_cells(id: &str, s: &Sat) -> String {
    match s.ci() {
        Some(ci) => format!(
            "{}{}",
            figure_td(&format!("{id}-ci-low"), &num(ci.low), &dec2(Some(ci.low))),
            figure_td(
                &format!("{id}-ci-high"),
                &num(ci.high),
                &dec2(Some(ci.high))
            ),
        ),
        None => format!(
            "<td id=\"{id}-ci-low\" class=\"muted\" data-value=\"\" colspan=\"1\">评价不足 Not enough ratings</td>\
             <td id=\"{id}-ci-high\" class=\"muted\" data-value=\"\">—</td>"
        ),
    }
}

fn render(r: &Figures<Sat>, ctx: &Ctx) -> String {
    let cur = r.total();
    let target = ctx.target::<Sat>(METRIC, None);
    let mut b = String::new();

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
        count_figure("sat-n", cur.n),
        figure_td("sat-mean", &opt_num(cur.mean), &dec2(cur.mean)),
        ci_cells("sat", &cur),
        targets::cells("sat-mean", METRIC, target, cur.mean),
        count_figure("sat-prev-n", r.prev.n),
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
            count_figure(&format!("sat-dist-{score}"), *count),
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
        targets::mark(METRIC, target),
    ));
    b.push_str("</div>");

    // Breakdowns.
    b.push_str(&page::heading(2, "h-breakdown", "分组统计", "Breakdowns"));
    let head = format!(
        "<th>评价数<span class=\"en\">Ratings</span></th><th>平均分<span class=\"en\">Mean</span></th>\
         <th>95% 置信区间<span class=\"en\">95% CI</span></th>{}",
        targets::HEAD
    );
    b.push_str(&super::breakdowns("sat", &r.groups, &ctx.centres, &head, |g| {
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
        format!(
            "{}{}{ci}{}",
            count_td("n", s.n),
            col_td("mean", &opt_num(s.mean), &dec2(s.mean)),
            targets::row_cells(METRIC, ctx.target(METRIC, Some(g)), s.mean),
        )
    }));
    b
}

fn csv_of(r: &Figures<Sat>, ctx: &Ctx) -> Response {
    let mut out = keyed_csv(&[
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
    let cur = r.total();
    let diff = cur.mean.zip(r.prev.mean).map(|(a, p)| a - p);
    let overlap = cur
        .ci()
        .zip(r.prev.ci())
        .map(|(a, p)| if a.overlaps(&p) { "true" } else { "false" });
    r.csv_lines(ctx.filter.period, |key: CsvKey<'_, Sat>, s, current| {
        let ci = s.ci();
        let mut fields = key.fields();
        fields.extend([
            s.n.to_string(),
            opt_num(s.mean),
            opt_num(s.sd),
            opt_num(ci.map(|c| c.low)),
            opt_num(ci.map(|c| c.high)),
        ]);
        fields.extend(s.dist.iter().map(i64::to_string));
        let target = if current {
            ctx.target(METRIC, key.group)
        } else {
            None
        };
        fields.extend(targets::csv_fields(METRIC, target, s.mean));
        // The comparison with the previous period, on the current total's row only.
        if current && key.group.is_none() {
            fields.extend([opt_num(diff), overlap.unwrap_or("").to_owned()]);
        } else {
            fields.extend([String::new(), String::new()]);
        }
        out.row(fields);
    });
    out.response("satisfaction.csv")
}
