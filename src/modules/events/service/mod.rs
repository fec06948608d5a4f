//! Events' SQL: events and series here; answers, check-in and finalizing in `attendance`; the
//! calendar feed in `feed`; the reminder job's reads in `reminders`. Every statement is scoped
//! by the caller's organization; every change checks `events.manage` (or is the member's own
//! answer or check-in) and is audited in its transaction.

pub mod attachments;
pub mod attendance;
pub mod feed;
pub mod templates;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use super::rules::{
    self, CheckInWindow, EventInput, EventType, ReminderTarget, Rsvp, ValidEvent,
};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{Page, like_pattern};
use crate::notify::{self, Notice, Notifier};

pub const EVENTS_VIEW: &str = "events.view";
pub const EVENTS_MANAGE: &str = "events.manage";

pub use crate::http::Named;

/// One occurrence, as a member sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: Uuid,
    pub title: String,
    #[schema(schema_with = EventType::schema_object)]
    pub event_type: EventType,
    pub description: Option<String>,
    pub location: Option<Named>,
    pub location_text: Option<String>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub requires_rsvp: bool,
    pub rsvp_deadline: Option<DateTime<Utc>>,
    pub max_attendees: Option<u32>,
    pub is_mandatory: bool,
    pub reminder_hours: Option<u16>,
    #[schema(schema_with = ReminderTarget::schema_object)]
    pub reminder_target: ReminderTarget,
    #[schema(schema_with = CheckInWindow::schema_object)]
    pub check_in_window: CheckInWindow,
    /// The course a training event credits.
    pub course: Option<Named>,
    /// Shared by the occurrences of a series.
    pub series_id: Option<Uuid>,
    /// The series' rule in words.
    pub recurrence: Option<String>,
    pub is_draft: bool,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancellation_reason: Option<String>,
    pub finalized_at: Option<DateTime<Utc>>,
    pub going: i64,
    pub maybe: i64,
    pub not_going: i64,
    pub waitlisted: i64,
    pub checked_in: i64,
    /// The caller's answer.
    #[schema(schema_with = Rsvp::schema_object_or_null)]
    pub my_rsvp: Option<Rsvp>,
    pub my_checked_in_at: Option<DateTime<Utc>>,
    /// The secret of the check-in QR code: officers (`events.manage`) only.
    pub check_in_code: Option<String>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    title: String,
    event_type: EventType,
    description: Option<String>,
    location_id: Option<Uuid>,
    location_name: Option<String>,
    location_text: Option<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    requires_rsvp: bool,
    rsvp_deadline: Option<DateTime<Utc>>,
    max_attendees: Option<u32>,
    is_mandatory: bool,
    reminder_hours: Option<u16>,
    reminder_target: ReminderTarget,
    check_in_window: CheckInWindow,
    course_id: Option<Uuid>,
    course_name: Option<String>,
    series_id: Option<Uuid>,
    recurrence: Option<String>,
    is_draft: bool,
    cancelled_at: Option<DateTime<Utc>>,
    cancellation_reason: Option<String>,
    finalized_at: Option<DateTime<Utc>>,
    check_in_code: String,
    going: i64,
    maybe: i64,
    not_going: i64,
    waitlisted: i64,
    checked_in: i64,
    my_rsvp: Option<Rsvp>,
    my_checked_in_at: Option<DateTime<Utc>>,
}

