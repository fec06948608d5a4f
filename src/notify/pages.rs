//! The inbox and each member's notification preferences; for administrators (`settings.manage`,
//! checked in the services) the email settings with a test message, the outbox, and the
//! organization's notification defaults. Plain forms, post-redirect-get; the rules live in
//! `service` and `mail`.

use std::collections::{BTreeMap, HashMap, HashSet};

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

use super::categories;
use super::mail::{self, EmailSettings, EmailSettingsInput, OutboxCounts, OutboxQuery, TestInput};
use super::service::{self, DefaultPreference, InboxQuery, Preference, PreferencesInput};
use crate::auth::Ctx;
use crate::error::{AppError, AppResult, FieldError};
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{
    self, Chrome, Field, FieldSpec, LocalTime, NavItem, PageResult, Pager, SETTINGS, Viewer,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/notifications", get(inbox))
        .route("/notifications/read-all", post(read_all))
        .route("/notifications/{id}/read", post(read))
        .route("/notifications/{id}/open", post(open))
        .route(
            "/account/notifications",
            get(preferences).post(save_preferences),
        )
        .route(
            "/settings/email",
            get(email_settings).post(save_email_settings),
        )
        .route("/settings/email/test", post(send_test))
        .route("/settings/email/outbox", get(outbox))
        .route("/settings/email/outbox/{id}/retry", post(retry))
        .route("/settings/notifications", get(defaults).post(save_defaults))
}

// ---------------------------------------------------------------------------------------------
// The inbox

const INBOX_PER_PAGE: u32 = 25;

#[derive(Debug, Default, Deserialize)]
pub struct InboxFilter {
    #[serde(default)]
    show: String,
    page: Option<String>,
}

pub struct InboxItem {
    id: Uuid,
    subject: String,
    paragraphs: Vec<String>,
    category: &'static str,
    when: LocalTime,
    unread: bool,
    /// The notification links to a page of this site.
    opens: bool,
    emailed: bool,
}

#[derive(Template)]
#[template(path = "notify/inbox.html")]
struct InboxPage {
    chrome: Chrome,
    unread_only: bool,
    items: Vec<InboxItem>,
    unread: u64,
    total: u64,
    pager: Pager,
    /// This page's address, to come back to after marking something read.
    back: String,
    timezone: String,
}

fn inbox_link(unread_only: bool, page: u32) -> String {
    let page = page.to_string();
    let show = if unread_only { "unread" } else { "" };
    web::link(
        "/notifications",
        &[
            ("show", show),
            ("page", if page == "1" { "" } else { &page }),
        ],
    )
}

/// A notification's link, if it is a path on this site (anything else is not followed).
fn local_link(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    (web::safe_next(Some(url)) == url).then(|| url.to_string())
}

async fn inbox(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<InboxFilter>, QueryRejection>,
) -> PageResult {
    let filter = query.map(|Query(f)| f).unwrap_or_default();
    let unread_only = filter.show == "unread";
    let page = web::page_number(filter.page.as_deref());
    let mut conn = state.db.acquire().await?;
    let inbox = service::inbox(
        &ctx,
        &mut conn,
        InboxQuery {
            unread: Some(unread_only),
            page: Some(page),
            per_page: Some(INBOX_PER_PAGE),
        },
    )
    .await?;
    let tz = ctx.local();
    let p = inbox.page;
    let pager = Pager::new(p.page, p.total, p.per_page, |n| inbox_link(unread_only, n));
    let items = p
        .items
        .into_iter()
        .map(|n| InboxItem {
            id: n.id,
            paragraphs: mail::paragraphs(&n.message),
            subject: n.subject,
            category: categories::find(&n.category).map_or("Other", |c| c.label),
            when: web::local_time(tz, &n.created_at),
            unread: n.read_at.is_none(),
            opens: local_link(n.action_url.as_deref()).is_some(),
            emailed: n.emailed,
        })
        .collect();
    Ok(web::render(&InboxPage {
        chrome: Chrome::for_viewer(&ctx, "/notifications"),
        unread_only,
        items,
        unread: inbox.unread,
        total: p.total,
        pager,
        back: inbox_link(unread_only, p.page),
        timezone: tz.tz.name().to_string(),
    }))
}

