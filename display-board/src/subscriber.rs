//! Keeps a [`BoardModel`] in step with the hub: fetches the catalogue and `/queue`,
//! subscribes to `/api/v1/events?since=SEQ`, applies each event once, and after any
//! disconnect resumes from the last sequence it applied, with backoff, for ever (the
//! board never needs a manual refresh). Waiting estimates (GB/T 4.1.1) are refreshed from
//! `/queue` after queue changes and every half minute.
//!
//! It never touches Slint or audio: it reports each change as a [`BoardUpdate`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use protocol::{EventEnvelope, HubClient, QueueSnapshot};
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
    /// How long one HTTP request or the WebSocket handshake may take.
    pub request_timeout: Duration,
}

impl Default for SubscriberOptions {
    fn default() -> Self {
        SubscriberOptions {
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(45),
            waits_every: Duration::from_secs(30),
            waits_debounce: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
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
    #[error("the hub did not answer within {0:?}")]
    TimedOut(Duration),
    #[error("the hub closed the stream")]
    Closed,
}

impl From<tungstenite::Error> for Lost {
    fn from(e: tungstenite::Error) -> Lost {
        Lost::Socket(Box::new(e))
    }
}

/// Follows the plain `http://` hub at `hub_url` (e.g. `http://127.0.0.1:8470`; the
/// tests, the benchmark) until `shutdown` resolves: [`follow`] with a plain client.
pub async fn run(
    hub_url: &str,
    board: SharedBoard,
    updates: UnboundedSender<BoardUpdate>,
    opts: SubscriberOptions,
    shutdown: impl Future<Output = ()>,
) {
    follow(HubClient::new(hub_url), board, updates, opts, shutdown).await;
}

/// Follows the hub through `client` (the board's own: mutual TLS on an enrolled board)
/// until `shutdown` resolves. Resumes from the model's `last_seq` if it already has one
/// (a restarted subscriber shows exactly the calls it missed, once).
pub async fn follow(
    client: HubClient,
    board: SharedBoard,
    updates: UnboundedSender<BoardUpdate>,
    opts: SubscriberOptions,
    shutdown: impl Future<Output = ()>,
) {
    let mut follower = Follower {
        client,
        board,
        updates,
        opts,
    };
    tokio::select! {
        () = shutdown => {}
        () = follower.follow() => {}
    }
}

/// A `/queue` request for the waits, in flight beside the event stream.
type Refresh<'a> = Pin<Box<dyn Future<Output = Result<QueueSnapshot, Lost>> + Send + 'a>>;

struct Follower {
    client: HubClient,
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

    /// A hub request that gives up after `request_timeout` (a hub that accepted the
    /// connection and then went silent must not hold the board for ever).
    async fn request<T>(
        &self,
        fut: impl Future<Output = Result<T, protocol::ClientError>>,
    ) -> Result<T, Lost> {
        match tokio::time::timeout(self.opts.request_timeout, fut).await {
            Ok(r) => Ok(r?),
            Err(_) => Err(Lost::TimedOut(self.opts.request_timeout)),
        }
    }

    fn apply_waits(&self, snap: &QueueSnapshot) {
        {
            let mut b = lock(&self.board);
            b.apply_waits(snap);
            b.sync_clock(snap.now, Now::current().wall);
        }
        let _ = self.updates.send(BoardUpdate::Changed);
    }

    /// One connection: catalogue (every time: it may have changed while the board was
    /// away), snapshot if needed, subscribe, apply events until it drops.
    async fn session(&self, need_snapshot: &mut bool, backoff: &mut Duration) -> Result<(), Lost> {
        let cat = self.request(self.client.catalogue()).await?;
        lock(&self.board).apply_catalogue(&cat);
        if *need_snapshot {
            let snap = self.request(self.client.queue()).await?;
            {
                let mut b = lock(&self.board);
                b.apply_snapshot(&snap);
                b.sync_clock(snap.now, Now::current().wall);
            }
            *need_snapshot = false;
        }
        let _ = self.updates.send(BoardUpdate::Changed);
        let since = lock(&self.board).last_seq().unwrap_or(0);
        let path = format!("/events?since={since}");
        let connecting =
            tokio::time::timeout(self.opts.request_timeout, self.client.events_socket(&path));
        let mut ws = match connecting.await {
            Err(_) => return Err(Lost::TimedOut(self.opts.request_timeout)),
            Ok(Ok(ok)) => ok,
            Ok(Err(tungstenite::Error::Http(resp))) if resp.status().as_u16() == 409 => {
                return Err(Lost::HubBehind);
            }
            Ok(Err(e)) => return Err(e.into()),
        };
        self.set_connection(Connection::Live);

        // The silence deadline lives outside the loop: only a message from the hub moves it.
        let silence = tokio::time::sleep(self.opts.idle_timeout);
        tokio::pin!(silence);
        let mut waits_tick = tokio::time::interval(self.opts.waits_debounce);
        let mut last_full_refresh: Option<tokio::time::Instant> = None;
        // Estimates may have moved while the board was away: refresh at once.
        let mut waits_dirty = true;
        // A waits refresh runs beside the stream, never blocking it.
        let mut refreshing: Option<Refresh<'_>> = None;
        loop {
            tokio::select! {
                () = &mut silence => return Err(Lost::Silent(self.opts.idle_timeout)),
                msg = ws.next() => {
                    let msg = match msg {
                        None => return Err(Lost::Closed),
                        Some(m) => m?,
                    };
                    silence
                        .as_mut()
                        .reset(tokio::time::Instant::now() + self.opts.idle_timeout);
                    // The stream delivered something: the hub is really back, so the next
                    // failure starts again from the shortest delay (not on mere accept, which
                    // would hammer a hub that accepts and closes at once).
                    *backoff = self.opts.min_backoff;
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
                _ = waits_tick.tick(), if refreshing.is_none() => {
                    let due = last_full_refresh
                        .is_none_or(|t| t.elapsed() >= self.opts.waits_every);
                    if waits_dirty || due {
                        waits_dirty = false;
                        last_full_refresh = Some(tokio::time::Instant::now());
                        refreshing = Some(Box::pin(self.request(self.client.queue())));
                    }
                }
                snap = async {
                    match refreshing.as_mut() {
                        Some(f) => f.await,
                        None => std::future::pending().await,
                    }
                }, if refreshing.is_some() => {
                    refreshing = None;
                    self.apply_waits(&snap?);
                }
            }
        }
    }

    /// Applies one event; returns whether the waiting counts may have changed.
    fn apply(&self, env: &EventEnvelope) -> Result<bool, Lost> {
        // The update is sent while the model is still locked, so whoever sees `last_seq`
        // reach N has every update up to N waiting in its channel.
        let mut board = lock(&self.board);
        let applied = board.apply(env, Now::current());
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
