//! The human-readable comparison report: `report.md`, `index.html` and plots.
//! (Minimal placeholder: plots and HTML are being built.)

use std::path::{Path, PathBuf};

use crate::compare::Comparison;
use crate::output::{comparison_table, write_atomically, OutputError};
use crate::Scenario;

/// Writes the report files into `dir` and returns their paths.
pub fn write_report(dir: &Path, _scenario: &Scenario, c: &Comparison) -> Result<Vec<PathBuf>, OutputError> {
    let path = dir.join("report.md");
    let table = comparison_table(c);
    write_atomically(&path, |w| {
        writeln!(w, "# {}\n\n```text\n{table}```", c.scenario)
    })?;
    Ok(vec![path])
}
