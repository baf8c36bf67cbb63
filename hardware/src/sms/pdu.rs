//! SMS-SUBMIT protocol data units (3GPP TS 23.040 9.2.2.2) as a GSM modem takes them in PDU
//! mode (TS 27.005 3.3): the destination address, the GSM 7-bit default alphabet when the
//! text fits it and UCS-2 otherwise (TS 23.038 4), and long texts split into concatenated
//! parts with a user data header (TS 23.040 9.2.3.24.1). Also the decoder the modem
//! simulator and tests use to read back what went out.
//!
//! Pure functions on bytes: no IO. Must never split an escape sequence or a UTF-16
//! surrogate pair across parts, and never panic on a PDU it is asked to decode.

use super::PhoneNumber;
use super::gsm7;
use std::time::Duration;

/// Septets in one unconcatenated GSM 7-bit message.
pub const GSM7_SINGLE: usize = 160;
/// Septets of text in each part of a concatenated GSM 7-bit message (the header takes 7).
pub const GSM7_PART: usize = 153;
/// UTF-16 code units in one unconcatenated UCS-2 message.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 code units of text in each part of a concatenated UCS-2 message.
pub const UCS2_PART: usize = 67;
/// A concatenated message has at most this many parts (the header's count is one octet).
pub const MAX_PARTS: usize = 255;

/// TP-DCS coding group 00: the default alphabet.
const DCS_GSM7: u8 = 0x00;
/// TP-DCS coding group 00: UCS-2.
const DCS_UCS2: u8 = 0x08;
/// TP-MTI = SMS-SUBMIT.
const MTI_SUBMIT: u8 = 0x01;
/// TP-VPF = relative validity period (one octet).
const VPF_RELATIVE: u8 = 0x10;
const TP_SRR: u8 = 0x20;
const TP_UDHI: u8 = 0x40;
/// Information element: concatenated short message, 8-bit reference.
const IEI_CONCAT_8: u8 = 0x00;
/// Information element: concatenated short message, 16-bit reference.
const IEI_CONCAT_16: u8 = 0x08;
/// Type of address: international number, ISDN/telephone numbering plan.
pub const TOA_INTERNATIONAL: u8 = 0x91;
/// Type of address: unknown type of number, ISDN/telephone numbering plan.
pub const TOA_UNKNOWN: u8 = 0x81;

/// How the text is coded (TS 23.038 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// The GSM 7-bit default alphabet with its extension table: 160 septets per message.
    Gsm7,
    /// UCS-2 (sent as UTF-16 big-endian, as phones read it): 70 code units per message.
    Ucs2,
}

/// A text split the way it will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segments {
    pub alphabet: Alphabet,
    /// Each part's text, in order; one part for a text that fits a single message (and for
    /// an empty text).
    pub parts: Vec<String>,
}

/// Which alphabet `text` needs and how it splits into parts: GSM 7-bit when every
/// character is in the default alphabet or its extension table (counted in septets, an
/// extension character taking two), UCS-2 otherwise (counted in UTF-16 code units, a
/// character outside the Basic Multilingual Plane taking two).
pub fn segment(text: &str) -> Segments {
    let (alphabet, cost, single, part): (_, fn(char) -> usize, _, _) = if gsm7::fits(text) {
        (
            Alphabet::Gsm7,
            |c| gsm7::septets(c).map_or(1, gsm7::Septets::len),
            GSM7_SINGLE,
            GSM7_PART,
        )
    } else {
        (Alphabet::Ucs2, char::len_utf16, UCS2_SINGLE, UCS2_PART)
    };
    let total: usize = text.chars().map(cost).sum();
    if total <= single {
        return Segments {
            alphabet,
            parts: vec![text.to_owned()],
        };
    }
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut used = 0;
    for c in text.chars() {
        let n = cost(c);
        // A character never straddles two parts: an escape pair or a surrogate pair that
        // does not fit moves whole to the next part.
        if used + n > part {
            parts.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(c);
        used += n;
    }
    parts.push(current);
    Segments { alphabet, parts }
}

/// Why a text cannot be made into PDUs, or a PDU cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    #[error("the message is empty")]
    Empty,
    #[error("the message needs {parts} parts; at most {max} are allowed")]
    TooLong { parts: usize, max: usize },
    #[error("the PDU is not hexadecimal")]
    NotHex,
    #[error("the PDU ends early")]
    Truncated,
    #[error("the PDU is not an SMS-SUBMIT")]
    NotSubmit,
    #[error("the PDU's data coding scheme {0:#04x} is not supported")]
    UnsupportedCoding(u8),
    #[error("the PDU is malformed: {0}")]
    Malformed(&'static str),
}

/// How the modem is to send a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOptions {
    /// The service centre; `None` uses the one stored on the SIM.
    pub smsc: Option<PhoneNumber>,
    /// How long the network keeps trying to deliver; `None` leaves it to the network.
    pub validity: Option<Duration>,
    /// The concatenation reference shared by the parts of one long message.
    pub reference: u8,
    /// At most this many parts (1–255).
    pub max_parts: usize,
}

