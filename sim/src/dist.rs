//! Distributions for latencies and token counts, as written in scenario files.
//!
//! ```toml
//! ttft = { lognormal = { median = "400ms", p99 = "2s" } }
//! per_token = { gamma = { shape = 4.0, mean = "12ms" } }
//! output_tokens = { percentiles = { p50 = 180, p90 = 700, p99 = 2000 } }
//! ```
//! Durations are strings (`"400ms"`) and come out in seconds; counts are plain numbers.

use std::collections::BTreeMap;

use rand::Rng as _;
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Normal};
use serde::Deserialize;

use crate::scenario::limits;
use crate::Rng;

/// z-score of the 99th percentile of a standard normal.
const Z99: f64 = 2.326_347_874;

/// A number as written: a plain number or a duration string.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Value {
    /// A plain number.
    Number(f64),
    /// A duration such as `"400ms"`.
    Text(String),
}

/// What a distribution's values measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Durations, written as strings, sampled in seconds.
    Seconds,
    /// Counts (tokens), written as numbers.
    Count,
}

impl Value {
    fn resolve(&self, unit: Unit) -> Result<f64, String> {
        let v = match (self, unit) {
            (Value::Number(n), Unit::Count) => *n,
            (Value::Text(t), Unit::Seconds) => engine::config::duration::parse(t)?.as_secs_f64(),
            (Value::Number(n), Unit::Seconds) => {
                return Err(format!(
                    "{n} has no unit; expected a duration string such as \"{n}ms\""
                ))
            }
            (Value::Text(t), Unit::Count) => {
                return Err(format!("{t:?} is not a number; expected a token count"))
            }
        };
        let max = unit.max();
        if v.is_finite() && (0.0..=max).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{v:?} is out of range; expected {}", unit.range()))
        }
    }
}

impl Unit {
    /// Largest value a distribution of this unit may state (seconds or tokens).
    pub fn max(self) -> f64 {
        match self {
            Unit::Seconds => limits::MAX_LATENCY.as_secs_f64(),
            Unit::Count => limits::MAX_TOKENS,
        }
    }

    fn range(self) -> &'static str {
        match self {
            Unit::Seconds => "a duration from 0 to 1 day",
            Unit::Count => "a token count from 0 to 2000000",
        }
    }
}

/// Largest value [`Dist::sample`] returns (a heavy tail is cut here; NaN becomes 0).
pub const MAX_SAMPLE: f64 = 1e12;

/// A distribution as written in a scenario file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum DistSpec {
    /// Always the same value.
    Constant(Value),
    /// Exponential with this mean (memoryless service, M/M/c).
    Exponential {
        /// The mean.
        mean: Value,
    },
    /// Log-normal from its median and either its 99th percentile or σ.
    Lognormal {
        /// The median (e^μ).
        median: Value,
        /// The 99th percentile.
        #[serde(default)]
        p99: Option<Value>,
        /// σ of the underlying normal.
        #[serde(default)]
        sigma: Option<f64>,
    },
    /// Gamma with this shape and mean.
    Gamma {
        /// Shape k.
        shape: f64,
        /// The mean (k·θ).
        mean: Value,
    },
    /// Normal, truncated at zero.
    Normal {
        /// The mean.
        mean: Value,
        /// The standard deviation.
        std: Value,
    },
    /// Empirical: percentiles such as `p50`, `p90`, `p99` (and optionally `p0`, `p100`),
    /// interpolated linearly between them.
    Percentiles(BTreeMap<String, Value>),
}

/// A ready-to-sample distribution (values ≥ 0).
#[derive(Debug, Clone)]
pub enum Dist {
    /// Always this value.
    Constant(f64),
    /// Exponential.
    Exponential(Exp<f64>),
    /// Log-normal.
    LogNormal(LogNormal<f64>),
    /// Gamma.
    Gamma(Gamma<f64>),
    /// Normal truncated at 0.
    Normal(Normal<f64>),
    /// Piecewise-linear inverse CDF through (quantile, value) points.
    Empirical(Vec<(f64, f64)>),
}

