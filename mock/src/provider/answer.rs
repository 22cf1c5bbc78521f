//! The mock's answers: JSON in OpenAI's or Anthropic's shape ([`super::anthropic`]), and SSE
//! streams paced at the modelled token rate.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::precise::Sleep;

use super::MockStats;

/// Words the mock "generates", one per token, in a fixed cycle.
const WORDS: [&str; 16] = [
    "The",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "while",
    "the",
    "switchyard",
    "routes",
    "every",
    "request",
    "onward.",
];

/// The text of token `i` (a word and a space).
pub(crate) fn token(i: u32) -> String {
    format!("{} ", WORDS[i as usize % WORDS.len()])
}

/// Which shape to answer in: the endpoint asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// OpenAI's `/chat/completions`.
    Chat,
    /// OpenAI's `/completions`.
    Completions,
    /// OpenAI's `/embeddings`.
    Embeddings,
    /// Anthropic's `/v1/messages`.
    Messages,
}

/// What one generated answer is made of.
#[derive(Debug, Clone)]
pub(crate) struct Generation {
    /// Answer shape.
    pub shape: Shape,
    /// Response id, e.g. `chatcmpl-mock-17` or `msg_mock_17`.
    pub id: String,
    /// `created` (Unix seconds).
    pub created: u64,
    /// The model name as sent in the request.
    pub model: String,
    /// Prompt tokens reported in `usage`.
    pub input_tokens: u32,
    /// Completion tokens.
    pub output_tokens: u32,
    /// Whether `max_tokens` cut the answer (`finish_reason: "length"`, `stop_reason:
    /// "max_tokens"`).
    pub capped: bool,
}

/// A JSON string literal (keys are written in the provider's order by hand: `serde_json::json!`
/// would sort them).
pub(crate) fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

