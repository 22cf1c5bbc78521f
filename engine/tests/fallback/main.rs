//! Behaviour tests of retries, fallback, cooldowns, the circuit breaker, rate-limit accounting
//! and metrics, each on a small TOML config with exact expected steps.
//!
//! Where a test depends on which deployment weighted round robin picks, the weights are chosen
//! so that no tie occurs, or the smooth-WRR arithmetic is spelled out next to the assertion.

mod support;

mod breaker;
mod context_length;
mod cooldowns;
mod headroom;
mod metrics;
mod not_retried;
mod regressions;
mod retries;
