//! Sweeps: strategies x budgets x seeds over one dataset, as one resumable experiment.
//!
//! A [`SweepConfig`] expands into runs ([`SweepRun`]):
//! - **bank** (per seed): the sampling strategies (majority, best-of-N, weighted best-of-N)
//!   share one bank of samples per problem drawn at the largest budget and scored once; every
//!   smaller budget is read from it by subsampling (see `analysis::bank`);
//! - **bins** (once, with its own seed): `bin_samples` samples per problem whose pass@1 gives
//!   the oracle difficulty bins;
//! - **search** (per tree-search setting, budget and seed): beam search, lookahead and DVTS
//!   run afresh at every budget.
//!
//! The sweep directory holds `sweep.json` (the configuration, each model's path and sha256, the
//! version) and `records.jsonl`: one line per (run, problem), appended and flushed as each
//! finishes, each holding the whole record with its tree. A killed sweep loses at most the line
//! being written; resuming reads what is there (a torn last line is dropped), skips every
//! (run, problem) already done, and goes on: runs are seeded per (run, problem), so a resumed
//! sweep's records equal an uninterrupted one's.

use super::judge::Judging;
use super::{load_policy, load_verifier, search_problem, RunConfig};
use crate::backend::{Policy, RemoteOptions};
use crate::data::revision::RevisionTemplate;
use crate::data::{DatasetSpec, Problem};
use crate::engine::{PromptFormat, SamplingParams};
use crate::io::{read_jsonl_resumable, rewrite_jsonl, write_json, JsonlAppender};
use crate::search::adaptive;
use crate::search::mcts::MctsParams;
use crate::search::revisions::RevisionSelection;
use crate::search::select::Aggregation;
use crate::search::spec::{
    Confidence, ResampleTemperature, Temperature, DEFAULT_BEAM_WIDTH, DEFAULT_MAX_ROUNDS,
};
use crate::search::{CancelToken, Cancelled, SearchEvent, StrategyKind, StrategySpec};
use crate::store::Record;
use crate::verify::VerifierSpec;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A beam width: a number, or the square root of each budget (`sqrt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BeamWidth {
    /// M itself.
    Fixed(usize),
    /// M = floor(sqrt(N)) at budget N.
    Sqrt(SqrtTag),
}

/// The word `sqrt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqrtTag {
    /// `sqrt`.
    Sqrt,
}

impl BeamWidth {
    /// Parses `4` or `sqrt`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "sqrt" => Ok(Self::Sqrt(SqrtTag::Sqrt)),
            n => n
                .parse()
                .map(Self::Fixed)
                .map_err(|_| format!("beam width '{n}': a number or sqrt")),
        }
    }

    /// M at budget N.
    pub fn at(self, budget: usize) -> usize {
        match self {
            Self::Fixed(m) => m,
            Self::Sqrt(_) => budget.isqrt().max(1),
        }
    }
}

impl std::fmt::Display for BeamWidth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fixed(m) => write!(f, "{m}"),
            Self::Sqrt(_) => write!(f, "sqrt"),
        }
    }
}

/// Everything that determines a sweep; written as `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// Which problems.
    pub dataset: DatasetSpec,
    /// Only these levels (empty: all).
    #[serde(default)]
    pub levels: Vec<u8>,
    /// Only these problems, by id (empty: all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problem_ids: Vec<String>,
    /// At most this many problems.
    #[serde(default)]
    pub limit: Option<usize>,
    /// The policy: a model, or a server (`remote:http://HOST:PORT`).
    pub policy: PathBuf,
    /// How to talk to a remote policy's server.
    #[serde(default, skip_serializing_if = "super::is_default")]
    pub remote: RemoteOptions,
    /// The verifier.
    pub verifier: VerifierSpec,
    /// The strategies (their parameters come from the fields below).
    pub strategies: Vec<StrategyKind>,
    /// Generation budgets N.
    pub budgets: Vec<usize>,
    /// Beam widths of the tree searches.
    #[serde(default = "default_widths")]
    pub beam_widths: Vec<BeamWidth>,
    /// Lookaheads k of lookahead search.
    #[serde(default = "default_lookaheads")]
    pub lookaheads: Vec<usize>,
    /// Parallel chains P of sequential revisions (a number, or `sqrt`: P = floor(sqrt(N))),
    /// each of N/P attempts.
    #[serde(default = "default_chains")]
    pub chains: Vec<BeamWidth>,
    /// How sequential revisions choose their answer.
    #[serde(default)]
    pub revision_selection: RevisionSelection,
    /// How sequential revisions lay out earlier attempts.
    #[serde(default)]
    pub revision_template: RevisionTemplate,
    /// Adaptive majority's batch and stopping confidence (left out of `sweep.json` at their
    /// defaults).
    #[serde(default, skip_serializing_if = "super::is_default")]
    pub adaptive: AdaptiveParams,
    /// REBASE's softmax temperature (left out of `sweep.json` at its default).
    #[serde(default, skip_serializing_if = "super::is_default")]
    pub rebase_temperature: Temperature,
    /// Particle filtering's resampling temperature (left out of `sweep.json` at its default).
    #[serde(default, skip_serializing_if = "super::is_default")]
    pub resample_temperature: ResampleTemperature,
    /// MCTS's settings: one series per entry (left out of `sweep.json` at the one default).
    #[serde(default = "default_mcts", skip_serializing_if = "is_default_mcts")]
    pub mcts: Vec<MctsParams>,
    /// Rounds of the tree searches before survivors run to the end.
    #[serde(default = "default_rounds")]
    pub max_rounds: usize,
    /// How step scores become a solution's score.
    #[serde(default)]
    pub aggregation: Aggregation,
    /// Seeds; every run is repeated per seed.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Random subsets per budget when reading the bank.
    #[serde(default = "default_draws")]
    pub draws: usize,
    /// Samples per problem for the oracle difficulty bins (0: bins from the bank).
    #[serde(default = "default_bin_samples")]
    pub bin_samples: usize,
    /// How to sample.
    #[serde(default)]
    pub sampling: SamplingParams,
    /// The text that ends a step.
    #[serde(default = "default_delimiter")]
    pub step_delimiter: String,
    /// Prompt format.
    #[serde(default)]
    pub prompt: PromptFormat,
    /// Device.
    #[serde(default = "default_device")]
    pub device: String,
    /// Dense weight type.
    #[serde(default = "default_dtype")]
    pub dtype: String,
    /// A larger policy for the FLOPs exchange: it answers every problem once, greedily, and
    /// the report compares it per difficulty bin with the small policy's compute-optimal
    /// accuracy at the budget that spends as many FLOPs.
    #[serde(default)]
    pub larger_policy: Option<PathBuf>,
    /// A larger model for the FLOPs exchange known only by its numbers (e.g. a published
    /// model's size and accuracy), instead of `larger_policy`.
    #[serde(default)]
    pub larger_typed: Option<TypedModel>,
    /// The ratios R = D_inference / D_pretrain at which the FLOPs exchange is reported.
    #[serde(default = "default_exchange_ratios")]
    pub exchange_ratios: Vec<f64>,
    /// Whether the sampling strategies share one bank of samples read at every budget (a
    /// sweep), or run afresh at each budget like the tree searches (`run`, a sweep of one).
    #[serde(default = "default_shared_bank")]
    pub shared_bank: bool,
    /// Verifiers that judge the bank's samples and the searches' candidates beside the sweep's
    /// verifier, without steering:
    /// their step scores are kept in the records (`thinkscale evaluate --verifiers`).
    #[serde(default)]
    pub judges: Vec<VerifierSpec>,
    /// Also answer every problem once greedily with the policy (the model card's column).
    #[serde(default)]
    pub greedy: bool,
}

