//! The counter's devices as the desk uses them: the receipt printer, connected on first
//! use and again after any failure (a printer switched off at start-up is found once it
//! is on), and the card payment terminal opened with its journal. Both are blocking
//! devices shared behind a mutex so the desk can hand them to a blocking thread.
//!
//! Never lays out a document (see `documents`) and never decides what a payment means
//! (see `desk`): it only opens and drives the `hardware` roles.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hardware::printer::document::Document;
use hardware::printer::{
    PaperWidth, PrintError, PrinterProfile, PrinterStatus, QrMode, ReceiptPrinter,
};
use hardware::terminal::{self, PaymentTerminal, TeliumConfig, TerminalBackend, TerminalError};

use crate::options::{PrinterTarget, TerminalTarget};

/// The profile of the counter's receipt printer: 80 mm paper, native QR codes.
pub fn counter_profile(name: &str) -> PrinterProfile {
    PrinterProfile {
        name: name.to_owned(),
        width: PaperWidth::Mm80,
        qr: QrMode::Native,
    }
}

/// The counter's receipt printer: a target, and the connection once made.
pub struct DeskPrinter {
    target: PrinterTarget,
    profile: PrinterProfile,
    open: Option<Box<dyn ReceiptPrinter>>,
}

impl std::fmt::Debug for DeskPrinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeskPrinter")
            .field("target", &self.target)
            .field("connected", &self.open.is_some())
            .finish()
    }
}

impl DeskPrinter {
    /// A printer at `target`; nothing is opened until the first print or status request.
    pub fn new(target: PrinterTarget, profile: PrinterProfile) -> DeskPrinter {
        DeskPrinter {
            target,
            profile,
            open: None,
        }
    }

    pub fn profile(&self) -> &PrinterProfile {
        &self.profile
    }

    pub fn target(&self) -> &PrinterTarget {
        &self.target
    }

    fn connect(&mut self) -> Result<&mut Box<dyn ReceiptPrinter>, PrintError> {
        if self.open.is_none() {
            let printer = self
                .target
                .open(self.profile.clone(), Duration::from_secs(2))?;
            self.open = Some(printer);
        }
        self.open
            .as_mut()
            .ok_or_else(|| PrintError::Offline("not connected".into()))
    }

    /// Prints `doc`. On any error the connection is dropped (made again next time) and
    /// the caller keeps the document for a reprint.
    pub fn print(&mut self, doc: &Document) -> Result<(), PrintError> {
        let result = self.connect().and_then(|p| p.print(doc));
        if let Err(e) = &result
            && !matches!(e, PrintError::PaperOut | PrintError::CoverOpen)
        {
            self.open = None;
        }
        result
    }

    /// Asks the printer how it is.
    pub fn status(&mut self) -> Result<PrinterStatus, PrintError> {
        let result = self.connect().and_then(|p| p.status());
        if result.is_err() {
            self.open = None;
        }
        result
    }
}

/// A device shared between the desk and the blocking thread that drives it.
pub type Shared<T> = Arc<Mutex<T>>;

/// Locks a device, carrying on after a panic on another thread (the devices keep their
/// own state consistent per call).
pub fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The counter's devices, as the desk takes them.
#[derive(Default)]
pub struct Devices {
    pub printer: Option<DeskPrinter>,
    pub terminal: Option<Box<dyn PaymentTerminal>>,
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devices")
            .field("printer", &self.printer)
            .field("terminal", &self.terminal.is_some())
            .finish()
    }
}

/// Opens the terminal named in the options, with its journal (created if missing).
pub fn open_terminal(
    target: &TerminalTarget,
    journal: &std::path::Path,
) -> Result<Option<Box<dyn PaymentTerminal>>, TerminalError> {
    let backend = match target {
        TerminalTarget::None => return Ok(None),
        TerminalTarget::Simulated => TerminalBackend::Simulated,
        TerminalTarget::Serial(p) => TerminalBackend::TeliumSerial {
            device: p.display().to_string(),
        },
    };
    terminal::open(&backend, TeliumConfig::default(), journal).map(Some)
}
