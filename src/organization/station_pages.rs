//! Stations and apparatus pages in Settings (`/settings/stations`): the list every member may
//! read (which station, which vehicles, how many ride), and for `settings.manage` the forms to
//! add and edit them and to retire or bring them back. Rules live in `stations`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::pages::{CITY_STATE_ZIP, ORG_STREET};
use super::stations::{self, APPARATUS_TYPES, ApparatusBody, apparatus_defaults};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::error::{AppError, FieldError};
use crate::setup::service::LocationInput;
use crate::state::AppState;
use crate::web::{
    self, Chrome, DoneQuery, Field, FieldSpec, NavItem, Opt, PageResult, PathId, Viewer, beside,
    finish_form,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/settings/stations", get(list))
        .route(
            "/settings/stations/new",
            get(station_new).post(station_create),
        )
        .route(
            "/settings/stations/{id}",
            get(station_edit).post(station_update),
        )
        .route("/settings/stations/{id}/active", post(station_active))
        .route(
            "/settings/apparatus/new",
            get(vehicle_new).post(vehicle_create),
        )
        .route(
            "/settings/apparatus/{id}",
            get(vehicle_edit).post(vehicle_update),
        )
        .route("/settings/apparatus/{id}/active", post(vehicle_active))
}

const HERE: &str = "/settings/stations";

// ---------------------------------------------------------------------------------------------
// The list

pub struct VehicleLine {
    id: Uuid,
    unit: String,
    what: String,
    crew: String,
}

pub struct StationCard {
    id: Uuid,
    title: String,
    address: String,
    vehicles: Vec<VehicleLine>,
}

#[derive(Template)]
#[template(path = "organization/stations.html")]
struct ListPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    can_manage: bool,
    notice: Option<&'static str>,
    stations: Vec<StationCard>,
    /// Vehicles in service at no station.
    unplaced: Vec<VehicleLine>,
    retired_stations: Vec<StationCard>,
    retired_vehicles: Vec<VehicleLine>,
}

