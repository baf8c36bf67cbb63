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
use protocol::devices::{DeviceView, EnrolRequest, Enrolled, NewPairing, Pairing, valid_device_id};

use super::extract::{Body, Staff};
use super::{ApiError, ApiResult, AppState, require_supervisor};
use crate::config::Transport;
use crate::pki::PkiError;
use crate::store::{self, Actor, StoreError};

fn require_admin(s: &store::Session) -> Result<(), ApiError> {
    if s.role.at_least(domain::Role::Admin) {
        Ok(())
    } else {
        Err(StoreError::Forbidden("this needs an administrator".into()).into())
    }
}

fn check_device_id(id: &str) -> Result<(), ApiError> {
    if valid_device_id(id) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "device_id",
            format!("`{id}` is not a device id: use 1 to 40 letters, digits, '-' or '_'"),
        )
        .into())
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

/// `POST /api/v1/enrol` (GB/T 5.4): a device sends its pairing code and a signing request
/// for a key it made itself; it gets its certificate (CN = device id, OU = role) and the
/// CA. A wrong, used or expired code, or one for another device or role, is one and the
/// same 403 `pairing_refused`; refusals count against the address like failed logins.
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
    let ip = peer.as_ref().map(|axum::Extension(c)| c.0.ip());
    let peer_text = peer.map_or_else(|| "unknown address".to_owned(), |c| c.0.0.to_string());
    if let Some(ip) = ip
        && !st.login_limiter.allowed(ip)
    {
        let detail = format!(
            "{peer_text} tried to enrol {} device {} after too many refused attempts",
            req.role, req.device_id
        );
        st.store
            .write(move |ctx| {
                ctx.audit(
                    &Actor {
                        staff_id: None,
                        device: Some("unknown device".into()),
                    },
                    "enrol_rate_limited",
                    &detail,
                )
            })
            .await?;
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many refused attempts from this address: wait a minute",
            None,
        ));
    }
    check_device_id(&req.device_id)?;
    let signed = st
        .ca
        .sign_device(
            &req.csr_pem,
            &req.device_id,
            req.role,
            st.cfg.security.device_cert_days,
        )
        .map_err(|e| match e {
            PkiError::BadRequest(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                &e.to_string(),
                Some("csr_pem"),
            ),
            other => {
                tracing::error!("enrolment: {other}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "certificate_unavailable",
                    "the hub could not make a certificate just now; try again",
                    None,
                )
            }
        })?;
    let cert = store::devices::NewCert {
        fingerprint: signed.fingerprint.clone(),
        not_after: signed.not_after,
    };
    let (code, id, role) = (req.code, req.device_id.clone(), req.role);
    let redeemed = st
        .store
        .write(move |ctx| store::devices::redeem_pairing(ctx, &code, &id, role, &cert, &peer_text))
        .await?;
    if let store::devices::Redeemed::Refused(reason) = redeemed {
        tracing::info!("enrolment of {} refused: {reason}", req.device_id);
        if let Some(ip) = ip {
            st.login_limiter.failed(ip);
        }
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "pairing_refused",
            "the pairing code was not accepted for this device: ask an administrator for a new one",
            None,
        ));
    }
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
    Ok(Json(
        st.store
            .write(move |ctx| store::devices::revoke_device(ctx, &actor, &id))
            .await?,
    ))
}
