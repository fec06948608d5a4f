//! The wizard's rules: its steps, the draft kept in `setup_state`, the database check, and the
//! finish that creates everything in one transaction.

use crate::auth::OrgId;
use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use sqlx::MySqlPool;
use uuid::Uuid;

use crate::audit::{self, Actor, Entry};
use crate::auth::permissions::MODULES;
use crate::auth::sessions::{self, Issued};
use crate::db::{self, Tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Checks};
use crate::notify::mail::{self, EmailSettingsInput, SettingsRow, TestResult};
use crate::organization::service::{self as organizations, NewAdmin, OrgProfile};
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Steps

/// The wizard's steps, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Check,
    Organization,
    Administrator,
    Stations,
    Email,
    Https,
    Modules,
    Finish,
}

pub const STEPS: &[Step] = &[
    Step::Check,
    Step::Organization,
    Step::Administrator,
    Step::Stations,
    Step::Email,
    Step::Https,
    Step::Modules,
    Step::Finish,
];

impl Step {
    pub fn slug(self) -> &'static str {
        match self {
            Step::Check => "check",
            Step::Organization => "organization",
            Step::Administrator => "administrator",
            Step::Stations => "stations",
            Step::Email => "email",
            Step::Https => "https",
            Step::Modules => "modules",
            Step::Finish => "finish",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Check => "Database check",
            Step::Organization => "Department",
            Step::Administrator => "Administrator",
            Step::Stations => "Stations and apparatus",
            Step::Email => "Email",
            Step::Https => "HTTPS",
            Step::Modules => "Modules",
            Step::Finish => "Review and finish",
        }
    }

    pub fn skippable(self) -> bool {
        matches!(self, Step::Stations | Step::Email)
    }

    pub fn from_slug(slug: &str) -> Option<Step> {
        STEPS.iter().copied().find(|s| s.slug() == slug)
    }

    pub fn index(self) -> usize {
        STEPS.iter().position(|s| *s == self).unwrap_or(0)
    }

    pub fn previous(self) -> Option<Step> {
        self.index().checked_sub(1).map(|i| STEPS[i])
    }
}

// ---------------------------------------------------------------------------------------------
// The draft

/// Everything answered so far. Secrets are never kept in the clear: the administrator's password
/// as its Argon2 hash, the SMTP password encrypted with the server's key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Draft {
    #[serde(default)]
    pub checked: bool,
    #[serde(default)]
    pub organization: Option<OrgProfile>,
    #[serde(default)]
    pub administrator: Option<AdminDraft>,
    #[serde(default)]
    pub stations: Option<StationsDraft>,
    #[serde(default)]
    pub email: Option<EmailDraft>,
    #[serde(default)]
    pub https: Option<HttpsDraft>,
    #[serde(default)]
    pub modules: Option<BTreeMap<String, bool>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminDraft {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password_hash: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationsDraft {
    /// The administrator chose to add them later.
    #[serde(default)]
    pub skipped: bool,
    #[serde(default)]
    pub locations: Vec<LocationInput>,
    #[serde(default)]
    pub apparatus: Vec<ApparatusInput>,
}

/// A station.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationInput {
    pub name: String,
    #[serde(default)]
    pub station_number: Option<String>,
    #[serde(default)]
    pub address_line1: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
}

/// A vehicle.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApparatusInput {
    /// e.g. "E1", "Engine 21".
    pub unit_number: String,
    #[serde(default)]
    pub name: Option<String>,
    /// One of `APPARATUS_TYPES`.
    pub apparatus_type: String,
    /// Fewest crew it may respond with; the type's usual figure when absent.
    #[serde(default)]
    pub min_staffing: Option<u32>,
    /// Riding positions; the type's usual ones when absent or empty.
    #[serde(default)]
    pub positions: Option<Vec<String>>,
    /// The name of one of the stations above.
    #[serde(default)]
    pub station: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailDraft {
    pub skipped: bool,
    pub host: String,
    pub port: u32,
    pub security: String,
    pub username: Option<String>,
    /// base64 of the encrypted password.
    pub password_encrypted: Option<String>,
    pub from_address: String,
    pub from_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HttpsDraft {
    /// `generated`, `uploaded`, `files` or `off`.
    pub certificate: String,
    /// SHA-256 fingerprint of the certificate confirmed (None with HTTPS off).
    pub fingerprint: Option<String>,
}

impl Draft {
    pub fn done(&self, step: Step) -> bool {
        match step {
            Step::Check => self.checked,
            Step::Organization => self.organization.is_some(),
            Step::Administrator => self.administrator.is_some(),
            Step::Stations => self.stations.is_some(),
            Step::Email => self.email.is_some(),
            Step::Https => self.https.is_some(),
            Step::Modules => self.modules.is_some(),
            Step::Finish => false,
        }
    }

    /// The first step not yet answered (`Finish` when all are).
    pub fn next_step(&self) -> Step {
        STEPS
            .iter()
            .copied()
            .find(|s| !self.done(*s))
            .unwrap_or(Step::Finish)
    }

    /// A step can be opened once every step before it is answered.
    pub fn reachable(&self, step: Step) -> bool {
        STEPS[..step.index()].iter().all(|s| self.done(*s))
    }

    pub fn org_name(&self) -> String {
        self.organization
            .as_ref()
            .and_then(|o| o.name.clone())
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "Logbook".into())
    }

    pub fn timezone(&self) -> String {
        self.organization
            .as_ref()
            .and_then(|o| o.timezone.clone())
            .unwrap_or_else(|| "UTC".into())
    }
}

