//! Tests: members