fn default_shared_bank() -> bool {
    true
}

/// The parameters of adaptive majority in a sweep (see `search::adaptive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveParams {
    /// Samples drawn per round.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// The stopping confidence.
    #[serde(default)]
    pub confidence: Confidence,
}

fn default_batch() -> usize {
    adaptive::DEFAULT_BATCH
}

impl Default for AdaptiveParams {
    fn default() -> Self {
        Self {
            batch: default_batch(),
            confidence: Confidence::default(),
        }
    }
}

/// A model of the FLOPs exchange typed in rather than run: its size, pretraining tokens, and
/// greedy accuracy on the sweep's problems — all of them, or all and then each of the 5
/// difficulty bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypedModel {
    /// Parameters.
    pub params: u64,
    /// Pretraining tokens (unknown: taken as the policy's).
    #[serde(default)]
    pub pretrain_tokens: Option<u64>,
    /// Greedy accuracy: `[all]` or `[all, bin 1, ..., bin 5]`.
    pub accuracy: Vec<f64>,
}

impl TypedModel {
    /// Checks it, naming the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.params == 0 {
            anyhow::bail!("larger_typed.params: at least 1");
        }
        if self.accuracy.len() != 1 && self.accuracy.len() != 6 {
            anyhow::bail!(
                "larger_typed.accuracy: one value (all problems) or six (all, then bins 1 to 5), got {}",
                self.accuracy.len()
            );
        }
        if let Some(a) = self.accuracy.iter().find(|a| !(0.0..=1.0).contains(*a)) {
            anyhow::bail!("larger_typed.accuracy: {a} is not in [0, 1]");
        }
        Ok(())
    }
}

/// The paper's three ratios R = D_inference / D_pretrain (Snell et al. 2024, figure 9).
pub const PAPER_EXCHANGE_RATIOS: [f64; 3] = [0.16, 0.79, 22.0];

fn default_exchange_ratios() -> Vec<f64> {
    PAPER_EXCHANGE_RATIOS.to_vec()
}

fn default_chains() -> Vec<BeamWidth> {
    vec![BeamWidth::Fixed(1)]
}

fn default_mcts() -> Vec<MctsParams> {
    vec![MctsParams::default()]
}

fn is_default_mcts(m: &[MctsParams]) -> bool {
    m == default_mcts().as_slice()
}

fn default_widths() -> Vec<BeamWidth> {
    vec![BeamWidth::Fixed(DEFAULT_BEAM_WIDTH)]
}
fn default_lookaheads() -> Vec<usize> {
    vec![1]
}
fn default_rounds() -> usize {
    DEFAULT_MAX_ROUNDS
}
fn default_seeds() -> Vec<u64> {
    vec![0]
}
fn default_draws() -> usize {
    1000
}
fn default_bin_samples() -> usize {
    64
}
fn default_delimiter() -> String {
    "\n".into()
}
fn default_device() -> String {
    "cpu".into()
}
fn default_dtype() -> String {
    "f32".into()
}

/// Seed offset of the bins run, so its samples are not the bank's.
const BINS_SEED: u64 = 0x6269_6e73;

/// A curve of a sweep: its label, its strategy, and per budget the strategy run there.
pub type SeriesSetting = (String, StrategyKind, Vec<(usize, StrategySpec)>);

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SweepRun {
    /// The bank of samples of the sampling strategies.
    Bank {
        /// Samples per problem (the largest budget).
        budget: usize,
        /// Seed.
        seed: u64,
    },
    /// The samples that give the oracle difficulty bins.
    Bins {
        /// Samples per problem.
        budget: usize,
    },
    /// The larger policy of the FLOPs exchange: one greedy answer per problem.
    Larger,
    /// The policy's own greedy answer.
    Greedy,
    /// A tree search at one budget.
    Search {
        /// The strategy with its parameters.
        strategy: StrategySpec,
        /// The budget N.
        budget: usize,
        /// Seed.
        seed: u64,
    },
}

impl std::fmt::Display for SweepRun {
    /// The run in the CLI's words, for messages: `majority, budget 2, seed 0`,
    /// `beam (M = 4, last), budget 16, seed 1`, `bank of samples, budget 64, seed 0`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepRun::Bank { budget, seed } => {
                write!(f, "bank of samples, budget {budget}, seed {seed}")
            }
            SweepRun::Bins { budget } => write!(f, "difficulty-bin samples, budget {budget}"),
            SweepRun::Larger => f.write_str("larger policy, greedy"),
            SweepRun::Greedy => f.write_str("greedy"),
            SweepRun::Search {
                strategy,
                budget,
                seed,
            } => write!(f, "{strategy}, budget {budget}, seed {seed}"),
        }
    }
}

/// One line of `records.jsonl`: the run, and beside it the fields of its record of one
/// problem (so a line reads like a line of any run's records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    /// Which run.
    pub run: SweepRun,
    /// Its record of one problem.
    #[serde(flatten)]
    pub record: Record,
}

