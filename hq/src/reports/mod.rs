//! Report pages (GB/T 9.1.3, 9.2, 4.1.1, 4.1.2, 8.4.3).

/// The report pages' routes.
pub fn router() -> axum::Router<crate::HqState> {
    axum::Router::new()
}
