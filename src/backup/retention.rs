//! Which old backups scheduled backups delete: the newest backup of each of the last N days that
//! have one, then the newest of each of the last M ISO weeks that have one before those days.
//! Days and weeks are counted where backups exist, not on the calendar, so a box that was off for
//! a fortnight does not lose its history. The newest backup is never deleted, nor a file whose
//! name is not one this server gives its archives (whatever else sits in the directory).

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::service::{self, EXTENSION};

/// The time an archive was made, read from its name (`logbook-YYYYMMDD-HHMMSS-mmm-xxxxxxxx.lbk`,
/// UTC). None for any other name: such a file is not ours to delete.
pub fn made_at(file: &str) -> Option<DateTime<Utc>> {
    let rest = file.strip_prefix("logbook-")?;
    let rest = rest.strip_suffix(&format!(".{EXTENSION}"))?;
    let mut parts = rest.split('-');
    let (date, time, millis, tag) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || millis.len() != 3
        || !millis.bytes().all(|b| b.is_ascii_digit())
        || tag.len() != 8
        || !tag.bytes().all(|b| b.is_ascii_hexdigit())
        || date.len() != 8
        || time.len() != 6
    {
        return None;
    }
    let at = NaiveDateTime::parse_from_str(&format!("{date}{time}"), "%Y%m%d%H%M%S").ok()?;
    let millis: i64 = millis.parse().ok()?;
    Some(at.and_utc() + chrono::Duration::milliseconds(millis))
}

/// Of the archive names in `files`, the ones the policy deletes (oldest first). `tz` says where a
/// day starts.
pub fn to_delete(
    files: &[String],
    now: DateTime<Utc>,
    tz: Tz,
    keep_daily: u32,
    keep_weekly: u32,
) -> Vec<String> {
    // Archives dated after now (a clock that was wrong) are kept and left out of the count, so
    // they cannot push out the real recent ones.
    let mut ours: Vec<(DateTime<Utc>, &String)> = files
        .iter()
        .filter_map(|f| made_at(f).map(|at| (at, f)))
        .filter(|(at, _)| *at <= now)
        .collect();
    // Newest first; the name breaks a tie so the answer does not depend on the input's order.
    ours.sort_by(|a, b| b.cmp(a));
    let day_of = |at: &DateTime<Utc>| at.with_timezone(&tz).date_naive();
    let mut keep: HashSet<&String> = HashSet::new();
    if let Some((_, newest)) = ours.first() {
        keep.insert(newest);
    }
    // Daily: the newest of each of the last `keep_daily` days that have a backup.
    let mut days: Vec<NaiveDate> = Vec::new();
    for (at, f) in &ours {
        let day = day_of(at);
        if days.last() == Some(&day) {
            continue;
        }
        if days.len() == keep_daily as usize {
            break;
        }
        days.push(day);
        keep.insert(f);
    }
    // Weekly: before the oldest day kept, the newest of each of the last `keep_weekly` weeks.
    let before = if keep_daily == 0 {
        None
    } else {
        days.last().copied()
    };
    let mut weeks: Vec<(i32, u32)> = Vec::new();
    for (at, f) in &ours {
        let day = day_of(at);
        if before.is_some_and(|b| day >= b) {
            continue;
        }
        let week = (day.iso_week().year(), day.iso_week().week());
        if weeks.last() == Some(&week) {
            continue;
        }
        if weeks.len() == keep_weekly as usize {
            break;
        }
        weeks.push(week);
        keep.insert(f);
    }
    let mut out: Vec<String> = ours
        .iter()
        .filter(|(_, f)| !keep.contains(f))
        .map(|(_, f)| (*f).clone())
        .collect();
    out.reverse();
    out
}

