//! What servicehall prints, laid out for one paper width: a [`Document`] is a list of
//! blocks (text lines already wrapped and aligned, QR codes, feeds, rules, cuts) and the
//! five documents of the standard are built here from plain input structs: the queue
//! ticket, the request intake slip (GB/T 6.1.2), the service agreement (GB/T 8.2.1), the
//! payment receipt (GB/T 8.3, 8.4.2) and the refund slip (GB/T 8.4.3).
//!
//! Layout counts columns the way the printer does (see [`char_columns`]): an ASCII
//! character is one column of Font A, every other character is a full 24-dot cell, two
//! columns. Text at size w× has `columns / w` columns. A line is never wider than the
//! paper, a Chinese character is never split, and a word longer than a line is broken.
//!
//! This module never emits a byte of ESC/POS (that is [`super::encode`]) and never prints
//! personal data unmasked: phones and names go through [`crate::mask`] (GB/T 5.4.2).

use chrono::{Duration, NaiveDate, NaiveDateTime};
use domain::calendar::REFUND_WORKING_DAYS;
use domain::money::QuoteError;
use domain::{Channel, Fen, Quote, QuoteLine, ServiceType, TicketNumber};
use qrcode::{EcLevel, QrCode};
use std::fmt::Write as _;
use unicode_width::UnicodeWidthChar;

use super::PaperWidth;
use crate::mask::{mask_name, mask_phone};

/// White modules a QR code needs on each side to be read reliably.
pub const QR_QUIET_ZONE: usize = 4;

/// The largest QR module size in dots (`GS ( k` allows 1..=16; the `escpos` crate caps
/// it at 15).
pub const QR_MAX_MODULE: u8 = 15;

/// Why a document could not be laid out. Nothing was printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("character size {width}×{height} is not possible (1 to 8 each way)")]
    BadScale { width: u8, height: u8 },
    #[error("the link `{data}` cannot be made into a QR code: {reason}")]
    QrData { data: String, reason: String },
    #[error("the QR code for `{data}` does not fit on {mm} mm paper")]
    QrTooLarge { data: String, mm: u32 },
    #[error("the fee list cannot be totalled: {0}")]
    Fees(#[from] QuoteError),
    #[error("the cash handed over ({tendered}) is less than the total ({total})")]
    CashShort { tendered: Fen, total: Fen },
    #[error("a refund must be a positive amount, not {0}")]
    RefundNotPositive(Fen),
}

// ---------------------------------------------------------------- characters and columns

/// How one character goes on paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperChar {
    /// Sent as this character (itself, or `￥` for `¥`).
    Same(char),
    /// The printer's font lacks the character: this visible stand-in is sent instead and
    /// the character is counted as replaced (`?` when there is no better one).
    Substitute(&'static str),
}

/// What the printer is sent for `c`.
///
/// Unprintable (sent as `?`): C0/C1 controls, anything outside the Basic Multilingual
/// Plane (emoji, CJK extension B...), private-use and non-characters, and zero-width
/// characters (combining marks, joiners, variation selectors) which a printer would draw
/// as a box.
///
/// Also unprintable: every character GB18030 encodes in four bytes (`81 30 xx xx`...),
/// that is everything outside GBK, such as `ö ñ ç ß © ® • ™`. GBK-era printer fonts have
/// no glyphs there and print garbage, so those go out as a readable ASCII stand-in where
/// there is an obvious one (`©` → `(C)`, `ö` → `o`, `•` → `·`) and `?` otherwise.
///
/// One exception: `¥` (U+00A5) is also in the four-byte area, but the full-width `￥`
/// (U+FFE5, GB2312 `A3 A4`) that every Chinese font has means the same, so it is sent
/// instead and not counted.
pub fn on_paper(c: char) -> PaperChar {
    if c.is_ascii() {
        return if c == ' ' || c.is_ascii_graphic() {
            PaperChar::Same(c)
        } else {
            PaperChar::Substitute("?")
        };
    }
    if c == '¥' {
        return PaperChar::Same('￥');
    }
    let cp = u32::from(c);
    let unprintable = cp > 0xFFFF
        || c.is_control()
        || (0xE000..=0xF8FF).contains(&cp)
        || (0xFDD0..=0xFDEF).contains(&cp)
        || cp >= 0xFFFE
        || !matches!(c.width(), Some(w) if w > 0);
    if unprintable {
        return PaperChar::Substitute("?");
    }
    if gb18030_len(c) == 4 {
        return PaperChar::Substitute(stand_in(c));
    }
    PaperChar::Same(c)
}

/// The character the printer is sent for `c`, or `None` when the font cannot show it
/// (see [`on_paper`]; the encoder then sends a stand-in and counts it).
pub fn paper_char(c: char) -> Option<char> {
    match on_paper(c) {
        PaperChar::Same(p) => Some(p),
        PaperChar::Substitute(_) => None,
    }
}

/// How many bytes GB18030 takes for `c` (1, 2 or 4).
fn gb18030_len(c: char) -> usize {
    let mut buf = [0u8; 4];
    let (bytes, _, _) = encoding_rs::GB18030.encode(c.encode_utf8(&mut buf));
    bytes.len()
}

/// A readable stand-in, in characters every GBK font has, for a character outside GBK.
fn stand_in(c: char) -> &'static str {
    match c {
        '©' => "(C)",
        '®' => "(R)",
        '™' => "TM",
        '•' | '‧' | '∙' => "·",
        'ß' => "ss",
        'æ' => "ae",
        'Æ' => "AE",
        'œ' => "oe",
        'Œ' => "OE",
        'ø' => "o",
        'Ø' => "O",
        'å' | 'ä' | 'â' | 'ã' | 'ą' | 'ă' => "a",
        'Å' | 'Ä' | 'Â' | 'Ã' | 'À' | 'Á' | 'Ą' | 'Ă' => "A",
        'ç' | 'ć' | 'č' => "c",
        'Ç' | 'Ć' | 'Č' => "C",
        'ë' | 'ę' | 'ė' | 'ě' => "e",
        'É' | 'È' | 'Ê' | 'Ë' | 'Ę' | 'Ě' => "E",
        'î' | 'ï' => "i",
        'Î' | 'Ï' | 'Í' | 'Ì' => "I",
        'ñ' | 'ń' | 'ň' => "n",
        'Ñ' | 'Ń' | 'Ň' => "N",
        'ö' | 'ô' | 'õ' | 'ő' => "o",
        'Ö' | 'Ô' | 'Õ' | 'Ó' | 'Ò' | 'Ő' => "O",
        'û' | 'ű' | 'ů' => "u",
        'Ü' | 'Û' | 'Ú' | 'Ù' | 'Ű' | 'Ů' => "U",
        'ÿ' | 'ý' => "y",
        'Ý' | 'Ÿ' => "Y",
        'ł' => "l",
        'Ł' => "L",
        'ś' | 'š' => "s",
        'Ś' | 'Š' => "S",
        'ź' | 'ż' | 'ž' => "z",
        'Ź' | 'Ż' | 'Ž' => "Z",
        _ => "?",
    }
}

