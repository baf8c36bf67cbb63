//! Helpers shared by the root integration tests (each test file includes this module
//! with `mod common;` and uses the parts it needs).

pub(crate) mod sync;
