//! SMS through a GSM modem: the [`SmsGateway`] role (send a text to a phone; report the
//! modem's network status), a driver for USB or serial modems speaking the standard AT
//! commands of 3GPP TS 27.005 and 27.007 in PDU mode ([`modem`]), the SMS-SUBMIT encoder
//! of TS 23.040 with the GSM 7-bit default alphabet and UCS-2 ([`pdu`]), and a modem
//! simulator that answers like a real one ([`sim`]), in process or on a pty (the
//! `modem-sim` binary).
//!
//! Every failure says what a queue may do next ([`SmsError::disposition`]): nothing went
//! out and a later try may work; it can never work; or the message (or part of it) may
//! already be on its way, so sending it again may duplicate it.
//!
//! Must never: report a message as not sent once its PDU reached the modem without an
//! answer ([`SmsError::OutcomeUnknown`]); send anything again by itself; block past its
//! configured timeouts; log or print a full phone number (GB/T 5.4.2: numbers are masked
//! in logs and `Debug` output). It knows nothing of consent, templates or rate limits:
//! the hub decides what is sent to whom.

pub mod at;
mod gsm7;
pub mod modem;
pub mod pdu;
pub mod sim;

pub use at::ErrorCode;
pub use modem::{GsmModem, ModemConfig, ModemTimeouts};
pub use pdu::{Alphabet, Segments, segment};
pub use sim::{ModemBehaviour, ModemSim, ModemSimHandle, SentSms, SimMessage};

use std::fmt;
use std::str::FromStr;

/// A destination number: international (`+8613812345678`, type of address 0x91) or as
/// dialled in the country (`13812345678`, `10086`; type of address 0x81).
///
/// `Display` shows the whole number (it goes on the wire); `Debug` masks it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber {
    digits: String,
    international: bool,
}

impl PhoneNumber {
    /// Reads `+` (optional) and 3 to 20 digits (TS 23.040 9.1.2.5 allows 20); spaces and
    /// hyphens between digits are ignored.
    pub fn parse(s: &str) -> Result<PhoneNumber, SmsError> {
        let compact: String = s
            .trim()
            .chars()
            .filter(|c| *c != ' ' && *c != '-')
            .collect();
        let (international, digits) = match compact.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, compact.as_str()),
        };
        if !(3..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SmsError::InvalidNumber(domain::mask::mask_phone(s)));
        }
        Ok(PhoneNumber {
            digits: digits.to_owned(),
            international,
        })
    }

    /// The digits, without `+`.
    pub fn digits(&self) -> &str {
        &self.digits
    }

    pub fn is_international(&self) -> bool {
        self.international
    }

    /// For logs and screens (GB/T 5.4.2): `+86 138****5678`, `138****5678`, `*0086`.
    pub fn masked(&self) -> String {
        match (self.international, self.digits.strip_prefix("86")) {
            (true, Some(national)) if national.len() == 11 => {
                format!("+86 {}", domain::mask::mask_phone(national))
            }
            (true, _) => format!("+{}", domain::mask::mask_phone(&self.digits)),
            (false, _) => domain::mask::mask_phone(&self.digits),
        }
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.international {
            f.write_str("+")?;
        }
        f.write_str(&self.digits)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl FromStr for PhoneNumber {
    type Err = SmsError;
    fn from_str(s: &str) -> Result<PhoneNumber, SmsError> {
        PhoneNumber::parse(s)
    }
}

/// Circuit-switched network registration, from `AT+CREG?` (3GPP TS 27.007 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Registration {
    /// 0: not registered and not searching.
    NotRegistered,
    /// 1: registered on the home network.
    Home,
    /// 2: not registered, searching for an operator.
    Searching,
    /// 3: registration denied (the SIM is barred or not provisioned).
    Denied,
    /// 4: unknown (out of coverage, for instance).
    Unknown,
    /// 5: registered, roaming.
    Roaming,
    /// Any other status the standard has added (6–10: "SMS only", "emergency only"…).
    Other(u8),
}

impl Registration {
    pub fn from_stat(stat: u8) -> Registration {
        match stat {
            0 => Registration::NotRegistered,
            1 => Registration::Home,
            2 => Registration::Searching,
            3 => Registration::Denied,
            4 => Registration::Unknown,
            5 => Registration::Roaming,
            n => Registration::Other(n),
        }
    }

