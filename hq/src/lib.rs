//! servicehall headquarters: takes in every centre's outbox exactly once into
//! PostgreSQL, keeps the projections the reports read, serves the report pages and the
//! public ticket status page.
//!
//! Identity of an event: `(centre_id, epoch, seq)` (see `protocol::sync`). Every table
//! carries `centre_id` in its primary and unique keys so it can be distributed by
//! `centre_id` with Citus unchanged.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod reports;

/// What every request handler gets.
#[derive(Clone, Debug)]
pub struct HqState {
    pub pool: deadpool_postgres::Pool,
}
