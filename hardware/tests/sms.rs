//! The SMS gateway over real pty pairs (socat): the AT driver against our modem simulator
//! (on a thread and as the `modem-sim` binary), with what went out decoded back; and our
//! PDU encoder checked by an SMS PDU decoder we did not write (`sms-pdu-decoder`).
//!
//! Needs `socat`. Every wait is bounded; timeouts are short but leave room for a loaded
//! 2-core machine, and no test asserts on timing.

use hardware::pty::PtyPair;
use hardware::sms::pdu::{self, Alphabet, Concatenation, SubmitOptions};
use hardware::sms::sim::{self, ModemSimEnd};
use hardware::sms::{
    Disposition, ErrorCode, GsmModem, ModemBehaviour, ModemConfig, ModemSimHandle, ModemTimeouts,
    PhoneNumber, Registration, SimMessage, SmsError, SmsGateway,
};
use hardware::terminal::{LineFormat, SerialLink};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Harness

fn timeouts() -> ModemTimeouts {
    ModemTimeouts {
        command: Duration::from_millis(1500),
        prompt: Duration::from_millis(1500),
        send: Duration::from_millis(3000),
    }
}

fn gateway(device: &Path, timeouts: ModemTimeouts) -> GsmModem<SerialLink> {
    let config = ModemConfig {
        timeouts,
        ..ModemConfig::default()
    };
    GsmModem::open_serial(device.to_str().unwrap(), config).unwrap()
}

struct Setup {
    sim: ModemSimHandle,
    sim_thread: Option<JoinHandle<ModemSimEnd>>,
    modem: GsmModem<SerialLink>,
    // Dropped last: the pty pair, then its directory.
    _pty: PtyPair,
    _dir: tempfile::TempDir,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.sim.stop();
        if let Some(t) = self.sim_thread.take() {
            let _ = t.join();
        }
    }
}

fn setup_with(timeouts: ModemTimeouts) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (gw, md) = (dir.path().join("gateway"), dir.path().join("modem"));
    let pty = PtyPair::create(&gw, &md).expect("socat must be installed (apt-get install socat)");
    let mut link = SerialLink::new(md.to_str().unwrap(), 115_200, LineFormat::EightN1);
    link.open().unwrap();
    let (sim, thread) = sim::spawn(link).unwrap();
    Setup {
        sim,
        sim_thread: Some(thread),
        modem: gateway(&gw, timeouts),
        _pty: pty,
        _dir: dir,
    }
}

fn setup() -> Setup {
    setup_with(timeouts())
}

