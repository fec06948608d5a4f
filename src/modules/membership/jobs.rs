//! The monthly tier job: moves active and probationary members up to the tier their years of
//! service reach; never down; each move audited.

use crate::members::rules::MemberStatus;
use chrono::NaiveDate;
use uuid::Uuid;

use super::rules::{reached, years_of_service};
use super::service::load;
use crate::audit::{self, Actor, Entry};
use crate::jobs::JobCtx;

pub const JOB: &str = "membership_tiers";

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
    let today = crate::modules::training::service::today(&mut tx, org).await?;
    let tiers = load(&mut tx, org).await?;
    let members: Vec<Candidate> = sqlx::query_as(
        "SELECT id, first_name, last_name, hire_date, membership_tier_id FROM users
          WHERE organization_id = ? AND status IN (?, ?)
            AND hire_date IS NOT NULL
          ORDER BY id FOR UPDATE",
    )
    .bind(org)
    .bind(MemberStatus::Active)
    .bind(MemberStatus::Probationary)
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
