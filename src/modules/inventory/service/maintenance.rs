//! Inspections, tests and repairs per item, and the due-list: what is due for inspection by the
//! end of the month (or overdue), and what reaches its service life (NFPA: PPE 10 years, SCBA
//! cylinders 15) by then.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{INVENTORY_MANAGE, INVENTORY_VIEW, item_row};
use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};
use crate::input::{Checks, optional_paragraphs, optional_text};
use crate::modules::inventory::rules;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceInput {
    #[schema(schema_with = rules::maintenance_type_schema)]
    pub maintenance_type: String,
    /// The day it was done (not in the future).
    pub performed_on: NaiveDate,
    /// Whether it passed (inspections and tests).
    pub passed: Option<bool>,
    /// The item's condition after it.
    #[schema(schema_with = rules::condition_schema)]
    pub condition_after: Option<String>,
    #[schema(max_length = 200)]
    pub performed_by: Option<String>,
    #[schema(max_length = 200)]
    pub vendor_name: Option<String>,
    #[schema(value_type = Option<f64>)]
    pub cost: Option<Decimal>,
    /// The next inspection due; none: from the day done and the item's cycle.
    pub next_due_date: Option<NaiveDate>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MaintenanceRecord {
    pub id: Uuid,
    pub item_id: Uuid,
    #[schema(schema_with = rules::maintenance_type_schema)]
    pub maintenance_type: String,
    pub performed_on: NaiveDate,
    pub passed: Option<bool>,
    pub condition_after: Option<String>,
    pub performed_by: Option<String>,
    pub vendor_name: Option<String>,
    #[schema(value_type = Option<f64>)]
    pub cost: Option<Decimal>,
    pub next_due_date: Option<NaiveDate>,
    pub notes: Option<String>,
    pub recorded_by_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

const RECORD_SELECT: &str = "SELECT m.id, m.item_id, m.maintenance_type, m.performed_on,
        m.passed, m.condition_after, m.performed_by, m.vendor_name, m.cost, m.next_due_date,
        m.notes, CONCAT(u.first_name, ' ', u.last_name) AS recorded_by_name, m.created_at
   FROM maintenance_records m
   LEFT JOIN users u ON u.organization_id = m.organization_id AND u.id = m.recorded_by";

/// Records maintenance on an item. An inspection or test restarts its cycle (the next due date
/// is the day done plus the cycle, unless given); a failed one, or a condition that takes the
/// item out of use, sends a free item to maintenance; a passed one in good condition brings it
/// back.
pub async fn record(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    item_id: Uuid,
    input: MaintenanceInput,
) -> AppResult<MaintenanceRecord> {
    ctx.require(INVENTORY_MANAGE)?;
    let item = item_row(tx, ctx.org_id, item_id, true).await?;
    let today = crate::time::today(&ctx.timezone);
    let mut c = Checks::default();
    let kind = input.maintenance_type.trim().to_string();
    if kind.is_empty() {
        c.push("maintenance_type", "is required");
    } else if !rules::MAINTENANCE_TYPES.iter().any(|(w, _)| *w == kind) {
        c.push(
            "maintenance_type",
            format!(
                "must be one of: {}",
                rules::words_of(rules::MAINTENANCE_TYPES).join(", ")
            ),
        );
    }
    if input.performed_on > today {
        c.push("performed_on", "must not be in the future");
    } else if input.performed_on < NaiveDate::from_ymd_opt(1990, 1, 1).expect("valid") {
        c.push("performed_on", "must be after 1990");
    }
    let condition_after = match input.condition_after.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) => c.take(rules::condition("condition_after", v)),
    };
    let performed_by = c
        .take(optional_text("performed_by", input.performed_by, 200))
        .flatten();
    let vendor = c
        .take(optional_text("vendor_name", input.vendor_name, 200))
        .flatten();
    if let Some(cost) = input.cost
        && (cost.is_sign_negative() || cost > Decimal::from(10_000_000u32))
    {
        c.push("cost", "must be between 0 and 10000000");
    }
    if let Some(next) = input.next_due_date
        && next <= input.performed_on
    {
        c.push("next_due_date", "must be after the day it was done");
    }
    let notes = c
        .take(optional_paragraphs("notes", input.notes, 5000))
        .flatten();
    c.finish()?;
    let next_due = if rules::restarts_cycle(&kind) {
        input.next_due_date.or_else(|| {
            item.inspection_cycle_days
                .map(|d| rules::next_due(input.performed_on, u32::from(d)))
        })
    } else {
        input.next_due_date
    };
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO maintenance_records (id, organization_id, item_id, maintenance_type,
                performed_on, passed, condition_after, performed_by, vendor_name, cost,
                next_due_date, notes, recorded_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(item_id)
    .bind(&kind)
    .bind(input.performed_on)
    .bind(input.passed)
    .bind(&condition_after)
    .bind(&performed_by)
    .bind(&vendor)
    .bind(input.cost.map(|c| c.round_dp(2)))
    .bind(next_due)
    .bind(&notes)
    .bind(ctx.user_id)
    .bind(db::now())
    .execute(&mut **tx)
    .await?;
    // What it does to the item: the due date (only a later record than the last moves it), the
    // condition, and whether a free item is usable.
    let latest: Option<NaiveDate> = sqlx::query_scalar(
        "SELECT MAX(performed_on) FROM maintenance_records
          WHERE organization_id = ? AND item_id = ? AND id <> ?",
    )
    .bind(ctx.org_id)
    .bind(item_id)
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    let newest = latest.is_none_or(|l| input.performed_on >= l);
    let condition = condition_after.clone().unwrap_or(item.condition.clone());
    let out_of_use = input.passed == Some(false) || rules::unusable(&condition);
    let status = match item.status.as_str() {
        "available" if out_of_use => "in_maintenance",
        "in_maintenance" if newest && !out_of_use => "available",
        s => s,
    };
    let due = if newest && next_due.is_some() {
        next_due
    } else {
        item.next_inspection_due
    };
    sqlx::query(
        "UPDATE inventory_items SET `condition` = ?, status = ?, next_inspection_due = ?,
                updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&condition)
    .bind(status)
    .bind(due)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(item_id)
    .execute(&mut **tx)
    .await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.maintenance_recorded", "inventory_item", item_id).changes(
            serde_json::json!({
                "item": item.name, "barcode": item.barcode, "maintenance_type": kind,
                "performed_on": input.performed_on, "passed": input.passed,
                "next_due_date": due, "condition": condition, "status": status,
            }),
        ),
    )
    .await?;
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{RECORD_SELECT} WHERE m.organization_id = ? AND m.id = ?"
    )))
    .bind(ctx.org_id)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(AppError::NotFound)
}

