//! Member rules and SQL: the directory, profiles, edits, status changes, password resets, CSV
//! import and export. Every function takes the caller's context and a transaction, checks the
//! permission, scopes every query by the caller's organization, and writes the audit entry.

use super::rules::MemberStatus;
use crate::auth::OrgId;
use crate::csv::RowError;
use crate::input::{self, Checks};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::rules;
use crate::audit::{self, Entry, Severity};
use crate::auth::permissions::{MEMBERS_MANAGE, MEMBERS_VIEW, USERS_VIEW_CONTACT};
use crate::auth::{Ctx, Hasher, NewPassword, SIGN_IN_STATUSES, sessions};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult, FieldError, unique_violation};
use crate::http::{Page, PageQuery, double_option, like_pattern};
use crate::roles::service as roles;

/// Unique keys of `users`, and the field each one is about.
pub const UNIQUE_KEYS: &[(&str, &str, &str)] = &[
    (
        "uq_users_org_username",
        "username",
        "is already used by another member",
    ),
    (
        "uq_users_org_email",
        "email",
        "is already used by another member",
    ),
    (
        "uq_users_org_membership_number",
        "membership_number",
        "is already used by another member",
    ),
];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub membership_number: Option<String>,
    pub rank: Option<String>,
    pub station: Option<String>,
    pub phone: Option<String>,
    pub hide_phone: bool,
    pub hire_date: Option<NaiveDate>,
    pub emergency_contact_name: Option<String>,
    pub emergency_contact_phone: Option<String>,
    pub emergency_contact_relationship: Option<String>,
    pub status: MemberStatus,
    pub status_changed_at: Option<DateTime<Utc>>,
    pub status_change_reason: Option<String>,
    pub must_change_password: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub const MEMBER_COLUMNS: &str = "id, username, email, first_name, last_name, membership_number,
    `rank`, station, phone, hide_phone, hire_date, emergency_contact_name, emergency_contact_phone,
    emergency_contact_relationship, status, status_changed_at, status_change_reason,
    must_change_password, last_login_at, created_at, updated_at";

