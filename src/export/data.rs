//! The numbers of a figure, apart from how they are drawn: panels of marks (lines with their
//! intervals, bars, step histograms), each point as it appears in the figure. The drawing
//! ([`super::draw`]) and the CSV and JSON beside a figure are all made from one
//! [`FigureData`], so the files hold exactly the numbers drawn.

use super::palette::Rgb;
use serde::{Deserialize, Serialize};

/// How an axis maps its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scale {
    /// Evenly.
    Linear,
    /// By log2 (budgets that double are evenly spaced).
    Log2,
}

/// A labelled tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Where, in data units.
    pub at: f64,
    /// Its label.
    pub label: String,
}

/// One axis of a panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Axis {
    /// What it measures.
    pub label: String,
    /// How values map.
    pub scale: Scale,
    /// The shown range, in data units.
    pub range: (f64, f64),
    /// The ticks.
    pub ticks: Vec<Tick>,
}

/// The range of a log axis over the positive values of `xs`: a quarter doubling beyond each
/// end (around 1 when there is none).
fn log_range(xs: &[f64]) -> (f64, f64) {
    let lo = xs
        .iter()
        .copied()
        .filter(|x| *x > 0.0)
        .fold(f64::INFINITY, f64::min);
    let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi >= lo {
        (lo, hi)
    } else {
        (1.0, 1.0)
    };
    let margin = 2f64.powf(0.25);
    (lo / margin, hi * margin)
}

impl Axis {
    /// A linear axis over `range` with a tick at each of `at`, labelled by `label`.
    pub fn linear(label: &str, range: (f64, f64), at: &[f64], fmt: impl Fn(f64) -> String) -> Self {
        Self {
            label: label.into(),
            scale: Scale::Linear,
            range,
            ticks: at
                .iter()
                .map(|&a| Tick {
                    at: a,
                    label: fmt(a),
                })
                .collect(),
        }
    }

    /// Accuracy: 0 to 1, ticks every 0.2.
    pub fn accuracy() -> Self {
        let at: Vec<f64> = (0..=5).map(|i| f64::from(i) * 0.2).collect();
        Self::linear("accuracy", (0.0, 1.0), &at, |a| format!("{a:.1}"))
    }

    /// A log2 axis of generation budgets: the range covers `xs` with a margin of a quarter
    /// doubling on each side; ticks at the `budgets` inside it and at the values of `xs` that
    /// are powers of two (at every value of `xs` when that gives fewer than two ticks); past
    /// seven ticks every other one goes unlabelled.
    pub fn budgets(label: &str, xs: &[f64], budgets: &[usize]) -> Self {
        let range = log_range(xs);
        // The budgets, and costs past them that are powers of two (lookahead's N·(k + 1)).
        let mut at: Vec<f64> = budgets
            .iter()
            .map(|&b| b as f64)
            .chain(
                xs.iter()
                    .copied()
                    .filter(|x| x.fract() == 0.0 && *x >= 1.0 && (*x as u64).is_power_of_two()),
            )
            .filter(|&b| b >= range.0 && b <= range.1)
            .collect();
        at.sort_by(f64::total_cmp);
        at.dedup();
        if at.len() < 2 {
            at = xs.to_vec();
            at.sort_by(f64::total_cmp);
            at.dedup();
        }
        // More than seven doublings crowd a small panel: label every other tick (the largest
        // always), keep the grid line of each.
        let n = at.len();
        let crowded = n > 7;
        Self {
            label: label.into(),
            scale: Scale::Log2,
            range,
            ticks: at
                .into_iter()
                .enumerate()
                .map(|(i, a)| Tick {
                    at: a,
                    label: if crowded && (n - 1 - i) % 2 == 1 {
                        String::new()
                    } else {
                        fmt_number(a)
                    },
                })
                .collect(),
        }
    }
}

impl Axis {
    /// A log2 axis over positive `xs` (tokens, FLOPs): the range covers them with a margin of
    /// a quarter doubling on each side; ticks at the round values 1, 2, 5 × 10^k inside it
    /// (only the powers of ten when that gives more than seven, then every other one),
    /// labelled compactly (`500`, `2k`, `1M`).
    pub fn log2(label: &str, xs: &[f64]) -> Self {
        let range = log_range(xs);
        let inside = |mults: &[f64]| -> Vec<f64> {
            let (a, b) = (
                range.0.log10().floor() as i32,
                range.1.log10().ceil() as i32,
            );
            (a..=b)
                .flat_map(|e| mults.iter().map(move |m| m * 10f64.powi(e)))
                .filter(|v| *v >= range.0 && *v <= range.1)
                .collect()
        };
        let mut at = inside(&[1.0, 2.0, 5.0]);
        if at.len() > 7 {
            at = inside(&[1.0]);
        }
        while at.len() > 7 {
            at = at.into_iter().step_by(2).collect();
        }
        if at.is_empty() {
            at.push((range.0 * range.1).sqrt());
        }
        Self {
            label: label.into(),
            scale: Scale::Log2,
            range,
            ticks: at
                .into_iter()
                .map(|at| Tick {
                    at,
                    label: fmt_compact(at),
                })
                .collect(),
        }
    }
}

