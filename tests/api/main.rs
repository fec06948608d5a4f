//! Integration tests: the real server over real HTTP against a real MariaDB. One test binary
//! (faster to build); each test makes its own organizations on the run's shared database, and
//! host-wide tests get a database of their own (see `harness`).

mod documents;
mod elections;
mod events;
mod harness;
mod inventory;
mod invitations;
mod minutes;

mod audit;
mod auth;
mod backup;
mod backup_api;
mod backup_encryption;
mod backup_schedule;
mod bad_input;
mod connections;
mod dashboard;
mod email;
mod export;
mod features;
mod isolation;
mod jobs;
mod members;
mod notify;
mod pages;
mod pages_account;
mod pages_admin;
mod pages_announce;
mod pages_department;
mod pages_elections;
mod pages_members;
mod pages_notify;
mod pages_programs;
mod pages_scheduling;
mod pages_training;
mod permissions;
mod programs;
mod proxy;
mod races;
mod reset;
mod restore_ui;
mod roles;
mod scheduling;
mod server;
mod service;
mod setup;
mod smtp_sink;
mod stations;
mod status;
mod tls;
mod training;
mod training_admin;
mod two_factor;
