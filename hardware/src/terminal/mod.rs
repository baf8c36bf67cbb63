//! Payment terminals: the [`PaymentTerminal`] role (sale, refund, cancel, the last
//! transaction's status), made safe to retry by caller-chosen [`IdempotencyKey`]s and a
//! persistent [`journal`]; the cash-register side of Ingenico Telium "protocol E" over a
//! serial line ([`telium`]); and a terminal simulator speaking the same protocol
//! ([`sim`]), in process or on a pty (the `terminal-sim` binary).
//!
//! Every transaction ends as one of [`Outcome::Approved`], [`Outcome::Declined`] or
//! [`Outcome::UnknownNeedsStaff`]; an `Err` means nothing was charged and the same key may
//! be tried again.
//!
//! Must never: charge twice for one key (a key is journalled, fsynced, before its request
//! is sent; a retry returns the journalled outcome); send anything to a terminal while an
//! earlier transaction's outcome is unknown and unreconciled; report an unknown outcome as
//! approved or declined; keep or log a full card number.

pub mod frame;
pub mod journal;
pub mod link;
pub mod message;
pub mod sim;
pub mod telium;

pub use journal::{Journal, JournalError};
pub use link::{LineFormat, Link, LinkError, MemoryLink, SerialLink};
pub use sim::{SimBehaviour, SimDevice, SimHandle, SimTiming};
pub use telium::{TeliumConfig, TeliumTerminal, Timeouts};

use chrono::{DateTime, Utc};
use domain::Fen;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// The caller's name for one payment intent (for example the hub's payment id). Retrying
/// with the same key never charges twice, for [`journal::RETENTION_DAYS`] days after the
/// transaction's last change (see the [`journal`] docs): 1 to 64 of `A–Z a–z 0–9 - _ . :`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn new(key: impl Into<String>) -> Result<IdempotencyKey, TerminalError> {
        let key = key.into();
        let ok = (1..=64).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if ok {
            Ok(IdempotencyKey(key))
        } else {
            Err(TerminalError::InvalidKey(key))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the customer asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// Take money from the card.
    Sale,
    /// Give money back to the card.
    Refund,
    /// Void (cancel) an earlier transaction of the same amount.
    Cancel,
}

impl fmt::Display for TransactionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransactionKind::Sale => "sale",
            TransactionKind::Refund => "refund",
            TransactionKind::Cancel => "cancellation",
        })
    }
}

/// One request to a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRequest {
    pub key: IdempotencyKey,
    pub kind: TransactionKind,
    /// In fen; from ¥0.01 to ¥999,999.99.
    pub amount: Fen,
}

/// A transaction that went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// What the terminal says it charged (or refunded).
    pub amount: Fen,
    /// The card number's last four digits, when the terminal reported the card.
    pub card_tail: Option<String>,
    /// The terminal's own reference for the transaction, when it gave one.
    pub terminal_reference: Option<String>,
    /// True when staff confirmed it by hand after an unknown outcome.
    pub confirmed_by_staff: bool,
}

/// Why the terminal said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    /// Result `7`: the card was refused (declined, wrong PIN, cancelled on the terminal).
    Refused,
    /// Result `9`: the transaction could not be verified.
    NotVerified,
    /// Any other non-success result code. No longer produced: an unknown result code is
    /// [`StaffReason::UnknownResult`] (nothing says the card was not charged). Kept so that
    /// journals written by older versions still read.
    Other(char),
}

/// Why a transaction's outcome is not known and staff must check the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffReason {
    /// The terminal took the request and never answered.
    NoAnswer,
    /// The connection to the terminal was lost during the transaction.
    ConnectionLost,
    /// The terminal's answer could not be read, even after asking it to repeat.
    GarbledAnswer,
    /// The terminal answered something that does not belong to this transaction.
    UnexpectedAnswer,
    /// The terminal approved a different amount.
    AmountMismatch { charged: Fen },
    /// servicehall stopped (crash, power cut) while the transaction was under way.
    InterruptedByRestart,
    /// The terminal answered with a result code protocol E does not define (only `0`
    /// success, `7` refused and `9` not verified are): it says nothing about whether the
    /// card was charged.
    UnknownResult(char),
}

