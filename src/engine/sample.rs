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

/// Picks a token from `logits`; returns it with its log-probability under the model (T = 1).
pub fn sample(logits: &[f32], params: &SamplingParams, rng: &mut impl Rng) -> (u32, f32) {
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
    if params.temperature <= 0.0 || !max.is_finite() {
        return (argmax as u32, logprob(argmax));
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
            return (i as u32, logprob(i));
        }
        u -= p;
    }
    let last = probs.last().map_or(argmax, |p| p.0);
    (last as u32, logprob(last))
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
        let (tok, lp) = sample(&[0.0, 2.0, 1.0], &p, &mut rng);
        assert_eq!(tok, 1);
        let z: f32 = [0.0f32, 2.0, 1.0].iter().map(|x| x.exp()).sum();
        assert!((lp - (2.0f32.exp() / z).ln()).abs() < 1e-5);
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
            assert_eq!(sample(&[5.0, 0.0, 0.0, 0.0], &p, &mut rng).0, 0);
        }
        let p = SamplingParams::default();
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..50)
                .map(|_| sample(&[0.0, 0.0, 0.0], &p, &mut rng).0)
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
            seen[sample(&[1.0, 3.0, 0.5, 2.9], &p, &mut rng).0 as usize] += 1;
        }
        assert_eq!(seen[0] + seen[2], 0, "{seen:?}");
        assert!(seen[1] > 100 && seen[3] > 100, "{seen:?}");
        // top-k 1 is greedy, and the reported log-probability is still the model's.
        let greedy = SamplingParams {
            top_k: 1,
            ..Default::default()
        };
        let (tok, lp) = sample(&[0.0, 2.0, 1.0], &greedy, &mut rng);
        assert_eq!(tok, 1);
        assert!(lp < 0.0);
    }

    #[test]
    fn configs_without_top_k_still_load() {
        let p: SamplingParams =
            serde_json::from_str(r#"{"temperature": 0.5, "top_p": 0.9}"#).unwrap();
        assert_eq!(p.top_k, 0);
        assert_eq!(p.temperature, 0.5);
    }
}
