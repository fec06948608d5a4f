//! Stations and apparatus after setup: the lists the wizard started, kept up by the department
//! (`settings.manage`). Scheduling seats crews on the vehicles and facilities builds on the
//! stations. Nothing is deleted: a station or vehicle that is gone is retired (kept for history,
//! left out of pickers) and can be brought back. A station with vehicles in service cannot be
//! retired until they are moved or retired.
//!
//! The rules for one station or vehicle are the wizard's (`setup::service::validate_stations`),
//! so the two never disagree.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::Ctx;
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, FieldError, unique_violation};
use crate::setup::service::{ApparatusInput, LocationInput, validate_stations};

pub use crate::setup::service::{APPARATUS_TYPES, apparatus_defaults};

const STATION_KEYS: &[(&str, &str, &str)] = &[(
    "uq_locations_org_name",
    "name",
    "is already the name of a station here",
)];
const APPARATUS_KEYS: &[(&str, &str, &str)] = &[(
    "uq_basic_apparatus_org_unit",
    "unit_number",
    "is already a vehicle's unit number here",
)];

/// A station.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Station {
    pub id: Uuid,
    pub name: String,
    pub station_number: Option<String>,
    pub address_line1: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    /// False once retired.
    pub active: bool,
    /// Vehicles in service here.
    #[sqlx(try_from = "i64")]
    pub vehicles: u32,
    pub updated_at: DateTime<Utc>,
}

/// A vehicle.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Apparatus {
    pub id: Uuid,
    pub unit_number: String,
    pub name: Option<String>,
    /// One of engine, ladder, rescue, ambulance, brush, tanker, battalion, utility, boat, other.
    pub apparatus_type: String,
    /// Fewest crew it may respond with.
    pub min_staffing: u8,
    /// Riding positions, in seat order.
    pub positions: Vec<String>,
    pub station_id: Option<Uuid>,
    pub station_name: Option<String>,
    /// False once retired.
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ApparatusRow {
    id: Uuid,
    unit_number: String,
    name: Option<String>,
    apparatus_type: String,
    min_staffing: u8,
    positions: String,
    station_id: Option<Uuid>,
    station_name: Option<String>,
    active: bool,
    updated_at: DateTime<Utc>,
}

impl ApparatusRow {
    fn into_apparatus(self) -> Apparatus {
        Apparatus {
            id: self.id,
            unit_number: self.unit_number,
            name: self.name,
            apparatus_type: self.apparatus_type,
            min_staffing: self.min_staffing,
            // Written by us as a JSON list; an unreadable one shows as no positions.
            positions: serde_json::from_str(&self.positions).unwrap_or_default(),
            station_id: self.station_id,
            station_name: self.station_name,
            active: self.active,
            updated_at: self.updated_at,
        }
    }
}

/// A vehicle as the API and the form give it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApparatusBody {
    /// e.g. "E1", "Engine 21".
    pub unit_number: String,
    #[serde(default)]
    pub name: Option<String>,
    /// One of engine, ladder, rescue, ambulance, brush, tanker, battalion, utility, boat, other.
    pub apparatus_type: String,
    /// Fewest crew it may respond with (1–20); the type's usual figure when absent.
    #[serde(default)]
    pub min_staffing: Option<u32>,
    /// Riding positions; the type's usual ones when absent or empty.
    #[serde(default)]
    pub positions: Option<Vec<String>>,
    /// One of the department's stations in service.
    #[serde(default)]
    pub station_id: Option<Uuid>,
}

/// Field errors of the wizard's list check, named as on a single form (`name`, not
/// `locations[0].name`).
fn single(err: AppError) -> AppError {
    match err {
        AppError::Validation(errors) => AppError::Validation(
            errors
                .into_iter()
                .map(|e| {
                    let field = e
                        .field
                        .split_once("].")
                        .map(|(_, f)| f.to_string())
                        .unwrap_or(e.field);
                    FieldError::new(&field, e.message)
                })
                .collect(),
        ),
        other => other,
    }
}

const STATION_SELECT: &str = "SELECT l.id, l.name, l.station_number, l.address_line1, l.city,
        l.state, l.postal_code, l.active, l.updated_at,
        (SELECT COUNT(*) FROM basic_apparatus a
          WHERE a.organization_id = l.organization_id AND a.location_id = l.id
            AND a.is_active) AS vehicles
   FROM locations l";

