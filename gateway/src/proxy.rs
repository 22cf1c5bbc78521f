//! The proxy path: read and check the client's body, route it, then follow the engine's steps —
//! send an attempt, report its outcome, send elsewhere or wait — until the answer is committed.
//!
//! Nothing reaches the client before an attempt has succeeded: a 429, 5xx, refused key, connect
//! error or first-byte timeout is reported to the engine and its next step is followed. For a
//! stream, the answer is committed at the first frame with content (start-up frames are held,
//! see [`crate::startup`]); after that an upstream failure ends the stream with an SSE error
//! event (never a silent restart elsewhere). The request's deadline (`[retry] deadline`) bounds
//! every attempt and wait until the answer is committed. A client that goes away drops the
//! handler (or the relayed body), which cancels the upstream request and releases the engine's
//! in-flight slot through [`Life`]'s `Drop`.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use engine::{FailureKind, LimitHeaders, Outcome, Request, Step, TierId};
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use tokio::time::{sleep_until, timeout_at};
use tracing::{debug, info, warn};

use crate::body::Body;
use crate::error::ApiError;
use crate::failure::failure_error;
use crate::headers;
use crate::life::{Attempt, Life};
use crate::live::WorkerClients;
use crate::protocol::canonical::{ChatRequest, Untranslatable};
use crate::relay::SseRelay;
use crate::request::{self, Endpoint, ParsedRequest};
use crate::startup::{Startup, Verdict};
use crate::state::Shared;
use crate::translate::{self, Plan, Shape, Transcoder};
use crate::upstream::{Upstream, UpstreamClient};
use crate::usage::{usage_of, UsageScanner};

/// Header naming the deployment that answered.
pub const DEPLOYMENT_HEADER: &str = "x-switchyard-deployment";
const DEPLOYMENT: HeaderName = HeaderName::from_static(DEPLOYMENT_HEADER);
const TIER: HeaderName = HeaderName::from_static(TIER_HEADER);

/// Header naming a tier directly, bypassing model routing.
pub const TIER_HEADER: &str = "x-switchyard-tier";

/// Handles one proxied request after authentication.
pub(crate) async fn handle(
    gw: &Arc<Shared>,
    clients: &WorkerClients,
    endpoint: Endpoint,
    req: http::Request<Incoming>,
    client: Option<Arc<str>>,
) -> Response<Body> {
    let shape = Shape::of_client(endpoint);
    match prepare(gw, endpoint, req).await {
        Ok((parsed, body, tier)) => run(gw, clients, endpoint, parsed, body, (tier, client)).await,
        Err(e) if e.status == StatusCode::REQUEST_TIMEOUT => {
            // The connection is in an unknown state mid-body: close it after the answer.
            let mut res = translate::error_response(&e, shape);
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            res
        }
        Err(e) => translate::error_response(&e, shape),
    }
}

async fn prepare(
    gw: &Arc<Shared>,
    endpoint: Endpoint,
    req: http::Request<Incoming>,
) -> Result<(ParsedRequest, Bytes, Option<String>), ApiError> {
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
    let timeout = gw.settings.body_read_timeout;
    let body = match tokio::time::timeout(timeout, read_body(body, limit)).await {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                "request_timeout",
                format!(
                    "the request body was not received within {} s (--body-read-timeout)",
                    timeout.as_secs_f64()
                ),
            ))
        }
        Ok(Ok(bytes)) => bytes,
        Ok(Err(ReadError::TooLarge)) => return Err(too_large()),
        Ok(Err(ReadError::Body(e))) => {
            return Err(ApiError::bad_request(
                "body_read_error",
                format!("could not read the request body: {e}"),
            ))
        }
    };
    let parsed =
        request::parse(&body, endpoint).map_err(|e| ApiError::bad_request("invalid_json", e.0))?;
    let tier = parts
        .headers
        .get(&TIER)
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    Ok((parsed, body, tier))
}