    /// The `<stat>` number.
    pub fn stat(self) -> u8 {
        match self {
            Registration::NotRegistered => 0,
            Registration::Home => 1,
            Registration::Searching => 2,
            Registration::Denied => 3,
            Registration::Unknown => 4,
            Registration::Roaming => 5,
            Registration::Other(n) => n,
        }
    }

    /// Registered for SMS: home or roaming, "SMS only" (6, 7) or "CSFB not preferred"
    /// (9, 10). Status 8 is emergency calls only.
    pub fn is_registered(self) -> bool {
        matches!(self.stat(), 1 | 5 | 6 | 7 | 9 | 10)
    }
}

impl fmt::Display for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Registration::NotRegistered => f.write_str("not registered"),
            Registration::Home => f.write_str("registered on the home network"),
            Registration::Searching => f.write_str("searching for a network"),
            Registration::Denied => f.write_str("registration denied"),
            Registration::Unknown => f.write_str("registration unknown"),
            Registration::Roaming => f.write_str("registered, roaming"),
            Registration::Other(n) => write!(f, "registration status {n}"),
        }
    }
}

/// Signal quality from `AT+CSQ` (3GPP TS 27.007 8.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalQuality {
    /// 0–31 (−113 dBm to −51 dBm or more, 2 dB steps); `None` when the modem does not know
    /// (99).
    pub rssi: Option<u8>,
    /// Bit error rate class 0–7; `None` when not known (99).
    pub ber: Option<u8>,
}

impl SignalQuality {
    pub fn from_csq(rssi: u8, ber: u8) -> SignalQuality {
        SignalQuality {
            rssi: (rssi <= 31).then_some(rssi),
            ber: (ber <= 7).then_some(ber),
        }
    }

    /// Received signal strength in dBm (−113 for 0, −51 for 31 and above).
    pub fn dbm(self) -> Option<i16> {
        self.rssi.map(|r| -113 + 2 * i16::from(r))
    }
}

/// What the modem says about its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemStatus {
    pub registration: Registration,
    /// `None` when the modem did not answer `AT+CSQ` with a reading.
    pub signal: Option<SignalQuality>,
    /// The operator's name from `AT+COPS?`, when the modem gave one.
    pub operator: Option<String>,
}

impl ModemStatus {
    pub fn is_registered(&self) -> bool {
        self.registration.is_registered()
    }
}

/// A message the modem sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The message reference (TP-MR) the modem reported with `+CMGS` for each part, in
    /// order. Delivery reports, if ever asked for, name these.
    pub references: Vec<u8>,
    pub alphabet: Alphabet,
}

impl SentMessage {
    /// How many SMS the message took (what the operator charges for).
    pub fn parts(&self) -> usize {
        self.references.len()
    }
}

/// What a queue may do with a message after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Disposition {
    /// Nothing was sent; the same message may be tried again later.
    RetryLater,
    /// Nothing was sent and trying again cannot help (bad number, too long, bad settings).
    Permanent,
    /// The message, or some of its parts, may have gone out: sending it again may
    /// duplicate what the customer receives.
    MaybeSent,
}

