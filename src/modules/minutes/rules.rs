//! Minutes' words and pure rules: the workflow (what may happen to minutes in which state), the
//! meeting types and the sections their templates start with, action-item reminders, and the
//! attendance percentage that voting eligibility reads.

use chrono::NaiveDate;

crate::words! {
    pub enum MeetingType {
        /// The regular monthly business meeting.
        Business = "business",
        Special = "special",
        Committee = "committee",
        Board = "board",
        Annual = "annual",
        Other = "other",
    }
}

impl MeetingType {
    /// Whether members are expected at it: business, special and annual meetings count toward a
    /// member's meeting attendance; committee and board meetings are for their members only.
    pub fn counts_for_attendance(self) -> bool {
        matches!(
            self,
            MeetingType::Business | MeetingType::Special | MeetingType::Annual
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            MeetingType::Business => "Business meeting",
            MeetingType::Special => "Special meeting",
            MeetingType::Committee => "Committee meeting",
            MeetingType::Board => "Board meeting",
            MeetingType::Annual => "Annual meeting",
            MeetingType::Other => "Meeting",
        }
    }

    /// The sections a department's default template for this type starts with.
    pub fn default_sections(self) -> &'static [&'static str] {
        match self {
            MeetingType::Business => &[
                "Call to Order",
                "Roll Call",
                "Approval of Previous Minutes",
                "Treasurer's Report",
                "Chief's Report",
                "Committee Reports",
                "Old Business",
                "New Business",
                "Announcements",
                "Adjournment",
            ],
            MeetingType::Special => &[
                "Call to Order",
                "Roll Call",
                "Purpose of the Meeting",
                "Business",
                "Adjournment",
            ],
            MeetingType::Annual => &[
                "Call to Order",
                "Roll Call",
                "Approval of Previous Minutes",
                "Annual Reports",
                "Election of Officers",
                "New Business",
                "Adjournment",
            ],
            MeetingType::Committee | MeetingType::Board | MeetingType::Other => &[
                "Call to Order",
                "Present",
                "Discussion",
                "Decisions",
                "Adjournment",
            ],
        }
    }
}

crate::words! {
    pub enum MinutesStatus {
        /// Being written; the secretary may change anything.
        Draft = "draft",
        /// Waiting for approval; locked until approved or sent back.
        Submitted = "submitted",
        /// The record: locked for good.
        Approved = "approved",
        /// Sent back with a reason; the secretary edits it (back to draft) and submits again.
        Rejected = "rejected",
    }
}

/// What may be done to minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Change the header, sections, motions, action items or attendance.
    Edit,
    Submit,
    Approve,
    Reject,
    Delete,
    Publish,
}

/// The workflow: the state minutes are in after `step`, or why the step is refused. Editing
/// rejected minutes puts them back in draft; approved minutes are locked.
pub fn next(status: MinutesStatus, step: Step) -> Result<MinutesStatus, &'static str> {
    use MinutesStatus::*;
    match (step, status) {
        (Step::Edit, Draft | Rejected) => Ok(Draft),
        (Step::Edit, Submitted) => Err("the minutes are submitted for approval: reject them to \
                                        make changes"),
        (Step::Edit, Approved) => Err("approved minutes are locked"),
        (Step::Submit, Draft | Rejected) => Ok(Submitted),
        (Step::Submit, Submitted) => Err("the minutes are already submitted"),
        (Step::Submit, Approved) => Err("the minutes are already approved"),
        (Step::Approve, Submitted) => Ok(Approved),
        (Step::Approve, Approved) => Err("the minutes are already approved"),
        (Step::Approve, Draft | Rejected) => Err("only submitted minutes can be approved"),
        (Step::Reject, Submitted) => Ok(Rejected),
        (Step::Reject, Approved) => Err("approved minutes are locked"),
        (Step::Reject, Draft | Rejected) => Err("only submitted minutes can be rejected"),
        (Step::Delete, Draft) => Ok(Draft),
        (Step::Delete, _) => Err("only draft minutes can be deleted"),
        (Step::Publish, Approved) => Ok(Approved),
        (Step::Publish, _) => Err("only approved minutes can be published"),
    }
}

crate::words! {
    pub enum MotionResult {
        Passed = "passed",
        Failed = "failed",
        Tabled = "tabled",
        Withdrawn = "withdrawn",
    }
}

crate::words! {
    pub enum Priority {
        Low = "low",
        Medium = "medium",
        High = "high",
        Urgent = "urgent",
    }
}

crate::words! {
    pub enum ItemStatus {
        Pending = "pending",
        InProgress = "in_progress",
        Completed = "completed",
        Cancelled = "cancelled",
    }
}

impl ItemStatus {
    pub fn open(self) -> bool {
        matches!(self, ItemStatus::Pending | ItemStatus::InProgress)
    }

    pub fn label(self) -> &'static str {
        match self {
            ItemStatus::Pending => "Not started",
            ItemStatus::InProgress => "In progress",
            ItemStatus::Completed => "Done",
            ItemStatus::Cancelled => "Cancelled",
        }
    }
}

