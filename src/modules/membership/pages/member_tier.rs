//! A member's membership tier given by hand (`/members/{id}/tier`, `members.manage`): the tier
//! now, and a form to give another (or none) with the reason, which the audit log keeps.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::super::service::{self, MemberTier};
use super::MEMBERS;
use crate::auth::Ctx;
use crate::auth::permissions::MEMBERS_MANAGE;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::web::{self, Chrome, DoneQuery, PageResult, PathId, Viewer, beside};

pub fn router() -> Router<AppState> {
    Router::new().route("/members/{id}/tier", get(tier_form).post(tier_save))
}

#[derive(Debug, Default, Deserialize)]
pub struct TierForm {
    #[serde(default)]
    tier_id: String,
    #[serde(default)]
    reason: String,
}

#[derive(Template)]
#[template(path = "membership/member_tier.html")]
struct TierPage {
    chrome: Chrome,
    member_id: Uuid,
    member_name: String,
    notice: Option<&'static str>,
    /// The tier now, in words.
    current: String,
    /// Active tiers: id, name.
    tiers: Vec<(String, String)>,
    form: TierForm,
    errors: std::collections::HashMap<String, String>,
}

async fn tier_page(
    state: &AppState,
    ctx: &Ctx,
    member: Uuid,
    form: Option<TierForm>,
    errors: &[FieldError],
) -> Result<TierPage, AppError> {
    ctx.require(MEMBERS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let name = crate::members::service::name_of(&mut conn, ctx.org_id, member).await?;
    let now = service::member_tier(ctx, &mut conn, member).await?;
    let tiers = service::tiers(ctx, &mut conn).await?;
    let current = now
        .tier_id
        .and_then(|id| tiers.iter().find(|t| t.id == id))
        .map_or_else(|| "None".to_string(), |t| t.name.clone());
    Ok(TierPage {
        chrome: Chrome::for_viewer(ctx, MEMBERS),
        member_id: member,
        member_name: name,
        notice: None,
        current,
        form: form.unwrap_or(TierForm {
            tier_id: now.tier_id.map(|t| t.to_string()).unwrap_or_default(),
            reason: String::new(),
        }),
        tiers: tiers
            .into_iter()
            .filter(|t| t.active)
            .map(|t| (t.id.to_string(), t.name))
            .collect(),
        errors: beside(errors, &[("tier_id", "Tier"), ("reason", "Reason")]),
    })
}

async fn tier_form(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let mut page = tier_page(&state, &ctx, id, None, &[]).await?;
    if query.is_ok_and(|Query(q)| q.done.as_deref() == Some("tier")) {
        page.notice = Some("The tier was given. The audit log keeps the reason.");
    }
    Ok(web::render(&page))
}

async fn tier_save(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<TierForm>,
) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let mut errors = Vec::new();
    let tier_id = match form.tier_id.trim() {
        "" => None,
        t => match Uuid::parse_str(t) {
            Ok(t) => Some(t),
            Err(_) => {
                errors.push(FieldError::new("tier_id", "is not one of the tiers"));
                None
            }
        },
    };
    let mut tx = state.db.begin().await?;
    let saved = if errors.is_empty() {
        service::set_member_tier(
            &ctx,
            &mut tx,
            id,
            MemberTier {
                tier_id,
                reason: form.reason.clone(),
            },
        )
        .await
    } else {
        Err(AppError::Validation(errors))
    };
    match saved {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/members/{id}/tier?done=tier")).into_response())
        }
        Err(AppError::Validation(errors)) => {
            tx.rollback().await?;
            let page = tier_page(&state, &ctx, id, Some(form), &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
