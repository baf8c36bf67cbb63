//! The servicehall hub: the one process per service centre that owns the SQLite store,
//! runs the queue engine and the GB/T 8.1 request lifecycle, keeps the audit log and the
//! outbox, and serves the devices over HTTP and WebSocket, with mutual TLS from its own
//! certificate authority (GB/T 5.4).
//!
//! `hub` is the only crate that writes to the database. It never talks to printers,
//! terminals or screens: devices call its API.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod auth;
pub mod backup;
pub mod config;
pub mod devices;
pub mod knowledge;
pub mod pki;
pub mod store;
pub mod sync;
#[cfg(feature = "testkit")]
pub mod testkit;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::{Config, ConfigError, Transport};
pub use devices::HealthProbe;
use protocol::devices::{DeviceRole, Pairing};
use store::{Actor, Clock, Store, StoreError};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "hub.db";
/// Where the first admin's password is written when no staff is configured.
pub const INITIAL_ADMIN_FILE: &str = "initial-admin-password";
/// File name of the pepper of stored secrets inside the data directory (by default).
pub const PEPPER_FILE: &str = "pepper";

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error("cannot serve HTTP: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Sync(#[from] sync::SyncError),
    #[error(transparent)]
    Backup(#[from] backup::BackupError),
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
}

/// Everything `run` needs besides the listener.
#[derive(Debug, Clone)]
pub struct HubOptions {
    pub data_dir: PathBuf,
    pub config: Config,
    /// Overrides the clock's "synchronised" signal (tests, boards with an RTC).
    pub clock: Option<Clock>,
    /// Open today's business day at start if none is open (the all-in-one demo, where
    /// starting the installation is the operator's explicit decision).
    pub open_day_on_start: bool,
}

/// The staff list the hub runs with: the configured staff, or (with none configured) one
/// `admin` account whose random password is written once to the data directory.
fn effective_staff(data_dir: &Path, cfg: &Config) -> Result<Vec<config::StaffMember>, HubError> {
    if !cfg.staff.is_empty() {
        return Ok(cfg.staff.clone());
    }
    let file = data_dir.join(INITIAL_ADMIN_FILE);
    let io = |source| HubError::DataDir {
        path: file.clone(),
        source,
    };
    let password = match std::fs::read_to_string(&file) {
        Ok(p) => p.trim().to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let p = auth::new_password();
            write_private(&file, &p).map_err(io)?;
            tracing::warn!(
                "no staff configured: created `admin` with the password in {}",
                file.display()
            );
            p
        }
        Err(e) => return Err(io(e)),
    };
    Ok(vec![config::StaffMember {
        id: "admin".into(),
        name: "Administrator".into(),
        role: domain::Role::Admin,
        secret_hash: Some(auth::hash_secret(&password)?),
        skills: domain::ServiceType::ALL
            .iter()
            .flat_map(|k| domain::ServiceSpec::default_for(*k).required_skills)
            .map(|skill| domain::SkillGrant {
                skill,
                valid_until: None,
            })
            .collect(),
    }])
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(path)?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

/// Opens the store in `data_dir` and brings the staff table in line with the config.
/// Returns the store and the pepper of stored secrets.
pub async fn open_store(opts: &HubOptions) -> Result<(Store, Arc<auth::Pepper>), HubError> {
    std::fs::create_dir_all(&opts.data_dir).map_err(|source| HubError::DataDir {
        path: opts.data_dir.clone(),
        source,
    })?;
    let clock = opts
        .clock
        .clone()
        .unwrap_or_else(|| Clock::new(opts.config.day.clock_trusted));
    let store = Store::open(&opts.data_dir.join(DB_FILE), clock)?;
    let pepper_path = opts
        .config
        .pepper_file
        .clone()
        .unwrap_or_else(|| opts.data_dir.join(PEPPER_FILE));
    let pepper = auth::Pepper::load_or_create(&pepper_path)?;
    // The database keeps only peppered hashes (see `auth`).
    let mut staff = effective_staff(&opts.data_dir, &opts.config)?;
    for member in &mut staff {
        if let Some(h) = &member.secret_hash {
            member.secret_hash = Some(auth::pepper_hash(h, &pepper)?);
        }
    }
    store
        .write(move |ctx| store::sync_staff(ctx, &staff))
        .await?;
    let unprinted = store.read(store::unprinted_tickets).await?;
    if !unprinted.is_empty() {
        const SHOWN: usize = 10;
        let numbers: Vec<&str> = unprinted
            .iter()
            .take(SHOWN)
            .map(|t| t.number.as_str())
            .collect();
        let more = unprinted.len().saturating_sub(SHOWN);
        tracing::warn!(
            "{} ticket(s) were issued but never confirmed printed: {}{}. Reprint or void them at a counter.",
            unprinted.len(),
            numbers.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    Ok((store, Arc::new(pepper)))
}

/// GB/T 5.4: revokes again every certificate on the hub's revocation list that the
/// database holds as active (a restored backup from before its revocation), audited.
async fn reapply_revocations(store: &Store, list: &pki::RevocationList) -> Result<(), HubError> {
    let listed = list.read().map_err(|source| HubError::DataDir {
        path: list.path().to_owned(),
        source,
    })?;
    if listed.is_empty() {
        return Ok(());
    }
    let n = store
        .write(move |ctx| store::devices::reapply_revocations(ctx, &listed))
        .await?;
    if n > 0 {
        tracing::warn!(
            "{n} device certificate(s) on the revocation list {} were active in the database (a backup from before their revocation?): revoked again",
            list.path().display()
        );
    }
    Ok(())
}

/// Opens the business day by itself at the configured hour, but only once the clock is
/// trustworthy (an unsynchronised clock never picks a business date).
async fn auto_day(store: Store, cfg: Arc<Config>, mut shutdown: watch::Receiver<bool>) {
    let Some(open_at) = cfg.day.auto_open_at else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        if !store.clock().synced() {
            continue;
        }
        let now = Utc::now().with_timezone(&cfg.centre.utc_offset);
        let date = now.date_naive();
        let close_at = cfg.day.auto_close_at;
        let result = store
            .write(move |ctx| {
                let open = store::current_day(ctx.conn)?;
                let actor = Actor::system();
                match open {
                    Some(day) if day.date < date || close_at.is_some_and(|c| now.time() >= c) => {
                        store::close_day(ctx, &actor).map(|_| ())
                    }
                    None if now.time() >= open_at
                        && close_at.is_none_or(|c| now.time() < c)
                        && !store::day::day_exists(ctx.conn, date)? =>
                    {
                        store::open_day(ctx, &actor, date).map(|_| ())
                    }
                    _ => Ok(()),
                }
            })
            .await;
        if let Err(e) = result {
            tracing::warn!("automatic business day: {e}");
        }
    }
}

/// Every 30 s: appointments whose check-in window closed become no-shows (GB/T 8.1),
/// and the text-message queue's housekeeping runs ("turn is near", expired leases).
async fn maintenance(store: Store, cfg: Arc<Config>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        // GB/T 5.4: personal data past its retention is erased, at start and hourly.
        if ticks.is_multiple_of(120) && store.clock().synced() {
            let days = cfg.retention_days;
            match store
                .write(move |ctx| store::retention::sweep(ctx, days))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!("retention: erased {n} customer(s)' personal data"),
                Err(e) => tracing::warn!("retention: {e}"),
            }
        }
        ticks += 1;
        // A clock that is wrong would turn future appointments into no-shows.
        if !store.clock().synced() {
            continue;
        }
        let cfg = cfg.clone();
        let result = store
            .write(move |ctx| {
                store::appointments::sweep_no_shows(ctx, &cfg)?;
                store::sms::tick(ctx, &cfg)
            })
            .await;
        if let Err(e) = result {
            tracing::warn!("maintenance: {e}");
        }
    }
}

