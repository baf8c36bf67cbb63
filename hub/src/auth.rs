//! Staff secrets and session tokens: argon2id hashing (m = 19 MiB, t = 2, p = 1) and
//! random bearer tokens. Hashing is slow on purpose, so callers run it on a blocking
//! thread, never on the writer thread.
//!
//! The database never holds a plain argon2 hash: each is stored *peppered*, its hash
//! output replaced by HMAC-SHA256 under a secret kept outside the database (the pepper
//! file, never in a backup). A stolen database or backup alone cannot be used to try
//! PINs offline (GB/T 5.6.2: identity authentication, protection of stored secrets).

use std::path::Path;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Marks a peppered hash: `pep1|<the PHC string without its hash>|<hex HMAC>`.
const PEPPERED: &str = "pep1|";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("a PIN or password must be 4 to 128 characters")]
    BadLength,
    #[error("cannot hash the secret: {0}")]
    Hash(String),
    #[error("the pepper file {path}: {source}")]
    PepperFile {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The secret key of stored secret hashes, kept in a file outside the database.
#[derive(Clone)]
pub struct Pepper(Vec<u8>);

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper(..)")
    }
}

impl Pepper {
    pub fn from_bytes(bytes: &[u8]) -> Pepper {
        Pepper(bytes.to_vec())
    }

    /// Reads the pepper at `path`, or creates it (32 random bytes, hex, mode 0600).
    pub fn load_or_create(path: &Path) -> Result<Pepper, AuthError> {
        let err = |source| AuthError::PepperFile {
            path: path.to_owned(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let bytes = hex::decode(text.trim())
                    .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
                if bytes.len() < 16 {
                    return Err(err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "shorter than 16 bytes",
                    )));
                }
                Ok(Pepper(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = vec![0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                crate::write_private(path, &hex::encode(&bytes)).map_err(err)?;
                Ok(Pepper(bytes))
            }
            Err(e) => Err(err(e)),
        }
    }

    fn mac(&self) -> Option<Hmac<Sha256>> {
        Hmac::<Sha256>::new_from_slice(&self.0).ok()
    }
}

/// Stores `phc` (an argon2 PHC string) peppered; a hash already peppered is kept.
pub fn pepper_hash(phc: &str, pepper: &Pepper) -> Result<String, AuthError> {
    if phc.starts_with(PEPPERED) {
        return Ok(phc.to_owned());
    }
    let parsed = PasswordHash::new(phc).map_err(|e| AuthError::Hash(e.to_string()))?;
    let hash = parsed
        .hash
        .ok_or_else(|| AuthError::Hash("the PHC string has no hash".into()))?;
    let mut mac = pepper
        .mac()
        .ok_or_else(|| AuthError::Hash("unusable pepper".into()))?;
    mac.update(hash.as_bytes());
    let without_hash = PasswordHash {
        hash: None,
        ..parsed
    };
    Ok(format!(
        "{PEPPERED}{without_hash}|{}",
        hex::encode(mac.finalize().into_bytes())
    ))
}

/// Checks `secret` against a peppered hash.
fn verify_peppered(stored: &str, secret: &str, pepper: &Pepper) -> bool {
    let Some((phc, mac_hex)) = stored
        .strip_prefix(PEPPERED)
        .and_then(|rest| rest.rsplit_once('|'))
    else {
        return false;
    };
    let (Ok(parsed), Ok(expected)) = (PasswordHash::new(phc), hex::decode(mac_hex)) else {
        return false;
    };
    let (Ok(params), Some(salt)) = (Params::try_from(&parsed), parsed.salt) else {
        return false;
    };
    let (Ok(alg), Ok(version)) = (
        Algorithm::try_from(parsed.algorithm),
        Version::try_from(parsed.version.unwrap_or(0x13)),
    ) else {
        return false;
    };
    let Ok(computed) = Argon2::new(alg, version, params).hash_password(secret.as_bytes(), salt)
    else {
        return false;
    };
    let (Some(hash), Some(mut mac)) = (computed.hash, pepper.mac()) else {
        return false;
    };
    mac.update(hash.as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&expected).is_ok()
}

fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// An argon2id PHC string for a PIN or password.
pub fn hash_secret(secret: &str) -> Result<String, AuthError> {
    let len = secret.chars().count();
    if !(4..=128).contains(&len) {
        return Err(AuthError::BadLength);
    }
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(hasher()?
        .hash_password(secret.as_bytes(), &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?
        .to_string())
}

/// Checks `secret` against a stored hash, peppered or plain. With no stored hash, it
/// still spends the same time on a dummy hash so that unknown accounts cannot be told
/// apart by timing.
pub fn verify_secret(stored: Option<&str>, secret: &str, pepper: &Pepper) -> bool {
    if let Some(s) = stored
        && s.starts_with(PEPPERED)
    {
        return verify_peppered(s, secret, pepper);
    }
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_secret("not-a-real-secret").ok());
    let (hash, real) = match stored {
        Some(h) => (h, true),
        None => match dummy {
            Some(d) => (d.as_str(), false),
            None => return false,
        },
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    // The parameters come from the stored PHC string.
    let ok = Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// Whether `secret` is a password rather than a PIN: at least 10 characters and not only
/// digits.
pub fn is_password(secret: &str) -> bool {
    secret.chars().count() >= 10 && !secret.chars().all(|c| c.is_ascii_digit())
}

/// A fresh 256-bit bearer token, hex encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Lower-case letters and digits without look-alikes (no i, l, o, 0, 1).
pub const READABLE: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// `len` characters drawn uniformly from `alphabet`: passwords, codes read out or typed,
/// unguessable keys.
pub fn random_text(alphabet: &[u8], len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A readable random password for the first admin account.
pub fn new_password() -> String {
    random_text(READABLE, 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash_secret("1234").unwrap();
        let b = hash_secret("1234").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_ne!(a, b);
        let p = Pepper::from_bytes(&[7; 32]);
        assert!(verify_secret(Some(&a), "1234", &p));
        assert!(!verify_secret(Some(&a), "1235", &p));
        assert!(!verify_secret(None, "1234", &p));
        assert!(!verify_secret(Some("garbage"), "1234", &p));
        assert!(matches!(hash_secret("12"), Err(AuthError::BadLength)));
    }

    #[test]
    fn a_peppered_hash_needs_the_pepper() {
        let p = Pepper::from_bytes(&[7; 32]);
        let stored = pepper_hash(&hash_secret("1234").unwrap(), &p).unwrap();
        assert!(stored.starts_with("pep1|$argon2id$v=19$m=19456,t=2,p=1$"));
        // The plain argon2 output is not in what the database keeps.
        assert_eq!(stored.matches('|').count(), 2);
        assert!(verify_secret(Some(&stored), "1234", &p));
        assert!(!verify_secret(Some(&stored), "4321", &p));
        // Someone with the database (or a backup) but not the pepper file gets nowhere.
        let other = Pepper::from_bytes(&[8; 32]);
        assert!(!verify_secret(Some(&stored), "1234", &other));
        // Peppering twice changes nothing.
        assert_eq!(pepper_hash(&stored, &p).unwrap(), stored);
    }

    #[test]
    fn the_pepper_file_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pepper");
        let a = Pepper::load_or_create(&path).unwrap();
        let b = Pepper::load_or_create(&path).unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(a.0.len(), 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "zz").unwrap();
        assert!(Pepper::load_or_create(&path).is_err());
    }
}