/// A large number in a tick's few characters: `512`, `1.5k`, `64k`, `2M`, `1.2G`, `3T`.
pub fn fmt_compact(x: f64) -> String {
    let (v, unit) = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
        .into_iter()
        .find(|(d, _)| x.abs() >= *d)
        .map_or((x, ""), |(d, u)| (x / d, u));
    let digits = if v.abs() >= 10.0 || v.fract() == 0.0 {
        0
    } else {
        1
    };
    format!("{v:.digits$}{unit}")
}

/// A number as a tick or note shows it: integers without decimals.
pub fn fmt_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// One point of a line or bar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Its x value (a budget, a bin number).
    pub x: f64,
    /// Its y value.
    pub y: f64,
    /// Lower end of its interval, where it has one (drawn as a band).
    pub low: Option<f64>,
    /// Upper end.
    pub high: Option<f64>,
    /// A note written beside it (e.g. an efficiency gain).
    pub note: Option<String>,
}

impl Point {
    /// A bare point.
    pub fn at(x: f64, y: f64) -> Self {
        Self {
            x,
            y,
            low: None,
            high: None,
            note: None,
        }
    }
}

/// One bin of a step histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Its lower edge.
    pub from: f64,
    /// Its upper edge.
    pub to: f64,
    /// Its height (fraction of the class).
    pub y: f64,
    /// How many values it holds.
    pub count: usize,
}

/// What a mark draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "kebab-case")]
pub enum Shape {
    /// A line through the points with a marker at each, and a band over the intervals.
    Line(Vec<Point>),
    /// Bars from 0 at the points' x, the mark's marker on each bar's top; the bar marks of a
    /// panel stand side by side. Bars in the reference colour (a ceiling) are outlined, not
    /// filled.
    Bars(Vec<Point>),
    /// A histogram's outline, lightly filled.
    Steps(Vec<Bin>),
}

/// A marker's form; figures with more series than colours vary them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Marker {
    /// None.
    None,
    /// A filled circle.
    Circle,
    /// A filled square.
    Square,
    /// A filled triangle.
    Triangle,
    /// A filled diamond.
    Diamond,
}

impl Marker {
    /// The markers series take, in order: a series takes a later one only where a series
    /// before it already has its colour with the earlier ones.
    pub const SERIES: [Marker; 4] = [Self::Circle, Self::Square, Self::Triangle, Self::Diamond];
}

/// How a line is stroked: the family of the strategy it draws (see
/// [`super::looks::Family`]), or a reference line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineStyle {
    /// Unbroken.
    #[default]
    Solid,
    /// Dashes.
    Dashed,
    /// Dots.
    Dotted,
}

impl LineStyle {
    /// The dash pattern in points, (stroke, gap), as SVG's `stroke-dasharray` would write it;
    /// `None` for a solid line.
    pub fn dash(self) -> Option<(f64, f64)> {
        match self {
            Self::Solid => None,
            Self::Dashed => Some((4.0, 2.0)),
            Self::Dotted => Some((1.0, 2.0)),
        }
    }
}

/// One series in one panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    /// The series' name (the legend's entry).
    pub series: String,
    /// Its colour.
    pub colour: Rgb,
    /// How its line is stroked (its strategy's family; a ceiling is dashed).
    pub line: LineStyle,
    /// Its marker.
    pub marker: Marker,
    /// Whether the legend lists it.
    pub in_legend: bool,
    /// The numbers.
    pub shape: Shape,
}

/// One panel of a figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Panel {
    /// Its title (e.g. `bin 1 (easiest)`).
    pub title: String,
    /// Whether it needs a wide cell, about a paper column across (a main panel above small
    /// multiples, or one whose notes or labels need the room).
    pub wide: bool,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// Its series.
    pub marks: Vec<Mark>,
}

/// Everything a figure draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureData {
    /// The figure's title.
    pub title: String,
    /// Its panels, in reading order.
    pub panels: Vec<Panel>,
}

/// Quotes a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// A number for the CSV: the shortest text that reads back as the same `f64`.
fn csv_number(x: Option<f64>) -> String {
    x.map(|v| v.to_string()).unwrap_or_default()
}

