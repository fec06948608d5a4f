//! Who holds what: an item checked out (due back) or assigned (kept), units of a pool issued
//! and returned, and the history of each item and member. Every move locks the item's row
//! first and checks its status there, so of two officers checking out one radio at once one
//! succeeds and the other is told who has it; the pool's count cannot go below zero (a check in
//! the table as well).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{GONE, INVENTORY_MANAGE, INVENTORY_VIEW, Item, MemberRef, item_row};
use crate::audit::{self, Entry};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::modules::inventory::rules;
use crate::notify::{self, Notice, Notifier};

/// The member an item goes to: in the department, not gone. Not found: a field error.
async fn receiving_member(tx: &mut Tx<'_>, org: OrgId, id: Uuid) -> AppResult<String> {
    let row: Option<(String, String, String)> = sqlx::query_as(
        "SELECT first_name, last_name, status FROM users WHERE organization_id = ? AND id = ?",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    match row {
        None => Err(AppError::field("user_id", "is not a member of the department")),
        Some((_, _, status)) if GONE.contains(&format!("'{status}'")) => Err(AppError::field(
            "user_id",
            "has left the department and cannot be given equipment",
        )),
        Some((first, last, _)) => Ok(format!("{first} {last}")),
    }
}

/// Why an item of its own cannot go to anyone now, in words.
fn not_available(item: &Item) -> AppError {
    let who = item
        .holder
        .as_ref()
        .map(|h| format!(" to {}", h.name))
        .unwrap_or_default();
    let why = match item.status.as_str() {
        "checked_out" => format!("is checked out{who}"),
        "assigned" => format!("is assigned{who}"),
        "in_maintenance" => "is in maintenance".to_string(),
        "lost" => "is reported lost".to_string(),
        "stolen" => "is reported stolen".to_string(),
        "retired" => "is retired".to_string(),
        other => format!("is {other}"),
    };
    AppError::Conflict(format!("{} ({}) {why}", item.name, item.barcode))
}

fn individual(item: &Item) -> AppResult<()> {
    if item.tracking_type == "pool" {
        return Err(AppError::Conflict(format!(
            "{} is a stock of units: issue units instead",
            item.name
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Checkouts

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckoutInput {
    pub user_id: Uuid,
    /// When it is due back (after now, within a year); or give `due_date`.
    pub expected_return_at: Option<DateTime<Utc>>,
    /// The day it is due back by: it falls due at the department's midnight after it.
    pub due_date: Option<NaiveDate>,
    #[schema(max_length = 500)]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Checkout {
    pub id: Uuid,
    pub item_id: Uuid,
    pub item_name: String,
    pub barcode: String,
    pub user_id: Uuid,
    pub member_name: String,
    pub checked_out_at: DateTime<Utc>,
    pub expected_return_at: DateTime<Utc>,
    #[schema(schema_with = rules::condition_schema)]
    pub checkout_condition: String,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub return_condition: Option<String>,
    pub damage_notes: Option<String>,
    pub notes: Option<String>,
}

const CHECKOUT_SELECT: &str = "SELECT ck.id, ck.item_id, i.name AS item_name, i.barcode,
        ck.user_id, CONCAT(u.first_name, ' ', u.last_name) AS member_name, ck.checked_out_at,
        ck.expected_return_at, ck.checkout_condition, ck.checked_in_at, ck.return_condition,
        ck.damage_notes, ck.notes
   FROM inventory_checkouts ck
   JOIN inventory_items i ON i.organization_id = ck.organization_id AND i.id = ck.item_id
   JOIN users u ON u.organization_id = ck.organization_id AND u.id = ck.user_id";

async fn open_checkout(tx: &mut Tx<'_>, org: OrgId, item: Uuid) -> AppResult<Option<Checkout>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CHECKOUT_SELECT} WHERE ck.organization_id = ? AND ck.item_id = ?
            AND ck.checked_in_at IS NULL FOR UPDATE"
    )))
    .bind(org)
    .bind(item)
    .fetch_optional(&mut **tx)
    .await?)
}

pub async fn check_out(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    item_id: Uuid,
    input: CheckoutInput,
) -> AppResult<Checkout> {
    ctx.require(INVENTORY_MANAGE)?;
    let item = item_row(tx, ctx.org_id, item_id, true).await?;
    let now = db::now();
    let mut c = crate::input::Checks::default();
    let member = c.take(receiving_member(tx, ctx.org_id, input.user_id).await);
    let due = c
        .take(due_moment(ctx, input.expected_return_at, input.due_date))
        .and_then(|due| c.take(rules::check_due_back(due, now).map(|_| due)));
    let notes = c
        .take(crate::input::optional_text("notes", input.notes, 500))
        .flatten();
    c.finish()?;
    individual(&item)?;
    if item.status != "available" {
        return Err(not_available(&item));
    }
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO inventory_checkouts (id, organization_id, item_id, user_id, checked_out_at,
                checked_out_by, expected_return_at, checkout_condition, notes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(item_id)
    .bind(input.user_id)
    .bind(now)
    .bind(ctx.user_id)
    .bind(due)
    .bind(&item.condition)
    .bind(&notes)
    .execute(&mut **tx)
    .await?;
    set_holder(tx, ctx.org_id, item_id, "checked_out", Some(input.user_id)).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.checked_out", "inventory_item", item_id).changes(
            serde_json::json!({
                "item": item.name, "barcode": item.barcode,
                "member": member, "member_id": input.user_id,
                "expected_return_at": due,
            }),
        ),
    )
    .await?;
    open_checkout(tx, ctx.org_id, item_id)
        .await?
        .ok_or(AppError::NotFound)
}

async fn set_holder(
    tx: &mut Tx<'_>,
    org: OrgId,
    item: Uuid,
    status: &str,
    holder: Option<Uuid>,
) -> AppResult<()> {
    sqlx::query(
        "UPDATE inventory_items SET status = ?, holder_id = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(status)
    .bind(holder)
    .bind(db::now())
    .bind(org)
    .bind(item)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnInput {
    /// The condition it came back in.
    #[schema(schema_with = rules::condition_schema)]
    pub condition: String,
    /// What is wrong with it (required when it came back damaged or out of service).
    #[schema(max_length = 1000)]
    pub damage_notes: Option<String>,
}

impl ReturnInput {
    fn validate(self) -> AppResult<(String, Option<String>)> {
        let mut c = crate::input::Checks::default();
        let condition = c.take(rules::condition("condition", &self.condition));
        let notes = c
            .take(crate::input::optional_paragraphs(
                "damage_notes",
                self.damage_notes,
                1000,
            ))
            .flatten();
        if condition.as_deref().is_some_and(rules::unusable) && notes.is_none() {
            c.push("damage_notes", "is required when it came back damaged");
        }
        c.finish()?;
        Ok((condition.unwrap_or_default(), notes))
    }
}

/// The status an item of its own goes back to when it is returned in `condition`.
fn back_in(condition: &str) -> &'static str {
    if rules::unusable(condition) {
        "in_maintenance"
    } else {
        "available"
    }
}

/// Checks in the item's open checkout: its condition is recorded on the checkout and the item,
/// and a damaged item goes to maintenance instead of back on the shelf.
pub async fn check_in(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    item_id: Uuid,
    input: ReturnInput,
) -> AppResult<Checkout> {
    ctx.require(INVENTORY_MANAGE)?;
    let item = item_row(tx, ctx.org_id, item_id, true).await?;
    let (condition, notes) = input.validate()?;
    let Some(open) = open_checkout(tx, ctx.org_id, item_id).await? else {
        return Err(AppError::Conflict(format!(
            "{} ({}) is not checked out",
            item.name, item.barcode
        )));
    };
    let now = db::now();
    sqlx::query(
        "UPDATE inventory_checkouts SET checked_in_at = ?, checked_in_by = ?,
                return_condition = ?, damage_notes = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(now)
    .bind(ctx.user_id)
    .bind(&condition)
    .bind(&notes)
    .bind(ctx.org_id)
    .bind(open.id)
    .execute(&mut **tx)
    .await?;
    returned_in(tx, ctx.org_id, item_id, &condition).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.checked_in", "inventory_item", item_id).changes(serde_json::json!({
            "item": item.name, "barcode": item.barcode,
            "member": open.member_name, "member_id": open.user_id,
            "condition": condition, "damage_notes": notes,
            "overdue": rules::is_overdue(open.expected_return_at, now),
        })),
    )
    .await?;
    checkout(tx, ctx.org_id, open.id).await
}

