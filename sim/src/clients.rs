//! Per-client results: a workload split by `[[workload.mix]] client = "name"` sends each share
//! as that `[[client]]` (through [`engine::Engine::start_for`], so the client's own limits and
//! budgets apply), and each run reports every client's success rate, latency, refusals and
//! spend: `clients.csv` and a table in `report.md`, both only when the scenario has clients.

use std::fmt::Write as _;
use std::time::Duration;

use engine::clients::ClientState;
use engine::{ClientId, ClientLimit, Config};
use serde::Serialize;

use crate::compare::{Comparison, Estimate};
use crate::stats::RequestStats;

/// Request tallies per client while a run goes, indexed by [`ClientId`].
#[derive(Debug, Clone, Default)]
pub struct ClientTallies(Vec<RequestStats>);

impl ClientTallies {
    /// Tallies for every client of `config`.
    pub fn new(config: &Config) -> ClientTallies {
        ClientTallies(
            config
                .clients
                .iter()
                .map(|_| RequestStats::default())
                .collect(),
        )
    }

    /// Counts an arrival of `client`.
    pub fn arrived(&mut self, client: Option<ClientId>) {
        if let Some(t) = client.and_then(|c| self.0.get_mut(c.index())) {
            t.arrivals += 1;
        }
    }

    /// Counts a success of `client` with its end-to-end latency.
    pub fn succeeded(&mut self, client: Option<ClientId>, latency: Duration) {
        if let Some(t) = client.and_then(|c| self.0.get_mut(c.index())) {
            t.success(latency);
        }
    }
}

/// One client's results in a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientRow {
    /// Scenario name.
    pub scenario: String,
    /// Strategy.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// The `[[client]]` name.
    pub client: String,
    /// Requests it sent.
    pub requests: u64,
    /// Of those, answered successfully.
    pub successes: u64,
    /// successes ÷ requests.
    pub success_rate: f64,
    /// Refused by its own tiers, limits or budgets (never reached a provider).
    pub refused: u64,
    /// Refused for a tier it may not use.
    pub refused_tier: u64,
    /// Refused over `rpm`.
    pub refused_rpm: u64,
    /// Refused over `tpm`.
    pub refused_tpm: u64,
    /// Refused over `rpd`.
    pub refused_rpd: u64,
    /// Refused over `usd_per_day`.
    pub refused_usd_per_day: u64,
    /// Refused over `usd_per_month`.
    pub refused_usd_per_month: u64,
    /// Neither answered nor refused: failed, timed out, or in flight at the end.
    pub failed: u64,
    /// Median end-to-end latency of its successes.
    pub latency_p50_ms: f64,
    /// 99th percentile.
    pub latency_p99_ms: f64,
    /// Mean.
    pub latency_mean_ms: f64,
    /// Dollars spent: its successes priced at the serving deployments' prices.
    pub spend_usd: f64,
}

