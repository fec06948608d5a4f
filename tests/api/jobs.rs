//! Scheduled jobs over the API and in the scheduler: the list (`GET /api/v1/jobs`), the runs
//! (`GET /api/v1/jobs/{name}/runs`) and "run now" (`POST /api/v1/jobs/{name}/run`), who may use
//! them; what the built-in jobs do (purge_sessions, audit_verify); failures and panics recorded;
//! overlapping runs skipped; two servers on one database never running a slot twice; a job per
//! organization; reminders never sent twice; interrupted runs closed when a scheduler starts.
//!
//! Jobs run for every organization on the host (the scheduler, interrupted runs closed at its
//! start, the whole-server backup) and some tests here replace the audit triggers: every test
//! here has a database of its own (`TestApp::spawn_private`).

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Timelike, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};
use uuid::Uuid;

use logbook::jobs::{JobCtx, JobDef, Registry, runner};
use logbook::notify::{self, Notice, categories};

use crate::harness::*;
use crate::smtp_sink::SmtpSink;

/// A schedule that does not come round during a test (midnight on the 1st of January).
const YEARLY: &str = "0 0 0 1 1 *";

/// One `job_runs` row, read straight from the table.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Stored {
    id: Uuid,
    organization_id: Uuid,
    trigger_kind: String,
    scheduled_for: Option<DateTime<Utc>>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    outcome: String,
    items: u32,
    error: Option<String>,
    triggered_by: Option<Uuid>,
}

async fn stored_runs(app: &TestApp, org: Uuid, job: &str) -> Vec<Stored> {
    sqlx::query_as(
        "SELECT id, organization_id, trigger_kind, scheduled_for, started_at, finished_at,
                outcome, items, error, triggered_by
           FROM job_runs WHERE organization_id = ? AND job = ? ORDER BY id",
    )
    .bind(org)
    .bind(job)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

async fn all_runs(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM job_runs")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn run_now(app: &TestApp, user: &User, job: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        &user.token,
        &format!("/api/v1/jobs/{job}/run"),
        None,
    )
    .await
}

/// Runs `job` now and expects it to finish within the request (200).
async fn run_finished(app: &TestApp, user: &User, job: &str) -> Value {
    let (status, body) = run_now(app, user, job).await;
    assert_eq!(status, StatusCode::OK, "run {job} now: {body}");
    assert_ne!(body["outcome"], "running", "{body}");
    body
}

async fn job_list(app: &TestApp, user: &User) -> Vec<Value> {
    let (status, body) = app.get(&user.token, "/api/v1/jobs").await;
    assert_eq!(status, StatusCode::OK, "list jobs: {body}");
    body.as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .clone()
}

fn job<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|j| j["name"] == name)
        .unwrap_or_else(|| panic!("no job {name} in {list:?}"))
}

async fn runs_page(app: &TestApp, user: &User, job: &str, query: &str) -> Value {
    let (status, body) = app
        .get(&user.token, &format!("/api/v1/jobs/{job}/runs{query}"))
        .await;
    assert_eq!(status, StatusCode::OK, "runs of {job}{query}: {body}");
    body
}

/// The ids of a page's items, in order.
fn item_ids(page: &Value) -> Vec<&Value> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["id"])
        .collect()
}

fn uuid_of(v: &Value) -> Uuid {
    v.as_str()
        .unwrap_or_else(|| panic!("not an id: {v}"))
        .parse()
        .unwrap()
}

