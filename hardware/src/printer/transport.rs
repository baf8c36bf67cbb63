//! How bytes reach a real printer and its status comes back: the [`Transport`] trait and
//! its three implementations ([`DeviceFile`] for `/dev/usb/lp0`, [`Tcp`] for the raw
//! port 9100, [`Serial`]), and [`EscPosPrinter`], the [`ReceiptPrinter`] that asks the
//! printer for its status (`DLE EOT 1..4`) before each job and then sends the encoded job.
//!
//! Never lays out or encodes a document itself (that is [`super::document`] and
//! [`super::encode`]) and never blocks without a timeout: every read has one, and so
//! does every write (a device node's blocking job write is waited for with a timeout,
//! though the kernel write itself cannot be cancelled; see [`DeviceFile`]).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::document::Document;
use super::encode::encode_job;
use super::status::{self, PrinterStatus};
use super::{PrintError, PrinterProfile, ReceiptPrinter};

/// A byte pipe to one printer.
///
/// `read` waits at most `timeout` for at least one byte and fails with
/// [`ErrorKind::TimedOut`] when none came; `Ok(0)` means the other end is gone. A
/// transport that cannot read at all fails with [`ErrorKind::Unsupported`].
pub trait Transport: Send + fmt::Debug {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()>;
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize>;
    fn flush(&mut self) -> io::Result<()>;
    /// Drops bytes already received and not read (a late status answer must not be
    /// taken for the next one).
    fn discard_input(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Sends one whole print job and returns once it is handed over as far as this
    /// transport can tell.
    fn send_job(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)?;
        self.flush()
    }
    /// Whether [`EscPosPrinter::print`] asks for status again after a job, to report
    /// paper that ran out during it.
    fn checks_status_after_job(&self) -> bool {
        false
    }
}

/// The longest a write may make no progress before it counts as a timeout.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- device file

/// A printer device node such as `/dev/usb/lp0` (the kernel's `usblp` driver).
///
/// `usblp` lets one handle at a time open the node (a second open fails with `EBUSY`),
/// so the node is opened in one of two ways, never both at once:
///
/// - **status** (between jobs): read-write and non-blocking, so a `DLE EOT` answer is
///   polled until its timeout instead of blocking forever. [`Transport::write_all`],
///   [`Transport::read`] and [`Transport::discard_input`] use this handle; they are for
///   status requests, not jobs (a non-blocking `usblp` write returns before the transfer
///   is done, "presuming it completes").
/// - **job** ([`Transport::send_job`]): write-only and *blocking*, so `write` returns
///   only once `usblp` has handed every byte to the printer (or failed), then the handle
///   is synced (where the node supports it) and closed. Closing a node with a transfer
///   still pending would kill the transfer; a blocking write leaves none pending.
///
/// What cannot be detected, and why:
/// - A blocking write on a printer that is out of paper or has its cover open does not
///   fail: `usblp` waits for the printer (it returns `ENOSPC` only after the `LPABORT`
///   ioctl, which needs `unsafe` code this workspace does not allow). The write runs on
///   its own thread and `send_job` gives up after `write_timeout` without progress with
///   [`ErrorKind::TimedOut`]; the write itself cannot be cancelled without `unsafe`, so
///   it stays pending in the kernel and **the job may still print once the printer is
///   fixed**. Until it finishes the node stays open and every further operation fails
///   with a timeout ("an earlier job is still waiting for the printer").
/// - "Delivered" means accepted by the printer over USB, not printed: paper running out
///   mid-job is only seen by asking for status after the job, which [`EscPosPrinter`]
///   does when the node is readable ([`Transport::checks_status_after_job`]).
/// - If the node cannot be opened for reading, or the printer is not bidirectional (the
///   driver refuses reads), status is unknown: status calls fail with
///   [`ErrorKind::Unsupported`], [`EscPosPrinter::status`] reports
///   [`PrintError::Fault`] ("status unknown") and [`EscPosPrinter::print`] sends the job
///   anyway, with nothing checked before or after it.
#[derive(Debug)]
pub struct DeviceFile {
    path: PathBuf,
    /// The status handle, opened again lazily after a job.
    status: Option<File>,
    readable: bool,
    write_timeout: Duration,
    /// A job whose write outlived its timeout and is still blocked in the kernel.
    stalled: Option<mpsc::Receiver<JobEvent>>,
}

