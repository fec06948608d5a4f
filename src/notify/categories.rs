//! What members are told about, by category. In-app notifications are always on; email is on or
//! off per member and category, with an organization-wide default set by administrators. A few
//! categories always email (a member must not be able to miss a broken audit chain).

use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct Category {
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    /// Email on unless the organization or the member turns it off.
    pub email_default: bool,
    /// Email cannot be turned off.
    pub email_required: bool,
}

pub const SECURITY: &str = "security";
pub const ACCOUNT: &str = "account";
pub const ANNOUNCEMENTS: &str = "announcements";
pub const SYSTEM: &str = "system";

pub const CATEGORIES: &[Category] = &[
    Category {
        key: SECURITY,
        label: "Security",
        description: "A broken audit log and other security alerts (administrators)",
        email_default: true,
        email_required: true,
    },
    Category {
        key: ACCOUNT,
        label: "Your account",
        description: "Changes to your sign-in and roles",
        email_default: true,
        email_required: false,
    },
    Category {
        key: ANNOUNCEMENTS,
        label: "Announcements",
        description: "Messages from the department's officers",
        email_default: true,
        email_required: false,
    },
    Category {
        key: "training",
        label: "Training",
        description: "Certifications about to lapse, submissions to review, program progress",
        email_default: true,
        email_required: false,
    },
    Category {
        key: "events",
        label: "Events",
        description: "Reminders of drills, meetings and other events",
        email_default: true,
        email_required: false,
    },
    Category {
        key: "scheduling",
        label: "Scheduling",
        description: "Shifts, swaps and schedule changes",
        email_default: true,
        email_required: false,
    },
    Category {
        key: "inventory",
        label: "Equipment",
        description: "Equipment due back, overdue and assigned to you",
        email_default: true,
        email_required: false,
    },
    Category {
        key: "elections",
        label: "Elections",
        description: "Nominations, ballots and results",
        email_default: true,
        email_required: false,
    },
    Category {
        key: "minutes",
        label: "Minutes",
        description: "Minutes to approve or sent back, and your action items from meetings",
        email_default: true,
        email_required: false,
    },
    Category {
        key: SYSTEM,
        label: "System",
        description: "Failed jobs, backups and email delivery problems (administrators)",
        email_default: true,
        email_required: false,
    },
];

/// The categories a member can choose about: a feature's only once it is built.
pub fn offered() -> impl Iterator<Item = &'static Category> {
    CATEGORIES
        .iter()
        .filter(|c| crate::auth::permissions::offered(c.key))
}

pub fn find(key: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|c| c.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_fit_the_column() {
        let mut keys: Vec<_> = CATEGORIES.iter().map(|c| c.key).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), CATEGORIES.len());
        assert!(keys.iter().all(|k| k.len() <= 32));
        assert!(find(SECURITY).unwrap().email_required);
    }
}
