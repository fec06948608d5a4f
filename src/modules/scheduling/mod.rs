//! Scheduling (`reference/features.md` §1.6): duty shifts made by hand or generated from a
//! template and a pattern (every day, chosen weekdays, platoon rotations), seats that officers
//! fill and members sign up for, swaps and time off decided by an officer, and jobs that warn of
//! short-staffed shifts and remind members of theirs.

pub mod api;
pub mod jobs;
pub mod pages;
pub mod rules;
pub mod service;

use crate::module::{ExportSection, Feature, Module, NavEntry};

pub const MODULE: Module = Module {
    name: "scheduling",
    router,
    jobs,
    nav: &[NavEntry {
        label: "Shifts",
        href: "/scheduling",
        needs: &[service::SCHEDULING_VIEW],
        order: 38,
    }],
    panels: Some(|ctx, conn| Box::pin(pages::dashboard_panels(ctx, conn))),
    openapi: <Api as utoipa::OpenApi>::openapi,
    export: EXPORT,
    seed: None,
    listeners: &[],
    feature: Some(&FEATURE),
    feed: Some(|conn, org, user| Box::pin(service::my_feed(conn, org, user))),
};

pub static FEATURE: Feature = Feature {
    key: "scheduling",
    label: "Scheduling",
    description: "Duty shifts: platoon rotations, open seats members sign up for, swaps and \
                  time off, and a warning when a shift is short-staffed.",
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::templates,
    api::create_template,
    api::template,
    api::update_template,
    api::patterns,
    api::create_pattern,
    api::pattern,
    api::generate,
    api::set_pattern_active,
    api::shifts,
    api::create_shift,
    api::shift,
    api::cancel_shift,
    api::assign,
    api::finalize,
    api::reopen,
    api::sign_up,
    api::withdraw,
    api::respond,
    api::remove,
    api::hours_report,
    api::coverage_report,
    api::time_off,
    api::request_time_off,
    api::review_time_off,
    api::cancel_time_off,
    api::swaps,
    api::request_swap,
    api::review_swap,
    api::cancel_swap,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(pages::router())
}

fn jobs() -> Vec<crate::jobs::JobDef> {
    vec![
        crate::jobs::JobDef::new(
            jobs::STAFFING_JOB,
            "Short-staffed shifts",
            "Tells the shift's officer and the scheduling officers, once per shift, when a shift \
             within its warning hours (48 unless its template says otherwise) is below its \
             minimum or has a required seat empty.",
            "0 */15 * * * *",
            jobs::staffing,
        ),
        crate::jobs::JobDef::new(
            jobs::REMINDER_JOB,
            "Shift reminders",
            "Reminds each member with a seat on a shift once, a day before it starts.",
            "0 */10 * * * *",
            jobs::reminders,
        ),
    ]
}

/// Scheduling's files in the department's data export.
const EXPORT: &[ExportSection] = &[
    ExportSection {
        file: "shifts.csv",
        about: "Every shift: title, day, start and end (UTC), platoon, vehicle, status, \
                minimum staffing and seats.",
        sql: "SELECT s.title, CAST(s.shift_date AS CHAR) AS shift_date,
                     CAST(s.starts_at AS CHAR) AS starts_at_utc,
                     CAST(s.ends_at AS CHAR) AS ends_at_utc, s.platoon,
                     a.unit_number AS apparatus, s.status, s.cancellation_reason,
                     CAST(s.min_staffing AS CHAR) AS min_staffing, s.positions
                FROM shifts s
                LEFT JOIN basic_apparatus a ON a.organization_id = s.organization_id
                                           AND a.id = s.apparatus_id
               WHERE s.organization_id = ?
               ORDER BY s.starts_at, s.title",
    },
    ExportSection {
        file: "shift_assignments.csv",
        about: "Who held which seat on which shift, and how it stands (assigned, confirmed, \
                declined, cancelled).",
        sql: "SELECT s.title AS shift, CAST(s.starts_at AS CHAR) AS shift_start_utc,
                     u.username, CONCAT(u.first_name, ' ', u.last_name) AS member,
                     sa.position, sa.status, CAST(sa.confirmed_at AS CHAR) AS confirmed_at_utc
                FROM shift_assignments sa
                JOIN shifts s ON s.organization_id = sa.organization_id AND s.id = sa.shift_id
                JOIN users u ON u.organization_id = sa.organization_id AND u.id = sa.user_id
               WHERE sa.organization_id = ?
               ORDER BY s.starts_at, sa.seat",
    },
    ExportSection {
        file: "time_off_and_swaps.csv",
        about: "Time off requests and how they were decided.",
        sql: "SELECT u.username, CAST(t.start_date AS CHAR) AS start_date,
                     CAST(t.end_date AS CHAR) AS end_date, t.reason, t.status,
                     CAST(t.reviewed_at AS CHAR) AS reviewed_at_utc, t.reviewer_notes
                FROM time_off_requests t
                JOIN users u ON u.organization_id = t.organization_id AND u.id = t.user_id
               WHERE t.organization_id = ?
               ORDER BY t.start_date",
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
