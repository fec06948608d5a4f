//! The modules, each a vertical slice (`DESIGN.md`, "Layout"): `mod.rs` with its `MODULE`
//! (router, jobs, navigation, dashboard panels, API paths, export, seed data, listeners), `rules.rs` (pure),
//! `service.rs`, `api.rs`, `pages/`, `jobs.rs`. Adding one is its folder, its templates, a
//! migration, its tests and one line in `ALL`.

pub mod announcements;
pub mod dashboard;
pub mod membership;
pub mod programs;
pub mod training;

/// Every module, in the order their routes are merged.
pub static ALL: &[crate::module::Module] = &[
    dashboard::MODULE,
    announcements::MODULE,
    training::MODULE,
    membership::MODULE,
    programs::MODULE,
];
