//! Routing around broken upstreams: refused connections, server errors (while client
//! errors pass through), first-byte timeouts, and a flapping provider ejected and given
//! traffic back.

use std::time::{Duration, Instant};

use http::StatusCode;
use mock::{closed_port_url, Behaviour};

use crate::common::*;
use crate::support::*;

#[tokio::test]
async fn connection_refused_upstream_is_routed_around() {
    let (b, c) = (
        mock(Behaviour::default()).await,
        mock(Behaviour::default()).await,
    );
    let down = closed_port_url().expect("free port");
    let toml = config(
        &[
            Dep {
                id: "down",
                url: down,
                weight: 1.0,
                extra: "connect_timeout = \"500ms\"",
            },
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
    assert_eq!(b.hits() + c.hits(), 60);
    let m = gw.metrics().await;
    let refused = metric(
        &m,
        "switchyard_deployment_failures_total{deployment=\"down\",tier=\"standard\",kind=\"connection\"}",
    )
    .expect("connection failures counted");
    // The breaker opens after 5 consecutive failures (default failure_threshold).
    assert!((1.0..=5.0).contains(&refused), "refused {refused}");
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_breaker_open", "down"),
        1.0
    );
    let (ready, _, _) = get(&gw.url("/ready")).await;
    assert_eq!(ready, StatusCode::OK);
}

#[tokio::test]
async fn server_errors_fall_back_and_client_errors_pass_through() {
    let broken = mock(Behaviour::status(500)).await;
    let ok = mock(Behaviour::default()).await;
    let toml = config(
        &[
            Dep::plain("broken", broken.base_url()),
            Dep::plain("ok", ok.base_url()),
        ],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    let url = gw.url("/v1/chat/completions");
    for _ in 0..4 {
        let (status, headers, _) = post(&url, chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "ok");
    }
    assert!(broken.hits() >= 1);
    // A 400 from the provider is the client's fault: passed through as is, not retried.
    broken.set_behaviour(Behaviour::status(400));
    ok.set_behaviour(Behaviour::status(400));
    let before = broken.hits() + ok.hits();
    let (status, _, body) = post(&url, chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&body)["message"], "mock answer 400");
    assert_eq!(broken.hits() + ok.hits(), before + 1);
}

#[tokio::test]
async fn first_byte_timeout_falls_back() {
    let hang = mock(Behaviour {
        delay: Duration::from_secs(5),
        ..Behaviour::default()
    })
    .await;
    let ok = mock(Behaviour::default()).await;
    let toml = config(
        &[
            Dep {
                id: "hang",
                url: hang.base_url(),
                weight: 1.0,
                extra: "first_byte_timeout = \"200ms\"",
            },
            Dep::plain("ok", ok.base_url()),
        ],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    let started = Instant::now();
    let (status, headers, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "ok");
    assert!(started.elapsed() < Duration::from_secs(2));
    let m = gw.metrics().await;
    assert_eq!(
        metric(&m, "switchyard_deployment_failures_total{deployment=\"hang\",tier=\"standard\",kind=\"timeout\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn flapping_provider_costs_no_request_and_gets_traffic_back_when_up() {
    // "flaps" answers 500 for 150 ms, then 200 for 150 ms, over and over; "steady" always
    // answers. The breaker ejects the flapping one after 2 failures and probes it again 50 ms on.
    let flaps = mock(Behaviour::default()).await;
    let steady = mock(Behaviour::default()).await;
    let toml = config(
        &[
            Dep::plain("flaps", flaps.base_url()),
            Dep::plain("steady", steady.base_url()),
        ],
        "[health]\nfailure_threshold = 2\nopen_for = \"50ms\"\nmax_open_for = \"100ms\"\n",
    );
    let gw = TestGateway::start(&toml).await;
    let url = gw.url("/v1/chat/completions");
    let phase = Duration::from_millis(150);
    let started = Instant::now();
    let mut down = false;
    let mut ok_while_up_after_a_flap = 0;
    for i in 0..2_000 {
        let elapsed = started.elapsed();
        if elapsed > 8 * phase {
            break;
        }
        let should_be_down = (elapsed.as_millis() / phase.as_millis()).is_multiple_of(2);
        if should_be_down != down {
            down = should_be_down;
            flaps.set_behaviour(if down {
                Behaviour::status(500)
            } else {
                Behaviour::default()
            });
        }
        let ok_before = flaps.stats().ok.load(std::sync::atomic::Ordering::SeqCst);
        let (status, _, body) = post(&url, chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK, "request {i} failed: {body:?}");
        let ok_after = flaps.stats().ok.load(std::sync::atomic::Ordering::SeqCst);
        if elapsed > phase && ok_after > ok_before {
            ok_while_up_after_a_flap += 1;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        ok_while_up_after_a_flap > 0,
        "the flapping provider never got traffic back after its first outage"
    );
    let m = gw.metrics().await;
    assert!(dep_metric(&m, "switchyard_deployment_ejections_total", "flaps") >= 1.0);
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_ejections_total", "steady"),
        0.0
    );
}
