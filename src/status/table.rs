//! `/admin/state` as aligned text tables: one row per tier, one per deployment.

use std::fmt::Write as _;

use serde_json::Value;

/// The whole status text.
pub fn render(url: &str, state: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "gateway {url}: config generation {}, up {}, reloads {} ok / {} failed",
        state["generation"],
        duration(state["uptime_s"].as_f64().unwrap_or(0.0)),
        state["reloads"]["ok"],
        state["reloads"]["error"],
    );
    out.push('\n');
    let mut tiers = vec![row(&[
        "TIER",
        "STRATEGY",
        "DEPLOYMENTS",
        "USABLE",
        "IN FLIGHT",
        "REQUESTS",
        "OK",
        "FAILED",
        "FELL BACK",
        "P50 MS",
        "P99 MS",
    ])];
    for t in list(&state["tiers"]) {
        tiers.push(vec![
            text(&t["name"]),
            text(&t["strategy"]),
            text(&t["deployments"]),
            text(&t["usable"]),
            text(&t["in_flight"]),
            text(&t["requests"]),
            text(&t["successes"]),
            text(&t["failures"]),
            text(&t["fell_back"]),
            number(&t["latency_p50_ms"], 0),
            number(&t["latency_p99_ms"], 0),
        ]);
    }
    out.push_str(&align(&tiers));
    out.push('\n');
    let mut deployments = vec![row(&[
        "DEPLOYMENT",
        "TIER",
        "RPM USED/LIMIT",
        "TPM USED/LIMIT",
        "RPD USED/LIMIT",
        "COOLDOWN",
        "BREAKER",
        "LATENCY MS",
        "ERRORS",
        "IN FLIGHT",
        "SHARE CONF→ACTUAL",
    ])];
    for d in list(&state["deployments"]) {
        let b = &d["budgets"];
        let cooldown = d["cooldown_left_s"].as_f64().unwrap_or(0.0);
        deployments.push(vec![
            format!(
                "{}{}",
                text(&d["id"]),
                if d["disabled"] == true {
                    " (key refused)"
                } else {
                    ""
                }
            ),
            text(&d["tier"]),
            budget(&b["rpm"]),
            budget(&b["tpm"]),
            budget(&b["rpd"]),
            if cooldown > 0.0 {
                format!("{cooldown:.1} s")
            } else {
                "-".into()
            },
            text(&d["breaker"]["state"]),
            number(&d["latency_ms"], 0),
            format!("{:.1} %", d["error_rate"].as_f64().unwrap_or(0.0) * 100.0),
            text(&d["in_flight"]),
            format!(
                "{:.0} % → {:.0} %",
                d["configured_share"].as_f64().unwrap_or(0.0) * 100.0,
                d["actual_share"].as_f64().unwrap_or(0.0) * 100.0
            ),
        ]);
    }
    out.push_str(&align(&deployments));
    let clients = list(&state["clients"]);
    if !clients.is_empty() {
        let mut rows = vec![row(&[
            "CLIENT",
            "TIERS",
            "RPM USED/LIMIT",
            "TPM USED/LIMIT",
            "RPD USED/LIMIT",
            "USD DAY USED/LIMIT",
            "USD MONTH USED/LIMIT",
            "SPENT USD",
            "ADMITTED",
            "REFUSED",
        ])];
        for c in clients {
            let tiers = match c["tiers"].as_array() {
                None => "all".to_owned(),
                Some(t) => t.iter().map(text).collect::<Vec<_>>().join(","),
            };
            let b = &c["budgets"];
            rows.push(vec![
                text(&c["name"]),
                tiers,
                budget(&b["rpm"]),
                budget(&b["tpm"]),
                budget(&b["rpd"]),
                dollars(&c["spend"]["usd_per_day"]),
                dollars(&c["spend"]["usd_per_month"]),
                c["spend"]["spent_usd"]
                    .as_f64()
                    .map_or_else(|| "-".to_owned(), usd),
                text(&c["admitted"]),
                text(&c["refused"]),
            ]);
        }
        out.push('\n');
        out.push_str(&align(&rows));
    }
    let draining = list(&state["draining"]);
    if !draining.is_empty() {
        let names: Vec<String> = draining
            .iter()
            .map(|d| format!("{} ({} in flight)", text(&d["id"]), d["in_flight"]))
            .collect();
        let _ = writeln!(
            out,
            "\ndraining (removed by a reload): {}",
            names.join(", ")
        );
    }
    out.push_str("\n* limit learned from the provider's headers (differs from the config)\n");
    out
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|c| (*c).to_owned()).collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn number(v: &Value, decimals: usize) -> String {
    v.as_f64()
        .map_or_else(|| "-".into(), |x| format!("{x:.decimals$}"))
}

