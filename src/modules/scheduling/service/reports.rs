//! Scheduling's reports for officers: hours on shift per member, and each month's coverage
//! (shifts, fully staffed, open, cancelled), as JSON or CSV. A closed-out shift counts those
//! who were there; one not yet closed out counts who holds its seats.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{SCHEDULING_MANAGE, seats_from};
use crate::auth::Ctx;
use crate::db::Conn;
use crate::error::AppResult;
use crate::input::Checks;
use crate::modules::scheduling::rules;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day (the department's); default January 1 of this year.
    pub from: Option<NaiveDate>,
    /// Last day; default today. At most about two years after `from`.
    pub to: Option<NaiveDate>,
    /// json (default) or csv.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

/// The range asked for, checked.
pub fn range(ctx: &Ctx, q: &ReportQuery) -> AppResult<(NaiveDate, NaiveDate)> {
    let today = crate::time::today(&ctx.timezone);
    let from = q
        .from
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today));
    let to = q.to.unwrap_or(today);
    let mut c = Checks::default();
    rules::check_year("from", from, &mut c);
    rules::check_year("to", to, &mut c);
    if to < from {
        c.push("to", "must be on or after from");
    } else if (to - from).num_days() > 800 {
        c.push("to", "must be within about two years of from");
    }
    c.finish()?;
    Ok((from, to))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MemberHours {
    pub user_id: Uuid,
    pub member: String,
    pub shifts: i64,
    #[schema(value_type = f64)]
    pub hours: Decimal,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HoursReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub members: Vec<MemberHours>,
}

pub async fn hours(ctx: &Ctx, conn: &mut Conn, from: NaiveDate, to: NaiveDate) -> AppResult<HoursReport> {
    ctx.require(SCHEDULING_MANAGE)?;
    let members: Vec<MemberHours> = sqlx::query_as(
        "SELECT u.id AS user_id, CONCAT(u.first_name, ' ', u.last_name) AS member,
                COUNT(*) AS shifts,
                CAST(ROUND(SUM(TIMESTAMPDIFF(MINUTE, s.starts_at, s.ends_at)) / 60, 2)
                     AS DECIMAL(10, 2)) AS hours
           FROM shift_assignments sa
           JOIN shifts s ON s.organization_id = sa.organization_id AND s.id = sa.shift_id
           JOIN users u ON u.organization_id = sa.organization_id AND u.id = sa.user_id
          WHERE sa.organization_id = ? AND s.status = 'scheduled'
            AND s.shift_date BETWEEN ? AND ?
            AND ((s.finalized_at IS NOT NULL AND sa.attended)
              OR (s.finalized_at IS NULL AND sa.status IN ('assigned', 'pending', 'confirmed')))
          GROUP BY u.id, u.first_name, u.last_name
          ORDER BY hours DESC, u.last_name, u.first_name",
    )
    .bind(ctx.org_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    Ok(HoursReport { from, to, members })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonthCoverage {
    /// "2027-01".
    pub month: String,
    pub shifts: u32,
    /// Every required seat held and at least the fewest on duty.
    pub staffed: u32,
    pub open: u32,
    pub cancelled: u32,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CoverageReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub months: Vec<MonthCoverage>,
}

pub async fn coverage(ctx: &Ctx, conn: &mut Conn, from: NaiveDate, to: NaiveDate) -> AppResult<CoverageReport> {
    ctx.require(SCHEDULING_MANAGE)?;
    let shifts: Vec<(Uuid, NaiveDate, String, u8, bool, bool)> = sqlx::query_as(
        "SELECT id, shift_date, positions, min_staffing, status = 'cancelled',
                finalized_at IS NOT NULL
           FROM shifts WHERE organization_id = ? AND shift_date BETWEEN ? AND ?",
    )
    .bind(ctx.org_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    // Seats held: live, or (closed out) attended.
    let held: Vec<(Uuid, u8)> = sqlx::query_as(
        "SELECT sa.shift_id, sa.seat FROM shift_assignments sa
           JOIN shifts s ON s.organization_id = sa.organization_id AND s.id = sa.shift_id
          WHERE sa.organization_id = ? AND s.shift_date BETWEEN ? AND ?
            AND ((s.finalized_at IS NOT NULL AND sa.attended)
              OR (s.finalized_at IS NULL AND sa.status IN ('assigned', 'pending', 'confirmed')))",
    )
    .bind(ctx.org_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_shift: BTreeMap<Uuid, Vec<u8>> = BTreeMap::new();
    for (shift, seat) in held {
        by_shift.entry(shift).or_default().push(seat);
    }
    let mut months: BTreeMap<String, MonthCoverage> = BTreeMap::new();
    let mut d = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).unwrap_or(from);
    while d <= to {
        let key = d.format("%Y-%m").to_string();
        months.insert(
            key.clone(),
            MonthCoverage {
                month: key,
                shifts: 0,
                staffed: 0,
                open: 0,
                cancelled: 0,
            },
        );
        d = d.checked_add_months(chrono::Months::new(1)).unwrap_or(to + chrono::Duration::days(1));
    }
    for (id, day, positions, min, cancelled, _) in shifts {
        let Some(m) = months.get_mut(&day.format("%Y-%m").to_string()) else {
            continue;
        };
        m.shifts += 1;
        if cancelled {
            m.cancelled += 1;
            continue;
        }
        let seats = seats_from(&positions);
        let held = by_shift.get(&id).cloned().unwrap_or_default();
        if rules::staffing(&seats, &held, u32::from(min)).open {
            m.open += 1;
        } else {
            m.staffed += 1;
        }
    }
    Ok(CoverageReport {
        from,
        to,
        months: months.into_values().collect(),
    })
}

fn write(rows: Vec<Vec<String>>) -> AppResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    for row in rows {
        out.write_record(row.iter().map(|c| crate::csv::spreadsheet_safe(c)))
            .map_err(anyhow::Error::new)?;
    }
    let bytes = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(String::from_utf8(bytes).map_err(anyhow::Error::new)?)
}

pub fn hours_csv(r: &HoursReport) -> AppResult<String> {
    let mut rows = vec![vec!["member".into(), "shifts".into(), "hours".into()]];
    rows.extend(
        r.members
            .iter()
            .map(|m| vec![m.member.clone(), m.shifts.to_string(), m.hours.to_string()]),
    );
    write(rows)
}

pub fn coverage_csv(r: &CoverageReport) -> AppResult<String> {
    let mut rows = vec![vec![
        "month".into(),
        "shifts".into(),
        "staffed".into(),
        "open".into(),
        "cancelled".into(),
    ]];
    rows.extend(r.months.iter().map(|m| {
        vec![
            m.month.clone(),
            m.shifts.to_string(),
            m.staffed.to_string(),
            m.open.to_string(),
            m.cancelled.to_string(),
        ]
    }));
    write(rows)
}