impl EventRow {
    fn into_event(self, manager: bool) -> Event {
        Event {
            id: self.id,
            title: self.title,
            event_type: self.event_type,
            description: self.description,
            location: self
                .location_id
                .zip(self.location_name)
                .map(|(id, name)| Named { id, name }),
            location_text: self.location_text,
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            requires_rsvp: self.requires_rsvp,
            rsvp_deadline: self.rsvp_deadline,
            max_attendees: self.max_attendees,
            is_mandatory: self.is_mandatory,
            reminder_hours: self.reminder_hours,
            reminder_target: self.reminder_target,
            check_in_window: self.check_in_window,
            course: self
                .course_id
                .zip(self.course_name)
                .map(|(id, name)| Named { id, name }),
            series_id: self.series_id,
            recurrence: self.recurrence,
            is_draft: self.is_draft,
            cancelled_at: self.cancelled_at,
            cancellation_reason: self.cancellation_reason,
            finalized_at: self.finalized_at,
            going: self.going,
            maybe: self.maybe,
            not_going: self.not_going,
            waitlisted: self.waitlisted,
            checked_in: self.checked_in,
            my_rsvp: self.my_rsvp,
            my_checked_in_at: self.my_checked_in_at,
            check_in_code: manager.then_some(self.check_in_code),
        }
    }
}

/// An event's columns with its tallies and the viewer's answer; ends with the viewer's id to
/// bind (`me.user_id = `).
const EVENT_SELECT: &str = "SELECT e.id, e.title, e.event_type, e.description, e.location_id,
        l.name AS location_name, e.location_text, e.starts_at, e.ends_at, e.requires_rsvp,
        e.rsvp_deadline, e.max_attendees, e.is_mandatory, e.reminder_hours, e.reminder_target,
        e.check_in_window, e.course_id, c.name AS course_name, e.series_id, e.recurrence,
        e.is_draft, e.cancelled_at, e.cancellation_reason, e.finalized_at, e.check_in_code,
        (SELECT COUNT(*) FROM event_attendees a
          WHERE a.event_id = e.id AND a.rsvp_status = 'going') AS going,
        (SELECT COUNT(*) FROM event_attendees a
          WHERE a.event_id = e.id AND a.rsvp_status = 'maybe') AS maybe,
        (SELECT COUNT(*) FROM event_attendees a
          WHERE a.event_id = e.id AND a.rsvp_status = 'not_going') AS not_going,
        (SELECT COUNT(*) FROM event_attendees a
          WHERE a.event_id = e.id AND a.rsvp_status = 'waitlisted') AS waitlisted,
        (SELECT COUNT(*) FROM event_attendees a
          WHERE a.event_id = e.id AND a.checked_in_at IS NOT NULL) AS checked_in,
        me.rsvp_status AS my_rsvp, me.checked_in_at AS my_checked_in_at
   FROM events e
   LEFT JOIN locations l ON l.organization_id = e.organization_id AND l.id = e.location_id
   LEFT JOIN training_courses c ON c.organization_id = e.organization_id AND c.id = e.course_id
   LEFT JOIN event_attendees me ON me.event_id = e.id AND me.user_id = ";

