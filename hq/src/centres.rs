//! Centres and their ingest tokens. A token is 32 random bytes shown once when the centre
//! is added; only its SHA-256 is stored, so a copy of the database cannot send batches.

use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;

use crate::HqError;

/// Centre ids appear in URLs and keys: short, plain ASCII.
pub fn valid_centre_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// A fresh ingest token: 32 random bytes, hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn token_sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two digests in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Adds a centre (or gives an existing one a new name, offset and token) and returns the
/// new token, to be shown once.
pub async fn add_centre(
    client: &impl GenericClient,
    id: &str,
    name: &str,
    utc_offset_minutes: i32,
) -> Result<String, HqError> {
    if !valid_centre_id(id) {
        return Err(HqError::Invalid(format!(
            "centre id `{id}`: use 1 to 64 letters, digits, `-`, `_` or `.`"
        )));
    }
    if !(-14 * 60..=14 * 60).contains(&utc_offset_minutes) {
        return Err(HqError::Invalid(format!(
            "UTC offset {utc_offset_minutes} minutes is not a real time zone"
        )));
    }
    let token = new_token();
    let hash = token_sha256(&token).to_vec();
    client
        .execute(
            "INSERT INTO centres (centre_id, name, token_sha256, utc_offset_minutes)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (centre_id) DO UPDATE
               SET name = excluded.name, token_sha256 = excluded.token_sha256,
                   utc_offset_minutes = excluded.utc_offset_minutes",
            &[&id, &name, &hash, &utc_offset_minutes],
        )
        .await?;
    client
        .execute(
            "INSERT INTO projection_cursor (centre_id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&id],
        )
        .await?;
    Ok(token)
}

/// [`add_centre`] on the database at `database_url`, migrated first (a new installation).
pub async fn add_centre_to(
    database_url: &str,
    id: &str,
    name: &str,
    utc_offset_minutes: i32,
) -> Result<String, HqError> {
    let pool = crate::db::pool(database_url)?;
    let mut client = pool.get().await?;
    crate::migrate::migrate(&mut client).await?;
    let plain: &tokio_postgres::Client = &client;
    let token = add_centre(plain, id, name, utc_offset_minutes).await?;
    drop(client);
    pool.close();
    Ok(token)
}

/// Issues `centre_id` a new client certificate from `ca`, hands it to `keep` (which
/// writes it where the hub's operator picks it up), and only then records its SHA-256:
/// from that moment the centre's previous certificate is refused. A failure to keep the
/// new one leaves the old one working. The centre must exist.
pub async fn issue_certificate(
    client: &impl GenericClient,
    ca: &crate::pki::CentreCa,
    centre_id: &str,
    keep: impl FnOnce(&crate::pki::CentreCert) -> Result<(), HqError>,
) -> Result<crate::pki::CentreCert, HqError> {
    let exists = client
        .query_opt("SELECT 1 FROM centres WHERE centre_id = $1", &[&centre_id])
        .await?
        .is_some();
    if !exists {
        return Err(HqError::Invalid(format!(
            "no centre `{centre_id}`: add it first"
        )));
    }
    let cert = ca.issue(centre_id)?;
    keep(&cert)?;
    client
        .execute(
            "UPDATE centres SET client_cert_sha256 = $2 WHERE centre_id = $1",
            &[&centre_id, &cert.sha256.as_slice()],
        )
        .await?;
    Ok(cert)
}

/// [`issue_certificate`] on the database at `database_url`, migrated first.
pub async fn issue_certificate_to(
    database_url: &str,
    ca: &crate::pki::CentreCa,
    centre_id: &str,
    keep: impl FnOnce(&crate::pki::CentreCert) -> Result<(), HqError>,
) -> Result<crate::pki::CentreCert, HqError> {
    let pool = crate::db::pool(database_url)?;
    let mut client = pool.get().await?;
    crate::migrate::migrate(&mut client).await?;
    let plain: &tokio_postgres::Client = &client;
    let cert = issue_certificate(plain, ca, centre_id, keep).await;
    drop(client);
    pool.close();
    cert
}

/// Whether `presented` (a client certificate's SHA-256) is `centre_id`'s current one.
pub async fn certificate_is_current(
    client: &impl GenericClient,
    centre_id: &str,
    presented: &[u8; 32],
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT client_cert_sha256 FROM centres WHERE centre_id = $1",
            &[&centre_id],
        )
        .await?;
    let stored: Option<Vec<u8>> = match row {
        Some(r) => r.try_get(0)?,
        None => None,
    };
    Ok(stored.is_some_and(|s| constant_time_eq(&s, presented)))
}

/// The centre a bearer token belongs to, if any. The lookup uses the token's hash (an
/// attacker cannot steer a SHA-256 of their guess towards a stored one), then the stored
/// hash is compared again in constant time.
pub async fn centre_for_token(
    client: &impl GenericClient,
    token: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let hash = token_sha256(token);
    let rows = client
        .query(
            "SELECT centre_id, token_sha256 FROM centres WHERE token_sha256 = $1",
            &[&hash.as_slice()],
        )
        .await?;
    for row in rows {
        let stored: Vec<u8> = row.try_get(1)?;
        if constant_time_eq(&stored, &hash) {
            return Ok(Some(row.try_get(0)?));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hash_to_32_bytes() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(constant_time_eq(&token_sha256(&a), &token_sha256(&a)));
        assert!(!constant_time_eq(&token_sha256(&a), &token_sha256(&b)));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }

    #[test]
    fn centre_ids_are_plain() {
        assert!(valid_centre_id("sh-001"));
        assert!(!valid_centre_id(""));
        assert!(!valid_centre_id("a/b"));
        assert!(!valid_centre_id("上海"));
    }
}
