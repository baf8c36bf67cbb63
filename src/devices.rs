//! Device enrolment from the command line (GB/T 5.4): pairing codes, the device list and
//! revocation on the hub's box; `servicehall enrol` on a device; and the all-in-one's
//! enrolment of its own simulated devices. The hub and the protocol crate do the work:
//! this module only prints what an operator needs to see.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Local;
use protocol::DeviceRole;
use protocol::identity::DeviceIdentity;

/// `servicehall devices pair`: prints the code, the fingerprint and the command to run on
/// the device.
pub(crate) async fn pair(
    data_dir: &Path,
    config: &hub::Config,
    role: DeviceRole,
    id: &str,
    hub_url: &str,
) -> Result<()> {
    let p = hub::devices::pair(data_dir, config, role, id)
        .await
        .with_context(|| format!("making a pairing code for {id}"))?;
    let until = p.expires_at.with_timezone(&Local).format("%H:%M");
    println!("配对码 pairing code:  {}", p.code);
    println!("设备 device:          {} ({})", p.device_id, p.role);
    println!("有效至 valid until:   {until} (once)");
    println!("中心证书指纹 hub CA fingerprint:");
    println!("  {}", p.ca_fingerprint);
    println!();
    println!("On the device, as its service user:");
    println!(
        "  servicehall enrol --hub {hub_url} --role {} --id {} --code {} --fingerprint {}",
        p.role, p.device_id, p.code, p.ca_fingerprint
    );
    Ok(())
}

/// `servicehall devices list`.
pub(crate) async fn list(data_dir: &Path, config: &hub::Config) -> Result<()> {
    let devices = hub::devices::list(data_dir, config).await?;
    if devices.is_empty() {
        println!("no enrolled devices (make a pairing code with `servicehall devices pair`)");
    }
    for d in devices {
        let state = match d.revoked_at {
            Some(t) => format!(
                "REVOKED {}",
                t.with_timezone(&Local).format("%Y-%m-%d %H:%M")
            ),
            None => format!(
                "valid until {}",
                d.not_after.with_timezone(&Local).format("%Y-%m-%d")
            ),
        };
        println!(
            "{:<20} {:<12} enrolled {}  {state}",
            d.device_id,
            d.role.as_str(),
            d.enrolled_at.with_timezone(&Local).format("%Y-%m-%d %H:%M")
        );
    }
    Ok(())
}

/// `servicehall devices revoke`.
pub(crate) async fn revoke(data_dir: &Path, config: &hub::Config, id: &str) -> Result<()> {
    hub::devices::revoke(data_dir, config, id)
        .await
        .with_context(|| format!("revoking {id}"))?;
    println!("{id} is revoked: the hub refuses its next call (enrol it again to bring it back)");
    Ok(())
}

/// `servicehall enrol`: makes this device's key, sends the pairing code and keeps the
/// certificate in `dir`.
pub(crate) async fn enrol(
    hub_url: &str,
    code: &str,
    fingerprint: &str,
    role: DeviceRole,
    id: &str,
    dir: &Path,
) -> Result<()> {
    let identity = protocol::identity::enrol(hub_url, code, fingerprint, id, role).await?;
    identity
        .save(dir)
        .with_context(|| format!("keeping the certificate in {}", dir.display()))?;
    println!(
        "enrolled as {id} ({role}); key and certificate in {} (start the {role} service now)",
        dir.display()
    );
    Ok(())
}

/// How long before its certificate expires a device renews it at start.
const RENEW_BEFORE: chrono::Duration = chrono::Duration::days(30);

