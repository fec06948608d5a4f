//! Members pages: the directory, profiles with the status change, create/edit forms and the CSV
//! import with a preview. Plain HTML forms that work without JavaScript; every rule lives in
//! `service`, these handlers only translate between forms and service calls.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use serde::Deserialize;
use uuid::Uuid;

use super::invitations;
use super::rules;
use super::service::{
    self, ImportPreviewRow, ListQuery, Member, MemberPatch, NewMember, StatusChange,
};
use crate::auth::Ctx;
use crate::auth::permissions::MEMBERS_MANAGE;
use crate::error::{AppError, FieldError};
use crate::roles::service as roles;
use crate::state::AppState;
use crate::web::PathId;
use crate::web::{self, Chrome, Field, FieldSpec, PageResult, Pager, Viewer};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/members", get(directory))
        .route("/members/new", get(new_form).post(create))
        .route("/members/import", get(import_form).post(import))
        .route("/members/import/template.csv", get(import_template))
        .route("/members/{id}", get(profile))
        .route("/members/{id}/edit", get(edit_form).post(edit))
        .route("/members/{id}/status", axum::routing::post(change_status))
        .route("/members/{id}/password", axum::routing::post(set_password))
        .route("/members/{id}/invite", axum::routing::post(invite))
        .route(
            "/members/{id}/invite/revoke",
            axum::routing::post(revoke_invite),
        )
        .route(
            "/members/invitations/codes",
            axum::routing::post(print_codes),
        )
        .route(
            "/members/invitations/email",
            axum::routing::post(invite_all),
        )
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Query-string encoding of one value.
fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// An empty form value is "not given".
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn status_label(s: &str) -> String {
    match s {
        "dropped_voluntary" => "dropped (voluntary)".into(),
        "dropped_involuntary" => "dropped (involuntary)".into(),
        other => other.to_string(),
    }
}

pub struct StatusOption {
    value: &'static str,
    label: String,
    selected: bool,
}

