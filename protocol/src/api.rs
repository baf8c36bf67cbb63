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
    /// The key of the ticket's public status page (`/s/{centre}/{token}`, GB/T 4.1.3).
    #[serde(default)]
    pub status_token: String,
}

impl TicketView {
    /// GB/T 5.4: the ticket as a screen in the waiting area (display board, customer kiosk)
    /// may see it, as [`crate::HubEvent::public_view`] shows its events: no status-page
    /// token, no staff id, and a priority ticket shown as normal (the class tells that
    /// the holder is elderly, disabled or pregnant).
    pub fn public_view(&self) -> TicketView {
        TicketView {
            class: match self.class {
                PriorityClass::Priority => PriorityClass::Normal,
                other => other,
            },
            staff_id: None,
            status_token: String::new(),
            ..self.clone()
        }
    }
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

impl QueueSnapshot {
    /// GB/T 5.4: the snapshot as a display board or kiosk may see it: the tickets at the
    /// counters in their [`TicketView::public_view`]; counts and waits unchanged.
    pub fn public_view(&self) -> QueueSnapshot {
        QueueSnapshot {
            at_counters: self
                .at_counters
                .iter()
                .map(TicketView::public_view)
                .collect(),
            ..self.clone()
        }
    }
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
    /// Only this counter may call it next (a transfer to a named counter).
    #[serde(default)]
    pub counter: Option<u32>,
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
    /// `ProductCategory::code` from the knowledge base, when picked from it.
    #[serde(default)]
    pub category: Option<String>,
    /// The product as the customer names it (category name or brand).
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial_number: Option<String>,
    #[serde(default)]
    pub purchase_date: Option<NaiveDate>,
    /// The problem in words (from the pick-list, in the customer's language).
    #[serde(default)]
    pub problem: Option<String>,
    /// `CommonProblem::code` when picked from the list.
    #[serde(default)]
    pub problem_code: Option<String>,
    /// Anything else the customer wrote.
    #[serde(default)]
    pub details: Option<String>,
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
    #[serde(default)]
    pub contact: Option<Contact>,
    /// The fee digest the customer acknowledged (GB/T 4.2.3), if they saw the list.
    #[serde(default)]
    pub fees_acknowledged: Option<String>,
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
    /// Masked unless the caller revealed it.
    pub contact: Option<ContactView>,
    pub fees_acknowledged: Option<FeeAcknowledgement>,
    pub payments: Vec<PaymentView>,
    pub refunds: Vec<RefundView>,
    /// The latest service agreement version, if one was written.
    pub agreement_version: Option<u32>,
}

impl RequestView {
    /// The number printed on slips, agreements and receipts and read out to customers:
    /// `R` + the centre's local date it was made + the id, e.g. `R20260302-0012`.
    pub fn number(&self, zone: chrono::FixedOffset) -> String {
        format!(
            "R{}-{:04}",
            self.created_at.with_timezone(&zone).format("%Y%m%d"),
            self.id
        )
    }
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
    /// GB/T 4.1.2: the longest a customer should wait to be called.
    pub wait_limit_minutes: u32,
    /// GB/T 5.3.2: one plain-language line about what the service is.
    pub description_zh: String,
    pub description_en: String,
    pub fees: Vec<domain::FeeItem>,
    /// Identifies exactly this fee list; the customer acknowledges it (GB/T 4.2.3).
    pub fee_digest: String,
}

/// GB/T 5.3.1: what the centre publishes; the same numbers the counter charges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalogue {
    pub centre: CentreInfo,
    pub services: Vec<CatalogueService>,
    /// Where tickets' QR codes point (GB/T 4.1.3): headquarters' public address when the
    /// centre has one, which serves the same page from synced data; `None` means the hub
    /// itself. The page is at [`status_page_url`].
    #[serde(default)]
    pub status_base_url: Option<String>,
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
    /// Device faults not yet cleared (printer out of paper, terminal down...).
    #[serde(default)]
    pub alerts: Vec<AlertView>,
    /// Text messages waiting for the modem.
    #[serde(default)]
    pub sms_pending: i64,
    /// Text messages whose sending outcome is unknown: staff check before resending.
    #[serde(default)]
    pub sms_unknown: i64,
    /// Upstream sync to headquarters.
    #[serde(default)]
    pub sync: crate::sync::SyncStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    pub entries: i64,
    pub ok: bool,
    /// The id of the first entry whose hash does not match, if any.
    pub first_broken: Option<i64>,
}

