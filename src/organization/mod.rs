//! Organizations: each department on the host, its profile (type, time zone, FDID, address) and
//! settings (which modules are on). Provisioning creates an organization with its system roles,
//! audit chain and first administrator in one transaction.

pub mod api;
pub mod pages;
pub mod service;
pub mod station_pages;
pub mod stations;

pub use api::router;
