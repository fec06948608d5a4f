//! Inventory's words and rules, pure and table-tested: what a category, an item, a checkout,
//! an issuance and a maintenance entry must be; the next inspection due, the retirement date,
//! an allowance, when a checkout is overdue, the item number's barcode.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::input::{Checks, optional_paragraphs, optional_text, required_text};

pub const ITEM_TYPES: &[(&str, &str)] = &[
    ("ppe", "PPE"),
    ("uniform", "Uniform"),
    ("tool", "Tool"),
    ("equipment", "Equipment"),
    ("electronics", "Radio or electronics"),
    ("medical", "Medical"),
    ("vehicle", "Vehicle"),
    ("consumable", "Consumable"),
    ("other", "Other"),
];

pub const CONDITIONS: &[(&str, &str)] = &[
    ("excellent", "Excellent"),
    ("good", "Good"),
    ("fair", "Fair"),
    ("poor", "Poor"),
    ("damaged", "Damaged"),
    ("out_of_service", "Out of service"),
];

pub const STATUSES: &[(&str, &str)] = &[
    ("available", "Available"),
    ("assigned", "Assigned"),
    ("checked_out", "Checked out"),
    ("in_maintenance", "In maintenance"),
    ("lost", "Lost"),
    ("stolen", "Stolen"),
    ("retired", "Retired"),
];

pub const TRACKING: &[(&str, &str)] = &[
    ("individual", "One of a kind (serial or tag)"),
    ("pool", "A stock of units (gloves, hoods)"),
];

pub const MAINTENANCE_TYPES: &[(&str, &str)] = &[
    ("inspection", "Inspection"),
    ("routine_inspection", "Routine inspection"),
    ("advanced_inspection", "Advanced inspection (NFPA 1851)"),
    ("flow_test", "Flow test (SCBA)"),
    ("hydrostatic_test", "Hydrostatic test (cylinder)"),
    ("service_test", "Service test (hose, pump, ladder)"),
    ("testing", "Other test"),
    ("calibration", "Calibration"),
    ("cleaning", "Cleaning"),
    ("decontamination", "Decontamination"),
    ("repair", "Repair"),
    ("preventive", "Preventive maintenance"),
    ("replacement", "Part replaced"),
];

/// The maintenance that restarts an item's inspection cycle (a repair or a cleaning does not).
pub fn restarts_cycle(kind: &str) -> bool {
    matches!(
        kind,
        "inspection"
            | "routine_inspection"
            | "advanced_inspection"
            | "flow_test"
            | "hydrostatic_test"
            | "service_test"
            | "testing"
            | "calibration"
    )
}

/// The label of `word` in `words`, or the word itself.
pub fn label(words: &[(&str, &'static str)], word: &str) -> String {
    words
        .iter()
        .find(|(w, _)| *w == word)
        .map_or_else(|| word.replace('_', " "), |(_, l)| (*l).to_string())
}

pub fn words_of(words: &[(&'static str, &str)]) -> Vec<&'static str> {
    words.iter().map(|(w, _)| *w).collect()
}

fn one_of(field: &str, value: &str, words: &[(&str, &str)]) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::field(field, "is required"));
    }
    if words.iter().any(|(w, _)| *w == v) {
        Ok(v.to_string())
    } else {
        let list: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
        Err(AppError::field(
            field,
            format!("must be one of: {}", list.join(", ")),
        ))
    }
}

/// A condition a member or an officer reports (`retired` is the status's, not a condition).
pub fn condition(field: &str, value: &str) -> AppResult<String> {
    one_of(field, value, CONDITIONS)
}

/// A condition that takes an item out of use until it is repaired.
pub fn unusable(condition: &str) -> bool {
    matches!(condition, "damaged" | "out_of_service")
}

/// The barcode an item gets when it is given none: its department's sequence number.
pub fn barcode_for(number: u32) -> String {
    format!("INV-{number:06}")
}

/// A code on a label (barcode, serial number, asset tag): printable, no spaces inside.
fn code(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    let v = optional_text(field, value, 100)?;
    if let Some(c) = &v
        && c.chars().any(char::is_whitespace)
    {
        return Err(AppError::field(field, "must not contain spaces"));
    }
    Ok(v)
}

fn money(field: &str, value: Option<Decimal>) -> AppResult<Option<Decimal>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_sign_negative() => Err(AppError::field(field, "must not be negative")),
        Some(v) if v > Decimal::from(100_000_000u32) => {
            Err(AppError::field(field, "must be at most 100000000"))
        }
        Some(v) if v.normalize().scale() > 2 => {
            Err(AppError::field(field, "must have at most two decimals"))
        }
        Some(v) => Ok(Some(v.round_dp(2))),
    }
}