/// What the API shows of the draft: no hashes, no passwords.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DraftView {
    pub steps: Vec<StepView>,
    pub next_step: Step,
    pub database_checked: bool,
    pub organization: Option<OrgProfile>,
    pub administrator: Option<AdminView>,
    pub stations: Option<StationsDraft>,
    pub email: Option<EmailView>,
    pub https: Option<HttpsDraft>,
    pub modules: BTreeMap<String, bool>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StepView {
    pub step: Step,
    pub title: &'static str,
    pub done: bool,
    pub skippable: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminView {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmailView {
    pub skipped: bool,
    pub host: String,
    pub port: u32,
    pub security: String,
    pub username: Option<String>,
    pub password_set: bool,
    pub from_address: String,
    pub from_name: Option<String>,
}

impl Draft {
    pub fn view(&self) -> DraftView {
        DraftView {
            steps: STEPS
                .iter()
                .map(|s| StepView {
                    step: *s,
                    title: s.title(),
                    done: self.done(*s),
                    skippable: s.skippable(),
                })
                .collect(),
            next_step: self.next_step(),
            database_checked: self.checked,
            organization: self.organization.clone(),
            administrator: self.administrator.as_ref().map(|a| AdminView {
                username: a.username.clone(),
                email: a.email.clone(),
                first_name: a.first_name.clone(),
                last_name: a.last_name.clone(),
            }),
            stations: self.stations.clone(),
            email: self.email.as_ref().map(|e| EmailView {
                skipped: e.skipped,
                host: e.host.clone(),
                port: e.port,
                security: e.security.clone(),
                username: e.username.clone(),
                password_set: e.password_encrypted.is_some(),
                from_address: e.from_address.clone(),
                from_name: e.from_name.clone(),
            }),
            https: self.https.clone(),
            modules: self.modules_or_default(),
        }
    }

    pub fn modules_or_default(&self) -> BTreeMap<String, bool> {
        let mut all: BTreeMap<String, bool> =
            MODULES.iter().map(|m| (m.to_string(), true)).collect();
        if let Some(chosen) = &self.modules {
            all.extend(chosen.iter().map(|(k, v)| (k.clone(), *v)));
        }
        all
    }
}

/// Whether setup is over: an organization exists or the wizard finished.
pub async fn setup_done(db: &MySqlPool) -> AppResult<bool> {
    let (orgs, completed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM organizations),
                (SELECT COUNT(*) FROM setup_state WHERE completed_at IS NOT NULL)",
    )
    .fetch_one(db)
    .await?;
    Ok(orgs > 0 || completed > 0)
}

const ALREADY_DONE: &str = "setup is already done and cannot be run again; sign in instead";

pub async fn load(db: &MySqlPool) -> AppResult<Draft> {
    let row: Option<(String, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT draft, completed_at FROM setup_state WHERE id = 1")
            .fetch_optional(db)
            .await?;
    match row {
        Some((_, Some(_))) => Err(AppError::Conflict(ALREADY_DONE.into())),
        Some((draft, None)) => Ok(serde_json::from_str(&draft).unwrap_or_default()),
        None => Ok(Draft::default()),
    }
}

/// Changes the draft under a row lock (two browser tabs cannot lose each other's answers).
pub async fn update(
    db: &MySqlPool,
    change: impl FnOnce(&mut Draft) -> AppResult<()>,
) -> AppResult<Draft> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT IGNORE INTO setup_state (id, draft, completed_at, updated_at) VALUES (1, '{}', NULL, ?)",
    )
    .bind(db::now())
    .execute(&mut *tx)
    .await?;
    let (text, completed): (String, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT draft, completed_at FROM setup_state WHERE id = 1 FOR UPDATE")
            .fetch_one(&mut *tx)
            .await?;
    if completed.is_some() {
        return Err(AppError::Conflict(ALREADY_DONE.into()));
    }
    let mut draft: Draft = serde_json::from_str(&text).unwrap_or_default();
    change(&mut draft)?;
    sqlx::query("UPDATE setup_state SET draft = ?, updated_at = ? WHERE id = 1")
        .bind(serde_json::to_string(&draft).map_err(anyhow::Error::new)?)
        .bind(db::now())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(draft)
}

/// Refuses a step whose earlier steps are not answered yet.
fn require_reachable(draft: &Draft, step: Step) -> AppResult<()> {
    if draft.reachable(step) {
        Ok(())
    } else {
        Err(AppError::Conflict(format!(
            "finish the step \"{}\" first",
            draft.next_step().title()
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Database check

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DatabaseCheck {
    /// True when nothing below stops setup.
    pub ok: bool,
    pub server_version: String,
    pub version_ok: bool,
    pub migrations_applied: u32,
    pub migrations_expected: u32,
    pub migrations_ok: bool,
    pub data_dir: String,
    pub data_dir_writable: bool,
    pub free_bytes: Option<u64>,
    pub disk_ok: bool,
    /// What stops setup, in words.
    pub problems: Vec<String>,
    /// What works but deserves attention.
    pub warnings: Vec<String>,
}

/// Below this, setup refuses to go on; below `DISK_WARN`, it warns.
const DISK_MIN: u64 = 256 * 1024 * 1024;
const DISK_WARN: u64 = 2 * 1024 * 1024 * 1024;

/// MariaDB 10.11 or later, or MySQL 8.0 or later.
pub fn version_supported(version: &str) -> bool {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    if version.to_ascii_lowercase().contains("mariadb") {
        (major, minor) >= (10, 11)
    } else {
        major >= 8
    }
}

pub async fn check(state: &AppState) -> AppResult<DatabaseCheck> {
    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(&state.db)
        .await?;
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&state.db)
        .await?;
    let expected = db::MIGRATOR.iter().count() as u32;
    let dir = &state.config.data_dir;
    let writable = {
        let probe = dir.join(".setup-write-test");
        let ok = std::fs::create_dir_all(dir).is_ok() && std::fs::write(&probe, b"ok").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    };
    let storage = crate::system::status::storage(dir);
    let free = storage.space.as_ref().map(|s| s.free_bytes);
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let version_ok = version_supported(&version);
    if !version_ok {
        problems.push(format!(
            "the database server is {version}; Logbook needs MariaDB 10.11 or later (or MySQL 8)"
        ));
    }
    let migrations_ok = applied as u32 >= expected;
    if !migrations_ok {
        problems.push(format!(
            "only {applied} of {expected} database migrations are applied; restart the server"
        ));
    }
    if !writable {
        problems.push(format!(
            "the data directory {} cannot be written; the service's user must own it",
            dir.display()
        ));
    }
    let disk_ok = free.is_none_or(|f| f >= DISK_MIN);
    match free {
        Some(f) if f < DISK_MIN => problems.push(format!(
            "only {} free on the data directory's disk; free at least {}",
            crate::system::status::bytes(f),
            crate::system::status::bytes(DISK_MIN)
        )),
        Some(f) if f < DISK_WARN => warnings.push(format!(
            "only {} free on the data directory's disk; backups need room",
            crate::system::status::bytes(f)
        )),
        Some(_) => {}
        None => warnings.push("the free space on the data directory's disk is unknown".into()),
    }
    Ok(DatabaseCheck {
        ok: problems.is_empty(),
        server_version: version,
        version_ok,
        migrations_applied: applied as u32,
        migrations_expected: expected,
        migrations_ok,
        data_dir: dir.display().to_string(),
        data_dir_writable: writable,
        free_bytes: free,
        disk_ok,
        problems,
        warnings,
    })
}

/// Confirms the database check; refused while it finds a problem.
pub async fn confirm_check(state: &AppState) -> AppResult<(Draft, DatabaseCheck)> {
    let result = check(state).await?;
    if !result.ok {
        return Err(AppError::Conflict(format!(
            "the check found a problem: {}",
            result.problems.join("; ")
        )));
    }
    let draft = update(&state.db, |d| {
        d.checked = true;
        Ok(())
    })
    .await?;
    Ok((draft, result))
}

// ---------------------------------------------------------------------------------------------
// Organization and administrator

pub async fn save_organization(state: &AppState, profile: OrgProfile) -> AppResult<Draft> {
    if profile.settings.is_some() {
        return Err(AppError::field(
            "settings",
            "modules are chosen in their own step",
        ));
    }
    if profile
        .timezone
        .as_deref()
        .is_none_or(|t| t.trim().is_empty())
    {
        // Validate the rest too, so that every problem shows at once.
        let mut errors = match organizations::validate_new(profile.clone()) {
            Err(AppError::Validation(e)) => e,
            _ => Vec::new(),
        };
        errors.push(FieldError::new(
            "timezone",
            "is required (the department's local time zone, e.g. America/Chicago)",
        ));
        return Err(AppError::Validation(errors));
    }
    organizations::validate_new(profile.clone())?;
    update(&state.db, |d| {
        require_reachable(d, Step::Organization)?;
        d.organization = Some(profile);
        Ok(())
    })
    .await
}

/// The administrator's answers (`password` is checked by the core's password rules and kept
/// only as its hash).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminInput {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
}

pub async fn save_administrator(state: &AppState, input: AdminInput) -> AppResult<Draft> {
    let draft = load(&state.db).await?;
    require_reachable(&draft, Step::Administrator)?;
    let admin = NewAdmin {
        username: input.username,
        email: input.email,
        first_name: Some(input.first_name),
        last_name: Some(input.last_name),
        password: input.password,
    };
    let mut errors = Vec::new();
    for (field, value) in [
        ("first_name", &admin.first_name),
        ("last_name", &admin.last_name),
    ] {
        if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
            errors.push(FieldError::new(field, "is required"));
        }
    }
    let checked =
        organizations::validate_admin(&admin, &draft.org_name(), &draft.timezone(), "password");
    let (member, password) = match checked {
        Ok(ok) if errors.is_empty() => ok,
        Ok(_) => return Err(AppError::Validation(errors)),
        Err(AppError::Validation(more)) => {
            errors.extend(more);
            return Err(AppError::Validation(errors));
        }
        Err(other) => return Err(other),
    };
    let hash = state.hasher.hash(password.into_inner()).await?;
    update(&state.db, |d| {
        require_reachable(d, Step::Administrator)?;
        d.administrator = Some(AdminDraft {
            username: member.username,
            email: member.email,
            first_name: member.first_name,
            last_name: member.last_name,
            password_hash: hash,
        });
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Stations and apparatus

pub const APPARATUS_TYPES: &[&str] = &[
    "engine",
    "ladder",
    "rescue",
    "ambulance",
    "brush",
    "tanker",
    "battalion",
    "utility",
    "boat",
    "other",
];

const MAX_LOCATIONS: usize = 50;
const MAX_APPARATUS: usize = 200;

/// The usual riding positions and least crew of each type.
pub fn apparatus_defaults(kind: &str) -> (Vec<&'static str>, u32) {
    match kind {
        "engine" | "ladder" | "rescue" => {
            (vec!["Officer", "Driver", "Firefighter", "Firefighter"], 3)
        }
        "ambulance" => (vec!["Driver", "EMT"], 2),
        "brush" => (vec!["Driver", "Firefighter"], 2),
        "boat" => (vec!["Operator", "Crew"], 2),
        "battalion" => (vec!["Officer"], 1),
        _ => (vec!["Driver"], 1),
    }
}

/// A valid vehicle, ready to insert.
#[derive(Debug, Clone)]
pub struct ValidApparatus {
    pub unit_number: String,
    pub name: Option<String>,
    pub apparatus_type: String,
    pub min_staffing: u32,
    pub positions: Vec<String>,
    pub station: Option<String>,
}

/// Checks the whole list: every station and vehicle, unique names and unit numbers, and that a
/// vehicle's station is one of the list. Field names are `locations[i].name` and the like.
pub fn validate_stations(
    locations: &[LocationInput],
    apparatus: &[ApparatusInput],
) -> AppResult<(Vec<LocationInput>, Vec<ValidApparatus>)> {
    let mut c = Checks::default();
    if locations.len() > MAX_LOCATIONS {
        c.push("locations", format!("at most {MAX_LOCATIONS} stations"));
    }
    if apparatus.len() > MAX_APPARATUS {
        c.push("apparatus", format!("at most {MAX_APPARATUS} vehicles"));
    }
    let mut valid_locations = Vec::new();
    for (i, l) in locations.iter().enumerate() {
        let f = |name: &str| format!("locations[{i}].{name}");
        let name = c.take(input::required_text(&f("name"), &l.name, 200));
        if let Some(n) = &name
            && valid_locations
                .iter()
                .any(|v: &LocationInput| v.name.eq_ignore_ascii_case(n))
        {
            c.push(&f("name"), "is already a station in this list");
        }
        let loc = LocationInput {
            name: name.clone().unwrap_or_default(),
            station_number: c
                .take(input::optional_text(
                    &f("station_number"),
                    l.station_number.clone(),
                    20,
                ))
                .flatten(),
            address_line1: c
                .take(input::optional_text(
                    &f("address_line1"),
                    l.address_line1.clone(),
                    200,
                ))
                .flatten(),
            city: c
                .take(input::optional_text(&f("city"), l.city.clone(), 100))
                .flatten(),
            state: c
                .take(input::optional_text(&f("state"), l.state.clone(), 64))
                .flatten(),
            postal_code: c
                .take(input::optional_text(
                    &f("postal_code"),
                    l.postal_code.clone(),
                    20,
                ))
                .flatten(),
        };
        if name.is_some() {
            valid_locations.push(loc);
        }
    }
    let mut valid_apparatus: Vec<ValidApparatus> = Vec::new();
    for (i, a) in apparatus.iter().enumerate() {
        let f = |name: &str| format!("apparatus[{i}].{name}");
        let unit = c.take(input::required_text(&f("unit_number"), &a.unit_number, 20));
        if let Some(u) = &unit
            && valid_apparatus
                .iter()
                .any(|v| v.unit_number.eq_ignore_ascii_case(u))
        {
            c.push(&f("unit_number"), "is already a vehicle in this list");
        }
        let name = c
            .take(input::optional_text(&f("name"), a.name.clone(), 100))
            .flatten();
        let kind = a.apparatus_type.trim().to_ascii_lowercase();
        if !APPARATUS_TYPES.contains(&kind.as_str()) {
            c.push(
                &f("apparatus_type"),
                format!("must be one of: {}", APPARATUS_TYPES.join(", ")),
            );
        }
        let (default_positions, default_staffing) = apparatus_defaults(&kind);
        let positions: Vec<String> = match &a.positions {
            Some(p) if p.iter().any(|s| !s.trim().is_empty()) => p
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            _ => default_positions.iter().map(|s| s.to_string()).collect(),
        };
        if positions.len() > 20 {
            c.push(&f("positions"), "at most 20 riding positions");
        }
        if positions
            .iter()
            .any(|p| p.chars().count() > 50 || p.chars().any(char::is_control))
        {
            c.push(
                &f("positions"),
                "each position is at most 50 characters of text",
            );
        }
        let min_staffing = a.min_staffing.unwrap_or(default_staffing);
        if !(1..=20).contains(&min_staffing) {
            c.push(&f("min_staffing"), "must be between 1 and 20");
        }
        let station = a
            .station
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(s) = &station
            && !valid_locations
                .iter()
                .any(|l| l.name.eq_ignore_ascii_case(s))
        {
            c.push(&f("station"), "must be one of the stations above");
        }
        if let Some(unit_number) = unit {
            valid_apparatus.push(ValidApparatus {
                unit_number,
                name,
                apparatus_type: kind,
                min_staffing,
                positions,
                station,
            });
        }
    }
    c.finish()?;
    Ok((valid_locations, valid_apparatus))
}

/// Saves the station and vehicle lists (replacing the earlier ones), or records that the step was
/// skipped (the lists are then dropped).
pub async fn save_stations(state: &AppState, input: StationsDraft) -> AppResult<Draft> {
    let stored = if input.skipped {
        StationsDraft {
            skipped: true,
            ..Default::default()
        }
    } else {
        let (locations, apparatus) = validate_stations(&input.locations, &input.apparatus)?;
        StationsDraft {
            skipped: false,
            locations,
            apparatus: apparatus
                .into_iter()
                .map(|a| ApparatusInput {
                    unit_number: a.unit_number,
                    name: a.name,
                    apparatus_type: a.apparatus_type,
                    min_staffing: Some(a.min_staffing),
                    positions: Some(a.positions),
                    station: a.station,
                })
                .collect(),
        }
    };
    update(&state.db, |d| {
        require_reachable(d, Step::Stations)?;
        d.stations = Some(stored);
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Email

/// The email step: `skipped`, or the SMTP settings. A password left out keeps the one entered
/// before, as long as the server and user name are the same.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    #[serde(default)]
    pub skipped: bool,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<u32>,
    #[serde(default)]
    pub security: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub from_address: Option<String>,
    #[serde(default)]
    pub from_name: Option<String>,
}

pub async fn save_email(state: &AppState, input: EmailInput) -> AppResult<Draft> {
    if input.skipped {
        return update(&state.db, |d| {
            require_reachable(d, Step::Email)?;
            d.email = Some(EmailDraft {
                skipped: true,
                host: String::new(),
                port: 587,
                security: "starttls".into(),
                username: None,
                password_encrypted: None,
                from_address: String::new(),
                from_name: None,
            });
            Ok(())
        })
        .await;
    }
    let before = load(&state.db).await?.email.filter(|e| !e.skipped);
    let v = mail::validate(EmailSettingsInput {
        enabled: Some(true),
        host: input.host.unwrap_or_default(),
        port: input.port.unwrap_or(0),
        security: input.security.unwrap_or_default(),
        username: input.username,
        password: Some(input.password.clone()),
        from_address: input.from_address.unwrap_or_default(),
        from_name: input.from_name,
        give_up_hours: None,
    })?;
    let typed = input.password.filter(|p| !p.is_empty());
    let password_encrypted = match (&v.username, typed) {
        (None, _) => None,
        (Some(_), Some(p)) => Some(
            base64::engine::general_purpose::STANDARD
                .encode(state.cipher.encrypt(&p).map_err(AppError::Internal)?),
        ),
        (Some(user), None) => match before {
            // The same server and user: the password entered before still goes to them.
            Some(b)
                if b.host == v.host
                    && b.port == v.port
                    && b.security == v.security
                    && b.username.as_deref() == Some(user.as_str())
                    && b.password_encrypted.is_some() =>
            {
                b.password_encrypted
            }
            _ => {
                return Err(AppError::field(
                    "password",
                    "enter the password for this user name",
                ));
            }
        },
    };
    let stored = EmailDraft {
        skipped: false,
        host: v.host,
        port: v.port,
        security: v.security,
        username: v.username,
        password_encrypted,
        from_address: v.from_address,
        from_name: v.from_name,
    };
    update(&state.db, |d| {
        require_reachable(d, Step::Email)?;
        d.email = Some(stored);
        Ok(())
    })
    .await
}

impl EmailDraft {
    fn settings_row(&self) -> AppResult<SettingsRow> {
        let password_encrypted = match &self.password_encrypted {
            Some(b64) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| {
                        AppError::Internal(anyhow::anyhow!("stored SMTP password: {e}"))
                    })?,
            ),
            None => None,
        };
        Ok(SettingsRow {
            enabled: true,
            host: self.host.clone(),
            port: self.port,
            security: self.security.clone(),
            username: self.username.clone(),
            password_encrypted,
            from_address: self.from_address.clone(),
            from_name: self.from_name.clone(),
            give_up_hours: 72,
            updated_at: db::now(),
        })
    }
}

/// Sends a test message with the saved email settings; the SMTP server's answer comes back.
pub async fn send_test(state: &AppState, to: Option<String>) -> AppResult<TestResult> {
    let draft = load(&state.db).await?;
    let Some(email) = draft.email.as_ref().filter(|e| !e.skipped) else {
        return Err(AppError::Conflict(
            "save the email settings before sending a test message".into(),
        ));
    };
    let to = to
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| draft.administrator.as_ref().map(|a| a.email.clone()));
    let Some(to) = to else {
        return Err(AppError::field("to", "enter the address to send it to"));
    };
    let who = draft
        .administrator
        .as_ref()
        .map(|a| format!("{} {}", a.first_name, a.last_name))
        .unwrap_or_else(|| "The setup wizard".into());
    mail::send_test_with(state, &email.settings_row()?, &draft.org_name(), &who, &to).await
}

// ---------------------------------------------------------------------------------------------
// HTTPS

/// The certificate in use now, as the HTTPS step shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HttpsView {
    /// `self-signed`, `files` or `off` (the server's configuration, LOGBOOK_TLS).
    pub mode: String,
    /// `generated`, `uploaded`, `files`, or `off` (plain HTTP).
    pub certificate: String,
    pub fingerprint: Option<String>,
    pub ca_fingerprint: Option<String>,
    /// Where phones and PCs download the CA to trust it (self-signed mode only).
    pub ca_download: Option<String>,
    pub names: Vec<String>,
    /// YYYY-MM-DD.
    pub valid_until: Option<String>,
    /// With HTTPS off: a certificate uploaded for when it is turned on.
    pub stored_upload: Option<String>,
}

pub fn https_view(state: &AppState) -> HttpsView {
    let mode = state.config.tls.name().to_string();
    match state.tls.as_deref() {
        None => HttpsView {
            mode,
            certificate: "off".into(),
            fingerprint: None,
            ca_fingerprint: None,
            ca_download: None,
            names: Vec::new(),
            valid_until: None,
            stored_upload: crate::system::tls::read_uploaded(&state.config.data_dir)
                .and_then(|u| u.certificate.map(|i| i.fingerprint)),
        },
        Some(t) => {
            let info = t.info();
            HttpsView {
                certificate: info.source.to_string(),
                fingerprint: Some(info.fingerprint),
                ca_fingerprint: info.ca_fingerprint,
                ca_download: t.ca_pem().map(|_| "/tls/ca.crt".to_string()),
                names: info.names,
                valid_until: info.not_after.map(|d| d.date_naive().to_string()),
                stored_upload: None,
                mode,
            }
        }
    }
}

/// The HTTPS step: keep the certificate in use (`current`), upload one (`upload`, checked before
/// it is used, then served at once), or go back to the generated one (`generated`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpsInput {
    #[serde(rename = "use")]
    pub use_: String,
    #[serde(default)]
    pub certificate_pem: Option<String>,
    #[serde(default)]
    pub private_key_pem: Option<String>,
}

pub async fn save_https(state: &AppState, input: HttpsInput) -> AppResult<Draft> {
    require_reachable(&load(&state.db).await?, Step::Https)?;
    let data_dir = &state.config.data_dir;
    match input.use_.as_str() {
        "current" => {}
        "upload" => {
            let cert = input.certificate_pem.unwrap_or_default();
            let key = input.private_key_pem.unwrap_or_default();
            let info = match state.tls.as_deref() {
                Some(t) => crate::system::tls::install_uploaded(t, data_dir, &cert, &key)?,
                None => crate::system::tls::store_uploaded(data_dir, &cert, &key)?,
            };
            tracing::info!(fingerprint = %info.fingerprint, "setup: certificate uploaded");
        }
        "generated" => {
            crate::system::tls::remove_uploaded(state.tls.as_deref(), data_dir)?;
        }
        _ => {
            return Err(AppError::field(
                "use",
                "must be `current`, `upload` or `generated`",
            ));
        }
    }
    let view = https_view(state);
    update(&state.db, |d| {
        require_reachable(d, Step::Https)?;
        d.https = Some(HttpsDraft {
            certificate: view.certificate,
            fingerprint: view.fingerprint.or(view.stored_upload),
        });
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Modules

pub async fn save_modules(state: &AppState, modules: BTreeMap<String, bool>) -> AppResult<Draft> {
    let mut c = Checks::default();
    for m in modules.keys() {
        if !MODULES.contains(&m.as_str()) {
            c.push("modules", format!("\"{m}\" is not a part of Logbook"));
        }
    }
    c.finish()?;
    update(&state.db, |d| {
        require_reachable(d, Step::Modules)?;
        let mut all = d.modules_or_default();
        all.extend(modules);
        d.modules = Some(all);
        Ok(())
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Finish

pub struct Finished {
    pub org_id: OrgId,
    pub slug: String,
    pub admin_id: Uuid,
    pub issued: Issued,
}

/// Creates the organization, its administrator, stations, apparatus and email settings in one
/// transaction, locks setup for good and signs the administrator in. A second call, or one
/// racing with it, is refused.
pub async fn finish(
    state: &AppState,
    ip: Option<&str>,
    user_agent: Option<&str>,
) -> AppResult<Finished> {
    let mut tx = state.db.begin().await?;
    let row: Option<(String, Option<chrono::DateTime<chrono::Utc>>)> =
        sqlx::query_as("SELECT draft, completed_at FROM setup_state WHERE id = 1 FOR UPDATE")
            .fetch_optional(&mut *tx)
            .await?;
    let draft: Draft = match row {
        Some((_, Some(_))) => return Err(AppError::Conflict(ALREADY_DONE.into())),
        Some((text, None)) => serde_json::from_str(&text).unwrap_or_default(),
        None => Draft::default(),
    };
    let orgs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(&mut *tx)
        .await?;
    if orgs > 0 {
        return Err(AppError::Conflict(
            "a department already exists on this server (made with `logbook init`); setup is \
             over"
                .into(),
        ));
    }
    if let Some(step) = STEPS[..STEPS.len() - 1].iter().find(|s| !draft.done(**s)) {
        return Err(AppError::Conflict(format!(
            "the step \"{}\" is not finished yet",
            step.title()
        )));
    }
    let (Some(profile), Some(admin)) = (draft.organization.clone(), draft.administrator.clone())
    else {
        return Err(AppError::Conflict(
            "the department and administrator are missing".into(),
        ));
    };
    // Everything is checked again: the rules may have changed since the answer was saved.
    let mut profile = organizations::validate_new(profile)?;
    profile.set_modules(&draft.modules_or_default())?;
    let new_admin = NewAdmin {
        username: admin.username.clone(),
        email: admin.email.clone(),
        first_name: Some(admin.first_name.clone()),
        last_name: Some(admin.last_name.clone()),
        // Checked when it was entered; only its hash is kept.
        password: String::new(),
    };
    let member =
        organizations::validate_admin_member(&new_admin, profile.name(), profile.timezone())?;
    let stations = draft.stations.clone().unwrap_or_default();
    let (locations, apparatus) = validate_stations(&stations.locations, &stations.apparatus)?;

    let done = organizations::create(
        &mut tx,
        &profile,
        &member,
        admin.password_hash.clone(),
        "setup wizard",
    )
    .await?;
    let mut actor = Actor::system(done.org_id, "setup wizard");
    actor.ip = ip.map(str::to_string);
    let location_ids = insert_locations(&mut tx, &actor, &locations).await?;
    insert_apparatus(&mut tx, &actor, &apparatus, &location_ids).await?;
    let email = draft.email.clone().filter(|e| !e.skipped);
    if let Some(e) = &email {
        mail::insert_initial(&mut tx, &actor, &e.settings_row()?).await?;
    }
    let now = db::now();
    sqlx::query(
        "UPDATE setup_state SET draft = '{}', completed_at = ?, completed_org_id = ?,
                updated_at = ? WHERE id = 1",
    )
    .bind(now)
    .bind(done.org_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let https = draft.https.clone();
    audit::record(
        &mut tx,
        &actor,
        Entry::new("setup.completed", "organization", done.org_id).changes(serde_json::json!({
            "administrator": member.username,
            "stations": locations.len(),
            "apparatus": apparatus.len(),
            "email": if email.is_some() { "configured" } else { "skipped" },
            "https": https.as_ref().map(|h| h.certificate.clone()),
            "certificate_fingerprint": https.and_then(|h| h.fingerprint),
            "modules": draft.modules_or_default(),
        })),
    )
    .await?;
    let issued = sessions::start(&mut tx, done.org_id, done.admin_id, ip, user_agent).await?;
    tx.commit().await?;
    state.setup.close(&state.config.data_dir);
    tracing::info!(org = %done.slug, admin = %member.username, "setup finished");
    Ok(Finished {
        org_id: done.org_id,
        slug: done.slug,
        admin_id: done.admin_id,
        issued,
    })
}

async fn insert_locations(
    tx: &mut Tx<'_>,
    actor: &Actor,
    locations: &[LocationInput],
) -> AppResult<Vec<(String, Uuid)>> {
    let mut ids = Vec::new();
    let now = db::now();
    for l in locations {
        let id = db::new_id();
        sqlx::query(
            "INSERT INTO locations (id, organization_id, name, station_number, address_line1,
                city, state, postal_code, is_station, active, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, TRUE, TRUE, ?, ?)",
        )
        .bind(id)
        .bind(actor.org_id)
        .bind(&l.name)
        .bind(&l.station_number)
        .bind(&l.address_line1)
        .bind(&l.city)
        .bind(&l.state)
        .bind(&l.postal_code)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        audit::record(
            tx,
            actor,
            Entry::new("location.created", "location", id).changes(serde_json::json!({
                "name": l.name, "station_number": l.station_number,
                "address_line1": l.address_line1, "city": l.city, "state": l.state,
                "postal_code": l.postal_code,
            })),
        )
        .await?;
        ids.push((l.name.clone(), id));
    }
    Ok(ids)
}

async fn insert_apparatus(
    tx: &mut Tx<'_>,
    actor: &Actor,
    apparatus: &[ValidApparatus],
    locations: &[(String, Uuid)],
) -> AppResult<()> {
    let now = db::now();
    for a in apparatus {
        let id = db::new_id();
        let location = a.station.as_ref().and_then(|s| {
            locations
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(s))
                .map(|(_, id)| *id)
        });
        sqlx::query(
            "INSERT INTO basic_apparatus (id, organization_id, unit_number, name, apparatus_type,
                min_staffing, positions, location_id, is_active, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
        )
        .bind(id)
        .bind(actor.org_id)
        .bind(&a.unit_number)
        .bind(&a.name)
        .bind(&a.apparatus_type)
        .bind(a.min_staffing)
        .bind(serde_json::to_string(&a.positions).map_err(anyhow::Error::new)?)
        .bind(location)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        audit::record(
            tx,
            actor,
            Entry::new("apparatus.created", "apparatus", id).changes(serde_json::json!({
                "unit_number": a.unit_number, "name": a.name,
                "apparatus_type": a.apparatus_type, "min_staffing": a.min_staffing,
                "positions": a.positions, "station": a.station,
            })),
        )
        .await?;
    }
    Ok(())
}
