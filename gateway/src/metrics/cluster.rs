//! The fleet exchange's series (only with `[cluster]`).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::header;

/// The fleet exchange's gauges and counters (only with `[cluster]`).
pub(super) fn render(out: &mut String, c: &crate::cluster::ClusterStatus) {
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
