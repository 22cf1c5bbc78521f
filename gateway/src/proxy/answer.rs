//! An attempt's answer once its race is over: a success answered (translated into the client's
//! shape when the deployment speaks another, its usage reported), a committed stream handed to
//! the relay, a client error passed through (or moved to a longer-context tier), and a failure
//! or a passed deadline reported for the engine's next step.

use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use bytes::Bytes;
use engine::{FailureKind, Outcome, Step};
use http::header::{self, HeaderValue};
use http::Response;
use hyper::body::Incoming;
use tokio::time::sleep_until;
use tracing::{debug, info, warn};

use crate::attempt::{client_error_outcome, later, AttemptResult};
use crate::body::Body;
use crate::headers;
use crate::launch::{Launched, Sender};
use crate::life::Life;
use crate::proxy::DEPLOYMENT;
use crate::relay::SseRelay;
use crate::request::ParsedRequest;
use crate::respond::respond;
use crate::translate::{self, Plan, Shape, Transcoder};
use crate::usage::{usage_of, Tokens, UsageScanner};

/// What an answer comes to: the client's response (`Break`), or the engine's next step for
/// the request (`Continue`). A plain enum returned by value: nothing allocated.
pub(super) type Settled = ControlFlow<Response<Body>, Step>;

/// Settles `launched`'s answer, any but a committed stream (the caller hands that to [`relay`],
/// which takes the request's life with it): the engine is told the outcome, and the answer
/// either goes to the client or the request goes on with the engine's next step.
pub(super) fn settle(
    life: &mut Life,
    launched: &Launched,
    answer: AttemptResult,
    parsed: &ParsedRequest,
) -> Settled {
    let (a, up) = (&launched.a, launched.upstream());
    match answer {
        AttemptResult::Expired => {
            info!(request = life.number, deployment = %up.id, attempt = a.number, "the request's deadline passed during the attempt");
            ControlFlow::Continue(life.expire(Some(a)))
        }
        AttemptResult::Complete { parts, body, ttft } => {
            complete(life, launched, (parts, body), ttft, parsed)
        }
        AttemptResult::ClientError {
            parts,
            body,
            ttft,
            context_length,
        } => client_error(life, launched, (parts, body), ttft, context_length),
        AttemptResult::Failed {
            outcome,
            status,
            ttft,
        } => {
            let kind = outcome.failure_kind().unwrap_or(FailureKind::Server);
            info!(
                request = life.number,
                deployment = %up.id,
                attempt = a.number,
                outcome = kind.name(),
                status,
                "attempt failed"
            );
            ControlFlow::Continue(life.finish(a, &outcome, status, ttft))
        }
        // `run` relays a committed stream itself and never settles one; were that to change,
        // the client gets a 500 rather than the gateway a panic.
        AttemptResult::Stream { .. } => {
            debug_assert!(false, "a committed stream is relayed, not settled");
            ControlFlow::Break(super::lost())
        }
    }
}

/// A whole successful answer: reported to the engine with its usage (the answer's own, or the
/// request's estimate) and sent to the client — unless the deployment's answer, to be
/// translated, cannot be understood, which counts as a server error and the request goes on.
fn complete(
    life: &mut Life,
    launched: &Launched,
    (mut parts, body): (http::response::Parts, Bytes),
    ttft: Duration,
    parsed: &ParsedRequest,
) -> Settled {
    let (a, up) = (&launched.a, launched.upstream());
    let (body, usage) = match launched.plan {
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
                warn!(request = life.number, deployment = %up.id, error = %e, "answer not understood: counted as a server error");
                let outcome = Outcome::failure(FailureKind::Server);
                let status = parts.status.as_u16();
                return ControlFlow::Continue(life.finish(a, &outcome, status, Some(ttft)));
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
    life.finish(a, &outcome, parts.status.as_u16(), Some(ttft));
    debug!(request = life.number, deployment = %up.id, attempt = a.number, "ok");
    ControlFlow::Break(respond(parts, Body::full(body), &up.id_header))
}

/// A 4xx other than 429: a context-length rejection moves the request to its tier's
/// longer-context fallback when there is one; otherwise the provider's answer goes to the
/// client, in the client's shape when the deployment speaks another.
fn client_error(
    life: &mut Life,
    launched: &Launched,
    (parts, body): (http::response::Parts, Body),
    ttft: Duration,
    context_length: bool,
) -> Settled {
    let (a, up) = (&launched.a, launched.upstream());
    let status = parts.status.as_u16();
    let outcome = client_error_outcome(&parts, context_length);
    if context_length {
        // The engine moves the request to the tier's context fallback, if it has one;
        // otherwise the provider's answer goes back as it is.
        let step = life.finish(a, &outcome, status, Some(ttft));
        if !step.is_terminal() {
            info!(request = life.number, deployment = %up.id, "input exceeds the context window: moving to the longer-context tier");
            return ControlFlow::Continue(step);
        }
    } else {
        life.finish_final(a, &outcome, status, Some(ttft));
    }
    info!(request = life.number, deployment = %up.id, status, "upstream rejected the request: passed through");
    if let Plan::Translate { from, .. } = launched.plan {
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
        return ControlFlow::Break(res);
    }
    ControlFlow::Break(respond(parts, body, &up.id_header))
}

/// A committed stream: the client's response, whose body relays the rest of the upstream's
/// stream (translated when the shapes differ) and reports the outcome at its end — so it takes
/// the request's life, and the attempt, with it.
pub(super) fn relay(
    life: Life,
    launched: Launched,
    (parts, first, rest): (http::response::Parts, VecDeque<Bytes>, Incoming),
    ttft: Duration,
    (sender, client): (&Sender<'_>, Shape),
) -> Response<Body> {
    let Launched {
        a,
        deployment,
        live,
        plan,
        ..
    } = launched;
    let up = &live.upstreams[deployment.index()];
    let gw = sender.gw;
    debug!(request = life.number, deployment = %up.id, attempt = a.number, "stream started");
    life.first_byte();
    let deadline = later(a.sent, gw.clock.real(up.total_timeout));
    let transcoder = match plan {
        Plan::Translate { from, to } => {
            let usage = from == Shape::OpenAiChat
                && crate::protocol::openai_chat::include_usage(sender.body);
            Some(Transcoder::new(to, from, &sender.parsed.model, usage))
        }
        _ => None,
    };
    let relay = SseRelay {
        life,
        attempt: a,
        upstream: rest,
        client,
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
    respond(parts, Body::relay(relay), &up.id_header)
}
