//! What `servicehall counter` is told at start: the hub, the counter number, language and
//! window, the receipt printer, the payment terminal and its journal, the inactivity lock.
//!
//! Parsing only: it never opens a device or talks to the hub.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use ui::Lang;

pub use hardware::printer::PrinterTarget;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    #[error("unknown payment terminal `{0}` (expected none, sim, or a serial device path)")]
    Terminal(String),
    #[error("unknown window size `{0}` (expected WIDTHxHEIGHT, at least 1280x800)")]
    Size(String),
}

/// Which card payment terminal the counter drives (GB/T 8.4.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TerminalTarget {
    /// No terminal: card payments are refused with a message; cash, QR and cheque still work.
    #[default]
    None,
    /// The in-process terminal simulator (demonstrations); it approves every sale.
    Simulated,
    /// An Ingenico Telium terminal speaking protocol E on this serial device.
    Serial(PathBuf),
}

impl FromStr for TerminalTarget {
    type Err = OptionError;
    fn from_str(s: &str) -> Result<TerminalTarget, OptionError> {
        match s.trim() {
            "" | "none" => Ok(TerminalTarget::None),
            "sim" => Ok(TerminalTarget::Simulated),
            p if p.starts_with('/') => Ok(TerminalTarget::Serial(PathBuf::from(p))),
            other => Err(OptionError::Terminal(other.to_owned())),
        }
    }
}

/// The window size in pixels; the layout is designed for 1280×800 and grows from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSize {
    pub width: u32,
    pub height: u32,
}

impl WindowSize {
    /// The smallest size the layout is designed for.
    pub const MIN: WindowSize = WindowSize {
        width: 1280,
        height: 800,
    };
}

impl Default for WindowSize {
    fn default() -> Self {
        WindowSize::MIN
    }
}

impl FromStr for WindowSize {
    type Err = OptionError;
    fn from_str(s: &str) -> Result<WindowSize, OptionError> {
        let bad = || OptionError::Size(s.to_owned());
        let (w, h) = s.trim().split_once(['x', 'X', '×']).ok_or_else(bad)?;
        let size = WindowSize {
            width: w.trim().parse().map_err(|_| bad())?,
            height: h.trim().parse().map_err(|_| bad())?,
        };
        if size.width < WindowSize::MIN.width || size.height < WindowSize::MIN.height {
            return Err(bad());
        }
        Ok(size)
    }
}

impl fmt::Display for WindowSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

/// Everything `servicehall counter` needs.
#[derive(Debug, Clone)]
pub struct CounterOptions {
    /// The hub's base URL, e.g. `http://127.0.0.1:8470`.
    pub hub_url: String,
    /// The counter (window) this station is bound to; the hub routes calls by it.
    pub counter: u32,
    /// The language of the screen and of printed documents.
    pub lang: Lang,
    pub size: WindowSize,
    /// Fill the screen (the appliance); otherwise a window of `size`.
    pub fullscreen: bool,
    pub printer: PrinterTarget,
    pub terminal: TerminalTarget,
    /// The payment terminal's transaction journal (every card payment by idempotency
    /// key, kept across restarts so an unknown outcome is never retried blindly).
    pub terminal_journal: PathBuf,
    /// Lock the screen after this many minutes without input; 0 never locks.
    pub lock_after_minutes: u32,
    /// This station's certificate for an `https://` hub (GB/T 5.4); `None` for a plain one.
    pub identity: Option<Arc<protocol::DeviceIdentity>>,
}

impl Default for CounterOptions {
    fn default() -> Self {
        CounterOptions {
            hub_url: "http://127.0.0.1:8470".into(),
            counter: 1,
            lang: Lang::ZhCn,
            size: WindowSize::default(),
            fullscreen: false,
            printer: PrinterTarget::None,
            terminal: TerminalTarget::None,
            terminal_journal: PathBuf::from("counter-payments.journal"),
            lock_after_minutes: 5,
            identity: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_targets_parse_in_their_three_forms() {
        assert_eq!("none".parse::<PrinterTarget>(), Ok(PrinterTarget::None));
        assert_eq!(
            "tcp:127.0.0.1:9100".parse::<PrinterTarget>(),
            Ok(PrinterTarget::Tcp("127.0.0.1:9100".into()))
        );
        assert_eq!(
            "tcp:printer.local:9100".parse::<PrinterTarget>(),
            Ok(PrinterTarget::Tcp("printer.local:9100".into()))
        );
        assert_eq!(
            "/dev/usb/lp0".parse::<PrinterTarget>(),
            Ok(PrinterTarget::Device("/dev/usb/lp0".into()))
        );
        assert_eq!(
            "file:/var/spool/receipt.bin".parse::<PrinterTarget>(),
            Ok(PrinterTarget::Device("/var/spool/receipt.bin".into()))
        );
        assert!("tcp:nohost".parse::<PrinterTarget>().is_err());
        assert!("lp0".parse::<PrinterTarget>().is_err());
        let t = PrinterTarget::Tcp("h:1".into());
        assert_eq!(t.to_string().parse::<PrinterTarget>(), Ok(t));
    }

    #[test]
    fn terminals_and_sizes_parse() {
        assert_eq!(
            "sim".parse::<TerminalTarget>(),
            Ok(TerminalTarget::Simulated)
        );
        assert_eq!(
            "/dev/ttyUSB0".parse::<TerminalTarget>(),
            Ok(TerminalTarget::Serial("/dev/ttyUSB0".into()))
        );
        assert!("COM1".parse::<TerminalTarget>().is_err());
        assert_eq!(
            "1920x1080".parse::<WindowSize>(),
            Ok(WindowSize {
                width: 1920,
                height: 1080
            })
        );
        // The layout is designed for 1280×800 and larger.
        assert!("1024x768".parse::<WindowSize>().is_err());
        assert!("big".parse::<WindowSize>().is_err());
    }
}
