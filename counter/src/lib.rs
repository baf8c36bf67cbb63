//! The counter app (being built).
