//! Integration tests: the real server over real HTTP against a real MariaDB. One test binary
//! (faster to build); each test gets its own database.

mod harness;

mod audit;
mod auth;
mod bad_input;
mod isolation;
mod members;
mod pages;
mod pages_account;
mod pages_admin;
mod pages_members;
mod permissions;
mod roles;
mod server;
