//! The prompt-cache section of a report (Markdown and HTML): per strategy, the share of input tokens read from a
//! provider's prompt cache and the cost per successful request. Present only when some run read
//! anything from a cache (scenarios with sessions and providers that cache prompts), so other
//! reports are unchanged.

use std::fmt::Write as _;

use crate::compare::Estimate;

use super::format::html_escape as esc;

use super::facts::Facts;

/// One strategy's row: name, cache-hit share, attempts with a hit, cost per request.
struct Row {
    name: String,
    cells: [String; 3],
}

/// The table's rows, or `None` when no run read from a prompt cache.
fn rows(f: &Facts<'_>) -> Option<Vec<Row>> {
    let any = f
        .strategies
        .iter()
        .flat_map(|st| &st.result.runs)
        .any(|r| r.cache.cached_input_tokens > 0);
    if !any {
        return None;
    }
    let rows = f
        .strategies
        .iter()
        .map(|st| {
            let runs = &st.result.runs;
            let of = |v: &dyn Fn(&crate::run::RunResult) -> f64| {
                Estimate::of(&runs.iter().map(v).collect::<Vec<_>>())
            };
            let share = of(&|r| r.cache.hit_share());
            let hits = of(&|r| r.cache.hits as f64 / r.cache.attempts.max(1) as f64);
            let per_request = of(&|r| r.summary.cost / r.summary.successes.max(1) as f64);
            Row {
                name: st.name().to_owned(),
                cells: [
                    format!("{:.1}% ± {:.1}", 100.0 * share.mean, 100.0 * share.ci95),
                    format!("{:.1}% ± {:.1}", 100.0 * hits.mean, 100.0 * hits.ci95),
                    format!("{:.5} ± {:.5}", per_request.mean, per_request.ci95),
                ],
            }
        })
        .collect();
    Some(rows)
}

const TITLE: &str = "Prompt cache";
const INTRO: &str = "Input tokens read from a provider's prompt cache (billed at the deployment's \
    `cached_input_price`), successful attempts that read any, and cost per successful request; \
    means over the seeds ± the 95% interval.";
const HEADERS: [&str; 3] = [
    "cache-hit share (input tokens)",
    "attempts with a cache hit",
    "cost per request",
];

/// The Markdown section, or `None` when no run read from a prompt cache.
pub(crate) fn markdown(f: &Facts<'_>) -> Option<String> {
    let rows = rows(f)?;
    let mut s = String::new();
    let _ = writeln!(s, "\n## {TITLE}\n");
    let _ = writeln!(s, "{INTRO}\n");
    let _ = writeln!(s, "| strategy | {} |", HEADERS.join(" | "));
    let _ = writeln!(s, "|---|---:|---:|---:|");
    for r in rows {
        let _ = writeln!(s, "| {} | {} |", r.name, r.cells.join(" | "));
    }
    Some(s)
}

/// The HTML section, or `None` when no run read from a prompt cache.
pub(crate) fn html(f: &Facts<'_>) -> Option<String> {
    let rows = rows(f)?;
    let mut s = String::new();
    let _ = writeln!(s, "<h2 id=\"prompt-cache\">{TITLE}</h2>");
    let _ = writeln!(s, "<p>{}</p>", esc(&INTRO.replace('`', "")));
    let _ = write!(s, "<div class=\"scroll\"><table>\n<tr><th>strategy</th>");
    for h in HEADERS {
        let _ = write!(s, "<th class=\"num\">{}</th>", esc(h));
    }
    let _ = writeln!(s, "</tr>");
    for r in rows {
        let _ = write!(s, "<tr><td>{}</td>", esc(&r.name));
        for c in &r.cells {
            let _ = write!(s, "<td class=\"num\">{}</td>", esc(c));
        }
        let _ = writeln!(s, "</tr>");
    }
    let _ = writeln!(s, "</table></div>");
    Some(s)
}
