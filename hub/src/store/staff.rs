//! Staff accounts, login bookkeeping (failed attempts, lockout) and sessions. Secrets are
//! argon2id hashes (verified off the writer thread by `auth`); session tokens are stored
//! only as SHA-256 digests.

use chrono::{DateTime, Duration, Utc};
use domain::{Role, ServiceType, SkillGrant};
use protocol::{HubEvent, SessionView};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{StoreError, WriteCtx, parse_code};
use crate::config::{Config, StaffMember};

/// Who did something: a staff member, a device, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub staff_id: Option<String>,
    pub device: Option<String>,
}

impl Actor {
    pub fn system() -> Actor {
        Actor {
            staff_id: None,
            device: Some("hub".into()),
        }
    }
}

/// A logged-in staff member at a station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub staff_id: String,
    pub name: String,
    pub role: Role,
    pub counter: Option<u32>,
    pub device: Option<String>,
    pub services: Vec<ServiceType>,
    pub expires_at: DateTime<Utc>,
}

impl Session {
    pub fn actor(&self) -> Actor {
        Actor {
            staff_id: Some(self.staff_id.clone()),
            device: self.device.clone(),
        }
    }
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes the staff table match the configuration; staff no longer configured are
/// deactivated (their history stays).
pub fn sync_staff(ctx: &mut WriteCtx<'_>, staff: &[StaffMember]) -> Result<(), StoreError> {
    ctx.conn.execute("UPDATE staff SET active = 0", [])?;
    for s in staff {
        ctx.conn.execute(
            "INSERT INTO staff (id, name, role, secret_hash, active) VALUES (?1, ?2, ?3, ?4, 1)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role,
                 secret_hash = coalesce(excluded.secret_hash, staff.secret_hash), active = 1",
            params![s.id, s.name, s.role.code(), s.secret_hash],
        )?;
        ctx.conn
            .execute("DELETE FROM staff_skills WHERE staff_id = ?1", [&s.id])?;
        for g in &s.skills {
            ctx.conn.execute(
                "INSERT INTO staff_skills (staff_id, skill, valid_until) VALUES (?1, ?2, ?3)",
                params![s.id, g.skill.as_str(), g.valid_until],
            )?;
        }
    }
    Ok(())
}

/// What login needs to know before checking the secret.
#[derive(Debug, Clone)]
pub struct LoginCheck {
    pub record: StaffRecord,
    pub secret_hash: Option<String>,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct StaffRecord {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub skills: Vec<SkillGrant>,
}

pub fn load_login_check(
    conn: &Connection,
    staff_id: &str,
) -> Result<Option<LoginCheck>, StoreError> {
    let row = conn
        .query_row(
            "SELECT name, role, secret_hash, locked_until FROM staff WHERE id = ?1 AND active = 1",
            [staff_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<DateTime<Utc>>>(3)?,
                ))
            },
        )
        .optional()?;
    let Some((name, role, secret_hash, locked_until)) = row else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare_cached("SELECT skill, valid_until FROM staff_skills WHERE staff_id = ?1")?;
    let skills = stmt
        .query_map([staff_id], |r| {
            Ok(SkillGrant {
                skill: domain::Skill::new(r.get::<_, String>(0)?),
                valid_until: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(LoginCheck {
        record: StaffRecord {
            id: staff_id.to_owned(),
            name,
            role: parse_code(&role, "role", Role::from_code)?,
            skills,
        },
        secret_hash,
        locked_until,
    }))
}

fn locked_until(conn: &Connection, staff_id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT locked_until FROM staff WHERE id = ?1",
            [staff_id],
            |r| r.get::<_, Option<DateTime<Utc>>>(0),
        )
        .optional()?
        .flatten())
}

/// Counts a failed attempt; locks the account once the configured limit is reached.
/// Returns the lock's end if this attempt locked it.
pub fn record_login_failure(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    staff_id: &str,
    device: Option<String>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    // Re-checked here, in order with every other login: concurrent guesses that all
    // passed the first check do not get extra tries.
    if let Some(until) = locked_until(ctx.conn, staff_id)?
        && until > ctx.now
    {
        return Ok(Some(until));
    }
    let attempts: Option<u32> = ctx
        .conn
        .query_row(
            "UPDATE staff SET failed_attempts = failed_attempts + 1 WHERE id = ?1 RETURNING failed_attempts",
            [staff_id],
            |r| r.get(0),
        )
        .optional()?;
    let actor = Actor {
        staff_id: Some(staff_id.to_owned()),
        device,
    };
    let mut locked = None;
    if let Some(n) = attempts
        && n >= cfg.security.max_failed_logins
    {
        let until = ctx.now + Duration::minutes(i64::from(cfg.security.lockout_minutes));
        ctx.conn.execute(
            "UPDATE staff SET failed_attempts = 0, locked_until = ?2 WHERE id = ?1",
            params![staff_id, until],
        )?;
        ctx.audit(
            &actor,
            "login_locked",
            &format!("locked until {until} after {n} failed attempts"),
        )?;
        locked = Some(until);
    } else {
        ctx.audit(&actor, "login_failed", "wrong secret or unknown staff id")?;
    }
    Ok(locked)
}

/// Opens a session after the secret was verified. GB/T 5.2.3: the services offered are
/// those of the counter that the staff member is qualified for today.
pub fn start_session(
    ctx: &mut WriteCtx<'_>,
    cfg: &Config,
    staff: &StaffRecord,
    counter: Option<u32>,
    device: Option<String>,
    token: &str,
) -> Result<SessionView, StoreError> {
    if let Some(until) = locked_until(ctx.conn, &staff.id)?
        && until > ctx.now
    {
        return Err(StoreError::LockedOut(until));
    }
    let today = cfg.local_date(ctx.now);
    let services: Vec<ServiceType> = match counter {
        None => Vec::new(),
        Some(n) => {
            let c = cfg.counters.get(&n).ok_or_else(|| {
                StoreError::invalid("counter", format!("counter {n} is not configured"))
            })?;
            c.services
                .iter()
                .copied()
                .filter(|s| {
                    cfg.service(*s).is_some_and(|svc| {
                        domain::staff::qualified(&staff.skills, &svc.spec.required_skills, today)
                    })
                })
                .collect()
        }
    };
    let expires_at = ctx.now + Duration::hours(i64::from(cfg.security.session_hours));
    ctx.conn.execute(
        "UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE id = ?1",
        [&staff.id],
    )?;
    let codes: Vec<&str> = services.iter().map(|s| s.code()).collect();
    ctx.conn.execute(
        "INSERT INTO sessions (token_hash, staff_id, counter, device, services, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![hash_token(token), staff.id, counter, device, codes.join(","), ctx.now, expires_at],
    )?;
    let actor = Actor {
        staff_id: Some(staff.id.clone()),
        device,
    };
    ctx.emit(HubEvent::StaffLoggedIn {
        staff_id: staff.id.clone(),
        counter,
    })?;
    ctx.audit(
        &actor,
        "login",
        &format!("counter {counter:?}, services [{}]", codes.join(", ")),
    )?;
    Ok(SessionView {
        token: token.to_owned(),
        staff_id: staff.id.clone(),
        name: staff.name.clone(),
        role: staff.role,
        counter,
        services,
        expires_at,
    })
}

pub fn load_session(
    conn: &Connection,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Session, StoreError> {
    let row = conn
        .prepare_cached(
            "SELECT s.staff_id, st.name, st.role, s.counter, s.device, s.services, s.expires_at, s.ended_at, st.active
             FROM sessions s JOIN staff st ON st.id = s.staff_id WHERE s.token_hash = ?1",
        )?
        .query_row([token_hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<u32>>(3)?,
                r.get::<_, Option<String>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, DateTime<Utc>>(6)?,
                r.get::<_, Option<DateTime<Utc>>>(7)?,
                r.get::<_, bool>(8)?,
            ))
        })
        .optional()?;
    let Some((staff_id, name, role, counter, device, services, expires_at, ended_at, active)) = row
    else {
        return Err(StoreError::SessionExpired);
    };
    if ended_at.is_some() || expires_at <= now || !active {
        return Err(StoreError::SessionExpired);
    }
    let services = services
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse_code(s, "service", |c| c.parse().ok()))
        .collect::<Result<Vec<ServiceType>, _>>()?;
    Ok(Session {
        token_hash: token_hash.to_owned(),
        staff_id,
        name,
        role: parse_code(&role, "role", Role::from_code)?,
        counter,
        device,
        services,
        expires_at,
    })
}

