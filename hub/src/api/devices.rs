//! Device enrolment over the API (GB/T 5.4, 5.6.2): the CA certificate and the enrolment
//! a new device reaches without a client certificate, and the pairing codes, device list
//! and revocation for staff.
//!
//! Never hands out the CA key, and never tells a refused enrolment which part of its
//! code was wrong (the audit log has the reason).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use protocol::devices::{DeviceView, EnrolRequest, Enrolled, NewPairing, Pairing, RenewRequest};

use super::extract::{Body, Peer, Staff};
use super::limits::Attempt;
use super::{ApiError, ApiResult, AppState, require_supervisor};
use crate::config::Transport;
use crate::devices::keep_on;
use crate::pki::PkiError;
use crate::store::devices::check_device_id;
use crate::store::{self, Actor, StoreError};

/// Refused enrolments allowed across the whole hub per minute, from every address
/// together; beyond, every enrolment is refused until the minute has passed.
pub const REFUSED_ENROLMENTS_PER_MINUTE: u32 = 100;

/// The answer when the CA does not sign a device's request: the request's fault (422
/// naming `csr_pem`), or the hub's (503, logged under `during`).
fn signing_refused(e: PkiError, during: &str) -> ApiError {
    match e {
        PkiError::BadRequest(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            &e.to_string(),
            Some("csr_pem"),
        ),
        other => {
            tracing::error!("{during}: {other}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "certificate_unavailable",
                "the hub could not make a certificate just now; try again",
                None,
            )
        }
    }
}

fn require_admin(s: &store::Session) -> Result<(), ApiError> {
    if s.role.at_least(domain::Role::Admin) {
        Ok(())
    } else {
        Err(StoreError::Forbidden("this needs an administrator".into()).into())
    }
}

/// `GET /api/v1/enrol/ca`: the hub's CA certificate as PEM text (`text/plain`), exactly
/// the bytes of its `ca.pem`. No client certificate needed. A device must compute the
/// SHA-256 of the certificate's DER itself and compare it with the fingerprint it was
/// given before it trusts this answer.
pub(super) async fn ca(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        st.ca.ca_pem().to_owned(),
    )
        .into_response()
}

fn too_many(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_attempts",
        detail,
        None,
    )
}

fn unknown_device() -> Actor {
    Actor {
        staff_id: None,
        device: Some("unknown device".into()),
    }
}

/// The tries an enrolment counts against (its address's and the hub's); they stay
/// counted unless [`Tries::not_a_guess`] gives them back.
struct Tries(Vec<Attempt>);

impl Tries {
    fn not_a_guess(self) {
        self.0.into_iter().for_each(Attempt::succeeded);
    }
}

/// GB/T 5.6.2: counts this enrolment against its address and the hub-wide limit before
/// any work is done, so parallel guesses cannot all pass; the first refusal of a stretch
/// is audited (with the device id already validated), the rest are not.
async fn begin(
    st: &AppState,
    ip: Option<std::net::IpAddr>,
    peer_text: &str,
    req: &EnrolRequest,
) -> Result<Tries, ApiError> {
    let mut tries = Vec::new();
    if let Some(ip) = ip {
        match st.login_limiter.try_begin(ip) {
            Some(a) => tries.push(a),
            None => {
                if st.login_limiter.newly_limited(ip) {
                    let detail = format!(
                        "{peer_text} tried to enrol {} device {} after too many refused attempts; \
                         its tries are refused without audit until a minute has passed",
                        req.role, req.device_id
                    );
                    st.store
                        .write(move |ctx| {
                            ctx.audit(&unknown_device(), "enrol_rate_limited", &detail)
                        })
                        .await?;
                } else {
                    tracing::debug!("enrolment from {peer_text} refused: too many attempts");
                }
                return Err(too_many(
                    "too many refused attempts from this address: wait a minute",
                ));
            }
        }
    }
    match st.enrol_limit.try_begin() {
        Some(a) => tries.push(a),
        None => {
            Tries(tries).not_a_guess();
            if st.enrol_limit.newly_limited() {
                let detail = format!(
                    "{REFUSED_ENROLMENTS_PER_MINUTE} enrolments within a minute were refused (or are \
                     still being checked): every enrolment is refused until the minute has passed \
                     (this one from {peer_text})"
                );
                st.store
                    .write(move |ctx| ctx.audit(&unknown_device(), "enrol_rate_limited", &detail))
                    .await?;
            } else {
                tracing::debug!(
                    "enrolment from {peer_text} refused: the hub-wide limit is reached"
                );
            }
            return Err(too_many(
                "too many refused enrolments at this hub: wait a minute",
            ));
        }
    }
    Ok(Tries(tries))
}

fn pairing_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "pairing_refused",
        "the pairing code was not accepted for this device: ask an administrator for a new one",
        None,
    )
}

