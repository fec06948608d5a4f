//! Scheduling's pure rules, table-tested below: the days a pattern puts a shift on (and which
//! platoon rides it), a shift's moments in the department's wall-clock time across daylight
//! saving, whether a shift is staffed, and the input checks of templates, patterns and shifts.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::input::{self, Checks};

crate::words! {
    /// How a pattern picks its days.
    pub enum PatternType {
        /// Every day.
        Daily = "daily",
        /// On chosen weekdays.
        Weekly = "weekly",
        /// A platoon rotation from a preset (24/48, 48/96, Kelly…).
        Platoon = "platoon",
        /// A sequence of platoon letters of the department's own.
        Custom = "custom",
    }
}

crate::words! {
    /// A platoon rotation's preset: how each platoon's days on and off repeat.
    pub enum Preset {
        /// Two platoons, a day on and a day off.
        TwoPlatoon = "24/24",
        /// Three platoons, 24 hours on and 48 off.
        ThreeDay = "24/48",
        /// Three platoons, 48 hours on and 96 off.
        FortyEight = "48/96",
        /// Three platoons on a nine-day Kelly cycle: on, off, on, off, on, then four off.
        Kelly = "kelly",
    }
}

impl Preset {
    pub fn label(self) -> &'static str {
        match self {
            Preset::TwoPlatoon => "24 on / 24 off (2 platoons)",
            Preset::ThreeDay => "24 on / 48 off (3 platoons)",
            Preset::FortyEight => "48 on / 96 off (3 platoons)",
            Preset::Kelly => "Kelly (3 platoons, 9-day cycle)",
        }
    }

    /// One platoon's days on ('1') and off ('0') over the cycle, and how many platoons share it.
    fn shape(self) -> (&'static str, usize) {
        match self {
            Preset::TwoPlatoon => ("10", 2),
            Preset::ThreeDay => ("100", 3),
            Preset::FortyEight => ("110000", 3),
            Preset::Kelly => ("101010000", 3),
        }
    }

    /// The day-by-day sequence of platoon letters: platoon `i` starts `round(i · cycle / n)`
    /// days after the first, so the platoons take turns (24/48 → A B C; Kelly → offsets 0, 3, 6).
    pub fn sequence(self) -> String {
        let (on, platoons) = self.shape();
        let cycle = on.len();
        let offsets: Vec<usize> = (0..platoons)
            .map(|i| ((i * cycle) as f64 / platoons as f64).round() as usize)
            .collect();
        (0..cycle)
            .map(|day| {
                offsets
                    .iter()
                    .position(|off| on.as_bytes()[(day + cycle - off) % cycle] == b'1')
                    .map_or('-', |i| (b'A' + i as u8) as char)
            })
            .collect()
    }
}

crate::words! {
    /// Whether a shift happens.
    pub enum ShiftStatus {
        Scheduled = "scheduled",
        Cancelled = "cancelled",
    }
}

crate::words! {
    /// Where a member's seat on a shift stands.
    pub enum AssignmentStatus {
        /// Put there by an officer (or a pattern), not yet confirmed.
        Assigned = "assigned",
        /// Signed up by the member.
        Pending = "pending",
        Confirmed = "confirmed",
        Declined = "declined",
        Cancelled = "cancelled",
        NoShow = "no_show",
    }
}

impl AssignmentStatus {
    /// Whether the assignment holds its seat.
    pub fn live(self) -> bool {
        matches!(
            self,
            AssignmentStatus::Assigned | AssignmentStatus::Pending | AssignmentStatus::Confirmed
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            AssignmentStatus::Assigned => "Assigned",
            AssignmentStatus::Pending => "Signed up",
            AssignmentStatus::Confirmed => "Confirmed",
            AssignmentStatus::Declined => "Declined",
            AssignmentStatus::Cancelled => "Cancelled",
            AssignmentStatus::NoShow => "No show",
        }
    }
}

crate::words! {
    /// Where a swap or a time-off request stands.
    pub enum RequestStatus {
        Pending = "pending",
        Approved = "approved",
        Denied = "denied",
        Cancelled = "cancelled",
    }
}

impl RequestStatus {
    pub fn label(self) -> &'static str {
        match self {
            RequestStatus::Pending => "Waiting for review",
            RequestStatus::Approved => "Approved",
            RequestStatus::Denied => "Denied",
            RequestStatus::Cancelled => "Withdrawn",
        }
    }
}