#[derive(Debug, Default, Deserialize)]
pub struct BackForm {
    #[serde(default)]
    back: String,
}

/// Back to the inbox page the form was on; only ever an inbox address.
fn back_to_inbox(back: &str) -> String {
    let back = web::safe_next(Some(back.trim()));
    if back == "/notifications" || back.starts_with("/notifications?") {
        back
    } else {
        "/notifications".to_string()
    }
}

async fn read(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<BackForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    service::mark_read(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    Ok(Redirect::to(&back_to_inbox(&form.back)).into_response())
}

/// Marks the notification read and follows its link: a path on this site only, otherwise back
/// to the inbox.
async fn open(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    let n = service::mark_read(&ctx, &mut tx, id).await?;
    tx.commit().await?;
    let to = local_link(n.action_url.as_deref()).unwrap_or_else(|| "/notifications".into());
    Ok(Redirect::to(&to).into_response())
}

async fn read_all(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<BackForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    service::mark_all_read(&ctx, &mut tx).await?;
    tx.commit().await?;
    Ok(Redirect::to(&back_to_inbox(&form.back)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Preferences (every member, their own)

#[derive(Debug, Default, Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

#[derive(Template)]
#[template(path = "notify/preferences.html")]
struct PreferencesPage {
    chrome: Chrome,
    prefs: Vec<Preference>,
    any_customised: bool,
    saved: bool,
    message: Option<String>,
    /// Administrators reach this page from the settings area too.
    settings_nav: Vec<NavItem>,
}

fn preferences_page(ctx: &Ctx, prefs: Vec<Preference>) -> PreferencesPage {
    PreferencesPage {
        chrome: Chrome::for_viewer(ctx, "/notifications"),
        any_customised: prefs.iter().any(|p| p.customised),
        prefs,
        saved: false,
        message: None,
        settings_nav: if ctx.has(crate::auth::permissions::SETTINGS_MANAGE) {
            web::settings_nav("/account/notifications")
        } else {
            Vec::new()
        },
    }
}

async fn preferences(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let prefs = service::preferences(&ctx, &mut conn).await?;
    let mut page = preferences_page(&ctx, prefs);
    page.saved = query.is_ok_and(|Query(q)| q.saved.is_some());
    Ok(web::render(&page))
}

/// The checkboxes repeat `email` (one per category that is on); `reset` names a category (or
/// `all`) to put back on the department's default.
fn checked(pairs: &[(String, String)], name: &str) -> HashSet<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// Only what changed: a box left as the department default keeps following the default. A
/// "use the department default" button sends only `reset` (its own form), and only that is done.
fn preference_changes(
    current: &[Preference],
    on: &HashSet<String>,
    reset: &HashSet<String>,
) -> BTreeMap<String, Option<bool>> {
    let mut changes = BTreeMap::new();
    for p in current.iter().filter(|p| !p.email_required) {
        let key = p.category.to_string();
        if !reset.is_empty() {
            if p.customised && (reset.contains("all") || reset.contains(p.category)) {
                changes.insert(key, None);
            }
            continue;
        }
        let want = on.contains(p.category);
        let was = if p.customised {
            p.email
        } else {
            p.email_default
        };
        if want != was {
            changes.insert(key, Some(want));
        }
    }
    changes
}

async fn save_preferences(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let current = {
        let mut conn = state.db.acquire().await?;
        service::preferences(&ctx, &mut conn).await?
    };
    let email = preference_changes(
        &current,
        &checked(&pairs, "email"),
        &checked(&pairs, "reset"),
    );
    let mut tx = state.db.begin().await?;
    match service::set_preferences(&ctx, &mut tx, PreferencesInput { email }).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/account/notifications?saved=1").into_response())
        }
        Err(err @ AppError::Validation(_)) => {
            tx.rollback().await?;
            let mut page = preferences_page(&ctx, current);
            page.message = Some(web::refusal(&err));
            Ok((err.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Email settings and the test message

const SERVER_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "host",
        label: "Mail server",
        kind: "text",
        required: true,
        autocomplete: "off",
        hint: "The SMTP server's name or address, such as smtp.example.org.",
    },
    FieldSpec {
        name: "port",
        label: "Port",
        kind: "number",
        required: true,
        autocomplete: "off",
        hint: "Usually 587 for STARTTLS, 465 for TLS, 25 for a relay on the station network.",
    },
];

const SIGN_IN_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "username",
        label: "User name",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "Leave empty if the server takes mail without signing in.",
    },
    FieldSpec {
        name: "password",
        label: "Password",
        kind: "password",
        required: false,
        autocomplete: "new-password",
        hint: "Stored encrypted and never shown again.",
    },
];

const SENDER_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "from_address",
        label: "From address",
        kind: "email",
        required: true,
        autocomplete: "off",
        hint: "The address emails come from, such as logbook@example.org.",
    },
    FieldSpec {
        name: "from_name",
        label: "From name",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "Shown as the sender, such as Station 5 Logbook. Optional.",
    },
];

const DELIVERY_FIELDS: &[FieldSpec] = &[FieldSpec {
    name: "give_up_hours",
    label: "Give up after (hours)",
    kind: "number",
    required: true,
    autocomplete: "off",
    hint: "Email that could not be delivered within this many hours is given up (1 to 720).",
}];

const ALL_FIELDS: &[&[FieldSpec]] = &[
    SERVER_FIELDS,
    SIGN_IN_FIELDS,
    SENDER_FIELDS,
    DELIVERY_FIELDS,
];

pub struct SecurityOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

fn security_options(selected: &str) -> Vec<SecurityOption> {
    [
        ("starttls", "STARTTLS (usually port 587)"),
        ("tls", "TLS (usually port 465)"),
        ("none", "None: no encryption"),
    ]
    .into_iter()
    .map(|(value, label)| SecurityOption {
        value,
        label,
        selected: value == selected,
    })
    .collect()
}

/// What the SMTP server answered to the test message.
pub struct TestView {
    delivered: bool,
    to: String,
    answer: String,
}

#[derive(Template)]
#[template(path = "notify/email.html")]
struct EmailPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    configured: bool,
    enabled: bool,
    password_set: bool,
    remove_password: bool,
    server: Vec<Field>,
    sign_in: Vec<Field>,
    sender: Vec<Field>,
    delivery: Vec<Field>,
    security: Vec<SecurityOption>,
    security_error: Option<String>,
    /// Refusals not about one field.
    errors: Vec<String>,
    saved: bool,
    test_to: String,
    test_to_error: Option<String>,
    test_message: Option<String>,
    test: Option<TestView>,
}

