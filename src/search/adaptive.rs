//! Adaptive self-consistency (Aggarwal et al. 2023, "Let's Sample Step by Step: Adaptive
//! Consistency for Efficient Reasoning"): majority voting that stops sampling a problem once
//! its vote is settled.
//!
//! With budget N (the most samples it may draw) and batch b:
//! 1. Round r samples min(b, N − drawn) whole solutions from the question in one policy call
//!    (round 1 draws from the problem seed's streams 0..b, so its samples are the first b of
//!    majority voting's; round r from the seed of round r), and scores them in one verifier call
//!    so the tree shows the verifier's view (the choice reads no score).
//! 2. After each round, with v₁ and v₂ the votes of the two most frequent answers so far
//!    (answers grouped by the grader's equivalence; a sample without an answer votes for
//!    none), the search stops when the probability that a Beta(v₁ + 1, v₂ + 1) variable
//!    exceeds 1/2 — that the leading answer is the majority one, under a uniform prior — is at
//!    least the confidence (default 0.95). For integer parameters it is exactly
//!    Σ_{k=0}^{v₁} C(v₁ + v₂ + 1, k) / 2^(v₁ + v₂ + 1) ([`leader_probability`]).
//! 3. It also stops when N samples are drawn. The answer is the most frequent one over every
//!    sample drawn (ties: the answer seen first), as majority voting chooses.
//!
//! The record's compute counts what was drawn: `generations` is the number of samples used,
//! at most N, which is what the savings are read from.

use super::recorder::{sample_steps, Recorder};
use super::select::{answer_groups, choose_majority, Aggregation};
use super::{Outcome, SearchContext, SearchTree};
use crate::backend::Until;
use crate::engine::ComputeMeter;

/// The default stopping confidence.
pub const DEFAULT_CONFIDENCE: f64 = 0.95;
/// The default batch: samples drawn per round.
pub const DEFAULT_BATCH: usize = 4;

/// The probability that X ~ Beta(`leader` + 1, `runner_up` + 1) exceeds 1/2. For integers
/// α = v₁ + 1 and β = v₂ + 1, P(X ≤ x) = P(Binomial(α + β − 1, x) ≥ α), so
/// P(X > 1/2) = Σ_{k=0}^{v₁} C(n, k) / 2ⁿ with n = v₁ + v₂ + 1, summed here in logs (no
/// overflow at any budget).
pub fn leader_probability(leader: usize, runner_up: usize) -> f64 {
    let n = leader + runner_up + 1;
    let half_n = n as f64 * std::f64::consts::LN_2;
    let mut log_c = 0.0f64; // ln C(n, 0)
    let mut total = 0.0f64;
    for k in 0..=leader {
        total += (log_c - half_n).exp();
        log_c += ((n - k) as f64).ln() - ((k + 1) as f64).ln();
    }
    total.min(1.0)
}

/// Whether the votes so far settle the answer at `confidence`: the two largest answer groups'
/// sizes give [`leader_probability`]. No answer yet settles nothing.
pub fn settled(candidates: &[super::Candidate], confidence: f64) -> bool {
    let mut votes: Vec<usize> = answer_groups(candidates).iter().map(Vec::len).collect();
    votes.sort_unstable_by(|a, b| b.cmp(a));
    match votes.as_slice() {
        [] => false,
        [a] => leader_probability(*a, 0) >= confidence,
        [a, b, ..] => leader_probability(*a, *b) >= confidence,
    }
}

/// Samples in batches of `batch` until the vote is settled at `confidence` or N samples are
/// drawn; see the [module docs](self).
pub fn run(ctx: SearchContext<'_>, batch: usize, confidence: f64) -> anyhow::Result<Outcome> {
    let (mut env, sink) = ctx.split();
    let n = env.budget;
    let batch = batch.max(1);
    let mut meter = ComputeMeter::default();
    let mut rec = Recorder::new(&env.problem.question, env.delimiter, sink);
    rec.progress(0, n);
    let sampling = env.sampling.clone();
    let mut candidates = Vec::with_capacity(n);
    let mut round = 0;
    while candidates.len() < n {
        env.cancel.check()?;
        round += 1;
        let b = batch.min(n - candidates.len());
        let gens = rec
            .expand(
                &mut env,
                &[(SearchTree::ROOT, b)],
                round,
                Until::End,
                &sampling,
                &mut meter,
            )?
            .pop()
            .unwrap_or_default();
        env.cancel.check()?;
        let leaves: Vec<usize> = gens
            .iter()
            .map(|g| rec.add_all(SearchTree::ROOT, &sample_steps(g, env.delimiter), round))
            .collect();
        let asked: Vec<(usize, Vec<_>)> = leaves.iter().map(|&leaf| (leaf, Vec::new())).collect();
        let scores = rec.score(&mut env, &asked, &mut meter)?;
        for (&leaf, s) in leaves.iter().zip(&scores) {
            let path = rec.tree.path(leaf);
            for (&node, &x) in path[1..].iter().zip(s) {
                rec.set_score(node, x);
            }
            candidates.push(rec.finish(leaf, Aggregation::default().apply(s)));
        }
        rec.progress(candidates.len(), n);
        if settled(&candidates, confidence) {
            break;
        }
    }
    meter.generations = candidates.len() as u64;
    let chosen = choose_majority(&candidates);
    Ok(rec.outcome(candidates, chosen, meter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leaders_probability_is_the_beta_tail_at_one_half() {
        // No vote, or a tie: even odds.
        assert!((leader_probability(0, 0) - 0.5).abs() < 1e-12);
        assert!((leader_probability(1, 1) - 0.5).abs() < 1e-12);
        assert!((leader_probability(7, 7) - 0.5).abs() < 1e-12);
        // Unanimous votes v: 1 - 2^-(v+1) (Beta(v+1, 1) has CDF x^(v+1)).
        assert!((leader_probability(3, 0) - 15.0 / 16.0).abs() < 1e-12);
        assert!((leader_probability(4, 0) - 31.0 / 32.0).abs() < 1e-12);
        // 4 against 1: (1 + 6 + 15 + 20 + 15) / 64; 5 against 1: 120 / 128; 6 against 1:
        // (256 - 8 - 1) / 256.
        assert!((leader_probability(4, 1) - 57.0 / 64.0).abs() < 1e-12);
        assert!((leader_probability(5, 1) - 120.0 / 128.0).abs() < 1e-12);
        assert!((leader_probability(6, 1) - 247.0 / 256.0).abs() < 1e-12);
        // Large budgets neither overflow nor lose the tail.
        let p = leader_probability(600, 400);
        assert!(p > 0.999_999 && p <= 1.0, "{p}");
        assert!((leader_probability(5000, 5000) - 0.5).abs() < 0.01);
    }
}
