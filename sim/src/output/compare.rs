//! A comparison's data files and terminal table: each strategy's mean ± 95 % CI per headline
//! metric, and its paired difference from the baseline ([`crate::paired`]).

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    text_table, write_atomically, write_csv, write_deployments_csv, write_summary_csv,
    write_timeseries_csv, OutputError,
};
use crate::compare::{Comparison, METRICS};
use crate::paired::{verdicts, MetricVerdict};
use crate::stats::{DeploymentRow, Summary};
use crate::RunResult;

/// A number for a CSV cell; empty when undefined (NaN), e.g. the interval of one seed.
fn cell(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else {
        format!("{v}")
    }
}

/// Writes a comparison's data files into `dir`: `summary.csv` (one row per strategy: the mean
/// of each headline metric over seeds and its 95 % confidence half-width, then per metric the
/// baseline, the paired difference from it, its half-width and whether it is significant),
/// `runs.csv` (one row per strategy × seed), `deployments.csv` (per run × deployment),
/// `timeseries.csv` (the first seed of each strategy), `clients.csv` (per run × `[[client]]`,
/// only when the scenario has clients) and `summary.json` (every run, with its strategy's
/// paired differences).
pub fn write_comparison_files(dir: &Path, c: &Comparison) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir).map_err(|cause| OutputError::Io {
        path: dir.to_owned(),
        cause,
    })?;
    let verdicts = verdicts(c);
    let path = dir.join("summary.csv");
    let mut header = vec![
        "strategy".to_owned(),
        "seeds".to_owned(),
        "requests".to_owned(),
    ];
    for (m, _) in METRICS {
        header.push(m.to_owned());
        header.push(format!("{m}_ci95"));
    }
    for (m, _) in METRICS {
        for suffix in ["baseline", "diff", "diff_ci95", "significant"] {
            header.push(format!("{m}_{suffix}"));
        }
    }
    let mut rows = vec![header];
    for (i, s) in c.strategies.iter().enumerate() {
        let requests = s
            .runs
            .iter()
            .map(|r| r.summary.requests as f64)
            .sum::<f64>()
            / s.runs.len().max(1) as f64;
        let mut row = vec![
            s.strategy.name().to_owned(),
            s.runs.len().to_string(),
            format!("{requests}"),
        ];
        for (m, _) in METRICS {
            let e = s.estimate(m);
            row.push(format!("{}", e.mean));
            row.push(format!("{}", e.ci95));
        }
        for v in &verdicts {
            let d = &v.vs_baseline[i];
            row.push(c.strategies[v.baseline].strategy.name().to_owned());
            row.push(cell(d.diff));
            row.push(cell(d.ci95));
            row.push(if d.significant() { "yes" } else { "no" }.to_owned());
        }
        rows.push(row);
    }
    write_csv(&path, rows)?;
    let all: Vec<&RunResult> = c.strategies.iter().flat_map(|s| &s.runs).collect();
    let summaries: Vec<&Summary> = all.iter().map(|r| &r.summary).collect();
    write_summary_csv(&dir.join("runs.csv"), &summaries)?;
    let deployments: Vec<&DeploymentRow> = all.iter().flat_map(|r| &r.deployments).collect();
    write_deployments_csv(&dir.join("deployments.csv"), &deployments)?;
    let firsts: Vec<&RunResult> = c.strategies.iter().map(|s| s.first()).collect();
    write_timeseries_csv(&dir.join("timeseries.csv"), &firsts)?;
    let clients: Vec<&crate::clients::ClientRow> = all.iter().flat_map(|r| &r.clients).collect();
    if !clients.is_empty() {
        write_csv(&dir.join("clients.csv"), clients)?;
    }
    write_comparison_json(&dir.join("summary.json"), c, &verdicts)
}

/// One strategy's paired difference from the baseline on one metric, as `summary.json` has it.
#[derive(serde::Serialize)]
struct PairedJson<'a> {
    baseline: &'a str,
    diff: f64,
    ci95: f64,
    significant: bool,
}

/// `summary.json` of a comparison: every run's summary and deployments, as `simulate` writes
/// them, plus `paired`: its strategy's difference from the baseline per metric (the same for
/// every seed of a strategy; `ci95` is null with one seed).
fn write_comparison_json(
    path: &Path,
    c: &Comparison,
    verdicts: &[MetricVerdict],
) -> Result<(), OutputError> {
    #[derive(serde::Serialize)]
    struct Run<'a> {
        summary: &'a Summary,
        deployments: &'a [DeploymentRow],
        paired: &'a BTreeMap<&'static str, PairedJson<'a>>,
    }
    let paired: Vec<BTreeMap<&'static str, PairedJson<'_>>> = (0..c.strategies.len())
        .map(|i| {
            verdicts
                .iter()
                .map(|v| {
                    let d = &v.vs_baseline[i];
                    (
                        v.metric,
                        PairedJson {
                            baseline: c.strategies[v.baseline].strategy.name(),
                            diff: d.diff,
                            ci95: d.ci95,
                            significant: d.significant(),
                        },
                    )
                })
                .collect()
        })
        .collect();
    let runs: Vec<Run<'_>> = c
        .strategies
        .iter()
        .zip(&paired)
        .flat_map(|(s, p)| {
            s.runs.iter().map(move |r| Run {
                summary: &r.summary,
                deployments: &r.deployments,
                paired: p,
            })
        })
        .collect();
    write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &runs).map_err(std::io::Error::other)?;
        writeln!(w)
    })
}

/// The comparison table: each headline metric's mean (± 95 % CI with several seeds).
pub fn comparison_table(c: &Comparison) -> String {
    let mut rows = vec![std::iter::once("strategy".to_owned())
        .chain(METRICS.iter().map(|(_, label)| (*label).to_owned()))
        .collect::<Vec<_>>()];
    for s in &c.strategies {
        let mut row = vec![s.strategy.name().to_owned()];
        for (m, _) in METRICS {
            let e = s.estimate(m);
            let value = match m {
                "success_rate" => format!("{:.2}%", e.mean * 100.0),
                "attempts_per_request" => format!("{:.3}", e.mean),
                "cost" => format!("{:.2}", e.mean),
                _ => format!("{:.0}", e.mean),
            };
            let ci = match m {
                _ if c.seeds.len() < 2 => String::new(),
                "success_rate" => format!(" ±{:.2}", e.ci95 * 100.0),
                "attempts_per_request" => format!(" ±{:.3}", e.ci95),
                "cost" => format!(" ±{:.2}", e.ci95),
                _ => format!(" ±{:.0}", e.ci95),
            };
            row.push(value + &ci);
        }
        rows.push(row);
    }
    text_table(&rows)
}
