//! Legends drawn in a strip of their own (never over the data): entries laid out left to right,
//! wrapping into centred rows.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{text, DrawError, INK, SHADE, SHADE_ALPHA};

/// What an entry's swatch looks like.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Swatch {
    /// A solid line.
    Line(RGBColor),
    /// A dashed line.
    Dashed(RGBColor),
    /// A filled box.
    Fill(RGBColor),
    /// A filled box with a dark outline.
    Outlined(RGBColor),
    /// A round marker.
    Marker(RGBColor),
    /// The incident shading.
    Shade,
}

/// One legend entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Label text.
    pub label: String,
    /// Swatch.
    pub swatch: Swatch,
}

impl Entry {
    /// An entry.
    pub fn new(label: impl Into<String>, swatch: Swatch) -> Entry {
        Entry {
            label: label.into(),
            swatch,
        }
    }
}

const FONT_SIZE: f64 = super::size::LEGEND;
const SWATCH_W: i32 = 24;
const SWATCH_GAP: i32 = 6;
const SPACING: i32 = 26;
const ROW_H: i32 = 28;
const PAD: i32 = 8;

/// Entries of each row with their widths, for an area `width` px wide.
fn rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    width: i32,
) -> Result<Vec<Vec<(usize, i32)>>, DrawError> {
    let style = text(FONT_SIZE, INK);
    let mut rows: Vec<Vec<(usize, i32)>> = vec![Vec::new()];
    let mut used = 0;
    for (i, e) in entries.iter().enumerate() {
        let (tw, _) = area.estimate_text_size(&e.label, &style)?;
        let w = SWATCH_W + SWATCH_GAP + tw as i32;
        let needed = if used == 0 { w } else { used + SPACING + w };
        if needed > width - 2 * PAD && used > 0 {
            rows.push(Vec::new());
            used = w;
        } else {
            used = needed;
        }
        if let Some(row) = rows.last_mut() {
            row.push((i, w));
        }
    }
    Ok(rows)
}

/// Height in pixels a legend of `entries` needs across `area`'s width.
pub(crate) fn height<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<u32, DrawError> {
    if entries.is_empty() {
        return Ok(0);
    }
    let width = area.dim_in_pixel().0 as i32;
    let n = rows(area, entries, width)?.len() as i32;
    Ok((n * ROW_H + 2 * PAD) as u32)
}

/// Draws the legend into `area` (sized with [`height`]).
pub(crate) fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<(), DrawError> {
    let width = area.dim_in_pixel().0 as i32;
    let style = text(FONT_SIZE, INK).pos(Pos::new(HPos::Left, VPos::Center));
    for (r, row) in rows(area, entries, width)?.iter().enumerate() {
        let total: i32 = row.iter().map(|(_, w)| w).sum::<i32>() + SPACING * (row.len() as i32 - 1);
        let mut x = ((width - total) / 2).max(PAD);
        let y = PAD + r as i32 * ROW_H + ROW_H / 2;
        for &(i, w) in row {
            let e = &entries[i];
            swatch(area, e.swatch, x, y)?;
            area.draw_text(&e.label, &style, (x + SWATCH_W + SWATCH_GAP, y))?;
            x += w + SPACING;
        }
    }
    Ok(())
}

fn swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    s: Swatch,
    x: i32,
    y: i32,
) -> Result<(), DrawError> {
    let (x0, x1) = (x, x + SWATCH_W);
    match s {
        Swatch::Line(c) => {
            area.draw(&PathElement::new(vec![(x0, y), (x1, y)], c.stroke_width(3)))?;
        }
        Swatch::Dashed(c) => {
            for k in 0..3 {
                let a = x0 + k * 9;
                area.draw(&PathElement::new(
                    vec![(a, y), (a + 6, y)],
                    c.stroke_width(2),
                ))?;
            }
        }
        Swatch::Fill(c) => {
            area.draw(&Rectangle::new([(x0, y - 7), (x1, y + 7)], c.filled()))?;
        }
        Swatch::Outlined(c) => {
            area.draw(&Rectangle::new([(x0, y - 7), (x1, y + 7)], c.filled()))?;
            area.draw(&Rectangle::new(
                [(x0, y - 7), (x1, y + 7)],
                INK.stroke_width(1),
            ))?;
        }
        Swatch::Marker(c) => {
            area.draw(&PathElement::new(vec![(x0, y), (x1, y)], c.stroke_width(2)))?;
            area.draw(&Circle::new((x0 + SWATCH_W / 2, y), 5, c.filled()))?;
            area.draw(&Circle::new(
                (x0 + SWATCH_W / 2, y),
                5,
                WHITE.stroke_width(1),
            ))?;
        }
        Swatch::Shade => {
            area.draw(&Rectangle::new(
                [(x0, y - 8), (x1, y + 8)],
                SHADE.mix(SHADE_ALPHA * 1.5).filled(),
            ))?;
            for edge in [x0, x1] {
                area.draw(&PathElement::new(
                    vec![(edge, y - 8), (edge, y + 8)],
                    SHADE.mix(0.6).stroke_width(1),
                ))?;
            }
        }
    }
    Ok(())
}

/// Two areas: what is drawn, and the legend strip under it.
pub(crate) type Split<DB> = (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>);

/// Splits `area` into (content, legend strip at the bottom) for `entries`.
pub(crate) fn split_bottom<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<Split<DB>, DrawError> {
    let h = height(area, entries)? as i32;
    let total = area.dim_in_pixel().1 as i32;
    Ok(area.split_vertically(total - h))
}

/// The height a figure needs for a legend of `entries` across `width` px, estimated with the
/// bundled font before any backend exists (so figure sizes are known up front).
pub(crate) fn estimated_height(entries: &[Entry], width: u32) -> u32 {
    if entries.is_empty() {
        return 0;
    }
    // About 0.55 em per character for DejaVu Sans at this size; generous to be safe.
    let char_w = FONT_SIZE * 0.6;
    let mut rows = 1;
    let mut used = 0i32;
    for e in entries {
        let w = SWATCH_W + SWATCH_GAP + (e.label.chars().count() as f64 * char_w).ceil() as i32;
        let needed = if used == 0 { w } else { used + SPACING + w };
        if needed > width as i32 - 2 * PAD && used > 0 {
            rows += 1;
            used = w;
        } else {
            used = needed;
        }
    }
    (rows * ROW_H + 2 * PAD) as u32
}
