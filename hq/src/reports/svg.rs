//! The report charts as inline SVG drawn on the server: a bar chart (rating distribution,
//! quantiles, shares) and a daily trend line, each with an optional dashed target line.
//! Every bar and point carries `data-*` attributes so a test can read the figure back.
//! Never scripts, never fetches anything.

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::page::{escape, num};

/// One bar: its label under the axis, its value and the text shown above it.
#[derive(Debug, Clone)]
pub(crate) struct Bar {
    pub(crate) label: String,
    pub(crate) value: Option<f64>,
    pub(crate) text: String,
}

const W: f64 = 380.0;
const H: f64 = 210.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 18.0;
const BOTTOM: f64 = 34.0;

fn figure(id: &str, zh: &str, en: &str, width: f64, inner: &str) -> String {
    format!(
        "<figure id=\"{id}\"><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         aria-label=\"{en}\" width=\"{width}\" height=\"{H}\" viewBox=\"0 0 {width} {H}\" \
         font-size=\"11\" font-family=\"sans-serif\"><title>{zh} {en}</title>{inner}</svg>\
         <figcaption>{zh}<br>{en}</figcaption></figure>",
        id = escape(id),
        zh = escape(zh),
        en = escape(en),
    )
}

/// A sensible top of the value axis: the largest of the values and the target, with a
/// little headroom, never zero.
fn axis_top(values: impl Iterator<Item = f64>, target: Option<f64>) -> f64 {
    let max = values
        .chain(target)
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    if max <= 0.0 { 1.0 } else { max * 1.1 }
}

/// The value at the top of the y axis, short enough for the margin (no decimals past 100).
fn axis_label(top: f64) -> String {
    if top >= 100.0 {
        format!("{top:.0}")
    } else if top >= 10.0 {
        num((top * 10.0).round() / 10.0)
    } else {
        num((top * 100.0).round() / 100.0)
    }
}

fn axes(out: &mut String, width: f64, top_label: &str) {
    let bottom = H - BOTTOM;
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\" stroke=\"#8a949e\"/>\
         <line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{x2}\" y2=\"{bottom}\" stroke=\"#8a949e\"/>\
         <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" fill=\"#55606d\">{top}</text>\
         <text x=\"{lx}\" y=\"{by}\" text-anchor=\"end\" fill=\"#55606d\">0</text>",
        x2 = width - RIGHT,
        lx = LEFT - 4.0,
        ty = TOP + 4.0,
        by = bottom,
        top = escape(top_label),
    );
}

fn target_line(out: &mut String, width: f64, y: f64, label: &str, value: f64) {
    let _ = write!(
        out,
        "<line class=\"target\" data-value=\"{v}\" x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2}\" y2=\"{y:.1}\" \
         stroke=\"#a4161a\" stroke-dasharray=\"5 3\"/>\
         <text x=\"{x2}\" y=\"{ty:.1}\" text-anchor=\"end\" fill=\"#a4161a\">- - 目标 target {l}</text>",
        v = num(value),
        x2 = width - RIGHT,
        ty = TOP - 6.0,
        l = escape(label),
    );
}

/// A vertical bar chart. `top` fixes the value axis' top (else it follows the data).
pub(crate) fn bar_chart(
    id: &str,
    zh: &str,
    en: &str,
    bars: &[Bar],
    top: Option<f64>,
    target: Option<(f64, String)>,
) -> String {
    let width = W;
    let top = top.unwrap_or_else(|| {
        axis_top(
            bars.iter().filter_map(|b| b.value),
            target.as_ref().map(|t| t.0),
        )
    });
    let plot_h = H - TOP - BOTTOM;
    let plot_w = width - LEFT - RIGHT;
    let y_of = |v: f64| TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0));
    let mut inner = String::new();
    axes(&mut inner, width, &axis_label(top));
    let n = bars.len().max(1) as f64;
    let slot = plot_w / n;
    let bar_w = (slot * 0.6).max(2.0);
    for (i, b) in bars.iter().enumerate() {
        let x = LEFT + slot * i as f64 + (slot - bar_w) / 2.0;
        let cx = x + bar_w / 2.0;
        let v = b.value.unwrap_or(0.0);
        let y = y_of(v);
        let h = (H - BOTTOM - y).max(0.0);
        let _ = write!(
            inner,
            "<rect class=\"bar\" data-label=\"{label}\" data-value=\"{dv}\" x=\"{x:.1}\" y=\"{y:.1}\" \
             width=\"{bar_w:.1}\" height=\"{h:.1}\" fill=\"#2f6fb0\"><title>{label}: {text}</title></rect>\
             <text x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\" fill=\"#1d2733\">{text}</text>\
             <text x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\" fill=\"#55606d\">{label}</text>",
            label = escape(&b.label),
            dv = b.value.map(num).unwrap_or_default(),
            text = escape(&b.text),
            ty = y - 3.0,
            ly = H - BOTTOM + 14.0,
        );
    }
    if let Some((t, label)) = target {
        target_line(&mut inner, width, y_of(t), &label, t);
    }
    figure(id, zh, en, width, &inner)
}

