//! Sampling the next token: temperature, top-k, top-p, seeded.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How continuations are sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingParams {
    /// Softmax temperature; 0 is greedy.
    pub temperature: f64,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    pub top_p: f64,
    /// Keep only the `top_k` most likely tokens before nucleus sampling; 0 keeps all. Older
    /// `config.json` files lack the field and load with 0.
    pub top_k: usize,
    /// Most tokens generated per call.
    pub max_tokens: usize,
    /// Treat the end-of-sequence token as any other, so every sequence runs to `max_tokens`
    /// (benchmarks).
    pub ignore_eos: bool,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            top_k: 0,
            max_tokens: 256,
            ignore_eos: false,
        }
    }
}

/// A drawn token and what the model's next-token distribution said where it was drawn; every
/// number is under the model itself (T = 1), whatever temperature or cut chose the token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    /// The token drawn.
    pub token: u32,
    /// Its log-probability.
    pub logprob: f32,
    /// The log-probability of the most likely token (the lowest id among ties); at least
    /// `logprob`, and equal to it under greedy sampling.
    pub top_logprob: f32,
    /// KL(U ‖ p) in nats: how far the distribution is from uniform over the vocabulary,
    /// `-ln V - (1/V) Σ_j ln p_j` (Kang et al. 2025's self-certainty of one token). 0 for a
    /// uniform distribution, growing without bound as mass gathers on few tokens.
    pub uniform_kl: f32,
}

