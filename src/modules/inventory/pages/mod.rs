//! `/inventory` pages, phone first for the apparatus bay: the list with search and a code box
//! (a scanner or a QR label lands on the item), the item with what can be done with it now
//! (check out or in, assign, issue units, record an inspection), categories, what a member
//! holds, what is out and overdue, the due-list, and a sheet of QR labels. Plain forms,
//! post-redirect-get; the rules live in `service`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use super::rules::{self, CategoryInput, ItemInput};
use super::service::maintenance::{self, DueQuery, MaintenanceInput};
use super::service::moves::{
    self, AssignInput, CheckoutInput, ExtendInput, Holding, IssuanceReturn, IssueInput,
    ReturnInput,
};
use super::service::{self, INVENTORY_MANAGE, INVENTORY_VIEW, Item, ItemQuery};
use crate::auth::Ctx;
use crate::modules::documents::service::files;
use crate::db::Conn;
use crate::error::{AppError, FieldError};
use crate::state::AppState;
use crate::web::{
    self, Chrome, DoneQuery, FieldErrors, Opt, PageResult, Pager, PathId, Viewer, beside,
};

mod clearance;
mod import;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(clearance::router())
        .merge(import::router())
        .route("/inventory", get(list))
        .route("/inventory/lookup", get(lookup))
        .route("/inventory/items/new", get(new_item).post(create_item))
        .route("/inventory/items/{id}", get(item_page))
        .route(
            "/inventory/items/{id}/papers/{document}/remove",
            post(remove_paper),
        )
        .route("/inventory/items/{id}/edit", get(edit_item).post(update_item))
        .route("/inventory/items/{id}/checkout", post(check_out))
        .route("/inventory/items/{id}/checkin", post(check_in))
        .route("/inventory/items/{id}/extend", post(extend))
        .route("/inventory/items/{id}/assign", post(assign))
        .route("/inventory/items/{id}/unassign", post(unassign))
        .route("/inventory/items/{id}/issue", post(issue))
        .route(
            "/inventory/items/{id}/maintenance",
            get(maintenance_form).post(record_maintenance),
        )
        .route("/inventory/issuances/{id}/return", post(return_issuance))
        .route("/inventory/categories", get(categories).post(create_category))
        .route(
            "/inventory/categories/{id}",
            get(edit_category).post(update_category),
        )
        .route("/inventory/mine", get(mine))
        .route("/inventory/members/{id}", get(member_holdings))
        .route("/inventory/overdue", get(overdue))
        .route("/inventory/due", get(due))
        .route("/inventory/labels", get(labels))
}

/// The header entry the inventory pages belong to.
const SECTION: &str = "/inventory";

fn day(ctx: &Ctx, d: Option<NaiveDate>) -> String {
    d.map(|d| ctx.locale.day(d)).unwrap_or_default()
}

fn status_label(s: &str) -> String {
    rules::label(rules::STATUSES, s)
}

/// An item as a list line or the head of its page, in words.
struct ItemView {
    id: Uuid,
    name: String,
    barcode: String,
    serial: String,
    asset_tag: String,
    category: String,
    status: String,
    status_label: String,
    condition: String,
    pool: bool,
    /// "12 of 40 on the shelf" for a pool.
    stock: String,
    holder: Option<(Uuid, String)>,
    due_back: String,
    overdue: bool,
    next_inspection: String,
    inspection_overdue: bool,
    retire_on: String,
    location: String,
}

impl ItemView {
    fn new(ctx: &Ctx, i: &Item) -> ItemView {
        let today = crate::time::today(&ctx.timezone);
        let now = chrono::Utc::now();
        ItemView {
            id: i.id,
            name: i.name.clone(),
            barcode: i.barcode.clone(),
            serial: i.serial_number.clone().unwrap_or_default(),
            asset_tag: i.asset_tag.clone().unwrap_or_default(),
            category: i.category.as_ref().map(|c| c.name.clone()).unwrap_or_default(),
            status: i.status.clone(),
            status_label: status_label(&i.status),
            condition: rules::label(rules::CONDITIONS, &i.condition),
            pool: i.tracking_type == "pool",
            stock: format!("{} of {} on the shelf", i.quantity_available, i.quantity),
            holder: i.holder.as_ref().map(|h| (h.id, h.name.clone())),
            due_back: i
                .due_back_at
                .map(|t| {
                    let local = t.with_timezone(&crate::time::zone(&ctx.timezone));
                    ctx.locale
                        .day(local.date_naive().pred_opt().unwrap_or(local.date_naive()))
                })
                .unwrap_or_default(),
            overdue: i.due_back_at.is_some_and(|t| rules::is_overdue(t, now)),
            next_inspection: day(ctx, i.next_inspection_due),
            inspection_overdue: i.next_inspection_due.is_some_and(|d| d < today),
            retire_on: day(ctx, i.retire_on),
            location: [
                i.location.as_ref().map(|l| l.name.clone()),
                i.storage_area.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        }
    }
}

/// `web::options` for pairs read from the database (id, name), with a blank first choice.
fn choices(pairs: &[(String, String)], current: &str, blank: &str) -> Vec<Opt> {
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    web::options(&refs, current, Some(blank))
}

// ---------------------------------------------------------------------------------------------
// The list and the code box

#[derive(Template)]
#[template(path = "inventory/list.html")]
struct ListPage {
    chrome: Chrome,
    can_manage: bool,
    items: Vec<ItemView>,
    total: u64,
    pager: Pager,
    q: String,
    status: String,
    category: String,
    /// Only items worth 5,000 or more.
    grant: bool,
    statuses: Vec<Opt>,
    categories: Vec<Opt>,
    code: String,
    code_error: Option<String>,
    labels_link: String,
}

#[derive(Debug, Default, Deserialize)]
struct ListParams {
    q: Option<String>,
    status: Option<String>,
    category: Option<String>,
    /// "grant": only items worth 5,000 or more.
    worth: Option<String>,
    page: Option<String>,
}

/// The value a federal grant closeout lists equipment from.
const GRANT_VALUE: i64 = 5000;

async fn list_page(
    state: &AppState,
    ctx: &Ctx,
    p: ListParams,
    code: String,
    code_error: Option<String>,
) -> Result<ListPage, AppError> {
    ctx.require(INVENTORY_VIEW)?;
    let mut conn = state.db.acquire().await?;
    let q = p.q.unwrap_or_default().trim().to_string();
    let status = p
        .status
        .filter(|s| rules::STATUSES.iter().any(|(w, _)| w == s))
        .unwrap_or_default();
    let categories = service::categories(ctx, &mut conn).await?;
    let category = p
        .category
        .and_then(|c| Uuid::try_parse(c.trim()).ok())
        .filter(|c| categories.iter().any(|k| k.id == *c));
    let page = web::page_number(p.page.as_deref());
    let grant = p.worth.as_deref() == Some("grant");
    let found = service::items(
        ctx,
        &mut conn,
        ItemQuery {
            q: Some(q.clone()),
            status: (!status.is_empty()).then(|| status.clone()),
            category_id: category,
            holder_id: None,
            min_value: grant.then(|| Decimal::from(GRANT_VALUE)),
            page: Some(page),
            per_page: Some(25),
        },
    )
    .await?;
    let category = category.map(|c| c.to_string()).unwrap_or_default();
    let worth = if grant { "grant" } else { "" }.to_string();
    let link = |page: u32| {
        let page = if page <= 1 {
            String::new()
        } else {
            page.to_string()
        };
        web::link(
            "/inventory",
            &[
                ("q", &q),
                ("status", &status),
                ("category", &category),
                ("worth", &worth),
                ("page", &page),
            ],
        )
    };
    let category_pairs: Vec<(String, String)> = categories
        .iter()
        .map(|c| (c.id.to_string(), c.name.clone()))
        .collect();
    Ok(ListPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        can_manage: ctx.has(INVENTORY_MANAGE),
        items: found.items.iter().map(|i| ItemView::new(ctx, i)).collect(),
        total: found.total,
        pager: Pager::new(found.page, found.total, found.per_page, link),
        labels_link: web::link(
            "/inventory/labels",
            &[
                ("q", &q),
                ("status", &status),
                ("category", &category),
                ("worth", &worth),
            ],
        ),
        statuses: web::options(rules::STATUSES, &status, Some("Any status")),
        categories: choices(&category_pairs, &category, "Any category"),
        q,
        status,
        category,
        grant,
        code,
        code_error,
    })
}

