//! The body of a committed stream: upstream SSE chunks passed on as they come, the outcome
//! reported to the engine at the end, an SSE error event if the upstream fails or stalls midway
//! (never a silent restart elsewhere once bytes reached the client).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use engine::{FailureKind, LimitHeaders, Outcome};
use http_body::{Body as _, Frame};
use hyper::body::Incoming;
use tokio::time::Sleep;
use tracing::warn;

use crate::error::error_json;
use crate::life::{Attempt, Life};
use crate::translate::{Shape, Transcoder};
use crate::usage::{Tokens, UsageScanner};

/// The body of a committed stream: upstream chunks passed on as they come, the outcome reported
/// to the engine at the end, an SSE error event if the upstream fails or stalls midway.
pub(crate) struct SseRelay {
    pub(crate) life: Life,
    pub(crate) attempt: Attempt,
    pub(crate) upstream: Incoming,
    /// The client's API shape (its error events are in that shape).
    pub(crate) client: Shape,
    /// Translates the upstream's events into the client's shape, when they differ.
    pub(crate) transcoder: Option<Transcoder>,
    /// Frames read before the stream was committed (start-up frames and the first content).
    pub(crate) first: VecDeque<Bytes>,
    pub(crate) scanner: UsageScanner,
    pub(crate) ttft: Duration,
    pub(crate) limits: LimitHeaders,
    pub(crate) status: u16,
    pub(crate) idle: Option<(Duration, Pin<Box<Sleep>>)>,
    pub(crate) deadline: Pin<Box<Sleep>>,
    /// Last two bytes sent, to end a cut event cleanly before an error event.
    pub(crate) tail: [u8; 2],
    pub(crate) done: bool,
}

impl SseRelay {
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The bytes to send for an upstream chunk: the chunk itself, or its translation (possibly
    /// empty while an event is incomplete).
    fn translate(&mut self, data: Bytes) -> Bytes {
        match &mut self.transcoder {
            Some(t) => t.feed(&data),
            None => {
                self.scanner.feed(&data);
                data
            }
        }
    }

    fn pass(&mut self, data: Bytes) -> Poll<Option<Frame<Bytes>>> {
        match data.len() {
            0 => {}
            1 => self.tail = [self.tail[1], data[0]],
            n => self.tail = [data[n - 2], data[n - 1]],
        }
        Poll::Ready(Some(Frame::data(data)))
    }

    fn succeed(&mut self) -> Poll<Option<Frame<Bytes>>> {
        self.done = true;
        self.scanner.finish();
        let status = self.status;
        let mut last = Bytes::new();
        if let Some(t) = &mut self.transcoder {
            last = t.finish();
            self.scanner.saw_error |= t.error.is_some();
            self.scanner.usage = t.usage.map(|u| Tokens {
                input: u.input_tokens,
                output: u.output_tokens,
                cached: u.cache_read_tokens,
            });
        }
        let end = if last.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(Frame::data(last)))
        };
        if self.scanner.saw_error {
            let outcome = Outcome::Failure {
                kind: FailureKind::Server,
                status: Some(status),
                retry_after: None,
                headers: self.limits,
            };
            self.life
                .finish_final(&self.attempt, &outcome, status, Some(self.ttft));
            return end;
        }
        let tokens = self.scanner.usage.unwrap_or(Tokens {
            input: self.life.input_tokens,
            output: self.life.output_tokens,
            cached: 0,
        });
        self.life.cache_read(tokens.cached);
        let outcome = Outcome::Success {
            ttft: self.ttft,
            input_tokens: tokens.input,
            output_tokens: tokens.output,
            headers: self.limits,
        };
        self.life
            .finish_final(&self.attempt, &outcome, status, Some(self.ttft));
        end
    }

    fn fail(&mut self, kind: FailureKind, message: &str) -> Poll<Option<Frame<Bytes>>> {
        self.done = true;
        let status = self.status;
        let outcome = Outcome::Failure {
            kind,
            status: Some(status),
            retry_after: None,
            headers: self.limits,
        };
        self.life
            .finish_final(&self.attempt, &outcome, status, Some(self.ttft));
        warn!(
            request = self.life.number,
            outcome = kind.name(),
            "stream ended by an upstream failure"
        );
        let prefix: &str = match self.tail {
            [b'\n', b'\n'] => "",
            [_, b'\n'] => "\n",
            _ => "\n\n",
        };
        let event = match self.client {
            Shape::OpenAiChat => format!(
                "{prefix}data: {}\n\n",
                error_json(message, "upstream_error", "stream_interrupted")
            )
            .into_bytes(),
            shape => [prefix.as_bytes(), &shape.stream_error(message)].concat(),
        };
        Poll::Ready(Some(Frame::data(Bytes::from(event))))
    }

    pub(crate) fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Frame<Bytes>>> {
        if self.done {
            return Poll::Ready(None);
        }
        while let Some(first) = self.first.pop_front() {
            let out = self.translate(first);
            if !out.is_empty() {
                return self.pass(out);
            }
        }
        loop {
            match Pin::new(&mut self.upstream).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        if let Some((idle, sleep)) = &mut self.idle {
                            let at = tokio::time::Instant::now() + *idle;
                            sleep.as_mut().reset(at.min(self.deadline.deadline()));
                        }
                        let out = self.translate(data);
                        if out.is_empty() {
                            continue;
                        }
                        return self.pass(out);
                    }
                    // Trailers are not relayed; keep reading.
                }
                Poll::Ready(Some(Err(_))) => {
                    return self.fail(
                        FailureKind::Connection,
                        "the upstream connection failed during the stream",
                    )
                }
                Poll::Ready(None) => return self.succeed(),
                Poll::Pending => break,
            }
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return self.fail(
                FailureKind::Timeout,
                "the stream exceeded the deployment's total_timeout",
            );
        }
        if let Some((_, sleep)) = &mut self.idle {
            if sleep.as_mut().poll(cx).is_ready() {
                return self.fail(
                    FailureKind::Timeout,
                    "the upstream stream stalled longer than the deployment's first_byte_timeout",
                );
            }
        }
        Poll::Pending
    }
}
