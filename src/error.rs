//! One error type for the whole server. Every failure a handler can meet becomes an `AppError`;
//! the API face renders it as RFC 9457 problem details. Internal causes are logged with a
//! reference id and never shown to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A message tied to one input field, shown beside that field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Malformed request bodies, queries and similar, with the status the framework chose
    /// (400, 413, 415, 422).
    #[error("rejected request: {1}")]
    Rejected(StatusCode, String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("password change required")]
    PasswordChangeRequired,
    #[error("two-factor sign-in required")]
    TwoFactorRequired,
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("too many requests: {0}")]
    TooManyRequests(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn forbidden_permission(permission: &str) -> Self {
        AppError::Forbidden(format!("this needs the permission `{permission}`"))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Rejected(status, _) => *status,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_)
            | AppError::PasswordChangeRequired
            | AppError::TwoFactorRequired => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

tokio::task_local! {
    /// Set when a request's transaction lost a deadlock or waited out a row lock; the
    /// request is then run once more (`app::retry_contended`) before anything is answered.
    pub static CONTENDED: std::cell::Cell<bool>;
}

tokio::task_local! {
    /// Set when a request found the database unreachable; `app::db_gate` then marks it down
    /// for the requests after it.
    pub static DATABASE_LOST: std::cell::Cell<bool>;
}

/// MariaDB's "deadlock found" (1213) and "lock wait timeout exceeded" (1205): the transaction
/// was rolled back and nothing of it was written, so running it again is safe.
pub fn is_contention(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Database(db)
            if db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|e| matches!(e.number(), 1205 | 1213))
    )
}

/// Database errors: a lost or unreachable database is 503 (the server recovers when it is back);
/// a missing row is 404; a lost deadlock is 503 (and the request is retried once); anything else
/// is an internal error.
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if is_contention(&err) {
            tracing::info!(error = %err, "transaction lost to a concurrent one");
            let _ = CONTENDED.try_with(|c| c.set(true));
            return AppError::Unavailable(
                "another change to the same records was being saved at that moment; try again"
                    .into(),
            );
        }
        match err {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %err, "database unavailable");
                let _ = DATABASE_LOST.try_with(|c| c.set(true));
                AppError::Unavailable("the database is not reachable; try again shortly".into())
            }
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl AppError {
    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        let (kind, detail, errors, reference) = match self {
            AppError::Validation(errors) => (
                "validation-error",
                "some fields are not valid; see `errors`".to_string(),
                errors.clone(),
                None,
            ),
            AppError::BadRequest(msg) => ("bad-request", msg.clone(), vec![], None),
            AppError::Rejected(_, msg) => ("invalid-request", msg.clone(), vec![], None),
            AppError::Unauthorized(msg) => ("unauthorized", msg.clone(), vec![], None),
            AppError::Forbidden(msg) => ("forbidden", msg.clone(), vec![], None),
            AppError::PasswordChangeRequired => (
                "password-change-required",
                "you must change your password before doing anything else".to_string(),
                vec![],
                None,
            ),
            AppError::TwoFactorRequired => (
                "two-factor-required",
                "your department requires two-factor sign-in for your role: turn it on \
                 (/api/v1/auth/two-factor/setup) before doing anything else"
                    .to_string(),
                vec![],
                None,
            ),
            AppError::NotFound => ("not-found", "no such resource".to_string(), vec![], None),
            AppError::Conflict(msg) => ("conflict", msg.clone(), vec![], None),
            AppError::TooManyRequests(msg) => ("too-many-requests", msg.clone(), vec![], None),
            AppError::Unavailable(msg) => ("service-unavailable", msg.clone(), vec![], None),
            AppError::Internal(err) => {
                let reference = uuid::Uuid::now_v7().simple().to_string();
                tracing::error!(reference = %reference, error = ?err, "internal error");
                (
                    "internal-error",
                    format!("something went wrong on the server (reference {reference})"),
                    vec![],
                    Some(reference),
                )
            }
        };
        Problem {
            kind: format!("/problems/{kind}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            errors,
            reference,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let problem = self.to_problem();
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// Turns a unique-key violation into a field error ("membership number already used"); any other
/// database error passes through unchanged.
pub fn unique_violation(err: sqlx::Error, keys: &[(&str, &str, &str)]) -> AppError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        let msg = db.message();
        for (key, field, message) in keys {
            if msg.contains(key) {
                return AppError::field(field, *message);
            }
        }
        return AppError::Conflict("a record with these values already exists".into());
    }
    err.into()
}