fn not_future(field: &str, value: Option<NaiveDate>, today: NaiveDate) -> AppResult<()> {
    match value {
        Some(d) if d > today => Err(AppError::field(field, "must not be in the future")),
        Some(d) if d < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") => {
            Err(AppError::field(field, "must be after 1900"))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    #[schema(max_length = 100)]
    pub name: String,
    #[schema(schema_with = item_type_schema)]
    pub item_type: String,
    #[serde(default)]
    pub requires_serial_number: bool,
    #[serde(default)]
    pub requires_maintenance: bool,
    #[serde(default)]
    pub nfpa_tracking_enabled: bool,
    /// The inspection or test cycle of its items, in days (365: yearly).
    #[schema(minimum = 1, maximum = 3660)]
    pub inspection_interval_days: Option<u32>,
    /// Its items are retired this many years after they were made.
    #[schema(minimum = 1, maximum = 50)]
    pub retire_after_years: Option<u32>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

pub fn item_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&words_of(ITEM_TYPES))
}
pub fn condition_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&words_of(CONDITIONS))
}
pub fn status_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&words_of(STATUSES))
}
pub fn tracking_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&words_of(TRACKING))
}
pub fn maintenance_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&words_of(MAINTENANCE_TYPES))
}
pub fn assignment_type_schema() -> utoipa::openapi::Object {
    crate::http::words_schema(&["permanent", "temporary"])
}

#[derive(Debug)]
pub struct ValidCategory {
    pub name: String,
    pub item_type: String,
    pub requires_serial_number: bool,
    pub requires_maintenance: bool,
    pub nfpa_tracking_enabled: bool,
    pub inspection_interval_days: Option<u32>,
    pub retire_after_years: Option<u32>,
    pub active: bool,
}

