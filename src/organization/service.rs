//! Organization rules and SQL.

use crate::auth::OrgId;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use sqlx::MySqlPool;
use uuid::Uuid;

use crate::audit::{self, Actor, Entry};
use crate::auth::permissions::{IT_ADMINISTRATOR, MODULES, SETTINGS_MANAGE};
use crate::auth::{Ctx, Hasher, NewPassword};
use crate::db::{self, Tx};
use crate::error::{AppError, AppResult, unique_violation};
use crate::input::{self, Checks};
use crate::members::service::{self as members, NewMember, ValidMember};
use crate::roles::service as roles;

pub const TYPES: &[&str] = &["fire_department", "ems_only", "fire_ems_combined"];
pub const IDENTIFIER_TYPES: &[&str] = &["fdid", "state_id", "department_id"];

pub fn type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(TYPES)
}
pub fn identifier_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(IDENTIFIER_TYPES)
}
/// The IANA time zone names the server knows.
pub fn timezone_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(chrono_tz::TZ_VARIANTS.iter().map(|z| z.name())))
        .build()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Settings {
    /// Module name → on/off.
    #[serde(default)]
    pub modules: BTreeMap<String, bool>,
    /// Who sees members' email and phone: `members` (everyone, the default: the roster is
    /// the call list) or `officers` (holders of `users.view_contact`). Unchanged when left out
    /// of an edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = ContactDirectory::schema_object)]
    pub contact_directory: Option<ContactDirectory>,
    /// How dates are written: `us` (12/03/2026, the default), `iso` (2026-12-03) or
    /// `day_first` (03/12/2026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::time::DateStyle::schema_object)]
    pub date_format: Option<crate::time::DateStyle>,
    /// How times are written: `12h` (7:30 PM, the default) or `24h` (19:30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::time::Clock::schema_object)]
    pub clock: Option<crate::time::Clock>,
    /// The paper every PDF is made for: `letter` (the default) or `a4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = crate::time::Paper::schema_object)]
    pub paper: Option<crate::time::Paper>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            modules: MODULES.iter().map(|m| (m.to_string(), true)).collect(),
            contact_directory: None,
            date_format: None,
            clock: None,
            paper: None,
        }
    }
}

impl Settings {
    /// A department's stored settings (defaults where they are missing or unreadable).
    pub fn parse(stored: &str) -> Settings {
        serde_json::from_str(stored).unwrap_or_default()
    }

    /// How the department writes dates and times, and prints (defaults where it has not
    /// chosen).
    pub fn locale(&self) -> crate::time::Locale {
        let d = crate::time::Locale::default();
        crate::time::Locale {
            date: self.date_format.unwrap_or(d.date),
            clock: self.clock.unwrap_or(d.clock),
            paper: self.paper.unwrap_or(d.paper),
        }
    }

    /// Every choice named, defaults included (for answers and forms).
    fn filled(mut self) -> Settings {
        let locale = self.locale();
        self.contact_directory = Some(self.contact_directory.unwrap_or_default());
        self.date_format = Some(locale.date);
        self.clock = Some(locale.clock);
        self.paper = Some(locale.paper);
        self
    }
}

/// How a department writes dates and times, for what is written outside a request (a job's
/// notices and emails).
pub async fn locale_of(conn: &mut db::Conn, org_id: OrgId) -> AppResult<crate::time::Locale> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT settings FROM organizations WHERE id = ?")
            .bind(org_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(Settings::parse(stored.as_deref().unwrap_or("{}")).locale())
}

