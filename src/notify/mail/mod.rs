//! Email: the organization's SMTP settings (password encrypted at rest, never shown back), the
//! message templates, the outbox with retries and backoff, and the test message.
//!
//! Every email goes through `email_outbox`, so nothing is lost when the SMTP server, the
//! internet or this server is down. Sending for an organization holds a MariaDB named lock: one
//! sender at a time across servers, and a row left `sending` by a server that died (its lock
//! went with its connection) is sent again by the next holder.

mod admin;
mod letters;
mod outbox;
mod settings;
mod smtp;

pub use admin::*;
pub use letters::*;
pub use outbox::*;
pub use settings::*;
pub use smtp::*;
