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

use super::beam::share_out;
use super::select::Aggregation;
use super::{Outcome, SearchContext};
use crate::data::step_seed;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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
    share_out(
        ctx,
        max_rounds,
        aggregation,
        |values, slots, round, seed| {
            let weights: Vec<f64> = values.iter().map(|&v| logit(v)).collect();
            // The resampling draws from its own stream, apart from every node's samples.
            let mut rng = ChaCha8Rng::seed_from_u64(step_seed(seed, round, usize::MAX));
            resample(&weights, slots, temperature, &mut rng)
        },
    )
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
