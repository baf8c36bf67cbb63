//! The counter desk: the controller behind every screen of the counter station, driven
//! without a window (the Slint adapter and the tests call the same methods). It holds the
//! staff session, the ticket being served, the open request with its quote draft,
//! agreements and payments, a card payment whose outcome is unknown, and a print job kept
//! for a reprint.
//!
//! Rules it enforces before asking the hub: a paid request is paid only after its quote
//! was acknowledged (GB/T 4.2.3); a card payment whose outcome is unknown blocks the next
//! card payment until it is reconciled (8.4.2) and is never sent again with a new key; a
//! cash tender must cover the amount due. The hub enforces the rest and its refusals are
//! passed on in its own words.
//!
//! For supervisors and administrators it also keeps the Devices page (GB/T 5.4 device
//! enrolment): the enrolled devices, a pairing code just made, and a revocation waiting
//! for its confirmation; a device id is checked here before the hub is asked.
//!
//! It never touches Slint, and never holds a customer's contact in clear longer than the
//! request it belongs to is open (GB/T 5.4).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use domain::{Channel, FeeItem, Fen, RequestStage, ServiceType, TicketState};
use hardware::printer::render::{self, Rendered};
use hardware::printer::{PrintError, PrinterProfile, encode};
use hardware::terminal::{
    IdempotencyKey, Outcome, PaymentTerminal, StaffResolution, TerminalError, TransactionRecord,
};
use protocol::devices::{DeviceRole, DeviceView, NewPairing, valid_device_id};
use protocol::{
    AcknowledgeQuote, AgreementView, AlertKind, AppointmentView, Catalogue, ClientError, Contact,
    ContactView, CreateAppointment, CreateRequest, DeviceAlert, DraftAgreement, FollowUpDue,
    FollowUpView, HubClient, Intake, KnowledgeBase, Login, MakeQuote, PaymentMethod, PaymentView,
    QuoteItem, QuoteView, RecordFollowUp, RecordPayment, RecordRefund, RefundView, RequestView,
    SessionView, TicketView, TransferTicket,
};
use protocol::{Reschedule, SlotView};
use ui::Lang;

use crate::devices::{DeskPrinter, Devices, Shared, counter_profile, lock};
use crate::documents::{self, DocKind, Letterhead, PrintJob, Tendered, paper_lang};
use crate::enrolment::{Access, PairingShown};
use crate::queue::{self, QueueView};

/// Why a desk action did not happen, in the words staff see.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("the hub cannot be reached ({0}); nothing was lost, try again")]
    HubUnreachable(String),
    #[error("{detail}")]
    Refused {
        code: String,
        status: u16,
        detail: String,
        field: Option<String>,
    },
    #[error("the hub answered something this counter cannot read: {0}")]
    BadAnswer(String),
    #[error("log in first")]
    NotLoggedIn,
    #[error("the screen is locked: enter your PIN")]
    Locked,
    #[error("no ticket is at this counter")]
    NoTicket,
    #[error("no request is open")]
    NoRequest,
    #[error("{0}")]
    Invalid(String),
    /// GB/T 5.4: a device id the hub would refuse, caught before asking it.
    #[error("`{0}` is not a device id: use 1 to 40 letters, digits, '-' or '_'")]
    BadDeviceId(String),
    #[error("no receipt printer is configured")]
    NoPrinter,
    #[error("no payment terminal is configured: take cash, QR/online or a cheque")]
    NoTerminal,
    #[error("{0}")]
    Terminal(#[from] TerminalError),
    #[error(
        "a card transaction of {amount} has an unknown outcome: check the terminal and settle it first"
    )]
    CardUnresolved { amount: Fen },
    #[error("cannot lay out the {0}: {1}")]
    Document(DocKind, String),
    #[error("cannot draw the preview: {0}")]
    Preview(String),
    #[error("the device thread failed: {0}")]
    Device(String),
}

impl From<ClientError> for DeskError {
    fn from(e: ClientError) -> DeskError {
        match e {
            ClientError::Refused(p) => DeskError::Refused {
                code: p.code,
                status: p.status,
                detail: p.detail,
                field: p.field,
            },
            ClientError::Unreachable(e) => DeskError::HubUnreachable(e.to_string()),
            ClientError::BadAnswer { status, body } => DeskError::BadAnswer(format!(
                "{status}: {}",
                body.chars().take(200).collect::<String>()
            )),
            e @ (ClientError::NotEnrolled { .. }
            | ClientError::NotSecure { .. }
            | ClientError::Identity(_)) => DeskError::HubUnreachable(e.to_string()),
        }
    }
}

impl DeskError {
    /// Whether the hub is unreachable (the input is kept; the desk retries by itself).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DeskError::HubUnreachable(_))
    }

    /// Whether the hub no longer knows the session (expired, or logged out elsewhere).
    pub fn is_session_gone(&self) -> bool {
        matches!(self, DeskError::Refused { status: 401, .. })
    }
}

/// How the counter is set up.
#[derive(Debug, Clone)]
pub struct DeskConfig {
    /// The hub's base URL.
    pub hub_url: String,
    pub counter: u32,
    /// The language documents are printed in.
    pub lang: Lang,
    /// This station's device name at the hub (sessions, alerts): `counter-3`.
    pub device: String,
}

impl DeskConfig {
    pub fn new(hub_url: impl Into<String>, counter: u32, lang: Lang) -> DeskConfig {
        DeskConfig {
            hub_url: hub_url.into(),
            counter,
            lang,
            device: format!("counter-{counter}"),
        }
    }
}

/// A logged-in staff member.
#[derive(Debug, Clone)]
pub struct Session {
    pub client: HubClient,
    pub view: SessionView,
}

/// What a card transaction on the terminal is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardPurpose {
    /// A payment for a request.
    Sale { request_id: i64 },
    /// Paying a recorded refund back to the card (GB/T 8.4.3).
    Refund { refund_id: i64 },
}

/// A card transaction whose outcome is not known yet: staff check the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCard {
    pub key: IdempotencyKey,
    pub purpose: CardPurpose,
    pub amount: Fen,
    /// Why the outcome is unknown, in words.
    pub reason: String,
}

impl CardPurpose {
    /// The idempotency key of a new transaction for this purpose at `counter`:
    /// `c3-s12-1741000000000-1` (sale for request 12) or `c3-f4-…` (refund 4). The purpose
    /// can be read back from the key after a restart.
    fn key(self, counter: u32) -> Result<IdempotencyKey, TerminalError> {
        let (tag, id) = match self {
            CardPurpose::Sale { request_id } => ('s', request_id),
            CardPurpose::Refund { refund_id } => ('f', refund_id),
        };
        IdempotencyKey::new(format!("c{counter}-{tag}{id}-{}", unique()))
    }

    /// The purpose a key was made for, if this counter made it.
    pub fn from_key(key: &IdempotencyKey) -> Option<CardPurpose> {
        let mut parts = key.as_str().split('-');
        let _counter = parts.next()?.strip_prefix('c')?;
        let purpose = parts.next()?;
        let id: i64 = purpose.get(1..)?.parse().ok()?;
        match purpose.chars().next()? {
            's' => Some(CardPurpose::Sale { request_id: id }),
            'f' => Some(CardPurpose::Refund { refund_id: id }),
            _ => None,
        }
    }
}

/// Milliseconds since the epoch and a per-process sequence: unique across restarts.
fn unique() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{}-{n}", Utc::now().timestamp_millis())
}

/// Whether a printed document came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printed {
    Printed,
    /// The printer failed; the job is kept and reprinted once the printer is back.
    Kept(String),
    /// No printer is configured.
    NoPrinter,
}

/// A payment recorded at the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paid {
    pub payment: PaymentView,
    /// Cash: what to hand back.
    pub change: Option<Fen>,
    pub receipt: Printed,
}

/// How a card transaction ended, as the counter shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardOutcome {
    /// The sale was approved and recorded; the receipt printed or kept.
    Paid(Paid),
    /// The refund went back to the card and is marked paid.
    Refunded(RefundView),
    /// Nothing was charged.
    Declined(String),
    /// It is not known whether the card was charged: shown as such until reconciled.
    Unknown(String),
    /// Approved on the terminal, but the hub could not be told yet: retried by itself.
    Unrecorded(String),
}

/// A payment by other means than the card terminal (GB/T 8.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OtherPayment {
    /// Cash handed over; the change is computed.
    Cash {
        tendered: Fen,
    },
    /// QR code / online payment with its transaction reference.
    Online {
        reference: String,
    },
    Cheque {
        number: String,
    },
}

/// A request typed in by staff (GB/T 4.2.2: phone, letter, fax, web, SMS, or on site).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestDraft {
    pub service: ServiceType,
    pub channel: Channel,
    pub intake: Intake,
    pub contact: Option<Contact>,
    /// GB/T 6.1.2: the summary was read back and the customer confirmed it.
    pub confirmed_by_customer: bool,
    /// GB/T 4.2.3: the customer was shown the published fee list of a paid service.
    pub fee_list_shown: bool,
    /// Attach it to the ticket being served.
    pub for_ticket: bool,
}

/// A refund to record (GB/T 8.4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundDraft {
    pub payment_id: i64,
    pub amount: Fen,
    pub method: PaymentMethod,
    pub reason: String,
}

