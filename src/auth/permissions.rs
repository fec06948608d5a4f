//! The permission catalogue (`module.action`) and the system roles seeded for every
//! organization. The catalogue mirrors the `permissions` table that migrations fill; a test
//! checks that the two agree.

pub const MEMBERS_VIEW: &str = "members.view";
pub const MEMBERS_MANAGE: &str = "members.manage";
pub const USERS_VIEW_CONTACT: &str = "users.view_contact";
pub const ROLES_MANAGE: &str = "roles.manage";
pub const AUDIT_VIEW: &str = "audit.view";
pub const SETTINGS_MANAGE: &str = "settings.manage";
pub const ANNOUNCEMENTS_MANAGE: &str = "announcements.manage";
/// A member's own training records and standing.
pub const TRAINING_VIEW: &str = "training.view";
/// Everyone's training: record, void, requirements, the matrix, reviews.
pub const TRAINING_MANAGE: &str = "training.manage";

/// The modules that each have a `view` and a `manage` permission.
pub const MODULES: &[&str] = &[
    "training",
    "events",
    "scheduling",
    "inventory",
    "elections",
    "minutes",
    "documents",
    "forms",
    "prospects",
    "facilities",
];

pub fn catalogue() -> Vec<String> {
    let mut all: Vec<String> = [
        MEMBERS_VIEW,
        MEMBERS_MANAGE,
        USERS_VIEW_CONTACT,
        ROLES_MANAGE,
        AUDIT_VIEW,
        SETTINGS_MANAGE,
        ANNOUNCEMENTS_MANAGE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for m in MODULES {
        all.push(format!("{m}.view"));
        all.push(format!("{m}.manage"));
    }
    all
}

/// A list of permission names, as schema: an array of the catalogue's words.
pub fn list_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .enum_values(Some(catalogue())),
        )
        .build()
}

/// Whether the permissions of `module` are offered on the roles page: the platform's always, a
/// feature's once it is built (a role keeps what it holds of one still to come).
pub fn offered(module: &str) -> bool {
    !MODULES.contains(&module) || crate::module::built(module)
}

pub fn is_known(permission: &str) -> bool {
    catalogue().iter().any(|p| p == permission)
}

/// What a system role grants, in the catalogue's terms.
pub enum Grant {
    Everything,
    /// Named permissions plus `view` on every module.
    ViewAllPlus(&'static [&'static str]),
}

pub struct SystemRole {
    pub slug: &'static str,
    pub name: &'static str,
    pub priority: i32,
    pub description: &'static str,
    pub grant: Grant,
}

pub const IT_ADMINISTRATOR: &str = "it_administrator";
pub const MEMBER: &str = "member";

pub const SYSTEM_ROLES: &[SystemRole] = &[
    SystemRole {
        slug: IT_ADMINISTRATOR,
        name: "IT Administrator",
        priority: 100,
        description: "Runs the system: every permission",
        grant: Grant::Everything,
    },
    SystemRole {
        slug: "chief",
        name: "Chief",
        priority: 95,
        description: "Leads the department: members, roles, settings and every module",
        grant: Grant::Everything,
    },
    SystemRole {
        slug: "president",
        name: "President",
        priority: 95,
        description: "Leads the association: members, roles, settings and every module",
        grant: Grant::Everything,
    },
    SystemRole {
        slug: "assistant_chief",
        name: "Assistant Chief",
        priority: 85,
        description: "Members and the operational modules",
        grant: Grant::ViewAllPlus(&[
            MEMBERS_MANAGE,
            USERS_VIEW_CONTACT,
            AUDIT_VIEW,
            ANNOUNCEMENTS_MANAGE,
            "training.manage",
            "events.manage",
            "scheduling.manage",
            "inventory.manage",
            "facilities.manage",
        ]),
    },
    SystemRole {
        slug: "vice_president",
        name: "Vice President",
        priority: 80,
        description: "Members, meetings, elections and minutes",
        grant: Grant::ViewAllPlus(&[
            MEMBERS_MANAGE,
            USERS_VIEW_CONTACT,
            AUDIT_VIEW,
            ANNOUNCEMENTS_MANAGE,
            "elections.manage",
            "minutes.manage",
            "documents.manage",
            "prospects.manage",
        ]),
    },
    SystemRole {
        slug: "secretary",
        name: "Secretary",
        priority: 75,
        description: "Membership records, elections, minutes, documents and forms",
        grant: Grant::ViewAllPlus(&[
            MEMBERS_MANAGE,
            USERS_VIEW_CONTACT,
            ANNOUNCEMENTS_MANAGE,
            "elections.manage",
            "minutes.manage",
            "documents.manage",
            "forms.manage",
            "events.manage",
            "prospects.manage",
        ]),
    },
    SystemRole {
        slug: "assistant_secretary",
        name: "Assistant Secretary",
        priority: 70,
        description: "Minutes and documents",
        grant: Grant::ViewAllPlus(&[USERS_VIEW_CONTACT, "minutes.manage", "documents.manage"]),
    },
    SystemRole {
        slug: "training_officer",
        name: "Training Officer",
        priority: 65,
        description: "Training records, requirements and training events",
        grant: Grant::ViewAllPlus(&[USERS_VIEW_CONTACT, "training.manage", "events.manage"]),
    },
    SystemRole {
        slug: "quartermaster",
        name: "Quartermaster",
        priority: 65,
        description: "Equipment and inventory",
        grant: Grant::ViewAllPlus(&[USERS_VIEW_CONTACT, "inventory.manage"]),
    },
    SystemRole {
        slug: MEMBER,
        name: "Member",
        priority: 10,
        description: "Every member: sees the directory and the modules",
        grant: Grant::ViewAllPlus(&[]),
    },
];

impl SystemRole {
    pub fn permissions(&self) -> Vec<String> {
        match self.grant {
            Grant::Everything => catalogue(),
            Grant::ViewAllPlus(extra) => {
                let mut perms: Vec<String> = vec![MEMBERS_VIEW.to_string()];
                perms.extend(MODULES.iter().map(|m| format!("{m}.view")));
                perms.extend(extra.iter().map(|s| s.to_string()));
                perms.sort();
                perms.dedup();
                perms
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_roles_use_known_permissions() {
        for role in SYSTEM_ROLES {
            for p in role.permissions() {
                assert!(is_known(&p), "{} grants unknown {p}", role.slug);
            }
        }
    }
}
