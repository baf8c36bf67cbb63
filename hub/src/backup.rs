//! Backup, verification and restore of the hub database (GB/T 5.6.2.2).
//!
//! A backup is one `VACUUM INTO` from a read connection: a consistent snapshot written in
//! one step while the writer goes on (small-step online backups restart on every write
//! and never finish on a busy hub). It is written under a temporary name, checked with
//! `PRAGMA integrity_check`, synced, then renamed into place, so a file named
//! `hub-*.db` in the backup directory is always a complete, verified database. The
//! oldest backups beyond `keep` are deleted.
//!
//! Restore goes into a stopped hub only (the hub holds `hub.lock` in its data directory
//! while it runs), keeps the database it replaces, and starts a new sync epoch so that
//! events written after the restore can never be mistaken by headquarters for the ones
//! it already holds under the same sequence numbers.
//!
//! A backup holds the database only, never the `pki/` folder beside it (the CA key and
//! the revocation list) nor the pepper: those need their own copy, kept apart. A restored
//! database may hold device certificates revoked after the backup was taken as active;
//! the hub revokes them again from `pki/revoked` when it opens (GB/T 5.4).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::watch;

use crate::store::{Store, StoreError};

/// The lock a running hub holds in its data directory.
pub const LOCK_FILE: &str = "hub.lock";
const PREFIX: &str = "hub-";
const SUFFIX: &str = ".db";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("backup {path}: {source}")]
    Db {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("{path} failed its integrity check: {detail}")]
    Damaged { path: PathBuf, detail: String },
    #[error("{0} is not a servicehall hub database")]
    NotAHubDatabase(PathBuf),
    #[error("the hub is running on {0}: stop it before restoring")]
    HubRunning(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_owned(),
        source,
    }
}

fn db(path: &Path) -> impl FnOnce(rusqlite::Error) -> BackupError + '_ {
    move |source| BackupError::Db {
        path: path.to_owned(),
        source,
    }
}

/// One finished, verified backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub path: PathBuf,
    pub bytes: u64,
    pub at: DateTime<Utc>,
    /// Time taken, snapshot plus verification.
    pub took: Duration,
}

/// Holds the data directory's lock while the hub runs.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data directory's lock; fails if another hub (or a restore) holds it.
pub fn lock_data_dir(data_dir: &Path) -> Result<DataDirLock, BackupError> {
    let path = data_dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::HubRunning(data_dir.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&path)(e)),
    }
}

/// Checks that `path` is a sound hub database: `integrity_check` says ok and it has the
/// hub's tables. Returns its schema version.
pub fn verify(path: &Path) -> Result<i64, BackupError> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db(path))?;
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(db(path))?;
    if result != "ok" {
        return Err(BackupError::Damaged {
            path: path.to_owned(),
            detail: result,
        });
    }
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('outbox', 'tickets', 'audit')",
            [],
            |r| r.get(0),
        )
        .map_err(db(path))?;
    if tables != 3 {
        return Err(BackupError::NotAHubDatabase(path.to_owned()));
    }
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(db(path))
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Writes a verified backup of the live database `db` into `dir` (created if missing),
/// from a read-only connection of its own: the hub's writer is never paused, and this
/// works from another process while the hub runs. Blocking: run it on a blocking thread.
pub fn backup_into(
    db_path: &Path,
    dir: &Path,
    now: DateTime<Utc>,
) -> Result<BackupInfo, BackupError> {
    let started = Instant::now();
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = format!("{PREFIX}{}{SUFFIX}", now.format("%Y%m%dT%H%M%S%.3fZ"));
    let final_path = dir.join(&name);
    let partial = dir.join(format!("{name}.partial"));
    let _ = std::fs::remove_file(&partial);
    let target = partial
        .to_str()
        .ok_or_else(|| BackupError::NotAHubDatabase(partial.clone()))?
        .to_owned();
    {
        let conn = Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(db(db_path))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(db(db_path))?;
        conn.execute("VACUUM INTO ?1", [target])
            .map_err(db(db_path))?;
    }
    let outcome = (|| {
        verify(&partial)?;
        File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(io(&partial))?;
        std::fs::rename(&partial, &final_path).map_err(io(&final_path))?;
        sync_dir(dir)
    })();
    if let Err(e) = outcome {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    let bytes = std::fs::metadata(&final_path)
        .map_err(io(&final_path))?
        .len();
    Ok(BackupInfo {
        path: final_path,
        bytes,
        at: now,
        took: started.elapsed(),
    })
}

/// The finished backups in `dir`, oldest first.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io(dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
            found.push(entry.path());
        }
    }
    // The names carry the UTC time, so name order is time order.
    found.sort();
    Ok(found)
}

