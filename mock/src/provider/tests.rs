//! The mock provider over real HTTP on 127.0.0.1: answers, pacing, limits, errors, outages,
//! concurrency, and draw-for-draw agreement with the simulator.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sim::Scenario;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::*;

/// A one-deployment scenario: `provider` and `deployment` are extra TOML lines of the world's
/// provider and deployment tables, `tail` more tables (incidents).
pub(super) fn scenario(provider: &str, deployment: &str, tail: &str) -> Arc<Scenario> {
    let text = format!(
        r#"
[simulation]
seed = 11
duration = "1h"
requests = 40
drain = "1h"

[workload]
arrivals = {{ constant = {{ rate = 0.1 }} }}
input_tokens = {{ constant = 40 }}
output_tokens = {{ constant = 20 }}
max_tokens = 64

[[tier]]
name = "t"
strategy = "weighted-round-robin"

[[route]]
model = "m"
tier = "t"

[[deployment]]
id = "d"
provider = "p"
model = "m"
tier = "t"

[retry]
max_attempts = 1

[[world.provider]]
name = "p"
ttft = {{ constant = "200ms" }}
per_token = {{ constant = "10ms" }}
{provider}

  [[world.provider.deployment]]
  id = "d"
  {deployment}

{tail}
"#
    );
    Arc::new(Scenario::parse(&text, "test.toml", "test").expect("test scenario is valid"))
}

pub(super) struct Running {
    pub provider: MockProvider,
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), MockError>>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("no panic")
            .expect("no error");
    }
}

pub(super) async fn start(scenario: Arc<Scenario>, time_scale: f64) -> Running {
    let mut opts = MockOptions::for_deployment(scenario, "d").expect("deployment d exists");
    opts.time_scale = time_scale;
    start_with(opts).await
}

/// Serves a mock with these options on 127.0.0.1; its `url` is `http://ADDR/v1`.
pub(super) async fn start_with(opts: MockOptions) -> Running {
    let provider = MockProvider::new(opts).expect("valid options");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel::<()>();
    let p = provider.clone();
    let task = tokio::spawn(async move {
        p.serve(listener, async {
            let _ = rx.await;
        })
        .await
    });
    Running {
        provider,
        url,
        stop: Some(tx),
        task,
    }
}

const CHAT: &str =
    r#"{"model":"m","messages":[{"role":"user","content":"hello there, mock"}],"max_tokens":64}"#;
const CHAT_STREAM: &str =
    r#"{"model":"m","messages":[{"role":"user","content":"hello"}],"stream":true,"max_tokens":5}"#;

pub(super) type Answer = Result<(StatusCode, HeaderMap, Bytes), String>;

pub(super) async fn post(url: &str, body: &'static str, limit: Duration) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .map_err(|e| e.to_string())?;
    let work = async {
        let res = client.request(req).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, parts.headers, body))
    };
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err("timed out".to_owned()))
}

pub(super) fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON body")
}