crate::words! {
    /// Who sees members' contact details.
    #[derive(Default)]
    pub enum ContactDirectory {
        /// Every member sees each other's email and phone (a member may keep their phone to
        /// officers).
        #[default]
        Members = "members",
        /// Only holders of `users.view_contact`.
        Officers = "officers",
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub organization_type: String,
    pub timezone: String,
    pub identifier_type: Option<String>,
    pub identifier: Option<String>,
    pub county: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub settings: Settings,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: Uuid,
    name: String,
    slug: String,
    organization_type: String,
    timezone: String,
    identifier_type: Option<String>,
    identifier: Option<String>,
    county: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    settings: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<OrgRow> for Organization {
    fn from(r: OrgRow) -> Self {
        Organization {
            id: r.id,
            name: r.name,
            slug: r.slug,
            organization_type: r.organization_type,
            timezone: r.timezone,
            identifier_type: r.identifier_type,
            identifier: r.identifier,
            county: r.county,
            address_line1: r.address_line1,
            address_line2: r.address_line2,
            city: r.city,
            state: r.state,
            postal_code: r.postal_code,
            phone: r.phone,
            email: r.email,
            // The answer names every setting, even before anyone chose one.
            settings: Settings::parse(&r.settings).filled(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The profile fields, as given when creating or editing an organization.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgProfile {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    #[schema(schema_with = type_schema)]
    pub organization_type: Option<String>,
    /// An IANA time zone, e.g. America/Chicago.
    #[schema(schema_with = timezone_schema)]
    pub timezone: Option<String>,
    #[schema(schema_with = identifier_type_schema)]
    pub identifier_type: Option<String>,
    pub identifier: Option<String>,
    pub county: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub settings: Option<Settings>,
}

fn choice(c: &mut Checks, field: &str, value: Option<String>, allowed: &[&str]) -> Option<String> {
    match value.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(v) if allowed.contains(&v) => Some(v.to_string()),
        Some(_) => {
            c.push(field, format!("must be one of: {}", allowed.join(", ")));
            None
        }
    }
}

/// An organization's profile after every rule has passed.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidProfile {
    name: String,
    organization_type: String,
    timezone: String,
    identifier_type: Option<String>,
    identifier: Option<String>,
    county: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    city: Option<String>,
    state: Option<String>,
    postal_code: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    settings: Settings,
}

impl ValidProfile {
    /// Applies `p` over `base` (an existing organization, or defaults for a new one).
    fn merge(base: ValidProfile, p: OrgProfile) -> AppResult<ValidProfile> {
        let mut c = Checks::default();
        let mut v = base;
        c.apply(
            &mut v.name,
            p.name.map(|n| input::required_text("name", &n, 200)),
        );
        if p.organization_type.is_some() {
            let blank = p
                .organization_type
                .as_deref()
                .is_some_and(|t| t.trim().is_empty());
            match choice(&mut c, "organization_type", p.organization_type, TYPES) {
                Some(t) => v.organization_type = t,
                // `choice` has said why, unless it was left empty.
                None if blank => c.push(
                    "organization_type",
                    format!("must be one of: {}", TYPES.join(", ")),
                ),
                None => {}
            }
        }
        if let Some(tz) = p.timezone {
            if tz.trim().parse::<chrono_tz::Tz>().is_ok() {
                v.timezone = tz.trim().to_string();
            } else {
                c.push(
                    "timezone",
                    "must be a time zone name such as America/Chicago",
                );
            }
        }
        if p.identifier_type.is_some() {
            v.identifier_type = choice(
                &mut c,
                "identifier_type",
                p.identifier_type,
                IDENTIFIER_TYPES,
            );
        }
        macro_rules! text {
            ($field:ident, $max:expr) => {
                if p.$field.is_some() {
                    if let Some(t) =
                        c.take(input::optional_text(stringify!($field), p.$field, $max))
                    {
                        v.$field = t;
                    }
                }
            };
        }
        text!(identifier, 50);
        text!(county, 100);
        text!(address_line1, 200);
        text!(address_line2, 200);
        text!(city, 100);
        text!(state, 64);
        text!(postal_code, 20);
        if p.phone.is_some() {
            c.apply(&mut v.phone, Some(input::phone("phone", p.phone)));
        }
        if let Some(email) = p.email {
            if email.trim().is_empty() {
                v.email = None;
            } else if let Some(e) = c.take(input::email("email", &email)) {
                v.email = Some(e);
            }
        }
        // Settings are patched too: modules left out keep their state.
        if let Some(settings) = p.settings {
            for (m, on) in settings.modules {
                if MODULES.contains(&m.as_str()) {
                    v.settings.modules.insert(m, on);
                } else {
                    c.push("settings", format!("\"{m}\" is not a part of Logbook"));
                }
            }
            if settings.contact_directory.is_some() {
                v.settings.contact_directory = settings.contact_directory;
            }
            if settings.date_format.is_some() {
                v.settings.date_format = settings.date_format;
            }
            if settings.clock.is_some() {
                v.settings.clock = settings.clock;
            }
            if settings.paper.is_some() {
                v.settings.paper = settings.paper;
            }
        }
        c.finish()?;
        Ok(v)
    }
}

fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for ch in name.to_lowercase().chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.trim_end_matches('-').chars().take(80).collect();
    if slug.is_empty() {
        "department".into()
    } else {
        slug
    }
}

/// The first administrator of a new organization. Names default to "Administrator" and the
/// organization's name.
#[derive(Debug, Clone, Default)]
pub struct NewAdmin {
    pub username: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub password: String,
}

pub struct Provisioned {
    pub org_id: OrgId,
    pub slug: String,
    pub admin_id: Uuid,
}

impl ValidProfile {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn timezone(&self) -> &str {
        &self.timezone
    }

    /// The modules switched on or off (defaults until changed).
    pub fn set_modules(&mut self, modules: &BTreeMap<String, bool>) -> AppResult<()> {
        let mut c = Checks::default();
        for (m, on) in modules {
            if MODULES.contains(&m.as_str()) {
                self.settings.modules.insert(m.clone(), *on);
            } else {
                c.push("modules", format!("\"{m}\" is not a part of Logbook"));
            }
        }
        c.finish()
    }
}

/// A new organization's profile checked by the same rules as an edit (the name is required; type
/// `fire_department` and time zone UTC unless given).
pub fn validate_new(profile: OrgProfile) -> AppResult<ValidProfile> {
    let base = ValidProfile {
        name: String::new(),
        organization_type: "fire_department".into(),
        timezone: "UTC".into(),
        identifier_type: None,
        identifier: None,
        county: None,
        address_line1: None,
        address_line2: None,
        city: None,
        state: None,
        postal_code: None,
        phone: None,
        email: None,
        settings: Settings::default(),
    };
    let missing_name = profile.name.as_deref().is_none_or(|n| n.trim().is_empty());
    match ValidProfile::merge(base, profile) {
        Ok(_) if missing_name => Err(AppError::field("name", "is required")),
        Err(AppError::Validation(mut errors)) if missing_name => {
            if !errors.iter().any(|e| e.field == "name") {
                errors.insert(0, crate::error::FieldError::new("name", "is required"));
            }
            Err(AppError::Validation(errors))
        }
        other => other,
    }
}

/// The first administrator's member fields checked by the member rules.
pub fn validate_admin_member(
    admin: &NewAdmin,
    org_name: &str,
    timezone: &str,
) -> AppResult<ValidMember> {
    let name_or = |v: &Option<String>, default: String| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or(default)
    };
    NewMember {
        username: admin.username.clone(),
        email: admin.email.clone(),
        first_name: name_or(&admin.first_name, "Administrator".into()),
        last_name: name_or(&admin.last_name, org_name.chars().take(100).collect()),
        ..Default::default()
    }
    .validate(crate::time::today(timezone))
    .map_err(AppError::Validation)
}

/// The first administrator checked by the member rules and the password rules, every problem at
/// once (`password_field` names the password input).
pub fn validate_admin(
    admin: &NewAdmin,
    org_name: &str,
    timezone: &str,
    password_field: &str,
) -> AppResult<(ValidMember, NewPassword)> {
    let member = validate_admin_member(admin, org_name, timezone);
    let password = NewPassword::parse(password_field, &admin.password, admin.username.trim());
    match (member, password) {
        (Ok(m), Ok(p)) => Ok((m, p)),
        (m, p) => {
            let mut errors = match m {
                Err(AppError::Validation(e)) => e,
                Err(other) => return Err(other),
                Ok(_) => Vec::new(),
            };
            match p {
                Err(AppError::Validation(more)) => errors.extend(more),
                Err(other) => return Err(other),
                Ok(_) => {}
            }
            Err(AppError::Validation(errors))
        }
    }
}

/// Creates an organization, its system roles, its audit chain and its administrator, all in one
/// transaction. Used by `logbook init` and `logbook org add`.
pub async fn provision(
    db: &MySqlPool,
    hasher: &Hasher,
    profile: OrgProfile,
    admin: NewAdmin,
    actor_label: &str,
) -> AppResult<Provisioned> {
    let v = validate_new(profile)?;
    let (valid_admin, password) = validate_admin(&admin, &v.name, &v.timezone, "admin_password")?;
    let hash = hasher.hash(password.into_inner()).await?;
    let mut tx = db.begin().await?;
    let done = create(&mut tx, &v, &valid_admin, hash, actor_label).await?;
    tx.commit().await?;
    Ok(done)
}

/// The inserts of `provision` in the caller's transaction (the setup wizard adds its stations,
/// apparatus and email settings to the same one). `password_hash` is the administrator's.
pub async fn create(
    tx: &mut Tx<'_>,
    v: &ValidProfile,
    admin: &ValidMember,
    password_hash: String,
    actor_label: &str,
) -> AppResult<Provisioned> {
    let id = OrgId::generate();
    let now = db::now();
    let base_slug = slugify(&v.name);
    let mut slug = base_slug.clone();
    for n in 2.. {
        let taken: Option<Uuid> = sqlx::query_scalar("SELECT id FROM organizations WHERE slug = ?")
            .bind(&slug)
            .fetch_optional(&mut **tx)
            .await?;
        if taken.is_none() {
            break;
        }
        slug = format!("{base_slug}-{n}");
    }
    sqlx::query(
        "INSERT INTO organizations (id, name, slug, organization_type, timezone, identifier_type,
            identifier, county, address_line1, address_line2, city, state, postal_code, phone,
            email, settings, active, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?)",
    )
    .bind(id)
    .bind(&v.name)
    .bind(&slug)
    .bind(&v.organization_type)
    .bind(&v.timezone)
    .bind(&v.identifier_type)
    .bind(&v.identifier)
    .bind(&v.county)
    .bind(&v.address_line1)
    .bind(&v.address_line2)
    .bind(&v.city)
    .bind(&v.state)
    .bind(&v.postal_code)
    .bind(&v.phone)
    .bind(&v.email)
    .bind(serde_json::to_string(&v.settings).map_err(anyhow::Error::new)?)
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, &[("uq_organizations_slug", "name", "is already used")]))?;
    audit::chain::start_chain(tx, id).await?;
    let actor = Actor::system(id, actor_label);
    audit::record(
        tx,
        &actor,
        Entry::new("organization.created", "organization", id).changes(serde_json::json!({
            "name": v.name, "slug": slug, "organization_type": v.organization_type,
            "timezone": v.timezone, "modules": v.settings.modules,
        })),
    )
    .await?;
    roles::seed_system_roles(tx, &actor).await?;
    // What each module starts a department with (training: the ISO categories).
    for seed in crate::module::installed().iter().filter_map(|m| m.seed) {
        seed(tx, id).await?;
    }
    let admin_id = members::insert(tx, &actor, admin, Some(password_hash)).await?;
    roles::assign_by_slug(tx, &actor, admin_id, IT_ADMINISTRATOR).await?;
    roles::assign_member_role(tx, &actor, admin_id).await?;
    Ok(Provisioned {
        org_id: id,
        slug,
        admin_id,
    })
}

