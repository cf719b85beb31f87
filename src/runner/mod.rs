//! Runs a [`RunConfig`]: loads the policy and verifier, walks the problems, runs the strategy,
//! writes the store and reports progress. The CLI and the window's worker both call it, so
//! there is one way to run an experiment.

use crate::backend::LocalPolicy;
use crate::data::{DatasetSpec, Problem};
use crate::engine::device::{parse_device, parse_dtype};
use crate::engine::{PromptFormat, SamplingParams};
use crate::search::{
    CancelToken, Cancelled, Policy, SearchContext, SearchEvent, SearchSink, Strategy, StrategySpec,
    Verifier,
};
use crate::store::{Record, RunDir, Summary};
use crate::verify::VerifierSpec;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

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
    /// The policy model directory.
    pub policy: PathBuf,
    /// The verifier.
    pub verifier: VerifierSpec,
    /// The strategy and its hyper-parameters.
    pub strategy: StrategySpec,
    /// Generations per problem.
    pub budget: usize,
    /// How to sample.
    pub sampling: SamplingParams,
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
        if self.budget == 0 {
            anyhow::bail!("budget must be at least 1");
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

/// The seed of one problem's search: a mix of the run's seed and the problem id, so a problem's
/// result does not depend on which other problems the run includes.
pub fn problem_seed(seed: u64, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in id.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64 finaliser
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// What a run reports while it goes.
#[derive(Debug, Clone)]
pub enum RunEvent {
    /// Problems to do.
    Started {
        /// How many.
        total: usize,
    },
    /// An event of the search on problem `index`.
    Search {
        /// Problem index in the run.
        index: usize,
        /// The event.
        event: SearchEvent,
    },
    /// Problem `index` is done and on disk.
    ProblemDone {
        /// Problem index in the run.
        index: usize,
        /// Its record.
        record: Box<Record>,
    },
}

/// Loads the policy a config names.
pub fn load_policy(config: &RunConfig) -> anyhow::Result<LocalPolicy> {
    let device = parse_device(&config.device)?;
    LocalPolicy::load_with(
        &config.policy,
        &device,
        config.prompt,
        parse_dtype(&config.dtype)?,
    )
    .with_context(|| format!("cannot load policy {}", config.policy.display()))
}

fn default_dtype() -> String {
    "f32".into()
}

/// Loads the verifier of `config`.
pub fn load_verifier(config: &RunConfig) -> anyhow::Result<Box<dyn Verifier + Send>> {
    let device = parse_device(&config.device)?;
    config
        .verifier
        .build(
            &config.policy,
            config.prompt,
            &device,
            &config.sampling.step_delimiter,
        )
        .with_context(|| format!("cannot load verifier {}", config.verifier))
}

/// Searches one problem and makes its record.
pub fn search_problem(
    config: &RunConfig,
    problem: &Problem,
    policy: &mut dyn Policy,
    verifier: &mut dyn Verifier,
    sink: &mut dyn SearchSink,
    cancel: &CancelToken,
) -> anyhow::Result<Record> {
    let seed = problem_seed(config.seed, &problem.id);
    let ctx = SearchContext {
        problem,
        policy,
        verifier,
        budget: config.budget,
        seed,
        sampling: &config.sampling,
        sink,
        cancel,
    };
    let outcome = config.strategy.run(ctx)?;
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
    })
}

/// The result of [`run`].
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The summary written to `summary.json`.
    pub summary: Summary,
    /// Whether the run stopped early on request.
    pub cancelled: bool,
}

/// Runs `config`, writing `out/config.json`, `out/records.jsonl` (a line per finished problem,
/// flushed at once) and `out/summary.json`. A cancelled run keeps every finished record and
/// writes a summary marked incomplete.
pub fn run(
    config: &RunConfig,
    out: &Path,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(RunEvent),
) -> anyhow::Result<RunResult> {
    config.validate()?;
    let mut policy = load_policy(config)?;
    let mut verifier = load_verifier(config)?;
    let problems = config.problems()?;
    if problems.is_empty() {
        anyhow::bail!(
            "no problems selected from dataset {} (levels {:?})",
            config.dataset,
            config.levels
        );
    }
    let mut dir = RunDir::create(out, config)?;
    let start = Instant::now();
    on_event(RunEvent::Started {
        total: problems.len(),
    });
    let mut records = Vec::with_capacity(problems.len());
    let mut cancelled = false;
    for (index, problem) in problems.iter().enumerate() {
        if cancel.is_cancelled() {
            cancelled = true;
            break;
        }
        let mut sink = |e: &SearchEvent| {
            on_event(RunEvent::Search {
                index,
                event: e.clone(),
            })
        };
        match search_problem(
            config,
            problem,
            &mut policy,
            verifier.as_mut(),
            &mut sink,
            cancel,
        ) {
            Ok(record) => {
                dir.append(&record)?;
                records.push(record.clone());
                on_event(RunEvent::ProblemDone {
                    index,
                    record: Box::new(record),
                });
            }
            Err(e) if e.is::<Cancelled>() => {
                cancelled = true;
                break;
            }
            Err(e) => {
                let summary = Summary::from_records(&records, false, start.elapsed().as_secs_f64());
                dir.write_summary(&summary)?;
                return Err(e.context(format!(
                    "problem {} failed; {} finished records kept in {}",
                    problem.id,
                    records.len(),
                    out.display()
                )));
            }
        }
    }
    let summary = Summary::from_records(&records, !cancelled, start.elapsed().as_secs_f64());
    dir.write_summary(&summary)?;
    Ok(RunResult { summary, cancelled })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_seeds_are_stable_and_distinct() {
        assert_eq!(problem_seed(0, "toy-L1-000"), problem_seed(0, "toy-L1-000"));
        assert_ne!(problem_seed(0, "toy-L1-000"), problem_seed(1, "toy-L1-000"));
        assert_ne!(problem_seed(0, "toy-L1-000"), problem_seed(0, "toy-L1-001"));
    }
}
