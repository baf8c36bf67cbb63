//! The driver for a USB or serial GSM modem: AT commands of 3GPP TS 27.007 (general,
//! network) and TS 27.005 (SMS, PDU mode) over a [`Link`], each waiting for its final
//! result code no longer than its configured timeout.
//!
//! Must never: send a message while the modem is not registered; send a part again by
//! itself; take an answer left over from an earlier command for the answer to this one
//! (input is discarded before each command); report "not sent" for a part whose PDU
//! reached the modem without an answer.
//!
//! # Sending one part (TS 27.005 3.5.1, 4.3)
//!
//! ```text
//! driver                              modem
//! AT+CMGS=<TPDU length> CR ─────────▶
//!       ◀──────────────────────────── CR LF "> "          (within `prompt`)
//! <PDU in hex> Ctrl-Z ──────────────▶
//!       ◀──────────────────────────── +CMGS: <mr>  OK     (within `send`)
//!                                      or +CMS ERROR: <n>
//! ```
//!
//! No prompt: the modem is told to drop the command (ESC) and nothing was sent. No answer
//! after Ctrl-Z: [`SmsError::OutcomeUnknown`].

use super::at::{self, Final};
use super::pdu::{self, SubmitOptions, SubmitPdu};
use super::{ModemStatus, PhoneNumber, Registration, SentMessage, SmsError, SmsGateway};
use crate::terminal::link::{LineFormat, Link, SerialLink};
use std::time::{Duration, Instant};

/// Ctrl-Z: ends the PDU and sends it.
const CTRL_Z: u8 = 0x1A;
/// ESC: abandons a PDU at the prompt.
const ESC: u8 = 0x1B;
/// The longest line kept; a modem that never ends a line is cut there.
const MAX_LINE: usize = 1024;

/// How long each step may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModemTimeouts {
    /// For the final result of an ordinary command (`AT`, `AT+CREG?`, `AT+CSQ`…).
    pub command: Duration,
    /// For the `> ` prompt after `AT+CMGS`.
    pub prompt: Duration,
    /// For `+CMGS`/`+CMS ERROR` after the PDU: the network's round trip. Module manuals
    /// give 60 to 120 s.
    pub send: Duration,
}

impl Default for ModemTimeouts {
    fn default() -> ModemTimeouts {
        ModemTimeouts {
            command: Duration::from_secs(5),
            prompt: Duration::from_secs(5),
            send: Duration::from_secs(120),
        }
    }
}

/// Settings for one modem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModemConfig {
    pub baud_rate: u32,
    pub timeouts: ModemTimeouts,
    /// The service centre; `None` uses the one stored on the SIM (the usual case).
    pub smsc: Option<PhoneNumber>,
    /// How long the network keeps trying to deliver a message; `None` leaves it to the
    /// network. A queue notice is stale within a day.
    pub validity: Option<Duration>,
    /// A longer message is refused with [`SmsError::MessageTooLong`] (1–255).
    pub max_parts: usize,
}

impl Default for ModemConfig {
    fn default() -> ModemConfig {
        ModemConfig {
            baud_rate: 115_200,
            timeouts: ModemTimeouts::default(),
            smsc: None,
            validity: Some(Duration::from_secs(24 * 3600)),
            max_parts: 10,
        }
    }
}

/// One line from the modem, or its prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Text(String),
    /// `> `, the modem waiting for a PDU.
    Prompt,
}

/// How one part's send failed.
#[derive(Debug)]
enum PartFailure {
    /// The modem or the network refused it: it did not go out.
    NotSent(SmsError),
    /// The PDU reached the modem and no answer came.
    Unknown,
}

/// A GSM modem driven with AT commands in PDU mode.
pub struct GsmModem<L: Link> {
    link: L,
    config: ModemConfig,
    /// Set after the init sequence; cleared by any fault so the next use starts over.
    ready: bool,
    /// Bytes of a line not finished yet.
    pending: Vec<u8>,
    next_reference: u8,
}

impl<L: Link> std::fmt::Debug for GsmModem<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GsmModem")
            .field("config", &self.config)
            .field("ready", &self.ready)
            .finish_non_exhaustive()
    }
}

impl GsmModem<SerialLink> {
    /// A modem on the serial device at `device` (8N1 at `config.baud_rate`), opened on
    /// first use and reopened after it was lost.
    pub fn open_serial(
        device: &str,
        config: ModemConfig,
    ) -> Result<GsmModem<SerialLink>, SmsError> {
        let link = SerialLink::new(device, config.baud_rate, LineFormat::EightN1);
        GsmModem::new(link, config)
    }
}

