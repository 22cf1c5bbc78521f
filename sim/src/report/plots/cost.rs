//! Plot 4: cost against p99 latency, one labelled point per strategy (means, with 95 %
//! confidence bars when there are several seeds). Lower left is better.

use engine::StrategyKind;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{size, strategy_color, text, DrawError, Figure, Plot, GRID, INK};
use crate::compare::Estimate;
use crate::report::facts::Facts;
use crate::report::format::{fixed, tick_decimals};

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 600;
const LABEL_SIZE: f64 = super::size::LEGEND;

struct Point {
    kind: StrategyKind,
    cost: Estimate,
    p99: Estimate,
}

/// The cost-against-p99 figure.
pub(crate) struct CostLatency {
    points: Vec<Point>,
    seeds: usize,
}

/// A pixel box: (x0, y0, x1, y1).
type Box2 = (i32, i32, i32, i32);

fn overlap(a: Box2, b: Box2) -> i64 {
    let w = (a.2.min(b.2) - a.0.max(b.0)).max(0) as i64;
    let h = (a.3.min(b.3) - a.1.max(b.1)).max(0) as i64;
    w * h
}

/// Picks a box of `w`×`h` near `at` that stays inside `bounds` and overlaps `taken` least
/// (the first free candidate wins, nearer candidates first).
pub(crate) fn place_label(at: (i32, i32), w: i32, h: i32, bounds: Box2, taken: &[Box2]) -> Box2 {
    let (x, y) = at;
    let gap = 10;
    let mut candidates: Vec<(i32, i32)> = Vec::new();
    for ring in 0..4 {
        let r = gap + ring * (h + 2);
        candidates.extend([
            (x + r, y - h / 2),
            (x - r - w, y - h / 2),
            (x - w / 2, y - r - h),
            (x - w / 2, y + r),
            (x + r, y - r - h / 2 - h / 2),
            (x + r, y + r - h / 2 + h / 2),
            (x - r - w, y - r - h),
            (x - r - w, y + r),
        ]);
    }
    let mut best: Option<(i64, Box2)> = None;
    for (x0, y0) in candidates {
        let b = (x0, y0, x0 + w, y0 + h);
        let outside = b.0 < bounds.0 || b.1 < bounds.1 || b.2 > bounds.2 || b.3 > bounds.3;
        let cost: i64 =
            taken.iter().map(|&t| overlap(b, t)).sum::<i64>() + if outside { 1_000_000 } else { 0 };
        if cost == 0 {
            return b;
        }
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, b));
        }
    }
    best.map_or((x + gap, y - h / 2, x + gap + w, y + h / 2), |(_, b)| b)
}

fn padded(lo: f64, hi: f64) -> std::ops::Range<f64> {
    let span = hi - lo;
    let pad = if span > 0.0 {
        span * 0.18
    } else {
        (hi.abs() * 0.1).max(1e-3)
    };
    (lo - pad).max(0.0)..hi + pad
}

impl CostLatency {
    /// Each strategy's mean cost and p99.
    pub fn new(f: &Facts<'_>) -> CostLatency {
        let points = f
            .strategies
            .iter()
            .map(|s| Point {
                kind: s.kind,
                cost: s.result.estimate("cost"),
                p99: s.result.estimate("latency_p99_ms"),
            })
            .filter(|p| p.cost.mean.is_finite() && p.p99.mean.is_finite())
            .collect();
        CostLatency {
            points,
            seeds: f.seeds(),
        }
    }

    /// How the report introduces it.
    pub fn plot(&self) -> Plot {
        Plot {
            stem: "cost-p99",
            title: "Cost against p99 latency",
            caption: format!(
                "One point per strategy: the cost of its successful attempts against its p99 \
                 end-to-end latency{}. Lower left is better: cheaper and faster.",
                if self.seeds > 1 {
                    format!(", means over {} seeds with 95% confidence bars", self.seeds)
                } else {
                    String::new()
                }
            ),
            size: self.size(),
        }
    }
}

