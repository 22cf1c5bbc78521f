//! Plot 1: the latency CDF of each strategy's successful requests (log x axis), whole and tail,
//! with each strategy's p50 and p99 marked.

use engine::StrategyKind;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::legend::{self, Entry, Swatch};
use super::{size, strategy_color, text, DrawError, Figure, Plot, FAINT, GRID, INK};
use crate::report::facts::Facts;
use crate::report::format::axis_number;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 560;

struct Curve {
    kind: StrategyKind,
    /// (latency ms, % of successes answered within it), increasing.
    points: Vec<(f64, f64)>,
    p50: f64,
    p99: f64,
}

/// The latency CDF figure.
pub(crate) struct LatencyCdf {
    curves: Vec<Curve>,
    legend: Vec<Entry>,
    height: u32,
    seeds: usize,
}

/// Quantiles sampled: every 0.5 % to 90 %, every 0.1 % to 99.9 %, then the far tail.
fn quantiles() -> Vec<f64> {
    let mut q: Vec<f64> = (0..180).map(|i| i as f64 * 0.005).collect();
    q.extend((900..1000).map(|i| i as f64 * 0.001));
    q.extend([0.9995, 0.9999, 1.0]);
    q
}

impl LatencyCdf {
    /// The CDFs of each strategy's first run.
    pub fn new(f: &Facts<'_>) -> LatencyCdf {
        let qs = quantiles();
        let curves: Vec<Curve> = f
            .strategies
            .iter()
            .filter(|s| !s.run.latency.is_empty())
            .map(|s| {
                let h = &s.run.latency;
                Curve {
                    kind: s.kind,
                    points: qs
                        .iter()
                        .map(|&q| ((h.value_at_quantile(q) as f64 / 1000.0).max(0.1), q * 100.0))
                        .collect(),
                    p50: s.run.summary.latency_p50_ms.max(0.1),
                    p99: s.run.summary.latency_p99_ms.max(0.1),
                }
            })
            .collect();
        let legend: Vec<Entry> = curves
            .iter()
            .map(|c| Entry::new(c.kind.name(), Swatch::Marker(strategy_color(c.kind))))
            .collect();
        let height = HEIGHT + legend::estimated_height(&legend, WIDTH);
        LatencyCdf {
            curves,
            legend,
            height,
            seeds: f.seeds(),
        }
    }

    /// How the report introduces it.
    pub fn plot(&self) -> Plot {
        Plot {
            stem: "latency-cdf",
            title: "Latency CDF",
            caption: format!(
                "End-to-end latency of successful requests (retries and waits included), log scale; \
                 left all requests with each strategy's p50 dotted, right the slowest 10% with its p99 dotted.{} \
                 Further left is faster; a curve that reaches 100% sooner has a shorter tail.",
                if self.seeds > 1 { " First seed of each strategy." } else { "" }
            ),
            size: self.size(),
        }
    }
}