/// A seat on a shift: its name, whether the shift is open without it, and the course whose
/// current record a member needs to take it (a driver seat needs the driver qualification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Seat {
    #[schema(max_length = 50)]
    pub name: String,
    #[serde(default = "yes")]
    pub required: bool,
    #[serde(default)]
    pub course_id: Option<Uuid>,
}

fn yes() -> bool {
    true
}

/// At most this many seats on a shift.
pub const MAX_SEATS: usize = 12;

/// Checks a list of seats (one at least, at most `MAX_SEATS`, names present and short).
pub fn check_seats(field: &str, seats: &[Seat], c: &mut Checks) -> Vec<Seat> {
    if seats.is_empty() {
        c.push(field, "must list at least one seat");
    }
    if seats.len() > MAX_SEATS {
        c.push(field, format!("must list at most {MAX_SEATS} seats"));
    }
    let mut out = Vec::new();
    for (i, s) in seats.iter().take(MAX_SEATS).enumerate() {
        match input::required_text(&format!("{field}[{i}].name"), &s.name, 50) {
            Ok(name) => out.push(Seat {
                name,
                required: s.required,
                course_id: s.course_id,
            }),
            Err(AppError::Validation(errs)) => {
                for e in errs {
                    c.push(&e.field, e.message);
                }
            }
            Err(_) => c.push(field, "is not a list of seats"),
        }
    }
    out
}

/// The usual seats of a vehicle's riding positions (from setup), the first two required.
pub fn seats_of(positions: &[String]) -> Vec<Seat> {
    positions
        .iter()
        .take(MAX_SEATS)
        .enumerate()
        .map(|(i, p)| Seat {
            name: p.clone(),
            required: i < 2,
            course_id: None,
        })
        .collect()
}

/// When a shift that starts at `start` on `day` (the department's wall clock) begins and ends:
/// a 24-hour shift from 07:00 ends at 07:00 the next day even when the clocks change in
/// between (it is then 23 or 25 hours long).
pub fn span(tz: Tz, day: NaiveDate, start: NaiveTime, minutes: u16) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = day.and_time(start);
    let begins = crate::time::to_utc(tz, local);
    let ends = crate::time::to_utc(tz, local + Duration::minutes(i64::from(minutes)))
        .max(begins + Duration::minutes(1));
    (begins, ends)
}

/// What a pattern needs to pick its days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub kind: PatternType,
    /// Weekly: the days, 0 = Sunday.
    pub weekdays: Vec<u8>,
    /// Platoon and custom: the letters, day by day ('-' for none).
    pub sequence: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// Longest custom sequence (eight weeks).
pub const MAX_SEQUENCE: usize = 56;

/// The most days one generation covers.
pub const MAX_GENERATE_DAYS: i64 = 366;

impl Rotation {
    /// The days from `from` to `to` (both included) on which the pattern puts a shift, each
    /// with the platoon that rides it (none for daily and weekly patterns).
    pub fn days(&self, from: NaiveDate, to: NaiveDate) -> Vec<(NaiveDate, Option<char>)> {
        let from = from.max(self.start);
        let to = self.end.map_or(to, |e| e.min(to));
        let mut out = Vec::new();
        let letters: Vec<char> = self.sequence.chars().collect();
        let mut day = from;
        while day <= to {
            match self.kind {
                PatternType::Daily => out.push((day, None)),
                PatternType::Weekly => {
                    let dow = day.weekday().num_days_from_sunday() as u8;
                    if self.weekdays.contains(&dow) {
                        out.push((day, None));
                    }
                }
                PatternType::Platoon | PatternType::Custom => {
                    if !letters.is_empty() {
                        let since = (day - self.start).num_days();
                        let letter = letters[since.rem_euclid(letters.len() as i64) as usize];
                        if letter != '-' {
                            out.push((day, Some(letter)));
                        }
                    }
                }
            }
            day += Duration::days(1);
        }
        out
    }
}