/// Loads the identity in `dir` for an app, with a sentence that says what to do if the
/// device is not enrolled yet. `None` when no directory was given. A certificate with
/// less than [`RENEW_BEFORE`] left is renewed with the hub at `hub_url` first (GB/T 5.4);
/// if the hub cannot be reached the app starts with the one it has.
pub(crate) fn load_identity(
    dir: Option<&Path>,
    hub_url: &str,
) -> Result<Option<Arc<DeviceIdentity>>> {
    let Some(dir) = dir else { return Ok(None) };
    let identity = DeviceIdentity::load(dir)?;
    let due = identity
        .not_after()
        .is_none_or(|t| t - chrono::Utc::now() < RENEW_BEFORE);
    if !due {
        return Ok(Some(Arc::new(identity)));
    }
    let renewed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(protocol::identity::renew(hub_url, &identity));
    match renewed {
        Ok(new) => {
            new.save(dir)
                .with_context(|| format!("keeping the renewed certificate in {}", dir.display()))?;
            tracing::info!(
                "renewed this device's certificate; valid until {}",
                new.not_after().map(|t| t.to_string()).unwrap_or_default()
            );
            Ok(Some(Arc::new(new)))
        }
        Err(e) => {
            tracing::warn!("could not renew this device's certificate (it expires soon): {e}");
            Ok(Some(Arc::new(identity)))
        }
    }
}

/// The all-in-one's own devices, each with its identity under `<data>/devices/<id>`.
#[derive(Debug)]
pub(crate) struct OwnDevices {
    /// The kiosk's and counter's identity directories (they run as their own processes).
    pub kiosk: PathBuf,
    pub counter: PathBuf,
    pub board: Arc<DeviceIdentity>,
    pub dispenser: Arc<DeviceIdentity>,
    pub sms: Arc<DeviceIdentity>,
}

const OWN: [(&str, DeviceRole); 5] = [
    ("kiosk-1", DeviceRole::Kiosk),
    ("counter-1", DeviceRole::Counter),
    ("board-1", DeviceRole::Board),
    ("dispenser-1", DeviceRole::Kiosk),
    ("sms-gateway", DeviceRole::SmsGateway),
];

/// Pairing codes for the all-in-one's devices that have no working identity (made before
/// the hub serves, while the launcher still holds it): none yet, or one the hub no longer
/// accepts (revoked, expired, or from a CA this hub did not make).
pub(crate) async fn own_pairings(
    hub: &hub::OpenHub,
    data_dir: &Path,
    config: &hub::Config,
) -> Result<Vec<protocol::devices::Pairing>> {
    let enrolled = hub::devices::list(data_dir, config).await?;
    let now = chrono::Utc::now();
    let ca = hub.ca_fingerprint();
    let mut out = Vec::new();
    for (id, role) in OWN {
        let working = DeviceIdentity::load(&data_dir.join("devices").join(id)).is_ok_and(|i| {
            let mine = i.certificate_fingerprint();
            i.fingerprint_of_ca() == ca
                && enrolled.iter().any(|d| {
                    d.device_id == id
                        && d.fingerprint == mine
                        && d.revoked_at.is_none()
                        && d.not_after > now
                })
        });
        if working {
            continue;
        }
        out.push(
            hub.pairing(role, id)
                .await
                .with_context(|| format!("pairing {id}"))?,
        );
    }
    Ok(out)
}

/// Enrols the all-in-one's devices over the served hub, through the same path a real
/// device takes, and loads every identity.
pub(crate) async fn enrol_own(
    hub_url: &str,
    data_dir: &Path,
    pairings: Vec<protocol::devices::Pairing>,
) -> Result<OwnDevices> {
    for p in pairings {
        let dir = data_dir.join("devices").join(&p.device_id);
        let identity =
            protocol::identity::enrol(hub_url, &p.code, &p.ca_fingerprint, &p.device_id, p.role)
                .await
                .with_context(|| format!("enrolling {}", p.device_id))?;
        identity.save(&dir)?;
    }
    let load = |id: &str| -> Result<(PathBuf, Arc<DeviceIdentity>)> {
        let dir = data_dir.join("devices").join(id);
        let identity = DeviceIdentity::load(&dir)?;
        Ok((dir, Arc::new(identity)))
    };
    Ok(OwnDevices {
        kiosk: load("kiosk-1")?.0,
        counter: load("counter-1")?.0,
        board: load("board-1")?.1,
        dispenser: load("dispenser-1")?.1,
        sms: load("sms-gateway")?.1,
    })
}
