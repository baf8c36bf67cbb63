//! A device's identity at the hub (GB/T 5.4, 5.6.2): its own key, the certificate the
//! hub's CA signed for it and that CA, kept in one directory; the TLS client
//! configuration made from them; and the enrolment that obtains them with a one-time
//! pairing code and the CA fingerprint shown on the hub's screen.
//!
//! The device's key is made here and never leaves the device. Nothing is sent to a hub
//! whose CA certificate does not match the fingerprint a person read from the hub.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::API_PREFIX;
use crate::api::Problem;
use crate::devices::{
    CA_PATH, DeviceRole, ENROL_PATH, EnrolRequest, Enrolled, format_fingerprint, parse_fingerprint,
    valid_device_id,
};

/// The hub's CA certificate (PEM), in the identity directory.
pub const CA_FILE: &str = "ca.pem";
/// The device's certificate (PEM), in the identity directory; its presence means enrolled.
pub const CERT_FILE: &str = "device.pem";
/// The device's private key (PKCS#8 PEM), in the identity directory; mode 0600.
pub const KEY_FILE: &str = "device.key";

/// Why a device identity cannot be read, written or used, naming the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("this device is not enrolled: no {CERT_FILE} in {} — run `servicehall enrol`", .dir.display())]
    NotEnrolled { dir: PathBuf },
    #[error("this device's enrolment in {} is incomplete: no {file} — run `servicehall enrol` again", .dir.display())]
    Incomplete { dir: PathBuf, file: &'static str },
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{} can be read by other users (mode {mode:04o}); the device key must be private: chmod 600 it",
        .path.display()
    )]
    KeyExposed { path: PathBuf, mode: u32 },
    /// `what` names the file (or the hub's answer) and `why` says what is wrong with it.
    #[error("{what} {why}")]
    Invalid { what: String, why: String },
    #[error("cannot set up TLS with this device's certificate: {0}")]
    Tls(#[from] rustls::Error),
}

/// An enrolled device: who it is at the hub, the hub's CA, its certificate and its key.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// The certificate's common name.
    pub device_id: String,
    /// The certificate's organisational unit.
    pub role: DeviceRole,
    /// The hub's CA certificate: the only root this device trusts.
    pub ca_pem: String,
    /// The device's certificate, signed by that CA.
    pub cert_pem: String,
    /// The device's private key (PKCS#8).
    pub key_pem: String,
}

impl fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("device_id", &self.device_id)
            .field("role", &self.role)
            .field("ca", &self.fingerprint_of_ca())
            .finish_non_exhaustive()
    }
}

/// What to call the three parts in an error message.
struct Labels {
    ca: String,
    cert: String,
    key: String,
}

