//! Tests: pages_admin
