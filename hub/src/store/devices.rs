//! Enrolled devices and their pairing codes (GB/T 5.4, 5.6.2): which certificate
//! fingerprint belongs to which device and role, whether it was revoked, and the one-time
//! codes a device enrols with (kept only as hashes). Every pairing, enrolment, refusal
//! and revocation goes to the audit log in the same transaction.
//!
//! Holds fingerprints only, never a key or a certificate, and signs nothing (that is
//! `pki`'s job).

use chrono::{DateTime, Duration, Utc};
use protocol::devices::{DeviceRole, DeviceView, valid_device_id};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Actor, StoreError, WriteCtx};

/// Digits in a pairing code.
const CODE_DIGITS: usize = 8;

/// A certificate the hub issued, as the per-request check reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCert {
    pub fingerprint: String,
    pub device_id: String,
    pub role: DeviceRole,
    pub issued_at: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl DeviceCert {
    /// Neither revoked nor expired at `now`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.not_after
    }

    fn view(&self) -> DeviceView {
        DeviceView {
            device_id: self.device_id.clone(),
            role: self.role,
            fingerprint: self.fingerprint.clone(),
            enrolled_at: self.issued_at,
            not_after: self.not_after,
            revoked_at: self.revoked_at,
        }
    }
}

/// The certificate the CA just signed for an enrolling device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCert {
    pub fingerprint: String,
    pub not_after: DateTime<Utc>,
}

/// How a pairing code was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The certificate is recorded; earlier ones of the device id are revoked.
    Enrolled,
    /// Refused; the reason is for the audit log only (the device is told nothing more
    /// than "refused", so a guesser learns nothing).
    Refused(String),
}

fn invalid_device_id(id: &str) -> Result<(), StoreError> {
    if valid_device_id(id) {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "device_id",
            format!("`{id}` is not a device id: use 1 to 40 letters, digits, '-' or '_'"),
        ))
    }
}

/// The hash kept for a pairing code, or `None` unless the code is eight digits (the
/// `-` and spaces a person may type between them are ignored).
fn code_hash(code: &str) -> Option<String> {
    let digits: String = code.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
    (digits.len() == CODE_DIGITS && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| hex::encode(Sha256::digest(digits.as_bytes())))
}

fn role_of(text: &str) -> Result<DeviceRole, StoreError> {
    super::parse_code(text, "device role", |v| v.parse().ok())
}

/// GB/T 5.4: a one-time pairing code for `device_id` in `role`, valid `minutes`. Returns
/// the code as shown (`1234-5678`) and when it expires; only its hash is stored.
pub fn create_pairing(
    ctx: &mut WriteCtx<'_>,
    actor: &Actor,
    role: DeviceRole,
    device_id: &str,
    minutes: u32,
) -> Result<(String, DateTime<Utc>), StoreError> {
    invalid_device_id(device_id)?;
    let expires_at = ctx.now + Duration::minutes(i64::from(minutes));
    for _ in 0..16 {
        let digits = crate::auth::random_text(b"0123456789", CODE_DIGITS);
        let Some(hash) = code_hash(&digits) else {
            continue;
        };
        let taken = ctx
            .conn
            .prepare_cached("SELECT 1 FROM pairing_codes WHERE code_hash = ?1")?
            .exists([&hash])?;
        if taken {
            continue;
        }
        ctx.conn.execute(
            "INSERT INTO pairing_codes (code_hash, device_id, role, created_at, expires_at, created_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                hash,
                device_id,
                role.as_str(),
                ctx.now,
                expires_at,
                actor.staff_id.as_deref().or(actor.device.as_deref())
            ],
        )?;
        ctx.audit(
            actor,
            "device_pairing_created",
            &format!("pairing code for {role} device {device_id}, valid until {expires_at}"),
        )?;
        let shown = format!("{}-{}", &digits[..4], &digits[4..]);
        return Ok((shown, expires_at));
    }
    Err(StoreError::Internal(
        "no free pairing code after 16 tries".into(),
    ))
}