impl DeviceIdentity {
    /// Reads the identity in `dir` and checks it: the certificate is signed by the CA,
    /// belongs to the key, and names a device id and a role. The key must not be
    /// readable by anyone but its owner.
    pub fn load(dir: &Path) -> Result<DeviceIdentity, IdentityError> {
        let read = |file: &'static str| {
            let path = dir.join(file);
            std::fs::read_to_string(&path).map_err(|source| {
                if source.kind() != std::io::ErrorKind::NotFound {
                    IdentityError::Read { path, source }
                } else if file == CERT_FILE {
                    IdentityError::NotEnrolled {
                        dir: dir.to_owned(),
                    }
                } else {
                    IdentityError::Incomplete {
                        dir: dir.to_owned(),
                        file,
                    }
                }
            })
        };
        let cert_pem = read(CERT_FILE)?;
        let ca_pem = read(CA_FILE)?;
        let key_pem = read(KEY_FILE)?;
        check_private(&dir.join(KEY_FILE))?;
        let at = |file: &str| dir.join(file).display().to_string();
        DeviceIdentity::checked(
            ca_pem,
            cert_pem,
            key_pem,
            &Labels {
                ca: at(CA_FILE),
                cert: at(CERT_FILE),
                key: at(KEY_FILE),
            },
        )
    }

    /// Writes the identity into `dir` (made, mode 0700, if missing): each file through a
    /// temporary file and a rename, so a crash leaves the old file or the new one; the
    /// key with mode 0600. The certificate goes last: its presence means enrolled.
    pub fn save(&self, dir: &Path) -> Result<(), IdentityError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|source| IdentityError::Write {
            path: dir.to_owned(),
            source,
        })?;
        write_atomically(dir, KEY_FILE, self.key_pem.as_bytes(), 0o600)?;
        write_atomically(dir, CA_FILE, self.ca_pem.as_bytes(), 0o644)?;
        write_atomically(dir, CERT_FILE, self.cert_pem.as_bytes(), 0o644)?;
        // The renames themselves reach the disk.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// TLS to the hub as this device: only the hub's CA is trusted (the hub's name is
    /// checked against its certificate as usual), this device's certificate is presented,
    /// HTTP/1.1 is offered (for both the API and the event stream's upgrade). Ring only.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, IdentityError> {
        let labels = Labels {
            ca: "the hub's CA certificate".into(),
            cert: "this device's certificate".into(),
            key: "this device's key".into(),
        };
        let ca = one_certificate(&self.ca_pem, &labels.ca)?;
        let cert = one_certificate(&self.cert_pem, &labels.cert)?;
        let key = private_key(&self.key_pem, &labels.key)?;
        Ok(Arc::new(http11(
            trusting_only(ca)?.with_client_auth_cert(vec![cert], key)?,
        )))
    }

    /// TLS to the hub trusting only the CA in `ca_pem`, presenting no certificate: what
    /// a box not (or no longer) enrolled may use for the hub's health check and enrolment.
    pub fn anonymous_config(ca_pem: &str) -> Result<Arc<rustls::ClientConfig>, IdentityError> {
        let ca = one_certificate(ca_pem, "the hub's CA certificate")?;
        Ok(Arc::new(http11(trusting_only(ca)?.with_no_client_auth())))
    }

    /// When this device's certificate stops being valid (`None` if it cannot be read).
    pub fn not_after(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let der = CertificateDer::from_pem_slice(self.cert_pem.as_bytes()).ok()?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der).ok()?;
        chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
    }

    /// The fingerprint of this device's own certificate, as the hub lists it
    /// (`DeviceView::fingerprint`); empty if `cert_pem` holds no certificate.
    pub fn certificate_fingerprint(&self) -> String {
        pem_fingerprint(&self.cert_pem)
    }

    /// The fingerprint of the hub's CA certificate as the hub's screen shows it
    /// ([`format_fingerprint`]); empty if `ca_pem` holds no certificate.
    pub fn fingerprint_of_ca(&self) -> String {
        pem_fingerprint(&self.ca_pem)
    }

    /// An identity from its three PEM texts, after the checks [`DeviceIdentity::load`]
    /// makes; the device id and role are read from the certificate.
    fn checked(
        ca_pem: String,
        cert_pem: String,
        key_pem: String,
        labels: &Labels,
    ) -> Result<DeviceIdentity, IdentityError> {
        let ca_der = one_certificate(&ca_pem, &labels.ca)?;
        let cert_der = one_certificate(&cert_pem, &labels.cert)?;
        private_key(&key_pem, &labels.key)?;
        let invalid = |what: &str, why: String| IdentityError::Invalid {
            what: what.to_owned(),
            why,
        };
        let (_, ca) = x509_parser::parse_x509_certificate(&ca_der)
            .map_err(|e| invalid(&labels.ca, format!("is not a readable certificate ({e})")))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| invalid(&labels.cert, format!("is not a readable certificate ({e})")))?;
        if !ca.is_ca() {
            return Err(invalid(&labels.ca, "is not a CA certificate".into()));
        }
        if cert.issuer() != ca.subject() || cert.verify_signature(Some(ca.public_key())).is_err() {
            return Err(invalid(
                &labels.cert,
                format!("is not signed by the hub's CA in {}", labels.ca),
            ));
        }
        let key = rcgen::KeyPair::from_pem(&key_pem)
            .map_err(|e| invalid(&labels.key, format!("is not a usable key ({e})")))?;
        if key.public_key_der() != cert.public_key().raw {
            return Err(invalid(
                &labels.cert,
                format!("is not for the key in {}", labels.key),
            ));
        }
        let subject = cert.subject();
        let device_id = subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .filter(|id| valid_device_id(id))
            .ok_or_else(|| invalid(&labels.cert, "names no valid device id (CN)".into()))?
            .to_owned();
        let role = subject
            .iter_organizational_unit()
            .next()
            .and_then(|ou| ou.as_str().ok())
            .and_then(|ou| ou.parse::<DeviceRole>().ok())
            .ok_or_else(|| invalid(&labels.cert, "names no device role (OU)".into()))?;
        Ok(DeviceIdentity {
            device_id,
            role,
            ca_pem,
            cert_pem,
            key_pem,
        })
    }
}

fn ring() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

/// The first certificate in `pem`.
fn one_certificate(pem: &str, what: &str) -> Result<CertificateDer<'static>, IdentityError> {
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| IdentityError::Invalid {
        what: what.to_owned(),
        why: "holds no PEM certificate".into(),
    })
}

fn private_key(pem: &str, what: &str) -> Result<PrivateKeyDer<'static>, IdentityError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| IdentityError::Invalid {
        what: what.to_owned(),
        why: "holds no PEM private key".into(),
    })
}

