//! Compiles the board's Slint UI (with the shared `@servicehall-ui` library and the
//! bundled translations) and embeds the recorded voice clips.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let config = slint_build::CompilerConfiguration::new()
        .with_library_paths(ui::slint_library_paths())
        .with_bundled_translations(manifest.join("lang"))
        .with_debug_info(!release);
    if let Err(e) = slint_build::compile_with_config("ui/board.slint", config) {
        eprintln!("slint: {e}");
        std::process::exit(1);
    }

    // The voice clips, compiled in so the board needs no files at run time.
    let mut table = String::from(
        "/// (language, clip name, WAV bytes)\nstatic CLIPS: &[(&str, &str, &[u8])] = &[\n",
    );
    for lang in ["zh", "en"] {
        let dir = manifest.join("voice").join(lang);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        names.sort();
        for path in names
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "wav"))
        {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let _ = writeln!(
                table,
                "    ({lang:?}, {stem:?}, include_bytes!({:?})),",
                path.display().to_string()
            );
        }
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("clips.rs");
    if let Err(e) = std::fs::write(&out, table) {
        eprintln!("cannot write {}: {e}", out.display());
        std::process::exit(1);
    }
}
