//! The form kit every page shares: field specs and fields, error messages as sentences beside
//! their fields, parsing of dates, hours and choices, and `finish_form`: commit when the save
//! and the form are clean, otherwise roll back and show every error beside its field.

use std::collections::HashMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::db::Tx;
use crate::error::{AppError, FieldError};

use super::sentence;

/// A message beside a field: "is required" beside First name reads "First name is required.";
/// a message that does not start with a verb is only capitalised.
pub fn field_sentence(label: &str, message: &str) -> String {
    let m = message.trim_end_matches('.');
    let starts_with_verb = ["is ", "must ", "has ", "cannot ", "may ", "should "]
        .iter()
        .any(|p| m.starts_with(p));
    if starts_with_verb {
        format!("{label} {m}.")
    } else {
        sentence(m)
    }
}

/// The message of a refusal that is not about one field: every message of a validation error,
/// otherwise the problem's detail.
pub fn refusal(err: &AppError) -> String {
    match err {
        AppError::Validation(errors) => errors
            .iter()
            .map(|e| sentence(&e.message))
            .collect::<Vec<_>>()
            .join(" "),
        other => sentence(&other.to_problem().detail),
    }
}

/// One input of a form, with its label, hint and error (`field.html`).
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
    pub required: bool,
    pub autocomplete: &'static str,
    /// Empty: none.
    pub placeholder: String,
    pub hint: &'static str,
    pub error: Option<String>,
}

/// One field of a form, as the page declares it.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The form field's name (and the service's field name for its errors).
    pub name: &'static str,
    pub label: &'static str,
    /// The input type: text, email, tel, date, password, …
    pub kind: &'static str,
    pub required: bool,
    /// The `autocomplete` token; empty: none.
    pub autocomplete: &'static str,
    /// A line of help under the field; empty: none.
    pub hint: &'static str,
}

/// The fields for `specs`: each with its value from `value` (a password input never gets one)
/// and its error from `errors` (keyed by name, as `field_errors` makes them).
pub fn fields(
    specs: &[FieldSpec],
    value: impl Fn(&str) -> String,
    errors: &HashMap<String, String>,
) -> Vec<Field> {
    specs
        .iter()
        .map(|spec| Field {
            name: spec.name,
            label: spec.label,
            kind: spec.kind,
            value: if spec.kind == "password" {
                String::new()
            } else {
                value(spec.name)
            },
            required: spec.required,
            autocomplete: spec.autocomplete,
            placeholder: String::new(),
            hint: spec.hint,
            error: errors.get(spec.name).cloned(),
        })
        .collect()
}

/// The label of the field `name` in any of `specs`.
pub fn spec_label(specs: &[&[FieldSpec]], name: &str) -> Option<&'static str> {
    specs
        .iter()
        .flat_map(|s| s.iter())
        .find(|s| s.name == name)
        .map(|s| s.label)
}

/// Field errors as sentences keyed by field, several for one field joined ("First name is
/// required."). `label` names the form's fields; errors about any other field come back apart,
/// as they are.
pub fn field_errors(
    errors: Vec<FieldError>,
    label: impl Fn(&str) -> Option<&'static str>,
) -> (HashMap<String, String>, Vec<FieldError>) {
    let mut by_field: HashMap<String, String> = HashMap::new();
    let mut other = Vec::new();
    for e in errors {
        match label(&e.field) {
            Some(label) => {
                let text = field_sentence(label.trim_end_matches(" (optional)"), &e.message);
                by_field
                    .entry(e.field)
                    .and_modify(|t| {
                        t.push(' ');
                        t.push_str(&text)
                    })
                    .or_insert(text);
            }
            None => other.push(e),
        }
    }
    (by_field, other)
}

/// A required date `YYYY-MM-DD`; its error joins `errors`.
pub fn parse_date(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        errors.push(FieldError::new(field, "is required"));
        return None;
    }
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new(field, "is not a date (YYYY-MM-DD)"));
            None
        }
    }
}

/// Hours (a comma works as the decimal point); empty: none.
pub fn parse_hours(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<Decimal> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.replace(',', ".").parse::<Decimal>() {
        Ok(h) => Some(h),
        Err(_) => {
            errors.push(FieldError::new(field, "is not a number of hours"));
            None
        }
    }
}

/// The id of a chosen option; empty: none.
pub fn parse_optional_id(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> Option<Uuid> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match Uuid::try_parse(raw) {
        Ok(id) => Some(id),
        Err(_) => {
            errors.push(FieldError::new(field, "is not one of the choices"));
            None
        }
    }
}

