//! CSV export of the reports (RFC 4180): a header row, CRLF line ends, fields quoted when
//! they hold a comma, quote or line break, quotes doubled. Free text that a spreadsheet
//! would take for a formula is prefixed with an apostrophe. Never reads the database.

use axum::http::header;
use axum::response::{IntoResponse, Response};

#[derive(Debug, Default)]
pub(crate) struct Csv {
    out: String,
}

/// One field as written: quoted when it must be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// Free text (names, notes, ids): a leading `=`, `+`, `-`, `@`, tab or CR would make a
/// spreadsheet run it as a formula, so such text gets a leading apostrophe.
pub(crate) fn text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

impl Csv {
    pub(crate) fn new(header: &[&str]) -> Csv {
        let mut c = Csv::default();
        c.row(header.iter().copied());
        c
    }

    pub(crate) fn row<I, S>(&mut self, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut first = true;
        for f in fields {
            if !first {
                self.out.push(',');
            }
            first = false;
            self.out.push_str(&field(f.as_ref()));
        }
        self.out.push_str("\r\n");
    }

    /// The response: `text/csv; charset=utf-8`, offered as a file named `name`.
    pub(crate) fn response(self, name: &str) -> Response {
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{name}\""),
                ),
            ],
            self.out,
        )
            .into_response()
    }

    #[cfg(test)]
    fn as_str(&self) -> &str {
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_quoting() {
        let mut c = Csv::new(&["a", "b"]);
        c.row(["plain", "with,comma"]);
        c.row(["say \"hi\"", "two\nlines"]);
        c.row([text("=SUM(A1)").as_str(), "中文"]);
        assert_eq!(
            c.as_str(),
            "a,b\r\nplain,\"with,comma\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n'=SUM(A1),中文\r\n"
        );
    }
}
