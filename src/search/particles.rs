//! Particle filtering over reasoning steps (Puri et al. 2025, "A Probabilistic Inference
//! Approach to Inference-Time Scaling of LLMs using Particle-Based Monte Carlo Methods", arXiv
//! 2502.01618): sequential Monte Carlo in which the verifier's step scores are the weights.
//!
//! With budget N (the particles), resampling temperature T and round cap R:
//! 1. Round 1 samples N first steps from the question: N particles.
//! 2. Every round scores the particles' new steps (one verifier call). A particle whose step
//!    ends its solution finishes (a candidate, kept with its weight); the others are active.
//! 3. The search stops when every particle has finished. Otherwise the N − (finished) slots are
//!    filled by drawing, with replacement, from the distinct active prefixes with probability
//!    softmax(w/T), w = logit of the prefix's aggregated score (default `last`: its newest
//!    step's) — multinomial resampling, from a generator seeded by the problem's seed and the
//!    round. A prefix drawn k times continues as k particles (duplicated by resampling: k
//!    children next round); one drawn never is pruned in that round.
//! 4. Each slot is continued by one sampled step, all in one policy call.
//! 5. At round R the resampled particles run to the end of their solutions instead.
//! 6. The answer is weighted best-of-N (a vote weighted by the scores) over the finished
//!    particles.

use super::beam::{finish_done, finish_survivors, prune_except, ranked, step_round, Entry};
use super::recorder::Recorder;
use super::select::{choose_weighted, Aggregation};
use super::{Candidate, NodeId, Outcome, SearchContext, SearchTree};
use crate::data::step_seed;
use crate::engine::ComputeMeter;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// The default resampling temperature (the paper's softmax of the logits, T = 1).
pub const DEFAULT_TEMPERATURE: f64 = 1.0;

/// The log-odds of a score, clamped away from 0 and 1 so that a certain score is a large,
/// finite weight.
pub fn logit(p: f32) -> f64 {
    let p = f64::from(p).clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

/// Draws `slots` times, with replacement, among `weights.len()` particles with probability
/// softmax(weights / T); returns how often each was drawn.
pub fn resample(
    weights: &[f64],
    slots: usize,
    temperature: f64,
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let mut counts = vec![0; weights.len()];
    if weights.is_empty() {
        return counts;
    }
    let top = weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let p: Vec<f64> = weights
        .iter()
        .map(|w| ((w - top) / temperature).exp())
        .collect();
    let total: f64 = p.iter().sum();
    for _ in 0..slots {
        let mut u = rng.random::<f64>() * total;
        let mut pick = p.len() - 1;
        for (i, &x) in p.iter().enumerate() {
            if u < x {
                pick = i;
                break;
            }
            u -= x;
        }
        counts[pick] += 1;
    }
    counts
}

/// Particle filtering; see the [module docs](self).
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
        finished.extend(finish_done(&mut rec, &entries));
        rec.progress(finished.len().min(n), n);
        let slots = n.saturating_sub(finished.len());
        // The distinct active prefixes, best first (the order only fixes which index a draw
        // lands on; it does not change the probabilities).
        let mut seen = HashSet::new();
        let active: Vec<Entry> = ranked(&entries)
            .into_iter()
            .filter(|e| !e.done && seen.insert(e.node))
            .collect();
        let weights: Vec<f64> = active.iter().map(|e| logit(e.value)).collect();
        // The resampling draws from their own stream, apart from every node's samples.
        let mut rng = ChaCha8Rng::seed_from_u64(step_seed(env.seed, round, usize::MAX));
        let counts = resample(&weights, slots, temperature, &mut rng);
        let next: Vec<(NodeId, usize)> = active
            .iter()
            .zip(&counts)
            .filter(|(_, &k)| k > 0)
            .map(|(e, &k)| (e.node, k))
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
    fn logits_are_log_odds_and_stay_finite() {
        assert!(logit(0.5).abs() < 1e-12);
        assert!((logit(0.9) - 9f64.ln()).abs() < 1e-6);
        assert!((logit(0.2) + 4f64.ln()).abs() < 1e-6);
        assert!(logit(1.0).is_finite() && logit(0.0).is_finite());
        assert!(logit(1.0) > 13.0 && logit(0.0) < -13.0);
    }

    #[test]
    fn resampling_draws_each_particle_by_its_softmax_share() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // Weights ln 3 and 0 at T = 1: shares 3/4 and 1/4. In 40,000 draws the count of the
        // first has standard deviation sqrt(40000 x 3/16) = 87; five of them is 433.
        let c = resample(&[3f64.ln(), 0.0], 40_000, 1.0, &mut rng);
        assert_eq!(c.iter().sum::<usize>(), 40_000);
        assert!((c[0] as f64 - 30_000.0).abs() < 433.0, "{c:?}");
        // At T = 2 the same weights are softened: shares sqrt(3) / (sqrt(3) + 1) = .634.
        let c = resample(&[3f64.ln(), 0.0], 40_000, 2.0, &mut rng);
        assert!((c[0] as f64 - 25_359.0).abs() < 482.0, "{c:?}");
        // A cold softmax gives every slot to the heaviest, without overflow.
        assert_eq!(resample(&[5.0, 4.9, -3.0], 7, 1e-6, &mut rng), [7, 0, 0]);
        // Nothing to draw from, or no slot.
        assert!(resample(&[], 3, 1.0, &mut rng).is_empty());
        assert_eq!(resample(&[1.0, 2.0], 0, 1.0, &mut rng), [0, 0]);
        // The same seed draws the same.
        let a = resample(&[0.1, 0.5, 0.2], 50, 1.0, &mut ChaCha8Rng::seed_from_u64(9));
        let b = resample(&[0.1, 0.5, 0.2], 50, 1.0, &mut ChaCha8Rng::seed_from_u64(9));
        assert_eq!(a, b);
    }
}
