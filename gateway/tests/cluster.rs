//! Replicas sharing limits through a real `redis-server` (`[cluster]`): three gateways in front
//! of one upstream spend one key's limit between them (without the exchange, three times it);
//! a 429 with `retry-after` seen by one cools the deployment on the others within two sync
//! intervals; Redis stopped mid-run fails no request and each replica falls back to its share;
//! Redis back, they rejoin.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::RedisServer;
use common::*;
use http::StatusCode;
use mock::{Behaviour, MockUpstream};

const NAMES: [&str; 3] = ["a", "b", "c"];

fn cluster_table(redis: &RedisServer, prefix: &str, name: &str, interval: &str) -> String {
    format!(
        "[cluster]\nredis_url = \"{}\"\nsync_interval = \"{interval}\"\nreplicas = 3\n\
         replica = \"{name}\"\nkey_prefix = \"{prefix}\"\n",
        redis.url()
    )
}

const NO_WAIT: &str = "[retry]\nmax_wait = \"0s\"\nmax_attempts = 1\n";

async fn fleet(configs: Vec<String>) -> Vec<TestGateway> {
    let mut out = Vec::new();
    for toml in configs {
        out.push(TestGateway::start(&toml).await);
    }
    out
}

/// Waits until every gateway says it exchanges with a fleet of `n`.
async fn joined(gws: &[TestGateway], n: f64) -> bool {
    for gw in gws {
        let ok = eventually(Duration::from_secs(10), || async {
            let m = gw.metrics().await;
            metric(&m, "switchyard_cluster_connected") == Some(1.0)
                && metric(&m, "switchyard_cluster_replicas") == Some(n)
        })
        .await;
        if !ok {
            return false;
        }
    }
    true
}

