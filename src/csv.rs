//! Reading an imported CSV file's header line, the same way for every import: a byte-order mark
//! from a spreadsheet is dropped, names are matched without regard to case, and a column that is
//! unknown, given twice or missing is refused before any row is read (a duplicated column would
//! otherwise let the second copy silently win). The import's report, the same for every import:
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

/// The header of `reader`, lower-cased, checked against the `known` columns and the `required`
/// ones. Errors are field errors on `file`, for the page to show beside the upload.
pub fn header<R: std::io::Read>(
    reader: &mut ::csv::Reader<R>,
    known: &[&str],
    required: &[&str],
) -> AppResult<Vec<String>> {
    let names: Vec<String> = reader
        .headers()
        .map_err(|e| AppError::field("file", format!("cannot read the header line: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase())
        .collect();
    for (i, name) in names.iter().enumerate() {
        if !known.contains(&name.as_str()) {
            return Err(AppError::field(
                "file",
                format!(
                    "has a column \"{name}\" that is not one of {}",
                    known.join(", ")
                ),
            ));
        }
        if names[..i].contains(name) {
            return Err(AppError::field(
                "file",
                format!("has the column \"{name}\" twice; keep one"),
            ));
        }
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
}
