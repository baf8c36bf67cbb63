//! The renderer and the printer simulator, tested with hand-built ESC/POS bytes (not the
//! encoder, so the two are checked against each other and not against themselves), QR
//! codes read back by an independent decoder (zbar), and the simulator over real TCP.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hardware::printer::PaperWidth;
use hardware::printer::render::{DEFAULT_LINE_SPACING, MAX_HEIGHT, RenderError, Rendered, render};
use hardware::printer::sim::{SimConfig, SimEvent, SimPrinter, SimPrinterHandle};

const ESC: u8 = 0x1B;
const GS: u8 = 0x1D;
const FS: u8 = 0x1C;
const LF: u8 = 0x0A;

const TICKET_URL: &str = "https://hub.local/t/A012?d=2026-11-29";

fn gb18030(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable, "{text:?} is not GB18030");
    bytes.into_owned()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn rendered(bytes: &[u8], width: PaperWidth) -> Rendered {
    match render(bytes, width) {
        Ok(r) => r,
        Err(e) => panic!("render failed: {e}"),
    }
}

/// The black dots of a band of rows, as (x, y - top) pairs, for comparing shapes.
fn dots(r: &Rendered, rows: std::ops::Range<u32>) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for y in rows.clone() {
        for x in 0..r.width {
            if r.is_black(x, y) {
                out.push((x, y - rows.start));
            }
        }
    }
    out
}

/// `GS ( k` commands for a QR code: model 2, module size, error level M, store, print.
fn native_qr(data: &str, module: u8) -> Vec<u8> {
    let store_len = data.len() + 3;
    let mut out = vec![
        GS,
        b'(',
        b'k',
        4,
        0,
        0x31,
        0x41,
        0x32,
        0x00, // model 2
        GS,
        b'(',
        b'k',
        3,
        0,
        0x31,
        0x43,
        module, // module size
        GS,
        b'(',
        b'k',
        3,
        0,
        0x31,
        0x45,
        0x31, // error level M
        GS,
        b'(',
        b'k',
        (store_len & 0xFF) as u8,
        (store_len >> 8) as u8,
        0x31,
        0x50,
        0x30,
    ];
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(&[GS, b'(', b'k', 3, 0, 0x31, 0x51, 0x30]);
    out
}

/// Reads every barcode in a PNG with zbar, an independent decoder.
fn zbarimg(png: &Path) -> String {
    let output = match Command::new("zbarimg")
        .arg("-q")
        .arg("--raw")
        .arg(png)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "zbarimg is not installed: the QR round trip needs an independent decoder. \
             Install it with `apt-get install zbar-tools`"
        ),
        Err(e) => panic!("cannot run zbarimg: {e}"),
    };
    assert!(
        output.status.success(),
        "zbarimg found no code in {}: {}",
        png.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string()
}

fn write_png(r: &Rendered, dir: &Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let png = match r.to_png() {
        Ok(png) => png,
        Err(e) => panic!("to_png failed: {e}"),
    };
    std::fs::write(&path, png).unwrap();
    // Keep a copy for a human to look at, when asked to.
    if let Some(keep) = std::env::var_os("SERVICEHALL_KEEP_PREVIEWS") {
        std::fs::write(Path::new(&keep).join(name), std::fs::read(&path).unwrap()).unwrap();
    }
    path
}

// ---- (a) text, sizes, alignment, bold, feeds, cuts ---------------------------------