impl<L: Link> GsmModem<L> {
    pub fn new(link: L, config: ModemConfig) -> Result<GsmModem<L>, SmsError> {
        if !(1..=pdu::MAX_PARTS).contains(&config.max_parts) {
            return Err(SmsError::Config(format!(
                "a message may have 1 to 255 parts, not {}",
                config.max_parts
            )));
        }
        let t = config.timeouts;
        if [t.command, t.prompt, t.send].iter().any(Duration::is_zero) {
            return Err(SmsError::Config("timeouts must not be zero".into()));
        }
        if config.baud_rate == 0 {
            return Err(SmsError::Config("the baud rate must not be zero".into()));
        }
        // Concatenation references should not repeat across restarts; the clock is enough.
        let next_reference = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos().to_le_bytes()[1]);
        Ok(GsmModem {
            link,
            config,
            ready: false,
            pending: Vec::new(),
            next_reference,
        })
    }

    pub fn config(&self) -> &ModemConfig {
        &self.config
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), SmsError> {
        self.link.write_all(bytes).map_err(|e| self.fault(e.into()))
    }

    /// Marks the modem for a fresh init and passes `e` on.
    fn fault(&mut self, e: SmsError) -> SmsError {
        self.ready = false;
        e
    }

    /// Drops whatever the modem said that nobody asked for (late answers, URCs).
    fn discard(&mut self) -> Result<(), SmsError> {
        self.pending.clear();
        self.link.discard_input().map_err(|e| self.fault(e.into()))
    }

    /// The next line (or prompt, when `prompt` is true) before `deadline`.
    fn read_line(&mut self, deadline: Instant, prompt: bool) -> Result<Option<Line>, SmsError> {
        loop {
            let b = match self.link.read_byte(deadline) {
                Ok(Some(b)) => b,
                Ok(None) => return Ok(None),
                Err(e) => return Err(self.fault(e.into())),
            };
            match b {
                b'\r' | b'\n' => {
                    if !self.pending.is_empty() {
                        let line = String::from_utf8_lossy(&self.pending).trim().to_owned();
                        self.pending.clear();
                        if !line.is_empty() {
                            return Ok(Some(Line::Text(line)));
                        }
                    }
                }
                b'>' if prompt && self.pending.iter().all(u8::is_ascii_whitespace) => {
                    self.pending.clear();
                    return Ok(Some(Line::Prompt));
                }
                b => {
                    if self.pending.len() < MAX_LINE {
                        self.pending.push(b);
                    }
                }
            }
        }
    }

    /// Runs one command; its information lines on `OK`.
    fn command(&mut self, command: &str, timeout: Duration) -> Result<Vec<String>, SmsError> {
        self.discard()?;
        self.write(format!("{command}\r").as_bytes())?;
        let deadline = Instant::now() + timeout;
        let mut info = Vec::new();
        loop {
            let line = match self.read_line(deadline, false)? {
                None => {
                    return Err(self.fault(SmsError::NoResponse {
                        command: command.to_owned(),
                    }));
                }
                Some(Line::Prompt) => continue,
                Some(Line::Text(l)) => l,
            };
            match at::final_result(&line) {
                Some(Final::Ok) => return Ok(info),
                Some(Final::Error) => {
                    return Err(SmsError::CommandFailed {
                        command: command.to_owned(),
                    });
                }
                Some(Final::Code(code)) => return Err(SmsError::from_code(code)),
                // The echo of the command (before ATE0 took effect).
                None if line.eq_ignore_ascii_case(command) => {}
                None => info.push(line),
            }
        }
    }

    /// The init sequence, once per connection and again after any fault: `AT`, echo off
    /// (`ATE0`), numeric errors (`AT+CMEE=1`), the SIM ready (`AT+CPIN?`), PDU mode
    /// (`AT+CMGF=0`).
    fn ensure_ready(&mut self) -> Result<(), SmsError> {
        if self.ready {
            return Ok(());
        }
        // ESC abandons a prompt left open by an earlier connection or a fault.
        self.write(&[ESC])?;
        let t = self.config.timeouts.command;
        // The first AT after a reset or an ESC may be lost in line noise: one more try.
        match self.command("AT", t) {
            Err(SmsError::NoResponse { .. } | SmsError::CommandFailed { .. }) => {
                self.command("AT", t)?;
            }
            other => {
                other?;
            }
        }
        self.command("ATE0", t)?;
        self.command("AT+CMEE=1", t)?;
        // A locked or missing SIM is said here, in its own words (TS 27.007 8.3).
        let pin = self.command("AT+CPIN?", t)?;
        let state = pin
            .iter()
            .find_map(|l| l.strip_prefix("+CPIN:"))
            .map(str::trim)
            .unwrap_or_default();
        if state != "READY" {
            tracing::warn!(%state, "the SMS modem's SIM is not ready");
            return Err(SmsError::SimPinRequired);
        }
        self.command("AT+CMGF=0", t)?;
        self.ready = true;
        tracing::debug!("SMS modem initialised");
        Ok(())
    }

    fn registration(&mut self) -> Result<Registration, SmsError> {
        let info = self.command("AT+CREG?", self.config.timeouts.command)?;
        info.iter()
            .find_map(|l| at::creg(l))
            .ok_or_else(|| SmsError::UnexpectedAnswer {
                command: "AT+CREG?".into(),
                answer: info.join(" | "),
            })
    }

    /// Sends one PDU; the modem's message reference.
    fn send_part(&mut self, pdu: &SubmitPdu) -> Result<u8, PartFailure> {
        let not_sent = PartFailure::NotSent;
        let command = format!("AT+CMGS={}", pdu.tpdu_len());
        self.discard().map_err(not_sent)?;
        self.write(format!("{command}\r").as_bytes())
            .map_err(not_sent)?;
        let deadline = Instant::now() + self.config.timeouts.prompt;
        loop {
            match self.read_line(deadline, true).map_err(not_sent)? {
                Some(Line::Prompt) => break,
                Some(Line::Text(l)) => match at::final_result(&l) {
                    Some(Final::Code(code)) => return Err(not_sent(SmsError::from_code(code))),
                    Some(Final::Error) => {
                        return Err(not_sent(SmsError::CommandFailed { command }));
                    }
                    Some(Final::Ok) => {
                        return Err(not_sent(SmsError::UnexpectedAnswer { command, answer: l }));
                    }
                    None => tracing::debug!(line = %l, "ignored while waiting for the prompt"),
                },
                None => {
                    // Withdraw the command in case the prompt is merely late: without the
                    // PDU and Ctrl-Z nothing can go out.
                    let _ = self.link.write_all(&[ESC]);
                    return Err(not_sent(self.fault(SmsError::ModemBusy)));
                }
            }
        }
        let mut wire = pdu.hex().into_bytes();
        wire.push(CTRL_Z);
        if let Err(e) = self.link.write_all(&wire) {
            // Some of it, Ctrl-Z included, may have reached the modem.
            tracing::warn!(error = %e, "the line failed while the PDU was being written");
            self.ready = false;
            return Err(PartFailure::Unknown);
        }
        let deadline = Instant::now() + self.config.timeouts.send;
        let mut reference = None;
        loop {
            let line = match self.read_line(deadline, false) {
                Ok(Some(Line::Text(l))) => l,
                Ok(Some(Line::Prompt)) => continue,
                Ok(None) | Err(_) => {
                    self.ready = false;
                    return Err(PartFailure::Unknown);
                }
            };
            if let Some(mr) = at::cmgs(&line) {
                reference = Some(mr);
                continue;
            }
            match at::final_result(&line) {
                Some(Final::Ok) => {
                    return reference.ok_or_else(|| {
                        // OK without +CMGS is not what TS 27.005 promises: whether the
                        // message went cannot be told.
                        tracing::warn!("the modem said OK without +CMGS");
                        PartFailure::Unknown
                    });
                }
                Some(Final::Code(code)) => return Err(not_sent(SmsError::from_code(code))),
                Some(Final::Error) => return Err(not_sent(SmsError::CommandFailed { command })),
                // The PDU's echo, or an unsolicited result code.
                None => tracing::debug!("ignored while waiting for +CMGS"),
            }
        }
    }
}

