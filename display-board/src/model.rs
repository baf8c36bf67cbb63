//! The board's state in plain Rust: the latest call and how long it stays highlighted,
//! the last N calls, a tile per open counter, waiting counts and estimates per service,
//! the centre's published information and the connection state. Pure functions update it
//! from the hub's `QueueSnapshot` and `EventEnvelope`s, applying each sequence number
//! exactly once and in order.
//!
//! It never does IO, never reads a clock (callers pass [`Now`]) and knows nothing of
//! Slint: the UI adapter renders [`BoardModel::view`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::{ServiceType, TicketState};
use protocol::{Catalogue, EventEnvelope, HubEvent, QueueSnapshot};

/// How many calls the history keeps (the latest one included).
pub const DEFAULT_RECENT: usize = 7;
/// How long a new call stays highlighted.
pub const DEFAULT_HIGHLIGHT: Duration = Duration::from_secs(8);
/// A call older than this when it reaches the board (e.g. replayed after a long outage)
/// is listed but neither highlighted nor announced.
pub const FRESH_CALL: Duration = Duration::from_secs(120);

/// The moment an update is applied, as both a monotonic and a wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub mono: Instant,
    pub wall: DateTime<Utc>,
}

impl Now {
    /// The current moment (for callers; the model itself never reads the clock).
    pub fn current() -> Now {
        Now {
            mono: Instant::now(),
            wall: Utc::now(),
        }
    }

    pub fn later(self, d: Duration) -> Now {
        Now {
            mono: self.mono + d,
            wall: self.wall + chrono::Duration::from_std(d).unwrap_or_default(),
        }
    }
}

/// Which counters and services one board shows, so several boards can each cover part of
/// the hall. Empty sets mean "all".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Zone {
    pub counters: BTreeSet<u32>,
    pub services: BTreeSet<ServiceType>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "zone item `{0}` is neither a counter number, a range like 1-4, nor a service (consultation, complaint, installation, repair, return_exchange)"
)]
pub struct BadZone(pub String);

impl FromStr for Zone {
    type Err = BadZone;
    /// `1-4`, `5,6`, `repair,installation` or a mix such as `1-3,repair`.
    fn from_str(s: &str) -> Result<Zone, BadZone> {
        let mut zone = Zone::default();
        for item in s
            .split([',', ';', ' '])
            .map(str::trim)
            .filter(|i| !i.is_empty())
        {
            if let Ok(n) = item.parse::<u32>() {
                zone.counters.insert(n);
            } else if let Some((a, b)) = item.split_once('-') {
                let (a, b) = match (a.trim().parse::<u32>(), b.trim().parse::<u32>()) {
                    (Ok(a), Ok(b)) if a <= b && b - a < 1000 => (a, b),
                    _ => return Err(BadZone(item.to_owned())),
                };
                zone.counters.extend(a..=b);
            } else {
                let service = item
                    .parse::<ServiceType>()
                    .map_err(|_| BadZone(item.to_owned()))?;
                zone.services.insert(service);
            }
        }
        Ok(zone)
    }
}

impl Zone {
    pub fn has_counter(&self, counter: u32) -> bool {
        self.counters.is_empty() || self.counters.contains(&counter)
    }

    pub fn has_service(&self, service: ServiceType) -> bool {
        self.services.is_empty() || self.services.contains(&service)
    }

    /// A call belongs on this board when both its counter and its service do.
    pub fn shows_call(&self, counter: u32, service: ServiceType) -> bool {
        self.has_counter(counter) && self.has_service(service)
    }
}

/// One call of a ticket to a counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub seq: i64,
    pub ticket_id: i64,
    pub number: String,
    pub service: ServiceType,
    pub counter: u32,
    pub recall: bool,
}

/// What a board announces aloud (GB/T 7.1): a chime, then the ticket and counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub seq: i64,
    pub number: String,
    pub counter: u32,
    pub recall: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileState {
    /// Open, nobody at the counter.
    Idle,
    /// A ticket was called and the customer is on their way.
    Called,
    /// Service started.
    Serving,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterTile {
    pub counter: u32,
    pub state: TileState,
    pub ticket_id: Option<i64>,
    pub number: Option<String>,
    pub service: Option<ServiceType>,
}

/// GB/T 4.1.1: what a ticket taken now would wait, per service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceWait {
    pub service: ServiceType,
    pub prefix: char,
    pub name_zh: String,
    pub name_en: String,
    pub waiting: u32,
    pub estimated_wait_secs: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Connection {
    /// Never reached the hub yet.
    #[default]
    Connecting,
    Live,
    /// The hub went away; the board keeps showing what it knows.
    Reconnecting,
}

/// What applying one event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Already applied (a repeat after a resume): ignored.
    Duplicate,
    /// A sequence number was skipped: nothing applied; resubscribe from `last_seq`.
    Gap { expected: i64, got: i64 },
    /// Applied; nothing the board shows changed.
    Quiet,
    /// Applied; the view changed.
    Changed,
    /// Applied; a ticket was called to a counter this board shows. `announce` is set when
    /// the call is fresh enough to be highlighted and spoken.
    Called { announce: Option<Announcement> },
}

