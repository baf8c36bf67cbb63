//! Every `@tr()` string of the counter's UI has a Chinese translation, with the same
//! placeholders, and the English bundle exists (a missing entry would show English on a
//! Chinese screen without any error).

use std::collections::HashMap;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `@tr("…")` strings of every .slint file of the counter.
fn tr_strings() -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir().join("ui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "slint") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, _) in text.match_indices("@tr(\"") {
            let rest = &text[i + 5..];
            let mut s = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => s.extend(chars.next()),
                    '"' => break,
                    c => s.push(c),
                }
            }
            out.push(s);
        }
    }
    out
}

fn unquote(line: &str) -> String {
    let inner = line
        .trim()
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .unwrap();
    inner.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// msgid → msgstr of a .po file (single-line entries, as this project writes them).
fn po(lang: &str) -> HashMap<String, String> {
    let path = dir().join(format!("lang/{lang}/LC_MESSAGES/servicehall-counter.po"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut map = HashMap::new();
    let mut id: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("msgid ") {
            id = Some(unquote(rest));
        } else if let Some(rest) = line.strip_prefix("msgstr ")
            && let Some(id) = id.take()
            && !id.is_empty()
        {
            map.insert(id, unquote(rest));
        }
    }
    map
}

fn placeholders(s: &str) -> Vec<String> {
    let mut p: Vec<String> = s
        .match_indices('{')
        .filter_map(|(i, _)| s[i..].find('}').map(|j| s[i..=i + j].to_owned()))
        .collect();
    p.sort();
    p
}

#[test]
fn every_ui_string_has_a_chinese_translation_with_its_placeholders() {
    let strings = tr_strings();
    assert!(strings.len() > 150, "only {} strings found", strings.len());
    let zh = po("zh_CN");
    let mut missing = Vec::new();
    for s in &strings {
        match zh.get(s) {
            Some(t) if !t.trim().is_empty() => {
                assert_eq!(placeholders(s), placeholders(t), "`{s}` → `{t}`");
            }
            _ => missing.push(s.clone()),
        }
    }
    assert!(missing.is_empty(), "untranslated: {missing:?}");
    // The English bundle exists so that English can be selected at run time.
    assert!(
        dir()
            .join("lang/en/LC_MESSAGES/servicehall-counter.po")
            .exists()
    );
}
