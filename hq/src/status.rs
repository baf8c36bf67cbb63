//! The public ticket status page behind a ticket's QR code (`/s/{centre_id}/{token}`, and
//! `.json` for [`protocol::sync::TicketStatus`]): number, service, state, people ahead, an
//! estimated wait, the counter, the request's GB/T 8.1 stage and when the figures were
//! true. It shows no personal data and no internal ids (GB/T 5.4.2): nothing from
//! `requests.customer`, staff or payments is ever read here.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Utc};
use domain::{RequestStage, ServiceType, TicketState};
use protocol::sync::TicketStatus;
use tokio_postgres::GenericClient;

use crate::html::{escape, page, page_with_refresh, zh_en};
use crate::problem::Problem;
use crate::{HqState, db};

/// Finished tickets the typical service time is taken over (as on the hub).
pub const MEDIAN_OVER: i64 = domain::estimate::SAMPLE_WINDOW as i64;
/// The page reloads itself this often.
pub const REFRESH_SECS: u32 = 30;

/// Looks up the status of the ticket with `token` at `centre_id`; `None` if unknown.
pub async fn ticket_status(
    client: &impl GenericClient,
    centre_id: &str,
    token: &str,
) -> Result<Option<TicketStatus>, tokio_postgres::Error> {
    let Some(row) = client
        .query_opt(
            "SELECT t.number, t.service, t.state, t.counter, t.issued_at, c.name,
                    c.utc_offset_minutes,
                    (SELECT r.stage FROM requests r
                      WHERE r.centre_id = t.centre_id AND r.ticket_id = t.ticket_id
                      ORDER BY r.created_at DESC, r.request_id DESC LIMIT 1),
                    p.last_event_at, t.updated_at
               FROM tickets t
               JOIN centres c ON c.centre_id = t.centre_id
               LEFT JOIN projection_cursor p ON p.centre_id = t.centre_id
              WHERE t.centre_id = $1 AND t.token = $2",
            &[&centre_id, &token],
        )
        .await?
    else {
        return Ok(None);
    };
    let number: String = row.try_get(0)?;
    let service_code: String = row.try_get(1)?;
    let state_code: String = row.try_get(2)?;
    let counter: Option<i32> = row.try_get(3)?;
    let issued_at: DateTime<Utc> = row.try_get(4)?;
    let centre_name: String = row.try_get(5)?;
    let offset_minutes: i32 = row.try_get(6)?;
    let stage: Option<String> = row.try_get(7)?;
    let last_event_at: Option<DateTime<Utc>> = row.try_get(8)?;
    let updated_at: DateTime<Utc> = row.try_get(9)?;
    let (Ok(service), Some(state)) = (
        service_code.parse::<ServiceType>(),
        TicketState::from_code(&state_code),
    ) else {
        // A service or state this build does not know (a newer hub): nothing sensible to show.
        return Ok(None);
    };

    let (people_ahead, estimated_wait_secs) = if state == TicketState::Waiting {
        let day_start = local_day_start(issued_at, offset_minutes);
        let ahead: i64 = client
            .query_one(
                "SELECT count(*) FROM tickets
                  WHERE centre_id = $1 AND service = $2 AND state = 'waiting'
                    AND issued_at >= $3 AND issued_at < $4",
                &[&centre_id, &service_code, &day_start, &issued_at],
            )
            .await?
            .try_get(0)?;
        // The hub's own estimate (GB/T 5.2.1), from synced data: the typical of the last
        // finished service times (oldest first), shared among the counters that served
        // this service today; before any finished, the standard's default for the service.
        let recent: Vec<u32> = client
            .query(
                "SELECT service_secs FROM (
                     SELECT service_secs, finished_at FROM tickets
                      WHERE centre_id = $1 AND service = $2 AND state = 'finished'
                        AND service_secs IS NOT NULL
                      ORDER BY finished_at DESC LIMIT $3) recent
                  ORDER BY finished_at",
                &[&centre_id, &service_code, &MEDIAN_OVER],
            )
            .await?
            .iter()
            .map(|r| {
                r.try_get::<_, i32>(0)
                    .map(|v| u32::try_from(v).unwrap_or(0))
            })
            .collect::<Result<_, _>>()?;
        let counters: i64 = client
            .query_one(
                "SELECT count(DISTINCT counter) FROM tickets
                  WHERE centre_id = $1 AND service = $2 AND counter IS NOT NULL
                    AND called_at >= $3",
                &[&centre_id, &service_code, &day_start],
            )
            .await?
            .try_get(0)?;
        let default_secs = domain::ServiceSpec::default_for(service)
            .default_service_minutes
            .saturating_mul(60);
        let ahead = u32::try_from(ahead).unwrap_or(u32::MAX);
        let estimate = domain::estimate::estimate_wait(
            ahead,
            u32::try_from(counters).unwrap_or(1).max(1),
            &recent,
            default_secs,
        );
        (Some(ahead), Some(estimate.wait_secs))
    } else {
        (None, None)
    };
    let counter = if state.is_at_counter() {
        counter.and_then(|c| u32::try_from(c).ok())
    } else {
        None
    };
    Ok(Some(TicketStatus {
        centre_name,
        number,
        service,
        state,
        people_ahead,
        estimated_wait_secs,
        counter,
        request_stage: stage.as_deref().and_then(RequestStage::from_code),
        as_of: last_event_at.unwrap_or(updated_at),
    }))
}