/// What the job-writing thread reports.
#[derive(Debug)]
enum JobEvent {
    /// Another chunk went out.
    Progress,
    /// The job is written, synced and the node closed (or the write failed).
    Done(io::Result<()>),
}

const POLL: Duration = Duration::from_millis(2);

/// A job is written in chunks of this size; each one restarts the write timeout.
const JOB_CHUNK: usize = 4096;

impl DeviceFile {
    pub fn open(path: impl AsRef<Path>) -> io::Result<DeviceFile> {
        let path = path.as_ref().to_path_buf();
        let (status, readable) = match open_status(&path) {
            Ok(file) => (Some(file), true),
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                // Write-only: check now that a job could be sent at all.
                drop(OpenOptions::new().write(true).open(&path)?);
                (None, false)
            }
            Err(e) => return Err(e),
        };
        Ok(DeviceFile {
            path,
            status,
            readable,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            stalled: None,
        })
    }

    pub fn with_write_timeout(mut self, timeout: Duration) -> DeviceFile {
        self.write_timeout = timeout;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn unsupported(&self) -> io::Error {
        io::Error::new(
            ErrorKind::Unsupported,
            format!("{} does not send status back", self.path.display()),
        )
    }

    /// Fails while an earlier job's write is still blocked in the kernel.
    fn check_not_stalled(&mut self) -> io::Result<()> {
        let Some(rx) = &self.stalled else {
            return Ok(());
        };
        loop {
            match rx.try_recv() {
                Ok(JobEvent::Progress) => {}
                Ok(JobEvent::Done(result)) => {
                    if let Err(e) = result {
                        tracing::warn!(path = %self.path.display(), error = %e, "a stalled print job failed in the end");
                    } else {
                        tracing::warn!(path = %self.path.display(), "a stalled print job went out late");
                    }
                    self.stalled = None;
                    return Ok(());
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.stalled = None;
                    return Ok(());
                }
                Err(mpsc::TryRecvError::Empty) => {
                    return Err(io::Error::new(
                        ErrorKind::TimedOut,
                        "an earlier job is still waiting for the printer (out of paper or cover open?)",
                    ));
                }
            }
        }
    }

    /// The status handle, opened again if a job closed it.
    fn status_handle(&mut self) -> io::Result<&mut File> {
        if !self.readable {
            return Err(self.unsupported());
        }
        self.check_not_stalled()?;
        if self.status.is_none() {
            self.status = Some(open_status(&self.path)?);
        }
        self.status
            .as_mut()
            .ok_or_else(|| io::Error::new(ErrorKind::NotConnected, "the printer is not open"))
    }
}

/// Read-write, non-blocking, never appending or creating.
fn open_status(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    options.open(path)
}

/// Writes one job with a blocking handle, on the calling (job) thread.
fn write_job(path: &Path, bytes: &[u8], events: &mpsc::Sender<JobEvent>) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).open(path)?;
    for chunk in bytes.chunks(JOB_CHUNK) {
        file.write_all(chunk)?;
        let _ = events.send(JobEvent::Progress);
    }
    match file.sync_data() {
        // Device nodes (usblp) have no fsync: the blocking write already waited for
        // the transfer. A plain file (a spool, a test) is synced.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::ENOTSUP | libc::EROFS)
            ) =>
        {
            Ok(())
        }
        other => other,
    }
    // `file` is closed here, with no transfer pending.
}

