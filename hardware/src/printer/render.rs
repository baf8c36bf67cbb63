//! The receipt renderer: turns an ESC/POS byte stream (exactly the subset tabled in
//! [`crate::printer`]) back into the 1-bit picture the paper will show, dot for dot, so a
//! preview, a test or the printer simulator can see a receipt without paper.
//!
//! It must never panic or run out of memory on hostile input: unknown or truncated
//! commands are reported as a [`RenderError`] (or, for well-known commands outside the
//! subset, skipped by their known length and noted in [`Rendered::warnings`]); the image
//! is capped at [`MAX_HEIGHT`] dots and stored QR data at [`MAX_QR_DATA`] bytes. It never
//! talks to a printer.
//!
//! # The model
//!
//! Like a real printer, text goes into a line buffer and is printed when the line ends
//! (`LF`, `ESC d`, `ESC J`), when it is full (automatic wrap), or before a QR code,
//! raster image or cut. Text still in the buffer when the stream ends is *not* printed
//! (a printer would keep it for the next job); it is noted in the warnings. A printed
//! line advances the paper by the line spacing (default [`DEFAULT_LINE_SPACING`] dots) or
//! by the tallest character in it, whichever is more; characters of different heights
//! stand on a common baseline. Alignment is the one in force when the line's first
//! character arrived. `ESC @` resets everything, Chinese mode included (the encoder sends
//! `FS &` after it). Cuts are recorded at the paper position where they happen; the
//! physical distance between head and cutter is not modelled.
//!
//! # The font
//!
//! Glyphs come from GNU Unifont (Debian package `unifont`, file
//! `/usr/share/unifont/unifont.hex`, overridable with the `SERVICEHALL_UNIFONT`
//! environment variable or [`Font::load`]). Unifont is freely licensed (GPL-2+ with the
//! font embedding exception, and SIL OFL 1.1 since version 13) and covers all of the BMP's
//! CJK ideographs, so every character GB18030's two-byte range can produce has a glyph.
//! Its 8 × 16 (half-width) and 16 × 16 (full-width) grid scales by exactly 3/2 onto the
//! printer's Font A cells, 12 × 24 for ASCII and 24 × 24 for Chinese, so nearest-neighbour
//! scaling keeps every stroke; `GS !` sizes then multiply that cell. Bold is drawn by
//! OR-ing the glyph shifted one dot to the right. A character the font lacks (or an
//! invalid byte sequence) is drawn as a visible box, never as nothing. So is every
//! four-byte GB18030 sequence, which a GBK-era printer font cannot print either (the
//! encoder never sends one; see `document::on_paper`).

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use qrcode::{Color, EcLevel, QrCode};

use super::PaperWidth;

/// The tallest receipt the renderer draws: 20,000 dots, 2.5 m of paper at 8 dots/mm.
pub const MAX_HEIGHT: u32 = 20_000;
/// The most QR data a printer stores (`GS ( k` fn 0x50): a version 40 symbol's limit.
pub const MAX_QR_DATA: usize = 7089;
/// Line spacing after `ESC 2` and at power-on, in dots.
pub const DEFAULT_LINE_SPACING: u32 = 30;
/// Where Debian's `unifont` package puts the font.
pub const DEFAULT_UNIFONT: &str = "/usr/share/unifont/unifont.hex";
/// Environment variable naming another `unifont.hex` to use.
pub const UNIFONT_ENV: &str = "SERVICEHALL_UNIFONT";

/// Font A cell: an ASCII character is 12 × 24 dots, a Chinese character 24 × 24.
const NARROW_CELL: u32 = 12;
const WIDE_CELL: u32 = 24;
const CELL_HEIGHT: u32 = 24;
/// Default tab stops: every 8 columns.
const TAB_COLUMNS: u32 = 8;
/// QR module size at power-on (`GS ( k` fn 0x43).
const DEFAULT_QR_MODULE: u32 = 3;
/// Warnings kept; the rest are only counted.
const MAX_WARNINGS: usize = 50;

/// Why a stream could not be rendered, in the words of someone looking at a preview.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "receipt previews need GNU Unifont: apt-get install unifont \
         (cannot read {}: {source})",
        path.display()
    )]
    FontMissing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a GNU Unifont .hex file (line {line})", path.display())]
    FontInvalid { path: PathBuf, line: usize },
    #[error("unknown ESC/POS command {bytes} at byte {offset}")]
    UnknownCommand { offset: usize, bytes: String },
    #[error("the print job ends in the middle of {command} (byte {offset})")]
    Truncated {
        offset: usize,
        command: &'static str,
    },
    #[error(
        "the receipt would be longer than {max} dots (about {:.1} m of paper)",
        f64::from(*max) / 8000.0
    )]
    TooLong { max: u32 },
    #[error("cannot write the preview image: {0}")]
    Png(#[from] png::EncodingError),
}

/// One glyph of the font, on Unifont's 16-row grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Glyph {
    /// 16 × 16 (full-width) or 8 × 16 (half-width).
    wide: bool,
    /// Rows top to bottom, leftmost dot in bit 15 (half-width glyphs use bits 15..8).
    rows: [u16; 16],
}

impl Glyph {
    fn source_width(&self) -> u32 {
        if self.wide { 16 } else { 8 }
    }

    fn dot(&self, x: u32, y: u32) -> bool {
        match self.rows.get(y as usize) {
            Some(row) if x < 16 => row & (0x8000 >> x) != 0,
            _ => false,
        }
    }
}

/// A bitmap font in GNU Unifont's `.hex` format.
#[derive(Debug, Clone)]
pub struct Font {
    glyphs: HashMap<u32, Glyph>,
}

static SYSTEM_FONT: OnceLock<Font> = OnceLock::new();

impl Font {
    /// Reads a `unifont.hex` file.
    pub fn load(path: &Path) -> Result<Font, RenderError> {
        let text = std::fs::read_to_string(path).map_err(|source| RenderError::FontMissing {
            path: path.to_path_buf(),
            source,
        })?;
        Font::parse(&text).map_err(|line| RenderError::FontInvalid {
            path: path.to_path_buf(),
            line,
        })
    }

