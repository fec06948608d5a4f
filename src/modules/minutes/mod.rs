//! Minutes and meetings (`reference/features.md` §1.9): the secretary's legal record. Minutes
//! are written from a template's sections, go draft → submitted → approved | rejected, and are
//! locked once approved; they carry motions, action items (reminded by a daily job) and the
//! meeting's attendance, which a tier may require for voting. Approved minutes are published
//! into the library's Minutes folder as a readable page and a printable PDF.

pub mod api;
pub mod jobs;
pub mod pages;
pub mod rules;
pub mod service;

use crate::module::{ExportSection, Feature, Module, NavEntry};

pub const MODULE: Module = Module {
    name: "minutes",
    router,
    jobs,
    nav: &[NavEntry {
        label: "Minutes",
        href: "/minutes",
        needs: &[service::MINUTES_VIEW],
        order: 47,
    }],
    panels: Some(|ctx, conn| Box::pin(pages::dashboard_panels(ctx, conn))),
    openapi: <Api as utoipa::OpenApi>::openapi,
    export: EXPORT,
    seed: Some(|tx, org_id| {
        Box::pin(async move { service::ensure_templates(tx, org_id).await })
    }),
    listeners: &[],
    feature: Some(&FEATURE),
    feed: None,
};

pub static FEATURE: Feature = Feature {
    key: "minutes",
    label: "Minutes",
    description: "Meeting minutes from templates, with motions, action items and attendance; \
                  approved by the officers and published to the library.",
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::list,
    api::create,
    api::get_one,
    api::update,
    api::delete_one,
    api::submit,
    api::approve,
    api::reject,
    api::publish,
    api::add_motion,
    api::remove_motion,
    api::add_item,
    api::remove_item,
    api::items,
    api::update_item,
    api::set_attendance,
    api::templates,
    api::create_template,
    api::attendance,
    api::member_attendance,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(pages::router())
}

fn jobs() -> Vec<crate::jobs::JobDef> {
    vec![crate::jobs::JobDef::new(
        jobs::REMINDERS_JOB,
        "Minutes: action-item reminders",
        "Reminds the assignee of an open action item three days before it is due, the day \
         before, and once when it is overdue; each reminder once.",
        "0 0 7 * * *",
        jobs::reminders,
    )]
}

/// Minutes in the department's data export.
const EXPORT: &[ExportSection] = &[
    ExportSection {
        file: "meeting_minutes.csv",
        about: "Every set of minutes: title, meeting type and date, status, who submitted and \
                approved them and when (UTC).",
        sql: "SELECT m.title, m.meeting_type, CAST(m.meeting_date AS CHAR) AS meeting_date,
                     m.status, m.location, m.presiding, su.username AS submitted_by,
                     CAST(m.submitted_at AS CHAR) AS submitted_at_utc,
                     au.username AS approved_by, CAST(m.approved_at AS CHAR) AS approved_at_utc,
                     m.rejection_reason
                FROM meeting_minutes m
                LEFT JOIN users su ON su.organization_id = m.organization_id
                                  AND su.id = m.submitted_by
                LEFT JOIN users au ON au.organization_id = m.organization_id
                                  AND au.id = m.approved_by
               WHERE m.organization_id = ?
               ORDER BY m.meeting_date, m.title",
    },
    ExportSection {
        file: "minute_sections.csv",
        about: "The text of every section of every set of minutes, in order.",
        sql: "SELECT m.title AS minutes, CAST(m.meeting_date AS CHAR) AS meeting_date,
                     CAST(s.sort_order AS CHAR) AS sort_order, s.title AS section, s.body
                FROM minute_sections s
                JOIN meeting_minutes m ON m.organization_id = s.organization_id
                                      AND m.id = s.minutes_id
               WHERE s.organization_id = ?
               ORDER BY m.meeting_date, m.title, s.sort_order",
    },
    ExportSection {
        file: "meeting_motions.csv",
        about: "Every motion: the minutes, the text, who moved and seconded it, the result and \
                the votes.",
        sql: "SELECT m.title AS minutes, CAST(m.meeting_date AS CHAR) AS meeting_date,
                     mo.motion_text, a.username AS moved_by, b.username AS seconded_by,
                     mo.result, CAST(mo.votes_for AS CHAR) AS votes_for,
                     CAST(mo.votes_against AS CHAR) AS votes_against,
                     CAST(mo.votes_abstain AS CHAR) AS votes_abstain
                FROM meeting_motions mo
                JOIN meeting_minutes m ON m.organization_id = mo.organization_id
                                      AND m.id = mo.minutes_id
                LEFT JOIN users a ON a.organization_id = mo.organization_id AND a.id = mo.moved_by
                LEFT JOIN users b ON b.organization_id = mo.organization_id
                                 AND b.id = mo.seconded_by
               WHERE mo.organization_id = ?
               ORDER BY m.meeting_date, mo.sort_order",
    },
    ExportSection {
        file: "minutes_action_items.csv",
        about: "Every action item: the minutes, what, who, when due, priority and status.",
        sql: "SELECT m.title AS minutes, i.description, u.username AS assignee,
                     CAST(i.due_date AS CHAR) AS due_date, i.priority, i.status,
                     CAST(i.completed_at AS CHAR) AS completed_at_utc
                FROM minutes_action_items i
                JOIN meeting_minutes m ON m.organization_id = i.organization_id
                                      AND m.id = i.minutes_id
                JOIN users u ON u.organization_id = i.organization_id AND u.id = i.assignee_id
               WHERE i.organization_id = ?
               ORDER BY i.due_date, m.meeting_date",
    },
    ExportSection {
        file: "meeting_attendance.csv",
        about: "Who was present at or excused from each meeting whose attendance is recorded.",
        sql: "SELECT m.title AS minutes, CAST(m.meeting_date AS CHAR) AS meeting_date,
                     m.meeting_type, u.username, a.attendance, a.excuse
                FROM meeting_attendance a
                JOIN meeting_minutes m ON m.organization_id = a.organization_id
                                      AND m.id = a.minutes_id
                JOIN users u ON u.organization_id = a.organization_id AND u.id = a.user_id
               WHERE a.organization_id = ?
               ORDER BY m.meeting_date, u.username",
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
