//! A simulated Telium terminal: the *terminal* side of protocol E, served on any
//! [`Link`] (a pty end for the `terminal-sim` binary and tests, an in-memory link for the
//! in-process [`in_process`] terminal). Scripted per transaction with a
//! [`SimBehaviour`]: approve, decline, never answer, answer late, send garbage, a bad LRC
//! or a truncated frame, or vanish mid-transaction; it can also NAK requests and ignore
//! ENQ.
//!
//! Like a real terminal it charges the card before it tries to deliver the answer, so
//! [`SimHandle::charges`] shows what a customer would see on their statement. Must never
//! block past its timeouts nor panic on what the cash register sends.

use super::frame::{ACK, ENQ, EOT, FrameDecoder, LineCode, NAK, Received, encode_frame};
use super::link::{Link, LinkError, MemoryLink, receive};
use super::message::{Answer, AnswerDetail, Message, Request, TransactionResult, TransactionType};
use super::{Journal, TeliumConfig, TeliumTerminal, TerminalError};
use domain::Fen;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the simulated terminal does with one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimBehaviour {
    /// The card is accepted.
    Approve,
    /// The card is refused (result `7`).
    Decline,
    /// Line noise before the answer, then an approval.
    NoiseThenApprove,
    /// Approves, but the first `n` answer attempts are garbage bytes instead of a frame.
    GarbageThenApprove(u32),
    /// Approves, but the first `n` answer frames have a wrong LRC.
    BadLrcThenApprove(u32),
    /// Approves, but the first `n` answer frames are cut in half.
    TruncatedThenApprove(u32),
    /// Takes the request, charges the card, never answers.
    NoAnswer,
    /// Takes the request, charges the card, answers (approved) after this long.
    AnswerAfter(Duration),
    /// Takes the request, charges the card, then disappears (closes its end of the link).
    Drop,
}

impl SimBehaviour {
    fn charges(self) -> bool {
        !matches!(self, SimBehaviour::Decline)
    }

    /// Parses the words the `terminal-sim` binary accepts: `approve`, `decline`, `noise`,
    /// `garbage [N]`, `bad-lrc [N]`, `truncate [N]`, `timeout`, `late MS`, `drop`.
    pub fn parse(words: &[&str]) -> Option<SimBehaviour> {
        let n = |i: usize, default: u32| -> Option<u32> {
            match words.get(i) {
                None => Some(default),
                Some(w) => w.parse().ok(),
            }
        };
        Some(match *words.first()? {
            "approve" => SimBehaviour::Approve,
            "decline" => SimBehaviour::Decline,
            "noise" => SimBehaviour::NoiseThenApprove,
            "garbage" => SimBehaviour::GarbageThenApprove(n(1, 1)?),
            "bad-lrc" => SimBehaviour::BadLrcThenApprove(n(1, 1)?),
            "truncate" => SimBehaviour::TruncatedThenApprove(n(1, 1)?),
            "timeout" => SimBehaviour::NoAnswer,
            "late" => SimBehaviour::AnswerAfter(Duration::from_millis(u64::from(n(1, 2000)?))),
            "drop" => SimBehaviour::Drop,
            _ => return None,
        })
    }
}

/// The simulated terminal's timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimTiming {
    /// For ACK after its ENQ, and for EOT after a request.
    pub ack: Duration,
    /// For a whole request frame.
    pub frame: Duration,
    /// For the register's ACK/NAK after an answer frame (longer than the register's
    /// frame timeout, which is how long it waits before NAKing garbage).
    pub reply: Duration,
    /// Repeats after NAK or a missing ACK.
    pub retries: u32,
}

impl Default for SimTiming {
    fn default() -> SimTiming {
        SimTiming {
            ack: Duration::from_millis(500),
            frame: Duration::from_secs(1),
            reply: Duration::from_secs(3),
            retries: 3,
        }
    }
}

