//! Training rules that need no database: the inputs of courses, records and requirements
//! checked field by field (every problem reported at once).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use super::compliance::{Kind, Period};
use crate::error::{AppError, AppResult};
use crate::input::{Checks, optional_paragraphs, optional_text, required_text};

pub const TRAINING_TYPES: &[&str] = &[
    "certification",
    "continuing_education",
    "skills_practice",
    "orientation",
    "refresher",
    "specialty",
    "drill",
    "shift",
    "call",
];

pub const REQUIREMENT_TYPES: &[&str] = &["hours", "courses", "certification", "shifts", "calls"];
pub const PERIODS: &[&str] = &[
    "annual",
    "quarterly",
    "monthly",
    "rolling",
    "one_time",
    "biannual",
];
pub const APPLIES_TO: &[&str] = &["all", "roles", "tiers"];

pub fn training_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(TRAINING_TYPES)
}
pub fn requirement_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(REQUIREMENT_TYPES)
}
pub fn period_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(PERIODS)
}
pub fn applies_to_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(APPLIES_TO)
}

/// The most members one crew entry records at once.
pub const MAX_CREW: usize = 100;

fn training_type(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim();
    if TRAINING_TYPES.contains(&v) {
        Ok(v.to_string())
    } else {
        Err(AppError::field(
            field,
            format!("must be one of {}", TRAINING_TYPES.join(", ")),
        ))
    }
}

/// Hours: 0 to `max`, at most two decimals.
pub fn hours(field: &str, value: Decimal, max: u32) -> AppResult<Decimal> {
    if value.is_sign_negative() {
        return Err(AppError::field(field, "must not be negative"));
    }
    if value > Decimal::from(max) {
        return Err(AppError::field(field, format!("must be at most {max}")));
    }
    if value.normalize().scale() > 2 {
        return Err(AppError::field(field, "must have at most two decimals"));
    }
    Ok(value.round_dp(2))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CourseInput {
    #[schema(max_length = 200)]
    pub name: String,
    #[schema(max_length = 32)]
    pub code: Option<String>,
    pub category_id: Option<Uuid>,
    #[schema(schema_with = crate::modules::training::rules::training_type_schema)]
    pub training_type: String,
    pub description: Option<String>,
    #[schema(value_type = f64)]
    pub duration_hours: Decimal,
    /// A completion stays valid this many months (none: it does not expire).
    #[schema(minimum = 1, maximum = 600)]
    pub expiration_months: Option<u32>,
    #[schema(max_length = 200)]
    pub issuing_agency: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug)]
pub struct ValidCourse {
    pub name: String,
    pub code: Option<String>,
    pub category_id: Option<Uuid>,
    pub training_type: String,
    pub description: Option<String>,
    pub duration_hours: Decimal,
    pub expiration_months: Option<u32>,
    pub issuing_agency: Option<String>,
    pub active: bool,
}

impl CourseInput {
    pub fn validate(self) -> AppResult<ValidCourse> {
        let mut c = Checks::default();
        let name = c.take(required_text("name", &self.name, 200));
        let code = c.take(optional_text("code", self.code, 32)).flatten();
        let training_type = c.take(training_type("training_type", &self.training_type));
        let description = c
            .take(optional_paragraphs("description", self.description, 5000))
            .flatten();
        let duration_hours = c.take(hours("duration_hours", self.duration_hours, 1000));
        if let Some(m) = self.expiration_months
            && !(1..=600).contains(&m)
        {
            c.push("expiration_months", "must be between 1 and 600");
        }
        let issuing_agency = c
            .take(optional_text("issuing_agency", self.issuing_agency, 200))
            .flatten();
        if !c.is_empty() {
            return Err(AppError::Validation(c.into_errors()));
        }
        Ok(ValidCourse {
            name: name.unwrap_or_default(),
            code,
            category_id: self.category_id,
            training_type: training_type.unwrap_or_default(),
            description,
            duration_hours: duration_hours.unwrap_or_default(),
            expiration_months: self.expiration_months,
            issuing_agency,
            active: self.active,
        })
    }
}

