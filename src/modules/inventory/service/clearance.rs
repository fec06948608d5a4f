//! Departure clearance: when a member retires or is dropped (membership tells us, in the status
//! change's transaction) or an officer starts one, everything the member holds becomes a line:
//! returned or returned damaged (the real check-in, take-back or return runs), written off (the
//! item is lost; a pool's units leave the stock) or waived (the member keeps it; it leaves the
//! department's inventory). The first resolution puts it in progress; the last one completes it;
//! an officer may close it with lines still pending, saying why. One open clearance per member.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::moves::{self, IssuanceReturn, ReturnInput};
use super::INVENTORY_MANAGE;
use crate::audit::{self, Entry};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::input::{Checks, optional_text, required_text};

pub const DISPOSITIONS: &[(&str, &str)] = &[
    ("returned", "Returned"),
    ("returned_damaged", "Returned damaged"),
    ("written_off", "Written off (lost)"),
    ("waived", "Waived (theirs to keep)"),
];

pub fn disposition_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["returned", "returned_damaged", "written_off", "waived"])
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ClearanceLine {
    pub id: Uuid,
    /// `checkout`, `assignment` or `issuance`.
    pub source_type: String,
    pub item_id: Uuid,
    pub item_name: String,
    pub barcode: String,
    pub serial_number: Option<String>,
    pub quantity: u32,
    /// `pending`, `returned`, `returned_damaged`, `written_off` or `waived`.
    pub disposition: String,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Clearance {
    pub id: Uuid,
    pub user_id: Uuid,
    pub member_name: String,
    /// `initiated`, `in_progress`, `completed` or `closed_incomplete`.
    pub status: String,
    pub departure_type: String,
    pub return_deadline: Option<NaiveDate>,
    pub initiated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub close_reason: Option<String>,
    pub total_items: usize,
    pub items_outstanding: usize,
    pub lines: Vec<ClearanceLine>,
}

#[derive(sqlx::FromRow)]
struct Head {
    id: Uuid,
    user_id: Uuid,
    member_name: String,
    status: String,
    departure_type: String,
    return_deadline: Option<NaiveDate>,
    initiated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    close_reason: Option<String>,
}

const HEAD: &str = "SELECT c.id, c.user_id, CONCAT(u.first_name, ' ', u.last_name) AS member_name,
        c.status, c.departure_type, c.return_deadline, c.initiated_at, c.completed_at,
        c.close_reason
   FROM departure_clearances c
   JOIN users u ON u.organization_id = c.organization_id AND u.id = c.user_id";

const LINES: &str = "SELECT id, clearance_id, source_type, item_id, item_name, barcode,
        serial_number, quantity, disposition, resolved_at, resolution_notes
   FROM clearance_line_items";

#[derive(sqlx::FromRow)]
struct LineRow {
    clearance_id: Uuid,
    #[sqlx(flatten)]
    line: ClearanceLine,
}

fn assemble(head: Head, lines: Vec<ClearanceLine>) -> Clearance {
    Clearance {
        id: head.id,
        user_id: head.user_id,
        member_name: head.member_name,
        status: head.status,
        departure_type: head.departure_type,
        return_deadline: head.return_deadline,
        initiated_at: head.initiated_at,
        completed_at: head.completed_at,
        close_reason: head.close_reason,
        total_items: lines.len(),
        items_outstanding: lines.iter().filter(|l| l.disposition == "pending").count(),
        lines,
    }
}

async fn load(conn: &mut Conn, org: OrgId, id: Uuid, lock: bool) -> AppResult<Clearance> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let head: Head = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{HEAD} WHERE c.organization_id = ? AND c.id = ?{lock}"
    )))
    .bind(org)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let lines: Vec<ClearanceLine> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{LINES} WHERE organization_id = ? AND clearance_id = ? ORDER BY item_name, id"
    )))
    .bind(org)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(assemble(head, lines))
}

