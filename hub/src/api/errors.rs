//! Turning store errors into HTTP answers with a JSON problem body. Faults of the hub
//! itself (database, shutdown) are 503s with a plain sentence; never a bare 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::Problem;

use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    pub fn new(status: StatusCode, code: &str, detail: &str, field: Option<&str>) -> ApiError {
        ApiError(Problem {
            code: code.to_owned(),
            status: status.as_u16(),
            detail: detail.to_owned(),
            field: field.map(str::to_owned),
        })
    }

    pub fn login_required() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "login_required",
            "log in first: this needs a staff session (Authorization: Bearer <token>)",
            None,
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        use StatusCode as S;
        let detail = e.to_string();
        let (status, code, field) = match &e {
            StoreError::NoBusinessDay => (S::CONFLICT, "no_business_day", None),
            StoreError::DayAlreadyOpen(_) => (S::CONFLICT, "day_already_open", None),
            StoreError::DayAlreadyUsed(_) => (S::CONFLICT, "day_already_used", Some("date")),
            StoreError::ClockNotSynced => (S::CONFLICT, "clock_not_synced", Some("date")),
            StoreError::NotFound(_) => (S::NOT_FOUND, "not_found", None),
            StoreError::Conflict(_) => (S::CONFLICT, "conflict", None),
            StoreError::Rule(code, _) => (S::CONFLICT, *code, None),
            StoreError::Unknown(code, _) => (S::NOT_FOUND, *code, None),
            StoreError::IllegalMove(_) => (S::CONFLICT, "illegal_move", None),
            StoreError::Stage(domain::request::StageError::QuoteNotAcknowledged) => {
                (S::CONFLICT, "quote_not_acknowledged", None)
            }
            StoreError::Stage(domain::request::StageError::BadStart(_)) => (
                S::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some("start_stage"),
            ),
            StoreError::Stage(_) => (S::CONFLICT, "illegal_stage", Some("to")),
            StoreError::Quote(_) => (S::UNPROCESSABLE_ENTITY, "invalid_quote", Some("items")),
            StoreError::Invalid { field, .. } => (
                S::UNPROCESSABLE_ENTITY,
                "invalid_field",
                Some(field.as_str()),
            ),
            StoreError::Forbidden(_) => (S::FORBIDDEN, "forbidden", None),
            StoreError::BadCredentials => (S::UNAUTHORIZED, "bad_credentials", None),
            StoreError::LockedOut(_) => (S::LOCKED, "locked_out", None),
            StoreError::SessionExpired => (S::UNAUTHORIZED, "session_expired", None),
            StoreError::ShuttingDown => (S::SERVICE_UNAVAILABLE, "shutting_down", None),
            StoreError::SchemaTooNew { .. }
            | StoreError::Db(_)
            | StoreError::Corrupt(_)
            | StoreError::Internal(_) => {
                tracing::error!("store fault: {e}");
                (S::SERVICE_UNAVAILABLE, "storage_unavailable", None)
            }
        };
        ApiError::new(status, code, &detail, field)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        (status, axum::Json(self.0)).into_response()
    }
}

/// The last line of defence: a panic in a handler is logged and answered like a fault.
pub(super) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "internal_fault",
        "the hub hit an internal fault; the request was not completed",
        None,
    )
    .into_response()
}