/// A hub whose database is open and ready, not yet serving.
#[derive(Debug)]
pub struct OpenHub {
    store: Store,
    cfg: Arc<Config>,
    pepper: Arc<auth::Pepper>,
    data_dir: PathBuf,
    /// Held while the hub runs: a second hub or a restore on this directory is refused.
    lock: backup::DataDirLock,
    /// GB/T 5.4: the hub's own certificate authority for its devices.
    ca: Arc<pki::HubCa>,
}

impl OpenHub {
    /// Opens the store, syncs staff and (if asked) opens today's business day.
    pub async fn open(opts: HubOptions) -> Result<OpenHub, HubError> {
        std::fs::create_dir_all(&opts.data_dir).map_err(|source| HubError::DataDir {
            path: opts.data_dir.clone(),
            source,
        })?;
        let lock = backup::lock_data_dir(&opts.data_dir)?;
        let (store, pepper) = open_store(&opts).await?;
        let data_dir = opts.data_dir.clone();
        let ca = Arc::new(pki::HubCa::load_or_create(
            &data_dir.join(pki::PKI_DIR),
            &opts.config.centre.id,
        )?);
        reapply_revocations(&store, ca.revocations()).await?;
        let cfg = Arc::new(opts.config);
        if opts.open_day_on_start {
            let date = cfg.local_date(Utc::now());
            store
                .write(move |ctx| match store::current_day(ctx.conn)? {
                    Some(_) => Ok(()),
                    None if store::day::day_exists(ctx.conn, date)? => Ok(()),
                    None => store::open_day(ctx, &Actor::system(), date).map(|_| ()),
                })
                .await?;
        }
        Ok(OpenHub {
            store,
            cfg,
            pepper,
            data_dir,
            lock,
            ca,
        })
    }

