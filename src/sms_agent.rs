//! The SMS agent: the process beside the GSM modem that takes text messages from the
//! hub's queue one at a time and reports what the modem said (GB/T 4.2.2).
//!
//! The hub decides what goes and when (consent, rate limits, staleness); the agent only
//! sends. It never retries a message by itself: a modem that is down gets `retry` (the
//! hub delays the message), a message the modem may have sent gets `unknown` (never
//! resent), and a hub that cannot be reached is retried with backoff while the result
//! is kept.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hardware::sms::{Disposition, PhoneNumber, SmsError, SmsGateway};
use protocol::{ClientError, DeviceIdentity, HubClient, SmsOutcome, SmsResult, SmsToSend};

/// How the agent paces itself.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The hub's base URL.
    pub hub_url: String,
    /// This agent's name at the hub.
    pub device: String,
    /// Pause between polls while the queue is empty.
    pub idle_poll: Duration,
    /// Longest pause after the hub or the modem failed.
    pub max_backoff: Duration,
    /// This gateway's certificate for an `https://` hub (GB/T 5.4); `None` for a plain one.
    pub identity: Option<Arc<DeviceIdentity>>,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            hub_url: "http://127.0.0.1:8470".into(),
            device: "sms-agent".into(),
            idle_poll: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            identity: None,
        }
    }
}

/// What the modem's answer means for the queue, as reported by agent `device`.
pub fn outcome_of(result: &Result<usize, SmsError>, device: &str) -> SmsResult {
    let device = Some(device.to_owned());
    match result {
        Ok(parts) => SmsResult {
            outcome: SmsOutcome::Sent,
            detail: Some(format!("{parts} part(s)")),
            device,
        },
        Err(e) => SmsResult {
            outcome: match e.disposition() {
                Disposition::RetryLater => SmsOutcome::Retry,
                Disposition::Permanent => SmsOutcome::Failed,
                Disposition::MaybeSent => SmsOutcome::Unknown,
            },
            detail: Some(e.to_string()),
            device,
        },
    }
}

/// Sends one message on a blocking thread; gives the gateway back with the result.
async fn send(
    mut gateway: Box<dyn SmsGateway>,
    msg: &SmsToSend,
) -> (Box<dyn SmsGateway>, Result<usize, SmsError>) {
    let (phone, text) = (msg.phone.clone(), msg.text.clone());
    let joined = tokio::task::spawn_blocking(move || {
        let result = PhoneNumber::parse(&phone)
            .and_then(|to| gateway.send(&to, &text))
            .map(|sent| sent.parts());
        (gateway, result)
    })
    .await;
    match joined {
        Ok(pair) => pair,
        // The send thread died: the gateway is gone and what the modem did is unknown.
        Err(e) => (
            Box::new(Gone(e.to_string())),
            Err(SmsError::OutcomeUnknown {
                part: 1,
                total: 1,
                confirmed: Vec::new(),
            }),
        ),
    }
}

/// A gateway that lost its thread: every call fails until the agent restarts.
struct Gone(String);

impl SmsGateway for Gone {
    fn send(
        &mut self,
        _to: &PhoneNumber,
        _text: &str,
    ) -> Result<hardware::sms::SentMessage, SmsError> {
        Err(SmsError::Config(format!(
            "the modem thread failed: {}",
            self.0
        )))
    }

    fn status(&mut self) -> Result<hardware::sms::ModemStatus, SmsError> {
        Err(SmsError::Config(format!(
            "the modem thread failed: {}",
            self.0
        )))
    }
}

fn doubled(d: Duration, max: Duration) -> Duration {
    (d * 2).min(max)
}

/// The agent's client for the hub in `opts` (mutual TLS when it has an identity).
pub fn hub_client(opts: &AgentOptions) -> Result<HubClient, ClientError> {
    HubClient::for_device(opts.hub_url.clone(), opts.identity.as_deref())
}

/// Runs until `shutdown` completes, or at once if the hub's address and the agent's
/// identity do not go together (logged; check it first with [`hub_client`]).
pub async fn run(
    opts: AgentOptions,
    mut gateway: Box<dyn SmsGateway>,
    shutdown: impl Future<Output = ()>,
) {
    let hub = match hub_client(&opts) {
        Ok(hub) => hub,
        Err(e) => {
            tracing::error!("sms: cannot talk to the hub at {}: {e}", opts.hub_url);
            return;
        }
    };
    let first = Duration::from_millis(500).min(opts.max_backoff);
    let mut backoff = first;
    tokio::pin!(shutdown);
    loop {
        let pause = match hub.lease_sms(&opts.device).await {
            Err(e) => {
                tracing::warn!("sms: hub unreachable ({e}); retrying in {backoff:?}");
                backoff = doubled(backoff, opts.max_backoff);
                backoff
            }
            Ok(None) => {
                backoff = first;
                opts.idle_poll
            }
            Ok(Some(msg)) => {
                let (g, result) = send(gateway, &msg).await;
                gateway = g;
                let report = outcome_of(&result, &opts.device);
                match &result {
                    Ok(parts) => tracing::info!("sms {}: sent ({parts} part(s))", msg.id),
                    Err(e) => tracing::warn!("sms {}: {e}", msg.id),
                }
                let modem_down = report.outcome == SmsOutcome::Retry;
                deliver_report(&hub, &msg, &report, opts.max_backoff).await;
                if modem_down {
                    // The modem cannot send now: give it time before the next message.
                    backoff = doubled(backoff, opts.max_backoff);
                    backoff
                } else {
                    backoff = first;
                    Duration::ZERO
                }
            }
        };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Reports an outcome, retrying while the hub is unreachable and the lease lasts; once
/// the lease has run out the hub counts the outcome as unknown by itself.
async fn deliver_report(hub: &HubClient, msg: &SmsToSend, report: &SmsResult, max: Duration) {
    let mut wait = Duration::from_millis(200);
    loop {
        match hub.sms_result(msg.id, report).await {
            Ok(_) => return,
            Err(protocol::ClientError::Unreachable(e)) if chrono::Utc::now() < msg.lease_until => {
                tracing::warn!("sms {}: cannot report yet ({e})", msg.id);
                tokio::time::sleep(wait).await;
                wait = doubled(wait, max);
            }
            Err(e) => {
                tracing::warn!("sms {}: result not recorded: {e}", msg.id);
                return;
            }
        }
    }
}
