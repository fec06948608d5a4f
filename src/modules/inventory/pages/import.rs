//! Importing the equipment spreadsheet (`/inventory/import`, `inventory.manage`): a preview
//! first, then all rows or none; and a template CSV to start from. The rules live in
//! `super::super::import`.

use askama::Template;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::super::import::{self, PreviewItem};
use super::super::service::INVENTORY_MANAGE;
use super::SECTION;
use crate::csv::RowError;
use crate::state::AppState;
use crate::web::{self, Chrome, PageResult, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/inventory/import",
            get(form)
                .post(import_csv)
                .layer(DefaultBodyLimit::max(4 * 1024 * 1024)),
        )
        .route("/inventory/import/template.csv", get(template))
}

#[derive(Template)]
#[template(path = "inventory/import.html")]
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
    preview: Vec<PreviewItem>,
    csv_file_js: String,
}

impl ImportPage {
    fn new(chrome: Chrome, csv: String) -> ImportPage {
        ImportPage {
            chrome,
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
struct ImportForm {
    #[serde(default)]
    csv: String,
    /// Present on the confirming button: import, all rows or none.
    commit: Option<String>,
}

async fn form(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(INVENTORY_MANAGE)?;
    Ok(web::render(&ImportPage::new(
        Chrome::for_viewer(&ctx, SECTION),
        String::new(),
    )))
}

const TEMPLATE_CSV: &str = "name,category,tracking_type,quantity,serial_number,asset_tag,manufacturer,model,size,condition,location,purchase_date,replacement_cost,next_inspection_due\r\n\
Portable radio 1,,individual,,XTS-0001,A-100,Motorola,XTS 2500,,good,,2019-04-01,950.00,\r\n\
Structural gloves,,pool,40,,,,,L,good,,,,\r\n";

async fn template(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(INVENTORY_MANAGE)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"equipment-template.csv\"",
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
    ctx.require(INVENTORY_MANAGE)?;
    let dry_run = form.commit.is_none();
    let mut page = ImportPage::new(Chrome::for_viewer(&ctx, SECTION), form.csv);
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
            page.preview = report.preview;
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
