//! Compiles the kiosk's Slint UI with the shared `@servicehall-ui` library (theme, font,
//! on-screen keyboard) and the bundled translations; debug builds keep the element
//! information the UI tests find elements by.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let config = slint_build::CompilerConfiguration::new()
        .with_library_paths(ui::slint_library_paths())
        .with_bundled_translations(manifest.join("lang"))
        // One catalogue of plain msgids: the same sentence reads the same on every page.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .with_debug_info(!release);
    println!("cargo:rerun-if-changed={}", manifest.join("lang").display());
    if let Err(e) = slint_build::compile_with_config("ui/kiosk.slint", config) {
        eprintln!("slint: {e}");
        std::process::exit(1);
    }
}
