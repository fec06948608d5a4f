//! A member's standing: their own training page (`/training`, `/training/me`; `training.view`)
//! with their records and submissions, and any member's, shown to officers
//! (`/training/members/{id}`; `training.manage`). The record and submission rows are shared
//! with the records and review pages.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use uuid::Uuid;

use super::super::compliance::show as hours;
use super::super::compliance::{MemberCompliance, Outcome};
use super::super::service::{self, RecordQuery, TrainingRecord};
use super::super::submissions::{self, Submission};
use super::{chrome, colour, label};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{self, Chrome, PageResult, Pager, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/training", get(me))
        .route("/training/me", get(me))
        .route("/training/members/{id}", get(member))
        .route("/training/members/{id}/exemption", post(set_exemption))
}

pub struct RequirementView {
    pub name: String,
    pub outcome: &'static str,
    pub outcome_label: &'static str,
    pub explanation: String,
    pub percent: String,
    /// The window counted, in words (rule 15).
    pub window: String,
}

pub struct StandingView {
    pub colour: &'static str,
    pub colour_label: &'static str,
    pub reason: String,
    pub as_of: String,
    pub requirements: Vec<RequirementView>,
}

pub fn standing_view(c: &MemberCompliance, locale: crate::time::Locale) -> StandingView {
    let (colour, colour_label) = colour(c.status);
    StandingView {
        colour,
        colour_label,
        reason: c.reason.clone(),
        as_of: locale.day(c.as_of),
        requirements: c
            .requirements
            .iter()
            .map(|r| {
                let (outcome, outcome_label) = match r.outcome {
                    Outcome::Met => ("completed", "Met"),
                    Outcome::Waived => ("completed", "Waived"),
                    Outcome::Expiring => ("in_progress", "Expiring soon"),
                    Outcome::InProgress => ("in_progress", "In progress"),
                    Outcome::NotStarted => ("not_started", "Not started"),
                    Outcome::Expired => ("expired", "Expired"),
                };
                RequirementView {
                    name: r.name.clone(),
                    outcome,
                    outcome_label,
                    explanation: r.explanation.clone(),
                    window: match (r.period_start, r.period_end) {
                        (Some(start), Some(end)) if r.judged_at < end => format!(
                            "Counted from {} to {} (the period runs to {})",
                            locale.day(start),
                            locale.day(r.judged_at),
                            locale.day(end)
                        ),
                        (Some(start), Some(end)) => format!(
                            "Counted from {} to {}",
                            locale.day(start),
                            locale.day(end)
                        ),
                        _ => format!("All records to {}", locale.day(r.judged_at)),
                    },
                    percent: match r.pace(c.as_of) {
                        Some("behind") => format!("{}%, behind pace", r.percent),
                        Some(_) => format!("{}%, on pace", r.percent),
                        None => format!("{}%", r.percent),
                    },
                }
            })
            .collect(),
    }
}

#[derive(Clone)]
pub struct RecordRow {
    pub id: Uuid,
    pub member: String,
    pub member_id: Uuid,
    pub course: String,
    pub date: String,
    pub hours: String,
    pub expires: String,
    pub cancelled: bool,
    pub cancel_reason: String,
    pub kind: String,
}

pub(super) fn record_row(r: TrainingRecord, locale: crate::time::Locale) -> RecordRow {
    RecordRow {
        id: r.id,
        member: r.member_name,
        member_id: r.user_id,
        course: r.course_name,
        date: locale.day(r.completion_date),
        hours: hours(r.hours_completed),
        expires: locale.day_or_blank(r.expiration_date),
        cancelled: r.status == service::RecordStatus::Cancelled,
        cancel_reason: r.cancel_reason.unwrap_or_default(),
        kind: label(&r.training_type),
    }
}

pub struct SubmissionRow {
    pub id: Uuid,
    pub member: String,
    pub course: String,
    pub date: String,
    pub hours: String,
    pub kind: String,
    pub status: String,
    pub notes: String,
    pub description: String,
}

pub(super) fn submission_row(s: Submission, locale: crate::time::Locale) -> SubmissionRow {
    SubmissionRow {
        id: s.id,
        member: s.member_name,
        course: s.course_name,
        date: locale.day(s.completion_date),
        hours: hours(s.hours_completed),
        kind: label(&s.training_type),
        status: label(s.status.as_str()),
        notes: s.reviewer_notes.unwrap_or_default(),
        description: s.description.unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "training/me.html")]
