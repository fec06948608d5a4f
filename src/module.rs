//! The module contract: what a module gives the server, in one value. `src/modules/mod.rs` lists
//! the modules; `app.rs` installs that list at start, and the router, the scheduler, the chrome's
//! navigation, the dashboard, the API document, the data export and provisioning iterate it. So
//! the kernel and the platform never name a module, and adding one is its folder plus one line.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use axum::Router;
use uuid::Uuid;

use crate::auth::Ctx;
use crate::db::{Conn, Tx};
use crate::error::AppResult;
use crate::jobs::JobDef;
use crate::state::AppState;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a module contributes. Every part but the name and the router may be empty.
pub struct Module {
    /// Short and stable: `training`.
    pub name: &'static str,
    /// Its JSON API and its pages.
    pub router: fn() -> Router<AppState>,
    /// Its scheduled jobs.
    pub jobs: fn() -> Vec<JobDef>,
    /// Its entries in the header's navigation.
    pub nav: &'static [NavEntry],
    /// Its "what is due for me" panels on the dashboard.
    pub panels: Option<PanelsFn>,
    /// Its part of `/api/v1/openapi.json`.
    pub openapi: fn() -> utoipa::openapi::OpenApi,
    /// Its tables in the department's data export (CSV files in the zip).
    pub export: &'static [ExportSection],
    /// What a new department starts with (e.g. training's ISO categories), in the provisioning
    /// transaction.
    pub seed: Option<SeedFn>,
    /// What it does when another module tells of a change (`tell`), in that change's
    /// transaction: so a module can follow one it depends on without that one naming it.
    pub listeners: &'static [Listener],
    /// The part of Logbook a department may turn off that this module belongs to (several
    /// modules may share one: programs are part of training). None: always on.
    pub feature: Option<&'static Feature>,
    /// What it adds to a member's calendar feed (the member's own shifts, say), read while the
    /// feed is served: the department's and the member's ids.
    pub feed: Option<FeedFn>,
}

/// A part of Logbook a department chooses in the wizard and may turn off later: while it is off
/// its modules leave the navigation and the dashboard, their routes answer 404 and their jobs
/// skip the department. Its key is the one the department's settings and the permissions
/// (`training.view`) use.
#[derive(Debug)]
pub struct Feature {
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
}

/// The features the installed modules make up, each once, in the modules' order: what the
/// wizard and the settings offer to turn on or off.
pub fn features() -> Vec<&'static Feature> {
    let mut out: Vec<&'static Feature> = Vec::new();
    for f in installed().iter().filter_map(|m| m.feature) {
        if !out.iter().any(|o| o.key == f.key) {
            out.push(f);
        }
    }
    out
}

/// Whether some installed module makes up the feature `key`: a permission or notification
/// category of a feature not built yet is not offered.
pub fn built(key: &str) -> bool {
    features().iter().any(|f| f.key == key)
}

/// The features a department's settings (`{"modules": {"training": false, …}}`) turn off.
pub fn features_off(settings: &str) -> std::collections::BTreeSet<String> {
    #[derive(serde::Deserialize, Default)]
    struct Settings {
        #[serde(default)]
        modules: std::collections::BTreeMap<String, bool>,
    }
    serde_json::from_str::<Settings>(settings)
        .unwrap_or_default()
        .modules
        .into_iter()
        .filter(|(_, on)| !on)
        .map(|(key, _)| key)
        .collect()
}

/// A module's job that runs only for departments with the module's feature on (for the
/// others, each run does nothing and says so: 0 items).
pub fn only_when_on(feature: &'static Feature, mut def: JobDef) -> JobDef {
    let inner = def.run.clone();
    def.run = std::sync::Arc::new(move |ctx: crate::jobs::JobCtx| {
        let inner = inner.clone();
        Box::pin(async move {
            let settings: Option<String> =
                sqlx::query_scalar("SELECT settings FROM organizations WHERE id = ?")
                    .bind(ctx.org_id)
                    .fetch_optional(&ctx.state.db)
                    .await?;
            if features_off(settings.as_deref().unwrap_or("{}")).contains(feature.key) {
                return Ok(0);
            }
            inner(ctx).await
        })
    });
    def
}

impl Module {
    /// Its jobs, each skipping departments that turned its feature off.
    pub fn scheduled_jobs(&self) -> Vec<JobDef> {
        let jobs = (self.jobs)();
        match self.feature {
            Some(f) => jobs.into_iter().map(|j| only_when_on(f, j)).collect(),
            None => jobs,
        }
    }

    /// Whether the department of `ctx` has this module on.
    pub fn on_for(&self, ctx: &Ctx) -> bool {
        self.feature.is_none_or(|f| ctx.feature_on(f.key))
    }
}

/// One module's answer to one kind of change another module tells of.
pub struct Listener {
    /// The change, as the telling module names it (e.g. `training::RECORDS_CHANGED`).
    pub event: &'static str,
    pub run: ListenFn,
}

