//! Tests: audit
