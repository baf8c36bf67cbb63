//! How much a network address may try (GB/T 5.6.2): guesses at staff secrets and pairing
//! codes per address, refused enrolments across the whole hub, and how often the same
//! refusal from the same address goes to the audit log. A try is counted the moment it
//! is let through, so parallel requests cannot all pass before the first one fails.
//!
//! Counts and decides only; never answers a request or writes the audit log. Every map
//! here is bounded and none is scanned on every request.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The window every limit counts in.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Forgotten addresses are swept out at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(5);
/// Addresses with recent tries tracked at most; beyond, a new address is refused until
/// the next sweep makes room (a LAN has far fewer hosts than this).
const MAX_ADDRESSES: usize = 10_000;
/// Refusals tracked at most for the audit log's rate limit.
const MAX_REFUSALS: usize = 1024;

/// What a limit counts against: an IPv4 address as it is, an IPv6 address by its /64 (a
/// host picks any address in its network's /64 at will), an IPv4-mapped IPv6 address as
/// the IPv4 one.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data is a set of counters: still good after another thread panicked.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The tries let through in the last [`WINDOW`], oldest first.
#[derive(Debug, Default)]
struct Window {
    tries: VecDeque<Instant>,
    /// The refusal of this window was reported (audited) already.
    reported: bool,
}

impl Window {
    fn expire(&mut self, now: Instant) {
        while self
            .tries
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.tries.pop_front();
        }
    }

    /// Counts a try at `now` unless `limit` tries are in the window already.
    fn admit(&mut self, limit: u32, now: Instant) -> bool {
        self.expire(now);
        if self.tries.len() >= limit as usize {
            return false;
        }
        self.tries.push_back(now);
        self.reported = false;
        true
    }

    fn give_back(&mut self, at: Instant) {
        if let Some(i) = self.tries.iter().position(|t| *t == at) {
            self.tries.remove(i);
        }
    }

    /// True once per stretch of refusals: the window is full and nobody said so yet.
    fn newly_full(&mut self, limit: u32, now: Instant) -> bool {
        self.expire(now);
        if self.tries.len() >= limit as usize && !self.reported {
            self.reported = true;
            return true;
        }
        false
    }
}

#[derive(Debug)]
struct Addresses {
    windows: HashMap<IpAddr, Window>,
    pruned: Instant,
}

impl Addresses {
    fn prune_if_due(&mut self, now: Instant) {
        if now.saturating_duration_since(self.pruned) < PRUNE_EVERY {
            return;
        }
        self.pruned = now;
        self.windows.retain(|_, w| {
            w.expire(now);
            !w.tries.is_empty()
        });
    }
}

/// Where an [`Attempt`] was counted.
#[derive(Debug)]
enum Slot {
    Address(Arc<Mutex<Addresses>>, IpAddr),
    HubWide(Arc<Mutex<Window>>),
}

/// One try that was let through and counted. It stays counted when dropped (a failed
/// guess, an error on the way); [`Attempt::succeeded`] takes it back.
#[derive(Debug)]
#[must_use = "an attempt is counted until `succeeded` takes it back"]
pub struct Attempt {
    slot: Slot,
    at: Instant,
}

impl Attempt {
    /// The try was no guess (right secret, or refused before any secret was checked):
    /// it no longer counts.
    pub fn succeeded(self) {
        match &self.slot {
            Slot::Address(state, key) => {
                if let Some(w) = lock(state).windows.get_mut(key) {
                    w.give_back(self.at);
                }
            }
            Slot::HubWide(window) => lock(window).give_back(self.at),
        }
    }
}

/// Guesses (failed logins, refused enrolments) per network address in a sliding minute:
/// beyond the limit every try from that address is refused (429) until the minute has
/// passed, whatever the account or device; each account also locks by itself after its
/// own failures.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    per_minute: u32,
    state: Arc<Mutex<Addresses>>,
}

impl LoginLimiter {
    pub fn new(per_minute: u32) -> LoginLimiter {
        LoginLimiter {
            per_minute: per_minute.max(1),
            state: Arc::new(Mutex::new(Addresses {
                windows: HashMap::new(),
                pruned: Instant::now(),
            })),
        }
    }

    /// Checks and counts a try from `ip` in one step; `None` when the address is over
    /// its limit (or, under a flood of new addresses, the table is full).
    pub fn try_begin(&self, ip: IpAddr) -> Option<Attempt> {
        let key = address_key(ip);
        let now = Instant::now();
        let mut s = lock(&self.state);
        s.prune_if_due(now);
        if !s.windows.contains_key(&key) && s.windows.len() >= MAX_ADDRESSES {
            return None;
        }
        let admitted = s
            .windows
            .entry(key)
            .or_default()
            .admit(self.per_minute, now);
        drop(s);
        admitted.then(|| Attempt {
            slot: Slot::Address(self.state.clone(), key),
            at: now,
        })
    }

