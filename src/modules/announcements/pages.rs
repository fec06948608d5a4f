//! `/announcements`: the list, the post form, dismiss and withdraw.

use axum::Router;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
