//! Verifiers: the [`Verifier`] trait and its implementations — the oracle step checker of the
//! toy task, the policy's own log-probabilities, and learned reward models (the toy PRM and
//! ORM, and real PRM checkpoints in four formats), and PRMs on inference servers ([`remote`]).
//!
//! A verifier scores many partial solutions of one problem in one call. A search asks again
//! about partial solutions that grew by a step since it last asked; a PRM then reads only the
//! new step (it keeps what it read per problem), so its cost grows with the distinct steps
//! scored, not with the sum over rounds of whole prefixes.

pub mod logprob;
pub mod noisy;
pub mod prm;
pub mod remote;

use crate::backend::remote::remote_url;
use crate::data::{toy, Problem};
use crate::engine::ComputeMeter;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The policy's log-probabilities of one step's tokens (the step delimiter excluded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLogprob {
    /// Sum of the tokens' natural-log probabilities.
    pub sum: f64,
    /// How many tokens.
    pub tokens: usize,
    /// The least likely token's log-probability (0 for a step without tokens).
    pub min: f64,
    /// The largest gap below the most likely token: the least `ln p(token) - ln p(argmax)`
    /// over the step's tokens, ≤ 0 (0 for a step without tokens); `None` where the policy did
    /// not report the most likely token's log-probability.
    pub gap_min: Option<f64>,
    /// Sum over the step's tokens of KL(U ‖ p), nats (0 for a step without tokens); `None`
    /// where the policy did not have the whole distribution.
    pub uniform_kl_sum: Option<f64>,
}

impl StepLogprob {
    /// A step without tokens, from a policy that reports the argmax gap where `top` and the
    /// divergence from uniform where `kl` (each then 0, like the log-probability sum).
    pub fn empty(top: bool, kl: bool) -> Self {
        Self {
            sum: 0.0,
            tokens: 0,
            min: 0.0,
            gap_min: top.then_some(0.0),
            uniform_kl_sum: kl.then_some(0.0),
        }
    }

    /// This step and `next` as one step (a piece of white space joining the step before it).
    pub fn join(&mut self, next: &StepLogprob) {
        if next.tokens > 0 {
            self.min = if self.tokens == 0 {
                next.min
            } else {
                self.min.min(next.min)
            };
        }
        self.sum += next.sum;
        self.tokens += next.tokens;
        self.gap_min = self.gap_min.zip(next.gap_min).map(|(a, b)| a.min(b));
        self.uniform_kl_sum = self
            .uniform_kl_sum
            .zip(next.uniform_kl_sum)
            .map(|(a, b)| a + b);
    }
}

/// One step of a partial solution, as a verifier reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepText {
    /// The step, without its delimiter.
    pub text: String,
    /// The policy's log-probabilities of the step's tokens, where the policy reported them.
    pub logprob: Option<StepLogprob>,
}

impl StepText {
    /// A step known only by its text.
    pub fn plain(text: &str) -> Self {
        Self {
            text: text.to_string(),
            logprob: None,
        }
    }
}

/// Scores every step of partial or full solutions.
pub trait Verifier {
    /// A short name for records and the window.
    fn name(&self) -> String;

    /// Scores several partial solutions of `problem`: for each, one score in [0, 1] per step,
    /// how likely the solution is still right after that step.
    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>>;

    /// A new search begins: forget what earlier searches read, so that what this one is
    /// charged (`verifier_tokens`, `verifier_flops`) is what it costs alone, whatever ran
    /// before it — a second search of the same problem pays for its own scores. Verifiers
    /// that remember nothing between calls need not implement it.
    fn start_search(&mut self) {}

    /// Sets aside what the current search has read (so that another search can be scored
    /// without reading it, or losing it) and returns it; `None` where nothing is kept between
    /// calls. [`Self::resume`] brings it back. Searches run side by side
    /// ([`crate::runner`]'s problems in parallel) take turns this way, each charged what it
    /// reads alone.
    fn suspend(&mut self) -> Option<Box<dyn std::any::Any + Send>> {
        None
    }

