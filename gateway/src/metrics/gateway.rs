//! The gateway-wide series: requests by how they ended, waits, readiness, the HTTP side
//! (responses, requests and connections in flight) and config reloads.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use engine::metrics::Totals;

use super::header;
use crate::state::Shared;

/// Writes the engine's request totals, `live` requests and readiness, then the HTTP and reload
/// counters kept by the gateway itself.
pub(super) fn render(out: &mut String, t: &Totals, live: usize, ready: bool, gw: &Shared) {
    header(
        out,
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
        out,
        "switchyard_waits_total",
        "counter",
        "Times a request waited for headroom or a cooldown.",
    );
    let _ = writeln!(out, "switchyard_waits_total {}", t.waits);
    header(
        out,
        "switchyard_requests_in_flight",
        "gauge",
        "Requests started in the engine and not yet ended.",
    );
    let _ = writeln!(out, "switchyard_requests_in_flight {}", live);
    header(
        out,
        "switchyard_ready",
        "gauge",
        "1 when at least one deployment is usable.",
    );
    let _ = writeln!(out, "switchyard_ready {}", u8::from(ready));

    header(
        out,
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
        out,
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
        out,
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
        out,
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
}
