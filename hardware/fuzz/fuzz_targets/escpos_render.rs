//! Fuzzes the ESC/POS renderer: no byte stream may make it panic, hang or allocate
//! without bound (it must answer with a picture or a `RenderError`). Never does IO
//! beyond reading the font once.
//!
//! Needs GNU Unifont (`apt-get install unifont`, or `SERVICEHALL_UNIFONT`): without it
//! every input would end at `FontMissing` and nothing would be tested, so the target
//! refuses to run instead.

#![no_main]

use hardware::printer::PaperWidth;
use hardware::printer::render::{self, Font};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let font = match Font::system() {
        Ok(font) => font,
        Err(e) => panic!("install unifont (apt-get install unifont) to fuzz the renderer: {e}"),
    };
    let _ = render::render_with_font(data, PaperWidth::Mm58, font);
});
