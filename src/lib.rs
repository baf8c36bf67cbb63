//! The parts of the `servicehall` launcher that tests drive directly.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod sms_agent;
pub mod systemd;