    /// The font previews use: `$SERVICEHALL_UNIFONT`, else [`DEFAULT_UNIFONT`], read
    /// once on first use and kept for the life of the process.
    pub fn system() -> Result<&'static Font, RenderError> {
        if let Some(font) = SYSTEM_FONT.get() {
            return Ok(font);
        }
        let path = std::env::var_os(UNIFONT_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_UNIFONT));
        let font = Font::load(&path)?;
        // A failed load is not cached: installing the font later makes previews work.
        Ok(SYSTEM_FONT.get_or_init(|| font))
    }

    /// Parses `.hex` text; the error is the 1-based number of the first bad line.
    fn parse(text: &str) -> Result<Font, usize> {
        let mut glyphs = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = i + 1;
            let (code, hex) = line.split_once(':').ok_or(bad)?;
            let code = u32::from_str_radix(code, 16).map_err(|_| bad)?;
            let mut rows = [0u16; 16];
            let wide = match hex.len() {
                32 => false,
                64 => true,
                _ => return Err(bad),
            };
            let chars_per_row = if wide { 4 } else { 2 };
            for (row, slot) in rows.iter_mut().enumerate() {
                let start = row * chars_per_row;
                let digits = hex.get(start..start + chars_per_row).ok_or(bad)?;
                let value = u16::from_str_radix(digits, 16).map_err(|_| bad)?;
                *slot = if wide { value } else { value << 8 };
            }
            glyphs.insert(code, Glyph { wide, rows });
        }
        if glyphs.is_empty() {
            return Err(1);
        }
        Ok(Font { glyphs })
    }

    /// How many glyphs the font has.
    pub fn len(&self) -> usize {
        self.glyphs.len()
    }

    /// Whether the font has no glyphs (never true for a loaded font).
    pub fn is_empty(&self) -> bool {
        self.glyphs.is_empty()
    }

    /// Whether the font has a glyph for `c`.
    pub fn has_glyph(&self, c: char) -> bool {
        self.glyphs.contains_key(&(c as u32))
    }

    fn glyph(&self, c: char) -> Option<Glyph> {
        self.glyphs.get(&(c as u32)).copied()
    }
}

/// The picture a stream prints, and what was printed, for previews and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Dots across: [`PaperWidth::dots`] (a multiple of 8).
    pub width: u32,
    /// Dots down, up to where the paper stopped.
    pub height: u32,
    /// Packed rows, top to bottom: `width / 8` bytes per row, leftmost dot in the most
    /// significant bit, 1 = black.
    pub pixels: Vec<u8>,
    /// Paper position (row) of each cut, in order.
    pub cuts: Vec<u32>,
    /// The decoded text of each printed text line, in order.
    pub text_lines: Vec<String>,
    /// The rows each entry of `text_lines` occupies.
    pub line_rows: Vec<Range<u32>>,
    /// The data of each QR code printed, in order.
    pub qr_payloads: Vec<String>,
    /// Things a printer would silently skip or drop (commands outside the subset, text
    /// never terminated, a QR code too big for the paper...).
    pub warnings: Vec<String>,
}

impl Rendered {
    fn stride(&self) -> usize {
        (self.width / 8) as usize
    }

    /// Whether the dot at (`x`, `y`) is black; dots outside the picture are white.
    pub fn is_black(&self, x: u32, y: u32) -> bool {
        if x >= self.width || y >= self.height {
            return false;
        }
        let index = y as usize * self.stride() + (x / 8) as usize;
        self.pixels
            .get(index)
            .is_some_and(|byte| byte & (0x80 >> (x % 8)) != 0)
    }

    /// How many black dots the given rows hold.
    pub fn black_dots(&self, rows: Range<u32>) -> usize {
        let stride = self.stride();
        let start = rows.start.min(self.height) as usize * stride;
        let end = rows.end.min(self.height) as usize * stride;
        self.pixels.get(start..end).map_or(0, |bytes| {
            bytes.iter().map(|b| b.count_ones() as usize).sum()
        })
    }

    /// The leftmost and one-past-rightmost black column in the given rows, if any.
    pub fn ink_columns(&self, rows: Range<u32>) -> Option<(u32, u32)> {
        let mut left = None;
        let mut right = 0;
        for y in rows.start..rows.end.min(self.height) {
            for x in 0..self.width {
                if self.is_black(x, y) {
                    left = Some(left.map_or(x, |l: u32| l.min(x)));
                    right = right.max(x + 1);
                }
            }
        }
        left.map(|l| (l, right))
    }

    /// The picture as a 1-bit grayscale PNG (an empty stream gives one white row).
    pub fn to_png(&self) -> Result<Vec<u8>, RenderError> {
        let stride = self.stride();
        let height = self.height.max(1);
        // PNG grayscale: 0 is black, so invert; missing rows are white.
        let mut data = vec![0xFF; stride * height as usize];
        for (out, dots) in data.iter_mut().zip(self.pixels.iter()) {
            *out = !dots;
        }
        let mut png_bytes = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut png_bytes, self.width, height);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::One);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(&data)?;
            writer.finish()?;
        }
        Ok(png_bytes)
    }
}

/// Renders `bytes` as printed on paper of `width`, with the system font
/// ([`Font::system`]).
pub fn render(bytes: &[u8], width: PaperWidth) -> Result<Rendered, RenderError> {
    render_with_font(bytes, width, Font::system()?)
}

/// Renders `bytes` as printed on paper of `width`, with the given font.
pub fn render_with_font(
    bytes: &[u8],
    width: PaperWidth,
    font: &Font,
) -> Result<Rendered, RenderError> {
    let mut renderer = Renderer::new(font, width.dots());
    renderer.run(bytes)?;
    Ok(renderer.finish())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Centre,
    Right,
}

#[derive(Debug, Clone, Copy)]
struct Mode {
    chinese: bool,
    code_page: u8,
    align: Align,
    bold: bool,
    /// Underline thickness in dots (0, 1 or 2).
    underline: u32,
    width_mult: u32,
    height_mult: u32,
    line_spacing: u32,
}

