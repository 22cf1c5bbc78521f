//! The prompt-cache section of a report (Markdown and HTML): per strategy, the share of input tokens read from a
//! provider's prompt cache and the cost per successful request. Present only when some run read
//! anything from a cache (scenarios with sessions and providers that cache prompts), so other
//! reports are unchanged.

use super::facts::Facts;
use super::section::{Row, Section};

/// The section, or `None` when no run read from a prompt cache.
fn section<'a>(f: &Facts<'_>) -> Option<Section<'a>> {
    if !f.any_run(|r| r.cache.cached_input_tokens > 0) {
        return None;
    }
    let rows = f
        .strategies
        .iter()
        .map(|st| {
            let share = st.estimate(|r| r.cache.hit_share());
            let hits = st.estimate(|r| r.cache.hits as f64 / r.cache.attempts.max(1) as f64);
            let per_request = st.estimate(|r| r.summary.cost / r.summary.successes.max(1) as f64);
            Row {
                name: st.name().to_owned(),
                cells: vec![
                    format!("{:.1}% ± {:.1}", 100.0 * share.mean, 100.0 * share.ci95),
                    format!("{:.1}% ± {:.1}", 100.0 * hits.mean, 100.0 * hits.ci95),
                    format!("{:.5} ± {:.5}", per_request.mean, per_request.ci95),
                ],
            }
        })
        .collect();
    Some(Section {
        id: "prompt-cache",
        title: "Prompt cache",
        intro: "Input tokens read from a provider's prompt cache (billed at the deployment's \
            `cached_input_price`), successful attempts that read any, and cost per successful \
            request; means over the seeds ± the 95% interval.",
        headers: &[
            "cache-hit share (input tokens)",
            "attempts with a cache hit",
            "cost per request",
        ],
        rows,
    })
}

/// The Markdown section, or `None` when no run read from a prompt cache.
pub(crate) fn markdown(f: &Facts<'_>) -> Option<String> {
    Some(section(f)?.markdown())
}

/// The HTML section, or `None` when no run read from a prompt cache.
pub(crate) fn html(f: &Facts<'_>) -> Option<String> {
    Some(section(f)?.html())
}