impl fmt::Display for StaffReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StaffReason::NoAnswer => {
                f.write_str("the terminal took the request but did not answer")
            }
            StaffReason::ConnectionLost => {
                f.write_str("the connection to the terminal was lost during the transaction")
            }
            StaffReason::GarbledAnswer => f.write_str("the terminal's answer could not be read"),
            StaffReason::UnexpectedAnswer => {
                f.write_str("the terminal's answer does not match the transaction")
            }
            StaffReason::AmountMismatch { charged } => {
                write!(f, "the terminal approved a different amount ({charged})")
            }
            StaffReason::InterruptedByRestart => {
                f.write_str("servicehall restarted while the transaction was under way")
            }
            StaffReason::UnknownResult(c) => {
                write!(f, "the terminal answered with an unknown result code {c:?}")
            }
        }
    }
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approved(Approval),
    Declined(DeclineReason),
    /// The terminal may or may not have charged the card. The key is blocked: retrying it
    /// returns this again until staff check the terminal and call
    /// [`PaymentTerminal::resolve`].
    UnknownNeedsStaff(StaffReason),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Approved(a) => write!(f, "the payment of {} was approved", a.amount),
            Outcome::Declined(DeclineReason::Refused) => f.write_str("the card was declined"),
            Outcome::Declined(DeclineReason::NotVerified) => {
                f.write_str("the card could not be verified; nothing was charged")
            }
            Outcome::Declined(DeclineReason::Other(c)) => {
                write!(
                    f,
                    "the terminal refused the payment (code {c}); nothing was charged"
                )
            }
            Outcome::UnknownNeedsStaff(r) => write!(
                f,
                "it is not known whether the card was charged ({r}); staff must check the terminal"
            ),
        }
    }
}

/// What staff found on the terminal after an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StaffResolution {
    /// The terminal's receipt or journal shows the transaction went through.
    Charged,
    /// It did not go through: the key may be tried again.
    NotCharged,
}

/// Where a journalled transaction stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionState {
    /// Journalled and (possibly) sent; no outcome yet.
    InFlight,
    /// Failed before the terminal took it: nothing was charged, the key may be retried.
    NotCharged {
        reason: String,
    },
    Finished(Outcome),
    ResolvedByStaff(StaffResolution),
}

impl TransactionState {
    /// In flight, or waiting for staff.
    pub fn needs_attention(&self) -> bool {
        matches!(
            self,
            TransactionState::InFlight | TransactionState::Finished(Outcome::UnknownNeedsStaff(_))
        )
    }
}

/// One transaction as the journal knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRecord {
    pub key: IdempotencyKey,
    /// Order in which transactions were started.
    pub seq: u64,
    pub kind: TransactionKind,
    pub amount: Fen,
    pub updated: DateTime<Utc>,
    pub state: TransactionState,
}

impl TransactionRecord {
    /// The outcome a caller sees for this record, if it has one.
    pub fn outcome(&self) -> Option<Outcome> {
        match &self.state {
            TransactionState::Finished(o) => Some(o.clone()),
            TransactionState::ResolvedByStaff(StaffResolution::Charged) => {
                Some(Outcome::Approved(Approval {
                    amount: self.amount,
                    card_tail: None,
                    terminal_reference: None,
                    confirmed_by_staff: true,
                }))
            }
            _ => None,
        }
    }
}

/// Errors: in every case nothing was charged (unknown outcomes are an [`Outcome`]).
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("the terminal did not answer; nothing was charged")]
    NoAnswer,
    #[error("the terminal is busy and did not take the request; nothing was charged")]
    Busy,
    #[error("the terminal could not read the request ({attempts} attempts); nothing was charged")]
    RequestRejected { attempts: u32 },
    #[error("{0}; nothing was charged")]
    Link(#[from] LinkError),
    #[error("{0} cannot be paid by card: amounts go from ¥0.01 to ¥999999.99")]
    InvalidAmount(Fen),
    #[error("{0:?} is not a valid payment reference")]
    InvalidKey(String),
    #[error("payment reference {0} was already used for a different payment")]
    KeyReused(IdempotencyKey),
    #[error("payment reference {0} is not known")]
    UnknownKey(IdempotencyKey),
    #[error("payment reference {0} is not waiting for staff")]
    NothingToResolve(IdempotencyKey),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the payment terminal settings are invalid: {0}")]
    Config(String),
}