impl SweepConfig {
    /// The sweep of one run: `config`'s strategy at its budget and seed, no bins, the sampling
    /// strategies run as they are rather than read from a bank. Its only run's configuration
    /// is `config` itself.
    pub fn single(config: &RunConfig) -> Self {
        let (beam_width, max_rounds, lookahead) = match config.strategy {
            StrategySpec::Beam {
                beam_width,
                max_rounds,
                ..
            }
            | StrategySpec::Dvts {
                beam_width,
                max_rounds,
                ..
            } => (beam_width, max_rounds, 1),
            StrategySpec::Lookahead {
                beam_width,
                max_rounds,
                lookahead,
                ..
            } => (beam_width, max_rounds, lookahead),
            StrategySpec::Rebase { max_rounds, .. }
            | StrategySpec::Particles { max_rounds, .. } => (DEFAULT_BEAM_WIDTH, max_rounds, 1),
            _ => (DEFAULT_BEAM_WIDTH, DEFAULT_MAX_ROUNDS, 1),
        };
        let (chains, revision_selection, revision_template) = match config.strategy {
            StrategySpec::Revisions {
                chains,
                selection,
                template,
                ..
            } => (chains, selection, template),
            _ => (1, RevisionSelection::default(), RevisionTemplate::default()),
        };
        let adaptive = match config.strategy {
            StrategySpec::AdaptiveMajority { batch, confidence } => {
                AdaptiveParams { batch, confidence }
            }
            _ => AdaptiveParams::default(),
        };
        let rebase_temperature = match config.strategy {
            StrategySpec::Rebase { temperature, .. } => temperature,
            _ => Temperature::default(),
        };
        let resample_temperature = match config.strategy {
            StrategySpec::Particles { temperature, .. } => temperature,
            _ => ResampleTemperature::default(),
        };
        let mcts = vec![config.strategy.mcts_params().unwrap_or_default()];
        Self {
            dataset: config.dataset.clone(),
            levels: config.levels.clone(),
            problem_ids: config.problem_ids.clone(),
            limit: config.limit,
            policy: config.policy.clone(),
            remote: config.remote.clone(),
            verifier: config.verifier.clone(),
            strategies: vec![config.strategy.kind()],
            budgets: vec![config.budget],
            beam_widths: vec![BeamWidth::Fixed(beam_width)],
            lookaheads: vec![lookahead],
            chains: vec![BeamWidth::Fixed(chains)],
            revision_selection,
            revision_template,
            adaptive,
            rebase_temperature,
            resample_temperature,
            mcts,
            max_rounds,
            aggregation: config.strategy.aggregation(),
            seeds: vec![config.seed],
            draws: 1,
            bin_samples: 0,
            sampling: config.sampling.clone(),
            step_delimiter: config.step_delimiter.clone(),
            prompt: config.prompt,
            device: config.device.clone(),
            dtype: config.dtype.clone(),
            larger_policy: None,
            larger_typed: None,
            exchange_ratios: default_exchange_ratios(),
            shared_bank: false,
            judges: Vec::new(),
            greedy: false,
        }
    }