// ---------------------------------------------------------------- knowledge base (GB/T 7.3)

/// A common question with its answer, shown at the kiosk and searchable at the counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faq {
    pub id: String,
    /// The service the question belongs to, when it belongs to one.
    pub service: Option<ServiceType>,
    pub question_zh: String,
    pub question_en: String,
    pub answer_zh: String,
    pub answer_en: String,
}

/// A problem customers often report for a product category (the intake pick-list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonProblem {
    pub code: String,
    pub text_zh: String,
    pub text_en: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductCategory {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub problems: Vec<CommonProblem>,
}

/// `GET /knowledge[?q=words]`: the whole base, or the entries matching every word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnowledgeBase {
    pub faqs: Vec<Faq>,
    pub categories: Vec<ProductCategory>,
}

// ---------------------------------------------------------------- customer contact (GB/T 5.4)

/// How the customer agreed their phone number may be used (GB/T 5.4: stated purpose).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ContactConsent {
    /// Calls and messages about this request (result, follow-up).
    #[serde(default)]
    pub service_updates: bool,
    /// Text messages while waiting ("your turn is near").
    #[serde(default)]
    pub queue_sms: bool,
}

/// Personal data the customer gave; stored apart from the request and never sent to HQ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[serde(default)]
    pub name: Option<String>,
    /// Digits, optionally with a leading `+`.
    pub phone: String,
    #[serde(default)]
    pub address: Option<String>,
    /// A phone number is only stored with the customer's explicit consent.
    pub consent: ContactConsent,
    /// The language the customer reads text messages in: `zh` (the default) or `en`.
    #[serde(default)]
    pub lang: Option<String>,
}

/// A contact as staff see it: masked unless revealed (an audited action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactView {
    pub name: Option<String>,
    /// `138****5678` unless revealed.
    pub phone: String,
    /// Masked to the district unless revealed.
    pub address: Option<String>,
    pub consent: ContactConsent,
    pub revealed: bool,
    /// The customer's personal data was erased (GB/T 5.4): nothing else is filled in.
    #[serde(default)]
    pub erased: bool,
}

/// The customer's acknowledgement of the published fee list before a paid request is
/// accepted (GB/T 4.2.3, 8.4.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeAcknowledgement {
    /// `CatalogueService::fee_digest` of the list the customer saw.
    pub digest: String,
    pub at: DateTime<Utc>,
    /// `kiosk` or `counter`.
    pub via: String,
}

// ---------------------------------------------------------------- kiosk intake

/// `POST /intake`: a kiosk creates the request and its ticket together (one transaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskIntake {
    pub service: ServiceType,
    #[serde(default)]
    pub class: PriorityClass,
    pub intake: Intake,
    #[serde(default)]
    pub contact: Option<Contact>,
    /// Required for a paid service: the fee digest the customer acknowledged.
    #[serde(default)]
    pub fees_acknowledged: Option<String>,
    /// GB/T 6.1.2: the customer confirmed the summary screen.
    pub confirmed_by_customer: bool,
    #[serde(default)]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeReceipt {
    pub request: RequestView,
    pub ticket: IssuedTicket,
}

// ---------------------------------------------------------------- device alerts

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    PrinterPaperOut,
    PrinterFault,
    TerminalFault,
    ScannerFault,
}

/// `POST /alerts`: a device reports a fault (`active`) or its recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceAlert {
    pub device: String,
    pub kind: AlertKind,
    pub active: bool,
    #[serde(default)]
    pub detail: Option<String>,
    /// The ticket whose printout failed, if any.
    #[serde(default)]
    pub ticket_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertView {
    pub device: String,
    pub kind: AlertKind,
    pub detail: Option<String>,
    pub ticket_id: Option<i64>,
    pub since: DateTime<Utc>,
}

