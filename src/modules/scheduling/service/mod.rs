//! Scheduling's SQL: templates, patterns and shifts here (and generating shifts from a
//! pattern); seats and who holds them in `assignments`; swaps and time off in `requests`. Every
//! statement is scoped by the caller's organization; every change checks `scheduling.manage`
//! (or is the member's own sign-up, answer or request) and is audited in its transaction.

pub mod assignments;
pub mod closeout;
pub mod reports;
pub mod requests;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use uuid::Uuid;

use super::rules::{
    self, AssignmentStatus, PatternType, Preset, Rotation, Seat, ShiftStatus, Staffing,
};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::Page;
use crate::input::{self, Checks};

pub const SCHEDULING_VIEW: &str = "scheduling.view";
pub const SCHEDULING_MANAGE: &str = "scheduling.manage";

pub use crate::http::Named;


fn seats_from(json: &str) -> Vec<Seat> {
    // Written by us as a JSON list; an unreadable one shows as no seats.
    serde_json::from_str(json).unwrap_or_default()
}

fn seats_json(seats: &[Seat]) -> AppResult<String> {
    Ok(serde_json::to_string(seats).map_err(anyhow::Error::new)?)
}

/// The department's vehicles and places a template or shift may name: checks each is theirs.
async fn check_refs(
    ctx: &Ctx,
    conn: &mut Conn,
    apparatus: Option<Uuid>,
    location: Option<Uuid>,
    seats: &[Seat],
    c: &mut Checks,
) -> AppResult<()> {
    if let Some(a) = apparatus
        && !db::exists(conn, "basic_apparatus", ctx.org_id, a).await?
    {
        c.push("apparatus_id", "is not a vehicle of this department");
    }
    if let Some(l) = location
        && !db::exists(conn, "locations", ctx.org_id, l).await?
    {
        c.push("location_id", "is not a place of this department");
    }
    for (i, s) in seats.iter().enumerate() {
        if let Some(course) = s.course_id
            && !db::exists(conn, "training_courses", ctx.org_id, course).await?
        {
            c.push(
                &format!("positions[{i}].course_id"),
                "is not a course of this department",
            );
        }
    }
    Ok(())
}

/// A vehicle's riding positions, as seats, and its minimum staffing.
async fn vehicle_seats(
    ctx: &Ctx,
    conn: &mut Conn,
    apparatus: Uuid,
) -> AppResult<Option<(Vec<Seat>, u8)>> {
    let row: Option<(String, u8)> = sqlx::query_as(
        "SELECT positions, min_staffing FROM basic_apparatus WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(apparatus)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(p, min)| {
        let names: Vec<String> = serde_json::from_str(&p).unwrap_or_default();
        (rules::seats_of(&names), min)
    }))
}

// ---------------------------------------------------------------------------------------------
// Templates

/// A shift's shape: when it starts, how long it runs, its vehicle and seats.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Template {
    pub id: Uuid,
    pub name: String,
    /// "HH:MM", the department's wall clock.
    pub start_time: String,
    pub duration_minutes: u16,
    pub apparatus: Option<Named>,
    pub location: Option<Named>,
    pub positions: Vec<Seat>,
    pub min_staffing: u8,
    pub open_to_all_members: bool,
    pub staffing_warning_hours: u16,
    pub is_active: bool,
}

#[derive(sqlx::FromRow)]
struct TemplateRow {
    id: Uuid,
    name: String,
    start_time: NaiveTime,
    duration_minutes: u16,
    apparatus_id: Option<Uuid>,
    apparatus_name: Option<String>,
    location_id: Option<Uuid>,
    location_name: Option<String>,
    positions: String,
    min_staffing: u8,
    open_to_all_members: bool,
    staffing_warning_hours: u16,
    is_active: bool,
}

impl From<TemplateRow> for Template {
    fn from(r: TemplateRow) -> Self {
        Template {
            id: r.id,
            name: r.name,
            start_time: r.start_time.format("%H:%M").to_string(),
            duration_minutes: r.duration_minutes,
            apparatus: Named::of(r.apparatus_id, r.apparatus_name),
            location: Named::of(r.location_id, r.location_name),
            positions: seats_from(&r.positions),
            min_staffing: r.min_staffing,
            open_to_all_members: r.open_to_all_members,
            staffing_warning_hours: r.staffing_warning_hours,
            is_active: r.is_active,
        }
    }
}

const TEMPLATE_SELECT: &str = "SELECT t.id, t.name, t.start_time, t.duration_minutes,
        t.apparatus_id, CONCAT_WS(' ', a.unit_number, a.name) AS apparatus_name,
        t.location_id, l.name AS location_name, t.positions, t.min_staffing,
        t.open_to_all_members, t.staffing_warning_hours, t.is_active
   FROM shift_templates t
   LEFT JOIN basic_apparatus a ON a.organization_id = t.organization_id AND a.id = t.apparatus_id
   LEFT JOIN locations l ON l.organization_id = t.organization_id AND l.id = t.location_id";

pub async fn templates(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Template>> {
    ctx.require(SCHEDULING_VIEW)?;
    let rows: Vec<TemplateRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TEMPLATE_SELECT} WHERE t.organization_id = ? ORDER BY t.is_active DESC, t.name LIMIT 500"
    )))
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Template::from).collect())
}

pub async fn template(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Template> {
    ctx.require(SCHEDULING_VIEW)?;
    let row: TemplateRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TEMPLATE_SELECT} WHERE t.organization_id = ? AND t.id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(row.into())
}

/// A template as given: without `positions`, the vehicle's riding positions are the seats.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    #[schema(max_length = 100)]
    pub name: String,
    /// "HH:MM", the department's wall clock.
    #[schema(example = "07:00")]
    pub start_time: String,
    /// 30 minutes to 48 hours.
    #[schema(minimum = 30, maximum = 2880)]
    pub duration_minutes: u16,
    pub apparatus_id: Option<Uuid>,
    pub location_id: Option<Uuid>,
    #[serde(default)]
    pub positions: Option<Vec<Seat>>,
    /// Default: the vehicle's minimum staffing, else the number of required seats.
    #[schema(maximum = 20)]
    pub min_staffing: Option<u8>,
    /// Whether any member may sign up; otherwise officers place members.
    #[serde(default = "default_true")]
    pub open_to_all_members: bool,
    /// Hours before the start at which an understaffed shift is reported (default 48).
    #[schema(maximum = 720)]
    pub staffing_warning_hours: Option<u16>,
    #[serde(default = "default_true")]
    pub is_active: bool,
}