/// Font A columns `c` takes on paper: 1 for ASCII (and for the `?` an unprintable
/// character becomes), 2 for everything else, which the printer draws in a full 24-dot
/// cell in Chinese mode (`unicode-width` says 1 for `¥`, `×`, `é`; the printer says 2),
/// and for a stand-in the columns of what is actually sent (`©` → `(C)` is 3).
pub fn char_columns(c: char) -> usize {
    match on_paper(c) {
        PaperChar::Same(p) if !p.is_ascii() => 2,
        PaperChar::Same(_) => 1,
        PaperChar::Substitute(s) => s.chars().map(|p| if p.is_ascii() { 1 } else { 2 }).sum(),
    }
}

/// Columns `s` takes on paper at normal size.
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_columns).sum()
}

/// Characters a line must not start with (closing punctuation, 避头).
const NO_LINE_START: &str = "，。、；：？！）》」』】〉〕”’…,.;:?!)]}%";
/// Characters a line must not end with (opening punctuation and currency, 避尾).
const NO_LINE_END: &str = "（《「『【〈〔“‘([{¥￥$";

/// Whether a line may break between `prev` and `next` (no space between them). Breaks
/// are allowed beside wide characters (Chinese, Japanese, Korean, full-width forms, per
/// `unicode-width`) except before closing and after opening punctuation; a run of
/// narrow characters (`XQG100-14`, `¥12.50`) is one word.
fn may_break_between(prev: char, next: char) -> bool {
    let wide = |c: char| c.width() == Some(2);
    (wide(prev) || wide(next)) && !NO_LINE_START.contains(next) && !NO_LINE_END.contains(prev)
}

enum Segment {
    Space,
    Word(String),
}

fn segments(paragraph: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev: Option<char> = None;
    for c in paragraph.chars() {
        let c = if c == '\t' { ' ' } else { c };
        if c == ' ' {
            if !word.is_empty() {
                out.push(Segment::Word(std::mem::take(&mut word)));
            }
            out.push(Segment::Space);
            prev = None;
            continue;
        }
        if let Some(p) = prev
            && may_break_between(p, c)
        {
            out.push(Segment::Word(std::mem::take(&mut word)));
        }
        word.push(c);
        prev = Some(c);
    }
    if !word.is_empty() {
        out.push(Segment::Word(word));
    }
    out
}

/// Wraps `text` into lines of at most `max` paper columns. Newlines start new lines;
/// spaces at line ends are dropped; a word longer than `max` is broken between
/// characters, never inside one.
pub fn wrap(text: &str, max: usize) -> Vec<String> {
    // A wide character needs two columns: a line narrower than that could never advance.
    let max = max.max(2);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let paragraph = paragraph.strip_suffix('\r').unwrap_or(paragraph);
        let first = lines.len();
        let mut line = String::new();
        let mut used = 0;
        let finish = |lines: &mut Vec<String>, line: &mut String, used: &mut usize| {
            let trimmed = line.trim_end_matches(' ').to_owned();
            lines.push(trimmed);
            line.clear();
            *used = 0;
        };
        for segment in segments(paragraph) {
            match segment {
                Segment::Space => {
                    if used > 0 && used < max {
                        line.push(' ');
                        used += 1;
                    }
                }
                Segment::Word(word) => {
                    let width = display_width(&word);
                    if used + width <= max {
                        line.push_str(&word);
                        used += width;
                        continue;
                    }
                    if used > 0 {
                        finish(&mut lines, &mut line, &mut used);
                    }
                    if width <= max {
                        line.push_str(&word);
                        used = width;
                        continue;
                    }
                    for c in word.chars() {
                        let w = char_columns(c);
                        if used + w > max {
                            finish(&mut lines, &mut line, &mut used);
                        }
                        line.push(c);
                        used += w;
                    }
                }
            }
        }
        if used > 0 || lines.len() == first {
            finish(&mut lines, &mut line, &mut used);
        }
    }
    lines
}

// ---------------------------------------------------------------- the document model

/// Horizontal placement of a line or a QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Align {
    #[default]
    Left,
    Centre,
    Right,
}

/// Character size multipliers, 1..=8 each way (`GS !`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scale {
    width: u8,
    height: u8,
}

impl Scale {
    pub const NORMAL: Scale = Scale {
        width: 1,
        height: 1,
    };
    pub const DOUBLE: Scale = Scale {
        width: 2,
        height: 2,
    };
    pub const TALL: Scale = Scale {
        width: 1,
        height: 2,
    };

    pub fn new(width: u8, height: u8) -> Result<Scale, DocumentError> {
        if (1..=8).contains(&width) && (1..=8).contains(&height) {
            Ok(Scale { width, height })
        } else {
            Err(DocumentError::BadScale { width, height })
        }
    }

    /// The same multiplier both ways, clamped to 1..=8.
    pub fn square(n: u8) -> Scale {
        let n = n.clamp(1, 8);
        Scale {
            width: n,
            height: n,
        }
    }

    pub fn width(self) -> u8 {
        self.width
    }

    pub fn height(self) -> u8 {
        self.height
    }
}

impl Default for Scale {
    fn default() -> Self {
        Scale::NORMAL
    }
}

/// How one line of text is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Style {
    pub align: Align,
    pub bold: bool,
    pub underline: bool,
    pub scale: Scale,
}

impl Style {
    pub fn centred() -> Style {
        Style {
            align: Align::Centre,
            ..Style::default()
        }
    }

    pub fn right() -> Style {
        Style {
            align: Align::Right,
            ..Style::default()
        }
    }

    pub fn bold(self) -> Style {
        Style { bold: true, ..self }
    }

    pub fn underlined(self) -> Style {
        Style {
            underline: true,
            ..self
        }
    }

    pub fn scaled(self, scale: Scale) -> Style {
        Style { scale, ..self }
    }
}

/// One printed line: it fits the paper at its scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    text: String,
    style: Style,
}

impl TextLine {
    /// The text as given (the encoder replaces unprintable characters).
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn style(&self) -> Style {
        self.style
    }

