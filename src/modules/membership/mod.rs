//! Membership (`reference/features.md` §1.4): tiers by years of service, with their benefits, the
//! monthly job that moves members up, and leaves of absence with the training waivers that follow
//! them. It uses training (its waivers); training never imports membership.

pub mod api;
pub mod jobs;
pub mod leaves;
pub mod pages;
pub mod rules;
pub mod service;

use crate::module::Module;

pub const MODULE: Module = Module {
    jobs,
    openapi: <Api as utoipa::OpenApi>::openapi,
    ..crate::module::empty("membership", router)
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::api_tiers,
    api::api_create,
    api::api_update,
    api::api_set_member_tier,
    leaves::api_leaves,
    leaves::api_create_leave,
    leaves::api_leave,
    leaves::api_update_leave,
    leaves::api_remove_leave,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(leaves::router()).merge(pages::router())
}

fn jobs() -> Vec<crate::jobs::JobDef> {
    vec![crate::jobs::JobDef::new(
        jobs::JOB,
        "Membership tiers",
        "Moves active and probationary members up to the membership tier their years of \
         service (since their hire date) reach. Nobody is moved down; each move is in the \
         audit log.",
        "0 0 4 1 * *",
        jobs::run,
    )]
}
