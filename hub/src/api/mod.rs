//! The hub's HTTP + WebSocket API for the devices (`/api/v1/...`). Handlers parse and
//! check input, then call the store; every error leaves as a JSON problem body naming
//! the field at fault. No input may make a handler panic or answer 500.

pub mod access;
mod desk;
mod devices;
mod errors;
mod extract;
pub mod limits;
mod status_page;
mod ws;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::Utc;
use protocol::*;
use tokio::sync::watch;

pub use devices::REFUSED_ENROLMENTS_PER_MINUTE;
pub use errors::ApiError;
use extract::{Body, MaybeStaff, Peer, Staff, parse_id, parse_optional_body};
pub use limits::{HubWideLimit, LoginLimiter, RefusalLog};

use crate::config::Config;
use crate::store::{self, Actor, Store, StoreError, TicketMove};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub cfg: Arc<Config>,
    /// Flips to true when the hub shuts down, ending WebSocket streams.
    pub shutdown: watch::Receiver<bool>,
    /// The key of stored secret hashes (see `auth`).
    pub pepper: Arc<crate::auth::Pepper>,
    /// Failed logins per network address (PIN guessing across accounts); refused device
    /// enrolments count here too.
    pub login_limiter: LoginLimiter,
    /// Refused device enrolments across the hub (guessing from many addresses at once).
    pub enrol_limit: HubWideLimit,
    /// How often the same refused request is audited (see `access`).
    pub refusals: RefusalLog,
    /// The hub's certificate authority (device enrolment).
    pub ca: Arc<crate::pki::HubCa>,
}

type ApiResult<T> = Result<Json<T>, ApiError>;

pub fn router(state: AppState) -> Router {
    // GB/T 4.1.3: the public ticket status page, at the root (no login).
    let public = status_page::router(state.clone());
    let api = Router::new()
        .route("/health", get(health))
        .route("/catalogue", get(catalogue))
        .route("/queue", get(queue))
        .route("/events", get(ws::events))
        .route("/tickets", post(issue_ticket))
        .route("/tickets/unprinted", get(unprinted))
        .route("/tickets/{id}", get(ticket))
        .route("/tickets/{id}/{action}", post(ticket_action))
        .route("/call-next", post(call_next))
        .route("/day/open", post(open_day))
        .route("/day/close", post(close_day))
        .route("/sessions", post(login))
        .route("/sessions/current", axum::routing::delete(logout))
        .route("/requests", post(create_request))
        .route("/requests/{id}", get(request))
        .route("/requests/{id}/advance", post(advance_request))
        .route("/requests/{id}/quote", post(make_quote))
        .route("/requests/{id}/quote/acknowledge", post(acknowledge_quote))
        .route("/requests/{id}/payments", post(record_payment))
        .route("/requests/{id}/refunds", post(record_refund))
        .route("/refunds", get(refunds))
        .route("/refunds/{id}/paid", post(refund_paid))
        .route("/audit/verify", get(verify_audit))
        .route("/knowledge", get(desk::knowledge))
        .route("/intake", post(desk::intake))
        .route("/alerts", get(desk::alerts).post(desk::report_alert))
        .route("/appointments", post(desk::book_appointment))
        .route("/appointments/slots", get(desk::slots))
        .route("/appointments/check-in", post(desk::check_in))
        .route("/appointments/{code}", get(desk::appointment))
        .route("/appointments/{code}/reschedule", post(desk::reschedule))
        .route(
            "/appointments/{code}/cancel",
            post(desk::cancel_appointment),
        )
        .route("/sms", get(desk::sms_messages))
        .route("/sms/lease", post(desk::lease_sms))
        .route("/sms/opt-out", post(desk::sms_opt_out))
        .route("/sms/{id}/result", post(desk::sms_result))
        .route(
            "/requests/{id}/sms-opt-out",
            post(desk::request_sms_opt_out),
        )
        .route("/tickets/{id}/rating", post(desk::rate))
        .route("/tickets/{id}/requests", get(desk::requests_for_ticket))
        .route("/queue/waiting", get(desk::waiting))
        .route("/counters/{n}/today", get(desk::counter_today))
        .route("/requests/{id}/contact/reveal", post(desk::reveal_contact))
        .route(
            "/requests/{id}/agreements",
            get(desk::agreements).post(desk::write_agreement),
        )
        .route("/follow-ups", get(desk::follow_ups))
        .route("/requests/{id}/follow-up", post(desk::record_follow_up))
        .route("/customers/{pseudonym}/erase", post(desk::erase_customer))
        // GB/T 5.4: device enrolment and administration.
        .route(protocol::devices::ENROL_PATH, post(devices::enrol))
        .route(protocol::devices::CA_PATH, get(devices::ca))
        .route("/devices", get(devices::list))
        .route("/devices/pairings", post(devices::create_pairing))
        .route(protocol::devices::RENEW_PATH, post(devices::renew))
        .route("/devices/{id}/revoke", post(devices::revoke));
    // GB/T 5.4, 5.6.2: with mutual TLS every matched route checks the device first.
    let api = match state.cfg.security.transport {
        crate::config::Transport::Mtls => api.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::enforce,
        )),
        crate::config::Transport::Plain => api,
    };
    let api = api.fallback(not_found).with_state(state);
    Router::new()
        .nest(API_PREFIX, api)
        .merge(public)
        .fallback(not_found)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            errors::panic_response,
        ))
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_endpoint",
        "there is no such endpoint",
        None,
    )
}

