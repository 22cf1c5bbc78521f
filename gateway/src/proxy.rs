//! The proxy path: read and check the client's body, route it, then follow the engine's steps —
//! send an attempt, report its outcome, send elsewhere or wait — until the answer is committed.
//!
//! Nothing reaches the client before an attempt has succeeded: a 429, 5xx, connect error or
//! first-byte timeout is reported to the engine and its next step is followed. For a stream, the
//! answer is committed at the first body chunk; after that an upstream failure ends the stream
//! with an SSE error event (never a silent restart elsewhere). A client that goes away drops the
//! handler (or the relayed body), which cancels the upstream request and releases the engine's
//! in-flight slot through [`Life`]'s `Drop`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use engine::{
    DeploymentId, FailReason, FailureKind, LimitHeaders, Outcome, Request, RequestId, Step, TierId,
};
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body::{Body as _, Frame};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use tokio::time::{sleep_until, timeout_at, Sleep};
use tracing::{debug, info, warn};

use crate::body::Body;
use crate::error::{error_json, ApiError};
use crate::headers;
use crate::request::{self, Endpoint, ParsedRequest};
use crate::state::Shared;
use crate::trace::Row;
use crate::upstream::{Clients, Upstream, UpstreamClient};

/// Header naming the deployment that answered.
pub const DEPLOYMENT_HEADER: &str = "x-switchyard-deployment";
const DEPLOYMENT: HeaderName = HeaderName::from_static(DEPLOYMENT_HEADER);
const TIER: HeaderName = HeaderName::from_static(TIER_HEADER);

/// Header naming a tier directly, bypassing model routing.
pub const TIER_HEADER: &str = "x-switchyard-tier";

/// Handles one proxied request after authentication.
pub(crate) async fn handle(
    gw: &Arc<Shared>,
    clients: &Clients,
    endpoint: Endpoint,
    req: http::Request<Incoming>,
) -> Response<Body> {
    match prepare(gw, endpoint, req).await {
        Ok((parsed, body, tier)) => run(gw, clients, endpoint, parsed, body, tier).await,
        Err(e) => e.response(),
    }
}

async fn prepare(
    gw: &Arc<Shared>,
    endpoint: Endpoint,
    req: http::Request<Incoming>,
) -> Result<(ParsedRequest, Bytes, TierId), ApiError> {
    let limit = gw.settings.max_body_bytes;
    let (parts, body) = req.into_parts();
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("request body exceeds the gateway's limit of {limit} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let body = match read_body(body, limit).await {
        Ok(bytes) => bytes,
        Err(ReadError::TooLarge) => return Err(too_large()),
        Err(ReadError::Body(e)) => {
            return Err(ApiError::bad_request(
                "body_read_error",
                format!("could not read the request body: {e}"),
            ))
        }
    };
    let parsed =
        request::parse(&body, endpoint).map_err(|e| ApiError::bad_request("invalid_json", e.0))?;
    let tier = match parts.headers.get(&TIER) {
        Some(v) => {
            let name = v.to_str().unwrap_or_default();
            gw.tier_by_name(name).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "tier_not_found",
                    format!("{TIER_HEADER} names no configured tier: {name:?}"),
                )
            })?
        }
        None => gw.config.route(&parsed.model).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!(
                    "the model {:?} does not exist or is not routed by this gateway (see GET /v1/models)",
                    parsed.model
                ),
            )
        })?,
    };
    Ok((parsed, body, tier))
}

/// One attempt as sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    deployment: DeploymentId,
    number: u8,
    sent: Instant,
    sent_at: Duration,
}

/// A request's life in the engine. Dropping it before a terminal step (client gone) cancels the
/// request, releasing its in-flight slot.
pub(crate) struct Life {
    gw: Arc<Shared>,
    id: RequestId,
    live: bool,
    number: u64,
    model: Arc<str>,
    tier: TierId,
    input_tokens: u32,
    output_tokens: u32,
}

impl Life {
    fn finish(
        &mut self,
        a: &Attempt,
        outcome: &Outcome,
        status: u16,
        ttft: Option<Duration>,
    ) -> Step {
        let now = self.gw.now();
        let step = self.gw.lock().finish(self.id, outcome, now);
        self.live = !step.is_terminal();
        self.record(a, outcome, status, ttft, now);
        step
    }