/// GB/T 5.4: redeems `code` for `device_id` in `role` and records the certificate `cert`
/// the CA signed for it. The code must exist, be unused and unexpired, and name this
/// device id and role; it is spent in the same transaction that records the certificate
/// and revokes the device id's earlier certificates. A refusal is audited (with `peer`)
/// and changes nothing else.
pub fn redeem_pairing(
    ctx: &mut WriteCtx<'_>,
    code: &str,
    device_id: &str,
    role: DeviceRole,
    cert: &NewCert,
    peer: &str,
) -> Result<Redeemed, StoreError> {
    let found = match code_hash(code) {
        None => None,
        Some(hash) => ctx
            .conn
            .prepare_cached(
                "SELECT code_hash, device_id, role, expires_at, used_at FROM pairing_codes WHERE code_hash = ?1",
            )?
            .query_row([&hash], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, DateTime<Utc>>(3)?,
                    r.get::<_, Option<DateTime<Utc>>>(4)?,
                ))
            })
            .optional()?,
    };
    let refusal = match &found {
        None => Some("no such pairing code".to_owned()),
        Some((_, _, _, _, Some(used))) => Some(format!("the code was already used at {used}")),
        Some((_, _, _, expires, None)) if *expires <= ctx.now => {
            Some(format!("the code expired at {expires}"))
        }
        Some((_, for_id, for_role, _, None))
            if for_id != device_id || for_role != role.as_str() =>
        {
            Some(format!("the code is for {for_role} device {for_id}"))
        }
        Some(_) => None,
    };
    let hash = match (refusal, found) {
        (None, Some((hash, ..))) => hash,
        (reason, _) => {
            let reason = reason.unwrap_or_else(|| "no such pairing code".into());
            ctx.audit(
                &Actor {
                    staff_id: None,
                    device: Some("unknown device".into()),
                },
                "enrol_refused",
                &format!("{peer} asked to enrol {role} device {device_id}: {reason}"),
            )?;
            return Ok(Redeemed::Refused(reason));
        }
    };
    ctx.conn.execute(
        "UPDATE pairing_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL",
        params![hash, ctx.now],
    )?;
    let earlier = ctx.conn.execute(
        "UPDATE device_certificates SET revoked_at = ?2, revoked_by = 're-enrolment'
         WHERE device_id = ?1 AND revoked_at IS NULL",
        params![device_id, ctx.now],
    )?;
    ctx.conn.execute(
        "INSERT INTO device_certificates (fingerprint, device_id, role, issued_at, not_after)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            cert.fingerprint,
            device_id,
            role.as_str(),
            ctx.now,
            cert.not_after
        ],
    )?;
    ctx.audit(
        &Actor {
            staff_id: None,
            device: Some(device_id.to_owned()),
        },
        "device_enrolled",
        &format!(
            "{role} device {device_id} enrolled from {peer}: certificate {} valid until {}; {earlier} earlier certificate(s) revoked",
            cert.fingerprint, cert.not_after
        ),
    )?;
    Ok(Redeemed::Enrolled)
}

fn cert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CertRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

type CertRow = (
    String,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn to_cert(row: CertRow) -> Result<DeviceCert, StoreError> {
    let (fingerprint, device_id, role, issued_at, not_after, revoked_at) = row;
    Ok(DeviceCert {
        fingerprint,
        device_id,
        role: role_of(&role)?,
        issued_at,
        not_after,
        revoked_at,
    })
}

const CERT_COLUMNS: &str = "fingerprint, device_id, role, issued_at, not_after, revoked_at";

/// GB/T 5.4: the certificate with this fingerprint, if the hub ever issued it (the check
/// made on every request, so a revocation takes effect at once).
pub fn device_for_fingerprint(
    conn: &Connection,
    fingerprint: &str,
) -> Result<Option<DeviceCert>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {CERT_COLUMNS} FROM device_certificates WHERE fingerprint = ?1"
    ))?
    .query_row([fingerprint], cert_row)
    .optional()?
    .map(to_cert)
    .transpose()
}

