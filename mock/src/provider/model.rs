//! The world side of the mock: what one modelled deployment decides for each request, in the
//! simulator's order and from the simulator's random streams, with time passed in.
//!
//! Every decision mirrors `sim::run`'s `dispatch` and `start_service`: outage first, then the
//! true rate limits (charging input + max(`max_tokens`, output) up front), then one uniform draw
//! that decides 5xx / hang / success, then the service times. The deployment's random stream is
//! `sim::run::stream(seed, "deployment/<id>")`, exactly the simulator's, so the k-th request that
//! reaches this deployment makes the same draws as the simulator's k-th attempt at it under the
//! same seed. Output sizes come from a separate stream (`mock/sizes/<id>`).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use engine::LimitHeaders;
use rand::Rng as _;
use sim::limiter::Limiter;
use sim::world::{HeaderFidelity, OutageMode};
use sim::{Rng, Scenario};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Longest real duration the mock ever waits for one step (a day): keeps absurd samples finite.
const MAX_REAL_WAIT: Duration = Duration::from_secs(86_400);

/// What a request asks for, as far as the world cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ask {
    /// Estimated input tokens (the gateway's estimate: characters ÷ 4).
    pub input_tokens: u32,
    /// The request's `max_completion_tokens` / `max_tokens`, if any.
    pub max_tokens: Option<u32>,
    /// An embeddings request: no output tokens.
    pub embeddings: bool,
}

/// Service times of one admitted request, in real time (scale and degradation applied).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Service {
    /// Until the first token.
    pub ttft: Duration,
    /// Per output token.
    pub per_token: Duration,
}

/// What the deployment does with a request.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Drop the connection without answering (a `connection` outage).
    Refuse,
    /// Never answer (a `hang` outage, or the `timeout_rate` draw).
    Hang,
    /// 503 after `after` (a `503` outage).
    Unavailable { after: Duration },
    /// 429 after `after`, retry after `retry_after` (both real time).
    RateLimited {
        after: Duration,
        retry_after: Duration,
    },
    /// 500 after `after`.
    ServerError { after: Duration },
    /// 400 `context_length_exceeded` after `after`: input + max_tokens exceed the modelled
    /// context window (`tokens` of `window`).
    ContextLength {
        after: Duration,
        tokens: u64,
        window: u64,
    },
    /// Served: `output_tokens` of output (`capped` if `max_tokens` cut it). `service` is `None`
    /// when the provider is at its concurrency limit: wait for [`Model::queue`].
    Serve {
        output_tokens: u32,
        capped: bool,
        input_tokens: u32,
        service: Option<(Service, Option<OwnedSemaphorePermit>)>,
    },
}

struct State {
    limiter: Limiter,
    rng: Rng,
    sizes: Rng,
}

/// One deployment of a scenario's world, on a (possibly scaled) real clock.
pub(crate) struct Model {
    scenario: Arc<Scenario>,
    d: usize,
    fidelity: HeaderFidelity,
    scale: f64,
    epoch: Instant,
    state: Mutex<State>,
    semaphore: Option<Arc<Semaphore>>,
}

impl Model {
    /// The model of deployment `d` (checked by the caller) with seed `seed`; `scale` is the
    /// real seconds per modelled second (> 0).
    pub fn new(scenario: Arc<Scenario>, d: usize, seed: u64, scale: f64) -> Model {
        let wd = &scenario.world.deployments[d];
        let provider = &scenario.world.providers[wd.provider];
        let state = State {
            limiter: wd.limiter(),
            rng: sim::run::stream(seed, &format!("deployment/{}", wd.id)),
            sizes: sim::run::stream(seed, &format!("mock/sizes/{}", wd.id)),
        };
        Model {
            fidelity: provider.headers,
            semaphore: provider
                .concurrency
                .map(|c| Arc::new(Semaphore::new(c as usize))),
            scenario,
            d,
            scale,
            epoch: Instant::now(),
            state: Mutex::new(state),
        }
    }

    /// The deployment id.
    pub fn id(&self) -> &str {
        &self.scenario.world.deployments[self.d].id
    }

    /// The upstream model name of the deployment.
    pub fn model_name(&self) -> &str {
        &self.scenario.config.deployments[self.d].model
    }

    /// Modelled time since the mock started: real elapsed ÷ scale.
    pub fn now(&self) -> Duration {
        self.virtual_at(Instant::now())
    }

    fn virtual_at(&self, at: Instant) -> Duration {
        let real = at.saturating_duration_since(self.epoch).as_secs_f64();
        Duration::try_from_secs_f64(real / self.scale).unwrap_or(Duration::MAX)
    }

    /// A modelled duration in seconds as real time (× scale), capped at a day.
    pub fn real(&self, modelled_secs: f64) -> Duration {
        Duration::try_from_secs_f64(modelled_secs * self.scale)
            .unwrap_or(MAX_REAL_WAIT)
            .min(MAX_REAL_WAIT)
    }