fn time_of(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

/// Polls `check` every 100 ms until it holds; panics after `timeout`.
async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Another server on the test's database and data directory (so the same signing keys: the
/// test's tokens work on it), with these jobs and the scheduler on or off.
struct Server {
    base: String,
    state: logbook::AppState,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn second_server(app: &TestApp, jobs: Registry, scheduler: bool) -> Server {
    let mut config = test_config(&app.db.url, app.data_dir.clone());
    config.scheduler = scheduler;
    let (state, addr, stop, handle) = start_server_with(config, Some(jobs)).await;
    Server {
        base: format!("http://{addr}"),
        state,
        stop: Some(stop),
        handle,
    }
}

impl Server {
    async fn get(&self, app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
        let res = app
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Stops it and waits for it (and its scheduler) to finish.
    async fn stop(mut self) {
        drop(self.stop.take());
        let ended = tokio::time::timeout(Duration::from_secs(15), self.handle)
            .await
            .expect("the server did not stop within 15 s")
            .expect("the server task panicked");
        assert!(ended.is_ok(), "the server failed: {ended:?}");
        self.state.db.close().await;
    }
}

fn counting_job(name: &'static str, schedule: &str, count: Arc<AtomicUsize>) -> JobDef {
    JobDef::new(
        name,
        "Count",
        "Counts its runs.",
        schedule,
        move |_ctx: JobCtx| {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                Ok(1)
            }
        },
    )
}

// ---------------------------------------------------------------------------------------------
// The list, access, unknown jobs

/// The next 03:10 in Chicago after `after`, worked out without croner.
fn next_chicago_0310(after: DateTime<Utc>) -> DateTime<Utc> {
    let tz: chrono_tz::Tz = "America/Chicago".parse().unwrap();
    let local = after.with_timezone(&tz).date_naive();
    (0..3)
        .filter_map(|d| {
            let day = local + chrono::Days::new(d);
            tz.with_ymd_and_hms(
                chrono::Datelike::year(&day),
                chrono::Datelike::month(&day),
                chrono::Datelike::day(&day),
                3,
                10,
                0,
            )
            .single()
        })
        .map(|t| t.with_timezone(&Utc))
        .find(|t| *t > after)
        .unwrap()
}

#[tokio::test]
async fn the_list_shows_the_built_in_jobs_with_schedule_zone_next_and_last_run() {
    let app = TestApp::spawn_with(|c| c.scheduler = true, None).await;
    let before = Utc::now();
    let list = job_list(&app, &app.a.admin).await;
    let after = Utc::now();
    let names: Vec<&str> = list.iter().map(|j| j["name"].as_str().unwrap()).collect();
    // The platform's jobs, then every module's in the modules' order (a new module's jobs
    // join the list without this test naming them).
    logbook::app::install_modules();
    let modules: Vec<String> = logbook::module::installed()
        .iter()
        .flat_map(|m| (m.jobs)())
        .map(|j| j.name.to_string())
        .collect();
    let mut expected = vec!["purge_sessions", "audit_verify", "email_outbox", "backup"];
    expected.extend(modules.iter().map(String::as_str));
    assert_eq!(names, expected, "{list:?}");
    for module_job in ["cert_expiry", "membership_tiers", "program_deadlines"] {
        assert!(
            names.contains(&module_job),
            "{module_job} missing: {names:?}"
        );
    }
    for j in &list {
        assert_eq!(j["timezone"], "America/Chicago", "{j}");
        let text = j["schedule_text"].as_str().unwrap();
        assert!(
            !text.is_empty() && text != j["schedule"].as_str().unwrap(),
            "the schedule is not put in words: {j}"
        );
        assert!(!j["title"].as_str().unwrap().is_empty(), "{j}");
        assert!(!j["description"].as_str().unwrap().is_empty(), "{j}");
        assert!(j["last_run"].is_null(), "nothing has run yet: {j}");
        assert!(j["last_failure"].is_null(), "{j}");
        let next = time_of(&j["next_run"]);
        assert!(next > before, "next run {next} is not in the future: {j}");
        assert_eq!(next.nanosecond(), 0, "{j}");
    }
    for (name, schedule, text) in [
        ("purge_sessions", "0 10 3 * * *", "At 03:10."),
        ("audit_verify", "0 30 2 * * *", "At 02:30."),
        ("email_outbox", "0 * * * * *", "Every minute."),
        ("backup", "0 45 2 * * *", "At 02:45."),
        ("cert_expiry", "0 0 6 * * *", "At 06:00."),
        ("membership_tiers", "0 0 4 1 * *", "At 04:00, on day 1."),
        ("program_deadlines", "0 5 6 * * *", "At 06:05."),
    ] {
        let j = job(&list, name);
        assert_eq!(
            (
                j["schedule"].as_str().unwrap(),
                j["schedule_text"].as_str().unwrap()
            ),
            (schedule, text),
            "{j}"
        );
    }
    // 03:10 in Chicago, whatever the season (08:10 or 09:10 UTC).
    let next = time_of(&job(&list, "purge_sessions")["next_run"]);
    assert!(
        next == next_chicago_0310(before) || next == next_chicago_0310(after),
        "purge_sessions next runs at {next}, not at 03:10 in Chicago"
    );
    // 02:30 in Chicago.
    let next = time_of(&job(&list, "audit_verify")["next_run"]);
    assert_eq!((next.minute(), next.second()), (30, 0), "{next}");
    assert!(next - before <= chrono::Duration::hours(25), "{next}");
    // Every minute.
    let next = time_of(&job(&list, "email_outbox")["next_run"]);
    assert_eq!(next.second(), 0, "{next}");
    assert!(next - before <= chrono::Duration::seconds(61), "{next}");

    // After a run it is the last run, and the other jobs still have none.
    let run = run_finished(&app, &app.a.admin, "purge_sessions").await;
    let list = job_list(&app, &app.a.admin).await;
    let purge = job(&list, "purge_sessions");
    assert_eq!(purge["last_run"]["id"], run["id"], "{purge}");
    assert_eq!(purge["last_run"]["outcome"], "succeeded", "{purge}");
    assert!(purge["last_failure"].is_null(), "{purge}");
    assert!(job(&list, "audit_verify")["last_run"].is_null());
    assert!(job(&list, "email_outbox")["last_run"].is_null());
}

#[tokio::test]
async fn only_settings_managers_see_and_run_jobs_and_unknown_jobs_are_404() {
    let app = TestApp::spawn_private().await;
    let pat = app.member(&app.a, "pat", &[]).await;
    let sam = app.member_with(&app.a, "sam", &["settings.manage"]).await;
    let audit_before = app.audit_count(&app.a).await;

    for (method, path) in [
        (Method::GET, "/api/v1/jobs"),
        (Method::GET, "/api/v1/jobs/purge_sessions/runs"),
        (Method::POST, "/api/v1/jobs/purge_sessions/run"),
        (Method::POST, "/api/v1/jobs/no_such_job/run"),
    ] {
        let (status, body) = app.call(method.clone(), &pat.token, path, None).await;
        assert_problem(status, &body, StatusCode::FORBIDDEN);
        let res = app
            .client
            .request(method, app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path} signed out");
    }
    assert_eq!(all_runs(&app).await, 0, "a refused run was recorded");
    assert_eq!(
        app.audit_count(&app.a).await,
        audit_before,
        "a refused run was audited"
    );

    // The permission, not the role, is what counts; and without a scheduler there is no next run.
    let list = job_list(&app, &sam).await;
    assert_eq!(
        list.len(),
        logbook::app::job_registry().iter().count(),
        "{list:?}"
    );
    for j in &list {
        assert!(j["next_run"].is_null(), "no scheduler, yet a next run: {j}");
    }
    let run = run_finished(&app, &sam, "purge_sessions").await;
    assert_eq!(uuid_of(&run["triggered_by"]), sam.id);

    for (method, path) in [
        (Method::GET, "/api/v1/jobs/no_such_job/runs"),
        (Method::POST, "/api/v1/jobs/no_such_job/run"),
    ] {
        let (status, body) = app.call(method, &app.a.admin.token, path, None).await;
        assert_problem(status, &body, StatusCode::NOT_FOUND);
    }
    assert_eq!(all_runs(&app).await, 1, "an unknown job left a run");

    let (status, body) = app
        .get(
            &app.a.admin.token,
            "/api/v1/jobs/purge_sessions/runs?outcome=exploded",
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(
        error_fields(&body).contains(&"outcome".to_string()),
        "{body}"
    );
}

// ---------------------------------------------------------------------------------------------
// purge_sessions

async fn insert_refresh_token(app: &TestApp, org: &Org, expires: DateTime<Utc>) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO refresh_tokens (id, organization_id, user_id, family_id, token_hash,
            created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(org.id)
    .bind(org.admin.id)
    .bind(Uuid::now_v7())
    .bind(format!("{:0>64}", id.simple()))
    .bind(expires - chrono::Duration::days(30))
    .bind(expires)
    .execute(&app.db.pool)
    .await
    .unwrap();
    id
}

async fn token_exists(app: &TestApp, id: Uuid) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM refresh_tokens WHERE id = ?")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
        == 1
}

#[tokio::test]
async fn run_now_purges_expired_sessions_keeps_live_ones_and_records_the_run() {
    let app = TestApp::spawn_private().await;
    let now = Utc::now();
    let old1 = insert_refresh_token(&app, &app.a, now - chrono::Duration::days(2)).await;
    let old2 = insert_refresh_token(&app, &app.a, now - chrono::Duration::days(9)).await;
    // Expired within the day: kept, so that a replay of it is still recognised.
    let recent = insert_refresh_token(&app, &app.a, now - chrono::Duration::hours(2)).await;
    let live = insert_refresh_token(&app, &app.a, now + chrono::Duration::days(5)).await;
    // Another organization's expired session is not this run's business.
    let other = insert_refresh_token(&app, &app.b, now - chrono::Duration::days(3)).await;
    // A job run from long ago is cleaned up too; so one such row counts as a purged item.
    sqlx::query(
        "INSERT INTO job_runs (id, organization_id, job, trigger_kind, started_at, finished_at,
            outcome, server)
         VALUES (?, ?, 'audit_verify', 'manual', ?, ?, 'succeeded', 'test')",
    )
    .bind(Uuid::now_v7())
    .bind(app.a.id)
    .bind(now - chrono::Duration::days(40))
    .bind(now - chrono::Duration::days(40))
    .execute(&app.db.pool)
    .await
    .unwrap();
    let live_sessions_before: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refresh_tokens WHERE organization_id = ? AND expires_at > NOW(6)",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();

    let started = Utc::now();
    let run = run_finished(&app, &app.a.admin, "purge_sessions").await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(
        run["items"], 3,
        "two expired sessions and one old run: {run}"
    );
    assert_eq!(run["job"], "purge_sessions");
    assert_eq!(run["trigger_kind"], "manual");
    assert!(run["scheduled_for"].is_null(), "{run}");
    assert!(run["error"].is_null(), "{run}");
    assert_eq!(uuid_of(&run["triggered_by"]), app.a.admin.id);
    assert!(time_of(&run["started_at"]) >= started - chrono::Duration::seconds(1));
    assert!(time_of(&run["finished_at"]) >= time_of(&run["started_at"]));
    assert!(!run["server"].as_str().unwrap().is_empty(), "{run}");

    assert!(!token_exists(&app, old1).await && !token_exists(&app, old2).await);
    assert!(
        token_exists(&app, recent).await,
        "a just-expired session went"
    );
    assert!(token_exists(&app, live).await, "a live session went");
    assert!(token_exists(&app, other).await, "org B's session went");
    let live_sessions_after: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM refresh_tokens WHERE organization_id = ? AND expires_at > NOW(6)",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(live_sessions_after, live_sessions_before);
    // The admin's own session still works.
    let (status, _) = app.get(&app.a.admin.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);

    // What is stored matches what was answered.
    let stored = stored_runs(&app, app.a.id, "purge_sessions").await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    let s = &stored[0];
    assert_eq!(s.id, uuid_of(&run["id"]));
    assert_eq!(
        (s.outcome.as_str(), s.items, s.trigger_kind.as_str()),
        ("succeeded", 3, "manual")
    );
    assert_eq!(s.triggered_by, Some(app.a.admin.id));
    assert!(s.finished_at.is_some() && s.scheduled_for.is_none());

    // The request is audited, by the admin, naming the job.
    let audited: Vec<(Option<Uuid>, String, Option<String>)> = sqlx::query_as(
        "SELECT actor_user_id, entity_type, entity_id FROM audit_logs
          WHERE organization_id = ? AND action = 'job.run_requested'",
    )
    .bind(app.a.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        audited,
        vec![(
            Some(app.a.admin.id),
            "job".to_string(),
            Some("purge_sessions".to_string())
        )]
    );

    // Shown in the runs list.
    let page = runs_page(&app, &app.a.admin, "purge_sessions", "").await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["items"][0]["id"], run["id"]);

    // A second run finds nothing more to delete.
    let again = run_finished(&app, &app.a.admin, "purge_sessions").await;
    assert_eq!(
        (again["outcome"].as_str(), again["items"].as_u64()),
        (Some("succeeded"), Some(0))
    );
}