/// A daily trend line over `days` (a gap where a day has no value).
pub(crate) fn line_chart(
    id: &str,
    zh: &str,
    en: &str,
    days: &[(NaiveDate, Option<f64>)],
    top: Option<f64>,
    target: Option<(f64, String)>,
) -> String {
    let width = 560.0;
    let top = top.unwrap_or_else(|| {
        axis_top(
            days.iter().filter_map(|(_, v)| *v),
            target.as_ref().map(|t| t.0),
        )
    });
    let plot_h = H - TOP - BOTTOM;
    let plot_w = width - LEFT - RIGHT;
    let y_of = |v: f64| TOP + plot_h * (1.0 - (v / top).clamp(0.0, 1.0));
    let step = if days.len() > 1 {
        plot_w / (days.len() - 1) as f64
    } else {
        0.0
    };
    let x_of = |i: usize| {
        if days.len() > 1 {
            LEFT + step * i as f64
        } else {
            LEFT + plot_w / 2.0
        }
    };
    let mut inner = String::new();
    axes(&mut inner, width, &axis_label(top));
    let mut path = String::new();
    let mut pen_down = false;
    let mut points = String::new();
    for (i, (day, v)) in days.iter().enumerate() {
        match v {
            Some(v) => {
                let (x, y) = (x_of(i), y_of(*v));
                let _ = write!(path, "{}{x:.1} {y:.1} ", if pen_down { "L" } else { "M" });
                pen_down = true;
                let _ = write!(
                    points,
                    "<circle class=\"point\" data-date=\"{day}\" data-value=\"{dv}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\" fill=\"#2f6fb0\"><title>{day}: {dv}</title></circle>",
                    dv = num(*v),
                );
            }
            None => pen_down = false,
        }
    }
    if path.is_empty() {
        let _ = write!(
            inner,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" fill=\"#6b7580\">无数据 no data</text>",
            x = LEFT + plot_w / 2.0,
            y = TOP + plot_h / 2.0
        );
    } else {
        let _ = write!(
            inner,
            "<path d=\"{}\" fill=\"none\" stroke=\"#2f6fb0\" stroke-width=\"1.5\"/>{points}",
            path.trim_end()
        );
    }
    if let (Some((first, _)), Some((last, _))) = (days.first(), days.last()) {
        let _ = write!(
            inner,
            "<text x=\"{LEFT}\" y=\"{y:.1}\" fill=\"#55606d\">{first}</text>\
             <text x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"end\" fill=\"#55606d\">{last}</text>",
            y = H - BOTTOM + 14.0,
            x = width - RIGHT,
        );
    }
    if let Some((t, label)) = target {
        target_line(&mut inner, width, y_of(t), &label, t);
    }
    figure(id, zh, en, width, &inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_carry_their_values_and_labels_are_escaped() {
        let svg = bar_chart(
            "c",
            "分布",
            "Distribution",
            &[
                Bar {
                    label: "<1>".into(),
                    value: Some(2.0),
                    text: "2".into(),
                },
                Bar {
                    label: "2".into(),
                    value: None,
                    text: "—".into(),
                },
            ],
            None,
            Some((1.5, "1.5".into())),
        );
        assert!(svg.contains("data-label=\"&lt;1&gt;\" data-value=\"2\""));
        assert!(svg.contains("data-label=\"2\" data-value=\"\""));
        assert!(svg.contains("class=\"target\" data-value=\"1.5\""));
        assert!(!svg.contains("<script"));
    }

    #[test]
    fn a_trend_line_breaks_where_a_day_has_no_value() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let svg = line_chart(
            "t",
            "趋势",
            "Trend",
            &[
                (d("2024-03-01"), Some(1.0)),
                (d("2024-03-02"), None),
                (d("2024-03-03"), Some(2.0)),
            ],
            None,
            None,
        );
        assert_eq!(svg.matches("class=\"point\"").count(), 2);
        let d_attr = svg
            .split("<path d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(d_attr.matches('M').count(), 2, "{d_attr}");
        assert!(svg.contains("data-date=\"2024-03-03\" data-value=\"2\""));
    }
}
