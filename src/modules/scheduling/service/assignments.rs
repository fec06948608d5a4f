//! Seats and who holds them: an officer assigns, a member signs up for an open seat, confirms
//! or declines, or withdraws; an officer removes a member or cancels the shift. Every placement
//! passes `check_place` with the shift's row and the member's row locked, so two taps at once,
//! or two members after one seat, end with one holder.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::{SCHEDULING_MANAGE, SCHEDULING_VIEW, Shift, seats_from, shift};
use crate::audit::{self, Entry};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::modules::scheduling::rules::{AssignmentStatus, Seat, ShiftStatus};
use crate::notify::{self, Notice, Notifier};

/// Whether `user` is a member of the organization who may be placed on a shift.
pub async fn is_active_member(conn: &mut Conn, org: OrgId, user: Uuid) -> AppResult<bool> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM users WHERE organization_id = ? AND id = ?")
            .bind(org)
            .bind(user)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(status.is_some_and(|s| matches!(s.as_str(), "active" | "probationary")))
}

/// Why a member is away on a span of days.
pub type Away = HashMap<Uuid, Vec<(NaiveDate, Option<NaiveDate>, &'static str)>>;

/// The members' leaves and approved time off that touch `from`..=`to`.
pub async fn away_days(
    ctx: &Ctx,
    conn: &mut Conn,
    users: &[Uuid],
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Away> {
    let mut out: Away = HashMap::new();
    if users.is_empty() {
        return Ok(out);
    }
    let rows: Vec<(Uuid, NaiveDate, Option<NaiveDate>, bool)> = sqlx::query_as(
        "SELECT user_id, start_date, end_date, TRUE AS leave_row FROM member_leaves_of_absence
          WHERE organization_id = ? AND active AND start_date <= ?
            AND (end_date IS NULL OR end_date >= ?)
         UNION ALL
         SELECT user_id, start_date, end_date, FALSE FROM time_off_requests
          WHERE organization_id = ? AND status = 'approved' AND start_date <= ?
            AND end_date >= ?",
    )
    .bind(ctx.org_id)
    .bind(to)
    .bind(from)
    .bind(ctx.org_id)
    .bind(to)
    .bind(from)
    .fetch_all(&mut *conn)
    .await?;
    for (user, start, end, leave) in rows {
        if users.contains(&user) {
            out.entry(user).or_default().push((
                start,
                end,
                if leave { "on leave" } else { "time off" },
            ));
        }
    }
    Ok(out)
}

/// Whether the member is on leave or approved time off on `day`, read with locks (see
/// `check_place`).
async fn away_on(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    user: Uuid,
    day: NaiveDate,
) -> AppResult<Option<&'static str>> {
    let leave: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM member_leaves_of_absence
          WHERE organization_id = ? AND user_id = ? AND active AND start_date <= ?
            AND (end_date IS NULL OR end_date >= ?) LIMIT 1 LOCK IN SHARE MODE",
    )
    .bind(ctx.org_id)
    .bind(user)
    .bind(day)
    .bind(day)
    .fetch_optional(&mut **tx)
    .await?;
    if leave.is_some() {
        return Ok(Some("on leave"));
    }
    let off: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM time_off_requests
          WHERE organization_id = ? AND user_id = ? AND status = 'approved'
            AND start_date <= ? AND end_date >= ? LIMIT 1 LOCK IN SHARE MODE",
    )
    .bind(ctx.org_id)
    .bind(user)
    .bind(day)
    .bind(day)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(off.map(|_| "time off"))
}

