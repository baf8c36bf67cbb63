//! Wait-time estimates for a new ticket from measured service times (GB/T 5.2.1, 7.1).

use serde::{Deserialize, Serialize};

/// How many recent service times the estimate looks at.
pub const SAMPLE_WINDOW: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitEstimate {
    /// Typical service time used, in seconds.
    pub service_secs: u32,
    /// Expected wait before being called, in seconds.
    pub wait_secs: u32,
}

/// The median of the most recent service durations (seconds), or `default_secs` when
/// nothing was measured yet. The median keeps one long repair from skewing everything.
pub fn typical_service_secs(recent: &[u32], default_secs: u32) -> u32 {
    let mut v: Vec<u32> = recent.iter().rev().take(SAMPLE_WINDOW).copied().collect();
    if v.is_empty() {
        return default_secs;
    }
    v.sort_unstable();
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        ((u64::from(v[mid - 1]) + u64::from(v[mid])) / 2) as u32
    }
}

/// People ahead shared among the counters serving the service now (at least one is
/// assumed, so a closed service still gets a finite, pessimistic estimate).
pub fn estimate_wait(
    people_ahead: u32,
    counters_serving: u32,
    recent: &[u32],
    default_secs: u32,
) -> WaitEstimate {
    let service_secs = typical_service_secs(recent, default_secs);
    let counters = counters_serving.max(1);
    let rounds = people_ahead.div_ceil(counters);
    WaitEstimate {
        service_secs,
        wait_secs: rounds.saturating_mul(service_secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_median_of_measured_times() {
        assert_eq!(typical_service_secs(&[], 300), 300);
        assert_eq!(typical_service_secs(&[100, 900, 200], 300), 200);
        assert_eq!(typical_service_secs(&[100, 200], 300), 150);
    }

    #[test]
    fn shares_people_among_counters() {
        let e = estimate_wait(5, 2, &[120], 300);
        assert_eq!(e.wait_secs, 3 * 120);
        assert_eq!(estimate_wait(0, 2, &[120], 300).wait_secs, 0);
        assert_eq!(estimate_wait(3, 0, &[], 60).wait_secs, 180);
    }
}