/// Contact details. Email and phone: the member themself, holders of `users.view_contact`, and
/// every member when the department's directory is open (the phone then only if the member
/// does not keep it to officers). Emergency contacts: the member and `users.view_contact` only.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Contact {
    pub email: String,
    /// Null when the member keeps it to officers and the caller is not one (or has none).
    pub phone: Option<String>,
    /// The member keeps their phone number to holders of `users.view_contact`.
    pub hide_phone: bool,
    /// The emergency contact: null unless the caller is the member or holds
    /// `users.view_contact`.
    pub emergency_contact_name: Option<String>,
    pub emergency_contact_phone: Option<String>,
    pub emergency_contact_relationship: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub id: Uuid,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub membership_number: Option<String>,
    pub rank: Option<String>,
    pub station: Option<String>,
    pub hire_date: Option<NaiveDate>,
    #[schema(schema_with = crate::members::rules::status_schema)]
    pub status: MemberStatus,
    pub status_changed_at: Option<DateTime<Utc>>,
    /// Shown to the member themself and to `members.manage`.
    pub status_change_reason: Option<String>,
    /// Null when the caller may not see this member's contact details.
    pub contact: Option<Contact>,
    /// Account state: shown to the member themself and to `members.manage`.
    pub must_change_password: Option<bool>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MemberRow {
    /// What `ctx` may see of this member.
    pub fn view(self, ctx: &Ctx) -> Member {
        let is_self = self.id == ctx.user_id;
        let full = sees_full_contact(ctx, self.id);
        let contact = (full || ctx.sees_directory()).then(|| Contact {
            email: self.email.clone(),
            phone: if full || !self.hide_phone {
                self.phone.clone()
            } else {
                None
            },
            hide_phone: self.hide_phone,
            emergency_contact_name: self.emergency_contact_name.clone().filter(|_| full),
            emergency_contact_phone: self.emergency_contact_phone.clone().filter(|_| full),
            emergency_contact_relationship: self
                .emergency_contact_relationship
                .clone()
                .filter(|_| full),
        });
        // The status reason and account state are the member's and their managers' business.
        let reason_visible = is_self || ctx.has(MEMBERS_MANAGE);
        Member {
            id: self.id,
            username: self.username,
            first_name: self.first_name,
            last_name: self.last_name,
            membership_number: self.membership_number,
            rank: self.rank,
            station: self.station,
            hire_date: self.hire_date,
            status: self.status,
            status_changed_at: self.status_changed_at,
            status_change_reason: if reason_visible {
                self.status_change_reason
            } else {
                None
            },
            contact,
            must_change_password: reason_visible.then_some(self.must_change_password),
            last_login_at: if reason_visible {
                self.last_login_at
            } else {
                None
            },
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// The audited fields, for change diffs. Never includes credentials.
    fn audit_view(&self) -> serde_json::Value {
        serde_json::json!({
            "username": self.username,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "membership_number": self.membership_number,
            "rank": self.rank,
            "station": self.station,
            "phone": self.phone,
            "hide_phone": self.hide_phone,
            "hire_date": self.hire_date,
            "emergency_contact_name": self.emergency_contact_name,
            "emergency_contact_phone": self.emergency_contact_phone,
            "emergency_contact_relationship": self.emergency_contact_relationship,
        })
    }
}

/// Whether `ctx` sees all of member `id`'s contact details, emergency contact included: the
/// member themself and holders of `users.view_contact`.
pub fn sees_full_contact(ctx: &Ctx, id: Uuid) -> bool {
    id == ctx.user_id || ctx.has(USERS_VIEW_CONTACT)
}

pub async fn load(conn: &mut Conn, org_id: OrgId, id: Uuid, lock: bool) -> AppResult<MemberRow> {
    let sql = format!(
        "SELECT {MEMBER_COLUMNS} FROM users WHERE id = ? AND organization_id = ?{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    sqlx::query_as(AssertSqlSafe(sql))
        .bind(id)
        .bind(org_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)
}

/// A member's name, "First Last" (not found in another department).
pub async fn name_of(conn: &mut Conn, org_id: OrgId, id: Uuid) -> AppResult<String> {
    let (first, last): (String, String) = sqlx::query_as(
        "SELECT first_name, last_name FROM users WHERE organization_id = ? AND id = ?",
    )
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(format!("{first} {last}").trim().to_string())
}

// ---------------------------------------------------------------------------------------------
// Directory

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Search in names, username and membership number (and e-mail for `users.view_contact`).
    pub q: Option<String>,
    /// One status, or several separated by commas.
    pub status: Option<String>,
    /// `false`: only members who have never signed in (needs `members.manage`); `true`: only
    /// those who have.
    pub signed_in: Option<bool>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

pub async fn list(ctx: &Ctx, conn: &mut Conn, q: ListQuery) -> AppResult<Page<Member>> {
    ctx.require(MEMBERS_VIEW)?;
    let (page, per_page) = PageQuery::resolve(q.page, q.per_page)?;
    let statuses: Vec<MemberStatus> = match q.status.as_deref().map(str::trim) {
        None | Some("") => vec![],
        Some(s) => s
            .split(',')
            .map(|part| rules::status("status", part))
            .collect::<AppResult<_>>()?,
    };
    let term = input::optional_text("q", q.q, 100)?;
    let mut filter = String::from("organization_id = ?");
    if !statuses.is_empty() {
        filter.push_str(&format!(
            " AND status IN ({})",
            vec!["?"; statuses.len()].join(",")
        ));
    }
    if let Some(signed_in) = q.signed_in {
        ctx.require(MEMBERS_MANAGE)?;
        filter.push_str(if signed_in {
            " AND last_login_at IS NOT NULL"
        } else {
            " AND last_login_at IS NULL"
        });
    }
    let searchable = if ctx.sees_directory() {
        "CONCAT_WS(' ', first_name, last_name, username, membership_number, email)"
    } else {
        "CONCAT_WS(' ', first_name, last_name, username, membership_number)"
    };
    let pattern = term.as_deref().map(like_pattern);
    if pattern.is_some() {
        filter.push_str(&format!(" AND {searchable} LIKE ?"));
    }
    // The page and the number of all matches in one statement; a page past the end has no
    // row to carry the number, and counts on its own.
    #[derive(sqlx::FromRow)]
    struct Counted {
        #[sqlx(flatten)]
        row: MemberRow,
        total: i64,
    }
    let rows_sql = format!(
        "SELECT {MEMBER_COLUMNS}, COUNT(*) OVER () AS total FROM users WHERE {filter}
          ORDER BY last_name, first_name, id LIMIT ? OFFSET ?"
    );
    let mut rows = sqlx::query_as::<_, Counted>(AssertSqlSafe(rows_sql)).bind(ctx.org_id);
    for s in &statuses {
        rows = rows.bind(s);
    }
    if let Some(p) = &pattern {
        rows = rows.bind(p);
    }
    let rows = rows
        .bind(per_page)
        .bind(u64::from(page - 1) * u64::from(per_page))
        .fetch_all(&mut *conn)
        .await?;
    let total = match rows.first() {
        Some(r) => r.total,
        None if page == 1 => 0,
        None => {
            let count_sql = format!("SELECT COUNT(*) FROM users WHERE {filter}");
            let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql)).bind(ctx.org_id);
            for s in &statuses {
                count = count.bind(s);
            }
            if let Some(p) = &pattern {
                count = count.bind(p);
            }
            count.fetch_one(&mut *conn).await?
        }
    };
    let items = rows.into_iter().map(|r| r.row.view(ctx)).collect();
    Ok(Page {
        items,
        page,
        per_page,
        total: total as u64,
    })
}

pub async fn get(ctx: &Ctx, conn: &mut Conn, id: Uuid) -> AppResult<Member> {
    if id != ctx.user_id {
        ctx.require(MEMBERS_VIEW)?;
    }
    Ok(load(conn, ctx.org_id, id, false).await?.view(ctx))
}

// ---------------------------------------------------------------------------------------------
// Create

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    #[schema(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")]
    pub username: String,
    pub email: String,
    #[schema(max_length = 100)]
    pub first_name: String,
    #[schema(max_length = 100)]
    pub last_name: String,
    pub membership_number: Option<String>,
    #[schema(max_length = 64)]
    pub rank: Option<String>,
    #[schema(max_length = 100)]
    pub station: Option<String>,
    #[schema(
        pattern = r"^[0-9+().x-]*[0-9]([0-9+ ().x-]*[0-9+().x-])?$",
        min_length = 3,
        max_length = 32
    )]
    pub phone: Option<String>,
    /// YYYY-MM-DD
    pub hire_date: Option<String>,
    /// `active` (default) or `probationary`.
    #[schema(schema_with = crate::members::rules::joining_status_schema)]
    pub status: Option<String>,
    #[schema(max_length = 200)]
    pub emergency_contact_name: Option<String>,
    #[schema(
        pattern = r"^[0-9+().x-]*[0-9]([0-9+ ().x-]*[0-9+().x-])?$",
        min_length = 3,
        max_length = 32
    )]
    pub emergency_contact_phone: Option<String>,
    #[schema(max_length = 64)]
    pub emergency_contact_relationship: Option<String>,
    /// If given, the member signs in with it and must change it at once.
    pub temporary_password: Option<String>,
}

