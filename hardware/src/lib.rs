//! servicehall's devices: receipt and ticket printers (ESC/POS), payment terminals over
//! serial, and the appliance's GPIO (button, paper sensor, LED, buzzer). One trait per
//! device role, a simulator for each that is always compiled and chosen at run time, and
//! real drivers (behind features where they need system libraries).
//!
//! This is the only crate in servicehall that knows a byte of ESC/POS, a serial frame or
//! a GPIO pin. It depends on `domain` alone: callers hand it plain document data and get
//! typed statuses and errors back. It never talks to the hub.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod console;
pub mod gpio;
pub use domain::mask;
pub mod printer;
pub mod pty;
pub mod sms;
pub mod terminal;
