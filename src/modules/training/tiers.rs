//! Membership tiers by years of service (`reference/features.md` §1.4): probationary → active →
//! senior → life by default, each with its benefits (training exempt, may vote, may hold
//! office). A monthly job (and "run now") moves active and probationary members up to the
//! highest tier their years since `hire_date` reach; it never moves anyone down (a tier given by
//! hand stays), and audits each change.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use uuid::Uuid;

use crate::app::AppState;
use crate::audit::{self, Actor, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::MEMBERS_VIEW;
use crate::db::Conn;
use crate::error::AppResult;
use crate::jobs::JobCtx;

pub const JOB: &str = "membership_tiers";

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/membership/tiers", get(api_tiers))
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

pub async fn tiers(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Tier>> {
    ctx.require(MEMBERS_VIEW)?;
    load(conn, ctx.org_id).await
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
}
