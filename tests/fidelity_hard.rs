//! Fidelity where it is hard (issue 16): the simulator against the real gateway in front of mock
//! providers (`mock::provider`, in-process on 127.0.0.1, time-scaled 10× faster) whose random
//! streams are **independent** of the simulator's (a different seed), under `least-latency` and
//! `adaptive`, in three situations:
//!
//! * `limits`: true per-key request limits (token buckets with a small burst) below the load, so
//!   429s, `retry-after` cooldowns and retries happen all the time;
//! * `queueing`: each provider serves at most a few requests at once (world `concurrency`), and the
//!   load saturates the fastest ones, so requests queue inside the providers;
//! * `outage`: the fastest provider answers 503 for a third of the run (a world incident).
//!
//! Both drivers receive the same traffic ([`Traffic`]: Poisson arrival times, sizes, which
//! requests stream), as a user's recorded traffic would be replayed; the providers' draws stay
//! independent, so one gateway run is compared with the simulator's **mean over 20 seeds**. The
//! gateway runs the scenario's own config in modelled time (`serve --speed` at 1 ÷ the time
//! scale, as the mocks run their world). The client sends open loop at the traffic's times
//! (scaled) and measures each request's end-to-end latency (÷ the time scale = modelled).
//!
//! `SWITCHYARD_FIDELITY_TRACE_DIR=DIR` writes the gateway's trace and the first simulator seed's
//! per case into DIR (both in modelled ms, with the same columns), to see why they differ;
//! `SWITCHYARD_FIDELITY_TIME_SCALE` changes the time scale (1 = real time, 300 s a case);
//! `SWITCHYARD_FIDELITY_MOCK_SEED` the mocks' seed.
//!
//! Compared: per-deployment shares of attempts, request success, 429 counts, request latency
//! p50/p99, each against the issue's target or, where the simulator's own seeds spread wider,
//! against that spread ([`Metric::allowed`]); the measured numbers are in docs/mock-provider.md
//! ("Fidelity where it is hard").

#[path = "common/agreement.rs"]
mod agreement;
#[path = "common/answers.rs"]
mod answers;
#[path = "common/mocks.rs"]
mod mocks;
#[path = "common/traffic.rs"]
mod traffic;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agreement::Metric;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mocks::Mocks;
use sim::Scenario;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use traffic::{Traffic, TrafficSource};

/// Requests per run.
const N: usize = 3_000;
/// Modelled arrivals per second (constant).
const RATE: f64 = 10.0;
/// Share of requests streamed (the rest ask for one JSON answer).
const STREAM_SHARE: f64 = 0.5;
/// Real seconds per modelled second in the mocks and the gateway
/// (`SWITCHYARD_FIDELITY_TIME_SCALE` overrides it).
const TIME_SCALE: f64 = 0.1;

fn time_scale() -> f64 {
    std::env::var("SWITCHYARD_FIDELITY_TIME_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s: &f64| (0.001..=1.0).contains(s))
        .unwrap_or(TIME_SCALE)
}

/// Seeds of the simulator runs averaged.
const SIM_SEEDS: [u64; 20] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
];
/// Seed of the mocks: not one of the simulator's (`SWITCHYARD_FIDELITY_MOCK_SEED` overrides it, to
/// measure the envelope over other real random streams).
const MOCK_SEED: u64 = 9_001;

