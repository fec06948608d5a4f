//! Announcements to everyone or to chosen roles, shown on the dashboard until dismissed.

pub mod api;
pub mod pages;
pub mod service;

pub fn router() -> axum::Router<crate::app::AppState> {
    api::router().merge(pages::router())
}