/// Deletes from `dir` what the policy does not keep, with the `<file>.json` beside an archive if
/// there is one. Returns the names deleted.
pub fn apply(
    dir: &Path,
    now: DateTime<Utc>,
    tz: Tz,
    keep_daily: u32,
    keep_weekly: u32,
) -> anyhow::Result<Vec<String>> {
    let files: Vec<String> = service::list(dir)?.into_iter().map(|l| l.file).collect();
    let doomed = to_delete(&files, now, tz, keep_daily, keep_weekly);
    for file in &doomed {
        let path = dir.join(file);
        std::fs::remove_file(&path)
            .with_context(|| format!("could not delete the old backup {}", path.display()))?;
        let sidecar = dir.join(format!("{file}.json"));
        match std::fs::remove_file(&sidecar) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("could not delete {}", sidecar.display()));
            }
        }
    }
    let stale = remove_stale_temporaries(dir, now)?;
    if !doomed.is_empty() || stale > 0 {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        tracing::info!(dir = %dir.display(), deleted = doomed.len(), "old backups deleted");
    }
    Ok(doomed)
}

/// How old a temporary file (`.<archive>.tmp`, or an upload's `.upload-<id>.tmp`) must be before
/// it counts as left behind by a backup, copy or upload that was cut short (a power cut): one
/// being written is touched all the time.
const STALE_AFTER: chrono::Duration = chrono::Duration::hours(24);

