//! The protocol E link layer: control characters, `STX payload ETX LRC` frames, and the
//! 7E1 line code done in software when the port cannot set parity itself. Pure byte
//! functions plus an incremental decoder; no I/O.
//!
//! Must never panic on any input and never accept a frame with trailing bytes, a wrong
//! LRC, a parity error or a control character inside the payload. The decoder never lets
//! a partial frame hide a link control (ENQ, EOT, ACK, NAK): those end any open frame.
//!
//! # Framing (checked against pyTeliumManager 2.4.2 `TeliumData.framing` / `lrc_check`)
//!
//! `STX (02) payload ETX (03) LRC`, where LRC is the XOR of every byte after STX up to
//! and including ETX. The payload is printable ASCII. Each side opens a transmission
//! with `ENQ (05)`, the other side answers `ACK (06)`; a received frame is answered
//! `ACK` or `NAK (15)` (the sender then repeats it); `EOT (04)` closes the transmission.
//!
//! # 7E1
//!
//! Serial Telium links are often 7 data bits, even parity, 1 stop bit. On a UART that
//! supports it the port does the parity; on a pty (or a USB adapter that cannot) we send
//! 8-bit bytes whose top bit is the even-parity bit of the low seven, and check it on
//! receipt ([`LineCode::SevenEvenParity`]).

use std::fmt;

pub const STX: u8 = 0x02;
pub const ETX: u8 = 0x03;
pub const EOT: u8 = 0x04;
pub const ENQ: u8 = 0x05;
pub const ACK: u8 = 0x06;
pub const NAK: u8 = 0x15;

/// Longest payload the decoder accepts (the longest protocol E message is 80 bytes).
pub const MAX_PAYLOAD: usize = 128;

/// How bytes travel on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineCode {
    /// 8 data bits, no parity: bytes as they are.
    Eight,
    /// 7 data bits with even parity done by the UART: we send 7-bit bytes and ignore
    /// the (already checked) top bit on receipt.
    Seven,
    /// 7 data bits with even parity done here: the top bit of every byte is the parity
    /// bit, set on sending and checked on receipt.
    SevenEvenParity,
}

/// A received byte whose parity bit is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParityError(pub u8);

/// `b` (7 bits) with bit 7 set so that the byte has an even number of one bits.
pub fn with_even_parity(b: u8) -> u8 {
    let low = b & 0x7F;
    if !low.count_ones().is_multiple_of(2) {
        low | 0x80
    } else {
        low
    }
}

impl LineCode {
    /// The byte as it goes on the wire.
    pub fn encode_byte(self, b: u8) -> u8 {
        match self {
            LineCode::Eight => b,
            LineCode::Seven => b & 0x7F,
            LineCode::SevenEvenParity => with_even_parity(b),
        }
    }

    /// The byte as received from the wire, parity checked and stripped.
    pub fn decode_byte(self, raw: u8) -> Result<u8, ParityError> {
        match self {
            LineCode::Eight => Ok(raw),
            LineCode::Seven => Ok(raw & 0x7F),
            LineCode::SevenEvenParity => {
                if raw.count_ones().is_multiple_of(2) {
                    Ok(raw & 0x7F)
                } else {
                    Err(ParityError(raw))
                }
            }
        }
    }

    pub fn encode(self, bytes: &[u8]) -> Vec<u8> {
        bytes.iter().map(|&b| self.encode_byte(b)).collect()
    }

    /// Decodes a whole buffer; the first parity error is reported with its position.
    pub fn decode(self, raw: &[u8]) -> Result<Vec<u8>, FrameError> {
        raw.iter()
            .enumerate()
            .map(|(at, &b)| {
                self.decode_byte(b)
                    .map_err(|ParityError(byte)| FrameError::Parity { at, byte })
            })
            .collect()
    }
}

/// Longitudinal redundancy check: XOR of the bytes.
pub fn lrc(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0, |acc, b| acc ^ b)
}