/// For each member and each course the seats name: until when their latest completed record
/// of it is current (`None` inside: it does not expire). No entry: they have none.
pub async fn qualifications(
    ctx: &Ctx,
    conn: &mut Conn,
    seats: &[Seat],
    users: &[Uuid],
) -> AppResult<HashMap<(Uuid, Uuid), Option<NaiveDate>>> {
    let mut courses: Vec<Uuid> = seats.iter().filter_map(|s| s.course_id).collect();
    courses.sort_unstable();
    courses.dedup();
    let mut out = HashMap::new();
    if courses.is_empty() || users.is_empty() {
        return Ok(out);
    }
    let mut b = sqlx::QueryBuilder::new(
        "SELECT user_id, course_id,
                IF(SUM(expiration_date IS NULL) > 0, NULL, MAX(expiration_date)) AS until
           FROM training_records
          WHERE status = 'completed' AND organization_id = ",
    );
    b.push_bind(ctx.org_id);
    b.push(" AND course_id IN (");
    let mut list = b.separated(", ");
    for c in &courses {
        list.push_bind(*c);
    }
    b.push(") AND user_id IN (");
    let mut list = b.separated(", ");
    for u in users {
        list.push_bind(*u);
    }
    b.push(") GROUP BY user_id, course_id");
    let rows: Vec<(Uuid, Uuid, Option<NaiveDate>)> = b.build_query_as().fetch_all(&mut *conn).await?;
    for (user, course, until) in rows {
        out.insert((user, course), until);
    }
    Ok(out)
}

/// A shift's row, locked for the placement being made.
pub(super) struct Locked {
    pub id: Uuid,
    pub title: String,
    pub shift_date: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub status: ShiftStatus,
    pub finalized: bool,
    pub seats: Vec<Seat>,
    pub open_to_all_members: bool,
    pub shift_officer_id: Option<Uuid>,
}