/// The rows of a finished run: one per `[[client]]`.
pub fn rows(
    (scenario, strategy, seed): (&str, &str, u64),
    config: &Config,
    tallies: &ClientTallies,
    states: &[ClientState],
) -> Vec<ClientRow> {
    config
        .clients
        .iter()
        .zip(&tallies.0)
        .zip(states)
        .map(|((c, t), s)| {
            let p = t.percentiles();
            let over = |l: ClientLimit| s.refused_over[l as usize];
            ClientRow {
                scenario: scenario.to_owned(),
                strategy: strategy.to_owned(),
                seed,
                client: c.name.clone(),
                requests: t.arrivals,
                successes: t.successes,
                success_rate: ratio(t.successes, t.arrivals),
                refused: s.refused,
                refused_tier: s.refused_tier,
                refused_rpm: over(ClientLimit::Rpm),
                refused_tpm: over(ClientLimit::Tpm),
                refused_rpd: over(ClientLimit::Rpd),
                refused_usd_per_day: over(ClientLimit::UsdPerDay),
                refused_usd_per_month: over(ClientLimit::UsdPerMonth),
                failed: t.arrivals.saturating_sub(t.successes + s.refused),
                latency_p50_ms: p.p50_ms,
                latency_p99_ms: p.p99_ms,
                latency_mean_ms: match t.successes {
                    0 => 0.0,
                    n => t.latency_sum.as_secs_f64() * 1000.0 / n as f64,
                },
                spend_usd: engine::spend::usd(s.spent_nanos),
            }
        })
        .collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Columns of the report's clients table (numeric ones right-aligned).
const COLUMNS: [(&str, bool); 9] = [
    ("strategy", false),
    ("client", false),
    ("requests", true),
    ("success rate", true),
    ("refused", true),
    ("refused by", false),
    ("p50 (ms)", true),
    ("p99 (ms)", true),
    ("spend (USD)", true),
];

/// The report's clients table: an introduction and one row per strategy × client (means over
/// seeds of success rate, latency, refusals and spend). `None` when the scenario has no clients.
pub fn report_table(c: &Comparison) -> Option<(String, Vec<[String; 9]>)> {
    let first = c.strategies.first()?.runs.first()?;
    if first.clients.is_empty() {
        return None;
    }
    let seeds = c.seeds.len();
    let intro = format!(
        "Each client's own requests (`[[workload.mix]] client`); {}. Refused requests never \
         reached a provider (the client's own tiers, limits or budgets). Data: clients.csv.",
        match seeds {
            1 => "one seed".to_owned(),
            n => format!("means over {n} seeds ± 95% confidence half-widths"),
        }
    );
    let mut rows = Vec::new();
    for st in &c.strategies {
        for (k, client) in first.clients.iter().enumerate() {
            let runs: Vec<&ClientRow> = st.runs.iter().filter_map(|r| r.clients.get(k)).collect();
            let est = |f: fn(&ClientRow) -> f64| {
                Estimate::of(&runs.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let pm = |e: Estimate, scale: f64, digits: usize| match seeds {
                1 => format!("{:.digits$}", e.mean * scale),
                _ => format!("{:.digits$} ± {:.digits$}", e.mean * scale, e.ci95 * scale),
            };
            let reasons = [
                ("tier", est(|r| r.refused_tier as f64)),
                ("rpm", est(|r| r.refused_rpm as f64)),
                ("tpm", est(|r| r.refused_tpm as f64)),
                ("rpd", est(|r| r.refused_rpd as f64)),
                ("usd_per_day", est(|r| r.refused_usd_per_day as f64)),
                ("usd_per_month", est(|r| r.refused_usd_per_month as f64)),
            ];
            let by: Vec<String> = reasons
                .iter()
                .filter(|(_, e)| e.mean > 0.0)
                .map(|(name, e)| format!("{name} {:.0}", e.mean))
                .collect();
            rows.push([
                st.strategy.name().to_owned(),
                client.client.clone(),
                format!("{:.0}", est(|r| r.requests as f64).mean),
                format!("{} %", pm(est(|r| r.success_rate), 100.0, 2)),
                pm(est(|r| r.refused as f64), 1.0, 0),
                if by.is_empty() {
                    "—".to_owned()
                } else {
                    by.join(", ")
                },
                pm(est(|r| r.latency_p50_ms), 1.0, 0),
                pm(est(|r| r.latency_p99_ms), 1.0, 0),
                pm(est(|r| r.spend_usd), 1.0, 4),
            ]);
        }
    }
    Some((intro, rows))
}

/// The `report.md` section (see [`report_table`]).
pub fn markdown_section(c: &Comparison) -> Option<String> {
    let (intro, rows) = report_table(c)?;
    let mut s = String::new();
    let _ = writeln!(s, "\n## Clients\n");
    let intro = intro.replace("clients.csv", "[clients.csv](clients.csv)");
    let _ = writeln!(s, "{intro}\n");
    let header: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
    let _ = writeln!(s, "| {} |", header.join(" | "));
    let rule: Vec<&str> = COLUMNS
        .iter()
        .map(|&(_, num)| if num { "---:" } else { "---" })
        .collect();
    let _ = writeln!(s, "|{}|", rule.join("|"));
    for [strategy, client, rest @ ..] in rows {
        let _ = writeln!(s, "| {strategy} | `{client}` | {} |", rest.join(" | "));
    }
    Some(s)
}

/// The `index.html` section (see [`report_table`]); `esc` escapes text for HTML.
pub fn html_section(c: &Comparison, esc: &dyn Fn(&str) -> String) -> Option<String> {
    let (intro, rows) = report_table(c)?;
    let mut s = String::new();
    let _ = writeln!(s, "<h2 id=\"clients\">Clients</h2>");
    let intro = esc(&intro)
        .replace("clients.csv", "<a href=\"clients.csv\">clients.csv</a>")
        .replace(
            "`[[workload.mix]] client`",
            "<code>[[workload.mix]] client</code>",
        );
    let _ = writeln!(s, "<p>{intro}</p>");
    let _ = write!(s, "<div class=\"scroll\"><table>\n<tr>");
    for (name, num) in COLUMNS {
        let class = if num { " class=\"num\"" } else { "" };
        let _ = write!(s, "<th{class}>{}</th>", esc(name));
    }
    let _ = writeln!(s, "</tr>");
    for row in rows {
        let _ = write!(s, "<tr>");
        for (i, (cell, (_, num))) in row.iter().zip(COLUMNS).enumerate() {
            let class = if num { " class=\"num\"" } else { "" };
            match i {
                1 => {
                    let _ = write!(s, "<td><code>{}</code></td>", esc(cell));
                }
                _ => {
                    let _ = write!(s, "<td{class}>{}</td>", esc(cell));
                }
            }
        }
        let _ = writeln!(s, "</tr>");
    }
    let _ = writeln!(s, "</table></div>");
    Some(s)
}

/// A terminal table of one run's clients (`simulate`).
pub fn text_table(rows: &[ClientRow]) -> String {
    let mut table = vec![[
        "client",
        "requests",
        "success",
        "refused",
        "failed",
        "p50 ms",
        "p99 ms",
        "spend USD",
    ]
    .map(str::to_owned)
    .to_vec()];
    for r in rows {
        table.push(vec![
            r.client.clone(),
            r.requests.to_string(),
            format!("{:.2}%", r.success_rate * 100.0),
            r.refused.to_string(),
            r.failed.to_string(),
            format!("{:.0}", r.latency_p50_ms),
            format!("{:.0}", r.latency_p99_ms),
            format!("{:.4}", r.spend_usd),
        ]);
    }
    crate::output::text_table(&table)
}

#[cfg(test)]
mod tests {
    use engine::StrategyKind;

    use crate::compare::compare;
    use crate::Scenario;

    const SCENARIO: &str = r#"
[simulation]
duration = "60s"

[workload]
arrivals = { constant = { rate = 2.0 } }
input_tokens = { constant = 100 }
output_tokens = { constant = 10 }

[[workload.mix]]
model = "t"
share = 1
client = "capped"

[[workload.mix]]
model = "t"
share = 1

[[client]]
name = "capped"
key_env = "K"
rpm = 30

[[tier]]
name = "t"

[[deployment]]
id = "d"
provider = "p"
model = "m"
tier = "t"
input_price = 1.0
output_price = 2.0

[[world.provider]]
name = "p"
ttft = { constant = "100ms" }

  [[world.provider.deployment]]
  id = "d"
"#;

    #[test]
    fn the_report_has_a_clients_table_only_with_clients() {
        let s = Scenario::parse(SCENARIO, "t.toml", "t").unwrap_or_else(|e| panic!("{e}"));
        let c = compare(&s, &[StrategyKind::Random], &[1, 2], 1, &|_, _| {});
        let run = &c.strategies[0].runs[0];
        assert_eq!(run.clients.len(), 1);
        let capped = &run.clients[0];
        // About 60 of the 120 arrivals are the client's; 30 fit in the minute, the rest are
        // refused by rpm and never attempted.
        assert_eq!(capped.successes, 30, "{capped:?}");
        assert_eq!(capped.refused, capped.refused_rpm);
        assert_eq!(
            capped.requests,
            capped.successes + capped.refused,
            "{capped:?}"
        );
        // 30 × (100 × $1 + 10 × $2) per million.
        assert!((capped.spend_usd - 0.0036).abs() < 1e-12, "{capped:?}");
        let md = super::markdown_section(&c).expect("a section");
        assert!(
            md.contains("## Clients") && md.contains("| random | `capped` |"),
            "{md}"
        );
        let html = super::html_section(&c, &|t| t.to_owned()).expect("a section");
        assert!(html.contains("<td><code>capped</code></td>"), "{html}");

        let plain = SCENARIO.replace("client = \"capped\"\n", "").replace(
            "[[client]]\nname = \"capped\"\nkey_env = \"K\"\nrpm = 30\n",
            "",
        );
        let s = Scenario::parse(&plain, "t.toml", "t").unwrap_or_else(|e| panic!("{e}"));
        let c = compare(&s, &[StrategyKind::Random], &[1], 1, &|_, _| {});
        assert!(c.strategies[0].runs[0].clients.is_empty());
        assert!(super::markdown_section(&c).is_none());
    }
}