fn default_true() -> bool {
    true
}

struct ValidTemplate {
    name: String,
    start: NaiveTime,
    minutes: u16,
    apparatus: Option<Uuid>,
    location: Option<Uuid>,
    seats: Vec<Seat>,
    min_staffing: u8,
    open: bool,
    warning_hours: u16,
    active: bool,
}

async fn check_template(
    ctx: &Ctx,
    conn: &mut Conn,
    t: TemplateInput,
) -> AppResult<ValidTemplate> {
    let mut c = Checks::default();
    let name = c.take(input::required_text("name", &t.name, 100));
    let start = c.take(rules::parse_time("start_time", &t.start_time));
    if !(30..=2880).contains(&t.duration_minutes) {
        c.push(
            "duration_minutes",
            "must be between 30 minutes and 48 hours",
        );
    }
    let vehicle = match t.apparatus_id {
        Some(a) => vehicle_seats(ctx, conn, a).await?,
        None => None,
    };
    let seats = match (&t.positions, &vehicle) {
        (Some(p), _) if !p.is_empty() => rules::check_seats("positions", p, &mut c),
        (_, Some((seats, _))) if !seats.is_empty() => seats.clone(),
        _ => rules::check_seats("positions", &[], &mut c),
    };
    check_refs(ctx, conn, t.apparatus_id, t.location_id, &seats, &mut c).await?;
    let required = seats.iter().filter(|s| s.required).count() as u8;
    let min_staffing = t
        .min_staffing
        .or(vehicle.as_ref().map(|(_, m)| *m))
        .unwrap_or(required.max(1));
    if min_staffing > 20 {
        c.push("min_staffing", "must be at most 20");
    } else if usize::from(min_staffing) > seats.len() && !seats.is_empty() {
        c.push(
            "min_staffing",
            format!("must be at most the number of seats ({})", seats.len()),
        );
    }
    let warning_hours = t.staffing_warning_hours.unwrap_or(48);
    if warning_hours > 720 {
        c.push("staffing_warning_hours", "must be at most 720 (30 days)");
    }
    c.finish()?;
    Ok(ValidTemplate {
        name: name.unwrap_or_default(),
        start: start.unwrap_or(NaiveTime::MIN),
        minutes: t.duration_minutes,
        apparatus: t.apparatus_id,
        location: t.location_id,
        seats,
        min_staffing,
        open: t.open_to_all_members,
        warning_hours,
        active: t.is_active,
    })
}

fn template_changes(v: &ValidTemplate) -> serde_json::Value {
    serde_json::json!({
        "name": v.name, "start_time": v.start.format("%H:%M").to_string(),
        "duration_minutes": v.minutes, "apparatus_id": v.apparatus, "location_id": v.location,
        "positions": v.seats, "min_staffing": v.min_staffing, "open_to_all_members": v.open,
        "staffing_warning_hours": v.warning_hours, "is_active": v.active,
    })
}

fn name_taken(err: sqlx::Error) -> AppError {
    crate::error::unique_violation(
        err,
        &[
            ("uq_shift_templates_name", "name", "is already used"),
            ("uq_shift_patterns_name", "name", "is already used"),
        ],
    )
}

pub async fn create_template(ctx: &Ctx, tx: &mut Tx<'_>, t: TemplateInput) -> AppResult<Template> {
    ctx.require(SCHEDULING_MANAGE)?;
    let v = check_template(ctx, tx, t).await?;
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO shift_templates (id, organization_id, name, start_time, duration_minutes,
                apparatus_id, location_id, positions, min_staffing, open_to_all_members,
                staffing_warning_hours, is_active, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&v.name)
    .bind(v.start)
    .bind(v.minutes)
    .bind(v.apparatus)
    .bind(v.location)
    .bind(seats_json(&v.seats)?)
    .bind(v.min_staffing)
    .bind(v.open)
    .bind(v.warning_hours)
    .bind(v.active)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(name_taken)?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.template_created", "shift_template", id)
            .changes(template_changes(&v)),
    )
    .await?;
    template(ctx, tx, id).await
}

/// Changes a template; shifts already made keep their shape.
pub async fn update_template(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    t: TemplateInput,
) -> AppResult<Template> {
    ctx.require(SCHEDULING_MANAGE)?;
    let before = template(ctx, tx, id).await?;
    let v = check_template(ctx, tx, t).await?;
    sqlx::query(
        "UPDATE shift_templates SET name = ?, start_time = ?, duration_minutes = ?,
                apparatus_id = ?, location_id = ?, positions = ?, min_staffing = ?,
                open_to_all_members = ?, staffing_warning_hours = ?, is_active = ?,
                updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&v.name)
    .bind(v.start)
    .bind(v.minutes)
    .bind(v.apparatus)
    .bind(v.location)
    .bind(seats_json(&v.seats)?)
    .bind(v.min_staffing)
    .bind(v.open)
    .bind(v.warning_hours)
    .bind(v.active)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(name_taken)?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.template_updated", "shift_template", id).changes(
            serde_json::json!({ "before": before.name, "after": template_changes(&v) }),
        ),
    )
    .await?;
    template(ctx, tx, id).await
}

// ---------------------------------------------------------------------------------------------
// Patterns

/// A member who rides with a platoon.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlatoonMember {
    pub user_id: Uuid,
    /// A to D.
    #[schema(max_length = 1)]
    pub platoon: String,
    /// The seat they take by preference, by name; else the first free one they may take.
    #[schema(max_length = 50)]
    pub position: Option<String>,
    /// Filled in on answers.
    #[serde(default, skip_deserializing)]
    pub name: Option<String>,
}

/// A rule that makes shifts from a template: every day, on chosen weekdays, or a platoon
/// rotation (a preset or the department's own sequence).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Pattern {
    pub id: Uuid,
    pub name: String,
    pub template: Named,
    #[schema(schema_with = PatternType::schema_object)]
    pub pattern_type: PatternType,
    /// Weekly: 0 = Sunday.
    pub weekdays: Vec<u8>,
    /// Platoon and custom: the letters day by day ('-' for none).
    pub sequence: Option<String>,
    #[schema(schema_with = Preset::schema_object_or_null)]
    pub preset: Option<Preset>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub is_active: bool,
    pub members: Vec<PlatoonMember>,
    /// The rule in words.
    pub described: String,
}

