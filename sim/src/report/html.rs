//! `index.html`: the report for a browser. Self-contained: inline CSS, no scripts, no network;
//! the plots are the SVG files beside it (each with a link to its PNG).

use std::fmt::Write as _;
use std::path::Path;

use plotters::style::RGBColor;

use crate::compare::METRICS;
use crate::output::{write_atomically, OutputError};

use super::format::{html_escape as esc, metric, pct};
use super::paired::{diff_cell, diffs_intro, winner_kind, winners_intro};
use super::plots::{deployment_color, strategy_color};
use super::Document;

const STYLE: &str = "\
body{margin:0;background:#f6f6f4;color:#222;font:16px/1.5 system-ui,-apple-system,'Segoe UI',\
'DejaVu Sans',sans-serif}
main{max-width:1240px;margin:0 auto;padding:24px 20px 60px;background:#fff}
h1{font-size:28px;margin:8px 0 12px}
h2{font-size:22px;margin:36px 0 12px;padding-bottom:4px;border-bottom:1px solid #ddd}
h3{font-size:18px;margin:28px 0 8px}
p.lead{font-size:17px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{padding:5px 10px;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
th{background:#f0f0ee;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.best{font-weight:700;background:#eef6ea}
td.sig{font-weight:700}
td.base{color:#777;font-style:italic}
.dot{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px;vertical-align:baseline}
.sw{display:inline-block;width:14px;height:11px;margin-right:6px;border:1px solid #888}
ul.story li{margin:6px 0}
code{white-space:nowrap;font:14px/1.4 'DejaVu Sans Mono',ui-monospace,monospace;background:#f2f2f0;padding:0 3px;border-radius:3px}
figure{margin:8px 0 24px}
figure img{display:block;max-width:100%;height:auto;border:1px solid #e4e4e4}
figcaption{font-size:14px;color:#444;margin-top:6px;max-width:1100px}
.scroll{overflow-x:auto}
";

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Writes the HTML report.
pub(crate) fn write(path: &Path, doc: &Document<'_>) -> Result<(), OutputError> {
    let text = render(doc);
    write_atomically(path, |w| w.write_all(text.as_bytes()))
}

fn strategy_cell(doc: &Document<'_>, name: &str) -> String {
    let color = doc
        .facts
        .strategies
        .iter()
        .find(|s| s.name() == name)
        .map(|s| hex(strategy_color(s.kind)));
    match color {
        Some(c) => format!(
            "<span class=\"dot\" style=\"background:{c}\"></span>{}",
            esc(name)
        ),
        None => esc(name),
    }
}

/// The HTML text.
pub(crate) fn render(doc: &Document<'_>) -> String {
    let f = doc.facts;
    let seeds = f.seeds();
    let title = format!("Strategy comparison: {}", f.comparison.scenario);
    let mut s = page_start(&title);
    let _ = writeln!(s, "<p class=\"lead\">{}</p>", doc.intro().html());
    if let Some(inc) = &doc.incidents {
        let _ = writeln!(s, "<p>{}</p>", inc.html());
    }

    let _ = writeln!(s, "<h2 id=\"winners\">Winners</h2>");
    let _ = writeln!(s, "<p>{}</p>", esc(&winners_intro(f.comparison)));
    let _ = writeln!(
        s,
        "<table>\n<tr><th>metric</th><th>leader</th><th class=\"num\">value</th>\
         <th>runner-up</th><th class=\"num\">value</th><th class=\"num\">lead (paired)</th>\
         <th>verdict</th></tr>"
    );
    for w in &doc.winners {
        let (ru, rv) = w
            .runner_up
            .as_ref()
            .map_or((String::new(), String::new()), |(n, v)| {
                (strategy_cell(doc, n), esc(v))
            });
        let leader = if w.significant {
            format!("<strong>{}</strong>", strategy_cell(doc, w.leader.0))
        } else {
            strategy_cell(doc, w.leader.0)
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(w.label),
            leader,
            esc(&w.leader.1),
            ru,
            rv,
            esc(&w.lead),
            esc(&w.verdict)
        );
    }
    let _ = writeln!(s, "</table>");

    if f.strategies.len() > 1 {
        let _ = writeln!(
            s,
            "<h2 id=\"paired\">Paired differences from the baseline</h2>\n<p>{}</p>",
            esc(&diffs_intro(f.comparison))
        );
        let _ = write!(s, "<div class=\"scroll\"><table>\n<tr><th>strategy</th>");
        for v in &doc.verdicts {
            let _ = write!(s, "<th class=\"num\">{}</th>", esc(v.label));
        }
        let _ = write!(s, "</tr>\n<tr><td class=\"base\">baseline</td>");
        for v in &doc.verdicts {
            let _ = write!(
                s,
                "<td class=\"num base\">{}</td>",
                esc(f.comparison.strategies[v.baseline].strategy.name())
            );
        }
        let _ = writeln!(s, "</tr>");
        for st in &f.strategies {
            let _ = write!(s, "<tr><td>{}</td>", strategy_cell(doc, st.name()));
            for v in &doc.verdicts {
                let (class, text) = match diff_cell(f.comparison, v, st.kind) {
                    None => ("num base", "baseline".to_owned()),
                    Some((text, true)) => ("num sig", text),
                    Some((text, false)) => ("num", text),
                };
                let _ = write!(s, "<td class=\"{class}\">{}</td>", esc(&text));
            }
            let _ = writeln!(s, "</tr>");
        }
        let _ = writeln!(s, "</table></div>");
    }

    let _ = writeln!(
        s,
        "<h2 id=\"story\">What happened</h2>\n<ul class=\"story\">"
    );
    for (sentence, st) in doc.sentences.iter().zip(&f.strategies) {
        let _ = writeln!(
            s,
            "<li><span class=\"dot\" style=\"background:{}\"></span>{}</li>",
            hex(strategy_color(st.kind)),
            sentence.html()
        );
    }
    let _ = writeln!(s, "</ul>");

    let _ = writeln!(s, "<h2 id=\"metrics\">All headline metrics</h2>");
    let _ = writeln!(
        s,
        "<p>{}</p>",
        if seeds > 1 {
            format!(
                "Means over {seeds} seeds ± the half-width of the 95% confidence interval; \
                 a significant winner's value is highlighted."
            )
        } else {
            "One seed: no winner is significant, so nothing is highlighted.".to_owned()
        }
    );
    let _ = write!(s, "<div class=\"scroll\"><table>\n<tr><th>strategy</th>");
    for (_, label) in METRICS {
        let _ = write!(s, "<th class=\"num\">{}</th>", esc(label));
    }
    let _ = writeln!(s, "</tr>");
    for st in &f.strategies {
        let _ = write!(s, "<tr><td>{}</td>", strategy_cell(doc, st.name()));
        for (m, _) in METRICS {
            let e = st.result.estimate(m);
            let class = if winner_kind(f.comparison, &doc.verdicts, m) == Some(st.kind) {
                "num best"
            } else {
                "num"
            };
            let _ = write!(
                s,
                "<td class=\"{class}\">{}</td>",
                esc(&metric(m, e, seeds))
            );
        }
        let _ = writeln!(s, "</tr>");
    }
    let _ = writeln!(s, "</table></div>");
    if let Some(section) = super::cache::html(f) {
        s.push_str(&section);
    }
    if let Some(section) = super::hedging::html(f) {
        s.push_str(&section);
    }

    if let Some(clients) = crate::clients::html_section(f.comparison, &|t| esc(t)) {
        s.push_str(&clients);
    }

    let _ = writeln!(s, "<h2 id=\"deployments\">Deployments</h2>");
    let _ = writeln!(
        s,
        "<table>\n<tr><th>deployment</th><th>provider</th><th>model</th><th>tier</th>\
         <th class=\"num\">configured weight share</th></tr>"
    );
    for (i, d) in f.deployments.iter().enumerate() {
        let _ = writeln!(
            s,
            "<tr><td><span class=\"sw\" style=\"background:{}\"></span><code>{}</code></td>\
             <td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
            hex(deployment_color(i)),
            esc(&d.id),
            esc(&d.provider),
            esc(&d.model),
            esc(f.tiers.get(d.tier).map_or("", String::as_str)),
            pct(d.configured_share, 0)
        );
    }
    let _ = writeln!(s, "</table>");

    let _ = writeln!(s, "<h2 id=\"plots\">Plots</h2>");
    for p in &doc.plots {
        let _ = writeln!(
            s,
            "<h3 id=\"{}\">{}</h3>\n<figure>\n<img src=\"{}\" width=\"{}\" height=\"{}\" alt=\"{}\">\n\
             <figcaption>{} <a href=\"{}\">PNG</a></figcaption>\n</figure>",
            esc(p.stem),
            esc(p.title),
            esc(&p.svg()),
            p.size.0,
            p.size.1,
            esc(p.title),
            esc(&p.caption),
            esc(&p.png())
        );
    }

    let _ = writeln!(s, "<h2 id=\"data\">Data</h2>\n<ul>");
    for (name, what) in &doc.data {
        let _ = writeln!(
            s,
            "<li><a href=\"{0}\">{0}</a>: {1}</li>",
            esc(name),
            esc(what)
        );
    }
    let _ = writeln!(
        s,
        "<li><a href=\"report.md\">report.md</a>: this report as Markdown</li>"
    );
    let _ = writeln!(s, "</ul>");
    page_end(&mut s);
    s
}

/// The start of a report page: the head with the shared style, then `title` as its heading.
/// `write!` to a String cannot fail; here and in the renderers the results are ignored.
pub(crate) fn page_start(title: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>",
        esc(title)
    );
    let _ = writeln!(s, "<h1>{}</h1>", esc(title));
    s
}

/// Closes a page [`page_start`] opened.
pub(crate) fn page_end(s: &mut String) {
    let _ = writeln!(s, "</main>\n</body>\n</html>");
}