pub async fn clearance(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Clearance> {
    ctx.require(INVENTORY_MANAGE)?;
    load(conn, ctx.org_id, id, false).await
}

/// Open clearances (or all, newest first, at most 200), with their lines: two statements
/// whatever their number (the dashboard asks on every visit).
pub async fn clearances(ctx: &Ctx, conn: &mut Conn, open_only: bool) -> AppResult<Vec<Clearance>> {
    ctx.require(INVENTORY_MANAGE)?;
    let filter = if open_only {
        " AND c.status IN ('initiated', 'in_progress')"
    } else {
        ""
    };
    let heads: Vec<Head> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{HEAD} WHERE c.organization_id = ?{filter} ORDER BY c.initiated_at DESC LIMIT 200"
    )))
    .bind(ctx.org_id)
    .fetch_all(&mut *conn)
    .await?;
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = sqlx::QueryBuilder::new(LINES);
    q.push(" WHERE organization_id = ");
    q.push_bind(ctx.org_id);
    q.push(" AND clearance_id IN (");
    let mut ids = q.separated(", ");
    for h in &heads {
        ids.push_bind(h.id);
    }
    q.push(") ORDER BY item_name, id");
    let mut lines: Vec<LineRow> = q.build_query_as().fetch_all(&mut *conn).await?;
    Ok(heads
        .into_iter()
        .map(|head| {
            let (mine, rest): (Vec<LineRow>, Vec<LineRow>) = std::mem::take(&mut lines)
                .into_iter()
                .partition(|l| l.clearance_id == head.id);
            lines = rest;
            assemble(head, mine.into_iter().map(|l| l.line).collect())
        })
        .collect())
}

/// Opens a clearance for `member` listing what they hold now, if they hold anything and have
/// none open. `who`: the departure. Returns the clearance, or None when there was nothing to
/// clear. No permission check: the callers check theirs (an officer starting one, or
/// membership's status change).
async fn open(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    member: Uuid,
    departure: &str,
    deadline: Option<NaiveDate>,
) -> AppResult<Option<Uuid>> {
    // The member's row serializes two clearances started at once.
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM users WHERE organization_id = ? AND id = ? FOR UPDATE")
            .bind(ctx.org_id)
            .bind(member)
            .fetch_optional(&mut **tx)
            .await?;
    if found.is_none() {
        return Err(AppError::field("user_id", "is not a member of the department"));
    }
    let existing: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM departure_clearances WHERE organization_id = ? AND open_user_id = ?",
    )
    .bind(ctx.org_id)
    .bind(member)
    .fetch_optional(&mut **tx)
    .await?;
    if existing.is_some() {
        return Err(AppError::Conflict(
            "the member already has an open clearance".into(),
        ));
    }
    let held = moves::holdings_unchecked(tx, ctx.org_id, member).await?;
    if held.is_empty() {
        return Ok(None);
    }
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO departure_clearances (id, organization_id, user_id, open_user_id, status,
                departure_type, return_deadline, initiated_by, initiated_at)
         VALUES (?, ?, ?, ?, 'initiated', ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(member)
    .bind(member)
    .bind(departure)
    .bind(deadline)
    .bind(ctx.user_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    for h in &held {
        sqlx::query(
            "INSERT INTO clearance_line_items (id, organization_id, clearance_id, source_type,
                    source_id, item_id, item_name, barcode, serial_number, quantity,
                    replacement_cost, disposition)
             SELECT ?, ?, ?, ?, ?, i.id, i.name, i.barcode, i.serial_number, ?,
                    i.replacement_cost, 'pending'
               FROM inventory_items i WHERE i.organization_id = ? AND i.id = ?",
        )
        .bind(db::new_id())
        .bind(ctx.org_id)
        .bind(id)
        .bind(&h.kind)
        .bind(h.id)
        .bind(h.quantity)
        .bind(ctx.org_id)
        .bind(h.item_id)
        .execute(&mut **tx)
        .await?;
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.clearance_opened", "member", member).changes(serde_json::json!({
            "clearance_id": id,
            "departure_type": departure,
            "items": held.iter().map(|h| format!("{} ({})", h.item_name, h.barcode)).collect::<Vec<_>>(),
        })),
    )
    .await?;
    Ok(Some(id))
}

