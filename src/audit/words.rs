//! The audit log in words: each entry as a sentence a chief reads ("Dana Whitaker changed Pat
//! Kim's status from active to leave: medical"), and the kinds of change the log is filtered by.
//! The entry itself (action code, changes as recorded) stays behind a disclosure on the page.

use std::collections::HashMap;

use serde_json::Value;
use uuid::Uuid;

use super::log::LogEntry;

/// Kinds of change, for the filter: the key (in links and the API's `kind`), the label, and the
/// action prefixes it covers.
pub const KINDS: &[(&str, &str, &[&str])] = &[
    ("sign_in", "Sign-ins and passwords", &["auth."]),
    ("members", "Members", &["member."]),
    ("roles", "Roles and permissions", &["role."]),
    ("training", "Training", &["training."]),
    ("announcements", "Announcements", &["announcement."]),
    ("backups", "Backups and exports", &["backup.", "data."]),
    ("security", "Security alerts", &["security_alert."]),
    (
        "settings",
        "Settings, stations and jobs",
        &[
            "organization.",
            "email_settings.",
            "email.",
            "notification_defaults.",
            "notification_preferences.",
            "tls.",
            "setup.",
            "location.",
            "apparatus.",
            "job.",
        ],
    ),
];

/// The SQL `REGEXP` pattern of a kind (`^(auth|member)\.`), or None for an unknown key.
pub fn kind_pattern(key: &str) -> Option<String> {
    let (_, _, prefixes) = KINDS.iter().find(|(k, _, _)| *k == key)?;
    let names: Vec<&str> = prefixes.iter().map(|p| p.trim_end_matches('.')).collect();
    Some(format!("^({})\\.", names.join("|")))
}

/// Names the log's ids stand for: the department's members and roles.
#[derive(Default)]
pub struct Names {
    pub members: HashMap<Uuid, String>,
    pub roles: HashMap<Uuid, String>,
}

impl Names {
    fn member(&self, id: Option<&str>) -> Option<String> {
        let id = Uuid::try_parse(id?).ok()?;
        self.members.get(&id).cloned()
    }

    fn role(&self, changes: &Value) -> String {
        changes["role_id"]
            .as_str()
            .and_then(|id| Uuid::try_parse(id).ok())
            .and_then(|id| self.roles.get(&id).cloned())
            .map(|n| format!("the role {n}"))
            .unwrap_or_else(|| "a role".into())
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.replace('_', " ")),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.into()),
        _ => None,
    }
}

/// "the station “Lakeside”": a record named by what its entry recorded about it.
fn named(kind: &str, changes: &Value) -> String {
    let name = ["name", "title", "unit_number", "course_name", "file"]
        .iter()
        .find_map(|k| {
            changes[*k]
                .as_str()
                .or_else(|| changes["after"][*k].as_str())
        })
        .map(str::to_string);
    match name {
        Some(n) => format!("{kind} \u{201c}{n}\u{201d}"),
        None => format!("a {kind}"),
    }
}

/// "the role “Chief”", or "a role" when the entry did not record its name.
fn the_named(kind: &str, changes: &Value) -> String {
    let n = named(kind, changes);
    if n.starts_with("a ") {
        n
    } else {
        format!("the {n}")
    }
}

