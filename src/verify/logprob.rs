//! The log-probability verifier: the policy's own token log-probabilities, aggregated per step.
//! It needs no training, no reference answer and no model of its own, so it is the free
//! baseline every learned verifier is shown beside.
//!
//! Five readings of the policy's evidence ([`LogprobVerifier`]), three of the written tokens'
//! log-probabilities:
//! - `logprob` (running): step `k`'s score is the geometric mean of the token probabilities of
//!   steps `1..=k` (the exponential of their mean log-probability), so it is in (0, 1], it falls
//!   when any step so far holds an unlikely token, and it does not shrink just because a
//!   solution is long;
//! - `logprob-step-mean`: the geometric mean of step `k`'s own token probabilities;
//! - `logprob-step-min`: the probability of step `k`'s least likely token — one slip in an
//!   otherwise confident step shows;
//!
//! and two of what the policy thought at each position beside the token it wrote:
//! - `logprob-argmax-gap`: step `k`'s score is the running minimum, over every token of steps
//!   `1..=k`, of `p(written token) / p(most likely token)` — in (0, 1], 1 while every token was
//!   the argmax, and as low as the furthest the sampler strayed from it. A token that was
//!   unlikely because the model was unsure among many scores well; one that was unlikely
//!   although the model had a clear favourite does not;
//! - `self-certainty` (Kang et al. 2025, "Scalable Best-of-N Selection for Large Language
//!   Models via Self-Certainty", arXiv 2502.18581): per token, KL(U ‖ p) = -ln V - (1/V)
//!   Σ_j ln p_j, the divergence of the next-token distribution from uniform over the
//!   vocabulary; step `k` scores the mean `m` over the tokens of steps `1..=k`, normalised as
//!   `m / (1 + m)` ([`certainty_score`]).
//!
//! The token that completes a step's delimiter and the end-of-sequence token are not counted:
//! they say where a step ends, not what it says. A step without tokens scores 1.
//!
//! Cost: nothing. It reads the log-probabilities the policy returned with each step
//! ([`StepText::logprob`]), so no second copy of the policy and no extra forward pass; a step
//! without them (a policy that does not report them) is an error that says so. The local
//! engine reports all five readings' numbers; a remote policy reports the argmax gap where its
//! server returns the top log-probability with each token, and never the divergence from
//! uniform (a server returns a few top tokens, not the distribution): `self-certainty` with a
//! remote policy is refused before anything runs ([`super::VerifierSpec::check_policy`]).

use super::{StepText, Verifier};
use crate::data::Problem;
use crate::engine::ComputeMeter;

/// Scores steps by the policy's own log-probabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogprobVerifier {
    /// The running geometric mean over all steps so far.
    #[default]
    Running,
    /// Each step's own geometric mean.
    StepMean,
    /// Each step's least likely token.
    StepMin,
    /// The running minimum of `p(token) / p(argmax)` over all tokens so far.
    ArgmaxGap,
    /// The running mean of KL(U ‖ p) over all tokens so far, normalised ([`certainty_score`]).
    SelfCertainty,
}

/// A self-certainty (a mean KL(U ‖ p) in nats, `m ≥ 0`) as a score in [0, 1): `m / (1 + m)`,
/// 0 for a policy that knows nothing (uniform), 1/2 at one nat, towards 1 as it grows.
///
/// Why this map: it is monotone, so best-of-N choices and AUCs are those of the paper's raw
/// self-certainty; it needs no vocabulary size (the verifier does not know the policy's); and
/// it does not saturate: a language model's mean KL from uniform is often 10–20 nats, where
/// `1 - exp(-m)` rounds to 1 in f32 and would tie every candidate, while `m / (1 + m)` still
/// tells 10 from 10.01. An infinite divergence (a masked token) scores 1; no tokens score 1,
/// as with the other readings.
pub fn certainty_score(mean_kl: f64) -> f32 {
    if mean_kl.is_infinite() {
        1.0
    } else {
        (mean_kl.max(0.0) / (1.0 + mean_kl.max(0.0))) as f32
    }
}