fn mock_seed() -> u64 {
    std::env::var("SWITCHYARD_FIDELITY_MOCK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(MOCK_SEED)
}
/// Seed of the traffic both drivers receive ([`Traffic`]).
const TRAFFIC_SEED: u64 = 4_242;

/// Every request must be answered within this long (real).
const REQUEST_LIMIT: Duration = Duration::from_secs(20);

const IDS: [&str; 3] = ["alpha", "beta", "gamma"];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Situation {
    Limits,
    Queueing,
    Outage,
}

/// The scenario, in modelled time: the simulator runs it, the mocks model its world and the
/// gateway runs its config at `speed` 1 ÷ the time scale. The same text for all three.
fn scenario_text(urls: &[String], strategy: &str, situation: Situation) -> String {
    let limits = |rpm: u32| match situation {
        Situation::Limits => {
            format!("rpm = {rpm}\n  tpm = 100000000\n  window = \"token-bucket\"\n  burst = 0.05")
        }
        _ => "rpm = 100000\n  tpm = 100000000".to_owned(),
    };
    let concurrency = |c: u32| match situation {
        Situation::Queueing => format!("concurrency = {c}\n"),
        _ => String::new(),
    };
    let incident = match situation {
        Situation::Outage => {
            "[[world.incident]]\nkind = \"outage\"\ntarget = \"gamma\"\nmode = \"503\"\nstart = \"100s\"\nend = \"200s\"\n"
        }
        _ => "",
    };
    format!(
        r#"
[simulation]
name = "fidelity-hard"
seed = 1
duration = "1h"
requests = {N}
strategies = ["{strategy}"]
drain = "10m"

[workload]
arrivals = {{ poisson = {{ rate = {RATE} }} }}
stream_share = {STREAM_SHARE}
input_tokens = {{ lognormal = {{ median = 200, p99 = 1000 }} }}
output_tokens = {{ lognormal = {{ median = 60, p99 = 300 }} }}
max_tokens = 256
client_timeout = "120s"

[[tier]]
name = "standard"
strategy = "{strategy}"

[[route]]
model = "gpt-4o-mini"
tier = "standard"

[[deployment]]
id = "alpha"
provider = "alpha"
model = "gpt-4o-mini"
tier = "standard"
base_url = "{a}"

[[deployment]]
id = "beta"
provider = "beta"
model = "gpt-4o-mini"
tier = "standard"
base_url = "{b}"

[[deployment]]
id = "gamma"
provider = "gamma"
model = "gpt-4o-mini"
tier = "standard"
base_url = "{c}"

[retry]
max_attempts = 3
backoff_base = "100ms"
backoff_max = "5s"
max_wait = "10s"

[health]
cooldown = "5s"
max_cooldown = "60s"
open_for = "30s"
max_open_for = "300s"
error_window = "60s"

[balancing]
latency_decay = "10s"
failure_penalty = "2s"
default_latency = "1s"

[[world.provider]]
name = "alpha"
ttft = {{ lognormal = {{ median = "300ms", p99 = "1.5s" }} }}
per_token = {{ gamma = {{ shape = 4.0, mean = "8ms" }} }}
{ca}rate_limit_headers = "none"

  [[world.provider.deployment]]
  id = "alpha"
  {la}

[[world.provider]]
name = "beta"
ttft = {{ lognormal = {{ median = "400ms", p99 = "2s" }} }}
per_token = {{ gamma = {{ shape = 4.0, mean = "10ms" }} }}
{cb}rate_limit_headers = "none"

  [[world.provider.deployment]]
  id = "beta"
  {lb}

[[world.provider]]
name = "gamma"
ttft = {{ lognormal = {{ median = "250ms", p99 = "1s" }} }}
per_token = {{ gamma = {{ shape = 4.0, mean = "6ms" }} }}
{cc}rate_limit_headers = "none"

  [[world.provider.deployment]]
  id = "gamma"
  {lc}

{incident}"#,
        a = urls[0],
        b = urls[1],
        c = urls[2],
        ca = concurrency(6),
        cb = concurrency(6),
        cc = concurrency(5),
        la = limits(200),
        lb = limits(160),
        lc = limits(180),
    )
}

/// What one run (simulated or real) gave.
#[derive(Debug, Clone, Default)]
struct Outcome {
    attempts: [f64; 3],
    rate_limited: [f64; 3],
    requests: f64,
    succeeded: f64,
    p50_ms: f64,
    p99_ms: f64,
}

impl Outcome {
    fn share(&self, i: usize) -> f64 {
        self.attempts[i] / self.attempts.iter().sum::<f64>().max(1.0)
    }
    fn success(&self) -> f64 {
        self.succeeded / self.requests.max(1.0)
    }
    fn total_429(&self) -> f64 {
        self.rate_limited.iter().sum()
    }
}

/// Where to write the traces of a run for inspection (`SWITCHYARD_FIDELITY_TRACE_DIR`): the
/// gateway's and the first simulator seed's, per case. Unset: none written.
fn trace_path(kind: &str, label: &str) -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("SWITCHYARD_FIDELITY_TRACE_DIR")?;
    Some(std::path::Path::new(&dir).join(format!("{kind}-{}.csv", label.replace('/', "-"))))
}

