//! The printer simulator: a receipt printer on the network (raw TCP, port 9100) that
//! takes jobs, answers `DLE EOT n` status requests at once (even in the middle of a job,
//! as a real printer's real-time command processing does), and stores each job as
//! `job-NNNN.bin` with its rendered picture `job-NNNN.png`. It can be told to run out of
//! paper, open its cover, go offline or print slowly, so callers' error paths can be
//! tested against something that behaves like the device.
//!
//! It must never pretend to print when the real device would not: with no paper or the
//! cover open it still answers status but discards print data; offline it refuses
//! connections and answers nothing. It never renders anything the renderer would not
//! (previews come from [`super::render`]), and it only ever writes into its job folder.
//!
//! A job is the bytes of one connection, or of one burst of it: it ends when the client
//! closes the connection or sends nothing for [`SimConfig::idle_timeout`] (the
//! connection then stays open for the next job). A connection that only asked for
//! status leaves no job.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::render;
use super::{PaperWidth, PrinterStatus};

/// The most one job may hold (a real printer's buffer is far smaller); the rest of an
/// oversized job is discarded.
pub const MAX_JOB_BYTES: usize = 16 * 1024 * 1024;

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// How the simulated printer is built.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The paper it renders jobs on.
    pub width: PaperWidth,
    /// Silence that ends a job on a connection that stays open.
    pub idle_timeout: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            width: PaperWidth::Mm80,
            idle_timeout: Duration::from_secs(2),
        }
    }
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot use {} as the printer simulator's job folder: {source}", path.display())]
    JobFolder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the printer simulator cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Something the simulated printer did, for a console or a test that wants to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimEvent {
    Connected {
        peer: SocketAddr,
    },
    /// A `DLE EOT n` request was answered with `byte`.
    StatusAnswered {
        n: u8,
        byte: u8,
    },
    /// A job was stored; `png` is its picture, or why it could not be rendered.
    JobStored {
        number: u32,
        bin: PathBuf,
        png: Result<PathBuf, String>,
        bytes: usize,
    },
    /// Print data arrived that the printer could not take (no paper, cover open,
    /// offline, job too big).
    Discarded {
        bytes: usize,
        reason: String,
    },
}

/// A command for a running simulator (what the `printer-sim` binary reads on stdin).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimCommand {
    PaperOut,
    PaperOk,
    PaperNearEnd,
    CoverOpen,
    CoverClosed,
    Offline,
    Online,
    /// Delay per KiB of data received.
    Slow(Duration),
    Status,
    Quit,
}

impl SimCommand {
    /// The words understood, for help text.
    pub const HELP: &'static str = "commands: paper-out, paper-ok, paper-near-end, cover-open, \
                                    cover-closed, offline, online, slow MS, status, quit";