// ---------------------------------------------------------------- appointments (GB/T 8.1)

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentState {
    Booked,
    CheckedIn,
    NoShow,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAppointment {
    pub service: ServiceType,
    pub slot_start: DateTime<Utc>,
    /// How the booking reached us (GB/T 4.2.2).
    #[serde(default)]
    pub channel: Channel,
    #[serde(default)]
    pub intake: Intake,
    #[serde(default)]
    pub contact: Option<Contact>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentView {
    pub id: i64,
    /// Short code the customer types or scans at the kiosk.
    pub code: String,
    pub service: ServiceType,
    pub slot_start: DateTime<Utc>,
    pub slot_end: DateTime<Utc>,
    pub state: AppointmentState,
    pub request_id: i64,
    pub ticket_id: Option<i64>,
    /// Every change, oldest first: booked, rescheduled, cancelled, checked in, no-show.
    #[serde(default)]
    pub history: Vec<AppointmentChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentChange {
    /// `booked`, `rescheduled`, `cancelled`, `checked_in` or `no_show`.
    pub kind: String,
    pub at: DateTime<Utc>,
    pub staff_id: Option<String>,
    pub from_slot: Option<DateTime<Utc>>,
    pub to_slot: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

/// One bookable slot (`GET /appointments/slots?service=..&date=..`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotView {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub capacity: u32,
    pub booked: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reschedule {
    pub slot_start: DateTime<Utc>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    pub code: String,
    #[serde(default)]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedIn {
    pub appointment: AppointmentView,
    pub ticket: IssuedTicket,
    /// True when this code had already been checked in: the same ticket is returned.
    pub again: bool,
}

// ---------------------------------------------------------------- satisfaction (GB/T 9.1.2)

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingReason {
    ShortWait,
    Friendly,
    Professional,
    Resolved,
    LongWait,
    Unfriendly,
    NotResolved,
    FeesUnclear,
    Environment,
}

impl RatingReason {
    pub const ALL: [RatingReason; 9] = [
        RatingReason::ShortWait,
        RatingReason::Friendly,
        RatingReason::Professional,
        RatingReason::Resolved,
        RatingReason::LongWait,
        RatingReason::Unfriendly,
        RatingReason::NotResolved,
        RatingReason::FeesUnclear,
        RatingReason::Environment,
    ];
}

/// `POST /tickets/{id}/rating`: one rating per finished ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    pub score: u8,
    #[serde(default)]
    pub reasons: Vec<RatingReason>,
    #[serde(default)]
    pub comment: Option<String>,
    /// `kiosk`, `feedback_terminal` or `follow_up`.
    pub via: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatingView {
    pub id: i64,
    pub ticket_id: Option<i64>,
    pub request_id: Option<i64>,
    pub score: u8,
    pub reasons: Vec<RatingReason>,
    pub via: String,
    pub at: DateTime<Utc>,
}

// ---------------------------------------------------------------- counter desk

/// One waiting ticket as the counter's queue panel shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingTicket {
    pub ticket: TicketView,
    pub waited_secs: u32,
    /// GB/T 4.1.2: waited past the centre's promised waiting limit for the service.
    pub overdue: bool,
    /// Transferred to one counter only.
    pub for_counter: Option<u32>,
}

/// `GET /queue/waiting`: waiting tickets in calling order per service, and tickets on hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingList {
    pub waiting: Vec<WaitingTicket>,
    pub on_hold: Vec<TicketView>,
}

/// `GET /counters/{n}/today`: today's figures for one counter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CounterToday {
    pub counter: u32,
    pub served: u32,
    pub no_shows: u32,
    pub transferred: u32,
    pub mean_service_secs: Option<u32>,
    pub mean_wait_secs: Option<u32>,
}

/// `POST /requests/{id}/agreements`: a new version of the service agreement (GB/T 8.2).
/// Fees are taken from the request's current quote, so the agreement and the quote agree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftAgreement {
    pub content: String,
    /// When the work is done, as agreed (free text such as "2026-12-01 14:00–16:00").
    pub time: String,
    pub place: String,
    pub technician: String,
    /// Defaults to the centre's published change procedure.
    #[serde(default)]
    pub change_procedure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementView {
    pub request_id: i64,
    pub version: u32,
    pub content: String,
    pub time: String,
    pub place: String,
    pub technician: String,
    pub change_procedure: String,
    pub quote_version: Option<u32>,
    pub lines: Vec<QuoteLine>,
    pub total: Fen,
    pub staff_id: String,
    pub created_at: DateTime<Utc>,
}

/// `POST /requests/{id}/follow-up`: the result of a follow-up call (GB/T 8.1 回访).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordFollowUp {
    pub reached: bool,
    pub note: String,
    /// The customer's evaluation given on the call (counts as satisfaction data, 9.1.2).
    #[serde(default)]
    pub score: Option<u8>,
    #[serde(default)]
    pub reasons: Vec<RatingReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpView {
    pub request_id: i64,
    pub reached: bool,
    pub note: String,
    pub score: Option<u8>,
    pub staff_id: String,
    pub at: DateTime<Utc>,
}

/// `GET /follow-ups`: finished requests waiting for their follow-up call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpDue {
    pub request: RequestView,
    /// When the call is due (the configured days after resolution).
    pub due: DateTime<Utc>,
    pub attempts: u32,
}

