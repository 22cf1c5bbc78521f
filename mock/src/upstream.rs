//! A small OpenAI-style upstream on `127.0.0.1`, for tests and demos.
//!
//! It answers `POST …/chat/completions`, `…/completions`, `…/embeddings` and Anthropic's
//! `…/v1/messages` with a fixed answer in that shape ([`crate::answers`])
//! (streamed as SSE when the request says `"stream": true`), and can be told to answer with any
//! status (e.g. 429 with `retry-after`), to wait before answering, to pace stream chunks, or to
//! cut a stream midway. It counts what it saw. [`closed_port_url`] gives a base URL that refuses
//! connections. For a scenario-driven provider see [`crate::provider`].

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use crate::answers::{self, Asked};

/// How the mock answers; change it at any time with [`MockUpstream::set_behaviour`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// HTTP status of the answer (200 = a normal completion).
    pub status: u16,
    /// `retry-after` header value on non-200 answers.
    pub retry_after: Option<String>,
    /// Extra headers on every answer (e.g. `x-ratelimit-remaining-requests`).
    pub headers: Vec<(String, String)>,
    /// Wait before sending the response head.
    pub delay: Duration,
    /// Content chunks in a streamed answer (followed by a usage chunk and `[DONE]`).
    pub chunks: usize,
    /// Wait between two stream chunks.
    pub chunk_gap: Duration,
    /// Break the connection after this many stream chunks (and one more `chunk_gap`).
    pub cut_after: Option<usize>,
    /// Body of non-200 answers (default: a generic OpenAI-style error).
    pub error_body: Option<String>,
    /// Raw SSE frames sent before a stream's content chunks (e.g. a role-only chunk, a comment,
    /// an in-band error event).
    pub stream_prefix: Vec<String>,
    /// Body of a 200 non-streamed answer instead of the generated one (e.g. a usage with
    /// cached tokens).
    pub answer_body: Option<String>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            status: 200,
            retry_after: None,
            headers: Vec::new(),
            delay: Duration::ZERO,
            chunks: 5,
            chunk_gap: Duration::ZERO,
            cut_after: None,
            error_body: None,
            stream_prefix: Vec::new(),
            answer_body: None,
        }
    }
}

impl Behaviour {
    /// Always 429 with this `retry-after`.
    pub fn rate_limited(retry_after: &str) -> Behaviour {
        Behaviour {
            status: 429,
            retry_after: Some(retry_after.to_owned()),
            ..Behaviour::default()
        }
    }

    /// Always this status (e.g. 500, 400).
    pub fn status(status: u16) -> Behaviour {
        Behaviour {
            status,
            ..Behaviour::default()
        }
    }
}

/// What the mock has seen.
#[derive(Debug, Default)]
pub struct MockStats {
    /// Requests received.
    pub hits: AtomicU64,
    /// Requests answered with 200.
    pub ok: AtomicU64,
    /// Requests whose handler was dropped before answering (the caller went away).
    pub cancelled: AtomicU64,
    /// `Authorization` header of the last request.
    pub last_authorization: Mutex<Option<String>>,
    /// `model` of the last request body.
    pub last_model: Mutex<Option<String>>,
}

/// A running mock upstream; stops when dropped.
pub struct MockUpstream {
    addr: SocketAddr,
    stats: Arc<MockStats>,
    behaviour: Arc<Mutex<Behaviour>>,
    task: JoinHandle<()>,
}

impl MockUpstream {
    /// Starts a mock on `127.0.0.1` with a free port.
    pub async fn start(behaviour: Behaviour) -> std::io::Result<MockUpstream> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(MockStats::default());
        let behaviour = Arc::new(Mutex::new(behaviour));
        let task = tokio::spawn(accept_loop(listener, stats.clone(), behaviour.clone()));
        Ok(MockUpstream {
            addr,
            stats,
            behaviour,
            task,
        })
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The OpenAI-style base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Counters and last-seen values.
    pub fn stats(&self) -> &MockStats {
        &self.stats
    }

    /// Requests received so far.
    pub fn hits(&self) -> u64 {
        self.stats.hits.load(Ordering::SeqCst)
    }

