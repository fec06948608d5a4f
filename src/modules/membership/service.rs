//! Membership tiers by years of service (`reference/features.md` §1.4): probationary → active →
//! senior → life by default, each with its benefits (training exempt, may vote, may hold
//! office; a tier that votes may also ask a share of meetings attended). A monthly job (and
//! "run now") moves active and probationary members up to the highest tier their years since
//! `hire_date` reach; it never moves anyone down (a tier given by hand stays), and audits each
//! change. The department may rename tiers, change their years and benefits, add tiers and
//! switch them off (`members.manage`); a tier is never deleted, since members and requirements
//! point at it.

use crate::auth::OrgId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{MEMBERS_MANAGE, MEMBERS_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, unique_violation};
use crate::input::{Checks, required_text};

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Tier {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub years_required: u16,
    pub sort_order: i16,
    pub training_exempt: bool,
    pub voting_eligible: bool,
    /// The least meeting attendance (percent) over the last `voting_attendance_months` months
    /// its members need to vote; null when the tier asks none.
    pub voting_min_attendance_pct: Option<u8>,
    pub voting_attendance_months: u8,
    pub can_hold_office: bool,
    pub active: bool,
}

pub(super) async fn load(conn: &mut Conn, org_id: OrgId) -> AppResult<Vec<Tier>> {
    Ok(sqlx::query_as(
        "SELECT id, slug, name, years_required, sort_order, training_exempt, voting_eligible,
                voting_min_attendance_pct, voting_attendance_months, can_hold_office, active
           FROM membership_tiers WHERE organization_id = ? ORDER BY sort_order, years_required",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// Those who may change the tiers may read them too.
fn may_read(ctx: &Ctx) -> AppResult<()> {
    if ctx.has(MEMBERS_MANAGE) {
        Ok(())
    } else {
        ctx.require(MEMBERS_VIEW)
    }
}

pub async fn tiers(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Tier>> {
    may_read(ctx)?;
    load(conn, ctx.org_id).await
}

/// One tier of the caller's department (another department's answers 404).
pub async fn tier(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Tier> {
    may_read(ctx)?;
    find(conn, ctx.org_id, id).await
}

async fn find(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<Tier> {
    sqlx::query_as(
        "SELECT id, slug, name, years_required, sort_order, training_exempt, voting_eligible,
                voting_min_attendance_pct, voting_attendance_months, can_hold_office, active
           FROM membership_tiers WHERE organization_id = ? AND id = ?",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// A tier as the department defines it (the whole tier, for adding one or replacing one).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierInput {
    /// At most 100 characters, unique in the department.
    #[schema(max_length = 100)]
    pub name: String,
    /// Lower-case letters, digits and `_`, at most 32; unique in the department. Left out: made
    /// from the name when adding, kept when changing.
    pub slug: Option<String>,
    /// Whole years of service (0 to 80) that reach the tier.
    #[schema(minimum = 0, maximum = 80)]
    pub years_required: i64,
    /// Order in lists (0 to 1000). Left out: after the others when adding, kept when changing.
    #[schema(minimum = 0, maximum = 1000)]
    pub sort_order: Option<i64>,
    #[serde(default)]
    pub training_exempt: bool,
    #[serde(default)]
    pub voting_eligible: bool,
    /// The least meeting attendance, in percent (1 to 100), its members need to vote; left out
    /// or null: none.
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default)]
    pub voting_min_attendance_pct: Option<i64>,
    /// The months of meetings (1 to 60) that attendance is counted over. Left out: 12.
    #[schema(minimum = 1, maximum = 60, default = 12)]
    #[serde(default = "twelve")]
    pub voting_attendance_months: i64,
    #[serde(default)]
    pub can_hold_office: bool,
    /// An inactive tier is reached by nobody; members already in it stay.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

fn twelve() -> i64 {
    DEFAULT_ATTENDANCE_MONTHS
}

pub const MAX_YEARS: i64 = 80;
pub const MAX_SORT_ORDER: i64 = 1000;
pub const MAX_ATTENDANCE_MONTHS: i64 = 60;
pub const DEFAULT_ATTENDANCE_MONTHS: i64 = 12;

const TIER_KEYS: &[(&str, &str, &str)] = &[(
    "uq_membership_tiers_org_slug",
    "slug",
    "is already the short name of a tier",
)];

/// "Senior member (25+)" → "senior_member_25".
pub fn slug_from(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let mut out: String = out.trim_end_matches('_').chars().take(32).collect();
    while out.ends_with('_') {
        out.pop();
    }
    if out.is_empty() { "tier".into() } else { out }
}

fn slug_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

struct ValidTier {
    name: String,
    slug: Option<String>,
    years: u16,
    sort_order: Option<i16>,
    min_attendance_pct: Option<u8>,
    attendance_months: u8,
}

fn validate(input: &TierInput) -> AppResult<ValidTier> {
    let mut c = Checks::default();
    let name = c.take(required_text("name", &input.name, 100));
    let slug = match input.slug.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) if slug_ok(s) => Some(s.to_string()),
        Some(_) => {
            c.push(
                "slug",
                "must be 1 to 32 lower-case letters, digits or underscores",
            );
            None
        }
    };
    if !(0..=MAX_YEARS).contains(&input.years_required) {
        c.push(
            "years_required",
            format!("must be a whole number from 0 to {MAX_YEARS}"),
        );
    }
    if input
        .sort_order
        .is_some_and(|o| !(0..=MAX_SORT_ORDER).contains(&o))
    {
        c.push(
            "sort_order",
            format!("must be a whole number from 0 to {MAX_SORT_ORDER}"),
        );
    }
    if input
        .voting_min_attendance_pct
        .is_some_and(|p| !(1..=100).contains(&p))
    {
        c.push(
            "voting_min_attendance_pct",
            "must be a whole number from 1 to 100, or empty for none",
        );
    }
    if !(1..=MAX_ATTENDANCE_MONTHS).contains(&input.voting_attendance_months) {
        c.push(
            "voting_attendance_months",
            format!("must be a whole number from 1 to {MAX_ATTENDANCE_MONTHS}"),
        );
    }
    c.finish()?;
    Ok(ValidTier {
        name: name.unwrap_or_default(),
        slug,
        years: input.years_required as u16,
        sort_order: input.sort_order.map(|o| o as i16),
        min_attendance_pct: input.voting_min_attendance_pct.map(|p| p as u8),
        attendance_months: input.voting_attendance_months as u8,
    })
}

/// Refuses a name or short name another tier of the department has (names compare without
/// regard to case).
async fn check_unique(
    conn: &mut Conn,
    org_id: OrgId,
    except: Option<Uuid>,
    name: &str,
    slug: &str,
) -> AppResult<()> {
    let others: Vec<(Uuid, String, String)> =
        sqlx::query_as("SELECT id, name, slug FROM membership_tiers WHERE organization_id = ?")
            .bind(org_id)
            .fetch_all(&mut *conn)
            .await?;
    let mut c = Checks::default();
    for (id, other_name, other_slug) in others {
        if Some(id) == except {
            continue;
        }
        if other_name.to_lowercase() == name.to_lowercase() {
            c.push("name", "is already the name of a tier");
        }
        if other_slug == slug {
            c.push("slug", "is already the short name of a tier");
        }
    }
    c.finish()
}

pub async fn create_tier(ctx: &Ctx, tx: &mut Tx<'_>, input: TierInput) -> AppResult<Tier> {
    ctx.require(MEMBERS_MANAGE)?;
    let v = validate(&input)?;
    let slug = match v.slug.clone() {
        Some(s) => s,
        None => {
            // Made from the name; a suffix if another tier has it already.
            let base = slug_from(&v.name);
            let taken: Vec<String> =
                sqlx::query_scalar("SELECT slug FROM membership_tiers WHERE organization_id = ?")
                    .bind(ctx.org_id)
                    .fetch_all(&mut **tx)
                    .await?;
            let mut slug = base.clone();
            let mut n = 2;
            while taken.contains(&slug) {
                let suffix = format!("_{n}");
                slug = format!("{}{suffix}", &base[..base.len().min(32 - suffix.len())]);
                n += 1;
            }
            slug
        }
    };
    check_unique(tx, ctx.org_id, None, &v.name, &slug).await?;
    let sort_order = match v.sort_order {
        Some(o) => o,
        None => {
            let max: Option<i16> = sqlx::query_scalar(
                "SELECT MAX(sort_order) FROM membership_tiers WHERE organization_id = ?",
            )
            .bind(ctx.org_id)
            .fetch_one(&mut **tx)
            .await?;
            max.map_or(1, |m| (m + 1).min(MAX_SORT_ORDER as i16))
        }
    };
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO membership_tiers (id, organization_id, slug, name, years_required, sort_order,
             training_exempt, voting_eligible, voting_min_attendance_pct, voting_attendance_months,
             can_hold_office, active, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&slug)
    .bind(&v.name)
    .bind(v.years)
    .bind(sort_order)
    .bind(input.training_exempt)
    .bind(input.voting_eligible)
    .bind(v.min_attendance_pct)
    .bind(v.attendance_months)
    .bind(input.can_hold_office)
    .bind(input.active)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, TIER_KEYS))?;
    let created = find(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.tier_created", "membership_tier", id)
            .changes(serde_json::to_value(&created).map_err(anyhow::Error::new)?),
    )
    .await?;
    Ok(created)
}

pub async fn update_tier(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: TierInput,
) -> AppResult<Tier> {
    ctx.require(MEMBERS_MANAGE)?;
    let before = find(tx, ctx.org_id, id).await?;
    let v = validate(&input)?;
    let slug = v.slug.clone().unwrap_or_else(|| before.slug.clone());
    check_unique(tx, ctx.org_id, Some(id), &v.name, &slug).await?;
    sqlx::query(
        "UPDATE membership_tiers SET slug = ?, name = ?, years_required = ?, sort_order = ?,
             training_exempt = ?, voting_eligible = ?, voting_min_attendance_pct = ?,
             voting_attendance_months = ?, can_hold_office = ?, active = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&slug)
    .bind(&v.name)
    .bind(v.years)
    .bind(v.sort_order.unwrap_or(before.sort_order))
    .bind(input.training_exempt)
    .bind(input.voting_eligible)
    .bind(v.min_attendance_pct)
    .bind(v.attendance_months)
    .bind(input.can_hold_office)
    .bind(input.active)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, TIER_KEYS))?;
    let after = find(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.tier_updated", "membership_tier", id)
            .changes(serde_json::json!({"before": before, "after": after})),
    )
    .await?;
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(slug_from("Senior member (25+)"), "senior_member_25");
        assert_eq!(slug_from("  Life  "), "life");
        assert_eq!(slug_from("★"), "tier");
        assert_eq!(slug_from(&"a".repeat(40)).len(), 32);
    }
}