/// Why bytes are not one valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("no data")]
    Empty,
    #[error("the frame does not start with STX")]
    MissingStx,
    #[error("the frame has no ETX")]
    MissingEtx,
    #[error("the frame ends before its LRC")]
    MissingLrc,
    #[error("{0} unexpected byte(s) after the frame")]
    TrailingBytes(usize),
    #[error("checksum mismatch: computed LRC {expected:#04x}, received {received:#04x}")]
    BadLrc { expected: u8, received: u8 },
    #[error("control or non-ASCII byte {byte:#04x} at payload offset {at}")]
    BadPayloadByte { at: usize, byte: u8 },
    #[error("parity error on byte {byte:#04x} at offset {at}")]
    Parity { at: usize, byte: u8 },
    #[error("the frame is longer than {MAX_PAYLOAD} bytes")]
    TooLong,
}

fn check_payload(payload: &[u8]) -> Result<(), FrameError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(FrameError::TooLong);
    }
    match payload.iter().position(|b| !(0x20..=0x7E).contains(b)) {
        Some(at) => Err(FrameError::BadPayloadByte {
            at,
            byte: payload[at],
        }),
        None => Ok(()),
    }
}

/// `STX payload ETX LRC` (line code not applied). The payload must be printable ASCII.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    check_payload(payload)?;
    let mut out = Vec::with_capacity(payload.len() + 3);
    out.push(STX);
    out.extend_from_slice(payload);
    out.push(ETX);
    out.push(lrc(&out[1..]));
    Ok(out)
}

/// Parses exactly one frame (line code already removed): returns its payload. Anything
/// before STX or after the LRC is an error.
pub fn parse_frame(bytes: &[u8]) -> Result<&[u8], FrameError> {
    let (&first, rest) = bytes.split_first().ok_or(FrameError::Empty)?;
    if first != STX {
        return Err(FrameError::MissingStx);
    }
    let etx = rest
        .iter()
        .position(|&b| b == ETX)
        .ok_or(FrameError::MissingEtx)?;
    let payload = &rest[..etx];
    check_payload(payload)?;
    let received = *rest.get(etx + 1).ok_or(FrameError::MissingLrc)?;
    let trailing = rest.len() - (etx + 2);
    if trailing > 0 {
        return Err(FrameError::TrailingBytes(trailing));
    }
    let expected = lrc(&rest[..=etx]);
    if expected != received {
        return Err(FrameError::BadLrc { expected, received });
    }
    Ok(payload)
}

/// Parses one frame as it came off the wire under `code`.
pub fn parse_wire_frame(code: LineCode, raw: &[u8]) -> Result<Vec<u8>, FrameError> {
    let bytes = code.decode(raw)?;
    parse_frame(&bytes).map(<[u8]>::to_vec)
}

/// Everything that can arrive on a protocol E line: one enum for the family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Enq,
    Ack,
    Nak,
    Eot,
    /// A complete frame with a good LRC: its payload.
    Frame(Vec<u8>),
    /// A complete frame that must be refused (answer it with NAK).
    BadFrame(FrameError),
    /// A byte outside any frame that means nothing here (line noise, garbage).
    Noise(u8),
}

impl fmt::Display for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Received::Enq => f.write_str("ENQ"),
            Received::Ack => f.write_str("ACK"),
            Received::Nak => f.write_str("NAK"),
            Received::Eot => f.write_str("EOT"),
            Received::Frame(p) => write!(f, "frame of {} bytes", p.len()),
            Received::BadFrame(e) => write!(f, "bad frame ({e})"),
            Received::Noise(b) => write!(f, "noise {b:#04x}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DecoderState {
    Idle,
    /// Inside a frame; `spoiled` is the first problem seen (the frame will be refused).
    Payload {
        buf: Vec<u8>,
        spoiled: Option<FrameError>,
    },
    Lrc {
        buf: Vec<u8>,
        spoiled: Option<FrameError>,
    },
}

/// Turns wire bytes into [`Received`] items, one byte at a time.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    code: LineCode,
    state: DecoderState,
}