    /// Paper columns the line takes, scale included.
    pub fn columns(&self) -> usize {
        display_width(&self.text) * usize::from(self.style.scale.width)
    }
}

/// A QR code that fits the paper with its quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrBlock {
    data: String,
    module_size: u8,
    align: Align,
    modules: usize,
}

impl QrBlock {
    pub fn data(&self) -> &str {
        &self.data
    }

    /// Dots per module.
    pub fn module_size(&self) -> u8 {
        self.module_size
    }

    pub fn align(&self) -> Align {
        self.align
    }

    /// Modules per side at error correction level M (without the quiet zone).
    pub fn modules(&self) -> usize {
        self.modules
    }

    /// Dots per side, quiet zone included.
    pub fn dots(&self) -> usize {
        (self.modules + 2 * QR_QUIET_ZONE) * usize::from(self.module_size)
    }
}

/// One laid-out piece of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Text(TextLine),
    Qr(QrBlock),
    /// Blank lines.
    Feed(u8),
    /// A dashed line across the paper.
    Rule,
    /// Cut the paper here.
    Cut,
}

/// A document laid out for one paper width. Built only through its methods, so every
/// line fits the paper and every QR code fits with its quiet zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    width: PaperWidth,
    blocks: Vec<Block>,
}

impl Document {
    pub fn new(width: PaperWidth) -> Document {
        Document {
            width,
            blocks: Vec::new(),
        }
    }

    pub fn width(&self) -> PaperWidth {
        self.width
    }

    /// Font A columns at normal size.
    pub fn columns(&self) -> usize {
        self.width.columns()
    }

    /// Columns available to text at `scale`.
    pub fn columns_at(&self, scale: Scale) -> usize {
        self.columns() / usize::from(scale.width)
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// The text lines, in order.
    pub fn text_lines(&self) -> impl Iterator<Item = &TextLine> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Text(line) => Some(line),
            _ => None,
        })
    }

    /// Whether any character goes to the printer as more than one byte (the encoder then
    /// switches Chinese mode on).
    pub fn needs_chinese_mode(&self) -> bool {
        self.text_lines()
            .flat_map(|l| l.text.chars())
            .any(|c| match on_paper(c) {
                PaperChar::Same(p) => !p.is_ascii(),
                PaperChar::Substitute(s) => !s.is_ascii(),
            })
    }

    /// Adds `text`, wrapped to the columns its scale leaves.
    pub fn text(&mut self, text: &str, style: Style) -> &mut Self {
        for line in wrap(text, self.columns_at(style.scale)) {
            self.blocks
                .push(Block::Text(TextLine { text: line, style }));
        }
        self
    }

    /// Adds a two-column row `label ........ value` filling the line (amounts, dates).
    /// A long label wraps beside the value; a value too long to share a line goes
    /// right-aligned under the label.
    pub fn pair(&mut self, label: &str, value: &str, style: Style) -> &mut Self {
        let cols = self.columns_at(style.scale);
        let value_width = display_width(value);
        // label, a space, at least one dot, a space, the value
        let label_room = cols.saturating_sub(value_width + 3);
        let left = Style {
            align: Align::Left,
            ..style
        };
        // Beside the value when the label fits there whole, or at least in a third of the line.
        if label_room >= 2 && label_room >= display_width(label).min(cols / 3) {
            let mut lines = wrap(label, label_room);
            let last = lines.pop().unwrap_or_default();
            for line in lines {
                self.blocks.push(Block::Text(TextLine {
                    text: line,
                    style: left,
                }));
            }
            let gap = cols.saturating_sub(display_width(&last) + value_width + 2);
            // Dots lead the eye across a normal line; at larger sizes they look heavy.
            let leader = if style.scale.width == 1 { "." } else { " " };
            let text = if last.is_empty() {
                format!("{}{value}", " ".repeat(cols.saturating_sub(value_width)))
            } else {
                format!("{last} {} {value}", leader.repeat(gap))
            };
            self.blocks
                .push(Block::Text(TextLine { text, style: left }));
        } else {
            self.text(label, left);
            self.text(
                value,
                Style {
                    align: Align::Right,
                    ..style
                },
            );
        }
        self
    }

    /// Adds a QR code (error correction level M) at up to `module_size` dots per module,
    /// smaller if the paper needs it.
    pub fn qr(
        &mut self,
        data: &str,
        module_size: u8,
        align: Align,
    ) -> Result<&mut Self, DocumentError> {
        let code =
            QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M).map_err(|e| {
                DocumentError::QrData {
                    data: data.to_owned(),
                    reason: e.to_string(),
                }
            })?;
        let modules = code.width();
        let fits = self.width.dots() as usize / (modules + 2 * QR_QUIET_ZONE);
        let size = usize::from(module_size.clamp(1, QR_MAX_MODULE)).min(fits);
        let module_size = u8::try_from(size).ok().filter(|s| *s > 0).ok_or_else(|| {
            DocumentError::QrTooLarge {
                data: data.to_owned(),
                mm: match self.width {
                    PaperWidth::Mm58 => 58,
                    PaperWidth::Mm80 => 80,
                },
            }
        })?;
        self.blocks.push(Block::Qr(QrBlock {
            data: data.to_owned(),
            module_size,
            align,
            modules,
        }));
        Ok(self)
    }

    pub fn feed(&mut self, lines: u8) -> &mut Self {
        if lines > 0 {
            self.blocks.push(Block::Feed(lines));
        }
        self
    }

    pub fn rule(&mut self) -> &mut Self {
        self.blocks.push(Block::Rule);
        self
    }

    pub fn cut(&mut self) -> &mut Self {
        self.blocks.push(Block::Cut);
        self
    }

    /// A plain-text picture of the paper for reviews and snapshots: one `|…|` line per
    /// printed line, exactly the paper's columns wide between the bars in a monospace
    /// editor (a character the printer draws two columns wide but an editor one column
    /// is followed by a space; unprintable characters show as `?`; at w× each column is
    /// followed by w − 1 spaces). Bold, underline and size are noted after the bar.
    pub fn to_plain_text(&self) -> String {
        let cols = self.columns();
        let mut out = String::new();
        for block in &self.blocks {
            match block {
                Block::Text(line) => {
                    let cells = preview_cells(&line.text, line.style.scale.width);
                    let used = display_width(&line.text) * usize::from(line.style.scale.width);
                    let mut tags = Vec::new();
                    if line.style.bold {
                        tags.push("bold".to_owned());
                    }
                    if line.style.underline {
                        tags.push("underline".to_owned());
                    }
                    if line.style.scale != Scale::NORMAL {
                        tags.push(format!(
                            "{}x{}",
                            line.style.scale.width, line.style.scale.height
                        ));
                    }
                    let tags = if tags.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", tags.join(" "))
                    };
                    let _ = writeln!(
                        out,
                        "|{}|{tags}",
                        aligned(&cells, used, cols, line.style.align)
                    );
                }
                Block::Qr(qr) => {
                    let label = format!(
                        "[QR {m}x{m} x{s} = {d} dots]",
                        m = qr.modules,
                        s = qr.module_size,
                        d = qr.dots()
                    );
                    for part in wrap(&label, cols) {
                        let used = display_width(&part);
                        let _ = writeln!(out, "|{}|", aligned(&part, used, cols, qr.align));
                    }
                    for part in wrap(&qr.data, cols) {
                        let used = display_width(&part);
                        let _ = writeln!(out, "|{}| qr data", aligned(&part, used, cols, qr.align));
                    }
                }
                Block::Feed(n) => {
                    for _ in 0..*n {
                        let _ = writeln!(out, "|{}|", " ".repeat(cols));
                    }
                }
                Block::Rule => {
                    let _ = writeln!(out, "|{}|", "-".repeat(cols));
                }
                Block::Cut => {
                    let _ = writeln!(out, "{} cut", "=".repeat(cols + 2));
                }
            }
        }
        out
    }
}

