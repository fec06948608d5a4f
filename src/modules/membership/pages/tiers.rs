//! The tier pages (`/membership/tiers`, `members.manage`): the list, a new tier, editing one.

use std::collections::HashMap;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::super::service as tiers;
use super::MEMBERS;
use crate::auth::Ctx;
use crate::auth::permissions::MEMBERS_MANAGE;
use crate::error::FieldError;
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{self, Chrome, DoneQuery, PageResult, Viewer};
use crate::web::{beside, finish_form};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/membership/tiers", get(tiers_list))
        .route("/membership/tiers/new", get(tier_new).post(tier_create))
        .route("/membership/tiers/{id}", get(tier_edit).post(tier_update))
}

pub struct TierRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub years: u16,
    pub benefits: String,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "membership/tiers.html")]
struct TiersPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    tiers: Vec<TierRow>,
}

fn benefits(t: &tiers::Tier) -> String {
    let mut out = Vec::new();
    if t.training_exempt {
        out.push("Exempt from training requirements".to_string());
    }
    if t.voting_eligible {
        out.push(match t.voting_min_attendance_pct {
            Some(pct) => format!(
                "May vote with {pct} % of meetings attended over {}",
                months(t.voting_attendance_months)
            ),
            None => "May vote".into(),
        });
    }
    if t.can_hold_office {
        out.push("May hold office".into());
    }
    if out.is_empty() {
        "None".into()
    } else {
        out.join(", ")
    }
}

fn months(n: u8) -> String {
    if n == 1 {
        "1 month".into()
    } else {
        format!("{n} months")
    }
}

async fn tiers_list(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let list = tiers::tiers(&ctx, &mut conn).await?;
    Ok(web::render(&TiersPage {
        chrome: Chrome::for_viewer(&ctx, MEMBERS),
        notice: match q.done.as_deref() {
            Some("saved") => Some("The tier was saved. The monthly tier job uses it from now on."),
            _ => None,
        },
        tiers: list
            .iter()
            .map(|t| TierRow {
                id: t.id,
                name: t.name.clone(),
                slug: t.slug.clone(),
                years: t.years_required,
                benefits: benefits(t),
                active: t.active,
            })
            .collect(),
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct TierForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    years_required: String,
    #[serde(default)]
    sort_order: String,
    #[serde(default)]
    training_exempt: Option<String>,
    #[serde(default)]
    voting_eligible: Option<String>,
    #[serde(default)]
    voting_min_attendance_pct: String,
    #[serde(default)]
    voting_attendance_months: String,
    #[serde(default)]
    can_hold_office: Option<String>,
    #[serde(default)]
    active: Option<String>,
}

#[derive(Template)]
#[template(path = "membership/tier_form.html")]
struct TierFormPage {
    chrome: Chrome,
    id: Option<Uuid>,
    slug: String,
    form: TierForm,
    errors: HashMap<String, String>,
}

const TIER_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("years_required", "Years of service"),
    ("sort_order", "Order"),
    (
        "voting_min_attendance_pct",
        "Meeting attendance needed to vote",
    ),
    ("voting_attendance_months", "Months of meetings counted"),
];

fn tier_page(
    ctx: &Ctx,
    id: Option<Uuid>,
    slug: String,
    form: TierForm,
    errors: &[FieldError],
) -> TierFormPage {
    TierFormPage {
        chrome: Chrome::for_viewer(ctx, MEMBERS),
        id,
        slug,
        form,
        errors: beside(errors, TIER_LABELS),
    }
}

async fn tier_new(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let form = TierForm {
        voting_eligible: Some("1".into()),
        voting_attendance_months: tiers::DEFAULT_ATTENDANCE_MONTHS.to_string(),
        can_hold_office: Some("1".into()),
        active: Some("1".into()),
        ..TierForm::default()
    };
    Ok(web::render(&tier_page(
        &ctx,
        None,
        String::new(),
        form,
        &[],
    )))
}

async fn tier_edit(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let t = tiers::tier(&ctx, &mut conn, id).await?;
    let on = |b: bool| b.then(|| "1".to_string());
    let form = TierForm {
        name: t.name,
        years_required: t.years_required.to_string(),
        sort_order: t.sort_order.to_string(),
        training_exempt: on(t.training_exempt),
        voting_eligible: on(t.voting_eligible),
        voting_min_attendance_pct: t
            .voting_min_attendance_pct
            .map(|p| p.to_string())
            .unwrap_or_default(),
        voting_attendance_months: t.voting_attendance_months.to_string(),
        can_hold_office: on(t.can_hold_office),
        active: on(t.active),
    };
    Ok(web::render(&tier_page(&ctx, Some(id), t.slug, form, &[])))
}

/// A whole number from a form field; empty is `None` (or "is required").
fn whole(field: &str, raw: &str, required: bool, errors: &mut Vec<FieldError>) -> Option<i64> {
    match raw.trim() {
        "" => {
            if required {
                errors.push(FieldError::new(field, "is required"));
            }
            None
        }
        n => match n.parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError::new(field, "must be a whole number"));
                None
            }
        },
    }
}

async fn tier_save(state: &AppState, ctx: &Ctx, id: Option<Uuid>, form: TierForm) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    // Another department's tier: not found, before anything is checked.
    let slug = match id {
        Some(id) => tiers::tier(ctx, &mut conn, id).await?.slug,
        None => String::new(),
    };
    drop(conn);
    let mut errors = Vec::new();
    let years = whole("years_required", &form.years_required, true, &mut errors);
    let sort_order = whole("sort_order", &form.sort_order, false, &mut errors);
    // Empty: the tier asks no attendance to vote.
    let min_pct = whole(
        "voting_min_attendance_pct",
        &form.voting_min_attendance_pct,
        false,
        &mut errors,
    );
    // Empty: the usual year.
    let months = whole(
        "voting_attendance_months",
        &form.voting_attendance_months,
        false,
        &mut errors,
    );
    let input = tiers::TierInput {
        name: form.name.clone(),
        slug: None,
        // A stand-in that passes, when the field could not be read (its error is noted).
        years_required: years.unwrap_or(0),
        sort_order,
        training_exempt: form.training_exempt.is_some(),
        voting_eligible: form.voting_eligible.is_some(),
        voting_min_attendance_pct: min_pct,
        voting_attendance_months: months.unwrap_or(tiers::DEFAULT_ATTENDANCE_MONTHS),
        can_hold_office: form.can_hold_office.is_some(),
        active: form.active.is_some(),
    };
    let mut tx = state.db.begin().await?;
    let saved = match id {
        None => tiers::create_tier(ctx, &mut tx, input).await,
        Some(id) => tiers::update_tier(ctx, &mut tx, id, input).await,
    };
    if finish_form(tx, saved, &mut errors, &state.mailer)
        .await?
        .is_some()
    {
        return Ok(Redirect::to("/membership/tiers?done=saved").into_response());
    }
    let page = tier_page(ctx, id, slug, form, &errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

async fn tier_create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<TierForm>,
) -> PageResult {
    tier_save(&state, &ctx, None, form).await
}

async fn tier_update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<TierForm>,
) -> PageResult {
    tier_save(&state, &ctx, Some(id), form).await
}