/// The tier serving a request: the one `x-switchyard-tier` names, else routing by model. Done
/// under the engine's lock, with the config the engine runs.
fn resolve(
    config: &engine::Config,
    parsed: &ParsedRequest,
    tier: Option<&str>,
) -> Result<TierId, ApiError> {
    match tier {
        Some(name) => config.tier_by_name(name).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "tier_not_found",
                format!("{TIER_HEADER} names no configured tier: {name:?}"),
            )
        }),
        None => config.route(&parsed.model).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!(
                    "the model {:?} does not exist or is not routed by this gateway (see GET /v1/models)",
                    parsed.model
                ),
            )
        }),
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

async fn run(
    gw: &Arc<Shared>,
    clients: &WorkerClients,
    endpoint: Endpoint,
    parsed: ParsedRequest,
    body: Bytes,
    (tier, client): (Option<String>, Option<Arc<str>>),
) -> Response<Body> {
    let number = gw.next_request.fetch_add(1, Ordering::Relaxed);
    let now = gw.now();
    let (mut step, config, tier) = {
        let mut engine = gw.lock();
        let tier = match resolve(&engine.live().config, &parsed, tier.as_deref()) {
            Ok(tier) => tier,
            Err(e) => return translate::error_response(&e, Shape::of_client(endpoint)),
        };
        let request = Request {
            tier,
            input_tokens: parsed.input_tokens,
            output_tokens: parsed.output_tokens,
        };
        let step = match client {
            None => engine.start(request, now),
            Some(name) => match crate::clients::start(&mut engine, &name, request, now) {
                Ok(step) => step,
                Err(e) => return translate::error_response(&e, Shape::of_client(endpoint)),
            },
        };
        let live = engine.live().clone();
        let name = live.tier_names[tier.index()].clone();
        (step, live, name)
    };
    let mut life = Life {
        gw: gw.clone(),
        id: step.request(),
        live: !step.is_terminal(),
        number,
        model: Arc::from(parsed.model.as_str()),
        tier,
        config,
        input_tokens: parsed.input_tokens,
        output_tokens: parsed.output_tokens,
    };
    let mut attempts = 0u8;
    let client_shape = Shape::of_client(endpoint);
    // The client's request in the shape-neutral form, parsed on the first translation.
    let mut canonical: Option<Result<ChatRequest, Untranslatable>> = None;
    loop {
        match step {
            Step::Send {
                deployment,
                attempt,
                ..
            } => {
                attempts = attempt;
                // The config the engine picked from: its upstream lives while this attempt runs.
                let live = life.config.clone();
                let up = &live.upstreams[deployment.index()];
                let sent = Instant::now();
                let a = Attempt {
                    name: live.deployment_names[deployment.index()].clone(),
                    number: attempt,
                    sent,
                    sent_at: sent.saturating_duration_since(gw.epoch),
                };
                let plan = translate::plan(endpoint, up.api);
                let (upstream_endpoint, upstream_body) = match plan {
                    Plan::Passthrough => (
                        endpoint,
                        request::rewrite_model(&body, parsed.model_span, &up.model_json),
                    ),
                    Plan::Translate { from, to } => {
                        let canonical = canonical.get_or_insert_with(|| from.parse_request(&body));
                        match canonical
                            .as_ref()
                            .map_err(Clone::clone)
                            .and_then(|c| to.render_request(c, &up.model))
                        {
                            Ok(b) => (to.endpoint(), Bytes::from(b)),
                            Err(u) => {
                                return refuse(&mut life, &a, client_shape, &up.id, &u.to_string())
                            }
                        }
                    }
                    Plan::Refuse => {
                        let why = format!(
                            "{} has no equivalent at an Anthropic deployment",
                            endpoint.suffix()
                        );
                        return refuse(&mut life, &a, client_shape, &up.id, &why);
                    }
                };
                let req = up.request(upstream_endpoint, upstream_body, parsed.stream);
                let client = &clients.get(&live, deployment);
                let cap = life.deadline();
                match attempt_once(up, client, req, parsed.stream, sent, cap).await {
                    AttemptResult::Expired => {
                        info!(request = number, deployment = %up.id, attempt, "the request's deadline passed during the attempt");
                        step = life.expire(Some(&a));
                    }
                    AttemptResult::Complete {
                        mut parts,
                        body,
                        ttft,
                    } => {
                        let (body, usage) = match plan {
                            Plan::Translate { from, to } => match to.parse_response(&body) {
                                Ok(answer) => {
                                    let u = answer.usage;
                                    parts.headers.insert(
                                        header::CONTENT_TYPE,
                                        HeaderValue::from_static("application/json"),
                                    );
                                    (
                                        Bytes::from(from.render_response(&answer, &parsed.model)),
                                        Some((u.input_tokens, u.output_tokens)),
                                    )
                                }
                                Err(e) => {
                                    warn!(request = number, deployment = %up.id, error = %e, "answer not understood: counted as a server error");
                                    let outcome = Outcome::failure(FailureKind::Server);
                                    step = life.finish(
                                        &a,
                                        &outcome,
                                        parts.status.as_u16(),
                                        Some(ttft),
                                    );
                                    continue;
                                }
                            },
                            _ => {
                                let u = usage_of(&body);
                                (body, u)
                            }
                        };
                        let (input_tokens, output_tokens) =
                            usage.unwrap_or((parsed.input_tokens, parsed.output_tokens));
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
                        let deadline = later(a.sent, up.total_timeout);
                        let transcoder = match plan {
                            Plan::Translate { from, to } => {
                                let usage = from == Shape::OpenAiChat
                                    && crate::protocol::openai_chat::include_usage(&body);
                                Some(Transcoder::new(to, from, &parsed.model, usage))
                            }
                            _ => None,
                        };
                        let relay = SseRelay {
                            life,
                            attempt: a,
                            upstream: rest,
                            client: client_shape,
                            transcoder,
                            first,
                            scanner: UsageScanner::default(),
                            ttft,
                            limits: headers::limit_headers(&parts.headers),
                            status: parts.status.as_u16(),
                            idle: up.first_byte_timeout.map(|t| {
                                (
                                    t,
                                    Box::pin(tokio::time::sleep_until(
                                        later(Instant::now(), t).min(deadline).into(),
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
                        if let Plan::Translate { from, .. } = plan {
                            // The provider's own words are in its shape: say it in the client's.
                            let message = format!(
                                "deployment {} rejected the request with status {status}",
                                up.id
                            );
                            let mut res = Response::new(Body::full(Bytes::from(
                                from.error_body(translate::error_kind(status), &message),
                            )));
                            *res.status_mut() = parts.status;
                            res.headers_mut().insert(
                                header::CONTENT_TYPE,
                                HeaderValue::from_static("application/json"),
                            );
                            res.headers_mut().insert(DEPLOYMENT, up.id_header.clone());
                            return res;
                        }
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
                // The engine never hands out a wait past the request's deadline.
                sleep_until(later(gw.epoch, until).into()).await;
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
                return translate::error_response(&e, client_shape);
            }
        }
    }
}

/// Answers 400 for a request that cannot be expressed at the chosen deployment (a field with no
/// equivalent in its API shape), reporting the attempt as the client error it is.
fn refuse(
    life: &mut Life,
    a: &Attempt,
    shape: Shape,
    deployment: &str,
    why: &str,
) -> Response<Body> {
    life.finish_final(a, &Outcome::failure(FailureKind::Client), 400, None);
    info!(
        request = life.number,
        deployment, why, "request cannot be translated"
    );
    let e = ApiError::bad_request(
        "untranslatable_request",
        format!("cannot be served by deployment {deployment:?}: {why}"),
    );
    translate::error_response(&e, shape)
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

/// `at + d`, or far in the future when that does not fit an `Instant`.
pub(crate) fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .unwrap_or_else(|| at + Duration::from_secs(365 * 86_400))
}

/// One attempt, bounded by the deployment's `total_timeout` and the request's deadline (one
/// timer for the whole attempt; a second one only when `first_byte_timeout` is set).
async fn attempt_once(
    up: &Upstream,
    client: &UpstreamClient,
    req: http::Request<http_body_util::Full<Bytes>>,
    stream: bool,
    sent: Instant,
    deadline: Option<Instant>,
) -> AttemptResult {
    let total = later(sent, up.total_timeout);
    let limit = deadline.map_or(total, |d| d.min(total));
    let first_byte = up
        .first_byte_timeout
        .map(|t| later(sent, t).min(limit))
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
fn failed_answer(
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
fn drain(body: Incoming) {
    tokio::spawn(async move {
        let drain = Limited::new(body, 64 * 1024).collect();
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    });
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