/// Field names of a diff (`{"phone": {"from": …, "to": …}}`), in words.
fn fields(changes: &Value) -> String {
    changes
        .as_object()
        .map(|m| {
            m.keys()
                .map(|k| k.replace('_', " "))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Who acted: their name when they are a member, else how the entry was made ("system").
pub fn actor(e: &LogEntry, names: &Names) -> String {
    e.actor_user_id
        .and_then(|id| names.members.get(&id).cloned())
        .unwrap_or_else(|| match e.actor_label.as_str() {
            "" => "Logbook".into(),
            "system" => "Logbook (a scheduled job)".into(),
            "cli" => "Someone at the server's command line".into(),
            other => other.to_string(),
        })
}

/// The entry as a sentence: who did what to whom.
pub fn sentence(e: &LogEntry, names: &Names) -> String {
    let who = actor(e, names);
    let c = &e.changes;
    let subject = || {
        if e.entity_type == "member" {
            names
                .member(e.entity_id.as_deref())
                .unwrap_or_else(|| "a member".into())
        } else {
            named(&e.entity_type.replace('_', " "), c)
        }
    };
    let possessive = || {
        let s = subject();
        if s.ends_with('s') {
            format!("{s}'")
        } else {
            format!("{s}'s")
        }
    };
    let what = match e.action.as_str() {
        "auth.login" => "signed in".to_string(),
        "auth.logout" => "signed out".to_string(),
        "auth.password_changed" => "changed their password".into(),
        "auth.password_reset" => "chose a new password with a reset link".into(),
        "auth.password_reset_requested" => {
            format!("asked for a password reset link for {}", subject())
        }
        "auth.invitation_accepted" => "chose their first password with an invitation".into(),
        "auth.sessions_revoked" => "signed out of other sessions".into(),
        "auth.refresh_reuse" => "was signed out everywhere: a sign-in token was used twice".into(),
        "auth.two_factor_enabled" => "turned on two-factor sign-in".into(),
        "auth.two_factor_disabled" => "turned off two-factor sign-in".into(),
        "auth.two_factor_reset" => format!("reset {} two-factor sign-in", possessive()),
        "auth.recovery_code_used" => "signed in with a recovery code".into(),
        "member.created" => format!("added {} as a member", subject()),
        "member.updated" => match fields(c).as_str() {
            "" => format!("changed {} details", possessive()),
            f => format!("changed {} details ({f})", possessive()),
        },
        "member.status_changed" => {
            let mut s = format!(
                "changed {} status from {} to {}",
                possessive(),
                text(&c["status"]["from"]).unwrap_or_else(|| "?".into()),
                text(&c["status"]["to"]).unwrap_or_else(|| "?".into()),
            );
            if let Some(reason) = c["reason"].as_str().filter(|r| !r.is_empty()) {
                s.push_str(": ");
                s.push_str(reason);
            }
            s
        }
        "member.password_reset" => format!("set a temporary password for {}", subject()),
        "member.invited" => format!(
            "invited {} to sign in ({})",
            subject(),
            if c["delivery"] == "email" {
                "by email"
            } else {
                "with a printed code"
            }
        ),
        "member.invitation_revoked" => format!("revoked {} invitation", possessive()),
        "member.role_assigned" => format!("gave {} {}", subject(), names.role(c)),
        "member.role_unassigned" => format!("took {} from {}", names.role(c), subject()),
        "member.imported" => format!(
            "imported {} member{} from a CSV file",
            c["created"].as_u64().unwrap_or(0),
            if c["created"].as_u64() == Some(1) {
                ""
            } else {
                "s"
            }
        ),
        "member.exported" => "exported the member list".into(),
        "member.leave_created" => format!("recorded a leave of absence for {}", subject()),
        "member.leave_updated" => format!("changed {} leave of absence", possessive()),
        "member.leave_removed" => format!("removed {} leave of absence", possessive()),
        "member.tier_advanced" => format!("moved {} to a new membership tier", subject()),
        "backup.created" => "made a backup".into(),
        "backup.deleted" => format!("deleted {}", named("backup", c)),
        "backup.restored" => "restored a backup".into(),
        "backup.failed" => "tried to make a backup, which failed".into(),
        "organization.created" => format!("set up {}", the_named("department", c)),
        "setup.completed" => "finished the first-boot setup".into(),
        "organization.updated" => match fields(c).as_str() {
            "" => "changed the department's settings".into(),
            f => format!("changed the department's settings ({f})"),
        },
        "location.created" => format!("added {}", named("station", c)),
        "location.updated" => format!("changed {}", named("station", c)),
        "location.retired" => format!("retired {}", named("station", c)),
        "location.reactivated" => format!("brought {} back into service", named("station", c)),
        "apparatus.created" => format!("added {}", named("vehicle", c)),
        "apparatus.updated" => format!("changed {}", named("vehicle", c)),
        "apparatus.retired" => format!("retired {}", named("vehicle", c)),
        "apparatus.reactivated" => format!("brought {} back into service", named("vehicle", c)),
        "role.created" => format!("created {}", the_named("role", c)),
        "role.updated" => format!("changed {}", the_named("role", c)),
        "role.deleted" => format!("deleted {}", the_named("role", c)),
        "job.run_requested" => "ran a scheduled job by hand".into(),
        other => generic(other, &e.entity_type, c),
    };
    // A reason that ends its own sentence keeps its stop.
    if what.ends_with(['.', '!', '?']) {
        format!("{who} {what}")
    } else {
        format!("{who} {what}.")
    }
}

/// Any other action, read from its code: "training.course_created" → "training: course created".
fn generic(action: &str, entity: &str, changes: &Value) -> String {
    let (area, verb) = action.split_once('.').unwrap_or(("", action));
    let mut s = format!("{}: {}", area.replace('_', " "), verb.replace('_', " "));
    let about = named(&entity.replace('_', " "), changes);
    if !about.starts_with("a ") {
        s.push_str(&format!(" ({about})"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, entity_type: &str, entity_id: Option<Uuid>, changes: Value) -> LogEntry {
        LogEntry {
            id: Uuid::nil(),
            sequence: 1,
            occurred_at: chrono::Utc::now(),
            actor_user_id: Some(Uuid::from_u128(1)),
            actor_label: "dwhitaker".into(),
            ip_address: None,
            action: action.into(),
            entity_type: entity_type.into(),
            entity_id: entity_id.map(|i| i.to_string()),
            severity: "info".into(),
            changes,
            hash: String::new(),
        }
    }

    fn names() -> Names {
        let mut n = Names::default();
        n.members.insert(Uuid::from_u128(1), "Dana Whitaker".into());
        n.members.insert(Uuid::from_u128(2), "Pat Kim".into());
        n.roles
            .insert(Uuid::from_u128(3), "Training Officer".into());
        n
    }

    #[test]
    fn entries_read_as_sentences_with_names() {
        let pat = Some(Uuid::from_u128(2));
        let cases = [
            (
                entry(
                    "member.status_changed",
                    "member",
                    pat,
                    serde_json::json!({"status": {"from": "active", "to": "leave"}, "reason": "medical"}),
                ),
                "Dana Whitaker changed Pat Kim's status from active to leave: medical.",
            ),
            (
                entry(
                    "member.role_assigned",
                    "member",
                    pat,
                    serde_json::json!({"role_id": Uuid::from_u128(3)}),
                ),
                "Dana Whitaker gave Pat Kim the role Training Officer.",
            ),
            (
                entry(
                    "location.retired",
                    "location",
                    None,
                    serde_json::json!({"name": "Lakeside"}),
                ),
                "Dana Whitaker retired station \u{201c}Lakeside\u{201d}.",
            ),
            (
                entry(
                    "training.course_created",
                    "training_course",
                    None,
                    serde_json::json!({"name": "CPR"}),
                ),
                "Dana Whitaker training: course created (training course \u{201c}CPR\u{201d}).",
            ),
            (
                entry(
                    "member.updated",
                    "member",
                    pat,
                    serde_json::json!({"phone": {"from": null, "to": "555"}}),
                ),
                "Dana Whitaker changed Pat Kim's details (phone).",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(sentence(&e, &names()), want);
        }
    }

    #[test]
    fn kinds_become_patterns_and_unknown_ones_none() {
        assert_eq!(kind_pattern("members").as_deref(), Some("^(member)\\."));
        assert_eq!(
            kind_pattern("backups").as_deref(),
            Some("^(backup|data)\\.")
        );
        assert_eq!(kind_pattern("nonsense"), None);
    }
}