fn status_options(values: &[&'static str], selected: &str) -> Vec<StatusOption> {
    values
        .iter()
        .map(|v| StatusOption {
            value: v,
            label: status_label(v),
            selected: *v == selected,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Directory

pub struct Row {
    id: Uuid,
    name: String,
    username: String,
    number: String,
    rank: String,
    station: String,
    status: String,
    status_label: String,
    email: String,
    phone: String,
    /// Shown to officers only (the field is empty for others).
    never_signed_in: bool,
}

impl Row {
    fn from(m: Member) -> Row {
        let (email, phone) = match &m.contact {
            Some(c) => (c.email.clone(), opt(&c.phone)),
            None => (String::new(), String::new()),
        };
        Row {
            id: m.id,
            name: format!("{}, {}", m.last_name, m.first_name),
            username: m.username,
            number: opt(&m.membership_number),
            rank: opt(&m.rank),
            station: opt(&m.station),
            status_label: status_label(m.status.as_str()),
            status: m.status.to_string(),
            email,
            phone,
            never_signed_in: m.must_change_password.is_some() && m.last_login_at.is_none(),
        }
    }
}

#[derive(Template)]
#[template(path = "members/index.html")]
struct DirectoryPage {
    chrome: Chrome,
    q: String,
    status: String,
    /// "no": only members who have not signed in yet; "yes": only those who have.
    signed_in: String,
    notice: Option<String>,
    /// Email is set up: offer to email invitations.
    email_on: bool,
    statuses: Vec<StatusOption>,
    rows: Vec<Row>,
    error: Option<String>,
    show_contact: bool,
    can_manage: bool,
    pager: Pager,
    total: u64,
}

#[derive(Deserialize, Default)]
struct DirectoryQuery {
    q: Option<String>,
    status: Option<String>,
    signed_in: Option<String>,
    page: Option<String>,
    sent: Option<String>,
    left_out: Option<String>,
}

fn directory_link(q: &str, status: &str, signed_in: &str, page: u32) -> String {
    let page = page.to_string();
    web::link(
        "/members",
        &[
            ("q", q),
            ("status", status),
            ("signed_in", signed_in),
            ("page", &page),
        ],
    )
}

/// The "sent N invitations" line after emailing everyone not signed in yet.
fn sent_notice(sent: Option<&str>, left_out: Option<&str>) -> Option<String> {
    sent_notice_or(
        sent,
        left_out,
        "No invitations were sent: everyone not signed in yet already has one that works.",
    )
}

/// `sent_notice`, with what to say when nothing was sent.
fn sent_notice_or(sent: Option<&str>, left_out: Option<&str>, none: &str) -> Option<String> {
    let sent: u64 = sent?.parse().ok()?;
    let left_out: u64 = left_out.and_then(|n| n.parse().ok()).unwrap_or(0);
    let mut line = match sent {
        0 => none.to_string(),
        1 => "1 invitation was emailed.".to_string(),
        n => format!("{n} invitations were emailed."),
    };
    if left_out > 0 {
        line.push_str(&format!(
            " {left_out} member{} with more permissions than you {} left out.",
            if left_out == 1 { "" } else { "s" },
            if left_out == 1 { "was" } else { "were" }
        ));
    }
    Some(line)
}

async fn directory(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    query: Result<Query<DirectoryQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    ctx.require(crate::auth::permissions::MEMBERS_VIEW)?;
    let mut error = None;
    let q = match query {
        Ok(Query(q)) => q,
        Err(_) => {
            error = Some("The search could not be read; showing everyone.".to_string());
            DirectoryQuery::default()
        }
    };
    let text = q.q.unwrap_or_default();
    let status = q.status.unwrap_or_default();
    let can_manage = ctx.has(MEMBERS_MANAGE);
    let signed_in = match q.signed_in.as_deref() {
        Some(v @ ("yes" | "no")) if can_manage => v.to_string(),
        _ => String::new(),
    };
    let notice = sent_notice(q.sent.as_deref(), q.left_out.as_deref());
    let page = match q.page.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(p) => p.parse::<u32>().map(Some).map_err(|_| ()),
    };
    let mut conn = state.db.acquire().await?;
    let result = match page {
        Ok(page) => {
            service::list(
                &ctx,
                &mut conn,
                ListQuery {
                    q: Some(text.clone()),
                    status: Some(status.clone()),
                    signed_in: match signed_in.as_str() {
                        "yes" => Some(true),
                        "no" => Some(false),
                        _ => None,
                    },
                    page,
                    per_page: None,
                },
            )
            .await
        }
        Err(()) => Err(AppError::field("page", "must be a whole number, 1 or more")),
    };
    let email_on = can_manage && crate::notify::mail::is_configured(&mut conn, ctx.org_id).await?;
    let mut shown = DirectoryPage {
        chrome: Chrome::for_viewer(&ctx, "/members"),
        statuses: status_options(rules::STATUSES, &status),
        q: text,
        status,
        signed_in,
        notice,
        email_on,
        rows: Vec::new(),
        error,
        show_contact: ctx.sees_directory(),
        can_manage,
        pager: Pager::first(),
        total: 0,
    };
    let code = match result {
        Ok(p) => {
            shown.pager = Pager::new(p.page, p.total, p.per_page, |n| {
                directory_link(&shown.q, &shown.status, &shown.signed_in, n)
            });
            shown.total = p.total;
            shown.rows = p.items.into_iter().map(Row::from).collect();
            StatusCode::OK
        }
        Err(AppError::Validation(errors)) => {
            let label = |f: &str| match f {
                "q" => "Search",
                "status" => "Status",
                "page" => "Page",
                _ => "The search",
            };
            shown.error = Some(
                errors
                    .iter()
                    .map(|e| web::field_sentence(label(&e.field), &e.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(other) => return Err(other.into()),
    };
    Ok((code, web::render(&shown)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Profile and status change

pub struct Fact {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "members/profile.html")]
struct ProfilePage {
    chrome: Chrome,
    id: Uuid,
    name: String,
    status: String,
    status_label: String,
    status_reason: Option<String>,
    facts: Vec<Fact>,
    contact: Option<Vec<Fact>>,
    roles: Vec<String>,
    can_edit: bool,
    can_manage: bool,
    next_statuses: Vec<StatusOption>,
    form_reason: String,
    status_error: Option<String>,
    reason_error: Option<String>,
    form_error: Option<String>,
    /// When they last signed in, in words ("Never" for a member who has not yet).
    last_sign_in: String,
    never_signed_in: bool,
    password_error: Option<String>,
    notice: Option<&'static str>,
    /// The invitation waiting to be used, in words.
    invitation: Option<String>,
    /// Email is set up: offer to email an invitation.
    email_on: bool,
    invite_error: Option<String>,
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

async fn load_profile(
    state: &AppState,
    ctx: &Ctx,
    id: Uuid,
    form: Option<&StatusForm>,
) -> Result<ProfilePage, AppError> {
    let mut conn = state.db.acquire().await?;
    let m = service::get(ctx, &mut conn, id).await?;
    let held = roles::member_roles(ctx, &mut conn, id).await?;
    let can_manage = ctx.has(MEMBERS_MANAGE);
    let facts = vec![
        Fact {
            label: "Username",
            value: m.username.clone(),
        },
        Fact {
            label: "Membership number",
            value: opt(&m.membership_number),
        },
        Fact {
            label: "Rank",
            value: opt(&m.rank),
        },
        Fact {
            label: "Station",
            value: opt(&m.station),
        },
        Fact {
            label: "Hire date",
            value: ctx.locale.day_or_blank(m.hire_date),
        },
    ];
    let full = service::sees_full_contact(ctx, m.id);
    let contact = m.contact.as_ref().map(|c| {
        let mut facts = vec![
            Fact {
                label: "E-mail",
                value: c.email.clone(),
            },
            Fact {
                label: "Phone",
                value: match &c.phone {
                    Some(p) if full && c.hide_phone => format!("{p} (shown to officers only)"),
                    Some(p) => p.clone(),
                    None if c.hide_phone => "Shown to officers only".into(),
                    None => String::new(),
                },
            },
        ];
        if !full {
            return facts;
        }
        facts.extend([
            Fact {
                label: "Emergency contact",
                value: opt(&c.emergency_contact_name),
            },
            Fact {
                label: "Emergency contact phone",
                value: opt(&c.emergency_contact_phone),
            },
            Fact {
                label: "Relationship",
                value: opt(&c.emergency_contact_relationship),
            },
        ]);
        facts
    });
    let chosen = form.map(|f| f.status.as_str()).unwrap_or("");
    Ok(ProfilePage {
        chrome: Chrome::for_viewer(ctx, "/members"),
        id: m.id,
        name: format!("{} {}", m.first_name, m.last_name),
        status_label: status_label(m.status.as_str()),
        next_statuses: status_options(
            &rules::allowed_next(m.status)
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            chosen,
        ),
        status: m.status.to_string(),
        status_reason: m.status_change_reason,
        facts,
        contact,
        roles: held.into_iter().map(|r| r.name).collect(),
        can_edit: can_manage || id == ctx.user_id,
        can_manage,
        form_reason: form.map(|f| f.reason.clone()).unwrap_or_default(),
        status_error: None,
        reason_error: None,
        form_error: None,
        never_signed_in: m.last_login_at.is_none(),
        last_sign_in: m
            .last_login_at
            .map(|t| crate::time::today_in(&ctx.timezone, t).to_string())
            .unwrap_or_else(|| "Never".into()),
        password_error: None,
        notice: None,
        invitation: if can_manage {
            invitations::outstanding(&mut conn, ctx.org_id, id)
                .await?
                .map(|o| {
                    let how = match o.delivery {
                        invitations::Delivery::Email => "emailed",
                        invitations::Delivery::Printed => "printed",
                    };
                    format!(
                        "A sign-in code was {how} on {}; it works until {}.",
                        crate::time::day_in_words(crate::time::today_in(
                            &ctx.timezone,
                            o.created_at
                        )),
                        crate::time::day_in_words(crate::time::today_in(
                            &ctx.timezone,
                            o.expires_at
                        )),
                    )
                })
        } else {
            None
        },
        email_on: can_manage && crate::notify::mail::is_configured(&mut conn, ctx.org_id).await?,
        invite_error: None,
    })
}

async fn profile(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Query(done): Query<web::DoneQuery>,
) -> PageResult {
    let mut page = load_profile(&state, &ctx, id, None).await?;
    page.notice = match done.done.as_deref() {
        Some("password") => Some(
            "Temporary password set. Give it to the member in person: they choose their own \
             at the next sign-in, and any session of theirs has ended.",
        ),
        Some("invited") => Some(
            "Invitation emailed. The member follows its link to choose a password; it works \
             once, for 7 days.",
        ),
        Some("invite_failed") => Some(
            "The member was added, but no invitation went: email is not set up, or their \
             status does not let them sign in. Print a sign-in code below instead.",
        ),
        Some("revoked") => Some("Invitation revoked: its code no longer works."),
        _ => None,
    };
    Ok(web::render(&page))
}

/// The profile again with a refusal beside the invitation controls.
async fn profile_refusing(state: &AppState, ctx: &Ctx, id: Uuid, err: AppError) -> PageResult {
    match err {
        AppError::Conflict(_) | AppError::Forbidden(_) if ctx.has(MEMBERS_MANAGE) => {
            let code = err.status();
            let mut page = load_profile(state, ctx, id, None).await?;
            page.invite_error = Some(web::refusal(&err));
            Ok((code, web::render(&page)).into_response())
        }
        other => Err(other.into()),
    }
}

/// Emails the member an invitation (a new one replaces the earlier).
async fn invite(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match invitations::send(&ctx, &mut tx, &state.config.public_url, id).await {
        Ok(_) => {
            state.mailer.commit_and_kick(tx).await?;
            Ok(Redirect::to(&format!("/members/{id}?done=invited")).into_response())
        }
        Err(err) => {
            tx.rollback().await?;
            profile_refusing(&state, &ctx, id, err).await
        }
    }
}

async fn revoke_invite(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut tx = state.db.begin().await?;
    match invitations::revoke(&ctx, &mut tx, id).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/members/{id}?done=revoked")).into_response())
        }
        Err(err) => {
            tx.rollback().await?;
            profile_refusing(&state, &ctx, id, err).await
        }
    }
}

/// Emails invitations to everyone not signed in yet who holds none that works.
async fn invite_all(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    let mut tx = state.db.begin().await?;
    let (sent, left_out) =
        invitations::send_to_uninvited(&ctx, &mut tx, &state.config.public_url).await?;
    state.mailer.commit_and_kick(tx).await?;
    let (sent, left_out) = (sent.to_string(), left_out.to_string());
    Ok(Redirect::to(&web::link(
        "/members",
        &[
            ("signed_in", "no"),
            ("sent", &sent),
            ("left_out", &left_out),
        ],
    ))
    .into_response())
}

#[derive(Template)]
#[template(path = "members/codes.html")]
struct CodesPage {
    chrome: Chrome,
    org_name: String,
    welcome_url: String,
    sheet: Vec<CodeSlip>,
    print_js: String,
}

pub struct CodeSlip {
    name: String,
    username: String,
    code: String,
    until: String,
}

#[derive(Deserialize)]
struct CodesForm {
    /// One member, from their profile.
    member_id: Option<String>,
    /// `not_signed_in`: everyone who has not signed in yet.
    scope: Option<String>,
}

/// A printable sheet of one-time sign-in codes: for one member, or for everyone not signed
/// in yet. The codes exist only on this page (they are stored hashed), so it is not cached.
async fn print_codes(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<CodesForm>,
) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let mut tx = state.db.begin().await?;
    let ids = match (form.member_id.as_deref(), form.scope.as_deref()) {
        (Some(id), _) => vec![Uuid::parse_str(id.trim()).map_err(|_| AppError::NotFound)?],
        (None, Some("not_signed_in")) => invitations::never_signed_in(&ctx, &mut tx).await?,
        _ => return Err(AppError::BadRequest("choose a member or a group".into()).into()),
    };
    if ids.is_empty() {
        tx.rollback().await?;
        return Ok(Redirect::to("/members?signed_in=no&sent=0").into_response());
    }
    let sheet = match invitations::print(&ctx, &mut tx, &ids).await {
        Ok(sheet) => sheet,
        Err(err) => {
            tx.rollback().await?;
            return match form.member_id {
                Some(_) => profile_refusing(&state, &ctx, ids[0], err).await,
                None => Err(err.into()),
            };
        }
    };
    let org_name = crate::organization::service::name(&mut tx, ctx.org_id).await?;
    tx.commit().await?;
    let page = CodesPage {
        chrome: Chrome::for_viewer(&ctx, "/members"),
        org_name,
        welcome_url: format!("{}/welcome", state.config.public_url),
        print_js: web::asset_url("print.js"),
        sheet: sheet
            .into_iter()
            .map(|c| CodeSlip {
                name: c.name,
                username: c.username,
                code: c.code,
                until: crate::time::day_in_words(crate::time::today_in(
                    &ctx.timezone,
                    c.expires_at,
                )),
            })
            .collect(),
    };
    let mut res = web::render(&page);
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    temporary_password: String,
}

/// An officer sets a temporary password (for a member without email, or locked out): the
/// member must choose their own at the next sign-in.
async fn set_password(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<PasswordForm>,
) -> PageResult {
    let input = service::PasswordReset {
        temporary_password: form.temporary_password,
    };
    let mut tx = state.db.begin().await?;
    let err = match service::reset_password(&ctx, &mut tx, &state.hasher, id, input).await {
        Ok(()) => {
            tx.commit().await?;
            return Ok(Redirect::to(&format!("/members/{id}?done=password")).into_response());
        }
        Err(e) => e,
    };
    tx.rollback().await?;
    let code = err.status();
    let mut page = load_profile(&state, &ctx, id, None).await?;
    match err {
        AppError::Validation(errors) => {
            let message = errors
                .iter()
                .map(|e| web::field_sentence("The temporary password", &e.message))
                .collect::<Vec<_>>()
                .join(" ");
            page.password_error = Some(message);
        }
        AppError::Forbidden(_) if ctx.has(MEMBERS_MANAGE) => {
            page.password_error = Some(web::field_sentence("", &err.to_problem().detail));
        }
        other => return Err(other.into()),
    }
    Ok((code, web::render(&page)).into_response())
}

async fn change_status(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<StatusForm>,
) -> PageResult {
    let input = StatusChange {
        status: form.status.clone(),
        reason: form.reason.clone(),
    };
    let mut tx = state.db.begin().await?;
    let err = match service::change_status(&ctx, &mut tx, id, input).await {
        Ok(_) => {
            tx.commit().await?;
            return Ok(Redirect::to(&format!("/members/{id}")).into_response());
        }
        Err(e) => e,
    };
    tx.rollback().await?;
    let code = err.status();
    let mut page = load_profile(&state, &ctx, id, Some(&form)).await?;
    match err {
        AppError::Validation(errors) => {
            for e in errors {
                match e.field.as_str() {
                    "status" => {
                        page.status_error = Some(web::field_sentence("New status", &e.message))
                    }
                    "reason" => page.reason_error = Some(web::field_sentence("Reason", &e.message)),
                    _ => page.form_error = Some(web::field_sentence("", &e.message)),
                }
            }
        }
        AppError::Conflict(_) | AppError::Forbidden(_) if ctx.has(MEMBERS_MANAGE) => {
            page.form_error = Some(web::field_sentence("", &err.to_problem().detail));
        }
        other => return Err(other.into()),
    }
    Ok((code, web::render(&page)).into_response())
}

// ---------------------------------------------------------------------------------------------
// Create and edit

/// A member's name, as every form that makes or edits one asks for it (the wizard's
/// administrator too).
pub const FIRST_NAME: FieldSpec = FieldSpec {
    name: "first_name",
    label: "First name",
    kind: "text",
    required: true,
    autocomplete: "given-name",
    hint: "",
};
pub const LAST_NAME: FieldSpec = FieldSpec {
    name: "last_name",
    label: "Last name",
    kind: "text",
    required: true,
    autocomplete: "family-name",
    hint: "",
};

const PROFILE_FIELDS: &[FieldSpec] = &[
    FIRST_NAME,
    LAST_NAME,
    FieldSpec {
        name: "username",
        label: "Username",
        kind: "text",
        required: true,
        autocomplete: "off",
        hint: "Used to sign in.",
    },
    FieldSpec {
        name: "membership_number",
        label: "Membership number",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "",
    },
    FieldSpec {
        name: "rank",
        label: "Rank",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "",
    },
    FieldSpec {
        name: "station",
        label: "Station",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "",
    },
    FieldSpec {
        name: "hire_date",
        label: "Hire date",
        kind: "date",
        required: false,
        autocomplete: "off",
        hint: "YYYY-MM-DD",
    },
];

const CONTACT_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "email",
        label: "E-mail",
        kind: "email",
        required: true,
        autocomplete: "email",
        hint: "",
    },
    FieldSpec {
        name: "phone",
        label: "Phone",
        kind: "tel",
        required: false,
        autocomplete: "tel",
        hint: "",
    },
    FieldSpec {
        name: "emergency_contact_name",
        label: "Emergency contact",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "",
    },
    FieldSpec {
        name: "emergency_contact_phone",
        label: "Emergency contact phone",
        kind: "tel",
        required: false,
        autocomplete: "off",
        hint: "",
    },
    FieldSpec {
        name: "emergency_contact_relationship",
        label: "Relationship",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "",
    },
];

const PASSWORD_FIELD: FieldSpec = FieldSpec {
    name: "temporary_password",
    label: "Temporary password (optional)",
    kind: "password",
    required: false,
    autocomplete: "new-password",
    hint: "At least 12 characters. The member must change it when they first sign in. Leave empty to set one later.",
};

fn build_fields(
    specs: &[FieldSpec],
    values: &HashMap<&'static str, String>,
    errors: &HashMap<String, String>,
) -> Vec<Field> {
    web::fields(
        specs,
        |name| values.get(name).cloned().unwrap_or_default(),
        errors,
    )
}

/// Field errors as sentences keyed by field; errors about fields not on the form come back apart.
fn split_errors(
    errors: Vec<FieldError>,
    specs: &[&[FieldSpec]],
) -> (HashMap<String, String>, Vec<String>) {
    let (by_field, other) = web::field_errors(errors, |field| web::spec_label(specs, field));
    let other = other
        .iter()
        .map(|e| web::field_sentence(&e.field, &e.message))
        .collect();
    (by_field, other)
}

#[derive(Template)]
#[template(path = "members/form.html")]
struct FormPage {
    chrome: Chrome,
    title: String,
    action: String,
    cancel: String,
    profile: Vec<Field>,
    contact: Vec<Field>,
    account: Vec<Field>,
    status: Option<Vec<StatusOption>>,
    status_error: Option<String>,
    errors: Vec<String>,
    submit: &'static str,
    /// On the new-member form with email set up: the "email an invitation" box, and whether
    /// it is ticked.
    invite: Option<bool>,
    /// On a form with contact details: the "keep my phone to officers" box, ticked or not.
    hide_phone: Option<bool>,
}

#[derive(Deserialize, Default)]
struct MemberForm {
    username: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    membership_number: Option<String>,
    rank: Option<String>,
    station: Option<String>,
    hire_date: Option<String>,
    phone: Option<String>,
    emergency_contact_name: Option<String>,
    emergency_contact_phone: Option<String>,
    emergency_contact_relationship: Option<String>,
    /// The "keep my phone number to officers" box (edit only).
    hide_phone: Option<String>,
    status: Option<String>,
    temporary_password: Option<String>,
    /// The "email an invitation" box (new member only).
    invite: Option<String>,
}

impl MemberForm {
    fn values(&self) -> HashMap<&'static str, String> {
        HashMap::from([
            ("username", opt(&self.username)),
            ("email", opt(&self.email)),
            ("first_name", opt(&self.first_name)),
            ("last_name", opt(&self.last_name)),
            ("membership_number", opt(&self.membership_number)),
            ("rank", opt(&self.rank)),
            ("station", opt(&self.station)),
            ("hire_date", opt(&self.hire_date)),
            ("phone", opt(&self.phone)),
            ("emergency_contact_name", opt(&self.emergency_contact_name)),
            (
                "emergency_contact_phone",
                opt(&self.emergency_contact_phone),
            ),
            (
                "emergency_contact_relationship",
                opt(&self.emergency_contact_relationship),
            ),
        ])
    }

    fn from_member(m: &Member) -> MemberForm {
        let c = m.contact.as_ref();
        MemberForm {
            username: Some(m.username.clone()),
            email: c.map(|c| c.email.clone()),
            first_name: Some(m.first_name.clone()),
            last_name: Some(m.last_name.clone()),
            membership_number: m.membership_number.clone(),
            rank: m.rank.clone(),
            station: m.station.clone(),
            hire_date: m.hire_date.map(|d| d.to_string()),
            phone: c.and_then(|c| c.phone.clone()),
            emergency_contact_name: c.and_then(|c| c.emergency_contact_name.clone()),
            emergency_contact_phone: c.and_then(|c| c.emergency_contact_phone.clone()),
            emergency_contact_relationship: c
                .and_then(|c| c.emergency_contact_relationship.clone()),
            hide_phone: c.is_some_and(|c| c.hide_phone).then(|| "1".into()),
            status: None,
            temporary_password: None,
            invite: None,
        }
    }
}

fn new_page(
    ctx: &Ctx,
    form: &MemberForm,
    errors: Vec<FieldError>,
    invite: Option<bool>,
) -> FormPage {
    let (by_field, other) =
        split_errors(errors, &[PROFILE_FIELDS, CONTACT_FIELDS, &[PASSWORD_FIELD]]);
    let values = form.values();
    let status = form.status.clone().unwrap_or_else(|| "active".into());
    FormPage {
        chrome: Chrome::for_viewer(ctx, "/members"),
        title: "New member".into(),
        action: "/members/new".into(),
        cancel: "/members".into(),
        profile: build_fields(PROFILE_FIELDS, &values, &by_field),
        contact: build_fields(CONTACT_FIELDS, &values, &by_field),
        account: build_fields(&[PASSWORD_FIELD], &values, &by_field),
        status: Some(status_options(&["active", "probationary"], &status)),
        status_error: by_field
            .get("status")
            .cloned()
            .or_else(|| other.iter().find(|m| m.starts_with("status")).cloned()),
        errors: other
            .into_iter()
            .filter(|m| !m.starts_with("status"))
            .collect(),
        submit: "Create member",
        invite,
        hide_phone: None,
    }
}

async fn new_form(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let mut conn = state.db.acquire().await?;
    let email_on = crate::notify::mail::is_configured(&mut conn, ctx.org_id).await?;
    Ok(web::render(&new_page(
        &ctx,
        &MemberForm::default(),
        vec![],
        email_on.then_some(true),
    )))
}

async fn create(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<MemberForm>,
) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let input = NewMember {
        username: opt(&form.username),
        email: opt(&form.email),
        first_name: opt(&form.first_name),
        last_name: opt(&form.last_name),
        membership_number: given(form.membership_number.clone()),
        rank: given(form.rank.clone()),
        station: given(form.station.clone()),
        phone: given(form.phone.clone()),
        hire_date: given(form.hire_date.clone()),
        status: given(form.status.clone()),
        emergency_contact_name: given(form.emergency_contact_name.clone()),
        emergency_contact_phone: given(form.emergency_contact_phone.clone()),
        emergency_contact_relationship: given(form.emergency_contact_relationship.clone()),
        temporary_password: form.temporary_password.clone().filter(|p| !p.is_empty()),
    };
    let mut tx = state.db.begin().await?;
    match service::create(&ctx, &mut tx, &state.hasher, input).await {
        Ok(member) => {
            tx.commit().await?;
            if form.invite.is_none() {
                return Ok(Redirect::to(&format!("/members/{}", member.id)).into_response());
            }
            // The member is in either way; the invitation is its own step.
            let mut tx = state.db.begin().await?;
            let done =
                match invitations::send(&ctx, &mut tx, &state.config.public_url, member.id).await {
                    Ok(_) => {
                        state.mailer.commit_and_kick(tx).await?;
                        "invited"
                    }
                    Err(AppError::Conflict(_) | AppError::Forbidden(_)) => {
                        tx.rollback().await?;
                        "invite_failed"
                    }
                    Err(other) => return Err(other.into()),
                };
            Ok(Redirect::to(&format!("/members/{}?done={done}", member.id)).into_response())
        }
        Err(AppError::Validation(errors)) => {
            tx.rollback().await?;
            let mut conn = state.db.acquire().await?;
            let email_on = crate::notify::mail::is_configured(&mut conn, ctx.org_id).await?;
            let page = new_page(
                &ctx,
                &form,
                errors,
                email_on.then_some(form.invite.is_some()),
            );
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

/// The sections of the edit form the viewer may use: managers get the profile, and contact
/// details when they can see them; a member editing themself gets only their contact details.
fn edit_sections(ctx: &Ctx, m: &Member) -> Result<(bool, bool), AppError> {
    let manager = ctx.has(MEMBERS_MANAGE);
    if !manager && m.id != ctx.user_id {
        return Err(AppError::forbidden_permission(MEMBERS_MANAGE));
    }
    Ok((manager, service::sees_full_contact(ctx, m.id)))
}

fn edit_page(
    ctx: &Ctx,
    m: &Member,
    form: &MemberForm,
    errors: Vec<FieldError>,
) -> Result<FormPage, AppError> {
    let (profile, contact) = edit_sections(ctx, m)?;
    let (by_field, errors) = split_errors(errors, &[PROFILE_FIELDS, CONTACT_FIELDS]);
    let values = form.values();
    Ok(FormPage {
        invite: None,
        chrome: Chrome::for_viewer(ctx, "/members"),
        title: if profile {
            format!("Edit {} {}", m.first_name, m.last_name)
        } else {
            "Edit your contact details".into()
        },
        action: format!("/members/{}/edit", m.id),
        cancel: format!("/members/{}", m.id),
        profile: if profile {
            build_fields(PROFILE_FIELDS, &values, &by_field)
        } else {
            vec![]
        },
        contact: if contact {
            build_fields(CONTACT_FIELDS, &values, &by_field)
        } else {
            vec![]
        },
        account: vec![],
        status: None,
        status_error: None,
        errors,
        submit: "Save",
        hide_phone: contact.then_some(form.hide_phone.is_some()),
    })
}

async fn edit_form(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let m = service::get(&ctx, &mut conn, id).await?;
    let page = edit_page(&ctx, &m, &MemberForm::from_member(&m), vec![])?;
    Ok(web::render(&page))
}

/// Only what the form shows and the member changed goes into the patch, so that a save without
/// changes touches nothing and an unchanged e-mail needs no extra rights.
fn changed(before: Option<String>, after: Option<String>) -> Option<Option<String>> {
    let after = after?;
    let before = before.unwrap_or_default();
    if after.trim() == before.trim() {
        return None;
    }
    Some(if after.trim().is_empty() {
        None
    } else {
        Some(after)
    })
}

async fn edit(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    PathId(id): PathId,
    Form(form): Form<MemberForm>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let m = service::get(&ctx, &mut conn, id).await?;
    drop(conn);
    let (profile, contact) = edit_sections(&ctx, &m)?;
    let was = MemberForm::from_member(&m);
    let mut patch = MemberPatch::default();
    if profile {
        patch.username = changed(was.username.clone(), form.username.clone());
        patch.first_name = changed(was.first_name.clone(), form.first_name.clone());
        patch.last_name = changed(was.last_name.clone(), form.last_name.clone());
        patch.membership_number = changed(
            was.membership_number.clone(),
            form.membership_number.clone(),
        );
        patch.rank = changed(was.rank.clone(), form.rank.clone());
        patch.station = changed(was.station.clone(), form.station.clone());
        patch.hire_date = changed(was.hire_date.clone(), form.hire_date.clone());
    }
    if contact {
        patch.email = changed(was.email.clone(), form.email.clone());
        patch.phone = changed(was.phone.clone(), form.phone.clone());
        patch.emergency_contact_name = changed(
            was.emergency_contact_name.clone(),
            form.emergency_contact_name.clone(),
        );
        patch.emergency_contact_phone = changed(
            was.emergency_contact_phone.clone(),
            form.emergency_contact_phone.clone(),
        );
        patch.emergency_contact_relationship = changed(
            was.emergency_contact_relationship.clone(),
            form.emergency_contact_relationship.clone(),
        );
        let hide = form.hide_phone.is_some();
        if hide != was.hide_phone.is_some() {
            patch.hide_phone = Some(hide);
        }
    }
    let mut tx = state.db.begin().await?;
    match service::update(&ctx, &mut tx, id, patch).await {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to(&format!("/members/{id}")).into_response())
        }
        Err(AppError::Validation(errors)) => {
            tx.rollback().await?;
            let page = edit_page(&ctx, &m, &form, errors)?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, web::render(&page)).into_response())
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// CSV import

#[derive(Template)]
#[template(path = "members/import.html")]
struct ImportPage {
    chrome: Chrome,
    csv: String,
    columns: String,
    /// June 1, 2025 as the department writes dates (the import reads them that way too).
    date_example: String,

    csv_error: Option<String>,
    report: Option<Summary>,
    errors: Vec<crate::csv::RowError>,
    preview: Vec<ImportPreviewRow>,
    committed: bool,
    csv_file_js: String,
    /// Email is set up: offer to invite the new members.
    email_on: bool,
    invite: bool,
    /// After importing with "invite": what went.
    invited: Option<String>,
}

pub struct Summary {
    rows: u64,
    valid_rows: u64,
    created: u64,
}

impl ImportPage {
    fn new(ctx: &Ctx, csv: String) -> ImportPage {
        ImportPage {
            chrome: Chrome::for_viewer(ctx, "/members"),
            csv,
            columns: service::CSV_COLUMNS.join(", "),
            date_example: ctx
                .locale
                .day(chrono::NaiveDate::from_ymd_opt(2025, 6, 1).expect("valid date")),
            csv_error: None,
            report: None,
            errors: Vec::new(),
            preview: Vec::new(),
            committed: false,
            csv_file_js: web::asset_url("csv-file.js"),
            email_on: false,
            invite: true,
            invited: None,
        }
    }
}

#[derive(Deserialize)]
struct ImportForm {
    #[serde(default)]
    csv: String,
    commit: Option<String>,
    invite: Option<String>,
}

/// A file to fill in, with the headers a spreadsheet would have (they are matched loosely) and
/// one example row with a US date.
const TEMPLATE_CSV: &str = "Username,E-mail,First Name,Last Name,Membership Number,Rank,Station,\
Phone,Hire Date,Status,Emergency Contact Name,Emergency Contact Phone,Emergency Contact Relationship\r\n\
jdoe,jdoe@example.org,Jane,Doe,1042,Firefighter,Station 1,555-0100,06/01/2025,probationary,\
John Doe,555-0101,spouse\r\n";

async fn import_template(Viewer(ctx): Viewer) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"members-template.csv\"",
            ),
        ],
        TEMPLATE_CSV,
    )
        .into_response())
}

