//! The production loop (issue 19): a shipped scenario's world served by mock providers
//! (`mock::provider`, in-process on 127.0.0.1) and the real gateway in front of them, both
//! `SPEED` times faster than modelled time (`mock-provider --speed`, `serve --speed`); a bounded
//! client sends streamed and non-streamed requests; the gateway's own trace (`--trace-out`) is
//! fitted with its config (`fit --config`) and the fitted file simulated. Asserted:
//!
//! * per deployment, the fitted time to first token and per-token time, p50 and p99, within
//!   10 % of the scenario's truth;
//! * the simulated fitted world's request p50 and p99 within 10 % of what the client measured;
//! * its per-deployment traffic shares within 3 points of the gateway's, its success rate within
//!   1 point of the client's.
//!
//! Sizing. The client asks for at most `MAX_TOKENS` output tokens and sends prompts a quarter
//! of the scenario's size, so that a request lasts about a modelled second and the keys' limits
//! (600 requests and 300,000 tokens a minute each) do not bind at `CONCURRENCY` requests in
//! flight; 3,000 requests give each key about 1,250 streamed successes. The mocks draw from the
//! simulator's seeded streams, so a key's k-th attempt draws the same values on every run: the
//! sampling error of the fits is fixed by `SEED` (printed as `draws`: the mock's own draws fitted,
//! no overhead at all) and what varies between runs is the localhost overhead (gateway, mock,
//! timer wake-ups: a few tenths of a real millisecond, `SPEED` times as many modelled ones).
//! Measured figures: docs/replay.md ("The gateway's own trace: measured").

#[path = "common/answers.rs"]
mod answers;
#[path = "common/load.rs"]
mod load;
#[path = "common/mocks.rs"]
mod mocks;

use std::path::{Path, PathBuf};
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

/// The shipped scenario: two keys of one provider under `adaptive`, three attempts a request
/// (its `[simulation] replicas` is the simulator's; one gateway runs here).
const SCENARIO: &str = "replicas.toml";
/// Modelled seconds per real second, for the mocks and the gateway.
const SPEED: f64 = 10.0;
/// Requests the client sends.
const N: usize = 3000;
/// Requests in flight from the client at once.
const CONCURRENCY: usize = 12;
/// Every `WHOLE_EVERY`-th request is not streamed.
const WHOLE_EVERY: usize = 6;
/// The client's `max_tokens`.
const MAX_TOKENS: u32 = 64;
/// Seed of the mocks, the gateway's engine and the simulator.
const SEED: u64 = 19;
/// Every request must be answered within this long (real time).
const REQUEST_LIMIT: Duration = Duration::from_secs(10);
/// The whole client phase must end within this long (real time).
const CLIENT_PHASE_LIMIT: Duration = Duration::from_secs(90);
/// Requests the fitted world is simulated for.
const SIMULATED: u64 = 40_000;

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("production-loop");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The shipped scenario with each deployment's `base_url` pointing at its mock.
fn scenario_text(urls: &[String]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(SCENARIO);
    let mut text = std::fs::read_to_string(&path).expect("the shipped scenario");
    let ids = ["openai-key1", "openai-key2"];
    assert_eq!(ids.len(), urls.len());
    for (id, url) in ids.iter().zip(urls) {
        let at = format!("[[deployment]]\nid = \"{id}\"\n");
        assert!(text.contains(&at), "{SCENARIO} has deployment {id}");
        text = text.replacen(&at, &format!("{at}base_url = \"{url}\"\n"), 1);
    }
    text
}

