//! Time as the hub records it: wall-clock time, whether that clock is known to be
//! synchronised, and a monotonic offset within this run of the hub (its "boot").
//!
//! Never decides a business date from an unsynchronised clock on its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use rusqlite::Connection;

use super::StoreError;

/// Where systemd-timesyncd says "the clock is synchronised".
const TIMESYNC_FLAG: &str = "/run/systemd/timesync/synchronized";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockStamp {
    pub synced: bool,
    pub boot: i64,
    pub mono_ms: i64,
}

#[derive(Debug)]
struct ClockInner {
    started: Instant,
    boot: std::sync::atomic::AtomicI64,
    /// Configured: trust the system clock without a sync signal (e.g. a board with an RTC).
    trusted: bool,
    flag: PathBuf,
}

/// The hub's view of time. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Clock {
    inner: Arc<ClockInner>,
}

impl Clock {
    pub fn new(trusted: bool) -> Clock {
        Clock::with_flag(trusted, PathBuf::from(TIMESYNC_FLAG))
    }

    /// A clock whose "synchronised" signal is the existence of `flag`.
    pub fn with_flag(trusted: bool, flag: PathBuf) -> Clock {
        Clock {
            inner: Arc::new(ClockInner {
                started: Instant::now(),
                boot: std::sync::atomic::AtomicI64::new(0),
                trusted,
                flag,
            }),
        }
    }

    /// True when the wall clock can be trusted for business dates.
    pub fn synced(&self) -> bool {
        self.inner.trusted || self.inner.flag.exists()
    }

    pub fn boot(&self) -> i64 {
        self.inner.boot.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn stamp(&self) -> ClockStamp {
        ClockStamp {
            synced: self.synced(),
            boot: self.boot(),
            mono_ms: i64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Numbers this run of the hub: every event carries the boot it was written in.
    pub(crate) fn record_boot(&self, conn: &Connection) -> Result<(), StoreError> {
        conn.execute(
            "INSERT INTO boots (started_at, clock_synced) VALUES (?1, ?2)",
            rusqlite::params![Utc::now(), self.synced()],
        )?;
        self.inner.boot.store(
            conn.last_insert_rowid(),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }
}