    /// Brings back what [`Self::suspend`] set aside.
    fn resume(&mut self, _state: Box<dyn std::any::Any + Send>) {}

    /// A handle on this verifier that another thread can call while this one is called,
    /// sharing its limits (a server's requests in flight) and nothing any search has read;
    /// `None` where calls must go through this one (a model in this process). Problems in
    /// parallel give each search a handle of its own where there is one.
    fn detach(&self) -> Option<Box<dyn Verifier + Send>> {
        None
    }

    /// Another verifier on the same weights with memory of its own, to call from another
    /// thread while this one is called (see [`crate::backend::Policy::twin`]); `None` where
    /// there is none. A verifier that keeps nothing offers [`Self::detach`] instead.
    fn twin(&self) -> Option<Box<dyn Verifier + Send>> {
        None
    }

    /// Scores one solution known by the texts of its steps.
    fn score(
        &mut self,
        problem: &Problem,
        steps: &[String],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<f32>> {
        let steps: Vec<StepText> = steps.iter().map(|s| StepText::plain(s)).collect();
        let mut out = self.score_many(problem, &[&steps], meter)?;
        Ok(out.pop().unwrap_or_default())
    }
}

impl<V: Verifier + ?Sized> Verifier for Box<V> {
    fn name(&self) -> String {
        (**self).name()
    }
    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        (**self).score_many(problem, solutions, meter)
    }
    fn start_search(&mut self) {
        (**self).start_search();
    }
    fn suspend(&mut self) -> Option<Box<dyn std::any::Any + Send>> {
        (**self).suspend()
    }
    fn resume(&mut self, state: Box<dyn std::any::Any + Send>) {
        (**self).resume(state);
    }
    fn detach(&self) -> Option<Box<dyn Verifier + Send>> {
        (**self).detach()
    }
    fn twin(&self) -> Option<Box<dyn Verifier + Send>> {
        (**self).twin()
    }
}

/// Which verifier scores steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifierSpec {
    /// The exact step checker of the toy task: 1 while every step so far is right, else 0.
    Oracle,
    /// The policy's own token log-probabilities ([`logprob`]): free, no training. Step k
    /// scores the geometric mean of the token probabilities of steps 1..=k.
    Logprob,
    /// Each step's own mean token probability (geometric mean over its tokens alone).
    LogprobStepMean,
    /// Each step's least likely token's probability.
    LogprobStepMin,
    /// The running minimum over all tokens so far of `p(token) / p(most likely token)`.
    LogprobArgmaxGap,
    /// The running mean over all tokens so far of KL(uniform ‖ p), normalised to [0, 1)
    /// (Kang et al. 2025's self-certainty; [`logprob::certainty_score`]). Local policies only.
    SelfCertainty,
    /// The committed toy process reward model: the best of the toy PRMs (today the Monte Carlo
    /// one, [`TOY_PRM`]).
    ToyPrm,
    /// The toy PRM trained on Monte Carlo rollout labels, the paper's recipe ([`TOY_PRM_MC`]);
    /// its own name stays when `toy-prm` moves to a better PRM.
    ToyPrmMc,
    /// The toy PRM trained on the exact step checker's labels with near-miss hard negatives
    /// ([`TOY_PRM_CHECKER`]).
    ToyPrmChecker,
    /// A synthetic PRM from the exact labels with calibrated noise ([`noisy`]).
    NoisyOracle(noisy::NoisySpec),
    /// The committed toy outcome reward model (`models/toy/orm`).
    ToyOrm,
    /// A PRM checkpoint directory; its format is read from the checkpoint ([`prm::detect`]).
    Prm(PathBuf),
    /// A PRM on an inference server ([`remote`]).
    Remote(remote::RemoteVerifierSpec),
}

/// The committed toy PRM that `toy-prm` names (the best one), relative to the crate root.
pub const TOY_PRM: &str = TOY_PRM_MC;
/// The committed Monte Carlo toy PRM, relative to the crate root.
pub const TOY_PRM_MC: &str = "models/toy/prm";
/// The committed toy PRM trained on the exact step checker's labels, relative to the crate root.
pub const TOY_PRM_CHECKER: &str = "models/toy/prm-checker";
/// The committed toy ORM, relative to the crate root.
pub const TOY_ORM: &str = "models/toy/orm";

