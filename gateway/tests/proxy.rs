//! End-to-end tests: the gateway in front of mock upstreams on 127.0.0.1.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use gateway::Settings;
use http::StatusCode;
use http_body_util::BodyExt;
use mock::{closed_port_url, sse_events, Behaviour, MockUpstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn mock(b: Behaviour) -> MockUpstream {
    MockUpstream::start(b).await.expect("mock starts")
}

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
async fn streaming_passes_through_byte_identical_and_unbuffered() {
    let b = Behaviour {
        chunks: 6,
        chunk_gap: Duration::from_millis(60),
        ..Behaviour::default()
    };
    let m = mock(b).await;
    let toml = config(&[Dep::plain("m", m.base_url())], "");
    let gw = TestGateway::start(&toml).await;

    let (status, _, direct) = post(
        &format!("{}/chat/completions", m.base_url()),
        chat_stream("gpt-4o-mini"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(direct, Bytes::from(sse_events(6).concat()));

    // Through the gateway, frame by frame: the first chunk arrives long before the last.
    let req = http::Request::post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(Bytes::from(chat_stream(
            "gpt-4o-mini",
        ))))
        .unwrap();
    let started = Instant::now();
    let res = client().request(req).await.expect("answer");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();
    let mut got = Vec::new();
    let mut first_at = None;
    while let Some(frame) = tokio::time::timeout(Duration::from_secs(10), body.frame())
        .await
        .expect("frame in time")
    {
        if let Ok(data) = frame.expect("frame").into_data() {
            first_at.get_or_insert(started.elapsed());
            got.extend_from_slice(&data);
        }
    }
    let total = started.elapsed();
    assert_eq!(
        Bytes::from(got),
        direct,
        "byte-identical to a direct request"
    );
    let first_at = first_at.expect("some data");
    assert!(
        first_at + Duration::from_millis(250) < total,
        "first chunk at {first_at:?}, end at {total:?}: not relayed chunk by chunk"
    );
    let metrics = gw.metrics().await;
    assert_eq!(
        dep_metric(&metrics, "switchyard_deployment_successes_total", "m"),
        1.0
    );
    // Usage came from the final chunk: 9 in, 5 out.
    assert_eq!(
        metric(&metrics, "switchyard_deployment_tokens_total{deployment=\"m\",tier=\"standard\",direction=\"output\"}"),
        Some(5.0)
    );
    assert_eq!(
        dep_metric(&metrics, "switchyard_deployment_in_flight", "m"),
        0.0
    );
}

/// A relayed stream that carried its first `chunks` events intact, then ended with the
/// gateway's `stream_interrupted` error event instead of `[DONE]`.
#[track_caller]
fn assert_interrupted_after(body: &Bytes, chunks: usize) {
    let text = String::from_utf8(body.to_vec()).expect("UTF-8 stream");
    assert!(
        text.starts_with(&sse_events(5)[..chunks].concat()),
        "{text}"
    );
    let last = text.trim_end().lines().last().expect("a last line");
    let payload = last.strip_prefix("data: ").expect("an SSE data line");
    assert_eq!(error_of(payload.as_bytes())["code"], "stream_interrupted");
    assert!(!text.contains("[DONE]"), "{text}");
}

#[tokio::test]
async fn stream_cut_midway_ends_with_an_error_event_and_is_not_restarted() {
    let cut = mock(Behaviour {
        cut_after: Some(2),
        chunk_gap: Duration::from_millis(50),
        ..Behaviour::default()
    })
    .await;
    let other = mock(Behaviour::default()).await;
    let toml = config(
        &[
            Dep::plain("cut", cut.base_url()),
            Dep::plain("other", other.base_url()),
        ],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    let (status, _, body) = post(&gw.url("/v1/chat/completions"), chat_stream("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_interrupted_after(&body, 2);
    assert_eq!(
        (cut.hits(), other.hits()),
        (1, 0),
        "never restarted elsewhere"
    );
    let m = gw.metrics().await;
    assert_eq!(
        metric(&m, "switchyard_deployment_failures_total{deployment=\"cut\",tier=\"standard\",kind=\"connection\"}"),
        Some(1.0)
    );
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_in_flight", "cut"),
        0.0
    );
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_in_flight", "other"),
        0.0
    );
    assert_eq!(metric(&m, "switchyard_requests_in_flight"), Some(0.0));
}

#[tokio::test]
async fn stream_that_stalls_after_its_first_chunk_ends_with_an_error_event() {
    // Headers and one chunk, then silence far longer than the deployment's first_byte_timeout
    // (which also bounds the gap between two chunks).
    let stalled = mock(Behaviour {
        chunk_gap: Duration::from_secs(5),
        ..Behaviour::default()
    })
    .await;
    let other = mock(Behaviour::default()).await;
    let toml = config(
        &[
            Dep {
                extra: "first_byte_timeout = \"300ms\"",
                ..Dep::plain("stalled", stalled.base_url())
            },
            Dep::plain("other", other.base_url()),
        ],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    let (status, _, body) = post(&gw.url("/v1/chat/completions"), chat_stream("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_interrupted_after(&body, 1);
    assert_eq!((stalled.hits(), other.hits()), (1, 0), "never restarted");
    let m = gw.metrics().await;
    assert_eq!(
        metric(&m, "switchyard_deployment_failures_total{deployment=\"stalled\",tier=\"standard\",kind=\"timeout\"}"),
        Some(1.0)
    );
    assert_eq!(metric(&m, "switchyard_requests_in_flight"), Some(0.0));
}

#[tokio::test]
async fn client_disconnect_frees_the_in_flight_slot() {
    let slow = mock(Behaviour {
        delay: Duration::from_secs(10),
        ..Behaviour::default()
    })
    .await;
    let toml = config(&[Dep::plain("slow", slow.base_url())], "");
    let gw = TestGateway::start(&toml).await;
    let body = chat("gpt-4o-mini");
    let mut conn = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let in_flight = |gw: &common::TestGateway| {
        let url = gw.url("/metrics");
        async move {
            let (_, _, m) = get(&url).await;
            dep_metric(
                std::str::from_utf8(&m).unwrap(),
                "switchyard_deployment_in_flight",
                "slow",
            )
        }
    };
    assert!(
        eventually(Duration::from_secs(5), || async {
            in_flight(&gw).await == 1.0
        })
        .await,
        "the attempt is in flight"
    );
    assert!(eventually(Duration::from_secs(5), || async { slow.hits() == 1 }).await);
    drop(conn);
    assert!(
        eventually(Duration::from_secs(5), || async {
            in_flight(&gw).await == 0.0
        })
        .await,
        "client disconnect released the slot"
    );
    assert!(
        eventually(Duration::from_secs(5), || async {
            slow.stats()
                .cancelled
                .load(std::sync::atomic::Ordering::SeqCst)
                == 1
        })
        .await,
        "the upstream request was cancelled too"
    );
    let m = gw.metrics().await;
    assert_eq!(
        metric(&m, "switchyard_requests_total{result=\"cancelled\"}"),
        Some(1.0)
    );
    assert_eq!(metric(&m, "switchyard_requests_in_flight"), Some(0.0));
    assert_eq!(
        dep_metric(&m, "switchyard_deployment_cancelled_total", "slow"),
        1.0
    );
}

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

#[tokio::test]
async fn trace_has_one_row_per_attempt() {
    let dir = std::env::temp_dir().join(format!("switchyard-gw-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.csv");
    let limited = mock(Behaviour::rate_limited("30")).await;
    let ok = mock(Behaviour::default()).await;
    let toml = config(
        &[
            Dep::plain("limited", limited.base_url()),
            Dep::plain("ok", ok.base_url()),
        ],
        "",
    );
    let settings = Settings {
        trace_out: Some(path.clone()),
        ..Settings::default()
    };
    let mut gw = TestGateway::start_with(&toml, settings, |_| None).await;
    for _ in 0..3 {
        let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK);
    }
    gw.stop().await;
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(gateway::trace::HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert_eq!(
        &rows[0][1..9],
        [
            "1",
            "1",
            "gpt-4o-mini",
            "standard",
            "limited",
            "rate_limited",
            "429",
            "3"
        ]
    );
    assert_eq!(
        &rows[1][1..10],
        [
            "1",
            "2",
            "gpt-4o-mini",
            "standard",
            "ok",
            "ok",
            "200",
            "9",
            "7"
        ]
    );
    assert_eq!(
        &rows[2][1..7],
        ["2", "1", "gpt-4o-mini", "standard", "ok", "ok"]
    );
    // The 429's head is its first byte; every row has one here.
    assert!(rows.iter().all(|r| r[11].parse::<f64>().is_ok()), "{text}");
    // The 429 carried `retry-after: 30`: the cooldown it set, in ms; no other row has one.
    assert_eq!(rows[0][20], "30000.000", "{text}");
    assert!(rows[1..].iter().all(|r| r[20].is_empty()), "{text}");
    for r in &rows {
        assert_eq!(r.len(), 21, "{text}");
        // Not streamed, no client key.
        assert_eq!(&r[12..14], ["false", ""], "{text}");
        let t: f64 = r[0].parse().unwrap();
        let latency: f64 = r[10].parse().unwrap();
        assert!(t >= 0.0 && latency >= 0.0);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn graceful_shutdown_finishes_in_flight_requests() {
    let slow = mock(Behaviour {
        delay: Duration::from_millis(400),
        ..Behaviour::default()
    })
    .await;
    let toml = config(&[Dep::plain("slow", slow.base_url())], "");
    let mut gw = TestGateway::start(&toml).await;
    let url = gw.url("/v1/chat/completions");
    let request = tokio::spawn(async move { post(&url, chat("gpt-4o-mini")).await });
    assert!(eventually(Duration::from_secs(5), || async { slow.hits() == 1 }).await);
    gw.stop().await;
    let (status, _, _) = request.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(gw.addr).await.is_err());
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
async fn raw_http_keeps_alive_across_requests() {
    // Two requests on one client connection; the gateway answers both.
    let m = mock(Behaviour::default()).await;
    let toml = config(&[Dep::plain("m", m.base_url())], "");
    let gw = TestGateway::start(&toml).await;
    let mut conn = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let body = chat("gpt-4o-mini");
    let one = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(format!("{one}{one}").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
            .await
            .expect("read in time")
            .unwrap();
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&seen)
            .matches("HTTP/1.1 200")
            .count()
            == 2
            && seen.ends_with(mock::CHAT_ANSWER.as_bytes())
        {
            break;
        }
    }
    assert_eq!(
        String::from_utf8_lossy(&seen)
            .matches("HTTP/1.1 200")
            .count(),
        2
    );
}

#[tokio::test]
async fn stream_failing_before_its_first_byte_falls_back() {
    let broken = mock(Behaviour {
        cut_after: Some(0),
        ..Behaviour::default()
    })
    .await;
    let other = mock(Behaviour::default()).await;
    let toml = config(
        &[
            Dep::plain("broken", broken.base_url()),
            Dep::plain("other", other.base_url()),
        ],
        "",
    );
    let gw = TestGateway::start(&toml).await;
    let (status, headers, body) =
        post(&gw.url("/v1/chat/completions"), chat_stream("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "other");
    assert_eq!(body, Bytes::from(sse_events(5).concat()));
    assert_eq!((broken.hits(), other.hits()), (1, 1));
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

#[tokio::test]
async fn chunked_request_bodies_are_read_and_limited() {
    let m = mock(Behaviour::default()).await;
    let toml = config(&[Dep::plain("m", m.base_url())], "");
    let settings = Settings {
        max_body_bytes: 300,
        ..Settings::default()
    };
    let gw = TestGateway::start_with(&toml, settings, |_| None).await;
    let send = |chunks: Vec<String>| {
        let addr = gw.addr;
        async move {
            let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut req = String::from(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n",
            );
            for c in &chunks {
                req.push_str(&format!("{:x}\r\n{c}\r\n", c.len()));
            }
            req.push_str("0\r\n\r\n");
            conn.write_all(req.as_bytes()).await.unwrap();
            let mut out = Vec::new();
            tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut out))
                .await
                .expect("answer in time")
                .unwrap();
            String::from_utf8_lossy(&out).into_owned()
        }
    };
    let body = chat("gpt-4o-mini");
    let (a, b) = body.split_at(20);
    let (b, c) = b.split_at(20);
    let answer = send(vec![a.into(), b.into(), c.into()]).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(m.hits(), 1);
    let big = format!(
        r#"{{"model":"gpt-4o-mini","prompt":"{}"}}"#,
        "y".repeat(400)
    );
    let (a, b) = big.split_at(200);
    let answer = send(vec![a.into(), b.into()]).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(m.hits(), 1);
}

/// What OpenAI answers for an input longer than the model's context window.
const CONTEXT_LENGTH_ERROR: &str = r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9100 tokens. Please reduce the length of the messages.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;

/// Tier `standard` = {short}, whose context fallback (when `context` is true) is `long` = {long}.
fn short_and_long(short: &MockUpstream, long: &MockUpstream, context: bool) -> String {
    format!(
        "[[tier]]\nname = \"standard\"\nstrategy = \"weighted-round-robin\"\n{}\n\n\
         [[tier]]\nname = \"long\"\n\n\
         [[route]]\nmodel = \"gpt-4o-mini\"\ntier = \"standard\"\n\n\
         [[deployment]]\nid = \"short\"\nprovider = \"mock\"\nmodel = \"gpt-4o-mini\"\ntier = \"standard\"\nbase_url = \"{}\"\n\n\
         [[deployment]]\nid = \"long\"\nprovider = \"mock\"\nmodel = \"gpt-4.1\"\ntier = \"long\"\nbase_url = \"{}\"\n",
        if context { "context_fallback = \"long\"" } else { "" },
        short.base_url(),
        long.base_url(),
    )
}

#[tokio::test]
async fn context_length_errors_move_to_the_longer_context_tier() {
    let too_long = Behaviour {
        error_body: Some(CONTEXT_LENGTH_ERROR.to_owned()),
        ..Behaviour::status(400)
    };
    let short = mock(too_long.clone()).await;
    let long = mock(Behaviour::default()).await;
    let gw = TestGateway::start(&short_and_long(&short, &long, true)).await;
    let url = gw.url("/v1/chat/completions");
    let (status, headers, body) = post(&url, chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "long");
    assert_eq!(&body[..], mock::CHAT_ANSWER.as_bytes());
    assert_eq!((short.hits(), long.hits()), (1, 1));
    assert_eq!(
        long.stats().last_model.lock().unwrap().as_deref(),
        Some("gpt-4.1"),
        "the longer-context tier's model is asked"
    );

    // Any other 400 is the client's fault wherever it goes: passed through, not moved.
    short.set_behaviour(Behaviour::status(400));
    let (status, _, body) = post(&url, chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&body)["message"], "mock answer 400");
    assert_eq!((short.hits(), long.hits()), (2, 1));
}

#[tokio::test]
async fn context_length_errors_without_a_context_fallback_pass_through_as_they_are() {
    let short = mock(Behaviour {
        error_body: Some(CONTEXT_LENGTH_ERROR.to_owned()),
        ..Behaviour::status(400)
    })
    .await;
    let long = mock(Behaviour::default()).await;
    let gw = TestGateway::start(&short_and_long(&short, &long, false)).await;
    let (status, headers, body) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers[gateway::DEPLOYMENT_HEADER], "short");
    assert_eq!(&body[..], CONTEXT_LENGTH_ERROR.as_bytes(), "byte for byte");
    assert_eq!((short.hits(), long.hits()), (1, 0));
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
