//! The OpenAPI document served at `/api/v1/openapi.json`, generated from the handlers'
//! annotations and the request/response types, so it describes what the server really accepts.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Logbook API", description = "Members, roles, sessions, the audit log, notifications, email and scheduled jobs of a volunteer fire department."),
    paths(
        crate::system::health,
        crate::system::api::read,
        crate::setup::api::status,
        crate::setup::api::read,
        crate::setup::api::read_check,
        crate::setup::api::confirm_check,
        crate::setup::api::organization,
        crate::setup::api::administrator,
        crate::setup::api::stations,
        crate::setup::api::email,
        crate::setup::api::email_test,
        crate::setup::api::read_https,
        crate::setup::api::https,
        crate::setup::api::modules,
        crate::setup::api::finish,
        crate::setup::api::restore_upload,
        crate::setup::api::restore,
        crate::setup::api::restore_progress,
        crate::system::api::tls_settings,
        crate::system::api::upload_certificate,
        crate::system::api::remove_uploaded_certificate,
        crate::backup::api::list,
        crate::backup::api::start,
        crate::backup::api::progress,
        crate::backup::api::verify,
        crate::backup::api::download,
        crate::backup::api::delete,
        crate::backup::encryption::api_status,
        crate::backup::encryption::api_enable,
        crate::backup::encryption::api_disable,
        crate::backup::encryption::api_kit_stored,
        crate::backup::encryption::api_kit_new,
        crate::backup::export::api_export,
        crate::backup::api::upload,
        crate::backup::api::restore,
        crate::backup::api::restore_progress,
        crate::auth::api::login,
        crate::auth::api::refresh,
        crate::auth::api::logout,
        crate::auth::api::me,
        crate::auth::api::change_password,
        crate::auth::api::password_reset,
        crate::auth::api::password_reset_confirm,
        crate::auth::api::login_two_factor,
        crate::auth::api::two_factor_status,
        crate::auth::api::two_factor_setup,
        crate::auth::api::two_factor_confirm,
        crate::auth::api::two_factor_disable,
        crate::auth::api::two_factor_recovery_codes,
        crate::auth::api::two_factor_policy,
        crate::auth::api::set_two_factor_policy,
        crate::auth::api::reset_member_two_factor,
        crate::members::api::list,
        crate::members::api::create,
        crate::members::api::read,
        crate::members::api::update,
        crate::members::api::change_status,
        crate::members::api::reset_password,
        crate::members::api::read_invitation,
        crate::members::api::invite,
        crate::members::api::revoke_invitation,
        crate::members::api::print_codes,
        crate::members::api::import,
        crate::members::api::export,
        crate::roles::api::permissions,
        crate::roles::api::list,
        crate::roles::api::create,
        crate::roles::api::read,
        crate::roles::api::update,
        crate::roles::api::remove,
        crate::roles::api::clone,
        crate::roles::api::member_roles,
        crate::roles::api::assign,
        crate::roles::api::unassign,
        crate::organization::api::read,
        crate::organization::api::update,
        crate::organization::api::list_stations,
        crate::organization::api::create_station,
        crate::organization::api::read_station,
        crate::organization::api::update_station,
        crate::organization::api::retire_station,
        crate::organization::api::reactivate_station,
        crate::organization::api::list_apparatus,
        crate::organization::api::create_apparatus,
        crate::organization::api::read_apparatus,
        crate::organization::api::update_apparatus,
        crate::organization::api::retire_apparatus,
        crate::organization::api::reactivate_apparatus,
        crate::audit::api::list_logs,
        crate::audit::api::verify,
        crate::audit::api::list_alerts,
        crate::audit::api::acknowledge,
        crate::audit::api::resolve,
        crate::notify::api::inbox,
        crate::notify::api::unread_count,
        crate::notify::api::read_all,
        crate::notify::api::read,
        crate::notify::api::preferences,
        crate::notify::api::set_preferences,
        crate::notify::api::defaults,
        crate::notify::api::set_defaults,
        crate::notify::api::email_settings,
        crate::notify::api::save_email_settings,
        crate::notify::api::send_test,
        crate::notify::api::outbox,
        crate::notify::api::retry,
        crate::jobs::api::list,
        crate::jobs::api::runs,
        crate::jobs::api::run_now,
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The platform's part of the document (without the modules').
pub fn platform() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document as served: the platform's operations and the modules' (`modules`), with the
/// rules every operation shares applied once here rather than repeated in 150 annotations (see
/// `complete`).
pub fn document(modules: impl IntoIterator<Item = utoipa::openapi::OpenApi>) -> serde_json::Value {
    let mut api = ApiDoc::openapi();
    for part in modules {
        api.merge(part);
    }
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    complete(&mut doc);
    doc
}

/// Operations anyone may call: no token (the setup wizard's take its own header instead).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/health"
            | "/api/v1/auth/login"
            | "/api/v1/auth/login/two-factor"
            | "/api/v1/auth/refresh"
            | "/api/v1/auth/password-reset"
            | "/api/v1/auth/password-reset/confirm"
    ) || path == "/api/v1/setup"
        || path.starts_with("/api/v1/setup/")
}

/// A stable, unique operation id from the method and the path: `get_members_by_id`.
fn operation_id(method: &str, path: &str) -> String {
    let rest = path.trim_start_matches("/api/v1").trim_start_matches('/');
    let mut id = method.to_string();
    for segment in rest.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                id.push_str("by_");
                id.push_str(name);
            }
            None => id.extend(
                segment
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
            ),
        }
    }
    id
}