    /// Parses one command line; the error says what was not understood.
    pub fn parse(line: &str) -> Result<SimCommand, String> {
        let mut words = line.split_whitespace();
        let command = match (words.next(), words.next()) {
            (Some("paper-out"), None) => SimCommand::PaperOut,
            (Some("paper-ok"), None) => SimCommand::PaperOk,
            (Some("paper-near-end"), None) => SimCommand::PaperNearEnd,
            (Some("cover-open"), None) => SimCommand::CoverOpen,
            (Some("cover-closed"), None) => SimCommand::CoverClosed,
            (Some("offline"), None) => SimCommand::Offline,
            (Some("online"), None) => SimCommand::Online,
            (Some("status"), None) => SimCommand::Status,
            (Some("quit"), None) => SimCommand::Quit,
            (Some("slow"), Some(ms)) => match ms.parse::<u64>() {
                Ok(ms) => SimCommand::Slow(Duration::from_millis(ms)),
                Err(_) => return Err(format!("slow needs milliseconds per KiB, not {ms:?}")),
            },
            _ => return Err(format!("not understood: {line:?} ({})", Self::HELP)),
        };
        if words.next().is_some() {
            return Err(format!("not understood: {line:?} ({})", Self::HELP));
        }
        Ok(command)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Conditions {
    paper_out: bool,
    paper_near_end: bool,
    cover_open: bool,
    offline: bool,
    slow_per_kib: Duration,
}

impl Conditions {
    fn status(&self) -> PrinterStatus {
        PrinterStatus {
            online: !self.offline,
            cover_open: self.cover_open,
            paper_near_end: self.paper_near_end,
            paper_out: self.paper_out,
            error: false,
        }
    }

    /// Why print data would be thrown away now, if it would.
    fn refusal(&self) -> Option<&'static str> {
        if self.offline {
            Some("the printer is offline")
        } else if self.paper_out {
            Some("the printer is out of paper")
        } else if self.cover_open {
            Some("the printer's cover is open")
        } else {
            None
        }
    }
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    config: SimConfig,
    conditions: Mutex<Conditions>,
    jobs: Mutex<Vec<PathBuf>>,
    next_job: AtomicU32,
    discarded: AtomicUsize,
    stop: AtomicBool,
    events: Mutex<Option<Sender<SimEvent>>>,
}

/// A lock that survives a panicked holder: the data is plain flags and paths.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn conditions(&self) -> Conditions {
        *lock(&self.conditions)
    }

    fn emit(&self, event: SimEvent) {
        let mut events = lock(&self.events);
        if let Some(sender) = events.as_ref()
            && sender.send(event).is_err()
        {
            *events = None;
        }
    }

    fn discard(&self, bytes: usize, reason: &str) {
        if bytes == 0 {
            return;
        }
        self.discarded.fetch_add(bytes, Ordering::Relaxed);
        tracing::info!(bytes, reason, "printer simulator discarded print data");
        self.emit(SimEvent::Discarded {
            bytes,
            reason: reason.to_string(),
        });
    }

    /// Writes a finished job and its picture.
    fn store(&self, job: &[u8]) {
        let number = self.next_job.fetch_add(1, Ordering::Relaxed);
        let bin = self.dir.join(format!("job-{number:04}.bin"));
        if let Err(e) = write_atomically(&bin, job) {
            tracing::error!(path = %bin.display(), error = %e, "printer simulator cannot store a job");
            self.discard(job.len(), "the job folder is not writable");
            return;
        }
        let png = match render::render(job, self.config.width).and_then(|r| r.to_png()) {
            Ok(png_bytes) => {
                let path = self.dir.join(format!("job-{number:04}.png"));
                write_atomically(&path, &png_bytes)
                    .map(|()| path)
                    .map_err(|e| format!("cannot write the picture: {e}"))
            }
            Err(e) => {
                let message = e.to_string();
                let path = self.dir.join(format!("job-{number:04}.error.txt"));
                // Best effort: the event carries the message too.
                let _ = write_atomically(&path, message.as_bytes());
                Err(message)
            }
        };
        tracing::info!(
            job = number,
            bytes = job.len(),
            "printer simulator stored a job"
        );
        lock(&self.jobs).push(bin.clone());
        self.emit(SimEvent::JobStored {
            number,
            bin,
            png,
            bytes: job.len(),
        });
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The first free job number in `dir` (numbering continues across runs).
fn next_job_number(dir: &Path) -> std::io::Result<u32> {
    let mut last = 0;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_prefix("job-"))
            .and_then(|n| n.strip_suffix(".bin"))
            .and_then(|n| n.parse::<u32>().ok());
        if let Some(n) = number {
            last = last.max(n);
        }
    }
    Ok(last + 1)
}

/// The simulated network printer.
#[derive(Debug)]
pub struct SimPrinter;

impl SimPrinter {
    /// Starts an 80 mm printer listening on `addr` (port 0 picks a free one) and
    /// storing jobs in `dir` (created if needed).
    pub fn start(
        dir: impl Into<PathBuf>,
        addr: impl ToSocketAddrs,
    ) -> Result<SimPrinterHandle, SimError> {
        Self::start_with(dir, addr, SimConfig::default())
    }

