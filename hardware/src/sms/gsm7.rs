//! The GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 6.2.1), and the
//! packing of septets into octets (TS 23.038 6.1.2.1.1), with the fill bits that align text
//! after a user data header (TS 23.040 9.2.3.24).
//!
//! Pure functions on bytes: no IO. Must never accept a character the alphabet lacks (the
//! caller falls back to UCS-2) nor panic on any input it is asked to unpack.

/// The escape to the extension table.
pub(crate) const ESCAPE: u8 = 0x1B;
/// Carriage return, also the padding for seven spare bits.
pub(crate) const CR: u8 = 0x0D;

/// The default alphabet, indexed by septet. 0x1B is the escape, never a character.
const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1b}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: (septet after the escape, character).
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0c}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The septets for one character: one from the default alphabet, or the escape and one from
/// the extension table. `None` when the alphabet lacks the character.
pub(crate) fn septets(c: char) -> Option<Septets> {
    if c != '\u{1b}'
        && let Some(i) = BASIC.iter().position(|&b| b == c)
    {
        return u8::try_from(i).ok().map(Septets::One);
    }
    EXTENSION
        .iter()
        .find(|(_, e)| *e == c)
        .map(|&(s, _)| Septets::Escaped(s))
}

/// One character's septets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Septets {
    One(u8),
    Escaped(u8),
}

impl Septets {
    /// How many septets the character takes (1 or 2).
    pub(crate) fn len(self) -> usize {
        match self {
            Septets::One(_) => 1,
            Septets::Escaped(_) => 2,
        }
    }

    pub(crate) fn push_to(self, out: &mut Vec<u8>) {
        match self {
            Septets::One(s) => out.push(s),
            Septets::Escaped(s) => out.extend([ESCAPE, s]),
        }
    }
}

/// True when every character of `text` is in the default alphabet or its extension table.
pub(crate) fn fits(text: &str) -> bool {
    text.chars().all(|c| septets(c).is_some())
}

/// The septets of `text`, or `None` when a character is not in the alphabet.
pub(crate) fn encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        septets(c)?.push_to(&mut out);
    }
    Some(out)
}

/// Decodes septets. An escape followed by a septet the extension table lacks shows the
/// default alphabet's character for that septet, and a trailing escape is dropped, as TS
/// 23.038 6.2.1.1 asks of a receiving entity.
pub(crate) fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut it = septets.iter().map(|s| s & 0x7F);
    while let Some(s) = it.next() {
        if s == ESCAPE {
            let Some(e) = it.next() else { break };
            match EXTENSION.iter().find(|(x, _)| *x == e) {
                Some(&(_, c)) => out.push(c),
                None => out.push(basic(e)),
            }
        } else {
            out.push(basic(s));
        }
    }
    out
}

fn basic(s: u8) -> char {
    match BASIC.get(usize::from(s)) {
        // The escape on its own shows as a space (TS 23.038 note to the table).
        Some('\u{1b}') | None => ' ',
        Some(&c) => c,
    }
}

/// Packs septets into octets, least significant bit first, after `fill_bits` zero bits
/// (0–6: the fill that puts the first septet on a septet boundary after a header).
pub(crate) fn pack(septets: &[u8], fill_bits: usize) -> Vec<u8> {
    let bits = fill_bits + 7 * septets.len();
    let mut out = vec![0u8; bits.div_ceil(8)];
    let mut at = fill_bits;
    for &s in septets {
        for i in 0..7 {
            if (s >> i) & 1 == 1
                && let Some(o) = out.get_mut(at / 8)
            {
                *o |= 1 << (at % 8);
            }
            at += 1;
        }
    }
    out
}

/// Unpacks `count` septets from `octets`, skipping `fill_bits` first. Septets the octets
/// do not hold are left out.
pub(crate) fn unpack(octets: &[u8], fill_bits: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    let mut at = fill_bits;
    for _ in 0..count {
        if at + 7 > octets.len() * 8 {
            break;
        }
        let mut s = 0u8;
        for i in 0..7 {
            let bit = octets.get(at / 8).map_or(0, |o| (o >> (at % 8)) & 1);
            s |= bit << i;
            at += 1;
        }
        out.push(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_the_classic_examples() {
        // TS 23.038 6.1.2.1.1 packing, as in the well-known "hellohello" SMS-SUBMIT.
        let s = encode("hellohello").unwrap();
        assert_eq!(
            pack(&s, 0),
            [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]
        );
        assert_eq!(pack(&encode("Test").unwrap(), 0), [0xD4, 0xF2, 0x9C, 0x0E]);
        // Eight septets fill seven octets exactly.
        assert_eq!(pack(&encode("12345678").unwrap(), 0).len(), 7);
    }

    #[test]
    fn fill_bits_shift_the_text_and_unpack_back() {
        let s = encode("hello").unwrap();
        let packed = pack(&s, 1);
        // 'h' = 0x68 shifted left by one bit.
        assert_eq!(packed[0], 0xD0);
        assert_eq!(unpack(&packed, 1, s.len()), s);
        for fill in 0..7 {
            let t = encode("Any {text} [with] €uro ~|^\\").unwrap();
            assert_eq!(unpack(&pack(&t, fill), fill, t.len()), t, "fill {fill}");
        }
    }

    #[test]
    fn the_extension_table_takes_two_septets() {
        assert_eq!(septets('€'), Some(Septets::Escaped(0x65)));
        assert_eq!(septets('€').map(Septets::len), Some(2));
        assert_eq!(septets('@'), Some(Septets::One(0)));
        assert_eq!(encode("{}").unwrap(), [0x1B, 0x28, 0x1B, 0x29]);
        assert_eq!(decode(&[0x1B, 0x65, 0x41]), "€A");
        // An unknown extension shows the default character; a trailing escape is dropped.
        assert_eq!(decode(&[0x1B, 0x41, 0x1B]), "A");
    }

    #[test]
    fn characters_outside_the_alphabet_do_not_fit() {
        assert!(fits(
            "Your ticket A012 is called: counter 3. £5 paid, @home!"
        ));
        assert!(!fits("您的号码"));
        assert!(!fits("tab\there"));
        assert!(!fits("\u{1b}"), "the escape itself is no character");
        assert!(!fits("ç"), "only the capital Ç is in the default alphabet");
        let all: String = BASIC.iter().filter(|&&c| c != '\u{1b}').collect();
        assert_eq!(decode(&encode(&all).unwrap()), all);
    }

    #[test]
    fn unpacking_short_input_never_panics() {
        assert_eq!(unpack(&[], 0, 5), Vec::<u8>::new());
        assert_eq!(unpack(&[0xFF], 6, 5), Vec::<u8>::new());
        assert_eq!(unpack(&[0xC1], 0, 3), [0x41]);
    }
}
