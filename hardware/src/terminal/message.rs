//! Protocol E messages: the cash register's request and the terminal's answer, as the
//! payloads of [`frame`](super::frame) frames. One enum for the family ([`Message`]);
//! parsing is strict (exact lengths, digits where digits belong, nothing trailing) and
//! unknown codes become explicit `Other` variants or a clear [`MessageError`].
//!
//! Must never panic on any input, and never put a full card number anywhere but the
//! parsed [`Answer::report`] (callers keep only [`Answer::card_tail`]).
//!
//! # Layout (checked against pyTeliumManager 2.4.2 `TeliumAsk.encode` / `TeliumResponse.decode`)
//!
//! Request, 34 bytes:
//!
//! | offset | len | field |
//! |---|---|---|
//! | 0 | 2 | POS number, `01`–`99` |
//! | 2 | 8 | amount in minor units (fen), zero-padded |
//! | 10 | 1 | answer flag: `1` full answer (with card report), `0` short |
//! | 11 | 1 | payment mode: `1` card, `C` cheque, `U` China UnionPay, … |
//! | 12 | 1 | transaction type: `0` debit (sale), `1` credit (refund), `2` cancellation |
//! | 13 | 3 | ISO 4217 numeric currency (`156` CNY) |
//! | 16 | 10 | private data (spaces) |
//! | 26 | 4 | delay: `A010` answer at the end of the transaction, `A011` at once |
//! | 30 | 4 | authorisation: `B010` terminal decides, `B011` forced online |
//!
//! Answer, 80 bytes (full) or 25 bytes (short):
//!
//! | offset | len | field |
//! |---|---|---|
//! | 0 | 2 | POS number |
//! | 2 | 1 | result: `0` success, `7` refused, `9` not verified, … |
//! | 3 | 8 | amount in minor units |
//! | 11 | 1 | payment mode |
//! | 12 | 55 | report (card data; full answers only) |
//! | 67 / 12 | 3 | currency |
//! | 70 / 15 | 10 | private data (terminal's transaction reference) |

use domain::Fen;
use std::fmt;

pub const REQUEST_LEN: usize = 34;
pub const ANSWER_FULL_LEN: usize = 80;
pub const ANSWER_SHORT_LEN: usize = 25;
pub const REPORT_LEN: usize = 55;
pub const PRIVATE_LEN: usize = 10;
/// The largest amount eight digits can carry: ¥999,999.99.
pub const MAX_AMOUNT: i64 = 99_999_999;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("a protocol E message is 34, 25 or 80 bytes long, not {0}")]
    WrongLength(usize),
    #[error("non-printable byte {byte:#04x} at offset {at}")]
    NotPrintable { at: usize, byte: u8 },
    #[error("field `{0}` must be digits")]
    NotDigits(&'static str),
    #[error("field `{field}` has the unknown value {value:?}")]
    UnknownValue { field: &'static str, value: String },
    #[error("amount {0} fen does not fit the protocol's 8 digits (0 to 99999999)")]
    AmountOutOfRange(i64),
    #[error("POS number {0} must be between 0 and 99")]
    PosOutOfRange(u8),
    #[error("currency code {0} must be between 0 and 999")]
    CurrencyOutOfRange(u16),
    #[error("field `{field}` must be {len} printable ASCII characters")]
    BadText { field: &'static str, len: usize },
}

/// Full answers carry the card report; short ones do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerDetail {
    Short,
    Full,
}

/// How the customer pays, as the terminal understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMode {
    /// `1`: bank card.
    Card,
    /// `C`: cheque.
    Cheque,
    /// `U`: China UnionPay.
    UnionPay,
    /// Any other code (printable ASCII).
    Other(u8),
}

impl PaymentMode {
    pub fn code(self) -> u8 {
        match self {
            PaymentMode::Card => b'1',
            PaymentMode::Cheque => b'C',
            PaymentMode::UnionPay => b'U',
            PaymentMode::Other(b) => b,
        }
    }

    pub fn from_code(b: u8) -> PaymentMode {
        match b {
            b'1' => PaymentMode::Card,
            b'C' => PaymentMode::Cheque,
            b'U' => PaymentMode::UnionPay,
            b => PaymentMode::Other(b),
        }
    }
}

