//! The report pages' HTML pieces: the shell with its inline style sheet, the navigation,
//! the filter form, number formats, escaping and query-string building. Server-rendered
//! text only: never a script, never a resource from another host.

use std::fmt::Write as _;

use chrono::NaiveDate;
use domain::ServiceType;

use super::filter::Filter;

/// Text for an HTML element or a quoted attribute value (the crate's one escaper).
pub(crate) use crate::html::escape;

/// Percent-encodes one query-string component (RFC 3986 unreserved characters stay).
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A query string from pairs, `?a=1&b=2`, or the empty string.
pub(crate) fn query_string(pairs: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(&url_encode(k));
        out.push('=');
        out.push_str(&url_encode(v));
    }
    out
}

/// The machine form of a figure (`data-value`, CSV): up to six decimals, no trailing zeros.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return String::new();
    }
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

/// `num` for an optional figure (empty when absent).
pub(crate) fn opt_num(x: Option<f64>) -> String {
    x.map(num).unwrap_or_default()
}

/// A share as a percentage for people, `87.5%`.
pub(crate) fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

/// Two decimals for people.
pub(crate) fn dec2(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), |v| format!("{v:.2}"))
}

/// Seconds for people: `45 s`, `3 min 05 s`, `2 h 10 min`.
pub(crate) fn secs(x: Option<f64>) -> String {
    let Some(v) = x else {
        return "—".to_owned();
    };
    let total = v.round() as i64;
    if total < 60 {
        format!("{total} s")
    } else if total < 3600 {
        format!("{} min {:02} s", total / 60, total % 60)
    } else {
        format!("{} h {:02} min", total / 3600, (total % 3600) / 60)
    }
}

/// Fen as yuan, `¥12.30`.
pub(crate) fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", a / 100, a % 100)
}

/// A cell carrying a figure: `<td id=".." data-value="..">text</td>`.
pub(crate) fn figure_td(id: &str, value: &str, text: &str) -> String {
    format!(
        "<td id=\"{}\" class=\"fig\" data-value=\"{}\">{}</td>",
        escape(id),
        escape(value),
        escape(text)
    )
}

/// A breakdown-table cell: `<td data-col=".." data-value="..">text</td>`.
pub(crate) fn col_td(col: &str, value: &str, text: &str) -> String {
    format!(
        "<td class=\"fig\" data-col=\"{}\" data-value=\"{}\">{}</td>",
        escape(col),
        escape(value),
        escape(text)
    )
}

/// `figure_td` for a count.
pub(crate) fn count_figure(id: &str, n: i64) -> String {
    let n = n.to_string();
    figure_td(id, &n, &n)
}

/// `col_td` for a count.
pub(crate) fn count_td(col: &str, n: i64) -> String {
    let n = n.to_string();
    col_td(col, &n, &n)
}

/// A bilingual heading: Chinese first, English beneath.
pub(crate) fn heading(level: u8, id: &str, zh: &str, en: &str) -> String {
    let level = level.clamp(1, 4);
    format!(
        "<h{level} id=\"{}\">{}<span class=\"en\">{}</span></h{level}>",
        escape(id),
        escape(zh),
        escape(en)
    )
}

/// A bilingual label for one service code (the code itself when unknown).
pub(crate) fn service_label(code: &str) -> String {
    match code.parse::<ServiceType>() {
        Ok(t) => format!("{} {}", t.name_zh(), t.name_en()),
        Err(_) => code.to_owned(),
    }
}