/// Midnight of `at`'s local day at a centre `offset_minutes` east of UTC.
pub fn local_day_start(at: DateTime<Utc>, offset_minutes: i32) -> DateTime<Utc> {
    let offset = Duration::minutes(i64::from(offset_minutes));
    let local_midnight = (at + offset).date_naive().and_time(NaiveTime::MIN);
    local_midnight.and_utc() - offset
}

fn tokenish(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /s/{centre_id}/{token}` (HTML) and `GET /s/{centre_id}/{token}.json`.
pub async fn status(
    State(state): State<HqState>,
    Path((centre_id, token)): Path<(String, String)>,
) -> Response {
    let (token, json) = match token.strip_suffix(".json") {
        Some(t) => (t.to_owned(), true),
        None => (token, false),
    };
    let found = if crate::centres::valid_centre_id(&centre_id) && tokenish(&token) {
        let client = match state.pool.get().await {
            Ok(c) => c,
            Err(e) => {
                return Problem::internal("show the ticket", db::pool_error_text(&e))
                    .into_response();
            }
        };
        let plain: &tokio_postgres::Client = &client;
        match ticket_status(plain, &centre_id, &token).await {
            Ok(s) => s,
            Err(e) => {
                return Problem::internal("show the ticket", db::db_error_text(&e)).into_response();
            }
        }
    } else {
        None
    };
    let offset = match &found {
        Some(_) => centre_offset(&state, &centre_id).await,
        None => 480,
    };
    let mut response = match (found, json) {
        (Some(s), true) => Json(s).into_response(),
        (None, true) => Problem::new(
            StatusCode::NOT_FOUND,
            "unknown_ticket",
            "no such ticket / 没有这张号票",
        )
        .into_response(),
        (Some(s), false) => Html(render(&s, offset)).into_response(),
        (None, false) => (StatusCode::NOT_FOUND, Html(render_not_found())).into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    response
}

async fn centre_offset(state: &HqState, centre_id: &str) -> i32 {
    let Ok(client) = state.pool.get().await else {
        return 480;
    };
    client
        .query_opt(
            "SELECT utc_offset_minutes FROM centres WHERE centre_id = $1",
            &[&centre_id],
        )
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get(0).ok())
        .unwrap_or(480)
}

fn state_words(s: TicketState) -> (&'static str, &'static str) {
    match s {
        TicketState::Waiting => ("等候中", "Waiting"),
        TicketState::Called => ("已叫号，请前往窗口", "Called: please go to the counter"),
        TicketState::Serving => ("办理中", "Being served"),
        TicketState::OnHold => ("暂停办理", "On hold"),
        TicketState::Finished => ("已办结", "Finished"),
        TicketState::NoShow => ("已过号", "Missed (not present when called)"),
        TicketState::Cancelled => ("已取消", "Cancelled"),
    }
}

fn stage_en(s: RequestStage) -> &'static str {
    match s {
        RequestStage::Appointment => "Appointment",
        RequestStage::Acceptance => "Accepted",
        RequestStage::Processing => "Processing",
        RequestStage::Reply => "Reply",
        RequestStage::Archiving => "Archived",
        RequestStage::FollowUp => "Follow-up",
        RequestStage::Evaluation => "Evaluation",
    }
}

/// The status page. Every figure sits in an element with a stable id.
pub fn render(s: &TicketStatus, offset_minutes: i32) -> String {
    let dash = "—";
    let (state_zh, state_en) = state_words(s.state);
    let ahead = s.people_ahead.map_or_else(
        || dash.to_owned(),
        |n| zh_en(&format!("前面还有 {n} 人"), &format!("{n} ahead of you")),
    );
    let wait = s.estimated_wait_secs.map_or_else(
        || dash.to_owned(),
        |secs| {
            let minutes = secs.div_ceil(60);
            zh_en(
                &format!("约 {minutes} 分钟"),
                &format!("about {minutes} min"),
            )
        },
    );
    let counter = s.counter.map_or_else(
        || dash.to_owned(),
        |c| zh_en(&format!("{c} 号窗口"), &format!("Counter {c}")),
    );
    let stage = s
        .request_stage
        .map_or_else(|| dash.to_owned(), |st| zh_en(st.name_zh(), stage_en(st)));
    let local = FixedOffset::east_opt(offset_minutes * 60)
        .map(|tz| {
            s.as_of
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| s.as_of.format("%Y-%m-%d %H:%M UTC").to_string());
    let body = format!(
        "<h1>{centre}</h1>
<section class=\"card\">
<div class=\"note\">{label_number}</div>
<div class=\"big\" id=\"number\">{number}</div>
</section>
<section class=\"card\">
<dl>
<dt>{l_service}</dt><dd id=\"service\">{service}</dd>
<dt>{l_state}</dt><dd id=\"state\" data-state=\"{state_code}\">{state}</dd>
<dt>{l_ahead}</dt><dd id=\"ahead\">{ahead}</dd>
<dt>{l_wait}</dt><dd id=\"wait\">{wait}</dd>
<dt>{l_counter}</dt><dd id=\"counter\">{counter}</dd>
<dt>{l_stage}</dt><dd id=\"stage\">{stage}</dd>
</dl>
</section>
<p class=\"note\">{l_as_of} <time id=\"as-of\" datetime=\"{as_of_iso}\">{local}</time></p>
<p class=\"note\">总部数据可能比服务中心现场略有延迟，请以现场叫号为准。本页每 {REFRESH_SECS} 秒自动刷新。<span class=\"en\">Headquarters' copy may lag behind the centre; the centre's own display and calls are what count. This page refreshes every {REFRESH_SECS} seconds.</span></p>",
        centre = escape(&s.centre_name),
        label_number = zh_en("您的号码", "Your number"),
        number = escape(&s.number),
        l_service = zh_en("服务", "Service"),
        service = zh_en(s.service.name_zh(), s.service.name_en()),
        l_state = zh_en("状态", "Status"),
        state_code = s.state.code(),
        state = zh_en(state_zh, state_en),
        l_ahead = zh_en("排队", "Queue"),
        l_wait = zh_en("预计等候", "Estimated wait"),
        l_counter = zh_en("窗口", "Counter"),
        l_stage = zh_en("服务进度", "Request stage"),
        l_as_of = zh_en("数据时间", "As of"),
        as_of_iso = s.as_of.to_rfc3339(),
    );
    page_with_refresh(
        &format!("{} {} · 排队状态 Queue status", s.number, s.centre_name),
        &body,
        Some(REFRESH_SECS),
    )
}

/// The page for a token headquarters does not know (bilingual, like the real one).
pub fn render_not_found() -> String {
    let body = format!(
        "<h1>{}</h1><section class=\"card\"><p>{}</p></section>",
        zh_en("未找到号票", "Ticket not found"),
        zh_en(
            "没有找到这张号票。号票可能刚刚取出、尚未同步到总部，或已过期。请稍后再试，或以服务中心现场叫号为准。",
            "We could not find this ticket. It may be very new and not yet copied to headquarters, or expired. Try again in a minute, or follow the centre's own display."
        )
    );
    page("未找到号票 Ticket not found", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn local_day_starts_at_local_midnight() {
        // 2025-03-01 17:30 UTC is 2025-03-02 01:30 in Beijing (UTC+8).
        let at = Utc.with_ymd_and_hms(2025, 3, 1, 17, 30, 0).unwrap();
        assert_eq!(
            local_day_start(at, 480),
            Utc.with_ymd_and_hms(2025, 3, 1, 16, 0, 0).unwrap()
        );
        assert_eq!(
            local_day_start(at, 0),
            Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap()
        );
    }

    #[test]
    fn page_escapes_the_centre_name() {
        let s = TicketStatus {
            centre_name: "<b>x</b>".into(),
            number: "A001".into(),
            service: ServiceType::Repair,
            state: TicketState::Waiting,
            people_ahead: Some(2),
            estimated_wait_secs: Some(600),
            counter: None,
            request_stage: None,
            as_of: Utc.with_ymd_and_hms(2025, 3, 1, 1, 0, 0).unwrap(),
        };
        let html = render(&s, 480);
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(html.contains("约 10 分钟"));
        assert!(html.contains("2025-03-01 09:00"));
    }
}