/// A completion for one member, or for a whole crew at once (`user_ids`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordInput {
    pub user_ids: Vec<Uuid>,
    /// The course taken; its name, category, type, hours and validity fill what is not given.
    pub course_id: Option<Uuid>,
    /// Required without a course.
    #[schema(max_length = 200)]
    pub course_name: Option<String>,
    pub category_id: Option<Uuid>,
    #[schema(schema_with = crate::modules::training::rules::training_type_schema)]
    pub training_type: Option<String>,
    pub completion_date: NaiveDate,
    #[schema(value_type = Option<f64>)]
    pub hours: Option<Decimal>,
    /// Computed from the course's validity when absent.
    pub expiration_date: Option<NaiveDate>,
    #[schema(max_length = 64)]
    pub certification_number: Option<String>,
    #[schema(max_length = 200)]
    pub issuing_agency: Option<String>,
    #[schema(max_length = 200)]
    pub instructor: Option<String>,
    pub location_id: Option<Uuid>,
    #[schema(max_length = 5000)]
    pub notes: Option<String>,
    /// Copied from the member when absent.
    #[schema(max_length = 64)]
    pub rank_at_completion: Option<String>,
    #[schema(max_length = 100)]
    pub station_at_completion: Option<String>,
}

/// What a record input says once checked, before the course fills the gaps.
#[derive(Debug)]
pub struct ValidRecord {
    pub user_ids: Vec<Uuid>,
    pub course_id: Option<Uuid>,
    pub course_name: Option<String>,
    pub category_id: Option<Uuid>,
    pub training_type: Option<String>,
    pub completion_date: NaiveDate,
    pub hours: Option<Decimal>,
    pub expiration_date: Option<NaiveDate>,
    pub certification_number: Option<String>,
    pub issuing_agency: Option<String>,
    pub instructor: Option<String>,
    pub location_id: Option<Uuid>,
    pub notes: Option<String>,
    pub rank_at_completion: Option<String>,
    pub station_at_completion: Option<String>,
}

