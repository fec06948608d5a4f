//! The portable export: the department's records as CSV files in one zip, readable in any
//! spreadsheet without Logbook (a backup archive is for restoring Logbook; this is for leaving
//! it, or for the county). `settings.manage` and `members.manage`; one organization's data only,
//! so it works on a host serving several departments too. Audited.
//!
//! The platform's files (members and their roles, stations and apparatus) come first, then each
//! module's (`Module::export`: training records and courses now; inventory when it lands).

use std::io::Write;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use serde_json::json;
use sqlx::mysql::MySqlRow;
use sqlx::{AssertSqlSafe, Column, Row};

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::db::Tx;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{PageResult, Viewer};

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/export", get(api_export))
        .route("/settings/backups/export", get(page_export))
}

/// One file of the export: its name, what it holds (for README.txt) and its query. The query
/// takes the organization's id as its only parameter and returns text columns (CAST AS CHAR),
/// named as the CSV's header.
type Section = crate::module::ExportSection;

/// The platform's sections; each module adds its own (`Module::export`) after them.
const SECTIONS: &[Section] = &[
    Section {
        file: "member_roles.csv",
        about: "Which member holds which role.",
        sql: "SELECT u.username, CAST(r.name AS CHAR) AS role, CAST(r.slug AS CHAR) AS role_slug
                FROM user_roles ur
                JOIN users u ON u.id = ur.user_id
                JOIN roles r ON r.id = ur.role_id
               WHERE u.organization_id = ?
               ORDER BY u.username, r.name",
    },
    Section {
        file: "stations.csv",
        about: "Stations and other locations.",
        sql: "SELECT name, station_number, address_line1, address_line2, city, state, postal_code,
                     building, floor, room_number, CAST(capacity AS CHAR) AS capacity,
                     IF(is_station, 'yes', 'no') AS is_station, IF(active, 'yes', 'no') AS active
                FROM locations
               WHERE organization_id = ?
               ORDER BY name",
    },
    Section {
        file: "apparatus.csv",
        about: "Apparatus (vehicles) with their riding positions and station.",
        sql: "SELECT a.unit_number, a.name, a.apparatus_type,
                     CAST(a.min_staffing AS CHAR) AS min_staffing, a.positions,
                     l.name AS station, IF(a.is_active, 'yes', 'no') AS active
                FROM basic_apparatus a
                LEFT JOIN locations l ON l.id = a.location_id
               WHERE a.organization_id = ?
               ORDER BY a.unit_number",
    },
];

#[derive(Template)]
#[template(path = "backups/export_readme.txt")]
struct Readme<'a> {
    department: &'a str,
    made: String,
    files: Vec<(&'a str, &'a str, usize)>,
}

/// The zip's name and bytes.
pub async fn export(state: &AppState, ctx: &Ctx) -> AppResult<(String, Vec<u8>)> {
    ctx.require(SETTINGS_MANAGE)?;
    // One transaction (InnoDB's repeatable read): every file shows the same moment.
    let mut tx = state.db.begin().await?;
    let (department, slug): (String, String) =
        sqlx::query_as("SELECT name, slug FROM organizations WHERE id = ?")
            .bind(ctx.org_id)
            .fetch_one(&mut *tx)
            .await?;
    let members = crate::members::service::export_csv(ctx, &mut tx).await?;
    let mut files: Vec<(&'static str, &'static str, Vec<u8>, usize)> = vec![(
        "members.csv",
        "Every member: name, contact details, rank, station, status, emergency contact.",
        members.as_bytes().to_vec(),
        members.lines().count().saturating_sub(1),
    )];
    let modules = crate::module::installed().iter().flat_map(|m| m.export);
    for s in SECTIONS.iter().chain(modules) {
        let (csv, rows) = section_csv(&mut tx, s, ctx).await?;
        files.push((s.file, s.about, csv, rows));
    }
    let now = Utc::now();
    let readme = Readme {
        department: &department,
        made: crate::web::local_time(ctx.local(), &now).text,
        files: files.iter().map(|f| (f.0, f.1, f.3)).collect(),
    }
    .render()
    .map_err(|e| AppError::Internal(e.into()))?;
    let listed = json!(
        files
            .iter()
            .map(|f| json!({"file": f.0, "rows": f.3}))
            .collect::<Vec<_>>()
    );
    let zip = tokio::task::spawn_blocking(move || zip_files(&readme, &files))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("the export stopped: {e}")))??;
    audit::record(
        &mut tx,
        &ctx.actor(),
        Entry::new("data.exported", "organization", ctx.org_id).changes(json!({
            "files": listed,
            "bytes": zip.len(),
        })),
    )
    .await?;
    tx.commit().await?;
    Ok((
        format!("{slug}-export-{}.zip", now.format("%Y%m%d-%H%M%S")),
        zip,
    ))
}

