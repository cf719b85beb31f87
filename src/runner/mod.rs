//! Runs experiments: a [`RunConfig`] is one strategy at one budget; [`sweep`] expands a
//! [`sweep::SweepConfig`] into runs and writes them (`thinkscale run` is a sweep of one, see
//! [`sweep::SweepConfig::single`]); [`optimal`] deploys a sweep's compute-optimal table.
//! [`search_problem`] searches one problem and grades it: the sweeps and the window's worker
//! both call it, so there is one way to run a strategy.

pub mod judge;
pub mod optimal;
pub mod sweep;

use crate::backend::{remote_url, LocalPolicy, Policy, RemoteOptions, RemotePolicy};
use crate::data::{problem_seed, DatasetSpec, Problem};
use crate::engine::device::{parse_device, parse_dtype};
use crate::engine::{PromptFormat, SamplingParams};
use crate::grade;
use crate::search::{
    CancelToken, NodeStatus, Outcome, SearchContext, SearchEvent, SearchSink, Strategy,
    StrategySpec,
};
use crate::store::Record;
use crate::verify::{Verifier, VerifierSpec};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Everything that determines a run; written as `config.json` next to its results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Which problems.
    pub dataset: DatasetSpec,
    /// Only these levels (empty: all).
    #[serde(default)]
    pub levels: Vec<u8>,
    /// At most this many problems (after the level filter), taken in dataset order.
    pub limit: Option<usize>,
    /// The policy: a model directory or file, or a server (`remote:http://HOST:PORT`).
    pub policy: PathBuf,
    /// How to talk to a remote policy's server (unused for a local one).
    #[serde(default, skip_serializing_if = "is_default")]
    pub remote: RemoteOptions,
    /// The verifier.
    pub verifier: VerifierSpec,
    /// The strategy and its hyper-parameters.
    pub strategy: StrategySpec,
    /// Generations per problem.
    pub budget: usize,
    /// How to sample.
    pub sampling: SamplingParams,
    /// The text that ends a step (`"\n"`; `"\n\n"` for models that write paragraphs).
    #[serde(default = "default_delimiter")]
    pub step_delimiter: String,
    /// How a problem becomes a prompt: raw, the model's chat template, or auto (chat where the
    /// model has a template). Older configs lack it and load as auto.
    #[serde(default)]
    pub prompt: PromptFormat,
    /// The run's seed; each problem's search seed derives from it and the problem id.
    pub seed: u64,
    /// Where the model runs: `cpu`, `cuda:N`, `metal`.
    pub device: String,
    /// Type of a dense policy's weights and activations: `f32`, `f16`, `bf16`.
    #[serde(default = "default_dtype")]
    pub dtype: String,
    /// The thinkscale version that wrote it.
    #[serde(default)]
    pub thinkscale_version: String,
}