/// Refuses a key file that its owner's group or others may read or write.
fn check_private(path: &Path) -> Result<(), IdentityError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| IdentityError::Read {
                path: path.to_owned(),
                source,
            })?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::KeyExposed {
                path: path.to_owned(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn write_atomically(dir: &Path, file: &str, bytes: &[u8], mode: u32) -> Result<(), IdentityError> {
    let path = dir.join(file);
    write_private(&path, bytes, mode).map_err(|source| IdentityError::Write { path, source })
}

/// Writes `bytes` to `path` through a temporary file beside it, with `mode` (Unix
/// permissions) from the first byte, synced, then renamed over `path` and the directory
/// synced: a crash leaves the old file or the new one, never half of one, and a key is
/// never readable by others even for a moment. Shared by every file of key material
/// (device identities, the hub's CA, headquarters' centre CA).
pub fn write_private(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{name}.new"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    let mut f = options.open(&temp)?;
    // A temporary file left by an earlier crash keeps its old mode: set it again.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&temp, path)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

// ------------------------------------------------------------------------- enrolment

/// Why an enrolment did not happen, in the words of the person enrolling the device.
#[derive(Debug, thiserror::Error)]
pub enum EnrolError {
    #[error(
        "`{0}` is not a fingerprint: it is 64 hexadecimal digits, shown on the hub's screen as AB12:CD34:…"
    )]
    BadFingerprint(String),
    #[error("`{0}` is not a device id: 1 to 40 letters, digits, `-` or `_`")]
    BadDeviceId(String),
    #[error("enrolment needs the hub's https:// address, not `{0}`")]
    NotHttps(String),
    #[error("cannot reach the hub at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the hub did not send its CA certificate at {url}: {reason}")]
    NoCaCertificate { url: String, reason: String },
    /// GB/T 5.6.2: the CA is not the one whose fingerprint the hub's screen shows.
    #[error(
        "the hub's certificate fingerprint does not match: check the fingerprint on the hub's screen"
    )]
    FingerprintMismatch,
    #[error(
        "the hub refused the pairing code: it is mistyped, used, expired or made for another \
         device id or role; ask the administrator for a new code"
    )]
    PairingRefused {
        /// The hub's own sentence (for the log).
        detail: String,
    },
    #[error("too many wrong pairing codes were tried: wait a few minutes, then try again")]
    TooManyAttempts,
    #[error("the hub cannot accept this enrolment: {detail}")]
    Rejected { detail: String },
    #[error("the hub refused the enrolment ({status}, {code}): {detail}")]
    Refused {
        status: u16,
        code: String,
        detail: String,
    },
    #[error("the hub answered {status} with something that is not an enrolment: {body}")]
    BadAnswer { status: u16, body: String },
    #[error("the hub's answer is for {got}, not for {asked}")]
    WrongDevice { asked: String, got: String },
    #[error("the certificate the hub sent cannot be used: {0}")]
    BadCertificate(IdentityError),
    #[error("cannot make this device's key: {0}")]
    Key(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// The most a hub's answer to an enrolment call may weigh (an unauthenticated server
/// must not fill the device's memory).
const MAX_ANSWER: usize = 256 * 1024;

/// Enrols this device at the hub at `hub_base_url` (`https://…`) with the one-time
/// pairing `code` and the CA fingerprint shown on the hub's screen (GB/T 5.6.2).
///
/// The device makes its own ECDSA P-256 key and a signing request (CN = `device_id`,
/// OU = `role`). It fetches the hub's CA certificate over TLS without trusting anyone
/// yet, and unless that certificate's SHA-256 equals `fingerprint_text` it stops there,
/// having sent nothing else. Otherwise it sends the request over TLS that trusts only
/// that CA, and checks the certificate it gets back is for its own key and signed by that
/// CA. Nothing is saved: call [`DeviceIdentity::save`].
pub async fn enrol(
    hub_base_url: &str,
    code: &str,
    fingerprint_text: &str,
    device_id: &str,
    role: DeviceRole,
) -> Result<DeviceIdentity, EnrolError> {
    let pinned = parse_fingerprint(fingerprint_text)
        .ok_or_else(|| EnrolError::BadFingerprint(fingerprint_text.to_owned()))?;
    if !valid_device_id(device_id) {
        return Err(EnrolError::BadDeviceId(device_id.to_owned()));
    }
    let base = hub_base_url.trim_end_matches('/');
    if !crate::client::is_https(base) {
        return Err(EnrolError::NotHttps(hub_base_url.to_owned()));
    }

    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| EnrolError::Key(e.to_string()))?;
    let csr_pem = signing_request(&key, device_id, role)?;

    // 1. The CA, from a server nobody vouches for yet: its fingerprint is the proof.
    let ca_url = format!("{base}{API_PREFIX}{CA_PATH}");
    let (status, body) = call(&blind_client()?, reqwest::Method::GET, &ca_url, None).await?;
    if status != 200 {
        return Err(EnrolError::NoCaCertificate {
            url: ca_url,
            reason: format!("it answered {status}"),
        });
    }
    let ca_der = ca_certificate(&body).ok_or_else(|| EnrolError::NoCaCertificate {
        url: ca_url.clone(),
        reason: "its answer holds no PEM certificate".into(),
    })?;
    if sha256(&ca_der) != pinned {
        return Err(EnrolError::FingerprintMismatch);
    }
    let ca_pem = pem_certificate(&ca_der);

    // 2. The request, to a hub that must prove it holds a certificate from that CA.
    let request = EnrolRequest {
        code: code.trim().to_owned(),
        device_id: device_id.to_owned(),
        role,
        csr_pem,
    };
    let enrol_url = format!("{base}{API_PREFIX}{ENROL_PATH}");
    let pinned_client = pinned_client(&ca_der)?;
    let body = serde_json::to_value(&request).map_err(|e| EnrolError::Key(e.to_string()))?;
    let (status, answer) = call(
        &pinned_client,
        reqwest::Method::POST,
        &enrol_url,
        Some(&body),
    )
    .await?;
    if !(200..300).contains(&status) {
        return Err(refusal(status, &answer));
    }
    let enrolled: Enrolled =
        serde_json::from_slice(&answer).map_err(|_| EnrolError::BadAnswer {
            status,
            body: String::from_utf8_lossy(&answer).chars().take(200).collect(),
        })?;

    // 3. What came back is this device's, from that CA.
    if one_certificate(&enrolled.ca_pem, "")
        .ok()
        .is_none_or(|der| der.as_ref() != ca_der.as_ref())
    {
        return Err(EnrolError::BadCertificate(IdentityError::Invalid {
            what: "the CA in the hub's answer".into(),
            why: "is not the CA whose fingerprint was checked".into(),
        }));
    }
    if enrolled.device_id != device_id || enrolled.role != role {
        return Err(EnrolError::WrongDevice {
            asked: format!("{device_id} ({role})"),
            got: format!("{} ({})", enrolled.device_id, enrolled.role),
        });
    }
    let identity = DeviceIdentity::checked(
        ca_pem,
        enrolled.certificate_pem,
        key.serialize_pem(),
        &Labels {
            ca: "the hub's CA certificate".into(),
            cert: "the certificate the hub sent".into(),
            key: "this device's new key".into(),
        },
    )
    .map_err(EnrolError::BadCertificate)?;
    if identity.device_id != device_id || identity.role != role {
        return Err(EnrolError::WrongDevice {
            asked: format!("{device_id} ({role})"),
            got: format!("{} ({})", identity.device_id, identity.role),
        });
    }
    Ok(identity)
}