/// The payment terminal role. Blocking: call it from a blocking thread. Every wait is
/// bounded by the implementation's configured timeouts.
pub trait PaymentTerminal: Send {
    /// Runs one transaction, or returns the recorded outcome when `request.key` was seen
    /// before. Before sending anything, reconciles any transaction whose outcome is
    /// unknown.
    fn transact(&mut self, request: &TransactionRequest) -> Result<Outcome, TerminalError>;

    /// The most recently started transaction, after reconciling anything in flight.
    fn last_transaction(&mut self) -> Result<Option<TransactionRecord>, TerminalError>;

    /// The transaction journalled under `key`, after reconciling anything in flight.
    fn transaction(
        &mut self,
        key: &IdempotencyKey,
    ) -> Result<Option<TransactionRecord>, TerminalError>;

    /// Staff settle a transaction whose outcome was unknown.
    fn resolve(
        &mut self,
        key: &IdempotencyKey,
        resolution: StaffResolution,
    ) -> Result<TransactionRecord, TerminalError>;

    fn sale(&mut self, key: &IdempotencyKey, amount: Fen) -> Result<Outcome, TerminalError> {
        self.transact(&TransactionRequest {
            key: key.clone(),
            kind: TransactionKind::Sale,
            amount,
        })
    }

    fn refund(&mut self, key: &IdempotencyKey, amount: Fen) -> Result<Outcome, TerminalError> {
        self.transact(&TransactionRequest {
            key: key.clone(),
            kind: TransactionKind::Refund,
            amount,
        })
    }

    /// Voids the terminal's earlier transaction of `amount` (protocol E "annulation").
    fn cancel(&mut self, key: &IdempotencyKey, amount: Fen) -> Result<Outcome, TerminalError> {
        self.transact(&TransactionRequest {
            key: key.clone(),
            kind: TransactionKind::Cancel,
            amount,
        })
    }
}

/// Which terminal backend to use, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalBackend {
    /// The in-process simulator (protocol E over an in-memory link); approves by default.
    Simulated,
    /// An Ingenico Telium terminal speaking protocol E on a serial device.
    TeliumSerial { device: String },
}

/// Opens the configured terminal with its journal at `journal_path`.
pub fn open(
    backend: &TerminalBackend,
    config: TeliumConfig,
    journal_path: &Path,
) -> Result<Box<dyn PaymentTerminal>, TerminalError> {
    let journal = Journal::open(journal_path)?;
    match backend {
        TerminalBackend::Simulated => {
            let (terminal, _handle) = sim::in_process(config, journal, SimTiming::default())?;
            Ok(Box::new(terminal))
        }
        TerminalBackend::TeliumSerial { device } => {
            let link = SerialLink::new(device.clone(), config.baud_rate, config.line);
            Ok(Box::new(TeliumTerminal::new(link, config, journal)?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_plain_text() {
        assert!(IdempotencyKey::new("pay-2024-0001:1").is_ok());
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("a b").is_err());
        assert!(IdempotencyKey::new("x".repeat(65)).is_err());
        assert!(IdempotencyKey::new("付款").is_err());
    }

    #[test]
    fn outcomes_read_in_user_terms() {
        assert_eq!(
            Outcome::Declined(DeclineReason::Refused).to_string(),
            "the card was declined"
        );
        assert_eq!(
            TerminalError::NoAnswer.to_string(),
            "the terminal did not answer; nothing was charged"
        );
        assert!(
            Outcome::UnknownNeedsStaff(StaffReason::ConnectionLost)
                .to_string()
                .contains("staff must check the terminal")
        );
    }
}
