//! The response body the gateway answers with: a buffered answer, an upstream body passed
//! through untouched, or a relayed SSE stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;

use crate::relay::SseRelay;
use crate::state::InFlight;

/// Boxed error type of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body.
pub struct Body {
    kind: Kind,
    /// Keeps the request counted in flight until the body ends or is dropped.
    in_flight: Option<InFlight>,
}

enum Kind {
    Full(Option<Bytes>),
    Upstream(Incoming),
    Relay(Box<SseRelay>),
}

impl Body {
    /// A complete body.
    pub fn full(bytes: Bytes) -> Body {
        Body {
            kind: Kind::Full((!bytes.is_empty()).then_some(bytes)),
            in_flight: None,
        }
    }

    /// An empty body.
    pub fn empty() -> Body {
        Body {
            kind: Kind::Full(None),
            in_flight: None,
        }
    }

    /// An upstream body passed through as it arrives.
    pub fn upstream(body: Incoming) -> Body {
        Body {
            kind: Kind::Upstream(body),
            in_flight: None,
        }
    }

    /// The same body, keeping `guard` (the request's in-flight count) until it ends.
    pub(crate) fn counted(mut self, guard: InFlight) -> Body {
        self.in_flight = if self.is_end_stream_now() {
            None
        } else {
            Some(guard)
        };
        self
    }

    fn is_end_stream_now(&self) -> bool {
        http_body::Body::is_end_stream(self)
    }

    pub(crate) fn relay(relay: SseRelay) -> Body {
        Body {
            kind: Kind::Relay(Box::new(relay)),
            in_flight: None,
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = match &mut this.kind {
            Kind::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Kind::Upstream(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Kind::Relay(relay) => relay.poll_frame(cx).map(|f| f.map(Ok)),
        };
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.in_flight = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Full(data) => data.is_none(),
            Kind::Upstream(body) => body.is_end_stream(),
            Kind::Relay(relay) => relay.is_done(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Full(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Kind::Upstream(body) => body.size_hint(),
            Kind::Relay(_) => SizeHint::default(),
        }
    }
}