/// A member's tier given by hand: the tier (None: none) and why.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberTier {
    pub tier_id: Option<Uuid>,
    /// Why (kept in the audit log); required.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
}

/// What a member's tier is now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberTierNow {
    pub member_id: Uuid,
    pub tier_id: Option<Uuid>,
}

/// Gives a member a tier by hand, or none (`members.manage`; audited with the tiers before and
/// after and the reason). The monthly job moves members up only, so a tier given by hand stays
/// until the member's years reach a higher one.
pub async fn set_member_tier(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    member: Uuid,
    input: MemberTier,
) -> AppResult<MemberTierNow> {
    ctx.require(MEMBERS_MANAGE)?;
    let reason = required_text("reason", &input.reason, 500)?;
    // The member first: another department's is not found, whatever the body says.
    let before: Option<Option<Uuid>> = sqlx::query_scalar(
        "SELECT membership_tier_id FROM users WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(member)
    .fetch_optional(&mut **tx)
    .await?;
    let before = before.ok_or(AppError::NotFound)?;
    let tiers = load(tx, ctx.org_id).await?;
    let target = match input.tier_id {
        None => None,
        Some(id) => Some(
            tiers
                .iter()
                .find(|t| t.id == id && t.active)
                .ok_or_else(|| {
                    AppError::field("tier_id", "is not an active tier of this department")
                })?,
        ),
    };
    let after = target.map(|t| t.id);
    if before != after {
        sqlx::query(
            "UPDATE users SET membership_tier_id = ?, updated_at = ?
              WHERE organization_id = ? AND id = ?",
        )
        .bind(after)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(member)
        .execute(&mut **tx)
        .await?;
        let slug = |id: Option<Uuid>| {
            id.and_then(|id| tiers.iter().find(|t| t.id == id))
                .map(|t| t.slug.clone())
        };
        audit::record(
            tx,
            &ctx.actor(),
            Entry::new("member.tier_set", "member", member).changes(serde_json::json!({
                "from": slug(before), "to": slug(after), "reason": reason,
            })),
        )
        .await?;
    }
    Ok(MemberTierNow {
        member_id: member,
        tier_id: after,
    })
}

/// A member's tier now (`members.manage`; another department's member is not found).
pub async fn member_tier(ctx: &Ctx, conn: &mut Conn, member: Uuid) -> AppResult<MemberTierNow> {
    ctx.require(MEMBERS_MANAGE)?;
    let tier: Option<Option<Uuid>> = sqlx::query_scalar(
        "SELECT membership_tier_id FROM users WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(member)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(MemberTierNow {
        member_id: member,
        tier_id: tier.ok_or(AppError::NotFound)?,
    })
}
