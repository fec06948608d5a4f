//! Members: the department's roster. Profiles, contact details (visible with
//! `users.view_contact`), the status lifecycle with a reason on every change, CSV import/export.

pub mod api;
pub mod invitations;
pub mod pages;
pub mod rules;
pub mod service;

pub use api::router;