/// A section's rows as CSV (with a header even when there are none) and their number.
async fn section_csv(tx: &mut Tx<'_>, s: &Section, ctx: &Ctx) -> AppResult<(Vec<u8>, usize)> {
    let rows: Vec<MySqlRow> = sqlx::query(AssertSqlSafe(s.sql))
        .bind(ctx.org_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = header_of(s.sql, rows.first());
    out.write_record(&header).map_err(anyhow::Error::new)?;
    for row in &rows {
        let mut record = Vec::with_capacity(header.len());
        for i in 0..row.len() {
            let v: Option<String> = row.try_get(i)?;
            record.push(crate::csv::spreadsheet_safe(v.as_deref().unwrap_or("")));
        }
        out.write_record(&record).map_err(anyhow::Error::new)?;
    }
    let bytes = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((bytes, rows.len()))
}

/// The column names: from the first row, or (no rows) from the query's select list.
pub(crate) fn header_of(sql: &str, first: Option<&MySqlRow>) -> Vec<String> {
    if let Some(row) = first {
        return row.columns().iter().map(|c| c.name().to_string()).collect();
    }
    let select = sql
        .split_once("SELECT")
        .and_then(|(_, rest)| rest.split_once("FROM"))
        .map(|(cols, _)| cols)
        .unwrap_or_default();
    split_top_level(select)
        .iter()
        .map(|c| {
            let c = c.trim();
            match c.rsplit_once(" AS ") {
                Some((_, alias)) => alias.trim().to_string(),
                None => c.rsplit('.').next().unwrap_or(c).trim().to_string(),
            }
        })
        .collect()
}

/// Splits a select list at the commas outside parentheses.
fn split_top_level(list: &str) -> Vec<String> {
    let (mut parts, mut current, mut depth) = (Vec::new(), String::new(), 0i32);
    for ch in list.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(ch);
    }
    if !current.trim().is_empty() {
        parts.push(current);
    }
    parts
}

fn zip_files(readme: &str, files: &[(&str, &str, Vec<u8>, usize)]) -> AppResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let add = |zip: &mut zip::ZipWriter<_>, name: &str, bytes: &[u8]| -> anyhow::Result<()> {
        zip.start_file(name, options)?;
        zip.write_all(bytes)?;
        Ok(())
    };
    add(&mut zip, "README.txt", readme.as_bytes())?;
    for (name, _, bytes, _) in files {
        // A byte-order mark, so that spreadsheets open the UTF-8 names correctly.
        let mut with_bom = Vec::with_capacity(bytes.len() + 3);
        with_bom.extend_from_slice(b"\xEF\xBB\xBF");
        with_bom.extend_from_slice(bytes);
        add(&mut zip, name, &with_bom)?;
    }
    let cursor = zip.finish().map_err(anyhow::Error::new)?;
    Ok(cursor.into_inner())
}

fn zip_response(name: String, bytes: Vec<u8>) -> Response {
    let mut res = bytes.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The department's records as CSV files in a zip (members, roles, stations, apparatus), with
/// a README describing them.
#[utoipa::path(get, path = "/api/v1/export", tag = "backups",
    responses((status = 200, description = "the zip", content_type = "application/zip"),
        (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem)))]
pub async fn api_export(State(state): State<AppState>, ctx: Ctx) -> AppResult<Response> {
    let (name, bytes) = export(&state, &ctx).await?;
    Ok(zip_response(name, bytes))
}

async fn page_export(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let (name, bytes) = export(&state, &ctx).await?;
    Ok(zip_response(name, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_section_still_has_its_header() {
        for s in SECTIONS {
            let header = header_of(s.sql, None);
            assert!(header.len() >= 3, "{}: {header:?}", s.file);
            assert!(
                header
                    .iter()
                    .all(|h| !h.is_empty() && !h.contains([' ', '(', ')', '\n'])),
                "{}: {header:?}",
                s.file
            );
        }
        assert_eq!(
            header_of(SECTIONS[2].sql, None),
            [
                "unit_number",
                "name",
                "apparatus_type",
                "min_staffing",
                "positions",
                "station",
                "active"
            ]
        );
    }
}
