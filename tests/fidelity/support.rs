//! What the fidelity test's parts share: its sizes, seed and time limits, the scenario (with
//! each deployment pointing at its mock), and the per-deployment tally both worlds are
//! compared by.

use std::collections::BTreeMap;
use std::time::Duration;

/// Requests the client sends (and the simulator simulates).
pub(crate) const N: usize = 600;
/// Requests in flight from the client at once.
pub(crate) const CONCURRENCY: usize = 8;
/// Real seconds per modelled second in the mocks.
pub(crate) const TIME_SCALE: f64 = 0.1;
/// Seed of the simulator, the mocks and the gateway's engine.
pub(crate) const SEED: u64 = 7;
/// Every request must be answered within this long.
pub(crate) const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// The whole client phase must end within this long.
pub(crate) const CLIENT_PHASE_LIMIT: Duration = Duration::from_secs(25);

pub(crate) const IDS: [&str; 3] = ["alpha", "beta", "gamma"];

/// The scenario, with each deployment's `base_url` pointing at its mock.
pub(crate) fn scenario_text(urls: &[String]) -> String {
    format!(
        r#"
[simulation]
name = "fidelity"
seed = {SEED}
duration = "1h"
requests = {N}
strategies = ["weighted-round-robin"]
drain = "10m"

[workload]
arrivals = {{ constant = {{ rate = 9.0 }} }}
input_tokens = {{ lognormal = {{ median = 200, p99 = 1000 }} }}
output_tokens = {{ lognormal = {{ median = 60, p99 = 300 }} }}
max_tokens = 256
client_timeout = "60s"

[[tier]]
name = "standard"
strategy = "weighted-round-robin"

[[route]]
model = "gpt-4o-mini"
tier = "standard"

[[deployment]]
id = "alpha"
provider = "alpha"
model = "gpt-4o-mini"
tier = "standard"
weight = 3
base_url = "{a}"

[[deployment]]
id = "beta"
provider = "beta"
model = "gpt-4o-mini"
tier = "standard"
weight = 2
base_url = "{b}"

[[deployment]]
id = "gamma"
provider = "gamma"
model = "gpt-4o-mini"
tier = "standard"
weight = 1
base_url = "{c}"

[retry]
max_attempts = 2

[[world.provider]]
name = "alpha"
ttft = {{ lognormal = {{ median = "300ms", p99 = "1.5s" }} }}
per_token = {{ gamma = {{ shape = 4.0, mean = "8ms" }} }}
rate_limit_headers = "full"

  [[world.provider.deployment]]
  id = "alpha"
  rpm = 100000
  tpm = 100000000

[[world.provider]]
name = "beta"
ttft = {{ lognormal = {{ median = "400ms", p99 = "2s" }} }}
per_token = {{ gamma = {{ shape = 4.0, mean = "10ms" }} }}
rate_limit_headers = "remaining"

  [[world.provider.deployment]]
  id = "beta"
  rpm = 100000
  tpm = 100000000

[[world.provider]]
name = "gamma"
ttft = {{ lognormal = {{ median = "250ms", p99 = "1s" }} }}
per_token = {{ gamma = {{ shape = 4.0, mean = "6ms" }} }}
error_rate = 0.10
rate_limit_headers = "none"

  [[world.provider.deployment]]
  id = "gamma"
"#,
        a = urls[0],
        b = urls[1],
        c = urls[2],
    )
}

/// Attempts and successful attempts per deployment, and request-level totals.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) attempts: BTreeMap<String, u64>,
    pub(crate) successes: BTreeMap<String, u64>,
    pub(crate) requests: u64,
    pub(crate) succeeded: u64,
}

impl Tally {
    pub(crate) fn total_attempts(&self) -> u64 {
        self.attempts.values().sum()
    }

    pub(crate) fn share(&self, id: &str) -> f64 {
        self.attempts[id] as f64 / self.total_attempts().max(1) as f64
    }

    pub(crate) fn success_rate(&self, id: &str) -> f64 {
        self.successes[id] as f64 / self.attempts[id].max(1) as f64
    }

    pub(crate) fn request_success(&self) -> f64 {
        self.succeeded as f64 / self.requests.max(1) as f64
    }
}
