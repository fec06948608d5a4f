//! Answers and attendance: a member's RSVP (the event row locked, so the last place goes to
//! one member however many tap at once; past capacity they wait, and are let in, in turn, when
//! a place frees), self check-in by the event's QR code within its window, an officer's
//! check-in, check-out and fixes (who and why kept), and finalizing: a training event's
//! attendees get training records, once; undoing it voids them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{EVENTS_MANAGE, EVENTS_VIEW, Event, event_row};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::modules::events::rules::{self, CheckInWindow, EventType, Rsvp};
use crate::notify::{self, Notice, Notifier};

/// A member's answer and attendance at one event.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Attendee {
    pub user_id: Uuid,
    pub name: String,
    pub rank: Option<String>,
    #[schema(schema_with = Rsvp::schema_object_or_null)]
    pub rsvp_status: Option<Rsvp>,
    pub responded_at: Option<DateTime<Utc>>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub checked_out_at: Option<DateTime<Utc>>,
    /// Who fixed the times, and why.
    pub override_by: Option<Uuid>,
    pub override_reason: Option<String>,
    /// The training record finalizing made.
    pub training_record_id: Option<Uuid>,
}

const ATTENDEE_SELECT: &str = "SELECT a.user_id, CONCAT(u.first_name, ' ', u.last_name) AS name,
        u.`rank`, a.rsvp_status, a.responded_at, a.checked_in_at, a.checked_out_at,
        a.override_by, a.override_reason, a.training_record_id
   FROM event_attendees a JOIN users u ON u.organization_id = a.organization_id AND u.id = a.user_id";

/// The attendance sheet (officers): every active or probationary member, and anyone else who
/// answered or came; going first, then by name.
pub async fn attendees(ctx: &Ctx, conn: &mut Conn, event: Uuid) -> AppResult<Vec<Attendee>> {
    ctx.require(EVENTS_MANAGE)?;
    event_row(ctx, conn, event).await?;
    Ok(sqlx::query_as(
        "SELECT u.id AS user_id, CONCAT(u.first_name, ' ', u.last_name) AS name, u.`rank`,
                a.rsvp_status, a.responded_at, a.checked_in_at, a.checked_out_at,
                a.override_by, a.override_reason, a.training_record_id
           FROM users u
           LEFT JOIN event_attendees a ON a.organization_id = u.organization_id
                                      AND a.event_id = ? AND a.user_id = u.id
          WHERE u.organization_id = ?
            AND (u.status IN ('active', 'probationary') OR a.id IS NOT NULL)
          ORDER BY COALESCE(FIELD(a.rsvp_status, 'going', 'maybe', 'waitlisted', 'not_going'), 5),
                   u.last_name, u.first_name",
    )
    .bind(event)
    .bind(ctx.org_id)
    .fetch_all(conn)
    .await?)
}

async fn attendee(ctx: &Ctx, conn: &mut Conn, event: Uuid, user: Uuid) -> AppResult<Attendee> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ATTENDEE_SELECT} WHERE a.organization_id = ? AND a.event_id = ? AND a.user_id = ?"
    )))
    .bind(ctx.org_id)
    .bind(event)
    .bind(user)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)
}

/// The event's row, locked: every change to its answers or attendance takes it first, so two
/// at once are one after the other.
#[derive(sqlx::FromRow)]
struct Locked {
    title: String,
    event_type: EventType,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    requires_rsvp: bool,
    rsvp_deadline: Option<DateTime<Utc>>,
    max_attendees: Option<u32>,
    check_in_window: CheckInWindow,
    check_in_code: String,
    course_id: Option<Uuid>,
    location_id: Option<Uuid>,
    is_draft: bool,
    cancelled: bool,
    finalized: bool,
}

