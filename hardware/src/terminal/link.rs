//! Byte links to a payment terminal: a serial port (a real UART, a USB adapter or a pty,
//! through the `serialport` crate) and an in-memory pair for the in-process simulator.
//! Reads wait until an explicit deadline; a port that vanished is reported as
//! [`LinkError::Lost`] and reopened on next use.
//!
//! Must never block past the deadline it was given, and never interpret bytes: framing
//! and parity live in [`frame`](super::frame).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Why bytes could not move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the terminal's port {path} cannot be opened: {reason}")]
    Unavailable { path: String, reason: String },
    #[error("the connection to the terminal was lost")]
    Lost,
}

/// A two-way byte link with deadlines.
/// The next complete item (frame or control) the decoder makes of what arrives on
/// `link` before `deadline`; `Ok(None)` on timeout. Shared by both ends of the line.
pub(crate) fn receive<L: Link + ?Sized>(
    link: &mut L,
    decoder: &mut super::frame::FrameDecoder,
    deadline: Instant,
) -> Result<Option<super::frame::Received>, LinkError> {
    loop {
        match link.read_byte(deadline)? {
            None => return Ok(None),
            Some(b) => {
                if let Some(r) = decoder.push(b) {
                    return Ok(Some(r));
                }
            }
        }
    }
}

pub trait Link: Send {
    /// The next byte received before `deadline`, or `Ok(None)` when none came.
    fn read_byte(&mut self, deadline: Instant) -> Result<Option<u8>, LinkError>;
    /// Sends all of `bytes` in one write where the link allows it.
    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError>;
    /// Drops whatever was received but not read yet. Bounded in time even on a line that
    /// never stops talking.
    fn discard_input(&mut self) -> Result<(), LinkError>;
}

/// Character format on the serial line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineFormat {
    /// 8 data bits, no parity, 1 stop bit (USB Telium terminals).
    EightN1,
    /// 7 data bits, even parity, 1 stop bit, the UART doing the parity.
    SevenE1,
    /// 7E1 on a port that cannot do parity (a pty, some adapters): the port runs 8N1 and
    /// the parity bit is computed in software.
    SevenE1Software,
}

impl LineFormat {
    /// The byte coding the protocol layer applies for this format.
    pub fn line_code(self) -> super::frame::LineCode {
        use super::frame::LineCode;
        match self {
            LineFormat::EightN1 => LineCode::Eight,
            LineFormat::SevenE1 => LineCode::Seven,
            LineFormat::SevenE1Software => LineCode::SevenEvenParity,
        }
    }
}

/// How long a write may wait for room in the port's output buffer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// [`Link::discard_input`] on a serial port: the line counts as drained after this much
/// silence…
const DISCARD_QUIET: Duration = Duration::from_millis(1);
/// …and the drain gives up after this long even if the line never falls silent.
pub const DISCARD_LIMIT: Duration = Duration::from_millis(50);

/// A serial port opened lazily and reopened after it was lost.
pub struct SerialLink {
    path: String,
    baud: u32,
    format: LineFormat,
    port: Option<serialport::TTYPort>,
    rx: VecDeque<u8>,
}

impl std::fmt::Debug for SerialLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialLink")
            .field("path", &self.path)
            .field("baud", &self.baud)
            .field("format", &self.format)
            .field("open", &self.port.is_some())
            .finish()
    }
}

