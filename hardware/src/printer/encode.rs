//! Turns a laid-out [`Document`] into the bytes of one print job, using only the ESC/POS
//! subset listed in [`crate::printer`]: `ESC @` first, `FS &` when the text needs
//! GB18030 double-byte characters, style commands only when the style changes, text in
//! GB18030 ended by `ESC d 1`, QR codes native (`GS ( k`) or as a `GS v 0` raster image,
//! and a partial cut at the end.
//!
//! Text goes through the `escpos` crate's `Printer` (GB18030 `Encoder`, no code page)
//! writing into an in-memory driver; three things are emitted directly because the crate
//! does not fit:
//! - `FS &`: the crate has no Chinese-mode command;
//! - the cut: the crate's "partial cut" is `GS V 65 1`, which is function B's *full*
//!   cut (m = 65), so the partial cut `GS V 66 0` is written by hand;
//! - raster QR codes: the crate's bit images need its `graphics` feature (the `image`
//!   crate) and read files; a QR code's modules become `GS v 0` rows here directly.
//!
//! Never sends a control character, an emoji or any character the printer's font lacks:
//! each becomes a visible `?` and is counted ([`EncodedJob::replaced`]). Never emits a
//! command outside the subset.

use escpos::driver::Driver;
use escpos::printer::Printer;
use escpos::printer_options::PrinterOptions;
use escpos::utils::{
    Encoder, JustifyMode, Protocol, QRCodeCorrectionLevel, QRCodeModel, QRCodeOption, UnderlineMode,
};
use qrcode::{Color, EcLevel, QrCode};
use std::cell::RefCell;
use std::rc::Rc;

use super::document::{Align, Block, Document, PaperChar, QR_QUIET_ZONE, Scale, Style, on_paper};
use super::{PaperWidth, PrintError, PrinterProfile, QrMode};

/// `FS &`: Chinese (GB18030 double-byte) mode on.
pub const CHINESE_MODE_ON: [u8; 2] = [0x1C, 0x26];

/// `GS V 66 0`: feed to the cutter and cut partially (a tab holds the receipt).
pub const PARTIAL_CUT: [u8; 4] = [0x1D, 0x56, 66, 0];

/// `ESC J 12`: feeds 12 dots (half a line) after a QR code.
pub const QR_GAP: [u8; 3] = [0x1B, 0x4A, 12];

/// One print job, ready for a transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedJob {
    pub bytes: Vec<u8>,
    /// Characters printed as `?` because the printer cannot show them.
    pub replaced: usize,
}

/// Encodes `doc` for the printer described by `profile`.
pub fn encode(doc: &Document, profile: &PrinterProfile) -> Result<Vec<u8>, PrintError> {
    encode_job(doc, profile).map(|job| job.bytes)
}

/// Replaces what the printer cannot show by a stand-in (`?`, or `(C)` for `©` and the
/// like: see [`on_paper`]), and `¥` by the full-width `￥` every Chinese font has; returns
/// the text to send and how many characters were replaced.
pub fn paper_text(text: &str) -> (String, usize) {
    let mut replaced = 0;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match on_paper(c) {
            PaperChar::Same(p) => out.push(p),
            PaperChar::Substitute(s) => {
                replaced += 1;
                out.push_str(s);
            }
        }
    }
    (out, replaced)
}

/// The in-memory sink the `escpos` printer writes into.
#[derive(Clone, Default)]
struct Sink(Rc<RefCell<Vec<u8>>>);

impl Driver for Sink {
    fn name(&self) -> String {
        "memory".to_owned()
    }

    fn write(&self, data: &[u8]) -> escpos::errors::Result<()> {
        self.0.try_borrow_mut()?.extend_from_slice(data);
        Ok(())
    }

    fn read(&self, _buf: &mut [u8]) -> escpos::errors::Result<usize> {
        Ok(0)
    }

    fn flush(&self) -> escpos::errors::Result<()> {
        Ok(())
    }
}

fn escpos_error(e: escpos::errors::PrinterError) -> PrintError {
    PrintError::Encoding(e.to_string())
}

fn mm(width: PaperWidth) -> u32 {
    match width {
        PaperWidth::Mm58 => 58,
        PaperWidth::Mm80 => 80,
    }
}

/// The printer's style after `ESC @`, tracked so only changes are sent.
struct Current {
    align: Align,
    bold: bool,
    underline: bool,
    scale: Scale,
}

