//! What crosses the LAN between the hub and its devices: request and response bodies,
//! the problem body of every error, the hub event enum with its envelope, and a typed
//! HTTP client for the hub.
//!
//! Holds no business rules (those are `domain`'s) and no storage.

pub mod api;
pub mod client;
pub mod devices;
pub mod event;
pub mod sync;

pub use api::*;
pub use client::{ClientError, HubClient};
pub use devices::DeviceRole;
pub use event::{EventEnvelope, HubEvent};

/// Prefix of every API path.
pub const API_PREFIX: &str = "/api/v1";