/// Deletes the temporary files of backups, copies or uploads cut short (older than a day), so
/// that power cuts in the middle of a backup cannot fill the disk over time. Returns how many.
pub fn remove_stale_temporaries(dir: &Path, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut removed = 0;
    for entry in read {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .is_some_and(|n| made_at(n).is_some())
            || super::upload::is_temporary(&name);
        if !ours {
            continue;
        }
        let meta = entry.metadata()?;
        let modified = meta.modified().map(DateTime::<Utc>::from).unwrap_or(now);
        if meta.is_file() && now - modified > STALE_AFTER {
            std::fs::remove_file(entry.path()).with_context(|| {
                format!(
                    "could not delete the unfinished backup {}",
                    entry.path().display()
                )
            })?;
            tracing::info!(file = %name, "unfinished backup file deleted");
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// An archive name for a UTC time `YYYY-MM-DD HH:MM`.
    fn name(at: &str) -> String {
        let t = NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M").unwrap();
        format!("logbook-{}-000-0123abcd.lbk", t.format("%Y%m%d-%H%M%S"))
    }

    fn utc(at: &str) -> DateTime<Utc> {
        NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
    }

    struct Case {
        what: &'static str,
        /// Backup times (UTC), any order.
        have: &'static [&'static str],
        now: &'static str,
        daily: u32,
        weekly: u32,
        /// What stays, any order.
        kept: &'static [&'static str],
    }

    const CASES: &[Case] = &[
        Case {
            what: "nothing to do",
            have: &[],
            now: "2026-11-25 03:00",
            daily: 7,
            weekly: 4,
            kept: &[],
        },
        Case {
            what: "one backup a day for ten days, keep 3 daily, no weekly",
            have: &[
                "2026-11-16 02:45",
                "2026-11-17 02:45",
                "2026-11-18 02:45",
                "2026-11-19 02:45",
                "2026-11-20 02:45",
                "2026-11-21 02:45",
                "2026-11-22 02:45",
                "2026-11-23 02:45",
                "2026-11-24 02:45",
                "2026-11-25 02:45",
            ],
            now: "2026-11-25 03:00",
            daily: 3,
            weekly: 0,
            kept: &["2026-11-23 02:45", "2026-11-24 02:45", "2026-11-25 02:45"],
        },
        Case {
            what: "several a day: the newest of each day stays",
            have: &[
                "2026-11-24 02:45",
                "2026-11-24 09:00",
                "2026-11-24 17:30",
                "2026-11-25 02:45",
                "2026-11-25 10:15",
            ],
            now: "2026-11-25 12:00",
            daily: 2,
            weekly: 0,
            kept: &["2026-11-24 17:30", "2026-11-25 10:15"],
        },
        Case {
            what: "gaps: days are counted where backups exist, not on the calendar",
            have: &[
                "2026-10-01 02:45",
                "2026-10-20 02:45",
                "2026-11-02 02:45",
                "2026-11-25 02:45",
            ],
            now: "2026-11-25 03:00",
            daily: 3,
            weekly: 0,
            kept: &["2026-10-20 02:45", "2026-11-02 02:45", "2026-11-25 02:45"],
        },
        Case {
            // Wednesday 2026-11-25; ISO weeks start on Monday (23rd, 16th, 9th, 2nd, Oct 26th).
            what: "weekly: before the days kept, the newest of each week",
            have: &[
                "2026-10-27 02:45",
                "2026-10-29 02:45",
                "2026-11-03 02:45",
                "2026-11-05 02:45",
                "2026-11-10 02:45",
                "2026-11-12 02:45",
                "2026-11-17 02:45",
                "2026-11-19 02:45",
                "2026-11-23 02:45",
                "2026-11-24 02:45",
                "2026-11-25 02:45",
            ],
            now: "2026-11-25 03:00",
            daily: 2,
            weekly: 3,
            // Days 24 and 25; then Monday 23rd is in the same week as them but before the days
            // kept, so it is that week's; then the weeks of the 16th and the 9th.
            kept: &[
                "2026-11-24 02:45",
                "2026-11-25 02:45",
                "2026-11-23 02:45",
                "2026-11-19 02:45",
                "2026-11-12 02:45",
            ],
        },
        Case {
            what: "no daily: weekly only, counted from the newest",
            have: &[
                "2026-11-10 02:45",
                "2026-11-12 02:45",
                "2026-11-17 02:45",
                "2026-11-19 02:45",
                "2026-11-24 02:45",
                "2026-11-25 02:45",
            ],
            now: "2026-11-25 03:00",
            daily: 0,
            weekly: 2,
            kept: &["2026-11-25 02:45", "2026-11-19 02:45"],
        },
        Case {
            what: "keep nothing still keeps the newest",
            have: &["2026-11-24 02:45", "2026-11-25 02:45"],
            now: "2026-11-25 03:00",
            daily: 0,
            weekly: 0,
            kept: &["2026-11-25 02:45"],
        },
        Case {
            // 2026-12-28 (Mon) to 2027-01-03 (Sun) is ISO week 2026-W53.
            what: "year boundary: 31 December and 2 January are one ISO week",
            have: &[
                "2026-12-22 02:45",
                "2026-12-29 02:45",
                "2026-12-31 02:45",
                "2027-01-02 02:45",
                "2027-01-05 02:45",
                "2027-01-06 02:45",
            ],
            now: "2027-01-06 03:00",
            daily: 1,
            weekly: 2,
            kept: &["2027-01-06 02:45", "2027-01-05 02:45", "2027-01-02 02:45"],
        },
        Case {
            what: "a backup from the future (a wrong clock) is kept and not counted",
            have: &["2026-11-20 02:45", "2026-11-25 02:45", "2027-03-01 02:45"],
            now: "2026-11-25 03:00",
            daily: 1,
            weekly: 0,
            kept: &["2027-03-01 02:45", "2026-11-25 02:45"],
        },
    ];

    #[test]
    fn retention_keeps_what_the_policy_says() {
        let tz: Tz = "UTC".parse().unwrap();
        for case in CASES {
            let files: Vec<String> = case.have.iter().map(|t| name(t)).collect();
            let deleted = to_delete(&files, utc(case.now), tz, case.daily, case.weekly);
            let mut kept: Vec<String> = files
                .iter()
                .filter(|f| !deleted.contains(f))
                .cloned()
                .collect();
            kept.sort();
            let mut want: Vec<String> = case.kept.iter().map(|t| name(t)).collect();
            want.sort();
            assert_eq!(kept, want, "{}", case.what);
            assert_eq!(
                deleted.len() + kept.len(),
                files.len(),
                "{}: a file deleted twice",
                case.what
            );
        }
    }

    #[test]
    fn retention_days_start_in_the_given_time_zone() {
        // 03:00 and 23:00 UTC on the 24th are one UTC day, but two days in Chicago (UTC-6).
        let files = vec![name("2026-11-24 03:00"), name("2026-11-24 23:00")];
        let now = utc("2026-11-25 12:00");
        let utc_tz: Tz = "UTC".parse().unwrap();
        let chicago: Tz = "America/Chicago".parse().unwrap();
        assert_eq!(
            to_delete(&files, now, utc_tz, 2, 0),
            vec![name("2026-11-24 03:00")]
        );
        assert!(to_delete(&files, now, chicago, 2, 0).is_empty());
    }

    #[test]
    fn retention_never_touches_files_that_are_not_ours() {
        let mut files: Vec<String> = [
            "notes.lbk",
            "logbook-20200101-000000-000-zzzzzzzz.lbk",
            "logbook-20200101-000000-000-0123abcd.lbk.bak",
            "logbook-2020-01-01.lbk",
            "my-logbook-20200101-000000-000-0123abcd.lbk",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        files.push(name("2026-11-24 02:45"));
        files.push(name("2026-11-25 02:45"));
        let tz: Tz = "UTC".parse().unwrap();
        assert_eq!(
            to_delete(&files, utc("2026-11-25 03:00"), tz, 1, 0),
            vec![name("2026-11-24 02:45")]
        );
    }

    #[test]
    fn archive_names_are_read_back() {
        let at = made_at("logbook-20261125-024500-123-0f1e2d3c.lbk").unwrap();
        assert_eq!(
            at,
            Utc.with_ymd_and_hms(2026, 11, 25, 2, 45, 0).unwrap()
                + chrono::Duration::milliseconds(123)
        );
        assert_eq!(made_at("logbook-20261325-024500-123-0f1e2d3c.lbk"), None);
        assert_eq!(
            made_at(".logbook-20261125-024500-123-0f1e2d3c.lbk.tmp"),
            None
        );
    }

    #[test]
    fn apply_deletes_old_archives_and_their_sidecars_only() {
        let dir = std::env::temp_dir().join(format!("logbook-retention-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let old = name("2026-11-20 02:45");
        let new = name("2026-11-25 02:45");
        for f in [&old, &new] {
            std::fs::write(dir.join(f), b"x").unwrap();
            std::fs::write(dir.join(format!("{f}.json")), b"{}").unwrap();
        }
        std::fs::write(dir.join("readme.txt"), b"mine").unwrap();
        std::fs::write(dir.join("holiday.lbk"), b"mine").unwrap();
        let tz: Tz = "UTC".parse().unwrap();
        let deleted = apply(&dir, utc("2026-11-25 03:00"), tz, 1, 0).unwrap();
        assert_eq!(deleted, vec![old.clone()]);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![
            new.clone(),
            format!("{new}.json"),
            "holiday.lbk".to_string(),
            "readme.txt".to_string(),
        ];
        want.sort();
        assert_eq!(left, want);
        // A temporary file left by a backup cut short a day ago goes; a fresh one (a backup
        // being written) and one whose name is not ours stay.
        let stale = format!(".{}.tmp", name("2026-11-23 02:45"));
        let fresh = format!(".{}.tmp", name("2026-11-25 02:59"));
        let upload = format!(".upload-{}.tmp", uuid::Uuid::now_v7().simple());
        for f in [&stale, &fresh, &upload, &".holiday.lbk.tmp".to_string()] {
            let file = std::fs::File::create(dir.join(f)).unwrap();
            let age = if *f == fresh { 60 } else { 2 * 24 * 3600 };
            file.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(age))
                .unwrap();
        }
        let removed = remove_stale_temporaries(&dir, Utc::now()).unwrap();
        assert_eq!(removed, 2);
        assert!(!dir.join(&stale).exists() && !dir.join(&upload).exists());
        assert!(dir.join(&fresh).exists() && dir.join(".holiday.lbk.tmp").exists());
        // A directory that does not exist has nothing to delete.
        assert!(
            apply(&dir.join("absent"), utc("2026-11-25 03:00"), tz, 1, 0)
                .unwrap()
                .is_empty()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
