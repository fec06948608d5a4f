//! Swaps and time off: a member asks, an officer with `scheduling.manage` who is neither the
//! requester nor the other member decides. Approving a swap moves both seats in one
//! transaction after checking them again under the shifts' and members' row locks; approving
//! time off frees the member's seats in those days and tells the shifts' officers.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::assignments::{self, check_place, lock_shift};
use super::{Named, SCHEDULING_MANAGE, SCHEDULING_VIEW};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::modules::scheduling::rules::{AssignmentStatus, RequestStatus};
use crate::notify::{self, Notice, Notifier};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    pub approve: bool,
    #[schema(max_length = 500)]
    pub notes: Option<String>,
}

async fn tell(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    to: &[Uuid],
    subject: String,
    body: String,
    link: &str,
) -> AppResult<()> {
    let mut to: Vec<Uuid> = to.iter().copied().filter(|u| *u != ctx.user_id).collect();
    to.sort_unstable();
    to.dedup();
    if to.is_empty() {
        return Ok(());
    }
    notify::notify(
        notifier,
        tx,
        ctx.org_id,
        &to,
        &Notice {
            category: "scheduling",
            subject,
            body,
            link: Some(link.into()),
            dedupe_key: None,
        },
    )
    .await?;
    Ok(())
}

/// How many time off requests and swaps wait for an officer who is not part of them.
pub async fn waiting(ctx: &Ctx, conn: &mut Conn) -> AppResult<(i64, i64)> {
    ctx.require(SCHEDULING_MANAGE)?;
    Ok(sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM time_off_requests
                  WHERE organization_id = ? AND status = 'pending' AND user_id <> ?),
                (SELECT COUNT(*) FROM swap_requests
                  WHERE organization_id = ? AND status = 'pending'
                    AND requested_by <> ? AND target_user_id <> ?)",
    )
    .bind(ctx.org_id)
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .bind(ctx.user_id)
    .bind(ctx.user_id)
    .fetch_one(&mut *conn)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// Time off

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TimeOff {
    pub id: Uuid,
    pub user_id: Uuid,
    pub member: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub reason: Option<String>,
    #[schema(schema_with = RequestStatus::schema_object)]
    pub status: RequestStatus,
    pub reviewer: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewer_notes: Option<String>,
    pub created_at: DateTime<Utc>,
}

const TIME_OFF_SELECT: &str = "SELECT t.id, t.user_id,
        CONCAT(u.first_name, ' ', u.last_name) AS member, t.start_date, t.end_date, t.reason,
        t.status, CONCAT(r.first_name, ' ', r.last_name) AS reviewer, t.reviewed_at,
        t.reviewer_notes, t.created_at
   FROM time_off_requests t
   JOIN users u ON u.organization_id = t.organization_id AND u.id = t.user_id
   LEFT JOIN users r ON r.organization_id = t.organization_id AND r.id = t.reviewed_by";

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    #[param(schema_with = RequestStatus::schema_object)]
    pub status: Option<String>,
}

/// Time off requests: the caller's own, or everyone's for officers; newest first (at most 200).
pub async fn time_off_list(ctx: &Ctx, conn: &mut Conn, q: RequestQuery) -> AppResult<Vec<TimeOff>> {
    ctx.require(SCHEDULING_VIEW)?;
    let status = RequestStatus::parse_filter("status", q.status.as_deref())?;
    let all = ctx.has(SCHEDULING_MANAGE);
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TIME_OFF_SELECT} WHERE t.organization_id = ? AND (? OR t.user_id = ?)
            AND (? IS NULL OR t.status = ?)
          ORDER BY t.status = 'pending' DESC, t.start_date DESC LIMIT 200"
    )))
    .bind(ctx.org_id)
    .bind(all)
    .bind(ctx.user_id)
    .bind(status)
    .bind(status)
    .fetch_all(&mut *conn)
    .await?)
}

