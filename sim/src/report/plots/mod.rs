//! The report's plots, drawn once per backend with `plotters`: an SVG for browsers and a PNG for
//! everything else. Text is laid out with the bundled DejaVu Sans, so both look the same on every
//! machine; colours come from fixed palettes (per deployment: its config index; per strategy:
//! its kind), so a deployment or a strategy has one colour in every plot.

mod cdf;
mod cost;
mod failures;
mod legend;
mod share;
mod weights;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use engine::StrategyKind;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::facts::Facts;
use super::ReportError;
use crate::output::write_atomically;

/// A drawn plot: its files and how the report introduces it.
#[derive(Debug, Clone)]
pub(crate) struct Plot {
    /// File stem: `<stem>.svg` and `<stem>.png` sit in the report folder.
    pub stem: &'static str,
    /// Heading.
    pub title: &'static str,
    /// One or two sentences on how to read it.
    pub caption: String,
    /// Size in pixels.
    pub size: (u32, u32),
}

impl Plot {
    /// The SVG's file name.
    pub fn svg(&self) -> String {
        format!("{}.svg", self.stem)
    }

    /// The PNG's file name.
    pub fn png(&self) -> String {
        format!("{}.png", self.stem)
    }
}

/// Why a plot could not be drawn (a plotters error, as text).
#[derive(Debug)]
pub(crate) struct DrawError(pub String);

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for DrawError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        DrawError(e.to_string())
    }
}

/// Something that draws itself on any plotters backend.
pub(crate) trait Figure: Sync {
    /// Size in pixels.
    fn size(&self) -> (u32, u32);
    /// Draws onto a white root area of [`Figure::size`].
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError>;
}

/// Family name the bundled font is registered under (SVGs ask the browser for `sans-serif`).
pub(crate) const FONT: &str = "sans-serif";

static FONT_READY: OnceLock<bool> = OnceLock::new();

/// Registers the bundled DejaVu Sans with plotters once per process.
fn register_font() -> Result<(), DrawError> {
    let ok = *FONT_READY.get_or_init(|| {
        plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../../../assets/DejaVuSans.ttf"),
        )
        .is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(DrawError(
            "the bundled font DejaVuSans.ttf does not load".into(),
        ))
    }
}

/// Draws every plot into `dir` as SVG and PNG, two at a time, and says what was drawn.
pub(crate) fn render_all(
    dir: &Path,
    f: &Facts<'_>,
) -> Result<(Vec<Plot>, Vec<PathBuf>), ReportError> {
    register_font().map_err(|e| ReportError::Plot {
        path: dir.to_owned(),
        message: e.0,
    })?;
    let cdf = cdf::LatencyCdf::new(f);
    let share = share::TrafficShare::new(f);
    let failures = failures::Failures::new(f);
    let cost = cost::CostLatency::new(f);
    let weights = weights::Weights::new(f);
    let plots = [
        cdf.plot(),
        share.plot(),
        failures.plot(),
        cost.plot(),
        weights.plot(),
    ];
    // Two threads: the SVGs are quick, the PNGs take the time; each file's bytes do not depend
    // on which thread draws it.
    let results: Vec<Result<Vec<PathBuf>, ReportError>> = std::thread::scope(|scope| {
        let a = scope.spawn(|| -> Result<Vec<PathBuf>, ReportError> {
            let mut files = render(dir, plots[0].stem, &cdf)?;
            files.extend(render(dir, plots[2].stem, &failures)?);
            files.extend(render(dir, plots[3].stem, &cost)?);
            Ok(files)
        });
        let b = || -> Result<Vec<PathBuf>, ReportError> {
            let mut files = render(dir, plots[1].stem, &share)?;
            files.extend(render(dir, plots[4].stem, &weights)?);
            Ok(files)
        };
        let b = b();
        let a = a.join().unwrap_or_else(|_| {
            Err(ReportError::Plot {
                path: dir.to_owned(),
                message: "a plotting thread panicked".into(),
            })
        });
        vec![a, b]
    });
    let mut files = Vec::new();
    for r in results {
        files.extend(r?);
    }
    files.sort();
    Ok((plots.to_vec(), files))
}