/// Why a message was not (or not known to be) sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmsError {
    // ---- the request itself: permanent
    #[error("{0} is not a phone number an SMS can be sent to")]
    InvalidNumber(String),
    #[error("the message is empty")]
    EmptyMessage,
    #[error("the message is too long: it needs {parts} SMS parts and at most {max} are allowed")]
    MessageTooLong { parts: usize, max: usize },
    #[error("the SMS modem settings are invalid: {0}")]
    Config(String),
    #[error("the SMS modem refused the message as malformed ({0})")]
    InvalidPdu(ErrorCode),
    #[error("the destination number does not exist ({0})")]
    UnknownDestination(ErrorCode),

    // ---- the modem and its SIM: try again later
    #[error("the SMS modem's port {path} cannot be opened: {reason}")]
    PortUnavailable { path: String, reason: String },
    #[error("the connection to the SMS modem was lost")]
    ConnectionLost,
    #[error("the SMS modem did not answer {command}")]
    NoResponse { command: String },
    #[error("the SMS modem answered {command} with something unexpected: {answer:?}")]
    UnexpectedAnswer { command: String, answer: String },
    #[error("the SMS modem refused {command}")]
    CommandFailed { command: String },
    #[error("the SMS modem is busy and did not take the message")]
    ModemBusy,
    #[error("the SMS modem has no SIM card (or cannot read it)")]
    SimNotInserted,
    #[error("the SMS modem's SIM card is locked and needs its PIN or PUK")]
    SimPinRequired,
    #[error("the SMS modem's SIM card has failed")]
    SimFailure,
    #[error("the SMS modem's message memory is full")]
    MemoryFull,

    // ---- the network: try again later
    #[error("the SMS modem is not on the mobile network ({0})")]
    NotRegistered(Registration),
    #[error("the mobile network is not available to the SMS modem")]
    NoNetworkService,
    #[error("the mobile network did not answer in time")]
    NetworkTimeout,
    #[error("the mobile network is busy or out of order ({0})")]
    NetworkBusy(ErrorCode),
    #[error("the mobile network refused the message: the SIM may be out of credit or barred ({0})")]
    Rejected(ErrorCode),
    #[error("the SMS modem reported an error ({0})")]
    Modem(ErrorCode),

    // ---- outcome unknown: never resend automatically
    #[error(
        "it is not known whether part {part} of {total} was sent: the modem took it and did not \
         answer; sending the message again may duplicate it"
    )]
    OutcomeUnknown {
        /// The part whose outcome is unknown (1-based).
        part: usize,
        total: usize,
        /// The references of the parts before it, which were sent.
        confirmed: Vec<u8>,
    },
    #[error("only {} of {total} parts were sent, then: {cause}", .confirmed.len())]
    PartlySent {
        /// The references of the parts that were sent.
        confirmed: Vec<u8>,
        total: usize,
        /// Why the next part was not.
        cause: Box<SmsError>,
    },
}

impl SmsError {
    /// The error a modem's `+CMS ERROR`/`+CME ERROR` code stands for.
    pub fn from_code(code: ErrorCode) -> SmsError {
        match code {
            ErrorCode::Cms(n) => match n {
                // RP causes (TS 24.011 8.2.5.4).
                1 => SmsError::UnknownDestination(code),
                // Operator determined barring, call barred, short message transfer
                // rejected, facility rejected, requested facility not subscribed: what a
                // prepaid SIM without credit or a barred SIM gets.
                8 | 10 | 21 | 29 | 50 => SmsError::Rejected(code),
                // Network out of order, temporary failure, congestion, resources unavailable.
                38 | 41 | 42 | 47 => SmsError::NetworkBusy(code),
                // Modem errors (TS 27.005 3.2.5).
                304 => SmsError::InvalidPdu(code),
                310 => SmsError::SimNotInserted,
                311 | 312 | 316 | 317 | 318 => SmsError::SimPinRequired,
                313 | 315 => SmsError::SimFailure,
                314 => SmsError::ModemBusy,
                322 => SmsError::MemoryFull,
                331 => SmsError::NoNetworkService,
                332 => SmsError::NetworkTimeout,
                _ => SmsError::Modem(code),
            },
            // TS 27.007 9.2.1.
            ErrorCode::Cme(n) => match n {
                10 => SmsError::SimNotInserted,
                11 | 12 | 17 | 18 => SmsError::SimPinRequired,
                13 | 15 => SmsError::SimFailure,
                14 => SmsError::ModemBusy,
                20 => SmsError::MemoryFull,
                30 | 32 => SmsError::NoNetworkService,
                31 => SmsError::NetworkTimeout,
                _ => SmsError::Modem(code),
            },
        }
    }

    /// What a queue may do with the message now.
    pub fn disposition(&self) -> Disposition {
        match self {
            SmsError::InvalidNumber(_)
            | SmsError::EmptyMessage
            | SmsError::MessageTooLong { .. }
            | SmsError::Config(_)
            | SmsError::InvalidPdu(_)
            | SmsError::UnknownDestination(_) => Disposition::Permanent,
            SmsError::OutcomeUnknown { .. } | SmsError::PartlySent { .. } => Disposition::MaybeSent,
            SmsError::PortUnavailable { .. }
            | SmsError::ConnectionLost
            | SmsError::NoResponse { .. }
            | SmsError::UnexpectedAnswer { .. }
            | SmsError::CommandFailed { .. }
            | SmsError::ModemBusy
            | SmsError::SimNotInserted
            | SmsError::SimPinRequired
            | SmsError::SimFailure
            | SmsError::MemoryFull
            | SmsError::NotRegistered(_)
            | SmsError::NoNetworkService
            | SmsError::NetworkTimeout
            | SmsError::NetworkBusy(_)
            | SmsError::Rejected(_)
            | SmsError::Modem(_) => Disposition::RetryLater,
        }
    }

