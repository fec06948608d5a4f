//! Invitations: how a member the department added gets in. An officer sends an email with a
//! link to choose a password, or prints a sheet of one-time sign-in codes for members without
//! email. Either way the member holds a single-use code (the same kind, and the same table, as a
//! password-reset link), good for 7 days; the member types or follows it on `/welcome` and
//! chooses a password. A new invitation spends the member's earlier one; an officer can revoke.
//!
//! Inviting hands over the account, so the role ceiling applies as for a temporary password.
//! The member's row is locked first: two officers pressing "Invite" at once leave one code.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::service::{self as members, MemberRow};
use crate::audit::{self, Entry};
use crate::auth::permissions::MEMBERS_MANAGE;
use crate::auth::reset::new_code;
use crate::auth::tokens::hash_token;
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::notify::mail::{self, Letter, Outgoing};
use crate::roles::service as roles;

/// How long an invitation's code works.
pub const INVITATION_DAYS: i64 = 7;
/// Members on one printed sheet.
pub const MAX_PER_SHEET: usize = 200;
/// Characters in a printed code (before the dashes): about 78 bits, typed from paper.
const PRINTED_CODE_LEN: usize = 16;
/// Characters in an emailed link's code.
const LINK_CODE_LEN: usize = 24;

crate::words! {
    /// How the member was given the code.
    pub enum Delivery {
        Email = "email",
        Printed = "printed",
    }
}

/// The invitation a member holds and has not used yet.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Outstanding {
    #[schema(schema_with = Delivery::schema_object)]
    pub delivery: Delivery,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Whether a member holds an invitation that still works.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Waiting {
    /// The invitation waiting to be used; null when there is none (never sent, used, revoked
    /// or expired).
    pub waiting: Option<Outstanding>,
}

/// An invitation sent by email.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InvitationSent {
    pub member_id: Uuid,
    pub sent_to: String,
    pub expires_at: DateTime<Utc>,
}

/// One line of a printed sheet: who, their username, and the code (shown this once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrintedCode {
    pub member_id: Uuid,
    pub name: String,
    pub username: String,
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodesRequest {
    /// The members to print codes for (at most 200).
    pub member_ids: Vec<Uuid>,
}

/// The invitation `member` holds, if any (not used, not revoked, not expired).
pub async fn outstanding(
    conn: &mut Conn,
    org_id: OrgId,
    member: Uuid,
) -> AppResult<Option<Outstanding>> {
    Ok(sqlx::query_as(
        "SELECT delivery, created_at, expires_at FROM password_reset_tokens
          WHERE organization_id = ? AND user_id = ? AND purpose = 'invitation'
            AND used_at IS NULL AND expires_at > ?
          ORDER BY created_at DESC LIMIT 1",
    )
    .bind(org_id)
    .bind(member)
    .bind(db::now())
    .fetch_optional(&mut *conn)
    .await?)
}

/// Locks the members (in id order, so two callers cannot deadlock) and checks, for each, that
/// the caller may hand over the account (the role ceiling) and that it may sign in: one answer
/// per member, in id order. A member not in the caller's department refuses the whole call.
/// Three statements however many members: a sheet of 200 is not 600 round trips.
async fn targets(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    ids: &[Uuid],
) -> AppResult<Vec<(Uuid, AppResult<MemberRow>)>> {
    ctx.require(MEMBERS_MANAGE)?;
    let mut ids = ids.to_vec();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = QueryBuilder::new(format!(
        "SELECT {} FROM users WHERE organization_id = ",
        members::MEMBER_COLUMNS
    ));
    q.push_bind(ctx.org_id).push(" AND id IN (");
    let mut list = q.separated(", ");
    for id in &ids {
        list.push_bind(*id);
    }
    q.push(") ORDER BY id FOR UPDATE");
    let rows: Vec<MemberRow> = q.build_query_as().fetch_all(&mut **tx).await?;
    if rows.len() != ids.len() {
        return Err(AppError::NotFound);
    }
    let mut q = QueryBuilder::new(
        "SELECT DISTINCT ur.user_id, rp.permission FROM user_roles ur
           JOIN role_permissions rp ON rp.role_id = ur.role_id
          WHERE ur.organization_id = ",
    );
    q.push_bind(ctx.org_id).push(" AND ur.user_id IN (");
    let mut list = q.separated(", ");
    for id in &ids {
        list.push_bind(*id);
    }
    q.push(")");
    let granted: Vec<(Uuid, String)> = q.build_query_as().fetch_all(&mut **tx).await?;
    let mut perms: HashMap<Uuid, Vec<String>> = HashMap::new();
    for (user, perm) in granted {
        perms.entry(user).or_default().push(perm);
    }
    Ok(rows
        .into_iter()
        .map(|member| {
            let theirs = perms.remove(&member.id).unwrap_or_default();
            let checked = roles::ensure_within_ceiling(ctx, &theirs).and_then(|()| {
                if crate::auth::ctx::may_sign_in(member.status) {
                    Ok(())
                } else {
                    Err(AppError::Conflict(format!(
                        "{} {} is {} and cannot sign in; change the status first",
                        member.first_name,
                        member.last_name,
                        member.status.as_str().replace('_', " ")
                    )))
                }
            });
            (member.id, checked.map(|()| member))
        })
        .collect())
}