/// An item's maintenance, newest first (at most 200).
pub async fn records(
    ctx: &Ctx,
    conn: &mut Conn,
    item_id: Uuid,
) -> AppResult<Vec<MaintenanceRecord>> {
    ctx.require(INVENTORY_VIEW)?;
    item_row(conn, ctx.org_id, item_id, false).await?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{RECORD_SELECT} WHERE m.organization_id = ? AND m.item_id = ?
          ORDER BY m.performed_on DESC, m.created_at DESC LIMIT 200"
    )))
    .bind(ctx.org_id)
    .bind(item_id)
    .fetch_all(conn)
    .await?)
}

/// One line of the due-list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DueItem {
    pub item_id: Uuid,
    pub name: String,
    pub barcode: String,
    pub serial_number: Option<String>,
    pub category: Option<String>,
    pub holder: Option<String>,
    /// `inspection` (due by next_inspection_due) or `retirement` (its service life ends).
    pub reason: String,
    pub due: NaiveDate,
    /// Past due today.
    pub overdue: bool,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: Uuid,
    name: String,
    barcode: String,
    serial_number: Option<String>,
    category: Option<String>,
    holder: Option<String>,
    next_inspection_due: Option<NaiveDate>,
    manufactured_date: Option<NaiveDate>,
    retire_after_years: Option<u8>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    /// The last day to include (default: the end of this month in the department's zone).
    pub through: Option<NaiveDate>,
}

/// What is due by `through` (default the end of this month), overdue first, then by day. One
/// statement: items in use with an inspection due by then, or with a service life (the
/// retirement day is worked out here, 29 February included).
pub async fn due_list(
    ctx: &Ctx,
    conn: &mut Conn,
    q: DueQuery,
) -> AppResult<(NaiveDate, Vec<DueItem>)> {
    ctx.require(INVENTORY_VIEW)?;
    let today = crate::time::today(&ctx.timezone);
    let through = q.through.unwrap_or_else(|| rules::month_end(today));
    if through < today - chrono::Days::new(3660) || through > today + chrono::Days::new(3660) {
        return Err(AppError::field("through", "must be within ten years of today"));
    }
    Ok((through, due_items(conn, ctx.org_id, today, through).await?))
}

/// The due-list of a department on `today` through `through`, for a page or a job.
pub async fn due_items(
    conn: &mut Conn,
    org: crate::auth::OrgId,
    today: NaiveDate,
    through: NaiveDate,
) -> AppResult<Vec<DueItem>> {
    let rows: Vec<DueRow> = sqlx::query_as(
        "SELECT i.id, i.name, i.barcode, i.serial_number, c.name AS category,
                CONCAT(h.first_name, ' ', h.last_name) AS holder, i.next_inspection_due,
                i.manufactured_date, c.retire_after_years
           FROM inventory_items i
           LEFT JOIN inventory_categories c
                  ON c.organization_id = i.organization_id AND c.id = i.category_id
           LEFT JOIN users h ON h.organization_id = i.organization_id AND h.id = i.holder_id
          WHERE i.organization_id = ? AND i.status NOT IN ('retired', 'lost', 'stolen')
            AND (i.next_inspection_due <= ?
                 OR (i.manufactured_date IS NOT NULL AND c.retire_after_years IS NOT NULL
                     AND i.manufactured_date <= DATE_SUB(?, INTERVAL c.retire_after_years - 1 YEAR)))
          LIMIT 5000",
    )
    .bind(org)
    .bind(through)
    .bind(through)
    .fetch_all(conn)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        if let Some(due) = r.next_inspection_due.filter(|d| *d <= through) {
            out.push(DueItem {
                item_id: r.id,
                name: r.name.clone(),
                barcode: r.barcode.clone(),
                serial_number: r.serial_number.clone(),
                category: r.category.clone(),
                holder: r.holder.clone(),
                reason: "inspection".into(),
                due,
                overdue: due < today,
            });
        }
        if let Some(retire) = r
            .manufactured_date
            .zip(r.retire_after_years)
            .map(|(made, years)| rules::retire_on(made, u32::from(years)))
            .filter(|d| *d <= through)
        {
            out.push(DueItem {
                item_id: r.id,
                name: r.name,
                barcode: r.barcode,
                serial_number: r.serial_number,
                category: r.category,
                holder: r.holder,
                reason: "retirement".into(),
                due: retire,
                overdue: retire < today,
            });
        }
    }
    out.sort_by(|a, b| (a.due, &a.name).cmp(&(b.due, &b.name)));
    Ok(out)
}
