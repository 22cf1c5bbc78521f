//! `--fail-on` rules: which paired differences count as a regression.
//!
//! A rule is `METRIC<THRESHOLD` or `METRIC>THRESHOLD`; rules are comma-separated. The threshold
//! is in the metric's unit, or with `pt` in percentage points (success rate), or with `%`
//! relative to the baseline's mean. A rule fails when the candidate's paired difference is
//! significant (its 95 % interval excludes 0) and its mean lies past the threshold:
//! `success_rate<-0.1pt` fails when the candidate loses more than 0.1 points of success rate;
//! `p99>+5%` when its p99 grows by more than 5 %.

use std::fmt;

use sim::paired::PairedDiff;

/// One rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The metric, as in `summary.csv` (`success_rate`, `latency_p99_ms`, …).
    pub metric: &'static str,
    /// `true` for `<` (fail when lower), `false` for `>`.
    pub below: bool,
    /// The threshold.
    pub threshold: f64,
    /// How the threshold is measured.
    pub unit: Unit,
    /// The rule as written.
    pub text: String,
}

/// The unit of a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// The metric's own unit.
    Absolute,
    /// Percentage points (a rate × 100).
    Points,
    /// Percent of the baseline's mean.
    Percent,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Metric names and the short aliases accepted in rules.
const ALIASES: [(&str, &str); 14] = [
    ("success_rate", "success_rate"),
    ("success", "success_rate"),
    ("latency_p50_ms", "latency_p50_ms"),
    ("p50", "latency_p50_ms"),
    ("latency_p99_ms", "latency_p99_ms"),
    ("p99", "latency_p99_ms"),
    ("latency_mean_ms", "latency_mean_ms"),
    ("mean", "latency_mean_ms"),
    ("rate_limit_hits", "rate_limit_hits"),
    ("429s", "rate_limit_hits"),
    ("attempts_per_request", "attempts_per_request"),
    ("attempts", "attempts_per_request"),
    ("fallbacks", "fallbacks"),
    ("cost", "cost"),
];

/// Parses `--fail-on`.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(parse_rule)
        .collect()
}

fn parse_rule(text: &str) -> Result<Rule, String> {
    let (name, below, value) = if let Some((n, v)) = text.split_once('<') {
        (n, true, v)
    } else if let Some((n, v)) = text.split_once('>') {
        (n, false, v)
    } else {
        return Err(format!(
            "--fail-on rule {text:?}: expected METRIC<THRESHOLD or METRIC>THRESHOLD, e.g. \
             \"success_rate<-0.1pt\" or \"p99>+5%\""
        ));
    };
    let metric = ALIASES
        .iter()
        .find(|(alias, _)| *alias == name.trim())
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            let names: Vec<&str> = ALIASES.iter().map(|(a, _)| *a).collect();
            format!(
                "--fail-on rule {text:?}: unknown metric {:?}; expected one of {}",
                name.trim(),
                names.join(", ")
            )
        })?;
    let value = value.trim();
    let (number, unit) = if let Some(n) = value.strip_suffix("pt") {
        (n, Unit::Points)
    } else if let Some(n) = value.strip_suffix('%') {
        (n, Unit::Percent)
    } else {
        (value, Unit::Absolute)
    };
    let threshold: f64 = number
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| {
            format!("--fail-on rule {text:?}: {value:?} is not a number (with pt or % if wanted)")
        })?;
    if unit == Unit::Points && metric != "success_rate" {
        return Err(format!(
            "--fail-on rule {text:?}: pt (percentage points) only applies to success_rate"
        ));
    }
    Ok(Rule {
        metric,
        below,
        threshold,
        unit,
        text: text.to_owned(),
    })
}

