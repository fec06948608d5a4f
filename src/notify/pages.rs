//! The inbox, notification preferences, and the email settings and outbox pages.

use axum::Router;

use crate::app::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
}
