//! Which device may call which endpoint (GB/T 5.4 least privilege, 5.6.2 access control),
//! in mutual TLS mode: every request's client certificate is looked up by its SHA-256
//! fingerprint in the store, on every request (no cache, so a revocation holds at once,
//! also on a kept-alive connection), and its role must be allowed the route. Each
//! refusal is audited, at most once a minute per address and reason.
//!
//! Decides only whether a device may call a route; whether a staff member may do the
//! action is still the handler's business (the `Staff` extractor and role checks).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use protocol::devices::{CA_PATH, DeviceRole, ENROL_PATH};

use super::limits::Verdict;
use super::{ApiError, AppState};
use crate::pki::fingerprint_of;
use crate::store::devices::CertStatus;
use crate::store::{self, Actor, StoreError};

/// The enrolled device behind a request, added to the request's extensions once its
/// certificate passed the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePeer {
    pub device_id: String,
    pub role: DeviceRole,
    /// SHA-256 of its certificate (to check again, e.g. during a long event stream).
    pub fingerprint: String,
}

impl DevicePeer {
    /// GB/T 5.4: a screen in the waiting area (display board, customer kiosk) gets the
    /// public view of tickets and events: no status token, staff id or priority class.
    pub fn sees_public_view(&self) -> bool {
        matches!(self.role, DeviceRole::Board | DeviceRole::Kiosk)
    }
}

/// Reachable without a client certificate: a new device fetches the CA and enrols; the
/// watchdog and a technician's laptop may read the health. (The public ticket status
/// page lives outside the API and is always reachable.)
pub const OPEN: &[(&str, &str)] = &[("POST", ENROL_PATH), ("GET", CA_PATH), ("GET", "/health")];

const BOARD: DeviceRole = DeviceRole::Board;
const KIOSK: DeviceRole = DeviceRole::Kiosk;
const SMS: DeviceRole = DeviceRole::SmsGateway;

/// GB/T 5.4: what each role other than `counter` may call, by method and route (as the
/// router writes it; `{action}` of a ticket is spelled out). A `counter` may call every
/// route but the text-message gateway's ([`GATEWAY_ONLY`]): its staff routes still need
/// a logged-in staff member. Anything not listed is refused. A kiosk never logs staff
/// in, calls tickets, books appointments, or reads requests, customers or any list; a
/// board only reads the public queue; the text-message gateway only leases and reports
/// messages.
pub const ALLOWED: &[(&str, &str, &[DeviceRole])] = &[
    ("GET", "/health", &[BOARD, KIOSK, SMS]),
    ("GET", "/catalogue", &[BOARD, KIOSK]),
    ("GET", "/queue", &[BOARD, KIOSK]),
    // Board and kiosk get the public stream (no tokens, staff or customers; see `ws`).
    ("GET", "/events", &[BOARD, KIOSK]),
    ("POST", "/tickets", &[KIOSK]),
    // The kiosk's printer confirms a ticket; every other ticket action is staff's.
    ("POST", "/tickets/{id}/printed", &[KIOSK]),
    ("POST", "/tickets/{id}/rating", &[KIOSK]),
    // A kiosk records a request with its ticket through the intake, nothing else.
    ("POST", "/intake", &[KIOSK]),
    ("GET", "/knowledge", &[KIOSK]),
    // A kiosk reports its own faults (printer out of paper); it never reads the list.
    ("POST", "/alerts", &[KIOSK]),
    ("POST", "/appointments/check-in", &[KIOSK]),
    // Every enrolled device renews its own certificate (the counter may call anything).
    ("POST", "/devices/renew", &[BOARD, KIOSK, SMS]),
    ("POST", "/sms/lease", &[SMS]),
    ("POST", "/sms/{id}/result", &[SMS]),
];

/// GB/T 5.4: the text-message gateway's own routes, which need no staff login: not even
/// a counter may lease customers' messages or settle them.
pub const GATEWAY_ONLY: &[(&str, &str)] = &[("POST", "/sms/lease"), ("POST", "/sms/{id}/result")];

/// The ticket actions of `POST /tickets/{id}/{action}`, spelled out in route keys; any
/// other text there stays `{action}` (it is refused by the handler anyway).
pub const TICKET_ACTIONS: &[&str] = &[
    "printed", "call", "recall", "start", "finish", "no-show", "hold", "resume", "transfer",
    "cancel", "void",
];

