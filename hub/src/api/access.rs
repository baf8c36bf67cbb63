//! Which device may call which endpoint (GB/T 5.4 least privilege, 5.6.2 access control),
//! in mutual TLS mode: every request's client certificate is looked up by its SHA-256
//! fingerprint in the store, on every request (no cache, so a revocation holds at once,
//! also on a kept-alive connection), and its role must be allowed the route. Each
//! refusal is audited.
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

use super::{ApiError, AppState};
use crate::pki::fingerprint_of;
use crate::store::{self, Actor};

/// The enrolled device behind a request, added to the request's extensions once its
/// certificate passed the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePeer {
    pub device_id: String,
    pub role: DeviceRole,
    /// SHA-256 of its certificate (to check again, e.g. during a long event stream).
    pub fingerprint: String,
}

/// Reachable without a client certificate: a new device fetches the CA and enrols; the
/// watchdog and a technician's laptop may read the health. (The public ticket status
/// page lives outside the API and is always reachable.)
const OPEN: &[(&str, &str)] = &[("POST", ENROL_PATH), ("GET", CA_PATH), ("GET", "/health")];

const BOARD: DeviceRole = DeviceRole::Board;
const KIOSK: DeviceRole = DeviceRole::Kiosk;
const SMS: DeviceRole = DeviceRole::SmsGateway;

/// GB/T 5.4: what each role other than `counter` may call, by method and route (as the
/// router writes it; `{action}` of a ticket is spelled out). A `counter` may call every
/// route: its staff routes still need a logged-in staff member. Anything not listed is
/// refused. A kiosk never logs staff in, calls tickets, or reads requests, customers or
/// any list; a board only reads the public queue; the text-message gateway only leases
/// and reports messages.
const ALLOWED: &[(&str, &str, &[DeviceRole])] = &[
    ("GET", "/health", &[BOARD, KIOSK, SMS]),
    ("GET", "/catalogue", &[BOARD, KIOSK]),
    ("GET", "/queue", &[BOARD, KIOSK]),
    // Board and kiosk get the public stream (no tokens, staff or customers; see `ws`).
    ("GET", "/events", &[BOARD, KIOSK]),
    ("POST", "/tickets", &[KIOSK]),
    // The kiosk's printer confirms a ticket; every other ticket action is staff's.
    ("POST", "/tickets/{id}/printed", &[KIOSK]),
    ("POST", "/tickets/{id}/rating", &[KIOSK]),
    ("POST", "/requests", &[KIOSK]),
    ("POST", "/intake", &[KIOSK]),
    ("GET", "/knowledge", &[KIOSK]),
    // A kiosk reports its own faults (printer out of paper); it never reads the list.
    ("POST", "/alerts", &[KIOSK]),
    ("POST", "/appointments", &[KIOSK]),
    ("GET", "/appointments/slots", &[KIOSK]),
    ("POST", "/appointments/check-in", &[KIOSK]),
    ("POST", "/sms/lease", &[SMS]),
    ("POST", "/sms/{id}/result", &[SMS]),
];

/// Whether `role` may call `method` on `route` (routes as in [`ALLOWED`]).
pub(crate) fn allowed(role: DeviceRole, method: &str, route: &str) -> bool {
    role == DeviceRole::Counter
        || ALLOWED
            .iter()
            .any(|(m, r, roles)| *m == method && *r == route && roles.contains(&role))
}

fn is_open(method: &str, route: &str) -> bool {
    OPEN.iter().any(|(m, r)| *m == method && *r == route)
}

/// Why a request was refused: the problem the device gets and the reason audited.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    detail: String,
    device: Option<String>,
    role: Option<DeviceRole>,
}

/// The route key of a matched request: the router's path without the API prefix, with
/// a ticket's `{action}` spelled out (only some actions are open to some roles).
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
                .map(|(_, v)| v.to_owned())
        })
        .unwrap_or_default();
    let route = route.replace("{action}", &action);
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
    let peer_addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown address".to_owned(), |c| c.0.to_string());
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
        Some(fp) => {
            let lookup = fp.clone();
            let cert = match st
                .store
                .read(move |c| store::devices::device_for_fingerprint(c, &lookup))
                .await
            {
                Ok(c) => c,
                Err(e) => return ApiError::from(e).into_response(),
            };
            match cert {
                None => Refusal {
                    status: StatusCode::UNAUTHORIZED,
                    code: "device_not_enrolled",
                    detail: "this device's certificate is not enrolled at this hub: enrol it again with a new pairing code".into(),
                    device: None,
                    role: None,
                },
                Some(c) if !c.active_at(Utc::now()) => Refusal {
                    status: StatusCode::FORBIDDEN,
                    code: "device_revoked",
                    detail: format!(
                        "the certificate of device {} was revoked or has expired: enrol it again with a new pairing code",
                        c.device_id
                    ),
                    device: Some(c.device_id),
                    role: Some(c.role),
                },
                Some(c) if !allowed(c.role, &method, &route) => Refusal {
                    status: StatusCode::FORBIDDEN,
                    code: "role_not_allowed",
                    detail: format!("a {} device may not call {method} {route}", c.role),
                    device: Some(c.device_id),
                    role: Some(c.role),
                },
                Some(c) => {
                    req.extensions_mut().insert(DevicePeer {
                        device_id: c.device_id,
                        role: c.role,
                        fingerprint: fp,
                    });
                    return next.run(req).await;
                }
            }
        }
    };
    // GB/T 5.6.2.3: every refusal is in the audit log.
    let actor = Actor {
        staff_id: None,
        device: Some(
            refusal
                .device
                .clone()
                .unwrap_or_else(|| "unknown device".into()),
        ),
    };
    let detail = format!(
        "{method} {route} from {peer_addr}, role {}: {}",
        refusal.role.map_or("none", DeviceRole::as_str),
        refusal.code
    );
    if let Err(e) = st
        .store
        .write(move |ctx| ctx.audit(&actor, "access_refused", &detail))
        .await
    {
        tracing::warn!("could not audit a refused request: {e}");
    }
    ApiError::new(refusal.status, refusal.code, &refusal.detail, None).into_response()
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
        assert!(is_open("POST", "/enrol") && is_open("GET", "/enrol/ca"));
        assert!(!is_open("GET", "/queue"));
    }
}
