//! Tier rules that need no database: years of service and the tier they reach.

use chrono::{Datelike, NaiveDate};

use super::service::Tier;

/// Whole years from `hired` to `today` (a member hired on 29 February counts a year on
/// 28 February in other years).
pub fn years_of_service(hired: NaiveDate, today: NaiveDate) -> u32 {
    if today < hired {
        return 0;
    }
    let mut years = today.year() - hired.year();
    let anniversary = hired
        .with_year(today.year())
        .or_else(|| NaiveDate::from_ymd_opt(today.year(), 2, 28))
        .unwrap_or(today);
    if today < anniversary {
        years -= 1;
    }
    years.max(0) as u32
}

/// The tier a member with `years` of service reaches: the highest active one.
pub fn reached(tiers: &[Tier], years: u32) -> Option<&Tier> {
    tiers
        .iter()
        .filter(|t| t.active && u32::from(t.years_required) <= years)
        .max_by_key(|t| (t.years_required, t.sort_order))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn years_of_service_count_whole_years() {
        assert_eq!(years_of_service(d("2016-06-15"), d("2026-06-14")), 9);
        assert_eq!(years_of_service(d("2016-06-15"), d("2026-06-15")), 10);
        assert_eq!(years_of_service(d("2024-02-29"), d("2025-02-27")), 0);
        assert_eq!(years_of_service(d("2024-02-29"), d("2025-02-28")), 1);
        assert_eq!(years_of_service(d("2027-01-01"), d("2026-01-01")), 0);
        // In a leap year the anniversary is the 29th itself.
        assert_eq!(years_of_service(d("2024-02-29"), d("2028-02-28")), 3);
        assert_eq!(years_of_service(d("2024-02-29"), d("2028-02-29")), 4);
    }
}