/// The characters of `text` as the paper shows them, padded so an editor's columns match
/// the paper's at width multiplier `w`.
fn preview_cells(text: &str, w: u8) -> String {
    let mut s = String::new();
    for c in text.chars() {
        let mut buf = [0u8; 4];
        let shown: &str = match on_paper(c) {
            PaperChar::Same(p) => p.encode_utf8(&mut buf),
            PaperChar::Substitute(s) => s,
        };
        let paper = char_columns(c);
        let editor: usize = shown.chars().map(|p| p.width().unwrap_or(1)).sum();
        let pad = paper.saturating_sub(editor) + paper * usize::from(w.saturating_sub(1));
        s.extend(std::iter::repeat_n(' ', pad / 2));
        s.push_str(shown);
        s.extend(std::iter::repeat_n(' ', pad - pad / 2));
    }
    s
}

fn aligned(cells: &str, used: usize, cols: usize, align: Align) -> String {
    let free = cols.saturating_sub(used);
    let left = match align {
        Align::Left => 0,
        Align::Centre => free / 2,
        Align::Right => free,
    };
    format!("{}{cells}{}", " ".repeat(left), " ".repeat(free - left))
}

// ---------------------------------------------------------------- the documents' inputs

/// The language a document is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    /// Simplified Chinese (zh-CN).
    #[default]
    ZhCn,
    En,
}

impl Lang {
    fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::ZhCn => zh,
            Lang::En => en,
        }
    }
}

/// A text in both languages (configured names, published procedures).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Localized {
    pub zh: String,
    pub en: String,
}

impl Localized {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Localized {
        Localized {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        lang.pick(&self.zh, &self.en)
    }
}

/// The service centre as published (GB/T 5.3.1): name, address, service phone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Centre {
    pub name: Localized,
    pub address: String,
    /// The centre's public service phone (not personal data).
    pub phone: String,
}

/// A service type with the names the centre configured for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceName {
    pub kind: ServiceType,
    pub name: Localized,
}

impl ServiceName {
    /// The standard's own names (GB/T 4.2.1).
    pub fn standard(kind: ServiceType) -> ServiceName {
        ServiceName {
            kind,
            name: Localized::new(kind.name_zh(), kind.name_en()),
        }
    }
}

/// A technician as identified to the customer (GB/T 6.2): staff are not customers, so
/// their name is printed in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Technician {
    pub name: String,
    pub staff_no: String,
    /// Certificate held for this work (GB/T 5.2.3), e.g. "家电维修工（高级） No. 2023-0456".
    pub certificate: Option<String>,
}

/// GB/T 8.4.2: the ways a customer can pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMethod {
    Cash,
    /// Bank card on the payment terminal.
    BankCard,
    Cheque,
    /// QR code / online payment.
    Online,
}

impl PaymentMethod {
    pub fn name(self, lang: Lang) -> &'static str {
        match self {
            PaymentMethod::Cash => lang.pick("现金", "Cash"),
            PaymentMethod::BankCard => lang.pick("银行卡", "Bank card"),
            PaymentMethod::Cheque => lang.pick("支票", "Cheque"),
            PaymentMethod::Online => lang.pick("扫码/在线支付", "QR / online payment"),
        }
    }
}

/// How a payment was made, with what the receipt must show for each method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tender {
    /// Cash handed over; the change is printed.
    Cash {
        tendered: Fen,
    },
    /// The terminal's transaction reference (no card number is ever printed).
    BankCard {
        terminal_ref: String,
    },
    Cheque {
        number: String,
    },
    Online {
        reference: String,
    },
}

impl Tender {
    pub fn method(&self) -> PaymentMethod {
        match self {
            Tender::Cash { .. } => PaymentMethod::Cash,
            Tender::BankCard { .. } => PaymentMethod::BankCard,
            Tender::Cheque { .. } => PaymentMethod::Cheque,
            Tender::Online { .. } => PaymentMethod::Online,
        }
    }
}

/// A queue ticket: no personal data at all (GB/T 5.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTicket {
    pub centre: Centre,
    pub number: TicketNumber,
    pub service: ServiceName,
    /// The centre's local time.
    pub issued_at: NaiveDateTime,
    pub people_ahead: u32,
    pub estimated_wait: Duration,
    /// The ticket's status page (GB/T 4.1.3).
    pub status_url: String,
}

/// GB/T 6.1.2: the summary of a request the customer keeps after confirming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeSlip {
    pub centre: Centre,
    pub request_no: String,
    pub service: ServiceName,
    /// GB/T 4.2.2.
    pub channel: Channel,
    pub accepted_at: NaiveDateTime,
    /// Printed masked (GB/T 5.4.2).
    pub customer_name: Option<String>,
    /// Printed masked (GB/T 5.4.2).
    pub customer_phone: Option<String>,
    pub product: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub purchase_date: Option<NaiveDate>,
    pub problem: Option<String>,
    /// GB/T 5.5.2: the customer gets an answer by then.
    pub reply_due: Option<NaiveDateTime>,
    /// GB/T 4.1.2: the promised time limit.
    pub resolve_due: Option<NaiveDateTime>,
    pub status_url: Option<String>,
}