    /// Checks what a sweep cannot start with, naming the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.strategies.is_empty() {
            anyhow::bail!("strategies: name at least one");
        }
        if self.budgets.is_empty() || self.budgets.contains(&0) {
            anyhow::bail!("budgets: at least one, each at least 1");
        }
        for &budget in self
            .budgets
            .iter()
            .chain((self.bin_samples > 0).then_some(&self.bin_samples))
        {
            crate::search::check_budget(budget).map_err(|why| anyhow::anyhow!("budgets: {why}"))?;
        }
        if self.seeds.is_empty() {
            anyhow::bail!("seeds: at least one");
        }
        if self.draws == 0 {
            anyhow::bail!("draws: at least 1");
        }
        if self.limit == Some(0) {
            anyhow::bail!("limit: at least 1");
        }
        if let Some(r) = self
            .exchange_ratios
            .iter()
            .find(|r| !r.is_finite() || **r <= 0.0)
        {
            anyhow::bail!("exchange_ratios: {r} is not a positive number");
        }
        if let Some(p) = &self.larger_policy {
            if !p.exists() {
                anyhow::bail!("larger_policy: {} does not exist", p.display());
            }
            if self.larger_typed.is_some() {
                anyhow::bail!("larger_typed: give a larger_policy or a typed-in one, not both");
            }
        }
        if let Some(t) = &self.larger_typed {
            t.validate()?;
        }
        if self.strategies.contains(&StrategyKind::Mcts) {
            if self.mcts.is_empty() {
                anyhow::bail!("mcts: MCTS needs at least one setting");
            }
            for (i, m) in self.mcts.iter().enumerate() {
                m.validate()
                    .map_err(|why| anyhow::anyhow!("mcts[{i}]: {why}"))?;
            }
        }
        if self.strategies.contains(&StrategyKind::Lookahead) && self.lookaheads.is_empty() {
            anyhow::bail!("lookaheads: lookahead search needs at least one k");
        }
        let runs = self.runs();
        for &kind in self.strategies.iter().filter(|k| !k.is_parallel_sampling()) {
            let any = runs
                .iter()
                .any(|r| matches!(r, SweepRun::Search { strategy, .. } if strategy.kind() == kind));
            if !any {
                let (field, what) = if kind == StrategyKind::Revisions {
                    ("chains", "chain count")
                } else {
                    ("beam_widths", "beam width")
                };
                anyhow::bail!(
                    "{field}: {} has no run: no {what} of {:?} divides a budget of {:?}",
                    kind.as_str(),
                    self.widths(kind)
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>(),
                    self.budgets
                );
            }
        }
        for r in &runs {
            self.run_config(r).validate()?;
        }
        for judge in &self.judges {
            judge.check_policy(&self.policy)?;
        }
        Ok(())
    }

    /// A strategy's second axis: the lookaheads k of lookahead search, the indices of the MCTS
    /// settings, or one setting.
    fn ks(&self, kind: StrategyKind) -> Vec<usize> {
        match kind {
            StrategyKind::Lookahead => self.lookaheads.clone(),
            StrategyKind::Mcts => (0..self.mcts.len().max(1)).collect(),
            _ => vec![0],
        }
    }

    /// What a strategy's settings divide the budget by: its chains P (revisions), its beam
    /// widths M (tree searches), or nothing (one setting at every budget).
    fn widths(&self, kind: StrategyKind) -> &[BeamWidth] {
        const ONE: &[BeamWidth] = &[BeamWidth::Fixed(1)];
        match kind {
            StrategyKind::Revisions => &self.chains,
            k if k.is_tree_search() => &self.beam_widths,
            _ => ONE,
        }
    }

    /// The strategy `kind` with M (or P) = `m` and lookahead `k` (for MCTS, `k` indexes its
    /// settings), the rest from this sweep.
    fn setting(&self, kind: StrategyKind, m: usize, k: usize) -> StrategySpec {
        let mcts = self.mcts.get(k).copied().unwrap_or_default();
        kind.with(self.aggregation, m, self.max_rounds, k)
            .with_mcts(mcts)
            .with_revisions(m, self.revision_selection, self.revision_template)
            .with_adaptive(self.adaptive.batch, self.adaptive.confidence)
            .with_rebase(self.rebase_temperature)
            .with_particles(self.resample_temperature)
    }

    /// The runs, in the order they execute: the bins, the banks, then the tree searches by
    /// budget. Tree-search settings whose beam width does not divide a budget are skipped.
    pub fn runs(&self) -> Vec<SweepRun> {
        let mut out = Vec::new();
        let max = self.budgets.iter().copied().max().unwrap_or(1);
        let sampling = self.shared_bank && self.strategies.iter().any(|k| k.is_parallel_sampling());
        if self.bin_samples > 0 {
            out.push(SweepRun::Bins {
                budget: self.bin_samples,
            });
        }
        if sampling {
            for &seed in &self.seeds {
                out.push(SweepRun::Bank { budget: max, seed });
            }
        }
        if self.greedy {
            out.push(SweepRun::Greedy);
        }
        if self.larger_policy.is_some() {
            out.push(SweepRun::Larger);
        }
        let mut budgets = self.budgets.clone();
        budgets.sort_unstable();
        budgets.dedup();
        for &n in &budgets {
            let mut seen = HashSet::new();
            for &kind in &self.strategies {
                if kind.is_parallel_sampling() {
                    if !self.shared_bank {
                        let spec = kind.with(self.aggregation, 1, self.max_rounds, 0);
                        for &seed in &self.seeds {
                            out.push(SweepRun::Search {
                                strategy: spec,
                                budget: n,
                                seed,
                            });
                        }
                    }
                    continue;
                }
                for w in self.widths(kind) {
                    let m = w.at(n);
                    if m == 0 || m > n || !n.is_multiple_of(m) {
                        continue;
                    }
                    let ks = self.ks(kind);
                    for k in ks {
                        let spec = self.setting(kind, m, k);
                        if !seen.insert(spec) {
                            continue;
                        }
                        for &seed in &self.seeds {
                            out.push(SweepRun::Search {
                                strategy: spec,
                                budget: n,
                                seed,
                            });
                        }
                    }
                }
            }
        }
        out
    }

    /// The curves the runs make, as [`Self::runs`] expands them: per tree-search setting (and
    /// per sampling strategy run afresh, without a shared bank) its label and, per budget, the
    /// run's strategy. A beam width of `sqrt` is one setting whose M grows with the budget.
    pub fn series_settings(&self) -> Vec<SeriesSetting> {
        let mut budgets = self.budgets.clone();
        budgets.sort_unstable();
        budgets.dedup();
        let mut out = Vec::new();
        for &kind in &self.strategies {
            if kind.is_parallel_sampling() {
                if !self.shared_bank {
                    let spec = kind.with(self.aggregation, 1, self.max_rounds, 0);
                    out.push((
                        spec.to_string(),
                        kind,
                        budgets.iter().map(|&n| (n, spec)).collect(),
                    ));
                }
                continue;
            }
            let ks = self.ks(kind);
            for w in self.widths(kind) {
                for &k in &ks {
                    let members: Vec<(usize, StrategySpec)> = budgets
                        .iter()
                        .filter_map(|&n| {
                            let m = w.at(n);
                            (m > 0 && m <= n && n.is_multiple_of(m))
                                .then(|| (n, self.setting(kind, m, k)))
                        })
                        .collect();
                    let Some((n0, spec0)) = members.first().copied() else {
                        continue;
                    };
                    let label = match w {
                        BeamWidth::Fixed(_) => spec0.to_string(),
                        BeamWidth::Sqrt(_) => {
                            let name = if kind == StrategyKind::Revisions {
                                "P"
                            } else {
                                "M"
                            };
                            spec0.to_string().replacen(
                                &format!("{name} = {}", w.at(n0)),
                                &format!("{name} = √N"),
                                1,
                            )
                        }
                    };
                    out.push((label, kind, members));
                }
            }
        }
        out
    }

    /// The run configuration of one run.
    pub fn run_config(&self, run: &SweepRun) -> RunConfig {
        let (strategy, budget, seed) = match run {
            SweepRun::Bank { budget, seed } => (
                StrategySpec::WeightedBestOfN {
                    aggregation: self.aggregation,
                },
                *budget,
                *seed,
            ),
            SweepRun::Bins { budget } => (
                StrategySpec::WeightedBestOfN {
                    aggregation: self.aggregation,
                },
                *budget,
                BINS_SEED,
            ),
            SweepRun::Larger | SweepRun::Greedy => (StrategySpec::Majority, 1, 0),
            SweepRun::Search {
                strategy,
                budget,
                seed,
            } => (*strategy, *budget, *seed),
        };
        let (policy, sampling) = match (run, &self.larger_policy) {
            (SweepRun::Larger, Some(larger)) => (
                larger.clone(),
                SamplingParams {
                    temperature: 0.0,
                    ..self.sampling.clone()
                },
            ),
            (SweepRun::Greedy, _) => (
                self.policy.clone(),
                SamplingParams {
                    temperature: 0.0,
                    ..self.sampling.clone()
                },
            ),
            _ => (self.policy.clone(), self.sampling.clone()),
        };
        // A larger policy on a server is that server's only model.
        let remote = match run {
            SweepRun::Larger => RemoteOptions {
                model: None,
                params: None,
                ..self.remote.clone()
            },
            _ => self.remote.clone(),
        };
        RunConfig {
            dataset: self.dataset.clone(),
            levels: self.levels.clone(),
            problem_ids: self.problem_ids.clone(),
            limit: self.limit,
            policy,
            remote,
            verifier: self.verifier.clone(),
            strategy,
            budget,
            sampling,
            step_delimiter: self.step_delimiter.clone(),
            prompt: self.prompt,
            seed,
            device: self.device.clone(),
            dtype: self.dtype.clone(),
            thinkscale_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// A model file's identity: where it is and the sha256 of its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIdentity {
    /// What it is for (`policy`, `verifier`).
    pub role: String,
    /// The file.
    pub path: PathBuf,
    /// sha256 of its bytes, hex.
    pub sha256: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// sha256 of every weights, configuration and tokenizer file of a model (a GGUF file, or the
/// files of a directory, sorted by name).
pub fn model_identities(role: &str, model: &Path) -> anyhow::Result<Vec<ModelIdentity>> {
    let files: Vec<PathBuf> = if model.is_file() {
        vec![model.to_path_buf()]
    } else if model.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(model)
            .with_context(|| format!("cannot read {}", model.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|e| {
                        e == "safetensors" || e == "json" || e == "gguf" || e == "jinja"
                    })
            })
            .collect();
        v.sort();
        v
    } else {
        Vec::new()
    };
    files
        .into_iter()
        .map(|path| {
            let mut f = std::fs::File::open(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let mut h = Sha256::new();
            std::io::copy(&mut f, &mut h)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let sha256 = hex(&h.finalize());
            Ok(ModelIdentity {
                role: role.into(),
                path,
                sha256,
            })
        })
        .collect()
}

/// One choice of the compute-optimal table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEntry {
    /// The compute budget, in generations.
    pub cost: f64,
    /// The predicted bin (1 = easiest).
    pub bin: usize,
    /// The chosen strategy with its hyper-parameters.
    pub strategy: StrategySpec,
    /// Its generation budget N.
    pub budget: usize,
    /// Its accuracy on the sweep's problems of that predicted bin (the ones it was chosen on).
    pub accuracy: f64,
}

