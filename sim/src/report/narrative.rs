//! The words of the report, computed from the data: one plain sentence per strategy saying what
//! it did (during incidents, or against the weights). The winners are in [`super::paired`].

use crate::stats::Column;

use super::facts::{Facts, IncidentInfo, StrategyView};
use super::format::{clock, ms, pct, thousands, window, Rich};

/// A share change smaller than this (in share points) counts as "about the same".
const SAME_SHARE: f64 = 0.05;
/// A deviation from the configured weight smaller than this counts as following the weights.
const FOLLOWS_WEIGHTS: f64 = 0.02;
/// Incidents described per sentence; more are counted, not described.
const MAX_INCIDENTS: usize = 3;

/// One sentence per strategy, in the comparison's order.
pub(crate) fn sentences(f: &Facts<'_>) -> Vec<Rich> {
    f.strategies.iter().map(|s| sentence(f, s)).collect()
}

/// `1 error`, `12 errors`, `no errors`.
fn plural(n: u64, one: &str, many: &str) -> String {
    match n {
        0 => format!("no {many}"),
        1 => format!("1 {one}"),
        n => format!("{} {many}", thousands(n)),
    }
}

fn sentence(f: &Facts<'_>, s: &StrategyView<'_>) -> Rich {
    let mut r = Rich::default();
    r.strong(s.name());
    if f.seeds() > 1 {
        r.text(format!(" (seed {})", s.run.summary.seed));
    }
    let described: Vec<&IncidentInfo> = f.incidents.iter().take(MAX_INCIDENTS).collect();
    if described.is_empty() {
        weights_clause(s, &mut r);
    } else {
        r.text(":");
        for (i, inc) in described.iter().enumerate() {
            if i > 0 {
                r.text(";");
            }
            incident_clause(f, s, inc, &mut r);
        }
        let more = f.incidents.len() - described.len();
        if more > 0 {
            r.text(format!(
                " (and {} not described here)",
                plural(more as u64, "more incident", "more incidents")
            ));
        }
    }
    totals_clause(s, &mut r);
    r
}

/// "during the openai outage (4m–6m) it sent 33% of frontier attempts to `openai-key2` (40%
/// outside the window): 1,204 failed attempts there, and …"
fn incident_clause(f: &Facts<'_>, s: &StrategyView<'_>, inc: &IncidentInfo, r: &mut Rich) {
    let inside = |b: usize| f.in_window(b, inc.start_s, inc.end_s);
    let outside = |b: usize| !f.in_window(b, inc.start_s, inc.end_s);
    r.text(format!(
        " during the {} {} ({})",
        inc.target,
        inc.noun,
        window(inc.start_s, inc.end_s)
    ));
    if !(0..s.buckets()).any(inside) {
        r.text(" nothing was running (the run had ended)");
        return;
    }
    let attempts = [Column::Attempts];
    let mut tier_clauses = 0;
    for tier in 0..f.tiers.len() {
        let members = f.tier_deployments(tier);
        let hit: Vec<usize> = members
            .iter()
            .copied()
            .filter(|d| inc.deployments.contains(d))
            .collect();
        if hit.is_empty() {
            continue;
        }
        let tier_in = s.sum(&inside, &members, &attempts);
        if tier_in == 0 {
            continue;
        }
        let share_in = s.sum(&inside, &hit, &attempts) as f64 / tier_in as f64;
        r.text(if tier_clauses == 0 {
            " it sent "
        } else {
            " and "
        });
        tier_clauses += 1;
        r.text(format!("{} of ", pct(share_in, 0)))
            .code(f.tiers[tier].as_str())
            .text(" attempts to ");
        let ids: Vec<&str> = hit.iter().map(|&d| f.deployments[d].id.as_str()).collect();
        r.code_list(&ids);
        let tier_out = s.sum(&outside, &members, &attempts);
        if tier_out > 0 {
            let share_out = s.sum(&outside, &hit, &attempts) as f64 / tier_out as f64;
            r.text(format!(" ({} outside the window", pct(share_out, 0)));
            if share_in < share_out - SAME_SHARE {
                // Where the traffic went: the unaffected deployment whose share grew most.
                let gainer = members
                    .iter()
                    .copied()
                    .filter(|d| !hit.contains(d))
                    .map(|d| {
                        let one = [d];
                        let gain = s.sum(&inside, &one, &attempts) as f64 / tier_in as f64
                            - s.sum(&outside, &one, &attempts) as f64 / tier_out as f64;
                        (d, gain)
                    })
                    .filter(|&(_, gain)| gain > SAME_SHARE)
                    .fold(None::<(usize, f64)>, |best, (d, g)| match best {
                        Some((_, bg)) if bg >= g => best,
                        _ => Some((d, g)),
                    });
                if let Some((d, _)) = gainer {
                    r.text(", moving traffic to ")
                        .code(f.deployments[d].id.as_str());
                }
            }
            r.text(")");
        }
    }
    if tier_clauses == 0 {
        r.text(" it sent no attempts to the affected tiers");
        return;
    }
    let failed = s.sum(
        &inside,
        &inc.deployments,
        &[Column::RateLimited, Column::Errors],
    );
    r.text(format!(
        ": {} there",
        plural(failed, "failed attempt", "failed attempts")
    ));
    let (lat_in, lat_out) = mean_latency(f, s, inc);
    if let Some(lat_in) = lat_in {
        r.text(format!(
            ", and successful requests finishing in the window took {} on average",
            ms(lat_in)
        ));
        if let Some(lat_out) = lat_out {
            r.text(format!(" ({} outside it)", ms(lat_out)));
        }
    }
}