/// A transfer of the ticket being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub service: ServiceType,
    /// Only this counter may call it next.
    pub counter: Option<u32>,
    pub to_front: bool,
    pub reason: String,
}

/// One line of the quote being put together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftLine {
    pub item: FeeItem,
    pub quantity: u32,
}

impl DraftLine {
    pub fn amount(&self) -> Fen {
        self.item
            .unit_price
            .checked_mul(self.quantity)
            .unwrap_or(Fen(i64::MAX))
    }
}

/// A snapshot of the desk for the screen (cheap to send to the UI thread).
#[derive(Debug, Clone, Default)]
pub struct DeskView {
    pub counter: u32,
    pub catalogue: Option<Arc<Catalogue>>,
    pub staff: Option<SessionView>,
    pub locked: bool,
    pub ticket: Option<TicketView>,
    pub request: Option<RequestView>,
    /// The other requests made for the ticket (normally none).
    pub ticket_requests: Vec<i64>,
    /// The contact of the open request, revealed or masked.
    pub contact: Option<ContactView>,
    pub schedule: Vec<FeeItem>,
    pub draft: Vec<DraftLine>,
    pub draft_total: Fen,
    pub amount_due: Option<Fen>,
    pub agreements: Vec<AgreementView>,
    pub preview: Option<(u32, Arc<Rendered>)>,
    pub card: Option<PendingCard>,
    /// Card payments approved on the terminal and not yet recorded at the hub.
    pub unrecorded: usize,
    /// Of those, the ones for the open request: no new payment is taken for it meanwhile.
    pub unrecorded_here: usize,
    /// Card refunds credited on the terminal and not yet marked paid at the hub.
    pub unpaid_refunds: Vec<i64>,
    /// Something staff must see that no command of theirs reported (a recorded card
    /// payment or refund the hub refused when it was sent again).
    pub notice: Option<String>,
    pub last_change: Option<Fen>,
    pub knowledge: Option<KnowledgeBase>,
    pub refunds: Vec<RefundView>,
    pub follow_ups: Vec<FollowUpDue>,
    pub follow_up_contact: Option<(i64, ContactView)>,
    pub pending_print: Option<(DocKind, String)>,
    pub appointment: Option<AppointmentView>,
    /// Free appointment slots found for the new-request form.
    pub slots: Vec<SlotView>,
    pub has_printer: bool,
    pub has_terminal: bool,
    /// The Devices page (GB/T 5.4): what the logged-in person may do there.
    pub device_access: Access,
    /// The devices enrolled at the hub, as last loaded.
    pub enrolled: Vec<DeviceView>,
    /// The pairing code just made, with the technician's command.
    pub pairing: Option<PairingShown>,
    /// A device id refused before the hub was asked (shown under the field).
    pub bad_device_id: Option<String>,
    /// The device whose revocation waits for a confirmation.
    pub revoking: Option<String>,
}

/// A card sale approved on the terminal that the hub has not recorded yet.
#[derive(Debug, Clone)]
struct Unrecorded {
    request_id: i64,
    record: RecordPayment,
}

/// The counter desk.
pub struct Desk {
    cfg: DeskConfig,
    hub: HubClient,
    session: Option<Session>,
    locked: bool,
    catalogue: Option<Arc<Catalogue>>,
    ticket: Option<TicketView>,
    request: Option<RequestView>,
    ticket_requests: Vec<i64>,
    revealed: Option<ContactView>,
    draft: Vec<(String, u32)>,
    agreements: Vec<AgreementView>,
    preview: Option<(u32, Arc<Rendered>)>,
    card: Option<PendingCard>,
    unrecorded: Vec<Unrecorded>,
    /// Card refunds credited on the terminal whose "paid" the hub has not heard of yet.
    unpaid_refunds: Vec<i64>,
    notice: Option<String>,
    last_change: Option<Fen>,
    knowledge: Option<KnowledgeBase>,
    refunds: Vec<RefundView>,
    follow_ups: Vec<FollowUpDue>,
    follow_up_contact: Option<(i64, ContactView)>,
    appointment: Option<AppointmentView>,
    slots: Vec<SlotView>,
    printer: Option<Shared<DeskPrinter>>,
    profile: PrinterProfile,
    terminal: Option<Shared<Box<dyn PaymentTerminal>>>,
    /// A job the printer failed; reprinted once it is back.
    pending_print: Option<PrintJob>,
    /// The last job printed (for "print again").
    last_job: Option<PrintJob>,
    /// Device faults this station reported to the hub: (device suffix, kind).
    raised: Vec<(&'static str, AlertKind)>,
    /// The Devices page (GB/T 5.4).
    enrolled: Vec<DeviceView>,
    pairing: Option<PairingShown>,
    bad_device_id: Option<String>,
    revoking: Option<String>,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("counter", &self.cfg.counter)
            .field("staff", &self.session.as_ref().map(|s| &s.view.staff_id))
            .field("ticket", &self.ticket.as_ref().map(|t| &t.number))
            .field("request", &self.request.as_ref().map(|r| r.id))
            .finish_non_exhaustive()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DeskError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DeskError::Device(e.to_string()))
}

impl Desk {
    /// A desk on a plain `http://` hub (the tests, a single-machine demo).
    pub fn new(cfg: DeskConfig, devices: Devices) -> Desk {
        let hub = HubClient::new(cfg.hub_url.clone());
        Desk::with_hub(cfg, devices, hub)
    }

    /// A desk talking to the hub through `hub` (the station's own client: mutual TLS on
    /// an enrolled station, see [`HubClient::for_device`]).
    pub fn with_hub(cfg: DeskConfig, devices: Devices, hub: HubClient) -> Desk {
        let profile = devices
            .printer
            .as_ref()
            .map_or_else(|| counter_profile(&cfg.device), |p| p.profile().clone());
        Desk {
            hub,
            cfg,
            session: None,
            locked: false,
            catalogue: None,
            ticket: None,
            request: None,
            ticket_requests: Vec::new(),
            revealed: None,
            draft: Vec::new(),
            agreements: Vec::new(),
            preview: None,
            card: None,
            unrecorded: Vec::new(),
            unpaid_refunds: Vec::new(),
            notice: None,
            last_change: None,
            knowledge: None,
            refunds: Vec::new(),
            follow_ups: Vec::new(),
            follow_up_contact: None,
            appointment: None,
            slots: Vec::new(),
            printer: devices.printer.map(|p| Arc::new(Mutex::new(p))),
            profile,
            terminal: devices.terminal.map(|t| Arc::new(Mutex::new(t))),
            pending_print: None,
            last_job: None,
            raised: Vec::new(),
            enrolled: Vec::new(),
            pairing: None,
            bad_device_id: None,
            revoking: None,
        }
    }

    pub fn counter(&self) -> u32 {
        self.cfg.counter
    }

    /// The centre's time zone (from the catalogue; China's until it is loaded).
    pub fn zone(&self) -> chrono::FixedOffset {
        crate::text::centre_zone(
            self.catalogue
                .as_ref()
                .map_or(480, |c| c.centre.utc_offset_minutes),
        )
    }

    pub fn lang(&self) -> Lang {
        self.cfg.lang
    }

    /// Prints documents in `lang` from now on.
    pub fn set_lang(&mut self, lang: Lang) {
        self.cfg.lang = lang;
        // A preview on screen is drawn again in the new language.
        if let Some((version, _)) = self.preview.take()
            && let Err(e) = self.preview_agreement(version)
        {
            tracing::info!("counter: preview not redrawn: {e}");
        }
    }

    pub fn session(&self) -> Option<&SessionView> {
        self.session.as_ref().map(|s| &s.view)
    }

    /// The hub client acting as the logged-in staff member (for the queue panel).
    pub fn staff_client(&self) -> Option<HubClient> {
        self.session.as_ref().map(|s| s.client.clone())
    }

    pub fn is_locked(&self) -> bool {
        self.locked
    }

    pub fn ticket(&self) -> Option<&TicketView> {
        self.ticket.as_ref()
    }

    pub fn request(&self) -> Option<&RequestView> {
        self.request.as_ref()
    }

    pub fn agreements(&self) -> &[AgreementView] {
        &self.agreements
    }

    pub fn pending_card(&self) -> Option<&PendingCard> {
        self.card.as_ref()
    }

    pub fn pending_print(&self) -> Option<&PrintJob> {
        self.pending_print.as_ref()
    }

    pub fn last_job(&self) -> Option<&PrintJob> {
        self.last_job.as_ref()
    }

    /// How many approved card sales wait to be recorded at the hub.
    pub fn unrecorded_payments(&self) -> usize {
        self.unrecorded.len()
    }

    fn staff(&self) -> Result<&Session, DeskError> {
        let s = self.session.as_ref().ok_or(DeskError::NotLoggedIn)?;
        if self.locked {
            return Err(DeskError::Locked);
        }
        Ok(s)
    }

    fn client(&self) -> Result<HubClient, DeskError> {
        Ok(self.staff()?.client.clone())
    }

    // ------------------------------------------------------------ session