async fn returned_in(tx: &mut Tx<'_>, org: OrgId, item: Uuid, condition: &str) -> AppResult<()> {
    sqlx::query(
        "UPDATE inventory_items SET status = ?, holder_id = NULL, `condition` = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(back_in(condition))
    .bind(condition)
    .bind(db::now())
    .bind(org)
    .bind(item)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn checkout(tx: &mut Tx<'_>, org: OrgId, id: Uuid) -> AppResult<Checkout> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CHECKOUT_SELECT} WHERE ck.organization_id = ? AND ck.id = ?"
    )))
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendInput {
    pub expected_return_at: Option<DateTime<Utc>>,
    /// The day it is due back by, instead of `expected_return_at`.
    pub due_date: Option<NaiveDate>,
}

/// The due-back moment given either way: a moment, or a day (due by its end, in the
/// department's zone). A day before today is refused beside `due_date`.
fn due_moment(
    ctx: &Ctx,
    at: Option<DateTime<Utc>>,
    day: Option<NaiveDate>,
) -> AppResult<DateTime<Utc>> {
    match (at, day) {
        (Some(at), None) => Ok(at),
        (None, Some(day)) => {
            if day < crate::time::today(&ctx.timezone) {
                return Err(AppError::field("due_date", "must not be before today"));
            }
            Ok(rules::due_back_at(day, crate::time::zone(&ctx.timezone)))
        }
        (None, None) => Err(AppError::field(
            "expected_return_at",
            "is required (or give due_date)",
        )),
        (Some(_), Some(_)) => Err(AppError::field(
            "due_date",
            "must not be given with expected_return_at",
        )),
    }
}

