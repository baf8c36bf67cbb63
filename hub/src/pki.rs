//! The hub's local certificate authority (GB/T 5.4, 5.6.2): made once per data directory,
//! it issues the hub's own server certificate at every start and a client certificate to
//! each device that enrols with a pairing code; the TLS settings it builds accept only
//! client certificates it issued.
//!
//! It signs and verifies; it never decides who may call what (that is `api::access`,
//! against the fingerprints in the store), and its key never leaves `ca.key`. Beside the
//! CA it keeps the revocation list (`revoked`), which outlives any restore of the
//! database.
//!
//! Backups hold the database only, never this folder: the `pki/` folder needs its own
//! copy, kept as safely as the CA key in it.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use protocol::devices::{DeviceRole, format_fingerprint};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

/// The CA's folder inside the data directory.
pub const PKI_DIR: &str = "pki";
/// The CA certificate (public; devices pin its fingerprint).
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key (mode 0600).
pub const CA_KEY_FILE: &str = "ca.key";
/// The fingerprints of every revoked device certificate, one a line, append-only.
pub const REVOKED_FILE: &str = "revoked";
/// How long the CA is valid.
const CA_DAYS: i64 = 3650;
/// How long the hub's server certificate is valid (a new one is made at every start).
const SERVER_CERT_DAYS: i64 = 397;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0}: the hub's CA certificate is there but its key is missing. Put back the pki \
         folder from its own copy (backups of the database do not contain it), or delete \
         the pki folder to start a new CA (every device must then be enrolled again)"
    )]
    KeyMissing(PathBuf),
    #[error(
        "{0}: there is no hub CA here. Is this the hub's data directory? The hub makes its \
         CA when it first starts"
    )]
    NoCa(PathBuf),
    #[error("{path}: {message}")]
    BadCa { path: PathBuf, message: String },
    #[error("the certificate signing request is not valid: {0}")]
    BadRequest(String),
    #[error("cannot make a certificate: {0}")]
    Sign(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// A device certificate just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCertificate {
    pub certificate_pem: String,
    /// SHA-256 of its DER, as [`format_fingerprint`] writes it.
    pub fingerprint: String,
    pub not_after: DateTime<Utc>,
}

/// The hub's CA, loaded from (or created in) `<data_dir>/pki/`.
pub struct HubCa {
    centre_id: String,
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    /// The CA certificate as rcgen needs it to sign (its subject and key identifier).
    issuer: rcgen::Certificate,
    key: KeyPair,
    fingerprint: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    revoked: RevocationList,
}

impl std::fmt::Debug for HubCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubCa")
            .field("centre_id", &self.centre_id)
            .field("fingerprint", &self.fingerprint)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of a certificate's DER, as devices and administrators compare it.
pub fn fingerprint_of(der: &[u8]) -> String {
    format_fingerprint(&Sha256::digest(der).into())
}

fn sign_err(e: rcgen::Error) -> PkiError {
    PkiError::Sign(e.to_string())
}

fn offset_time(t: DateTime<Utc>) -> Result<time::OffsetDateTime, PkiError> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp())
        .map_err(|e| PkiError::Sign(format!("time {t} out of range: {e}")))
}