impl DistSpec {
    /// Checks the parameters and builds the sampler.
    pub fn build(&self, unit: Unit) -> Result<Dist, String> {
        Ok(match self {
            DistSpec::Constant(v) => Dist::Constant(v.resolve(unit)?),
            DistSpec::Exponential { mean } => {
                let mean = positive(mean.resolve(unit)?, "mean")?;
                Dist::Exponential(Exp::new(1.0 / mean).map_err(|e| e.to_string())?)
            }
            DistSpec::Lognormal { median, p99, sigma } => {
                let median = positive(median.resolve(unit)?, "median")?;
                let sigma = match (p99, sigma) {
                    (Some(p99), None) => {
                        let p99 = p99.resolve(unit)?;
                        if p99 < median {
                            return Err("p99 is below the median".into());
                        }
                        (p99 / median).ln() / Z99
                    }
                    (None, Some(s)) if (0.0..=limits::MAX_SIGMA).contains(s) => *s,
                    (None, Some(s)) => {
                        return Err(format!(
                            "sigma {s:?} is out of range; expected 0 to {}",
                            limits::MAX_SIGMA
                        ))
                    }
                    _ => return Err("give exactly one of p99 or sigma (≥ 0)".into()),
                };
                if sigma > limits::MAX_SIGMA {
                    return Err(format!(
                        "p99 / median is too large (σ = {sigma:.1}); expected σ ≤ {}",
                        limits::MAX_SIGMA
                    ));
                }
                Dist::LogNormal(LogNormal::new(median.ln(), sigma).map_err(|e| e.to_string())?)
            }
            DistSpec::Gamma { shape, mean } => {
                let (lo, hi) = limits::GAMMA_SHAPE;
                if !(lo..=hi).contains(shape) {
                    return Err(format!(
                        "shape {shape:?} is out of range; expected {lo} to {hi}"
                    ));
                }
                let shape = *shape;
                let mean = positive(mean.resolve(unit)?, "mean")?;
                Dist::Gamma(Gamma::new(shape, mean / shape).map_err(|e| e.to_string())?)
            }
            DistSpec::Normal { mean, std } => Dist::Normal(
                Normal::new(mean.resolve(unit)?, std.resolve(unit)?).map_err(|e| e.to_string())?,
            ),
            DistSpec::Percentiles(table) => {
                let mut points = Vec::with_capacity(table.len() + 1);
                for (key, v) in table {
                    let q: f64 = key
                        .strip_prefix('p')
                        .and_then(|n| n.parse().ok())
                        .filter(|q| (0.0..=100.0).contains(q))
                        .ok_or_else(|| {
                            format!("{key:?} is not a percentile; expected keys like p50, p99.9")
                        })?;
                    points.push((q / 100.0, v.resolve(unit)?));
                }
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                if points.is_empty() {
                    return Err("no percentiles given".into());
                }
                if points[0].0 > 0.0 {
                    points.insert(0, (0.0, 0.0));
                }
                if points.windows(2).any(|w| w[1].1 < w[0].1) {
                    return Err("percentile values must not decrease".into());
                }
                Dist::Empirical(points)
            }
        })
    }
}

fn positive(v: f64, name: &str) -> Result<f64, String> {
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(format!("{name} must be > 0, got {v:?}"))
    }
}

impl Dist {
    /// Draws one value: never negative, never above [`MAX_SAMPLE`], never NaN.
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        let v = self.draw(rng);
        if v.is_nan() {
            0.0
        } else {
            v.clamp(0.0, MAX_SAMPLE)
        }
    }

    fn draw(&self, rng: &mut Rng) -> f64 {
        match self {
            Dist::Constant(v) => *v,
            Dist::Exponential(d) => d.sample(rng),
            Dist::LogNormal(d) => d.sample(rng),
            Dist::Gamma(d) => d.sample(rng),
            Dist::Normal(d) => d.sample(rng).max(0.0),
            Dist::Empirical(points) => {
                let u = rng.random::<f64>();
                let i = points.partition_point(|p| p.0 <= u);
                if i == 0 {
                    return points[0].1;
                }
                if i == points.len() {
                    return points[points.len() - 1].1;
                }
                let (q0, v0) = points[i - 1];
                let (q1, v1) = points[i];
                v0 + (v1 - v0) * (u - q0) / (q1 - q0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn spec(text: &str) -> DistSpec {
        #[derive(Deserialize)]
        struct W {
            d: DistSpec,
        }
        toml::from_str::<W>(&format!("d = {text}"))
            .expect("a distribution")
            .d
    }

    #[test]
    fn parameters_are_range_checked() {
        let bad = [
            (
                "{ constant = \"1000days\" }",
                Unit::Seconds,
                "at most 365 days",
            ),
            ("{ constant = 1e308 }", Unit::Count, "out of range"),
            (
                "{ lognormal = { median = \"1ns\", p99 = \"1day\" } }",
                Unit::Seconds,
                "σ",
            ),
            (
                "{ lognormal = { median = \"1s\", sigma = 1e300 } }",
                Unit::Seconds,
                "sigma",
            ),
            (
                "{ gamma = { shape = 1e-300, mean = \"1s\" } }",
                Unit::Seconds,
                "shape",
            ),
            (
                "{ normal = { mean = \"1s\", std = \"2000days\" } }",
                Unit::Seconds,
                "at most 365 days",
            ),
        ];
        for (text, unit, needle) in bad {
            let e = spec(text).build(unit).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn samples_are_finite_and_bounded() {
        let d = spec("{ lognormal = { median = \"1day\", sigma = 10.0 } }")
            .build(Unit::Seconds)
            .unwrap();
        let mut rng = Rng::seed_from_u64(1);
        for _ in 0..10_000 {
            let v = d.sample(&mut rng);
            assert!((0.0..=MAX_SAMPLE).contains(&v), "{v}");
        }
    }
}