    /// Whether `ip` has just become limited: true for the first refusal of a stretch,
    /// false for the ones after it (so only the first is audited).
    pub fn newly_limited(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        lock(&self.state)
            .windows
            .get_mut(&address_key(ip))
            .is_some_and(|w| w.newly_full(self.per_minute, now))
    }
}

/// Refused enrolments across the whole hub in a sliding minute: beyond the limit every
/// enrolment, from any address, is refused (429) until the minute has passed, so guessing
/// from many addresses at once gets no further than from one.
#[derive(Debug, Clone)]
pub struct HubWideLimit {
    per_minute: u32,
    window: Arc<Mutex<Window>>,
}

impl HubWideLimit {
    pub fn new(per_minute: u32) -> HubWideLimit {
        HubWideLimit {
            per_minute: per_minute.max(1),
            window: Arc::default(),
        }
    }

    /// Checks and counts a try in one step; `None` when the hub is over its limit.
    pub fn try_begin(&self) -> Option<Attempt> {
        let now = Instant::now();
        lock(&self.window)
            .admit(self.per_minute, now)
            .then(|| Attempt {
                slot: Slot::HubWide(self.window.clone()),
                at: now,
            })
    }

    /// Whether the limit has just been reached (true once per stretch).
    pub fn newly_limited(&self) -> bool {
        lock(&self.window).newly_full(self.per_minute, Instant::now())
    }
}

/// What to do with one refusal (see [`RefusalLog::note`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Audit it, saying how many like it were left out since the last row, and how many
    /// refusals went unaudited while the table was full.
    Audit { suppressed: u64, untracked: u64 },
    /// Leave it out of the audit log (log it at debug level only).
    Suppress,
}

#[derive(Debug)]
struct Seen {
    audited_at: Instant,
    suppressed: u64,
}