pub(super) async fn lock_shift(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Locked> {
    #[allow(clippy::type_complexity)]
    let row: Option<(
        Uuid,
        String,
        NaiveDate,
        DateTime<Utc>,
        DateTime<Utc>,
        ShiftStatus,
        Option<DateTime<Utc>>,
        String,
        bool,
        Option<Uuid>,
    )> = sqlx::query_as(
        "SELECT id, title, shift_date, starts_at, ends_at, status, finalized_at, positions,
                open_to_all_members, shift_officer_id
           FROM shifts WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let r = row.ok_or(AppError::NotFound)?;
    Ok(Locked {
        id: r.0,
        title: r.1,
        shift_date: r.2,
        starts_at: r.3,
        ends_at: r.4,
        status: r.5,
        finalized: r.6.is_some(),
        seats: seats_from(&r.7),
        open_to_all_members: r.8,
        shift_officer_id: r.9,
    })
}

/// Whether the shift can still change: not cancelled, not closed out, not started.
pub(super) fn check_open(s: &Locked) -> AppResult<()> {
    if s.status == ShiftStatus::Cancelled {
        return Err(AppError::Conflict("the shift is cancelled".into()));
    }
    if s.finalized {
        return Err(AppError::Conflict("the shift is closed out".into()));
    }
    if s.starts_at <= db::now() {
        return Err(AppError::Conflict("the shift has already started".into()));
    }
    Ok(())
}

/// Checks that `user` may take seat `seat` of the locked shift (the member's row is locked
/// here): an active member, not already on the shift, the seat free, no other shift at the same
/// time, not on leave or time off that day, and holding a current record of the seat's course.
/// `moving` are assignments a swap is about to move, which do not count.
pub(super) async fn check_place(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    s: &Locked,
    user: Uuid,
    seat: usize,
    moving: &[Uuid],
) -> AppResult<()> {
    check_open(s)?;
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM users WHERE organization_id = ? AND id = ? FOR UPDATE")
            .bind(ctx.org_id)
            .bind(user)
            .fetch_optional(&mut **tx)
            .await?;
    match status.as_deref() {
        None => return Err(AppError::field("user_id", "is not a member of this department")),
        Some("active" | "probationary") => {}
        Some(_) => {
            return Err(AppError::Conflict(
                "the member is not active (on leave, retired or dropped)".into(),
            ));
        }
    }
    let Some(want) = s.seats.get(seat) else {
        return Err(AppError::field("seat", "is not a seat of this shift"));
    };
    // Locking reads from here on: they see what was committed while this transaction waited
    // for the rows it locked (a plain read would see the snapshot of its first read).
    let live: Vec<(Uuid, u8, Uuid)> = sqlx::query_as(
        "SELECT id, seat, user_id FROM shift_assignments
          WHERE organization_id = ? AND shift_id = ?
            AND status IN ('assigned', 'pending', 'confirmed') LOCK IN SHARE MODE",
    )
    .bind(ctx.org_id)
    .bind(s.id)
    .fetch_all(&mut **tx)
    .await?;
    let live: Vec<_> = live.into_iter().filter(|(id, _, _)| !moving.contains(id)).collect();
    if live.iter().any(|(_, _, u)| *u == user) {
        return Err(AppError::Conflict("the member already has a seat on this shift".into()));
    }
    if live.iter().any(|(_, i, _)| usize::from(*i) == seat) {
        return Err(AppError::Conflict(format!("the {} seat is taken", want.name)));
    }
    let clash: Vec<(Uuid, String, DateTime<Utc>)> = sqlx::query_as(
        "SELECT sa.id, s.title, s.starts_at FROM shift_assignments sa
           JOIN shifts s ON s.organization_id = sa.organization_id AND s.id = sa.shift_id
          WHERE sa.organization_id = ? AND sa.user_id = ? AND s.id <> ?
            AND sa.status IN ('assigned', 'pending', 'confirmed') AND s.status = 'scheduled'
            AND s.starts_at < ? AND s.ends_at > ?
          LOCK IN SHARE MODE",
    )
    .bind(ctx.org_id)
    .bind(user)
    .bind(s.id)
    .bind(s.ends_at)
    .bind(s.starts_at)
    .fetch_all(&mut **tx)
    .await?;
    if let Some((_, title, at)) = clash.iter().find(|(id, _, _)| !moving.contains(id)) {
        let local = crate::time::Local::new(&ctx.timezone, ctx.locale);
        return Err(AppError::Conflict(format!(
            "the member is on another shift at that time ({title}, {})",
            local.moment(at)
        )));
    }
    if let Some(why) = away_on(ctx, tx, user, s.shift_date).await? {
        return Err(AppError::Conflict(format!("the member is {why} on that day")));
    }
    if let Some(course) = want.course_id {
        let q = qualifications(ctx, tx, std::slice::from_ref(want), &[user]).await?;
        let current = q
            .get(&(user, course))
            .is_some_and(|until| until.is_none_or(|u| u >= s.shift_date));
        if !current {
            let name: Option<String> = sqlx::query_scalar(
                "SELECT name FROM training_courses WHERE organization_id = ? AND id = ?",
            )
            .bind(ctx.org_id)
            .bind(course)
            .fetch_optional(&mut **tx)
            .await?;
            return Err(AppError::field(
                "seat",
                format!(
                    "the {} seat needs a current {} record",
                    want.name,
                    name.unwrap_or_else(|| "qualification".into())
                ),
            ));
        }
    }
    Ok(())
}

/// Whether a seat's name makes its holder the shift's officer.
fn officer_seat(name: &str) -> bool {
    let n = name.to_lowercase();
    n.contains("officer") || n.contains("captain") || n.contains("lieutenant")
}

/// Writes the placement (checked by the caller) and makes the holder of an officer's seat the
/// shift's officer when it has none.
pub(super) async fn seat_member(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    s: &Locked,
    user: Uuid,
    seat: usize,
    status: AssignmentStatus,
) -> AppResult<Uuid> {
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO shift_assignments (id, organization_id, shift_id, user_id, seat, position,
                status, assigned_by, confirmed_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(s.id)
    .bind(user)
    .bind(seat as u8)
    .bind(&s.seats[seat].name)
    .bind(status)
    .bind(ctx.user_id)
    .bind((status == AssignmentStatus::Confirmed).then_some(now))
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if s.shift_officer_id.is_none() && officer_seat(&s.seats[seat].name) {
        set_officer(ctx, tx, s.id, Some(user)).await?;
    }
    Ok(id)
}

async fn set_officer(ctx: &Ctx, tx: &mut Tx<'_>, shift: Uuid, user: Option<Uuid>) -> AppResult<()> {
    sqlx::query("UPDATE shifts SET shift_officer_id = ?, updated_at = ? WHERE organization_id = ? AND id = ?")
        .bind(user)
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(shift)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn when(ctx: &Ctx, s: &Locked) -> String {
    crate::time::Local::new(&ctx.timezone, ctx.locale).moment(&s.starts_at)
}

async fn tell(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    to: &[Uuid],
    s: &Locked,
    subject: String,
    body: String,
) -> AppResult<()> {
    let to: Vec<Uuid> = to.iter().copied().filter(|u| *u != ctx.user_id).collect();
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
            link: Some(format!("/scheduling/shifts/{}", s.id)),
            dedupe_key: None,
        },
    )
    .await?;
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ShiftAssignInput)]
pub struct AssignInput {
    pub user_id: Uuid,
    /// The seat's index on the shift (0 is the first).
    pub seat: u8,
}

/// An officer puts a member in a seat; the member is told and confirms or declines.
pub async fn assign(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    shift_id: Uuid,
    input: AssignInput,
) -> AppResult<Shift> {
    ctx.require(SCHEDULING_MANAGE)?;
    let s = lock_shift(ctx, tx, shift_id).await?;
    let seat = usize::from(input.seat);
    check_place(ctx, tx, &s, input.user_id, seat, &[]).await?;
    let id = seat_member(ctx, tx, &s, input.user_id, seat, AssignmentStatus::Assigned).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.assigned", "shift_assignment", id).changes(serde_json::json!({
            "shift_id": s.id, "shift": s.title, "user_id": input.user_id,
            "seat": s.seats[seat].name,
        })),
    )
    .await?;
    let at = when(ctx, &s);
    tell(
        ctx,
        tx,
        notifier,
        &[input.user_id],
        &s,
        format!("You are on {} ({at})", s.title),
        format!(
            "You have the {} seat on {} starting {at}. Please confirm or decline it.",
            s.seats[seat].name, s.title
        ),
    )
    .await?;
    shift(ctx, tx, shift_id).await
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpInput {
    /// The seat's index; default the first free seat the member may take.
    pub seat: Option<u8>,
}

