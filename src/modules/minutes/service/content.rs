//! Motions and action items. Motions are part of the record: added and removed only while the
//! minutes may be edited. An action item's text is too, but its progress is not: the assignee
//! and the officers move it along at any time, and a job reminds the assignee before and after
//! its due date.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MINUTES_MANAGE, MINUTES_VIEW, lock_for, touched};
use crate::audit::{self, Entry};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::http::{Named, Page};
use crate::input::{self, Checks};
use crate::modules::minutes::rules::{self, ItemStatus, MinutesStatus, MotionResult, Priority, Step};
use crate::notify::{self, Notice, Notifier};

// ---------------------------------------------------------------------------------------------
// Motions

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Motion {
    pub id: Uuid,
    pub motion_text: String,
    pub moved_by: Option<Named>,
    pub seconded_by: Option<Named>,
    #[schema(schema_with = MotionResult::schema_object)]
    pub result: MotionResult,
    pub votes_for: Option<u16>,
    pub votes_against: Option<u16>,
    pub votes_abstain: Option<u16>,
}

#[derive(sqlx::FromRow)]
struct MotionRow {
    id: Uuid,
    motion_text: String,
    moved_by: Option<Uuid>,
    moved_by_name: Option<String>,
    seconded_by: Option<Uuid>,
    seconded_by_name: Option<String>,
    result: MotionResult,
    votes_for: Option<u16>,
    votes_against: Option<u16>,
    votes_abstain: Option<u16>,
}

pub(crate) async fn motions_of(conn: &mut Conn, org: OrgId, id: Uuid) -> AppResult<Vec<Motion>> {
    let rows: Vec<MotionRow> = sqlx::query_as(
        "SELECT mo.id, mo.motion_text, mo.moved_by,
                CONCAT(a.first_name, ' ', a.last_name) AS moved_by_name, mo.seconded_by,
                CONCAT(b.first_name, ' ', b.last_name) AS seconded_by_name, mo.result,
                mo.votes_for, mo.votes_against, mo.votes_abstain
           FROM meeting_motions mo
           LEFT JOIN users a ON a.organization_id = mo.organization_id AND a.id = mo.moved_by
           LEFT JOIN users b ON b.organization_id = mo.organization_id AND b.id = mo.seconded_by
          WHERE mo.organization_id = ? AND mo.minutes_id = ?
          ORDER BY mo.sort_order, mo.id",
    )
    .bind(org)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Motion {
            id: r.id,
            motion_text: r.motion_text,
            moved_by: Named::of(r.moved_by, r.moved_by_name),
            seconded_by: Named::of(r.seconded_by, r.seconded_by_name),
            result: r.result,
            votes_for: r.votes_for,
            votes_against: r.votes_against,
            votes_abstain: r.votes_abstain,
        })
        .collect())
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MotionInput {
    pub motion_text: String,
    pub moved_by: Option<Uuid>,
    pub seconded_by: Option<Uuid>,
    #[schema(schema_with = MotionResult::schema_object)]
    pub result: String,
    pub votes_for: Option<u16>,
    pub votes_against: Option<u16>,
    pub votes_abstain: Option<u16>,
}

/// Checks that each given member is one of the department's members; a field error otherwise.
async fn members_exist(
    c: &mut Checks,
    tx: &mut Tx<'_>,
    org: OrgId,
    given: &[(&str, Option<Uuid>)],
) -> AppResult<()> {
    for (field, id) in given {
        let Some(id) = id else { continue };
        let found: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM users WHERE organization_id = ? AND id = ?")
                .bind(org)
                .bind(id)
                .fetch_optional(&mut **tx)
                .await?;
        if found.is_none() {
            c.push(field, "is not a member of this department");
        }
    }
    Ok(())
}