async fn import_form(State(state): State<AppState>, Viewer(ctx): Viewer) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let mut page = ImportPage::new(&ctx, String::new());
    let mut conn = state.db.acquire().await?;
    page.email_on = crate::notify::mail::is_configured(&mut conn, ctx.org_id).await?;
    Ok(web::render(&page))
}

async fn import(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<ImportForm>,
) -> PageResult {
    ctx.require(MEMBERS_MANAGE)?;
    let dry_run = form.commit.is_none();
    let mut page = ImportPage::new(&ctx, form.csv);
    page.invite = form.invite.is_some();
    let mut tx = state.db.begin().await?;
    page.email_on = crate::notify::mail::is_configured(&mut tx, ctx.org_id).await?;
    let result = service::import_csv(&ctx, &mut tx, &page.csv, dry_run).await;
    let (code, imported) = web::finish_import(tx, result).await?;
    match imported {
        web::Imported::Report { report, committed } => {
            page.committed = committed;
            page.report = Some(Summary {
                rows: report.rows,
                valid_rows: report.valid_rows,
                created: report.created,
            });
            page.errors = report.errors;
            page.preview = report.preview;
        }
        web::Imported::Refused(why) => page.csv_error = Some(why),
    }
    if page.committed {
        // Nothing left to preview: the CSV box starts empty again.
        page.csv.clear();
        if page.invite && page.email_on {
            // Only the members this import created: not everyone else still waiting.
            let created: Vec<Uuid> = page.preview.iter().filter_map(|r| r.member_id).collect();
            let mut tx = state.db.begin().await?;
            let (sent, left_out) =
                invitations::send_to_members(&ctx, &mut tx, &state.config.public_url, &created)
                    .await?;
            state.mailer.commit_and_kick(tx).await?;
            page.invited = sent_notice_or(
                Some(&sent.to_string()),
                Some(&left_out.to_string()),
                "No invitations were sent: no new member's status lets them sign in.",
            );
        }
    }
    Ok((code, web::render(&page)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_are_patched() {
        assert_eq!(changed(Some("a".into()), Some("a ".into())), None);
        assert_eq!(changed(Some("a".into()), Some("".into())), Some(None));
        assert_eq!(changed(None, None), None);
    }
}
