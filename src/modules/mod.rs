//! The modules, each a vertical slice (`DESIGN.md`, "Layout"): `mod.rs` with its `MODULE`
//! (router, jobs, navigation, dashboard panels, API paths, export, seed data, listeners),
//! `rules.rs` (pure), `service.rs` (or `service/`), `api.rs`, `pages/`, `jobs.rs`. Adding one is
//! its folder, its templates, a migration, its tests and one line below.

/// Declares each module and lists it in `ALL`, so that a module is named once.
macro_rules! modules {
    ($($module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// Every module, in the order their routes are merged.
        pub static ALL: &[crate::module::Module] = &[$($module::MODULE),+];
    };
}

modules! {
    dashboard,
    announcements,
    training,
    membership,
    programs,
    inventory,
    events,
    scheduling,
    elections,
    documents,
    minutes,
}
