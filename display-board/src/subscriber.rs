//! Keeps a [`BoardModel`] in step with the hub: fetches the catalogue and `/queue`,
//! subscribes to `/api/v1/events?since=SEQ`, applies each event once, and after any
//! disconnect resumes from the last sequence it applied, with backoff, for ever (the
//! board never needs a manual refresh). Waiting estimates (GB/T 4.1.1) are refreshed from
//! `/queue` after queue changes and every half minute.
//!
//! It never touches Slint or audio: it reports each change as a [`BoardUpdate`].

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use protocol::{EventEnvelope, HubClient};
use tokio::sync::mpsc::UnboundedSender;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::model::{Applied, BoardModel, Connection, Now};

/// The model shared between the subscriber and whoever shows it.
pub type SharedBoard = Arc<Mutex<BoardModel>>;

/// Locks the model, carrying on after a panic elsewhere (the model stays consistent:
/// every update is a whole-event function).
pub fn lock(board: &SharedBoard) -> MutexGuard<'_, BoardModel> {
    board.lock().unwrap_or_else(|p| p.into_inner())
}

/// What changed, for the UI adapter and the announcer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardUpdate {
    /// Something on the board changed; re-render from the model.
    Changed,
    /// A ticket was called (already in the model); `seq` is its event's sequence.
    Called {
        seq: i64,
        announce: Option<crate::model::Announcement>,
    },
    Connection(Connection),
}

#[derive(Debug, Clone)]
pub struct SubscriberOptions {
    /// First delay after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Silence after which the socket is presumed dead (the hub pings every 20 s).
    pub idle_timeout: Duration,
    /// How often waiting estimates are refreshed even without queue changes.
    pub waits_every: Duration,
    /// The shortest interval between two refreshes after queue changes.
    pub waits_debounce: Duration,
}

