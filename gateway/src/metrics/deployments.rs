//! The per-deployment series: counters, gauges, failures by kind, tokens, limit utilisation and
//! the latency and time-to-first-byte histograms, labelled by deployment and tier.

use std::fmt::Write as _;

use engine::metrics::DeploymentSnapshot;
use hdrhistogram::Histogram;

use super::histogram::{histogram, Buckets};
use super::{escape, header, num};

/// Writes every `switchyard_deployment_*` series; `cancelled`, `latency` and `ttft` are indexed
/// like `d`.
pub(super) fn render(
    out: &mut String,
    d: &[DeploymentSnapshot],
    cancelled: &[u64],
    latency: &[Histogram<u64>],
    ttft: &[Histogram<u64>],
) {
    let labels: Vec<String> = d
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
        header(out, name, kind, help);
        for (i, l) in labels.iter().enumerate() {
            let _ = writeln!(out, "{name}{{{l}}} {}", num(value(i)));
        }
    };
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
        &|i| cancelled[i] as f64,
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
        out,
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
        out,
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
        out,
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
        out,
        "switchyard_deployment_latency_seconds",
        "Attempt latency of successful attempts.",
        &labels,
        &Buckets::all(latency),
    );
    histogram(
        out,
        "switchyard_deployment_ttft_seconds",
        "Time to first byte of successful attempts.",
        &labels,
        &Buckets::all(ttft),
    );
}
