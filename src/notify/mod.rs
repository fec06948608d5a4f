//! Telling members things: in-app notifications, email (SMTP settings, templates, the outbox
//! with retries), preferences per member and category.

pub mod api;
pub mod categories;
pub mod mail;
pub mod pages;
pub mod service;

pub use mail::Mailer;
pub use service::{Notice, Notifier, Sent, holders_of, notify};

pub fn router() -> axum::Router<crate::state::AppState> {
    api::router().merge(pages::router())
}
