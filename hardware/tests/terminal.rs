//! The protocol E cash-register side over real pty pairs (socat), against our own terminal
//! simulator (in process and the `terminal-sim` binary) and against pyTeliumManager 2.4.2's
//! fake terminal, an implementation we did not write.
//!
//! Needs `socat` and `python3` (with venv); the Python peer is installed from PyPI into
//! `$HOME/.cache/servicehall/venv-telium` on first run by `tests/telium_peer_setup.sh`.
//! Every wait is bounded.

use domain::Fen;
use hardware::terminal::frame::LineCode;
use hardware::terminal::sim::{self, SimEnd};
use hardware::terminal::{
    DeclineReason, IdempotencyKey, Journal, LineFormat, Outcome, PaymentTerminal, SerialLink,
    SimBehaviour, SimHandle, SimTiming, StaffReason, TeliumConfig, TeliumTerminal, TerminalError,
    Timeouts, TransactionKind, TransactionState,
};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Harness

/// A socat pty pair: the register opens `a`, the terminal `b`.
struct PtyPair {
    socat: Child,
    a: PathBuf,
    b: PathBuf,
}

impl PtyPair {
    fn new(dir: &Path) -> PtyPair {
        let a = dir.join("register");
        let b = dir.join("terminal");
        let socat = Command::new("socat")
            .arg("-d")
            .arg("-d")
            .arg(format!("pty,raw,echo=0,link={}", a.display()))
            .arg(format!("pty,raw,echo=0,link={}", b.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat must be installed (apt-get install socat)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !(a.exists() && b.exists()) {
            assert!(Instant::now() < deadline, "socat made no pty pair in 5 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        PtyPair { socat, a, b }
    }

    /// The pty pair disappears (as when a USB terminal is unplugged).
    fn close(&mut self) {
        let _ = self.socat.kill();
        let _ = self.socat.wait();
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        self.close();
        let _ = std::fs::remove_file(&self.a);
        let _ = std::fs::remove_file(&self.b);
    }
}

// Generous for a loaded 2-core machine with socat in between; the simulator's `reply`
// must stay well above the register's `frame` (the register waits that long before it
// refuses garbage with NAK).
fn timeouts() -> Timeouts {
    Timeouts {
        ack: Duration::from_millis(600),
        frame: Duration::from_millis(600),
        answer: Duration::from_millis(1500),
        reconcile: Duration::from_millis(1000),
    }
}

fn sim_timing() -> SimTiming {
    SimTiming {
        ack: Duration::from_millis(600),
        frame: Duration::from_millis(1000),
        reply: Duration::from_millis(2000),
        retries: 3,
    }
}

fn config(line: LineFormat) -> TeliumConfig {
    TeliumConfig {
        line,
        timeouts: timeouts(),
        ..TeliumConfig::default()
    }
}

fn register(dir: &Path, device: &Path, line: LineFormat) -> TeliumTerminal<SerialLink> {
    TeliumTerminal::open_serial(
        device.to_str().unwrap(),
        config(line),
        &dir.join("payments.journal"),
    )
    .unwrap()
}

/// Our simulator on the terminal end of a pty pair, on a thread.
fn sim_on(device: &Path, code: LineCode) -> (SimHandle, JoinHandle<SimEnd>) {
    let line = match code {
        LineCode::Eight => LineFormat::EightN1,
        _ => LineFormat::SevenE1Software,
    };
    let mut link = SerialLink::new(device.to_str().unwrap(), 9600, line);
    link.open().unwrap();
    sim::spawn(link, code, sim_timing()).unwrap()
}

struct Setup {
    dir: tempfile::TempDir,
    pty: PtyPair,
    sim: SimHandle,
    sim_thread: Option<JoinHandle<SimEnd>>,
    register: TeliumTerminal<SerialLink>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.sim.stop();
        if let Some(t) = self.sim_thread.take() {
            let _ = t.join();
        }
    }
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::new(dir.path());
    let (sim, thread) = sim_on(&pty.b, LineCode::Eight);
    let register = register(dir.path(), &pty.a, LineFormat::EightN1);
    Setup {
        dir,
        pty,
        sim,
        sim_thread: Some(thread),
        register,
    }
}

fn key(s: &str) -> IdempotencyKey {
    IdempotencyKey::new(s).unwrap()
}

fn approved_amount(o: &Outcome) -> Fen {
    match o {
        Outcome::Approved(a) => a.amount,
        o => panic!("expected an approval, got {o:?}"),
    }
}

/// Runs `f` on a thread and fails the test if it takes longer than `limit`.
fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

// ---------------------------------------------------------------------------------------
// Against our own simulator

#[test]
fn a_sale_is_approved_and_a_retry_does_not_charge_again() {
    let mut s = setup();
    let o = s.register.sale(&key("sale-1"), Fen(12_345)).unwrap();
    assert_eq!(approved_amount(&o), Fen(12_345));
    match &o {
        Outcome::Approved(a) => {
            assert_eq!(
                a.card_tail.as_deref(),
                Some("7890"),
                "only the card's tail is kept"
            );
            assert!(!a.confirmed_by_staff);
        }
        _ => unreachable!(),
    }
    assert_eq!(s.register.sale(&key("sale-1"), Fen(12_345)).unwrap(), o);
    let charges = s.sim.charges();
    assert_eq!(charges.len(), 1, "the retry must not reach the terminal");
    assert_eq!(charges[0].amount, Fen(12_345));
    assert_eq!(charges[0].pos, 1);
    let last = s.register.last_transaction().unwrap().unwrap();
    assert_eq!(last.key, key("sale-1"));
    assert_eq!(last.kind, TransactionKind::Sale);
}

#[test]
fn a_declined_card_is_declined() {
    let mut s = setup();
    s.sim.push(SimBehaviour::Decline);
    let o = s.register.sale(&key("d"), Fen(5_000)).unwrap();
    assert_eq!(o, Outcome::Declined(DeclineReason::Refused));
    assert_eq!(o.to_string(), "the card was declined");
    assert!(s.sim.charges().is_empty());
}

#[test]
fn a_terminal_that_times_out_mid_sale_and_answers_late_is_reconciled() {
    let mut s = setup();
    // A register that gives up on the answer after 1 s and then listens for 10 s; the
    // terminal answers 3 s after taking the request. Seconds of slack on both sides, so
    // a loaded machine cannot push the answer out of the window.
    s.register = TeliumTerminal::open_serial(
        s.pty.a.to_str().unwrap(),
        TeliumConfig {
            timeouts: Timeouts {
                answer: Duration::from_secs(1),
                reconcile: Duration::from_secs(10),
                ..timeouts()
            },
            ..config(LineFormat::EightN1)
        },
        &s.dir.path().join("late.journal"),
    )
    .unwrap();
    s.sim
        .push(SimBehaviour::AnswerAfter(Duration::from_secs(3)));
    let started = Instant::now();
    let o = s.register.sale(&key("late"), Fen(800)).unwrap();
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert_eq!(approved_amount(&o), Fen(800));
    assert_eq!(s.sim.charges().len(), 1);
}

#[test]
fn a_terminal_that_never_answers_needs_staff_and_the_key_is_blocked() {
    let mut s = setup();
    s.sim.push(SimBehaviour::NoAnswer);
    let o = s.register.sale(&key("lost"), Fen(800)).unwrap();
    assert_eq!(o, Outcome::UnknownNeedsStaff(StaffReason::NoAnswer));
    // Retrying the same key answers from the journal, without sending anything.
    assert_eq!(s.register.sale(&key("lost"), Fen(800)).unwrap(), o);
    assert_eq!(s.sim.requests().len(), 1);
    assert_eq!(
        s.sim.charges().len(),
        1,
        "the simulated card was charged once"
    );
    // The terminal still works for the next customer.
    assert_eq!(
        approved_amount(&s.register.sale(&key("next"), Fen(100)).unwrap()),
        Fen(100)
    );
}

#[test]
fn a_nak_then_a_retry_succeeds() {
    let mut s = setup();
    s.sim.nak_requests(2);
    let o = s.register.sale(&key("nak"), Fen(2_000)).unwrap();
    assert_eq!(approved_amount(&o), Fen(2_000));
    assert_eq!(s.sim.requests().len(), 1);
}

#[test]
fn naks_beyond_the_retry_limit_are_an_error_and_nothing_is_charged() {
    let mut s = setup();
    s.sim.nak_requests(100);
    let err = s.register.sale(&key("nak4"), Fen(2_000)).unwrap_err();
    assert!(
        matches!(err, TerminalError::RequestRejected { attempts: 4 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("nothing was charged"));
    assert!(s.sim.requests().is_empty());
    assert!(matches!(
        s.register.transaction(&key("nak4")).unwrap().unwrap().state,
        TransactionState::NotCharged { .. }
    ));
    // Nothing was charged, so the same key may go again.
    s.sim.nak_requests(0);
    assert_eq!(
        approved_amount(&s.register.sale(&key("nak4"), Fen(2_000)).unwrap()),
        Fen(2_000)
    );
    assert_eq!(s.sim.charges().len(), 1);
}

#[test]
fn a_wrong_lrc_from_the_terminal_is_nakked_and_the_repeat_accepted() {
    let mut s = setup();
    s.sim.push(SimBehaviour::BadLrcThenApprove(1));
    let o = s.register.sale(&key("lrc"), Fen(4_200)).unwrap();
    assert_eq!(approved_amount(&o), Fen(4_200));
    let r = &s.sim.requests()[0];
    assert!(r.answer_delivered);
    assert_eq!(r.answer_naks, 1, "the bad frame must be refused with NAK");
}

#[test]
fn garbage_and_truncated_frames_are_survived() {
    let mut s = setup();
    s.sim.push(SimBehaviour::NoiseThenApprove);
    s.sim.push(SimBehaviour::GarbageThenApprove(2));
    s.sim.push(SimBehaviour::TruncatedThenApprove(1));
    for k in ["noise", "garbage", "truncated"] {
        let o = s.register.sale(&key(k), Fen(300)).unwrap();
        assert_eq!(approved_amount(&o), Fen(300), "{k}");
    }
    let naks: Vec<u32> = s.sim.requests().iter().map(|r| r.answer_naks).collect();
    assert_eq!(
        naks,
        vec![0, 2, 1],
        "each spoiled answer is refused with NAK"
    );
    // An answer that never becomes readable: the card was charged at the terminal, and
    // the register says so honestly instead of guessing.
    s.sim.push(SimBehaviour::GarbageThenApprove(100));
    let o = s.register.sale(&key("garbled"), Fen(300)).unwrap();
    assert_eq!(o, Outcome::UnknownNeedsStaff(StaffReason::GarbledAnswer));
    assert_eq!(s.sim.charges().len(), 4);
}

#[test]
fn the_pty_closing_mid_sale_needs_staff_and_a_retry_does_not_charge_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut pty = PtyPair::new(dir.path());
    let (sim, t) = sim_on(&pty.b, LineCode::Eight);
    let mut reg = register(dir.path(), &pty.a, LineFormat::EightN1);
    sim.push(SimBehaviour::AnswerAfter(Duration::from_secs(5)));
    let sale = std::thread::spawn(move || {
        let o = reg.sale(&key("unplugged"), Fen(9_900));
        (reg, o)
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    while sim.requests().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the request never reached the terminal"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    pty.close(); // the terminal's cable is pulled while the customer pays
    let (mut reg, o) = sale.join().unwrap();
    let o = o.unwrap();
    assert_eq!(o, Outcome::UnknownNeedsStaff(StaffReason::ConnectionLost));
    sim.stop();
    let _ = t.join();

    // The terminal comes back on the same line; the same key is answered from the
    // journal and never sent again.
    let pty = PtyPair::new(dir.path());
    let (sim2, t2) = sim_on(&pty.b, LineCode::Eight);
    assert_eq!(reg.sale(&key("unplugged"), Fen(9_900)).unwrap(), o);
    assert!(sim2.requests().is_empty(), "no second charge");
    // The port is reopened for the next customer.
    assert_eq!(
        approved_amount(&reg.sale(&key("after"), Fen(1_000)).unwrap()),
        Fen(1_000)
    );
    sim2.stop();
    let _ = t2.join();
}

#[test]
fn seven_e1_with_software_parity_over_a_pty() {
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::new(dir.path());
    let (sim, t) = sim_on(&pty.b, LineCode::SevenEvenParity);
    let mut reg = register(dir.path(), &pty.a, LineFormat::SevenE1Software);
    let o = reg.sale(&key("7e1"), Fen(6_600)).unwrap();
    assert_eq!(approved_amount(&o), Fen(6_600));
    // A register misconfigured for 8N1 gets through the handshake (ENQ and ACK have even
    // parity already) but its request frame and the terminal's NAK are garbled: the
    // register cannot tell whether the request was taken, so it says so.
    drop(reg);
    let mut wrong = TeliumTerminal::open_serial(
        pty.a.to_str().unwrap(),
        config(LineFormat::EightN1),
        &dir.path().join("wrong.journal"),
    )
    .unwrap();
    assert_eq!(
        wrong.sale(&key("8n1"), Fen(100)).unwrap(),
        Outcome::UnknownNeedsStaff(StaffReason::NoAnswer)
    );
    assert_eq!(
        sim.charges().len(),
        1,
        "the garbled request was never taken"
    );
    sim.stop();
    let _ = t.join();
}

#[test]
fn a_crash_mid_sale_is_reconciled_at_next_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments.journal");
    {
        // A previous run journalled a sale and died before the answer.
        let mut j = Journal::open(&path).unwrap();
        j.begin(&key("crashed"), TransactionKind::Sale, Fen(7_700))
            .unwrap();
    }
    let pty = PtyPair::new(dir.path());
    let (sim, t) = sim_on(&pty.b, LineCode::Eight);
    let mut reg = register(dir.path(), &pty.a, LineFormat::EightN1);
    let last = reg.last_transaction().unwrap().unwrap();
    assert_eq!(
        last.state,
        TransactionState::Finished(Outcome::UnknownNeedsStaff(
            StaffReason::InterruptedByRestart
        ))
    );
    assert_eq!(
        reg.sale(&key("crashed"), Fen(7_700)).unwrap(),
        Outcome::UnknownNeedsStaff(StaffReason::InterruptedByRestart)
    );
    assert!(sim.requests().is_empty());
    assert_eq!(
        approved_amount(&reg.sale(&key("fresh"), Fen(10)).unwrap()),
        Fen(10)
    );
    sim.stop();
    let _ = t.join();
}

// ---------------------------------------------------------------------------------------
// The terminal-sim binary

struct SimProcess {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl SimProcess {
    fn start(device: &Path) -> SimProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_terminal-sim"))
            .arg("--device")
            .arg(device)
            .args([
                "--ack-ms",
                "600",
                "--frame-ms",
                "1000",
                "--reply-ms",
                "2000",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut p = SimProcess {
            child,
            stdin,
            lines: rx,
        };
        p.expect("ready");
        p
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The next output line starting with `prefix` (others are skipped), within 5 s.
    fn expect(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!("terminal-sim never printed {prefix:?}"),
            }
        }
    }

    fn wait_exit(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "terminal-sim did not exit");
            std::thread::sleep(Duration::from_millis(10));
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
fn the_simulator_binary_approves_declines_and_disappears_on_command() {
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::new(dir.path());
    let mut sim = SimProcess::start(&pty.b);
    let mut reg = register(dir.path(), &pty.a, LineFormat::EightN1);

    assert_eq!(
        approved_amount(&reg.sale(&key("bin-1"), Fen(1_234)).unwrap()),
        Fen(1_234)
    );
    assert!(sim.expect("request").contains("Debit 1234 pos 01"));
    sim.expect("answer Success delivered");

    sim.send("decline");
    sim.expect("queued");
    assert_eq!(
        reg.refund(&key("bin-2"), Fen(50)).unwrap(),
        Outcome::Declined(DeclineReason::Refused)
    );
    assert!(sim.expect("request").contains("Credit 50"));

    // The terminal vanishes after taking the request (its process exits).
    sim.send("drop");
    sim.expect("queued");
    let o = reg.sale(&key("bin-3"), Fen(7_000)).unwrap();
    sim.expect("dropping");
    sim.wait_exit();
    assert!(
        matches!(
            o,
            Outcome::UnknownNeedsStaff(StaffReason::ConnectionLost | StaffReason::NoAnswer)
        ),
        "{o:?}"
    );

    // A new simulator on the same line: the retry is answered from the journal.
    let mut sim2 = SimProcess::start(&pty.b);
    assert_eq!(reg.sale(&key("bin-3"), Fen(7_000)).unwrap(), o);
    sim2.send("status");
    assert_eq!(
        sim2.expect("status"),
        "status requests=0 charges=0 queued=0 default=Approve silent=false"
    );
    sim2.send("quit");
    sim2.wait_exit();
}

// ---------------------------------------------------------------------------------------
// Against pyTeliumManager 2.4.2, an implementation we did not write

fn telium_venv() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/telium_peer_setup.sh");
    let out = bounded(Duration::from_secs(300), move || {
        Command::new("bash").arg(script).output()
    })
    .expect("bash must be available");
    assert!(
        out.status.success(),
        "could not prepare the pyTeliumManager virtualenv (needs python3-venv and PyPI):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn python_peer(venv: &Path, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/telium_peer.py");
    let mut child = Command::new(venv.join("bin/python"))
        .arg("-u")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn wait_line(rx: &mpsc::Receiver<String>, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if l.starts_with(prefix) => return l,
            Ok(_) => {}
            Err(_) => panic!("the Python peer never printed {prefix:?}"),
        }
    }
}

#[test]
fn a_sale_against_pytelium_fake_terminal_is_approved_with_the_right_amount() {
    let venv = telium_venv();
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::new(dir.path());
    let test_dir = venv.join("telium-test");
    let (mut peer, lines) = python_peer(
        &venv,
        &[
            "terminal",
            test_dir.to_str().unwrap(),
            pty.b.to_str().unwrap(),
            "1",
        ],
    );
    wait_line(&lines, "ready");
    let mut reg = register(dir.path(), &pty.a, LineFormat::EightN1);
    let o = reg.sale(&key("py-1"), Fen(8_888)).unwrap();
    match &o {
        Outcome::Approved(a) => {
            assert_eq!(a.amount, Fen(8_888));
            // The fake reports a Faker Visa number; we keep its last four digits only.
            let tail = a.card_tail.as_deref().unwrap();
            assert!(tail.len() == 4 && tail.bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(a.terminal_reference.as_deref(), Some("0000000000"));
        }
        o => panic!("{o:?}"),
    }
    wait_line(&lines, "served 1");
    let _ = peer.kill();
    let _ = peer.wait();
}

#[test]
fn pytelium_register_side_is_served_by_our_simulator() {
    let venv = telium_venv();
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::new(dir.path());
    let (sim, t) = sim_on(&pty.b, LineCode::Eight);
    let (mut peer, lines) = python_peer(&venv, &["register", pty.a.to_str().unwrap(), "56.78"]);
    let answer = wait_line(&lines, "{");
    let status = peer.wait().unwrap();
    assert!(status.success());
    assert!(answer.contains("\"result\": 0"), "{answer}");
    assert!(answer.contains("\"amount\": 56.78"), "{answer}");
    assert!(answer.contains("\"currency\": \"156\""), "{answer}");
    let charges = sim.charges();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount, Fen(5_678));
    sim.stop();
    let _ = t.join();
}

// ---------------------------------------------------------------------------------------
// The serial link itself

#[test]
fn discarding_input_on_a_line_that_never_falls_silent_is_bounded() {
    use hardware::terminal::Link;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let pty = PtyPair::new(dir.path());
    let mut talker = SerialLink::new(pty.b.to_str().unwrap(), 9600, LineFormat::EightN1);
    talker.open().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    // A chatty line: bytes keep arriving with no 1 ms gap.
    let chatter = std::thread::spawn(move || {
        while !stop2.load(Ordering::SeqCst) {
            if talker.write_all(&[b'~'; 64]).is_err() {
                break;
            }
        }
    });
    let mut link = SerialLink::new(pty.a.to_str().unwrap(), 9600, LineFormat::EightN1);
    link.open().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let (elapsed, result) = bounded(Duration::from_secs(5), move || {
        let started = Instant::now();
        let r = link.discard_input();
        (started.elapsed(), r)
    });
    stop.store(true, Ordering::SeqCst);
    let _ = chatter.join();
    assert_eq!(result, Ok(()));
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}