/// Whether `role` may call `method` on `route` (routes as in [`ALLOWED`]).
pub(crate) fn allowed(role: DeviceRole, method: &str, route: &str) -> bool {
    if role == DeviceRole::Counter {
        return !GATEWAY_ONLY
            .iter()
            .any(|(m, r)| *m == method && *r == route);
    }
    ALLOWED
        .iter()
        .any(|(m, r, roles)| *m == method && *r == route && roles.contains(&role))
}

fn is_open(method: &str, route: &str) -> bool {
    OPEN.iter().any(|(m, r)| *m == method && *r == route)
}

/// GB/T 5.4: what the store says about the certificate with `fingerprint` now: one read
/// on every request and every few seconds of an event stream, never cached, so a
/// revocation holds at once.
pub(super) async fn certificate_status(
    st: &AppState,
    fingerprint: &str,
) -> Result<CertStatus, StoreError> {
    let fp = fingerprint.to_owned();
    st.store
        .read(move |c| store::devices::certificate_status(c, &fp, Utc::now()))
        .await
}

/// Why a request was refused: the problem the device gets and the reason audited.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    detail: String,
    device: Option<String>,
    role: Option<DeviceRole>,
}

/// The route key of a matched request: the router's template without the API prefix
/// (never the request's own path, which a caller writes), with a ticket's `{action}`
/// spelled out when it is one of [`TICKET_ACTIONS`] (only some are open to some roles).
async fn route_key(req: Request) -> (Request, String) {
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let route = matched
        .strip_prefix(protocol::API_PREFIX)
        .unwrap_or(&matched)
        .to_owned();
    if !route.contains("{action}") {
        return (req, route);
    }
    let (mut parts, body) = req.into_parts();
    let action = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|p| {
            p.iter()
                .find(|(k, _)| *k == "action")
                .and_then(|(_, v)| TICKET_ACTIONS.iter().find(|a| **a == v))
        });
    let route = match action {
        Some(a) => route.replace("{action}", a),
        None => route,
    };
    (Request::from_parts(parts, body), route)
}

