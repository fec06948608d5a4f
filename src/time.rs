//! Time where the department is: its zone (an IANA name in `organizations.timezone`) and its
//! "today" (rule 1 of `reference/features.md` §1.3: dates are the department's dates).

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The department's time zone; UTC when the name is not one (never expected: the name is
/// checked when it is saved).
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// The department's date at `now`.
pub fn today_in(timezone: &str, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&zone(timezone)).date_naive()
}

/// The department's date now.
pub fn today(timezone: &str) -> NaiveDate {
    today_in(timezone, Utc::now())
}

/// A day in words, the same in every locale's reading: "Dec 11, 2026".
pub fn day_in_words(day: NaiveDate) -> String {
    day.format("%b %-d, %Y").to_string()
}

/// A day as people give it: `2026-12-03`, or month/day/year as US spreadsheets export it
/// (`12/3/2026`, `12/03/2026`; the year in four digits, so `1/2/26` is refused, not guessed).
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(d);
    }
    let parts: Vec<&str> = t.split('/').collect();
    match parts.as_slice() {
        [m, d, y] if y.len() == 4 && (1..=2).contains(&m.len()) && (1..=2).contains(&d.len()) => {
            NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_read_as_iso_or_us_spreadsheets_write_them() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(parse_day("2025-06-01"), d(2025, 6, 1));
        assert_eq!(parse_day(" 06/01/2025 "), d(2025, 6, 1));
        assert_eq!(parse_day("6/1/2025"), d(2025, 6, 1));
        assert_eq!(parse_day("12/31/2024"), d(2024, 12, 31));
        assert_eq!(parse_day("2/29/2024"), d(2024, 2, 29));
        for bad in [
            "2/29/2023",
            "13/1/2025",
            "1/2/25",
            "31.12.2024",
            "2025/06/01",
            "",
            "6/1/2025x",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }
}
