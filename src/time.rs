//! Time where the department is: its zone (an IANA name in `organizations.timezone`) and its
//! "today" (rule 1 of `reference/features.md` §1.3: dates are the department's dates).

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
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

/// A wall-clock time in the department's zone as a moment: the earlier of an hour that happens
/// twice (autumn), and the first minute after an hour that never happens (spring).
pub fn to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut t = local;
    for _ in 0..4 {
        if let Some(found) = tz.from_local_datetime(&t).earliest() {
            return found.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    Utc.from_utc_datetime(&local)
}

crate::words! {
    /// How the department writes a date.
    pub enum DateStyle {
        /// Month first, as in the US: 12/03/2026.
        Us = "us",
        /// Year first (ISO 8601): 2026-12-03.
        Iso = "iso",
        /// Day first, as in most of the world: 03/12/2026.
        DayFirst = "day_first",
    }
}

crate::words! {
    /// How the department writes a time of day.
    pub enum Clock {
        /// 7:30 PM.
        H12 = "12h",
        /// 19:30.
        H24 = "24h",
    }
}

crate::words! {
    /// The paper the department prints on (every PDF it makes).
    pub enum Paper {
        /// 8.5 × 11 in, as in the US and Canada.
        Letter = "letter",
        /// 210 × 297 mm.
        A4 = "a4",
    }
}

impl Paper {
    /// Width and height in PostScript points (1/72 in).
    pub fn points(self) -> (f32, f32) {
        match self {
            Paper::Letter => (612.0, 792.0),
            Paper::A4 => (595.0, 842.0),
        }
    }
}

/// How the department writes dates and times, and prints: its settings, US defaults
/// (12/03/2026, 7:30 PM, Letter) until it chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locale {
    pub date: DateStyle,
    pub clock: Clock,
    pub paper: Paper,
}

impl Default for Locale {
    fn default() -> Self {
        Locale {
            date: DateStyle::Us,
            clock: Clock::H12,
            paper: Paper::Letter,
        }
    }
}

impl Locale {
    /// ISO dates, a 24-hour clock and A4: what a machine reads.
    pub fn iso() -> Locale {
        Locale {
            date: DateStyle::Iso,
            clock: Clock::H24,
            paper: Paper::A4,
        }
    }

    /// chrono's pattern for a date.
    pub fn date_pattern(self) -> &'static str {
        match self.date {
            DateStyle::Us => "%m/%d/%Y",
            DateStyle::Iso => "%Y-%m-%d",
            DateStyle::DayFirst => "%d/%m/%Y",
        }
    }

    /// chrono's pattern for a time of day, with seconds or without.
    pub fn time_pattern(self, seconds: bool) -> &'static str {
        match (self.clock, seconds) {
            (Clock::H12, false) => "%-I:%M %p",
            (Clock::H12, true) => "%-I:%M:%S %p",
            (Clock::H24, false) => "%H:%M",
            (Clock::H24, true) => "%H:%M:%S",
        }
    }

    /// A day as the department writes it.
    pub fn day(self, d: NaiveDate) -> String {
        d.format(self.date_pattern()).to_string()
    }

    /// A day that may be missing: empty when it is.
    pub fn day_or_blank(self, d: Option<NaiveDate>) -> String {
        d.map(|d| self.day(d)).unwrap_or_default()
    }

    /// A span of days: "03/01/2026 to 04/30/2026", or "from 03/15/2026 until further notice"
    /// when it has no end.
    pub fn span(self, start: NaiveDate, end: Option<NaiveDate>) -> String {
        match end {
            Some(e) => format!("{} to {}", self.day(start), self.day(e)),
            None => format!("from {} until further notice", self.day(start)),
        }
    }

    /// An example of the date format, for hints: "MM/DD/YYYY".
    pub fn date_hint(self) -> &'static str {
        match self.date {
            DateStyle::Us => "MM/DD/YYYY",
            DateStyle::Iso => "YYYY-MM-DD",
            DateStyle::DayFirst => "DD/MM/YYYY",
        }
    }

    /// A day as a person or a spreadsheet gives it: always `2026-12-03`; with slashes, in the
    /// department's order (month first unless it writes the day first), the year in four
    /// digits so that `1/2/26` is refused, not guessed.
    pub fn parse_day(self, text: &str) -> Option<NaiveDate> {
        let t = text.trim();
        if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
            return Some(d);
        }
        let parts: Vec<&str> = t.split('/').collect();
        match parts.as_slice() {
            [a, b, y]
                if y.len() == 4 && (1..=2).contains(&a.len()) && (1..=2).contains(&b.len()) =>
            {
                let (m, d) = if self.date == DateStyle::DayFirst {
                    (b, a)
                } else {
                    (a, b)
                };
                NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
            }
            _ => None,
        }
    }
}