async fn time_off(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<TimeOff> {
    let t: TimeOff = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{TIME_OFF_SELECT} WHERE t.organization_id = ? AND t.id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    if t.user_id != ctx.user_id && !ctx.has(SCHEDULING_MANAGE) {
        return Err(AppError::NotFound);
    }
    Ok(t)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeOffInput {
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// The caller asks for days off (today or later, at most a year); the officers are told.
pub async fn request_time_off(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    input: TimeOffInput,
) -> AppResult<TimeOff> {
    ctx.require(SCHEDULING_VIEW)?;
    let mut c = crate::input::Checks::default();
    let today = crate::time::today(&ctx.timezone);
    if input.start_date < today {
        c.push("start_date", "must be today or later");
    }
    crate::modules::scheduling::rules::check_year("start_date", input.start_date, &mut c);
    crate::modules::scheduling::rules::check_year("end_date", input.end_date, &mut c);
    if input.end_date < input.start_date {
        c.push("end_date", "must be on or after the first day");
    } else if (input.end_date - input.start_date).num_days() > 365 {
        c.push("end_date", "must be within a year of the first day");
    }
    let reason = c.take(crate::input::optional_text("reason", input.reason, 500));
    c.finish()?;
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO time_off_requests (id, organization_id, user_id, start_date, end_date,
                reason, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(ctx.user_id)
    .bind(input.start_date)
    .bind(input.end_date)
    .bind(reason.flatten())
    .bind(RequestStatus::Pending)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.time_off_requested", "time_off_request", id).changes(
            serde_json::json!({ "start_date": input.start_date, "end_date": input.end_date }),
        ),
    )
    .await?;
    let officers = notify::holders_of(tx, ctx.org_id, SCHEDULING_MANAGE).await?;
    let local = crate::time::Local::new(&ctx.timezone, ctx.locale);
    tell(
        ctx,
        tx,
        notifier,
        &officers,
        format!("Time off asked for by {}", ctx.username),
        format!(
            "{} asks for time off {}.",
            ctx.username,
            local.locale.span(input.start_date, Some(input.end_date))
        ),
        "/scheduling/requests",
    )
    .await?;
    time_off(ctx, tx, id).await
}

/// What approving time off did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TimeOffReviewed {
    pub request: TimeOff,
    /// The seats freed, in words ("Engine 1 — Platoon A, 3 Mar 2027 07:00: Driver").
    pub freed: Vec<String>,
}

/// An officer (not the requester) approves or denies time off. Approving frees the member's
/// seats on shifts in those days that have not started, and tells those shifts' officers.
pub async fn review_time_off(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
    input: ReviewInput,
) -> AppResult<TimeOffReviewed> {
    ctx.require(SCHEDULING_MANAGE)?;
    let notes = crate::input::optional_text("notes", input.notes, 500)?;
    let row: Option<(Uuid, NaiveDate, NaiveDate, RequestStatus)> = sqlx::query_as(
        "SELECT user_id, start_date, end_date, status FROM time_off_requests
          WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let (user, start, end, status) = row.ok_or(AppError::NotFound)?;
    if user == ctx.user_id {
        return Err(AppError::Forbidden(
            "nobody approves their own time off".into(),
        ));
    }
    if status != RequestStatus::Pending {
        return Err(AppError::Conflict(format!(
            "the request is already {}",
            status.label().to_lowercase()
        )));
    }
    let now = db::now();
    let mut freed = Vec::new();
    if input.approve {
        // The member's row, locked as every placement locks it: a sign-up racing this approval
        // either lands first (and its seat is freed below) or sees the time off.
        sqlx::query("SELECT id FROM users WHERE organization_id = ? AND id = ? FOR UPDATE")
            .bind(ctx.org_id)
            .bind(user)
            .fetch_optional(&mut **tx)
            .await?;
        let seats: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT sa.id, sa.shift_id FROM shift_assignments sa
               JOIN shifts s ON s.organization_id = sa.organization_id AND s.id = sa.shift_id
              WHERE sa.organization_id = ? AND sa.user_id = ?
                AND sa.status IN ('assigned', 'pending', 'confirmed')
                AND s.status = 'scheduled' AND s.finalized_at IS NULL AND s.starts_at > ?
                AND s.shift_date BETWEEN ? AND ?
              ORDER BY s.id LOCK IN SHARE MODE",
        )
        .bind(ctx.org_id)
        .bind(user)
        .bind(now)
        .bind(start)
        .bind(end)
        .fetch_all(&mut **tx)
        .await?;
        let local = crate::time::Local::new(&ctx.timezone, ctx.locale);
        for (assignment, shift_id) in seats {
            let s = lock_shift(ctx, tx, shift_id).await?;
            let position: String = sqlx::query_scalar(
                "SELECT position FROM shift_assignments WHERE organization_id = ? AND id = ?",
            )
            .bind(ctx.org_id)
            .bind(assignment)
            .fetch_one(&mut **tx)
            .await?;
            assignments::end_assignment(ctx, tx, &s, assignment, user, AssignmentStatus::Cancelled)
                .await?;
            let line = format!("{}, {}: {position}", s.title, local.moment(&s.starts_at));
            if let Some(officer) = s.shift_officer_id.filter(|o| *o != user) {
                tell(
                    ctx,
                    tx,
                    notifier,
                    &[officer],
                    format!("A seat opened on {}", s.title),
                    format!("Time off was approved: {line} is open again."),
                    &format!("/scheduling/shifts/{}", s.id),
                )
                .await?;
            }
            freed.push(line);
        }
    }
    let to = if input.approve {
        RequestStatus::Approved
    } else {
        RequestStatus::Denied
    };
    sqlx::query(
        "UPDATE time_off_requests SET status = ?, reviewed_by = ?, reviewed_at = ?,
                reviewer_notes = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(to)
    .bind(ctx.user_id)
    .bind(now)
    .bind(&notes)
    .bind(now)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.time_off_reviewed", "time_off_request", id).changes(
            serde_json::json!({ "user_id": user, "to": to, "notes": notes, "freed": freed }),
        ),
    )
    .await?;
    let local = crate::time::Local::new(&ctx.timezone, ctx.locale);
    tell(
        ctx,
        tx,
        notifier,
        &[user],
        format!("Time off {}", to.label().to_lowercase()),
        format!(
            "Your time off {} was {}.{}",
            local.locale.span(start, Some(end)),
            to.label().to_lowercase(),
            notes.as_deref().map(|n| format!(" {n}")).unwrap_or_default()
        ),
        "/scheduling/requests",
    )
    .await?;
    Ok(TimeOffReviewed {
        request: time_off(ctx, tx, id).await?,
        freed,
    })
}