/// One event, as `ctx` may see it (a draft is not found for members).
async fn event_row(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Event> {
    let row: EventRow = sqlx::query_as(AssertSqlSafe(format!(
        "{EVENT_SELECT} ? WHERE e.organization_id = ? AND e.id = ?"
    )))
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let manager = ctx.has(EVENTS_MANAGE);
    if row.is_draft && !manager {
        return Err(AppError::NotFound);
    }
    Ok(row.into_event(manager))
}

pub async fn event(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Event> {
    ctx.require(EVENTS_VIEW)?;
    event_row(ctx, conn, id).await
}

/// What the event list is asked for.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Events ending on or after this day (the department's); default today.
    pub from: Option<NaiveDate>,
    /// Events starting on or before this day.
    pub to: Option<NaiveDate>,
    /// Words in the title or description.
    pub q: Option<String>,
    #[param(schema_with = EventType::schema_object)]
    pub event_type: Option<String>,
    /// Cancelled events too.
    pub include_cancelled: Option<bool>,
    pub page: Option<u32>,
    /// At most 200.
    pub per_page: Option<u32>,
}

/// Events in time order, searched and filtered; drafts only for officers.
pub async fn events(ctx: &Ctx, conn: &mut Conn, q: EventQuery) -> AppResult<Page<Event>> {
    ctx.require(EVENTS_VIEW)?;
    let (page, per_page) = crate::http::PageQuery::resolve(q.page, q.per_page)?;
    let kind = EventType::parse_filter("event_type", q.event_type.as_deref())?;
    let tz = crate::time::zone(&ctx.timezone);
    let from = q.from.unwrap_or_else(|| crate::time::today(&ctx.timezone));
    if let Some(to) = q.to
        && to < from
    {
        return Err(AppError::field("to", "must be on or after from"));
    }
    let term = q
        .q
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| crate::input::required_text("q", t, 100))
        .transpose()?;
    let manager = ctx.has(EVENTS_MANAGE);
    let filter = |b: &mut QueryBuilder<sqlx::MySql>| {
        b.push(" WHERE e.organization_id = ");
        b.push_bind(ctx.org_id);
        b.push(" AND e.ends_at >= ");
        b.push_bind(rules::day_start(tz, from));
        if let Some(to) = q.to {
            b.push(" AND e.starts_at < ");
            b.push_bind(rules::day_start(tz, to + Duration::days(1)));
        }
        if !manager {
            b.push(" AND NOT e.is_draft");
        }
        if !q.include_cancelled.unwrap_or(false) {
            b.push(" AND e.cancelled_at IS NULL");
        }
        if let Some(k) = kind {
            b.push(" AND e.event_type = ");
            b.push_bind(k);
        }
        if let Some(t) = &term {
            let p = like_pattern(t);
            b.push(" AND (e.title LIKE ");
            b.push_bind(p.clone());
            b.push(" OR e.description LIKE ");
            b.push_bind(p);
            b.push(")");
        }
    };
    let mut count = QueryBuilder::new("SELECT COUNT(*) FROM events e");
    filter(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut b = QueryBuilder::new(EVENT_SELECT);
    b.push_bind(ctx.user_id);
    filter(&mut b);
    b.push(" ORDER BY e.starts_at, e.title LIMIT ");
    b.push_bind(per_page);
    b.push(" OFFSET ");
    b.push_bind(u64::from(page - 1) * u64::from(per_page));
    let rows: Vec<EventRow> = b.build_query_as().fetch_all(&mut *conn).await?;
    Ok(Page {
        items: rows.into_iter().map(|r| r.into_event(manager)).collect(),
        page,
        per_page,
        total: total.max(0) as u64,
    })
}

/// What an officer is told after saving: one line per thing worth a second look.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Saved {
    /// The first (or only) occurrence saved.
    pub event: Event,
    /// How many occurrences were made or changed.
    pub occurrences: u32,
    /// E.g. the room is booked by another event at that time.
    pub warnings: Vec<String>,
}

fn new_code() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks the references an event makes: location, course, template.
async fn check_refs(ctx: &Ctx, tx: &mut Tx<'_>, v: &ValidEvent) -> AppResult<()> {
    let mut c = crate::input::Checks::default();
    if let Some(l) = v.location_id
        && !db::exists(tx, "locations", ctx.org_id, l).await?
    {
        c.push("location_id", "is not a location of this department");
    }
    if let Some(course) = v.course_id
        && !db::exists(tx, "training_courses", ctx.org_id, course).await?
    {
        c.push("course_id", "is not a course of this department");
    }
    if let Some(t) = v.template_id
        && !db::exists(tx, "event_templates", ctx.org_id, t).await?
    {
        c.push("template_id", "is not an event template of this department");
    }
    c.finish()
}