/// One SMS-SUBMIT, with the service centre field in front as `AT+CMGS` takes it.
#[derive(Clone, PartialEq, Eq)]
pub struct SubmitPdu {
    octets: Vec<u8>,
    smsc_len: usize,
}

impl std::fmt::Debug for SubmitPdu {
    // The PDU holds the destination number: Debug shows its size only (GB/T 5.4.2).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmitPdu")
            .field("tpdu_len", &self.tpdu_len())
            .finish_non_exhaustive()
    }
}

impl SubmitPdu {
    /// Service centre field and TPDU.
    pub fn octets(&self) -> &[u8] {
        &self.octets
    }

    /// The length `AT+CMGS=<length>` announces: the TPDU's octets, without the service
    /// centre field (TS 27.005 3.5.1).
    pub fn tpdu_len(&self) -> usize {
        self.octets.len() - self.smsc_len
    }

    /// Upper-case hexadecimal, as typed after the `> ` prompt.
    pub fn hex(&self) -> String {
        hex::encode_upper(&self.octets)
    }
}

/// The relative validity period (TS 23.040 9.2.3.12.1) that is at least `d`, as far as the
/// coding reaches (63 weeks).
pub fn relative_validity(d: Duration) -> u8 {
    let minutes = d.as_secs().div_ceil(60).max(1);
    let vp = if minutes <= 12 * 60 {
        minutes.div_ceil(5) - 1
    } else if minutes <= 24 * 60 {
        143 + (minutes - 12 * 60).div_ceil(30)
    } else {
        let days = minutes.div_ceil(24 * 60);
        if days <= 30 {
            166 + days
        } else {
            192 + days.div_ceil(7)
        }
    };
    u8::try_from(vp).unwrap_or(u8::MAX)
}

/// The semi-octets of a digit string, low nibble first, `F`-filled (TS 23.040 9.1.2.3).
fn semi_octets(digits: &str) -> Vec<u8> {
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let lo = pair[0] - b'0';
            let hi = pair.get(1).map_or(0x0F, |d| d - b'0');
            (hi << 4) | lo
        })
        .collect()
}

fn type_of_address(n: &PhoneNumber) -> u8 {
    if n.is_international() {
        TOA_INTERNATIONAL
    } else {
        TOA_UNKNOWN
    }
}

/// The PDUs that send `text` to `to`: one for a text that fits a single message, else one
/// per concatenated part, each with a header naming `options.reference`, the part count
/// and its place.
pub fn encode_submit(
    to: &PhoneNumber,
    text: &str,
    options: &SubmitOptions,
) -> Result<Vec<SubmitPdu>, PduError> {
    if text.is_empty() {
        return Err(PduError::Empty);
    }
    let segments = segment(text);
    let total = segments.parts.len();
    let max = options.max_parts.clamp(1, MAX_PARTS);
    if total > max {
        return Err(PduError::TooLong { parts: total, max });
    }
    let total_octet = u8::try_from(total).map_err(|_| PduError::TooLong { parts: total, max })?;
    let mut pdus = Vec::with_capacity(total);
    for (i, part) in segments.parts.iter().enumerate() {
        let concat = (total > 1).then(|| {
            let seq = u8::try_from(i + 1).unwrap_or(u8::MAX);
            [
                0x05,
                IEI_CONCAT_8,
                0x03,
                options.reference,
                total_octet,
                seq,
            ]
        });
        pdus.push(encode_part(
            to,
            segments.alphabet,
            part,
            concat.as_ref().map(|h| &h[..]),
            options,
        ));
    }
    Ok(pdus)
}

