//! Roles and permissions: the system roles every organization gets, custom roles, and who holds
//! which. Two guards: nobody grants a permission they do not hold, and the organization always
//! keeps an active member who can manage members.

pub mod api;
pub mod pages;
pub mod service;

pub use api::router;