pub fn end_session(ctx: &mut WriteCtx<'_>, session: &Session) -> Result<(), StoreError> {
    let n = ctx.conn.execute(
        "UPDATE sessions SET ended_at = ?2 WHERE token_hash = ?1 AND ended_at IS NULL",
        params![session.token_hash, ctx.now],
    )?;
    if n == 0 {
        return Err(StoreError::SessionExpired);
    }
    ctx.emit(HubEvent::StaffLoggedOut {
        staff_id: session.staff_id.clone(),
        counter: session.counter,
    })?;
    ctx.audit(&session.actor(), "logout", "")?;
    Ok(())
}

/// Counters with a staff member logged in now, in order.
pub(crate) fn open_counters(conn: &Connection, now: DateTime<Utc>) -> Result<Vec<u32>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT counter FROM sessions
         WHERE ended_at IS NULL AND expires_at > ?1 AND counter IS NOT NULL ORDER BY counter",
    )?;
    let counters = stmt
        .query_map([now], |r| r.get(0))?
        .collect::<Result<Vec<u32>, _>>()?;
    Ok(counters)
}

/// How many open sessions may serve `service` right now (for wait estimates).
pub(crate) fn counters_serving(
    conn: &Connection,
    service: ServiceType,
    now: DateTime<Utc>,
) -> Result<u32, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(DISTINCT counter) FROM sessions
             WHERE ended_at IS NULL AND expires_at > ?1 AND counter IS NOT NULL
               AND (',' || services || ',') LIKE ('%,' || ?2 || ',%')",
        )?
        .query_row(params![now, service.code()], |r| r.get(0))?)
}
