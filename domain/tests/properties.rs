//! Property tests of the domain rules: the ticket state machine, queue ordering and
//! routing, the GB/T 8.1 request stages, the working-day calendar, quotes and wait
//! estimates.
//!
//! Every property is written so that a plausible wrong implementation fails it (a LIFO
//! queue, a ratio off by one, a refund date counting the request day, a digest that
//! concatenates fields, an estimate that rounds down...).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Days, NaiveDate, Weekday};
use proptest::prelude::*;

use domain::estimate::estimate_wait;
use domain::money::QuoteError;
use domain::queue::{LanePolicy, pick_next, service_candidate};
use domain::request::{StageError, check_advance};
use domain::ticket::next_state;
use domain::{
    Fen, LaneState, PriorityClass, Quote, QuoteLine, RequestStage, ServiceType, TicketAction,
    TicketState, WorkCalendar,
};

// ---------------------------------------------------------------------------------------
// 1. Ticket state machine
// ---------------------------------------------------------------------------------------

/// The legal ticket moves, written out by hand: (from, action, to).
/// Anything not listed here must be refused.
const LEGAL_TICKET_MOVES: &[(TicketState, TicketAction, TicketState)] = {
    use TicketAction as A;
    use TicketState as S;
    &[
        (S::Waiting, A::Call, S::Called),
        (S::Waiting, A::Cancel, S::Cancelled),
        (S::Called, A::Recall, S::Called),
        (S::Called, A::Start, S::Serving),
        (S::Called, A::NoShow, S::NoShow),
        (S::Called, A::Hold, S::OnHold),
        (S::Called, A::Transfer, S::Waiting),
        (S::Called, A::Cancel, S::Cancelled),
        (S::Serving, A::Finish, S::Finished),
        (S::Serving, A::Hold, S::OnHold),
        (S::Serving, A::Transfer, S::Waiting),
        (S::OnHold, A::Resume, S::Called),
        (S::OnHold, A::Transfer, S::Waiting),
        (S::OnHold, A::Cancel, S::Cancelled),
    ]
};

fn expected_move(from: TicketState, action: TicketAction) -> Option<TicketState> {
    LEGAL_TICKET_MOVES
        .iter()
        .find(|(f, a, _)| *f == from && *a == action)
        .map(|(_, _, to)| *to)
}

fn any_ticket_state() -> impl Strategy<Value = TicketState> {
    prop::sample::select(TicketState::ALL.to_vec())
}

fn any_ticket_action() -> impl Strategy<Value = TicketAction> {
    prop::sample::select(TicketAction::ALL.to_vec())
}