impl Current {
    fn apply(&mut self, p: &mut Printer<Sink>, style: Style) -> Result<(), PrintError> {
        self.align_to(p, style.align)?;
        if style.bold != self.bold {
            p.bold(style.bold).map_err(escpos_error)?;
            self.bold = style.bold;
        }
        if style.underline != self.underline {
            let mode = if style.underline {
                UnderlineMode::Single
            } else {
                UnderlineMode::None
            };
            p.underline(mode).map_err(escpos_error)?;
            self.underline = style.underline;
        }
        if style.scale != self.scale {
            p.size(style.scale.width(), style.scale.height())
                .map_err(escpos_error)?;
            self.scale = style.scale;
        }
        Ok(())
    }

    fn align_to(&mut self, p: &mut Printer<Sink>, align: Align) -> Result<(), PrintError> {
        if align != self.align {
            let mode = match align {
                Align::Left => JustifyMode::LEFT,
                Align::Centre => JustifyMode::CENTER,
                Align::Right => JustifyMode::RIGHT,
            };
            p.justify(mode).map_err(escpos_error)?;
            self.align = align;
        }
        Ok(())
    }
}

/// Encodes `doc`, counting the characters replaced by `?`.
pub fn encode_job(doc: &Document, profile: &PrinterProfile) -> Result<EncodedJob, PrintError> {
    if doc.width() != profile.width {
        return Err(PrintError::Encoding(format!(
            "the document is laid out for {} mm paper but printer `{}` has {} mm paper",
            mm(doc.width()),
            profile.name,
            mm(profile.width)
        )));
    }
    let sink = Sink::default();
    let columns = u8::try_from(doc.columns()).unwrap_or(u8::MAX);
    let mut p = Printer::new(
        sink.clone(),
        Protocol::new(Encoder::new(encoding_rs::GB18030)),
        Some(PrinterOptions::new(None, None, columns)),
    );
    p.init().map_err(escpos_error)?;
    if doc.needs_chinese_mode() {
        p.custom(&CHINESE_MODE_ON).map_err(escpos_error)?;
    }
    let mut current = Current {
        align: Align::Left,
        bold: false,
        underline: false,
        scale: Scale::NORMAL,
    };
    let mut replaced = 0;
    let mut cut_last = false;
    for block in doc.blocks() {
        cut_last = false;
        match block {
            Block::Text(line) => {
                current.apply(&mut p, line.style())?;
                let (text, n) = paper_text(line.text());
                replaced += n;
                p.writeln(&text).map_err(escpos_error)?;
            }
            Block::Feed(n) => {
                p.feeds(*n).map_err(escpos_error)?;
            }
            Block::Rule => {
                current.apply(&mut p, Style::default())?;
                p.writeln(&"-".repeat(doc.columns()))
                    .map_err(escpos_error)?;
            }
            Block::Qr(qr) => {
                match profile.qr {
                    QrMode::Native => {
                        current.align_to(&mut p, qr.align())?;
                        let option = QRCodeOption::new(
                            QRCodeModel::Model2,
                            qr.module_size(),
                            QRCodeCorrectionLevel::M,
                        );
                        p.qrcode_option(qr.data(), option).map_err(escpos_error)?;
                    }
                    QrMode::Raster => {
                        // The image spans the paper; the QR code's place in it does the aligning.
                        current.align_to(&mut p, Align::Left)?;
                        let image =
                            raster_qr(qr.data(), qr.module_size(), qr.align(), doc.width())?;
                        p.custom(&image).map_err(escpos_error)?;
                    }
                }
                // Half a line of white under the code, so a caption does not touch it.
                p.custom(&QR_GAP).map_err(escpos_error)?;
            }
            Block::Cut => {
                p.custom(&PARTIAL_CUT).map_err(escpos_error)?;
                cut_last = true;
            }
        }
    }
    if !cut_last {
        p.custom(&PARTIAL_CUT).map_err(escpos_error)?;
    }
    p.print().map_err(escpos_error)?;
    drop(p);
    let bytes = sink.0.take();
    Ok(EncodedJob { bytes, replaced })
}