#[tokio::test]
async fn chat_answer_takes_ttft_plus_tokens_and_carries_headers() {
    let m = start(scenario("", "rpm = 100\ntpm = 100000", ""), 0.1).await;
    let url = format!("{}/chat/completions", m.url);
    let t = Instant::now();
    let (status, headers, body) = post(&url, CHAT, Duration::from_secs(5))
        .await
        .expect("answer");
    let elapsed = t.elapsed();
    assert_eq!(status, StatusCode::OK);
    // 200 ms + 20 tokens × 10 ms = 400 ms modelled, × 0.1.
    assert!(elapsed >= Duration::from_millis(39), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(400), "{elapsed:?}");
    let doc = json(&body);
    assert_eq!(doc["object"], "chat.completion");
    assert_eq!(doc["model"], "m");
    assert_eq!(doc["usage"]["completion_tokens"], 20);
    assert_eq!(
        doc["usage"]["prompt_tokens"], 5,
        "17 characters ÷ 4, rounded up"
    );
    assert_eq!(doc["choices"][0]["finish_reason"], "stop");
    // Limits per real minute: 100 per modelled minute is 1000 per real one at 0.1.
    assert_eq!(headers["x-ratelimit-limit-requests"], "1000");
    assert_eq!(headers["x-ratelimit-remaining-requests"], "99");
    assert_eq!(headers["x-ratelimit-limit-tokens"], "1000000");
    // 5 + 64 tokens charged, then refilled at 100000/min for the 0.4 modelled seconds.
    let tokens: u64 = headers["x-ratelimit-remaining-tokens"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a count");
    assert!((100_000 - 5 - 64..=100_000).contains(&tokens), "{tokens}");
    let reset = gateway::headers::parse_reset(
        headers["x-ratelimit-reset-requests"]
            .to_str()
            .expect("ascii"),
    )
    .expect("a Go duration");
    // Sliding window: one request of 100/min back in 0.6 s modelled = 60 ms real.
    assert!(reset <= Duration::from_millis(61), "{reset:?}");
    let limits = gateway::headers::limit_headers(&headers);
    assert_eq!(limits.remaining_requests, Some(99));
    assert_eq!(m.provider.stats().ok.load(Ordering::Relaxed), 1);
    // Completions answer in their own shape.
    let (status, _, body) = post(
        &format!("{}/completions", m.url),
        r#"{"model":"m","prompt":"Say hi","max_tokens":3}"#,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert_eq!(status, StatusCode::OK);
    let doc = json(&body);
    assert_eq!(doc["object"], "text_completion");
    assert_eq!(doc["usage"]["completion_tokens"], 3, "capped by max_tokens");
    assert_eq!(doc["choices"][0]["finish_reason"], "length");
    // Embeddings: TTFT only, no output tokens.
    let (status, _, body) = post(
        &format!("{}/embeddings", m.url),
        r#"{"model":"m","input":"embed these words"}"#,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert_eq!(status, StatusCode::OK);
    let doc = json(&body);
    assert_eq!(doc["object"], "list");
    assert_eq!(
        doc["data"][0]["embedding"].as_array().map(Vec::len),
        Some(8)
    );
    assert_eq!(doc["usage"]["prompt_tokens"], 5);
    // Keys in OpenAI's order, not sorted.
    let text = String::from_utf8(
        post(&url, CHAT, Duration::from_secs(5))
            .await
            .expect("answer")
            .2
            .to_vec(),
    )
    .expect("UTF-8");
    assert!(text.starts_with(r#"{"id":"chatcmpl-mock-"#), "{text}");
    m.stop().await;
}

#[tokio::test]
async fn streams_are_paced_and_end_with_usage_and_done() {
    let m = start(scenario("", "", ""), 0.2).await;
    let url = format!("{}/chat/completions", m.url);
    let t = Instant::now();
    let (status, headers, body) = post(&url, CHAT_STREAM, Duration::from_secs(5))
        .await
        .expect("answer");
    let elapsed = t.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/event-stream");
    // 200 ms + 5 × 10 ms = 250 ms modelled, × 0.2.
    assert!(elapsed >= Duration::from_millis(49), "{elapsed:?}");
    let text = String::from_utf8(body.to_vec()).expect("UTF-8");
    let events: Vec<&str> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").expect("data events only"))
        .collect();
    assert_eq!(
        events.len(),
        5 + 3,
        "5 tokens, finish, usage, [DONE]: {text}"
    );
    assert_eq!(events[7], "[DONE]");
    let first = json(events[0].as_bytes());
    assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
    let finish = json(events[5].as_bytes());
    assert_eq!(finish["choices"][0]["finish_reason"], "length");
    let usage = json(events[6].as_bytes());
    assert_eq!(usage["usage"]["completion_tokens"], 5);
    // The gateway's stream scanner finds the usage.
    let mut scanner = gateway::UsageScanner::default();
    scanner.feed(&body);
    scanner.finish();
    assert_eq!(scanner.usage, Some((2, 5)));
    m.stop().await;
}

#[tokio::test]
async fn true_rate_limits_answer_429_with_retry_after() {
    let m = start(
        scenario(
            "rejection_latency = \"100ms\"",
            "rpm = 3\nwindow = \"fixed\"",
            "",
        ),
        0.01,
    )
    .await;
    let url = format!("{}/chat/completions", m.url);
    let mut statuses = Vec::new();
    let mut last = HeaderMap::new();
    for _ in 0..4 {
        let (status, headers, _) = post(&url, CHAT, Duration::from_secs(5))
            .await
            .expect("answer");
        statuses.push(status.as_u16());
        last = headers;
    }
    // The fixed minute (0.6 s real) may have rolled over between requests on a slow machine.
    assert_eq!(
        &statuses[..3],
        &[200, 200, 200],
        "three requests fit: {statuses:?}"
    );
    if statuses[3] == 429 {
        assert_eq!(last["x-ratelimit-remaining-requests"], "0");
        let ms: f64 = last["retry-after-ms"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("a number");
        assert!((1.0..=600.0).contains(&ms), "retry-after-ms {ms}");
        assert_eq!(last["retry-after"], "1", "whole seconds, rounded up");
        let retry = gateway::headers::retry_after(&last, std::time::SystemTime::now())
            .expect("the gateway reads it");
        assert!(retry <= Duration::from_millis(600));
        assert_eq!(m.provider.stats().rate_limited.load(Ordering::Relaxed), 1);
    }
    m.stop().await;
}

#[tokio::test]
async fn header_fidelity_filters_what_is_sent() {
    let remaining = start(
        scenario("rate_limit_headers = \"remaining\"", "rpm = 100", ""),
        0.01,
    )
    .await;
    let (_, h, _) = post(
        &format!("{}/chat/completions", remaining.url),
        CHAT,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert!(h.contains_key("x-ratelimit-remaining-requests"));
    assert!(!h.contains_key("x-ratelimit-limit-requests"));
    remaining.stop().await;
    let none = start(
        scenario("rate_limit_headers = \"none\"", "rpm = 100", ""),
        0.01,
    )
    .await;
    let (_, h, _) = post(
        &format!("{}/chat/completions", none.url),
        CHAT,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert!(!h.keys().any(|k| k.as_str().starts_with("x-ratelimit-")));
    none.stop().await;
}

#[tokio::test]
async fn outages_refuse_answer_503_or_hang() {
    let incident = |mode: &str| {
        format!(
            "[[world.incident]]\nkind = \"outage\"\ntarget = \"p\"\nmode = \"{mode}\"\nstart = \"0s\"\nend = \"10h\""
        )
    };
    let refused = start(scenario("", "", &incident("connection")), 0.01).await;
    let r = post(
        &format!("{}/chat/completions", refused.url),
        CHAT,
        Duration::from_secs(5),
    )
    .await;
    assert!(r.is_err(), "connection dropped: {r:?}");
    assert!(refused.provider.stats().refused.load(Ordering::Relaxed) >= 1);
    refused.stop().await;

    let down = start(scenario("", "", &incident("503")), 0.01).await;
    let (status, _, body) = post(
        &format!("{}/chat/completions", down.url),
        CHAT,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(json(&body)["error"]["code"].is_string());
    down.stop().await;

    let hang = start(scenario("", "", &incident("hang")), 0.01).await;
    let r = post(
        &format!("{}/chat/completions", hang.url),
        CHAT,
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(r.err().as_deref(), Some("timed out"));
    assert_eq!(hang.provider.stats().hung.load(Ordering::Relaxed), 1);
    // Shutdown does not wait for the hanging request beyond the grace period.
    hang.stop().await;
}

#[tokio::test]
async fn a_connection_outage_also_drops_kept_alive_connections() {
    // Outage from 3 s modelled = 300 ms real at 0.1; a request takes 40 ms real.
    let m = start(
        scenario(
            "",
            "",
            "[[world.incident]]\nkind = \"outage\"\ntarget = \"d\"\nmode = \"connection\"\nstart = \"3s\"\nend = \"10h\"",
        ),
        0.1,
    )
    .await;
    let url = format!("{}/chat/completions", m.url);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let send = || {
        let req = Request::post(&url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(CHAT.as_bytes())))
            .expect("request");
        tokio::time::timeout(Duration::from_secs(5), client.request(req))
    };
    let first = send()
        .await
        .expect("in time")
        .expect("answered before the outage");
    assert_eq!(first.status(), StatusCode::OK);
    first.into_body().collect().await.expect("body");
    for _ in 0..100 {
        if m.provider.modelled_now() > Duration::from_millis(3100) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = send().await.expect("in time");
    assert!(second.is_err(), "dropped without an answer: {second:?}");
    let stats = m.provider.stats();
    assert_eq!(
        stats.requests.load(Ordering::Relaxed),
        2,
        "the second request reached the handler on the kept-alive connection"
    );
    assert!(stats.refused.load(Ordering::Relaxed) >= 1);
    m.stop().await;
}

#[tokio::test]
async fn incidents_follow_the_scaled_clock() {
    // A 503 outage from 1 s to 2 s modelled = 10–20 ms real at 0.01.
    let m = start(
        scenario(
            "",
            "",
            "[[world.incident]]\nkind = \"outage\"\ntarget = \"d\"\nmode = \"503\"\nstart = \"1s\"\nend = \"2s\"",
        ),
        0.01,
    )
    .await;
    let url = format!("{}/chat/completions", m.url);
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(m.provider.modelled_now() >= Duration::from_secs(2));
    let (status, _, _) = post(&url, CHAT, Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(status, StatusCode::OK, "the outage is over");
    m.stop().await;
}

#[tokio::test]
async fn errors_and_bad_requests() {
    let m = start(scenario("error_rate = 1.0", "", ""), 0.01).await;
    let url = format!("{}/chat/completions", m.url);
    let (status, _, body) = post(&url, CHAT, Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json(&body)["error"]["type"], "server_error");
    let (status, _, body) = post(&url, "{nope", Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json(&body)["error"]["code"], "invalid_json");
    let (status, _, _) = post(&format!("{}/nothing", m.url), CHAT, Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let s = m.provider.stats();
    assert_eq!(s.server_errors.load(Ordering::Relaxed), 1);
    assert_eq!(s.bad_requests.load(Ordering::Relaxed), 2);
    m.stop().await;
}

#[tokio::test]
async fn concurrency_queues_in_fifo_order() {
    let m = start(scenario("concurrency = 1", "", ""), 0.1).await;
    let url = format!("{}/chat/completions", m.url);
    let t = Instant::now();
    let (a, b) = tokio::join!(
        post(&url, CHAT, Duration::from_secs(5)),
        post(&url, CHAT, Duration::from_secs(5))
    );
    let elapsed = t.elapsed();
    assert_eq!(a.expect("a").0, StatusCode::OK);
    assert_eq!(b.expect("b").0, StatusCode::OK);
    // Two 40 ms services one after the other.
    assert!(elapsed >= Duration::from_millis(79), "{elapsed:?}");
    assert_eq!(m.provider.stats().queued.load(Ordering::Relaxed), 1);
    m.stop().await;
}

#[tokio::test]
async fn the_kth_request_draws_what_the_simulators_kth_attempt_draws() {
    let s = scenario(
        "error_rate = 0.3",
        "ttft = { lognormal = { median = \"200ms\", p99 = \"1s\" } }",
        "",
    );
    // The simulator: 40 attempts, one at a time (10 s apart), no retries.
    struct Rows(Vec<String>);
    impl sim::trace::TraceSink for Rows {
        fn attempt(&mut self, row: &sim::trace::TraceRow) {
            self.0.push(row.outcome.clone());
        }
    }
    let mut rows = Rows(Vec::new());
    sim::run(
        &s,
        sim::RunOptions {
            strategy: None,
            seed: s.settings.seed,
            trace: Some(&mut rows),
            progress: None,
        },
    );
    assert_eq!(rows.0.len(), 40);
    let m = start(s, 0.01).await;
    let url = format!("{}/chat/completions", m.url);
    let mut got = Vec::new();
    for _ in 0..40 {
        let (status, _, _) = post(&url, CHAT, Duration::from_secs(5))
            .await
            .expect("answer");
        got.push(if status == StatusCode::OK {
            "ok"
        } else {
            "server_error"
        });
    }
    assert_eq!(got, rows.0, "same seed, same draws, same outcomes");
    assert!(got.contains(&"server_error") && got.contains(&"ok"));
    m.stop().await;
}

#[test]
fn options_are_checked() {
    let s = scenario("", "", "");
    let e = MockOptions::for_deployment(s.clone(), "x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "deployment \"x\" is not in the scenario; its deployments are: d"
    );
    let mut opts = MockOptions::for_deployment(s, "d").expect("exists");
    opts.time_scale = 0.0;
    assert!(matches!(
        MockProvider::new(opts.clone()),
        Err(MockError::TimeScale(_))
    ));
    opts.time_scale = 1.0;
    opts.deployment = 3;
    assert!(matches!(
        MockProvider::new(opts),
        Err(MockError::DeploymentIndex { .. })
    ));
}

#[tokio::test]
async fn inputs_longer_than_the_context_window_get_a_400_before_any_quota() {
    // CHAT asks for max_tokens 64 on a ~5-token input: over a 32-token window, under a 200 one.
    let m = start(scenario("", "rpm = 1\ncontext_window = 32", ""), 0.01).await;
    let url = format!("{}/chat/completions", m.url);
    let (status, _, body) = post(&url, CHAT, Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let doc: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(doc["error"]["code"], "context_length_exceeded");
    assert!(
        gateway::says_context_length_exceeded(&body),
        "the gateway recognises it"
    );
    assert_eq!(m.provider.stats().context_length.load(Ordering::SeqCst), 1);
    // The refused request charged nothing: with rpm = 1 a request that fits is still served.
    let (status, _, _) = post(&url, CHAT_STREAM, Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(status, StatusCode::OK);
    m.stop().await;
}
