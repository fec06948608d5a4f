//! Reading an imported CSV file's header line, the same way for every import: a byte-order mark
//! from a spreadsheet is dropped, names are matched loosely (case, spaces and punctuation do not
//! matter, and the names spreadsheets commonly use — "First Name", "E-mail", "Surname" — are
//! understood), and a column that is unknown, given twice or missing is refused before any row
//! is read (a duplicated column would otherwise let the second copy silently win). The import's report, the same for every import:
//! a preview first, then all rows or none. And writing one: a cell a spreadsheet would take for a
//! formula is kept as text.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::db::Tx;
use crate::error::{AppError, AppResult};

/// `?dry_run=`: every import's API is checked (and previewed) first.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// true (default): check and preview only; false: import, all rows or none.
    pub dry_run: Option<bool>,
}

/// One problem with one row of an imported file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: u64,
    pub field: String,
    pub message: String,
}

/// What an import found and did; `P` is a row of its preview.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReport<P> {
    pub dry_run: bool,
    pub rows: u64,
    pub valid_rows: u64,
    pub created: u64,
    /// Every problem, per line and field. With any, nothing is imported.
    pub errors: Vec<RowError>,
    /// What would be (or was) created.
    pub preview: Vec<P>,
}

impl<P> ImportReport<P> {
    /// Ends the import's transaction: only a real run without a row error is committed (all
    /// rows or none). Returns whether it was.
    pub async fn settle(&self, tx: Tx<'_>) -> AppResult<bool> {
        if self.dry_run || !self.errors.is_empty() {
            tx.rollback().await?;
            Ok(false)
        } else {
            tx.commit().await?;
            Ok(true)
        }
    }

    /// The API's answer: 422 when a real run was refused for its row errors, else 200 (a dry
    /// run reports its errors with 200: checking is what was asked).
    pub fn api_status(&self) -> StatusCode {
        if !self.dry_run && !self.errors.is_empty() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        }
    }
}

/// Names spreadsheets use for our columns, after `normalize` (an alias counts only where the
/// import knows the column it stands for).
const ALIASES: &[(&str, &str)] = &[
    ("e_mail", "email"),
    ("email_address", "email"),
    ("e_mail_address", "email"),
    ("mail", "email"),
    ("first", "first_name"),
    ("firstname", "first_name"),
    ("given_name", "first_name"),
    ("last", "last_name"),
    ("lastname", "last_name"),
    ("surname", "last_name"),
    ("family_name", "last_name"),
    ("user_name", "username"),
    ("login", "username"),
    ("phone_number", "phone"),
    ("mobile", "phone"),
    ("cell", "phone"),
    ("cell_phone", "phone"),
    ("telephone", "phone"),
    ("member_number", "membership_number"),
    ("member_no", "membership_number"),
    ("badge", "membership_number"),
    ("badge_number", "membership_number"),
    ("start_date", "hire_date"),
    ("join_date", "hire_date"),
    ("date_joined", "hire_date"),
    ("joined", "hire_date"),
    ("emergency_contact", "emergency_contact_name"),
    ("date", "completion_date"),
    ("date_completed", "completion_date"),
    ("completed", "completion_date"),
    ("expires", "expiration_date"),
    ("expiry_date", "expiration_date"),
    ("expiration", "expiration_date"),
    ("certificate_number", "certification_number"),
    ("cert_number", "certification_number"),
];

/// A header name as a column name: lower case, each run of spaces and punctuation one `_`.
fn normalize(name: &str) -> String {
    let mut out = String::new();
    for ch in name.trim_start_matches('\u{feff}').trim().chars() {
        if ch.is_alphanumeric() {
            out.extend(ch.to_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The header of `reader` as the import's column names, checked against the `known` columns and
/// the `required` ones. Errors are field errors on `file`, for the page to show beside the upload.
pub fn header<R: std::io::Read>(
    reader: &mut ::csv::Reader<R>,
    known: &[&str],
    required: &[&str],
) -> AppResult<Vec<String>> {
    let given: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::field("file", format!("cannot read the header line: {e}")))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut names: Vec<String> = Vec::new();
    for original in &given {
        let n = normalize(original);
        let name = if known.contains(&n.as_str()) {
            n
        } else if let Some((_, column)) = ALIASES
            .iter()
            .find(|(alias, column)| *alias == n && known.contains(column))
        {
            column.to_string()
        } else {
            return Err(AppError::field(
                "file",
                format!(
                    "has a column \"{}\" that is not one of {}",
                    original.trim_start_matches('\u{feff}').trim(),
                    known.join(", ")
                ),
            ));
        };
        if names.contains(&name) {
            return Err(AppError::field(
                "file",
                format!("has the column \"{name}\" twice; keep one"),
            ));
        }
        names.push(name);
    }
    for r in required {
        if !names.iter().any(|h| h == r) {
            return Err(AppError::field("file", format!("needs a \"{r}\" column")));
        }
    }
    Ok(names)
}

/// Cells starting with these are formulas to a spreadsheet; prefix them so they stay text.
pub fn spreadsheet_safe(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Vec<String>, String> {
        let mut reader = ::csv::ReaderBuilder::new().from_reader(text.as_bytes());
        header(&mut reader, &["username", "email", "rank"], &["username"]).map_err(|e| match e {
            AppError::Validation(errs) => errs[0].message.clone(),
            other => other.to_string(),
        })
    }

    #[test]
    fn headers_are_checked_once_for_every_import() {
        assert_eq!(
            check("\u{feff}Username, EMAIL\n"),
            Ok(vec!["username".into(), "email".into()])
        );
        assert_eq!(
            check("username,email,Email\n"),
            Err("has the column \"email\" twice; keep one".into())
        );
        assert!(
            check("username,shoe size\n")
                .unwrap_err()
                .contains("not one of")
        );
        assert_eq!(check("email\n"), Err("needs a \"username\" column".into()));
    }

    #[test]
    fn spreadsheet_names_are_understood() {
        let check = |text: &str| -> Result<Vec<String>, String> {
            let mut reader = ::csv::ReaderBuilder::new().from_reader(text.as_bytes());
            header(
                &mut reader,
                &["username", "email", "first_name", "last_name", "hire_date"],
                &["username"],
            )
            .map_err(|e| match e {
                AppError::Validation(errs) => errs[0].message.clone(),
                other => other.to_string(),
            })
        };
        assert_eq!(
            check("User Name,First Name,Surname,E-mail,Date Joined\n"),
            Ok(vec![
                "username".into(),
                "first_name".into(),
                "last_name".into(),
                "email".into(),
                "hire_date".into()
            ])
        );
        assert_eq!(check("  USERNAME  ,first-name\n").unwrap()[1], "first_name");
        // Two names for one column are one column twice.
        assert_eq!(
            check("username,Email,E-mail Address\n"),
            Err("has the column \"email\" twice; keep one".into())
        );
        // An alias counts only for a column the import has: "Date" is no member column.
        assert!(check("username,Date\n").unwrap_err().contains("\"Date\""));
    }
}