/// What the client saw of one request: success, modelled latency (real × `SPEED`), seconds.
#[derive(Debug, Clone, Copy)]
struct Seen {
    ok: bool,
    latency: f64,
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn send(client: &HttpClient, url: &str, body: String, stream: bool) -> Seen {
    let started = Instant::now();
    let work = async {
        let req = Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .ok()?;
        let res = client.request(req).await.ok()?;
        let status = res.status();
        let body = res.into_body().collect().await.ok()?.to_bytes();

        Some(status == StatusCode::OK && answers::answer_complete(&body, stream))
    };
    let ok = tokio::time::timeout(REQUEST_LIMIT, work)
        .await
        .ok()
        .flatten()
        .unwrap_or(false);
    Seen {
        ok,
        latency: started.elapsed().as_secs_f64() * SPEED,
    }
}

/// One request body: a quarter of an input size drawn from the scenario's workload (so that
/// the keys' token limits do not bind at the client's rate), the client's `max_tokens`.
fn body(scenario: &Scenario, rng: &mut sim::Rng, stream: bool) -> String {
    let (input, _, _) = scenario.workload.draw_tokens(rng);
    // The gateway estimates input tokens as characters ÷ 4: one character per input token.
    let content = "lorem ipsum ".repeat((input as usize).div_ceil(12).min(40_000));
    serde_json::json!({
        "model": "standard",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": MAX_TOKENS,
        "stream": stream,
    })
    .to_string()
}

/// The gateway in front of the mocks, its trace written to `scratch()/trace.csv`: every
/// request's outcome as the client saw it.
async fn serve_and_send(scenario: &Arc<Scenario>, listeners: Vec<TcpListener>) -> Vec<Seen> {
    let mocks = Mocks::start(scenario, listeners, 1.0 / SPEED, SEED);
    let settings = gateway::Settings {
        seed: SEED,
        shutdown_timeout: Duration::from_secs(2),
        trace_out: Some(scratch().join("trace.csv")),
        speed: SPEED,
        ..gateway::Settings::default()
    };
    let gw = gateway::Gateway::new(scenario.config.clone(), settings, |_| None)
        .expect("the gateway accepts the scenario's config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/v1/chat/completions",
        listener.local_addr().expect("addr")
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(gateway::serve(listener, gw.clone(), async {
        let _ = stopped.await;
    }));

    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let bodies: Arc<Vec<(String, bool)>> = Arc::new({
        let mut rng = sim::run::stream(SEED, "production-loop-client");
        (0..N)
            .map(|i| {
                let stream = i % WHOLE_EVERY != 0;
                (body(scenario, &mut rng, stream), stream)
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
    let seen = load::closed_loop(N, CONCURRENCY, CLIENT_PHASE_LIMIT, send_one)
        .await
        .expect("the client did not finish within the limit");

    let attempts: u64 = mocks
        .providers
        .iter()
        .map(|p| p.stats().requests.load(Ordering::Relaxed))
        .sum();
    assert!(attempts >= N as u64, "every request reached a mock");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the gateway stops")
        .expect("no panic")
        .expect("the gateway ends cleanly");
    gw.flush_trace();
    mocks.stop().await;
    assert_eq!(seen.len(), N, "every request was sent once");
    seen
}

/// p50 and p99 of `values` (sorted in place).
fn p50_p99(values: &mut [f64]) -> (f64, f64) {
    let q = sim::fit::stats::sample_quantiles(values);
    (q[0], q[2])
}

/// The mock's own draws for the first `attempts` attempts at deployment `w` (the same order:
/// error or not, then ttft and per-token time), fitted as `fit` fits them: what the fit would
/// give with no overhead at all (the sampling error alone), as p50/p99 of ttft and per-token ms.
fn own_draws(w: &sim::world::WorldDeployment, attempts: u64) -> [(f64, f64); 2] {
    use rand::Rng as _;
    let mut rng = sim::run::stream(SEED, &format!("deployment/{}", w.id));
    let (mut ttft, mut per_token) = (
        sim::fit::stats::LogAcc::default(),
        sim::fit::stats::LogAcc::default(),
    );
    for _ in 0..attempts {
        let u: f64 = rng.random();
        let t = w.ttft.sample(&mut rng);
        if u < w.error_rate {
            continue;
        }
        ttft.add(t);
        per_token.add(w.per_token.sample(&mut rng));
    }
    [ttft, per_token].map(|a| {
        let q = a.fit().expect("draws").quantiles();
        (q[0] * 1000.0, q[2] * 1000.0)
    })
}

/// |fitted / truth − 1|.
fn off(fitted: f64, truth: f64) -> f64 {
    (fitted / truth - 1.0).abs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_trace_fitted_reproduces_the_world_and_the_client() {
    let started = Instant::now();
    let (listeners, urls) = mocks::bind(2).await;
    let text = scenario_text(&urls);
    let scenario =
        Arc::new(Scenario::parse(&text, SCENARIO, "production-loop").expect("the scenario"));
    let mut seen = serve_and_send(&scenario, listeners).await;
    let client_secs = started.elapsed().as_secs_f64();

    // fit --config: the gateway's config is the scenario file it ran.
    let dir = scratch();
    let config_path = dir.join(SCENARIO);
    std::fs::write(&config_path, &text).expect("write the config");
    let options = sim::fit::FitOptions {
        config: Some(sim::fit::GatewayConfig::load(&config_path).expect("config")),
        ..sim::fit::FitOptions::default()
    };
    let fit =
        sim::fit::fit_trace(&dir.join("trace.csv"), &options).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fit.requests, N as u64, "the trace holds every request");
    let fitted_text = fit.to_toml();
    std::fs::write(dir.join("fitted.toml"), &fitted_text).expect("write the fitted file");

    // Per deployment: fitted against the scenario's truth (modelled ms).
    let mut rng = sim::run::stream(SEED, "truth");
    let mut truth = |d: &sim::dist::Dist| {
        let mut v: Vec<f64> = (0..400_000).map(|_| d.sample(&mut rng) * 1000.0).collect();
        p50_p99(&mut v)
    };
    println!(
        "production loop: {} requests, {}× speed, client phase {client_secs:.1} s",
        N, SPEED
    );
    println!(
        "deployment   streamed  measure    p50 truth  draws      fit  p99 truth    draws      fit"
    );
    let mut checks = Vec::new();
    for (i, w) in scenario.world.deployments.iter().enumerate() {
        let d = fit
            .deployments
            .iter()
            .find(|d| d.id == w.id)
            .expect("every deployment is fitted");
        let draws = own_draws(w, d.attempts);
        for ((measure, true_dist, fitted), (d50, d99)) in [
            ("ttft", &w.ttft, d.ttft.quantiles()),
            ("per-token", &w.per_token, d.per_token.quantiles()),
        ]
        .into_iter()
        .zip(draws)
        {
            let (t50, t99) = truth(true_dist);
            let (f50, f99) = (fitted[0] * 1000.0, fitted[2] * 1000.0);
            println!(
                "{:<11}  {:>8}  {measure:<9}  {t50:>9.2}  {d50:>7.2}  {f50:>7.2}  {t99:>9.2}  {d99:>7.2}  {f99:>7.2}",
                w.id, d.streamed
            );
            checks.push((i, measure, "p50", f50, t50));
            checks.push((i, measure, "p99", f99, t99));
        }
    }

    // The fitted file simulated with the gateway's config.
    let mut fitted =
        Scenario::parse(&fitted_text, "fitted.toml", "fitted").unwrap_or_else(|e| panic!("{e}"));
    fitted.settings.max_requests = Some(SIMULATED);
    fitted.settings.duration = Duration::from_secs(365 * 86_400);
    let sim = sim::run(
        &fitted,
        sim::RunOptions {
            strategy: None,
            seed: SEED,
            trace: None,
            progress: None,
        },
    );
    let sim_quantile = |q: f64| sim.latency.value_at_quantile(q) as f64 / 1000.0;
    let (sim50, sim99) = (sim_quantile(0.5), sim_quantile(0.99));
    let mut ok_latencies: Vec<f64> = seen
        .iter_mut()
        .filter(|s| s.ok)
        .map(|s| s.latency * 1000.0)
        .collect();
    let client_success = ok_latencies.len() as f64 / N as f64;
    let (c50, c99) = p50_p99(&mut ok_latencies);
    let sim_success = sim.summary.successes as f64 / sim.summary.requests.max(1) as f64;
    println!("request latency (ms)  p50 client {c50:.0} / fitted {sim50:.0}  p99 client {c99:.0} / fitted {sim99:.0}");
    println!(
        "success  client {:.2} % / fitted {:.2} %",
        client_success * 100.0,
        sim_success * 100.0
    );

    // Shares of attempts: the gateway's (its trace) against the fitted world's.
    let total_sim: u64 = sim.deployments.iter().map(|d| d.attempts).sum();
    let total_real: u64 = fit.deployments.iter().map(|d| d.attempts).sum();
    let mut shares = Vec::new();
    for d in &fit.deployments {
        let s = sim
            .deployments
            .iter()
            .find(|s| s.deployment == d.id)
            .map_or(0, |s| s.attempts);
        let (real, simulated) = (
            d.attempts as f64 / total_real.max(1) as f64,
            s as f64 / total_sim.max(1) as f64,
        );
        println!(
            "share {:<11}  gateway {:.2} % / fitted {:.2} %",
            d.id,
            real * 100.0,
            simulated * 100.0
        );
        shares.push((d.id.clone(), real, simulated));
    }
    println!("wall time {:.1} s", started.elapsed().as_secs_f64());

    for (i, measure, q, f, t) in checks {
        assert!(
            off(f, t) <= 0.10,
            "{}: fitted {measure} {q} {f:.2} ms vs truth {t:.2} ms",
            scenario.world.deployments[i].id
        );
    }
    assert!(
        off(sim50, c50) <= 0.10,
        "request p50 fitted {sim50:.0} vs client {c50:.0} ms"
    );
    assert!(
        off(sim99, c99) <= 0.10,
        "request p99 fitted {sim99:.0} vs client {c99:.0} ms"
    );
    for (id, real, simulated) in shares {
        assert!(
            (real - simulated).abs() <= 0.03,
            "{id}: share gateway {real:.4} vs fitted {simulated:.4}"
        );
    }
    assert!(
        (client_success - sim_success).abs() <= 0.01,
        "success client {client_success:.4} vs fitted {sim_success:.4}"
    );
}
