//! Event templates: the defaults of an event a department holds again and again (the monthly
//! drill: its kind, length, place, course, answers and reminders), saved from an event or made
//! directly, and used to fill the new-event form. Officers (`events.manage`) make them; the form
//! still checks every field when the event is saved.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{EVENTS_MANAGE, Named, event_row};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, unique_violation};
use crate::input::{self, Checks};
use crate::modules::events::rules::{CheckInWindow, EventType, ReminderTarget};

/// Saved defaults for new events.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = EventTemplate)]
pub struct Template {
    pub id: Uuid,
    pub name: String,
    pub title: String,
    #[schema(schema_with = EventType::schema_object)]
    pub event_type: EventType,
    pub description: Option<String>,
    pub duration_minutes: u16,
    pub location_id: Option<Uuid>,
    pub course_id: Option<Uuid>,
    pub requires_rsvp: bool,
    pub is_mandatory: bool,
    pub max_attendees: Option<u32>,
    pub reminder_hours: Option<u16>,
    #[schema(schema_with = ReminderTarget::schema_object)]
    pub reminder_target: ReminderTarget,
    #[schema(schema_with = CheckInWindow::schema_object)]
    pub check_in_window: CheckInWindow,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, title, event_type, description, duration_minutes, location_id,
     course_id, requires_rsvp, is_mandatory, max_attendees, reminder_hours, reminder_target,
     check_in_window, updated_at";

const KEYS: &[(&str, &str, &str)] = &[(
    "uq_event_templates_org_name",
    "name",
    "is already the name of another template",
)];

/// A template as the API gives it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EventTemplateInput)]
pub struct TemplateInput {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 200)]
    pub title: String,
    #[schema(schema_with = EventType::schema_object)]
    pub event_type: EventType,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// 5 to 4,320 (72 hours).
    #[schema(minimum = 5, maximum = 4320)]
    pub duration_minutes: u16,
    pub location_id: Option<Uuid>,
    pub course_id: Option<Uuid>,
    #[serde(default = "yes")]
    pub requires_rsvp: bool,
    #[serde(default)]
    pub is_mandatory: bool,
    #[schema(minimum = 1, maximum = 10000)]
    pub max_attendees: Option<u32>,
    #[schema(minimum = 1, maximum = 720)]
    pub reminder_hours: Option<u16>,
    #[schema(schema_with = ReminderTarget::schema_object)]
    pub reminder_target: Option<ReminderTarget>,
    #[schema(schema_with = CheckInWindow::schema_object)]
    pub check_in_window: Option<CheckInWindow>,
}

fn yes() -> bool {
    true
}

pub async fn templates(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Template>> {
    ctx.require(EVENTS_MANAGE)?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM event_templates WHERE organization_id = ? ORDER BY name"
    )))
    .bind(ctx.org_id)
    .fetch_all(conn)
    .await?)
}

pub async fn template(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Template> {
    ctx.require(EVENTS_MANAGE)?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM event_templates WHERE organization_id = ? AND id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// Saves a new template.
pub async fn create(ctx: &Ctx, tx: &mut Tx<'_>, input: TemplateInput) -> AppResult<Template> {
    ctx.require(EVENTS_MANAGE)?;
    let mut c = Checks::default();
    let name = c.take(input::required_text("name", &input.name, 200));
    let title = c.take(input::required_text("title", &input.title, 200));
    let description = c.take(input::optional_paragraphs(
        "description",
        input.description.clone(),
        5000,
    ));
    if !(5..=4320).contains(&input.duration_minutes) {
        c.push("duration_minutes", "must be between 5 and 4320 minutes");
    }
    if let Some(m) = input.max_attendees
        && !(1..=10_000).contains(&m)
    {
        c.push("max_attendees", "must be between 1 and 10000");
    }
    if let Some(h) = input.reminder_hours
        && !(1..=720).contains(&h)
    {
        c.push("reminder_hours", "must be between 1 and 720 hours");
    }
    if let Some(l) = input.location_id
        && !db::exists(tx, "locations", ctx.org_id, l).await?
    {
        c.push("location_id", "is not a location of this department");
    }
    if let Some(course) = input.course_id
        && !db::exists(tx, "training_courses", ctx.org_id, course).await?
    {
        c.push("course_id", "is not a course of this department");
    }
    c.finish()?;
    let (Some(name), Some(title), Some(description)) = (name, title, description) else {
        return Err(AppError::field("", "the template is not complete"));
    };
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO event_templates (id, organization_id, name, title, event_type, description,
                duration_minutes, location_id, course_id, requires_rsvp, is_mandatory,
                max_attendees, reminder_hours, reminder_target, check_in_window, created_at,
                updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&name)
    .bind(&title)
    .bind(input.event_type)
    .bind(&description)
    .bind(input.duration_minutes)
    .bind(input.location_id)
    .bind(input.course_id)
    .bind(input.requires_rsvp)
    .bind(input.is_mandatory)
    .bind(input.max_attendees)
    .bind(input.reminder_hours.unwrap_or(24))
    .bind(input.reminder_target.unwrap_or(ReminderTarget::Going))
    .bind(input.check_in_window.unwrap_or(CheckInWindow::Flexible))
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, KEYS))?;
    let saved = template(ctx, tx, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.template_created", "event_template", id)
            .changes(serde_json::to_value(&saved).map_err(anyhow::Error::new)?),
    )
    .await?;
    Ok(saved)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FromEvent {
    /// The template's name ("Monthly drill").
    #[schema(max_length = 200)]
    pub name: String,
}

/// Saves an event's settings as a template.
pub async fn from_event(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    event: Uuid,
    input: FromEvent,
) -> AppResult<Template> {
    ctx.require(EVENTS_MANAGE)?;
    let e = event_row(ctx, tx, event).await?;
    let minutes = (e.ends_at - e.starts_at).num_minutes().clamp(5, 4320) as u16;
    create(
        ctx,
        tx,
        TemplateInput {
            name: input.name,
            title: e.title,
            event_type: e.event_type,
            description: e.description,
            duration_minutes: minutes,
            location_id: e.location.map(|l: Named| l.id),
            course_id: e.course.map(|c: Named| c.id),
            requires_rsvp: e.requires_rsvp,
            is_mandatory: e.is_mandatory,
            max_attendees: e.max_attendees,
            reminder_hours: e.reminder_hours,
            reminder_target: Some(e.reminder_target),
            check_in_window: Some(e.check_in_window),
        },
    )
    .await
}