/// The centre's published information (GB/T 5.3.1) as the board shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CentreView {
    pub name_zh: String,
    pub name_en: String,
    /// Lines for the scrolling information band, as (Chinese, English) pairs.
    pub info: Vec<(String, String)>,
    /// The centre's time zone, minutes east of UTC (`None` until the catalogue arrives).
    pub utc_offset_minutes: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct BoardModel {
    zone: Zone,
    recent_len: usize,
    highlight: Duration,
    last_seq: Option<i64>,
    /// Newest first; the front is the latest call.
    recent: VecDeque<Call>,
    highlight_until: Option<Instant>,
    counters: BTreeMap<u32, CounterTile>,
    waits: BTreeMap<ServiceType, ServiceWait>,
    centre: CentreView,
    connection: Connection,
    day_open: bool,
    /// The hub's clock minus the board's, from the last snapshot or refresh: event times
    /// are the hub's, so their age is judged on the hub's clock.
    skew: chrono::Duration,
    /// The sequence the waiting counts were last taken from a snapshot at: events at or
    /// below it are already counted.
    waits_seq: Option<i64>,
}

/// Everything the UI shows, computed for one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardView {
    pub latest: Option<Call>,
    pub highlight: bool,
    /// Earlier calls, newest first (the latest excluded).
    pub history: Vec<Call>,
    pub counters: Vec<CounterTile>,
    pub waits: Vec<ServiceWait>,
    pub centre: CentreView,
    pub connection: Connection,
    pub day_open: bool,
}

impl BoardModel {
    pub fn new(zone: Zone) -> BoardModel {
        BoardModel {
            zone,
            recent_len: DEFAULT_RECENT,
            highlight: DEFAULT_HIGHLIGHT,
            last_seq: None,
            recent: VecDeque::new(),
            highlight_until: None,
            counters: BTreeMap::new(),
            waits: BTreeMap::new(),
            centre: CentreView::default(),
            connection: Connection::Connecting,
            day_open: false,
            skew: chrono::Duration::zero(),
            waits_seq: None,
        }
    }

    pub fn with_recent(mut self, n: usize) -> BoardModel {
        self.recent_len = n.max(1);
        self
    }

