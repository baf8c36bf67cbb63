//! Fuzzes the ESC/POS renderer: no byte stream may make it panic, hang or allocate
//! without bound (it must answer with a picture or a `RenderError`). Never does IO
//! beyond reading the font once.

#![no_main]

use hardware::printer::PaperWidth;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = hardware::printer::render::render(data, PaperWidth::Mm58);
});
