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

use super::{load_policy, load_verifier, search_problem, RunConfig};
use crate::data::{DatasetSpec, Problem};
use crate::engine::{PromptFormat, SamplingParams};
use crate::io::{read_jsonl_resumable, rewrite_jsonl, write_json, JsonlAppender};
use crate::search::select::Aggregation;
use crate::search::spec::{DEFAULT_BEAM_WIDTH, DEFAULT_MAX_ROUNDS};
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
    /// At most this many problems.
    #[serde(default)]
    pub limit: Option<usize>,
    /// The policy model.
    pub policy: PathBuf,
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

/// One line of `records.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepRecord {
    /// Which run.
    pub run: SweepRun,
    /// Its record of one problem.
    pub record: Record,
}

impl SweepConfig {
    /// Checks what a sweep cannot start with, naming the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.strategies.is_empty() {
            anyhow::bail!("strategies: name at least one");
        }
        if self.budgets.is_empty() || self.budgets.contains(&0) {
            anyhow::bail!("budgets: at least one, each at least 1");
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
        if self.strategies.contains(&StrategyKind::Lookahead) && self.lookaheads.is_empty() {
            anyhow::bail!("lookaheads: lookahead search needs at least one k");
        }
        let runs = self.runs();
        for &kind in self.strategies.iter().filter(|k| k.is_tree_search()) {
            let any = runs
                .iter()
                .any(|r| matches!(r, SweepRun::Search { strategy, .. } if strategy.kind() == kind));
            if !any {
                anyhow::bail!(
                    "beam_widths: {} has no run: no beam width of {:?} divides a budget of {:?}",
                    kind.as_str(),
                    self.beam_widths
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
        Ok(())
    }

    /// The runs, in the order they execute: the bins, the banks, then the tree searches by
    /// budget. Tree-search settings whose beam width does not divide a budget are skipped.
    pub fn runs(&self) -> Vec<SweepRun> {
        let mut out = Vec::new();
        let max = self.budgets.iter().copied().max().unwrap_or(1);
        let sampling = self.strategies.iter().any(|k| !k.is_tree_search());
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
        let mut budgets = self.budgets.clone();
        budgets.sort_unstable();
        budgets.dedup();
        for &n in &budgets {
            let mut seen = HashSet::new();
            for &kind in self.strategies.iter().filter(|k| k.is_tree_search()) {
                for w in &self.beam_widths {
                    let m = w.at(n);
                    if m == 0 || m > n || !n.is_multiple_of(m) {
                        continue;
                    }
                    let ks: Vec<usize> = if kind == StrategyKind::Lookahead {
                        self.lookaheads.clone()
                    } else {
                        vec![0]
                    };
                    for k in ks {
                        let spec = kind.with(self.aggregation, m, self.max_rounds, k);
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
            SweepRun::Search {
                strategy,
                budget,
                seed,
            } => (*strategy, *budget, *seed),
        };
        RunConfig {
            dataset: self.dataset.clone(),
            levels: self.levels.clone(),
            limit: self.limit,
            policy: self.policy.clone(),
            verifier: self.verifier.clone(),
            strategy,
            budget,
            sampling: self.sampling.clone(),
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
            let sha256 = h
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>();
            Ok(ModelIdentity {
                role: role.into(),
                path,
                sha256,
            })
        })
        .collect()
}

/// `sweep.json`: the configuration and the models' identities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepManifest {
    /// The configuration.
    pub config: SweepConfig,
    /// Every model file, hashed.
    pub models: Vec<ModelIdentity>,
    /// The thinkscale version that started the sweep.
    pub thinkscale_version: String,
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

/// Reads a sweep directory: its manifest and every complete record line.
pub fn load(dir: &Path) -> anyhow::Result<(SweepManifest, Vec<SweepRecord>)> {
    let manifest_path = dir.join("sweep.json");
    let text = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!(
            "{} is not a sweep directory (no readable sweep.json)",
            dir.display()
        )
    })?;
    let manifest: SweepManifest = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a sweep manifest", manifest_path.display()))?;
    let records_path = dir.join("records.jsonl");
    let records = if records_path.exists() {
        read_jsonl_resumable(&records_path, "not a sweep record")?
    } else {
        Vec::new()
    };
    Ok((manifest, records))
}

/// Runs (or, with `resume`, continues) the sweep `config` into `out`.
pub fn run(
    config: &SweepConfig,
    out: &Path,
    resume: bool,
    cancel: &CancelToken,
    on_event: &mut dyn FnMut(SweepEvent),
) -> anyhow::Result<SweepOutcome> {
    config.validate()?;
    let records_path = out.join("records.jsonl");
    let mut done: HashSet<(SweepRun, String)> = HashSet::new();
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
        let mut models = model_identities("policy", &config.policy)?;
        if let VerifierSpec::Prm(dir) = &config.verifier {
            models.extend(model_identities("verifier", dir)?);
        }
        write_json(
            &out.join("sweep.json"),
            &SweepManifest {
                config: config.clone(),
                models,
                thinkscale_version: env!("CARGO_PKG_VERSION").into(),
            },
        )?;
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
    let mut file = JsonlAppender::open(&records_path)?;
    let mut count = done.len();
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
            let record =
                match search_problem(&rc, p, &mut policy, verifier.as_mut(), &mut sink, cancel) {
                    Ok(r) => r,
                    Err(e) if e.is::<Cancelled>() => {
                        return Ok(SweepOutcome {
                            done: count,
                            total,
                            cancelled: true,
                        })
                    }
                    Err(e) => {
                        return Err(e.context(format!(
                            "problem {} of run {run:?} failed; {count} finished records kept in {}",
                            p.id,
                            records_path.display()
                        )))
                    }
                };
            let correct = record.correct;
            file.append(&SweepRecord {
                run: run.clone(),
                record,
            })?;
            count += 1;
            on_event(SweepEvent::Done {
                run: run.clone(),
                problem: p.id.clone(),
                correct,
            });
        }
    }
    Ok(SweepOutcome {
        done: count,
        total,
        cancelled: false,
    })
}
