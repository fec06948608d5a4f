//! Inventory's SQL: categories and items here; who holds what in `moves`, inspections and the
//! due-list in `maintenance`. Every statement is scoped by the caller's organization; every
//! change checks `inventory.manage` (or the member's own row) and is audited in its transaction.

pub mod clearance;
pub mod maintenance;
pub mod moves;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use super::rules::{self, CategoryInput, ItemInput, ValidItem};
use crate::audit::{self, Entry};
use crate::modules::documents::service::files::{Filed, Source};
use crate::auth::{Ctx, OrgId};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, unique_violation};
use crate::http::{Page, PageQuery, like_pattern};

pub const INVENTORY_VIEW: &str = "inventory.view";
pub const INVENTORY_MANAGE: &str = "inventory.manage";

/// A member, by id and name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberRef {
    pub id: Uuid,
    pub name: String,
}

// ---------------------------------------------------------------------------------------------
// Categories

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = InventoryCategory)]
pub struct Category {
    pub id: Uuid,
    pub name: String,
    #[schema(schema_with = rules::item_type_schema)]
    pub item_type: String,
    pub requires_serial_number: bool,
    pub requires_maintenance: bool,
    pub nfpa_tracking_enabled: bool,
    pub inspection_interval_days: Option<u16>,
    pub retire_after_years: Option<u8>,
    pub active: bool,
    /// Items in it (retired ones too).
    pub item_count: i64,
}

const CATEGORY_KEYS: &[(&str, &str, &str)] = &[(
    "uq_inventory_categories_org_name",
    "name",
    "is already the name of another category",
)];

/// A category's columns and how many items it has.
const CATEGORY_SELECT: &str = "SELECT c.id, c.name, c.item_type, c.requires_serial_number,
        c.requires_maintenance, c.nfpa_tracking_enabled, c.inspection_interval_days,
        c.retire_after_years, c.active,
        (SELECT COUNT(*) FROM inventory_items i
          WHERE i.organization_id = c.organization_id AND i.category_id = c.id) AS item_count
   FROM inventory_categories c";

pub async fn categories(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Category>> {
    ctx.require(INVENTORY_VIEW)?;
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CATEGORY_SELECT} WHERE c.organization_id = ? ORDER BY c.name"
    )))
    .bind(ctx.org_id)
    .fetch_all(conn)
    .await?)
}

async fn category(conn: &mut Conn, org: OrgId, id: Uuid) -> AppResult<Category> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{CATEGORY_SELECT} WHERE c.organization_id = ? AND c.id = ?"
    )))
    .bind(org)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)
}