/// A department's zone and how it writes dates and times: what a page needs to show a moment.
#[derive(Debug, Clone, Copy)]
pub struct Local {
    pub tz: Tz,
    pub locale: Locale,
}

impl Local {
    pub fn new(timezone: &str, locale: Locale) -> Local {
        Local {
            tz: zone(timezone),
            locale,
        }
    }

    /// `t` to the minute in the department's zone and style, with the zone:
    /// "12/03/2026 7:30 PM CST".
    pub fn moment(self, t: &DateTime<Utc>) -> String {
        self.format(t, false, true)
    }

    /// `t` to the second, with the zone (the audit log, the status page).
    pub fn moment_exact(self, t: &DateTime<Utc>) -> String {
        self.format(t, true, true)
    }

    /// `t` to the minute, without the zone (lists where every line is in it).
    pub fn moment_plain(self, t: &DateTime<Utc>) -> String {
        self.format(t, false, false)
    }

    fn format(self, t: &DateTime<Utc>, seconds: bool, zone: bool) -> String {
        let pattern = format!(
            "{} {}{}",
            self.locale.date_pattern(),
            self.locale.time_pattern(seconds),
            if zone { " %Z" } else { "" }
        );
        t.with_timezone(&self.tz).format(&pattern).to_string()
    }
}

/// A day in words, the same in every locale's reading: "Dec 11, 2026".
pub fn day_in_words(day: NaiveDate) -> String {
    day.format("%b %-d, %Y").to_string()
}

/// A day as people give it: `2026-12-03`, or month/day/year as US spreadsheets export it
/// (`12/3/2026`, `12/03/2026`; the year in four digits, so `1/2/26` is refused, not guessed).
/// `Locale::parse_day` reads slashes in the department's order.
pub fn parse_day(text: &str) -> Option<NaiveDate> {
    Locale::default().parse_day(text)
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

    #[test]
    fn dates_and_times_are_written_as_the_department_chooses() {
        let t = "2026-12-04T01:30:05Z".parse::<DateTime<Utc>>().unwrap();
        let us = Local::new("America/Chicago", Locale::default());
        assert_eq!(us.moment(&t), "12/03/2026 7:30 PM CST");
        assert_eq!(us.moment_exact(&t), "12/03/2026 7:30:05 PM CST");
        assert_eq!(us.moment_plain(&t), "12/03/2026 7:30 PM");
        let iso = Locale::iso();
        assert_eq!(
            Local::new("America/Chicago", iso).moment(&t),
            "2026-12-03 19:30 CST"
        );
        let eu = Locale {
            date: DateStyle::DayFirst,
            ..iso
        };
        assert_eq!(
            Local::new("Europe/Berlin", eu).moment(&t),
            "04/12/2026 02:30 CET"
        );
        let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(Locale::default().day(d), "03/01/2026");
        assert_eq!(eu.day(d), "01/03/2026");
        assert_eq!(eu.parse_day("01/03/2026"), Some(d));
        assert_eq!(Locale::default().parse_day("03/01/2026"), Some(d));
        assert_eq!(eu.parse_day("2026-03-01"), Some(d));
        assert_eq!(eu.parse_day("13/13/2026"), None);
        assert_eq!(Paper::Letter.points(), (612.0, 792.0));
    }
}