    pub fn with_highlight(mut self, d: Duration) -> BoardModel {
        self.highlight = d;
        self
    }

    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    /// The last sequence number applied; `None` before the first snapshot.
    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }

    /// The centre's time zone as a fixed offset, once the catalogue has said it.
    pub fn utc_offset(&self) -> Option<chrono::FixedOffset> {
        self.centre
            .utc_offset_minutes
            .and_then(|m| chrono::FixedOffset::east_opt(m.saturating_mul(60)))
    }

    /// Notes the hub's clock (`hub_now`, from a snapshot) against the board's wall clock
    /// at the same moment, so call freshness follows the hub's clock, not the board's.
    pub fn sync_clock(&mut self, hub_now: DateTime<Utc>, board_wall: DateTime<Utc>) {
        self.skew = hub_now.signed_duration_since(board_wall);
    }

    pub fn connection(&self) -> Connection {
        self.connection
    }

    /// Returns true when the state changed.
    pub fn set_connection(&mut self, c: Connection) -> bool {
        std::mem::replace(&mut self.connection, c) != c
    }

    /// All calls the board remembers, newest first.
    pub fn recent(&self) -> impl Iterator<Item = &Call> {
        self.recent.iter()
    }

    /// GB/T 5.3.1: the centre's name and the information band from the catalogue.
    pub fn apply_catalogue(&mut self, cat: &Catalogue) {
        let c = &cat.centre;
        let mut info = Vec::new();
        for s in cat
            .services
            .iter()
            .filter(|s| self.zone.has_service(s.service))
        {
            let fees_zh: Vec<String> = s
                .fees
                .iter()
                .map(|f| format!("{} {}", f.name_zh, f.unit_price))
                .collect();
            let fees_en: Vec<String> = s
                .fees
                .iter()
                .map(|f| format!("{} {}", f.name_en, f.unit_price))
                .collect();
            let (fz, fe) = if s.paid && !fees_zh.is_empty() {
                (
                    format!("；收费：{}", fees_zh.join("，")),
                    format!("; fees: {}", fees_en.join(", ")),
                )
            } else if s.paid {
                (
                    "；收费服务，费用先告知".to_owned(),
                    "; paid service, fees told first".to_owned(),
                )
            } else {
                ("；免费".to_owned(), "; free of charge".to_owned())
            };
            info.push((
                format!(
                    "{}（{}字头）：{} 分钟内答复，{} 小时内办结{}",
                    s.name_zh, s.prefix, s.reply_within_minutes, s.resolve_within_hours, fz
                ),
                format!(
                    "{} ({} tickets): reply within {} min, resolved within {} h{}",
                    s.name_en, s.prefix, s.reply_within_minutes, s.resolve_within_hours, fe
                ),
            ));
        }
        for q in &c.qualifications {
            info.push((format!("资质：{q}"), format!("Qualification: {q}")));
        }
        if !c.change_procedure_zh.is_empty() || !c.change_procedure_en.is_empty() {
            info.push((c.change_procedure_zh.clone(), c.change_procedure_en.clone()));
        }
        if !c.address.is_empty() || !c.phone.is_empty() {
            info.push((
                format!("地址：{}　电话：{}", c.address, c.phone),
                format!("Address: {}  Phone: {}", c.address, c.phone),
            ));
        }
        self.centre = CentreView {
            name_zh: c.name_zh.clone(),
            name_en: c.name_en.clone(),
            info,
            utc_offset_minutes: Some(c.utc_offset_minutes),
        };
    }

    /// Starts over from a snapshot: counters, waits and the calls still at counters.
    /// Used at start-up and when the hub says the board is ahead of it (restored hub).
    pub fn apply_snapshot(&mut self, snap: &QueueSnapshot) {
        self.last_seq = Some(snap.last_seq);
        self.day_open = snap.day.as_ref().is_some_and(|d| d.closed_at.is_none());
        self.waits_seq = None;
        self.apply_waits(snap);
        self.counters.clear();
        self.recent.clear();
        self.highlight_until = None;
        // Every staffed counter of the zone has a tile, busy or idle.
        for &c in &snap.open_counters {
            if self.zone.has_counter(c) {
                self.counters.insert(c, idle(c));
            }
        }
        let mut called: Vec<_> = snap
            .at_counters
            .iter()
            .filter_map(|t| Some((t, t.counter?)))
            .filter(|(_, c)| self.zone.has_counter(*c))
            .collect();
        called.sort_by_key(|(t, _)| t.called_at);
        for (t, counter) in called {
            let state = match t.state {
                TicketState::Called => TileState::Called,
                TicketState::Serving => TileState::Serving,
                _ => continue,
            };
            self.counters.insert(
                counter,
                CounterTile {
                    counter,
                    state,
                    ticket_id: Some(t.id),
                    number: Some(t.number.clone()),
                    service: Some(t.service),
                },
            );
            if !self.zone.has_service(t.service) {
                continue;
            }
            self.push_recent(Call {
                seq: 0,
                ticket_id: t.id,
                number: t.number.clone(),
                service: t.service,
                counter,
                recall: false,
            });
        }
    }

    /// Refreshes waiting counts and estimates only (the rest of the snapshot may be older
    /// or newer than the events applied; calls come from events alone). A snapshot newer
    /// than the events applied so far sets the counts, and the events it already includes
    /// then leave them alone; one older than them refreshes the estimates only (its counts
    /// miss events the board has already counted).
    pub fn apply_waits(&mut self, snap: &QueueSnapshot) {
        if let (Some(applied), Some(counted)) = (self.last_seq, self.waits_seq)
            && snap.last_seq < applied.max(counted)
        {
            for s in &snap.services {
                if let Some(w) = self.waits.get_mut(&s.service) {
                    w.estimated_wait_secs = s.estimated_wait_secs;
                }
            }
            return;
        }
        self.waits_seq = Some(snap.last_seq);
        self.waits = snap
            .services
            .iter()
            .filter(|s| self.zone.has_service(s.service))
            .map(|s| {
                (
                    s.service,
                    ServiceWait {
                        service: s.service,
                        prefix: s.prefix,
                        name_zh: s.name_zh.clone(),
                        name_en: s.name_en.clone(),
                        waiting: s.waiting,
                        estimated_wait_secs: s.estimated_wait_secs,
                    },
                )
            })
            .collect();
    }

    /// Applies one event, exactly once and in sequence order.
    pub fn apply(&mut self, env: &EventEnvelope, now: Now) -> Applied {
        if let Some(last) = self.last_seq {
            if env.seq <= last {
                return Applied::Duplicate;
            }
            if env.seq != last + 1 {
                return Applied::Gap {
                    expected: last + 1,
                    got: env.seq,
                };
            }
        }
        self.last_seq = Some(env.seq);
        self.apply_event(env, now)
    }

    /// Steps over an event this board cannot read (a newer hub's kind), keeping the
    /// once-and-in-order rule for its sequence number.
    pub fn skip(&mut self, seq: i64) -> Applied {
        match self.last_seq {
            Some(last) if seq <= last => Applied::Duplicate,
            Some(last) if seq != last + 1 => Applied::Gap {
                expected: last + 1,
                got: seq,
            },
            _ => {
                self.last_seq = Some(seq);
                Applied::Quiet
            }
        }
    }

    fn apply_event(&mut self, env: &EventEnvelope, now: Now) -> Applied {
        // The waits snapshot already counted this event.
        let counted = self.waits_seq.is_some_and(|w| env.seq <= w);
        match &env.event {
            HubEvent::DayOpened { .. } | HubEvent::DayClosed { .. } => {
                // A new business day starts with a clean board.
                self.day_open = matches!(env.event, HubEvent::DayOpened { .. });
                self.recent.clear();
                self.highlight_until = None;
                for tile in self.counters.values_mut() {
                    *tile = idle(tile.counter);
                }
                if !counted {
                    for w in self.waits.values_mut() {
                        w.waiting = 0;
                    }
                }
                Applied::Changed
            }
            HubEvent::TicketIssued { .. } if counted => Applied::Quiet,
            HubEvent::TicketIssued { service, .. } => match self.waits.get_mut(service) {
                Some(w) => {
                    w.waiting += 1;
                    Applied::Changed
                }
                None => Applied::Quiet,
            },
            HubEvent::TicketCalled {
                ticket_id,
                number,
                service,
                counter,
                recall,
                ..
            } => {
                if !recall
                    && !counted
                    && let Some(w) = self.waits.get_mut(service)
                {
                    w.waiting = w.waiting.saturating_sub(1);
                }
                if !self.zone.has_counter(*counter) {
                    return Applied::Quiet;
                }
                // The tile tells the truth about a counter of this zone whoever it serves
                // (a busy counter never reads "Available"); the list and the voice are for
                // this zone's services only.
                self.counters.insert(
                    *counter,
                    CounterTile {
                        counter: *counter,
                        state: TileState::Called,
                        ticket_id: Some(*ticket_id),
                        number: Some(number.clone()),
                        service: Some(*service),
                    },
                );
                if !self.zone.has_service(*service) {
                    return Applied::Changed;
                }
                self.push_recent(Call {
                    seq: env.seq,
                    ticket_id: *ticket_id,
                    number: number.clone(),
                    service: *service,
                    counter: *counter,
                    recall: *recall,
                });
                // Judged on the hub's clock: the event's time is the hub's.
                let age = (now.wall + self.skew).signed_duration_since(env.at);
                let fresh = age.to_std().map_or(true, |age| age <= FRESH_CALL);
                if fresh {
                    self.highlight_until = Some(now.mono + self.highlight);
                    Applied::Called {
                        announce: Some(Announcement {
                            seq: env.seq,
                            number: number.clone(),
                            counter: *counter,
                            recall: *recall,
                        }),
                    }
                } else {
                    Applied::Called { announce: None }
                }
            }
            HubEvent::TicketStarted {
                ticket_id, counter, ..
            } => match self.counters.get_mut(counter) {
                Some(t) if t.ticket_id == Some(*ticket_id) => {
                    t.state = TileState::Serving;
                    Applied::Changed
                }
                _ => Applied::Quiet,
            },
            HubEvent::TicketFinished {
                ticket_id, counter, ..
            }
            | HubEvent::TicketNoShow {
                ticket_id, counter, ..
            }
            | HubEvent::TicketOnHold {
                ticket_id, counter, ..
            } => self.free_counter(*counter, *ticket_id),
            HubEvent::TicketTransferred { ticket_id, to, .. } => {
                if !counted && let Some(w) = self.waits.get_mut(to) {
                    w.waiting += 1;
                }
                self.free_ticket(*ticket_id);
                Applied::Changed
            }
            HubEvent::TicketCancelled { ticket_id, .. } => {
                let changed = self.free_ticket(*ticket_id);
                if changed {
                    Applied::Changed
                } else {
                    Applied::Quiet
                }
            }
            HubEvent::StaffLoggedIn {
                counter: Some(c), ..
            } if self.zone.has_counter(*c) => {
                self.counters.entry(*c).or_insert_with(|| idle(*c));
                Applied::Changed
            }
            HubEvent::StaffLoggedOut {
                counter: Some(c), ..
            } => match self.counters.get(c) {
                Some(t) if t.state == TileState::Idle => {
                    self.counters.remove(c);
                    Applied::Changed
                }
                _ => Applied::Quiet,
            },
            _ => Applied::Quiet,
        }
    }

    /// Frees every counter tile showing `ticket_id`; true if any did.
    fn free_ticket(&mut self, ticket_id: i64) -> bool {
        let at: Vec<u32> = self
            .counters
            .values()
            .filter(|t| t.ticket_id == Some(ticket_id))
            .map(|t| t.counter)
            .collect();
        for c in &at {
            self.free_counter(*c, ticket_id);
        }
        !at.is_empty()
    }

    fn free_counter(&mut self, counter: u32, ticket_id: i64) -> Applied {
        match self.counters.get_mut(&counter) {
            Some(t) if t.ticket_id == Some(ticket_id) => {
                *t = idle(counter);
                Applied::Changed
            }
            _ => Applied::Quiet,
        }
    }

    fn push_recent(&mut self, call: Call) {
        // A recall moves the ticket back to the top rather than listing it twice.
        self.recent
            .retain(|c| !(c.ticket_id == call.ticket_id && c.counter == call.counter));
        self.recent.push_front(call);
        self.recent.truncate(self.recent_len);
    }

    /// Whether the latest call is highlighted at `now`.
    pub fn highlighted(&self, now: Instant) -> bool {
        self.highlight_until.is_some_and(|u| now < u)
    }

    /// The board as shown at `now`.
    pub fn view(&self, now: Instant) -> BoardView {
        BoardView {
            latest: self.recent.front().cloned(),
            highlight: self.highlighted(now),
            history: self.recent.iter().skip(1).cloned().collect(),
            counters: self.counters.values().cloned().collect(),
            waits: self.waits.values().cloned().collect(),
            centre: self.centre.clone(),
            connection: self.connection,
            day_open: self.day_open,
        }
    }
}

