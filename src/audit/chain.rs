//! Appending to and verifying the chain. `hash = SHA-256(previous_hash ‖ canonical bytes)`, where
//! the canonical bytes are a JSON object with a fixed field order built from the stored columns.

use crate::auth::OrgId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::MySqlPool;
use uuid::Uuid;

use crate::db::{self, Tx};
use crate::error::AppResult;

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it: a member (from the session), the command line, or the system itself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub org_id: crate::auth::OrgId,
    pub user_id: Option<Uuid>,
    pub label: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn system(org_id: crate::auth::OrgId, label: &str) -> Self {
        Actor {
            org_id,
            user_id: None,
            label: label.to_string(),
            ip: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One thing that happened. `changes` lists changed fields (never passwords or tokens).
pub struct Entry {
    pub action: &'static str,
    pub entity_type: &'static str,
    pub entity_id: Option<String>,
    pub severity: Severity,
    pub changes: serde_json::Value,
}

impl Entry {
    pub fn new(action: &'static str, entity_type: &'static str, entity_id: impl ToString) -> Self {
        Entry {
            action,
            entity_type,
            entity_id: Some(entity_id.to_string()),
            severity: Severity::Info,
            changes: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn changes(mut self, changes: serde_json::Value) -> Self {
        self.changes = changes;
        self
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}

#[derive(Serialize)]
struct Canonical<'a> {
    id: String,
    organization_id: String,
    sequence: u64,
    occurred_at: String,
    actor_user_id: Option<String>,
    actor_label: &'a str,
    ip_address: Option<&'a str>,
    action: &'a str,
    entity_type: &'a str,
    entity_id: Option<&'a str>,
    severity: &'a str,
    changes: &'a str,
}

fn format_time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The stored columns of one entry, as written and as read back for verification.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredEntry {
    pub id: Uuid,
    pub organization_id: crate::auth::OrgId,
    pub sequence: u64,
    pub occurred_at: DateTime<Utc>,
    pub actor_user_id: Option<Uuid>,
    pub actor_label: String,
    pub ip_address: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub severity: String,
    pub changes: String,
    pub previous_hash: String,
    pub hash: String,
}

impl StoredEntry {
    pub fn compute_hash(&self) -> String {
        let canonical = Canonical {
            id: self.id.hyphenated().to_string(),
            organization_id: self.organization_id.uuid().hyphenated().to_string(),
            sequence: self.sequence,
            occurred_at: format_time(&self.occurred_at),
            actor_user_id: self.actor_user_id.map(|u| u.hyphenated().to_string()),
            actor_label: &self.actor_label,
            ip_address: self.ip_address.as_deref(),
            action: &self.action,
            entity_type: &self.entity_type,
            entity_id: self.entity_id.as_deref(),
            severity: &self.severity,
            changes: &self.changes,
        };
        let bytes = serde_json::to_vec(&canonical).expect("canonical entry serializes");
        let mut hasher = Sha256::new();
        hasher.update(self.previous_hash.as_bytes());
        hasher.update(&bytes);
        hex::encode(hasher.finalize())
    }
}

/// Starts an organization's chain. Called once, when the organization is created.
pub async fn start_chain(tx: &mut Tx<'_>, org_id: OrgId) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO audit_chain_heads (organization_id, last_sequence, last_hash) VALUES (?, 0, ?)",
    )
    .bind(org_id)
    .bind(GENESIS_HASH)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends an entry in the caller's transaction; if this fails, the change fails with it.
///
/// Lock order, everywhere: the department's row (`organizations`), then its chain head. A change
/// that guards department-wide rules (`roles::lock_organization`) takes the row first, before it
/// writes anything; the entry's foreign key needs a shared lock on that same row. Taking the
/// shared lock here, before the chain head, keeps every transaction in that order; otherwise one
/// holding the head waits for the row while the other holds the row and waits for the head.
pub async fn record(tx: &mut Tx<'_>, actor: &Actor, entry: Entry) -> AppResult<()> {
    sqlx::query("SELECT id FROM organizations WHERE id = ? LOCK IN SHARE MODE")
        .bind(actor.org_id)
        .fetch_optional(&mut **tx)
        .await?;
    let (last_sequence, last_hash): (u64, String) = sqlx::query_as(
        "SELECT last_sequence, last_hash FROM audit_chain_heads WHERE organization_id = ? FOR UPDATE",
    )
    .bind(actor.org_id)
    .fetch_one(&mut **tx)
    .await?;
    let mut stored = StoredEntry {
        id: db::new_id(),
        organization_id: actor.org_id,
        sequence: last_sequence + 1,
        occurred_at: db::now(),
        actor_user_id: actor.user_id,
        actor_label: actor.label.clone(),
        ip_address: actor.ip.clone(),
        action: entry.action.to_string(),
        entity_type: entry.entity_type.to_string(),
        entity_id: entry.entity_id,
        severity: entry.severity.as_str().to_string(),
        changes: entry.changes.to_string(),
        previous_hash: last_hash,
        hash: String::new(),
    };
    stored.hash = stored.compute_hash();
    sqlx::query(
        "INSERT INTO audit_logs (id, organization_id, sequence, occurred_at, actor_user_id,
            actor_label, ip_address, action, entity_type, entity_id, severity, changes,
            previous_hash, hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(stored.id)
    .bind(stored.organization_id)
    .bind(stored.sequence)
    .bind(stored.occurred_at)
    .bind(stored.actor_user_id)
    .bind(&stored.actor_label)
    .bind(&stored.ip_address)
    .bind(&stored.action)
    .bind(&stored.entity_type)
    .bind(&stored.entity_id)
    .bind(&stored.severity)
    .bind(&stored.changes)
    .bind(&stored.previous_hash)
    .bind(&stored.hash)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE audit_chain_heads SET last_sequence = ?, last_hash = ? WHERE organization_id = ?",
    )
    .bind(stored.sequence)
    .bind(&stored.hash)
    .bind(actor.org_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrokenEntry {
    pub sequence: u64,
    pub id: Option<Uuid>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub valid: bool,
    pub entries_checked: u64,
    pub first_broken: Option<BrokenEntry>,
}

/// Walks an organization's chain in order and reports the first entry that does not hold.
pub async fn verify(db: &MySqlPool, org_id: OrgId) -> AppResult<VerifyReport> {
    const BATCH: i64 = 1000;
    let mut expected_sequence: u64 = 1;
    let mut previous_hash = GENESIS_HASH.to_string();
    let mut checked = 0u64;
    let broken = |sequence: u64, id: Option<Uuid>, reason: String, checked: u64| VerifyReport {
        valid: false,
        entries_checked: checked,
        first_broken: Some(BrokenEntry {
            sequence,
            id,
            reason,
        }),
    };
    // The head is read before the walk and the walk stops at it: entries appended meanwhile lie
    // beyond it, so a chain that grows while it is checked is not taken for a truncated one.
    let head: Option<(u64, String)> = sqlx::query_as(
        "SELECT last_sequence, last_hash FROM audit_chain_heads WHERE organization_id = ?",
    )
    .bind(org_id)
    .fetch_optional(db)
    .await?;
    let last = head.as_ref().map_or(u64::MAX, |(sequence, _)| *sequence);
    loop {
        let batch: Vec<StoredEntry> = sqlx::query_as(
            "SELECT id, organization_id, sequence, occurred_at, actor_user_id, actor_label,
                    ip_address, action, entity_type, entity_id, severity, changes,
                    previous_hash, hash
               FROM audit_logs WHERE organization_id = ? AND sequence >= ? AND sequence <= ?
              ORDER BY sequence LIMIT ?",
        )
        .bind(org_id)
        .bind(expected_sequence)
        .bind(last)
        .bind(BATCH)
        .fetch_all(db)
        .await?;
        let done = (batch.len() as i64) < BATCH;
        for entry in batch {
            if entry.sequence != expected_sequence {
                return Ok(broken(
                    expected_sequence,
                    None,
                    format!(
                        "entry {expected_sequence} is missing (next present is {})",
                        entry.sequence
                    ),
                    checked,
                ));
            }
            if entry.previous_hash != previous_hash {
                return Ok(broken(
                    entry.sequence,
                    Some(entry.id),
                    "previous_hash does not match the entry before it".into(),
                    checked,
                ));
            }
            if entry.compute_hash() != entry.hash {
                return Ok(broken(
                    entry.sequence,
                    Some(entry.id),
                    "contents do not match the stored hash (the entry was altered)".into(),
                    checked,
                ));
            }
            previous_hash = entry.hash;
            expected_sequence += 1;
            checked += 1;
        }
        if done {
            break;
        }
    }
    if let Some((last_sequence, last_hash)) = head
        && (last_sequence != checked || last_hash != previous_hash)
    {
        return Ok(broken(
            checked + 1,
            None,
            format!(
                "the chain ends at entry {checked} but its head records entry {last_sequence} \
                 (entries were removed from the end)"
            ),
            checked,
        ));
    }
    Ok(VerifyReport {
        valid: true,
        entries_checked: checked,
        first_broken: None,
    })
}

/// The fields that differ between two JSON objects, as `{field: {"from": a, "to": b}}`.
pub fn diff(before: &serde_json::Value, after: &serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (key, new) in a {
            let old = b.get(key).unwrap_or(&serde_json::Value::Null);
            if old != new {
                out.insert(key.clone(), serde_json::json!({ "from": old, "to": new }));
            }
        }
    }
    serde_json::Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoredEntry {
        StoredEntry {
            id: Uuid::nil(),
            organization_id: crate::auth::OrgId::nil_for_tests(),
            sequence: 1,
            occurred_at: DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap(),
            actor_user_id: None,
            actor_label: "cli".into(),
            ip_address: None,
            action: "member.created".into(),
            entity_type: "member".into(),
            entity_id: Some("x".into()),
            severity: "info".into(),
            changes: "{}".into(),
            previous_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn hash_depends_on_every_field() {
        let base = sample().compute_hash();
        let mut e = sample();
        e.action = "member.updated".into();
        assert_ne!(base, e.compute_hash());
        let mut e = sample();
        e.previous_hash = "1".repeat(64);
        assert_ne!(base, e.compute_hash());
        assert_eq!(base, sample().compute_hash());
    }

    #[test]
    fn diff_lists_changed_fields() {
        let d = diff(
            &serde_json::json!({"a": 1, "b": 2}),
            &serde_json::json!({"a": 1, "b": 3}),
        );
        assert_eq!(d, serde_json::json!({"b": {"from": 2, "to": 3}}));
    }
}