    /// A modelled duration as real time.
    pub fn real_duration(&self, modelled: Duration) -> Duration {
        self.real(modelled.as_secs_f64())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays meaningful after a panic elsewhere: keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether new connections are refused right now (a `connection` outage).
    pub fn refusing(&self) -> bool {
        self.scenario.world.conditions(self.d, self.now()).outage == Some(OutageMode::Connection)
    }

    /// Decides what happens to a request arriving now.
    pub fn decide(&self, ask: Ask) -> Decision {
        let now = self.now();
        let world = &self.scenario.world;
        let wd = &world.deployments[self.d];
        let cond = world.conditions(self.d, now);
        match cond.outage {
            Some(OutageMode::Connection) => return Decision::Refuse,
            Some(OutageMode::Unavailable) => {
                return Decision::Unavailable {
                    after: self.real_duration(wd.rejection_latency),
                }
            }
            Some(OutageMode::Hang) => return Decision::Hang,
            None => {}
        }
        let mut state = self.lock();
        let workload = &self.scenario.workload;
        let (output_tokens, capped, cap) = if ask.embeddings {
            (0, false, Some(0))
        } else {
            let drawn = workload
                .output_tokens
                .sample(&mut state.sizes)
                .round()
                .clamp(1.0, 2_000_000.0) as u32;
            let cap = ask.max_tokens.or(workload.max_tokens);
            match cap {
                Some(cap) if drawn >= cap => (cap, true, Some(cap)),
                _ => (drawn, false, cap),
            }
        };
        // Like OpenAI (and the simulator): input + max_tokens charged up front, nothing refunded.
        let tokens = u64::from(ask.input_tokens) + u64::from(cap.unwrap_or(output_tokens));
        if let Some(window) = wd.context_exceeded(tokens) {
            // Validated before any quota is charged, as providers do.
            return Decision::ContextLength {
                after: self.real_duration(wd.rejection_latency),
                tokens,
                window,
            };
        }
        if let Err(rejection) = state.limiter.admit(now, tokens, cond.limit_factor) {
            return Decision::RateLimited {
                after: self.real_duration(wd.rejection_latency),
                retry_after: self.real_duration(rejection.retry_after),
            };
        }
        let u: f64 = state.rng.random();
        if u < wd.error_rate + cond.extra_error_rate {
            let after = self.real(wd.ttft.sample(&mut state.rng) * cond.latency_factor);
            return Decision::ServerError { after };
        }
        if u < wd.error_rate + cond.extra_error_rate + wd.timeout_rate {
            return Decision::Hang;
        }
        // Service starts now if the provider has a free slot (FIFO: never ahead of waiters).
        let service = match &self.semaphore {
            None => Some((self.draw_service(&mut state, now), None)),
            Some(sem) => match sem.clone().try_acquire_owned() {
                Ok(permit) => Some((self.draw_service(&mut state, now), Some(permit))),
                Err(_) => None,
            },
        };
        Decision::Serve {
            output_tokens,
            capped,
            input_tokens: ask.input_tokens,
            service,
        }
    }

    /// Waits (FIFO) for a free slot of the provider, then draws the service times.
    pub async fn queue(&self) -> (Service, Option<OwnedSemaphorePermit>) {
        let permit = match &self.semaphore {
            Some(sem) => sem.clone().acquire_owned().await.ok(),
            None => None,
        };
        let now = self.now();
        let mut state = self.lock();
        (self.draw_service(&mut state, now), permit)
    }

    fn draw_service(&self, state: &mut State, now: Duration) -> Service {
        let wd = &self.scenario.world.deployments[self.d];
        let factor = self.scenario.world.conditions(self.d, now).latency_factor;
        // Same draw order as the simulator's start_service: ttft, then per-token time.
        let ttft = wd.ttft.sample(&mut state.rng) * factor;
        let per_token = wd.per_token.sample(&mut state.rng) * factor;
        Service {
            ttft: self.real(ttft),
            per_token: self.real(per_token),
        }
    }

    /// The rate-limit headers the provider sends now (filtered by its header fidelity), in
    /// real time: reset durations × scale, and limits per real minute (÷ scale), so a client
    /// on the real clock sees the budget the simulator's engine sees on the modelled one.
    pub fn headers(&self) -> LimitHeaders {
        let now = self.now();
        let factor = self.scenario.world.conditions(self.d, now).limit_factor;
        let h = self.lock().limiter.headers(now, factor);
        let mut h = self.fidelity.filter(h);
        let per_real_minute = |limit: u64| {
            let v = (limit as f64 / self.scale).round();
            if v >= u64::MAX as f64 {
                u64::MAX
            } else {
                v as u64
            }
        };
        h.limit_requests = h.limit_requests.map(per_real_minute);
        h.limit_tokens = h.limit_tokens.map(per_real_minute);
        h.reset_requests = h.reset_requests.map(|d| self.real_duration(d));
        h.reset_tokens = h.reset_tokens.map(|d| self.real_duration(d));
        h
    }
}
