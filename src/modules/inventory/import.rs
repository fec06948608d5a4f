//! Importing the department's existing equipment spreadsheet (CSV), with a dry run that checks
//! every row and shows what would be added. The import itself is all rows or none; each item is
//! made the way one is made by hand (its number, its audit entry). `inventory.manage`.
//!
//! Columns (header line, any order): `name` (required), `category` (a category's name),
//! `tracking_type` (`individual` or `pool`), `quantity`, `reorder_point`, `serial_number`,
//! `asset_tag`, `barcode`, `manufacturer`, `model`, `size`, `condition`, `location` (a station's
//! or room's name), `storage_area`, `manufactured_date`, `purchase_date`, `purchase_price`,
//! `replacement_cost`, `next_inspection_due`, `notes`.

use std::collections::{HashMap, HashSet};

use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::rules::ItemInput;
use super::service::{self, INVENTORY_MANAGE};
use crate::auth::Ctx;
use crate::csv::{ImportQuery, RowError};
use crate::db::Tx;
use crate::error::{AppError, AppResult};
use crate::http::ApiQuery;
use crate::state::AppState;

pub const COLUMNS: &[&str] = &[
    "name",
    "category",
    "tracking_type",
    "quantity",
    "reorder_point",
    "serial_number",
    "asset_tag",
    "barcode",
    "manufacturer",
    "model",
    "size",
    "condition",
    "location",
    "storage_area",
    "manufactured_date",
    "purchase_date",
    "purchase_price",
    "replacement_cost",
    "next_inspection_due",
    "notes",
];
pub const MAX_ROWS: usize = 5_000;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/inventory/items/import",
        post(api_import).layer(DefaultBodyLimit::max(4 * 1024 * 1024)),
    )
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewItem {
    pub line: u64,
    pub name: String,
    pub category: Option<String>,
    pub tracking_type: String,
    pub quantity: u32,
    pub serial_number: Option<String>,
    /// The barcode it will have (its own, or the next number's).
    pub barcode: Option<String>,
}

pub type ImportReport = crate::csv::ImportReport<PreviewItem>;