impl FrameDecoder {
    pub fn new(code: LineCode) -> FrameDecoder {
        FrameDecoder {
            code,
            state: DecoderState::Idle,
        }
    }

    /// True while a frame has started but not ended (a timeout now means a truncated frame).
    pub fn in_frame(&self) -> bool {
        !matches!(self.state, DecoderState::Idle)
    }

    /// Forgets any partial frame.
    pub fn reset(&mut self) {
        self.state = DecoderState::Idle;
    }

    /// Feeds one raw wire byte.
    pub fn push(&mut self, raw: u8) -> Option<Received> {
        let decoded = self.code.decode_byte(raw);
        match std::mem::replace(&mut self.state, DecoderState::Idle) {
            DecoderState::Idle => match decoded {
                Err(_) => Some(Received::Noise(raw)),
                Ok(STX) => {
                    self.state = DecoderState::Payload {
                        buf: Vec::new(),
                        spoiled: None,
                    };
                    None
                }
                Ok(ENQ) => Some(Received::Enq),
                Ok(ACK) => Some(Received::Ack),
                Ok(NAK) => Some(Received::Nak),
                Ok(EOT) => Some(Received::Eot),
                Ok(_) => Some(Received::Noise(raw)),
            },
            DecoderState::Payload { mut buf, spoiled } => {
                let at = buf.len();
                match decoded {
                    Ok(ETX) => {
                        self.state = DecoderState::Lrc { buf, spoiled };
                        None
                    }
                    // The sender started over: drop what we had.
                    Ok(STX) => {
                        self.state = DecoderState::Payload {
                            buf: Vec::new(),
                            spoiled: None,
                        };
                        None
                    }
                    // ENQ, EOT, ACK and NAK can never be payload (the payload is printable
                    // ASCII): one arriving mid-frame means the "frame" was line noise that
                    // looked like STX, or the sender gave up. Drop the partial frame and
                    // report the control, so noise cannot swallow a handshake.
                    Ok(ENQ) => Some(Received::Enq),
                    Ok(EOT) => Some(Received::Eot),
                    Ok(ACK) => Some(Received::Ack),
                    Ok(NAK) => Some(Received::Nak),
                    _ if buf.len() >= MAX_PAYLOAD => Some(Received::BadFrame(FrameError::TooLong)),
                    Err(ParityError(byte)) => {
                        buf.push(byte & 0x7F);
                        self.state = DecoderState::Payload {
                            buf,
                            spoiled: spoiled.or(Some(FrameError::Parity { at: at + 1, byte })),
                        };
                        None
                    }
                    Ok(b) => {
                        let spoiled = match spoiled {
                            None if !(0x20..=0x7E).contains(&b) => {
                                Some(FrameError::BadPayloadByte { at, byte: b })
                            }
                            s => s,
                        };
                        buf.push(b);
                        self.state = DecoderState::Payload { buf, spoiled };
                        None
                    }
                }
            }
            DecoderState::Lrc { mut buf, spoiled } => {
                if let Some(e) = spoiled {
                    return Some(Received::BadFrame(e));
                }
                let received = match decoded {
                    Ok(b) => b,
                    Err(ParityError(byte)) => {
                        return Some(Received::BadFrame(FrameError::Parity {
                            at: buf.len() + 2,
                            byte,
                        }));
                    }
                };
                buf.push(ETX);
                let expected = lrc(&buf);
                buf.pop();
                if expected == received {
                    Some(Received::Frame(buf))
                } else {
                    Some(Received::BadFrame(FrameError::BadLrc {
                        expected,
                        received,
                    }))
                }
            }
        }
    }

