//! The HTTP server: accept loop, endpoint dispatch, client authentication, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::{debug, info, warn};

use crate::body::Body;
use crate::error::{ApiError, GatewayError};
use crate::request::Endpoint;
use crate::state::{Gateway, Shared};

/// Serves HTTP on `listener` until `shutdown` resolves, then stops accepting and lets in-flight
/// requests finish for up to the settings' `shutdown_timeout`.
pub async fn serve(
    listener: TcpListener,
    gateway: Gateway,
    shutdown: impl Future<Output = ()>,
) -> Result<(), GatewayError> {
    let gw = gateway.inner.clone();
    let http = http1_server();
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Some((stream, peer)) = accepted_or_back_off(accepted).await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let gw = gateway.clone();
                let service = service_fn(move |req| {
                    let gw = gw.clone();
                    async move { Ok::<_, Infallible>(handle(gw, req).await) }
                });
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        debug!(%peer, error = %e, "connection ended with an error");
                    }
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

/// Counts a client request as in flight for as long as it lives.
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.http.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle(gateway: Gateway, req: Request<Incoming>) -> Response<Body> {
    let gw = &gateway.inner;
    gw.http.in_flight.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight(gw);
    let res = dispatch(&gateway, req).await;
    gw.count_status(res.status().as_u16());
    res
}

async fn dispatch(gateway: &Gateway, req: Request<Incoming>) -> Response<Body> {
    let gw = &gateway.inner;
    let path = req.uri().path();
    if let Some(endpoint) = Endpoint::from_path(path) {
        if req.method() != Method::POST {
            return method_not_allowed("POST");
        }
        if let Err(e) = authenticate(gw, &req) {
            return e.response();
        }
        return crate::proxy::handle(gw, &gateway.clients, endpoint, req).await;
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
            Ok(()) => json(StatusCode::OK, gw.models_json.clone()),
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

fn authenticate(gw: &Shared, req: &Request<Incoming>) -> Result<(), ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if gw.authorized(header) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            "invalid_api_key",
            if header.is_some() {
                "invalid gateway key in the Authorization header"
            } else {
                "missing gateway key: send Authorization: Bearer <key>"
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

/// The HTTP/1 server settings the gateway and the mock provider share: keep-alive, and 30 s to
/// read a request head.
pub(crate) fn http1_server() -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .keep_alive(true);
    http
}

/// The accepted connection, or `None` after a short pause when accepting failed (typically out
/// of file descriptors: back off briefly instead of spinning).
pub(crate) async fn accepted_or_back_off(
    accepted: std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)>,
) -> Option<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match accepted {
        Ok(a) => Some(a),
        Err(e) => {
            warn!(error = %e, "accept failed");
            tokio::time::sleep(Duration::from_millis(20)).await;
            None
        }
    }
}