/// A new due-back moment for the item's open checkout: the member who has it, or an officer.
pub async fn extend(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    item_id: Uuid,
    input: ExtendInput,
) -> AppResult<Checkout> {
    ctx.require(INVENTORY_VIEW)?;
    let item = item_row(tx, ctx.org_id, item_id, true).await?;
    let open = open_checkout(tx, ctx.org_id, item_id).await?;
    let open = match open {
        Some(o) if o.user_id == ctx.user_id || ctx.has(INVENTORY_MANAGE) => o,
        Some(_) => return Err(AppError::forbidden_permission(INVENTORY_MANAGE)),
        None if ctx.has(INVENTORY_MANAGE) => {
            return Err(AppError::Conflict(format!(
                "{} ({}) is not checked out",
                item.name, item.barcode
            )));
        }
        None => return Err(AppError::forbidden_permission(INVENTORY_MANAGE)),
    };
    let due = due_moment(ctx, input.expected_return_at, input.due_date)?;
    rules::check_due_back(due, open.checked_out_at)?;
    if due <= db::now() {
        return Err(AppError::field(
            "expected_return_at",
            "must be in the future",
        ));
    }
    sqlx::query(
        "UPDATE inventory_checkouts SET expected_return_at = ? WHERE organization_id = ? AND id = ?",
    )
    .bind(due)
    .bind(ctx.org_id)
    .bind(open.id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.checkout_extended", "inventory_item", item_id).changes(
            serde_json::json!({
                "item": item.name, "member": open.member_name,
                "from": open.expected_return_at, "to": due,
            }),
        ),
    )
    .await?;
    checkout(tx, ctx.org_id, open.id).await
}

/// Bounds of a DATETIME column: a filter with them keeps every row.
fn start_of_time() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid date")
        .and_utc()
}

fn end_of_time() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid date")
        .and_utc()
}

/// Open checkouts of the department (`overdue`: only those past due), soonest due first.
pub async fn open_checkouts(ctx: &Ctx, conn: &mut Conn, overdue: bool) -> AppResult<Vec<Checkout>> {
    ctx.require(INVENTORY_MANAGE)?;
    // Due by now (overdue), or by the end of time (all of them).
    let due_by = if overdue { db::now() } else { end_of_time() };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CHECKOUT_SELECT} WHERE ck.organization_id = ? AND ck.checked_in_at IS NULL
            AND ck.expected_return_at <= ?
          ORDER BY ck.expected_return_at, i.name LIMIT 500"
    )))
    .bind(ctx.org_id)
    .bind(due_by)
    .fetch_all(conn)
    .await?)
}

