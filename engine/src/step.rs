//! The engine's answers: what a driver must do next with a request.

use std::time::Duration;

use crate::ids::{DeploymentId, RequestId, TierId};
use crate::outcome::FailureKind;

/// A request as the driver hands it in: the tier it was routed to and its estimated size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    /// Tier chosen by routing ([`crate::Engine::route`]).
    pub tier: TierId,
    /// Estimated input tokens (charged against tokens-per-minute at start).
    pub input_tokens: u32,
    /// Estimated output tokens (e.g. `max_tokens`), corrected with real usage at finish.
    pub output_tokens: u32,
}

impl Request {
    /// Tokens charged against a tokens-per-minute limit before the real count is known.
    pub fn estimated_tokens(&self) -> u64 {
        u64::from(self.input_tokens) + u64::from(self.output_tokens)
    }
}

/// What to do next. Every started request receives exactly one terminal step
/// ([`Step::Done`] or [`Step::Failed`]), or ends by [`crate::Engine::cancel`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Send attempt `attempt` (1-based) of the request to `deployment`, then call `finish`.
    Send {
        /// The request.
        request: RequestId,
        /// Where to send it.
        deployment: DeploymentId,
        /// 1 for the first attempt.
        attempt: u8,
    },
    /// Nothing is usable now; call `resume` at `until`.
    Wait {
        /// The request.
        request: RequestId,
        /// When to ask again (the earliest reset, cooldown end or backoff).
        until: Duration,
    },
    /// The last attempt succeeded; answer the client.
    Done {
        /// The request.
        request: RequestId,
    },
    /// The request failed; answer the client with the reason.
    Failed {
        /// The request.
        request: RequestId,
        /// Why.
        reason: FailReason,
    },
}

impl Step {
    /// The request this step is about.
    pub fn request(&self) -> RequestId {
        match *self {
            Step::Send { request, .. }
            | Step::Wait { request, .. }
            | Step::Done { request }
            | Step::Failed { request, .. } => request,
        }
    }

    /// Whether the request has ended.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Step::Done { .. } | Step::Failed { .. })
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FailReason {
    /// The provider rejected the request itself (4xx other than 429): never retried.
    ClientError {
        /// HTTP status, if known.
        status: Option<u16>,
    },
    /// The last attempt failed with a kind the retry policy does not retry.
    NotRetried {
        /// The failure kind.
        kind: FailureKind,
    },
    /// Every attempt the policy and the deployments' health allowed failed: the attempt budget
    /// is used up, or what is left would only be usable past the wait budget.
    AttemptsExhausted {
        /// Kind of the last failure.
        last: FailureKind,
    },
    /// No deployment will have headroom within the wait budget.
    NoCapacity {
        /// When the earliest deployment becomes usable again, if ever.
        earliest: Option<Duration>,
    },
    /// The request's end-to-end deadline (`[retry] deadline`) passed, or would pass before
    /// anything in its chain is usable.
    Deadline,
    /// Every deployment of the request's tier chain is out of rotation because its provider
    /// refused its key (401/402/403).
    AllDisabled,
}

impl FailReason {
    /// A short machine-readable name, for metrics and traces.
    pub fn name(&self) -> &'static str {
        match self {
            FailReason::ClientError { .. } => "client_error",
            FailReason::NotRetried { .. } => "not_retried",
            FailReason::AttemptsExhausted { .. } => "attempts_exhausted",
            FailReason::NoCapacity { .. } => "no_capacity",
            FailReason::Deadline => "deadline",
            FailReason::AllDisabled => "all_disabled",
        }
    }
}
