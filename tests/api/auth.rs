//! Tests: auth