impl Generation {
    fn finish_reason(&self) -> &'static str {
        if self.capped {
            "length"
        } else {
            "stop"
        }
    }

    fn object(&self, streamed: bool) -> &'static str {
        match (self.shape, streamed) {
            (Shape::Chat, false) => "chat.completion",
            (Shape::Chat, true) => "chat.completion.chunk",
            (Shape::Completions, _) => "text_completion",
            (Shape::Embeddings, _) => "list",
            (Shape::Messages, _) => "message",
        }
    }

    /// `"id":…,"object":…,"created":…,"model":…`
    fn head(&self, streamed: bool) -> String {
        format!(
            r#""id":{},"object":"{}","created":{},"model":{}"#,
            quoted(&self.id),
            self.object(streamed),
            self.created,
            quoted(&self.model)
        )
    }

    fn usage(&self) -> String {
        format!(
            r#"{{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{}}}"#,
            self.input_tokens,
            self.output_tokens,
            u64::from(self.input_tokens) + u64::from(self.output_tokens)
        )
    }

    /// The whole generated text.
    pub fn text(&self) -> String {
        (0..self.output_tokens).map(token).collect()
    }

    /// The whole (non-streamed) answer.
    pub fn full(&self) -> Bytes {
        let text = quoted(&self.text());
        let finish = self.finish_reason();
        let doc = match self.shape {
            Shape::Messages => super::anthropic::message(self),
            Shape::Chat => format!(
                r#"{{{},"choices":[{{"index":0,"message":{{"role":"assistant","content":{text}}},"finish_reason":"{finish}"}}],"usage":{}}}"#,
                self.head(false),
                self.usage()
            ),
            Shape::Completions => format!(
                r#"{{{},"choices":[{{"text":{text},"index":0,"logprobs":null,"finish_reason":"{finish}"}}],"usage":{}}}"#,
                self.head(false),
                self.usage()
            ),
            Shape::Embeddings => {
                let embedding: Vec<String> = (0..8u32)
                    .map(|i| {
                        format!(
                            "{:.2}",
                            f64::from((i * 37 + self.input_tokens) % 200) / 100.0 - 1.0
                        )
                    })
                    .collect();
                format!(
                    r#"{{"object":"list","data":[{{"object":"embedding","index":0,"embedding":[{}]}}],"model":{},"usage":{{"prompt_tokens":{},"total_tokens":{}}}}}"#,
                    embedding.join(","),
                    quoted(&self.model),
                    self.input_tokens,
                    self.input_tokens
                )
            }
        };
        Bytes::from(doc)
    }

    fn chunk(&self, choice: &str) -> String {
        format!("data: {{{},\"choices\":[{choice}]}}\n\n", self.head(true))
    }

    /// The SSE events before the first token (Anthropic's `message_start`,
    /// `content_block_start`, `ping`; none for OpenAI).
    fn opening_events(&self) -> String {
        match self.shape {
            Shape::Messages => super::anthropic::opening_events(self),
            _ => String::new(),
        }
    }

    /// The SSE event carrying token `i`.
    fn token_event(&self, i: u32) -> String {
        let text = quoted(&token(i));
        let choice = match self.shape {
            Shape::Messages => return super::anthropic::token_event(&text),
            Shape::Completions => {
                format!(r#"{{"text":{text},"index":0,"logprobs":null,"finish_reason":null}}"#)
            }
            _ if i == 0 => format!(
                r#"{{"index":0,"delta":{{"role":"assistant","content":{text}}},"finish_reason":null}}"#
            ),
            _ => format!(r#"{{"index":0,"delta":{{"content":{text}}},"finish_reason":null}}"#),
        };
        self.chunk(&choice)
    }

    /// The closing events: the finish reason, the usage chunk, `[DONE]` (Anthropic's
    /// `content_block_stop`, `message_delta` with the usage, `message_stop`).
    fn closing_events(&self) -> String {
        let finish = self.finish_reason();
        let choice = match self.shape {
            Shape::Messages => return super::anthropic::closing_events(self),
            Shape::Completions => {
                format!(r#"{{"text":"","index":0,"logprobs":null,"finish_reason":"{finish}"}}"#)
            }
            _ => format!(r#"{{"index":0,"delta":{{}},"finish_reason":"{finish}"}}"#),
        };
        format!(
            "{}data: {{{},\"choices\":[],\"usage\":{}}}\n\ndata: [DONE]\n\n",
            self.chunk(&choice),
            self.head(true),
            self.usage()
        )
    }
}

/// The mock's response body: whole, or an SSE stream whose token `i` is due `i × per_token`
/// after the first's due time (a schedule fixed in advance, so a late timer delays one event,
/// not every event after it), the closing events `n × per_token` after it. Holds the provider's
/// concurrency slot until the end (or until dropped, when the client goes away).
pub struct MockBody {
    inner: Inner,
}

enum Inner {
    Full(Option<Bytes>),
    Stream(Box<Stream>),
}

struct Stream {
    generation: Generation,
    start: Instant,
    per_token: Duration,
    next: u32,
    opened: bool,
    done: bool,
    sleep: Sleep,
    permit: Option<OwnedSemaphorePermit>,
    stats: Arc<MockStats>,
}

/// At most this many token events go out in one frame when the clock is behind.
const MAX_EVENTS_PER_FRAME: u32 = 256;

impl MockBody {
    /// A body sent in one piece.
    pub(crate) fn full(bytes: Bytes) -> MockBody {
        MockBody {
            inner: Inner::Full(Some(bytes)),
        }
    }

    /// A paced SSE stream whose first token is due at `start`.
    pub(crate) fn stream(
        generation: Generation,
        start: Instant,
        per_token: Duration,
        permit: Option<OwnedSemaphorePermit>,
        stats: Arc<MockStats>,
    ) -> MockBody {
        MockBody {
            inner: Inner::Stream(Box::new(Stream {
                generation,
                start,
                per_token,
                next: 0,
                opened: false,
                done: false,
                sleep: Sleep::until(start),
                permit,
                stats,
            })),
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if !self.done {
            self.stats.cancelled.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Stream {
    fn due(&self, i: u32) -> Instant {
        self.start + self.per_token.saturating_mul(i)
    }
}

impl http_body::Body for MockBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let s = match &mut self.get_mut().inner {
            Inner::Full(bytes) => return Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Inner::Stream(s) => s,
        };
        loop {
            if s.done {
                return Poll::Ready(None);
            }
            let now = Instant::now();
            let total = s.generation.output_tokens;
            let mut out = String::new();
            if !s.opened {
                out.push_str(&s.generation.opening_events());
                s.opened = true;
            }
            let mut emitted = 0;
            while s.next < total && s.due(s.next) <= now && emitted < MAX_EVENTS_PER_FRAME {
                out.push_str(&s.generation.token_event(s.next));
                s.next += 1;
                emitted += 1;
            }
            if s.next == total && s.due(total) <= now {
                out.push_str(&s.generation.closing_events());
                s.done = true;
                s.permit = None;
                s.stats.ok.fetch_add(1, Ordering::Relaxed);
            }
            if !out.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
            }
            let due = s.due(s.next);
            s.sleep.reset(due);
            if Pin::new(&mut s.sleep).poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            Inner::Full(bytes) => bytes.is_none(),
            Inner::Stream(s) => s.done,
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match &self.inner {
            Inner::Full(Some(b)) => http_body::SizeHint::with_exact(b.len() as u64),
            Inner::Full(None) => http_body::SizeHint::with_exact(0),
            Inner::Stream(_) => http_body::SizeHint::default(),
        }
    }
}
