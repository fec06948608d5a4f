//! The department's training matrix (`/training/matrix`, `training.manage`): every member's
//! standing against every requirement, as of a date, filtered by name and colour.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use chrono::NaiveDate;
use serde::Deserialize;
use uuid::Uuid;

use super::super::service;
use super::{chrome, colour};
use crate::auth::permissions::TRAINING_MANAGE;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{self, Chrome, PageResult, Viewer};

pub fn router() -> Router<AppState> {
    Router::new().route("/training/matrix", get(matrix))
}

pub struct MatrixRowView {
    pub member_id: Uuid,
    pub name: String,
    pub colour: &'static str,
    pub colour_label: &'static str,
    pub reason: String,
    /// Per requirement: the cell word, its label, the explanation and the figures.
    pub cells: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "training/matrix.html")]
struct MatrixPage {
    chrome: Chrome,
    /// The date input's value (ISO).
    as_of: String,
    /// The same day, as the department writes dates.
    as_of_day: String,
    q: String,
    status: String,
    columns: Vec<String>,
    rows: Vec<MatrixRowView>,
    green: usize,
    yellow: usize,
    red: usize,
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct MatrixQuery {
    as_of: Option<String>,
    q: Option<String>,
    status: Option<String>,
}

fn cell_label(cell: &str) -> &'static str {
    match cell {
        "completed" => "Met",
        "waived" => "Waived",
        "in_progress" => "In progress",
        "not_started" => "Not started",
        "expired" => "Expired",
        "exempt" => "Exempt",
        _ => "Does not apply",
    }
}

async fn matrix(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<MatrixQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut error = None;
    let as_of = match q.as_of.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                error = Some("The date must be written as YYYY-MM-DD.".to_string());
                None
            }
        },
    };
    let status = q.status.clone().unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let m = service::matrix(
        &ctx,
        &mut conn,
        service::MatrixQuery {
            as_of,
            status: (!status.is_empty()).then(|| status.clone()),
            q: q.q.clone().filter(|s| !s.trim().is_empty()),
            requirement_id: None,
        },
    )
    .await;
    let m = match m {
        Ok(m) => m,
        Err(AppError::Validation(e)) => {
            error = Some(web::refusal(&AppError::Validation(e)));
            service::matrix(
                &ctx,
                &mut conn,
                service::MatrixQuery {
                    as_of: None,
                    status: None,
                    q: None,
                    requirement_id: None,
                },
            )
            .await?
        }
        Err(other) => return Err(other.into()),
    };
    let page = MatrixPage {
        chrome: chrome(&ctx),
        as_of: m.as_of.to_string(),
        as_of_day: ctx.locale.day(m.as_of),
        q: q.q.unwrap_or_default(),
        status,
        columns: m.requirements.iter().map(|c| c.name.clone()).collect(),
        rows: m
            .members
            .into_iter()
            .map(|r| {
                let (colour, colour_label) = colour(r.status);
                MatrixRowView {
                    member_id: r.member_id,
                    name: r.member_name,
                    colour,
                    colour_label,
                    reason: r.reason,
                    cells: r
                        .cells
                        .into_iter()
                        .map(|c| {
                            (
                                c.cell.clone(),
                                cell_label(&c.cell).to_string(),
                                c.explanation.unwrap_or_default(),
                                match (c.figures, c.pace) {
                                    (Some(f), Some("behind")) => format!("{f}, behind pace"),
                                    (Some(f), Some(_)) => format!("{f}, on pace"),
                                    (Some(f), None) => f,
                                    (None, _) => String::new(),
                                },
                            )
                        })
                        .collect(),
                }
            })
            .collect(),
        green: m.green,
        yellow: m.yellow,
        red: m.red,
        error,
    };
    Ok(web::render(&page))
}