async fn health(State(st): State<AppState>) -> ApiResult<Health> {
    let cfg = st.cfg.clone();
    let clock_synced = st.store.clock().synced();
    let h = st
        .store
        .read(move |c| {
            let (sms_pending, sms_unknown) = store::sms::counts(c)?;
            Ok(Health {
                status: "ok".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                centre_id: cfg.centre.id.clone(),
                day: store::current_day(c)?,
                clock_synced,
                last_seq: store::last_seq(c)?,
                outbox_unsent: store::unsent_count(c)?,
                unprinted_tickets: store::unprinted_count(c)?,
                alerts: store::desk::active_alerts(c)?,
                sms_pending,
                sms_unknown,
                sync: protocol::sync::SyncStatus {
                    enabled: cfg.hq.is_some(),
                    ..store::outbox::sync_status(c)?
                },
            })
        })
        .await?;
    Ok(Json(h))
}

/// GB/T 5.3.1: the centre's published information and fees, the same numbers the
/// counter charges.
async fn catalogue(State(st): State<AppState>) -> Json<Catalogue> {
    let c = &st.cfg;
    Json(Catalogue {
        centre: CentreInfo {
            id: c.centre.id.clone(),
            name_zh: c.centre.name_zh.clone(),
            name_en: c.centre.name_en.clone(),
            address: c.centre.address.clone(),
            phone: c.centre.phone.clone(),
            qualifications: c.centre.qualifications.clone(),
            change_procedure_zh: c.centre.change_procedure_zh.clone(),
            change_procedure_en: c.centre.change_procedure_en.clone(),
            utc_offset_minutes: c.centre.utc_offset.local_minus_utc() / 60,
        },
        services: c
            .services
            .values()
            .map(|s| CatalogueService {
                service: s.spec.kind,
                name_zh: s.spec.name_zh.clone(),
                name_en: s.spec.name_en.clone(),
                prefix: s.spec.prefix,
                paid: s.spec.paid,
                reply_within_minutes: s.spec.reply_within_minutes,
                resolve_within_hours: s.spec.resolve_within_hours,
                wait_limit_minutes: s.wait_limit_minutes,
                description_zh: s.description_zh.clone(),
                description_en: s.description_en.clone(),
                fees: s.fees.clone(),
                fee_digest: s.fee_digest(),
            })
            .collect(),
        // Tickets' QR codes point at headquarters' copy of the status page when it has one.
        status_base_url: c.hq.as_ref().and_then(|h| h.public_url.clone()),
    })
}

/// The queue as it stands; GB/T 5.4: a display board or kiosk gets its public view.
async fn queue(State(st): State<AppState>, peer: Peer) -> ApiResult<QueueSnapshot> {
    let cfg = st.cfg.clone();
    let snapshot = st
        .store
        .read(move |c| store::queue_snapshot(c, &cfg, Utc::now()))
        .await?;
    Ok(Json(if peer.public() {
        snapshot.public_view()
    } else {
        snapshot
    }))
}

