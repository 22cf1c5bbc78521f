//! The mock's HTTP side: accept loop, request parsing, carrying out the model's decisions.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use engine::config::Api;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tracing::debug;

use super::answer::{Generation, MockBody, Shape};
use super::errors::{self, error, json_type};
use super::headers::{insert_limits, insert_retry};
use super::model::{Ask, Decision, Model};
use super::precise;
use super::{MockError, MockStats, SHUTDOWN_GRACE};
use gateway::request::Endpoint;

/// Largest request body the mock reads (413 above).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// State shared by every connection of one mock.
pub(crate) struct Shared {
    pub model: Model,
    /// The API it speaks.
    pub api: Api,
    pub stats: Arc<MockStats>,
    next_id: AtomicU64,
}

impl Shared {
    /// Writes the deployment's rate-limit headers as they are now, in its API's form.
    fn limit_headers(&self, res: &mut Response<MockBody>) {
        let h = self.model.headers();
        insert_limits(res.headers_mut(), self.api, &h, SystemTime::now());
    }

    pub fn new(model: Model, api: Api) -> Shared {
        Shared {
            model,
            api,
            stats: Arc::new(MockStats::default()),
            next_id: AtomicU64::new(1),
        }
    }
}

/// The connection is dropped without an answer (a `connection` outage).
#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("mock provider: connection outage, dropping the connection")
    }
}

impl std::error::Error for Refused {}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), MockError> {
    let http = gateway::accept::http1_server(gateway::DEFAULT_HEADER_READ_TIMEOUT);
    let mut accept_errors = gateway::accept::AcceptErrors::default();
    let graceful = GracefulShutdown::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Some((stream, peer)) = gateway::accept::accepted_or_back_off(accepted, &mut accept_errors).await else {
                    continue;
                };
                if shared.model.refusing() {
                    // Reset at once (SO_LINGER 0): as close to "connection refused" as a
                    // listening socket gets.
                    shared.stats.refused.fetch_add(1, Ordering::Relaxed);
                    if let Ok(std) = stream.into_std() {
                        let _ = socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO));
                    }
                    continue;
                }
                let _ = stream.set_nodelay(true);
                let s = shared.clone();
                let service = service_fn(move |req| {
                    let s = s.clone();
                    async move { handle(s, req).await }
                });
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                let mut stop = stop_rx.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        r = conn => if let Err(e) = r {
                            debug!(%peer, error = %e, "mock connection ended with an error");
                        },
                        _ = stop.wait_for(|s| *s) => {}
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {}
    }
    let _ = stop_tx.send(true);
    Ok(())
}

