//! The in-process scheduler (tokio-cron-scheduler). Every registered job is scheduled once per
//! active organization, in that organization's time zone. tokio-cron-scheduler turns a time zone
//! into a fixed UTC offset when a job is added, so a sync every minute re-adds an organization's
//! jobs when its offset changes (daylight saving time, or an administrator changing the zone),
//! and picks up organizations created or deactivated since.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Offset, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid;

use super::runner;
use crate::state::AppState;

pub fn parse(schedule: &str) -> Result<Cron, croner::errors::CronError> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(schedule)
}

/// The next time the schedule fires in the time zone, after `after`.
pub fn next_run(schedule: &str, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cron = parse(schedule).ok()?;
    let after = after.trunc_subsecs(0);
    cron.find_next_occurrence(&after.with_timezone(&tz), false)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The slot a firing at `now` is for: the latest scheduled time at or before it. Two servers
/// firing for the same tick compute the same slot, whatever their small clock differences.
pub fn slot_at(schedule: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let cron = parse(schedule).ok()?;
    // croner keeps the fraction of a second it is given; slots are whole seconds.
    let now = now.trunc_subsecs(0);
    cron.find_previous_occurrence(&now.with_timezone(&tz), true)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// In words, for the jobs page: "At 02:30".
pub fn describe(schedule: &str) -> String {
    parse(schedule)
        .map(|c| c.describe())
        .unwrap_or_else(|_| schedule.to_string())
}

fn offset_seconds(tz: Tz) -> i32 {
    tz.offset_from_utc_datetime(&Utc::now().naive_utc())
        .fix()
        .local_minus_utc()
}

struct Entry {
    cron_id: Uuid,
    offset: i32,
}

pub struct Scheduler {
    inner: Mutex<Inner>,
    state: AppState,
}

struct Inner {
    sched: JobScheduler,
    entries: HashMap<(&'static str, crate::auth::OrgId), Entry>,
}

impl Scheduler {
    /// Starts scheduling every registered job for every active organization.
    pub async fn start(state: AppState) -> anyhow::Result<Arc<Scheduler>> {
        match runner::mark_interrupted(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(runs = n, "recorded job runs cut short by a stop"),
            Err(e) => tracing::warn!(error = %e, "could not check for interrupted job runs"),
        }
        let sched = JobScheduler::new().await?;
        sched.start().await?;
        let this = Arc::new(Scheduler {
            inner: Mutex::new(Inner {
                sched,
                entries: HashMap::new(),
            }),
            state,
        });
        this.sync().await?;
        Ok(this)
    }

    /// Brings the scheduled jobs in line with the organizations and their time zones.
    pub async fn sync(&self) -> anyhow::Result<()> {
        let orgs: Vec<(crate::auth::OrgId, String)> =
            sqlx::query_as("SELECT id, timezone FROM organizations WHERE active")
                .fetch_all(&self.state.db)
                .await?;
        let mut inner = self.inner.lock().await;
        let mut wanted: HashMap<(&'static str, crate::auth::OrgId), i32> = HashMap::new();
        for (org_id, tz_name) in &orgs {
            let tz = crate::time::zone(tz_name);
            for def in self.state.jobs.iter() {
                wanted.insert((def.name, *org_id), offset_seconds(tz));
            }
        }
        let stale: Vec<(&'static str, crate::auth::OrgId)> = inner
            .entries
            .iter()
            .filter(|(k, e)| wanted.get(k) != Some(&e.offset))
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            if let Some(e) = inner.entries.remove(&key) {
                inner.sched.remove(&e.cron_id).await?;
            }
        }
        for (org_id, tz_name) in orgs {
            let tz = crate::time::zone(&tz_name);
            for def in self.state.jobs.iter() {
                let key = (def.name, org_id);
                if inner.entries.contains_key(&key) {
                    continue;
                }
                let state = self.state.clone();
                let name = def.name;
                let schedule = def.schedule.clone();
                let job = Job::new_async_tz(def.schedule.as_str(), tz, move |_id, _sched| {
                    let state = state.clone();
                    let schedule = schedule.clone();
                    Box::pin(async move {
                        let Some(def) = state.jobs.get(name).cloned() else {
                            return;
                        };
                        let Some(slot) = slot_at(&schedule, tz, Utc::now()) else {
                            return;
                        };
                        runner::run_scheduled(&state, &def, org_id, slot).await;
                    })
                })?;
                let cron_id = inner.sched.add(job).await?;
                inner.entries.insert(
                    key,
                    Entry {
                        cron_id,
                        offset: offset_seconds(tz),
                    },
                );
            }
        }
        Ok(())
    }

    /// Re-syncs every minute until `stop` fires, then stops the scheduler.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if let Err(e) = self.sync().await {
                        tracing::warn!(error = %e, "could not sync the job schedule");
                    }
                }
                _ = stop.changed() => break,
            }
        }
        let mut inner = self.inner.lock().await;
        if let Err(e) = inner.sched.shutdown().await {
            tracing::warn!(error = %e, "scheduler did not shut down cleanly");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_time_zone_across_daylight_saving() {
        let tz: Tz = "America/Chicago".parse().unwrap();
        // 02:30 local every day: 07:30 UTC in summer (CDT), 08:30 UTC in winter (CST).
        let s = "0 30 2 * * *";
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap();
        assert_eq!(
            next_run(s, tz, summer).unwrap(),
            Utc.with_ymd_and_hms(2026, 7, 1, 7, 30, 0).unwrap()
        );
        let winter = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(
            next_run(s, tz, winter).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap()
        );
        // A firing a little late still names the tick it is for.
        let late = Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap()
            + chrono::Duration::milliseconds(900);
        assert_eq!(
            slot_at(s, tz, late).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 1, 8, 30, 0).unwrap()
        );
        assert!(parse("not cron").is_err());
        assert!(parse("0 * * * * *").is_ok());
    }
}
