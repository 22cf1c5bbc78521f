//! The response body the gateway answers with: a buffered answer, an upstream body passed
//! through untouched, or a relayed SSE stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;

use crate::relay::SseRelay;

/// Boxed error type of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body.
pub struct Body {
    kind: Kind,
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
        }
    }

    /// An empty body.
    pub fn empty() -> Body {
        Body {
            kind: Kind::Full(None),
        }
    }

    /// An upstream body passed through as it arrives.
    pub fn upstream(body: Incoming) -> Body {
        Body {
            kind: Kind::Upstream(body),
        }
    }

    pub(crate) fn relay(relay: SseRelay) -> Body {
        Body {
            kind: Kind::Relay(Box::new(relay)),
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
        match &mut self.get_mut().kind {
            Kind::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Kind::Upstream(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Kind::Relay(relay) => relay.poll_frame(cx).map(|f| f.map(Ok)),
        }
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
