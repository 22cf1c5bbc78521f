//! `report.md`: the report as Markdown (renders on any forge; plots are the SVGs beside it).

use std::fmt::Write as _;
use std::path::Path;

use crate::compare::{higher_is_better, METRICS};
use crate::output::{write_atomically, OutputError};

use super::format::{md_escape, metric, pct};
use super::Document;

/// Writes the Markdown report.
pub(crate) fn write(path: &Path, doc: &Document<'_>) -> Result<(), OutputError> {
    let text = render(doc);
    write_atomically(path, |w| w.write_all(text.as_bytes()))
}

/// Best mean of a metric over strategies, to embolden the winning cells.
pub(crate) fn best_mean(doc: &Document<'_>, m: &str) -> Option<f64> {
    doc.facts
        .strategies
        .iter()
        .map(|s| s.result.estimate(m).mean)
        .filter(|v| v.is_finite())
        .reduce(|a, b| {
            if higher_is_better(m) {
                a.max(b)
            } else {
                a.min(b)
            }
        })
}

/// The Markdown text.
pub(crate) fn render(doc: &Document<'_>) -> String {
    let f = doc.facts;
    let seeds = f.seeds();
    let mut s = String::new();
    // `write!` to a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(s, "# Strategy comparison: `{}`\n", f.comparison.scenario);
    let _ = writeln!(s, "{}\n", doc.intro().markdown());
    if let Some(inc) = &doc.incidents {
        let _ = writeln!(s, "{}\n", inc.markdown());
    }
    let _ = writeln!(
        s,
        "Open [index.html](index.html) for this report with its plots in a browser.\n"
    );

    let _ = writeln!(s, "## Winners\n");
    let _ = writeln!(s, "| metric | best | value | runner-up | value | note |");
    let _ = writeln!(s, "|---|---|---:|---|---:|---|");
    for w in &doc.winners {
        let (ru, rv) = w
            .runner_up
            .as_ref()
            .map_or(("", String::new()), |(n, v)| (*n, v.clone()));
        let _ = writeln!(
            s,
            "| {} | **{}** | {} | {} | {} | {} |",
            md_escape(w.label),
            w.best.0,
            w.best.1,
            ru,
            rv,
            w.note.as_deref().unwrap_or("")
        );
    }

    let _ = writeln!(s, "\n## What happened\n");
    for sentence in &doc.sentences {
        let _ = writeln!(s, "- {}", sentence.markdown());
    }

    let _ = writeln!(s, "\n## All headline metrics\n");
    if seeds > 1 {
        let _ = writeln!(
            s,
            "Means over {seeds} seeds ± the half-width of the 95% confidence interval; the best value of each column is in bold.\n"
        );
    } else {
        let _ = writeln!(s, "The best value of each column is in bold.\n");
    }
    let _ = write!(s, "| strategy |");
    for (_, label) in METRICS {
        let _ = write!(s, " {} |", md_escape(label));
    }
    let _ = write!(s, "\n|---|");
    for _ in METRICS {
        let _ = write!(s, "---:|");
    }
    s.push('\n');
    for st in &f.strategies {
        let _ = write!(s, "| {} |", st.name());
        for (m, _) in METRICS {
            let e = st.result.estimate(m);
            let cell = metric(m, e, seeds);
            if best_mean(doc, m) == Some(e.mean) {
                let _ = write!(s, " **{cell}** |");
            } else {
                let _ = write!(s, " {cell} |");
            }
        }
        s.push('\n');
    }

    let _ = writeln!(s, "\n## Deployments\n");
    let _ = writeln!(
        s,
        "| deployment | provider | model | tier | configured weight share |"
    );
    let _ = writeln!(s, "|---|---|---|---|---:|");
    for d in &f.deployments {
        let _ = writeln!(
            s,
            "| `{}` | {} | {} | `{}` | {} |",
            d.id,
            md_escape(&d.provider),
            md_escape(&d.model),
            f.tiers.get(d.tier).map_or("", String::as_str),
            pct(d.configured_share, 0)
        );
    }

    let _ = writeln!(s, "\n## Plots\n");
    for p in &doc.plots {
        let _ = writeln!(s, "### {}\n", p.title);
        let _ = writeln!(s, "![{}]({})\n", p.title, p.svg());
        let _ = writeln!(s, "{} ([PNG]({}))\n", md_escape(&p.caption), p.png());
    }

    if !doc.data.is_empty() {
        let _ = writeln!(s, "## Data\n");
        for (name, what) in &doc.data {
            let _ = writeln!(s, "- [{name}]({name}): {}", md_escape(what));
        }
    }
    s
}