/// Records a motion in editable minutes.
pub async fn add_motion(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    m: MotionInput,
) -> AppResult<Motion> {
    // The minutes first: another department's answer 404 whatever the body says.
    let (minutes, _) = lock_for(ctx, tx, id, Step::Edit).await?;
    let mut c = Checks::default();
    let text = c.take(input::optional_paragraphs("motion_text", Some(m.motion_text), 2000));
    if matches!(text, Some(None)) {
        c.push("motion_text", "is required: what was moved");
    }
    let result = c.take(
        MotionResult::parse(&m.result).ok_or_else(|| AppError::field("result", MotionResult::must_be())),
    );
    if m.moved_by.is_some() && m.moved_by == m.seconded_by {
        c.push("seconded_by", "must be someone other than the member who moved it");
    }
    for (field, v) in [
        ("votes_for", m.votes_for),
        ("votes_against", m.votes_against),
        ("votes_abstain", m.votes_abstain),
    ] {
        if v.is_some_and(|v| v > 10_000) {
            c.push(field, "must be at most 10000");
        }
    }
    members_exist(
        &mut c,
        tx,
        ctx.org_id,
        &[("moved_by", m.moved_by), ("seconded_by", m.seconded_by)],
    )
    .await?;
    c.finish()?;
    let (text, result) = (text.flatten().unwrap_or_default(), result.unwrap_or(MotionResult::Passed));
    let motion = db::new_id();
    sqlx::query(
        "INSERT INTO meeting_motions (id, organization_id, minutes_id, sort_order, motion_text,
                moved_by, seconded_by, result, votes_for, votes_against, votes_abstain, created_at)
         SELECT ?, ?, ?, COALESCE(MAX(sort_order) + 1, 0), ?, ?, ?, ?, ?, ?, ?, ?
           FROM meeting_motions WHERE organization_id = ? AND minutes_id = ?",
    )
    .bind(motion)
    .bind(ctx.org_id)
    .bind(id)
    .bind(&text)
    .bind(m.moved_by)
    .bind(m.seconded_by)
    .bind(result)
    .bind(m.votes_for)
    .bind(m.votes_against)
    .bind(m.votes_abstain)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    touched(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.motion_added", "meeting_motion", motion).changes(serde_json::json!({
            "minutes": minutes.title, "motion_text": text, "result": result,
            "moved_by": m.moved_by, "seconded_by": m.seconded_by, "votes_for": m.votes_for,
            "votes_against": m.votes_against, "votes_abstain": m.votes_abstain,
        })),
    )
    .await?;
    motions_of(tx, ctx.org_id, id)
        .await?
        .into_iter()
        .find(|x| x.id == motion)
        .ok_or(AppError::NotFound)
}

