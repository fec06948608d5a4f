//! Meeting attendance: who was present and who was excused, and each member's attendance over
//! a window, which a tier may require for voting (`membership_tiers.voting_min_attendance_pct`).
//!
//! A meeting linked to an event takes its `present` list from the event's check-ins (one list,
//! kept by whoever runs the door); the secretary adds only the excused. Approving the minutes
//! writes the check-ins down, so the record keeps the attendance it was approved with.
//!
//! What counts: meetings members are expected at (`MeetingType::counts_for_attendance`) whose
//! minutes are approved, on or after the member joined. A meeting the member was excused from,
//! or that fell inside a leave of absence, is not held against them (unless they came).

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MINUTES_MANAGE, MINUTES_VIEW, lock_for, touched};
use crate::audit::{self, Entry};
use crate::auth::permissions::MEMBERS_MANAGE;
use crate::auth::{Ctx, OrgId};
use crate::db::{Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::Named;
use crate::input::{self, Checks};
use crate::members::rules::MemberStatus;
use crate::modules::minutes::rules::{self, Attendance, MeetingType, MinutesStatus, Step};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Excused {
    pub member: Named,
    pub excuse: Option<String>,
}

/// A meeting's attendance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttendanceView {
    pub present: Vec<Named>,
    pub excused: Vec<Excused>,
    /// `present` is the linked event's check-ins (until the minutes are approved).
    pub from_event: bool,
}

/// The meeting's attendance as it stands.
pub(crate) async fn view(
    conn: &mut Conn,
    org: OrgId,
    id: Uuid,
    event: Option<Uuid>,
    approved: bool,
) -> AppResult<AttendanceView> {
    let rows: Vec<(Uuid, String, Attendance, Option<String>)> = sqlx::query_as(
        "SELECT a.user_id, CONCAT(u.first_name, ' ', u.last_name), a.attendance, a.excuse
           FROM meeting_attendance a
           JOIN users u ON u.organization_id = a.organization_id AND u.id = a.user_id
          WHERE a.organization_id = ? AND a.minutes_id = ?
          ORDER BY u.last_name, u.first_name, u.id",
    )
    .bind(org)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut present = Vec::new();
    let mut excused = Vec::new();
    for (user, name, a, excuse) in rows {
        let member = Named { id: user, name };
        match a {
            Attendance::Present => present.push(member),
            Attendance::Excused => excused.push(Excused { member, excuse }),
        }
    }
    let from_event = event.is_some() && !approved;
    if let (Some(event), false) = (event, approved) {
        let excused_ids: HashSet<Uuid> = excused.iter().map(|e| e.member.id).collect();
        let checked_in: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT u.id, CONCAT(u.first_name, ' ', u.last_name)
               FROM event_attendees ea
               JOIN users u ON u.organization_id = ea.organization_id AND u.id = ea.user_id
              WHERE ea.organization_id = ? AND ea.event_id = ? AND ea.checked_in_at IS NOT NULL
              ORDER BY u.last_name, u.first_name, u.id",
        )
        .bind(org)
        .bind(event)
        .fetch_all(&mut *conn)
        .await?;
        present = checked_in
            .into_iter()
            .filter(|(id, _)| !excused_ids.contains(id))
            .map(|(id, name)| Named { id, name })
            .collect();
    }
    Ok(AttendanceView {
        present,
        excused,
        from_event,
    })
}

/// At approval: the event's check-ins become the meeting's `present` rows.
pub(crate) async fn keep_event_check_ins(
    tx: &mut Tx<'_>,
    org: OrgId,
    id: Uuid,
    event: Uuid,
) -> AppResult<()> {
    sqlx::query(
        "INSERT IGNORE INTO meeting_attendance (organization_id, minutes_id, user_id, attendance)
         SELECT ea.organization_id, ?, ea.user_id, ?
           FROM event_attendees ea
          WHERE ea.organization_id = ? AND ea.event_id = ? AND ea.checked_in_at IS NOT NULL",
    )
    .bind(id)
    .bind(Attendance::Present)
    .bind(org)
    .bind(event)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExcusedInput {
    pub user_id: Uuid,
    pub excuse: Option<String>,
}

/// The whole attendance of a meeting, replacing what was recorded.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceInput {
    /// Members present. Must be empty for a meeting linked to an event: check them in there.
    #[serde(default)]
    pub present: Vec<Uuid>,
    #[serde(default)]
    pub excused: Vec<ExcusedInput>,
}