/// One request the simulated terminal took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRecord {
    pub transaction: TransactionType,
    pub amount: Fen,
    pub pos: u8,
    pub behaviour: SimBehaviour,
    /// The card was charged (or refunded): what the customer's bank would show.
    pub charged: bool,
    /// The answer reached the register (it ACKed the answer frame).
    pub answer_delivered: bool,
    /// How many times the register refused the answer frame with NAK.
    pub answer_naks: u32,
}

/// What the simulator reports as it goes (the binary prints these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// ENQ ignored because the terminal is silent.
    IgnoredEnq,
    /// A request frame was refused with NAK.
    RefusedRequest(String),
    RequestTaken(SimRecord),
    Answered {
        result: TransactionResult,
        delivered: bool,
    },
    Dropping,
}

#[derive(Debug)]
struct SimState {
    script: VecDeque<SimBehaviour>,
    default: SimBehaviour,
    nak_requests: u32,
    silent: bool,
    records: Vec<SimRecord>,
    next_reference: u64,
}

/// Controls a running simulator and reads what it did.
#[derive(Debug, Clone)]
pub struct SimHandle {
    state: Arc<Mutex<SimState>>,
    stop: Arc<AtomicBool>,
}

impl SimHandle {
    fn state(&self) -> MutexGuard<'_, SimState> {
        // A poisoned lock only means a panic elsewhere; the state itself is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a behaviour for the next transaction not yet scripted.
    pub fn push(&self, behaviour: SimBehaviour) {
        self.state().script.push_back(behaviour);
    }

    /// The behaviour once the script is empty.
    pub fn set_default(&self, behaviour: SimBehaviour) {
        self.state().default = behaviour;
    }

    /// Refuses the next `n` request frames with NAK (as after line noise).
    pub fn nak_requests(&self, n: u32) {
        self.state().nak_requests = n;
    }

    /// A silent terminal ignores ENQ (switched off, busy, unplugged cable).
    pub fn set_silent(&self, silent: bool) {
        self.state().silent = silent;
    }

    /// Every request the terminal took, in order.
    pub fn requests(&self) -> Vec<SimRecord> {
        self.state().records.clone()
    }

    /// The requests that moved money.
    pub fn charges(&self) -> Vec<SimRecord> {
        self.requests().into_iter().filter(|r| r.charged).collect()
    }

    /// Asks the simulator to stop (within about 50 ms).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Runs one console command (the `terminal-sim` binary's stdin) and returns its reply.
    ///
    /// A behaviour word (`approve`, `decline`, `noise`, `garbage [N]`, `bad-lrc [N]`,
    /// `truncate [N]`, `timeout`, `late MS`, `drop`) queues it for the next transaction;
    /// `default WORD…` sets the behaviour once the queue is empty; `nak N` refuses the
    /// next N request frames; `silent on|off`; `status`; `quit`.
    pub fn command(&self, line: &str) -> Result<String, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => Ok(String::new()),
            ["status"] => {
                let st = self.state();
                Ok(format!(
                    "status requests={} charges={} queued={} default={:?} silent={}",
                    st.records.len(),
                    st.records.iter().filter(|r| r.charged).count(),
                    st.script.len(),
                    st.default,
                    st.silent
                ))
            }
            ["quit"] => {
                self.stop();
                Ok("stopping".into())
            }
            ["silent", "on"] => {
                self.set_silent(true);
                Ok("silent on".into())
            }
            ["silent", "off"] => {
                self.set_silent(false);
                Ok("silent off".into())
            }
            ["nak", n] => {
                let n: u32 = n.parse().map_err(|_| format!("not a number: {n}"))?;
                self.nak_requests(n);
                Ok(format!("will refuse the next {n} request frame(s)"))
            }
            ["default", rest @ ..] => {
                let b = SimBehaviour::parse(rest)
                    .ok_or_else(|| format!("unknown behaviour: {}", rest.join(" ")))?;
                self.set_default(b);
                Ok(format!("default {b:?}"))
            }
            words => {
                let b = SimBehaviour::parse(words)
                    .ok_or_else(|| format!("unknown command: {}", words.join(" ")))?;
                self.push(b);
                Ok(format!("queued {b:?}"))
            }
        }
    }
}