impl<L: Link> SmsGateway for GsmModem<L> {
    fn send(&mut self, to: &PhoneNumber, text: &str) -> Result<SentMessage, SmsError> {
        let alphabet = pdu::segment(text).alphabet;
        let options = SubmitOptions {
            smsc: self.config.smsc.clone(),
            validity: self.config.validity,
            reference: self.next_reference,
            max_parts: self.config.max_parts,
        };
        let pdus = pdu::encode_submit(to, text, &options)?;
        if pdus.len() > 1 {
            // Each long message gets its own concatenation reference, sent or not.
            self.next_reference = self.next_reference.wrapping_add(1);
        }
        self.ensure_ready()?;
        let registration = self.registration()?;
        if !registration.is_registered() {
            tracing::info!(%registration, "SMS not sent: the modem is not on the network");
            return Err(SmsError::NotRegistered(registration));
        }
        let total = pdus.len();
        let mut confirmed = Vec::with_capacity(total);
        for (i, part) in pdus.iter().enumerate() {
            match self.send_part(part) {
                Ok(mr) => confirmed.push(mr),
                Err(PartFailure::NotSent(cause)) => {
                    tracing::warn!(to = %to.masked(), part = i + 1, total, error = %cause, "SMS part not sent");
                    return Err(if confirmed.is_empty() {
                        cause
                    } else {
                        SmsError::PartlySent {
                            confirmed,
                            total,
                            cause: Box::new(cause),
                        }
                    });
                }
                Err(PartFailure::Unknown) => {
                    tracing::warn!(to = %to.masked(), part = i + 1, total, "SMS part outcome unknown");
                    return Err(SmsError::OutcomeUnknown {
                        part: i + 1,
                        total,
                        confirmed,
                    });
                }
            }
        }
        tracing::info!(to = %to.masked(), parts = total, ?alphabet, "SMS sent");
        Ok(SentMessage {
            references: confirmed,
            alphabet,
        })
    }

