//! REBASE, reward-balanced search (Wu et al. 2024, "Inference Scaling Laws", arXiv
//! 2408.00724): a tree search whose width is shared among the prefixes in proportion to a
//! softmax of their verifier scores, rather than kept for the top N/M as beam search keeps it.
//!
//! With budget N, temperature T and round cap R:
//! 1. The width is W = N. Round 1 samples N first steps from the question.
//! 2. Every round scores the new steps (one verifier call). A step that ends its solution
//!    finishes a candidate, and each one finished reduces W by one.
//! 3. The search stops when W = 0 or no prefix is active. Otherwise the distinct active
//!    prefixes are ranked by aggregated score R (highest first; ties: the earlier node) and
//!    prefix j receives w_j = ⌈W_j · exp(R_j/T) / Σ_{k≥j} exp(R_k/T)⌉ children, where W_j is
//!    the width still unallocated when its turn comes (W_1 = W); the allocations sum to W
//!    exactly, the last prefix with any taking what is left. A prefix that receives none is
//!    pruned in that round.
//! 4. Each prefix is then continued by one sampled step w_j times, all in one policy call.
//! 5. At round R the prefixes that received children run to the end of their solutions
//!    instead, w_j times each, in one last call.
//! 6. The answer is weighted best-of-N over the finished candidates, by the aggregation.
//!
//! Two samples of one prefix with the same text are one node of the tree and one prefix of
//! the next round's allocation (its children are drawn from it together).

use super::beam::share_out;
use super::select::Aggregation;
use super::{Outcome, SearchContext};

/// The default softmax temperature (the paper's 0.2).
pub const DEFAULT_TEMPERATURE: f64 = 0.2;

/// Splits `width` among prefixes whose scores are `values` (ranked, highest first):
/// w_j = ⌈W_j · exp(R_j/T) / Σ_{k≥j} exp(R_k/T)⌉, W_{j+1} = W_j − w_j. The exponentials are
/// taken relative to the highest score, so no temperature overflows them.
pub fn allocate(width: usize, values: &[f32], temperature: f64) -> Vec<usize> {
    let top = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = values
        .iter()
        .map(|&r| ((f64::from(r) - f64::from(top)) / temperature).exp())
        .collect();
    let mut left = width;
    let mut rest: f64 = weights.iter().sum();
    weights
        .iter()
        .map(|&e| {
            let share = if rest > 0.0 { e / rest } else { 1.0 };
            // A share of the whole remainder rounds to it exactly (the last prefix).
            let w = ((left as f64 * share).ceil() as usize).min(left);
            left -= w;
            rest -= e;
            w
        })
        .collect()
}

/// REBASE; see the [module docs](self).
pub fn run(
    ctx: SearchContext<'_>,
    temperature: f64,
    max_rounds: usize,
    aggregation: Aggregation,
) -> anyhow::Result<Outcome> {
    share_out(ctx, max_rounds, aggregation, |values, width, _, _| {
        allocate(width, values, temperature)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_width_is_shared_by_a_softmax_and_always_sums_to_it() {
        // Scores .9, .8, .2, .1 at T = .2 (weights e^4.5, e^4, e^1, e^.5 = 90.02, 54.60, 2.72,
        // 1.65): 4 x 90.02 / 148.98 = 2.42 -> 3; 1 x 54.60 / 58.97 = .93 -> 1; nothing left.
        assert_eq!(allocate(4, &[0.9, 0.8, 0.2, 0.1], 0.2), [3, 1, 0, 0]);
        // Equal scores share it evenly: 4 x 1/4, 3 x 1/3, 2 x 1/2, 1.
        assert_eq!(allocate(4, &[0.5; 4], 0.2), [1, 1, 1, 1]);
        // A hot softmax is nearly even, but the ceiling rounds the leader's 4 x .2502 = 1.0006
        // up to 2, and the last prefix gets nothing.
        assert_eq!(allocate(4, &[0.9, 0.8, 0.2, 0.1], 1e3), [2, 1, 1, 0]);
        // A cold one gives the leader all of it, with no overflow at T = 1e-6.
        assert_eq!(allocate(5, &[0.9, 0.8], 1e-6), [5, 0]);
        // Equal scores: 5 x 1/3 -> 2, 3 x 1/2 -> 2, the last takes 1.
        assert_eq!(allocate(5, &[0.5, 0.5, 0.5], 0.2), [2, 2, 1]);
        for w in 0..20 {
            let a = allocate(w, &[0.7, 0.3, 0.3, 0.0, 0.9], 0.5);
            assert_eq!(a.iter().sum::<usize>(), w, "{a:?}");
        }
        assert!(allocate(3, &[], 0.2).is_empty());
    }
}