fn number(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

fn message(to: &str, text: &str, parts: usize) -> SimMessage {
    SimMessage {
        to: to.into(),
        text: text.into(),
        parts,
        complete: true,
    }
}

// ---------------------------------------------------------------------------------------
// Messages arrive exactly

#[test]
fn an_english_message_arrives_exactly() {
    let mut s = setup();
    let text = "Ticket A012: please go to counter 3. Fee paid: €5 [card] {ok} ~ \\ ^ |";
    let sent = s.modem.send(&number("+8613812345678"), text).unwrap();
    assert_eq!(sent.alphabet, Alphabet::Gsm7);
    assert_eq!(sent.parts(), 1);
    assert_eq!(
        s.sim.messages(),
        [message("+8613812345678", text, 1)],
        "the modem must have sent exactly this text to exactly this number"
    );
    let parts = s.sim.sent();
    assert_eq!(sent.references, [parts[0].message_reference]);
    assert!(parts[0].confirmed);
}

#[test]
fn a_chinese_message_arrives_exactly() {
    let mut s = setup();
    let text = "您的维修单 R-0042 已完成，请到 3 号柜台取机。";
    let sent = s.modem.send(&number("13812345678"), text).unwrap();
    assert_eq!(sent.alphabet, Alphabet::Ucs2);
    assert_eq!(s.sim.messages(), [message("13812345678", text, 1)]);
    assert_eq!(s.sim.sent()[0].alphabet, Alphabet::Ucs2);
}

#[test]
fn a_long_chinese_message_goes_as_three_parts_reassembled_in_order() {
    let mut s = setup();
    // 150 characters, none repeated in step with the part size, so a part out of place or
    // a character lost at a boundary shows.
    let text: String = "售后服务中心提醒您：维修已完成，请携带身份证件到柜台取机，谢谢！"
        .chars()
        .cycle()
        .take(149)
        .chain(std::iter::once('终'))
        .collect();
    assert_eq!(text.chars().count(), 150);
    let sent = s.modem.send(&number("+8613812345678"), &text).unwrap();
    assert_eq!(sent.parts(), 3);
    assert_eq!(sent.alphabet, Alphabet::Ucs2);

    let parts = s.sim.sent();
    assert_eq!(parts.len(), 3);
    let reference = parts[0].concatenation.unwrap().reference;
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(
            p.concatenation,
            Some(Concatenation {
                reference,
                total: 3,
                seq: u8::try_from(i + 1).unwrap()
            }),
            "part {i}"
        );
    }
    let lens: Vec<usize> = parts.iter().map(|p| p.text.chars().count()).collect();
    assert_eq!(lens, [67, 67, 16]);
    assert_eq!(s.sim.messages(), [message("+8613812345678", &text, 3)]);
    let mrs: Vec<u8> = parts.iter().map(|p| p.message_reference).collect();
    assert_eq!(sent.references, mrs);

    // The next long message has another concatenation reference.
    s.modem.send(&number("+8613812345678"), &text).unwrap();
    let next = s.sim.sent()[3].concatenation.unwrap().reference;
    assert_ne!(next, reference);
    assert_eq!(s.sim.messages().len(), 2);
}

#[test]
fn status_reports_registration_signal_and_operator() {
    let mut s = setup();
    let st = s.modem.status().unwrap();
    assert_eq!(st.registration, Registration::Home);
    assert!(st.is_registered());
    assert_eq!(st.signal.and_then(|q| q.dbm()), Some(-71));
    assert_eq!(st.operator.as_deref(), Some(sim::OPERATOR));
}

// ---------------------------------------------------------------------------------------
// Failures: typed, classified, and nothing sent twice

#[test]
fn no_network_is_retryable_and_nothing_is_sent() {
    let mut s = setup();
    s.sim.set_default(ModemBehaviour::NoNetwork);
    let st = s.modem.status().unwrap();
    assert!(!st.is_registered());
    assert_eq!(st.signal.and_then(|q| q.rssi), None);
    assert_eq!(st.operator, None);
    let e = s.modem.send(&number("13812345678"), "hello").unwrap_err();
    assert_eq!(e, SmsError::NotRegistered(Registration::NotRegistered));
    assert!(e.is_retryable());

    // Registered, but the network is gone by the time the PDU is sent: +CMS ERROR: 331.
    s.sim.set_default(ModemBehaviour::Normal);
    s.sim.push(ModemBehaviour::NoNetwork);
    let e = s.modem.send(&number("13812345678"), "hello").unwrap_err();
    assert_eq!(e, SmsError::NoNetworkService);
    assert!(e.is_retryable());
    assert!(!e.needs_staff());
    assert!(
        s.sim.sent().is_empty(),
        "nothing may be recorded as sent without a network"
    );

    // Later, the queue's retry goes through.
    s.modem.send(&number("13812345678"), "hello").unwrap();
    assert_eq!(s.sim.messages(), [message("13812345678", "hello", 1)]);
}

#[test]
fn out_of_credit_is_a_typed_rejection_for_staff() {
    let mut s = setup();
    s.sim.push(ModemBehaviour::OutOfCredit);
    let e = s.modem.send(&number("13812345678"), "您好").unwrap_err();
    assert_eq!(e, SmsError::Rejected(ErrorCode::Cms(sim::OUT_OF_CREDIT)));
    assert!(e.is_retryable(), "topped up, the same message can go");
    assert!(e.needs_staff());
    assert!(e.to_string().contains("out of credit"), "{e}");
    assert!(s.sim.sent().is_empty());
}

