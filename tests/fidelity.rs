//! Fidelity: one scenario run (a) in the simulator and (b) through the real gateway in front of
//! mock providers for that scenario (`mock::provider`, in-process on 127.0.0.1,
//! time-scaled 10× faster) gives per-deployment traffic shares within 3 percentage points and
//! success rates within 1 point; and the gateway's own trace (`--trace-out`), fitted with its
//! config, gives each deployment's time to first token back within 0.7–1.4× at the median.
//!
//! The scenario: one tier of three deployments weighted 3:2:1 under `weighted-round-robin`, the
//! smallest returning 5xx on 10 % of attempts, two attempts per request, true rate limits far
//! above the traffic (they never bind, but their headers flow). A client sends 600 requests (a
//! quarter of them streamed) at concurrency 8. The mocks use the simulator's seed, so each
//! deployment's k-th attempt draws what the simulator's k-th attempt at it draws.

#[path = "common/answers.rs"]
mod answers;
#[path = "common/load.rs"]
mod load;
#[path = "common/mocks.rs"]
mod mocks;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mocks::Mocks;
use sim::Scenario;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Requests the client sends (and the simulator simulates).
const N: usize = 600;
/// Requests in flight from the client at once.
const CONCURRENCY: usize = 8;
/// Real seconds per modelled second in the mocks.
const TIME_SCALE: f64 = 0.1;
/// Seed of the simulator, the mocks and the gateway's engine.
const SEED: u64 = 7;
/// Every request must be answered within this long.
const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// The whole client phase must end within this long.
const CLIENT_PHASE_LIMIT: Duration = Duration::from_secs(25);

const IDS: [&str; 3] = ["alpha", "beta", "gamma"];

/// The scenario, with each deployment's `base_url` pointing at its mock.
fn scenario_text(urls: &[String]) -> String {
    format!(
        r#"
[simulation]
name = "fidelity"
seed = {SEED}
duration = "1h"
requests = {N}
strategies = ["weighted-round-robin"]
drain = "10m"

[workload]
arrivals = {{ constant = {{ rate = 9.0 }} }}
input_tokens = {{ lognormal = {{ median = 200, p99 = 1000 }} }}
output_tokens = {{ lognormal = {{ median = 60, p99 = 300 }} }}
max_tokens = 256
client_timeout = "60s"

[[tier]]
name = "standard"
strategy = "weighted-round-robin"

[[route]]
model = "gpt-4o-mini"
tier = "standard"

[[deployment]]
id = "alpha"
provider = "alpha"
model = "gpt-4o-mini"
tier = "standard"
weight = 3
base_url = "{a}"

[[deployment]]
id = "beta"
provider = "beta"
model = "gpt-4o-mini"
tier = "standard"
weight = 2
base_url = "{b}"

[[deployment]]
id = "gamma"
provider = "gamma"
model = "gpt-4o-mini"
tier = "standard"
weight = 1
base_url = "{c}"

[retry]
max_attempts = 2

[[world.provider]]
name = "alpha"
ttft = {{ lognormal = {{ median = "300ms", p99 = "1.5s" }} }}
per_token = {{ gamma = {{ shape = 4.0, mean = "8ms" }} }}
rate_limit_headers = "full"

  [[world.provider.deployment]]
  id = "alpha"
  rpm = 100000
  tpm = 100000000

[[world.provider]]
name = "beta"
ttft = {{ lognormal = {{ median = "400ms", p99 = "2s" }} }}
per_token = {{ gamma = {{ shape = 4.0, mean = "10ms" }} }}
rate_limit_headers = "remaining"

  [[world.provider.deployment]]
  id = "beta"
  rpm = 100000
  tpm = 100000000

[[world.provider]]
name = "gamma"
ttft = {{ lognormal = {{ median = "250ms", p99 = "1s" }} }}
per_token = {{ gamma = {{ shape = 4.0, mean = "6ms" }} }}
error_rate = 0.10
rate_limit_headers = "none"

  [[world.provider.deployment]]
  id = "gamma"
"#,
        a = urls[0],
        b = urls[1],
        c = urls[2],
    )
}

/// Attempts and successful attempts per deployment, and request-level totals.
#[derive(Debug, Default)]
struct Tally {
    attempts: BTreeMap<String, u64>,
    successes: BTreeMap<String, u64>,
    requests: u64,
    succeeded: u64,
}

impl Tally {
    fn total_attempts(&self) -> u64 {
        self.attempts.values().sum()
    }

    fn share(&self, id: &str) -> f64 {
        self.attempts[id] as f64 / self.total_attempts().max(1) as f64
    }

    fn success_rate(&self, id: &str) -> f64 {
        self.successes[id] as f64 / self.attempts[id].max(1) as f64
    }

