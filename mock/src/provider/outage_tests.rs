//! The mock provider's modelled outages over real HTTP on 127.0.0.1: refused and kept-alive
//! connections, 503 and hangs, incidents on the scaled clock.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::test_support::*;

#[tokio::test]
async fn outages_refuse_answer_503_or_hang() {
    let incident = |mode: &str| {
        format!(
            "[[world.incident]]\nkind = \"outage\"\ntarget = \"p\"\nmode = \"{mode}\"\nstart = \"0s\"\nend = \"10h\""
        )
    };
    let refused = start(scenario("", "", &incident("connection")), 0.01).await;
    let r = post(
        &format!("{}/chat/completions", refused.url),
        CHAT,
        Duration::from_secs(5),
    )
    .await;
    assert!(r.is_err(), "connection dropped: {r:?}");
    assert!(refused.provider.stats().refused.load(Ordering::Relaxed) >= 1);
    refused.stop().await;

    let down = start(scenario("", "", &incident("503")), 0.01).await;
    let (status, _, body) = post(
        &format!("{}/chat/completions", down.url),
        CHAT,
        Duration::from_secs(5),
    )
    .await
    .expect("answer");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(json(&body)["error"]["code"].is_string());
    down.stop().await;

    let hang = start(scenario("", "", &incident("hang")), 0.01).await;
    let r = post(
        &format!("{}/chat/completions", hang.url),
        CHAT,
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(r.err().as_deref(), Some("timed out"));
    assert_eq!(hang.provider.stats().hung.load(Ordering::Relaxed), 1);
    // Shutdown does not wait for the hanging request beyond the grace period.
    hang.stop().await;
}

#[tokio::test]
async fn a_connection_outage_also_drops_kept_alive_connections() {
    // Outage from 3 s modelled = 300 ms real at 0.1; a request takes 40 ms real.
    let m = start(
        scenario(
            "",
            "",
            "[[world.incident]]\nkind = \"outage\"\ntarget = \"d\"\nmode = \"connection\"\nstart = \"3s\"\nend = \"10h\"",
        ),
        0.1,
    )
    .await;
    let url = format!("{}/chat/completions", m.url);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let send = || {
        let req = Request::post(&url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(CHAT.as_bytes())))
            .expect("request");
        tokio::time::timeout(Duration::from_secs(5), client.request(req))
    };
    let first = send()
        .await
        .expect("in time")
        .expect("answered before the outage");
    assert_eq!(first.status(), StatusCode::OK);
    first.into_body().collect().await.expect("body");
    for _ in 0..100 {
        if m.provider.modelled_now() > Duration::from_millis(3100) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = send().await.expect("in time");
    assert!(second.is_err(), "dropped without an answer: {second:?}");
    let stats = m.provider.stats();
    assert_eq!(
        stats.requests.load(Ordering::Relaxed),
        2,
        "the second request reached the handler on the kept-alive connection"
    );
    assert!(stats.refused.load(Ordering::Relaxed) >= 1);
    m.stop().await;
}

#[tokio::test]
async fn incidents_follow_the_scaled_clock() {
    // A 503 outage from 1 s to 2 s modelled = 10–20 ms real at 0.01.
    let m = start(
        scenario(
            "",
            "",
            "[[world.incident]]\nkind = \"outage\"\ntarget = \"d\"\nmode = \"503\"\nstart = \"1s\"\nend = \"2s\"",
        ),
        0.01,
    )
    .await;
    let url = format!("{}/chat/completions", m.url);
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(m.provider.modelled_now() >= Duration::from_secs(2));
    let (status, _, _) = post(&url, CHAT, Duration::from_secs(5))
        .await
        .expect("answer");
    assert_eq!(status, StatusCode::OK, "the outage is over");
    m.stop().await;
}
