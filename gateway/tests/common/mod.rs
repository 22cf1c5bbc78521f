//! Shared test helpers: start a gateway on 127.0.0.1:0, talk HTTP to it, read its metrics.
#![allow(dead_code)]

pub mod redis;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use gateway::{Gateway, Settings};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A chat request body for `model`.
pub fn chat(model: &str) -> String {
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"hello there"}}],"max_tokens":16}}"#
    )
}

/// A streaming chat request body for `model`.
pub fn chat_stream(model: &str) -> String {
    format!(
        r#"{{"model":"{model}","messages":[{{"role":"user","content":"hello there"}}],"stream":true}}"#
    )
}

/// One deployment line of a test config.
#[derive(Clone)]
pub struct Dep<'a> {
    pub id: &'a str,
    pub url: String,
    pub weight: f64,
    pub extra: &'a str,
}

impl<'a> Dep<'a> {
    /// A deployment of weight 1 with nothing extra.
    pub fn plain(id: &'a str, url: String) -> Dep<'a> {
        Dep {
            id,
            url,
            weight: 1.0,
            extra: "",
        }
    }
}

/// A config with one tier `standard` (weighted round robin) routed from `gpt-4o-mini`.
pub fn config(deps: &[Dep<'_>], extra: &str) -> String {
    let mut s = String::from(
        "[[tier]]\nname = \"standard\"\nstrategy = \"weighted-round-robin\"\n\n\
         [[route]]\nmodel = \"gpt-4o-mini\"\ntier = \"standard\"\n\n",
    );
    for d in deps {
        s.push_str(&format!(
            "[[deployment]]\nid = \"{}\"\nprovider = \"mock\"\nmodel = \"gpt-4o-mini\"\ntier = \"standard\"\n\
             weight = {}\nbase_url = \"{}\"\n{}\n\n",
            d.id, d.weight, d.url, d.extra
        ));
    }
    s.push_str(extra);
    s
}

/// A gateway serving on 127.0.0.1 in the test's runtime.
pub struct TestGateway {
    pub addr: SocketAddr,
    pub gateway: Gateway,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<Result<(), gateway::GatewayError>>>,
}

impl TestGateway {
    /// Starts a gateway for a TOML config with these settings and environment.
    pub async fn start_with(
        toml: &str,
        settings: Settings,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> TestGateway {
        let config = engine::Config::from_toml(toml).expect("test config is valid");
        let gateway = Gateway::new(config, settings, env).expect("gateway starts");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway::serve(listener, gateway.clone(), async {
            let _ = rx.await;
        }));
        TestGateway {
            addr,
            gateway,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Starts a gateway with default settings and an empty environment.
    pub async fn start(toml: &str) -> TestGateway {
        TestGateway::start_with(toml, Settings::default(), |_| None).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Signals shutdown and waits (bounded) for `serve` to return.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("serve returns after shutdown")
                .expect("serve task did not panic")
                .expect("serve ends without error");
        }
    }

    /// `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let (status, _, body) = get(&self.url("/metrics")).await;
        assert_eq!(status, StatusCode::OK);
        String::from_utf8(body.to_vec()).expect("metrics are UTF-8")
    }
}

/// A plain HTTP client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// POSTs a body with extra headers; returns status, headers and the whole body.
pub async fn post_with(
    url: &str,
    body: impl Into<Bytes>,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Bytes) {
    let mut req = Request::post(url).header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(body.into())).expect("request");
    let res = tokio::time::timeout(Duration::from_secs(20), client().request(req))
        .await
        .expect("answer within 20 s")
        .expect("request succeeds");
    let (parts, body) = res.into_parts();
    let body = tokio::time::timeout(Duration::from_secs(20), body.collect())
        .await
        .expect("body within 20 s")
        .expect("body reads")
        .to_bytes();
    (parts.status, parts.headers, body)
}

/// POSTs a body.
pub async fn post(url: &str, body: impl Into<Bytes>) -> (StatusCode, HeaderMap, Bytes) {
    post_with(url, body, &[]).await
}

/// GETs a URL.
pub async fn get(url: &str) -> (StatusCode, HeaderMap, Bytes) {
    let req = Request::get(url)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let res = tokio::time::timeout(Duration::from_secs(20), client().request(req))
        .await
        .expect("answer within 20 s")
        .expect("request succeeds");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, body)
}

/// The value of a metric line `name{labels}` (labels as written, in order), if present.
pub fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// The value of a per-deployment metric in tier `standard`.
pub fn dep_metric(text: &str, name: &str, deployment: &str) -> f64 {
    metric(
        text,
        &format!("{name}{{deployment=\"{deployment}\",tier=\"standard\"}}"),
    )
    .unwrap_or_else(|| panic!("metric {name} for {deployment} missing"))
}

/// Polls `check` every 20 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// The `error` object of an OpenAI-style error body.
pub fn error_of(body: &[u8]) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(body).expect("error body is JSON");
    let e = v.get("error").expect("has an error object").clone();
    for field in ["message", "type", "code"] {
        assert!(e.get(field).is_some(), "error lacks {field}: {e}");
    }
    e
}
