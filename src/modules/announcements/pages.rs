//! `/announcements`: the list, the post form, dismiss and withdraw (asking first). Plain forms,
//! post-redirect-get; the rules and the permission (`announcements.manage`) live in `service`.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::service::{self, Announcement, ListQuery, NewAnnouncement};
use crate::auth::Ctx;
use crate::auth::permissions::{ANNOUNCEMENTS_MANAGE, MEMBERS_VIEW};
use crate::db::Conn;
use crate::error::{AppError, AppResult, FieldError};
use crate::roles::service as roles;
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{self, Chrome, LocalTime, PageResult, Pager, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/announcements", get(list))
        .route("/announcements/new", get(new_form).post(create))
        .route("/announcements/{id}/dismiss", post(dismiss))
        .route(
            "/announcements/{id}/withdraw",
            get(withdraw_confirm).post(withdraw),
        )
}

/// The header entry the announcement pages belong to.
const SECTION: &str = "/announcements";

// ---------------------------------------------------------------------------------------------
// Shown the same way on this module's pages and on the dashboard

/// One announcement, formatted for a page.
pub struct AnnouncementView {
    pub id: Uuid,
    pub title: String,
    /// Paragraphs (split at blank lines), each as its lines.
    pub paragraphs: Vec<Vec<String>>,
    pub author: String,
    pub posted: LocalTime,
    /// "Everyone", or the role names.
    pub audience: String,
    pub expires: Option<LocalTime>,
    pub withdrawn: Option<LocalTime>,
    /// `current`, `expired` or `withdrawn`.
    pub state: &'static str,
    pub state_label: &'static str,
    pub dismissed: bool,
}

impl AnnouncementView {
    pub fn new(a: Announcement, tz: crate::time::Local, now: DateTime<Utc>) -> Self {
        let (state, state_label) = if a.withdrawn_at.is_some() {
            ("withdrawn", "Withdrawn")
        } else if a.expires_at.is_some_and(|t| t <= now) {
            ("expired", "Expired")
        } else {
            ("current", "Current")
        };
        let audience = if a.audience == "all" || a.roles.is_empty() {
            "Everyone".to_string()
        } else {
            a.roles
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        AnnouncementView {
            id: a.id,
            paragraphs: crate::notify::mail::paragraphs(&a.body.replace("\r\n", "\n"))
                .into_iter()
                .map(|p| p.lines().map(|l| l.trim_end().to_string()).collect())
                .collect(),
            title: a.title,
            author: a.author_name,
            posted: web::local_time(tz, &a.created_at),
            audience,
            expires: a.expires_at.map(|t| web::local_time(tz, &t)),
            withdrawn: a.withdrawn_at.map(|t| web::local_time(tz, &t)),
            state,
            state_label,
            dismissed: a.dismissed,
        }
    }
}

/// What the dashboard shows the member: current announcements addressed to them, not dismissed.
pub async fn for_dashboard(ctx: &Ctx, conn: &mut Conn) -> AppResult<Vec<AnnouncementView>> {
    let tz = ctx.local();
    let now = Utc::now();
    Ok(service::for_me(ctx, conn)
        .await?
        .into_iter()
        .map(|a| AnnouncementView::new(a, tz, now))
        .collect())
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Template)]
#[template(path = "announcements/list.html")]
struct ListPage {
    chrome: Chrome,
    can_manage: bool,
    items: Vec<AnnouncementView>,
    flash: Option<String>,
    total: u64,
    pager: Pager,
    timezone: String,
}

#[derive(Deserialize, Default)]
struct ListParams {
    page: Option<String>,
    posted: Option<String>,
    notified: Option<String>,
    emailed: Option<String>,
    withdrawn: Option<String>,
}

fn list_link(page: u32) -> String {
    let page = if page <= 1 {
        String::new()
    } else {
        page.to_string()
    };
    web::link("/announcements", &[("page", &page)])
}

/// The message after a post or a withdrawal, from the redirect's query.
fn flash(q: &ListParams) -> Option<String> {
    let count = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<u64>().ok());
    if q.posted.is_some() {
        return Some(match (count(&q.notified), count(&q.emailed)) {
            (Some(n), emailed) => {
                let mut text = format!(
                    "Announcement posted. {} notified",
                    plural(n, "member was", "members were")
                );
                if let Some(e) = emailed {
                    text.push_str(&format!(" ({} queued)", plural(e, "email", "emails")));
                }
                text.push('.');
                text
            }
            (None, _) => "Announcement posted. Nobody was notified; it shows on the dashboards \
                          of its audience."
                .to_string(),
        });
    }
    q.withdrawn
        .is_some()
        .then(|| "Announcement withdrawn: it no longer shows on any dashboard.".to_string())
}

async fn list(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<ListParams>, QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let page = web::page_number(q.page.as_deref());
    let mut conn = state.db.acquire().await?;
    let found = service::list(
        &ctx,
        &mut conn,
        ListQuery {
            page: Some(page),
            per_page: None,
        },
    )
    .await?;
    let tz = ctx.local();
    let now = Utc::now();
    Ok(web::render(&ListPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        can_manage: ctx.has(ANNOUNCEMENTS_MANAGE),
        flash: flash(&q),
        total: found.total,
        pager: Pager::new(found.page, found.total, found.per_page, list_link),
        items: found
            .items
            .into_iter()
            .map(|a| AnnouncementView::new(a, tz, now))
            .collect(),
        timezone: ctx.timezone.clone(),
    }))
}

