//! The compliance engine: for one member, one date and the department's requirements, what each
//! requirement asks in its period, what is done, which records counted, what waivers and leaves
//! took off, and the result; and the member's overall colour with the reason in words. Pure: the
//! service loads the inputs, this decides (`reference/features.md` §1.3, "Compliance
//! computation", and the numbered rules that win over it).
//!
//! Decisions where the reference leaves room:
//! - The period is judged at `as_of` (the organization's today unless another date is asked):
//!   records after it do not count, and "expires within 90 days" looks 90 days past it.
//! - A certification requirement is not bound to the period: the valid certification decides.
//! - A one-time requirement is not pro-rated; it is waived when a waiver covers `as_of`.
//! - Shifts and calls count the member's records of training type `shift` / `call`.

use std::collections::BTreeSet;

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;
use uuid::Uuid;

/// Hours (and counts) are exact decimals: sums and pro-rating never drift.
pub type Hours = rust_decimal::Decimal;

fn whole(n: i64) -> Hours {
    Hours::from(n)
}

/// `base × num / den`, rounded half away from zero to two decimals (rule 10).
fn prorate(base: Hours, num: u32, den: u32) -> Hours {
    if den == 0 {
        return base;
    }
    (base * Hours::from(num) / Hours::from(den))
        .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

/// "24", "12.5": no trailing zeros.
pub fn show(h: Hours) -> String {
    h.normalize().to_string()
}

impl RequirementResult {
    /// Whether the member keeps up with the time of year, for a requirement of hours, shifts or
    /// calls over a period that is not met yet: done so far against the share of the period
    /// gone by `as_of` (its first day counted). `behind` or `on_pace`; none when it does not
    /// apply (met, a certification, courses, a one-time requirement).
    pub fn pace(&self, as_of: NaiveDate) -> Option<&'static str> {
        if self.outcome.is_met() || !matches!(self.kind, Kind::Hours | Kind::Shifts | Kind::Calls) {
            return None;
        }
        let (start, end) = (self.period_start?, self.period_end?);
        let total = (end - start).num_days() + 1;
        let gone = ((as_of.min(end) - start).num_days() + 1).clamp(0, total);
        if total <= 0 {
            return None;
        }
        let expected = self.adjusted_required * Hours::from(gone) / Hours::from(total);
        Some(if self.done < expected {
            "behind"
        } else {
            "on_pace"
        })
    }

    /// What was done against what is asked, in figures: "19 / 24 h", "2 / 3 courses" (none for
    /// a certification, which is held or not).
    pub fn figures(&self) -> Option<String> {
        if self.kind == Kind::Certification {
            return None;
        }
        let unit = match self.unit {
            "hours" => "h",
            other => other,
        };
        Some(format!(
            "{} / {} {unit}",
            show(self.done),
            show(self.adjusted_required)
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Hours,
    Courses,
    Certification,
    Shifts,
    Calls,
}

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "hours" => Kind::Hours,
            "courses" => Kind::Courses,
            "certification" => Kind::Certification,
            "shifts" => Kind::Shifts,
            "calls" => Kind::Calls,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// The calendar year of the date judged.
    Annual,
    Quarterly,
    Monthly,
    Rolling(u32),
    OneTime,
    /// No window: every record on file counts, and the valid certification decides.
    Biannual,
    /// A year of the department's own: from a start day (a fiscal year from July 1), to an end
    /// day within a year (by default the day before the next start), and/or one given year.
    Yearly(YearSpec),
}

/// An annual period other than this calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearSpec {
    /// Month and day it starts (1 January unless given).
    pub start: (u32, u32),
    /// Month and day it ends; None: the day before the next start.
    pub end: Option<(u32, u32)>,
    /// The one year it is for (the year it starts in); None: the year running at the date
    /// judged.
    pub year: Option<i32>,
}

/// `month`/`day` in `year`; 29 February is the 28th in a common year.
fn on(year: i32, (month, day): (u32, u32)) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, month, day).or_else(|| {
        (month == 2 && day == 29)
            .then(|| NaiveDate::from_ymd_opt(year, 2, 28))
            .flatten()
    })
}

