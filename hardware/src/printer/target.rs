//! Where a station's printer is, as written in its options, and how to open it:
//! `none`, `tcp:HOST:PORT` (a network printer's raw port, or the simulator),
//! `serial:PATH[:BAUD]`, or a device node (`/dev/usb/lp0`, also `file:PATH`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::transport::{DeviceFile, EscPosPrinter, Serial, SerialSettings, Tcp, TcpTimeouts};
use super::{PrintError, PrinterProfile, ReceiptPrinter};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PrinterTarget {
    /// No printer.
    #[default]
    None,
    /// A network printer's raw port, `HOST:PORT`.
    Tcp(String),
    /// A device node such as `/dev/usb/lp0` (`usblp`).
    Device(PathBuf),
    /// A serial printer.
    Serial { path: String, baud: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown printer `{0}` (expected none, tcp:HOST:PORT, serial:PATH[:BAUD], file:PATH or a device path such as /dev/usb/lp0)"
)]
pub struct BadPrinterTarget(pub String);

impl FromStr for PrinterTarget {
    type Err = BadPrinterTarget;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let bad = || BadPrinterTarget(s.to_owned());
        if s.is_empty() || s == "none" {
            return Ok(PrinterTarget::None);
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            // HOST:PORT with the port required: a raw printer has no default to guess.
            let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(bad());
            }
            return Ok(PrinterTarget::Tcp(addr.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("serial:") {
            let (path, baud) = match rest.rsplit_once(':') {
                Some((p, b)) if !b.is_empty() && b.chars().all(|c| c.is_ascii_digit()) => {
                    (p, b.parse::<u32>().map_err(|_| bad())?)
                }
                _ => (rest, 115_200),
            };
            if path.is_empty() {
                return Err(bad());
            }
            return Ok(PrinterTarget::Serial {
                path: path.to_owned(),
                baud,
            });
        }
        if let Some(path) = s.strip_prefix("file:") {
            return Ok(PrinterTarget::Device(PathBuf::from(path)));
        }
        if s.starts_with('/') {
            return Ok(PrinterTarget::Device(PathBuf::from(s)));
        }
        Err(bad())
    }
}

impl fmt::Display for PrinterTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrinterTarget::None => f.write_str("none"),
            PrinterTarget::Tcp(a) => write!(f, "tcp:{a}"),
            PrinterTarget::Device(p) => write!(f, "file:{}", p.display()),
            PrinterTarget::Serial { path, baud } => write!(f, "serial:{path}:{baud}"),
        }
    }
}

impl PrinterTarget {
    /// Opens the printer as an ESC/POS printer of `profile`; a network printer gets
    /// `connect_timeout` to answer.
    pub fn open(
        &self,
        profile: PrinterProfile,
        connect_timeout: Duration,
    ) -> Result<Box<dyn ReceiptPrinter>, PrintError> {
        Ok(match self {
            PrinterTarget::None => {
                return Err(PrintError::Offline("no printer is configured".into()));
            }
            PrinterTarget::Tcp(addr) => {
                let timeouts = TcpTimeouts {
                    connect: connect_timeout,
                    ..TcpTimeouts::default()
                };
                Box::new(EscPosPrinter::new(
                    Tcp::connect(addr.as_str(), timeouts)?,
                    profile,
                ))
            }
            PrinterTarget::Device(path) => {
                Box::new(EscPosPrinter::new(DeviceFile::open(path)?, profile))
            }
            PrinterTarget::Serial { path, baud } => Box::new(EscPosPrinter::new(
                Serial::open(path, SerialSettings::new(*baud))?,
                profile,
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print_back() {
        for (text, target) in [
            ("none", PrinterTarget::None),
            ("", PrinterTarget::None),
            (
                "tcp:127.0.0.1:9100",
                PrinterTarget::Tcp("127.0.0.1:9100".into()),
            ),
            ("/dev/usb/lp0", PrinterTarget::Device("/dev/usb/lp0".into())),
            (
                "file:/dev/usb/lp1",
                PrinterTarget::Device("/dev/usb/lp1".into()),
            ),
            (
                "serial:/dev/ttyS0:9600",
                PrinterTarget::Serial {
                    path: "/dev/ttyS0".into(),
                    baud: 9600,
                },
            ),
            (
                "serial:/dev/ttyUSB1",
                PrinterTarget::Serial {
                    path: "/dev/ttyUSB1".into(),
                    baud: 115_200,
                },
            ),
        ] {
            assert_eq!(text.parse::<PrinterTarget>().unwrap(), target, "{text}");
            assert_eq!(target.to_string().parse::<PrinterTarget>().unwrap(), target);
        }
        for bad in ["tcp:host", "tcp::9100", "tcp:h:port", "lp0", "serial:"] {
            assert!(bad.parse::<PrinterTarget>().is_err(), "{bad}");
        }
    }
}
