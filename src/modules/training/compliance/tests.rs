//! The compliance engine as a table of cases.

use super::*;
use crate::time::today_in;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn h(s: &str) -> Hours {
    s.parse().unwrap()
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

const COMPANY: u128 = 900;
const OTHER_CATEGORY: u128 = 901;
const CPR: u128 = 800;
const EVOC: u128 = 801;

fn hours_req(required: &str, period: Period) -> Requirement {
    Requirement {
        id: id(1),
        name: "Company training".into(),
        kind: Kind::Hours,
        category_id: Some(id(COMPANY)),
        category_name: Some("Company training".into()),
        training_type: None,
        required_hours: h(required),
        required_count: 0,
        course_ids: Vec::new(),
        registry_code: None,
        period,
        include_current_month: true,
        recency_days: None,
    }
}

fn cert_req() -> Requirement {
    Requirement {
        id: id(2),
        name: "CPR".into(),
        kind: Kind::Certification,
        category_id: None,
        category_name: None,
        training_type: None,
        required_hours: Hours::ZERO,
        required_count: 1,
        course_ids: vec![id(CPR)],
        registry_code: None,
        period: Period::OneTime,
        include_current_month: true,
        recency_days: None,
    }
}

fn rec(n: u128, date: &str, hours: &str) -> Record {
    Record {
        id: id(n),
        course_id: None,
        category_id: Some(id(COMPANY)),
        course_name: "Drill".into(),
        training_type: "drill".into(),
        completion_date: d(date),
        expiration_date: None,
        hours: h(hours),
        certification_number: None,
        course_code: None,
    }
}

fn cert(n: u128, course: u128, date: &str, expires: Option<&str>) -> Record {
    Record {
        id: id(n),
        course_id: Some(id(course)),
        category_id: None,
        course_name: "CPR".into(),
        training_type: "certification".into(),
        completion_date: d(date),
        expiration_date: expires.map(d),
        hours: h("4"),
        certification_number: None,
        course_code: None,
    }
}

fn leave(n: u128, start: &str, end: Option<&str>) -> Waiver {
    Waiver {
        id: id(n),
        start: d(start),
        end: end.map(d),
        requirement_ids: None,
        kind: "leave of absence".into(),
    }
}

struct Case {
    name: &'static str,
    req: Requirement,
    records: Vec<Record>,
    waivers: Vec<Waiver>,
    as_of: &'static str,
    outcome: Outcome,
    done: &'static str,
    adjusted: &'static str,
    counted: Vec<u128>,
}

fn case(
    name: &'static str,
    req: Requirement,
    records: Vec<Record>,
    waivers: Vec<Waiver>,
    as_of: &'static str,
    (outcome, done, adjusted): (Outcome, &'static str, &'static str),
    counted: Vec<u128>,
) -> Case {
    Case {
        name,
        req,
        records,
        waivers,
        as_of,
        outcome,
        done,
        adjusted,
        counted,
    }
}

#[test]
fn requirements_by_period_waiver_and_certification() {
    use Outcome::*;
    let shifts = Requirement {
        kind: Kind::Shifts,
        required_count: 2,
        category_id: None,
        category_name: None,
        ..hours_req("0", Period::Monthly)
    };
    let shift = |n, date| Record {
        training_type: "shift".into(),
        ..rec(n, date, "12")
    };
    let courses = Requirement {
        kind: Kind::Courses,
        course_ids: vec![id(CPR), id(EVOC)],
        category_id: None,
        category_name: None,
        ..hours_req("0", Period::OneTime)
    };
    let for_other_requirement = Waiver {
        requirement_ids: Some(vec![id(99)]),
        ..leave(50, "2026-01-01", Some("2026-12-31"))
    };
    let cases = vec![
        case(
            "annual: hours so far",
            hours_req("24", Period::Annual),
            vec![rec(10, "2026-03-01", "8")],
            vec![],
            "2026-06-30",
            (InProgress, "8", "24"),
            vec![10],
        ),
        case(
            "annual: exactly the target is met",
            hours_req("24", Period::Annual),
            vec![
                rec(10, "2026-01-01", "12.25"),
                rec(11, "2026-12-31", "11.75"),
            ],
            vec![],
            "2026-12-31",
            (Met, "24", "24"),
            vec![10, 11],
        ),
        case(
            "annual: last year's records do not count",
            hours_req("24", Period::Annual),
            vec![rec(10, "2025-12-31", "24")],
            vec![],
            "2026-01-01",
            (NotStarted, "0", "24"),
            vec![],
        ),
        case(
            "annual: records after the date asked do not count",
            hours_req("24", Period::Annual),
            vec![rec(10, "2026-07-01", "24")],
            vec![],
            "2026-06-30",
            (NotStarted, "0", "24"),
            vec![],
        ),
        case(
            "annual: another category does not count",
            hours_req("24", Period::Annual),
            vec![Record {
                category_id: Some(id(OTHER_CATEGORY)),
                ..rec(10, "2026-02-01", "30")
            }],
            vec![],
            "2026-06-30",
            (NotStarted, "0", "24"),
            vec![],
        ),
        case(
            "quarterly: the previous quarter does not count",
            hours_req("6", Period::Quarterly),
            vec![rec(10, "2026-03-31", "6"), rec(11, "2026-04-01", "2")],
            vec![],
            "2026-06-30",
            (InProgress, "2", "6"),
            vec![11],
        ),
        case(
            "monthly: the month's last day counts",
            hours_req("4", Period::Monthly),
            vec![rec(10, "2026-02-28", "4"), rec(11, "2026-01-31", "4")],
            vec![],
            "2026-02-28",
            (Met, "4", "4"),
            vec![10],
        ),
        case(
            "rolling 12 months: from the same date a year before, both days included (rule 11)",
            hours_req("10", Period::Rolling(12)),
            vec![
                rec(9, "2025-06-14", "5"),
                rec(10, "2025-06-15", "5"),
                rec(11, "2025-06-16", "5"),
                rec(12, "2026-06-15", "1"),
            ],
            vec![],
            "2026-06-15",
            (Met, "11", "10"),
            vec![10, 11, 12],
        ),
        case(
            "rolling 3 months from a month's end: the window starts on the clamped day",
            hours_req("9", Period::Rolling(3)),
            vec![rec(10, "2026-02-27", "4"), rec(11, "2026-02-28", "4")],
            vec![],
            "2026-05-31",
            (InProgress, "4", "9"),
            vec![11],
        ),
        case(
            "rolling: a slice covered for exactly 15 days is waived (its slices end at as_of)",
            hours_req("12", Period::Rolling(12)),
            vec![],
            // The slice 2026-01-16 – 2026-02-15: covered 2026-02-01 – 2026-02-15, 15 days.
            vec![leave(50, "2026-02-01", Some("2026-02-15"))],
            "2026-06-15",
            (NotStarted, "0", "11"),
            vec![],
        ),
        case(
            "rolling: 14 covered days of a slice waive nothing",
            hours_req("12", Period::Rolling(12)),
            vec![],
            vec![leave(50, "2026-02-02", Some("2026-02-15"))],
            "2026-06-15",
            (NotStarted, "0", "12"),
            vec![],
        ),
        case(
            "rolling: a waiver in the window's first, partial calendar month waives its slice",
            hours_req("12", Period::Rolling(12)),
            vec![],
            // The first slice is 2025-06-15 – 2025-07-15 (the window's first day and a month).
            vec![leave(50, "2025-06-15", Some("2025-06-30"))],
            "2026-06-15",
            (NotStarted, "0", "11"),
            vec![],
        ),
        case(
            "one time: any date before counts",
            Requirement {
                ..hours_req("40", Period::OneTime)
            },
            vec![rec(10, "2015-05-05", "40")],
            vec![],
            "2026-06-30",
            (Met, "40", "40"),
            vec![10],
        ),
        case(
            "a target of 0 is met",
            hours_req("0", Period::Annual),
            vec![],
            vec![],
            "2026-06-30",
            (Met, "0", "0"),
            vec![],
        ),
        case(
            "waiver: 15 days of a month waive it (two months: 24 → 20)",
            hours_req("24", Period::Annual),
            vec![rec(10, "2026-05-01", "20")],
            vec![leave(50, "2026-03-17", Some("2026-04-15"))],
            "2026-12-31",
            (Met, "20", "20"),
            vec![10],
        ),
        case(
            "waiver: 14 days do not waive the month",
            hours_req("24", Period::Annual),
            vec![rec(10, "2026-05-01", "20")],
            vec![leave(50, "2026-03-18", Some("2026-03-31"))],
            "2026-12-31",
            (InProgress, "20", "24"),
            vec![10],
        ),
        case(
            "waiver: overlapping waivers count each day once (10 + 10 − 5 = 15 days)",
            hours_req("12", Period::Annual),
            vec![],
            vec![
                leave(50, "2026-09-01", Some("2026-09-10")),
                Waiver {
                    kind: "medical".into(),
                    ..leave(51, "2026-09-06", Some("2026-09-15"))
                },
            ],
            "2026-12-31",
            (NotStarted, "0", "11"),
            vec![],
        ),
        case(
            "pro-rating rounds to two decimals (10 × 7/12)",
            hours_req("10", Period::Annual),
            vec![],
            vec![leave(50, "2026-01-01", Some("2026-05-31"))],
            "2026-12-31",
            (NotStarted, "0", "5.83"),
            vec![],
        ),
        case(
            "ISO company hours with one month waived: 192 × 11/12 = 176",
            hours_req("192", Period::Annual),
            vec![rec(10, "2026-02-01", "176")],
            vec![leave(50, "2026-08-01", Some("2026-08-31"))],
            "2026-12-31",
            (Met, "176", "176"),
            vec![10],
        ),
        case(
            "every month waived: the requirement is waived",
            hours_req("24", Period::Annual),
            vec![],
            vec![leave(50, "2025-11-01", None)],
            "2026-06-30",
            (Waived, "0", "0"),
            vec![],
        ),
        case(
            "a waiver for another requirement changes nothing",
            hours_req("24", Period::Annual),
            vec![],
            vec![for_other_requirement],
            "2026-06-30",
            (NotStarted, "0", "24"),
            vec![],
        ),
        case(
            "leap year: 15 of 29 February days waive the month",
            hours_req("4", Period::Monthly),
            vec![],
            vec![leave(50, "2028-02-15", Some("2028-02-29"))],
            "2028-02-29",
            (Waived, "0", "0"),
            vec![],
        ),
        case(
            "not a leap year: 14 February days do not",
            hours_req("4", Period::Monthly),
            vec![],
            vec![leave(50, "2027-02-15", Some("2027-02-28"))],
            "2027-02-28",
            (NotStarted, "0", "4"),
            vec![],
        ),
        case(
            "current month left out: judged at the end of last month (last year on Jan 15)",
            Requirement {
                include_current_month: false,
                ..hours_req("24", Period::Annual)
            },
            vec![rec(10, "2025-12-20", "24"), rec(11, "2026-01-10", "24")],
            vec![],
            "2026-01-15",
            (Met, "24", "24"),
            vec![10],
        ),
        case(
            "shifts: records of type shift are counted",
            shifts.clone(),
            vec![shift(10, "2026-06-01"), rec(11, "2026-06-02", "3")],
            vec![],
            "2026-06-30",
            (InProgress, "1", "2"),
            vec![10],
        ),
        case(
            "courses: one of two done",
            courses.clone(),
            vec![cert(10, CPR, "2026-01-10", Some("2028-01-10"))],
            vec![],
            "2026-06-30",
            (InProgress, "1", "2"),
            vec![10],
        ),
        case(
            "courses: an expired completion is missing",
            courses,
            vec![
                cert(10, CPR, "2024-01-10", Some("2026-01-10")),
                Record {
                    course_id: Some(id(EVOC)),
                    ..cert(11, EVOC, "2025-01-01", None)
                },
            ],
            vec![],
            "2026-06-30",
            (Expired, "1", "2"),
            vec![10, 11],
        ),
        case(
            "certification valid through its expiry date",
            cert_req(),
            vec![cert(10, CPR, "2024-06-30", Some("2026-06-30"))],
            vec![],
            "2026-06-30",
            (Expiring, "1", "1"),
            vec![10],
        ),
        case(
            "certification expired the day after",
            cert_req(),
            vec![cert(10, CPR, "2024-06-30", Some("2026-06-30"))],
            vec![],
            "2026-07-01",
            (Expired, "0", "1"),
            vec![10],
        ),
        case(
            "certification expiring in 90 days is yellow",
            cert_req(),
            vec![cert(10, CPR, "2025-01-01", Some("2026-09-28"))],
            vec![],
            "2026-06-30",
            (Expiring, "1", "1"),
            vec![10],
        ),
        case(
            "certification expiring in 91 days is fine",
            cert_req(),
            vec![cert(10, CPR, "2025-01-01", Some("2026-09-29"))],
            vec![],
            "2026-06-30",
            (Met, "1", "1"),
            vec![10],
        ),
        case(
            "the latest expiry decides, not the latest completion",
            cert_req(),
            vec![
                cert(10, CPR, "2025-01-01", Some("2027-01-01")),
                cert(11, CPR, "2026-01-01", Some("2026-03-01")),
            ],
            vec![],
            "2026-06-30",
            (Met, "1", "1"),
            vec![10],
        ),
        case(
            "no certification",
            cert_req(),
            vec![],
            vec![],
            "2026-06-30",
            (NotStarted, "0", "1"),
            vec![],
        ),
    ];
    let mut failures = Vec::new();
    for c in &cases {
        let r = evaluate(&c.req, &c.records, &c.waivers, d(c.as_of));
        let counted: Vec<Uuid> = c.counted.iter().map(|n| id(*n)).collect();
        if r.outcome != c.outcome
            || r.done != h(c.done)
            || r.adjusted_required != h(c.adjusted)
            || r.counted_records != counted
        {
            failures.push(format!(
                "{}: got {:?} done {} of {} counted {:?} ({})",
                c.name, r.outcome, r.done, r.adjusted_required, r.counted_records, r.explanation
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_reason_is_in_words() {
    let r = evaluate(
        &hours_req("24", Period::Annual),
        &[rec(10, "2026-03-01", "8")],
        &[leave(50, "2026-01-01", Some("2026-02-28"))],
        d("2026-06-30"),
    );
    assert_eq!(r.months_in_period, 12);
    assert_eq!(r.months_waived, 2);
    assert_eq!(r.waived_by, vec![id(50)]);
    assert_eq!(r.percent, 40.0);
    assert_eq!(
        r.explanation,
        "8 of 20 hours of company training this year (pro-rated from 24); 2 of 12 months waived \
         for leave of absence"
    );
    let plain = evaluate(
        &hours_req("24", Period::Annual),
        &[rec(10, "2026-03-01", "8")],
        &[],
        d("2026-06-30"),
    );
    assert_eq!(
        plain.explanation,
        "8 of 24 hours of company training this year"
    );
    assert_eq!(plain.percent, 33.3);
}

#[test]
fn the_overall_colour() {
    let a = hours_req("24", Period::Annual);
    let b = Requirement {
        id: id(3),
        ..hours_req("4", Period::Annual)
    };
    let c = Requirement {
        id: id(4),
        ..hours_req("100", Period::Annual)
    };
    let as_of = d("2026-06-30");
    let records = vec![rec(10, "2026-03-01", "30")];
    // 2 of 3 met: yellow; 1 of 3 met: red (fewer than half); all met: green.
    let m = member(
        &[a.clone(), b.clone(), c.clone()],
        &records,
        &[],
        as_of,
        None, crate::time::Locale::iso(),
);
    assert_eq!(
        (m.status, m.requirements_met, m.requirements_total),
        (Colour::Yellow, 2, 3)
    );
    assert!(
        m.reason
            .starts_with("2 of 3 requirements met: 30 of 100 hours"),
        "{}",
        m.reason
    );
    let few = vec![rec(10, "2026-03-01", "5")];
    let m = member(&[a.clone(), b.clone(), c.clone()], &few, &[], as_of, None, crate::time::Locale::iso());
    assert_eq!((m.status, m.requirements_met), (Colour::Red, 1));
    let m = member(&[a.clone(), b.clone()], &records, &[], as_of, None, crate::time::Locale::iso());
    assert_eq!(m.status, Colour::Green);
    assert_eq!(m.reason, "All 2 requirements met");
    // An expired certification makes red even with everything else met.
    let m = member(
        &[a.clone(), b.clone(), cert_req()],
        &[
            records[0].clone(),
            cert(11, CPR, "2024-01-01", Some("2026-01-01")),
        ],
        &[],
        as_of,
        None, crate::time::Locale::iso(),
);
    assert_eq!(m.status, Colour::Red);
    assert!(
        m.reason.contains("CPR expired on 2026-01-01"),
        "{}",
        m.reason
    );
    // One expiring soon: yellow.
    let m = member(
        &[a.clone(), cert_req()],
        &[
            records[0].clone(),
            cert(11, CPR, "2025-01-01", Some("2026-08-01")),
        ],
        &[],
        as_of,
        None, crate::time::Locale::iso(),
);
    assert_eq!(m.status, Colour::Yellow);
    // Exempt: green, nothing evaluated.
    let m = member(&[a, b, c], &[], &[], as_of, Some("life member"), crate::time::Locale::iso());
    assert!(m.exempt);
    assert_eq!(m.status, Colour::Green);
    assert_eq!(m.reason, "Exempt from training requirements (life member)");
    // Nothing applies.
    assert_eq!(member(&[], &[], &[], as_of, None, crate::time::Locale::iso()).status, Colour::Green);
}

#[test]
fn who_a_requirement_applies_to() {
    let (officer, firefighter, life) = (id(70), id(71), id(72));
    assert!(applies("all", &[], &[], &[], None));
    assert!(applies(
        "roles",
        &[officer],
        &[],
        &[firefighter, officer],
        None
    ));
    assert!(!applies("roles", &[officer], &[], &[firefighter], None));
    assert!(applies("tiers", &[], &[life], &[], Some(life)));
    assert!(!applies("tiers", &[], &[life], &[officer], None));
}

#[test]
fn today_is_the_departments_date() {
    let instant = chrono::DateTime::parse_from_rfc3339("2027-01-01T05:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    // Still New Year's Eve in California: this year's annual period is 2026's.
    let la = today_in("America/Los_Angeles", instant);
    assert_eq!(la, d("2026-12-31"));
    assert_eq!(today_in("Europe/Berlin", instant), d("2027-01-01"));
    assert_eq!(
        period_bounds(Period::Annual, la),
        (d("2026-01-01"), d("2026-12-31"))
    );
    assert_eq!(
        period_bounds(Period::Quarterly, d("2026-08-15")),
        (d("2026-07-01"), d("2026-09-30"))
    );
}

#[test]
fn expiry_from_the_course_clamps_to_the_months_end() {
    assert_eq!(
        expiry_from_course(d("2026-01-31"), Some(1)),
        Some(d("2026-02-28"))
    );
    assert_eq!(
        expiry_from_course(d("2028-02-29"), Some(12)),
        Some(d("2029-02-28"))
    );
    assert_eq!(
        expiry_from_course(d("2026-05-10"), Some(24)),
        Some(d("2028-05-10"))
    );
    assert_eq!(expiry_from_course(d("2026-05-10"), None), None);
}

#[test]
fn pace_compares_what_is_done_with_the_share_of_the_period_gone() {
    let result = |done: &str, outcome: Outcome, kind: Kind| RequirementResult {
        requirement_id: id(1),
        name: "Annual hours".into(),
        kind,
        period_start: Some(d("2026-01-01")),
        period_end: Some(d("2026-12-31")),
        judged_at: d("2026-06-30"),
        required: h("24"),
        adjusted_required: h("24"),
        done: h(done),
        unit: "hours",
        months_in_period: 12,
        months_waived: 0,
        waived_by: vec![],
        counted_records: vec![],
        expires_on: None,
        missing_courses: vec![],
        outcome,
        percent: 0.0,
        explanation: String::new(),
    };
    // July 2: 183 of 365 days gone, so about 12 of 24 hours expected.
    let mid = d("2026-07-02");
    assert_eq!(result("6", Outcome::InProgress, Kind::Hours).pace(mid), Some("behind"));
    assert_eq!(result("12.1", Outcome::InProgress, Kind::Hours).pace(mid), Some("on_pace"));
    assert_eq!(result("0", Outcome::NotStarted, Kind::Hours).pace(d("2026-01-01")), Some("behind"));
    // The first day counts: nothing done on January 1 is already a little behind, and on
    // the last day anything short is behind.
    assert_eq!(result("23.9", Outcome::InProgress, Kind::Hours).pace(d("2026-12-31")), Some("behind"));
    // Met, or a kind without a pace: none.
    assert_eq!(result("24", Outcome::Met, Kind::Hours).pace(mid), None);
    assert_eq!(result("0", Outcome::NotStarted, Kind::Courses).pace(mid), None);
    assert_eq!(result("0", Outcome::NotStarted, Kind::Certification).pace(mid), None);
    let mut one_time = result("0", Outcome::NotStarted, Kind::Hours);
    one_time.period_start = None;
    assert_eq!(one_time.pace(mid), None);
}

/// Rule 13: a certification record meets the requirement through its courses, through the
/// registry code (the course's code, or inside the certification number), or — only where the
/// requirement names no course and no code — by the requirement's name in the course name.
#[test]
fn a_certificate_is_matched_by_course_registry_code_or_name() {
    let as_of = d("2026-06-30");
    let loose = |n: u128, name: &str, number: Option<&str>, code: Option<&str>| Record {
        id: id(n),
        course_id: None,
        category_id: None,
        course_name: name.into(),
        training_type: "certification".into(),
        completion_date: d("2026-01-10"),
        expiration_date: Some(d("2028-01-10")),
        hours: h("8"),
        certification_number: number.map(Into::into),
        course_code: code.map(Into::into),
    };
    let by_code = Requirement {
        registry_code: Some("NREMT".into()),
        course_ids: Vec::new(),
        name: "EMT".into(),
        ..cert_req()
    };
    // Inside a longer certification number, letters in any case.
    let r = evaluate(
        &by_code,
        &[loose(10, "Emergency medical technician", Some("ab-nremt-12345"), None)],
        &[],
        as_of,
    );
    assert_eq!(r.outcome, Outcome::Met, "{}", r.explanation);
    assert_eq!(r.counted_records, vec![id(10)]);
    assert_eq!(
        r.explanation,
        "Emergency medical technician valid until 2028-01-10 (certificate ab-nremt-12345 \
         matched by registry code)"
    );
    // As the course's code.
    let r = evaluate(
        &by_code,
        &[loose(11, "EMT-B", None, Some("nremt"))],
        &[],
        as_of,
    );
    assert_eq!(r.outcome, Outcome::Met, "{}", r.explanation);
    // A code names what counts: the name alone does not, nor another number.
    let r = evaluate(
        &by_code,
        &[loose(12, "EMT refresher", Some("STATE-991"), Some("EMT-R"))],
        &[],
        as_of,
    );
    assert_eq!(r.outcome, Outcome::NotStarted, "{}", r.explanation);

    // No course and no code: the requirement's name inside the course name (any case).
    let by_name = Requirement {
        course_ids: Vec::new(),
        name: "CPR".into(),
        ..cert_req()
    };
    let r = evaluate(
        &by_name,
        &[loose(13, "Adult and child cpr (AHA)", Some("X-1"), None)],
        &[],
        as_of,
    );
    assert_eq!(r.outcome, Outcome::Met, "{}", r.explanation);
    assert!(r.explanation.ends_with("(matched by name)"), "{}", r.explanation);
    // A requirement that names its course does not take a record by name: a certificate
    // recorded without the course link needs the code or the course.
    let r = evaluate(
        &cert_req(),
        &[loose(14, "CPR", None, None)],
        &[],
        as_of,
    );
    assert_eq!(r.outcome, Outcome::NotStarted, "{}", r.explanation);
    // Among matches the latest expiry decides (rule 4), whichever way each matched.
    let mut older = loose(15, "CPR", Some("NREMT-1"), None);
    older.expiration_date = Some(d("2026-07-01"));
    let newer = Record {
        course_id: Some(id(CPR)),
        ..loose(16, "CPR", None, None)
    };
    let both = Requirement {
        registry_code: Some("NREMT".into()),
        ..cert_req()
    };
    let r = evaluate(&both, &[older, newer], &[], as_of);
    assert_eq!(r.counted_records, vec![id(16)]);
    assert_eq!(r.outcome, Outcome::Met);
}

/// Periods features.md lists beyond the calendar ones: a year of the department's own (a
/// fiscal year across the new year), one given year, biannual (no window; an expired newest
/// record lapses it), and a recency of N days (a record exactly N days old counts).
#[test]
fn fiscal_years_given_years_biannual_and_recency() {
    use Outcome::*;
    let fiscal = Period::Annual.shaped(None, Some((7, 1)), None);
    // Judged in March 2026: the year from 1 July 2025 to 30 June 2026.
    let r = evaluate(
        &hours_req("12", fiscal),
        &[
            rec(10, "2025-06-30", "5"),
            rec(11, "2025-07-01", "4"),
            rec(12, "2026-01-15", "4"),
        ],
        &[],
        d("2026-03-10"),
    );
    assert_eq!(r.period_start, Some(d("2025-07-01")));
    assert_eq!(r.period_end, Some(d("2026-06-30")));
    assert_eq!(r.counted_records, vec![id(11), id(12)]);
    assert_eq!((r.outcome, r.done), (InProgress, h("8")));
    assert_eq!(r.months_in_period, 12);
    assert_eq!(
        r.explanation,
        "8 of 12 hours of company training this year (from July 1)"
    );
    // A waiver of 15 days of a fiscal month (1–15 August) waives it.
    let r = evaluate(
        &hours_req("12", fiscal),
        &[],
        &[leave(50, "2025-08-01", Some("2025-08-15"))],
        d("2026-03-10"),
    );
    assert_eq!((r.months_waived, r.adjusted_required), (1, h("11")));
    // Judged on 1 July: the new fiscal year has begun.
    let r = evaluate(&hours_req("12", fiscal), &[], &[], d("2026-07-01"));
    assert_eq!(r.period_start, Some(d("2026-07-01")));
    // A year that ends early: 1 January to 31 October, ten months.
    let to_october = Period::Annual.shaped(None, None, Some((10, 31)));
    let r = evaluate(&hours_req("10", to_october), &[], &[], d("2026-05-01"));
    assert_eq!(
        (r.period_start, r.period_end, r.months_in_period),
        (Some(d("2026-01-01")), Some(d("2026-10-31")), 10)
    );
    // One given year, whatever the date judged.
    let y2025 = Period::Annual.shaped(Some(2025), None, None);
    let r = evaluate(
        &hours_req("4", y2025),
        &[rec(10, "2025-12-31", "4"), rec(11, "2026-01-02", "4")],
        &[],
        d("2026-03-10"),
    );
    assert_eq!(r.counted_records, vec![id(10)]);
    assert_eq!(r.outcome, Met);
    assert_eq!(r.explanation, "4 of 4 hours of company training in 2025");
    // A year starting on 29 February starts on the 28th in a common year.
    let leap = Period::Annual.shaped(None, Some((2, 29)), None);
    let r = evaluate(&hours_req("1", leap), &[], &[], d("2027-03-01"));
    assert_eq!(r.period_start, Some(d("2027-02-28")));

    // Biannual: every record on file; lapsed when the newest expiry has passed.
    let mut old = rec(10, "2023-01-10", "8");
    old.expiration_date = Some(d("2025-01-10"));
    let r = evaluate(
        &hours_req("8", Period::Biannual),
        std::slice::from_ref(&old),
        &[],
        d("2026-03-10"),
    );
    assert_eq!(r.outcome, Expired, "{}", r.explanation);
    assert_eq!(r.period_start, None);
    let mut renewed = rec(11, "2025-01-05", "8");
    renewed.expiration_date = Some(d("2027-01-05"));
    let r = evaluate(
        &hours_req("8", Period::Biannual),
        &[old, renewed],
        &[],
        d("2026-03-10"),
    );
    assert_eq!(r.outcome, Met, "{}", r.explanation);

    // Recency: exactly N days before the date asked counts, N + 1 does not.
    let recent = |n| Requirement {
        recency_days: Some(n),
        ..hours_req("2", Period::OneTime)
    };
    let records = [rec(10, "2026-02-08", "2")];
    assert_eq!(
        evaluate(&recent(30), &records, &[], d("2026-03-10")).outcome,
        Met
    );
    assert_eq!(
        evaluate(&recent(29), &records, &[], d("2026-03-10")).outcome,
        NotStarted
    );
}
