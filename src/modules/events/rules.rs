//! Events' pure rules, table-tested below: the occurrences of a series (in the department's
//! wall-clock time, so a 7 PM drill stays at 7 PM across daylight saving), when self check-in is
//! open, how long a member attended, and the input checks of an event.

use chrono::{
    DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, Utc,
    Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::input::{self, Checks};

crate::words! {
    /// What kind of event.
    pub enum EventType {
        BusinessMeeting = "business_meeting",
        Training = "training",
        PublicEducation = "public_education",
        Social = "social",
        Fundraiser = "fundraiser",
        Ceremony = "ceremony",
        Recruitment = "recruitment",
        Other = "other",
    }
}

impl EventType {
    pub fn label(self) -> &'static str {
        match self {
            EventType::BusinessMeeting => "Business meeting",
            EventType::Training => "Training / drill",
            EventType::PublicEducation => "Public education",
            EventType::Social => "Social",
            EventType::Fundraiser => "Fundraiser",
            EventType::Ceremony => "Ceremony",
            EventType::Recruitment => "Recruitment",
            EventType::Other => "Other",
        }
    }
}

crate::words! {
    /// A member's answer.
    pub enum Rsvp {
        Going = "going",
        Maybe = "maybe",
        NotGoing = "not_going",
        /// Said going when the event was full: promoted in turn when a place frees.
        Waitlisted = "waitlisted",
    }
}

impl Rsvp {
    pub fn label(self) -> &'static str {
        match self {
            Rsvp::Going => "Going",
            Rsvp::Maybe => "Maybe",
            Rsvp::NotGoing => "Not going",
            Rsvp::Waitlisted => "On the waitlist",
        }
    }
}

crate::words! {
    /// Who an event's reminder goes to.
    pub enum ReminderTarget {
        /// Members who answered going.
        Going = "going",
        /// Every active member.
        All = "all",
        None = "none",
    }
}

crate::words! {
    /// When a member may check themselves in.
    pub enum CheckInWindow {
        /// From an hour before the start until the end.
        Flexible = "flexible",
        /// From the start until the end.
        Strict = "strict",
        /// Fifteen minutes either side of the start.
        Window = "window",
    }
}

crate::words! {
    /// How a series repeats.
    pub enum Pattern {
        Daily = "daily",
        Weekly = "weekly",
        /// Every other week.
        Biweekly = "biweekly",
        /// The same day of the month (the 31st is the month's last day in shorter months).
        Monthly = "monthly",
        /// The same weekday of the month: "2nd Tuesday"; the 5th is "last".
        MonthlyWeekday = "monthly_weekday",
        /// The same day each year (29 February is the 28th in other years).
        Yearly = "yearly",
    }
}

/// The most occurrences one series may have.
pub const MAX_OCCURRENCES: usize = 365;

/// The wall-clock starts of a series from `first` (itself the first) to `until` (inclusive).
pub fn occurrences(
    pattern: Pattern,
    first: NaiveDateTime,
    until: NaiveDate,
) -> Result<Vec<NaiveDateTime>, usize> {
    let time = first.time();
    let anchor = first.date();
    let ordinal = (anchor.day0() / 7 + 1) as u8;
    let mut out = Vec::new();
    for k in 0u32.. {
        let day = match pattern {
            Pattern::Daily => anchor.checked_add_signed(Duration::days(i64::from(k))),
            Pattern::Weekly => anchor.checked_add_signed(Duration::weeks(i64::from(k))),
            Pattern::Biweekly => anchor.checked_add_signed(Duration::weeks(2 * i64::from(k))),
            Pattern::Monthly => month_day(anchor, k, anchor.day()),
            Pattern::Yearly => month_day(anchor, 12 * k, anchor.day()),
            Pattern::MonthlyWeekday => anchor
                .with_day(1)
                .and_then(|d| d.checked_add_months(Months::new(k)))
                .map(|m| nth_weekday(m.year(), m.month(), anchor.weekday(), ordinal)),
        };
        let Some(day) = day else { break };
        if day > until {
            break;
        }
        out.push(day.and_time(time));
        if out.len() > MAX_OCCURRENCES {
            // Count on to say how many it would have made, within reason.
            return Err(out.len());
        }
    }
    Ok(out)
}

/// The day `months` after `anchor`'s month, on `day` or the month's last day if shorter.
fn month_day(anchor: NaiveDate, months: u32, day: u32) -> Option<NaiveDate> {
    let first = anchor.with_day(1)?.checked_add_months(Months::new(months))?;
    let last = last_day(first.year(), first.month());
    first.with_day(day.min(last))
}

