//! Paired differences as words and numbers: the formatting every output shares (terminal,
//! `report.md`, `index.html`, `summary.csv`), the closing `best …:` lines of `compare`, the
//! terminal table of differences from the baseline, and what `--seeds auto` concluded.

use super::{verdict, MetricVerdict, PairedDiff};
use crate::compare::Comparison;

/// Fixed decimals without a sign; `-0.00` and `0.00` both come out as `0.00`.
fn unsigned(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((s.as_str(), ""));
    let digits: Vec<char> = int.chars().collect();
    let mut grouped = String::new();
    for (i, d) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(*d);
    }
    if frac.is_empty() {
        grouped
    } else {
        format!("{grouped}.{frac}")
    }
}

/// A signed value: `+0.30`, `-1,789`, `0.00` (no sign when it rounds to zero).
fn signed(v: f64, decimals: usize) -> String {
    let s = unsigned(v, decimals);
    if s.chars().all(|c| !c.is_ascii_digit() || c == '0') {
        s
    } else if v < 0.0 {
        format!("-{s}")
    } else {
        format!("+{s}")
    }
}

/// Whether a paired difference `a − b` makes `a` better or worse than `b` on the metric, in
/// words: `better`, `worse`, or `no significant difference` (its 95 % interval includes 0).
pub fn direction(metric: &str, d: &PairedDiff) -> &'static str {
    if !d.significant() {
        "no significant difference"
    } else if (d.diff > 0.0) == crate::compare::higher_is_better(metric) {
        "better"
    } else {
        "worse"
    }
}

/// A paired difference in the metric's unit, with its 95 % half-width when there is one:
/// `+0.30 pp ± 0.16` (success rate, in percentage points), `-1,789 ± 357` (ms), `+0.062 ± 0.002`.
pub fn diff_text(metric: &str, d: &PairedDiff) -> String {
    if !d.diff.is_finite() {
        return "n/a".to_owned();
    }
    let (scale, decimals, unit) = match metric {
        "success_rate" => (100.0, 2, " pp"),
        "attempts_per_request" => (1.0, 3, ""),
        "cost" => (1.0, 2, ""),
        _ if d
            .diff
            .abs()
            .max(if d.ci95.is_finite() { d.ci95 } else { 0.0 })
            < 10.0 =>
        {
            (1.0, 1, "")
        }
        _ => (1.0, 0, ""),
    };
    let value = format!("{}{unit}", signed(d.diff * scale, decimals));
    if d.ci95.is_finite() {
        format!("{value} ± {}", unsigned(d.ci95 * scale, decimals))
    } else {
        value
    }
}

/// Names as a list: `a`, `a and b`, `a, b and c`, `a, b, c and 2 more`.
pub fn name_list(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [first @ .., last] if first.len() < 3 => format!("{} and {last}", first.join(", ")),
        _ => format!("{} and {} more", names[..3].join(", "), names.len() - 3),
    }
}

/// What a verdict says beyond the winner's name, in one line of words.
pub fn explanation(c: &Comparison, v: &MetricVerdict) -> String {
    let name = |i: usize| c.strategies[i].strategy.name();
    let leader = name(v.leader());
    let Some(r) = v.runner_up() else {
        return format!("{leader} is the only strategy compared");
    };
    let seeds = v.lead[r].seeds;
    let same = |d: &PairedDiff| d.diff == 0.0 && (d.ci95 == 0.0 || d.ci95.is_nan());
    if seeds >= 2 && v.lead.iter().all(same) {
        return format!("every strategy has the same value on every one of the {seeds} seeds");
    }
    let lead = format!(
        "{leader} − {} (runner-up): {}",
        name(r),
        diff_text(v.metric, &v.lead[r])
    );
    if seeds < 2 {
        return format!(
            "{leader} is first by mean; {lead} on one seed, which gives no confidence interval (use --seeds 2 or more)"
        );
    }
    if v.winner().is_some() {
        return format!(
            "{lead}, paired over {seeds} seeds; the lead over every other strategy excludes 0"
        );
    }
    let not_ahead = v.not_ahead_of();
    let behind: Vec<&str> = not_ahead.iter().map(|&i| name(i)).collect();
    // The closest call: the first strategy (by mean) the leader is not significantly ahead of.
    let closest = not_ahead.first().map_or(r, |&i| i);
    format!(
        "{leader} is first by mean but not significantly ahead of {}; {leader} − {}{}: {}, paired over {seeds} seeds",
        name_list(&behind),
        name(closest),
        if closest == r { " (runner-up)" } else { "" },
        diff_text(v.metric, &v.lead[closest])
    )
}

