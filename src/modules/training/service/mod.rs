//! Training in the database: seeding a department, categories, courses, records (one member or
//! a crew), requirements, and the compliance of one member or the whole department. Every
//! query is scoped by the caller's organization; every change checks `training.manage` and is
//! audited in the same transaction. A member with only `training.view` sees their own records
//! and standing.
//!
//! The parts follow the sections of what was one file: `courses` (categories and courses),
//! `records`, `requirements`, and `compliance` (the SQL side, which loads what the engine in
//! `training::compliance` evaluates). This file holds what they share and re-exports their
//! public items, so every path stays `training::service::…`.

mod compliance;
mod courses;
mod records;
mod requirements;

pub use compliance::{
    ComplianceConfig, ComplianceReport, Exemption, Matrix, MatrixCell, MatrixColumn, MatrixQuery,
    MatrixRow, compliance_config, exemption, matrix, member_compliance, set_compliance_config,
    set_exemption,
};
pub use courses::{Category, Course, categories, courses, create_course, update_course};
pub(super) use records::{NewRecord, insert_record};
pub use records::{
    AttendanceCredit, credit_attendance, withdraw_credit,
    Expiring, RecordCorrection, RecordEntry, RecordQuery, RecordStatus, TrainingRecord,
    TrainingSession, VoidRecord, correct_record, create_records, expiring, get_record, papers_of,
    get_session, list_entries, list_records, void_record, void_session,
};
pub use requirements::{
    Requirement, audience_choices, create_requirement, requirements, update_requirement,
};

use crate::members::rules::MemberStatus;
use crate::auth::OrgId;

use chrono::NaiveDate;
use uuid::Uuid;

use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::{self, Conn, Tx};
use crate::error::{AppError, AppResult};

/// The categories every department starts with: the seven ISO (FSRS item 580) ones, EMS and
/// other. Name, code, ISO category, colour.
pub const SEEDED_CATEGORIES: &[(&str, &str, Option<&str>, &str)] = &[
    ("Company training", "company", Some("company"), "#b71c1c"),
    ("Facility training", "facility", Some("facility"), "#e65100"),
    ("Officer training", "officer", Some("officer"), "#1a237e"),
    (
        "Driver/operator training",
        "driver",
        Some("driver"),
        "#004d40",
    ),
    ("Hazardous materials", "hazmat", Some("hazmat"), "#f9a825"),
    (
        "New driver training",
        "new_driver",
        Some("new_driver"),
        "#2e7d32",
    ),
    ("Recruit training", "recruit", Some("recruit"), "#6a1b9a"),
    ("EMS", "ems", None, "#0277bd"),
    ("Other", "other", None, "#546e7a"),
];

/// Default membership tiers: slug, name, years of service, training exempt, may vote, may hold
/// office.
pub const SEEDED_TIERS: &[(&str, &str, u16, bool, bool, bool)] = &[
    ("probationary", "Probationary", 0, false, false, false),
    ("active", "Active", 1, false, true, true),
    ("senior", "Senior", 10, false, true, true),
    ("life", "Life", 20, true, true, true),
];

/// The members the matrix, the ISO report and expiry notices are about (`MemberStatus` words).
pub const MATRIX_STATUSES: &[&str] = &[
    MemberStatus::Active.as_str(),
    MemberStatus::Probationary.as_str(),
    MemberStatus::Leave.as_str(),
];

/// The members a form offers to choose (those the matrix counts), by last name.
pub async fn member_choices(
    conn: &mut Conn,
    org_id: OrgId,
) -> AppResult<Vec<(Uuid, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, first_name, last_name FROM users
          WHERE organization_id = ? AND FIND_IN_SET(status, ?)
          ORDER BY last_name, first_name, id",
    )
    .bind(org_id)
    .bind(MATRIX_STATUSES.join(","))
    .fetch_all(&mut *conn)
    .await?)
}

/// Categories, tiers and settings for a department just created.
pub async fn seed(tx: &mut Tx<'_>, org_id: OrgId) -> AppResult<()> {
    let now = db::now();
    for (name, code, iso, color) in SEEDED_CATEGORIES {
        sqlx::query(
            "INSERT INTO training_categories (id, organization_id, name, code, iso_category, color,
                                              created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(db::new_id())
        .bind(org_id)
        .bind(name)
        .bind(code)
        .bind(iso)
        .bind(color)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    for (i, (slug, name, years, exempt, vote, office)) in SEEDED_TIERS.iter().enumerate() {
        sqlx::query(
            "INSERT INTO membership_tiers (id, organization_id, slug, name, years_required,
                 sort_order, training_exempt, voting_eligible, can_hold_office, created_at,
                 updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(db::new_id())
        .bind(org_id)
        .bind(slug)
        .bind(name)
        .bind(years)
        .bind(i as i32 + 1)
        .bind(exempt)
        .bind(vote)
        .bind(office)
        .bind(now)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query("INSERT INTO training_settings (organization_id, updated_at) VALUES (?, ?)")
        .bind(org_id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The department's date today, for a request (its context carries the department's time zone).
pub fn today_for(ctx: &Ctx) -> NaiveDate {
    crate::time::today(&ctx.timezone)
}

/// The department's date today, for a job (which has no request context).
pub async fn today(conn: &mut Conn, org_id: OrgId) -> AppResult<NaiveDate> {
    let tz: String = sqlx::query_scalar("SELECT timezone FROM organizations WHERE id = ?")
        .bind(org_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(crate::time::today(&tz))
}

/// The member a training list is about: anyone (or everyone) with `training.manage`, otherwise
/// the caller (asking for someone else is refused).
pub fn whose(ctx: &Ctx, asked: Option<Uuid>) -> AppResult<Option<Uuid>> {
    ctx.require(TRAINING_VIEW)?;
    if ctx.has(TRAINING_MANAGE) {
        return Ok(asked);
    }
    match asked {
        Some(u) if u != ctx.user_id => Err(AppError::forbidden_permission(TRAINING_MANAGE)),
        _ => Ok(Some(ctx.user_id)),
    }
}
