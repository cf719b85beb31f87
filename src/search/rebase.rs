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

use super::beam::{finish_done, finish_survivors, prune_except, ranked, step_round, Entry};
use super::recorder::Recorder;
use super::select::{choose_weighted, Aggregation};
use super::{Candidate, NodeId, Outcome, SearchContext, SearchTree};
use crate::engine::ComputeMeter;
use std::collections::HashSet;

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
    let (mut env, sink) = ctx.split();
    let n = env.budget;
    let mut meter = ComputeMeter {
        generations: n as u64,
        ..Default::default()
    };
    let mut rec = Recorder::new(&env.problem.question, env.delimiter, sink);
    rec.progress(0, n);
    let mut width = n;
    let mut frontier: Vec<(NodeId, usize)> = vec![(SearchTree::ROOT, n)];
    let mut finished: Vec<Candidate> = Vec::new();
    for round in 1..=max_rounds {
        env.cancel.check()?;
        let entries: Vec<Entry> = step_round(
            &mut rec,
            &mut env,
            &frontier,
            round,
            0,
            aggregation,
            &mut meter,
        )?
        .into_iter()
        .flatten()
        .collect();
        let done = finish_done(&mut rec, &entries);
        width = width.saturating_sub(done.len());
        finished.extend(done);
        rec.progress(finished.len().min(n), n);
        let mut seen = HashSet::new();
        let active: Vec<Entry> = ranked(&entries)
            .into_iter()
            .filter(|e| !e.done && seen.insert(e.node))
            .collect();
        let values: Vec<f32> = active.iter().map(|e| e.value).collect();
        let shares = allocate(width, &values, temperature);
        let next: Vec<(NodeId, usize)> = active
            .iter()
            .zip(&shares)
            .filter(|(_, &w)| w > 0)
            .map(|(e, &w)| (e.node, w))
            .collect();
        let kept: HashSet<NodeId> = next.iter().map(|&(node, _)| node).collect();
        prune_except(&mut rec, active.iter().map(|e| e.node), &kept, round);
        if next.is_empty() {
            break;
        }
        if round == max_rounds {
            finished.extend(finish_survivors(
                &mut rec,
                &mut env,
                &next,
                round + 1,
                aggregation,
                &mut meter,
            )?);
            break;
        }
        frontier = next;
    }
    rec.progress(finished.len().min(n), n);
    let chosen = choose_weighted(&finished);
    Ok(rec.outcome(finished, chosen, meter))
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