#[derive(sqlx::FromRow)]
struct PatternRow {
    id: Uuid,
    name: String,
    template_id: Uuid,
    template_name: String,
    pattern_type: PatternType,
    weekdays: Option<String>,
    sequence: Option<String>,
    preset: Option<Preset>,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    is_active: bool,
}

fn weekdays_of(text: Option<&str>) -> Vec<u8> {
    text.unwrap_or_default()
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .filter(|d| *d < 7)
        .collect()
}

const DAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn describe(kind: PatternType, weekdays: &[u8], sequence: Option<&str>, preset: Option<Preset>) -> String {
    match kind {
        PatternType::Daily => "Every day".into(),
        PatternType::Weekly => {
            let days: Vec<&str> = weekdays.iter().map(|d| DAY_NAMES[usize::from(*d)]).collect();
            format!("Every {}", days.join(", "))
        }
        PatternType::Platoon => preset.map_or_else(|| "Platoon rotation".into(), |p| p.label().into()),
        PatternType::Custom => format!("Repeating {}", sequence.unwrap_or_default()),
    }
}

impl PatternRow {
    fn into_pattern(self, members: Vec<PlatoonMember>) -> Pattern {
        let weekdays = weekdays_of(self.weekdays.as_deref());
        Pattern {
            described: describe(self.pattern_type, &weekdays, self.sequence.as_deref(), self.preset),
            id: self.id,
            name: self.name,
            template: Named {
                id: self.template_id,
                name: self.template_name,
            },
            pattern_type: self.pattern_type,
            weekdays,
            sequence: self.sequence,
            preset: self.preset,
            start_date: self.start_date,
            end_date: self.end_date,
            is_active: self.is_active,
            members,
        }
    }

    fn rotation(&self) -> Rotation {
        Rotation {
            kind: self.pattern_type,
            weekdays: weekdays_of(self.weekdays.as_deref()),
            sequence: self.sequence.clone().unwrap_or_default(),
            start: self.start_date,
            end: self.end_date,
        }
    }
}

const PATTERN_SELECT: &str = "SELECT p.id, p.name, p.template_id, t.name AS template_name,
        p.pattern_type, p.weekdays, p.sequence, p.preset, p.start_date, p.end_date, p.is_active
   FROM shift_patterns p
   JOIN shift_templates t ON t.organization_id = p.organization_id AND t.id = p.template_id";

async fn pattern_members(
    ctx: &Ctx,
    conn: &mut Conn,
    pattern: Option<Uuid>,
) -> AppResult<Vec<(Uuid, PlatoonMember)>> {
    let rows: Vec<(Uuid, Uuid, String, Option<String>, String)> = sqlx::query_as(
        "SELECT m.pattern_id, m.user_id, m.platoon, m.position,
                CONCAT(u.first_name, ' ', u.last_name) AS name
           FROM shift_pattern_members m
           JOIN users u ON u.organization_id = m.organization_id AND u.id = m.user_id
          WHERE m.organization_id = ? AND (? IS NULL OR m.pattern_id = ?)
          ORDER BY m.platoon, u.last_name, u.first_name",
    )
    .bind(ctx.org_id)
    .bind(pattern)
    .bind(pattern)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(p, user_id, platoon, position, name)| {
            (
                p,
                PlatoonMember {
                    user_id,
                    platoon,
                    position,
                    name: Some(name),
                },
            )
        })
        .collect())
}

pub async fn patterns(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Pattern>> {
    ctx.require(SCHEDULING_VIEW)?;
    let rows: Vec<PatternRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PATTERN_SELECT} WHERE p.organization_id = ? ORDER BY p.is_active DESC, p.name LIMIT 200"
    )))
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut members = pattern_members(ctx, conn, None).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine = members
                .extract_if(.., |(p, _)| *p == r.id)
                .map(|(_, m)| m)
                .collect();
            r.into_pattern(mine)
        })
        .collect())
}

async fn pattern_row(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<PatternRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{PATTERN_SELECT} WHERE p.organization_id = ? AND p.id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)
}

