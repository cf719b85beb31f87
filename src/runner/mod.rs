//! Runs experiments: a [`RunConfig`] is one strategy at one budget; [`sweep`] expands a
//! [`sweep::SweepConfig`] into runs and writes them (`thinkscale run` is a sweep of one, see
//! [`sweep::SweepConfig::single`]); [`optimal`] deploys a sweep's compute-optimal table.
//! [`search_problem`] searches one problem and grades it: the sweeps and the window's worker
//! both call it, so there is one way to run a strategy.

pub mod judge;
pub mod optimal;
pub mod parallel;
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
    /// Only these problems, by id (empty: all): a difficulty bin of an earlier sweep, say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problem_ids: Vec<String>,
    /// At most this many problems (after the level and id filters), taken in dataset order.
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
        if self.strategy.kind().is_stepwise() && self.step_delimiter.is_empty() {
            anyhow::bail!("a step-wise search needs a non-empty step delimiter");
        }
        self.strategy
            .validate(self.budget)
            .map_err(anyhow::Error::msg)?;
        // Before the policy loads or a server is asked anything.
        self.verifier.check_policy(&self.policy)?;
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
            .filter(|p| self.problem_ids.is_empty() || self.problem_ids.contains(&p.id))
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
    config.verifier.check_policy(&config.policy)?;
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
    // Each search is charged its own compute, whatever the policy and the verifier ran before.
    policy.start_search();
    verifier.start_search();
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
            problem_ids: Vec::new(),
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
    fn adaptive_majority_on_the_toy_model_draws_majoritys_first_samples_and_stops_cleanly() {
        let adaptive = config(
            StrategyKind::AdaptiveMajority
                .with(Default::default(), 1, 1, 0)
                .with_adaptive(4, crate::search::spec::Confidence::new(0.9).unwrap()),
            VerifierSpec::ToyPrm,
            32,
        );
        let majority = config(StrategySpec::Majority, VerifierSpec::ToyPrm, 32);
        let problems = adaptive.problems().unwrap();
        let mut policy = load_policy(&adaptive).unwrap();
        let mut verifier = load_verifier(&adaptive).unwrap();
        let cancel = CancelToken::new();
        let mut used = Vec::new();
        for problem in &problems[..6] {
            let mut sink = |_: &crate::search::SearchEvent| {};
            let a = search_problem(
                &adaptive,
                problem,
                policy.as_mut(),
                verifier.as_mut(),
                &mut sink,
                &cancel,
            )
            .unwrap();
            let m = search_problem(
                &majority,
                problem,
                policy.as_mut(),
                verifier.as_mut(),
                &mut sink,
                &cancel,
            )
            .unwrap();
            // Round 1 draws from the problem seed's first streams: majority's first samples.
            let text = |r: &Record, i: usize| -> Vec<String> {
                r.candidates[i]
                    .steps
                    .iter()
                    .map(|s| s.text.clone())
                    .collect()
            };
            for i in 0..4 {
                assert_eq!(text(&a, i), text(&m, i), "{} sample {i}", problem.id);
            }
            let n = a.candidates.len();
            assert!((4..=32).contains(&n) && n.is_multiple_of(4), "{n}");
            assert_eq!(a.compute.generations, n as u64);
            // The prompt runs once, in round 1; later rounds continue it from the prefix cache
            // (as majority's one round does for its samples). A later round's sample that
            // writes what an earlier one wrote runs those tokens again (decoding does not look
            // its steps up in the cache; samples of one round that coincide run side by side
            // and are not counted): recomputed, at most the later rounds' tokens.
            assert_eq!(a.compute.prompt_tokens, m.compute.prompt_tokens);
            assert!(a.compute.prompt_tokens_cached >= m.compute.prompt_tokens_cached);
            let first: u64 = a.candidates[..4].iter().map(|c| c.tokens as u64).sum();
            assert!(a.compute.recomputed_tokens <= a.compute.generated_tokens - first);
            used.push(n);
        }
        // The easy toy problems settle before the budget; not every one at once.
        assert!(used.iter().any(|&n| n < 32), "{used:?}");

        // Cancelled as round 1 ends: a partial tree whose finished samples are whole.
        let token = CancelToken::new();
        let mut events = Vec::new();
        let mut sink = |e: &crate::search::SearchEvent| {
            if matches!(e, crate::search::SearchEvent::Progress { done: 4, .. }) {
                token.cancel();
            }
            events.push(e.clone());
        };
        let err = search_problem(
            &config(
                StrategyKind::AdaptiveMajority
                    .with(Default::default(), 1, 1, 0)
                    .with_adaptive(4, crate::search::spec::Confidence::new(1.0).unwrap()),
                VerifierSpec::ToyPrm,
                32,
            ),
            &problems[0],
            policy.as_mut(),
            verifier.as_mut(),
            &mut sink,
            &token,
        )
        .unwrap_err();
        assert!(err.is::<crate::search::Cancelled>(), "{err:#}");
        let mut tree = SearchTree::new("");
        events.iter().for_each(|e| tree.apply(e));
        let finished = tree
            .nodes
            .iter()
            .filter(|n| matches!(n.status, crate::search::NodeStatus::Finished { .. }))
            .count();
        assert!((1..=4).contains(&finished), "{finished}");
        assert!(tree.nodes[1..].iter().all(|n| n.score.is_some()));
        assert!(tree.nodes.iter().all(|n| n.round <= 1));
    }

    /// Searches `problem`, cancelling as soon as the first node is scored, and checks that the
    /// search stops with `Cancelled` and that its events hold round 1 whole: every node scored,
    /// none from a later round.
    fn cancelled_after_round_one(
        cfg: &RunConfig,
        problem: &Problem,
        policy: &mut dyn Policy,
        verifier: &mut dyn Verifier,
    ) {
        let token = CancelToken::new();
        let mut events = Vec::new();
        let mut sink = |e: &crate::search::SearchEvent| {
            if matches!(e, crate::search::SearchEvent::NodeScored { .. }) {
                token.cancel();
            }
            events.push(e.clone());
        };
        let err = search_problem(cfg, problem, policy, verifier, &mut sink, &token).unwrap_err();
        assert!(err.is::<crate::search::Cancelled>(), "{err:#}");
        let mut tree = SearchTree::new("");
        events.iter().for_each(|e| tree.apply(e));
        assert!(tree.nodes.len() > 1);
        assert!(tree.nodes[1..]
            .iter()
            .all(|n| n.round == 1 && n.score.is_some()));
    }

    #[test]
    fn rebase_and_particles_on_the_toy_model_run_each_prefix_once_and_stop_cleanly() {
        for kind in [StrategyKind::Rebase, StrategyKind::Particles] {
            let cfg = config(
                kind.with(Default::default(), 1, 40, 0),
                VerifierSpec::ToyPrm,
                16,
            );
            let problems = cfg.problems().unwrap();
            let mut policy = load_policy(&cfg).unwrap();
            let mut verifier = load_verifier(&cfg).unwrap();
            let cancel = CancelToken::new();
            for problem in problems.iter().filter(|p| p.level == Some(4)).take(3) {
                let mut sink = |_: &crate::search::SearchEvent| {};
                let r = search_problem(
                    &cfg,
                    problem,
                    policy.as_mut(),
                    verifier.as_mut(),
                    &mut sink,
                    &cancel,
                )
                .unwrap();
                // Every continued prefix continues from the prefix cache: nothing runs twice.
                assert_eq!(r.compute.recomputed_tokens, 0, "{kind:?} {}", problem.id);
                // Each finished candidate spends one of the N: N of them in the end.
                assert_eq!(r.candidates.len(), 16, "{kind:?} {}", problem.id);
                let tree = r.tree.as_ref().unwrap();
                assert_eq!(distinct_prm_tokens(tree), r.compute.verifier_tokens);
            }
            // Cancelled once round 1 is scored: the partial tree holds round 1 whole.
            cancelled_after_round_one(&cfg, &problems[3], policy.as_mut(), verifier.as_mut());
        }
    }

    #[test]
    fn mcts_on_the_toy_model_runs_each_prefix_once_and_stops_cleanly() {
        use crate::search::mcts::{MctsParams, MctsValue, TreeRule};
        let rollout = MctsParams {
            tree_rule: TreeRule::Uct,
            value: MctsValue::Rollout,
            ..Default::default()
        };
        for params in [MctsParams::default(), rollout] {
            let cfg = config(
                StrategyKind::Mcts
                    .with(Default::default(), 1, 40, 0)
                    .with_mcts(params),
                VerifierSpec::ToyPrm,
                16,
            );
            let problems = cfg.problems().unwrap();
            let mut policy = load_policy(&cfg).unwrap();
            let mut verifier = load_verifier(&cfg).unwrap();
            let cancel = CancelToken::new();
            for problem in problems.iter().filter(|p| p.level == Some(4)).take(3) {
                let mut selected = Vec::new();
                let mut sink = |e: &crate::search::SearchEvent| {
                    if let crate::search::SearchEvent::Selected { paths, .. } = e {
                        selected.push(paths.clone());
                    }
                };
                let r = search_problem(
                    &cfg,
                    problem,
                    policy.as_mut(),
                    verifier.as_mut(),
                    &mut sink,
                    &cancel,
                )
                .unwrap();
                let what = format!("{} {}", params.label(), problem.id);
                // Every expanded leaf continues from the prefix cache: nothing runs twice. A
                // rollout's child is a prefix that ends inside its rollout, and the cache keeps
                // the logits after a sample's first step, so expanding it runs nothing again
                // either. (Samples that retrace an earlier rollout's tokens are sampling
                // again, which `recomputed_tokens` counts apart.)
                assert_eq!(r.compute.recomputed_prefix_tokens, 0, "{what}");
                if params.value == MctsValue::Step {
                    assert_eq!(r.compute.recomputed_tokens, 0, "{what}");
                } else {
                    // The check means something: rollout children were expanded.
                    let below_root = selected.iter().flatten().filter(|p| p.len() > 1).count();
                    assert!(below_root > 0, "{what}");
                }
                // The search ends at N finished candidates (keeping N), or at its round cap.
                assert!((1..=16).contains(&r.candidates.len()), "{what}");
                let tree = r.tree.as_ref().unwrap();
                assert_eq!(
                    distinct_prm_tokens(tree),
                    r.compute.verifier_tokens,
                    "{what}"
                );
                // Each node of the search carries its visits and Q; the root saw every
                // simulation.
                assert!(tree.nodes[0].visits >= r.candidates.len(), "{what}");
                assert!(tree.nodes[0].q.is_some_and(|q| (0.0..=1.0).contains(&q)));
            }
            // Cancelled once round 1 is scored: the partial tree holds round 1 whole.
            cancelled_after_round_one(&cfg, &problems[3], policy.as_mut(), verifier.as_mut());
        }
    }

    #[test]
    fn a_search_pays_for_its_own_verifier_reads_whatever_ran_before_it() {
        // Issue 28: the toy PRM's memo of scored prefixes outlived a search, so beam search
        // right after best-of-N on the same problem (as in the window) was charged 0 verifier
        // tokens; the policy's prefix cache, likewise, made its prompt free and counted its
        // steps as recomputed. Each search starts afresh: the same search after another one,
        // or after itself, is charged exactly what it costs alone.
        let beam = config(
            StrategyKind::Beam.with(Default::default(), 4, 40, 0),
            VerifierSpec::ToyPrm,
            16,
        );
        let before = config(
            StrategyKind::WeightedBestOfN.with(Default::default(), 1, 40, 0),
            VerifierSpec::ToyPrm,
            16,
        );
        let problem = beam.problems().unwrap().remove(0);
        let mut policy = load_policy(&beam).unwrap();
        let mut sink = |_: &crate::search::SearchEvent| {};
        let cancel = CancelToken::new();
        let mut run = |cfg: &RunConfig, verifier: &mut dyn Verifier| {
            search_problem(cfg, &problem, policy.as_mut(), verifier, &mut sink, &cancel)
                .unwrap()
                .compute
        };
        let alone = run(&beam, load_verifier(&beam).unwrap().as_mut());
        assert!(alone.verifier_tokens > 0 && alone.verifier_flops > 0.0);
        let mut verifier = load_verifier(&beam).unwrap();
        run(&before, verifier.as_mut());
        assert_eq!(run(&beam, verifier.as_mut()), alone);
        assert_eq!(run(&beam, verifier.as_mut()), alone);
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