/// GB/T 8.2.1: the written service agreement; changes make a new version (8.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAgreement {
    pub centre: Centre,
    pub agreement_no: String,
    pub version: u32,
    pub request_no: String,
    pub service: ServiceName,
    /// What will be done.
    pub content: String,
    pub starts_at: NaiveDateTime,
    /// GB/T 4.1.2: the promised completion time.
    pub finish_by: NaiveDateTime,
    pub place: String,
    /// Every fee, itemised (GB/T 4.2.3); no lines means free of charge.
    pub fees: Quote,
    /// The published change procedure (GB/T 5.3.1).
    pub change_procedure: Localized,
    /// GB/T 6.2.
    pub technician: Technician,
    /// Printed masked (GB/T 5.4.2).
    pub customer_name: Option<String>,
    /// Printed masked (GB/T 5.4.2).
    pub customer_phone: Option<String>,
    pub issued_at: NaiveDateTime,
}

/// Which agreement a receipt settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementRef {
    pub agreement_no: String,
    pub version: u32,
}

/// GB/T 8.3 and 8.4.2: what was done and what was paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentReceipt {
    pub centre: Centre,
    pub receipt_no: String,
    pub request_no: String,
    pub agreement: Option<AgreementRef>,
    pub service: ServiceName,
    /// GB/T 8.3: what was delivered, against the agreement.
    pub work_done: String,
    /// GB/T 6.2.
    pub technician: Option<Technician>,
    /// The fees paid, itemised; the total is their sum.
    pub fees: Quote,
    pub tender: Tender,
    pub paid_at: NaiveDateTime,
    /// GB/T 9.1.2: the satisfaction questionnaire.
    pub survey_url: Option<String>,
}

/// GB/T 8.4.3: a refund and the date it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundSlip {
    pub centre: Centre,
    pub refund_no: String,
    pub request_no: String,
    pub receipt_no: Option<String>,
    pub amount: Fen,
    pub method: PaymentMethod,
    pub reason: String,
    pub requested_on: NaiveDate,
    /// 5 working days after `requested_on` on the centre's calendar
    /// (`domain::WorkCalendar::refund_due_date`), as the hub recorded it.
    pub due_on: NaiveDate,
}

// ---------------------------------------------------------------- shared layout pieces

fn fmt_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A document being written in one language.
struct Sheet {
    doc: Document,
    lang: Lang,
}

impl Sheet {
    fn new(width: PaperWidth, lang: Lang) -> Sheet {
        Sheet {
            doc: Document::new(width),
            lang,
        }
    }

    fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.pick(zh, en)
    }

    /// The largest of `preferred` and smaller square scales at which `text` fits on one
    /// line; `TALL` when only normal width fits.
    fn fitting_scale(&self, text: &str, preferred: u8) -> Scale {
        let width = display_width(text);
        (2..=preferred.clamp(1, 8))
            .rev()
            .map(Scale::square)
            .find(|s| width * usize::from(s.width) <= self.doc.columns())
            .unwrap_or(if preferred > 1 && width <= self.doc.columns() {
                Scale::TALL
            } else {
                Scale::NORMAL
            })
    }

    /// Centre name, document title, and a rule.
    fn header(&mut self, centre: &Centre, title_zh: &str, title_en: &str) {
        let name = centre.name.get(self.lang).to_owned();
        self.doc.text(&name, Style::centred().bold());
        let title = self.t(title_zh, title_en).to_owned();
        let scale = self.fitting_scale(&title, 2);
        self.doc.text(&title, Style::centred().bold().scaled(scale));
        self.doc.rule();
    }

    fn pair(&mut self, zh: &str, en: &str, value: &str) {
        let label = self.t(zh, en).to_owned();
        self.doc.pair(&label, value, Style::default());
    }

    fn pair_bold(&mut self, zh: &str, en: &str, value: &str) {
        let label = self.t(zh, en).to_owned();
        self.doc.pair(&label, value, Style::default().bold());
    }

    /// A heading followed by a wrapped paragraph.
    fn paragraph(&mut self, zh: &str, en: &str, text: &str) {
        let heading = format!("{}{}", self.t(zh, en), self.t("：", ":"));
        self.doc.text(&heading, Style::default().bold());
        self.doc.text(text, Style::default());
    }

    /// The service's name; a Chinese document adds the English name as a subtitle.
    fn service_pair(&mut self, service: &ServiceName) {
        let value = match self.lang {
            Lang::ZhCn if !service.name.en.is_empty() => {
                format!("{} {}", service.name.zh, service.name.en)
            }
            _ => service.name.get(self.lang).to_owned(),
        };
        self.pair("服务类型", "Service", &value);
    }

    fn not_given(&self) -> String {
        self.t("未提供", "not given").to_owned()
    }

    fn optional(&self, value: &Option<String>) -> String {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| self.not_given())
    }

    /// Masked customer identity (GB/T 5.4.1–5.4.2).
    fn customer(&mut self, name: &Option<String>, phone: &Option<String>) {
        if let Some(name) = name.as_deref().filter(|n| !n.trim().is_empty()) {
            self.pair("客户", "Customer", &mask_name(name));
        }
        if let Some(phone) = phone.as_deref().filter(|p| !p.trim().is_empty()) {
            self.pair("联系电话", "Phone", &mask_phone(phone));
        }
    }

    /// GB/T 6.2: who does the work.
    fn technician(&mut self, tech: &Technician) {
        self.pair("服务人员", "Technician", &tech.name);
        self.pair("工号", "Staff no.", &tech.staff_no);
        if let Some(cert) = tech.certificate.as_deref().filter(|c| !c.trim().is_empty()) {
            self.pair("资质证书", "Certificate", cert);
        }
    }

    /// Every fee line and the total (GB/T 4.2.3, 8.2.1, 8.4.1). Returns the total.
    fn fees(&mut self, fees: &Quote) -> Result<Fen, DocumentError> {
        let total = fees.total()?;
        for line in &fees.lines {
            let amount = line.amount().ok_or(QuoteError::Overflow)?;
            let label = self.fee_label(line);
            self.doc.pair(&label, &amount.to_string(), Style::default());
        }
        self.doc.rule();
        self.pair_bold("合计", "Total", &total.to_string());
        Ok(total)
    }

    fn fee_label(&self, line: &QuoteLine) -> String {
        let name = match self.lang {
            Lang::ZhCn => &line.name_zh,
            Lang::En => &line.name_en,
        };
        if line.quantity == 1 {
            name.clone()
        } else {
            let times = self.t("×", "x");
            format!("{name} {times}{} @{}", line.quantity, line.unit_price)
        }
    }

    fn centre_contact(&mut self, centre: &Centre) {
        if !centre.phone.trim().is_empty() {
            self.pair("服务电话", "Service phone", &centre.phone);
        }
        if !centre.address.trim().is_empty() {
            self.paragraph("地址", "Address", &centre.address);
        }
    }

    fn qr(
        &mut self,
        url: &str,
        module: u8,
        caption_zh: &str,
        caption_en: &str,
    ) -> Result<(), DocumentError> {
        self.doc.feed(1);
        self.doc.qr(url, module, Align::Centre)?;
        let caption = self.t(caption_zh, caption_en).to_owned();
        self.doc.text(&caption, Style::centred());
        Ok(())
    }

    fn finish(mut self) -> Document {
        self.doc.feed(1);
        self.doc.cut();
        self.doc
    }
}