pub async fn category_of(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Category> {
    ctx.require(INVENTORY_VIEW)?;
    category(conn, ctx.org_id, id).await
}

/// Creates a category (`id` None) or changes one.
pub async fn save_category(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Option<Uuid>,
    input: CategoryInput,
) -> AppResult<Category> {
    ctx.require(INVENTORY_MANAGE)?;
    let before = match id {
        Some(id) => Some(category(tx, ctx.org_id, id).await?),
        None => None,
    };
    let c = input.validate()?;
    let now = db::now();
    let id = match id {
        Some(id) => {
            sqlx::query(
                "UPDATE inventory_categories SET name = ?, item_type = ?,
                        requires_serial_number = ?, requires_maintenance = ?,
                        nfpa_tracking_enabled = ?, inspection_interval_days = ?,
                        retire_after_years = ?, active = ?, updated_at = ?
                  WHERE organization_id = ? AND id = ?",
            )
            .bind(&c.name)
            .bind(&c.item_type)
            .bind(c.requires_serial_number)
            .bind(c.requires_maintenance)
            .bind(c.nfpa_tracking_enabled)
            .bind(c.inspection_interval_days)
            .bind(c.retire_after_years)
            .bind(c.active)
            .bind(now)
            .bind(ctx.org_id)
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(|e| unique_violation(e, CATEGORY_KEYS))?;
            id
        }
        None => {
            let id = db::new_id();
            sqlx::query(
                "INSERT INTO inventory_categories (id, organization_id, name, item_type,
                        requires_serial_number, requires_maintenance, nfpa_tracking_enabled,
                        inspection_interval_days, retire_after_years, active, created_at,
                        updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(ctx.org_id)
            .bind(&c.name)
            .bind(&c.item_type)
            .bind(c.requires_serial_number)
            .bind(c.requires_maintenance)
            .bind(c.nfpa_tracking_enabled)
            .bind(c.inspection_interval_days)
            .bind(c.retire_after_years)
            .bind(c.active)
            .bind(now)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(|e| unique_violation(e, CATEGORY_KEYS))?;
            id
        }
    };
    let saved = category(tx, ctx.org_id, id).await?;
    let action = if before.is_some() {
        "inventory.category_updated"
    } else {
        "inventory.category_created"
    };
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(action, "inventory_category", id).changes(serde_json::json!({
            "name": saved.name,
            "item_type": saved.item_type,
            "inspection_interval_days": saved.inspection_interval_days,
            "retire_after_years": saved.retire_after_years,
            "active": saved.active,
        })),
    )
    .await?;
    Ok(saved)
}

// ---------------------------------------------------------------------------------------------
// Items

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = InventoryItem)]
pub struct Item {
    pub id: Uuid,
    pub item_number: u32,
    pub barcode: String,
    pub category: Option<CategoryRef>,
    pub name: String,
    pub description: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub asset_tag: Option<String>,
    pub manufactured_date: Option<NaiveDate>,
    pub purchase_date: Option<NaiveDate>,
    #[schema(value_type = Option<f64>)]
    pub purchase_price: Option<Decimal>,
    #[schema(value_type = Option<f64>)]
    pub replacement_cost: Option<Decimal>,
    pub size: Option<String>,
    pub color: Option<String>,
    pub location: Option<CategoryRef>,
    pub storage_area: Option<String>,
    #[schema(schema_with = rules::condition_schema)]
    pub condition: String,
    #[schema(schema_with = rules::status_schema)]
    pub status: String,
    #[schema(schema_with = rules::tracking_schema)]
    pub tracking_type: String,
    pub quantity: u32,
    pub quantity_issued: u32,
    /// Units on the shelf (a pool); 1 or 0 for an item of its own.
    pub quantity_available: u32,
    pub reorder_point: Option<u32>,
    /// Its own cycle (None: the category's, `inspection_cycle_days`).
    pub inspection_interval_days: Option<u16>,
    /// The cycle that applies: its own, else its category's.
    pub inspection_cycle_days: Option<u16>,
    pub next_inspection_due: Option<NaiveDate>,
    /// From the manufacture date and the category's service life.
    pub retire_on: Option<NaiveDate>,
    /// Who holds it (assigned or checked out).
    pub holder: Option<MemberRef>,
    /// The open checkout's due-back moment.
    pub due_back_at: Option<DateTime<Utc>>,
    pub notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A category or a location, by id and name.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CategoryRef {
    pub id: Uuid,
    pub name: String,
}

#[derive(sqlx::FromRow)]
struct ItemRow {
    id: Uuid,
    item_number: u32,
    barcode: String,
    category_id: Option<Uuid>,
    category_name: Option<String>,
    name: String,
    description: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
    serial_number: Option<String>,
    asset_tag: Option<String>,
    manufactured_date: Option<NaiveDate>,
    purchase_date: Option<NaiveDate>,
    purchase_price: Option<Decimal>,
    replacement_cost: Option<Decimal>,
    size: Option<String>,
    color: Option<String>,
    location_id: Option<Uuid>,
    location_name: Option<String>,
    storage_area: Option<String>,
    condition: String,
    status: String,
    tracking_type: String,
    quantity: u32,
    quantity_issued: u32,
    reorder_point: Option<u32>,
    inspection_interval_days: Option<u16>,
    category_interval: Option<u16>,
    retire_after_years: Option<u8>,
    next_inspection_due: Option<NaiveDate>,
    holder_id: Option<Uuid>,
    holder_name: Option<String>,
    due_back_at: Option<DateTime<Utc>>,
    notes: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[sqlx(default)]
    total: i64,
}

impl From<ItemRow> for Item {
    fn from(r: ItemRow) -> Item {
        Item {
            retire_on: r
                .manufactured_date
                .zip(r.retire_after_years)
                .map(|(made, years)| rules::retire_on(made, u32::from(years))),
            quantity_available: r.quantity.saturating_sub(r.quantity_issued)
                * u32::from(r.tracking_type == "pool" || r.status == "available"),
            id: r.id,
            item_number: r.item_number,
            barcode: r.barcode,
            category: r
                .category_id
                .zip(r.category_name)
                .map(|(id, name)| CategoryRef { id, name }),
            name: r.name,
            description: r.description,
            manufacturer: r.manufacturer,
            model: r.model,
            serial_number: r.serial_number,
            asset_tag: r.asset_tag,
            manufactured_date: r.manufactured_date,
            purchase_date: r.purchase_date,
            purchase_price: r.purchase_price,
            replacement_cost: r.replacement_cost,
            size: r.size,
            color: r.color,
            location: r
                .location_id
                .zip(r.location_name)
                .map(|(id, name)| CategoryRef { id, name }),
            storage_area: r.storage_area,
            condition: r.condition,
            status: r.status,
            tracking_type: r.tracking_type,
            quantity: r.quantity,
            quantity_issued: r.quantity_issued,
            reorder_point: r.reorder_point,
            inspection_cycle_days: r.inspection_interval_days.or(r.category_interval),
            inspection_interval_days: r.inspection_interval_days,
            next_inspection_due: r.next_inspection_due,
            holder: r
                .holder_id
                .zip(r.holder_name)
                .map(|(id, name)| MemberRef { id, name }),
            due_back_at: r.due_back_at,
            notes: r.notes,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// An item's columns and what it joins: its category, location, holder and open checkout.
const ITEM_SELECT: &str = "SELECT i.id, i.item_number, i.barcode, i.category_id,
        c.name AS category_name, i.name, i.description, i.manufacturer, i.model,
        i.serial_number, i.asset_tag, i.manufactured_date, i.purchase_date, i.purchase_price,
        i.replacement_cost, i.size, i.color, i.location_id, l.name AS location_name,
        i.storage_area, i.`condition`, i.status, i.tracking_type, i.quantity, i.quantity_issued,
        i.reorder_point, i.inspection_interval_days, c.inspection_interval_days AS category_interval,
        c.retire_after_years, i.next_inspection_due, i.holder_id,
        CONCAT(h.first_name, ' ', h.last_name) AS holder_name,
        CASE WHEN i.status = 'checked_out' THEN
          (SELECT ck.expected_return_at FROM inventory_checkouts ck
            WHERE ck.organization_id = i.organization_id AND ck.item_id = i.id
              AND ck.checked_in_at IS NULL LIMIT 1) END AS due_back_at,
        i.notes, i.created_at, i.updated_at";

const ITEM_FROM: &str = " FROM inventory_items i
   LEFT JOIN inventory_categories c ON c.organization_id = i.organization_id AND c.id = i.category_id
   LEFT JOIN locations l ON l.organization_id = i.organization_id AND l.id = i.location_id
   LEFT JOIN users h ON h.organization_id = i.organization_id AND h.id = i.holder_id";

pub(super) async fn item_row(conn: &mut Conn, org: OrgId, id: Uuid, lock: bool) -> AppResult<Item> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row: ItemRow = sqlx::query_as(AssertSqlSafe(format!(
        "{ITEM_SELECT}{ITEM_FROM} WHERE i.organization_id = ? AND i.id = ?{lock}"
    )))
    .bind(org)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(row.into())
}

pub async fn item(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Item> {
    ctx.require(INVENTORY_VIEW)?;
    item_row(conn, ctx.org_id, id, false).await
}

/// Where an item's papers (manuals, certificates of inspection) are: whoever sees the item
/// sees them; the quartermaster (`inventory.manage`) attaches and removes them. They are filed
/// in the library's General Documents, for everyone.
pub async fn papers_of(
    ctx: &Ctx,
    conn: &mut Conn,
    id: Uuid,
    change: bool,
) -> AppResult<(Source, Filed)> {
    item(ctx, conn, id).await?;
    if change {
        ctx.require(INVENTORY_MANAGE)?;
    }
    Ok((
        Source {
            kind: "inventory_item",
            id,
        },
        Filed::System("general"),
    ))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    /// Search in name, barcode, serial number, asset tag, manufacturer and model.
    pub q: Option<String>,
    /// One status (`available`, `checked_out`, …).
    pub status: Option<String>,
    pub category_id: Option<Uuid>,
    /// Items this member holds.
    pub holder_id: Option<Uuid>,
    /// Only items worth at least this much (replacement cost, else price paid): 5000 gives
    /// the list a federal grant closeout asks for.
    #[param(value_type = Option<f64>)]
    pub min_value: Option<Decimal>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

pub async fn items(ctx: &Ctx, conn: &mut Conn, q: ItemQuery) -> AppResult<Page<Item>> {
    ctx.require(INVENTORY_VIEW)?;
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    if let Some(s) = q.status.as_deref()
        && !rules::STATUSES.iter().any(|(w, _)| *w == s)
    {
        return Err(AppError::field(
            "status",
            format!(
                "must be one of: {}",
                rules::words_of(rules::STATUSES).join(", ")
            ),
        ));
    }
    let mut b = QueryBuilder::new(ITEM_SELECT);
    b.push(", COUNT(*) OVER () AS total");
    b.push(ITEM_FROM);
    b.push(" WHERE i.organization_id = ");
    b.push_bind(ctx.org_id);
    if let Some(term) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let pattern = like_pattern(term);
        b.push(" AND (i.name LIKE ");
        b.push_bind(pattern.clone());
        for col in ["i.barcode", "i.serial_number", "i.asset_tag", "i.manufacturer", "i.model"] {
            b.push(format!(" OR {col} LIKE "));
            b.push_bind(pattern.clone());
        }
        b.push(")");
    }
    if let Some(s) = q.status {
        b.push(" AND i.status = ");
        b.push_bind(s);
    }
    if let Some(c) = q.category_id {
        b.push(" AND i.category_id = ");
        b.push_bind(c);
    }
    if let Some(h) = q.holder_id {
        b.push(" AND i.holder_id = ");
        b.push_bind(h);
    }
    if let Some(v) = q.min_value {
        if v.is_sign_negative() {
            return Err(AppError::field("min_value", "must not be negative"));
        }
        b.push(" AND COALESCE(i.replacement_cost, i.purchase_price) >= ");
        b.push_bind(v);
    }
    b.push(" ORDER BY i.name, i.item_number LIMIT ");
    b.push_bind(per_page);
    b.push(" OFFSET ");
    // In 64 bits: page 2147483648 of 25 is past any list, not an overflow.
    b.push_bind(u64::from(page - 1) * u64::from(per_page));
    let rows: Vec<ItemRow> = b.build_query_as().fetch_all(conn).await?;
    let total = rows.first().map_or(0, |r| r.total) as u64;
    Ok(Page {
        items: rows.into_iter().map(Item::from).collect(),
        page,
        per_page,
        total,
    })
}

/// The item a label's code names: its barcode, serial number or asset tag (exactly, case
/// aside), in the caller's department.
pub async fn lookup(ctx: &Ctx, conn: &mut Conn, code: &str) -> AppResult<Item> {
    ctx.require(INVENTORY_VIEW)?;
    let code = code.trim();
    if code.is_empty() {
        return Err(AppError::field("code", "is required"));
    }
    if code.chars().count() > 100 || code.chars().any(char::is_control) {
        return Err(AppError::field("code", "is not a code on any label"));
    }
    let id: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM inventory_items WHERE organization_id = ?
            AND (barcode = ? OR serial_number = ? OR asset_tag = ?)
          ORDER BY barcode = ? DESC, item_number LIMIT 1",
    )
    .bind(ctx.org_id)
    .bind(code)
    .bind(code)
    .bind(code)
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => item_row(conn, ctx.org_id, id, false).await,
        None => Err(AppError::field(
            "code",
            format!("matches no item's barcode, serial number or asset tag: {code}"),
        )),
    }
}

const ITEM_KEYS: &[(&str, &str, &str)] = &[
    ("uq_inventory_items_org_barcode", "barcode", "is already on another item"),
    ("uq_inventory_items_org_serial", "serial_number", "is already on another item"),
    ("uq_inventory_items_org_tag", "asset_tag", "is already on another item"),
];

/// The category, location and serial rules that need the database.
async fn check_item_refs(tx: &mut Tx<'_>, org: OrgId, v: &ValidItem) -> AppResult<()> {
    let mut errors = Vec::new();
    if let Some(c) = v.category_id {
        let found: Option<bool> = sqlx::query_scalar(
            "SELECT requires_serial_number FROM inventory_categories
              WHERE organization_id = ? AND id = ?",
        )
        .bind(org)
        .bind(c)
        .fetch_optional(&mut **tx)
        .await?;
        match found {
            None => errors.push(crate::error::FieldError::new(
                "category_id",
                "is not one of the department's categories",
            )),
            Some(true) if v.serial_number.is_none() && v.tracking_type == "individual" => {
                errors.push(crate::error::FieldError::new(
                    "serial_number",
                    "is required for items of this category",
                ))
            }
            Some(_) => {}
        }
    }
    if let Some(l) = v.location_id {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM locations WHERE organization_id = ? AND id = ?")
                .bind(org)
                .bind(l)
                .fetch_optional(&mut **tx)
                .await?;
        if found.is_none() {
            errors.push(crate::error::FieldError::new(
                "location_id",
                "is not one of the department's stations or rooms",
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

fn item_changes(i: &Item) -> serde_json::Value {
    serde_json::json!({
        "name": i.name,
        "barcode": i.barcode,
        "serial_number": i.serial_number,
        "asset_tag": i.asset_tag,
        "category": i.category.as_ref().map(|c| &c.name),
        "condition": i.condition,
        "status": i.status,
        "tracking_type": i.tracking_type,
        "quantity": i.quantity,
    })
}

pub async fn create_item(ctx: &Ctx, tx: &mut Tx<'_>, input: ItemInput) -> AppResult<Item> {
    ctx.require(INVENTORY_MANAGE)?;
    let today = crate::time::today(&ctx.timezone);
    let v = input.validate(today)?;
    check_item_refs(tx, ctx.org_id, &v).await?;
    // The department's next number; the counter's row stays locked until this commits, so two
    // items made at once get two numbers.
    sqlx::query(
        "INSERT INTO inventory_counters (organization_id, last_number) VALUES (?, 1)
         ON DUPLICATE KEY UPDATE last_number = last_number + 1",
    )
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await?;
    let number: u32 =
        sqlx::query_scalar("SELECT last_number FROM inventory_counters WHERE organization_id = ?")
            .bind(ctx.org_id)
            .fetch_one(&mut **tx)
            .await?;
    let id = db::new_id();
    let now = db::now();
    let barcode = v.barcode.clone().unwrap_or_else(|| rules::barcode_for(number));
    let status = if v.condition == "out_of_service" {
        "in_maintenance"
    } else {
        "available"
    };
    sqlx::query(
        "INSERT INTO inventory_items (id, organization_id, item_number, category_id, name,
                description, manufacturer, model, serial_number, asset_tag, barcode,
                manufactured_date, purchase_date, purchase_price, replacement_cost, size, color,
                location_id, storage_area, `condition`, status, tracking_type, quantity,
                quantity_issued, reorder_point, inspection_interval_days, next_inspection_due,
                notes, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?,
                 ?, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(number)
    .bind(v.category_id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(&v.manufacturer)
    .bind(&v.model)
    .bind(&v.serial_number)
    .bind(&v.asset_tag)
    .bind(&barcode)
    .bind(v.manufactured_date)
    .bind(v.purchase_date)
    .bind(v.purchase_price)
    .bind(v.replacement_cost)
    .bind(&v.size)
    .bind(&v.color)
    .bind(v.location_id)
    .bind(&v.storage_area)
    .bind(&v.condition)
    .bind(status)
    .bind(&v.tracking_type)
    .bind(v.quantity)
    .bind(v.reorder_point)
    .bind(v.inspection_interval_days)
    .bind(v.next_inspection_due)
    .bind(&v.notes)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, ITEM_KEYS))?;
    let created = item_row(tx, ctx.org_id, id, false).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.item_created", "inventory_item", id).changes(item_changes(&created)),
    )
    .await?;
    Ok(created)
}

pub async fn update_item(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: ItemInput,
) -> AppResult<Item> {
    ctx.require(INVENTORY_MANAGE)?;
    let before = item_row(tx, ctx.org_id, id, true).await?;
    let today = crate::time::today(&ctx.timezone);
    let mut input = input;
    // What kind of item it is cannot change; left out, it stays.
    if input.tracking_type.as_deref().is_none_or(|t| t.trim().is_empty()) {
        input.tracking_type = Some(before.tracking_type.clone());
    }
    // Left out, the units in all stay as they are.
    if input.quantity.is_none() {
        input.quantity = Some(i64::from(before.quantity));
    }
    let v = input.validate(today)?;
    if v.tracking_type != before.tracking_type {
        return Err(AppError::field(
            "tracking_type",
            "cannot change once the item exists",
        ));
    }
    if v.quantity < before.quantity_issued {
        return Err(AppError::field(
            "quantity",
            format!(
                "must be at least {}, the units out with members",
                before.quantity_issued
            ),
        ));
    }
    check_item_refs(tx, ctx.org_id, &v).await?;
    // A condition that takes it out of use while nobody holds it: in maintenance; back in
    // order: available again.
    let status = match before.status.as_str() {
        "available" if rules::unusable(&v.condition) => "in_maintenance",
        "in_maintenance" if !rules::unusable(&v.condition) => "available",
        s => s,
    };
    let barcode = v.barcode.clone().unwrap_or(before.barcode.clone());
    sqlx::query(
        "UPDATE inventory_items SET category_id = ?, name = ?, description = ?, manufacturer = ?,
                model = ?, serial_number = ?, asset_tag = ?, barcode = ?, manufactured_date = ?,
                purchase_date = ?, purchase_price = ?, replacement_cost = ?, size = ?, color = ?,
                location_id = ?, storage_area = ?, `condition` = ?, status = ?, quantity = ?,
                reorder_point = ?, inspection_interval_days = ?, next_inspection_due = ?,
                notes = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(v.category_id)
    .bind(&v.name)
    .bind(&v.description)
    .bind(&v.manufacturer)
    .bind(&v.model)
    .bind(&v.serial_number)
    .bind(&v.asset_tag)
    .bind(&barcode)
    .bind(v.manufactured_date)
    .bind(v.purchase_date)
    .bind(v.purchase_price)
    .bind(v.replacement_cost)
    .bind(&v.size)
    .bind(&v.color)
    .bind(v.location_id)
    .bind(&v.storage_area)
    .bind(&v.condition)
    .bind(status)
    .bind(v.quantity)
    .bind(v.reorder_point)
    .bind(v.inspection_interval_days)
    .bind(v.next_inspection_due)
    .bind(&v.notes)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, ITEM_KEYS))?;
    let after = item_row(tx, ctx.org_id, id, false).await?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.item_updated", "inventory_item", id).changes(serde_json::json!({
            "before": item_changes(&before),
            "after": item_changes(&after),
        })),
    )
    .await?;
    Ok(after)
}

/// The department's stations and rooms, for the item form: id, name.
pub async fn locations(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<(Uuid, String)>> {
    ctx.require(INVENTORY_VIEW)?;
    Ok(sqlx::query_as(
        "SELECT id, name FROM locations WHERE organization_id = ? AND active ORDER BY name",
    )
    .bind(ctx.org_id)
    .fetch_all(conn)
    .await?)
}

/// Members an item may go to: not dropped, retired or archived. Id and name, by last name.
pub async fn holders(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<MemberRef>> {
    ctx.require(INVENTORY_MANAGE)?;
    let rows: Vec<(Uuid, String)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, CONCAT(first_name, ' ', last_name) FROM users
          WHERE organization_id = ? AND status NOT IN ({GONE}) ORDER BY last_name, first_name"
    )))
    .bind(ctx.org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| MemberRef { id, name })
        .collect())
}

