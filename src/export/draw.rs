//! Drawing a [`FigureData`] with plotters: a title, a grid of panels (small multiples) and one
//! legend under them, laid out in points and drawn on any plotters backend at `per_pt` pixels
//! per point. Text is DejaVu Sans, shipped in `assets/fonts` and compiled in, so a bitmap is
//! the same on every machine and an SVG names the same family.

use super::data::{FigureData, LineStyle, Marker, Panel, Scale, Shape};
use super::palette::{self, Rgb};
use super::preset::{Sizes, PNG_DPI};
use ab_glyph::{Font, FontRef};
use anyhow::anyhow;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::OnceLock;

/// The family figure text is set in.
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// DejaVu Sans (see `assets/fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// plotters-svg writes a text of size `s` with `font-size = s / 1.24`; sizes given to it are
/// multiplied by this to get the em asked for.
const SVG_SIZE_PER_EM: f64 = 1.24;

/// Grid lines.
const GRID: RGBColor = RGBColor(225, 225, 225);

/// Margin around the figure, in points.
const MARGIN: f64 = 3.0;

/// The font, registered with plotters on first use.
fn font() -> anyhow::Result<&'static FontRef<'static>> {
    static LOADED: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let font = FontRef::try_from_slice(FONT).ok()?;
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT).ok()?;
            Some(font)
        })
        .as_ref()
        .ok_or_else(|| anyhow!("the figure font ({FONT_FAMILY}) does not load"))
}

/// Width of `text` set at an em of `em` points.
fn text_width(font: &FontRef<'_>, text: &str, em: f64) -> f64 {
    let units = f64::from(font.units_per_em().unwrap_or(2048.0));
    let mut w = 0.0f64;
    let mut prev = None;
    for ch in text.chars() {
        let g = font.glyph_id(ch);
        if let Some(p) = prev {
            w += f64::from(font.kern_unscaled(p, g));
        }
        w += f64::from(font.h_advance_unscaled(g));
        prev = Some(g);
    }
    w / units * em
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("drawing the figure failed: {e}")
}

fn colour(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Pixels per point, and how plotters' text sizes relate to the em on this backend.
#[derive(Debug, Clone, Copy)]
pub struct Canvas {
    /// Pixels (or SVG units) per point.
    pub per_pt: f64,
    size_per_em: f64,
}

impl Canvas {
    /// SVG: one unit per point.
    pub fn svg() -> anyhow::Result<Self> {
        font()?;
        Ok(Self {
            per_pt: 1.0,
            size_per_em: SVG_SIZE_PER_EM,
        })
    }

    /// A bitmap at [`PNG_DPI`]. plotters' bitmap text takes the height from ascent to descent,
    /// not the em, so sizes are scaled by the font's own ratio.
    pub fn png() -> anyhow::Result<Self> {
        let f = font()?;
        let units = f.units_per_em().unwrap_or(2048.0);
        Ok(Self {
            per_pt: PNG_DPI / 72.0,
            size_per_em: f64::from(f.height_unscaled() / units),
        })
    }

    fn px(&self, pt: f64) -> i32 {
        (pt * self.per_pt).round() as i32
    }

    fn stroke(&self, pt: f64) -> u32 {
        ((pt * self.per_pt).round() as u32).max(1)
    }

    fn text(&self, em_pt: f64) -> TextStyle<'static> {
        TextStyle::from((FONT_FAMILY, em_pt * self.per_pt * self.size_per_em).into_font())
            .color(&BLACK)
    }
}

/// What a legend entry shows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Swatch {
    /// A stroke in the line's style with the marker.
    Line,
    /// A filled box (outlined in the reference colour) with the marker.
    Bar,
    /// A lightly filled, outlined box.
    Steps,
}

/// One entry of the legend.
struct Entry {
    series: String,
    colour: Rgb,
    line: LineStyle,
    marker: Marker,
    shape: Swatch,
    /// Where, in points from the legend's left and its first row.
    x: f64,
    row: usize,
}

/// A panel's place, in points from the figure's top left.
struct Cell {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
    /// Whether it names its x axis (no panel below it) and its y axis (first in its row).
    x_desc: bool,
    y_desc: bool,
}

