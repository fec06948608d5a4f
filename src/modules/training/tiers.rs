//! Membership tiers by years of service (`reference/features.md` §1.4): probationary → active →
//! senior → life by default, each with its benefits (training exempt, may vote, may hold
//! office). A monthly job (and "run now") moves active and probationary members up to the
//! highest tier their years since `hire_date` reach; it never moves anyone down (a tier given by
//! hand stays), and audits each change. The department may rename tiers, change their years and
//! benefits, add tiers and switch them off (`members.manage`); a tier is never deleted, since
//! members and requirements point at it.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{self, Actor, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::{MEMBERS_MANAGE, MEMBERS_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, unique_violation};
use crate::http::ApiJson;
use crate::input::{Checks, required_text};
use crate::jobs::JobCtx;
use crate::state::AppState;
use crate::web::PathId;

pub const JOB: &str = "membership_tiers";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/membership/tiers", get(api_tiers).post(api_create))
        .route("/api/v1/membership/tiers/{id}", put(api_update))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Tier {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub years_required: u16,
    pub sort_order: i16,
    pub training_exempt: bool,
    pub voting_eligible: bool,
    pub can_hold_office: bool,
    pub active: bool,
}

async fn load(conn: &mut Conn, org_id: Uuid) -> AppResult<Vec<Tier>> {
    Ok(sqlx::query_as(
        "SELECT id, slug, name, years_required, sort_order, training_exempt, voting_eligible,
                can_hold_office, active
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

async fn find(conn: &mut Conn, org_id: Uuid, id: Uuid) -> AppResult<Tier> {
    sqlx::query_as(
        "SELECT id, slug, name, years_required, sort_order, training_exempt, voting_eligible,
                can_hold_office, active
           FROM membership_tiers WHERE organization_id = ? AND id = ?",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// A tier as the department defines it (the whole tier, for adding one or replacing one).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
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
    #[serde(default)]
    pub can_hold_office: bool,
    /// An inactive tier is reached by nobody; members already in it stay.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

pub const MAX_YEARS: i64 = 80;
pub const MAX_SORT_ORDER: i64 = 1000;

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
    c.finish()?;
    Ok(ValidTier {
        name: name.unwrap_or_default(),
        slug,
        years: input.years_required as u16,
        sort_order: input.sort_order.map(|o| o as i16),
    })
}

/// Refuses a name or short name another tier of the department has (names compare without
/// regard to case).
async fn check_unique(
    conn: &mut Conn,
    org_id: Uuid,
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
             training_exempt, voting_eligible, can_hold_office, active, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&slug)
    .bind(&v.name)
    .bind(v.years)
    .bind(sort_order)
    .bind(input.training_exempt)
    .bind(input.voting_eligible)
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
             training_exempt = ?, voting_eligible = ?, can_hold_office = ?, active = ?,
             updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&slug)
    .bind(&v.name)
    .bind(v.years)
    .bind(v.sort_order.unwrap_or(before.sort_order))
    .bind(input.training_exempt)
    .bind(input.voting_eligible)
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

/// Whole years from `hired` to `today` (a member hired on 29 February counts a year on
/// 28 February in other years).
pub fn years_of_service(hired: NaiveDate, today: NaiveDate) -> u32 {
    if today < hired {
        return 0;
    }
    let mut years = today.year() - hired.year();
    let anniversary = hired
        .with_year(today.year())
        .or_else(|| NaiveDate::from_ymd_opt(today.year(), 2, 28))
        .unwrap_or(today);
    if today < anniversary {
        years -= 1;
    }
    years.max(0) as u32
}

/// The tier a member with `years` of service reaches: the highest active one.
pub fn reached(tiers: &[Tier], years: u32) -> Option<&Tier> {
    tiers
        .iter()
        .filter(|t| t.active && u32::from(t.years_required) <= years)
        .max_by_key(|t| (t.years_required, t.sort_order))
}

#[derive(sqlx::FromRow)]
struct Candidate {
    id: Uuid,
    first_name: String,
    last_name: String,
    hire_date: NaiveDate,
    membership_tier_id: Option<Uuid>,
}

pub async fn run(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let org = ctx.org_id;
    let mut tx = state.db.begin().await?;
    let today = super::service::today(&mut tx, org).await?;
    let tiers = load(&mut tx, org).await?;
    let members: Vec<Candidate> = sqlx::query_as(
        "SELECT id, first_name, last_name, hire_date, membership_tier_id FROM users
          WHERE organization_id = ? AND status IN ('active', 'probationary')
            AND hire_date IS NOT NULL
          ORDER BY id FOR UPDATE",
    )
    .bind(org)
    .fetch_all(&mut *tx)
    .await?;
    let actor = Actor::system(org, "membership tier job");
    let rank = |id: Option<Uuid>| {
        id.and_then(|id| tiers.iter().find(|t| t.id == id))
            .map(|t| (t.years_required, t.sort_order))
    };
    let mut moved = 0;
    for m in members {
        let years = years_of_service(m.hire_date, today);
        let Some(target) = reached(&tiers, years) else {
            continue;
        };
        // Never down, never sideways.
        if rank(m.membership_tier_id)
            .is_some_and(|now| now >= (target.years_required, target.sort_order))
        {
            continue;
        }
        sqlx::query(
            "UPDATE users SET membership_tier_id = ?, updated_at = ? WHERE organization_id = ? AND id = ?",
        )
        .bind(target.id)
        .bind(crate::db::now())
        .bind(org)
        .bind(m.id)
        .execute(&mut *tx)
        .await?;
        let from = m
            .membership_tier_id
            .and_then(|id| tiers.iter().find(|t| t.id == id))
            .map(|t| t.slug.clone());
        audit::record(
            &mut tx,
            &actor,
            Entry::new("member.tier_advanced", "member", m.id).changes(serde_json::json!({
                "member": format!("{} {}", m.first_name, m.last_name),
                "from": from, "to": target.slug, "years_of_service": years,
            })),
        )
        .await?;
        moved += 1;
    }
    tx.commit().await?;
    Ok(moved)
}

#[utoipa::path(get, path = "/api/v1/membership/tiers", tag = "members",
    responses((status = 200, body = Vec<Tier>), (status = 403, body = crate::error::Problem)))]
pub async fn api_tiers(State(state): State<AppState>, ctx: Ctx) -> AppResult<Json<Vec<Tier>>> {
    let mut conn = state.db.acquire().await?;
    Ok(Json(tiers(&ctx, &mut conn).await?))
}

/// Adds a tier.
#[utoipa::path(post, path = "/api/v1/membership/tiers", tag = "members", request_body = TierInput,
    responses((status = 201, body = Tier), (status = 403, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)))]
