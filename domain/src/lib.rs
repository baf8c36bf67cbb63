//! The rules of the after-sales service standard (GB/T 售后服务规范 总则) as plain Rust:
//! service types, ticket and request lifecycles, queue ordering, money and fees, the
//! working-day calendar and wait estimates.
//!
//! This crate knows nothing about SQLite, HTTP, Slint or serial ports, does no IO and
//! reads no clock: every function that needs "now" takes it as an argument.

pub mod calendar;
pub mod estimate;
pub mod mask;
pub mod money;
pub mod phone;
pub mod queue;
pub mod request;
pub mod service;
pub mod staff;
pub mod ticket;

pub use calendar::WorkCalendar;
pub use money::{FeeItem, Fen, Quote, QuoteLine};
pub use queue::{LaneState, PriorityClass, Waiting};
pub use request::RequestStage;
pub use service::{Channel, ServiceSpec, ServiceType};
pub use staff::{Role, Skill, SkillGrant};
pub use ticket::{TicketAction, TicketNumber, TicketState};