impl VerifierSpec {
    /// The names `--verifier` accepts, for help and error messages.
    pub const NAMES: &'static str = "oracle, logprob, logprob-step-mean, logprob-step-min, \
logprob-argmax-gap, self-certainty, toy-prm, toy-prm-mc, toy-prm-checker, toy-orm, noisy-oracle:Q[,blind=last-digit|subtraction][,seed=S], the directory of \
a PRM checkpoint, or a PRM on a server: remote:http://HOST:PORT,format=qwen-math-prm|math-shepherd|rlhflow[,model=M][,params=P]";

    /// The verifiers that need no path, as the window offers them.
    pub const BUILT_IN: [VerifierSpec; 10] = [
        Self::Oracle,
        Self::Logprob,
        Self::LogprobStepMean,
        Self::LogprobStepMin,
        Self::LogprobArgmaxGap,
        Self::SelfCertainty,
        Self::ToyPrm,
        Self::ToyPrmMc,
        Self::ToyPrmChecker,
        Self::ToyOrm,
    ];

    /// Parses a `--verifier` value: a name, or else a path (it must look like one).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "oracle" => Ok(Self::Oracle),
            "logprob" => Ok(Self::Logprob),
            "logprob-step-mean" => Ok(Self::LogprobStepMean),
            "logprob-step-min" => Ok(Self::LogprobStepMin),
            "logprob-argmax-gap" => Ok(Self::LogprobArgmaxGap),
            "self-certainty" => Ok(Self::SelfCertainty),
            spec if spec.starts_with("noisy-oracle:") => {
                noisy::NoisySpec::parse(&spec["noisy-oracle:".len()..]).map(Self::NoisyOracle)
            }
            spec if spec.starts_with(remote::SCHEME) => {
                remote::RemoteVerifierSpec::parse(spec).map(Self::Remote)
            }
            "toy-prm" => Ok(Self::ToyPrm),
            "toy-prm-mc" => Ok(Self::ToyPrmMc),
            "toy-prm-checker" => Ok(Self::ToyPrmChecker),
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

    /// Builds the verifier on `device`. The log-prob verifier loads nothing: it reads the
    /// log-probabilities the policy returned with each step.
    pub fn build(&self, device: &candle_core::Device) -> anyhow::Result<Box<dyn Verifier + Send>> {
        Ok(match self {
            Self::Oracle => Box::new(OracleVerifier),
            Self::Logprob => Box::new(logprob::LogprobVerifier::Running),
            Self::LogprobStepMean => Box::new(logprob::LogprobVerifier::StepMean),
            Self::LogprobStepMin => Box::new(logprob::LogprobVerifier::StepMin),
            Self::LogprobArgmaxGap => Box::new(logprob::LogprobVerifier::ArgmaxGap),
            Self::SelfCertainty => Box::new(logprob::LogprobVerifier::SelfCertainty),
            Self::ToyPrm => self.named(prm::load(&crate::engine::beside_crate(TOY_PRM), device)?),
            Self::ToyPrmMc => {
                self.named(prm::load(&crate::engine::beside_crate(TOY_PRM_MC), device)?)
            }
            Self::ToyPrmChecker => self.named(prm::load(
                &crate::engine::beside_crate(TOY_PRM_CHECKER),
                device,
            )?),
            Self::NoisyOracle(spec) => Box::new(noisy::NoisyOracle::new(*spec)),
            Self::ToyOrm => self.named(prm::load(&crate::engine::beside_crate(TOY_ORM), device)?),
            Self::Prm(dir) => prm::load(dir, device)?,
            Self::Remote(spec) => Box::new(remote::RemoteVerifier::connect(spec)?),
        })
    }
}