    /// Reports the last attempt's outcome and ends the request whatever the engine would do
    /// next (a started stream is never restarted elsewhere).
    fn finish_final(
        &mut self,
        a: &Attempt,
        outcome: &Outcome,
        status: u16,
        ttft: Option<Duration>,
    ) {
        let now = self.gw.now();
        self.gw.lock().finish_final(self.id, outcome, now);
        self.live = false;
        self.record(a, outcome, status, ttft, now);
    }

    /// The attempt's first byte arrived (a stream began): a sign of life for the engine.
    fn first_byte(&self) {
        let now = self.gw.now();
        self.gw.lock().first_byte(self.id, now);
    }

    fn resume(&mut self) -> Step {
        let now = self.gw.now();
        let step = self.gw.lock().resume(self.id, now);
        self.live = !step.is_terminal();
        step
    }

    fn record(
        &self,
        a: &Attempt,
        outcome: &Outcome,
        status: u16,
        ttft: Option<Duration>,
        now: Duration,
    ) {
        let Some(trace) = &self.gw.trace else { return };
        let (failure, input_tokens, output_tokens) = match *outcome {
            Outcome::Success {
                input_tokens,
                output_tokens,
                ..
            } => (None, input_tokens, output_tokens),
            Outcome::Failure { kind, .. } => (Some(kind), self.input_tokens, self.output_tokens),
        };
        trace.record(Row {
            sent: a.sent_at,
            request_id: self.number,
            attempt: a.number,
            model: self.model.clone(),
            tier: self.tier.index(),
            deployment: a.deployment.index(),
            failure,
            status,
            input_tokens,
            output_tokens,
            latency: now.saturating_sub(a.sent_at),
            ttft,
        });
    }
}

impl Drop for Life {
    fn drop(&mut self) {
        if self.live {
            let now = self.gw.now();
            self.gw.lock().cancel(self.id, now);
            debug!(request = self.number, "client went away: request cancelled");
        }
    }
}

