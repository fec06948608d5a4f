//! Announcements to everyone or to chosen roles, shown on the dashboard until dismissed.

pub mod api;
pub mod pages;
pub mod service;

use crate::module::{Module, NavEntry};

pub const MODULE: Module = Module {
    nav: &[NavEntry {
        label: "Announcements",
        href: "/announcements",
        needs: &[],
        order: 10,
    }],
    openapi: <Api as utoipa::OpenApi>::openapi,
    ..crate::module::empty("announcements", router)
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::list,
    api::current,
    api::read,
    api::post_one,
    api::dismiss,
    api::withdraw,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(pages::router())
}