impl VerifierSpec {
    /// Refuses, before anything runs, a verifier that `policy` can never feed: `self-certainty`
    /// needs each token's whole next-token distribution, which a remote policy does not have
    /// (servers return a few top log-probabilities at most). The error names both.
    pub fn check_policy(&self, policy: &Path) -> anyhow::Result<()> {
        if *self == Self::SelfCertainty {
            if let Some(url) = remote_url(policy) {
                anyhow::bail!(
                    "verifier {self} needs the policy's whole next-token distribution at every \
                     token, which remote policy {url} cannot return (a server reports a few top \
                     log-probabilities at most): use a policy run here, or logprob-argmax-gap, \
                     which reads only the most likely token's log-probability"
                );
            }
        }
        Ok(())
    }

    /// `inner` under the name the user typed, with what it resolved to:
    /// `toy-prm-mc (value-head:prm)`, so that records and tables say which of the committed
    /// models scored (`toy-prm` names whichever is best).
    fn named(&self, inner: Box<dyn Verifier + Send>) -> Box<dyn Verifier + Send> {
        Box::new(Named {
            name: format!("{self} ({})", inner.name()),
            inner,
        })
    }
}

/// A verifier under another name.
struct Named {
    name: String,
    inner: Box<dyn Verifier + Send>,
}

impl Verifier for Named {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        self.inner.score_many(problem, solutions, meter)
    }

    fn start_search(&mut self) {
        self.inner.start_search();
    }

    fn suspend(&mut self) -> Option<Box<dyn std::any::Any + Send>> {
        self.inner.suspend()
    }

    fn resume(&mut self, state: Box<dyn std::any::Any + Send>) {
        self.inner.resume(state);
    }

    fn detach(&self) -> Option<Box<dyn Verifier + Send>> {
        let inner = self.inner.detach()?;
        Some(Box::new(Named {
            name: self.name.clone(),
            inner,
        }))
    }

    fn twin(&self) -> Option<Box<dyn Verifier + Send>> {
        let inner = self.inner.twin()?;
        Some(Box::new(Named {
            name: self.name.clone(),
            inner,
        }))
    }
}

/// Several verifiers, as `--verifiers` lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifierList(pub Vec<VerifierSpec>);

impl VerifierSpec {
    /// Parses a comma-separated list; a piece `blind=...` or `seed=...` belongs to the noisy
    /// oracle before it, a piece `format=...`, `model=...` (and the other
    /// [`remote::KEYS`]) to the remote verifier before it. An empty string is an empty list.
    pub fn parse_list(s: &str) -> Result<VerifierList, String> {
        let mut items: Vec<String> = Vec::new();
        for piece in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match items.last_mut() {
                Some(last)
                    if last.starts_with("noisy-oracle:")
                        && (piece.starts_with("blind=") || piece.starts_with("seed=")) =>
                {
                    last.push(',');
                    last.push_str(piece);
                }
                Some(last)
                    if last.starts_with(remote::SCHEME)
                        && remote::KEYS.iter().any(|k| piece.starts_with(k)) =>
                {
                    last.push(',');
                    last.push_str(piece);
                }
                _ => items.push(piece.to_string()),
            }
        }
        items
            .iter()
            .map(|i| Self::parse(i))
            .collect::<Result<_, _>>()
            .map(VerifierList)
    }
}

impl std::fmt::Display for VerifierSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Oracle => write!(f, "oracle"),
            Self::Logprob => write!(f, "logprob"),
            Self::LogprobStepMean => write!(f, "logprob-step-mean"),
            Self::LogprobStepMin => write!(f, "logprob-step-min"),
            Self::LogprobArgmaxGap => write!(f, "logprob-argmax-gap"),
            Self::SelfCertainty => write!(f, "self-certainty"),
            Self::ToyPrm => write!(f, "toy-prm"),
            Self::ToyPrmMc => write!(f, "toy-prm-mc"),
            Self::ToyPrmChecker => write!(f, "toy-prm-checker"),
            Self::NoisyOracle(spec) => write!(f, "{spec}"),
            Self::ToyOrm => write!(f, "toy-orm"),
            Self::Prm(dir) => write!(f, "{}", dir.display()),
            Self::Remote(spec) => write!(f, "{spec}"),
        }
    }
}

