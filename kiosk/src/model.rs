//! What the kiosk is doing for the customer in front of it: which screen, what they
//! typed, what the hub last said. A pure state machine: [`KioskModel::apply`] takes an
//! [`Input`] (a tap, a key, a tick, a result from the hub) and returns the [`Effect`]s to
//! carry out (issue a ticket, submit an intake...); the results come back as inputs.
//!
//! It never does IO, never reads a clock (time arrives with [`Input::Tick`]) and never
//! touches Slint: the adapter shows it, the controller carries out its effects.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, Offset as _, Utc};
use domain::mask::mask_phone;
use domain::{PriorityClass, ServiceType};
use protocol::{
    Catalogue, CatalogueService, CheckIn, CheckedIn, Contact, ContactConsent, Faq, Intake,
    IntakeReceipt, IssuedTicket, KioskIntake, KnowledgeBase, Problem, ProductCategory,
    QueueSnapshot, Rate, RatingReason, RatingView,
};
use ui::Lang;

use crate::ime::Composer;

// ---------------------------------------------------------------- configuration

/// How this kiosk behaves (from `KioskOptions`).
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// The language a new customer starts in.
    pub lang: Lang,
    /// What the physical take-ticket button issues.
    pub button_service: ServiceType,
    /// A feedback terminal beside this counter: it asks for a rating as soon as the
    /// counter finishes a ticket (GB/T 9.1.2) and offers nothing else.
    pub feedback_counter: Option<u32>,
    /// Silence after which the kiosk wipes the customer's input and goes home.
    pub idle_timeout: Duration,
    /// How long a result (ticket, receipt, thanks) stays on screen untouched.
    pub result_timeout: Duration,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            lang: Lang::ZhCn,
            button_service: ServiceType::Consultation,
            feedback_counter: None,
            idle_timeout: Duration::from_secs(90),
            result_timeout: Duration::from_secs(30),
        }
    }
}

// ---------------------------------------------------------------- screens and fields

/// The screens, in the order a customer meets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    Home,
    /// A ticket was issued (tap, button or appointment check-in).
    Ticket,
    /// GB/T 5.3.1: the centre's published information.
    Info,
    /// GB/T 7.3: common questions.
    Knowledge,
    /// Intake step 1: product category, model, serial number, purchase date.
    Product,
    /// Intake step 2: the problem.
    Problem,
    /// Intake step 3: the phone number and what it may be used for (GB/T 5.4).
    Contact,
    /// GB/T 4.2.3, 8.4.1: the itemised fees of a paid service, to acknowledge.
    Fees,
    /// GB/T 6.1.2: the key points repeated for the customer to confirm or correct.
    Summary,
    /// The request and its ticket were recorded.
    Accepted,
    /// GB/T 8.1: appointment check-in by code or scanned QR.
    CheckIn,
    /// GB/T 9.1.2: rating a finished ticket.
    Feedback,
    /// After a rating.
    Thanks,
    /// The feedback terminal between customers.
    RateWait,
}

impl Screen {
    pub const ALL: [Screen; 14] = [
        Screen::Home,
        Screen::Ticket,
        Screen::Info,
        Screen::Knowledge,
        Screen::Product,
        Screen::Problem,
        Screen::Contact,
        Screen::Fees,
        Screen::Summary,
        Screen::Accepted,
        Screen::CheckIn,
        Screen::Feedback,
        Screen::Thanks,
        Screen::RateWait,
    ];

    /// The name the UI switches pages on (and screenshots are named after).
    pub fn code(self) -> &'static str {
        match self {
            Screen::Home => "home",
            Screen::Ticket => "ticket",
            Screen::Info => "info",
            Screen::Knowledge => "knowledge",
            Screen::Product => "product",
            Screen::Problem => "problem",
            Screen::Contact => "contact",
            Screen::Fees => "fees",
            Screen::Summary => "summary",
            Screen::Accepted => "accepted",
            Screen::CheckIn => "checkin",
            Screen::Feedback => "feedback",
            Screen::Thanks => "thanks",
            Screen::RateWait => "rate-wait",
        }
    }

    /// Screens that show a result and go home sooner.
    fn is_result(self) -> bool {
        matches!(self, Screen::Ticket | Screen::Accepted | Screen::Thanks)
    }
}

/// Which keys the on-screen keyboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyMode {
    /// Letters compose pinyin; candidates commit Chinese.
    Pinyin,
    /// Latin letters and digits.
    Latin,
    /// A numeric keypad.
    Digits,
}

impl KeyMode {
    pub fn code(self) -> &'static str {
        match self {
            KeyMode::Pinyin => "pinyin",
            KeyMode::Latin => "latin",
            KeyMode::Digits => "digits",
        }
    }
}

/// The text fields a customer can type into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Model,
    Serial,
    PurchaseDate,
    Details,
    Phone,
    /// The appointment code (typed, or scanned: scanners type like keyboards).
    Code,
    /// The ticket number to rate.
    TicketNo,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Model,
        Field::Serial,
        Field::PurchaseDate,
        Field::Details,
        Field::Phone,
        Field::Code,
        Field::TicketNo,
    ];

    pub fn index(self) -> usize {
        match self {
            Field::Model => 0,
            Field::Serial => 1,
            Field::PurchaseDate => 2,
            Field::Details => 3,
            Field::Phone => 4,
            Field::Code => 5,
            Field::TicketNo => 6,
        }
    }

    pub fn from_index(i: usize) -> Option<Field> {
        Field::ALL.get(i).copied()
    }

    /// The keyboard modes offered while this field is focused; the first is the default
    /// for Chinese, and Latin comes first for English where it is offered.
    pub fn modes(self) -> &'static [KeyMode] {
        match self {
            Field::Details => &[KeyMode::Pinyin, KeyMode::Latin, KeyMode::Digits],
            Field::Model => &[KeyMode::Latin, KeyMode::Digits, KeyMode::Pinyin],
            Field::Serial | Field::Code | Field::TicketNo => &[KeyMode::Latin, KeyMode::Digits],
            Field::PurchaseDate | Field::Phone => &[KeyMode::Digits],
        }
    }

    fn default_mode(self, lang: Lang) -> KeyMode {
        match (self, lang) {
            (Field::Details, Lang::En) => KeyMode::Latin,
            _ => self.modes()[0],
        }
    }

    /// The most characters kept.
    fn max_chars(self) -> usize {
        match self {
            Field::Model | Field::Serial => 40,
            Field::PurchaseDate => 8,
            Field::Details => 300,
            Field::Phone => 16,
            Field::Code => 200,
            Field::TicketNo => 200,
        }
    }

    /// Normalises one typed character for this field, or refuses it.
    fn accept(self, c: char, current: &str) -> Option<char> {
        if c.is_control() {
            return None;
        }
        match self {
            // GB/T 5.4: a phone number is digits (an international one may start with +).
            Field::Phone => (c.is_ascii_digit() || (c == '+' && current.is_empty())).then_some(c),
            // Kept as eight digits, shown as YYYY-MM-DD; a typed '-' is skipped.
            Field::PurchaseDate => c.is_ascii_digit().then_some(c),
            Field::Serial => {
                (c.is_ascii_alphanumeric() || c == '-' || c == '/').then(|| c.to_ascii_uppercase())
            }
            // A scanned QR may be a whole link: keep any printable ASCII, parse on submit.
            Field::Code | Field::TicketNo => {
                (c.is_ascii_graphic()).then(|| c.to_ascii_uppercase_if(self == Field::TicketNo))
            }
            Field::Model | Field::Details => Some(c),
        }
    }
}