/// Other events at the same location overlapping any of `spans` (not cancelled), in words.
async fn double_bookings(
    ctx: &Ctx,
    conn: &mut Conn,
    location: Option<Uuid>,
    spans: &[(DateTime<Utc>, DateTime<Utc>)],
    except_series: Option<Uuid>,
    except: &[Uuid],
) -> AppResult<Vec<String>> {
    let (Some(location), Some(first), Some(last)) = (location, spans.first(), spans.last()) else {
        return Ok(Vec::new());
    };
    #[derive(sqlx::FromRow)]
    struct Busy {
        id: Uuid,
        title: String,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        series_id: Option<Uuid>,
        location_name: String,
    }
    let busy: Vec<Busy> = sqlx::query_as(
        "SELECT e.id, e.title, e.starts_at, e.ends_at, e.series_id, l.name AS location_name
           FROM events e JOIN locations l ON l.organization_id = e.organization_id
                                         AND l.id = e.location_id
          WHERE e.organization_id = ? AND e.location_id = ? AND e.cancelled_at IS NULL
            AND e.starts_at < ? AND e.ends_at > ?
          ORDER BY e.starts_at LIMIT 1000",
    )
    .bind(ctx.org_id)
    .bind(location)
    .bind(last.1)
    .bind(first.0)
    .fetch_all(&mut *conn)
    .await?;
    let local = crate::time::Local::new(&ctx.timezone, ctx.locale);
    let mut out = Vec::new();
    for b in busy {
        if except.contains(&b.id) || (except_series.is_some() && b.series_id == except_series) {
            continue;
        }
        if spans.iter().any(|(s, e)| b.starts_at < *e && b.ends_at > *s) {
            out.push(format!(
                "{} is also booked for \u{201c}{}\u{201d} at {}",
                b.location_name,
                b.title,
                local.moment(&b.starts_at)
            ));
        }
        if out.len() >= 5 {
            break;
        }
    }
    Ok(out)
}

/// Other bookings of the event's location that overlap it (officers, after a save): the
/// warnings in words, worked out again rather than carried in a link.
pub async fn clashes(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Vec<String>> {
    ctx.require(EVENTS_MANAGE)?;
    let e = event_row(ctx, conn, id).await?;
    let location = e.location.as_ref().map(|l| l.id);
    double_bookings(ctx, conn, location, &[(e.starts_at, e.ends_at)], None, &[id]).await
}

/// Creates an event, or every occurrence of a series (at most 365), each its own row.
pub async fn create(ctx: &Ctx, tx: &mut Tx<'_>, input: EventInput) -> AppResult<Saved> {
    ctx.require(EVENTS_MANAGE)?;
    let tz = crate::time::zone(&ctx.timezone);
    let v = input.validate(tz)?;
    check_refs(ctx, tx, &v).await?;
    let spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = v
        .starts
        .iter()
        .map(|s| rules::moments(tz, *s, v.duration))
        .collect();
    let warnings = double_bookings(ctx, tx, v.location_id, &spans, None, &[]).await?;
    let now = db::now();
    let ids: Vec<Uuid> = spans.iter().map(|_| db::new_id()).collect();
    let series = (ids.len() > 1).then(|| ids[0]);
    for chunk in ids.iter().zip(&spans).collect::<Vec<_>>().chunks(100) {
        let mut b = QueryBuilder::new(
            "INSERT INTO events (id, organization_id, title, event_type, description,
                 location_id, location_text, starts_at, ends_at, requires_rsvp, rsvp_deadline,
                 max_attendees, is_mandatory, reminder_hours, reminder_target, check_in_window,
                 check_in_code, course_id, series_id, recurrence, template_id, is_draft,
                 created_by, created_at, updated_at) ",
        );
        b.push_values(chunk, |mut row, (id, (start, end))| {
            // Only a single event keeps an answer deadline; a series' would fall before most.
            let deadline = if series.is_none() { v.rsvp_deadline } else { None };
            row.push_bind(**id)
                .push_bind(ctx.org_id)
                .push_bind(&v.title)
                .push_bind(v.event_type)
                .push_bind(&v.description)
                .push_bind(v.location_id)
                .push_bind(&v.location_text)
                .push_bind(*start)
                .push_bind(*end)
                .push_bind(v.requires_rsvp)
                .push_bind(deadline)
                .push_bind(v.max_attendees)
                .push_bind(v.is_mandatory)
                .push_bind(v.reminder_hours)
                .push_bind(v.reminder_target)
                .push_bind(v.check_in_window)
                .push_bind(new_code())
                .push_bind(v.course_id)
                .push_bind(series)
                .push_bind(&v.recurrence)
                .push_bind(v.template_id)
                .push_bind(v.is_draft)
                .push_bind(ctx.user_id)
                .push_bind(now)
                .push_bind(now);
        });
        b.build().execute(&mut **tx).await?;
    }
    let first = event_row(ctx, tx, ids[0]).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.event_created", "event", ids[0]).changes(serde_json::json!({
            "title": first.title,
            "event_type": first.event_type,
            "starts_at": first.starts_at,
            "ends_at": first.ends_at,
            "occurrences": ids.len(),
            "recurrence": first.recurrence,
            "location": first.location.as_ref().map(|l| &l.name),
            "course": first.course.as_ref().map(|c| &c.name),
            "is_draft": first.is_draft,
        })),
    )
    .await?;
    Ok(Saved {
        event: first,
        occurrences: ids.len() as u32,
        warnings,
    })
}