/// The reference of a toy problem as the integer the exact step checker needs; `who` names the
/// verifier in the error about a problem that is not toy arithmetic.
pub(crate) fn toy_target(problem: &Problem, who: &str) -> anyhow::Result<i64> {
    problem.answer.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "{who} checks toy arithmetic, but problem {} has the non-integer answer '{}'",
            problem.id,
            problem.answer
        )
    })
}

/// The toy task's exact checker as a verifier: a step scores 1 when it and every step before it
/// are right ([`toy::check_steps`]), else 0. It reads the reference answer, so it is an upper
/// bound for learned verifiers, not a fair competitor.
pub struct OracleVerifier;

impl Verifier for OracleVerifier {
    fn name(&self) -> String {
        "oracle".into()
    }

    /// It keeps nothing between calls.
    fn detach(&self) -> Option<Box<dyn Verifier + Send>> {
        Some(Box::new(OracleVerifier))
    }

    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        _: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let target = toy_target(problem, "the oracle verifier")?;
        Ok(solutions
            .iter()
            .map(|steps| {
                let texts: Vec<String> = steps.iter().map(|s| s.text.clone()).collect();
                toy::check_steps(&texts, target)
                    .into_iter()
                    .map(|ok| if ok { 1.0 } else { 0.0 })
                    .collect()
            })
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
        let list =
            VerifierSpec::parse_list("oracle,noisy-oracle:0.8,blind=last-digit,seed=2,logprob")
                .unwrap()
                .0;
        assert_eq!(list.len(), 3);
        assert_eq!(
            list[1].to_string(),
            "noisy-oracle:0.8,blind=last-digit,seed=2"
        );
        assert!(VerifierSpec::parse_list("").unwrap().0.is_empty());
    }

    #[test]
    fn the_evidence_verifiers_parse_print_and_refuse_a_remote_policy_they_cannot_read() {
        for name in ["logprob-argmax-gap", "self-certainty"] {
            let v = VerifierSpec::parse(name).unwrap();
            assert_eq!(v.to_string(), name);
            assert!(VerifierSpec::BUILT_IN.contains(&v));
            assert!(VerifierSpec::NAMES.contains(name));
            assert_eq!(v.build(&candle_core::Device::Cpu).unwrap().name(), name);
        }
        let remote = Path::new("remote:http://127.0.0.1:8080");
        let err = VerifierSpec::SelfCertainty
            .check_policy(remote)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("self-certainty") && err.contains("http://127.0.0.1:8080"),
            "{err}"
        );
        // The argmax gap may come from a server; any verifier may read a local policy.
        assert!(VerifierSpec::LogprobArgmaxGap.check_policy(remote).is_ok());
        assert!(VerifierSpec::SelfCertainty
            .check_policy(Path::new("models/toy/policy"))
            .is_ok());
    }

    #[test]
    fn toy_solutions_extract_as_before() {
        // The toy task's own extraction, which the grader replaced; kept as the oracle.
        for text in [
            "3+4=7: 7*12-5\n7*12=84: 84-5\n84-5=79: 79\n\\boxed{79}",
            "\\boxed{-12}",
            "\\boxed{012}",
            "2*3=6: 6\n\\boxed{6",
            "1+1=2: 2\n",
            "\\boxed{}",
            "\\boxed{{3}}",
            "\\boxed{ 4 }",
            "}}\\boxed{5}}}",
        ] {
            let old = toy::extract_boxed(text).filter(|a| !a.is_empty());
            assert_eq!(crate::grade::extract_answer(text), old, "{text:?}");
        }
        // Two boxes come back together; against a single reference the last one decides, as
        // the toy task's own extraction decided.
        let two = crate::grade::extract_answer("\\boxed{1}\\boxed{2}").unwrap();
        assert!(crate::grade::equivalent("2", &two), "{two}");
        assert!(!crate::grade::equivalent("1", &two), "{two}");
    }
}
