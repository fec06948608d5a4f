//! The membership pages: tiers, and a member's leaves of absence. They sit under the Members
//! header entry.

pub mod leaves;
pub mod tiers;

/// The header entry the membership pages belong to.
pub(crate) const MEMBERS: &str = "/members";

pub fn router() -> axum::Router<crate::state::AppState> {
    tiers::router().merge(leaves::router())
}
