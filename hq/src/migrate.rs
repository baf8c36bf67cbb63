//! The schema: numbered SQL files compiled into the binary, applied in order at start in
//! one transaction and recorded in `schema_migrations`. Append-only: a landed migration is
//! never edited; a database newer than this build is refused, never "repaired".

use tokio_postgres::Client;

use crate::HqError;

/// Every migration this build knows, in order: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "events", include_str!("../migrations/0001_events.sql")),
    (2, "reports", include_str!("../migrations/0002_reports.sql")),
    (
        3,
        "centre_certificates",
        include_str!("../migrations/0003_centre_certificates.sql"),
    ),
];

/// An arbitrary fixed key: two headquarters starting at once migrate one after the other.
const MIGRATION_LOCK: i64 = 0x005e_41ce_4a11_0001;

/// The newest schema version this build knows.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Brings the schema up to date. Returns the versions applied now (empty when current).
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, HqError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    // Not tenant data: stays a plain table on the coordinator under Citus.
    tx.batch_execute(
        "SET LOCAL client_min_messages = warning;
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .try_get(0)?;
    let known = latest_version();
    if current > known {
        return Err(HqError::NewerSchema {
            found: current,
            known,
        });
    }
    let mut applied = Vec::new();
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql)
            .await
            .map_err(|source| HqError::Migration {
                version,
                name,
                source,
            })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &name],
        )
        .await?;
        applied.push(version);
    }
    tx.commit().await?;
    if !applied.is_empty() {
        tracing::info!("database schema migrated to version {known} (applied {applied:?})");
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0, i as i32 + 1, "migration {} out of order", m.1);
        }
    }
}
