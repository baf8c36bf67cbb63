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
use crate::pki::{HubCa, PKI_DIR};
use crate::store::{self, Actor, Clock, Store, StoreError};
use crate::{DB_FILE, HubError};

/// Who the command line on the hub box is in the audit log.
const CONSOLE: &str = "hub console";

/// A pairing code made on `store`, with the CA fingerprint the device must check.
pub(crate) async fn new_pairing(
    store: &Store,
    ca_fingerprint: String,
    minutes: u32,
    actor: Actor,
    role: DeviceRole,
    device_id: String,
) -> Result<Pairing, StoreError> {
    let id = device_id.clone();
    let (code, expires_at) = store
        .write(move |ctx| store::devices::create_pairing(ctx, &actor, role, &id, minutes))
        .await?;
    Ok(Pairing {
        code,
        role,
        device_id,
        expires_at,
        ca_fingerprint,
    })
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
        let ca = HubCa::load_or_create(&dir.join(PKI_DIR), &centre)?;
        let mut conn = open_db(&dir)?;
        let id = device_id.clone();
        let (code, expires_at) =
            store::with_raw_ctx(&mut conn, &Clock::new(trusted), move |ctx| {
                store::devices::create_pairing(ctx, &console(), role, &id, minutes)
            })?;
        Ok(Pairing {
            code,
            role,
            device_id,
            expires_at,
            ca_fingerprint: ca.fingerprint(),
        })
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

/// Revokes every certificate of `device_id` (its next request is refused) and returns
/// the device as it now stands.
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
        Ok(store::with_raw_ctx(
            &mut conn,
            &Clock::new(trusted),
            move |ctx| store::devices::revoke_device(ctx, &console(), &device_id),
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