/// Checks a custom sequence: letters A–D or '-', at least one letter, at most `MAX_SEQUENCE`.
pub fn check_sequence(text: &str) -> Result<String, &'static str> {
    let s: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if s.is_empty() {
        return Err("is required for a custom pattern (letters A to D, '-' for a day off)");
    }
    if s.chars().count() > MAX_SEQUENCE {
        return Err("must be at most 56 days long");
    }
    if !s.chars().all(|c| matches!(c, 'A'..='D' | '-')) {
        return Err("must be letters A to D, with '-' for a day without a shift");
    }
    if !s.chars().any(|c| c != '-') {
        return Err("must have at least one day with a shift");
    }
    Ok(s)
}

/// Whether a shift is staffed: the required seats nobody holds, and how many hold seats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Staffing {
    pub filled: u32,
    pub min_staffing: u32,
    /// Required seats nobody holds, by name.
    pub missing: Vec<String>,
    /// Below its minimum or missing a required seat: it shows as open.
    pub open: bool,
}

pub fn staffing(seats: &[Seat], held: &[u8], min_staffing: u32) -> Staffing {
    let filled = held.len() as u32;
    let missing: Vec<String> = seats
        .iter()
        .enumerate()
        .filter(|(i, s)| s.required && !held.contains(&(*i as u8)))
        .map(|(_, s)| s.name.clone())
        .collect();
    Staffing {
        filled,
        min_staffing,
        open: filled < min_staffing || !missing.is_empty(),
        missing,
    }
}

/// A date the schedule can hold: years 2000 to 2100.
pub fn check_year(field: &str, day: NaiveDate, c: &mut Checks) {
    if !(2000..=2100).contains(&day.year()) {
        c.push(field, "must be a year between 2000 and 2100");
    }
}