impl Transport for DeviceFile {
    fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let write_timeout = self.write_timeout;
        let file = self.status_handle()?;
        let mut deadline = Instant::now() + write_timeout;
        while !bytes.is_empty() {
            match file.write(bytes) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    bytes = &bytes[n..];
                    deadline = Instant::now() + write_timeout;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    if Instant::now() >= deadline {
                        return Err(ErrorKind::TimedOut.into());
                    }
                    thread::sleep(POLL);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            let file = self.status_handle()?;
            match file.read(buf) {
                Ok(n) if n > 0 => return Ok(n),
                // A device node has no end: nothing to read yet.
                Ok(_) => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                // usblp refuses reads from a printer that is not bidirectional.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::ENODEV | libc::EINVAL | libc::EBADF)
                    ) =>
                {
                    self.readable = false;
                    self.status = None;
                    return Err(self.unsupported());
                }
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Err(ErrorKind::TimedOut.into());
            }
            thread::sleep(POLL);
        }
    }

    /// Status requests are a few bytes on a non-blocking handle: nothing to flush (a
    /// job is flushed by [`Transport::send_job`]).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn discard_input(&mut self) -> io::Result<()> {
        if !self.readable {
            return Ok(());
        }
        let file = self.status_handle()?;
        let mut buf = [0u8; 64];
        // Bounded: a printer streaming answers forever must not hang us here.
        for _ in 0..64 {
            match file.read(&mut buf) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        Ok(())
    }

    fn send_job(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.check_not_stalled()?;
        // usblp allows one open handle: the status handle goes while the job is written.
        self.status = None;
        let (tx, rx) = mpsc::channel();
        let path = self.path.clone();
        let job = bytes.to_vec();
        thread::Builder::new()
            .name("printer-job".into())
            .spawn(move || {
                let result = write_job(&path, &job, &tx);
                let _ = tx.send(JobEvent::Done(result));
            })?;
        loop {
            match rx.recv_timeout(self.write_timeout) {
                Ok(JobEvent::Progress) => {}
                Ok(JobEvent::Done(result)) => return result,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    tracing::warn!(path = %self.path.display(), "the printer stopped taking the job; it may still print later");
                    self.stalled = Some(rx);
                    return Err(io::Error::new(
                        ErrorKind::TimedOut,
                        "the printer stopped taking the job (out of paper or cover open?); it may still print once fixed",
                    ));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the print job thread stopped"));
                }
            }
        }
    }

    fn checks_status_after_job(&self) -> bool {
        self.readable
    }
}

// ---------------------------------------------------------------- TCP

/// Timeouts of a network printer connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTimeouts {
    pub connect: Duration,
    pub write: Duration,
}

