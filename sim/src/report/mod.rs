//! The human-readable comparison report, written beside the data files of
//! [`crate::output::write_comparison_files`]: `report.md`, a self-contained `index.html` (no
//! network; plots beside it, referenced relatively) and five plots as SVG and PNG:
//!
//! 1. `latency-cdf`: latency CDF per strategy, log x axis, p50 and p99 marked;
//! 2. `traffic-share`: each deployment's share of attempts over time, one panel per strategy,
//!    incident windows shaded;
//! 3. `failures`: 429s, provider errors and failed requests over time per strategy;
//! 4. `cost-p99`: cost against p99 latency, one labelled point per strategy;
//! 5. `weights`: configured weight share against actual share per deployment.
//!
//! Two configs on the same seeds (`whatif`) get the same kind of page from [`write_pair_report`].
//!
//! Everything is computed from the comparison and the scenario, iterated in fixed orders and
//! formatted with fixed precision, so the same seed gives byte-identical files.

mod cache;
mod facts;
mod format;
mod hedging;
mod html;
mod markdown;
mod narrative;
mod pair;
mod paired;
mod plots;
mod section;

use std::path::{Path, PathBuf};

use crate::compare::Comparison;
use crate::output::OutputError;
use crate::Scenario;

pub use pair::{write_pair_report, PairedRuns};

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
    /// A plot could not be drawn.
    #[error("cannot draw {path}: {message}")]
    Plot {
        /// The plot's file.
        path: PathBuf,
        /// What plotters said.
        message: String,
    },
}

/// The data files the report links to, with what each holds (linked only when present).
const DATA_FILES: [(&str, &str); 6] = [
    (
        "summary.csv",
        "one row per strategy: each headline metric's mean and 95% confidence half-width over seeds, and its paired difference from the baseline with half-width and significance",
    ),
    ("runs.csv", "one row per strategy × seed: every run's summary"),
    (
        "deployments.csv",
        "one row per run × deployment: configured and actual share, attempts, 429s, errors, latency, cost",
    ),
    (
        "timeseries.csv",
        "one row per strategy × time bucket × deployment (first seed): attempts, successes, 429s, errors",
    ),
    (
        "clients.csv",
        "one row per run × client: requests, success rate, refusals by the client's own limits by reason, latency, spend",
    ),
    (
        "summary.json",
        "the summaries and per-deployment rows of every run, with its strategy's paired differences",
    ),
];

/// Writes `report.md`, `index.html` and the plots into `dir` (created if missing) and returns
/// the paths written, report files first.
pub fn write_report(
    dir: &Path,
    scenario: &Scenario,
    c: &Comparison,
) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|cause| OutputError::Io {
        path: dir.to_owned(),
        cause,
    })?;
    let facts = facts::Facts::new(scenario, c);
    let (plots, plot_files) = plots::render_all(dir, &facts)?;
    let verdicts = crate::paired::verdicts(c);
    let doc = Document {
        facts: &facts,
        winners: paired::winners(c, &verdicts),
        verdicts,
        sentences: narrative::sentences(&facts),
        incidents: narrative::incidents_line(&facts),
        plots,
        data: DATA_FILES
            .iter()
            .filter(|(name, _)| dir.join(name).is_file())
            .copied()
            .collect(),
    };
    let md = dir.join("report.md");
    markdown::write(&md, &doc)?;
    let html = dir.join("index.html");
    html::write(&html, &doc)?;
    let mut files = vec![md, html];
    files.extend(plot_files);
    Ok(files)
}

/// Everything both renderings (Markdown and HTML) show.
pub(crate) struct Document<'a> {
    /// The data.
    pub facts: &'a facts::Facts<'a>,
    /// Winner (or none) per headline metric, in words.
    pub winners: Vec<paired::Winner>,
    /// The paired verdict per headline metric.
    pub verdicts: Vec<crate::paired::MetricVerdict>,
    /// One sentence per strategy.
    pub sentences: Vec<format::Rich>,
    /// The incidents, if any.
    pub incidents: Option<format::Rich>,
    /// The plots drawn.
    pub plots: Vec<plots::Plot>,
    /// Data files present, with descriptions.
    pub data: Vec<(&'static str, &'static str)>,
}

impl Document<'_> {
    /// The opening paragraph: what was compared, over how many seeds and requests.
    pub fn intro(&self) -> format::Rich {
        let f = self.facts;
        let c = f.comparison;
        let runs: Vec<&crate::RunResult> = c.strategies.iter().flat_map(|s| &s.runs).collect();
        let requests = if runs.is_empty() {
            0
        } else {
            runs.iter().map(|r| r.summary.requests).sum::<u64>() / runs.len() as u64
        };
        let mut r = format::Rich::default();
        r.text(format!(
            "{} on the same seeded workload and world, {}, {} requests per run over {} of simulated time. \
             Gateway config: {} in {}.",
            match f.strategies.len() {
                1 => "1 strategy".to_owned(),
                n => format!("{n} strategies"),
            },
            match c.seeds.as_slice() {
                [one] => format!("seed {one}"),
                seeds => format!(
                    "{} seeds ({}); values are means ± 95% confidence half-widths",
                    seeds.len(),
                    seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                ),
            },
            format::thousands(requests),
            format::clock(f.span_s()),
            match f.deployments.len() {
                1 => "1 deployment".to_owned(),
                n => format!("{n} deployments"),
            },
            match f.tiers.len() {
                1 => "1 tier".to_owned(),
                n => format!("{n} tiers"),
            },
        ));
        r
    }
}

#[cfg(test)]
mod tests;