    /// Nothing was sent and the same message may be tried again later (network down,
    /// timeouts, a busy or unplugged modem, a SIM out of credit). False for permanent
    /// errors and for a message that may already have gone out.
    pub fn is_retryable(&self) -> bool {
        self.disposition() == Disposition::RetryLater
    }

    /// Someone has to do something at the centre before retrying helps: plug the modem in,
    /// fix the SIM (insert, unlock, top up), or correct the settings.
    pub fn needs_staff(&self) -> bool {
        matches!(
            self,
            SmsError::PortUnavailable { .. }
                | SmsError::SimNotInserted
                | SmsError::SimPinRequired
                | SmsError::SimFailure
                | SmsError::MemoryFull
                | SmsError::Rejected(_)
                | SmsError::Config(_)
                | SmsError::NotRegistered(Registration::Denied)
        )
    }
}

impl From<ErrorCode> for SmsError {
    fn from(code: ErrorCode) -> SmsError {
        SmsError::from_code(code)
    }
}

impl From<crate::terminal::LinkError> for SmsError {
    fn from(e: crate::terminal::LinkError) -> SmsError {
        match e {
            crate::terminal::LinkError::Unavailable { path, reason } => {
                SmsError::PortUnavailable { path, reason }
            }
            crate::terminal::LinkError::Lost => SmsError::ConnectionLost,
        }
    }
}

impl From<pdu::PduError> for SmsError {
    fn from(e: pdu::PduError) -> SmsError {
        match e {
            pdu::PduError::Empty => SmsError::EmptyMessage,
            pdu::PduError::TooLong { parts, max } => SmsError::MessageTooLong { parts, max },
            other => SmsError::Config(other.to_string()),
        }
    }
}

/// The SMS role. Blocking: call it from a blocking thread. Every wait is bounded by the
/// implementation's configured timeouts.
pub trait SmsGateway: Send {
    /// Sends `text` to `to`: one SMS, or concatenated parts when it is too long for one.
    /// Nothing is retried here; see [`SmsError::disposition`].
    fn send(&mut self, to: &PhoneNumber, text: &str) -> Result<SentMessage, SmsError>;

    /// Network registration, signal quality and (when the modem says) the operator.
    fn status(&mut self) -> Result<ModemStatus, SmsError>;
}

/// Which SMS backend to use, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsBackend {
    /// The in-process simulator: the real AT driver talking to a [`ModemSim`] over an
    /// in-memory link. Registered, sends everything.
    Simulated,
    /// A GSM modem on a serial device (`/dev/ttyUSB2`, `/dev/serial/by-id/…`).
    Modem { device: String },
}

