//! Every sentence of the kiosk's UI (and of the shared keyboard it uses) has its Chinese
//! translation: a missing one would show English to a Chinese customer.

use std::collections::HashSet;
use std::path::Path;

fn msgids(slint: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = slint;
    while let Some(i) = rest.find("@tr(\"") {
        rest = &rest[i + 5..];
        let mut id = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        id.push('\\');
                        id.push(n);
                    }
                }
                '"' => break,
                c => id.push(c),
            }
        }
        out.push(id);
    }
    out
}

fn translated(po: &str) -> HashSet<String> {
    let mut set = HashSet::new();
    let mut id: Option<String> = None;
    for line in po.lines() {
        if let Some(v) = line.strip_prefix("msgid \"") {
            id = v.strip_suffix('"').map(str::to_owned);
        } else if let Some(v) = line.strip_prefix("msgstr \"")
            && let (Some(i), Some(s)) = (id.take(), v.strip_suffix('"'))
            && !i.is_empty()
            && !s.is_empty()
        {
            set.insert(i);
        }
    }
    set
}

#[test]
fn every_kiosk_sentence_has_its_chinese() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![dir.join("../ui/slint/keyboard.slint")];
    for e in std::fs::read_dir(dir.join("ui")).unwrap() {
        files.push(e.unwrap().path());
    }
    let po =
        std::fs::read_to_string(dir.join("lang/zh_CN/LC_MESSAGES/servicehall-kiosk.po")).unwrap();
    let have = translated(&po);
    let mut missing = Vec::new();
    let mut seen = 0;
    for f in files {
        for id in msgids(&std::fs::read_to_string(&f).unwrap()) {
            seen += 1;
            if !have.contains(&id) {
                missing.push(format!("{}: {id}", f.display()));
            }
        }
    }
    assert!(seen > 100, "the UI's sentences were found ({seen})");
    assert!(missing.is_empty(), "untranslated:\n{}", missing.join("\n"));
    // A Chinese translation is in Chinese.
    assert!(po.contains("msgstr \"取号\""));
}