/// Every certificate of `device_id`, newest first.
fn certs_of(conn: &Connection, device_id: &str) -> Result<Vec<DeviceCert>, StoreError> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {CERT_COLUMNS} FROM device_certificates WHERE device_id = ?1"
        ))?
        .query_map([device_id], cert_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut certs = rows
        .into_iter()
        .map(to_cert)
        .collect::<Result<Vec<_>, _>>()?;
    certs.sort_by_key(|c| std::cmp::Reverse(c.issued_at));
    Ok(certs)
}

/// Every device ever enrolled, by id, each with its newest certificate.
pub fn list_devices(conn: &Connection) -> Result<Vec<DeviceView>, StoreError> {
    let rows = conn
        .prepare_cached(&format!(
            "SELECT {CERT_COLUMNS} FROM device_certificates ORDER BY device_id"
        ))?
        .query_map([], cert_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut newest: std::collections::BTreeMap<String, DeviceCert> = Default::default();
    for row in rows {
        let cert = to_cert(row)?;
        match newest.get(&cert.device_id) {
            Some(have) if have.issued_at >= cert.issued_at => {}
            _ => {
                newest.insert(cert.device_id.clone(), cert);
            }
        }
    }
    Ok(newest.values().map(DeviceCert::view).collect())
}

/// GB/T 5.4: revokes every certificate of `device_id`; its next request is refused.
/// Returns the device as it now stands (`unknown_device` if it was never enrolled).
pub fn revoke_device(
    ctx: &mut WriteCtx<'_>,
    actor: &Actor,
    device_id: &str,
) -> Result<DeviceView, StoreError> {
    invalid_device_id(device_id)?;
    let by = actor
        .staff_id
        .clone()
        .or_else(|| actor.device.clone())
        .unwrap_or_else(|| "hub".into());
    let revoked = ctx.conn.execute(
        "UPDATE device_certificates SET revoked_at = ?2, revoked_by = ?3
         WHERE device_id = ?1 AND revoked_at IS NULL",
        params![device_id, ctx.now, by],
    )?;
    let Some(newest) = certs_of(ctx.conn, device_id)?.into_iter().next() else {
        return Err(StoreError::Unknown(
            "unknown_device",
            format!("no device `{device_id}` was ever enrolled at this hub"),
        ));
    };
    ctx.audit(
        actor,
        "device_revoked",
        &format!(
            "{} device {device_id}: {revoked} certificate(s) revoked",
            newest.role
        ),
    )?;
    Ok(newest.view())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::clock::Clock;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::migrate(&mut c).unwrap();
        c
    }

    /// Runs `f` as the writer would, at the given moment.
    fn at<T>(
        conn: &Connection,
        now: DateTime<Utc>,
        f: impl FnOnce(&mut WriteCtx<'_>) -> Result<T, StoreError>,
    ) -> T {
        let mut ctx = WriteCtx {
            conn,
            now,
            stamp: Clock::new(true).stamp(),
            events: Vec::new(),
        };
        f(&mut ctx).unwrap()
    }

    fn admin() -> Actor {
        Actor {
            staff_id: Some("admin".into()),
            device: Some("counter-1".into()),
        }
    }

    fn cert(n: u8) -> NewCert {
        NewCert {
            fingerprint: format!("FP{n}"),
            not_after: Utc::now() + Duration::days(30),
        }
    }

    fn audit_actions(c: &Connection) -> Vec<String> {
        c.prepare("SELECT action FROM audit ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_pairing_code_is_one_time_bound_and_expires() {
        // GB/T 5.4
        let c = db();
        let t0 = Utc::now();
        let (code, expires) = at(&c, t0, |ctx| {
            create_pairing(ctx, &admin(), DeviceRole::Kiosk, "kiosk-1", 10)
        });
        assert_eq!(expires, t0 + Duration::minutes(10));
        assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "{code}");
        let stored: String = c
            .query_row("SELECT code_hash FROM pairing_codes", [], |r| r.get(0))
            .unwrap();
        assert!(!stored.contains(&code[..4]), "only a hash is kept");

        let redeem = |now, code: &str, id: &str, role, n| {
            at(&c, now, |ctx| {
                redeem_pairing(ctx, code, id, role, &cert(n), "10.0.0.9")
            })
        };
        // Bound to its device id and role.
        assert!(matches!(
            redeem(t0, &code, "kiosk-2", DeviceRole::Kiosk, 1),
            Redeemed::Refused(_)
        ));
        assert!(matches!(
            redeem(t0, &code, "kiosk-1", DeviceRole::Counter, 1),
            Redeemed::Refused(_)
        ));
        assert!(matches!(
            redeem(t0, "0000-000", "kiosk-1", DeviceRole::Kiosk, 1),
            Redeemed::Refused(_)
        ));
        // Expired after its window.
        let late = t0 + Duration::minutes(10);
        assert!(matches!(
            redeem(late, &code, "kiosk-1", DeviceRole::Kiosk, 1),
            Redeemed::Refused(r) if r.contains("expired")
        ));
        // Accepted as typed without the dash, once.
        let typed = code.replace('-', " ");
        assert_eq!(
            redeem(t0, &typed, "kiosk-1", DeviceRole::Kiosk, 1),
            Redeemed::Enrolled
        );
        assert!(matches!(
            redeem(t0, &code, "kiosk-1", DeviceRole::Kiosk, 2),
            Redeemed::Refused(r) if r.contains("already used")
        ));
        let d = device_for_fingerprint(&c, "FP1").unwrap().unwrap();
        assert_eq!(
            (d.device_id.as_str(), d.role),
            ("kiosk-1", DeviceRole::Kiosk)
        );
        assert!(d.active_at(Utc::now()));
        assert!(device_for_fingerprint(&c, "FP2").unwrap().is_none());
        assert_eq!(
            audit_actions(&c),
            [
                "device_pairing_created",
                "enrol_refused",
                "enrol_refused",
                "enrol_refused",
                "enrol_refused",
                "device_enrolled",
                "enrol_refused"
            ]
        );
    }

    #[test]
    fn re_enrolling_revokes_the_old_certificate_and_revoke_takes_them_all() {
        let c = db();
        let now = Utc::now();
        for n in 1..=2 {
            let (code, _) = at(&c, now + Duration::seconds(n.into()), |ctx| {
                create_pairing(ctx, &admin(), DeviceRole::Board, "board-1", 10)
            });
            let r = at(&c, now + Duration::seconds(n.into()), |ctx| {
                redeem_pairing(ctx, &code, "board-1", DeviceRole::Board, &cert(n), "peer")
            });
            assert_eq!(r, Redeemed::Enrolled);
        }
        let first = device_for_fingerprint(&c, "FP1").unwrap().unwrap();
        assert!(
            first.revoked_at.is_some(),
            "re-enrolment revokes the old one"
        );
        assert!(
            device_for_fingerprint(&c, "FP2")
                .unwrap()
                .unwrap()
                .active_at(now)
        );
        let list = list_devices(&c).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].fingerprint, "FP2");
        assert!(list[0].revoked_at.is_none());

        let view = at(&c, now, |ctx| revoke_device(ctx, &admin(), "board-1"));
        assert!(view.revoked_at.is_some());
        assert!(
            !device_for_fingerprint(&c, "FP2")
                .unwrap()
                .unwrap()
                .active_at(now)
        );
        let who: String = c
            .query_row(
                "SELECT revoked_by FROM device_certificates WHERE fingerprint = 'FP2'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(who, "admin");
        let mut ctx = WriteCtx {
            conn: &c,
            now,
            stamp: Clock::new(true).stamp(),
            events: Vec::new(),
        };
        assert!(matches!(
            revoke_device(&mut ctx, &admin(), "nobody"),
            Err(StoreError::Unknown("unknown_device", _))
        ));
        assert!(matches!(
            create_pairing(&mut ctx, &admin(), DeviceRole::Kiosk, "bad id", 10),
            Err(StoreError::Invalid { field, .. }) if field == "device_id"
        ));
    }
}