/// A new member after every rule has passed.
#[derive(Debug, Clone)]
pub struct ValidMember {
    pub username: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub membership_number: Option<String>,
    pub rank: Option<String>,
    pub station: Option<String>,
    pub phone: Option<String>,
    pub hire_date: Option<NaiveDate>,
    pub status: String,
    pub emergency_contact_name: Option<String>,
    pub emergency_contact_phone: Option<String>,
    pub emergency_contact_relationship: Option<String>,
    pub temporary_password: Option<NewPassword>,
}

impl NewMember {
    pub fn validate(self, today: NaiveDate) -> Result<ValidMember, Vec<FieldError>> {
        self.validate_in(today, crate::time::Locale::default())
    }

    /// `validate`, reading dates in the department's order (`locale`).
    pub fn validate_in(
        self,
        today: NaiveDate,
        locale: crate::time::Locale,
    ) -> Result<ValidMember, Vec<FieldError>> {
        let mut c = Checks::default();
        let username = c.take(input::username("username", &self.username));
        let email = c.take(input::email("email", &self.email));
        let first_name = c.take(input::required_text("first_name", &self.first_name, 100));
        let last_name = c.take(input::required_text("last_name", &self.last_name, 100));
        let membership_number = c.take(input::membership_number(
            "membership_number",
            self.membership_number,
        ));
        let rank = c.take(input::optional_text("rank", self.rank, 64));
        let station = c.take(input::optional_text("station", self.station, 100));
        let phone = c.take(input::phone("phone", self.phone));
        let hire_date = c.take(input::past_date("hire_date", self.hire_date, today, locale));
        let status = match self.status.as_deref().map(str::trim) {
            None | Some("") => Some("active".to_string()),
            Some(s @ ("active" | "probationary")) => Some(s.to_string()),
            Some(_) => {
                c.push("status", "a new member is active or probationary");
                None
            }
        };
        let ec_name = c.take(input::optional_text(
            "emergency_contact_name",
            self.emergency_contact_name,
            200,
        ));
        let ec_phone = c.take(input::phone(
            "emergency_contact_phone",
            self.emergency_contact_phone,
        ));
        let ec_rel = c.take(input::optional_text(
            "emergency_contact_relationship",
            self.emergency_contact_relationship,
            64,
        ));
        let temporary_password = match &self.temporary_password {
            None => Some(None),
            Some(p) => c
                .take(NewPassword::parse(
                    "temporary_password",
                    p,
                    username.as_deref().unwrap_or(""),
                ))
                .map(Some),
        };
        if !c.is_empty() {
            return Err(c.into_errors());
        }
        // Every `take` above succeeded, so every value is present.
        Ok(ValidMember {
            username: username.unwrap_or_default(),
            email: email.unwrap_or_default(),
            first_name: first_name.unwrap_or_default(),
            last_name: last_name.unwrap_or_default(),
            membership_number: membership_number.flatten(),
            rank: rank.flatten(),
            station: station.flatten(),
            phone: phone.flatten(),
            hire_date: hire_date.flatten(),
            status: status.unwrap_or_default(),
            emergency_contact_name: ec_name.flatten(),
            emergency_contact_phone: ec_phone.flatten(),
            emergency_contact_relationship: ec_rel.flatten(),
            temporary_password: temporary_password.flatten(),
        })
    }
}