/// GB/T 5.4: renews this device's certificate before it expires. The device makes a new
/// key and sends its signing request over its current mutual TLS; the hub answers a
/// certificate with the same id and role from the same CA and revokes the old one. Nothing
/// is saved: call [`DeviceIdentity::save`] at once (the old certificate no longer works).
pub async fn renew(
    hub_base_url: &str,
    current: &DeviceIdentity,
) -> Result<DeviceIdentity, EnrolError> {
    let base = hub_base_url.trim_end_matches('/');
    if !crate::client::is_https(base) {
        return Err(EnrolError::NotHttps(hub_base_url.to_owned()));
    }
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| EnrolError::Key(e.to_string()))?;
    let request = crate::devices::RenewRequest {
        csr_pem: signing_request(&key, &current.device_id, current.role)?,
    };
    let tls = current
        .client_config()
        .map_err(EnrolError::BadCertificate)?;
    let client = http_client(rustls::ClientConfig::clone(&tls))?;
    let url = format!("{base}{API_PREFIX}{}", crate::devices::RENEW_PATH);
    let body = serde_json::to_value(&request).map_err(|e| EnrolError::Key(e.to_string()))?;
    let (status, answer) = call(&client, reqwest::Method::POST, &url, Some(&body)).await?;
    if !(200..300).contains(&status) {
        return Err(refusal(status, &answer));
    }
    let renewed: Enrolled = serde_json::from_slice(&answer).map_err(|_| EnrolError::BadAnswer {
        status,
        body: String::from_utf8_lossy(&answer).chars().take(200).collect(),
    })?;
    let identity = DeviceIdentity::checked(
        current.ca_pem.clone(),
        renewed.certificate_pem,
        key.serialize_pem(),
        &Labels {
            ca: "the hub's CA certificate".into(),
            cert: "the renewed certificate the hub sent".into(),
            key: "this device's new key".into(),
        },
    )
    .map_err(EnrolError::BadCertificate)?;
    if identity.device_id != current.device_id || identity.role != current.role {
        return Err(EnrolError::WrongDevice {
            asked: format!("{} ({})", current.device_id, current.role),
            got: format!("{} ({})", identity.device_id, identity.role),
        });
    }
    Ok(identity)
}

fn signing_request(
    key: &rcgen::KeyPair,
    device_id: &str,
    role: DeviceRole,
) -> Result<String, EnrolError> {
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, device_id);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, role.as_str());
    params
        .serialize_request(key)
        .and_then(|csr| csr.pem())
        .map_err(|e| EnrolError::Key(e.to_string()))
}

/// The CA certificate in the hub's answer: PEM text (or, from a hub that wraps it, a
/// JSON string or a JSON object's `ca_pem`).
fn ca_certificate(body: &[u8]) -> Option<CertificateDer<'static>> {
    if let Ok(der) = CertificateDer::from_pem_slice(body) {
        return Some(der);
    }
    let pem = match serde_json::from_slice::<serde_json::Value>(body).ok()? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Object(mut o) => match o.remove("ca_pem")? {
            serde_json::Value::String(s) => s,
            _ => return None,
        },
        _ => return None,
    };
    CertificateDer::from_pem_slice(pem.as_bytes()).ok()
}

