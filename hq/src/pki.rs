//! Headquarters' certificate authority for the centres (GB/T 5.6.2): each hub sends its
//! events with a client certificate naming its centre, issued here, on top of its ingest
//! token. Headquarters keeps the SHA-256 of each centre's current certificate, so issuing
//! a new one refuses the old at once.
//!
//! This module makes and signs certificates; it never decides who may ingest (that is
//! `server`'s check against the stored fingerprint).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::HqError;

const CA_CERT: &str = "centres-ca.pem";
const CA_KEY: &str = "centres-ca.key";
/// How long a centre's certificate is valid.
pub const CENTRE_CERT_DAYS: i64 = 825;

/// The CA in a directory of headquarters' own (created there on first use).
#[derive(Debug)]
pub struct CentreCa {
    dir: PathBuf,
    cert_pem: String,
    key_pem: String,
}

/// A centre's new certificate and the key made for it, to hand to its hub with the token.
#[derive(Debug)]
pub struct CentreCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub sha256: [u8; 32],
}

fn tls_err(what: &str, e: impl std::fmt::Display) -> HqError {
    HqError::Tls(format!("{what}: {e}"))
}

fn io_err(path: &Path, e: std::io::Error) -> HqError {
    HqError::Tls(format!("{}: {e}", path.display()))
}

/// Writes `text` to `path` atomically, readable by the owner only.
pub fn write_private(path: &Path, text: &str) -> Result<(), HqError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    protocol::identity::write_private(path, text.as_bytes(), 0o600).map_err(|e| io_err(path, e))
}

/// SHA-256 of a certificate's DER.
pub fn cert_sha256(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

fn der_of(pem: &str) -> Result<CertificateDer<'static>, HqError> {
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| tls_err("certificate", e))
}

impl CentreCa {
    /// Loads the CA from `dir`, creating it (10 years, ECDSA P-256) if it is not there.
    pub fn load_or_create(dir: &Path) -> Result<CentreCa, HqError> {
        let cert_path = dir.join(CA_CERT);
        let key_path = dir.join(CA_KEY);
        if cert_path.exists() {
            let cert_pem =
                std::fs::read_to_string(&cert_path).map_err(|e| io_err(&cert_path, e))?;
            let key_pem = std::fs::read_to_string(&key_path).map_err(|e| io_err(&key_path, e))?;
            return Ok(CentreCa {
                dir: dir.to_owned(),
                cert_pem,
                key_pem,
            });
        }
        let key = KeyPair::generate().map_err(|e| tls_err("making the CA key", e))?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "servicehall headquarters centres CA");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = time_now();
        params.not_before = now - rcgen_days(1);
        params.not_after = now + rcgen_days(3650);
        let cert = params
            .self_signed(&key)
            .map_err(|e| tls_err("signing the CA", e))?;
        // The key first: a certificate without its key would be a CA that cannot sign.
        write_private(&key_path, &key.serialize_pem())?;
        write_private(&cert_path, &cert.pem())?;
        tracing::info!("created the centres' CA in {}", dir.display());
        Ok(CentreCa {
            dir: dir.to_owned(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ca_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, for the server's client verifier.
    pub fn ca_der(&self) -> Result<CertificateDer<'static>, HqError> {
        der_of(&self.cert_pem)
    }

    /// A new key and client certificate for `centre_id` (CN = the centre id).
    pub fn issue(&self, centre_id: &str) -> Result<CentreCert, HqError> {
        let ca_key = KeyPair::from_pem(&self.key_pem).map_err(|e| tls_err("the CA key", e))?;
        let ca_params = CertificateParams::from_ca_cert_pem(&self.cert_pem)
            .map_err(|e| tls_err("the CA certificate", e))?;
        let issuer = ca_params
            .self_signed(&ca_key)
            .map_err(|e| tls_err("the CA certificate", e))?;
        let key = KeyPair::generate().map_err(|e| tls_err("making the centre key", e))?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, centre_id);
        name.push(DnType::OrganizationalUnitName, "centre");
        params.distinguished_name = name;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let mut serial = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut serial);
        serial[0] &= 0x7f;
        params.serial_number = Some(serial.to_vec().into());
        let now = time_now();
        params.not_before = now - rcgen_days(1);
        params.not_after = now + rcgen_days(CENTRE_CERT_DAYS);
        let cert = params
            .signed_by(&key, &issuer, &ca_key)
            .map_err(|e| tls_err("signing the centre certificate", e))?;
        Ok(CentreCert {
            sha256: cert_sha256(cert.der()),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// A TLS server configuration (ring) that serves `certs`/`key` and asks every client
    /// for a certificate from this CA without demanding one: health, reports and status
    /// pages stay open to browsers; ingest checks the certificate itself.
    pub fn server_config(
        &self,
        certs: Vec<CertificateDer<'static>>,
        key: rustls::pki_types::PrivateKeyDer<'static>,
    ) -> Result<rustls::ServerConfig, HqError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.ca_der()?)
            .map_err(|e| tls_err("the centres' CA", e))?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| tls_err("the client verifier", e))?;
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_err("TLS versions", e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs, key)
            .map_err(|e| tls_err("the server certificate", e))
    }
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rcgen_days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_and_signs_centre_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CentreCa::load_or_create(dir.path()).unwrap();
        let again = CentreCa::load_or_create(dir.path()).unwrap();
        assert_eq!(ca.ca_pem(), again.ca_pem());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CA_KEY))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the CA key is private");
        }
        let a = again.issue("c1").unwrap();
        let b = again.issue("c1").unwrap();
        assert_ne!(a.sha256, b.sha256, "each issue is a new certificate");
        let der = der_of(&a.cert_pem).unwrap();
        assert_eq!(cert_sha256(&der), a.sha256);
        // It chains to the CA as a client certificate.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.ca_der().unwrap()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.into(),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        verifier
            .verify_client_cert(&der, &[], rustls::pki_types::UnixTime::now())
            .expect("a centre certificate verifies against the CA");
    }
}
