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

use bytes::Bytes;
use engine::{FailureKind, Outcome, Request, Step};
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use hyper::body::Incoming;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::time::sleep_until;
use tracing::{debug, info, warn};

use crate::attempt::{client_error_outcome, later, AttemptResult};
use crate::body::Body;
use crate::error::ApiError;
use crate::failure::failure_error;
use crate::headers;
use crate::hedge::Raced;
use crate::launch::{Launched, Sender};
use crate::life::{Attempt, Life};
use crate::live::WorkerClients;
use crate::relay::SseRelay;
use crate::request::{Endpoint, ParsedRequest};
use crate::respond::respond;
use crate::state::Shared;
use crate::translate::{self, Plan, Shape, Transcoder};
use crate::usage::{usage_of, Tokens, UsageScanner};

/// Header naming the deployment that answered.
pub const DEPLOYMENT_HEADER: &str = "x-switchyard-deployment";
/// [`DEPLOYMENT_HEADER`] as a header name.
pub(crate) const DEPLOYMENT: HeaderName = HeaderName::from_static(DEPLOYMENT_HEADER);

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
    match crate::intake::prepare(gw, endpoint, req).await {
        Ok((parsed, body, (tier, headers))) => {
            run(gw, clients, endpoint, parsed, body, (tier, client, headers)).await
        }
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

async fn run(
    gw: &Arc<Shared>,
    clients: &WorkerClients,
    endpoint: Endpoint,
    parsed: ParsedRequest,
    body: Bytes,
    (tier, client, headers): (Option<String>, Option<Arc<str>>, http::HeaderMap),
) -> Response<Body> {
    let number = gw.next_request.fetch_add(1, Ordering::Relaxed);
    let now = gw.now();
    // The end-to-end deadline is fixed at the start: read it while the engine is locked anyway.
    let (mut step, config, tier, deadline) = {
        let mut engine = gw.lock();
        let tier = match crate::intake::resolve(&engine.live().config, &parsed, tier.as_deref()) {
            Ok(tier) => tier,
            Err(e) => return translate::error_response(&e, Shape::of_client(endpoint)),
        };
        let request = Request {
            tier,
            input_tokens: parsed.input_tokens,
            output_tokens: parsed.output_tokens,
        };
        let header = &engine.live().config.affinity.header;
        let session = crate::session::key(header, &headers, parsed.session);
        let step = match (&client, session) {
            (None, Some(session)) => engine.start_in_session(request, session, now),
            (None, None) => engine.start(request, now),
            (Some(name), session) => {
                match crate::clients::start(&mut engine, name, request, session, (now, &gw.clock)) {
                    Ok(step) => step,
                    Err(e) => {
                        let tier = engine.live().tier_names[tier.index()].clone();
                        drop(engine);
                        let model = Arc::from(parsed.model.as_str());
                        let tokens = (parsed.input_tokens, parsed.output_tokens);
                        crate::life::client_refused(
                            gw,
                            number,
                            (model, tier),
                            tokens,
                            parsed.stream,
                            name.clone(),
                        );
                        return translate::error_response(&e, Shape::of_client(endpoint));
                    }
                }
            }
        };
        let live = engine.live().clone();
        let name = live.tier_names[tier.index()].clone();
        let deadline = engine
            .deadline(step.request())
            .map(|at| gw.clock.instant(at));
        (step, live, name, deadline)
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
        stream: parsed.stream,
        client,
        current: None,
        hedge: None,
        arrived: now,
        cached: 0,
    };
    let mut attempts = 0u8;
    let client_shape = Shape::of_client(endpoint);
    let mut sender = Sender {
        gw,
        clients,
        endpoint,
        parsed: &parsed,
        body: &body,
        deadline,
        canonical: None,
    };
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
                let launched = match sender.launch(&live, deployment, attempt) {
                    Ok(launched) => launched,
                    Err(u) => {
                        return refuse(&mut life, &u.a, client_shape, &u.deployment_id, &u.why)
                    }
                };
                life.current = Some(launched.a.clone());
                let (launched, answer) =
                    match crate::hedge::race(&mut sender, &mut life, launched).await {
                        Raced::Answer(launched, answer) => (launched, answer),
                        Raced::Step(next) => {
                            step = next;
                            continue;
                        }
                    };
                let Launched {
                    a,
                    deployment,
                    live,
                    plan,
                    ..
                } = launched;
                attempts = attempts.max(a.number);
                let attempt = a.number;
                let up = &live.upstreams[deployment.index()];
                match answer {
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
                                        Some(Tokens {
                                            input: u.input_tokens,
                                            output: u.output_tokens,
                                            cached: u.cache_read_tokens,
                                        }),
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
                        let tokens = usage.unwrap_or(Tokens {
                            input: parsed.input_tokens,
                            output: parsed.output_tokens,
                            cached: 0,
                        });
                        life.cache_read(tokens.cached);
                        let outcome = Outcome::Success {
                            ttft,
                            input_tokens: tokens.input,
                            output_tokens: tokens.output,
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
                        let deadline = later(a.sent, gw.clock.real(up.total_timeout));
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
                                let t = gw.clock.real(t);
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
                        let outcome = client_error_outcome(&parts, context_length);
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
                sleep_until(gw.clock.instant(until).into()).await;
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
                if attempts == 0 {
                    life.refused();
                }
                let e = failure_error(reason, attempts, gw.now(), &gw.clock);
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
