//! `switchyard mock-provider`: a real HTTP server that behaves like one modelled deployment of a
//! scenario's world — for tests, demos and the sim-vs-gateway fidelity check.
//!
//! It speaks OpenAI's API — `POST …/chat/completions`, `…/completions` (and `…/embeddings`) —
//! or, with [`MockOptions::api`] = [`Api::Anthropic`] (`--api anthropic`, or `api =
//! "anthropic"` on the scenario's world deployment), Anthropic's `POST /v1/messages`. It
//! answers non-streamed or as SSE (`"stream": true`) paced at the modelled token rate, with:
//! - latency = time to first token + output tokens × per-token time, drawn from the world's
//!   distributions (× the degradation factor during a `degradation` incident);
//! - output tokens drawn from the scenario workload's `output_tokens`, capped by the request's
//!   `max_tokens` (`max_completion_tokens`), else by the workload's `max_tokens`;
//! - the deployment's true rate limits ([`sim::limiter::Limiter`]): input + max_tokens charged on
//!   arrival, 429 with `retry-after` and `retry-after-ms`, and `x-ratelimit-*` headers on every
//!   answer as the provider's `rate_limit_headers` fidelity allows (Anthropic:
//!   `rate_limit_error`, `retry-after` alone, `anthropic-ratelimit-*` headers with RFC 3339
//!   resets);
//! - 400 `context_length_exceeded` (Anthropic: `invalid_request_error`, "prompt is too long")
//!   when input + max_tokens exceed the deployment's `context_window`, before any quota is
//!   charged;
//! - 5xx at the world's error rate (plus `error_spike` incidents), hangs at its `timeout_rate`;
//! - outages by elapsed time: `connection` drops connections unanswered, `503` answers 503
//!   (Anthropic: 529 `overloaded_error`), `hang` never answers;
//! - the provider's `concurrency` as a FIFO semaphore (this mock serves one deployment, so the
//!   slots are its own, not shared with sibling deployments as in the simulator).
//!
//! Decisions follow the simulator's order (outage, context window, limits, one uniform draw for
//! 5xx / hang, then service times) and its random streams: under the same seed the k-th request
//! reaching the mock draws what the simulator's k-th attempt at that deployment draws.
//!
//! `time_scale` speeds everything up: latencies are multiplied by it, and the modelled clock
//! (limiter windows, incidents) runs at real elapsed ÷ `time_scale`. Headers speak real time:
//! resets and `retry-after` × `time_scale`, `x-ratelimit-limit-*` per real minute
//! (÷ `time_scale`).
//!
//! [`MockProvider`] + [`MockProvider::serve`] (or [`serve_mock`]) run it in-process; [`run`] is
//! what the command line calls. See `docs/mock-provider.md`.

mod answer;
mod anthropic;
mod errors;
pub mod headers;
mod model;
mod precise;
mod server;

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

pub use engine::config::Api;
use sim::Scenario;
use tokio::net::TcpListener;

pub use answer::MockBody;

/// How long in-flight answers may finish after shutdown before connections are dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Why a mock provider cannot start.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// The deployment id is not in the scenario.
    #[error("deployment {id:?} is not in the scenario; its deployments are: {known}")]
    UnknownDeployment {
        /// The id asked for.
        id: String,
        /// The scenario's deployment ids, comma-separated.
        known: String,
    },
    /// A deployment index beyond the scenario's deployments.
    #[error("deployment index {index} is out of range: the scenario has {count} deployment(s)")]
    DeploymentIndex {
        /// The index asked for.
        index: usize,
        /// How many deployments there are.
        count: usize,
    },
    /// The time scale is not a positive finite number.
    #[error("time scale {0} is not a number > 0 (1 = real time, 0.01 = 100× faster)")]
    TimeScale(f64),
    /// The listen address could not be resolved or bound.
    #[error("cannot listen on {addr}: {cause}")]
    Bind {
        /// The address as given.
        addr: String,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// Any other I/O failure (runtime start, accept).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// What to serve.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// The scenario whose world (providers, deployments, incidents) and workload sizes to model.
    pub scenario: Arc<Scenario>,
    /// Index of the deployment (in the scenario's gateway config order).
    pub deployment: usize,
    /// Real seconds per modelled second: 1 = real time, 0.01 = 100× faster.
    pub time_scale: f64,
    /// Seed of the random streams (the scenario's seed gives the simulator's draws).
    pub seed: u64,
    /// The API it speaks: OpenAI's (`/chat/completions`, …) or Anthropic's (`/v1/messages`).
    pub api: Api,
}

