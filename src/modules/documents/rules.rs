//! Documents' words and pure rules: who sees a folder, the system folders every department has,
//! and tags.

use crate::error::{AppError, AppResult};

crate::words! {
    /// Who sees a folder and its documents (besides leadership, who see every folder).
    pub enum Visibility {
        /// Every member who may see documents.
        Everyone = "everyone",
        /// Leadership only: holders of `documents.manage` or `members.manage`.
        Leadership = "leadership",
        /// The member whose folder it is (and leadership).
        Owner = "owner",
        /// Members holding one of the folder's roles (and leadership).
        Roles = "roles",
    }
}

crate::words! {
    pub enum DocumentStatus {
        Active = "active",
        /// Kept, out of the library's lists unless asked for.
        Archived = "archived",
    }
}

crate::words! {
    pub enum DocumentType {
        /// A file a member uploaded.
        Uploaded = "uploaded",
        /// Made by Logbook (published minutes).
        Generated = "generated",
    }
}

/// A folder every department has, by its key.
pub struct SystemFolder {
    pub key: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub visibility: Visibility,
}

pub const SYSTEM_FOLDERS: &[SystemFolder] = &[
    SystemFolder {
        key: "sops",
        name: "SOPs & Procedures",
        description: "Standard operating procedures and guidelines.",
        visibility: Visibility::Everyone,
    },
    SystemFolder {
        key: "policies",
        name: "Policies",
        description: "Bylaws, policies and rules of the department.",
        visibility: Visibility::Everyone,
    },
    SystemFolder {
        key: "forms",
        name: "Forms & Templates",
        description: "Blank forms and templates to print or fill in.",
        visibility: Visibility::Everyone,
    },
    SystemFolder {
        key: "training",
        name: "Training Materials",
        description: "Handouts, presentations and study material.",
        visibility: Visibility::Everyone,
    },
    SystemFolder {
        key: "minutes",
        name: "Meeting Minutes",
        description: "Approved minutes of the department's meetings.",
        visibility: Visibility::Everyone,
    },
    SystemFolder {
        key: "reports",
        name: "Reports",
        description: "Reports for the department's leadership.",
        visibility: Visibility::Leadership,
    },
    SystemFolder {
        key: "general",
        name: "General Documents",
        description: "Everything else.",
        visibility: Visibility::Everyone,
    },
];

/// The largest file kept (a scanned manual, a training video's slides).
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_CHARS: usize = 40;

/// Tags as typed ("SOP, Ladders ,sop"): split at commas, trimmed, lower-cased, each once, in the
/// order given; letters, digits, spaces, `-` and `_` only.
pub fn parse_tags(field: &str, raw: &str) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for part in raw.split(',') {
        let tag = part.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        if tag.is_empty() {
            continue;
        }
        if tag.chars().count() > MAX_TAG_CHARS {
            return Err(AppError::field(
                field,
                format!("must be tags of at most {MAX_TAG_CHARS} characters each"),
            ));
        }
        if !tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        {
            return Err(AppError::field(
                field,
                "must be words separated by commas (letters, digits, spaces, - and _)",
            ));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > MAX_TAGS {
        return Err(AppError::field(
            field,
            format!("must be at most {MAX_TAGS} tags"),
        ));
    }
    Ok(out)
}

/// Tags as stored: joined by commas.
pub fn stored_tags(tags: &[String]) -> String {
    tags.join(",")
}

/// Tags as read back from storage.
pub fn read_tags(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// A document's name from a file's name when none is given: the name without its extension.
pub fn name_from_file(file_name: &str) -> String {
    match file_name.rsplit_once('.') {
        Some((stem, ext)) if !stem.trim().is_empty() && ext.len() <= 5 => stem.trim().to_string(),
        _ => file_name.to_string(),
    }
}

/// Whether a member sees a folder: leadership every folder; the others by its visibility.
pub fn sees(
    leadership: bool,
    visibility: Visibility,
    is_owner: bool,
    holds_a_folder_role: bool,
) -> bool {
    leadership
        || match visibility {
            Visibility::Everyone => true,
            Visibility::Leadership => false,
            Visibility::Owner => is_owner,
            Visibility::Roles => holds_a_folder_role,
        }
}

/// Whether a member may add, change, archive or remove documents in a folder: holders of
/// `documents.manage` anywhere; a member in their own folder.
pub fn may_change(manages: bool, is_owner: bool) -> bool {
    manages || is_owner
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_cleaned() {
        assert_eq!(
            parse_tags("tags", "SOP, Ladders ,sop,,  ground   ladders").unwrap(),
            vec!["sop", "ladders", "ground ladders"]
        );
        assert_eq!(parse_tags("tags", " , ").unwrap(), Vec::<String>::new());
        assert!(parse_tags("tags", "a;b").is_err());
        assert!(parse_tags("tags", &"x".repeat(41)).is_err());
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(parse_tags("tags", &eleven.join(",")).is_err());
        assert_eq!(read_tags(&stored_tags(&["a b".into(), "c".into()])), vec!["a b", "c"]);
        assert!(read_tags("").is_empty());
    }

    #[test]
    fn names_come_from_files() {
        assert_eq!(name_from_file("Ladder SOP.pdf"), "Ladder SOP");
        assert_eq!(name_from_file("notes"), "notes");
        assert_eq!(name_from_file(".pdf"), ".pdf");
        assert_eq!(name_from_file("v1.2 release.notes-long"), "v1.2 release.notes-long");
    }

    #[test]
    fn who_sees_a_folder() {
        use Visibility::*;
        // (leadership, visibility, owner, holds a role) → sees
        let table = [
            (false, Everyone, false, false, true),
            (false, Leadership, false, false, false),
            (false, Leadership, true, true, false),
            (true, Leadership, false, false, true),
            (false, Owner, false, false, false),
            (false, Owner, true, false, true),
            (true, Owner, false, false, true),
            (false, Roles, false, false, false),
            (false, Roles, false, true, true),
            (true, Roles, false, false, true),
        ];
        for (lead, vis, owner, role, expected) in table {
            assert_eq!(sees(lead, vis, owner, role), expected, "{lead} {vis} {owner} {role}");
        }
        assert!(may_change(true, false));
        assert!(may_change(false, true));
        assert!(!may_change(false, false));
    }
}