/// What one attempt came to.
enum AttemptResult {
    /// 2xx, whole body read.
    Complete {
        parts: http::response::Parts,
        body: Bytes,
        ttft: Duration,
    },
    /// 2xx stream with its first chunk.
    Stream {
        parts: http::response::Parts,
        first: Bytes,
        rest: Incoming,
        ttft: Duration,
    },
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

async fn run(
    gw: &Arc<Shared>,
    clients: &Clients,
    endpoint: Endpoint,
    parsed: ParsedRequest,
    body: Bytes,
    tier: TierId,
) -> Response<Body> {
    let number = gw.next_request.fetch_add(1, Ordering::Relaxed);
    let request = Request {
        tier,
        input_tokens: parsed.input_tokens,
        output_tokens: parsed.output_tokens,
    };
    let now = gw.now();
    let mut step = gw.lock().start(request, now);
    let mut life = Life {
        gw: gw.clone(),
        id: step.request(),
        live: !step.is_terminal(),
        number,
        model: Arc::from(parsed.model.as_str()),
        tier,
        input_tokens: parsed.input_tokens,
        output_tokens: parsed.output_tokens,
    };
    let mut attempts = 0u8;
    loop {
        match step {
            Step::Send {
                deployment,
                attempt,
                ..
            } => {
                attempts = attempt;
                let up = &gw.upstreams[deployment.index()];
                let sent = Instant::now();
                let a = Attempt {
                    deployment,
                    number: attempt,
                    sent,
                    sent_at: sent.saturating_duration_since(gw.epoch),
                };
                let upstream_body =
                    request::rewrite_model(&body, parsed.model_span, &up.model_json);
                let req = up.request(endpoint, upstream_body, parsed.stream);
                let client = &clients.0[deployment.index()];
                match attempt_once(up, client, req, parsed.stream, sent).await {
                    AttemptResult::Complete { parts, body, ttft } => {
                        let (input_tokens, output_tokens) =
                            usage_of(&body).unwrap_or((parsed.input_tokens, parsed.output_tokens));
                        let outcome = Outcome::Success {
                            ttft,
                            input_tokens,
                            output_tokens,
                            headers: headers::limit_headers(&parts.headers),
                        };
                        life.finish(&a, &outcome, parts.status.as_u16(), Some(ttft));
                        debug!(request = number, deployment = %up.id, attempt, "ok");
                        return respond(parts, Body::full(body), &up.id_header);
                    }
                    AttemptResult::Stream {
                        parts,
                        first,
                        rest,
                        ttft,
                    } => {
                        debug!(request = number, deployment = %up.id, attempt, "stream started");
                        life.first_byte();
                        let deadline = a.sent + up.total_timeout;
                        let relay = SseRelay {
                            life,
                            attempt: a,
                            upstream: rest,
                            first: Some(first),
                            scanner: UsageScanner::default(),
                            ttft,
                            limits: headers::limit_headers(&parts.headers),
                            status: parts.status.as_u16(),
                            idle: up.first_byte_timeout.map(|t| {
                                (
                                    t,
                                    Box::pin(tokio::time::sleep_until(
                                        (Instant::now() + t).min(deadline).into(),
                                    )),
                                )
                            }),
                            deadline: Box::pin(sleep_until(deadline.into())),
                            tail: [0, 0],
                            done: false,
                        };
                        return respond(parts, Body::relay(relay), &up.id_header);
                    }
                    AttemptResult::ClientError {
                        parts,
                        body,
                        ttft,
                        context_length,
                    } => {
                        let status = parts.status.as_u16();
                        let outcome = Outcome::Failure {
                            kind: if context_length {
                                FailureKind::ContextLength
                            } else {
                                FailureKind::Client
                            },
                            status: Some(status),
                            retry_after: None,
                            headers: headers::limit_headers(&parts.headers),
                        };
                        if context_length {
                            // The engine moves the request to the tier's context fallback, if
                            // it has one; otherwise the provider's answer goes back as it is.
                            step = life.finish(&a, &outcome, status, Some(ttft));
                            if !step.is_terminal() {
                                info!(request = number, deployment = %up.id, "input exceeds the context window: moving to the longer-context tier");
                                continue;
                            }
                        } else {
                            life.finish_final(&a, &outcome, status, Some(ttft));
                        }
                        info!(request = number, deployment = %up.id, status, "upstream rejected the request: passed through");
                        return respond(parts, body, &up.id_header);
                    }
                    AttemptResult::Failed {
                        outcome,
                        status,
                        ttft,
                    } => {
                        let kind = outcome.failure_kind().unwrap_or(FailureKind::Server);
                        info!(
                            request = number,
                            deployment = %up.id,
                            attempt,
                            outcome = kind.name(),
                            status,
                            "attempt failed"
                        );
                        step = life.finish(&a, &outcome, status, ttft);
                    }
                }
            }
            Step::Wait { until, .. } => {
                sleep_until((gw.epoch + until).into()).await;
                step = life.resume();
            }
            Step::Done { .. } => {
                // Only a finish of a success ends in Done, and that returns above.
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "internal_error",
                    "the gateway lost track of this request",
                )
                .response();
            }
            Step::Failed { reason, .. } => {
                life.live = false;
                let e = failure_error(reason, attempts, gw.now());
                warn!(
                    request = number,
                    reason = reason.name(),
                    attempts,
                    status = e.status.as_u16(),
                    "request failed"
                );
                return e.response();
            }
        }
    }
}

