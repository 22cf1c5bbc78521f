//! Helpers shared by the hardening tests: a default mock upstream, raw HTTP/1.1 exchanges on a
//! fresh connection (read until close, with a limit) and a parser for the raw answers.

use std::time::Duration;

use gateway::Settings;
use mock::{Behaviour, MockUpstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{config, Dep, TestGateway};

/// A gateway with `settings` in front of the one upstream `up` (deployment `a`).
pub(crate) async fn behind_one_upstream(up: &MockUpstream, settings: Settings) -> TestGateway {
    TestGateway::start_with(
        &config(&[Dep::plain("a", up.base_url())], ""),
        settings,
        |_| None,
    )
    .await
}

/// Reads until EOF, at most `limit` long; returns what arrived and whether EOF was reached.
pub(crate) async fn read_to_close(conn: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
            Err(_) => return (out, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// A parsed raw HTTP/1.1 answer.
pub(crate) struct Raw {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

/// Parses one HTTP/1.1 answer with a `content-length` body (or a body up to EOF), after any
/// interim 1xx heads.
pub(crate) fn parse_raw(mut bytes: &[u8]) -> Option<Raw> {
    while bytes.starts_with(b"HTTP/1.1 1") {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
        bytes = &bytes[end + 4..];
    }
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8(bytes[..end].to_vec()).ok()?;
    let status_line = head.lines().next()?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()?;
    let rest = &bytes[end + 4..];
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())
            .flatten()
    });
    let body = match len {
        Some(n) => rest.get(..n)?.to_vec(),
        None => rest.to_vec(),
    };
    Some(Raw { status, head, body })
}

pub(crate) async fn mock() -> MockUpstream {
    MockUpstream::start(Behaviour::default())
        .await
        .expect("mock starts")
}

/// Sends raw bytes on a fresh connection and returns the answer (read until close).
pub(crate) async fn raw_exchange(gw: &TestGateway, request: &[u8]) -> (Vec<u8>, bool) {
    let mut conn = TcpStream::connect(gw.addr).await.expect("connect");
    let _ = conn.write_all(request).await;
    read_to_close(&mut conn, Duration::from_secs(10)).await
}