    /// Logs in at this counter (GB/T 5.2.3: the hub answers with the services this
    /// person may serve here), then picks up a ticket left at the counter and settles a
    /// card transaction left unknown by a restart.
    pub async fn login(&mut self, staff_id: &str, pin: &str) -> Result<SessionView, DeskError> {
        let staff_id = staff_id.trim();
        if staff_id.is_empty() || pin.is_empty() {
            return Err(DeskError::Invalid("enter your staff id and PIN".into()));
        }
        let view = self
            .hub
            .login(&Login {
                staff_id: staff_id.to_owned(),
                secret: pin.to_owned(),
                counter: Some(self.cfg.counter),
                device: Some(self.cfg.device.clone()),
            })
            .await?;
        let client = self.hub.with_token(view.token.clone());
        self.forget_customer();
        self.forget_devices();
        self.ticket = None;
        self.session = Some(Session {
            client,
            view: view.clone(),
        });
        self.locked = false;
        // Fees may have changed since the last login: fetched again.
        self.refresh_catalogue().await?;
        self.pick_up_counter().await?;
        self.recover_card().await;
        Ok(view)
    }

    /// Ends the session at the hub and clears the screen of everything customer-related.
    pub async fn logout(&mut self) -> Result<(), DeskError> {
        if let Some(s) = self.session.take() {
            // A hub that cannot be reached lets the session expire by itself.
            if let Err(e) = s.client.logout().await {
                tracing::info!("counter: logout not confirmed by the hub: {e}");
            }
        }
        self.locked = false;
        self.ticket = None;
        self.forget_customer();
        self.refunds.clear();
        self.follow_ups.clear();
        // GB/T 5.4: a revealed number is never left on the screen for the next person.
        self.follow_up_contact = None;
        self.knowledge = None;
        self.slots.clear();
        self.forget_devices();
        Ok(())
    }

    /// Locks the screen (after inactivity, or by hand); revealed contacts are hidden again.
    pub fn lock(&mut self) {
        if self.session.is_some() {
            self.locked = true;
            self.revealed = None;
            self.follow_up_contact = None;
            // A pairing code is not left on the screen for the next person.
            self.pairing = None;
            self.revoking = None;
        }
    }

    /// Unlocks with the logged-in staff member's PIN. The PIN is checked by the hub (a
    /// session without a counter, closed at once, so the board's counter stays open);
    /// wrong PINs count towards the hub's lock-out.
    pub async fn unlock(&mut self, pin: &str) -> Result<(), DeskError> {
        let staff_id = self
            .session
            .as_ref()
            .map(|s| s.view.staff_id.clone())
            .ok_or(DeskError::NotLoggedIn)?;
        if pin.is_empty() {
            return Err(DeskError::Invalid("enter your PIN".into()));
        }
        let check = self
            .hub
            .login(&Login {
                staff_id,
                secret: pin.to_owned(),
                counter: None,
                device: Some(format!("{}-unlock", self.cfg.device)),
            })
            .await?;
        if let Err(e) = self.hub.with_token(check.token).logout().await {
            tracing::debug!("counter: unlock check session not closed: {e}");
        }
        self.locked = false;
        Ok(())
    }

    /// The hub's catalogue (names, fee schedules, the centre's details), fetched once.
    pub async fn catalogue(&mut self) -> Result<Arc<Catalogue>, DeskError> {
        if let Some(c) = &self.catalogue {
            return Ok(c.clone());
        }
        let c = Arc::new(self.hub.catalogue().await?);
        self.catalogue = Some(c.clone());
        Ok(c)
    }

    /// Fetches the catalogue again (at login, and after the hub said the fee list
    /// changed). A hub that cannot be reached keeps the copy already here, if any.
    async fn refresh_catalogue(&mut self) -> Result<Arc<Catalogue>, DeskError> {
        match self.hub.catalogue().await {
            Ok(c) => {
                let c = Arc::new(c);
                self.catalogue = Some(c.clone());
                Ok(c)
            }
            Err(e) => match &self.catalogue {
                Some(c) => {
                    tracing::info!("counter: the catalogue was not refreshed: {e}");
                    Ok(c.clone())
                }
                None => Err(e.into()),
            },
        }
    }

    fn letterhead(&self) -> Result<Letterhead, DeskError> {
        self.catalogue
            .as_deref()
            .map(Letterhead::from_catalogue)
            .ok_or_else(|| DeskError::HubUnreachable("the catalogue was not loaded yet".into()))
    }

    /// A ticket already called or served at this counter (after a restart or a re-login).
    async fn pick_up_counter(&mut self) -> Result<(), DeskError> {
        let snapshot = self.client()?.queue().await?;
        let here = snapshot.at_counters.into_iter().find(|t| {
            t.counter == Some(self.cfg.counter)
                && matches!(t.state, TicketState::Called | TicketState::Serving)
        });
        if let Some(t) = here {
            self.take_ticket(t).await?;
        }
        Ok(())
    }

    // ------------------------------------------------------------ queue and calls

    /// The queue panel as it stands now.
    pub async fn queue(&self) -> Result<QueueView, DeskError> {
        let s = self.staff()?;
        Ok(queue::fetch(&s.client, self.cfg.counter, &s.view.services).await?)
    }

    fn busy_check(&self) -> Result<(), DeskError> {
        match &self.ticket {
            Some(t) if matches!(t.state, TicketState::Called | TicketState::Serving) => {
                Err(DeskError::Invalid(format!(
                    "{} is still at this counter: finish, hold, transfer or mark it a no-show first",
                    t.number
                )))
            }
            _ => Ok(()),
        }
    }

    /// Calls the next ticket for this counter (the hub applies routing, qualifications and
    /// the priority ratio); `None` when nobody this person may serve is waiting.
    pub async fn call_next(&mut self) -> Result<Option<TicketView>, DeskError> {
        self.busy_check()?;
        let t = self.client()?.call_next().await?;
        if let Some(t) = &t {
            self.take_ticket(t.clone()).await?;
        }
        Ok(t)
    }

    /// Calls one waiting ticket by id.
    pub async fn call(&mut self, ticket_id: i64) -> Result<TicketView, DeskError> {
        self.busy_check()?;
        let t = self.client()?.ticket_action(ticket_id, "call").await?;
        self.take_ticket(t.clone()).await?;
        Ok(t)
    }

    /// Calls the waiting ticket with this number (as typed at the counter).
    pub async fn call_number(&mut self, number: &str) -> Result<TicketView, DeskError> {
        let q = self.queue().await?;
        let id = q
            .find_waiting(number)
            .map(|w| w.ticket.id)
            .ok_or_else(|| DeskError::Invalid(format!("no ticket {} is waiting", number.trim())))?;
        self.call(id).await
    }

    fn current_ticket(&self) -> Result<&TicketView, DeskError> {
        self.ticket.as_ref().ok_or(DeskError::NoTicket)
    }

    async fn act(&mut self, action: &str) -> Result<TicketView, DeskError> {
        let id = self.current_ticket()?.id;
        let t = self.client()?.ticket_action(id, action).await?;
        Ok(t)
    }

    /// Re-announces the ticket on the board.
    pub async fn recall(&mut self) -> Result<TicketView, DeskError> {
        let t = self.act("recall").await?;
        self.ticket = Some(t.clone());
        Ok(t)
    }

    /// The customer arrived at the counter: service starts.
    pub async fn start(&mut self) -> Result<TicketView, DeskError> {
        let t = self.act("start").await?;
        self.ticket = Some(t.clone());
        Ok(t)
    }

    /// Service at the counter is over; the counter is free.
    pub async fn finish(&mut self) -> Result<TicketView, DeskError> {
        let t = self.act("finish").await?;
        self.leave_ticket();
        Ok(t)
    }

    /// The called customer did not come.
    pub async fn no_show(&mut self) -> Result<TicketView, DeskError> {
        let t = self.act("no-show").await?;
        self.leave_ticket();
        Ok(t)
    }

    /// Parks the ticket (the customer stepped away); it stays on the hold list.
    pub async fn hold(&mut self) -> Result<TicketView, DeskError> {
        let t = self.act("hold").await?;
        self.leave_ticket();
        Ok(t)
    }

    /// Brings a parked ticket back to this counter.
    pub async fn resume(&mut self, ticket_id: i64) -> Result<TicketView, DeskError> {
        self.busy_check()?;
        let t = self.client()?.ticket_action(ticket_id, "resume").await?;
        self.take_ticket(t.clone()).await?;
        Ok(t)
    }

    /// Sends the ticket to another service or counter, to the front or the back of that
    /// queue, with the reason.
    pub async fn transfer(&mut self, to: Transfer) -> Result<TicketView, DeskError> {
        let reason = to.reason.trim();
        if reason.is_empty() {
            return Err(DeskError::Invalid(
                "say why the ticket is transferred".into(),
            ));
        }
        let id = self.current_ticket()?.id;
        let t = self
            .client()?
            .transfer(
                id,
                &TransferTicket {
                    service: to.service,
                    to_front: to.to_front,
                    counter: to.counter,
                    reason: Some(reason.to_owned()),
                },
            )
            .await?;
        self.leave_ticket();
        Ok(t)
    }

    async fn take_ticket(&mut self, t: TicketView) -> Result<(), DeskError> {
        let same = self.ticket.as_ref().is_some_and(|c| c.id == t.id);
        self.ticket = Some(t.clone());
        if same && self.request.is_some() {
            return Ok(());
        }
        self.forget_customer();
        let requests = self.client()?.requests_for_ticket(t.id).await?;
        self.ticket_requests = requests.iter().map(|r| r.id).collect();
        if let Some(r) = requests.into_iter().next_back() {
            self.show_request(r).await?;
        }
        Ok(())
    }

