//! Server-rendered HTML shared by the status page and the report pages: escaping and the
//! page shell (zh-CN first, mobile-first inline CSS, no scripts, no external resources).

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'`.
pub fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// The stylesheet every page carries inline.
pub const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font-family:system-ui,-apple-system,\"PingFang SC\",\"Noto Sans CJK SC\",\"Microsoft YaHei\",sans-serif;\
background:#f4f5f7;color:#1d2330;line-height:1.45}\
main{max-width:40rem;margin:0 auto;padding:1rem}\
h1{font-size:1.3rem;margin:.5rem 0 1rem}\
.en{display:block;color:#5b6475;font-size:.85em;font-weight:normal}\
.card{background:#fff;border-radius:.75rem;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}\
.big{font-size:3rem;font-weight:700;letter-spacing:.05em;text-align:center;margin:.25rem 0}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.6rem 1rem;margin:0}\
dt{color:#5b6475}dd{margin:0;font-weight:600}\
table{border-collapse:collapse;width:100%}th,td{padding:.4rem .5rem;border-bottom:1px solid #e3e6eb;text-align:left}\
th{color:#5b6475;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
.note{color:#5b6475;font-size:.85rem}\
@media (min-width:48rem){main{max-width:64rem;padding:2rem}}";

/// A whole page: `title` (plain text, escaped here) and `body` (HTML, already escaped).
/// `refresh_secs` adds a meta refresh.
pub fn page_with_refresh(title: &str, body: &str, refresh_secs: Option<u32>) -> String {
    let refresh = refresh_secs
        .map(|s| format!("<meta http-equiv=\"refresh\" content=\"{s}\">"))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n{refresh}\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n",
        escape(title)
    )
}

/// A whole page without refresh.
pub fn page(title: &str, body: &str) -> String {
    page_with_refresh(title, body, None)
}

/// Chinese text with its English beneath, both escaped.
pub fn zh_en(zh: &str, en: &str) -> String {
    format!("{}<span class=\"en\">{}</span>", escape(zh), escape(en))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
    }

    #[test]
    fn page_is_self_contained() {
        let p = page("T<1>", "<p>x</p>");
        assert!(p.contains("<meta name=\"viewport\""));
        assert!(p.contains("lang=\"zh-CN\""));
        assert!(p.contains("<title>T&lt;1&gt;</title>"));
        assert!(!p.contains("<script"));
        assert!(!p.contains("http://") && !p.contains("https://"));
    }
}
