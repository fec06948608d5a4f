//! Member rules that need no database: the status words and their lifecycle
//! (`reference/features.md` §1.1). Field checks are the kernel's (`crate::input`).

use crate::error::{AppError, AppResult};

crate::words! {
    /// A member's place in the department (`reference/features.md` §1.1).
    pub enum MemberStatus {
        Active = "active",
        Probationary = "probationary",
        Inactive = "inactive",
        Suspended = "suspended",
        Leave = "leave",
        Retired = "retired",
        DroppedVoluntary = "dropped_voluntary",
        DroppedInvoluntary = "dropped_involuntary",
        Archived = "archived",
    }
}

pub const STATUSES: &[&str] = MemberStatus::WORDS;

pub fn status_schema() -> utoipa::openapi::Object {
    MemberStatus::schema_object()
}

pub fn joining_status_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&[
        MemberStatus::Active.as_str(),
        MemberStatus::Probationary.as_str(),
    ])
}

/// The statuses a member can move to from `from`. `archived` is entered from a status that has
/// already ended membership and left only by reactivation (to active or probationary).
pub fn allowed_next(from: MemberStatus) -> &'static [MemberStatus] {
    use MemberStatus::*;
    match from {
        Probationary => &[
            Active,
            Inactive,
            Suspended,
            Leave,
            DroppedVoluntary,
            DroppedInvoluntary,
        ],
        Active => &[
            Probationary,
            Inactive,
            Suspended,
            Leave,
            Retired,
            DroppedVoluntary,
            DroppedInvoluntary,
        ],
        Inactive => &[
            Probationary,
            Active,
            Suspended,
            Leave,
            Retired,
            DroppedVoluntary,
            DroppedInvoluntary,
            Archived,
        ],
        Suspended => &[
            Probationary,
            Active,
            Inactive,
            DroppedVoluntary,
            DroppedInvoluntary,
        ],
        Leave => &[
            Active,
            Inactive,
            Suspended,
            Retired,
            DroppedVoluntary,
            DroppedInvoluntary,
        ],
        Retired => &[Active, Inactive, Archived],
        DroppedVoluntary | DroppedInvoluntary => &[Probationary, Active, Archived],
        Archived => &[Probationary, Active],
    }
}

pub fn transition_allowed(from: MemberStatus, to: MemberStatus) -> bool {
    allowed_next(from).contains(&to)
}

pub fn status(field: &str, value: &str) -> AppResult<MemberStatus> {
    MemberStatus::parse(value.trim())
        .ok_or_else(|| AppError::field(field, format!("must be one of: {}", STATUSES.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_reference() {
        let ok = |from: &str, to: &str| {
            transition_allowed(
                MemberStatus::parse(from).unwrap(),
                MemberStatus::parse(to).unwrap(),
            )
        };
        assert!(ok("probationary", "active"));
        assert!(!ok("probationary", "retired"));
        assert!(ok("active", "retired"));
        assert!(!ok("suspended", "leave"));
        assert!(!ok("suspended", "retired"));
        assert!(ok("retired", "active"));
        assert!(!ok("retired", "suspended"));
        assert!(ok("dropped_involuntary", "probationary"));
        assert!(!ok("dropped_voluntary", "leave"));
        assert!(!ok("active", "active"));
        assert!(!ok("active", "archived"));
        assert!(ok("archived", "active"));
        // Every status but archived may end in archived or be left; none moves to itself.
        for s in STATUSES.iter().map(|w| MemberStatus::parse(w).unwrap()) {
            assert!(!allowed_next(s).is_empty(), "{s}");
            assert!(!allowed_next(s).contains(&s), "{s}");
        }
    }
}
