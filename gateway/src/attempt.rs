//! One attempt at one deployment: the upstream request bounded by the deployment's timeouts and
//! the request's deadline, its answer classified (success, stream with its start-up frames held,
//! a client error passed through or moved to a longer-context tier, a failure the engine learns
//! from), and the bounded body reads the proxy needs.

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use engine::{FailureKind, LimitHeaders, Outcome};
use http::StatusCode;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::time::timeout_at;
use tracing::{debug, warn};

use crate::body::Body;
use crate::clock::Clock;
use crate::headers;
use crate::startup::{Startup, Verdict};
use crate::upstream::{Upstream, UpstreamClient};

/// What one attempt came to.
pub(crate) enum AttemptResult {
    /// 2xx, whole body read.
    Complete {
        parts: http::response::Parts,
        body: Bytes,
        ttft: Duration,
    },
    /// 2xx stream with its first frames (start-up frames and the first with content).
    Stream {
        parts: http::response::Parts,
        first: VecDeque<Bytes>,
        rest: Incoming,
        ttft: Duration,
    },
    /// The request's deadline passed during the attempt.
    Expired,
    /// 4xx other than 429: passed to the client as is, unless it says the input exceeds the
    /// model's context window and the tier has a longer-context tier to move to.
    ClientError {
        parts: http::response::Parts,
        body: Body,
        ttft: Duration,
        context_length: bool,
    },
    /// Retryable (or at least reportable) failure.
    Failed {
        outcome: Outcome,
        status: u16,
        ttft: Option<Duration>,
    },
}

pub(crate) fn attempt_failed(
    kind: FailureKind,
    status: u16,
    ttft: Option<Duration>,
) -> AttemptResult {
    AttemptResult::Failed {
        outcome: Outcome::Failure {
            kind,
            status: (status != 0).then_some(status),
            retry_after: None,
            headers: LimitHeaders::default(),
        },
        status,
        ttft,
    }
}

/// What the engine is told of a 4xx other than 429: a client error, or a context-length
/// rejection (which may move the request to a longer-context tier).
pub(crate) fn client_error_outcome(parts: &http::response::Parts, context_length: bool) -> Outcome {
    Outcome::Failure {
        kind: if context_length {
            FailureKind::ContextLength
        } else {
            FailureKind::Client
        },
        status: Some(parts.status.as_u16()),
        retry_after: None,
        headers: headers::limit_headers(&parts.headers),
    }
}

/// Runs `fut` until `deadline`, or without a timer of its own when there is none.
pub(crate) async fn until<F: Future>(deadline: Option<Instant>, fut: F) -> Result<F::Output, ()> {
    match deadline {
        Some(d) => timeout_at(d.into(), fut).await.map_err(|_| ()),
        None => Ok(fut.await),
    }
}

/// `at + d`, or far in the future when that does not fit an `Instant`.
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(365 * 86_400))
}

/// One attempt sent at `sent`, bounded by the deployment's `total_timeout` and the request's
/// `deadline` (one timer for the whole attempt; a second one only when `first_byte_timeout` is
/// set). The deployment's timeouts are modelled time, turned into real time by `clock`.
pub(crate) async fn attempt_once(
    up: &Upstream,
    client: &UpstreamClient,
    req: http::Request<http_body_util::Full<Bytes>>,
    stream: bool,
    (sent, deadline): (Instant, Option<Instant>),
    clock: &Clock,
) -> AttemptResult {
    let total = later(sent, clock.real(up.total_timeout));
    let limit = deadline.map_or(total, |d| d.min(total));
    let first_byte = up
        .first_byte_timeout
        .map(|t| later(sent, clock.real(t)).min(limit))
        .filter(|&t| t < limit);
    let mut head: Option<(u16, Duration)> = None;
    let attempt = attempt_inner(up, client, req, stream, sent, first_byte, &mut head);
    match timeout_at(limit.into(), attempt).await {
        Ok(result) => result,
        Err(_) if deadline.is_some_and(|d| d <= total) => AttemptResult::Expired,
        Err(_) => attempt_failed(
            FailureKind::Timeout,
            head.map_or(0, |h| h.0),
            head.map(|h| h.1),
        ),
    }
}

/// An upstream answer that failed the attempt: its kind, status, `retry-after` and rate-limit
/// headers; the (small) body is drained in the background.
pub(crate) fn failed_answer(
    response: http::Response<Incoming>,
    kind: FailureKind,
    ttft: Duration,
) -> AttemptResult {
    let code = response.status().as_u16();
    let outcome = Outcome::Failure {
        kind,
        status: Some(code),
        retry_after: headers::retry_after(response.headers(), SystemTime::now()),
        headers: headers::limit_headers(response.headers()),
    };
    drain(response.into_body());
    AttemptResult::Failed {
        outcome,
        status: code,
        ttft: Some(ttft),
    }
}

/// Reads a small upstream error body in the background so the connection can be reused.
pub(crate) fn drain(body: Incoming) {
    tokio::spawn(async move {
        let drain = Limited::new(body, 64 * 1024).collect();
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    });
}

