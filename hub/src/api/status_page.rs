//! The public ticket status page behind a ticket's QR code (GB/T 4.1.3): `GET
//! /s/{centre_id}/{token}` at the root of the hub, no login, a small server-rendered page
//! for a phone (Chinese with English beneath, inline CSS, no script, no outside resource,
//! refreshed every 15 s), and `GET /s/{centre_id}/{token}.json` with the same figures as
//! [`TicketStatus`]. Headquarters serves the same path shape from synced data.
//!
//! It never shows personal data (GB/T 5.4.2): no name, phone, address or staff, only the
//! ticket's number, service, state, place in the queue, counter and request stage. It is
//! reached by the ticket's unguessable token only, never by a ticket id, and tells an
//! unknown token from another centre's apart by nothing.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use domain::{RequestStage, ServiceType, TicketState};
use protocol::sync::{STATUS_PAGE_PREFIX, TicketStatus};

use super::{ApiError, AppState};
use crate::config::Config;
use crate::store;

/// Seconds between the page's automatic refreshes.
const REFRESH_SECS: u32 = 15;

/// The page's routes, at the root of the hub (outside `/api/v1`).
pub(super) fn router(state: AppState) -> Router {
    Router::new()
        .route(
            &format!("{STATUS_PAGE_PREFIX}/{{centre_id}}/{{token}}"),
            get(status),
        )
        .with_state(state)
}

async fn status(
    State(st): State<AppState>,
    Path((centre_id, token)): Path<(String, String)>,
) -> Response {
    let (token, json) = match token.strip_suffix(".json") {
        Some(t) => (t.to_owned(), true),
        None => (token, false),
    };
    let cfg = st.cfg.clone();
    // Another centre's page is simply not here: the same answer as an unknown token.
    let found = if centre_id == cfg.centre.id {
        let cfg = cfg.clone();
        st.store
            .read(move |c| store::status::ticket_status(c, &cfg, &token, Utc::now()))
            .await
    } else {
        Ok(None)
    };
    match (found, json) {
        (Ok(Some(s)), true) => no_store(Json(s).into_response()),
        (Ok(Some(s)), false) => html(StatusCode::OK, &ticket_page(&cfg, &s)),
        (Ok(None), true) => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_ticket",
            "no ticket has this status link",
            None,
        )
        .into_response(),
        (Ok(None), false) => html(StatusCode::NOT_FOUND, &not_found_page()),
        (Err(e), true) => ApiError::from(e).into_response(),
        (Err(e), false) => {
            let problem = ApiError::from(e);
            tracing::warn!("status page not served: {}", problem.0.detail);
            html(StatusCode::SERVICE_UNAVAILABLE, &unavailable_page())
        }
    }
}