impl Default for TcpTimeouts {
    fn default() -> Self {
        TcpTimeouts {
            connect: Duration::from_secs(3),
            write: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

/// A network printer on its raw port (9100, "JetDirect"). After an error or a timeout
/// the connection is dropped and made again on next use, so a printer that was switched
/// off and on is found again and no late answer is mistaken for a new one.
#[derive(Debug)]
pub struct Tcp {
    addrs: Vec<SocketAddr>,
    stream: Option<TcpStream>,
    timeouts: TcpTimeouts,
}

impl Tcp {
    /// The raw printing port.
    pub const PORT: u16 = 9100;

    /// Resolves `addr` and connects now, so a wrong address is reported at start-up.
    pub fn connect(addr: impl ToSocketAddrs, timeouts: TcpTimeouts) -> io::Result<Tcp> {
        let addrs: Vec<SocketAddr> = addr.to_socket_addrs()?.collect();
        if addrs.is_empty() {
            return Err(io::Error::new(
                ErrorKind::NotFound,
                "the printer's address resolves to nothing",
            ));
        }
        let mut tcp = Tcp {
            addrs,
            stream: None,
            timeouts,
        };
        tcp.stream()?;
        Ok(tcp)
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        if self.stream.is_none() {
            let mut last = io::Error::new(ErrorKind::NotFound, "no address to connect to");
            for addr in &self.addrs {
                match TcpStream::connect_timeout(addr, self.timeouts.connect) {
                    Ok(s) => {
                        s.set_write_timeout(Some(
                            self.timeouts.write.max(Duration::from_millis(1)),
                        ))?;
                        s.set_nodelay(true)?;
                        self.stream = Some(s);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            if self.stream.is_none() {
                return Err(last);
            }
        }
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::new(ErrorKind::NotConnected, "not connected"))
    }

    /// Runs `f` on the connection; any failure drops the connection.
    fn with_stream<R>(&mut self, f: impl FnOnce(&mut TcpStream) -> io::Result<R>) -> io::Result<R> {
        let result = self.stream().and_then(f);
        if result.is_err() {
            self.stream = None;
        }
        result
    }
}

fn timed_out(e: io::Error) -> io::Error {
    if e.kind() == ErrorKind::WouldBlock {
        ErrorKind::TimedOut.into()
    } else {
        e
    }
}

impl Transport for Tcp {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.with_stream(|s| s.write_all(bytes).map_err(timed_out))
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let result = self.with_stream(|s| {
            s.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
            s.read(buf).map_err(timed_out)
        });
        if matches!(result, Ok(0)) {
            self.stream = None;
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        self.with_stream(|s| s.flush())
    }

    fn discard_input(&mut self) -> io::Result<()> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(());
        };
        stream.set_nonblocking(true)?;
        let mut buf = [0u8; 64];
        let mut closed = false;
        for _ in 0..64 {
            match stream.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        stream.set_nonblocking(false)?;
        if closed {
            self.stream = None;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- serial

/// Parity of a serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parity {
    #[default]
    None,
    Odd,
    Even,
}

/// Flow control of a serial line; receipt printers commonly use RTS/CTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowControl {
    #[default]
    None,
    /// XON/XOFF.
    Software,
    /// RTS/CTS.
    Hardware,
}

/// How a serial printer is wired, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialSettings {
    pub baud_rate: u32,
    /// 7 or 8.
    pub data_bits: u8,
    pub parity: Parity,
    /// 1 or 2.
    pub stop_bits: u8,
    pub flow_control: FlowControl,
    pub write_timeout: Duration,
}

impl SerialSettings {
    /// 8N1 at `baud_rate`, no flow control.
    pub fn new(baud_rate: u32) -> SerialSettings {
        SerialSettings {
            baud_rate,
            data_bits: 8,
            parity: Parity::None,
            stop_bits: 1,
            flow_control: FlowControl::None,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
        }
    }
}

impl Default for SerialSettings {
    fn default() -> Self {
        SerialSettings::new(9600)
    }
}

/// A printer on a serial port.
pub struct Serial {
    path: String,
    port: Box<dyn serialport::SerialPort>,
    write_timeout: Duration,
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serial")
            .field("path", &self.path)
            .field("baud_rate", &self.port.baud_rate().ok())
            .finish_non_exhaustive()
    }
}

impl Serial {
    pub fn open(path: &str, settings: SerialSettings) -> io::Result<Serial> {
        let data_bits = match settings.data_bits {
            7 => serialport::DataBits::Seven,
            8 => serialport::DataBits::Eight,
            n => {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    format!("{n} data bits: a printer line has 7 or 8"),
                ));
            }
        };
        let stop_bits = match settings.stop_bits {
            1 => serialport::StopBits::One,
            2 => serialport::StopBits::Two,
            n => {
                return Err(io::Error::new(
                    ErrorKind::InvalidInput,
                    format!("{n} stop bits: a printer line has 1 or 2"),
                ));
            }
        };
        let parity = match settings.parity {
            Parity::None => serialport::Parity::None,
            Parity::Odd => serialport::Parity::Odd,
            Parity::Even => serialport::Parity::Even,
        };
        let flow = match settings.flow_control {
            FlowControl::None => serialport::FlowControl::None,
            FlowControl::Software => serialport::FlowControl::Software,
            FlowControl::Hardware => serialport::FlowControl::Hardware,
        };
        let port = serialport::new(path, settings.baud_rate)
            .data_bits(data_bits)
            .stop_bits(stop_bits)
            .parity(parity)
            .flow_control(flow)
            .timeout(settings.write_timeout)
            .open()?;
        Ok(Serial {
            path: path.to_owned(),
            port,
            write_timeout: settings.write_timeout,
        })
    }
}

impl Transport for Serial {
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.port.set_timeout(self.write_timeout)?;
        self.port.write_all(bytes).map_err(timed_out)
    }

    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        self.port.set_timeout(timeout)?;
        match self.port.read(buf).map_err(timed_out) {
            // A serial line has no end: no byte in time is a timeout.
            Ok(0) => Err(ErrorKind::TimedOut.into()),
            other => other,
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.port.flush()
    }

    fn discard_input(&mut self) -> io::Result<()> {
        Ok(self.port.clear(serialport::ClearBuffer::Input)?)
    }
}

// ---------------------------------------------------------------- the printer

/// How long a printer may take to answer one `DLE EOT` request.
pub const DEFAULT_STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// A real ESC/POS printer behind a [`Transport`].
#[derive(Debug)]
pub struct EscPosPrinter<T: Transport> {
    transport: T,
    profile: PrinterProfile,
    status_timeout: Duration,
    last_replaced: usize,
}

/// Why a status could not be had.
enum StatusFailure {
    /// The transport cannot read answers (write-only device node).
    Unknown(String),
    Failed(PrintError),
}