trait UpperIf {
    fn to_ascii_uppercase_if(self, yes: bool) -> char;
}

impl UpperIf for char {
    fn to_ascii_uppercase_if(self, yes: bool) -> char {
        if yes { self.to_ascii_uppercase() } else { self }
    }
}

/// What is wrong with what the customer entered, said in their terms by the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldError {
    /// GB/T 5.4: a phone number is digits only.
    PhoneNotDigits,
    PhoneLength,
    DateIncomplete,
    DateInvalid,
    DateInFuture,
    /// GB/T 5.4: the phone is only kept with a stated use ticked.
    ConsentMissing,
    /// GB/T 6.1.2: a request says what the problem is.
    ProblemMissing,
    CodeMissing,
    TicketNotFound,
}

impl FieldError {
    pub fn code(self) -> &'static str {
        match self {
            FieldError::PhoneNotDigits => "phone-digits",
            FieldError::PhoneLength => "phone-length",
            FieldError::DateIncomplete => "date-incomplete",
            FieldError::DateInvalid => "date-invalid",
            FieldError::DateInFuture => "date-future",
            FieldError::ConsentMissing => "consent-missing",
            FieldError::ProblemMissing => "problem-missing",
            FieldError::CodeMissing => "code-missing",
            FieldError::TicketNotFound => "ticket-not-found",
        }
    }
}

/// Longest wait for an effect's result before the kiosk gives up on it (every hub
/// call times out well before).
const BUSY_LIMIT: Duration = Duration::from_secs(45);

/// A sentence for the whole screen (a refusal, a warning, the hub being away).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The hub cannot be reached: please go to the counter.
    Offline,
    /// No business day is open: tickets cannot be issued.
    DayClosed,
    /// GB/T 4.2.3: the fees changed while the customer was reading them.
    FeeListChanged,
    /// GB/T 4.2.3: the fees must be acknowledged first.
    FeesRequired,
    AppointmentUnknown,
    AppointmentTooEarly(String),
    AppointmentTooLate(String),
    AppointmentClosed(String),
    /// The same code was checked in before: the same ticket is shown again.
    AppointmentAgain,
    NotFinished,
    AlreadyRated,
    /// Please tick a score first.
    ScoreMissing,
    /// The hub refused for a reason the kiosk has no words of its own for: its sentence.
    Refused(String),
}

impl Notice {
    pub fn code(&self) -> &'static str {
        match self {
            Notice::Offline => "offline",
            Notice::DayClosed => "day-closed",
            Notice::FeeListChanged => "fee-list-changed",
            Notice::FeesRequired => "fees-required",
            Notice::AppointmentUnknown => "appointment-unknown",
            Notice::AppointmentTooEarly(_) => "appointment-too-early",
            Notice::AppointmentTooLate(_) => "appointment-too-late",
            Notice::AppointmentClosed(_) => "appointment-closed",
            Notice::AppointmentAgain => "appointment-again",
            Notice::NotFinished => "not-finished",
            Notice::AlreadyRated => "already-rated",
            Notice::ScoreMissing => "score-missing",
            Notice::Refused(_) => "refused",
        }
    }

    /// The hub's own sentence, where there is one.
    pub fn detail(&self) -> &str {
        match self {
            Notice::AppointmentTooEarly(d)
            | Notice::AppointmentTooLate(d)
            | Notice::AppointmentClosed(d)
            | Notice::Refused(d) => d,
            _ => "",
        }
    }
}

/// The hub as the kiosk last saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubState {
    /// Starting: nothing heard yet.
    Connecting,
    Live,
    /// Lost: retrying on its own.
    Offline,
}

/// Where a ticket came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Tap,
    /// The physical take-ticket button.
    Button,
    /// An appointment check-in.
    CheckIn,
}

/// How the printout went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintState {
    Printing,
    Printed,
    /// This kiosk has no printer: the QR on screen is the ticket.
    NoPrinter,
    /// The ticket is valid but did not print; staff were alerted.
    Failed {
        paper_out: bool,
        reason: String,
    },
}

/// What this screen's ticket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownTicket {
    pub issued: IssuedTicket,
    pub origin: Origin,
    pub print: PrintState,
    /// For a check-in: the appointment's slot, and whether it was checked in before.
    pub appointment: Option<CheckedIn>,
    /// For an intake: the request.
    pub request: Option<protocol::RequestView>,
}

/// A ticket a counter just finished, remembered so its customer can rate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub ticket_id: i64,
    pub number: String,
    pub counter: u32,
}

/// The consent boxes (GB/T 5.4: each use stated on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    ServiceUpdates,
    QueueSms,
}

// ---------------------------------------------------------------- inputs and effects

/// Something that happened: a tap, a key, a tick, a result.
// A few inputs a second, moved once each: boxing the hub's answers would gain nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Input {
    /// Any touch on the screen (keeps the session alive).
    Touch,
    SetLang(Lang),
    ToggleLargeText,
    ToggleContrast,
    /// Home, or one of the home entries.
    Go(Screen),
    Back,
    TogglePriority,
    /// One tap on a service: a ticket (GB/T 4.1.1).
    TakeTicket(ServiceType),
    /// Describe the request first (GB/T 6.1.2).
    StartIntake(ServiceType),
    /// The physical take-ticket button.
    ButtonPressed,
    SelectFaq(usize),
    PickCategory(usize),
    PickProblem(usize),
    ToggleConsent(Consent),
    Focus(Field),
    /// Typed text: one key of the on-screen keyboard, or what a hardware keyboard or
    /// scanner sent. `\u{8}` is backspace, `\n` is enter.
    Key(String),
    PickCandidate(usize),
    CandidatePage(i32),
    /// The keyboard's mode key.
    NextKeyMode,
    /// Next step of the intake.
    Next,
    /// GB/T 4.2.3: "I have read the fees".
    ToggleFeesAcknowledged,
    /// GB/T 6.1.2: "this is right".
    Confirm,
    /// Change one part of the summary.
    Edit(Screen),
    SubmitCheckIn,
    FindTicketToRate,
    SetScore(u8),
    ToggleReason(RatingReason),
    SubmitRating,
    /// Time passes; `utc` is the wall clock, for dates.
    Tick {
        now: Instant,
        utc: DateTime<Utc>,
    },
    /// A result from the hub or the printer.
    Hub(Outcome),
}