// ---------------------------------------------------------------------------------------------
// Assignments

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignInput {
    pub user_id: Uuid,
    /// `permanent` (default: the member keeps it) or `temporary` (with a return date).
    #[schema(schema_with = rules::assignment_type_schema)]
    pub assignment_type: Option<String>,
    pub expected_return_date: Option<NaiveDate>,
    #[schema(max_length = 500)]
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Assignment {
    pub id: Uuid,
    pub item_id: Uuid,
    pub item_name: String,
    pub user_id: Uuid,
    pub member_name: String,
    #[schema(schema_with = rules::assignment_type_schema)]
    pub assignment_type: String,
    pub assigned_at: DateTime<Utc>,
    pub expected_return_date: Option<NaiveDate>,
    pub returned_at: Option<DateTime<Utc>>,
    pub return_condition: Option<String>,
    pub notes: Option<String>,
}

const ASSIGNMENT_SELECT: &str = "SELECT a.id, a.item_id, i.name AS item_name, a.user_id,
        CONCAT(u.first_name, ' ', u.last_name) AS member_name, a.assignment_type, a.assigned_at,
        a.expected_return_date, a.returned_at, a.return_condition, a.notes
   FROM item_assignments a
   JOIN inventory_items i ON i.organization_id = a.organization_id AND i.id = a.item_id
   JOIN users u ON u.organization_id = a.organization_id AND u.id = a.user_id";

pub async fn assign(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    item_id: Uuid,
    input: AssignInput,
) -> AppResult<Assignment> {
    ctx.require(INVENTORY_MANAGE)?;
    let item = item_row(tx, ctx.org_id, item_id, true).await?;
    let today = crate::time::today(&ctx.timezone);
    let mut c = crate::input::Checks::default();
    let member = c.take(receiving_member(tx, ctx.org_id, input.user_id).await);
    let kind = match input.assignment_type.as_deref().map(str::trim) {
        None | Some("") | Some("permanent") => "permanent",
        Some("temporary") => "temporary",
        Some(_) => {
            c.push("assignment_type", "must be one of: permanent, temporary");
            "permanent"
        }
    };
    match (kind, input.expected_return_date) {
        ("temporary", None) => c.push("expected_return_date", "is required for a loan"),
        ("temporary", Some(d)) if d < today => {
            c.push("expected_return_date", "must not be in the past")
        }
        ("permanent", Some(_)) => c.push(
            "expected_return_date",
            "is for a temporary assignment only",
        ),
        _ => {}
    }
    let notes = c
        .take(crate::input::optional_text("notes", input.notes, 500))
        .flatten();
    c.finish()?;
    individual(&item)?;
    if item.status != "available" {
        return Err(not_available(&item));
    }
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO item_assignments (id, organization_id, item_id, user_id, assignment_type,
                assigned_at, assigned_by, expected_return_date, notes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(item_id)
    .bind(input.user_id)
    .bind(kind)
    .bind(db::now())
    .bind(ctx.user_id)
    .bind(input.expected_return_date)
    .bind(&notes)
    .execute(&mut **tx)
    .await?;
    set_holder(tx, ctx.org_id, item_id, "assigned", Some(input.user_id)).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.assigned", "inventory_item", item_id).changes(serde_json::json!({
            "item": item.name, "barcode": item.barcode,
            "member": member, "member_id": input.user_id, "assignment_type": kind,
        })),
    )
    .await?;
    notify::notify(
        notifier,
        tx,
        ctx.org_id,
        &[input.user_id],
        &Notice {
            category: "inventory",
            subject: format!("{} is assigned to you", item.name),
            body: format!(
                "{} ({}) is now assigned to you{}. It shows under \"What I hold\" in Logbook.",
                item.name,
                item.barcode,
                if kind == "temporary" { " for a while" } else { "" }
            ),
            link: Some("/inventory/mine".into()),
            dedupe_key: None,
        },
    )
    .await?;
    assignment(tx, ctx.org_id, id).await
}

