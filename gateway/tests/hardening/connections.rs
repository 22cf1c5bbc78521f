//! Connections and requests in flight: connections above `max_connections` wait until one
//! closes, and a running stream counts as in flight until it ends or the client drops it.

use std::time::Duration;

use gateway::Settings;
use mock::{Behaviour, MockUpstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{chat_stream, config, eventually, metric, Dep, TestGateway};
use crate::support::*;

#[tokio::test]
async fn connections_above_the_cap_wait_until_one_closes() {
    let up = mock().await;
    let settings = Settings {
        max_connections: 3,
        ..Settings::default()
    };
    let gw = behind_one_upstream(&up, settings).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(gw.addr).await.expect("connect"));
    }
    let mut extra = TcpStream::connect(gw.addr).await.expect("backlog connect");
    extra
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let (early, closed) = read_to_close(&mut extra, Duration::from_millis(600)).await;
    assert!(
        early.is_empty() && !closed,
        "served above the cap: {early:?}"
    );
    drop(idle.pop());
    let (bytes, closed) = read_to_close(&mut extra, Duration::from_secs(10)).await;
    assert!(closed);
    let raw = parse_raw(&bytes).expect("an answer once a slot is free");
    assert_eq!(raw.status, 200);
}

#[tokio::test]
async fn a_running_stream_counts_as_in_flight_until_it_ends() {
    let up = MockUpstream::start(Behaviour {
        chunks: 3,
        chunk_gap: Duration::from_millis(400),
        ..Behaviour::default()
    })
    .await
    .expect("mock starts");
    let gw = TestGateway::start(&config(&[Dep::plain("a", up.base_url())], "")).await;
    let in_flight = |m: &str| metric(m, "switchyard_http_in_flight").unwrap_or(-1.0);
    let mut conn = TcpStream::connect(gw.addr).await.expect("connect");
    let body = chat_stream("gpt-4o-mini");
    conn.write_all(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let mut first = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut first))
        .await
        .expect("the stream starts")
        .expect("read");
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    // The /metrics request counts itself: 1 + the running stream.
    assert_eq!(
        in_flight(&gw.metrics().await),
        2.0,
        "the stream is in flight"
    );
    let (_, closed) = read_to_close(&mut conn, Duration::from_secs(20)).await;
    assert!(closed, "the stream ended");
    let settled = eventually(Duration::from_secs(5), || async {
        in_flight(&gw.metrics().await) == 1.0
    })
    .await;
    assert!(settled, "the ended stream no longer counts");

    // A stream the client drops half-way stops counting too.
    let mut conn = TcpStream::connect(gw.addr).await.expect("connect");
    conn.write_all(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut first)).await;
    assert_eq!(in_flight(&gw.metrics().await), 2.0);
    drop(conn);
    let settled = eventually(Duration::from_secs(5), || async {
        in_flight(&gw.metrics().await) == 1.0
    })
    .await;
    assert!(settled, "a dropped stream no longer counts");
}
