//! Tests: bad_input
