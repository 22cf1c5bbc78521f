//! The workload's token distributions: percentiles of the trace's token counts, and the
//! distribution spec the fitted scenario states them as.

use super::Fit;
use crate::dist::{DistSpec, Value};

/// Percentiles written for token distributions.
const TOKEN_PERCENTILES: [f64; 34] = [
    0.0, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0, 65.0,
    70.0, 75.0, 80.0, 85.0, 90.0, 95.0, 96.0, 97.0, 98.0, 99.0, 99.5, 99.8, 99.9, 99.95, 99.99,
    99.995, 99.999, 100.0,
];

/// [`TOKEN_PERCENTILES`] of a token-count histogram (the median 1 when empty).
pub(super) fn token_percentiles(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return vec![(50.0, 1)];
    }
    TOKEN_PERCENTILES
        .iter()
        .map(|&p| {
            let v = match p {
                0.0 => h.min(),
                100.0 => h.max(),
                _ => h.value_at_quantile(p / 100.0),
            };
            (p, v)
        })
        .collect()
}

impl Fit {
    /// The fitted output-token distribution, as the scenario states it.
    pub fn output_tokens_spec(&self) -> DistSpec {
        percentiles_spec(&self.output_tokens)
    }

    /// The fitted input-token distribution, as the scenario states it.
    pub fn input_tokens_spec(&self) -> DistSpec {
        percentiles_spec(&self.input_tokens)
    }
}

fn percentiles_spec(points: &[(f64, u64)]) -> DistSpec {
    DistSpec::Percentiles(
        points
            .iter()
            .map(|(p, v)| (format!("p{p}"), Value::Number(*v as f64)))
            .collect(),
    )
}
