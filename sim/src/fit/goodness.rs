//! Goodness of fit: fitted against observed p50/p90/p99 of time to first token (streamed
//! successes) and of attempt latency per deployment, with the Kolmogorov–Smirnov distance
//! between the fitted and observed distributions. Fitted latency quantiles come from sampling
//! the fitted model (ttft + output tokens × per-token time), as the simulator would.

use rand::SeedableRng;
use rand_distr::{Distribution, LogNormal};

use crate::dist::Unit;
use crate::output::text_table;
use crate::Rng;

use super::latency::{ecdf, ks_histogram};
use super::stats::sample_quantiles;
use super::{DeploymentFit, Fit};

/// Samples drawn per deployment for fitted latency quantiles.
const SAMPLES: usize = 100_000;

/// Fitted and observed quantiles of one measure of one deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Goodness {
    /// Deployment id.
    pub deployment: String,
    /// `ttft` or `latency`.
    pub measure: &'static str,
    /// Observed p50, p90, p99, ms.
    pub observed: [f64; 3],
    /// Fitted p50, p90, p99, ms.
    pub fitted: [f64; 3],
    /// Kolmogorov–Smirnov distance: the largest gap between the observed and fitted CDFs.
    pub ks: Option<f64>,
}

impl Goodness {
    /// The largest relative difference |fitted − observed| / observed over the three quantiles.
    pub fn worst_relative_error(&self) -> f64 {
        self.observed
            .iter()
            .zip(&self.fitted)
            .map(|(o, f)| if *o > 0.0 { (f - o).abs() / o } else { 0.0 })
            .fold(0.0, f64::max)
    }
}

impl Fit {
    /// Fitted against observed quantiles per deployment (deployments without successes are
    /// left out); `seed` drives the sampling.
    pub fn goodness(&self, seed: u64) -> Vec<Goodness> {
        let output = self.output_tokens_spec().build(Unit::Count).ok();
        let mut rng = Rng::seed_from_u64(seed);
        let mut rows = Vec::new();
        for d in &self.deployments {
            if let Some(observed) = d.observed_ttft_ms {
                rows.push(Goodness {
                    deployment: d.id.clone(),
                    measure: "ttft",
                    observed,
                    fitted: d.ttft.quantiles().map(|s| s * 1000.0),
                    ks: d.ks_ttft,
                });
            }
            if let (Some(observed), Some(output)) = (d.observed_latency_ms, &output) {
                let mut sample = latency_sample(d, output, &mut rng);
                let fitted = sample_quantiles(&mut sample);
                let ks = ks_histogram(&d.observed_latency, |x| ecdf(&sample, x * 1000.0));
                rows.push(Goodness {
                    deployment: d.id.clone(),
                    measure: "latency",
                    observed,
                    fitted,
                    ks,
                });
            }
        }
        rows
    }
}

/// Latencies (ms) sampled from the fitted model, sorted.
fn latency_sample(d: &DeploymentFit, output: &crate::dist::Dist, rng: &mut Rng) -> Vec<f64> {
    let (Ok(ttft), Ok(per_token)) = (
        LogNormal::new(d.ttft.mu, d.ttft.sigma),
        LogNormal::new(d.per_token.mu, d.per_token.sigma),
    ) else {
        return vec![f64::NAN];
    };
    let mut values: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let tokens = output.sample(rng).round().clamp(1.0, 2_000_000.0);
            (ttft.sample(rng) + tokens * per_token.sample(rng)) * 1000.0
        })
        .collect();
    values.sort_unstable_by(f64::total_cmp);
    values
}

/// The goodness-of-fit table: observed and fitted p50/p90/p99 side by side, ms.
pub fn goodness_table(rows: &[Goodness]) -> String {
    let mut table = vec![[
        "deployment",
        "measure",
        "p50 obs",
        "p50 fit",
        "p90 obs",
        "p90 fit",
        "p99 obs",
        "p99 fit",
        "worst error",
        "KS",
    ]
    .map(String::from)
    .to_vec()];
    for g in rows {
        let mut row = vec![g.deployment.clone(), g.measure.to_owned()];
        for i in 0..3 {
            row.push(format!("{:.0}", g.observed[i]));
            row.push(format!("{:.0}", g.fitted[i]));
        }
        row.push(format!("{:.1}%", g.worst_relative_error() * 100.0));
        row.push(g.ks.map_or_else(|| "-".to_owned(), |k| format!("{k:.3}")));
        table.push(row);
    }
    text_table(&table)
}

/// Per-deployment counts and fitted rates.
pub fn rates_table(fit: &Fit) -> String {
    let mut table = vec![[
        "deployment",
        "attempts",
        "share",
        "successes",
        "5xx rate",
        "timeout rate",
        "429 share",
        "ttft median",
        "ttft σ",
        "per-token median",
        "per-token σ",
        "latency from",
    ]
    .map(String::from)
    .to_vec()];
    for d in &fit.deployments {
        let pooled = |p: bool| if p { " (pooled)" } else { "" };
        table.push(vec![
            d.id.clone(),
            d.attempts.to_string(),
            format!("{:.1}%", d.share * 100.0),
            d.successes.to_string(),
            format!("{:.2}%", d.error_rate * 100.0),
            format!("{:.2}%", d.timeout_rate * 100.0),
            format!("{:.2}%", d.rate_limited_share * 100.0),
            format!(
                "{:.1} ms{}",
                d.ttft.median() * 1000.0,
                pooled(d.ttft_pooled)
            ),
            format!("{:.3}", d.ttft.sigma),
            format!(
                "{:.3} ms{}",
                d.per_token.median() * 1000.0,
                pooled(d.per_token_pooled)
            ),
            format!("{:.3}", d.per_token.sigma),
            match d.latency_source {
                super::LatencySource::Streamed => format!("{} streamed", d.streamed),
                super::LatencySource::Whole => format!("{} non-streamed (joint)", d.whole),
                super::LatencySource::Pooled => "pooled".to_owned(),
            },
        ]);
    }
    text_table(&table)
}

/// Per-deployment fitted limits and where they come from.
pub fn limits_table(fit: &Fit) -> String {
    let mut table = vec![[
        "deployment",
        "429s",
        "minutes with 429s",
        "busiest minute",
        "fitted rpm",
        "fitted tpm",
        "from",
    ]
    .map(String::from)
    .to_vec()];
    for d in &fit.deployments {
        let show =
            |l: Option<(u64, super::LimitSource)>| l.map_or("-".to_owned(), |l| l.0.to_string());
        let from = d
            .limits
            .rpm
            .or(d.limits.tpm)
            .map_or("no 429s, no limit headers: none", |l| l.1.describe());
        table.push(vec![
            d.id.clone(),
            format!("{} ({:.2}%)", d.rate_limited, d.rate_limited_share * 100.0),
            d.limits.binding_minutes.to_string(),
            format!("{} req, {} tok", d.peak_minute.0, d.peak_minute.1),
            show(d.limits.rpm),
            show(d.limits.tpm),
            from.to_owned(),
        ]);
    }
    text_table(&table)
}
