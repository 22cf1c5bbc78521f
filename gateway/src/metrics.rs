//! `GET /metrics`: the engine's counters in the Prometheus text format (version 0.0.4),
//! hand-written from [`engine::Engine::snapshot`] and the raw histograms.
//!
//! The engine is locked only to copy the numbers; formatting happens after the lock is released.
//! Labels carry deployment ids, tier names and client names only — never URLs or keys.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use engine::metrics::Snapshot;
use hdrhistogram::Histogram;

use crate::state::Shared;

/// Upper bounds (seconds) of the latency histogram buckets.
pub const BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// A histogram reduced to Prometheus buckets.
struct Buckets {
    cumulative: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

impl Buckets {
    /// One pass over the recorded values (microseconds).
    fn of(h: &Histogram<u64>) -> Buckets {
        let mut per_bucket = [0u64; BUCKETS.len()];
        let mut sum_micros = 0f64;
        for v in h.iter_recorded() {
            let value = h.lowest_equivalent(v.value_iterated_to());
            let n = v.count_at_value();
            sum_micros += h.median_equivalent(v.value_iterated_to()) as f64 * n as f64;
            let seconds = value as f64 / 1e6;
            if let Some(i) = BUCKETS.iter().position(|&le| seconds <= le) {
                per_bucket[i] += n;
            }
        }
        let mut cumulative = [0u64; BUCKETS.len()];
        let mut running = 0;
        for (c, n) in cumulative.iter_mut().zip(per_bucket) {
            running += n;
            *c = running;
        }
        Buckets {
            cumulative,
            count: h.len(),
            sum_seconds: sum_micros / 1e6,
        }
    }
}

struct Copied {
    snapshot: Snapshot,
    latency: Vec<Histogram<u64>>,
    ttft: Vec<Histogram<u64>>,
    cancelled: Vec<u64>,
    tier_latency: Vec<Histogram<u64>>,
    ready: bool,
    live: usize,
    /// `[[client]]` names and counters.
    clients: (Vec<String>, Vec<engine::clients::ClientState>),
    hedges: engine::HedgeStats,
}

/// Renders the whole `/metrics` page.
pub(crate) fn render(gw: &Shared) -> String {
    let now = gw.now();
    let c = {
        let engine = gw.lock();
        let m = engine.metrics();
        Copied {
            snapshot: engine.snapshot(now),
            latency: m.deployments.iter().map(|d| d.latency.clone()).collect(),
            ttft: m.deployments.iter().map(|d| d.ttft.clone()).collect(),
            cancelled: m.deployments.iter().map(|d| d.cancelled).collect(),
            tier_latency: m.tiers.iter().map(|t| t.latency.clone()).collect(),
            ready: engine.any_usable(now),
            live: engine.live_requests(),
            clients: (
                engine
                    .config()
                    .clients
                    .iter()
                    .map(|c| c.name.clone())
                    .collect(),
                engine.client_states().to_vec(),
            ),
            hedges: engine.hedge_stats(),
        }
    };
    // Copied under the lock, reduced to buckets after it.
    let bucketed = |hs: &[Histogram<u64>]| hs.iter().map(Buckets::of).collect::<Vec<_>>();
    let (latency, ttft, tier_latency) = (
        bucketed(&c.latency),
        bucketed(&c.ttft),
        bucketed(&c.tier_latency),
    );
    let mut out = String::with_capacity(8192 + 4096 * c.snapshot.deployments.len());
    let s = &c.snapshot;
    let labels: Vec<String> = s
        .deployments
        .iter()
        .map(|d| {
            format!(
                "deployment=\"{}\",tier=\"{}\"",
                escape(&d.id),
                escape(&d.tier)
            )
        })
        .collect();

    let mut per_deployment = |name: &str, kind: &str, help: &str, value: &dyn Fn(usize) -> f64| {
        header(&mut out, name, kind, help);
        for (i, l) in labels.iter().enumerate() {
            let _ = writeln!(out, "{name}{{{l}}} {}", num(value(i)));
        }
    };
    let d = &s.deployments;
    per_deployment(
        "switchyard_deployment_attempts_total",
        "counter",
        "Attempts sent to the deployment.",
        &|i| d[i].attempts as f64,
    );
    per_deployment(
        "switchyard_deployment_successes_total",
        "counter",
        "Attempts that succeeded.",
        &|i| d[i].successes as f64,
    );
    per_deployment(
        "switchyard_deployment_rate_limit_hits_total",
        "counter",
        "429 answers received.",
        &|i| d[i].rate_limited as f64,
    );
    per_deployment(
        "switchyard_deployment_retries_total",
        "counter",
        "Attempts that retried an earlier failed attempt of the same request.",
        &|i| d[i].retries as f64,
    );
    per_deployment(
        "switchyard_deployment_fallbacks_total",
        "counter",
        "Attempts that arrived by fallback from another tier.",
        &|i| d[i].fallbacks as f64,
    );
    per_deployment(
        "switchyard_deployment_cancelled_total",
        "counter",
        "Attempts abandoned because the client went away.",
        &|i| c.cancelled[i] as f64,
    );
    per_deployment(
        "switchyard_deployment_ejections_total",
        "counter",
        "Times the circuit breaker opened.",
        &|i| d[i].ejections as f64,
    );
    per_deployment(
        "switchyard_deployment_in_flight",
        "gauge",
        "Attempts in flight now.",
        &|i| f64::from(d[i].in_flight),
    );
    per_deployment(
        "switchyard_deployment_cost_total",
        "counter",
        "Cost of what the deployment served (config prices per million tokens).",
        &|i| d[i].cost,
    );
    per_deployment(
        "switchyard_deployment_configured_share",
        "gauge",
        "Weight divided by the tier's total weight.",
        &|i| d[i].configured_share,
    );
    per_deployment(
        "switchyard_deployment_actual_share",
        "gauge",
        "Attempts divided by the tier's total attempts.",
        &|i| d[i].actual_share,
    );
    per_deployment(
        "switchyard_deployment_cooling_down",
        "gauge",
        "1 while the deployment cools down after a 429.",
        &|i| f64::from(u8::from(d[i].cooling_down)),
    );
    per_deployment(
        "switchyard_deployment_breaker_open",
        "gauge",
        "1 while the circuit breaker is open or half-open.",
        &|i| f64::from(u8::from(d[i].breaker_open)),
    );
    per_deployment(
        "switchyard_deployment_disabled",
        "gauge",
        "1 once the provider refused the deployment's key (401/402/403): out of rotation until reload.",
        &|i| f64::from(u8::from(d[i].disabled)),
    );

    header(
        &mut out,
        "switchyard_deployment_failures_total",
        "counter",
        "Failed attempts by kind.",
    );
    for (dep, l) in d.iter().zip(&labels) {
        for (kind, v) in [
            ("rate_limited", dep.rate_limited),
            ("server_error", dep.server_errors),
            ("timeout", dep.timeouts),
            ("connection", dep.connection_errors),
            ("client_error", dep.client_errors),
            ("auth", dep.auth_failures),
        ] {
            let _ = writeln!(
                out,
                "switchyard_deployment_failures_total{{{l},kind=\"{kind}\"}} {v}"
            );
        }
    }
    header(
        &mut out,
        "switchyard_deployment_tokens_total",
        "counter",
        "Tokens served (provider usage, or the gateway's estimate when none).",
    );
    for (dep, l) in d.iter().zip(&labels) {
        let _ = writeln!(
            out,
            "switchyard_deployment_tokens_total{{{l},direction=\"input\"}} {}",
            dep.input_tokens
        );
        let _ = writeln!(
            out,
            "switchyard_deployment_tokens_total{{{l},direction=\"output\"}} {}",
            dep.output_tokens
        );
    }
    header(
        &mut out,
        "switchyard_deployment_limit_utilisation",
        "gauge",
        "Fraction of each configured limit in use now (0 when not configured).",
    );
    for (dep, l) in d.iter().zip(&labels) {
        let u = dep.utilisation;
        for (limit, v) in [("rpm", u.rpm), ("tpm", u.tpm), ("rpd", u.rpd)] {
            let _ = writeln!(
                out,
                "switchyard_deployment_limit_utilisation{{{l},limit=\"{limit}\"}} {}",
                num(v)
            );
        }
    }
    histogram(
        &mut out,
        "switchyard_deployment_latency_seconds",
        "Attempt latency of successful attempts.",
        &labels,
        &latency,
    );
    histogram(
        &mut out,
        "switchyard_deployment_ttft_seconds",
        "Time to first byte of successful attempts.",
        &labels,
        &ttft,
    );

    let tier_labels: Vec<String> = s
        .tiers
        .iter()
        .map(|t| {
            format!(
                "tier=\"{}\",strategy=\"{}\"",
                escape(&t.name),
                escape(&t.strategy)
            )
        })
        .collect();
    for (name, help, value) in [
        (
            "switchyard_tier_requests_total",
            "Requests routed to the tier.",
            (|t: &engine::metrics::TierSnapshot| t.requests) as fn(&_) -> u64,
        ),
        (
            "switchyard_tier_successes_total",
            "Requests answered successfully.",
            |t| t.successes,
        ),
        (
            "switchyard_tier_failures_total",
            "Requests that failed.",
            |t| t.failures,
        ),
        (
            "switchyard_tier_fell_back_total",
            "Requests that needed a fallback tier.",
            |t| t.fell_back,
        ),
    ] {
        header(&mut out, name, "counter", help);
        for (t, l) in s.tiers.iter().zip(&tier_labels) {
            let _ = writeln!(out, "{name}{{{l}}} {}", value(t));
        }
    }
    histogram(
        &mut out,
        "switchyard_tier_latency_seconds",
        "End-to-end latency of successful requests (all attempts and waits).",
        &tier_labels,
        &tier_latency,
    );

    let t = &s.totals;
    header(
        &mut out,
        "switchyard_requests_total",
        "counter",
        "Requests by how they ended.",
    );
    for (result, v) in [
        ("started", t.started),
        ("succeeded", t.succeeded),
        ("failed_client", t.failed_client),
        ("failed_not_retried", t.failed_not_retried),
        ("failed_attempts_exhausted", t.failed_attempts_exhausted),
        ("failed_no_capacity", t.failed_no_capacity),
        ("failed_deadline", t.failed_deadline),
        ("failed_all_disabled", t.failed_all_disabled),
        ("cancelled", t.cancelled),
    ] {
        let _ = writeln!(out, "switchyard_requests_total{{result=\"{result}\"}} {v}");
    }
    header(
        &mut out,
        "switchyard_waits_total",
        "counter",
        "Times a request waited for headroom or a cooldown.",
    );
    let _ = writeln!(out, "switchyard_waits_total {}", t.waits);
    header(
        &mut out,
        "switchyard_requests_in_flight",
        "gauge",
        "Requests started in the engine and not yet ended.",
    );
    let _ = writeln!(out, "switchyard_requests_in_flight {}", c.live);
    header(
        &mut out,
        "switchyard_ready",
        "gauge",
        "1 when at least one deployment is usable.",
    );
    let _ = writeln!(out, "switchyard_ready {}", u8::from(c.ready));

    header(
        &mut out,
        "switchyard_http_responses_total",
        "counter",
        "Responses the gateway gave its clients, by status class.",
    );
    for class in 1..=5 {
        let v = gw.http.by_class[class].load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "switchyard_http_responses_total{{class=\"{class}xx\"}} {v}"
        );
    }
    header(
        &mut out,
        "switchyard_http_in_flight",
        "gauge",
        "Client requests being handled now (until their response body, a stream included, ends).",
    );
    let _ = writeln!(
        out,
        "switchyard_http_in_flight {}",
        gw.http.in_flight.load(Ordering::Relaxed)
    );
    header(
        &mut out,
        "switchyard_http_connections",
        "gauge",
        "Client connections open now (at most --max-connections).",
    );
    let _ = writeln!(
        out,
        "switchyard_http_connections {}",
        gw.http.connections.load(Ordering::Relaxed)
    );
    header(
        &mut out,
        "switchyard_config_reloads_total",
        "counter",
        "Config reloads (SIGHUP, POST /admin/reload) by result; an error keeps the running config.",
    );
    for (result, n) in [("ok", &gw.reloads.ok), ("error", &gw.reloads.error)] {
        let _ = writeln!(
            out,
            "switchyard_config_reloads_total{{result=\"{result}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    if gw.cluster_status.started.load(Ordering::Relaxed) {
        cluster(&mut out, &gw.cluster_status);
    }
    crate::clients::render_metrics(&mut out, &c.clients.0, &c.clients.1);
    crate::hedge::render_metrics(&mut out, &c.hedges);
    out
}

/// The fleet exchange's gauges and counters (only with `[cluster]`).
fn cluster(out: &mut String, c: &crate::cluster::ClusterStatus) {
    header(
        out,
        "switchyard_cluster_connected",
        "gauge",
        "1 while the last exchange with the fleet's store succeeded; 0: serving on local counts at limit ÷ replicas.",
    );
    let _ = writeln!(
        out,
        "switchyard_cluster_connected {}",
        u8::from(c.connected.load(Ordering::Relaxed))
    );
    header(
        out,
        "switchyard_cluster_replicas",
        "gauge",
        "Replicas this one shares every limit with, itself included.",
    );
    let _ = writeln!(
        out,
        "switchyard_cluster_replicas {}",
        c.replicas.load(Ordering::Relaxed)
    );
    header(
        out,
        "switchyard_cluster_exchanges_total",
        "counter",
        "Exchanges with the fleet's store by result.",
    );
    for (result, n) in [("ok", &c.exchanges_ok), ("error", &c.exchanges_failed)] {
        let _ = writeln!(
            out,
            "switchyard_cluster_exchanges_total{{result=\"{result}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    header(
        out,
        "switchyard_cluster_fields_dropped_total",
        "counter",
        "Fields of other replicas' records dropped as malformed.",
    );
    let _ = writeln!(
        out,
        "switchyard_cluster_fields_dropped_total {}",
        c.fields_dropped.load(Ordering::Relaxed)
    );
}

pub(crate) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, help: &str, labels: &[String], hs: &[Buckets]) {
    header(out, name, "histogram", help);
    for (l, h) in labels.iter().zip(hs) {
        for (le, c) in BUCKETS.iter().zip(h.cumulative) {
            let _ = writeln!(out, "{name}_bucket{{{l},le=\"{le}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{{l},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{{l}}} {}", num(h.sum_seconds));
        let _ = writeln!(out, "{name}_count{{{l}}} {}", h.count);
    }
}

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else if v.is_nan() {
        "NaN".into()
    } else if v > 0.0 {
        "+Inf".into()
    } else {
        "-Inf".into()
    }
}

/// Escapes a label value (backslash, quote, newline).
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains(['\\', '"', '\n']) {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let mut h = engine::metrics::new_histogram();
        for micros in [1000, 1000, 1000, 20_000, 2_000_000] {
            h.record(micros).unwrap();
        }
        let b = Buckets::of(&h);
        assert_eq!(b.count, 5);
        let at = |le: f64| b.cumulative[BUCKETS.iter().position(|&x| x == le).unwrap()];
        assert_eq!(
            (at(0.005), at(0.01), at(0.025), at(1.0), at(2.5), at(300.0)),
            (3, 3, 4, 4, 5, 5)
        );
        assert!((b.sum_seconds - 2.023).abs() < 0.03, "{}", b.sum_seconds);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
        assert_eq!(escape("plain"), "plain");
    }
}