pub async fn pattern(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Pattern> {
    ctx.require(SCHEDULING_VIEW)?;
    let row = pattern_row(ctx, conn, id).await?;
    let members = pattern_members(ctx, conn, Some(id)).await?;
    Ok(row.into_pattern(members.into_iter().map(|(_, m)| m).collect()))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternInput {
    #[schema(max_length = 100)]
    pub name: String,
    pub template_id: Uuid,
    #[schema(schema_with = PatternType::schema_object)]
    pub pattern_type: String,
    /// Weekly: the days, 0 = Sunday.
    #[serde(default)]
    pub weekdays: Vec<u8>,
    /// Platoon: the rotation.
    #[schema(schema_with = Preset::schema_object_or_null)]
    pub preset: Option<String>,
    /// Custom: platoon letters A–D day by day, '-' for a day without a shift (at most 56).
    #[schema(max_length = 80)]
    pub sequence: Option<String>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    /// Platoon and custom: who rides with which platoon.
    #[serde(default)]
    pub members: Vec<PlatoonMember>,
}

pub async fn create_pattern(ctx: &Ctx, tx: &mut Tx<'_>, p: PatternInput) -> AppResult<Pattern> {
    ctx.require(SCHEDULING_MANAGE)?;
    let mut c = Checks::default();
    let name = c.take(input::required_text("name", &p.name, 100));
    let kind = PatternType::parse(&p.pattern_type);
    if kind.is_none() {
        c.push(
            "pattern_type",
            format!("must be one of: {}", PatternType::WORDS.join(", ")),
        );
    }
    if !db::exists(tx, "shift_templates", ctx.org_id, p.template_id).await? {
        c.push("template_id", "is not a shift template of this department");
    }
    let mut weekdays: Vec<u8> = Vec::new();
    let mut preset = None;
    let mut sequence = None;
    match kind {
        Some(PatternType::Weekly) => {
            weekdays = p.weekdays.clone();
            weekdays.sort_unstable();
            weekdays.dedup();
            if weekdays.is_empty() || weekdays.iter().any(|d| *d > 6) {
                c.push("weekdays", "must list one or more days, 0 (Sunday) to 6 (Saturday)");
            }
        }
        Some(PatternType::Platoon) => match p.preset.as_deref().and_then(Preset::parse) {
            Some(pr) => {
                preset = Some(pr);
                sequence = Some(pr.sequence());
            }
            None => c.push(
                "preset",
                format!("must be one of: {}", Preset::WORDS.join(", ")),
            ),
        },
        Some(PatternType::Custom) => match rules::check_sequence(p.sequence.as_deref().unwrap_or("")) {
            Ok(s) => sequence = Some(s),
            Err(msg) => c.push("sequence", msg),
        },
        _ => {}
    }
    rules::check_year("start_date", p.start_date, &mut c);
    if let Some(end) = p.end_date {
        rules::check_year("end_date", end, &mut c);
        if end < p.start_date {
            c.push("end_date", "must be on or after the start date");
        }
    }
    let platoons: Vec<char> = sequence.as_deref().unwrap_or("").chars().filter(|c| *c != '-').collect();
    if !p.members.is_empty() && !matches!(kind, Some(PatternType::Platoon | PatternType::Custom)) {
        c.push("members", "are for platoon and custom patterns only");
    }
    if p.members.len() > 200 {
        c.push("members", "must be at most 200");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, m) in p.members.iter().enumerate() {
        let letter = m.platoon.trim().to_ascii_uppercase();
        if letter.len() != 1 || !platoons.iter().any(|p| p.to_string() == letter) {
            c.push(
                &format!("members[{i}].platoon"),
                "must be one of the pattern's platoons",
            );
        }
        if !seen.insert(m.user_id) {
            c.push(&format!("members[{i}].user_id"), "is listed twice");
        } else if !assignments::is_active_member(tx, ctx.org_id, m.user_id).await? {
            c.push(
                &format!("members[{i}].user_id"),
                "is not an active member of this department",
            );
        }
        if let Some(pos) = &m.position {
            c.take(input::optional_text(&format!("members[{i}].position"), Some(pos.clone()), 50));
        }
    }
    c.finish()?;
    let kind = kind.unwrap_or(PatternType::Daily);
    let id = db::new_id();
    let now = db::now();
    let weekday_text = (!weekdays.is_empty()).then(|| {
        weekdays.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
    });
    sqlx::query(
        "INSERT INTO shift_patterns (id, organization_id, name, template_id, pattern_type,
                weekdays, sequence, preset, start_date, end_date, is_active, created_at,
                updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(name.as_deref().unwrap_or_default())
    .bind(p.template_id)
    .bind(kind)
    .bind(&weekday_text)
    .bind(&sequence)
    .bind(preset)
    .bind(p.start_date)
    .bind(p.end_date)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(name_taken)?;
    for m in &p.members {
        sqlx::query(
            "INSERT INTO shift_pattern_members (organization_id, pattern_id, user_id, platoon,
                    position)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(ctx.org_id)
        .bind(id)
        .bind(m.user_id)
        .bind(m.platoon.trim().to_ascii_uppercase())
        .bind(m.position.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        .execute(&mut **tx)
        .await?;
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.pattern_created", "shift_pattern", id).changes(serde_json::json!({
            "name": name, "template_id": p.template_id, "pattern_type": kind,
            "weekdays": weekday_text, "sequence": sequence, "preset": preset,
            "start_date": p.start_date, "end_date": p.end_date, "members": p.members.len(),
        })),
    )
    .await?;
    pattern(ctx, tx, id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActiveInput {
    pub active: bool,
}

/// Stops a pattern (it makes no more shifts; those made stay) or takes it up again.
pub async fn set_pattern_active(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: ActiveInput,
) -> AppResult<Pattern> {
    ctx.require(SCHEDULING_MANAGE)?;
    let was: Option<bool> = sqlx::query_scalar(
        "SELECT is_active FROM shift_patterns WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let was = was.ok_or(AppError::NotFound)?;
    if was != input.active {
        sqlx::query(
            "UPDATE shift_patterns SET is_active = ?, updated_at = ?
              WHERE organization_id = ? AND id = ?",
        )
        .bind(input.active)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        audit::record(
            tx,
            &ctx.actor(),
            Entry::new(
                if input.active {
                    "scheduling.pattern_resumed"
                } else {
                    "scheduling.pattern_stopped"
                },
                "shift_pattern",
                id,
            ),
        )
        .await?;
    }
    pattern(ctx, tx, id).await
}

// ---------------------------------------------------------------------------------------------
// Generating shifts from a pattern

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GenerateInput {
    pub from: NaiveDate,
    /// At most a year after `from`.
    pub to: NaiveDate,
    /// Show what would be made without making it.
    #[serde(default)]
    pub preview: bool,
}

/// One shift a generation makes (or would make).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Planned {
    pub shift_date: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub platoon: Option<String>,
    /// Who is seated, seat by seat: "Driver: Pat Doe".
    pub crew: Vec<String>,
    /// Platoon members left off, and why ("on leave").
    pub skipped: Vec<String>,
    /// Already made by an earlier generation: left as it is.
    pub exists: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Generated {
    pub shifts: Vec<Planned>,
    /// How many shifts were made (0 for a preview).
    pub created: u32,
    pub assignments: u32,
    pub preview: bool,
}

/// Makes the pattern's shifts from `from` to `to` (at most 366 days), seating each platoon's
/// members on their platoon's shifts; members on approved time off or on leave that day, and
/// those not qualified for the seat, are left off. Shifts made before are kept as they are, so
/// generating a range again adds only what is missing. A preview writes nothing.
pub async fn generate(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    g: GenerateInput,
) -> AppResult<Generated> {
    ctx.require(SCHEDULING_MANAGE)?;
    let mut c = Checks::default();
    rules::check_year("from", g.from, &mut c);
    rules::check_year("to", g.to, &mut c);
    if g.to < g.from {
        c.push("to", "must be on or after from");
    } else if (g.to - g.from).num_days() >= rules::MAX_GENERATE_DAYS {
        c.push("to", "must be within a year of from");
    }
    c.finish()?;
    // The pattern row is locked, so two generations of one pattern at once run one by one.
    let locked: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM shift_patterns WHERE organization_id = ? AND id = ? FOR UPDATE")
            .bind(ctx.org_id)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
    locked.ok_or(AppError::NotFound)?;
    let p = pattern_row(ctx, tx, id).await?;
    if !p.is_active {
        return Err(AppError::Conflict("the pattern is not active".into()));
    }
    let t = template(ctx, tx, p.template_id).await?;
    let tz = crate::time::zone(&ctx.timezone);
    let start = rules::parse_time("start_time", &t.start_time)?;
    let days = p.rotation().days(g.from, g.to);
    let members: Vec<PlatoonMember> = pattern_members(ctx, tx, Some(id))
        .await?
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let existing: Vec<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT starts_at FROM shifts WHERE organization_id = ? AND pattern_id = ?
            AND shift_date BETWEEN ? AND ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(g.from)
    .bind(g.to)
    .fetch_all(&mut **tx)
    .await?;
    let away = assignments::away_days(ctx, tx, &members.iter().map(|m| m.user_id).collect::<Vec<_>>(), g.from, g.to).await?;
    let qualified = assignments::qualifications(ctx, tx, &t.positions, &members.iter().map(|m| m.user_id).collect::<Vec<_>>()).await?;
    let now = db::now();
    let mut planned = Vec::with_capacity(days.len());
    // Each new shift's id, its plan, and who sits where.
    type NewShift = (Uuid, Planned, Vec<(u8, Uuid)>);
    let mut rows: Vec<NewShift> = Vec::new();
    for (day, platoon) in days {
        let (starts_at, ends_at) = rules::span(tz, day, start, t.duration_minutes);
        let exists = existing.contains(&starts_at);
        let mut seated: Vec<(u8, Uuid)> = Vec::new();
        let mut crew = Vec::new();
        let mut skipped = Vec::new();
        if let Some(letter) = platoon {
            for m in members.iter().filter(|m| m.platoon.starts_with(letter)) {
                let name = m.name.clone().unwrap_or_default();
                if let Some(why) = away.get(&m.user_id).and_then(|spans| {
                    spans
                        .iter()
                        .find(|(s, e, _)| *s <= day && e.is_none_or(|e| e >= day))
                        .map(|(_, _, why)| *why)
                }) {
                    skipped.push(format!("{name}: {why}"));
                    continue;
                }
                let may = |i: usize| {
                    let seat = &t.positions[i];
                    seat.course_id.is_none_or(|c| {
                        qualified
                            .get(&(m.user_id, c))
                            .is_some_and(|until| until.is_none_or(|u| u >= day))
                    })
                };
                let free: Vec<usize> = (0..t.positions.len())
                    .filter(|i| !seated.iter().any(|(s, _)| usize::from(*s) == *i))
                    .collect();
                let preferred = m.position.as_deref().and_then(|pos| {
                    free.iter()
                        .copied()
                        .find(|i| t.positions[*i].name.eq_ignore_ascii_case(pos) && may(*i))
                });
                match preferred.or_else(|| free.iter().copied().find(|i| may(*i))) {
                    Some(i) => {
                        crew.push(format!("{}: {name}", t.positions[i].name));
                        seated.push((i as u8, m.user_id));
                    }
                    None => skipped.push(format!("{name}: no free seat they are qualified for")),
                }
            }
        }
        let plan = Planned {
            shift_date: day,
            starts_at,
            ends_at,
            platoon: platoon.map(String::from),
            crew,
            skipped,
            exists,
        };
        if !exists && !g.preview {
            rows.push((db::new_id(), plan.clone(), seated));
        }
        planned.push(plan);
    }
    let created = rows.len() as u32;
    let mut seated_count = 0u32;
    if !rows.is_empty() {
        let title = |platoon: &Option<String>| match platoon {
            Some(p) => format!("{} — Platoon {p}", t.name),
            None => t.name.clone(),
        };
        let positions = seats_json(&t.positions)?;
        for chunk in rows.chunks(200) {
            let mut b = QueryBuilder::new(
                "INSERT INTO shifts (id, organization_id, title, shift_date, starts_at, ends_at,
                     template_id, pattern_id, platoon, apparatus_id, location_id, positions,
                     min_staffing, open_to_all_members, staffing_warning_hours, status,
                     created_by, created_at, updated_at) ",
            );
            b.push_values(chunk, |mut row, (sid, plan, _)| {
                row.push_bind(*sid)
                    .push_bind(ctx.org_id)
                    .push_bind(title(&plan.platoon))
                    .push_bind(plan.shift_date)
                    .push_bind(plan.starts_at)
                    .push_bind(plan.ends_at)
                    .push_bind(t.id)
                    .push_bind(id)
                    .push_bind(plan.platoon.clone())
                    .push_bind(t.apparatus.as_ref().map(|a| a.id))
                    .push_bind(t.location.as_ref().map(|l| l.id))
                    .push_bind(positions.clone())
                    .push_bind(t.min_staffing)
                    .push_bind(t.open_to_all_members)
                    .push_bind(t.staffing_warning_hours)
                    .push_bind(ShiftStatus::Scheduled)
                    .push_bind(ctx.user_id)
                    .push_bind(now)
                    .push_bind(now);
            });
            b.build().execute(&mut **tx).await?;
        }
        let seats: Vec<(Uuid, u8, Uuid)> = rows
            .iter()
            .flat_map(|(sid, _, seated)| seated.iter().map(move |(i, u)| (*sid, *i, *u)))
            .collect();
        seated_count = seats.len() as u32;
        for chunk in seats.chunks(300) {
            let mut b = QueryBuilder::new(
                "INSERT INTO shift_assignments (id, organization_id, shift_id, user_id, seat,
                     position, status, assigned_by, created_at, updated_at) ",
            );
            b.push_values(chunk, |mut row, (sid, seat, user)| {
                row.push_bind(db::new_id())
                    .push_bind(ctx.org_id)
                    .push_bind(*sid)
                    .push_bind(*user)
                    .push_bind(*seat)
                    .push_bind(t.positions[usize::from(*seat)].name.clone())
                    .push_bind(AssignmentStatus::Assigned)
                    .push_bind(ctx.user_id)
                    .push_bind(now)
                    .push_bind(now);
            });
            b.build().execute(&mut **tx).await?;
        }
        audit::record(
            tx,
            &ctx.actor(),
            Entry::new("scheduling.generated", "shift_pattern", id).changes(serde_json::json!({
                "pattern": p.name, "from": g.from, "to": g.to, "shifts": created,
                "assignments": seated_count,
            })),
        )
        .await?;
    }
    Ok(Generated {
        shifts: planned,
        created,
        assignments: seated_count,
        preview: g.preview,
    })
}

// ---------------------------------------------------------------------------------------------
// Shifts

/// A seat on a shift and who holds it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SeatView {
    pub index: u8,
    pub name: String,
    pub required: bool,
    /// The course whose current record the seat needs.
    pub course: Option<Named>,
    pub holder: Option<Holder>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Holder {
    pub assignment_id: Uuid,
    pub member: Named,
    #[schema(schema_with = AssignmentStatus::schema_object)]
    pub status: AssignmentStatus,
}

/// A shift, as the schedule shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Shift {
    pub id: Uuid,
    pub title: String,
    pub shift_date: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub platoon: Option<String>,
    pub apparatus: Option<Named>,
    pub location: Option<Named>,
    pub shift_officer: Option<Named>,
    pub notes: Option<String>,
    #[schema(schema_with = ShiftStatus::schema_object)]
    pub status: ShiftStatus,
    pub cancellation_reason: Option<String>,
    pub open_to_all_members: bool,
    pub seats: Vec<SeatView>,
    pub staffing: Staffing,
    /// The caller's assignment on this shift, if any.
    pub my_assignment: Option<Holder>,
    /// When it was closed out, and by whom; calls answered.
    pub finalized_at: Option<DateTime<Utc>>,
    pub finalized_by: Option<Named>,
    pub call_count: Option<u16>,
}

#[derive(sqlx::FromRow)]
struct ShiftRow {
    id: Uuid,
    title: String,
    shift_date: NaiveDate,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    platoon: Option<String>,
    apparatus_id: Option<Uuid>,
    apparatus_name: Option<String>,
    location_id: Option<Uuid>,
    location_name: Option<String>,
    shift_officer_id: Option<Uuid>,
    officer_name: Option<String>,
    notes: Option<String>,
    status: ShiftStatus,
    cancellation_reason: Option<String>,
    open_to_all_members: bool,
    positions: String,
    min_staffing: u8,
    finalized_at: Option<DateTime<Utc>>,
    finalized_by: Option<Uuid>,
    finalized_by_name: Option<String>,
    call_count: Option<u16>,
}

#[derive(sqlx::FromRow)]
struct HolderRow {
    shift_id: Uuid,
    assignment_id: Uuid,
    seat: u8,
    user_id: Uuid,
    name: String,
    status: AssignmentStatus,
}

const SHIFT_SELECT: &str = "SELECT s.id, s.title, s.shift_date, s.starts_at, s.ends_at,
        s.platoon, s.apparatus_id, CONCAT_WS(' ', a.unit_number, a.name) AS apparatus_name,
        s.location_id, l.name AS location_name, s.shift_officer_id,
        CONCAT(o.first_name, ' ', o.last_name) AS officer_name, s.notes, s.status,
        s.cancellation_reason, s.open_to_all_members, s.positions, s.min_staffing,
        s.finalized_at, s.finalized_by, CONCAT(fb.first_name, ' ', fb.last_name) AS finalized_by_name,
        s.call_count
   FROM shifts s
   LEFT JOIN users fb ON fb.organization_id = s.organization_id AND fb.id = s.finalized_by
   LEFT JOIN basic_apparatus a ON a.organization_id = s.organization_id AND a.id = s.apparatus_id
   LEFT JOIN locations l ON l.organization_id = s.organization_id AND l.id = s.location_id
   LEFT JOIN users o ON o.organization_id = s.organization_id AND o.id = s.shift_officer_id";

/// The live holders of the shifts' seats, in one statement.
async fn holders(ctx: &Ctx, conn: &mut Conn, shifts: &[Uuid]) -> AppResult<Vec<HolderRow>> {
    if shifts.is_empty() {
        return Ok(Vec::new());
    }
    let mut b = QueryBuilder::new(
        "SELECT sa.shift_id, sa.id AS assignment_id, sa.seat, sa.user_id,
                CONCAT(u.first_name, ' ', u.last_name) AS name, sa.status
           FROM shift_assignments sa
           JOIN users u ON u.organization_id = sa.organization_id AND u.id = sa.user_id
          WHERE sa.organization_id = ",
    );
    b.push_bind(ctx.org_id);
    b.push(" AND sa.status IN ('assigned', 'pending', 'confirmed') AND sa.shift_id IN (");
    let mut list = b.separated(", ");
    for id in shifts {
        list.push_bind(*id);
    }
    b.push(") ORDER BY sa.seat");
    Ok(b.build_query_as().fetch_all(&mut *conn).await?)
}

async fn course_names(ctx: &Ctx, conn: &mut Conn, ids: &[Uuid]) -> AppResult<Vec<Named>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut b = QueryBuilder::new("SELECT id, name FROM training_courses WHERE organization_id = ");
    b.push_bind(ctx.org_id);
    b.push(" AND id IN (");
    let mut list = b.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    b.push(")");
    let rows: Vec<(Uuid, String)> = b.build_query_as().fetch_all(&mut *conn).await?;
    Ok(rows.into_iter().map(|(id, name)| Named { id, name }).collect())
}

