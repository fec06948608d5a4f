//! The dashboard: who the member is in their organization, and "what is due for me" panels that
//! modules contribute (each module adds its own; none is shown for a module that has none).

pub mod pages;

pub use pages::router;