async fn list(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<ListParams>, QueryRejection>,
) -> PageResult {
    let p = query.map(|Query(q)| q).unwrap_or_default();
    Ok(web::render(
        &list_page(&state, &ctx, p, String::new(), None).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
struct CodeParams {
    code: Option<String>,
}

/// A scanned or typed code: straight to its item, or the list with the error beside the box.
async fn lookup(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<CodeParams>, QueryRejection>,
) -> PageResult {
    let code = query
        .ok()
        .and_then(|Query(q)| q.code)
        .unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    match service::lookup(&ctx, &mut conn, &code).await {
        Ok(item) => Ok(Redirect::to(&format!("/inventory/items/{}", item.id)).into_response()),
        Err(AppError::Validation(errors)) => {
            drop(conn);
            let message = beside(&errors, &[("code", "Code")]).remove("code");
            let page = list_page(&state, &ctx, ListParams::default(), code, message).await?;
            Ok((StatusCode::NOT_FOUND, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The item form

#[derive(Debug, Default, Deserialize)]
struct ItemForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    category_id: String,
    #[serde(default)]
    tracking_type: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    reorder_point: String,
    #[serde(default)]
    serial_number: String,
    #[serde(default)]
    asset_tag: String,
    #[serde(default)]
    barcode: String,
    #[serde(default)]
    manufacturer: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    size: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    location_id: String,
    #[serde(default)]
    storage_area: String,
    #[serde(default)]
    manufactured_date: String,
    #[serde(default)]
    purchase_date: String,
    #[serde(default)]
    purchase_price: String,
    #[serde(default)]
    replacement_cost: String,
    #[serde(default)]
    next_inspection_due: String,
    #[serde(default)]
    notes: String,
}

const ITEM_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("category_id", "Category"),
    ("tracking_type", "Kind"),
    ("quantity", "Units in all"),
    ("reorder_point", "Reorder at"),
    ("serial_number", "Serial number"),
    ("asset_tag", "Asset tag"),
    ("barcode", "Barcode"),
    ("manufacturer", "Manufacturer"),
    ("model", "Model"),
    ("size", "Size"),
    ("condition", "Condition"),
    ("location_id", "Station or room"),
    ("storage_area", "Where in it"),
    ("manufactured_date", "Made on"),
    ("purchase_date", "Bought on"),
    ("purchase_price", "Price paid"),
    ("replacement_cost", "Replacement cost"),
    ("next_inspection_due", "Next inspection due"),
    ("notes", "Notes"),
];

impl ItemForm {
    fn from_item(i: &Item) -> ItemForm {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let date = |v: Option<NaiveDate>| v.map(|d| d.to_string()).unwrap_or_default();
        let money = |v: Option<Decimal>| v.map(|d| d.to_string()).unwrap_or_default();
        ItemForm {
            name: i.name.clone(),
            category_id: i.category.as_ref().map(|c| c.id.to_string()).unwrap_or_default(),
            tracking_type: i.tracking_type.clone(),
            quantity: i.quantity.to_string(),
            reorder_point: i.reorder_point.map(|r| r.to_string()).unwrap_or_default(),
            serial_number: text(&i.serial_number),
            asset_tag: text(&i.asset_tag),
            barcode: i.barcode.clone(),
            manufacturer: text(&i.manufacturer),
            model: text(&i.model),
            size: text(&i.size),
            condition: i.condition.clone(),
            location_id: i.location.as_ref().map(|l| l.id.to_string()).unwrap_or_default(),
            storage_area: text(&i.storage_area),
            manufactured_date: date(i.manufactured_date),
            purchase_date: date(i.purchase_date),
            purchase_price: money(i.purchase_price),
            replacement_cost: money(i.replacement_cost),
            next_inspection_due: date(i.next_inspection_due),
            notes: text(&i.notes),
        }
    }

    /// The service's input, and the errors of reading the form itself.
    fn input(&self, errors: &mut Vec<FieldError>) -> ItemInput {
        let opt = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        };
        let whole = |field: &str, s: &str, errors: &mut Vec<FieldError>| match s.trim() {
            "" => None,
            t => match t.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(FieldError::new(field, "is not a whole number"));
                    None
                }
            },
        };
        ItemInput {
            category_id: web::parse_optional_id("category_id", &self.category_id, errors),
            name: self.name.clone(),
            description: None,
            manufacturer: opt(&self.manufacturer),
            model: opt(&self.model),
            serial_number: opt(&self.serial_number),
            asset_tag: opt(&self.asset_tag),
            barcode: opt(&self.barcode),
            manufactured_date: web::parse_optional_date(
                "manufactured_date",
                &self.manufactured_date,
                errors,
            ),
            purchase_date: web::parse_optional_date("purchase_date", &self.purchase_date, errors),
            purchase_price: money_field("purchase_price", &self.purchase_price, errors),
            replacement_cost: money_field("replacement_cost", &self.replacement_cost, errors),
            size: opt(&self.size),
            color: None,
            location_id: web::parse_optional_id("location_id", &self.location_id, errors),
            storage_area: opt(&self.storage_area),
            condition: opt(&self.condition),
            tracking_type: opt(&self.tracking_type),
            quantity: whole("quantity", &self.quantity, errors),
            reorder_point: whole("reorder_point", &self.reorder_point, errors),
            inspection_interval_days: None,
            next_inspection_due: web::parse_optional_date(
                "next_inspection_due",
                &self.next_inspection_due,
                errors,
            ),
            notes: opt(&self.notes),
        }
    }
}

/// An amount typed on a page ("1,250.00", "$85"); empty: none; anything else: its error joins
/// `errors`.
fn money_field(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<Decimal> {
    match raw.trim() {
        "" => None,
        t => match t.trim_start_matches('$').replace(',', "").parse::<Decimal>() {
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(FieldError::new(field, "is not an amount (like 1250.00)"));
                None
            }
        },
    }
}

#[derive(Template)]
#[template(path = "inventory/item_form.html")]
struct ItemFormPage {
    chrome: Chrome,
    /// None: a new item.
    item_id: Option<Uuid>,
    form: ItemForm,
    errors: FieldErrors,
    categories: Vec<Opt>,
    locations: Vec<Opt>,
    conditions: Vec<Opt>,
    tracking: Vec<Opt>,
}

async fn item_form_page(
    state: &AppState,
    ctx: &Ctx,
    item_id: Option<Uuid>,
    form: ItemForm,
    errors: &[FieldError],
) -> Result<ItemFormPage, AppError> {
    ctx.require(INVENTORY_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let categories: Vec<(String, String)> = service::categories(ctx, &mut conn)
        .await?
        .into_iter()
        .filter(|c| c.active || form.category_id == c.id.to_string())
        .map(|c| (c.id.to_string(), c.name))
        .collect();
    let locations: Vec<(String, String)> = service::locations(ctx, &mut conn)
        .await?
        .into_iter()
        .map(|(id, name)| (id.to_string(), name))
        .collect();
    let condition = if form.condition.is_empty() {
        "good"
    } else {
        form.condition.as_str()
    };
    let tracking = if form.tracking_type.is_empty() {
        "individual"
    } else {
        form.tracking_type.as_str()
    };
    Ok(ItemFormPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        item_id,
        errors: FieldErrors::new(errors, ITEM_LABELS),
        categories: choices(&categories, &form.category_id, "None"),
        locations: choices(&locations, &form.location_id, "None"),
        conditions: web::options(rules::CONDITIONS, condition, None),
        tracking: web::options(rules::TRACKING, tracking, None),
        form,
    })
}

async fn new_item(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let page = item_form_page(&state, &ctx, None, ItemForm::default(), &[]).await?;
    Ok(web::render(&page))
}

async fn edit_item(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let item = {
        let mut conn = state.db.acquire().await?;
        service::item(&ctx, &mut conn, id).await?
    };
    let page = item_form_page(&state, &ctx, Some(id), ItemForm::from_item(&item), &[]).await?;
    Ok(web::render(&page))
}

async fn save_item(state: AppState, ctx: Ctx, id: Option<Uuid>, form: ItemForm) -> PageResult {
    ctx.require(INVENTORY_MANAGE)?;
    let mut errors = Vec::new();
    let input = form.input(&mut errors);
    let tx = state.db.begin().await?;
    let mut tx = tx;
    let saved = match id {
        None => service::create_item(&ctx, &mut tx, input).await,
        Some(id) => service::update_item(&ctx, &mut tx, id, input).await,
    };
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(item) => {
            let done = if id.is_some() { "saved" } else { "created" };
            Ok(Redirect::to(&format!("/inventory/items/{}?done={done}", item.id)).into_response())
        }
        None => {
            let page = item_form_page(&state, &ctx, id, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

async fn create_item(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<ItemForm>,
) -> PageResult {
    save_item(state, ctx, None, form).await
}

async fn update_item(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ItemForm>,
) -> PageResult {
    save_item(state, ctx, Some(id), form).await
}

// ---------------------------------------------------------------------------------------------
// The item's page and what can be done with it

/// The form a post came from, what was typed, and what was wrong.
#[derive(Debug, Default, Deserialize, Clone)]
struct ActionForm {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    damage_notes: String,
    #[serde(default)]
    assignment_type: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    override_reason: String,
    #[serde(default)]
    notes: String,
}

struct Failed {
    /// Which form: checkout, checkin, extend, assign, unassign, issue.
    form: &'static str,
    values: ActionForm,
    errors: HashMap<String, String>,
    /// A refusal about no one field (someone else has it).
    message: Option<String>,
}

struct HoldingView {
    kind: &'static str,
    id: Uuid,
    item_id: Uuid,
    item_name: String,
    barcode: String,
    member_id: Uuid,
    member: String,
    quantity: u64,
    from: String,
    until: String,
    due: String,
    overdue: bool,
    condition: String,
    notes: String,
}

impl HoldingView {
    fn new(ctx: &Ctx, h: Holding) -> HoldingView {
        let local = ctx.local();
        let zone = crate::time::zone(&ctx.timezone);
        HoldingView {
            kind: match h.kind.as_str() {
                "checkout" => "Checked out",
                "assignment" => "Assigned",
                _ => "Issued",
            },
            id: h.id,
            item_id: h.item_id,
            item_name: h.item_name,
            barcode: h.barcode,
            member_id: h.user_id,
            member: h.member_name,
            quantity: h.quantity,
            from: local.moment(&h.from_at),
            until: h.until_at.map(|t| local.moment(&t)).unwrap_or_default(),
            due: h
                .due_at
                .map(|t| {
                    let d = t.with_timezone(&zone).date_naive();
                    ctx.locale.day(d.pred_opt().unwrap_or(d))
                })
                .unwrap_or_default(),
            overdue: h.until_at.is_none()
                && h.due_at
                    .is_some_and(|t| rules::is_overdue(t, chrono::Utc::now())),
            condition: h
                .return_condition
                .map(|c| rules::label(rules::CONDITIONS, &c))
                .unwrap_or_default(),
            notes: h.notes.unwrap_or_default(),
        }
    }
}

struct RecordView {
    kind: String,
    on: String,
    result: String,
    by: String,
    next_due: String,
    notes: String,
}

#[derive(Template)]
#[template(path = "inventory/item.html")]
struct ItemPage {
    chrome: Chrome,
    can_manage: bool,
    notice: Option<&'static str>,
    item: ItemView,
    details: Vec<(&'static str, String)>,
    members: Vec<Opt>,
    conditions: Vec<Opt>,
    /// The default due date for a checkout (a week on), ISO.
    default_due: String,
    /// Whether the viewer holds the open checkout (may extend it).
    mine: bool,
    history: Vec<HoldingView>,
    open_issuances: Vec<HoldingView>,
    records: Vec<RecordView>,
    failed: Option<Failed>,
    /// The form that gives the item back: `checkin` or `unassign`.
    back_form: &'static str,
    label_link: String,
    /// Manuals and other papers attached: (id, name, what it is).
    papers: Vec<(Uuid, String, String)>,
    upload_js: String,
    max_size: String,
}

impl ItemPage {
    fn failed_form(&self, form: &str) -> bool {
        self.failed.as_ref().is_some_and(|f| f.form == form)
    }

    /// The error beside `field` of the form `form`, if that form failed.
    fn error(&self, form: &str, field: &str) -> Option<&String> {
        self.failed
            .as_ref()
            .filter(|f| f.form == form)
            .and_then(|f| f.errors.get(field))
    }

    /// A refusal about no one field ("it is checked out to …"): above every form, since the
    /// form it came from may no longer be offered.
    fn refusal(&self) -> Option<&String> {
        self.failed.as_ref().and_then(|f| f.message.as_ref())
    }

    /// What was typed into `field` of `form` (after a failed post), else empty.
    fn typed(&self, form: &str, field: &str) -> String {
        let Some(f) = self.failed.as_ref().filter(|f| f.form == form) else {
            return String::new();
        };
        let v = &f.values;
        match field {
            "user_id" => v.user_id.clone(),
            "due" => v.due.clone(),
            "condition" => v.condition.clone(),
            "damage_notes" => v.damage_notes.clone(),
            "assignment_type" => v.assignment_type.clone(),
            "quantity" => v.quantity.clone(),
            "override_reason" => v.override_reason.clone(),
            _ => v.notes.clone(),
        }
    }
}

async fn item_page_for(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    failed: Option<Failed>,
) -> Result<ItemPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let item = service::item(ctx, &mut conn, id).await?;
    let history = moves::item_history(ctx, &mut conn, id, Default::default()).await?;
    let records = maintenance::records(ctx, &mut conn, id).await?;
    let (source, _) = service::papers_of(ctx, &mut conn, id, false).await?;
    let papers = files::attached(ctx, &mut conn, source)
        .await?
        .into_iter()
        .map(|d| {
            let meta = format!(
                "{} · {}",
                d.file_name,
                crate::system::status::bytes(d.size_bytes)
            );
            (d.id, d.name, meta)
        })
        .collect();
    let can_manage = ctx.has(INVENTORY_MANAGE);
    let members = if can_manage {
        service::holders(ctx, &mut conn).await?
    } else {
        Vec::new()
    };
    let today = crate::time::today(&ctx.timezone);
    let view = ItemView::new(ctx, &item);
    let mut details: Vec<(&'static str, String)> = vec![
        ("Barcode", item.barcode.clone()),
        ("Category", view.category.clone()),
        ("Serial number", view.serial.clone()),
        ("Asset tag", view.asset_tag.clone()),
        (
            "Make and model",
            [item.manufacturer.clone(), item.model.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
        ),
        ("Size", item.size.clone().unwrap_or_default()),
        ("Condition", view.condition.clone()),
        ("Kept at", view.location.clone()),
        ("Made on", day(ctx, item.manufactured_date)),
        ("Bought on", day(ctx, item.purchase_date)),
        (
            "Replacement cost",
            item.replacement_cost
                .map(|c| format!("{c:.2}"))
                .unwrap_or_default(),
        ),
        (
            "Inspection cycle",
            item.inspection_cycle_days
                .map(|d| format!("every {d} days"))
                .unwrap_or_default(),
        ),
        ("Next inspection due", view.next_inspection.clone()),
        ("Retire on", view.retire_on.clone()),
        ("Notes", item.notes.clone().unwrap_or_default()),
    ];
    details.retain(|(_, v)| !v.is_empty());
    let mine = item.holder.as_ref().is_some_and(|h| h.id == ctx.user_id)
        && item.status == "checked_out";
    let (open, past): (Vec<Holding>, Vec<Holding>) = history
        .into_iter()
        .partition(|h| h.kind == "issuance" && h.until_at.is_none());
    Ok(ItemPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        can_manage,
        notice: None,
        details,
        members: std::iter::once(Opt {
            value: String::new(),
            label: "Choose a member".into(),
            selected: true,
        })
        .chain(members.into_iter().map(|m| Opt {
            value: m.id.to_string(),
            label: m.name,
            selected: false,
        }))
        .collect(),
        conditions: web::options(rules::CONDITIONS, "", None),
        default_due: (today + Days::new(7)).to_string(),
        mine,
        history: past.into_iter().map(|h| HoldingView::new(ctx, h)).collect(),
        open_issuances: open.into_iter().map(|h| HoldingView::new(ctx, h)).collect(),
        records: records
            .into_iter()
            .map(|r| RecordView {
                kind: rules::label(rules::MAINTENANCE_TYPES, &r.maintenance_type),
                on: ctx.locale.day(r.performed_on),
                result: match r.passed {
                    Some(true) => "Passed".into(),
                    Some(false) => "Failed".into(),
                    None => String::new(),
                },
                by: [r.performed_by, r.vendor_name]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(", "),
                next_due: day(ctx, r.next_due_date),
                notes: r.notes.unwrap_or_default(),
            })
            .collect(),
        back_form: if item.status == "checked_out" {
            "checkin"
        } else {
            "unassign"
        },
        label_link: web::link("/inventory/labels", &[("q", &item.barcode)]),
        papers,
        upload_js: web::asset_url("upload.js"),
        max_size: crate::system::status::bytes(crate::modules::documents::rules::MAX_FILE_BYTES),
        item: view,
        failed,
    })
}

async fn item_page(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let mut page = item_page_for(&state, &ctx, id, None).await?;
    page.notice = match query.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("created") => Some("Item added. Print its label from the list or below."),
        Some("saved") => Some("Changes saved."),
        Some("checkout") => Some("Checked out."),
        Some("checkin") => Some("Checked in."),
        Some("extend") => Some("The due date was moved."),
        Some("assign") => Some("Assigned. The member was told."),
        Some("unassign") => Some("Taken back."),
        Some("issue") => Some("Units issued."),
        Some("return") => Some("Units returned."),
        Some("maintenance") => Some("Maintenance recorded."),
        Some("paper") => Some("Attached: every member finds it here and in the library."),
        Some("paper-removed") => Some("Removed."),
        _ => None,
    };
    Ok(web::render(&page))
}

/// Removes a manual or other paper from the item (the quartermaster).
async fn remove_paper(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    crate::web::PathIds(id, document): crate::web::PathIds,
) -> PageResult {
    let (source, _) = {
        let mut conn = state.db.acquire().await?;
        service::papers_of(&ctx, &mut conn, id, true).await?
    };
    crate::modules::documents::api::attached::remove(&state, &ctx, source, document).await?;
    Ok(Redirect::to(&format!("/inventory/items/{id}?done=paper-removed")).into_response())
}

const ACTION_LABELS: &[(&str, &str)] = &[
    ("user_id", "Member"),
    ("expected_return_at", "Due back"),
    ("expected_return_date", "Due back"),
    ("due_date", "Due back"),
    ("due", "Due back"),
    ("condition", "Condition"),
    ("damage_notes", "What is wrong"),
    ("assignment_type", "Kind"),
    ("quantity", "Units"),
    ("override_reason", "Reason to go past the allowance"),
    ("notes", "Notes"),
];

/// What an action's form sent: which form, what was typed, and what was wrong with it before
/// the service saw it.
struct Posted {
    form: &'static str,
    values: ActionForm,
    errors: Vec<FieldError>,
}

/// Ends an action's post: on success, back to the item with a notice; on bad input or a
/// refusal, the item's page again with the error beside the field (or above the form).
async fn finish_action<T>(
    state: &AppState,
    ctx: &Ctx,
    item_id: Uuid,
    posted: Posted,
    tx: crate::db::Tx<'static>,
    result: Result<T, AppError>,
) -> PageResult {
    let Posted {
        form,
        values,
        mut errors,
    } = posted;
    let outcome = match result {
        Ok(_) if errors.is_empty() => {
            state.mailer.commit_and_kick(tx).await?;
            return Ok(Redirect::to(&format!("/inventory/items/{item_id}?done={form}"))
                .into_response());
        }
        Ok(_) => None,
        Err(AppError::Validation(found)) => {
            errors.extend(found);
            None
        }
        Err(AppError::Conflict(message)) => Some(web::sentence(&message)),
        Err(other) => return Err(other.into()),
    };
    tx.rollback().await?;
    let mut by_field = beside(&errors, ACTION_LABELS);
    // The due date's errors are written against the API's field.
    for api in ["expected_return_at", "expected_return_date", "due_date"] {
        if let Some(e) = by_field.remove(api) {
            by_field.insert("due".into(), e);
        }
    }
    let status = if outcome.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = item_page_for(
        state,
        ctx,
        item_id,
        Some(Failed {
            form,
            values,
            errors: by_field,
            message: outcome,
        }),
    )
    .await?;
    Ok((status, web::render(&page)).into_response())
}

fn member_field(raw: &str, errors: &mut Vec<FieldError>) -> Uuid {
    match raw.trim() {
        "" => {
            errors.push(FieldError::new("user_id", "is required"));
            Uuid::nil()
        }
        t => Uuid::try_parse(t).unwrap_or_else(|_| {
            errors.push(FieldError::new("user_id", "is not one of the members"));
            Uuid::nil()
        }),
    }
}

/// A due date typed on the page (the service refuses one before today). Not a date: its error
/// joins `errors` and today stands in, so that the service checks everything else.
fn due_field(ctx: &Ctx, raw: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    Some(
        web::parse_date("due", raw, errors)
            .unwrap_or_else(|| crate::time::today(&ctx.timezone)),
    )
}

async fn check_out(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let user_id = member_field(&form.user_id, &mut errors);
    let due = due_field(&ctx, &form.due, &mut errors);
    let mut tx = state.db.begin().await?;
    let result = moves::check_out(
        &ctx,
        &mut tx,
        id,
        CheckoutInput {
            user_id,
            expected_return_at: None,
            due_date: due,
            notes: Some(form.notes.clone()),
        },
    )
    .await;
    finish_action(
        &state,
        &ctx,
        id,
        Posted {
            form: "checkout",
            values: form,
            errors,
        },
        tx,
        result,
    ).await
}

fn return_input(form: &ActionForm) -> ReturnInput {
    ReturnInput {
        condition: form.condition.clone(),
        damage_notes: Some(form.damage_notes.clone()),
    }
}

async fn check_in(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = moves::check_in(&ctx, &mut tx, id, return_input(&form)).await;
    finish_action(
        &state,
        &ctx,
        id,
        Posted {
            form: "checkin",
            values: form,
            errors: Vec::new(),
        },
        tx,
        result,
    ).await
}

async fn extend(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let due = due_field(&ctx, &form.due, &mut errors);
    let mut tx = state.db.begin().await?;
    let result = moves::extend(
        &ctx,
        &mut tx,
        id,
        ExtendInput {
            expected_return_at: None,
            due_date: due,
        },
    )
    .await;
    finish_action(
        &state,
        &ctx,
        id,
        Posted {
            form: "extend",
            values: form,
            errors,
        },
        tx,
        result,
    ).await
}

async fn assign(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let user_id = member_field(&form.user_id, &mut errors);
    let temporary = form.assignment_type == "temporary";
    let due = if temporary {
        web::parse_optional_date("due", &form.due, &mut errors)
    } else {
        None
    };
    let mut tx = state.db.begin().await?;
    let result = moves::assign(
        &ctx,
        &mut tx,
        &state.notifier,
        id,
        AssignInput {
            user_id,
            assignment_type: Some(form.assignment_type.clone()),
            expected_return_date: due,
            notes: Some(form.notes.clone()),
        },
    )
    .await;
    finish_action(
        &state,
        &ctx,
        id,
        Posted {
            form: "assign",
            values: form,
            errors,
        },
        tx,
        result,
    ).await
}

async fn unassign(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = moves::unassign(&ctx, &mut tx, id, return_input(&form)).await;
    finish_action(
        &state,
        &ctx,
        id,
        Posted {
            form: "unassign",
            values: form,
            errors: Vec::new(),
        },
        tx,
        result,
    ).await
}

async fn issue(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let mut errors = Vec::new();
    let user_id = member_field(&form.user_id, &mut errors);
    let quantity = match form.quantity.trim().parse::<i64>() {
        Ok(q) => q,
        Err(_) => {
            errors.push(FieldError::new("quantity", "is not a whole number"));
            1
        }
    };
    let mut tx = state.db.begin().await?;
    let result = moves::issue(
        &ctx,
        &mut tx,
        id,
        IssueInput {
            user_id,
            quantity,
            override_reason: Some(form.override_reason.clone()),
        },
    )
    .await;
    finish_action(
        &state,
        &ctx,
        id,
        Posted {
            form: "issue",
            values: form,
            errors,
        },
        tx,
        result,
    ).await
}

async fn return_issuance(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActionForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let result = moves::return_issuance(
        &ctx,
        &mut tx,
        id,
        IssuanceReturn {
            condition: form.condition.clone(),
        },
    )
    .await;
    let item_id = match &result {
        Ok(i) => i.item_id,
        Err(_) => moves::item_of_issuance(&ctx, &mut tx, id).await?,
    };
    finish_action(
        &state,
        &ctx,
        item_id,
        Posted {
            form: "return",
            values: form,
            errors: Vec::new(),
        },
        tx,
        result,
    ).await
}

// ---------------------------------------------------------------------------------------------
// Maintenance

#[derive(Debug, Default, Deserialize)]
struct MaintenanceForm {
    #[serde(default)]
    maintenance_type: String,
    #[serde(default)]
    performed_on: String,
    #[serde(default)]
    passed: String,
    #[serde(default)]
    condition_after: String,
    #[serde(default)]
    performed_by: String,
    #[serde(default)]
    vendor_name: String,
    #[serde(default)]
    cost: String,
    #[serde(default)]
    next_due_date: String,
    #[serde(default)]
    notes: String,
}

const MAINTENANCE_LABELS: &[(&str, &str)] = &[
    ("maintenance_type", "What was done"),
    ("performed_on", "Done on"),
    ("passed", "Result"),
    ("condition_after", "Condition after"),
    ("performed_by", "Done by"),
    ("vendor_name", "Vendor"),
    ("cost", "Cost"),
    ("next_due_date", "Next due"),
    ("notes", "Notes"),
];

#[derive(Template)]
#[template(path = "inventory/maintenance_form.html")]
struct MaintenancePage {
    chrome: Chrome,
    item: ItemView,
    form: MaintenanceForm,
    errors: FieldErrors,
    kinds: Vec<Opt>,
    conditions: Vec<Opt>,
    results: Vec<Opt>,
    cycle: String,
}

async fn maintenance_page(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    form: MaintenanceForm,
    errors: &[FieldError],
) -> Result<MaintenancePage, AppError> {
    ctx.require(INVENTORY_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let item = service::item(ctx, &mut conn, id).await?;
    Ok(MaintenancePage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        cycle: item
            .inspection_cycle_days
            .map(|d| format!("An inspection or test sets the next due date {d} days after it, unless you give one."))
            .unwrap_or_else(|| "This item has no inspection cycle: give the next due date if there is one.".into()),
        item: ItemView::new(ctx, &item),
        errors: FieldErrors::new(errors, MAINTENANCE_LABELS),
        kinds: web::options(rules::MAINTENANCE_TYPES, &form.maintenance_type, Some("Choose")),
        conditions: web::options(rules::CONDITIONS, &form.condition_after, Some("Unchanged")),
        results: web::options(
            &[("passed", "Passed"), ("failed", "Failed")],
            &form.passed,
            Some("Not a test"),
        ),
        form,
    })
}

async fn maintenance_form(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let form = MaintenanceForm {
        performed_on: crate::time::today(&ctx.timezone).to_string(),
        ..Default::default()
    };
    Ok(web::render(
        &maintenance_page(&state, &ctx, id, form, &[]).await?,
    ))
}

async fn record_maintenance(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<MaintenanceForm>,
) -> PageResult {
    ctx.require(INVENTORY_MANAGE)?;
    let mut errors = Vec::new();
    let performed_on = web::parse_date("performed_on", &form.performed_on, &mut errors)
        .unwrap_or_else(|| crate::time::today(&ctx.timezone));
    let cost = money_field("cost", &form.cost, &mut errors);
    let opt = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    let input = MaintenanceInput {
        maintenance_type: form.maintenance_type.clone(),
        performed_on,
        passed: match form.passed.as_str() {
            "passed" => Some(true),
            "failed" => Some(false),
            _ => None,
        },
        condition_after: opt(&form.condition_after),
        performed_by: opt(&form.performed_by),
        vendor_name: opt(&form.vendor_name),
        cost,
        next_due_date: web::parse_optional_date("next_due_date", &form.next_due_date, &mut errors),
        notes: opt(&form.notes),
    };
    let mut tx = state.db.begin().await?;
    let saved = maintenance::record(&ctx, &mut tx, id, input).await;
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(_) => {
            Ok(Redirect::to(&format!("/inventory/items/{id}?done=maintenance")).into_response())
        }
        None => {
            let page = maintenance_page(&state, &ctx, id, form, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Categories

#[derive(Debug, Default, Deserialize)]
struct CategoryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    item_type: String,
    #[serde(default)]
    inspection_interval_days: String,
    #[serde(default)]
    retire_after_years: String,
    #[serde(default)]
    requires_serial_number: Option<String>,
    #[serde(default)]
    nfpa_tracking_enabled: Option<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    allowance: String,
    #[serde(default)]
    allowance_period: String,
}

const CATEGORY_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("item_type", "Kind of equipment"),
    ("inspection_interval_days", "Inspection every (days)"),
    ("retire_after_years", "Retire after (years)"),
    ("max_quantity", "Units per member"),
    ("allowance", "Units per member"),
    ("period_type", "Per"),
];

struct CategoryView {
    id: Uuid,
    name: String,
    kind: String,
    cycle: String,
    life: String,
    items: i64,
    active: bool,
}

#[derive(Template)]
#[template(path = "inventory/categories.html")]
struct CategoriesPage {
    chrome: Chrome,
    can_manage: bool,
    notice: Option<&'static str>,
    categories: Vec<CategoryView>,
    /// The new category's form (or the edited one's, with `editing`).
    editing: Option<Uuid>,
    form: CategoryForm,
    errors: FieldErrors,
    kinds: Vec<Opt>,
    periods: Vec<Opt>,
}

async fn categories_page(
    state: &AppState,
    ctx: &Ctx,
    editing: Option<Uuid>,
    form: Option<CategoryForm>,
    errors: &[FieldError],
) -> Result<CategoriesPage, AppError> {
    let mut conn = state.db.acquire().await?;
    let all = service::categories(ctx, &mut conn).await?;
    let form = match (form, editing) {
        (Some(f), _) => f,
        (None, Some(id)) => {
            let c = service::category_of(ctx, &mut conn, id).await?;
            let a = service::allowance_of(ctx, &mut conn, id).await?;
            CategoryForm {
                name: c.name,
                item_type: c.item_type,
                inspection_interval_days: c
                    .inspection_interval_days
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                retire_after_years: c
                    .retire_after_years
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
                requires_serial_number: c.requires_serial_number.then(|| "on".into()),
                nfpa_tracking_enabled: c.nfpa_tracking_enabled.then(|| "on".into()),
                active: c.active.then(|| "on".into()),
                allowance: a.max_quantity.map(|m| m.to_string()).unwrap_or_default(),
                allowance_period: a.period_type.unwrap_or_else(|| "annual".into()),
            }
        }
        (None, None) => CategoryForm {
            active: Some("on".into()),
            allowance_period: "annual".into(),
            ..Default::default()
        },
    };
    Ok(CategoriesPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        can_manage: ctx.has(INVENTORY_MANAGE),
        notice: None,
        categories: all
            .into_iter()
            .map(|c| CategoryView {
                id: c.id,
                kind: rules::label(rules::ITEM_TYPES, &c.item_type),
                cycle: c
                    .inspection_interval_days
                    .map(|d| format!("every {d} days"))
                    .unwrap_or_default(),
                life: c
                    .retire_after_years
                    .map(|y| format!("{y} years"))
                    .unwrap_or_default(),
                name: c.name,
                items: c.item_count,
                active: c.active,
            })
            .collect(),
        editing,
        errors: FieldErrors::new(errors, CATEGORY_LABELS),
        kinds: web::options(rules::ITEM_TYPES, &form.item_type, Some("Choose")),
        periods: web::options(
            &[("annual", "Year"), ("career", "Membership (in all)")],
            &form.allowance_period,
            None,
        ),
        form,
    })
}

async fn categories(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<DoneQuery>, QueryRejection>,
) -> PageResult {
    let mut page = categories_page(&state, &ctx, None, None, &[]).await?;
    if query.is_ok_and(|Query(q)| q.done.is_some()) {
        page.notice = Some("Category saved.");
    }
    Ok(web::render(&page))
}

async fn edit_category(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(INVENTORY_MANAGE)?;
    Ok(web::render(
        &categories_page(&state, &ctx, Some(id), None, &[]).await?,
    ))
}

async fn save_category(state: AppState, ctx: Ctx, id: Option<Uuid>, form: CategoryForm) -> PageResult {
    ctx.require(INVENTORY_MANAGE)?;
    let mut errors = Vec::new();
    let number = |field: &str, s: &str, errors: &mut Vec<FieldError>| match s.trim() {
        "" => None,
        t => match t.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError::new(field, "is not a whole number"));
                None
            }
        },
    };
    let input = CategoryInput {
        name: form.name.clone(),
        item_type: form.item_type.clone(),
        requires_serial_number: form.requires_serial_number.is_some(),
        requires_maintenance: false,
        nfpa_tracking_enabled: form.nfpa_tracking_enabled.is_some(),
        inspection_interval_days: number(
            "inspection_interval_days",
            &form.inspection_interval_days,
            &mut errors,
        ),
        retire_after_years: number("retire_after_years", &form.retire_after_years, &mut errors),
        active: form.active.is_some(),
    };
    let allowance = number("allowance", &form.allowance, &mut errors);
    let mut tx = state.db.begin().await?;
    let saved = match service::save_category(&ctx, &mut tx, id, input).await {
        Ok(c) => service::set_allowance(
            &ctx,
            &mut tx,
            c.id,
            service::AllowanceInput {
                max_quantity: allowance.map(i64::from),
                period_type: Some(form.allowance_period.clone()),
            },
        )
        .await
        .map(|_| c),
        Err(e) => Err(e),
    };
    match web::finish_form(tx, saved, &mut errors, &state.mailer).await? {
        Some(_) => Ok(Redirect::to("/inventory/categories?done=saved").into_response()),
        None => {
            let page = categories_page(&state, &ctx, id, Some(form), &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
    }
}

async fn create_category(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<CategoryForm>,
) -> PageResult {
    save_category(state, ctx, None, form).await
}

async fn update_category(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<CategoryForm>,
) -> PageResult {
    save_category(state, ctx, Some(id), form).await
}

// ---------------------------------------------------------------------------------------------
// What a member holds, what is out, what is due

#[derive(Template)]
#[template(path = "inventory/holdings.html")]
struct HoldingsPage {
    chrome: Chrome,
    mine: bool,
    member_id: Uuid,
    member: String,
    now: Vec<HoldingView>,
    before: Vec<HoldingView>,
}

async fn holdings_page(state: &AppState, ctx: &Ctx, member: Uuid) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let (who, rows) = moves::holdings(ctx, &mut conn, member, true).await?;
    let (now, before): (Vec<Holding>, Vec<Holding>) =
        rows.into_iter().partition(|h| h.until_at.is_none());
    Ok(web::render(&HoldingsPage {
        chrome: Chrome::for_viewer(ctx, SECTION),
        mine: member == ctx.user_id,
        member_id: who.id,
        member: who.name,
        now: now.into_iter().map(|h| HoldingView::new(ctx, h)).collect(),
        before: before
            .into_iter()
            .take(50)
            .map(|h| HoldingView::new(ctx, h))
            .collect(),
    }))
}

async fn mine(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let me = ctx.user_id;
    holdings_page(&state, &ctx, me).await
}

async fn member_holdings(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    holdings_page(&state, &ctx, id).await
}

struct OutView {
    item_id: Uuid,
    item: String,
    barcode: String,
    member_id: Uuid,
    member: String,
    due: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "inventory/overdue.html")]
struct OverduePage {
    chrome: Chrome,
    out: Vec<OutView>,
    overdue: usize,
}

async fn overdue(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let rows = moves::open_checkouts(&ctx, &mut conn, false).await?;
    let now = chrono::Utc::now();
    let zone = crate::time::zone(&ctx.timezone);
    let out: Vec<OutView> = rows
        .into_iter()
        .map(|c| {
            let d = c.expected_return_at.with_timezone(&zone).date_naive();
            OutView {
                item_id: c.item_id,
                item: c.item_name,
                barcode: c.barcode,
                member_id: c.user_id,
                member: c.member_name,
                due: ctx.locale.day(d.pred_opt().unwrap_or(d)),
                overdue: rules::is_overdue(c.expected_return_at, now),
            }
        })
        .collect();
    Ok(web::render(&OverduePage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        overdue: out.iter().filter(|o| o.overdue).count(),
        out,
    }))
}

struct DueView {
    item_id: Uuid,
    name: String,
    barcode: String,
    serial: String,
    category: String,
    holder: String,
    what: &'static str,
    due: String,
    overdue: bool,
}

#[derive(Template)]
#[template(path = "inventory/due.html")]
struct DuePage {
    chrome: Chrome,
    through: String,
    through_iso: String,
    items: Vec<DueView>,
    overdue: usize,
    error: Option<String>,
    print_js: String,
}

#[derive(Debug, Default, Deserialize)]
struct DueParams {
    through: Option<String>,
}

async fn due(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<DueParams>, QueryRejection>,
) -> PageResult {
    let raw = query.ok().and_then(|Query(q)| q.through).unwrap_or_default();
    let mut errors = Vec::new();
    let through = web::parse_optional_date("through", &raw, &mut errors);
    let mut conn = state.db.acquire().await?;
    let (through, rows) =
        match maintenance::due_list(&ctx, &mut conn, DueQuery { through }).await {
            Ok(found) => found,
            Err(AppError::Validation(found)) => {
                errors.extend(found);
                maintenance::due_list(&ctx, &mut conn, DueQuery::default()).await?
            }
            Err(other) => return Err(other.into()),
        };
    let items: Vec<DueView> = rows
        .into_iter()
        .map(|r| DueView {
            item_id: r.item_id,
            name: r.name,
            barcode: r.barcode,
            serial: r.serial_number.unwrap_or_default(),
            category: r.category.unwrap_or_default(),
            holder: r.holder.unwrap_or_default(),
            what: if r.reason == "retirement" {
                "Service life ends"
            } else {
                "Inspection or test"
            },
            due: ctx.locale.day(r.due),
            overdue: r.overdue,
        })
        .collect();
    let error = beside(&errors, &[("through", "Through")]).remove("through");
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        web::render(&DuePage {
            chrome: Chrome::for_viewer(&ctx, SECTION),
            through: ctx.locale.day(through),
            through_iso: through.to_string(),
            overdue: items.iter().filter(|i| i.overdue).count(),
            items,
            error,
            print_js: web::asset_url("print.js"),
        }),
    )
        .into_response())
}

