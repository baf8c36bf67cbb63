//! The kiosk app (being built).