    /// Starts a printer built as `config` says.
    pub fn start_with(
        dir: impl Into<PathBuf>,
        addr: impl ToSocketAddrs,
        config: SimConfig,
    ) -> Result<SimPrinterHandle, SimError> {
        let dir = dir.into();
        let folder_error = |source| SimError::JobFolder {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(folder_error)?;
        let next = next_job_number(&dir).map_err(folder_error)?;
        let listen_error = |source| SimError::Listen {
            addr: addr
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .map_or_else(|| "the given address".to_string(), |a| a.to_string()),
            source,
        };
        let listener = TcpListener::bind(&addr).map_err(listen_error)?;
        let local = listener.local_addr().map_err(listen_error)?;
        listener.set_nonblocking(true).map_err(listen_error)?;
        let shared = Arc::new(Shared {
            dir,
            config,
            conditions: Mutex::new(Conditions::default()),
            jobs: Mutex::new(Vec::new()),
            next_job: AtomicU32::new(next),
            discarded: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            events: Mutex::new(None),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("printer-sim-accept".into())
            .spawn(move || accept_loop(listener, local, &accept_shared))
            .map_err(listen_error)?;
        tracing::info!(addr = %local, "printer simulator listening");
        Ok(SimPrinterHandle {
            shared,
            addr: local,
            accept: Some(accept),
        })
    }
}

/// Controls a running simulator; dropping it stops the simulator.
#[derive(Debug)]
pub struct SimPrinterHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl SimPrinterHandle {
    /// Where it listens (the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The folder jobs are stored in.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    fn change(&self, f: impl FnOnce(&mut Conditions)) {
        f(&mut lock(&self.shared.conditions));
    }

    /// Runs out of paper (`true`) or gets a new roll (`false`).
    pub fn set_paper_out(&self, out: bool) {
        self.change(|c| c.paper_out = out);
    }

    /// Reports the roll nearly finished (still prints).
    pub fn set_paper_near_end(&self, near_end: bool) {
        self.change(|c| c.paper_near_end = near_end);
    }

    /// Opens (`true`) or closes the cover.
    pub fn set_cover_open(&self, open: bool) {
        self.change(|c| c.cover_open = open);
    }

    /// Goes offline: new connections are refused, open ones get no answers and their
    /// data is discarded. `false` comes back online on the same address.
    pub fn set_offline(&self, offline: bool) {
        self.change(|c| c.offline = offline);
    }

    /// Takes `per_kib` to read each KiB of data (`Duration::ZERO`: full speed).
    pub fn set_slow(&self, per_kib: Duration) {
        self.change(|c| c.slow_per_kib = per_kib);
    }

    /// What it would answer to `DLE EOT` now.
    pub fn status(&self) -> PrinterStatus {
        self.shared.conditions().status()
    }

    /// The stored jobs' `.bin` files, oldest first (each with its `.png` beside it,
    /// or a `.error.txt` saying why it could not be rendered).
    pub fn jobs(&self) -> Vec<PathBuf> {
        lock(&self.shared.jobs).clone()
    }

    /// How many bytes of print data were thrown away so far.
    pub fn discarded_bytes(&self) -> usize {
        self.shared.discarded.load(Ordering::Relaxed)
    }

    /// A stream of what happens from now on (replaces an earlier subscription).
    pub fn subscribe(&self) -> Receiver<SimEvent> {
        let (sender, receiver) = mpsc::channel();
        *lock(&self.shared.events) = Some(sender);
        receiver
    }

    /// Carries out a console command; the answer is one line for the console.
    pub fn apply(&self, command: SimCommand) -> String {
        match command {
            SimCommand::PaperOut => self.set_paper_out(true),
            SimCommand::PaperOk => {
                self.set_paper_out(false);
                self.set_paper_near_end(false);
            }
            SimCommand::PaperNearEnd => self.set_paper_near_end(true),
            SimCommand::CoverOpen => self.set_cover_open(true),
            SimCommand::CoverClosed => self.set_cover_open(false),
            SimCommand::Offline => self.set_offline(true),
            SimCommand::Online => self.set_offline(false),
            SimCommand::Slow(per_kib) => self.set_slow(per_kib),
            SimCommand::Status | SimCommand::Quit => {}
        }
        let c = self.shared.conditions();
        let answers = c.status().to_answers();
        format!(
            "{} | paper {} | cover {} | slow {} ms/KiB | DLE EOT 1-4: {:02X} {:02X} {:02X} {:02X} | {} jobs stored, {} bytes discarded",
            if c.offline { "offline" } else { "online" },
            if c.paper_out {
                "out"
            } else if c.paper_near_end {
                "near end"
            } else {
                "ok"
            },
            if c.cover_open { "open" } else { "closed" },
            c.slow_per_kib.as_millis(),
            answers[0],
            answers[1],
            answers[2],
            answers[3],
            self.jobs().len(),
            self.discarded_bytes(),
        )
    }

    /// Stops listening, ends open connections (storing what they sent) and waits for
    /// every thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for SimPrinterHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: TcpListener, addr: SocketAddr, shared: &Arc<Shared>) {
    let mut listener = Some(listener);
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        connections.retain(|c| !c.is_finished());
        if shared.conditions().offline {
            // Closing the socket makes connection attempts fail with "refused".
            listener = None;
            std::thread::sleep(POLL);
            continue;
        }
        let Some(current) = listener.as_ref() else {
            match TcpListener::bind(addr).and_then(|l| l.set_nonblocking(true).map(|()| l)) {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "printer simulator cannot listen again");
                    std::thread::sleep(POLL * 10);
                }
            }
            continue;
        };
        match current.accept() {
            Ok((stream, peer)) => {
                shared.emit(SimEvent::Connected { peer });
                let conn_shared = Arc::clone(shared);
                let spawned = std::thread::Builder::new()
                    .name("printer-sim-conn".into())
                    .spawn(move || serve(stream, &conn_shared));
                match spawned {
                    Ok(handle) => connections.push(handle),
                    Err(e) => {
                        tracing::error!(error = %e, "printer simulator cannot take a connection")
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(e) => {
                tracing::warn!(error = %e, "printer simulator accept failed");
                std::thread::sleep(POLL);
            }
        }
    }
    drop(listener);
    for connection in connections {
        let _ = connection.join();
    }
}

/// Finds `DLE EOT n` in a stream that arrives in pieces.
#[derive(Debug, Default)]
struct StatusScanner {
    /// 0: nothing, 1: after DLE, 2: after DLE EOT.
    state: u8,
}

impl StatusScanner {
    /// Feeds one byte; returns `n` when it completes a `DLE EOT n`.
    fn feed(&mut self, b: u8) -> Option<u8> {
        let (next, found) = match (self.state, b) {
            (2, n) => (0, Some(n)),
            (1, 0x04) => (2, None),
            (_, 0x10) => (1, None),
            _ => (0, None),
        };
        self.state = next;
        found
    }
}

/// One connection: answers status at once, gathers jobs, stores them.
fn serve(mut stream: TcpStream, shared: &Shared) {
    let setup = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(POLL)))
        // A client that never reads its status answers must not wedge the thread.
        .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(1))))
        .and_then(|()| stream.set_nodelay(true));
    if let Err(e) = setup {
        tracing::warn!(error = %e, "printer simulator cannot set up a connection");
        return;
    }
    let mut scanner = StatusScanner::default();
    let mut job: Vec<u8> = Vec::new();
    // Bytes of print data in `job` (not counting status requests).
    let mut print_bytes = 0usize;
    let mut last_data = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                last_data = Instant::now();
                let chunk = buf.get(..n).unwrap_or(&[]);
                let conditions = shared.conditions();
                let mut requests = 0usize;
                for &b in chunk {
                    if let Some(request) = scanner.feed(b) {
                        requests += 1;
                        if conditions.offline || !(1..=4).contains(&request) {
                            continue;
                        }
                        let answers = conditions.status().to_answers();
                        let byte = answers.get(usize::from(request) - 1).copied().unwrap_or(0);
                        if stream
                            .write_all(&[byte])
                            .and_then(|()| stream.flush())
                            .is_ok()
                        {
                            shared.emit(SimEvent::StatusAnswered { n: request, byte });
                        }
                    }
                }
                let data = n.saturating_sub(requests * 3);
                if let Some(reason) = conditions.refusal() {
                    shared.discard(data, reason);
                } else if job.len() + n > MAX_JOB_BYTES {
                    shared.discard(data, "the job is larger than the simulator takes");
                } else {
                    job.extend_from_slice(chunk);
                    print_bytes += data;
                }
                if !conditions.slow_per_kib.is_zero() {
                    let factor = n as f64 / 1024.0;
                    // `mul_f64` panics on overflow (`slow` takes any u64 milliseconds).
                    let pause =
                        Duration::try_from_secs_f64(conditions.slow_per_kib.as_secs_f64() * factor)
                            .unwrap_or(Duration::MAX);
                    // In slices, so `stop` is not held up by a slow printer.
                    if !sleep_unless_stopped(pause, &shared.stop) {
                        break;
                    }
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if !job.is_empty() && last_data.elapsed() >= shared.config.idle_timeout {
                    finish_job(shared, &mut job, &mut print_bytes);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    finish_job(shared, &mut job, &mut print_bytes);
}

/// Sleeps for `pause`, looking at `stop` every [`POLL`]; false when stopped.
fn sleep_unless_stopped(pause: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now().checked_add(pause);
    loop {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let left = match until {
            Some(until) => until.saturating_duration_since(Instant::now()),
            None => POLL,
        };
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(POLL));
    }
}

