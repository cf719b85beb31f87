//! The one palette of the house: Okabe and Ito's eight colours, which stay distinguishable
//! under the common forms of colour blindness and in greyscale print. Plain RGB bytes, so the
//! figures here and the window (which converts them to its own colour type) read the same
//! values.

/// An sRGB colour.
pub type Rgb = (u8, u8, u8);

/// Black.
pub const BLACK: Rgb = (0, 0, 0);
/// Orange.
pub const ORANGE: Rgb = (230, 159, 0);
/// Sky blue.
pub const SKY_BLUE: Rgb = (86, 180, 233);
/// Bluish green.
pub const BLUISH_GREEN: Rgb = (0, 158, 115);
/// Yellow.
pub const YELLOW: Rgb = (240, 228, 66);
/// Blue.
pub const BLUE: Rgb = (0, 114, 178);
/// Vermillion.
pub const VERMILLION: Rgb = (213, 94, 0);
/// Reddish purple.
pub const REDDISH_PURPLE: Rgb = (204, 121, 167);

/// Not a series: counts, and things not scored yet. Outside Okabe and Ito's eight, a grey
/// that no series colour is mistaken for.
pub const NEUTRAL: Rgb = (150, 150, 150);

/// Right answers and high verifier scores.
pub const RIGHT: Rgb = BLUISH_GREEN;
/// Wrong answers and low verifier scores.
pub const WRONG: Rgb = VERMILLION;
/// Middle verifier scores.
pub const MIDDLE: Rgb = YELLOW;
/// The chosen answer, and the compute-optimal curve.
pub const CHOSEN: Rgb = BLUE;
/// The ceiling (pass@n, dashed) and the compute-optimal curve (solid): the reference lines
/// the strategies are read against.
pub const REFERENCE: Rgb = BLACK;

/// The order series take their colours in: strong colours first; yellow, which is faint as a
/// line on white, last. Black is kept for the reference lines.
pub const SERIES: [Rgb; 7] = [
    BLUE,
    ORANGE,
    BLUISH_GREEN,
    VERMILLION,
    SKY_BLUE,
    REDDISH_PURPLE,
    YELLOW,
];

/// The `i`-th colour of [`SERIES`], repeating after its length. A figure's strategy series
/// take theirs through `super::looks::assign`, which reuses a colour only with another marker.
pub fn series_colour(i: usize) -> Rgb {
    SERIES[i % SERIES.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_colours_are_distinct_and_cycle() {
        for a in 0..SERIES.len() {
            for b in a + 1..SERIES.len() {
                assert_ne!(series_colour(a), series_colour(b));
            }
            assert_ne!(series_colour(a), REFERENCE);
        }
        assert_eq!(series_colour(SERIES.len()), series_colour(0));
    }
}