/// Records who was present and who was excused (editable minutes only).
pub async fn set(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    a: AttendanceInput,
) -> AppResult<AttendanceView> {
    ctx.require(MINUTES_MANAGE)?;
    let mut c = Checks::default();
    if a.present.len() + a.excused.len() > 2000 {
        c.push("present", "must list at most 2000 members");
    }
    let mut seen = HashSet::new();
    for u in a.present.iter().chain(a.excused.iter().map(|e| &e.user_id)) {
        if !seen.insert(*u) {
            c.push("excused", "lists a member more than once (present and excused?)");
            break;
        }
    }
    let mut excuses = Vec::new();
    for (i, e) in a.excused.iter().enumerate() {
        excuses.push(
            c.take(input::optional_text(&format!("excused[{i}].excuse"), e.excuse.clone(), 300))
                .flatten(),
        );
    }
    c.finish()?;
    let (m, _) = lock_for(ctx, tx, id, Step::Edit).await?;
    if m.event_id.is_some() && !a.present.is_empty() {
        return Err(AppError::field(
            "present",
            "comes from the meeting's event: check members in on the event",
        ));
    }
    if !seen.is_empty() {
        let mut b = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM users WHERE organization_id = ");
        b.push_bind(ctx.org_id).push(" AND id IN (");
        let mut sep = b.separated(", ");
        for u in &seen {
            sep.push_bind(*u);
        }
        sep.push_unseparated(")");
        let found: i64 = b.build_query_scalar().fetch_one(&mut **tx).await?;
        if found as usize != seen.len() {
            return Err(AppError::field("present", "lists someone who is not a member of this department"));
        }
    }
    sqlx::query("DELETE FROM meeting_attendance WHERE organization_id = ? AND minutes_id = ?")
        .bind(ctx.org_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let rows: Vec<(Uuid, Attendance, Option<String>)> = a
        .present
        .iter()
        .map(|u| (*u, Attendance::Present, None))
        .chain(
            a.excused
                .iter()
                .zip(excuses)
                .map(|(e, x)| (e.user_id, Attendance::Excused, x)),
        )
        .collect();
    if !rows.is_empty() {
        let mut b = sqlx::QueryBuilder::new(
            "INSERT INTO meeting_attendance (organization_id, minutes_id, user_id, attendance,
                    excuse) ",
        );
        b.push_values(&rows, |mut r, (user, att, excuse)| {
            r.push_bind(ctx.org_id)
                .push_bind(id)
                .push_bind(*user)
                .push_bind(*att)
                .push_bind(excuse.clone());
        });
        b.build().execute(&mut **tx).await?;
    }
    touched(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.attendance_recorded", "meeting_minutes", id).changes(
            serde_json::json!({
                "minutes": m.title, "present": a.present,
                "excused": a.excused.iter().map(|e| e.user_id).collect::<Vec<_>>(),
            }),
        ),
    )
    .await?;
    view(tx, ctx.org_id, id, m.event_id, false).await
}

// ---------------------------------------------------------------------------------------------
// Members' attendance over a window

/// A member's meeting attendance over a window, with what their tier asks for voting.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberAttendance {
    pub member: Named,
    pub tier: Option<String>,
    /// First and last day of the window.
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Meetings held against them: those they came to, and those they missed unexcused.
    pub counted: u32,
    pub present: u32,
    pub excused: u32,
    /// `present ÷ counted` as a whole percentage; 100 when nothing counted.
    pub percent: u8,
    /// The least their tier asks to vote, if it asks.
    pub required_percent: Option<u8>,
    /// Whether attendance keeps them from voting.
    pub below_minimum: bool,
}

#[derive(sqlx::FromRow)]
struct AttendanceRow {
    id: Uuid,
    name: String,
    tier: Option<String>,
    min_pct: Option<u8>,
    months: Option<u8>,
    counted: i64,
    present: i64,
    excused: i64,
}

