//! The PostgreSQL connection pool. Connections are plain TCP (headquarters and its
//! database sit in one data centre); nothing here knows about HTTP.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::HqError;

/// Connections the pool keeps at most.
const POOL_SIZE: usize = 16;

/// A pool on `database_url` (`postgres://user@host:port/db`). Connects lazily.
pub fn pool(database_url: &str) -> Result<Pool, HqError> {
    let mut cfg = tokio_postgres::Config::from_str(database_url)
        .map_err(|e| HqError::DatabaseUrl(e.to_string()))?;
    if cfg.get_application_name().is_none() {
        cfg.application_name("servicehall-hq");
    }
    let manager = Manager::from_config(
        cfg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(POOL_SIZE)
        .build()
        .map_err(|e| HqError::Pool(e.to_string()))
}

/// A pool error in words, with the database's own message when there is one.
pub fn pool_error_text(e: &PoolError) -> String {
    match e {
        PoolError::Backend(e) => db_error_text(e),
        other => other.to_string(),
    }
}

/// A database error with the server's message (tokio-postgres' Display says only "db error").
pub fn db_error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            text
        }
    }
}
