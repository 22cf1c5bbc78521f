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