/// Today in the organization's time zone (a hire date "in the future" depends on where you are).
/// Inserts a validated member and audits it. Shared by the API, CSV import and provisioning.
pub async fn insert(
    tx: &mut Tx<'_>,
    actor: &audit::Actor,
    m: &ValidMember,
    password_hash: Option<String>,
) -> AppResult<Uuid> {
    let id = db::new_id();
    let now = db::now();
    sqlx::query(
        "INSERT INTO users (id, organization_id, username, email, first_name, last_name,
            membership_number, `rank`, station, phone, hire_date, emergency_contact_name,
            emergency_contact_phone, emergency_contact_relationship, status, status_changed_at,
            password_hash, must_change_password, password_changed_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(actor.org_id)
    .bind(&m.username)
    .bind(&m.email)
    .bind(&m.first_name)
    .bind(&m.last_name)
    .bind(&m.membership_number)
    .bind(&m.rank)
    .bind(&m.station)
    .bind(&m.phone)
    .bind(m.hire_date)
    .bind(&m.emergency_contact_name)
    .bind(&m.emergency_contact_phone)
    .bind(&m.emergency_contact_relationship)
    .bind(&m.status)
    .bind(now)
    .bind(&password_hash)
    .bind(password_hash.is_some() && m.temporary_password.is_some())
    .bind(password_hash.as_ref().map(|_| now))
    .bind(now)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, UNIQUE_KEYS))?;
    audit::record(
        tx,
        actor,
        Entry::new("member.created", "member", id).changes(serde_json::json!({
            "username": m.username,
            "email": m.email,
            "first_name": m.first_name,
            "last_name": m.last_name,
            "membership_number": m.membership_number,
            "rank": m.rank,
            "station": m.station,
            "phone": m.phone,
            "hire_date": m.hire_date,
            "status": m.status,
            "emergency_contact_name": m.emergency_contact_name,
            "emergency_contact_phone": m.emergency_contact_phone,
            "emergency_contact_relationship": m.emergency_contact_relationship,
            "password_set": password_hash.is_some(),
        })),
    )
    .await?;
    Ok(id)
}

pub async fn create(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    hasher: &Hasher,
    input: NewMember,
) -> AppResult<Member> {
    ctx.require(MEMBERS_MANAGE)?;
    let valid = input
        .validate_in(crate::time::today(&ctx.timezone), ctx.locale)
        .map_err(AppError::Validation)?;
    let hash = match &valid.temporary_password {
        Some(p) => Some(hasher.hash(p.as_str().to_string()).await?),
        None => None,
    };
    let id = insert(tx, &ctx.actor(), &valid, hash).await?;
    // Every member holds the Member role, so they see the directory and the modules.
    roles::assign_member_role(tx, &ctx.actor(), id).await?;
    Ok(load(tx, ctx.org_id, id, false).await?.view(ctx))
}

// ---------------------------------------------------------------------------------------------
// Update

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberPatch {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")]
    pub username: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub membership_number: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub rank: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub station: Option<Option<String>>,
    /// YYYY-MM-DD, or null to clear.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub hire_date: Option<Option<String>>,
    // Contact details: the member may change their own.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = r"^[0-9+().x-]*[0-9]([0-9+ ().x-]*[0-9+().x-])?$", min_length = 3, max_length = 32)]
    pub phone: Option<Option<String>>,
    /// Keep the phone number to holders of `users.view_contact`.
    #[serde(default)]
    pub hide_phone: Option<bool>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub emergency_contact_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = r"^[0-9+().x-]*[0-9]([0-9+ ().x-]*[0-9+().x-])?$", min_length = 3, max_length = 32)]
    pub emergency_contact_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub emergency_contact_relationship: Option<Option<String>>,
}

fn touches_account(p: &MemberPatch) -> bool {
    p.username.is_some() || p.email.is_some()
}

impl MemberPatch {
    fn touches_profile(&self) -> bool {
        self.username.is_some()
            || self.first_name.is_some()
            || self.last_name.is_some()
            || self.membership_number.is_some()
            || self.rank.is_some()
            || self.station.is_some()
            || self.hire_date.is_some()
    }
}