fn wait_text(wait: Duration, lang: Lang) -> String {
    let minutes = (wait.num_seconds().max(0) + 59) / 60;
    match (minutes, lang) {
        (0, Lang::ZhCn) => "少于 1 分钟".to_owned(),
        (0, Lang::En) => "under 1 min".to_owned(),
        (m, Lang::ZhCn) if m < 60 => format!("约 {m} 分钟"),
        (m, Lang::En) if m < 60 => format!("about {m} min"),
        (m, Lang::ZhCn) => format!("约 {} 小时 {} 分钟", m / 60, m % 60),
        (m, Lang::En) => format!("about {} h {} min", m / 60, m % 60),
    }
}

fn channel_name(channel: Channel, lang: Lang) -> &'static str {
    match channel {
        Channel::OnSite => lang.pick("现场", "On site"),
        Channel::Phone => lang.pick("电话", "Phone"),
        Channel::Letter => lang.pick("信函", "Letter"),
        Channel::Fax => lang.pick("传真", "Fax"),
        Channel::Web => lang.pick("网络", "Web"),
        Channel::Sms => lang.pick("短信", "SMS"),
    }
}

// ---------------------------------------------------------------- the five documents

impl QueueTicket {
    /// The ticket a walk-in takes at the kiosk (GB/T 4.1.1): the number big, the wait,
    /// and a QR code to follow the queue (GB/T 4.1.3). It carries no personal data
    /// (GB/T 5.4.2).
    pub fn document(&self, lang: Lang, width: PaperWidth) -> Result<Document, DocumentError> {
        let mut s = Sheet::new(width, lang);
        let name = self.centre.name.get(lang).to_owned();
        s.doc.text(&name, Style::centred().bold());
        s.doc.rule();
        let caption = s.t("您的号码", "Your number").to_owned();
        s.doc.text(&caption, Style::centred());
        let number = self.number.to_string();
        let scale = s.fitting_scale(&number, 3);
        s.doc.text(&number, Style::centred().bold().scaled(scale));
        let service = self.service.name.get(lang).to_owned();
        let scale = s.fitting_scale(&service, 2);
        s.doc.text(&service, Style::centred().bold().scaled(scale));
        if lang == Lang::ZhCn && !self.service.name.en.is_empty() {
            s.doc.text(&self.service.name.en, Style::centred());
        }
        s.doc.rule();
        s.pair("取号时间", "Issued", &fmt_time(self.issued_at));
        let ahead = match (lang, self.people_ahead) {
            (Lang::ZhCn, n) => format!("{n} 人"),
            (Lang::En, 1) => "1 person".to_owned(),
            (Lang::En, n) => format!("{n} people"),
        };
        s.pair("前面等候", "People ahead", &ahead);
        s.pair(
            "预计等待",
            "Estimated wait",
            &wait_text(self.estimated_wait, lang),
        );
        s.qr(
            &self.status_url,
            6,
            "扫码查看排队进度",
            "Scan to follow the queue",
        )?;
        s.doc.feed(1);
        let keep = s.t("请妥善保管本票", "Please keep this ticket").to_owned();
        s.doc.text(&keep, Style::centred().bold());
        let called = s
            .t(
                "叫号后请到显示的窗口办理",
                "When your number is called, go to the counter shown",
            )
            .to_owned();
        s.doc.text(&called, Style::centred());
        Ok(s.finish())
    }
}

impl IntakeSlip {
    /// GB/T 6.1.2: the key parts of the request repeated back for the customer to check
    /// and keep, with the reply deadline (5.5.2) and the promised time limit (4.1.2).
    pub fn document(&self, lang: Lang, width: PaperWidth) -> Result<Document, DocumentError> {
        let mut s = Sheet::new(width, lang);
        s.header(&self.centre, "服务受理单", "Service request");
        s.pair("受理单号", "Request no.", &self.request_no);
        s.pair("受理时间", "Accepted", &fmt_time(self.accepted_at));
        s.service_pair(&self.service);
        s.pair("受理渠道", "Channel", channel_name(self.channel, lang));
        s.customer(&self.customer_name, &self.customer_phone);
        s.doc.rule();
        let product = s.optional(&self.product);
        s.pair("产品", "Product", &product);
        let model = s.optional(&self.model);
        s.pair("型号", "Model", &model);
        let serial = s.optional(&self.serial_number);
        s.pair("序列号", "Serial no.", &serial);
        let bought = self
            .purchase_date
            .map(fmt_date)
            .unwrap_or_else(|| s.not_given());
        s.pair("购买日期", "Purchased", &bought);
        let problem = s.optional(&self.problem);
        s.paragraph("问题描述", "Problem", &problem);
        s.doc.rule();
        // GB/T 5.5.2 and 4.1.2: the customer learns when to expect an answer and a result.
        if let Some(due) = self.reply_due {
            s.pair_bold("答复时限", "Reply by", &fmt_time(due));
        }
        if let Some(due) = self.resolve_due {
            s.pair_bold("办结时限", "Resolve by", &fmt_time(due));
        }
        let check = s
            .t(
                "请核对以上信息，如有不符请立即告知工作人员。",
                "Please check the details above and tell us at once if anything is wrong.",
            )
            .to_owned();
        s.doc.feed(1);
        s.doc.text(&check, Style::default());
        if let Some(url) = &self.status_url {
            s.qr(url, 5, "扫码查看办理进度", "Scan to follow your request")?;
        }
        s.doc.feed(1);
        s.centre_contact(&self.centre);
        Ok(s.finish())
    }
}

