use crate::app::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}
