//! The AT command lines a GSM modem answers with (3GPP TS 27.007 and 27.005): final result
//! codes, `+CMS ERROR`/`+CME ERROR` codes, and the information lines of `+CREG`, `+CSQ`,
//! `+COPS` and `+CMGS`.
//!
//! Pure parsing of one line at a time: no IO. Must never panic on what a modem sends, and
//! never take a line it does not recognise for a result (unknown lines are `None`).

use super::{Registration, SignalQuality};
use std::fmt;

/// A numeric error a modem reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `+CMS ERROR: <n>` (3GPP TS 27.005 3.2.5): message service errors. 0–127 are the
    /// network's RP causes (TS 24.011 8.2.5.4), 128–255 TP failure causes (TS 23.040
    /// 9.2.3.22), 300–511 errors of the modem itself.
    Cms(u16),
    /// `+CME ERROR: <n>` (3GPP TS 27.007 9.2): mobile equipment errors.
    Cme(u16),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Cms(n) => write!(f, "+CMS ERROR: {n}"),
            ErrorCode::Cme(n) => write!(f, "+CME ERROR: {n}"),
        }
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Final {
    Ok,
    /// A plain `ERROR` (or another V.25ter failure code) with no number.
    Error,
    Code(ErrorCode),
}

/// The final result code on `line`, if it is one.
pub(crate) fn final_result(line: &str) -> Option<Final> {
    let line = line.trim();
    match line {
        "OK" => return Some(Final::Ok),
        "ERROR"
        | "NO CARRIER"
        | "BUSY"
        | "NO ANSWER"
        | "NO DIALTONE"
        | "COMMAND NOT SUPPORT"
        | "TOO MANY PARAMETERS" => return Some(Final::Error),
        _ => {}
    }
    if let Some(rest) = line.strip_prefix("+CMS ERROR:") {
        return Some(Final::Code(ErrorCode::Cms(error_number(
            rest, CMS_TEXT, 500,
        ))));
    }
    if let Some(rest) = line.strip_prefix("+CME ERROR:") {
        return Some(Final::Code(ErrorCode::Cme(error_number(
            rest, CME_TEXT, 100,
        ))));
    }
    None
}

/// Verbose `+CMS ERROR` texts (what a modem sends with `AT+CMEE=2` or on its own).
const CMS_TEXT: &[(&str, u16)] = &[
    ("operator determined barring", 8),
    ("call barred", 10),
    ("short message transfer rejected", 21),
    ("invalid pdu mode parameter", 304),
    ("sim not inserted", 310),
    ("sim pin required", 311),
    ("sim failure", 313),
    ("sim busy", 314),
    ("memory full", 322),
    ("no network service", 331),
    ("network timeout", 332),
    ("unknown error", 500),
];

/// Verbose `+CME ERROR` texts (3GPP TS 27.007 9.2.1).
const CME_TEXT: &[(&str, u16)] = &[
    ("phone failure", 0),
    ("operation not allowed", 3),
    ("operation not supported", 4),
    ("sim not inserted", 10),
    ("sim pin required", 11),
    ("sim puk required", 12),
    ("sim failure", 13),
    ("sim busy", 14),
    ("sim wrong", 15),
    ("memory full", 20),
    ("no network service", 30),
    ("network timeout", 31),
    ("network not allowed - emergency calls only", 32),
    ("unknown", 100),
];

/// The number after `+CMS ERROR:`/`+CME ERROR:`; a verbose text is looked up, and an
/// unknown one becomes `unknown` (the standard's own "unknown error" code).
fn error_number(rest: &str, texts: &[(&str, u16)], unknown: u16) -> u16 {
    let rest = rest.trim();
    if let Ok(n) = rest.parse() {
        return n;
    }
    let lower = rest.trim_matches('"').to_ascii_lowercase();
    texts
        .iter()
        .find(|(t, _)| *t == lower)
        .map_or(unknown, |&(_, n)| n)
}

/// The comma-separated fields after `prefix`, or `None` when the line is something else.
fn fields<'a>(line: &'a str, prefix: &str) -> Option<Vec<&'a str>> {
    let rest = line.trim().strip_prefix(prefix)?;
    Some(rest.split(',').map(str::trim).collect())
}