/// Grid values on a log axis over `lo..hi`: every 1–9 × 10ᵏ, with whether each is labelled
/// (1, 2 and 5 × 10ᵏ).
fn log_grid(lo: f64, hi: f64) -> Vec<(f64, bool)> {
    let mut out = Vec::new();
    if !(lo > 0.0 && hi > lo && hi.is_finite()) {
        return out;
    }
    let (k0, k1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    for k in k0..=k1 {
        let decade = 10f64.powi(k);
        for m in 1..=9 {
            let v = f64::from(m) * decade;
            if v >= lo && v <= hi {
                out.push((v, matches!(m, 1 | 2 | 5)));
            }
        }
    }
    out
}

impl LatencyCdf {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        caption: &str,
        y: std::ops::Range<f64>,
        mark: impl Fn(&Curve) -> (f64, f64),
        mark_label: &str,
    ) -> Result<(), DrawError> {
        let visible = |c: &Curve| -> Vec<(f64, f64)> {
            // Keep the last point below the range so the line enters from the bottom edge.
            let first = c.points.iter().rposition(|p| p.1 < y.start).unwrap_or(0);
            c.points[first..].to_vec()
        };
        let lo = self
            .curves
            .iter()
            .filter_map(|c| visible(c).iter().map(|p| p.0).reduce(f64::min))
            .fold(f64::INFINITY, f64::min);
        let hi = self
            .curves
            .iter()
            .filter_map(|c| c.points.last().map(|p| p.0))
            .fold(0.0, f64::max);
        let (lo, hi) = if lo.is_finite() && hi > 0.0 {
            (lo * 0.85, hi * 1.2)
        } else {
            (1.0, 1000.0)
        };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, text(size::CAPTION, INK))
            .margin(12)
            .margin_right(24)
            .x_label_area_size(60)
            .y_label_area_size(74)
            .build_cartesian_2d((lo..hi).log_scale(), y.clone())?;
        chart
            .configure_mesh()
            .x_desc("end-to-end latency (ms, log scale)")
            .y_desc("successful requests within x (%)")
            .x_labels(0)
            .x_label_formatter(&|_| String::new())
            .y_labels(11)
            .y_label_formatter(&|v| axis_number(*v))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK)
            .label_style(text(size::LABEL, INK))
            .axis_desc_style(text(size::DESC, INK))
            .disable_x_mesh()
            .draw()?;
        // Log grid and tick labels, drawn by hand: 1, 2 and 5 × 10ᵏ labelled.
        let base = area.get_base_pixel();
        let label_style = text(size::LABEL, INK).pos(Pos::new(HPos::Center, VPos::Top));
        for (v, labelled) in log_grid(lo, hi) {
            let line = if labelled { GRID } else { FAINT };
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(v, y.start), (v, y.end)],
                line.stroke_width(1),
            )))?;
            if labelled {
                let (px, py) = chart.backend_coord(&(v, y.start));
                let (px, py) = (px - base.0, py - base.1);
                area.draw(&PathElement::new(
                    vec![(px, py), (px, py + 5)],
                    INK.stroke_width(1),
                ))?;
                area.draw_text(&axis_number(v), &label_style, (px, py + 8))?;
            }
        }
        // The reference line of the marked quantile.
        let (_, my) = self.curves.first().map(&mark).unwrap_or((lo, y.start));
        chart.draw_series(DashedLineSeries::new(
            vec![(lo, my), (hi, my)],
            6,
            4,
            INK.mix(0.5).stroke_width(1),
        ))?;
        chart.draw_series(std::iter::once(Text::new(
            mark_label.to_owned(),
            (lo * 1.04, my),
            text(size::LABEL, INK).pos(Pos::new(HPos::Left, VPos::Bottom)),
        )))?;
        for c in &self.curves {
            let color = strategy_color(c.kind);
            chart.draw_series(LineSeries::new(visible(c), color.stroke_width(2)))?;
        }
        for c in &self.curves {
            let color = strategy_color(c.kind);
            let at = mark(c);
            chart.draw_series(std::iter::once(Circle::new(at, 6, color.filled())))?;
            chart.draw_series(std::iter::once(Circle::new(at, 6, WHITE.stroke_width(1))))?;
        }
        Ok(())
    }
}

impl Figure for LatencyCdf {
    fn size(&self) -> (u32, u32) {
        (WIDTH, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let root = root.titled("Latency CDF of successful requests", text(size::TITLE, INK))?;
        let (content, legend_area) = legend::split_bottom(&root, &self.legend)?;
        legend::draw(&legend_area, &self.legend)?;
        let panels = content.split_evenly((1, 2));
        if self.curves.is_empty() {
            content.draw_text(
                "no successful requests",
                &text(size::CAPTION, INK).pos(Pos::new(HPos::Center, VPos::Center)),
                (WIDTH as i32 / 2, 200),
            )?;
            return Ok(());
        }
        self.panel(
            &panels[0],
            "all requests (dots: p50)",
            0.0..100.0,
            |c| (c.p50, 50.0),
            "p50",
        )?;
        self.panel(
            &panels[1],
            "tail: slowest 10% (dots: p99)",
            90.0..100.0,
            |c| (c.p99, 99.0),
            "p99",
        )?;
        Ok(())
    }
}