fn pem_certificate(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// What the hub's problem codes mean to the person enrolling.
fn refusal(status: u16, body: &[u8]) -> EnrolError {
    let Ok(p) = serde_json::from_slice::<Problem>(body) else {
        return EnrolError::BadAnswer {
            status,
            body: String::from_utf8_lossy(body).chars().take(200).collect(),
        };
    };
    match (p.status.max(status), p.code.as_str()) {
        (_, "pairing_refused") => EnrolError::PairingRefused { detail: p.detail },
        (429, _) | (_, "too_many_attempts") => EnrolError::TooManyAttempts,
        (422, _) => EnrolError::Rejected { detail: p.detail },
        _ => EnrolError::Refused {
            status,
            code: p.code,
            detail: p.detail,
        },
    }
}

fn http_client(config: rustls::ClientConfig) -> Result<reqwest::Client, EnrolError> {
    crate::client::https_builder(&config)
        .build()
        .map_err(|e| EnrolError::Tls(error_chain(&e)))
}

/// Client TLS (ring) that trusts `ca` alone, the hub's name checked as usual; the caller
/// says whether a device certificate is presented.
fn trusting_only(
    ca: CertificateDer<'static>,
) -> Result<
    rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>,
    rustls::Error,
> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca)?;
    Ok(rustls::ClientConfig::builder_with_provider(ring())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots))
}

