//! Read timeouts: five hundred half-sent bodies time out (408 or a close) while others are
//! served, a slow upstream is not cut by the body deadline, and an unfinished head is closed
//! after the header timeout.

use std::time::{Duration, Instant};

use gateway::Settings;
use http::StatusCode;
use mock::{Behaviour, MockUpstream};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::{chat, error_of, eventually, metric, post};
use crate::support::*;

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
    let gw = behind_one_upstream(&up, settings).await;
    let mut held = Vec::with_capacity(500);
    let opened = Instant::now();
    for i in 0..500 {
        let mut conn = TcpStream::connect(gw.addr).await.expect("connect");
        conn.write_all(&half_sent(i)).await.expect("write");
        held.push((conn, Instant::now()));
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
        .map(|(mut conn, written)| {
            tokio::spawn(async move {
                let (bytes, closed) = read_to_close(&mut conn, Duration::from_secs(20)).await;
                (bytes, closed, written.elapsed())
            })
        })
        .collect();
    let mut answered_408 = 0;
    for t in tasks {
        let (bytes, closed, open_for) = t.await.expect("reader task");
        assert!(closed, "a half-sent request was never closed");
        // Each connection's own deadline: not one closes before its body timeout ran out
        // (50 ms of slack for the gap between our write and the gateway's read of the head).
        assert!(
            open_for + Duration::from_millis(50) >= body_timeout,
            "closed {open_for:?} after its head was sent, before the timeout"
        );
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
    let gw = behind_one_upstream(&up, settings).await;
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
    let gw = behind_one_upstream(&up, settings).await;
    let mut conn = TcpStream::connect(gw.addr).await.expect("connect");
    conn.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        .await
        .expect("write");
    let start = Instant::now();
    let (_, closed) = read_to_close(&mut conn, Duration::from_secs(10)).await;
    assert!(closed, "the connection was closed");
    assert!(start.elapsed() >= Duration::from_millis(400));
}
