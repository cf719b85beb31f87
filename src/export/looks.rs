//! How the series of one figure look: the rule every figure (and the window's plots) follows.
//!
//! 1. No two series of a figure share both colour and marker. Series take distinct colours of
//!    [`palette::SERIES`] while it lasts; only then does a colour come round again, with a
//!    marker no series before it has in that colour (and preferably on a series of another
//!    family, whose line style then sets the two apart as well).
//! 2. A strategy family keeps one line style: the sampling family solid, the beam-like family
//!    dashed, the MCTS family dotted ([`Family`]).
//!
//! The looks are a function of the series' order and families alone, so the figures of one
//! export, all drawn from the same curves, give a series the same colour and marker.

use super::data::{LineStyle, Marker};
use super::palette::{self, Rgb};

/// A family of strategies; the members of one draw their lines alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Independent samples, chosen among (majority, best-of-N, weighted best-of-N, adaptive
    /// majority) or revised in sequence (revisions): solid.
    Sampling,
    /// Searches that keep a set of partial solutions and prune by verifier score each step
    /// (beam search, lookahead, DVTS, REBASE, particle filtering): dashed.
    BeamLike,
    /// Monte Carlo tree search and its variants: dotted.
    Mcts,
}

impl Family {
    /// The family of a strategy by its kind's name (`StrategyKind::as_str`): any name
    /// starting `mcts` is MCTS, so variants find their family once they exist; a name this
    /// does not know is `None`.
    pub fn of_name(name: &str) -> Option<Self> {
        match name {
            "majority" | "best-of-n" | "weighted-best-of-n" | "adaptive-majority" | "revisions" => {
                Some(Self::Sampling)
            }
            "beam" | "lookahead" | "dvts" | "rebase" | "particles" => Some(Self::BeamLike),
            n if n.starts_with("mcts") => Some(Self::Mcts),
            _ => None,
        }
    }

    /// The family of a strategy kind; a kind not placed in a family yet draws solid.
    pub fn of(kind: crate::search::StrategyKind) -> Self {
        Self::of_name(kind.as_str()).unwrap_or(Self::Sampling)
    }

    /// How its lines are stroked.
    pub fn line(self) -> LineStyle {
        match self {
            Self::Sampling => LineStyle::Solid,
            Self::BeamLike => LineStyle::Dashed,
            Self::Mcts => LineStyle::Dotted,
        }
    }
}

/// How one series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    /// Its colour.
    pub colour: Rgb,
    /// Its line's stroke.
    pub line: LineStyle,
    /// Its marker.
    pub marker: Marker,
}

/// The looks of series of the given families, in order (see the module's rule). Past
/// `palette::SERIES.len() × Marker::SERIES.len()` series the pairs run out and repeat.
pub fn assign(families: &[Family]) -> Vec<Look> {
    let colours = palette::SERIES.len();
    // Per colour: the markers and the families of the series that have it so far.
    let mut used: Vec<Vec<(Marker, Family)>> = vec![Vec::new(); colours];
    families
        .iter()
        .enumerate()
        .map(|(i, &family)| {
            let free = |c: usize, used: &[Vec<(Marker, Family)>]| {
                Marker::SERIES
                    .into_iter()
                    .find(|m| used[c].iter().all(|(u, _)| u != m))
            };
            // Unused colours first, in palette order; then colours worn only by other
            // families; then the least worn.
            let pick = (0..colours)
                .filter_map(|c| free(c, &used).map(|m| (c, m)))
                .min_by_key(|&(c, _)| {
                    let others = used[c].iter().all(|(_, f)| *f != family);
                    (used[c].len().min(1), !others, used[c].len(), c)
                });
            let (c, marker) = pick.unwrap_or((
                i % colours,
                Marker::SERIES[(i / colours) % Marker::SERIES.len()],
            ));
            used[c].push((marker, family));
            Look {
                colour: palette::SERIES[c],
                line: family.line(),
                marker,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::StrategyKind;

    #[test]
    fn every_strategy_has_a_family_and_mcts_variants_are_dotted() {
        for k in StrategyKind::ALL {
            assert!(Family::of_name(k.as_str()).is_some(), "{}", k.as_str());
        }
        assert_eq!(Family::of(StrategyKind::Majority).line(), LineStyle::Solid);
        assert_eq!(Family::of(StrategyKind::Revisions).line(), LineStyle::Solid);
        assert_eq!(Family::of(StrategyKind::Rebase).line(), LineStyle::Dashed);
        assert_eq!(
            Family::of(StrategyKind::Particles).line(),
            LineStyle::Dashed
        );
        for name in ["mcts", "mcts-puct", "mcts-uct"] {
            assert_eq!(Family::of_name(name), Some(Family::Mcts));
            assert_eq!(Family::Mcts.line(), LineStyle::Dotted);
        }
        assert_eq!(Family::of_name("something-else"), None);
    }

    #[test]
    fn colours_stay_distinct_while_the_palette_lasts() {
        let looks = assign(&[Family::Sampling; 7]);
        for (i, l) in looks.iter().enumerate() {
            assert_eq!(l.colour, palette::SERIES[i]);
            assert_eq!(l.marker, Marker::Circle);
        }
    }

    #[test]
    fn no_two_of_28_series_share_colour_and_marker() {
        let families: Vec<Family> = (0..28)
            .map(|i| [Family::Sampling, Family::BeamLike, Family::Mcts][i % 3])
            .collect();
        let looks = assign(&families);
        for a in 0..looks.len() {
            for b in a + 1..looks.len() {
                assert!(
                    (looks[a].colour, looks[a].marker) != (looks[b].colour, looks[b].marker),
                    "series {a} and {b}: {:?}",
                    looks[a]
                );
            }
        }
    }

    #[test]
    fn a_colour_comes_round_again_on_another_family_where_it_can() {
        // Two sampling series, then eight beam-like ones: the eighth series takes a colour
        // worn by a sampling series, so its dashes set it apart as well as its marker.
        let mut families = vec![Family::Sampling; 2];
        families.extend([Family::BeamLike; 8]);
        let looks = assign(&families);
        let eighth = looks[7];
        assert_eq!(eighth.marker, Marker::Square);
        assert!(
            [looks[0].colour, looks[1].colour].contains(&eighth.colour),
            "{eighth:?}"
        );
        assert_eq!(assign(&families), looks, "the same series, the same looks");
    }
}