/// Ends a form's save: the transaction commits only when the save succeeded and the form had no
/// errors of its own (`errors`, from reading its fields), and the mailer is woken for whatever
/// the save queued. Otherwise nothing is written: the service's field errors join `errors` and
/// the answer is None, for the page to show them beside the fields. Any other error passes
/// through (the dropped transaction rolls back).
pub async fn finish_form<T>(
    tx: Tx<'static>,
    saved: Result<T, AppError>,
    errors: &mut Vec<FieldError>,
    mailer: &crate::notify::Mailer,
) -> Result<Option<T>, AppError> {
    match saved {
        Ok(saved) if errors.is_empty() => {
            mailer.commit_and_kick(tx).await?;
            Ok(Some(saved))
        }
        Ok(_) => {
            tx.rollback().await?;
            Ok(None)
        }
        Err(AppError::Validation(found)) => {
            tx.rollback().await?;
            errors.extend(found);
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// What an import page shows after a check or an import.
pub enum Imported<P> {
    /// The rows were read: the report, and whether they were imported (all of them).
    Report {
        report: crate::csv::ImportReport<P>,
        committed: bool,
    },
    /// The file as a whole was refused (its header, its size): a sentence for beside the box.
    Refused(String),
}

/// Ends an import page's transaction the one way (a real run without row errors commits, all
/// else rolls back) and answers 422 when anything was wrong. Other errors pass through.
pub async fn finish_import<P>(
    tx: Tx<'static>,
    result: Result<crate::csv::ImportReport<P>, AppError>,
) -> Result<(axum::http::StatusCode, Imported<P>), AppError> {
    use axum::http::StatusCode;
    match result {
        Ok(report) => {
            let committed = report.settle(tx).await?;
            let code = if report.errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            Ok((code, Imported::Report { report, committed }))
        }
        Err(AppError::Validation(errors)) => {
            tx.rollback().await?;
            let why = errors
                .iter()
                .map(|e| field_sentence("The CSV", &e.message))
                .collect::<Vec<_>>()
                .join(" ");
            Ok((StatusCode::UNPROCESSABLE_ENTITY, Imported::Refused(why)))
        }
        Err(other) => Err(other),
    }
}

/// Field errors as sentences keyed by field ("Hours must not be negative."): `web::field_errors`
/// with the form's labels; a message about no field of the form is kept under its own key.
pub fn beside(
    errors: &[FieldError],
    labels: &[(&str, &'static str)],
) -> std::collections::HashMap<String, String> {
    let label = |field: &str| labels.iter().find(|(f, _)| *f == field).map(|(_, l)| *l);
    let (mut by_field, other) = field_errors(errors.to_vec(), label);
    for e in other {
        let text = sentence(&e.message);
        by_field
            .entry(e.field)
            .and_modify(|t| {
                t.push(' ');
                t.push_str(&text)
            })
            .or_insert(text);
    }
    by_field
}

/// A date field that may be left empty (None), else `parse_date`.
pub fn parse_optional_date(
    field: &str,
    raw: &str,
    errors: &mut Vec<FieldError>,
) -> Option<chrono::NaiveDate> {
    match raw.trim() {
        "" => None,
        _ => parse_date(field, raw, errors),
    }
}

/// `?done=…`: the word a page's redirect after a save carries, for the notice it shows.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DoneQuery {
    pub done: Option<String>,
}

/// One option of a `<select>`.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The options for `pairs` (value, label), `current` selected; `blank` adds an empty first one.
pub fn options(pairs: &[(&str, &str)], current: &str, blank: Option<&str>) -> Vec<Opt> {
    let mut out = Vec::new();
    if let Some(label) = blank {
        out.push(Opt {
            value: String::new(),
            label: label.into(),
            selected: current.is_empty(),
        });
    }
    out.extend(pairs.iter().map(|(v, l)| Opt {
        value: v.to_string(),
        label: l.to_string(),
        selected: *v == current,
    }));
    out
}

/// Errors beside the fields of a form, for the `training/fields.html` macros: looked up by a
/// field's name.
#[derive(Debug, Default)]
pub struct FieldErrors(std::collections::HashMap<String, String>);

impl FieldErrors {
    pub fn new(errors: &[FieldError], labels: &[(&str, &'static str)]) -> Self {
        FieldErrors(beside(errors, labels))
    }

    pub fn contains_key(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn get(&self, field: &str) -> Option<&String> {
        self.0.get(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