/// "HH:MM" (24-hour).
pub fn parse_time(field: &str, text: &str) -> AppResult<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M")
        .map_err(|_| AppError::field(field, "must be a time like 07:00"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn platoon(preset: Preset, start: NaiveDate) -> Rotation {
        Rotation {
            kind: PatternType::Platoon,
            weekdays: vec![],
            sequence: preset.sequence(),
            start,
            end: None,
        }
    }

    #[test]
    fn each_preset_gives_every_day_to_exactly_one_platoon() {
        for (preset, sequence) in [
            (Preset::TwoPlatoon, "AB"),
            (Preset::ThreeDay, "ABC"),
            (Preset::FortyEight, "AABBCC"),
            (Preset::Kelly, "ACABABCBC"),
        ] {
            assert_eq!(preset.sequence(), sequence, "{preset:?}");
        }
    }

    /// Each preset over a year (2028 has a leap day): every day one shift, each platoon its
    /// share, and the first days as a crew would read them off the station calendar.
    #[test]
    fn each_preset_over_a_leap_year() {
        let start = d(2028, 1, 1);
        for (preset, first, a_days) in [
            (Preset::TwoPlatoon, "ABABABAB", 183),
            (Preset::ThreeDay, "ABCABCAB", 122),
            (Preset::FortyEight, "AABBCCAA", 122),
            (Preset::Kelly, "ACABABCB", 123),
        ] {
            let days = platoon(preset, start).days(start, d(2028, 12, 31));
            assert_eq!(days.len(), 366, "{preset:?}: one shift a day, 29 February too");
            let letters: String = days.iter().take(8).map(|(_, p)| p.unwrap()).collect();
            assert_eq!(letters, first, "{preset:?}");
            let a = days.iter().filter(|(_, p)| *p == Some('A')).count();
            assert_eq!(a, a_days, "{preset:?}: platoon A's days");
            assert!(days.iter().any(|(day, _)| *day == d(2028, 2, 29)));
        }
    }

    /// A range that starts after the pattern does keeps the rotation where it stands; a range
    /// before the start or after the end gives nothing.
    #[test]
    fn the_rotation_counts_from_the_patterns_own_start() {
        let r = platoon(Preset::ThreeDay, d(2027, 1, 1));
        let days = r.days(d(2027, 1, 5), d(2027, 1, 7));
        assert_eq!(
            days,
            vec![
                (d(2027, 1, 5), Some('B')),
                (d(2027, 1, 6), Some('C')),
                (d(2027, 1, 7), Some('A')),
            ]
        );
        assert!(r.days(d(2026, 12, 1), d(2026, 12, 31)).is_empty());
        let ended = Rotation {
            end: Some(d(2027, 1, 2)),
            ..r
        };
        assert_eq!(ended.days(d(2027, 1, 1), d(2027, 1, 31)).len(), 2);
    }

    #[test]
    fn daily_weekly_and_custom_patterns() {
        let start = d(2027, 3, 1); // a Monday
        let weekly = Rotation {
            kind: PatternType::Weekly,
            weekdays: vec![1, 3, 5],
            sequence: String::new(),
            start,
            end: None,
        };
        let days: Vec<NaiveDate> = weekly
            .days(start, d(2027, 3, 14))
            .into_iter()
            .map(|(day, _)| day)
            .collect();
        assert_eq!(
            days,
            [1, 3, 5, 8, 10, 12].map(|n| d(2027, 3, n)).to_vec(),
            "Monday, Wednesday and Friday"
        );
        let daily = Rotation {
            kind: PatternType::Daily,
            ..weekly.clone()
        };
        assert_eq!(daily.days(start, d(2027, 3, 31)).len(), 31);
        let custom = Rotation {
            kind: PatternType::Custom,
            sequence: "AB--".into(),
            ..weekly
        };
        assert_eq!(
            custom.days(start, d(2027, 3, 8)),
            vec![
                (d(2027, 3, 1), Some('A')),
                (d(2027, 3, 2), Some('B')),
                (d(2027, 3, 5), Some('A')),
                (d(2027, 3, 6), Some('B')),
            ]
        );
    }

    #[test]
    fn custom_sequences_are_checked() {
        assert_eq!(check_sequence("a b - c").unwrap(), "AB-C");
        assert!(check_sequence("").is_err());
        assert!(check_sequence("---").is_err());
        assert!(check_sequence("ABE").is_err());
        assert!(check_sequence(&"A".repeat(57)).is_err());
    }

    /// A 24-hour shift from 07:00 ends at 07:00 by the station clock, across both changes.
    #[test]
    fn a_shift_keeps_the_wall_clock_across_daylight_saving() {
        let tz: Tz = "America/Chicago".parse().unwrap();
        let seven = NaiveTime::from_hms_opt(7, 0, 0).unwrap();
        let hours = |day| {
            let (s, e) = span(tz, day, seven, 24 * 60);
            (e - s).num_hours()
        };
        assert_eq!(hours(d(2027, 3, 13)), 23, "spring forward");
        assert_eq!(hours(d(2027, 11, 6)), 25, "fall back");
        assert_eq!(hours(d(2027, 6, 1)), 24);
        let (s, _) = span(tz, d(2027, 6, 1), seven, 60);
        assert_eq!(s.to_rfc3339(), "2027-06-01T12:00:00+00:00");
        // A start in the hour that never happens moves to the first minute that does.
        let two = NaiveTime::from_hms_opt(2, 30, 0).unwrap();
        let (s, _) = span(tz, d(2027, 3, 14), two, 60);
        assert_eq!(s.to_rfc3339(), "2027-03-14T08:00:00+00:00");
    }

    #[test]
    fn a_shift_is_open_below_its_minimum_or_without_a_required_seat() {
        let seats = seats_of(&["Officer".into(), "Driver".into(), "FF".into(), "FF".into()]);
        for (held, min, open, missing) in [
            (vec![0, 1, 2], 3, false, vec![]),
            (vec![0, 1], 3, true, vec![]),
            (vec![0, 2, 3], 3, true, vec!["Driver"]),
            (vec![2, 3], 1, true, vec!["Officer", "Driver"]),
            (vec![0, 1, 2, 3], 4, false, vec![]),
        ] {
            let s = staffing(&seats, &held, min);
            assert_eq!(s.open, open, "{held:?} min {min}");
            assert_eq!(s.missing, missing, "{held:?}");
            assert_eq!(s.filled, held.len() as u32);
        }
    }

    #[test]
    fn seats_are_checked() {
        let mut c = Checks::default();
        let out = check_seats("positions", &[], &mut c);
        assert!(out.is_empty());
        assert!(!c.is_empty());
        let mut c = Checks::default();
        let seat = |name: &str| Seat {
            name: name.into(),
            required: true,
            course_id: None,
        };
        check_seats("positions", &[seat("Driver"), seat("  ")], &mut c);
        let errs = c.into_errors();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "positions[1].name");
        let mut c = Checks::default();
        check_seats("positions", &vec![seat("FF"); 13], &mut c);
        assert!(!c.is_empty());
    }
}
