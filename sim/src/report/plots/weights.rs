//! Plot 5: each deployment's configured weight share against the share of its tier's attempts
//! each strategy actually sent it (grouped bars; means over seeds).

use engine::StrategyKind;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::legend::{self, Entry, Swatch};
use super::{deployment_color, size, strategy_color, text, DrawError, Figure, Plot, GRID, INK};
use crate::report::facts::Facts;
use crate::report::format::axis_number;

const WIDTH: u32 = 1200;
const HEIGHT: u32 = 560;
const CONFIGURED: RGBColor = RGBColor(200, 200, 200);

struct Group {
    deployment: usize,
    label: String,
    tier: String,
    configured: f64,
    /// (strategy, actual share %) per strategy with data.
    actual: Vec<(StrategyKind, Option<f64>)>,
}

/// The weights-against-actual-share figure.
pub(crate) struct Weights {
    groups: Vec<Group>,
    legend: Vec<Entry>,
    height: u32,
    seeds: usize,
}

impl Weights {
    /// Shares per deployment and strategy.
    pub fn new(f: &Facts<'_>) -> Weights {
        let groups = f
            .display_order()
            .into_iter()
            .map(|d| {
                let info = &f.deployments[d];
                Group {
                    deployment: d,
                    label: info.id.clone(),
                    tier: f.tiers.get(info.tier).cloned().unwrap_or_default(),
                    configured: info.configured_share * 100.0,
                    actual: f
                        .strategies
                        .iter()
                        .map(|s| (s.kind, s.mean_actual_share(&info.id).map(|v| v * 100.0)))
                        .collect(),
                }
            })
            .collect();
        let mut legend = vec![Entry::new(
            "configured weight share",
            Swatch::Outlined(CONFIGURED),
        )];
        legend.extend(
            f.strategies
                .iter()
                .map(|s| Entry::new(s.name(), Swatch::Fill(strategy_color(s.kind)))),
        );
        let height = HEIGHT + legend::estimated_height(&legend, WIDTH);
        Weights {
            groups,
            legend,
            height,
            seeds: f.seeds(),
        }
    }

    /// How the report introduces it.
    pub fn plot(&self) -> Plot {
        Plot {
            stem: "weights",
            title: "Configured weight against actual share",
            caption: format!(
                "For each deployment, grouped by tier: its configured weight as a share of its tier's \
                 total weight (grey) and the share of the tier's attempts each strategy sent it{}. \
                 Weight-following strategies sit on the grey bar; adaptive ones move away from it \
                 where a deployment is slow, full or failing.",
                if self.seeds > 1 { " (mean over seeds)" } else { "" }
            ),
            size: self.size(),
        }
    }
}

impl Figure for Weights {
    fn size(&self) -> (u32, u32) {
        (WIDTH, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError> {
        let titled = root.titled(
            "Configured weight share against actual share of tier attempts",
            text(size::TITLE, INK),
        )?;
        let (content, legend_area) = legend::split_bottom(&titled, &self.legend)?;
        legend::draw(&legend_area, &self.legend)?;
        let top = self
            .groups
            .iter()
            .flat_map(|g| std::iter::once(g.configured).chain(g.actual.iter().filter_map(|a| a.1)))
            .fold(0.0, f64::max);
        let y_max = (top * 1.12).clamp(10.0, 105.0);
        let n = self.groups.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&content)
            .margin(16)
            .margin_right(24)
            .x_label_area_size(92)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..n, 0.0..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_label_formatter(&|_| String::new())
            .x_desc("deployment (tier)")
            .y_desc("share of the tier's attempts (%)")
            .y_labels(8)
            .y_label_formatter(&|v| axis_number(*v))
            .light_line_style(WHITE)
            .bold_line_style(GRID)
            .axis_style(INK)
            .label_style(text(size::LABEL, INK))
            .axis_desc_style(text(size::DESC, INK))
            .draw()?;
        for (i, g) in self.groups.iter().enumerate() {
            let bars = 1 + g.actual.len();
            let w = 0.8 / bars as f64;
            let x0 = i as f64 + 0.1;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x0 + w, g.configured)],
                CONFIGURED.filled(),
            )))?;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x0 + w, g.configured)],
                INK.stroke_width(1),
            )))?;
            for (j, (kind, share)) in g.actual.iter().enumerate() {
                if let Some(share) = share {
                    let a = x0 + (j + 1) as f64 * w;
                    chart.draw_series(std::iter::once(Rectangle::new(
                        [(a, 0.0), (a + w * 0.92, *share)],
                        strategy_color(*kind).filled(),
                    )))?;
                }
            }
            // The configured level as a line across the group, to read deviations against.
            chart.draw_series(DashedLineSeries::new(
                vec![(x0, g.configured), (x0 + 0.8, g.configured)],
                4,
                3,
                INK.mix(0.7).stroke_width(1),
            ))?;
            if i > 0 && self.groups[i - 1].tier != g.tier {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(i as f64, 0.0), (i as f64, y_max)],
                    INK.mix(0.5).stroke_width(1),
                )))?;
            }
        }
        // Group labels under the axis: a swatch of the deployment's colour, its id, its tier.
        let id_style = text(size::DESC, INK).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, g) in self.groups.iter().enumerate() {
            let (cx, cy) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            let (tw, _) = root.estimate_text_size(&g.label, &text(size::DESC, INK))?;
            let half = tw as i32 / 2;
            root.draw(&Rectangle::new(
                [(cx - half - 16, cy + 9), (cx - half - 4, cy + 21)],
                deployment_color(g.deployment).filled(),
            ))?;
            root.draw_text(&g.label, &id_style, (cx, cy + 8))?;
            root.draw_text(
                &format!("({})", g.tier),
                &text(size::LABEL, RGBColor(100, 100, 100)).pos(Pos::new(HPos::Center, VPos::Top)),
                (cx, cy + 32),
            )?;
        }
        Ok(())
    }
}
