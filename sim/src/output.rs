//! Run results as files and tables: `summary.csv`, `deployments.csv`, `timeseries.csv`,
//! `summary.json`, and the plain-text table `simulate` prints; a comparison's files and table are
//! in [`compare`](write_comparison_files).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::stats::{Column, DeploymentRow, Summary};
use crate::RunResult;

mod compare;

pub use compare::{comparison_table, write_comparison_files};

/// Why results could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file could not be created or written.
    #[error("cannot write {path}: {cause}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause (shown in the message, so not a `source`: chains would repeat it).
        cause: std::io::Error,
    },
    /// A CSV row could not be written.
    #[error("cannot write {path}: {cause}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// The cause.
        cause: csv::Error,
    },
}

/// Writes `content` to `path` through a temporary file and a rename, so a failed write never
/// leaves a truncated file where a good one was; an existing `path` that is not a regular file
/// (a symlink, a FIFO, a device) is refused (see [`crate::files::write_atomically`]).
pub fn write_atomically(
    path: &Path,
    content: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), OutputError> {
    crate::files::write_atomically(path, content).map_err(|cause| OutputError::Io {
        path: path.to_owned(),
        cause,
    })
}

pub(crate) fn write_csv<T: serde::Serialize>(
    path: &Path,
    rows: impl IntoIterator<Item = T>,
) -> Result<(), OutputError> {
    let mut err = None;
    write_atomically(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        for row in rows {
            if let Err(e) = csv.serialize(row) {
                err = Some(e);
                return Ok(());
            }
        }
        csv.flush()
    })?;
    match err {
        Some(cause) => Err(OutputError::Csv {
            path: path.to_owned(),
            cause,
        }),
        None => Ok(()),
    }
}

/// `summary.csv`: one row per run.
pub fn write_summary_csv(path: &Path, results: &[&Summary]) -> Result<(), OutputError> {
    write_csv(path, results.iter().copied())
}

/// `deployments.csv`: one row per run × deployment.
pub fn write_deployments_csv(path: &Path, rows: &[&DeploymentRow]) -> Result<(), OutputError> {
    write_csv(path, rows.iter().copied())
}

/// One row of `timeseries.csv`.
#[derive(serde::Serialize)]
struct TimeRow<'a> {
    strategy: &'a str,
    seed: u64,
    bucket_start_s: f64,
    deployment: &'a str,
    attempts: u64,
    ok: u64,
    rate_limited: u64,
    errors: u64,
    share: f64,
    requests_ok: u64,
    requests_failed: u64,
    mean_latency_ms: f64,
}

/// `timeseries.csv`: one row per run × bucket × deployment.
pub fn write_timeseries_csv(path: &Path, results: &[&RunResult]) -> Result<(), OutputError> {
    let rows = results.iter().flat_map(|r| {
        let ts = &r.timeseries;
        (0..ts.len()).flat_map(move |b| {
            let total: u64 = (0..ts.deployments.len())
                .map(|d| ts.get(b, d, Column::Attempts))
                .sum();
            let (requests_ok, requests_failed, mean_latency_ms) = ts.requests(b);
            ts.deployments.iter().enumerate().map(move |(d, id)| {
                let attempts = ts.get(b, d, Column::Attempts);
                TimeRow {
                    strategy: &r.summary.strategy,
                    seed: r.summary.seed,
                    bucket_start_s: b as f64 * ts.bucket.as_secs_f64(),
                    deployment: id,
                    attempts,
                    ok: ts.get(b, d, Column::Ok),
                    rate_limited: ts.get(b, d, Column::RateLimited),
                    errors: ts.get(b, d, Column::Errors),
                    share: if total > 0 {
                        attempts as f64 / total as f64
                    } else {
                        0.0
                    },
                    requests_ok,
                    requests_failed,
                    mean_latency_ms,
                }
            })
        })
    });
    write_csv(path, rows)
}

