//! The verifier-quality dial: with `noisy-oracle` chosen as the verifier, Q (and the blind spot)
//! re-score the finished search on screen at once, with no new generation. The noisy oracle is
//! a function of (seed, problem, prefix), so every node and candidate of the stored search gets
//! the score a verifier of quality Q gives it; the choice, the verdict and the tree's colours
//! follow. The search's path stays the one its own verifier steered: Run searches with Q.

use super::State;
use crate::search::{NodeId, SearchTree};
use crate::store::Record;
use crate::verify::noisy::NoisySpec;
use crate::verify::VerifierSpec;

/// The search on screen as its own verifier scored it, kept while the dial shows it re-scored.
#[derive(Debug, Clone)]
pub struct Dial {
    /// The noisy oracle the search on screen is re-scored by.
    pub by: NoisySpec,
    /// The verifier the search ran with.
    pub searched_with: VerifierSpec,
    /// Its record, tree and chosen leaf as the search left them.
    pub(crate) original: Box<(Record, SearchTree, Option<NodeId>)>,
}

impl State {
    /// The dial's line for the summary: what the search on screen is scored by.
    pub fn dial_line(&self) -> Option<String> {
        let d = self.dial.as_ref()?;
        Some(format!(
            "Re-scored by {} from the stored steps, with no new generation: the scores, the \
             choice and the colours are Q = {}'s; the search's path is the one {} steered \
             (Run to search with Q = {})",
            VerifierSpec::NoisyOracle(d.by),
            d.by.q,
            d.searched_with,
            d.by.q
        ))
    }
}