/// Each member's attendance up to `as_of` over their tier's window (12 months without one):
/// one statement for the department's current members, or for one member. With
/// `only_required`, every member whose tier asks a minimum, whatever their status (an
/// election's roll may take any status).
pub async fn summaries(
    conn: &mut Conn,
    org: OrgId,
    as_of: NaiveDate,
    member: Option<Uuid>,
    only_required: bool,
) -> AppResult<Vec<MemberAttendance>> {
    let counting: Vec<&str> = MeetingType::WORDS
        .iter()
        .copied()
        .filter(|w| MeetingType::parse(w).is_some_and(MeetingType::counts_for_attendance))
        .collect();
    // The meetings in a member's window: approved, of a type that counts, on or after they
    // joined.
    let window = "m.organization_id = u.organization_id AND m.status = ?
               AND FIND_IN_SET(m.meeting_type, ?) > 0
               AND m.meeting_date <= ?
               AND m.meeting_date > DATE_SUB(?, INTERVAL COALESCE(t.voting_attendance_months, 12) MONTH)
               AND (u.hire_date IS NULL OR m.meeting_date >= u.hire_date)";
    // The words come from their enums, never typed into the SQL.
    let (present, excused) = (Attendance::Present.as_str(), Attendance::Excused.as_str());
    let mut sql = format!(
        "SELECT u.id, CONCAT(u.first_name, ' ', u.last_name) AS name, t.name AS tier,
                t.voting_min_attendance_pct AS min_pct, t.voting_attendance_months AS months,
                (SELECT COUNT(*) FROM meeting_minutes m
                  LEFT JOIN meeting_attendance a ON a.minutes_id = m.id AND a.user_id = u.id
                  WHERE {window}
                    AND (a.attendance = '{present}'
                         OR (a.attendance IS NULL AND NOT EXISTS (
                               SELECT 1 FROM member_leaves_of_absence l
                                WHERE l.organization_id = u.organization_id AND l.user_id = u.id
                                  AND l.active AND l.start_date <= m.meeting_date
                                  AND (l.end_date IS NULL OR l.end_date >= m.meeting_date))))
                ) AS counted,
                (SELECT COUNT(*) FROM meeting_minutes m
                   JOIN meeting_attendance a ON a.minutes_id = m.id AND a.user_id = u.id
                  WHERE {window} AND a.attendance = '{present}') AS present,
                (SELECT COUNT(*) FROM meeting_minutes m
                   JOIN meeting_attendance a ON a.minutes_id = m.id AND a.user_id = u.id
                  WHERE {window} AND a.attendance = '{excused}') AS excused
           FROM users u
           LEFT JOIN membership_tiers t ON t.organization_id = u.organization_id
                                       AND t.id = u.membership_tier_id
          WHERE u.organization_id = ?"
    );
    if member.is_some() {
        sql.push_str(" AND u.id = ?");
    } else if !only_required {
        // Current members: those who may still vote or come back to.
        sql.push_str(&format!(
            " AND u.status IN ('{}', '{}', '{}')",
            MemberStatus::Active,
            MemberStatus::Probationary,
            MemberStatus::Leave
        ));
    }
    if only_required {
        sql.push_str(" AND t.voting_min_attendance_pct IS NOT NULL");
    }
    sql.push_str(" ORDER BY u.last_name, u.first_name, u.id");
    let words = counting.join(",");
    let mut query = sqlx::query_as::<_, AttendanceRow>(sqlx::AssertSqlSafe(sql));
    for _ in 0..3 {
        query = query
            .bind(MinutesStatus::Approved)
            .bind(words.clone())
            .bind(as_of)
            .bind(as_of);
    }
    query = query.bind(org);
    if let Some(m) = member {
        query = query.bind(m);
    }
    let rows: Vec<AttendanceRow> = query.fetch_all(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let months = u32::from(r.months.unwrap_or(12));
            let percent = rules::attendance_pct(r.present as u32, r.counted as u32);
            MemberAttendance {
                member: Named {
                    id: r.id,
                    name: r.name,
                },
                tier: r.tier,
                from: rules::window_start(as_of, months).succ_opt().unwrap_or(as_of),
                to: as_of,
                counted: r.counted as u32,
                present: r.present as u32,
                excused: r.excused as u32,
                percent,
                required_percent: r.min_pct,
                below_minimum: r.min_pct.is_some_and(|min| percent < min),
            }
        })
        .collect())
}

/// The members whose attendance is below their tier's minimum for voting, as of `as_of` (for
/// an election's roll).
pub async fn below_minimum(conn: &mut Conn, org: OrgId, as_of: NaiveDate) -> AppResult<Vec<Uuid>> {
    Ok(summaries(conn, org, as_of, None, true)
        .await?
        .into_iter()
        .filter(|s| s.below_minimum)
        .map(|s| s.member.id)
        .collect())
}

/// One member's attendance: their own, or anyone's for officers of minutes or membership.
pub async fn of_member(
    ctx: &Ctx,
    conn: &mut Conn,
    member: Uuid,
    as_of: Option<NaiveDate>,
) -> AppResult<MemberAttendance> {
    ctx.require(MINUTES_VIEW)?;
    let as_of = input::plausible_date("as_of", as_of)?;
    if member != ctx.user_id && !ctx.has(MINUTES_MANAGE) && !ctx.has(MEMBERS_MANAGE) {
        return Err(AppError::forbidden_permission(MINUTES_MANAGE));
    }
    let as_of = as_of.unwrap_or_else(|| crate::time::today(&ctx.timezone));
    summaries(conn, ctx.org_id, as_of, Some(member), false)
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)
}

/// Every current member's attendance (officers).
pub async fn department(
    ctx: &Ctx,
    conn: &mut Conn,
    as_of: Option<NaiveDate>,
) -> AppResult<Vec<MemberAttendance>> {
    ctx.require(MINUTES_VIEW)?;
    if !ctx.has(MINUTES_MANAGE) && !ctx.has(MEMBERS_MANAGE) {
        return Err(AppError::forbidden_permission(MINUTES_MANAGE));
    }
    let as_of = input::plausible_date("as_of", as_of)?.unwrap_or_else(|| crate::time::today(&ctx.timezone));
    summaries(conn, ctx.org_id, as_of, None, false).await
}
