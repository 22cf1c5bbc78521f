//! Streaming: relayed byte-identical and unbuffered; a stream cut or stalled after its
//! first bytes ends with an error event and is not restarted; a stream failing before its
//! first byte falls back.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::BodyExt;
use mock::{sse_events, Behaviour};

use crate::common::*;
use crate::support::*;

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
