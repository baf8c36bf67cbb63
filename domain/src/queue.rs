//! Queue ordering: priority classes, the per-service priority ratio ("after N normal
//! tickets serve one priority ticket"), routing a counter's call among the services its
//! staff member is qualified for, and the keys for transfers to the front or back.
//!
//! Pure selection over a snapshot: the caller loads the waiting tickets and stores the
//! returned lane state in the same transaction.

use serde::{Deserialize, Serialize};

use crate::service::ServiceType;

/// Who jumps which part of the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PriorityClass {
    /// Checked in for a booked slot (GB/T 8.1 预约).
    Appointment,
    /// Elderly, disabled, pregnant and others the centre serves first.
    Priority,
    #[default]
    Normal,
}

impl PriorityClass {
    pub const ALL: [PriorityClass; 3] = [
        PriorityClass::Appointment,
        PriorityClass::Priority,
        PriorityClass::Normal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            PriorityClass::Appointment => "appointment",
            PriorityClass::Priority => "priority",
            PriorityClass::Normal => "normal",
        }
    }

    pub fn from_code(s: &str) -> Option<PriorityClass> {
        PriorityClass::ALL.into_iter().find(|c| c.code() == s)
    }

    /// Appointment and priority tickets share the priority lane.
    pub fn in_priority_lane(self) -> bool {
        self != PriorityClass::Normal
    }
}

/// One waiting ticket as the selector sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    pub id: i64,
    pub service: ServiceType,
    pub class: PriorityClass,
    /// Position in line: lower is served earlier. Issue order, changed by transfers.
    pub queue_key: i64,
}

/// Per service and business day: how many normal tickets were served since the last
/// priority one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LaneState {
    pub normal_since_priority: u32,
    /// True once a priority ticket was served today; before that the lane is owed one.
    pub priority_served: bool,
}

impl LaneState {
    fn priority_owed(self, every: u32) -> bool {
        !self.priority_served || self.normal_since_priority >= every
    }

    /// The state after serving a ticket of `class`.
    pub fn after_serving(self, class: PriorityClass) -> LaneState {
        if class.in_priority_lane() {
            LaneState {
                normal_since_priority: 0,
                priority_served: true,
            }
        } else {
            LaneState {
                normal_since_priority: self.normal_since_priority.saturating_add(1),
                priority_served: self.priority_served,
            }
        }
    }
}

/// What the selector needs to know about one service a counter may call from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanePolicy {
    pub service: ServiceType,
    pub priority_every: u32,
    pub state: LaneState,
}

/// The chosen ticket and the new lane state of its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub ticket: Waiting,
    pub new_state: LaneState,
}

fn head(waiting: &[Waiting], service: ServiceType, priority_lane: bool) -> Option<Waiting> {
    waiting
        .iter()
        .filter(|w| w.service == service && w.class.in_priority_lane() == priority_lane)
        .min_by_key(|w| (w.queue_key, w.id))
        .copied()
}

/// The candidate one service offers: the head of the priority lane when it is owed a turn
/// (or the normal lane is empty), else the head of the normal lane.
pub fn service_candidate(waiting: &[Waiting], lane: &LanePolicy) -> Option<Waiting> {
    let prio = head(waiting, lane.service, true);
    let normal = head(waiting, lane.service, false);
    match (prio, normal) {
        (Some(p), Some(n)) => Some(if lane.state.priority_owed(lane.priority_every) {
            p
        } else {
            n
        }),
        (p, n) => p.or(n),
    }
}

/// Routing for "call next": among the services the counter may serve (`lanes`, already
/// filtered by the staff member's qualifications, GB/T 5.2.3), take each service's
/// candidate and call the one that has waited longest (lowest queue key).
pub fn pick_next(waiting: &[Waiting], lanes: &[LanePolicy]) -> Option<Pick> {
    lanes
        .iter()
        .filter_map(|lane| service_candidate(waiting, lane).map(|t| (t, lane)))
        .min_by_key(|(t, _)| (t.queue_key, t.id))
        .map(|(ticket, lane)| Pick {
            ticket,
            new_state: lane.state.after_serving(ticket.class),
        })
}

/// Queue key that puts a transferred ticket at the front of a queue whose waiting
/// tickets have `keys`; `back_key` is the next key the day would hand out.
pub fn transfer_key(keys: impl IntoIterator<Item = i64>, to_front: bool, back_key: i64) -> i64 {
    if to_front {
        keys.into_iter().min().map_or(back_key, |k| k - 1)
    } else {
        back_key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ServiceType::*;

    fn w(id: i64, service: ServiceType, class: PriorityClass) -> Waiting {
        Waiting {
            id,
            service,
            class,
            queue_key: id,
        }
    }

    fn lane(service: ServiceType, every: u32) -> LanePolicy {
        LanePolicy {
            service,
            priority_every: every,
            state: LaneState::default(),
        }
    }

    /// Calls everything, returning ids in call order.
    fn drain(mut waiting: Vec<Waiting>, mut lanes: Vec<LanePolicy>) -> Vec<i64> {
        let mut order = vec![];
        while let Some(p) = pick_next(&waiting, &lanes) {
            order.push(p.ticket.id);
            waiting.retain(|t| t.id != p.ticket.id);
            for l in &mut lanes {
                if l.service == p.ticket.service {
                    l.state = p.new_state;
                }
            }
        }
        order
    }

    #[test]
    fn two_normal_then_one_priority() {
        use PriorityClass::*;
        let waiting = vec![
            w(1, Repair, Normal),
            w(2, Repair, Normal),
            w(3, Repair, Normal),
            w(4, Repair, Priority),
            w(5, Repair, Normal),
            w(6, Repair, Appointment),
            w(7, Repair, Normal),
        ];
        // The first priority ticket is served at once, then 2 normal : 1 priority.
        assert_eq!(
            drain(waiting, vec![lane(Repair, 2)]),
            vec![4, 1, 2, 6, 3, 5, 7]
        );
    }

    #[test]
    fn ratio_zero_is_strict_priority() {
        use PriorityClass::*;
        let waiting = vec![
            w(1, Repair, Normal),
            w(2, Repair, Priority),
            w(3, Repair, Priority),
        ];
        assert_eq!(drain(waiting, vec![lane(Repair, 0)]), vec![2, 3, 1]);
    }

    #[test]
    fn routing_only_calls_allowed_services_longest_wait_first() {
        use PriorityClass::*;
        let waiting = vec![
            w(1, Installation, Normal),
            w(2, Consultation, Normal),
            w(3, Repair, Normal),
            w(4, Consultation, Normal),
        ];
        assert_eq!(
            drain(waiting, vec![lane(Consultation, 2), lane(Repair, 2)]),
            vec![2, 3, 4]
        );
    }

    #[test]
    fn front_and_back_keys() {
        assert_eq!(transfer_key([5, 9, 7], true, 20), 4);
        assert_eq!(transfer_key([], true, 20), 20);
        assert_eq!(transfer_key([5], false, 20), 20);
    }
}