/// What the controller reports back.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Outcome {
    Connection(HubState),
    Catalogue(Catalogue),
    Knowledge(KnowledgeBase),
    Queue(QueueSnapshot),
    /// A counter finished a ticket; `fresh` is false for history replayed at start.
    TicketFinished {
        finished: Finished,
        fresh: bool,
    },
    TicketIssued {
        issued: IssuedTicket,
        origin: Origin,
    },
    CheckedIn(CheckedIn),
    IntakeAccepted(IntakeReceipt),
    Printed {
        ticket_id: i64,
        state: PrintState,
    },
    Rated(RatingView),
    /// The hub answered no.
    Refused {
        action: Action,
        problem: Problem,
    },
    /// The hub could not be reached for this action.
    Unreachable {
        action: Action,
    },
}

/// Which kind of effect a result belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Ticket,
    Intake,
    CheckIn,
    Rate,
    Refresh,
}

/// Work for the controller.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    IssueTicket {
        service: ServiceType,
        class: PriorityClass,
        origin: Origin,
        lang: Lang,
    },
    SubmitIntake {
        intake: Box<KioskIntake>,
        lang: Lang,
    },
    CheckIn {
        check_in: CheckIn,
        lang: Lang,
    },
    Rate {
        ticket_id: i64,
        rate: Rate,
    },
    /// Fetch the catalogue, knowledge base and queue again.
    Refresh,
}

// ---------------------------------------------------------------- the intake form

/// Everything typed or picked for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntakeForm {
    pub service: Option<ServiceType>,
    /// Index into the knowledge base's categories.
    pub category: Option<usize>,
    /// Index into the category's common problems.
    pub problem: Option<usize>,
    pub consent: ContactConsent,
    /// GB/T 4.2.3: the fee digest the customer acknowledged.
    pub fees_acknowledged: Option<String>,
}

// ---------------------------------------------------------------- the model

/// The kiosk's whole state.
#[derive(Debug)]
pub struct KioskModel {
    config: ModelConfig,
    pub screen: Screen,
    /// Where Back goes from the current screen.
    back_to: Vec<Screen>,
    pub lang: Lang,
    pub large_text: bool,
    pub high_contrast: bool,
    /// GB/T 4.1.3: elderly, disabled, pregnant: served first.
    pub priority: bool,
    pub hub: HubState,
    pub catalogue: Option<Catalogue>,
    pub knowledge: Option<KnowledgeBase>,
    pub queue: Option<QueueSnapshot>,
    pub form: IntakeForm,
    texts: [String; 7],
    errors: Vec<(Field, FieldError)>,
    pub focus: Option<Field>,
    pub key_mode: KeyMode,
    pub composer: Composer,
    pub faq: Option<usize>,
    pub ticket: Option<ShownTicket>,
    pub notice: Option<Notice>,
    /// An effect is being carried out; taps that would start another are ignored.
    pub busy: Option<Action>,
    /// When `busy` was first seen at a tick: an effect that never reports back (a lost
    /// task) must not leave the kiosk waiting, or stop the idle wipe, for ever.
    busy_since: Option<Instant>,
    /// The ticket being rated, and the rating so far.
    pub rating_ticket: Option<Finished>,
    pub score: Option<u8>,
    pub reasons: Vec<RatingReason>,
    finished: VecDeque<Finished>,
    last_activity: Option<Instant>,
    now: Option<Instant>,
    utc: Option<DateTime<Utc>>,
}

/// How many finished tickets are remembered for rating.
const FINISHED_KEPT: usize = 200;

