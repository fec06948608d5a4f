//! Field checks every form and API input shares: trimmed text with a limit and no control
//! characters, names, e-mail addresses, phone numbers, dates; and `Checks`, which collects every
//! field's error so that a form or a CSV row reports all its problems at once.

use chrono::NaiveDate;

use crate::error::{AppError, AppResult, FieldError};

/// Collects field errors so that a form or a CSV row reports every problem at once.
#[derive(Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

impl Checks {
    pub fn take<T>(&mut self, result: AppResult<T>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(AppError::Validation(mut errs)) => {
                self.errors.append(&mut errs);
                None
            }
            Err(other) => {
                self.errors
                    .push(FieldError::new("", other.to_problem().detail));
                None
            }
        }
    }

    /// For PATCH: when a field was given (`Some`), parse it and, if valid, store it in `target`.
    pub fn apply<T>(&mut self, target: &mut T, given: Option<AppResult<T>>) {
        if let Some(result) = given
            && let Some(value) = self.take(result)
        {
            *target = value;
        }
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_errors(self) -> Vec<FieldError> {
        self.errors
    }

    pub fn finish(self) -> AppResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.errors))
        }
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

/// Trimmed, non-empty, at most `max` characters, no control characters.
pub fn required_text(field: &str, value: &str, max: usize) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::field(field, "is required"));
    }
    checked_text(field, v, max)
}

fn checked_text(field: &str, v: &str, max: usize) -> AppResult<String> {
    if v.chars().count() > max {
        return Err(AppError::field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if has_control(v) {
        return Err(AppError::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_string())
}

/// Like `required_text`, but empty means "none".
pub fn optional_text(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => checked_text(field, v, max).map(Some),
    }
}

/// Like `optional_text`, for a text area: line breaks (`\r\n` kept as `\n`) and tabs are
/// allowed, other control characters are not.
pub fn optional_paragraphs(
    field: &str,
    value: Option<String>,
    max: usize,
) -> AppResult<Option<String>> {
    let Some(v) = value.map(|v| v.replace("\r\n", "\n")) else {
        return Ok(None);
    };
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max {
        return Err(AppError::field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(AppError::field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(Some(v.to_string()))
}

/// Lower-case letters, digits, `.`, `_` and `-`; 3 to 64 characters; starts with a letter or digit.
pub fn username(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim().to_lowercase();
    let ok_chars = v
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    let ok_start = v.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !(3..=64).contains(&v.len()) || !ok_chars || !ok_start {
        return Err(AppError::field(
            field,
            "must be 3–64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit",
        ));
    }
    Ok(v)
}

/// A plausible e-mail address: one `@`, something before it, a dot in the domain, no spaces.
pub fn email(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim();
    let valid = v.len() <= 254
        && !has_control(v)
        && !v.contains(char::is_whitespace)
        && match v.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !v.contains(['<', '>', '"', ',', ';'])
            }
            None => false,
        };
    if !valid {
        return Err(AppError::field(field, "is not a valid e-mail address"));
    }
    Ok(v.to_string())
}

/// Digits with optional `+`, spaces, dashes, dots and parentheses; 3 to 32 characters.
pub fn phone(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            let ok = v.len() <= 32
                && v.len() >= 3
                && v.chars().any(|c| c.is_ascii_digit())
                && v.chars().all(|c| {
                    c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')' | 'x')
                });
            if ok {
                Ok(Some(v.to_string()))
            } else {
                Err(AppError::field(
                    field,
                    "must be a phone number: digits, spaces, + - . ( ), up to 32 characters",
                ))
            }
        }
    }
}

/// Letters, digits and `-`, up to 32 characters.
pub fn membership_number(field: &str, value: Option<String>) -> AppResult<Option<String>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            if v.len() <= 32 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                Ok(Some(v.to_string()))
            } else {
                Err(AppError::field(
                    field,
                    "must be letters, digits or '-', up to 32 characters",
                ))
            }
        }
    }
}

/// A date (`YYYY-MM-DD`, or with slashes in the department's order, as its spreadsheets write
/// it), not in the future and not before 1900.
pub fn past_date(
    field: &str,
    value: Option<String>,
    today: NaiveDate,
    locale: crate::time::Locale,
) -> AppResult<Option<NaiveDate>> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            let date = locale.parse_day(v).ok_or_else(|| {
                let example = NaiveDate::from_ymd_opt(2019, 4, 1).expect("valid date");
                AppError::field(
                    field,
                    format!(
                        "must be a date like {} (or 2019-04-01)",
                        locale.day(example)
                    ),
                )
            })?;
            if date > today {
                return Err(AppError::field(field, "must not be in the future"));
            }
            if date < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") {
                return Err(AppError::field(field, "must be after 1900"));
            }
            Ok(Some(date))
        }
    }
}

/// A date a record can carry: from 1900 to 2200. A mistyped year (or a negative one, which the
/// database cannot store) is refused beside the field rather than failing the write.
pub fn plausible_date(field: &str, date: Option<NaiveDate>) -> AppResult<Option<NaiveDate>> {
    if date.is_some_and(|d| !(1900..=2200).contains(&chrono::Datelike::year(&d))) {
        return Err(AppError::field(
            field,
            "must be a date between 1900 and 2200",
        ));
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert_eq!(username("u", " Jane.Doe ").unwrap(), "jane.doe");
        assert!(username("u", "a").is_err());
        assert!(username("u", "x'; DROP TABLE users;--").is_err());
        assert!(email("e", "a@b.org").is_ok());
        assert!(email("e", "a@b").is_err());
        assert!(email("e", "a b@c.org").is_err());
        assert!(
            phone("p", Some("+1 (555) 010-0199".into()))
                .unwrap()
                .is_some()
        );
        assert!(phone("p", Some("call me".into())).is_err());
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let us = crate::time::Locale::default();
        assert!(past_date("d", Some("2027-01-01".into()), today, us).is_err());
        assert!(past_date("d", Some("2020-02-30".into()), today, us).is_err());
        let june = NaiveDate::from_ymd_opt(2025, 6, 1);
        assert_eq!(
            past_date("d", Some("06/01/2025".into()), today, us).unwrap(),
            june
        );
        let day_first = crate::time::Locale {
            date: crate::time::DateStyle::DayFirst,
            ..us
        };
        assert_eq!(
            past_date("d", Some("01/06/2025".into()), today, day_first).unwrap(),
            june
        );
        let err = past_date("d", Some("31/31/2025".into()), today, day_first).unwrap_err();
        assert!(format!("{err:?}").contains("01/04/2019"), "{err:?}");
        assert!(required_text("n", "  ", 10).is_err());
        assert!(required_text("n", "O'Brien <b>", 20).is_ok());
        assert!(required_text("n", "a\u{0}b", 20).is_err());
    }
}
