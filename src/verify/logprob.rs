//! The log-probability verifier: the policy's own token log-probabilities, aggregated per step.
//! It needs no training and no reference answer, so it is the free baseline every learned
//! verifier is shown beside.
//!
//! Step `k`'s score is the geometric mean of the token probabilities of steps `1..=k` (the
//! exponential of their mean log-probability), so it is in (0, 1], it falls when any step so far
//! holds an unlikely token, and it does not shrink just because a solution is long. Delimiters
//! and the end-of-sequence token are not counted: they say where a step ends, not what it says.
//!
//! Cost: one teacher-forced forward pass of the policy over the prompt and the steps, counted as
//! verifier tokens.

use crate::backend::LocalPolicy;
use crate::data::Problem;
use crate::engine::ComputeMeter;
use crate::search::Verifier;

/// Scores steps by the policy's own log-probabilities.
pub struct LogprobVerifier {
    policy: LocalPolicy,
    delimiter: String,
}

impl LogprobVerifier {
    /// Uses `policy` (the same model that samples, normally) to score steps that were joined by
    /// `delimiter` when they were generated.
    pub fn new(policy: LocalPolicy, delimiter: &str) -> Self {
        Self {
            policy,
            delimiter: delimiter.to_string(),
        }
    }
}

impl Verifier for LogprobVerifier {
    fn name(&self) -> String {
        format!("logprob ({})", self.policy.model().dir.display())
    }

    fn score(
        &mut self,
        problem: &Problem,
        steps: &[String],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<f32>> {
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = self.policy.prompt_ids(problem, "")?;
        // For every step, the range of its own tokens (the delimiter after it excluded).
        let mut spans = Vec::with_capacity(steps.len());
        let tok = &self.policy.model().tokenizer;
        for (k, step) in steps.iter().enumerate() {
            let start = ids.len();
            ids.extend(tok.encode(step)?);
            spans.push(start..ids.len());
            if k + 1 < steps.len() {
                ids.extend(tok.encode(&self.delimiter)?);
            }
        }
        let lp = self
            .policy
            .model_mut()
            .token_logprobs(&ids, meter)
            .map_err(|e| anyhow::anyhow!("log-prob verifier on problem {}: {e}", problem.id))?;
        let (mut sum, mut count) = (0f64, 0usize);
        Ok(spans
            .into_iter()
            .map(|span| {
                // Token at position p is predicted by entry p - 1.
                for x in span.filter_map(|p| p.checked_sub(1).and_then(|i| lp.get(i))) {
                    sum += f64::from(*x);
                    count += 1;
                }
                if count == 0 {
                    1.0
                } else {
                    (sum / count as f64).exp() as f32
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::default_policy_dir;
    use crate::data::toy;
    use candle_core::Device;

    fn verifier() -> LogprobVerifier {
        LogprobVerifier::new(
            LocalPolicy::load(&default_policy_dir(), &Device::Cpu).unwrap(),
            "\n",
        )
    }

    #[test]
    fn scores_are_geometric_means_of_the_policys_own_token_probabilities() {
        let mut v = verifier();
        let p = toy::problem("t".into(), 2, "2*3+1".into(), 7);
        let steps: Vec<String> = ["2*3=6: 6+1", "6+1=7: 7", "\\boxed{7}"]
            .map(String::from)
            .to_vec();
        let mut meter = ComputeMeter::default();
        let s = v.score(&p, &steps, &mut meter).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s.iter().all(|x| *x > 0.0 && *x <= 1.0), "{s:?}");
        assert!(meter.verifier_tokens > 0 && meter.generated_tokens == 0);

        // Direct computation of step 1: the policy's next-token distributions, one prefix at a
        // time, without the teacher-forced pass.
        let lm = v.policy.model_mut();
        let mut ids: Vec<u32> = vec![0];
        ids.extend(lm.tokenizer.encode("2*3+1\n").unwrap());
        let mut total = 0f64;
        let step = lm.tokenizer.encode("2*3=6: 6+1").unwrap();
        for &t in &step {
            let logits = lm.last_logits(&ids).unwrap();
            let logp = candle_nn::ops::log_softmax(&logits, 0).unwrap();
            total += f64::from(logp.get(t as usize).unwrap().to_scalar::<f32>().unwrap());
            ids.push(t);
        }
        let direct = (total / step.len() as f64).exp() as f32;
        assert!((direct - s[0]).abs() < 1e-4, "{direct} vs {}", s[0]);

        // A wrong step is less likely to the policy than the right one.
        let wrong: Vec<String> = ["2*3=9: 9+1", "9+1=10: 10", "\\boxed{10}"]
            .map(String::from)
            .to_vec();
        let w = v.score(&p, &wrong, &mut meter).unwrap();
        assert!(w[0] < s[0], "wrong {w:?} vs right {s:?}");
    }
}