#[test]
fn any_cms_error_after_the_pdu_is_typed() {
    let mut s = setup();
    for (code, want) in [
        (332, SmsError::NetworkTimeout),
        (21, SmsError::Rejected(ErrorCode::Cms(21))),
        (500, SmsError::Modem(ErrorCode::Cms(500))),
    ] {
        s.sim.push(ModemBehaviour::CmsError(code));
        assert_eq!(s.modem.send(&number("10086"), "CXYE").unwrap_err(), want);
    }
    assert!(s.sim.sent().is_empty());
}

#[test]
fn a_slow_modem_within_the_timeout_succeeds() {
    let mut s = setup();
    s.sim.push(ModemBehaviour::Slow(Duration::from_millis(500)));
    let sent = s
        .modem
        .send(&number("+8613812345678"), "slow but sure")
        .unwrap();
    assert_eq!(sent.parts(), 1);
    assert_eq!(
        s.sim.messages(),
        [message("+8613812345678", "slow but sure", 1)]
    );
}

#[test]
fn silence_after_the_prompt_is_an_unknown_outcome_not_a_failure() {
    let mut s = setup_with(ModemTimeouts {
        send: Duration::from_millis(800),
        ..timeouts()
    });
    s.sim.push(ModemBehaviour::SilentAfterPrompt);
    let e = s
        .modem
        .send(&number("+8613812345678"), "您的号码 A012 已叫到")
        .unwrap_err();
    assert_eq!(
        e,
        SmsError::OutcomeUnknown {
            part: 1,
            total: 1,
            confirmed: vec![]
        }
    );
    assert!(!e.is_retryable(), "resending could duplicate the message");
    assert_eq!(e.disposition(), Disposition::MaybeSent);
    // And indeed the message did go out.
    let sent = s.sim.sent();
    assert_eq!(sent.len(), 1);
    assert!(!sent[0].confirmed);
    assert_eq!(sent[0].text, "您的号码 A012 已叫到");

    // The driver starts over and the next message is fine.
    s.modem.send(&number("+8613812345678"), "next").unwrap();
    assert_eq!(s.sim.sent().len(), 2);
}

#[test]
fn silence_on_a_later_part_says_which_parts_went() {
    let mut s = setup_with(ModemTimeouts {
        send: Duration::from_millis(800),
        ..timeouts()
    });
    s.sim.push(ModemBehaviour::Normal);
    s.sim.push(ModemBehaviour::SilentAfterPrompt);
    let e = s
        .modem
        .send(&number("+8613812345678"), &"好".repeat(150))
        .unwrap_err();
    let first = s.sim.sent()[0].message_reference;
    assert_eq!(
        e,
        SmsError::OutcomeUnknown {
            part: 2,
            total: 3,
            confirmed: vec![first]
        }
    );
    assert_eq!(s.sim.sent().len(), 2, "the third part must not be sent");
}

#[test]
fn a_modem_without_a_prompt_sends_nothing_and_may_be_retried() {
    let mut s = setup();
    s.sim.push(ModemBehaviour::Unresponsive);
    let e = s.modem.send(&number("10086"), "hello").unwrap_err();
    assert_eq!(e, SmsError::ModemBusy);
    assert!(e.is_retryable());
    s.sim.set_default(ModemBehaviour::Unresponsive);
    let e = s.modem.status().unwrap_err();
    assert!(matches!(e, SmsError::NoResponse { .. }), "{e:?}");
    assert!(s.sim.sent().is_empty());
}

