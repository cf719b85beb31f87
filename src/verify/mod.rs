//! Verifiers and grading: the oracle step checker of the toy task, and the answer grader.

pub mod grader;
pub mod prm;

use crate::data::{toy, Problem};
use crate::engine::ComputeMeter;
use crate::search::Verifier;
use serde::{Deserialize, Serialize};

/// Which verifier scores steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifierSpec {
    /// The exact step checker of the toy task: 1 while every step so far is right, else 0.
    Oracle,
}

impl VerifierSpec {
    /// Parses a `--verifier` value.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "oracle" => Ok(Self::Oracle),
            other => Err(format!(
                "unknown verifier '{other}': the verifiers are: oracle"
            )),
        }
    }

    /// Builds the verifier.
    pub fn build(&self) -> Box<dyn Verifier + Send> {
        match self {
            Self::Oracle => Box::new(OracleVerifier),
        }
    }
}

impl std::fmt::Display for VerifierSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oracle => write!(f, "oracle"),
        }
    }
}

/// The toy task's exact checker as a verifier: a step scores 1 when it and every step before it
/// are right ([`toy::check_steps`]), else 0. It reads the reference answer, so it is an upper
/// bound for learned verifiers, not a fair competitor.
pub struct OracleVerifier;

impl Verifier for OracleVerifier {
    fn name(&self) -> String {
        "oracle".into()
    }

    fn score(
        &mut self,
        problem: &Problem,
        steps: &[String],
        _: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<f32>> {
        let target: i64 = problem.answer.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "the oracle verifier checks toy arithmetic, but problem {} has the non-integer answer '{}'",
                problem.id,
                problem.answer
            )
        })?;
        Ok(toy::check_steps(steps, target)
            .into_iter()
            .map(|ok| if ok { 1.0 } else { 0.0 })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oracle_scores_prefix_correctness() {
        let p = toy::problem("t".into(), 2, "2*3+1".into(), 7);
        let steps: Vec<String> = ["2*3=6: 6+1", "6+1=8: 8", "\\boxed{8}"]
            .map(String::from)
            .to_vec();
        let s = OracleVerifier
            .score(&p, &steps, &mut ComputeMeter::default())
            .unwrap();
        assert_eq!(s, vec![1.0, 0.0, 0.0]);
        let mut q = p.clone();
        q.answer = "x".into();
        assert!(OracleVerifier
            .score(&q, &steps, &mut ComputeMeter::default())
            .unwrap_err()
            .to_string()
            .contains("non-integer"));
        assert!(VerifierSpec::parse("prm").is_err());
    }
}