/// Why [`SimDevice::run`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEnd {
    Stopped,
    LinkLost,
    /// A [`SimBehaviour::Drop`] transaction: the terminal vanished.
    Dropped,
}

type Observer = Box<dyn FnMut(&SimEvent) + Send>;

/// The simulated terminal itself.
pub struct SimDevice<L: Link> {
    link: L,
    code: LineCode,
    timing: SimTiming,
    state: Arc<Mutex<SimState>>,
    stop: Arc<AtomicBool>,
    observer: Option<Observer>,
}

impl<L: Link> std::fmt::Debug for SimDevice<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDevice")
            .field("code", &self.code)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

/// The simulator's card: a UnionPay test number, reported masked to the register.
const SIM_CARD: &str = "6222021234567890";
const GARBAGE: &[u8] = b"\xff\x00ZZ\x13garbage\x7f\x1b";
const NOISE: &[u8] = b"\x00\xff\x13~~";

impl<L: Link> SimDevice<L> {
    /// A simulator on `link` using `code` on the wire; approves by default.
    pub fn new(link: L, code: LineCode, timing: SimTiming) -> (SimDevice<L>, SimHandle) {
        let state = Arc::new(Mutex::new(SimState {
            script: VecDeque::new(),
            default: SimBehaviour::Approve,
            nak_requests: 0,
            silent: false,
            records: Vec::new(),
            next_reference: 1,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        (
            SimDevice {
                link,
                code,
                timing,
                state: state.clone(),
                stop: stop.clone(),
                observer: None,
            },
            SimHandle { state, stop },
        )
    }

    /// Calls `f` for every [`SimEvent`].
    pub fn observe(&mut self, f: impl FnMut(&SimEvent) + Send + 'static) {
        self.observer = Some(Box::new(f));
    }

    fn state(&self) -> MutexGuard<'_, SimState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn emit(&mut self, e: SimEvent) {
        tracing::debug!(?e, "terminal simulator");
        if let Some(f) = self.observer.as_mut() {
            f(&e);
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        let wire = self.code.encode(bytes);
        self.link.write_all(&wire)
    }

    fn next(
        &mut self,
        decoder: &mut FrameDecoder,
        deadline: Instant,
    ) -> Result<Option<Received>, LinkError> {
        receive(&mut self.link, decoder, deadline)
    }

    fn wait_control(&mut self, wait: Duration) -> Result<Option<Received>, LinkError> {
        let deadline = Instant::now() + wait;
        let mut decoder = FrameDecoder::new(self.code);
        loop {
            match self.next(&mut decoder, deadline)? {
                None => return Ok(None),
                Some(r @ (Received::Ack | Received::Nak | Received::Enq | Received::Eot)) => {
                    return Ok(Some(r));
                }
                Some(_) => {}
            }
        }
    }

    /// Serves until stopped, the link is lost, or a [`SimBehaviour::Drop`] transaction.
    pub fn run(mut self) -> SimEnd {
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return SimEnd::Stopped;
            }
            let tick = Instant::now() + Duration::from_millis(50);
            match self.link.read_byte(tick) {
                Err(_) => return SimEnd::LinkLost,
                Ok(None) => {}
                Ok(Some(b)) => {
                    if self.code.decode_byte(b) == Ok(ENQ) {
                        match self.session() {
                            Ok(None) => {}
                            Ok(Some(end)) => return end,
                            Err(_) => return SimEnd::LinkLost,
                        }
                    }
                }
            }
        }
    }

    /// One transaction, after the register's ENQ.
    fn session(&mut self) -> Result<Option<SimEnd>, LinkError> {
        if self.state().silent {
            self.emit(SimEvent::IgnoredEnq);
            return Ok(None);
        }
        self.send(&[ACK])?;
        let mut decoder = FrameDecoder::new(self.code);
        let mut attempts = 0;
        let request = loop {
            attempts += 1;
            let deadline = Instant::now() + self.timing.frame;
            let refusal = match self.next(&mut decoder, deadline)? {
                Some(Received::Frame(p)) => match Message::parse(&p) {
                    Ok(Message::Request(r)) => {
                        let nak = {
                            let mut st = self.state();
                            let nak = st.nak_requests > 0;
                            st.nak_requests = st.nak_requests.saturating_sub(1);
                            nak
                        };
                        if nak {
                            "told to refuse it".to_owned()
                        } else {
                            break r;
                        }
                    }
                    Ok(Message::Answer(_)) => "an answer where a request belongs".to_owned(),
                    Err(e) => e.to_string(),
                },
                Some(Received::BadFrame(e)) => e.to_string(),
                Some(Received::Eot) => return Ok(None),
                Some(Received::Enq) => {
                    self.send(&[ACK])?;
                    continue;
                }
                Some(_) => continue,
                None => "nothing arrived".to_owned(),
            };
            self.emit(SimEvent::RefusedRequest(refusal));
            decoder.reset();
            self.send(&[NAK])?;
            if attempts > self.timing.retries {
                return Ok(None);
            }
        };
        self.send(&[ACK])?;
        match self.wait_control(self.timing.ack)? {
            Some(Received::Eot) => {}
            other => tracing::debug!(?other, "simulator: no EOT after the request"),
        }

        let behaviour = {
            let mut st = self.state();
            st.script.pop_front().unwrap_or(st.default)
        };
        let record = SimRecord {
            transaction: request.transaction,
            amount: request.amount,
            pos: request.pos,
            behaviour,
            charged: behaviour.charges(),
            answer_delivered: false,
            answer_naks: 0,
        };
        let index = {
            let mut st = self.state();
            st.records.push(record.clone());
            st.records.len() - 1
        };
        self.emit(SimEvent::RequestTaken(record));

        let (result, spoil, times) = match behaviour {
            SimBehaviour::Approve => (TransactionResult::Success, Spoil::None, 0),
            SimBehaviour::Decline => (TransactionResult::Refused, Spoil::None, 0),
            SimBehaviour::NoiseThenApprove => {
                std::thread::sleep(Duration::from_millis(20));
                self.link.write_all(NOISE)?;
                (TransactionResult::Success, Spoil::None, 0)
            }
            SimBehaviour::GarbageThenApprove(n) => (TransactionResult::Success, Spoil::Garbage, n),
            SimBehaviour::BadLrcThenApprove(n) => (TransactionResult::Success, Spoil::BadLrc, n),
            SimBehaviour::TruncatedThenApprove(n) => {
                (TransactionResult::Success, Spoil::Truncate, n)
            }
            SimBehaviour::NoAnswer => return Ok(None),
            SimBehaviour::AnswerAfter(d) => {
                let until = Instant::now() + d;
                while Instant::now() < until {
                    if self.stop.load(Ordering::SeqCst) {
                        return Ok(Some(SimEnd::Stopped));
                    }
                    std::thread::sleep(Duration::from_millis(10).min(d));
                }
                (TransactionResult::Success, Spoil::None, 0)
            }
            SimBehaviour::Drop => {
                self.emit(SimEvent::Dropping);
                return Ok(Some(SimEnd::Dropped));
            }
        };
        let (delivered, naks) = self.answer(&request, result, spoil, times)?;
        if let Some(r) = self.state().records.get_mut(index) {
            r.answer_delivered = delivered;
            r.answer_naks = naks;
        }
        self.emit(SimEvent::Answered { result, delivered });
        Ok(None)
    }

    /// Sends the answer: whether the register acknowledged it, and how many NAKs it sent.
    fn answer(
        &mut self,
        request: &Request,
        result: TransactionResult,
        spoil: Spoil,
        spoiled_attempts: u32,
    ) -> Result<(bool, u32), LinkError> {
        let reference = {
            let mut st = self.state();
            st.next_reference += 1;
            st.next_reference - 1
        };
        let answer = Answer {
            pos: request.pos,
            result,
            amount: request.amount,
            payment_mode: request.payment_mode,
            report: match request.answer_detail {
                AnswerDetail::Full => Some(format!("{:<55}", format!("{SIM_CARD}  1230"))),
                AnswerDetail::Short => None,
            },
            currency: request.currency,
            private: format!("{:010}", reference % 10_000_000_000),
        };
        let frame = match Message::Answer(answer)
            .encode()
            .ok()
            .and_then(|p| encode_frame(&p).ok())
        {
            Some(f) => f,
            None => return Ok((false, 0)),
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.send(&[ENQ])?;
            match self.wait_control(self.timing.ack)? {
                Some(Received::Ack) => break,
                _ if attempts > self.timing.retries => return Ok((false, 0)),
                _ => {}
            }
        }
        let mut sent = 0;
        let mut naks = 0;
        loop {
            let wire = if sent < spoiled_attempts {
                spoil.apply(&self.code.encode(&frame))
            } else {
                self.code.encode(&frame)
            };
            self.link.write_all(&wire)?;
            sent += 1;
            match self.wait_control(self.timing.reply)? {
                Some(Received::Ack) => {
                    self.send(&[EOT])?;
                    return Ok((true, naks));
                }
                Some(Received::Nak) if sent <= self.timing.retries => naks += 1,
                other => {
                    if other == Some(Received::Nak) {
                        naks += 1;
                    }
                    self.send(&[EOT])?;
                    return Ok((false, naks));
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Spoil {
    None,
    Garbage,
    BadLrc,
    Truncate,
}

impl Spoil {
    fn apply(self, wire: &[u8]) -> Vec<u8> {
        match self {
            Spoil::None => wire.to_vec(),
            Spoil::Garbage => GARBAGE.to_vec(),
            Spoil::BadLrc => {
                let mut w = wire.to_vec();
                if let Some(last) = w.last_mut() {
                    // Flip two bits: still even parity under 7E1, but a different LRC.
                    *last ^= 0x03;
                }
                w
            }
            Spoil::Truncate => wire[..wire.len() / 2].to_vec(),
        }
    }
}

/// Starts a simulator on its own thread.
pub fn spawn<L: Link + 'static>(
    link: L,
    code: LineCode,
    timing: SimTiming,
) -> Result<(SimHandle, JoinHandle<SimEnd>), TerminalError> {
    let (device, handle) = SimDevice::new(link, code, timing);
    let thread = std::thread::Builder::new()
        .name("terminal-sim".into())
        .spawn(move || device.run())
        .map_err(|e| TerminalError::Config(format!("cannot start the terminal simulator: {e}")))?;
    Ok((handle, thread))
}

/// The terminal simulator on the far end of a real serial cable (a socat pty pair): the
/// cash register opens [`PtySim::register_end`] like a real terminal's port. Used by
/// the all-in-one installation and by tests; stopping it (or dropping it) ends the
/// simulator and the cable.
#[derive(Debug)]
pub struct PtySim {
    handle: SimHandle,
    thread: Option<JoinHandle<SimEnd>>,
    register: std::path::PathBuf,
    _pty: crate::pty::PtyPair,
}

impl PtySim {
    /// Creates the cable as `dir/register` and `dir/terminal` and starts the simulator on
    /// the terminal's end at 9600 bps with `line`.
    pub fn start(
        dir: &std::path::Path,
        line: crate::terminal::LineFormat,
        timing: SimTiming,
    ) -> Result<PtySim, TerminalError> {
        let register = dir.join("register");
        let device = dir.join("terminal");
        let pty = crate::pty::PtyPair::create(&register, &device)
            .map_err(|e| TerminalError::Config(e.to_string()))?;
        let mut link =
            crate::terminal::SerialLink::new(device.to_string_lossy().into_owned(), 9600, line);
        link.open()
            .map_err(|e| TerminalError::Config(format!("the simulator's end of the cable: {e}")))?;
        let (handle, thread) = spawn(link, line.line_code(), timing)?;
        Ok(PtySim {
            handle,
            thread: Some(thread),
            register,
            _pty: pty,
        })
    }

    /// Scripts and reads the simulator.
    pub fn handle(&self) -> &SimHandle {
        &self.handle
    }

    /// The cash register's end of the cable.
    pub fn register_end(&self) -> &std::path::Path {
        &self.register
    }
}

impl Drop for PtySim {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The in-process simulated terminal: the real protocol E driver talking to a
/// [`SimDevice`] over an in-memory link. Selectable from configuration like a real one.
pub fn in_process(
    config: TeliumConfig,
    journal: Journal,
    timing: SimTiming,
) -> Result<(TeliumTerminal<MemoryLink>, SimHandle), TerminalError> {
    let (register_end, terminal_end) = MemoryLink::pair();
    let (handle, _thread) = spawn(terminal_end, config.line.line_code(), timing)?;
    let terminal = TeliumTerminal::new(register_end, config, journal)?;
    Ok((terminal, handle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminal::{
        DeclineReason, IdempotencyKey, LineFormat, Outcome, PaymentTerminal, StaffReason,
        StaffResolution, Timeouts, TransactionState,
    };

    /// Short enough for quick tests, long enough for a loaded 2-core machine: every
    /// wait is several times a scheduling hiccup, and the simulator's `reply` stays far
    /// above the register's `frame` (the register waits `frame` before it NAKs garbage).
    fn fast() -> (TeliumConfig, SimTiming) {
        let config = TeliumConfig {
            timeouts: Timeouts {
                ack: Duration::from_millis(500),
                frame: Duration::from_millis(500),
                answer: Duration::from_millis(3000),
                reconcile: Duration::from_millis(1000),
            },
            ..TeliumConfig::default()
        };
        let timing = SimTiming {
            ack: Duration::from_millis(1000),
            frame: Duration::from_millis(1000),
            reply: Duration::from_millis(2000),
            retries: 3,
        };
        (config, timing)
    }

    fn setup() -> (TeliumTerminal<MemoryLink>, SimHandle, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path().join("payments.journal")).unwrap();
        let (config, timing) = fast();
        let (t, h) = in_process(config, journal, timing).unwrap();
        (t, h, dir)
    }

    fn key(s: &str) -> IdempotencyKey {
        IdempotencyKey::new(s).unwrap()
    }

    #[test]
    fn in_process_sale_is_approved_once_even_when_retried() {
        let (mut t, sim, _dir) = setup();
        let o = t.sale(&key("a"), Fen(1250)).unwrap();
        match &o {
            Outcome::Approved(a) => {
                assert_eq!(a.amount, Fen(1250));
                assert_eq!(a.card_tail.as_deref(), Some("7890"));
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(t.sale(&key("a"), Fen(1250)).unwrap(), o);
        assert_eq!(sim.charges().len(), 1, "a retry must not charge again");
        assert!(matches!(
            t.sale(&key("a"), Fen(999)),
            Err(TerminalError::KeyReused(_))
        ));
    }

    #[test]
    fn in_process_decline_refund_and_cancel() {
        let (mut t, sim, _dir) = setup();
        sim.push(SimBehaviour::Decline);
        assert_eq!(
            t.sale(&key("d"), Fen(100)).unwrap(),
            Outcome::Declined(DeclineReason::Refused)
        );
        assert!(matches!(
            t.refund(&key("r"), Fen(100)).unwrap(),
            Outcome::Approved(_)
        ));
        assert!(matches!(
            t.cancel(&key("c"), Fen(100)).unwrap(),
            Outcome::Approved(_)
        ));
        let kinds: Vec<_> = sim.requests().iter().map(|r| r.transaction).collect();
        assert_eq!(
            kinds,
            vec![
                TransactionType::Debit,
                TransactionType::Credit,
                TransactionType::Cancel
            ]
        );
        assert_eq!(t.last_transaction().unwrap().unwrap().key, key("c"));
    }

    #[test]
    fn a_silent_terminal_is_an_error_and_the_key_can_be_retried() {
        let (mut t, sim, _dir) = setup();
        sim.set_silent(true);
        assert!(matches!(
            t.sale(&key("s"), Fen(100)),
            Err(TerminalError::NoAnswer)
        ));
        assert!(matches!(
            t.transaction(&key("s")).unwrap().unwrap().state,
            TransactionState::NotCharged { .. }
        ));
        sim.set_silent(false);
        assert!(matches!(
            t.sale(&key("s"), Fen(100)).unwrap(),
            Outcome::Approved(_)
        ));
        assert_eq!(sim.charges().len(), 1);
    }

    #[test]
    fn garbage_and_truncated_answers_are_nakked_and_the_repeat_accepted() {
        let (mut t, sim, _dir) = setup();
        sim.push(SimBehaviour::GarbageThenApprove(2));
        sim.push(SimBehaviour::TruncatedThenApprove(1));
        sim.push(SimBehaviour::NoiseThenApprove);
        for k in ["g", "t", "n"] {
            assert!(matches!(
                t.sale(&key(k), Fen(100)).unwrap(),
                Outcome::Approved(_)
            ));
        }
        let naks: Vec<_> = sim
            .requests()
            .iter()
            .map(|r| (r.answer_delivered, r.answer_naks))
            .collect();
        assert_eq!(naks, vec![(true, 2), (true, 1), (true, 0)]);
    }

    #[test]
    fn an_answer_that_stays_garbage_needs_staff_and_blocks_the_key() {
        let (mut t, sim, _dir) = setup();
        sim.push(SimBehaviour::GarbageThenApprove(10));
        assert_eq!(
            t.sale(&key("x"), Fen(100)).unwrap(),
            Outcome::UnknownNeedsStaff(StaffReason::GarbledAnswer)
        );
        assert_eq!(
            t.sale(&key("x"), Fen(100)).unwrap(),
            Outcome::UnknownNeedsStaff(StaffReason::GarbledAnswer)
        );
        assert_eq!(sim.requests().len(), 1);
        let rec = t.resolve(&key("x"), StaffResolution::Charged).unwrap();
        assert_eq!(
            rec.state,
            TransactionState::ResolvedByStaff(StaffResolution::Charged)
        );
        assert!(matches!(
            t.sale(&key("x"), Fen(100)).unwrap(),
            Outcome::Approved(a) if a.confirmed_by_staff
        ));
        assert!(matches!(
            t.resolve(&key("x"), StaffResolution::NotCharged),
            Err(TerminalError::NothingToResolve(_))
        ));
        assert_eq!(sim.requests().len(), 1);
    }

    #[test]
    fn seven_e1_in_software_works_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(dir.path().join("j")).unwrap();
        let (mut config, timing) = fast();
        config.line = LineFormat::SevenE1Software;
        let (mut t, sim) = in_process(config, journal, timing).unwrap();
        let o = t.sale(&key("p"), Fen(4321)).unwrap();
        assert!(matches!(o, Outcome::Approved(_)));
        assert_eq!(sim.charges().len(), 1);
    }

    #[test]
    fn console_commands_drive_the_simulator() {
        let (_t, sim, _dir) = setup();
        assert!(sim.command("decline").unwrap().contains("Decline"));
        assert!(sim.command("nak 2").is_ok());
        assert!(sim.command("default timeout").is_ok());
        assert!(sim.command("silent on").is_ok());
        assert!(sim.command("fly").is_err());
        assert!(sim.command("nak x").is_err());
        assert_eq!(
            sim.command("status").unwrap(),
            "status requests=0 charges=0 queued=1 default=NoAnswer silent=true"
        );
        sim.command("quit").unwrap();
        assert!(sim.is_stopped());
    }

    #[test]
    fn behaviour_words_parse() {
        assert_eq!(
            SimBehaviour::parse(&["garbage", "3"]),
            Some(SimBehaviour::GarbageThenApprove(3))
        );
        assert_eq!(
            SimBehaviour::parse(&["late", "250"]),
            Some(SimBehaviour::AnswerAfter(Duration::from_millis(250)))
        );
        assert_eq!(SimBehaviour::parse(&["late", "x"]), None);
        assert_eq!(SimBehaviour::parse(&["dance"]), None);
    }
}