// ---------------------------------------------------------------------------------------------
// Failures and panics

async fn panics(_ctx: JobCtx) -> anyhow::Result<u64> {
    panic!("the hose burst")
}

#[tokio::test]
async fn a_failing_or_panicking_job_is_recorded_as_failed_and_the_server_carries_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let jobs = logbook::app::job_registry()
        .with(JobDef::new(
            "flaky_job",
            "Flaky",
            "Fails the first time, then works.",
            YEARLY,
            move |_ctx: JobCtx| {
                let c = c.clone();
                async move {
                    if c.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(anyhow::anyhow!("the pump is dry").context("could not fill the tanker"))
                    } else {
                        Ok(7)
                    }
                }
            },
        ))
        .with(JobDef::new(
            "panicky_job",
            "Panicky",
            "Panics.",
            YEARLY,
            panics,
        ));
    let app = TestApp::spawn_with(|_| {}, Some(jobs)).await;
    let admin = &app.a.admin;

    let failed = run_finished(&app, admin, "flaky_job").await;
    assert_eq!(failed["outcome"], "failed", "{failed}");
    assert_eq!(
        failed["error"], "could not fill the tanker: the pump is dry",
        "{failed}"
    );
    assert_eq!(failed["items"], 0);
    assert!(!failed["finished_at"].is_null(), "{failed}");
    let list = job_list(&app, admin).await;
    let flaky = job(&list, "flaky_job");
    assert_eq!(flaky["last_run"]["id"], failed["id"], "{flaky}");
    assert_eq!(flaky["last_failure"]["id"], failed["id"], "{flaky}");
    assert_eq!(
        flaky["last_failure"]["error"],
        "could not fill the tanker: the pump is dry"
    );

    // It works the next time: the last run moves on, the last failure stays.
    let ok = run_finished(&app, admin, "flaky_job").await;
    assert_eq!(
        (ok["outcome"].as_str(), ok["items"].as_u64()),
        (Some("succeeded"), Some(7))
    );
    let list = job_list(&app, admin).await;
    let flaky = job(&list, "flaky_job");
    assert_eq!(flaky["last_run"]["id"], ok["id"], "{flaky}");
    assert_eq!(flaky["last_failure"]["id"], failed["id"], "{flaky}");
    let page = runs_page(&app, admin, "flaky_job", "?outcome=failed").await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["items"][0]["id"], failed["id"]);
    let page = runs_page(&app, admin, "flaky_job", "?outcome=succeeded").await;
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["items"][0]["id"], ok["id"]);

    // A panic is a failure like any other; its lock is released, so the next run runs (and
    // panics) rather than being skipped.
    for _ in 0..2 {
        let run = run_finished(&app, admin, "panicky_job").await;
        assert_eq!(run["outcome"], "failed", "{run}");
        assert_eq!(run["error"], "the job panicked", "{run}");
    }
    let list = job_list(&app, admin).await;
    assert_eq!(
        job(&list, "panicky_job")["last_failure"]["error"],
        "the job panicked"
    );
    let run = run_finished(&app, admin, "purge_sessions").await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let (status, _) = app.get(&admin.token, "/api/v1/auth/me").await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------------