#[test]
fn staff_can_do_exactly_the_moves_in_the_table() {
    // All 7 × 9 pairs: the implementation's legal set equals the written table.
    let mut legal = BTreeSet::new();
    for from in TicketState::ALL {
        for action in TicketAction::ALL {
            let got = next_state(from, action).ok();
            assert_eq!(
                got,
                expected_move(from, action),
                "{from} + {}",
                action.code()
            );
            if got.is_some() {
                legal.insert((from.code(), action.code()));
            }
        }
    }
    assert_eq!(legal.len(), LEGAL_TICKET_MOVES.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A finished, no-show or cancelled ticket stays so, whatever buttons are pressed;
    /// a ticket only ever gets "finished" by finishing it while it is being served.
    #[test]
    fn closed_tickets_stay_closed_and_only_served_tickets_finish(
        start in any_ticket_state(),
        actions in prop::collection::vec(any_ticket_action(), 0..60),
    ) {
        let mut state = start;
        let mut was_terminal = state.is_terminal();
        let mut served_since_start = state == TicketState::Serving;
        for action in actions {
            match next_state(state, action) {
                Ok(to) => {
                    prop_assert!(!state.is_terminal(), "left terminal {state} by {}", action.code());
                    if to == TicketState::Finished {
                        prop_assert_eq!(state, TicketState::Serving);
                        prop_assert_eq!(action, TicketAction::Finish);
                        prop_assert!(served_since_start);
                    }
                    state = to;
                }
                Err(e) => {
                    prop_assert_eq!(e.from, state);
                    prop_assert_eq!(e.action, action);
                }
            }
            served_since_start |= state == TicketState::Serving;
            if was_terminal {
                prop_assert!(state.is_terminal());
            }
            was_terminal |= state.is_terminal();
        }
        // A walk from a fresh ticket that finishes went through the counter.
        if start == TicketState::Waiting && state == TicketState::Finished {
            prop_assert!(served_since_start);
        }
    }

    /// A refused button press is a typed error that says which button and which state;
    /// it never panics, and legal presses land where the table says.
    #[test]
    fn refused_ticket_moves_say_what_and_from_where(
        from in any_ticket_state(),
        action in any_ticket_action(),
    ) {
        match (next_state(from, action), expected_move(from, action)) {
            (Ok(to), Some(want)) => prop_assert_eq!(to, want),
            (Err(e), None) => {
                prop_assert_eq!(e.from, from);
                prop_assert_eq!(e.action, action);
                let msg = e.to_string();
                prop_assert!(msg.contains(action.code()), "{msg:?} lacks {}", action.code());
                prop_assert!(msg.contains(from.code()), "{msg:?} lacks {}", from.code());
            }
            (got, want) => {
                return Err(TestCaseError::fail(format!(
                    "{from} + {}: got {got:?}, table says {want:?}",
                    action.code()
                )));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2. Queue ordering and routing
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct QueueCase {
    waiting: Vec<domain::Waiting>,
    lanes: Vec<LanePolicy>,
}

#[derive(Debug, Clone)]
struct Call {
    ticket: domain::Waiting,
    /// What was waiting just before this call.
    before: Vec<domain::Waiting>,
    /// The counter's lanes (with their stored states) just before this call.
    lanes_before: Vec<LanePolicy>,
}

fn any_class() -> impl Strategy<Value = PriorityClass> {
    prop::sample::select(PriorityClass::ALL.to_vec())
}

fn any_lane_state() -> impl Strategy<Value = LaneState> {
    (0u32..6, any::<bool>()).prop_map(|(normal_since_priority, priority_served)| LaneState {
        normal_since_priority,
        priority_served,
    })
}

/// Waiting tickets spread over the first `services` service types, with colliding and
/// negative queue keys (transfers to the front hand out keys below the smallest), unique
/// ids in random order, and a counter allowed some non-empty subset of those services.
fn queue_case(services: usize) -> impl Strategy<Value = QueueCase> {
    let kinds = ServiceType::ALL[..services].to_vec();
    let tickets = prop::collection::vec(
        (prop::sample::select(kinds.clone()), any_class(), -20i64..40),
        0..40,
    );
    let lanes = prop::collection::vec(
        (any::<bool>(), 0u32..5, any_lane_state()),
        services..=services,
    );
    (tickets, lanes)
        .prop_flat_map(|(tickets, lanes)| {
            let ids: Vec<i64> = (1..=tickets.len() as i64).map(|i| i * 10).collect();
            (Just(tickets), Just(lanes), Just(ids).prop_shuffle())
        })
        .prop_map(move |(tickets, lanes, ids)| {
            let waiting = tickets
                .into_iter()
                .zip(ids)
                .map(|((service, class, queue_key), id)| domain::Waiting {
                    id,
                    service,
                    class,
                    queue_key,
                })
                .collect();
            let mut lanes: Vec<LanePolicy> = lanes
                .into_iter()
                .zip(&kinds)
                .filter(|((on, _, _), _)| *on)
                .map(|((_, priority_every, state), service)| LanePolicy {
                    service: *service,
                    priority_every,
                    state,
                })
                .collect();
            if lanes.is_empty() {
                lanes.push(LanePolicy {
                    service: kinds[0],
                    priority_every: 2,
                    state: LaneState::default(),
                });
            }
            QueueCase { waiting, lanes }
        })
}

/// Presses "call next" until nothing is left, as the hub does: remove the pick and store
/// the picked service's new lane state (like the module's own `drain` test).
fn drain(case: &QueueCase) -> Result<Vec<Call>, TestCaseError> {
    let mut waiting = case.waiting.clone();
    let mut lanes = case.lanes.clone();
    let mut calls = vec![];
    while let Some(p) = pick_next(&waiting, &lanes) {
        prop_assert!(
            waiting.contains(&p.ticket),
            "picked {:?} which is not waiting",
            p.ticket
        );
        prop_assert!(calls.len() < case.waiting.len(), "more calls than tickets");
        calls.push(Call {
            ticket: p.ticket,
            before: waiting.clone(),
            lanes_before: lanes.clone(),
        });
        waiting.retain(|t| t.id != p.ticket.id);
        for l in &mut lanes {
            if l.service == p.ticket.service {
                l.state = p.new_state;
            }
        }
    }
    Ok(calls)
}

/// Priority lane: Appointment | Priority; normal lane: Normal.
fn lane_of(w: &domain::Waiting) -> bool {
    w.class.in_priority_lane()
}

fn check_queue_properties(case: &QueueCase) -> Result<(), TestCaseError> {
    let calls = drain(case)?;
    let allowed: BTreeSet<ServiceType> = case.lanes.iter().map(|l| l.service).collect();

    // (a) every ticket of the counter's services is called exactly once, and
    // (b) GB/T 5.2.3: only services the counter's staff member is qualified for are called.
    let mut called: Vec<i64> = calls.iter().map(|c| c.ticket.id).collect();
    called.sort_unstable();
    let mut want: Vec<i64> = case
        .waiting
        .iter()
        .filter(|w| allowed.contains(&w.service))
        .map(|w| w.id)
        .collect();
    want.sort_unstable();
    prop_assert_eq!(called, want);
    for c in &calls {
        prop_assert!(allowed.contains(&c.ticket.service), "called {:?}", c.ticket);
    }

    // (c) within one lane of one service: first come, first served by queue key.
    let mut last: BTreeMap<(ServiceType, bool), (i64, i64)> = BTreeMap::new();
    for c in &calls {
        let key = (c.ticket.queue_key, c.ticket.id);
        if let Some(prev) = last.insert((c.ticket.service, lane_of(&c.ticket)), key) {
            prop_assert!(
                prev < key,
                "{:?} lane of {} called {:?} after {:?}",
                lane_of(&c.ticket),
                c.ticket.service,
                key,
                prev
            );
        }
    }

    // (d) the ratio "after N normal tickets serve one priority ticket", per service.
    for lane in &case.lanes {
        let every = lane.priority_every;
        // Normal tickets that may still be called before a priority one is owed.
        let mut allowance = if lane.state.priority_served {
            every.saturating_sub(lane.state.normal_since_priority)
        } else {
            0 // none served yet today: the lane is owed one at once
        };
        for c in calls.iter().filter(|c| c.ticket.service == lane.service) {
            let prio_waiting = c
                .before
                .iter()
                .any(|w| w.service == lane.service && lane_of(w));
            let normal_waiting = c
                .before
                .iter()
                .any(|w| w.service == lane.service && !lane_of(w));
            if lane_of(&c.ticket) {
                // Not stricter than configured: normal customers get their N turns.
                prop_assert!(
                    allowance == 0 || !normal_waiting,
                    "{}: priority {:?} called with {allowance} normal turns left (every {every})",
                    lane.service,
                    c.ticket
                );
                allowance = every;
            } else {
                if prio_waiting {
                    prop_assert!(
                        allowance > 0,
                        "{}: more than {every} normal calls while priority waited, at {:?}",
                        lane.service,
                        c.ticket
                    );
                    prop_assert!(every != 0, "ratio 0 called a normal ticket before priority");
                }
                allowance = allowance.saturating_sub(1);
            }
        }
    }

    // (e) routing: among what each service offers (its lane head, as checked by (c) and
    // (d)), the counter calls the customer who has waited longest.
    for c in &calls {
        let oldest = c
            .lanes_before
            .iter()
            .filter_map(|l| service_candidate(&c.before, l))
            .map(|w| (w.queue_key, w.id))
            .min();
        prop_assert_eq!(
            Some((c.ticket.queue_key, c.ticket.id)),
            oldest,
            "called {:?} while an older candidate waited",
            c.ticket
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// One service: everyone is called once, FIFO within each lane, and the priority
    /// ratio holds exactly while both lanes have people (GB/T 8.1 预约 tickets share the
    /// priority lane).
    #[test]
    fn single_service_queue_is_fair(case in queue_case(1)) {
        check_queue_properties(&case)?;
    }

    /// A counter qualified for several services (GB/T 5.2.3): only those are called,
    /// each exactly once, FIFO per lane, and each service keeps its own ratio.
    #[test]
    fn counter_calls_only_its_services_each_ticket_once_in_order(case in queue_case(5)) {
        check_queue_properties(&case)?;
    }
}

// ---------------------------------------------------------------------------------------
// 3. Request stages (GB/T 8.1)
// ---------------------------------------------------------------------------------------

fn any_stage() -> impl Strategy<Value = RequestStage> {
    prop::sample::select(RequestStage::ALL.to_vec())
}

#[test]
fn a_request_walks_the_seven_stages_in_order() {
    // GB/T 8.1: 预约 → 受理 → 处理 → 答复 → 归档 → 回访 → 评价, nothing else.
    use RequestStage::*;
    let mut seen = vec![Appointment];
    let mut s = Appointment;
    while let Some(n) = s.next() {
        assert!(seen.len() < 8, "next() does not terminate: {seen:?}");
        assert!(n > s, "{} goes back to {}", s.code(), n.code());
        s = n;
        seen.push(s);
    }
    assert_eq!(
        seen,
        vec![
            Appointment,
            Acceptance,
            Processing,
            Reply,
            Archiving,
            FollowUp,
            Evaluation
        ]
    );
    assert_eq!(seen, RequestStage::ALL.to_vec());
    let names: Vec<&str> = seen.iter().map(|s| s.name_zh()).collect();
    assert_eq!(
        names,
        ["预约", "受理", "处理", "答复", "归档", "回访", "评价"]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// GB/T 8.1: a request moves forward exactly one stage at a time; GB/T 4.2.3: paid
    /// work does not start processing before the itemised quote is acknowledged.
    #[test]
    fn requests_only_move_to_the_next_stage_and_paid_work_waits_for_the_quote(
        from in any_stage(),
        to in any_stage(),
        paid_and_unacknowledged in any::<bool>(),
    ) {
        let got = check_advance(from, to, paid_and_unacknowledged);
        if from.next() != Some(to) {
            prop_assert_eq!(got, Err(StageError::NotNext { from, to }));
        } else if (to == RequestStage::Processing || from == RequestStage::Processing) && paid_and_unacknowledged {
            // GB/T 4.2.3, 8.4.1
            prop_assert_eq!(got, Err(StageError::QuoteNotAcknowledged));
        } else {
            prop_assert_eq!(got, Ok(()));
        }
        // Independently of next(): legal iff the index goes up by exactly one.
        let idx = |s: RequestStage| RequestStage::ALL.iter().position(|x| *x == s).unwrap();
        let one_step = idx(to) == idx(from) + 1;
        prop_assert_eq!(check_advance(from, to, false).is_ok(), one_step);
    }
}

// ---------------------------------------------------------------------------------------
// 4. Working-day calendar (GB/T 8.4.3)
// ---------------------------------------------------------------------------------------

fn date_2000_to_2100() -> impl Strategy<Value = NaiveDate> {
    let start = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
    let end = NaiveDate::from_ymd_opt(2100, 12, 31).unwrap();
    let span = (end - start).num_days() as u64;
    (0..=span).prop_map(move |n| start + Days::new(n))
}

/// A date and a calendar whose holidays and make-up days cluster around it, so they
/// actually fall inside the refund window (some days are in both sets).
fn date_and_calendar() -> impl Strategy<Value = (NaiveDate, WorkCalendar)> {
    (
        date_2000_to_2100(),
        prop::collection::vec(-3i64..45, 0..25),
        prop::collection::vec(-3i64..45, 0..8),
    )
        .prop_map(|(d, holidays, makeup)| {
            let at = |off: i64| {
                if off < 0 {
                    d - Days::new(off.unsigned_abs())
                } else {
                    d + Days::new(off as u64)
                }
            };
            let cal = WorkCalendar {
                holidays: holidays.into_iter().map(at).collect(),
                makeup_workdays: makeup.into_iter().map(at).collect(),
            };
            (d, cal)
        })
}

fn working_days_in(cal: &WorkCalendar, after: NaiveDate, until: NaiveDate) -> u32 {
    after
        .iter_days()
        .skip(1)
        .take_while(|x| *x <= until)
        .filter(|x| cal.is_working_day(*x))
        .count() as u32
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// GB/T 8.4.3: refund within 5 working days. The due date is after the request day,
    /// is itself a working day, and exactly 5 working days lie in (requested, due].
    #[test]
    fn refund_is_due_on_the_fifth_working_day_after_the_request((d, cal) in date_and_calendar()) {
        let due = cal.refund_due_date(d);
        prop_assert!(due > d, "due {due} not after {d}");
        prop_assert!(cal.is_working_day(due), "due {due} is a day off");
        prop_assert_eq!(working_days_in(&cal, d, due), domain::calendar::REFUND_WORKING_DAYS);
        prop_assert_eq!(domain::calendar::REFUND_WORKING_DAYS, 5);
    }

    /// Working days are weekdays that are not holidays, plus make-up days (调休), which
    /// win over both weekends and holidays.
    #[test]
    fn make_up_days_are_worked_and_holidays_are_not((d, cal) in date_and_calendar(), off in 0u64..45) {
        let day = d + Days::new(off);
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        let want = cal.makeup_workdays.contains(&day) || (!weekend && !cal.holidays.contains(&day));
        prop_assert_eq!(cal.is_working_day(day), want);
    }

    /// Counting a + b working days is counting a, then b more.
    #[test]
    fn working_days_add_up((d, cal) in date_and_calendar(), a in 0u32..30, b in 0u32..30) {
        let ab = cal.add_working_days(d, a + b);
        let a_then_b = cal.add_working_days(cal.add_working_days(d, a), b);
        prop_assert_eq!(ab, a_then_b);
        prop_assert_eq!(working_days_in(&cal, d, ab), a + b);
        if a + b == 0 {
            prop_assert_eq!(ab, d);
        }
    }
}

// ---------------------------------------------------------------------------------------
// 5. Money: quote totals and digests (GB/T 4.2.3, 8.4.1)
// ---------------------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z_]{1,6}",
        "[人工费配件上门检测]{1,4}",
        ".{0,5}",
    ]
}

fn valid_quantity() -> impl Strategy<Value = u32> {
    prop_oneof![1u32..10, 1u32..=u32::MAX]
}

fn valid_price() -> impl Strategy<Value = i64> {
    prop_oneof![0i64..100_000, 0i64..=i64::MAX, Just(i64::MAX), Just(0)]
}

fn quote_line(
    quantity: impl Strategy<Value = u32>,
    price: impl Strategy<Value = i64>,
) -> impl Strategy<Value = QuoteLine> {
    (text(), text(), text(), quantity, price).prop_map(
        |(code, name_zh, name_en, quantity, price)| QuoteLine {
            code,
            name_zh,
            name_en,
            quantity,
            unit_price: Fen(price),
        },
    )
}

fn valid_quote() -> impl Strategy<Value = Quote> {
    prop::collection::vec(quote_line(valid_quantity(), valid_price()), 1..6)
        .prop_map(|lines| Quote { lines })
}

fn exact_total(q: &Quote) -> i128 {
    q.lines
        .iter()
        .map(|l| i128::from(l.quantity) * i128::from(l.unit_price.0))
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// GB/T 4.2.3: the customer is shown the exact sum of quantity × unit price, in fen;
    /// a sum too large for the ledger is refused as `Overflow`, never wrapped.
    #[test]
    fn quote_total_is_the_exact_sum_or_overflow(q in valid_quote()) {
        let exact = exact_total(&q);
        match i64::try_from(exact) {
            Ok(sum) => prop_assert_eq!(q.total(), Ok(Fen(sum))),
            Err(_) => prop_assert_eq!(q.total(), Err(QuoteError::Overflow)),
        }
    }

    /// Any list of lines, however wrong (zero quantities, negative prices, huge values),
    /// gets an answer, never a panic; an answer of Ok is the exact sum.
    #[test]
    fn quote_total_never_panics(
        lines in prop::collection::vec(quote_line(any::<u32>(), any::<i64>()), 0..6),
    ) {
        let q = Quote { lines };
        let valid = !q.lines.is_empty()
            && q.lines.iter().all(|l| l.quantity > 0 && l.unit_price.0 >= 0);
        match q.total() {
            Ok(t) => {
                prop_assert!(valid);
                prop_assert_eq!(i128::from(t.0), exact_total(&q));
            }
            Err(e) => {
                if q.lines.is_empty() {
                    prop_assert_eq!(e, QuoteError::Empty);
                } else if valid {
                    prop_assert_eq!(e, QuoteError::Overflow);
                    prop_assert!(i64::try_from(exact_total(&q)).is_err());
                }
            }
        }
    }

    /// GB/T 4.2.3, 8.4.1: an acknowledgement covers exactly the list shown. Equal quotes
    /// have equal digests; changing any one field of any one line changes the digest.
    #[test]
    fn acknowledged_digest_breaks_when_any_line_field_changes(
        q in valid_quote(),
        line_pick in any::<prop::sample::Index>(),
        field in 0usize..5,
        new_text in text(),
        new_quantity in any::<u32>(),
        new_price in any::<i64>(),
        flip_bit in prop::option::of(0u32..64),
    ) {
        prop_assert_eq!(q.digest(), q.clone().digest());
        let rebuilt = Quote {
            lines: q
                .lines
                .iter()
                .map(|l| QuoteLine {
                    code: l.code.as_str().to_owned(),
                    name_zh: l.name_zh.as_str().to_owned(),
                    name_en: l.name_en.as_str().to_owned(),
                    quantity: l.quantity,
                    unit_price: Fen(l.unit_price.0),
                })
                .collect(),
        };
        prop_assert_eq!(q.digest(), rebuilt.digest());

        let mut changed = q.clone();
        let line = &mut changed.lines[line_pick.index(q.lines.len())];
        match field {
            0 => line.code = new_text,
            1 => line.name_zh = new_text,
            2 => line.name_en = new_text,
            // Either a fresh value or one flipped bit, so a digest that hashed only part
            // of a number would be caught.
            3 => {
                line.quantity = match flip_bit {
                    Some(bit) => line.quantity ^ (1 << (bit % 32)),
                    None => new_quantity,
                }
            }
            _ => {
                line.unit_price = Fen(match flip_bit {
                    Some(bit) => line.unit_price.0 ^ (1 << bit),
                    None => new_price,
                })
            }
        }
        prop_assume!(changed != q);
        prop_assert_ne!(q.digest(), changed.digest());
    }

    /// The digest knows where one field ends and the next begins: moving text across a
    /// field boundary (`ab|c` → `a|bc`) is a different list.
    #[test]
    fn digest_is_not_fooled_by_shifting_text_between_fields(
        q in valid_quote(),
        line_pick in any::<prop::sample::Index>(),
        pair in 0usize..2,
    ) {
        let mut changed = q.clone();
        let line = &mut changed.lines[line_pick.index(q.lines.len())];
        let (left, right) = match pair {
            0 => (&mut line.code, &mut line.name_zh),
            _ => (&mut line.name_zh, &mut line.name_en),
        };
        prop_assume!(!left.is_empty());
        let c = left.pop().unwrap();
        right.insert(0, c);
        prop_assert_ne!(q.digest(), changed.digest());
    }
}

// ---------------------------------------------------------------------------------------
// 6. Wait estimates (GB/T 5.2.1, 7.1)
// ---------------------------------------------------------------------------------------

fn recent_times() -> impl Strategy<Value = Vec<u32>> {
    prop::collection::vec(prop_oneof![1u32..3_600, any::<u32>()], 0..30)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// More people ahead never shortens the wait; more counters open never lengthens it;
    /// nobody ahead means no wait.
    #[test]
    fn wait_grows_with_the_line_and_shrinks_with_open_counters(
        people in 0u32..500,
        more_people in 0u32..500,
        counters in 0u32..12,
        more_counters in 0u32..12,
        recent in recent_times(),
        default_secs in prop_oneof![0u32..1_800, any::<u32>()],
    ) {
        let w = |p: u32, c: u32| estimate_wait(p, c, &recent, default_secs).wait_secs;
        let base = w(people, counters);
        prop_assert!(w(people + more_people, counters) >= base);
        prop_assert!(w(people, counters + more_counters) <= base);
        prop_assert_eq!(w(0, counters), 0);
        // Someone ahead and a non-zero service time: the wait is at least one service.
        let e = estimate_wait(people, counters, &recent, default_secs);
        if people > 0 {
            prop_assert!(e.wait_secs >= e.service_secs);
        }
    }
}
