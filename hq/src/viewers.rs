//! Who may read headquarters' report pages and set improvement targets (GB/T 5.6.2
//! identity authentication): a file of `name:argon2-hash` lines (hashes from
//! `servicehall hash-secret`), checked with HTTP Basic authentication, which every
//! browser asks for by itself. Ingest, health and the public status pages are not
//! behind it (they have their own rules).
//!
//! Keeps no password: a successful check is remembered for a few minutes by the SHA-256
//! of the name and password, so a page and its CSV do not cost an argon2 hash each.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::HqError;
use crate::problem::Problem;

/// How long a checked name and password are remembered.
const REMEMBER: Duration = Duration::from_secs(600);
/// How many remembered checks at most (beyond, the oldest half is forgotten).
const REMEMBERED_MAX: usize = 1000;

/// The report readers and the checks remembered.
#[derive(Debug)]
pub struct Viewers {
    users: HashMap<String, String>,
    remembered: Mutex<HashMap<[u8; 32], Instant>>,
}

impl Viewers {
    /// Reads `name:hash` lines; blank lines and `#` comments are skipped. An error names
    /// the file and line.
    pub fn load(path: &Path) -> Result<Viewers, HqError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| HqError::Invalid(format!("{}: {e}", path.display())))?;
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad =
                |why: &str| HqError::Invalid(format!("{} line {}: {why}", path.display(), n + 1));
            let (name, hash) = line.split_once(':').ok_or_else(|| {
                bad("write `name:hash` (the hash from `servicehall hash-secret`)")
            })?;
            if name.is_empty() {
                return Err(bad("the name is empty"));
            }
            PasswordHash::new(hash).map_err(|e| bad(&format!("not an argon2 hash: {e}")))?;
            users.insert(name.to_owned(), hash.to_owned());
        }
        if users.is_empty() {
            return Err(HqError::Invalid(format!(
                "{}: no report reader in the file",
                path.display()
            )));
        }
        Ok(Viewers {
            users,
            remembered: Mutex::new(HashMap::new()),
        })
    }

    /// Whether the `Authorization` header holds a reader's name and password.
    async fn admits(self: &Arc<Self>, authorization: Option<&HeaderValue>) -> bool {
        let Some((name, password)) = authorization.and_then(basic) else {
            return false;
        };
        let key: [u8; 32] = Sha256::new()
            .chain_update(name.as_bytes())
            .chain_update([0])
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        if let Ok(map) = self.remembered.lock()
            && map.get(&key).is_some_and(|t| t.elapsed() < REMEMBER)
        {
            return true;
        }
        let Some(hash) = self.users.get(&name).cloned() else {
            return false;
        };
        // argon2 takes tens of milliseconds: off the async threads.
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash).is_ok_and(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false);
        if ok && let Ok(mut map) = self.remembered.lock() {
            if map.len() >= REMEMBERED_MAX {
                map.retain(|_, t| t.elapsed() < REMEMBER / 2);
            }
            map.insert(key, Instant::now());
        }
        ok
    }
}

/// The name and password of a `Basic` authorization.
fn basic(value: &HeaderValue) -> Option<(String, String)> {
    let text = value.to_str().ok()?;
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (name, password) = decoded.split_once(':')?;
    Some((name.to_owned(), password.to_owned()))
}

/// Middleware: the request goes on only for a report reader; anyone else gets 401 with
/// the header that makes a browser ask for a name and password.
pub async fn require_viewer(
    State(viewers): State<Arc<Viewers>>,
    req: Request,
    next: Next,
) -> Response {
    if viewers
        .admits(req.headers().get(header::AUTHORIZATION))
        .await
    {
        return next.run(req).await;
    }
    let mut r = Problem::new(
        StatusCode::UNAUTHORIZED,
        "login_required",
        "the reports need a report reader's name and password",
    )
    .into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"servicehall headquarters\", charset=\"UTF-8\""),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_read_and_anything_else_is_not() {
        let v = HeaderValue::from_static("Basic emhhbmc6c2VjcmV0OnBhcnQ="); // zhang:secret:part
        assert_eq!(
            basic(&v),
            Some(("zhang".to_owned(), "secret:part".to_owned()))
        );
        assert_eq!(basic(&HeaderValue::from_static("Bearer abc")), None);
        assert_eq!(basic(&HeaderValue::from_static("Basic !!!")), None);
        assert_eq!(basic(&HeaderValue::from_static("Basic bm9jb2xvbg==")), None); // "nocolon"
    }

    #[test]
    fn a_readers_file_is_checked_line_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("readers");
        std::fs::write(&f, "# readers\n\nzhang:not-a-hash\n").unwrap();
        let e = Viewers::load(&f).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("argon2"), "{e}");
        std::fs::write(&f, "# nobody\n").unwrap();
        assert!(
            Viewers::load(&f)
                .unwrap_err()
                .to_string()
                .contains("no report reader")
        );
    }
}