/// Counts a request whose handler was dropped before it answered.
struct Pending<'a> {
    stats: &'a MockStats,
    answered: bool,
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.answered {
            self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The shape a completion path asks for, if the mock's API serves it.
fn shape_of(api: Api, path: &str) -> Option<Shape> {
    match api {
        Api::Anthropic => path.ends_with("/messages").then_some(Shape::Messages),
        Api::OpenAi if path.ends_with("/chat/completions") => Some(Shape::Chat),
        Api::OpenAi if path.ends_with("/completions") => Some(Shape::Completions),
        Api::OpenAi if path.ends_with("/embeddings") => Some(Shape::Embeddings),
        Api::OpenAi => None,
    }
}

#[derive(Deserialize)]
struct MaxTokens {
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
}

async fn handle(s: Arc<Shared>, req: Request<Incoming>) -> Result<Response<MockBody>, Refused> {
    let api = s.api;
    let Some(shape) = shape_of(api, req.uri().path()) else {
        return Ok(other(&s, &req));
    };
    if req.method() != Method::POST {
        let mut res = error(
            api,
            StatusCode::METHOD_NOT_ALLOWED,
            "this path accepts POST only",
            "method_not_allowed",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Ok(res);
    }
    // Every wait below is scheduled from here (the request's head arrived), not from after the
    // mock's own work (reading and parsing the body, drawing): a provider's latency is measured
    // from the request, so the mock's processing must not add to it.
    let arrived = Instant::now();
    let stats = &s.stats;
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let mut pending = Pending {
        stats,
        answered: false,
    };
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            pending.answered = true;
            stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            let too_large = e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some();
            return Ok(if too_large {
                error(
                    api,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large",
                    "request_too_large",
                )
            } else {
                error(
                    api,
                    StatusCode::BAD_REQUEST,
                    "could not read the request body",
                    "invalid_body",
                )
            });
        }
    };
    let endpoint = match shape {
        Shape::Chat => Endpoint::Chat,
        Shape::Completions => Endpoint::Completions,
        Shape::Embeddings => Endpoint::Embeddings,
        Shape::Messages => Endpoint::Messages,
    };
    let parsed = gateway::request::parse(&body, endpoint).and_then(|p| {
        let m: MaxTokens = serde_json::from_slice(&body)
            .map_err(|e| gateway::request::BadRequest(e.to_string()))?;
        let max_tokens = m.max_completion_tokens.or(m.max_tokens);
        if shape == Shape::Messages && max_tokens.is_none() {
            // Anthropic requires it.
            return Err(gateway::request::BadRequest(
                "max_tokens: Field required".into(),
            ));
        }
        Ok((p, max_tokens))
    });
    let (parsed, max_tokens) = match parsed {
        Ok(p) => p,
        Err(e) => {
            pending.answered = true;
            stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            let mut res = error(api, StatusCode::BAD_REQUEST, &e.0, "invalid_json");
            s.limit_headers(&mut res);
            return Ok(res);
        }
    };
    let ask = Ask {
        input_tokens: parsed.input_tokens,
        max_tokens: max_tokens.map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
        embeddings: shape == Shape::Embeddings,
    };
    let decision = s.model.decide(ask);
    debug!(deployment = s.model.id(), ?decision, "mock decision");
    let (output_tokens, capped, input_tokens, service) = match decision {
        Decision::Refuse => {
            pending.answered = true;
            stats.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Refused);
        }
        Decision::Hang => {
            stats.hung.fetch_add(1, Ordering::Relaxed);
            // Never answers: ends when the client goes away or the server shuts down.
            std::future::pending::<()>().await;
            unreachable!("a pending future never resolves");
        }
        Decision::Unavailable { after } => {
            precise::sleep_until(arrived + after).await;
            pending.answered = true;
            stats.unavailable.fetch_add(1, Ordering::Relaxed);
            let mut res = errors::outage(api);
            s.limit_headers(&mut res);
            return Ok(res);
        }
        Decision::RateLimited { after, retry_after } => {
            precise::sleep_until(arrived + after).await;
            pending.answered = true;
            stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut res = errors::rate_limited(api);
            s.limit_headers(&mut res);
            insert_retry(res.headers_mut(), api, retry_after);
            return Ok(res);
        }
        Decision::ContextLength {
            after,
            tokens,
            window,
        } => {
            precise::sleep_until(arrived + after).await;
            pending.answered = true;
            stats.context_length.fetch_add(1, Ordering::Relaxed);
            let mut res = errors::context_length(api, tokens, window);
            s.limit_headers(&mut res);
            return Ok(res);
        }
        Decision::ServerError { after } => {
            precise::sleep_until(arrived + after).await;
            pending.answered = true;
            stats.server_errors.fetch_add(1, Ordering::Relaxed);
            let mut res = errors::server_error(api);
            s.limit_headers(&mut res);
            return Ok(res);
        }
        Decision::Serve {
            output_tokens,
            capped,
            input_tokens,
            service,
        } => (output_tokens, capped, input_tokens, service),
    };
    // Service begins on arrival, or when a queued request gets its slot.
    let (service, permit, began) = match service {
        Some((service, permit)) => (service, permit, arrived),
        None => {
            stats.queued.fetch_add(1, Ordering::Relaxed);
            let (service, permit) = s.model.queue().await;
            (service, permit, Instant::now())
        }
    };
    let n = s.next_id.fetch_add(1, Ordering::Relaxed);
    let generation = Generation {
        shape,
        id: match shape {
            Shape::Chat => format!("chatcmpl-mock-{n}"),
            Shape::Completions => format!("cmpl-mock-{n}"),
            Shape::Embeddings => format!("embd-mock-{n}"),
            Shape::Messages => format!("msg_mock_{n}"),
        },
        created: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model: parsed.model,
        input_tokens,
        output_tokens,
        capped,
    };
    let first_token = began + service.ttft;
    precise::sleep_until(first_token).await;
    let streamed = parsed.stream && shape != Shape::Embeddings;
    let mut res = if streamed {
        pending.answered = true;
        let body = MockBody::stream(
            generation,
            first_token,
            service.per_token,
            permit,
            s.stats.clone(),
        );
        let mut res = Response::new(body);
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        res
    } else {
        precise::sleep_until(first_token + service.per_token.saturating_mul(output_tokens)).await;
        pending.answered = true;
        drop(permit);
        stats.ok.fetch_add(1, Ordering::Relaxed);
        let mut res = Response::new(MockBody::full(generation.full()));
        json_type(&mut res);
        res
    };
    s.limit_headers(&mut res);
    Ok(res)
}

/// Everything that is not a completion: `/health`, `/v1/models`, 404.
fn other(s: &Shared, req: &Request<Incoming>) -> Response<MockBody> {
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    let path = req.uri().path();
    if get && path == "/health" {
        let mut res = Response::new(MockBody::full(Bytes::from_static(b"{\"status\":\"ok\"}")));
        json_type(&mut res);
        return res;
    }
    if get && path.ends_with("/models") {
        let name = s.model.model_name();
        let doc = match s.api {
            Api::OpenAi => serde_json::json!({"object": "list", "data": [{
                "id": name,
                "object": "model",
                "owned_by": format!("switchyard-mock:{}", s.model.id()),
            }]}),
            Api::Anthropic => serde_json::json!({"data": [{
                "type": "model",
                "id": name,
                "display_name": format!("{name} (switchyard-mock:{})", s.model.id()),
                "created_at": "2025-01-01T00:00:00Z",
            }], "has_more": false, "first_id": name, "last_id": name}),
        };
        let mut res = Response::new(MockBody::full(Bytes::from(doc.to_string())));
        json_type(&mut res);
        return res;
    }
    s.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
    let serves = match s.api {
        Api::OpenAi => "POST /v1/chat/completions, /v1/completions and /v1/embeddings",
        Api::Anthropic => "POST /v1/messages",
    };
    error(
        s.api,
        StatusCode::NOT_FOUND,
        &format!("unknown path {path:?}; the mock serves {serves}"),
        "unknown_url",
    )
}