impl RunConfig {
    /// Checks the values a run cannot start with.
    pub fn validate(&self) -> anyhow::Result<()> {
        if let Err(why) = crate::search::check_budget(self.budget) {
            anyhow::bail!("budget {}: {why}", self.budget);
        }
        if self.limit == Some(0) {
            anyhow::bail!("limit must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.sampling.top_p) || self.sampling.top_p == 0.0 {
            anyhow::bail!("top-p must be in (0, 1], got {}", self.sampling.top_p);
        }
        if self.sampling.temperature < 0.0 || !self.sampling.temperature.is_finite() {
            anyhow::bail!(
                "temperature must be >= 0, got {}",
                self.sampling.temperature
            );
        }
        if self.sampling.max_tokens == 0 {
            anyhow::bail!("max-tokens must be at least 1");
        }
        if self.strategy.kind().is_tree_search() && self.step_delimiter.is_empty() {
            anyhow::bail!("a step-wise search needs a non-empty step delimiter");
        }
        self.strategy
            .validate(self.budget)
            .map_err(anyhow::Error::msg)?;
        Ok(())
    }

    /// The problems this run covers, in order.
    pub fn problems(&self) -> anyhow::Result<Vec<Problem>> {
        let loaded = self.dataset.load()?;
        for b in &loaded.skipped {
            eprintln!(
                "warning: {}:{}: skipped: {}",
                self.dataset, b.line, b.reason
            );
        }
        let mut ps: Vec<Problem> = loaded
            .problems
            .into_iter()
            .filter(|p| self.levels.is_empty() || p.level.is_some_and(|l| self.levels.contains(&l)))
            .collect();
        if let Some(k) = self.limit {
            ps.truncate(k);
        }
        Ok(ps)
    }
}

/// Loads the policy a config names: a model run here, or a connection to a server.
pub fn load_policy(config: &RunConfig) -> anyhow::Result<Box<dyn Policy + Send>> {
    if let Some(url) = remote_url(&config.policy) {
        let p = RemotePolicy::connect(url, &config.remote, config.prompt)
            .with_context(|| format!("cannot use remote policy {url}"))?;
        return Ok(Box::new(p));
    }
    let device = parse_device(&config.device)?;
    let p = LocalPolicy::load_with(
        &config.policy,
        &device,
        config.prompt,
        parse_dtype(&config.dtype)?,
    )
    .with_context(|| format!("cannot load policy {}", config.policy.display()))?;
    Ok(Box::new(p))
}

pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn default_dtype() -> String {
    "f32".into()
}

fn default_delimiter() -> String {
    "\n".into()
}

/// Loads the verifier of `config`.
pub fn load_verifier(config: &RunConfig) -> anyhow::Result<Box<dyn Verifier + Send>> {
    let device = parse_device(&config.device)?;
    config
        .verifier
        .build(&device)
        .with_context(|| format!("cannot load verifier {}", config.verifier))
}

/// Grades an outcome against the reference: every candidate, every finished leaf of the tree,
/// and the chosen answer. Strategies never see the reference; this is where it is read.
pub fn grade_outcome(problem: &Problem, outcome: &mut Outcome) {
    let right = |a: &Option<String>| a.as_deref().map(|a| grade::equivalent(&problem.answer, a));
    for c in &mut outcome.candidates {
        c.correct = right(&c.answer);
    }
    for n in &mut outcome.tree.nodes {
        if let NodeStatus::Finished { answer, correct } = &mut n.status {
            *correct = right(answer);
        }
    }
    outcome.correct = right(&outcome.answer);
}

/// Forwards a search's events to `inner`, with finished leaves and the choice graded.
struct GradingSink<'a> {
    problem: &'a Problem,
    inner: &'a mut dyn SearchSink,
}

impl SearchSink for GradingSink<'_> {
    fn event(&mut self, event: &SearchEvent) {
        let grade_answer = |a: &Option<String>| {
            a.as_deref()
                .map(|a| grade::equivalent(&self.problem.answer, a))
        };
        match event {
            SearchEvent::NodeFinished { id, answer, .. } => {
                self.inner.event(&SearchEvent::NodeFinished {
                    id: *id,
                    answer: answer.clone(),
                    correct: grade_answer(answer),
                })
            }
            SearchEvent::Chosen { node, answer, .. } => self.inner.event(&SearchEvent::Chosen {
                node: *node,
                answer: answer.clone(),
                correct: grade_answer(answer),
            }),
            other => self.inner.event(other),
        }
    }
}

