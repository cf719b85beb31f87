//! The log-probability verifier: the policy's own token log-probabilities, aggregated per step.
//! It needs no training, no reference answer and no model of its own, so it is the free
//! baseline every learned verifier is shown beside.
//!
//! Three readings of the same numbers ([`LogprobVerifier`]):
//! - `logprob` (running): step `k`'s score is the geometric mean of the token probabilities of
//!   steps `1..=k` (the exponential of their mean log-probability), so it is in (0, 1], it falls
//!   when any step so far holds an unlikely token, and it does not shrink just because a
//!   solution is long;
//! - `logprob-step-mean`: the geometric mean of step `k`'s own token probabilities;
//! - `logprob-step-min`: the probability of step `k`'s least likely token — one slip in an
//!   otherwise confident step shows.
//!
//! The token that completes a step's delimiter and the end-of-sequence token are not counted:
//! they say where a step ends, not what it says. A step without tokens scores 1.
//!
//! Cost: nothing. It reads the log-probabilities the policy returned with each step
//! ([`StepText::logprob`]), so no second copy of the policy and no extra forward pass; a step
//! without them (a policy that does not report them) is an error that says so.

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
        }
        .into()
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
                    anyhow::anyhow!(
                        "the log-prob verifier reads the policy's token log-probabilities, but a \
                         step of problem {} came without them (a policy that does not report \
                         them, or steps given as text only)",
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
            logprob: Some(StepLogprob { sum, tokens, min }),
        }
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