async fn lock(ctx: &Ctx, tx: &mut Tx<'_>, event: Uuid) -> AppResult<Locked> {
    let row: Locked = sqlx::query_as(
        "SELECT title, event_type, starts_at, ends_at, requires_rsvp, rsvp_deadline,
                max_attendees, check_in_window, check_in_code, course_id, location_id, is_draft,
                cancelled_at IS NOT NULL AS cancelled, finalized_at IS NOT NULL AS finalized
           FROM events WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(event)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.is_draft && !ctx.has(EVENTS_MANAGE) {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RsvpInput {
    /// going, maybe or not_going (a full event puts going on the waitlist).
    #[schema(schema_with = Rsvp::schema_object)]
    pub status: Rsvp,
}

/// The caller's answer. Answering the same again changes nothing (a double tap is one answer).
pub async fn rsvp(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    event: Uuid,
    input: RsvpInput,
) -> AppResult<Event> {
    ctx.require(EVENTS_VIEW)?;
    let e = lock(ctx, tx, event).await?;
    let now = db::now();
    if e.cancelled {
        return Err(AppError::Conflict("the event is cancelled".into()));
    }
    if e.is_draft {
        return Err(AppError::Conflict("the event is not published yet".into()));
    }
    if e.ends_at <= now {
        return Err(AppError::Conflict("the event is over".into()));
    }
    if !e.requires_rsvp {
        return Err(AppError::Conflict("this event takes no answers".into()));
    }
    if e.rsvp_deadline.is_some_and(|d| d < now) {
        return Err(AppError::Conflict("answers closed at the deadline".into()));
    }
    if input.status == Rsvp::Waitlisted {
        return Err(AppError::field(
            "status",
            "must be going, maybe or not_going (the waitlist is for a full event)",
        ));
    }
    let current: Option<Option<Rsvp>> = sqlx::query_scalar(
        "SELECT rsvp_status FROM event_attendees
          WHERE organization_id = ? AND event_id = ? AND user_id = ?",
    )
    .bind(ctx.org_id)
    .bind(event)
    .bind(ctx.user_id)
    .fetch_optional(&mut **tx)
    .await?;
    let current = current.flatten();
    let same = match (current, input.status) {
        (Some(Rsvp::Waitlisted), Rsvp::Going) => true,
        (Some(c), s) => c == s,
        (None, _) => false,
    };
    if same {
        return event_row(ctx, tx, event).await;
    }
    let status = if input.status == Rsvp::Going && full(ctx, tx, event, e.max_attendees).await? {
        Rsvp::Waitlisted
    } else {
        input.status
    };
    sqlx::query(
        "INSERT INTO event_attendees (id, organization_id, event_id, user_id, rsvp_status,
                responded_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE rsvp_status = VALUES(rsvp_status),
                responded_at = VALUES(responded_at), updated_at = VALUES(updated_at)",
    )
    .bind(db::new_id())
    .bind(ctx.org_id)
    .bind(event)
    .bind(ctx.user_id)
    .bind(status)
    .bind(now)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.rsvp", "event", event).changes(serde_json::json!({
            "title": e.title, "from": current, "to": status,
        })),
    )
    .await?;
    if current == Some(Rsvp::Going) {
        let promoted = promote(ctx, tx, event).await?;
        tell_promoted(ctx, tx, notifier, event, &e.title, e.starts_at, &promoted).await?;
    }
    event_row(ctx, tx, event).await
}

/// Whether the event has no place left for one more going.
async fn full(ctx: &Ctx, tx: &mut Tx<'_>, event: Uuid, max: Option<u32>) -> AppResult<bool> {
    let Some(max) = max else { return Ok(false) };
    let going: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM event_attendees
          WHERE organization_id = ? AND event_id = ? AND rsvp_status = 'going'",
    )
    .bind(ctx.org_id)
    .bind(event)
    .fetch_one(&mut **tx)
    .await?;
    Ok(going >= i64::from(max))
}

