//! `GET /`: the dashboard page.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::routing::get;

use crate::auth::permissions::ANNOUNCEMENTS_MANAGE;
use crate::auth::service as auth;
use crate::db::Conn;
use crate::error::AppResult;
use crate::module::Panel;
use crate::modules::announcements::pages::{self as announcements, AnnouncementView};
use crate::state::AppState;
use crate::web::{self, Chrome, PageResult, Viewer};

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(dashboard))
}

/// Every module's panels for this member, in the modules' order.
async fn panels(ctx: &crate::auth::Ctx, conn: &mut Conn) -> AppResult<Vec<Panel>> {
    let mut all = Vec::new();
    let modules = crate::module::installed().iter().filter(|m| m.on_for(ctx));
    for panels in modules.filter_map(|m| m.panels) {
        all.extend(panels(ctx, conn).await?);
    }
    Ok(all)
}

#[derive(Template)]
#[template(path = "dashboard/index.html")]
struct DashboardPage {
    chrome: Chrome,
    org_name: String,
    member_name: String,
    status: crate::members::rules::MemberStatus,
    roles: Vec<String>,
    /// Current announcements for the member, not dismissed: at the top.
    announcements: Vec<AnnouncementView>,
    can_announce: bool,
    panels: Vec<Panel>,
    /// Just out of the setup wizard: what to do next.
    welcome: bool,
}

#[derive(serde::Deserialize)]
struct DashboardQuery {
    welcome: Option<String>,
}

async fn dashboard(
    State(state): State<AppState>,
    Viewer(ctx): Viewer,
    axum::extract::Query(q): axum::extract::Query<DashboardQuery>,
) -> PageResult {
    let mut conn = state.db.acquire().await?;
    let me = auth::me(&ctx, &mut conn).await?;
    let announcements = announcements::for_dashboard(&ctx, &mut conn).await?;
    let mut panels = panels(&ctx, &mut conn).await?;
    drop(conn);
    // For whoever runs the server: what needs fixing in Settings, first.
    if ctx.has(crate::auth::permissions::SETTINGS_MANAGE) {
        let attention = crate::system::status::attention(&state, &ctx).await?;
        if !attention.is_empty() {
            panels.insert(
                0,
                Panel {
                    title: "Needs attention".into(),
                    items: attention
                        .into_iter()
                        .map(|(w, page)| crate::module::PanelItem {
                            text: web::sentence(&w.message),
                            link: page.into(),
                        })
                        .collect(),
                },
            );
        }
    }
    Ok(web::render(&DashboardPage {
        chrome: Chrome::for_viewer(&ctx, "/"),
        org_name: me.organization.name,
        member_name: format!("{} {}", me.first_name, me.last_name),
        status: me.status,
        roles: me.roles.into_iter().map(|r| r.name).collect(),
        announcements,
        can_announce: ctx.has(ANNOUNCEMENTS_MANAGE),
        panels,
        welcome: q.welcome.is_some(),
    }))
}
