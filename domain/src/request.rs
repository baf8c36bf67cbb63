//! The service request's lifecycle of GB/T 8.1 — appointment 预约, acceptance 受理,
//! processing 处理, reply 答复, archiving 归档, follow-up 回访, evaluation 评价 — and the
//! deadlines derived from the service's promised limits (GB/T 4.1.2, 5.5.2).
//!
//! Stages only move forward, one at a time; the rule that paid work needs a disclosed
//! quote (GB/T 4.2.3) is checked here too, given the facts.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::service::ServiceSpec;

/// GB/T 8.1: exactly these stages, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStage {
    Appointment,
    Acceptance,
    Processing,
    Reply,
    Archiving,
    FollowUp,
    Evaluation,
}

impl RequestStage {
    pub const ALL: [RequestStage; 7] = [
        RequestStage::Appointment,
        RequestStage::Acceptance,
        RequestStage::Processing,
        RequestStage::Reply,
        RequestStage::Archiving,
        RequestStage::FollowUp,
        RequestStage::Evaluation,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RequestStage::Appointment => "appointment",
            RequestStage::Acceptance => "acceptance",
            RequestStage::Processing => "processing",
            RequestStage::Reply => "reply",
            RequestStage::Archiving => "archiving",
            RequestStage::FollowUp => "follow_up",
            RequestStage::Evaluation => "evaluation",
        }
    }

    pub fn from_code(s: &str) -> Option<RequestStage> {
        RequestStage::ALL.into_iter().find(|t| t.code() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            RequestStage::Appointment => "预约",
            RequestStage::Acceptance => "受理",
            RequestStage::Processing => "处理",
            RequestStage::Reply => "答复",
            RequestStage::Archiving => "归档",
            RequestStage::FollowUp => "回访",
            RequestStage::Evaluation => "评价",
        }
    }

    /// The stage after this one, if any.
    pub fn next(self) -> Option<RequestStage> {
        let i = RequestStage::ALL.iter().position(|s| *s == self)?;
        RequestStage::ALL.get(i + 1).copied()
    }

    /// A request starts at appointment (booked ahead) or acceptance (walk-in, phone...).
    pub fn is_valid_start(self) -> bool {
        matches!(self, RequestStage::Appointment | RequestStage::Acceptance)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    #[error("a request cannot move from {from} to {to}: the next stage is {expected}", from = .from.code(), to = .to.code(), expected = .from.next().map_or("none (the request is complete)", RequestStage::code))]
    NotNext {
        from: RequestStage,
        to: RequestStage,
    },
    #[error("a request must start at appointment or acceptance, not {}", .0.code())]
    BadStart(RequestStage),
    /// GB/T 4.2.3, 8.4.1: paid work needs the itemised fees disclosed and acknowledged first.
    #[error(
        "this is a paid service: the customer must acknowledge the itemised quote before processing starts"
    )]
    QuoteNotAcknowledged,
}

/// Checks one forward move. `paid_and_unacknowledged` is true for a paid service whose
/// current quote has not been acknowledged by the customer.
pub fn check_advance(
    from: RequestStage,
    to: RequestStage,
    paid_and_unacknowledged: bool,
) -> Result<(), StageError> {
    if from.next() != Some(to) {
        return Err(StageError::NotNext { from, to });
    }
    // GB/T 4.2.3: paid work neither starts nor is handed back to the customer while the
    // current itemised fee list is unacknowledged (a changed quote during processing
    // needs a new acknowledgement).
    let touches_processing = to == RequestStage::Processing || from == RequestStage::Processing;
    if touches_processing && paid_and_unacknowledged {
        return Err(StageError::QuoteNotAcknowledged);
    }
    Ok(())
}

/// GB/T 5.5.2 and 4.1.2: when the customer must have an answer and a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// `None` when the service answers at once, at the counter (a reply limit of 0).
    pub reply_due: Option<DateTime<Utc>>,
    pub resolve_due: DateTime<Utc>,
}

impl Deadlines {
    pub fn from_acceptance(accepted_at: DateTime<Utc>, spec: &ServiceSpec) -> Deadlines {
        Deadlines {
            reply_due: (spec.reply_within_minutes > 0).then(|| accepted_at + spec.reply_within()),
            resolve_due: accepted_at + spec.resolve_within(),
        }
    }

    /// Overdue if a deadline passed before the matching stage was reached.
    pub fn overdue(
        &self,
        now: DateTime<Utc>,
        replied_at: Option<DateTime<Utc>>,
        resolved_at: Option<DateTime<Utc>>,
    ) -> bool {
        let late =
            |due: DateTime<Utc>, done: Option<DateTime<Utc>>| done.map_or(now > due, |d| d > due);
        self.reply_due.is_some_and(|due| late(due, replied_at))
            || late(self.resolve_due, resolved_at)
    }

    pub fn remaining(&self, now: DateTime<Utc>) -> Duration {
        self.resolve_due - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ServiceType;
    use RequestStage::*;

    #[test]
    fn stages_move_forward_one_at_a_time() {
        // GB/T 8.1
        let mut s = Appointment;
        let mut seen = vec![s];
        while let Some(n) = s.next() {
            check_advance(s, n, false).unwrap();
            s = n;
            seen.push(s);
        }
        assert_eq!(seen, RequestStage::ALL.to_vec());
        assert!(check_advance(Acceptance, Reply, false).is_err());
        assert!(check_advance(Reply, Processing, false).is_err());
        assert!(Evaluation.next().is_none());
        assert!(!Processing.is_valid_start());
    }

    #[test]
    fn paid_work_waits_for_acknowledged_quote() {
        // GB/T 4.2.3
        assert_eq!(
            check_advance(Acceptance, Processing, true),
            Err(StageError::QuoteNotAcknowledged)
        );
        assert!(check_advance(Acceptance, Processing, false).is_ok());
        // A new quote made during processing must be acknowledged before the reply.
        assert_eq!(
            check_advance(Processing, Reply, true),
            Err(StageError::QuoteNotAcknowledged)
        );
    }

    #[test]
    fn deadlines_follow_the_service_limits() {
        // GB/T 4.1.2, 5.5.2
        let spec = ServiceSpec::default_for(ServiceType::Repair);
        let t0: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().unwrap();
        let d = Deadlines::from_acceptance(t0, &spec);
        assert_eq!(d.reply_due, Some(t0 + Duration::minutes(60)));
        assert_eq!(d.resolve_due, t0 + Duration::hours(168));
        assert!(!d.overdue(t0 + Duration::minutes(59), None, None));
        assert!(d.overdue(t0 + Duration::minutes(61), None, None));
        assert!(!d.overdue(
            t0 + Duration::minutes(61),
            Some(t0 + Duration::minutes(30)),
            None
        ));
    }
}
