//! The trace's later columns end to end: whether the attempt streamed, the client key's name,
//! and an attempt whose client went away written as `cancelled` (a censored latency).

mod common;

use std::time::Duration;

use common::*;
use gateway::Settings;
use mock::{Behaviour, MockUpstream};
use tokio::io::AsyncWriteExt;

async fn mock(b: Behaviour) -> MockUpstream {
    MockUpstream::start(b).await.expect("mock starts")
}

fn trace_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("switchyard-gw-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    dir.join("trace.csv")
}

fn rows(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("trace");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(gateway::trace::HEADER));
    lines
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn stream_and_client_columns_are_written() {
    let up = mock(Behaviour::default()).await;
    let toml = config(
        &[Dep::plain("a", up.base_url())],
        "[[client]]\nname = \"team-a\"\nkey_env = \"TEAM_A_KEY\"\n",
    );
    let path = trace_path("columns");
    let settings = Settings {
        trace_out: Some(path.clone()),
        ..Settings::default()
    };
    let mut gw = TestGateway::start_with(&toml, settings, |name| {
        (name == "TEAM_A_KEY").then(|| "team-a-secret".to_owned())
    })
    .await;
    let url = gw.url("/v1/chat/completions");
    let auth = [("authorization", "Bearer team-a-secret")];
    let (status, _, _) = post_with(&url, chat("gpt-4o-mini"), &auth).await;
    assert_eq!(status, http::StatusCode::OK);
    let (status, _, _) = post_with(&url, chat_stream("gpt-4o-mini"), &auth).await;
    assert_eq!(status, http::StatusCode::OK);
    gw.stop().await;
    let rows = rows(&path);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        // Successes: no cooldown in the last column.
        rows.iter()
            .all(|r| r.len() == 21 && r[6] == "ok" && r[20].is_empty()),
        "{rows:?}"
    );
    assert_eq!(&rows[0][12..14], ["false", "team-a"]);
    assert_eq!(&rows[1][12..14], ["true", "team-a"]);
    // The request arrived before (or as) its attempt was sent.
    let (sent, arrived): (f64, f64) = (
        rows[1][0].parse().expect("sent"),
        rows[1][18].parse().expect("arrived"),
    );
    assert!(
        arrived <= sent && sent - arrived < 1000.0,
        "{arrived} {sent}"
    );
    std::fs::remove_dir_all(path.parent().expect("dir")).ok();
}

#[tokio::test]
async fn an_attempt_whose_client_went_away_is_written_as_cancelled() {
    let slow = mock(Behaviour {
        delay: Duration::from_secs(10),
        ..Behaviour::default()
    })
    .await;
    let toml = config(&[Dep::plain("slow", slow.base_url())], "");
    let path = trace_path("cancelled");
    let settings = Settings {
        trace_out: Some(path.clone()),
        ..Settings::default()
    };
    let mut gw = TestGateway::start_with(&toml, settings, |_| None).await;
    let body = chat("gpt-4o-mini");
    let mut conn = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.expect("write");
    assert!(eventually(Duration::from_secs(5), || async { slow.hits() == 1 }).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(conn);
    assert!(
        eventually(Duration::from_secs(5), || async {
            slow.stats()
                .cancelled
                .load(std::sync::atomic::Ordering::SeqCst)
                == 1
        })
        .await
    );
    gw.stop().await;
    let rows = rows(&path);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    assert_eq!(&r[5..8], ["slow", "cancelled", "0"], "{r:?}");
    let latency: f64 = r[10].parse().expect("latency");
    assert!((150.0..10_000.0).contains(&latency), "{latency}");
    assert_eq!(r[11], "", "no first byte");
    std::fs::remove_dir_all(path.parent().expect("dir")).ok();
}

#[tokio::test]
async fn a_request_refused_before_any_attempt_is_one_refused_row() {
    let up = mock(Behaviour::default()).await;
    let dep = Dep {
        extra: "rpm = 1",
        ..Dep::plain("a", up.base_url())
    };
    let toml = config(&[dep], "[retry]\nmax_wait = \"0s\"\n");
    let path = trace_path("refused");
    let settings = Settings {
        trace_out: Some(path.clone()),
        ..Settings::default()
    };
    let mut gw = TestGateway::start_with(&toml, settings, |_| None).await;
    let url = gw.url("/v1/chat/completions");
    let (first, _, _) = post(&url, chat("gpt-4o-mini")).await;
    let (second, headers, body) = post(&url, chat("gpt-4o-mini")).await;
    assert_eq!(first, http::StatusCode::OK);
    // The only deployment is out of requests for the minute and there is no wait budget.
    assert_eq!(second, http::StatusCode::SERVICE_UNAVAILABLE);
    let e = error_of(&body);
    assert_eq!(
        (&e["type"], &e["code"]),
        (&"rate_limit_error".into(), &"no_capacity".into()),
        "{e}"
    );
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    gw.stop().await;
    let rows = rows(&path);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        &rows[1][1..8],
        ["2", "1", "gpt-4o-mini", "standard", "", "refused", "0"]
    );
    assert_eq!(rows[1][10], "0.000");
    assert_eq!(up.hits(), 1, "no provider was asked for the second");
    std::fs::remove_dir_all(path.parent().expect("dir")).ok();
}