// Overlap

#[tokio::test]
async fn a_run_while_the_previous_one_is_going_is_skipped_and_a_long_run_answers_202() {
    let gate = Arc::new(Semaphore::new(0));
    let entered = Arc::new(AtomicUsize::new(0));
    let (g, e) = (gate.clone(), entered.clone());
    let jobs = logbook::app::job_registry().with(JobDef::new(
        "slow_job",
        "Slow",
        "Waits for the test.",
        YEARLY,
        move |_ctx: JobCtx| {
            let (g, e) = (g.clone(), e.clone());
            async move {
                e.fetch_add(1, Ordering::SeqCst);
                g.acquire().await?.forget();
                Ok(1)
            }
        },
    ));
    let app = TestApp::spawn_with(|_| {}, Some(jobs)).await;

    let start = |token: String| {
        let req = app
            .client
            .post(app.url("/api/v1/jobs/slow_job/run"))
            .bearer_auth(token);
        tokio::spawn(async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        })
    };
    let first = start(app.a.admin.token.clone());
    let e = &entered;
    wait_until(
        "the first run to start",
        Duration::from_secs(10),
        || async move { e.load(Ordering::SeqCst) == 1 },
    )
    .await;

    // A second run for the same organization is skipped at once, with the reason.
    let (status, skipped) = run_now(&app, &app.a.admin, "slow_job").await;
    assert_eq!(status, StatusCode::OK, "{skipped}");
    assert_eq!(skipped["outcome"], "skipped", "{skipped}");
    assert_eq!(skipped["error"], "the previous run was still going");
    assert_eq!(skipped["trigger_kind"], "manual");
    assert_eq!(uuid_of(&skipped["triggered_by"]), app.a.admin.id);
    assert!(!skipped["finished_at"].is_null(), "{skipped}");
    assert_eq!(entered.load(Ordering::SeqCst), 1, "the skipped run ran");

    // The lock is per organization: org B's run is not held up by org A's.
    let other = start(app.b.admin.token.clone());
    wait_until(
        "org B's run to start",
        Duration::from_secs(10),
        || async move { e.load(Ordering::SeqCst) == 2 },
    )
    .await;
    let b_runs = stored_runs(&app, app.b.id, "slow_job").await;
    assert_eq!(b_runs.len(), 1, "{b_runs:?}");
    assert_eq!(b_runs[0].outcome, "running");

    let page = runs_page(&app, &app.a.admin, "slow_job", "?outcome=running").await;
    assert_eq!(page["total"], 1, "{page}");
    let list = job_list(&app, &app.a.admin).await;
    assert_eq!(job(&list, "slow_job")["last_run"]["id"], skipped["id"]);

    // "Run now" waits a while, then answers that the run is still going.
    let (status, running) = first.await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{running}");
    assert_eq!(running["outcome"], "running", "{running}");
    assert!(running["finished_at"].is_null(), "{running}");
    let (status, b_running) = other.await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED, "{b_running}");

    // It carries on and is recorded when it ends.
    gate.add_permits(2);
    let app_ref = &app;
    wait_until(
        "both runs to finish",
        Duration::from_secs(10),
        || async move {
            let a = stored_runs(app_ref, app_ref.a.id, "slow_job").await;
            let b = stored_runs(app_ref, app_ref.b.id, "slow_job").await;
            a.iter().chain(&b).all(|r| r.outcome != "running")
        },
    )
    .await;
    let a = stored_runs(&app, app.a.id, "slow_job").await;
    let outcomes: Vec<(Uuid, &str, u32)> = a
        .iter()
        .map(|r| (r.id, r.outcome.as_str(), r.items))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (uuid_of(&running["id"]), "succeeded", 1),
            (uuid_of(&skipped["id"]), "skipped", 0)
        ]
    );
    let b = stored_runs(&app, app.b.id, "slow_job").await;
    assert_eq!(b[0].id, uuid_of(&b_running["id"]));
    assert_eq!(b[0].outcome, "succeeded");
    assert_eq!(entered.load(Ordering::SeqCst), 2);

    // With the lock free again, the next run runs.
    gate.add_permits(1);
    let next = run_finished(&app, &app.a.admin, "slow_job").await;
    assert_eq!(next["outcome"], "succeeded", "{next}");
}