async fn issue_ticket(
    State(st): State<AppState>,
    peer: Peer,
    Body(mut req): Body<IssueTicket>,
) -> Result<(StatusCode, Json<IssuedTicket>), ApiError> {
    // GB/T 5.4: the kiosk's own id, never another's. Its own ticket's token is its QR.
    req.device = peer.device(req.device.take());
    if let Some(d) = &req.device
        && d.len() > 64
    {
        return Err(StoreError::invalid("device", "at most 64 characters").into());
    }
    let cfg = st.cfg.clone();
    let issued = st
        .store
        .write(move |ctx| store::issue_ticket(ctx, &cfg, &req))
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

async fn ticket(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<TicketView> {
    let id = parse_id(&id)?;
    Ok(Json(
        st.store.read(move |c| store::read_ticket(c, id)).await?,
    ))
}

async fn unprinted(State(st): State<AppState>, Staff(_s): Staff) -> ApiResult<Vec<TicketView>> {
    Ok(Json(st.store.read(store::unprinted_tickets).await?))
}

async fn call_next(
    State(st): State<AppState>,
    Staff(s): Staff,
    body: Bytes,
) -> ApiResult<Option<TicketView>> {
    let req: CallTicket = parse_optional_body(&body)?;
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .write(move |ctx| store::call_next(ctx, &cfg, &s, req.counter))
            .await?,
    ))
}

async fn ticket_action(
    State(st): State<AppState>,
    peer: Peer,
    MaybeStaff(session): MaybeStaff,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<TicketView> {
    let id = parse_id(&id)?;
    if !access::TICKET_ACTIONS.contains(&action.as_str()) {
        return Err(no_such_action(&action));
    }
    if action == "printed" {
        // The kiosk confirms a print; no staff needed. GB/T 5.4: a kiosk may name any
        // ticket here, so it gets the public view (no other customer's token).
        let t = st
            .store
            .write(move |ctx| store::mark_printed(ctx, id))
            .await?;
        return Ok(Json(if peer.public() { t.public_view() } else { t }));
    }
    let session = session.ok_or_else(ApiError::login_required)?;
    let mv = match action.as_str() {
        "call" => TicketMove::Call,
        "recall" => TicketMove::Recall,
        "start" => TicketMove::Start,
        "finish" => TicketMove::Finish,
        "no-show" => TicketMove::NoShow,
        "hold" => TicketMove::Hold,
        "resume" => TicketMove::Resume,
        "transfer" => {
            let t: TransferTicket = extract::parse_body(&body)?;
            TicketMove::Transfer {
                service: t.service,
                to_front: t.to_front,
                counter: t.counter,
                reason: t.reason,
            }
        }
        "cancel" => {
            let r: Reason = parse_optional_body(&body)?;
            TicketMove::Cancel { reason: r.reason }
        }
        "void" => {
            return Ok(Json(
                st.store
                    .write(move |ctx| store::void_unprinted(ctx, &session, id))
                    .await?,
            ));
        }
        other => return Err(no_such_action(other)),
    };
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .write(move |ctx| store::act_on_ticket(ctx, &cfg, &session, id, mv))
            .await?,
    ))
}

fn no_such_action(action: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no_such_action",
        &format!(
            "`{}` is not a ticket action",
            store::untrusted(action)
                .chars()
                .take(40)
                .collect::<String>()
        ),
        Some("action"),
    )
}

fn require_supervisor(s: &store::Session) -> Result<(), ApiError> {
    if s.role.at_least(domain::Role::Supervisor) {
        Ok(())
    } else {
        Err(StoreError::Forbidden("this needs a supervisor".into()).into())
    }
}