/// Lets the waitlist in, earliest answer first, while there are places (the event row is
/// locked by the caller); returns who was let in.
pub(super) async fn promote(ctx: &Ctx, tx: &mut Tx<'_>, event: Uuid) -> AppResult<Vec<Uuid>> {
    let max: Option<Option<u32>> =
        sqlx::query_scalar("SELECT max_attendees FROM events WHERE organization_id = ? AND id = ?")
            .bind(ctx.org_id)
            .bind(event)
            .fetch_optional(&mut **tx)
            .await?;
    let max = max.flatten();
    let going: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM event_attendees
          WHERE organization_id = ? AND event_id = ? AND rsvp_status = 'going'",
    )
    .bind(ctx.org_id)
    .bind(event)
    .fetch_one(&mut **tx)
    .await?;
    let room = match max {
        None => i64::MAX,
        Some(m) => i64::from(m) - going,
    };
    if room <= 0 {
        return Ok(Vec::new());
    }
    let next: Vec<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM event_attendees
          WHERE organization_id = ? AND event_id = ? AND rsvp_status = 'waitlisted'
          ORDER BY responded_at, id LIMIT ?",
    )
    .bind(ctx.org_id)
    .bind(event)
    .bind(room.min(10_000))
    .fetch_all(&mut **tx)
    .await?;
    for user in &next {
        sqlx::query(
            "UPDATE event_attendees SET rsvp_status = 'going', updated_at = ?
              WHERE organization_id = ? AND event_id = ? AND user_id = ?",
        )
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(event)
        .bind(user)
        .execute(&mut **tx)
        .await?;
        audit::record(
            tx,
            &ctx.actor(),
            Entry::new("events.waitlist_promoted", "event", event)
                .changes(serde_json::json!({"member": user})),
        )
        .await?;
    }
    Ok(next)
}

async fn tell_promoted(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    event: Uuid,
    title: &str,
    starts_at: DateTime<Utc>,
    promoted: &[Uuid],
) -> AppResult<()> {
    if promoted.is_empty() {
        return Ok(());
    }
    let local = crate::time::Local::new(&ctx.timezone, ctx.locale);
    notify::notify(
        notifier,
        tx,
        ctx.org_id,
        promoted,
        &Notice {
            category: "events",
            subject: format!("A place opened: you are going to {title}"),
            body: format!(
                "A place opened at {title} on {}, and you were next on the waitlist: you are \
                 now going. If you cannot come, change your answer so the next member can.",
                local.moment(&starts_at)
            ),
            link: Some(format!("/events/{event}")),
            dedupe_key: None,
        },
    )
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfCheckIn {
    /// The code in the event's QR link.
    #[schema(max_length = 64)]
    pub code: String,
}

/// The caller checks in, with the code from the event's QR link, within the event's window. A
/// second tap changes nothing.
pub async fn self_check_in(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    event: Uuid,
    input: SelfCheckIn,
) -> AppResult<Event> {
    ctx.require(EVENTS_VIEW)?;
    let e = lock(ctx, tx, event).await?;
    if e.cancelled {
        return Err(AppError::Conflict("the event is cancelled".into()));
    }
    if e.finalized {
        return Err(AppError::Conflict("attendance is already finalized".into()));
    }
    let now = db::now();
    if !rules::check_in_open(e.check_in_window, e.starts_at, e.ends_at, now) {
        let (opens, closes) = rules::check_in_span(e.check_in_window, e.starts_at, e.ends_at);
        let local = crate::time::Local::new(&ctx.timezone, ctx.locale);
        return Err(AppError::Conflict(if now < opens {
            format!("check-in opens at {}", local.moment(&opens))
        } else {
            format!("check-in closed at {}", local.moment(&closes))
        }));
    }
    // Digests compared, so the time taken says nothing about how much of a guess was right.
    use sha2::{Digest, Sha256};
    if Sha256::digest(input.code.trim().as_bytes()) != Sha256::digest(e.check_in_code.as_bytes()) {
        return Err(AppError::field(
            "code",
            "is not this event's check-in code: scan the QR code at the station again",
        ));
    }
    check_in_row(ctx, tx, event, ctx.user_id, now, &e.title).await?;
    event_row(ctx, tx, event).await
}

/// Writes a check-in (keeping an earlier one) and audits a new one.
async fn check_in_row(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    event: Uuid,
    user: Uuid,
    at: DateTime<Utc>,
    title: &str,
) -> AppResult<bool> {
    let already: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "SELECT checked_in_at FROM event_attendees
          WHERE organization_id = ? AND event_id = ? AND user_id = ?",
    )
    .bind(ctx.org_id)
    .bind(event)
    .bind(user)
    .fetch_optional(&mut **tx)
    .await?;
    if already.flatten().is_some() {
        return Ok(false);
    }
    let inserted = sqlx::query(
        "INSERT INTO event_attendees (id, organization_id, event_id, user_id, checked_in_at,
                checked_in_by, created_at, updated_at)
         SELECT ?, u.organization_id, ?, u.id, ?, ?, ?, ?
           FROM users u WHERE u.organization_id = ? AND u.id = ?
         ON DUPLICATE KEY UPDATE checked_in_at = VALUES(checked_in_at),
                checked_in_by = VALUES(checked_in_by), updated_at = VALUES(updated_at)",
    )
    .bind(db::new_id())
    .bind(event)
    .bind(at)
    .bind(ctx.user_id)
    .bind(at)
    .bind(at)
    .bind(ctx.org_id)
    .bind(user)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        return Err(AppError::field(
            "user_id",
            "is not a member of this department",
        ));
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.checked_in", "event", event).changes(serde_json::json!({
            "title": title, "member": user, "at": at,
            "by_officer": user != ctx.user_id,
        })),
    )
    .await?;
    Ok(true)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberInput {
    pub user_id: Uuid,
}