    /// Feeds a buffer, collecting everything it completes.
    pub fn push_all(&mut self, raw: &[u8]) -> Vec<Received> {
        raw.iter().filter_map(|&b| self.push(b)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lrc_covers_the_bytes_after_stx_through_etx() {
        let f = encode_frame(b"01").unwrap();
        assert_eq!(f, vec![STX, b'0', b'1', ETX, b'0' ^ b'1' ^ ETX]);
        assert_eq!(parse_frame(&f).unwrap(), b"01");
    }

    #[test]
    fn a_frame_from_pytelium_parses() {
        // TeliumAsk('1', '1', '0', '1', '978', 'A010', 'B010', 12.5).encode() from
        // pyTeliumManager 2.4.2: "01" "00001250" '1' '1' '0' "978" 10 spaces "A010" "B010".
        let payload = b"0100001250110978          A010B010";
        let framed = encode_frame(payload).unwrap();
        assert_eq!(framed.len(), 37);
        let expected_lrc = payload.iter().fold(ETX, |a, b| a ^ b);
        assert_eq!(*framed.last().unwrap(), expected_lrc);
    }

    #[test]
    fn trailing_and_leading_garbage_is_refused() {
        let mut f = encode_frame(b"hello").unwrap();
        f.push(b'x');
        assert_eq!(parse_frame(&f), Err(FrameError::TrailingBytes(1)));
        let mut g = vec![0xFF];
        g.extend(encode_frame(b"hello").unwrap());
        assert_eq!(parse_frame(&g), Err(FrameError::MissingStx));
        assert_eq!(parse_frame(&[]), Err(FrameError::Empty));
        assert_eq!(parse_frame(&[STX, b'a']), Err(FrameError::MissingEtx));
        assert_eq!(parse_frame(&[STX, b'a', ETX]), Err(FrameError::MissingLrc));
    }

    #[test]
    fn a_wrong_lrc_is_refused() {
        let mut f = encode_frame(b"hello").unwrap();
        let last = f.len() - 1;
        f[last] ^= 0x01;
        assert!(matches!(parse_frame(&f), Err(FrameError::BadLrc { .. })));
    }

    #[test]
    fn control_bytes_inside_the_payload_are_refused() {
        assert!(encode_frame(b"a\x05b").is_err());
        let mut f = vec![STX, b'a', ENQ, b'b', ETX];
        f.push(lrc(&f[1..]));
        assert_eq!(
            parse_frame(&f),
            Err(FrameError::BadPayloadByte { at: 1, byte: ENQ })
        );
    }

    #[test]
    fn even_parity_on_bytes() {
        // 'A' = 0x41 has two one bits: parity bit clear. 'C' = 0x43 has three: set.
        assert_eq!(with_even_parity(b'A'), 0x41);
        assert_eq!(with_even_parity(b'C'), 0xC3);
        assert_eq!(with_even_parity(STX), 0x82); // one bit -> parity set
        assert_eq!(with_even_parity(ETX), 0x03); // two bits -> clear
        assert_eq!(with_even_parity(ENQ), 0x05);
        assert_eq!(with_even_parity(ACK), 0x06);
        assert_eq!(with_even_parity(NAK), 0x95);
        assert_eq!(with_even_parity(EOT), 0x84);
        for b in 0u8..0x80 {
            let wire = with_even_parity(b);
            assert_eq!(wire.count_ones() % 2, 0, "byte {b:#04x}");
            assert_eq!(LineCode::SevenEvenParity.decode_byte(wire), Ok(b));
            // One flipped bit is always detected.
            for bit in 0..8 {
                assert!(
                    LineCode::SevenEvenParity
                        .decode_byte(wire ^ (1 << bit))
                        .is_err()
                );
            }
        }
    }

    #[test]
    fn a_7e1_frame_round_trips_and_a_flipped_bit_is_refused() {
        let code = LineCode::SevenEvenParity;
        let wire = code.encode(&encode_frame(b"0100001250110156").unwrap());
        assert!(wire.iter().all(|b| b.count_ones() % 2 == 0));
        assert_eq!(
            parse_wire_frame(code, &wire).unwrap(),
            b"0100001250110156".to_vec()
        );
        let mut dec = FrameDecoder::new(code);
        assert_eq!(
            dec.push_all(&wire),
            vec![Received::Frame(b"0100001250110156".to_vec())]
        );
        let mut bad = wire.clone();
        bad[5] ^= 0x10;
        assert!(matches!(
            parse_wire_frame(code, &bad),
            Err(FrameError::Parity { at: 5, .. })
        ));
        assert!(matches!(
            dec.push_all(&bad).as_slice(),
            [Received::BadFrame(FrameError::Parity { .. })]
        ));
        // The same wire bytes read as 8N1 are not a frame (STX arrives as 0x82).
        assert!(parse_wire_frame(LineCode::Eight, &wire).is_err());
    }

    #[test]
    fn seven_bit_uart_mode_strips_the_top_bit() {
        assert_eq!(LineCode::Seven.encode_byte(0xC1), 0x41);
        assert_eq!(LineCode::Seven.decode_byte(0xC1), Ok(0x41));
    }

    #[test]
    fn the_decoder_reports_controls_noise_and_frames() {
        let mut dec = FrameDecoder::new(LineCode::Eight);
        let mut input = vec![0xFF, ENQ, b'z'];
        input.extend(encode_frame(b"abc").unwrap());
        input.extend([ACK, NAK, EOT]);
        assert_eq!(
            dec.push_all(&input),
            vec![
                Received::Noise(0xFF),
                Received::Enq,
                Received::Noise(b'z'),
                Received::Frame(b"abc".to_vec()),
                Received::Ack,
                Received::Nak,
                Received::Eot,
            ]
        );
        assert!(!dec.in_frame());
        dec.push(STX);
        dec.push(b'a');
        assert!(dec.in_frame(), "a truncated frame is still open");
        dec.reset();
        assert!(!dec.in_frame());
    }

    #[test]
    fn a_control_after_a_stray_stx_is_still_recognised() {
        // Line noise that decodes as STX, then the terminal's ENQ: the ENQ must not be
        // swallowed as spoiled payload (the handshake would be lost).
        for code in [LineCode::Eight, LineCode::SevenEvenParity] {
            for control in [ENQ, EOT, ACK, NAK] {
                let mut dec = FrameDecoder::new(code);
                let mut wire = code.encode(&[STX, b'x']);
                wire.push(code.encode_byte(control));
                let got = dec.push_all(&wire);
                let want = match control {
                    ENQ => Received::Enq,
                    EOT => Received::Eot,
                    ACK => Received::Ack,
                    _ => Received::Nak,
                };
                assert_eq!(got, vec![want], "{code:?} {control:#04x}");
                assert!(!dec.in_frame(), "the partial frame is dropped");
                // And a real frame right after decodes normally.
                let frame = code.encode(&encode_frame(b"ok").unwrap());
                assert_eq!(dec.push_all(&frame), vec![Received::Frame(b"ok".to_vec())]);
            }
        }
        // A control byte can still be an LRC value ("GA": 'G' ^ 'A' ^ ETX == ENQ).
        let mut dec = FrameDecoder::new(LineCode::Eight);
        let f = encode_frame(b"GA").unwrap();
        assert_eq!(*f.last().unwrap(), ENQ);
        assert_eq!(dec.push_all(&f), vec![Received::Frame(b"GA".to_vec())]);
    }

    #[test]
    fn the_decoder_refuses_bad_lrc_and_overlong_frames() {
        let mut dec = FrameDecoder::new(LineCode::Eight);
        let mut f = encode_frame(b"abc").unwrap();
        let last = f.len() - 1;
        f[last] ^= 0x40;
        assert!(matches!(
            dec.push_all(&f).as_slice(),
            [Received::BadFrame(FrameError::BadLrc { .. })]
        ));
        let mut long = vec![STX];
        long.extend(std::iter::repeat_n(b'a', MAX_PAYLOAD + 5));
        let got = dec.push_all(&long);
        assert_eq!(got[0], Received::BadFrame(FrameError::TooLong));
        assert!(got[1..].iter().all(|r| matches!(r, Received::Noise(b'a'))));
    }
}