impl FigureData {
    /// The header of [`FigureData::csv`].
    pub const CSV_HEADER: &'static str = "panel,series,x,x_to,y,low,high,count,note";

    /// Every number drawn, a row per point or histogram bin: `panel,series,x,x_to,y,low,high,
    /// count,note` (`x_to` and `count` for histogram bins; `low`/`high` where a point has an
    /// interval; empty cells elsewhere). Numbers are written in full precision.
    pub fn csv(&self) -> String {
        let mut s = String::from(Self::CSV_HEADER);
        s.push('\n');
        for panel in &self.panels {
            for mark in &panel.marks {
                let head = format!("{},{}", csv_field(&panel.title), csv_field(&mark.series));
                match &mark.shape {
                    Shape::Line(points) | Shape::Bars(points) => {
                        for p in points {
                            s.push_str(&format!(
                                "{head},{},,{},{},{},,{}\n",
                                csv_number(Some(p.x)),
                                csv_number(Some(p.y)),
                                csv_number(p.low),
                                csv_number(p.high),
                                csv_field(p.note.as_deref().unwrap_or(""))
                            ));
                        }
                    }
                    Shape::Steps(bins) => {
                        for b in bins {
                            s.push_str(&format!(
                                "{head},{},{},{},,,{},\n",
                                csv_number(Some(b.from)),
                                csv_number(Some(b.to)),
                                csv_number(Some(b.y)),
                                b.count
                            ));
                        }
                    }
                }
            }
        }
        s
    }

    /// Whether it draws nothing.
    pub fn is_empty(&self) -> bool {
        self.panels.iter().all(|p| {
            p.marks.iter().all(|m| match &m.shape {
                Shape::Line(v) | Shape::Bars(v) => v.is_empty(),
                Shape::Steps(v) => v.is_empty(),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log2_axis_ticks_powers_of_two_compactly() {
        let a = Axis::log2("tokens", &[300.0, 5000.0, 5e6]);
        assert_eq!(a.scale, Scale::Log2);
        assert!(a.range.0 < 300.0 && a.range.1 > 5e6);
        // 1-2-5 from 500 to 5M would be 13 ticks: the powers of ten.
        let at: Vec<f64> = a.ticks.iter().map(|t| t.at).collect();
        assert_eq!(at, vec![1e3, 1e4, 1e5, 1e6]);
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, vec!["1k", "10k", "100k", "1M"]);
        let narrow = Axis::log2("tokens", &[300.0, 2500.0]);
        let labels: Vec<&str> = narrow.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, vec!["500", "1k", "2k"]);
        assert_eq!(fmt_compact(1.5e9), "1.5G");
        assert_eq!(fmt_compact(64.0), "64");
        assert_eq!(fmt_compact(2e6), "2M");
        // No positive value: a usable axis all the same.
        assert!(!Axis::log2("x", &[]).ticks.is_empty());
    }

    #[test]
    fn csv_quotes_names_and_writes_numbers_that_read_back_exactly() {
        let data = FigureData {
            title: "t".into(),
            panels: vec![Panel {
                title: "all problems".into(),
                wide: false,
                x: Axis::budgets("generations", &[1.0, 4.0], &[1, 2, 4]),
                y: Axis::accuracy(),
                marks: vec![
                    Mark {
                        series: "beam (M = 4, last)".into(),
                        colour: (0, 0, 0),
                        line: LineStyle::Solid,
                        marker: Marker::Circle,
                        in_legend: true,
                        shape: Shape::Line(vec![Point {
                            low: Some(0.1),
                            high: Some(0.7),
                            note: Some("say \"hi\"".into()),
                            ..Point::at(4.0, 1.0 / 3.0)
                        }]),
                    },
                    Mark {
                        series: "wrong".into(),
                        colour: (0, 0, 0),
                        line: LineStyle::Solid,
                        marker: Marker::None,
                        in_legend: true,
                        shape: Shape::Steps(vec![Bin {
                            from: 0.0,
                            to: 0.05,
                            y: 0.25,
                            count: 3,
                        }]),
                    },
                ],
            }],
        };
        let csv = data.csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], FigureData::CSV_HEADER);
        assert_eq!(
            lines[1],
            "all problems,\"beam (M = 4, last)\",4,,0.3333333333333333,0.1,0.7,,\"say \"\"hi\"\"\""
        );
        assert_eq!(lines[2], "all problems,wrong,0,0.05,0.25,,,3,");
        assert!(!data.is_empty());
        // Ticks at the budgets inside the range; a quarter doubling of margin.
        let x = &data.panels[0].x;
        assert_eq!(
            x.ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
            ["1", "2", "4"]
        );
        assert!((x.range.1 / 4.0 - 2f64.powf(0.25)).abs() < 1e-12);
    }
}