/// The closing lines of `compare`: per headline metric, `best <label>: <name>` when the leader's
/// paired lead over every other strategy is significant, else `best <label>: no significant
/// difference`; each followed by an indented line of explanation.
pub fn closing_lines(c: &Comparison, verdicts: &[MetricVerdict]) -> Vec<String> {
    let mut out = Vec::new();
    for v in verdicts {
        match v.winner() {
            Some(w) => out.push(format!(
                "best {}: {}",
                v.label,
                c.strategies[w].strategy.name()
            )),
            None => out.push(format!("best {}: no significant difference", v.label)),
        }
        out.push(format!("  {}", explanation(c, v)));
    }
    out
}

/// Who the baseline is, in words: `random`, or `the best by each metric's mean`.
pub fn baseline_words(c: &Comparison) -> String {
    match c.baseline {
        Some(b) => b.name().to_owned(),
        None => "the best strategy by each metric's mean".to_owned(),
    }
}

/// The terminal table of paired differences from the baseline (`None` with fewer than two
/// strategies): a `baseline` row, then per strategy `strategy − baseline` per metric, `*`
/// where the 95 % interval excludes 0.
pub fn diff_table(c: &Comparison, verdicts: &[MetricVerdict]) -> Option<String> {
    if c.strategies.len() < 2 {
        return None;
    }
    let mut rows = vec![std::iter::once("minus baseline".to_owned())
        .chain(verdicts.iter().map(|v| v.label.to_owned()))
        .collect::<Vec<_>>()];
    rows.push(
        std::iter::once("(baseline)".to_owned())
            .chain(
                verdicts
                    .iter()
                    .map(|v| c.strategies[v.baseline].strategy.name().to_owned()),
            )
            .collect(),
    );
    for (i, s) in c.strategies.iter().enumerate() {
        let mut row = vec![s.strategy.name().to_owned()];
        for v in verdicts {
            row.push(if i == v.baseline {
                "baseline".to_owned()
            } else {
                let d = &v.vs_baseline[i];
                let mark = if d.significant() { " *" } else { "  " };
                format!("{}{mark}", diff_text(v.metric, d))
            });
        }
        rows.push(row);
    }
    Some(crate::output::text_table(&rows))
}

/// What `--seeds auto` concluded after its last batch on `metric`, in one line.
pub fn auto_line(c: &Comparison, metric: &'static str, max_seeds: usize) -> String {
    let seeds = c.seeds.len();
    let Some(v) = verdict(c, metric, None) else {
        return "seeds auto: nothing to compare".to_owned();
    };
    let name = |i: usize| c.strategies[i].strategy.name();
    match (v.winner(), v.runner_up()) {
        (Some(w), Some(r)) => format!(
            "seeds auto: decided after {seeds} seeds: {} leads on {} ({} − {}: {}; the paired interval against every other strategy excludes 0)",
            name(w),
            v.label,
            name(w),
            name(r),
            diff_text(metric, &v.lead[r])
        ),
        (_, None) => format!("seeds auto: one strategy, nothing to decide ({seeds} seeds)"),
        (None, Some(r)) => format!(
            "seeds auto: reached the cap of {max_seeds} seeds (--max-seeds) without a significant leader on {}: {} − {}: {}",
            v.label,
            name(v.leader()),
            name(r),
            diff_text(metric, &v.lead[r])
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(diff: f64, ci95: f64) -> PairedDiff {
        PairedDiff {
            diff,
            ci95,
            seeds: 20,
        }
    }

    #[test]
    fn differences_in_each_unit() {
        assert_eq!(
            diff_text("success_rate", &d(0.00296, 0.00162)),
            "+0.30 pp ± 0.16"
        );
        assert_eq!(
            diff_text("success_rate", &d(-0.00001, 0.0)),
            "0.00 pp ± 0.00"
        );
        assert_eq!(
            diff_text("latency_p99_ms", &d(-1789.13, 356.7)),
            "-1,789 ± 357"
        );
        assert_eq!(diff_text("latency_p99_ms", &d(2.54, 3.01)), "+2.5 ± 3.0");
        assert_eq!(diff_text("rate_limit_hits", &d(-121.7, 23.9)), "-122 ± 24");
        assert_eq!(
            diff_text("attempts_per_request", &d(0.0621, 0.0019)),
            "+0.062 ± 0.002"
        );
        assert_eq!(diff_text("cost", &d(-0.5649, f64::NAN)), "-0.56");
        assert_eq!(diff_text("cost", &d(f64::NAN, f64::NAN)), "n/a");
    }

    #[test]
    fn name_lists() {
        assert_eq!(name_list(&["a"]), "a");
        assert_eq!(name_list(&["a", "b"]), "a and b");
        assert_eq!(name_list(&["a", "b", "c"]), "a, b and c");
        assert_eq!(name_list(&["a", "b", "c", "d", "e"]), "a, b, c and 2 more");
    }
}
