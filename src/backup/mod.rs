//! Backups: one archive file with every table (one consistent snapshot) and the data directory's
//! files, checked against its manifest when written and whenever it is read. See `archive` for
//! the format, `service` for making and checking them, and `manage` for the web UI's and API's
//! side (`api`, `pages`): `upload` receives an archive over HTTP, `restoring` restores one in
//! the background (from the backups page or the setup wizard).

pub mod api;
pub mod archive;
pub mod encryption;
pub mod export;
pub mod key;
pub mod manage;
pub mod pages;
pub mod restore;
pub mod restoring;
pub mod retention;
pub mod schedule;
pub mod service;
pub mod upload;

pub fn router() -> axum::Router<crate::state::AppState> {
    api::router()
        .merge(pages::router())
        .merge(encryption::router())
        .merge(export::router())
}