impl SerialLink {
    /// A link to the port at `path`; nothing is opened until first use.
    pub fn new(path: impl Into<String>, baud: u32, format: LineFormat) -> SerialLink {
        SerialLink {
            path: path.into(),
            baud,
            format,
            port: None,
            rx: VecDeque::new(),
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Opens the port now (it is otherwise opened on first use).
    pub fn open(&mut self) -> Result<(), LinkError> {
        self.port().map(|_| ())
    }

    fn port(&mut self) -> Result<&mut serialport::TTYPort, LinkError> {
        if self.port.is_none() {
            let (bits, parity) = match self.format {
                LineFormat::SevenE1 => (serialport::DataBits::Seven, serialport::Parity::Even),
                LineFormat::EightN1 | LineFormat::SevenE1Software => {
                    (serialport::DataBits::Eight, serialport::Parity::None)
                }
            };
            let port = serialport::new(&self.path, self.baud)
                .data_bits(bits)
                .parity(parity)
                .stop_bits(serialport::StopBits::One)
                .flow_control(serialport::FlowControl::None)
                .timeout(Duration::from_millis(100))
                .open_native()
                .map_err(|e| LinkError::Unavailable {
                    path: self.path.clone(),
                    reason: e.to_string(),
                })?;
            tracing::debug!(path = %self.path, "terminal port opened");
            self.port = Some(port);
        }
        self.port.as_mut().ok_or(LinkError::Lost)
    }

    fn lost(&mut self, why: &std::io::Error) -> LinkError {
        tracing::warn!(path = %self.path, error = %why, "terminal port lost");
        self.port = None;
        self.rx.clear();
        LinkError::Lost
    }
}

impl Link for SerialLink {
    fn read_byte(&mut self, deadline: Instant) -> Result<Option<u8>, LinkError> {
        if let Some(b) = self.rx.pop_front() {
            return Ok(Some(b));
        }
        let mut buf = [0u8; 256];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let port = self.port()?;
            if let Err(e) = serialport::SerialPort::set_timeout(port, left) {
                let e = std::io::Error::from(e);
                return Err(self.lost(&e));
            }
            match port.read(&mut buf) {
                Ok(0) => return Err(self.lost(&std::io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => {
                    self.rx.extend(&buf[..n]);
                    return Ok(self.rx.pop_front());
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(self.lost(&e)),
            }
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        let port = self.port()?;
        // Reads leave short timeouts behind; a write gets a second to drain.
        let result = serialport::SerialPort::set_timeout(port, WRITE_TIMEOUT)
            .map_err(std::io::Error::from)
            .and_then(|()| port.write_all(bytes))
            .and_then(|()| port.flush());
        result.map_err(|e| self.lost(&e))
    }

    fn discard_input(&mut self) -> Result<(), LinkError> {
        self.rx.clear();
        let port = self.port()?;
        // tcflush(TCIFLUSH) drops what the kernel holds; then bytes still in flight are
        // read away until the line is quiet for a moment. A chatty (or noisy) line is
        // never quiet, so the drain stops at DISCARD_LIMIT whatever happens: this must
        // never block past a bound (module contract).
        if let Err(e) = serialport::SerialPort::clear(port, serialport::ClearBuffer::Input) {
            tracing::debug!(error = %e, "tcflush on the terminal port failed; draining only");
        }
        let _ = serialport::SerialPort::set_timeout(port, DISCARD_QUIET);
        match drain(|buf| port.read(buf), DISCARD_LIMIT) {
            Ok(Drained::Quiet) => Ok(()),
            Ok(Drained::StillTalking) => {
                tracing::debug!(path = %self.path, "the terminal line never went quiet while discarding");
                Ok(())
            }
            Err(e) => Err(self.lost(&e)),
        }
    }
}

/// How a bounded drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drained {
    /// A read timed out: nothing more was waiting.
    Quiet,
    /// Bytes kept coming until the limit.
    StillTalking,
}

/// Reads and drops bytes with `read` (which times out quickly when nothing comes) until
/// a read times out or `limit` has passed. `Ok(0)` (the port closed) is an error.
fn drain(
    mut read: impl FnMut(&mut [u8]) -> std::io::Result<usize>,
    limit: Duration,
) -> std::io::Result<Drained> {
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match read(&mut buf) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) =>
            {
                return Ok(Drained::Quiet);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Drained::StillTalking)
}

/// One end of an in-memory link (see [`MemoryLink::pair`]). Dropping an end is the
/// other end's [`LinkError::Lost`].
#[derive(Debug)]
pub struct MemoryLink {
    tx: mpsc::Sender<Vec<u8>>,
    rx: mpsc::Receiver<Vec<u8>>,
    pending: VecDeque<u8>,
}

impl MemoryLink {
    /// Two connected ends: what one writes the other reads.
    pub fn pair() -> (MemoryLink, MemoryLink) {
        let (atx, brx) = mpsc::channel();
        let (btx, arx) = mpsc::channel();
        (
            MemoryLink {
                tx: atx,
                rx: arx,
                pending: VecDeque::new(),
            },
            MemoryLink {
                tx: btx,
                rx: brx,
                pending: VecDeque::new(),
            },
        )
    }
}

impl Link for MemoryLink {
    fn read_byte(&mut self, deadline: Instant) -> Result<Option<u8>, LinkError> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Ok(Some(b));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(chunk) => self.pending.extend(chunk),
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(None),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(LinkError::Lost),
            }
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.tx.send(bytes.to_vec()).map_err(|_| LinkError::Lost)
    }

    fn discard_input(&mut self) -> Result<(), LinkError> {
        self.pending.clear();
        // Bounded like the serial link: a peer that never stops writing cannot keep us here.
        let deadline = Instant::now() + DISCARD_LIMIT;
        loop {
            if Instant::now() >= deadline {
                return Ok(());
            }
            match self.rx.try_recv() {
                Ok(_) => continue,
                Err(mpsc::TryRecvError::Empty) => return Ok(()),
                Err(mpsc::TryRecvError::Disconnected) => return Err(LinkError::Lost),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_links_carry_bytes_and_report_a_hang_up() {
        let (mut a, mut b) = MemoryLink::pair();
        a.write_all(b"hi").unwrap();
        let soon = || Instant::now() + Duration::from_millis(50);
        assert_eq!(b.read_byte(soon()).unwrap(), Some(b'h'));
        assert_eq!(b.read_byte(soon()).unwrap(), Some(b'i'));
        assert_eq!(b.read_byte(soon()).unwrap(), None);
        drop(a);
        assert_eq!(b.read_byte(soon()), Err(LinkError::Lost));
    }

    #[test]
    fn draining_a_line_that_never_falls_silent_stops_at_the_limit() {
        // A chatty line: every read returns bytes at once, never a timeout.
        let started = Instant::now();
        let got = drain(|buf| Ok(buf.len()), Duration::from_millis(50));
        assert_eq!(got.unwrap(), Drained::StillTalking);
        assert!(started.elapsed() < Duration::from_secs(2));
        // A quiet line ends at the first timeout; a closed one is an error.
        let mut chunks = 3;
        let got = drain(
            |buf| {
                if chunks == 0 {
                    return Err(std::io::ErrorKind::TimedOut.into());
                }
                chunks -= 1;
                Ok(buf.len())
            },
            Duration::from_secs(5),
        );
        assert_eq!(got.unwrap(), Drained::Quiet);
        assert!(drain(|_| Ok(0), Duration::from_secs(5)).is_err());
    }

    #[test]
    fn a_missing_port_is_unavailable_not_a_panic() {
        let mut l = SerialLink::new("/nonexistent/servicehall-tty", 9600, LineFormat::EightN1);
        assert!(matches!(
            l.read_byte(Instant::now() + Duration::from_millis(10)),
            Err(LinkError::Unavailable { .. })
        ));
    }
}
