//! Verifiers and grading: the oracle step checker of the toy task, the policy's own
//! log-probabilities, learned reward models (the toy PRM and ORM, and real PRM checkpoints in
//! four formats), their training, and the answer grader.

pub mod grader;
pub mod logprob;
pub mod prm;
pub mod train;

use crate::backend::LocalPolicy;
use crate::data::{toy, Problem};
use crate::engine::ComputeMeter;
use crate::engine::PromptFormat;
use crate::search::Verifier;
use anyhow::Context;
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which verifier scores steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifierSpec {
    /// The exact step checker of the toy task: 1 while every step so far is right, else 0.
    Oracle,
    /// The policy's own token log-probabilities ([`logprob`]): free, no training.
    Logprob,
    /// The committed toy process reward model (`models/toy/prm`).
    ToyPrm,
    /// The committed toy outcome reward model (`models/toy/orm`).
    ToyOrm,
    /// A PRM checkpoint directory; its format is read from the checkpoint ([`prm::detect`]).
    Prm(PathBuf),
}

/// The committed toy PRM, relative to the crate root.
pub const TOY_PRM: &str = "models/toy/prm";
/// The committed toy ORM, relative to the crate root.
pub const TOY_ORM: &str = "models/toy/orm";

impl VerifierSpec {
    /// The names `--verifier` accepts, for help and error messages.
    pub const NAMES: &'static str =
        "oracle, logprob, toy-prm, toy-orm, or the directory of a PRM checkpoint";

    /// The verifiers that need no path, as the window offers them.
    pub const BUILT_IN: [VerifierSpec; 4] =
        [Self::Oracle, Self::Logprob, Self::ToyPrm, Self::ToyOrm];

    /// Parses a `--verifier` value: a name, or else a path (it must look like one).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "oracle" => Ok(Self::Oracle),
            "logprob" => Ok(Self::Logprob),
            "toy-prm" => Ok(Self::ToyPrm),
            "toy-orm" => Ok(Self::ToyOrm),
            path if path.contains(std::path::MAIN_SEPARATOR) || Path::new(path).is_dir() => {
                Ok(Self::Prm(PathBuf::from(path)))
            }
            other => Err(format!(
                "unknown verifier '{other}': the verifiers are: {}",
                Self::NAMES
            )),
        }
    }

    /// Builds the verifier. `policy` is the policy model and `prompt` its prompt format (the
    /// log-prob verifier scores with them, reading what the policy read), `delimiter` what
    /// separates its steps.
    pub fn build(
        &self,
        policy: &Path,
        prompt: PromptFormat,
        device: &Device,
        delimiter: &str,
    ) -> anyhow::Result<Box<dyn Verifier + Send>> {
        Ok(match self {
            Self::Oracle => Box::new(OracleVerifier),
            Self::Logprob => Box::new(logprob::LogprobVerifier::new(
                LocalPolicy::load_with(policy, device, prompt, candle_core::DType::F32)
                    .with_context(|| {
                        format!("log-prob verifier: cannot load {}", policy.display())
                    })?,
                delimiter,
            )),
            Self::ToyPrm => prm::load(&crate::backend::beside_crate(TOY_PRM), device)?,
            Self::ToyOrm => prm::load(&crate::backend::beside_crate(TOY_ORM), device)?,
            Self::Prm(dir) => prm::load(dir, device)?,
        })
    }
}

impl std::fmt::Display for VerifierSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oracle => write!(f, "oracle"),
            Self::Logprob => write!(f, "logprob"),
            Self::ToyPrm => write!(f, "toy-prm"),
            Self::ToyOrm => write!(f, "toy-orm"),
            Self::Prm(dir) => write!(f, "{}", dir.display()),
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
