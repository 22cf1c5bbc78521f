//! Plot 3: 429s, provider errors and failed requests over time, one panel per strategy on a
//! shared y axis, with incident windows shaded.

use engine::StrategyKind;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{self, Entry, Swatch};
use super::{over_white, shade_incidents, time_panel, titled_grid, DrawError, Figure, Plot};
use crate::report::facts::Facts;
use crate::report::format::{axis_number, clock};
use crate::stats::Column;

const WIDTH: u32 = 1200;
const PANEL_H: u32 = 250;
const TITLE_H: u32 = 40;

const RATE_LIMITED: RGBColor = RGBColor(230, 159, 0);
const ERRORS: RGBColor = RGBColor(170, 20, 20);
const FAILED: RGBColor = RGBColor(20, 20, 20);

/// Per bucket: (start min, end min, count).
type Steps = Vec<(f64, f64, f64)>;

struct Panel {
    kind: StrategyKind,
    rate_limited: Steps,
    errors: Steps,
    failed: Steps,
}

/// The failures-over-time figure.
pub(crate) struct Failures<'a> {
    f: &'a Facts<'a>,
    panels: Vec<Panel>,
    legend: Vec<Entry>,
    y_max: f64,
    columns: usize,
    rows: usize,
    height: u32,
}

fn line(steps: &Steps) -> Vec<(f64, f64)> {
    steps
        .iter()
        .flat_map(|&(x0, x1, v)| [(x0, v), (x1, v)])
        .collect()
}

impl<'a> Failures<'a> {
    /// Rates per bucket of each strategy's first run.
    pub fn new(f: &'a Facts<'a>) -> Failures<'a> {
        let all: Vec<usize> = (0..f.deployments.len()).collect();
        let per_min = f.bucket_s / 60.0;
        let panels: Vec<Panel> = f
            .strategies
            .iter()
            .map(|s| {
                let steps = |value: &dyn Fn(usize) -> u64| -> Steps {
                    (0..s.buckets())
                        .map(|b| {
                            (
                                b as f64 * per_min,
                                (b + 1) as f64 * per_min,
                                value(b) as f64,
                            )
                        })
                        .collect()
                };
                let all = &all;
                let count = |column: Column| {
                    move |b: usize| all.iter().map(|&d| s.count(b, d, column)).sum::<u64>()
                };
                Panel {
                    kind: s.kind,
                    rate_limited: steps(&count(Column::RateLimited)),
                    errors: steps(&count(Column::Errors)),
                    failed: steps(&|b| s.run.timeseries.requests(b).1),
                }
            })
            .collect();
        let y_max = panels
            .iter()
            .flat_map(|p| p.rate_limited.iter().chain(&p.errors).chain(&p.failed))
            .map(|s| s.2)
            .fold(0.0, f64::max);
        let y_max = if y_max > 0.0 { y_max * 1.12 } else { 1.0 };
        let mut legend = vec![
            Entry::new(
                "429 responses",
                Swatch::Fill(over_white(RATE_LIMITED, 0.55)),
            ),
            Entry::new(
                "provider errors (5xx, timeouts, connection)",
                Swatch::Line(ERRORS),
            ),
            Entry::new("failed requests", Swatch::Dashed(FAILED)),
        ];
        if !f.incidents.is_empty() {
            legend.push(Entry::new("incident window", Swatch::Shade));
        }
        let columns = if panels.len() > 1 { 2 } else { 1 };
        let rows = panels.len().div_ceil(columns).max(1);
        let height = TITLE_H + rows as u32 * PANEL_H + legend::estimated_height(&legend, WIDTH);
        Failures {
            f,
            panels,
            legend,
            y_max,
            columns,
            rows,
            height,
        }
    }

    /// How the report introduces it.
    pub fn plot(&self) -> Plot {
        Plot {
            stem: "failures",
            title: "Rate-limit hits and errors over time",
            caption: format!(
                "Counts per {} bucket{}: 429s received, provider errors (5xx, timeouts, connection \
                 errors) and requests that finally failed. All panels share one \
                 y axis; shaded: incident windows. 429s that are retried elsewhere cost latency, \
                 failed requests reach the user.",
                clock(self.f.bucket_s),
                if self.f.seeds() > 1 { " of the first seed" } else { "" }
            ),
            size: self.size(),
        }
    }
}

/// Counts are whole: label whole ticks only.
fn integer_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        axis_number(*v)
    } else {
        String::new()
    }
}

impl Figure for Failures<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let areas = titled_grid(
            root,
            "429s, errors and failed requests over time",
            &self.legend,
            self.rows,
            self.columns,
        )?;
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            let mut chart = time_panel(
                area,
                panel.kind,
                self.f,
                0.0..self.y_max,
                &format!("count per {}", clock(self.f.bucket_s)),
                &integer_label,
            )?;
            shade_incidents(&mut chart, self.f)?;
            let area_pts = line(&panel.rate_limited);
            if area_pts.iter().any(|p| p.1 > 0.0) {
                chart.draw_series(AreaSeries::new(
                    area_pts.clone(),
                    0.0,
                    RATE_LIMITED.mix(0.55).filled(),
                ))?;
                chart.draw_series(LineSeries::new(area_pts, RATE_LIMITED.stroke_width(1)))?;
            }
            chart.draw_series(LineSeries::new(line(&panel.errors), ERRORS.stroke_width(2)))?;
            chart.draw_series(DashedLineSeries::new(
                line(&panel.failed),
                5,
                3,
                FAILED.stroke_width(2),
            ))?;
        }
        Ok(())
    }
}