pub async fn import(ctx: &Ctx, tx: &mut Tx<'_>, body: &str, dry_run: bool) -> AppResult<ImportReport> {
    ctx.require(INVENTORY_MANAGE)?;
    let today = crate::time::today(&ctx.timezone);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(body.trim_start_matches('\u{feff}').as_bytes());
    let headers = crate::csv::header(&mut reader, COLUMNS, &["name"])?;
    let categories: HashMap<String, (Uuid, String)> = service::categories(ctx, tx)
        .await?
        .into_iter()
        .map(|c| (c.name.to_lowercase(), (c.id, c.name)))
        .collect();
    let locations: HashMap<String, Uuid> = service::locations(ctx, tx)
        .await?
        .into_iter()
        .map(|(id, name)| (name.to_lowercase(), id))
        .collect();
    // Codes already on the department's items, and those earlier rows take.
    let mut taken: HashSet<(String, String)> = service::codes_in_use(ctx, tx)
        .await?
        .into_iter()
        .collect();

    let mut errors = Vec::new();
    let mut ready: Vec<(u64, ItemInput, Option<String>)> = Vec::new();
    let mut rows = 0u64;
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        rows += 1;
        if rows as usize > MAX_ROWS {
            return Err(AppError::field(
                "file",
                format!("has more than {MAX_ROWS} rows; split it"),
            ));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line,
                    field: String::new(),
                    message: format!("cannot be read: {e}"),
                });
                continue;
            }
        };
        let cell = |name: &str| {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let mut row_errors: Vec<(String, String)> = Vec::new();
        let category = match cell("category") {
            Some(c) => match categories.get(&c.to_lowercase()) {
                Some(found) => Some(found.clone()),
                None => {
                    row_errors.push(("category".into(), format!("\"{c}\" is not a category here")));
                    None
                }
            },
            None => None,
        };
        let location = match cell("location") {
            Some(l) => match locations.get(&l.to_lowercase()) {
                Some(id) => Some(*id),
                None => {
                    row_errors.push((
                        "location".into(),
                        format!("\"{l}\" is not one of the department's stations or rooms"),
                    ));
                    None
                }
            },
            None => None,
        };
        let date = |field: &str, errs: &mut Vec<(String, String)>| {
            cell(field).and_then(|v| match ctx.locale.parse_day(&v) {
                Some(d) => Some(d),
                None => {
                    errs.push((
                        field.into(),
                        format!(
                            "\"{v}\" is not a date (YYYY-MM-DD or {})",
                            ctx.locale.date_hint()
                        ),
                    ));
                    None
                }
            })
        };
        let number = |field: &str, errs: &mut Vec<(String, String)>| {
            cell(field).and_then(|v| match v.replace(',', "").parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errs.push((field.into(), format!("\"{v}\" is not a whole number")));
                    None
                }
            })
        };
        let money = |field: &str, errs: &mut Vec<(String, String)>| {
            cell(field).and_then(|v| {
                match v.trim_start_matches('$').replace(',', "").parse::<Decimal>() {
                    Ok(d) => Some(d),
                    Err(_) => {
                        errs.push((field.into(), format!("\"{v}\" is not an amount")));
                        None
                    }
                }
            })
        };
        let input = ItemInput {
            category_id: category.as_ref().map(|c| c.0),
            name: cell("name").unwrap_or_default(),
            description: None,
            manufacturer: cell("manufacturer"),
            model: cell("model"),
            serial_number: cell("serial_number"),
            asset_tag: cell("asset_tag"),
            barcode: cell("barcode"),
            manufactured_date: date("manufactured_date", &mut row_errors),
            purchase_date: date("purchase_date", &mut row_errors),
            purchase_price: money("purchase_price", &mut row_errors),
            replacement_cost: money("replacement_cost", &mut row_errors),
            size: cell("size"),
            color: None,
            location_id: location,
            storage_area: cell("storage_area"),
            condition: cell("condition"),
            tracking_type: cell("tracking_type"),
            quantity: number("quantity", &mut row_errors),
            reorder_point: number("reorder_point", &mut row_errors),
            inspection_interval_days: None,
            next_inspection_due: date("next_inspection_due", &mut row_errors),
            notes: cell("notes"),
        };
        match input.clone().validate(today) {
            Ok(v) => {
                for (field, code) in [
                    ("serial_number", &v.serial_number),
                    ("asset_tag", &v.asset_tag),
                    ("barcode", &v.barcode),
                ] {
                    if let Some(code) = code
                        && !taken.insert((field.to_string(), code.to_lowercase()))
                    {
                        row_errors.push((
                            field.into(),
                            format!("\"{code}\" is already on another item (here or earlier in the file)"),
                        ));
                    }
                }
                if row_errors.is_empty() {
                    ready.push((line, input, category.map(|c| c.1)));
                }
            }
            Err(AppError::Validation(found)) => {
                row_errors.extend(found.into_iter().map(|e| (e.field, e.message)))
            }
            Err(other) => return Err(other),
        }
        errors.extend(row_errors.into_iter().map(|(field, message)| RowError {
            line,
            field,
            message,
        }));
    }
    if rows == 0 {
        return Err(AppError::field("file", "has no rows under its header line"));
    }
    let mut preview: Vec<PreviewItem> = ready
        .iter()
        .map(|(line, input, category)| PreviewItem {
            line: *line,
            name: input.name.trim().to_string(),
            category: category.clone(),
            tracking_type: input
                .tracking_type
                .clone()
                .unwrap_or_else(|| "individual".into()),
            quantity: u32::try_from(input.quantity.unwrap_or(1)).unwrap_or(0),
            serial_number: input.serial_number.clone(),
            barcode: input.barcode.clone(),
        })
        .collect();
    let valid_rows = ready.len() as u64;
    let mut created = 0;
    if !dry_run && errors.is_empty() {
        for ((line, input, _), p) in ready.into_iter().zip(preview.iter_mut()) {
            match service::create_item(ctx, tx, input).await {
                Ok(item) => {
                    p.barcode = Some(item.barcode);
                    created += 1;
                }
                Err(AppError::Validation(found)) => errors.extend(found.into_iter().map(|e| {
                    RowError {
                        line,
                        field: e.field,
                        message: e.message,
                    }
                })),
                Err(other) => return Err(other),
            }
        }
    }
    Ok(ImportReport {
        dry_run,
        rows,
        valid_rows,
        created,
        errors,
        preview,
    })
}

#[utoipa::path(post, path = "/api/v1/inventory/items/import", tag = "inventory", params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "Header line with columns from: name, category, tracking_type, quantity, reorder_point, serial_number, asset_tag, barcode, manufacturer, model, size, condition, location, storage_area, manufactured_date, purchase_date, purchase_price, replacement_cost, next_inspection_due, notes"),
    responses((status = 200, body = crate::csv::ImportReport<PreviewItem>,
        description = "Dry run, or import done. With dry_run=false and any row error, the answer is 422 with the same report and nothing is imported."),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::csv::ImportReport<PreviewItem>)))]
pub async fn api_import(
    State(state): State<AppState>,
    ctx: Ctx,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: String,
) -> AppResult<Response> {
    let dry_run = q.dry_run.unwrap_or(true);
    let mut tx = state.db.begin().await?;
    let report = import(&ctx, &mut tx, &body, dry_run).await?;
    report.settle(tx).await?;
    Ok((report.api_status(), Json(report)).into_response())
}