fn encode_part(
    to: &PhoneNumber,
    alphabet: Alphabet,
    text: &str,
    header: Option<&[u8]>,
    options: &SubmitOptions,
) -> SubmitPdu {
    let mut o = Vec::with_capacity(176);
    // Service centre: length in octets (type of address included), or 0 for the SIM's.
    match &options.smsc {
        None => o.push(0x00),
        Some(smsc) => {
            let bcd = semi_octets(smsc.digits());
            o.push(u8::try_from(bcd.len() + 1).unwrap_or(0));
            o.push(type_of_address(smsc));
            o.extend(bcd);
        }
    }
    let smsc_len = o.len();
    let mut first = MTI_SUBMIT;
    if options.validity.is_some() {
        first |= VPF_RELATIVE;
    }
    if header.is_some() {
        first |= TP_UDHI;
    }
    o.push(first);
    // TP-MR: the modem fills in its own and reports it in +CMGS.
    o.push(0x00);
    // TP-DA: length in digits, type of address, semi-octets.
    o.push(u8::try_from(to.digits().len()).unwrap_or(0));
    o.push(type_of_address(to));
    o.extend(semi_octets(to.digits()));
    // TP-PID: plain short message.
    o.push(0x00);
    o.push(match alphabet {
        Alphabet::Gsm7 => DCS_GSM7,
        Alphabet::Ucs2 => DCS_UCS2,
    });
    if let Some(v) = options.validity {
        o.push(relative_validity(v));
    }
    let header = header.unwrap_or(&[]);
    match alphabet {
        Alphabet::Gsm7 => {
            let mut septets = gsm7::encode(text).unwrap_or_default();
            let header_bits = header.len() * 8;
            let fill = (7 - header_bits % 7) % 7;
            let udl = (header_bits + fill) / 7 + septets.len();
            // Seven zero spare bits at the end would read as '@' to a receiver that counts
            // octets instead of the UDL's septets: they carry CR, outside the UDL (the
            // padding TS 23.038 6.1.2.3.1 prescribes where lengths are in octets).
            if (fill + 7 * septets.len()) % 8 == 1 {
                septets.push(gsm7::CR);
            }
            o.push(u8::try_from(udl).unwrap_or(u8::MAX));
            o.extend_from_slice(header);
            o.extend(gsm7::pack(&septets, fill));
        }
        Alphabet::Ucs2 => {
            let body: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
            o.push(u8::try_from(header.len() + body.len()).unwrap_or(u8::MAX));
            o.extend_from_slice(header);
            o.extend(body);
        }
    }
    SubmitPdu {
        octets: o,
        smsc_len,
    }
}

/// A concatenation header: this part's place in a long message (TS 23.040 9.2.3.24.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concatenation {
    /// The reference all parts of one message share (8- or 16-bit).
    pub reference: u16,
    pub total: u8,
    /// 1-based.
    pub seq: u8,
}

/// An SMS-SUBMIT read back.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodedSubmit {
    /// The service centre's number, when the PDU names one.
    pub smsc: Option<String>,
    /// The destination as dialled: `+` and digits for an international number.
    pub to: String,
    pub message_reference: u8,
    pub status_report_requested: bool,
    /// The relative validity period octet, when there is one.
    pub validity: Option<u8>,
    pub alphabet: Alphabet,
    pub concatenation: Option<Concatenation>,
    /// This part's text.
    pub text: String,
}