impl From<io::Error> for StatusFailure {
    fn from(e: io::Error) -> Self {
        if e.kind() == ErrorKind::Unsupported {
            StatusFailure::Unknown(e.to_string())
        } else {
            StatusFailure::Failed(print_error(e))
        }
    }
}

/// An IO failure in the printer's terms.
fn print_error(e: io::Error) -> PrintError {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => PrintError::Timeout,
        // usblp answers a write with ENOSPC when the printer reports paper out, but only
        // after the LPABORT ioctl, which DeviceFile does not issue (it needs unsafe code).
        // Kept for transports (or kernels) that do report it.
        ErrorKind::StorageFull => PrintError::PaperOut,
        _ => PrintError::Io(e),
    }
}

/// What a status means for the next job; cover first, because an open cover also
/// reads as "no paper" on most printers.
pub fn check_ready(s: &PrinterStatus) -> Result<(), PrintError> {
    if s.cover_open {
        Err(PrintError::CoverOpen)
    } else if s.paper_out {
        Err(PrintError::PaperOut)
    } else if s.error {
        Err(PrintError::Fault(
            "it stopped on an error (cutter jam or overheated head)".to_owned(),
        ))
    } else if !s.online {
        Err(PrintError::Offline(
            "the printer reports itself offline".to_owned(),
        ))
    } else {
        Ok(())
    }
}

impl<T: Transport> EscPosPrinter<T> {
    pub fn new(transport: T, profile: PrinterProfile) -> EscPosPrinter<T> {
        EscPosPrinter {
            transport,
            profile,
            status_timeout: DEFAULT_STATUS_TIMEOUT,
            last_replaced: 0,
        }
    }

    pub fn with_status_timeout(mut self, timeout: Duration) -> EscPosPrinter<T> {
        self.status_timeout = timeout;
        self
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Characters of the last printed job that went out as `?`.
    pub fn last_job_replacements(&self) -> usize {
        self.last_replaced
    }

    fn query_status(&mut self) -> Result<PrinterStatus, StatusFailure> {
        self.transport.discard_input()?;
        let mut answers = [0u8; 4];
        for (n, answer) in (1u8..=4).zip(answers.iter_mut()) {
            self.transport.write_all(&status::request(n))?;
            self.transport.flush()?;
            let mut byte = [0u8; 1];
            match self.transport.read(&mut byte, self.status_timeout)? {
                0 => {
                    return Err(StatusFailure::Failed(PrintError::Offline(
                        "the printer closed the connection".to_owned(),
                    )));
                }
                _ => *answer = byte[0],
            }
        }
        PrinterStatus::from_answers(answers).map_err(|e| {
            StatusFailure::Failed(PrintError::Fault(format!("garbled status answer: {e}")))
        })
    }
}

impl<T: Transport> ReceiptPrinter for EscPosPrinter<T> {
    fn profile(&self) -> &PrinterProfile {
        &self.profile
    }

    /// Sends `DLE EOT 1`..`4`, one at a time, and decodes the four answers. No answer in
    /// time is [`PrintError::Timeout`]; bytes that are not status answers are
    /// [`PrintError::Fault`]; a transport that cannot read back reports
    /// `Fault("status unknown: …")`.
    fn status(&mut self) -> Result<PrinterStatus, PrintError> {
        match self.query_status() {
            Ok(s) => Ok(s),
            Err(StatusFailure::Unknown(why)) => {
                Err(PrintError::Fault(format!("status unknown: {why}")))
            }
            Err(StatusFailure::Failed(e)) => Err(e),
        }
    }

