//! The prompt-cache section of a report: per strategy, the share of input tokens read from a
//! provider's prompt cache and the cost per successful request. Present only when some run read
//! anything from a cache (scenarios with sessions and providers that cache prompts), so other
//! reports are unchanged.

use std::fmt::Write as _;

use crate::compare::Estimate;

use super::facts::Facts;

/// The Markdown section, or `None` when no run read from a prompt cache.
pub(crate) fn markdown(f: &Facts<'_>) -> Option<String> {
    let any = f
        .strategies
        .iter()
        .flat_map(|st| &st.result.runs)
        .any(|r| r.cache.cached_input_tokens > 0);
    if !any {
        return None;
    }
    let mut s = String::new();
    let _ = writeln!(s, "\n## Prompt cache\n");
    let _ = writeln!(
        s,
        "Input tokens read from a provider's prompt cache (billed at the deployment's `cached_input_price`), \
         successful attempts that read any, and cost per successful request; means over the seeds ± the 95% interval.\n"
    );
    let _ = writeln!(
        s,
        "| strategy | cache-hit share (input tokens) | attempts with a cache hit | cost per request |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|");
    for st in &f.strategies {
        let runs = &st.result.runs;
        let share = Estimate::of(&runs.iter().map(|r| r.cache.hit_share()).collect::<Vec<_>>());
        let hits = Estimate::of(
            &runs
                .iter()
                .map(|r| r.cache.hits as f64 / r.cache.attempts.max(1) as f64)
                .collect::<Vec<_>>(),
        );
        let per_request = Estimate::of(
            &runs
                .iter()
                .map(|r| r.summary.cost / r.summary.successes.max(1) as f64)
                .collect::<Vec<_>>(),
        );
        let _ = writeln!(
            s,
            "| {} | {:.1}% ± {:.1} | {:.1}% ± {:.1} | {:.5} ± {:.5} |",
            st.name(),
            100.0 * share.mean,
            100.0 * share.ci95,
            100.0 * hits.mean,
            100.0 * hits.ci95,
            per_request.mean,
            per_request.ci95
        );
    }
    Some(s)
}