impl RecordInput {
    /// `today` is the department's date: a completion after it is refused (rule 9).
    pub fn validate(self, today: NaiveDate) -> AppResult<ValidRecord> {
        let mut c = Checks::default();
        let mut seen = std::collections::HashSet::new();
        if self.user_ids.is_empty() {
            c.push("user_ids", "must name at least one member");
        } else if self.user_ids.len() > MAX_CREW {
            c.push(
                "user_ids",
                format!("must name at most {MAX_CREW} members at once"),
            );
        } else if !self.user_ids.iter().all(|u| seen.insert(*u)) {
            c.push("user_ids", "must not name a member twice");
        }
        let course_name = c
            .take(optional_text("course_name", self.course_name, 200))
            .flatten();
        if self.course_id.is_none() && course_name.is_none() {
            c.push("course_name", "is required when no course is chosen");
        }
        let training_type = match self.training_type {
            Some(t) if !t.trim().is_empty() => c.take(training_type("training_type", &t)),
            _ => None,
        };
        if self.completion_date > today {
            c.push(
                "completion_date",
                format!("must not be in the future (today is {today})"),
            );
        }
        let hours = match self.hours {
            Some(h) => c.take(hours("hours", h, 1000)),
            None => None,
        };
        if self.course_id.is_none() && self.hours.is_none() {
            c.push("hours", "is required when no course is chosen");
        }
        if let Some(e) = self.expiration_date
            && e < self.completion_date
        {
            c.push("expiration_date", "must not be before the completion date");
        }
        let certification_number = c
            .take(optional_text(
                "certification_number",
                self.certification_number,
                64,
            ))
            .flatten();
        let issuing_agency = c
            .take(optional_text("issuing_agency", self.issuing_agency, 200))
            .flatten();
        let instructor = c
            .take(optional_text("instructor", self.instructor, 200))
            .flatten();
        let notes = c
            .take(optional_paragraphs("notes", self.notes, 5000))
            .flatten();
        let rank = c
            .take(optional_text(
                "rank_at_completion",
                self.rank_at_completion,
                64,
            ))
            .flatten();
        let station = c
            .take(optional_text(
                "station_at_completion",
                self.station_at_completion,
                100,
            ))
            .flatten();
        if !c.is_empty() {
            return Err(AppError::Validation(c.into_errors()));
        }
        Ok(ValidRecord {
            user_ids: self.user_ids,
            course_id: self.course_id,
            course_name,
            category_id: self.category_id,
            training_type,
            completion_date: self.completion_date,
            hours,
            expiration_date: self.expiration_date,
            certification_number,
            issuing_agency,
            instructor,
            location_id: self.location_id,
            notes,
            rank_at_completion: rank,
            station_at_completion: station,
        })
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequirementInput {
    #[schema(max_length = 200)]
    pub name: String,
    pub description: Option<String>,
    /// hours, courses, certification, shifts or calls.
    #[schema(schema_with = crate::modules::training::rules::requirement_type_schema)]
    pub requirement_type: String,
    /// Only records of this category count.
    pub category_id: Option<Uuid>,
    /// Only records of this training type count.
    #[schema(schema_with = crate::modules::training::rules::training_type_schema)]
    pub training_type: Option<String>,
    #[schema(value_type = Option<f64>)]
    pub required_hours: Option<Decimal>,
    /// shifts / calls: how many.
    pub required_count: Option<u32>,
    /// courses / certification: the courses that satisfy it.
    #[serde(default)]
    pub course_ids: Vec<Uuid>,
    /// certification: the state or national registry code it stands for; a record meets it
    /// when its course's code is this code or its certification number holds it.
    #[schema(max_length = 64)]
    pub registry_code: Option<String>,
    /// annual, quarterly, monthly, rolling, one_time or biannual (no window: the valid
    /// certification decides).
    #[schema(schema_with = crate::modules::training::rules::period_schema)]
    pub period: String,
    pub rolling_months: Option<u32>,
    /// annual: the one year it is for (2000–2100).
    pub year: Option<i32>,
    /// annual: the month and day the year starts (a fiscal year from July 1: 7 and 1).
    pub period_start_month: Option<u32>,
    pub period_start_day: Option<u32>,
    /// annual: the month and day it ends (default: the day before the next start).
    pub period_end_month: Option<u32>,
    pub period_end_day: Option<u32>,
    /// Only a record completed within this many days before the date judged counts (1–3650).
    pub recency_days: Option<u32>,
    /// None: the department's default.
    pub include_current_month: Option<bool>,
    /// all, roles or tiers.
    #[serde(default = "everyone")]
    #[schema(schema_with = crate::modules::training::rules::applies_to_schema)]
    pub applies_to: String,
    #[serde(default)]
    pub role_ids: Vec<Uuid>,
    #[serde(default)]
    pub tier_ids: Vec<Uuid>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn everyone() -> String {
    "all".into()
}

#[derive(Debug)]
pub struct ValidRequirement {
    pub name: String,
    pub description: Option<String>,
    pub kind: Kind,
    pub requirement_type: String,
    pub category_id: Option<Uuid>,
    pub training_type: Option<String>,
    pub required_hours: Option<Decimal>,
    pub required_count: Option<u32>,
    pub course_ids: Vec<Uuid>,
    pub registry_code: Option<String>,
    pub period: String,
    pub rolling_months: Option<u32>,
    pub year: Option<i32>,
    pub period_start: Option<(u32, u32)>,
    pub period_end: Option<(u32, u32)>,
    pub recency_days: Option<u32>,
    pub include_current_month: Option<bool>,
    pub applies_to: String,
    pub role_ids: Vec<Uuid>,
    pub tier_ids: Vec<Uuid>,
    pub active: bool,
}

impl RequirementInput {
    pub fn validate(self) -> AppResult<ValidRequirement> {
        let mut c = Checks::default();
        let name = c.take(required_text("name", &self.name, 200));
        let description = c
            .take(optional_text("description", self.description, 5000))
            .flatten();
        let kind = Kind::parse(self.requirement_type.trim());
        if kind.is_none() {
            c.push(
                "requirement_type",
                "must be one of hours, courses, certification, shifts, calls",
            );
        }
        let training_type = match self.training_type {
            Some(t) if !t.trim().is_empty() => c.take(training_type("training_type", &t)),
            _ => None,
        };
        let registry_code = c
            .take(optional_text("registry_code", self.registry_code, 64))
            .flatten();
        if registry_code.is_some() && kind.is_some_and(|k| k != Kind::Certification) {
            c.push(
                "registry_code",
                "is for a certification requirement only",
            );
        }
        let period = self.period.trim().to_string();
        if Period::parse(&period, self.rolling_months).is_none() {
            if period == "rolling" {
                c.push(
                    "rolling_months",
                    "must be between 1 and 120 for a rolling period",
                );
            } else {
                c.push(
                    "period",
                    "must be one of annual, quarterly, monthly, rolling, one_time, biannual",
                );
            }
        }
        let rolling_months = (period == "rolling")
            .then_some(self.rolling_months)
            .flatten();
        // A year of the department's own: only for an annual period.
        let annual = period == "annual";
        let mut day_of = |month_field: &str, day_field: &str, month: Option<u32>, day: Option<u32>| {
            match (month, day) {
                (None, None) => None,
                _ if !annual => {
                    c.push(month_field, "is for an annual period only");
                    None
                }
                (Some(_), None) => {
                    c.push(day_field, "is required with the month");
                    None
                }
                (None, Some(_)) => {
                    c.push(month_field, "is required with the day");
                    None
                }
                (Some(m), Some(_)) if !(1..=12).contains(&m) => {
                    c.push(month_field, "must be between 1 and 12");
                    None
                }
                // Checked against a leap year: 29 February is the 28th in a common one.
                (Some(m), Some(d)) if NaiveDate::from_ymd_opt(2000, m, d).is_none() => {
                    c.push(day_field, "is not a day of that month");
                    None
                }
                (Some(m), Some(d)) => Some((m, d)),
            }
        };
        let period_start = day_of(
            "period_start_month",
            "period_start_day",
            self.period_start_month,
            self.period_start_day,
        );
        let period_end = day_of(
            "period_end_month",
            "period_end_day",
            self.period_end_month,
            self.period_end_day,
        );
        let year = match self.year {
            None => None,
            Some(_) if !annual => {
                c.push("year", "is for an annual period only");
                None
            }
            Some(y) if !(2000..=2100).contains(&y) => {
                c.push("year", "must be between 2000 and 2100");
                None
            }
            Some(y) => Some(y),
        };
        let recency_days = match self.recency_days {
            Some(n) if !(1..=3650).contains(&n) => {
                c.push("recency_days", "must be between 1 and 3650");
                None
            }
            n => n,
        };
        let mut required_hours = None;
        let mut required_count = None;
        match kind {
            Some(Kind::Hours) => match self.required_hours {
                None => c.push("required_hours", "is required for an hours requirement"),
                Some(h) => required_hours = c.take(hours("required_hours", h, 10000)),
            },
            Some(Kind::Shifts | Kind::Calls) => match self.required_count {
                None => c.push(
                    "required_count",
                    "is required for a shifts or calls requirement",
                ),
                Some(n) if n > 10000 => c.push("required_count", "must be at most 10000"),
                Some(n) => required_count = Some(n),
            },
            Some(Kind::Courses) if self.course_ids.is_empty() => {
                c.push("course_ids", "must name at least one course")
            }
            Some(Kind::Courses | Kind::Certification) => {}
            None => {}
        }
        let applies_to = self.applies_to.trim().to_string();
        match applies_to.as_str() {
            "all" => {}
            "roles" if self.role_ids.is_empty() => {
                c.push("role_ids", "must name at least one role")
            }
            "tiers" if self.tier_ids.is_empty() => {
                c.push("tier_ids", "must name at least one membership tier")
            }
            "roles" | "tiers" => {}
            _ => c.push("applies_to", "must be one of all, roles, tiers"),
        }
        if !c.is_empty() {
            return Err(AppError::Validation(c.into_errors()));
        }
        let kind = kind.unwrap_or(Kind::Hours);
        Ok(ValidRequirement {
            name: name.unwrap_or_default(),
            description,
            kind,
            requirement_type: self.requirement_type.trim().to_string(),
            category_id: self.category_id,
            training_type,
            required_hours,
            required_count,
            course_ids: dedup(self.course_ids),
            registry_code,
            period,
            rolling_months,
            year,
            period_start,
            period_end,
            recency_days,
            include_current_month: self.include_current_month,
            role_ids: if applies_to == "roles" {
                dedup(self.role_ids)
            } else {
                Vec::new()
            },
            tier_ids: if applies_to == "tiers" {
                dedup(self.tier_ids)
            } else {
                Vec::new()
            },
            applies_to,
            active: self.active,
        })
    }
}

fn dedup(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|i| seen.insert(*i));
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn fields(err: AppError) -> Vec<String> {
        match err {
            AppError::Validation(e) => e.into_iter().map(|e| e.field).collect(),
            other => panic!("{other:?}"),
        }
    }

    fn record() -> RecordInput {
        RecordInput {
            user_ids: vec![Uuid::from_u128(1)],
            course_id: None,
            course_name: Some("Hose drill".into()),
            category_id: None,
            training_type: Some("drill".into()),
            completion_date: d("2026-11-30"),
            hours: Some("2.5".parse().unwrap()),
            expiration_date: None,
            certification_number: None,
            issuing_agency: None,
            instructor: None,
            location_id: None,
            notes: None,
            rank_at_completion: None,
            station_at_completion: None,
        }
    }

    #[test]
    fn a_record_is_checked_field_by_field() {
        let today = d("2026-12-01");
        assert!(record().validate(today).is_ok());
        let bad = RecordInput {
            user_ids: vec![],
            course_name: None,
            training_type: Some("nap".into()),
            completion_date: d("2026-12-02"),
            hours: Some("-1".parse().unwrap()),
            ..record()
        };
        assert_eq!(
            fields(bad.validate(today).unwrap_err()),
            [
                "user_ids",
                "course_name",
                "training_type",
                "completion_date",
                "hours"
            ]
        );
        let twice = RecordInput {
            user_ids: vec![Uuid::from_u128(1), Uuid::from_u128(1)],
            hours: Some("1.234".parse().unwrap()),
            expiration_date: Some(d("2026-01-01")),
            ..record()
        };
        assert_eq!(
            fields(twice.validate(today).unwrap_err()),
            ["user_ids", "hours", "expiration_date"]
        );
    }

    #[test]
    fn a_requirement_is_checked_field_by_field() {
        let ok = RequirementInput {
            name: "Company training".into(),
            description: None,
            requirement_type: "hours".into(),
            category_id: None,
            training_type: None,
            required_hours: Some("24".parse().unwrap()),
            required_count: None,
            course_ids: vec![],
            registry_code: None,
            year: None,
            period_start_month: None,
            period_start_day: None,
            period_end_month: None,
            period_end_day: None,
            recency_days: None,
            period: "annual".into(),
            rolling_months: None,
            include_current_month: None,
            applies_to: "all".into(),
            role_ids: vec![],
            tier_ids: vec![],
            active: true,
        };
        assert!(ok.clone().validate().is_ok());
        let bad = RequirementInput {
            name: " ".into(),
            required_hours: None,
            period: "rolling".into(),
            applies_to: "roles".into(),
            ..ok.clone()
        };
        assert_eq!(
            fields(bad.validate().unwrap_err()),
            ["name", "rolling_months", "required_hours", "role_ids"]
        );
        let courses = RequirementInput {
            requirement_type: "courses".into(),
            period: "fortnightly".into(),
            ..ok
        };
        assert_eq!(
            fields(courses.validate().unwrap_err()),
            ["period", "course_ids"]
        );
    }
}
