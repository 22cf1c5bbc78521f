//! The mock provider in Anthropic's API over real HTTP on 127.0.0.1: `POST /v1/messages`
//! answered plain and streamed in Anthropic's shape, its limits, outages and context window in
//! Anthropic's headers and error bodies.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use http::StatusCode;

use super::test_support::{json, post, scenario, start, start_with};
use super::*;

const MESSAGE: &str =
    r#"{"model":"m","messages":[{"role":"user","content":"hello there, mock"}],"max_tokens":64}"#;
const MESSAGE_STREAM: &str =
    r#"{"model":"m","messages":[{"role":"user","content":"hello"}],"max_tokens":5,"stream":true}"#;

#[tokio::test]
async fn messages_are_answered_in_anthropics_shape_with_its_headers() {
    let m = start(
        scenario("", "rpm = 100\ntpm = 100000\napi = \"anthropic\"", ""),
        0.1,
    )
    .await;
    assert_eq!(
        m.provider.api(),
        Api::Anthropic,
        "the world deployment's api"
    );
    let url = format!("{}/messages", m.url);
    let t = Instant::now();
    let (status, headers, body) = post(&url, MESSAGE, Duration::from_secs(5))
        .await
        .expect("answer");
    // 200 ms + 20 tokens × 10 ms = 400 ms modelled, × 0.1.
    assert!(
        t.elapsed() >= Duration::from_millis(39),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(status, StatusCode::OK);
    let doc = json(&body);
    assert_eq!(doc["type"], "message");
    assert_eq!(doc["role"], "assistant");
    assert_eq!(doc["model"], "m");
    assert!(doc["id"].as_str().expect("an id").starts_with("msg_"));
    assert_eq!(doc["content"][0]["type"], "text");
    assert!(doc["content"][0]["text"]
        .as_str()
        .expect("text")
        .starts_with("The quick brown fox"));
    assert_eq!(doc["stop_reason"], "end_turn");
    assert_eq!(doc["usage"]["input_tokens"], 5, "17 characters ÷ 4");
    assert_eq!(doc["usage"]["output_tokens"], 20);
    assert_eq!(
        gateway::usage_of(&body).map(|t| (t.input, t.output)),
        Some((5, 20)),
        "the gateway reads it"
    );
    // Anthropic's rate-limit headers, per real minute, resets as RFC 3339 times.
    assert_eq!(headers["anthropic-ratelimit-requests-limit"], "1000");
    assert_eq!(headers["anthropic-ratelimit-requests-remaining"], "99");
    assert_eq!(headers["anthropic-ratelimit-tokens-limit"], "1000000");
    let reset = headers["anthropic-ratelimit-requests-reset"]
        .to_str()
        .expect("ascii");
    let at = humantime::parse_rfc3339(reset).expect("an RFC 3339 UTC time");
    assert!(at >= SystemTime::now() - Duration::from_secs(1), "{reset}");
    assert!(!headers
        .keys()
        .any(|k| k.as_str().starts_with("x-ratelimit-")));
    let limits = gateway::headers::limit_headers(&headers);
    assert_eq!(limits.remaining_requests, Some(99));
    assert!(limits.reset_requests.expect("a reset") <= Duration::from_millis(100));
    // OpenAI's paths are not Anthropic's: 404 in Anthropic's shape.
    let (status, _, body) = post(
        &format!("{}/chat/completions", m.url),
        MESSAGE,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(json(&body)["error"]["type"], "not_found_error");
    // Anthropic requires max_tokens.
    let (status, _, body) = post(
        &url,
        r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let doc = json(&body);
    assert_eq!(doc["type"], "error");
    assert_eq!(doc["error"]["type"], "invalid_request_error");
    assert_eq!(doc["error"]["message"], "max_tokens: Field required");
    m.stop().await;
}

#[tokio::test]
async fn streams_follow_anthropics_event_order_at_the_token_rate() {
    let mut opts = MockOptions::for_deployment(scenario("", "", ""), "d").expect("d");
    assert_eq!(opts.api, Api::OpenAi, "the default");
    opts.api = Api::Anthropic; // what --api anthropic does
    opts.time_scale = 0.2;
    let m = start_with(opts).await;
    let t = Instant::now();
    let (status, headers, body) = post(
        &format!("{}/messages", m.url),
        MESSAGE_STREAM,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    // 200 ms + 5 × 10 ms = 250 ms modelled, × 0.2.
    assert!(
        t.elapsed() >= Duration::from_millis(49),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/event-stream");
    let text = String::from_utf8(body.to_vec()).expect("UTF-8");
    let events: Vec<(&str, serde_json::Value)> = text
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once('\n').expect("event and data lines");
            let name = name.strip_prefix("event: ").expect("an event line");
            let data = json(data.strip_prefix("data: ").expect("a data line").as_bytes());
            assert_eq!(data["type"], name, "{e}");
            (name, data)
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|(n, _)| *n).collect();
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(["content_block_delta"; 5]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected, "{text}");
    let start = &events[0].1["message"];
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["usage"]["input_tokens"], 2);
    assert_eq!(events[3].1["delta"]["type"], "text_delta");
    assert_eq!(events[3].1["delta"]["text"], "The ");
    let delta = &events[9].1;
    assert_eq!(delta["delta"]["stop_reason"], "max_tokens", "capped at 5");
    assert_eq!(delta["usage"]["output_tokens"], 5);
    assert_eq!(m.provider.stats().ok.load(Ordering::Relaxed), 1);
    m.stop().await;
}

#[tokio::test]
async fn a_429_carries_anthropics_headers_and_body() {
    let m = start(
        scenario("", "rpm = 1\nwindow = \"fixed\"\napi = \"anthropic\"", ""),
        0.01,
    )
    .await;
    let url = format!("{}/messages", m.url);
    let (first, _, _) = post(&url, MESSAGE, Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(first, StatusCode::OK);
    let (status, headers, body) = post(&url, MESSAGE, Duration::from_secs(5))
        .await
        .expect("answer");
    // The fixed minute (0.6 s real) may have rolled over on a slow machine.
    if status == StatusCode::TOO_MANY_REQUESTS {
        let doc = json(&body);
        assert_eq!(doc["type"], "error");
        assert_eq!(doc["error"]["type"], "rate_limit_error");
        assert!(doc["error"]["message"].is_string());
        assert_eq!(headers["retry-after"], "1", "whole seconds, rounded up");
        assert!(headers.get("retry-after-ms").is_none(), "not Anthropic's");
        assert_eq!(headers["anthropic-ratelimit-requests-remaining"], "0");
        assert!(headers.contains_key("anthropic-ratelimit-requests-reset"));
        let retry = gateway::headers::retry_after(&headers, SystemTime::now())
            .expect("the gateway reads it");
        assert_eq!(retry, Duration::from_secs(1));
        assert_eq!(m.provider.stats().rate_limited.load(Ordering::Relaxed), 1);
    } else {
        assert_eq!(status, StatusCode::OK, "a new minute");
    }
    m.stop().await;
}

#[tokio::test]
async fn an_outage_answers_529_overloaded() {
    let outage = "[[world.incident]]\nkind = \"outage\"\ntarget = \"p\"\nmode = \"503\"\nstart = \"0s\"\nend = \"10h\"";
    let m = start(scenario("", "api = \"anthropic\"", outage), 0.01).await;
    let (status, _, body) = post(
        &format!("{}/messages", m.url),
        MESSAGE,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert_eq!(status.as_u16(), 529);
    let doc = json(&body);
    assert_eq!(doc["type"], "error");
    assert_eq!(doc["error"]["type"], "overloaded_error");
    assert_eq!(m.provider.stats().unavailable.load(Ordering::Relaxed), 1);
    m.stop().await;
}

#[tokio::test]
async fn too_long_a_prompt_gets_anthropics_400() {
    let m = start(
        scenario("", "context_window = 32\napi = \"anthropic\"", ""),
        0.01,
    )
    .await;
    let (status, _, body) = post(
        &format!("{}/messages", m.url),
        MESSAGE,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let doc = json(&body);
    assert_eq!(doc["error"]["type"], "invalid_request_error");
    assert_eq!(
        doc["error"]["message"],
        "prompt is too long: 69 tokens > 32 maximum"
    );
    assert!(
        gateway::says_context_length_exceeded(&body),
        "the gateway recognises it"
    );
    m.stop().await;
}