/// A random positive serial number of 16 bytes (RFC 5280 4.1.2.2).
fn random_serial() -> SerialNumber {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    // Leading byte 0x40..=0x7f: positive and minimally encoded.
    bytes[0] = (bytes[0] & 0x3f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

/// Writes a CA file with the one atomic writer of key material (temporary file, synced,
/// renamed, folder synced).
fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), PkiError> {
    protocol::identity::write_private(path, text.as_bytes(), mode).map_err(|source| PkiError::Io {
        path: path.to_owned(),
        source,
    })
}

impl HubCa {
    /// Loads the CA in `dir`, or creates it there (ECDSA P-256, ten years, CN
    /// `servicehall hub CA <centre id>`) when there is none yet.
    pub fn load_or_create(dir: &Path, centre_id: &str) -> Result<HubCa, PkiError> {
        match HubCa::load(dir, centre_id) {
            Err(PkiError::NoCa(_)) => HubCa::create(
                dir,
                centre_id,
                &dir.join(CA_CERT_FILE),
                &dir.join(CA_KEY_FILE),
            ),
            other => other,
        }
    }

    /// Loads the CA in `dir`; never creates one ([`PkiError::NoCa`] when there is none),
    /// so a mistyped data directory stays empty.
    pub fn load(dir: &Path, centre_id: &str) -> Result<HubCa, PkiError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let cert_pem = match std::fs::read_to_string(&cert_path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PkiError::NoCa(dir.to_owned()));
            }
            Err(source) => {
                return Err(PkiError::Io {
                    path: cert_path,
                    source,
                });
            }
        };
        let key_pem = match std::fs::read_to_string(&key_path) {
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PkiError::KeyMissing(key_path));
            }
            Err(source) => {
                return Err(PkiError::Io {
                    path: key_path,
                    source,
                });
            }
        };
        HubCa::from_pem(centre_id, cert_pem, &key_pem, &cert_path)
    }

    fn create(
        dir: &Path,
        centre_id: &str,
        cert_path: &Path,
        key_path: &Path,
    ) -> Result<HubCa, PkiError> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(dir).map_err(|source| PkiError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(sign_err)?;
        let now = Utc::now();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            format!("servicehall hub CA {centre_id}"),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        // A day's slack for devices whose clock runs a little behind the hub's.
        params.not_before = offset_time(now - chrono::Duration::days(1))?;
        params.not_after = offset_time(now + chrono::Duration::days(CA_DAYS))?;
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key).map_err(sign_err)?;
        // The key first: a certificate on disk always has its key beside it.
        write_file(key_path, &key.serialize_pem(), 0o600)?;
        write_file(cert_path, &cert.pem(), 0o644)?;
        tracing::info!(
            "created the hub's certificate authority in {} (fingerprint {})",
            dir.display(),
            fingerprint_of(cert.der())
        );
        HubCa::from_pem(centre_id, cert.pem(), &key.serialize_pem(), cert_path)
    }

    fn from_pem(
        centre_id: &str,
        cert_pem: String,
        key_pem: &str,
        path: &Path,
    ) -> Result<HubCa, PkiError> {
        use rustls::pki_types::pem::PemObject;
        let bad = |message: String| PkiError::BadCa {
            path: path.to_owned(),
            message,
        };
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
        let key = KeyPair::from_pem(key_pem)
            .map_err(|e| bad(format!("its key in {CA_KEY_FILE} is unreadable: {e}")))?;
        let (_, x509) = x509_parser::parse_x509_certificate(&cert_der)
            .map_err(|e| bad(format!("not an X.509 certificate: {e}")))?;
        if x509.public_key().raw != key.public_key_der().as_slice() {
            return Err(bad(format!(
                "{CA_KEY_FILE} is not the key of this certificate"
            )));
        }
        if !x509.is_ca() {
            return Err(bad("not a CA certificate".into()));
        }
        let not_before = DateTime::<Utc>::from_timestamp(x509.validity().not_before.timestamp(), 0)
            .ok_or_else(|| bad("its start date is out of range".into()))?;
        let not_after = DateTime::<Utc>::from_timestamp(x509.validity().not_after.timestamp(), 0)
            .ok_or_else(|| bad("its expiry date is out of range".into()))?;
        let params =
            CertificateParams::from_ca_cert_der(&cert_der).map_err(|e| bad(e.to_string()))?;
        let issuer = params.self_signed(&key).map_err(sign_err)?;
        let fingerprint = fingerprint_of(&cert_der);
        let left = not_after - Utc::now();
        if left < chrono::Duration::zero() {
            tracing::error!(
                "the hub's CA expired on {not_after}: devices will refuse the hub until a new CA is made and every device enrolled again"
            );
        } else if left < chrono::Duration::days(365) {
            tracing::warn!("the hub's CA expires on {not_after}");
        }
        Ok(HubCa {
            centre_id: centre_id.to_owned(),
            cert_pem,
            cert_der,
            issuer,
            key,
            fingerprint,
            not_before,
            not_after,
            revoked: RevocationList::in_dir(path.parent().unwrap_or(Path::new("."))),
        })
    }

    /// SHA-256 of the CA certificate, as [`format_fingerprint`] writes it (what an
    /// administrator reads out to whoever sets up a device).
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// The CA certificate in PEM, exactly as in `ca.pem`.
    pub fn ca_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// The revocation list beside this CA.
    pub fn revocations(&self) -> &RevocationList {
        &self.revoked
    }

    /// GB/T 5.4: a client certificate for `device_id` in `role`, for the key in the PKCS#10
    /// request `csr_pem`. Whatever subject or extensions the device asked for are ignored:
    /// the certificate says CN = device id, OU = role, client authentication only, not a
    /// CA, valid `days` days, with a random serial number.
    pub fn sign_device(
        &self,
        csr_pem: &str,
        device_id: &str,
        role: DeviceRole,
        days: u32,
    ) -> Result<DeviceCertificate, PkiError> {
        let csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(|e| PkiError::BadRequest(e.to_string()))?;
        // Only keys the hub's TLS can check (rustls with ring).
        let alg = csr.public_key.algorithm();
        let supported = [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &rcgen::PKCS_ED25519,
            &rcgen::PKCS_RSA_SHA256,
        ];
        if !supported.contains(&alg) {
            return Err(PkiError::BadRequest(format!(
                "its key type ({alg:?}) is not supported: use ECDSA P-256"
            )));
        }
        let now = Utc::now();
        let not_after = now + chrono::Duration::days(i64::from(days));
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, device_id);
        dn.push(DnType::OrganizationalUnitName, role.as_str());
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = offset_time(now - chrono::Duration::minutes(5))?;
        params.not_after = offset_time(not_after)?;
        params.serial_number = Some(random_serial());
        let cert = CertificateSigningRequestParams {
            params,
            public_key: csr.public_key,
        }
        .signed_by(&self.issuer, &self.key)
        .map_err(sign_err)?;
        Ok(DeviceCertificate {
            certificate_pem: cert.pem(),
            fingerprint: fingerprint_of(cert.der()),
            not_after: DateTime::<Utc>::from_timestamp(not_after.timestamp(), 0)
                .unwrap_or(not_after),
        })
    }

    /// A fresh server certificate named `names`, valid from the CA's own start (a device
    /// without a clock battery may boot with a clock far behind; the CA itself is the
    /// earliest it could ever accept) for [`SERVER_CERT_DAYS`] days.
    fn server_certificate(
        &self,
        names: Vec<SanType>,
    ) -> Result<(rcgen::Certificate, KeyPair), PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(sign_err)?;
        let now = Utc::now();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            format!("servicehall hub {}", self.centre_id),
        );
        params.distinguished_name = dn;
        params.subject_alt_names = names;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = offset_time(self.not_before.min(now))?;
        params.not_after = offset_time(now + chrono::Duration::days(SERVER_CERT_DAYS))?;
        params.serial_number = Some(random_serial());
        let cert = params
            .signed_by(&key, &self.issuer, &self.key)
            .map_err(sign_err)?;
        Ok((cert, key))
    }

    /// The TLS settings to serve with: a fresh server certificate (serverAuth, named for
    /// [`server_names`]) and client certificates checked against this CA only. A client
    /// without a certificate still gets through (the API refuses it with a clear 401); a
    /// certificate from any other CA fails the handshake.
    pub fn server_config(
        &self,
        configured: &[String],
        listen: Option<IpAddr>,
    ) -> Result<rustls::ServerConfig, PkiError> {
        let tls = |e: rustls::Error| PkiError::Tls(e.to_string());
        let names = server_names(configured, listen, machine_hostname().as_deref());
        let (cert, key) = self.server_certificate(names)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der.clone()).map_err(tls)?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| PkiError::Tls(e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(tls)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// GB/T 5.4: the fingerprints of every device certificate the hub revoked, in
/// `pki/revoked`, one a line, appended and synced before the database records the
/// revocation (by the API or the command line). Backups hold only the database, so a
/// restored backup may hold a revoked certificate as active: the hub applies this list
/// again every time it opens.
#[derive(Debug, Clone)]
pub struct RevocationList {
    path: PathBuf,
}

impl RevocationList {
    /// The list in the CA folder `pki_dir`.
    pub fn in_dir(pki_dir: &Path) -> RevocationList {
        RevocationList {
            path: pki_dir.join(REVOKED_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `fingerprints` and syncs the file (and the folder, when the file is new).
    /// Never creates the CA folder: a hub without one has nothing to revoke.
    pub fn append(&self, fingerprints: &[String]) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        if fingerprints.is_empty() {
            return Ok(());
        }
        let mut text: String = fingerprints.iter().map(|fp| format!("{fp}\n")).collect();
        let is_new = !self.path.exists();
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o644);
        let mut f = opts.open(&self.path)?;
        // A line torn by a crash is ended first, so it cannot swallow the next one.
        if f.metadata()?.len() > 0 {
            f.seek(SeekFrom::End(-1))?;
            let mut last = [0u8];
            f.read_exact(&mut last)?;
            if last[0] != b'\n' {
                text.insert(0, '\n');
            }
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if is_new && let Some(dir) = self.path.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    /// Every fingerprint on the list (none when there is no list yet); a line that is
    /// not a fingerprint (torn by a crash) is skipped.
    pub fn read(&self) -> std::io::Result<Vec<String>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .filter_map(protocol::devices::parse_fingerprint)
            .map(|digest| format_fingerprint(&digest))
            .collect())
    }
}

/// This machine's host name, if the system tells it.
fn machine_hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The address this machine sends from on its default route (no packet is sent), so
/// devices that reach a hub listening on every address by its IP find it named.
fn primary_address() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// The names in the hub's server certificate: `localhost`, `127.0.0.1`, `::1`, the host
/// name and `<host>.local`, the listen address (or, listening on every address, the
/// default route's), and every configured `security.server_names` entry.
fn server_names(configured: &[String], listen: Option<IpAddr>, host: Option<&str>) -> Vec<SanType> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if let Some(h) = host {
        names.push(h.to_owned());
        if !h.contains('.') {
            names.push(format!("{h}.local"));
        }
    }
    match listen {
        Some(ip) if !ip.is_unspecified() => names.push(ip.to_string()),
        Some(_) => names.extend(primary_address().map(|ip| ip.to_string())),
        None => {}
    }
    names.extend(configured.iter().cloned());
    let mut out: Vec<SanType> = Vec::new();
    for n in names {
        let san = match n.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => match n.clone().try_into() {
                Ok(dns) => SanType::DnsName(dns),
                Err(_) => {
                    tracing::warn!("`{n}` cannot be named in the hub's certificate; skipped");
                    continue;
                }
            },
        };
        if !out.contains(&san) {
            out.push(san);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::pem::parse_x509_pem;

    /// A request asking for more than a device gets: another name, a server's and a CA's
    /// key usages, a host name.
    fn csr(key: &KeyPair, cn: &str) -> String {
        let mut p = CertificateParams::new(vec!["evil.example".to_owned()]).unwrap();
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.distinguished_name
            .push(DnType::OrganizationalUnitName, "counter");
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.serialize_request(key).unwrap().pem().unwrap()
    }

    #[test]
    fn the_ca_is_made_once_with_a_private_key_and_loads_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join(PKI_DIR);
        let a = HubCa::load_or_create(&pki, "c1").unwrap();
        let b = HubCa::load_or_create(&pki, "c1").unwrap();
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.ca_pem(), b.ca_pem());
        assert_eq!(a.fingerprint().split(':').count(), 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(pki.join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (_, x) = parse_x509_pem(a.ca_pem().as_bytes()).unwrap();
        let cert = x.parse_x509().unwrap();
        assert!(cert.is_ca());
        assert_eq!(
            cert.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "servicehall hub CA c1"
        );
        let days = (a.not_after() - Utc::now()).num_days();
        assert!((3649..=3650).contains(&days), "{days}");

        // A lost key is an error, never a silent new CA; backups do not hold it.
        std::fs::remove_file(pki.join(CA_KEY_FILE)).unwrap();
        let missing = HubCa::load_or_create(&pki, "c1").unwrap_err();
        assert!(matches!(missing, PkiError::KeyMissing(_)));
        let text = missing.to_string();
        assert!(
            text.contains("own copy") && !text.contains("from a backup"),
            "{text}"
        );
        // Another key beside the certificate is refused.
        std::fs::write(
            pki.join(CA_KEY_FILE),
            KeyPair::generate().unwrap().serialize_pem(),
        )
        .unwrap();
        let e = HubCa::load_or_create(&pki, "c1").unwrap_err();
        assert!(e.to_string().contains("not the key"), "{e}");
    }

    #[test]
    fn loading_never_creates_a_ca() {
        let dir = tempfile::tempdir().unwrap();
        let pki = dir.path().join("mistyped").join(PKI_DIR);
        assert!(matches!(HubCa::load(&pki, "c1"), Err(PkiError::NoCa(_))));
        assert!(!pki.exists() && !dir.path().join("mistyped").exists());
        let made = HubCa::load_or_create(&pki, "c1").unwrap();
        assert_eq!(
            HubCa::load(&pki, "c1").unwrap().fingerprint(),
            made.fingerprint()
        );
    }

    #[test]
    fn the_server_certificate_is_valid_from_the_cas_own_start() {
        // A device that boots with its clock behind (no clock battery) still accepts it.
        let dir = tempfile::tempdir().unwrap();
        let ca = HubCa::load_or_create(dir.path(), "c1").unwrap();
        let (cert, _) = ca
            .server_certificate(server_names(&[], None, None))
            .unwrap();
        let (_, parsed) = x509_parser::parse_x509_certificate(cert.der()).unwrap();
        let (_, ca_pem) = parse_x509_pem(ca.ca_pem().as_bytes()).unwrap();
        let ca_cert = ca_pem.parse_x509().unwrap();
        assert_eq!(
            parsed.validity().not_before.timestamp(),
            ca_cert.validity().not_before.timestamp()
        );
        assert!(
            Utc::now().timestamp() - parsed.validity().not_before.timestamp() >= 86_000,
            "backdated at least the CA's day"
        );
        parsed.verify_signature(Some(ca_cert.public_key())).unwrap();
    }

    #[test]
    fn the_revocation_list_appends_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let list = RevocationList::in_dir(dir.path());
        assert_eq!(list.read().unwrap(), Vec::<String>::new());
        let fp = |n: u8| format_fingerprint(&[n; 32]);
        list.append(&[fp(1), fp(2)]).unwrap();
        // A crash in the middle of a line, then the next revocation.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(list.path())
            .unwrap();
        f.write_all(&fp(3).as_bytes()[..10]).unwrap();
        drop(f);
        list.append(&[fp(4)]).unwrap();
        assert_eq!(list.read().unwrap(), [fp(1), fp(2), fp(4)]);
        // Never makes the CA folder.
        let nowhere = RevocationList::in_dir(&dir.path().join("no-pki"));
        assert!(nowhere.append(&[fp(5)]).is_err());
    }

    #[test]
    fn a_device_certificate_names_what_the_hub_decided_not_what_was_asked() {
        // GB/T 5.4: the subject, CA flag and names the device asked for are ignored.
        let dir = tempfile::tempdir().unwrap();
        let ca = HubCa::load_or_create(dir.path(), "c1").unwrap();
        let key = KeyPair::generate().unwrap();
        let signed = ca
            .sign_device(&csr(&key, "admin"), "kiosk-1", DeviceRole::Kiosk, 30)
            .unwrap();
        let (_, pem) = parse_x509_pem(signed.certificate_pem.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert_eq!(fingerprint_of(&pem.contents), signed.fingerprint);
        let subject = cert.subject();
        assert_eq!(
            subject.iter_common_name().next().unwrap().as_str().unwrap(),
            "kiosk-1"
        );
        assert_eq!(
            subject
                .iter_organizational_unit()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "kiosk"
        );
        assert_eq!(subject.iter_organizational_unit().count(), 1);
        assert!(!cert.is_ca());
        assert!(cert.subject_alternative_name().unwrap().is_none());
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.digital_signature() && !ku.key_cert_sign());
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth && !eku.any);
        assert_eq!(cert.public_key().raw, key.public_key_der().as_slice());
        let days = (signed.not_after - Utc::now()).num_hours();
        assert!((29 * 24..=30 * 24).contains(&days), "{days}");
        // Issued by this CA, and the serial numbers differ.
        let (_, ca_pem) = parse_x509_pem(ca.ca_pem().as_bytes()).unwrap();
        let ca_cert = ca_pem.parse_x509().unwrap();
        assert_eq!(cert.issuer(), ca_cert.subject());
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
        let again = ca
            .sign_device(&csr(&key, "x"), "kiosk-1", DeviceRole::Kiosk, 30)
            .unwrap();
        let (_, pem2) = parse_x509_pem(again.certificate_pem.as_bytes()).unwrap();
        assert_ne!(pem2.parse_x509().unwrap().serial, cert.serial);
    }

    #[test]
    fn garbage_and_forged_requests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let ca = HubCa::load_or_create(dir.path(), "c1").unwrap();
        for bad in [
            "",
            "hello",
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        ] {
            assert!(matches!(
                ca.sign_device(bad, "k", DeviceRole::Kiosk, 1),
                Err(PkiError::BadRequest(_))
            ));
        }
        // A request whose signature was tampered with: the DER ends with the signature
        // (an ECDSA value's last byte), so one byte flipped there leaves a well-formed
        // request whose signature is wrong.
        use rustls::pki_types::CertificateSigningRequestDer;
        use rustls::pki_types::pem::PemObject;
        let key = KeyPair::generate().unwrap();
        let good = csr(&key, "k");
        assert!(ca.sign_device(&good, "k", DeviceRole::Kiosk, 1).is_ok());
        let der = CertificateSigningRequestDer::from_pem_slice(good.as_bytes()).unwrap();
        let mut bytes = der.as_ref().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        let forged = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", bytes));
        assert!(
            CertificateSigningRequestDer::from_pem_slice(forged.as_bytes()).is_ok(),
            "still a well-formed request"
        );
        assert!(matches!(
            ca.sign_device(&forged, "k", DeviceRole::Kiosk, 1),
            Err(PkiError::BadRequest(_))
        ));
    }

    #[test]
    fn the_server_certificate_names_the_hub_and_the_configured_names() {
        let names = server_names(
            &[
                "hub.centre.lan".into(),
                "10.1.2.3".into(),
                "localhost".into(),
            ],
            Some("192.168.1.5".parse().unwrap()),
            Some("hubbox"),
        );
        let shown: Vec<String> = names
            .iter()
            .map(|n| match n {
                SanType::DnsName(d) => d.as_str().to_owned(),
                SanType::IpAddress(ip) => ip.to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "hubbox",
                "hubbox.local",
                "192.168.1.5",
                "hub.centre.lan",
                "10.1.2.3"
            ]
        );
        let dir = tempfile::tempdir().unwrap();
        let ca = HubCa::load_or_create(dir.path(), "c1").unwrap();
        let cfg = ca.server_config(&[], None).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