fn open_for_officer(e: &Locked) -> AppResult<()> {
    if e.cancelled {
        return Err(AppError::Conflict("the event is cancelled".into()));
    }
    if e.finalized {
        return Err(AppError::Conflict(
            "attendance is finalized: undo the finalize to change it".into(),
        ));
    }
    Ok(())
}

/// An officer checks a member in now (already in: nothing changes).
pub async fn check_in(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    event: Uuid,
    input: MemberInput,
) -> AppResult<Attendee> {
    ctx.require(EVENTS_MANAGE)?;
    let e = lock(ctx, tx, event).await?;
    open_for_officer(&e)?;
    check_in_row(ctx, tx, event, input.user_id, db::now(), &e.title).await?;
    attendee(ctx, tx, event, input.user_id).await
}

/// An officer checks a member out now.
pub async fn check_out(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    event: Uuid,
    input: MemberInput,
) -> AppResult<Attendee> {
    ctx.require(EVENTS_MANAGE)?;
    let e = lock(ctx, tx, event).await?;
    open_for_officer(&e)?;
    let now = db::now();
    let changed = sqlx::query(
        "UPDATE event_attendees SET checked_out_at = GREATEST(?, checked_in_at), updated_at = ?
          WHERE organization_id = ? AND event_id = ? AND user_id = ?
            AND checked_in_at IS NOT NULL AND checked_out_at IS NULL",
    )
    .bind(now)
    .bind(now)
    .bind(ctx.org_id)
    .bind(event)
    .bind(input.user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(AppError::Conflict(
            "the member is not checked in (or already checked out)".into(),
        ));
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.checked_out", "event", event)
            .changes(serde_json::json!({"title": e.title, "member": input.user_id, "at": now})),
    )
    .await?;
    attendee(ctx, tx, event, input.user_id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimesInput {
    pub user_id: Uuid,
    /// `YYYY-MM-DDTHH:MM`, the department's time; empty or null: not present.
    pub checked_in_at: Option<String>,
    pub checked_out_at: Option<String>,
    /// Why the times are set by hand (kept with the row and in the audit log).
    #[schema(max_length = 500)]
    pub reason: String,
}

/// An officer sets a member's times (or clears them: not present), with a reason.
pub async fn set_times(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    event: Uuid,
    input: TimesInput,
) -> AppResult<Attendee> {
    ctx.require(EVENTS_MANAGE)?;
    let tz = crate::time::zone(&ctx.timezone);
    let mut c = crate::input::Checks::default();
    let reason = c.take(crate::input::required_text("reason", &input.reason, 500));
    let time = |field: &str, v: &Option<String>, c: &mut crate::input::Checks| match v
        .as_deref()
        .map(str::trim)
    {
        None | Some("") => Some(None),
        Some(t) => c
            .take(rules::parse_local(field, t))
            .map(|t| Some(rules::to_utc(tz, t))),
    };
    let came = time("checked_in_at", &input.checked_in_at, &mut c);
    let left = time("checked_out_at", &input.checked_out_at, &mut c);
    if let (Some(None), Some(Some(_))) = (came, left) {
        c.push("checked_out_at", "needs a check-in time too");
    }
    if let (Some(Some(a)), Some(Some(b))) = (came, left)
        && b < a
    {
        c.push("checked_out_at", "must be after the check-in time");
    }
    c.finish()?;
    let (Some(reason), Some(came), Some(left)) = (reason, came, left) else {
        return Err(AppError::field("", "the times are not complete"));
    };
    let e = lock(ctx, tx, event).await?;
    open_for_officer(&e)?;
    let now = db::now();
    let written = sqlx::query(
        "INSERT INTO event_attendees (id, organization_id, event_id, user_id, checked_in_at,
                checked_out_at, checked_in_by, override_by, override_reason, override_at,
                created_at, updated_at)
         SELECT ?, u.organization_id, ?, u.id, ?, ?, ?, ?, ?, ?, ?, ?
           FROM users u WHERE u.organization_id = ? AND u.id = ?
         ON DUPLICATE KEY UPDATE checked_in_at = VALUES(checked_in_at),
                checked_out_at = VALUES(checked_out_at), override_by = VALUES(override_by),
                override_reason = VALUES(override_reason), override_at = VALUES(override_at),
                updated_at = VALUES(updated_at)",
    )
    .bind(db::new_id())
    .bind(event)
    .bind(came)
    .bind(left)
    .bind(ctx.user_id)
    .bind(ctx.user_id)
    .bind(&reason)
    .bind(now)
    .bind(now)
    .bind(now)
    .bind(ctx.org_id)
    .bind(input.user_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if written == 0 {
        return Err(AppError::field(
            "user_id",
            "is not a member of this department",
        ));
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.attendance_fixed", "event", event).changes(serde_json::json!({
            "title": e.title, "member": input.user_id, "checked_in_at": came,
            "checked_out_at": left, "reason": reason,
        })),
    )
    .await?;
    attendee(ctx, tx, event, input.user_id).await
}

