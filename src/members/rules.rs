//! Member rules that need no database: input parsing and the status lifecycle
//! (`reference/features.md` §1.1).

use crate::error::{AppError, AppResult};

pub const STATUSES: &[&str] = &[
    "active",
    "probationary",
    "inactive",
    "suspended",
    "leave",
    "retired",
    "dropped_voluntary",
    "dropped_involuntary",
    "archived",
];

pub fn status_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(STATUSES)
}

pub fn joining_status_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["active", "probationary"])
}

/// The statuses a member can move to from `from`. `archived` is entered from a status that has
/// already ended membership and left only by reactivation (to active or probationary).
pub fn allowed_next(from: &str) -> &'static [&'static str] {
    match from {
        "probationary" => &[
            "active",
            "inactive",
            "suspended",
            "leave",
            "dropped_voluntary",
            "dropped_involuntary",
        ],
        "active" => &[
            "probationary",
            "inactive",
            "suspended",
            "leave",
            "retired",
            "dropped_voluntary",
            "dropped_involuntary",
        ],
        "inactive" => &[
            "probationary",
            "active",
            "suspended",
            "leave",
            "retired",
            "dropped_voluntary",
            "dropped_involuntary",
            "archived",
        ],
        "suspended" => &[
            "probationary",
            "active",
            "inactive",
            "dropped_voluntary",
            "dropped_involuntary",
        ],
        "leave" => &[
            "active",
            "inactive",
            "suspended",
            "retired",
            "dropped_voluntary",
            "dropped_involuntary",
        ],
        "retired" => &["active", "inactive", "archived"],
        "dropped_voluntary" | "dropped_involuntary" => &["probationary", "active", "archived"],
        "archived" => &["probationary", "active"],
        _ => &[],
    }
}

pub fn transition_allowed(from: &str, to: &str) -> bool {
    allowed_next(from).contains(&to)
}

pub fn status(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim();
    if STATUSES.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(AppError::field(
            field,
            format!("must be one of: {}", STATUSES.join(", ")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_reference() {
        assert!(transition_allowed("probationary", "active"));
        assert!(!transition_allowed("probationary", "retired"));
        assert!(transition_allowed("active", "retired"));
        assert!(!transition_allowed("suspended", "leave"));
        assert!(!transition_allowed("suspended", "retired"));
        assert!(transition_allowed("retired", "active"));
        assert!(!transition_allowed("retired", "suspended"));
        assert!(transition_allowed("dropped_involuntary", "probationary"));
        assert!(!transition_allowed("dropped_voluntary", "leave"));
        assert!(!transition_allowed("active", "active"));
        assert!(!transition_allowed("active", "archived"));
        assert!(transition_allowed("archived", "active"));
        for s in STATUSES {
            for t in allowed_next(s) {
                assert!(STATUSES.contains(t));
            }
        }
    }
}