/// Where everything goes, in points.
pub struct Layout {
    /// The figure's width.
    pub width: f64,
    /// Its height.
    pub height: f64,
    title: Vec<String>,
    cells: Vec<Cell>,
    legend_y: f64,
    legend: Vec<Entry>,
}

/// Swatch of a legend entry.
const SWATCH: f64 = 12.0;

/// The least width of a wide panel, in points.
const WIDE_MIN: f64 = 220.0;

/// Lays `data` out at `sizes`: the title, then the panels (small multiples in rows of
/// `sizes.columns`, wide ones at least [`WIDE_MIN`] across; axis names only on the outer
/// edges), then the legend.
pub fn layout(data: &FigureData, sizes: &Sizes) -> anyhow::Result<Layout> {
    let font = font()?;
    let width = sizes.width;
    let inner = width - 2.0 * MARGIN;
    // The title, wrapped at spaces.
    let mut title: Vec<String> = Vec::new();
    for word in data.title.split(' ') {
        match title.last_mut() {
            Some(line) if text_width(font, &format!("{line} {word}"), sizes.title) <= inner => {
                line.push(' ');
                line.push_str(word);
            }
            _ => title.push(word.to_string()),
        }
    }
    let mut y = MARGIN + title.len() as f64 * sizes.title * 1.3 + 2.0;
    // The band an axis name takes.
    let desc = sizes.label * 1.4;
    let panels = &data.panels;
    let mut cells = Vec::with_capacity(panels.len());
    let mut i = 0;
    while i < panels.len() {
        // A run of panels of one kind: small multiples in rows of `sizes.columns`, wide ones
        // as many to a row as are at least WIDE_MIN across.
        let wide = panels[i].wide;
        let run = panels[i..].iter().take_while(|p| p.wide == wide).count();
        let columns = if wide {
            (width / WIDE_MIN).floor() as usize
        } else {
            sizes.columns
        }
        .min(run)
        .max(1);
        let base_w = (width - desc) / columns as f64;
        let base_h = if wide {
            (base_w * 0.5).clamp(100.0, 170.0)
        } else {
            (base_w * 0.85).clamp(95.0, 150.0)
        };
        for row in 0..run.div_ceil(columns) {
            let members: Vec<usize> = (row * columns..((row + 1) * columns).min(run)).collect();
            let named = |k: usize| k + columns >= run;
            let h = base_h
                + if members.iter().any(|&k| named(k)) {
                    desc
                } else {
                    0.0
                };
            for &k in &members {
                let col = k % columns;
                let x = if col == 0 {
                    0.0
                } else {
                    desc + col as f64 * base_w
                };
                cells.push(Cell {
                    x,
                    y,
                    w: base_w + if col == 0 { desc } else { 0.0 },
                    h,
                    x_desc: named(k),
                    y_desc: col == 0,
                });
            }
            y += h;
        }
        i += run;
    }
    // The legend: each series once, in the order of first appearance, flowed into rows.
    let mut legend: Vec<Entry> = Vec::new();
    let (mut x, mut row) = (0.0, 0);
    for mark in panels.iter().flat_map(|p| &p.marks) {
        if !mark.in_legend || legend.iter().any(|e| e.series == mark.series) {
            continue;
        }
        let w = SWATCH + 3.0 + text_width(font, &mark.series, sizes.tick);
        if x > 0.0 && x + w > inner {
            x = 0.0;
            row += 1;
        }
        legend.push(Entry {
            series: mark.series.clone(),
            colour: mark.colour,
            line: mark.line,
            marker: mark.marker,
            shape: match mark.shape {
                Shape::Line(_) => Swatch::Line,
                Shape::Bars(_) => Swatch::Bar,
                Shape::Steps(_) => Swatch::Steps,
            },
            x,
            row,
        });
        x += w + 8.0;
    }
    let legend_rows = if legend.is_empty() { 0 } else { row + 1 };
    let legend_y = y + 2.0;
    let height = (legend_y + legend_rows as f64 * sizes.tick * 1.6 + MARGIN).ceil();
    Ok(Layout {
        width,
        height,
        title,
        cells,
        legend_y,
        legend,
    })
}