/// The requester withdraws a request still waiting for review.
pub async fn cancel_time_off(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<TimeOff> {
    ctx.require(SCHEDULING_VIEW)?;
    let row: Option<(Uuid, RequestStatus)> = sqlx::query_as(
        "SELECT user_id, status FROM time_off_requests
          WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let (user, status) = row.ok_or(AppError::NotFound)?;
    if user != ctx.user_id {
        return Err(AppError::NotFound);
    }
    if status == RequestStatus::Cancelled {
        return time_off(ctx, tx, id).await;
    }
    if status != RequestStatus::Pending {
        return Err(AppError::Conflict(format!(
            "the request is already {}",
            status.label().to_lowercase()
        )));
    }
    sqlx::query(
        "UPDATE time_off_requests SET status = ?, updated_at = ? WHERE organization_id = ? AND id = ?",
    )
    .bind(RequestStatus::Cancelled)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.time_off_withdrawn", "time_off_request", id),
    )
    .await?;
    time_off(ctx, tx, id).await
}

// ---------------------------------------------------------------------------------------------
// Swaps

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Swap {
    pub id: Uuid,
    pub requested_by: Named,
    /// The requester's seat, in words.
    pub offering: String,
    pub offering_shift_id: Uuid,
    /// The other member's seat for a trade, in words.
    pub taking: Option<String>,
    pub taking_shift_id: Option<Uuid>,
    /// Who takes the requester's seat (and, for a trade, gives theirs).
    pub target: Named,
    pub reason: Option<String>,
    #[schema(schema_with = RequestStatus::schema_object)]
    pub status: RequestStatus,
    pub reviewer: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewer_notes: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SwapRow {
    id: Uuid,
    requested_by: Uuid,
    requester: String,
    target_user_id: Uuid,
    target: String,
    offering_shift_id: Uuid,
    offering_title: String,
    offering_at: DateTime<Utc>,
    offering_position: String,
    taking_shift_id: Option<Uuid>,
    taking_title: Option<String>,
    taking_at: Option<DateTime<Utc>>,
    taking_position: Option<String>,
    reason: Option<String>,
    status: RequestStatus,
    reviewer: Option<String>,
    reviewed_at: Option<DateTime<Utc>>,
    reviewer_notes: Option<String>,
    created_at: DateTime<Utc>,
}

const SWAP_SELECT: &str = "SELECT w.id, w.requested_by,
        CONCAT(rq.first_name, ' ', rq.last_name) AS requester, w.target_user_id,
        CONCAT(tg.first_name, ' ', tg.last_name) AS target,
        a.shift_id AS offering_shift_id, sa.title AS offering_title,
        sa.starts_at AS offering_at, a.position AS offering_position,
        b.shift_id AS taking_shift_id, sb.title AS taking_title, sb.starts_at AS taking_at,
        b.position AS taking_position, w.reason, w.status,
        CONCAT(rv.first_name, ' ', rv.last_name) AS reviewer, w.reviewed_at, w.reviewer_notes,
        w.created_at
   FROM swap_requests w
   JOIN users rq ON rq.organization_id = w.organization_id AND rq.id = w.requested_by
   JOIN users tg ON tg.organization_id = w.organization_id AND tg.id = w.target_user_id
   JOIN shift_assignments a ON a.organization_id = w.organization_id AND a.id = w.assignment_id
   JOIN shifts sa ON sa.organization_id = a.organization_id AND sa.id = a.shift_id
   LEFT JOIN shift_assignments b ON b.organization_id = w.organization_id
                                AND b.id = w.other_assignment_id
   LEFT JOIN shifts sb ON sb.organization_id = b.organization_id AND sb.id = b.shift_id
   LEFT JOIN users rv ON rv.organization_id = w.organization_id AND rv.id = w.reviewed_by";

fn into_swap(ctx: &Ctx, r: SwapRow) -> Swap {
    let local = crate::time::Local::new(&ctx.timezone, ctx.locale);
    Swap {
        id: r.id,
        requested_by: Named {
            id: r.requested_by,
            name: r.requester,
        },
        offering: format!(
            "{}, {}: {}",
            r.offering_title,
            local.moment(&r.offering_at),
            r.offering_position
        ),
        offering_shift_id: r.offering_shift_id,
        taking: r
            .taking_title
            .zip(r.taking_at)
            .zip(r.taking_position)
            .map(|((t, at), p)| format!("{t}, {}: {p}", local.moment(&at))),
        taking_shift_id: r.taking_shift_id,
        target: Named {
            id: r.target_user_id,
            name: r.target,
        },
        reason: r.reason,
        status: r.status,
        reviewer: r.reviewer,
        reviewed_at: r.reviewed_at,
        reviewer_notes: r.reviewer_notes,
        created_at: r.created_at,
    }
}

/// Swaps the caller asked for or is named in, or everyone's for officers; newest first.
pub async fn swaps(ctx: &Ctx, conn: &mut Conn, q: RequestQuery) -> AppResult<Vec<Swap>> {
    ctx.require(SCHEDULING_VIEW)?;
    let status = RequestStatus::parse_filter("status", q.status.as_deref())?;
    let all = ctx.has(SCHEDULING_MANAGE);
    let rows: Vec<SwapRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SWAP_SELECT} WHERE w.organization_id = ?
            AND (? OR w.requested_by = ? OR w.target_user_id = ?)
            AND (? IS NULL OR w.status = ?)
          ORDER BY w.status = 'pending' DESC, w.created_at DESC LIMIT 200"
    )))
    .bind(ctx.org_id)
    .bind(all)
    .bind(ctx.user_id)
    .bind(ctx.user_id)
    .bind(status)
    .bind(status)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|r| into_swap(ctx, r)).collect())
}