crate::words! {
    /// Which occurrences of a series a change reaches.
    pub enum Scope {
        /// This occurrence only.
        This = "this",
        /// This one and every later one of its series (none that has ended).
        Future = "future",
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScopeQuery {
    /// `this` (default) or `future`.
    #[param(schema_with = Scope::schema_object)]
    pub scope: Option<String>,
}

impl ScopeQuery {
    pub fn scope(&self) -> AppResult<Scope> {
        Ok(Scope::parse_filter("scope", self.scope.as_deref())?.unwrap_or(Scope::This))
    }
}

#[derive(sqlx::FromRow)]
struct Occurrence {
    id: Uuid,
    starts_at: DateTime<Utc>,
}

/// The occurrences `scope` reaches from `e` (which is first), locked for the change.
async fn reached(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    e: &Event,
    scope: Scope,
) -> AppResult<Vec<Occurrence>> {
    let mut all: Vec<Occurrence> = match (scope, e.series_id) {
        (Scope::Future, Some(series)) => {
            sqlx::query_as(
                "SELECT id, starts_at FROM events
                  WHERE organization_id = ? AND series_id = ? AND starts_at >= ?
                    AND ends_at > ? AND finalized_at IS NULL
                  ORDER BY starts_at FOR UPDATE",
            )
            .bind(ctx.org_id)
            .bind(series)
            .bind(e.starts_at)
            .bind(db::now())
            .fetch_all(&mut **tx)
            .await?
        }
        _ => sqlx::query_as(
            "SELECT id, starts_at FROM events WHERE organization_id = ? AND id = ? FOR UPDATE",
        )
        .bind(ctx.org_id)
        .bind(e.id)
        .fetch_all(&mut **tx)
        .await?,
    };
    if !all.iter().any(|o| o.id == e.id) {
        all.insert(
            0,
            Occurrence {
                id: e.id,
                starts_at: e.starts_at,
            },
        );
    }
    Ok(all)
}

/// Changes an event, or it and the later occurrences of its series: the same fields, each
/// occurrence keeping its own day (moved by as many days as this one moved) at the new time.
pub async fn update(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    scope: Scope,
    input: EventInput,
) -> AppResult<Saved> {
    ctx.require(EVENTS_MANAGE)?;
    let before = event_row(ctx, tx, id).await?;
    if input.recurrence.is_some() {
        return Err(AppError::field(
            "recurrence",
            "cannot be changed on a saved event: cancel the series and create a new one",
        ));
    }
    if before.cancelled_at.is_some() {
        return Err(AppError::Conflict("the event is cancelled".into()));
    }
    if before.finalized_at.is_some() {
        return Err(AppError::Conflict(
            "attendance is finalized: undo the finalize before changing the event".into(),
        ));
    }
    let tz = crate::time::zone(&ctx.timezone);
    let v = input.validate(tz)?;
    check_refs(ctx, tx, &v).await?;
    let old_day = before.starts_at.with_timezone(&tz).date_naive();
    let shift = v.start_local.date() - old_day;
    let targets = reached(ctx, tx, &before, scope).await?;
    let spans: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = targets
        .iter()
        .map(|o| {
            let day = o.starts_at.with_timezone(&tz).date_naive() + shift;
            let (s, e) = rules::moments(tz, day.and_time(v.start_local.time()), v.duration);
            (o.id, s, e)
        })
        .collect();
    let only: Vec<(DateTime<Utc>, DateTime<Utc>)> = spans.iter().map(|s| (s.1, s.2)).collect();
    let ids: Vec<Uuid> = spans.iter().map(|s| s.0).collect();
    let warnings = double_bookings(ctx, tx, v.location_id, &only, None, &ids).await?;
    let now = db::now();
    for (oid, start, end) in &spans {
        let deadline = if *oid == id { v.rsvp_deadline } else { None };
        // The reminder is sent again only for an occurrence whose start moved (assignments
        // run left to right: this compares the old start).
        sqlx::query(
            "UPDATE events SET reminder_sent_at = IF(starts_at = ?, reminder_sent_at, NULL),
                    title = ?, event_type = ?, description = ?, location_id = ?,
                    location_text = ?, starts_at = ?, ends_at = ?, requires_rsvp = ?,
                    rsvp_deadline = ?, max_attendees = ?, is_mandatory = ?, reminder_hours = ?,
                    reminder_target = ?, check_in_window = ?, course_id = ?, is_draft = ?,
                    updated_at = ?
              WHERE organization_id = ? AND id = ?",
        )
        .bind(start)
        .bind(&v.title)
        .bind(v.event_type)
        .bind(&v.description)
        .bind(v.location_id)
        .bind(&v.location_text)
        .bind(start)
        .bind(end)
        .bind(v.requires_rsvp)
        .bind(deadline)
        .bind(v.max_attendees)
        .bind(v.is_mandatory)
        .bind(v.reminder_hours)
        .bind(v.reminder_target)
        .bind(v.check_in_window)
        .bind(v.course_id)
        .bind(v.is_draft)
        .bind(now)
        .bind(ctx.org_id)
        .bind(oid)
        .execute(&mut **tx)
        .await?;
    }
    // A larger capacity lets the waitlist in.
    for oid in &ids {
        attendance::promote(ctx, tx, *oid).await?;
    }
    let after = event_row(ctx, tx, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.event_updated", "event", id).changes(audit::chain::diff(
            &serde_json::to_value(summary(&before)).map_err(anyhow::Error::new)?,
            &serde_json::to_value(summary(&after)).map_err(anyhow::Error::new)?,
        )),
    )
    .await?;
    Ok(Saved {
        event: after,
        occurrences: spans.len() as u32,
        warnings,
    })
}

