//! Importing past training records from a CSV (`/training/import`, `training.manage`): a
//! preview first, then all rows or none; and the template CSV to start from
//! (`/training/import/template.csv`). The rules live in `super::super::import`.

use askama::Template;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::super::import;
use super::chrome;
use crate::auth::Ctx;
use crate::auth::permissions::TRAINING_MANAGE;
use crate::csv::RowError;
use crate::state::AppState;
use crate::web::{self, Chrome, PageResult, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/training/import",
            get(import_form)
                .post(import_csv)
                .layer(DefaultBodyLimit::max(4 * 1024 * 1024)),
        )
        .route("/training/import/template.csv", get(import_template))
}

pub struct PreviewView {
    pub line: u64,
    pub username: String,
    pub course: String,
    pub date: String,
    pub hours: String,
    pub expires: String,
}

#[derive(Template)]
#[template(path = "training/import.html")]
struct ImportPage {
    chrome: Chrome,
    csv: String,
    columns: String,
    csv_error: Option<String>,
    checked: bool,
    rows: u64,
    valid_rows: u64,
    created: Option<u64>,
    errors: Vec<RowError>,
    preview: Vec<PreviewView>,
    csv_file_js: String,
}

impl ImportPage {
    fn new(ctx: &Ctx, csv: String) -> ImportPage {
        ImportPage {
            chrome: chrome(ctx),
            csv,
            columns: import::COLUMNS.join(", "),
            csv_error: None,
            checked: false,
            rows: 0,
            valid_rows: 0,
            created: None,
            errors: Vec::new(),
            preview: Vec::new(),
            csv_file_js: web::asset_url("csv-file.js"),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ImportForm {
    #[serde(default)]
    csv: String,
    /// Present on the confirming button: import, all rows or none.
    commit: Option<String>,
}

async fn import_form(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    Ok(web::render(&ImportPage::new(&ctx, String::new())))
}

const TEMPLATE_CSV: &str = "username,course,course_name,category,training_type,completion_date,hours,expiration_date,certification_number,issuing_agency,instructor,notes\r\n\
jdoe,,Ladder drill,company,drill,2024-05-05,2.5,,,,Capt. Smith,\r\n";

async fn import_template(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"training-records-template.csv\"",
            ),
        ],
        TEMPLATE_CSV,
    )
        .into_response())
}

async fn import_csv(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<ImportForm>,
) -> PageResult {
    ctx.require(TRAINING_MANAGE)?;
    let dry_run = form.commit.is_none();
    let mut page = ImportPage::new(&ctx, form.csv);
    let mut tx = state.db.begin().await?;
    let result = import::import(&ctx, &mut tx, &page.csv, dry_run).await;
    let (status, imported) = web::finish_import(tx, result).await?;
    match imported {
        web::Imported::Report { report, committed } => {
            if committed {
                page.created = Some(report.created);
            }
            page.checked = true;
            page.rows = report.rows;
            page.valid_rows = report.valid_rows;
            page.errors = report.errors;
            page.preview = report
                .preview
                .into_iter()
                .map(|p| PreviewView {
                    line: p.line,
                    username: p.username,
                    course: p.course_name,
                    date: ctx.locale.day(p.completion_date),
                    hours: super::super::compliance::show(p.hours),
                    expires: ctx.locale.day_or_blank(p.expiration_date),
                })
                .collect();
        }
        web::Imported::Refused(why) => page.csv_error = Some(why),
    }
    if page.created.is_some() {
        // Imported: nothing left to preview; the box starts empty again.
        page.csv.clear();
        page.preview.clear();
    }
    Ok((status, web::render(&page)).into_response())
}