    /// Replaces the behaviour for the next requests.
    pub fn set_behaviour(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap_or_else(|e| e.into_inner()) = b;
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A base URL on `127.0.0.1` where nothing listens (connections are refused).
pub fn closed_port_url() -> std::io::Result<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = l.local_addr()?;
    drop(l);
    Ok(format!("http://{addr}/v1"))
}

async fn accept_loop(
    listener: TcpListener,
    stats: Arc<MockStats>,
    behaviour: Arc<Mutex<Behaviour>>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stats = stats.clone();
        let behaviour = behaviour.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let stats = stats.clone();
                let b = behaviour.lock().unwrap_or_else(|e| e.into_inner()).clone();
                async move { Ok::<_, Infallible>(answer(req, stats, b).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Counts a handler dropped before it answered.
struct CancelGuard(Arc<MockStats>, bool);

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if !self.1 {
            self.0.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The fixed non-streamed chat answer.
pub const CHAT_ANSWER: &str = r#"{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"mock-model","choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the mock."},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":7,"total_tokens":16}}"#;
/// The fixed embeddings answer.
pub const EMBEDDING_ANSWER: &str = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2,0.3]}],"model":"mock-model","usage":{"prompt_tokens":4,"total_tokens":4}}"#;

async fn answer(req: Request<Incoming>, stats: Arc<MockStats>, b: Behaviour) -> Response<MockBody> {
    stats.hits.fetch_add(1, Ordering::SeqCst);
    let mut guard = CancelGuard(stats.clone(), false);
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .or_else(|| req.headers().get("x-api-key"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    *stats
        .last_authorization
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = auth;
    let embeddings = req.uri().path().ends_with("/embeddings");
    let anthropic = req.uri().path().ends_with("/v1/messages");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    *stats.last_model.lock().unwrap_or_else(|e| e.into_inner()) =
        doc.get("model").and_then(|m| m.as_str()).map(str::to_owned);
    let stream = doc.get("stream").and_then(|s| s.as_bool()).unwrap_or(false);
    let asked = Asked::of(&doc);
    if !b.delay.is_zero() {
        tokio::time::sleep(b.delay).await;
    }
    guard.1 = true;
    let status = StatusCode::from_u16(b.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (content_type, body) = if status != StatusCode::OK {
        (
            "application/json",
            MockBody::full(b.error_body.clone().unwrap_or_else(|| {
                if anthropic {
                    answers::anthropic_error(status.as_u16())
                } else {
                    gateway::error::error_json(
                        &format!("mock answer {}", status.as_u16()),
                        "mock_error",
                        "mock",
                    )
                }
            })),
        )
    } else if stream && !embeddings {
        stats.ok.fetch_add(1, Ordering::SeqCst);
        let events = match (anthropic, &asked.call_tool) {
            (true, _) => answers::anthropic_sse_events(b.chunks, &asked),
            (false, Some(tool)) => answers::openai_tool_sse_events(tool),
            (false, None) => sse_events(b.chunks),
        };
        ("text/event-stream", MockBody::sse(&b, events))
    } else {
        stats.ok.fetch_add(1, Ordering::SeqCst);
        let text = if let Some(body) = b.answer_body.clone() {
            body
        } else if embeddings {
            EMBEDDING_ANSWER.to_owned()
        } else if anthropic {
            answers::anthropic_answer(&asked)
        } else {
            answers::openai_answer(&asked)
        };
        ("application/json", MockBody::full(text))
    };
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    if status != StatusCode::OK {
        if let Some(v) = b
            .retry_after
            .as_deref()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            h.insert(http::header::RETRY_AFTER, v);
        }
    }
    for (k, v) in &b.headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            h.insert(k, v);
        }
    }
    res
}

/// The SSE events of the mock's streamed answer, in order (deterministic).
pub fn sse_events(chunks: usize) -> Vec<String> {
    let mut events: Vec<String> = (0..chunks)
        .map(|i| {
            format!(
                "data: {{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"model\":\"mock-model\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token{i} \"}},\"finish_reason\":null}}]}}\n\n"
            )
        })
        .collect();
    events.push("data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"model\":\"mock-model\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n".to_owned());
    events.push("data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"model\":\"mock-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":5,\"total_tokens\":14}}\n\n".to_owned());
    events.push("data: [DONE]\n\n".to_owned());
    events
}

/// The mock's response body: whole, or SSE events paced by a timer.
pub struct MockBody {
    events: VecDeque<Bytes>,
    gap: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    cut_after: Option<usize>,
    sent: usize,
}

impl MockBody {
    fn full(text: String) -> MockBody {
        MockBody {
            events: VecDeque::from([Bytes::from(text)]),
            gap: Duration::ZERO,
            sleep: None,
            cut_after: None,
            sent: 0,
        }
    }

    fn sse(b: &Behaviour, events: Vec<String>) -> MockBody {
        MockBody {
            events: b
                .stream_prefix
                .iter()
                .cloned()
                .chain(events)
                .map(Bytes::from)
                .collect(),
            gap: b.chunk_gap,
            sleep: None,
            cut_after: b.cut_after,
            sent: 0,
        }
    }
}

impl http_body::Body for MockBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        if this.sent > 0 && !this.gap.is_zero() && !this.events.is_empty() {
            let gap = this.gap;
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(gap)));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.sleep = None;
        }
        if this.cut_after.is_some_and(|n| this.sent >= n) {
            return Poll::Ready(Some(Err(std::io::Error::other("mock: stream cut"))));
        }
        match this.events.pop_front() {
            Some(e) => {
                this.sent += 1;
                Poll::Ready(Some(Ok(Frame::data(e))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.events.is_empty() && self.cut_after.is_none()
    }
}
