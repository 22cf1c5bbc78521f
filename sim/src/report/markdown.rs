//! `report.md`: the report as Markdown (renders on any forge; plots are the SVGs beside it).

use std::fmt::Write as _;
use std::path::Path;

use crate::compare::METRICS;
use crate::output::{write_atomically, OutputError};

use super::format::{md_escape, metric, pct};
use super::paired::{diff_cell, diffs_intro, winner_kind, winners_intro};
use super::Document;

/// Writes the Markdown report.
pub(crate) fn write(path: &Path, doc: &Document<'_>) -> Result<(), OutputError> {
    let text = render(doc);
    write_atomically(path, |w| w.write_all(text.as_bytes()))
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
    let _ = writeln!(s, "{}\n", winners_intro(f.comparison));
    let _ = writeln!(
        s,
        "| metric | leader | value | runner-up | value | lead (paired) | verdict |"
    );
    let _ = writeln!(s, "|---|---|---:|---|---:|---:|---|");
    for w in &doc.winners {
        let (ru, rv) = w
            .runner_up
            .as_ref()
            .map_or(("", String::new()), |(n, v)| (*n, v.clone()));
        let leader = if w.significant {
            format!("**{}**", w.leader.0)
        } else {
            w.leader.0.to_owned()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            md_escape(w.label),
            leader,
            w.leader.1,
            ru,
            rv,
            w.lead,
            md_escape(&w.verdict)
        );
    }

    if f.strategies.len() > 1 {
        let _ = writeln!(s, "\n## Paired differences from the baseline\n");
        let _ = writeln!(s, "{}\n", diffs_intro(f.comparison));
        let _ = write!(s, "| strategy |");
        for v in &doc.verdicts {
            let _ = write!(s, " {} |", md_escape(v.label));
        }
        let _ = write!(s, "\n|---|");
        for _ in &doc.verdicts {
            let _ = write!(s, "---:|");
        }
        let _ = write!(s, "\n| *baseline* |");
        for v in &doc.verdicts {
            let _ = write!(
                s,
                " *{}* |",
                f.comparison.strategies[v.baseline].strategy.name()
            );
        }
        s.push('\n');
        for st in &f.strategies {
            let _ = write!(s, "| {} |", st.name());
            for v in &doc.verdicts {
                let cell = match diff_cell(f.comparison, v, st.kind) {
                    None => "baseline".to_owned(),
                    Some((text, true)) => format!("**{text}**"),
                    Some((text, false)) => text,
                };
                let _ = write!(s, " {cell} |");
            }
            s.push('\n');
        }
    }

    let _ = writeln!(s, "\n## What happened\n");
    for sentence in &doc.sentences {
        let _ = writeln!(s, "- {}", sentence.markdown());
    }

    let _ = writeln!(s, "\n## All headline metrics\n");
    if seeds > 1 {
        let _ = writeln!(
            s,
            "Means over {seeds} seeds ± the half-width of the 95% confidence interval; a significant winner's value is in bold.\n"
        );
    } else {
        let _ = writeln!(
            s,
            "One seed: no winner is significant, so nothing is in bold.\n"
        );
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
            if winner_kind(f.comparison, &doc.verdicts, m) == Some(st.kind) {
                let _ = write!(s, " **{cell}** |");
            } else {
                let _ = write!(s, " {cell} |");
            }
        }
        s.push('\n');
    }

    if let Some(section) = super::cache::markdown(f) {
        s.push_str(&section);
    }
    if let Some(section) = super::hedging::markdown(f) {
        s.push_str(&section);
    }
    if let Some(clients) = crate::clients::markdown_section(f.comparison) {
        s.push_str(&clients);
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
