//! The world: how providers truly behave, independent of what the gateway config believes.

use std::time::Duration;

use crate::dist::Dist;
use crate::limiter::{Limiter, WindowKind};

/// Which `x-ratelimit-*` headers a provider sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFidelity {
    /// Limit, remaining and reset (OpenAI).
    Full,
    /// Remaining and reset only (Azure OpenAI).
    Remaining,
    /// None at all.
    None,
}

impl HeaderFidelity {
    /// Keeps only the headers this provider would send.
    pub fn filter(self, mut h: engine::LimitHeaders) -> engine::LimitHeaders {
        match self {
            HeaderFidelity::Full => h,
            HeaderFidelity::Remaining => {
                h.limit_requests = None;
                h.limit_tokens = None;
                h
            }
            HeaderFidelity::None => engine::LimitHeaders::default(),
        }
    }
}

/// A provider: deployments share its capacity.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Provider name.
    pub name: String,
    /// Which rate-limit headers it sends.
    pub headers: HeaderFidelity,
    /// Requests it serves at once; more wait in a FIFO queue (`None` = unbounded).
    pub concurrency: Option<u32>,
    /// Its deployments' prompt caches, if it caches prompts (see [`crate::sessions`]).
    pub prompt_cache: Option<crate::sessions::PromptCache>,
}

/// True behaviour of one deployment (indexed like the gateway config's deployments).
#[derive(Debug, Clone)]
pub struct WorldDeployment {
    /// Deployment id (same as the gateway config's).
    pub id: String,
    /// Index into [`World::providers`].
    pub provider: usize,
    /// Time to first token, seconds.
    pub ttft: Dist,
    /// Time per output token, seconds.
    pub per_token: Dist,
    /// Probability an attempt fails with a 5xx.
    pub error_rate: f64,
    /// Probability an attempt hangs without answering.
    pub timeout_rate: f64,
    /// Time to answer a 429 or 503.
    pub rejection_latency: Duration,
    /// True limits: requests/min, tokens/min, requests/day.
    pub limits: [Option<u64>; 3],
    /// How the limits reset.
    pub window: WindowKind,
    /// Longest request it takes, in tokens (input + `max_tokens`); longer ones get a 400
    /// `context_length_exceeded`. `None`: no limit.
    pub context_window: Option<u64>,
    /// The API the deployment speaks over HTTP (`api = "openai"` | `"anthropic"`), if the
    /// scenario says: the shape `switchyard mock-provider` answers in. The simulator ignores it.
    pub api: Option<engine::config::Api>,
}

impl WorldDeployment {
    /// A fresh limiter with this deployment's true limits.
    pub fn limiter(&self) -> Limiter {
        Limiter::new(self.limits[0], self.limits[1], self.limits[2], self.window)
    }

    /// The context window a request of `tokens` (input + max_tokens) does not fit, if any.
    pub fn context_exceeded(&self, tokens: u64) -> Option<u64> {
        self.context_window.filter(|&w| tokens > w)
    }
}

/// How a provider misbehaves during an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutageMode {
    /// Connections are refused.
    Connection,
    /// Every request gets a 503.
    Unavailable,
    /// Connections are accepted and never answered.
    Hang,
}

/// What an incident does while it lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IncidentKind {
    /// Down.
    Outage(OutageMode),
    /// Latency × factor.
    Degradation(f64),
    /// Extra 5xx probability.
    ErrorSpike(f64),
    /// Rate limits × factor.
    LimitCut(f64),
}

/// A timed incident on a provider or one deployment.
#[derive(Debug, Clone)]
pub struct Incident {
    /// What happens.
    pub kind: IncidentKind,
    /// Affected deployments (indices).
    pub deployments: Vec<usize>,
    /// The target as written (provider name or deployment id), for reports.
    pub target: String,
    /// Start, from the beginning of the run.
    pub start: Duration,
    /// End.
    pub end: Duration,
}

/// Conditions of one deployment at one instant, all incidents applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Conditions {
    /// Down, and how.
    pub outage: Option<OutageMode>,
    /// Latency multiplier.
    pub latency_factor: f64,
    /// Extra 5xx probability.
    pub extra_error_rate: f64,
    /// Rate-limit multiplier.
    pub limit_factor: f64,
}

/// Providers, their deployments and the incidents of a scenario.
#[derive(Debug, Clone)]
pub struct World {
    /// Providers.
    pub providers: Vec<Provider>,
    /// Deployments, in the gateway config's order.
    pub deployments: Vec<WorldDeployment>,
    /// Incidents.
    pub incidents: Vec<Incident>,
}

impl World {
    /// The conditions of deployment `d` at `now`.
    pub fn conditions(&self, d: usize, now: Duration) -> Conditions {
        let mut c = Conditions {
            outage: None,
            latency_factor: 1.0,
            extra_error_rate: 0.0,
            limit_factor: 1.0,
        };
        for i in &self.incidents {
            if now < i.start || now >= i.end || !i.deployments.contains(&d) {
                continue;
            }
            match i.kind {
                IncidentKind::Outage(mode) => c.outage = Some(mode),
                IncidentKind::Degradation(k) => c.latency_factor *= k,
                IncidentKind::ErrorSpike(p) => c.extra_error_rate += p,
                IncidentKind::LimitCut(k) => c.limit_factor *= k,
            }
        }
        c
    }
}
