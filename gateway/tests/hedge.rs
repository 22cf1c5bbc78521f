//! Hedged requests end to end (`hedge` on the tier): the gateway in front of mock upstreams,
//! one slow to answer. A second attempt goes out when the first has shown nothing by `after`;
//! the first answer (or first stream frame) wins, the loser's upstream connection is closed
//! (the mock sees its handler dropped) and traced as `cancelled`; a hedge that fails leaves the
//! first attempt running; a stream that started is never hedged.

mod common;

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use gateway::Settings;
use http::StatusCode;
use mock::{Behaviour, MockUpstream};

async fn mock(delay_ms: u64) -> MockUpstream {
    MockUpstream::start(Behaviour {
        delay: Duration::from_millis(delay_ms),
        ..Behaviour::default()
    })
    .await
    .expect("mock starts")
}

/// `a` then `b` under weighted round robin: every first attempt goes to `a` (weight 3 against
/// 1 for the first request), hedging after 200 ms.
fn hedged(a: &MockUpstream, b: &MockUpstream) -> String {
    let deps = [
        Dep {
            weight: 3.0,
            ..Dep::plain("a", a.base_url())
        },
        Dep::plain("b", b.base_url()),
    ];
    config(&deps, "").replace(
        "strategy = \"weighted-round-robin\"\n",
        "strategy = \"weighted-round-robin\"\nhedge = { after = \"200ms\", max = 1 }\n",
    )
}

fn answered_by(headers: &http::HeaderMap) -> String {
    headers
        .get(gateway::DEPLOYMENT_HEADER)
        .and_then(|v| v.to_str().ok())
        .expect("deployment header")
        .to_owned()
}

fn cancelled(m: &MockUpstream) -> u64 {
    m.stats().cancelled.load(Ordering::SeqCst)
}

fn trace_rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("trace");
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn a_slow_first_attempt_is_hedged_and_the_hedge_wins() {
    let (a, b) = (mock(5_000).await, mock(0).await);
    let dir = std::env::temp_dir().join(format!("switchyard-hedge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("trace.csv");
    let settings = Settings {
        trace_out: Some(path.clone()),
        ..Settings::default()
    };
    let mut gw = TestGateway::start_with(&hedged(&a, &b), settings, |_| None).await;
    let url = gw.url("/v1/chat/completions");
    let (status, headers, body) = post(&url, chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answered_by(&headers), "b");
    assert_eq!(&body[..], mock::CHAT_ANSWER.as_bytes());
    // The loser's upstream request was dropped: the slow mock's handler never answered.
    assert!(eventually(Duration::from_secs(5), || async { cancelled(&a) == 1 }).await);
    assert_eq!((a.hits(), b.hits()), (1, 1));
    let metrics = gw.metrics().await;
    assert_eq!(
        metric(&metrics, "switchyard_hedges_total{result=\"sent\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics, "switchyard_hedges_total{result=\"won\"}"),
        Some(1.0)
    );
    assert!(metric(&metrics, "switchyard_hedge_loser_input_tokens_total").is_some_and(|v| v > 0.0));
    gw.stop().await;
    let mut rows = trace_rows(&path);
    rows.sort_by(|x, y| x[2].cmp(&y[2]));
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        &rows[0][2..8],
        ["1", "gpt-4o-mini", "standard", "a", "cancelled", "0"]
    );
    assert_eq!(
        &rows[1][2..8],
        ["2", "gpt-4o-mini", "standard", "b", "ok", "200"]
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_streamed_request_is_won_by_the_first_frame() {
    let (a, b) = (mock(5_000).await, mock(0).await);
    let mut gw = TestGateway::start(&hedged(&a, &b)).await;
    let (status, headers, body) =
        post(&gw.url("/v1/chat/completions"), chat_stream("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answered_by(&headers), "b");
    let text = String::from_utf8_lossy(&body);
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    assert!(eventually(Duration::from_secs(5), || async { cancelled(&a) == 1 }).await);
    gw.stop().await;
}

#[tokio::test]
async fn the_first_attempt_can_win_and_the_hedge_is_closed() {
    let (a, b) = (mock(400).await, mock(5_000).await);
    let mut gw = TestGateway::start(&hedged(&a, &b)).await;
    let (status, headers, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answered_by(&headers), "a");
    assert!(eventually(Duration::from_secs(5), || async { cancelled(&b) == 1 }).await);
    let metrics = gw.metrics().await;
    assert_eq!(
        metric(&metrics, "switchyard_hedges_total{result=\"sent\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&metrics, "switchyard_hedges_total{result=\"won\"}"),
        Some(0.0)
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_failed_hedge_leaves_the_first_attempt_running() {
    let a = mock(600).await;
    let b = MockUpstream::start(Behaviour::status(500))
        .await
        .expect("mock starts");
    let mut gw = TestGateway::start(&hedged(&a, &b)).await;
    let (status, headers, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answered_by(&headers), "a");
    assert_eq!((a.hits(), b.hits(), cancelled(&a)), (1, 1, 0));
    let metrics = gw.metrics().await;
    assert_eq!(
        dep_metric(&metrics, "switchyard_deployment_successes_total", "b"),
        0.0
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_stream_that_started_is_never_hedged() {
    // `a` sends its first frame at once, then trickles: a first byte, so no hedge however long
    // the rest takes.
    let a = MockUpstream::start(Behaviour {
        chunks: 4,
        chunk_gap: Duration::from_millis(150),
        ..Behaviour::default()
    })
    .await
    .expect("mock starts");
    let b = mock(0).await;
    let mut gw = TestGateway::start(&hedged(&a, &b)).await;
    let (status, headers, _) =
        post(&gw.url("/v1/chat/completions"), chat_stream("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answered_by(&headers), "a");
    assert_eq!(b.hits(), 0);
    let metrics = gw.metrics().await;
    assert_eq!(
        metric(&metrics, "switchyard_hedges_total{result=\"sent\"}"),
        Some(0.0)
    );
    gw.stop().await;
}