/// Removes a motion from editable minutes.
pub async fn remove_motion(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, motion: Uuid) -> AppResult<()> {
    let (minutes, _) = lock_for(ctx, tx, id, Step::Edit).await?;
    let text: Option<String> = sqlx::query_scalar(
        "SELECT motion_text FROM meeting_motions
          WHERE organization_id = ? AND minutes_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(motion)
    .fetch_optional(&mut **tx)
    .await?;
    let text = text.ok_or(AppError::NotFound)?;
    sqlx::query("DELETE FROM meeting_motions WHERE organization_id = ? AND id = ?")
        .bind(ctx.org_id)
        .bind(motion)
        .execute(&mut **tx)
        .await?;
    touched(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.motion_removed", "meeting_motion", motion)
            .changes(serde_json::json!({"minutes": minutes.title, "motion_text": text})),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Action items

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ActionItem {
    pub id: Uuid,
    pub minutes_id: Uuid,
    /// The minutes' title, for lists of one member's items.
    pub minutes_title: String,
    pub description: String,
    pub assignee: Named,
    pub due_date: Option<NaiveDate>,
    #[schema(schema_with = Priority::schema_object)]
    pub priority: Priority,
    #[schema(schema_with = ItemStatus::schema_object)]
    pub status: ItemStatus,
    /// Open and past its due date (in the department's time).
    pub overdue: bool,
    pub completed_at: Option<DateTime<Utc>>,
    /// Whether the caller may move it along: its assignee, or an officer.
    pub may_update: bool,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: Uuid,
    minutes_id: Uuid,
    minutes_title: String,
    description: String,
    assignee_id: Uuid,
    assignee_name: String,
    due_date: Option<NaiveDate>,
    priority: Priority,
    status: ItemStatus,
    completed_at: Option<DateTime<Utc>>,
}

const ITEM_SELECT: &str = "SELECT i.id, i.minutes_id, m.title AS minutes_title, i.description,
        i.assignee_id, CONCAT(u.first_name, ' ', u.last_name) AS assignee_name, i.due_date,
        i.priority, i.status, i.completed_at
   FROM minutes_action_items i
   JOIN meeting_minutes m ON m.organization_id = i.organization_id AND m.id = i.minutes_id
   JOIN users u ON u.organization_id = i.organization_id AND u.id = i.assignee_id";

fn item_of(ctx: &Ctx, today: NaiveDate, r: ItemRow) -> ActionItem {
    ActionItem {
        id: r.id,
        minutes_id: r.minutes_id,
        minutes_title: r.minutes_title,
        description: r.description,
        overdue: r.status.open() && r.due_date.is_some_and(|d| d < today),
        may_update: ctx.has(MINUTES_MANAGE) || r.assignee_id == ctx.user_id,
        assignee: Named {
            id: r.assignee_id,
            name: r.assignee_name,
        },
        due_date: r.due_date,
        priority: r.priority,
        status: r.status,
        completed_at: r.completed_at,
    }
}

pub(crate) async fn items_of(conn: &mut Conn, ctx: &Ctx, id: Uuid) -> AppResult<Vec<ActionItem>> {
    let rows: Vec<ItemRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ITEM_SELECT} WHERE i.organization_id = ? AND i.minutes_id = ?
          ORDER BY i.due_date IS NULL, i.due_date, i.id"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let today = crate::time::today(&ctx.timezone);
    Ok(rows.into_iter().map(|r| item_of(ctx, today, r)).collect())
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionItemInput {
    pub description: String,
    pub assignee_id: Uuid,
    pub due_date: Option<NaiveDate>,
    /// Default `medium`.
    #[schema(schema_with = Priority::schema_object_or_null)]
    pub priority: Option<String>,
}

/// Adds an action item to editable minutes. Its assignee hears of it when the minutes are
/// approved: until then the minutes, and so their items, are the officers' only.
pub async fn add_item(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    i: ActionItemInput,
) -> AppResult<ActionItem> {
    let (minutes, _) = lock_for(ctx, tx, id, Step::Edit).await?;
    let mut c = Checks::default();
    let text = c.take(input::required_text("description", &i.description, 1000));
    let priority = c
        .take(Priority::parse_filter("priority", i.priority.as_deref()))
        .flatten()
        .unwrap_or(Priority::Medium);
    c.take(input::plausible_date("due_date", i.due_date));
    members_exist(&mut c, tx, ctx.org_id, &[("assignee_id", Some(i.assignee_id))]).await?;
    c.finish()?;
    let text = text.unwrap_or_default();
    let item = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO minutes_action_items (id, organization_id, minutes_id, description,
                assignee_id, due_date, priority, status, created_by, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(item)
    .bind(ctx.org_id)
    .bind(id)
    .bind(&text)
    .bind(i.assignee_id)
    .bind(i.due_date)
    .bind(priority)
    .bind(ItemStatus::Pending)
    .bind(ctx.user_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    touched(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.action_item_added", "minutes_action_item", item).changes(
            serde_json::json!({
                "minutes": minutes.title, "description": text, "assignee_id": i.assignee_id,
                "due_date": i.due_date, "priority": priority,
            }),
        ),
    )
    .await?;
    item_for(ctx, tx, item).await
}

async fn item_for(ctx: &Ctx, conn: &mut Conn, item: Uuid) -> AppResult<ActionItem> {
    let row: Option<ItemRow> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{ITEM_SELECT} WHERE i.organization_id = ? AND i.id = ?")))
            .bind(ctx.org_id)
            .bind(item)
            .fetch_optional(&mut *conn)
            .await?;
    let today = crate::time::today(&ctx.timezone);
    Ok(item_of(ctx, today, row.ok_or(AppError::NotFound)?))
}

/// Progress on an action item.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionItemUpdate {
    #[schema(schema_with = ItemStatus::schema_object_or_null)]
    pub status: Option<String>,
    /// Officers only: a new due date (`null` to clear is not offered: give a date).
    pub due_date: Option<NaiveDate>,
    /// Officers only.
    #[schema(schema_with = Priority::schema_object_or_null)]
    pub priority: Option<String>,
    /// Officers only: hand it to someone else.
    pub assignee_id: Option<Uuid>,
}

/// Moves an action item along: its assignee changes its status; officers also its due date,
/// priority and assignee. Allowed whatever state the minutes are in.
pub async fn update_item(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    item: Uuid,
    u: ActionItemUpdate,
) -> AppResult<ActionItem> {
    ctx.require(MINUTES_VIEW)?;
    let manager = ctx.has(MINUTES_MANAGE);
    let found: Option<(Uuid, Uuid, ItemStatus, Option<NaiveDate>, Priority, String)> =
        sqlx::query_as(
            "SELECT minutes_id, assignee_id, status, due_date, priority, description
               FROM minutes_action_items
              WHERE organization_id = ? AND id = ? FOR UPDATE",
        )
        .bind(ctx.org_id)
        .bind(item)
        .fetch_optional(&mut **tx)
        .await?;
    let (minutes_id, assignee, status, due, priority, text) =
        found.ok_or(AppError::NotFound)?;
    // The minutes' state, read under their lock: officers change what was decided (due date,
    // priority, who) only while the minutes may be edited; progress moves at any time.
    let minutes = super::lock(tx, ctx.org_id, minutes_id).await?;
    let approved = minutes.status == MinutesStatus::Approved;
    // The assignee moves their own item along once the minutes are approved (a member does not
    // see drafts); anyone else needs to be an officer.
    if !manager {
        if assignee != ctx.user_id {
            return Err(AppError::forbidden_permission(MINUTES_MANAGE));
        }
        if !approved {
            return Err(AppError::NotFound);
        }
    }
    let decided = u.due_date.is_some() || u.priority.is_some() || u.assignee_id.is_some();
    if manager && decided {
        rules::next(minutes.status, Step::Edit).map_err(|why| {
            AppError::Conflict(format!(
                "{why}: an item's due date, priority and assignee are part of them (its \
                 progress still moves)"
            ))
        })?;
    }
    let mut c = Checks::default();
    let new_status = c.take(ItemStatus::parse_filter("status", u.status.as_deref())).flatten();
    let new_priority = c.take(Priority::parse_filter("priority", u.priority.as_deref())).flatten();
    if !manager && decided {
        c.push("status", "as the assignee you may change only the status; ask an officer");
    }
    c.take(input::plausible_date("due_date", u.due_date));
    members_exist(&mut c, tx, ctx.org_id, &[("assignee_id", u.assignee_id)]).await?;
    c.finish()?;
    let new_status = new_status.unwrap_or(status);
    let completed = match (status, new_status) {
        (a, b) if a == b => None,
        (_, ItemStatus::Completed) => Some(Some(db::now())),
        _ => Some(None),
    };
    let assignee_now = u.assignee_id.unwrap_or(assignee);
    sqlx::query(
        "UPDATE minutes_action_items
            SET status = ?, due_date = ?, priority = ?, assignee_id = ?,
                completed_at = IF(?, ?, completed_at), updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(new_status)
    .bind(u.due_date.or(due))
    .bind(new_priority.unwrap_or(priority))
    .bind(assignee_now)
    .bind(completed.is_some())
    .bind(completed.flatten())
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(item)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.action_item_updated", "minutes_action_item", item).changes(
            serde_json::json!({
                "minutes_id": minutes_id, "description": text,
                "status": {"from": status, "to": new_status},
                "due_date": u.due_date, "priority": new_priority, "assignee_id": u.assignee_id,
            }),
        ),
    )
    .await?;
    if approved && assignee_now != assignee && assignee_now != ctx.user_id {
        notify::notify(
            notifier,
            tx,
            ctx.org_id,
            &[assignee_now],
            &Notice {
                category: "minutes",
                subject: "An action item for you".into(),
                body: format!("Handed to you: {text}"),
                link: Some("/minutes/action-items".into()),
                dedupe_key: Some(format!("action-item-assigned:{item}:{assignee_now}")),
            },
        )
        .await?;
    }
    item_for(ctx, tx, item).await
}

/// Removes an action item from editable minutes.
pub async fn remove_item(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, item: Uuid) -> AppResult<()> {
    let (minutes, _) = lock_for(ctx, tx, id, Step::Edit).await?;
    let text: Option<String> = sqlx::query_scalar(
        "SELECT description FROM minutes_action_items
          WHERE organization_id = ? AND minutes_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .bind(item)
    .fetch_optional(&mut **tx)
    .await?;
    let text = text.ok_or(AppError::NotFound)?;
    sqlx::query("DELETE FROM minutes_action_items WHERE organization_id = ? AND id = ?")
        .bind(ctx.org_id)
        .bind(item)
        .execute(&mut **tx)
        .await?;
    touched(tx, ctx.org_id, id).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("minutes.action_item_removed", "minutes_action_item", item)
            .changes(serde_json::json!({"minutes": minutes.title, "description": text})),
    )
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// `mine` (the default for members) or `all` (officers).
    pub scope: Option<String>,
    /// Include completed and cancelled items.
    pub closed: Option<bool>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// Action items: the caller's own (members: of approved minutes), or every department item for
/// officers; open ones first by due date.
pub async fn items(ctx: &Ctx, conn: &mut Conn, q: ItemQuery) -> AppResult<Page<ActionItem>> {
    ctx.require(MINUTES_VIEW)?;
    let (page, per_page) = crate::http::PageQuery::resolve(q.page, q.per_page)?;
    let manager = ctx.has(MINUTES_MANAGE);
    let all = match q.scope.as_deref() {
        None | Some("mine") => false,
        Some("all") if manager => true,
        Some("all") => return Err(AppError::forbidden_permission(MINUTES_MANAGE)),
        Some(_) => return Err(AppError::field("scope", "must be one of mine, all")),
    };
    let filter = |b: &mut sqlx::QueryBuilder<sqlx::MySql>| {
        b.push(" WHERE i.organization_id = ").push_bind(ctx.org_id);
        if !all {
            b.push(" AND i.assignee_id = ").push_bind(ctx.user_id);
        }
        if !manager {
            b.push(" AND m.status = ").push_bind(MinutesStatus::Approved);
        }
        if !q.closed.unwrap_or(false) {
            b.push(" AND i.status IN (")
                .push_bind(ItemStatus::Pending)
                .push(", ")
                .push_bind(ItemStatus::InProgress)
                .push(")");
        }
    };
    let mut count = sqlx::QueryBuilder::new(
        "SELECT COUNT(*) FROM minutes_action_items i
           JOIN meeting_minutes m ON m.organization_id = i.organization_id AND m.id = i.minutes_id",
    );
    filter(&mut count);
    let total: i64 = count.build_query_scalar().fetch_one(&mut *conn).await?;
    let mut b = sqlx::QueryBuilder::new(ITEM_SELECT);
    filter(&mut b);
    b.push(" ORDER BY i.due_date IS NULL, i.due_date, i.id LIMIT ")
        .push_bind(per_page)
        .push(" OFFSET ")
        .push_bind(u64::from(page - 1) * u64::from(per_page));
    let rows: Vec<ItemRow> = b.build_query_as().fetch_all(&mut *conn).await?;
    let today = crate::time::today(&ctx.timezone);
    Ok(Page {
        items: rows.into_iter().map(|r| item_of(ctx, today, r)).collect(),
        page,
        per_page,
        total: total as u64,
    })
}

/// At approval: each assignee hears of their items (once each).
pub(crate) async fn tell_assignees(
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    org: OrgId,
    approver: Uuid,
    id: Uuid,
    title: &str,
) -> AppResult<()> {
    let items: Vec<(Uuid, Uuid, String, Option<NaiveDate>)> = sqlx::query_as(
        "SELECT id, assignee_id, description, due_date FROM minutes_action_items
          WHERE organization_id = ? AND minutes_id = ? AND status IN (?, ?)",
    )
    .bind(org)
    .bind(id)
    .bind(ItemStatus::Pending)
    .bind(ItemStatus::InProgress)
    .fetch_all(&mut **tx)
    .await?;
    for (item, assignee, text, due) in items {
        if assignee == approver {
            continue;
        }
        notify::notify(
            notifier,
            tx,
            org,
            &[assignee],
            &Notice {
                category: "minutes",
                subject: "An action item for you".into(),
                body: format!(
                    "From “{title}”: {text}{}",
                    due.map(|d| format!(" (due {d})")).unwrap_or_default()
                ),
                link: Some("/minutes/action-items".into()),
                dedupe_key: Some(format!("action-item-assigned:{item}")),
            },
        )
        .await?;
    }
    Ok(())
}
