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