impl Default for Mode {
    fn default() -> Self {
        Mode {
            chinese: false,
            code_page: 0,
            align: Align::Left,
            bold: false,
            underline: 0,
            width_mult: 1,
            height_mult: 1,
            line_spacing: DEFAULT_LINE_SPACING,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Ink {
    /// A glyph, or `None` for the missing-glyph box.
    Glyph(Option<Glyph>),
    /// Tab space: nothing drawn.
    Blank,
}

#[derive(Debug, Clone, Copy)]
struct Item {
    ink: Ink,
    /// Cell width before `GS !` scaling: 12 or 24 (or a tab's gap).
    cell: u32,
    width_mult: u32,
    height_mult: u32,
    bold: bool,
    underline: u32,
}

impl Item {
    fn width(&self) -> u32 {
        self.cell * self.width_mult
    }

    fn height(&self) -> u32 {
        CELL_HEIGHT * self.height_mult
    }
}

#[derive(Debug, Default)]
struct Line {
    items: Vec<Item>,
    text: String,
    width: u32,
    align: Option<Align>,
}

#[derive(Debug)]
struct QrState {
    module: u32,
    level: EcLevel,
    data: Vec<u8>,
    /// The last symbol built, so a stream that prints the same data many times
    /// encodes it once.
    cache: Option<QrCache>,
}

/// A built QR symbol: modules per side and which are dark, row by row.
#[derive(Debug, Clone)]
struct QrSymbol {
    modules: usize,
    dark: Vec<bool>,
}

#[derive(Debug)]
struct QrCache {
    data: Vec<u8>,
    level: EcLevel,
    /// `None` when the data does not fit a QR code at that level.
    symbol: Option<QrSymbol>,
}

impl Default for QrState {
    fn default() -> Self {
        QrState {
            module: DEFAULT_QR_MODULE,
            level: EcLevel::L,
            data: Vec::new(),
            cache: None,
        }
    }
}

#[derive(Debug)]
struct Renderer<'f> {
    font: &'f Font,
    width: u32,
    stride: usize,
    /// Packed rows drawn so far (see [`Rendered::pixels`]).
    pixels: Vec<u8>,
    /// The top of the next line: how far the paper has moved.
    y: u32,
    mode: Mode,
    line: Line,
    qr: QrState,
    cuts: Vec<u32>,
    text_lines: Vec<String>,
    line_rows: Vec<Range<u32>>,
    qr_payloads: Vec<String>,
    warnings: Vec<String>,
    warnings_dropped: usize,
}

/// PC437 (`ESC t 0`), bytes 0x80..=0xFF.
const PC437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{A0}";

fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl<'f> Renderer<'f> {
    fn new(font: &'f Font, width: u32) -> Self {
        Renderer {
            font,
            width,
            stride: (width / 8) as usize,
            pixels: Vec::new(),
            y: 0,
            mode: Mode::default(),
            line: Line::default(),
            qr: QrState::default(),
            cuts: Vec::new(),
            text_lines: Vec::new(),
            line_rows: Vec::new(),
            qr_payloads: Vec::new(),
            warnings: Vec::new(),
            warnings_dropped: 0,
        }
    }

    fn finish(mut self) -> Rendered {
        if !self.line.text.is_empty() {
            let text = std::mem::take(&mut self.line.text);
            self.warn(format!(
                "text never ended by a line feed was not printed: {text:?}"
            ));
        }
        if self.warnings_dropped > 0 {
            let dropped = self.warnings_dropped;
            self.warnings
                .push(format!("... and {dropped} more warnings"));
        }
        let height = self.y;
        self.pixels.resize(height as usize * self.stride, 0);
        Rendered {
            width: self.width,
            height,
            pixels: self.pixels,
            cuts: self.cuts,
            text_lines: self.text_lines,
            line_rows: self.line_rows,
            qr_payloads: self.qr_payloads,
            warnings: self.warnings,
        }
    }

    fn warn(&mut self, message: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(message);
        } else {
            self.warnings_dropped += 1;
        }
    }

    // ---- the canvas -------------------------------------------------------------

    /// Makes rows up to `bottom` (exclusive) drawable, or refuses past [`MAX_HEIGHT`].
    fn grow_to(&mut self, bottom: u64) -> Result<(), RenderError> {
        if bottom > u64::from(MAX_HEIGHT) {
            return Err(RenderError::TooLong { max: MAX_HEIGHT });
        }
        let needed = bottom as usize * self.stride;
        if self.pixels.len() < needed {
            self.pixels.resize(needed, 0);
        }
        Ok(())
    }

    /// Moves the paper on by `dots`.
    fn advance(&mut self, dots: u64) -> Result<(), RenderError> {
        let y = u64::from(self.y) + dots;
        if y > u64::from(MAX_HEIGHT) {
            return Err(RenderError::TooLong { max: MAX_HEIGHT });
        }
        self.y = y as u32;
        Ok(())
    }

    /// Blackens a dot; dots off the paper or outside the grown canvas are ignored.
    fn set(&mut self, x: u32, y: u32) {
        if x >= self.width {
            return;
        }
        let index = y as usize * self.stride + (x / 8) as usize;
        if let Some(byte) = self.pixels.get_mut(index) {
            *byte |= 0x80 >> (x % 8);
        }
    }

    fn fill(&mut self, x: u32, y: u32, w: u32, h: u32) {
        for yy in y..y.saturating_add(h) {
            for xx in x..x.saturating_add(w).min(self.width) {
                self.set(xx, yy);
            }
        }
    }

    /// Where something `w` dots wide starts under the given alignment (left if it does
    /// not fit: the printer clips the right side).
    fn start_x(&self, align: Align, w: u32) -> u32 {
        let free = self.width.saturating_sub(w);
        match align {
            Align::Left => 0,
            Align::Centre => free / 2,
            Align::Right => free,
        }
    }

    // ---- text lines ---------------------------------------------------------------

    fn add_item(&mut self, ink: Ink, cell: u32, text: char) -> Result<(), RenderError> {
        let item = Item {
            ink,
            cell,
            width_mult: self.mode.width_mult,
            height_mult: self.mode.height_mult,
            bold: self.mode.bold,
            underline: self.mode.underline,
        };
        let w = item.width();
        if w > self.width {
            self.warn(format!("character {text:?} is wider than the paper"));
            return Ok(());
        }
        if self.line.width + w > self.width {
            // The line is full: the printer prints it and wraps.
            self.print_line(u64::from(self.mode.line_spacing))?;
        }
        if self.line.align.is_none() {
            self.line.align = Some(self.mode.align);
        }
        self.line.width += w;
        self.line.items.push(item);
        self.line.text.push(text);
        Ok(())
    }

    fn add_char(&mut self, c: Option<char>, cell: u32) -> Result<(), RenderError> {
        let glyph = c.and_then(|c| self.font.glyph(c));
        self.add_item(Ink::Glyph(glyph), cell, c.unwrap_or('\u{FFFD}'))
    }

    fn tab(&mut self) -> Result<(), RenderError> {
        let stop = NARROW_CELL * TAB_COLUMNS * self.mode.width_mult;
        let gap = stop - self.line.width % stop;
        if self.line.width + gap > self.width {
            return self.print_line(u64::from(self.mode.line_spacing));
        }
        let item = Item {
            ink: Ink::Blank,
            cell: gap,
            width_mult: 1,
            height_mult: self.mode.height_mult,
            bold: false,
            underline: 0,
        };
        if self.line.align.is_none() {
            self.line.align = Some(self.mode.align);
        }
        self.line.width += gap;
        self.line.items.push(item);
        self.line.text.push('\t');
        Ok(())
    }

    /// Prints the line buffer and moves the paper on by `feed` dots, or by the line's
    /// height if that is more. An empty buffer just feeds.
    fn print_line(&mut self, feed: u64) -> Result<(), RenderError> {
        let line = std::mem::take(&mut self.line);
        if line.items.is_empty() {
            return self.advance(feed);
        }
        let height = line
            .items
            .iter()
            .map(Item::height)
            .max()
            .unwrap_or(CELL_HEIGHT);
        let top = self.y;
        self.grow_to(u64::from(top) + u64::from(height))?;
        let mut x = self.start_x(line.align.unwrap_or(Align::Left), line.width);
        for item in &line.items {
            let item_top = top + height - item.height();
            self.draw_item(item, x, item_top);
            x += item.width();
        }
        self.text_lines.push(line.text);
        self.line_rows.push(top..top + height);
        self.advance(feed.max(u64::from(height)))
    }

    fn draw_item(&mut self, item: &Item, x: u32, top: u32) {
        let cell_w = item.width();
        let cell_h = item.height();
        match item.ink {
            Ink::Blank => {}
            Ink::Glyph(Some(glyph)) => {
                // 16-dot grid -> 24-dot cell: ×3/2 nearest neighbour, then ×GS ! size.
                let glyph_w = glyph.source_width() * 3 / 2;
                let offset = item.cell.saturating_sub(glyph_w) / 2;
                for oy in 0..cell_h {
                    let sy = (oy / item.height_mult) * 2 / 3;
                    for ox in 0..cell_w {
                        let base_x = ox / item.width_mult;
                        if base_x < offset || base_x - offset >= glyph_w {
                            continue;
                        }
                        let sx = (base_x - offset) * 2 / 3;
                        if glyph.dot(sx, sy) {
                            self.set(x + ox, top + oy);
                            if item.bold {
                                self.set(x + ox + 1, top + oy);
                            }
                        }
                    }
                }
            }
            Ink::Glyph(None) => {
                // The missing-glyph box: a 1-dot frame (scaled) inset from the cell.
                let (wm, hm) = (item.width_mult, item.height_mult);
                let inset_x = if item.cell >= WIDE_CELL { 2 } else { 1 } * wm;
                let left = x + inset_x;
                let box_w = cell_w.saturating_sub(2 * inset_x);
                let box_top = top + 2 * hm;
                let box_h = cell_h.saturating_sub(4 * hm);
                self.fill(left, box_top, box_w, hm);
                self.fill(left, box_top + box_h.saturating_sub(hm), box_w, hm);
                self.fill(left, box_top, wm, box_h);
                self.fill(left + box_w.saturating_sub(wm), box_top, wm, box_h);
            }
        }
        if item.underline > 0 && !matches!(item.ink, Ink::Blank) {
            let thickness = item.underline;
            self.fill(x, top + cell_h - thickness, cell_w, thickness);
        }
    }

    // ---- the stream ---------------------------------------------------------------

    fn run(&mut self, bytes: &[u8]) -> Result<(), RenderError> {
        let mut pos = 0;
        while let Some(&b) = bytes.get(pos) {
            pos = match b {
                0x0A => {
                    self.print_line(u64::from(self.mode.line_spacing))?;
                    pos + 1
                }
                0x09 => {
                    self.tab()?;
                    pos + 1
                }
                0x0D => pos + 1,
                0x1B => self.esc(bytes, pos)?,
                0x1D => self.gs(bytes, pos)?,
                0x1C => self.fs(bytes, pos)?,
                0x10 => self.dle(bytes, pos)?,
                0x00..=0x1F | 0x7F => {
                    self.warn(format!("control byte {b:#04X} at byte {pos} ignored"));
                    pos + 1
                }
                0x20..=0x7E => {
                    self.add_char(Some(char::from(b)), NARROW_CELL)?;
                    pos + 1
                }
                0x80..=0xFF => self.high_byte(bytes, pos)?,
            };
        }
        Ok(())
    }

    /// A byte ≥ 0x80: a GB18030 character in Chinese mode, else the code page's.
    fn high_byte(&mut self, bytes: &[u8], pos: usize) -> Result<usize, RenderError> {
        let b = bytes.get(pos).copied().unwrap_or(0);
        if self.mode.chinese && (0x81..=0xFE).contains(&b) {
            let len = gb18030_len(bytes.get(pos..).unwrap_or(&[]));
            let c = match len {
                // Four-byte GB18030 (everything outside GBK): GBK-era printer fonts have
                // no glyphs there and print garbage, so the preview shows a box, not the
                // character Unifont happens to have.
                Some(4) => None,
                Some(len) => bytes.get(pos..pos + len).and_then(decode_gb18030),
                None => None,
            };
            self.add_char(c, WIDE_CELL)?;
            return Ok(pos + len.unwrap_or(1));
        }
        let c = match self.mode.code_page {
            0 => PC437_HIGH.chars().nth(usize::from(b) - 0x80),
            16 => decode_one(encoding_rs::WINDOWS_1252, &[b]),
            _ => None,
        };
        self.add_char(c, NARROW_CELL)?;
        Ok(pos + 1)
    }

    fn esc(&mut self, bytes: &[u8], pos: usize) -> Result<usize, RenderError> {
        let cmd = byte_at(bytes, pos + 1, pos, "ESC")?;
        let arg = |k: usize, name: &'static str| byte_at(bytes, pos + 1 + k, pos, name);
        Ok(match cmd {
            b'@' => {
                if !self.line.text.is_empty() {
                    self.warn(format!(
                        "ESC @ at byte {pos} discarded unprinted text {:?}",
                        self.line.text
                    ));
                }
                self.line = Line::default();
                self.mode = Mode::default();
                self.qr = QrState::default();
                pos + 2
            }
            b'a' => {
                match arg(1, "ESC a")? {
                    0 | b'0' => self.mode.align = Align::Left,
                    1 | b'1' => self.mode.align = Align::Centre,
                    2 | b'2' => self.mode.align = Align::Right,
                    n => self.warn(format!("ESC a {n} at byte {pos} ignored")),
                }
                pos + 3
            }
            b'E' => {
                self.mode.bold = arg(1, "ESC E")? & 1 != 0;
                pos + 3
            }
            b'-' => {
                match arg(1, "ESC -")? {
                    0 | b'0' => self.mode.underline = 0,
                    1 | b'1' => self.mode.underline = 1,
                    2 | b'2' => self.mode.underline = 2,
                    n => self.warn(format!("ESC - {n} at byte {pos} ignored")),
                }
                pos + 3
            }
            b'2' => {
                self.mode.line_spacing = DEFAULT_LINE_SPACING;
                pos + 2
            }
            b'3' => {
                self.mode.line_spacing = u32::from(arg(1, "ESC 3")?);
                pos + 3
            }
            b'd' => {
                let n = u64::from(arg(1, "ESC d")?);
                let spacing = u64::from(self.mode.line_spacing);
                if n == 0 {
                    self.print_line(0)?;
                } else {
                    self.print_line(spacing)?;
                    self.advance((n - 1) * spacing)?;
                }
                pos + 3
            }
            b'J' => {
                let n = u64::from(arg(1, "ESC J")?);
                self.print_line(n)?;
                pos + 3
            }
            b't' => {
                self.mode.code_page = arg(1, "ESC t")?;
                if !matches!(self.mode.code_page, 0 | 16) {
                    self.warn(format!(
                        "code page {} is not previewed; its characters show as boxes",
                        self.mode.code_page
                    ));
                }
                pos + 3
            }
            b'i' | b'm' => {
                self.cut()?;
                pos + 2
            }
            // Outside the subset, skipped by their known length.
            b'!' | b'G' | b'M' | b' ' | b'{' | b'V' | b'R' | b'=' | b'r' | b'U' | b'e' | b'c'
            | b'S' | b'L' | b'T' | b'%' | b'?' | b'&' | b'*' | b'p' | b'$' | b'\\' | b'D'
            | b'u' | b'v' | b'<' | b'f' => {
                let end = self.skip_esc(bytes, pos, cmd)?;
                self.warn(format!(
                    "ESC {} at byte {pos} is outside the subset and was skipped",
                    printable(cmd)
                ));
                end
            }
            _ => {
                return Err(RenderError::UnknownCommand {
                    offset: pos,
                    bytes: hex_bytes(&[0x1B, cmd]),
                });
            }
        })
    }

    /// The end of an `ESC` command outside the subset.
    fn skip_esc(&self, bytes: &[u8], pos: usize, cmd: u8) -> Result<usize, RenderError> {
        let name = "an ESC command";
        let arg = |k: usize| byte_at(bytes, pos + 1 + k, pos, name);
        let fixed = |n: usize| -> Result<usize, RenderError> {
            let len = n.saturating_add(2);
            need(bytes, pos, len, name)?;
            Ok(pos + len)
        };
        match cmd {
            b'S' | b'<' | b'v' => fixed(0),
            b'!' | b'G' | b'M' | b' ' | b'{' | b'V' | b'R' | b'=' | b'r' | b'U' | b'e' | b'T'
            | b'%' | b'?' | b'u' => fixed(1),
            b'$' | b'\\' | b'c' | b'f' => fixed(2),
            b'p' => fixed(3),
            b'L' => fixed(0),
            b'&' => {
                // ESC & y c1 c2 [x d1..d(y*x)]k: user-defined characters.
                let y = usize::from(arg(1)?);
                let c1 = usize::from(arg(2)?);
                let c2 = usize::from(arg(3)?);
                let mut at = pos + 5;
                for _ in c1..=c2.max(c1) {
                    let x = usize::from(byte_at(bytes, at, pos, name)?);
                    at += 1 + x * y;
                    need(bytes, pos, at - pos, name)?;
                }
                Ok(at)
            }
            b'*' => {
                // ESC * m nL nH d...: column bit image, 1 or 3 bytes per column.
                let m = arg(1)?;
                let n = usize::from(arg(2)?) + 256 * usize::from(arg(3)?);
                let per_column = if m >= 32 { 3 } else { 1 };
                fixed(3 + n * per_column)
            }
            b'D' => {
                // ESC D n1 ... NUL: tab positions, at most 32.
                let mut at = pos + 2;
                for _ in 0..=32 {
                    if byte_at(bytes, at, pos, name)? == 0 {
                        return Ok(at + 1);
                    }
                    at += 1;
                }
                Ok(at)
            }
            _ => Err(RenderError::UnknownCommand {
                offset: pos,
                bytes: hex_bytes(&[0x1B, cmd]),
            }),
        }
    }

    fn gs(&mut self, bytes: &[u8], pos: usize) -> Result<usize, RenderError> {
        let cmd = byte_at(bytes, pos + 1, pos, "GS")?;
        let arg = |k: usize, name: &'static str| byte_at(bytes, pos + 1 + k, pos, name);
        Ok(match cmd {
            b'!' => {
                let n = arg(1, "GS !")?;
                let w = u32::from(n >> 4) + 1;
                let h = u32::from(n & 0x0F) + 1;
                if w <= 8 && h <= 8 {
                    self.mode.width_mult = w;
                    self.mode.height_mult = h;
                } else {
                    self.warn(format!("GS ! {n:#04X} at byte {pos} ignored (size over 8)"));
                }
                pos + 3
            }
            b'(' => self.gs_paren(bytes, pos)?,
            b'v' => {
                if arg(1, "GS v 0")? != b'0' {
                    return Err(RenderError::UnknownCommand {
                        offset: pos,
                        bytes: hex_bytes(bytes.get(pos..pos + 3).unwrap_or(&[])),
                    });
                }
                self.raster(bytes, pos)?
            }
            b'V' => {
                let m = arg(1, "GS V")?;
                match m {
                    0 | 1 | b'0' | b'1' => {
                        self.cut()?;
                        pos + 3
                    }
                    65 | 66 | 97 | 98 | 103 | 104 => {
                        let n = arg(2, "GS V")?;
                        self.print_line(0)?;
                        self.advance(u64::from(n))?;
                        self.cut()?;
                        pos + 4
                    }
                    _ => {
                        self.warn(format!("GS V {m} at byte {pos} ignored"));
                        pos + 3
                    }
                }
            }
            // Outside the subset, skipped by their known length.
            b'B' | b'H' | b'h' | b'w' | b'f' | b'a' | b'r' | b'I' | b'b' | b'/' | b'L' | b'W'
            | b'P' | b'k' | b'8' | b'*' | b'\\' | b'^' | b':' | b'E' => {
                let end = self.skip_gs(bytes, pos, cmd)?;
                self.warn(format!(
                    "GS {} at byte {pos} is outside the subset and was skipped",
                    printable(cmd)
                ));
                end
            }
            _ => {
                return Err(RenderError::UnknownCommand {
                    offset: pos,
                    bytes: hex_bytes(&[0x1D, cmd]),
                });
            }
        })
    }

    /// The end of a `GS` command outside the subset.
    fn skip_gs(&self, bytes: &[u8], pos: usize, cmd: u8) -> Result<usize, RenderError> {
        let name = "a GS command";
        let arg = |k: usize| byte_at(bytes, pos + 1 + k, pos, name);
        let fixed = |n: usize| -> Result<usize, RenderError> {
            let len = n.saturating_add(2);
            need(bytes, pos, len, name)?;
            Ok(pos + len)
        };
        match cmd {
            b':' => fixed(0),
            b'B' | b'H' | b'h' | b'w' | b'f' | b'a' | b'r' | b'I' | b'b' | b'/' | b'E' => fixed(1),
            b'L' | b'W' | b'P' | b'\\' => fixed(2),
            b'^' => fixed(3),
            b'*' => {
                // GS * x y d1..d(x*y*8): define a downloaded bit image.
                let x = usize::from(arg(1)?);
                let y = usize::from(arg(2)?);
                fixed(2 + x * y * 8)
            }
            b'8' => {
                // GS 8 L p1 p2 p3 p4 ...: graphics with a 32-bit length.
                let mut len = 0usize;
                for k in 0..4 {
                    len |= usize::from(arg(2 + k)?) << (8 * k);
                }
                fixed(5 + len)
            }
            b'k' => {
                // GS k m ...: barcode, NUL-terminated (m ≤ 6) or counted (m ≥ 65).
                let m = arg(1)?;
                if m <= 6 {
                    let mut at = pos + 3;
                    while byte_at(bytes, at, pos, name)? != 0 {
                        at += 1;
                    }
                    Ok(at + 1)
                } else {
                    let n = usize::from(arg(2)?);
                    fixed(2 + n)
                }
            }
            _ => Err(RenderError::UnknownCommand {
                offset: pos,
                bytes: hex_bytes(&[0x1D, cmd]),
            }),
        }
    }

    /// `GS ( x pL pH ...`: QR codes (`GS ( k` with cn 0x31); every other `GS (` command
    /// is skipped by its length.
    fn gs_paren(&mut self, bytes: &[u8], pos: usize) -> Result<usize, RenderError> {
        let name = "GS (";
        let fun = byte_at(bytes, pos + 2, pos, name)?;
        let len = usize::from(byte_at(bytes, pos + 3, pos, name)?)
            + 256 * usize::from(byte_at(bytes, pos + 4, pos, name)?);
        let body_start = pos + 5;
        let body = bytes
            .get(body_start..body_start + len)
            .ok_or(RenderError::Truncated {
                offset: pos,
                command: if fun == b'k' { "GS ( k" } else { name },
            })?;
        let end = body_start + len;
        if fun != b'k' {
            self.warn(format!(
                "GS ( {} at byte {pos} is outside the subset and was skipped",
                printable(fun)
            ));
            return Ok(end);
        }
        let (cn, f, params) = match body {
            [cn, f, params @ ..] => (*cn, *f, params),
            _ => {
                self.warn(format!("GS ( k at byte {pos} is too short; skipped"));
                return Ok(end);
            }
        };
        if cn != 0x31 {
            self.warn(format!(
                "GS ( k symbol {cn:#04X} at byte {pos} is not a QR code; skipped"
            ));
            return Ok(end);
        }
        match (f, params) {
            (0x41, _) => {} // model: the renderer draws model 2 whatever is asked
            (0x43, [n, ..]) => {
                if (1..=16).contains(n) {
                    self.qr.module = u32::from(*n);
                } else {
                    self.warn(format!("QR module size {n} at byte {pos} ignored"));
                }
            }
            (0x45, [n, ..]) => match n {
                48 => self.qr.level = EcLevel::L,
                49 => self.qr.level = EcLevel::M,
                50 => self.qr.level = EcLevel::Q,
                51 => self.qr.level = EcLevel::H,
                _ => self.warn(format!("QR error level {n} at byte {pos} ignored")),
            },
            (0x50, [_, data @ ..]) => {
                if data.len() > MAX_QR_DATA {
                    self.warn(format!(
                        "QR data of {} bytes at byte {pos} is more than a QR code holds; dropped",
                        data.len()
                    ));
                    self.qr.data.clear();
                } else {
                    self.qr.data = data.to_vec();
                }
            }
            (0x51, _) => self.print_qr(pos)?,
            (0x52, _) => {} // size information request: nothing to draw
            _ => self.warn(format!("GS ( k function {f:#04X} at byte {pos} skipped")),
        }
        Ok(end)
    }

    fn print_qr(&mut self, pos: usize) -> Result<(), RenderError> {
        self.print_line(0)?;
        let data = self.qr.data.clone();
        if data.is_empty() {
            self.warn(format!("QR print at byte {pos} with no data stored"));
            return Ok(());
        }
        let level = self.qr.level;
        let symbol = match &self.qr.cache {
            Some(cache) if cache.data == data && cache.level == level => cache.symbol.clone(),
            _ => {
                let symbol = QrCode::with_error_correction_level(&data, level)
                    .ok()
                    .map(|code| QrSymbol {
                        modules: code.width(),
                        dark: code.to_colors().iter().map(|c| *c == Color::Dark).collect(),
                    });
                self.qr.cache = Some(QrCache {
                    data: data.clone(),
                    level,
                    symbol: symbol.clone(),
                });
                symbol
            }
        };
        let Some(QrSymbol { modules, dark }) = symbol else {
            self.warn(format!(
                "QR data at byte {pos} does not fit a QR code at this error level"
            ));
            return Ok(());
        };
        let module = self.qr.module;
        let size = modules as u32 * module;
        if size > self.width {
            self.warn(format!(
                "QR code at byte {pos} is {size} dots wide, more than the paper; not printed"
            ));
            return Ok(());
        }
        let top = self.y;
        self.grow_to(u64::from(top) + u64::from(size))?;
        let left = self.start_x(self.mode.align, size);
        for (i, is_dark) in dark.iter().enumerate() {
            if *is_dark {
                let mx = (i % modules) as u32;
                let my = (i / modules) as u32;
                self.fill(left + mx * module, top + my * module, module, module);
            }
        }
        self.qr_payloads
            .push(String::from_utf8_lossy(&data).into_owned());
        self.advance(u64::from(size))
    }

    /// `GS v 0 m xL xH yL yH d...`: a raster bit image, 1 = black, MSB first.
    fn raster(&mut self, bytes: &[u8], pos: usize) -> Result<usize, RenderError> {
        let name = "GS v 0";
        let header = bytes.get(pos + 3..pos + 8).ok_or(RenderError::Truncated {
            offset: pos,
            command: name,
        })?;
        let (m, row_bytes, rows) = match header {
            [m, xl, xh, yl, yh] => (
                *m,
                usize::from(*xl) + 256 * usize::from(*xh),
                usize::from(*yl) + 256 * usize::from(*yh),
            ),
            _ => {
                return Err(RenderError::Truncated {
                    offset: pos,
                    command: name,
                });
            }
        };
        let data_start = pos + 8;
        let data =
            bytes
                .get(data_start..data_start + row_bytes * rows)
                .ok_or(RenderError::Truncated {
                    offset: pos,
                    command: name,
                })?;
        let end = data_start + row_bytes * rows;
        let (sx, sy) = match m {
            0 | b'0' => (1u32, 1u32),
            1 | b'1' => (2, 1),
            2 | b'2' => (1, 2),
            3 | b'3' => (2, 2),
            _ => {
                self.warn(format!("GS v 0 mode {m} at byte {pos} skipped"));
                return Ok(end);
            }
        };
        self.print_line(0)?;
        if data.is_empty() {
            return Ok(end);
        }
        let width_dots = row_bytes as u64 * 8 * u64::from(sx);
        let height = rows as u64 * u64::from(sy);
        let top = self.y;
        self.grow_to(u64::from(top) + height)?;
        let left = if width_dots > u64::from(self.width) {
            self.warn(format!(
                "raster image at byte {pos} is wider than the paper; clipped"
            ));
            0
        } else {
            self.start_x(self.mode.align, width_dots as u32)
        };
        // Only the columns that land on the paper are looked at.
        let visible_bytes = row_bytes.min((self.width as usize).div_ceil(8));
        for (r, row) in data.chunks(row_bytes.max(1)).enumerate() {
            for (bx, byte) in row.iter().take(visible_bytes).enumerate() {
                if *byte == 0 {
                    continue;
                }
                for bit in 0..8u32 {
                    if byte & (0x80 >> bit) != 0 {
                        let x = left + (bx as u32 * 8 + bit) * sx;
                        let y = top + r as u32 * sy;
                        self.fill(x, y, sx, sy);
                    }
                }
            }
        }
        self.advance(height)?;
        Ok(end)
    }

    fn fs(&mut self, bytes: &[u8], pos: usize) -> Result<usize, RenderError> {
        let cmd = byte_at(bytes, pos + 1, pos, "FS")?;
        let name = "an FS command";
        Ok(match cmd {
            b'&' => {
                self.mode.chinese = true;
                pos + 2
            }
            b'.' => {
                self.mode.chinese = false;
                pos + 2
            }
            // Outside the subset: Kanji print mode, underline, spacing, quadruple size,
            // code system, NV image.
            b'!' | b'-' | b'W' | b'C' | b'S' | b'p' => {
                let n = if matches!(cmd, b'S' | b'p') { 2 } else { 1 };
                need(bytes, pos, 2 + n, name)?;
                self.warn(format!(
                    "FS {} at byte {pos} is outside the subset and was skipped",
                    printable(cmd)
                ));
                pos + 2 + n
            }
            _ => {
                return Err(RenderError::UnknownCommand {
                    offset: pos,
                    bytes: hex_bytes(&[0x1C, cmd]),
                });
            }
        })
    }

    /// Real-time commands: the renderer ignores them (the printer answers them at once).
    fn dle(&mut self, bytes: &[u8], pos: usize) -> Result<usize, RenderError> {
        let cmd = byte_at(bytes, pos + 1, pos, "DLE")?;
        match cmd {
            0x04 | 0x05 => {
                let n = byte_at(bytes, pos + 2, pos, "DLE EOT")?;
                // DLE EOT 7 and 8 carry one more byte.
                if cmd == 0x04 && matches!(n, 7 | 8) {
                    need(bytes, pos, 4, "DLE EOT")?;
                    return Ok(pos + 4);
                }
                Ok(pos + 3)
            }
            0x14 => {
                need(bytes, pos, 5, "DLE DC4")?;
                Ok(pos + 5)
            }
            _ => {
                self.warn(format!("control byte 0x10 at byte {pos} ignored"));
                Ok(pos + 1)
            }
        }
    }

    fn cut(&mut self) -> Result<(), RenderError> {
        self.print_line(0)?;
        self.cuts.push(self.y);
        Ok(())
    }
}

/// The byte at `at`, or a truncation error naming the command that started at `start`.
fn byte_at(
    bytes: &[u8],
    at: usize,
    start: usize,
    command: &'static str,
) -> Result<u8, RenderError> {
    bytes.get(at).copied().ok_or(RenderError::Truncated {
        offset: start,
        command,
    })
}

/// Checks that `len` bytes from `start` are there.
fn need(bytes: &[u8], start: usize, len: usize, command: &'static str) -> Result<(), RenderError> {
    if start.saturating_add(len) <= bytes.len() {
        Ok(())
    } else {
        Err(RenderError::Truncated {
            offset: start,
            command,
        })
    }
}

fn printable(b: u8) -> String {
    if b.is_ascii_graphic() {
        char::from(b).to_string()
    } else {
        format!("{b:#04X}")
    }
}

/// The length of the GB18030 sequence at the start of `bytes` (whose first byte is a
/// lead byte 0x81..=0xFE), or `None` if it is malformed.
fn gb18030_len(bytes: &[u8]) -> Option<usize> {
    match bytes {
        [0x81..=0xFE, 0x30..=0x39, 0x81..=0xFE, 0x30..=0x39, ..] => Some(4),
        [0x81..=0xFE, 0x40..=0x7E | 0x80..=0xFE, ..] => Some(2),
        _ => None,
    }
}

fn decode_gb18030(bytes: &[u8]) -> Option<char> {
    decode_one(encoding_rs::GB18030, bytes)
}

/// Decodes `bytes` as exactly one character, or `None`.
fn decode_one(encoding: &'static encoding_rs::Encoding, bytes: &[u8]) -> Option<char> {
    let text = encoding.decode_without_bom_handling_and_without_replacement(bytes)?;
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_font() -> Font {
        // 'A' half-width and U+4E00 (一) full-width.
        let one = format!("{}FFFE{}", "0".repeat(36), "0".repeat(24));
        Font::parse(&format!(
            "0041:0000000018242442427E424242420000\n4E00:{one}\n"
        ))
        .unwrap_or_else(|line| panic!("bad line {line}"))
    }

    #[test]
    fn pc437_table_covers_the_high_half() {
        assert_eq!(PC437_HIGH.chars().count(), 128);
    }

    #[test]
    fn a_font_line_of_the_wrong_length_is_refused() {
        assert_eq!(Font::parse("0041:00FF\n").err(), Some(1));
        assert_eq!(Font::parse("").err(), Some(1));
    }

    #[test]
    fn a_glyph_fills_its_font_a_cell() {
        let font = Font::parse("0041:FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\n")
            .unwrap_or_else(|line| panic!("bad line {line}"));
        let r = render_with_font(b"A\n", PaperWidth::Mm58, &font).unwrap();
        assert_eq!(r.black_dots(0..r.height), 12 * 24);
        assert_eq!(r.ink_columns(0..24), Some((0, 12)));
    }

    #[test]
    fn a_missing_glyph_is_a_box_not_nothing() {
        let font = tiny_font();
        let r = render_with_font(b"B\n", PaperWidth::Mm58, &font).unwrap();
        assert!(r.black_dots(0..24) > 20);
        assert_eq!(r.text_lines, vec!["B".to_string()]);
    }

    #[test]
    fn a_four_byte_gb18030_character_is_drawn_as_a_box_like_the_printer_shows_it() {
        // Unifont has ö, the printer's GBK font does not.
        let font = Font::parse("00F6:000024240000003C4242424242423C00\n")
            .unwrap_or_else(|line| panic!("bad line {line}"));
        // FS & then "ö" as GB18030 81 30 8B 32: a box in a wide cell, shown as U+FFFD.
        let r = render_with_font(b"\x1c\x26\x81\x30\x8b\x32\n", PaperWidth::Mm58, &font).unwrap();
        assert_eq!(r.text_lines, vec!["\u{FFFD}".to_string()]);
        assert!(r.black_dots(0..24) > 20, "a visible box");
    }

    #[test]
    fn gb18030_lengths() {
        assert_eq!(gb18030_len(&[0xC7, 0xEB]), Some(2));
        assert_eq!(gb18030_len(&[0x81, 0x30, 0x81, 0x30]), Some(4));
        assert_eq!(gb18030_len(&[0x81, 0x30]), None);
        assert_eq!(gb18030_len(&[0xC7]), None);
        assert_eq!(decode_gb18030(&[0xC7, 0xEB]), Some('请'));
    }
}
