//! Role rules and SQL.

use crate::auth::OrgId;
use crate::members::rules::MemberStatus;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::audit::{self, Actor, Entry, Severity};
use crate::auth::Ctx;
use crate::auth::permissions::{self, MEMBERS_MANAGE, MEMBERS_VIEW, ROLES_MANAGE, SYSTEM_ROLES};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, unique_violation};
use crate::input::{self, Checks};

const UNIQUE_KEYS: &[(&str, &str, &str)] = &[
    (
        "uq_roles_org_name",
        "name",
        "another role already has this name",
    ),
    (
        "uq_roles_org_slug",
        "name",
        "another role already has this name",
    ),
];

/// Locks the organization row: changes that could remove the last member manager take it first,
/// so two of them cannot each pass the guard and together break it.
///
/// Lock order: call this before the transaction writes anything (a write to a table that refers
/// to the department takes a shared lock on this row, and two transactions each upgrading their
/// shared lock deadlock) and so before the audit chain head, which `audit::record` takes last.
pub async fn lock_organization(tx: &mut Tx<'_>, org_id: OrgId) -> AppResult<()> {
    sqlx::query("SELECT id FROM organizations WHERE id = ? FOR UPDATE")
        .bind(org_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(())
}

/// Refuses (409) a change that leaves no active member holding `members.manage`. Runs after the
/// change, inside its transaction, so it judges the state the change would commit.
pub async fn ensure_manager_remains(tx: &mut Tx<'_>, org_id: OrgId) -> AppResult<()> {
    let managers: i64 = sqlx::query_scalar(
        "SELECT COUNT(DISTINCT u.id) FROM users u
           JOIN user_roles ur ON ur.user_id = u.id
           JOIN role_permissions rp ON rp.role_id = ur.role_id
          WHERE u.organization_id = ? AND u.status IN (?, ?)
            AND rp.permission = ?",
    )
    .bind(org_id)
    .bind(MemberStatus::Active)
    .bind(MemberStatus::Probationary)
    .bind(MEMBERS_MANAGE)
    .fetch_one(&mut **tx)
    .await?;
    if managers == 0 {
        return Err(AppError::Conflict(
            "this would leave the organization with no active member who can manage members".into(),
        ));
    }
    Ok(())
}

/// Nobody can grant a permission they do not hold.
pub fn ensure_within_ceiling<'a>(
    ctx: &Ctx,
    granted: impl IntoIterator<Item = &'a String>,
) -> AppResult<()> {
    let missing: Vec<&String> = granted.into_iter().filter(|p| !ctx.has(p)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "you cannot grant permissions you do not hold: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

pub async fn permissions_of_member(
    conn: &mut Conn,
    org_id: OrgId,
    user_id: Uuid,
) -> AppResult<BTreeSet<String>> {
    let perms: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT rp.permission FROM user_roles ur
           JOIN role_permissions rp ON rp.role_id = ur.role_id
          WHERE ur.user_id = ? AND ur.organization_id = ?",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(perms.into_iter().collect())
}

/// What a new role is called and where it ranks.
struct RoleSpec<'a> {
    name: &'a str,
    slug: &'a str,
    description: &'a str,
    is_system: bool,
    priority: i32,
}

async fn insert_role(
    tx: &mut Tx<'_>,
    org_id: OrgId,
    spec: RoleSpec<'_>,
    perms: &BTreeSet<String>,
) -> AppResult<Uuid> {
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO roles (id, organization_id, name, slug, description, is_system, priority,
            created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(org_id)
    .bind(spec.name)
    .bind(spec.slug)
    .bind(spec.description)
    .bind(spec.is_system)
    .bind(spec.priority)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, UNIQUE_KEYS))?;
    write_permissions(tx, org_id, id, perms).await?;
    Ok(id)
}

