//! Backups: one archive file with every table (one consistent snapshot) and the data directory's
//! files, checked against its manifest when written and whenever it is read. See `archive` for
//! the format and `service` for making and checking them.

pub mod archive;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod service;
