//! The wizard's pages: plain forms that work without JavaScript and on a phone. The token entered
//! on `/setup` is kept in a cookie (HttpOnly, SameSite=Strict) for the rest of the wizard.

use std::collections::HashMap;
use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use super::service::{self, APPARATUS_TYPES, ApparatusInput, Draft, LocationInput, STEPS, Step};
use crate::error::{AppError, FieldError};
use crate::notify::mail::{SECURITY_MODES, TestResult};
use crate::organization::pages::{CITY_STATE_ZIP, PROFILE_FIELDS, ProfileForm};
use crate::organization::service::{self as organizations, NewAdmin, OrgProfile};
use crate::state::AppState;
use crate::web::{self, Chrome, Field, FieldSpec, Opt, options};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/setup", get(start).post(enter_token))
        .route("/setup/email/test", post(email_test))
        .route("/setup/{step}", get(show).post(submit))
}

type Values = HashMap<String, String>;
type Errors = HashMap<String, String>;

// ---------------------------------------------------------------------------------------------
// The token

#[derive(Template)]
#[template(path = "setup/token.html")]
struct TokenPage {
    chrome: Chrome,
    error: Option<String>,
    token_file: String,
}

fn token_page(state: &AppState, status: StatusCode, error: Option<String>) -> Response {
    let page = TokenPage {
        chrome: Chrome::anonymous(),
        error,
        token_file: super::token_path(&state.config.data_dir)
            .display()
            .to_string(),
    };
    (status, web::render(&page)).into_response()
}

fn token_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build((super::COOKIE, token.trim().to_string()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build()
}

#[derive(serde::Deserialize)]
struct StartQuery {
    token: Option<String>,
}

/// `/setup`: asks for the token (or takes it from `?token=`, the link in the log), then goes on to
/// the first unanswered step.
async fn start(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Query(query): Query<StartQuery>,
) -> Response {
    match state.setup.pending(&state.db, &state.config.data_dir).await {
        Ok(true) => {}
        Ok(false) => return Redirect::to("/").into_response(),
        Err(e) => return web::page_error(e),
    }
    if let Some(token) = query.token {
        return accept_token(&state, addr, jar, &token).await;
    }
    match enter(&state, addr, &jar).await {
        Ok(draft) => Redirect::to(&step_href(draft.next_step())).into_response(),
        Err(response) => response,
    }
}

async fn enter_token(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<Values>,
) -> Response {
    let token = form.get("token").cloned().unwrap_or_default();
    if token.trim().is_empty() {
        return token_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Enter the setup token.".into()),
        );
    }
    accept_token(&state, addr, jar, &token).await
}

async fn accept_token(state: &AppState, addr: SocketAddr, jar: CookieJar, token: &str) -> Response {
    match state.setup.pending(&state.db, &state.config.data_dir).await {
        Ok(true) => {}
        Ok(false) => return Redirect::to("/").into_response(),
        Err(e) => return web::page_error(e),
    }
    match state.setup.authorize(addr.ip(), Some(token)) {
        Ok(()) => {
            let next = match service::load(&state.db).await {
                Ok(d) => d.next_step(),
                Err(e) => return web::page_error(e),
            };
            let jar = jar.add(token_cookie(token, state.config.secure_cookies));
            (jar, Redirect::to(&step_href(next))).into_response()
        }
        Err(e @ (AppError::Unauthorized(_) | AppError::TooManyRequests(_))) => token_page(
            state,
            e.status(),
            Some(web::sentence(&e.to_problem().detail)),
        ),
        Err(e) => web::page_error(e),
    }
}

/// The draft, if setup is pending and the cookie holds the right token; otherwise the response
/// to send instead (the token form, or away from a finished setup).
pub(super) async fn enter(
    state: &AppState,
    addr: SocketAddr,
    jar: &CookieJar,
) -> Result<Draft, Response> {
    match state.setup.pending(&state.db, &state.config.data_dir).await {
        Ok(true) => {}
        Ok(false) => return Err(Redirect::to("/").into_response()),
        Err(e) => return Err(web::page_error(e)),
    }
    let presented = jar.get(super::COOKIE).map(|c| c.value().to_string());
    if presented.is_none() {
        return Err(token_page(state, StatusCode::OK, None));
    }
    match state.setup.authorize(addr.ip(), presented.as_deref()) {
        Ok(()) => {}
        Err(e @ AppError::Unauthorized(_)) => {
            // Usually a restart: the token changed. The answers so far are kept.
            return Err(token_page(
                state,
                StatusCode::UNAUTHORIZED,
                Some(format!(
                    "{} Your answers so far are kept.",
                    web::sentence(&e.to_problem().detail)
                )),
            ));
        }
        Err(e @ AppError::TooManyRequests(_)) => {
            return Err(token_page(
                state,
                e.status(),
                Some(web::sentence(&e.to_problem().detail)),
            ));
        }
        Err(e) => return Err(web::page_error(e)),
    }
    service::load(&state.db).await.map_err(|e| match e {
        AppError::Conflict(_) => Redirect::to("/").into_response(),
        e => web::page_error(e),
    })
}