fn last_day(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

/// The `n`th `weekday` of the month (1–4), or its last when `n` is 5.
pub fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    let last = last_day(year, month);
    if n >= 5 {
        let end = NaiveDate::from_ymd_opt(year, month, last).unwrap_or_default();
        let back = (7 + end.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
        return end - Duration::days(i64::from(back));
    }
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).unwrap_or_default()
}

/// "2nd Tuesday", "last Friday": how a monthly-by-weekday series reads.
pub fn weekday_phrase(day: NaiveDate) -> String {
    let n = day.day0() / 7 + 1;
    let which = match n {
        1 => "1st",
        2 => "2nd",
        3 => "3rd",
        4 => "4th",
        _ => "last",
    };
    format!("{which} {}", day.format("%A"))
}

/// A series' rule in words.
pub fn describe(pattern: Pattern, first: NaiveDate, until: NaiveDate) -> String {
    let until = crate::time::day_in_words(until);
    match pattern {
        Pattern::Daily => format!("Daily until {until}"),
        Pattern::Weekly => format!("Weekly on {}s until {until}", first.format("%A")),
        Pattern::Biweekly => format!("Every other {} until {until}", first.format("%A")),
        Pattern::Monthly => format!("Monthly on day {} until {until}", first.day()),
        Pattern::MonthlyWeekday => {
            format!("Monthly on the {} until {until}", weekday_phrase(first))
        }
        Pattern::Yearly => format!("Yearly on {} until {until}", first.format("%B %-d")),
    }
}

pub use crate::time::to_utc;

/// When a member may check themselves in to an event from `start` to `end`.
pub fn check_in_span(
    window: CheckInWindow,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    match window {
        CheckInWindow::Flexible => (start - Duration::minutes(60), end),
        CheckInWindow::Strict => (start, end),
        CheckInWindow::Window => (start - Duration::minutes(15), start + Duration::minutes(15)),
    }
}

/// Whether self check-in is open at `now` (both edges included).
pub fn check_in_open(
    window: CheckInWindow,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let (opens, closes) = check_in_span(window, start, end);
    opens <= now && now <= closes
}

/// Minutes a member attended: from check-in to check-out, or to the event's end when they never
/// checked out (but not before they came); none when they never checked in.
pub fn attended_minutes(
    checked_in: Option<DateTime<Utc>>,
    checked_out: Option<DateTime<Utc>>,
    event_end: DateTime<Utc>,
) -> Option<i64> {
    let came = checked_in?;
    let left = checked_out.unwrap_or(event_end.max(came));
    Some((left - came).num_minutes().max(0))
}

/// Hours for a training record, to the quarter hour (at least a quarter for anyone present).
pub fn credit_hours(minutes: i64) -> rust_decimal::Decimal {
    let quarters = ((minutes + 7) / 15).max(1);
    rust_decimal::Decimal::new(quarters * 25, 2)
}

/// How a series repeats, as the API and the form give it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecurrenceInput {
    #[schema(schema_with = Pattern::schema_object)]
    pub pattern: Pattern,
    /// The last day an occurrence may fall on (at most 365 occurrences).
    pub until: NaiveDate,
}

/// An event as the API and the form give it. Times are wall-clock times in the department's
/// zone: `2026-12-08T19:00`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    #[schema(max_length = 200)]
    pub title: String,
    #[schema(schema_with = EventType::schema_object)]
    pub event_type: EventType,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    pub location_id: Option<Uuid>,
    /// Somewhere that is not one of the department's locations.
    #[schema(max_length = 200)]
    pub location_text: Option<String>,
    /// `YYYY-MM-DDTHH:MM`, the department's time.
    #[schema(example = "2026-12-08T19:00")]
    pub start: String,
    #[schema(example = "2026-12-08T21:00")]
    pub end: String,
    #[serde(default = "yes")]
    pub requires_rsvp: bool,
    /// `YYYY-MM-DDTHH:MM`: no answers after it.
    pub rsvp_deadline: Option<String>,
    #[schema(minimum = 1, maximum = 10000)]
    pub max_attendees: Option<u32>,
    #[serde(default)]
    pub is_mandatory: bool,
    /// Hours before the start (1–720); default 24.
    #[schema(minimum = 1, maximum = 720)]
    pub reminder_hours: Option<u16>,
    /// Default: everyone for a mandatory event, else those going.
    #[schema(schema_with = ReminderTarget::schema_object)]
    pub reminder_target: Option<ReminderTarget>,
    #[schema(schema_with = CheckInWindow::schema_object)]
    pub check_in_window: Option<CheckInWindow>,
    /// The course a training event credits.
    pub course_id: Option<Uuid>,
    pub template_id: Option<Uuid>,
    /// Hidden from members until published.
    #[serde(default)]
    pub is_draft: bool,
    pub recurrence: Option<RecurrenceInput>,
}