/// The compute-optimal strategy per predicted difficulty bin and compute budget, chosen on all
/// of a sweep's problems, with what it takes to predict a new problem's bin: the mean verifier
/// score of the final answers of samples of it, cut at `thresholds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimalTable {
    /// The sweep that made the table (policy, verifier, sampling: a run with the table must
    /// use the same).
    pub sweep: SweepConfig,
    /// Cut points of the predicted bins on the mean final-answer score, high to low: a
    /// problem scoring at least `thresholds[0]` is in bin 1, below every one in the last bin.
    pub thresholds: Vec<f64>,
    /// Samples per problem the sweep predicted its bins from.
    pub predict_samples: usize,
    /// The choices, by cost then bin.
    pub entries: Vec<TableEntry>,
}

impl OptimalTable {
    /// The predicted bin (1-based) of a problem whose samples' final answers score `mean` on
    /// average.
    pub fn bin_of(&self, mean: f64) -> usize {
        1 + self
            .thresholds
            .iter()
            .filter(|&&t| mean.is_nan() || mean < t)
            .count()
    }

    /// The compute budgets (in generations) the table has choices for.
    pub fn costs(&self) -> Vec<f64> {
        let mut c: Vec<f64> = self.entries.iter().map(|e| e.cost).collect();
        c.sort_by(f64::total_cmp);
        c.dedup();
        c
    }

    /// The choice for `bin` at compute budget `cost`.
    pub fn choice(&self, cost: f64, bin: usize) -> Option<&TableEntry> {
        self.entries
            .iter()
            .find(|e| (e.cost - cost).abs() < 1e-9 && e.bin == bin)
    }
}

/// What the FLOPs exchange needs to know of a policy: its size and how many tokens it was
/// pretrained on (read from its `training.json` where it has one, as the toy models do).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyFacts {
    /// `policy` or `larger-policy`.
    pub role: String,
    /// Parameters.
    pub params: u64,
    /// Pretraining tokens, where known.
    pub pretrain_tokens: Option<u64>,
}

impl PolicyFacts {
    /// The facts of the policy loaded from `dir` with `params` parameters.
    pub fn read(role: &str, dir: &Path, params: u64) -> Self {
        let pretrain_tokens = std::fs::read_to_string(dir.join("training.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("tokens").and_then(serde_json::Value::as_u64));
        Self {
            role: role.into(),
            params,
            pretrain_tokens,
        }
    }
}

/// `sweep.json`: the configuration and the models' identities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepManifest {
    /// The configuration.
    pub config: SweepConfig,
    /// Every model file, hashed.
    pub models: Vec<ModelIdentity>,
    /// The policies' sizes and pretraining tokens (for the FLOPs exchange).
    #[serde(default)]
    pub policies: Vec<PolicyFacts>,
    /// The thinkscale version that started the sweep.
    pub thinkscale_version: String,
    /// The problems' ids in the dataset's order: the curves number problems (and seed each
    /// problem's draws from the banks) by it, so they do not depend on the order records
    /// landed in (problems in parallel, a server's searches ending as they end). Empty in
    /// sweeps made before it: there, problems count in the order they first appear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl SweepManifest {
    /// The manifest of `config` before it runs: the policy's and the verifiers' files hashed,
    /// the policy's size (`params`). A larger policy is the caller's to add.
    pub fn of(config: &SweepConfig, params: u64) -> anyhow::Result<Self> {
        let mut models = model_identities("policy", &config.policy)?;
        for v in std::iter::once(&config.verifier).chain(&config.judges) {
            if let VerifierSpec::Prm(dir) = v {
                models.extend(model_identities("verifier", dir)?);
            }
        }
        Ok(Self {
            config: config.clone(),
            models,
            policies: vec![PolicyFacts::read("policy", &config.policy, params)],
            thinkscale_version: env!("CARGO_PKG_VERSION").into(),
            problems: Vec::new(),
        })
    }
}

/// Where a run of one problem started by hand (the window's Run) is kept under `root`: one
/// directory per configuration, `STRATEGY-bBUDGET-sSEED-HASH` (the hash of the whole
/// configuration), so reruns with the same settings gather in one sweep.
pub fn single_dir(root: &Path, config: &RunConfig) -> PathBuf {
    let sweep = SweepConfig::single(config);
    let hash = Sha256::digest(serde_json::to_vec(&sweep).unwrap_or_default());
    let short: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    root.join(format!(
        "{}-b{}-s{}-{short}",
        config.strategy.kind().as_str(),
        config.budget,
        config.seed
    ))
}

/// Keeps `record`, searched by hand with `config` (a policy of `params` parameters), in the
/// sweep of one at [`single_dir`]: the directory and its `sweep.json` are made on first use,
/// then each record is appended to `records.jsonl` as a line of that sweep, so `thinkscale
/// plot` and the window's "Open sweep" read it like any run. Returns the directory.
pub fn record_one(
    root: &Path,
    config: &RunConfig,
    params: u64,
    record: &Record,
) -> anyhow::Result<PathBuf> {
    let dir = single_dir(root, config);
    let sweep = SweepConfig::single(config);
    let manifest_path = dir.join("sweep.json");
    if manifest_path.exists() {
        // The manifest alone: the records it already holds need not be read to add one.
        if read_manifest(&dir)?.config != sweep {
            anyhow::bail!(
                "{} holds a sweep of another configuration; not adding to it",
                dir.display()
            );
        }
    } else {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        write_json(&manifest_path, &SweepManifest::of(&sweep, params)?)?;
    }
    let run = sweep
        .runs()
        .into_iter()
        .next()
        .context("the run's sweep of one has no run")?;
    JsonlAppender::open(&dir.join("records.jsonl"))?.append(&SweepRecord {
        run,
        record: record.clone(),
    })?;
    Ok(dir)
}

/// What a sweep reports while it goes.
#[derive(Debug, Clone)]
pub enum SweepEvent {
    /// (run, problem) pairs to do, and how many were already on disk.
    Started {
        /// Pairs in the whole sweep.
        total: usize,
        /// Pairs done before (resumed).
        done: usize,
    },
    /// One (run, problem) finished and is on disk.
    Done {
        /// The run.
        run: SweepRun,
        /// The problem's id.
        problem: String,
        /// Whether its chosen answer was right.
        correct: bool,
    },
}

/// How a sweep ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepOutcome {
    /// (run, problem) pairs on disk.
    pub done: usize,
    /// Pairs in the sweep.
    pub total: usize,
    /// Whether it stopped on request.
    pub cancelled: bool,
}

