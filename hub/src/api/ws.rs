//! The event stream: `GET /api/v1/events?since=SEQ` upgrades to a WebSocket that sends
//! every outbox event after `SEQ` as JSON text, then live events as they commit. A client
//! that reconnects with the last sequence it saw misses nothing and sees nothing twice;
//! a slow client that falls behind is caught up from the database.
//!
//! GB/T 5.4: a display board or kiosk gets the public view of each event (no status
//! token, staff id or customer), and its stream ends within seconds of its device being
//! revoked.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use super::access::DevicePeer;
use super::{ApiError, AppState};
use crate::store;

const PAGE: u32 = 500;
/// How often a device's stream checks that the device is still enrolled.
const RECHECK: Duration = Duration::from_secs(2);

/// Who the stream is for: whether it gets the public view, and which device to re-check.
#[derive(Debug, Clone)]
struct Viewer {
    public: bool,
    device: Option<DevicePeer>,
}

impl Viewer {
    fn of(peer: Option<DevicePeer>) -> Viewer {
        Viewer {
            public: peer.as_ref().is_some_and(DevicePeer::sees_public_view),
            device: peer,
        }
    }
}

fn parse_since(query: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(q) = query else { return Ok(None) };
    for pair in q.split('&') {
        if let Some(v) = pair.strip_prefix("since=") {
            return v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(Some)
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_field",
                        &format!("`{v}` is not a sequence number"),
                        Some("since"),
                    )
                });
        }
    }
    Ok(None)
}

pub(super) async fn events(
    State(st): State<AppState>,
    peer: Option<Extension<DevicePeer>>,
    RawQuery(q): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let since = parse_since(q.as_deref())?;
    if let Some(s) = since {
        // A client ahead of the hub (e.g. after a restore from backup) would silently skip
        // events: it must take a fresh snapshot instead.
        let last = st.store.read(store::last_seq).await?;
        if s > last {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "since_ahead",
                &format!(
                    "sequence {s} is ahead of the hub's last event {last}: fetch /queue again"
                ),
                Some("since"),
            ));
        }
    }
    let ws = ws.map_err(|e| {
        ApiError::new(
            e.status(),
            "websocket_required",
            &format!("this endpoint is a WebSocket: {}", e.body_text()),
            None,
        )
    })?;
    let viewer = Viewer::of(peer.map(|Extension(p)| p));
    Ok(ws.on_upgrade(move |socket| async move {
        if let Err(e) = stream(socket, st, since, viewer).await {
            tracing::debug!("event stream ended: {e}");
        }
    }))
}

#[derive(Debug, thiserror::Error)]
enum StreamEnd {
    #[error("client went away")]
    ClientGone,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

async fn send_after(
    socket: &mut WebSocket,
    st: &AppState,
    viewer: &Viewer,
    last: &mut i64,
    upto: Option<i64>,
) -> Result<(), StreamEnd> {
    loop {
        let from = *last;
        let page = st
            .store
            .read(move |c| store::events_since(c, from, PAGE))
            .await?;
        if page.is_empty() {
            return Ok(());
        }
        for env in page {
            if upto.is_some_and(|u| env.seq > u) {
                return Ok(());
            }
            send(socket, viewer, &env).await?;
            *last = env.seq;
        }
    }
}

async fn send(
    socket: &mut WebSocket,
    viewer: &Viewer,
    env: &protocol::EventEnvelope,
) -> Result<(), StreamEnd> {
    let text = if viewer.public {
        serde_json::to_string(&env.public_view())
    } else {
        serde_json::to_string(env)
    }
    .map_err(|e| store::StoreError::Internal(e.to_string()))?;
    socket
        .send(Message::Text(Utf8Bytes::from(text)))
        .await
        .map_err(|_| StreamEnd::ClientGone)
}

/// Whether the viewer's device (if any) is still enrolled, neither revoked nor expired.
async fn still_enrolled(st: &AppState, viewer: &Viewer) -> Result<bool, StreamEnd> {
    let Some(d) = &viewer.device else {
        return Ok(true);
    };
    Ok(matches!(
        super::access::certificate_status(st, &d.fingerprint).await?,
        store::devices::CertStatus::Active(_)
    ))
}

async fn stream(
    mut socket: WebSocket,
    st: AppState,
    since: Option<i64>,
    viewer: Viewer,
) -> Result<(), StreamEnd> {
    // Subscribe before reading the backlog, so nothing committed in between is lost.
    let mut live = st.store.subscribe();
    let mut shutdown = st.shutdown.clone();
    let mut last = match since {
        Some(s) => s,
        None => st.store.read(store::last_seq).await?,
    };
    send_after(&mut socket, &st, &viewer, &mut last, None).await?;
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    let mut recheck = tokio::time::interval(RECHECK);
    loop {
        tokio::select! {
            _ = recheck.tick(), if viewer.device.is_some() => {
                // GB/T 5.4: a revoked device's stream ends within seconds.
                if !still_enrolled(&st, &viewer).await? {
                    let _ = socket.send(Message::Close(Some(CloseFrame {
                        code: 1008,
                        reason: Utf8Bytes::from_static("this device's certificate was revoked"),
                    }))).await;
                    return Ok(());
                }
            }
            _ = shutdown.changed() => {
                let _ = socket.send(Message::Close(None)).await;
                return Ok(());
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Err(StreamEnd::ClientGone),
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                socket.send(Message::Ping(bytes::Bytes::new())).await.map_err(|_| StreamEnd::ClientGone)?;
            }
            event = live.recv() => match event {
                Ok(env) if env.seq <= last => {}
                Ok(env) => {
                    if env.seq > last + 1 {
                        send_after(&mut socket, &st, &viewer, &mut last, Some(env.seq - 1)).await?;
                    }
                    if env.seq > last {
                        send(&mut socket, &viewer, &env).await?;
                        last = env.seq;
                    }
                }
                Err(RecvError::Lagged(_)) => send_after(&mut socket, &st, &viewer, &mut last, None).await?,
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}
