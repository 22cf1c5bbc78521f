//! Session affinity end to end: the gateway in front of three mock upstreams under weighted
//! round robin, with `[affinity]` on; a session's requests keep going to one upstream.

mod common;

use common::*;
use http::StatusCode;
use mock::{Behaviour, MockUpstream};

async fn mock() -> MockUpstream {
    MockUpstream::start(Behaviour::default())
        .await
        .expect("mock starts")
}

fn deployment(headers: &http::HeaderMap) -> String {
    headers
        .get(gateway::DEPLOYMENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .expect("deployment header")
        .to_owned()
}

#[tokio::test]
async fn a_session_sticks_to_one_upstream_by_header_or_body_field() {
    let (a, b, c) = (mock().await, mock().await, mock().await);
    let toml = config(
        &[
            Dep::plain("a", a.base_url()),
            Dep::plain("b", b.base_url()),
            Dep::plain("c", c.base_url()),
        ],
        "[affinity]\nsessions = 100\nttl = \"1m\"\nheader = \"X-Conversation\"\n",
    );
    let gw = TestGateway::start(&toml).await;
    let url = gw.url("/v1/chat/completions");
    // Without a session, round robin spreads: a, b, c.
    let mut spread = Vec::new();
    for _ in 0..3 {
        let (status, headers, _) = post(&url, chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK);
        spread.push(deployment(&headers));
    }
    assert_eq!(spread, ["a", "b", "c"]);
    // By the configured header: the first request goes where round robin says (a), the next
    // five follow it although round robin would move on.
    let mut by_header = Vec::new();
    for _ in 0..6 {
        let (status, headers, _) =
            post_with(&url, chat("gpt-4o-mini"), &[("x-conversation", "conv-1")]).await;
        assert_eq!(status, StatusCode::OK);
        by_header.push(deployment(&headers));
    }
    assert_eq!(by_header, ["a"; 6]);
    // By the body's `user` (OpenAI): another session, placed by round robin (b), then kept.
    let body = r#"{"model":"gpt-4o-mini","user":"alice","messages":[{"role":"user","content":"hi"}],"max_tokens":16}"#;
    let mut by_user = Vec::new();
    for _ in 0..4 {
        let (status, headers, _) = post(&url, body).await;
        assert_eq!(status, StatusCode::OK);
        by_user.push(deployment(&headers));
    }
    assert_eq!(by_user, ["b"; 4]);
    assert_eq!((a.hits(), b.hits(), c.hits()), (7, 5, 1));
}

/// The provider's report of cached input reaches the engine and the trace: the success is
/// priced with `cached_input_price` for those tokens, and the row's `cached_tokens` says so.
#[tokio::test]
async fn cached_input_reported_by_the_provider_is_priced_and_traced() {
    let up = MockUpstream::start(Behaviour {
        answer_body: Some(
            r#"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":10,"total_tokens":1010,"prompt_tokens_details":{"cached_tokens":800}}}"#
                .to_owned(),
        ),
        ..Behaviour::default()
    })
    .await
    .expect("mock starts");
    let dep = Dep {
        extra: "input_price = 2.0\noutput_price = 8.0\ncached_input_price = 0.5",
        ..Dep::plain("a", up.base_url())
    };
    let dir = std::env::temp_dir().join(format!("switchyard-cached-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("trace.csv");
    let settings = gateway::Settings {
        trace_out: Some(path.clone()),
        ..gateway::Settings::default()
    };
    let mut gw = TestGateway::start_with(&config(&[dep], ""), settings, |_| None).await;
    let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    let metrics = gw.metrics().await;
    // 200 uncached × $2 + 800 cached × $0.5 + 10 out × $8, per million.
    let expected = (200.0 * 2.0 + 800.0 * 0.5 + 10.0 * 8.0) / 1e6;
    let cost = dep_metric(&metrics, "switchyard_deployment_cost_total", "a");
    assert!((cost - expected).abs() < 1e-12, "{cost} against {expected}");
    gw.stop().await;
    let text = std::fs::read_to_string(&path).expect("trace");
    let row: Vec<&str> = text.lines().nth(1).expect("one row").split(',').collect();
    assert_eq!((row[6], row[8], row[19]), ("ok", "1000", "800"), "{row:?}");
    std::fs::remove_dir_all(&dir).ok();
}
