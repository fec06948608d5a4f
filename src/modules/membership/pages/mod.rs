//! The membership pages.

pub mod tiers;

pub fn router() -> axum::Router<crate::state::AppState> {
    tiers::router()
}
