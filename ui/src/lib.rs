//! What the three servicehall Slint apps share: the bundled CJK font, the theme and
//! small widgets (Slint sources under `ui/slint/`, imported as `@servicehall-ui/...`),
//! and the language helpers that pick a bundled translation.
//!
//! This crate has no Slint dependency of its own, so app build scripts can use it as a
//! build-dependency cheaply; it must never talk to the hub or to devices. Only the
//! optional `headless` feature (the apps' normal dependency, never their build
//! dependency) brings in Slint, for the `headless` module: rendering without a display.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

#[cfg(feature = "headless")]
pub mod headless;

/// The Slint library name under which `ui/slint/` is imported: `import { Theme } from "@servicehall-ui/theme.slint";`.
pub const SLINT_LIBRARY: &str = "servicehall-ui";

/// The family name of the bundled font (WenQuanYi Micro Hei, Apache-2.0 or GPLv3 with
/// the font exception); it covers both Chinese and Latin script. Without an embedded CJK
/// font Slint silently drops Chinese glyphs.
pub const FONT_FAMILY: &str = "WenQuanYi Micro Hei";

/// The directory holding the shared `.slint` sources.
pub fn slint_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slint")
}

/// The bundled font file (imported by `theme.slint`).
pub fn font_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fonts/wqy-microhei.ttf")
}

/// Library paths for `slint_build::CompilerConfiguration::with_library_paths`.
pub fn slint_library_paths() -> HashMap<String, PathBuf> {
    HashMap::from([(SLINT_LIBRARY.to_owned(), slint_dir())])
}

/// A language the apps speak. Chinese is the default (the centre is in China); English is
/// shown beside it for visitors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    ZhCn,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    /// The bundled translation's directory name (`lang/<this>/LC_MESSAGES/<crate>.po`),
    /// as passed to `slint::select_bundled_translation`.
    pub fn slint_locale(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh_CN",
            Lang::En => "en",
        }
    }

    /// A short tag for file names and options: `zh` or `en`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh",
            Lang::En => "en",
        }
    }

    /// The other language, shown as the secondary line of a bilingual label.
    pub fn other(self) -> Lang {
        match self {
            Lang::ZhCn => Lang::En,
            Lang::En => Lang::ZhCn,
        }
    }

    /// Picks the Chinese or English text of a pair that arrives from the hub.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::ZhCn => zh,
            Lang::En => en,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language `{0}` (expected zh, zh-CN, zh_CN or en)")]
pub struct UnknownLang(pub String);

impl FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "zh" | "zh_cn" | "cmn" => Ok(Lang::ZhCn),
            "en" | "en_us" | "en_gb" => Ok(Lang::En),
            _ => Err(UnknownLang(s.to_owned())),
        }
    }
}

/// Bilingual labels show both languages at once; the selected one is primary (large,
/// first) and the other secondary. Slint strings are `@tr("primary" => "...")` and
/// `@tr("secondary" => "...")`: each bundled translation maps both contexts, so switching
/// the translation swaps which language leads.
pub const TR_PRIMARY: &str = "primary";
/// See [`TR_PRIMARY`].
pub const TR_SECONDARY: &str = "secondary";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_parse_in_their_usual_spellings() {
        for s in ["zh", "zh-CN", "zh_CN", "ZH_cn"] {
            assert_eq!(s.parse::<Lang>().unwrap(), Lang::ZhCn);
        }
        assert_eq!("en".parse::<Lang>().unwrap(), Lang::En);
        assert!("fr".parse::<Lang>().is_err());
        assert_eq!(Lang::default().slint_locale(), "zh_CN");
        assert_eq!(Lang::En.other(), Lang::ZhCn);
        assert_eq!(Lang::En.pick("维修", "Repair"), "Repair");
    }

    #[test]
    fn the_bundled_font_is_a_truetype_face_covering_chinese() {
        let bytes = std::fs::read(font_path()).unwrap();
        // A single TrueType face (not a collection), which Slint imports directly.
        assert_eq!(&bytes[..4], &[0, 1, 0, 0]);
        assert!(
            bytes.len() > 1_000_000,
            "a CJK face is megabytes, got {}",
            bytes.len()
        );
        let licence =
            std::fs::read_to_string(font_path().with_file_name("LICENSE-wqy-microhei.txt"))
                .unwrap();
        assert!(licence.contains("Apache"));
        assert!(slint_dir().join("theme.slint").exists());
    }
}
