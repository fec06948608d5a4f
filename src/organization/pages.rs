//! The department's own page in Settings (`/settings/department`): everything the first-boot
//! wizard asked about the department — name, type, time zone, FDID, address, contact — and which
//! parts of Logbook it uses, changed through the same rules (and audited) as the API's
//! `PATCH /api/v1/organization`. The profile's fields are shared with the wizard's step.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::{Form, Router};

use super::service::{self, ContactDirectory, IDENTIFIER_TYPES, OrgProfile, Settings, TYPES};
use crate::auth::permissions::SETTINGS_MANAGE;
use crate::error::AppError;
use crate::error::FieldError;
use crate::state::AppState;
use crate::time::{Clock, DateStyle, Paper};
use crate::web::{self, Chrome, DoneQuery, Field, FieldSpec, NavItem, Opt, PageResult, Viewer};

pub fn router() -> Router<AppState> {
    Router::new().route("/settings/department", get(department).post(save))
}

pub const ORG_FIELDS: &[FieldSpec] = &[
    FieldSpec {
        name: "name",
        label: "Department name",
        kind: "text",
        required: true,
        autocomplete: "organization",
        hint: "As it should appear on reports, e.g. Maple Grove Volunteer Fire Department.",
    },
    FieldSpec {
        name: "identifier",
        label: "FDID or state id (optional)",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "The number your state fire marshal or NFIRS gave the department.",
    },
];
/// City, state and ZIP: the department's address and a station's.
pub const CITY_STATE_ZIP: &[FieldSpec] = &[
    FieldSpec {
        name: "city",
        label: "City (optional)",
        kind: "text",
        required: false,
        autocomplete: "address-level2",
        hint: "",
    },
    FieldSpec {
        name: "state",
        label: "State (optional)",
        kind: "text",
        required: false,
        autocomplete: "address-level1",
        hint: "",
    },
    FieldSpec {
        name: "postal_code",
        label: "ZIP code (optional)",
        kind: "text",
        required: false,
        autocomplete: "postal-code",
        hint: "",
    },
];
pub const ORG_STREET: &[FieldSpec] = &[
    FieldSpec {
        name: "address_line1",
        label: "Street address (optional)",
        kind: "text",
        required: false,
        autocomplete: "address-line1",
        hint: "",
    },
    FieldSpec {
        name: "address_line2",
        label: "Address line 2 (optional)",
        kind: "text",
        required: false,
        autocomplete: "address-line2",
        hint: "",
    },
];
pub const ORG_CONTACT: &[FieldSpec] = &[
    FieldSpec {
        name: "county",
        label: "County (optional)",
        kind: "text",
        required: false,
        autocomplete: "off",
        hint: "",
    },
    FieldSpec {
        name: "phone",
        label: "Phone (optional)",
        kind: "tel",
        required: false,
        autocomplete: "tel",
        hint: "",
    },
    FieldSpec {
        name: "email",
        label: "Department email (optional)",
        kind: "email",
        required: false,
        autocomplete: "email",
        hint: "",
    },
];

/// Every field of the profile, for matching errors to labels.
pub const PROFILE_FIELDS: &[&[FieldSpec]] = &[ORG_FIELDS, ORG_STREET, CITY_STATE_ZIP, ORG_CONTACT];

/// The profile's part of a form (`organization/profile_fields.html`): the wizard's step and the
/// settings page show the same fields.
pub struct ProfileForm {
    pub main: Vec<Field>,
    pub address: Vec<Field>,
    pub types: Vec<Opt>,
    pub type_error: Option<String>,
    pub identifier_types: Vec<Opt>,
    pub identifier_type_error: Option<String>,
    pub timezone: String,
    pub timezone_error: Option<String>,
    pub zones: Vec<&'static str>,
}