/// Scores of the steps of one solution under `kind`; `None` where a step carries no
/// log-probabilities.
pub fn scores(kind: LogprobVerifier, steps: &[StepText]) -> Option<Vec<f32>> {
    match kind {
        LogprobVerifier::Running => running_scores(steps),
        LogprobVerifier::StepMean => steps
            .iter()
            .map(|s| {
                let lp = s.logprob?;
                Some(if lp.tokens == 0 {
                    1.0
                } else {
                    (lp.sum / lp.tokens as f64).exp() as f32
                })
            })
            .collect(),
        LogprobVerifier::StepMin => steps
            .iter()
            .map(|s| s.logprob.map(|lp| lp.min.exp() as f32))
            .collect(),
        LogprobVerifier::ArgmaxGap => {
            let mut gap = 0f64;
            steps
                .iter()
                .map(|s| {
                    gap = gap.min(s.logprob?.gap_min?);
                    Some(gap.exp() as f32)
                })
                .collect()
        }
        LogprobVerifier::SelfCertainty => {
            let (mut sum, mut count) = (0f64, 0usize);
            steps
                .iter()
                .map(|s| {
                    let lp = s.logprob?;
                    sum += lp.uniform_kl_sum?;
                    count += lp.tokens;
                    Some(if count == 0 {
                        1.0
                    } else {
                        certainty_score(sum / count as f64)
                    })
                })
                .collect()
        }
    }
}

/// Scores of the steps of one solution: running geometric means of token probabilities.
/// `None` where a step carries no log-probabilities.
pub fn running_scores(steps: &[StepText]) -> Option<Vec<f32>> {
    let (mut sum, mut count) = (0f64, 0usize);
    steps
        .iter()
        .map(|s| {
            let lp = s.logprob?;
            sum += lp.sum;
            count += lp.tokens;
            Some(if count == 0 {
                1.0
            } else {
                (sum / count as f64).exp() as f32
            })
        })
        .collect()
}

impl Verifier for LogprobVerifier {
    fn name(&self) -> String {
        match self {
            Self::Running => "logprob",
            Self::StepMean => "logprob-step-mean",
            Self::StepMin => "logprob-step-min",
            Self::ArgmaxGap => "logprob-argmax-gap",
            Self::SelfCertainty => "self-certainty",
        }
        .into()
    }