#[test]
fn ascii_and_chinese_lines_are_printed_and_decoded() {
    let bytes = cat(&[
        &[ESC, b'@'],
        b"Ticket A012\n",
        &[FS, b'&'],
        &gb18030("请到3号窗口"),
        &[LF],
        &[FS, b'.'],
    ]);
    let r = rendered(&bytes, PaperWidth::Mm58);
    assert_eq!(r.width, 384);
    assert_eq!(r.text_lines, vec!["Ticket A012", "请到3号窗口"]);
    assert_eq!(r.line_rows, vec![0..24, 30..54]);
    assert_eq!(r.height, 60, "two lines at the default spacing");
    // Five Chinese characters (24 dots) and one digit (12 dots): 132 dots of line.
    let (left, right) = r.ink_columns(30..54).unwrap();
    assert!(left < 4 && (110..=133).contains(&right), "{left}..{right}");
    // "Ticket A012": 11 columns of 12 dots.
    let (_, right) = r.ink_columns(0..24).unwrap();
    assert!((120..=132).contains(&right), "{right}");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn a_line_longer_than_the_paper_wraps_at_32_or_48_columns() {
    let line = [b'X'; 33];
    let bytes = cat(&[&line, &[LF]]);
    let r58 = rendered(&bytes, PaperWidth::Mm58);
    assert_eq!(r58.text_lines, vec!["X".repeat(32), "X".to_string()]);
    let r80 = rendered(&bytes, PaperWidth::Mm80);
    assert_eq!(r80.width, 576);
    assert_eq!(r80.text_lines, vec!["X".repeat(33)]);
    // Chinese characters take two columns: 16 fit on 58 mm.
    let chinese = cat(&[&[FS, b'&'], &gb18030(&"号".repeat(17)), &[LF]]);
    let r = rendered(&chinese, PaperWidth::Mm58);
    assert_eq!(r.text_lines, vec!["号".repeat(16), "号".to_string()]);
}

#[test]
fn gs_bang_scales_characters_exactly() {
    let normal = rendered(b"A\n", PaperWidth::Mm58);
    let double = rendered(&[GS, b'!', 0x11, b'A', LF], PaperWidth::Mm58);
    let tall = rendered(&[GS, b'!', 0x01, b'A', LF], PaperWidth::Mm58);
    let n = normal.black_dots(0..normal.height);
    assert!(n > 0);
    assert_eq!(double.black_dots(0..double.height), 4 * n);
    assert_eq!(tall.black_dots(0..tall.height), 2 * n);
    assert_eq!(double.line_rows, vec![0..48]);
    let (_, right) = double.ink_columns(0..48).unwrap();
    assert!(right > 12 && right <= 24, "{right}");

    // Mixed sizes share a baseline: the small 'a' sits at the bottom of the tall line.
    let mixed = rendered(
        &[GS, b'!', 0x11, b'A', GS, b'!', 0x00, b'a', LF],
        PaperWidth::Mm58,
    );
    assert_eq!(mixed.line_rows, vec![0..48]);
    let small_part = mixed.ink_columns(0..24).map(|(_, r)| r);
    assert!(
        small_part.is_none_or(|r| r <= 24),
        "nothing of 'a' above the baseline band"
    );
    assert!(dots(&mixed, 24..48).iter().any(|(x, _)| *x >= 24));
    // A size over 8 is ignored.
    let ignored = rendered(&[GS, b'!', 0x88, b'A', LF], PaperWidth::Mm58);
    assert_eq!(ignored.black_dots(0..ignored.height), n);
}

#[test]
fn alignment_places_the_ink() {
    let centred = rendered(&cat(&[&[ESC, b'a', 1], b"CENTRE\n"]), PaperWidth::Mm58);
    let (left, right) = centred.ink_columns(0..24).unwrap();
    let middle = (left + right) / 2;
    assert!(
        (186..=198).contains(&middle),
        "a centred line's ink is centred on 192: {left}..{right}"
    );
    let right_aligned = rendered(&cat(&[&[ESC, b'a', 2], b"RIGHT\n"]), PaperWidth::Mm80);
    let (left, right) = right_aligned.ink_columns(0..24).unwrap();
    assert!(right > 576 - 12 && left > 576 - 60, "{left}..{right}");
    let left_aligned = rendered(b"LEFT\n", PaperWidth::Mm80);
    assert!(left_aligned.ink_columns(0..24).unwrap().0 < 12);
    // A centred Chinese line too.
    let chinese = cat(&[&[ESC, b'a', b'1', FS, b'&'], &gb18030("请到3号窗口"), &[LF]]);
    let r = rendered(&chinese, PaperWidth::Mm58);
    let (left, right) = r.ink_columns(0..24).unwrap();
    assert!(
        (left + right) / 2 >= 180 && (left + right) / 2 <= 204,
        "{left}..{right}"
    );
}

#[test]
fn bold_thickens_every_stroke_one_dot_to_the_right() {
    let plain = rendered(b"Hi\n", PaperWidth::Mm58);
    let bold = rendered(
        &[ESC, b'E', 1, b'H', b'i', LF, ESC, b'E', 0],
        PaperWidth::Mm58,
    );
    let plain_dots = dots(&plain, 0..24);
    let bold_dots = dots(&bold, 0..24);
    assert!(bold_dots.len() > plain_dots.len());
    for (x, y) in &plain_dots {
        assert!(bold.is_black(*x, *y) && bold.is_black(x + 1, *y));
    }
    for (x, y) in &bold_dots {
        assert!(plain.is_black(*x, *y) || (*x > 0 && plain.is_black(x - 1, *y)));
    }
}

#[test]
fn underline_draws_under_the_characters() {
    let r = rendered(&[ESC, b'-', 2, b' ', b' ', LF], PaperWidth::Mm58);
    assert_eq!(r.black_dots(0..22), 0);
    assert_eq!(
        r.black_dots(22..24),
        2 * 24,
        "two dots thick under two cells"
    );
    let off = rendered(&[ESC, b'-', 2, ESC, b'-', 0, b' ', LF], PaperWidth::Mm58);
    assert_eq!(off.black_dots(0..off.height), 0);
}

#[test]
fn feeds_move_the_paper_as_the_printer_does() {
    let spacing = DEFAULT_LINE_SPACING;
    // Blank lines feed the line spacing each.
    let r = rendered(b"A\n\n\nB\n", PaperWidth::Mm58);
    assert_eq!(r.line_rows, vec![0..24, 3 * spacing..3 * spacing + 24]);
    // ESC d 3: print and feed three lines.
    let r = rendered(&[b'A', ESC, b'd', 3, b'B', LF], PaperWidth::Mm58);
    assert_eq!(r.line_rows[1].start, 3 * spacing);
    // ESC J 100: print and feed 100 dots.
    let r = rendered(&[b'A', ESC, b'J', 100, b'B', LF], PaperWidth::Mm58);
    assert_eq!(r.line_rows[1].start, 100);
    // ESC 3 40: 40-dot spacing; ESC 2 back to the default.
    let r = rendered(
        &[
            ESC, b'3', 40, b'A', LF, b'B', LF, ESC, b'2', b'C', LF, b'D', LF,
        ],
        PaperWidth::Mm58,
    );
    let tops: Vec<u32> = r.line_rows.iter().map(|rows| rows.start).collect();
    assert_eq!(tops, vec![0, 40, 80, 80 + spacing]);
    // Spacing smaller than the characters: lines never overlap.
    let r = rendered(&[ESC, b'3', 10, b'A', LF, b'B', LF], PaperWidth::Mm58);
    assert_eq!(r.line_rows[1].start, 24);
    // A feed with nothing to print just moves the paper.
    let r = rendered(&[ESC, b'J', 77], PaperWidth::Mm58);
    assert_eq!((r.height, r.text_lines.len()), (77, 0));
}

#[test]
fn cuts_are_recorded_where_the_paper_is() {
    let r = rendered(
        &cat(&[b"A\n", &[GS, b'V', 0], b"B\n", &[GS, b'V', 66, 50]]),
        PaperWidth::Mm80,
    );
    assert_eq!(
        r.cuts,
        vec![DEFAULT_LINE_SPACING, 2 * DEFAULT_LINE_SPACING + 50]
    );
    assert_eq!(r.height, 2 * DEFAULT_LINE_SPACING + 50);
    // ESC @ and DLE EOT in the middle change nothing on paper.
    let with_status = rendered(
        &cat(&[
            &[ESC, b'@', 0x10, 0x04, 0x04],
            b"A\n",
            &[0x10, 0x04, 0x01, GS, b'V', b'1'],
        ]),
        PaperWidth::Mm80,
    );
    assert_eq!(with_status.cuts, vec![DEFAULT_LINE_SPACING]);
    assert_eq!(with_status.text_lines, vec!["A"]);
}

#[test]
fn text_without_a_line_feed_is_not_printed_but_noted() {
    let r = rendered(b"A\nforgotten", PaperWidth::Mm58);
    assert_eq!(r.text_lines, vec!["A"]);
    assert!(
        r.warnings.iter().any(|w| w.contains("forgotten")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn the_png_is_the_picture() {
    let bytes = cat(&[b"Ticket\n", &[FS, b'&'], &gb18030("窗口"), &[LF]]);
    let r = rendered(&bytes, PaperWidth::Mm58);
    let png = r.to_png().unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (r.width, r.height));
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    for y in 0..r.height {
        for x in 0..r.width {
            let value = buf[(y * info.line_size as u32 + x) as usize];
            assert_eq!(value == 0, r.is_black(x, y), "dot {x},{y}");
        }
    }
}

// ---- (b) QR codes, read back by zbar ------------------------------------------------

#[test]
fn a_native_qr_code_decodes_with_zbar() {
    let bytes = cat(&[
        &[ESC, b'@', ESC, b'a', 1],
        b"Scan me\n",
        &native_qr(TICKET_URL, 6),
        &[LF, ESC, b'd', 3, GS, b'V', 66, 0],
    ]);
    let r = rendered(&bytes, PaperWidth::Mm58);
    assert_eq!(r.qr_payloads, vec![TICKET_URL]);
    assert_eq!(r.cuts.len(), 1);
    let dir = tempfile::tempdir().unwrap();
    let png = write_png(&r, dir.path(), "native-qr.png");
    assert_eq!(zbarimg(&png), TICKET_URL);
}

#[test]
fn a_raster_qr_code_decodes_with_zbar() {
    let code = qrcode::QrCode::with_error_correction_level(TICKET_URL, qrcode::EcLevel::M).unwrap();
    let modules = code.width();
    let colors = code.to_colors();
    // 4 dots per module and the 4-module quiet zone, drawn into the image.
    let scale = 4;
    let quiet = 4;
    let side = (modules + 2 * quiet) * scale;
    let row_bytes = side.div_ceil(8);
    let mut image = vec![0u8; row_bytes * side];
    for y in 0..side {
        for x in 0..side {
            let (mx, my) = (x / scale, y / scale);
            let dark = mx >= quiet
                && my >= quiet
                && mx < quiet + modules
                && my < quiet + modules
                && colors[(my - quiet) * modules + (mx - quiet)] == qrcode::Color::Dark;
            if dark {
                image[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    let mut bytes = vec![ESC, b'@', ESC, b'a', 1];
    bytes.extend_from_slice(&[
        GS,
        b'v',
        b'0',
        0,
        (row_bytes & 0xFF) as u8,
        (row_bytes >> 8) as u8,
        (side & 0xFF) as u8,
        (side >> 8) as u8,
    ]);
    bytes.extend_from_slice(&image);
    bytes.extend_from_slice(&[ESC, b'd', 2, GS, b'V', 1]);
    let r = rendered(&bytes, PaperWidth::Mm80);
    assert_eq!(r.height, side as u32 + 2 * DEFAULT_LINE_SPACING);
    assert!(r.black_dots(0..r.height) > 1000);
    let dir = tempfile::tempdir().unwrap();
    let png = write_png(&r, dir.path(), "raster-qr.png");
    assert_eq!(zbarimg(&png), TICKET_URL);
}

#[test]
fn a_qr_code_too_big_for_the_paper_is_not_printed() {
    let r = rendered(&native_qr(TICKET_URL, 16), PaperWidth::Mm58);
    assert!(r.qr_payloads.is_empty());
    assert_eq!(r.height, 0);
    assert!(!r.warnings.is_empty());
}

// ---- (c) the Chinese is real ----------------------------------------------------------

#[test]
fn chinese_characters_are_drawn_with_real_glyphs() {
    let chinese = rendered(
        &cat(&[&[FS, b'&'], &gb18030("请到3号窗口"), &[LF]]),
        PaperWidth::Mm58,
    );
    let ascii = rendered(b"Please go 3\n", PaperWidth::Mm58);
    let chinese_dots = dots(&chinese, 0..24);
    assert!(chinese_dots.len() > 300, "only {} dots", chinese_dots.len());
    assert_ne!(chinese_dots, dots(&ascii, 0..24));
    // Each character has its own shape, and none is the missing-glyph box.
    let cell = |r: &Rendered, i: u32| -> Vec<(u32, u32)> {
        dots(r, 0..24)
            .into_iter()
            .filter(|(x, _)| *x >= i * 24 && *x < (i + 1) * 24)
            .map(|(x, y)| (x - i * 24, y))
            .collect()
    };
    // GB18030 AAA1 is in the user-defined area (U+E000): the font has no glyph for it.
    let missing = rendered(&[FS, b'&', 0xAA, 0xA1, LF], PaperWidth::Mm58);
    let boxed = cell(&missing, 0);
    assert!(boxed.len() > 40, "a missing character is a visible box");
    let qing = cell(&chinese, 0);
    let dao = cell(&chinese, 1);
    assert!(qing.len() > 60 && dao.len() > 60);
    assert_ne!(qing, dao);
    assert_ne!(qing, boxed);
    assert_ne!(dao, boxed);
    // The same text outside Chinese mode is not Chinese any more.
    let not_chinese = rendered(&cat(&[&gb18030("请到"), &[LF]]), PaperWidth::Mm58);
    assert_ne!(not_chinese.text_lines[0], "请到");
}

#[test]
fn four_byte_gb18030_and_bad_sequences_still_print_something() {
    // 0x81 0x30 0x81 0x30 is U+0080, in the four-byte area a GBK-era printer font does
    // not have: a box, as on paper. 0xC7 followed by a space is malformed: a box too.
    let r = rendered(
        &[FS, b'&', 0x81, 0x30, 0x81, 0x30, 0xC7, b' ', b'A', LF],
        PaperWidth::Mm58,
    );
    assert_eq!(r.text_lines, vec!["\u{FFFD}\u{FFFD} A"]);
    let (_, right) = r.ink_columns(0..24).unwrap();
    assert!(right > 48, "the bad byte is a box, then the A: {right}");
}

// ---- (d) hostile input ---------------------------------------------------------------

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u8
    }
}

#[test]
fn garbage_and_truncated_input_never_panics() {
    let prefixes: [&[u8]; 12] = [
        &[GS, b'(', b'k'],
        &[GS, b'v', b'0'],
        &[GS, b'v', b'0', 3],
        &[ESC, b'*'],
        &[GS, b'!'],
        &[FS, b'&'],
        &[ESC, b'd'],
        &[GS, b'V'],
        &[GS, b'k'],
        &[GS, b'8', b'L'],
        &[ESC, b'&'],
        &[],
    ];
    let mut rng = Lcg(0x5EED);
    for i in 0..4000 {
        let len = usize::from(rng.next()) + usize::from(rng.next() % 4) * 256;
        let mut bytes = prefixes[i % prefixes.len()].to_vec();
        for _ in 0..len {
            bytes.push(rng.next());
        }
        match render(&bytes, PaperWidth::Mm58) {
            Ok(r) => {
                assert!(r.height <= MAX_HEIGHT);
                assert_eq!(r.pixels.len(), (r.height * r.width / 8) as usize);
            }
            Err(RenderError::FontMissing { .. } | RenderError::FontInvalid { .. }) => {
                panic!("the font is needed for this test: apt-get install unifont")
            }
            Err(_) => {}
        }
    }
    // Every prefix of a good job renders or says it is truncated.
    let job = cat(&[
        &[ESC, b'@', FS, b'&', ESC, b'a', 1, GS, b'!', 0x11],
        &gb18030("请到3号窗口"),
        &[LF],
        &native_qr(TICKET_URL, 4),
        &[
            GS, b'v', b'0', 0, 1, 0, 2, 0, 0xFF, 0x81, ESC, b'd', 2, GS, b'V', 66, 3,
        ],
    ]);
    for end in 0..=job.len() {
        match render(&job[..end], PaperWidth::Mm58) {
            Ok(_) | Err(RenderError::Truncated { .. }) => {}
            Err(e) => panic!("prefix of {end} bytes: {e}"),
        }
    }
}

#[test]
fn huge_feeds_and_images_are_refused_not_allocated() {
    let feeds: Vec<u8> = [ESC, b'3', 255].into_iter().chain([LF; 100]).collect();
    assert!(matches!(
        render(&feeds, PaperWidth::Mm80),
        Err(RenderError::TooLong { .. })
    ));
    // A raster header promising 65535 rows with no data is truncated, not allocated.
    let raster = [GS, b'v', b'0', 0, 0xFF, 0xFF, 0xFF, 0xFF];
    assert!(matches!(
        render(&raster, PaperWidth::Mm80),
        Err(RenderError::Truncated { .. })
    ));
    let unknown = render(&[ESC, 0x01], PaperWidth::Mm80);
    assert!(matches!(
        unknown,
        Err(RenderError::UnknownCommand { offset: 0, .. })
    ));
}

// ---- (e) the simulator ----------------------------------------------------------------

fn start_sim(dir: &Path) -> SimPrinterHandle {
    let config = SimConfig {
        width: PaperWidth::Mm58,
        idle_timeout: Duration::from_secs(3),
    };
    SimPrinter::start_with(dir, "127.0.0.1:0", config).unwrap()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `DLE EOT n` and reads the one-byte answer, if one comes within 1 s.
fn ask_status(stream: &mut TcpStream, n: u8) -> Option<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    stream.write_all(&[0x10, 0x04, n]).unwrap();
    let mut answer = [0u8; 1];
    match stream.read(&mut answer) {
        Ok(1) => Some(answer[0]),
        _ => None,
    }
}

fn send_job(addr: std::net::SocketAddr, job: &[u8]) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(job).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    // Wait for the printer to close its side: the job is complete on its end.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
}

#[test]
fn the_simulator_stores_and_renders_jobs_and_answers_status() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path());
    let job = cat(&[
        &[ESC, b'@', FS, b'&', ESC, b'a', 1],
        &gb18030("请到3号窗口"),
        &[LF],
        &native_qr(TICKET_URL, 5),
        &[ESC, b'd', 3, GS, b'V', 66, 0],
    ]);
    send_job(sim.local_addr(), &job);
    wait_for("the first job", || sim.jobs().len() == 1);
    let bin = dir.path().join("job-0001.bin");
    assert_eq!(sim.jobs(), vec![bin.clone()]);
    assert_eq!(std::fs::read(&bin).unwrap(), job);
    let png_path = dir.path().join("job-0001.png");
    let png = std::fs::read(&png_path).unwrap();
    let reader = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    assert_eq!(reader.info().width, 384);
    assert!(reader.info().height > 24);
    assert_eq!(zbarimg(&png_path), TICKET_URL);

    // Status at once, even in the middle of a job that is still open.
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    stream.write_all(b"half a line ").unwrap();
    assert_eq!(ask_status(&mut stream, 4), Some(0x12));
    assert_eq!(ask_status(&mut stream, 1), Some(0x12));
    stream.write_all(b"and the rest\n").unwrap();
    drop(stream);
    wait_for("the second job", || sim.jobs().len() == 2);
    let second = std::fs::read(dir.path().join("job-0002.bin")).unwrap();
    assert!(second.starts_with(b"half a line "));
    assert!(second.ends_with(b"and the rest\n"));

    // A connection that only asks for status leaves no job.
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    assert_eq!(ask_status(&mut stream, 2), Some(0x12));
    drop(stream);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(sim.jobs().len(), 2);
    sim.stop();
}

#[test]
fn a_printer_without_paper_answers_status_but_prints_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path());
    let events = sim.subscribe();
    sim.set_paper_out(true);
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    let answer = ask_status(&mut stream, 4).unwrap();
    assert_eq!(answer & 0x60, 0x60, "{answer:#04x}");
    let offline_cause = ask_status(&mut stream, 2).unwrap();
    assert_eq!(offline_cause & 0x20, 0x20, "{offline_cause:#04x}");
    stream.write_all(b"a receipt\n").unwrap();
    drop(stream);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(SimEvent::Discarded { bytes, reason }) => {
                assert!(bytes >= 10 && reason.contains("paper"), "{bytes} {reason}");
                break;
            }
            Ok(SimEvent::JobStored { .. }) => panic!("a printer without paper stored a job"),
            Ok(_) => {}
            Err(e) => panic!("no discard event: {e}"),
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(sim.jobs().is_empty());
    assert!(!dir.path().join("job-0001.bin").exists());

    // A new roll: it prints again.
    sim.set_paper_out(false);
    send_job(sim.local_addr(), b"after the new roll\n");
    wait_for("a job after the new roll", || sim.jobs().len() == 1);
    sim.stop();
}