/// The step named `slug` and the draft, when the step may be opened now; otherwise the response
/// to send instead (404, the token form, or the first step still to answer).
async fn open_step(
    state: &AppState,
    addr: SocketAddr,
    jar: &CookieJar,
    slug: &str,
) -> Result<(Step, Draft), Response> {
    let Some(step) = Step::from_slug(slug) else {
        return Err(web::page_error(AppError::NotFound));
    };
    let draft = enter(state, addr, jar).await?;
    if !draft.reachable(step) {
        return Err(Redirect::to(&step_href(draft.next_step())).into_response());
    }
    Ok((step, draft))
}

fn step_href(step: Step) -> String {
    format!("/setup/{}", step.slug())
}

// ---------------------------------------------------------------------------------------------
// The frame every step shares

pub struct ProgressItem {
    pub title: &'static str,
    pub href: String,
    pub done: bool,
    pub current: bool,
    pub reachable: bool,
}

pub struct Progress {
    pub items: Vec<ProgressItem>,
    pub number: usize,
    pub total: usize,
    pub title: &'static str,
    pub back: Option<String>,
}

fn progress(draft: &Draft, step: Step) -> Progress {
    Progress {
        items: STEPS
            .iter()
            .map(|s| ProgressItem {
                title: s.title(),
                href: step_href(*s),
                done: draft.done(*s),
                current: *s == step,
                reachable: draft.reachable(*s),
            })
            .collect(),
        number: step.index() + 1,
        total: STEPS.len(),
        title: step.title(),
        back: step.previous().map(step_href),
    }
}

fn val(values: &Values, name: &str) -> String {
    values.get(name).cloned().unwrap_or_default()
}

fn opt(values: &Values, name: &str) -> Option<String> {
    values.get(name).cloned()
}