/// Opens the configured SMS gateway. Nothing is sent to a modem until first use.
pub fn open(backend: &SmsBackend, config: ModemConfig) -> Result<Box<dyn SmsGateway>, SmsError> {
    match backend {
        SmsBackend::Simulated => {
            let (modem, _handle) = sim::in_process(config)?;
            Ok(Box::new(modem))
        }
        SmsBackend::Modem { device } => Ok(Box::new(GsmModem::open_serial(device, config)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_parsed_and_masked() {
        let n = PhoneNumber::parse("+86 138-1234-5678").unwrap();
        assert!(n.is_international());
        assert_eq!(n.digits(), "8613812345678");
        assert_eq!(n.to_string(), "+8613812345678");
        assert_eq!(n.masked(), "+86 138****5678");
        assert_eq!(format!("{n:?}"), "PhoneNumber(+86 138****5678)");
        let national: PhoneNumber = "13812345678".parse().unwrap();
        assert!(!national.is_international());
        assert_eq!(national.masked(), "138****5678");
        assert_eq!(PhoneNumber::parse("10086").unwrap().to_string(), "10086");
        assert_eq!(
            PhoneNumber::parse("+4915112345678").unwrap().masked(),
            "+491****5678"
        );
        for bad in [
            "",
            "+",
            "12",
            "138x2345678",
            "++8613812345678",
            "1".repeat(21).as_str(),
        ] {
            assert!(
                matches!(PhoneNumber::parse(bad), Err(SmsError::InvalidNumber(_))),
                "{bad:?}"
            );
        }
        // The error never carries the whole number.
        let e = PhoneNumber::parse("1381234567x").unwrap_err();
        assert!(!e.to_string().contains("1381234567"), "{e}");
    }

    #[test]
    fn cms_errors_become_typed_errors() {
        let cms = |n| SmsError::from(ErrorCode::Cms(n));
        assert_eq!(cms(331), SmsError::NoNetworkService);
        assert_eq!(cms(332), SmsError::NetworkTimeout);
        assert_eq!(cms(310), SmsError::SimNotInserted);
        assert_eq!(cms(311), SmsError::SimPinRequired);
        assert_eq!(cms(313), SmsError::SimFailure);
        assert_eq!(cms(322), SmsError::MemoryFull);
        assert_eq!(cms(304), SmsError::InvalidPdu(ErrorCode::Cms(304)));
        for barred in [8, 10, 21] {
            assert_eq!(cms(barred), SmsError::Rejected(ErrorCode::Cms(barred)));
        }
        assert_eq!(cms(500), SmsError::Modem(ErrorCode::Cms(500)));
        assert_eq!(cms(1), SmsError::UnknownDestination(ErrorCode::Cms(1)));
        let cme = |n| SmsError::from(ErrorCode::Cme(n));
        assert_eq!(cme(10), SmsError::SimNotInserted);
        assert_eq!(cme(11), SmsError::SimPinRequired);
        assert_eq!(cme(30), SmsError::NoNetworkService);
        assert_eq!(cme(100), SmsError::Modem(ErrorCode::Cme(100)));
    }

    #[test]
    fn errors_say_whether_a_queue_may_retry() {
        for retry in [
            SmsError::NoNetworkService,
            SmsError::NetworkTimeout,
            SmsError::NotRegistered(Registration::Searching),
            SmsError::ModemBusy,
            SmsError::NoResponse {
                command: "AT".into(),
            },
            SmsError::ConnectionLost,
            SmsError::Rejected(ErrorCode::Cms(8)),
            SmsError::Modem(ErrorCode::Cms(500)),
        ] {
            assert!(retry.is_retryable(), "{retry:?}");
        }
        for permanent in [
            SmsError::InvalidNumber("*".into()),
            SmsError::EmptyMessage,
            SmsError::MessageTooLong { parts: 12, max: 10 },
            SmsError::InvalidPdu(ErrorCode::Cms(304)),
        ] {
            assert!(!permanent.is_retryable(), "{permanent:?}");
            assert_eq!(permanent.disposition(), Disposition::Permanent);
        }
        let unknown = SmsError::OutcomeUnknown {
            part: 1,
            total: 1,
            confirmed: vec![],
        };
        assert!(!unknown.is_retryable());
        assert_eq!(unknown.disposition(), Disposition::MaybeSent);
        assert!(unknown.to_string().contains("may duplicate"));
        let partly = SmsError::PartlySent {
            confirmed: vec![4],
            total: 3,
            cause: Box::new(SmsError::NetworkTimeout),
        };
        assert_eq!(partly.disposition(), Disposition::MaybeSent);
        assert_eq!(
            partly.to_string(),
            "only 1 of 3 parts were sent, then: the mobile network did not answer in time"
        );
        assert!(SmsError::Rejected(ErrorCode::Cms(21)).needs_staff());
        assert!(!SmsError::NoNetworkService.needs_staff());
    }

    #[test]
    fn registration_states() {
        assert!(Registration::Home.is_registered());
        assert!(Registration::Roaming.is_registered());
        assert!(Registration::from_stat(6).is_registered());
        assert!(!Registration::from_stat(8).is_registered());
        assert!(!Registration::Searching.is_registered());
        assert_eq!(Registration::from_stat(3), Registration::Denied);
        assert_eq!(SignalQuality::from_csq(31, 0).dbm(), Some(-51));
        assert_eq!(SignalQuality::from_csq(0, 99).dbm(), Some(-113));
        assert_eq!(SignalQuality::from_csq(99, 99).dbm(), None);
    }
}
