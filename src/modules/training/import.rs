//! Importing past training records from a spreadsheet (CSV), with a dry run that checks every
//! row and shows what would be recorded. The import itself is all rows or none: with any
//! problem nothing is written. `training.manage`.
//!
//! Columns (header line, any order): `username` (required), `course` (a course's name or
//! code), `course_name` (required without a course), `category` (a category's code or name),
//! `training_type`, `completion_date` (YYYY-MM-DD, required), `hours` (required without a
//! course), `expiration_date`, `certification_number`, `issuing_agency`, `instructor`, `notes`.

use std::collections::HashMap;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::compliance;
use super::rules::RecordInput;
use super::service::{self, NewRecord};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::TRAINING_MANAGE;
use crate::db::Tx;
use crate::error::{AppError, AppResult};
use crate::http::ApiQuery;
use crate::csv::{ImportQuery, RowError};
use crate::state::AppState;

pub const COLUMNS: &[&str] = &[
    "username",
    "course",
    "course_name",
    "category",
    "training_type",
    "completion_date",
    "hours",
    "expiration_date",
    "certification_number",
    "issuing_agency",
    "instructor",
    "notes",
];
pub const MAX_ROWS: usize = 10_000;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/training/records/import",
        post(api_import).layer(DefaultBodyLimit::max(4 * 1024 * 1024)),
    )
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewRow {
    pub line: u64,
    pub username: String,
    pub course_name: String,
    pub completion_date: NaiveDate,
    #[schema(value_type = f64)]
    pub hours: Decimal,
    pub expiration_date: Option<NaiveDate>,
}

/// A records import's report: its preview lists the records that would be (or were) made.
pub type ImportReport = crate::csv::ImportReport<PreviewRow>;

#[derive(sqlx::FromRow)]
struct CourseRow {
    id: Uuid,
    name: String,
    code: Option<String>,
    category_id: Option<Uuid>,
    training_type: String,
    duration_hours: Decimal,
    expiration_months: Option<u16>,
    issuing_agency: Option<String>,
}

struct Course {
    id: Uuid,
    name: String,
    category_id: Option<Uuid>,
    training_type: String,
    hours: Decimal,
    months: Option<u16>,
    agency: Option<String>,
}

