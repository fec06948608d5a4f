//! The membership pages: tiers, a member's tier given by hand, and their leaves of absence. They sit under the Members
//! header entry.

pub mod leaves;
pub mod member_tier;
pub mod tiers;

/// The header entry the membership pages belong to.
pub(crate) const MEMBERS: &str = "/members";

pub fn router() -> axum::Router<crate::state::AppState> {
    tiers::router()
        .merge(leaves::router())
        .merge(member_tier::router())
}
