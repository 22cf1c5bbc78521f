//! The gateway's tiers and routes as a trace shows them: each deployment belongs to the tier
//! most of its attempts were routed to; a tier falls back to the tiers whose deployments its
//! requests also reached; each model routes to the tier most of its requests went to.

use std::collections::HashMap;

use super::estimate::most;
use super::tally::TraceTally;
use super::DeploymentFit;

/// Name of the single tier of a trace without a `tier` column.
pub const DEFAULT_TIER: &str = "fitted";

/// A fitted tier.
#[derive(Debug, Clone, PartialEq)]
pub struct TierFit {
    /// Its name.
    pub name: String,
    /// Tiers it falls back to, most used first.
    pub fallback: Vec<String>,
}

/// The tiers (each holding at least one deployment, the one with most requests first) and the
/// routes (model → tier).
pub fn topology(
    tally: &TraceTally,
    deployments: &[DeploymentFit],
) -> (Vec<TierFit>, Vec<(String, String)>) {
    let home = |d: &DeploymentFit| d.tier.clone().unwrap_or_else(|| DEFAULT_TIER.to_owned());
    let mut names: Vec<String> = Vec::new();
    let mut home_of: HashMap<&str, String> = HashMap::new();
    for d in deployments {
        let h = home(d);
        if !names.contains(&h) {
            names.push(h.clone());
        }
        home_of.insert(d.id.as_str(), h);
    }
    if names.is_empty() {
        names.push(DEFAULT_TIER.to_owned());
    }
    // Busiest tier (most requests) first.
    names.sort_by_key(|n| std::cmp::Reverse(tally.tiers.get(n).copied().unwrap_or(0)));
    // Where a request tier's attempts landed, by the deployments' home tiers.
    let landed = |tier: &str| -> Vec<(String, u64)> {
        let mut by: HashMap<String, u64> = HashMap::new();
        if let Some(ds) = tally.tier_deployments.get(tier) {
            for (d, n) in ds {
                if let Some(h) = home_of.get(d.as_str()) {
                    *by.entry(h.clone()).or_default() += n;
                }
            }
        }
        let mut v: Vec<_> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    };
    let mut tiers: Vec<TierFit> = names
        .iter()
        .map(|n| TierFit {
            name: n.clone(),
            fallback: Vec::new(),
        })
        .collect();
    // Fallback edges, most used first, skipping any that would close a cycle.
    let mut edges: Vec<(u64, String, String)> = Vec::new();
    for t in &names {
        for (to, n) in landed(t) {
            if &to != t {
                edges.push((n, t.clone(), to));
            }
        }
    }
    edges.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| (&a.1, &a.2).cmp(&(&b.1, &b.2))));
    for (_, from, to) in edges {
        if !reaches(&tiers, &to, &from) {
            if let Some(t) = tiers.iter_mut().find(|t| t.name == from) {
                t.fallback.push(to);
            }
        }
    }
    // A request tier without deployments of its own is the tier its attempts landed in most.
    let resolve = |tier: &str| -> String {
        if names.iter().any(|n| n == tier) {
            tier.to_owned()
        } else {
            landed(tier)
                .first()
                .map_or_else(|| names[0].clone(), |(t, _)| t.clone())
        }
    };
    let mut routes: Vec<(String, String)> = tally
        .routes
        .iter()
        .filter_map(|(model, tiers)| Some((model.clone(), resolve(most(tiers)?))))
        .collect();
    // Models of a trace without tiers route to the one tier.
    for model in tally.models.keys() {
        if !routes.iter().any(|(m, _)| m == model) {
            routes.push((model.clone(), names[0].clone()));
        }
    }
    routes.sort();
    (tiers, routes)
}

/// Whether `from` reaches `to` through fallbacks.
fn reaches(tiers: &[TierFit], from: &str, to: &str) -> bool {
    let mut stack = vec![from.to_owned()];
    let mut seen: Vec<String> = Vec::new();
    while let Some(t) = stack.pop() {
        if t == to {
            return true;
        }
        if seen.contains(&t) {
            continue;
        }
        if let Some(tier) = tiers.iter().find(|x| x.name == t) {
            stack.extend(tier.fallback.iter().cloned());
        }
        seen.push(t);
    }
    false
}
