//! Compliance from the database: loading what the engine (`training::compliance`, pure) needs
//! for one member or every member the matrix shows, in a fixed number of queries, and one
//! member's standing and the department matrix built from it.

use crate::members::rules::MemberStatus;
use crate::auth::OrgId;
use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::requirements::{Requirement, load_requirements};
use super::records::RecordStatus;
use super::{MATRIX_STATUSES, today_for};
use crate::auth::Ctx;
use crate::auth::permissions::{TRAINING_MANAGE, TRAINING_VIEW};
use crate::db::Conn;
use crate::error::{AppError, AppResult};
// The pure engine, not this file (`service::compliance`).
use crate::modules::training::compliance::{self, Colour, Kind, MemberCompliance, Period};

/// How the department judges compliance: whether the current month counts (rule 8; each
/// requirement may say otherwise).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplianceConfig {
    /// Count the current month: a period is judged at the date asked; otherwise at the last
    /// day of the month before (an officer's monthly report over finished months).
    pub include_current_month: bool,
}

async fn config_of(conn: &mut Conn, org_id: OrgId) -> AppResult<ComplianceConfig> {
    let include_current_month: Option<bool> = sqlx::query_scalar(
        "SELECT include_current_month FROM training_settings WHERE organization_id = ?",
    )
    .bind(org_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(ComplianceConfig {
        include_current_month: include_current_month.unwrap_or(true),
    })
}

/// The department's compliance settings (anyone who sees training).
pub async fn compliance_config(ctx: &Ctx, conn: &mut Conn) -> AppResult<ComplianceConfig> {
    ctx.require(TRAINING_VIEW)?;
    config_of(conn, ctx.org_id).await
}

/// Changes the department's compliance settings (`training.manage`; audited with the values
/// before and after).
pub async fn set_compliance_config(
    ctx: &Ctx,
    tx: &mut crate::db::Tx<'_>,
    input: ComplianceConfig,
) -> AppResult<ComplianceConfig> {
    ctx.require(TRAINING_MANAGE)?;
    // The row, locked, so that two officers' changes are audited one after the other.
    sqlx::query(
        "INSERT INTO training_settings (organization_id, updated_at) VALUES (?, ?)
         ON DUPLICATE KEY UPDATE organization_id = organization_id",
    )
    .bind(ctx.org_id)
    .bind(crate::db::now())
    .execute(&mut **tx)
    .await?;
    let before: bool = sqlx::query_scalar(
        "SELECT include_current_month FROM training_settings
          WHERE organization_id = ? FOR UPDATE",
    )
    .bind(ctx.org_id)
    .fetch_one(&mut **tx)
    .await?;
    if before != input.include_current_month {
        sqlx::query(
            "UPDATE training_settings SET include_current_month = ?, updated_at = ?
              WHERE organization_id = ?",
        )
        .bind(input.include_current_month)
        .bind(crate::db::now())
        .bind(ctx.org_id)
        .execute(&mut **tx)
        .await?;
        crate::audit::record(
            tx,
            &ctx.actor(),
            crate::audit::Entry::new(
                "training.compliance_config_changed",
                "organization",
                ctx.org_id,
            )
            .changes(serde_json::json!({
                "include_current_month": {"from": before, "to": input.include_current_month},
            })),
        )
        .await?;
    }
    config_of(tx, ctx.org_id).await
}

/// A member's exemption from training requirements, given by an officer (apart from the one
/// a membership tier gives).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    pub exempt: bool,
    /// Why (required to exempt; kept in the audit log).
    #[schema(max_length = 200)]
    #[serde(default)]
    pub reason: Option<String>,
}

/// The member's exemption (`training.manage`; another department's member is not found).
pub async fn exemption(ctx: &Ctx, conn: &mut Conn, member: Uuid) -> AppResult<Exemption> {
    ctx.require(TRAINING_MANAGE)?;
    exemption_row(conn, ctx.org_id, member, false).await
}

