//! The report's paired verdicts ([`crate::paired`]): the winners table, which names a winner only
//! when its lead over every other strategy is significant on the same seeds, and the cells of the
//! table of paired differences from the baseline.

use engine::StrategyKind;

use crate::compare::Comparison;
use crate::paired::text::{baseline_words, diff_text, name_list};
use crate::paired::MetricVerdict;

/// The verdict on one headline metric, as the winners table shows it.
#[derive(Debug, Clone)]
pub(crate) struct Winner {
    /// Human label from [`crate::compare::METRICS`].
    pub label: &'static str,
    /// The leader by mean: name and formatted value.
    pub leader: (&'static str, String),
    /// Whether the leader's paired lead over every other strategy is significant.
    pub significant: bool,
    /// The runner-up by mean: name and formatted value, with several strategies.
    pub runner_up: Option<(&'static str, String)>,
    /// Leader − runner-up, paired by seed (empty with one strategy).
    pub lead: String,
    /// The verdict in words.
    pub verdict: String,
}

/// The winners table's rows, one per verdict.
pub(crate) fn winners(c: &Comparison, verdicts: &[MetricVerdict]) -> Vec<Winner> {
    let seeds = c.seeds.len();
    let name = |i: usize| c.strategies[i].strategy.name();
    let value = |v: &MetricVerdict, i: usize| {
        super::format::metric(v.metric, c.strategies[i].estimate(v.metric), seeds)
    };
    verdicts
        .iter()
        .map(|v| {
            let leader = v.leader();
            let significant = v.winner().is_some();
            let verdict = match v.runner_up() {
                None => "the only strategy compared".to_owned(),
                Some(r) if significant && c.strategies.len() == 2 => {
                    format!("significantly ahead of {}", name(r))
                }
                Some(_) if significant => "significantly ahead of every other strategy".to_owned(),
                Some(_) if v.lead.iter().all(|d| d.diff == 0.0 && d.ci95 == 0.0) => {
                    "no significant difference: every strategy has the same value on every seed"
                        .to_owned()
                }
                Some(_) if seeds < 2 => {
                    "no significant difference: one seed gives no confidence interval".to_owned()
                }
                Some(_) => {
                    let behind: Vec<&str> = v.not_ahead_of().into_iter().map(name).collect();
                    format!(
                        "no significant difference: {} is not significantly ahead of {}",
                        name(leader),
                        name_list(&behind)
                    )
                }
            };
            Winner {
                label: v.label,
                leader: (name(leader), value(v, leader)),
                significant,
                runner_up: v.runner_up().map(|r| (name(r), value(v, r))),
                lead: v
                    .runner_up()
                    .map_or_else(String::new, |r| diff_text(v.metric, &v.lead[r])),
                verdict,
            }
        })
        .collect()
}

/// The significant winner of a metric, if any.
pub(crate) fn winner_kind(
    c: &Comparison,
    verdicts: &[MetricVerdict],
    metric: &str,
) -> Option<StrategyKind> {
    verdicts
        .iter()
        .find(|v| v.metric == metric)
        .and_then(MetricVerdict::winner)
        .map(|w| c.strategies[w].strategy)
}

/// One cell of the table of differences from the baseline: `None` for the baseline itself,
/// else the difference as text and whether it is significant.
pub(crate) fn diff_cell(
    c: &Comparison,
    v: &MetricVerdict,
    kind: StrategyKind,
) -> Option<(String, bool)> {
    let i = c.strategies.iter().position(|s| s.strategy == kind)?;
    if i == v.baseline {
        return None;
    }
    let d = &v.vs_baseline[i];
    Some((diff_text(v.metric, d), d.significant()))
}

/// The sentence above the winners table.
pub(crate) fn winners_intro(c: &Comparison) -> String {
    if c.seeds.len() < 2 {
        "With one seed there is no confidence interval, so no lead is significant: the leader is \
         only the best on this seed. Run with --seeds 2 or more (or --seeds auto)."
            .to_owned()
    } else {
        format!(
            "Every strategy ran on the same {} seeds (same arrivals, same world), so strategies \
             are compared seed by seed. The leader by mean is named the winner only when its lead \
             over every other strategy is significant: the 95% confidence interval of the mean \
             per-seed difference excludes 0. The lead column is leader − runner-up.",
            c.seeds.len()
        )
    }
}

/// The sentence above the table of differences from the baseline.
pub(crate) fn diffs_intro(c: &Comparison) -> String {
    let seeds = c.seeds.len();
    let ci = if seeds < 2 {
        "with one seed there is no confidence interval and nothing is significant".to_owned()
    } else {
        format!(
            "the mean over the {seeds} seeds ± the half-width of its 95% confidence interval \
             (Student's t, {} degrees of freedom), in bold where the interval excludes 0",
            seeds - 1
        )
    };
    format!(
        "Each cell is strategy − baseline on the same seed: {ci}. Baseline: {}. Success rate \
         differences are in percentage points (pp), latencies in ms; whether a difference is \
         good depends on the metric (higher success rate, lower everything else).",
        baseline_words(c)
    )
}