    /// Encodes `doc`, checks the printer can take it, then sends it. Nothing is written
    /// when the document cannot be encoded or the printer is not ready. When the
    /// transport can read status back after a job ([`Transport::checks_status_after_job`])
    /// it is asked again, and paper that ran out during the job is
    /// [`PrintError::PaperOut`] (the receipt may be incomplete: print it again).
    fn print(&mut self, doc: &Document) -> Result<(), PrintError> {
        let job = encode_job(doc, &self.profile)?;
        match self.query_status() {
            Ok(s) => check_ready(&s)?,
            Err(StatusFailure::Unknown(why)) => {
                tracing::debug!(printer = %self.profile.name, %why, "printing without a status check");
            }
            Err(StatusFailure::Failed(e)) => return Err(e),
        }
        self.transport.send_job(&job.bytes).map_err(print_error)?;
        self.last_replaced = job.replaced;
        if self.transport.checks_status_after_job() {
            // The paper can run out during the job: the printer took every byte but the
            // receipt is cut short. Only a status asked afterwards shows it.
            match self.query_status() {
                Ok(s) if s.paper_out => {
                    tracing::warn!(printer = %self.profile.name, "the paper ran out during the job");
                    return Err(PrintError::PaperOut);
                }
                Ok(_) => {}
                Err(StatusFailure::Unknown(why)) => {
                    tracing::debug!(printer = %self.profile.name, %why, "no status after the job");
                }
                Err(StatusFailure::Failed(e)) => {
                    tracing::warn!(printer = %self.profile.name, error = %e, "no status after the job");
                }
            }
        }
        if job.replaced > 0 {
            tracing::warn!(
                printer = %self.profile.name,
                replaced = job.replaced,
                "characters the printer cannot show were printed as stand-ins"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::document::Style;
    use crate::printer::encode::encode;
    use crate::printer::{PaperWidth, QrMode};
    use std::collections::VecDeque;
    use std::net::TcpListener;

    /// A printer in memory: answers each `DLE EOT n` with `answers[n - 1]`, or never
    /// when `silent`, and records everything else.
    #[derive(Debug, Default)]
    struct FakePrinter {
        answers: [u8; 4],
        /// The answers once a job was received (the paper ran out during it).
        answers_after_job: Option<[u8; 4]>,
        /// Reads status back after a job, like a bidirectional device node.
        recheck: bool,
        silent: bool,
        pending: VecDeque<u8>,
        requests: Vec<u8>,
        job: Vec<u8>,
    }

    impl Transport for FakePrinter {
        fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
            if let [0x10, 0x04, n @ 1..=4] = *bytes {
                self.requests.push(n);
                if !self.silent {
                    self.pending.push_back(self.answers[usize::from(n) - 1]);
                }
            } else {
                self.job.extend_from_slice(bytes);
                if let Some(after) = self.answers_after_job {
                    self.answers = after;
                }
            }
            Ok(())
        }

        fn checks_status_after_job(&self) -> bool {
            self.recheck
        }

        fn read(&mut self, buf: &mut [u8], _timeout: Duration) -> io::Result<usize> {
            match self.pending.pop_front() {
                Some(b) if !buf.is_empty() => {
                    buf[0] = b;
                    Ok(1)
                }
                _ => Err(ErrorKind::TimedOut.into()),
            }
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }

        fn discard_input(&mut self) -> io::Result<()> {
            self.pending.clear();
            Ok(())
        }
    }

    fn profile() -> PrinterProfile {
        PrinterProfile {
            name: "counter 1".to_owned(),
            width: PaperWidth::Mm58,
            qr: QrMode::Native,
        }
    }

    fn doc() -> Document {
        let mut d = Document::new(PaperWidth::Mm58);
        d.text("请妥善保管 / keep this ticket", Style::centred());
        d.cut();
        d
    }

    fn fake(state: PrinterStatus) -> EscPosPrinter<FakePrinter> {
        EscPosPrinter::new(
            FakePrinter {
                answers: state.to_answers(),
                ..FakePrinter::default()
            },
            profile(),
        )
    }

    #[test]
    fn a_ready_printer_gets_the_job() {
        let mut p = fake(PrinterStatus::READY);
        assert_eq!(p.status().unwrap(), PrinterStatus::READY);
        p.print(&doc()).unwrap();
        let t = p.into_transport();
        assert_eq!(t.requests, [1, 2, 3, 4, 1, 2, 3, 4]);
        assert_eq!(t.job, encode(&doc(), &profile()).unwrap());
    }

    #[test]
    fn paper_running_out_during_the_job_is_reported_when_status_can_be_read() {
        let paper_out = PrinterStatus {
            paper_out: true,
            ..PrinterStatus::READY
        };
        let mut p = EscPosPrinter::new(
            FakePrinter {
                answers: PrinterStatus::READY.to_answers(),
                answers_after_job: Some(paper_out.to_answers()),
                recheck: true,
                ..FakePrinter::default()
            },
            profile(),
        );
        assert!(matches!(p.print(&doc()), Err(PrintError::PaperOut)));
        let t = p.into_transport();
        assert_eq!(
            t.job,
            encode(&doc(), &profile()).unwrap(),
            "the job went out"
        );
        assert_eq!(
            t.requests,
            [1, 2, 3, 4, 1, 2, 3, 4],
            "status before and after"
        );
    }

    #[test]
    fn paper_out_refuses_the_job_without_writing_it() {
        let mut p = fake(PrinterStatus {
            paper_out: true,
            ..PrinterStatus::READY
        });
        assert!(matches!(p.print(&doc()), Err(PrintError::PaperOut)));
        assert!(p.transport().job.is_empty());
    }

    #[test]
    fn cover_open_and_errors_are_told_apart() {
        let mut p = fake(PrinterStatus {
            cover_open: true,
            paper_out: true,
            ..PrinterStatus::READY
        });
        assert!(matches!(p.print(&doc()), Err(PrintError::CoverOpen)));
        let mut p = fake(PrinterStatus {
            error: true,
            ..PrinterStatus::READY
        });
        assert!(matches!(p.print(&doc()), Err(PrintError::Fault(_))));
        assert!(p.transport().job.is_empty());
    }

    #[test]
    fn silence_is_a_timeout() {
        let mut p = EscPosPrinter::new(
            FakePrinter {
                silent: true,
                ..FakePrinter::default()
            },
            profile(),
        );
        assert!(matches!(p.status(), Err(PrintError::Timeout)));
        assert!(matches!(p.print(&doc()), Err(PrintError::Timeout)));
        assert!(p.transport().job.is_empty());
    }

    #[test]
    fn garbage_answers_are_a_fault() {
        let mut p = EscPosPrinter::new(
            FakePrinter {
                answers: [0x12, 0xFF, 0x12, 0x12],
                ..FakePrinter::default()
            },
            profile(),
        );
        let err = p.status().unwrap_err();
        assert!(matches!(err, PrintError::Fault(_)), "{err}");
        assert!(err.to_string().contains("0xff"), "{err}");
    }

    #[test]
    fn a_real_tcp_printer_answers_status_and_receives_the_job() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut job = Vec::new();
            let mut requests = 0;
            let mut buf = [0u8; 1024];
            let mut pending = Vec::new();
            let mut in_job = false;
            loop {
                let n = conn.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                pending.extend_from_slice(&buf[..n]);
                // Status requests come before the job; answer each with "all fine".
                while !in_job {
                    if pending.len() >= 3 && pending[..2] == [0x10, 0x04] {
                        pending.drain(..3);
                        requests += 1;
                        conn.write_all(&[0x12]).unwrap();
                    } else if pending.first().is_some_and(|b| *b != 0x10)
                        || pending.get(1).is_some_and(|b| *b != 0x04)
                    {
                        in_job = true;
                    } else {
                        break;
                    }
                }
                if in_job {
                    job.append(&mut pending);
                }
            }
            (requests, job)
        });
        let tcp = Tcp::connect(addr, TcpTimeouts::default()).unwrap();
        let mut p = EscPosPrinter::new(tcp, profile());
        p.print(&doc()).unwrap();
        drop(p);
        let (requests, job) = server.join().unwrap();
        assert_eq!(requests, 4);
        assert_eq!(job, encode(&doc(), &profile()).unwrap());
    }