/// Picks a token from `logits`; returns it with the model's evidence at that position
/// ([`Draw`]).
///
/// Cost of the evidence: the log-partition function was needed for the token's log-probability
/// anyway; KL(U ‖ p) adds one sum of the logits (no exponentials), one pass over the vocabulary
/// per drawn token, small beside the head's matrix product that made the logits.
pub fn sample(logits: &[f32], params: &SamplingParams, rng: &mut impl Rng) -> Draw {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_z = max + logits.iter().map(|&l| (l - max).exp()).sum::<f32>().ln();
    let logprob = |i: usize| logits[i] - log_z;
    let argmax = logits
        .iter()
        .enumerate()
        .fold((0usize, f32::NEG_INFINITY), |best, (i, &l)| {
            if l > best.1 {
                (i, l)
            } else {
                best
            }
        })
        .0;
    // The mean log-probability, summed in f64 around the max so that 50k terms lose nothing.
    let vocab = logits.len().max(1) as f64;
    let mean_shifted = logits.iter().map(|&l| f64::from(l - max)).sum::<f64>() / vocab;
    let mean_logprob = mean_shifted + f64::from(max - log_z);
    let uniform_kl = (-vocab.ln() - mean_logprob).max(0.0) as f32;
    let draw = |i: usize| Draw {
        token: i as u32,
        logprob: logprob(i),
        top_logprob: logprob(argmax),
        uniform_kl,
    };
    if params.temperature <= 0.0 || !max.is_finite() {
        return draw(argmax);
    }
    let t = params.temperature as f32;
    let mut probs: Vec<(usize, f32)> = logits
        .iter()
        .enumerate()
        .map(|(i, &l)| (i, ((l - max) / t).exp()))
        .collect();
    let by_probability =
        |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if params.top_k > 0 && params.top_k < probs.len() {
        // As in HF transformers and llama.cpp: top-k first, then top-p on what is left,
        // renormalised. Ties go to the lower token id, so the cut is deterministic.
        probs.select_nth_unstable_by(params.top_k - 1, by_probability);
        probs.truncate(params.top_k);
        probs.sort_by(by_probability);
    }
    let total: f32 = probs.iter().map(|p| p.1).sum();
    probs.iter_mut().for_each(|p| p.1 /= total);
    if params.top_p < 1.0 {
        probs.sort_by(by_probability);
        let mut acc = 0.0;
        let mut keep = probs.len();
        for (k, p) in probs.iter().enumerate() {
            acc += p.1;
            if acc >= params.top_p as f32 {
                keep = k + 1;
                break;
            }
        }
        probs.truncate(keep);
    }
    let mass: f32 = probs.iter().map(|p| p.1).sum();
    let mut u = rng.random::<f32>() * mass;
    for &(i, p) in &probs {
        if u < p {
            return draw(i);
        }
        u -= p;
    }
    let last = probs.last().map_or(argmax, |p| p.0);
    draw(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn greedy_takes_the_argmax_and_reports_its_logprob() {
        let p = SamplingParams {
            temperature: 0.0,
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let d = sample(&[0.0, 2.0, 1.0], &p, &mut rng);
        assert_eq!(d.token, 1);
        let z: f32 = [0.0f32, 2.0, 1.0].iter().map(|x| x.exp()).sum();
        assert!((d.logprob - (2.0f32.exp() / z).ln()).abs() < 1e-5);
        assert_eq!(d.top_logprob, d.logprob);
    }

    /// Hand-worked: logits (0, ln 3) are p = (1/4, 3/4), so KL(U ‖ p) = -ln 2 - (ln 1/4 +
    /// ln 3/4) / 2 = -ln 2 + ln 4 - ln 3 / 2 = ln(2 / √3) ≈ 0.1438.
    #[test]
    fn a_draw_reports_the_top_log_probability_and_the_divergence_from_uniform() {
        let logits = [0.0, 3f32.ln()];
        let want_kl = (2.0 / 3f64.sqrt()).ln();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut low, mut high) = (0, 0);
        for _ in 0..200 {
            let d = sample(&logits, &SamplingParams::default(), &mut rng);
            assert!((f64::from(d.uniform_kl) - want_kl).abs() < 1e-6, "{d:?}");
            assert!(
                (f64::from(d.top_logprob) - 0.75f64.ln()).abs() < 1e-6,
                "{d:?}"
            );
            assert!(d.top_logprob >= d.logprob, "{d:?}");
            if d.token == 0 {
                low += 1;
                assert!((f64::from(d.logprob) - 0.25f64.ln()).abs() < 1e-6, "{d:?}");
            } else {
                high += 1;
                assert_eq!(d.logprob, d.top_logprob);
            }
        }
        assert!(low > 20 && high > 100, "{low} {high}");
        // Uniform logits diverge from uniform by nothing; a masked token makes it infinite.
        let d = sample(&[1.5; 7], &SamplingParams::default(), &mut rng);
        assert!(d.uniform_kl.abs() < 1e-6, "{d:?}");
        assert_eq!(d.top_logprob, d.logprob);
        let d = sample(
            &[0.0, f32::NEG_INFINITY],
            &SamplingParams::default(),
            &mut rng,
        );
        assert_eq!((d.token, d.logprob), (0, 0.0));
        assert!(d.uniform_kl.is_infinite(), "{d:?}");
    }

    #[test]
    fn top_p_cuts_the_tail_and_seeds_repeat() {
        let p = SamplingParams {
            temperature: 1.0,
            top_p: 0.5,
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            assert_eq!(sample(&[5.0, 0.0, 0.0, 0.0], &p, &mut rng).token, 0);
        }
        let p = SamplingParams::default();
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..50)
                .map(|_| sample(&[0.0, 0.0, 0.0], &p, &mut rng).token)
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        let d = draw(3);
        assert!(
            (0..3).all(|t| d.contains(&t)),
            "all tokens drawn at T=1: {d:?}"
        );
    }

    #[test]
    fn top_k_keeps_only_the_k_most_likely_tokens() {
        let p = SamplingParams {
            top_k: 2,
            ..Default::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut seen = [0usize; 4];
        for _ in 0..400 {
            seen[sample(&[1.0, 3.0, 0.5, 2.9], &p, &mut rng).token as usize] += 1;
        }
        assert_eq!(seen[0] + seen[2], 0, "{seen:?}");
        assert!(seen[1] > 100 && seen[3] > 100, "{seen:?}");
        // top-k 1 is greedy, and the reported log-probability is still the model's.
        let greedy = SamplingParams {
            top_k: 1,
            ..Default::default()
        };
        let d = sample(&[0.0, 2.0, 1.0], &greedy, &mut rng);
        assert_eq!(d.token, 1);
        assert!(d.logprob < 0.0);
        assert_eq!(d.top_logprob, d.logprob);
    }

    #[test]
    fn configs_without_top_k_still_load() {
        let p: SamplingParams =
            serde_json::from_str(r#"{"temperature": 0.5, "top_p": 0.9}"#).unwrap();
        assert_eq!(p.top_k, 0);
        assert_eq!(p.temperature, 0.5);
    }
}
