//! Upstream sync: ships the outbox to headquarters in batches and marks events sent only
//! up to what headquarters acknowledged after its commit.
//!
//! Nothing is lost or duplicated whatever fails: a batch whose answer never arrives is
//! sent again and headquarters, keyed by `(centre, epoch, seq)`, stores it once. While
//! headquarters is unreachable the hub goes on working and retries with exponential
//! backoff (1 s doubling to 5 min, with jitter so a chain's hubs do not retry in step).
//! When headquarters reports different contents under our sequence numbers (this database
//! is an older copy), unsent events move to a new epoch and go again (`outbox::start_new_epoch`).

use std::time::Duration;

use protocol::sync::{INGEST_PATH, IngestAck, IngestBatch};
use rand::Rng;
use tokio::sync::watch;

use crate::config::HqLink;
use crate::store::{Store, StoreError, outbox};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// With nothing to send, look again at least this often (new events also wake the sender).
const IDLE_POLL: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("headquarters' settings: {0}")]
    Setup(String),
    #[error("headquarters unreachable: {0}")]
    Transport(String),
    #[error("headquarters refused the batch ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("headquarters answered for centre {centre} epoch {epoch}, not ours")]
    WrongAck { centre: String, epoch: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A configured link to headquarters, ready to send.
#[derive(Debug, Clone)]
pub struct Uplink {
    http: reqwest::Client,
    endpoint: String,
    token: String,
    centre_id: String,
    batch_size: u32,
}

impl Uplink {
    /// Reads the token and the trusted certificate; builds the HTTPS client.
    pub fn new(link: &HqLink, centre_id: &str) -> Result<Uplink, SyncError> {
        let token = link
            .token
            .read()
            .map_err(|e| SyncError::Setup(format!("cannot read the ingest token: {e}")))?;
        if token.is_empty() {
            return Err(SyncError::Setup("the ingest token is empty".into()));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("servicehall-hub/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &link.ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| SyncError::Setup(format!("{}: {e}", path.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| SyncError::Setup(format!("{}: {e}", path.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        if let Some((cert, key)) = &link.client_identity {
            let read = |p: &std::path::Path| {
                std::fs::read(p).map_err(|e| SyncError::Setup(format!("{}: {e}", p.display())))
            };
            let mut pem = read(cert)?;
            pem.push(b'\n');
            pem.extend(read(key)?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                SyncError::Setup(format!(
                    "the centre's client certificate {} with key {}: {e}",
                    cert.display(),
                    key.display()
                ))
            })?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| SyncError::Setup(e.to_string()))?;
        Ok(Uplink {
            http,
            endpoint: format!("{}{INGEST_PATH}", link.url),
            token,
            centre_id: centre_id.to_owned(),
            batch_size: link.batch_size,
        })
    }

    /// Sends the oldest unsent batch and applies the answer. Returns how many events
    /// headquarters acknowledged (0 when there was nothing to send).
    pub async fn send_once(&self, store: &Store) -> Result<usize, SyncError> {
        let limit = self.batch_size;
        let Some((epoch, events)) = store
            .read(move |conn| outbox::unsent_batch(conn, limit))
            .await?
        else {
            return Ok(0);
        };
        let sent_max = events.last().map_or(0, |e| e.seq);
        let batch = IngestBatch {
            centre_id: self.centre_id.clone(),
            epoch,
            events,
        };
        let response = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.token)
            .json(&batch)
            .send()
            .await
            .map_err(|e| SyncError::Transport(error_chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(SyncError::Refused {
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            });
        }
        let ack: IngestAck = response
            .json()
            .await
            .map_err(|e| SyncError::Transport(error_chain(&e)))?;
        if ack.centre_id != self.centre_id || ack.epoch != epoch {
            return Err(SyncError::WrongAck {
                centre: ack.centre_id,
                epoch: ack.epoch,
            });
        }
        // With a conflict, nothing from `conflict_from` on is ours at headquarters, whatever
        // its high-water mark says (that counts the other timeline's events).
        let acknowledged = match ack.conflict_from {
            Some(from) => ack.high_water.min(from - 1),
            None => ack.high_water,
        };
        let marked = store
            .write(move |ctx| {
                let marked = outbox::mark_sent(ctx, epoch, acknowledged, sent_max)?;
                if let Some(from) = ack.conflict_from {
                    let new = outbox::start_new_epoch(ctx, from)?;
                    tracing::warn!(
                        "headquarters holds other events from sequence {from}: this database is an older copy; \
                         unsent events continue in epoch {new}"
                    );
                }
                Ok(marked)
            })
            .await?;
        Ok(marked)
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The next wait after a failure: doubled, capped, with ±20 % jitter.
fn next_backoff(current: Duration) -> Duration {
    (current * 2).min(MAX_BACKOFF)
}

fn jittered(d: Duration) -> Duration {
    d.mul_f64(rand::rng().random_range(0.8..1.2))
}

/// Runs until `shutdown`: sends while there is something to send, waits for new events
/// (or a few seconds) when caught up, backs off while headquarters cannot be reached.
pub async fn run(uplink: Uplink, store: Store, mut shutdown: watch::Receiver<bool>) {
    let mut events = store.subscribe();
    let mut backoff = FIRST_BACKOFF;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let wait = match uplink.send_once(&store).await {
            Ok(0) => {
                backoff = FIRST_BACKOFF;
                None
            }
            Ok(_) => {
                backoff = FIRST_BACKOFF;
                continue;
            }
            Err(e) => {
                tracing::warn!("sync to headquarters: {e}; next try in {backoff:?}");
                let text = e.to_string();
                if let Err(e) = store
                    .write(move |ctx| outbox::record_sync_error(ctx, &text))
                    .await
                {
                    tracing::warn!("sync: cannot record the error: {e}");
                }
                let wait = jittered(backoff);
                backoff = next_backoff(backoff);
                Some(wait)
            }
        };
        match wait {
            Some(d) => {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = tokio::time::sleep(d) => {}
                }
            }
            None => {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    _ = events.recv() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        let mut d = FIRST_BACKOFF;
        let mut seen = vec![];
        for _ in 0..12 {
            seen.push(d.as_secs());
            d = next_backoff(d);
        }
        assert_eq!(&seen[..4], &[1, 2, 4, 8]);
        assert_eq!(*seen.last().unwrap(), 300);
        for _ in 0..100 {
            let j = jittered(Duration::from_secs(10)).as_secs_f64();
            assert!((8.0..12.0).contains(&j), "{j}");
        }
    }
}