// ---------------------------------------------------------------- text messages (GB/T 4.2.2)

/// `POST /sms/lease`: the SMS agent asks for the next message that may go now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseSms {
    pub device: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsToSend {
    pub id: i64,
    pub phone: String,
    pub text: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Report the result before this moment, or the outcome counts as unknown.
    pub lease_until: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsOutcome {
    Sent,
    /// Not sent, try later (no network, modem busy, out of credit).
    Retry,
    /// Not sent and never will be (invalid number, rejected).
    Failed,
    /// Maybe sent: never resent automatically.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsResult {
    pub outcome: SmsOutcome,
    #[serde(default)]
    pub detail: Option<String>,
    /// The agent that leased it: a result that arrives after the lease ran out is still
    /// taken from the same agent when it says `sent` or `failed`.
    #[serde(default)]
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsView {
    pub id: i64,
    /// `appointment_confirmation`, `appointment_reminder`, `turn_near`, `request_result`.
    pub kind: String,
    /// `pending`, `leased`, `sent`, `dropped`, `failed`, `unknown`.
    pub state: String,
    pub phone_masked: String,
    pub text: String,
    pub attempts: u32,
    pub not_before: DateTime<Utc>,
    pub reason: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// `POST /sms/opt-out`: the customer wants no more text messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsOptOut {
    pub phone: String,
}

// ---------------------------------------------------------------- public status, erasure

/// The public status page of a ticket (GB/T 4.1.3): `{base}/s/{centre_id}/{token}`, where
/// `base` is the catalogue's `status_base_url` or the hub's own address (without the API
/// prefix). Add `.json` for [`crate::sync::TicketStatus`].
pub fn status_page_url(base: &str, centre_id: &str, token: &str) -> String {
    format!(
        "{}{}/{centre_id}/{token}",
        base.trim_end_matches('/'),
        crate::sync::STATUS_PAGE_PREFIX
    )
}

/// Why a customer's personal data is erased (GB/T 5.4, 5.6.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureReason {
    /// The customer asked for it.
    Request,
    /// It was kept as long as the retention period allows.
    Retention,
}

impl ErasureReason {
    pub fn code(self) -> &'static str {
        match self {
            ErasureReason::Request => "request",
            ErasureReason::Retention => "retention",
        }
    }
}

/// `POST /customers/{pseudonym}/erase` (a supervisor or an administrator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EraseCustomer {
    pub reason: ErasureReason,
}

/// The answer to an erasure: the same for a repeated call, with `already_erased` set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureView {
    /// The pseudonym (the only customer identity that ever left the hub).
    pub customer: String,
    pub erased_at: DateTime<Utc>,
    /// True when an earlier call had erased it already: nothing changed this time.
    pub already_erased: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(class: PriorityClass) -> TicketView {
        TicketView {
            id: 7,
            number: "A007".into(),
            service: ServiceType::Repair,
            class,
            channel: Channel::OnSite,
            state: TicketState::Called,
            business_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            counter: Some(2),
            staff_id: Some("alice".into()),
            issued_at: DateTime::<Utc>::UNIX_EPOCH,
            called_at: None,
            started_at: None,
            finished_at: None,
            recalls: 0,
            printed: true,
            status_token: "s3cret-status-token".into(),
        }
    }

    #[test]
    fn the_public_snapshot_carries_no_token_staff_or_priority() {
        // GB/T 5.4: as `HubEvent::public_view` shows the same tickets.
        let snap = QueueSnapshot {
            now: DateTime::<Utc>::UNIX_EPOCH,
            day: None,
            services: Vec::new(),
            at_counters: vec![
                ticket(PriorityClass::Priority),
                ticket(PriorityClass::Appointment),
            ],
            last_seq: 9,
            open_counters: vec![2],
        };
        let public = snap.public_view();
        let text = serde_json::to_string(&public).unwrap();
        for secret in ["s3cret", "alice", "\"priority\""] {
            assert!(!text.contains(secret), "{text}");
        }
        assert_eq!(public.at_counters[0].class, PriorityClass::Normal);
        assert_eq!(public.at_counters[1].class, PriorityClass::Appointment);
        assert_eq!(
            (
                public.at_counters[0].number.as_str(),
                public.at_counters[0].counter
            ),
            ("A007", Some(2))
        );
        assert_eq!((public.last_seq, public.open_counters), (9, vec![2]));
    }
}