impl CategoryInput {
    pub fn validate(self) -> AppResult<ValidCategory> {
        let mut c = Checks::default();
        let name = c.take(required_text("name", &self.name, 100));
        let item_type = c.take(one_of("item_type", &self.item_type, ITEM_TYPES));
        if let Some(d) = self.inspection_interval_days
            && !(1..=3660).contains(&d)
        {
            c.push("inspection_interval_days", "must be between 1 and 3660");
        }
        if let Some(y) = self.retire_after_years
            && !(1..=50).contains(&y)
        {
            c.push("retire_after_years", "must be between 1 and 50");
        }
        c.finish()?;
        Ok(ValidCategory {
            name: name.unwrap_or_default(),
            item_type: item_type.unwrap_or_default(),
            requires_serial_number: self.requires_serial_number,
            requires_maintenance: self.requires_maintenance,
            nfpa_tracking_enabled: self.nfpa_tracking_enabled,
            inspection_interval_days: self.inspection_interval_days,
            retire_after_years: self.retire_after_years,
            active: self.active,
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    pub category_id: Option<Uuid>,
    #[schema(max_length = 200)]
    pub name: String,
    pub description: Option<String>,
    #[schema(max_length = 100)]
    pub manufacturer: Option<String>,
    #[schema(max_length = 100)]
    pub model: Option<String>,
    #[schema(max_length = 100)]
    pub serial_number: Option<String>,
    #[schema(max_length = 100)]
    pub asset_tag: Option<String>,
    /// None: the item's number, `INV-000042`.
    #[schema(max_length = 100)]
    pub barcode: Option<String>,
    pub manufactured_date: Option<NaiveDate>,
    pub purchase_date: Option<NaiveDate>,
    #[schema(value_type = Option<f64>)]
    pub purchase_price: Option<Decimal>,
    #[schema(value_type = Option<f64>)]
    pub replacement_cost: Option<Decimal>,
    #[schema(max_length = 50)]
    pub size: Option<String>,
    #[schema(max_length = 50)]
    pub color: Option<String>,
    /// A station or room (`locations`).
    pub location_id: Option<Uuid>,
    #[schema(max_length = 200)]
    pub storage_area: Option<String>,
    /// Default `good`.
    #[schema(schema_with = condition_schema)]
    pub condition: Option<String>,
    /// Default `individual`; cannot change once the item exists.
    #[schema(schema_with = tracking_schema)]
    pub tracking_type: Option<String>,
    /// A pool's units in all (individual items: 1).
    #[schema(minimum = 0, maximum = 1000000)]
    pub quantity: Option<i64>,
    /// A pool at or below this many units on the shelf is low on stock.
    #[schema(minimum = 0, maximum = 1000000)]
    pub reorder_point: Option<i64>,
    /// The item's own inspection cycle in days (none: its category's).
    #[schema(minimum = 1, maximum = 3660)]
    pub inspection_interval_days: Option<u32>,
    /// The next inspection or test due (none: from the last one and the cycle).
    pub next_inspection_due: Option<NaiveDate>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ValidItem {
    pub category_id: Option<Uuid>,
    pub name: String,
    pub description: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial_number: Option<String>,
    pub asset_tag: Option<String>,
    pub barcode: Option<String>,
    pub manufactured_date: Option<NaiveDate>,
    pub purchase_date: Option<NaiveDate>,
    pub purchase_price: Option<Decimal>,
    pub replacement_cost: Option<Decimal>,
    pub size: Option<String>,
    pub color: Option<String>,
    pub location_id: Option<Uuid>,
    pub storage_area: Option<String>,
    pub condition: String,
    pub tracking_type: String,
    pub quantity: u32,
    pub reorder_point: Option<u32>,
    pub inspection_interval_days: Option<u32>,
    pub next_inspection_due: Option<NaiveDate>,
    pub notes: Option<String>,
}

fn count(c: &mut Checks, field: &str, value: Option<i64>) -> Option<u32> {
    match value {
        None => None,
        Some(v) if v < 0 => {
            c.push(field, "must not be negative");
            None
        }
        Some(v) if v > 1_000_000 => {
            c.push(field, "must be at most 1000000");
            None
        }
        Some(v) => Some(v as u32),
    }
}

impl ItemInput {
    pub fn validate(self, today: NaiveDate) -> AppResult<ValidItem> {
        let mut c = Checks::default();
        let name = c.take(required_text("name", &self.name, 200));
        let description = c
            .take(optional_paragraphs("description", self.description, 5000))
            .flatten();
        let manufacturer = c
            .take(optional_text("manufacturer", self.manufacturer, 100))
            .flatten();
        let model = c.take(optional_text("model", self.model, 100)).flatten();
        let serial_number = c.take(code("serial_number", self.serial_number)).flatten();
        let asset_tag = c.take(code("asset_tag", self.asset_tag)).flatten();
        let barcode = c.take(code("barcode", self.barcode)).flatten();
        c.take(not_future("manufactured_date", self.manufactured_date, today));
        c.take(not_future("purchase_date", self.purchase_date, today));
        let purchase_price = c.take(money("purchase_price", self.purchase_price)).flatten();
        let replacement_cost = c
            .take(money("replacement_cost", self.replacement_cost))
            .flatten();
        let size = c.take(optional_text("size", self.size, 50)).flatten();
        let color = c.take(optional_text("color", self.color, 50)).flatten();
        let storage_area = c
            .take(optional_text("storage_area", self.storage_area, 200))
            .flatten();
        let condition = match self.condition.as_deref().map(str::trim) {
            None | Some("") => Some("good".to_string()),
            Some(v) => c.take(condition("condition", v)),
        };
        let tracking_type = match self.tracking_type.as_deref().map(str::trim) {
            None | Some("") => Some("individual".to_string()),
            Some(v) => c.take(one_of("tracking_type", v, TRACKING)),
        };
        let quantity = count(&mut c, "quantity", self.quantity);
        let reorder_point = count(&mut c, "reorder_point", self.reorder_point);
        let pool = tracking_type.as_deref() == Some("pool");
        if !pool {
            if quantity.is_some_and(|q| q != 1) {
                c.push(
                    "quantity",
                    "must be 1 for an item of its own (a stock of units is a pool)",
                );
            }
            if reorder_point.is_some() {
                c.push("reorder_point", "is for a stock of units (a pool) only");
            }
        }
        if let Some(d) = self.inspection_interval_days
            && !(1..=3660).contains(&d)
        {
            c.push("inspection_interval_days", "must be between 1 and 3660");
        }
        let notes = c
            .take(optional_paragraphs("notes", self.notes, 5000))
            .flatten();
        c.finish()?;
        Ok(ValidItem {
            category_id: self.category_id,
            name: name.unwrap_or_default(),
            description,
            manufacturer,
            model,
            serial_number,
            asset_tag,
            barcode,
            manufactured_date: self.manufactured_date,
            purchase_date: self.purchase_date,
            purchase_price,
            replacement_cost,
            size,
            color,
            location_id: self.location_id,
            storage_area,
            condition: condition.unwrap_or_default(),
            tracking_type: tracking_type.unwrap_or_default(),
            quantity: if pool { quantity.unwrap_or(0) } else { 1 },
            reorder_point,
            inspection_interval_days: self.inspection_interval_days,
            next_inspection_due: self.next_inspection_due,
            notes,
        })
    }
}

/// When a checkout is due back: a day the member brings it back by, which ends at the
/// department's midnight; the checkout is overdue from then on.
pub fn due_back_at(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let next = day.succ_opt().unwrap_or(day);
    let midnight = next.and_hms_opt(0, 0, 0).expect("valid time");
    // A midnight a daylight-saving change skips is taken at the first moment that exists.
    match tz.from_local_datetime(&midnight) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(midnight + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// A checkout not yet returned is overdue once its due moment has passed.
pub fn is_overdue(expected_return_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= expected_return_at
}

/// A due-back moment must be after the checkout and within a year of it.
pub fn check_due_back(due: DateTime<Utc>, now: DateTime<Utc>) -> AppResult<()> {
    if due <= now {
        return Err(AppError::field(
            "expected_return_at",
            "must be after the checkout",
        ));
    }
    if due > now + chrono::Duration::days(366) {
        return Err(AppError::field(
            "expected_return_at",
            "must be within a year",
        ));
    }
    Ok(())
}

/// The next inspection due after one done on `done`, every `interval_days`.
pub fn next_due(done: NaiveDate, interval_days: u32) -> NaiveDate {
    done + chrono::Days::new(u64::from(interval_days))
}

/// The day an item made on `made` is to be retired, `years` later (made on 29 February: 28
/// February of a common year).
pub fn retire_on(made: NaiveDate, years: u32) -> NaiveDate {
    made.checked_add_months(Months::new(years * 12))
        .unwrap_or(NaiveDate::MAX)
}

/// Whether a member may be issued `asked` more units when they hold (or were issued in the
/// period) `used` of an allowance of `max`: Err with how many are left.
pub fn within_allowance(max: u32, used: u32, asked: u32) -> Result<(), u32> {
    if used.saturating_add(asked) <= max {
        Ok(())
    } else {
        Err(max.saturating_sub(used))
    }
}

/// The first day of the allowance's period that contains `today`: the calendar year, or
/// forever (a career allowance counts every issuance).
pub fn allowance_since(period: &str, today: NaiveDate) -> NaiveDate {
    match period {
        "annual" => NaiveDate::from_ymd_opt(today.year(), 1, 1).expect("valid"),
        _ => NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid"),
    }
}

/// The last day of the month `today` is in: "due this month" runs to it.
pub fn month_end(today: NaiveDate) -> NaiveDate {
    let first = today.with_day0(0).expect("valid");
    first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(today)
}


#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn next_due_and_retirement_across_month_ends_and_leap_years() {
        for (done, days, want) in [
            ("2026-01-31", 30, "2026-03-02"),
            ("2027-03-01", 365, "2028-02-29"),
            ("2028-02-29", 365, "2029-02-28"),
            ("2026-12-31", 1, "2027-01-01"),
            ("2026-06-15", 90, "2026-09-13"),
        ] {
            assert_eq!(next_due(d(done), days), d(want), "{done} + {days}");
        }
        for (made, years, want) in [
            ("2016-03-01", 10, "2026-03-01"),
            ("2016-02-29", 10, "2026-02-28"),
            ("2012-02-29", 16, "2028-02-29"),
            ("2011-07-31", 15, "2026-07-31"),
        ] {
            assert_eq!(retire_on(d(made), years), d(want), "{made} + {years} y");
        }
    }

    #[test]
    fn allowances_count_what_the_period_holds() {
        for (max, used, asked, want) in [
            (4, 0, 4, Ok(())),
            (4, 3, 1, Ok(())),
            (4, 3, 2, Err(1)),
            (4, 4, 1, Err(0)),
            (4, 6, 1, Err(0)),
            (0, 0, 1, Err(0)),
        ] {
            assert_eq!(within_allowance(max, used, asked), want, "{max} {used} {asked}");
        }
        assert_eq!(allowance_since("annual", d("2026-12-03")), d("2026-01-01"));
        assert_eq!(allowance_since("career", d("2026-12-03")), d("1900-01-01"));
    }

    #[test]
    fn a_checkout_is_overdue_from_the_departments_midnight() {
        let la: Tz = "America/Los_Angeles".parse().unwrap();
        let due = due_back_at(d("2026-12-03"), la);
        // Midnight in Los Angeles, 4 December, is 08:00 UTC.
        assert_eq!(due.to_rfc3339(), "2026-12-04T08:00:00+00:00");
        let just_before = due - chrono::Duration::seconds(1);
        assert!(!is_overdue(due, just_before));
        assert!(is_overdue(due, due));
        // Summer time: midnight is 07:00 UTC.
        assert_eq!(
            due_back_at(d("2026-07-03"), la).to_rfc3339(),
            "2026-07-04T07:00:00+00:00"
        );
        // A zone whose clocks skip midnight (Santiago's spring change, 2026-09-06): the first
        // moment of the day that exists.
        let santiago: Tz = "America/Santiago".parse().unwrap();
        let t = due_back_at(d("2026-09-05"), santiago);
        assert_eq!(t.to_rfc3339(), "2026-09-06T04:00:00+00:00");
        let now = d("2026-12-01").and_hms_opt(12, 0, 0).unwrap().and_utc();
        assert!(check_due_back(now, now).is_err());
        assert!(check_due_back(now + chrono::Duration::days(367), now).is_err());
        assert!(check_due_back(now + chrono::Duration::hours(1), now).is_ok());
    }

    #[test]
    fn month_ends() {
        for (today, want) in [
            ("2026-12-03", "2026-12-31"),
            ("2028-02-10", "2028-02-29"),
            ("2027-02-28", "2027-02-28"),
            ("2026-04-30", "2026-04-30"),
        ] {
            assert_eq!(month_end(d(today)), d(want), "{today}");
        }
    }

    #[test]
    fn an_item_is_one_of_a_kind_or_a_pool() {
        let today = d("2026-12-03");
        let ok = ItemInput {
            name: "Radio 4".into(),
            ..Default::default()
        }
        .validate(today)
        .unwrap();
        assert_eq!((ok.tracking_type.as_str(), ok.quantity), ("individual", 1));
        assert_eq!(ok.condition, "good");
        let fields = |input: ItemInput| match input.validate(today) {
            Err(AppError::Validation(e)) => e.into_iter().map(|e| e.field).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fields(ItemInput {
                name: " ".into(),
                quantity: Some(3),
                serial_number: Some("AB 12".into()),
                purchase_date: Some(d("2026-12-04")),
                purchase_price: Some(Decimal::new(-1, 0)),
                condition: Some("shiny".into()),
                ..Default::default()
            }),
            [
                "name",
                "serial_number",
                "purchase_date",
                "purchase_price",
                "condition",
                "quantity"
            ]
        );
        assert_eq!(
            fields(ItemInput {
                name: "Gloves".into(),
                tracking_type: Some("pool".into()),
                quantity: Some(-2),
                ..Default::default()
            }),
            ["quantity"]
        );
        let pool = ItemInput {
            name: "Gloves".into(),
            tracking_type: Some("pool".into()),
            quantity: Some(40),
            reorder_point: Some(10),
            ..Default::default()
        }
        .validate(today)
        .unwrap();
        assert_eq!((pool.quantity, pool.reorder_point), (40, Some(10)));
        assert_eq!(barcode_for(42), "INV-000042");
    }
}