impl std::fmt::Debug for DecodedSubmit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedSubmit")
            .field("to", &domain::mask::mask_phone(&self.to))
            .field("alphabet", &self.alphabet)
            .field("concatenation", &self.concatenation)
            .field("text", &self.text)
            .finish_non_exhaustive()
    }
}

/// Bytes from hexadecimal (either case).
pub fn from_hex(hex: &str) -> Result<Vec<u8>, PduError> {
    hex::decode(hex.trim()).map_err(|_| PduError::NotHex)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn octet(&mut self) -> Result<u8, PduError> {
        let b = *self.bytes.get(self.at).ok_or(PduError::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PduError> {
        let end = self.at.checked_add(n).ok_or(PduError::Truncated)?;
        let s = self.bytes.get(self.at..end).ok_or(PduError::Truncated)?;
        self.at = end;
        Ok(s)
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.at..).unwrap_or(&[])
    }
}

/// Digits of an address from its semi-octets: `0`–`9`, `*`, `#`, `a`–`c`; the `F` filler
/// ends it.
fn digits(bcd: &[u8], count: usize) -> String {
    bcd.iter()
        .flat_map(|b| [b & 0x0F, b >> 4])
        .take(count)
        .map_while(|n| match n {
            0..=9 => Some(char::from(b'0' + n)),
            0x0A => Some('*'),
            0x0B => Some('#'),
            0x0C => Some('a'),
            0x0D => Some('b'),
            0x0E => Some('c'),
            _ => None,
        })
        .collect()
}

fn with_plus(toa: u8, digits: String) -> String {
    // Type of number bits 6-4: 001 is international.
    if (toa >> 4) & 0x07 == 0x01 {
        format!("+{digits}")
    } else {
        digits
    }
}

/// Reads an SMS-SUBMIT with its service centre field in front, as `AT+CMGS` carries it.
pub fn decode_submit(octets: &[u8]) -> Result<DecodedSubmit, PduError> {
    let mut r = Reader {
        bytes: octets,
        at: 0,
    };
    let smsc_len = usize::from(r.octet()?);
    let smsc = if smsc_len == 0 {
        None
    } else {
        let field = r.take(smsc_len)?;
        let (&toa, bcd) = field.split_first().ok_or(PduError::Truncated)?;
        Some(with_plus(toa, digits(bcd, bcd.len() * 2)))
    };
    let first = r.octet()?;
    if first & 0x03 != MTI_SUBMIT {
        return Err(PduError::NotSubmit);
    }
    let message_reference = r.octet()?;
    let da_digits = usize::from(r.octet()?);
    if da_digits > 20 {
        return Err(PduError::Malformed("destination longer than 20 digits"));
    }
    let toa = r.octet()?;
    if (toa >> 4) & 0x07 == 0x05 {
        return Err(PduError::Malformed("alphanumeric destination"));
    }
    let bcd = r.take(da_digits.div_ceil(2))?;
    let to = with_plus(toa, digits(bcd, da_digits));
    let _pid = r.octet()?;
    let dcs = r.octet()?;
    let alphabet = match dcs {
        // Coding group 00xx (general data coding, uncompressed): bits 3-2 are the alphabet.
        d if d & 0xE0 == 0x00 => match (d >> 2) & 0x03 {
            0 => Alphabet::Gsm7,
            2 => Alphabet::Ucs2,
            _ => return Err(PduError::UnsupportedCoding(d)),
        },
        // Coding group 1111: bit 2 clear is the default alphabet.
        d if d & 0xF4 == 0xF0 => Alphabet::Gsm7,
        d => return Err(PduError::UnsupportedCoding(d)),
    };
    let validity = match (first >> 3) & 0x03 {
        0 => None,
        2 => Some(r.octet()?),
        // Enhanced or absolute: seven octets.
        _ => {
            r.take(7)?;
            None
        }
    };
    let udl = usize::from(r.octet()?);
    let ud = r.rest();
    let udh = first & TP_UDHI != 0;
    let (header_len, concatenation) = if udh {
        let udhl = usize::from(*ud.first().ok_or(PduError::Truncated)?);
        let header = ud.get(1..1 + udhl).ok_or(PduError::Truncated)?;
        (1 + udhl, concatenation(header)?)
    } else {
        (0, None)
    };
    let text = match alphabet {
        Alphabet::Gsm7 => {
            if udl > GSM7_SINGLE {
                return Err(PduError::Malformed("more than 160 septets"));
            }
            if ud.len() < (udl * 7).div_ceil(8) {
                return Err(PduError::Truncated);
            }
            let header_septets = (header_len * 8).div_ceil(7);
            let fill = header_septets * 7 - header_len * 8;
            let count = udl
                .checked_sub(header_septets)
                .ok_or(PduError::Malformed("header longer than the user data"))?;
            let body = ud.get(header_len..).unwrap_or(&[]);
            gsm7::decode(&gsm7::unpack(body, fill, count))
        }
        Alphabet::Ucs2 => {
            if udl > 140 {
                return Err(PduError::Malformed("more than 140 octets"));
            }
            let body = ud
                .get(header_len..udl)
                .ok_or(PduError::Malformed("user data shorter than its header"))?;
            if body.len() % 2 != 0 {
                return Err(PduError::Malformed("odd number of UCS-2 octets"));
            }
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
    };
    Ok(DecodedSubmit {
        smsc,
        to,
        message_reference,
        status_report_requested: first & TP_SRR != 0,
        validity,
        alphabet,
        concatenation,
        text,
    })
}

/// The concatenation element of a user data header, if it has one.
fn concatenation(header: &[u8]) -> Result<Option<Concatenation>, PduError> {
    let mut r = Reader {
        bytes: header,
        at: 0,
    };
    let mut found = None;
    while !r.rest().is_empty() {
        let iei = r.octet()?;
        let len = usize::from(r.octet()?);
        let data = r.take(len)?;
        let c = match (iei, data) {
            (IEI_CONCAT_8, &[reference, total, seq]) => Concatenation {
                reference: u16::from(reference),
                total,
                seq,
            },
            (IEI_CONCAT_16, &[hi, lo, total, seq]) => Concatenation {
                reference: u16::from_be_bytes([hi, lo]),
                total,
                seq,
            },
            (IEI_CONCAT_8 | IEI_CONCAT_16, _) => {
                return Err(PduError::Malformed("bad concatenation element"));
            }
            _ => continue,
        };
        if c.total == 0 || c.seq == 0 || c.seq > c.total {
            return Err(PduError::Malformed("bad concatenation numbers"));
        }
        found = Some(c);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    fn options() -> SubmitOptions {
        SubmitOptions {
            smsc: None,
            validity: Some(Duration::from_secs(4 * 24 * 3600)),
            reference: 0x2A,
            max_parts: 10,
        }
    }

    fn hexes(pdus: &[SubmitPdu]) -> Vec<String> {
        pdus.iter().map(SubmitPdu::hex).collect()
    }

    #[test]
    fn the_classic_hellohello_pdu() {
        // The widely published SMS-SUBMIT example: "hellohello" to +46708251358, SIM's
        // service centre, relative validity AA (4 days), AT+CMGS=23.
        let pdus = encode_submit(&number("+46708251358"), "hellohello", &options()).unwrap();
        assert_eq!(
            hexes(&pdus),
            ["0011000B916407281553F80000AA0AE8329BFD4697D9EC37"]
        );
        assert_eq!(pdus[0].tpdu_len(), 23);
    }

    #[test]
    fn chinese_goes_as_ucs2_and_decodes_back() {
        // 你 U+4F60, 好 U+597D; national number, type of address 81.
        let pdus = encode_submit(&number("13812345678"), "你好", &options()).unwrap();
        assert_eq!(hexes(&pdus), ["0011000B813118325476F80008AA044F60597D"]);
        let back = decode_submit(pdus[0].octets()).unwrap();
        assert_eq!(back.to, "13812345678");
        assert_eq!(back.text, "你好");
        assert_eq!(back.alphabet, Alphabet::Ucs2);
        assert_eq!(back.validity, Some(0xAA));
        assert_eq!(back.concatenation, None);
    }

    #[test]
    fn international_numbers_and_a_service_centre() {
        let mut o = options();
        o.smsc = Some(number("+8613800100500"));
        o.validity = None;
        let pdus = encode_submit(&number("+8613812345678"), "OK", &o).unwrap();
        // SMSC 08 91 683108100005F0; first octet 01 (no validity); DA 0D 91 ...; UDL 2.
        assert_eq!(
            hexes(&pdus),
            ["0891683108100005F001000D91683118325476F8000002CF25"]
        );
        assert_eq!(pdus[0].tpdu_len(), 16);
        let back = decode_submit(pdus[0].octets()).unwrap();
        assert_eq!(back.smsc.as_deref(), Some("+8613800100500"));
        assert_eq!(back.to, "+8613812345678");
        assert_eq!(back.text, "OK");
        assert_eq!(back.validity, None);
    }

    #[test]
    fn long_gsm_text_is_split_at_153_septets_with_a_fill_bit() {
        let text: String = (0..200)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let pdus = encode_submit(&number("+8613812345678"), &text, &options()).unwrap();
        assert_eq!(pdus.len(), 2);
        let first = pdus[0].octets();
        // First octet 51: SMS-SUBMIT, relative validity, user data header present.
        assert_eq!(first[1], 0x51);
        // UDL 160 septets = 7 for the header + 153 of text; header 05 00 03 2A 02 01.
        let udl_at = 1 + 1 + 1 + 2 + 7 + 1 + 1 + 1;
        assert_eq!(first[udl_at], 160);
        assert_eq!(
            &first[udl_at + 1..udl_at + 7],
            &[0x05, 0x00, 0x03, 0x2A, 0x02, 0x01]
        );
        // 'a' (0x61) after one fill bit: 0xC2.
        assert_eq!(first[udl_at + 7], 0xC2);
        let mut joined = String::new();
        for (i, p) in pdus.iter().enumerate() {
            let d = decode_submit(p.octets()).unwrap();
            assert_eq!(
                d.concatenation,
                Some(Concatenation {
                    reference: 0x2A,
                    total: 2,
                    seq: u8::try_from(i + 1).unwrap()
                })
            );
            joined.push_str(&d.text);
        }
        assert_eq!(joined, text);
        assert_eq!(decode_submit(pdus[0].octets()).unwrap().text.len(), 153);
    }

    #[test]
    fn seven_spare_bits_carry_cr_outside_the_udl() {
        // 7 septets = 49 bits: seven spare bits in the seventh octet.
        let pdus = encode_submit(&number("10086"), "ABCDEFG", &options()).unwrap();
        let o = pdus[0].octets();
        assert_eq!(o[o.len() - 8], 7, "the UDL counts the text only");
        assert_eq!(o[o.len() - 1] >> 1, 0x0D, "CR in the spare bits");
        assert_eq!(decode_submit(o).unwrap().text, "ABCDEFG");
        // 8 septets fill seven octets exactly: no padding.
        let pdus = encode_submit(&number("10086"), "ABCDEFGH", &options()).unwrap();
        assert_eq!(decode_submit(pdus[0].octets()).unwrap().text, "ABCDEFGH");
    }

    #[test]
    fn limits_of_a_single_message() {
        let gsm = "x".repeat(160);
        assert_eq!(segment(&gsm).parts.len(), 1);
        assert_eq!(segment(&format!("{gsm}x")).parts.len(), 2);
        // Extension characters count twice: 80 euro signs fill one message.
        assert_eq!(segment(&"€".repeat(80)).parts.len(), 1);
        assert_eq!(segment(&"€".repeat(81)).parts.len(), 2);
        let zh = "好".repeat(70);
        assert_eq!(segment(&zh).parts.len(), 1);
        assert_eq!(segment(&zh).alphabet, Alphabet::Ucs2);
        assert_eq!(segment(&format!("{zh}好")).parts.len(), 2);
        // 150 Chinese characters: 67 + 67 + 16.
        let lens: Vec<usize> = segment(&"好".repeat(150))
            .parts
            .iter()
            .map(|p| p.chars().count())
            .collect();
        assert_eq!(lens, [67, 67, 16]);
    }

    #[test]
    fn an_escape_pair_is_never_split() {
        // 152 plain septets, then '€' (two septets) cannot fit in the first part.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(20));
        let s = segment(&text);
        assert_eq!(s.alphabet, Alphabet::Gsm7);
        assert_eq!(s.parts[0], "a".repeat(152));
        assert!(s.parts[1].starts_with('€'));
        let pdus = encode_submit(&number("10086"), &text, &options()).unwrap();
        let first = decode_submit(pdus[0].octets()).unwrap();
        assert_eq!(first.text, "a".repeat(152));
    }

    #[test]
    fn a_surrogate_pair_is_never_split() {
        // 66 BMP characters, then U+1F600 (two UTF-16 units): it moves whole to part two.
        let text = format!("{}😀{}", "好".repeat(66), "好".repeat(10));
        let s = segment(&text);
        assert_eq!(s.parts.len(), 2);
        assert_eq!(s.parts[0], "好".repeat(66));
        assert!(s.parts[1].starts_with('😀'));
        let pdus = encode_submit(&number("10086"), &text, &options()).unwrap();
        let texts: Vec<String> = pdus
            .iter()
            .map(|p| decode_submit(p.octets()).unwrap().text)
            .collect();
        assert_eq!(texts.concat(), text);
        // Emoji alone: 35 of them are 70 code units, one message.
        assert_eq!(segment(&"😀".repeat(35)).parts.len(), 1);
        assert_eq!(segment(&"😀".repeat(36)).parts.len(), 2);
    }

    #[test]
    fn empty_and_too_long_texts_are_refused() {
        let to = number("10086");
        assert_eq!(encode_submit(&to, "", &options()), Err(PduError::Empty));
        let mut o = options();
        o.max_parts = 2;
        assert_eq!(
            encode_submit(&to, &"好".repeat(150), &o),
            Err(PduError::TooLong { parts: 3, max: 2 })
        );
    }

    #[test]
    fn relative_validity_covers_at_least_what_was_asked() {
        let h = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!(relative_validity(Duration::from_secs(300)), 0);
        assert_eq!(relative_validity(h(1)), 11);
        assert_eq!(relative_validity(h(12)), 143);
        assert_eq!(relative_validity(h(13)), 145);
        assert_eq!(relative_validity(h(24)), 167);
        assert_eq!(relative_validity(h(4 * 24)), 0xAA);
        assert_eq!(relative_validity(h(30 * 24)), 196);
        assert_eq!(relative_validity(h(35 * 24)), 197);
        assert_eq!(relative_validity(h(10_000 * 24)), 255);
    }

    #[test]
    fn decoding_garbage_is_an_error_not_a_panic() {
        for bad in [
            "",
            "00",
            "0001",
            "0011000B916407281553F80000AA0A",
            "0011000B916407281553F80000AA0AE832",
            "0001000D91683118325476F80004AA00",
            "0041000D91683118325476F8000804050003",
            "0002000D91683118325476F800000100",
        ] {
            let bytes = from_hex(bad).unwrap();
            assert!(decode_submit(&bytes).is_err(), "{bad}");
        }
        assert_eq!(from_hex("zz"), Err(PduError::NotHex));
    }

    #[test]
    fn a_sixteen_bit_reference_is_read_too() {
        // UCS-2, header 06 08 04 1234 02 01, text "好".
        let bytes = from_hex("0041000D91683118325476F800080906080412340201597D").unwrap();
        let d = decode_submit(&bytes).unwrap();
        assert_eq!(
            d.concatenation,
            Some(Concatenation {
                reference: 0x1234,
                total: 2,
                seq: 1
            })
        );
        assert_eq!(d.text, "好");
    }
}