/// Locks one member and checks that the caller may hand over the account (see `targets`).
async fn target(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<MemberRow> {
    targets(ctx, tx, &[id])
        .await?
        .pop()
        .map_or(Err(AppError::NotFound), |(_, member)| member)
}

/// Spends the member's outstanding invitations; how many there were.
async fn spend(tx: &mut Tx<'_>, org_id: OrgId, member: Uuid) -> AppResult<u64> {
    let now = db::now();
    Ok(sqlx::query(
        "UPDATE password_reset_tokens SET used_at = ?, revoked_at = ?
          WHERE organization_id = ? AND user_id = ? AND purpose = 'invitation'
            AND used_at IS NULL",
    )
    .bind(now)
    .bind(now)
    .bind(org_id)
    .bind(member)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// Stores a new invitation for `member` (spending any earlier one) and audits it; the code.
async fn issue(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    member: &MemberRow,
    delivery: Delivery,
) -> AppResult<(String, DateTime<Utc>)> {
    let replaced = spend(tx, ctx.org_id, member.id).await?;
    let code = new_code(match delivery {
        Delivery::Email => LINK_CODE_LEN,
        Delivery::Printed => PRINTED_CODE_LEN,
    });
    let now = db::now();
    let expires_at = now + Duration::days(INVITATION_DAYS);
    sqlx::query(
        "INSERT INTO password_reset_tokens (id, organization_id, user_id, purpose, delivery,
            created_by, token_hash, created_at, expires_at, requested_ip)
         VALUES (?, ?, ?, 'invitation', ?, ?, ?, ?, ?, ?)",
    )
    .bind(db::new_id())
    .bind(ctx.org_id)
    .bind(member.id)
    .bind(delivery)
    .bind(ctx.user_id)
    .bind(hash_token(&crate::auth::reset::canonical(&code)))
    .bind(now)
    .bind(expires_at)
    .bind(&ctx.ip)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.invited", "member", member.id).changes(serde_json::json!({
            "delivery": delivery, "expires_at": expires_at, "replaced_earlier": replaced > 0,
        })),
    )
    .await?;
    Ok((code, expires_at))
}

/// Emails `id` an invitation: a link to `/welcome` with the code. The caller commits with
/// `mailer.commit_and_kick`.
pub async fn send(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    public_url: &str,
    id: Uuid,
) -> AppResult<InvitationSent> {
    let member = target(ctx, tx, id).await?;
    let org_name = mail_ready(ctx, tx).await?;
    email_one(ctx, tx, public_url, &org_name, member).await
}

/// The department's name, once email is known to be set up; refused otherwise.
async fn mail_ready(ctx: &Ctx, tx: &mut Tx<'_>) -> AppResult<String> {
    if !mail::is_configured(tx, ctx.org_id).await? {
        return Err(AppError::Conflict(
            "email is not set up for the department, so no invitation can be sent; print a \
             sign-in code instead, or set up email in Settings"
                .into(),
        ));
    }
    crate::organization::service::name(tx, ctx.org_id).await
}

/// Issues `member` (locked and checked) an emailed invitation and queues the letter.
async fn email_one(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    public_url: &str,
    org_name: &str,
    member: MemberRow,
) -> AppResult<InvitationSent> {
    let (code, expires_at) = issue(ctx, tx, &member, Delivery::Email).await?;
    let link = format!("{public_url}/welcome?code={code}");
    let (text, html) = Letter {
        org_name: org_name.to_string(),
        greeting: format!("Hello {},", member.first_name),
        title: format!("You are invited to {org_name}'s Logbook"),
        paragraphs: vec![
            format!(
                "{org_name} keeps its members, training and schedules in Logbook. Your username \
                 is \"{}\". Choose a password with the link below; it works once, for \
                 {INVITATION_DAYS} days.",
                member.username
            ),
            "If the link has expired, ask an officer to send a new one.".into(),
        ],
        link: Some(("Choose your password".into(), link)),
        footer: format!("Sent by Logbook for {org_name}."),
    }
    .render()?;
    mail::enqueue(
        tx,
        ctx.org_id,
        &[Outgoing {
            notification_id: None,
            to_address: member.email.clone(),
            to_name: Some(format!("{} {}", member.first_name, member.last_name)),
            subject: format!("[{org_name}] Your invitation to Logbook"),
            text,
            html,
        }],
    )
    .await?;
    Ok(InvitationSent {
        member_id: member.id,
        sent_to: member.email,
        expires_at,
    })
}

