//! The report page of two configs run on the same seeds (`switchyard whatif`): the same page as
//! a comparison's `index.html` (shared style, head, number formats and paired-difference cells),
//! with the two configs in place of the strategies: each headline metric's mean per config, the
//! paired difference candidate − baseline with its 95 % interval and the verdict, then each
//! deployment's share of attempts and 429s under both configs.

use std::fmt::Write as _;
use std::path::Path;

use crate::compare::{metric_value, Estimate, METRICS};
use crate::output::{write_atomically, OutputError};
use crate::paired::text::{diff_text, direction};
use crate::paired::PairedDiff;
use crate::RunResult;

use super::format::{html_escape as esc, metric, pct};
use super::html::{page_end, page_start};

/// Two configs' runs, paired by seed (run i of both used the same seed).
pub struct PairedRuns<'a> {
    /// The page's title.
    pub title: String,
    /// The opening paragraph (plain text): what was replayed, on which world.
    pub intro: String,
    /// Names of the two configs: baseline, then candidate.
    pub names: [&'a str; 2],
    /// The baseline's runs, in seed order.
    pub baseline: &'a [RunResult],
    /// The candidate's runs, on the same seeds in the same order.
    pub candidate: &'a [RunResult],
    /// Closing lines (plain text), e.g. the gate's outcome.
    pub notes: Vec<String>,
}

/// Writes the page to `path` (through a temporary file; a path that is not a regular file is
/// refused).
pub fn write_pair_report(path: &Path, runs: &PairedRuns<'_>) -> Result<(), OutputError> {
    let text = render(runs);
    write_atomically(path, |w| w.write_all(text.as_bytes()))
}

fn values(runs: &[RunResult], m: &str) -> Vec<f64> {
    runs.iter().map(|r| metric_value(r, m)).collect()
}

fn render(p: &PairedRuns<'_>) -> String {
    let seeds = p.baseline.len().min(p.candidate.len());
    let (base, cand) = (&p.baseline[..seeds], &p.candidate[..seeds]);
    let [bn, cn] = p.names.map(esc);
    let mut s = page_start(&p.title);
    let _ = writeln!(s, "<p class=\"lead\">{}</p>", esc(&p.intro));
    let _ = writeln!(
        s,
        "<h2 id=\"paired\">Paired differences: candidate − baseline</h2>\n<p>Both configs ran \
         on the same {seeds} seeds (same arrivals, same world draws), so each seed gives one \
         difference. Each difference is the mean over the seeds ± the half-width of its 95% \
         confidence interval, in bold where the interval excludes 0. Success rate differences \
         are in percentage points (pp), latencies in ms.</p>"
    );
    let _ = writeln!(
        s,
        "<div class=\"scroll\"><table>\n<tr><th>metric</th><th class=\"num\">baseline: {bn}</th>\
         <th class=\"num\">candidate: {cn}</th><th class=\"num\">candidate − baseline</th>\
         <th>verdict</th></tr>"
    );
    for (m, label) in METRICS {
        let (b, c) = (values(base, m), values(cand, m));
        let d = PairedDiff::of(&c, &b);
        let class = if d.significant() { "num sig" } else { "num" };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"{class}\">{}</td><td>{}</td></tr>",
            esc(label),
            esc(&metric(m, Estimate::of(&b), seeds)),
            esc(&metric(m, Estimate::of(&c), seeds)),
            esc(&diff_text(m, &d)),
            direction(m, &d)
        );
    }
    let _ = writeln!(s, "</table></div>");
    for note in &p.notes {
        let _ = writeln!(s, "<p>{}</p>", esc(note));
    }
    deployments(&mut s, base, cand, [&bn, &cn]);
    page_end(&mut s);
    s
}

/// Each deployment's mean share of its tier's attempts and mean 429s under both configs.
fn deployments(s: &mut String, base: &[RunResult], cand: &[RunResult], names: [&str; 2]) {
    let mut ids: Vec<&str> = Vec::new();
    for r in base.iter().chain(cand) {
        for d in &r.deployments {
            if !ids.contains(&d.deployment.as_str()) {
                ids.push(&d.deployment);
            }
        }
    }
    let [bn, cn] = names;
    let _ = writeln!(
        s,
        "<h2 id=\"deployments\">Deployments</h2>\n<p>Means over the seeds; a deployment one \
         config lacks shows n/a there.</p>\n<table>\n<tr><th>deployment</th>\
         <th class=\"num\">share: {bn}</th><th class=\"num\">share: {cn}</th>\
         <th class=\"num\">429s: {bn}</th><th class=\"num\">429s: {cn}</th></tr>"
    );
    for id in ids {
        let [bs, cs, b429, c429] = [
            mean_of(base, id, |d| d.actual_share),
            mean_of(cand, id, |d| d.actual_share),
            mean_of(base, id, |d| d.rate_limited as f64),
            mean_of(cand, id, |d| d.rate_limited as f64),
        ];
        let share = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| pct(v, 1));
        let count = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}"));
        let _ = writeln!(
            s,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(id),
            share(bs),
            share(cs),
            count(b429),
            count(c429)
        );
    }
    let _ = writeln!(s, "</table>");
}

/// Mean over runs of a field of one deployment's row (`None` when no run has the deployment).
fn mean_of(
    runs: &[RunResult],
    id: &str,
    field: impl Fn(&crate::stats::DeploymentRow) -> f64,
) -> Option<f64> {
    let v: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.deployments.iter().find(|d| d.deployment == id))
        .map(&field)
        .filter(|v| v.is_finite())
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}
