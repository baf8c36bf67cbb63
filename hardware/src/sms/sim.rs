//! A simulated GSM modem: the *modem* side of the AT commands [`GsmModem`] uses, served on
//! any [`Link`] (a pty end for the `modem-sim` binary and tests, an in-memory link for
//! [`in_process`]). It echoes until `ATE0`, answers `+CREG`, `+CSQ` and `+COPS`, shows the
//! `> ` prompt after `AT+CMGS`, and checks and decodes every PDU it is given.
//!
//! Scripted per `AT+CMGS` with a [`ModemBehaviour`]: send normally, no network, out of
//! credit, slow, silent after the PDU, any `+CMS ERROR`, or no prompt at all. Every PDU it
//! took is recorded decoded ([`ModemSimHandle::sent`]) and reassembled
//! ([`ModemSimHandle::messages`]), so tests see the exact text that went out. Must never
//! block past its own bounded waits nor panic on what it is sent.

use super::SmsError;
use super::modem::{GsmModem, ModemConfig};
use super::pdu::{self, Alphabet, Concatenation};
use crate::terminal::link::{Link, LinkError, MemoryLink};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const CTRL_Z: u8 = 0x1A;
const ESC: u8 = 0x1B;
/// How long the simulator waits for a PDU after its prompt before giving up on it.
const PDU_WAIT: Duration = Duration::from_secs(30);
/// How often the simulator looks at its stop flag.
const TICK: Duration = Duration::from_millis(50);
const MAX_LINE: usize = 1024;
/// The `+CMS ERROR` an out-of-credit SIM gets: operator determined barring (TS 24.011
/// 8.2.5.4), what operators use to bar a prepaid SIM without credit; some answer 21 (short
/// message transfer rejected) instead.
pub const OUT_OF_CREDIT: u16 = 8;
/// The operator the simulator reports.
pub const OPERATOR: &str = "CHINA MOBILE";
/// The signal it reports while registered (`+CSQ: 21,99`, −71 dBm).
pub const RSSI: u8 = 21;

/// What the simulated modem does.
///
/// As the default ([`ModemSimHandle::set_default`]) a behaviour also sets the modem's
/// state: `NoNetwork` answers `+CREG: 0,0` and `Unresponsive` ignores every command. Queued
/// ([`ModemSimHandle::push`]) it applies to the next `AT+CMGS` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModemBehaviour {
    /// Registered; every PDU goes out: `+CMGS: <mr>` and `OK`.
    Normal,
    /// Not registered (`+CREG: 0,0`); a send ends in `+CMS ERROR: 331`.
    NoNetwork,
    /// The network refuses the message: `+CMS ERROR: 8` ([`OUT_OF_CREDIT`]).
    OutOfCredit,
    /// Sends, but only after this long.
    Slow(Duration),
    /// Takes the PDU (the message goes out) and never answers.
    SilentAfterPrompt,
    /// Answers the PDU with `+CMS ERROR: <n>`.
    CmsError(u16),
    /// Shows no prompt (busy or hung); as the default, ignores every command.
    Unresponsive,
}

impl ModemBehaviour {
    /// Parses the words the `modem-sim` binary accepts: `normal`, `no-network`,
    /// `no-credit`, `slow MS`, `silent`, `cms N`, `unresponsive`.
    pub fn parse(words: &[&str]) -> Option<ModemBehaviour> {
        let number = |i: usize| -> Option<u64> { words.get(i)?.parse().ok() };
        let b = match *words.first()? {
            "normal" => ModemBehaviour::Normal,
            "no-network" => ModemBehaviour::NoNetwork,
            "no-credit" => ModemBehaviour::OutOfCredit,
            "slow" => ModemBehaviour::Slow(Duration::from_millis(number(1)?)),
            "silent" => ModemBehaviour::SilentAfterPrompt,
            "cms" => ModemBehaviour::CmsError(u16::try_from(number(1)?).ok()?),
            "unresponsive" => ModemBehaviour::Unresponsive,
            _ => return None,
        };
        let arity = if matches!(words[0], "slow" | "cms") {
            2
        } else {
            1
        };
        (words.len() == arity).then_some(b)
    }
}