const STYLE: &str = r#"
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
header{background:#0b4f8a;color:#fff;padding:.6rem 1.2rem}
header a{color:#fff;margin-right:1rem;text-decoration:none;font-size:.95rem}
header a.here{text-decoration:underline}
main{padding:1rem 1.2rem;max-width:78rem}
h1,h2,h3{margin:1.2rem 0 .5rem;font-weight:600}
h1 .en,h2 .en,h3 .en{display:block;font-size:.62em;font-weight:400;color:#55606d}
table{border-collapse:collapse;margin:.4rem 0 1rem;background:#fff}
th,td{border:1px solid #d5dae0;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#eef1f4;font-weight:600;word-break:keep-all}
th .en{display:block;font-weight:400;font-size:.8em;color:#55606d}
td.fig{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.met{color:#146c2e;font-weight:600}.notmet{color:#a4161a;font-weight:600}.muted{color:#6b7580}
form.filters{display:flex;flex-wrap:wrap;gap:.6rem;align-items:end;background:#fff;padding:.6rem;border:1px solid #d5dae0}
form.filters label,form.target label{display:flex;flex-direction:column;font-size:.85rem}
form.target{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:.6rem;background:#fff;padding:.6rem;border:1px solid #d5dae0}
input,select,button{font:inherit;padding:.25rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}
.charts figure{margin:0;background:#fff;border:1px solid #d5dae0;padding:.4rem}
figcaption{font-size:.85rem;color:#55606d}
.note{font-size:.85rem;color:#55606d;max-width:60rem}
.error{border-left:4px solid #a4161a;background:#fff;padding:.8rem 1rem}
@media print{header,form.filters,.csv{display:none}body{background:#fff}}
"#;

/// The pages in the navigation: path, Chinese, English.
const NAV: [(&str, &str, &str); 6] = [
    ("/reports", "总览", "Overview"),
    ("/reports/satisfaction", "满意度", "Satisfaction"),
    ("/reports/response", "响应时间", "Response time"),
    ("/reports/requests", "时限内办结", "Within promised time"),
    ("/reports/refunds", "退款时效", "Refunds"),
    ("/reports/targets", "改进目标", "Targets"),
];

/// A whole report page: the shell, the navigation (keeping the filter) and the body.
pub(crate) fn shell(title_zh: &str, title_en: &str, here: &str, keep: &str, body: &str) -> String {
    let mut nav = String::new();
    for (path, zh, en) in NAV {
        let class = if path == here { " class=\"here\"" } else { "" };
        let _ = write!(
            nav,
            "<a href=\"{}{}\"{class}>{zh} {en}</a>",
            path,
            escape(keep)
        );
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} {} · servicehall</title><style>{STYLE}</style></head>\
         <body><header><nav>{nav}</nav></header><main>{body}</main></body></html>\n",
        escape(title_zh),
        escape(title_en)
    )
}

/// The filter form every report page shows (GET, so a report is a link).
pub(crate) fn filter_form(action: &str, f: &Filter, centres: &[(String, String)]) -> String {
    let mut centre_opts = String::from("<option value=\"\">全部 All</option>");
    for (id, name) in centres {
        let sel = if f.centre.as_deref() == Some(id.as_str()) {
            " selected"
        } else {
            ""
        };
        let label = if name.is_empty() {
            id.clone()
        } else {
            format!("{id} {name}")
        };
        let _ = write!(
            centre_opts,
            "<option value=\"{}\"{sel}>{}</option>",
            escape(id),
            escape(&label)
        );
    }
    let mut service_opts = String::from("<option value=\"\">全部 All</option>");
    for t in ServiceType::ALL {
        let sel = if f.service == Some(t) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            service_opts,
            "<option value=\"{}\"{sel}>{} {}</option>",
            t.code(),
            t.name_zh(),
            t.name_en()
        );
    }
    let counter = f.counter.map(|c| c.to_string()).unwrap_or_default();
    let staff = f.staff.clone().unwrap_or_default();
    format!(
        "<form class=\"filters\" method=\"get\" action=\"{action}\">\
         <label>服务中心 Centre<select name=\"centre\" id=\"f-centre\">{centre_opts}</select></label>\
         <label>服务类型 Service<select name=\"service\" id=\"f-service\">{service_opts}</select></label>\
         <label>窗口 Counter<input name=\"counter\" id=\"f-counter\" inputmode=\"numeric\" size=\"5\" value=\"{}\"></label>\
         <label>员工 Staff<input name=\"staff\" id=\"f-staff\" size=\"10\" value=\"{}\"></label>\
         <label>起 From<input type=\"date\" name=\"from\" id=\"f-from\" value=\"{}\"></label>\
         <label>止 To<input type=\"date\" name=\"to\" id=\"f-to\" value=\"{}\"></label>\
         <button type=\"submit\">查询 Show</button></form>",
        escape(&counter),
        escape(&staff),
        f.period.from,
        f.period.to
    )
}

/// The top of a report page at `path`: its title, the filter form and the period line
/// with the CSV link.
pub(crate) fn top(
    path: &str,
    zh: &str,
    en: &str,
    f: &Filter,
    centres: &[(String, String)],
) -> String {
    let mut b = heading(1, "title", zh, en);
    b.push_str(&filter_form(path, f, centres));
    b.push_str(&period_line(f, &f.csv_href(path)));
    b
}

/// The line under a report's title: the period, the previous period and the CSV link.
pub(crate) fn period_line(f: &Filter, csv_href: &str) -> String {
    let prev = f.period.previous();
    format!(
        "<p class=\"note\">统计期 Period: <span id=\"period\" data-from=\"{}\" data-to=\"{}\">{} – {}</span> \
         ({} 天 days) · 上一期 previous period: <span id=\"prev-period\" data-from=\"{}\" data-to=\"{}\">{} – {}</span> \
         · <a class=\"csv\" id=\"csv-link\" href=\"{}\">CSV 导出 export</a></p>",
        f.period.from,
        f.period.to,
        f.period.from,
        f.period.to,
        f.period.days(),
        prev.from,
        prev.to,
        prev.from,
        prev.to,
        escape(csv_href)
    )
}

/// A date for people and machines alike (ISO 8601).
pub(crate) fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_machines_have_no_trailing_zeros() {
        assert_eq!(num(4.25), "4.25");
        assert_eq!(num(4.0), "4");
        assert_eq!(num(0.1 + 0.2), "0.3");
        assert_eq!(num(-0.0000001), "0");
        assert_eq!(num(f64::NAN), "");
    }

    #[test]
    fn query_components_are_percent_encoded() {
        assert_eq!(url_encode("a b&c=d/中"), "a%20b%26c%3Dd%2F%E4%B8%AD");
        assert_eq!(
            query_string(&[("centre", "x y".into()), ("from", "2024-01-01".into())]),
            "?centre=x%20y&from=2024-01-01"
        );
    }

    #[test]
    fn durations_and_money_read_naturally() {
        assert_eq!(secs(Some(45.4)), "45 s");
        assert_eq!(secs(Some(185.0)), "3 min 05 s");
        assert_eq!(secs(Some(7800.0)), "2 h 10 min");
        assert_eq!(yuan(1230), "¥12.30");
        assert_eq!(yuan(-5), "-¥0.05");
    }
}
