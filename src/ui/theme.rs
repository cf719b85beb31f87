//! Design tokens: colours and sizes in one place. The colours are the house palette
//! ([`crate::export::palette`], Okabe–Ito, colour-blind safe), the same values the exported
//! figures use, converted to egui's colour type here.

use crate::export::palette::{self, Rgb};
use egui::Color32;

const fn rgb(c: Rgb) -> Color32 {
    Color32::from_rgb(c.0, c.1, c.2)
}

/// Right answers, high scores.
pub const GOOD: Color32 = rgb(palette::RIGHT);
/// Wrong answers, low scores.
pub const BAD: Color32 = rgb(palette::WRONG);
/// Middle scores.
pub const MID: Color32 = rgb(palette::MIDDLE);
/// Nodes not scored yet.
pub const UNSCORED: Color32 = rgb(palette::NEUTRAL);
/// The chosen answer's path.
pub const CHOSEN: Color32 = rgb(palette::CHOSEN);
/// The paths MCTS selected in its latest round.
pub const SELECTED: Color32 = rgb(palette::REDDISH_PURPLE);
/// Text on node boxes (dark grey rather than black on the coloured boxes; not a palette colour).
pub const NODE_TEXT: Color32 = Color32::from_rgb(20, 20, 20);

/// Opacity of a pruned node's fill.
pub const PRUNED_ALPHA: f32 = 0.35;

/// Width of a node box in the tree view.
pub const NODE_W: f32 = 190.0;
/// Height of a node box.
pub const NODE_H: f32 = 22.0;
/// Horizontal gap between depths.
pub const GAP_X: f32 = 28.0;
/// Vertical distance between leaf rows.
pub const ROW_H: f32 = 28.0;

fn lerp(a: Color32, b: Color32, t: f32) -> Color32 {
    let m = |x: u8, y: u8| (x as f32 + (y as f32 - x as f32) * t).round() as u8;
    Color32::from_rgb(m(a.r(), b.r()), m(a.g(), b.g()), m(a.b(), b.b()))
}

/// Colour of a verifier score in [0, 1]: vermillion → yellow → bluish green.
pub fn score_color(score: Option<f32>) -> Color32 {
    match score {
        None => UNSCORED,
        Some(s) if s.is_nan() => UNSCORED,
        Some(s) => {
            let s = s.clamp(0.0, 1.0);
            if s < 0.5 {
                lerp(BAD, MID, s * 2.0)
            } else {
                lerp(MID, GOOD, (s - 0.5) * 2.0)
            }
        }
    }
}

/// Colour of a right/wrong verdict.
pub fn verdict_color(correct: Option<bool>) -> Color32 {
    match correct {
        Some(true) => GOOD,
        Some(false) => BAD,
        None => UNSCORED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_uses_the_figures_palette() {
        assert_eq!(GOOD, Color32::from_rgb(0, 158, 115));
        assert_eq!(BAD, Color32::from_rgb(213, 94, 0));
        assert_eq!(MID, Color32::from_rgb(240, 228, 66));
        assert_eq!(CHOSEN, Color32::from_rgb(0, 114, 178));
        assert_eq!(UNSCORED, Color32::from_rgb(150, 150, 150));
    }

    #[test]
    fn score_colours_run_from_bad_to_good() {
        assert_eq!(score_color(Some(0.0)), BAD);
        assert_eq!(score_color(Some(0.5)), MID);
        assert_eq!(score_color(Some(1.0)), GOOD);
        assert_eq!(score_color(Some(7.0)), GOOD);
        assert_eq!(score_color(None), UNSCORED);
    }
}
