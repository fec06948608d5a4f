//! Training pages: a member's own standing, records and submissions (`/training`), submitting
//! outside training; for officers (`training.manage`) recording a crew's training, the records
//! with voiding (asking first), the department matrix, a member's standing, the review queue,
//! the printable ISO report, courses and requirements, training waivers granted by hand and
//! importing past records from a CSV; and the dashboard's training panels. Plain forms,
//! post-redirect-get, errors beside the fields; the rules live in `service`, `submissions`,
//! `iso`, `waivers` and `import`. This file merges the parts' routes and holds what they share.

pub mod import;
pub mod iso;
pub mod matrix;
pub mod panels;
pub mod record;
pub mod papers;
pub mod records;
pub mod review;
pub mod setup;
pub mod standing;
pub mod submit;
pub mod waivers;

pub use panels::dashboard_panels;

use axum::Router;

use super::compliance::Colour;
use super::rules::TRAINING_TYPES;
use crate::auth::Ctx;
use crate::state::AppState;
use crate::web::Chrome;

pub fn router() -> Router<AppState> {
    standing::router()
        .merge(submit::router())
        .merge(record::router())
        .merge(records::router())
        .merge(papers::router())
        .merge(matrix::router())
        .merge(review::router())
        .merge(iso::router())
        .merge(setup::router())
        .merge(waivers::router())
        .merge(import::router())
}

/// The header entry the training pages belong to.
pub const SECTION: &str = "/training";

pub fn chrome(ctx: &Ctx) -> Chrome {
    Chrome::for_viewer(ctx, SECTION)
}

pub fn label(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn colour(c: Colour) -> (&'static str, &'static str) {
    match c {
        Colour::Green => ("green", "Green: up to date"),
        Colour::Yellow => ("yellow", "Yellow: due soon"),
        Colour::Red => ("red", "Red: behind"),
    }
}

fn types() -> Vec<(&'static str, String)> {
    TRAINING_TYPES.iter().map(|t| (*t, label(t))).collect()
}