    /// It keeps nothing between calls: it reads what the policy reported.
    fn detach(&self) -> Option<Box<dyn Verifier + Send>> {
        Some(Box::new(*self))
    }

    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        _: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        solutions
            .iter()
            .map(|steps| {
                scores(*self, steps).ok_or_else(|| {
                    let what = match self {
                        Self::Running | Self::StepMean | Self::StepMin => {
                            "the policy's token log-probabilities"
                        }
                        Self::ArgmaxGap => {
                            "the log-probability of the most likely token at each position \
                             (a remote policy reports it only where its server returns top \
                             log-probabilities)"
                        }
                        Self::SelfCertainty => {
                            "each token's whole next-token distribution, which only a policy \
                             run by thinkscale's own engine has"
                        }
                    };
                    anyhow::anyhow!(
                        "the {} verifier reads {what}, but the policy gave a step of problem {} \
                         without them (a policy that does not report them, or steps given as \
                         text only)",
                        self.name(),
                        problem.id
                    )
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::StepLogprob;

    fn step(text: &str, sum: f64, tokens: usize, min: f64) -> StepText {
        StepText {
            text: text.into(),
            logprob: Some(StepLogprob {
                sum,
                tokens,
                min,
                gap_min: None,
                uniform_kl_sum: None,
            }),
        }
    }

    fn evidence(tokens: usize, gap_min: f64, uniform_kl_sum: f64) -> StepText {
        StepText {
            text: "s".into(),
            logprob: Some(StepLogprob {
                sum: -1.0,
                tokens,
                min: -1.0,
                gap_min: Some(gap_min),
                uniform_kl_sum: Some(uniform_kl_sum),
            }),
        }
    }

    fn close(got: &[f32], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (a, b) in got.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn argmax_gaps_are_running_minima_and_certainty_a_running_mean() {
        // Gaps -0.5, 0 (every token the argmax), -2, and a step without tokens; KL sums 6 nats
        // over 2 tokens, 1 over 2, 9 over 2, 0 over 0.
        let steps = [
            evidence(2, -0.5, 6.0),
            evidence(2, 0.0, 1.0),
            evidence(2, -2.0, 9.0),
            evidence(0, 0.0, 0.0),
        ];
        let p = crate::data::toy::problem("t".into(), 1, "1+1".into(), 2);
        let mut meter = ComputeMeter::default();
        let gap = LogprobVerifier::ArgmaxGap
            .score_many(&p, &[&steps], &mut meter)
            .unwrap()
            .remove(0);
        let e = |x: f64| x.exp();
        close(&gap, &[e(-0.5), e(-0.5), e(-2.0), e(-2.0)]);
        // Mean KL 3, then 7/4, then 16/6 = 8/3 (the empty step keeps it): m / (1 + m).
        let certainty = LogprobVerifier::SelfCertainty
            .score_many(&p, &[&steps], &mut meter)
            .unwrap()
            .remove(0);
        close(&certainty, &[0.75, 7.0 / 11.0, 8.0 / 11.0, 8.0 / 11.0]);
        assert_eq!(meter, ComputeMeter::default());
        // Every token the argmax: 1; no tokens yet: 1.
        let first = [evidence(3, 0.0, 0.0)];
        let s = LogprobVerifier::ArgmaxGap
            .score_many(&p, &[&first], &mut meter)
            .unwrap();
        assert_eq!(s, [[1.0]]);
        let none = [evidence(0, 0.0, 0.0)];
        let s = LogprobVerifier::SelfCertainty
            .score_many(&p, &[&none], &mut meter)
            .unwrap();
        assert_eq!(s, [[1.0]]);
        // The normalisation: monotone, 0 at uniform, 1/2 at one nat, no NaN at infinity.
        assert_eq!(certainty_score(0.0), 0.0);
        assert_eq!(certainty_score(1.0), 0.5);
        assert!(certainty_score(10.0) < certainty_score(10.01));
        assert_eq!(certainty_score(f64::INFINITY), 1.0);
    }

    #[test]
    fn missing_evidence_is_an_error_that_names_the_verifier() {
        let p = crate::data::toy::problem("t".into(), 1, "1+1".into(), 2);
        let mut meter = ComputeMeter::default();
        // Log-probabilities, but not the argmax's nor the divergence from uniform.
        let steps = [step("a", -1.0, 2, -0.9)];
        for (v, words) in [
            (LogprobVerifier::ArgmaxGap, "most likely token"),
            (
                LogprobVerifier::SelfCertainty,
                "whole next-token distribution",
            ),
        ] {
            let mut w = v;
            let err = w.score_many(&p, &[&steps], &mut meter).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(&v.name()) && msg.contains(words), "{msg}");
            // Never a silent score from zeros.
            assert!(scores(v, &steps).is_none());
        }
        assert!(LogprobVerifier::Running
            .score_many(&p, &[&steps], &mut meter)
            .is_ok());
    }

    #[test]
    fn scores_are_running_geometric_means_and_text_only_steps_are_refused() {
        let steps = [
            step("a", -1.0, 2, -0.9),
            step("b", -2.0, 2, -1.5),
            step("", 0.0, 0, 0.0),
        ];
        let mut v = LogprobVerifier::Running;
        let mut meter = ComputeMeter::default();
        let p = crate::data::toy::problem("t".into(), 1, "1+1".into(), 2);
        let s = v.score_many(&p, &[&steps], &mut meter).unwrap().remove(0);
        let want = [(-0.5f64).exp(), (-0.75f64).exp(), (-0.75f64).exp()];
        assert_eq!(s.len(), want.len(), "{s:?}");
        for (a, b) in s.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{s:?}");
        }
        assert_eq!(meter, ComputeMeter::default());
        let err = v.score(&p, &["a".into()], &mut meter).unwrap_err();
        assert!(err.to_string().contains("log-probabilities"), "{err}");
        // Each step on its own: its mean, and its least likely token.
        let mean = LogprobVerifier::StepMean
            .score_many(&p, &[&steps], &mut meter)
            .unwrap()
            .remove(0);
        let want = [(-0.5f64).exp(), (-1.0f64).exp(), 1.0];
        assert_eq!(mean.len(), want.len(), "{mean:?}");
        for (a, b) in mean.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{mean:?}");
        }
        let min = LogprobVerifier::StepMin
            .score_many(&p, &[&steps], &mut meter)
            .unwrap()
            .remove(0);
        let want = [(-0.9f64).exp(), (-1.5f64).exp(), 1.0];
        assert_eq!(min.len(), want.len(), "{min:?}");
        for (a, b) in min.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-6, "{min:?}");
        }
    }
}
