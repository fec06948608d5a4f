//! Tests: pages_members