/// Mean latency of successful requests ending inside and outside an incident's window.
fn mean_latency(
    f: &Facts<'_>,
    s: &StrategyView<'_>,
    inc: &IncidentInfo,
) -> (Option<f64>, Option<f64>) {
    let mut sums = [(0.0f64, 0u64); 2];
    for b in 0..s.buckets() {
        let (ok, _, mean) = s.run.timeseries.requests(b);
        let slot = usize::from(!f.in_window(b, inc.start_s, inc.end_s));
        sums[slot].0 += mean * ok as f64;
        sums[slot].1 += ok;
    }
    let mean = |(sum, n): (f64, u64)| (n > 0).then(|| sum / n as f64);
    (mean(sums[0]), mean(sums[1]))
}

/// "sent 38% of frontier attempts to `azure-eastus` against a configured 20%" or "followed the
/// configured weights".
fn weights_clause(s: &StrategyView<'_>, r: &mut Rich) {
    let mut largest: Option<(&str, &str, f64, f64)> = None;
    for row in &s.run.deployments {
        if !row.actual_share.is_finite() || !row.configured_share.is_finite() {
            continue;
        }
        let tier_has_traffic = s
            .run
            .deployments
            .iter()
            .any(|o| o.tier == row.tier && o.attempts > 0);
        if !tier_has_traffic {
            continue;
        }
        let gap = (row.actual_share - row.configured_share).abs();
        if largest.is_none_or(|(_, _, a, c)| gap > (a - c).abs()) {
            largest = Some((
                &row.deployment,
                &row.tier,
                row.actual_share,
                row.configured_share,
            ));
        }
    }
    match largest {
        None => {
            r.text(" sent no attempts");
        }
        Some((d, tier, actual, configured)) if (actual - configured).abs() < FOLLOWS_WEIGHTS => {
            r.text(" followed the configured weights (largest gap: ")
                .code(d)
                .text(format!(" got {} of ", pct(actual, 0)))
                .code(tier)
                .text(format!(
                    " attempts against a configured {})",
                    pct(configured, 0)
                ));
        }
        Some((d, tier, actual, configured)) => {
            r.text(format!(" sent {} of ", pct(actual, 0)))
                .code(tier)
                .text(" attempts to ")
                .code(d)
                .text(format!(
                    " against a configured {} (its largest departure from the weights)",
                    pct(configured, 0)
                ));
        }
    }
}

/// "; in all 3,571 of 3,577 requests succeeded (99.83%, p99 18,874 ms), with 70 429s (most on
/// `openai-key1`) and 12 errors."
fn totals_clause(s: &StrategyView<'_>, r: &mut Rich) {
    let sum = &s.run.summary;
    let errors = sum.server_errors + sum.timeouts + sum.connection_errors;
    // Never round a run with failures up to 100 %.
    let rate = match pct(sum.success_rate, 2) {
        p if p == "100.00%" && sum.successes < sum.requests => ">99.99%".to_owned(),
        p => p,
    };
    let answered = if sum.successes == sum.requests && sum.requests > 1 {
        format!(
            "every one of {} requests succeeded",
            thousands(sum.requests)
        )
    } else {
        format!(
            "{} of {} succeeded",
            thousands(sum.successes),
            plural(sum.requests, "request", "requests")
        )
    };
    r.text(format!(
        "; in all {answered} ({rate}, p99 {}), with {}",
        ms(sum.latency_p99_ms),
        plural(sum.rate_limit_hits, "429", "429s"),
    ));
    let most = s
        .run
        .deployments
        .iter()
        .filter(|d| d.rate_limited > 0)
        .fold(None::<(&str, u64)>, |best, d| match best {
            Some((_, n)) if n >= d.rate_limited => best,
            _ => Some((&d.deployment, d.rate_limited)),
        });
    if let Some((d, n)) = most {
        if n < sum.rate_limit_hits {
            r.text(" (most on ").code(d).text(")");
        } else {
            r.text(" (all on ").code(d).text(")");
        }
    }
    r.text(format!(" and {}.", plural(errors, "error", "errors")));
}

/// A one-line description of the scenario's incidents.
pub(crate) fn incidents_line(f: &Facts<'_>) -> Option<Rich> {
    if f.incidents.is_empty() {
        return None;
    }
    let mut r = Rich::default();
    r.text("Incidents: ");
    for (i, inc) in f.incidents.iter().enumerate() {
        if i > 0 {
            r.text("; ");
        }
        r.code(inc.target.as_str()).text(format!(
            " {} from {} to {}",
            inc.what,
            clock(inc.start_s),
            clock(inc.end_s)
        ));
        let names_itself = inc.deployments.len() == 1
            && inc
                .deployments
                .first()
                .and_then(|&d| f.deployments.get(d))
                .is_some_and(|d| d.id == inc.target);
        if !names_itself && !inc.deployments.is_empty() {
            let ids: Vec<&str> = inc
                .deployments
                .iter()
                .filter_map(|&d| f.deployments.get(d).map(|d| d.id.as_str()))
                .collect();
            r.text(" (");
            r.code_list(&ids);
            r.text(")");
        }
    }
    r.text(". Plots shade these windows.");
    Some(r)
}
