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

/// Called inside the transaction with the fingerprints about to be revoked, before the
/// change: keeps them outside the database too (`pki::RevocationList`), so that restoring
/// an older backup cannot bring them back. An error aborts the revocation.
pub type KeepRevoked<'a> = &'a dyn Fn(&[String]) -> Result<(), StoreError>;

/// GB/T 5.4: what the per-request check finds for a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    /// The hub never issued it (or its database does not know it).
    NotEnrolled,
    /// Revoked or expired.
    Inactive(DeviceCert),
    Active(DeviceCert),
}

/// The one check of a device id, with the one message (the API and the store share it).
pub fn check_device_id(id: &str) -> Result<(), StoreError> {
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
    check_device_id(device_id)?;
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

/// GB/T 5.4: whether `code` may enrol `device_id` in `role` at `now`: `None` if so, else
/// the reason (for the audit log only). A read: the enrolment checks it before the CA
/// signs anything, and [`redeem_pairing`] checks it again in its transaction.
pub fn check_pairing(
    conn: &Connection,
    code: &str,
    device_id: &str,
    role: DeviceRole,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    Ok(find_pairing(conn, code, device_id, role, now)?.err())
}

/// The unspent, unexpired code's hash, or why it cannot enrol `device_id` in `role`.
fn find_pairing(
    conn: &Connection,
    code: &str,
    device_id: &str,
    role: DeviceRole,
    now: DateTime<Utc>,
) -> Result<Result<String, String>, StoreError> {
    let Some(hash) = code_hash(code) else {
        return Ok(Err("no such pairing code".into()));
    };
    let found = conn
        .prepare_cached(
            "SELECT device_id, role, expires_at, used_at FROM pairing_codes WHERE code_hash = ?1",
        )?
        .query_row([&hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, DateTime<Utc>>(2)?,
                r.get::<_, Option<DateTime<Utc>>>(3)?,
            ))
        })
        .optional()?;
    Ok(match found {
        None => Err("no such pairing code".to_owned()),
        Some((_, _, _, Some(used))) => Err(format!("the code was already used at {used}")),
        Some((_, _, expires, None)) if expires <= now => {
            Err(format!("the code expired at {expires}"))
        }
        Some((for_id, for_role, _, None)) if for_id != device_id || for_role != role.as_str() => {
            Err(format!("the code is for {for_role} device {for_id}"))
        }
        Some(_) => Ok(hash),
    })
}

/// GB/T 5.6.2.3: audits a refused enrolment of `device_id` (validated) from `peer`.
pub fn refuse_enrolment(
    ctx: &mut WriteCtx<'_>,
    device_id: &str,
    role: DeviceRole,
    peer: &str,
    reason: &str,
) -> Result<(), StoreError> {
    ctx.audit(
        &Actor {
            staff_id: None,
            device: Some("unknown device".into()),
        },
        "enrol_refused",
        &format!("{peer} asked to enrol {role} device {device_id}: {reason}"),
    )
}

/// The fingerprints of `device_id`'s certificates not revoked yet.
fn unrevoked_of(conn: &Connection, device_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT fingerprint FROM device_certificates WHERE device_id = ?1 AND revoked_at IS NULL",
        )?
        .query_map([device_id], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?)
}

