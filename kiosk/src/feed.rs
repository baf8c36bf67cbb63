//! Keeps the kiosk in step with the hub: fetches the catalogue, knowledge base and queue,
//! follows the event stream (`/api/v1/events?since=SEQ`) to refresh waiting counts when
//! tickets move (GB/T 4.1.1) and to learn which tickets counters finish (for ratings,
//! GB/T 9.1.2), and after any failure says the hub is away and tries again with backoff,
//! for ever: the kiosk recovers by itself.
//!
//! It never touches Slint and holds no screen state: it reports [`Outcome`]s.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use protocol::{EventEnvelope, HubEvent};
use tokio_tungstenite::tungstenite::Message;

use crate::controller::{Controller, Sink};
use crate::model::{Finished, HubState, Outcome};

/// How the follower paces itself.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// First delay after a failure; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Silence after which the stream is presumed dead (the hub pings every 20 s).
    pub idle_timeout: Duration,
    /// Waiting estimates are refreshed at least this often.
    pub queue_every: Duration,
    /// The catalogue and knowledge base are fetched again this often.
    pub catalogue_every: Duration,
    /// Events replayed at start, so tickets finished just before a restart can be rated.
    pub replay: i64,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(45),
            queue_every: Duration::from_secs(30),
            catalogue_every: Duration::from_secs(300),
            replay: 1000,
        }
    }
}

/// Follows the hub until `shutdown` resolves.
pub async fn follow(
    controller: Arc<Controller>,
    out: Sink,
    opts: FeedOptions,
    shutdown: impl Future<Output = ()>,
) {
    let run = async {
        let mut backoff = opts.min_backoff;
        loop {
            if let Err(e) = session(&controller, &out, &opts, &mut backoff).await {
                tracing::info!("kiosk: hub lost ({e}); trying again in {backoff:?}");
            }
            out(Outcome::Connection(HubState::Offline));
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(opts.max_backoff);
        }
    };
    tokio::select! {
        () = shutdown => {}
        () = run => {}
    }
}

/// One connection: everything fetched, then events until the stream fails.
async fn session(
    c: &Controller,
    out: &Sink,
    opts: &FeedOptions,
    backoff: &mut Duration,
) -> Result<(), String> {
    let snapshot_seq = c.refresh_all(out).await?;
    *backoff = opts.min_backoff;
    let since = snapshot_seq.saturating_sub(opts.replay).max(0);
    let path = format!("/events?since={since}");
    let mut ws = tokio::time::timeout(opts.idle_timeout, c.hub().events_socket(&path))
        .await
        .map_err(|_| "the event stream did not open".to_owned())?
        .map_err(|e| format!("event stream: {e}"))?;
    let silence = tokio::time::sleep(opts.idle_timeout);
    tokio::pin!(silence);
    let mut queue_tick = tokio::time::interval(Duration::from_millis(500));
    let mut last_queue = tokio::time::Instant::now();
    let mut last_catalogue = tokio::time::Instant::now();
    let mut queue_dirty = false;
    loop {
        tokio::select! {
            () = &mut silence => return Err(format!("no word from the hub for {:?}", opts.idle_timeout)),
            msg = ws.next() => {
                let msg = match msg {
                    None => return Err("the hub closed the event stream".into()),
                    Some(m) => m.map_err(|e| format!("event stream: {e}"))?,
                };
                silence.as_mut().reset(tokio::time::Instant::now() + opts.idle_timeout);
                match msg {
                    Message::Text(text) => {
                        // An event kind this kiosk does not know (a newer hub) is skipped.
                        if let Ok(env) = serde_json::from_str::<EventEnvelope>(&text) {
                            queue_dirty |= event(&env, snapshot_seq, out);
                        }
                    }
                    Message::Close(_) => return Err("the hub closed the event stream".into()),
                    _ => {}
                }
            }
            _ = queue_tick.tick() => {
                if last_catalogue.elapsed() >= opts.catalogue_every {
                    last_catalogue = tokio::time::Instant::now();
                    last_queue = last_catalogue;
                    queue_dirty = false;
                    c.refresh_all(out).await?;
                } else if queue_dirty || last_queue.elapsed() >= opts.queue_every {
                    queue_dirty = false;
                    last_queue = tokio::time::Instant::now();
                    c.refresh_queue(out).await?;
                }
            }
        }
    }
}

/// Reports what the kiosk cares about in one event; returns whether the waiting counts
/// may have changed. Events at or before `snapshot_seq` are replayed history: their
/// finished tickets are remembered but nobody is prompted for them.
fn event(env: &EventEnvelope, snapshot_seq: i64, out: &Sink) -> bool {
    match &env.event {
        HubEvent::TicketFinished {
            ticket_id,
            number,
            counter,
            ..
        } => {
            out(Outcome::TicketFinished {
                finished: Finished {
                    ticket_id: *ticket_id,
                    number: number.clone(),
                    counter: *counter,
                },
                fresh: env.seq > snapshot_seq,
            });
            env.seq > snapshot_seq
        }
        e => {
            env.seq > snapshot_seq
                && (e.kind().starts_with("ticket_")
                    || e.kind().starts_with("day_")
                    || e.kind() == "appointment_checked_in")
        }
    }
}