fn into_shift(ctx: &Ctx, r: ShiftRow, held: &[&HolderRow], courses: &[Named]) -> Shift {
    let seats = seats_from(&r.positions);
    let holder = |h: &HolderRow| Holder {
        assignment_id: h.assignment_id,
        member: Named {
            id: h.user_id,
            name: h.name.clone(),
        },
        status: h.status,
    };
    let staffing = rules::staffing(
        &seats,
        &held.iter().map(|h| h.seat).collect::<Vec<_>>(),
        u32::from(r.min_staffing),
    );
    Shift {
        id: r.id,
        title: r.title,
        shift_date: r.shift_date,
        starts_at: r.starts_at,
        ends_at: r.ends_at,
        platoon: r.platoon,
        apparatus: Named::of(r.apparatus_id, r.apparatus_name),
        location: Named::of(r.location_id, r.location_name),
        shift_officer: Named::of(r.shift_officer_id, r.officer_name),
        notes: r.notes,
        status: r.status,
        cancellation_reason: r.cancellation_reason,
        open_to_all_members: r.open_to_all_members,
        my_assignment: held.iter().find(|h| h.user_id == ctx.user_id).map(|h| holder(h)),
        seats: seats
            .into_iter()
            .enumerate()
            .map(|(i, s)| SeatView {
                index: i as u8,
                course: s
                    .course_id
                    .and_then(|c| courses.iter().find(|n| n.id == c).cloned()),
                name: s.name,
                required: s.required,
                holder: held.iter().find(|h| usize::from(h.seat) == i).map(|h| holder(h)),
            })
            .collect(),
        staffing,
        finalized_at: r.finalized_at,
        finalized_by: Named::of(r.finalized_by, r.finalized_by_name),
        call_count: r.call_count,
    }
}

