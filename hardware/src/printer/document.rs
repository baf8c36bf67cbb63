//! (being written)

/// A printable document (being written).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Document;
