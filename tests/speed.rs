//! `serve --speed N` (issue 19): a gateway in front of mock providers running ten times faster
//! behaves like the modelled world ten times faster without a duration of its config changed.
//! Real HTTP on 127.0.0.1, four requests from one `[[client]]`, bounded waits; what is asserted
//! is what the conversions make certain, never how long something took:
//!
//! * a `first_byte_timeout` of 1 modelled second cuts an answer the mock sends after 2 modelled
//!   seconds (100 ms against 200 ms real; unscaled, the 1 s timer would let it through);
//! * the trace is in modelled time: a 500 ms modelled time to first token is recorded as at
//!   least 500 ms, and the mock's `x-ratelimit-limit-requests` (per real minute: 6,000) as the
//!   modelled 600;
//! * the client's own `rpd = 3` refuses the fourth request with a `retry-after` in real seconds:
//!   a modelled day is 8,640 real seconds;
//! * that refusal leaves a `client_refused` row, which `fit` counts as a request only (no 429,
//!   no limit learned from it) and `replay` replays as an arrival.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mock::provider::{MockOptions, MockProvider};
use sim::Scenario;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const SPEED: f64 = 10.0;
/// Every request must be answered within this long (real).
const REQUEST_LIMIT: Duration = Duration::from_secs(20);

fn scenario_text(fast: &str, late: &str) -> String {
    format!(
        r#"
[simulation]
name = "speed"
seed = 5
duration = "1h"

[workload]
arrivals = {{ constant = {{ rate = 1.0 }} }}
input_tokens = {{ constant = 50 }}
output_tokens = {{ constant = 20 }}
max_tokens = 64

[[client]]
name = "tenant"
key_env = "TENANT_KEY"
rpd = 3

[[tier]]
name = "quick"
strategy = "adaptive"

[[tier]]
name = "slow"
strategy = "adaptive"

[[route]]
model = "quick-model"
tier = "quick"

[[route]]
model = "slow-model"
tier = "slow"

[[deployment]]
id = "fast"
provider = "p-fast"
model = "m"
tier = "quick"
base_url = "{fast}"

[[deployment]]
id = "late"
provider = "p-late"
model = "m"
tier = "slow"
base_url = "{late}"
first_byte_timeout = "1s"

[retry]
max_attempts = 1

[[world.provider]]
name = "p-fast"
rate_limit_headers = "full"
ttft = {{ constant = "500ms" }}
per_token = {{ constant = "1ms" }}

  [[world.provider.deployment]]
  id = "fast"
  rpm = 600
  tpm = 1000000

[[world.provider]]
name = "p-late"
ttft = {{ constant = "2s" }}
per_token = {{ constant = "1ms" }}

  [[world.provider.deployment]]
  id = "late"
  rpm = 600
  tpm = 1000000
"#
    )
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// Sends one chat request (streamed or not) as the tenant: status, `retry-after`, body.
async fn send(
    client: &HttpClient,
    url: &str,
    (model, stream): (&str, bool),
) -> (StatusCode, Option<u64>, String) {
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "hello there"}],
        "max_tokens": 64,
        "stream": stream,
    })
    .to_string();
    let req = Request::post(url)
        .header("content-type", "application/json")
        .header("authorization", "Bearer tenant-secret")
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let res = tokio::time::timeout(REQUEST_LIMIT, client.request(req))
        .await
        .expect("answered in time")
        .expect("an HTTP answer");
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let bytes = tokio::time::timeout(REQUEST_LIMIT, res.into_body().collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    (status, retry, String::from_utf8_lossy(&bytes).into_owned())
}