/// Member statuses that may not be given equipment.
pub(super) const GONE: &str = "'retired', 'dropped_voluntary', 'dropped_involuntary', 'archived'";

// ---------------------------------------------------------------------------------------------
// Allowances

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowanceInput {
    /// Units of the category's pool items one member may hold; null: no limit.
    #[schema(minimum = 0, maximum = 10000)]
    pub max_quantity: Option<i64>,
    /// `annual` (per calendar year) or `career` (in all).
    #[schema(schema_with = allowance_period_schema)]
    pub period_type: Option<String>,
}

pub fn allowance_period_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["annual", "career"])
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Allowance {
    pub category_id: Uuid,
    pub max_quantity: Option<u32>,
    pub period_type: Option<String>,
}

/// Sets (or, with no maximum, removes) the allowance of a category.
pub async fn set_allowance(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    category_id: Uuid,
    input: AllowanceInput,
) -> AppResult<Allowance> {
    ctx.require(INVENTORY_MANAGE)?;
    let cat = category(tx, ctx.org_id, category_id).await?;
    let mut c = crate::input::Checks::default();
    let max = match input.max_quantity {
        None => None,
        Some(m) if !(0..=10_000).contains(&m) => {
            c.push("max_quantity", "must be between 0 and 10000");
            None
        }
        Some(m) => Some(m as u32),
    };
    let period = match input.period_type.as_deref().map(str::trim) {
        None | Some("") | Some("annual") => "annual",
        Some("career") => "career",
        Some(_) => {
            c.push("period_type", "must be one of: annual, career");
            "annual"
        }
    };
    c.finish()?;
    match max {
        Some(max) => {
            let now = db::now();
            sqlx::query(
                "INSERT INTO issuance_allowances (id, organization_id, category_id, max_quantity,
                        period_type, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE max_quantity = VALUES(max_quantity),
                        period_type = VALUES(period_type), updated_at = VALUES(updated_at)",
            )
            .bind(db::new_id())
            .bind(ctx.org_id)
            .bind(category_id)
            .bind(max)
            .bind(period)
            .bind(now)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        None => {
            sqlx::query(
                "DELETE FROM issuance_allowances WHERE organization_id = ? AND category_id = ?",
            )
            .bind(ctx.org_id)
            .bind(category_id)
            .execute(&mut **tx)
            .await?;
        }
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("inventory.allowance_set", "inventory_category", category_id).changes(
            serde_json::json!({ "category": cat.name, "max_quantity": max, "period_type": max.map(|_| period) }),
        ),
    )
    .await?;
    allowance(tx, ctx.org_id, category_id).await
}

async fn allowance(conn: &mut Conn, org: OrgId, category_id: Uuid) -> AppResult<Allowance> {
    let row: Option<(u32, String)> = sqlx::query_as(
        "SELECT max_quantity, period_type FROM issuance_allowances
          WHERE organization_id = ? AND category_id = ?",
    )
    .bind(org)
    .bind(category_id)
    .fetch_optional(conn)
    .await?;
    Ok(Allowance {
        category_id,
        max_quantity: row.as_ref().map(|r| r.0),
        period_type: row.map(|r| r.1),
    })
}

pub async fn allowance_of(ctx: &Ctx, conn: &mut Conn, category_id: Uuid) -> AppResult<Allowance> {
    ctx.require(INVENTORY_VIEW)?;
    category(conn, ctx.org_id, category_id).await?;
    allowance(conn, ctx.org_id, category_id).await
}

/// The codes on the department's items, as (field, lower-case code): what an import must not
/// give a second item.
pub async fn codes_in_use(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<(String, String)>> {
    ctx.require(INVENTORY_VIEW)?;
    let rows: Vec<(Option<String>, Option<String>, String)> = sqlx::query_as(
        "SELECT serial_number, asset_tag, barcode FROM inventory_items WHERE organization_id = ?",
    )
    .bind(ctx.org_id)
    .fetch_all(conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len() * 2);
    for (serial, tag, barcode) in rows {
        if let Some(s) = serial {
            out.push(("serial_number".to_string(), s.to_lowercase()));
        }
        if let Some(t) = tag {
            out.push(("asset_tag".to_string(), t.to_lowercase()));
        }
        out.push(("barcode".to_string(), barcode.to_lowercase()));
    }
    Ok(out)
}