pub async fn api_create(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiJson(input): ApiJson<TierInput>,
) -> AppResult<(StatusCode, Json<Tier>)> {
    let mut tx = state.db.begin().await?;
    let t = create_tier(&ctx, &mut tx, input).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(t)))
}

/// Replaces a tier's definition: its name, years and benefits.
#[utoipa::path(put, path = "/api/v1/membership/tiers/{id}", tag = "members",
    params(("id" = Uuid, Path)), request_body = TierInput,
    responses((status = 200, body = Tier), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn api_update(
    State(state): State<AppState>,
    ctx: Ctx,
    PathId(id): PathId,
    ApiJson(input): ApiJson<TierInput>,
) -> AppResult<Json<Tier>> {
    let mut tx = state.db.begin().await?;
    let t = update_tier(&ctx, &mut tx, id, input).await?;
    tx.commit().await?;
    Ok(Json(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn years_of_service_count_whole_years() {
        assert_eq!(years_of_service(d("2016-06-15"), d("2026-06-14")), 9);
        assert_eq!(years_of_service(d("2016-06-15"), d("2026-06-15")), 10);
        assert_eq!(years_of_service(d("2024-02-29"), d("2025-02-27")), 0);
        assert_eq!(years_of_service(d("2024-02-29"), d("2025-02-28")), 1);
        assert_eq!(years_of_service(d("2027-01-01"), d("2026-01-01")), 0);
    }

    #[test]
    fn slugs_are_made_from_names() {
        assert_eq!(slug_from("Senior member (25+)"), "senior_member_25");
        assert_eq!(slug_from("  Life  "), "life");
        assert_eq!(slug_from("★"), "tier");
        assert_eq!(slug_from(&"a".repeat(40)).len(), 32);
    }
}
