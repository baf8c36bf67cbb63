//! What crosses the LAN between the hub and its devices: request and response bodies,
//! the problem body of every error, the hub event enum with its envelope, and a typed
//! HTTP client for the hub, with the device identity (key, certificate, CA) it uses
//! for mutual TLS.
//!
//! Holds no business rules (those are `domain`'s) and no storage but a device's own
//! identity files.

pub mod api;
pub mod client;
pub mod devices;
pub mod event;
pub mod identity;
pub mod sync;

pub use api::*;
pub use client::{ClientError, HubClient};
pub use devices::DeviceRole;
pub use event::{EventEnvelope, HubEvent};
pub use identity::DeviceIdentity;

/// Prefix of every API path.
pub const API_PREFIX: &str = "/api/v1";