// ---------------------------------------------------------------------------------------------
// The post form

pub struct RoleChoice {
    id: Uuid,
    name: String,
    checked: bool,
}

#[derive(Template)]
#[template(path = "announcements/form.html")]
struct FormPage {
    chrome: Chrome,
    title: String,
    body: String,
    /// `all` or `roles`.
    audience: String,
    roles: Vec<RoleChoice>,
    /// Roles can be chosen only by a holder of `members.view` (the role list needs it).
    roles_listed: bool,
    expires_on: String,
    /// The earliest date the expiry may take (today in the organization's zone).
    today: String,
    notify: bool,
    timezone: String,
    message: Option<String>,
    title_error: Option<String>,
    body_error: Option<String>,
    audience_error: Option<String>,
    roles_error: Option<String>,
    expires_error: Option<String>,
}

/// The submitted form: the role checkboxes repeat `role_ids`, so the body is read as pairs.
#[derive(Default)]
struct PostForm {
    title: String,
    body: String,
    audience: String,
    role_ids: Vec<String>,
    expires_on: String,
    notify: bool,
}

impl PostForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = PostForm::default();
        for (k, v) in pairs {
            match k.as_str() {
                "title" => form.title = v,
                "body" => form.body = v,
                "audience" => form.audience = v,
                "role_ids" => form.role_ids.push(v),
                "expires_on" => form.expires_on = v,
                "notify" => form.notify = true,
                _ => {}
            }
        }
        form
    }

    /// The service's input, and what could not be read (beside the field it belongs to).
    fn input(&self, tz: crate::time::Local) -> (NewAnnouncement, Vec<FieldError>) {
        let mut errors = Vec::new();
        let audience = match self.audience.trim() {
            "" => "all".to_string(),
            other => other.to_string(),
        };
        // Roles ticked and then "Everyone" chosen: the ticks no longer mean anything.
        let role_ids = if audience == "all" {
            Vec::new()
        } else {
            let parsed: Result<Vec<Uuid>, _> = self
                .role_ids
                .iter()
                .map(|r| Uuid::try_parse(r.trim()))
                .collect();
            parsed.unwrap_or_else(|_| {
                errors.push(FieldError::new(
                    "role_ids",
                    "one of the roles does not exist",
                ));
                Vec::new()
            })
        };
        let expires_at = match self.expires_on.trim() {
            "" => None,
            raw => match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
                Ok(date) => Some(end_of_day(date, tz.tz)),
                Err(_) => {
                    errors.push(FieldError::new(
                        "expires_at",
                        "enter a date like 2026-12-31",
                    ));
                    None
                }
            },
        };
        let input = NewAnnouncement {
            title: self.title.clone(),
            // Browsers send a textarea's line breaks as CRLF.
            body: self.body.replace("\r\n", "\n"),
            audience: Some(audience),
            role_ids,
            expires_at,
            notify: Some(self.notify),
        };
        (input, errors)
    }
}

/// The last second of `date` in the organization's zone, in UTC.
fn end_of_day(date: NaiveDate, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let last = date.and_hms_opt(23, 59, 59).unwrap_or_default();
    match tz.from_local_datetime(&last).latest() {
        Some(t) => t.with_timezone(&Utc),
        // 23:59:59 skipped by a clock change: the start of the next day instead.
        None => {
            let next = date.succ_opt().unwrap_or(date).and_time(Default::default());
            tz.from_local_datetime(&next)
                .earliest()
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| Utc.from_utc_datetime(&last))
        }
    }
}

impl FormPage {
    async fn build(ctx: &Ctx, conn: &mut Conn, form: &PostForm) -> AppResult<FormPage> {
        let roles_listed = ctx.has(MEMBERS_VIEW);
        let roles = if roles_listed {
            roles::list(ctx, conn)
                .await?
                .into_iter()
                .map(|r| RoleChoice {
                    checked: form.role_ids.iter().any(|c| c.trim() == r.id.to_string()),
                    id: r.id,
                    name: r.name,
                })
                .collect()
        } else {
            Vec::new()
        };
        let tz = ctx.local();
        Ok(FormPage {
            chrome: Chrome::for_viewer(ctx, SECTION),
            title: form.title.clone(),
            body: form.body.clone(),
            audience: if form.audience == "roles" {
                "roles".into()
            } else {
                "all".into()
            },
            roles,
            roles_listed,
            expires_on: form.expires_on.clone(),
            today: web::local_time_as(tz.tz, &Utc::now(), "%Y-%m-%d").text,
            notify: form.notify,
            timezone: ctx.timezone.clone(),
            message: None,
            title_error: None,
            body_error: None,
            audience_error: None,
            roles_error: None,
            expires_error: None,
        })
    }

