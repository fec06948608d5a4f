//! Training programs (`reference/features.md` §1.3, "Programs"): a structured path such as the
//! probationary firefighter's, in phases of items (a course, hours, shifts, calls, a skill an
//! officer signs off). Members are enrolled, credited from their training records and shift
//! completion reports, move through the phases on their own unless a phase needs an officer's
//! sign-off, and complete, withdraw, or expire past their finish-by date.

pub mod api;
pub mod deadlines;
pub mod engine;
pub mod pages;
pub mod service;

pub fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(pages::router())
}