pub(crate) async fn attempt_inner(
    up: &Upstream,
    client: &UpstreamClient,
    req: http::Request<http_body_util::Full<Bytes>>,
    stream: bool,
    sent: Instant,
    first_byte: Option<Instant>,
    head: &mut Option<(u16, Duration)>,
) -> AttemptResult {
    let response = match until(first_byte, client.request(req)).await {
        Err(()) => return attempt_failed(FailureKind::Timeout, 0, None),
        Ok(Err(e)) => {
            debug!(deployment = %up.id, error = %e, connect = e.is_connect(), "upstream request error");
            return attempt_failed(FailureKind::Connection, 0, None);
        }
        Ok(Ok(r)) => r,
    };
    let ttft = sent.elapsed();
    let status = response.status();
    let code = status.as_u16();
    *head = Some((code, ttft));
    if status == StatusCode::BAD_REQUEST {
        // Read the (small) error to tell a context-length rejection from any other 400.
        let (parts, incoming) = response.into_parts();
        return match read_body(incoming, MAX_ERROR_BYTES).await {
            Ok(body) => AttemptResult::ClientError {
                parts,
                context_length: says_context_length_exceeded(&body),
                body: Body::full(body),
                ttft,
            },
            // A 400 whose body cannot be read whole cannot be passed on either.
            Err(_) => attempt_failed(FailureKind::Connection, code, Some(ttft)),
        };
    }
    if matches!(code, 401..=403) {
        // The provider refused the key: the deployment's fault, not the request's.
        warn!(
            deployment = %up.id,
            status = code,
            "the provider refused this deployment's API key: out of rotation until the config is reloaded"
        );
        return failed_answer(response, FailureKind::Auth, ttft);
    }
    if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
        let (parts, incoming) = response.into_parts();
        return AttemptResult::ClientError {
            parts,
            body: Body::upstream(incoming),
            ttft,
            context_length: false,
        };
    }
    if !status.is_success() {
        let kind = if status == StatusCode::TOO_MANY_REQUESTS {
            FailureKind::RateLimited
        } else {
            FailureKind::Server
        };
        return failed_answer(response, kind, ttft);
    }
    let (parts, mut incoming) = response.into_parts();
    if stream {
        let mut held = Startup::default();
        loop {
            match until(first_byte, incoming.frame()).await {
                Err(()) => return attempt_failed(FailureKind::Timeout, code, Some(ttft)),
                Ok(Some(Err(_))) => {
                    return attempt_failed(FailureKind::Connection, code, Some(ttft))
                }
                // Ended before any content: what was held is the whole answer.
                Ok(None) => {
                    return AttemptResult::Complete {
                        parts,
                        body: held.concat(),
                        ttft,
                    }
                }
                Ok(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if data.is_empty() {
                        continue;
                    }
                    match held.push(data) {
                        Verdict::Hold => {}
                        Verdict::Error => {
                            debug!(deployment = %up.id, "error event before the stream's first content");
                            return attempt_failed(FailureKind::Server, code, Some(ttft));
                        }
                        Verdict::Commit => {
                            return AttemptResult::Stream {
                                parts,
                                first: held.into_frames(),
                                rest: incoming,
                                ttft: sent.elapsed(),
                            }
                        }
                    }
                }
            }
        }
    }
    match read_body(incoming, MAX_ANSWER_BYTES).await {
        Err(_) => attempt_failed(FailureKind::Connection, code, Some(ttft)),
        Ok(body) => AttemptResult::Complete { parts, body, ttft },
    }
}

/// Largest non-streamed upstream answer the gateway buffers (256 MiB).
const MAX_ANSWER_BYTES: usize = 256 << 20;

/// Largest upstream 400 body the gateway reads to classify it (1 MiB).
const MAX_ERROR_BYTES: usize = 1 << 20;

/// Whether a 400's body says the input exceeds the model's context window, in the words of
/// OpenAI and Azure (`context_length_exceeded`), vLLM and most OpenAI-compatible servers
/// ("maximum context length"), and others ("context window", "prompt is too long").
pub fn says_context_length_exceeded(body: &[u8]) -> bool {
    const MARKERS: [&[u8]; 4] = [
        b"context_length_exceeded",
        b"maximum context length",
        b"context window",
        b"prompt is too long",
    ];
    let lower = body.to_ascii_lowercase();
    MARKERS
        .iter()
        .any(|m| lower.windows(m.len()).any(|w| w == *m))
}

pub(crate) enum ReadError {
    TooLarge,
    Body(hyper::Error),
}

/// Reads a whole body of at most `limit` bytes. A body that arrives in one frame (the usual case
/// for small JSON) is returned as is, without copying.
pub(crate) async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, ReadError> {
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(ReadError::Body)?.into_data() else {
            continue;
        };
        let have = if rest.is_empty() {
            first.as_ref().map_or(0, Bytes::len)
        } else {
            rest.len()
        };
        if have + data.len() > limit {
            return Err(ReadError::TooLarge);
        }
        match &first {
            None => first = Some(data),
            Some(f) => {
                if rest.is_empty() {
                    rest.reserve(f.len() + data.len());
                    rest.extend_from_slice(f);
                }
                rest.extend_from_slice(&data);
            }
        }
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(rest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_length_rejections_are_told_from_other_400s() {
        for body in [
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            r#"{"object":"error","message":"This model's Maximum Context Length is 4096 tokens. However, you requested 5000 tokens.","type":"BadRequestError","code":400}"#,
            r#"{"error":{"message":"input exceeds the context window of this model"}}"#,
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
        ] {
            assert!(says_context_length_exceeded(body.as_bytes()), "{body}");
        }
        for body in [
            r#"{"error":{"message":"'messages' is a required property","type":"invalid_request_error"}}"#,
            r#"{"error":{"message":"max_tokens is too large: 100000. This model supports at most 16384 completion tokens"}}"#,
            "",
        ] {
            assert!(!says_context_length_exceeded(body.as_bytes()), "{body}");
        }
    }
}
