//! The HTTP server: accept loop (with the connection cap), endpoint dispatch, client
//! authentication, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use crate::accept::{accepted_or_back_off, http1_server, AcceptErrors};
use crate::body::Body;
use crate::error::{ApiError, GatewayError};
use crate::hyper_errors::ErrorBodies;
use crate::request::Endpoint;
use crate::state::{Gateway, InFlight, Shared};

/// How far ahead the runtime's timer wheel always holds a timer (see [`keep_timer_wheel_armed`]).
const WHEEL_ANCHOR: std::time::Duration = std::time::Duration::from_millis(250);

/// Keeps a timer at most [`WHEEL_ANCHOR`] ahead in this runtime's timer wheel, for as long as
/// the runtime runs.
///
/// tokio wakes its driver (a write to an eventfd, and an `epoll_wait` that returns at once)
/// whenever a timer is registered earlier than the driver's next wake-up, and with an empty
/// wheel every registration is earlier. Each request registers one or two timers (hyper's
/// header-read timeout for the next request on the connection, the attempt's deadline) while
/// the wheel is often empty, so without this about one request in three paid that wake-up
/// (strace, c=8: 0.33 eventfd writes per request; with it 0.001). A timer registered later
/// than the anchor — every timeout of a second or more — now wakes nothing; shorter ones
/// (backoff, hedging delays) still wake the driver as they must. Costs four wake-ups a second.
async fn keep_timer_wheel_armed() {
    let mut tick = tokio::time::interval(WHEEL_ANCHOR);
    loop {
        tick.tick().await;
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves HTTP on `listener` until `shutdown` resolves, then stops accepting and lets in-flight
/// requests finish for up to the settings' `shutdown_timeout`.
///
/// At most `max_connections` client connections are open at once (shared by every `serve` of
/// one [`Gateway`]); while the cap is reached no connection is accepted, so new ones wait in
/// the listen backlog.
pub async fn serve(
    listener: TcpListener,
    gateway: Gateway,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GatewayError> {
    let gw = gateway.inner.clone();
    gw.start_cluster();
    // Stopped when `serve` returns (the runtime may outlive it, e.g. in tests).
    let anchor = tokio::spawn(keep_timer_wheel_armed());
    let _anchor = AbortOnDrop(anchor);
    let http = http1_server(gw.settings.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut accept_errors = AcceptErrors::default();
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = gw.connection_slots.clone().acquire_owned() => slot,
            () = &mut shutdown => break,
        };
        let Ok(slot) = slot else { break };
        tokio::select! {
            accepted = listener.accept() => {
                let Some((stream, peer)) = accepted_or_back_off(accepted, &mut accept_errors).await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let gw = gateway.clone();
                let service = service_fn(move |req| {
                    let gw = gw.clone();
                    async move { Ok::<_, Infallible>(handle(gw, req).await) }
                });
                let io = TokioIo::new(ErrorBodies::new(stream));
                let conn = graceful.watch(http.serve_connection(io, service));
                let open = Open::new(&gateway.inner);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        debug!(%peer, error = %e, "connection ended with an error");
                    }
                    drop((slot, open));
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let deadline = gw.settings.shutdown_timeout;
    info!(
        in_flight = gw.http.in_flight.load(Ordering::Relaxed),
        deadline_s = deadline.as_secs_f64(),
        "shutting down: no new connections, finishing in-flight requests"
    );
    tokio::select! {
        () = graceful.shutdown() => info!("all connections closed"),
        () = tokio::time::sleep(deadline) => warn!(
            in_flight = gw.http.in_flight.load(Ordering::Relaxed),
            "shutdown deadline passed with requests still in flight"
        ),
    }
    gateway.flush_trace();
    Ok(())
}

/// Counts an open client connection for as long as it lives.
struct Open(Arc<Shared>);

impl Open {
    fn new(gw: &Arc<Shared>) -> Open {
        gw.http.connections.fetch_add(1, Ordering::Relaxed);
        Open(gw.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.http.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle(gateway: Gateway, req: Request<Incoming>) -> Response<Body> {
    let gw = &gateway.inner;
    let in_flight = InFlight::start(gw);
    let res = dispatch(&gateway, req).await;
    gw.count_status(res.status().as_u16());
    res.map(|body| body.counted(in_flight))
}

/// Longest request target (path and query) answered; longer ones get 414. hyper's own limit
/// is higher than the whole head may be (`accept::MAX_HEAD_BYTES`), so this one applies.
const MAX_URI_BYTES: usize = 8 * 1024;

async fn dispatch(gateway: &Gateway, req: Request<Incoming>) -> Response<Body> {
    let gw = &gateway.inner;
    let uri_len = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "invalid_request_error",
            "uri_too_long",
            format!("the request URI has {uri_len} bytes; at most {MAX_URI_BYTES} are accepted"),
        )
        .response();
    }
    let path = req.uri().path();
    if let Some(endpoint) = Endpoint::from_path(path) {
        if req.method() != Method::POST {
            return method_not_allowed("POST");
        }
        let client = match authenticate(gw, &req) {
            Ok(client) => client,
            Err(e) => {
                return crate::translate::error_response(
                    &e,
                    crate::translate::Shape::of_client(endpoint),
                )
            }
        };
        return crate::proxy::handle(gw, &gateway.clients, endpoint, req, client).await;
    }
    if path.starts_with("/admin/") {
        return crate::admin::handle(gw, &req);
    }
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    match path {
        "/health" | "/ready" | "/metrics" | "/v1/models" if !get => method_not_allowed("GET"),
        "/health" => json(StatusCode::OK, Bytes::from_static(b"{\"status\":\"ok\"}")),
        "/ready" => {
            let now = gw.now();
            if gw.lock().any_usable(now) {
                json(StatusCode::OK, Bytes::from_static(b"{\"status\":\"ready\"}"))
            } else {
                json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Bytes::from_static(b"{\"status\":\"no usable deployment\"}"),
                )
            }
        }
        "/metrics" => {
            let mut res = Response::new(Body::full(Bytes::from(crate::metrics::render(gw))));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            res
        }
        "/v1/models" => match authenticate(gw, &req) {
            Ok(_) => json(StatusCode::OK, gw.live().models_json.clone()),
            Err(e) => e.response(),
        },
        _ => ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "unknown_url",
            format!("unknown path {path:?}; see /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /metrics, /health, /ready"),
        )
        .response(),
    }
}

/// The caller's `[[client]]` name, if its key is a client's; an error if no accepted key.
fn authenticate(gw: &Shared, req: &Request<Incoming>) -> Result<Option<Arc<str>>, ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    // Anthropic's clients send the key as `x-api-key`.
    let api_key = req.headers().get("x-api-key").map(HeaderValue::as_bytes);
    if let Ok(client) = gw.identify(header, api_key) {
        Ok(client)
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            if header.is_some() || api_key.is_some() {
                "invalid gateway key"
            } else {
                "missing gateway key: send Authorization: Bearer <key> (or x-api-key: <key>)"
            },
        ))
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<Body> {
    let mut res = Response::new(Body::full(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn method_not_allowed(allowed: &'static str) -> Response<Body> {
    let mut res = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        format!("this path accepts {allowed} only"),
    )
    .response();
    res.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allowed));
    res
}
