//! Shared pieces of the JSON face: body and query extractors whose rejections are problem
//! details, path ids, and pagination.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// A JSON body. Malformed JSON, wrong types, unknown fields, a missing content type or an
/// oversize body become a problem with the framework's status (400/413/415/422) and its message.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> AppResult<Self> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(AppError::Rejected(
                rejection.status(),
                rejection.body_text(),
            )),
        }
    }
}

/// Query-string parameters, rejected as a 400 problem that says what was wrong.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> AppResult<Self> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(AppError::Rejected(
                rejection.status(),
                rejection.body_text(),
            )),
        }
    }
}

/// A text body (a CSV file). Bytes that are not UTF-8 are refused as a field error on `file`
/// that says how to save the file, not as the framework's plain-text 400.
pub struct ApiText(pub String);

impl<S> FromRequest<S> for ApiText
where
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> AppResult<Self> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| AppError::Rejected(rejection.status(), rejection.body_text()))?;
        String::from_utf8(bytes.to_vec()).map(ApiText).map_err(|_| {
            AppError::field(
                "file",
                "is not UTF-8 text: in the spreadsheet, save it as “CSV UTF-8”",
            )
        })
    }
}

/// A string schema that names the words a field takes. Such fields stay strings in the input
/// types so that another word answers 422 with the field named, like every other refused value;
/// the schema still tells clients (and the property-based run) which words are meant.
pub fn words_schema(words: &[&str]) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(words.iter().copied()))
        .build()
}

/// `words_schema` for a field that may also be null (no answer yet, say).
pub fn words_or_null_schema(words: &[&str]) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    let mut values: Vec<serde_json::Value> = words.iter().map(|w| (*w).into()).collect();
    values.push(serde_json::Value::Null);
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values))
        .build()
}

/// An id from the path. Anything that is not a UUID answers 404, like a missing row.
pub fn parse_id(raw: &str) -> AppResult<Uuid> {
    Uuid::try_parse(raw).map_err(|_| AppError::NotFound)
}

pub const DEFAULT_PER_PAGE: u32 = 25;
pub const MAX_PER_PAGE: u32 = 200;

#[derive(Debug, Clone, Copy, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// 1-based page number.
    pub page: Option<u32>,
    /// Rows per page, at most 200.
    pub per_page: Option<u32>,
}

impl PageQuery {
    pub fn resolve(page: Option<u32>, per_page: Option<u32>) -> AppResult<(u32, u32)> {
        let page = page.unwrap_or(1);
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if page == 0 {
            return Err(AppError::field("page", "must be 1 or more"));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(AppError::field(
                "per_page",
                format!("must be between 1 and {MAX_PER_PAGE}"),
            ));
        }
        Ok((page, per_page))
    }
}

/// Something referred to by id, with the name a person reads (a member, a folder, an event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Named {
    pub id: uuid::Uuid,
    pub name: String,
}

impl Named {
    /// From a LEFT JOIN: the record when both its id and its name are there.
    pub fn of(id: Option<uuid::Uuid>, name: Option<String>) -> Option<Named> {
        id.zip(name).map(|(id, name)| Named { id, name })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

/// For PATCH bodies: distinguishes an absent field (`None`) from an explicit `null`
/// (`Some(None)`, which clears the value).
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
pub fn like_pattern(term: &str) -> String {
    let mut out = String::with_capacity(term.len() + 2);
    out.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