/// Reads a sweep directory's manifest, `sweep.json`.
fn read_manifest(dir: &Path) -> anyhow::Result<SweepManifest> {
    let manifest_path = dir.join("sweep.json");
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "{} is not a sweep directory (no readable sweep.json)",
            dir.display()
        )
    })?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a sweep manifest", manifest_path.display()))
}

/// Reads a sweep directory: its manifest and every complete record line.
pub fn load(dir: &Path) -> anyhow::Result<(SweepManifest, Vec<SweepRecord>)> {
    let manifest = read_manifest(dir)?;
    let records_path = dir.join("records.jsonl");
    let records = if records_path.exists() {
        read_jsonl_resumable(&records_path, "not a sweep record")?
    } else {
        Vec::new()
    };
    Ok((manifest, records))
}

/// Why a sweep stopped at problem `p` of `run`, with what is kept and how to go on.
fn failed(
    e: anyhow::Error,
    p: &Problem,
    run: &SweepRun,
    count: usize,
    records: &Path,
) -> anyhow::Error {
    e.context(format!(
        "problem {} of run {run} failed; {count} finished records kept in {} (--resume continues)",
        p.id,
        records.display()
    ))
}

/// Appends a finished search's record (flushed) and says so.
fn keep(
    file: &mut JsonlAppender,
    run: &SweepRun,
    p: &Problem,
    record: Record,
    on_event: &mut dyn FnMut(SweepEvent),
) -> anyhow::Result<()> {
    let correct = record.correct;
    file.append(&SweepRecord {
        run: run.clone(),
        record,
    })?;
    on_event(SweepEvent::Done {
        run: run.clone(),
        problem: p.id.clone(),
        correct,
    });
    Ok(())
}

/// Runs (or, with `resume`, continues) the sweep `config` into `out`, one problem at a time.
pub fn run(
    config: &SweepConfig,
    out: &Path,
    resume: bool,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(SweepEvent),
) -> anyhow::Result<SweepOutcome> {
    run_with(config, out, resume, 1, cancel, on_event)
}