async fn assemble(ctx: &Ctx, conn: &mut Conn, rows: Vec<ShiftRow>) -> AppResult<Vec<Shift>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let held = holders(ctx, conn, &ids).await?;
    let mut course_ids: Vec<Uuid> = rows
        .iter()
        .flat_map(|r| seats_from(&r.positions))
        .filter_map(|s| s.course_id)
        .collect();
    course_ids.sort_unstable();
    course_ids.dedup();
    let courses = course_names(ctx, conn, &course_ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let mine: Vec<&HolderRow> = held.iter().filter(|h| h.shift_id == r.id).collect();
            into_shift(ctx, r, &mine, &courses)
        })
        .collect())
}

pub async fn shift(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Shift> {
    ctx.require(SCHEDULING_VIEW)?;
    let row: ShiftRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SHIFT_SELECT} WHERE s.organization_id = ? AND s.id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(assemble(ctx, conn, vec![row]).await?.remove(0))
}

/// What the schedule is asked for.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShiftQuery {
    /// Shifts ending on or after this day (the department's); default today.
    pub from: Option<NaiveDate>,
    /// Shifts starting on or before this day.
    pub to: Option<NaiveDate>,
    /// Only shifts below their minimum or missing a required seat.
    pub open: Option<bool>,
    /// Only the caller's shifts.
    pub mine: Option<bool>,
    /// Cancelled shifts too.
    pub include_cancelled: Option<bool>,
    pub apparatus_id: Option<Uuid>,
    pub page: Option<u32>,
    /// At most 200.
    pub per_page: Option<u32>,
}