async fn write_permissions(
    tx: &mut Tx<'_>,
    org_id: OrgId,
    role_id: Uuid,
    perms: &BTreeSet<String>,
) -> AppResult<()> {
    sqlx::query("DELETE FROM role_permissions WHERE role_id = ?")
        .bind(role_id)
        .execute(&mut **tx)
        .await?;
    if perms.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO role_permissions (organization_id, role_id, permission) VALUES {}",
        vec!["(?, ?, ?)"; perms.len()].join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for p in perms {
        q = q.bind(org_id).bind(role_id).bind(p);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Seeds the system roles of a new organization; returns their ids by slug.
pub async fn seed_system_roles(
    tx: &mut Tx<'_>,
    actor: &Actor,
) -> AppResult<BTreeMap<&'static str, Uuid>> {
    let mut ids = BTreeMap::new();
    for role in SYSTEM_ROLES {
        let perms: BTreeSet<String> = role.permissions().into_iter().collect();
        let spec = RoleSpec {
            name: role.name,
            slug: role.slug,
            description: role.description,
            is_system: true,
            priority: role.priority,
        };
        let id = insert_role(tx, actor.org_id, spec, &perms).await?;
        audit::record(
            tx,
            actor,
            Entry::new("role.created", "role", id).changes(serde_json::json!({
                "name": role.name, "system": true, "permissions": perms,
            })),
        )
        .await?;
        ids.insert(role.slug, id);
    }
    Ok(ids)
}

async fn insert_assignment(
    tx: &mut Tx<'_>,
    actor: &Actor,
    user_id: Uuid,
    role_id: Uuid,
) -> AppResult<bool> {
    let inserted = sqlx::query(
        "INSERT IGNORE INTO user_roles (organization_id, user_id, role_id, assigned_at, assigned_by)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(actor.org_id)
    .bind(user_id)
    .bind(role_id)
    .bind(db::now())
    .bind(actor.user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        > 0;
    if inserted {
        audit::record(
            tx,
            actor,
            Entry::new("member.role_assigned", "member", user_id)
                .changes(serde_json::json!({"role_id": role_id})),
        )
        .await?;
    }
    Ok(inserted)
}

pub async fn assign_by_slug(
    tx: &mut Tx<'_>,
    actor: &Actor,
    user_id: Uuid,
    slug: &str,
) -> AppResult<()> {
    let role_id: Uuid =
        sqlx::query_scalar("SELECT id FROM roles WHERE organization_id = ? AND slug = ?")
            .bind(actor.org_id)
            .bind(slug)
            .fetch_one(&mut **tx)
            .await?;
    insert_assignment(tx, actor, user_id, role_id).await?;
    Ok(())
}

/// Every member holds the system Member role.
pub async fn assign_member_role(tx: &mut Tx<'_>, actor: &Actor, user_id: Uuid) -> AppResult<()> {
    assign_by_slug(tx, actor, user_id, permissions::MEMBER).await
}

// ---------------------------------------------------------------------------------------------
// The API's operations

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub is_system: bool,
    pub priority: i32,
    #[schema(schema_with = crate::auth::permissions::list_schema)]
    pub permissions: Vec<String>,
    pub member_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RoleRow {
    id: Uuid,
    name: String,
    slug: String,
    description: String,
    is_system: bool,
    priority: i32,
    perms: Option<String>,
    member_count: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<RoleRow> for Role {
    fn from(r: RoleRow) -> Self {
        let mut permissions: Vec<String> = r
            .perms
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        permissions.sort();
        Role {
            id: r.id,
            name: r.name,
            slug: r.slug,
            description: r.description,
            is_system: r.is_system,
            priority: r.priority,
            permissions,
            member_count: r.member_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const ROLE_SELECT: &str = "SELECT r.id, r.name, r.slug, r.description, r.is_system, r.priority,
        (SELECT GROUP_CONCAT(rp.permission) FROM role_permissions rp WHERE rp.role_id = r.id) AS perms,
        (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS member_count,
        r.created_at, r.updated_at
   FROM roles r";

pub async fn list(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Role>> {
    ctx.require(MEMBERS_VIEW)?;
    let rows: Vec<RoleRow> = sqlx::query_as(AssertSqlSafe(format!(
        "{ROLE_SELECT} WHERE r.organization_id = ? ORDER BY r.priority DESC, r.name"
    )))
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Role::from).collect())
}

async fn load(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Role> {
    let row: RoleRow = sqlx::query_as(AssertSqlSafe(format!(
        "{ROLE_SELECT} WHERE r.id = ? AND r.organization_id = ?"
    )))
    .bind(id)
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(row.into())
}

pub async fn get(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Role> {
    ctx.require(MEMBERS_VIEW)?;
    load(conn, ctx.org_id, id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    #[schema(max_length = 100)]
    pub name: String,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    #[schema(schema_with = crate::auth::permissions::list_schema)]
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePatch {
    /// System roles keep their name.
    #[schema(max_length = 100)]
    pub name: Option<String>,
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// The complete new set.
    #[schema(schema_with = crate::auth::permissions::list_schema)]
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneRole {
    #[schema(max_length = 100)]
    pub name: String,
}

fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('_') && !slug.is_empty() {
            slug.push('_');
        }
    }
    let slug = slug.trim_end_matches('_').to_string();
    if slug.is_empty() {
        format!("role_{}", &Uuid::now_v7().simple().to_string()[..8])
    } else {
        slug.chars().take(90).collect()
    }
}

fn parse_permissions(c: &mut Checks, list: Vec<String>) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for p in list {
        if permissions::is_known(&p) {
            set.insert(p);
        } else {
            c.push("permissions", format!("`{p}` is not a known permission"));
        }
    }
    set
}

pub async fn create(ctx: &Ctx, tx: &mut Tx<'_>, input: NewRole) -> AppResult<Role> {
    ctx.require(ROLES_MANAGE)?;
    let mut c = Checks::default();
    let name = c.take(input::required_text("name", &input.name, 100));
    let description = c.take(input::optional_text("description", input.description, 500));
    let perms = parse_permissions(&mut c, input.permissions);
    c.finish()?;
    ensure_within_ceiling(ctx, &perms)?;
    let name = name.unwrap_or_default();
    let description = description.flatten().unwrap_or_default();
    let slug = slugify(&name);
    let spec = RoleSpec {
        name: &name,
        slug: &slug,
        description: &description,
        is_system: false,
        priority: 50,
    };
    let id = insert_role(tx, ctx.org_id, spec, &perms).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("role.created", "role", id).changes(serde_json::json!({
            "name": name, "description": description, "permissions": perms,
        })),
    )
    .await?;
    load(tx, ctx.org_id, id).await
}

pub async fn update(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, patch: RolePatch) -> AppResult<Role> {
    ctx.require(ROLES_MANAGE)?;
    lock_organization(tx, ctx.org_id).await?;
    let before = load(tx, ctx.org_id, id).await?;
    let mut c = Checks::default();
    let name = match patch.name {
        Some(n) => c.take(input::required_text("name", &n, 100)),
        None => Some(before.name.clone()),
    };
    if before.is_system && name.as_deref() != Some(before.name.as_str()) && name.is_some() {
        c.push("name", "a system role keeps its name");
    }
    let description = match patch.description {
        Some(d) => c
            .take(input::optional_text("description", Some(d), 500))
            .map(|d| d.unwrap_or_default()),
        None => Some(before.description.clone()),
    };
    let old_perms: BTreeSet<String> = before.permissions.iter().cloned().collect();
    let new_perms = match patch.permissions {
        Some(list) => parse_permissions(&mut c, list),
        None => old_perms.clone(),
    };
    c.finish()?;
    let added: Vec<&String> = new_perms.difference(&old_perms).collect();
    ensure_within_ceiling(ctx, added)?;
    let (name, description) = (name.unwrap_or_default(), description.unwrap_or_default());
    if name == before.name && description == before.description && new_perms == old_perms {
        // Nothing to change: no write, no audit entry.
        return Ok(before);
    }
    sqlx::query(
        "UPDATE roles SET name = ?, slug = ?, description = ?, updated_at = ?
          WHERE id = ? AND organization_id = ?",
    )
    .bind(&name)
    .bind(if before.is_system {
        before.slug.clone()
    } else {
        slugify(&name)
    })
    .bind(&description)
    .bind(db::now())
    .bind(id)
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, UNIQUE_KEYS))?;
    if new_perms != old_perms {
        write_permissions(tx, ctx.org_id, id, &new_perms).await?;
        ensure_manager_remains(tx, ctx.org_id).await?;
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("role.updated", "role", id).changes(audit::chain::diff(
            &serde_json::json!({"name": before.name, "description": before.description,
                "permissions": old_perms}),
            &serde_json::json!({"name": name, "description": description,
                "permissions": new_perms}),
        )),
    )
    .await?;
    load(tx, ctx.org_id, id).await
}

pub async fn delete(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<()> {
    ctx.require(ROLES_MANAGE)?;
    lock_organization(tx, ctx.org_id).await?;
    let role = load(tx, ctx.org_id, id).await?;
    if role.is_system {
        return Err(AppError::Conflict("system roles cannot be deleted".into()));
    }
    sqlx::query("DELETE FROM user_roles WHERE role_id = ? AND organization_id = ?")
        .bind(id)
        .bind(ctx.org_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM roles WHERE id = ? AND organization_id = ?")
        .bind(id)
        .bind(ctx.org_id)
        .execute(&mut **tx)
        .await?;
    ensure_manager_remains(tx, ctx.org_id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("role.deleted", "role", id)
            .severity(Severity::Warning)
            .changes(serde_json::json!({
                "name": role.name, "permissions": role.permissions,
                "members_unassigned": role.member_count,
            })),
    )
    .await?;
    Ok(())
}

pub async fn clone(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, input: CloneRole) -> AppResult<Role> {
    ctx.require(ROLES_MANAGE)?;
    let source = load(tx, ctx.org_id, id).await?;
    create(
        ctx,
        tx,
        NewRole {
            name: input.name,
            description: Some(source.description),
            permissions: source.permissions,
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// A member's roles

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MemberRole {
    pub role_id: Uuid,
    pub name: String,
    pub slug: String,
    pub is_system: bool,
    pub assigned_at: DateTime<Utc>,
}

async fn member_exists(conn: &mut Conn, org_id: OrgId, user_id: Uuid) -> AppResult<()> {
    sqlx::query("SELECT id FROM users WHERE id = ? AND organization_id = ?")
        .bind(user_id)
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(())
}

/// Every member of the department with whether they hold the role: id, first and last name,
/// username, holds; by last name.
pub async fn members_with_role(
    conn: &mut Conn,
    org_id: OrgId,
    role_id: Uuid,
) -> AppResult<Vec<(Uuid, String, String, String, bool)>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.first_name, u.last_name, u.username,
                EXISTS(SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id AND ur.role_id = ?) AS holds
           FROM users u WHERE u.organization_id = ?
          ORDER BY u.last_name, u.first_name, u.username",
    )
    .bind(role_id)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn member_roles(ctx: &Ctx, conn: &mut Conn, user_id: Uuid) -> AppResult<Vec<MemberRole>> {
    if user_id != ctx.user_id {
        ctx.require(MEMBERS_VIEW)?;
    }
    member_exists(conn, ctx.org_id, user_id).await?;
    roles_of(conn, ctx.org_id, user_id).await
}

pub async fn roles_of(conn: &mut Conn, org_id: OrgId, user_id: Uuid) -> AppResult<Vec<MemberRole>> {
    Ok(sqlx::query_as(
        "SELECT r.id AS role_id, r.name, r.slug, r.is_system, ur.assigned_at
           FROM user_roles ur JOIN roles r ON r.id = ur.role_id
          WHERE ur.user_id = ? AND ur.organization_id = ?
          ORDER BY r.priority DESC, r.name",
    )
    .bind(user_id)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRole {
    pub role_id: Uuid,
}

pub async fn assign(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    user_id: Uuid,
    input: AssignRole,
) -> AppResult<Vec<MemberRole>> {
    ctx.require(ROLES_MANAGE)?;
    member_exists(tx, ctx.org_id, user_id).await?;
    let role = load(tx, ctx.org_id, input.role_id)
        .await
        .map_err(|e| match e {
            AppError::NotFound => AppError::field("role_id", "no such role"),
            other => other,
        })?;
    ensure_within_ceiling(ctx, &role.permissions)?;
    insert_assignment(tx, &ctx.actor(), user_id, role.id).await?;
    roles_of(tx, ctx.org_id, user_id).await
}

pub async fn unassign(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    user_id: Uuid,
    role_id: Uuid,
) -> AppResult<Vec<MemberRole>> {
    ctx.require(ROLES_MANAGE)?;
    lock_organization(tx, ctx.org_id).await?;
    member_exists(tx, ctx.org_id, user_id).await?;
    let removed = sqlx::query(
        "DELETE FROM user_roles WHERE user_id = ? AND role_id = ? AND organization_id = ?",
    )
    .bind(user_id)
    .bind(role_id)
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if removed == 0 {
        return Err(AppError::NotFound);
    }
    ensure_manager_remains(tx, ctx.org_id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.role_unassigned", "member", user_id)
            .changes(serde_json::json!({"role_id": role_id})),
    )
    .await?;
    roles_of(tx, ctx.org_id, user_id).await
}

#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PermissionInfo {
    pub name: String,
    pub module: String,
    pub description: String,
}

pub async fn catalogue(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<PermissionInfo>> {
    ctx.require(MEMBERS_VIEW)?;
    let all: Vec<PermissionInfo> =
        sqlx::query_as("SELECT name, module, description FROM permissions ORDER BY module, name")
            .fetch_all(&mut *conn)
            .await?;
    Ok(all
        .into_iter()
        .filter(|p| crate::auth::permissions::offered(&p.module))
        .collect())
}
