//! The hedging section of a report (Markdown and HTML): per strategy, hedges sent per request,
//! the share of them that won, the input tokens the losers were billed, and cost per successful
//! request. Present only when some run sent a hedge (a tier with `hedge`), so other reports are
//! unchanged.

use crate::run::RunResult;

use super::facts::Facts;
use super::section::{Row, Section};

/// The section, or `None` when no run sent a hedge.
fn section<'a>(f: &Facts<'_>) -> Option<Section<'a>> {
    if !f.any_run(|r| r.hedges.sent > 0) {
        return None;
    }
    let rows = f
        .strategies
        .iter()
        .map(|st| {
            let per_request = |r: &RunResult, x: u64| x as f64 / r.summary.requests.max(1) as f64;
            let sent = st.estimate(|r| 100.0 * per_request(r, r.hedges.sent));
            let won = st.estimate(|r| 100.0 * r.hedges.won as f64 / r.hedges.sent.max(1) as f64);
            let wasted = st.estimate(|r| per_request(r, r.hedges.cancelled_input_tokens));
            let cost = st.estimate(|r| r.summary.cost / r.summary.successes.max(1) as f64);
            Row {
                name: st.name().to_owned(),
                cells: vec![
                    format!("{:.2}% ± {:.2}", sent.mean, sent.ci95),
                    format!("{:.1}% ± {:.1}", won.mean, won.ci95),
                    format!("{:.1} ± {:.1}", wasted.mean, wasted.ci95),
                    format!("{:.5} ± {:.5}", cost.mean, cost.ci95),
                ],
            }
        })
        .collect();
    Some(Section {
        id: "hedging",
        title: "Hedging",
        intro: "Hedged attempts sent per request (a second attempt when the first had shown no \
            first byte by the tier's `hedge.after`), the share of hedges whose first byte came \
            first, input tokens per request billed for the abandoned loser of a race, and cost \
            per successful request; means over the seeds ± the 95% interval.",
        headers: &[
            "hedges per request",
            "hedges that won",
            "loser input tokens per request",
            "cost per request",
        ],
        rows,
    })
}

/// The Markdown section, or `None` when no run sent a hedge.
pub(crate) fn markdown(f: &Facts<'_>) -> Option<String> {
    Some(section(f)?.markdown())
}

/// The HTML section, or `None` when no run sent a hedge.
pub(crate) fn html(f: &Facts<'_>) -> Option<String> {
    Some(section(f)?.html())
}