/// One PDU the simulated modem took, decoded.
#[derive(Clone, PartialEq, Eq)]
pub struct SentSms {
    /// As dialled: `+` and digits for an international number.
    pub to: String,
    /// This part's text.
    pub text: String,
    pub alphabet: Alphabet,
    pub concatenation: Option<Concatenation>,
    /// The message reference the modem gave it (`+CMGS: <mr>`).
    pub message_reference: u8,
    /// The modem reported it sent (false after [`ModemBehaviour::SilentAfterPrompt`]:
    /// the message went out but the driver never heard).
    pub confirmed: bool,
}

impl std::fmt::Debug for SentSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentSms")
            .field("to", &domain::mask::mask_phone(&self.to))
            .field("text", &self.text)
            .field("alphabet", &self.alphabet)
            .field("concatenation", &self.concatenation)
            .field("message_reference", &self.message_reference)
            .field("confirmed", &self.confirmed)
            .finish()
    }
}

/// A whole message as the recipient's phone would show it: its parts put back together.
#[derive(Clone, PartialEq, Eq)]
pub struct SimMessage {
    pub to: String,
    /// The parts' texts joined in their order (missing parts left out).
    pub text: String,
    /// How many parts the message has.
    pub parts: usize,
    /// Every part arrived.
    pub complete: bool,
}

impl std::fmt::Debug for SimMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimMessage")
            .field("to", &domain::mask::mask_phone(&self.to))
            .field("text", &self.text)
            .field("parts", &self.parts)
            .field("complete", &self.complete)
            .finish()
    }
}

/// What the simulator reports as it goes (the binary prints these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    /// A PDU went out (and was answered, unless `confirmed` is false).
    Sent(SentSms),
    /// A send was refused with `+CMS ERROR: <n>`.
    Refused(u16),
    /// A command ignored because the modem is unresponsive.
    Ignored(String),
    /// A prompt that got ESC or nothing instead of a PDU.
    Abandoned,
}

#[derive(Debug)]
struct SimState {
    default: ModemBehaviour,
    script: VecDeque<ModemBehaviour>,
    sent: Vec<SentSms>,
    next_mr: u8,
}

/// Controls a running simulated modem and reads what it sent.
#[derive(Debug, Clone)]
pub struct ModemSimHandle {
    state: Arc<Mutex<SimState>>,
    stop: Arc<AtomicBool>,
}

impl ModemSimHandle {
    fn state(&self) -> MutexGuard<'_, SimState> {
        // A poisoned lock only means a panic elsewhere; the state itself is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a behaviour for the next `AT+CMGS` not yet scripted.
    pub fn push(&self, behaviour: ModemBehaviour) {
        self.state().script.push_back(behaviour);
    }

    /// The modem's state and its behaviour once the queue is empty.
    pub fn set_default(&self, behaviour: ModemBehaviour) {
        self.state().default = behaviour;
    }

    /// Every part the modem took, in order.
    pub fn sent(&self) -> Vec<SentSms> {
        self.state().sent.clone()
    }

    /// The messages as recipients see them, in the order their first part arrived:
    /// concatenated parts (same number, reference and part count) joined in order.
    pub fn messages(&self) -> Vec<SimMessage> {
        reassemble(&self.state().sent)
    }

    /// Asks the simulator to stop (within about 50 ms).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Runs one console command (the `modem-sim` binary's stdin) and returns its reply.
    ///
    /// A behaviour (`normal`, `no-network`, `no-credit`, `slow MS`, `silent`, `cms N`,
    /// `unresponsive`) is queued for the next send; `default BEHAVIOUR` sets the modem's
    /// state; `status`; `quit`.
    pub fn command(&self, line: &str) -> Result<String, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => Ok(String::new()),
            ["status"] => {
                let st = self.state();
                Ok(format!(
                    "status sent={} queued={} default={:?}",
                    st.sent.len(),
                    st.script.len(),
                    st.default
                ))
            }
            ["quit"] => {
                self.stop();
                Ok("stopping".into())
            }
            ["default", rest @ ..] => {
                let b = ModemBehaviour::parse(rest)
                    .ok_or_else(|| format!("unknown behaviour: {}", rest.join(" ")))?;
                self.set_default(b);
                Ok(format!("default {b:?}"))
            }
            words => {
                let b = ModemBehaviour::parse(words)
                    .ok_or_else(|| format!("unknown command: {}", words.join(" ")))?;
                self.push(b);
                Ok(format!("queued {b:?}"))
            }
        }
    }
}