/// One-time sign-in codes for `ids`, for a printed sheet. Every member must be in the caller's
/// department and able to sign in; one that is not refuses the whole sheet (nothing is issued).
pub async fn print(ctx: &Ctx, tx: &mut Tx<'_>, ids: &[Uuid]) -> AppResult<Vec<PrintedCode>> {
    ctx.require(MEMBERS_MANAGE)?;
    if ids.is_empty() {
        return Err(AppError::field("member_ids", "choose at least one member"));
    }
    if ids.len() > MAX_PER_SHEET {
        return Err(AppError::field(
            "member_ids",
            format!("at most {MAX_PER_SHEET} members on one sheet"),
        ));
    }
    let mut members = targets(ctx, tx, ids)
        .await?
        .into_iter()
        .map(|(_, member)| member)
        .collect::<AppResult<Vec<_>>>()?;
    members.sort_by(|a, b| (&a.last_name, &a.first_name).cmp(&(&b.last_name, &b.first_name)));
    let mut sheet = Vec::with_capacity(members.len());
    for member in members {
        let (code, expires_at) = issue(ctx, tx, &member, Delivery::Printed).await?;
        sheet.push(PrintedCode {
            member_id: member.id,
            name: format!("{} {}", member.first_name, member.last_name),
            username: member.username,
            code,
            expires_at,
        });
    }
    Ok(sheet)
}

/// Who a "not signed in yet" sheet is for: members who may sign in, never have, and are not
/// waiting on an emailed invitation (a sheet must not spend the link in someone's inbox; a
/// printed code is replaced, so a lost sheet can be printed again).
pub async fn never_signed_in(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Uuid>> {
    ctx.require(MEMBERS_MANAGE)?;
    Ok(sqlx::query_scalar(
        "SELECT u.id FROM users u
          WHERE u.organization_id = ? AND u.last_login_at IS NULL AND FIND_IN_SET(u.status, ?)
            AND NOT EXISTS (SELECT 1 FROM password_reset_tokens t
                             WHERE t.organization_id = u.organization_id AND t.user_id = u.id
                               AND t.purpose = 'invitation' AND t.delivery = 'email'
                               AND t.used_at IS NULL AND t.expires_at > ?)
          ORDER BY u.last_name, u.first_name LIMIT ?",
    )
    .bind(ctx.org_id)
    .bind(crate::auth::ctx::sign_in_status_set())
    .bind(db::now())
    .bind(MAX_PER_SHEET as i64)
    .fetch_all(&mut *conn)
    .await?)
}

/// Revokes the member's outstanding invitation: its code stops working.
pub async fn revoke(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<()> {
    ctx.require(MEMBERS_MANAGE)?;
    members::load(tx, ctx.org_id, id, true).await?;
    if outstanding(tx, ctx.org_id, id).await?.is_none() {
        return Err(AppError::Conflict(
            "this member has no invitation waiting to be used".into(),
        ));
    }
    spend(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.invitation_revoked", "member", id),
    )
    .await
}

/// Emails an invitation to every member who may sign in, never has, and holds no invitation
/// that still works. Members the caller may not hand over (the role ceiling) are left out and
/// counted. `(sent, left_out)`.
pub async fn send_to_uninvited(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    public_url: &str,
) -> AppResult<(u64, u64)> {
    ctx.require(MEMBERS_MANAGE)?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT u.id FROM users u
          WHERE u.organization_id = ? AND u.last_login_at IS NULL AND FIND_IN_SET(u.status, ?)
            AND NOT EXISTS (SELECT 1 FROM password_reset_tokens t
                             WHERE t.organization_id = u.organization_id AND t.user_id = u.id
                               AND t.purpose = 'invitation' AND t.used_at IS NULL
                               AND t.expires_at > ?)
          ORDER BY u.id LIMIT ?",
    )
    .bind(ctx.org_id)
    .bind(crate::auth::ctx::sign_in_status_set())
    .bind(db::now())
    .bind(MAX_PER_SHEET as i64)
    .fetch_all(&mut **tx)
    .await?;
    send_to_members(ctx, tx, public_url, &ids).await
}

/// Emails an invitation to each of `ids` (members just imported, say). Members whose status
/// does not let them sign in are skipped; members the caller may not hand over (the role
/// ceiling) are left out and counted. `(sent, left_out)`.
pub async fn send_to_members(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    public_url: &str,
    ids: &[Uuid],
) -> AppResult<(u64, u64)> {
    ctx.require(MEMBERS_MANAGE)?;
    if ids.is_empty() {
        return Ok((0, 0));
    }
    let org_name = mail_ready(ctx, tx).await?;
    let (mut sent, mut left_out) = (0, 0);
    for (_, member) in targets(ctx, tx, ids).await? {
        match member {
            Ok(member) => {
                email_one(ctx, tx, public_url, &org_name, member).await?;
                sent += 1;
            }
            Err(AppError::Forbidden(_)) => left_out += 1,
            Err(AppError::Conflict(_)) => {}
            Err(other) => return Err(other),
        }
    }
    Ok((sent, left_out))
}