impl ProfileForm {
    pub fn new(value: impl Fn(&str) -> String, errors: &HashMap<String, String>) -> ProfileForm {
        let type_labels: Vec<(&str, &str)> = TYPES
            .iter()
            .map(|t| {
                (
                    *t,
                    match *t {
                        "fire_department" => "Fire department",
                        "ems_only" => "EMS only",
                        _ => "Fire and EMS",
                    },
                )
            })
            .collect();
        let id_labels: Vec<(&str, &str)> = IDENTIFIER_TYPES
            .iter()
            .map(|t| {
                (
                    *t,
                    match *t {
                        "fdid" => "FDID",
                        "state_id" => "State id",
                        _ => "Department id",
                    },
                )
            })
            .collect();
        ProfileForm {
            main: web::fields(ORG_FIELDS, &value, errors),
            address: web::fields(
                &[ORG_STREET, CITY_STATE_ZIP, ORG_CONTACT].concat(),
                &value,
                errors,
            ),
            types: web::options(&type_labels, &value("organization_type"), None),
            type_error: errors.get("organization_type").cloned(),
            identifier_types: web::options(&id_labels, &value("identifier_type"), Some("None")),
            identifier_type_error: errors.get("identifier_type").cloned(),
            timezone: value("timezone"),
            timezone_error: errors.get("timezone").cloned(),
            zones: chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect(),
        }
    }
}

/// A posted profile: every field given (an emptied one is cleared, not left as it was).
pub fn posted_profile(form: &HashMap<String, String>) -> OrgProfile {
    let field = |name: &str| Some(form.get(name).cloned().unwrap_or_default());
    OrgProfile {
        name: field("name"),
        organization_type: field("organization_type"),
        timezone: field("timezone"),
        identifier_type: field("identifier_type"),
        identifier: field("identifier"),
        county: field("county"),
        address_line1: field("address_line1"),
        address_line2: field("address_line2"),
        city: field("city"),
        state: field("state"),
        postal_code: field("postal_code"),
        phone: field("phone"),
        email: field("email"),
        settings: None,
    }
}

pub struct FeatureChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    pub on: bool,
}

#[derive(Template)]
#[template(path = "organization/department.html")]
struct DepartmentPage {
    chrome: Chrome,
    settings_nav: Vec<NavItem>,
    notice: Option<&'static str>,
    form: ProfileForm,
    features: Vec<FeatureChoice>,
    /// Every member sees each other's email and phone.
    directory_open: bool,
    directory_error: Option<String>,
    date_formats: Vec<Opt>,
    date_format_error: Option<String>,
    clocks: Vec<Opt>,
    clock_error: Option<String>,
    papers: Vec<Opt>,
    paper_error: Option<String>,
    /// Errors of no field of the form, as sentences.
    problems: Vec<String>,
}

/// The labels of the settings' fields, for errors beside them.
const SETTING_LABELS: &[(&str, &str)] = &[
    ("contact_directory", "Contact directory"),
    ("date_format", "Dates"),
    ("clock", "Times"),
    ("paper", "Paper"),
];

