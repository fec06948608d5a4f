//! Training: categories (the ISO ones seeded), courses, records (one member or a whole crew),
//! requirements and the compliance engine that explains each member's standing, and waivers
//! (`reference/features.md` §1.3, §1.4; leaves of absence are membership's and make their waivers
//! through `waivers`).

pub mod api;
pub mod compliance;
pub mod import;
pub mod iso;
pub mod jobs;
pub mod pages;
pub mod rules;
pub mod service;
pub mod submissions;
pub mod waivers;

use crate::module::{ExportSection, Feature, Module, NavEntry};

/// Told (`crate::module::tell`) with the member's id when a record of theirs is made or voided,
/// in that transaction: programs recount their credit.
pub const RECORDS_CHANGED: &str = "training.records_changed";

pub const MODULE: Module = Module {
    name: "training",
    router,
    jobs,
    nav: &[NavEntry {
        label: "Training",
        href: "/training",
        needs: &[crate::auth::permissions::TRAINING_VIEW],
        order: 30,
    }],
    panels: Some(|ctx, conn| Box::pin(pages::dashboard_panels(ctx, conn))),
    openapi: <Api as utoipa::OpenApi>::openapi,
    export: EXPORT,
    seed: Some(|tx, org_id| Box::pin(service::seed(tx, org_id))),
    listeners: &[],
    feature: Some(&FEATURE),
    feed: None,
};

/// Training, with programs and shift reports (the `programs` module is part of it).
pub static FEATURE: Feature = Feature {
    key: "training",
    label: "Training",
    description: "Training records, requirements, compliance, ISO reports and programs.",
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::record_documents,
    api::attach_record_document,
    api::record_document_file,
    api::detach_record_document,
    api::categories,
    api::courses,
    api::create_course,
    api::update_course,
    api::records,
    api::create_records,
    api::record,
    api::void_record,
    api::correct_record,
    api::session,
    api::void_session,
    api::requirements,
    api::create_requirement,
    api::update_requirement,
    api::compliance,
    api::compliance_config,
    api::exemption,
    api::set_exemption,
    api::set_compliance_config,
    api::matrix,
    api::iso_report,
    waivers::api_waivers,
    waivers::api_create_waiver,
    waivers::api_deactivate_waiver,
    submissions::api_list,
    submissions::api_submit,
    submissions::api_pending_count,
    submissions::api_get,
    submissions::api_edit,
    submissions::api_review,
    import::api_import,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router()
        .merge(waivers::router())
        .merge(submissions::router())
        .merge(pages::router())
        .merge(import::router())
}

/// Training's scheduled jobs.
fn jobs() -> Vec<crate::jobs::JobDef> {
    use crate::jobs::JobDef;
    vec![JobDef::new(
        jobs::JOB,
        "Certification expiry notices",
        "Tells members whose certification expires in 90, 60, 30 or 7 days, or has \
             expired; the training officers are copied from 30 days on. Each notice goes once \
             per certification; a renewed certification gets none.",
        "0 0 6 * * *",
        jobs::run,
    )]
}

/// Training's files in the department's data export.
const EXPORT: &[ExportSection] = &[
    ExportSection {
        file: "training_records.csv",
        about: "Every training record (void ones too, with status cancelled): member, course, \
                category, dates, hours, certification.",
        sql: "SELECT u.username, CONCAT(u.first_name, ' ', u.last_name) AS member,
                     r.course_name, c.name AS category, c.iso_category, r.training_type,
                     CAST(r.completion_date AS CHAR) AS completion_date,
                     CAST(r.expiration_date AS CHAR) AS expiration_date,
                     CAST(r.hours_completed AS CHAR) AS hours, r.certification_number,
                     r.issuing_agency, r.instructor, r.rank_at_completion,
                     r.station_at_completion, r.status, r.cancel_reason, r.notes
                FROM training_records r
                JOIN users u ON u.id = r.user_id
                LEFT JOIN training_categories c ON c.id = r.category_id
               WHERE r.organization_id = ?
               ORDER BY r.completion_date, u.username, r.id",
    },
    ExportSection {
        file: "training_courses.csv",
        about: "Training courses with their category, hours and validity.",
        sql: "SELECT co.name, co.code, c.name AS category, co.training_type,
                     CAST(co.duration_hours AS CHAR) AS duration_hours,
                     CAST(co.expiration_months AS CHAR) AS expiration_months, co.issuing_agency,
                     IF(co.active, 'yes', 'no') AS active
                FROM training_courses co
                LEFT JOIN training_categories c ON c.id = co.category_id
               WHERE co.organization_id = ?
               ORDER BY co.name",
    },
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_export_sections_name_their_columns() {
        for s in super::EXPORT {
            let header = crate::backup::export::header_of(s.sql, None);
            assert!(header.len() >= 3, "{}: {header:?}", s.file);
            assert!(
                header
                    .iter()
                    .all(|h| !h.is_empty() && !h.contains([' ', '(', ')', '\n'])),
                "{}: {header:?}",
                s.file
            );
        }
    }
}
