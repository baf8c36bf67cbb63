//! The pinyin input method behind the on-screen keyboard: letters typed go into a
//! composing buffer, the dictionary (`inputx-pinyin`: words and single characters with
//! corpus frequencies) offers candidates, and picking one commits Chinese text.
//!
//! It is plain data and a read-only dictionary: it never learns from what a customer
//! picked (the next customer must not see the last one's words first, GB/T 5.4.2) and it
//! never touches Slint.

use std::sync::OnceLock;

use golia_pinyin::PinyinDict;

/// Candidates shown at once in the candidate bar.
pub const PAGE: usize = 8;
/// The most candidates kept for one buffer (the rest are never reached in practice).
const MAX_CANDIDATES: usize = 64;
/// The longest pinyin buffer accepted (about six syllables).
pub const MAX_BUFFER: usize = 36;

fn dict() -> &'static PinyinDict {
    static DICT: OnceLock<PinyinDict> = OnceLock::new();
    DICT.get_or_init(PinyinDict::embedded)
}

/// One word or character offered for the letters typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub text: String,
    /// How many letters of the buffer picking it uses up (the rest stay composing).
    pub consumes: usize,
}

/// The composing buffer and its candidates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Composer {
    buffer: String,
    candidates: Vec<Candidate>,
    page: usize,
}

impl Composer {
    /// The letters typed so far (lower case).
    pub fn buffer(&self) -> &str {
        &self.buffer
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Adds a letter; anything but `a`–`z` is refused (false).
    pub fn push(&mut self, c: char) -> bool {
        let c = c.to_ascii_lowercase();
        if !c.is_ascii_lowercase() || self.buffer.len() >= MAX_BUFFER {
            return false;
        }
        self.buffer.push(c);
        self.refresh();
        true
    }

    /// Removes the last letter; false when there was none.
    pub fn backspace(&mut self) -> bool {
        let removed = self.buffer.pop().is_some();
        if removed {
            self.refresh();
        }
        removed
    }

    pub fn clear(&mut self) {
        *self = Composer::default();
    }

    /// All candidates, best first.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The candidates on the current page.
    pub fn page(&self) -> &[Candidate] {
        let start = (self.page * PAGE).min(self.candidates.len());
        let end = (start + PAGE).min(self.candidates.len());
        &self.candidates[start..end]
    }

    pub fn has_prev_page(&self) -> bool {
        self.page > 0
    }

    pub fn has_next_page(&self) -> bool {
        (self.page + 1) * PAGE < self.candidates.len()
    }

    /// Turns the page forwards (`+1`) or back (`-1`).
    pub fn turn(&mut self, delta: i32) {
        if delta > 0 && self.has_next_page() {
            self.page += 1;
        } else if delta < 0 && self.has_prev_page() {
            self.page -= 1;
        }
    }

    /// Picks candidate `index` of the current page: returns its text and keeps composing
    /// whatever letters it did not use.
    pub fn pick(&mut self, index: usize) -> Option<String> {
        let c = self.page().get(index)?.clone();
        self.buffer.drain(..c.consumes.min(self.buffer.len()));
        self.refresh();
        Some(c.text)
    }

    /// Gives up composing and returns the letters as typed (Enter in a pinyin IME).
    pub fn take_letters(&mut self) -> String {
        let letters = std::mem::take(&mut self.buffer);
        self.refresh();
        letters
    }

    fn refresh(&mut self) {
        self.page = 0;
        self.candidates = candidates_for(&self.buffer);
    }
}

/// Candidates for `letters`: exact readings of the whole buffer first (most frequent
/// first), then the best readings of its longest leading part that has any (they use up
/// only that part), then words the buffer is the start of (`zhongg` → 中国).
pub fn candidates_for(letters: &str) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    if letters.is_empty() {
        return out;
    }
    let d = dict();
    let add = |out: &mut Vec<Candidate>, text: String, consumes: usize| {
        if out.len() < MAX_CANDIDATES && !out.iter().any(|c| c.text == text) {
            out.push(Candidate { text, consumes });
        }
    };
    for w in d.lookup(letters) {
        add(&mut out, w, letters.len());
    }
    // The longest head with readings: `woxiang` has none as a whole in some spellings,
    // but `wo` does; picking 我 leaves `xiang` composing.
    if out.is_empty() {
        for end in (1..letters.len()).rev() {
            let head = &letters[..end];
            let words = d.lookup(head);
            if !words.is_empty() {
                for w in words.into_iter().take(PAGE * 2) {
                    add(&mut out, w, end);
                }
                break;
            }
        }
    }
    // Completions, by frequency. A one-letter buffer has tens of thousands: only the
    // frequent ones matter, so keep the best few while scanning.
    let mut completions: Vec<(u64, String)> = Vec::new();
    d.prefix_for_each(letters, |pinyin, word, freq| {
        if pinyin.len() > letters.len() {
            completions.push((freq, word.to_owned()));
            if completions.len() > 4 * MAX_CANDIDATES {
                completions.sort_by_key(|c| std::cmp::Reverse(c.0));
                completions.truncate(MAX_CANDIDATES);
            }
        }
    });
    completions.sort_by_key(|c| std::cmp::Reverse(c.0));
    for (_, w) in completions {
        add(&mut out, w, letters.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(c: &Composer) -> Vec<&str> {
        c.candidates().iter().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn common_words_come_first() {
        let mut c = Composer::default();
        for l in "weixiu".chars() {
            assert!(c.push(l));
        }
        assert!(texts(&c).contains(&"维修"), "{:?}", texts(&c));
        let pos = texts(&c).iter().position(|t| *t == "维修").unwrap();
        assert!(pos < PAGE, "维修 is on the first page: {:?}", texts(&c));
        let mut c = Composer::default();
        for l in "xiyiji".chars() {
            c.push(l);
        }
        assert_eq!(texts(&c).first(), Some(&"洗衣机"), "{:?}", texts(&c));
    }

    #[test]
    fn picking_commits_and_leaves_the_rest_composing() {
        let mut c = Composer::default();
        for l in "bingxiang".chars() {
            c.push(l);
        }
        let i = c.page().iter().position(|x| x.text == "冰箱").unwrap();
        assert_eq!(c.pick(i).as_deref(), Some("冰箱"));
        assert!(c.is_empty());
        assert!(c.candidates().is_empty());
        // A partial pick: a head with readings and letters left over.
        let head = candidates_for("woqx");
        assert!(head.iter().any(|x| x.consumes < 4), "{head:?}");
    }

    #[test]
    fn single_letters_offer_frequent_characters_and_pages_turn() {
        let mut c = Composer::default();
        c.push('d');
        assert_eq!(c.page().len(), PAGE);
        assert!(c.has_next_page());
        let first = c.page()[0].clone();
        c.turn(1);
        assert_ne!(c.page()[0], first);
        c.turn(-1);
        assert_eq!(c.page()[0], first);
        assert!(!c.push('1'), "digits are not pinyin");
        assert!(c.backspace());
        assert!(!c.backspace());
        assert!(c.candidates().is_empty());
    }

    #[test]
    fn enter_gives_the_letters_back() {
        let mut c = Composer::default();
        for l in "abc".chars() {
            c.push(l);
        }
        assert_eq!(c.take_letters(), "abc");
        assert!(c.is_empty());
    }
}
