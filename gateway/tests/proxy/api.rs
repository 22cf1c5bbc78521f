//! The OpenAI-shaped API: bad requests (JSON, size, auth, unknown model or tier) rejected in
//! OpenAI's error shape, `/v1/models`, and embeddings and completions proxied.

use gateway::Settings;
use http::StatusCode;
use mock::Behaviour;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn bad_requests_are_rejected_in_openai_shape() {
    let m = mock(Behaviour::default()).await;
    let toml = config(&[Dep::plain("m", m.base_url())], "");
    let settings = Settings {
        gateway_keys: vec!["gw-key-1".into(), "gw-key-2".into()],
        max_body_bytes: 1024,
        ..Settings::default()
    };
    let gw = TestGateway::start_with(&toml, settings, |_| None).await;
    let url = gw.url("/v1/chat/completions");
    let auth = [("authorization", "Bearer gw-key-2")];

    let (status, _, body) = post_with(&url, "{\"model\": ", &auth).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let e = error_of(&body);
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("invalid_request_error"), Some("invalid_json"))
    );
    assert!(
        e["message"].as_str().unwrap().contains("not valid JSON"),
        "{e}"
    );

    let (status, _, body) = post_with(&url, r#"{"messages":[]}"#, &auth).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error_of(&body)["message"]
        .as_str()
        .unwrap()
        .contains("model"));

    let big = format!(
        r#"{{"model":"gpt-4o-mini","prompt":"{}"}}"#,
        "x".repeat(2000)
    );
    let (status, _, body) = post_with(&url, big, &auth).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(&body)["code"], "request_too_large");

    let (status, headers, body) = post_with(
        &url,
        chat("gpt-4o-mini"),
        &[("authorization", "Bearer wrong")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&body)["code"], "invalid_api_key");
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) = post(&url, chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = get(&gw.url("/v1/models")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _, body) = post_with(&url, chat("no-such-model"), &auth).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body)["code"], "model_not_found");

    let (status, _, body) = post_with(&gw.url("/v1/nothing"), "{}", &auth).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    error_of(&body);

    assert_eq!(m.hits(), 0, "nothing reached the upstream");

    // A tier named directly by header, with any model name.
    let (status, _, _) = post_with(
        &url,
        chat("whatever"),
        &[
            ("authorization", "Bearer gw-key-1"),
            ("x-switchyard-tier", "standard"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = post_with(
        &url,
        chat("gpt-4o-mini"),
        &[
            ("authorization", "Bearer gw-key-1"),
            ("x-switchyard-tier", "nope"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body)["code"], "tier_not_found");
    assert_eq!(m.hits(), 1);
}

#[tokio::test]
async fn models_lists_routes_and_tiers() {
    let m = mock(Behaviour::default()).await;
    let toml = config(&[Dep::plain("m", m.base_url())], "");
    let gw = TestGateway::start(&toml).await;
    let (status, _, body) = get(&gw.url("/v1/models")).await;
    assert_eq!(status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["gpt-4o-mini", "standard"]);
    assert_eq!(v["data"][0]["tier"], "standard");
}

#[tokio::test]
async fn embeddings_and_completions_are_proxied() {
    let m = mock(Behaviour::default()).await;
    let toml = config(
        &[Dep {
            id: "m",
            url: m.base_url(),
            weight: 1.0,
            extra: "upstream_model = \"provider-name\"",
        }],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    let (status, _, body) = post(
        &gw.url("/v1/embeddings"),
        r#"{"model":"gpt-4o-mini","input":"embed me"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], mock::EMBEDDING_ANSWER.as_bytes());
    assert_eq!(
        m.stats().last_model.lock().unwrap().as_deref(),
        Some("provider-name")
    );
    let (status, _, _) = post(
        &gw.url("/v1/completions"),
        r#"{"model":"gpt-4o-mini","prompt":"complete me"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(m.hits(), 2);
}