pub async fn update(ctx: &Ctx, tx: &mut Tx<'_>, id: Uuid, patch: MemberPatch) -> AppResult<Member> {
    let manager = ctx.has(MEMBERS_MANAGE);
    let is_self = id == ctx.user_id;
    if !manager {
        if !is_self {
            // Without members.manage another member's profile is either invisible (404) or
            // read-only (403).
            ctx.require(MEMBERS_VIEW)?;
            load(tx, ctx.org_id, id, false).await?;
            return Err(AppError::forbidden_permission(MEMBERS_MANAGE));
        }
        if patch.touches_profile() {
            return Err(AppError::Forbidden(
                "you may change only your own contact details; the rest needs `members.manage`"
                    .into(),
            ));
        }
    }
    let before = load(tx, ctx.org_id, id, true).await?;
    if !is_self && touches_account(&patch) {
        // Changing someone's sign-in name or e-mail can be a step to taking the account over:
        // only for managers who hold every permission the member holds.
        let theirs = roles::permissions_of_member(tx, ctx.org_id, id).await?;
        roles::ensure_within_ceiling(ctx, &theirs)?;
    }
    let mut after = before.clone();
    let mut c = Checks::default();
    let today = crate::time::today(&ctx.timezone);
    let p = patch;
    // A required field given as null is "is required", never silently ignored.
    let required = |v: Option<String>| v.unwrap_or_default();
    c.apply(
        &mut after.username,
        p.username
            .map(|v| input::username("username", &required(v))),
    );
    c.apply(
        &mut after.first_name,
        p.first_name
            .map(|v| input::required_text("first_name", &required(v), 100)),
    );
    c.apply(
        &mut after.last_name,
        p.last_name
            .map(|v| input::required_text("last_name", &required(v), 100)),
    );
    c.apply(
        &mut after.membership_number,
        p.membership_number
            .map(|v| input::membership_number("membership_number", v)),
    );
    c.apply(
        &mut after.rank,
        p.rank.map(|v| input::optional_text("rank", v, 64)),
    );
    c.apply(
        &mut after.station,
        p.station.map(|v| input::optional_text("station", v, 100)),
    );
    c.apply(
        &mut after.hire_date,
        p.hire_date
            .map(|v| input::past_date("hire_date", v, today, ctx.locale)),
    );
    c.apply(
        &mut after.email,
        p.email.map(|v| input::email("email", &required(v))),
    );
    c.apply(&mut after.phone, p.phone.map(|v| input::phone("phone", v)));
    if let Some(hide) = p.hide_phone {
        after.hide_phone = hide;
    }
    c.apply(
        &mut after.emergency_contact_name,
        p.emergency_contact_name
            .map(|v| input::optional_text("emergency_contact_name", v, 200)),
    );
    c.apply(
        &mut after.emergency_contact_phone,
        p.emergency_contact_phone
            .map(|v| input::phone("emergency_contact_phone", v)),
    );
    c.apply(
        &mut after.emergency_contact_relationship,
        p.emergency_contact_relationship
            .map(|v| input::optional_text("emergency_contact_relationship", v, 64)),
    );
    c.finish()?;
    let changes = audit::chain::diff(&before.audit_view(), &after.audit_view());
    if changes.as_object().is_some_and(|m| m.is_empty()) {
        return Ok(before.view(ctx));
    }
    sqlx::query(
        "UPDATE users SET username = ?, email = ?, first_name = ?, last_name = ?,
                membership_number = ?, `rank` = ?, station = ?, phone = ?, hide_phone = ?,
                hire_date = ?, emergency_contact_name = ?, emergency_contact_phone = ?,
                emergency_contact_relationship = ?, updated_at = ?
          WHERE id = ? AND organization_id = ?",
    )
    .bind(&after.username)
    .bind(&after.email)
    .bind(&after.first_name)
    .bind(&after.last_name)
    .bind(&after.membership_number)
    .bind(&after.rank)
    .bind(&after.station)
    .bind(&after.phone)
    .bind(after.hide_phone)
    .bind(after.hire_date)
    .bind(&after.emergency_contact_name)
    .bind(&after.emergency_contact_phone)
    .bind(&after.emergency_contact_relationship)
    .bind(db::now())
    .bind(id)
    .bind(ctx.org_id)
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, UNIQUE_KEYS))?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.updated", "member", id).changes(changes),
    )
    .await?;
    Ok(load(tx, ctx.org_id, id, false).await?.view(ctx))
}

// ---------------------------------------------------------------------------------------------
// Status

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    #[schema(schema_with = crate::members::rules::status_schema)]
    pub status: String,
    /// Why; required, up to 500 characters.
    #[schema(max_length = 500)]
    pub reason: String,
}

/// Told (`crate::module::tell`) with the member's id when they retire or are dropped, in the
/// status change's transaction.
pub const MEMBER_LEFT: &str = "members.left";

