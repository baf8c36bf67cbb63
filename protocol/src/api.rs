//! Request and response bodies of the hub's HTTP API (`/api/v1/...`) and the problem
//! body every error carries.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    Channel, Fen, PriorityClass, QuoteLine, RequestStage, Role, ServiceType, TicketState,
};
use serde::{Deserialize, Serialize};

pub use crate::event::PaymentMethod;

/// The JSON body of every 4xx/5xx answer (after RFC 9457 "problem details").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// A stable machine code, e.g. `no_business_day`, `illegal_move`, `invalid_field`.
    pub code: String,
    pub status: u16,
    /// A sentence for a person.
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

// ---------------------------------------------------------------- tickets and queue

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueTicket {
    pub service: ServiceType,
    #[serde(default)]
    pub class: PriorityClass,
    #[serde(default)]
    pub channel: Channel,
    /// The device that asked (a kiosk id), for the record.
    #[serde(default)]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketView {
    pub id: i64,
    pub number: String,
    pub service: ServiceType,
    pub class: PriorityClass,
    pub channel: Channel,
    pub state: TicketState,
    pub business_date: NaiveDate,
    pub counter: Option<u32>,
    pub staff_id: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub called_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub recalls: u32,
    pub printed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedTicket {
    pub ticket: TicketView,
    pub people_ahead: u32,
    pub estimated_wait_secs: u32,
    /// The outbox sequence number of the `ticket_issued` event.
    pub seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceQueue {
    pub service: ServiceType,
    pub name_zh: String,
    pub name_en: String,
    pub prefix: char,
    pub paid: bool,
    pub waiting: u32,
    pub waiting_priority: u32,
    /// Seconds the longest-waiting ticket has waited.
    pub longest_wait_secs: u32,
    /// GB/T 4.1.1: what a ticket taken now would wait.
    pub estimated_wait_secs: u32,
    pub counters_serving: u32,
    /// GB/T 4.1.1: average of issued → called for today's called tickets.
    pub mean_response_secs: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessDayView {
    pub id: i64,
    pub date: NaiveDate,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub clock_synced: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSnapshot {
    /// The hub's clock when the snapshot was taken (devices compare event times with
    /// it, not with their own clocks).
    pub now: DateTime<Utc>,
    pub day: Option<BusinessDayView>,
    pub services: Vec<ServiceQueue>,
    /// Tickets called, being served or on hold at a counter.
    pub at_counters: Vec<TicketView>,
    /// The outbox sequence this snapshot includes: subscribe to events with `since` = this.
    pub last_seq: i64,
    /// Counters where a staff member is logged in now, busy or not.
    pub open_counters: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CallTicket {
    /// Defaults to the counter the staff member logged in at.
    #[serde(default)]
    pub counter: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferTicket {
    pub service: ServiceType,
    #[serde(default)]
    pub to_front: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    #[serde(default)]
    pub reason: Option<String>,
}

// ---------------------------------------------------------------- business day

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OpenDay {
    /// The business date; defaults to today in the centre's time zone, confirmed by staff.
    #[serde(default)]
    pub date: Option<NaiveDate>,
}

// ---------------------------------------------------------------- staff

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub staff_id: String,
    /// PIN or password.
    pub secret: String,
    #[serde(default)]
    pub counter: Option<u32>,
    #[serde(default)]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub token: String,
    pub staff_id: String,
    pub name: String,
    pub role: Role,
    pub counter: Option<u32>,
    /// GB/T 5.2.3: what this staff member may be routed at this counter today.
    pub services: Vec<ServiceType>,
    pub expires_at: DateTime<Utc>,
}

// ---------------------------------------------------------------- service requests

/// What the customer told us (GB/T 6.1.2), repeated back before it is saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Intake {
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub purchase_date: Option<NaiveDate>,
    #[serde(default)]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub service: ServiceType,
    /// GB/T 4.2.2: how it reached us.
    #[serde(default)]
    pub channel: Channel,
    #[serde(default)]
    pub ticket_id: Option<i64>,
    #[serde(default)]
    pub intake: Intake,
    /// `appointment` for a booked visit, otherwise `acceptance` (the default).
    #[serde(default)]
    pub start_stage: Option<RequestStage>,
    /// GB/T 6.1.2: the customer confirmed the summary read back to them.
    pub confirmed_by_customer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageStamp {
    pub stage: RequestStage,
    pub at: DateTime<Utc>,
    pub staff_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub id: i64,
    pub service: ServiceType,
    pub channel: Channel,
    pub ticket_id: Option<i64>,
    pub stage: RequestStage,
    pub intake: Intake,
    pub paid: bool,
    pub created_at: DateTime<Utc>,
    /// GB/T 5.5.2 and 4.1.2.
    pub reply_due: Option<DateTime<Utc>>,
    pub resolve_due: Option<DateTime<Utc>>,
    /// "answered" and "resolved" are separate moments (GB/T 5.5.2).
    pub answered_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub overdue: bool,
    pub history: Vec<StageStamp>,
    pub quote: Option<QuoteView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceRequest {
    pub to: RequestStage,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteItem {
    pub code: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeQuote {
    pub items: Vec<QuoteItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteView {
    pub version: u32,
    pub lines: Vec<QuoteLine>,
    pub total: Fen,
    /// The customer acknowledges exactly this digest.
    pub digest: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub acknowledged_via: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeQuote {
    pub version: u32,
    pub digest: String,
    /// Where the customer saw the list: `kiosk` or `counter`.
    pub via: String,
}

// ---------------------------------------------------------------- payments and refunds

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordPayment {
    pub amount: Fen,
    pub method: PaymentMethod,
    /// Terminal reference, cheque number or online transaction id.
    #[serde(default)]
    pub reference: Option<String>,
    /// A retried request with the same key records nothing new.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentView {
    pub id: i64,
    pub request_id: i64,
    pub amount: Fen,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
    pub staff_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRefund {
    pub payment_id: i64,
    pub amount: Fen,
    pub method: PaymentMethod,
    pub reason: String,
    /// A retried request with the same key records nothing new.
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundView {
    pub id: i64,
    pub request_id: i64,
    pub payment_id: i64,
    pub amount: Fen,
    pub method: PaymentMethod,
    pub reason: String,
    pub requested_on: NaiveDate,
    /// GB/T 8.4.3: 5 working days after the request.
    pub due_date: NaiveDate,
    pub paid_at: Option<DateTime<Utc>>,
    pub overdue: bool,
}

// ---------------------------------------------------------------- catalogue and health

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentreInfo {
    pub id: String,
    pub name_zh: String,
    pub name_en: String,
    pub address: String,
    pub phone: String,
    pub qualifications: Vec<String>,
    pub change_procedure_zh: String,
    pub change_procedure_en: String,
    /// The centre's time zone as minutes east of UTC (China: 480): clocks, dates and
    /// printed times are the centre's local time.
    pub utc_offset_minutes: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogueService {
    pub service: ServiceType,
    pub name_zh: String,
    pub name_en: String,
    pub prefix: char,
    pub paid: bool,
    pub reply_within_minutes: u32,
    pub resolve_within_hours: u32,
    pub fees: Vec<domain::FeeItem>,
}

/// GB/T 5.3.1: what the centre publishes; the same numbers the counter charges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub centre: CentreInfo,
    pub services: Vec<CatalogueService>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub centre_id: String,
    pub day: Option<BusinessDayView>,
    pub clock_synced: bool,
    pub last_seq: i64,
    pub outbox_unsent: i64,
    /// Tickets issued but never confirmed printed: staff should reprint or void them.
    pub unprinted_tickets: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    pub entries: i64,
    pub ok: bool,
    /// The id of the first entry whose hash does not match, if any.
    pub first_broken: Option<i64>,
}
