//! The upstream API key goes upstream and nowhere else: not in logs (captured at TRACE level),
//! not in /metrics, not in error bodies. Its own test binary, since it installs the global
//! `tracing` subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use gateway::{GatewayError, Settings};
use http::StatusCode;
use mock::{closed_port_url, Behaviour, MockUpstream};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn api_key_never_appears_in_logs_metrics_or_errors() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("trace"))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let secret = format!(
        "sk-test-{}-{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let var = format!("SWITCHYARD_TEST_KEY_{}", std::process::id());
    // Edition 2021: set_var is safe; this test binary sets it before any thread reads it.
    std::env::set_var(&var, &secret);

    let ok = MockUpstream::start(Behaviour::default()).await.unwrap();
    let limited = MockUpstream::start(Behaviour::rate_limited("30"))
        .await
        .unwrap();
    let key_line = format!("api_key_env = \"{var}\"");
    let toml = config(
        &[
            Dep {
                id: "down",
                url: closed_port_url().unwrap(),
                weight: 1.0,
                extra: &key_line,
            },
            Dep {
                id: "limited",
                url: limited.base_url(),
                weight: 1.0,
                extra: &key_line,
            },
            Dep {
                id: "ok",
                url: ok.base_url(),
                weight: 1.0,
                extra: &key_line,
            },
        ],
        "",
    );
    let config = engine::Config::from_toml(&toml).unwrap();
    let gw =
        TestGateway::start_with(&toml, Settings::default(), |name| std::env::var(name).ok()).await;
    let url = gw.url("/v1/chat/completions");
    let mut bodies = Vec::new();
    for _ in 0..6 {
        let (status, _, body) = post(&url, chat("gpt-4o-mini")).await;
        assert_eq!(status, StatusCode::OK);
        bodies.push(body);
    }
    let (_, _, body) = post(&url, chat_stream("gpt-4o-mini")).await;
    bodies.push(body);
    // Errors: a provider 400 passed through, and an unknown model.
    ok.set_behaviour(Behaviour::status(400));
    let (status, _, body) = post(&url, chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    bodies.push(body);
    let (_, _, body) = post(&url, chat("unknown")).await;
    bodies.push(body);

    assert_eq!(
        ok.stats().last_authorization.lock().unwrap().as_deref(),
        Some(format!("Bearer {secret}").as_str()),
        "the key is sent upstream"
    );
    let metrics = gw.metrics().await;
    assert!(!metrics.contains(&secret));
    for b in &bodies {
        assert!(!String::from_utf8_lossy(b).contains(&secret));
    }
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("attempt failed"),
        "logs were captured: {logs}"
    );
    assert!(!logs.contains(&secret), "the key leaked into the logs");

    // A missing key variable is a startup error naming the deployment and the variable.
    let err = gateway::Gateway::new(config, Settings::default(), |_| None)
        .err()
        .expect("missing key is an error");
    assert!(matches!(err, GatewayError::MissingKey { .. }));
    let text = err.to_string();
    assert!(text.contains("\"down\"") && text.contains(&var), "{text}");
    assert!(!text.contains(&secret));
}