async fn exemption_row(
    conn: &mut Conn,
    org_id: OrgId,
    member: Uuid,
    lock: bool,
) -> AppResult<Exemption> {
    let row: Option<(bool, Option<String>)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT compliance_exempt, compliance_exempt_reason FROM users
          WHERE organization_id = ? AND id = ?{}",
        if lock { " FOR UPDATE" } else { "" }
    )))
    .bind(org_id)
    .bind(member)
    .fetch_optional(&mut *conn)
    .await?;
    let (exempt, reason) = row.ok_or(AppError::NotFound)?;
    Ok(Exemption { exempt, reason })
}

/// Exempts a member from training requirements, with a reason, or ends the exemption
/// (`training.manage`; audited with the values before and after). Their standing is then green,
/// saying why, until it ends.
pub async fn set_exemption(
    ctx: &Ctx,
    tx: &mut crate::db::Tx<'_>,
    member: Uuid,
    input: Exemption,
) -> AppResult<Exemption> {
    ctx.require(TRAINING_MANAGE)?;
    if member == ctx.user_id {
        return Err(AppError::Forbidden(
            "an officer cannot exempt themselves; another officer can".into(),
        ));
    }
    let reason = if input.exempt {
        Some(crate::input::required_text(
            "reason",
            input.reason.as_deref().unwrap_or_default(),
            200,
        )?)
    } else {
        None
    };
    let before = exemption_row(tx, ctx.org_id, member, true).await?;
    if before.exempt == input.exempt && before.reason == reason {
        return Ok(before);
    }
    sqlx::query(
        "UPDATE users SET compliance_exempt = ?, compliance_exempt_reason = ?, updated_at = ?
          WHERE organization_id = ? AND id = ?",
    )
    .bind(input.exempt)
    .bind(&reason)
    .bind(crate::db::now())
    .bind(ctx.org_id)
    .bind(member)
    .execute(&mut **tx)
    .await?;
    crate::audit::record(
        tx,
        &ctx.actor(),
        crate::audit::Entry::new("training.exemption_changed", "member", member).changes(
            serde_json::json!({
                "exempt": {"from": before.exempt, "to": input.exempt},
                "reason": {"from": before.reason, "to": reason},
            }),
        ),
    )
    .await?;
    exemption_row(tx, ctx.org_id, member, false).await
}

#[derive(sqlx::FromRow)]
struct MemberRow {
    id: Uuid,
    first_name: String,
    last_name: String,
    status: MemberStatus,
    tier_id: Option<Uuid>,
    tier_name: Option<String>,
    training_exempt: Option<bool>,
    compliance_exempt: bool,
    compliance_exempt_reason: Option<String>,
    /// The member's roles, as hex ids (read with the member).
    role_hex: Option<String>,
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    id: Uuid,
    user_id: Uuid,
    course_id: Option<Uuid>,
    category_id: Option<Uuid>,
    course_name: String,
    training_type: String,
    completion_date: NaiveDate,
    expiration_date: Option<NaiveDate>,
    hours_completed: Decimal,
    certification_number: Option<String>,
    course_code: Option<String>,
}

#[derive(sqlx::FromRow)]
struct WaiverRow {
    id: Uuid,
    user_id: Uuid,
    waiver_type: String,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    all_requirements: bool,
    /// The requirements a targeted waiver covers, as hex ids (read with the waiver).
    requirement_hex: Option<String>,
}

/// Everything the engine needs for the members asked (one, or all the matrix shows), in a fixed
/// number of queries whatever their number.
struct Inputs {
    requirements: Vec<(Requirement, compliance::Requirement)>,
    members: Vec<MemberRow>,
    roles: HashMap<Uuid, Vec<Uuid>>,
    records: HashMap<Uuid, Vec<compliance::Record>>,
    waivers: HashMap<Uuid, Vec<compliance::Waiver>>,
}

