//! Device enrolment and roles (GB/T 5.4, 5.6.2): what a device sends to join the hub's
//! local certificate authority, what it gets back, and the roles its certificate names.
//!
//! A device is enrolled with a short-lived one-time pairing code and the fingerprint of
//! the hub's CA certificate. It makes its own key, sends a certificate signing request,
//! and from then on every call is mutual TLS. Holds no key material of the hub's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a device sends its pairing code and signing request (no client certificate yet).
pub const ENROL_PATH: &str = "/enrol";
/// Where a device may fetch the hub's CA certificate before it trusts it (it must check
/// the fingerprint it was given against this certificate before sending anything else).
pub const CA_PATH: &str = "/enrol/ca";

/// What a device is allowed to do at the hub. The role is named in the device's
/// certificate (`OU`) and kept by the hub with the certificate's fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceRole {
    /// Customer kiosk: issues tickets, takes requests, checks in appointments, rates.
    Kiosk,
    /// Staff counter station: every staff action, each with a logged-in staff member.
    Counter,
    /// Waiting-area display board: reads the public queue and event stream only.
    Board,
    /// The text-message gateway beside a GSM modem: leases and reports messages only.
    SmsGateway,
}

impl DeviceRole {
    pub const ALL: [DeviceRole; 4] = [
        DeviceRole::Kiosk,
        DeviceRole::Counter,
        DeviceRole::Board,
        DeviceRole::SmsGateway,
    ];

    /// The role's name on the wire, in certificates and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceRole::Kiosk => "kiosk",
            DeviceRole::Counter => "counter",
            DeviceRole::Board => "board",
            DeviceRole::SmsGateway => "sms-gateway",
        }
    }
}

impl std::fmt::Display for DeviceRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeviceRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DeviceRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("`{s}` is not a device role (kiosk, counter, board, sms-gateway)")
            })
    }
}

/// Whether `id` is an acceptable device id: 1–40 ASCII letters, digits, `-` or `_`
/// (it becomes a certificate's common name and appears in the audit log).
pub fn valid_device_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An administrator asks for a pairing code for one device (`POST /devices/pairings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPairing {
    pub role: DeviceRole,
    pub device_id: String,
}

/// A one-time pairing code, valid until `expires_at`, for one device id and role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pairing {
    /// Shown once; the hub keeps only its hash. Eight digits, written `1234-5678`.
    pub code: String,
    pub role: DeviceRole,
    pub device_id: String,
    pub expires_at: DateTime<Utc>,
    /// SHA-256 of the hub CA certificate's DER, as [`format_fingerprint`] writes it.
    pub ca_fingerprint: String,
}

/// A device's enrolment (`POST /enrol`, over TLS, without a client certificate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub code: String,
    pub device_id: String,
    pub role: DeviceRole,
    /// PKCS#10 certificate signing request in PEM, for a key the device made itself.
    pub csr_pem: String,
}

/// The hub's answer to an enrolment: the device's certificate and the CA to trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolled {
    pub device_id: String,
    pub role: DeviceRole,
    pub certificate_pem: String,
    pub ca_pem: String,
    pub not_after: DateTime<Utc>,
}

/// Where an enrolled device renews its certificate before it expires, over its current
/// mutual TLS (`POST`, body [`RenewRequest`], answer [`Enrolled`]).
pub const RENEW_PATH: &str = "/devices/renew";

/// A new signing request from an enrolled device, for a key it made anew. The hub keeps
/// the device's id and role from the certificate it presents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewRequest {
    pub csr_pem: String,
}

/// An enrolled device as an administrator sees it (`GET /devices`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    pub device_id: String,
    pub role: DeviceRole,
    /// SHA-256 of its current certificate.
    pub fingerprint: String,
    pub enrolled_at: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// SHA-256 digest bytes written as 16 colon-separated groups of four upper-case hex
/// digits (`AB12:CD34:…`), short enough to read aloud and compare on a screen.
pub fn format_fingerprint(digest: &[u8; 32]) -> String {
    let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
    hex.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect::<Vec<_>>()
        .join(":")
}

/// Reads a fingerprint as a person may type it: any case, with or without `:`, `-` or
/// spaces between the digits. `None` unless exactly 64 hex digits remain.
pub fn parse_fingerprint(text: &str) -> Option<[u8; 32]> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | ' '))
        .collect();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(digits.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_round_trip_as_typed() {
        let d: [u8; 32] = std::array::from_fn(|i| (i * 7 + 3) as u8);
        let shown = format_fingerprint(&d);
        assert_eq!(shown.split(':').count(), 16);
        assert_eq!(parse_fingerprint(&shown), Some(d));
        assert_eq!(
            parse_fingerprint(&shown.to_lowercase().replace(':', " ")),
            Some(d)
        );
        assert_eq!(parse_fingerprint(&shown[..shown.len() - 1]), None);
        let mut bad = shown.clone();
        bad.replace_range(0..1, "G");
        assert_eq!(parse_fingerprint(&bad), None);
    }

    #[test]
    fn roles_and_ids() {
        for r in DeviceRole::ALL {
            assert_eq!(r.as_str().parse::<DeviceRole>(), Ok(r));
        }
        assert!("printer".parse::<DeviceRole>().is_err());
        assert!(valid_device_id("counter-1"));
        assert!(!valid_device_id(""));
        assert!(!valid_device_id("kiosk 1"));
        assert!(!valid_device_id(&"k".repeat(41)));
    }
}