/// What the audit log keeps of an event.
fn summary(e: &Event) -> serde_json::Value {
    serde_json::json!({
        "title": e.title, "event_type": e.event_type, "starts_at": e.starts_at,
        "ends_at": e.ends_at, "location": e.location.as_ref().map(|l| &l.name),
        "location_text": e.location_text, "max_attendees": e.max_attendees,
        "is_mandatory": e.is_mandatory, "reminder_hours": e.reminder_hours,
        "reminder_target": e.reminder_target, "check_in_window": e.check_in_window,
        "course": e.course.as_ref().map(|c| &c.name), "is_draft": e.is_draft,
        "requires_rsvp": e.requires_rsvp, "rsvp_deadline": e.rsvp_deadline,
    })
}

/// Publishes a draft (and the later drafts of its series with `future`).
pub async fn publish(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, scope: Scope) -> AppResult<Event> {
    ctx.require(EVENTS_MANAGE)?;
    let e = event_row(ctx, tx, id).await?;
    if !e.is_draft {
        return Err(AppError::Conflict("the event is already published".into()));
    }
    let targets = reached(ctx, tx, &e, scope).await?;
    let mut b = QueryBuilder::new("UPDATE events SET is_draft = FALSE, updated_at = ");
    b.push_bind(db::now());
    b.push(" WHERE organization_id = ");
    b.push_bind(ctx.org_id);
    b.push(" AND id IN (");
    let mut sep = b.separated(", ");
    for t in &targets {
        sep.push_bind(t.id);
    }
    b.push(")");
    b.build().execute(&mut **tx).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.event_published", "event", id)
            .changes(serde_json::json!({"title": e.title, "occurrences": targets.len()})),
    )
    .await?;
    event_row(ctx, tx, id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EventCancelInput)]