impl Figure for CostLatency {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let titled = root.titled(
            "Cost against p99 latency (lower left is better)",
            text(size::TITLE, INK),
        )?;
        let bar = |e: &Estimate| {
            if self.seeds > 1 && e.ci95.is_finite() {
                e.ci95
            } else {
                0.0
            }
        };
        let lo_x = self
            .points
            .iter()
            .map(|p| p.cost.mean - bar(&p.cost))
            .fold(f64::INFINITY, f64::min);
        let hi_x = self
            .points
            .iter()
            .map(|p| p.cost.mean + bar(&p.cost))
            .fold(0.0, f64::max);
        let lo_y = self
            .points
            .iter()
            .map(|p| p.p99.mean - bar(&p.p99))
            .fold(f64::INFINITY, f64::min);
        let hi_y = self
            .points
            .iter()
            .map(|p| p.p99.mean + bar(&p.p99))
            .fold(0.0, f64::max);
        let (xr, yr) = if self.points.is_empty() {
            (0.0..1.0, 0.0..1.0)
        } else {
            (padded(lo_x, hi_x), padded(lo_y, hi_y))
        };
        let (dx, dy) = (
            tick_decimals(xr.end - xr.start, 10),
            tick_decimals(yr.end - yr.start, 8),
        );
        let x_fmt = move |v: &f64| fixed(*v, dx);
        let y_fmt = move |v: &f64| fixed(*v, dy);
        let mut chart = ChartBuilder::on(&titled)
            .margin(16)
            .margin_right(30)
            .x_label_area_size(60)
            .y_label_area_size(92)
            .build_cartesian_2d(xr, yr)?;
        chart
            .configure_mesh()
            .x_desc("cost of successful attempts ($)")
            .y_desc("p99 end-to-end latency (ms)")
            .x_labels(10)
            .y_labels(8)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK)
            .label_style(text(size::LABEL, INK))
            .axis_desc_style(text(size::DESC, INK))
            .draw()?;
        for p in &self.points {
            let c = strategy_color(p.kind);
            let (x, y) = (p.cost.mean, p.p99.mean);
            let (bx, by) = (bar(&p.cost), bar(&p.p99));
            if bx > 0.0 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x - bx, y), (x + bx, y)],
                    c.stroke_width(2),
                )))?;
            }
            if by > 0.0 {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, y - by), (x, y + by)],
                    c.stroke_width(2),
                )))?;
            }
        }
        // Markers, then labels placed in pixel space away from markers and each other.
        let (px, py) = chart.plotting_area().get_pixel_range();
        let bounds = (px.start + 2, py.start + 2, px.end - 2, py.end - 2);
        let centres: Vec<(i32, i32)> = self
            .points
            .iter()
            .map(|p| chart.backend_coord(&(p.cost.mean, p.p99.mean)))
            .collect();
        let mut taken: Vec<Box2> = centres
            .iter()
            .map(|&(x, y)| (x - 8, y - 8, x + 8, y + 8))
            .collect();
        for p in &self.points {
            let at = (p.cost.mean, p.p99.mean);
            chart.draw_series(std::iter::once(Circle::new(
                at,
                8,
                strategy_color(p.kind).filled(),
            )))?;
            chart.draw_series(std::iter::once(Circle::new(at, 8, WHITE.stroke_width(1))))?;
        }
        let style = text(LABEL_SIZE, INK);
        for (p, &centre) in self.points.iter().zip(&centres) {
            let label = p.kind.name();
            let (w, h) = root.estimate_text_size(label, &style)?;
            let b = place_label(centre, w as i32 + 4, h as i32 + 4, bounds, &taken);
            taken.push(b);
            root.draw_text(
                label,
                &text(LABEL_SIZE, strategy_color(p.kind)).pos(Pos::new(HPos::Left, VPos::Center)),
                (b.0 + 2, (b.1 + b.3) / 2),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_avoid_each_other_and_stay_inside() {
        let bounds = (0, 0, 400, 300);
        let mut taken = vec![(95, 95, 105, 105)];
        let a = place_label((100, 100), 80, 16, bounds, &taken);
        taken.push(a);
        let b = place_label((100, 100), 80, 16, bounds, &taken);
        assert_eq!(overlap(a, b), 0);
        assert_eq!(overlap(a, (95, 95, 105, 105)), 0);
        let edge = place_label((395, 150), 80, 16, bounds, &[]);
        assert!(edge.2 <= 400 && edge.0 >= 0, "{edge:?}");
    }
}
