//! `run --strategy compute-optimal --table FILE`: the compute-optimal strategy of a sweep,
//! deployed. For each problem the runner first predicts its difficulty bin the way the sweep
//! did — the mean verifier score of the final answers of samples of it, cut at the table's
//! thresholds, no ground truth — then runs the setting the table chose for that bin at the
//! compute budget. The prediction's compute is counted apart from the search's.

use super::sweep::{OptimalTable, SweepRun};
use super::{load_policy, load_verifier, search_problem, RunConfig};
use crate::data::DatasetSpec;
use crate::engine::ComputeMeter;
use crate::io::{write_json, JsonlAppender};
use crate::search::{CancelToken, Cancelled, SearchEvent, StrategySpec};
use crate::store::{Record, Summary};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Seed offset of the bin prediction's samples, so they are not the search's.
const PREDICT_SEED: u64 = 0x7072_6564;

/// Everything that determines a compute-optimal run; written as `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimalRunConfig {
    /// The table file.
    pub table: PathBuf,
    /// sha256 of the table file.
    pub table_sha256: String,
    /// The compute budget in generations (one the table has choices for).
    pub cost: f64,
    /// Samples per problem that predict its bin.
    pub predict_samples: usize,
    /// Which problems.
    pub dataset: DatasetSpec,
    /// Only these levels (empty: all).
    #[serde(default)]
    pub levels: Vec<u8>,
    /// At most this many problems.
    pub limit: Option<usize>,
    /// The run's seed.
    pub seed: u64,
    /// The thinkscale version that wrote it.
    pub thinkscale_version: String,
}

/// One line of a compute-optimal run's `records.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimalRecord {
    /// The predicted bin (1 = easiest).
    pub predicted_bin: usize,
    /// The mean final-answer score it was predicted from.
    pub prediction_score: f64,
    /// What the prediction cost.
    pub prediction: ComputeMeter,
    /// The setting the table chose.
    pub strategy: StrategySpec,
    /// Its budget N.
    pub budget: usize,
    /// The search's record.
    #[serde(flatten)]
    pub record: Record,
}

/// How a compute-optimal run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimalSummary {
    /// Accuracy and the search's compute.
    pub summary: Summary,
    /// The bin predictions' compute, apart.
    pub prediction: ComputeMeter,
    /// Problems per predicted bin (index 0 is bin 1).
    pub bin_sizes: Vec<usize>,
}

/// Reads a table written by a sweep (`optimal-table.json`), with its sha256.
pub fn read_table(path: &Path) -> anyhow::Result<(OptimalTable, String)> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read compute-optimal table {}", path.display()))?;
    let table: OptimalTable = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a compute-optimal table (a sweep writes optimal-table.json)",
            path.display()
        )
    })?;
    let sha = crate::runner::sweep::sha256_hex(&bytes);
    Ok((table, sha))
}

/// The run configuration of the table's sweep for one setting, on `cfg`'s problems.
fn run_config(table: &OptimalTable, cfg: &OptimalRunConfig, run: &SweepRun) -> RunConfig {
    RunConfig {
        dataset: cfg.dataset.clone(),
        levels: cfg.levels.clone(),
        limit: cfg.limit,
        ..table.sweep.run_config(run)
    }
}

/// Runs the table's choices at `cfg.cost` on `cfg`'s problems into `out` (which must not
/// exist). `on_problem(index, total, record)` follows each finished problem.
pub fn run(
    cfg: &OptimalRunConfig,
    table: &OptimalTable,
    out: &Path,
    cancel: &CancelToken,
    on_problem: &mut dyn FnMut(usize, usize, &OptimalRecord),
) -> anyhow::Result<(OptimalSummary, bool)> {
    let costs = table.costs();
    if !costs.iter().any(|c| (c - cfg.cost).abs() < 1e-9) {
        anyhow::bail!(
            "budget {}: the table has choices at {:?} generations",
            cfg.cost,
            costs
        );
    }
    if cfg.predict_samples == 0 {
        anyhow::bail!("predict-samples must be at least 1");
    }
    let predict = SweepRun::Bank {
        budget: cfg.predict_samples,
        seed: cfg.seed ^ PREDICT_SEED,
    };
    let predict_cfg = run_config(table, cfg, &predict);
    let problems = predict_cfg.problems()?;
    if problems.is_empty() {
        anyhow::bail!("no problems selected from dataset {}", cfg.dataset);
    }
    if out.exists() {
        anyhow::bail!(
            "output directory {} already exists; choose another --out",
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    write_json(&out.join("config.json"), cfg)?;
    let mut file = JsonlAppender::open(&out.join("records.jsonl"))?;
    let mut policy = load_policy(&predict_cfg)?;
    let mut verifier = load_verifier(&predict_cfg)?;
    let start = Instant::now();
    let mut records: Vec<Record> = Vec::new();
    let mut prediction = ComputeMeter::default();
    let mut bin_sizes = vec![0; table.thresholds.len() + 1];
    let mut cancelled = false;
    let mut failure = None;
    for (i, p) in problems.iter().enumerate() {
        if cancel.is_cancelled() {
            cancelled = true;
            break;
        }
        let mut sink = |_: &SearchEvent| {};
        let step = (|| -> anyhow::Result<OptimalRecord> {
            let bank = search_problem(
                &predict_cfg,
                p,
                policy.as_mut(),
                verifier.as_mut(),
                &mut sink,
                cancel,
            )?;
            let scores: Vec<f64> = bank
                .candidates
                .iter()
                .filter(|c| c.answer.is_some())
                .map(|c| f64::from(c.score))
                .collect();
            let score = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
            let bin = table.bin_of(score);
            let entry = table.choice(cfg.cost, bin).with_context(|| {
                format!(
                    "the table has no choice for bin {bin} at {} generations",
                    cfg.cost
                )
            })?;
            let run = SweepRun::Search {
                strategy: entry.strategy,
                budget: entry.budget,
                seed: cfg.seed,
            };
            let rc = run_config(table, cfg, &run);
            let record = search_problem(
                &rc,
                p,
                policy.as_mut(),
                verifier.as_mut(),
                &mut sink,
                cancel,
            )?;
            Ok(OptimalRecord {
                predicted_bin: bin,
                prediction_score: score,
                prediction: bank.compute,
                strategy: entry.strategy,
                budget: entry.budget,
                record,
            })
        })();
        match step {
            Ok(r) => {
                file.append(&r)?;
                prediction.add(&r.prediction);
                if let Some(s) = bin_sizes.get_mut(r.predicted_bin - 1) {
                    *s += 1;
                }
                on_problem(i, problems.len(), &r);
                records.push(r.record);
            }
            Err(e) if e.is::<Cancelled>() => {
                cancelled = true;
                break;
            }
            Err(e) => {
                failure = Some(e.context(format!(
                    "problem {} failed; {} finished records kept in {}",
                    p.id,
                    records.len(),
                    out.display()
                )));
                break;
            }
        }
    }
    let summary = OptimalSummary {
        summary: Summary::from_records(
            &records,
            !cancelled && failure.is_none(),
            start.elapsed().as_secs_f64(),
        ),
        prediction,
        bin_sizes,
    };
    write_json(&out.join("summary.json"), &summary)?;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((summary, cancelled))
}
