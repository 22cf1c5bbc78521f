//! Helpers of the mock provider's tests: a one-deployment scenario, a mock serving it on
//! 127.0.0.1, and a plain HTTP client.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sim::Scenario;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::*;

/// A one-deployment scenario: `provider` and `deployment` are extra TOML lines of the world's
/// provider and deployment tables, `tail` more tables (incidents).
pub(super) fn scenario(provider: &str, deployment: &str, tail: &str) -> Arc<Scenario> {
    let text = format!(
        r#"
[simulation]
seed = 11
duration = "1h"
requests = 40
drain = "1h"

[workload]
arrivals = {{ constant = {{ rate = 0.1 }} }}
input_tokens = {{ constant = 40 }}
output_tokens = {{ constant = 20 }}
max_tokens = 64

[[tier]]
name = "t"
strategy = "weighted-round-robin"

[[route]]
model = "m"
tier = "t"

[[deployment]]
id = "d"
provider = "p"
model = "m"
tier = "t"

[retry]
max_attempts = 1

[[world.provider]]
name = "p"
ttft = {{ constant = "200ms" }}
per_token = {{ constant = "10ms" }}
{provider}

  [[world.provider.deployment]]
  id = "d"
  {deployment}

{tail}
"#
    );
    Arc::new(Scenario::parse(&text, "test.toml", "test").expect("test scenario is valid"))
}

pub(super) struct Running {
    pub provider: MockProvider,
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), MockError>>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("no panic")
            .expect("no error");
    }
}

pub(super) async fn start(scenario: Arc<Scenario>, time_scale: f64) -> Running {
    let mut opts = MockOptions::for_deployment(scenario, "d").expect("deployment d exists");
    opts.time_scale = time_scale;
    start_with(opts).await
}

/// Serves a mock with these options on 127.0.0.1; its `url` is `http://ADDR/v1`.
pub(super) async fn start_with(opts: MockOptions) -> Running {
    let provider = MockProvider::new(opts).expect("valid options");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/v1", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel::<()>();
    let p = provider.clone();
    let task = tokio::spawn(async move {
        p.serve(listener, async {
            let _ = rx.await;
        })
        .await
    });
    Running {
        provider,
        url,
        stop: Some(tx),
        task,
    }
}

pub(super) const CHAT: &str =
    r#"{"model":"m","messages":[{"role":"user","content":"hello there, mock"}],"max_tokens":64}"#;
pub(super) const CHAT_STREAM: &str =
    r#"{"model":"m","messages":[{"role":"user","content":"hello"}],"stream":true,"max_tokens":5}"#;

pub(super) type Answer = Result<(StatusCode, HeaderMap, Bytes), String>;

pub(super) async fn post(url: &str, body: &'static str, limit: Duration) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .map_err(|e| e.to_string())?;
    let work = async {
        let res = client.request(req).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, parts.headers, body))
    };
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| Err("timed out".to_owned()))
}

pub(super) fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).expect("JSON body")
}
