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
use engine::{FailReason, FailureKind, Outcome, Request, Step};
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use hyper::body::Incoming;
use std::ops::ControlFlow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::time::sleep_until;
use tracing::{info, warn};

use crate::attempt::AttemptResult;
use crate::body::Body;
use crate::error::ApiError;
use crate::failure::failure_error;
use crate::hedge::Raced;
use crate::launch::Sender;
use crate::life::{Attempt, Life};
use crate::live::WorkerClients;
use crate::request::{Endpoint, ParsedRequest};
use crate::state::Shared;
use crate::translate::{self, Shape};

mod answer;

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

/// Follows the engine's steps for one started request until its answer is committed: each
/// attempt launched and awaited (raced against a hedge when its tier hedges) and its answer
/// settled by [`answer`], each wait slept, a failure answered. The only awaits of the request's
/// path after its body was read are here (the race and the wait), so the helpers add none.
async fn run(
    gw: &Arc<Shared>,
    clients: &WorkerClients,
    endpoint: Endpoint,
    parsed: ParsedRequest,
    body: Bytes,
    asked: (Option<String>, Option<Arc<str>>, http::HeaderMap),
) -> Response<Body> {
    let (mut step, mut life, deadline) = match start(gw, endpoint, &parsed, asked) {
        Ok(started) => started,
        Err(refused) => return refused,
    };
    // The highest attempt number sent so far (0: none, the request was refused before any).
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
                // Launched here, not in a helper: returning the attempt through a `Result` cost
                // five more memcpy calls per request (counted with callgrind).
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
                attempts = attempts.max(launched.a.number);
                step = match answer {
                    AttemptResult::Stream {
                        parts,
                        first,
                        rest,
                        ttft,
                    } => {
                        let stream = (parts, first, rest);
                        return answer::relay(
                            life,
                            launched,
                            stream,
                            ttft,
                            (&sender, client_shape),
                        );
                    }
                    answer => match answer::settle(&mut life, &launched, answer, &parsed) {
                        ControlFlow::Continue(next) => next,
                        ControlFlow::Break(res) => return res,
                    },
                };
            }
            Step::Wait { until, .. } => {
                // The engine never hands out a wait past the request's deadline.
                sleep_until(gw.clock.instant(until).into()).await;
                step = life.resume();
            }
            Step::Done { .. } => return lost(),
            Step::Failed { reason, .. } => {
                return failed(&mut life, reason, attempts, client_shape)
            }
        }
    }
}

/// Starts the request in the engine: its tier resolved (the model's, or the tier header's), a
/// client key's own tier, limits and budgets applied, the engine's first step taken, and the
/// request's [`Life`] begun with the config that step refers to. Also the end-to-end deadline,
/// fixed at the start and read while the engine is locked anyway. `Err` is the answer to a
/// request refused before the engine took it (returned by value, as the started request is:
/// boxing it would cost an allocation per refusal).
#[inline]
#[allow(clippy::result_large_err)]
fn start(
    gw: &Arc<Shared>,
    endpoint: Endpoint,
    parsed: &ParsedRequest,
    (tier, client, headers): (Option<String>, Option<Arc<str>>, http::HeaderMap),
) -> Result<(Step, Life, Option<Instant>), Response<Body>> {
    let number = gw.next_request.fetch_add(1, Ordering::Relaxed);
    let now = gw.now();
    let (step, config, tier, deadline) = {
        let mut engine = gw.lock();
        let tier = match crate::intake::resolve(&engine.live().config, parsed, tier.as_deref()) {
            Ok(tier) => tier,
            Err(e) => return Err(translate::error_response(&e, Shape::of_client(endpoint))),
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
                        return Err(translate::error_response(&e, Shape::of_client(endpoint)));
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
    let life = Life {
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
    Ok((step, life, deadline))
}

/// The engine failed the request (no deployment left, deadline, budget…): its error in the
/// client's shape. A request that failed before any attempt also gets its `refused` trace row,
/// so the trace holds every request.
fn failed(life: &mut Life, reason: FailReason, attempts: u8, shape: Shape) -> Response<Body> {
    life.live = false;
    if attempts == 0 {
        life.refused();
    }
    let gw = &life.gw;
    let e = failure_error(reason, attempts, gw.now(), &gw.clock);
    warn!(
        request = life.number,
        reason = reason.name(),
        attempts,
        status = e.status.as_u16(),
        "request failed"
    );
    translate::error_response(&e, shape)
}

/// A `Done` step where the proxy awaits a next step: only a finish of a success ends in `Done`,
/// and the proxy answers the client right after that one, so this is an internal error.
fn lost() -> Response<Body> {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "internal_error",
        "the gateway lost track of this request",
    )
    .response()
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
