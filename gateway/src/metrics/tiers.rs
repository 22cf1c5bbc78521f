//! The per-tier series: requests, successes, failures, fallbacks and end-to-end latency,
//! labelled by tier and strategy.

use std::fmt::Write as _;

use engine::metrics::TierSnapshot;
use hdrhistogram::Histogram;

use super::histogram::{histogram, Buckets};
use super::{escape, header};

/// Writes every `switchyard_tier_*` series; `latency` is indexed like `tiers`.
pub(super) fn render(out: &mut String, tiers: &[TierSnapshot], latency: &[Histogram<u64>]) {
    let tier_labels: Vec<String> = tiers
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
            (|t: &TierSnapshot| t.requests) as fn(&_) -> u64,
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
        header(out, name, "counter", help);
        for (t, l) in tiers.iter().zip(&tier_labels) {
            let _ = writeln!(out, "{name}{{{l}}} {}", value(t));
        }
    }
    histogram(
        out,
        "switchyard_tier_latency_seconds",
        "End-to-end latency of successful requests (all attempts and waits).",
        &tier_labels,
        &Buckets::all(latency),
    );
}