fn type_label(kind: &str) -> String {
    let mut c = kind.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn vehicle_line(a: &stations::Apparatus) -> VehicleLine {
    let seats = a.positions.len();
    VehicleLine {
        id: a.id,
        unit: a.unit_number.clone(),
        what: match &a.name {
            Some(n) => format!("{} · {n}", type_label(&a.apparatus_type)),
            None => type_label(&a.apparatus_type),
        },
        crew: format!(
            "{seats} seat{}, at least {} to respond",
            if seats == 1 { "" } else { "s" },
            a.min_staffing
        ),
    }
}

fn station_title(s: &stations::Station) -> String {
    match &s.station_number {
        Some(n) => format!("Station {n} · {}", s.name),
        None => s.name.clone(),
    }
}

fn station_address(s: &stations::Station) -> String {
    let place = [
        s.city.as_deref(),
        s.state.as_deref(),
        s.postal_code.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    [s.address_line1.as_deref(), Some(place.as_str())]
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

async fn list(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Query(done): Query<DoneQuery>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let all_stations = stations::stations(&ctx, &mut conn).await?;
    let vehicles = stations::apparatus_list(&ctx, &mut conn).await?;
    let card = |s: &stations::Station| StationCard {
        id: s.id,
        title: station_title(s),
        address: station_address(s),
        vehicles: vehicles
            .iter()
            .filter(|a| a.active && a.station_id == Some(s.id))
            .map(vehicle_line)
            .collect(),
    };
    Ok(web::render(&ListPage {
        chrome: Chrome::for_viewer(&ctx, web::SETTINGS),
        settings_nav: web::settings_nav(HERE),
        can_manage: ctx.has(SETTINGS_MANAGE),
        notice: match done.done.as_deref() {
            Some("station") => Some("The station was saved."),
            Some("vehicle") => Some("The vehicle was saved."),
            Some("retired") => Some("Retired: it stays in the records and can be brought back."),
            Some("reactivated") => Some("Back in service."),
            _ => None,
        },
        stations: all_stations.iter().filter(|s| s.active).map(card).collect(),
        unplaced: vehicles
            .iter()
            .filter(|a| {
                a.active
                    && a.station_id
                        .is_none_or(|id| !all_stations.iter().any(|s| s.id == id && s.active))
            })
            .map(vehicle_line)
            .collect(),
        retired_stations: all_stations
            .iter()
            .filter(|s| !s.active)
            .map(card)
            .collect(),
        retired_vehicles: vehicles
            .iter()
            .filter(|a| !a.active)
            .map(vehicle_line)
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// A station

const STATION_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "name",
        label: "Name",
        kind: "text",
        required: true,
        autocomplete: "off",
        hint: "e.g. Main Street Station.",
    },
    FieldSpec {
        name: "station_number",
        label: "Station number (optional)",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "As on the door and in dispatch, e.g. 2 or 21.",
    },
];

const STATION_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("station_number", "Station number"),
    ("address_line1", "Street address"),
    ("city", "City"),
    ("state", "State"),
    ("postal_code", "ZIP code"),
];

#[derive(Debug, Default, Deserialize)]
pub struct StationForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    station_number: String,
    #[serde(default)]
    address_line1: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    postal_code: String,
}

impl StationForm {
    /// The form filled in from a saved station.
    fn of(s: &stations::Station) -> StationForm {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        StationForm {
            name: s.name.clone(),
            station_number: opt(&s.station_number),
            address_line1: opt(&s.address_line1),
            city: opt(&s.city),
            state: opt(&s.state),
            postal_code: opt(&s.postal_code),
        }
    }

    fn value(&self, name: &str) -> String {
        match name {
            "name" => &self.name,
            "station_number" => &self.station_number,
            "address_line1" => &self.address_line1,
            "city" => &self.city,
            "state" => &self.state,
            "postal_code" => &self.postal_code,
            _ => "",
        }
        .to_string()
    }

    fn input(&self) -> LocationInput {
        let given = |v: &str| Some(v.to_string()).filter(|v| !v.trim().is_empty());
        LocationInput {
            name: self.name.clone(),
            station_number: given(&self.station_number),
            address_line1: given(&self.address_line1),
            city: given(&self.city),
            state: given(&self.state),
            postal_code: given(&self.postal_code),
        }
    }
}

#[derive(Template)]
#[template(path = "organization/station_form.html")]
struct StationPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    id: Option<Uuid>,
    active: bool,
    vehicles: u32,
    fields: Vec<Field>,
    address: Vec<Field>,
    problem: Option<String>,
}

fn station_page(
    ctx: &Ctx,
    id: Option<Uuid>,
    (active, vehicles): (bool, u32),
    form: &StationForm,
    errors: &[FieldError],
) -> StationPage {
    let by_field: HashMap<String, String> = beside(errors, STATION_LABELS);
    let address_specs: Vec<FieldSpec> = ORG_STREET
        .iter()
        .filter(|f| f.name == "address_line1")
        .chain(CITY_STATE_ZIP)
        .cloned()
        .collect();
    StationPage {
        chrome: Chrome::for_viewer(ctx, web::SETTINGS),
        settings_nav: web::settings_nav(HERE),
        id,
        active,
        vehicles,
        fields: web::fields(STATION_FIELDS, |n| form.value(n), &by_field),
        address: web::fields(&address_specs, |n| form.value(n), &by_field),
        problem: by_field.get("").cloned(),
    }
}

async fn station_new(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(SETTINGS_MANAGE)?;
    let page = station_page(&ctx, None, (true, 0), &StationForm::default(), &[]);
    Ok(web::render(&page))
}

async fn station_edit(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(SETTINGS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let s = stations::station(&ctx, &mut conn, id).await?;
    let form = StationForm::of(&s);
    let page = station_page(&ctx, Some(id), (s.active, s.vehicles), &form, &[]);
    Ok(web::render(&page))
}

async fn station_save(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    form: StationForm,
) -> PageResult {
    ctx.require(SETTINGS_MANAGE)?;
    let mut tx = state.db.begin().await?;
    let saved = match id {
        None => stations::create_station(ctx, &mut tx, form.input()).await,
        Some(id) => stations::update_station(ctx, &mut tx, id, form.input()).await,
    };
    let mut errors = Vec::new();
    if finish_form(tx, saved, &mut errors, &state.mailer)
        .await?
        .is_some()
    {
        return Ok(Redirect::to("/settings/stations?done=station").into_response());
    }
    let (active, vehicles) = match id {
        Some(id) => {
            let mut conn = state.db.acquire().await?;
            let s = stations::station(ctx, &mut conn, id).await?;
            (s.active, s.vehicles)
        }
        None => (true, 0),
    };
    let page = station_page(ctx, id, (active, vehicles), &form, &errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

async fn station_create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<StationForm>,
) -> PageResult {
    station_save(&state, &ctx, None, form).await
}

async fn station_update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<StationForm>,
) -> PageResult {
    station_save(&state, &ctx, Some(id), form).await
}

#[derive(Debug, Deserialize)]
pub struct ActiveForm {
    /// "retire" or "reactivate".
    #[serde(default)]
    to: String,
}

fn wants_active(form: &ActiveForm) -> Result<bool, AppError> {
    match form.to.as_str() {
        "retire" => Ok(false),
        "reactivate" => Ok(true),
        _ => Err(AppError::BadRequest("retire or reactivate?".into())),
    }
}

async fn station_active(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActiveForm>,
) -> PageResult {
    let active = wants_active(&form)?;
    let mut tx = state.db.begin().await?;
    match stations::set_station_active(&ctx, &mut tx, id, active).await {
        Ok(_) => {
            tx.commit().await?;
            let done = if active { "reactivated" } else { "retired" };
            Ok(Redirect::to(&format!("/settings/stations?done={done}")).into_response())
        }
        Err(err @ AppError::Conflict(_)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let s = stations::station(&ctx, &mut conn, id).await?;
            let form = StationForm::of(&s);
            let mut page = station_page(&ctx, Some(id), (s.active, s.vehicles), &form, &[]);
            page.problem = Some(web::refusal(&err));
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// A vehicle

const VEHICLE_LABELS: &[(&str, &str)] = &[
    ("unit_number", "Unit number"),
    ("name", "Name"),
    ("apparatus_type", "Type"),
    ("min_staffing", "Least crew"),
    ("positions", "Riding positions"),
    ("station_id", "Station"),
];

#[derive(Debug, Default, Deserialize)]
pub struct VehicleForm {
    #[serde(default)]
    unit_number: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    apparatus_type: String,
    #[serde(default)]
    min_staffing: String,
    /// One per line (or separated by commas).
    #[serde(default)]
    positions: String,
    #[serde(default)]
    station_id: String,
}

#[derive(Template)]
#[template(path = "organization/apparatus_form.html")]
struct VehiclePage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    id: Option<Uuid>,
    active: bool,
    form: VehicleForm,
    types: Vec<Opt>,
    stations: Vec<Opt>,
    errors: HashMap<String, String>,
    problem: Option<String>,
    /// "for an engine: Officer, Driver, Firefighter, Firefighter; at least 3 to respond".
    defaults: String,
}

async fn vehicle_page(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    active: bool,
    form: VehicleForm,
    errors: &[FieldError],
) -> Result<VehiclePage, AppError> {
    let mut conn = state.db.acquire().await?;
    let in_service: Vec<(String, String)> = stations::stations(ctx, &mut conn)
        .await?
        .iter()
        .filter(|s| s.active)
        .map(|s| (s.id.to_string(), station_title(s)))
        .collect();
    let pairs: Vec<(&str, &str)> = in_service
        .iter()
        .map(|(v, l)| (v.as_str(), l.as_str()))
        .collect();
    let labels: Vec<(String, String)> = APPARATUS_TYPES
        .iter()
        .map(|t| (t.to_string(), type_label(t)))
        .collect();
    let type_pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(v, l)| (v.as_str(), l.as_str()))
        .collect();
    let by_field = beside(errors, VEHICLE_LABELS);
    Ok(VehiclePage {
        chrome: Chrome::for_viewer(ctx, web::SETTINGS),
        settings_nav: web::settings_nav(HERE),
        id,
        active,
        types: web::options(&type_pairs, &form.apparatus_type, None),
        stations: web::options(&pairs, &form.station_id, Some("No station")),
        problem: by_field.get("").cloned(),
        errors: by_field,
        defaults: {
            let kind = if APPARATUS_TYPES.contains(&form.apparatus_type.as_str()) {
                form.apparatus_type.as_str()
            } else {
                "engine"
            };
            let (seats, least) = apparatus_defaults(kind);
            format!(
                "for {} {kind}: {}; at least {least} to respond",
                if kind.starts_with(['a', 'e', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                },
                seats.join(", ")
            )
        },
        form,
    })
}

async fn vehicle_new(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(SETTINGS_MANAGE)?;
    let form = VehicleForm {
        apparatus_type: "engine".into(),
        ..VehicleForm::default()
    };
    Ok(web::render(
        &vehicle_page(&state, &ctx, None, true, form, &[]).await?,
    ))
}

fn form_of(a: &stations::Apparatus) -> VehicleForm {
    VehicleForm {
        unit_number: a.unit_number.clone(),
        name: a.name.clone().unwrap_or_default(),
        apparatus_type: a.apparatus_type.clone(),
        min_staffing: a.min_staffing.to_string(),
        positions: a.positions.join("\n"),
        station_id: a.station_id.map(|s| s.to_string()).unwrap_or_default(),
    }
}

async fn vehicle_edit(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    ctx.require(SETTINGS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let a = stations::apparatus(&ctx, &mut conn, id).await?;
    drop(conn);
    let page = vehicle_page(&state, &ctx, Some(id), a.active, form_of(&a), &[]).await?;
    Ok(web::render(&page))
}

/// The form as the service's input; what could not be read is an error beside its field.
fn vehicle_body(form: &VehicleForm, errors: &mut Vec<FieldError>) -> ApparatusBody {
    let min_staffing = match form.min_staffing.trim() {
        "" => None,
        n => match n.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.push(FieldError::new("min_staffing", "must be a whole number"));
                None
            }
        },
    };
    let station_id = match form.station_id.trim() {
        "" => None,
        s => match Uuid::parse_str(s) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("station_id", "is not one of the choices"));
                None
            }
        },
    };
    let positions: Vec<String> = form
        .positions
        .split(['\n', ','])
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    ApparatusBody {
        unit_number: form.unit_number.clone(),
        name: Some(form.name.clone()).filter(|n| !n.trim().is_empty()),
        apparatus_type: form.apparatus_type.clone(),
        min_staffing,
        positions: Some(positions),
        station_id,
    }
}

async fn vehicle_save(
    state: &AppState,
    ctx: &Ctx,
    id: Option<Uuid>,
    form: VehicleForm,
) -> PageResult {
    ctx.require(SETTINGS_MANAGE)?;
    let mut errors = Vec::new();
    let body = vehicle_body(&form, &mut errors);
    let mut tx = state.db.begin().await?;
    let saved = match id {
        None => stations::create_apparatus(ctx, &mut tx, body).await,
        Some(id) => stations::update_apparatus(ctx, &mut tx, id, body).await,
    };
    if finish_form(tx, saved, &mut errors, &state.mailer)
        .await?
        .is_some()
    {
        return Ok(Redirect::to("/settings/stations?done=vehicle").into_response());
    }
    let active = match id {
        Some(id) => {
            let mut conn = state.db.acquire().await?;
            stations::apparatus(ctx, &mut conn, id).await?.active
        }
        None => true,
    };
    let page = vehicle_page(state, ctx, id, active, form, &errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

async fn vehicle_create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<VehicleForm>,
) -> PageResult {
    vehicle_save(&state, &ctx, None, form).await
}

async fn vehicle_update(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<VehicleForm>,
) -> PageResult {
    vehicle_save(&state, &ctx, Some(id), form).await
}

async fn vehicle_active(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<ActiveForm>,
) -> PageResult {
    let active = wants_active(&form)?;
    let mut tx = state.db.begin().await?;
    match stations::set_apparatus_active(&ctx, &mut tx, id, active).await {
        Ok(_) => {
            tx.commit().await?;
            let done = if active { "reactivated" } else { "retired" };
            Ok(Redirect::to(&format!("/settings/stations?done={done}")).into_response())
        }
        Err(err @ AppError::Conflict(_)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let a = stations::apparatus(&ctx, &mut conn, id).await?;
            drop(conn);
            let mut page = vehicle_page(&state, &ctx, Some(id), a.active, form_of(&a), &[]).await?;
            page.problem = Some(web::refusal(&err));
            Ok((StatusCode::CONFLICT, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}