/// Sends `per_second` requests a second, spread round robin over the gateways, for `secs`
/// seconds without waiting for answers; returns (answered 200, answered otherwise).
async fn load(gws: &[TestGateway], per_second: u64, secs: u64) -> (u64, u64) {
    let ok = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let gap = Duration::from_secs(1) / per_second as u32;
    let mut ticker = tokio::time::interval(gap);
    for i in 0..per_second * secs {
        ticker.tick().await;
        let url = gws[i as usize % gws.len()].url("/v1/chat/completions");
        let (ok, refused) = (ok.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            let (status, _, _) = post(&url, chat("gpt-4o-mini")).await;
            let counter = if status == StatusCode::OK {
                &ok
            } else {
                &refused
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("every request is answered")
            .expect("no panic");
    }
    (ok.load(Ordering::Relaxed), refused.load(Ordering::Relaxed))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_spend_one_key_limit_between_them() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let up = MockUpstream::start(Behaviour::default())
        .await
        .expect("mock");
    // 300 requests a minute (5 a second, a burst of 300): over 12 s the key takes at most
    // 300 + 60 = 360. The load is 100 a second, 400 per replica.
    let dep = Dep {
        extra: "rpm = 300",
        ..Dep::plain("key1", up.base_url())
    };
    let configs = NAMES
        .iter()
        .map(|n| {
            config(
                std::slice::from_ref(&dep),
                &format!("{NO_WAIT}{}", cluster_table(&redis, "share", n, "50ms")),
            )
        })
        .collect();
    let gws = fleet(configs).await;
    assert!(joined(&gws, 3.0).await, "the three replicas see each other");
    let before = up.hits();
    let (ok, refused) = load(&gws, 100, 12).await;
    let sent = up.hits() - before;
    eprintln!("with [cluster]: {sent} sent to the key, {ok} answered, {refused} refused");
    assert!(
        sent as f64 <= 360.0 * 1.02,
        "the fleet overspent: {sent} > 360 + 2 %"
    );
    assert!(sent >= 330, "the fleet left the limit unused: {sent}");
    assert_eq!(ok, sent, "everything sent was answered");

    // The same fleet without the exchange: each replica spends the whole limit.
    let alone: Vec<String> = NAMES
        .iter()
        .map(|_| config(std::slice::from_ref(&dep), NO_WAIT))
        .collect();
    let gws = fleet(alone).await;
    let before = up.hits();
    load(&gws, 100, 12).await;
    let sent = up.hits() - before;
    eprintln!("without [cluster]: {sent} sent to the key");
    assert!(
        sent >= 3 * 340,
        "three replicas alone spend ≈ 3× the limit: {sent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_one_replica_cools_the_deployment_on_all() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let limited = MockUpstream::start(Behaviour::rate_limited("30"))
        .await
        .expect("mock");
    let healthy = MockUpstream::start(Behaviour::default())
        .await
        .expect("mock");
    // Replica a reaches key1 through the upstream that answers 429; b and c through a healthy
    // one (the same key, seen from elsewhere). key2 is the way around.
    let interval = Duration::from_millis(200);
    let configs = NAMES
        .iter()
        .map(|n| {
            let key1 = if *n == "a" {
                limited.base_url()
            } else {
                healthy.base_url()
            };
            config(
                &[
                    Dep {
                        weight: 1000.0,
                        ..Dep::plain("key1", key1)
                    },
                    Dep::plain("key2", healthy.base_url()),
                ],
                &format!("{NO_WAIT}{}", cluster_table(&redis, "cool", n, "200ms")),
            )
        })
        .collect();
    let gws = fleet(configs).await;
    assert!(joined(&gws, 3.0).await);
    let (status, headers, _) = post(&gws[0].url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    let seen = Instant::now();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{headers:?}");
    let cooled = |gw: &TestGateway| {
        let now = gw.gateway.now();
        gw.gateway
            .with_engine(|e| e.states()[0].cooldown_until > now)
    };
    let mut all = false;
    while seen.elapsed() < Duration::from_secs(3) {
        if gws.iter().all(cooled) {
            all = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = seen.elapsed();
    assert!(all, "the cooldown reached every replica");
    eprintln!("cooldown reached every replica {took:?} after the 429");
    // Two intervals, and 100 ms for the scheduler and the round trips of a busy machine.
    assert!(
        took <= interval * 2 + Duration::from_millis(100),
        "{took:?}"
    );
    let hits = healthy.hits();
    let (status, headers, _) = post(&gws[1].url("/v1/chat/completions"), chat("gpt-4o-mini")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[gateway::DEPLOYMENT_HEADER],
        "key2",
        "key1 cools down on b too"
    );
    assert_eq!(healthy.hits(), hits + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_gone_fails_nothing_and_back_the_replicas_rejoin() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let up = MockUpstream::start(Behaviour::default())
        .await
        .expect("mock");
    let dep = Dep {
        extra: "rpm = 6000",
        ..Dep::plain("key1", up.base_url())
    };
    let configs = NAMES
        .iter()
        .map(|n| {
            config(
                std::slice::from_ref(&dep),
                &cluster_table(&redis, "outage", n, "50ms"),
            )
        })
        .collect();
    let gws = fleet(configs).await;
    assert!(joined(&gws, 3.0).await);
    let (ok, refused) = load(&gws, 40, 2).await;
    assert_eq!((ok, refused), (80, 0));

    redis.stop();
    let (ok, refused) = load(&gws, 40, 3).await;
    assert_eq!(
        (ok, refused),
        (120, 0),
        "no request fails because Redis is down"
    );
    for gw in &gws {
        let m = gw.metrics().await;
        assert_eq!(metric(&m, "switchyard_cluster_connected"), Some(0.0), "{m}");
        assert!(metric(&m, "switchyard_cluster_exchanges_total{result=\"error\"}") >= Some(1.0));
        let share = gw.gateway.with_engine(|e| e.states()[0].rpm.share());
        assert!(
            (share - 1.0 / 3.0).abs() < 1e-9,
            "limit ÷ replicas while cut off: {share}"
        );
    }

    let _redis = RedisServer::start_on(redis.port).expect("redis restarts");
    assert!(
        joined(&gws, 3.0).await,
        "back in the fleet after Redis returns"
    );
    let share = gws[0].gateway.with_engine(|e| e.fleet_share());
    assert!((share - 1.0 / 3.0).abs() < 1e-9, "{share}");
    let (ok, refused) = load(&gws, 40, 1).await;
    assert_eq!((ok, refused), (40, 0));
}

#[test]
fn check_names_a_bad_cluster_table() {
    for (table, field) in [
        ("[cluster]\nredis_url = \"http://x\"\n", "cluster.redis_url"),
        (
            "[cluster]\nredis_url = \"redis://x\"\nsync_interval = \"0s\"\n",
            "cluster.sync_interval",
        ),
    ] {
        let toml = config(&[Dep::plain("key1", "http://127.0.0.1:1/v1".into())], table);
        let e = engine::Config::from_toml(&toml)
            .expect_err(table)
            .to_string();
        assert!(e.contains(field), "{e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clients_rpm_holds_for_the_whole_fleet() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let up = MockUpstream::start(Behaviour::default())
        .await
        .expect("mock");
    let client = "[[client]]\nname = \"team\"\nkey_env = \"TEAM_KEY\"\nrpm = 6\n";
    let mut gws = Vec::new();
    for n in NAMES {
        let toml = config(
            &[Dep::plain("key1", up.base_url())],
            &format!("{client}{}", cluster_table(&redis, "tenants", n, "50ms")),
        );
        let gw = TestGateway::start_with(&toml, gateway::Settings::default(), |name| {
            (name == "TEAM_KEY").then(|| "team-secret".to_owned())
        })
        .await;
        gws.push(gw);
    }
    assert!(joined(&gws, 3.0).await);
    // Ten exchanges each: every replica has seen every other's record.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Twelve requests, round robin, each 200 ms after the last (four exchanges between two).
    let mut statuses = Vec::new();
    for i in 0..12 {
        let (status, _, body) = post_with(
            &gws[i % 3].url("/v1/chat/completions"),
            chat("gpt-4o-mini"),
            &[("authorization", "Bearer team-secret")],
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(error_of(&body)["code"], "client_rate_limit_exceeded");
        }
        statuses.push(status.as_u16());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ok = statuses.iter().filter(|&&s| s == 200).count();
    // 6 a minute for the team across the fleet (alone, each replica would take 6: 12 in all).
    assert_eq!(ok, 6, "{statuses:?}");
    assert_eq!(up.hits(), 6);
}