impl KioskModel {
    pub fn new(config: ModelConfig) -> KioskModel {
        let home = if config.feedback_counter.is_some() {
            Screen::RateWait
        } else {
            Screen::Home
        };
        KioskModel {
            lang: config.lang,
            config,
            screen: home,
            back_to: Vec::new(),
            large_text: false,
            high_contrast: false,
            priority: false,
            hub: HubState::Connecting,
            catalogue: None,
            knowledge: None,
            queue: None,
            form: IntakeForm::default(),
            texts: Default::default(),
            errors: Vec::new(),
            focus: None,
            key_mode: KeyMode::Latin,
            composer: Composer::default(),
            faq: None,
            ticket: None,
            notice: None,
            busy: None,
            busy_since: None,
            rating_ticket: None,
            score: None,
            reasons: Vec::new(),
            finished: VecDeque::new(),
            last_activity: None,
            now: None,
            utc: None,
        }
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The screen a customer starts on.
    pub fn home(&self) -> Screen {
        if self.config.feedback_counter.is_some() {
            Screen::RateWait
        } else {
            Screen::Home
        }
    }

    /// What the customer typed into `field`, as stored.
    pub fn text(&self, field: Field) -> &str {
        &self.texts[field.index()]
    }

    /// What the screen shows for `field`: the purchase date with dashes, and a phone
    /// number masked once the customer has left the field (GB/T 5.4.2).
    pub fn shown_text(&self, field: Field) -> String {
        let t = self.text(field);
        match field {
            Field::PurchaseDate => format_date_digits(t),
            Field::Phone if self.focus != Some(Field::Phone) => mask_phone(t),
            _ => t.to_owned(),
        }
    }

    pub fn error(&self, field: Field) -> Option<FieldError> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, e)| *e)
    }

    /// The problem-pick error belongs to no text field.
    pub fn problem_error(&self) -> Option<FieldError> {
        self.error(Field::Details)
            .filter(|e| *e == FieldError::ProblemMissing)
    }

    pub fn finished_tickets(&self) -> impl Iterator<Item = &Finished> {
        self.finished.iter()
    }

    /// The service of the intake under way, as the catalogue publishes it.
    pub fn intake_service(&self) -> Option<&CatalogueService> {
        let s = self.form.service?;
        self.catalogue_service(s)
    }

    pub fn catalogue_service(&self, s: ServiceType) -> Option<&CatalogueService> {
        self.catalogue
            .as_ref()?
            .services
            .iter()
            .find(|c| c.service == s)
    }

    pub fn categories(&self) -> &[ProductCategory] {
        self.knowledge
            .as_ref()
            .map(|k| k.categories.as_slice())
            .unwrap_or_default()
    }

    pub fn faqs(&self) -> &[Faq] {
        self.knowledge
            .as_ref()
            .map(|k| k.faqs.as_slice())
            .unwrap_or_default()
    }

    /// The common problems of the picked category (GB/T 7.3).
    pub fn problems(&self) -> &[protocol::CommonProblem] {
        self.form
            .category
            .and_then(|i| self.categories().get(i))
            .map(|c| c.problems.as_slice())
            .unwrap_or_default()
    }

    /// Whether a business day is open at the hub.
    pub fn day_open(&self) -> bool {
        self.queue
            .as_ref()
            .and_then(|q| q.day.as_ref())
            .is_some_and(|d| d.closed_at.is_none())
    }

    /// Tickets can be issued now.
    pub fn can_issue(&self) -> bool {
        self.hub == HubState::Live && self.catalogue.is_some() && self.day_open()
    }

    /// Waiting count and estimate for a service (GB/T 4.1.1).
    pub fn waiting(&self, s: ServiceType) -> Option<(u32, u32)> {
        self.queue
            .as_ref()?
            .services
            .iter()
            .find(|q| q.service == s)
            .map(|q| (q.waiting, q.estimated_wait_secs))
    }

    /// The centre's time zone, from the catalogue.
    pub fn utc_offset(&self) -> FixedOffset {
        let minutes = self
            .catalogue
            .as_ref()
            .map_or(480, |c| c.centre.utc_offset_minutes);
        FixedOffset::east_opt(minutes * 60).unwrap_or_else(|| Utc.fix())
    }

    /// Today at the centre, once the clock has ticked.
    pub fn today(&self) -> Option<NaiveDate> {
        self.utc
            .map(|u| u.with_timezone(&self.utc_offset()).date_naive())
    }

    /// Seconds until the idle wipe, when a warning is due (the last 10 s).
    pub fn idle_warning(&self) -> Option<u64> {
        let left = self.idle_left()?;
        (left <= Duration::from_secs(10)).then(|| left.as_secs().max(1))
    }

    fn idle_left(&self) -> Option<Duration> {
        if self.screen == self.home() {
            return None;
        }
        let (now, last) = (self.now?, self.last_activity?);
        let limit = if self.screen.is_result() {
            self.config.result_timeout
        } else {
            self.config.idle_timeout
        };
        Some(limit.saturating_sub(now.saturating_duration_since(last)))
    }

    // ------------------------------------------------------------ the update function

    /// Applies one input; returns what must be done.
    pub fn apply(&mut self, input: Input) -> Vec<Effect> {
        let mut fx = Vec::new();
        let customer = !matches!(input, Input::Tick { .. } | Input::Hub(_));
        if customer {
            self.last_activity = self.now.or(self.last_activity);
        }
        match input {
            Input::Touch => {}
            Input::SetLang(l) => {
                self.lang = l;
                if let Some(f) = self.focus {
                    self.key_mode = f.default_mode(l);
                    self.composer.clear();
                }
            }
            Input::ToggleLargeText => self.large_text = !self.large_text,
            Input::ToggleContrast => self.high_contrast = !self.high_contrast,
            Input::Go(s) => self.go(s),
            Input::Back => self.back(),
            Input::TogglePriority => self.priority = !self.priority,
            Input::TakeTicket(s) => self.take_ticket(s, Origin::Tap, &mut fx),
            Input::StartIntake(s) => self.start_intake(s),
            Input::ButtonPressed => {
                let s = self.config.button_service;
                self.take_ticket(s, Origin::Button, &mut fx);
            }
            Input::SelectFaq(i) => {
                self.faq = if self.faq == Some(i) { None } else { Some(i) };
            }
            Input::PickCategory(i) => {
                if i < self.categories().len() && self.form.category != Some(i) {
                    self.form.category = Some(i);
                    self.form.problem = None;
                }
            }
            Input::PickProblem(i) => {
                if i < self.problems().len() {
                    self.form.problem = if self.form.problem == Some(i) {
                        None
                    } else {
                        Some(i)
                    };
                    self.errors
                        .retain(|(_, e)| *e != FieldError::ProblemMissing);
                }
            }
            Input::ToggleConsent(c) => {
                let consent = &mut self.form.consent;
                match c {
                    Consent::ServiceUpdates => consent.service_updates = !consent.service_updates,
                    Consent::QueueSms => consent.queue_sms = !consent.queue_sms,
                }
                self.errors
                    .retain(|(_, e)| *e != FieldError::ConsentMissing);
            }
            Input::Focus(f) => self.focus(Some(f)),
            Input::Key(text) => self.keys(&text, &mut fx),
            Input::PickCandidate(i) => {
                if let Some(t) = self.composer.pick(i) {
                    self.insert(&t);
                }
            }
            Input::CandidatePage(d) => self.composer.turn(d),
            Input::NextKeyMode => {
                if let Some(f) = self.focus {
                    let modes = f.modes();
                    let i = modes.iter().position(|m| *m == self.key_mode).unwrap_or(0);
                    self.key_mode = modes[(i + 1) % modes.len()];
                    self.commit_letters();
                }
            }
            Input::Next => self.next(),
            Input::ToggleFeesAcknowledged => {
                self.form.fees_acknowledged = match self.form.fees_acknowledged {
                    Some(_) => None,
                    None => self.intake_service().map(|s| s.fee_digest.clone()),
                };
                if self.notice == Some(Notice::FeesRequired) {
                    self.notice = None;
                }
            }
            Input::Confirm => self.confirm(&mut fx),
            Input::Edit(s) => {
                if matches!(
                    s,
                    Screen::Product | Screen::Problem | Screen::Contact | Screen::Fees
                ) {
                    self.back_to = vec![self.home(), Screen::Summary];
                    self.show(s);
                }
            }
            Input::SubmitCheckIn => self.submit_check_in(&mut fx),
            Input::FindTicketToRate => self.find_ticket_to_rate(),
            Input::SetScore(s) => {
                if (1..=5).contains(&s) {
                    self.score = Some(s);
                    if self.notice == Some(Notice::ScoreMissing) {
                        self.notice = None;
                    }
                }
            }
            Input::ToggleReason(r) => {
                if let Some(i) = self.reasons.iter().position(|x| *x == r) {
                    self.reasons.remove(i);
                } else {
                    self.reasons.push(r);
                }
            }
            Input::SubmitRating => self.submit_rating(&mut fx),
            Input::Tick { now, utc } => self.tick(now, utc),
            Input::Hub(o) => self.outcome(o, &mut fx),
        }
        fx
    }

    fn tick(&mut self, now: Instant, utc: DateTime<Utc>) {
        self.now = Some(now);
        self.utc = Some(utc);
        if self.last_activity.is_none() {
            self.last_activity = Some(now);
        }
        match (self.busy, self.busy_since) {
            (None, _) => self.busy_since = None,
            (Some(_), None) => self.busy_since = Some(now),
            (Some(_), Some(since)) if now.saturating_duration_since(since) > BUSY_LIMIT => {
                // Every hub call times out well before this: treat it as unreachable.
                self.busy = None;
                self.busy_since = None;
                self.hub = HubState::Offline;
                self.notice = Some(Notice::Offline);
            }
            (Some(_), Some(_)) => {}
        }
        // Privacy: an idle kiosk forgets the last customer (GB/T 5.4.2).
        if self.idle_left() == Some(Duration::ZERO) && self.busy.is_none() {
            self.wipe();
        }
    }

    /// Back to the start: nothing of the last customer stays on the kiosk.
    pub fn wipe(&mut self) {
        self.screen = self.home();
        self.back_to.clear();
        self.lang = self.config.lang;
        self.large_text = false;
        self.high_contrast = false;
        self.priority = false;
        self.form = IntakeForm::default();
        self.texts = Default::default();
        self.errors.clear();
        self.focus = None;
        self.composer.clear();
        self.faq = None;
        self.ticket = None;
        self.notice = self.standing_notice();
        self.rating_ticket = None;
        self.score = None;
        self.reasons.clear();
        self.last_activity = self.now;
    }

    /// The notice that stays while the hub is away or the centre closed.
    fn standing_notice(&self) -> Option<Notice> {
        match self.hub {
            HubState::Offline => Some(Notice::Offline),
            HubState::Connecting => None,
            HubState::Live if self.queue.is_some() && !self.day_open() => Some(Notice::DayClosed),
            HubState::Live => None,
        }
    }

    fn show(&mut self, s: Screen) {
        self.screen = s;
        self.notice = self.standing_notice();
        self.composer.clear();
        self.focus = match s {
            Screen::CheckIn => Some(Field::Code),
            Screen::Feedback if self.rating_ticket.is_none() => Some(Field::TicketNo),
            _ => None,
        };
        if let Some(f) = self.focus {
            self.key_mode = f.default_mode(self.lang);
        }
    }

    fn go(&mut self, s: Screen) {
        let home = self.home();
        if s == home {
            self.wipe();
            return;
        }
        match s {
            Screen::Info | Screen::Knowledge | Screen::CheckIn | Screen::Feedback => {
                if s == Screen::Feedback {
                    self.rating_ticket = None;
                    self.score = None;
                    self.reasons.clear();
                    self.texts[Field::TicketNo.index()].clear();
                }
                if s == Screen::CheckIn {
                    self.texts[Field::Code.index()].clear();
                }
                self.back_to = vec![home];
                self.faq = None;
                self.show(s);
            }
            _ => {}
        }
    }

    fn back(&mut self) {
        match self.back_to.pop() {
            Some(s) if s == self.home() => self.wipe(),
            Some(s) => self.show(s),
            None => self.wipe(),
        }
    }

    fn take_ticket(&mut self, service: ServiceType, origin: Origin, fx: &mut Vec<Effect>) {
        if self.busy.is_some() {
            return;
        }
        let on_home = self.screen == Screen::Home || self.screen == Screen::Ticket;
        if origin == Origin::Tap && !on_home {
            return;
        }
        if !self.can_issue() {
            self.notice = self.standing_notice().or(Some(Notice::Offline));
            return;
        }
        let class = if self.priority && origin == Origin::Tap {
            PriorityClass::Priority
        } else {
            PriorityClass::Normal
        };
        self.busy = Some(Action::Ticket);
        fx.push(Effect::IssueTicket {
            service,
            class,
            origin,
            lang: self.lang,
        });
    }

    fn start_intake(&mut self, s: ServiceType) {
        if self.screen != Screen::Home || s == ServiceType::Consultation {
            return;
        }
        if !self.can_issue() {
            self.notice = self.standing_notice().or(Some(Notice::Offline));
            return;
        }
        self.form = IntakeForm {
            service: Some(s),
            ..IntakeForm::default()
        };
        for f in [
            Field::Model,
            Field::Serial,
            Field::PurchaseDate,
            Field::Details,
            Field::Phone,
        ] {
            self.texts[f.index()].clear();
        }
        self.errors.clear();
        self.back_to = vec![self.home()];
        self.show(Screen::Product);
    }

    /// Whether the intake under way is for a paid service (GB/T 4.2.3).
    pub fn intake_is_paid(&self) -> bool {
        self.intake_service().is_some_and(|s| s.paid)
    }

    fn next(&mut self) {
        self.commit_letters();
        // Each step checks its own fields, then goes on to the next step.
        let (checked, to): (&[Field], Screen) = match self.screen {
            Screen::Product => (&[Field::PurchaseDate], Screen::Problem),
            Screen::Problem => (&[Field::Details], Screen::Contact),
            // GB/T 4.2.3: a paid service shows its fees before the summary.
            Screen::Contact if self.intake_is_paid() => (&[Field::Phone], Screen::Fees),
            Screen::Contact => (&[Field::Phone], Screen::Summary),
            Screen::Fees => {
                // GB/T 4.2.3: no paid request without the fee list acknowledged.
                if !self.fees_acknowledged_current() {
                    self.notice = Some(Notice::FeesRequired);
                    return;
                }
                (&[], Screen::Summary)
            }
            _ => return,
        };
        if self.validate(checked) {
            self.back_to.push(self.screen);
            self.show(to);
        }
    }

    /// The acknowledgement is of the list published now (GB/T 4.2.3).
    pub fn fees_acknowledged_current(&self) -> bool {
        match (self.intake_service(), &self.form.fees_acknowledged) {
            (Some(s), Some(d)) => !s.paid || *d == s.fee_digest,
            (Some(s), None) => !s.paid,
            (None, _) => false,
        }
    }

    /// Checks `fields` (and what goes with them); records errors; true when all is well.
    fn validate(&mut self, fields: &[Field]) -> bool {
        self.errors.retain(|(f, _)| !fields.contains(f));
        for f in fields {
            if let Some(e) = self.check(*f) {
                self.errors.push((*f, e));
            }
        }
        let ok = fields.iter().all(|f| self.error(*f).is_none());
        if !ok {
            // Put the customer where the problem is (not on a pick-list error).
            self.focus = fields.iter().copied().find(|f| {
                self.error(*f).is_some_and(|e| {
                    !matches!(e, FieldError::ProblemMissing | FieldError::ConsentMissing)
                })
            });
            if let Some(f) = self.focus {
                self.key_mode = f.default_mode(self.lang);
            }
        }
        ok
    }

    fn check(&self, f: Field) -> Option<FieldError> {
        let t = self.text(f).trim();
        match f {
            Field::PurchaseDate => {
                if t.is_empty() {
                    return None;
                }
                if t.len() != 8 {
                    return Some(FieldError::DateIncomplete);
                }
                let date = parse_date_digits(t)?;
                match (date, self.today()) {
                    (None, _) => Some(FieldError::DateInvalid),
                    (Some(d), Some(today)) if d > today => Some(FieldError::DateInFuture),
                    _ => None,
                }
            }
            Field::Details => {
                let picked = self.form.problem.is_some();
                (!picked && t.is_empty()).then_some(FieldError::ProblemMissing)
            }
            Field::Phone => {
                if t.is_empty() {
                    return None;
                }
                let digits = t.strip_prefix('+').unwrap_or(t);
                if !digits.chars().all(|c| c.is_ascii_digit()) {
                    Some(FieldError::PhoneNotDigits)
                } else if !(7..=15).contains(&digits.len()) {
                    Some(FieldError::PhoneLength)
                } else if !self.form.consent.service_updates && !self.form.consent.queue_sms {
                    // GB/T 5.4: the number is kept only for a use the customer ticked.
                    Some(FieldError::ConsentMissing)
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The intake as it will be sent, in the customer's language.
    pub fn intake(&self) -> Option<KioskIntake> {
        let service = self.form.service?;
        let cat = self.form.category.and_then(|i| self.categories().get(i));
        let problem = self.form.problem.and_then(|i| self.problems().get(i));
        let opt = |f: Field| {
            let t = self.text(f).trim();
            (!t.is_empty()).then(|| t.to_owned())
        };
        let phone = opt(Field::Phone);
        Some(KioskIntake {
            service,
            class: if self.priority {
                PriorityClass::Priority
            } else {
                PriorityClass::Normal
            },
            intake: Intake {
                category: cat.map(|c| c.code.clone()),
                product: cat.map(|c| self.lang.pick(&c.name_zh, &c.name_en).to_owned()),
                model: opt(Field::Model),
                serial_number: opt(Field::Serial),
                purchase_date: parse_date_digits(self.text(Field::PurchaseDate)).flatten(),
                problem: problem.map(|p| self.lang.pick(&p.text_zh, &p.text_en).to_owned()),
                problem_code: problem.map(|p| p.code.clone()),
                details: opt(Field::Details),
            },
            contact: phone.map(|phone| Contact {
                name: None,
                phone,
                address: None,
                consent: self.form.consent,
                // Text messages in the language the customer chose on screen.
                lang: Some(self.lang.tag().to_owned()),
            }),
            fees_acknowledged: self.form.fees_acknowledged.clone(),
            confirmed_by_customer: true,
            device: None,
        })
    }

    fn confirm(&mut self, fx: &mut Vec<Effect>) {
        if self.screen != Screen::Summary || self.busy.is_some() {
            return;
        }
        // GB/T 4.2.3: checked again here, the hub checks a third time.
        if !self.fees_acknowledged_current() {
            self.show(Screen::Fees);
            self.notice = Some(Notice::FeesRequired);
            return;
        }
        let Some(intake) = self.intake() else {
            return;
        };
        self.busy = Some(Action::Intake);
        fx.push(Effect::SubmitIntake {
            intake: Box::new(intake),
            lang: self.lang,
        });
    }

    fn submit_check_in(&mut self, fx: &mut Vec<Effect>) {
        if self.screen != Screen::CheckIn || self.busy.is_some() {
            return;
        }
        let code = appointment_code(self.text(Field::Code));
        if code.is_empty() {
            self.errors = vec![(Field::Code, FieldError::CodeMissing)];
            return;
        }
        self.errors.clear();
        if self.hub != HubState::Live {
            self.notice = Some(Notice::Offline);
            return;
        }
        self.busy = Some(Action::CheckIn);
        fx.push(Effect::CheckIn {
            check_in: CheckIn { code, device: None },
            lang: self.lang,
        });
    }

    fn find_ticket_to_rate(&mut self) {
        let wanted = self.text(Field::TicketNo).trim().to_owned();
        if wanted.is_empty() {
            self.errors = vec![(Field::TicketNo, FieldError::TicketNotFound)];
            return;
        }
        let by_id = ticket_id_in_link(&wanted);
        // The most recent finish of that number (numbers restart each day).
        let found = self
            .finished
            .iter()
            .rev()
            .find(|f| Some(f.ticket_id) == by_id || f.number.eq_ignore_ascii_case(&wanted))
            .cloned();
        match found {
            Some(f) => {
                self.errors.clear();
                self.rating_ticket = Some(f);
                self.focus = None;
                self.composer.clear();
            }
            None => self.errors = vec![(Field::TicketNo, FieldError::TicketNotFound)],
        }
    }

    fn submit_rating(&mut self, fx: &mut Vec<Effect>) {
        if self.busy.is_some() {
            return;
        }
        let Some(t) = &self.rating_ticket else {
            return;
        };
        let Some(score) = self.score else {
            self.notice = Some(Notice::ScoreMissing);
            return;
        };
        self.busy = Some(Action::Rate);
        fx.push(Effect::Rate {
            ticket_id: t.ticket_id,
            rate: Rate {
                score,
                reasons: self.reasons.clone(),
                comment: None,
                via: if self.config.feedback_counter.is_some() {
                    "feedback_terminal".into()
                } else {
                    "kiosk".into()
                },
            },
        });
    }

    // ------------------------------------------------------------ typing

    fn focus(&mut self, f: Option<Field>) {
        self.commit_letters();
        self.focus = f;
        if let Some(f) = f {
            self.key_mode = f.default_mode(self.lang);
            self.errors
                .retain(|(x, e)| *x != f || *e == FieldError::ProblemMissing);
        }
    }

    /// Letters still composing go into the field as typed (leaving a field or mode).
    fn commit_letters(&mut self) {
        if !self.composer.is_empty() {
            let letters = self.composer.take_letters();
            self.insert(&letters);
        }
    }

    fn keys(&mut self, text: &str, fx: &mut Vec<Effect>) {
        for c in text.chars() {
            self.key(c, fx);
        }
    }

    fn key(&mut self, c: char, fx: &mut Vec<Effect>) {
        // Arrows, Shift, function keys...: Slint sends them as private-use characters.
        if ('\u{E000}'..='\u{F8FF}').contains(&c)
            || (c.is_control() && !"\u{8}\u{7f}\n\r".contains(c))
        {
            return;
        }
        // A scanner or keyboard typing on the home screen is an appointment QR.
        if self.focus.is_none() && self.screen == Screen::Home && c.is_ascii_graphic() {
            self.go(Screen::CheckIn);
        }
        let Some(field) = self.focus else {
            return;
        };
        match c {
            '\u{8}' | '\u{7f}' => {
                if !self.composer.backspace() {
                    self.texts[field.index()].pop();
                }
            }
            '\n' | '\r' => {
                if !self.composer.is_empty() {
                    self.commit_letters();
                } else {
                    self.enter(field, fx);
                }
            }
            ' ' if !self.composer.is_empty() => {
                if let Some(t) = self.composer.pick(0) {
                    self.insert(&t);
                }
            }
            c if self.key_mode == KeyMode::Pinyin && c.is_ascii_alphabetic() => {
                self.composer.push(c);
            }
            c => {
                let mut buf = [0u8; 4];
                self.insert(c.encode_utf8(&mut buf));
            }
        }
    }

    fn enter(&mut self, field: Field, fx: &mut Vec<Effect>) {
        match field {
            Field::Code => self.submit_check_in(fx),
            Field::TicketNo => self.find_ticket_to_rate(),
            Field::Details => self.insert("\n"),
            _ => {
                // Next field of the same screen, or leave the keyboard.
                let order: &[Field] = match self.screen {
                    Screen::Product => &[Field::Model, Field::Serial, Field::PurchaseDate],
                    _ => &[],
                };
                let next = order
                    .iter()
                    .position(|f| *f == field)
                    .and_then(|i| order.get(i + 1))
                    .copied();
                self.focus(next);
            }
        }
    }

    fn insert(&mut self, s: &str) {
        let Some(field) = self.focus else {
            return;
        };
        for c in s.chars() {
            let current = &self.texts[field.index()];
            if current.chars().count() >= field.max_chars() {
                break;
            }
            if c == '\n' && field == Field::Details {
                self.texts[field.index()].push(c);
                continue;
            }
            if let Some(c) = field.accept(c, current) {
                self.texts[field.index()].push(c);
            }
        }
    }

    // ------------------------------------------------------------ results

    fn outcome(&mut self, o: Outcome, fx: &mut Vec<Effect>) {
        match o {
            Outcome::Connection(h) => {
                self.hub = h;
                match h {
                    HubState::Offline => {
                        if self.notice.is_none() || self.screen == self.home() {
                            self.notice = Some(Notice::Offline);
                        }
                    }
                    HubState::Live | HubState::Connecting => {
                        if self.notice == Some(Notice::Offline) {
                            self.notice = self.standing_notice();
                        }
                    }
                }
            }
            Outcome::Catalogue(c) => {
                self.catalogue = Some(c);
                // GB/T 4.2.3: an acknowledgement is of one exact list; a changed list must
                // be read again.
                if let (Some(s), Some(d)) = (self.intake_service(), &self.form.fees_acknowledged)
                    && s.fee_digest != *d
                {
                    self.form.fees_acknowledged = None;
                }
            }
            Outcome::Knowledge(k) => {
                // Indices point into the old lists: keep a pick only if it is still there.
                let old_cat = self
                    .form
                    .category
                    .and_then(|i| self.categories().get(i))
                    .map(|c| c.code.clone());
                self.knowledge = Some(k);
                self.form.category =
                    old_cat.and_then(|code| self.categories().iter().position(|c| c.code == code));
                if self.form.category.is_none() {
                    self.form.problem = None;
                }
                if self.faq.is_some_and(|i| i >= self.faqs().len()) {
                    self.faq = None;
                }
            }
            Outcome::Queue(q) => {
                self.queue = Some(q);
                if self.hub != HubState::Offline {
                    let standing = self.standing_notice();
                    if matches!(self.notice, None | Some(Notice::DayClosed)) {
                        self.notice = standing;
                    }
                }
            }
            Outcome::TicketFinished { finished: f, fresh } => {
                if self.finished.len() >= FINISHED_KEPT {
                    self.finished.pop_front();
                }
                let here = fresh && self.config.feedback_counter == Some(f.counter);
                self.finished.push_back(f.clone());
                // GB/T 9.1.2: the feedback terminal asks the customer who just finished.
                if here && matches!(self.screen, Screen::RateWait | Screen::Thanks) {
                    self.rating_ticket = Some(f);
                    self.score = None;
                    self.reasons.clear();
                    self.back_to = vec![self.home()];
                    self.show(Screen::Feedback);
                    self.last_activity = self.now;
                }
            }
            Outcome::TicketIssued { issued, origin } => {
                if self.busy == Some(Action::Ticket) {
                    self.busy = None;
                }
                let shown = ShownTicket {
                    issued,
                    origin,
                    print: PrintState::Printing,
                    appointment: None,
                    request: None,
                };
                // A button press while a customer is mid-way prints without taking their screen.
                if origin == Origin::Tap || matches!(self.screen, Screen::Home | Screen::Ticket) {
                    self.ticket = Some(shown);
                    self.back_to = vec![self.home()];
                    self.show(Screen::Ticket);
                    self.last_activity = self.now;
                }
            }
            Outcome::CheckedIn(c) => {
                self.busy = None;
                let again = c.again;
                self.ticket = Some(ShownTicket {
                    issued: c.ticket.clone(),
                    origin: Origin::CheckIn,
                    print: PrintState::Printing,
                    appointment: Some(c),
                    request: None,
                });
                self.texts[Field::Code.index()].clear();
                self.back_to = vec![self.home()];
                self.show(Screen::Ticket);
                if again {
                    self.notice = Some(Notice::AppointmentAgain);
                }
                self.last_activity = self.now;
            }
            Outcome::IntakeAccepted(r) => {
                self.busy = None;
                self.ticket = Some(ShownTicket {
                    issued: r.ticket,
                    origin: Origin::Tap,
                    print: PrintState::Printing,
                    appointment: None,
                    request: Some(r.request),
                });
                // The request is saved: what was typed is no longer needed here.
                let service = self.form.service;
                self.form = IntakeForm {
                    service,
                    ..IntakeForm::default()
                };
                self.texts = Default::default();
                self.back_to = vec![self.home()];
                self.show(Screen::Accepted);
                self.last_activity = self.now;
            }
            Outcome::Printed { ticket_id, state } => {
                if let Some(t) = &mut self.ticket
                    && t.issued.ticket.id == ticket_id
                {
                    t.print = state;
                }
            }
            Outcome::Rated(_) => {
                self.busy = None;
                self.rating_ticket = None;
                self.score = None;
                self.reasons.clear();
                self.back_to = vec![self.home()];
                self.show(Screen::Thanks);
                self.last_activity = self.now;
            }
            Outcome::Refused { action, problem } => {
                // A background refresh refused must not release a tap still in flight.
                if self.busy == Some(action) {
                    self.busy = None;
                }
                self.refused(action, problem, fx);
            }
            Outcome::Unreachable { action } => {
                if action != Action::Refresh {
                    self.busy = None;
                }
                self.hub = HubState::Offline;
                self.notice = Some(Notice::Offline);
            }
        }
    }

    fn refused(&mut self, action: Action, p: Problem, fx: &mut Vec<Effect>) {
        let notice = match (action, p.code.as_str()) {
            (_, "no_business_day" | "day_closed") => Notice::DayClosed,
            (Action::Intake, "fee_list_changed") => {
                // GB/T 4.2.3: fetch the list again and show it to be read again.
                self.form.fees_acknowledged = None;
                fx.push(Effect::Refresh);
                self.back_to = vec![self.home(), Screen::Contact];
                self.show(Screen::Fees);
                Notice::FeeListChanged
            }
            (Action::Intake, "fees_not_acknowledged") => {
                self.form.fees_acknowledged = None;
                self.back_to = vec![self.home(), Screen::Contact];
                self.show(Screen::Fees);
                Notice::FeesRequired
            }
            (Action::Intake, "invalid_field") => {
                let (field, err, screen) = match p.field.as_deref() {
                    Some("contact.consent") => {
                        (Field::Phone, FieldError::ConsentMissing, Screen::Contact)
                    }
                    Some("contact.phone") => {
                        (Field::Phone, FieldError::PhoneNotDigits, Screen::Contact)
                    }
                    Some(f) if f.contains("purchase_date") => (
                        Field::PurchaseDate,
                        FieldError::DateInFuture,
                        Screen::Product,
                    ),
                    _ => return self.notice = Some(Notice::Refused(p.detail)),
                };
                self.back_to = vec![self.home()];
                self.show(screen);
                self.errors = vec![(field, err)];
                return;
            }
            (Action::CheckIn, "unknown_appointment") => Notice::AppointmentUnknown,
            (Action::CheckIn, "too_early") => Notice::AppointmentTooEarly(p.detail),
            (Action::CheckIn, "too_late") => Notice::AppointmentTooLate(p.detail),
            (Action::CheckIn, "appointment_closed") => Notice::AppointmentClosed(p.detail),
            (Action::Rate, "not_finished") => Notice::NotFinished,
            (Action::Rate, "already_rated") => {
                // One rating per ticket (GB/T 9.1.2): nothing more to ask.
                self.rating_ticket = None;
                Notice::AlreadyRated
            }
            _ => Notice::Refused(p.detail),
        };
        self.notice = Some(notice);
    }
}

// ---------------------------------------------------------------- parsing helpers

/// `20250601` → `2025-06-01`; partial input is shown as typed so far.
pub fn format_date_digits(d: &str) -> String {
    let mut s = String::new();
    for (i, c) in d.chars().enumerate() {
        if i == 4 || i == 6 {
            s.push('-');
        }
        s.push(c);
    }
    s
}

/// `Some(None)`: eight digits that are no date; `None`: not eight digits.
fn parse_date_digits(d: &str) -> Option<Option<NaiveDate>> {
    if d.len() != 8 || !d.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let y = d[..4].parse().ok()?;
    let m = d[4..6].parse().ok()?;
    let day = d[6..].parse().ok()?;
    Some(NaiveDate::from_ymd_opt(y, m, day))
}

/// The appointment code in what was typed or scanned: the code itself, or a link that
/// carries it (`…?code=AB12CD` or `…/appointments/AB12CD`).
pub fn appointment_code(raw: &str) -> String {
    let raw = raw.trim();
    let code = if let Some(i) = raw.find("code=") {
        raw[i + 5..].split(['&', '#']).next().unwrap_or_default()
    } else if raw.contains('/') {
        raw.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
    } else {
        raw
    };
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The ticket id in a scanned ticket QR (`…/tickets/123`).
fn ticket_id_in_link(raw: &str) -> Option<i64> {
    let lower = raw.to_ascii_lowercase();
    let i = lower.find("/tickets/")?;
    lower[i + 9..].split(['/', '?', '#']).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_shown_with_dashes_and_parsed_strictly() {
        assert_eq!(format_date_digits("2025"), "2025");
        assert_eq!(format_date_digits("202506"), "2025-06");
        assert_eq!(format_date_digits("20250601"), "2025-06-01");
        assert_eq!(
            parse_date_digits("20250601"),
            Some(NaiveDate::from_ymd_opt(2025, 6, 1))
        );
        assert_eq!(parse_date_digits("20250231"), Some(None));
        assert_eq!(parse_date_digits("2025"), None);
    }

    fn ready() -> KioskModel {
        let mut m = KioskModel::new(ModelConfig {
            feedback_counter: Some(2),
            ..ModelConfig::default()
        });
        for i in crate::demo::scenes(Lang::ZhCn).remove(0).inputs {
            m.apply(i);
        }
        m
    }

    #[test]
    fn an_effect_that_never_reports_back_does_not_freeze_the_kiosk() {
        let mut m = KioskModel::new(ModelConfig::default());
        for i in crate::demo::scenes(Lang::ZhCn).remove(0).inputs {
            m.apply(i);
        }
        let t0 = Instant::now();
        let utc = Utc::now();
        m.apply(Input::Tick { now: t0, utc });
        let fx = m.apply(Input::TakeTicket(ServiceType::Consultation));
        assert!(matches!(&fx[..], [Effect::IssueTicket { .. }]));
        assert!(m.busy.is_some());
        // The effect's task is lost: no outcome ever comes.
        m.apply(Input::Tick {
            now: t0 + Duration::from_secs(10),
            utc,
        });
        assert!(m.busy.is_some(), "still waiting within the limit");
        m.apply(Input::Tick {
            now: t0 + BUSY_LIMIT + Duration::from_secs(11),
            utc,
        });
        assert!(m.busy.is_none());
        assert_eq!(m.notice, Some(Notice::Offline));
        // A background refresh refused while a tap is in flight does not release it.
        m.apply(Input::Hub(Outcome::Connection(HubState::Live)));
        m.apply(Input::TakeTicket(ServiceType::Consultation));
        assert!(m.busy.is_some());
        m.apply(Input::Hub(Outcome::Refused {
            action: Action::Refresh,
            problem: protocol::Problem {
                code: "x".into(),
                status: 409,
                detail: "x".into(),
                field: None,
            },
        }));
        assert_eq!(m.busy, Some(Action::Ticket));
    }

    #[test]
    fn replayed_history_does_not_prompt_the_feedback_terminal() {
        // GB/T 9.1.2: only a ticket finished now is asked about.
        let mut m = ready();
        let finished = |fresh| {
            Input::Hub(Outcome::TicketFinished {
                finished: Finished {
                    ticket_id: 7,
                    number: "A007".into(),
                    counter: 2,
                },
                fresh,
            })
        };
        m.apply(finished(false));
        assert_eq!(m.screen, Screen::RateWait);
        m.apply(finished(true));
        assert_eq!(m.screen, Screen::Feedback);
        assert_eq!(m.rating_ticket.as_ref().map(|t| t.ticket_id), Some(7));
    }

    #[test]
    fn a_scanner_on_the_home_screen_starts_a_check_in_and_odd_keys_are_ignored() {
        let mut m = KioskModel::new(ModelConfig::default());
        for i in crate::demo::scenes(Lang::ZhCn).remove(0).inputs {
            m.apply(i);
        }
        m.apply(Input::Key("\u{F700}\u{F701}".into()));
        assert_eq!(m.screen, Screen::Home);
        let fx = m.apply(Input::Key("K7Q2MX\n".into()));
        assert_eq!(m.screen, Screen::CheckIn);
        assert!(matches!(&fx[..], [Effect::CheckIn { check_in, .. }] if check_in.code == "K7Q2MX"));
    }

    #[test]
    fn appointment_codes_come_out_of_links() {
        assert_eq!(appointment_code(" ab12-cd "), "AB12-CD");
        assert_eq!(
            appointment_code("https://c.example/a?code=XY99&x=1"),
            "XY99"
        );
        assert_eq!(
            appointment_code("http://hub/api/v1/appointments/QQ7/"),
            "QQ7"
        );
        assert_eq!(ticket_id_in_link("http://hub/api/v1/tickets/42"), Some(42));
        assert_eq!(ticket_id_in_link("A012"), None);
    }
}