fn yes() -> bool {
    true
}

/// A checked event, its times as moments.
#[derive(Debug, Clone)]
pub struct ValidEvent {
    pub title: String,
    pub event_type: EventType,
    pub description: Option<String>,
    pub location_id: Option<Uuid>,
    pub location_text: Option<String>,
    pub start_local: NaiveDateTime,
    pub duration: Duration,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub requires_rsvp: bool,
    pub rsvp_deadline: Option<DateTime<Utc>>,
    pub max_attendees: Option<u32>,
    pub is_mandatory: bool,
    pub reminder_hours: u16,
    pub reminder_target: ReminderTarget,
    pub check_in_window: CheckInWindow,
    pub course_id: Option<Uuid>,
    pub template_id: Option<Uuid>,
    pub is_draft: bool,
    /// Each occurrence's wall-clock start (one for a single event).
    pub starts: Vec<NaiveDateTime>,
    pub recurrence: Option<String>,
}

/// `YYYY-MM-DDTHH:MM` (seconds allowed, a space instead of the T too).
pub fn parse_local(field: &str, raw: &str) -> AppResult<NaiveDateTime> {
    let raw = raw.trim();
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(t);
        }
    }
    Err(AppError::field(
        field,
        "must be a date and time such as 2026-12-08T19:00",
    ))
}

impl EventInput {
    pub fn validate(&self, tz: Tz) -> AppResult<ValidEvent> {
        let mut c = Checks::default();
        let title = c.take(input::required_text("title", &self.title, 200));
        let description = c.take(input::optional_paragraphs(
            "description",
            self.description.clone(),
            5000,
        ));
        let location_text = c.take(input::optional_text(
            "location_text",
            self.location_text.clone(),
            200,
        ));
        let start = c.take(parse_local("start", &self.start));
        let end = c.take(parse_local("end", &self.end));
        let deadline = match &self.rsvp_deadline {
            Some(d) if !d.trim().is_empty() => c.take(parse_local("rsvp_deadline", d)).map(Some),
            _ => Some(None),
        };
        if let (Some(s), Some(e)) = (start, end) {
            if e <= s {
                c.push("end", "must be after the start");
            } else if e - s > Duration::hours(72) {
                c.push("end", "must be within 72 hours of the start");
            }
        }
        if let Some(s) = start
            && !(2000..=2100).contains(&s.year())
        {
            c.push("start", "must be a year between 2000 and 2100");
        }
        if let (Some(Some(d)), Some(e)) = (deadline, end)
            && d > e
        {
            c.push("rsvp_deadline", "must be before the event ends");
        }
        if let Some(m) = self.max_attendees
            && !(1..=10_000).contains(&m)
        {
            c.push("max_attendees", "must be between 1 and 10000");
        }
        let reminder_hours = self.reminder_hours.unwrap_or(24);
        if !(1..=720).contains(&reminder_hours) {
            c.push("reminder_hours", "must be between 1 and 720 hours");
        }
        if self.location_id.is_some() && self.location_text.is_some() {
            c.push(
                "location_text",
                "must be empty when one of the department's locations is chosen",
            );
        }
        let mut starts = start.map(|s| vec![s]).unwrap_or_default();
        let mut recurrence = None;
        if let (Some(r), Some(s)) = (&self.recurrence, start) {
            if r.until < s.date() {
                c.push("recurrence.until", "must be on or after the first day");
            } else {
                match occurrences(r.pattern, s, r.until) {
                    Ok(all) => {
                        recurrence = Some(describe(r.pattern, s.date(), r.until));
                        starts = all;
                    }
                    Err(_) => c.push(
                        "recurrence.until",
                        format!("makes more than {MAX_OCCURRENCES} occurrences: choose an earlier last day"),
                    ),
                }
            }
        }
        c.finish()?;
        let (Some(title), Some(description), Some(location_text), Some(s), Some(e), Some(d)) =
            (title, description, location_text, start, end, deadline)
        else {
            return Err(AppError::field("", "the event is not complete"));
        };
        Ok(ValidEvent {
            title,
            event_type: self.event_type,
            description,
            location_id: self.location_id,
            location_text,
            start_local: s,
            duration: e - s,
            starts_at: to_utc(tz, s),
            ends_at: to_utc(tz, e),
            requires_rsvp: self.requires_rsvp,
            rsvp_deadline: d.map(|d| to_utc(tz, d)),
            max_attendees: self.max_attendees,
            is_mandatory: self.is_mandatory,
            reminder_hours,
            reminder_target: self.reminder_target.unwrap_or(if self.is_mandatory {
                ReminderTarget::All
            } else {
                ReminderTarget::Going
            }),
            check_in_window: self.check_in_window.unwrap_or(CheckInWindow::Flexible),
            course_id: self.course_id,
            template_id: self.template_id,
            is_draft: self.is_draft,
            starts,
            recurrence,
        })
    }
}

