//! The modules, each a vertical slice: routes (`api.rs`), rules and SQL (`service.rs`).

pub mod announcements;
pub mod dashboard;
pub mod members;
pub mod organization;
pub mod roles;
pub mod training;