    fn with_errors(mut self, errors: &[FieldError]) -> Self {
        // The first message for each field: what could not be read comes before what the
        // service then found missing.
        let find = |field: &str| {
            errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| web::sentence(&e.message))
        };
        self.title_error = find("title");
        self.body_error = find("body");
        self.audience_error = find("audience");
        self.roles_error = find("role_ids");
        self.expires_error = find("expires_at");
        let known = ["title", "body", "audience", "role_ids", "expires_at"];
        let other: Vec<String> = errors
            .iter()
            .filter(|e| !known.contains(&e.field.as_str()))
            .map(|e| web::sentence(&e.message))
            .collect();
        self.message = if other.is_empty() {
            Some("The announcement was not posted: see the messages below.".into())
        } else {
            Some(other.join(" "))
        };
        self
    }
}

async fn new_form(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(ANNOUNCEMENTS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let form = PostForm {
        notify: true,
        ..PostForm::default()
    };
    Ok(web::render(&FormPage::build(&ctx, &mut conn, &form).await?))
}

async fn create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(ANNOUNCEMENTS_MANAGE)?;
    let form = PostForm::from_pairs(pairs);
    let (input, mut errors) = form.input(ctx.local());
    let mut tx = state.db.begin().await?;
    let result = service::post(&state.notifier, &ctx, &mut tx, input).await;
    match result {
        // Something could not be read: the service ran only to collect its own messages.
        Ok(_) if !errors.is_empty() => tx.rollback().await?,
        Ok(posted) => {
            state.mailer.commit_and_kick(tx).await?;
            let to = if form.notify {
                format!(
                    "/announcements?posted=1&notified={}&emailed={}",
                    posted.notified.notified, posted.notified.emails_queued
                )
            } else {
                "/announcements?posted=1".to_string()
            };
            return Ok(Redirect::to(&to).into_response());
        }
        Err(AppError::Validation(found)) => {
            tx.rollback().await?;
            errors.extend(found);
        }
        Err(other) => return Err(other.into()),
    }
    let mut conn = state.db.acquire().await?;
    let page = FormPage::build(&ctx, &mut conn, &form)
        .await?
        .with_errors(&errors);
    Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Dismiss

#[derive(Deserialize, Default)]
struct DismissForm {
    next: Option<String>,
}

/// Takes the announcement off the member's dashboard. A plain form goes back (to the dashboard
/// unless the form names another page of this site); an htmx request gets an empty answer that
/// replaces the announcement in place.
async fn dismiss(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    headers: HeaderMap,
    form: Result<Form<DismissForm>, FormRejection>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    service::dismiss(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    if headers.contains_key("hx-request") {
        return Ok(Html("").into_response());
    }
    let next = form.ok().and_then(|Form(f)| f.next);
    Ok(Redirect::to(&web::safe_next(next.as_deref())).into_response())
}

// ---------------------------------------------------------------------------------------------
// Withdraw (asks first)

#[derive(Template)]
#[template(path = "announcements/withdraw.html")]
struct WithdrawPage {
    chrome: Chrome,
    a: AnnouncementView,
    message: Option<String>,
}

async fn load(state: &AppState, ctx: &Ctx, id: Uuid) -> AppResult<AnnouncementView> {
    ctx.require(ANNOUNCEMENTS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let a = service::get(ctx, &mut conn, id).await?;
    Ok(AnnouncementView::new(a, ctx.local(), Utc::now()))
}

async fn withdraw_confirm(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let a = load(&state, &ctx, id).await?;
    let message = a
        .withdrawn
        .as_ref()
        .map(|w| format!("This announcement was already withdrawn on {}.", w.text));
    Ok(web::render(&WithdrawPage {
        chrome: Chrome::for_viewer(&ctx, SECTION),
        a,
        message,
    }))
}

async fn withdraw(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let a = load(&state, &ctx, id).await?;
    let mut tx = state.db.begin().await?;
    match service::withdraw(&ctx, &mut tx, a.id).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/announcements?withdrawn=1").into_response())
        }
        Err(err @ AppError::Conflict(_)) => {
            tx.rollback().await?;
            let page = WithdrawPage {
                chrome: Chrome::for_viewer(&ctx, SECTION),
                a,
                message: Some(web::refusal(&err)),
            };
            Ok((err.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_day_is_in_the_organizations_zone() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let chicago: chrono_tz::Tz = "America/Chicago".parse().unwrap();
        assert_eq!(
            end_of_day(date, chicago).to_rfc3339(),
            "2027-01-01T05:59:59+00:00"
        );
        assert_eq!(
            end_of_day(date, chrono_tz::UTC).to_rfc3339(),
            "2026-12-31T23:59:59+00:00"
        );
    }

    #[test]
    fn flash_counts() {
        let q = ListParams {
            posted: Some("1".into()),
            notified: Some("3".into()),
            emailed: Some("1".into()),
            ..Default::default()
        };
        assert_eq!(
            flash(&q).unwrap(),
            "Announcement posted. 3 members were notified (1 email queued)."
        );
        let q = ListParams {
            posted: Some("1".into()),
            ..Default::default()
        };
        assert!(flash(&q).unwrap().contains("Nobody was notified"));
    }
}
