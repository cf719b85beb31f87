//! Paper presets: the width of a figure (one column or the whole page of a two-column paper),
//! its type sizes and line widths, in points (1/72 inch). A figure is laid out in points once;
//! SVG writes one unit per point (72 units per inch) and PNG renders at 300 dots per inch.

use serde::{Deserialize, Serialize};

/// Dots per inch of a PNG.
pub const PNG_DPI: f64 = 300.0;
/// Units per inch of an SVG (one unit per point).
pub const SVG_UNITS_PER_INCH: f64 = 72.0;

/// A figure's size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// One column of a two-column paper: 3.25 inches wide.
    #[default]
    Single,
    /// Both columns: 6.75 inches wide.
    Double,
}

/// Sizes of one preset, in points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sizes {
    /// Width of the whole figure.
    pub width: f64,
    /// Tick labels and legend text.
    pub tick: f64,
    /// Axis labels and panel titles.
    pub label: f64,
    /// The figure's title.
    pub title: f64,
    /// Lines of data series.
    pub line: f64,
    /// Axes and tick marks.
    pub axis: f64,
    /// Grid lines.
    pub grid: f64,
    /// Radius of a data marker.
    pub marker: f64,
    /// Panels side by side in a grid of small multiples.
    pub columns: usize,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 2] = [Self::Single, Self::Double];

    /// The name as flags and files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "single",
            Self::Double => "double",
        }
    }

    /// Parses `single` or `double`.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim())
            .ok_or_else(|| format!("unknown preset '{s}': use single or double"))
    }

    /// The figure's width in inches.
    pub fn width_inches(self) -> f64 {
        match self {
            Self::Single => 3.25,
            Self::Double => 6.75,
        }
    }

    /// The preset's sizes. Type stays the same size in both (a paper's captions do); the double
    /// width fits more panels in a row.
    pub fn sizes(self) -> Sizes {
        Sizes {
            width: self.width_inches() * 72.0,
            tick: 8.0,
            label: 9.0,
            title: 9.0,
            line: 1.0,
            axis: 0.5,
            grid: 0.5,
            marker: 1.75,
            columns: match self {
                Self::Single => 2,
                Self::Double => 3,
            },
        }
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_parse_their_names_and_have_paper_widths() {
        for p in Preset::ALL {
            assert_eq!(Preset::parse(p.as_str()), Ok(p));
        }
        assert!(Preset::parse("triple")
            .unwrap_err()
            .contains("single or double"));
        assert_eq!(Preset::Single.sizes().width, 234.0);
        assert_eq!(Preset::Double.sizes().width, 486.0);
        assert_eq!(
            serde_json::to_string(&Preset::Double).unwrap(),
            "\"double\""
        );
    }
}