fn reassemble(sent: &[SentSms]) -> Vec<SimMessage> {
    type Key = (String, u16, u8);
    let mut order: Vec<Option<Key>> = Vec::new();
    let mut singles: Vec<SimMessage> = Vec::new();
    let mut groups: Vec<(Key, Vec<&SentSms>)> = Vec::new();
    for s in sent {
        match s.concatenation {
            None => {
                order.push(None);
                singles.push(SimMessage {
                    to: s.to.clone(),
                    text: s.text.clone(),
                    parts: 1,
                    complete: true,
                });
            }
            Some(c) => {
                let key = (s.to.clone(), c.reference, c.total);
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, parts)) => parts.push(s),
                    None => {
                        order.push(Some(key.clone()));
                        groups.push((key, vec![s]));
                    }
                }
            }
        }
    }
    let mut singles = singles.into_iter();
    let mut out = Vec::new();
    for k in order {
        match k {
            None => out.extend(singles.next()),
            Some(key) => {
                let Some((_, mut parts)) = groups.iter().find(|(g, _)| *g == key).cloned() else {
                    continue;
                };
                parts.sort_by_key(|p| p.concatenation.map_or(0, |c| c.seq));
                parts.dedup_by_key(|p| p.concatenation.map_or(0, |c| c.seq));
                let (to, _, total) = key;
                out.push(SimMessage {
                    to,
                    text: parts.iter().map(|p| p.text.as_str()).collect(),
                    parts: usize::from(total),
                    complete: parts.len() == usize::from(total),
                });
            }
        }
    }
    out
}

/// Why [`ModemSim::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModemSimEnd {
    Stopped,
    LinkLost,
}

type Observer = Box<dyn FnMut(&SimEvent) + Send>;

/// The simulated modem itself.
pub struct ModemSim<L: Link> {
    link: L,
    state: Arc<Mutex<SimState>>,
    stop: Arc<AtomicBool>,
    observer: Option<Observer>,
    echo: bool,
    verbose_errors: bool,
    pdu_mode: bool,
    line: Vec<u8>,
}

impl<L: Link> std::fmt::Debug for ModemSim<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModemSim")
            .field("echo", &self.echo)
            .field("pdu_mode", &self.pdu_mode)
            .finish_non_exhaustive()
    }
}

