//! Connection-level hardening: unfinished bodies and heads time out, the connection cap holds,
//! hyper's own rejections carry OpenAI error bodies, streams count as in flight until they end,
//! and hostile input always gets a well-formed answer.

mod common;

use std::time::{Duration, Instant};

use common::{chat, chat_stream, config, error_of, eventually, metric, post, Dep, TestGateway};
use gateway::Settings;
use http::StatusCode;
use mock::{Behaviour, MockUpstream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Raises this process's soft file-descriptor limit towards `want` (bounded by the hard limit).
fn raise_nofile(want: u64) {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit on a struct we own; RLIMIT_NOFILE is a valid resource.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < want as libc::rlim_t {
            l.rlim_cur = (want as libc::rlim_t).min(l.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// Reads until EOF, at most `limit` long; returns what arrived and whether EOF was reached.
async fn read_to_close(conn: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
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
struct Raw {
    status: u16,
    head: String,
    body: Vec<u8>,
}

/// Parses one HTTP/1.1 answer with a `content-length` body (or a body up to EOF), after any
/// interim 1xx heads.
fn parse_raw(mut bytes: &[u8]) -> Option<Raw> {
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

async fn mock() -> MockUpstream {
    MockUpstream::start(Behaviour::default())
        .await
        .expect("mock starts")
}

/// The two kinds of unfinished request: chunked without its last chunk, and a body shorter than
/// its `content-length`.
fn half_sent(i: usize) -> Vec<u8> {
    let body = chat("gpt-4o-mini");
    if i.is_multiple_of(2) {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{}\r\n",
            10,
            &body[..10]
        )
        .into_bytes()
    } else {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{}",
            body.len(),
            &body[..body.len() / 2]
        )
        .into_bytes()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_half_sent_bodies_time_out_while_others_are_served() {
    raise_nofile(4096);
    let up = mock().await;
    let body_timeout = Duration::from_millis(1500);
    let settings = Settings {
        body_read_timeout: body_timeout,
        ..Settings::default()
    };
    let gw = TestGateway::start_with(
        &config(&[Dep::plain("a", up.base_url())], ""),
        settings,
        |_| None,
    )
    .await;
    let mut held = Vec::with_capacity(500);
    let opened = Instant::now();
    for i in 0..500 {
        let mut conn = TcpStream::connect(gw.addr).await.expect("connect");
        conn.write_all(&half_sent(i)).await.expect("write");
        held.push(conn);
    }
    let all_sent = opened.elapsed();
    // Normal requests are served meanwhile.
    for _ in 0..10 {
        let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK);
    }
    let m = gw.metrics().await;
    assert!(
        metric(&m, "switchyard_http_connections").is_some_and(|n| n >= 500.0),
        "the 500 held connections are open:\n{m}"
    );
    // Every half-sent request is answered 408 (or closed) after the timeout, not before.
    let tasks: Vec<_> = held
        .into_iter()
        .map(|mut conn| {
            tokio::spawn(async move { read_to_close(&mut conn, Duration::from_secs(20)).await })
        })
        .collect();
    let mut answered_408 = 0;
    for t in tasks {
        let (bytes, closed) = t.await.expect("reader task");
        assert!(closed, "a half-sent request was never closed");
        if bytes.is_empty() {
            continue;
        }
        let raw = parse_raw(&bytes).expect("a well-formed answer");
        assert_eq!(raw.status, 408, "{}", raw.head);
        assert_eq!(error_of(&raw.body)["code"], "request_timeout");
        answered_408 += 1;
    }
    let elapsed = opened.elapsed();
    assert!(
        elapsed >= body_timeout,
        "closed after {elapsed:?}, before the timeout"
    );
    assert!(
        elapsed < all_sent + body_timeout + Duration::from_secs(10),
        "closed only after {elapsed:?}"
    );
    assert!(answered_408 >= 450, "only {answered_408} got a 408");
    // Still serving, and the connections are gone.
    let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    let gone = eventually(Duration::from_secs(5), || async {
        metric(&gw.metrics().await, "switchyard_http_connections").is_some_and(|n| n < 10.0)
    })
    .await;
    assert!(gone, "the timed-out connections were closed");
}

#[tokio::test]
async fn a_slow_upstream_is_not_cut_by_the_body_deadline() {
    let up = MockUpstream::start(Behaviour {
        delay: Duration::from_millis(1200),
        ..Behaviour::default()
    })
    .await
    .expect("mock starts");
    let settings = Settings {
        body_read_timeout: Duration::from_millis(300),
        ..Settings::default()
    };
    let gw = TestGateway::start_with(
        &config(&[Dep::plain("a", up.base_url())], ""),
        settings,
        |_| None,
    )
    .await;
    let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK, "the deadline covers the body only");
}

#[tokio::test]
async fn an_unfinished_head_is_closed_after_the_header_timeout() {
    let up = mock().await;
    let settings = Settings {
        header_read_timeout: Duration::from_millis(500),
        ..Settings::default()
    };
    let gw = TestGateway::start_with(
        &config(&[Dep::plain("a", up.base_url())], ""),
        settings,
        |_| None,
    )
    .await;
    let mut conn = TcpStream::connect(gw.addr).await.expect("connect");
    conn.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        .await
        .expect("write");
    let start = Instant::now();
    let (_, closed) = read_to_close(&mut conn, Duration::from_secs(10)).await;
    assert!(closed, "the connection was closed");
    assert!(start.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn connections_above_the_cap_wait_until_one_closes() {
    let up = mock().await;
    let settings = Settings {
        max_connections: 3,
        ..Settings::default()
    };
    let gw = TestGateway::start_with(
        &config(&[Dep::plain("a", up.base_url())], ""),
        settings,
        |_| None,
    )
    .await;
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

/// Sends raw bytes on a fresh connection and returns the answer (read until close).
async fn raw_exchange(gw: &TestGateway, request: &[u8]) -> (Vec<u8>, bool) {
    let mut conn = TcpStream::connect(gw.addr).await.expect("connect");
    let _ = conn.write_all(request).await;
    read_to_close(&mut conn, Duration::from_secs(10)).await
}

#[tokio::test]
async fn hyper_rejections_carry_openai_error_bodies() {
    let up = mock().await;
    let gw = TestGateway::start(&config(&[Dep::plain("a", up.base_url())], "")).await;
    let long_uri = format!(
        "GET /v1/models?{} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        "q".repeat(10_000)
    );
    let big_header = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "v".repeat(70_000)
    );
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "garbage request line",
            b"GARBAGE\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "header without a colon",
            b"GET /health HTTP/1.1\r\nhost x\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "bad content-length",
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: -1\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        (
            "NUL in a header value",
            b"GET /health HTTP/1.1\r\nhost: x\r\nx-a: a\0b\r\n\r\n".to_vec(),
            400,
            "malformed_request",
        ),
        ("URI too long", long_uri.into_bytes(), 414, "uri_too_long"),
        (
            "head too large",
            big_header.into_bytes(),
            431,
            "headers_too_large",
        ),
    ];
    for (name, request, status, code) in cases {
        let (bytes, closed) = raw_exchange(&gw, &request).await;
        assert!(
            closed,
            "{name}: the connection was closed after the answer: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        let raw = parse_raw(&bytes)
            .unwrap_or_else(|| panic!("{name}: no answer: {:?}", String::from_utf8_lossy(&bytes)));
        assert_eq!(raw.status, status, "{name}: {}", raw.head);
        assert!(
            raw.head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{name}: {}",
            raw.head
        );
        assert_eq!(error_of(&raw.body)["code"], code, "{name}");
    }
    let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK, "still serving");
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

/// A small deterministic generator (xorshift64*), so that a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A valid body mutated by a few byte edits, splices or truncations.
fn mutated_body(rng: &mut Rng) -> Vec<u8> {
    const SNIPPETS: [&str; 10] = [
        "\"stream\":\"yes\"",
        "\"max_tokens\":-1",
        "\"max_tokens\":1e308",
        "\"model\":3",
        "[",
        "{",
        "\"model\":\"gpt-4o-mini\",",
        "\u{2603}\u{0}",
        "null",
        "\"messages\":{\"a\":[[[[]]]]}",
    ];
    let mut body = chat("gpt-4o-mini").into_bytes();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(body.len() + 1);
        match rng.below(4) {
            0 => body.insert(at, rng.next() as u8),
            1 if at < body.len() => {
                body.remove(at);
            }
            2 => {
                let s = SNIPPETS[rng.below(SNIPPETS.len())];
                body.splice(at..at, s.bytes());
            }
            _ => body.truncate(at),
        }
    }
    body
}

/// Headers a hostile client might send (each makes a complete request with a short body).
const HOSTILE: [&str; 16] = [
    "content-length: 99999999999999999999999\r\n",
    "content-length: 5\r\ncontent-length: 6\r\n",
    "transfer-encoding: gzip\r\n",
    "transfer-encoding: chunked\r\n",
    "x-switchyard-tier: \u{00e9}\r\n",
    "x-switchyard-tier: nope\r\n",
    "authorization: Bearer \r\n",
    "expect: 100-continue\r\n",
    "x-folded: a\r\n b\r\n",
    "x-bin: \u{1}\u{7f}\r\n",
    ": empty-name\r\n",
    "content-type: text/plain\r\n",
    "connection: keep-alive, upgrade\r\nupgrade: h2c\r\n",
    "accept: */*\r\nx-a: 1\r\nx-a: 2\r\n",
    "host: a\r\nhost: b\r\n",
    "x-long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_bodies_and_hostile_headers_get_well_formed_answers() {
    let up = mock().await;
    let settings = Settings {
        body_read_timeout: Duration::from_millis(500),
        ..Settings::default()
    };
    let gw = TestGateway::start_with(
        &config(&[Dep::plain("a", up.base_url())], ""),
        settings,
        |_| None,
    )
    .await;
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let paths = [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/models",
        "/nope",
    ];
    for i in 0..200u32 {
        let body = mutated_body(&mut rng);
        let path = if i.is_multiple_of(5) {
            paths[rng.below(paths.len())]
        } else {
            paths[0]
        };
        let extra = if !i.is_multiple_of(2) {
            HOSTILE[rng.below(HOSTILE.len())]
        } else {
            ""
        };
        let mut request =
            format!("POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{extra}").into_bytes();
        if !extra.contains("content-length") {
            request.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(&body);
        let (bytes, closed) = raw_exchange(&gw, &request).await;
        let shown = String::from_utf8_lossy(&request);
        assert!(closed, "#{i}: no close after {shown:?}");
        let raw = parse_raw(&bytes).unwrap_or_else(|| {
            panic!(
                "#{i}: not an HTTP answer {:?} to {shown:?}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert!((200..600).contains(&raw.status), "#{i}: {}", raw.head);
        if (400..500).contains(&raw.status) {
            let v: serde_json::Value = serde_json::from_slice(&raw.body).unwrap_or_else(|_| {
                panic!(
                    "#{i}: {} body is not JSON: {:?} (request {shown:?})",
                    raw.status,
                    String::from_utf8_lossy(&raw.body)
                )
            });
            let e = &v["error"];
            for field in ["message", "type", "code"] {
                assert!(
                    e[field].is_string(),
                    "#{i}: error lacks {field}: {v} (request {shown:?})"
                );
            }
        }
    }
    let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK, "still serving after the fuzzing");
}
