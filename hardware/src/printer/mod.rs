//! Receipt and ticket printers speaking ESC/POS: the documents servicehall prints, their
//! encoding (GB18030 Chinese, QR codes native or raster), the transports (device node,
//! raw TCP 9100, serial), the printer's status, a renderer that turns the byte stream
//! back into the picture the paper will show, and a simulator that behaves like a
//! printer on the network.
//!
//! # The ESC/POS subset
//!
//! The encoder emits, and the renderer and simulator understand, exactly this subset
//! (anything else the renderer meets is skipped by its known length, or reported):
//!
//! | bytes | meaning |
//! |---|---|
//! | `ESC @` (1B 40) | initialise |
//! | `FS &` (1C 26) / `FS .` (1C 2E) | Chinese (GB18030 double-byte) mode on / off |
//! | `ESC t n` (1B 74 n) | code page for bytes ≥ 0x80 outside Chinese mode |
//! | `ESC a n` (1B 61 n) | align: 0 left, 1 centre, 2 right |
//! | `ESC E n` (1B 45 n) | bold on (n & 1) / off |
//! | `ESC - n` (1B 2D n) | underline 0/1/2 dots |
//! | `GS ! n` (1D 21 n) | character size: width ×((n >> 4) + 1), height ×((n & 0x0F) + 1) |
//! | `ESC 2` / `ESC 3 n` (1B 32 / 1B 33 n) | default / n-dot line spacing |
//! | `LF` (0A), `ESC d n` (1B 64 n), `ESC J n` (1B 4A n) | print and feed one line / n lines / n dots |
//! | `GS ( k` (1D 28 6B pL pH cn fn …) with cn = 0x31 | QR code: fn 0x41 model, 0x43 module size, 0x45 error level, 0x50 store data, 0x51 print |
//! | `GS v 0 m xL xH yL yH d…` (1D 76 30 …) | raster bit image, 1 = black, MSB first |
//! | `GS V m [n]` (1D 56 …) | cut (full / partial, optional feed) |
//! | `DLE EOT n` (10 04 n) | real-time status request, n = 1..4 (see [`status`]) |
//!
//! Text: bytes below 0x80 are ASCII. In Chinese mode, bytes from 0x81 start a GB18030
//! character (two bytes, or four when the second byte is 0x30–0x39). Font A geometry:
//! an ASCII character is 12 × 24 dots and a Chinese character 24 × 24 dots, so 80 mm paper
//! (576 dots) holds 48 columns and 58 mm paper (384 dots) 32 columns, a Chinese character
//! taking two columns.

pub mod document;
pub mod encode;
pub mod render;
pub mod sim;
pub mod status;
pub mod target;
pub mod transport;

pub use status::PrinterStatus;
pub use target::{BadPrinterTarget, PrinterTarget};

/// Paper roll widths servicehall supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaperWidth {
    /// 58 mm: 384 dots, 32 columns of Font A.
    Mm58,
    /// 80 mm: 576 dots, 48 columns of Font A.
    Mm80,
}

impl PaperWidth {
    /// Printable dots across the paper.
    pub fn dots(self) -> u32 {
        match self {
            PaperWidth::Mm58 => 384,
            PaperWidth::Mm80 => 576,
        }
    }

    /// Font A columns (an ASCII character is one column, a Chinese character two).
    pub fn columns(self) -> usize {
        match self {
            PaperWidth::Mm58 => 32,
            PaperWidth::Mm80 => 48,
        }
    }
}

/// How a printer prints QR codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QrMode {
    /// The printer's own `GS ( k` QR commands.
    Native,
    /// A `GS v 0` bit image drawn by us, for printers without QR support.
    Raster,
}

/// What servicehall knows about one printer, from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrinterProfile {
    pub name: String,
    pub width: PaperWidth,
    pub qr: QrMode,
}

/// Why a print did not happen. The caller still holds the job and can print it again.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("the printer is out of paper")]
    PaperOut,
    #[error("the printer's cover is open")]
    CoverOpen,
    #[error("the printer is offline: {0}")]
    Offline(String),
    #[error("the printer reports an error: {0}")]
    Fault(String),
    #[error("the printer did not answer in time")]
    Timeout,
    #[error("cannot reach the printer: {0}")]
    Io(#[from] std::io::Error),
    #[error("cannot encode the document: {0}")]
    Encoding(String),
}

/// One receipt or ticket printer. Blocking: call it from a blocking thread.
pub trait ReceiptPrinter: Send {
    fn profile(&self) -> &PrinterProfile;

    /// Asks the printer how it is (`DLE EOT`).
    fn status(&mut self) -> Result<PrinterStatus, PrintError>;

    /// Prints one document, after checking the printer can take it. On any error nothing
    /// is lost: the caller keeps `doc` and may print it again.
    fn print(&mut self, doc: &document::Document) -> Result<(), PrintError>;
}