/// What finalizing did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Finalized {
    pub event: Event,
    /// Members present.
    pub present: u32,
    /// Training records made (a training event's attendees).
    pub records: u32,
}

/// Closes the attendance: everyone still in is checked out at the end, and a training event
/// (type training, or with a course) credits each member present with a training record of
/// their hours. Twice is refused: the records are made once.
pub async fn finalize(ctx: &Ctx, tx: &mut Tx<'_>, event: Uuid) -> AppResult<Finalized> {
    ctx.require(EVENTS_MANAGE)?;
    let e = lock(ctx, tx, event).await?;
    if e.cancelled {
        return Err(AppError::Conflict("the event is cancelled".into()));
    }
    if e.finalized {
        return Err(AppError::Conflict("attendance is already finalized".into()));
    }
    let now = db::now();
    if e.starts_at > now {
        return Err(AppError::Conflict(
            "the event has not started: finalize it once it is under way or over".into(),
        ));
    }
    #[derive(sqlx::FromRow)]
    struct Present {
        user_id: Uuid,
        checked_in_at: Option<DateTime<Utc>>,
        checked_out_at: Option<DateTime<Utc>>,
    }
    let present: Vec<Present> = sqlx::query_as(
        "SELECT user_id, checked_in_at, checked_out_at FROM event_attendees
          WHERE organization_id = ? AND event_id = ? AND checked_in_at IS NOT NULL
          ORDER BY user_id",
    )
    .bind(ctx.org_id)
    .bind(event)
    .fetch_all(&mut **tx)
    .await?;
    // Everyone still in leaves at the scheduled end (features.md: durations from the end).
    let end = e.ends_at;
    sqlx::query(
        "UPDATE event_attendees SET checked_out_at = GREATEST(checked_in_at, ?), updated_at = ?
          WHERE organization_id = ? AND event_id = ? AND checked_in_at IS NOT NULL
            AND checked_out_at IS NULL",
    )
    .bind(end)
    .bind(now)
    .bind(ctx.org_id)
    .bind(event)
    .execute(&mut **tx)
    .await?;
    let mut records = 0;
    if e.event_type == EventType::Training || e.course_id.is_some() {
        let tz = crate::time::zone(&ctx.timezone);
        let credits: Vec<(Uuid, Decimal)> = present
            .iter()
            .filter_map(|p| {
                rules::attended_minutes(p.checked_in_at, p.checked_out_at, end)
                    .map(|m| (p.user_id, rules::credit_hours(m)))
            })
            .collect();
        let made = crate::modules::training::service::credit_attendance(
            ctx,
            tx,
            crate::modules::training::service::AttendanceCredit {
                course_id: e.course_id,
                course_name: &e.title,
                training_type: None,
                completion_date: e.starts_at.with_timezone(&tz).date_naive(),
                location_id: e.location_id,
                notes: "Attendance at a training event",
                members: &credits,
            },
        )
        .await?;
        for (user, record) in &made {
            sqlx::query(
                "UPDATE event_attendees SET training_record_id = ?
                  WHERE organization_id = ? AND event_id = ? AND user_id = ?",
            )
            .bind(record)
            .bind(ctx.org_id)
            .bind(event)
            .bind(user)
            .execute(&mut **tx)
            .await?;
        }
        records = made.len() as u32;
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE events SET finalized_at = ?, finalized_by = ?, updated_at = ?
              WHERE organization_id = ? AND id = ? AND finalized_at IS NULL",
        )
        .bind(now)
        .bind(ctx.user_id)
        .bind(now)
        .bind(ctx.org_id)
        .bind(event),
        "attendance has just been finalized by someone else",
    )
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.attendance_finalized", "event", event).changes(serde_json::json!({
            "title": e.title, "present": present.len(), "training_records": records,
        })),
    )
    .await?;
    Ok(Finalized {
        event: event_row(ctx, tx, event).await?,
        present: present.len() as u32,
        records,
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UndoInput {
    /// Why (kept on the voided training records and in the audit log).
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Opens a finalized attendance again: the training records it made are voided (kept, marked,
/// counting for nothing), so finalizing again makes them anew from the corrected attendance.
pub async fn unfinalize(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    event: Uuid,
    input: UndoInput,
) -> AppResult<Event> {
    ctx.require(EVENTS_MANAGE)?;
    let reason = crate::input::required_text("reason", &input.reason, 500)?;
    let e = lock(ctx, tx, event).await?;
    if !e.finalized {
        return Err(AppError::Conflict("attendance is not finalized".into()));
    }
    let records: Vec<Uuid> = sqlx::query_scalar(
        "SELECT training_record_id FROM event_attendees
          WHERE organization_id = ? AND event_id = ? AND training_record_id IS NOT NULL",
    )
    .bind(ctx.org_id)
    .bind(event)
    .fetch_all(&mut **tx)
    .await?;
    crate::modules::training::service::withdraw_credit(ctx, tx, &records, &reason)
        .await?;
    sqlx::query(
        "UPDATE event_attendees SET training_record_id = NULL
          WHERE organization_id = ? AND event_id = ?",
    )
    .bind(ctx.org_id)
    .bind(event)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE events SET finalized_at = NULL, finalized_by = NULL, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(event)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("events.attendance_reopened", "event", event).changes(serde_json::json!({
            "title": e.title, "training_records_voided": records.len(), "reason": reason,
        })),
    )
    .await?;
    event_row(ctx, tx, event).await
}