/// [`run`], searching `parallel` problems at once ([`super::parallel`]): the records are the
/// same, each search charged what it costs alone, though they may land in another order. A
/// larger policy's runs and runs watched by judges go one at a time after the others.
pub fn run_with(
    config: &SweepConfig,
    out: &Path,
    resume: bool,
    parallel: usize,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(SweepEvent),
) -> anyhow::Result<SweepOutcome> {
    config.validate()?;
    let records_path = out.join("records.jsonl");
    let mut done: HashSet<(SweepRun, String)> = HashSet::new();
    let mut fresh = false;
    if resume && out.join("sweep.json").exists() {
        let (manifest, records) = load(out)?;
        if manifest.config != *config {
            anyhow::bail!(
                "{} holds a sweep of another configuration; resume it with its own (see sweep.json) or choose another --out",
                out.display()
            );
        }
        // Drop a torn last line for good before appending.
        rewrite_jsonl(&records_path, &records)?;
        done = records.into_iter().map(|r| (r.run, r.record.id)).collect();
    } else {
        if out.exists() && std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
            anyhow::bail!(
                "output directory {} is not empty; choose another --out, or --resume a sweep there",
                out.display()
            );
        }
        std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
        // Fail on an unwritable directory before any model runs.
        let probe = out.join(".thinkscale-write-check");
        std::fs::write(&probe, b"")
            .with_context(|| format!("cannot write into {}", out.display()))?;
        let _ = std::fs::remove_file(&probe);
        fresh = true;
    }
    let runs = config.runs();
    let Some(first) = runs.first().map(|r| config.run_config(r)) else {
        anyhow::bail!("strategies: the sweep has no run");
    };
    let problems: Vec<Problem> = first.problems()?;
    if problems.is_empty() {
        anyhow::bail!("no problems selected from dataset {}", config.dataset);
    }
    let total = runs.len() * problems.len();
    on_event(SweepEvent::Started {
        total,
        done: done.len(),
    });
    let mut policy = load_policy(&first)?;
    let mut verifier = load_verifier(&first)?;
    let mut judges = config
        .judges
        .iter()
        .map(|v| {
            v.check_policy(&config.policy)?;
            v.build(&crate::engine::device::parse_device(&config.device)?)
                .with_context(|| format!("cannot load judge verifier {v}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut larger = match (&config.larger_policy, runs.contains(&SweepRun::Larger)) {
        (Some(_), true) => Some(load_policy(&config.run_config(&SweepRun::Larger))?),
        _ => None,
    };
    if fresh {
        let exchange = config.larger_policy.is_some() || config.larger_typed.is_some();
        let params = |p: &dyn Policy, role: &str| match p.params() {
            Some(n) => Ok(n),
            None if exchange => anyhow::bail!(
                "the FLOPs exchange needs the {role}'s parameter count, which its server does \
                 not report: give it with --policy-params"
            ),
            None => Ok(0),
        };
        let mut manifest = SweepManifest::of(config, params(policy.as_ref(), "policy")?)?;
        manifest.problems = problems.iter().map(|p| p.id.clone()).collect();
        if let (Some(dir), Some(l)) = (&config.larger_policy, &larger) {
            manifest
                .models
                .extend(model_identities("larger-policy", dir)?);
            manifest.policies.push(PolicyFacts::read(
                "larger-policy",
                dir,
                params(l.as_ref(), "larger policy")?,
            ));
        }
        write_json(&out.join("sweep.json"), &manifest)?;
    }
    let mut file = JsonlAppender::open(&records_path)?;
    let mut count = done.len();
    if parallel > 1 && judges.is_empty() {
        let todo: Vec<(SweepRun, &Problem)> = runs
            .iter()
            .filter(|r| **r != SweepRun::Larger)
            .flat_map(|r| problems.iter().map(move |p| (r.clone(), p)))
            .filter(|(r, p)| !done.contains(&(r.clone(), p.id.clone())))
            .collect();
        let jobs: Vec<(RunConfig, &Problem)> = todo
            .iter()
            .map(|(r, p)| (config.run_config(r), *p))
            .collect();
        let mut cancelled = false;
        super::parallel::search_jobs(
            &jobs,
            parallel,
            policy.as_mut(),
            verifier.as_mut(),
            cancel,
            &mut |j, result| {
                let (run, p) = &todo[j];
                let record = match result {
                    Ok(r) => r,
                    Err(e) if e.is::<Cancelled>() => {
                        cancelled = true;
                        return Ok(());
                    }
                    Err(e) => return Err(failed(e, p, run, count, &records_path)),
                };
                keep(&mut file, run, p, record, on_event)?;
                done.insert((run.clone(), p.id.clone()));
                count += 1;
                Ok(())
            },
        )?;
        if cancelled || cancel.is_cancelled() {
            return Ok(SweepOutcome {
                done: count,
                total,
                cancelled: true,
            });
        }
    }
    for run in &runs {
        let rc = config.run_config(run);
        for p in &problems {
            if done.contains(&(run.clone(), p.id.clone())) {
                continue;
            }
            if cancel.is_cancelled() {
                return Ok(SweepOutcome {
                    done: count,
                    total,
                    cancelled: true,
                });
            }
            let mut sink = |_: &SearchEvent| {};
            let runner = match (run, larger.as_mut()) {
                (SweepRun::Larger, Some(l)) => l.as_mut(),
                _ => policy.as_mut(),
            };
            // Judges watch the bank and the searches (they score the same candidates; what the
            // search does is the sweep verifier's alone).
            let judged = !judges.is_empty()
                && matches!(run, SweepRun::Bank { .. } | SweepRun::Search { .. });
            let result = if judged {
                let mut judging = Judging::new(verifier.as_mut(), &mut judges);
                search_problem(&rc, p, runner, &mut judging, &mut sink, cancel).map(|mut r| {
                    judging.attach(&mut r);
                    r
                })
            } else {
                search_problem(&rc, p, runner, verifier.as_mut(), &mut sink, cancel)
            };
            let record = match result {
                Ok(r) => r,
                Err(e) if e.is::<Cancelled>() => {
                    return Ok(SweepOutcome {
                        done: count,
                        total,
                        cancelled: true,
                    })
                }
                Err(e) => return Err(failed(e, p, run, count, &records_path)),
            };
            keep(&mut file, run, p, record, on_event)?;
            count += 1;
        }
    }
    Ok(SweepOutcome {
        done: count,
        total,
        cancelled: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::StrategyKind;

    fn table(thresholds: Vec<f64>, entries: &[(f64, usize, usize)]) -> OptimalTable {
        OptimalTable {
            sweep: SweepConfig::single(&RunConfig {
                dataset: DatasetSpec::Toy,
                levels: vec![],
                problem_ids: Vec::new(),
                limit: None,
                policy: "models/toy/policy".into(),
                remote: Default::default(),
                verifier: VerifierSpec::Oracle,
                strategy: StrategySpec::Majority,
                budget: 4,
                sampling: SamplingParams::default(),
                step_delimiter: "\n".into(),
                prompt: PromptFormat::Raw,
                seed: 0,
                device: "cpu".into(),
                dtype: "f32".into(),
                thinkscale_version: "test".into(),
            }),
            thresholds,
            predict_samples: 4,
            entries: entries
                .iter()
                .map(|&(cost, bin, budget)| TableEntry {
                    cost,
                    bin,
                    strategy: StrategySpec::Majority,
                    budget,
                    accuracy: 0.5,
                })
                .collect(),
        }
    }

    #[test]
    fn a_tables_bins_cut_at_each_threshold_and_its_choices_are_found_by_cost_and_bin() {
        // Cuts high to low: a mean score of at least .6 is bin 1, at least .4 bin 2, at least
        // .2 bin 3, below every cut bin 4. A score exactly at a cut belongs to the easier bin.
        let t = table(
            vec![0.6, 0.4, 0.2],
            &[(4.0, 2, 4), (1.0, 2, 1), (4.0, 1, 2)],
        );
        for (mean, bin) in [
            (1.0, 1),
            (0.6, 1),
            (0.599_999, 2),
            (0.4, 2),
            (0.399_999, 3),
            (0.2, 3),
            (0.199_999, 4),
            (0.0, 4),
            (f64::INFINITY, 1),
            (f64::NEG_INFINITY, 4),
            // No answered sample to average: the hardest bin.
            (f64::NAN, 4),
        ] {
            assert_eq!(t.bin_of(mean), bin, "{mean}");
        }
        // No cut at all: one bin.
        assert_eq!(table(vec![], &[]).bin_of(0.3), 1);
        assert_eq!(t.costs(), [1.0, 4.0]);
        assert_eq!(t.choice(4.0, 2).map(|e| e.budget), Some(4));
        assert_eq!(t.choice(1.0, 2).map(|e| e.budget), Some(1));
        assert_eq!(t.choice(4.0, 1).map(|e| e.budget), Some(2));
        // A cost read back from JSON may differ in the last bits; another cost or bin is not
        // in the table.
        assert_eq!(t.choice(4.0 + 1e-12, 1).map(|e| e.budget), Some(2));
        assert!(t.choice(2.0, 2).is_none());
        assert!(t.choice(4.0, 3).is_none());
    }

    #[test]
    fn adaptive_majority_runs_afresh_at_every_budget_with_the_sweeps_parameters() {
        let mut config: SweepConfig = serde_json::from_value(serde_json::json!({
            "dataset": {"kind": "toy"},
            "policy": "models/toy/policy",
            "verifier": "oracle",
            "strategies": ["adaptive-majority"],
            "budgets": [1, 2, 8],
            "beam_widths": [4, "sqrt"],
            "bin_samples": 0,
        }))
        .unwrap();
        // Its parameters are left out of sweep.json at their defaults (old manifests resume).
        assert!(serde_json::to_value(&config)
            .unwrap()
            .get("adaptive")
            .is_none());
        config.adaptive = AdaptiveParams {
            batch: 2,
            confidence: Confidence::new(0.9).unwrap(),
        };
        let spec = StrategySpec::AdaptiveMajority {
            batch: 2,
            confidence: Confidence::new(0.9).unwrap(),
        };
        // No beam width divides it: one run per budget, whatever the beam widths say.
        let runs: Vec<SweepRun> = config.runs();
        let want: Vec<SweepRun> = [1, 2, 8]
            .into_iter()
            .map(|budget| SweepRun::Search {
                strategy: spec,
                budget,
                seed: 0,
            })
            .collect();
        assert_eq!(runs, want);
        let series = config.series_settings();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].0, "adaptive-majority (b = 2, 0.9)");
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(
            json["adaptive"],
            serde_json::json!({"batch": 2, "confidence": 0.9})
        );
    }

    #[test]
    fn a_run_is_a_sweep_of_one_whose_only_run_is_itself() {
        let base = SweepConfig::single(&RunConfig {
            dataset: DatasetSpec::Toy,
            levels: vec![3],
            problem_ids: Vec::new(),
            limit: Some(7),
            policy: "models/toy/policy".into(),
            remote: Default::default(),
            verifier: VerifierSpec::Oracle,
            strategy: StrategySpec::Majority,
            budget: 8,
            sampling: SamplingParams::default(),
            step_delimiter: "\n".into(),
            prompt: PromptFormat::Raw,
            seed: 3,
            device: "cpu".into(),
            dtype: "f32".into(),
            thinkscale_version: env!("CARGO_PKG_VERSION").into(),
        });
        for kind in [
            StrategyKind::Majority,
            StrategyKind::BestOfN,
            StrategyKind::WeightedBestOfN,
            StrategyKind::Beam,
            StrategyKind::Lookahead,
            StrategyKind::Dvts,
            StrategyKind::AdaptiveMajority,
            StrategyKind::Rebase,
            StrategyKind::Particles,
        ] {
            let mut rc = base.run_config(&SweepRun::Larger);
            rc.policy = base.policy.clone();
            rc.sampling = base.sampling.clone();
            rc.strategy = kind
                .with(Aggregation::Min, 2, 5, 3)
                .with_adaptive(3, Confidence::new(0.8).unwrap())
                .with_rebase(Temperature::new(0.5).unwrap())
                .with_particles(ResampleTemperature::new(2.0).unwrap());
            rc.budget = 8;
            rc.seed = 3;
            let single = SweepConfig::single(&rc);
            single.validate().unwrap();
            let runs = single.runs();
            assert_eq!(runs.len(), 1, "{kind:?}: {runs:?}");
            assert_eq!(single.run_config(&runs[0]), rc, "{kind:?}");
        }
    }

    /// Regression: a failed problem named its run in Rust's Debug form, "run Search {
    /// strategy: Majority, budget: 2, seed: 0 }"; messages use the CLI's words.
    #[test]
    fn runs_are_named_in_the_clis_words() {
        let search = |strategy, budget, seed| SweepRun::Search {
            strategy,
            budget,
            seed,
        };
        assert_eq!(
            search(StrategySpec::Majority, 2, 0).to_string(),
            "majority, budget 2, seed 0"
        );
        let beam = StrategyKind::Beam.with(Aggregation::Last, 4, 1, 40);
        assert_eq!(
            search(beam, 16, 1).to_string(),
            format!("{beam}, budget 16, seed 1")
        );
        assert_eq!(
            SweepRun::Bank {
                budget: 64,
                seed: 0
            }
            .to_string(),
            "bank of samples, budget 64, seed 0"
        );
        assert_eq!(
            SweepRun::Bins { budget: 64 }.to_string(),
            "difficulty-bin samples, budget 64"
        );
        assert_eq!(SweepRun::Greedy.to_string(), "greedy");
        for run in [search(StrategySpec::Majority, 2, 0), SweepRun::Larger] {
            assert!(!run.to_string().contains('{'), "{run}");
        }
    }

    #[test]
    fn a_budget_over_the_maximum_is_refused_naming_the_field() {
        let mut config = SweepConfig::single(&RunConfig {
            dataset: DatasetSpec::Toy,
            levels: vec![],
            problem_ids: Vec::new(),
            limit: Some(1),
            policy: "models/toy/policy".into(),
            remote: Default::default(),
            verifier: VerifierSpec::Oracle,
            strategy: StrategySpec::Majority,
            budget: 8,
            sampling: SamplingParams::default(),
            step_delimiter: "\n".into(),
            prompt: PromptFormat::Raw,
            seed: 0,
            device: "cpu".into(),
            dtype: "f32".into(),
            thinkscale_version: env!("CARGO_PKG_VERSION").into(),
        });
        config.validate().unwrap();
        config.budgets = vec![4, crate::search::MAX_BUDGET + 1];
        let err = format!("{:#}", config.validate().unwrap_err());
        assert!(
            err.starts_with("budgets: ") && err.contains("65536"),
            "{err}"
        );
        let mut rc = config.run_config(&SweepRun::Greedy);
        rc.budget = 1_000_000_000;
        let err = format!("{:#}", rc.validate().unwrap_err());
        assert!(
            err.contains("budget 1000000000") && err.contains("65536"),
            "{err}"
        );
    }
}
