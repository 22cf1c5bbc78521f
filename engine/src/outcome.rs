//! What the driver reports back after an attempt: success or the kind of failure, plus what the
//! provider's rate-limit headers said.

use std::str::FromStr;
use std::time::Duration;

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// 429: the deployment is out of quota; cools down until retry-after.
    RateLimited = 0,
    /// 5xx: counts towards the circuit breaker.
    Server = 1,
    /// No first byte or no completion in time.
    Timeout = 2,
    /// Connection refused, reset or DNS failure.
    Connection = 3,
    /// 4xx other than 429 (400, 401, 404, 413): the request is at fault, never retried.
    Client = 4,
    /// 400 because the input does not fit the model's context window: never retried on the
    /// same tier, but moved to the tier's `context_fallback` (a longer-context tier) if it has
    /// one; otherwise a client error.
    ContextLength = 5,
    /// 401, 403 or 402: the provider refused the deployment's key (revoked, wrong, out of
    /// credit). The request is not at fault: it is retried elsewhere, and the deployment is
    /// taken out of rotation until the config is loaded again.
    Auth = 6,
}

impl FailureKind {
    /// Number of kinds, for arrays indexed by kind.
    pub const COUNT: usize = 7;
    /// Every kind in index order.
    pub const ALL: [FailureKind; 7] = [
        FailureKind::RateLimited,
        FailureKind::Server,
        FailureKind::Timeout,
        FailureKind::Connection,
        FailureKind::Client,
        FailureKind::ContextLength,
        FailureKind::Auth,
    ];
    pub(crate) const RETRYABLE_EXPECTED: &'static str =
        "one of \"rate_limited\", \"server_error\", \"timeout\", \"connection\"";

    /// The name used in config files, CSV columns and metric labels.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::RateLimited => "rate_limited",
            FailureKind::Server => "server_error",
            FailureKind::Timeout => "timeout",
            FailureKind::Connection => "connection",
            FailureKind::Client => "client_error",
            FailureKind::ContextLength => "context_length",
            FailureKind::Auth => "auth",
        }
    }

    /// Whether this kind says the deployment is unhealthy (feeds the breaker and error rate).
    pub fn is_health_failure(self) -> bool {
        matches!(
            self,
            FailureKind::Server | FailureKind::Timeout | FailureKind::Connection
        )
    }
}

impl FromStr for FailureKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        FailureKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or(())
    }
}

/// What the provider's `x-ratelimit-*` headers said, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LimitHeaders {
    /// `x-ratelimit-limit-requests`: the provider's own requests-per-minute limit.
    pub limit_requests: Option<u64>,
    /// `x-ratelimit-limit-tokens`: the provider's own tokens-per-minute limit.
    pub limit_tokens: Option<u64>,
    /// `x-ratelimit-remaining-requests`.
    pub remaining_requests: Option<u64>,
    /// `x-ratelimit-remaining-tokens`.
    pub remaining_tokens: Option<u64>,
    /// `x-ratelimit-reset-requests`, as a duration from now.
    pub reset_requests: Option<Duration>,
    /// `x-ratelimit-reset-tokens`, as a duration from now.
    pub reset_tokens: Option<Duration>,
}

/// The result of one attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// The deployment answered.
    Success {
        /// Time to first token (first byte of the answer).
        ttft: Duration,
        /// Input tokens the provider counted.
        input_tokens: u32,
        /// Output tokens the provider counted.
        output_tokens: u32,
        /// Rate-limit headers of the answer.
        headers: LimitHeaders,
    },
    /// The attempt failed.
    Failure {
        /// What went wrong.
        kind: FailureKind,
        /// The HTTP status, when there was one.
        status: Option<u16>,
        /// `retry-after`, for 429s and 503s that carry it.
        retry_after: Option<Duration>,
        /// Rate-limit headers of the answer.
        headers: LimitHeaders,
    },
}

impl Outcome {
    /// A success without headers.
    pub fn success(ttft: Duration, input_tokens: u32, output_tokens: u32) -> Outcome {
        Outcome::Success {
            ttft,
            input_tokens,
            output_tokens,
            headers: LimitHeaders::default(),
        }
    }

    /// A failure of this kind without status or headers.
    pub fn failure(kind: FailureKind) -> Outcome {
        Outcome::Failure {
            kind,
            status: None,
            retry_after: None,
            headers: LimitHeaders::default(),
        }
    }

    /// A 429 with an optional retry-after.
    pub fn rate_limited(retry_after: Option<Duration>) -> Outcome {
        Outcome::Failure {
            kind: FailureKind::RateLimited,
            status: Some(429),
            retry_after,
            headers: LimitHeaders::default(),
        }
    }

    /// The failure kind, or `None` for a success.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            Outcome::Success { .. } => None,
            Outcome::Failure { kind, .. } => Some(*kind),
        }
    }

    /// The rate-limit headers, whatever the result.
    pub fn headers(&self) -> &LimitHeaders {
        match self {
            Outcome::Success { headers, .. } | Outcome::Failure { headers, .. } => headers,
        }
    }
}