/// Draws one figure as `<stem>.svg` and `<stem>.png`.
fn render<F: Figure>(dir: &Path, stem: &str, fig: &F) -> Result<Vec<PathBuf>, ReportError> {
    let (w, h) = fig.size();
    let svg_path = dir.join(format!("{stem}.svg"));
    let png_path = dir.join(format!("{stem}.png"));
    let plot_err = |path: &Path| {
        let path = path.to_owned();
        move |e: DrawError| ReportError::Plot { path, message: e.0 }
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        draw_on(&root, fig).map_err(plot_err(&svg_path))?;
    }
    write_atomically(&svg_path, |out| out.write_all(svg.as_bytes()))?;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        draw_on(&root, fig).map_err(plot_err(&png_path))?;
    }
    write_atomically(&png_path, |out| {
        let mut encoder = png::Encoder::new(out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer
            .write_image_data(&rgb)
            .map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    })?;
    Ok(vec![svg_path, png_path])
}

fn draw_on<DB: DrawingBackend, F: Figure>(
    root: &DrawingArea<DB, Shift>,
    fig: &F,
) -> Result<(), DrawError> {
    root.fill(&WHITE)?;
    fig.draw(root)?;
    root.present()?;
    Ok(())
}

// ---- shared look ----

/// Text of `size` px in `color`.
pub(crate) fn text(size: f64, color: RGBColor) -> TextStyle<'static> {
    let mut style = TextStyle::from((FONT, size).into_font());
    style.color = color.to_backend_color();
    style
}

/// Text sizes in pixels (the PNG's; SVGs ask the browser for size ÷ 1.24, as plotters does).
pub(crate) mod size {
    /// Figure titles.
    pub const TITLE: f64 = 22.0;
    /// Panel captions.
    pub const CAPTION: f64 = 18.0;
    /// Axis descriptions.
    pub const DESC: f64 = 16.0;
    /// Tick labels.
    pub const LABEL: f64 = 15.0;
    /// Legend entries and point labels.
    pub const LEGEND: f64 = 17.0;
}

/// Dark grey for text and axes.
pub(crate) const INK: RGBColor = RGBColor(40, 40, 40);
/// Light grey for grid lines.
pub(crate) const GRID: RGBColor = RGBColor(228, 228, 228);
/// Fainter grey for minor grid lines.
pub(crate) const FAINT: RGBColor = RGBColor(242, 242, 242);
/// Incident shading.
pub(crate) const SHADE: RGBColor = RGBColor(90, 90, 90);
/// Opacity of the incident shading.
pub(crate) const SHADE_ALPHA: f64 = 0.16;

/// Colour of the deployment at config index `i`: pastel, for stacked areas and swatches
/// (ColorBrewer Set3 and Pastel1, cycled).
pub(crate) fn deployment_color(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 12] = [
        RGBColor(128, 177, 211),
        RGBColor(253, 180, 98),
        RGBColor(141, 211, 199),
        RGBColor(251, 128, 114),
        RGBColor(190, 186, 218),
        RGBColor(179, 222, 105),
        RGBColor(252, 205, 229),
        RGBColor(204, 235, 197),
        RGBColor(255, 237, 111),
        RGBColor(188, 128, 189),
        RGBColor(217, 217, 217),
        RGBColor(229, 216, 189),
    ];
    PALETTE[i % PALETTE.len()]
}

