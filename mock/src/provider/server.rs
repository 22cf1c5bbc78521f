//! The mock's HTTP side: accept loop, request parsing, carrying out the model's decisions.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
use tracing::debug;

use super::answer::{Api, Generation, MockBody};
use super::headers::{insert_limit_headers, insert_retry_after};
use super::model::{Ask, Decision, Model};
use super::{MockError, MockStats, SHUTDOWN_GRACE};
use gateway::request::Endpoint;

/// Largest request body the mock reads (413 above).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// State shared by every connection of one mock.
pub(crate) struct Shared {
    pub model: Model,
    pub stats: Arc<MockStats>,
    next_id: AtomicU64,
}

impl Shared {
    pub fn new(model: Model) -> Shared {
        Shared {
            model,
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

#[derive(Deserialize)]
struct MaxTokens {
    #[serde(default)]
    max_tokens: Option<u64>,
    #[serde(default)]
    max_completion_tokens: Option<u64>,
}

async fn handle(s: Arc<Shared>, req: Request<Incoming>) -> Result<Response<MockBody>, Refused> {
    let path = req.uri().path();
    let api = if path.ends_with("/chat/completions") {
        Some(Api::Chat)
    } else if path.ends_with("/completions") {
        Some(Api::Completions)
    } else if path.ends_with("/embeddings") {
        Some(Api::Embeddings)
    } else {
        None
    };
    let Some(api) = api else {
        return Ok(other(&s, &req));
    };
    if req.method() != Method::POST {
        let mut res = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "this path accepts POST only",
            "method_not_allowed",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Ok(res);
    }
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
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request body too large",
                    "request_too_large",
                )
            } else {
                error(
                    StatusCode::BAD_REQUEST,
                    "could not read the request body",
                    "invalid_body",
                )
            });
        }
    };
    let endpoint = match api {
        Api::Chat => Endpoint::Chat,
        Api::Completions => Endpoint::Completions,
        Api::Embeddings => Endpoint::Embeddings,
    };
    let parsed = gateway::request::parse(&body, endpoint).and_then(|p| {
        let m: MaxTokens = serde_json::from_slice(&body)
            .map_err(|e| gateway::request::BadRequest(e.to_string()))?;
        Ok((p, m.max_completion_tokens.or(m.max_tokens)))
    });
    let (parsed, max_tokens) = match parsed {
        Ok(p) => p,
        Err(e) => {
            pending.answered = true;
            stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            let mut res = error(StatusCode::BAD_REQUEST, &e.0, "invalid_json");
            insert_limit_headers(res.headers_mut(), &s.model.headers());
            return Ok(res);
        }
    };
    let ask = Ask {
        input_tokens: parsed.input_tokens,
        max_tokens: max_tokens.map(|m| u32::try_from(m).unwrap_or(u32::MAX)),
        embeddings: api == Api::Embeddings,
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
            tokio::time::sleep(after).await;
            pending.answered = true;
            stats.unavailable.fetch_add(1, Ordering::Relaxed);
            let mut res = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the mock provider is in a modelled outage",
                "service_unavailable",
            );
            insert_limit_headers(res.headers_mut(), &s.model.headers());
            return Ok(res);
        }
        Decision::RateLimited { after, retry_after } => {
            tokio::time::sleep(after).await;
            pending.answered = true;
            stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut res = Response::new(MockBody::full(error_body(
                "Rate limit reached for requests (modelled by switchyard mock-provider). Please try again later.",
                "requests",
                "rate_limit_exceeded",
            )));
            *res.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            json_type(&mut res);
            insert_limit_headers(res.headers_mut(), &s.model.headers());
            insert_retry_after(res.headers_mut(), retry_after);
            return Ok(res);
        }
        Decision::ContextLength {
            after,
            tokens,
            window,
        } => {
            tokio::time::sleep(after).await;
            pending.answered = true;
            stats.context_length.fetch_add(1, Ordering::Relaxed);
            let mut res = error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "This model's maximum context length is {window} tokens. However, you requested {tokens} tokens (modelled). Please reduce the length of the messages or completion."
                ),
                "context_length_exceeded",
            );
            insert_limit_headers(res.headers_mut(), &s.model.headers());
            return Ok(res);
        }
        Decision::ServerError { after } => {
            tokio::time::sleep(after).await;
            pending.answered = true;
            stats.server_errors.fetch_add(1, Ordering::Relaxed);
            let mut res = error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server had an error while processing your request (modelled).",
                "server_error",
            );
            insert_limit_headers(res.headers_mut(), &s.model.headers());
            return Ok(res);
        }
        Decision::Serve {
            output_tokens,
            capped,
            input_tokens,
            service,
        } => (output_tokens, capped, input_tokens, service),
    };
    let (service, permit) = match service {
        Some(started) => started,
        None => {
            stats.queued.fetch_add(1, Ordering::Relaxed);
            s.model.queue().await
        }
    };
    let n = s.next_id.fetch_add(1, Ordering::Relaxed);
    let generation = Generation {
        api,
        id: match api {
            Api::Chat => format!("chatcmpl-mock-{n}"),
            Api::Completions => format!("cmpl-mock-{n}"),
            Api::Embeddings => format!("embd-mock-{n}"),
        },
        created: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model: parsed.model,
        input_tokens,
        output_tokens,
        capped,
    };
    tokio::time::sleep(service.ttft).await;
    let streamed = parsed.stream && api != Api::Embeddings;
    let mut res = if streamed {
        pending.answered = true;
        let body = MockBody::stream(generation, service.per_token, permit, s.stats.clone());
        let mut res = Response::new(body);
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        res
    } else {
        tokio::time::sleep(service.per_token.saturating_mul(output_tokens)).await;
        pending.answered = true;
        drop(permit);
        stats.ok.fetch_add(1, Ordering::Relaxed);
        let mut res = Response::new(MockBody::full(generation.full()));
        json_type(&mut res);
        res
    };
    insert_limit_headers(res.headers_mut(), &s.model.headers());
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
        let doc = serde_json::json!({"object": "list", "data": [{
            "id": s.model.model_name(),
            "object": "model",
            "owned_by": format!("switchyard-mock:{}", s.model.id()),
        }]});
        let mut res = Response::new(MockBody::full(Bytes::from(doc.to_string())));
        json_type(&mut res);
        return res;
    }
    s.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
    error(
        StatusCode::NOT_FOUND,
        &format!("unknown path {path:?}; the mock serves POST /v1/chat/completions, /v1/completions and /v1/embeddings"),
        "unknown_url",
    )
}

/// OpenAI's error shape, keys in OpenAI's order.
fn error_body(message: &str, kind: &str, code: &str) -> Bytes {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    Bytes::from(format!(
        r#"{{"error":{{"message":{},"type":{},"param":null,"code":{}}}}}"#,
        q(message),
        q(kind),
        q(code)
    ))
}

fn json_type(res: &mut Response<MockBody>) {
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
}

fn error(status: StatusCode, message: &str, code: &str) -> Response<MockBody> {
    let kind = match status.as_u16() {
        500..=599 => "server_error",
        _ => "invalid_request_error",
    };
    let mut res = Response::new(MockBody::full(error_body(message, kind, code)));
    *res.status_mut() = status;
    json_type(&mut res);
    res
}