pub async fn change_status(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    id: Uuid,
    input: StatusChange,
) -> AppResult<Member> {
    ctx.require(MEMBERS_MANAGE)?;
    let mut c = Checks::default();
    let status = c.take(rules::status("status", &input.status));
    let reason = c.take(input::required_text("reason", &input.reason, 500));
    c.finish()?;
    let (Some(status), Some(reason)) = (status, reason) else {
        return Err(AppError::Internal(anyhow::anyhow!(
            "checked fields are set"
        )));
    };
    // Serializes changes that could remove the last administrator.
    roles::lock_organization(tx, ctx.org_id).await?;
    let before = load(tx, ctx.org_id, id, true).await?;
    if id != ctx.user_id && !SIGN_IN_STATUSES.contains(&status.as_str()) {
        // Locking out someone with more power than you is refused like granting it (bringing
        // them back is not: it gives the caller nothing).
        let theirs = roles::permissions_of_member(tx, ctx.org_id, id).await?;
        roles::ensure_within_ceiling(ctx, &theirs)?;
    }
    // The member row is locked: a second officer making the same change at the same moment
    // reads the first one's result here.
    if before.status == status {
        return Err(AppError::Conflict(format!(
            "the member is already {status}"
        )));
    }
    if !rules::transition_allowed(before.status, status) {
        let allowed: Vec<&str> = rules::allowed_next(before.status)
            .iter()
            .map(|s| s.as_str())
            .collect();
        return Err(AppError::field(
            "status",
            format!(
                "a member who is {} cannot become {status}; allowed: {}",
                before.status,
                allowed.join(", ")
            ),
        ));
    }
    db::transition(
        tx,
        sqlx::query(
            "UPDATE users SET status = ?, status_changed_at = ?, status_change_reason = ?,
                    updated_at = ?
              WHERE id = ? AND organization_id = ? AND status = ?",
        )
        .bind(status)
        .bind(db::now())
        .bind(&reason)
        .bind(db::now())
        .bind(id)
        .bind(ctx.org_id)
        .bind(before.status),
        "the member's status has just been changed by someone else; reload and try again",
    )
    .await?;
    let signs_out = !SIGN_IN_STATUSES.contains(&status.as_str());
    if signs_out {
        sessions::revoke_all_for_user(tx, ctx.org_id, id).await?;
    }
    roles::ensure_manager_remains(tx, ctx.org_id).await?;
    if matches!(
        status,
        MemberStatus::Retired | MemberStatus::DroppedVoluntary | MemberStatus::DroppedInvoluntary
    ) {
        // The modules that lend things to members (inventory's clearance) hear of it here.
        crate::module::tell(ctx, tx, MEMBER_LEFT, id).await?;
    }
    let severity = if matches!(
        status,
        MemberStatus::DroppedVoluntary | MemberStatus::DroppedInvoluntary | MemberStatus::Suspended
    ) {
        Severity::Warning
    } else {
        Severity::Info
    };
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.status_changed", "member", id)
            .severity(severity)
            .changes(serde_json::json!({
                "status": {"from": before.status, "to": status},
                "reason": reason,
                "sessions_ended": signs_out,
            })),
    )
    .await?;
    Ok(load(tx, ctx.org_id, id, false).await?.view(ctx))
}

// ---------------------------------------------------------------------------------------------
// Admin password reset

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    /// The member signs in with it and must change it at once.
    pub temporary_password: String,
}

pub async fn reset_password(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    hasher: &Hasher,
    id: Uuid,
    input: PasswordReset,
) -> AppResult<()> {
    ctx.require(MEMBERS_MANAGE)?;
    let target = load(tx, ctx.org_id, id, true).await?;
    // Taking over an account is granting yourself its permissions: the ceiling applies.
    let theirs = roles::permissions_of_member(tx, ctx.org_id, id).await?;
    roles::ensure_within_ceiling(ctx, &theirs)?;
    set_temporary_password(
        tx,
        hasher,
        &ctx.actor(),
        &target,
        &input.temporary_password,
        "api",
    )
    .await
}

