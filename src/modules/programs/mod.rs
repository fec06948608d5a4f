//! Training programs and shift completion reports (`reference/features.md` §1.3, "Programs",
//! "Shift reports"): a structured path such as the probationary firefighter's, in phases of
//! items (a course, hours, shifts, calls, a skill an officer signs off). Members are enrolled,
//! credited from their training records and approved shift reports, move through the phases on
//! their own unless a phase needs an officer's sign-off, and complete, withdraw, or expire past
//! their finish-by date. It builds on training (courses, records, the department's today) and
//! follows its records through `training::RECORDS_CHANGED`; training never imports programs.

pub mod api;
pub mod jobs;
pub mod pages;
pub mod rules;
pub mod service;
pub mod shift_reports;

use crate::module::{Listener, Module};
use crate::modules::training;

pub const MODULE: Module = Module {
    jobs,
    panels: Some(|ctx, conn| Box::pin(pages::dashboard_panels(ctx, conn))),
    openapi: <Api as utoipa::OpenApi>::openapi,
    listeners: &[Listener {
        event: training::RECORDS_CHANGED,
        run: |ctx, tx, member| Box::pin(service::refresh_member(ctx, tx, member)),
    }],
    feature: Some(&training::FEATURE),
    ..crate::module::empty("programs", router)
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::api_programs,
    api::api_create_program,
    api::api_program,
    api::api_update_program,
    api::api_add_phase,
    api::api_add_item,
    api::api_remove_item,
    api::api_enroll,
    api::api_enrollments,
    api::api_enrollment,
    api::api_advance,
    api::api_withdraw,
    api::api_item,
    api::api_list,
    api::api_create,
    api::api_get,
    api::api_update,
    api::api_review,
    api::api_acknowledge,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(pages::router())
}

fn jobs() -> Vec<crate::jobs::JobDef> {
    vec![crate::jobs::JobDef::new(
        jobs::JOB,
        "Training program deadlines",
        "Reminds members whose training program is due within 30 days (once), and marks an \
         enrollment past its finish-by date expired, telling the member and the training \
         officers. Progress is kept. Shift reports a trainee has not acknowledged 7 days after \
         approval are escalated once to the trainee and the report's author.",
        "0 5 6 * * *",
        jobs::run,
    )]
}