struct MePage {
    chrome: Chrome,
    member_id: Uuid,
    heading: String,
    own: bool,
    officer: bool,
    pending: u64,
    notice: Option<&'static str>,
    standing: StandingView,
    records: Vec<RecordRow>,
    pager: Pager,
    submissions: Vec<SubmissionRow>,
    /// An officer looking at another member: their exemption, for the form.
    exemption: Option<service::Exemption>,
    exemption_error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MeQuery {
    page: Option<String>,
    done: Option<String>,
}

async fn standing_page(
    state: &AppState,
    ctx: &Ctx,
    member: Uuid,
    page: u32,
    own: bool,
) -> Result<MePage, AppError> {
    let mut conn = state.db.acquire().await?;
    let report = service::member_compliance(ctx, &mut conn, member, None).await?;
    let per_page = 25;
    let list = service::list_records(
        ctx,
        &mut conn,
        RecordQuery {
            user_id: Some(member),
            page: Some(page),
            per_page: Some(per_page),
            ..RecordQuery::default()
        },
    )
    .await?;
    let base = if own {
        "/training".to_string()
    } else {
        format!("/training/members/{member}")
    };
    let pager = Pager::new(page, list.total, per_page, |p| {
        web::link(&base, &[("page", &p.to_string())])
    });
    let submissions = if own {
        submissions::list(
            ctx,
            &mut conn,
            submissions::ListQuery {
                mine: true,
                per_page: Some(10),
                ..submissions::ListQuery::default()
            },
        )
        .await?
        .items
        .into_iter()
        .map(|s| submission_row(s, ctx.locale))
        .collect()
    } else {
        Vec::new()
    };
    let officer = ctx.has(TRAINING_MANAGE);
    let exemption = if officer && !own {
        Some(service::exemption(ctx, &mut conn, member).await?)
    } else {
        None
    };
    let pending = if officer {
        submissions::pending_count(ctx, &mut conn).await?
    } else {
        0
    };
    Ok(MePage {
        chrome: chrome(ctx),
        member_id: member,
        heading: if own {
            "Your training".into()
        } else {
            format!("Training: {}", report.member_name)
        },
        own,
        officer,
        pending,
        notice: None,
        standing: standing_view(&report.compliance, ctx.locale),
        records: list
            .items
            .into_iter()
            .map(|r| record_row(r, ctx.locale))
            .collect(),
        pager,
        submissions,
        exemption,
        exemption_error: None,
    })
}

async fn me(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<MeQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_VIEW)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let page = web::page_number(q.page.as_deref());
    let mut p = standing_page(&state, &ctx, ctx.user_id, page, true).await?;
    p.notice = match q.done.as_deref() {
        Some("submitted") => {
            Some("Your training was submitted. A training officer will review it.")
        }
        Some("approved") => Some("Your training was recorded."),
        _ => None,
    };
    Ok(web::render(&p))
}

async fn member(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<MeQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let page = web::page_number(q.page.as_deref());
    let mut p = standing_page(&state, &ctx, id, page, id == ctx.user_id).await?;
    p.notice = match q.done.as_deref() {
        Some("exemption") => Some("Saved. The member's standing shows it now."),
        _ => None,
    };
    Ok(web::render(&p))
}

#[derive(Debug, Default, Deserialize)]
pub struct ExemptionForm {
    #[serde(default)]
    exempt: Option<String>,
    #[serde(default)]
    reason: String,
}

async fn set_exemption(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    axum::Form(form): axum::Form<ExemptionForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let input = service::Exemption {
        exempt: form.exempt.is_some(),
        reason: Some(form.reason.clone()),
    };
    let mut tx = state.db.begin().await?;
    match service::set_exemption(&ctx, &mut tx, id, input).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(axum::response::Redirect::to(&format!(
                "/training/members/{id}?done=exemption"
            ))
            .into_response())
        }
        Err(AppError::Validation(errors)) => {
            tx.rollback().await?;
            let mut p = standing_page(&state, &ctx, id, 1, false).await?;
            p.exemption = Some(service::Exemption {
                exempt: form.exempt.is_some(),
                reason: Some(form.reason),
            });
            p.exemption_error =
                web::beside(&errors, &[("reason", "Reason")]).remove("reason");
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                web::render(&p),
            )
                .into_response())
        }
        Err(other) => Err(other.into()),
    }
}
