//! Tests: pages_account