fn attempt_failed(kind: FailureKind, status: u16, ttft: Option<Duration>) -> AttemptResult {
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

/// Runs `fut` until `deadline`, or without a timer of its own when there is none.
async fn until<F: Future>(deadline: Option<Instant>, fut: F) -> Result<F::Output, ()> {
    match deadline {
        Some(d) => timeout_at(d.into(), fut).await.map_err(|_| ()),
        None => Ok(fut.await),
    }
}

/// One attempt, bounded by the deployment's `total_timeout` (one timer for the whole attempt;
/// a second one only when `first_byte_timeout` is set).
async fn attempt_once(
    up: &Upstream,
    client: &UpstreamClient,
    req: http::Request<http_body_util::Full<Bytes>>,
    stream: bool,
    sent: Instant,
) -> AttemptResult {
    let total = sent + up.total_timeout;
    let first_byte = up
        .first_byte_timeout
        .map(|t| (sent + t).min(total))
        .filter(|&t| t < total);
    let mut head: Option<(u16, Duration)> = None;
    let attempt = attempt_inner(up, client, req, stream, sent, first_byte, &mut head);
    match timeout_at(total.into(), attempt).await {
        Ok(result) => result,
        Err(_) => attempt_failed(
            FailureKind::Timeout,
            head.map_or(0, |h| h.0),
            head.map(|h| h.1),
        ),
    }
}

async fn attempt_inner(
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
        let outcome = Outcome::Failure {
            kind,
            status: Some(code),
            retry_after: headers::retry_after(response.headers(), SystemTime::now()),
            headers: headers::limit_headers(response.headers()),
        };
        // Read the (small) error body in the background so the connection can be reused.
        let body = response.into_body();
        tokio::spawn(async move {
            let drain = Limited::new(body, 64 * 1024).collect();
            let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
        });
        return AttemptResult::Failed {
            outcome,
            status: code,
            ttft: Some(ttft),
        };
    }
    let (parts, mut incoming) = response.into_parts();
    if stream {
        loop {
            match until(first_byte, incoming.frame()).await {
                Err(()) => return attempt_failed(FailureKind::Timeout, code, Some(ttft)),
                Ok(Some(Err(_))) => {
                    return attempt_failed(FailureKind::Connection, code, Some(ttft))
                }
                Ok(None) => {
                    return AttemptResult::Complete {
                        parts,
                        body: Bytes::new(),
                        ttft,
                    }
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return AttemptResult::Stream {
                                parts,
                                first: data,
                                rest: incoming,
                                ttft: sent.elapsed(),
                            };
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
pub(crate) fn says_context_length_exceeded(body: &[u8]) -> bool {
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

enum ReadError {
    TooLarge,
    Body(hyper::Error),
}

/// Reads a whole body of at most `limit` bytes. A body that arrives in one frame (the usual case
/// for small JSON) is returned as is, without copying.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, ReadError> {
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

/// Hop-by-hop and framing headers not copied from the upstream answer.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "content-length",
];

fn skip_header(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
}

fn respond(
    mut parts: http::response::Parts,
    body: Body,
    deployment: &HeaderValue,
) -> Response<Body> {
    if parts.headers.keys().any(skip_header) {
        for name in HOP_BY_HOP {
            parts.headers.remove(name);
        }
    }
    parts.headers.insert(DEPLOYMENT, deployment.clone());
    parts.extensions.clear();
    Response::from_parts(parts, body)
}

/// The client's answer when the engine gives up.
fn failure_error(reason: FailReason, attempts: u8, now: Duration) -> ApiError {
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
        FailReason::NoCapacity { earliest } => {
            let mut e = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "rate_limit_error",
                "no_capacity",
                format!(
                    "no deployment for this model has capacity within the wait budget (after {attempts} attempt(s))"
                ),
            );
            e.retry_after =
                earliest.map(|t| (t.saturating_sub(now).as_secs_f64().ceil() as u64).max(1));
            e
        }
    }
}

#[derive(Deserialize)]
struct UsageDoc {
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default, alias = "input_tokens")]
    prompt_tokens: Option<u64>,
    #[serde(default, alias = "output_tokens")]
    completion_tokens: Option<u64>,
}

/// `(input, output)` tokens from a JSON answer's `usage`, if it has one.
///
/// Fast path: read the value after the last `"usage":` key (a raw `"usage"` can only be a key or
/// a plain string value, since quotes inside strings are escaped); otherwise parse the document.
pub fn usage_of(body: &[u8]) -> Option<(u32, u32)> {
    let clamp = |u: Usage| {
        let c = |v: Option<u64>| u32::try_from(v.unwrap_or(0)).unwrap_or(u32::MAX);
        (c(u.prompt_tokens), c(u.completion_tokens))
    };
    const KEY: &[u8] = b"\"usage\"";
    if let Some(pos) = body.windows(KEY.len()).rposition(|w| w == KEY) {
        if pos == 0 || body[pos - 1] != b'\\' {
            if let Some(value) = body[pos + KEY.len()..]
                .trim_ascii_start()
                .strip_prefix(b":")
            {
                let mut de = serde_json::Deserializer::from_slice(value);
                if let Ok(u) = Option::<Usage>::deserialize(&mut de) {
                    return u.map(clamp);
                }
            }
        }
    }
    let doc: UsageDoc = serde_json::from_slice(body).ok()?;
    doc.usage.map(clamp)
}

/// Longest SSE line the usage scanner looks into; longer lines are passed on unread.
const MAX_SCANNED_LINE: usize = 1 << 20;

/// Watches an SSE stream for the `usage` of its final chunk and for error events.
#[derive(Debug, Default)]
pub struct UsageScanner {
    line: Vec<u8>,
    overflow: bool,
    /// `(input, output)` tokens of the last chunk that carried usage.
    pub usage: Option<(u32, u32)>,
    /// The stream carried an `{"error": …}` event.
    pub saw_error: bool,
}

impl UsageScanner {
    /// Feeds a chunk of the stream.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.push(&chunk[..i]);
                    self.end_line();
                    chunk = &chunk[i + 1..];
                }
                None => {
                    self.push(chunk);
                    break;
                }
            }
        }
    }

    /// Ends the stream (a last line without newline still counts).
    pub fn finish(&mut self) {
        self.end_line();
    }

    fn push(&mut self, part: &[u8]) {
        if self.overflow || self.line.len() + part.len() > MAX_SCANNED_LINE {
            self.overflow = true;
            self.line.clear();
        } else {
            self.line.extend_from_slice(part);
        }
    }

    fn end_line(&mut self) {
        if !self.overflow {
            let line = self.line.strip_suffix(b"\r").unwrap_or(&self.line);
            if let Some(data) = line.strip_prefix(b"data:") {
                let data = data.trim_ascii();
                if data.starts_with(b"{\"error\"") {
                    self.saw_error = true;
                } else if contains(data, b"\"usage\"") {
                    if let Some(u) = usage_of(data) {
                        self.usage = Some(u);
                    }
                }
            }
        }
        self.line.clear();
        self.overflow = false;
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The body of a committed stream: upstream chunks passed on as they come, the outcome reported
/// to the engine at the end, an SSE error event if the upstream fails or stalls midway.
pub(crate) struct SseRelay {
    life: Life,
    attempt: Attempt,
    upstream: Incoming,
    first: Option<Bytes>,
    scanner: UsageScanner,
    ttft: Duration,
    limits: LimitHeaders,
    status: u16,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
    deadline: Pin<Box<Sleep>>,
    /// Last two bytes sent, to end a cut event cleanly before an error event.
    tail: [u8; 2],
    done: bool,
}

impl SseRelay {
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    fn pass(&mut self, data: Bytes) -> Poll<Option<Frame<Bytes>>> {
        self.scanner.feed(&data);
        match data.len() {
            0 => {}
            1 => self.tail = [self.tail[1], data[0]],
            n => self.tail = [data[n - 2], data[n - 1]],
        }
        Poll::Ready(Some(Frame::data(data)))
    }

    fn succeed(&mut self) -> Poll<Option<Frame<Bytes>>> {
        self.done = true;
        self.scanner.finish();
        let status = self.status;
        if self.scanner.saw_error {
            let outcome = Outcome::Failure {
                kind: FailureKind::Server,
                status: Some(status),
                retry_after: None,
                headers: self.limits,
            };
            self.life
                .finish_final(&self.attempt, &outcome, status, Some(self.ttft));
            return Poll::Ready(None);
        }
        let (input_tokens, output_tokens) = self
            .scanner
            .usage
            .unwrap_or((self.life.input_tokens, self.life.output_tokens));
        let outcome = Outcome::Success {
            ttft: self.ttft,
            input_tokens,
            output_tokens,
            headers: self.limits,
        };
        self.life
            .finish_final(&self.attempt, &outcome, status, Some(self.ttft));
        Poll::Ready(None)
    }

    fn fail(&mut self, kind: FailureKind, message: &str) -> Poll<Option<Frame<Bytes>>> {
        self.done = true;
        let status = self.status;
        let outcome = Outcome::Failure {
            kind,
            status: Some(status),
            retry_after: None,
            headers: self.limits,
        };
        self.life
            .finish_final(&self.attempt, &outcome, status, Some(self.ttft));
        warn!(
            request = self.life.number,
            outcome = kind.name(),
            "stream ended by an upstream failure"
        );
        let prefix: &str = match self.tail {
            [b'\n', b'\n'] => "",
            [_, b'\n'] => "\n",
            _ => "\n\n",
        };
        let event = format!(
            "{prefix}data: {}\n\n",
            error_json(message, "upstream_error", "stream_interrupted")
        );
        Poll::Ready(Some(Frame::data(Bytes::from(event))))
    }

    pub(crate) fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame<Bytes>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(first) = self.first.take() {
            return self.pass(first);
        }
        loop {
            match Pin::new(&mut self.upstream).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        if let Some((idle, sleep)) = &mut self.idle {
                            let at = tokio::time::Instant::now() + *idle;
                            sleep.as_mut().reset(at.min(self.deadline.deadline()));
                        }
                        return self.pass(data);
                    }
                    // Trailers are not relayed; keep reading.
                }
                Poll::Ready(Some(Err(_))) => {
                    return self.fail(
                        FailureKind::Connection,
                        "the upstream connection failed during the stream",
                    )
                }
                Poll::Ready(None) => return self.succeed(),
                Poll::Pending => break,
            }
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return self.fail(
                FailureKind::Timeout,
                "the stream exceeded the deployment's total_timeout",
            );
        }
        if let Some((_, sleep)) = &mut self.idle {
            if sleep.as_mut().poll(cx).is_ready() {
                return self.fail(
                    FailureKind::Timeout,
                    "the upstream stream stalled longer than the deployment's first_byte_timeout",
                );
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
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

    use super::*;

    #[test]
    fn scanner_finds_usage_across_chunk_boundaries() {
        let stream = b"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34}}\r\n\r\ndata: [DONE]\n\n";
        for split in 1..stream.len() {
            let mut s = UsageScanner::default();
            s.feed(&stream[..split]);
            s.feed(&stream[split..]);
            s.finish();
            assert_eq!(s.usage, Some((12, 34)), "split at {split}");
            assert!(!s.saw_error);
        }
    }

    #[test]
    fn scanner_sees_error_events() {
        let mut s = UsageScanner::default();
        s.feed(b"data: {\"error\":{\"message\":\"overloaded\"}}\n\n");
        s.finish();
        assert!(s.saw_error);
        assert_eq!(s.usage, None);
    }

    #[test]
    fn usage_of_answers() {
        assert_eq!(
            usage_of(br#"{"id":"x","usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}"#),
            Some((9, 7))
        );
        assert_eq!(
            usage_of(br#"{"usage":{"prompt_tokens":5,"total_tokens":5}}"#),
            Some((5, 0))
        );
        assert_eq!(usage_of(br#"{"usage":null}"#), None);
        assert_eq!(usage_of(b"not json"), None);
        // Usage first, a quoted "usage" inside content, whitespace around the colon.
        assert_eq!(
            usage_of(br#"{"usage" : {"prompt_tokens":1,"completion_tokens":2},"choices":[{"message":{"content":"say \"usage\": {}"}}]}"#),
            Some((1, 2))
        );
        assert_eq!(
            usage_of(br#"{"choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":5}"}}]}"#),
            None
        );
        assert_eq!(
            usage_of(
                br#"{"input_tokens_details":{},"usage":{"input_tokens":3,"output_tokens":4}}"#
            ),
            Some((3, 4))
        );
    }

    #[test]
    fn failure_errors_map_to_statuses() {
        let now = Duration::from_secs(10);
        let e = failure_error(
            FailReason::AttemptsExhausted {
                last: FailureKind::RateLimited,
            },
            3,
            now,
        );
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        let e = failure_error(
            FailReason::NoCapacity {
                earliest: Some(Duration::from_millis(12_500)),
            },
            0,
            now,
        );
        assert_eq!(
            (e.status, e.retry_after),
            (StatusCode::SERVICE_UNAVAILABLE, Some(3))
        );
        let e = failure_error(
            FailReason::AttemptsExhausted {
                last: FailureKind::Timeout,
            },
            2,
            now,
        );
        assert_eq!(e.status, StatusCode::GATEWAY_TIMEOUT);
    }
}