/// Gets the change's subject (e.g. the member whose records changed).
pub type ListenFn = for<'a, 'c> fn(&'a Ctx, &'a mut Tx<'c>, Uuid) -> BoxFuture<'a, AppResult<()>>;

/// Tells every installed module that listens for `event` that it happened to `subject`, in the
/// caller's transaction; an error from any listener fails the caller's change as a whole.
pub async fn tell(ctx: &Ctx, tx: &mut Tx<'_>, event: &str, subject: Uuid) -> AppResult<()> {
    for module in installed() {
        for l in module.listeners.iter().filter(|l| l.event == event) {
            (l.run)(ctx, tx, subject).await?;
        }
    }
    Ok(())
}

/// One entry of the header's navigation.
pub struct NavEntry {
    pub label: &'static str,
    pub href: &'static str,
    /// Every permission the page needs; none: every member sees it.
    pub needs: &'static [&'static str],
    /// Where it goes among the others (the platform's entries: members 20, roles 40, audit 80,
    /// settings 90, account 99).
    pub order: u16,
}

/// One module's "what is due for me" panel.
pub struct Panel {
    pub title: String,
    pub items: Vec<PanelItem>,
}

pub struct PanelItem {
    pub text: String,
    pub link: String,
}

/// One entry a module adds to a member's calendar feed.
pub struct FeedItem {
    /// Unique and stable (a row's id), so a calendar updates the entry instead of adding one.
    pub uid: String,
    pub summary: String,
    pub description: Option<String>,
    pub location: Option<String>,
    pub starts_at: chrono::DateTime<chrono::Utc>,
    pub ends_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub cancelled: bool,
    /// The page it is about, below the server's address (`/scheduling/shifts/…`).
    pub path: String,
}

/// A module's entries for a member's calendar feed: (connection, organization id, member id).
/// It checks for itself that the member may see them (the feed carries no session).
pub type FeedFn = for<'a> fn(&'a mut Conn, Uuid, Uuid) -> BoxFuture<'a, AppResult<Vec<FeedItem>>>;

pub type PanelsFn = for<'a> fn(&'a Ctx, &'a mut Conn) -> BoxFuture<'a, AppResult<Vec<Panel>>>;

pub type SeedFn =
    for<'a, 'c> fn(&'a mut Tx<'c>, crate::auth::OrgId) -> BoxFuture<'a, AppResult<()>>;

/// One CSV file of the data export: a query with one `?`, the organization's id, whose columns
/// are all text (the export writes them as they come).
pub struct ExportSection {
    pub file: &'static str,
    pub about: &'static str,
    pub sql: &'static str,
}

static INSTALLED: OnceLock<&'static [Module]> = OnceLock::new();

/// Called by `app.rs` before anything serves or provisions; later calls change nothing (the list
/// is the program's, the same every time).
pub fn install(modules: &'static [Module]) {
    let _ = INSTALLED.set(modules);
}

/// The installed modules.
///
/// # Panics
/// Before `install`: a programming error (every entry point — `lib::prepare`, `app::router`,
/// the CLI — installs first), caught by every test.
pub fn installed() -> &'static [Module] {
    INSTALLED
        .get()
        .copied()
        .expect("app::install_modules runs before the modules are used")
}

/// A module with nothing but a name and a router, to build real ones from with `..`.
pub const fn empty(name: &'static str, router: fn() -> Router<AppState>) -> Module {
    Module {
        name,
        router,
        jobs: Vec::new,
        nav: &[],
        panels: None,
        openapi: utoipa::openapi::OpenApi::default,
        export: &[],
        seed: None,
        listeners: &[],
        feature: None,
        feed: None,
    }
}

#[cfg(test)]
mod tests {
    /// The kernel and the platform never name a module: only `app.rs` (which installs the list)
    /// and the modules themselves may use the `modules` path.
    fn sources() -> (std::path::PathBuf, Vec<std::path::PathBuf>) {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("read src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&src, &mut files);
        assert!(files.len() > 50, "found only {} source files", files.len());
        (src, files)
    }

    #[test]
    fn nothing_below_the_modules_names_one() {
        let (src, files) = sources();
        // Spelled in two parts so that this file does not name what it looks for.
        let needles = [
            ["crate", "::modules"].concat(),
            ["logbook", "::modules"].concat(),
        ];
        let mut offenders = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&src).expect("under src");
            if rel.starts_with("modules") || rel == std::path::Path::new("app.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("read source");
            for (n, line) in text.lines().enumerate() {
                if needles.iter().any(|n| line.contains(n.as_str())) {
                    offenders.push(format!("src/{}:{}: {}", rel.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "only src/app.rs and the modules may name a module:\n{}",
            offenders.join("\n")
        );
    }

    /// Handlers stay thin: page and API files (`pages.rs`, `pages/`, `api.rs`) call services;
    /// the SQL lives beside the rules, in the service files.
    #[test]
    fn handler_files_hold_no_sql() {
        let (src, files) = sources();
        let needle = ["sqlx", "::query"].concat();
        let mut offenders = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&src).expect("under src");
            let handler = rel
                .file_name()
                .is_some_and(|n| n == "pages.rs" || n == "api.rs")
                || rel.components().any(|c| c.as_os_str() == "pages");
            if !handler {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("read source");
            for (n, line) in text.lines().enumerate() {
                if line.contains(needle.as_str()) {
                    offenders.push(format!("src/{}:{}: {}", rel.display(), n + 1, line.trim()));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "SQL belongs in a service file, not a handler:\n{}",
            offenders.join("\n")
        );
    }
}