/// The wall-clock start and end of an occurrence that starts at `start_local` and lasts
/// `duration`, as moments (the end counted on the wall clock too, so a 2-hour drill on the night
/// the clocks change still ends at 9 PM).
pub fn moments(
    tz: Tz,
    start_local: NaiveDateTime,
    duration: Duration,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = to_utc(tz, start_local);
    let end = to_utc(tz, start_local + duration).max(start + Duration::minutes(1));
    (start, end)
}

/// Midnight at the start of `day` in the zone.
pub fn day_start(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    to_utc(tz, day.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn at(day: NaiveDate, h: u32, min: u32) -> NaiveDateTime {
        day.and_hms_opt(h, min, 0).unwrap()
    }

    fn days(v: &[NaiveDateTime]) -> Vec<NaiveDate> {
        v.iter().map(|t| t.date()).collect()
    }

    #[test]
    fn series_fall_on_the_days_a_department_expects() {
        struct Case {
            name: &'static str,
            pattern: Pattern,
            first: NaiveDate,
            until: NaiveDate,
            expect: Vec<NaiveDate>,
        }
        let cases = [
            Case {
                name: "daily, until included",
                pattern: Pattern::Daily,
                first: d(2026, 12, 30),
                until: d(2027, 1, 2),
                expect: vec![d(2026, 12, 30), d(2026, 12, 31), d(2027, 1, 1), d(2027, 1, 2)],
            },
            Case {
                name: "weekly across the year end",
                pattern: Pattern::Weekly,
                first: d(2026, 12, 22),
                until: d(2027, 1, 12),
                expect: vec![d(2026, 12, 22), d(2026, 12, 29), d(2027, 1, 5), d(2027, 1, 12)],
            },
            Case {
                name: "every other week",
                pattern: Pattern::Biweekly,
                first: d(2026, 12, 1),
                until: d(2027, 1, 11),
                expect: vec![d(2026, 12, 1), d(2026, 12, 15), d(2026, 12, 29)],
            },
            Case {
                name: "monthly on the 31st keeps the month's last day, then the 31st again",
                pattern: Pattern::Monthly,
                first: d(2027, 1, 31),
                until: d(2027, 5, 31),
                expect: vec![
                    d(2027, 1, 31),
                    d(2027, 2, 28),
                    d(2027, 3, 31),
                    d(2027, 4, 30),
                    d(2027, 5, 31),
                ],
            },
            Case {
                name: "monthly on the 30th in a leap February",
                pattern: Pattern::Monthly,
                first: d(2028, 1, 30),
                until: d(2028, 3, 30),
                expect: vec![d(2028, 1, 30), d(2028, 2, 29), d(2028, 3, 30)],
            },
            Case {
                name: "2nd Tuesday",
                pattern: Pattern::MonthlyWeekday,
                first: d(2026, 12, 8),
                until: d(2027, 3, 31),
                expect: vec![d(2026, 12, 8), d(2027, 1, 12), d(2027, 2, 9), d(2027, 3, 9)],
            },
            Case {
                name: "5th Thursday is the last Thursday",
                pattern: Pattern::MonthlyWeekday,
                first: d(2026, 12, 31),
                until: d(2027, 3, 31),
                expect: vec![d(2026, 12, 31), d(2027, 1, 28), d(2027, 2, 25), d(2027, 3, 25)],
            },
            Case {
                name: "yearly on 29 February",
                pattern: Pattern::Yearly,
                first: d(2028, 2, 29),
                until: d(2032, 3, 1),
                expect: vec![
                    d(2028, 2, 29),
                    d(2029, 2, 28),
                    d(2030, 2, 28),
                    d(2031, 2, 28),
                    d(2032, 2, 29),
                ],
            },
            Case {
                name: "until before the second occurrence",
                pattern: Pattern::Monthly,
                first: d(2026, 12, 15),
                until: d(2027, 1, 14),
                expect: vec![d(2026, 12, 15)],
            },
        ];
        for c in cases {
            let got = occurrences(c.pattern, at(c.first, 19, 0), c.until).unwrap();
            assert_eq!(days(&got), c.expect, "{}", c.name);
            assert!(got.iter().all(|t| t.time() == NaiveTime::from_hms_opt(19, 0, 0).unwrap()));
        }
    }

    #[test]
    fn a_series_is_at_most_365() {
        let first = at(d(2026, 1, 1), 8, 0);
        assert_eq!(
            occurrences(Pattern::Daily, first, d(2026, 12, 31)).unwrap().len(),
            365
        );
        assert!(occurrences(Pattern::Daily, first, d(2027, 1, 1)).is_err());
        assert!(occurrences(Pattern::Yearly, first, d(2300, 1, 1)).unwrap().len() <= 365);
    }

    #[test]
    fn a_weekly_drill_stays_at_seven_across_daylight_saving() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // Clocks go forward on 8 March 2026 and back on 1 November 2026.
        let starts = occurrences(Pattern::Weekly, at(d(2026, 3, 1), 19, 0), d(2026, 3, 15)).unwrap();
        let utc: Vec<String> = starts
            .iter()
            .map(|s| to_utc(tz, *s).format("%m-%d %H:%M").to_string())
            .collect();
        assert_eq!(utc, ["03-02 00:00", "03-08 23:00", "03-15 23:00"]);
        let starts = occurrences(Pattern::Weekly, at(d(2026, 10, 25), 19, 0), d(2026, 11, 1)).unwrap();
        let utc: Vec<String> = starts
            .iter()
            .map(|s| to_utc(tz, *s).format("%m-%d %H:%M").to_string())
            .collect();
        assert_eq!(utc, ["10-25 23:00", "11-02 00:00"]);
        // 2:30 AM on 8 March does not exist: the first minute after the gap.
        assert_eq!(
            to_utc(tz, at(d(2026, 3, 8), 2, 30)).format("%H:%M").to_string(),
            "07:00"
        );
        // 1:30 AM on 1 November happens twice: the first of them (EDT).
        assert_eq!(
            to_utc(tz, at(d(2026, 11, 1), 1, 30)).format("%H:%M").to_string(),
            "05:30"
        );
        // A drill across the change ends at its wall-clock end.
        let (s, e) = moments(tz, at(d(2026, 11, 1), 0, 30), Duration::hours(2));
        assert_eq!((e - s).num_minutes(), 180);
    }

    #[test]
    fn check_in_opens_and_closes_at_the_edges() {
        let start = Utc.with_ymd_and_hms(2026, 12, 8, 0, 0, 0).unwrap();
        let end = start + Duration::hours(2);
        let m = |n: i64| start + Duration::minutes(n);
        let cases = [
            (CheckInWindow::Flexible, -61, false),
            (CheckInWindow::Flexible, -60, true),
            (CheckInWindow::Flexible, 120, true),
            (CheckInWindow::Flexible, 121, false),
            (CheckInWindow::Strict, -1, false),
            (CheckInWindow::Strict, 0, true),
            (CheckInWindow::Strict, 120, true),
            (CheckInWindow::Strict, 121, false),
            (CheckInWindow::Window, -16, false),
            (CheckInWindow::Window, -15, true),
            (CheckInWindow::Window, 15, true),
            (CheckInWindow::Window, 16, false),
        ];
        for (w, at, open) in cases {
            assert_eq!(check_in_open(w, start, end, m(at)), open, "{w} at {at}");
        }
    }

    #[test]
    fn attendance_counts_from_check_in() {
        let start = Utc.with_ymd_and_hms(2026, 12, 8, 0, 0, 0).unwrap();
        let end = start + Duration::hours(2);
        let m = |n: i64| Some(start + Duration::minutes(n));
        assert_eq!(attended_minutes(None, None, end), None);
        assert_eq!(attended_minutes(m(0), None, end), Some(120));
        assert_eq!(attended_minutes(m(30), m(90), end), Some(60));
        assert_eq!(attended_minutes(m(150), None, end), Some(0));
        assert_eq!(credit_hours(120).to_string(), "2.00");
        assert_eq!(credit_hours(97).to_string(), "1.50");
        assert_eq!(credit_hours(98).to_string(), "1.75");
        assert_eq!(credit_hours(0).to_string(), "0.25");
    }

    #[test]
    fn weekday_phrases() {
        assert_eq!(weekday_phrase(d(2026, 12, 8)), "2nd Tuesday");
        assert_eq!(weekday_phrase(d(2026, 12, 31)), "last Thursday");
        assert_eq!(nth_weekday(2027, 2, Weekday::Thu, 5), d(2027, 2, 25));
    }
}
