//! Tests: permissions
