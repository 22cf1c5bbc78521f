//! The client's answer when the engine gives up on a request: a status and OpenAI-shaped error
//! that say what happened (rate limits, timeouts, refused keys, no capacity, the deadline).

use std::time::Duration;

use engine::{FailReason, FailureKind};
use http::StatusCode;

use crate::clock::Clock;
use crate::error::ApiError;

/// The client's answer when the engine gives up at engine time `now` (a `retry-after` is said in
/// real seconds, converted by `clock`).
pub(crate) fn failure_error(
    reason: FailReason,
    attempts: u8,
    now: Duration,
    clock: &Clock,
) -> ApiError {
    let by_kind = |kind: FailureKind, how: &str| {
        let (status, kind_name, code, what) = match kind {
            FailureKind::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limit_exceeded",
                "rate limited",
            ),
            FailureKind::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_error",
                "upstream_timeout",
                "timed out",
            ),
            FailureKind::Connection => (
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "upstream_unreachable",
                "could not be reached",
            ),
            FailureKind::Server | FailureKind::Client => (
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "upstream_server_error",
                "answered with a server error",
            ),
            FailureKind::Auth => (
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "upstream_auth_failed",
                "refused the deployment's API key",
            ),
            FailureKind::ContextLength => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "context_length_exceeded",
                "cannot take an input this long",
            ),
        };
        ApiError::new(
            status,
            kind_name,
            code,
            format!("{how}: the upstream {what} (after {attempts} attempt(s))"),
        )
    };
    match reason {
        FailReason::AttemptsExhausted { last } => by_kind(last, "all attempts failed"),
        FailReason::NotRetried { kind } => by_kind(kind, "not retried by policy"),
        FailReason::ClientError { .. } => by_kind(FailureKind::Client, "request rejected"),
        FailReason::Deadline => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_error",
            "deadline_exceeded",
            format!(
                "the request's deadline ([retry] deadline) passed before an answer began (after {attempts} attempt(s))"
            ),
        ),
        FailReason::AllDisabled => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "upstream_auth_failed",
            "every deployment serving this model is out of rotation: its provider refused its API key \
             (401/402/403); fix the keys and reload the gateway",
        ),
        FailReason::NoCapacity { earliest } => {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "rate_limit_error",
                "no_capacity",
                format!(
                    "no deployment for this model has capacity within the wait budget (after {attempts} attempt(s))"
                ),
            );
            e.retry_after = earliest.map(|t| clock.retry_after_secs(t, now));
            e
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_errors_map_to_statuses() {
        let now = Duration::from_secs(10);
        let clock = Clock::start(1.0);
        let e = failure_error(
            FailReason::AttemptsExhausted {
                last: FailureKind::RateLimited,
            },
            3,
            now,
            &clock,
        );
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        let e = failure_error(
            FailReason::NoCapacity {
                earliest: Some(Duration::from_millis(12_500)),
            },
            0,
            now,
            &clock,
        );
        assert_eq!(
            (e.status, e.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, Some(3))
        );
        // At a tenth of real speed the 2.5 modelled seconds last 25 real ones.
        let slow = failure_error(
            FailReason::NoCapacity {
                earliest: Some(Duration::from_millis(12_500)),
            },
            0,
            now,
            &Clock::start(0.1),
        );
        assert_eq!(slow.retry_after, Some(25));
        let e = failure_error(
            FailReason::AttemptsExhausted {
                last: FailureKind::Timeout,
            },
            2,
            now,
            &clock,
        );
        assert_eq!(e.status, StatusCode::GATEWAY_TIMEOUT);
        let e = failure_error(FailReason::Deadline, 2, now, &clock);
        assert_eq!(
            (e.status, e.code),
            (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded")
        );
        let e = failure_error(FailReason::AllDisabled, 2, now, &clock);
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_GATEWAY, "upstream_auth_failed")
        );
    }
}