async fn swap(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Swap> {
    let row: SwapRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SWAP_SELECT} WHERE w.organization_id = ? AND w.id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    if !ctx.has(SCHEDULING_MANAGE) && row.requested_by != ctx.user_id && row.target_user_id != ctx.user_id {
        return Err(AppError::NotFound);
    }
    Ok(into_swap(ctx, row))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwapInput {
    /// The caller's own seat.
    pub assignment_id: Uuid,
    /// A trade: the other member's seat the caller takes in return.
    pub other_assignment_id: Option<Uuid>,
    /// A hand-over: the member who takes the caller's seat.
    pub target_user_id: Option<Uuid>,
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

/// An assignment with its shift's start, for the checks of a swap.
#[derive(sqlx::FromRow)]
struct Seated {
    id: Uuid,
    shift_id: Uuid,
    user_id: Uuid,
    seat: u8,
    status: AssignmentStatus,
    starts_at: DateTime<Utc>,
}

async fn seated(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Option<Seated>> {
    seated_as(ctx, conn, id, "").await
}

/// `seated`, the assignment's row locked: what it is now, after the shifts' locks were waited
/// for (a give-up or a removal that committed meanwhile is seen).
async fn seated_now(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Option<Seated>> {
    seated_as(ctx, conn, id, " FOR UPDATE").await
}

async fn seated_as(
    ctx: &Ctx,
    conn: &mut Conn,
    id: Uuid,
    lock: &'static str,
) -> AppResult<Option<Seated>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT sa.id, sa.shift_id, sa.user_id, sa.seat, sa.status, s.starts_at
           FROM shift_assignments sa
           JOIN shifts s ON s.organization_id = sa.organization_id AND s.id = sa.shift_id
          WHERE sa.organization_id = ? AND sa.id = ?{lock}"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// The caller offers their seat: in trade for another member's seat, or to a member who takes
/// it over. The other member and the officers are told.
pub async fn request_swap(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    input: SwapInput,
) -> AppResult<Swap> {
    ctx.require(SCHEDULING_VIEW)?;
    let mut c = crate::input::Checks::default();
    let reason = c.take(crate::input::optional_text("reason", input.reason, 500)).flatten();
    let now = db::now();
    let mine = seated(ctx, tx, input.assignment_id).await?;
    match &mine {
        Some(a) if a.user_id == ctx.user_id && a.status.live() && a.starts_at > now => {}
        Some(a) if a.user_id == ctx.user_id => {
            c.push("assignment_id", "is not a seat you still hold on a shift to come")
        }
        _ => c.push("assignment_id", "is not one of your seats"),
    }
    let target = match (input.other_assignment_id, input.target_user_id) {
        (Some(other), None) => match seated(ctx, tx, other).await? {
            Some(b) if b.user_id != ctx.user_id && b.status.live() && b.starts_at > now => {
                if mine.as_ref().is_some_and(|a| a.shift_id == b.shift_id) {
                    c.push("other_assignment_id", "is on the same shift as your seat");
                }
                Some(b.user_id)
            }
            Some(b) if b.user_id == ctx.user_id => {
                c.push("other_assignment_id", "is your own seat");
                None
            }
            _ => {
                c.push("other_assignment_id", "is not a seat another member holds on a shift to come");
                None
            }
        },
        (None, Some(user)) => {
            if user == ctx.user_id {
                c.push("target_user_id", "must be another member");
                None
            } else if assignments::is_active_member(tx, ctx.org_id, user).await? {
                Some(user)
            } else {
                c.push("target_user_id", "is not an active member of this department");
                None
            }
        }
        _ => {
            c.push(
                "other_assignment_id",
                "give either the seat to trade for or the member who takes yours (target_user_id)",
            );
            None
        }
    };
    c.finish()?;
    let target = target.ok_or(AppError::NotFound)?;
    let pending: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM swap_requests WHERE organization_id = ? AND assignment_id = ?
            AND status = 'pending' LIMIT 1",
    )
    .bind(ctx.org_id)
    .bind(input.assignment_id)
    .fetch_optional(&mut **tx)
    .await?;
    if pending.is_some() {
        return Err(AppError::Conflict(
            "this seat already has a swap waiting for review".into(),
        ));
    }
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO swap_requests (id, organization_id, requested_by, assignment_id,
                other_assignment_id, target_user_id, reason, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(ctx.user_id)
    .bind(input.assignment_id)
    .bind(input.other_assignment_id)
    .bind(target)
    .bind(&reason)
    .bind(RequestStatus::Pending)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.swap_requested", "swap_request", id).changes(serde_json::json!({
            "assignment_id": input.assignment_id,
            "other_assignment_id": input.other_assignment_id, "target_user_id": target,
        })),
    )
    .await?;
    let s = swap(ctx, tx, id).await?;
    let mut to = notify::holders_of(tx, ctx.org_id, SCHEDULING_MANAGE).await?;
    to.push(target);
    let what = match &s.taking {
        Some(t) => format!("{} for {t}", s.offering),
        None => format!("{} to {}", s.offering, s.target.name),
    };
    tell(
        ctx,
        tx,
        notifier,
        &to,
        format!("Swap asked for by {}", s.requested_by.name),
        format!("{} asks to swap {what}.", s.requested_by.name),
        "/scheduling/requests",
    )
    .await?;
    Ok(s)
}

