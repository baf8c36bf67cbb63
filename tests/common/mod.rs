//! Helpers shared by the root integration tests (each test file includes this module
//! with `mod common;` and uses the parts it needs).

pub(crate) mod sync;

/// The last few kilobytes of a child process's log, for a failure message (the tail is
/// what matters).
#[allow(dead_code)]
pub(crate) fn log_tail(path: &std::path::Path) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    let skip = s.len().saturating_sub(4000);
    let start = (skip..=s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    s[start..].to_owned()
}