async fn load(tx: &mut Tx<'_>, org_id: OrgId, lock: bool) -> AppResult<OrgRow> {
    let sql = format!(
        "SELECT id, name, slug, organization_type, timezone, identifier_type, identifier, county,
                address_line1, address_line2, city, state, postal_code, phone, email, settings,
                created_at, updated_at
           FROM organizations WHERE id = ?{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(AssertSqlSafe(sql))
        .bind(org_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn get(ctx: &Ctx, tx: &mut Tx<'_>) -> AppResult<Organization> {
    Ok(load(tx, ctx.org_id, false).await?.into())
}

fn audit_view(o: &Organization) -> serde_json::Value {
    serde_json::to_value(o).unwrap_or_default()
}

pub async fn update(ctx: &Ctx, tx: &mut Tx<'_>, patch: OrgProfile) -> AppResult<Organization> {
    ctx.require(SETTINGS_MANAGE)?;
    let before: Organization = load(tx, ctx.org_id, true).await?.into();
    let base = ValidProfile {
        name: before.name.clone(),
        organization_type: before.organization_type.clone(),
        timezone: before.timezone.clone(),
        identifier_type: before.identifier_type.clone(),
        identifier: before.identifier.clone(),
        county: before.county.clone(),
        address_line1: before.address_line1.clone(),
        address_line2: before.address_line2.clone(),
        city: before.city.clone(),
        state: before.state.clone(),
        postal_code: before.postal_code.clone(),
        phone: before.phone.clone(),
        email: before.email.clone(),
        settings: before.settings.clone(),
    };
    let unchanged = base.clone();
    let v = ValidProfile::merge(base, patch)?;
    if v == unchanged {
        // Nothing to change: no write, no audit entry.
        return Ok(before);
    }
    sqlx::query(
        "UPDATE organizations SET name = ?, organization_type = ?, timezone = ?,
                identifier_type = ?, identifier = ?, county = ?, address_line1 = ?,
                address_line2 = ?, city = ?, state = ?, postal_code = ?, phone = ?, email = ?,
                settings = ?, updated_at = ?
          WHERE id = ?",
    )
    .bind(&v.name)
    .bind(&v.organization_type)
    .bind(&v.timezone)
    .bind(&v.identifier_type)
    .bind(&v.identifier)
    .bind(&v.county)
    .bind(&v.address_line1)
    .bind(&v.address_line2)
    .bind(&v.city)
    .bind(&v.state)
    .bind(&v.postal_code)
    .bind(&v.phone)
    .bind(&v.email)
    .bind(serde_json::to_string(&v.settings).map_err(anyhow::Error::new)?)
    .bind(db::now())
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await?;
    let after: Organization = load(tx, ctx.org_id, false).await?.into();
    let mut changes = audit::chain::diff(&audit_view(&before), &audit_view(&after));
    if let Some(map) = changes.as_object_mut() {
        map.remove("updated_at");
    }
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("organization.updated", "organization", ctx.org_id).changes(changes),
    )
    .await?;
    Ok(after)
}

pub async fn count(db: &MySqlPool) -> AppResult<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(db)
        .await?)
}

/// The department's name, for letters and printed sheets.
pub async fn name(conn: &mut crate::db::Conn, org_id: OrgId) -> AppResult<String> {
    Ok(
        sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?")
            .bind(org_id)
            .fetch_one(&mut *conn)
            .await?,
    )
}