pub struct CancelInput {
    /// Why (members who answered are told).
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Cancels an event (or it and the rest of its series): kept, marked, and everyone who
/// answered is told.
pub async fn cancel(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
    scope: Scope,
    input: CancelInput,
) -> AppResult<Event> {
    ctx.require(EVENTS_MANAGE)?;
    let reason = crate::input::required_text("reason", &input.reason, 500)?;
    let e = event_row(ctx, tx, id).await?;
    if e.cancelled_at.is_some() {
        return Err(AppError::Conflict("the event is already cancelled".into()));
    }
    if e.finalized_at.is_some() {
        return Err(AppError::Conflict(
            "attendance is finalized: undo the finalize first".into(),
        ));
    }
    let targets = reached(ctx, tx, &e, scope).await?;
    let now = db::now();
    let local = crate::time::Local::new(&ctx.timezone, ctx.locale);
    for t in &targets {
        let changed = sqlx::query(
            "UPDATE events SET cancelled_at = ?, cancellation_reason = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND cancelled_at IS NULL",
        )
        .bind(now)
        .bind(&reason)
        .bind(now)
        .bind(ctx.org_id)
        .bind(t.id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if changed == 0 {
            continue;
        }
        let answered: Vec<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM event_attendees
              WHERE organization_id = ? AND event_id = ? AND rsvp_status IS NOT NULL",
        )
        .bind(ctx.org_id)
        .bind(t.id)
        .fetch_all(&mut **tx)
        .await?;
        if !answered.is_empty() && !e.is_draft {
            notify::notify(
                notifier,
                tx,
                ctx.org_id,
                &answered,
                &Notice {
                    category: "events",
                    subject: format!("Cancelled: {} on {}", e.title, local.moment(&t.starts_at)),
                    body: format!(
                        "{} on {} is cancelled. {}",
                        e.title,
                        local.moment(&t.starts_at),
                        crate::web::sentence(&reason)
                    ),
                    link: Some(format!("/events/{}", t.id)),
                    dedupe_key: Some(format!("event-cancelled:{}", t.id)),
                },
            )
            .await?;
        }
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.event_cancelled", "event", id).changes(serde_json::json!({
            "title": e.title, "starts_at": e.starts_at, "reason": reason,
            "scope": scope, "occurrences": targets.len(),
        })),
    )
    .await?;
    event_row(ctx, tx, id).await
}

/// Every location (stations and rooms) for the event form.
pub async fn locations(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Named>> {
    ctx.require(EVENTS_VIEW)?;
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        name: String,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name FROM locations WHERE organization_id = ? AND active ORDER BY name",
    )
    .bind(ctx.org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Named {
            id: r.id,
            name: r.name,
        })
        .collect())
}

/// The courses a training event may credit, for the event form.
pub async fn courses(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Named>> {
    ctx.require(EVENTS_VIEW)?;
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        name: String,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name FROM training_courses WHERE organization_id = ? AND active
          ORDER BY name",
    )
    .bind(ctx.org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Named {
            id: r.id,
            name: r.name,
        })
        .collect())
}
