//! CSV export of the reports (RFC 4180), written by the `csv` crate: UTF-8, a header row,
//! CRLF line ends, fields quoted when they hold a comma, quote or line break, quotes
//! doubled. Free text that a spreadsheet would take for a formula is prefixed with an
//! apostrophe. Never reads the database.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub(crate) struct Csv {
    out: csv::Writer<Vec<u8>>,
    /// The first write the writer refused (it writes to memory, so never in practice).
    failed: Option<csv::Error>,
}

impl std::fmt::Debug for Csv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Csv")
            .field("bytes", &self.out.get_ref().len())
            .field("failed", &self.failed)
            .finish()
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

/// What every export starts with.
pub(crate) const BOM: &str = "\u{feff}";

impl Csv {
    pub(crate) fn new(header: &[&str]) -> Csv {
        let out = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            // Rows are checked by the reports, not here.
            .flexible(true)
            // A UTF-8 byte-order mark first: without it Excel opens Chinese as mojibake.
            .from_writer(BOM.as_bytes().to_vec());
        let mut c = Csv { out, failed: None };
        c.row(header.iter().copied());
        c
    }

    pub(crate) fn row<I, S>(&mut self, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut written = Ok(());
        for f in fields {
            written = written.and_then(|()| self.out.write_field(f.as_ref()));
        }
        // An empty record ends the row.
        written = written.and_then(|()| self.out.write_record(None::<&[u8]>));
        if let Err(e) = written {
            self.failed.get_or_insert(e);
        }
    }

    fn into_bytes(self) -> Result<Vec<u8>, csv::Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        self.out.into_inner().map_err(|e| e.into_error().into())
    }

    /// The response: `text/csv; charset=utf-8`, offered as a file named `name`.
    pub(crate) fn response(self, name: &str) -> Response {
        match self.into_bytes() {
            Ok(body) => (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"{name}\""),
                    ),
                ],
                body,
            )
                .into_response(),
            Err(e) => {
                tracing::warn!("CSV export {name}: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "CSV export failed").into_response()
            }
        }
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
        c.row(["", "\rcr"]);
        assert_eq!(
            String::from_utf8(c.into_bytes().unwrap()).unwrap(),
            "\u{feff}a,b\r\nplain,\"with,comma\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n\
             '=SUM(A1),中文\r\n,\"\rcr\"\r\n"
        );
    }

    #[test]
    fn formulas_get_an_apostrophe_and_plain_text_does_not() {
        for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(text(s), format!("'{s}"));
        }
        for s in ["1", "a=b", "浦东", ""] {
            assert_eq!(text(s), s);
        }
    }

    #[test]
    fn a_spreadsheet_reads_back_what_was_written() {
        let fields = [
            "plain",
            "with,comma",
            "say \"hi\"",
            "two\r\nlines",
            " padded ",
            "中文",
        ];
        let mut c = Csv::new(&fields);
        c.row(fields);
        let bytes = c.into_bytes().unwrap();
        let body = bytes.strip_prefix(BOM.as_bytes()).unwrap();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(body);
        for record in reader.records() {
            let record = record.unwrap();
            assert_eq!(record.iter().collect::<Vec<_>>(), fields);
        }
    }
}