impl Default for SubscriberOptions {
    fn default() -> Self {
        SubscriberOptions {
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(45),
            waits_every: Duration::from_secs(30),
            waits_debounce: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum Lost {
    #[error("hub unreachable: {0}")]
    Hub(#[from] protocol::ClientError),
    #[error("event stream: {0}")]
    Socket(Box<tungstenite::Error>),
    #[error("the hub is behind this board (restored?): starting over from a snapshot")]
    HubBehind,
    #[error("sequence gap: expected {expected}, got {got}")]
    Gap { expected: i64, got: i64 },
    #[error("no message from the hub for {0:?}")]
    Silent(Duration),
    #[error("the hub closed the stream")]
    Closed,
}

impl From<tungstenite::Error> for Lost {
    fn from(e: tungstenite::Error) -> Lost {
        Lost::Socket(Box::new(e))
    }
}

/// Follows the hub at `hub_url` (e.g. `http://127.0.0.1:8470`) until `shutdown` resolves.
/// Resumes from the model's `last_seq` if it already has one (a restarted subscriber
/// shows exactly the calls it missed, once).
pub async fn run(
    hub_url: &str,
    board: SharedBoard,
    updates: UnboundedSender<BoardUpdate>,
    opts: SubscriberOptions,
    shutdown: impl Future<Output = ()>,
) {
    let client = HubClient::new(hub_url);
    let ws_base = client
        .url("/events")
        .replacen("http://", "ws://", 1)
        .replacen("https://", "wss://", 1);
    let mut follower = Follower {
        client,
        ws_base,
        board,
        updates,
        opts,
    };
    tokio::select! {
        () = shutdown => {}
        () = follower.follow() => {}
    }
}

struct Follower {
    client: HubClient,
    ws_base: String,
    board: SharedBoard,
    updates: UnboundedSender<BoardUpdate>,
    opts: SubscriberOptions,
}

impl Follower {
    async fn follow(&mut self) {
        let mut backoff = self.opts.min_backoff;
        let mut need_snapshot = lock(&self.board).last_seq().is_none();
        loop {
            match self.session(&mut need_snapshot, &mut backoff).await {
                Ok(()) => {}
                Err(Lost::HubBehind) => need_snapshot = true,
                Err(e) => tracing::info!("board: {e}; reconnecting in {backoff:?}"),
            }
            self.set_connection(Connection::Reconnecting);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.opts.max_backoff);
        }
    }

    fn set_connection(&self, c: Connection) {
        if lock(&self.board).set_connection(c) {
            let _ = self.updates.send(BoardUpdate::Connection(c));
        }
    }

    async fn refresh_waits(&self) -> Result<(), Lost> {
        let snap = self.client.queue().await?;
        lock(&self.board).apply_waits(&snap);
        let _ = self.updates.send(BoardUpdate::Changed);
        Ok(())
    }

    /// One connection: snapshot if needed, subscribe, apply events until it drops.
    async fn session(&self, need_snapshot: &mut bool, backoff: &mut Duration) -> Result<(), Lost> {
        if *need_snapshot {
            let cat = self.client.catalogue().await?;
            let snap = self.client.queue().await?;
            {
                let mut b = lock(&self.board);
                b.apply_catalogue(&cat);
                b.apply_snapshot(&snap);
            }
            *need_snapshot = false;
            let _ = self.updates.send(BoardUpdate::Changed);
        }
        let since = lock(&self.board).last_seq().unwrap_or(0);
        let url = format!("{}?since={since}", self.ws_base);
        let (mut ws, _) = match tokio_tungstenite::connect_async(&url).await {
            Ok(ok) => ok,
            Err(tungstenite::Error::Http(resp)) if resp.status().as_u16() == 409 => {
                return Err(Lost::HubBehind);
            }
            Err(e) => return Err(e.into()),
        };
        self.set_connection(Connection::Live);
        *backoff = self.opts.min_backoff;
        // Estimates may have moved while the board was away.
        self.refresh_waits().await?;

        let mut waits_tick = tokio::time::interval(self.opts.waits_debounce);
        let mut since_full_refresh = tokio::time::Instant::now();
        let mut waits_dirty = false;
        loop {
            tokio::select! {
                msg = tokio::time::timeout(self.opts.idle_timeout, ws.next()) => {
                    let msg = match msg {
                        Err(_) => return Err(Lost::Silent(self.opts.idle_timeout)),
                        Ok(None) => return Err(Lost::Closed),
                        Ok(Some(m)) => m?,
                    };
                    match msg {
                        Message::Text(text) => {
                            match serde_json::from_str::<EventEnvelope>(&text) {
                                Ok(env) => {
                                    waits_dirty |= self.apply(&env)?;
                                }
                                // An event kind this board does not know (a newer hub):
                                // step over its sequence number so the stream goes on.
                                Err(e) => {
                                    let seq = serde_json::from_str::<serde_json::Value>(&text)
                                        .ok()
                                        .and_then(|v| v.get("seq").and_then(serde_json::Value::as_i64));
                                    tracing::warn!("board: event {seq:?} not understood, skipped: {e}");
                                    if let Some(seq) = seq
                                        && let Applied::Gap { expected, got } = lock(&self.board).skip(seq)
                                    {
                                        return Err(Lost::Gap { expected, got });
                                    }
                                }
                            }
                        }
                        Message::Close(_) => return Err(Lost::Closed),
                        _ => {}
                    }
                }
                _ = waits_tick.tick() => {
                    if waits_dirty || since_full_refresh.elapsed() >= self.opts.waits_every {
                        waits_dirty = false;
                        since_full_refresh = tokio::time::Instant::now();
                        self.refresh_waits().await?;
                    }
                }
            }
        }
    }

    /// Applies one event; returns whether the waiting counts may have changed.
    fn apply(&self, env: &EventEnvelope) -> Result<bool, Lost> {
        let applied = lock(&self.board).apply(env, Now::current());
        let update = match applied {
            Applied::Duplicate => return Ok(false),
            Applied::Gap { expected, got } => return Err(Lost::Gap { expected, got }),
            Applied::Quiet => None,
            Applied::Changed => Some(BoardUpdate::Changed),
            Applied::Called { announce } => Some(BoardUpdate::Called {
                seq: env.seq,
                announce,
            }),
        };
        if let Some(u) = update {
            let _ = self.updates.send(u);
        }
        Ok(env.event.kind().starts_with("ticket_"))
    }
}
