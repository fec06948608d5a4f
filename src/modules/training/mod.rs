//! Training: categories (the ISO ones seeded), courses, records (one member or a whole crew),
//! requirements and the compliance engine that explains each member's standing, waivers and
//! leaves of absence (`reference/features.md` §1.3, §1.4).

pub mod admin_pages;
pub mod api;
pub mod compliance;
pub mod expiry;
pub mod import;
pub mod iso;
pub mod pages;
pub mod programs;
pub mod rules;
pub mod service;
pub mod shift_reports;
pub mod submissions;
pub mod tiers;
pub mod waivers;

pub fn router() -> axum::Router<crate::app::AppState> {
    api::router()
        .merge(waivers::router())
        .merge(submissions::router())
        .merge(pages::router())
        .merge(tiers::router())
        .merge(import::router())
        .merge(programs::router())
        .merge(shift_reports::router())
        .merge(admin_pages::router())
}
