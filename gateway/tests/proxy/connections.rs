//! The client connection: a disconnect frees the in-flight slot, keep-alive across
//! requests, chunked request bodies and their size limit, and graceful shutdown.

use std::time::{Duration, Instant};

use gateway::Settings;
use http::StatusCode;
use mock::Behaviour;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common;
use crate::common::*;
use crate::support::*;

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
