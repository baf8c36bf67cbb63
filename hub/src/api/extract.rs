//! Request extractors that answer bad input with a problem body naming the field:
//! JSON bodies, path ids, the staff session from the bearer token, and the enrolled
//! device behind the request.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use chrono::Utc;
use serde::de::DeserializeOwned;

use super::access::DevicePeer;
use super::{ApiError, AppState};
use crate::store::{self, Session};

/// Largest JSON body a device may send.
const MAX_BODY: usize = 64 * 1024;

/// Parses a JSON body; `serde_path_to_error` names the field that failed.
pub(super) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.len() > MAX_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is too large",
            None,
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    match result {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let malformed = inner.is_syntax() || inner.is_eof();
            let (status, code) = if malformed {
                (StatusCode::BAD_REQUEST, "malformed_json")
            } else {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
            };
            let field = if malformed {
                None
            } else if path == "." {
                missing_field(&inner.to_string())
            } else {
                Some(path)
            };
            Err(ApiError::new(
                status,
                code,
                &inner.to_string(),
                field.as_deref(),
            ))
        }
    }
}

/// serde reports a missing field at the parent's path: pull its name from the message.
fn missing_field(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_owned())
}

/// An empty body means the type's default.
pub(super) fn parse_optional_body<T: DeserializeOwned + Default>(
    bytes: &[u8],
) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse_body(bytes)
    }
}

pub(super) fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            &format!("`{raw}` is not an id (a positive whole number)"),
            Some("id"),
        )
    })
}

/// A JSON body of type `T`.
#[derive(Debug)]
pub(super) struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                &e.body_text(),
                None,
            )
        })?;
        parse_body(&bytes).map(Body)
    }
}

fn bearer(parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| ApiError::login_required())?;
    match text.strip_prefix("Bearer ") {
        Some(t) if !t.is_empty() && t.len() <= 128 => Ok(Some(t.to_owned())),
        _ => Err(ApiError::login_required()),
    }
}

async fn session_for(state: &AppState, token: String) -> Result<Session, ApiError> {
    let hash = store::hash_token(&token);
    Ok(state
        .store
        .read(move |c| store::load_session(c, &hash, Utc::now()))
        .await?)
}

/// A logged-in staff member (401 without one).
#[derive(Debug)]
pub(super) struct Staff(pub Session);

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?.ok_or_else(ApiError::login_required)?;
        session_for(state, token).await.map(Staff)
    }
}

/// A staff member if a token was sent (a bad token is still a 401), else a device.
#[derive(Debug)]
pub(super) struct MaybeStaff(pub Option<Session>);

impl FromRequestParts<AppState> for MaybeStaff {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match bearer(parts)? {
            None => Ok(MaybeStaff(None)),
            Some(token) => session_for(state, token).await.map(|s| MaybeStaff(Some(s))),
        }
    }
}

/// The enrolled device behind the request (mutual TLS), if any; never refuses.
#[derive(Debug, Clone)]
pub(super) struct Peer(pub Option<DevicePeer>);

impl Peer {
    /// GB/T 5.4: the device a request acts for: the certificate's device id when there
    /// is one (so a device cannot name another in its body), else what the body said.
    pub(super) fn device(&self, claimed: Option<String>) -> Option<String> {
        match &self.0 {
            Some(p) => Some(p.device_id.clone()),
            None => claimed,
        }
    }

    /// Whether the answer must be the public view (a display board or kiosk).
    pub(super) fn public(&self) -> bool {
        self.0.as_ref().is_some_and(DevicePeer::sees_public_view)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(parts.extensions.get::<DevicePeer>().cloned()))
    }
}
