//! The event stream: `GET /api/v1/events?since=SEQ` upgrades to a WebSocket that sends
//! every outbox event after `SEQ` as JSON text, then live events as they commit. A client
//! that reconnects with the last sequence it saw misses nothing and sees nothing twice;
//! a slow client that falls behind is caught up from the database.

use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use tokio::sync::broadcast::error::RecvError;

use super::{ApiError, AppState};
use crate::store;

const PAGE: u32 = 500;

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
    Ok(ws.on_upgrade(move |socket| async move {
        if let Err(e) = stream(socket, st, since).await {
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
            send(socket, &env).await?;
            *last = env.seq;
        }
    }
}

async fn send(socket: &mut WebSocket, env: &protocol::EventEnvelope) -> Result<(), StreamEnd> {
    let text =
        serde_json::to_string(env).map_err(|e| store::StoreError::Internal(e.to_string()))?;
    socket
        .send(Message::Text(Utf8Bytes::from(text)))
        .await
        .map_err(|_| StreamEnd::ClientGone)
}

async fn stream(mut socket: WebSocket, st: AppState, since: Option<i64>) -> Result<(), StreamEnd> {
    // Subscribe before reading the backlog, so nothing committed in between is lost.
    let mut live = st.store.subscribe();
    let mut shutdown = st.shutdown.clone();
    let mut last = match since {
        Some(s) => s,
        None => st.store.read(store::last_seq).await?,
    };
    send_after(&mut socket, &st, &mut last, None).await?;
    let mut ping = tokio::time::interval(Duration::from_secs(20));
    loop {
        tokio::select! {
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
                        send_after(&mut socket, &st, &mut last, Some(env.seq - 1)).await?;
                    }
                    if env.seq > last {
                        send(&mut socket, &env).await?;
                        last = env.seq;
                    }
                }
                Err(RecvError::Lagged(_)) => send_after(&mut socket, &st, &mut last, None).await?,
                Err(RecvError::Closed) => return Ok(()),
            },
        }
    }
}
