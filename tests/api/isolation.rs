//! Tests: isolation