    fn request_success(&self) -> f64 {
        self.succeeded as f64 / self.requests.max(1) as f64
    }
}

/// The value of the metric line `name{labels}`.
fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

fn dep_metric(text: &str, name: &str, id: &str) -> u64 {
    metric(
        text,
        &format!("{name}{{deployment=\"{id}\",tier=\"standard\"}}"),
    )
    .unwrap_or_else(|| panic!("/metrics has no {name} for {id}")) as u64
}

/// What the client saw of one request.
#[derive(Debug)]
struct Seen {
    status: StatusCode,
    deployment: Option<String>,
    complete: bool,
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn send(client: &HttpClient, url: &str, body: String, stream: bool) -> Result<Seen, String> {
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let work = async {
        let res = client.request(req).await.map_err(|e| e.to_string())?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        let deployment = parts
            .headers
            .get(gateway::DEPLOYMENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let complete = answers::answer_complete(&body, stream);
        Ok(Seen {
            status: parts.status,
            deployment,
            complete,
        })
    };
    tokio::time::timeout(REQUEST_LIMIT, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_LIMIT:?}")))
}

/// The simulator's run of the scenario.
fn simulate(scenario: &Scenario) -> Tally {
    let result = sim::run(
        scenario,
        sim::RunOptions {
            strategy: None,
            seed: SEED,
            trace: None,
            progress: None,
        },
    );
    let mut t = Tally {
        requests: result.summary.requests,
        succeeded: result.summary.successes,
        ..Tally::default()
    };
    for d in &result.deployments {
        t.attempts.insert(d.deployment.clone(), d.attempts);
        t.successes.insert(d.deployment.clone(), d.successes);
    }
    t
}

/// One request body: input size from the scenario's workload, its `max_tokens`.
fn body(scenario: &Scenario, rng: &mut sim::Rng, stream: bool) -> String {
    let (input, _, max_tokens) = scenario.workload.draw_tokens(rng);
    // The gateway estimates input tokens as characters ÷ 4.
    let content = "lorem ipsum ".repeat((input as usize * 4).div_ceil(12).min(40_000));
    serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "stream": stream,
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_and_gateway_agree_on_shares_and_success() {
    let started = Instant::now();
    // Mock providers: bind first, so the scenario can name their URLs.
    let (listeners, urls) = mocks::bind(IDS.len()).await;
    let scenario = Arc::new(
        Scenario::parse(&scenario_text(&urls), "fidelity.toml", "fidelity")
            .expect("the fidelity scenario is valid"),
    );

    // (a) The simulator.
    let simulated = simulate(&scenario);
    assert_eq!(simulated.requests, N as u64);

    // (b) The gateway in front of one mock per deployment.
    let mocks = Mocks::start(&scenario, listeners, TIME_SCALE, SEED);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fidelity");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let trace_path = dir.join("gateway-trace.csv");
    let settings = gateway::Settings {
        seed: SEED,
        shutdown_timeout: Duration::from_secs(2),
        trace_out: Some(trace_path.clone()),
        // The mocks' speed: the gateway's config and its trace are in modelled time.
        speed: 1.0 / TIME_SCALE,
        ..gateway::Settings::default()
    };
    let gw = gateway::Gateway::new(scenario.config.clone(), settings, |_| None)
        .expect("the gateway accepts the scenario's config");
    let gw_listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the gateway");
    let gw_addr = gw_listener.local_addr().expect("addr");
    let (gw_stop, gw_rx) = oneshot::channel::<()>();
    let gw_task = tokio::spawn(gateway::serve(gw_listener, gw.clone(), async {
        let _ = gw_rx.await;
    }));

    // The client: N requests, CONCURRENCY at a time, every fourth streamed.
    let url = format!("http://{gw_addr}/v1/chat/completions");
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let bodies: Arc<Vec<(String, bool)>> = Arc::new({
        let mut rng = sim::run::stream(SEED, "fidelity-client");
        (0..N)
            .map(|i| {
                let stream = i % 4 == 3;
                (body(&scenario, &mut rng, stream), stream)
            })
            .collect()
    });
    let send_one = {
        let (client, url) = (client.clone(), url.clone());
        move |i: usize| {
            let (client, url, bodies) = (client.clone(), url.clone(), bodies.clone());
            async move {
                let (body, stream) = &bodies[i];
                send(&client, &url, body.clone(), *stream).await
            }
        }
    };
    let seen = load::closed_loop(N, CONCURRENCY, CLIENT_PHASE_LIMIT, send_one).await;
    let client_elapsed = started.elapsed();
    let Some(seen) = seen else {
        panic!("the client did not finish {N} requests within {CLIENT_PHASE_LIMIT:?}");
    };

    let (status, metrics) = {
        let req = Request::get(format!("http://{gw_addr}/metrics"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let res = tokio::time::timeout(REQUEST_LIMIT, client.request(req))
            .await
            .expect("/metrics answers in time")
            .expect("/metrics answers");
        let status = res.status();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(status, StatusCode::OK);

    // Gateway side: attempts and successes per deployment from /metrics, requests from the
    // client's own view, cross-checked against each other and against the mocks.
    assert_eq!(seen.len(), N, "every request was sent once");
    let mut real = Tally {
        requests: N as u64,
        ..Tally::default()
    };
    let mut answered_by: BTreeMap<String, u64> = BTreeMap::new();
    for r in &seen {
        let r = r.as_ref().expect("every request got an HTTP answer");
        if r.status == StatusCode::OK && r.complete {
            real.succeeded += 1;
            if let Some(d) = &r.deployment {
                *answered_by.entry(d.clone()).or_default() += 1;
            }
        }
    }
    for (i, id) in IDS.iter().enumerate() {
        let attempts = dep_metric(&metrics, "switchyard_deployment_attempts_total", id);
        let successes = dep_metric(&metrics, "switchyard_deployment_successes_total", id);
        real.attempts.insert((*id).to_owned(), attempts);
        real.successes.insert((*id).to_owned(), successes);
        let mock_requests = mocks.providers[i].stats().requests.load(Ordering::Relaxed);
        assert_eq!(
            mock_requests, attempts,
            "{id}: the mock saw every attempt the gateway counted"
        );
        assert_eq!(
            answered_by.get(*id).copied().unwrap_or(0),
            successes,
            "{id}: x-switchyard-deployment of the successful answers matches /metrics"
        );
    }
    assert_eq!(
        metric(&metrics, "switchyard_requests_total{result=\"succeeded\"}"),
        Some(real.succeeded as f64)
    );

    // Shut everything down (bounded).
    let _ = gw_stop.send(());
    tokio::time::timeout(Duration::from_secs(5), gw_task)
        .await
        .expect("the gateway stops")
        .expect("no panic")
        .expect("the gateway ends cleanly");
    mocks.stop().await;

    // The comparison.
    println!(
        "fidelity: {N} requests, client phase {:.2} s (time scale {TIME_SCALE})",
        client_elapsed.as_secs_f64()
    );
    println!(
        "deployment  sim share  gw share  Δ (pt)  sim success  gw success  Δ (pt)  sim/gw attempts"
    );
    let mut worst_share = 0.0f64;
    let mut worst_success = 0.0f64;
    for id in IDS {
        let (s_share, g_share) = (simulated.share(id), real.share(id));
        let (s_ok, g_ok) = (simulated.success_rate(id), real.success_rate(id));
        worst_share = worst_share.max((s_share - g_share).abs());
        worst_success = worst_success.max((s_ok - g_ok).abs());
        println!(
            "{id:<10}  {:>8.2}%  {:>7.2}%  {:>6.2}  {:>10.2}%  {:>9.2}%  {:>6.2}  {}/{}",
            s_share * 100.0,
            g_share * 100.0,
            (s_share - g_share).abs() * 100.0,
            s_ok * 100.0,
            g_ok * 100.0,
            (s_ok - g_ok).abs() * 100.0,
            simulated.attempts[id],
            real.attempts[id],
        );
    }
    let (s_req, g_req) = (simulated.request_success(), real.request_success());
    println!(
        "requests    success sim {:.2}%  gateway {:.2}%  Δ {:.2} pt",
        s_req * 100.0,
        g_req * 100.0,
        (s_req - g_req).abs() * 100.0
    );
    println!(
        "worst share Δ {:.2} pt (limit 3), worst per-deployment success Δ {:.2} pt (limit 1)",
        worst_share * 100.0,
        worst_success * 100.0
    );

    // The faulty deployment really failed sometimes, in both worlds, and was retried.
    assert!(simulated.success_rate("gamma") < 0.97 && real.success_rate("gamma") < 0.97);
    for id in IDS {
        assert!(
            (simulated.share(id) - real.share(id)).abs() <= 0.03,
            "{id}: traffic share sim {:.4} vs gateway {:.4}",
            simulated.share(id),
            real.share(id)
        );
        assert!(
            (simulated.success_rate(id) - real.success_rate(id)).abs() <= 0.01,
            "{id}: attempt success rate sim {:.4} vs gateway {:.4}",
            simulated.success_rate(id),
            real.success_rate(id)
        );
    }
    assert!(
        (s_req - g_req).abs() <= 0.01,
        "request success rate sim {s_req:.4} vs gateway {g_req:.4}"
    );

    // The production loop: the gateway's own trace, fitted with its config, against the truth.
    drop(gw);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    fitted_against_truth(&scenario, &urls, &trace_path, &dir);
}

/// Fits the gateway's trace (`fit --config`) and prints, per deployment, the fitted time to
/// first token and per-token time (the trace is in modelled time: `serve --speed`) against the
/// scenario's truth; asserts both kinds of rows were seen and the fitted ttft p50 is within
/// 0.7–1.4× the truth (the localhost overhead, scaled up with the time, is part of every
/// modelled latency; measured figures in docs/replay.md).
fn fitted_against_truth(
    scenario: &Scenario,
    urls: &[String],
    trace: &std::path::Path,
    dir: &std::path::Path,
) {
    let config_path = dir.join("fidelity.toml");
    std::fs::write(&config_path, scenario_text(urls)).expect("write the config");
    let config = sim::fit::GatewayConfig::load(&config_path).expect("config");
    let options = sim::fit::FitOptions {
        config: Some(config),
        ..sim::fit::FitOptions::default()
    };
    let fit = sim::fit::fit_trace(trace, &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fit.requests, N as u64, "the trace holds every request");
    let mut rng = sim::run::stream(SEED, "truth");
    let mut truth = |d: &sim::dist::Dist| {
        let mut v: Vec<f64> = (0..100_000).map(|_| d.sample(&mut rng)).collect();
        sim::fit::stats::sample_quantiles(&mut v)
    };
    println!(
        "fit of the gateway's trace (ms of modelled time: the gateway runs at the mocks' speed)"
    );
    let mut checks = Vec::new();
    println!("deployment  streamed/whole  ttft p50 truth/fit  ttft p99 truth/fit  per-token p50 truth/fit  p99 truth/fit");
    for (i, id) in IDS.iter().enumerate() {
        let d = fit
            .deployments
            .iter()
            .find(|d| d.id == *id)
            .expect("fitted");
        let w = &scenario.world.deployments[i];
        let (t, p) = (truth(&w.ttft), truth(&w.per_token));
        let scale = 1000.0;
        let (ft, fp) = (d.ttft.quantiles(), d.per_token.quantiles());
        println!(
            "{id:<10}  {:>6}/{:<6}  {:>7.1} / {:<7.1}  {:>7.1} / {:<7.1}  {:>9.2} / {:<9.2}  {:>6.2} / {:<6.2}",
            d.streamed,
            d.whole,
            t[0] * 1000.0,
            ft[0] * scale,
            t[2] * 1000.0,
            ft[2] * scale,
            p[0] * 1000.0,
            fp[0] * scale,
            p[2] * 1000.0,
            fp[2] * scale,
        );
        checks.push((id, d.streamed, d.whole, ft[0] * scale / (t[0] * 1000.0)));
    }
    for w in &fit.warnings {
        println!("warning: {w}");
    }
    whatif_on_the_gateway_trace(trace, &config_path, dir);
    for (id, streamed, whole, ratio) in checks {
        assert!(streamed > 0 && whole > 0, "{id}: both kinds of rows");
        // The medians rest on 9–123 streamed successes (±14 % standard error at 40; which
        // attempts stream varies with the interleaving from run to run). Measured 0.88–1.22×
        // the truth over six runs after the mock's timing fix (0.83–1.25× before, when about
        // 2 ms of real overhead per attempt became 20 modelled ms at 10×); taking non-streamed
        // latency as ttft would give 2.5× or more. tests/production_loop.rs holds the fit to
        // the issue's 10 % with enough samples.
        assert!(
            (0.7..1.4).contains(&ratio),
            "{id}: fitted/true ttft p50 {ratio:.2}"
        );
    }
}

/// End to end: `switchyard whatif` on the gateway's own trace (the world fitted from it with the
/// baseline as its config) judges a candidate that halves the faulty deployment's weight.
fn whatif_on_the_gateway_trace(
    trace: &std::path::Path,
    baseline: &std::path::Path,
    dir: &std::path::Path,
) {
    let text = std::fs::read_to_string(baseline).expect("baseline");
    let candidate = dir.join("candidate.toml");
    let changed = text.replacen("weight = 1\n", "weight = 0.5\n", 1);
    assert_ne!(changed, text, "the candidate changes gamma's weight");
    std::fs::write(&candidate, changed).expect("write the candidate");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["whatif", "--trace"])
        .arg(trace)
        .arg("--baseline")
        .arg(baseline)
        .arg("--candidate")
        .arg(&candidate)
        .args(["--seeds", "3", "--out"])
        .arg(dir.join("whatif"))
        .env("RUST_LOG", "error")
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("world: fitted-gateway-trace"), "{stdout}");
    assert!(stdout.contains("| success rate |"), "{stdout}");
    assert!(dir.join("whatif").join("whatif.md").is_file());
}