    /// SHA-256 of the hub's CA certificate (`AB12:CD34:…`): what a device being set up
    /// is told to expect.
    pub fn ca_fingerprint(&self) -> String {
        self.ca.fingerprint()
    }

    /// GB/T 5.4: a one-time pairing code for `device_id` in `role` (for the all-in-one
    /// launcher to enrol its own devices), valid `security.pairing_minutes`.
    pub async fn pairing(&self, role: DeviceRole, device_id: &str) -> Result<Pairing, HubError> {
        Ok(devices::new_pairing(
            &self.store,
            self.ca.fingerprint(),
            self.cfg.security.pairing_minutes,
            Actor::system(),
            role,
            device_id.to_owned(),
        )
        .await?)
    }

    /// A handle the service watchdog can use to check the database answers, without HTTP.
    pub fn health_probe(&self) -> HealthProbe {
        HealthProbe {
            store: self.store.clone(),
        }
    }

    /// The API router on this hub's store without serving it, for request-level tests and
    /// fuzzing. Its event streams end at once (there is no shutdown signal to wait for).
    /// With `security.transport = "mtls"` the device checks apply, and a request that did
    /// not come over TLS shows no certificate: only enrolment and health answer.
    pub fn router(&self) -> axum::Router {
        let (_, never) = watch::channel(true);
        api::router(api::AppState {
            store: self.store.clone(),
            cfg: self.cfg.clone(),
            shutdown: never,
            pepper: self.pepper.clone(),
            login_limiter: api::LoginLimiter::new(self.cfg.security.failed_logins_per_minute),
            enrol_limit: api::HubWideLimit::new(api::REFUSED_ENROLMENTS_PER_MINUTE),
            refusals: api::RefusalLog::default(),
            ca: self.ca.clone(),
        })
    }