async fn assignment(tx: &mut Tx<'_>, org: OrgId, id: Uuid) -> AppResult<Assignment> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ASSIGNMENT_SELECT} WHERE a.organization_id = ? AND a.id = ?"
    )))
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

/// Takes the item back from the member it is assigned to.
pub async fn unassign(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    item_id: Uuid,
    input: ReturnInput,
) -> AppResult<Assignment> {
    ctx.require(INVENTORY_MANAGE)?;
    let item = item_row(tx, ctx.org_id, item_id, true).await?;
    let (condition, notes) = input.validate()?;
    let open: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM item_assignments
          WHERE organization_id = ? AND item_id = ? AND returned_at IS NULL FOR UPDATE",
    )
    .bind(ctx.org_id)
    .bind(item_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(open) = open else {
        return Err(AppError::Conflict(format!(
            "{} ({}) is not assigned to anyone",
            item.name, item.barcode
        )));
    };
    sqlx::query(
        "UPDATE item_assignments SET returned_at = ?, returned_by = ?, return_condition = ?,
                notes = COALESCE(?, notes)
          WHERE organization_id = ? AND id = ?",
    )
    .bind(db::now())
    .bind(ctx.user_id)
    .bind(&condition)
    .bind(&notes)
    .bind(ctx.org_id)
    .bind(open)
    .execute(&mut **tx)
    .await?;
    returned_in(tx, ctx.org_id, item_id, &condition).await?;
    let done = assignment(tx, ctx.org_id, open).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.unassigned", "inventory_item", item_id).changes(serde_json::json!({
            "item": item.name, "barcode": item.barcode,
            "member": done.member_name, "member_id": done.user_id, "condition": condition,
        })),
    )
    .await?;
    Ok(done)
}

// ---------------------------------------------------------------------------------------------
// Pools: issue and return units

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueInput {
    pub user_id: Uuid,
    #[schema(minimum = 1)]
    pub quantity: i64,
    /// Issue past the member's allowance for the category: why (audited).
    #[schema(max_length = 500)]
    pub override_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Issuance {
    pub id: Uuid,
    pub item_id: Uuid,
    pub item_name: String,
    pub user_id: Uuid,
    pub member_name: String,
    pub quantity: u32,
    pub issued_at: DateTime<Utc>,
    pub override_reason: Option<String>,
    pub returned_at: Option<DateTime<Utc>>,
    pub return_condition: Option<String>,
}

const ISSUANCE_SELECT: &str = "SELECT s.id, s.item_id, i.name AS item_name, s.user_id,
        CONCAT(u.first_name, ' ', u.last_name) AS member_name, s.quantity, s.issued_at,
        s.override_reason, s.returned_at, s.return_condition
   FROM item_issuances s
   JOIN inventory_items i ON i.organization_id = s.organization_id AND i.id = s.item_id
   JOIN users u ON u.organization_id = s.organization_id AND u.id = s.user_id";

pub async fn issue(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    item_id: Uuid,
    input: IssueInput,
) -> AppResult<Issuance> {
    ctx.require(INVENTORY_MANAGE)?;
    let item = item_row(tx, ctx.org_id, item_id, true).await?;
    let mut c = crate::input::Checks::default();
    let member = c.take(receiving_member(tx, ctx.org_id, input.user_id).await);
    if input.quantity < 1 {
        c.push("quantity", "must be 1 or more");
    } else if input.quantity > 10_000 {
        c.push("quantity", "must be at most 10000");
    }
    let reason = c
        .take(crate::input::optional_text(
            "override_reason",
            input.override_reason,
            500,
        ))
        .flatten();
    c.finish()?;
    if item.tracking_type != "pool" {
        return Err(AppError::Conflict(format!(
            "{} is an item of its own: check it out or assign it instead",
            item.name
        )));
    }
    if matches!(item.status.as_str(), "retired" | "lost" | "stolen") {
        return Err(not_available(&item));
    }
    let quantity = input.quantity as u32;
    if quantity > item.quantity_available {
        return Err(AppError::field(
            "quantity",
            format!(
                "must be at most {}, the units on the shelf",
                item.quantity_available
            ),
        ));
    }
    // The member's allowance for the category, counted over its period.
    if let Some(category) = &item.category {
        let allowance: Option<(u32, String)> = sqlx::query_as(
            "SELECT max_quantity, period_type FROM issuance_allowances
              WHERE organization_id = ? AND category_id = ?",
        )
        .bind(ctx.org_id)
        .bind(category.id)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some((max, period)) = allowance {
            let since = rules::allowance_since(&period, crate::time::today(&ctx.timezone));
            let tz = crate::time::zone(&ctx.timezone);
            let since_at = rules::due_back_at(since.pred_opt().unwrap_or(since), tz);
            let used: u64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(s.quantity), 0) AS UNSIGNED) FROM item_issuances s
                   JOIN inventory_items i ON i.organization_id = s.organization_id AND i.id = s.item_id
                  WHERE s.organization_id = ? AND s.user_id = ? AND i.category_id = ?
                    AND s.issued_at >= ? AND s.returned_at IS NULL",
            )
            .bind(ctx.org_id)
            .bind(input.user_id)
            .bind(category.id)
            .bind(since_at)
            .fetch_one(&mut **tx)
            .await?;
            let used = u32::try_from(used).unwrap_or(u32::MAX);
            if let Err(left) = rules::within_allowance(max, used, quantity)
                && reason.is_none()
            {
                let per = if period == "annual" { " this year" } else { "" };
                return Err(AppError::field(
                    "quantity",
                    format!(
                        "is past the allowance of {max} {} per member{per} ({left} left); an \
                         officer may issue more with a reason",
                        category.name
                    ),
                ));
            }
        }
    }
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO item_issuances (id, organization_id, item_id, user_id, quantity, issued_at,
                issued_by, unit_cost, override_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(item_id)
    .bind(input.user_id)
    .bind(quantity)
    .bind(db::now())
    .bind(ctx.user_id)
    .bind(item.replacement_cost)
    .bind(&reason)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE inventory_items SET quantity_issued = quantity_issued + ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(quantity)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(item_id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.issued", "inventory_item", item_id).changes(serde_json::json!({
            "item": item.name, "member": member, "member_id": input.user_id,
            "quantity": quantity, "override_reason": reason,
        })),
    )
    .await?;
    issuance(tx, ctx.org_id, id).await
}

