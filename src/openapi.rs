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
        crate::modules::training::api::categories,
        crate::modules::training::api::courses,
        crate::modules::training::api::create_course,
        crate::modules::training::api::update_course,
        crate::modules::training::api::records,
        crate::modules::training::api::create_records,
        crate::modules::training::api::record,
        crate::modules::training::api::void_record,
        crate::modules::training::api::requirements,
        crate::modules::training::api::create_requirement,
        crate::modules::training::api::update_requirement,
        crate::modules::training::api::compliance,
        crate::modules::training::api::matrix,
        crate::modules::training::api::iso_report,
        crate::modules::training::waivers::api_waivers,
        crate::modules::training::waivers::api_create_waiver,
        crate::modules::training::waivers::api_deactivate_waiver,
        crate::modules::training::waivers::api_leaves,
        crate::modules::training::waivers::api_create_leave,
        crate::modules::training::waivers::api_leave,
        crate::modules::training::waivers::api_update_leave,
        crate::modules::training::waivers::api_remove_leave,
        crate::modules::training::submissions::api_list,
        crate::modules::training::submissions::api_submit,
        crate::modules::training::submissions::api_pending_count,
        crate::modules::training::submissions::api_get,
        crate::modules::training::submissions::api_edit,
        crate::modules::training::submissions::api_review,
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
        crate::modules::announcements::api::list,
        crate::modules::announcements::api::current,
        crate::modules::announcements::api::read,
        crate::modules::announcements::api::post_one,
        crate::modules::announcements::api::dismiss,
        crate::modules::announcements::api::withdraw,
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