/// The middleware on every matched `/api/v1` route in mutual TLS mode.
pub(super) async fn enforce(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let (mut req, route) = route_key(req).await;
    // HEAD is answered by the GET route.
    let method = match *req.method() {
        Method::HEAD => "GET".to_owned(),
        ref m => m.as_str().to_owned(),
    };
    if is_open(&method, &route) {
        return next.run(req).await;
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let fingerprint = req
        .extensions()
        .get::<Arc<axum_server::tls::TlsInfo>>()
        .and_then(|t| t.peer_certificates.first().map(|der| fingerprint_of(der)));
    let refusal = match fingerprint {
        None => Refusal {
            status: StatusCode::UNAUTHORIZED,
            code: "device_not_enrolled",
            detail: "this device has no certificate of this hub: enrol it with a pairing code from an administrator".into(),
            device: None,
            role: None,
        },
        Some(fp) => match certificate_status(&st, &fp).await {
            Err(e) => return ApiError::from(e).into_response(),
            Ok(CertStatus::NotEnrolled) => Refusal {
                status: StatusCode::UNAUTHORIZED,
                code: "device_not_enrolled",
                detail: "this device's certificate is not enrolled at this hub: enrol it again with a new pairing code".into(),
                device: None,
                role: None,
            },
            Ok(CertStatus::Inactive(c)) => Refusal {
                status: StatusCode::FORBIDDEN,
                code: "device_revoked",
                detail: format!(
                    "the certificate of device {} was revoked or has expired: enrol it again with a new pairing code",
                    c.device_id
                ),
                device: Some(c.device_id),
                role: Some(c.role),
            },
            Ok(CertStatus::Active(c)) if !allowed(c.role, &method, &route) => Refusal {
                status: StatusCode::FORBIDDEN,
                code: "role_not_allowed",
                detail: format!(
                    "a {} device may not call {} {route}",
                    c.role,
                    store::untrusted(&method)
                ),
                device: Some(c.device_id),
                role: Some(c.role),
            },
            Ok(CertStatus::Active(c)) => {
                req.extensions_mut().insert(DevicePeer {
                    device_id: c.device_id,
                    role: c.role,
                    fingerprint: fp,
                });
                return next.run(req).await;
            }
        },
    };
    audit_refusal(&st, peer, &method, &route, &refusal).await;
    ApiError::new(refusal.status, refusal.code, &refusal.detail, None).into_response()
}

/// GB/T 5.6.2.3: every refusal is in the audit log, but a flood is not: one row a minute
/// per address, code and device, the next one saying how many were left out (those go
/// to the debug log).
async fn audit_refusal(
    st: &AppState,
    peer: Option<SocketAddr>,
    method: &str,
    route: &str,
    refusal: &Refusal,
) {
    let peer_text = peer.map_or_else(|| "unknown address".to_owned(), |a| a.to_string());
    let detail = format!(
        "{} {route} from {peer_text}, role {}: {}",
        store::untrusted(method),
        refusal.role.map_or("none", DeviceRole::as_str),
        refusal.code
    );
    let verdict = st.refusals.note(
        peer.map(|a| a.ip()),
        refusal.code,
        refusal.device.as_deref(),
        std::time::Instant::now(),
    );
    let (suppressed, untracked) = match verdict {
        Verdict::Suppress => {
            tracing::debug!("refused, not audited again this minute: {detail}");
            return;
        }
        Verdict::Audit {
            suppressed,
            untracked,
        } => (suppressed, untracked),
    };
    let mut detail = detail;
    if suppressed > 0 {
        detail.push_str(&format!(
            "; {suppressed} more suppressed (the same refusal from this address in the last minute)"
        ));
    }
    if untracked > 0 {
        detail.push_str(&format!(
            "; {untracked} refusal(s) from other addresses not audited while too many were tracked"
        ));
    }
    let actor = Actor {
        staff_id: None,
        device: Some(
            refusal
                .device
                .clone()
                .unwrap_or_else(|| "unknown device".into()),
        ),
    };
    if let Err(e) = st
        .store
        .write(move |ctx| ctx.audit(&actor, "access_refused", &detail))
        .await
    {
        tracing::warn!("could not audit a refused request: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_reaches_only_its_routes() {
        // GB/T 5.4
        assert!(allowed(BOARD, "GET", "/queue"));
        assert!(!allowed(BOARD, "POST", "/tickets"));
        assert!(allowed(KIOSK, "POST", "/tickets"));
        assert!(allowed(KIOSK, "POST", "/tickets/{id}/printed"));
        assert!(!allowed(KIOSK, "POST", "/tickets/{id}/call"));
        assert!(!allowed(KIOSK, "POST", "/tickets/{id}/void"));
        assert!(!allowed(KIOSK, "POST", "/sessions"));
        assert!(!allowed(KIOSK, "POST", "/call-next"));
        assert!(!allowed(KIOSK, "GET", "/alerts"));
        assert!(!allowed(KIOSK, "GET", "/requests/{id}"));
        assert!(!allowed(KIOSK, "GET", "/queue/waiting"));
        assert!(allowed(SMS, "POST", "/sms/lease"));
        assert!(!allowed(SMS, "GET", "/sms"));
        assert!(!allowed(SMS, "GET", "/queue"));
        assert!(allowed(DeviceRole::Counter, "POST", "/sessions"));
        assert!(allowed(DeviceRole::Counter, "POST", "/devices/{id}/revoke"));
        // Not even a counter does the text-message gateway's job (it needs no login).
        assert!(!allowed(DeviceRole::Counter, "POST", "/sms/lease"));
        assert!(!allowed(DeviceRole::Counter, "POST", "/sms/{id}/result"));
        assert!(allowed(DeviceRole::Counter, "GET", "/sms"));
        assert!(allowed(SMS, "POST", "/sms/{id}/result"));
        // Booking needs staff: the kiosk only checks in.
        assert!(!allowed(KIOSK, "POST", "/appointments"));
        assert!(allowed(KIOSK, "POST", "/appointments/check-in"));
        assert!(is_open("POST", "/enrol") && is_open("GET", "/enrol/ca"));
        assert!(!is_open("GET", "/queue"));
    }
}