/// GB/T 5.4: redeems `code` for `device_id` in `role` and records the certificate `cert`
/// the CA signed for it. The code must exist, be unused and unexpired, and name this
/// device id and role; it is spent in the same transaction that records the certificate
/// and revokes the device id's earlier certificates (each handed to `keep` first). A
/// refusal is audited (with `peer`) and changes nothing else.
pub fn redeem_pairing(
    ctx: &mut WriteCtx<'_>,
    code: &str,
    device_id: &str,
    role: DeviceRole,
    cert: &NewCert,
    peer: &str,
    keep: KeepRevoked<'_>,
) -> Result<Redeemed, StoreError> {
    check_device_id(device_id)?;
    let hash = match find_pairing(ctx.conn, code, device_id, role, ctx.now)? {
        Ok(hash) => hash,
        Err(reason) => {
            refuse_enrolment(ctx, device_id, role, peer, &reason)?;
            return Ok(Redeemed::Refused(reason));
        }
    };
    ctx.conn.execute(
        "UPDATE pairing_codes SET used_at = ?2 WHERE code_hash = ?1 AND used_at IS NULL",
        params![hash, ctx.now],
    )?;
    let earlier = replace_certificates(ctx, device_id, role, cert, "re-enrolment", keep)?;
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

/// Records `cert` as `device_id`'s certificate in `role` and revokes its earlier ones
/// (each handed to `keep` first, `why` kept as who revoked them). Returns how many were
/// revoked.
fn replace_certificates(
    ctx: &mut WriteCtx<'_>,
    device_id: &str,
    role: DeviceRole,
    cert: &NewCert,
    why: &str,
    keep: KeepRevoked<'_>,
) -> Result<usize, StoreError> {
    let earlier = unrevoked_of(ctx.conn, device_id)?;
    if !earlier.is_empty() {
        keep(&earlier)?;
    }
    let earlier = ctx.conn.execute(
        "UPDATE device_certificates SET revoked_at = ?2, revoked_by = ?3
         WHERE device_id = ?1 AND revoked_at IS NULL",
        params![device_id, ctx.now, why],
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
    Ok(earlier)
}

/// GB/T 5.4: a device renews its own certificate before it expires, presenting the
/// current one (`presented`, its fingerprint): the new certificate `cert` keeps the
/// device's id and role, and every earlier one is revoked in the same transaction. A
/// certificate that is no longer active cannot renew (the device must be paired again).
pub fn renew_certificate(
    ctx: &mut WriteCtx<'_>,
    presented: &str,
    cert: &NewCert,
    keep: KeepRevoked<'_>,
) -> Result<DeviceCert, StoreError> {
    let current = match certificate_status(ctx.conn, presented, ctx.now)? {
        CertStatus::Active(c) => c,
        _ => {
            return Err(StoreError::invalid(
                "certificate",
                "this certificate is revoked or expired: pair the device again",
            ));
        }
    };
    let earlier =
        replace_certificates(ctx, &current.device_id, current.role, cert, "renewal", keep)?;
    ctx.audit(
        &Actor {
            staff_id: None,
            device: Some(current.device_id.clone()),
        },
        "device_renewed",
        &format!(
            "{} device {} renewed its certificate: {} valid until {}; {earlier} earlier certificate(s) revoked",
            current.role, current.device_id, cert.fingerprint, cert.not_after
        ),
    )?;
    Ok(current)
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

/// GB/T 5.4: [`device_for_fingerprint`] and whether it is active at `now`: the one check
/// of every request and of every open event stream.
pub fn certificate_status(
    conn: &Connection,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<CertStatus, StoreError> {
    Ok(match device_for_fingerprint(conn, fingerprint)? {
        None => CertStatus::NotEnrolled,
        Some(c) if c.active_at(now) => CertStatus::Active(c),
        Some(c) => CertStatus::Inactive(c),
    })
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

/// GB/T 5.4: revokes every certificate of `device_id` (each handed to `keep` first); its
/// next request is refused. Returns the device as it now stands (`unknown_device` if it
/// was never enrolled).
pub fn revoke_device(
    ctx: &mut WriteCtx<'_>,
    actor: &Actor,
    device_id: &str,
    keep: KeepRevoked<'_>,
) -> Result<DeviceView, StoreError> {
    check_device_id(device_id)?;
    let unrevoked = unrevoked_of(ctx.conn, device_id)?;
    if !unrevoked.is_empty() {
        keep(&unrevoked)?;
    }
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

/// GB/T 5.4: revokes each certificate in `fingerprints` (the hub's own revocation list)
/// that the database still holds active, e.g. after a backup from before its revocation
/// was restored; each is audited. Returns how many were revoked.
pub fn reapply_revocations(
    ctx: &mut WriteCtx<'_>,
    fingerprints: &[String],
) -> Result<usize, StoreError> {
    let mut revoked = 0;
    for fp in fingerprints {
        let Some(cert) = device_for_fingerprint(ctx.conn, fp)? else {
            continue;
        };
        if cert.revoked_at.is_some() {
            continue;
        }
        ctx.conn.execute(
            "UPDATE device_certificates SET revoked_at = ?2, revoked_by = 'revocation list'
             WHERE fingerprint = ?1 AND revoked_at IS NULL",
            params![fp, ctx.now],
        )?;
        ctx.audit(
            &super::Actor::system(),
            "device_revocation_reapplied",
            &format!(
                "{} device {}: certificate {fp} is on the hub's revocation list but was active in the database (restored from an older backup?): revoked again",
                cert.role, cert.device_id
            ),
        )?;
        revoked += 1;
    }
    Ok(revoked)
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

    fn keep_none(_: &[String]) -> Result<(), StoreError> {
        Ok(())
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
        let digits = code.replace('-', "");
        assert_eq!(
            stored,
            hex::encode(Sha256::digest(digits.as_bytes())),
            "only a hash is kept"
        );

        let redeem = |now, code: &str, id: &str, role, n| {
            at(&c, now, |ctx| {
                redeem_pairing(ctx, code, id, role, &cert(n), "10.0.0.9", &keep_none)
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
        // What would go to the hub's revocation list, in order.
        let kept = std::cell::RefCell::new(Vec::<String>::new());
        let now = Utc::now();
        for n in 1..=2 {
            let (code, _) = at(&c, now + Duration::seconds(n.into()), |ctx| {
                create_pairing(ctx, &admin(), DeviceRole::Board, "board-1", 10)
            });
            let r = at(&c, now + Duration::seconds(n.into()), |ctx| {
                redeem_pairing(
                    ctx,
                    &code,
                    "board-1",
                    DeviceRole::Board,
                    &cert(n),
                    "peer",
                    &|fps| {
                        kept.borrow_mut().extend_from_slice(fps);
                        Ok(())
                    },
                )
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

        assert_eq!(
            *kept.borrow(),
            ["FP1"],
            "re-enrolment keeps the old one revoked"
        );
        let view = at(&c, now, |ctx| {
            revoke_device(ctx, &admin(), "board-1", &|fps| {
                kept.borrow_mut().extend_from_slice(fps);
                Ok(())
            })
        });
        assert!(view.revoked_at.is_some());
        assert_eq!(*kept.borrow(), ["FP1", "FP2"]);
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
            revoke_device(&mut ctx, &admin(), "nobody", &keep_none),
            Err(StoreError::Unknown("unknown_device", _))
        ));
        assert!(matches!(
            create_pairing(&mut ctx, &admin(), DeviceRole::Kiosk, "bad id", 10),
            Err(StoreError::Invalid { field, .. }) if field == "device_id"
        ));
    }

    #[test]
    fn a_revocation_that_cannot_be_kept_is_not_made() {
        // GB/T 5.4: the revocation list outside the database is written first.
        let c = db();
        let now = Utc::now();
        let (code, _) = at(&c, now, |ctx| {
            create_pairing(ctx, &admin(), DeviceRole::Kiosk, "kiosk-1", 10)
        });
        at(&c, now, |ctx| {
            redeem_pairing(
                ctx,
                &code,
                "kiosk-1",
                DeviceRole::Kiosk,
                &cert(1),
                "p",
                &keep_none,
            )
        });
        let mut ctx = WriteCtx {
            conn: &c,
            now,
            stamp: Clock::new(true).stamp(),
            events: Vec::new(),
        };
        let refused = revoke_device(&mut ctx, &admin(), "kiosk-1", &|_| {
            Err(StoreError::Internal("disk full".into()))
        });
        assert!(matches!(refused, Err(StoreError::Internal(_))));
        assert!(
            device_for_fingerprint(&c, "FP1")
                .unwrap()
                .unwrap()
                .active_at(now)
        );
    }

    #[test]
    fn the_revocation_list_revokes_again_what_a_restore_brought_back() {
        // GB/T 5.4
        let c = db();
        let now = Utc::now();
        for (n, id) in [(1, "kiosk-1"), (2, "kiosk-2")] {
            let (code, _) = at(&c, now, |ctx| {
                create_pairing(ctx, &admin(), DeviceRole::Kiosk, id, 10)
            });
            at(&c, now, |ctx| {
                redeem_pairing(ctx, &code, id, DeviceRole::Kiosk, &cert(n), "p", &keep_none)
            });
        }
        let listed = ["FP1".to_owned(), "FP9".to_owned()];
        assert_eq!(at(&c, now, |ctx| reapply_revocations(ctx, &listed)), 1);
        assert!(matches!(
            certificate_status(&c, "FP1", now).unwrap(),
            CertStatus::Inactive(d) if d.device_id == "kiosk-1"
        ));
        assert!(matches!(
            certificate_status(&c, "FP2", now).unwrap(),
            CertStatus::Active(_)
        ));
        assert_eq!(
            certificate_status(&c, "FP9", now).unwrap(),
            CertStatus::NotEnrolled
        );
        // Applying it again changes nothing and audits nothing.
        assert_eq!(at(&c, now, |ctx| reapply_revocations(ctx, &listed)), 0);
        let actions = audit_actions(&c);
        assert_eq!(
            actions
                .iter()
                .filter(|a| *a == "device_revocation_reapplied")
                .count(),
            1
        );
    }
}