/// The caller signs up for a free seat of a shift open to members. A second tap changes
/// nothing.
pub async fn sign_up(ctx: &Ctx, tx: &mut Tx<'_>, shift_id: Uuid, input: SignUpInput) -> AppResult<Shift> {
    ctx.require(SCHEDULING_VIEW)?;
    let s = lock_shift(ctx, tx, shift_id).await?;
    if !s.open_to_all_members && !ctx.has(SCHEDULING_MANAGE) {
        return Err(AppError::Conflict(
            "officers fill this shift's seats; ask one to put you on it".into(),
        ));
    }
    let mine: Option<u8> = sqlx::query_scalar(
        "SELECT seat FROM shift_assignments WHERE organization_id = ? AND shift_id = ?
            AND user_id = ? AND status IN ('assigned', 'pending', 'confirmed')",
    )
    .bind(ctx.org_id)
    .bind(s.id)
    .bind(ctx.user_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(held) = mine
        && input.seat.is_none_or(|want| want == held)
    {
        return shift(ctx, tx, shift_id).await;
    }
    let seat = match input.seat {
        Some(i) => usize::from(i),
        None => first_free(ctx, tx, &s).await?,
    };
    check_place(ctx, tx, &s, ctx.user_id, seat, &[]).await?;
    let id = seat_member(ctx, tx, &s, ctx.user_id, seat, AssignmentStatus::Confirmed).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.signed_up", "shift_assignment", id).changes(serde_json::json!({
            "shift_id": s.id, "shift": s.title, "seat": s.seats[seat].name,
        })),
    )
    .await?;
    shift(ctx, tx, shift_id).await
}

/// The first seat nobody holds that the caller may take: required seats first.
async fn first_free(ctx: &Ctx, tx: &mut Tx<'_>, s: &Locked) -> AppResult<usize> {
    let held: Vec<u8> = sqlx::query_scalar(
        "SELECT seat FROM shift_assignments WHERE organization_id = ? AND shift_id = ?
            AND status IN ('assigned', 'pending', 'confirmed')",
    )
    .bind(ctx.org_id)
    .bind(s.id)
    .fetch_all(&mut **tx)
    .await?;
    let q = qualifications(ctx, tx, &s.seats, &[ctx.user_id]).await?;
    let may = |seat: &Seat| {
        seat.course_id.is_none_or(|c| {
            q.get(&(ctx.user_id, c))
                .is_some_and(|until| until.is_none_or(|u| u >= s.shift_date))
        })
    };
    let mut free: Vec<usize> = (0..s.seats.len())
        .filter(|i| !held.contains(&(*i as u8)) && may(&s.seats[*i]))
        .collect();
    free.sort_by_key(|i| !s.seats[*i].required);
    free.first()
        .copied()
        .ok_or_else(|| AppError::Conflict("no free seat on this shift that you may take".into()))
}

