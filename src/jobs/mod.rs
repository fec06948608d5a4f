//! Scheduled jobs. A module declares a job (name, cron schedule in the organization's time zone,
//! an async function) in `Registry::platform` (a module in its `Module::jobs`); the scheduler runs it for every organization; each
//! run is recorded in `job_runs`. Admins see the jobs and can run one now (`settings.manage`).

pub mod api;
pub mod builtin;
pub mod pages;
pub mod runner;
pub mod scheduler;
pub mod service;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::state::AppState;

pub use runner::{JobRun, Trigger};
pub use scheduler::Scheduler;

pub type JobFuture = Pin<Box<dyn Future<Output = anyhow::Result<u64>> + Send>>;
/// A job's body: returns how many items it processed.
pub type JobFn = Arc<dyn Fn(JobCtx) -> JobFuture + Send + Sync>;

/// A job body returns this as its error to end as `skipped` (not failed), with the reason in
/// words: e.g. the whole-server backup, which only one organization's run makes.
#[derive(Debug)]
pub struct Skip(pub String);

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skip {}

/// What a job run gets: the server state, the organization it runs for, and why it runs.
#[derive(Clone)]
pub struct JobCtx {
    pub state: AppState,
    pub org_id: crate::auth::OrgId,
    /// Started by an administrator ("run now") rather than the schedule.
    pub manual: bool,
    /// The scheduled time this run is for (None for a manual run).
    pub slot: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct JobDef {
    /// Short and stable: it names the database lock and the runs (at most 22 characters).
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Cron with seconds (`sec min hour day month weekday`), in the organization's time zone.
    pub schedule: String,
    pub run: JobFn,
}

impl JobDef {
    pub fn new<F, Fut>(
        name: &'static str,
        title: &'static str,
        description: &'static str,
        schedule: &str,
        run: F,
    ) -> Self
    where
        F: Fn(JobCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<u64>> + Send + 'static,
    {
        assert!(
            name.len() <= 22,
            "job name {name} is longer than 22 characters"
        );
        assert!(
            scheduler::parse(schedule).is_ok(),
            "job {name} has an invalid schedule {schedule}"
        );
        JobDef {
            name,
            title,
            description,
            schedule: schedule.to_string(),
            run: Arc::new(move |ctx| Box::pin(run(ctx))),
        }
    }
}

/// The jobs this server knows. Tests may add their own before starting the server.
#[derive(Clone, Default)]
pub struct Registry {
    jobs: Vec<JobDef>,
}

impl Registry {
    /// The platform's own jobs; `app::job_registry` adds the modules'.
    pub fn platform() -> Self {
        builtin::register(Registry::default())
    }

    pub fn with(mut self, job: JobDef) -> Self {
        assert!(
            self.get(job.name).is_none(),
            "job {} is registered twice",
            job.name
        );
        self.jobs.push(job);
        self
    }

    pub fn get(&self, name: &str) -> Option<&JobDef> {
        self.jobs.iter().find(|j| j.name == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &JobDef> {
        self.jobs.iter()
    }
}

pub fn router() -> axum::Router<AppState> {
    api::router().merge(pages::router())
}
