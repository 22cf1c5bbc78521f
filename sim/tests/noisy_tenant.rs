//! The claim of `scenarios/noisy-tenant.toml`, over several seeds: the noisy tenant is capped
//! by its own client limits (it is the one refused), and the quiet tenants keep the success
//! rate and latency they have without it. Without its limits they would not: about 70 %.

use std::path::Path;

use engine::ClientId;
use sim::clients::ClientRow;
use sim::workload::MixEntry;
use sim::{RunOptions, Scenario};

const SEEDS: u64 = 4;
const QUIET: [&str; 2] = ["web-app", "mobile"];
const NOISY: &str = "batch-etl";

fn shipped() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/noisy-tenant.toml");
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The same scenario without the noisy tenant's traffic: its mix share removed and the
/// Poisson rate thinned to match, so the quiet tenants' arrivals are distributed as before.
fn without_noisy(mut s: Scenario) -> Scenario {
    let noisy = s.config.client_by_name(NOISY);
    let mut kept: Vec<(MixEntry, f64)> = Vec::new();
    let mut before = 0.0;
    for m in &s.workload.mix {
        let share = m.cumulative - before;
        before = m.cumulative;
        if m.client != noisy {
            kept.push((m.clone(), share));
        }
    }
    let total: f64 = kept.iter().map(|(_, share)| share).sum();
    let mut cumulative = 0.0;
    s.workload.mix = kept
        .into_iter()
        .map(|(mut m, share)| {
            cumulative += share / total;
            m.cumulative = cumulative;
            m
        })
        .collect();
    if let Some(last) = s.workload.mix.last_mut() {
        last.cumulative = 1.0;
    }
    match &mut s.workload.arrivals {
        sim::scenario::raw::ArrivalSpec::Poisson { rate } => *rate *= total,
        other => panic!("the scenario's arrivals are Poisson, not {other:?}"),
    }
    s
}

/// Per seed, the rows of every client.
fn runs(s: &Scenario) -> Vec<Vec<ClientRow>> {
    (0..SEEDS)
        .map(|i| {
            let options = RunOptions {
                strategy: None,
                seed: s.settings.seed + i,
                trace: None,
                progress: None,
            };
            sim::run(s, options).clients
        })
        .collect()
}

fn row<'a>(rows: &'a [ClientRow], client: &str) -> &'a ClientRow {
    rows.iter()
        .find(|r| r.client == client)
        .expect("client row")
}

#[test]
fn the_noisy_tenant_is_capped_and_the_quiet_ones_keep_their_service() {
    let s = shipped();
    let with = runs(&s);
    let alone = runs(&without_noisy(s.clone()));
    for (seed, (with, alone)) in with.iter().zip(&alone).enumerate() {
        let noisy = row(with, NOISY);
        // Refused by its own limits: its rpm all run long, then its budget.
        assert!(noisy.refused_rpm > 1000, "seed {seed}: {noisy:?}");
        assert!(noisy.refused_usd_per_day > 0, "seed {seed}: {noisy:?}");
        assert!(noisy.success_rate < 0.5, "seed {seed}: {noisy:?}");
        assert!(noisy.spend_usd <= 0.25, "seed {seed}: {noisy:?}");
        for q in QUIET {
            let (w, a) = (row(with, q), row(alone, q));
            assert_eq!(w.refused, 0, "seed {seed}: {w:?}");
            assert!(
                w.success_rate >= a.success_rate - 0.005,
                "seed {seed}: {q} {:.4} with the noisy tenant, {:.4} without",
                w.success_rate,
                a.success_rate
            );
            assert!(w.success_rate >= 0.99, "seed {seed}: {w:?}");
            assert!(
                w.latency_p99_ms <= a.latency_p99_ms * 1.25,
                "seed {seed}: {q} p99 {:.0} ms with the noisy tenant, {:.0} without",
                w.latency_p99_ms,
                a.latency_p99_ms
            );
        }
    }
}

#[test]
fn without_its_limits_the_noisy_tenant_takes_the_quiet_ones_down() {
    let mut s = shipped();
    let noisy = s.config.client_by_name(NOISY).map(ClientId::index);
    let c = &mut s.config.clients[noisy.expect("noisy client")];
    c.limits.rpm = None;
    c.usd_per_day = None;
    for (seed, rows) in runs(&s).iter().enumerate() {
        assert_eq!(row(rows, NOISY).refused, 0);
        for q in QUIET {
            let r = row(rows, q);
            assert!(r.success_rate < 0.8, "seed {seed}: {r:?}");
        }
    }
}

#[test]
fn an_unknown_client_in_the_mix_names_its_field_and_line() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/noisy-tenant.toml");
    let text = std::fs::read_to_string(path).expect("scenario");
    let bad = text.replace("client = \"batch-etl\"", "client = \"batch\"");
    let e = Scenario::parse(&bad, "noisy.toml", "noisy").expect_err("unknown client");
    assert_eq!(e.field.as_deref(), Some("workload.mix[2].client"), "{e}");
    assert!(e.message.contains("\"batch\""), "{e}");
    assert!(e.line.is_some(), "{e}");
    // A bad budget is the gateway config's error, with its line.
    let bad = text.replace("usd_per_day = 0.25", "usd_per_day = -1");
    let e = Scenario::parse(&bad, "noisy.toml", "noisy").expect_err("negative budget");
    assert!(e.to_string().contains("client[2].usd_per_day"), "{e}");
    assert!(e.line.is_some(), "{e}");
}

#[test]
fn refused_requests_are_counted_as_failures_of_the_run() {
    let s = shipped();
    let r = sim::run(
        &s,
        RunOptions {
            strategy: None,
            seed: s.settings.seed,
            trace: None,
            progress: None,
        },
    );
    let sum = &r.summary;
    assert_eq!(
        sum.requests,
        sum.successes + sum.failures + sum.in_flight_at_end,
        "{sum:?}"
    );
    let per_client: u64 = r.clients.iter().map(|c| c.requests).sum();
    assert_eq!(per_client, sum.requests);
    let refused: u64 = r.clients.iter().map(|c| c.refused).sum();
    assert!(refused > 0 && sum.failures >= refused, "{sum:?}");
}

/// Every trace row names the `[[client]]` that sent the request, as the gateway's trace does.
#[test]
fn the_trace_names_each_requests_client() {
    struct Rows(Vec<sim::trace::TraceRow>);
    impl sim::trace::TraceSink for Rows {
        fn attempt(&mut self, row: &sim::trace::TraceRow) {
            self.0.push(row.clone());
        }
    }
    let s = shipped();
    let mut rows = Rows(Vec::new());
    sim::run(
        &s,
        RunOptions {
            strategy: None,
            seed: s.settings.seed,
            trace: Some(&mut rows),
            progress: None,
        },
    );
    let names: std::collections::BTreeSet<&str> =
        rows.0.iter().map(|r| r.client.as_str()).collect();
    let expected: std::collections::BTreeSet<&str> =
        s.config.clients.iter().map(|c| c.name.as_str()).collect();
    assert!(!rows.0.is_empty());
    assert_eq!(
        names, expected,
        "every row has its client, every client has rows"
    );
}