/// The caller gives up their seat before the shift starts; the shift's officer is told.
pub async fn withdraw(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    shift_id: Uuid,
) -> AppResult<Shift> {
    ctx.require(SCHEDULING_VIEW)?;
    let s = lock_shift(ctx, tx, shift_id).await?;
    check_open(&s)?;
    let mine: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, position FROM shift_assignments WHERE organization_id = ? AND shift_id = ?
            AND user_id = ? AND status IN ('assigned', 'pending', 'confirmed')",
    )
    .bind(ctx.org_id)
    .bind(s.id)
    .bind(ctx.user_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((id, position)) = mine else {
        return shift(ctx, tx, shift_id).await;
    };
    end_assignment(ctx, tx, &s, id, ctx.user_id, AssignmentStatus::Cancelled).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.withdrew", "shift_assignment", id).changes(serde_json::json!({
            "shift_id": s.id, "shift": s.title, "seat": position,
        })),
    )
    .await?;
    if let Some(officer) = s.shift_officer_id {
        let at = when(ctx, &s);
        tell(
            ctx,
            tx,
            notifier,
            &[officer],
            &s,
            format!("{} left the {position} seat on {}", ctx.username, s.title),
            format!("{} gave up the {position} seat on {} ({at}); it is open again.", ctx.username, s.title),
        )
        .await?;
    }
    shift(ctx, tx, shift_id).await
}

/// Ends an assignment, and the shift's officer with it when it was theirs.
pub(super) async fn end_assignment(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    s: &Locked,
    id: Uuid,
    user: Uuid,
    status: AssignmentStatus,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE shift_assignments SET status = ?, updated_at = ? WHERE organization_id = ? AND id = ?",
    )
    .bind(status)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if s.shift_officer_id == Some(user) {
        set_officer(ctx, tx, s.id, None).await?;
    }
    Ok(())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RespondInput {
    /// true: confirm; false: decline (the seat opens again).
    pub accept: bool,
}