/// Draws `data` on `root`, which is `layout`'s size at `canvas`.
pub fn render<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    data: &FigureData,
    sizes: &Sizes,
    layout: &Layout,
    canvas: &Canvas,
) -> anyhow::Result<()> {
    let c = canvas;
    root.fill(&WHITE).map_err(err)?;
    for (i, line) in layout.title.iter().enumerate() {
        root.draw(&Text::new(
            line.clone(),
            (
                c.px(layout.width / 2.0),
                c.px(MARGIN + i as f64 * sizes.title * 1.3),
            ),
            c.text(sizes.title).pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(err)?;
    }
    for (panel, cell) in data.panels.iter().zip(&layout.cells) {
        let area = root
            .clone()
            .shrink((c.px(cell.x), c.px(cell.y)), (c.px(cell.w), c.px(cell.h)));
        draw_panel(root, &area, panel, cell, sizes, c)?;
    }
    draw_legend(root, layout, sizes, c)
}

/// A value on an axis as drawn (log2 of it on a log2 axis).
fn to_axis(scale: Scale, v: f64) -> f64 {
    match scale {
        Scale::Linear => v,
        Scale::Log2 => v.log2(),
    }
}

/// Draws a marker centred at `at`, in pixels of `area`.
fn draw_marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    at: (i32, i32),
    marker: Marker,
    rgb: Rgb,
    r: i32,
) -> anyhow::Result<()> {
    let style = colour(rgb).filled();
    let (x, y) = at;
    match marker {
        Marker::None => Ok(()),
        Marker::Circle => area.draw(&Circle::new(at, r, style)),
        Marker::Square => area.draw(&Rectangle::new([(x - r, y - r), (x + r, y + r)], style)),
        Marker::Triangle => area.draw(&TriangleMarker::new(at, r + r / 3, style)),
        Marker::Diamond => {
            let d = r + r / 3;
            area.draw(&Polygon::new(
                vec![(x, y - d), (x + d, y), (x, y + d), (x - d, y)],
                style,
            ))
        }
    }
    .map_err(err)
}

/// Strokes a path through `points` (backend pixels, or chart coordinates on a chart's
/// area) in `line`'s style: solid, or its dash pattern scaled to the canvas.
fn stroke_path<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
    area: &DrawingArea<DB, CT>,
    points: Vec<CT::From>,
    line: LineStyle,
    style: ShapeStyle,
    c: &Canvas,
) -> anyhow::Result<()>
where
    CT::From: Clone,
{
    match line.dash() {
        None => area.draw(&PathElement::new(points, style)),
        Some((on, off)) => area.draw(&DashedPathElement::new(
            points,
            c.px(on).max(1),
            c.px(off).max(1),
            style,
        )),
    }
    .map_err(err)
}

/// A linear axis with ticks at exactly the given points (plotters' `WithKeyPoints` over
/// `f64` cannot format its labels).
struct Keyed {
    range: std::ops::Range<f64>,
    keys: Vec<f64>,
}

impl Ranged for Keyed {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span == 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.range.start) / span;
        let length = f64::from(limit.1 - limit.0);
        limit.0 + (length * t).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// Draws one panel in `area`; markers and notes go on `root` in backend pixels.