/// The department's stations, in service first, then by number and name.
pub async fn stations(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Station>> {
    let sql = format!(
        "{STATION_SELECT} WHERE l.organization_id = ? AND l.is_station
          ORDER BY l.active DESC, l.station_number IS NULL, LENGTH(l.station_number),
                   l.station_number, l.name"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ctx.org_id)
        .fetch_all(&mut *conn)
        .await?)
}

pub async fn station(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Station> {
    let sql = format!("{STATION_SELECT} WHERE l.organization_id = ? AND l.id = ? AND l.is_station");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ctx.org_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// Locks a station of the caller's department for a change; the row as it was.
async fn lock_station(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Station> {
    sqlx::query("SELECT id FROM locations WHERE organization_id = ? AND id = ? FOR UPDATE")
        .bind(ctx.org_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?;
    station(ctx, tx, id).await
}

fn station_changes(s: &LocationInput) -> serde_json::Value {
    serde_json::json!({
        "name": s.name, "station_number": s.station_number, "address_line1": s.address_line1,
        "city": s.city, "state": s.state, "postal_code": s.postal_code,
    })
}

pub async fn create_station(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    input: LocationInput,
) -> AppResult<Station> {
    ctx.require(SETTINGS_MANAGE)?;
    let (valid, _) = validate_stations(&[input], &[]).map_err(single)?;
    let s = &valid[0];
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO locations (id, organization_id, name, station_number, address_line1, city,
            state, postal_code, is_station, active, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, TRUE, TRUE, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&s.name)
    .bind(&s.station_number)
    .bind(&s.address_line1)
    .bind(&s.city)
    .bind(&s.state)
    .bind(&s.postal_code)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, STATION_KEYS))?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("location.created", "location", id).changes(station_changes(s)),
    )
    .await?;
    station(ctx, tx, id).await
}

pub async fn update_station(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: LocationInput,
) -> AppResult<Station> {
    ctx.require(SETTINGS_MANAGE)?;
    let before = lock_station(ctx, tx, id).await?;
    let (valid, _) = validate_stations(&[input], &[]).map_err(single)?;
    let s = &valid[0];
    sqlx::query(
        "UPDATE locations SET name = ?, station_number = ?, address_line1 = ?, city = ?,
                state = ?, postal_code = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&s.name)
    .bind(&s.station_number)
    .bind(&s.address_line1)
    .bind(&s.city)
    .bind(&s.state)
    .bind(&s.postal_code)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, STATION_KEYS))?;
    let was = LocationInput {
        name: before.name,
        station_number: before.station_number,
        address_line1: before.address_line1,
        city: before.city,
        state: before.state,
        postal_code: before.postal_code,
    };
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("location.updated", "location", id).changes(serde_json::json!({
            "before": station_changes(&was), "after": station_changes(s),
        })),
    )
    .await?;
    station(ctx, tx, id).await
}

/// Retires a station (`active` false) or brings it back into service.
pub async fn set_station_active(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    active: bool,
) -> AppResult<Station> {
    ctx.require(SETTINGS_MANAGE)?;
    let before = lock_station(ctx, tx, id).await?;
    if before.active == active {
        return Err(AppError::Conflict(if active {
            "this station is already in service".into()
        } else {
            "this station is already retired".into()
        }));
    }
    if !active && before.vehicles > 0 {
        return Err(AppError::Conflict(format!(
            "{} vehicle{} {} at this station: move or retire {} first",
            before.vehicles,
            if before.vehicles == 1 { "" } else { "s" },
            if before.vehicles == 1 { "is" } else { "are" },
            if before.vehicles == 1 { "it" } else { "them" },
        )));
    }
    sqlx::query(
        "UPDATE locations SET active = ?, updated_at = ? WHERE organization_id = ? AND id = ?",
    )
    .bind(active)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let action = if active {
        "location.reactivated"
    } else {
        "location.retired"
    };
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(action, "location", id).changes(serde_json::json!({"name": before.name})),
    )
    .await?;
    station(ctx, tx, id).await
}

const APPARATUS_SELECT: &str = "SELECT a.id, a.unit_number, a.name, a.apparatus_type,
        a.min_staffing, a.positions, a.location_id AS station_id, l.name AS station_name,
        a.is_active AS active, a.updated_at
   FROM basic_apparatus a
   LEFT JOIN locations l ON l.organization_id = a.organization_id AND l.id = a.location_id";

/// The department's vehicles, in service first, then by unit number.
pub async fn apparatus_list(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<Apparatus>> {
    let sql = format!(
        "{APPARATUS_SELECT} WHERE a.organization_id = ?
          ORDER BY a.is_active DESC, LENGTH(a.unit_number), a.unit_number"
    );
    let rows: Vec<ApparatusRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ctx.org_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(ApparatusRow::into_apparatus).collect())
}