async fn issuance(tx: &mut Tx<'_>, org: OrgId, id: Uuid) -> AppResult<Issuance> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ISSUANCE_SELECT} WHERE s.organization_id = ? AND s.id = ?"
    )))
    .bind(org)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

/// The item an issuance is of (not found in another department).
pub async fn item_of_issuance(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Uuid> {
    ctx.require(INVENTORY_VIEW)?;
    sqlx::query_scalar("SELECT item_id FROM item_issuances WHERE organization_id = ? AND id = ?")
        .bind(ctx.org_id)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuanceReturn {
    #[schema(schema_with = rules::condition_schema)]
    pub condition: String,
}

/// Units come back to the shelf (whole issuance at once).
pub async fn return_issuance(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: IssuanceReturn,
) -> AppResult<Issuance> {
    ctx.require(INVENTORY_MANAGE)?;
    let item_id: Uuid = sqlx::query_scalar(
        "SELECT item_id FROM item_issuances WHERE organization_id = ? AND id = ?",
    )
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let item = item_row(tx, ctx.org_id, item_id, true).await?;
    let condition = rules::condition("condition", &input.condition)?;
    let before = issuance(tx, ctx.org_id, id).await?;
    if before.returned_at.is_some() {
        return Err(AppError::Conflict(
            "these units were already returned".into(),
        ));
    }
    sqlx::query(
        "UPDATE item_issuances SET returned_at = ?, returned_by = ?, return_condition = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(db::now())
    .bind(ctx.user_id)
    .bind(&condition)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    // Units that come back unusable leave the stock with the issuance.
    let (issued, stock) = if rules::unusable(&condition) {
        (before.quantity, before.quantity)
    } else {
        (before.quantity, 0)
    };
    sqlx::query(
        "UPDATE inventory_items SET quantity_issued = quantity_issued - ?,
                quantity = quantity - ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(issued)
    .bind(stock)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(item_id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.returned", "inventory_item", item_id).changes(serde_json::json!({
            "item": item.name, "member": before.member_name, "member_id": before.user_id,
            "quantity": before.quantity, "condition": condition,
        })),
    )
    .await?;
    issuance(tx, ctx.org_id, id).await
}

// ---------------------------------------------------------------------------------------------
// History and holdings

/// One holding of an item: a checkout, an assignment or an issuance, from when to when.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Holding {
    /// `checkout`, `assignment` or `issuance`.
    pub kind: String,
    pub id: Uuid,
    pub item_id: Uuid,
    pub item_name: String,
    pub barcode: String,
    pub user_id: Uuid,
    pub member_name: String,
    pub quantity: u64,
    pub from_at: DateTime<Utc>,
    /// None: still held.
    pub until_at: Option<DateTime<Utc>>,
    /// A checkout's due back; a temporary assignment's return day (at the department's midnight).
    pub due_at: Option<DateTime<Utc>>,
    pub return_condition: Option<String>,
    pub notes: Option<String>,
}

