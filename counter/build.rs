//! Compiles the counter's Slint UI with the shared `@servicehall-ui` library and the
//! bundled translations (debug info for the UI tests outside release builds).

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let config = slint_build::CompilerConfiguration::new()
        .with_library_paths(ui::slint_library_paths())
        .with_bundled_translations(manifest.join("lang"))
        .with_style("fluent-light".into())
        // `@tr("…")` strings carry no context: one entry each in the .po files.
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .with_debug_info(!release);
    if let Err(e) = slint_build::compile_with_config("ui/counter.slint", config) {
        eprintln!("slint: {e}");
        std::process::exit(1);
    }
}