/// Sets a temporary password the member must change at the next sign-in, unlocks the account,
/// ends its sessions and audits it. Shared by the admin reset and the shell's break-glass reset.
async fn set_temporary_password(
    tx: &mut Tx<'_>,
    hasher: &Hasher,
    actor: &audit::Actor,
    target: &MemberRow,
    temporary_password: &str,
    via: &str,
) -> AppResult<()> {
    let password = NewPassword::parse("temporary_password", temporary_password, &target.username)?;
    let hash = hasher.hash(password.into_inner()).await?;
    sqlx::query(
        "UPDATE users SET password_hash = ?, must_change_password = TRUE, password_changed_at = ?,
                failed_login_attempts = 0, locked_until = NULL, updated_at = ?
          WHERE id = ? AND organization_id = ?",
    )
    .bind(hash)
    .bind(db::now())
    .bind(db::now())
    .bind(target.id)
    .bind(actor.org_id)
    .execute(&mut **tx)
    .await?;
    sessions::revoke_all_for_user(tx, actor.org_id, target.id).await?;
    audit::record(
        tx,
        actor,
        Entry::new("member.password_reset", "member", target.id)
            .severity(Severity::Warning)
            .changes(serde_json::json!({
                "must_change_password": true, "sessions_ended": true, "via": via,
            })),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// CSV import and export

pub const CSV_COLUMNS: &[&str] = &[
    "username",
    "email",
    "first_name",
    "last_name",
    "membership_number",
    "rank",
    "station",
    "phone",
    "hire_date",
    "status",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
];
const CSV_REQUIRED: &[&str] = &["username", "email", "first_name", "last_name"];
pub const MAX_IMPORT_ROWS: usize = 2000;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportPreviewRow {
    pub line: u64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    #[schema(schema_with = crate::members::rules::status_schema)]
    pub status: String,
    /// The new member's id once the import is done; null in a dry run.
    pub member_id: Option<Uuid>,
}

/// A members import's report: its preview lists the members that would be (or were) created.
pub type ImportReport = crate::csv::ImportReport<ImportPreviewRow>;

pub async fn import_csv(
    ctx: &Ctx,
    tx: &mut Tx<'_>,
    body: &str,
    dry_run: bool,
) -> AppResult<ImportReport> {
    ctx.require(MEMBERS_MANAGE)?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(body.as_bytes());
    let headers = crate::csv::header(&mut reader, CSV_COLUMNS, CSV_REQUIRED)?;
    let today = crate::time::today(&ctx.timezone);
    let mut errors = Vec::new();
    let mut valid: Vec<(u64, ValidMember)> = Vec::new();
    let mut rows = 0u64;
    let mut seen: std::collections::HashMap<(&'static str, String), u64> = Default::default();
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        rows += 1;
        if rows as usize > MAX_IMPORT_ROWS {
            return Err(AppError::field(
                "file",
                format!("at most {MAX_IMPORT_ROWS} rows per import"),
            ));
        }
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    line,
                    field: String::new(),
                    message: format!("cannot read this row: {e}"),
                });
                continue;
            }
        };
        let get = |name: &str| -> Option<String> {
            headers
                .iter()
                .position(|h| h == name)
                .and_then(|i| record.get(i))
                .map(str::to_string)
        };
        let input = NewMember {
            username: get("username").unwrap_or_default(),
            email: get("email").unwrap_or_default(),
            first_name: get("first_name").unwrap_or_default(),
            last_name: get("last_name").unwrap_or_default(),
            membership_number: get("membership_number"),
            rank: get("rank"),
            station: get("station"),
            phone: get("phone"),
            hire_date: get("hire_date"),
            status: get("status"),
            emergency_contact_name: get("emergency_contact_name"),
            emergency_contact_phone: get("emergency_contact_phone"),
            emergency_contact_relationship: get("emergency_contact_relationship"),
            temporary_password: None,
        };
        match input.validate_in(today, ctx.locale) {
            Err(field_errors) => errors.extend(field_errors.into_iter().map(|e| RowError {
                line,
                field: e.field,
                message: e.message,
            })),
            Ok(m) => {
                let mut row_ok = true;
                let keys = [
                    ("username", Some(m.username.clone())),
                    ("email", Some(m.email.to_lowercase())),
                    ("membership_number", m.membership_number.clone()),
                ];
                for (field, value) in keys {
                    let Some(value) = value else { continue };
                    if let Some(first) = seen.get(&(field, value.clone())) {
                        errors.push(RowError {
                            line,
                            field: field.into(),
                            message: format!("repeats line {first}"),
                        });
                        row_ok = false;
                    } else {
                        seen.insert((field, value), line);
                    }
                }
                if row_ok {
                    valid.push((line, m));
                }
            }
        }
    }
    // Clashes with members already on file: one query for the organization's keys, not one per
    // row. Compared case-insensitively, like the unique keys' collation.
    let on_file: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT username, email, membership_number FROM users WHERE organization_id = ?",
    )
    .bind(ctx.org_id)
    .fetch_all(&mut **tx)
    .await?;
    let mut taken: std::collections::HashSet<(&str, String)> = Default::default();
    for (username, email, number) in &on_file {
        taken.insert(("username", username.to_lowercase()));
        taken.insert(("email", email.to_lowercase()));
        if let Some(n) = number {
            taken.insert(("membership_number", n.to_lowercase()));
        }
    }
    for (line, m) in &valid {
        let keys = [
            ("username", Some(&m.username)),
            ("email", Some(&m.email)),
            ("membership_number", m.membership_number.as_ref()),
        ];
        for (field, value) in keys {
            if value.is_some_and(|v| taken.contains(&(field, v.to_lowercase()))) {
                errors.push(RowError {
                    line: *line,
                    field: field.into(),
                    message: "is already used by another member".into(),
                });
            }
        }
    }
    errors.sort_by_key(|e| e.line);
    let error_lines: std::collections::HashSet<u64> = errors.iter().map(|e| e.line).collect();
    let mut preview: Vec<ImportPreviewRow> = valid
        .iter()
        .filter(|(line, _)| !error_lines.contains(line))
        .map(|(line, m)| ImportPreviewRow {
            line: *line,
            username: m.username.clone(),
            first_name: m.first_name.clone(),
            last_name: m.last_name.clone(),
            status: m.status.clone(),
            member_id: None,
        })
        .collect();
    let valid_rows = preview.len() as u64;
    if rows == 0 {
        return Err(AppError::field(
            "file",
            "the file has no rows below the header",
        ));
    }
    let mut created = 0;
    if !dry_run && errors.is_empty() {
        let actor = ctx.actor();
        // No row has an error here, so the preview holds every valid row, in the same order.
        for ((_, m), row) in valid.iter().zip(preview.iter_mut()) {
            let id = insert(tx, &actor, m, None).await?;
            roles::assign_member_role(tx, &actor, id).await?;
            row.member_id = Some(id);
            created += 1;
        }
        audit::record(
            tx,
            &actor,
            Entry::new("member.imported", "member", "csv")
                .changes(serde_json::json!({"rows": rows, "created": created})),
        )
        .await?;
    }
    Ok(ImportReport {
        dry_run,
        rows,
        valid_rows,
        created,
        errors,
        preview,
    })
}