/// Membership's status change: a member who retired or was dropped gets a clearance for what
/// they hold (nothing held: none), the quartermasters are told.
pub async fn on_member_left(ctx: &Ctx, tx: &mut Tx<'_>, member: Uuid) -> AppResult<()> {
    let status: String =
        sqlx::query_scalar("SELECT status FROM users WHERE organization_id = ? AND id = ?")
            .bind(ctx.org_id)
            .bind(member)
            .fetch_one(&mut **tx)
            .await?;
    let departure = match status.as_str() {
        "retired" | "dropped_voluntary" | "dropped_involuntary" => status.as_str(),
        _ => "other",
    };
    let existing: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM departure_clearances WHERE organization_id = ? AND open_user_id = ?",
    )
    .bind(ctx.org_id)
    .bind(member)
    .fetch_optional(&mut **tx)
    .await?;
    if existing.is_some() {
        return Ok(());
    }
    let deadline = crate::time::today(&ctx.timezone) + chrono::Days::new(30);
    open(ctx, tx, member, departure, Some(deadline)).await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartClearance {
    pub user_id: Uuid,
    /// The day everything should be back by.
    pub return_deadline: Option<NaiveDate>,
}

/// An officer starts a clearance by hand (a member moving away before their status changes).
pub async fn start(ctx: &Ctx, tx: &mut Tx<'_>, input: StartClearance) -> AppResult<Clearance> {
    ctx.require(INVENTORY_MANAGE)?;
    if let Some(d) = input.return_deadline
        && d < crate::time::today(&ctx.timezone)
    {
        return Err(AppError::field(
            "return_deadline",
            "must not be in the past",
        ));
    }
    match open(ctx, tx, input.user_id, "other", input.return_deadline).await? {
        Some(id) => load(tx, ctx.org_id, id, false).await,
        None => Err(AppError::Conflict(
            "the member holds no department equipment: there is nothing to clear".into(),
        )),
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    #[schema(schema_with = disposition_schema)]
    pub disposition: String,
    /// Required when returned damaged (what is wrong), written off or waived (why).
    #[schema(max_length = 1000)]
    pub notes: Option<String>,
}

/// Resolves one line, running the real return for `returned` and `returned_damaged`.
pub async fn resolve(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    clearance_id: Uuid,
    line_id: Uuid,
    input: Resolve,
) -> AppResult<Clearance> {
    ctx.require(INVENTORY_MANAGE)?;
    let before = load(tx, ctx.org_id, clearance_id, true).await?;
    let Some(line) = before.lines.iter().find(|l| l.id == line_id).cloned() else {
        return Err(AppError::NotFound);
    };
    let mut c = Checks::default();
    let disposition = input.disposition.trim().to_string();
    if !DISPOSITIONS.iter().any(|(w, _)| *w == disposition) {
        c.push(
            "disposition",
            "must be one of: returned, returned_damaged, written_off, waived",
        );
    }
    let notes = c.take(optional_text("notes", input.notes, 1000)).flatten();
    if disposition != "returned" && notes.is_none() && c.is_empty() {
        c.push(
            "notes",
            "is required: say what is wrong, or why it is written off or waived",
        );
    }
    c.finish()?;
    if !matches!(before.status.as_str(), "initiated" | "in_progress") {
        return Err(AppError::Conflict("this clearance is closed".into()));
    }
    if line.disposition != "pending" {
        return Err(AppError::Conflict(format!(
            "{} is already resolved",
            line.item_name
        )));
    }
    // The holding the line is about, if the member still has it (it may have come back by
    // the ordinary way since).
    let source_id: Uuid = sqlx::query_scalar(
        "SELECT source_id FROM clearance_line_items WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(line_id)
    .fetch_one(&mut **tx)
    .await?;
    let held = moves::holdings_unchecked(tx, ctx.org_id, before.user_id).await?;
    let still_held = held.iter().any(|h| h.id == source_id);
    if still_held {
        match disposition.as_str() {
            "returned" | "returned_damaged" => {
                let condition = if disposition == "returned" {
                    "good"
                } else {
                    "damaged"
                };
                let back = ReturnInput {
                    condition: condition.into(),
                    damage_notes: notes.clone(),
                };
                match line.source_type.as_str() {
                    "checkout" => {
                        moves::check_in(ctx, tx, line.item_id, back).await?;
                    }
                    "assignment" => {
                        moves::unassign(ctx, tx, line.item_id, back).await?;
                    }
                    _ => {
                        moves::return_issuance(
                            ctx,
                            tx,
                            source_id,
                            IssuanceReturn {
                                condition: condition.into(),
                            },
                        )
                        .await?;
                    }
                }
            }
            _ => {
                moves::let_go(
                    ctx,
                    tx,
                    &line.source_type,
                    source_id,
                    line.item_id,
                    if disposition == "written_off" {
                        "lost"
                    } else {
                        "retired"
                    },
                )
                .await?
            }
        }
    }
    sqlx::query(
        "UPDATE clearance_line_items SET disposition = ?, resolved_at = ?, resolved_by = ?,
                resolution_notes = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&disposition)
    .bind(db::now())
    .bind(ctx.user_id)
    .bind(&notes)
    .bind(ctx.org_id)
    .bind(line_id)
    .execute(&mut **tx)
    .await?;
    let pending = before.items_outstanding - 1;
    let (status, open_user) = if pending == 0 {
        ("completed", None)
    } else {
        ("in_progress", Some(before.user_id))
    };
    sqlx::query(
        "UPDATE departure_clearances SET status = ?, open_user_id = ?,
                completed_at = IF(? = 'completed', ?, NULL), completed_by = IF(? = 'completed', ?, NULL)
          WHERE organization_id = ? AND id = ?",
    )
    .bind(status)
    .bind(open_user)
    .bind(status)
    .bind(db::now())
    .bind(status)
    .bind(ctx.user_id)
    .bind(ctx.org_id)
    .bind(clearance_id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.clearance_line_resolved", "member", before.user_id).changes(
            serde_json::json!({
                "clearance_id": clearance_id, "item": line.item_name, "barcode": line.barcode,
                "disposition": disposition, "notes": notes, "still_held": still_held,
                "clearance_status": status,
            }),
        ),
    )
    .await?;
    load(tx, ctx.org_id, clearance_id, false).await
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseClearance {
    /// Why it closes with lines still pending.
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Closes a clearance with lines still pending (`closed_incomplete`), saying why.
pub async fn close(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: CloseClearance,
) -> AppResult<Clearance> {
    ctx.require(INVENTORY_MANAGE)?;
    let before = load(tx, ctx.org_id, id, true).await?;
    let reason = required_text("reason", &input.reason, 500)?;
    if !matches!(before.status.as_str(), "initiated" | "in_progress") {
        return Err(AppError::Conflict("this clearance is already closed".into()));
    }
    sqlx::query(
        "UPDATE departure_clearances SET status = 'closed_incomplete', open_user_id = NULL,
                completed_at = ?, completed_by = ?, close_reason = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(db::now())
    .bind(ctx.user_id)
    .bind(&reason)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.clearance_closed", "member", before.user_id).changes(
            serde_json::json!({
                "clearance_id": id, "reason": reason, "pending": before.items_outstanding,
            }),
        ),
    )
    .await?;
    load(tx, ctx.org_id, id, false).await
}

/// Open clearances with lines pending, for the daily job's 30- and 90-day reminders: id,
/// member, when it began, what is pending.
pub async fn overdue_for_reminders(
    conn: &mut Conn,
    org: OrgId,
) -> AppResult<Vec<(Uuid, Uuid, String, DateTime<Utc>, i64)>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.user_id, CONCAT(u.first_name, ' ', u.last_name), c.initiated_at,
                (SELECT COUNT(*) FROM clearance_line_items l
                  WHERE l.organization_id = c.organization_id AND l.clearance_id = c.id
                    AND l.disposition = 'pending')
           FROM departure_clearances c
           JOIN users u ON u.organization_id = c.organization_id AND u.id = c.user_id
          WHERE c.organization_id = ? AND c.status IN ('initiated', 'in_progress')
            AND c.initiated_at <= ?",
    )
    .bind(org)
    .bind(db::now() - chrono::Duration::days(30))
    .fetch_all(conn)
    .await?)
}