    #[test]
    fn a_tcp_printer_that_never_answers_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            thread::sleep(Duration::from_millis(500));
            drop(conn);
        });
        let tcp = Tcp::connect(addr, TcpTimeouts::default()).unwrap();
        let mut p =
            EscPosPrinter::new(tcp, profile()).with_status_timeout(Duration::from_millis(100));
        assert!(matches!(p.status(), Err(PrintError::Timeout)));
        server.join().unwrap();
    }

    #[test]
    fn nobody_listening_is_a_connection_error_in_words() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = PrintError::from(Tcp::connect(addr, TcpTimeouts::default()).unwrap_err());
        assert!(
            err.to_string().starts_with("cannot reach the printer"),
            "{err}"
        );
    }

    #[test]
    fn a_device_file_gets_the_job_and_no_stale_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lp0");
        std::fs::write(&path, b"old").unwrap();
        let mut file = DeviceFile::open(&path).unwrap();
        file.send_job(b"new!").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new!");
        assert!(file.checks_status_after_job());
        // A plain file never answers: status times out.
        let mut p =
            EscPosPrinter::new(file, profile()).with_status_timeout(Duration::from_millis(20));
        assert!(matches!(p.status(), Err(PrintError::Timeout)));
    }

    #[test]
    fn a_job_the_device_never_takes_times_out_and_blocks_the_next_until_it_goes_out() {
        // A FIFO nobody reads stands in for a usblp printer that is out of paper: the
        // blocking open/write waits for it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lp0");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        let mut file = DeviceFile::open(&path)
            .unwrap()
            .with_write_timeout(Duration::from_millis(300));
        let started = Instant::now();
        let err = file.send_job(b"receipt").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(err.to_string().contains("may still print"), "{err}");
        // While that write is pending, nothing else is sent.
        let err = file.send_job(b"next").unwrap_err();
        assert!(err.to_string().contains("earlier job"), "{err}");
        // The printer comes back: the pending job goes out, then the next one can.
        let mut reader = File::open(&path).unwrap();
        let mut got = [0u8; 7];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"receipt");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match file.send_job(b"next") {
                Ok(()) => break,
                Err(e) if Instant::now() < deadline => {
                    assert!(e.to_string().contains("earlier job"), "{e}");
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("{e}"),
            }
        }
        let mut next = [0u8; 4];
        reader.read_exact(&mut next).unwrap();
        assert_eq!(&next, b"next");
    }

    #[test]
    fn a_device_that_cannot_answer_has_unknown_status_but_still_prints() {
        #[derive(Debug, Default)]
        struct WriteOnly(Vec<u8>);
        impl Transport for WriteOnly {
            fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
                self.0.extend_from_slice(bytes);
                Ok(())
            }
            fn read(&mut self, _: &mut [u8], _: Duration) -> io::Result<usize> {
                Err(io::Error::new(
                    ErrorKind::Unsupported,
                    "lp0 does not send status back",
                ))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut p = EscPosPrinter::new(WriteOnly::default(), profile());
        let err = p.status().unwrap_err();
        assert!(err.to_string().contains("status unknown"), "{err}");
        p.print(&doc()).unwrap();
        assert!(
            p.transport()
                .0
                .ends_with(&encode(&doc(), &profile()).unwrap())
        );
    }

    #[test]
    fn a_serial_printer_over_a_pty_pair_answers_status_and_receives_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let ours = dir.path().join("host");
        let theirs = dir.path().join("printer");
        let socat = std::process::Command::new("socat")
            .arg(format!("pty,raw,echo=0,link={}", ours.display()))
            .arg(format!("pty,raw,echo=0,link={}", theirs.display()))
            .stderr(std::process::Stdio::null())
            .spawn();
        let mut socat = socat.expect("this test needs socat (apt-get install socat)");
        let start = Instant::now();
        while !(ours.exists() && theirs.exists()) && start.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(20));
        }
        let expected = encode(&doc(), &profile()).unwrap();
        let job_len = expected.len();
        let mut printer_end = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&theirs)
            .unwrap();
        let printer = thread::spawn(move || {
            let mut requests = 0;
            let mut job = Vec::new();
            let mut buf = [0u8; 256];
            let mut pending = Vec::new();
            while job.len() < job_len {
                let n = printer_end.read(&mut buf).unwrap();
                pending.extend_from_slice(&buf[..n]);
                while job.is_empty() && pending.len() >= 3 && pending[..2] == [0x10, 0x04] {
                    pending.drain(..3);
                    requests += 1;
                    printer_end.write_all(&[0x12]).unwrap();
                }
                if pending.first().is_some_and(|b| *b != 0x10) || !job.is_empty() {
                    job.append(&mut pending);
                }
            }
            (requests, job)
        });
        let printed = Serial::open(ours.to_str().unwrap(), SerialSettings::new(115_200))
            .map_err(PrintError::from)
            .and_then(|serial| EscPosPrinter::new(serial, profile()).print(&doc()));
        let received = printed.is_ok().then(|| printer.join());
        // socat is ours: stop it whatever happened.
        let _ = socat.kill();
        let _ = socat.wait();
        printed.unwrap();
        let (requests, job) = received.unwrap().unwrap();
        assert_eq!(requests, 4);
        assert_eq!(job, expected);
    }

    #[test]
    fn paper_out_from_the_kernel_driver_is_paper_out() {
        let e = io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(matches!(print_error(e), PrintError::PaperOut));
    }
}