async fn open_day(
    State(st): State<AppState>,
    Staff(s): Staff,
    body: Bytes,
) -> ApiResult<BusinessDayView> {
    require_supervisor(&s)?;
    let req: OpenDay = parse_optional_body(&body)?;
    // An unsynchronised clock (a board without RTC before time sync) never picks the
    // business date: staff must say which day it is.
    let date = match req.date {
        Some(d) => d,
        None if st.store.clock().synced() => st.cfg.local_date(Utc::now()),
        None => return Err(StoreError::ClockNotSynced.into()),
    };
    let actor = s.actor();
    Ok(Json(
        st.store
            .write(move |ctx| store::open_day(ctx, &actor, date))
            .await?,
    ))
}

async fn close_day(State(st): State<AppState>, Staff(s): Staff) -> ApiResult<BusinessDayView> {
    require_supervisor(&s)?;
    let actor = s.actor();
    Ok(Json(
        st.store
            .write(move |ctx| store::close_day(ctx, &actor))
            .await?,
    ))
}

async fn login(
    State(st): State<AppState>,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    device: Peer,
    Body(mut req): Body<Login>,
) -> Result<(StatusCode, Json<SessionView>), ApiError> {
    if req.staff_id.is_empty() || req.staff_id.len() > 64 {
        return Err(StoreError::invalid("staff_id", "must be 1 to 64 characters").into());
    }
    if req.secret.len() > 256 {
        return Err(StoreError::invalid("secret", "too long").into());
    }
    // GB/T 5.4: the counter's own id, never another's.
    req.device = device.device(req.device.take());
    let ip = peer.map(|axum::Extension(c)| c.0.ip());
    // GB/T 5.6.2: counted before the secret is checked, so parallel guesses cannot all
    // pass; a right secret takes the try back.
    let attempt = match ip {
        None => None,
        Some(ip) => match st.login_limiter.try_begin(ip) {
            Some(a) => Some(a),
            None => {
                if st.login_limiter.newly_limited(ip) {
                    let actor = store::Actor {
                        staff_id: None,
                        device: req.device.as_deref().map(store::untrusted),
                    };
                    let detail = format!(
                        "{ip} tried {} after too many failed logins; its tries are refused \
                         without audit until a minute has passed",
                        store::untrusted(&req.staff_id)
                    );
                    st.store
                        .write(move |ctx| ctx.audit(&actor, "login_rate_limited", &detail))
                        .await?;
                } else {
                    tracing::debug!("login from {ip} refused: too many failed logins");
                }
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    "too many failed logins from this device: wait a minute",
                    None,
                ));
            }
        },
    };
    // Refused before any secret was checked, or right: the try is given back.
    let not_a_guess = |a: Option<limits::Attempt>| {
        if let Some(a) = a {
            a.succeeded();
        }
    };
    let staff_id = req.staff_id.clone();
    let check = st
        .store
        .read(move |c| store::load_login_check(c, &staff_id))
        .await?;
    if let Some(until) = check.as_ref().and_then(|c| c.locked_until)
        && until > Utc::now()
    {
        not_a_guess(attempt);
        return Err(StoreError::LockedOut(until).into());
    }
    // Administrators sign in with a password, never a short numeric PIN.
    if check
        .as_ref()
        .is_some_and(|c| c.record.role == domain::Role::Admin)
        && !crate::auth::is_password(&req.secret)
    {
        not_a_guess(attempt);
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "password_required",
            "administrator accounts sign in with a password of at least 10 characters, not a PIN",
            Some("secret"),
        ));
    }
    let stored = check.as_ref().and_then(|c| c.secret_hash.clone());
    let secret = req.secret.clone();
    let pepper = st.pepper.clone();
    let ok = tokio::task::spawn_blocking(move || {
        crate::auth::verify_secret(stored.as_deref(), &secret, &pepper)
    })
    .await
    .map_err(|e| StoreError::Internal(e.to_string()))?;
    let cfg = st.cfg.clone();
    match (ok, check) {
        (true, Some(check)) => {
            not_a_guess(attempt);
            let token = crate::auth::new_token();
            let view = st
                .store
                .write(move |ctx| {
                    store::start_session(ctx, &cfg, &check.record, req.counter, req.device, &token)
                })
                .await?;
            Ok((StatusCode::CREATED, Json(view)))
        }
        _ => {
            // A failed guess: `attempt` stays counted.
            drop(attempt);
            let staff_id = req.staff_id;
            let device = req.device;
            let locked = st
                .store
                .write(move |ctx| store::record_login_failure(ctx, &cfg, &staff_id, device))
                .await?;
            Err(match locked {
                Some(until) => StoreError::LockedOut(until),
                None => StoreError::BadCredentials,
            }
            .into())
        }
    }
}