/// The transaction type field. pyTeliumManager 2.4.2 names `1` "credit" and `2`
/// "refund"; the Concert specification calls `1` a credit (money back to the card) and
/// `2` a cancellation of an earlier transaction, which is how servicehall uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionType {
    /// `0`: a sale.
    Debit,
    /// `1`: money back to the card.
    Credit,
    /// `2`: cancels (voids) an earlier transaction.
    Cancel,
    Other(u8),
}

impl TransactionType {
    pub fn code(self) -> u8 {
        match self {
            TransactionType::Debit => b'0',
            TransactionType::Credit => b'1',
            TransactionType::Cancel => b'2',
            TransactionType::Other(b) => b,
        }
    }

    pub fn from_code(b: u8) -> TransactionType {
        match b {
            b'0' => TransactionType::Debit,
            b'1' => TransactionType::Credit,
            b'2' => TransactionType::Cancel,
            b => TransactionType::Other(b),
        }
    }
}

/// When the terminal answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerDelay {
    /// `A010`: after the transaction, with its real result. servicehall always uses this.
    EndOfTransaction,
    /// `A011`: at once, without a valid result.
    Immediately,
}

/// Whether the terminal must go online for an authorisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authorization {
    /// `B010`: the terminal decides.
    TerminalDecides,
    /// `B011`: forced.
    Forced,
}

/// The answer's result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionResult {
    /// `0`: the transaction went through.
    Success,
    /// `7`: refused (declined card, wrong PIN, cancelled by the customer…).
    Refused,
    /// `9`: not verified.
    NotVerified,
    Other(u8),
}

impl TransactionResult {
    pub fn code(self) -> u8 {
        match self {
            TransactionResult::Success => b'0',
            TransactionResult::Refused => b'7',
            TransactionResult::NotVerified => b'9',
            TransactionResult::Other(b) => b,
        }
    }

    pub fn from_code(b: u8) -> TransactionResult {
        match b {
            b'0' => TransactionResult::Success,
            b'7' => TransactionResult::Refused,
            b'9' => TransactionResult::NotVerified,
            b => TransactionResult::Other(b),
        }
    }
}

/// ISO 4217 numeric currency code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(pub u16);

impl Currency {
    /// Chinese yuan renminbi.
    pub const CNY: Currency = Currency(156);
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// The cash register asks the terminal for a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub pos: u8,
    pub amount: Fen,
    pub answer_detail: AnswerDetail,
    pub payment_mode: PaymentMode,
    pub transaction: TransactionType,
    pub currency: Currency,
    /// Ten printable characters; pyTeliumManager sends spaces.
    pub private: String,
    pub delay: AnswerDelay,
    pub authorization: Authorization,
}

/// The terminal's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub pos: u8,
    pub result: TransactionResult,
    pub amount: Fen,
    pub payment_mode: PaymentMode,
    /// The 55-character card report of a full answer (`None` for a short one). It can
    /// hold a card number: never store or log it, use [`Answer::card_tail`].
    pub report: Option<String>,
    pub currency: Currency,
    pub private: String,
}

impl Answer {
    /// The last four digits of the card number that opens the report, if there is one.
    pub fn card_tail(&self) -> Option<String> {
        let report = self.report.as_deref()?;
        let digits: Vec<char> = report.chars().take_while(char::is_ascii_digit).collect();
        if digits.len() < 8 {
            return None;
        }
        Some(digits[digits.len() - 4..].iter().collect())
    }
}

/// Every protocol E message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Answer(Answer),
}

fn digits(field: &'static str, bytes: &[u8]) -> Result<u64, MessageError> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(MessageError::NotDigits(field));
    }
    Ok(bytes
        .iter()
        .fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0')))
}