/// An officer who is neither side decides a swap. Approving checks both seats again with the
/// shifts and members locked (still held by the same members, each placement allowed) and
/// moves them together; the request turns approved last. Two officers approving at once: one
/// approves, the other is told it was decided.
pub async fn review_swap(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    id: Uuid,
    input: ReviewInput,
) -> AppResult<Swap> {
    ctx.require(SCHEDULING_MANAGE)?;
    let notes = crate::input::optional_text("notes", input.notes, 500)?;
    let row: Option<(Uuid, Uuid, Option<Uuid>, Uuid, RequestStatus)> = sqlx::query_as(
        "SELECT requested_by, assignment_id, other_assignment_id, target_user_id, status
           FROM swap_requests WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let (requester, a_id, b_id, target, status) = row.ok_or(AppError::NotFound)?;
    if ctx.user_id == requester || ctx.user_id == target {
        return Err(AppError::Forbidden(
            "a swap is decided by an officer who is not part of it".into(),
        ));
    }
    if status != RequestStatus::Pending {
        return Err(AppError::Conflict(format!(
            "the swap is already {}",
            status.label().to_lowercase()
        )));
    }
    if input.approve {
        let a = seated(ctx, tx, a_id).await?.ok_or(AppError::NotFound)?;
        let b = match b_id {
            Some(b) => Some(seated(ctx, tx, b).await?.ok_or(AppError::NotFound)?),
            None => None,
        };
        // Shifts in id order, then the checks (which lock the members), so two swaps over the
        // same shifts queue instead of deadlocking.
        let mut shift_ids = vec![a.shift_id];
        if let Some(b) = &b {
            shift_ids.push(b.shift_id);
        }
        shift_ids.sort_unstable();
        let mut locked = Vec::new();
        for s in shift_ids {
            locked.push(lock_shift(ctx, tx, s).await?);
        }
        let shift_a = locked.iter().find(|s| s.id == a.shift_id).ok_or(AppError::NotFound)?;
        // Held still, by the same members, as live seats?
        let now_a = seated_now(ctx, tx, a.id).await?.ok_or(AppError::NotFound)?;
        if now_a.user_id != requester || !now_a.status.live() {
            return Err(AppError::Conflict(
                "the requester no longer holds that seat; the swap cannot be approved".into(),
            ));
        }
        let moving: Vec<Uuid> = [Some(a.id), b.as_ref().map(|b| b.id)].into_iter().flatten().collect();
        match &b {
            Some(b) => {
                let now_b = seated_now(ctx, tx, b.id).await?.ok_or(AppError::NotFound)?;
                if now_b.user_id != target || !now_b.status.live() {
                    return Err(AppError::Conflict(
                        "the other member no longer holds that seat; the swap cannot be approved"
                            .into(),
                    ));
                }
                let shift_b = locked.iter().find(|s| s.id == b.shift_id).ok_or(AppError::NotFound)?;
                check_place(ctx, tx, shift_b, requester, usize::from(b.seat), &moving).await?;
                check_place(ctx, tx, shift_a, target, usize::from(a.seat), &moving).await?;
                move_seat(ctx, tx, a.id, target).await?;
                move_seat(ctx, tx, b.id, requester).await?;
            }
            None => {
                check_place(ctx, tx, shift_a, target, usize::from(a.seat), &moving).await?;
                move_seat(ctx, tx, a.id, target).await?;
            }
        }
        // An officer's seat that changed hands takes the shift's officer with it.
        for s in &locked {
            if let Some(o) = s.shift_officer_id
                && (o == requester || o == target)
            {
                let holder: Option<Uuid> = sqlx::query_scalar(
                    "SELECT user_id FROM shift_assignments WHERE organization_id = ?
                        AND shift_id = ? AND user_id IN (?, ?)
                        AND status IN ('assigned', 'pending', 'confirmed')",
                )
                .bind(ctx.org_id)
                .bind(s.id)
                .bind(requester)
                .bind(target)
                .fetch_optional(&mut **tx)
                .await?;
                sqlx::query(
                    "UPDATE shifts SET shift_officer_id = ?, updated_at = ?
                      WHERE organization_id = ? AND id = ?",
                )
                .bind(holder)
                .bind(db::now())
                .bind(ctx.org_id)
                .bind(s.id)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    let to = if input.approve {
        RequestStatus::Approved
    } else {
        RequestStatus::Denied
    };
    let now = db::now();
    sqlx::query(
        "UPDATE swap_requests SET status = ?, reviewed_by = ?, reviewed_at = ?,
                reviewer_notes = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(to)
    .bind(ctx.user_id)
    .bind(now)
    .bind(&notes)
    .bind(now)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.swap_reviewed", "swap_request", id).changes(serde_json::json!({
            "to": to, "requested_by": requester, "target_user_id": target, "notes": notes,
        })),
    )
    .await?;
    let s = swap(ctx, tx, id).await?;
    tell(
        ctx,
        tx,
        notifier,
        &[requester, target],
        format!("Swap {}", to.label().to_lowercase()),
        format!(
            "The swap of {}{} was {}.",
            s.offering,
            s.taking.as_deref().map(|t| format!(" for {t}")).unwrap_or_default(),
            to.label().to_lowercase()
        ),
        "/scheduling/requests",
    )
    .await?;
    Ok(s)
}

/// Gives an assignment to another member, who is asked to confirm it.
async fn move_seat(ctx: &Ctx, tx: &mut Tx<'_>, assignment: Uuid, to: Uuid) -> AppResult<()> {
    sqlx::query(
        "UPDATE shift_assignments SET user_id = ?, status = 'assigned', confirmed_at = NULL,
                reminder_sent_at = NULL, assigned_by = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(to)
    .bind(ctx.user_id)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(assignment)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The requester withdraws a swap still waiting for review.
pub async fn cancel_swap(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Swap> {
    ctx.require(SCHEDULING_VIEW)?;
    let row: Option<(Uuid, RequestStatus)> = sqlx::query_as(
        "SELECT requested_by, status FROM swap_requests
          WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let (requester, status) = row.ok_or(AppError::NotFound)?;
    if requester != ctx.user_id {
        return Err(AppError::NotFound);
    }
    if status == RequestStatus::Cancelled {
        return swap(ctx, tx, id).await;
    }
    if status != RequestStatus::Pending {
        return Err(AppError::Conflict(format!(
            "the swap is already {}",
            status.label().to_lowercase()
        )));
    }
    sqlx::query("UPDATE swap_requests SET status = ?, updated_at = ? WHERE organization_id = ? AND id = ?")
        .bind(RequestStatus::Cancelled)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.swap_withdrawn", "swap_request", id),
    )
    .await?;
    swap(ctx, tx, id).await
}