/// The trace's rows as column → value maps.
fn rows(path: &std::path::Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("the trace");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .zip(l.split(','))
                .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_ten_times_faster_runs_the_modelled_world() {
    let mut listeners = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..2 {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind a mock");
        urls.push(format!("http://{}/v1", l.local_addr().expect("addr")));
        listeners.push(l);
    }
    let scenario = Arc::new(
        Scenario::parse(&scenario_text(&urls[0], &urls[1]), "speed.toml", "speed")
            .expect("the scenario is valid"),
    );
    let mut stops = Vec::new();
    let mut tasks = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        let provider = MockProvider::new(MockOptions {
            scenario: scenario.clone(),
            deployment: i,
            time_scale: 1.0 / SPEED,
            seed: 1,
            api: scenario.config.deployments[i].endpoint.api,
        })
        .expect("mock options are valid");
        let (tx, rx) = oneshot::channel::<()>();
        tasks.push(tokio::spawn(async move {
            provider
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
                .map_err(|e| e.to_string())
        }));
        stops.push(tx);
    }
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("speed");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let trace = dir.join("trace.csv");
    let settings = gateway::Settings {
        shutdown_timeout: Duration::from_secs(2),
        trace_out: Some(trace.clone()),
        speed: SPEED,
        ..gateway::Settings::default()
    };
    let gw = gateway::Gateway::new(scenario.config.clone(), settings, |name| {
        (name == "TENANT_KEY").then(|| "tenant-secret".to_owned())
    })
    .expect("the gateway accepts the config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().expect("addr")
    );
    let (gw_stop, gw_rx) = oneshot::channel::<()>();
    let gw_task = tokio::spawn(gateway::serve(listener, gw.clone(), async {
        let _ = gw_rx.await;
    }));
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    let (s1, _, b1) = send(&client, &url, ("quick-model", true)).await;
    assert_eq!(s1, StatusCode::OK, "{b1}");
    let (s2, _, b2) = send(&client, &url, ("slow-model", false)).await;
    assert_eq!(
        s2,
        StatusCode::GATEWAY_TIMEOUT,
        "1 modelled second of first_byte_timeout is 100 ms real: {b2}"
    );
    let (s3, _, b3) = send(&client, &url, ("quick-model", true)).await;
    assert_eq!(s3, StatusCode::OK, "{b3}");
    let (s4, retry, b4) = send(&client, &url, ("quick-model", false)).await;
    assert_eq!(s4, StatusCode::TOO_MANY_REQUESTS, "{b4}");
    assert!(b4.contains("client_rate_limit_exceeded"), "{b4}");
    // The day's window frees the first request a modelled day (plus at most one of its 1/60
    // buckets) after it was admitted: 8,640–8,784 real seconds (86,400 and more unscaled).
    let retry = retry.expect("a retry-after");
    assert!((8_000..=8_784).contains(&retry), "retry-after {retry}");

    let _ = gw_stop.send(());
    tokio::time::timeout(Duration::from_secs(5), gw_task)
        .await
        .expect("the gateway stops")
        .expect("no panic")
        .expect("the gateway ends cleanly");
    gw.flush_trace();
    drop(gw);
    for tx in stops {
        let _ = tx.send(());
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("a mock stops")
            .expect("no panic")
            .expect("the mock ends cleanly");
    }

    let rows = rows(&trace);
    assert_eq!(rows.len(), 4, "one row per request: {rows:?}");
    let by_request = |id: &str| {
        rows.iter()
            .find(|r| r["request_id"] == id)
            .unwrap_or_else(|| panic!("request {id} in {rows:?}"))
    };
    let ms = |r: &std::collections::HashMap<String, String>, k: &str| -> f64 {
        r[k].parse().unwrap_or_else(|_| panic!("{k} of {r:?}"))
    };
    let ok = by_request("1");
    assert_eq!(
        (ok["outcome"].as_str(), ok["deployment"].as_str()),
        ("ok", "fast")
    );
    assert_eq!(ok["stream"], "true");
    // Modelled time: at least the 500 ms the mock waited (50 ms real), never the real 50.
    assert!(ms(ok, "ttft_ms") >= 500.0, "{ok:?}");
    assert!(ms(ok, "latency_ms") >= ms(ok, "ttft_ms"), "{ok:?}");
    assert_eq!(ok["limit_requests"], "600", "per modelled minute: {ok:?}");
    let cut = by_request("2");
    assert_eq!(
        (cut["outcome"].as_str(), cut["deployment"].as_str()),
        ("timeout", "late")
    );
    assert!(ms(cut, "latency_ms") >= 1000.0, "{cut:?}");
    let refused = by_request("4");
    assert_eq!(
        (
            refused["outcome"].as_str(),
            refused["deployment"].as_str(),
            refused["client"].as_str(),
            refused["attempt"].as_str(),
            refused["status"].as_str(),
        ),
        ("client_refused", "", "tenant", "1", "0")
    );
    // Times are modelled: the last arrival is after the first request's modelled latency.
    assert!(
        ms(refused, "arrived_ms") >= ms(ok, "latency_ms"),
        "{rows:?}"
    );

    // `fit` reads the refusal as a request that reached no deployment, not as a 429.
    let fit = sim::fit::fit_trace(&trace, &sim::fit::FitOptions::default()).expect("fit");
    assert_eq!((fit.requests, fit.refused, fit.attempts), (4, 1, 3));
    let fast = fit
        .deployments
        .iter()
        .find(|d| d.id == "fast")
        .expect("fast");
    assert_eq!(fast.rate_limited, 0);
    assert_eq!(
        fast.limits.rpm.map(|l| l.0),
        Some(600),
        "from the header, per modelled minute"
    );
    assert_eq!(fit.mix.len(), 2, "{:?}", fit.mix);
    assert!(fit
        .mix
        .iter()
        .all(|e| e.client.as_deref() == Some("tenant")));
    // `replay` replays all four requests as arrivals.
    let replay =
        sim::replay::Replay::open(&trace, &scenario, sim::replay::ReplayOptions::default())
            .expect("replay reads the trace");
    assert_eq!(replay.info().arrivals, 4);
}

#[test]
fn speeds_out_of_range_are_refused() {
    let config = engine::Config::from_toml(
        "[[tier]]\nname = \"t\"\n[[deployment]]\nid = \"a\"\nprovider = \"p\"\nmodel = \"m\"\n\
         tier = \"t\"\nbase_url = \"http://127.0.0.1:9/v1\"\n",
    )
    .expect("valid config");
    for speed in [0.0, -1.0, f64::NAN, 20_000.0] {
        let settings = gateway::Settings {
            speed,
            ..gateway::Settings::default()
        };
        let e = gateway::Gateway::new(config.clone(), settings, |_| None)
            .err()
            .expect("refused");
        assert!(
            e.to_string().contains("from 0.001 to 10000"),
            "{speed}: {e}"
        );
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--config", "nowhere.toml", "--speed", "0"])
        .output()
        .expect("run switchyard");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--speed") && err.contains("from 0.001 to 10000"),
        "{err}"
    );
}