pub async fn apparatus(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Apparatus> {
    let sql = format!("{APPARATUS_SELECT} WHERE a.organization_id = ? AND a.id = ?");
    let row: ApparatusRow = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(ctx.org_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(row.into_apparatus())
}

async fn lock_apparatus(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid) -> AppResult<Apparatus> {
    sqlx::query("SELECT id FROM basic_apparatus WHERE organization_id = ? AND id = ? FOR UPDATE")
        .bind(ctx.org_id)
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)?;
    apparatus(ctx, tx, id).await
}

/// A checked vehicle: the wizard's rules, and a station of this department that is in service
/// (locked, so it cannot be retired while the vehicle is moved there).
struct ValidVehicle {
    unit_number: String,
    name: Option<String>,
    apparatus_type: String,
    min_staffing: u32,
    positions: Vec<String>,
    station_id: Option<Uuid>,
}

async fn check_vehicle(ctx: &Ctx, tx: &mut Tx<'_>, body: ApparatusBody) -> AppResult<ValidVehicle> {
    let checked = validate_stations(
        &[],
        &[ApparatusInput {
            unit_number: body.unit_number,
            name: body.name,
            apparatus_type: body.apparatus_type,
            min_staffing: body.min_staffing,
            positions: body.positions,
            station: None,
        }],
    )
    .map_err(single);
    let station_ok = match body.station_id {
        None => true,
        Some(station) => sqlx::query_scalar::<_, i64>(
            "SELECT 1 FROM locations
              WHERE organization_id = ? AND id = ? AND is_station AND active FOR UPDATE",
        )
        .bind(ctx.org_id)
        .bind(station)
        .fetch_optional(&mut **tx)
        .await?
        .is_some(),
    };
    let station_error = FieldError::new(
        "station_id",
        "is not one of the department's stations in service",
    );
    let (_, valid) = match (checked, station_ok) {
        (Ok(v), true) => v,
        (Ok(_), false) => return Err(AppError::Validation(vec![station_error])),
        (Err(AppError::Validation(mut errors)), ok) => {
            if !ok {
                errors.push(station_error);
            }
            return Err(AppError::Validation(errors));
        }
        (Err(other), _) => return Err(other),
    };
    let v = valid.into_iter().next().ok_or(AppError::NotFound)?;
    Ok(ValidVehicle {
        unit_number: v.unit_number,
        name: v.name,
        apparatus_type: v.apparatus_type,
        min_staffing: v.min_staffing,
        positions: v.positions,
        station_id: body.station_id,
    })
}

fn vehicle_changes(v: &ValidVehicle) -> serde_json::Value {
    serde_json::json!({
        "unit_number": v.unit_number, "name": v.name, "apparatus_type": v.apparatus_type,
        "min_staffing": v.min_staffing, "positions": v.positions, "station_id": v.station_id,
    })
}

fn positions_json(v: &ValidVehicle) -> AppResult<String> {
    Ok(serde_json::to_string(&v.positions).map_err(anyhow::Error::new)?)
}

pub async fn create_apparatus(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    body: ApparatusBody,
) -> AppResult<Apparatus> {
    ctx.require(SETTINGS_MANAGE)?;
    let v = check_vehicle(ctx, tx, body).await?;
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO basic_apparatus (id, organization_id, unit_number, name, apparatus_type,
            min_staffing, positions, location_id, is_active, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
    )
    .bind(id)
    .bind(ctx.org_id)
    .bind(&v.unit_number)
    .bind(&v.name)
    .bind(&v.apparatus_type)
    .bind(v.min_staffing)
    .bind(positions_json(&v)?)
    .bind(v.station_id)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, APPARATUS_KEYS))?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("apparatus.created", "apparatus", id).changes(vehicle_changes(&v)),
    )
    .await?;
    apparatus(ctx, tx, id).await
}

pub async fn update_apparatus(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    body: ApparatusBody,
) -> AppResult<Apparatus> {
    ctx.require(SETTINGS_MANAGE)?;
    let before = lock_apparatus(ctx, tx, id).await?;
    let v = check_vehicle(ctx, tx, body).await?;
    sqlx::query(
        "UPDATE basic_apparatus SET unit_number = ?, name = ?, apparatus_type = ?,
                min_staffing = ?, positions = ?, location_id = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(&v.unit_number)
    .bind(&v.name)
    .bind(&v.apparatus_type)
    .bind(v.min_staffing)
    .bind(positions_json(&v)?)
    .bind(v.station_id)
    .bind(db::now())
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, APPARATUS_KEYS))?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("apparatus.updated", "apparatus", id).changes(serde_json::json!({
            "before": {
                "unit_number": before.unit_number, "name": before.name,
                "apparatus_type": before.apparatus_type, "min_staffing": before.min_staffing,
                "positions": before.positions, "station_id": before.station_id,
            },
            "after": vehicle_changes(&v),
        })),
    )
    .await?;
    apparatus(ctx, tx, id).await
}

/// Retires a vehicle or brings it back into service (at a station that is still in service;
/// otherwise it comes back without one).
pub async fn set_apparatus_active(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    active: bool,
) -> AppResult<Apparatus> {
    ctx.require(SETTINGS_MANAGE)?;
    let before = lock_apparatus(ctx, tx, id).await?;
    if before.active == active {
        return Err(AppError::Conflict(if active {
            "this vehicle is already in service".into()
        } else {
            "this vehicle is already retired".into()
        }));
    }
    sqlx::query(
        "UPDATE basic_apparatus a SET a.is_active = ?, a.updated_at = ?,
                a.location_id = IF(? AND NOT EXISTS (SELECT 1 FROM locations l
                     WHERE l.organization_id = a.organization_id AND l.id = a.location_id
                       AND l.active), NULL, a.location_id)
          WHERE a.organization_id = ? AND a.id = ?",
    )
    .bind(active)
    .bind(db::now())
    .bind(active)
    .bind(ctx.org_id)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let action = if active {
        "apparatus.reactivated"
    } else {
        "apparatus.retired"
    };
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new(action, "apparatus", id)
            .changes(serde_json::json!({"unit_number": before.unit_number})),
    )
    .await?;
    apparatus(ctx, tx, id).await
}