fn idle(counter: u32) -> CounterTile {
    CounterTile {
        counter,
        state: TileState::Idle,
        ticket_id: None,
        number: None,
        service: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use protocol::{BusinessDayView, ServiceQueue, TicketView};

    fn t0() -> Now {
        Now {
            mono: Instant::now(),
            wall: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
        }
    }

    fn env(seq: i64, at: DateTime<Utc>, event: HubEvent) -> EventEnvelope {
        EventEnvelope {
            seq,
            at,
            clock_synced: true,
            boot: 1,
            mono_ms: seq * 10,
            event,
        }
    }

    fn called(
        seq: i64,
        number: &str,
        service: ServiceType,
        counter: u32,
        recall: bool,
    ) -> EventEnvelope {
        env(
            seq,
            t0().wall,
            HubEvent::TicketCalled {
                ticket_id: seq * 100 + i64::from(counter),
                number: number.into(),
                service,
                counter,
                recall,
                staff_id: None,
            },
        )
    }

    fn queue(service: ServiceType, waiting: u32, secs: u32) -> ServiceQueue {
        ServiceQueue {
            service,
            name_zh: service.name_zh().into(),
            name_en: service.name_en().into(),
            prefix: 'A',
            paid: false,
            waiting,
            waiting_priority: 0,
            longest_wait_secs: 0,
            estimated_wait_secs: secs,
            counters_serving: 1,
            mean_response_secs: None,
        }
    }

    fn snapshot(last_seq: i64) -> QueueSnapshot {
        QueueSnapshot {
            now: t0().wall,
            day: Some(BusinessDayView {
                id: 1,
                date: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
                opened_at: t0().wall,
                closed_at: None,
                clock_synced: true,
            }),
            services: vec![
                queue(ServiceType::Consultation, 3, 600),
                queue(ServiceType::Repair, 1, 1500),
            ],
            at_counters: vec![],
            last_seq,
            open_counters: vec![],
        }
    }

    fn board() -> BoardModel {
        let mut b = BoardModel::new(Zone::default());
        b.apply_snapshot(&snapshot(10));
        b
    }

    // GB/T 7.1: the newest call is shown large and highlighted for a few seconds.
    #[test]
    fn a_call_is_highlighted_for_a_few_seconds_then_stays_shown() {
        let now = t0();
        let mut b = board().with_highlight(Duration::from_secs(8));
        let r = b.apply(
            &called(11, "A012", ServiceType::Consultation, 3, false),
            now,
        );
        let Applied::Called { announce: Some(a) } = r else {
            panic!("{r:?}")
        };
        assert_eq!((a.number.as_str(), a.counter), ("A012", 3));
        let v = b.view(now.mono + Duration::from_secs(7));
        assert!(v.highlight);
        assert_eq!(v.latest.as_ref().unwrap().number, "A012");
        assert_eq!(v.counters[0].state, TileState::Called);
        let v = b.view(now.mono + Duration::from_secs(9));
        assert!(!v.highlight, "the highlight ends");
        assert_eq!(v.latest.unwrap().number, "A012", "but the call stays up");
        // A call that reaches the board long after it happened is listed, not announced.
        let late = Now {
            mono: now.mono,
            wall: now.wall + chrono::Duration::minutes(10),
        };
        let r = b.apply(
            &called(12, "A013", ServiceType::Consultation, 2, false),
            late,
        );
        assert_eq!(r, Applied::Called { announce: None });
    }

    #[test]
    fn history_keeps_the_last_n_calls_newest_first_and_a_recall_moves_to_the_top() {
        let now = t0();
        let mut b = board().with_recent(4);
        for i in 0..6 {
            b.apply(
                &called(
                    11 + i,
                    &format!("A{:03}", i + 1),
                    ServiceType::Consultation,
                    1,
                    false,
                ),
                now,
            );
        }
        let v = b.view(now.mono);
        assert_eq!(v.latest.as_ref().unwrap().number, "A006");
        let hist: Vec<&str> = v.history.iter().map(|c| c.number.as_str()).collect();
        assert_eq!(hist, ["A005", "A004", "A003"]);
        // Recalling A004 (same ticket, same counter) moves it up, not twice.
        let recall = env(
            17,
            now.wall,
            HubEvent::TicketCalled {
                ticket_id: v.history[1].ticket_id,
                number: "A004".into(),
                service: ServiceType::Consultation,
                counter: 1,
                recall: true,
                staff_id: None,
            },
        );
        assert!(matches!(b.apply(&recall, now), Applied::Called { announce: Some(a) } if a.recall));
        let v = b.view(now.mono);
        let all: Vec<&str> = std::iter::once(v.latest.as_ref().unwrap())
            .chain(v.history.iter())
            .map(|c| c.number.as_str())
            .collect();
        assert_eq!(all, ["A004", "A006", "A005", "A003"]);
    }

    #[test]
    fn a_zone_board_shows_only_its_counters_and_services() {
        let zone: Zone = "1-2,repair".parse().unwrap();
        assert_eq!(zone.counters, BTreeSet::from([1, 2]));
        assert!("7-3".parse::<Zone>().is_err());
        assert!("massage".parse::<Zone>().is_err());
        let now = t0();
        let mut b = BoardModel::new(zone);
        b.apply_snapshot(&snapshot(10));
        assert_eq!(b.view(now.mono).waits.len(), 1, "only repair's wait");
        assert_eq!(
            b.apply(
                &called(11, "A001", ServiceType::Consultation, 1, false),
                now
            ),
            Applied::Changed,
            "consultation is not this board's to list or announce, but counter 1 is busy"
        );
        assert_eq!(
            b.apply(&called(12, "D001", ServiceType::Repair, 3, false), now),
            Applied::Quiet,
            "counter 3 is not this board's"
        );
        assert!(matches!(
            b.apply(&called(13, "D002", ServiceType::Repair, 2, false), now),
            Applied::Called { .. }
        ));
        let v = b.view(now.mono);
        assert_eq!(v.latest.unwrap().number, "D002");
        assert!(v.history.is_empty());
        let tiles: Vec<(u32, TileState, Option<&str>)> = v
            .counters
            .iter()
            .map(|t| (t.counter, t.state, t.number.as_deref()))
            .collect();
        assert_eq!(
            tiles,
            [
                (1, TileState::Called, Some("A001")),
                (2, TileState::Called, Some("D002"))
            ]
        );
        assert_eq!(
            b.last_seq(),
            Some(13),
            "skipped events still advance the sequence"
        );
    }

    #[test]
    fn each_sequence_number_applies_once_and_in_order() {
        let now = t0();
        let mut b = board();
        let e11 = called(11, "A001", ServiceType::Consultation, 1, false);
        let e12 = called(12, "A002", ServiceType::Consultation, 2, false);
        let e13 = called(13, "A003", ServiceType::Consultation, 3, false);
        // Out of order: 13 before 12 is a gap, refused without effect.
        assert!(matches!(b.apply(&e11, now), Applied::Called { .. }));
        assert_eq!(
            b.apply(&e13, now),
            Applied::Gap {
                expected: 12,
                got: 13
            }
        );
        assert_eq!(b.view(now.mono).latest.unwrap().number, "A001");
        assert!(matches!(b.apply(&e12, now), Applied::Called { .. }));
        assert!(matches!(b.apply(&e13, now), Applied::Called { .. }));
        // Duplicates (a resume that overlaps) are ignored, not announced again.
        for e in [&e11, &e12, &e13] {
            assert_eq!(b.apply(e, now), Applied::Duplicate);
        }
        let v = b.view(now.mono);
        let numbers: Vec<&str> = std::iter::once(v.latest.as_ref().unwrap())
            .chain(&v.history)
            .map(|c| c.number.as_str())
            .collect();
        assert_eq!(numbers, ["A003", "A002", "A001"]);
        // An unreadable event from a newer hub is stepped over, in order too.
        assert_eq!(
            b.skip(15),
            Applied::Gap {
                expected: 14,
                got: 15
            }
        );
        assert_eq!(b.skip(14), Applied::Quiet);
        assert_eq!(b.skip(14), Applied::Duplicate);
        assert_eq!(b.last_seq(), Some(14));
        // Anything at or below the snapshot's sequence is already in the snapshot.
        assert_eq!(
            b.apply(&called(10, "X", ServiceType::Consultation, 1, false), now),
            Applied::Duplicate
        );
    }

    #[test]
    fn a_model_resumed_after_an_outage_ends_as_if_it_never_left() {
        let now = t0();
        let events: Vec<EventEnvelope> = (0..8)
            .map(|i| {
                called(
                    11 + i,
                    &format!("A{:03}", i + 1),
                    ServiceType::Consultation,
                    1 + (i as u32 % 3),
                    false,
                )
            })
            .collect();
        let mut stayed = board();
        for e in &events {
            stayed.apply(e, now);
        }
        // Away after 3 events; resumes from last_seq; the stream replays from there,
        // overlapping by one (a resend) — nothing repeats.
        let mut left = board();
        for e in &events[..3] {
            left.apply(e, now);
        }
        let resume_from = left.last_seq().unwrap();
        assert_eq!(resume_from, 13);
        let mut announced = 0;
        for e in events.iter().filter(|e| e.seq >= resume_from) {
            if let Applied::Called { announce: Some(_) } = left.apply(e, now) {
                announced += 1;
            }
        }
        assert_eq!(announced, 5, "exactly the five missed calls");
        assert_eq!(left.view(now.mono), stayed.view(now.mono));
    }

    #[test]
    fn counters_follow_service_and_waits_follow_the_queue() {
        let now = t0();
        let mut b = board();
        let login = env(
            11,
            now.wall,
            HubEvent::StaffLoggedIn {
                staff_id: "s".into(),
                counter: Some(4),
            },
        );
        b.apply(&login, now);
        assert_eq!(b.view(now.mono).counters[0].state, TileState::Idle);
        b.apply(
            &env(
                12,
                now.wall,
                HubEvent::TicketIssued {
                    ticket_id: 7,
                    number: "A004".into(),
                    service: ServiceType::Consultation,
                    class: domain::PriorityClass::Normal,
                    channel: domain::Channel::OnSite,
                    token: String::new(),
                },
            ),
            now,
        );
        assert_eq!(b.view(now.mono).waits[0].waiting, 4);
        b.apply(
            &env(
                13,
                now.wall,
                HubEvent::TicketCalled {
                    ticket_id: 7,
                    number: "A004".into(),
                    service: ServiceType::Consultation,
                    counter: 4,
                    recall: false,
                    staff_id: None,
                },
            ),
            now,
        );
        assert_eq!(b.view(now.mono).waits[0].waiting, 3);
        b.apply(
            &env(
                14,
                now.wall,
                HubEvent::TicketStarted {
                    ticket_id: 7,
                    number: "A004".into(),
                    counter: 4,
                },
            ),
            now,
        );
        assert_eq!(b.view(now.mono).counters[0].state, TileState::Serving);
        b.apply(
            &env(
                15,
                now.wall,
                HubEvent::TicketFinished {
                    ticket_id: 7,
                    number: "A004".into(),
                    counter: 4,
                    service_secs: 60,
                    staff_id: None,
                },
            ),
            now,
        );
        let tile = &b.view(now.mono).counters[0];
        assert_eq!(
            (tile.state, tile.number.as_deref()),
            (TileState::Idle, None)
        );
        b.apply(
            &env(
                16,
                now.wall,
                HubEvent::StaffLoggedOut {
                    staff_id: "s".into(),
                    counter: Some(4),
                },
            ),
            now,
        );
        assert!(
            b.view(now.mono).counters.is_empty(),
            "a closed counter has no tile"
        );
        // A snapshot taken at start-up shows who is at a counter now.
        let mut snap = snapshot(20);
        snap.at_counters.push(TicketView {
            id: 9,
            number: "D003".into(),
            service: ServiceType::Repair,
            class: domain::PriorityClass::Normal,
            channel: domain::Channel::OnSite,
            state: TicketState::Serving,
            business_date: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            counter: Some(2),
            staff_id: None,
            issued_at: now.wall,
            called_at: Some(now.wall),
            started_at: Some(now.wall),
            finished_at: None,
            recalls: 0,
            printed: true,
            status_token: String::new(),
        });
        let mut fresh = BoardModel::new(Zone::default());
        fresh.apply_snapshot(&snap);
        let v = fresh.view(now.mono);
        assert_eq!(v.counters[0].number.as_deref(), Some("D003"));
        assert!(!v.highlight, "a snapshot is not a new call");
        assert_eq!(fresh.last_seq(), Some(20));
    }

    fn issued(seq: i64, service: ServiceType) -> EventEnvelope {
        env(
            seq,
            t0().wall,
            HubEvent::TicketIssued {
                ticket_id: seq,
                number: format!("A{seq:03}"),
                service,
                class: domain::PriorityClass::Normal,
                channel: domain::Channel::OnSite,
                token: String::new(),
            },
        )
    }

    // GB/T 7.1: freshness is judged on the hub's clock, whatever the board's clock says.
    #[test]
    fn call_freshness_follows_the_hubs_clock_not_the_boards() {
        let hub_now = t0().wall;
        // The board's clock runs an hour ahead: a call made just now is still fresh.
        let ahead = Now {
            mono: Instant::now(),
            wall: hub_now + chrono::Duration::hours(1),
        };
        let mut b = board();
        b.sync_clock(hub_now, ahead.wall);
        let call = env(
            11,
            hub_now + chrono::Duration::seconds(5),
            HubEvent::TicketCalled {
                ticket_id: 1,
                number: "A001".into(),
                service: ServiceType::Consultation,
                counter: 1,
                recall: false,
                staff_id: None,
            },
        );
        let r = b.apply(&call, ahead.later(Duration::from_secs(6)));
        assert!(
            matches!(r, Applied::Called { announce: Some(_) }),
            "a fresh call on a board whose clock is ahead: {r:?}"
        );
        assert!(b.highlighted(ahead.mono + Duration::from_secs(7)));

        // The board's clock runs an hour behind: a call ten minutes old (a replay after an
        // outage) is stale, not a "future" call to announce.
        let behind = Now {
            mono: Instant::now(),
            wall: hub_now - chrono::Duration::hours(1),
        };
        let mut b = board();
        b.sync_clock(hub_now, behind.wall);
        let old = env(
            11,
            hub_now - chrono::Duration::minutes(10),
            HubEvent::TicketCalled {
                ticket_id: 1,
                number: "A001".into(),
                service: ServiceType::Consultation,
                counter: 1,
                recall: false,
                staff_id: None,
            },
        );
        assert_eq!(b.apply(&old, behind), Applied::Called { announce: None });
        assert!(!b.highlighted(behind.mono));
    }

    #[test]
    fn open_counters_have_tiles_after_a_restart_until_their_staff_log_out() {
        let now = t0();
        let mut snap = snapshot(10);
        snap.open_counters = vec![1, 3, 5];
        let mut b = BoardModel::new("1-4".parse().unwrap());
        b.apply_snapshot(&snap);
        let tiles: Vec<(u32, TileState)> = b
            .view(now.mono)
            .counters
            .iter()
            .map(|t| (t.counter, t.state))
            .collect();
        assert_eq!(
            tiles,
            [(1, TileState::Idle), (3, TileState::Idle)],
            "idle open counters of the zone"
        );
        b.apply(
            &env(
                11,
                now.wall,
                HubEvent::StaffLoggedOut {
                    staff_id: "s".into(),
                    counter: Some(3),
                },
            ),
            now,
        );
        let counters: Vec<u32> = b
            .view(now.mono)
            .counters
            .iter()
            .map(|t| t.counter)
            .collect();
        assert_eq!(counters, [1], "counter 3 closed");
    }

    // GB/T 4.1.1: a waits refresh newer than the events applied is not counted twice.
    #[test]
    fn waiting_counts_are_not_double_counted_after_a_newer_refresh() {
        let now = t0();
        let mut b = board();
        assert_eq!(b.view(now.mono).waits[0].waiting, 3);
        // The refresh already includes seq 11 (one more consultation ticket) and 12 (a call).
        let mut refresh = snapshot(12);
        refresh.services[0].waiting = 3;
        b.apply_waits(&refresh);
        b.apply(&issued(11, ServiceType::Consultation), now);
        b.apply(
            &called(12, "A001", ServiceType::Consultation, 1, false),
            now,
        );
        assert_eq!(
            b.view(now.mono).waits[0].waiting,
            3,
            "11 and 12 were counted"
        );
        // Events after the refresh count again.
        b.apply(&issued(13, ServiceType::Consultation), now);
        assert_eq!(b.view(now.mono).waits[0].waiting, 4);
        // A refresh older than the events applied does not wind the counts back.
        let mut stale = snapshot(12);
        stale.services[0].waiting = 3;
        stale.services[0].estimated_wait_secs = 900;
        b.apply_waits(&stale);
        let w = &b.view(now.mono).waits[0];
        assert_eq!((w.waiting, w.estimated_wait_secs), (4, 900));
    }

    #[test]
    fn a_service_zone_board_shows_busy_counters_busy_but_lists_only_its_calls() {
        let now = t0();
        let mut snap = snapshot(10);
        snap.open_counters = vec![1];
        let mut b = BoardModel::new("repair".parse().unwrap());
        b.apply_snapshot(&snap);
        assert_eq!(
            b.apply(
                &called(11, "A001", ServiceType::Consultation, 1, false),
                now
            ),
            Applied::Changed
        );
        let v = b.view(now.mono);
        assert_eq!(v.counters[0].state, TileState::Called, "not \"Available\"");
        assert_eq!(v.counters[0].number.as_deref(), Some("A001"));
        assert!(
            v.latest.is_none(),
            "a consultation call is not this board's to list"
        );
        assert!(!v.highlight);
    }
}