fn finish_job(shared: &Shared, job: &mut Vec<u8>, print_bytes: &mut usize) {
    if *print_bytes > 0 {
        shared.store(job);
    }
    job.clear();
    *print_bytes = 0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_requests_are_found_across_pieces() {
        let mut scanner = StatusScanner::default();
        let stream = [b'A', 0x10, 0x04, 0x04, 0x10, 0x10, 0x04, 0x01, 0x04, 0x02];
        let found: Vec<u8> = stream.iter().filter_map(|b| scanner.feed(*b)).collect();
        assert_eq!(found, vec![4, 1]);
    }

    #[test]
    fn console_commands_parse() {
        assert_eq!(SimCommand::parse("paper-out"), Ok(SimCommand::PaperOut));
        assert_eq!(
            SimCommand::parse(" slow 250 "),
            Ok(SimCommand::Slow(Duration::from_millis(250)))
        );
        assert!(SimCommand::parse("slow fast").is_err());
        assert!(SimCommand::parse("quit now").is_err());
        assert!(SimCommand::parse("").is_err());
    }

    #[test]
    fn stop_returns_promptly_while_a_slow_printer_is_taking_a_job() {
        let dir = tempfile::tempdir().unwrap();
        let sim = SimPrinter::start(dir.path(), "127.0.0.1:0").unwrap();
        // An hour per KiB; and a value that would overflow `Duration::mul_f64`.
        sim.set_slow(Duration::from_secs(3600));
        let mut conn = TcpStream::connect(sim.local_addr()).unwrap();
        conn.write_all(&[b'x'; 2048]).unwrap();
        let mut other = TcpStream::connect(sim.local_addr()).unwrap();
        sim.set_slow(Duration::from_millis(u64::MAX));
        other.write_all(&[b'y'; 4096]).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            sim.stop();
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("stop() must not wait for the slow pause to end");
    }

    #[test]
    fn job_numbers_continue_after_earlier_runs() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(next_job_number(dir.path()).unwrap(), 1);
        std::fs::write(dir.path().join("job-0041.bin"), b"x").unwrap();
        std::fs::write(dir.path().join("job-0099.png"), b"x").unwrap();
        assert_eq!(next_job_number(dir.path()).unwrap(), 42);
    }
}
