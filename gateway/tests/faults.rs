//! End-to-end tests of failures reported as what they were: refused keys, attempts that time
//! out, the request deadline, start-up frames of a stream, and config values at their limits.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::StatusCode;
use mock::{sse_events, Behaviour, MockUpstream};

async fn mock(b: Behaviour) -> MockUpstream {
    MockUpstream::start(b).await.expect("mock starts")
}

fn failures(m: &str, deployment: &str, kind: &str) -> Option<f64> {
    metric(
        m,
        &format!(
            "switchyard_deployment_failures_total{{deployment=\"{deployment}\",tier=\"standard\",kind=\"{kind}\"}}"
        ),
    )
}

#[tokio::test]
async fn a_refused_key_is_retried_elsewhere_and_taken_out_of_rotation() {
    let revoked = mock(Behaviour::status(401)).await;
    let good = mock(Behaviour::default()).await;
    let toml = config(
        &[
            Dep {
                id: "revoked",
                url: revoked.base_url(),
                weight: 3.0,
                extra: "",
            },
            Dep::plain("good", good.base_url()),
        ],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    for i in 0..12 {
        let (status, headers, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK, "request {i}");
        assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "good", "request {i}");
    }
    // Asked once, never again: it holds 3/4 of the weight.
    assert_eq!(revoked.hits(), 1);
    assert_eq!(good.hits(), 12);
    let m = gw.metrics().await;
    assert_eq!(failures(&m, "revoked", "auth"), Some(1.0));
    assert_eq!(failures(&m, "revoked", "client_error"), Some(0.0));
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_disabled", "revoked"),
        1.0
    );
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_disabled", "good"),
        0.0
    );
}

#[tokio::test]
async fn every_key_refused_is_a_502_that_says_so() {
    let a = mock(Behaviour::status(403)).await;
    let b = mock(Behaviour::status(402)).await;
    let toml = config(
        &[Dep::plain("a", a.base_url()), Dep::plain("b", b.base_url())],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    for _ in 0..3 {
        let (status, _, body) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        let e = error_of(&body);
        assert_eq!(e["code"], "upstream_auth_failed", "{e}");
        assert!(e["message"].as_str().unwrap().contains("API key"), "{e}");
    }
    // One attempt each; then nothing is sent upstream at all.
    assert_eq!((a.hits(), b.hits()), (1, 1));
    let m = gw.metrics().await;
    assert_eq!(
        metric(
            &m,
            "switchyard_requests_total{result=\"failed_all_disabled\"}"
        ),
        Some(3.0)
    );
}

/// Two deployments that hang: the default policy makes three attempts (the third after a
/// backoff) and answers 504 timeout — not 503 "no capacity" once the attempts' time passed
/// `max_wait`.
#[tokio::test]
async fn attempts_that_time_out_are_answered_as_timeouts() {
    let hang = Behaviour {
        delay: Duration::from_secs(30),
        ..Behaviour::default()
    };
    let a = mock(hang.clone()).await;
    let b = mock(hang).await;
    let extra = "first_byte_timeout = \"400ms\"";
    let toml = config(
        &[
            Dep {
                id: "a",
                url: a.base_url(),
                weight: 1.0,
                extra,
            },
            Dep {
                id: "b",
                url: b.base_url(),
                weight: 1.0,
                extra,
            },
        ],
        "[retry]\nmax_wait = \"500ms\"\n",
    );
    let gw = TestGateway::start(&toml).await;
    let (status, _, body) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{:?}", error_of(&body));
    assert_eq!(error_of(&body)["code"], "upstream_timeout");
    assert_eq!(a.hits() + b.hits(), 3);
}

#[tokio::test]
async fn the_deadline_bounds_attempts_and_answers_504() {
    let slow = mock(Behaviour {
        delay: Duration::from_secs(30),
        ..Behaviour::default()
    })
    .await;
    let toml = config(
        &[Dep::plain("slow", slow.base_url())],
        "[retry]\ndeadline = \"600ms\"\n",
    );
    let gw = TestGateway::start(&toml).await;
    let started = Instant::now();
    let (status, _, body) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(error_of(&body)["code"], "deadline_exceeded");
    assert!(took >= Duration::from_millis(600), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let m = gw.metrics().await;
    assert_eq!(
        metric(&m, "switchyard_requests_total{result=\"failed_deadline\"}"),
        Some(1.0)
    );
    // The deployment is not blamed for the client's budget.
    assert_eq!(failures(&m, "slow", "timeout"), Some(0.0));
}

const ROLE_CHUNK: &str = "data: {\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n";
const ERROR_EVENT: &str =
    "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n";

#[tokio::test]
async fn an_error_after_start_up_frames_still_falls_back() {
    for prefix in [
        vec![ROLE_CHUNK.to_owned(), ERROR_EVENT.to_owned()],
        vec![": keep-alive\n\n".to_owned(), ERROR_EVENT.to_owned()],
    ] {
        let flaky = mock(Behaviour {
            stream_prefix: prefix.clone(),
            chunk_gap: Duration::from_millis(20),
            ..Behaviour::default()
        })
        .await;
        let good = mock(Behaviour::default()).await;
        let toml = config(
            &[
                Dep {
                    id: "flaky",
                    url: flaky.base_url(),
                    weight: 3.0,
                    extra: "",
                },
                Dep::plain("good", good.base_url()),
            ],
            "",
        );
        let gw = TestGateway::start(&toml).await;
        let (status, headers, body) =
            post(&gw.url("/v1/chat/completions"), chat_stream("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK, "{prefix:?}");
        assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "good", "{prefix:?}");
        // Nothing of the failed attempt reached the client.
        assert_eq!(body, Bytes::from(sse_events(5).concat()), "{prefix:?}");
        let m = gw.metrics().await;
        assert_eq!(failures(&m, "flaky", "server_error"), Some(1.0));
    }
}

#[tokio::test]
async fn start_up_frames_are_relayed_once_content_comes() {
    let up = mock(Behaviour {
        stream_prefix: vec![": ping\n\n".to_owned(), ROLE_CHUNK.to_owned()],
        ..Behaviour::default()
    })
    .await;
    let gw = TestGateway::start(&config(&[Dep::plain("up", up.base_url())], "")).await;
    let (status, _, body) = post(&gw.url("/v1/chat/completions"), chat_stream("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    let expected = format!(": ping\n\n{ROLE_CHUNK}{}", sse_events(5).concat());
    assert_eq!(body, Bytes::from(expected));
}

/// The largest values `check` accepts serve requests normally (they once overflowed).
#[tokio::test]
async fn the_longest_durations_allowed_serve_normally() {
    let up = mock(Behaviour::default()).await;
    let extra =
        "connect_timeout = \"365d\"\nfirst_byte_timeout = \"365d\"\ntotal_timeout = \"365d\"";
    let toml = config(
        &[Dep {
            id: "up",
            url: up.base_url(),
            weight: 1.0,
            extra,
        }],
        "[retry]\nmax_wait = \"365d\"\nbackoff_base = \"365d\"\nbackoff_max = \"365d\"\ndeadline = \"365d\"\n\
         [health]\ncooldown = \"365d\"\nmax_cooldown = \"365d\"\nopen_for = \"365d\"\nmax_open_for = \"365d\"\n",
    );
    let gw = TestGateway::start(&toml).await;
    for body in [chat("gpt-4o-mini"), chat_stream("gpt-4o-mini")] {
        let (status, _, _) = post(&gw.url("/v1/chat/completions"), body).await;
        assert_eq!(status, StatusCode::OK);
    }
}