/// "July 1".
pub fn month_day((month, day): (u32, u32)) -> String {
    NaiveDate::from_ymd_opt(2000, month, day)
        .map(|d| d.format("%B %-d").to_string())
        .unwrap_or_default()
}

impl YearSpec {
    /// The period's first and last day for the date judged `at`.
    fn bounds(self, at: NaiveDate) -> (NaiveDate, NaiveDate) {
        let begin = match self.year {
            Some(y) => on(y, self.start),
            None => on(at.year(), self.start)
                .filter(|b| *b <= at)
                .or_else(|| on(at.year() - 1, self.start)),
        }
        .unwrap_or(at);
        let end = self
            .end
            .and_then(|e| {
                on(begin.year(), e)
                    .filter(|d| *d >= begin)
                    .or_else(|| on(begin.year() + 1, e))
            })
            .or_else(|| {
                begin
                    .checked_add_months(Months::new(12))
                    .and_then(|d| d.pred_opt())
            })
            .unwrap_or(at);
        (begin, end)
    }

    /// The month-long slices from the first day, the last one cut at the period's end.
    fn slices(self, at: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
        let (begin, end) = self.bounds(at);
        (0..12)
            .map_while(|i| {
                let first = begin.checked_add_months(Months::new(i))?;
                (first <= end).then(|| {
                    let last = begin
                        .checked_add_months(Months::new(i + 1))
                        .and_then(|d| d.pred_opt())
                        .unwrap_or(end)
                        .min(end);
                    (first, last)
                })
            })
            .collect()
    }

    fn words(self) -> String {
        let from = (self.start != (1, 1) || self.end.is_some()).then(|| {
            match self.end {
                Some(e) => format!("{} to {}", month_day(self.start), month_day(e)),
                None => format!("from {}", month_day(self.start)),
            }
        });
        match (self.year, from) {
            (Some(y), None) => format!("in {y}"),
            (Some(y), Some(f)) => format!("in the year {f}, {y}"),
            (None, Some(f)) => format!("this year ({f})"),
            (None, None) => "this year".into(),
        }
    }
}

impl Period {
    pub fn parse(period: &str, rolling_months: Option<u32>) -> Option<Period> {
        Some(match (period, rolling_months) {
            ("annual", _) => Period::Annual,
            ("quarterly", _) => Period::Quarterly,
            ("monthly", _) => Period::Monthly,
            ("rolling", Some(n)) if (1..=120).contains(&n) => Period::Rolling(n),
            ("one_time", _) => Period::OneTime,
            ("biannual", _) => Period::Biannual,
            _ => return None,
        })
    }

    /// An annual period with a start, an end or a year of its own; any other as it is.
    pub fn shaped(
        self,
        year: Option<i32>,
        start: Option<(u32, u32)>,
        end: Option<(u32, u32)>,
    ) -> Period {
        match self {
            Period::Annual if year.is_some() || start.is_some() || end.is_some() => {
                Period::Yearly(YearSpec {
                    start: start.unwrap_or((1, 1)),
                    end,
                    year,
                })
            }
            other => other,
        }
    }

    /// Every record on file counts (no window).
    fn all_time(self) -> bool {
        matches!(self, Period::OneTime | Period::Biannual)
    }

    fn words(self) -> String {
        match self {
            Period::Annual => "this year".into(),
            Period::Quarterly => "this quarter".into(),
            Period::Monthly => "this month".into(),
            Period::Rolling(1) => "in the last month".into(),
            Period::Rolling(n) => format!("in the last {n} months"),
            Period::OneTime | Period::Biannual => "on record".into(),
            Period::Yearly(y) => y.words(),
        }
    }
}

/// A requirement as the engine needs it.
#[derive(Debug, Clone)]
pub struct Requirement {
    pub id: Uuid,
    pub name: String,
    pub kind: Kind,
    pub category_id: Option<Uuid>,
    /// Its category's name, for the words ("company training").
    pub category_name: Option<String>,
    pub training_type: Option<String>,
    pub required_hours: Hours,
    pub required_count: u32,
    pub course_ids: Vec<Uuid>,
    /// A certification's state or national registry code (rule 13).
    pub registry_code: Option<String>,
    pub period: Period,
    pub include_current_month: bool,
    /// Only a record completed within this many days before the date asked counts.
    pub recency_days: Option<u32>,
}