impl Rule {
    /// Whether this paired difference (candidate − baseline, whose baseline mean is `base`)
    /// breaks the rule.
    pub fn fails(&self, d: &PairedDiff, base: f64) -> bool {
        if !d.significant() {
            return false;
        }
        let value = match self.unit {
            Unit::Absolute => d.diff,
            Unit::Points => d.diff * 100.0,
            Unit::Percent if base != 0.0 => d.diff / base.abs() * 100.0,
            // From nothing, any significant change is an unbounded one in its direction:
            // 0 → 395 429s breaks `429s>+10%`.
            Unit::Percent => f64::INFINITY.copysign(d.diff),
        };
        if self.below {
            value < self.threshold
        } else {
            value > self.threshold
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text: parsing never panics, and every rule it accepts is well formed.
        #[test]
        fn any_text_is_parsed_or_refused(text in "\\PC{0,40}|[a-z_0-9<>+%., -]{0,40}") {
            if let Ok(rules) = parse_rules(&text) {
                for r in rules {
                    prop_assert!(r.threshold.is_finite());
                    prop_assert!(ALIASES.iter().any(|(_, m)| *m == r.metric));
                    prop_assert!(r.unit != Unit::Points || r.metric == "success_rate");
                    prop_assert!(!r.text.is_empty() && !r.text.contains(','));
                }
            }
        }

        /// Rules written from their parts, with any spacing, parse back to those parts.
        #[test]
        fn written_rules_parse_back(
            parts in prop::collection::vec(
                (0..ALIASES.len(), any::<bool>(), -1e6f64..1e6, 0..3u8, " {0,2}", any::<bool>()),
                1..5,
            )
        ) {
            let mut texts = Vec::new();
            let mut expected = Vec::new();
            for (alias, below, threshold, unit, pad, plus) in &parts {
                let (name, metric) = ALIASES[*alias];
                let unit = match unit {
                    1 if metric == "success_rate" => Unit::Points,
                    2 => Unit::Percent,
                    _ => Unit::Absolute,
                };
                let suffix = match unit {
                    Unit::Points => "pt",
                    Unit::Percent => "%",
                    Unit::Absolute => "",
                };
                let op = if *below { '<' } else { '>' };
                let sign = if *plus && *threshold >= 0.0 { "+" } else { "" };
                texts.push(format!("{pad}{name}{pad}{op}{pad}{sign}{threshold}{pad}{suffix}{pad}"));
                expected.push((metric, *below, *threshold, unit));
            }
            let rules = parse_rules(&texts.join(",")).expect("written rules parse");
            let got: Vec<_> = rules.iter().map(|r| (r.metric, r.below, r.threshold, r.unit)).collect();
            prop_assert_eq!(got, expected);
        }
    }

    fn diff(values: &[f64]) -> PairedDiff {
        PairedDiff::of(values, &vec![0.0; values.len()])
    }

    #[test]
    fn rules_parse_with_units_and_aliases() {
        let r = parse_rules("success_rate<-0.1pt, p99>+5%,429s>10").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(
            (r[0].metric, r[0].below, r[0].unit),
            ("success_rate", true, Unit::Points)
        );
        assert_eq!(
            (r[1].metric, r[1].threshold, r[1].unit),
            ("latency_p99_ms", 5.0, Unit::Percent)
        );
        assert_eq!(
            (r[2].metric, r[2].unit),
            ("rate_limit_hits", Unit::Absolute)
        );
        for bad in ["p99=5", "speed>1", "p99>fast", "p99>5pt", "p99>inf"] {
            assert!(parse_rules(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_significant_differences_past_the_threshold_fail() {
        let r = &parse_rules("success_rate<-0.1pt").unwrap()[0];
        // −0.5 points, consistently: fails.
        assert!(r.fails(&diff(&[-0.005, -0.0051, -0.0049, -0.005]), 0.99));
        // −0.05 points: within the threshold.
        assert!(!r.fails(&diff(&[-0.0005, -0.0004, -0.0006, -0.0005]), 0.99));
        // Noisy around zero: not significant.
        assert!(!r.fails(&diff(&[-0.01, 0.01, -0.012, 0.011]), 0.99));
        let p99 = &parse_rules("p99>+5%").unwrap()[0];
        assert!(p99.fails(&diff(&[100.0, 110.0, 90.0, 105.0]), 1000.0));
        assert!(!p99.fails(&diff(&[10.0, 11.0, 9.0, 10.5]), 1000.0));
        // From a baseline of none, a significant rise breaks a percent rule, a fall does not.
        let hits = &parse_rules("429s>+10%").unwrap()[0];
        assert!(hits.fails(&diff(&[395.0, 380.0, 410.0, 401.0]), 0.0));
        assert!(!hits.fails(&diff(&[-395.0, -380.0, -410.0, -401.0]), 0.0));
        assert!(!hits.fails(&diff(&[0.0, 0.0, 0.0, 0.0]), 0.0));
    }
}