/// `POST /api/v1/enrol` (GB/T 5.4): a device sends its pairing code and a signing request
/// for a key it made itself; it gets its certificate (CN = device id, OU = role) and the
/// CA. A wrong, used or expired code, or one for another device or role, is one and the
/// same 403 `pairing_refused`; refusals count against the address like failed logins,
/// and against a hub-wide limit. The code is checked before the CA signs anything.
pub(super) async fn enrol(
    State(st): State<AppState>,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Body(req): Body<EnrolRequest>,
) -> Result<(StatusCode, Json<Enrolled>), ApiError> {
    if st.cfg.security.transport == Transport::Plain {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "plain_transport",
            "this hub serves plain HTTP (security.transport = \"plain\"): devices enrol only over mutual TLS",
            None,
        ));
    }
    // Validated before anything is counted or audited.
    check_device_id(&req.device_id)?;
    let ip = peer.as_ref().map(|axum::Extension(c)| c.0.ip());
    let peer_text = peer.map_or_else(|| "unknown address".to_owned(), |c| c.0.0.to_string());
    let tries = begin(&st, ip, &peer_text, &req).await?;

    // A wrong guess costs a read, never a signature.
    let (code, id, role) = (req.code.clone(), req.device_id.clone(), req.role);
    let refused = st
        .store
        .read(move |c| store::devices::check_pairing(c, &code, &id, role, Utc::now()))
        .await?;
    if let Some(reason) = refused {
        tracing::info!("enrolment of {} refused: {reason}", req.device_id);
        let (id, text) = (req.device_id.clone(), peer_text.clone());
        st.store
            .write(move |ctx| store::devices::refuse_enrolment(ctx, &id, role, &text, &reason))
            .await?;
        return Err(pairing_refused());
    }

    let signed = match st.ca.sign_device(
        &req.csr_pem,
        &req.device_id,
        req.role,
        st.cfg.security.device_cert_days,
    ) {
        Ok(s) => s,
        Err(e) => {
            // The code was right: a broken request or a failing CA is no guess.
            tries.not_a_guess();
            return Err(signing_refused(e, "enrolment"));
        }
    };
    let cert = store::devices::NewCert {
        fingerprint: signed.fingerprint.clone(),
        not_after: signed.not_after,
    };
    let (code, id, role) = (req.code, req.device_id.clone(), req.role);
    let list = st.ca.revocations().clone();
    let redeemed = st
        .store
        .write(move |ctx| {
            store::devices::redeem_pairing(
                ctx,
                &code,
                &id,
                role,
                &cert,
                &peer_text,
                &keep_on(&list),
            )
        })
        .await?;
    if let store::devices::Redeemed::Refused(reason) = redeemed {
        // Spent or expired since the check a moment ago.
        tracing::info!("enrolment of {} refused: {reason}", req.device_id);
        return Err(pairing_refused());
    }
    tries.not_a_guess();
    Ok((
        StatusCode::CREATED,
        Json(Enrolled {
            device_id: req.device_id,
            role: req.role,
            certificate_pem: signed.certificate_pem,
            ca_pem: st.ca.ca_pem().to_owned(),
            not_after: signed.not_after,
        }),
    ))
}

/// `POST /api/v1/devices/pairings` (administrators): a one-time pairing code for one
/// device id and role, valid `security.pairing_minutes`.
pub(super) async fn create_pairing(
    State(st): State<AppState>,
    Staff(s): Staff,
    Body(req): Body<NewPairing>,
) -> Result<(StatusCode, Json<Pairing>), ApiError> {
    require_admin(&s)?;
    check_device_id(&req.device_id)?;
    let pairing = crate::devices::new_pairing(
        &st.store,
        st.ca.fingerprint(),
        st.cfg.security.pairing_minutes,
        s.actor(),
        req.role,
        req.device_id,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(pairing)))
}

/// `GET /api/v1/devices` (supervisors and administrators): every device ever enrolled.
pub(super) async fn list(
    State(st): State<AppState>,
    Staff(s): Staff,
) -> ApiResult<Vec<DeviceView>> {
    require_supervisor(&s)?;
    Ok(Json(st.store.read(store::devices::list_devices).await?))
}

/// `POST /api/v1/devices/{id}/revoke` (administrators): every certificate of the device is
/// refused from its next request on.
pub(super) async fn revoke(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
) -> ApiResult<DeviceView> {
    require_admin(&s)?;
    check_device_id(&id)?;
    let actor = s.actor();
    let list = st.ca.revocations().clone();
    Ok(Json(
        st.store
            .write(move |ctx| store::devices::revoke_device(ctx, &actor, &id, &keep_on(&list)))
            .await?,
    ))
}

/// `POST /api/v1/devices/renew` (GB/T 5.4): an enrolled device, over its current mutual
/// TLS, sends a signing request for a new key and gets a certificate with the same id and
/// role; its earlier certificates are revoked at once. Plain HTTP has no device to renew.
pub(super) async fn renew(
    State(st): State<AppState>,
    Peer(peer): Peer,
    Body(req): Body<RenewRequest>,
) -> Result<(StatusCode, Json<Enrolled>), ApiError> {
    let Some(peer) = peer else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "plain_transport",
            "renewal needs the device's certificate: this hub serves plain HTTP",
            None,
        ));
    };
    let signed = st
        .ca
        .sign_device(
            &req.csr_pem,
            &peer.device_id,
            peer.role,
            st.cfg.security.device_cert_days,
        )
        .map_err(|e| signing_refused(e, "renewal"))?;
    let cert = store::devices::NewCert {
        fingerprint: signed.fingerprint.clone(),
        not_after: signed.not_after,
    };
    let list = st.ca.revocations().clone();
    let presented = peer.fingerprint.clone();
    st.store
        .write(move |ctx| {
            store::devices::renew_certificate(ctx, &presented, &cert, &keep_on(&list))
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Enrolled {
            device_id: peer.device_id,
            role: peer.role,
            certificate_pem: signed.certificate_pem,
            ca_pem: st.ca.ca_pem().to_owned(),
            not_after: signed.not_after,
        }),
    ))
}