    fn status(&mut self) -> Result<ModemStatus, SmsError> {
        self.ensure_ready()?;
        let registration = self.registration()?;
        let t = self.config.timeouts.command;
        let signal = self.command("AT+CSQ", t)?.iter().find_map(|l| at::csq(l));
        // The operator's name is a nicety: a modem that will not say is no error.
        let operator = match self.command("AT+COPS?", t) {
            Ok(info) => info.iter().find_map(|l| at::cops(l)),
            Err(e @ (SmsError::ConnectionLost | SmsError::PortUnavailable { .. })) => {
                return Err(e);
            }
            Err(e) => {
                tracing::debug!(error = %e, "no operator name");
                None
            }
        };
        Ok(ModemStatus {
            registration,
            signal,
            operator,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::terminal::link::MemoryLink;

    const SOON: Duration = Duration::from_secs(3);

    fn config() -> ModemConfig {
        ModemConfig {
            timeouts: ModemTimeouts {
                command: Duration::from_millis(500),
                prompt: Duration::from_millis(500),
                send: Duration::from_millis(800),
            },
            ..ModemConfig::default()
        }
    }

    /// The next command line the driver sent (up to CR), skipping ESC.
    fn command(link: &mut MemoryLink) -> String {
        let mut line = Vec::new();
        loop {
            match link.read_byte(Instant::now() + SOON).unwrap() {
                Some(b'\r') if !line.is_empty() => return String::from_utf8(line).unwrap(),
                Some(b'\r' | ESC) => {}
                Some(b) => line.push(b),
                None => panic!("the driver sent no command"),
            }
        }
    }

    /// A scripted modem: answers each expected command with its reply.
    fn fake(
        mut link: MemoryLink,
        script: Vec<(&'static str, &'static str)>,
    ) -> std::thread::JoinHandle<MemoryLink> {
        std::thread::spawn(move || {
            for (want, reply) in script {
                assert_eq!(command(&mut link), want);
                link.write_all(reply.as_bytes()).unwrap();
            }
            link
        })
    }

    const INIT: [(&str, &str); 5] = [
        ("AT", "AT\r\r\nOK\r\n"),
        ("ATE0", "ATE0\r\r\nOK\r\n"),
        ("AT+CMEE=1", "\r\nOK\r\n"),
        ("AT+CPIN?", "\r\n+CPIN: READY\r\n\r\nOK\r\n"),
        ("AT+CMGF=0", "\r\nOK\r\n"),
    ];

    #[test]
    fn a_locked_or_missing_sim_is_said_at_init() {
        for (answer, want) in [
            ("\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n", SmsError::SimPinRequired),
            ("\r\n+CME ERROR: 10\r\n", SmsError::SimNotInserted),
        ] {
            let (ours, theirs) = MemoryLink::pair();
            let mut script = INIT[..3].to_vec();
            script.push(("AT+CPIN?", answer));
            let modem_thread = fake(theirs, script);
            let mut m = GsmModem::new(ours, config()).unwrap();
            let e = m
                .send(&PhoneNumber::parse("10086").unwrap(), "hi")
                .unwrap_err();
            let _ = modem_thread.join().unwrap();
            assert_eq!(e, want);
            assert!(e.is_retryable() && e.needs_staff(), "{e:?}");
        }
    }

    #[test]
    fn status_reads_registration_signal_and_operator_past_echo_and_urcs() {
        let (ours, theirs) = MemoryLink::pair();
        let mut script = INIT.to_vec();
        script.extend([
            ("AT+CREG?", "\r\n+CREG: 0,5\r\n\r\nOK\r\n"),
            ("AT+CSQ", "\r\nRING\r\n\r\n+CSQ: 18,99\r\n\r\nOK\r\n"),
            ("AT+COPS?", "\r\n+CME ERROR: 3\r\n"),
        ]);
        let modem_thread = fake(theirs, script);
        let mut m = GsmModem::new(ours, config()).unwrap();
        let s = m.status().unwrap();
        let _ = modem_thread.join().unwrap();
        assert_eq!(s.registration, Registration::Roaming);
        assert_eq!(s.signal.and_then(|q| q.dbm()), Some(-77));
        assert_eq!(s.operator, None);
        assert!(s.is_registered());
    }

    #[test]
    fn an_error_after_the_pdu_is_typed_and_a_missing_prompt_sends_nothing() {
        let (ours, theirs) = MemoryLink::pair();
        let mut script = INIT.to_vec();
        script.extend([
            ("AT+CREG?", "\r\n+CREG: 0,1\r\n\r\nOK\r\n"),
            ("AT+CMGS=15", "\r\n> "),
            // The PDU line (ends with Ctrl-Z, not CR: read up to the next command).
        ]);
        let modem_thread = std::thread::spawn(move || {
            let mut link = fake(theirs, script).join().unwrap();
            let mut pdu = Vec::new();
            loop {
                match link.read_byte(Instant::now() + SOON).unwrap() {
                    Some(CTRL_Z) => break,
                    Some(b) => pdu.push(b),
                    None => panic!("no PDU"),
                }
            }
            link.write_all(b"\r\n+CMS ERROR: 21\r\n").unwrap();
            // Second message: the modem never shows the prompt.
            assert_eq!(command(&mut link), "AT+CREG?");
            link.write_all(b"\r\n+CREG: 0,1\r\n\r\nOK\r\n").unwrap();
            assert!(command(&mut link).starts_with("AT+CMGS="));
            (String::from_utf8(pdu).unwrap(), link)
        });
        let mut m = GsmModem::new(ours, config()).unwrap();
        let to = PhoneNumber::parse("10086").unwrap();
        let e = m.send(&to, "CXYE").unwrap_err();
        assert_eq!(e, SmsError::Rejected(super::super::ErrorCode::Cms(21)));
        assert!(e.is_retryable());
        assert_eq!(m.send(&to, "CXYE").unwrap_err(), SmsError::ModemBusy);
        let (pdu, _link) = modem_thread.join().unwrap();
        let back = pdu::decode_submit(&pdu::from_hex(&pdu).unwrap()).unwrap();
        assert_eq!((back.to.as_str(), back.text.as_str()), ("10086", "CXYE"));
    }

    #[test]
    fn a_modem_that_never_answers_is_no_response() {
        let (ours, _theirs) = MemoryLink::pair();
        let mut m = GsmModem::new(ours, config()).unwrap();
        assert_eq!(
            m.status().unwrap_err(),
            SmsError::NoResponse {
                command: "AT".into()
            }
        );
    }

    #[test]
    fn bad_settings_and_bad_messages_are_refused_before_the_modem_is_touched() {
        let (ours, _theirs) = MemoryLink::pair();
        let mut c = config();
        c.max_parts = 0;
        assert!(matches!(GsmModem::new(ours, c), Err(SmsError::Config(_))));
        let (ours, _theirs) = MemoryLink::pair();
        let mut c = config();
        c.max_parts = 2;
        let mut m = GsmModem::new(ours, c).unwrap();
        let to = PhoneNumber::parse("10086").unwrap();
        assert_eq!(m.send(&to, "").unwrap_err(), SmsError::EmptyMessage);
        assert_eq!(
            m.send(&to, &"好".repeat(200)).unwrap_err(),
            SmsError::MessageTooLong { parts: 3, max: 2 }
        );
    }
}
