//! Programs, their phases and items, enrollments and progress: the rules and the SQL.
//!
//! Progress is kept as a ledger: every credit to an item names its source once
//! (`requirement_progress_credits`, keyed by item, source type and source id), so feeding the
//! same training record or shift report twice changes nothing, and voiding a record takes its
//! credit back. An item's value is the sum of its credits; `refresh` recomputes an enrollment
//! from the ledger (statuses, percentage, phase, completion) and audits what changed.
//!
//! The parts: `programs` (building a program: phases and items), `enrollments` (enrolling,
//! progress, withdrawing, sign-offs and officers' decisions on items) and `credit` (the ledger
//! and `refresh`). This file holds the structures and item types they share and re-exports the
//! parts' public items, so every path stays `programs::service::…`.

mod credit;
mod enrollments;
mod programs;

pub(super) use credit::{add_credit, refresh, refresh_member};
pub use enrollments::{
    AdvanceInput, EnrollInput, Enrollment, EnrollmentDetail, EnrollmentQuery, EnrollmentStatus,
    ItemAction, ItemProgress, PhaseProgress, WithdrawInput, act_on_item, advance, enroll,
    enrollment, enrollments, withdraw,
};
pub use programs::{
    Item, ItemInput, Phase, PhaseInput, Program, ProgramInput, add_item, add_phase, create_program,
    program, programs, remove_item, update_program,
};

pub const STRUCTURES: &[&str] = &["phases", "sequential", "flexible"];
pub const ITEM_TYPES: &[&str] = &["course", "hours", "shifts", "calls", "skill"];

pub fn structure_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(STRUCTURES)
}
pub fn item_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(ITEM_TYPES)
}