/// Shifts in time order. `open` filters after staffing is worked out, on at most 500 shifts
/// of the range (a month of three vehicles is 93).
pub async fn shifts(ctx: &Ctx, conn: &mut Conn, q: ShiftQuery) -> AppResult<Page<Shift>> {
    ctx.require(SCHEDULING_VIEW)?;
    let (page, per_page) = crate::http::PageQuery::resolve(q.page, q.per_page)?;
    let tz = crate::time::zone(&ctx.timezone);
    let from = q.from.unwrap_or_else(|| crate::time::today(&ctx.timezone));
    let mut c = Checks::default();
    rules::check_year("from", from, &mut c);
    if let Some(to) = q.to {
        rules::check_year("to", to, &mut c);
        if to < from {
            c.push("to", "must be on or after from");
        }
    }
    c.finish()?;
    let filter = |b: &mut QueryBuilder<sqlx::MySql>| {
        b.push(" WHERE s.organization_id = ");
        b.push_bind(ctx.org_id);
        b.push(" AND s.ends_at > ");
        b.push_bind(rules::span(tz, from, NaiveTime::MIN, 30).0);
        if let Some(to) = q.to {
            b.push(" AND s.starts_at < ");
            b.push_bind(rules::span(tz, to + Duration::days(1), NaiveTime::MIN, 30).0);
        }
        if !q.include_cancelled.unwrap_or(false) {
            b.push(" AND s.status = 'scheduled'");
        }
        if let Some(a) = q.apparatus_id {
            b.push(" AND s.apparatus_id = ");
            b.push_bind(a);
        }
        if q.mine.unwrap_or(false) {
            b.push(
                " AND EXISTS (SELECT 1 FROM shift_assignments m WHERE m.shift_id = s.id
                   AND m.status IN ('assigned', 'pending', 'confirmed') AND m.user_id = ",
            );
            b.push_bind(ctx.user_id);
            b.push(")");
        }
    };
    if q.open.unwrap_or(false) {
        let mut b = QueryBuilder::new(SHIFT_SELECT);
        filter(&mut b);
        b.push(" ORDER BY s.starts_at, s.title LIMIT 500");
        let rows: Vec<ShiftRow> = b.build_query_as().fetch_all(&mut *conn).await?;
        let open: Vec<Shift> = assemble(ctx, conn, rows)
            .await?
            .into_iter()
            .filter(|s| s.staffing.open && s.finalized_at.is_none())
            .collect();
        let total = open.len() as u64;
        let skip = usize::try_from(u64::from(page - 1) * u64::from(per_page)).unwrap_or(usize::MAX);
        return Ok(Page {
            items: open.into_iter().skip(skip).take(per_page as usize).collect(),
            page,
            per_page,
            total,
        });
    }
    let mut count = QueryBuilder::new("SELECT COUNT(*) FROM shifts s");
    filter(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut b = QueryBuilder::new(SHIFT_SELECT);
    filter(&mut b);
    b.push(" ORDER BY s.starts_at, s.title LIMIT ");
    b.push_bind(per_page);
    b.push(" OFFSET ");
    b.push_bind(u64::from(page - 1) * u64::from(per_page));
    let rows: Vec<ShiftRow> = b.build_query_as().fetch_all(&mut *conn).await?;
    Ok(Page {
        items: assemble(ctx, conn, rows).await?,
        page,
        per_page,
        total: total.max(0) as u64,
    })
}

/// A shift made by hand: from a template (its shape), or with its own times and seats.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftInput {
    pub template_id: Option<Uuid>,
    /// Default: the template's name.
    #[schema(max_length = 100)]
    pub title: Option<String>,
    pub shift_date: NaiveDate,
    /// "HH:MM"; default the template's.
    pub start_time: Option<String>,
    pub duration_minutes: Option<u16>,
    pub apparatus_id: Option<Uuid>,
    pub location_id: Option<Uuid>,
    pub positions: Option<Vec<Seat>>,
    #[schema(maximum = 20)]
    pub min_staffing: Option<u8>,
    pub open_to_all_members: Option<bool>,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

pub async fn create_shift(ctx: &Ctx, tx: &mut Tx<'_>, s: ShiftInput) -> AppResult<Shift> {
    ctx.require(SCHEDULING_MANAGE)?;
    let base = match s.template_id {
        Some(t) => match template(ctx, tx, t).await {
            Ok(t) => Some(t),
            Err(AppError::NotFound) => {
                return Err(AppError::field(
                    "template_id",
                    "is not a shift template of this department",
                ));
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let t = TemplateInput {
        name: s
            .title
            .clone()
            .or_else(|| base.as_ref().map(|b| b.name.clone()))
            .unwrap_or_default(),
        start_time: s
            .start_time
            .clone()
            .or_else(|| base.as_ref().map(|b| b.start_time.clone()))
            .unwrap_or_default(),
        duration_minutes: s
            .duration_minutes
            .or(base.as_ref().map(|b| b.duration_minutes))
            .unwrap_or(0),
        apparatus_id: s.apparatus_id.or(base.as_ref().and_then(|b| b.apparatus.as_ref().map(|a| a.id))),
        location_id: s.location_id.or(base.as_ref().and_then(|b| b.location.as_ref().map(|l| l.id))),
        positions: s.positions.clone().or(base.as_ref().map(|b| b.positions.clone())),
        min_staffing: s.min_staffing.or(base.as_ref().map(|b| b.min_staffing)),
        open_to_all_members: s
            .open_to_all_members
            .or(base.as_ref().map(|b| b.open_to_all_members))
            .unwrap_or(true),
        staffing_warning_hours: base.as_ref().map(|b| b.staffing_warning_hours),
        is_active: true,
    };
    let mut v = match check_template(ctx, tx, t).await {
        Err(AppError::Validation(errs)) => {
            // The shift's own words for the template's fields.
            return Err(AppError::Validation(
                errs.into_iter()
                    .map(|mut e| {
                        if e.field == "name" {
                            e.field = "title".into();
                        }
                        e
                    })
                    .collect(),
            ));
        }
        other => other?,
    };
    let notes = input::optional_paragraphs("notes", s.notes.clone(), 2000)?;
    let tz = crate::time::zone(&ctx.timezone);
    let today = crate::time::today(&ctx.timezone);
    if s.shift_date < today - Duration::days(31) {
        return Err(AppError::field(
            "shift_date",
            "must be at most a month in the past",
        ));
    }
    if !(2000..=2100).contains(&chrono::Datelike::year(&s.shift_date)) {
        return Err(AppError::field("shift_date", "must be a year between 2000 and 2100"));
    }
    let (starts_at, ends_at) = rules::span(tz, s.shift_date, v.start, v.minutes);
    v.name = v.name.trim().to_string();
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO shifts (id, organization_id, title, shift_date, starts_at, ends_at,
                template_id, apparatus_id, location_id, positions, min_staffing,
                open_to_all_members, staffing_warning_hours, notes, status, created_by,
                created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&v.name)
    .bind(s.shift_date)
    .bind(starts_at)
    .bind(ends_at)
    .bind(s.template_id)
    .bind(v.apparatus)
    .bind(v.location)
    .bind(seats_json(&v.seats)?)
    .bind(v.min_staffing)
    .bind(v.open)
    .bind(v.warning_hours)
    .bind(&notes)
    .bind(ShiftStatus::Scheduled)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.shift_created", "shift", id).changes(serde_json::json!({
            "title": v.name, "shift_date": s.shift_date, "starts_at": starts_at,
            "ends_at": ends_at, "template_id": s.template_id, "positions": v.seats,
            "min_staffing": v.min_staffing,
        })),
    )
    .await?;
    shift(ctx, tx, id).await
}