pub async fn export_csv(ctx: &Ctx, tx: &mut Tx<'_>) -> AppResult<String> {
    ctx.require(MEMBERS_MANAGE)?;
    let rows: Vec<MemberRow> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {MEMBER_COLUMNS} FROM users WHERE organization_id = ?
          ORDER BY last_name, first_name, id"
    )))
    .bind(ctx.org_id)
    .fetch_all(&mut **tx)
    .await?;
    let with_contact = ctx.has(USERS_VIEW_CONTACT);
    let columns: Vec<&str> = CSV_COLUMNS
        .iter()
        .copied()
        .filter(|c| {
            with_contact
                || !matches!(
                    *c,
                    "email"
                        | "phone"
                        | "emergency_contact_name"
                        | "emergency_contact_phone"
                        | "emergency_contact_relationship"
                )
        })
        .collect();
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(&columns).map_err(anyhow::Error::new)?;
    for r in rows {
        let hire = r.hire_date.map(|d| d.to_string());
        let record: Vec<String> = columns
            .iter()
            .map(|c| {
                let v: Option<&str> = match *c {
                    "username" => Some(&r.username),
                    "email" => Some(&r.email),
                    "first_name" => Some(&r.first_name),
                    "last_name" => Some(&r.last_name),
                    "membership_number" => r.membership_number.as_deref(),
                    "rank" => r.rank.as_deref(),
                    "station" => r.station.as_deref(),
                    "phone" => r.phone.as_deref(),
                    "hire_date" => hire.as_deref(),
                    "status" => Some(r.status.as_str()),
                    "emergency_contact_name" => r.emergency_contact_name.as_deref(),
                    "emergency_contact_phone" => r.emergency_contact_phone.as_deref(),
                    "emergency_contact_relationship" => r.emergency_contact_relationship.as_deref(),
                    _ => None,
                };
                crate::csv::spreadsheet_safe(v.unwrap_or(""))
            })
            .collect();
        out.write_record(&record).map_err(anyhow::Error::new)?;
    }
    let bytes = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    audit::record(
        tx,
        &ctx.actor(),
        Entry::new("member.exported", "member", "csv")
            .changes(serde_json::json!({"columns": columns})),
    )
    .await?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
}

/// Break-glass recovery from the host's shell (`logbook user reset-password`): whoever can run
/// the binary on the box already holds the database; the reset is still audited, and the member
/// must choose a new password at the next sign-in.
pub async fn reset_password_from_shell(
    db: &sqlx::MySqlPool,
    hasher: &Hasher,
    org_slug: &str,
    username: &str,
    temporary_password: &str,
) -> AppResult<Uuid> {
    let mut tx = db.begin().await?;
    let found: Option<(Uuid, OrgId)> = sqlx::query_as(
        "SELECT u.id, u.organization_id FROM users u
           JOIN organizations o ON o.id = u.organization_id
          WHERE o.slug = ? AND u.username = ?",
    )
    .bind(org_slug)
    .bind(username)
    .fetch_optional(&mut *tx)
    .await?;
    let (id, org_id) = found.ok_or(AppError::NotFound)?;
    let target = load(&mut tx, org_id, id, true).await?;
    let actor = audit::Actor::system(org_id, "cli");
    set_temporary_password(
        &mut tx,
        hasher,
        &actor,
        &target,
        temporary_password,
        "shell",
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}