// ---------------------------------------------------------------------------------------------
// Labels

struct Label {
    name: String,
    barcode: String,
    /// The QR code (SVG, made here from the item's lookup address).
    svg: String,
}

#[derive(Template)]
#[template(path = "inventory/labels.html")]
struct LabelsPage {
    chrome: Chrome,
    labels: Vec<Label>,
    total: u64,
    back: String,
    print_js: String,
}

/// A sheet of QR labels for the items the list shows (its search and filters), at most 60: a
/// phone's camera reading one opens the item's page through `/inventory/lookup`.
async fn labels(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<ListParams>, QueryRejection>,
) -> PageResult {
    ctx.require(INVENTORY_VIEW)?;
    let p = query.map(|Query(q)| q).unwrap_or_default();
    let mut conn = state.db.acquire().await?;
    let found = service::items(
        &ctx,
        &mut conn,
        ItemQuery {
            q: p.q.clone(),
            status: p
                .status
                .clone()
                .filter(|s| rules::STATUSES.iter().any(|(w, _)| w == s)),
            category_id: p.category.as_deref().and_then(|c| Uuid::try_parse(c).ok()),
            holder_id: None,
            min_value: (p.worth.as_deref() == Some("grant")).then(|| Decimal::from(GRANT_VALUE)),
            page: Some(1),
            per_page: Some(60),
        },
    )
    .await?;
    let base = state.config.public_url.clone();
    let mut out = Vec::new();
    for i in &found.items {
        let url = format!(
            "{base}/inventory/lookup?code={}",
            web::url_encode(&i.barcode)
        );
        out.push(Label {
            name: i.name.clone(),
            barcode: i.barcode.clone(),
            svg: web::qr_svg(&url)?,
        });
    }
    let back = web::link(
        "/inventory",
        &[
            ("q", p.q.as_deref().unwrap_or_default()),
            ("status", p.status.as_deref().unwrap_or_default()),
            ("category", p.category.as_deref().unwrap_or_default()),
        ],
    );
    Ok(web::render(&LabelsPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        labels: out,
        total: found.total,
        back,
        print_js: web::asset_url("print.js"),
    }))
}