/// Deletes the oldest backups so that at most `keep` remain; returns what was deleted.
pub fn rotate(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, BackupError> {
    let all = list(dir)?;
    let excess = all.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for path in all.into_iter().take(excess) {
        std::fs::remove_file(&path).map_err(io(&path))?;
        removed.push(path);
    }
    if !removed.is_empty() {
        sync_dir(dir)?;
    }
    Ok(removed)
}

/// What [`restore`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// Where the database that was replaced now is (none if there was none).
    pub previous: Option<PathBuf>,
    /// The sync epoch events written from now on belong to.
    pub epoch: i64,
}

/// Restores `backup` into the stopped hub's `data_dir`. Leaves `pki/` as it is: the CA
/// and its revocation list are not in a backup.
pub fn restore(backup: &Path, data_dir: &Path) -> Result<Restored, BackupError> {
    verify(backup)?;
    std::fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let _lock = lock_data_dir(data_dir)?;
    let live = data_dir.join(crate::DB_FILE);
    let incoming = data_dir.join(format!("{}.restoring", crate::DB_FILE));
    std::fs::copy(backup, &incoming).map_err(io(&incoming))?;
    File::open(&incoming)
        .and_then(|f| f.sync_all())
        .map_err(io(&incoming))?;
    let previous = if live.exists() {
        // The replaced database (with its write-ahead log folded in) is kept beside it.
        let keep = data_dir.join(format!(
            "{}.before-restore-{}",
            crate::DB_FILE,
            Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        {
            let conn = Connection::open(&live).map_err(db(&live))?;
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(db(&live))?;
        }
        std::fs::rename(&live, &keep).map_err(io(&keep))?;
        Some(keep)
    } else {
        None
    };
    for side in ["-wal", "-shm"] {
        let p = data_dir.join(format!("{}{side}", crate::DB_FILE));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&p)(e)),
        }
    }
    std::fs::rename(&incoming, &live).map_err(io(&live))?;
    sync_dir(data_dir)?;
    let epoch = crate::store::outbox::epoch_after_restore(&live, backup)?;
    Ok(Restored { previous, epoch })
}

/// Where, how often and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupPolicy {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

/// Takes a backup every `policy.every` until `shutdown`, rotating and auditing each.
pub async fn run(store: Store, policy: BackupPolicy, mut shutdown: watch::Receiver<bool>) {
    let first = tokio::time::Instant::now() + policy.every;
    let mut tick = tokio::time::interval_at(first, policy.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let db_path = store.path().to_owned();
        let p = policy.clone();
        let result = tokio::task::spawn_blocking(move || {
            let info = backup_into(&db_path, &p.dir, Utc::now())?;
            let removed = rotate(&p.dir, p.keep)?;
            Ok::<_, BackupError>((info, removed))
        })
        .await;
        let detail = match result {
            Ok(Ok((info, removed))) => {
                tracing::info!(
                    "backup {} ({} bytes, {} ms); {} old backup(s) removed",
                    info.path.display(),
                    info.bytes,
                    info.took.as_millis(),
                    removed.len()
                );
                Ok(format!(
                    "{} ({} bytes, verified)",
                    info.path.display(),
                    info.bytes
                ))
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("backup task failed: {e}")),
        };
        if let Err(e) = &detail {
            tracing::error!("backup failed: {e}");
        }
        let audited = store
            .write(move |ctx| {
                let actor = crate::store::Actor::system();
                match &detail {
                    Ok(d) => ctx.audit(&actor, "backup", d),
                    Err(e) => ctx.audit(&actor, "backup_failed", e),
                }
            })
            .await;
        if let Err(e) = audited {
            tracing::warn!("backup: cannot audit: {e}");
        }
    }
}