/// `+CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]]`, the answer to `AT+CREG?` (TS 27.007 7.2).
pub(crate) fn creg(line: &str) -> Option<Registration> {
    let f = fields(line, "+CREG:")?;
    // The read answer starts with <n>; the unsolicited code (+CREG: <stat>) has one field.
    let stat = if f.len() >= 2 { f[1] } else { *f.first()? };
    stat.parse().ok().map(Registration::from_stat)
}

/// `+CSQ: <rssi>,<ber>` (TS 27.007 8.5).
pub(crate) fn csq(line: &str) -> Option<SignalQuality> {
    let f = fields(line, "+CSQ:")?;
    let rssi: u8 = f.first()?.parse().ok()?;
    let ber: u8 = f.get(1)?.parse().ok()?;
    Some(SignalQuality::from_csq(rssi, ber))
}

/// The operator's name in `+COPS: <mode>[,<format>,<oper>[,<AcT>]]` (TS 27.007 7.3), when
/// the modem is on a network.
pub(crate) fn cops(line: &str) -> Option<String> {
    let f = fields(line, "+COPS:")?;
    let name = f.get(2)?.trim_matches('"').trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// The message reference in `+CMGS: <mr>[,<scts>|<ackpdu>]` (TS 27.005 3.5.1).
pub(crate) fn cmgs(line: &str) -> Option<u8> {
    fields(line, "+CMGS:")?.first()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_result_codes_numeric_and_verbose() {
        assert_eq!(final_result("OK"), Some(Final::Ok));
        assert_eq!(final_result(" OK "), Some(Final::Ok));
        assert_eq!(final_result("ERROR"), Some(Final::Error));
        assert_eq!(
            final_result("+CMS ERROR: 331"),
            Some(Final::Code(ErrorCode::Cms(331)))
        );
        assert_eq!(
            final_result("+CMS ERROR:332"),
            Some(Final::Code(ErrorCode::Cms(332)))
        );
        assert_eq!(
            final_result("+CME ERROR: 10"),
            Some(Final::Code(ErrorCode::Cme(10)))
        );
        assert_eq!(
            final_result("+CME ERROR: SIM PIN required"),
            Some(Final::Code(ErrorCode::Cme(11)))
        );
        assert_eq!(
            final_result("+CMS ERROR: no network service"),
            Some(Final::Code(ErrorCode::Cms(331)))
        );
        // An unknown text is the standard's "unknown error", not a guess.
        assert_eq!(
            final_result("+CMS ERROR: the moon is full"),
            Some(Final::Code(ErrorCode::Cms(500)))
        );
        assert_eq!(
            final_result("+CME ERROR: ???"),
            Some(Final::Code(ErrorCode::Cme(100)))
        );
        for not_final in ["", "OKAY", "+CMGS: 5", "AT+CSQ", "RING", "> "] {
            assert_eq!(final_result(not_final), None, "{not_final:?}");
        }
        assert_eq!(ErrorCode::Cms(21).to_string(), "+CMS ERROR: 21");
    }

    #[test]
    fn registration_signal_operator_and_reference() {
        assert_eq!(creg("+CREG: 0,1"), Some(Registration::Home));
        assert_eq!(
            creg("+CREG: 2,5,\"1A2B\",\"00C3\",7"),
            Some(Registration::Roaming)
        );
        assert_eq!(creg("+CREG: 0,0"), Some(Registration::NotRegistered));
        assert_eq!(creg("+CREG: 3"), Some(Registration::Denied));
        assert_eq!(creg("+CREG: x"), None);
        assert_eq!(creg("+CSQ: 1,2"), None);

        let q = csq("+CSQ: 21,99").unwrap();
        assert_eq!((q.rssi, q.ber), (Some(21), None));
        assert_eq!(q.dbm(), Some(-71));
        assert_eq!(csq("+CSQ: 99,99").unwrap().rssi, None);
        assert_eq!(csq("+CSQ: 21"), None);

        assert_eq!(
            cops("+COPS: 0,0,\"CHINA MOBILE\",7").as_deref(),
            Some("CHINA MOBILE")
        );
        assert_eq!(cops("+COPS: 0,2,\"46000\"").as_deref(), Some("46000"));
        assert_eq!(cops("+COPS: 0"), None);

        assert_eq!(cmgs("+CMGS: 17"), Some(17));
        assert_eq!(cmgs("+CMGS: 255,\"24/01/01,12:00:00+32\""), Some(255));
        assert_eq!(cmgs("+CMGS: 256"), None);
        assert_eq!(cmgs("+CMGS:"), None);
    }
}
