//! Plot 2: each deployment's share of all attempts over time, stacked, one panel per strategy,
//! with incident windows shaded.

use engine::StrategyKind;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{self, Entry, Swatch};
use super::{deployment_color, shade_incidents, time_panel, titled_grid, DrawError, Figure, Plot};
use crate::report::facts::Facts;
use crate::report::format::{axis_number, window};
use crate::stats::Column;

const WIDTH: u32 = 1200;
const PANEL_H: u32 = 270;
const TITLE_H: u32 = 40;
/// Shares are computed over a centred moving window about this long, to show the trend rather
/// than each bucket's noise.
const SMOOTHING_S: f64 = 30.0;

/// Buckets on each side of the centre bucket in the moving window.
fn smoothing_half_width(bucket_s: f64) -> usize {
    ((SMOOTHING_S / bucket_s - 1.0) / 2.0).round().max(0.0) as usize
}

/// One deployment's band: per bucket, (start min, end min, lower %, upper %).
type Band = (usize, Vec<(f64, f64, f64, f64)>);

struct Panel {
    kind: StrategyKind,
    bands: Vec<Band>,
}

/// The traffic-share figure.
pub(crate) struct TrafficShare<'a> {
    f: &'a Facts<'a>,
    panels: Vec<Panel>,
    legend: Vec<Entry>,
    columns: usize,
    rows: usize,
    height: u32,
}

impl<'a> TrafficShare<'a> {
    /// Shares per bucket of each strategy's first run.
    pub fn new(f: &'a Facts<'a>) -> TrafficShare<'a> {
        let order = f.display_order();
        let minutes_per_bucket = f.bucket_s / 60.0;
        let half = smoothing_half_width(f.bucket_s);
        let panels: Vec<Panel> = f
            .strategies
            .iter()
            .map(|s| {
                let n = s.buckets();
                // attempts[b][i]: attempts to order[i] in bucket b.
                let attempts: Vec<Vec<u64>> = (0..n)
                    .map(|b| {
                        order
                            .iter()
                            .map(|&d| s.count(b, d, Column::Attempts))
                            .collect()
                    })
                    .collect();
                let mut bands: Vec<Band> = order.iter().map(|&d| (d, Vec::new())).collect();
                for b in 0..n {
                    let window = b.saturating_sub(half)..(b + half + 1).min(n);
                    let sums: Vec<u64> = (0..order.len())
                        .map(|i| attempts[window.clone()].iter().map(|row| row[i]).sum())
                        .collect();
                    let total: u64 = sums.iter().sum();
                    let (x0, x1) = (
                        b as f64 * minutes_per_bucket,
                        (b + 1) as f64 * minutes_per_bucket,
                    );
                    let mut cum = 0.0;
                    for (i, band) in bands.iter_mut().enumerate() {
                        let share = if total > 0 {
                            sums[i] as f64 / total as f64 * 100.0
                        } else {
                            0.0
                        };
                        band.1.push((x0, x1, cum, cum + share));
                        cum += share;
                    }
                }
                bands.retain(|(_, pts)| pts.iter().any(|p| p.3 > p.2));
                Panel {
                    kind: s.kind,
                    bands,
                }
            })
            .collect();
        let mut legend: Vec<Entry> = order
            .iter()
            .map(|&d| {
                let info = &f.deployments[d];
                Entry::new(
                    format!(
                        "{} ({})",
                        info.id,
                        f.tiers.get(info.tier).map_or("", String::as_str)
                    ),
                    Swatch::Fill(deployment_color(d)),
                )
            })
            .collect();
        legend.extend(f.incidents.iter().map(|i| {
            Entry::new(
                format!("{} {} {}", i.target, i.noun, window(i.start_s, i.end_s)),
                Swatch::Shade,
            )
        }));
        let columns = if panels.len() > 1 { 2 } else { 1 };
        let rows = panels.len().div_ceil(columns).max(1);
        let height = TITLE_H + rows as u32 * PANEL_H + legend::estimated_height(&legend, WIDTH);
        TrafficShare {
            f,
            panels,
            legend,
            columns,
            rows,
            height,
        }
    }

    /// How the report introduces it.
    pub fn plot(&self) -> Plot {
        Plot {
            stem: "traffic-share",
            title: "Traffic share per deployment",
            caption: format!(
                "Each deployment's share of all attempts sent (retries and fallbacks included), per {} \
                 bucket{}, stacked to 100%, one panel per strategy{}; shaded: incident windows. \
                 A band that thins inside a shaded window means the strategy moved traffic away.",
                crate::report::format::clock(self.f.bucket_s),
                match smoothing_half_width(self.f.bucket_s) {
                    0 => String::new(),
                    h => format!(
                        " over a centred {} moving window",
                        crate::report::format::clock(self.f.bucket_s * (2 * h + 1) as f64)
                    ),
                },
                if self.f.seeds() > 1 { " (first seed)" } else { "" }
            ),
            size: self.size(),
        }
    }
}

impl Figure for TrafficShare<'_> {
    fn size(&self) -> (u32, u32) {
        (WIDTH, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let areas = titled_grid(
            root,
            "Share of attempts per deployment over time",
            &self.legend,
            self.rows,
            self.columns,
        )?;
        for (panel, area) in self.panels.iter().zip(areas.iter()) {
            let mut chart =
                time_panel(area, panel.kind, self.f, 0.0..100.0, "attempts (%)", &|v| {
                    axis_number(*v)
                })?;
            for (d, pts) in &panel.bands {
                let mut poly: Vec<(f64, f64)> = Vec::with_capacity(pts.len() * 4);
                for &(x0, x1, _, hi) in pts {
                    poly.push((x0, hi));
                    poly.push((x1, hi));
                }
                for &(x0, x1, lo, _) in pts.iter().rev() {
                    poly.push((x1, lo));
                    poly.push((x0, lo));
                }
                chart.draw_series(std::iter::once(Polygon::new(
                    poly,
                    deployment_color(*d).filled(),
                )))?;
            }
            shade_incidents(&mut chart, self.f)?;
        }
        Ok(())
    }
}
