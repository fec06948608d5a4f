//! The OpenAPI document served at `/api/v1/openapi.json`, generated from the handlers'
//! annotations and the request/response types, so it describes what the server really accepts.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "Logbook API", description = "Members, roles, sessions and the audit log of a volunteer fire department."),
    paths(
        crate::system::health,
        crate::auth::api::login,
        crate::auth::api::refresh,
        crate::auth::api::logout,
        crate::auth::api::me,
        crate::auth::api::change_password,
        crate::modules::members::api::list,
        crate::modules::members::api::create,
        crate::modules::members::api::read,
        crate::modules::members::api::update,
        crate::modules::members::api::change_status,
        crate::modules::members::api::reset_password,
        crate::modules::members::api::import,
        crate::modules::members::api::export,
        crate::modules::roles::api::permissions,
        crate::modules::roles::api::list,
        crate::modules::roles::api::create,
        crate::modules::roles::api::read,
        crate::modules::roles::api::update,
        crate::modules::roles::api::remove,
        crate::modules::roles::api::clone,
        crate::modules::roles::api::member_roles,
        crate::modules::roles::api::assign,
        crate::modules::roles::api::unassign,
        crate::modules::organization::api::read,
        crate::modules::organization::api::update,
        crate::audit::api::list_logs,
        crate::audit::api::verify,
        crate::audit::api::list_alerts,
        crate::audit::api::acknowledge,
        crate::audit::api::resolve,
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

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
