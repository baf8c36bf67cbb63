//! Refusals as the JSON `{"code","message"}` problem body the hub's sender shows to an
//! operator. Never panics, never leaks SQL to the caller (the details go to the log).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One refused request: an HTTP status, a stable machine code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// A failure on our side: logged with its details, answered in general words.
    pub fn internal(context: &str, detail: impl std::fmt::Display) -> Problem {
        tracing::error!("{context}: {detail}");
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("headquarters cannot {context} right now; try again later"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(Body {
                code: self.code,
                message: &self.message,
            }),
        )
            .into_response()
    }
}
