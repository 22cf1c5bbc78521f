//! Fidelity: one scenario run (a) in the simulator and (b) through the real gateway in front of
//! mock providers for that scenario (`mock::provider`, in-process on 127.0.0.1,
//! time-scaled 10× faster) gives per-deployment traffic shares within 3 percentage points and
//! success rates within 1 point; and the gateway's own trace (`--trace-out`), fitted with its
//! config, gives each deployment's time to first token back within 0.7–1.4× at the median.
//!
//! The scenario: one tier of three deployments weighted 3:2:1 under `weighted-round-robin`, the
//! smallest returning 5xx on 10 % of attempts, two attempts per request, true rate limits far
//! above the traffic (they never bind, but their headers flow). A client sends 600 requests (a
//! quarter of them streamed) at concurrency 8. The mocks use the simulator's seed, so each
//! deployment's k-th attempt draws what the simulator's k-th attempt at it draws.

#[path = "../common/answers.rs"]
mod answers;
#[path = "../common/load.rs"]
mod load;
#[path = "../common/mocks.rs"]
mod mocks;
mod support;

mod agreement;
mod client;
mod fitted;
