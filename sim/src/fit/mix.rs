//! The fitted workload mix: each requested model's share of the requests and, when the trace
//! names clients (its `client` column), each client × model pair's share, so a fitted scenario
//! sends every tenant's traffic as its own `[[client]]`. Without `--config` the clients' tables
//! are written too (names only: the trace does not say what their limits are).

use std::fmt::Write as _;

use super::config::GatewayConfig;
use super::tally::TraceTally;
use super::toml_out::quote;

/// Most entries in the fitted mix (the largest kept).
const MAX_MIX: usize = 64;

/// One `[[workload.mix]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct MixEntry {
    /// The requested model.
    pub model: String,
    /// The `[[client]]` sending it, if the trace names one.
    pub client: Option<String>,
    /// Share of the requests, 0 to 1 (the entries sum to 1).
    pub share: f64,
}

/// The mix of the trace's requests (refused ones included: a client's refused requests are
/// still its traffic). A client the `config` does not know is left out of its entries, with a
/// warning; without a config, a client whose own limits refused requests gets a warning that
/// those limits are not fitted.
pub(super) fn fit_mix(
    tally: &TraceTally,
    config: Option<&GatewayConfig>,
    warnings: &mut Vec<String>,
) -> Vec<MixEntry> {
    let mut counts: Vec<(String, String, u64)> = Vec::new();
    for (model, clients) in &tally.model_clients {
        for (client, &n) in clients {
            let known = config.is_none_or(|c| client.is_empty() || c.clients.contains(client));
            if !known {
                if let Some(c) = config {
                    warnings.push(format!(
                        "client {client:?}: in the trace but not a [[client]] of {}: its {n} \
                         request(s) for {model} are sent without a client",
                        c.file
                    ));
                }
            }
            let client = if known { client.clone() } else { String::new() };
            match counts
                .iter_mut()
                .find(|(m, c, _)| m == model && *c == client)
            {
                Some(e) => e.2 += n,
                None => counts.push((model.clone(), client, n)),
            }
        }
    }
    if config.is_none() {
        let mut refused: Vec<(&String, &u64)> = tally.client_refused.iter().collect();
        refused.sort();
        for (client, n) in refused {
            warnings.push(format!(
                "client {client:?}: {n} request(s) refused by its own limits; the trace does \
                 not say what they are, so its fitted [[client]] has none (give --config to keep them)"
            ));
        }
    }
    counts.sort_by(|a, b| {
        b.2.cmp(&a.2)
            .then_with(|| a.0.cmp(&b.0))
            .then_with(|| a.1.cmp(&b.1))
    });
    counts.truncate(MAX_MIX);
    let total: u64 = counts.iter().map(|e| e.2).sum();
    counts
        .into_iter()
        .map(|(model, client, n)| MixEntry {
            model,
            client: (!client.is_empty()).then_some(client),
            share: n as f64 / total.max(1) as f64,
        })
        .collect()
}

/// Writes the `[[workload.mix]]` entries.
pub(super) fn write_mix(w: &mut String, mix: &[MixEntry]) {
    for e in mix {
        let _ = write!(
            w,
            "\n[[workload.mix]]\nmodel = {}\nshare = {:.6}\n",
            quote(&e.model),
            e.share
        );
        if let Some(c) = &e.client {
            let _ = writeln!(w, "client = {}", quote(c));
        }
    }
}

/// Writes a `[[client]]` table for every client of the mix, in order of first appearance
/// (without `--config`: a name and a key variable, no limits).
pub(super) fn write_clients(w: &mut String, mix: &[MixEntry]) {
    let mut seen: Vec<&str> = Vec::new();
    for c in mix.iter().filter_map(|e| e.client.as_deref()) {
        if !seen.contains(&c) {
            seen.push(c);
        }
    }
    if !seen.is_empty() {
        let _ = writeln!(
            w,
            "\n# The clients' limits and budgets are not in the trace: give `fit --config` to keep them."
        );
    }
    for (i, c) in seen.iter().enumerate() {
        let _ = write!(
            w,
            "\n[[client]]\nname = {}\nkey_env = \"SWITCHYARD_CLIENT_{}_KEY\"\n",
            quote(c),
            i + 1
        );
    }
}