// ---------------------------------------------------------------------------------------------
// The scheduler

#[tokio::test]
async fn two_servers_on_one_database_never_run_a_slot_twice() {
    let counts = [Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0))];
    let registry = |count: &Arc<AtomicUsize>| {
        logbook::app::job_registry().with(counting_job(
            "every_second",
            "* * * * * *",
            count.clone(),
        ))
    };
    // The test's own server only provisions (its scheduler is off, its count stays 0).
    let idle = Arc::new(AtomicUsize::new(0));
    let app = TestApp::spawn_with(|_| {}, Some(registry(&idle))).await;
    let one = second_server(&app, registry(&counts[0]), true).await;
    let two = second_server(&app, registry(&counts[1]), true).await;

    let app_ref = &app;
    let succeeded_per_org = || async move {
        let mut n = [0; 2];
        for (i, org) in [app_ref.a.id, app_ref.b.id].into_iter().enumerate() {
            n[i] = stored_runs(app_ref, org, "every_second")
                .await
                .iter()
                .filter(|r| r.outcome == "succeeded")
                .count();
        }
        n
    };
    wait_until(
        "four scheduled runs per organization",
        Duration::from_secs(15),
        || async move { succeeded_per_org().await.iter().all(|n| *n >= 4) },
    )
    .await;

    // Both servers fire for every slot and one of them wins each. Stop the one that has been
    // winning: the other carries on alone, so it was scheduling all along.
    let (leader, follower, lead) =
        if counts[0].load(Ordering::SeqCst) >= counts[1].load(Ordering::SeqCst) {
            (one, two, 0)
        } else {
            (two, one, 1)
        };
    leader.stop().await;
    // A firing that had begun before the stop may still finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let leader_ran = counts[lead].load(Ordering::SeqCst);
    let follower_ran = counts[1 - lead].load(Ordering::SeqCst);
    let before = succeeded_per_org().await;
    wait_until(
        "three more runs per organization from the remaining server",
        Duration::from_secs(15),
        || async move {
            let now = succeeded_per_org().await;
            now[0] >= before[0] + 3 && now[1] >= before[1] + 3
        },
    )
    .await;
    follower.stop().await;
    assert_eq!(
        counts[lead].load(Ordering::SeqCst),
        leader_ran,
        "a stopped server ran the job"
    );
    assert!(
        counts[1 - lead].load(Ordering::SeqCst) >= follower_ran + 6,
        "the remaining server did not take over"
    );
    wait_until(
        "in-flight runs to end",
        Duration::from_secs(5),
        || async move {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM job_runs WHERE outcome = 'running'")
                .fetch_one(&app_ref.db.pool)
                .await
                .unwrap()
                == 0
        },
    )
    .await;

    let mut succeeded = 0;
    for org in [app.a.id, app.b.id] {
        let rows = stored_runs(&app, org, "every_second").await;
        let mut slots: Vec<DateTime<Utc>> = rows
            .iter()
            .map(|r| r.scheduled_for.expect("a scheduled run names its slot"))
            .collect();
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), rows.len(), "a slot ran twice: {rows:#?}");
        for r in &rows {
            assert_eq!(r.trigger_kind, "schedule", "{r:?}");
            assert!(r.triggered_by.is_none(), "{r:?}");
            let slot = r.scheduled_for.unwrap();
            assert_eq!(slot.nanosecond(), 0, "slots are whole seconds: {r:?}");
            assert!(
                r.started_at >= slot && r.started_at - slot < chrono::Duration::seconds(3),
                "run started at {} for slot {slot}",
                r.started_at
            );
            assert!(
                r.outcome == "succeeded" || r.outcome == "skipped",
                "unexpected outcome: {r:?}"
            );
        }
        succeeded += rows.iter().filter(|r| r.outcome == "succeeded").count();
    }
    let ran = counts[0].load(Ordering::SeqCst) + counts[1].load(Ordering::SeqCst);
    assert_eq!(
        ran,
        succeeded,
        "the job ran {ran} times (server one {}, server two {}) for {succeeded} succeeded slots",
        counts[0].load(Ordering::SeqCst),
        counts[1].load(Ordering::SeqCst)
    );
    assert_eq!(idle.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_scheduler_runs_each_job_for_every_organization_even_with_an_odd_time_zone() {
    let per_org: Arc<Mutex<HashMap<Uuid, usize>>> = Arc::default();
    let p = per_org.clone();
    let jobs = logbook::app::job_registry().with(JobDef::new(
        "tick",
        "Tick",
        "Counts its runs per organization.",
        "* * * * * *",
        move |ctx: JobCtx| {
            let p = p.clone();
            async move {
                assert!(!ctx.manual);
                assert!(ctx.slot.is_some());
                *p.lock().unwrap().entry(ctx.org_id.uuid()).or_default() += 1;
                Ok(1)
            }
        },
    ));
    let app = TestApp::spawn_with(|_| {}, Some(jobs.clone())).await;
    // A time zone the server does not know (set behind the API's back, which refuses it).
    sqlx::query("UPDATE organizations SET timezone = 'Mars/Olympus_Mons' WHERE id = ?")
        .bind(app.b.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let server = second_server(&app, jobs, true).await;

    let app_ref = &app;
    wait_until(
        "two scheduled runs for each organization",
        Duration::from_secs(15),
        || async move {
            let mut ok = true;
            for org in [app_ref.a.id, app_ref.b.id] {
                let rows = stored_runs(app_ref, org, "tick").await;
                ok &= rows.iter().filter(|r| r.outcome == "succeeded").count() >= 2;
            }
            ok
        },
    )
    .await;
    for org in [app.a.id, app.b.id] {
        for r in stored_runs(&app, org, "tick").await {
            assert_eq!(r.organization_id, org);
            assert_eq!(r.trigger_kind, "schedule", "{r:?}");
            assert!(r.error.is_none(), "{r:?}");
        }
    }
    let counted = per_org.lock().unwrap().clone();
    assert!(
        counted.get(&app.a.id).is_some_and(|n| *n >= 2)
            && counted.get(&app.b.id).is_some_and(|n| *n >= 2),
        "{counted:?}"
    );

    // The organization with the odd zone still gets its list, with a next run (in UTC).
    let (status, list) = server.get(&app, &app.b.admin.token, "/api/v1/jobs").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().unwrap().clone();
    let tick = job(&list, "tick");
    assert_eq!(tick["timezone"], "Mars/Olympus_Mons", "{tick}");
    let next = time_of(&tick["next_run"]);
    assert!(next > Utc::now() - chrono::Duration::seconds(1), "{tick}");
    assert!(next < Utc::now() + chrono::Duration::seconds(3), "{tick}");
    assert_eq!(tick["last_run"]["trigger_kind"], "schedule", "{tick}");
    let purge = job(&list, "purge_sessions");
    let next = time_of(&purge["next_run"]);
    assert_eq!(
        (next.hour(), next.minute()),
        (3, 10),
        "UTC fallback: {purge}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_sync_picks_up_new_organizations_and_drops_deactivated_ones() {
    let count = Arc::new(AtomicUsize::new(0));
    let jobs = logbook::app::job_registry().with(counting_job("tick", "* * * * * *", count));
    let app = TestApp::spawn_with(|_| {}, Some(jobs.clone())).await;
    let mut state = logbook::prepare(test_config(&app.db.url, app.data_dir.clone()))
        .await
        .unwrap();
    state.jobs = Arc::new(jobs);
    let scheduler = logbook::jobs::Scheduler::start(state.clone())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(scheduler.clone().run(stopped));

    let app_ref = &app;
    let ticks = |org: Uuid| async move { stored_runs(app_ref, org, "tick").await.len() };
    wait_until("runs for A and B", Duration::from_secs(10), || async move {
        ticks(app_ref.a.id).await >= 2 && ticks(app_ref.b.id).await >= 2
    })
    .await;

    // B is deactivated and C created; until the next sync nothing changes for them.
    sqlx::query("UPDATE organizations SET active = FALSE WHERE id = ?")
        .bind(app.b.id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let c = app
        .provision("Charlie Fire Department", "charlie-admin")
        .await;
    scheduler.sync().await.unwrap();
    // A run for B may have been under way while the sync ran.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let b_after_sync = ticks(app.b.id).await;
    let a_before = ticks(app.a.id).await;
    wait_until(
        "runs for C and more for A",
        Duration::from_secs(10),
        || async move { ticks(c.id).await >= 2 && ticks(app_ref.a.id).await >= a_before + 2 },
    )
    .await;
    assert_eq!(
        ticks(app.b.id).await,
        b_after_sync,
        "a deactivated organization's job still runs"
    );

    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the scheduler did not stop")
        .unwrap();
    state.db.close().await;
}

#[tokio::test]
async fn a_run_left_running_without_its_lock_is_closed_when_a_scheduler_starts() {
    let app = TestApp::spawn_private().await;
    let an_hour_ago = Utc::now() - chrono::Duration::hours(1);
    let insert = |job: &'static str, outcome: &'static str| {
        let id = Uuid::now_v7();
        let pool = app.db.pool.clone();
        let org = app.a.id;
        async move {
            sqlx::query(
                "INSERT INTO job_runs (id, organization_id, job, trigger_kind, scheduled_for,
                    started_at, outcome, server)
                 VALUES (?, ?, ?, 'schedule', ?, ?, ?, 'gone:1')",
            )
            .bind(id)
            .bind(org)
            .bind(job)
            .bind(an_hour_ago)
            .bind(an_hour_ago)
            .bind(outcome)
            .execute(&pool)
            .await
            .unwrap();
            id
        }
    };
    let orphan = insert("audit_verify", "running").await;
    let done = insert("email_outbox", "succeeded").await;
    // A run whose lock is held (by a server that is still going) is left alone.
    let held = insert("purge_sessions", "running").await;
    let mut holder = <sqlx::MySqlConnection as sqlx::Connection>::connect_with(
        &logbook::db::connect_options(&app.db.url).unwrap(),
    )
    .await
    .unwrap();
    let got: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 0)")
        .bind(runner::lock_name("purge_sessions", app.a.org_id))
        .fetch_one(&mut holder)
        .await
        .unwrap();
    assert_eq!(got, Some(1));

    let outcome_of = |id: Uuid| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_as::<_, (String, Option<String>, Option<DateTime<Utc>>)>(
                "SELECT outcome, error, finished_at FROM job_runs WHERE id = ?",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let server = second_server(&app, logbook::app::job_registry(), true).await;
    let o = &outcome_of;
    wait_until(
        "the orphaned run to be closed",
        Duration::from_secs(10),
        || async move { o(orphan).await.0 != "running" },
    )
    .await;
    let (outcome, error, finished) = outcome_of(orphan).await;
    assert_eq!(outcome, "failed");
    assert_eq!(error.as_deref(), Some("the server stopped during this run"));
    assert!(finished.is_some());
    assert_eq!(
        outcome_of(held).await.0,
        "running",
        "a run with its lock held was closed"
    );
    assert_eq!(outcome_of(done).await.0, "succeeded");

    // Shown as a failure.
    let list = job_list(&app, &app.a.admin).await;
    assert_eq!(
        job(&list, "audit_verify")["last_failure"]["id"],
        json!(orphan.to_string())
    );
    server.stop().await;
    let _ = sqlx::Connection::close(holder).await;
}

// ---------------------------------------------------------------------------------------------
// Reminders

async fn remind_admins(ctx: JobCtx) -> anyhow::Result<u64> {
    let state = &ctx.state;
    let mut tx = state.db.begin().await?;
    let admins = notify::holders_of(&mut tx, ctx.org_id, "settings.manage")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sent = notify::notify(
        &state.notifier,
        &mut tx,
        ctx.org_id,
        &admins,
        &Notice {
            category: categories::SYSTEM,
            subject: "The hose test is due".into(),
            body: "Test the hoses this week.".into(),
            link: None,
            dedupe_key: Some("test-reminder:1".into()),
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    tx.commit().await?;
    Ok(sent.notified)
}

async fn reminders(app: &TestApp, org: &Org) -> Vec<Uuid> {
    sqlx::query_scalar(
        "SELECT recipient_id FROM notification_logs
          WHERE organization_id = ? AND dedupe_key = 'test-reminder:1'",
    )
    .bind(org.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_reminder_is_never_sent_twice_across_reruns_and_restarts() {
    let jobs = || {
        logbook::app::job_registry().with(JobDef::new(
            "test_reminder",
            "Reminder",
            "Reminds the admins.",
            YEARLY,
            remind_admins,
        ))
    };
    let mut app = TestApp::spawn_with(|_| {}, Some(jobs())).await;
    let mut items = Vec::new();
    for _ in 0..3 {
        let run = run_finished(&app, &app.a.admin, "test_reminder").await;
        assert_eq!(run["outcome"], "succeeded", "{run}");
        items.push(run["items"].as_u64().unwrap());
    }
    assert_eq!(items, [1, 0, 0], "notifications created per run");
    assert_eq!(reminders(&app, &app.a).await, vec![app.a.admin.id]);
    // The key is per organization (and member): org B's admin gets theirs.
    let run = run_finished(&app, &app.b.admin, "test_reminder").await;
    assert_eq!(run["items"], 1, "{run}");

    // Restart on the same database and data directory; run it again.
    app.stop().await;
    let (_state, addr, _stop, _handle) =
        start_server_with(test_config(&app.db.url, app.data_dir.clone()), Some(jobs())).await;
    app.base = format!("http://{addr}");
    let run = run_finished(&app, &app.a.admin, "test_reminder").await;
    assert_eq!(
        (run["outcome"].as_str(), run["items"].as_u64()),
        (Some("succeeded"), Some(0)),
        "{run}"
    );
    assert_eq!(reminders(&app, &app.a).await, vec![app.a.admin.id]);
    assert_eq!(reminders(&app, &app.b).await, vec![app.b.admin.id]);
    let (status, inbox) = app.get(&app.a.admin.token, "/api/v1/notifications").await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let hose = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["subject"] == "The hose test is due")
        .count();
    assert_eq!(hose, 1, "{inbox}");
}

// ---------------------------------------------------------------------------------------------
// audit_verify

const NO_UPDATE_TRIGGER: &str = "CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs \
    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_logs is append-only: UPDATE refused'";

/// Rewrites what one audit entry says, with the update trigger out of the way.
async fn tamper(app: &TestApp, id: Uuid) {
    let pool = &app.db.pool;
    sqlx::query("DROP TRIGGER audit_logs_no_update")
        .execute(pool)
        .await
        .unwrap();
    let done = sqlx::query(
        "UPDATE audit_logs SET changes = '{\"note\":\"nothing happened here\"}' WHERE id = ?",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(done, 1);
    sqlx::query(NO_UPDATE_TRIGGER).execute(pool).await.unwrap();
}

async fn open_chain_alerts(app: &TestApp, org: &Org) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT message FROM security_alerts
          WHERE organization_id = ? AND alert_type = 'audit_chain_broken' AND status = 'open'",
    )
    .bind(org.id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

async fn security_notices(app: &TestApp, user: Uuid) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM notification_logs WHERE recipient_id = ? AND category = 'security'",
    )
    .bind(user)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn audit_verify_checks_the_chain_and_raises_one_alert_per_break() {
    let app = TestApp::spawn_private().await;
    let deputy = app
        .member_with(&app.a, "deputy", &["settings.manage"])
        .await;
    let pat = app.member(&app.a, "pat", &[]).await;

    // Intact: every entry is checked (including the run's own request).
    let run = run_finished(&app, &app.a.admin, "audit_verify").await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let entries = app.audit_count(&app.a).await;
    assert!(entries > 5, "{entries}");
    assert_eq!(run["items"].as_i64(), Some(entries), "{run}");
    assert!(open_chain_alerts(&app, &app.a).await.is_empty());

    // Email goes to the sink, so the alert's email can be counted.
    let sink = SmtpSink::start().await;
    email_to_sink(&app, &app.a, sink.port()).await;

    let (victim, sequence): (Uuid, u64) = sqlx::query_as(
        "SELECT id, sequence FROM audit_logs WHERE organization_id = ? AND sequence = 3",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    tamper(&app, victim).await;

    let broken = run_finished(&app, &app.a.admin, "audit_verify").await;
    assert_eq!(broken["outcome"], "failed", "{broken}");
    let error = broken["error"].as_str().unwrap().to_string();
    assert!(
        error.contains(&format!("broken at entry {sequence}")),
        "{broken}"
    );
    let alerts = open_chain_alerts(&app, &app.a).await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].contains(&format!("entry {sequence}")),
        "{alerts:?}"
    );
    assert!(open_chain_alerts(&app, &app.b).await.is_empty());
    assert_eq!(security_notices(&app, app.a.admin.id).await, 1);
    assert_eq!(security_notices(&app, deputy.id).await, 1);
    assert_eq!(
        security_notices(&app, pat.id).await,
        0,
        "a plain member was told"
    );
    let (status, inbox) = app.get(&deputy.token, "/api/v1/notifications").await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["category"] == "security"),
        "{inbox}"
    );
    let mails = sink.wait_for(2, Duration::from_secs(10)).await;
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    to.sort();
    assert_eq!(
        to,
        ["alpha-admin@example.org", "deputy@example.org"],
        "{mails:#?}"
    );

    // Found again the next time: the run fails again, nothing new is raised or sent.
    let again = run_finished(&app, &app.a.admin, "audit_verify").await;
    assert_eq!(again["outcome"], "failed", "{again}");
    assert_eq!(again["error"].as_str(), Some(error.as_str()));
    assert_eq!(open_chain_alerts(&app, &app.a).await.len(), 1);
    assert_eq!(security_notices(&app, app.a.admin.id).await, 1);
    assert_eq!(security_notices(&app, deputy.id).await, 1);
    let queued: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM email_outbox WHERE organization_id = ?")
            .bind(app.a.id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(queued, 2, "emails queued for the break");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.messages().len(), 2);

    let list = job_list(&app, &app.a.admin).await;
    assert_eq!(
        job(&list, "audit_verify")["last_failure"]["id"],
        again["id"]
    );

    // Resolved while the chain is still broken: the next run raises a new alert and says so.
    let alert: Uuid = sqlx::query_scalar(
        "SELECT id FROM security_alerts WHERE organization_id = ? AND alert_type = 'audit_chain_broken'",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let (status, body) = app
        .post(
            &app.a.admin.token,
            &format!("/api/v1/security-alerts/{alert}/resolve"),
            json!({"note": "looked at it"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let third = run_finished(&app, &app.a.admin, "audit_verify").await;
    assert_eq!(third["error"].as_str(), Some(error.as_str()));
    assert_eq!(open_chain_alerts(&app, &app.a).await.len(), 1);
    assert_eq!(security_notices(&app, app.a.admin.id).await, 2);
    assert_eq!(security_notices(&app, deputy.id).await, 2);
    assert_eq!(security_notices(&app, pat.id).await, 0);
    sink.wait_for(4, Duration::from_secs(10)).await;

    // The other organization's chain is fine.
    let b = run_finished(&app, &app.b.admin, "audit_verify").await;
    assert_eq!(b["outcome"], "succeeded", "{b}");
}

const NO_DELETE_TRIGGER: &str = "CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs \
    FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_logs is append-only: DELETE refused'";

/// The built-in jobs, with audit_verify scheduled every second.
fn audit_verify_every_second() -> Registry {
    let builtin = logbook::app::job_registry();
    let mut jobs = Registry::default();
    for def in builtin.iter() {
        let mut def = def.clone();
        if def.name == "audit_verify" {
            def.schedule = "* * * * * *".into();
        }
        jobs = jobs.with(def);
    }
    jobs
}

#[tokio::test]
async fn a_removed_last_audit_entry_is_alerted_once_however_often_it_is_found() {
    let app = TestApp::spawn_private().await;
    let deputy = app
        .member_with(&app.a, "deputy", &["settings.manage"])
        .await;
    // Remove the latest entry of A's chain (its head still names it).
    let (last, sequence): (Uuid, u64) = sqlx::query_as(
        "SELECT id, sequence FROM audit_logs WHERE organization_id = ?
          ORDER BY sequence DESC LIMIT 1",
    )
    .bind(app.a.id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let pool = &app.db.pool;
    sqlx::query("DROP TRIGGER audit_logs_no_delete")
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_logs WHERE id = ?")
        .bind(last)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(NO_DELETE_TRIGGER).execute(pool).await.unwrap();

    // The scheduler finds it night after night (here: second after second).
    let server = second_server(&app, audit_verify_every_second(), true).await;
    let app_ref = &app;
    wait_until(
        "three failed scheduled verifications",
        Duration::from_secs(15),
        || async move {
            stored_runs(app_ref, app_ref.a.id, "audit_verify")
                .await
                .iter()
                .filter(|r| r.outcome == "failed")
                .count()
                >= 3
        },
    )
    .await;
    server.stop().await;

    let runs = stored_runs(&app, app.a.id, "audit_verify").await;
    for r in runs.iter().filter(|r| r.outcome != "skipped") {
        assert_eq!(r.outcome, "failed", "{r:?}");
        let error = r.error.as_deref().unwrap_or_default();
        assert!(
            error.contains(&format!("broken at entry {sequence}")),
            "{r:?}"
        );
    }
    let alerts = open_chain_alerts(&app, &app.a).await;
    assert_eq!(alerts.len(), 1, "one break, several alerts: {alerts:#?}");
    assert_eq!(security_notices(&app, app.a.admin.id).await, 1);
    assert_eq!(security_notices(&app, deputy.id).await, 1);
    // B's chain is intact and verified by the same schedule.
    let b = stored_runs(&app, app.b.id, "audit_verify").await;
    assert!(
        !b.is_empty() && b.iter().all(|r| r.outcome == "succeeded"),
        "{b:?}"
    );
    assert!(open_chain_alerts(&app, &app.b).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Isolation

#[tokio::test]
async fn each_organization_sees_only_its_own_runs() {
    let jobs = logbook::app::job_registry().with(JobDef::new(
        "always_fails",
        "Fails",
        "Always fails.",
        YEARLY,
        |_ctx: JobCtx| async { Err::<u64, _>(anyhow::anyhow!("no water")) },
    ));
    let app = TestApp::spawn_with(|_| {}, Some(jobs)).await;
    let a1 = run_finished(&app, &app.a.admin, "purge_sessions").await;
    let a2 = run_finished(&app, &app.a.admin, "purge_sessions").await;
    let a_fail = run_finished(&app, &app.a.admin, "always_fails").await;
    let b1 = run_finished(&app, &app.b.admin, "purge_sessions").await;

    let page = runs_page(&app, &app.b.admin, "purge_sessions", "").await;
    assert_eq!(page["total"], 1, "{page}");
    let ids = item_ids(&page);
    assert_eq!(ids, [&b1["id"]]);
    let page = runs_page(&app, &app.b.admin, "always_fails", "").await;
    assert_eq!(page["total"], 0, "{page}");
    let list = job_list(&app, &app.b.admin).await;
    assert_eq!(job(&list, "purge_sessions")["last_run"]["id"], b1["id"]);
    assert!(job(&list, "always_fails")["last_run"].is_null());
    assert!(job(&list, "always_fails")["last_failure"].is_null());

    let page = runs_page(&app, &app.a.admin, "purge_sessions", "").await;
    assert_eq!(page["total"], 2, "{page}");
    let ids = item_ids(&page);
    assert_eq!(ids, [&a2["id"], &a1["id"]], "newest first");
    let list = job_list(&app, &app.a.admin).await;
    assert_eq!(job(&list, "purge_sessions")["last_run"]["id"], a2["id"]);
    assert_eq!(
        job(&list, "always_fails")["last_failure"]["id"],
        a_fail["id"]
    );
}
