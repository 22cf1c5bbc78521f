//! The mock provider over real HTTP on 127.0.0.1: answers, pacing, limits, errors,
//! concurrency, and draw-for-draw agreement with the simulator (outages: `outage_tests.rs`).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};

use super::*;

use super::test_support::*;

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
    assert_eq!(scanner.usage.map(|t| (t.input, t.output)), Some((2, 5)));
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
    // One slot; each answer takes 200 ms + 20 tokens × 10 ms = 400 ms (scale 1).
    let service = Duration::from_millis(400);
    let m = start(scenario("concurrency = 1", "", ""), 1.0).await;
    let url = format!("{}/chat/completions", m.url);
    let t = Instant::now();
    let send = |url: &String| {
        let url = url.clone();
        tokio::spawn(async move {
            let answer = post(&url, CHAT, Duration::from_secs(30)).await;
            (answer, t.elapsed())
        })
    };
    // Waits until `n` requests have queued for the slot (so their arrival order is known).
    let queued = |n: u64| {
        let stats = m.provider.stats();
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            while stats.queued.load(Ordering::Relaxed) < n {
                assert!(Instant::now() < deadline, "{n} requests never queued");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    };
    // Two at once: one takes the slot, the other is the first in the queue. Then two more,
    // each sent only once the one before it is queued.
    let (a, b) = (send(&url), send(&url));
    queued(1).await;
    let c = send(&url);
    queued(2).await;
    let d = send(&url);
    queued(3).await;
    let mut answers = Vec::new();
    for task in [a, b, c, d] {
        let (answer, at) = task.await.expect("no panic");
        let (status, _, body) = answer.expect("answered");
        assert_eq!(status, StatusCode::OK);
        // Ids are numbered in the order service begins (from 1).
        let id = json(&body)["id"].as_str().expect("an id").to_owned();
        answers.push((id, at));
    }
    let ids: Vec<&str> = answers.iter().map(|(id, _)| id.as_str()).collect();
    let mut first_two = ids[..2].to_vec();
    first_two.sort_unstable();
    assert_eq!(
        (first_two, &ids[2..]),
        (
            vec!["chatcmpl-mock-1", "chatcmpl-mock-2"],
            &["chatcmpl-mock-3", "chatcmpl-mock-4"][..]
        ),
        "served in the order they queued"
    );
    // One after the other: the k-th served cannot finish before k whole services.
    let mut by_service: Vec<_> = answers.iter().collect();
    by_service.sort_by(|x, y| x.0.cmp(&y.0));
    for (k, (id, at)) in by_service.iter().enumerate() {
        let k = u32::try_from(k + 1).expect("small");
        assert!(
            *at >= service * k - Duration::from_millis(5),
            "{id}: {at:?}"
        );
    }
    assert_eq!(m.provider.stats().queued.load(Ordering::Relaxed), 3);
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