/// `config` offering HTTP/1.1 only (the API and the event stream's upgrade).
fn http11(mut config: rustls::ClientConfig) -> rustls::ClientConfig {
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// The fingerprint of the certificate in `pem` as the hub's screen shows it; empty if
/// there is none.
fn pem_fingerprint(pem: &str) -> String {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .map(|der| format_fingerprint(&sha256(&der)))
        .unwrap_or_default()
}

/// For the CA request only: TLS to whoever answers (the handshake is still checked
/// against the key of the certificate presented, but the certificate itself is not).
fn blind_client() -> Result<reqwest::Client, EnrolError> {
    let provider = ring();
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| EnrolError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        .with_no_client_auth();
    http_client(http11(config))
}

/// TLS that trusts only the hub's CA (and checks the hub's name as usual).
fn pinned_client(ca: &CertificateDer<'static>) -> Result<reqwest::Client, EnrolError> {
    let config = trusting_only(ca.clone())
        .map_err(|e| EnrolError::Tls(format!("the hub's CA certificate: {e}")))?
        .with_no_client_auth();
    http_client(http11(config))
}

/// One request; the status and at most [`MAX_ANSWER`] bytes of the body.
async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    json: Option<&serde_json::Value>,
) -> Result<(u16, Vec<u8>), EnrolError> {
    let unreachable = |e: reqwest::Error| EnrolError::Unreachable {
        url: url.to_owned(),
        reason: error_chain(&e),
    };
    let mut req = client.request(method, url);
    if let Some(body) = json {
        req = req.json(body);
    }
    let mut resp = req.send().await.map_err(unreachable)?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(unreachable)? {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(EnrolError::BadAnswer {
                status,
                body: format!("an answer larger than {MAX_ANSWER} bytes"),
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status, body))
}

/// An error and its causes in one line (reqwest's own message leaves out why TLS failed).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// Accepts any server certificate: used only to fetch the CA certificate, which is then
/// checked against the fingerprint a person read from the hub's screen.
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures_util::{SinkExt, StreamExt};
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType,
        ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::Message;

    use super::*;
    use crate::{ClientError, HubClient};

    /// A certificate authority of the test's own, standing in for the hub's.
    struct TestCa {
        cert: rcgen::Certificate,
        key: KeyPair,
    }

    impl TestCa {
        fn new(name: &str) -> TestCa {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let mut params = CertificateParams::default();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            let cert = params.self_signed(&key).unwrap();
            TestCa { cert, key }
        }

        fn pem(&self) -> String {
            self.cert.pem()
        }

        fn fingerprint(&self) -> String {
            format_fingerprint(&sha256(self.cert.der()))
        }

        /// What the hub does with a signing request (it keeps the request's subject).
        fn sign(&self, csr_pem: &str) -> String {
            let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).unwrap();
            csr.params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            csr.signed_by(&self.cert, &self.key).unwrap().pem()
        }

        /// A device enrolled by this CA, made without any network.
        fn identity(&self, device_id: &str, role: DeviceRole) -> DeviceIdentity {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let csr = signing_request(&key, device_id, role).unwrap();
            DeviceIdentity {
                device_id: device_id.into(),
                role,
                ca_pem: self.pem(),
                cert_pem: self.sign(&csr),
                key_pem: key.serialize_pem(),
            }
        }

        /// A TLS server certificate for `names`, and a config that asks for (but does not
        /// require) a client certificate from this CA, as the hub's enrolment paths do.
        fn server_config(&self, names: &[&str]) -> Arc<rustls::ServerConfig> {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &self.cert, &self.key)
                .unwrap();
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.cert.der().clone()).unwrap();
            let clients =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), ring())
                    .allow_unauthenticated()
                    .build()
                    .unwrap();
            let key = PrivateKeyDer::try_from(key.serialize_der()).unwrap();
            let mut config = rustls::ServerConfig::builder_with_provider(ring())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(clients)
                .with_single_cert(vec![cert.der().clone()], key)
                .unwrap();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        }
    }

    /// How the tiny hub answers `POST /enrol`.
    #[derive(Debug, Clone, Copy)]
    enum Answer {
        Sign,
        /// A valid certificate from the right CA, but for somebody else's key.
        SignAnotherKey,
        Problem(u16, &'static str),
    }

    /// A tiny HTTPS hub on 127.0.0.1 that records every request it gets.
    struct TinyHub {
        url: String,
        ca: Arc<TestCa>,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl TinyHub {
        async fn start(answer: Answer, names: &[&str]) -> TinyHub {
            let ca = Arc::new(TestCa::new("tiny hub CA"));
            let acceptor = tokio_rustls::TlsAcceptor::from(ca.server_config(names));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!(
                "https://127.0.0.1:{}",
                listener.local_addr().unwrap().port()
            );
            let seen = Arc::new(Mutex::new(Vec::new()));
            let (hub_ca, hub_seen) = (ca.clone(), seen.clone());
            tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let (acceptor, ca, seen) = (acceptor.clone(), hub_ca.clone(), hub_seen.clone());
                    tokio::spawn(async move {
                        // A client that rejects our certificate ends the handshake here.
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            serve(tls, &ca, answer, &seen).await;
                        }
                    });
                }
            });
            TinyHub { url, ca, seen }
        }

        fn seen(&self) -> Vec<String> {
            self.seen.lock().unwrap().clone()
        }
    }

    fn common_name(der: &[u8]) -> String {
        let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
        let cn = cert.subject().iter_common_name().next().unwrap();
        cn.as_str().unwrap().to_owned()
    }

    /// One request per connection; HTTP/1.1 by hand.
    async fn serve(
        mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        ca: &TestCa,
        answer: Answer,
        seen: &Mutex<Vec<String>>,
    ) {
        let client = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| common_name(c));
        let mut buf = Vec::new();
        let head_end = loop {
            let mut chunk = [0u8; 4096];
            let n = tls.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.lines();
        let mut first = lines.next().unwrap_or_default().split(' ');
        let (method, path) = (
            first.next().unwrap_or_default(),
            first.next().unwrap_or_default(),
        );
        let header = |name: &str| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        };
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let mut chunk = [0u8; 4096];
            let n = tls.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        seen.lock().unwrap().push(format!("{method} {path}"));

        let (status, content_type, text) = match (method, path) {
            ("GET", "/api/v1/enrol/ca") => (200, "application/x-pem-file", ca.pem()),
            ("POST", "/api/v1/enrol") => {
                let req: EnrolRequest = serde_json::from_slice(&body).unwrap();
                let enrolled = |certificate_pem| Enrolled {
                    device_id: req.device_id.clone(),
                    role: req.role,
                    certificate_pem,
                    ca_pem: ca.pem(),
                    not_after: chrono::Utc::now() + chrono::Duration::days(365),
                };
                match answer {
                    Answer::Sign => {
                        let e = enrolled(ca.sign(&req.csr_pem));
                        (200, "application/json", serde_json::to_string(&e).unwrap())
                    }
                    Answer::SignAnotherKey => {
                        let other = ca.identity(&req.device_id, req.role);
                        let e = enrolled(other.cert_pem);
                        (200, "application/json", serde_json::to_string(&e).unwrap())
                    }
                    Answer::Problem(status, code) => {
                        let p = Problem {
                            code: code.into(),
                            status,
                            detail: format!("refused: {code}"),
                            field: None,
                        };
                        (
                            status,
                            "application/json",
                            serde_json::to_string(&p).unwrap(),
                        )
                    }
                }
            }
            ("GET", "/api/v1/whoami") => {
                let who = serde_json::json!({ "device": client });
                (200, "application/json", who.to_string())
            }
            ("GET", p) if p.starts_with("/api/v1/events") => {
                let key = header("sec-websocket-key").unwrap_or_default();
                let accept =
                    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
                let upgrade = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                );
                tls.write_all(upgrade.as_bytes()).await.unwrap();
                let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    tls,
                    tokio_tungstenite::tungstenite::protocol::Role::Server,
                    None,
                )
                .await;
                let who = client.unwrap_or_else(|| "nobody".into());
                ws.send(Message::text(who)).await.unwrap();
                let _ = ws.close(None).await;
                return;
            }
            _ => (404, "text/plain", "not here".to_owned()),
        };
        let reply = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = tls.write_all(reply.as_bytes()).await;
        let _ = tls.shutdown().await;
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn saved_identity_loads_back_with_a_private_key() {
        let ca = TestCa::new("hub CA");
        let id = ca.identity("counter-3", DeviceRole::Counter);
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("identity");
        id.save(&dir).unwrap();
        #[cfg(unix)]
        {
            assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
            assert_eq!(mode(&dir), 0o700);
        }
        let loaded = DeviceIdentity::load(&dir).unwrap();
        assert_eq!(loaded, id);
        assert_eq!(loaded.device_id, "counter-3");
        assert_eq!(loaded.role, DeviceRole::Counter);
        assert_eq!(loaded.fingerprint_of_ca(), ca.fingerprint());
        loaded.client_config().unwrap();
        // The key is never printed.
        assert!(!format!("{loaded:?}").contains("PRIVATE KEY"));

        // Enrolling again replaces the files (and leaves no temporary ones).
        let again = ca.identity("counter-3", DeviceRole::Counter);
        again.save(&dir).unwrap();
        assert_eq!(DeviceIdentity::load(&dir).unwrap(), again);
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [CA_FILE, KEY_FILE, CERT_FILE]);
    }

    #[test]
    fn a_device_without_an_identity_is_told_to_enrol() {
        let tmp = tempfile::tempdir().unwrap();
        let e = DeviceIdentity::load(tmp.path()).unwrap_err();
        assert!(matches!(e, IdentityError::NotEnrolled { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("no device.pem in"), "{text}");
        assert!(text.contains(&tmp.path().display().to_string()), "{text}");
        assert!(text.contains("servicehall enrol"), "{text}");

        let ca = TestCa::new("hub CA");
        ca.identity("kiosk-1", DeviceRole::Kiosk)
            .save(tmp.path())
            .unwrap();
        std::fs::remove_file(tmp.path().join(KEY_FILE)).unwrap();
        let text = DeviceIdentity::load(tmp.path()).unwrap_err().to_string();
        assert!(text.contains("no device.key"), "{text}");
    }

    #[cfg(unix)]
    #[test]
    fn a_key_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let ca = TestCa::new("hub CA");
        ca.identity("kiosk-1", DeviceRole::Kiosk)
            .save(tmp.path())
            .unwrap();
        let key = tmp.path().join(KEY_FILE);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = DeviceIdentity::load(tmp.path()).unwrap_err();
        assert!(
            matches!(e, IdentityError::KeyExposed { mode: 0o644, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("device.key"), "{e}");
    }

    #[test]
    fn mismatched_files_are_refused_naming_the_file() {
        let ca = TestCa::new("hub CA");
        let other_ca = TestCa::new("another hub's CA");
        let id = ca.identity("board-1", DeviceRole::Board);
        let stranger = ca.identity("board-1", DeviceRole::Board);

        let tmp = tempfile::tempdir().unwrap();
        DeviceIdentity {
            key_pem: stranger.key_pem.clone(),
            ..id.clone()
        }
        .save(tmp.path())
        .unwrap();
        let text = DeviceIdentity::load(tmp.path()).unwrap_err().to_string();
        assert!(text.contains("device.pem is not for the key in"), "{text}");

        DeviceIdentity {
            ca_pem: other_ca.pem(),
            ..id.clone()
        }
        .save(tmp.path())
        .unwrap();
        let text = DeviceIdentity::load(tmp.path()).unwrap_err().to_string();
        assert!(
            text.contains("device.pem is not signed by the hub's CA"),
            "{text}"
        );

        std::fs::write(tmp.path().join(CA_FILE), "not a certificate").unwrap();
        let text = DeviceIdentity::load(tmp.path()).unwrap_err().to_string();
        assert!(text.contains("ca.pem holds no PEM certificate"), "{text}");
    }

    #[test]
    fn a_device_client_matches_its_identity_to_the_hub_address() {
        let id = TestCa::new("hub CA").identity("kiosk-1", DeviceRole::Kiosk);
        assert!(HubClient::for_device("http://127.0.0.1:8470", None).is_ok());
        assert!(HubClient::for_device("https://hub.local:8470/", Some(&id)).is_ok());
        let e = HubClient::for_device("https://hub.local:8470", None).unwrap_err();
        assert!(matches!(e, ClientError::NotEnrolled { .. }), "{e}");
        let e = HubClient::for_device("http://hub.local:8470", Some(&id)).unwrap_err();
        assert!(matches!(e, ClientError::NotSecure { .. }), "{e}");
    }

    // GB/T 5.6.2: a device enrols with its own key, and is then known by its certificate
    // both on the API and on the event stream.
    #[tokio::test]
    async fn a_device_enrols_and_then_speaks_mutual_tls() {
        let hub = TinyHub::start(Answer::Sign, &["127.0.0.1", "localhost"]).await;
        // As a person types it from the screen: lower case, spaces.
        let typed = hub.ca.fingerprint().to_lowercase().replace(':', " ");
        let id = enrol(
            &hub.url,
            " 1234-5678 ",
            &typed,
            "kiosk-2",
            DeviceRole::Kiosk,
        )
        .await
        .unwrap();
        assert_eq!(id.device_id, "kiosk-2");
        assert_eq!(id.role, DeviceRole::Kiosk);
        assert_eq!(id.fingerprint_of_ca(), hub.ca.fingerprint());
        assert_eq!(hub.seen(), ["GET /api/v1/enrol/ca", "POST /api/v1/enrol"]);

        let tmp = tempfile::tempdir().unwrap();
        id.save(tmp.path()).unwrap();
        let id = DeviceIdentity::load(tmp.path()).unwrap();

        let client = HubClient::for_device(&hub.url, Some(&id)).unwrap();
        let who: serde_json::Value = client.get("/whoami").await.unwrap();
        assert_eq!(who["device"], "kiosk-2");
        let mut events = client.events_socket("/events?since=0").await.unwrap();
        let first = events.next().await.unwrap().unwrap();
        assert_eq!(first, Message::text("kiosk-2"));
    }

    // GB/T 5.6.2: a hub whose CA is not the one on the hub's screen gets nothing but the
    // request for its CA certificate: no code, no signing request.
    #[tokio::test]
    async fn a_tampered_fingerprint_is_refused_before_anything_is_sent() {
        let hub = TinyHub::start(Answer::Sign, &["127.0.0.1"]).await;
        let real = hub.ca.fingerprint();
        let mut one_digit_off = real.clone();
        let last = if real.ends_with('0') { "1" } else { "0" };
        one_digit_off.replace_range(real.len() - 1.., last);
        let impostor = TestCa::new("the real hub's CA").fingerprint();
        for wrong in [one_digit_off, impostor] {
            let e = enrol(&hub.url, "1234-5678", &wrong, "kiosk-1", DeviceRole::Kiosk)
                .await
                .unwrap_err();
            assert!(matches!(e, EnrolError::FingerprintMismatch), "{e}");
            assert_eq!(
                e.to_string(),
                "the hub's certificate fingerprint does not match: \
                 check the fingerprint on the hub's screen"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert_eq!(hub.seen(), ["GET /api/v1/enrol/ca", "GET /api/v1/enrol/ca"]);
    }

    // After the fingerprint, the hub is trusted only as a holder of a certificate from that
    // CA for the address used: one for another name never gets the pairing code.
    #[tokio::test]
    async fn the_enrolment_itself_goes_only_to_a_hub_certified_for_its_address() {
        let hub = TinyHub::start(Answer::Sign, &["hub.example"]).await;
        let e = enrol(
            &hub.url,
            "1234-5678",
            &hub.ca.fingerprint(),
            "kiosk-1",
            DeviceRole::Kiosk,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, EnrolError::Unreachable { .. }), "{e}");
        assert!(e.to_string().contains("not valid for name"), "{e}");
        assert_eq!(hub.seen(), ["GET /api/v1/enrol/ca"]);
    }

    #[tokio::test]
    async fn a_certificate_for_another_key_is_refused() {
        let hub = TinyHub::start(Answer::SignAnotherKey, &["127.0.0.1"]).await;
        let e = enrol(
            &hub.url,
            "1234-5678",
            &hub.ca.fingerprint(),
            "kiosk-1",
            DeviceRole::Kiosk,
        )
        .await
        .unwrap_err();
        assert!(matches!(e, EnrolError::BadCertificate(_)), "{e}");
        assert!(e.to_string().contains("is not for the key"), "{e}");
    }

    #[tokio::test]
    async fn the_hubs_refusals_read_as_sentences() {
        let cases = [
            (
                Answer::Problem(403, "pairing_refused"),
                "ask the administrator for a new code",
            ),
            (
                Answer::Problem(429, "too_many_attempts"),
                "wait a few minutes",
            ),
            (
                Answer::Problem(422, "invalid_field"),
                "cannot accept this enrolment: refused",
            ),
            (Answer::Problem(503, "busy"), "(503, busy)"),
        ];
        for (answer, words) in cases {
            let hub = TinyHub::start(answer, &["127.0.0.1"]).await;
            let e = enrol(
                &hub.url,
                "1234-5678",
                &hub.ca.fingerprint(),
                "sms-1",
                DeviceRole::SmsGateway,
            )
            .await
            .unwrap_err();
            assert!(e.to_string().contains(words), "{answer:?}: {e}");
        }
    }

    #[tokio::test]
    async fn what_a_person_typed_is_checked_before_any_connection() {
        let bad = enrol(
            "https://127.0.0.1:9",
            "1",
            "AB12:CD",
            "kiosk-1",
            DeviceRole::Kiosk,
        )
        .await;
        assert!(matches!(bad, Err(EnrolError::BadFingerprint(_))));
        let fp = TestCa::new("x").fingerprint();
        let bad = enrol(
            "https://127.0.0.1:9",
            "1",
            &fp,
            "kiosk 1",
            DeviceRole::Kiosk,
        )
        .await;
        assert!(matches!(bad, Err(EnrolError::BadDeviceId(_))));
        let bad = enrol("http://127.0.0.1:9", "1", &fp, "kiosk-1", DeviceRole::Kiosk).await;
        assert!(matches!(bad, Err(EnrolError::NotHttps(_))));
    }
}