#[test]
fn an_offline_printer_refuses_or_ignores_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path());
    let addr = sim.local_addr();
    let mut open = TcpStream::connect(addr).unwrap();
    assert_eq!(ask_status(&mut open, 1), Some(0x12));
    sim.set_offline(true);
    assert!(!sim.status().online);
    // The open connection gets no answer any more.
    assert_eq!(ask_status(&mut open, 1), None);
    // New connections are refused (or, at worst, unanswered).
    wait_for(
        "the printer to go offline",
        || match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Err(_) => true,
            Ok(mut stream) => ask_status(&mut stream, 1).is_none(),
        },
    );
    sim.set_offline(false);
    let mut back = None;
    wait_for("the printer to come back", || {
        back = TcpStream::connect(addr).ok();
        back.is_some()
    });
    let mut back = back.unwrap();
    assert_eq!(ask_status(&mut back, 4), Some(0x12));
    sim.stop();
}

/// Kills the child when the test ends, however it ends (a failed assertion included).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_printer_sim_binary_prints_its_address_and_takes_commands() {
    use std::sync::mpsc;
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_printer-sim"))
            .args(["--listen", "127.0.0.1:0", "--width", "58", "--dir"])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Lines are read on their own thread so every wait below has a deadline.
    let stdout = child.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_line = |what: &str, pred: &dyn Fn(&str) -> bool| -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(l) if pred(&l) => return l,
                Ok(_) => {}
                Err(_) => panic!("printer-sim never printed {what}"),
            }
        }
    };
    let first = next_line("its address", &|_| true);
    let addr = first
        .strip_prefix("printer-sim listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_string();
    let mut stdin = child.0.stdin.take().unwrap();
    writeln!(stdin, "paper-out").unwrap();
    let mut stream = TcpStream::connect(addr.as_str()).unwrap();
    // The command is applied once its answer line is printed.
    let answer = next_line("the paper-out answer", &|l| l.contains("paper out"));
    assert!(answer.contains("DLE EOT 1-4"), "{answer}");
    assert_eq!(ask_status(&mut stream, 4).map(|b| b & 0x60), Some(0x60));
    writeln!(stdin, "quit").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "printer-sim did not quit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
}

#[test]
fn a_slow_printer_takes_its_time_and_an_open_cover_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start_sim(dir.path());
    sim.set_cover_open(true);
    let mut stream = TcpStream::connect(sim.local_addr()).unwrap();
    let offline_cause = ask_status(&mut stream, 2).unwrap();
    assert_eq!(offline_cause & 0x04, 0x04, "{offline_cause:#04x}");
    assert_eq!(ask_status(&mut stream, 1).map(|b| b & 0x08), Some(0x08));
    drop(stream);
    sim.set_cover_open(false);

    // 200 ms per KiB: 5 KiB take about a second to be taken in.
    sim.set_slow(Duration::from_millis(200));
    let job: Vec<u8> = b"0123456789ABCDEF\n".repeat(5 * 1024 / 17 + 1);
    let started = Instant::now();
    send_job(sim.local_addr(), &job);
    wait_for("the slow job", || sim.jobs().len() == 1);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "took only {took:?}");
    assert_eq!(std::fs::read(dir.path().join("job-0001.bin")).unwrap(), job);
    sim.stop();
}
