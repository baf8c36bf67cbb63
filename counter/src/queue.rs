//! The counter's queue panel: per service the people waiting and the longest wait, every
//! waiting ticket with tickets past the promised waiting limit flagged (GB/T 4.1.2), the
//! tickets on hold, today's figures for this counter, the device alerts, and the hub's
//! upstream sync to headquarters (from `/health`) for the status bar.
//!
//! Read-only: it fetches from the hub and never changes a ticket.

use chrono::{DateTime, Utc};
use domain::ServiceType;
use protocol::sync::SyncStatus;
use protocol::{AlertView, ClientError, CounterToday, HubClient, TicketView, WaitingTicket};

/// One service's line in the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLine {
    pub service: ServiceType,
    pub name_zh: String,
    pub name_en: String,
    pub prefix: char,
    pub waiting: u32,
    pub longest_wait_secs: u32,
    /// GB/T 4.1.2: how many of them waited past the promised limit.
    pub overdue: u32,
    /// Whether the staff member logged in here may serve it (GB/T 5.2.3).
    pub mine: bool,
}

/// Everything the queue panel shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueueView {
    /// The hub's clock when fetched.
    pub now: Option<DateTime<Utc>>,
    pub day_open: bool,
    pub services: Vec<ServiceLine>,
    /// In calling order per service.
    pub waiting: Vec<WaitingTicket>,
    pub on_hold: Vec<TicketView>,
    pub today: CounterToday,
    pub alerts: Vec<AlertView>,
    /// The hub's sync to headquarters, when `/health` answered.
    pub sync: Option<SyncStatus>,
}

impl QueueView {
    /// The waiting ticket numbered `number` (as typed: case and spaces do not matter).
    pub fn find_waiting(&self, number: &str) -> Option<&WaitingTicket> {
        let wanted = number.trim().to_ascii_uppercase();
        self.waiting.iter().find(|w| w.ticket.number == wanted)
    }

    /// The tickets on hold at `counter` first, then the others.
    pub fn hold_order(&self, counter: u32) -> Vec<&TicketView> {
        let (mut mine, others): (Vec<_>, Vec<_>) = self
            .on_hold
            .iter()
            .partition(|t| t.counter == Some(counter));
        mine.extend(others);
        mine
    }
}

/// Fetches the panel for `counter` with a logged-in client; `mine` lists the services the
/// staff member may serve.
pub async fn fetch(
    client: &HubClient,
    counter: u32,
    mine: &[ServiceType],
) -> Result<QueueView, ClientError> {
    let (snapshot, list, today) = tokio::try_join!(
        client.queue(),
        client.waiting(),
        client.counter_today(counter)
    )?;
    // Alerts are informative: a hub that cannot list them still shows the queue.
    let alerts = client.alerts().await.unwrap_or_default();
    // So is the sync state.
    let sync = client.health().await.ok().map(|h| h.sync);
    let services = snapshot
        .services
        .iter()
        .map(|s| ServiceLine {
            service: s.service,
            name_zh: s.name_zh.clone(),
            name_en: s.name_en.clone(),
            prefix: s.prefix,
            waiting: s.waiting,
            longest_wait_secs: s.longest_wait_secs,
            overdue: list
                .waiting
                .iter()
                .filter(|w| w.ticket.service == s.service && w.overdue)
                .count() as u32,
            mine: mine.contains(&s.service),
        })
        .collect();
    Ok(QueueView {
        now: Some(snapshot.now),
        day_open: snapshot.day.as_ref().is_some_and(|d| d.closed_at.is_none()),
        services,
        waiting: list.waiting,
        on_hold: list.on_hold,
        today,
        alerts,
        sync,
    })
}