impl ServiceAgreement {
    /// GB/T 8.2.1: content, time, place, every fee itemised with the total, the change
    /// procedure, the technician (6.2), both parties' signatures and the version (8.2.2).
    pub fn document(&self, lang: Lang, width: PaperWidth) -> Result<Document, DocumentError> {
        let mut s = Sheet::new(width, lang);
        s.header(&self.centre, "服务协议", "Service agreement");
        s.pair("协议编号", "Agreement no.", &self.agreement_no);
        let version = match lang {
            Lang::ZhCn => format!("第 {} 版", self.version),
            Lang::En => format!("v{}", self.version),
        };
        s.pair("版本", "Version", &version);
        s.pair("受理单号", "Request no.", &self.request_no);
        s.customer(&self.customer_name, &self.customer_phone);
        s.doc.rule();

        s.doc.text(
            s.lang.pick("一、服务内容", "1. Service"),
            Style::default().bold(),
        );
        s.service_pair(&self.service);
        s.doc.text(&self.content, Style::default());

        s.doc.text(
            s.lang.pick("二、服务时间", "2. Time"),
            Style::default().bold(),
        );
        s.pair("开始", "Starts", &fmt_time(self.starts_at));
        s.pair("完成时限", "Finished by", &fmt_time(self.finish_by));

        s.doc.text(
            s.lang.pick("三、服务地点", "3. Place"),
            Style::default().bold(),
        );
        s.doc.text(&self.place, Style::default());

        // GB/T 4.2.3, 8.2.1: all fees, itemised, with the total, or that there are none.
        s.doc.text(
            s.lang.pick("四、服务费用", "4. Fees"),
            Style::default().bold(),
        );
        if self.fees.lines.is_empty() {
            s.pair_bold(
                "合计",
                "Total",
                &format!("{} {}", Fen::ZERO, s.t("（免费）", "(free)")),
            );
        } else {
            s.fees(&self.fees)?;
        }

        s.doc.text(
            s.lang.pick("五、变更程序", "5. Changes"),
            Style::default().bold(),
        );
        s.doc
            .text(self.change_procedure.get(lang), Style::default());

        // GB/T 6.2: the technician is identified.
        s.doc.text(
            s.lang.pick("六、服务人员", "6. Technician"),
            Style::default().bold(),
        );
        s.technician(&self.technician);
        s.doc.rule();

        s.pair("签订时间", "Issued", &fmt_time(self.issued_at));
        // Both parties sign (GB/T 8.2.1: a written agreement), with room to write.
        let cols = s.doc.columns();
        for (zh, en) in [("客户签字", "Customer"), ("服务方签字", "For the centre")] {
            s.doc.feed(2);
            let label = format!("{}{}", s.t(zh, en), s.t("：", ": "));
            let line = format!(
                "{label}{}",
                "_".repeat(cols.saturating_sub(display_width(&label)))
            );
            s.doc.text(&line, Style::default());
            s.doc.feed(1);
            let date = format!("{}{}", s.t("日期", "Date"), s.t("：", ": "));
            s.doc
                .text(&format!("{date}{}", "_".repeat(cols / 2)), Style::default());
        }
        s.doc.feed(1);
        let copies = s
            .t(
                "本协议一式两份，双方各执一份。",
                "Two copies: one for each party.",
            )
            .to_owned();
        s.doc.text(&copies, Style::centred());
        s.centre_contact(&self.centre);
        Ok(s.finish())
    }
}

impl PaymentReceipt {
    /// GB/T 8.3: what was done, against the agreement; GB/T 8.4.2: itemised fees, the
    /// total, the method, the terminal reference, the change given for cash.
    pub fn document(&self, lang: Lang, width: PaperWidth) -> Result<Document, DocumentError> {
        let total = self.fees.total()?;
        let change = match &self.tender {
            Tender::Cash { tendered } if *tendered < total => {
                return Err(DocumentError::CashShort {
                    tendered: *tendered,
                    total,
                });
            }
            Tender::Cash { tendered } => Some(Fen(tendered.0 - total.0)),
            _ => None,
        };
        let mut s = Sheet::new(width, lang);
        s.header(&self.centre, "收款收据", "Payment receipt");
        s.pair("收据编号", "Receipt no.", &self.receipt_no);
        s.pair("受理单号", "Request no.", &self.request_no);
        if let Some(a) = &self.agreement {
            let value = match lang {
                Lang::ZhCn => format!("{} 第 {} 版", a.agreement_no, a.version),
                Lang::En => format!("{} v{}", a.agreement_no, a.version),
            };
            s.pair("服务协议", "Agreement", &value);
        }
        s.service_pair(&self.service);
        if let Some(tech) = &self.technician {
            s.pair(
                "服务人员",
                "Technician",
                &format!("{} ({})", tech.name, tech.staff_no),
            );
        }
        s.paragraph("完成内容", "Work done", &self.work_done);
        s.doc.rule();
        s.fees(&self.fees)?;
        s.pair("付款方式", "Paid by", self.tender.method().name(lang));
        match &self.tender {
            Tender::Cash { tendered } => {
                s.pair("实收", "Cash received", &tendered.to_string());
                if let Some(change) = change {
                    s.pair_bold("找零", "Change", &change.to_string());
                }
            }
            Tender::BankCard { terminal_ref } => {
                s.pair("终端参考号", "Terminal ref.", terminal_ref);
            }
            Tender::Cheque { number } => s.pair("支票号", "Cheque no.", number),
            Tender::Online { reference } => s.pair("交易号", "Transaction", reference),
        }
        s.pair("收款时间", "Paid at", &fmt_time(self.paid_at));
        if let Some(url) = &self.survey_url {
            // GB/T 9.1.2: the questionnaire is one scan away.
            s.qr(url, 5, "扫码评价本次服务", "Scan to rate our service")?;
        }
        s.doc.feed(1);
        let thanks = s.t("感谢您的信任", "Thank you").to_owned();
        s.doc.text(&thanks, Style::centred());
        s.centre_contact(&self.centre);
        Ok(s.finish())
    }
}

