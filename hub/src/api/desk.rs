//! Handlers for the kiosk and the counter desk: knowledge base, intake, device alerts,
//! appointments, ratings, the waiting list, agreements, follow-ups, contact reveal and
//! erasure.
//!
//! GB/T 5.4: a device acts under the id in its certificate, never one it names in a body.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use protocol::*;

use super::extract::{Body, MaybeStaff, Peer, Staff, parse_id};
use super::{ApiError, ApiResult, AppState};
use crate::store::{self, StoreError, appointments, desk, sms};

#[derive(Debug, serde::Deserialize)]
pub(super) struct KnowledgeQuery {
    #[serde(default)]
    q: Option<String>,
}

/// GB/T 7.3: the common questions and problem lists, optionally searched.
pub(super) async fn knowledge(
    State(st): State<AppState>,
    Query(query): Query<KnowledgeQuery>,
) -> ApiResult<KnowledgeBase> {
    let q = query.q.unwrap_or_default();
    if q.chars().count() > 100 {
        return Err(StoreError::invalid("q", "at most 100 characters").into());
    }
    Ok(Json(crate::knowledge::search(&st.cfg.knowledge, &q)))
}

pub(super) async fn intake(
    State(st): State<AppState>,
    peer: Peer,
    Body(mut req): Body<KioskIntake>,
) -> Result<(StatusCode, Json<IntakeReceipt>), ApiError> {
    req.device = peer.device(req.device.take());
    let cfg = st.cfg.clone();
    let receipt = st
        .store
        .write(move |ctx| desk::kiosk_intake(ctx, &cfg, &req))
        .await?;
    Ok((StatusCode::CREATED, Json(receipt)))
}

pub(super) async fn report_alert(
    State(st): State<AppState>,
    peer: Peer,
    Body(mut req): Body<DeviceAlert>,
) -> ApiResult<serde_json::Value> {
    if let Some(own) = peer.device(None) {
        req.device = own;
    }
    let changed = st
        .store
        .write(move |ctx| desk::report_alert(ctx, &req))
        .await?;
    Ok(Json(serde_json::json!({ "changed": changed })))
}

pub(super) async fn alerts(State(st): State<AppState>) -> ApiResult<Vec<AlertView>> {
    Ok(Json(st.store.read(desk::active_alerts).await?))
}

pub(super) async fn book_appointment(
    State(st): State<AppState>,
    Staff(s): Staff,
    Body(req): Body<CreateAppointment>,
) -> Result<(StatusCode, Json<AppointmentView>), ApiError> {
    let cfg = st.cfg.clone();
    let a = st
        .store
        .write(move |ctx| appointments::book_appointment(ctx, &cfg, &s, &req))
        .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

pub(super) async fn appointment(
    State(st): State<AppState>,
    Staff(_s): Staff,
    Path(code): Path<String>,
) -> ApiResult<AppointmentView> {
    check_code(&code)?;
    Ok(Json(
        st.store
            .read(move |c| appointments::appointment_by_code(c, &code))
            .await?,
    ))
}

/// GB/T 8.1: the customer checks in with their appointment code and gets their ticket
/// (with its token, for their QR code). GB/T 5.4: a kiosk is not told which staff
/// booked or changed the appointment.
pub(super) async fn check_in(
    State(st): State<AppState>,
    peer: Peer,
    Body(mut req): Body<CheckIn>,
) -> ApiResult<CheckedIn> {
    check_code(&req.code)?;
    req.device = peer.device(req.device.take());
    let cfg = st.cfg.clone();
    let mut checked = st
        .store
        .write(move |ctx| appointments::check_in(ctx, &cfg, &req))
        .await?;
    if peer.public() {
        for change in &mut checked.appointment.history {
            change.staff_id = None;
        }
        checked.ticket.ticket.staff_id = None;
    }
    Ok(Json(checked))
}

pub(super) async fn rate(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<Rate>,
) -> Result<(StatusCode, Json<RatingView>), ApiError> {
    let id = parse_id(&id)?;
    let r = st
        .store
        .write(move |ctx| desk::rate_ticket(ctx, id, &req))
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

pub(super) async fn requests_for_ticket(
    State(st): State<AppState>,
    Staff(_s): Staff,
    Path(id): Path<String>,
) -> ApiResult<Vec<RequestView>> {
    let id = parse_id(&id)?;
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .read(move |c| desk::requests_for_ticket(c, &cfg, id, Utc::now()))
            .await?,
    ))
}

pub(super) async fn waiting(
    State(st): State<AppState>,
    Staff(_s): Staff,
) -> ApiResult<WaitingList> {
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .read(move |c| desk::waiting_list(c, &cfg, Utc::now()))
            .await?,
    ))
}

pub(super) async fn counter_today(
    State(st): State<AppState>,
    Staff(_s): Staff,
    Path(n): Path<String>,
) -> ApiResult<CounterToday> {
    let n = u32::try_from(parse_id(&n)?)
        .map_err(|_| ApiError::from(StoreError::invalid("counter", "not a counter number")))?;
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .read(move |c| desk::counter_today(c, &cfg, n))
            .await?,
    ))
}

pub(super) async fn reveal_contact(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
) -> ApiResult<ContactView> {
    let id = parse_id(&id)?;
    Ok(Json(
        st.store
            .write(move |ctx| store::reveal_contact(ctx, &s, id))
            .await?,
    ))
}

