//! The tamper-evident audit log: a hash chain per organization with a gapless sequence, written
//! in the same transaction as the change it records; its verification; and security alerts.

pub mod alerts;
pub mod api;
pub mod chain;
pub mod log;
pub mod pages;
pub mod words;

pub use chain::{Actor, Entry, Severity, record};

use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    api::router()
}
