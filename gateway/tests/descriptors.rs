//! The gateway keeps serving when the process runs out of file descriptors: accept() failing
//! with EMFILE is waited out, and requests are served again as soon as descriptors free up.
//!
//! Its own test binary (own process), because it lowers RLIMIT_NOFILE for the whole process.
#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use http::StatusCode;
use mock::{Behaviour, MockUpstream};

/// Sets this process's soft file-descriptor limit.
fn set_nofile(soft: u64) {
    // SAFETY: getrlimit/setrlimit on a struct we own; RLIMIT_NOFILE is a valid resource.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut l), 0);
        l.rlim_cur = (soft as libc::rlim_t).min(l.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &l), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_resumes_after_descriptors_run_out() {
    let up = MockUpstream::start(Behaviour::default())
        .await
        .expect("mock starts");
    let settings = gateway::Settings {
        // Far above what the descriptor limit allows: accept() itself must hit EMFILE.
        max_connections: 10_000,
        ..gateway::Settings::default()
    };
    let gw = TestGateway::start_with(
        &config(&[Dep::plain("up", up.base_url())], ""),
        settings,
        |_| None,
    )
    .await;
    let (status, _, _) = post(&gw.url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);

    set_nofile(256);
    // Idle client connections until the process has no descriptor left (each costs two: the
    // client's and the gateway's accepted one), bounded.
    let mut idle = Vec::new();
    for _ in 0..400 {
        match tokio::net::TcpStream::connect(gw.addr).await {
            Ok(c) => idle.push(c),
            Err(_) => break,
        }
    }
    assert!(idle.len() < 400, "the descriptor limit was never reached");
    // Let the gateway run into EMFILE on the connections still in its backlog.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Free the descriptors: the gateway must serve again, promptly.
    drop(idle);
    let started = Instant::now();
    let mut served = false;
    while started.elapsed() < Duration::from_secs(10) {
        let url = gw.url("/v1/chat/completions");
        let attempt = tokio::time::timeout(Duration::from_secs(2), async move {
            post(&url, chat("gpt-4o-mini")).await
        })
        .await;
        if let Ok((StatusCode::OK, _, _)) = attempt {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        served,
        "the gateway did not serve again after descriptors freed up"
    );
    set_nofile(4096);
}
