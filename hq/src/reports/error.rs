//! What a report request can fail with, answered as a bilingual HTML page: bad input is
//! a 400 that says what to fix; a database failure is logged with its details and
//! answered in general words (never SQL text to the browser).

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::page;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    /// The request cannot be answered as asked (bad date, unknown service...).
    #[error("{en}")]
    BadInput { zh: String, en: String },
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("database connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
}

impl ReportError {
    pub(crate) fn bad(zh: impl Into<String>, en: impl Into<String>) -> ReportError {
        ReportError::BadInput {
            zh: zh.into(),
            en: en.into(),
        }
    }
}

impl IntoResponse for ReportError {
    fn into_response(self) -> Response {
        let (status, zh, en) = match self {
            ReportError::BadInput { zh, en } => (StatusCode::BAD_REQUEST, zh, en),
            other => {
                tracing::error!("report: {other}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "总部数据库暂时无法使用，请稍后再试。".to_owned(),
                    "The headquarters database cannot be reached right now; try again later."
                        .to_owned(),
                )
            }
        };
        let body = format!(
            "{}<div class=\"error\" id=\"error\" data-status=\"{}\"><p lang=\"zh-CN\">{}</p><p lang=\"en\">{}</p>\
             <p><a href=\"/reports\">返回报表总览 Back to the reports overview</a></p></div>",
            page::heading(1, "title", "无法生成报表", "The report cannot be shown"),
            status.as_u16(),
            page::escape(&zh),
            page::escape(&en)
        );
        let html = page::shell("无法生成报表", "The report cannot be shown", "", "", &body);
        (status, Html(html)).into_response()
    }
}
