//! What crosses the WAN between a centre's hub and headquarters: outbox batches, their
//! acknowledgement, the sync state the hub reports, and the public ticket status that both
//! the hub and headquarters serve behind a ticket's QR code.
//!
//! Identity of an event at headquarters: `(centre_id, epoch, seq)`. `seq` is the hub's
//! outbox sequence; `epoch` changes when a hub finds that it was restored from an older
//! copy of its database (headquarters already holds different events under the same
//! sequence numbers), so new events never collide with ones headquarters holds.

use chrono::{DateTime, Utc};
use domain::{RequestStage, ServiceType, TicketState};
use serde::{Deserialize, Serialize};

/// Where a hub posts its batches on headquarters (`POST`, JSON [`IngestBatch`]).
pub const INGEST_PATH: &str = "/ingest/v1/batches";
/// The public ticket status page, on the hub and on headquarters: `/s/{centre_id}/{token}`.
pub const STATUS_PAGE_PREFIX: &str = "/s";

/// One outbox event as shipped. `payload` is the [`crate::HubEvent`] as JSON, kept as a
/// value so headquarters stores kinds it does not know yet (a newer hub).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireEvent {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub clock_synced: bool,
    pub boot: i64,
    pub mono_ms: i64,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// A run of consecutive unsent outbox events of one epoch, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestBatch {
    pub centre_id: String,
    pub epoch: i64,
    pub events: Vec<WireEvent>,
}

/// Headquarters' answer, sent only after its transaction committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAck {
    pub centre_id: String,
    pub epoch: i64,
    /// The highest sequence headquarters holds for `(centre_id, epoch)` after this batch;
    /// the hub marks its events sent up to here (and no further than what it sent).
    pub high_water: i64,
    /// Events stored by this batch.
    pub inserted: u64,
    /// Events of this batch headquarters already held with the same contents.
    pub duplicates: u64,
    /// The first sequence of the batch that headquarters holds with *different*
    /// contents: this hub was restored from an older database. Nothing from here on was
    /// stored; the hub moves its unsent events to a new epoch and sends them again.
    pub conflict_from: Option<i64>,
}

/// The hub's view of its upstream sync (`/health`, the counter's status line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// False when no headquarters is configured: events simply stay in the outbox.
    pub enabled: bool,
    /// Events not yet acknowledged by headquarters.
    pub pending: i64,
    /// When the oldest of them was written.
    pub oldest_pending_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// The epoch new events are written in.
    pub epoch: i64,
}

/// The public status of one ticket: no personal data (GB/T 5.4.2), no internal ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketStatus {
    pub centre_name: String,
    pub number: String,
    pub service: ServiceType,
    pub state: TicketState,
    /// People still ahead while waiting.
    pub people_ahead: Option<u32>,
    pub estimated_wait_secs: Option<u32>,
    /// The counter that called it.
    pub counter: Option<u32>,
    /// The GB/T 8.1 stage of the request opened on this ticket, if any.
    pub request_stage: Option<RequestStage>,
    /// When these figures were true (headquarters' copy can lag behind the centre).
    pub as_of: DateTime<Utc>,
}
