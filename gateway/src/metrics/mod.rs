//! `GET /metrics`: the engine's counters in the Prometheus text format (version 0.0.4),
//! hand-written from [`engine::Engine::snapshot`] and the raw histograms.
//!
//! The engine is locked only to copy the numbers; formatting happens after the lock is released.
//! Labels carry deployment ids, tier names and client names only — never URLs or keys.

mod cluster;
mod deployments;
mod gateway;
mod histogram;
mod tiers;

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use engine::metrics::Snapshot;
use hdrhistogram::Histogram;

use crate::state::Shared;

/// The numbers of one page, copied under the engine's lock.
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
    // Copied under the lock, formatted after it.
    let mut out = String::with_capacity(8192 + 4096 * c.snapshot.deployments.len());
    let s = &c.snapshot;
    deployments::render(&mut out, &s.deployments, &c.cancelled, &c.latency, &c.ttft);
    tiers::render(&mut out, &s.tiers, &c.tier_latency);
    gateway::render(&mut out, &s.totals, c.live, c.ready, gw);
    if gw.cluster_status.started.load(Ordering::Relaxed) {
        cluster::render(&mut out, &gw.cluster_status);
    }
    crate::clients::render_metrics(&mut out, &c.clients.0, &c.clients.1);
    crate::hedge::render_metrics(&mut out, &c.hedges);
    out
}

/// Writes a series' `# HELP` and `# TYPE` lines.
pub(crate) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A sample value as Prometheus writes it (`NaN`, `+Inf`, `-Inf` spelled out).
pub(super) fn num(v: f64) -> String {
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
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\n"), "a\\\"b\\\\c\\n");
        assert_eq!(escape("plain"), "plain");
    }
}