impl MockOptions {
    /// Options for the deployment with this id, in real time, with the scenario's seed, in the
    /// API its world deployment names (`api = "anthropic"`), else the one its gateway
    /// `[[deployment]]` speaks.
    pub fn for_deployment(scenario: Arc<Scenario>, id: &str) -> Result<MockOptions, MockError> {
        let deployment = scenario
            .config
            .deployment_by_id(id)
            .ok_or_else(|| MockError::UnknownDeployment {
                id: id.to_owned(),
                known: scenario
                    .config
                    .deployments
                    .iter()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?
            .index();
        let seed = scenario.settings.seed;
        let api = scenario
            .world
            .deployments
            .get(deployment)
            .and_then(|d| d.api)
            .unwrap_or(scenario.config.deployments[deployment].endpoint.api);
        Ok(MockOptions {
            scenario,
            deployment,
            time_scale: 1.0,
            seed,
            api,
        })
    }
}

/// What a mock provider has seen and answered (counters only grow).
#[derive(Debug, Default)]
pub struct MockStats {
    /// Completion/embedding requests received (health and model listings excluded).
    pub requests: AtomicU64,
    /// Answered 200 (streams count when their last event went out).
    pub ok: AtomicU64,
    /// Answered 429.
    pub rate_limited: AtomicU64,
    /// Answered 500 (the error-rate draw).
    pub server_errors: AtomicU64,
    /// Answered 400 `context_length_exceeded` (longer than the modelled context window; "prompt
    /// is too long" in Anthropic's API).
    pub context_length: AtomicU64,
    /// Answered 503 (a `503` outage; 529 `overloaded_error` in Anthropic's API).
    pub unavailable: AtomicU64,
    /// Connections dropped unanswered (a `connection` outage).
    pub refused: AtomicU64,
    /// Requests left unanswered (a `hang` outage or the timeout-rate draw).
    pub hung: AtomicU64,
    /// Requests that waited for a concurrency slot.
    pub queued: AtomicU64,
    /// Answered 400/404/413 (malformed or unknown requests).
    pub bad_requests: AtomicU64,
    /// Requests whose client went away before the answer (or the stream) ended.
    pub cancelled: AtomicU64,
}

/// One modelled deployment, ready to serve; cheap to clone.
#[derive(Clone)]
pub struct MockProvider {
    shared: Arc<server::Shared>,
}

impl MockProvider {
    /// Checks the options and starts the modelled clock (incidents count from now).
    pub fn new(opts: MockOptions) -> Result<MockProvider, MockError> {
        let count = opts.scenario.config.deployments.len();
        if opts.deployment >= count || opts.deployment >= opts.scenario.world.deployments.len() {
            return Err(MockError::DeploymentIndex {
                index: opts.deployment,
                count,
            });
        }
        if !(opts.time_scale.is_finite() && opts.time_scale > 0.0) {
            return Err(MockError::TimeScale(opts.time_scale));
        }
        let model = model::Model::new(opts.scenario, opts.deployment, opts.seed, opts.time_scale);
        Ok(MockProvider {
            shared: Arc::new(server::Shared::new(model, opts.api)),
        })
    }

    /// The deployment id being modelled.
    pub fn deployment_id(&self) -> &str {
        self.shared.model.id()
    }

    /// The API it speaks.
    pub fn api(&self) -> Api {
        self.shared.api
    }

    /// Counters of what it has seen.
    pub fn stats(&self) -> &MockStats {
        &self.shared.stats
    }

    /// Modelled time since [`MockProvider::new`] (real elapsed ÷ time scale).
    pub fn modelled_now(&self) -> Duration {
        self.shared.model.now()
    }

    /// Serves HTTP/1.1 on `listener` until `shutdown` resolves; then stops accepting, lets
    /// answers in progress finish for up to [`SHUTDOWN_GRACE`] and drops what is left
    /// (hanging requests included).
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), MockError> {
        server::serve(self.shared.clone(), listener, shutdown).await
    }
}

/// Serves one modelled deployment on `listener` until `shutdown` resolves (see
/// [`MockProvider::serve`]).
pub async fn serve_mock(
    listener: TcpListener,
    opts: MockOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), MockError> {
    MockProvider::new(opts)?.serve(listener, shutdown).await
}

/// What `switchyard mock-provider` calls: listens on `listen` and serves until SIGTERM/Ctrl-C,
/// logging through `tracing` (`RUST_LOG=debug` logs every decision).
pub fn run(opts: MockOptions, listen: &str) -> Result<(), MockError> {
    gateway::init_logging();
    let provider = MockProvider::new(opts.clone())?;
    let bind_error = |cause| MockError::Bind {
        addr: listen.to_owned(),
        cause,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("mock-provider")
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(listen).await.map_err(bind_error)?;
        let addr = listener.local_addr()?;
        let d = &opts.scenario.world.deployments[opts.deployment];
        let provider_name = &opts.scenario.world.providers[d.provider].name;
        tracing::info!(
            %addr,
            scenario = %opts.scenario.name,
            deployment = %d.id,
            provider = %provider_name,
            time_scale = opts.time_scale,
            seed = opts.seed,
            api = opts.api.name(),
            "mock provider listening (base URL http://{addr}{})",
            match opts.api {
                Api::OpenAi => "/v1",
                Api::Anthropic => "",
            }
        );
        provider.serve(listener, gateway::shutdown_signal()).await
    })?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(())
}

#[cfg(test)]
mod anthropic_tests;
#[cfg(test)]
mod outage_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
