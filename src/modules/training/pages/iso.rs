//! The ISO report, printable (`/training/reports/iso`, `training.manage`): each member's hours
//! in each ISO category over a date range (this year unless asked), with links to its CSV and
//! PDF.

use askama::Template;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Datelike;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::super::compliance::show as hours;
use super::super::service;
use super::chrome;
use crate::auth::permissions::TRAINING_MANAGE;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::{self, Chrome, PageResult, Viewer, beside, parse_date};

pub fn router() -> Router<AppState> {
    Router::new().route("/training/reports/iso", get(iso))
}

#[derive(Template)]
#[template(path = "training/iso.html")]
struct IsoPage {
    chrome: Chrome,
    from: String,
    to: String,
    report: Option<super::super::iso::IsoReport>,
    /// The report's days, as the department writes dates: "01/01/2025 to 12/31/2025".
    period: String,
    from_error: Option<String>,
    to_error: Option<String>,
    csv_link: String,
    pdf_link: String,
    print_js: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct IsoQuery {
    from: Option<String>,
    to: Option<String>,
}

impl IsoPage {
    fn cell(d: &Decimal) -> String {
        hours(*d)
    }
}

async fn iso(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<IsoQuery>, QueryRejection>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let today = service::today_for(&ctx);
    let year = today.year();
    let from = q.from.unwrap_or_else(|| format!("{year}-01-01"));
    let to = q.to.unwrap_or_else(|| format!("{year}-12-31"));
    let mut errors = Vec::new();
    let f = parse_date("from", &from, &mut errors);
    let t = parse_date("to", &to, &mut errors);
    let report = match (f, t) {
        (Some(f), Some(t)) => {
            match super::super::iso::report(&ctx, &mut conn, Some(f), Some(t)).await {
                Ok(r) => Some(r),
                Err(AppError::Validation(e)) => {
                    errors.extend(e);
                    None
                }
                Err(other) => return Err(other.into()),
            }
        }
        _ => None,
    };
    let mut by = beside(&errors, &[("from", "From"), ("to", "To")]);
    let link = |format: &str| {
        web::link(
            "/api/v1/training/reports/iso",
            &[("from", &from), ("to", &to), ("format", format)],
        )
    };
    let period = report
        .as_ref()
        .map(|r| ctx.locale.span(r.from, Some(r.to)))
        .unwrap_or_default();
    let page = IsoPage {
        chrome: chrome(&ctx),
        period,
        csv_link: link("csv"),
        pdf_link: link("pdf"),
        from_error: by.remove("from"),
        to_error: by.remove("to"),
        from,
        to,
        print_js: web::asset_url("print.js"),
        report,
    };
    let status = if page.report.is_none() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, web::render(&page)).into_response())
}
