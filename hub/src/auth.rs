//! Staff secrets and session tokens: argon2id hashing (m = 19 MiB, t = 2, p = 1) and
//! random bearer tokens. Hashing is slow on purpose, so callers run it on a blocking
//! thread, never on the writer thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("a PIN or password must be 4 to 128 characters")]
    BadLength,
    #[error("cannot hash the secret: {0}")]
    Hash(String),
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

/// Checks `secret` against a stored hash. With no stored hash, it still spends the same
/// time on a dummy hash so that unknown accounts cannot be told apart by timing.
pub fn verify_secret(stored: Option<&str>, secret: &str) -> bool {
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

/// A fresh 256-bit bearer token, hex encoded.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A readable random password for the first admin account.
pub fn new_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
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
        assert!(verify_secret(Some(&a), "1234"));
        assert!(!verify_secret(Some(&a), "1235"));
        assert!(!verify_secret(None, "1234"));
        assert!(!verify_secret(Some("garbage"), "1234"));
        assert!(matches!(hash_secret("12"), Err(AuthError::BadLength)));
    }
}
