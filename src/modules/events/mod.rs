//! Events (`reference/features.md` §1.5): drills, business meetings and the rest, single or in
//! a series (each occurrence a row), answers with a waitlist at capacity, reminders, check-in by
//! a QR code within a window, an officer's attendance sheet, and a training event's attendance
//! turned into training records when finalized. Calendar files and a member's feed for phones.

pub mod api;
pub mod jobs;
pub mod pages;
pub mod rules;
pub mod service;

use crate::module::{ExportSection, Feature, Module, NavEntry};

pub const MODULE: Module = Module {
    name: "events",
    router,
    jobs,
    nav: &[NavEntry {
        label: "Events",
        href: "/events",
        needs: &[service::EVENTS_VIEW],
        order: 35,
    }],
    panels: Some(|ctx, conn| Box::pin(pages::dashboard_panels(ctx, conn))),
    openapi: <Api as utoipa::OpenApi>::openapi,
    export: EXPORT,
    seed: None,
    listeners: &[],
    feature: Some(&FEATURE),
    feed: None,
};

pub static FEATURE: Feature = Feature {
    key: "events",
    label: "Events",
    description: "Drills and meetings: a calendar, answers and reminders, QR check-in, \
                  attendance that becomes training hours, calendar feeds for phones.",
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::events,
    api::create_event,
    api::event,
    api::update_event,
    api::publish,
    api::cancel,
    api::event_ics,
    api::rsvp,
    api::self_check_in,
    api::attendees,
    api::check_in,
    api::check_out,
    api::set_times,
    api::finalize,
    api::unfinalize,
    api::locations,
    api::feed,
    api::new_feed,
    api::revoke_feed,
    api::attachments,
    api::add_attachment,
    api::download_attachment,
    api::remove_attachment,
    api::templates,
    api::create_template,
    api::save_as_template,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(pages::router())
}

fn jobs() -> Vec<crate::jobs::JobDef> {
    vec![crate::jobs::JobDef::new(
        jobs::JOB,
        "Event reminders",
        "Reminds members of each published event once, the set number of hours before it \
         starts (24 unless the event says otherwise): those going, or every active member for \
         an event that says so.",
        "0 */10 * * * *",
        jobs::run,
    )]
}

/// Events' files in the department's data export.
const EXPORT: &[ExportSection] = &[
    ExportSection {
        file: "events.csv",
        about: "Every event: title, type, start and end (UTC), location, capacity, series, \
                cancelled and finalized.",
        sql: "SELECT e.title, e.event_type, CAST(e.starts_at AS CHAR) AS starts_at_utc,
                     CAST(e.ends_at AS CHAR) AS ends_at_utc,
                     COALESCE(l.name, e.location_text) AS location,
                     CAST(e.max_attendees AS CHAR) AS max_attendees,
                     CASE WHEN e.is_mandatory THEN 'yes' ELSE 'no' END AS mandatory,
                     e.recurrence, CAST(e.cancelled_at AS CHAR) AS cancelled_at,
                     e.cancellation_reason, CAST(e.finalized_at AS CHAR) AS finalized_at
                FROM events e
                LEFT JOIN locations l ON l.organization_id = e.organization_id
                                     AND l.id = e.location_id
               WHERE e.organization_id = ?
               ORDER BY e.starts_at, e.title",
    },
    ExportSection {
        file: "event_attendance.csv",
        about: "Every answer and attendance: event, member, answer, check-in and check-out \
                (UTC), an officer's fix and why.",
        sql: "SELECT e.title AS event, CAST(e.starts_at AS CHAR) AS event_start_utc,
                     u.username, CONCAT(u.first_name, ' ', u.last_name) AS member,
                     a.rsvp_status, CAST(a.checked_in_at AS CHAR) AS checked_in_at_utc,
                     CAST(a.checked_out_at AS CHAR) AS checked_out_at_utc, a.override_reason
                FROM event_attendees a
                JOIN events e ON e.organization_id = a.organization_id AND e.id = a.event_id
                JOIN users u ON u.organization_id = a.organization_id AND u.id = a.user_id
               WHERE a.organization_id = ?
               ORDER BY e.starts_at, u.last_name, u.first_name",
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
