//! The dashboard: who the member is in their organization, and "what is due for me" panels that
//! modules contribute (each module adds its own; none is shown for a module that has none).

pub mod pages;

use crate::module::{Module, NavEntry};

pub const MODULE: Module = Module {
    nav: &[NavEntry {
        label: "Dashboard",
        href: "/",
        needs: &[],
        order: 0,
    }],
    ..crate::module::empty("dashboard", pages::router)
};