/// The member answers an assignment: confirmed, or declined (the seat opens, the shift's
/// officer is told).
pub async fn respond(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    assignment: Uuid,
    input: RespondInput,
) -> AppResult<Shift> {
    ctx.require(SCHEDULING_VIEW)?;
    let row: Option<(Uuid, Uuid, AssignmentStatus, String)> = sqlx::query_as(
        "SELECT shift_id, user_id, status, position FROM shift_assignments
          WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(assignment)
    .fetch_optional(&mut **tx)
    .await?;
    let (shift_id, user, _, position) = row.ok_or(AppError::NotFound)?;
    if user != ctx.user_id {
        return Err(AppError::NotFound);
    }
    let s = lock_shift(ctx, tx, shift_id).await?;
    check_open(&s)?;
    let status: AssignmentStatus = sqlx::query_scalar(
        "SELECT status FROM shift_assignments WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(assignment)
    .fetch_one(&mut **tx)
    .await?;
    if !status.live() {
        return Err(AppError::Conflict(format!(
            "the assignment is {}",
            status.label().to_lowercase()
        )));
    }
    let to = if input.accept {
        AssignmentStatus::Confirmed
    } else {
        AssignmentStatus::Declined
    };
    if status == to {
        return shift(ctx, tx, shift_id).await;
    }
    if input.accept {
        sqlx::query(
            "UPDATE shift_assignments SET status = ?, confirmed_at = ?, updated_at = ?
              WHERE organization_id = ? AND id = ?",
        )
        .bind(to)
        .bind(db::now())
        .bind(db::now())
        .bind(ctx.org_id)
        .bind(assignment)
        .execute(&mut **tx)
        .await?;
    } else {
        end_assignment(ctx, tx, &s, assignment, user, to).await?;
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(
            if input.accept { "scheduling.confirmed" } else { "scheduling.declined" },
            "shift_assignment",
            assignment,
        )
        .changes(serde_json::json!({ "shift_id": s.id, "shift": s.title, "seat": position })),
    )
    .await?;
    if !input.accept
        && let Some(officer) = s.shift_officer_id
    {
        let at = when(ctx, &s);
        tell(
            ctx,
            tx,
            notifier,
            &[officer],
            &s,
            format!("{} declined the {position} seat on {}", ctx.username, s.title),
            format!("{} declined the {position} seat on {} ({at}); it is open again.", ctx.username, s.title),
        )
        .await?;
    }
    shift(ctx, tx, shift_id).await
}

/// An officer takes a member off a shift; the member is told.
pub async fn remove(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    assignment: Uuid,
) -> AppResult<Shift> {
    ctx.require(SCHEDULING_MANAGE)?;
    let row: Option<(Uuid, Uuid, String)> = sqlx::query_as(
        "SELECT shift_id, user_id, position FROM shift_assignments
          WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(assignment)
    .fetch_optional(&mut **tx)
    .await?;
    let (shift_id, user, position) = row.ok_or(AppError::NotFound)?;
    let s = lock_shift(ctx, tx, shift_id).await?;
    check_open(&s)?;
    let status: AssignmentStatus = sqlx::query_scalar(
        "SELECT status FROM shift_assignments WHERE organization_id = ? AND id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(assignment)
    .fetch_one(&mut **tx)
    .await?;
    if !status.live() {
        return shift(ctx, tx, shift_id).await;
    }
    end_assignment(ctx, tx, &s, assignment, user, AssignmentStatus::Cancelled).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.removed", "shift_assignment", assignment).changes(
            serde_json::json!({ "shift_id": s.id, "shift": s.title, "user_id": user, "seat": position }),
        ),
    )
    .await?;
    let at = when(ctx, &s);
    tell(
        ctx,
        tx,
        notifier,
        &[user],
        &s,
        format!("You are off {} ({at})", s.title),
        format!("An officer took you off the {position} seat on {} ({at}).", s.title),
    )
    .await?;
    shift(ctx, tx, shift_id).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Cancels a shift (an officer, or the shift's own officer): every seat is freed and its holder
/// told why.
pub async fn cancel(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    shift_id: Uuid,
    input: CancelInput,
) -> AppResult<Shift> {
    ctx.require(SCHEDULING_VIEW)?;
    let s = lock_shift(ctx, tx, shift_id).await?;
    if !ctx.has(SCHEDULING_MANAGE) && s.shift_officer_id != Some(ctx.user_id) {
        return Err(AppError::Forbidden("only an officer or the shift's own officer may cancel it".into()));
    }
    let reason = crate::input::required_text("reason", &input.reason, 500)?;
    check_open(&s)?;
    let holders: Vec<Uuid> = sqlx::query_scalar(
        "SELECT user_id FROM shift_assignments WHERE organization_id = ? AND shift_id = ?
            AND status IN ('assigned', 'pending', 'confirmed')",
    )
    .bind(ctx.org_id)
    .bind(s.id)
    .fetch_all(&mut **tx)
    .await?;
    let now = db::now();
    sqlx::query(
        "UPDATE shift_assignments SET status = 'cancelled', updated_at = ?
          WHERE organization_id = ? AND shift_id = ?
            AND status IN ('assigned', 'pending', 'confirmed')",
    )
    .bind(now)
    .bind(ctx.org_id)
    .bind(s.id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE shifts SET status = ?, cancellation_reason = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(ShiftStatus::Cancelled)
    .bind(&reason)
    .bind(now)
    .bind(ctx.org_id)
    .bind(s.id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("scheduling.shift_cancelled", "shift", s.id).changes(serde_json::json!({
            "shift": s.title, "reason": reason, "members": holders.len(),
        })),
    )
    .await?;
    let at = when(ctx, &s);
    tell(
        ctx,
        tx,
        notifier,
        &holders,
        &s,
        format!("Cancelled: {} ({at})", s.title),
        format!("{} on {at} is cancelled: {reason}", s.title),
    )
    .await?;
    shift(ctx, tx, shift_id).await
}


/// The shift an assignment of the caller's department is on.
pub async fn shift_of(ctx: &Ctx, conn: &mut Conn, assignment: Uuid) -> AppResult<Uuid> {
    ctx.require(SCHEDULING_VIEW)?;
    let shift: Option<Uuid> = sqlx::query_scalar(
        "SELECT shift_id FROM shift_assignments WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(assignment)
    .fetch_optional(&mut *conn)
    .await?;
    shift.ok_or(AppError::NotFound)
}