/// Colour of a strategy: saturated, for lines and markers; the same in every report.
pub(crate) fn strategy_color(kind: StrategyKind) -> RGBColor {
    match kind {
        StrategyKind::Random => RGBColor(127, 127, 127),
        StrategyKind::WeightedRoundRobin => RGBColor(31, 119, 180),
        StrategyKind::LeastLatency => RGBColor(255, 127, 14),
        StrategyKind::LeastOutstanding => RGBColor(44, 160, 44),
        StrategyKind::PeakEwma => RGBColor(148, 103, 189),
        StrategyKind::CapacityAware => RGBColor(140, 86, 75),
        StrategyKind::ErrorWeighted => RGBColor(227, 119, 194),
        StrategyKind::Adaptive => RGBColor(214, 39, 40),
        StrategyKind::CostAware => RGBColor(188, 189, 34),
    }
}

/// Shades each incident window `[start, end)` (x in minutes) across the chart's y range, with
/// dashed edges, behind or over what is drawn.
pub(crate) fn shade_incidents<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    f: &Facts<'_>,
) -> Result<(), DrawError> {
    let y = chart.y_range();
    let x = chart.x_range();
    for inc in &f.incidents {
        let x0 = (inc.start_s / 60.0).clamp(x.start, x.end);
        let x1 = (inc.end_s / 60.0).clamp(x.start, x.end);
        if x1 <= x0 {
            continue;
        }
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, y.start), (x1, y.end)],
            SHADE.mix(SHADE_ALPHA).filled(),
        )))?;
        for edge in [x0, x1] {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(edge, y.start), (edge, y.end)],
                SHADE.mix(0.6).stroke_width(1),
            )))?;
        }
    }
    Ok(())
}

/// `c` at opacity `alpha` over white, as an opaque colour (legend swatches of translucent fills).
pub(crate) fn over_white(c: RGBColor, alpha: f64) -> RGBColor {
    let blend = |v: u8| (f64::from(v) * alpha + 255.0 * (1.0 - alpha)).round() as u8;
    RGBColor(blend(c.0), blend(c.1), blend(c.2))
}

/// Time-axis range in minutes for the facts' longest series.
pub(crate) fn minutes(f: &Facts<'_>) -> std::ops::Range<f64> {
    0.0..(f.span_s() / 60.0)
}

/// Formats a minute-axis tick.
pub(crate) fn minute_label(v: &f64) -> String {
    super::format::axis_number(*v)
}

/// The chart type of a panel over simulated time.
pub(crate) type TimeChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A titled figure with its legend strip drawn at the bottom and the rest split into a grid of
/// `rows` × `columns` panel areas (one per strategy).
pub(crate) fn titled_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    entries: &[legend::Entry],
    rows: usize,
    columns: usize,
) -> Result<Vec<DrawingArea<DB, Shift>>, DrawError> {
    let root = root.titled(title, text(size::TITLE, INK))?;
    let (content, legend_area) = legend::split_bottom(&root, entries)?;
    legend::draw(&legend_area, entries)?;
    Ok(content.split_evenly((rows, columns)))
}

/// One strategy's panel over simulated time: caption in the strategy's colour, minutes on x,
/// `y` on y, and the mesh every time plot shares.
pub(crate) fn time_panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    kind: StrategyKind,
    f: &Facts<'_>,
    y: std::ops::Range<f64>,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<TimeChart<'a, DB>, DrawError> {
    let mut chart = ChartBuilder::on(area)
        .caption(kind.name(), text(size::CAPTION, strategy_color(kind)))
        .margin(8)
        .margin_right(20)
        .x_label_area_size(48)
        .y_label_area_size(68)
        .build_cartesian_2d(minutes(f), y)?;
    chart
        .configure_mesh()
        .x_desc("time (min)")
        .y_desc(y_desc)
        .x_labels(12)
        .y_labels(6)
        .x_label_formatter(&minute_label)
        .y_label_formatter(y_label)
        .light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(INK)
        .label_style(text(size::LABEL, INK))
        .axis_desc_style(text(size::LABEL, INK))
        .draw()?;
    Ok(chart)
}