    fn leave_ticket(&mut self) {
        self.ticket = None;
        self.forget_customer();
    }

    fn forget_customer(&mut self) {
        self.request = None;
        self.ticket_requests.clear();
        self.revealed = None;
        self.draft.clear();
        self.agreements.clear();
        self.preview = None;
        self.last_change = None;
        self.appointment = None;
    }

    // ------------------------------------------------------------ requests (GB/T 8.1)

    async fn show_request(&mut self, r: RequestView) -> Result<(), DeskError> {
        if self.request.as_ref().map(|c| c.id) != Some(r.id) {
            self.revealed = None;
            self.preview = None;
            self.last_change = None;
            self.draft = r
                .quote
                .as_ref()
                .map(|q| {
                    q.lines
                        .iter()
                        .map(|l| (l.code.clone(), l.quantity))
                        .collect()
                })
                .unwrap_or_default();
        }
        self.agreements = self.client()?.agreements(r.id).await?;
        self.request = Some(r);
        Ok(())
    }

    /// Opens a request by id (for refunds and follow-ups of earlier visits).
    pub async fn open_request(&mut self, id: i64) -> Result<&RequestView, DeskError> {
        let r = self.client()?.request(id).await?;
        self.show_request(r).await?;
        self.request.as_ref().ok_or(DeskError::NoRequest)
    }

    async fn reload_request(&mut self) -> Result<(), DeskError> {
        let id = self.open_id()?;
        let r = self.client()?.request(id).await?;
        self.request = Some(r);
        Ok(())
    }

    /// After a payment was recorded: the request is read again; when that fails the
    /// payment the hub returned is shown as it is (the amount due never goes back up).
    async fn show_payment(&mut self, payment: &PaymentView) {
        if self.request.as_ref().map(|r| r.id) != Some(payment.request_id) {
            return;
        }
        if let Err(e) = self.reload_request().await {
            tracing::info!("counter: the request was not read again after a payment: {e}");
        }
        if let Some(r) = self.request.as_mut()
            && r.id == payment.request_id
            && !r.payments.iter().any(|p| p.id == payment.id)
        {
            r.payments.push(payment.clone());
        }
    }

    fn open_id(&self) -> Result<i64, DeskError> {
        self.request
            .as_ref()
            .map(|r| r.id)
            .ok_or(DeskError::NoRequest)
    }

