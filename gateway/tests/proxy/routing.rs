//! How traffic is split and steered: exact weighted shares, a rate-limited upstream cooling
//! down, waiting out a rate limit before failing in OpenAI's shape, and rate-limit headers
//! steering traffic before any 429.

use std::time::{Duration, Instant};

use http::StatusCode;
use mock::Behaviour;

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn weights_3_2_1_split_600_requests_exactly() {
    let (a, b, c) = (
        mock(Behaviour::default()).await,
        mock(Behaviour::default()).await,
        mock(Behaviour::default()).await,
    );
    let toml = config(
        &[
            Dep {
                id: "a",
                url: a.base_url(),
                weight: 3.0,
                extra: "",
            },
            Dep {
                id: "b",
                url: b.base_url(),
                weight: 2.0,
                extra: "",
            },
            Dep::plain("c", c.base_url()),
        ],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    let url = gw.url("/v1/chat/completions");
    for i in 0..600 {
        let (status, headers, body) = post(&url, chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body:?}");
        assert!(headers.contains_key(gateway::DEPLOYMENT_HEADER));
        assert_eq!(&body[..], mock::CHAT_ANSWER.as_bytes());
    }
    assert_eq!((a.hits(), b.hits(), c.hits()), (300, 200, 100));
    let m = gw.metrics().await;
    for (id, n, share) in [
        ("a", 300.0, 0.5),
        ("b", 200.0, 2.0 / 6.0),
        ("c", 100.0, 1.0 / 6.0),
    ] {
        assert_eq!(
            dep_metric(&m, "switchyard_deployment_attempts_total", id),
            n
        );
        assert_eq!(
            dep_metric(&m, "switchyard_deployment_successes_total", id),
            n
        );
        let actual = dep_metric(&m, "switchyard_deployment_actual_share", id);
        let configured = dep_metric(&m, "switchyard_deployment_configured_share", id);
        assert!((actual - share).abs() < 1e-9 && (configured - share).abs() < 1e-9);
        // The mock reports 9 + 7 tokens per answer.
        let out = metric(
            &m,
            &format!("switchyard_deployment_tokens_total{{deployment=\"{id}\",tier=\"standard\",direction=\"output\"}}"),
        );
        assert_eq!(out, Some(n * 7.0));
    }
    assert_eq!(
        metric(&m, "switchyard_requests_total{result=\"succeeded\"}"),
        Some(600.0)
    );
    // The request's model was rewritten to the deployment's model.
    assert_eq!(
        a.stats().last_model.lock().unwrap().as_deref(),
        Some("gpt-4o-mini")
    );
}

#[tokio::test]
async fn rate_limited_upstream_cools_down_without_client_failures() {
    let limited = mock(Behaviour::rate_limited("30")).await;
    let (b, c) = (
        mock(Behaviour::default()).await,
        mock(Behaviour::default()).await,
    );
    let toml = config(
        &[
            Dep::plain("limited", limited.base_url()),
            Dep::plain("b", b.base_url()),
            Dep::plain("c", c.base_url()),
        ],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    let url = gw.url("/v1/chat/completions");
    for i in 0..60 {
        let (status, _, body) = post(&url, chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK, "request {i}: {body:?}");
    }
    assert_eq!(
        limited.hits(),
        1,
        "retry-after: 30 keeps it out after the first 429"
    );
    assert_eq!(b.hits() + c.hits(), 60);
    let m = gw.metrics().await;
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_rate_limit_hits_total", "limited"),
        1.0
    );
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_cooling_down", "limited"),
        1.0
    );
    assert_eq!(
        metric(&m, "switchyard_deployment_failures_total{deployment=\"limited\",tier=\"standard\",kind=\"rate_limited\"}"),
        Some(1.0)
    );
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_retries_total", "b")
            + dep_metric(&m, "switchyard_deployment_retries_total", "c"),
        1.0
    );
    assert_eq!(
        metric(&m, "switchyard_requests_total{result=\"succeeded\"}"),
        Some(60.0)
    );
}

#[tokio::test]
async fn all_rate_limited_waits_then_fails_with_openai_error() {
    let limited = mock(Behaviour::rate_limited("1")).await;
    let toml = config(
        &[Dep::plain("only", limited.base_url())],
        "[retry]\nmax_attempts = 2\nmax_wait = \"3s\"\nbackoff_base = \"10ms\"\n",
    );
    let gw = TestGateway::start(&toml).await;
    let started = Instant::now();
    let (status, _, body) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    // First 429 → cooldown 1 s → the engine says wait → second attempt → 429 again → give up.
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited for retry-after"
    );
    assert_eq!(limited.hits(), 2);
    let e = error_of(&body);
    assert_eq!(e["code"], "rate_limit_exceeded");
    // While cooling down nothing is usable: /ready says so.
    let (ready, _, _) = get(&gw.url("/ready")).await;
    assert_eq!(ready, StatusCode::SERVICE_UNAVAILABLE);
    let (health, _, _) = get(&gw.url("/health")).await;
    assert_eq!(health, StatusCode::OK);
}

#[tokio::test]
async fn rate_limit_headers_steer_traffic_before_any_429() {
    // `a` says after its first answer that its requests-per-minute budget is spent.
    let a = mock(Behaviour {
        headers: vec![
            ("x-ratelimit-limit-requests".into(), "100".into()),
            ("x-ratelimit-remaining-requests".into(), "0".into()),
            ("x-ratelimit-reset-requests".into(), "1m0s".into()),
        ],
        ..Behaviour::default()
    })
    .await;
    let b = mock(Behaviour::default()).await;
    let toml = config(
        &[Dep::plain("a", a.base_url()), Dep::plain("b", b.base_url())],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    for _ in 0..20 {
        let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(
        a.hits() <= 2,
        "a was used {} times after saying it had no budget",
        a.hits()
    );
    assert_eq!(a.hits() + b.hits(), 20);
    let m = gw.metrics().await;
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_rate_limit_hits_total", "a"),
        0.0
    );
    assert!(
        metric(&m, "switchyard_deployment_limit_utilisation{deployment=\"a\",tier=\"standard\",limit=\"rpm\"}")
            .is_some_and(|u| u > 0.9),
        "{m}"
    );
}