/// Never cached by a browser or a proxy: the figures change by the minute.
fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn html(status: StatusCode, body: &str) -> Response {
    let mut r = (status, body.to_owned()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Nothing from elsewhere, no script; the token in the address goes nowhere else.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-robots-tag", HeaderValue::from_static("noindex"));
    no_store(r)
}

/// Text for HTML: the five characters that could start markup (`&`, `<`, `>`, `"`, `'`)
/// are escaped.
fn esc(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

const STYLE: &str = "
*{box-sizing:border-box}
body{margin:0;background:#f2f4f8;color:#1d2433;font:16px/1.45 system-ui,-apple-system,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif}
main{max-width:30rem;margin:0 auto;padding:1rem}
.en{display:block;color:#5b6478;font-size:.85em}
header{padding:.25rem 0 .75rem}
header p{margin:0;font-weight:600}
.card{background:#fff;border-radius:.75rem;padding:1rem 1.25rem;margin:0 0 .75rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.label{margin:0;color:#5b6478;font-size:.9rem}
#number{margin:.1rem 0;font-size:3.5rem;font-weight:800;letter-spacing:.05em;line-height:1.1}
#service{margin:0;font-size:1.1rem}
#state{margin:0;font-size:1.3rem;font-weight:700}
.waiting #state{color:#1f5fbf}
.called #state,.called #counter{color:#b15b00}
.done #state{color:#2e7d32}
.gone #state{color:#8a1c1c}
dl{margin:0;display:grid;grid-template-columns:1fr 1fr;gap:.75rem}
dt{color:#5b6478;font-size:.9rem}
dd{margin:0;font-size:1.5rem;font-weight:700}
#counter{margin:0;font-size:1.6rem;font-weight:800}
#stage{margin:0}
footer{color:#5b6478;font-size:.85rem;text-align:center;padding:.5rem 0}
";

fn page(title: &str, class: &str, body: &str, refresh: bool) -> String {
    let refresh = if refresh {
        format!("<meta http-equiv=refresh content={REFRESH_SECS}>")
    } else {
        String::new()
    };
    format!(
        "<!doctype html>\n<html lang=zh-CN>\n<head>\n<meta charset=utf-8>\n\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\n{refresh}\n\
         <meta name=robots content=noindex>\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body class=\"{class}\">\n<main>\n{body}</main>\n</body>\n</html>\n"
    )
}

/// A Chinese line with its English beneath.
fn both(zh: &str, en: &str) -> String {
    format!("{}<span class=en lang=en>{}</span>", esc(zh), esc(en))
}

fn state_words(state: TicketState) -> (&'static str, &'static str) {
    match state {
        TicketState::Waiting => ("等候中", "Waiting"),
        TicketState::Called => ("已叫号，请到窗口", "Called: please go to the counter"),
        TicketState::Serving => ("正在办理", "Being served"),
        TicketState::OnHold => (
            "暂停，请回到窗口继续办理",
            "On hold: come back to the counter",
        ),
        TicketState::Finished => ("已办结", "Finished"),
        TicketState::NoShow => ("已过号", "Missed: not present when called"),
        TicketState::Cancelled => ("已取消", "Cancelled"),
    }
}

fn stage_en(stage: RequestStage) -> &'static str {
    match stage {
        RequestStage::Appointment => "Appointment",
        RequestStage::Acceptance => "Accepted",
        RequestStage::Processing => "Processing",
        RequestStage::Reply => "Replied",
        RequestStage::Archiving => "Completed and filed",
        RequestStage::FollowUp => "Follow-up",
        RequestStage::Evaluation => "Evaluation",
    }
}

fn service_names(cfg: &Config, service: ServiceType) -> (String, String) {
    cfg.service(service).map_or_else(
        || (service.name_zh().to_owned(), service.name_en().to_owned()),
        |s| (s.spec.name_zh.clone(), s.spec.name_en.clone()),
    )
}

/// `约 12 分钟` / `about 12 min`; `1 小时 05 分` / `1 h 05 min`; under a minute: soon.
fn wait_words(secs: u32) -> (String, String) {
    let m = secs.div_ceil(60);
    match m {
        0 => ("马上".to_owned(), "any moment now".to_owned()),
        1..60 => (format!("约 {m} 分钟"), format!("about {m} min")),
        _ => (
            format!("约 {} 小时 {:02} 分", m / 60, m % 60),
            format!("about {} h {:02} min", m / 60, m % 60),
        ),
    }
}

fn local_time(cfg: &Config, t: DateTime<Utc>) -> String {
    t.with_timezone(&cfg.centre.utc_offset)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The page of one ticket. Stable element ids: `#number`, `#service`, `#state`, `#ahead`,
/// `#wait`, `#counter`, `#stage`, `#as-of`.
fn ticket_page(cfg: &Config, s: &TicketStatus) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<header><p>{}</p></header>",
        both(&cfg.centre.name_zh, &cfg.centre.name_en)
    );
    let (svc_zh, svc_en) = service_names(cfg, s.service);
    let _ = write!(
        b,
        "<section class=card>\n<p class=label>{}</p>\n<p id=number>{}</p>\n<p id=service>{}</p>\n</section>\n",
        both("您的号码", "Your number"),
        esc(&s.number),
        both(&svc_zh, &svc_en)
    );
    let (st_zh, st_en) = state_words(s.state);
    let _ = write!(
        b,
        "<section class=card>\n<p id=state data-state={}>{}</p>\n",
        s.state.code(),
        both(st_zh, st_en)
    );
    if let Some(counter) = s.counter {
        let (zh, en) = match s.state {
            TicketState::Serving => (
                format!("您正在 {counter} 号窗口办理"),
                format!("You are at counter {counter}"),
            ),
            _ => (
                format!("请到 {counter} 号窗口"),
                format!("Please go to counter {counter}"),
            ),
        };
        let _ = writeln!(b, "<p id=counter>{}</p>", both(&zh, &en));
    }
    b.push_str("</section>\n");
    if let (Some(ahead), Some(wait)) = (s.people_ahead, s.estimated_wait_secs) {
        let (wait_zh, wait_en) = wait_words(wait);
        let _ = write!(
            b,
            "<section class=card>\n<dl>\n<div><dt>{}</dt><dd id=ahead>{}</dd></div>\n\
             <div><dt>{}</dt><dd id=wait>{}</dd></div>\n</dl>\n</section>\n",
            both("前面还有", "People ahead"),
            both(
                &format!("{ahead} 人"),
                &format!("{ahead} {}", if ahead == 1 { "person" } else { "people" })
            ),
            both("预计等候", "Estimated wait"),
            both(&wait_zh, &wait_en),
        );
    }
    if let Some(stage) = s.request_stage {
        // GB/T 8.1: where the request opened on this ticket stands.
        let _ = write!(
            b,
            "<section class=card>\n<p class=label>{}</p>\n<p id=stage data-stage={}>{}</p>\n</section>\n",
            both("服务单进度", "Your request"),
            stage.code(),
            both(stage.name_zh(), stage_en(stage))
        );
    }
    let _ = writeln!(
        b,
        "<footer><p id=as-of>{}</p></footer>",
        both(
            &format!(
                "更新于 {}，每 {REFRESH_SECS} 秒自动刷新",
                local_time(cfg, s.as_of)
            ),
            &format!(
                "As of {}; refreshes every {REFRESH_SECS} s",
                local_time(cfg, s.as_of)
            ),
        )
    );
    let class = match s.state {
        TicketState::Waiting => "waiting",
        TicketState::Called | TicketState::Serving | TicketState::OnHold => "called",
        TicketState::Finished => "done",
        TicketState::NoShow | TicketState::Cancelled => "gone",
    };
    let title = format!("{} · {}", s.number, cfg.centre.name_zh);
    page(&esc(&title), class, &b, true)
}

fn not_found_page() -> String {
    let body = format!(
        "<section class=card>\n<p id=state>{}</p>\n<p>{}</p>\n</section>\n",
        both("未找到这张号票", "Ticket not found"),
        both(
            "请扫描号票上的二维码，或到服务台咨询。",
            "Scan the QR code on your ticket again, or ask at the desk."
        )
    );
    page("未找到 / Not found", "gone", &body, false)
}

fn unavailable_page() -> String {
    let body = format!(
        "<section class=card>\n<p id=state>{}</p>\n</section>\n",
        both(
            "暂时无法查询，请稍后再试。",
            "Not available right now; try again shortly."
        )
    );
    page("暂不可用 / Unavailable", "gone", &body, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            esc("<b>\"A&B\"</b>'"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;&#x27;"
        );
    }

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(wait_words(0).1, "any moment now");
        assert_eq!(wait_words(61).0, "约 2 分钟");
        assert_eq!(wait_words(3900).1, "about 1 h 05 min");
    }
}