    /// Serves on `listener` until `shutdown` completes, then stops the event streams,
    /// finishes queued writes and closes the database.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), HubError> {
        let OpenHub {
            store,
            cfg,
            pepper,
            data_dir,
            lock,
            ca,
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        let auto = tokio::spawn(auto_day(store.clone(), cfg.clone(), stop_rx.clone()));
        let upkeep = tokio::spawn(maintenance(store.clone(), cfg.clone(), stop_rx.clone()));
        let uplink = match &cfg.hq {
            Some(link) => {
                let uplink = sync::Uplink::new(link, &cfg.centre.id)?;
                tracing::info!("syncing events to headquarters at {}", link.url);
                Some(tokio::spawn(sync::run(
                    uplink,
                    store.clone(),
                    stop_rx.clone(),
                )))
            }
            None => None,
        };
        let backups = cfg.backup.as_ref().map(|b| {
            let policy = backup::BackupPolicy {
                dir: data_dir.join(&b.dir),
                every: Duration::from_secs(u64::from(b.every_minutes) * 60),
                keep: b.keep as usize,
            };
            tokio::spawn(backup::run(store.clone(), policy, stop_rx.clone()))
        });
        let login_limiter = api::LoginLimiter::new(cfg.security.failed_logins_per_minute);
        let transport = cfg.security.transport;
        let tls = match transport {
            Transport::Mtls => Some(ca.server_config(
                &cfg.security.server_names,
                listener.local_addr().ok().map(|a| a.ip()),
            )?),
            Transport::Plain => None,
        };
        let app = api::router(api::AppState {
            store: store.clone(),
            cfg,
            shutdown: stop_rx,
            pepper,
            login_limiter,
            enrol_limit: api::HubWideLimit::new(api::REFUSED_ENROLMENTS_PER_MINUTE),
            refusals: api::RefusalLog::default(),
            ca: ca.clone(),
        });
        let served = match tls {
            None => {
                if let Ok(addr) = listener.local_addr() {
                    tracing::warn!(
                        "hub listening on http://{addr} WITHOUT TLS (security.transport = \"plain\"): \
                         devices are not authenticated and anyone on this network can read and \
                         call everything; for tests and development only"
                    );
                }
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
                )
                .with_graceful_shutdown(async move {
                    shutdown.await;
                    let _ = stop_tx.send(true);
                })
                .await
            }
            Some(tls) => serve_mtls(listener, app, tls, &ca, shutdown, stop_tx).await,
        };
        let _ = auto.await;
        let _ = upkeep.await;
        if let Some(task) = uplink {
            let _ = task.await;
        }
        if let Some(task) = backups {
            let _ = task.await;
        }
        store.close();
        drop(store);
        drop(lock);
        tracing::info!("hub stopped");
        served.map_err(HubError::Serve)
    }
}

/// GB/T 5.4: serves `app` over TLS with client certificates checked against the hub's
/// CA, until `shutdown` completes (then stops the event streams and drains connections).
async fn serve_mtls(
    listener: TcpListener,
    app: axum::Router,
    tls: rustls::ServerConfig,
    ca: &pki::HubCa,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stop_tx: watch::Sender<bool>,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let stop_tx = Arc::new(stop_tx);
    let handle = axum_server::Handle::new();
    let on_shutdown = {
        let (handle, stop_tx) = (handle.clone(), stop_tx.clone());
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
            handle.graceful_shutdown(Some(Duration::from_secs(10)));
        })
    };
    tracing::info!(
        "hub listening on https://{addr} (mutual TLS; CA fingerprint {})",
        ca.fingerprint()
    );
    let std_listener = listener.into_std()?;
    let served = async {
        axum_server::from_tcp_rustls(
            std_listener,
            axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls)),
        )?
        .handle(handle)
        // A client that connects and says nothing is let go.
        .first_request_timeout(Duration::from_secs(30))
        .accept_error_handler(|peer, e| {
            tracing::info!(
                "TLS connection from {} refused: {e}",
                peer.map_or_else(|| "an unknown address".to_owned(), ToString::to_string)
            );
        })
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
    }
    .await;
    // Whatever ended the server, the background tasks stop too.
    let _ = stop_tx.send(true);
    on_shutdown.abort();
    served
}

/// [`OpenHub::open`] then [`OpenHub::serve`].
pub async fn run(
    listener: TcpListener,
    opts: HubOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), HubError> {
    OpenHub::open(opts).await?.serve(listener, shutdown).await
}
