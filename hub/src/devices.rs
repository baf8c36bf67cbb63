//! Device enrolment from the hub's own side (GB/T 5.4): pairing codes for the all-in-one
//! launcher and for the command line on the hub box, the list of enrolled devices and
//! their revocation, on the same CA files and database as the running hub (so
//! fingerprints match).
//!
//! The standalone functions here never take the data-directory lock (the hub may be
//! running beside them) and never touch the staff table.

use std::path::Path;

use protocol::devices::{DeviceRole, DeviceView, Pairing};

use crate::config::Config;
use crate::pki::{HubCa, PKI_DIR, RevocationList};
use crate::store::{self, Actor, Clock, Store, StoreError, WriteCtx};
use crate::{DB_FILE, HubError};

/// Who the command line on the hub box is in the audit log.
const CONSOLE: &str = "hub console";

/// GB/T 5.4: a pairing code for `device_id` in `role`, valid `minutes`, with the CA
/// fingerprint the device must check: the one way a [`Pairing`] is made, for the API,
/// the all-in-one launcher and the command line alike.
fn make_pairing(
    ctx: &mut WriteCtx<'_>,
    actor: &Actor,
    role: DeviceRole,
    device_id: String,
    minutes: u32,
    ca_fingerprint: String,
) -> Result<Pairing, StoreError> {
    let (code, expires_at) = store::devices::create_pairing(ctx, actor, role, &device_id, minutes)?;
    Ok(Pairing {
        code,
        role,
        device_id,
        expires_at,
        ca_fingerprint,
    })
}

/// A pairing code made on `store` (see [`make_pairing`]).
pub(crate) async fn new_pairing(
    store: &Store,
    ca_fingerprint: String,
    minutes: u32,
    actor: Actor,
    role: DeviceRole,
    device_id: String,
) -> Result<Pairing, StoreError> {
    store
        .write(move |ctx| make_pairing(ctx, &actor, role, device_id, minutes, ca_fingerprint))
        .await
}

/// GB/T 5.4: hands revoked fingerprints to the hub's revocation list before the database
/// records them (see [`store::devices::KeepRevoked`]).
pub(crate) fn keep_on(list: &RevocationList) -> impl Fn(&[String]) -> Result<(), StoreError> + '_ {
    move |fingerprints| {
        list.append(fingerprints).map_err(|e| {
            StoreError::Internal(format!(
                "cannot add to the revocation list {}: {e}",
                list.path().display()
            ))
        })
    }
}

fn console() -> Actor {
    Actor {
        staff_id: None,
        device: Some(CONSOLE.into()),
    }
}

/// Opens the hub database in `data_dir` for one change or read, beside a running hub.
fn open_db(data_dir: &Path) -> Result<rusqlite::Connection, HubError> {
    let path = data_dir.join(DB_FILE);
    if !path.exists() {
        return Err(HubError::DataDir {
            path,
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "there is no hub database here: start the hub once first",
            ),
        });
    }
    Ok(store::open_write_connection(&path)?)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HubError::Store(StoreError::Internal(e.to_string())))?
}

/// A one-time pairing code for `device_id` in `role` (GB/T 5.4), made on the hub box.
/// The database must be there and the CA beside it: a mistyped data directory is an
/// error, never a new CA.
pub async fn pair(
    data_dir: &Path,
    cfg: &Config,
    role: DeviceRole,
    device_id: &str,
) -> Result<Pairing, HubError> {
    let (dir, centre) = (data_dir.to_owned(), cfg.centre.id.clone());
    let (minutes, trusted) = (cfg.security.pairing_minutes, cfg.day.clock_trusted);
    let device_id = device_id.to_owned();
    blocking(move || {
        let mut conn = open_db(&dir)?;
        let ca = HubCa::load(&dir.join(PKI_DIR), &centre)?;
        Ok(store::with_raw_ctx(
            &mut conn,
            &Clock::new(trusted),
            move |ctx| make_pairing(ctx, &console(), role, device_id, minutes, ca.fingerprint()),
        )?)
    })
    .await
}

/// Every device ever enrolled at the hub in `data_dir`, each with its newest certificate.
pub async fn list(data_dir: &Path, _cfg: &Config) -> Result<Vec<DeviceView>, HubError> {
    let dir = data_dir.to_owned();
    blocking(move || {
        let conn = open_db(&dir)?;
        Ok(store::devices::list_devices(&conn)?)
    })
    .await
}

/// Revokes every certificate of `device_id` (its next request is refused; each goes on
/// the revocation list in `pki/` first) and returns the device as it now stands.
pub async fn revoke(
    data_dir: &Path,
    cfg: &Config,
    device_id: &str,
) -> Result<DeviceView, HubError> {
    let dir = data_dir.to_owned();
    let trusted = cfg.day.clock_trusted;
    let device_id = device_id.to_owned();
    blocking(move || {
        let mut conn = open_db(&dir)?;
        let list = RevocationList::in_dir(&dir.join(PKI_DIR));
        Ok(store::with_raw_ctx(
            &mut conn,
            &Clock::new(trusted),
            move |ctx| store::devices::revoke_device(ctx, &console(), &device_id, &keep_on(&list)),
        )?)
    })
    .await
}

/// A cheap check that the hub's database answers, for the service watchdog (instead of
/// an HTTP call, which mutual TLS would make awkward).
#[derive(Debug, Clone)]
pub struct HealthProbe {
    pub(crate) store: Store,
}

impl HealthProbe {
    /// Ok when a trivial read of the database succeeds; the reason otherwise.
    pub async fn check(&self) -> Result<(), String> {
        self.store
            .read(|c| store::last_seq(c).map(|_| ()))
            .await
            .map_err(|e| format!("the hub database does not answer: {e}"))
    }
}
