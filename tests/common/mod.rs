//! Helpers shared by the root crate's integration tests.

pub mod redis;