impl RefundSlip {
    /// GB/T 8.4.3: the amount, how it goes back, why, and the date it is due (5 working
    /// days after the request).
    pub fn document(&self, lang: Lang, width: PaperWidth) -> Result<Document, DocumentError> {
        if self.amount <= Fen::ZERO {
            return Err(DocumentError::RefundNotPositive(self.amount));
        }
        let mut s = Sheet::new(width, lang);
        s.header(&self.centre, "退款单", "Refund slip");
        s.pair("退款编号", "Refund no.", &self.refund_no);
        s.pair("受理单号", "Request no.", &self.request_no);
        if let Some(receipt) = &self.receipt_no {
            s.pair("原收据编号", "Receipt no.", receipt);
        }
        s.doc.rule();
        let amount = self.amount.to_string();
        let label = s.t("退款金额", "Refund").to_owned();
        let scale = if display_width(&label) + display_width(&amount) + 3 <= s.doc.columns() / 2 {
            Scale::DOUBLE
        } else {
            Scale::TALL
        };
        s.doc
            .pair(&label, &amount, Style::default().bold().scaled(scale));
        let method = match (self.method, lang) {
            (PaymentMethod::Cash, _) => self.method.name(lang).to_owned(),
            (m, Lang::ZhCn) => format!("{}（原路退回）", m.name(lang)),
            (m, Lang::En) => format!("{} (back to the original account)", m.name(lang)),
        };
        s.pair("退款方式", "Refunded by", &method);
        s.paragraph("退款原因", "Reason", &self.reason);
        s.doc.rule();
        s.pair("申请日期", "Requested on", &fmt_date(self.requested_on));
        // GB/T 8.4.3: refunds are returned within 5 working days.
        s.pair_bold("最迟到账", "Due by", &fmt_date(self.due_on));
        let note = match lang {
            Lang::ZhCn => {
                format!("退款将在申请后 {REFUND_WORKING_DAYS} 个工作日内退回，逾期请致电服务电话。")
            }
            Lang::En => format!(
                "Refunds are returned within {REFUND_WORKING_DAYS} working days of the request. If it has not arrived by then, please call us."
            ),
        };
        s.doc.feed(1);
        s.doc.text(&note, Style::default());
        s.doc.feed(1);
        s.centre_contact(&self.centre);
        Ok(s.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_counts_two_columns_and_is_never_split() {
        assert_eq!(display_width("维修 Repair"), 11);
        assert_eq!(display_width("¥12.50"), 7);
        let lines = wrap("请妥善保管本票请妥善保管本票", 9);
        assert!(lines.iter().all(|l| display_width(l) <= 9), "{lines:?}");
        assert_eq!(lines.concat(), "请妥善保管本票请妥善保管本票");
        assert_eq!(lines[0], "请妥善保");
    }

    #[test]
    fn words_wrap_at_spaces_and_long_words_break() {
        assert_eq!(wrap("keep this ticket", 10), vec!["keep this", "ticket"]);
        assert_eq!(
            wrap("https://example.invalid/t/0123456789", 12),
            vec!["https://exam", "ple.invalid/", "t/0123456789"]
        );
        assert_eq!(wrap("", 10), vec![""]);
        assert_eq!(wrap("a\nb", 10), vec!["a", "b"]);
    }

    #[test]
    fn punctuation_stays_with_its_word() {
        // 避头: the comma does not start a line; 避尾: ¥ stays with its amount.
        let lines = wrap("维修维修，好", 8);
        assert_eq!(lines, vec!["维修维", "修，好"]);
        assert_eq!(wrap("付款 ¥12.50", 8), vec!["付款", "¥12.50"]);
    }

    #[test]
    fn pairs_fill_the_line_exactly() {
        let mut doc = Document::new(PaperWidth::Mm58);
        doc.pair("合计", "¥117.50", Style::default());
        let line = doc.text_lines().next().map(|l| l.text().to_owned());
        assert_eq!(line.as_deref(), Some("合计 .................. ¥117.50"));
        assert!(doc.text_lines().all(|l| l.columns() == 32));
    }

    proptest::proptest! {
        #[test]
        fn wrapped_lines_fit_and_lose_nothing(
            text in "[a-z 请妥善保管本票，。（）¥0-9.😀-]{0,80}",
            max in 2usize..50,
        ) {
            let lines = wrap(&text, max);
            for line in &lines {
                proptest::prop_assert!(display_width(line) <= max, "{line:?} > {max}");
            }
            let squash = |s: &str| s.chars().filter(|c| *c != ' ').collect::<String>();
            proptest::prop_assert_eq!(squash(&lines.concat()), squash(&text));
        }

        #[test]
        fn pairs_never_overflow(
            label in "[a-z 退款金额：]{0,40}",
            value in "[A-Z0-9 ¥.]{0,60}",
            wide in proptest::bool::ANY,
            scale in 1u8..=3,
        ) {
            let width = if wide { PaperWidth::Mm80 } else { PaperWidth::Mm58 };
            let mut doc = Document::new(width);
            doc.pair(&label, &value, Style::default().scaled(Scale::square(scale)));
            for line in doc.text_lines() {
                proptest::prop_assert!(line.columns() <= width.columns(), "{line:?}");
            }
        }
    }

    #[test]
    fn unprintable_characters_are_known() {
        assert_eq!(paper_char('请'), Some('请'));
        assert_eq!(paper_char('😀'), None);
        assert_eq!(paper_char('\u{7}'), None);
        assert_eq!(paper_char('\u{85}'), None);
        assert_eq!(paper_char('\u{200b}'), None);
        assert_eq!(paper_char('¥'), Some('￥'));
    }

    #[test]
    fn characters_outside_gbk_are_never_sent_as_four_byte_gb18030() {
        // GBK-era printer fonts have nothing in GB18030's four-byte area: a stand-in goes
        // out instead, and it is laid out at the width it really takes.
        assert_eq!(on_paper('©'), PaperChar::Substitute("(C)"));
        assert_eq!(on_paper('®'), PaperChar::Substitute("(R)"));
        assert_eq!(on_paper('™'), PaperChar::Substitute("TM"));
        assert_eq!(on_paper('•'), PaperChar::Substitute("·"));
        assert_eq!(on_paper('ö'), PaperChar::Substitute("o"));
        assert_eq!(on_paper('ß'), PaperChar::Substitute("ss"));
        assert_eq!(
            on_paper('Ω'),
            PaperChar::Same('Ω'),
            "GB2312 Greek is two bytes"
        );
        assert_eq!(on_paper('é'), PaperChar::Same('é'), "GB2312 has pinyin é");
        assert_eq!(
            on_paper('\u{0E01}'),
            PaperChar::Substitute("?"),
            "Thai: four bytes"
        );
        assert_eq!(char_columns('©'), 3);
        assert_eq!(char_columns('•'), 2);
        assert_eq!(display_width("Café ©2024"), 3 + 2 + 1 + 3 + 4);
        for c in ['©', '®', '™', '•', 'ö', 'ñ', 'ç', 'ß', '\u{0E01}'] {
            assert_eq!(paper_char(c), None, "{c}");
            if let PaperChar::Substitute(s) = on_paper(c) {
                assert!(s.chars().all(|p| gb18030_len(p) <= 2), "{c} -> {s}");
            }
        }
    }
}
