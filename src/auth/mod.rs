//! Who is calling and what they may do: password hashing and policy, access and refresh tokens,
//! sessions, the request context (`Ctx`), and the permission catalogue.

pub mod account;
pub mod api;
pub mod cookies;
pub mod ctx;
mod org_id;
pub mod pages;
pub mod password;
pub mod permissions;
pub mod reset;
pub mod service;
pub mod sessions;
pub mod tokens;
pub mod two_factor;
mod two_factor_pages;

pub use ctx::{Ctx, SIGN_IN_STATUSES, SessionCtx};
pub use org_id::OrgId;
pub use password::{Hasher, NewPassword};

pub fn router() -> axum::Router<crate::state::AppState> {
    api::router()
}
