//! servicehall headquarters: takes in every centre's outbox exactly once into
//! PostgreSQL, keeps the projections the reports read, serves the report pages and the
//! public ticket status page.
//!
//! Identity of an event: `(centre_id, epoch, seq)` (see `protocol::sync`). Every table
//! carries `centre_id` in its primary and unique keys so it can be distributed by
//! `centre_id` with Citus unchanged.
//!
//! This crate is the only one that speaks SQL to PostgreSQL; it never writes to a hub.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{Notify, watch};

pub mod centres;
pub mod db;
pub mod html;
pub mod ingest;
pub mod migrate;
pub mod pki;
pub mod problem;
pub mod projector;
pub mod reports;
pub mod server;
pub mod status;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod viewers;

pub use server::{router, run, serve};

/// What every request handler gets.
#[derive(Clone, Debug)]
pub struct HqState {
    pub pool: deadpool_postgres::Pool,
    /// Woken after every ingest that stored something: the projector looks at once.
    pub projector_wake: Arc<Notify>,
    /// Ingest demands the centre's current client certificate (`hq::pki`).
    pub centre_certificates: bool,
    /// The report readers; `None` leaves the reports open (a private network only).
    pub viewers: Option<Arc<viewers::Viewers>>,
}

impl HqState {
    pub fn new(pool: deadpool_postgres::Pool) -> HqState {
        HqState {
            pool,
            projector_wake: Arc::new(Notify::new()),
            centre_certificates: false,
            viewers: None,
        }
    }
}

/// How to run headquarters.
#[derive(Debug, Clone)]
pub struct HqOptions {
    /// `postgres://user@host:port/db`
    pub database_url: String,
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate chain and private key (PEM files).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The directory of the centres' CA (`hq::pki`): with it (and `tls`), ingest also
    /// demands the centre's current client certificate.
    pub centre_ca: Option<PathBuf>,
    /// A file of report readers (`name:argon2-hash` lines): with it the report pages and
    /// targets need HTTP Basic authentication (`hq::viewers`).
    pub report_readers: Option<PathBuf>,
}

/// What can stop headquarters, in an operator's words.
#[derive(Debug, thiserror::Error)]
pub enum HqError {
    #[error("database URL: {0}")]
    DatabaseUrl(String),
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("database connection pool: {0}")]
    Pool(String),
    #[error(
        "the database has schema version {found}, newer than this build knows ({known}): \
         run a newer servicehall hq"
    )]
    NewerSchema { found: i32, known: i32 },
    #[error("migration {version} ({name}): {source}")]
    Migration {
        version: i32,
        name: &'static str,
        source: tokio_postgres::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    #[error("{0}")]
    Invalid(String),
}

impl From<deadpool_postgres::PoolError> for HqError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        HqError::Pool(db::pool_error_text(&e))
    }
}

/// A shutdown future from a watch channel (true = stop).
pub(crate) async fn until_true(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Turns any shutdown future into a watch channel many tasks can wait on.
pub(crate) fn shutdown_channel(
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    rx
}
