//! The request body deadline: a client gets `body_read_timeout` from its request head to send
//! the whole body; a body still unfinished then is answered 408 and the connection closed.
//!
//! The body is read by the proxy; the proxy hands it, once complete, to [`crate::request::parse`],
//! which calls [`body_received`]. Until then the handler races the deadline; after it, the
//! handler runs without one (upstream time is bounded by the deployments' own timeouts).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::body::Body;
use crate::error::ApiError;

tokio::task_local! {
    /// Set once the current request's body has been read completely.
    static BODY_RECEIVED: Arc<AtomicBool>;
}

/// Notes that the current request's body has been read whole (no effect outside a request).
pub(crate) fn body_received() {
    let _ = BODY_RECEIVED.try_with(|flag| flag.store(true, Ordering::Relaxed));
}

/// Runs `handler`; if its body has not been received within `timeout`, drops it and answers
/// 408 `request_timeout` with `connection: close`.
pub(crate) async fn with_body_deadline(
    timeout: Duration,
    handler: impl Future<Output = Response<Body>>,
) -> Response<Body> {
    let flag = Arc::new(AtomicBool::new(false));
    let handler = BODY_RECEIVED.scope(flag.clone(), handler);
    tokio::pin!(handler);
    tokio::select! {
        res = &mut handler => return res,
        () = tokio::time::sleep(timeout) => {}
    }
    if flag.load(Ordering::Relaxed) {
        return handler.await;
    }
    let mut res = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "invalid_request_error",
        "request_timeout",
        format!(
            "the request body was not received within {} s",
            timeout.as_secs_f64()
        ),
    )
    .response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}