fn problem(description: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// What every operation shares, made true of the document:
/// - unique operation ids, derived from method and path;
/// - query parameters declared as query parameters (an `IntoParams` struct without
///   `parameter_in` comes out as path parameters), optional ones not required, and the paging
///   limits (`page` ≥ 1, `per_page` 1–200) as schema;
/// - public operations without a token; the rest with a Bearer token or the session cookie;
/// - errors as `application/problem+json` (what `AppError` sends), and the statuses every route
///   of a kind can answer: 503 with `Retry-After` (the database is down) everywhere; 401 and 403
///   (signed out; no permission, or a password or two-factor enrolment still due) when signed
///   in; 400, 413, 415 and 422 with a body; 400 with query parameters; 404 with a path id; 409 for
///   changes (a state already changed, a name already taken).
fn complete(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let template: Vec<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_string)
            .collect();
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            op.insert("operationId".into(), json!(operation_id(method, path)));
            let mut has_query = false;
            if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
                for p in params.iter_mut() {
                    let name = p["name"].as_str().unwrap_or_default().to_string();
                    if p["in"] == "path" && !template.contains(&name) {
                        p["in"] = json!("query");
                    }
                    if p["in"] != "query" {
                        continue;
                    }
                    has_query = true;
                    // Option<T>: not required, and a query string has no null.
                    if let Some(types) = p["schema"]["type"].as_array().cloned() {
                        let kept: Vec<Value> = types.into_iter().filter(|t| t != "null").collect();
                        p["required"] = json!(false);
                        p["schema"]["type"] = if kept.len() == 1 {
                            kept[0].clone()
                        } else {
                            json!(kept)
                        };
                    }
                    match name.as_str() {
                        "page" => p["schema"]["minimum"] = json!(1),
                        "per_page" => {
                            p["schema"]["minimum"] = json!(1);
                            p["schema"]["maximum"] = json!(crate::http::MAX_PER_PAGE);
                        }
                        _ => {}
                    }
                }
            }
            let public = is_public(path);
            if public {
                op.insert("security".into(), json!([]));
            }
            let has_body = op.contains_key("requestBody");
            let changes = method != "get" && method != "head";
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            let Some(responses) = responses else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                let Some(content) = response.get_mut("content").and_then(Value::as_object_mut)
                else {
                    continue;
                };
                if let Some(json_body) = content.get("application/json")
                    && json_body["schema"]["$ref"] == "#/components/schemas/Problem"
                {
                    let moved = content.remove("application/json").unwrap_or_default();
                    content.insert("application/problem+json".into(), moved);
                }
                // A 4xx with a body of its own (an import's report of row errors) can also be a
                // problem (a file with no header line).
                if status.starts_with('4') {
                    content.entry("application/problem+json").or_insert_with(
                        || json!({"schema": {"$ref": "#/components/schemas/Problem"}}),
                    );
                }
            }
            let mut add = |status: &str, description: &str| {
                let entry = responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem(description));
                if entry["description"] == "" {
                    entry["description"] = json!(description);
                }
            };
            if !public {
                add("401", "Not signed in, or the session ended");
                add(
                    "403",
                    "No permission, or a password change or two-factor enrolment is due first",
                );
            }
            if has_body {
                add("400", "The body is not valid JSON");
                add("413", "The body is too large");
                add("415", "The body is not JSON");
                add("422", "Some fields are not valid; see `errors`");
            }
            if has_query {
                add("400", "A query parameter is not valid");
                add("422", "A query parameter is out of range; see `errors`");
            }
            if !template.is_empty() {
                add("404", "No such resource (in this department)");
            }
            if changes && !public {
                add(
                    "409",
                    "The change conflicts with the current state (changed meanwhile, or already taken)",
                );
            }
            let unavailable = responses
                .entry("503".to_string())
                .or_insert_with(|| problem("The database is not reachable; try again shortly"));
            unavailable["headers"] = json!({"Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "integer"}
            }});
            if unavailable["description"] == "" {
                unavailable["description"] = json!("The database is not reachable");
            }
        }
    }
    // The session cookie works wherever the Bearer token does.
    if let Some(schemes) = doc
        .pointer_mut("/components/securitySchemes")
        .and_then(Value::as_object_mut)
    {
        schemes.insert(
            "cookie".into(),
            json!({"type": "apiKey", "in": "cookie", "name": crate::auth::ctx::ACCESS_COOKIE,
                   "description": "The browser's session (state changes also need the Origin of this site)"}),
        );
    }
    doc["security"] = json!([{"bearer": []}, {"cookie": []}]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_id_is_unique_and_query_parameters_are_query() {
        let doc = document([]);
        let mut ids = std::collections::BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap().to_string();
                assert!(ids.insert(id.clone()), "{id} twice");
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] == "path" {
                        let name = p["name"].as_str().unwrap();
                        assert!(
                            path.contains(&format!("{{{name}}}")),
                            "{method} {path}: {name}"
                        );
                    }
                }
            }
        }
        assert_eq!(
            operation_id("get", "/api/v1/members/{id}"),
            "get_members_by_id"
        );
        assert_eq!(operation_id("get", "/health"), "get_health");
        assert_eq!(
            doc["paths"]["/health"]["get"]["security"],
            serde_json::json!([])
        );
    }
}