/// Every holding of one member or one item, as one union of checkouts, assignments and
/// issuances: `whose` is `user_id` or `item_id`, filtered inside each branch (where the
/// indexes are; outside, MariaDB read every holding of the department). Binds: the
/// organization and the id, three times over.
fn holdings_of(whose: &str) -> String {
    format!(
        "SELECT * FROM (
    SELECT 'checkout' AS kind, x.id, x.item_id, i.name AS item_name, i.barcode, x.user_id,
           CONCAT(u.first_name, ' ', u.last_name) AS member_name, CAST(1 AS UNSIGNED) AS quantity,
           x.checked_out_at AS from_at, x.checked_in_at AS until_at,
           x.expected_return_at AS due_at, x.return_condition,
           COALESCE(x.damage_notes, x.notes) AS notes
      FROM inventory_checkouts x
      JOIN inventory_items i ON i.organization_id = x.organization_id AND i.id = x.item_id
      JOIN users u ON u.organization_id = x.organization_id AND u.id = x.user_id
     WHERE x.organization_id = ? AND x.{whose} = ?
    UNION ALL
    SELECT 'assignment', x.id, x.item_id, i.name, i.barcode, x.user_id,
           CONCAT(u.first_name, ' ', u.last_name), CAST(1 AS UNSIGNED), x.assigned_at,
           x.returned_at, NULL, x.return_condition, x.notes
      FROM item_assignments x
      JOIN inventory_items i ON i.organization_id = x.organization_id AND i.id = x.item_id
      JOIN users u ON u.organization_id = x.organization_id AND u.id = x.user_id
     WHERE x.organization_id = ? AND x.{whose} = ?
    UNION ALL
    SELECT 'issuance', x.id, x.item_id, i.name, i.barcode, x.user_id,
           CONCAT(u.first_name, ' ', u.last_name), x.quantity, x.issued_at, x.returned_at,
           NULL, x.return_condition, x.override_reason
      FROM item_issuances x
      JOIN inventory_items i ON i.organization_id = x.organization_id AND i.id = x.item_id
      JOIN users u ON u.organization_id = x.organization_id AND u.id = x.user_id
     WHERE x.organization_id = ? AND x.{whose} = ?
   ) h"
    )
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Only who held it on this day (in the department's time zone): "who had SCBA 14 on 3
    /// March?"
    pub on: Option<NaiveDate>,
}

/// Who held the item, newest first (at most 500).
pub async fn item_history(
    ctx: &Ctx,
    conn: &mut Conn,
    item_id: Uuid,
    q: HistoryQuery,
) -> AppResult<Vec<Holding>> {
    ctx.require(INVENTORY_VIEW)?;
    item_row(conn, ctx.org_id, item_id, false).await?;
    let tz = crate::time::zone(&ctx.timezone);
    // A day runs from its midnight to the next, in the department's zone; no day: all time.
    let (start, end) = match q.on {
        Some(day) => (
            rules::due_back_at(day.pred_opt().unwrap_or(day), tz),
            rules::due_back_at(day, tz),
        ),
        None => (start_of_time(), end_of_time()),
    };
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} WHERE h.from_at < ? AND (h.until_at IS NULL OR h.until_at >= ?)
          ORDER BY h.from_at DESC LIMIT 500",
        holdings_of("item_id")
    )))
    .bind(ctx.org_id)
    .bind(item_id)
    .bind(ctx.org_id)
    .bind(item_id)
    .bind(ctx.org_id)
    .bind(item_id)
    .bind(end)
    .bind(start)
    .fetch_all(conn)
    .await?)
}

