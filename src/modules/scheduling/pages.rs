//! `/scheduling` pages.

use axum::Router;

use crate::auth::Ctx;
use crate::db::Conn;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}

pub async fn dashboard_panels(
    _ctx: &Ctx,
    _conn: &mut Conn,
) -> crate::error::AppResult<Vec<crate::module::Panel>> {
    Ok(Vec::new())
}
