//! Tests: roles