crate::words! {
    pub enum Attendance {
        Present = "present",
        /// Excused: the meeting does not count against the member.
        Excused = "excused",
    }
}

/// An action item's reminders, each sent once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reminder {
    /// Due in three days (or two).
    ThreeDays,
    /// Due tomorrow or today.
    OneDay,
    Overdue,
}

impl Reminder {
    pub fn key(self) -> &'static str {
        match self {
            Reminder::ThreeDays => "3d",
            Reminder::OneDay => "1d",
            Reminder::Overdue => "overdue",
        }
    }
}

/// The reminder an open item due on `due` is owed on `today`, if any. A day the job missed
/// does not lose a reminder: each covers a range of days, and each is sent once.
pub fn reminder(due: NaiveDate, today: NaiveDate) -> Option<Reminder> {
    let days = (due - today).num_days();
    match days {
        ..0 => Some(Reminder::Overdue),
        0..=1 => Some(Reminder::OneDay),
        2..=3 => Some(Reminder::ThreeDays),
        _ => None,
    }
}

/// A member's attendance over the meetings that count: present ÷ (meetings − excused), as a
/// whole percentage rounded down. No meeting to count means nothing to hold against them: 100.
pub fn attendance_pct(present: u32, counted: u32) -> u8 {
    if counted == 0 {
        return 100;
    }
    (u64::from(present.min(counted)) * 100 / u64::from(counted)) as u8
}

/// The first day of the window of `months` months that ends on `as_of`.
pub fn window_start(as_of: NaiveDate, months: u32) -> NaiveDate {
    as_of
        .checked_sub_months(chrono::Months::new(months))
        .unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use MinutesStatus::*;

    #[test]
    fn the_workflow_says_what_may_happen_in_which_state() {
        let cases: &[(Step, MinutesStatus, Option<MinutesStatus>)] = &[
            (Step::Edit, Draft, Some(Draft)),
            (Step::Edit, Rejected, Some(Draft)),
            (Step::Edit, Submitted, None),
            (Step::Edit, Approved, None),
            (Step::Submit, Draft, Some(Submitted)),
            (Step::Submit, Rejected, Some(Submitted)),
            (Step::Submit, Submitted, None),
            (Step::Submit, Approved, None),
            (Step::Approve, Submitted, Some(Approved)),
            (Step::Approve, Draft, None),
            (Step::Approve, Rejected, None),
            (Step::Approve, Approved, None),
            (Step::Reject, Submitted, Some(Rejected)),
            (Step::Reject, Draft, None),
            (Step::Reject, Rejected, None),
            (Step::Reject, Approved, None),
            (Step::Delete, Draft, Some(Draft)),
            (Step::Delete, Rejected, None),
            (Step::Delete, Submitted, None),
            (Step::Delete, Approved, None),
            (Step::Publish, Approved, Some(Approved)),
            (Step::Publish, Draft, None),
            (Step::Publish, Submitted, None),
            (Step::Publish, Rejected, None),
        ];
        for (step, from, to) in cases {
            assert_eq!(next(*from, *step).ok(), *to, "{step:?} from {from:?}");
        }
    }

    #[test]
    fn reminders_fall_three_days_one_day_and_after_the_due_date() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let due = d("2027-03-10");
        let cases = [
            ("2027-03-01", None),
            ("2027-03-06", None),
            ("2027-03-07", Some(Reminder::ThreeDays)),
            ("2027-03-08", Some(Reminder::ThreeDays)),
            ("2027-03-09", Some(Reminder::OneDay)),
            ("2027-03-10", Some(Reminder::OneDay)),
            ("2027-03-11", Some(Reminder::Overdue)),
            ("2027-06-01", Some(Reminder::Overdue)),
        ];
        for (today, want) in cases {
            assert_eq!(reminder(due, d(today)), want, "{today}");
        }
    }

    #[test]
    fn attendance_is_present_over_meetings_that_count() {
        let cases = [
            (0, 0, 100),
            (0, 4, 0),
            (1, 3, 33),
            (2, 4, 50),
            (5, 6, 83),
            (6, 6, 100),
            (7, 6, 100),
        ];
        for (present, counted, want) in cases {
            assert_eq!(attendance_pct(present, counted), want, "{present}/{counted}");
        }
    }

    #[test]
    fn the_window_ends_on_the_day_asked_and_clamps_month_ends() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(window_start(d("2027-03-15"), 12), d("2026-03-15"));
        assert_eq!(window_start(d("2027-03-31"), 1), d("2027-02-28"));
        assert_eq!(window_start(d("2028-02-29"), 12), d("2027-02-28"));
    }

    #[test]
    fn only_meetings_members_are_expected_at_count() {
        assert!(MeetingType::Business.counts_for_attendance());
        assert!(MeetingType::Annual.counts_for_attendance());
        assert!(!MeetingType::Committee.counts_for_attendance());
        assert!(!MeetingType::Board.counts_for_attendance());
        for t in MeetingType::WORDS {
            let t = MeetingType::parse(t).unwrap();
            assert!(!t.default_sections().is_empty());
        }
    }
}