pub async fn import(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    body: &str,
    dry_run: bool,
) -> AppResult<ImportReport> {
    ctx.require(TRAINING_MANAGE)?;
    let today = service::today_for(ctx);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(body.trim_start_matches('\u{feff}').as_bytes());
    let headers = crate::csv::header(&mut reader, COLUMNS, &["username", "completion_date"])?;
    let members: HashMap<String, Uuid> = sqlx::query_as::<_, (String, Uuid)>(
        "SELECT username, id FROM users WHERE organization_id = ?",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .collect();
    let course_rows: Vec<CourseRow> = sqlx::query_as(
        "SELECT id, name, code, category_id, training_type, duration_hours, expiration_months,
                issuing_agency
           FROM training_courses WHERE organization_id = ?",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut courses: HashMap<String, Course> = HashMap::new();
    for CourseRow {
        id,
        name,
        code,
        category_id,
        training_type,
        duration_hours: hours,
        expiration_months: months,
        issuing_agency: agency,
    } in course_rows
    {
        let c = || Course {
            id,
            name: name.clone(),
            category_id,
            training_type: training_type.clone(),
            hours,
            months,
            agency: agency.clone(),
        };
        if let Some(code) = &code {
            courses.insert(code.to_lowercase(), c());
        }
        courses.insert(name.to_lowercase(), c());
    }
    let categories: HashMap<String, Uuid> = sqlx::query_as::<_, (String, String, Uuid)>(
        "SELECT code, name, id FROM training_categories WHERE organization_id = ?",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .flat_map(|(code, name, id)| [(code.to_lowercase(), id), (name.to_lowercase(), id)])
    .collect();

    let mut errors = Vec::new();
    let mut ready = Vec::new();
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
        let username = cell("username").unwrap_or_default();
        let user = members.get(&username.to_lowercase()).copied();
        if user.is_none() {
            row_errors.push((
                "username".into(),
                if username.is_empty() {
                    "is required".into()
                } else {
                    format!("\"{username}\" is not a member of this department")
                },
            ));
        }
        let course = match cell("course") {
            Some(c) => match courses.get(&c.to_lowercase()) {
                Some(course) => Some(course),
                None => {
                    row_errors.push(("course".into(), format!("\"{c}\" is not a course here")));
                    None
                }
            },
            None => None,
        };
        let category = match cell("category") {
            Some(c) => match categories.get(&c.to_lowercase()) {
                Some(id) => Some(*id),
                None => {
                    row_errors.push(("category".into(), format!("\"{c}\" is not a category here")));
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
        let completion = date("completion_date", &mut row_errors);
        if cell("completion_date").is_none() {
            row_errors.push(("completion_date".into(), "is required".into()));
        }
        let expiration = date("expiration_date", &mut row_errors);
        let hours = cell("hours").and_then(|v| match v.replace(',', ".").parse::<Decimal>() {
            Ok(h) => Some(h),
            Err(_) => {
                row_errors.push(("hours".into(), format!("\"{v}\" is not a number")));
                None
            }
        });
        // The same checks as a record entered by hand.
        if let (Some(user), Some(completion)) = (user, completion) {
            let input = RecordInput {
                user_ids: vec![user],
                course_id: course.map(|c| c.id),
                course_name: cell("course_name").or(course.map(|c| c.name.clone())),
                category_id: category,
                training_type: cell("training_type"),
                completion_date: completion,
                hours: hours.or(course.map(|c| c.hours)),
                expiration_date: expiration,
                certification_number: cell("certification_number"),
                issuing_agency: cell("issuing_agency"),
                instructor: cell("instructor"),
                location_id: None,
                notes: cell("notes"),
                rank_at_completion: None,
                station_at_completion: None,
            };
            match input.validate(today) {
                Ok(v) if row_errors.is_empty() => ready.push((line, username.clone(), v, course)),
                Ok(_) => {}
                Err(AppError::Validation(found)) => {
                    row_errors.extend(found.into_iter().map(|e| (e.field, e.message)))
                }
                Err(other) => return Err(other),
            }
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
    let preview: Vec<PreviewRow> = ready
        .iter()
        .map(|(line, username, v, course)| PreviewRow {
            line: *line,
            username: username.clone(),
            course_name: v.course_name.clone().unwrap_or_default(),
            completion_date: v.completion_date,
            hours: v.hours.or(course.map(|c| c.hours)).unwrap_or_default(),
            expiration_date: v.expiration_date.or_else(|| {
                compliance::expiry_from_course(
                    v.completion_date,
                    course.and_then(|c| c.months).map(u32::from),
                )
            }),
        })
        .collect();
    let valid_rows = ready.len() as u64;
    let mut created = 0;
    if !dry_run && errors.is_empty() {
        for ((_, _, v, course), p) in ready.iter().zip(&preview) {
            let training_type = v
                .training_type
                .clone()
                .or(course.map(|c| c.training_type.clone()))
                .unwrap_or_else(|| "continuing_education".into());
            service::insert_record(
                tx,
                ctx,
                &NewRecord {
                    user_id: v.user_ids[0],
                    course_id: v.course_id,
                    category_id: v.category_id.or(course.and_then(|c| c.category_id)),
                    course_name: &p.course_name,
                    training_type: &training_type,
                    completion_date: v.completion_date,
                    expiration_date: p.expiration_date,
                    hours: p.hours,
                    certification_number: v.certification_number.as_deref(),
                    issuing_agency: v
                        .issuing_agency
                        .as_deref()
                        .or(course.and_then(|c| c.agency.as_deref())),
                    instructor: v.instructor.as_deref(),
                    location_id: None,
                    rank: None,
                    station: None,
                    notes: v.notes.as_deref(),
                    session_id: None,
                    submission_id: None,
                },
            )
            .await?;
            created += 1;
        }
        audit::record(
            tx,
            &ctx.actor(),
            Entry::new("training.records_imported", "training_record", "csv")
                .changes(serde_json::json!({"rows": rows, "created": created})),
        )
        .await?;
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


#[utoipa::path(post, path = "/api/v1/training/records/import", tag = "training", params(ImportQuery),
    request_body(content = String, content_type = "text/csv",
        description = "Header line with columns from: username, course, course_name, category, training_type, completion_date, hours, expiration_date, certification_number, issuing_agency, instructor, notes"),
    responses((status = 200, body = crate::csv::ImportReport<PreviewRow>,
        description = "Dry run, or import done. With dry_run=false and any row error, the answer is 422 with the same report and nothing is imported."),
        (status = 403, body = crate::error::Problem), (status = 422, body = crate::csv::ImportReport<PreviewRow>)))]
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