// ---------------------------------------------------------------------------------------------
// The dashboard

/// "Out and overdue" for quartermasters; "Overdue with you" for a member who has something
/// past due.
pub async fn dashboard_panels(
    ctx: &Ctx,
    conn: &mut Conn,
) -> crate::error::AppResult<Vec<crate::module::Panel>> {
    use crate::module::{Panel, PanelItem};
    let mut panels = Vec::new();
    if !ctx.has(INVENTORY_VIEW) {
        return Ok(panels);
    }
    let zone = crate::time::zone(&ctx.timezone);
    let due_day = |t: chrono::DateTime<chrono::Utc>| {
        let d = t.with_timezone(&zone).date_naive();
        ctx.locale.day(d.pred_opt().unwrap_or(d))
    };
    if ctx.has(INVENTORY_MANAGE) {
        let overdue = moves::open_checkouts(ctx, conn, true).await?;
        if !overdue.is_empty() {
            let mut items: Vec<PanelItem> = overdue
                .iter()
                .take(5)
                .map(|c| PanelItem {
                    text: format!(
                        "{} ({}) with {}, due {}",
                        c.item_name,
                        c.barcode,
                        c.member_name,
                        due_day(c.expected_return_at)
                    ),
                    link: format!("/inventory/items/{}", c.item_id),
                })
                .collect();
            if overdue.len() > 5 {
                items.push(PanelItem {
                    text: format!("and {} more", overdue.len() - 5),
                    link: "/inventory/overdue".into(),
                });
            }
            panels.push(Panel {
                title: format!("Out and overdue ({})", overdue.len()),
                items,
            });
        }
    }
    if ctx.has(INVENTORY_MANAGE) {
        let open = service::clearance::clearances(ctx, conn, true).await?;
        if !open.is_empty() {
            panels.push(Panel {
                title: format!("Departure clearances open ({})", open.len()),
                items: open
                    .iter()
                    .take(5)
                    .map(|c| PanelItem {
                        text: format!(
                            "{}: {} of {} still out",
                            c.member_name, c.items_outstanding, c.total_items
                        ),
                        link: format!("/inventory/clearances/{}", c.id),
                    })
                    .collect(),
            });
        }
    }
    let (_, mine) = moves::holdings(ctx, conn, ctx.user_id, false).await?;
    let now = chrono::Utc::now();
    let late: Vec<PanelItem> = mine
        .iter()
        .filter(|h| h.due_at.is_some_and(|t| rules::is_overdue(t, now)))
        .map(|h| PanelItem {
            text: format!(
                "{} ({}) was due back {}",
                h.item_name,
                h.barcode,
                h.due_at.map(due_day).unwrap_or_default()
            ),
            link: "/inventory/mine".into(),
        })
        .collect();
    if !late.is_empty() {
        panels.push(Panel {
            title: "Equipment overdue with you".into(),
            items: late,
        });
    }
    Ok(panels)
}