/// Field errors keyed by input name, as sentences; errors about other fields as sentences apart.
fn split_errors(
    err: AppError,
    specs: &[&[FieldSpec]],
    extra: &[(&str, &'static str)],
) -> Result<(Errors, Vec<String>), AppError> {
    match err {
        AppError::Validation(errors) => {
            let (by_field, other) = web::field_errors(errors, |name| {
                web::spec_label(specs, name)
                    .or_else(|| extra.iter().find(|(n, _)| *n == name).map(|(_, l)| *l))
            });
            Ok((
                by_field,
                other
                    .into_iter()
                    .map(|e| web::field_sentence(&e.field, &e.message))
                    .collect(),
            ))
        }
        AppError::Conflict(m) => Ok((HashMap::new(), vec![web::sentence(&m)])),
        other => Err(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Showing a step

async fn show(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Path(slug): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (step, draft) = match open_step(&state, addr, &jar, &slug).await {
        Ok(open) => open,
        Err(r) => return r,
    };
    let notice = q.get("saved").map(|_| "Saved.".to_string());
    render_step(
        &state,
        &draft,
        step,
        None,
        HashMap::new(),
        Vec::new(),
        notice,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render_step(
    state: &AppState,
    draft: &Draft,
    step: Step,
    posted: Option<&Values>,
    errors: Errors,
    problems: Vec<String>,
    notice: Option<String>,
    test: Option<TestOutcome>,
) -> Response {
    let status = if errors.is_empty() && problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let p = progress(draft, step);
    let body = match step {
        Step::Check => match service::check(state).await {
            Ok(check) => web::render(&CheckPage {
                chrome: Chrome::anonymous(),
                p,
                problems,
                free: check.free_bytes.map(crate::system::status::bytes),
                check,
            }),
            Err(e) => return web::page_error(e),
        },
        Step::Organization => organization_page(draft, p, posted, errors, problems),
        Step::Administrator => administrator_page(draft, p, posted, errors, problems),
        Step::Stations => stations_page(draft, p, posted, errors, problems),
        Step::Email => email_page(draft, p, posted, errors, problems, notice, test),
        Step::Https => web::render(&HttpsPage {
            chrome: Chrome::anonymous(),
            p,
            problems,
            https: service::https_view(state),
            saved: notice.is_some(),
            certificate: posted.map(|f| val(f, "certificate")).unwrap_or_default(),
            certificate_error: errors.get("certificate").cloned(),
            private_key_error: errors.get("private_key").cloned(),
            upload_open: posted.is_some_and(|f| val(f, "action") == "upload"),
        }),
        Step::Modules => modules_page(draft, p, problems),
        Step::Finish => finish_page(draft, p, problems),
    };
    (status, body).into_response()
}

// ---------------------------------------------------------------------------------------------
// Submitting a step

async fn submit(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Path(slug): Path<String>,
    Form(form): Form<Values>,
) -> Response {
    let (step, draft) = match open_step(&state, addr, &jar, &slug).await {
        Ok(open) => open,
        Err(r) => return r,
    };
    let action = val(&form, "action");
    let outcome = match step {
        Step::Check => service::confirm_check(&state).await.map(|(d, _)| d),
        Step::Organization => service::save_organization(&state, org_profile(&form)).await,
        Step::Administrator => save_administrator(&state, &draft, &form).await,
        Step::Stations => match stations_change(&draft, &action, &form) {
            Ok(Some(change)) => service::save_stations(&state, change).await,
            Ok(None) => Ok(draft.clone()),
            Err(e) => Err(e),
        },
        Step::Email => service::save_email(&state, email_input(&form, &action)).await,
        Step::Https => {
            service::save_https(
                &state,
                service::HttpsInput {
                    use_: if action.is_empty() {
                        "current".into()
                    } else {
                        action.clone()
                    },
                    certificate_pem: opt(&form, "certificate"),
                    private_key_pem: opt(&form, "private_key"),
                },
            )
            .await
        }
        Step::Modules => {
            let chosen = crate::module::features()
                .iter()
                .map(|f| {
                    (
                        f.key.to_string(),
                        form.contains_key(&format!("module_{}", f.key)),
                    )
                })
                .collect();
            service::save_modules(&state, chosen).await
        }
        Step::Finish => return finish(&state, addr, &headers, jar).await,
    };
    match outcome {
        Ok(saved) => {
            // The station lists and the email test stay on their page; the rest go on.
            let stay = (step == Step::Stations && action != "continue" && action != "skip")
                || (step == Step::Email && action == "save")
                || (step == Step::Https && (action == "upload" || action == "generated"));
            let to = if stay {
                format!("{}?saved=1", step_href(step))
            } else {
                next_after(&saved, step)
            };
            Redirect::to(&to).into_response()
        }
        Err(e) => {
            let specs = specs_of(step);
            let extra = extra_labels(step);
            let e = match e {
                AppError::Validation(errors) if step == Step::Stations => {
                    AppError::Validation(stations_errors(&draft, &action, errors))
                }
                e => e,
            };
            match split_errors(e, &specs, &extra) {
                Ok((errors, problems)) => {
                    render_step(
                        &state,
                        &draft,
                        step,
                        Some(&form),
                        errors,
                        problems,
                        None,
                        None,
                    )
                    .await
                }
                Err(other) => web::page_error(other),
            }
        }
    }
}

/// After a step: the next one not answered yet, or simply the next one when going through again.
fn next_after(draft: &Draft, step: Step) -> String {
    let following = STEPS.get(step.index() + 1).copied().unwrap_or(Step::Finish);
    if draft.reachable(following) {
        step_href(following)
    } else {
        step_href(draft.next_step())
    }
}

fn specs_of(step: Step) -> Vec<&'static [FieldSpec]> {
    match step {
        Step::Organization => PROFILE_FIELDS.to_vec(),
        Step::Administrator => vec![ADMIN_FIELDS],
        Step::Stations => vec![LOCATION_FIELDS, CITY_STATE_ZIP, APPARATUS_FIELDS],
        Step::Email => vec![EMAIL_SERVER, EMAIL_SIGN_IN, EMAIL_SENDER],
        _ => Vec::new(),
    }
}

fn extra_labels(step: Step) -> Vec<(&'static str, &'static str)> {
    match step {
        Step::Organization => vec![
            ("organization_type", "Type"),
            ("timezone", "Time zone"),
            ("identifier_type", "Identifier type"),
        ],
        Step::Administrator => vec![("password_confirm", "Password again")],
        Step::Stations => vec![
            ("apparatus_type", "Type"),
            ("station", "Station"),
            ("min_staffing", "Least crew"),
            ("positions", "Riding positions"),
        ],
        Step::Email => vec![("security", "Security")],
        Step::Https => vec![
            ("certificate", "Certificate"),
            ("private_key", "Private key"),
        ],
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Check

#[derive(Template)]
#[template(path = "setup/check.html")]
struct CheckPage {
    chrome: Chrome,
    p: Progress,
    problems: Vec<String>,
    check: service::DatabaseCheck,
    free: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Organization

#[derive(Template)]
#[template(path = "setup/organization.html")]
struct OrganizationPage {
    chrome: Chrome,
    p: Progress,
    problems: Vec<String>,
    form: ProfileForm,
}

/// The server's own time zone (a Pi set up for the station usually has the right one).
fn host_timezone() -> String {
    std::fs::read_to_string("/etc/timezone")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| s.parse::<chrono_tz::Tz>().is_ok() && s != "Etc/UTC")
        .unwrap_or_default()
}

fn org_values(draft: &Draft) -> Values {
    let mut v = Values::new();
    if let Some(o) = &draft.organization {
        for (k, val) in [
            ("name", &o.name),
            ("organization_type", &o.organization_type),
            ("timezone", &o.timezone),
            ("identifier_type", &o.identifier_type),
            ("identifier", &o.identifier),
            ("county", &o.county),
            ("address_line1", &o.address_line1),
            ("address_line2", &o.address_line2),
            ("city", &o.city),
            ("state", &o.state),
            ("postal_code", &o.postal_code),
            ("phone", &o.phone),
            ("email", &o.email),
        ] {
            if let Some(val) = val {
                v.insert(k.to_string(), val.clone());
            }
        }
    } else {
        v.insert("timezone".into(), host_timezone());
        v.insert("organization_type".into(), "fire_department".into());
        v.insert("identifier_type".into(), "fdid".into());
    }
    v
}

fn org_profile(form: &Values) -> OrgProfile {
    OrgProfile {
        name: opt(form, "name"),
        organization_type: opt(form, "organization_type"),
        timezone: opt(form, "timezone"),
        identifier_type: opt(form, "identifier_type"),
        identifier: opt(form, "identifier"),
        county: opt(form, "county"),
        address_line1: opt(form, "address_line1"),
        address_line2: opt(form, "address_line2"),
        city: opt(form, "city"),
        state: opt(form, "state"),
        postal_code: opt(form, "postal_code"),
        phone: opt(form, "phone"),
        email: opt(form, "email"),
        settings: None,
    }
}

fn organization_page(
    draft: &Draft,
    p: Progress,
    posted: Option<&Values>,
    errors: Errors,
    problems: Vec<String>,
) -> Response {
    let values = posted.cloned().unwrap_or_else(|| org_values(draft));
    let value = |n: &str| val(&values, n);
    web::render(&OrganizationPage {
        chrome: Chrome::anonymous(),
        p,
        problems,
        form: ProfileForm::new(value, &errors),
    })
}

// ---------------------------------------------------------------------------------------------
// Administrator

const ADMIN_FIELDS: &[FieldSpec] = &[
    crate::members::pages::FIRST_NAME,
    crate::members::pages::LAST_NAME,
    FieldSpec {
        name: "username",
        label: "Username",
        kind: "text",
        required: true,
        autocomplete: "username",
        hint: "Lower-case letters, digits, dots, dashes and underscores; at least 3.",
    },
    FieldSpec {
        name: "email",
        label: "Email",
        kind: "email",
        required: true,
        autocomplete: "email",
        hint: "Password resets and security alerts go here.",
    },
    FieldSpec {
        name: "password",
        label: "Password",
        kind: "password",
        required: true,
        autocomplete: "new-password",
        hint: "At least 12 characters. A few unrelated words make a good one.",
    },
    FieldSpec {
        name: "password_confirm",
        label: "Password again",
        kind: "password",
        required: true,
        autocomplete: "new-password",
        hint: "",
    },
];

#[derive(Template)]
#[template(path = "setup/administrator.html")]
struct AdministratorPage {
    chrome: Chrome,
    p: Progress,
    problems: Vec<String>,
    fields: Vec<Field>,
    saved: bool,
}

fn administrator_page(
    draft: &Draft,
    p: Progress,
    posted: Option<&Values>,
    errors: Errors,
    problems: Vec<String>,
) -> Response {
    let mut values = Values::new();
    if let Some(a) = &draft.administrator {
        values.insert("first_name".into(), a.first_name.clone());
        values.insert("last_name".into(), a.last_name.clone());
        values.insert("username".into(), a.username.clone());
        values.insert("email".into(), a.email.clone());
    }
    let values = posted.cloned().unwrap_or(values);
    web::render(&AdministratorPage {
        chrome: Chrome::anonymous(),
        p,
        problems,
        fields: web::fields(ADMIN_FIELDS, |n| val(&values, n), &errors),
        saved: draft.administrator.is_some(),
    })
}

async fn save_administrator(
    state: &AppState,
    draft: &Draft,
    form: &Values,
) -> Result<Draft, AppError> {
    let input = service::AdminInput {
        username: val(form, "username"),
        email: val(form, "email"),
        first_name: val(form, "first_name"),
        last_name: val(form, "last_name"),
        password: val(form, "password"),
    };
    if val(form, "password") != val(form, "password_confirm") {
        // Nothing is saved; every other problem is shown too.
        let admin = NewAdmin {
            username: input.username.clone(),
            email: input.email.clone(),
            first_name: Some(input.first_name.clone()),
            last_name: Some(input.last_name.clone()),
            password: input.password.clone(),
        };
        let mut errors = match organizations::validate_admin(
            &admin,
            &draft.org_name(),
            &draft.timezone(),
            "password",
        ) {
            Err(AppError::Validation(e)) => e,
            _ => Vec::new(),
        };
        errors.push(FieldError::new(
            "password_confirm",
            "does not match the password",
        ));
        return Err(AppError::Validation(errors));
    }
    service::save_administrator(state, input).await
}

// ---------------------------------------------------------------------------------------------
// Stations and apparatus

const LOCATION_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "name",
        label: "Station name",
        kind: "text",
        required: true,
        autocomplete: "off",
        hint: "e.g. Station 1 or Headquarters.",
    },
    FieldSpec {
        name: "station_number",
        label: "Station number (optional)",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "",
    },
    FieldSpec {
        name: "address_line1",
        label: "Street address (optional)",
        kind: "text",
        required: false,
        autocomplete: "address-line1",
        hint: "",
    },
];
const APPARATUS_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "unit_number",
        label: "Unit number",
        kind: "text",
        required: true,
        autocomplete: "off",
        hint: "As on the radio, e.g. E1 or Engine 21.",
    },
    FieldSpec {
        name: "unit_name",
        label: "Name (optional)",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "",
    },
];

#[derive(Template)]
#[template(path = "setup/stations.html")]
struct StationsPage {
    chrome: Chrome,
    p: Progress,
    problems: Vec<String>,
    locations: Vec<LocationInput>,
    apparatus: Vec<ApparatusRow>,
    location_fields: Vec<Field>,
    apparatus_fields: Vec<Field>,
    types: Vec<Opt>,
    type_error: Option<String>,
    stations: Vec<Opt>,
    station_error: Option<String>,
    min_staffing: String,
    min_staffing_error: Option<String>,
    positions: String,
    positions_error: Option<String>,
    /// Which add form the errors belong to.
    open: &'static str,
}

pub struct ApparatusRow {
    pub unit_number: String,
    pub name: String,
    pub kind: String,
    pub crew: String,
    pub station: String,
}

fn type_label(t: &str) -> String {
    let mut c = t.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn stations_page(
    draft: &Draft,
    p: Progress,
    posted: Option<&Values>,
    errors: Errors,
    problems: Vec<String>,
) -> Response {
    let current = draft.stations.clone().unwrap_or_default();
    let empty = Values::new();
    let action = posted.map(|f| val(f, "action")).unwrap_or_default();
    let (loc_values, app_values) = match action.as_str() {
        "add_location" => (posted.unwrap_or(&empty), &empty),
        "add_apparatus" => (&empty, posted.unwrap_or(&empty)),
        _ => (&empty, &empty),
    };
    let (loc_errors, app_errors) = match action.as_str() {
        "add_location" => (errors.clone(), HashMap::new()),
        "add_apparatus" => (HashMap::new(), errors.clone()),
        _ => (HashMap::new(), HashMap::new()),
    };
    let type_pairs: Vec<(String, String)> = APPARATUS_TYPES
        .iter()
        .map(|t| (t.to_string(), type_label(t)))
        .collect();
    let type_refs: Vec<(&str, &str)> = type_pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let station_pairs: Vec<(String, String)> = current
        .locations
        .iter()
        .map(|l| (l.name.clone(), l.name.clone()))
        .collect();
    let station_refs: Vec<(&str, &str)> = station_pairs
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let chosen_type = {
        let t = val(app_values, "apparatus_type");
        if t.is_empty() {
            "engine".to_string()
        } else {
            t
        }
    };
    web::render(&StationsPage {
        chrome: Chrome::anonymous(),
        p,
        problems,
        apparatus: current
            .apparatus
            .iter()
            .map(|a| ApparatusRow {
                unit_number: a.unit_number.clone(),
                name: a.name.clone().unwrap_or_default(),
                kind: type_label(&a.apparatus_type),
                crew: format!(
                    "{} ({} least)",
                    a.positions.clone().unwrap_or_default().join(", "),
                    a.min_staffing.unwrap_or(1)
                ),
                station: a.station.clone().unwrap_or_default(),
            })
            .collect(),
        locations: current.locations.clone(),
        location_fields: web::fields(
            &[LOCATION_FIELDS, CITY_STATE_ZIP].concat(),
            |n| val(loc_values, n),
            &loc_errors,
        ),
        apparatus_fields: web::fields(APPARATUS_FIELDS, |n| val(app_values, n), &app_errors),
        types: options(&type_refs, &chosen_type, None),
        type_error: app_errors.get("apparatus_type").cloned(),
        stations: options(&station_refs, &val(app_values, "station"), Some("None")),
        station_error: app_errors.get("station").cloned(),
        min_staffing: val(app_values, "min_staffing"),
        min_staffing_error: app_errors.get("min_staffing").cloned(),
        positions: val(app_values, "positions"),
        positions_error: app_errors.get("positions").cloned(),
        open: match action.as_str() {
            "add_location" => "location",
            "add_apparatus" => "apparatus",
            _ => "",
        },
    })
}

/// The new lists for a stations form action (None: nothing to save).
fn stations_change(
    draft: &Draft,
    action: &str,
    form: &Values,
) -> Result<Option<service::StationsDraft>, AppError> {
    let mut lists = draft.stations.clone().unwrap_or_default();
    lists.skipped = false;
    let index = || -> Result<usize, AppError> {
        val(form, "index")
            .parse::<usize>()
            .map_err(|_| AppError::BadRequest("which entry to remove is missing".into()))
    };
    match action {
        "add_location" => lists.locations.push(LocationInput {
            name: val(form, "name"),
            station_number: opt(form, "station_number"),
            address_line1: opt(form, "address_line1"),
            city: opt(form, "city"),
            state: opt(form, "state"),
            postal_code: opt(form, "postal_code"),
        }),
        "remove_location" => {
            let i = index()?;
            if i < lists.locations.len() {
                let removed = lists.locations.remove(i);
                // Vehicles kept at it are no longer at a station.
                for a in &mut lists.apparatus {
                    if a.station.as_deref() == Some(removed.name.as_str()) {
                        a.station = None;
                    }
                }
            }
        }
        "add_apparatus" => {
            let min = val(form, "min_staffing");
            let min_staffing = if min.trim().is_empty() {
                None
            } else {
                Some(min.trim().parse::<u32>().map_err(|_| {
                    AppError::field(
                        &format!("apparatus[{}].min_staffing", lists.apparatus.len()),
                        "must be a whole number between 1 and 20",
                    )
                })?)
            };
            let positions = val(form, "positions");
            lists.apparatus.push(ApparatusInput {
                unit_number: val(form, "unit_number"),
                name: opt(form, "unit_name"),
                apparatus_type: val(form, "apparatus_type"),
                min_staffing,
                positions: Some(
                    positions
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect(),
                ),
                station: opt(form, "station"),
            });
        }
        "remove_apparatus" => {
            let i = index()?;
            if i < lists.apparatus.len() {
                lists.apparatus.remove(i);
            }
        }
        "skip" => {
            return Ok(Some(service::StationsDraft {
                skipped: true,
                ..Default::default()
            }));
        }
        "continue" => {}
        _ => return Err(AppError::BadRequest("unknown action".into())),
    }
    Ok(Some(lists))
}

/// Errors about the entry being added (`locations[N].name`) become errors of the add form's
/// fields (`name`; the vehicle's name input is `unit_name`), so they show beside them.
fn stations_errors(draft: &Draft, action: &str, errors: Vec<FieldError>) -> Vec<FieldError> {
    let lists = draft.stations.clone().unwrap_or_default();
    let prefix = match action {
        "add_location" => format!("locations[{}].", lists.locations.len()),
        "add_apparatus" => format!("apparatus[{}].", lists.apparatus.len()),
        _ => return errors,
    };
    errors
        .into_iter()
        .map(|e| match e.field.strip_prefix(&prefix) {
            Some("name") if action == "add_apparatus" => FieldError::new("unit_name", e.message),
            Some(rest) => FieldError::new(rest, e.message),
            None => e,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Email

const EMAIL_SERVER: &[FieldSpec] = &[
    FieldSpec {
        name: "host",
        label: "Mail server",
        kind: "text",
        required: true,
        autocomplete: "off",
        hint: "e.g. smtp.gmail.com or your provider's SMTP server.",
    },
    FieldSpec {
        name: "port",
        label: "Port",
        kind: "number",
        required: true,
        autocomplete: "off",
        hint: "587 for STARTTLS, 465 for TLS.",
    },
];
const EMAIL_SIGN_IN: &[FieldSpec] = &[
    FieldSpec {
        name: "username",
        label: "User name (optional)",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "Usually the full email address of the sending account.",
    },
    FieldSpec {
        name: "password",
        label: "Password",
        kind: "password",
        required: false,
        autocomplete: "new-password",
        hint: "For Gmail or Microsoft 365, an app password.",
    },
];
const EMAIL_SENDER: &[FieldSpec] = &[
    FieldSpec {
        name: "from_address",
        label: "From address",
        kind: "email",
        required: true,
        autocomplete: "off",
        hint: "Emails come from this address.",
    },
    FieldSpec {
        name: "from_name",
        label: "From name (optional)",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "e.g. Maple Grove VFD.",
    },
];

#[derive(Template)]
#[template(path = "setup/email.html")]
struct EmailPage {
    chrome: Chrome,
    p: Progress,
    problems: Vec<String>,
    notice: Option<String>,
    server: Vec<Field>,
    sign_in: Vec<Field>,
    sender: Vec<Field>,
    security: Vec<Opt>,
    security_error: Option<String>,
    password_set: bool,
    /// Saved settings exist (not skipped): the test can be sent.
    saved: bool,
    skipped: bool,
    test: Option<TestOutcome>,
    test_to: String,
}

pub struct TestOutcome {
    pub result: Option<TestResult>,
    pub error: Option<String>,
}

fn email_input(form: &Values, action: &str) -> service::EmailInput {
    service::EmailInput {
        skipped: action == "skip",
        host: opt(form, "host"),
        port: Some(val(form, "port").trim().parse::<u32>().unwrap_or(0)),
        security: opt(form, "security"),
        username: opt(form, "username"),
        password: opt(form, "password"),
        from_address: opt(form, "from_address"),
        from_name: opt(form, "from_name"),
    }
}

fn email_page(
    draft: &Draft,
    p: Progress,
    posted: Option<&Values>,
    errors: Errors,
    problems: Vec<String>,
    notice: Option<String>,
    test: Option<TestOutcome>,
) -> Response {
    let saved = draft.email.as_ref().filter(|e| !e.skipped);
    let mut values = Values::new();
    values.insert("port".into(), "587".into());
    if let Some(e) = saved {
        values.insert("host".into(), e.host.clone());
        values.insert("port".into(), e.port.to_string());
        values.insert("security".into(), e.security.clone());
        values.insert("username".into(), e.username.clone().unwrap_or_default());
        values.insert("from_address".into(), e.from_address.clone());
        values.insert("from_name".into(), e.from_name.clone().unwrap_or_default());
    }
    let values = posted.cloned().unwrap_or(values);
    let value = |n: &str| val(&values, n);
    let security = {
        let s = value("security");
        if s.is_empty() {
            "starttls".to_string()
        } else {
            s
        }
    };
    let labels: Vec<(&str, &str)> = SECURITY_MODES
        .iter()
        .map(|m| {
            (
                *m,
                match *m {
                    "starttls" => "STARTTLS (port 587)",
                    "tls" => "TLS (port 465)",
                    _ => "None (a relay on the station network)",
                },
            )
        })
        .collect();
    web::render(&EmailPage {
        chrome: Chrome::anonymous(),
        p,
        problems,
        notice: notice.filter(|_| saved.is_some()),
        server: web::fields(EMAIL_SERVER, value, &errors),
        sign_in: web::fields(EMAIL_SIGN_IN, value, &errors),
        sender: web::fields(EMAIL_SENDER, value, &errors),
        security: options(&labels, &security, None),
        security_error: errors.get("security").cloned(),
        password_set: saved.is_some_and(|e| e.password_encrypted.is_some()),
        saved: saved.is_some(),
        skipped: draft.email.as_ref().is_some_and(|e| e.skipped),
        test_to: draft
            .administrator
            .as_ref()
            .map(|a| a.email.clone())
            .unwrap_or_default(),
        test,
    })
}

async fn email_test(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    Form(form): Form<Values>,
) -> Response {
    let draft = match enter(&state, addr, &jar).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    if !draft.reachable(Step::Email) {
        return Redirect::to(&step_href(draft.next_step())).into_response();
    }
    let outcome = match service::send_test(&state, opt(&form, "to")).await {
        Ok(result) => TestOutcome {
            result: Some(result),
            error: None,
        },
        Err(AppError::Validation(e)) => TestOutcome {
            result: None,
            error: e.first().map(|e| web::field_sentence("To", &e.message)),
        },
        Err(AppError::Conflict(m)) => TestOutcome {
            result: None,
            error: Some(web::sentence(&m)),
        },
        Err(e) => return web::page_error(e),
    };
    render_step(
        &state,
        &draft,
        Step::Email,
        None,
        HashMap::new(),
        Vec::new(),
        None,
        Some(outcome),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// HTTPS, modules, finish

#[derive(Template)]
#[template(path = "setup/https.html")]
struct HttpsPage {
    chrome: Chrome,
    p: Progress,
    problems: Vec<String>,
    https: service::HttpsView,
    /// Just uploaded or switched back.
    saved: bool,
    /// The certificate as pasted (a refused one is shown again; the key never is).
    certificate: String,
    certificate_error: Option<String>,
    private_key_error: Option<String>,
    upload_open: bool,
}

pub struct ModuleChoice {
    pub name: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub on: bool,
}

#[derive(Template)]
#[template(path = "setup/modules.html")]
struct ModulesPage {
    chrome: Chrome,
    p: Progress,
    problems: Vec<String>,
    modules: Vec<ModuleChoice>,
}

fn modules_page(draft: &Draft, p: Progress, problems: Vec<String>) -> Response {
    let chosen = draft.modules_or_default();
    web::render(&ModulesPage {
        chrome: Chrome::anonymous(),
        p,
        problems,
        // Only what is built: a part of Logbook still to come is not offered.
        modules: crate::module::features()
            .iter()
            .map(|f| ModuleChoice {
                name: f.key,
                label: f.label,
                description: f.description,
                on: chosen.get(f.key).copied().unwrap_or(true),
            })
            .collect(),
    })
}

#[derive(Template)]
#[template(path = "setup/finish.html")]
struct FinishPage {
    chrome: Chrome,
    p: Progress,
    problems: Vec<String>,
    org_name: String,
    timezone: String,
    admin: String,
    stations: String,
    email: String,
    https: String,
    modules: String,
}

fn finish_page(draft: &Draft, p: Progress, problems: Vec<String>) -> Response {
    let stations = match &draft.stations {
        Some(s) if s.skipped => "Skipped; add them later.".to_string(),
        Some(s) => {
            let count = |n: usize, one: &str, many: &str| {
                format!("{n} {}", if n == 1 { one } else { many })
            };
            format!(
                "{}, {}",
                count(s.locations.len(), "station", "stations"),
                count(s.apparatus.len(), "vehicle", "vehicles")
            )
        }
        None => String::new(),
    };
    let email = match &draft.email {
        Some(e) if e.skipped => "Skipped; set it up later in Settings → Email.".to_string(),
        Some(e) => format!(
            "{} port {} ({}), from {}",
            e.host, e.port, e.security, e.from_address
        ),
        None => String::new(),
    };
    let https = match &draft.https {
        Some(h) => match &h.fingerprint {
            Some(f) => format!("{} certificate, SHA-256 {}", type_label(&h.certificate), f),
            None => "Off: plain HTTP (behind a proxy)".into(),
        },
        None => String::new(),
    };
    let on: Vec<&str> = draft
        .modules_or_default()
        .iter()
        .filter(|(_, on)| **on)
        .filter_map(|(m, _)| {
            crate::module::features()
                .into_iter()
                .find(|f| f.key == m)
                .map(|f| f.label)
        })
        .collect();
    web::render(&FinishPage {
        chrome: Chrome::anonymous(),
        p,
        problems,
        org_name: draft.org_name(),
        timezone: draft.timezone(),
        admin: draft
            .administrator
            .as_ref()
            .map(|a| {
                format!(
                    "{} {} ({}, {})",
                    a.first_name, a.last_name, a.username, a.email
                )
            })
            .unwrap_or_default(),
        stations,
        email,
        https,
        modules: if on.is_empty() {
            "None".into()
        } else {
            on.join(", ")
        },
    })
}

async fn finish(
    state: &AppState,
    addr: SocketAddr,
    headers: &HeaderMap,
    jar: CookieJar,
) -> Response {
    let ua = crate::auth::api::user_agent(headers);
    let ip = addr.ip().to_string();
    match service::finish(state, Some(&ip), ua.as_deref()).await {
        Ok(done) => {
            let pair = match crate::auth::api::pair(
                state,
                done.org_id,
                done.admin_id,
                &done.issued,
                false,
            ) {
                Ok(p) => p,
                Err(e) => return web::page_error(e),
            };
            let jar = crate::auth::cookies::with_session(
                jar.remove(Cookie::build(super::COOKIE).path("/").build()),
                &pair.access_token,
                &pair.refresh_token,
                state.config.secure_cookies,
            );
            (jar, Redirect::to("/?welcome=1")).into_response()
        }
        Err(AppError::Conflict(m)) => {
            // Already finished (another tab): go in; otherwise show what is missing.
            match service::load(&state.db).await {
                Ok(draft) => {
                    render_step(
                        state,
                        &draft,
                        Step::Finish,
                        None,
                        HashMap::new(),
                        vec![web::sentence(&m)],
                        None,
                        None,
                    )
                    .await
                }
                Err(_) => Redirect::to("/").into_response(),
            }
        }
        Err(AppError::Validation(errors)) => match service::load(&state.db).await {
            Ok(draft) => {
                let problems = errors
                    .iter()
                    .map(|e| web::field_sentence(&e.field, &e.message))
                    .collect();
                render_step(
                    state,
                    &draft,
                    Step::Finish,
                    None,
                    HashMap::new(),
                    problems,
                    None,
                    None,
                )
                .await
            }
            Err(e) => web::page_error(e),
        },
        Err(e) => web::page_error(e),
    }
}