pub(super) async fn write_agreement(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Body(req): Body<DraftAgreement>,
) -> Result<(StatusCode, Json<AgreementView>), ApiError> {
    let id = parse_id(&id)?;
    let cfg = st.cfg.clone();
    let a = st
        .store
        .write(move |ctx| desk::write_agreement(ctx, &cfg, &s, id, &req))
        .await?;
    Ok((StatusCode::CREATED, Json(a)))
}

pub(super) async fn agreements(
    State(st): State<AppState>,
    Staff(_s): Staff,
    Path(id): Path<String>,
) -> ApiResult<Vec<AgreementView>> {
    let id = parse_id(&id)?;
    Ok(Json(st.store.read(move |c| desk::agreements(c, id)).await?))
}

pub(super) async fn follow_ups(
    State(st): State<AppState>,
    Staff(_s): Staff,
) -> ApiResult<Vec<FollowUpDue>> {
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .read(move |c| desk::follow_ups_due(c, &cfg, Utc::now()))
            .await?,
    ))
}

pub(super) async fn record_follow_up(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Body(req): Body<RecordFollowUp>,
) -> Result<(StatusCode, Json<FollowUpView>), ApiError> {
    let id = parse_id(&id)?;
    let cfg = st.cfg.clone();
    let f = st
        .store
        .write(move |ctx| desk::record_follow_up(ctx, &cfg, &s, id, &req))
        .await?;
    Ok((StatusCode::CREATED, Json(f)))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct SlotQuery {
    service: String,
    date: String,
}

/// GB/T 8.1: the bookable slots of one service on one day.
pub(super) async fn slots(
    State(st): State<AppState>,
    Query(q): Query<SlotQuery>,
) -> ApiResult<Vec<SlotView>> {
    let service: domain::ServiceType = q
        .service
        .parse()
        .map_err(|e| ApiError::from(StoreError::invalid("service", format!("{e}"))))?;
    let date: chrono::NaiveDate = q
        .date
        .parse()
        .map_err(|_| ApiError::from(StoreError::invalid("date", "a date like 2026-12-01")))?;
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .read(move |c| appointments::slots(c, &cfg, service, date))
            .await?,
    ))
}

pub(super) async fn reschedule(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(code): Path<String>,
    Body(req): Body<Reschedule>,
) -> ApiResult<AppointmentView> {
    check_code(&code)?;
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .write(move |ctx| appointments::reschedule(ctx, &cfg, &s, &code, &req))
            .await?,
    ))
}

pub(super) async fn cancel_appointment(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(code): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<AppointmentView> {
    check_code(&code)?;
    let r: Reason = super::extract::parse_optional_body(&body)?;
    Ok(Json(
        st.store
            .write(move |ctx| appointments::cancel(ctx, &s, &code, &r.reason))
            .await?,
    ))
}

pub(super) async fn lease_sms(
    State(st): State<AppState>,
    peer: Peer,
    Body(mut req): Body<LeaseSms>,
) -> ApiResult<Option<SmsToSend>> {
    if let Some(own) = peer.device(None) {
        req.device = own;
    }
    let cfg = st.cfg.clone();
    Ok(Json(
        st.store
            .write(move |ctx| sms::lease(ctx, &cfg, &req.device))
            .await?,
    ))
}

pub(super) async fn sms_result(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Body(req): Body<SmsResult>,
) -> ApiResult<SmsView> {
    let id = parse_id(&id)?;
    Ok(Json(
        st.store
            .write(move |ctx| sms::report(ctx, id, &req))
            .await?,
    ))
}

pub(super) async fn sms_messages(
    State(st): State<AppState>,
    Staff(_s): Staff,
) -> ApiResult<Vec<SmsView>> {
    Ok(Json(st.store.read(sms::list).await?))
}

/// Says nothing about whether the number had messages waiting.
pub(super) async fn sms_opt_out(
    State(st): State<AppState>,
    MaybeStaff(s): MaybeStaff,
    Body(req): Body<SmsOptOut>,
) -> ApiResult<serde_json::Value> {
    let actor = s.map_or_else(
        || store::Actor {
            staff_id: None,
            device: Some("customer".into()),
        },
        |s| s.actor(),
    );
    st.store
        .write(move |ctx| sms::opt_out(ctx, &actor, &req.phone))
        .await?;
    Ok(Json(serde_json::json!({ "opted_out": true })))
}

fn check_code(code: &str) -> Result<(), ApiError> {
    if code.is_empty() || code.len() > 32 {
        return Err(StoreError::invalid("code", "1 to 32 characters").into());
    }
    Ok(())
}

/// The customer at the counter wants no more text messages (GB/T 5.4).
pub(super) async fn request_sms_opt_out(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(id): Path<String>,
) -> ApiResult<serde_json::Value> {
    let id = parse_id(&id)?;
    st.store
        .write(move |ctx| sms::opt_out_request(ctx, &s.actor(), id))
        .await?;
    Ok(Json(serde_json::json!({ "opted_out": true })))
}

/// GB/T 5.4, 5.6.2.2: a supervisor or an administrator erases a customer's personal data
/// (at the customer's request, or when it was kept long enough). Repeating it is harmless.
pub(super) async fn erase_customer(
    State(st): State<AppState>,
    Staff(s): Staff,
    Path(pseudonym): Path<String>,
    Body(req): Body<EraseCustomer>,
) -> ApiResult<ErasureView> {
    super::require_supervisor(&s)?;
    let actor = s.actor();
    Ok(Json(
        st.store
            .write(move |ctx| store::erase_customer(ctx, &pseudonym, req.reason, &actor))
            .await?,
    ))
}