/// The settings form as submitted: every value a string, so that nothing is lost when a value
/// is not valid (it comes back in the field beside its message).
#[derive(Debug, Default, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    host: String,
    #[serde(default)]
    port: String,
    #[serde(default)]
    security: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    remove_password: Option<String>,
    #[serde(default)]
    from_address: String,
    #[serde(default)]
    from_name: String,
    #[serde(default)]
    give_up_hours: String,
}

impl EmailForm {
    fn from_settings(s: &EmailSettings) -> EmailForm {
        EmailForm {
            enabled: (s.enabled || !s.configured).then(|| "on".into()),
            host: s.host.clone(),
            port: s.port.to_string(),
            security: s.security.clone(),
            username: s.username.clone().unwrap_or_default(),
            password: String::new(),
            remove_password: None,
            from_address: s.from_address.clone(),
            from_name: s.from_name.clone().unwrap_or_default(),
            give_up_hours: s.give_up_hours.to_string(),
        }
    }

    fn value(&self, name: &str) -> String {
        match name {
            "host" => self.host.clone(),
            "port" => self.port.clone(),
            "username" => self.username.clone(),
            "from_address" => self.from_address.clone(),
            "from_name" => self.from_name.clone(),
            "give_up_hours" => self.give_up_hours.clone(),
            // Never the password, neither the stored one nor the one just typed.
            _ => String::new(),
        }
    }