async fn inputs(
    conn: &mut Conn,
    org_id: OrgId,
    member: Option<Uuid>,
    as_of: NaiveDate,
) -> AppResult<Inputs> {
    // The department's default for the current month comes with each requirement.
    let requirements = load_requirements(conn, org_id, true)
        .await?
        .into_iter()
        .filter_map(|(r, category_name, org_current)| {
            let default_current = org_current.unwrap_or(true);
            let kind = Kind::parse(&r.requirement_type)?;
            let pair = |m: Option<u8>, d: Option<u8>| Some((u32::from(m?), u32::from(d?)));
            let period = Period::parse(&r.period, r.rolling_months.map(u32::from))?.shaped(
                r.year.map(i32::from),
                pair(r.period_start_month, r.period_start_day),
                pair(r.period_end_month, r.period_end_day),
            );
            let engine = compliance::Requirement {
                id: r.id,
                name: r.name.clone(),
                kind,
                category_id: r.category_id,
                category_name,
                training_type: r.training_type.clone(),
                required_hours: r.required_hours.unwrap_or_default(),
                required_count: r.required_count.map(u32::from).unwrap_or(0),
                course_ids: r.course_ids.clone(),
                registry_code: r.registry_code.clone(),
                period,
                include_current_month: r.include_current_month.unwrap_or(default_current),
                recency_days: r.recency_days.map(u32::from),
            };
            Some((r, engine))
        })
        .collect();
    let one = if member.is_some() {
        " AND u.id = ?"
    } else {
        ""
    };
    let statuses = if member.is_some() {
        String::new()
    } else {
        format!(
            " AND u.status IN ({})",
            MATRIX_STATUSES
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let mut q = sqlx::query_as::<_, MemberRow>(AssertSqlSafe(format!(
        "SELECT u.id, u.first_name, u.last_name, u.status, t.id AS tier_id, t.name AS tier_name,
                t.training_exempt, u.compliance_exempt, u.compliance_exempt_reason,
                (SELECT GROUP_CONCAT(HEX(ur.role_id)) FROM user_roles ur
                  WHERE ur.organization_id = u.organization_id AND ur.user_id = u.id) AS role_hex
           FROM users u LEFT JOIN membership_tiers t ON t.id = u.membership_tier_id
          WHERE u.organization_id = ?{one}{statuses}
          ORDER BY u.last_name, u.first_name, u.id"
    )))
    .bind(org_id);
    if let Some(m) = member {
        q = q.bind(m);
    }
    let members = q.fetch_all(&mut *conn).await?;
    let user_filter = if member.is_some() {
        " AND user_id = ?"
    } else {
        ""
    };
    let roles: HashMap<Uuid, Vec<Uuid>> = members
        .iter()
        .map(|m| (m.id, crate::db::hex_ids(m.role_hex.as_deref())))
        .collect();
    let mut q = sqlx::query_as::<_, RecordRow>(AssertSqlSafe(format!(
        "SELECT r.id, r.user_id, r.course_id, r.category_id, r.course_name, r.training_type,
                r.completion_date, r.expiration_date, r.hours_completed, r.certification_number,
                c.code AS course_code
           FROM training_records r
           LEFT JOIN training_courses c
             ON c.id = r.course_id AND c.organization_id = r.organization_id
          WHERE r.organization_id = ? AND r.status = ? AND r.completion_date <= ?{}",
        user_filter.replace("user_id", "r.user_id")
    )))
    .bind(org_id)
    .bind(RecordStatus::Completed)
    .bind(as_of);
    if let Some(m) = member {
        q = q.bind(m);
    }
    let mut records: HashMap<Uuid, Vec<compliance::Record>> = HashMap::new();
    for r in q.fetch_all(&mut *conn).await? {
        records
            .entry(r.user_id)
            .or_default()
            .push(compliance::Record {
                id: r.id,
                course_id: r.course_id,
                category_id: r.category_id,
                course_name: r.course_name,
                training_type: r.training_type,
                completion_date: r.completion_date,
                expiration_date: r.expiration_date,
                hours: r.hours_completed,
                certification_number: r.certification_number,
                course_code: r.course_code,
            });
    }
    let mut q = sqlx::query_as::<_, WaiverRow>(AssertSqlSafe(format!(
        "SELECT w.id, w.user_id, w.waiver_type, w.start_date, w.end_date, w.all_requirements,
                (SELECT GROUP_CONCAT(HEX(x.requirement_id)) FROM training_waiver_requirements x
                  WHERE x.organization_id = w.organization_id AND x.waiver_id = w.id)
                  AS requirement_hex
           FROM training_waivers w WHERE w.organization_id = ? AND w.active{}",
        user_filter.replace("user_id", "w.user_id")
    )))
    .bind(org_id);
    if let Some(m) = member {
        q = q.bind(m);
    }
    let waiver_rows = q.fetch_all(&mut *conn).await?;
    let mut waivers: HashMap<Uuid, Vec<compliance::Waiver>> = HashMap::new();
    for w in waiver_rows {
        waivers
            .entry(w.user_id)
            .or_default()
            .push(compliance::Waiver {
                id: w.id,
                start: w.start_date,
                end: w.end_date,
                requirement_ids: (!w.all_requirements)
                    .then(|| crate::db::hex_ids(w.requirement_hex.as_deref())),
                kind: w.waiver_type.replace('_', " "),
            });
    }
    Ok(Inputs {
        requirements,
        members,
        roles,
        records,
        waivers,
    })
}

impl Inputs {
    fn evaluate(
        &self,
        m: &MemberRow,
        as_of: NaiveDate,
        locale: crate::time::Locale,
    ) -> MemberCompliance {
        let no_roles = Vec::new();
        let member_roles = self.roles.get(&m.id).unwrap_or(&no_roles);
        let applicable: Vec<compliance::Requirement> = self
            .requirements
            .iter()
            .filter(|(r, _)| {
                compliance::applies(
                    &r.applies_to,
                    &r.role_ids,
                    &r.tier_ids,
                    member_roles,
                    m.tier_id,
                )
            })
            .map(|(_, e)| e.clone())
            .collect();
        let exempt = if m.compliance_exempt {
            Some(format!(
                "by an officer: {}",
                m.compliance_exempt_reason.as_deref().unwrap_or("no reason given")
            ))
        } else {
            m.training_exempt.unwrap_or(false).then(|| {
                format!(
                    "{} member",
                    m.tier_name.as_deref().unwrap_or("exempt").to_lowercase()
                )
            })
        };
        compliance::member(
            &applicable,
            self.records.get(&m.id).map(Vec::as_slice).unwrap_or(&[]),
            self.waivers.get(&m.id).map(Vec::as_slice).unwrap_or(&[]),
            as_of,
            exempt.as_deref(),
            locale,
        )
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ComplianceReport {
    pub member_id: Uuid,
    pub member_name: String,
    #[serde(flatten)]
    pub compliance: MemberCompliance,
}

/// One member's standing at `as_of` (default: the department's today): their own, or anyone's
/// with `training.manage`.
pub async fn member_compliance(
    ctx: &Ctx,
    conn: &mut Conn,
    member_id: Uuid,
    as_of: Option<NaiveDate>,
) -> AppResult<ComplianceReport> {
    ctx.require(TRAINING_VIEW)?;
    if member_id != ctx.user_id && !ctx.has(TRAINING_MANAGE) {
        return Err(AppError::forbidden_permission(TRAINING_MANAGE));
    }
    let as_of = match as_of {
        Some(d) => d,
        None => today_for(ctx),
    };
    let inputs = inputs(conn, ctx.org_id, Some(member_id), as_of).await?;
    let m = inputs.members.first().ok_or(AppError::NotFound)?;
    Ok(ComplianceReport {
        member_id: m.id,
        member_name: format!("{} {}", m.first_name, m.last_name),
        compliance: inputs.evaluate(m, as_of, ctx.locale),
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MatrixQuery {
    pub as_of: Option<NaiveDate>,
    /// green, yellow or red: only members of that colour.
    #[param(schema_with = matrix_status_schema)]
    pub status: Option<String>,
    /// Only members whose name contains this.
    pub q: Option<String>,
    /// Only this requirement's column.
    pub requirement_id: Option<Uuid>,
}

fn matrix_status_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["green", "yellow", "red"])
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatrixColumn {
    pub id: Uuid,
    pub name: String,
    pub requirement_type: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatrixCell {
    pub requirement_id: Uuid,
    /// completed, in_progress, not_started, expired; none when it does not apply.
    pub cell: String,
    pub percent: Option<f64>,
    /// Done against asked, e.g. "19 / 24 h" (none for a certification or where it does not
    /// apply).
    pub figures: Option<String>,
    /// For a requirement over a period not met yet: `behind` or `on_pace` for the time of year.
    pub pace: Option<&'static str>,
    pub explanation: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MatrixRow {
    pub member_id: Uuid,
    pub member_name: String,
    #[schema(schema_with = crate::members::rules::status_schema)]
    pub member_status: MemberStatus,
    pub status: Colour,
    pub reason: String,
    pub requirements_met: usize,
    pub requirements_total: usize,
    pub cells: Vec<MatrixCell>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Matrix {
    pub as_of: NaiveDate,
    pub requirements: Vec<MatrixColumn>,
    pub members: Vec<MatrixRow>,
    pub green: usize,
    pub yellow: usize,
    pub red: usize,
}

/// Members (active, probationary, on leave) × active requirements (`training.manage`).
pub async fn matrix(ctx: &Ctx, conn: &mut Conn, q: MatrixQuery) -> AppResult<Matrix> {
    ctx.require(TRAINING_MANAGE)?;
    let wanted = match q.status.as_deref() {
        None | Some("") => None,
        Some("green") => Some(Colour::Green),
        Some("yellow") => Some(Colour::Yellow),
        Some("red") => Some(Colour::Red),
        Some(_) => return Err(AppError::field("status", "must be green, yellow or red")),
    };
    let term = crate::input::optional_text("q", q.q, 100)?.map(|t| t.to_lowercase());
    let as_of = match q.as_of {
        Some(d) => d,
        None => today_for(ctx),
    };
    let inputs = inputs(conn, ctx.org_id, None, as_of).await?;
    if let Some(r) = q.requirement_id
        && !inputs.requirements.iter().any(|(x, _)| x.id == r)
    {
        return Err(AppError::field(
            "requirement_id",
            "is not an active requirement of this department",
        ));
    }
    let columns: Vec<MatrixColumn> = inputs
        .requirements
        .iter()
        .filter(|(r, _)| q.requirement_id.is_none_or(|id| id == r.id))
        .map(|(r, _)| MatrixColumn {
            id: r.id,
            name: r.name.clone(),
            requirement_type: r.requirement_type.clone(),
        })
        .collect();
    let mut rows = Vec::new();
    let (mut green, mut yellow, mut red) = (0, 0, 0);
    for m in &inputs.members {
        let name = format!("{} {}", m.first_name, m.last_name);
        if let Some(t) = &term
            && !name.to_lowercase().contains(t)
        {
            continue;
        }
        let c = inputs.evaluate(m, as_of, ctx.locale);
        match c.status {
            Colour::Green => green += 1,
            Colour::Yellow => yellow += 1,
            Colour::Red => red += 1,
        }
        if wanted.is_some_and(|w| w != c.status) {
            continue;
        }
        let cells = columns
            .iter()
            .map(
                |col| match c.requirements.iter().find(|r| r.requirement_id == col.id) {
                    Some(r) => MatrixCell {
                        requirement_id: col.id,
                        cell: if r.outcome == compliance::Outcome::Waived {
                            "waived".into()
                        } else {
                            r.outcome.cell().into()
                        },
                        percent: Some(r.percent),
                        figures: r.figures(),
                        pace: r.pace(c.as_of),
                        explanation: Some(r.explanation.clone()),
                    },
                    None => MatrixCell {
                        requirement_id: col.id,
                        cell: if c.exempt { "exempt" } else { "none" }.into(),
                        percent: None,
                        figures: None,
                        pace: None,
                        explanation: None,
                    },
                },
            )
            .collect();
        rows.push(MatrixRow {
            member_id: m.id,
            member_name: name,
            member_status: m.status,
            status: c.status,
            reason: c.reason,
            requirements_met: c.requirements_met,
            requirements_total: c.requirements_total,
            cells,
        });
    }
    Ok(Matrix {
        as_of,
        requirements: columns,
        members: rows,
        green,
        yellow,
        red,
    })
}