/// The department's active members by name: whom an officer can put on a shift or hand a seat
/// to.
pub async fn members(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Named>> {
    ctx.require(SCHEDULING_VIEW)?;
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, CONCAT(first_name, ' ', last_name) FROM users
          WHERE organization_id = ? AND status IN ('active', 'probationary')
          ORDER BY last_name, first_name LIMIT 1000",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(id, name)| Named { id, name }).collect())
}

/// The department's vehicles, for a template's form.
pub async fn vehicles(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Named>> {
    ctx.require(SCHEDULING_VIEW)?;
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, CONCAT_WS(' ', unit_number, name) FROM basic_apparatus
          WHERE organization_id = ? AND is_active ORDER BY unit_number LIMIT 200",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(id, name)| Named { id, name }).collect())
}

/// The member's shifts for their calendar feed (events' `/calendar/<secret>.ics`): seats they
/// hold or held (closed out, present) from 90 days back, at most 1,000, while they hold
/// `scheduling.view`.
pub async fn my_feed(
    conn: &mut Conn,
    org: Uuid,
    user: Uuid,
) -> AppResult<Vec<crate::module::FeedItem>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        title: String,
        position: String,
        vehicle: Option<String>,
        location: Option<String>,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
        cancelled: bool,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.title, sa.position, CONCAT_WS(' ', a.unit_number, a.name) AS vehicle,
                l.name AS location, s.starts_at, s.ends_at,
                GREATEST(s.updated_at, sa.updated_at) AS updated_at,
                s.status = 'cancelled' AS cancelled
           FROM shift_assignments sa
           JOIN shifts s ON s.organization_id = sa.organization_id AND s.id = sa.shift_id
           LEFT JOIN basic_apparatus a ON a.organization_id = s.organization_id
                                      AND a.id = s.apparatus_id
           LEFT JOIN locations l ON l.organization_id = s.organization_id AND l.id = s.location_id
          WHERE sa.organization_id = ? AND sa.user_id = ? AND s.ends_at >= ?
            AND (sa.status IN ('assigned', 'pending', 'confirmed') OR sa.attended)
            AND EXISTS (SELECT 1 FROM user_roles ur
                          JOIN role_permissions rp ON rp.role_id = ur.role_id
                         WHERE ur.user_id = sa.user_id AND rp.permission = ?)
          ORDER BY s.starts_at LIMIT 1000",
    )
    .bind(org)
    .bind(user)
    .bind(db::now() - Duration::days(90))
    .bind(SCHEDULING_VIEW)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| crate::module::FeedItem {
            uid: format!("shift-{}", r.id),
            summary: format!("{} ({})", r.title, r.position),
            description: r.vehicle.map(|v| format!("Vehicle: {v}")),
            location: r.location,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            updated_at: r.updated_at,
            cancelled: r.cancelled,
            path: format!("/scheduling/shifts/{}", r.id),
        })
        .collect())
}

/// The department's training courses, for a seat's qualification.
pub async fn courses(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Named>> {
    ctx.require(SCHEDULING_VIEW)?;
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, name FROM training_courses WHERE organization_id = ? ORDER BY name LIMIT 500",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(id, name)| Named { id, name }).collect())
}