fn page(
    ctx: &crate::auth::Ctx,
    values: &HashMap<String, String>,
    settings: &Settings,
    errors: &[crate::error::FieldError],
    notice: Option<&'static str>,
) -> DepartmentPage {
    let labels: Vec<(&str, &'static str)> = PROFILE_FIELDS
        .iter()
        .flat_map(|specs| specs.iter().map(|s| (s.name, s.label)))
        .chain([
            ("organization_type", "Type"),
            ("timezone", "Time zone"),
            ("identifier_type", "Identifier type"),
        ])
        .chain(SETTING_LABELS.iter().copied())
        .collect();
    let beside = web::beside(errors, &labels);
    let known: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
    let problems = beside
        .iter()
        .filter(|(k, _)| !known.contains(&k.as_str()))
        .map(|(_, v)| v.clone())
        .collect();
    let on = |key: &str| settings.modules.get(key).copied().unwrap_or(true);
    let locale = settings.locale();
    DepartmentPage {
        chrome: Chrome::for_viewer(ctx, crate::web::SETTINGS),
        settings_nav: web::settings_nav("/settings/department"),
        notice,
        form: ProfileForm::new(|n| values.get(n).cloned().unwrap_or_default(), &beside),
        features: crate::module::features()
            .into_iter()
            .map(|f| FeatureChoice {
                key: f.key,
                label: f.label,
                description: f.description,
                on: on(f.key),
            })
            .collect(),
        directory_open: settings.contact_directory.unwrap_or_default() == ContactDirectory::Members,
        directory_error: beside.get("contact_directory").cloned(),
        date_formats: web::options(
            &[
                ("us", "12/31/2026 (month first)"),
                ("iso", "2026-12-31 (year first)"),
                ("day_first", "31/12/2026 (day first)"),
            ],
            locale.date.as_str(),
            None,
        ),
        date_format_error: beside.get("date_format").cloned(),
        clocks: web::options(
            &[("12h", "7:30 PM (12-hour)"), ("24h", "19:30 (24-hour)")],
            locale.clock.as_str(),
            None,
        ),
        clock_error: beside.get("clock").cloned(),
        papers: web::options(
            &[
                ("letter", "Letter (8.5 × 11 in)"),
                ("a4", "A4 (210 × 297 mm)"),
            ],
            locale.paper.as_str(),
            None,
        ),
        paper_error: beside.get("paper").cloned(),
        problems,
    }
}

async fn department(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Query(done): Query<DoneQuery>,
) -> PageResult {
    ctx.require(SETTINGS_MANAGE)?;
    let mut tx = state.db.begin().await?;
    let org = service::get(&ctx, &mut tx).await?;
    tx.commit().await?;
    let mut values = HashMap::new();
    for (k, v) in [
        ("name", Some(&org.name)),
        ("organization_type", Some(&org.organization_type)),
        ("timezone", Some(&org.timezone)),
        ("identifier_type", org.identifier_type.as_ref()),
        ("identifier", org.identifier.as_ref()),
        ("county", org.county.as_ref()),
        ("address_line1", org.address_line1.as_ref()),
        ("address_line2", org.address_line2.as_ref()),
        ("city", org.city.as_ref()),
        ("state", org.state.as_ref()),
        ("postal_code", org.postal_code.as_ref()),
        ("phone", org.phone.as_ref()),
        ("email", org.email.as_ref()),
    ] {
        if let Some(v) = v {
            values.insert(k.to_string(), v.clone());
        }
    }
    let notice = done
        .done
        .is_some()
        .then_some("The department's settings are saved.");
    Ok(web::render(&page(
        &ctx,
        &values,
        &org.settings,
        &[],
        notice,
    )))
}

/// The settings a posted form chose: each field one of its words (a field left out stays as it
/// was); an empty or unknown word is an error beside its field.
fn posted_settings(
    form: &[(String, String)],
    modules: BTreeMap<String, bool>,
) -> (Settings, Vec<FieldError>) {
    let mut errors = Vec::new();
    let settings = Settings {
        modules,
        contact_directory: posted_word(
            form,
            "contact_directory",
            ContactDirectory::parse,
            "choose who sees members' contact details",
            &mut errors,
        ),
        date_format: posted_word(
            form,
            "date_format",
            DateStyle::parse,
            "choose how dates are written",
            &mut errors,
        ),
        clock: posted_word(
            form,
            "clock",
            Clock::parse,
            "choose how times are written",
            &mut errors,
        ),
        paper: posted_word(
            form,
            "paper",
            Paper::parse,
            "choose a paper size",
            &mut errors,
        ),
    };
    (settings, errors)
}

/// The word posted for `name`, read by `parse`: none when the field was left out, and an error
/// beside it when the value is not one of the words.
fn posted_word<T>(
    form: &[(String, String)],
    name: &str,
    parse: fn(&str) -> Option<T>,
    message: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let (_, value) = form.iter().find(|(k, _)| k == name)?;
    let word = parse(value.trim());
    if word.is_none() {
        errors.push(FieldError::new(name, message));
    }
    word
}

async fn save(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    ctx.require(SETTINGS_MANAGE)?;
    let setting_names: Vec<&str> = SETTING_LABELS.iter().map(|(n, _)| *n).collect();
    let values: HashMap<String, String> = form
        .iter()
        .filter(|(k, _)| !k.starts_with("feature_") && !setting_names.contains(&k.as_str()))
        .cloned()
        .collect();
    let modules: BTreeMap<String, bool> = crate::module::features()
        .iter()
        .map(|f| {
            let on = form.iter().any(|(k, _)| *k == format!("feature_{}", f.key));
            (f.key.to_string(), on)
        })
        .collect();
    let (settings, setting_errors) = posted_settings(&form, modules);
    let mut patch = posted_profile(&values);
    patch.settings = Some(settings.clone());
    let mut tx = state.db.begin().await?;
    let saved = if setting_errors.is_empty() {
        service::update(&ctx, &mut tx, patch).await
    } else {
        Err(AppError::Validation(setting_errors))
    };
    match saved {
        Ok(_) => {
            tx.commit().await?;
            Ok(Redirect::to("/settings/department?done=saved").into_response())
        }
        Err(AppError::Validation(errors)) => {
            tx.rollback().await?;
            Ok((
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                web::render(&page(&ctx, &values, &settings, &errors, None)),
            )
                .into_response())
        }
        Err(other) => Err(other.into()),
    }
}
