//! A per-strategy table of a few figures under a heading, in Markdown and HTML: the shape of
//! the optional sections (prompt cache, hedging) that appear only when their runs did something.

use std::fmt::Write as _;

use super::format::html_escape as esc;

/// One strategy's row: its name and one cell per header.
pub(super) struct Row {
    pub name: String,
    pub cells: Vec<String>,
}

/// A titled table with an introduction.
pub(super) struct Section<'a> {
    /// HTML anchor.
    pub id: &'a str,
    pub title: &'a str,
    /// One paragraph; Markdown backticks are dropped in HTML.
    pub intro: &'a str,
    /// Column headers after `strategy` (all numeric, right-aligned).
    pub headers: &'a [&'a str],
    pub rows: Vec<Row>,
}

impl Section<'_> {
    /// The section in Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "\n## {}\n", self.title);
        let _ = writeln!(s, "{}\n", self.intro);
        let _ = writeln!(s, "| strategy | {} |", self.headers.join(" | "));
        let _ = writeln!(s, "|---|{}", "---:|".repeat(self.headers.len()));
        for r in &self.rows {
            let _ = writeln!(s, "| {} | {} |", r.name, r.cells.join(" | "));
        }
        s
    }

    /// The section in HTML.
    pub fn html(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "<h2 id=\"{}\">{}</h2>", self.id, esc(self.title));
        let _ = writeln!(s, "<p>{}</p>", esc(&self.intro.replace('`', "")));
        let _ = write!(s, "<div class=\"scroll\"><table>\n<tr><th>strategy</th>");
        for h in self.headers {
            let _ = write!(s, "<th class=\"num\">{}</th>", esc(h));
        }
        let _ = writeln!(s, "</tr>");
        for r in &self.rows {
            let _ = write!(s, "<tr><td>{}</td>", esc(&r.name));
            for c in &r.cells {
                let _ = write!(s, "<td class=\"num\">{}</td>", esc(c));
            }
            let _ = writeln!(s, "</tr>");
        }
        let _ = writeln!(s, "</table></div>");
        s
    }
}