/// `summary.json`: the summaries and per-deployment rows of every run.
pub fn write_summary_json(path: &Path, results: &[&RunResult]) -> Result<(), OutputError> {
    #[derive(serde::Serialize)]
    struct Run<'a> {
        summary: &'a Summary,
        deployments: &'a [DeploymentRow],
    }
    let runs: Vec<Run<'_>> = results
        .iter()
        .map(|r| Run {
            summary: &r.summary,
            deployments: &r.deployments,
        })
        .collect();
    write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &runs).map_err(std::io::Error::other)?;
        writeln!(w)
    })
}

/// Writes all four files of a set of runs into `dir` (created if missing), and `clients.csv`
/// when the scenario has clients.
pub fn write_run_files(dir: &Path, results: &[&RunResult]) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir).map_err(|cause| OutputError::Io {
        path: dir.to_owned(),
        cause,
    })?;
    let summaries: Vec<&Summary> = results.iter().map(|r| &r.summary).collect();
    let deployments: Vec<&DeploymentRow> = results.iter().flat_map(|r| &r.deployments).collect();
    write_summary_csv(&dir.join("summary.csv"), &summaries)?;
    write_deployments_csv(&dir.join("deployments.csv"), &deployments)?;
    write_timeseries_csv(&dir.join("timeseries.csv"), results)?;
    let clients: Vec<&crate::clients::ClientRow> =
        results.iter().flat_map(|r| &r.clients).collect();
    if !clients.is_empty() {
        write_csv(&dir.join("clients.csv"), clients)?;
    }
    write_summary_json(&dir.join("summary.json"), results)
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// `s` padded with spaces to `width` characters, on the right when `left` (aligned left), else
/// on the left. Unlike `format!("{s:<w$}")` this has no limit on the width (std's formatting
/// panics past 65,535).
fn pad(s: &str, width: usize, left: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(s.chars().count()));
    if left {
        format!("{s}{fill}")
    } else {
        format!("{fill}{s}")
    }
}

/// The width in characters of each column of `rows` (rows may differ in length).
pub fn column_widths(rows: &[Vec<String>]) -> Vec<usize> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// A fixed-width text table of rows (first row is the header).
pub fn text_table(rows: &[Vec<String>]) -> String {
    let widths = column_widths(rows);
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, s)| pad(s, widths[c], c == 0))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("  "));
            out.push('\n');
        }
    }
    out
}

/// The per-strategy summary table.
pub fn summary_table(summaries: &[&Summary]) -> String {
    let mut rows = vec![[
        "strategy",
        "requests",
        "success",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "attempts/req",
        "429s",
        "fallbacks",
        "errors",
        "cost",
    ]
    .map(String::from)
    .to_vec()];
    for s in summaries {
        rows.push(vec![
            s.strategy.clone(),
            s.requests.to_string(),
            pct(s.success_rate),
            format!("{:.0}", s.latency_p50_ms),
            format!("{:.0}", s.latency_p90_ms),
            format!("{:.0}", s.latency_p99_ms),
            format!("{:.0}", s.latency_max_ms),
            format!("{:.3}", s.attempts_per_request),
            s.rate_limit_hits.to_string(),
            s.fallbacks.to_string(),
            (s.server_errors + s.timeouts + s.connection_errors).to_string(),
            format!("{:.2}", s.cost),
        ]);
    }
    text_table(&rows)
}

/// The per-deployment table of one run.
pub fn deployment_table(rows: &[DeploymentRow]) -> String {
    let mut table = vec![[
        "deployment",
        "tier",
        "weight share",
        "actual share",
        "attempts",
        "success",
        "429s",
        "errors",
        "p50 ms",
        "p99 ms",
        "cost",
    ]
    .map(String::from)
    .to_vec()];
    for d in rows {
        table.push(vec![
            d.deployment.clone(),
            d.tier.clone(),
            pct(d.configured_share),
            pct(d.actual_share),
            d.attempts.to_string(),
            pct(d.success_rate),
            d.rate_limited.to_string(),
            (d.server_errors + d.timeouts + d.connection_errors).to_string(),
            format!("{:.0}", d.latency_p50_ms),
            format!("{:.0}", d.latency_p99_ms),
            format!("{:.2}", d.cost),
        ]);
    }
    text_table(&table)
}