/// A QR code (level M) as one `GS v 0` image as wide as the paper: `module` dots per
/// module, a quiet zone of [`QR_QUIET_ZONE`] modules, placed left, centre or right.
pub fn raster_qr(
    data: &str,
    module: u8,
    align: Align,
    width: PaperWidth,
) -> Result<Vec<u8>, PrintError> {
    let code = QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| PrintError::Encoding(format!("cannot make a QR code of `{data}`: {e}")))?;
    let modules = code.width();
    let colors = code.to_colors();
    let module = usize::from(module.max(1));
    let side = (modules + 2 * QR_QUIET_ZONE) * module;
    let dots = width.dots() as usize;
    if side > dots {
        return Err(PrintError::Encoding(format!(
            "the QR code of `{data}` is {side} dots wide, more than the paper's {dots}"
        )));
    }
    let x0 = match align {
        Align::Left => 0,
        Align::Centre => (dots - side) / 2,
        Align::Right => dots - side,
    };
    let row_bytes = dots / 8;
    let too_big = || PrintError::Encoding("the QR image is too large".to_owned());
    let [xl, xh] = u16::try_from(row_bytes)
        .map_err(|_| too_big())?
        .to_le_bytes();
    let [yl, yh] = u16::try_from(side).map_err(|_| too_big())?.to_le_bytes();
    let mut out = Vec::with_capacity(8 + row_bytes * side);
    out.extend_from_slice(&[0x1D, 0x76, 0x30, 0x00, xl, xh, yl, yh]);
    let quiet = QR_QUIET_ZONE * module;
    for y in 0..side {
        let my = y / module;
        let in_rows = y >= quiet && my < modules + QR_QUIET_ZONE;
        for byte in 0..row_bytes {
            let mut bits = 0u8;
            for bit in 0..8 {
                let x = byte * 8 + bit;
                if !in_rows || x < x0 + quiet || x >= x0 + side - quiet {
                    continue;
                }
                let mx = (x - x0 - quiet) / module;
                let index = (my - QR_QUIET_ZONE) * modules + mx;
                if colors.get(index) == Some(&Color::Dark) {
                    bits |= 0x80 >> bit;
                }
            }
            out.push(bits);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::printer::document::{Scale, Style};

    fn profile(width: PaperWidth, qr: QrMode) -> PrinterProfile {
        PrinterProfile {
            name: "test".to_owned(),
            width,
            qr,
        }
    }

    #[test]
    fn a_tiny_document_is_exactly_these_bytes() {
        let mut doc = Document::new(PaperWidth::Mm58);
        doc.text(
            "请",
            Style::centred().bold().scaled(Scale::DOUBLE).underlined(),
        );
        doc.qr("hi", 4, Align::Centre).unwrap();
        doc.text("A", Style::default());
        doc.cut();
        let bytes = encode(&doc, &profile(PaperWidth::Mm58, QrMode::Native)).unwrap();
        let expected: Vec<u8> = [
            &[0x1B, 0x40][..],                                       // ESC @
            &[0x1C, 0x26],                                           // FS &
            &[0x1B, 0x61, 1],                                        // ESC a 1: centre
            &[0x1B, 0x45, 1],                                        // ESC E 1: bold
            &[0x1B, 0x2D, 1],                                        // ESC - 1: underline
            &[0x1D, 0x21, 0x11],                                     // GS ! 0x11: 2×2
            &[0xC7, 0xEB],                                           // 请 in GB18030
            &[0x1B, 0x64, 1],                                        // ESC d 1
            &[0x1D, 0x28, 0x6B, 4, 0, 0x31, 0x41, 0x32, 0],          // model 2
            &[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x43, 4],                // module size 4
            &[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x45, 0x31],             // error level M
            &[0x1D, 0x28, 0x6B, 5, 0, 0x31, 0x50, 0x30, b'h', b'i'], // store: pL = 2 + 3
            &[0x1D, 0x28, 0x6B, 3, 0, 0x31, 0x51, 0x30],             // print
            &[0x1B, 0x4A, 12],                                       // half a line of white
            &[0x1B, 0x61, 0],                                        // left
            &[0x1B, 0x45, 0],                                        // bold off
            &[0x1B, 0x2D, 0],                                        // underline off
            &[0x1D, 0x21, 0x00],                                     // 1×1
            b"A",
            &[0x1B, 0x64, 1],
            &[0x1D, 0x56, 66, 0], // partial cut
        ]
        .concat();
        assert_eq!(bytes, expected);
    }

    #[test]
    fn ascii_documents_stay_out_of_chinese_mode_and_are_always_cut() {
        let mut doc = Document::new(PaperWidth::Mm80);
        doc.text("Hello", Style::default());
        let bytes = encode(&doc, &profile(PaperWidth::Mm80, QrMode::Native)).unwrap();
        assert_eq!(bytes, b"\x1b@Hello\x1bd\x01\x1dVB\x00");
    }

    #[test]
    fn qr_store_lengths_count_the_data_bytes() {
        let data = "x".repeat(300);
        let mut doc = Document::new(PaperWidth::Mm80);
        doc.qr(&data, 3, Align::Left).unwrap();
        let bytes = encode(&doc, &profile(PaperWidth::Mm80, QrMode::Native)).unwrap();
        // pL pH = 303 = 0x012F little-endian.
        let store = [0x1D, 0x28, 0x6B, 0x2F, 0x01, 0x31, 0x50, 0x30];
        assert!(bytes.windows(store.len()).any(|w| w == store));
    }

    #[test]
    fn raster_qr_has_the_paper_wide_header_and_is_centred() {
        let mut doc = Document::new(PaperWidth::Mm58);
        doc.qr("hi", 4, Align::Centre).unwrap();
        let bytes = encode(&doc, &profile(PaperWidth::Mm58, QrMode::Raster)).unwrap();
        // "hi" is version 1: 21 modules + 8 quiet = 29 × 4 = 116 rows of 384 dots.
        let header = [0x1D, 0x76, 0x30, 0x00, 48, 0, 116, 0];
        let at = bytes
            .windows(header.len())
            .position(|w| w == header)
            .unwrap();
        let image = &bytes[at + 8..at + 8 + 48 * 116];
        // The first dark row is the finder pattern's top edge, 16 rows down, starting at
        // x0 + 16 with x0 = (384 - 116) / 2 = 134: dots 150.. are black.
        let row = &image[16 * 48..17 * 48];
        let black: Vec<usize> = (0..384)
            .filter(|x| row[x / 8] & (0x80 >> (x % 8)) != 0)
            .collect();
        assert_eq!(black.first(), Some(&150));
        assert!(
            image[..16 * 48].iter().all(|b| *b == 0),
            "quiet zone is white"
        );
        assert_eq!(&bytes[bytes.len() - 4..], &PARTIAL_CUT);
        assert!(!bytes.windows(3).any(|w| w == [0x1D, 0x28, 0x6B]));
    }

    #[test]
    fn unprintable_characters_become_visible_question_marks_and_are_counted() {
        let mut doc = Document::new(PaperWidth::Mm80);
        doc.text("好😀\u{7}\u{85}x\u{200b}", Style::default());
        let job = encode_job(&doc, &profile(PaperWidth::Mm80, QrMode::Native)).unwrap();
        assert_eq!(job.replaced, 4);
        let text = [0xBA, 0xC3, b'?', b'?', b'?', b'x', b'?', 0x1B, 0x64, 1];
        assert!(
            job.bytes.windows(text.len()).any(|w| w == text),
            "{:02x?}",
            job.bytes
        );
        assert!(!job.bytes.contains(&0x07));
        assert!(!job.bytes.contains(&0x85));
    }

    #[test]
    fn characters_outside_gbk_go_out_as_counted_stand_ins_never_four_byte_gb18030() {
        let mut doc = Document::new(PaperWidth::Mm80);
        doc.text("Müller © Straße • ok", Style::default());
        let job = encode_job(&doc, &profile(PaperWidth::Mm80, QrMode::Native)).unwrap();
        assert_eq!(job.replaced, 3);
        // "M" "ü" (GB2312 A8 B9) "ller (C) Stra" "ss" "e " "·" (A1 A4) " ok"
        let mut text = b"M\xa8\xb9ller (C) Strasse \xa1\xa4 ok".to_vec();
        text.extend([0x1B, 0x64, 1]);
        assert!(
            job.bytes.windows(text.len()).any(|w| w == text),
            "{:02x?}",
            job.bytes
        );
        // No four-byte GB18030 sequence for a BMP character anywhere.
        assert!(
            !job.bytes.windows(4).any(|w| (0x81..=0x84).contains(&w[0])
                && (0x30..=0x39).contains(&w[1])
                && (0x81..=0xFE).contains(&w[2])
                && (0x30..=0x39).contains(&w[3])),
            "{:02x?}",
            job.bytes
        );
    }

    #[test]
    fn yen_goes_out_as_the_full_width_sign_every_chinese_font_has() {
        let mut doc = Document::new(PaperWidth::Mm80);
        doc.text("Total ¥12.50", Style::default());
        let job = encode_job(&doc, &profile(PaperWidth::Mm80, QrMode::Native)).unwrap();
        assert_eq!(job.replaced, 0);
        assert!(job.bytes.starts_with(&[0x1B, 0x40, 0x1C, 0x26]));
        assert!(job.bytes.windows(7).any(|w| w == b"\xa3\xa412.50"));
    }

    #[test]
    fn a_document_for_other_paper_is_refused() {
        let doc = Document::new(PaperWidth::Mm80);
        let err = encode(&doc, &profile(PaperWidth::Mm58, QrMode::Native)).unwrap_err();
        assert!(matches!(err, PrintError::Encoding(_)), "{err}");
    }
}