fn draw_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    area: &DrawingArea<DB, Shift>,
    panel: &Panel,
    cell: &Cell,
    sizes: &Sizes,
    c: &Canvas,
) -> anyhow::Result<()> {
    let font = font()?;
    let desc = sizes.label * 1.4;
    let (xs, ys) = (panel.x.scale, panel.y.scale);
    let x_keys: Vec<f64> = panel.x.ticks.iter().map(|t| to_axis(xs, t.at)).collect();
    let y_keys: Vec<f64> = panel.y.ticks.iter().map(|t| to_axis(ys, t.at)).collect();
    let x_range = to_axis(xs, panel.x.range.0)..to_axis(xs, panel.x.range.1);
    let y_range = to_axis(ys, panel.y.range.0)..to_axis(ys, panel.y.range.1);
    let y_tick_w = panel
        .y
        .ticks
        .iter()
        .map(|t| text_width(font, &t.label, sizes.tick))
        .fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, c.text(sizes.label))
        .margin_top(c.px(1.0))
        .margin_bottom(c.px(1.0))
        .margin_left(c.px(1.0))
        .margin_right(c.px(9.0))
        .x_label_area_size(c.px(sizes.tick * 1.2 + 3.0 + if cell.x_desc { desc } else { 0.0 }))
        .y_label_area_size(c.px(y_tick_w + 4.0 + if cell.y_desc { desc } else { 0.0 }))
        .build_cartesian_2d(
            Keyed {
                range: x_range,
                keys: x_keys,
            },
            Keyed {
                range: y_range,
                keys: y_keys,
            },
        )
        .map_err(err)?;
    let label = |axis: &super::data::Axis, v: f64| {
        axis.ticks
            .iter()
            .find(|t| (to_axis(axis.scale, t.at) - v).abs() < 1e-9)
            .map(|t| t.label.clone())
            .unwrap_or_default()
    };
    let x_fmt = |v: &f64| label(&panel.x, *v);
    let y_fmt = |v: &f64| label(&panel.y, *v);
    let mut mesh = chart.configure_mesh();
    if cell.x_desc {
        mesh.x_desc(panel.x.label.as_str());
    }
    if cell.y_desc {
        mesh.y_desc(panel.y.label.as_str());
    }
    mesh.x_label_formatter(&x_fmt)
        .y_label_formatter(&y_fmt)
        .label_style(c.text(sizes.tick))
        .axis_desc_style(c.text(sizes.label))
        .bold_line_style(GRID.stroke_width(c.stroke(sizes.grid)))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.stroke_width(c.stroke(sizes.axis)))
        .set_all_tick_mark_size(c.px(2.0))
        .draw()
        .map_err(err)?;
    let at = |x: f64, y: f64| (to_axis(xs, x), to_axis(ys, y));
    let line_w = c.stroke(sizes.line);
    // Bands under everything.
    for mark in &panel.marks {
        let Shape::Line(points) = &mark.shape else {
            continue;
        };
        let band: Vec<(f64, f64, f64)> = points
            .iter()
            .filter_map(|p| Some((p.x, p.low?, p.high?)))
            .collect();
        if band.iter().all(|(_, l, h)| h - l <= 1e-12) {
            continue;
        }
        if let [(x, l, h)] = band[..] {
            // One point: its interval as an error bar.
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![at(x, l), at(x, h)],
                    colour(mark.colour).stroke_width(c.stroke(sizes.line)),
                )))
                .map_err(err)?;
            continue;
        }
        let mut outline: Vec<(f64, f64)> = band.iter().map(|&(x, _, h)| at(x, h)).collect();
        outline.extend(band.iter().rev().map(|&(x, l, _)| at(x, l)));
        chart
            .draw_series(std::iter::once(Polygon::new(
                outline,
                colour(mark.colour).mix(0.18).filled(),
            )))
            .map_err(err)?;
    }
    // Bars side by side, histograms, then lines on top.
    let bar_marks = panel
        .marks
        .iter()
        .filter(|m| matches!(m.shape, Shape::Bars(_)))
        .count();
    let mut bar_index = 0;
    for mark in &panel.marks {
        let rgb = colour(mark.colour);
        match &mark.shape {
            Shape::Bars(points) => {
                let w = 0.8 / bar_marks.max(1) as f64;
                let offset = -0.4 + bar_index as f64 * w;
                bar_index += 1;
                let style = if mark.colour == palette::REFERENCE {
                    rgb.stroke_width(line_w)
                } else {
                    rgb.filled()
                };
                chart
                    .draw_series(points.iter().map(|p| {
                        let x0 = to_axis(xs, p.x) + offset;
                        Rectangle::new([(x0, to_axis(ys, 0.0)), (x0 + w, to_axis(ys, p.y))], style)
                    }))
                    .map_err(err)?;
                // The marker on each bar's top tells apart series that share a colour.
                for p in points {
                    let top = chart
                        .backend_coord(&(to_axis(xs, p.x) + offset + w / 2.0, to_axis(ys, p.y)));
                    draw_marker(
                        root,
                        top,
                        mark.marker,
                        mark.colour,
                        c.px(sizes.marker).max(1),
                    )?;
                }
            }
            Shape::Steps(bins) => {
                let mut outline = Vec::with_capacity(2 * bins.len() + 2);
                if let Some(first) = bins.first() {
                    outline.push(at(first.from, 0.0));
                }
                for b in bins {
                    outline.push(at(b.from, b.y));
                    outline.push(at(b.to, b.y));
                }
                if let Some(last) = bins.last() {
                    outline.push(at(last.to, 0.0));
                }
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        outline.clone(),
                        rgb.mix(0.15).filled(),
                    )))
                    .map_err(err)?;
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        outline,
                        rgb.stroke_width(line_w),
                    )))
                    .map_err(err)?;
            }
            Shape::Line(_) => {}
        }
    }
    let r = c.px(sizes.marker).max(1);
    for mark in &panel.marks {
        let Shape::Line(points) = &mark.shape else {
            continue;
        };
        let rgb = colour(mark.colour);
        let xy: Vec<(f64, f64)> = points.iter().map(|p| at(p.x, p.y)).collect();
        stroke_path(
            chart.plotting_area(),
            xy.clone(),
            mark.line,
            rgb.stroke_width(line_w),
            c,
        )?;
        // Markers and notes in pixels, on the root (whose pixels are the backend's).
        for p in &xy {
            draw_marker(root, chart.backend_coord(p), mark.marker, mark.colour, r)?;
        }
        // Notes above their points, or below near the top.
        let top = to_axis(ys, panel.y.range.1);
        let bottom = to_axis(ys, panel.y.range.0);
        // Neighbouring notes alternate between two heights, so wide ones do not overlap.
        let noted = points
            .iter()
            .zip(&xy)
            .filter_map(|(p, xy)| Some((p.note.as_ref()?, xy)));
        for (k, (note, &xy)) in noted.enumerate() {
            let high = xy.1 > bottom + 0.7 * (top - bottom);
            let gap = 3.0 + if k % 2 == 1 { sizes.tick } else { 0.0 };
            let (dy, v) = if high {
                (c.px(gap), VPos::Top)
            } else {
                (-c.px(gap), VPos::Bottom)
            };
            // Kept inside the panel: centred on its point unless that would cut it off.
            let (px, py) = chart.backend_coord(&xy);
            let half = c.px(text_width(font, note, sizes.tick - 1.0) / 2.0 + 1.0);
            let (left, right) = (c.px(cell.x) + half, c.px(cell.x + cell.w) - half);
            let px = if left <= right {
                px.clamp(left, right)
            } else {
                px
            };
            root.draw(&Text::new(
                note.clone(),
                (px, py + dy),
                c.text(sizes.tick - 1.0)
                    .pos(Pos::new(HPos::Center, v))
                    .color(&rgb),
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}

fn draw_legend<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    layout: &Layout,
    sizes: &Sizes,
    c: &Canvas,
) -> anyhow::Result<()> {
    let row_h = sizes.tick * 1.6;
    let line_w = c.stroke(sizes.line);
    for e in &layout.legend {
        let x0 = MARGIN + e.x;
        let y = layout.legend_y + (e.row as f64 + 0.5) * row_h;
        let rgb = colour(e.colour);
        let corners = [
            (c.px(x0), c.px(y - sizes.tick * 0.35)),
            (c.px(x0 + SWATCH), c.px(y + sizes.tick * 0.35)),
        ];
        match e.shape {
            Swatch::Bar if e.colour == palette::REFERENCE => {
                root.draw(&Rectangle::new(corners, rgb.stroke_width(line_w)))
            }
            Swatch::Bar => root.draw(&Rectangle::new(corners, rgb.filled())),
            Swatch::Steps => root
                .draw(&Rectangle::new(corners, rgb.mix(0.15).filled()))
                .and_then(|()| root.draw(&Rectangle::new(corners, rgb.stroke_width(line_w)))),
            Swatch::Line => {
                stroke_path(
                    root,
                    vec![(c.px(x0), c.px(y)), (c.px(x0 + SWATCH), c.px(y))],
                    e.line,
                    rgb.stroke_width(line_w),
                    c,
                )?;
                Ok(())
            }
        }
        .map_err(err)?;
        if matches!(e.shape, Swatch::Line | Swatch::Bar) {
            let at_y = if e.shape == Swatch::Bar {
                y - sizes.tick * 0.35
            } else {
                y
            };
            draw_marker(
                root,
                (c.px(x0 + SWATCH / 2.0), c.px(at_y)),
                e.marker,
                e.colour,
                c.px(sizes.marker).max(1),
            )?;
        }
        root.draw(&Text::new(
            e.series.clone(),
            (c.px(x0 + SWATCH + 3.0), c.px(y)),
            c.text(sizes.tick).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(err)?;
    }
    Ok(())
}