fn simulate(
    scenario: &Scenario,
    traffic: &Traffic,
    seed: u64,
    trace_to: Option<std::path::PathBuf>,
) -> Outcome {
    let mut csv = trace_to.map(|p| {
        sim::trace::CsvTrace::new(std::fs::File::create(p).expect("the trace file is created"))
    });
    let mut source = TrafficSource::new(scenario, traffic, seed);
    let result = sim::run_with(
        scenario,
        &mut source,
        sim::RunOptions {
            strategy: None,
            seed,
            trace: csv.as_mut().map(|t| t as &mut dyn sim::trace::TraceSink),
            progress: None,
        },
    );
    if let Some(t) = csv {
        t.finish().expect("the trace is written");
    }
    let mut o = Outcome {
        requests: result.summary.requests as f64,
        succeeded: result.summary.successes as f64,
        p50_ms: result.summary.latency_p50_ms,
        p99_ms: result.summary.latency_p99_ms,
        ..Outcome::default()
    };
    for dep in &result.deployments {
        let i = IDS
            .iter()
            .position(|id| *id == dep.deployment)
            .expect("known");
        o.attempts[i] = dep.attempts as f64;
        o.rate_limited[i] = dep.rate_limited as f64;
    }
    o
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// One request: whether it succeeded completely, and its real latency.
async fn send(
    client: &HttpClient,
    url: &str,
    body: String,
    stream: bool,
) -> Result<(bool, Duration), String> {
    let started = Instant::now();
    let req = Request::post(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let work = async {
        let res = client.request(req).await.map_err(|e| e.to_string())?;
        let status = res.status();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let complete = answers::answer_complete(&body, stream);
        Ok((status == StatusCode::OK && complete, started.elapsed()))
    };
    tokio::time::timeout(REQUEST_LIMIT, work)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {REQUEST_LIMIT:?}")))
}

/// Quantile `q` of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// The real run: three mocks (seed [`MOCK_SEED`]), the gateway, an open-loop client.
async fn real_run(strategy: &str, situation: Situation, traffic: &Traffic) -> Outcome {
    let (listeners, urls) = mocks::bind(IDS.len()).await;
    let world = Arc::new(
        Scenario::parse(
            &scenario_text(&urls, strategy, situation),
            "hard.toml",
            "hard",
        )
        .expect("valid"),
    );

    // The gateway runs the scenario's own config in modelled time (`serve --speed`): its clock,
    // every duration of its config and every latency or `retry-after` it measures are converted
    // at its boundary with the real world (gateway/src/clock.rs).
    let gw = gateway::Gateway::new(
        world.config.clone(),
        gateway::Settings {
            speed: 1.0 / time_scale(),
            seed: mock_seed(),
            shutdown_timeout: Duration::from_secs(2),
            trace_out: trace_path("gw", &format!("{strategy}/{situation:?}")),
            ..gateway::Settings::default()
        },
        |_| None,
    )
    .expect("the gateway accepts the config");
    let gw_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let gw_addr = gw_listener.local_addr().expect("addr");
    let (gw_stop, gw_rx) = oneshot::channel::<()>();
    let gw_task = tokio::spawn(gateway::serve(gw_listener, gw.clone(), async {
        let _ = gw_rx.await;
    }));

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let url = format!("http://{gw_addr}/v1/chat/completions");

    // The mocks start last, so their modelled clock (limit windows, incidents) starts with the
    // client's first request, as the simulator's starts with its first arrival.
    let mocks = Mocks::start(&world, listeners, time_scale(), mock_seed());

    let start = tokio::time::Instant::now();
    let mut sent = Vec::with_capacity(N);
    for r in &traffic.requests {
        let b = r.body("gpt-4o-mini");
        tokio::time::sleep_until(start + r.at.mul_f64(time_scale())).await;
        let (client, url, stream) = (client.clone(), url.clone(), r.stream);
        sent.push(tokio::spawn(
            async move { send(&client, &url, b, stream).await },
        ));
    }
    let mut latencies = Vec::new();
    let mut out = Outcome {
        requests: N as f64,
        ..Outcome::default()
    };
    for t in sent {
        let (ok, took) = t
            .await
            .expect("no panic")
            .expect("every request is answered");
        if ok {
            out.succeeded += 1.0;
            latencies.push(took.as_secs_f64() * 1000.0 / time_scale());
        }
    }
    latencies.sort_by(f64::total_cmp);
    out.p50_ms = quantile(&latencies, 0.5);
    out.p99_ms = quantile(&latencies, 0.99);
    for (i, m) in mocks.providers.iter().enumerate() {
        let s = m.stats();
        out.attempts[i] = s.requests.load(Ordering::Relaxed) as f64;
        out.rate_limited[i] = s.rate_limited.load(Ordering::Relaxed) as f64;
    }

    let _ = gw_stop.send(());
    tokio::time::timeout(Duration::from_secs(5), gw_task)
        .await
        .expect("the gateway stops")
        .expect("no panic")
        .expect("the gateway ends cleanly");
    mocks.stop().await;
    out
}

/// The issue's targets: 3 points of share, 1 point of success, 15 % of 429s, 10 % of p50/p99.
const SHARE_PT: f64 = 3.0;
const SUCCESS_PT: f64 = 1.0;
const RATE_LIMITED_REL: f64 = 0.15;
const LATENCY_REL: f64 = 0.10;

/// One case at a time: the cases measure timing on two cores, and two of them running side by
/// side (cargo's default test threads) crowd each other's gateway and mocks (one CI run met
/// 24 % more 429s that way, in an earlier form of this test).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn case(strategy: &str, situation: Situation) {
    let _alone = ONE_AT_A_TIME.lock().await;
    let started = Instant::now();
    let urls: Vec<String> = (0..3)
        .map(|i| format!("http://127.0.0.1:{}/v1", 1 + i))
        .collect();
    let scenario = Scenario::parse(
        &scenario_text(&urls, strategy, situation),
        "hard.toml",
        "hard",
    )
    .expect("the scenario is valid");
    let label = format!("{strategy}/{situation:?}");
    let traffic = Traffic::draw(&scenario, N, TRAFFIC_SEED, "fidelity-hard");
    let runs: Vec<Outcome> = SIM_SEEDS
        .iter()
        .map(|s| {
            let trace = (*s == SIM_SEEDS[0])
                .then(|| trace_path("sim", &label))
                .flatten();
            simulate(&scenario, &traffic, *s, trace)
        })
        .collect();
    let real = real_run(strategy, situation, &traffic).await;

    let metric =
        |name: String, relative: bool, target: f64, get: &dyn Fn(&Outcome) -> f64| Metric {
            name,
            gateway: get(&real),
            seeds: runs.iter().map(get).collect(),
            relative,
            target,
        };
    let mut metrics: Vec<Metric> = IDS
        .iter()
        .enumerate()
        .map(|(i, id)| {
            metric(format!("{id} share"), false, SHARE_PT, &|o| {
                o.share(i) * 100.0
            })
        })
        .collect();
    metrics.push(metric("success".into(), false, SUCCESS_PT, &|o| {
        o.success() * 100.0
    }));
    // 429 counts are compared where they are non-trivial (the simulator meets at least 30);
    // where the limits are the point of the case, they must bind.
    let sim_429 = runs.iter().map(Outcome::total_429).sum::<f64>() / runs.len() as f64;
    if matches!(situation, Situation::Limits) {
        assert!(
            sim_429 >= 30.0,
            "{label}: the limits do not bind ({sim_429:.1} 429s)"
        );
    }
    if sim_429 >= 30.0 {
        metrics.push(metric("429s".into(), true, RATE_LIMITED_REL, &|o| {
            o.total_429()
        }));
    }
    metrics.push(metric("p50 ms".into(), true, LATENCY_REL, &|o| o.p50_ms));
    metrics.push(metric("p99 ms".into(), true, LATENCY_REL, &|o| o.p99_ms));

    println!("{label}: {:.1} s wall", started.elapsed().as_secs_f64());
    agreement::assert_agree(&label, &metrics);
}

// Every test's runtime has 6 workers although the machine may have 2 cores: the client, the
// gateway and three mocks share it in-process, and on 2 workers their tasks queue behind each
// other, which added 2–5 points to the gateway's 429s (docs/mock-provider.md).

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn least_latency_with_binding_limits() {
    case("least-latency", Situation::Limits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn adaptive_with_binding_limits() {
    case("adaptive", Situation::Limits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn least_latency_with_provider_queueing() {
    case("least-latency", Situation::Queueing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn adaptive_with_provider_queueing() {
    case("adaptive", Situation::Queueing).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn least_latency_through_an_outage() {
    case("least-latency", Situation::Outage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn adaptive_through_an_outage() {
    case("adaptive", Situation::Outage).await;
}