impl<L: Link> ModemSim<L> {
    /// A modem on `link`, registered and sending normally, echo on, like one just
    /// powered up.
    pub fn new(link: L) -> (ModemSim<L>, ModemSimHandle) {
        let state = Arc::new(Mutex::new(SimState {
            default: ModemBehaviour::Normal,
            script: VecDeque::new(),
            sent: Vec::new(),
            next_mr: 1,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        (
            ModemSim {
                link,
                state: state.clone(),
                stop: stop.clone(),
                observer: None,
                echo: true,
                verbose_errors: false,
                pdu_mode: true,
                line: Vec::new(),
            },
            ModemSimHandle { state, stop },
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
        tracing::debug!(?e, "modem simulator");
        if let Some(f) = self.observer.as_mut() {
            f(&e);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn reply(&mut self, line: &str) -> Result<(), LinkError> {
        self.link.write_all(format!("\r\n{line}\r\n").as_bytes())
    }

    fn ok(&mut self) -> Result<(), LinkError> {
        self.reply("OK")
    }

    fn cms(&mut self, n: u16) -> Result<(), LinkError> {
        self.reply(&format!("+CMS ERROR: {n}"))
    }

    fn cme(&mut self, n: u16) -> Result<(), LinkError> {
        if self.verbose_errors {
            self.reply(&format!("+CME ERROR: {n}"))
        } else {
            self.reply("ERROR")
        }
    }

    /// Serves until stopped or the link is lost.
    pub fn run(mut self) -> ModemSimEnd {
        loop {
            if self.stopped() {
                return ModemSimEnd::Stopped;
            }
            match self.link.read_byte(Instant::now() + TICK) {
                Err(_) => return ModemSimEnd::LinkLost,
                Ok(None) => {}
                Ok(Some(b)) => {
                    if let Err(_lost) = self.byte(b) {
                        return ModemSimEnd::LinkLost;
                    }
                }
            }
        }
    }

    fn byte(&mut self, b: u8) -> Result<(), LinkError> {
        let unresponsive = self.state().default == ModemBehaviour::Unresponsive;
        if self.echo && !unresponsive {
            self.link.write_all(&[b])?;
        }
        match b {
            ESC => self.line.clear(),
            b'\r' | b'\n' => {
                if !self.line.is_empty() {
                    let line =
                        String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
                    if unresponsive {
                        self.emit(SimEvent::Ignored(line));
                    } else {
                        self.command(line.trim())?;
                    }
                }
            }
            b => {
                if self.line.len() < MAX_LINE {
                    self.line.push(b);
                }
            }
        }
        Ok(())
    }

    fn command(&mut self, line: &str) -> Result<(), LinkError> {
        let upper = line.to_ascii_uppercase();
        // V.25ter: a command line starts with AT; anything else is line noise.
        let Some(cmd) = upper.strip_prefix("AT") else {
            return Ok(());
        };
        let registered = self.state().default != ModemBehaviour::NoNetwork;
        match cmd {
            "" => self.ok(),
            "E0" => {
                self.echo = false;
                self.ok()
            }
            "E1" | "E" => {
                self.echo = true;
                self.ok()
            }
            "Z" => {
                self.echo = true;
                self.verbose_errors = false;
                self.pdu_mode = true;
                self.ok()
            }
            "+CMEE=0" | "+CMEE=1" | "+CMEE=2" => {
                self.verbose_errors = cmd != "+CMEE=0";
                self.ok()
            }
            "+CMGF=0" | "+CMGF=1" => {
                self.pdu_mode = cmd == "+CMGF=0";
                self.ok()
            }
            "+CMGF?" => {
                let mode = if self.pdu_mode { 0 } else { 1 };
                self.reply(&format!("+CMGF: {mode}"))?;
                self.ok()
            }
            "+CPIN?" => {
                self.reply("+CPIN: READY")?;
                self.ok()
            }
            "+CREG?" => {
                self.reply(&format!("+CREG: 0,{}", u8::from(registered)))?;
                self.ok()
            }
            "+CSQ" => {
                let rssi = if registered { RSSI } else { 99 };
                self.reply(&format!("+CSQ: {rssi},99"))?;
                self.ok()
            }
            "+COPS?" => {
                if registered {
                    self.reply(&format!("+COPS: 0,0,\"{OPERATOR}\",7"))?;
                } else {
                    self.reply("+COPS: 0")?;
                }
                self.ok()
            }
            "I" | "+CGMI" => {
                self.reply("servicehall modem simulator")?;
                self.ok()
            }
            c if c.starts_with("+CMGS=") => self.cmgs(&c["+CMGS=".len()..]),
            _ => self.cme(4),
        }
    }

    fn cmgs(&mut self, arg: &str) -> Result<(), LinkError> {
        if !self.pdu_mode {
            // Text mode takes a number, not a length; this simulator speaks PDU only.
            return self.cms(302);
        }
        let Ok(length) = arg.trim().parse::<usize>() else {
            return self.cms(304);
        };
        let behaviour = {
            let mut st = self.state();
            let default = st.default;
            st.script.pop_front().unwrap_or(default)
        };
        if behaviour == ModemBehaviour::Unresponsive {
            self.emit(SimEvent::Ignored(format!("AT+CMGS={arg}")));
            return Ok(());
        }
        self.link.write_all(b"\r\n> ")?;
        let Some(hex) = self.read_pdu()? else {
            self.emit(SimEvent::Abandoned);
            return Ok(());
        };
        let decoded = pdu::from_hex(&hex).ok().and_then(|bytes| {
            let smsc = usize::from(*bytes.first()?);
            // The announced length is the TPDU's, without the service centre field.
            (bytes.len().checked_sub(smsc + 1)? == length)
                .then(|| pdu::decode_submit(&bytes).ok())
                .flatten()
        });
        let Some(decoded) = decoded else {
            self.emit(SimEvent::Refused(304));
            return self.cms(304);
        };
        let refuse = match behaviour {
            ModemBehaviour::NoNetwork => Some(331),
            ModemBehaviour::OutOfCredit => Some(OUT_OF_CREDIT),
            ModemBehaviour::CmsError(n) => Some(n),
            _ => None,
        };
        if let Some(n) = refuse {
            self.emit(SimEvent::Refused(n));
            return self.cms(n);
        }
        if let ModemBehaviour::Slow(d) = behaviour {
            let until = Instant::now() + d;
            while Instant::now() < until && !self.stopped() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let confirmed = behaviour != ModemBehaviour::SilentAfterPrompt;
        let sms = {
            let mut st = self.state();
            let mr = st.next_mr;
            st.next_mr = st.next_mr.wrapping_add(1);
            let sms = SentSms {
                to: decoded.to,
                text: decoded.text,
                alphabet: decoded.alphabet,
                concatenation: decoded.concatenation,
                message_reference: mr,
                confirmed,
            };
            st.sent.push(sms.clone());
            sms
        };
        let mr = sms.message_reference;
        self.emit(SimEvent::Sent(sms));
        if confirmed {
            self.reply(&format!("+CMGS: {mr}"))?;
            self.ok()?;
        }
        Ok(())
    }

    /// The PDU typed after the prompt, up to Ctrl-Z; `None` after ESC (answered `OK`) or
    /// when nothing complete came within [`PDU_WAIT`].
    fn read_pdu(&mut self) -> Result<Option<String>, LinkError> {
        let deadline = Instant::now() + PDU_WAIT;
        let mut hex = Vec::new();
        while Instant::now() < deadline && !self.stopped() {
            let Some(b) = self.link.read_byte(Instant::now() + TICK)? else {
                continue;
            };
            if self.echo {
                self.link.write_all(&[b])?;
            }
            match b {
                CTRL_Z => return Ok(Some(String::from_utf8_lossy(&hex).into_owned())),
                ESC => {
                    self.ok()?;
                    return Ok(None);
                }
                b'\r' | b'\n' => {}
                b if hex.len() < 2 * 200 => hex.push(b),
                _ => {}
            }
        }
        Ok(None)
    }
}

/// Starts a simulated modem on its own thread.
pub fn spawn<L: Link + 'static>(
    link: L,
) -> Result<(ModemSimHandle, JoinHandle<ModemSimEnd>), SmsError> {
    let (device, handle) = ModemSim::new(link);
    let thread = std::thread::Builder::new()
        .name("modem-sim".into())
        .spawn(move || device.run())
        .map_err(|e| SmsError::Config(format!("cannot start the modem simulator: {e}")))?;
    Ok((handle, thread))
}

/// The in-process simulated SMS gateway: the real AT driver talking to a [`ModemSim`]
/// over an in-memory link. The simulator stops when the driver is dropped.
pub fn in_process(config: ModemConfig) -> Result<(GsmModem<MemoryLink>, ModemSimHandle), SmsError> {
    let (driver_end, modem_end) = MemoryLink::pair();
    let (handle, _thread) = spawn(modem_end)?;
    let modem = GsmModem::new(driver_end, config)?;
    Ok((modem, handle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sms::modem::ModemTimeouts;
    use crate::sms::{Disposition, PhoneNumber, SmsGateway};

    fn setup() -> (GsmModem<MemoryLink>, ModemSimHandle) {
        let config = ModemConfig {
            timeouts: ModemTimeouts {
                command: Duration::from_millis(1000),
                prompt: Duration::from_millis(1000),
                send: Duration::from_millis(1500),
            },
            ..ModemConfig::default()
        };
        in_process(config).unwrap()
    }

    fn to() -> PhoneNumber {
        PhoneNumber::parse("+8613812345678").unwrap()
    }

    #[test]
    fn in_process_send_and_status() {
        let (mut m, sim) = setup();
        let s = m.status().unwrap();
        assert!(s.is_registered());
        assert_eq!(s.operator.as_deref(), Some(OPERATOR));
        assert_eq!(s.signal.and_then(|q| q.rssi), Some(RSSI));
        let sent = m
            .send(&to(), "Ticket A012: please go to counter 3.")
            .unwrap();
        assert_eq!(sent.parts(), 1);
        assert_eq!(sent.alphabet, Alphabet::Gsm7);
        let got = sim.sent();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to, "+8613812345678");
        assert_eq!(got[0].text, "Ticket A012: please go to counter 3.");
        assert_eq!(sent.references, vec![got[0].message_reference]);
    }

    #[test]
    fn an_unresponsive_modem_shows_no_prompt_and_nothing_is_sent() {
        let (mut m, sim) = setup();
        sim.push(ModemBehaviour::Unresponsive);
        let e = m.send(&to(), "hello").unwrap_err();
        assert_eq!(e, crate::sms::SmsError::ModemBusy);
        assert!(e.is_retryable());
        assert!(sim.sent().is_empty());
        // The ESC withdrew the command: the next message goes normally.
        m.send(&to(), "hello again").unwrap();
        assert_eq!(sim.messages()[0].text, "hello again");
    }

    #[test]
    fn a_failure_after_the_first_part_is_partly_sent() {
        let (mut m, sim) = setup();
        sim.push(ModemBehaviour::Normal);
        sim.push(ModemBehaviour::NoNetwork);
        let e = m.send(&to(), &"好".repeat(100)).unwrap_err();
        match &e {
            crate::sms::SmsError::PartlySent {
                confirmed,
                total,
                cause,
            } => {
                assert_eq!((confirmed.len(), *total), (1, 2));
                assert_eq!(**cause, crate::sms::SmsError::NoNetworkService);
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(e.disposition(), Disposition::MaybeSent);
        let msgs = sim.messages();
        assert_eq!(msgs.len(), 1);
        assert!(!msgs[0].complete);
        assert_eq!(msgs[0].text, "好".repeat(67));
    }

    #[test]
    fn console_commands_drive_the_simulator() {
        let (_m, sim) = setup();
        assert!(sim.command("no-credit").unwrap().contains("OutOfCredit"));
        assert!(sim.command("slow 250").unwrap().contains("250ms"));
        assert!(sim.command("cms 332").is_ok());
        assert!(sim.command("default no-network").is_ok());
        assert!(sim.command("slow").is_err());
        assert!(sim.command("cms x").is_err());
        assert!(sim.command("normal please").is_err());
        assert!(sim.command("fly").is_err());
        assert_eq!(
            sim.command("status").unwrap(),
            "status sent=0 queued=3 default=NoNetwork"
        );
        sim.command("quit").unwrap();
        assert!(sim.is_stopped());
    }

    #[test]
    fn reassembly_orders_parts_and_notices_gaps() {
        let part = |to: &str, text: &str, reference, total, seq| SentSms {
            to: to.into(),
            text: text.into(),
            alphabet: Alphabet::Gsm7,
            concatenation: Some(Concatenation {
                reference,
                total,
                seq,
            }),
            message_reference: 0,
            confirmed: true,
        };
        let single = SentSms {
            concatenation: None,
            ..part("10086", "alone", 0, 1, 1)
        };
        let got = reassemble(&[
            part("10086", "B", 7, 2, 2),
            single,
            part("10086", "A", 7, 2, 1),
            part("10010", "x", 7, 3, 1),
        ]);
        let summary: Vec<(&str, &str, bool)> = got
            .iter()
            .map(|m| (m.to.as_str(), m.text.as_str(), m.complete))
            .collect();
        assert_eq!(
            summary,
            [
                ("10086", "AB", true),
                ("10086", "alone", true),
                ("10010", "x", false)
            ]
        );
    }
}