    /// Records a request typed in by staff: for the ticket at the counter (a walk-in
    /// without a kiosk intake) or one that came by phone, letter, fax, web or SMS
    /// (GB/T 4.2.2). The customer must have confirmed the summary (6.1.2).
    pub async fn create_request(&mut self, d: RequestDraft) -> Result<RequestView, DeskError> {
        if !d.confirmed_by_customer {
            return Err(DeskError::Invalid(
                "read the summary back and let the customer confirm it first (GB/T 6.1.2)".into(),
            ));
        }
        let cat = self.catalogue().await?;
        let service = cat
            .services
            .iter()
            .find(|s| s.service == d.service)
            .ok_or_else(|| DeskError::Invalid(format!("{} is not offered", d.service)))?;
        // GB/T 4.2.3: a paid service's published fees are shown before it is accepted.
        if service.paid && !d.fee_list_shown {
            return Err(DeskError::Invalid(
                "this is a paid service: show the customer the published fee list first (GB/T 4.2.3)"
                    .into(),
            ));
        }
        let ticket_id = if d.for_ticket {
            Some(self.current_ticket()?.id)
        } else {
            None
        };
        let r = self
            .client()?
            .create_request(&CreateRequest {
                service: d.service,
                channel: d.channel,
                ticket_id,
                intake: d.intake,
                start_stage: None,
                confirmed_by_customer: true,
                contact: d.contact,
                fees_acknowledged: (service.paid && d.fee_list_shown)
                    .then(|| service.fee_digest.clone()),
            })
            .await;
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let e = DeskError::from(e);
                if matches!(&e, DeskError::Refused { code, .. } if code == "fee_list_changed") {
                    // The published fees changed: the new list is shown from now on.
                    if let Err(e) = self.refresh_catalogue().await {
                        tracing::info!("counter: the new fee list could not be fetched: {e}");
                    }
                }
                return Err(e);
            }
        };
        if d.for_ticket {
            self.ticket_requests.push(r.id);
        }
        self.show_request(r.clone()).await?;
        Ok(r)
    }

    /// The bookable times of `service` on `date` that still have room.
    pub async fn find_slots(
        &mut self,
        service: ServiceType,
        date: chrono::NaiveDate,
    ) -> Result<Vec<SlotView>, DeskError> {
        let all = self.client()?.slots(service, date).await?;
        let now = Utc::now();
        self.slots = all
            .into_iter()
            .filter(|s| s.booked < s.capacity && s.start > now)
            .collect();
        Ok(self.slots.clone())
    }

    /// Books a visit for a customer who called (GB/T 8.1 预约).
    pub async fn book_appointment(
        &mut self,
        req: CreateAppointment,
    ) -> Result<AppointmentView, DeskError> {
        let a = self.client()?.create_appointment(&req).await?;
        self.appointment = Some(a.clone());
        self.slots.clear();
        Ok(a)
    }

    /// Shows an appointment by the code the customer was given (GB/T 8.1 预约).
    pub async fn lookup_appointment(&mut self, code: &str) -> Result<AppointmentView, DeskError> {
        let code = code.trim();
        if code.is_empty() {
            return Err(DeskError::Invalid("type the appointment code".into()));
        }
        let a = self.client()?.appointment(code).await?;
        self.appointment = Some(a.clone());
        Ok(a)
    }

    /// Moves an appointment to another slot; the hub keeps the change in its history.
    pub async fn reschedule_appointment(
        &mut self,
        code: &str,
        slot_start: DateTime<Utc>,
        reason: Option<String>,
    ) -> Result<AppointmentView, DeskError> {
        let reason = reason.filter(|r| !r.trim().is_empty());
        let a = self
            .client()?
            .reschedule(code.trim(), &Reschedule { slot_start, reason })
            .await?;
        self.appointment = Some(a.clone());
        self.slots.clear();
        Ok(a)
    }

    /// Cancels an appointment, with the customer's reason; the history is kept.
    pub async fn cancel_appointment(
        &mut self,
        code: &str,
        reason: Option<String>,
    ) -> Result<AppointmentView, DeskError> {
        let reason = reason.filter(|r| !r.trim().is_empty());
        let a = self
            .client()?
            .cancel_appointment(code.trim(), reason)
            .await?;
        self.appointment = Some(a.clone());
        Ok(a)
    }

    /// Moves the open request one stage on (GB/T 8.1); the hub stamps the time and
    /// refuses paid work whose quote was not acknowledged (4.2.3).
    pub async fn advance(&mut self) -> Result<RequestView, DeskError> {
        let r = self.request.as_ref().ok_or(DeskError::NoRequest)?;
        let to = r
            .stage
            .next()
            .ok_or_else(|| DeskError::Invalid("the request has reached its last stage".into()))?;
        self.advance_to(to).await
    }

    pub async fn advance_to(&mut self, to: RequestStage) -> Result<RequestView, DeskError> {
        let id = self.open_id()?;
        let r = self.client()?.advance_request(id, to).await?;
        self.request = Some(r.clone());
        Ok(r)
    }

    /// GB/T 5.4: shows the open request's phone and address in clear; the hub writes the
    /// access to the audit log with this staff member's identity.
    pub async fn reveal_contact(&mut self) -> Result<ContactView, DeskError> {
        let id = self.open_id()?;
        let c = self.client()?.reveal_contact(id).await?;
        self.revealed = Some(c.clone());
        Ok(c)
    }

    /// GB/T 5.4: the customer wants no more text messages; their number is opted out at
    /// the hub without being shown.
    pub async fn stop_texts(&mut self) -> Result<(), DeskError> {
        let id = self.open_id()?;
        self.client()?.request_sms_opt_out(id).await?;
        Ok(())
    }

    /// Hides a revealed contact again.
    pub fn hide_contact(&mut self) {
        self.revealed = None;
        self.follow_up_contact = None;
    }

    /// GB/T 7.3: searches the knowledge base (every word must match; empty: everything).
    pub async fn search_knowledge(&mut self, words: &str) -> Result<KnowledgeBase, DeskError> {
        let q = words.trim();
        let kb = self
            .client()?
            .knowledge((!q.is_empty()).then_some(q))
            .await?;
        self.knowledge = Some(kb.clone());
        Ok(kb)
    }

    // ------------------------------------------------------------ quote (GB/T 4.2.3, 8.4.1)

    /// The open request's fee schedule, as published.
    pub fn schedule(&self) -> Vec<FeeItem> {
        let (Some(r), Some(c)) = (&self.request, &self.catalogue) else {
            return Vec::new();
        };
        c.services
            .iter()
            .find(|s| s.service == r.service)
            .map(|s| s.fees.clone())
            .unwrap_or_default()
    }

    /// The quote being put together, priced from the schedule.
    pub fn draft(&self) -> Vec<DraftLine> {
        let schedule = self.schedule();
        self.draft
            .iter()
            .filter_map(|(code, quantity)| {
                schedule
                    .iter()
                    .find(|i| &i.code == code)
                    .map(|item| DraftLine {
                        item: item.clone(),
                        quantity: *quantity,
                    })
            })
            .collect()
    }

    /// Adds one of a fee item to the draft.
    pub fn add_item(&mut self, code: &str) -> Result<(), DeskError> {
        self.open_id()?;
        if !self.schedule().iter().any(|i| i.code == code) {
            return Err(DeskError::Invalid(format!(
                "`{code}` is not in this service's fee schedule"
            )));
        }
        match self.draft.iter_mut().find(|(c, _)| c == code) {
            Some((_, q)) => *q = q.saturating_add(1),
            None => self.draft.push((code.to_owned(), 1)),
        }
        Ok(())
    }

    /// Takes one of a fee item off the draft.
    pub fn remove_item(&mut self, code: &str) {
        if let Some(i) = self.draft.iter().position(|(c, _)| c == code) {
            if self.draft[i].1 > 1 {
                self.draft[i].1 -= 1;
            } else {
                self.draft.remove(i);
            }
        }
    }

    /// Issues the draft as the request's quote (a new version each time).
    pub async fn issue_quote(&mut self) -> Result<QuoteView, DeskError> {
        let id = self.open_id()?;
        if self.draft.is_empty() {
            return Err(DeskError::Invalid("add at least one fee item".into()));
        }
        let items = self
            .draft
            .iter()
            .map(|(code, quantity)| QuoteItem {
                code: code.clone(),
                quantity: *quantity,
            })
            .collect();
        let q = self.client()?.make_quote(id, &MakeQuote { items }).await?;
        self.reload_request().await?;
        Ok(q)
    }

    /// GB/T 4.2.3: the customer saw the whole itemised quote on the counter's screen and
    /// accepts it; the hub stores the acknowledgement of exactly this version's digest.
    pub async fn acknowledge_quote(&mut self) -> Result<QuoteView, DeskError> {
        let r = self.request.as_ref().ok_or(DeskError::NoRequest)?;
        let q = r
            .quote
            .as_ref()
            .ok_or_else(|| DeskError::Invalid("issue the quote first".into()))?;
        let ack = AcknowledgeQuote {
            version: q.version,
            digest: q.digest.clone(),
            via: "counter".into(),
        };
        let id = r.id;
        let q = self.client()?.acknowledge_quote(id, &ack).await?;
        self.reload_request().await?;
        Ok(q)
    }

    /// What is still to pay on the open request: the quote's total less the payments.
    pub fn amount_due(&self) -> Option<Fen> {
        let r = self.request.as_ref()?;
        let q = r.quote.as_ref()?;
        let paid: i64 = r.payments.iter().map(|p| p.amount.0).sum();
        // Card sales approved on the terminal are paid, recorded at the hub or not yet.
        let approved: i64 = self.unrecorded_for(r.id).map(|u| u.record.amount.0).sum();
        Some(Fen((q.total.0 - paid - approved).max(0)))
    }

    fn unrecorded_for(&self, request_id: i64) -> impl Iterator<Item = &Unrecorded> {
        self.unrecorded
            .iter()
            .filter(move |u| u.request_id == request_id)
    }

    /// The request and amount a new payment is for, after the counter's checks.
    fn payable(&self) -> Result<(i64, Fen), DeskError> {
        let r = self.request.as_ref().ok_or(DeskError::NoRequest)?;
        let q = r
            .quote
            .as_ref()
            .ok_or_else(|| DeskError::Invalid("there is no quote to pay".into()))?;
        // GB/T 4.2.3, 8.4.1: fees are told and acknowledged before anything is charged.
        if q.acknowledged_at.is_none() {
            return Err(DeskError::Invalid(
                "the customer has not acknowledged the quote yet (GB/T 4.2.3)".into(),
            ));
        }
        // An approved card sale the hub has not recorded yet is money taken: nothing else
        // is charged for this request until it is recorded (no double charge).
        let waiting: i64 = self.unrecorded_for(r.id).map(|u| u.record.amount.0).sum();
        if waiting > 0 {
            return Err(DeskError::Invalid(format!(
                "a card payment of {} was approved on the terminal and is not recorded at the hub yet: take no other payment for this request until it is",
                Fen(waiting)
            )));
        }
        let due = self.amount_due().unwrap_or(Fen::ZERO);
        if due <= Fen::ZERO {
            return Err(DeskError::Invalid("nothing is due on this request".into()));
        }
        if let Some(p) = &self.card {
            return Err(DeskError::CardUnresolved { amount: p.amount });
        }
        Ok((r.id, due))
    }

    // ------------------------------------------------------------ payments (GB/T 8.4.2)

    /// Cash, QR/online or cheque: recorded with an idempotency key, receipt printed.
    pub async fn pay(&mut self, how: OtherPayment) -> Result<Paid, DeskError> {
        let (request_id, due) = self.payable()?;
        let (method, reference, tendered) = match &how {
            OtherPayment::Cash { tendered } => {
                if *tendered < due {
                    return Err(DeskError::Invalid(format!(
                        "{tendered} does not cover the {due} due"
                    )));
                }
                (
                    PaymentMethod::Cash,
                    None,
                    Tendered::Cash {
                        tendered: *tendered,
                    },
                )
            }
            OtherPayment::Online { reference } | OtherPayment::Cheque { number: reference } => {
                let r = reference.trim();
                if r.is_empty() {
                    return Err(DeskError::Invalid(
                        "enter the transaction reference or cheque number".into(),
                    ));
                }
                let m = if matches!(how, OtherPayment::Online { .. }) {
                    PaymentMethod::Online
                } else {
                    PaymentMethod::Cheque
                };
                (m, Some(r.to_owned()), Tendered::Other)
            }
        };
        let record = RecordPayment {
            amount: due,
            method,
            reference,
            idempotency_key: format!(
                "c{}-{}-r{request_id}-{}",
                self.cfg.counter,
                method.code(),
                unique()
            ),
        };
        let payment = self.client()?.record_payment(request_id, &record).await?;
        let change = match tendered {
            Tendered::Cash { tendered } => Some(Fen(tendered.0 - due.0)),
            Tendered::Other => None,
        };
        self.last_change = change;
        // Recorded: a failure to read the request again is no reason to pay again.
        self.show_payment(&payment).await;
        let receipt = self.print_receipt_for(&payment, &tendered).await;
        Ok(Paid {
            payment,
            change,
            receipt,
        })
    }

    fn terminal(&self) -> Result<Shared<Box<dyn PaymentTerminal>>, DeskError> {
        self.terminal.clone().ok_or(DeskError::NoTerminal)
    }

    /// A bank card payment of the amount due on the serial terminal. Approved: recorded
    /// at the hub under the same idempotency key and the receipt printed. Unknown: kept
    /// and shown until reconciled; nothing is ever sent again under a new key meanwhile.
    pub async fn pay_card(&mut self) -> Result<CardOutcome, DeskError> {
        let (request_id, due) = self.payable()?;
        let terminal = self.terminal()?;
        self.run_card(CardPurpose::Sale { request_id }, due, terminal)
            .await
    }

    async fn run_card(
        &mut self,
        purpose: CardPurpose,
        amount: Fen,
        terminal: Shared<Box<dyn PaymentTerminal>>,
    ) -> Result<CardOutcome, DeskError> {
        let key = purpose.key(self.cfg.counter)?;
        self.card = Some(PendingCard {
            key: key.clone(),
            purpose,
            amount,
            reason: "the terminal has not answered yet".into(),
        });
        let k = key.clone();
        let outcome = blocking(move || {
            let mut t = lock(&terminal);
            match purpose {
                CardPurpose::Sale { .. } => t.sale(&k, amount),
                CardPurpose::Refund { .. } => t.refund(&k, amount),
            }
        })
        .await?;
        match outcome {
            Err(e) => {
                // Nothing was charged (the terminal's contract for errors).
                self.card = None;
                if matches!(
                    e,
                    TerminalError::NoAnswer | TerminalError::Busy | TerminalError::Link(_)
                ) {
                    self.report("terminal", Some((AlertKind::TerminalFault, e.to_string())))
                        .await;
                }
                Err(e.into())
            }
            Ok(o) => {
                self.report("terminal", None).await;
                self.settle(key, purpose, amount, o).await
            }
        }
    }

    /// Acts on a terminal outcome: approved → recorded at the hub; declined → cleared;
    /// unknown → kept for staff.
    async fn settle(
        &mut self,
        key: IdempotencyKey,
        purpose: CardPurpose,
        amount: Fen,
        outcome: Outcome,
    ) -> Result<CardOutcome, DeskError> {
        match outcome {
            Outcome::Approved(a) => {
                self.card = None;
                match purpose {
                    CardPurpose::Sale { request_id } => {
                        let reference = a.terminal_reference.clone().or_else(|| {
                            a.confirmed_by_staff
                                .then(|| "checked on the terminal".to_owned())
                        });
                        let record = RecordPayment {
                            amount: a.amount,
                            method: PaymentMethod::BankCard,
                            reference,
                            idempotency_key: key.as_str().to_owned(),
                        };
                        self.record_card_sale(request_id, record).await
                    }
                    CardPurpose::Refund { refund_id } => Ok(self.mark_refund_paid(refund_id).await),
                }
            }
            Outcome::Declined(_) => {
                self.card = None;
                Ok(CardOutcome::Declined(outcome.to_string()))
            }
            Outcome::UnknownNeedsStaff(reason) => {
                let text = outcome.to_string();
                self.card = Some(PendingCard {
                    key,
                    purpose,
                    amount,
                    reason: reason.to_string(),
                });
                Ok(CardOutcome::Unknown(text))
            }
        }
    }

    async fn record_card_sale(
        &mut self,
        request_id: i64,
        record: RecordPayment,
    ) -> Result<CardOutcome, DeskError> {
        let recorded = match self.client() {
            Ok(client) => client
                .record_payment(request_id, &record)
                .await
                .map_err(DeskError::from),
            Err(e) => Err(e),
        };
        match recorded {
            Ok(payment) => {
                self.last_change = None;
                if self.request.as_ref().is_some_and(|r| r.id == request_id) {
                    self.show_payment(&payment).await;
                    let receipt = self.print_receipt_for(&payment, &Tendered::Other).await;
                    Ok(CardOutcome::Paid(Paid {
                        payment,
                        change: None,
                        receipt,
                    }))
                } else {
                    Ok(CardOutcome::Paid(Paid {
                        payment,
                        change: None,
                        receipt: Printed::NoPrinter,
                    }))
                }
            }
            Err(e) => {
                // The card was charged: whatever went wrong, the record must reach the
                // hub. Same key, so the retry can never record it twice.
                let why = if e.is_unreachable() {
                    format!("the hub cannot be reached ({e})")
                } else {
                    format!("the hub did not record it ({e})")
                };
                self.unrecorded.push(Unrecorded { request_id, record });
                Ok(CardOutcome::Unrecorded(format!(
                    "the card payment was approved; {why} and it will be recorded as soon as it can: do not charge the card again"
                )))
            }
        }
    }

    /// A card refund credited on the terminal is marked paid at the hub; when that
    /// fails it is kept and sent again by `tick` (never credited a second time).
    async fn mark_refund_paid(&mut self, refund_id: i64) -> CardOutcome {
        let marked = match self.client() {
            Ok(client) => client.refund_paid(refund_id).await.map_err(DeskError::from),
            Err(e) => Err(e),
        };
        match marked {
            Ok(r) => {
                self.unpaid_refunds.retain(|x| *x != refund_id);
                self.refunds.retain(|x| x.id != refund_id);
                CardOutcome::Refunded(r)
            }
            Err(e) => {
                if !self.unpaid_refunds.contains(&refund_id) {
                    self.unpaid_refunds.push(refund_id);
                }
                CardOutcome::Unrecorded(format!(
                    "the refund was credited to the card; the hub did not mark it paid yet ({e}) and it will be as soon as it can: do not credit the card again"
                ))
            }
        }
    }

    /// Asks the terminal again about the transaction whose outcome is unknown (the
    /// driver listens for a late answer first).
    pub async fn check_card(&mut self) -> Result<CardOutcome, DeskError> {
        let p = self
            .card
            .clone()
            .ok_or_else(|| DeskError::Invalid("no card transaction is waiting".into()))?;
        let terminal = self.terminal()?;
        let key = p.key.clone();
        let record = blocking(move || lock(&terminal).transaction(&key)).await??;
        match record.and_then(|r| r.outcome()) {
            Some(o) => self.settle(p.key, p.purpose, p.amount, o).await,
            None => Ok(CardOutcome::Unknown(format!(
                "still unknown ({}): check the terminal's own receipt or journal",
                p.reason
            ))),
        }
    }

    /// Staff looked at the terminal: `charged` when its receipt or journal shows the
    /// transaction went through. Charged: recorded as paid; not charged: cleared, and a new
    /// card payment may be made.
    pub async fn resolve_card(&mut self, charged: bool) -> Result<CardOutcome, DeskError> {
        let p = self
            .card
            .clone()
            .ok_or_else(|| DeskError::Invalid("no card transaction is waiting".into()))?;
        let terminal = self.terminal()?;
        let key = p.key.clone();
        let resolution = if charged {
            StaffResolution::Charged
        } else {
            StaffResolution::NotCharged
        };
        let record: TransactionRecord =
            blocking(move || lock(&terminal).resolve(&key, resolution)).await??;
        match record.outcome() {
            Some(o) => self.settle(p.key, p.purpose, p.amount, o).await,
            None => {
                self.card = None;
                Ok(CardOutcome::Declined(
                    "not charged, as checked on the terminal".into(),
                ))
            }
        }
    }

    /// After a login: the terminal's last transaction, reconciled. Unknown → shown;
    /// an approved sale → recorded again (same key: the hub keeps one payment).
    async fn recover_card(&mut self) {
        let Some(terminal) = self.terminal.clone() else {
            return;
        };
        let last = match blocking(move || lock(&terminal).last_transaction()).await {
            Ok(Ok(Some(r))) => r,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                tracing::warn!("counter: the terminal's journal could not be checked: {e}");
                return;
            }
            Err(e) => {
                tracing::warn!("counter: {e}");
                return;
            }
        };
        let Some(purpose) = CardPurpose::from_key(&last.key) else {
            return;
        };
        match last.outcome() {
            Some(Outcome::UnknownNeedsStaff(reason)) => {
                self.card = Some(PendingCard {
                    key: last.key,
                    purpose,
                    amount: last.amount,
                    reason: reason.to_string(),
                });
            }
            Some(Outcome::Approved(a)) => {
                // Recorded again under the same key: the hub keeps one payment. No receipt
                // is printed again.
                if let CardPurpose::Sale { request_id } = purpose
                    && let Ok(client) = self.client()
                {
                    let record = RecordPayment {
                        amount: a.amount,
                        method: PaymentMethod::BankCard,
                        reference: a.terminal_reference,
                        idempotency_key: last.key.as_str().to_owned(),
                    };
                    if let Err(e) = client.record_payment(request_id, &record).await {
                        tracing::warn!(
                            "counter: the last card sale could not be confirmed with the hub: {e}"
                        );
                        if !self
                            .unrecorded
                            .iter()
                            .any(|u| u.record.idempotency_key == record.idempotency_key)
                        {
                            self.unrecorded.push(Unrecorded { request_id, record });
                        }
                    }
                }
            }
            _ => {}
        }
    }

    // ------------------------------------------------------------ refunds (GB/T 8.4.3)

    /// Records a refund with its reason and method; the hub sets the due date 5 working
    /// days ahead on the centre's calendar. The refund slip is printed.
    pub async fn refund(&mut self, d: RefundDraft) -> Result<(RefundView, Printed), DeskError> {
        let request_id = self.open_id()?;
        let reason = d.reason.trim();
        if reason.is_empty() {
            return Err(DeskError::Invalid("a refund needs a reason".into()));
        }
        let r = self
            .client()?
            .record_refund(
                request_id,
                &RecordRefund {
                    payment_id: d.payment_id,
                    amount: d.amount,
                    method: d.method,
                    reason: reason.to_owned(),
                    idempotency_key: format!(
                        "c{}-rf-p{}-{}",
                        self.cfg.counter,
                        d.payment_id,
                        unique()
                    ),
                },
            )
            .await?;
        self.reload_request().await?;
        let printed = match self.refund_job(&r) {
            Ok(job) => self.print(job).await,
            Err(e) => Printed::Kept(e.to_string()),
        };
        if !self.refunds.iter().any(|x| x.id == r.id) {
            self.refunds.push(r.clone());
        }
        Ok((r, printed))
    }

    fn refund_job(&self, r: &RefundView) -> Result<PrintJob, DeskError> {
        let head = self.letterhead()?;
        let request = self.request.as_ref().ok_or(DeskError::NoRequest)?;
        let payment = request.payments.iter().find(|p| p.id == r.payment_id);
        let slip = documents::refund_slip(&head, request, r, payment);
        let lang = paper_lang(self.cfg.lang);
        documents::layout(DocKind::RefundSlip, documents::refund_no(r), |w| {
            slip.document(lang, w)
        })
        .map_err(|e| DeskError::Document(DocKind::RefundSlip, e.to_string()))
    }

    /// Refunds not yet paid back, due first; overdue ones flagged by the hub.
    pub async fn load_refunds(&mut self) -> Result<Vec<RefundView>, DeskError> {
        let list = self.client()?.refunds().await?;
        self.refunds = list.clone();
        Ok(list)
    }

    /// Pays a recorded refund back: to the card on the terminal when it is a card refund
    /// and a terminal is here (same safety as a sale), otherwise marked paid by hand.
    pub async fn pay_out_refund(&mut self, refund_id: i64) -> Result<CardOutcome, DeskError> {
        let r = self
            .refunds
            .iter()
            .find(|r| r.id == refund_id)
            .cloned()
            .ok_or_else(|| DeskError::Invalid(format!("refund {refund_id} is not on the list")))?;
        if self.unpaid_refunds.contains(&refund_id) {
            return Err(DeskError::Invalid(format!(
                "refund {refund_id} was already credited to the card; the hub will be told as soon as it can"
            )));
        }
        if r.method == PaymentMethod::BankCard
            && let Some(terminal) = self.terminal.clone()
        {
            if let Some(p) = &self.card {
                return Err(DeskError::CardUnresolved { amount: p.amount });
            }
            return self
                .run_card(CardPurpose::Refund { refund_id }, r.amount, terminal)
                .await;
        }
        let paid = self.client()?.refund_paid(refund_id).await?;
        self.refunds.retain(|x| x.id != refund_id);
        Ok(CardOutcome::Refunded(paid))
    }

    // ------------------------------------------------------------ follow-up (GB/T 8.1 回访)

    /// Finished requests due for their follow-up call.
    pub async fn load_follow_ups(&mut self) -> Result<Vec<FollowUpDue>, DeskError> {
        let list = self.client()?.follow_ups().await?;
        self.follow_ups = list.clone();
        Ok(list)
    }

    /// GB/T 5.4: the number to call, revealed for this request only (audited by the hub).
    pub async fn reveal_follow_up_contact(
        &mut self,
        request_id: i64,
    ) -> Result<ContactView, DeskError> {
        let c = self.client()?.reveal_contact(request_id).await?;
        self.follow_up_contact = Some((request_id, c.clone()));
        Ok(c)
    }

    /// Records the call's result; a score given on the call is satisfaction data (9.1.2).
    pub async fn record_follow_up(
        &mut self,
        request_id: i64,
        call: RecordFollowUp,
    ) -> Result<FollowUpView, DeskError> {
        if let Some(s) = call.score
            && !(1..=5).contains(&s)
        {
            return Err(DeskError::Invalid("the score goes from 1 to 5".into()));
        }
        if call.score.is_some() && !call.reached {
            return Err(DeskError::Invalid(
                "a score can only be given by a customer who was reached".into(),
            ));
        }
        let v = self.client()?.record_follow_up(request_id, &call).await?;
        if self
            .follow_up_contact
            .as_ref()
            .is_some_and(|(id, _)| *id == request_id)
        {
            self.follow_up_contact = None;
        }
        if v.reached {
            self.follow_ups.retain(|f| f.request.id != request_id);
        }
        if self.request.as_ref().is_some_and(|r| r.id == request_id) {
            self.reload_request().await?;
        }
        Ok(v)
    }

    // ------------------------------------------------------------ agreement (GB/T 8.2)

    /// Writes a new version of the open request's service agreement (the hub copies the
    /// fees from the current quote); earlier versions are kept.
    pub async fn write_agreement(&mut self, d: DraftAgreement) -> Result<AgreementView, DeskError> {
        let r = self.request.as_ref().ok_or(DeskError::NoRequest)?;
        for (value, what) in [
            (&d.content, "the service content"),
            (&d.place, "the place"),
            (&d.technician, "the technician"),
        ] {
            if value.trim().is_empty() {
                return Err(DeskError::Invalid(format!("fill in {what}")));
            }
        }
        if crate::text::parse_local_time(&d.time).is_none() {
            return Err(DeskError::Invalid(
                "write the time as YYYY-MM-DD HH:MM".into(),
            ));
        }
        // GB/T 8.2.1: every fee is in the agreement, so a paid service needs its quote.
        if r.paid && r.quote.is_none() {
            return Err(DeskError::Invalid(
                "issue the quote first: the agreement lists every fee (GB/T 8.2.1)".into(),
            ));
        }
        let id = r.id;
        let a = self.client()?.write_agreement(id, &d).await?;
        self.agreements = self.client()?.agreements(id).await?;
        self.reload_request().await?;
        self.preview = None;
        Ok(a)
    }

    fn agreement_job(&self, version: u32) -> Result<PrintJob, DeskError> {
        let head = self.letterhead()?;
        let request = self.request.as_ref().ok_or(DeskError::NoRequest)?;
        let a = self
            .agreements
            .iter()
            .find(|a| a.version == version)
            .ok_or_else(|| DeskError::Invalid(format!("there is no version {version}")))?;
        let writer = self.session.as_ref().map(|s| s.view.name.as_str());
        let agreement = documents::agreement(&head, request, a, writer);
        let lang = paper_lang(self.cfg.lang);
        let title = format!("{} v{version}", documents::agreement_no(request, head.zone));
        documents::layout(DocKind::Agreement, title, |w| agreement.document(lang, w))
            .map_err(|e| DeskError::Document(DocKind::Agreement, e.to_string()))
    }

    /// The agreement version as the paper will show it: the printer's own bytes rendered.
    pub fn preview_agreement(&mut self, version: u32) -> Result<Arc<Rendered>, DeskError> {
        let job = self.agreement_job(version)?;
        let bytes = encode::encode(&job.doc, &self.profile)
            .map_err(|e| DeskError::Preview(e.to_string()))?;
        let picture = render::render(&bytes, self.profile.width)
            .map_err(|e| DeskError::Preview(e.to_string()))?;
        let picture = Arc::new(picture);
        self.preview = Some((version, picture.clone()));
        Ok(picture)
    }

    /// Prints an agreement version (two copies are signed: GB/T 8.2.1).
    pub async fn print_agreement(&mut self, version: u32) -> Result<Printed, DeskError> {
        let job = self.agreement_job(version)?;
        Ok(self.print(job).await)
    }

    // ------------------------------------------------------------ devices (GB/T 5.4)

    /// What the logged-in person may do on the Devices page (nothing while locked).
    pub fn device_access(&self) -> Access {
        match &self.session {
            Some(s) if !self.locked => Access::for_role(s.view.role),
            _ => Access::None,
        }
    }

    /// The devices enrolled at the hub (a supervisor's or an administrator's session: the
    /// hub refuses anyone else).
    pub async fn load_devices(&mut self) -> Result<&[DeviceView], DeskError> {
        self.enrolled = self.client()?.devices().await?;
        Ok(&self.enrolled)
    }

    pub fn enrolled(&self) -> &[DeviceView] {
        &self.enrolled
    }

    /// A one-time pairing code for a new device (an administrator's session) and the
    /// command the technician types on it. The id is checked here first, so a typing
    /// mistake never reaches the hub; the hub decides who may pair.
    pub async fn pair_device(
        &mut self,
        role: DeviceRole,
        device_id: &str,
    ) -> Result<&PairingShown, DeskError> {
        let client = self.client()?;
        let id = device_id.trim();
        if !valid_device_id(id) {
            self.bad_device_id = Some(id.to_owned());
            return Err(DeskError::BadDeviceId(id.to_owned()));
        }
        self.bad_device_id = None;
        // A code shown before is not left beside a refusal of the next one.
        self.pairing = None;
        let pairing = client
            .create_pairing(&NewPairing {
                role,
                device_id: id.to_owned(),
            })
            .await?;
        Ok(self
            .pairing
            .insert(PairingShown::new(pairing, &self.cfg.hub_url)))
    }

    pub fn pairing(&self) -> Option<&PairingShown> {
        self.pairing.as_ref()
    }

    /// The pairing code was handed over: it leaves the screen.
    pub fn close_pairing(&mut self) {
        self.pairing = None;
    }

    /// Asks for a confirmation before `device_id` is revoked.
    pub fn ask_revoke(&mut self, device_id: &str) -> Result<(), DeskError> {
        self.staff()?;
        let id = device_id.trim();
        if !valid_device_id(id) {
            return Err(DeskError::BadDeviceId(id.to_owned()));
        }
        self.revoking = Some(id.to_owned());
        Ok(())
    }

    /// The device waiting for a confirmation of its revocation.
    pub fn revoking(&self) -> Option<&str> {
        self.revoking.as_deref()
    }

    pub fn cancel_revoke(&mut self) {
        self.revoking = None;
    }

    /// Revokes the device confirmed (an administrator's session): the hub refuses its
    /// next request. The list is loaded again.
    pub async fn confirm_revoke(&mut self) -> Result<DeviceView, DeskError> {
        let client = self.client()?;
        let id = self
            .revoking
            .take()
            .ok_or_else(|| DeskError::Invalid("no device is waiting to be revoked".into()))?;
        let revoked = client.revoke_device(&id).await?;
        match client.devices().await {
            Ok(list) => self.enrolled = list,
            Err(e) => {
                tracing::info!("counter: the device list was not reloaded: {e}");
                if let Some(d) = self.enrolled.iter_mut().find(|d| d.device_id == id) {
                    *d = revoked.clone();
                }
            }
        }
        Ok(revoked)
    }

    fn forget_devices(&mut self) {
        self.enrolled.clear();
        self.pairing = None;
        self.bad_device_id = None;
        self.revoking = None;
    }

    // ------------------------------------------------------------ printing

    fn receipt_job(
        &self,
        payment: &PaymentView,
        tendered: &Tendered,
    ) -> Result<PrintJob, DeskError> {
        let head = self.letterhead()?;
        let request = self.request.as_ref().ok_or(DeskError::NoRequest)?;
        let agreement = self.agreements.last();
        let technician = agreement
            .map(|a| documents::technician(a, self.session.as_ref().map(|s| s.view.name.as_str())));
        let receipt = documents::receipt(&head, request, payment, tendered, agreement, technician);
        let lang = paper_lang(self.cfg.lang);
        documents::layout(
            DocKind::Receipt,
            documents::receipt_no(payment, head.zone),
            |w| receipt.document(lang, w),
        )
        .map_err(|e| DeskError::Document(DocKind::Receipt, e.to_string()))
    }

    async fn print_receipt_for(&mut self, payment: &PaymentView, tendered: &Tendered) -> Printed {
        match self.receipt_job(payment, tendered) {
            Ok(job) => self.print(job).await,
            Err(e) => Printed::Kept(e.to_string()),
        }
    }

    /// Prints the receipt of one of the open request's payments again.
    pub async fn print_receipt(&mut self, payment_id: i64) -> Result<Printed, DeskError> {
        let r = self.request.as_ref().ok_or(DeskError::NoRequest)?;
        let p = r
            .payments
            .iter()
            .find(|p| p.id == payment_id)
            .cloned()
            .ok_or_else(|| {
                DeskError::Invalid(format!("payment {payment_id} is not on this request"))
            })?;
        let job = self.receipt_job(&p, &Tendered::Other)?;
        Ok(self.print(job).await)
    }

    /// Prints a job; a failure keeps it for a reprint and raises the printer alert at the
    /// hub (the supervisor sees it too).
    async fn print(&mut self, job: PrintJob) -> Printed {
        let Some(printer) = self.printer.clone() else {
            self.last_job = Some(job);
            return Printed::NoPrinter;
        };
        let doc = job.doc.clone();
        let result = blocking(move || lock(&printer).print(&doc)).await;
        self.last_job = Some(job.clone());
        match result {
            Ok(Ok(())) => {
                if self
                    .pending_print
                    .as_ref()
                    .is_some_and(|p| p.title == job.title)
                {
                    self.pending_print = None;
                }
                self.report("printer", None).await;
                Printed::Printed
            }
            Ok(Err(e)) => {
                let text = format!("{e}: the {} {} is kept for reprinting", job.kind, job.title);
                let kind = match e {
                    PrintError::PaperOut => AlertKind::PrinterPaperOut,
                    _ => AlertKind::PrinterFault,
                };
                self.report("printer", Some((kind, e.to_string()))).await;
                self.pending_print = Some(job);
                Printed::Kept(text)
            }
            Err(e) => {
                self.pending_print = Some(job);
                Printed::Kept(e.to_string())
            }
        }
    }

    /// Tells the hub about a device fault of this station, or that it is over, once per
    /// change (the supervisor's alert list shows it; GB/T 5.6.2.3 monitoring).
    async fn report(&mut self, device: &'static str, fault: Option<(AlertKind, String)>) {
        let current = self
            .raised
            .iter()
            .find(|(d, _)| *d == device)
            .map(|(_, k)| *k);
        let mut changes: Vec<(AlertKind, bool, Option<String>)> = Vec::new();
        match (fault, current) {
            (Some((kind, _)), Some(raised)) if kind == raised => return,
            (Some((kind, detail)), raised) => {
                if let Some(old) = raised {
                    changes.push((old, false, None));
                }
                changes.push((kind, true, Some(detail)));
            }
            (None, Some(raised)) => changes.push((raised, false, None)),
            (None, None) => return,
        }
        let Ok(client) = self.client() else {
            return;
        };
        for (kind, active, detail) in changes {
            let alert = DeviceAlert {
                device: format!("{}-{device}", self.cfg.device),
                kind,
                active,
                detail,
                ticket_id: None,
            };
            match client.alert(&alert).await {
                Ok(_) => {
                    self.raised.retain(|(d, _)| *d != device);
                    if active {
                        self.raised.push((device, kind));
                    }
                }
                Err(e) => tracing::info!("counter: {device} alert not delivered: {e}"),
            }
        }
    }

    /// Prints the kept job (or, with none kept, the last one) again.
    pub async fn reprint(&mut self) -> Result<Printed, DeskError> {
        let job = self
            .pending_print
            .clone()
            .or_else(|| self.last_job.clone())
            .ok_or_else(|| DeskError::Invalid("nothing has been printed yet".into()))?;
        if self.printer.is_none() {
            return Err(DeskError::NoPrinter);
        }
        Ok(self.print(job).await)
    }

    /// Background upkeep, every few seconds: card sales waiting to be recorded at the hub
    /// are sent again (same keys), and a kept print job is printed once the printer says
    /// it is ready. Returns whether anything changed.
    pub async fn tick(&mut self) -> bool {
        let mut changed = false;
        // The centre's name and fees, for the login screen too.
        if self.catalogue.is_none() && self.catalogue().await.is_ok() {
            changed = true;
        }
        let mut refused = Vec::new();
        if self.session.is_some() && !self.unrecorded.is_empty() {
            // Every item not recorded stays in the list, whatever the hub answered.
            let waiting = std::mem::take(&mut self.unrecorded);
            for u in waiting {
                let Ok(client) = self.client() else {
                    self.unrecorded.push(u);
                    continue;
                };
                match client.record_payment(u.request_id, &u.record).await {
                    Ok(payment) => {
                        changed = true;
                        self.show_payment(&payment).await;
                    }
                    Err(ClientError::Unreachable(_)) => self.unrecorded.push(u),
                    Err(e) => {
                        // The hub refused it outright: staff must see it, not a silent loop.
                        tracing::error!(
                            "counter: card payment {} for request {} refused by the hub: {e}",
                            u.record.idempotency_key,
                            u.request_id
                        );
                        refused.push(format!(
                            "the card payment of {} approved for request {} is not recorded: the hub refused it ({e}); it is kept and sent again",
                            u.record.amount, u.request_id
                        ));
                        self.unrecorded.push(u);
                    }
                }
            }
        }
        if self.session.is_some() && !self.unpaid_refunds.is_empty() {
            let waiting = self.unpaid_refunds.clone();
            for id in waiting {
                let Ok(client) = self.client() else {
                    continue;
                };
                match client.refund_paid(id).await {
                    Ok(_) => {
                        changed = true;
                        self.unpaid_refunds.retain(|x| *x != id);
                        self.refunds.retain(|x| x.id != id);
                    }
                    Err(ClientError::Unreachable(_)) => {}
                    Err(e) => refused.push(format!(
                        "refund {id} was credited to the card but the hub refused to mark it paid ({e}); it is kept and sent again"
                    )),
                }
            }
        }
        if self.session.is_some() {
            // Refusals are shown until the items are recorded (or the hub is away).
            changed |= self.set_notice(refused);
        }
        if let (Some(job), Some(printer)) = (self.pending_print.clone(), self.printer.clone()) {
            let ready = blocking(move || lock(&printer).status())
                .await
                .is_ok_and(|s| s.is_ok_and(|s| s.ready()));
            if ready && self.print(job).await == Printed::Printed {
                changed = true;
            }
        }
        changed
    }

    /// Sets the notice staff see; whether it changed.
    fn set_notice(&mut self, lines: Vec<String>) -> bool {
        let notice = (!lines.is_empty()).then(|| lines.join("\n"));
        if notice == self.notice {
            return false;
        }
        self.notice = notice;
        true
    }

    /// Something staff must see that no command of theirs reported.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    // ------------------------------------------------------------ view

    /// A snapshot of everything the screen shows.
    pub fn view(&self) -> DeskView {
        let draft = self.draft();
        let draft_total = draft.iter().fold(Fen::ZERO, |acc, l| {
            acc.checked_add(l.amount()).unwrap_or(acc)
        });
        DeskView {
            counter: self.cfg.counter,
            catalogue: self.catalogue.clone(),
            staff: self.session.as_ref().map(|s| s.view.clone()),
            locked: self.locked,
            ticket: self.ticket.clone(),
            request: self.request.clone(),
            ticket_requests: self.ticket_requests.clone(),
            contact: self
                .revealed
                .clone()
                .or_else(|| self.request.as_ref().and_then(|r| r.contact.clone())),
            schedule: self.schedule(),
            draft,
            draft_total,
            amount_due: self.amount_due(),
            agreements: self.agreements.clone(),
            preview: self.preview.clone(),
            card: self.card.clone(),
            unrecorded: self.unrecorded.len(),
            unrecorded_here: self
                .request
                .as_ref()
                .map_or(0, |r| self.unrecorded_for(r.id).count()),
            unpaid_refunds: self.unpaid_refunds.clone(),
            notice: self.notice.clone(),
            last_change: self.last_change,
            knowledge: self.knowledge.clone(),
            refunds: self.refunds.clone(),
            follow_ups: self.follow_ups.clone(),
            follow_up_contact: self.follow_up_contact.clone(),
            pending_print: self
                .pending_print
                .as_ref()
                .map(|j| (j.kind, j.title.clone())),
            appointment: self.appointment.clone(),
            slots: self.slots.clone(),
            has_printer: self.printer.is_some(),
            has_terminal: self.terminal.is_some(),
            device_access: self.device_access(),
            enrolled: self.enrolled.clone(),
            pairing: self.pairing.clone(),
            bad_device_id: self.bad_device_id.clone(),
            revoking: self.revoking.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_keys_carry_their_purpose_and_are_valid_terminal_keys() {
        let k = CardPurpose::Sale { request_id: 12 }.key(3).unwrap();
        assert!(k.as_str().starts_with("c3-s12-"));
        assert_eq!(
            CardPurpose::from_key(&k),
            Some(CardPurpose::Sale { request_id: 12 })
        );
        let k2 = CardPurpose::Sale { request_id: 12 }.key(3).unwrap();
        assert_ne!(k, k2, "each attempt has its own key");
        let f = CardPurpose::Refund { refund_id: 4 }.key(12).unwrap();
        assert_eq!(
            CardPurpose::from_key(&f),
            Some(CardPurpose::Refund { refund_id: 4 })
        );
        assert_eq!(
            CardPurpose::from_key(&IdempotencyKey::new("sale-1").unwrap()),
            None
        );
    }
}