    /// The service's input. A number that does not parse is sent as 0, which the service
    /// refuses with the field's range.
    fn input(&self) -> EmailSettingsInput {
        let number = |s: &str| s.trim().parse::<u32>().unwrap_or(0);
        let password = if self.remove_password.is_some() {
            Some(None)
        } else if self.password.is_empty() {
            None
        } else {
            Some(Some(self.password.clone()))
        };
        EmailSettingsInput {
            enabled: Some(self.enabled.is_some()),
            host: self.host.clone(),
            port: number(&self.port),
            security: self.security.clone(),
            username: Some(self.username.clone()),
            password,
            from_address: self.from_address.clone(),
            from_name: Some(self.from_name.clone()),
            give_up_hours: (!self.give_up_hours.trim().is_empty())
                .then(|| number(&self.give_up_hours)),
        }
    }
}

/// The fields of one section of the form. The email settings form marks its required fields
/// with `aria-required` only; a stored password is never shown, the field says it is there.
fn build_fields(
    specs: &[FieldSpec],
    form: &EmailForm,
    password_set: bool,
    errors: &HashMap<String, String>,
) -> Vec<Field> {
    web::fields(specs, |name| form.value(name), errors)
        .into_iter()
        .map(|f| Field {
            placeholder: if f.name == "password" && password_set {
                "stored — leave blank to keep".into()
            } else {
                String::new()
            },
            ..f
        })
        .collect()
}

fn email_page(
    ctx: &Ctx,
    settings: &EmailSettings,
    form: &EmailForm,
    errors: Vec<FieldError>,
) -> EmailPage {
    let (by_field, other) = web::field_errors(errors, |field| {
        if field == "security" {
            Some("Security")
        } else {
            web::spec_label(ALL_FIELDS, field)
        }
    });
    let set = settings.password_set;
    EmailPage {
        chrome: Chrome::for_viewer(ctx, SETTINGS),
        settings_nav: web::settings_nav("/settings/email"),
        configured: settings.configured,
        enabled: form.enabled.is_some(),
        password_set: set,
        remove_password: form.remove_password.is_some(),
        server: build_fields(SERVER_FIELDS, form, set, &by_field),
        sign_in: build_fields(SIGN_IN_FIELDS, form, set, &by_field),
        sender: build_fields(SENDER_FIELDS, form, set, &by_field),
        delivery: build_fields(DELIVERY_FIELDS, form, set, &by_field),
        security: security_options(form.security.trim()),
        security_error: by_field.get("security").cloned(),
        errors: other.iter().map(|e| web::sentence(&e.message)).collect(),
        saved: false,
        test_to: String::new(),
        test_to_error: None,
        test_message: None,
        test: None,
    }
}

async fn email_settings(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let settings = mail::settings(&ctx, &mut conn).await?;
    let mut page = email_page(
        &ctx,
        &settings,
        &EmailForm::from_settings(&settings),
        vec![],
    );
    page.saved = query.is_ok_and(|Query(q)| q.saved.is_some());
    Ok(web::render(&page))
}