/// Searches one problem, grades what the strategy chose, and makes its record.
pub fn search_problem(
    config: &RunConfig,
    problem: &Problem,
    policy: &mut dyn Policy,
    verifier: &mut dyn Verifier,
    sink: &mut dyn SearchSink,
    cancel: &CancelToken,
) -> anyhow::Result<Record> {
    let seed = problem_seed(config.seed, &problem.id);
    let mut grading = GradingSink {
        problem,
        inner: sink,
    };
    let ctx = SearchContext {
        problem,
        policy,
        verifier,
        budget: config.budget,
        seed,
        sampling: &config.sampling,
        delimiter: &config.step_delimiter,
        sink: &mut grading,
        cancel,
    };
    let mut outcome = config.strategy.run(ctx)?;
    grade_outcome(problem, &mut outcome);
    Ok(Record {
        id: problem.id.clone(),
        level: problem.level,
        question: problem.question.clone(),
        reference: problem.answer.clone(),
        answer: outcome.answer,
        correct: outcome.correct.unwrap_or(false),
        candidates: outcome.candidates,
        compute: outcome.compute,
        seed,
        tree: Some(outcome.tree),
        chosen: outcome.chosen,
        judged: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use crate::search::{SearchTree, StrategyKind};

    fn config(strategy: StrategySpec, verifier: VerifierSpec, budget: usize) -> RunConfig {
        RunConfig {
            dataset: DatasetSpec::Toy,
            levels: Vec::new(),
            limit: None,
            policy: default_policy_dir(),
            remote: Default::default(),
            verifier,
            strategy,
            budget,
            sampling: SamplingParams::default(),
            step_delimiter: "\n".into(),
            prompt: PromptFormat::Auto,
            seed: 0,
            device: "cpu".into(),
            dtype: "f32".into(),
            thinkscale_version: String::new(),
        }
    }

    /// The toy PRM reads BOS, the question, a newline, then each step and a newline: one token
    /// per character. Every node of a beam search's tree is scored; reading each token once
    /// means reading each distinct prefix of those inputs once: the size of their trie.
    fn distinct_prm_tokens(tree: &SearchTree) -> u64 {
        let mut prefixes = std::collections::HashSet::new();
        for id in 1..tree.nodes.len() {
            let mut input: Vec<char> = vec!['\u{0}'];
            input.extend(tree.nodes[0].text.chars());
            input.push('\n');
            for n in tree.path(id).into_iter().skip(1) {
                input.extend(tree.nodes[n].text.chars());
                input.push('\n');
            }
            for k in 1..=input.len() {
                prefixes.insert(input[..k].to_vec());
            }
        }
        prefixes.len() as u64
    }

    #[test]
    fn beam_search_on_the_toy_model_runs_each_prefix_once_and_the_prm_reads_each_token_once() {
        let cfg = config(
            StrategyKind::Beam.with(Default::default(), 4, 40, 0),
            VerifierSpec::ToyPrm,
            16,
        );
        let mut policy = load_policy(&cfg).unwrap();
        let mut verifier = load_verifier(&cfg).unwrap();
        let problems = crate::data::toy::eval_split();
        // Level-4 and level-5 problems: several rounds, prunings on the way.
        let mut pruned = 0;
        for p in problems.iter().filter(|p| p.level >= Some(4)).take(4) {
            let mut events = 0;
            let mut sink = |_: &SearchEvent| events += 1;
            let r = search_problem(
                &cfg,
                p,
                policy.as_mut(),
                verifier.as_mut(),
                &mut sink,
                &CancelToken::new(),
            )
            .unwrap();
            let tree = r.tree.as_ref().unwrap();
            assert!(tree.depth() >= 3, "{}: depth {}", p.id, tree.depth());
            pruned += tree
                .nodes
                .iter()
                .filter(|n| matches!(n.status, NodeStatus::Pruned { .. }))
                .count();
            assert_eq!(r.compute.recomputed_tokens, 0, "{}", p.id);
            assert_eq!(
                r.compute.verifier_tokens,
                distinct_prm_tokens(tree),
                "{}: the PRM read a token twice",
                p.id
            );
            assert_eq!(r.compute.generations, 16);
            // Graded by the runner: the record, its candidates and the finished leaves agree.
            let chosen = &r.candidates[r.chosen.unwrap()];
            assert_eq!(chosen.answer, r.answer);
            assert_eq!(chosen.correct, Some(r.correct));
            for c in &r.candidates {
                assert_eq!(
                    tree.nodes[c.leaf].status,
                    NodeStatus::Finished {
                        answer: c.answer.clone(),
                        correct: c.correct
                    }
                );
            }
            assert!(events > tree.nodes.len());
        }
        assert!(pruned > 0, "no search pruned anything");
    }
}