async fn logout(State(st): State<AppState>, Staff(s): Staff) -> ApiResult<serde_json::Value> {
    st.store
        .write(move |ctx| store::end_session(ctx, &s))
        .await?;
    Ok(Json(serde_json::json!({ "logged_out": true })))
}

async fn create_request(
    State(st): State<AppState>,
    peer: Peer,
    MaybeStaff(s): MaybeStaff,
    Body(req): Body<CreateRequest>,
) -> Result<(StatusCode, Json<RequestView>), ApiError> {
    let actor = s.map_or_else(
        || Actor {
            staff_id: None,
            device: peer.device(Some("kiosk".into())),
        },
        |s| s.actor(),
    );
    let cfg = st.cfg.clone();
    let view = st
        .store
        .write(move |ctx| store::create_request(ctx, &cfg, &actor, &req))
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

async fn request(
    State(st): State<AppState>,
    Staff(_s): Staff,
    Path(id): Path<String>,
) -> ApiResult<RequestView> {
    let id = parse_id(&id)?;
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .read(move |c| store::read_request(c, &cfg, id, Utc::now()))
            .await?,
    ))
}

async fn advance_request(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Body(req): Body<AdvanceRequest>,
) -> ApiResult<RequestView> {
    let id = parse_id(&id)?;
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .write(move |ctx| store::advance_request(ctx, &cfg, &s, id, req.to))
            .await?,
    ))
}

async fn make_quote(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Body(req): Body<MakeQuote>,
) -> ApiResult<QuoteView> {
    let id = parse_id(&id)?;
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .write(move |ctx| store::make_quote(ctx, &cfg, &s, id, &req))
            .await?,
    ))
}

async fn acknowledge_quote(
    State(st): State<AppState>,
    MaybeStaff(s): MaybeStaff,
    Path(id): Path<String>,
    Body(req): Body<AcknowledgeQuote>,
) -> ApiResult<QuoteView> {
    let id = parse_id(&id)?;
    let actor = s.map_or_else(
        || Actor {
            staff_id: None,
            device: Some(req.via.clone()),
        },
        |s| s.actor(),
    );
    Ok(Json(
        st.store
            .write(move |ctx| store::acknowledge_quote(ctx, &actor, id, &req))
            .await?,
    ))
}

async fn record_payment(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Body(req): Body<RecordPayment>,
) -> Result<(StatusCode, Json<PaymentView>), ApiError> {
    let id = parse_id(&id)?;
    let cfg = st.cfg.clone();
    let p = st
        .store
        .write(move |ctx| store::record_payment(ctx, &cfg, &s, id, &req))
        .await?;
    Ok((StatusCode::CREATED, Json(p)))
}

async fn record_refund(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Body(req): Body<RecordRefund>,
) -> Result<(StatusCode, Json<RefundView>), ApiError> {
    let id = parse_id(&id)?;
    let cfg = st.cfg.clone();
    let r = st
        .store
        .write(move |ctx| store::record_refund(ctx, &cfg, &s, id, &req))
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

async fn refunds(State(st): State<AppState>, Staff(_s): Staff) -> ApiResult<Vec<RefundView>> {
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .read(move |c| store::list_refunds(c, &cfg, Utc::now()))
            .await?,
    ))
}

async fn refund_paid(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
) -> ApiResult<RefundView> {
    let id = parse_id(&id)?;
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .write(move |ctx| store::mark_refund_paid(ctx, &cfg, &s, id))
            .await?,
    ))
}

/// GB/T 5.6.2.3: walks the audit chain.
async fn verify_audit(State(st): State<AppState>, Staff(s): Staff) -> ApiResult<AuditVerification> {
    require_supervisor(&s)?;
    let (entries, first_broken) = st.store.read(store::verify_chain).await?;
    Ok(Json(AuditVerification {
        entries,
        ok: first_broken.is_none(),
        first_broken,
    }))
}