#[derive(Debug)]
struct Refusals {
    seen: HashMap<(IpAddr, &'static str, Option<String>), Seen>,
    /// Refusals left out because the table was full, reported with the next audited one.
    untracked: u64,
    pruned: Instant,
}

/// GB/T 5.6.2.3 without letting a flood through: at most one audit row per minute for
/// each peer address (IPv6 by /64), refusal code and device (when the certificate names
/// one: the set of enrolled devices is bounded), the rest counted into the next row. The
/// table holds at most [`MAX_REFUSALS`] entries; when full, entries older than a minute
/// are evicted (at most every few seconds), else new refusals are not tracked and not
/// audited (only counted).
#[derive(Debug, Clone)]
pub struct RefusalLog {
    state: Arc<Mutex<Refusals>>,
}

impl Default for RefusalLog {
    fn default() -> Self {
        RefusalLog {
            state: Arc::new(Mutex::new(Refusals {
                seen: HashMap::new(),
                untracked: 0,
                pruned: Instant::now(),
            })),
        }
    }
}

impl RefusalLog {
    /// Whether the refusal `code` of `device` (if known) from `ip` goes to the audit log.
    pub fn note(
        &self,
        ip: Option<IpAddr>,
        code: &'static str,
        device: Option<&str>,
        now: Instant,
    ) -> Verdict {
        let ip = ip.map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), address_key);
        let key = (ip, code, device.map(str::to_owned));
        let mut guard = lock(&self.state);
        let s = &mut *guard;
        if let Some(seen) = s.seen.get_mut(&key) {
            if now.saturating_duration_since(seen.audited_at) < WINDOW {
                seen.suppressed += 1;
                return Verdict::Suppress;
            }
            let suppressed = std::mem::take(&mut seen.suppressed);
            seen.audited_at = now;
            return Verdict::Audit {
                suppressed,
                untracked: std::mem::take(&mut s.untracked),
            };
        }
        if s.seen.len() >= MAX_REFUSALS && now.saturating_duration_since(s.pruned) >= PRUNE_EVERY {
            s.pruned = now;
            s.seen
                .retain(|_, seen| now.saturating_duration_since(seen.audited_at) < WINDOW);
        }
        if s.seen.len() >= MAX_REFUSALS {
            s.untracked += 1;
            return Verdict::Suppress;
        }
        s.seen.insert(
            key,
            Seen {
                audited_at: now,
                suppressed: 0,
            },
        );
        Verdict::Audit {
            suppressed: 0,
            untracked: std::mem::take(&mut s.untracked),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_bit_network() {
        assert_eq!(address_key(ip("10.0.0.7")), ip("10.0.0.7"));
        assert_eq!(address_key(ip("::ffff:10.0.0.7")), ip("10.0.0.7"));
        assert_eq!(
            address_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        let limiter = LoginLimiter::new(2);
        let _a = limiter.try_begin(ip("2001:db8:1:2::1")).unwrap();
        let _b = limiter.try_begin(ip("2001:db8:1:2::2")).unwrap();
        assert!(
            limiter.try_begin(ip("2001:db8:1:2:ffff::3")).is_none(),
            "another address of the same /64 is the same guesser"
        );
        assert!(limiter.try_begin(ip("2001:db8:1:3::1")).is_some());
    }

    #[test]
    fn a_try_counts_from_the_moment_it_is_let_through() {
        // GB/T 5.6.2: parallel tries cannot all pass before the first one fails.
        let limiter = LoginLimiter::new(3);
        let a = ip("10.0.0.9");
        let held: Vec<Attempt> = (0..3).map(|_| limiter.try_begin(a).unwrap()).collect();
        assert!(limiter.try_begin(a).is_none());
        assert!(limiter.newly_limited(a), "the first refusal is reported");
        assert!(!limiter.newly_limited(a), "the next ones are not");
        assert!(limiter.try_begin(ip("10.0.0.10")).is_some());
        // A success takes its try back; a failure (dropped) keeps it counted.
        let mut held = held.into_iter();
        held.next().unwrap().succeeded();
        drop(held.next());
        let again = limiter.try_begin(a).expect("room for one more");
        assert!(limiter.try_begin(a).is_none());
        again.succeeded();
        assert!(limiter.try_begin(a).is_some());
        assert!(limiter.try_begin(a).is_none());
        assert!(
            limiter.newly_limited(a),
            "a new stretch of refusals is reported again"
        );
    }

    #[test]
    fn the_hub_wide_limit_refuses_everyone_once_reached() {
        let cap = HubWideLimit::new(2);
        let first = cap.try_begin().unwrap();
        drop(cap.try_begin().unwrap());
        assert!(cap.try_begin().is_none());
        assert!(cap.newly_limited());
        assert!(!cap.newly_limited());
        first.succeeded();
        assert!(cap.try_begin().is_some());
    }

    #[test]
    fn one_refusal_a_minute_is_audited_per_address_code_and_device() {
        // GB/T 5.6.2.3
        let log = RefusalLog::default();
        let t0 = Instant::now();
        let a = Some(ip("10.0.0.9"));
        let code = "device_not_enrolled";
        assert_eq!(
            log.note(a, code, None, t0),
            Verdict::Audit {
                suppressed: 0,
                untracked: 0
            }
        );
        for n in 1..=5 {
            assert_eq!(
                log.note(a, code, None, t0 + Duration::from_secs(n)),
                Verdict::Suppress
            );
        }
        // Another code, another address or another device is audited on its own.
        assert!(matches!(
            log.note(a, "role_not_allowed", None, t0),
            Verdict::Audit { .. }
        ));
        assert!(matches!(
            log.note(Some(ip("10.0.0.10")), code, None, t0),
            Verdict::Audit { .. }
        ));
        assert!(matches!(
            log.note(a, code, Some("kiosk-1"), t0),
            Verdict::Audit { .. }
        ));
        // A minute on, the next one is audited with the count of those left out.
        assert_eq!(
            log.note(a, code, None, t0 + WINDOW),
            Verdict::Audit {
                suppressed: 5,
                untracked: 0
            }
        );
        assert_eq!(log.note(a, code, None, t0 + WINDOW), Verdict::Suppress);
    }

    #[test]
    fn the_refusal_table_stops_growing_when_full() {
        let log = RefusalLog::default();
        let t0 = Instant::now();
        let addr = |n: usize| Some(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n as u32)));
        for n in 0..MAX_REFUSALS {
            assert!(matches!(
                log.note(addr(n), "device_not_enrolled", None, t0),
                Verdict::Audit { .. }
            ));
        }
        // Full of fresh entries: a new address is neither tracked nor audited...
        for n in 0..3 {
            assert_eq!(
                log.note(addr(MAX_REFUSALS + n), "device_not_enrolled", None, t0),
                Verdict::Suppress
            );
        }
        assert_eq!(lock(&log.state).seen.len(), MAX_REFUSALS);
        // ...until the old entries can be evicted; the next row says what was left out.
        assert_eq!(
            log.note(
                addr(MAX_REFUSALS + 9),
                "device_not_enrolled",
                None,
                t0 + WINDOW
            ),
            Verdict::Audit {
                suppressed: 0,
                untracked: 3
            }
        );
        assert_eq!(lock(&log.state).seen.len(), 1);
    }
}
