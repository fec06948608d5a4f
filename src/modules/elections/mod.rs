//! Elections (`reference/features.md` §1.8): officer and membership votes with secret ballots.
//! Members nominate and vote from their phones; who voted is kept apart from what was voted;
//! ballots are hash-chained and every count verifies the chain; results show after the close
//! with a certified printout, and a receipt lets each voter check that their ballot is counted.

pub mod api;
pub mod jobs;
pub mod pages;
pub mod rules;
pub mod service;

use crate::module::{ExportSection, Feature, Module, NavEntry};

pub const MODULE: Module = Module {
    name: "elections",
    router,
    jobs,
    nav: &[NavEntry {
        label: "Elections",
        href: "/elections",
        needs: &[service::ELECTIONS_VIEW],
        order: 46,
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
    key: "elections",
    label: "Elections",
    description: "Officer and membership votes: nominations, secret ballots on members' \
                  phones, paper ballots, and a certified result.",
};

#[derive(utoipa::OpenApi)]
#[openapi(paths(
    api::elections,
    api::create_election,
    api::election,
    api::update_election,
    api::add_position,
    api::remove_position,
    api::decide_tie,
    api::nominate,
    api::answer_nomination,
    api::remove_candidate,
    api::start_nominations,
    api::open,
    api::close,
    api::cancel,
    api::my_ballot,
    api::vote,
    api::check_receipt,
    api::turnout,
    api::results,
    api::certificate,
    api::roll,
    api::change_roll,
    api::batches,
    api::record_batch,
    api::attest_batch,
    api::void_batch,
))]
struct Api;

fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(pages::router())
}

fn jobs() -> Vec<crate::jobs::JobDef> {
    vec![crate::jobs::JobDef::new(
        jobs::LIFECYCLE_JOB,
        "Elections: open, close, remind",
        "Opens elections at their opening time and closes them at their closing time (counting \
         and making runoffs), and reminds members who have not voted once, within the \
         election's reminder hours before the close.",
        "0 */5 * * * *",
        jobs::lifecycle,
    )]
}

/// Elections' files in the department's data export: what was decided and the counted
/// ballots, never who voted what (the roll says only who voted).
const EXPORT: &[ExportSection] = &[
    ExportSection {
        file: "elections.csv",
        about: "Every election: title, status, method, times and the ballots counted.",
        sql: "SELECT e.title, e.status, e.voting_method, CAST(e.opens_at AS CHAR) AS opens_at_utc,
                     CAST(e.closes_at AS CHAR) AS closes_at_utc,
                     CAST(e.closed_at AS CHAR) AS closed_at_utc,
                     CAST(e.ballot_count AS CHAR) AS ballot_count, e.chain_head
                FROM elections e
               WHERE e.organization_id = ?
               ORDER BY e.created_at",
    },
    ExportSection {
        file: "election_candidates.csv",
        about: "Positions and their candidates, with how each nomination stands.",
        sql: "SELECT e.title AS election, p.name AS position, CAST(p.seats AS CHAR) AS seats,
                     c.name AS candidate,
                     c.status
                FROM candidates c
                JOIN election_positions p ON p.organization_id = c.organization_id
                                         AND p.id = c.position_id
                JOIN elections e ON e.organization_id = c.organization_id AND e.id = c.election_id
               WHERE c.organization_id = ?
               ORDER BY e.created_at, p.sort_order, c.display_order",
    },
    ExportSection {
        file: "election_participation.csv",
        about: "Who was on each roll and whether they voted (online or on paper): never how.",
        sql: "SELECT e.title AS election, p.name AS position, u.username,
                     CONCAT(u.first_name, ' ', u.last_name) AS member,
                     COALESCE(v.voted_by, '') AS voted
                FROM election_voters v
                JOIN election_positions p ON p.organization_id = v.organization_id
                                         AND p.id = v.position_id
                JOIN elections e ON e.organization_id = v.organization_id AND e.id = v.election_id
                JOIN users u ON u.organization_id = v.organization_id AND u.id = v.user_id
               WHERE v.organization_id = ?
               ORDER BY e.created_at, p.sort_order, u.last_name, u.first_name",
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