/// A completed record of the member (cancelled ones are not given to the engine).
#[derive(Debug, Clone)]
pub struct Record {
    pub id: Uuid,
    pub course_id: Option<Uuid>,
    pub category_id: Option<Uuid>,
    pub course_name: String,
    pub training_type: String,
    pub completion_date: NaiveDate,
    pub expiration_date: Option<NaiveDate>,
    pub hours: Hours,
    pub certification_number: Option<String>,
    /// The code of the record's course, when it has one.
    pub course_code: Option<String>,
}

/// A waiver (or a leave's waiver) of the member.
#[derive(Debug, Clone)]
pub struct Waiver {
    pub id: Uuid,
    pub start: NaiveDate,
    /// None: until further notice.
    pub end: Option<NaiveDate>,
    /// None: every requirement.
    pub requirement_ids: Option<Vec<Uuid>>,
    /// "leave", "medical", … for the words.
    pub kind: String,
}

impl Waiver {
    fn covers(&self, requirement: Uuid) -> bool {
        self.requirement_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&requirement))
    }

    fn end(&self) -> NaiveDate {
        self.end.unwrap_or(NaiveDate::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done (or nothing was required).
    Met,
    /// Every month of the period is waived.
    Waived,
    /// Met, but the certification expires within 90 days.
    Expiring,
    /// Some done, not enough yet.
    InProgress,
    NotStarted,
    /// The certification (or a required course's certification) has expired.
    Expired,
}

impl Outcome {
    pub fn is_met(self) -> bool {
        matches!(self, Outcome::Met | Outcome::Waived | Outcome::Expiring)
    }

    /// The matrix cell: completed, in_progress, not_started, expired.
    pub fn cell(self) -> &'static str {
        match self {
            Outcome::Met | Outcome::Waived | Outcome::Expiring => "completed",
            Outcome::InProgress => "in_progress",
            Outcome::NotStarted => "not_started",
            Outcome::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequirementResult {
    pub requirement_id: Uuid,
    pub name: String,
    pub kind: Kind,
    /// The period judged, first and last day (None for one-time and certification).
    pub period_start: Option<NaiveDate>,
    pub period_end: Option<NaiveDate>,
    /// The date records were counted to (rule 15): the date asked, or the last day of the
    /// month before when the current month is not counted (rule 8).
    pub judged_at: NaiveDate,
    /// What the requirement asks in a full period (hours, courses or records).
    #[schema(value_type = f64)]
    pub required: Hours,
    /// After pro-rating for waived months (two decimals).
    #[schema(value_type = f64)]
    pub adjusted_required: Hours,
    #[schema(value_type = f64)]
    pub done: Hours,
    pub unit: &'static str,
    pub months_in_period: u32,
    pub months_waived: u32,
    /// The waivers and leaves that took months off.
    pub waived_by: Vec<Uuid>,
    /// The records that counted.
    pub counted_records: Vec<Uuid>,
    /// The certification's expiry, for certification requirements.
    pub expires_on: Option<NaiveDate>,
    /// Courses still missing, for course requirements.
    pub missing_courses: Vec<Uuid>,
    pub outcome: Outcome,
    /// The percentage done, one decimal (100 when nothing is required).
    pub percent: f64,
    pub explanation: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberCompliance {
    pub as_of: NaiveDate,
    pub status: Colour,
    pub reason: String,
    pub exempt: bool,
    pub requirements_met: usize,
    pub requirements_total: usize,
    pub requirements: Vec<RequirementResult>,
}

/// Who a requirement applies to: everyone, members holding one of its roles, or members in one
/// of its tiers.
pub fn applies(
    applies_to: &str,
    requirement_roles: &[Uuid],
    requirement_tiers: &[Uuid],
    member_roles: &[Uuid],
    member_tier: Option<Uuid>,
) -> bool {
    match applies_to {
        "all" => true,
        "roles" => requirement_roles.iter().any(|r| member_roles.contains(r)),
        "tiers" => member_tier.is_some_and(|t| requirement_tiers.contains(&t)),
        _ => false,
    }
}

/// The expiry of a completion on `completed` of a course valid `months` months: the same day
/// that many months later, clamped to the month's end (rule 6).
pub fn expiry_from_course(completed: NaiveDate, months: Option<u32>) -> Option<NaiveDate> {
    months.and_then(|m| completed.checked_add_months(Months::new(m)))
}

/// The date the period is judged at: `as_of`, or the last day of the month before when the
/// current month is not counted (rule 8).
fn judged_at(as_of: NaiveDate, include_current_month: bool) -> NaiveDate {
    if include_current_month {
        as_of
    } else {
        first_of_month(as_of).pred_opt().unwrap_or(as_of)
    }
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn last_of_month(d: NaiveDate) -> NaiveDate {
    first_of_month(d)
        .checked_add_months(Months::new(1))
        .and_then(|n| n.pred_opt())
        .unwrap_or(d)
}

/// The period's first and last day (the whole period, also its part after `at`).
pub fn period_bounds(period: Period, at: NaiveDate) -> (NaiveDate, NaiveDate) {
    let year = at.year();
    match period {
        Period::Annual => (
            NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(at),
            NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(at),
        ),
        Period::Quarterly => {
            let first_month = (at.month0() / 3) * 3 + 1;
            let start = NaiveDate::from_ymd_opt(year, first_month, 1).unwrap_or(at);
            let end = start
                .checked_add_months(Months::new(3))
                .and_then(|d| d.pred_opt())
                .unwrap_or(at);
            (start, end)
        }
        Period::Monthly => (first_of_month(at), last_of_month(at)),
        // Rule 11: [at − n months, at], both days included.
        Period::Rolling(n) => (
            at.checked_sub_months(Months::new(n))
                .unwrap_or(NaiveDate::MIN),
            at,
        ),
        Period::OneTime | Period::Biannual => (NaiveDate::MIN, at),
        Period::Yearly(y) => y.bounds(at),
    }
}

/// The months of the period, each as (first day, last day), for pro-rating: calendar months,
/// except for a rolling window (rule 11), whose `n` month-long slices end at `at` (the last
/// slice ends at `at`, each earlier one a month before it), the first also holding the
/// window's first day.
fn months_of(period: Period, at: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let (count, first) = match period {
        Period::Annual => (12, NaiveDate::from_ymd_opt(at.year(), 1, 1)),
        Period::Quarterly => (3, Some(period_bounds(period, at).0)),
        Period::Monthly => (1, Some(first_of_month(at))),
        Period::Rolling(n) => {
            let before = |k: u32| at.checked_sub_months(Months::new(k));
            return (0..n)
                .rev()
                .filter_map(|k| {
                    // The slice ending k months before `at`.
                    let end = before(k)?;
                    let start = if k + 1 == n {
                        before(n)?
                    } else {
                        before(k + 1)?.succ_opt()?
                    };
                    Some((start, end))
                })
                .collect();
        }
        Period::OneTime | Period::Biannual => return Vec::new(),
        Period::Yearly(y) => return y.slices(at),
    };
    let Some(first) = first else {
        return Vec::new();
    };
    (0..count)
        .filter_map(|i| first.checked_add_months(Months::new(i)))
        .map(|m| (m, last_of_month(m)))
        .collect()
}

/// The months (of `months`) that the waivers cover for at least 15 days, counting each day once
/// however many waivers cover it, and the waivers that did.
fn waived_months(months: &[(NaiveDate, NaiveDate)], waivers: &[&Waiver]) -> (u32, BTreeSet<Uuid>) {
    let mut waived = 0;
    let mut by = BTreeSet::new();
    for &(first, last) in months {
        let mut days = 0;
        let mut day = first;
        let mut used = BTreeSet::new();
        while day <= last {
            let covering: Vec<&&Waiver> = waivers
                .iter()
                .filter(|w| w.start <= day && day <= w.end())
                .collect();
            if !covering.is_empty() {
                days += 1;
                used.extend(covering.iter().map(|w| w.id));
            }
            match day.succ_opt() {
                Some(d) => day = d,
                None => break,
            }
        }
        if days >= 15 {
            waived += 1;
            by.extend(used);
        }
    }
    (waived, by)
}

fn matches_filters(req: &Requirement, r: &Record) -> bool {
    req.category_id.is_none_or(|c| r.category_id == Some(c))
        && req
            .training_type
            .as_deref()
            .is_none_or(|t| r.training_type == t)
}

fn percent(done: Hours, required: Hours) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    if required <= Hours::ZERO {
        return 100.0;
    }
    let p = (done * Hours::from(100) / required)
        .min(Hours::from(100))
        .round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    p.to_f64().unwrap_or(0.0)
}

/// What "of company training" says after a number.
fn subject(req: &Requirement) -> String {
    match &req.category_name {
        Some(c) => format!(" of {}", c.to_lowercase()),
        None => match req.kind {
            Kind::Hours => " of training".into(),
            _ => String::new(),
        },
    }
}

fn waived_words(months: u32, total: u32, waivers: &[&Waiver], by: &BTreeSet<Uuid>) -> String {
    if months == 0 {
        return String::new();
    }
    let kinds: BTreeSet<&str> = waivers
        .iter()
        .filter(|w| by.contains(&w.id))
        .map(|w| w.kind.as_str())
        .collect();
    let why = kinds.into_iter().collect::<Vec<_>>().join(" and ");
    let plural = if months == 1 { "" } else { "s" };
    format!("; {months} of {total} month{plural} waived for {why}")
}

/// One requirement for one member at `as_of`, dates in the explanation written as ISO (the
/// engine's tests; the service passes the department's locale to `evaluate_in`).
#[cfg(test)]
pub fn evaluate(
    req: &Requirement,
    records: &[Record],
    waivers: &[Waiver],
    as_of: NaiveDate,
) -> RequirementResult {
    evaluate_in(req, records, waivers, as_of, crate::time::Locale::iso())
}

/// One requirement for one member at `as_of`, dates in the explanation written as `locale`
/// writes them.
pub fn evaluate_in(
    req: &Requirement,
    records: &[Record],
    waivers: &[Waiver],
    as_of: NaiveDate,
    locale: crate::time::Locale,
) -> RequirementResult {
    let at = judged_at(as_of, req.include_current_month);
    let applicable: Vec<&Waiver> = waivers.iter().filter(|w| w.covers(req.id)).collect();
    let mut result = RequirementResult {
        requirement_id: req.id,
        name: req.name.clone(),
        kind: req.kind,
        period_start: None,
        period_end: None,
        judged_at: at,
        required: Hours::default(),
        adjusted_required: Hours::default(),
        done: Hours::default(),
        unit: "hours",
        months_in_period: 0,
        months_waived: 0,
        waived_by: Vec::new(),
        counted_records: Vec::new(),
        expires_on: None,
        missing_courses: Vec::new(),
        outcome: Outcome::NotStarted,
        percent: 0.0,
        explanation: String::new(),
    };
    // Records after the date judged never count (rule 9); with a recency, nor those older
    // than that many days before the date asked (a record exactly that old counts).
    let recent_from = req
        .recency_days
        .and_then(|n| as_of.checked_sub_days(chrono::Days::new(u64::from(n))))
        .unwrap_or(NaiveDate::MIN);
    let usable: Vec<&Record> = records
        .iter()
        .filter(|r| r.completion_date <= at && r.completion_date >= recent_from)
        .collect();

    if req.kind == Kind::Certification {
        return certification(req, &usable, &applicable, as_of, at, result, locale);
    }

    let (start, end) = period_bounds(req.period, at);
    if !req.period.all_time() {
        result.period_start = Some(start);
        result.period_end = Some(end);
    }
    let months = months_of(req.period, at);
    let total = months.len() as u32;
    let (waived, by) = waived_months(&months, &applicable);
    result.months_in_period = total;
    result.months_waived = waived;
    result.waived_by = by.iter().copied().collect();
    let fully_waived = if req.period.all_time() {
        let covering: Vec<&&Waiver> = applicable
            .iter()
            .filter(|w| w.start <= at && at <= w.end())
            .collect();
        result.waived_by = covering.iter().map(|w| w.id).collect();
        !covering.is_empty()
    } else {
        total > 0 && waived == total
    };

    let in_window: Vec<&Record> = usable
        .iter()
        .copied()
        .filter(|r| r.completion_date >= start && r.completion_date <= end)
        .collect();

    match req.kind {
        Kind::Certification => {}
        Kind::Hours | Kind::Shifts | Kind::Calls => {
            let (base, unit, wanted_type) = match req.kind {
                Kind::Hours => (req.required_hours, "hours", None),
                Kind::Shifts => (whole(req.required_count as i64), "shifts", Some("shift")),
                _ => (whole(req.required_count as i64), "calls", Some("call")),
            };
            result.unit = unit;
            let counted: Vec<&Record> = in_window
                .iter()
                .copied()
                .filter(|r| matches_filters(req, r))
                .filter(|r| wanted_type.is_none_or(|t| r.training_type == t))
                .collect();
            let done = match req.kind {
                Kind::Hours => counted.iter().map(|r| r.hours).sum(),
                _ => whole(counted.len() as i64),
            };
            let adjusted = if req.period.all_time() || total == 0 {
                base
            } else {
                prorate(base, total - waived.min(total), total)
            };
            result.required = base;
            result.adjusted_required = if fully_waived {
                Hours::default()
            } else {
                adjusted
            };
            result.done = done;
            result.counted_records = counted.iter().map(|r| r.id).collect();
            // Biannual: the newest expiry among what counted has passed.
            let lapsed = req.period == Period::Biannual
                && counted
                    .iter()
                    .map(|r| r.expiration_date.unwrap_or(NaiveDate::MAX))
                    .max()
                    .is_some_and(|e| e < as_of);
            result.outcome = if fully_waived {
                Outcome::Waived
            } else if lapsed {
                Outcome::Expired
            } else if done >= adjusted {
                Outcome::Met
            } else if done > Hours::ZERO {
                Outcome::InProgress
            } else {
                Outcome::NotStarted
            };
            result.percent = if fully_waived {
                100.0
            } else {
                percent(done, adjusted)
            };
            let what = match req.kind {
                Kind::Hours => format!("{}{}", unit, subject(req)),
                _ => format!("{unit}{}", subject(req)),
            };
            result.explanation = if fully_waived {
                format!("Waived: {}", waiver_phrase(&applicable, &result.waived_by))
            } else if lapsed {
                format!("The {what} on record have expired")
            } else if adjusted != base {
                format!(
                    "{} of {} {what} {} (pro-rated from {}){}",
                    show(done),
                    show(adjusted),
                    req.period.words(),
                    show(base),
                    waived_words(waived, total, &applicable, &by)
                )
            } else {
                format!(
                    "{} of {} {what} {}",
                    show(done),
                    show(base),
                    req.period.words()
                )
            };
        }
        Kind::Courses => {
            result.unit = "courses";
            let mut missing = Vec::new();
            let mut expired = false;
            for course in &req.course_ids {
                let taken: Vec<&Record> = in_window
                    .iter()
                    .copied()
                    .filter(|r| r.course_id == Some(*course))
                    .collect();
                match taken
                    .iter()
                    .max_by_key(|r| r.expiration_date.unwrap_or(NaiveDate::MAX))
                {
                    None => missing.push(*course),
                    Some(best) => {
                        result.counted_records.push(best.id);
                        if best.expiration_date.is_some_and(|e| e < as_of) {
                            expired = true;
                            missing.push(*course);
                        }
                    }
                }
            }
            let total_courses = req.course_ids.len() as i64;
            let done = total_courses - missing.len() as i64;
            result.required = whole(total_courses);
            result.adjusted_required = if fully_waived {
                Hours::default()
            } else {
                result.required
            };
            result.done = whole(done);
            result.missing_courses = missing;
            result.outcome = if fully_waived {
                Outcome::Waived
            } else if result.missing_courses.is_empty() {
                Outcome::Met
            } else if expired {
                Outcome::Expired
            } else if done > 0 {
                Outcome::InProgress
            } else {
                Outcome::NotStarted
            };
            result.percent = if fully_waived {
                100.0
            } else {
                percent(result.done, result.required)
            };
            result.explanation = if fully_waived {
                format!("Waived: {}", waiver_phrase(&applicable, &result.waived_by))
            } else if total_courses == 0 {
                "No course is required".into()
            } else {
                format!(
                    "{done} of {total_courses} required courses completed {}{}",
                    req.period.words(),
                    if expired {
                        "; a completion has expired"
                    } else {
                        ""
                    }
                )
            };
        }
    }
    result
}

fn waiver_phrase(waivers: &[&Waiver], by: &[Uuid]) -> String {
    let kinds: BTreeSet<&str> = waivers
        .iter()
        .filter(|w| by.contains(&w.id))
        .map(|w| w.kind.as_str())
        .collect();
    if kinds.is_empty() {
        "the whole period is waived".into()
    } else {
        format!(
            "the whole period is covered by {}",
            kinds.into_iter().collect::<Vec<_>>().join(" and ")
        )
    }
}

/// How a record meets a certification requirement (rule 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Matched {
    /// Its course is one of the requirement's.
    Course,
    /// Its course's code is the requirement's registry code.
    CourseCode,
    /// Its certification number holds the registry code.
    CertificateNumber,
    /// The requirement names no course and no code, and its name is in the course name.
    Name,
    /// The requirement names no course and no code but a category or training type: a
    /// certification record of that kind.
    Category,
}

/// Whether `r` meets the certification requirement `req`, and how (rule 13): through the
/// requirement's courses; through its registry code, as the course's code or inside the
/// certification number (letters in any case); or, only when it names no course and no code,
/// by its name inside the record's course name, or as a certification record of the category
/// or training type it names.
fn certifies(req: &Requirement, r: &Record) -> Option<Matched> {
    if r.course_id.is_some_and(|c| req.course_ids.contains(&c)) {
        return Some(Matched::Course);
    }
    let code = req
        .registry_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_lowercase);
    if let Some(code) = &code {
        if r
            .course_code
            .as_deref()
            .is_some_and(|c| c.trim().to_lowercase() == *code)
        {
            return Some(Matched::CourseCode);
        }
        if r
            .certification_number
            .as_deref()
            .is_some_and(|n| n.to_lowercase().contains(code.as_str()))
        {
            return Some(Matched::CertificateNumber);
        }
        return None;
    }
    if !req.course_ids.is_empty() {
        return None;
    }
    let name = req.name.trim().to_lowercase();
    if !name.is_empty() && r.course_name.to_lowercase().contains(&name) {
        return Some(Matched::Name);
    }
    let filtered = req.category_id.is_some() || req.training_type.is_some();
    (filtered && r.training_type == "certification" && matches_filters(req, r))
        .then_some(Matched::Category)
}

fn certification(
    req: &Requirement,
    usable: &[&Record],
    waivers: &[&Waiver],
    as_of: NaiveDate,
    at: NaiveDate,
    mut result: RequirementResult,
    locale: crate::time::Locale,
) -> RequirementResult {
    result.unit = "certifications";
    result.required = whole(1);
    result.adjusted_required = whole(1);
    let matching: Vec<(&Record, Matched)> = usable
        .iter()
        .copied()
        .filter_map(|r| certifies(req, r).map(|how| (r, how)))
        .collect();
    let covering: Vec<&&Waiver> = waivers
        .iter()
        .filter(|w| w.start <= at && at <= w.end())
        .collect();
    // The latest expiry decides (rule 4); one that never expires beats any date.
    let best = matching.iter().max_by_key(|(r, _)| {
        (
            r.expiration_date.unwrap_or(NaiveDate::MAX),
            r.completion_date,
        )
    });
    let Some(best) = best else {
        if !covering.is_empty() {
            result.waived_by = covering.iter().map(|w| w.id).collect();
            result.adjusted_required = Hours::default();
            result.outcome = Outcome::Waived;
            result.percent = 100.0;
            result.explanation = format!("Waived: {}", waiver_phrase(waivers, &result.waived_by));
            return result;
        }
        result.outcome = Outcome::NotStarted;
        result.explanation = format!("No {} on record", req.name);
        return result;
    };
    let (best, how) = (best.0, best.1);
    // How a record without the requirement's course was taken for it, after its words.
    let how = match how {
        Matched::Course => String::new(),
        Matched::CourseCode => format!(" (course code {} is the registry code)", best.course_code.as_deref().unwrap_or_default()),
        Matched::CertificateNumber => format!(
            " (certificate {} matched by registry code)",
            best.certification_number.as_deref().unwrap_or_default()
        ),
        Matched::Name => " (matched by name)".into(),
        Matched::Category => String::new(),
    };
    result.counted_records = vec![best.id];
    result.expires_on = best.expiration_date;
    result.done = whole(1);
    result.percent = 100.0;
    // Valid through its expiry date (rule 3).
    match best.expiration_date {
        Some(e) if e < as_of => {
            result.outcome = Outcome::Expired;
            result.done = Hours::default();
            result.percent = 0.0;
            result.explanation =
                format!("{} expired on {}{how}", best.course_name, locale.day(e));
        }
        Some(e) if (e - as_of).num_days() <= 90 => {
            let days = (e - as_of).num_days();
            result.outcome = Outcome::Expiring;
            result.explanation = format!(
                "{} expires on {}, in {days} day{}{how}",
                best.course_name,
                locale.day(e),
                if days == 1 { "" } else { "s" }
            );
        }
        Some(e) => {
            result.outcome = Outcome::Met;
            result.explanation =
                format!("{} valid until {}{how}", best.course_name, locale.day(e));
        }
        None => {
            result.outcome = Outcome::Met;
            result.explanation = format!("{} (does not expire){how}", best.course_name);
        }
    }
    result
}

/// Every applicable requirement for one member, and the overall colour (rule 2): red if a
/// required certification has expired or fewer than half are met; yellow if a certification
/// expires within 90 days or some requirement is not met yet; green otherwise.
pub fn member(
    requirements: &[Requirement],
    records: &[Record],
    waivers: &[Waiver],
    as_of: NaiveDate,
    exempt: Option<&str>,
    locale: crate::time::Locale,
) -> MemberCompliance {
    if let Some(why) = exempt {
        return MemberCompliance {
            as_of,
            status: Colour::Green,
            reason: format!("Exempt from training requirements ({why})"),
            exempt: true,
            requirements_met: 0,
            requirements_total: 0,
            requirements: Vec::new(),
        };
    }
    let results: Vec<RequirementResult> = requirements
        .iter()
        .map(|r| evaluate_in(r, records, waivers, as_of, locale))
        .collect();
    let total = results.len();
    let met = results.iter().filter(|r| r.outcome.is_met()).count();
    let expired: Vec<&RequirementResult> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Expired)
        .collect();
    let expiring: Vec<&RequirementResult> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Expiring)
        .collect();
    let unmet: Vec<&RequirementResult> = results.iter().filter(|r| !r.outcome.is_met()).collect();
    let status = if !expired.is_empty() || met * 2 < total {
        Colour::Red
    } else if !expiring.is_empty() || met < total {
        Colour::Yellow
    } else {
        Colour::Green
    };
    let reason = if total == 0 {
        "No training requirement applies".to_string()
    } else if unmet.is_empty() && expiring.is_empty() {
        format!(
            "All {total} requirement{} met",
            if total == 1 { "" } else { "s" }
        )
    } else {
        let mut parts: Vec<String> = Vec::new();
        for r in expired
            .iter()
            .chain(unmet.iter().filter(|r| r.outcome != Outcome::Expired))
        {
            parts.push(r.explanation.clone());
        }
        for r in &expiring {
            parts.push(r.explanation.clone());
        }
        format!("{met} of {total} requirements met: {}", parts.join("; "))
    };
    MemberCompliance {
        as_of,
        status,
        reason,
        exempt: false,
        requirements_met: met,
        requirements_total: total,
        requirements: results,
    }
}

#[cfg(test)]
mod tests;