fn text(bytes: &[u8]) -> String {
    // Only called on bytes already checked to be printable ASCII.
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn push_text(
    out: &mut Vec<u8>,
    field: &'static str,
    s: &str,
    len: usize,
) -> Result<(), MessageError> {
    let b = s.as_bytes();
    if b.len() != len || !b.iter().all(|c| (0x20..=0x7E).contains(c)) {
        return Err(MessageError::BadText { field, len });
    }
    out.extend_from_slice(b);
    Ok(())
}

fn push_printable(out: &mut Vec<u8>, field: &'static str, b: u8) -> Result<(), MessageError> {
    if !(0x20..=0x7E).contains(&b) {
        return Err(MessageError::BadText { field, len: 1 });
    }
    out.push(b);
    Ok(())
}

fn push_pos(out: &mut Vec<u8>, pos: u8) -> Result<(), MessageError> {
    if pos > 99 {
        return Err(MessageError::PosOutOfRange(pos));
    }
    out.extend_from_slice(format!("{pos:02}").as_bytes());
    Ok(())
}

fn push_amount(out: &mut Vec<u8>, amount: Fen) -> Result<(), MessageError> {
    if !(0..=MAX_AMOUNT).contains(&amount.0) {
        return Err(MessageError::AmountOutOfRange(amount.0));
    }
    out.extend_from_slice(format!("{:08}", amount.0).as_bytes());
    Ok(())
}

fn push_currency(out: &mut Vec<u8>, c: Currency) -> Result<(), MessageError> {
    if c.0 > 999 {
        return Err(MessageError::CurrencyOutOfRange(c.0));
    }
    out.extend_from_slice(c.to_string().as_bytes());
    Ok(())
}

fn amount(bytes: &[u8]) -> Result<Fen, MessageError> {
    // Eight digits always fit an i64.
    digits("amount", bytes).map(|v| Fen(i64::try_from(v).unwrap_or(i64::MAX)))
}

fn small(field: &'static str, bytes: &[u8]) -> Result<u16, MessageError> {
    // At most three digits here.
    digits(field, bytes).map(|v| u16::try_from(v).unwrap_or(u16::MAX))
}

impl Message {
    /// The frame payload for this message.
    pub fn encode(&self) -> Result<Vec<u8>, MessageError> {
        let mut out = Vec::with_capacity(ANSWER_FULL_LEN);
        match self {
            Message::Request(r) => {
                push_pos(&mut out, r.pos)?;
                push_amount(&mut out, r.amount)?;
                out.push(match r.answer_detail {
                    AnswerDetail::Full => b'1',
                    AnswerDetail::Short => b'0',
                });
                push_printable(&mut out, "payment mode", r.payment_mode.code())?;
                push_printable(&mut out, "transaction type", r.transaction.code())?;
                push_currency(&mut out, r.currency)?;
                push_text(&mut out, "private", &r.private, PRIVATE_LEN)?;
                out.extend_from_slice(match r.delay {
                    AnswerDelay::EndOfTransaction => b"A010",
                    AnswerDelay::Immediately => b"A011",
                });
                out.extend_from_slice(match r.authorization {
                    Authorization::TerminalDecides => b"B010",
                    Authorization::Forced => b"B011",
                });
            }
            Message::Answer(a) => {
                push_pos(&mut out, a.pos)?;
                push_printable(&mut out, "result", a.result.code())?;
                push_amount(&mut out, a.amount)?;
                push_printable(&mut out, "payment mode", a.payment_mode.code())?;
                if let Some(report) = &a.report {
                    push_text(&mut out, "report", report, REPORT_LEN)?;
                }
                push_currency(&mut out, a.currency)?;
                push_text(&mut out, "private", &a.private, PRIVATE_LEN)?;
            }
        }
        Ok(out)
    }

    /// Parses a frame payload. The length decides the kind: 34 bytes is a request, 80 or
    /// 25 an answer; anything else is an error.
    pub fn parse(p: &[u8]) -> Result<Message, MessageError> {
        if let Some(at) = p.iter().position(|b| !(0x20..=0x7E).contains(b)) {
            return Err(MessageError::NotPrintable { at, byte: p[at] });
        }
        let pos = |p: &[u8]| small("pos number", &p[0..2]).map(|v| v as u8);
        match p.len() {
            REQUEST_LEN => Ok(Message::Request(Request {
                pos: pos(p)?,
                amount: amount(&p[2..10])?,
                answer_detail: match p[10] {
                    b'1' => AnswerDetail::Full,
                    b'0' => AnswerDetail::Short,
                    b => {
                        return Err(MessageError::UnknownValue {
                            field: "answer flag",
                            value: text(&[b]),
                        });
                    }
                },
                payment_mode: PaymentMode::from_code(p[11]),
                transaction: TransactionType::from_code(p[12]),
                currency: Currency(small("currency", &p[13..16])?),
                private: text(&p[16..26]),
                delay: match &p[26..30] {
                    b"A010" => AnswerDelay::EndOfTransaction,
                    b"A011" => AnswerDelay::Immediately,
                    v => {
                        return Err(MessageError::UnknownValue {
                            field: "delay",
                            value: text(v),
                        });
                    }
                },
                authorization: match &p[30..34] {
                    b"B010" => Authorization::TerminalDecides,
                    b"B011" => Authorization::Forced,
                    v => {
                        return Err(MessageError::UnknownValue {
                            field: "authorization",
                            value: text(v),
                        });
                    }
                },
            })),
            ANSWER_FULL_LEN | ANSWER_SHORT_LEN => {
                let (report, rest) = if p.len() == ANSWER_FULL_LEN {
                    (Some(text(&p[12..67])), &p[67..])
                } else {
                    (None, &p[12..])
                };
                Ok(Message::Answer(Answer {
                    pos: pos(p)?,
                    result: TransactionResult::from_code(p[2]),
                    amount: amount(&p[3..11])?,
                    payment_mode: PaymentMode::from_code(p[11]),
                    report,
                    currency: Currency(small("currency", &rest[0..3])?),
                    private: text(&rest[3..13]),
                }))
            }
            n => Err(MessageError::WrongLength(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sale(amount: i64) -> Request {
        Request {
            pos: 1,
            amount: Fen(amount),
            answer_detail: AnswerDetail::Full,
            payment_mode: PaymentMode::Card,
            transaction: TransactionType::Debit,
            currency: Currency::CNY,
            private: " ".repeat(10),
            delay: AnswerDelay::EndOfTransaction,
            authorization: Authorization::TerminalDecides,
        }
    }

    #[test]
    fn a_request_has_pytelium_layout() {
        let payload = Message::Request(sale(1250)).encode().unwrap();
        assert_eq!(payload, b"0100001250110156          A010B010".to_vec());
        assert_eq!(payload.len(), REQUEST_LEN);
        assert_eq!(
            Message::parse(&payload).unwrap(),
            Message::Request(sale(1250))
        );
    }

    #[test]
    fn full_and_short_answers_round_trip() {
        let report = format!("{:<55}", "4111111111111111  0000");
        let full = Answer {
            pos: 1,
            result: TransactionResult::Success,
            amount: Fen(9110),
            payment_mode: PaymentMode::Card,
            report: Some(report),
            currency: Currency::CNY,
            private: "0000000000".into(),
        };
        let bytes = Message::Answer(full.clone()).encode().unwrap();
        assert_eq!(bytes.len(), ANSWER_FULL_LEN);
        assert_eq!(&bytes[..12], b"010000091101");
        assert_eq!(
            Message::parse(&bytes).unwrap(),
            Message::Answer(full.clone())
        );
        assert_eq!(full.card_tail().as_deref(), Some("1111"));

        let short = Answer {
            report: None,
            result: TransactionResult::Refused,
            ..full
        };
        let bytes = Message::Answer(short.clone()).encode().unwrap();
        assert_eq!(bytes, b"0170000911011560000000000".to_vec());
        assert_eq!(Message::parse(&bytes).unwrap(), Message::Answer(short));
    }

    #[test]
    fn unknown_codes_are_explicit_and_bad_fields_are_errors() {
        let mut p = Message::Request(sale(100)).encode().unwrap();
        p[12] = b'4';
        match Message::parse(&p).unwrap() {
            Message::Request(r) => assert_eq!(r.transaction, TransactionType::Other(b'4')),
            m => panic!("{m:?}"),
        }
        p[2] = b'x';
        assert_eq!(Message::parse(&p), Err(MessageError::NotDigits("amount")));
        let mut p = Message::Request(sale(100)).encode().unwrap();
        p[26..30].copy_from_slice(b"A012");
        assert!(matches!(
            Message::parse(&p),
            Err(MessageError::UnknownValue { field: "delay", .. })
        ));
        assert_eq!(Message::parse(b"0100"), Err(MessageError::WrongLength(4)));
        let mut p = Message::Request(sale(100)).encode().unwrap();
        p.push(b' ');
        assert_eq!(Message::parse(&p), Err(MessageError::WrongLength(35)));
        assert_eq!(
            Message::Request(sale(100_000_000)).encode(),
            Err(MessageError::AmountOutOfRange(100_000_000))
        );
    }

    #[test]
    fn card_tail_needs_a_card_number() {
        let a = Answer {
            pos: 1,
            result: TransactionResult::Success,
            amount: Fen(1),
            payment_mode: PaymentMode::Card,
            report: Some(" ".repeat(55)),
            currency: Currency::CNY,
            private: "0000000000".into(),
        };
        assert_eq!(a.card_tail(), None);
    }
}
