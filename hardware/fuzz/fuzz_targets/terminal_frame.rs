//! Fuzzes the protocol E link and message parsers: no input may panic, and anything that
//! parses must encode back to exactly the same bytes.

#![no_main]

use hardware::terminal::frame::{
    FrameDecoder, LineCode, Received, encode_frame, parse_frame, parse_wire_frame,
};
use hardware::terminal::message::Message;
use libfuzzer_sys::fuzz_target;

fn check_message(payload: &[u8]) {
    if let Ok(m) = Message::parse(payload) {
        let again = m.encode().expect("a parsed message encodes");
        assert_eq!(again, payload, "message round trip");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = parse_frame(data) {
        let framed = encode_frame(payload).expect("a parsed payload frames");
        assert_eq!(framed, data, "frame round trip");
        check_message(payload);
    }
    for code in [LineCode::Eight, LineCode::Seven, LineCode::SevenEvenParity] {
        if let Ok(payload) = parse_wire_frame(code, data) {
            check_message(&payload);
        }
        let mut decoder = FrameDecoder::new(code);
        for item in decoder.push_all(data) {
            if let Received::Frame(payload) = item {
                assert!(parse_frame(&encode_frame(&payload).expect("decoded payload frames")).is_ok());
                check_message(&payload);
            }
        }
    }
    check_message(data);
});
