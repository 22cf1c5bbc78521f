//! Helpers shared by the root crate's integration tests.

// The same real redis-server helper the gateway's cluster tests use.
#[path = "../../gateway/tests/common/redis.rs"]
pub mod redis;