/// `used/limit` of a budget, `*` on a learned limit, `-` when unlimited.
fn budget(w: &Value) -> String {
    match w["limit"].as_f64() {
        None => "-".into(),
        Some(limit) => format!(
            "{:.0}/{limit:.0}{}",
            w["used"].as_f64().unwrap_or(0.0),
            if w["learned"] == true { "*" } else { "" }
        ),
    }
}

/// A dollar window: used/limit (reservations in flight included), or used alone.
fn dollars(w: &Value) -> String {
    let used = w["used"].as_f64();
    match (used, w["limit"].as_f64()) {
        (None, _) => "-".into(),
        (Some(used), None) => format!("{}/-", usd(used)),
        (Some(used), Some(limit)) => format!("{}/{}", usd(used), usd(limit)),
    }
}

/// Dollars to the micro-dollar, without trailing zeros: `5`, `0.0052`, `0.000093`.
fn usd(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn duration(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..60 => format!("{secs:.0} s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Left-aligned columns separated by two spaces.
fn align(rows: &[Vec<String>]) -> String {
    let widths = sim::output::column_widths(rows);
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            line.push_str(cell);
            if c + 1 < r.len() {
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_renders_as_aligned_tables() {
        let state = serde_json::json!({
            "generation": 2, "uptime_s": 75.0, "reloads": {"ok": 2, "error": 1},
            "tiers": [{"name": "standard", "strategy": "adaptive", "deployments": 2, "usable": 2,
                "in_flight": 3, "requests": 10, "successes": 9, "failures": 1, "fell_back": 0,
                "latency_p50_ms": 120.0, "latency_p99_ms": 300.0}],
            "deployments": [{"id": "a", "tier": "standard", "disabled": false,
                "budgets": {"rpm": {"limit": 500, "used": 12.4, "learned": true},
                            "tpm": {"limit": null}, "rpd": {"limit": null}},
                "cooldown_left_s": 0.0, "breaker": {"state": "closed"}, "latency_ms": 110.2,
                "error_rate": 0.02, "in_flight": 3, "configured_share": 0.5, "actual_share": 0.6}],
            "draining": [{"id": "old", "in_flight": 1}],
            "clients": [{"name": "team-a", "tiers": ["standard"], "admitted": 7, "refused": 2,
                "budgets": {"rpm": {"limit": 10, "used": 7}, "tpm": {"limit": null},
                            "rpd": {"limit": null}},
                "spend": {"usd_per_day": {"limit": 5.0, "used": 1.25, "left": 3.75},
                          "usd_per_month": {"limit": null, "used": 1.25},
                          "spent_usd": 1.2, "reserved_usd": 0.05}}],
        });
        let text = render("http://127.0.0.1:8080", &state);
        assert!(
            text.contains("config generation 2, up 1m15s, reloads 2 ok / 1 failed"),
            "{text}"
        );
        assert!(text.contains("12/500*"), "{text}");
        assert!(text.contains("1.25/5"), "{text}");
        assert!(text.contains("1.25/-"), "{text}");
        assert!(text.contains(" 1.2 "), "{text}");
        assert_eq!(usd(0.0000934), "0.000093");
        assert_eq!(usd(0.0), "0");
        assert!(text.contains("50 % → 60 %"), "{text}");
        assert!(
            text.contains("draining (removed by a reload): old (1 in flight)"),
            "{text}"
        );
        let header = text.lines().find(|l| l.starts_with("DEPLOYMENT")).unwrap();
        let row = text.lines().find(|l| l.starts_with("a ")).unwrap();
        assert_eq!(header.find("TIER"), row.find("standard"), "{text}");
    }
}
