//! The simulator and the gateway agree: per-deployment traffic shares within 3 percentage
//! points and success rates within 1 point, cross-checked against the mocks and the answers'
//! `x-switchyard-deployment` headers; then the production loop on the gateway's trace.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sim::Scenario;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::client::*;
use crate::fitted::fitted_against_truth;
use crate::load;
use crate::mocks::{self, Mocks};
use crate::support::*;

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
