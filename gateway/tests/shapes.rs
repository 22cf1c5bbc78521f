//! End-to-end tests across API shapes: OpenAI chat, OpenAI Responses and Anthropic Messages
//! clients, balanced to OpenAI- and Anthropic-speaking deployments (mock upstreams over real
//! HTTP), with translation both ways, streams included, and fallback from one shape to the other.

mod common;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use mock::{Behaviour, MockUpstream};
use serde_json::Value;

async fn mock(b: Behaviour) -> MockUpstream {
    MockUpstream::start(b).await.expect("mock starts")
}

/// An Anthropic deployment line for [`config`]: its base URL has no `/v1`.
fn anthropic<'a>(id: &'a str, m: &MockUpstream, weight: f64) -> Dep<'a> {
    Dep {
        id,
        url: format!("http://{}", m.addr()),
        weight,
        extra: "api = \"anthropic\"\napi_key_env = \"ANTHROPIC_KEY\"",
    }
}

async fn gateway(toml: &str) -> TestGateway {
    TestGateway::start_with(toml, gateway::Settings::default(), |name| {
        (name == "ANTHROPIC_KEY").then(|| "sk-ant-test".to_owned())
    })
    .await
}

const MESSAGES: &str = r#"{"model":"gpt-4o-mini","max_tokens":64,"system":"Be brief.","messages":[{"role":"user","content":"hello there"}]}"#;
const MESSAGES_STREAM: &str = r#"{"model":"gpt-4o-mini","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hello there"}]}"#;
const RESPONSES: &str =
    r#"{"model":"gpt-4o-mini","instructions":"Be brief.","input":"hello there"}"#;

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)))
}

#[tokio::test]
async fn an_openai_client_is_served_by_an_anthropic_deployment() {
    let claude = mock(Behaviour::default()).await;
    let gw = gateway(&config(&[anthropic("claude", &claude, 1.0)], "")).await;
    let (status, headers, body) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "claude");
    let v = json(&body);
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from the mock."
    );
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["prompt_tokens"], 9);
    assert_eq!(v["usage"]["completion_tokens"], 7);
    // The deployment was spoken to as Anthropic: its key as x-api-key, its own model name.
    let stats = claude.stats();
    assert_eq!(
        stats.last_authorization.lock().unwrap().as_deref(),
        Some("sk-ant-test")
    );
    assert_eq!(
        stats.last_model.lock().unwrap().as_deref(),
        Some("gpt-4o-mini")
    );

    // Streamed: OpenAI chunks, content in order, usage, [DONE].
    let (status, _, body) = post(&gw.url("/v1/chat/completions"), chat_stream("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body.to_vec()).unwrap();
    let content: String = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| {
            json(d.as_bytes())["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(content, "token0 token1 token2 token3 token4 ");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
}

#[tokio::test]
async fn an_anthropic_client_is_served_by_an_openai_deployment() {
    let gpt = mock(Behaviour::default()).await;
    let gw = gateway(&config(&[Dep::plain("gpt", gpt.base_url())], "")).await;
    let (status, _, body) = post_with(
        &gw.url("/v1/messages"),
        MESSAGES,
        &[("anthropic-version", "2023-06-01")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let v = json(&body);
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["content"][0]["text"], "Hello from the mock.");
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["output_tokens"], 7);

    let (status, _, body) = post(&gw.url("/v1/messages"), MESSAGES_STREAM).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body.to_vec()).unwrap();
    for event in [
        "event: message_start",
        "event: content_block_start",
        "event: content_block_delta",
        "event: message_delta",
        "event: message_stop",
    ] {
        assert!(text.contains(event), "{event} missing in {text}");
    }
    assert!(text.contains("token4 "), "{text}");
}

#[tokio::test]
async fn an_anthropic_client_reaches_an_anthropic_deployment_byte_for_byte() {
    let claude = mock(Behaviour::default()).await;
    let gw = gateway(&config(&[anthropic("claude", &claude, 1.0)], "")).await;
    let (status, _, body) = post(&gw.url("/v1/messages"), MESSAGES).await;
    assert_eq!(status, StatusCode::OK);
    let expected = mock::answers::anthropic_answer(&Default::default());
    assert_eq!(body, Bytes::from(expected));
    let (_, _, body) = post(&gw.url("/v1/messages"), MESSAGES_STREAM).await;
    let expected = mock::answers::anthropic_sse_events(5, &Default::default()).concat();
    assert_eq!(body, Bytes::from(expected));
}

#[tokio::test]
async fn a_responses_client_is_served_by_either_api() {
    let gpt = mock(Behaviour::default()).await;
    let claude = mock(Behaviour::default()).await;
    for dep in [
        Dep::plain("gpt", gpt.base_url()),
        anthropic("claude", &claude, 1.0),
    ] {
        let id = dep.id;
        let gw = gateway(&config(&[dep], "")).await;
        let (status, _, body) = post(&gw.url("/v1/responses"), RESPONSES).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{id}: {}",
            String::from_utf8_lossy(&body)
        );
        let v = json(&body);
        assert_eq!(v["object"], "response", "{id}");
        assert_eq!(v["status"], "completed", "{id}");
        assert_eq!(
            v["output"][0]["content"][0]["text"], "Hello from the mock.",
            "{id}: {v}"
        );
        let stream = RESPONSES.replace("\"input\"", "\"stream\":true,\"input\"");
        let (status, _, body) = post(&gw.url("/v1/responses"), stream).await;
        assert_eq!(status, StatusCode::OK, "{id}");
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(text.contains("response.output_text.delta"), "{id}: {text}");
        assert!(text.contains("response.completed"), "{id}: {text}");
    }
}

#[tokio::test]
async fn fallback_crosses_shapes_on_429_529_and_outage() {
    for (down, status) in [
        (Behaviour::rate_limited("30"), 429),
        (Behaviour::status(529), 529),
        (Behaviour::status(503), 503),
    ] {
        // OpenAI deployment failing → Anthropic serves an OpenAI client.
        let gpt = mock(down.clone()).await;
        let claude = mock(Behaviour::default()).await;
        let toml = config(
            &[
                Dep {
                    id: "gpt",
                    url: gpt.base_url(),
                    weight: 100.0,
                    extra: "",
                },
                anthropic("claude", &claude, 1.0),
            ],
            "",
        );
        let gw = gateway(&toml).await;
        let (code, headers, body) =
            post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
        assert_eq!(
            code,
            StatusCode::OK,
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "claude", "{status}");
        assert_eq!(json(&body)["object"], "chat.completion");
        assert_eq!(gpt.hits(), 1, "{status}");

        // Anthropic deployment failing → OpenAI serves an Anthropic client, streamed.
        let claude = mock(down.clone()).await;
        let gpt = mock(Behaviour::default()).await;
        let toml = config(
            &[
                anthropic("claude", &claude, 100.0),
                Dep::plain("gpt", gpt.base_url()),
            ],
            "",
        );
        let gw = gateway(&toml).await;
        let (code, headers, body) = post(&gw.url("/v1/messages"), MESSAGES_STREAM).await;
        assert_eq!(code, StatusCode::OK, "{status}");
        assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "gpt", "{status}");
        assert!(String::from_utf8_lossy(&body).contains("event: message_stop"));
    }
}