/// What a member holds now (and, with `past`, what they held before): the member themselves,
/// or an officer.
pub async fn holdings(
    ctx: &Ctx,
    conn: &mut Conn,
    member: Uuid,
    past: bool,
) -> AppResult<(MemberRef, Vec<Holding>)> {
    ctx.require(INVENTORY_VIEW)?;
    if member != ctx.user_id {
        ctx.require(INVENTORY_MANAGE)?;
    }
    let name = crate::members::service::name_of(conn, ctx.org_id, member).await?;
    let filter = if past { "" } else { " AND h.until_at IS NULL" };
    let rows = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} WHERE TRUE{filter} ORDER BY h.until_at IS NULL DESC, h.from_at DESC LIMIT 500",
        holdings_of("user_id")
    )))
    .bind(ctx.org_id)
    .bind(member)
    .bind(ctx.org_id)
    .bind(member)
    .bind(ctx.org_id)
    .bind(member)
    .fetch_all(conn)
    .await?;
    Ok((MemberRef { id: member, name }, rows))
}

/// What a member holds now, with no permission check: for a clearance, which membership's
/// status change may start.
pub(super) async fn holdings_unchecked(
    conn: &mut Conn,
    org: OrgId,
    member: Uuid,
) -> AppResult<Vec<Holding>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{} WHERE h.until_at IS NULL ORDER BY h.from_at",
        holdings_of("user_id")
    )))
    .bind(org)
    .bind(member)
    .bind(org)
    .bind(member)
    .bind(org)
    .bind(member)
    .fetch_all(conn)
    .await?)
}

/// Ends a holding without the item coming back (a clearance's write-off or waiver): the item
/// becomes `status` (lost, or retired from the inventory), a pool's units leave its stock.
/// The caller checks the permission and writes the audit entry.
pub(super) async fn let_go(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    source_type: &str,
    source_id: Uuid,
    item_id: Uuid,
    status: &str,
) -> AppResult<()> {
    item_row(tx, ctx.org_id, item_id, true).await?;
    let now = db::now();
    match source_type {
        "checkout" | "assignment" => {
            let sql = if source_type == "checkout" {
                "UPDATE inventory_checkouts SET checked_in_at = ?, checked_in_by = ?
                  WHERE organization_id = ? AND id = ? AND checked_in_at IS NULL"
            } else {
                "UPDATE item_assignments SET returned_at = ?, returned_by = ?
                  WHERE organization_id = ? AND id = ? AND returned_at IS NULL"
            };
            sqlx::query(sql)
                .bind(now)
                .bind(ctx.user_id)
                .bind(ctx.org_id)
                .bind(source_id)
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "UPDATE inventory_items SET status = ?, holder_id = NULL, updated_at = ?
                  WHERE organization_id = ? AND id = ?",
            )
            .bind(status)
            .bind(now)
            .bind(ctx.org_id)
            .bind(item_id)
            .execute(&mut **tx)
            .await?;
        }
        _ => {
            let quantity: u32 = sqlx::query_scalar(
                "SELECT quantity FROM item_issuances
                  WHERE organization_id = ? AND id = ? AND returned_at IS NULL FOR UPDATE",
            )
            .bind(ctx.org_id)
            .bind(source_id)
            .fetch_optional(&mut **tx)
            .await?
            .unwrap_or(0);
            sqlx::query(
                "UPDATE item_issuances SET returned_at = ?, returned_by = ?
                  WHERE organization_id = ? AND id = ? AND returned_at IS NULL",
            )
            .bind(now)
            .bind(ctx.user_id)
            .bind(ctx.org_id)
            .bind(source_id)
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "UPDATE inventory_items SET quantity_issued = quantity_issued - ?,
                        quantity = quantity - ?, updated_at = ?
                  WHERE organization_id = ? AND id = ?",
            )
            .bind(quantity)
            .bind(quantity)
            .bind(now)
            .bind(ctx.org_id)
            .bind(item_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
