//! The queue ticket's lifecycle: waiting → called → serving → finished, with recall,
//! no-show, hold and resume, transfer and cancel. Illegal moves are typed errors.
//!
//! Knows nothing of numbers' storage or of who pressed the button.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    Waiting,
    Called,
    Serving,
    /// Parked: the customer stepped away (fetching a receipt, a device); resumable.
    OnHold,
    Finished,
    NoShow,
    Cancelled,
}

impl TicketState {
    pub const ALL: [TicketState; 7] = [
        TicketState::Waiting,
        TicketState::Called,
        TicketState::Serving,
        TicketState::OnHold,
        TicketState::Finished,
        TicketState::NoShow,
        TicketState::Cancelled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TicketState::Waiting => "waiting",
            TicketState::Called => "called",
            TicketState::Serving => "serving",
            TicketState::OnHold => "on_hold",
            TicketState::Finished => "finished",
            TicketState::NoShow => "no_show",
            TicketState::Cancelled => "cancelled",
        }
    }

    pub fn from_code(s: &str) -> Option<TicketState> {
        TicketState::ALL.into_iter().find(|t| t.code() == s)
    }

    /// No action leads out of a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TicketState::Finished | TicketState::NoShow | TicketState::Cancelled
        )
    }

    /// The ticket is at a counter (called, being served, or parked there).
    pub fn is_at_counter(self) -> bool {
        matches!(
            self,
            TicketState::Called | TicketState::Serving | TicketState::OnHold
        )
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What staff (or the customer, for cancel) can do to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketAction {
    Call,
    Recall,
    Start,
    Finish,
    NoShow,
    Hold,
    Resume,
    Transfer,
    Cancel,
}

impl TicketAction {
    pub const ALL: [TicketAction; 9] = [
        TicketAction::Call,
        TicketAction::Recall,
        TicketAction::Start,
        TicketAction::Finish,
        TicketAction::NoShow,
        TicketAction::Hold,
        TicketAction::Resume,
        TicketAction::Transfer,
        TicketAction::Cancel,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TicketAction::Call => "call",
            TicketAction::Recall => "recall",
            TicketAction::Start => "start",
            TicketAction::Finish => "finish",
            TicketAction::NoShow => "no_show",
            TicketAction::Hold => "hold",
            TicketAction::Resume => "resume",
            TicketAction::Transfer => "transfer",
            TicketAction::Cancel => "cancel",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a ticket that is {from}", action = .action.code())]
pub struct IllegalTicketMove {
    pub from: TicketState,
    pub action: TicketAction,
}

/// The one table of legal ticket moves.
pub fn next_state(
    from: TicketState,
    action: TicketAction,
) -> Result<TicketState, IllegalTicketMove> {
    use TicketAction as A;
    use TicketState as S;
    let to = match (from, action) {
        (S::Waiting, A::Call) => S::Called,
        (S::Called, A::Recall) => S::Called,
        (S::Called, A::Start) => S::Serving,
        (S::Called, A::NoShow) => S::NoShow,
        (S::Serving, A::Finish) => S::Finished,
        (S::Called | S::Serving, A::Hold) => S::OnHold,
        (S::OnHold, A::Resume) => S::Called,
        (S::Called | S::Serving | S::OnHold, A::Transfer) => S::Waiting,
        (S::Waiting | S::Called | S::OnHold, A::Cancel) => S::Cancelled,
        _ => return Err(IllegalTicketMove { from, action }),
    };
    Ok(to)
}

/// A ticket's printed number: the service prefix and the day's sequence, e.g. `A007`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketNumber {
    pub prefix: char,
    pub seq: u32,
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:03}", self.prefix, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path() {
        let s = next_state(TicketState::Waiting, TicketAction::Call).unwrap();
        let s = next_state(s, TicketAction::Recall).unwrap();
        let s = next_state(s, TicketAction::Start).unwrap();
        let s = next_state(s, TicketAction::Finish).unwrap();
        assert_eq!(s, TicketState::Finished);
    }

    #[test]
    fn illegal_moves_are_errors_with_words() {
        let e = next_state(TicketState::Waiting, TicketAction::Finish).unwrap_err();
        assert_eq!(e.to_string(), "cannot finish a ticket that is waiting");
        assert!(next_state(TicketState::Finished, TicketAction::Call).is_err());
    }

    #[test]
    fn numbers_are_zero_padded() {
        assert_eq!(
            TicketNumber {
                prefix: 'A',
                seq: 7
            }
            .to_string(),
            "A007"
        );
        assert_eq!(
            TicketNumber {
                prefix: 'D',
                seq: 1234
            }
            .to_string(),
            "D1234"
        );
    }
}