async fn save_email_settings(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<EmailForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match mail::save_settings(&state, &ctx, &mut tx, form.input()).await {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(Redirect::to("/settings/email?saved=1").into_response())
        }
        Err(AppError::Validation(errors)) => {
            // Roll back first: the refused change must leave nothing behind.
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let settings = mail::settings(&ctx, &mut conn).await?;
            let page = email_page(&ctx, &settings, &form, errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TestForm {
    #[serde(default)]
    to: String,
}

/// Sends the test message now and shows the server's answer on the settings page (not a
/// redirect: the answer is the point, and it is not worth keeping anywhere but the audit log).
async fn send_test(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<TestForm>,
) -> PageResult {
    let to = form.to.trim().to_string();
    let result = mail::send_test(
        &state,
        &ctx,
        TestInput {
            to: (!to.is_empty()).then(|| to.clone()),
        },
    )
    .await;
    let mut conn = state.db.acquire().await?;
    let settings = mail::settings(&ctx, &mut conn).await?;
    let mut page = email_page(
        &ctx,
        &settings,
        &EmailForm::from_settings(&settings),
        vec![],
    );
    page.test_to = to;
    let status = match result {
        Ok(r) => {
            page.test = Some(TestView {
                delivered: r.delivered,
                to: r.to,
                answer: r.answer,
            });
            StatusCode::OK
        }
        Err(AppError::Validation(errors)) => {
            page.test_to_error = Some(
                errors
                    .iter()
                    .map(|e| web::field_sentence("To", &e.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(err @ AppError::Conflict(_)) => {
            page.test_message = Some(web::refusal(&err));
            err.status()
        }
        Err(other) => return Err(other.into()),
    };
    Ok((status, web::render(&page)).into_response())
}

// ---------------------------------------------------------------------------------------------
// The outbox

const OUTBOX_PER_PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct OutboxFilter {
    #[serde(default)]
    status: String,
    page: Option<String>,
    retried: Option<String>,
}

pub struct OutboxRow {
    id: Uuid,
    to: String,
    subject: String,
    status: String,
    attempts: u32,
    last_error: String,
    created: LocalTime,
    /// "Sent …", "Next try …" or "Gave up …".
    progress: String,
    progress_iso: String,
}

#[derive(Template)]
#[template(path = "notify/outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    status: String,
    counts: OutboxCounts,
    rows: Vec<OutboxRow>,
    total: u64,
    pager: Pager,
    message: Option<String>,
    notice: Option<String>,
    timezone: String,
}

fn outbox_link(status: &str, page: u32) -> String {
    let page = page.to_string();
    web::link(
        "/settings/email/outbox",
        &[("status", status), ("page", &page)],
    )
}

async fn outbox_page(
    state: &AppState,
    ctx: &Ctx,
    filter: &OutboxFilter,
    message: Option<String>,
) -> AppResult<OutboxPage> {
    let status = match filter.status.trim() {
        s if mail::OutboxStatus::parse(s).is_some() => s.to_string(),
        _ => String::new(),
    };
    let page = web::page_number(filter.page.as_deref());
    let mut conn = state.db.acquire().await?;
    let outbox = mail::outbox(
        ctx,
        &mut conn,
        OutboxQuery {
            status: (!status.is_empty()).then(|| status.clone()),
            page: Some(page),
            per_page: Some(OUTBOX_PER_PAGE),
        },
    )
    .await?;
    let tz = ctx.local();
    let p = outbox.page;
    let pager = Pager::new(p.page, p.total, p.per_page, |n| outbox_link(&status, n));
    let rows = p
        .items
        .into_iter()
        .map(|m| {
            let (label, at) = match (m.status, m.sent_at) {
                (mail::OutboxStatus::Sent, Some(t)) => ("Sent", t),
                (mail::OutboxStatus::Failed, _) => ("Gave up", m.next_attempt_at),
                _ => ("Next try", m.next_attempt_at),
            };
            let at_local = web::local_time(tz, &at);
            OutboxRow {
                id: m.id,
                to: m.to_address,
                subject: m.subject,
                attempts: m.attempts,
                last_error: m.last_error.unwrap_or_default(),
                created: web::local_time(tz, &m.created_at),
                progress: if m.status == mail::OutboxStatus::Failed {
                    String::new()
                } else {
                    format!("{label} {}", at_local.text)
                },
                progress_iso: at_local.iso,
                status: m.status.to_string(),
            }
        })
        .collect();
    Ok(OutboxPage {
        chrome: Chrome::for_viewer(ctx, SETTINGS),
        settings_nav: web::settings_nav("/settings/email/outbox"),
        pager,
        status,
        counts: outbox.counts,
        rows,
        total: p.total,
        message,
        notice: filter
            .retried
            .is_some()
            .then(|| "The email is back in the queue and is sent within a minute.".to_string()),
        timezone: tz.tz.name().to_string(),
    })
}

async fn outbox(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<OutboxFilter>, QueryRejection>,
) -> PageResult {
    let filter = query.map(|Query(f)| f).unwrap_or_default();
    Ok(web::render(
        &outbox_page(&state, &ctx, &filter, None).await?,
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: String,
}

async fn retry(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<RetryForm>,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match mail::retry(&ctx, &mut tx, id).await {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            let status = if mail::OutboxStatus::parse(form.status.trim()).is_some() {
                form.status.trim()
            } else {
                ""
            };
            let page = web::page_number(Some(&form.page)).to_string();
            let to = web::link(
                "/settings/email/outbox",
                &[("status", status), ("page", &page), ("retried", "1")],
            );
            Ok(Redirect::to(&to).into_response())
        }
        Err(err @ AppError::Conflict(_)) => {
            tx.rollback().await?;
            let filter = OutboxFilter {
                status: form.status,
                page: Some(form.page),
                retried: None,
            };
            let page = outbox_page(&state, &ctx, &filter, Some(web::refusal(&err))).await?;
            Ok((err.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// The organization's notification defaults

#[derive(Template)]
#[template(path = "notify/defaults.html")]
struct DefaultsPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    defaults: Vec<DefaultPreference>,
    saved: bool,
    message: Option<String>,
}

fn defaults_page(ctx: &Ctx, defaults: Vec<DefaultPreference>) -> DefaultsPage {
    DefaultsPage {
        chrome: Chrome::for_viewer(ctx, SETTINGS),
        settings_nav: web::settings_nav("/settings/notifications"),
        defaults,
        saved: false,
        message: None,
    }
}

async fn defaults(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<SavedQuery>, QueryRejection>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let current = service::defaults(&ctx, &mut conn).await?;
    let mut page = defaults_page(&ctx, current);
    page.saved = query.is_ok_and(|Query(q)| q.saved.is_some());
    Ok(web::render(&page))
}

async fn save_defaults(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let current = {
        let mut conn = state.db.acquire().await?;
        service::defaults(&ctx, &mut conn).await?
    };
    let on = checked(&pairs, "email");
    let email: BTreeMap<String, Option<bool>> = current
        .iter()
        .filter(|d| !d.email_required && on.contains(d.category) != d.email)
        .map(|d| (d.category.to_string(), Some(on.contains(d.category))))
        .collect();
    let mut tx = state.db.begin().await?;
    match service::set_defaults(&ctx, &mut tx, PreferencesInput { email }).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/settings/notifications?saved=1").into_response())
        }
        Err(err @ AppError::Validation(_)) => {
            tx.rollback().await?;
            let mut page = defaults_page(&ctx, current);
            page.message = Some(web::refusal(&err));
            Ok((err.status(), web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pref(key: &'static str, default: bool, chosen: Option<bool>) -> Preference {
        Preference {
            category: key,
            label: key,
            description: "",
            in_app: true,
            email: chosen.unwrap_or(default),
            email_default: default,
            customised: chosen.is_some(),
            email_required: false,
        }
    }

    #[test]
    fn only_changed_preferences_are_sent() {
        let current = [
            pref("a", true, None),
            pref("b", true, Some(false)),
            pref("c", false, None),
            pref("d", true, Some(true)),
        ];
        let on: HashSet<String> = ["a", "c", "d"].iter().map(|s| s.to_string()).collect();
        let changes = preference_changes(&current, &on, &HashSet::new());
        // a: still the default; b: still off; c: turned on; d: unchanged choice.
        assert_eq!(changes, BTreeMap::from([("c".to_string(), Some(true))]));
        let reset: HashSet<String> = ["b".to_string()].into();
        let changes = preference_changes(&current, &HashSet::new(), &reset);
        assert_eq!(changes, BTreeMap::from([("b".to_string(), None)]));
        let all: HashSet<String> = ["all".to_string()].into();
        let changes = preference_changes(&current, &HashSet::new(), &all);
        assert_eq!(
            changes,
            BTreeMap::from([("b".to_string(), None), ("d".to_string(), None)])
        );
    }

    #[test]
    fn only_local_links_are_followed() {
        assert_eq!(local_link(Some("/members/1")), Some("/members/1".into()));
        assert_eq!(local_link(Some("https://evil.example/")), None);
        assert_eq!(local_link(Some("//evil.example/")), None);
        assert_eq!(local_link(None), None);
        assert_eq!(back_to_inbox("/members"), "/notifications");
        assert_eq!(
            back_to_inbox("/notifications?show=unread&page=2"),
            "/notifications?show=unread&page=2"
        );
    }
}