#[test]
fn a_missing_modem_is_unavailable_and_retryable() {
    let mut m = gateway(Path::new("/nonexistent/servicehall-modem"), timeouts());
    let e = m.send(&number("10086"), "hello").unwrap_err();
    assert!(matches!(e, SmsError::PortUnavailable { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert!(e.needs_staff());
}

#[test]
fn invalid_numbers_and_overlong_messages_are_permanent() {
    let mut s = setup();
    let e = PhoneNumber::parse("138-1234-567x").unwrap_err();
    assert_eq!(e.disposition(), Disposition::Permanent);
    let e = s
        .modem
        .send(&number("13812345678"), &"好".repeat(67 * 10 + 1))
        .unwrap_err();
    assert_eq!(e, SmsError::MessageTooLong { parts: 11, max: 10 });
    assert!(!e.is_retryable());
    assert!(s.sim.sent().is_empty());
}

// ---------------------------------------------------------------------------------------
// Our PDUs read by a decoder we did not write

fn options() -> SubmitOptions {
    SubmitOptions {
        smsc: None,
        validity: Some(Duration::from_secs(24 * 3600)),
        reference: 0x42,
        max_parts: 10,
    }
}

#[test]
fn an_independent_decoder_reads_our_pdus() {
    use sms_pdu_decoder::SmsSubmit;
    for (to, text, recipient) in [
        ("+46708251358", "hellohello", "46708251358"),
        ("13812345678", "Fee €5 [paid] {ok}", "13812345678"),
        (
            "+8613812345678",
            "您的维修单已完成，请到柜台取机。",
            "8613812345678",
        ),
    ] {
        let pdus = pdu::encode_submit(&number(to), text, &options()).unwrap();
        assert_eq!(pdus.len(), 1);
        let d = SmsSubmit::decode(&pdus[0].hex()).unwrap();
        assert_eq!(d.recipient.number, recipient);
        // That decoder reads whole octets rather than the UDL's septets, so the CR we put
        // in seven spare bits (TS 23.038 6.1.2.3.1; the second text is 23 septets) shows.
        assert_eq!(d.user_data.data.trim_end_matches('\r'), text);
        assert_eq!(d.vp, Some(167));
    }
    // A concatenated UCS-2 message: each part's text and its concatenation element.
    let text = "请".repeat(100);
    let pdus = pdu::encode_submit(&number("+8613812345678"), &text, &options()).unwrap();
    let mut joined = String::new();
    for (i, p) in pdus.iter().enumerate() {
        let d = SmsSubmit::decode(&p.hex()).unwrap();
        let header = d.user_data.header.expect("a user data header");
        let concat = header
            .elements
            .iter()
            .find(|e| e.iei == 0x00)
            .expect("a concatenation element");
        assert_eq!(concat.data["reference"].as_u64(), Some(0x42));
        assert_eq!(concat.data["parts_count"].as_u64(), Some(2));
        assert_eq!(concat.data["part_number"].as_u64(), Some(i as u64 + 1));
        joined.push_str(&d.user_data.data);
    }
    assert_eq!(joined, text);
}

// ---------------------------------------------------------------------------------------
// The modem-sim binary

struct SimProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl SimProcess {
    fn start(link: &Path) -> SimProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_modem-sim"))
            .arg("--link")
            .arg(link)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        SimProcess {
            child,
            stdin,
            lines,
        }
    }

    fn say(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next printed line that starts with `prefix`.
    fn expect(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!("modem-sim never printed {prefix:?}"),
            }
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_simulator_binary_sends_and_refuses_on_command() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let mut p = SimProcess::start(&link);
    assert_eq!(p.expect("ready"), format!("ready {}", link.display()));
    let mut m = gateway(&link, timeouts());

    m.send(&number("+8613812345678"), "请到 3 号柜台").unwrap();
    let line = p.expect("sent");
    assert!(line.contains("+86****5678"), "{line}");
    assert!(
        !line.contains("13812345678"),
        "numbers are printed masked: {line}"
    );
    assert!(line.ends_with(": 请到 3 号柜台"), "{line}");

    p.say("no-credit");
    p.expect("queued");
    let e = m.send(&number("+8613812345678"), "again").unwrap_err();
    assert_eq!(e, SmsError::Rejected(ErrorCode::Cms(sim::OUT_OF_CREDIT)));
    p.expect("refused +CMS ERROR: 8");

    p.say("status");
    assert_eq!(p.expect("status"), "status sent=1 queued=0 default=Normal");
    p.say("quit");
    p.expect("stopping");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if p.child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "modem-sim did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!link.exists(), "the pty link is removed on exit");
}