#[tokio::test]
async fn errors_come_back_in_the_clients_shape() {
    let claude = mock(Behaviour::status(500)).await;
    let toml = config(
        &[anthropic("claude", &claude, 1.0)],
        "[retry]\nmax_attempts = 1\n",
    );
    let gw = TestGateway::start_with(
        &toml,
        gateway::Settings {
            gateway_keys: vec!["sk-gw".into()],
            ..gateway::Settings::default()
        },
        |name| (name == "ANTHROPIC_KEY").then(|| "sk-ant-test".to_owned()),
    )
    .await;
    let anthropic_error = |body: &[u8], kind: &str| {
        let v = json(body);
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["error"]["type"], kind, "{v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    };
    let url = gw.url("/v1/messages");
    let (status, _, body) = post(&url, MESSAGES).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    anthropic_error(&body, "authentication_error");
    let key = [("x-api-key", "sk-gw")];
    let unknown = MESSAGES.replace("gpt-4o-mini", "no-such-model");
    let (status, _, body) = post_with(&url, unknown, &key).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    anthropic_error(&body, "not_found_error");
    let (status, _, body) = post_with(&url, MESSAGES, &key).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    anthropic_error(&body, "api_error");
    // The same gateway key as a bearer token; an OpenAI client gets OpenAI's shape.
    let (status, _, body) = post_with(
        &gw.url("/v1/chat/completions"),
        chat("gpt-4o-mini"),
        &[("authorization", "Bearer sk-gw")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(error_of(&body)["code"], "upstream_server_error");
}

#[tokio::test]
async fn a_stream_cut_midway_ends_with_an_anthropic_error_event() {
    let gpt = mock(Behaviour {
        cut_after: Some(3),
        chunk_gap: std::time::Duration::from_millis(50),
        ..Behaviour::default()
    })
    .await;
    let gw = gateway(&config(&[Dep::plain("gpt", gpt.base_url())], "")).await;
    let (status, _, body) = post(&gw.url("/v1/messages"), MESSAGES_STREAM).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("token1 "), "{text}");
    assert_eq!(text.matches("event: error").count(), 1, "{text}");
    assert!(!text.contains("message_stop"), "{text}");
    assert_eq!(gpt.hits(), 1, "never restarted");
}

#[tokio::test]
async fn what_cannot_be_translated_is_refused_naming_it() {
    let claude = mock(Behaviour::default()).await;
    let gw = gateway(&config(&[anthropic("claude", &claude, 1.0)], "")).await;
    let (status, _, body) = post(
        &gw.url("/v1/embeddings"),
        r#"{"model":"gpt-4o-mini","input":"hi"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let e = error_of(&body);
    assert!(
        e["message"].as_str().unwrap().contains("/embeddings"),
        "{e}"
    );
    let n2 = r#"{"model":"gpt-4o-mini","n":2,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, _, body) = post(&gw.url("/v1/chat/completions"), n2).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let e = error_of(&body);
    assert_eq!(e["code"], "untranslatable_request", "{e}");
    // The translator's refusal, field first (`n: …`), behind the deployment it cannot reach.
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .ends_with("\"claude\": n: only one choice per request can be translated"),
        "{e}"
    );
    assert_eq!(claude.hits(), 0);
}
