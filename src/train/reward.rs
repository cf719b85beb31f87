//! Training the toy verifiers without human labels, as the paper trained its PRM (Math-Shepherd
//! style): sample solutions from the policy, label every step by Monte Carlo rollouts (the
//! fraction of the policy's continuations from that step that reach the right answer), and
//! train a value head on the soft labels with binary cross-entropy.
//!
//! Two variants share the labels and the code:
//! - the **PRM** learns the rollout label at the end of every step;
//! - the **ORM** learns only whether the whole solution's answer is right, at its last step.
//!
//! Both are the policy's backbone (initialised from its weights) with a value head
//! `v_head.summary` — `Linear(hidden, 1)`, sigmoid — read at each step's closing newline:
//! the layout of Skywork's open PRMs, so the toy verifiers load through the same adapter as
//! real ones (`Qwen2ForPrmModel`). The input is the policy's: beginning-of-sequence token,
//! question, newline, then each step followed by a newline.

use super::policy::{lr_at, write_toy_model_files, TrainConfig, Twin};
use crate::backend::{LocalPolicy, Policy};
use crate::data::{toy, Problem};
use crate::engine::chat::toy_prompt;
use crate::engine::tokenizer::{TextTokenizer, TOY_EOS};
use crate::engine::toy::ToyArch;
use crate::engine::{ComputeMeter, SamplingParams};
use crate::grade;
use anyhow::Context;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Init, Linear, Optimizer, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The architecture string of a value-head reward model's `config.json`.
pub const VALUE_HEAD_ARCHITECTURE: &str = "Qwen2ForPrmModel";

/// How to label steps by rollouts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelConfig {
    /// The policy that samples solutions and rollouts.
    pub policy: PathBuf,
    /// Seeds the training questions, the samples and the rollouts.
    pub seed: u64,
    /// Training questions (fresh, never from the evaluation split), levels in turn.
    pub questions: usize,
    /// Solutions sampled per question.
    pub samples: usize,
    /// Rollouts from every step to estimate its label.
    pub rollouts: usize,
    /// Sampling temperature of solutions and rollouts.
    pub temperature: f64,
    /// How steps are labelled.
    #[serde(default)]
    pub labeller: Labeller,
}

/// Where step labels come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Labeller {
    /// Monte Carlo rollouts from the policy (Math-Shepherd, the paper's recipe): a step's label
    /// is the fraction of continuations from it that reach the right answer.
    #[default]
    Rollouts,
    /// The task's exact step checker (the analogue of PRM800K's human step labels): a step is
    /// right when it and every step before it are. No rollouts.
    Checker,
}

impl std::str::FromStr for Labeller {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "rollouts" => Ok(Self::Rollouts),
            "checker" => Ok(Self::Checker),
            other => Err(format!("unknown labeller '{other}': rollouts or checker")),
        }
    }
}

impl std::fmt::Display for Labeller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Rollouts => "rollouts",
            Self::Checker => "checker",
        })
    }
}

impl Default for LabelConfig {
    fn default() -> Self {
        Self {
            policy: crate::engine::default_policy_dir(),
            seed: 0,
            questions: 1500,
            samples: 4,
            rollouts: 8,
            temperature: 1.0,
            labeller: Labeller::Rollouts,
        }
    }
}

/// One sampled solution with its step labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledSample {
    /// Index of its question in the labelling run.
    pub question_index: usize,
    /// The question's level.
    pub level: u8,
    /// The question.
    pub question: String,
    /// The reference answer.
    pub answer: String,
    /// The solution's steps (newline-separated lines, empty ones dropped).
    pub steps: Vec<String>,
    /// For every step, the fraction of rollouts from the end of that step that reach the right
    /// answer; the last step's label is whether the solution itself is right.
    pub mc: Vec<f32>,
    /// Whether the solution's final answer is right.
    pub correct: bool,
}

/// What labelling reports as it goes.
#[derive(Debug, Clone, Default)]
pub struct LabelProgress {
    /// Questions labelled.
    pub questions: usize,
    /// Samples labelled.
    pub samples: usize,
    /// Rollouts generated.
    pub rollouts: usize,
    /// Compute spent so far.
    pub compute: ComputeMeter,
}

/// SplitMix64's finaliser of `a` and `b`: seeds derived from a seed and an index.
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    // SplitMix64 finaliser: stable across platforms and versions.
    let mut z = a ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The non-empty lines of a solution.
pub fn solution_steps(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

/// The training questions of a labelling run: fresh problems, levels 1..=5 in turn, none from
/// the evaluation split.
pub fn training_problems(seed: u64, n: usize) -> Vec<Problem> {
    let exclude = toy::eval_questions();
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, 0x6c61_6265_6c73));
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let level = (out.len() % toy::LEVELS as usize) as u8 + 1;
        let (q, v) = toy::generate(level, &mut rng);
        if !exclude.contains(&q) {
            out.push(toy::problem(format!("train-{}", out.len()), level, q, v));
        }
    }
    out
}

fn config_path(labels: &Path) -> PathBuf {
    labels.with_extension("config.json")
}

/// Reads a labels file, with the line number of any bad line.
pub fn read_labels(path: &Path) -> anyhow::Result<Vec<LabelledSample>> {
    crate::io::read_jsonl(path, "not a labelled sample")
}

/// Reads a labels file to resume it: a last line cut short by an interruption is dropped; a bad
/// line anywhere else is an error with its line number.
fn read_resumable(path: &Path) -> anyhow::Result<Vec<LabelledSample>> {
    crate::io::read_jsonl_resumable(path, "not a labelled sample")
}

/// Labels the steps of policy samples by rollouts, appending to `path` (JSON lines, one per
/// sample, flushed per question; the configuration beside it as `*.config.json`). An existing
/// file written with the same configuration is resumed from its last complete question, so an
/// interrupted labelling loses nothing. `progress` may return `false` to stop early.
pub fn label(
    cfg: &LabelConfig,
    path: &Path,
    device: &Device,
    mut progress: impl FnMut(&LabelProgress) -> bool,
) -> anyhow::Result<Vec<LabelledSample>> {
    if cfg.samples == 0
        || cfg.questions == 0
        || (cfg.rollouts == 0 && cfg.labeller == Labeller::Rollouts)
    {
        anyhow::bail!("questions, samples and rollouts must each be at least 1");
    }
    let cfg_path = config_path(path);
    let mut done = Vec::new();
    if path.exists() {
        let old: Option<LabelConfig> = std::fs::read_to_string(&cfg_path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok());
        if old.as_ref() != Some(cfg) {
            anyhow::bail!(
                "{} holds labels of another configuration (see {}); choose another --labels file or delete it",
                path.display(),
                cfg_path.display()
            );
        }
        done = read_resumable(path)?;
        // Keep whole questions only: a question is written in one go, but be safe.
        let complete = done.len() / cfg.samples;
        done.truncate(complete * cfg.samples);
        if complete >= cfg.questions {
            // Everything is labelled: read only, so other runs may share the file.
            return Ok(done);
        }
    } else {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&cfg_path, serde_json::to_string_pretty(cfg)?)
            .with_context(|| format!("cannot write {}", cfg_path.display()))?;
    }
    // Rewrite the kept lines (through a temporary file and a rename, so the old file stays whole
    // until the new one is), then append: a torn last line cannot survive a resume.
    crate::io::rewrite_jsonl(path, &done)?;
    let mut file = crate::io::JsonlAppender::open(path)?;
    let mut policy = LocalPolicy::load(&cfg.policy, device)?;
    let params = SamplingParams {
        temperature: cfg.temperature,
        ..Default::default()
    };
    let problems = training_problems(cfg.seed, cfg.questions);
    let mut stats = LabelProgress {
        questions: done.len() / cfg.samples,
        samples: done.len(),
        ..Default::default()
    };
    for (qi, problem) in problems.iter().enumerate().skip(stats.questions) {
        let qseed = mix(cfg.seed, qi as u64);
        let mut meter = ComputeMeter::default();
        let gens = policy.generate(problem, "", cfg.samples, &params, qseed, &mut meter)?;
        let right = |text: &str| {
            grade::extract_answer(text).is_some_and(|a| grade::equivalent(&problem.answer, &a))
        };
        let mut cache: HashMap<String, f32> = HashMap::new();
        let mut batch = Vec::with_capacity(gens.len());
        let target: Option<i64> = problem.answer.trim().parse().ok();
        for g in &gens {
            let steps = solution_steps(&g.text);
            let correct = right(&g.text);
            if cfg.labeller == Labeller::Checker {
                let target = target.with_context(|| {
                    format!("{}: the checker needs an integer answer", problem.id)
                })?;
                batch.push(LabelledSample {
                    question_index: qi,
                    level: problem.level.unwrap_or(0),
                    question: problem.question.clone(),
                    answer: problem.answer.clone(),
                    mc: toy::check_steps(&steps, target)
                        .into_iter()
                        .map(|ok| if ok { 1.0 } else { 0.0 })
                        .collect(),
                    steps,
                    correct,
                });
                continue;
            }
            let mut mc = Vec::with_capacity(steps.len());
            for k in 0..steps.len() {
                if k + 1 == steps.len() {
                    mc.push(if correct { 1.0 } else { 0.0 });
                    break;
                }
                let prefix = steps[..=k].join("\n") + "\n";
                if let Some(v) = cache.get(&prefix) {
                    mc.push(*v);
                    continue;
                }
                let outs = policy.generate(
                    problem,
                    &prefix,
                    cfg.rollouts,
                    &params,
                    mix(qseed, fnv(&prefix)),
                    &mut meter,
                )?;
                stats.rollouts += outs.len();
                let v = outs.iter().filter(|o| right(&o.text)).count() as f32 / outs.len() as f32;
                cache.insert(prefix, v);
                mc.push(v);
            }
            batch.push(LabelledSample {
                question_index: qi,
                level: problem.level.unwrap_or(0),
                question: problem.question.clone(),
                answer: problem.answer.clone(),
                steps,
                mc,
                correct,
            });
        }
        for s in &batch {
            file.append(s)?;
        }
        stats.questions += 1;
        stats.samples += batch.len();
        stats.compute.add(&meter);
        done.extend(batch);
        if !progress(&stats) {
            break;
        }
    }
    Ok(done)
}

/// Which verifier to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerifierKind {
    /// Process reward model: a rollout label at every step.
    Prm,
    /// Outcome reward model: the answer's correctness at the last step only.
    Orm,
}

impl std::fmt::Display for VerifierKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Prm => "prm",
            Self::Orm => "orm",
        })
    }
}

/// How to train a toy verifier on labelled samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerifierTrainConfig {
    /// PRM or ORM.
    pub kind: VerifierKind,
    /// Seeds the batch order and the held-out questions.
    pub seed: u64,
    /// Optimiser steps.
    pub steps: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Peak learning rate (AdamW, warm-up then cosine decay).
    pub lr: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// Every this many questions, one is held out to measure the loss on.
    pub hold_out_every: usize,
    /// Weight of the pairwise loss between right and wrong samples of one question (0, the
    /// default: binary cross-entropy alone, the paper's recipe). When it is above 0, batches
    /// hold whole questions so that such pairs meet.
    #[serde(default)]
    pub pair_weight: f64,
    /// Share of each batch (in samples) made of synthetic solutions to fresh problems: each
    /// problem's canonical solution beside near misses planted in it
    /// ([`toy::near_miss_solution`]), labelled by the exact checker. 0: policy samples only.
    #[serde(default)]
    pub synthetic: f64,
    /// The backbone's learning rate as a multiple of the head's (`lr`): below 1 keeps more of
    /// what the backbone knows while the new head learns.
    #[serde(default = "one")]
    pub backbone_lr_scale: f64,
    /// Also train a score at every step's result (the `:` closing `a op b=c`, where the
    /// arithmetic's evidence is complete), labelled right when every step before it is and the
    /// annotation is true. Scores are still read at the steps' closing newlines.
    #[serde(default)]
    pub dense: bool,
    /// Measure the held-out loss every this many steps, keep the weights that scored best, and
    /// stop after `patience` measurements without improvement (0: train every step, keep the
    /// last weights).
    #[serde(default)]
    pub eval_every: usize,
    /// Measurements without improvement before stopping (with `eval_every`).
    #[serde(default)]
    pub patience: usize,
}

fn one() -> f64 {
    1.0
}

impl Default for VerifierTrainConfig {
    fn default() -> Self {
        Self {
            kind: VerifierKind::Prm,
            seed: 0,
            steps: 1000,
            batch_size: 32,
            lr: 5e-4,
            warmup: 50,
            hold_out_every: 20,
            pair_weight: 0.0,
            synthetic: 0.0,
            backbone_lr_scale: 1.0,
            dense: false,
            eval_every: 0,
            patience: 0,
        }
    }
}

/// The record of a verifier training run, saved as `training.json` beside the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifierTrainReport {
    /// The training configuration.
    pub config: VerifierTrainConfig,
    /// How the labels were made.
    pub labels: Option<LabelConfig>,
    /// Samples trained on and held out.
    pub train_samples: usize,
    /// Samples held out.
    pub held_out_samples: usize,
    /// Loss every 50 steps.
    pub loss_curve: Vec<(usize, f32)>,
    /// Binary cross-entropy on the held-out samples' labels, before and after training.
    pub held_out_bce: (f32, f32),
    /// The held-out measurements: (step, cross-entropy, within-problem AUC of the last steps'
    /// scores), every `eval_every` steps.
    #[serde(default)]
    pub held_out_curve: Vec<(usize, f32, Option<f64>)>,
    /// The step whose weights were kept (the best held-out loss; the last step without early
    /// stopping).
    #[serde(default)]
    pub kept_step: usize,
    /// Synthetic near-miss samples trained on.
    #[serde(default)]
    pub synthetic_samples: usize,
    /// The model whose weights the backbone started from.
    #[serde(default)]
    pub init: PathBuf,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Parameters.
    pub params: usize,
}

/// Token ids of a sample as the value-head verifier reads it, and the positions of its steps'
/// closing newlines.
pub fn encode_steps(
    tok: &TextTokenizer,
    question: &str,
    steps: &[String],
) -> anyhow::Result<(Vec<u32>, Vec<usize>)> {
    let mut ids: Vec<u32> = tok.bos_id.into_iter().collect();
    ids.extend(tok.encode(&toy_prompt(question))?);
    let newline = tok.encode("\n")?;
    let mut ends = Vec::with_capacity(steps.len());
    for s in steps {
        ids.extend(tok.encode(s)?);
        ids.extend(&newline);
        ends.push(ids.len() - 1);
    }
    Ok((ids, ends))
}

/// For each step of [`encode_steps`]'s encoding, the position of the `:` that closes its
/// annotation `a op b=c` (where the arithmetic's evidence is complete), if it has one and the
/// tokenizer keeps it a token of its own.
pub fn result_positions(
    tok: &TextTokenizer,
    question: &str,
    steps: &[String],
) -> anyhow::Result<Vec<Option<usize>>> {
    let (_, ends) = encode_steps(tok, question, steps)?;
    let mut out = Vec::with_capacity(steps.len());
    for (k, s) in steps.iter().enumerate() {
        let start = if k == 0 {
            let mut n = usize::from(tok.bos_id.is_some());
            n += tok.encode(&toy_prompt(question))?.len();
            n
        } else {
            ends[k - 1] + 1
        };
        let pos = match s.find(": ") {
            Some(i) => {
                let head = tok.encode(&s[..=i])?;
                let whole = tok.encode(s)?;
                (whole.starts_with(&head) && !head.is_empty()).then(|| start + head.len() - 1)
            }
            None => None,
        };
        out.push(pos);
    }
    Ok(out)
}

struct Targets {
    ids: Tensor,
    positions: Tensor,
    labels: Tensor,
    /// Each row's last step's index among the targets (`None` for a sample without steps).
    last: Vec<Option<usize>>,
    /// Pairs of samples of one question, the first right and the second wrong, as indices of
    /// their last steps' targets.
    pairs: Option<(Tensor, Tensor)>,
}

/// The label at step `k`'s result (see [`VerifierTrainConfig::dense`]): every step before it
/// right and its annotation true; `None` for a step without an annotation.
fn result_label(s: &LabelledSample, k: usize) -> Option<f32> {
    let before = if k == 0 { 1.0 } else { s.mc[k - 1] };
    let ok = toy::annotation_ok(&s.steps[k])?;
    Some(if ok { before } else { 0.0 })
}

fn targets(
    tok: &TextTokenizer,
    kind: VerifierKind,
    dense: bool,
    batch: &[&LabelledSample],
    device: &Device,
) -> anyhow::Result<Targets> {
    let mut seqs = Vec::with_capacity(batch.len());
    for s in batch {
        seqs.push(encode_steps(tok, &s.question, &s.steps)?);
    }
    let t = seqs.iter().map(|(ids, _)| ids.len()).max().unwrap_or(1);
    let (mut ids, mut positions, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = Vec::with_capacity(batch.len());
    for (row, ((seq, ends), s)) in seqs.iter().zip(batch).enumerate() {
        ids.extend(seq);
        ids.extend(std::iter::repeat_n(tok.eos_id, t - seq.len()));
        let mut picked: Vec<(usize, f32)> = match kind {
            VerifierKind::Prm => ends.iter().copied().zip(s.mc.iter().copied()).collect(),
            VerifierKind::Orm => ends
                .last()
                .map(|&e| (e, if s.correct { 1.0 } else { 0.0 }))
                .into_iter()
                .collect(),
        };
        let last_here = picked.len().checked_sub(1).map(|i| labels.len() + i);
        if dense && kind == VerifierKind::Prm {
            for (k, p) in result_positions(tok, &s.question, &s.steps)?
                .into_iter()
                .enumerate()
            {
                if let (Some(p), Some(y)) = (p, result_label(s, k)) {
                    picked.push((p, y));
                }
            }
        }
        for (p, y) in picked {
            positions.push((row * t + p) as u32);
            labels.push(y);
        }
        last.push(last_here);
    }
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for (i, a) in batch.iter().enumerate() {
        for (j, b) in batch.iter().enumerate() {
            if a.question_index == b.question_index && a.correct && !b.correct {
                if let (Some(r), Some(w)) = (last[i], last[j]) {
                    right.push(r as u32);
                    wrong.push(w as u32);
                }
            }
        }
    }
    let n = labels.len();
    let pairs = if right.is_empty() {
        None
    } else {
        let k = right.len();
        Some((
            Tensor::from_vec(right, k, device)?,
            Tensor::from_vec(wrong, k, device)?,
        ))
    };
    Ok(Targets {
        ids: Tensor::from_vec(ids, (batch.len(), t), device)?,
        positions: Tensor::from_vec(positions, n, device)?,
        labels: Tensor::from_vec(labels, n, device)?,
        last,
        pairs,
    })
}

/// The value-head model being trained: the policy's backbone plus `v_head.summary`.
struct ValueModel {
    twin: Twin,
    head: Linear,
    hidden: usize,
}

impl ValueModel {
    /// Logits (before the sigmoid) at the target positions.
    fn logits(&self, t: &Targets) -> candle_core::Result<Tensor> {
        let h = self.twin.hidden(&t.ids)?;
        let (b, n, _) = h.dims3()?;
        let picked = h
            .reshape((b * n, self.hidden))?
            .index_select(&t.positions, 0)?;
        self.head.forward(&picked)?.squeeze(1)
    }
}

/// The training loss at the targets `t` given the logits `z`: binary cross-entropy on the
/// labels, plus `pair_weight` times the mean pairwise loss `log(1 + exp(z_wrong - z_right))`
/// over pairs of samples of one question whose answers differ (read at their last steps).
fn loss(z: &Tensor, t: &Targets, pair_weight: f64) -> candle_core::Result<Tensor> {
    let bce = bce_with_logits(z, &t.labels)?;
    match &t.pairs {
        Some((right, wrong)) if pair_weight > 0.0 => {
            let d = (z.index_select(right, 0)? - z.index_select(wrong, 0)?)?;
            // softplus(-d), stably.
            let pair = (d.neg()?.relu()? + (d.abs()?.neg()?.exp()? + 1.0)?.log()?)?.mean_all()?;
            bce + (pair * pair_weight)?
        }
        _ => Ok(bce),
    }
}

/// Mean binary cross-entropy of sigmoid(`z`) against soft labels `y`, computed stably:
/// `max(z, 0) - z·y + log(1 + exp(-|z|))`.
pub fn bce_with_logits(z: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    let stable = (z.abs()?.neg()?.exp()? + 1.0)?.log()?;
    (z.relu()? - (z * y)?)?.add(&stable)?.mean_all()
}

/// Where synthetic questions' indices start, far above any labelling run's.
const SYNTHETIC_BASE: usize = 1 << 40;

/// One synthetic question for a step-checking verifier: a fresh problem (never from the
/// evaluation split) of a random level, its canonical solution and `near_misses` solutions
/// with one near miss planted each (random kind and step), labelled by the exact checker.
pub fn synthetic_question(
    index: usize,
    near_misses: usize,
    rng: &mut ChaCha8Rng,
    exclude: &std::collections::HashSet<String>,
) -> Vec<LabelledSample> {
    let (question, value, level) = loop {
        let level = rng.random_range(1..=toy::LEVELS);
        let (q, v) = toy::generate(level, rng);
        if !exclude.contains(&q) {
            break (q, v, level);
        }
    };
    let mut solutions = Vec::with_capacity(near_misses + 1);
    if let Some(text) = toy::canonical_solution(&question) {
        solutions.push(solution_steps(&text));
    }
    let mut tries = 0;
    while solutions.len() < near_misses + 1 && tries < 20 * (near_misses + 1) {
        tries += 1;
        let kind = toy::NEAR_MISSES[rng.random_range(0..toy::NEAR_MISSES.len())];
        let at = rng.random_range(0..usize::from(level));
        if let Some(lines) = toy::near_miss_solution(&question, at, kind, rng) {
            solutions.push(lines);
        }
    }
    solutions
        .into_iter()
        .map(|steps| {
            let labels = toy::check_steps(&steps, value);
            LabelledSample {
                question_index: SYNTHETIC_BASE + index,
                level,
                question: question.clone(),
                answer: value.to_string(),
                correct: *labels.last().unwrap_or(&false),
                mc: labels
                    .iter()
                    .map(|&ok| if ok { 1.0 } else { 0.0 })
                    .collect(),
                steps,
            }
        })
        .collect()
}

/// Within-problem concordance of last-step scores: over pairs of a right and a wrong sample of
/// one question, the share where the right one scores higher (ties half).
fn within_problem_auc(scored: &[(usize, f32, bool)]) -> Option<f64> {
    let mut by_question: HashMap<usize, Vec<(f32, bool)>> = HashMap::new();
    for &(q, z, ok) in scored {
        by_question.entry(q).or_default().push((z, ok));
    }
    let (mut concordant, mut pairs) = (0f64, 0f64);
    for group in by_question.values() {
        let (c, p) = crate::analysis::concordance(group);
        concordant += c;
        pairs += p;
    }
    (pairs > 0.0).then(|| concordant / pairs)
}

/// What verifier training reports after each step.
#[derive(Debug, Clone, Copy)]
pub struct VerifierProgress {
    /// Steps done.
    pub step: usize,
    /// The step's training loss.
    pub loss: f32,
    /// The held-out cross-entropy and within-problem AUC, on steps that measured them.
    pub held_out: Option<(f32, Option<f64>)>,
}

/// Trains a toy verifier on `samples`, its backbone starting from the model in `init_dir` (a
/// toy policy), and saves it in Hugging Face layout under `out`. `progress` hears of every
/// step and may return `false` to stop early (the best weights so far are still saved).
pub fn train_verifier(
    cfg: &VerifierTrainConfig,
    samples: &[LabelledSample],
    labels: Option<&LabelConfig>,
    init_dir: &Path,
    out: &Path,
    mut progress: impl FnMut(&VerifierProgress) -> bool,
) -> anyhow::Result<VerifierTrainReport> {
    if cfg.steps == 0 || cfg.batch_size == 0 {
        anyhow::bail!("steps and batch size must each be at least 1");
    }
    if !(0.0..=1.0).contains(&cfg.synthetic) {
        anyhow::bail!(
            "the synthetic share must be in 0..=1, not {}",
            cfg.synthetic
        );
    }
    if cfg.backbone_lr_scale.is_nan() || cfg.backbone_lr_scale < 0.0 {
        anyhow::bail!("the backbone's learning-rate scale must be at least 0");
    }
    let device = Device::Cpu;
    let arch: ToyArch = {
        let p = init_dir.join("config.json");
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: not a toy config", p.display()))?
    };
    let hold = cfg.hold_out_every.max(2);
    let (held, train): (Vec<&LabelledSample>, Vec<&LabelledSample>) = samples
        .iter()
        .partition(|s| s.question_index % hold == hold - 1);
    if train.is_empty() && cfg.synthetic < 1.0 {
        anyhow::bail!("no labelled samples to train on");
    }
    write_toy_model_files(out, &arch)?;
    let mut config = arch.config_json();
    config["architectures"] = serde_json::json!([VALUE_HEAD_ARCHITECTURE]);
    config["num_labels"] = serde_json::json!(1);
    let config_file = out.join("config.json");
    std::fs::write(&config_file, serde_json::to_string_pretty(&config)?)
        .with_context(|| format!("cannot write {}", config_file.display()))?;
    let _ = std::fs::remove_file(out.join("generation_config.json"));
    let tok = TextTokenizer::load(&out.join("tokenizer.json"), TOY_EOS, Some(TOY_EOS))?;

    let mut varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let twin = Twin::backbone(&arch, tok.vocab_size(), vb.clone())?;
    let init_weights = init_dir.join("model.safetensors");
    varmap
        .load(&init_weights)
        .with_context(|| format!("cannot initialise from {}", init_weights.display()))?;
    // The head starts at zero (every score 0.5), after loading: the policy has no head.
    let v = vb.pp("v_head").pp("summary");
    let head = Linear::new(
        v.get_with_hints((1, arch.hidden_size), "weight", Init::Const(0.0))?,
        Some(v.get_with_hints(1, "bias", Init::Const(0.0))?),
    );
    let model = ValueModel {
        twin,
        head,
        hidden: arch.hidden_size,
    };
    // Two optimisers: the head at `lr`, the backbone at `lr * backbone_lr_scale`.
    let (head_vars, backbone_vars): (Vec<_>, Vec<_>) = {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned var map"))?;
        let mut named: Vec<(String, candle_core::Var)> =
            data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        named
            .into_iter()
            .partition(|(k, _)| k.starts_with("v_head"))
    };
    let params = head_vars
        .iter()
        .chain(&backbone_vars)
        .map(|(_, v)| v.elem_count())
        .sum();
    let new_opt = |vars: &[(String, candle_core::Var)], lr: f64| {
        candle_nn::AdamW::new(
            vars.iter().map(|(_, v)| v.clone()).collect(),
            candle_nn::ParamsAdamW {
                lr,
                weight_decay: 0.01,
                ..Default::default()
            },
        )
    };
    let mut head_opt = new_opt(&head_vars, cfg.lr)?;
    let mut backbone_opt = new_opt(&backbone_vars, cfg.lr * cfg.backbone_lr_scale)?;
    let schedule = TrainConfig {
        steps: cfg.steps,
        lr: cfg.lr,
        warmup: cfg.warmup,
        ..Default::default()
    };
    // Held-out cross-entropy at the steps' ends, and the within-problem AUC of the last steps.
    let measure = |m: &ValueModel| -> anyhow::Result<(f32, Option<f64>)> {
        let (mut total, mut n) = (0f64, 0usize);
        let mut scored = Vec::new();
        for chunk in held.chunks(64) {
            let t = targets(&tok, cfg.kind, false, chunk, &device)?;
            let k = t.labels.dim(0)?;
            if k == 0 {
                continue;
            }
            let z = m.logits(&t)?;
            let loss = bce_with_logits(&z, &t.labels)?.to_scalar::<f32>()?;
            total += f64::from(loss) * k as f64;
            n += k;
            let z = z.to_vec1::<f32>()?;
            for (s, last) in chunk.iter().zip(&t.last) {
                if let Some(i) = last {
                    scored.push((s.question_index, z[*i], s.correct));
                }
            }
        }
        let bce = if n == 0 {
            f32::NAN
        } else {
            (total / n as f64) as f32
        };
        Ok((bce, within_problem_auc(&scored)))
    };
    let snapshot = || -> candle_core::Result<Vec<Tensor>> {
        head_vars
            .iter()
            .chain(&backbone_vars)
            .map(|(_, v)| v.as_tensor().copy())
            .collect()
    };
    let (before, before_auc) = measure(&model)?;
    let mut held_out_curve = vec![(0, before, before_auc)];
    let mut best: Option<(f32, usize, Vec<Tensor>)> = None;
    let mut stale = 0;
    let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, 0x0070_726d));
    let mut synth_rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, 0x7379_6e74));
    let exclude = toy::eval_questions();
    // With the pairwise loss, whole questions per batch, so that the samples of one question
    // meet; without it, samples one by one.
    let mut questions: Vec<Vec<&LabelledSample>> = Vec::new();
    for s in &train {
        match questions.last_mut() {
            Some(q) if cfg.pair_weight > 0.0 && q[0].question_index == s.question_index => {
                q.push(s)
            }
            _ => questions.push(vec![s]),
        }
    }
    let synthetic_per_batch = if train.is_empty() {
        cfg.batch_size
    } else {
        (cfg.batch_size as f64 * cfg.synthetic).round() as usize
    };
    let mut synthetic_made = 0usize;
    let mut synthetic_samples = 0usize;
    let mut order: Vec<usize> = (0..questions.len()).collect();
    let mut cursor = order.len();
    let start = Instant::now();
    let mut curve = Vec::new();
    let mut last_step = 0;
    for step in 0..cfg.steps {
        let mut fresh: Vec<LabelledSample> = Vec::new();
        while fresh.len() < synthetic_per_batch {
            fresh.extend(synthetic_question(
                synthetic_made,
                2,
                &mut synth_rng,
                &exclude,
            ));
            synthetic_made += 1;
        }
        fresh.truncate(synthetic_per_batch);
        synthetic_samples += fresh.len();
        let mut batch: Vec<&LabelledSample> = fresh.iter().collect();
        while batch.len() < cfg.batch_size {
            if cursor == order.len() {
                order.shuffle(&mut rng);
                cursor = 0;
            }
            batch.extend(&questions[order[cursor]]);
            cursor += 1;
        }
        let t = targets(&tok, cfg.kind, cfg.dense, &batch, &device)?;
        let loss = loss(&model.logits(&t)?, &t, cfg.pair_weight)?;
        let lr = lr_at(&schedule, step);
        head_opt.set_learning_rate(lr);
        backbone_opt.set_learning_rate(lr * cfg.backbone_lr_scale);
        let grads = loss.backward()?;
        head_opt.step(&grads)?;
        if cfg.backbone_lr_scale > 0.0 {
            backbone_opt.step(&grads)?;
        }
        let loss = loss.to_scalar::<f32>()?;
        if !loss.is_finite() {
            anyhow::bail!("training diverged at step {step} (loss {loss})");
        }
        last_step = step + 1;
        if step % 50 == 0 || step + 1 == cfg.steps {
            curve.push((step, loss));
        }
        let mut held_out = None;
        let mut exhausted = false;
        if cfg.eval_every > 0 && (step + 1) % cfg.eval_every == 0 {
            let (bce, auc) = measure(&model)?;
            held_out = Some((bce, auc));
            held_out_curve.push((step + 1, bce, auc));
            if best.as_ref().is_none_or(|b| bce < b.0) {
                best = Some((bce, step + 1, snapshot()?));
                stale = 0;
            } else {
                stale += 1;
                exhausted = cfg.patience > 0 && stale >= cfg.patience;
            }
        }
        let keep_going = progress(&VerifierProgress {
            step: step + 1,
            loss,
            held_out,
        });
        if exhausted || !keep_going {
            break;
        }
    }
    let kept_step = match best {
        Some((_, at, weights)) if at != last_step => {
            for ((_, var), w) in head_vars.iter().chain(&backbone_vars).zip(weights) {
                var.set(&w)?;
            }
            at
        }
        _ => last_step,
    };
    let (after, after_auc) = measure(&model)?;
    if held_out_curve.last().map(|c| c.0) != Some(kept_step) {
        held_out_curve.push((kept_step, after, after_auc));
    }
    let weights = out.join("model.safetensors");
    varmap
        .save(&weights)
        .with_context(|| format!("cannot write {}", weights.display()))?;
    let report = VerifierTrainReport {
        config: cfg.clone(),
        labels: labels.cloned(),
        train_samples: train.len(),
        held_out_samples: held.len(),
        loss_curve: curve,
        held_out_bce: (before, after),
        held_out_curve,
        kept_step,
        synthetic_samples,
        init: init_dir.to_path_buf(),
        seconds: start.elapsed().as_secs_f64(),
        params,
    };
    crate::io::write_json(&out.join("training.json"), &report)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bce_matches_its_definition_and_its_gradient() {
        let z = candle_core::Var::new(&[2.0f32, -1.0, 0.0], &Device::Cpu).unwrap();
        let y = Tensor::new(&[1.0f32, 0.25, 0.5], &Device::Cpu).unwrap();
        let loss = bce_with_logits(z.as_tensor(), &y).unwrap();
        let got = loss.to_scalar::<f32>().unwrap();
        // d/dz of the mean BCE is (sigmoid(z) - y) / n.
        let grad = loss
            .backward()
            .unwrap()
            .get(z.as_tensor())
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert_eq!(grad.len(), 3);
        for ((g, z), y) in grad
            .iter()
            .zip([2.0f32, -1.0, 0.0])
            .zip([1.0f32, 0.25, 0.5])
        {
            let want = (1.0 / (1.0 + (-z).exp()) - y) / 3.0;
            assert!((g - want).abs() < 1e-6, "gradient {g} vs {want}");
        }
        let direct: f32 = [(2.0f32, 1.0f32), (-1.0, 0.25), (0.0, 0.5)]
            .iter()
            .map(|&(z, y)| {
                let p = 1.0 / (1.0 + (-z).exp());
                -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
            })
            .sum::<f32>()
            / 3.0;
        assert!((got - direct).abs() < 1e-6, "{got} vs {direct}");
    }

    fn sample(qi: usize, steps: &[&str], mc: &[f32], correct: bool) -> LabelledSample {
        LabelledSample {
            question_index: qi,
            level: 2,
            question: "2*3+1".into(),
            answer: "7".into(),
            steps: steps.iter().map(|s| s.to_string()).collect(),
            mc: mc.to_vec(),
            correct,
        }
    }

    #[test]
    fn step_ends_are_the_newlines_after_each_step() {
        let dir = tempfile::tempdir().unwrap();
        write_toy_model_files(dir.path(), &ToyArch::default()).unwrap();
        let tok = TextTokenizer::load(&dir.path().join("tokenizer.json"), TOY_EOS, Some(TOY_EOS))
            .unwrap();
        let steps = vec!["2*3=6: 6+1".to_string(), "\\boxed{7}".to_string()];
        let (ids, ends) = encode_steps(&tok, "2*3+1", &steps).unwrap();
        let nl = tok.encode("\n").unwrap()[0];
        assert_eq!(ends.len(), 2);
        assert!(ends.iter().all(|&e| ids[e] == nl));
        assert_eq!(*ends.last().unwrap(), ids.len() - 1);
        assert_eq!(
            tok.decode(&ids[..=ends[0]]).unwrap(),
            "2*3+1\n2*3=6: 6+1\n",
            "bos is special and decodes to nothing"
        );
    }

    #[test]
    fn prm_and_orm_read_their_labels_at_the_right_positions() {
        let dir = tempfile::tempdir().unwrap();
        write_toy_model_files(dir.path(), &ToyArch::default()).unwrap();
        let tok = TextTokenizer::load(&dir.path().join("tokenizer.json"), TOY_EOS, Some(TOY_EOS))
            .unwrap();
        let a = sample(0, &["2*3=6: 6+1", "\\boxed{7}"], &[0.75, 1.0], true);
        let b = sample(
            1,
            &["2*3=5: 5+1", "5+1=6: 6", "\\boxed{6}"],
            &[0.0, 0.0, 0.0],
            false,
        );
        let prm = targets(&tok, VerifierKind::Prm, false, &[&a, &b], &Device::Cpu).unwrap();
        assert_eq!(
            prm.labels.to_vec1::<f32>().unwrap(),
            vec![0.75, 1.0, 0.0, 0.0, 0.0]
        );
        let orm = targets(&tok, VerifierKind::Orm, false, &[&a, &b], &Device::Cpu).unwrap();
        assert_eq!(orm.labels.to_vec1::<f32>().unwrap(), vec![1.0, 0.0]);
        let t = prm.ids.dim(1).unwrap();
        let pos = orm.positions.to_vec1::<u32>().unwrap();
        let (_, ends_b) = encode_steps(&tok, &b.question, &b.steps).unwrap();
        assert_eq!(pos[1] as usize, t + ends_b[2]);
        assert!(prm.pairs.is_none(), "different questions make no pair");

        // Two samples of one question, one right and one wrong: a pair of their last steps.
        let b = LabelledSample {
            question_index: 0,
            ..b
        };
        let prm = targets(&tok, VerifierKind::Prm, false, &[&b, &a], &Device::Cpu).unwrap();
        let (right, wrong) = prm.pairs.as_ref().unwrap();
        assert_eq!(right.to_vec1::<u32>().unwrap(), vec![4]);
        assert_eq!(wrong.to_vec1::<u32>().unwrap(), vec![2]);
        // The pairwise term is log 2 when the scores tie, and shrinks as right outscores wrong.
        let tie = Tensor::zeros(5, DType::F32, &Device::Cpu).unwrap();
        let with = loss(&tie, &prm, 1.0).unwrap().to_scalar::<f32>().unwrap();
        let without = loss(&tie, &prm, 0.0).unwrap().to_scalar::<f32>().unwrap();
        assert!((with - without - std::f32::consts::LN_2).abs() < 1e-6);
        let apart = Tensor::new(&[0f32, 0.0, -3.0, 0.0, 3.0], &Device::Cpu).unwrap();
        let a_loss = loss(&apart, &prm, 1.0).unwrap().to_scalar::<f32>().unwrap()
            - loss(&apart, &prm, 0.0).unwrap().to_scalar::<f32>().unwrap();
        assert!(a_loss < 0.01, "{a_loss}");
    }

    #[test]
    fn result_targets_sit_on_the_annotations_colon() {
        let dir = tempfile::tempdir().unwrap();
        write_toy_model_files(dir.path(), &ToyArch::default()).unwrap();
        let tok = TextTokenizer::load(&dir.path().join("tokenizer.json"), TOY_EOS, Some(TOY_EOS))
            .unwrap();
        let wrong = sample(
            0,
            &["2*3=5: 5+1", "5+1=6: 6", "\\boxed{6}"],
            &[0.0, 0.0, 0.0],
            false,
        );
        let (ids, ends) = encode_steps(&tok, &wrong.question, &wrong.steps).unwrap();
        let pos = result_positions(&tok, &wrong.question, &wrong.steps).unwrap();
        let colon = tok.encode(":").unwrap()[0];
        assert_eq!(pos.len(), 3);
        assert_eq!(ids[pos[0].unwrap()], colon);
        assert_eq!(ids[pos[1].unwrap()], colon);
        assert!(pos[0].unwrap() < ends[0] && ends[0] < pos[1].unwrap());
        assert_eq!(pos[2], None, "the answer line has no annotation");
        // A false annotation is wrong at its result; after an error everything is.
        assert_eq!(result_label(&wrong, 0), Some(0.0));
        assert_eq!(result_label(&wrong, 1), Some(0.0));
        assert_eq!(result_label(&wrong, 2), None);
        // A true annotation with a miscopied rewrite is right at its result, wrong at its end.
        let slip = sample(
            0,
            &["2*3=6: 6+2", "6+2=8: 8", "\\boxed{8}"],
            &[0.0, 0.0, 0.0],
            false,
        );
        assert_eq!(result_label(&slip, 0), Some(1.0));
        assert_eq!(result_label(&slip, 1), Some(0.0));
        let t = targets(
            &tok,
            VerifierKind::Prm,
            true,
            &[&wrong, &slip],
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(
            t.labels.dim(0).unwrap(),
            10,
            "3 ends and 2 results per sample"
        );
        assert_eq!(t.last, vec![Some(2), Some(7)]);
        let width = t.ids.dim(1).unwrap();
        let positions = t.positions.to_vec1::<u32>().unwrap();
        assert_eq!(positions[3] as usize, pos[0].unwrap());
        assert_eq!(positions[8] as usize, width + pos[0].unwrap());
        assert_eq!(
            t.labels.to_vec1::<f32>().unwrap(),
            vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        );
    }

    #[test]
    fn synthetic_questions_pair_the_right_solution_with_near_misses() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let exclude = toy::eval_questions();
        let mut levels = std::collections::BTreeSet::new();
        for i in 0..40 {
            let group = synthetic_question(i, 2, &mut rng, &exclude);
            assert_eq!(group.len(), 3);
            assert!(group.iter().all(|s| s.question_index == SYNTHETIC_BASE + i));
            assert!(!exclude.contains(&group[0].question));
            let value: i64 = group[0].answer.parse().unwrap();
            assert!(group[0].correct && group[0].mc.iter().all(|&v| v == 1.0));
            for s in &group[1..] {
                assert!(s.mc.contains(&0.0), "{:?}", s.steps);
                let labels: Vec<f32> = toy::check_steps(&s.steps, value)
                    .into_iter()
                    .map(|ok| if ok { 1.0 } else { 0.0 })
                    .collect();
                assert_eq!(s.mc, labels);
                assert_eq!(s.correct, *labels.last().unwrap() == 1.0);
            }
            levels.insert(group[0].level);
        }
        assert_eq!(levels.len(), 5, "every level appears");
    }

    #[test]
    fn checker_labels_need_no_rollouts() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LabelConfig {
            questions: 2,
            samples: 3,
            rollouts: 0,
            labeller: Labeller::Checker,
            ..Default::default()
        };
        let mut rollouts = usize::MAX;
        let all = label(&cfg, &dir.path().join("l.jsonl"), &Device::Cpu, |p| {
            rollouts = p.rollouts;
            true
        })
        .unwrap();
        assert_eq!((all.len(), rollouts), (6, 0));
        for s in &all {
            let value: i64 = s.answer.parse().unwrap();
            let want: Vec<f32> = toy::check_steps(&s.steps, value)
                .into_iter()
                .map(|ok| if ok { 1.0 } else { 0.0 })
                .collect();
            assert_eq!(s.mc, want);
        }
        // Monte Carlo labels still need rollouts.
        let mc = LabelConfig {
            labeller: Labeller::Rollouts,
            ..cfg
        };
        assert!(label(&mc, &dir.path().join("m.jsonl"), &Device::Cpu, |_| true).is_err());
    }

    #[test]
    fn labelling_writes_resumable_files_and_training_learns_the_labels() {
        let dir = tempfile::tempdir().unwrap();
        let labels = dir.path().join("labels.jsonl");
        let cfg = LabelConfig {
            questions: 3,
            samples: 2,
            rollouts: 2,
            ..Default::default()
        };
        let mut calls = 0;
        // Stop after the first question, then resume.
        let first = label(&cfg, &labels, &Device::Cpu, |_| {
            calls += 1;
            false
        })
        .unwrap();
        assert_eq!((calls, first.len()), (1, 2));
        let all = label(&cfg, &labels, &Device::Cpu, |_| true).unwrap();
        assert_eq!(all.len(), 6);
        assert_eq!(&all[..2], &first[..]);
        assert_eq!(read_labels(&labels).unwrap(), all);
        // Complete labels are only read, never rewritten (runs may share them).
        let before = std::fs::metadata(&labels).unwrap().modified().unwrap();
        assert_eq!(label(&cfg, &labels, &Device::Cpu, |_| true).unwrap(), all);
        assert_eq!(
            std::fs::metadata(&labels).unwrap().modified().unwrap(),
            before
        );
        // A last line cut short by an interruption is dropped on resume, then relabelled.
        let text = std::fs::read_to_string(&labels).unwrap();
        let cut = text.len() - 20;
        std::fs::write(&labels, &text[..cut]).unwrap();
        assert_eq!(label(&cfg, &labels, &Device::Cpu, |_| true).unwrap(), all);
        assert_eq!(std::fs::read_to_string(&labels).unwrap(), text);
        for s in &all {
            assert_eq!(s.steps.len(), s.mc.len());
            assert!(s.mc.iter().all(|v| (0.0..=1.0).contains(v)));
            assert_eq!(*s.mc.last().unwrap(), if s.correct { 1.0 } else { 0.0 });
        }
        // Another configuration must not append to these labels.
        let other = LabelConfig {
            seed: 9,
            ..cfg.clone()
        };
        assert!(label(&other, &labels, &Device::Cpu, |_| true).is_err());

        let train = |tcfg: &VerifierTrainConfig, out: &Path| {
            train_verifier(
                tcfg,
                &all,
                Some(&cfg),
                &crate::engine::default_policy_dir(),
                out,
                |_| true,
            )
            .unwrap()
        };
        let out = dir.path().join("prm");
        let tcfg = VerifierTrainConfig {
            steps: 3,
            batch_size: 4,
            warmup: 1,
            hold_out_every: 3,
            ..Default::default()
        };
        let report = train(&tcfg, &out);
        assert_eq!(report.held_out_samples, 2);
        assert!(report.held_out_bce.0.is_finite() && report.held_out_bce.1.is_finite());
        let names: Vec<String> =
            candle_core::safetensors::load(out.join("model.safetensors"), &Device::Cpu)
                .unwrap()
                .into_keys()
                .collect();
        assert!(names.iter().any(|n| n == "v_head.summary.weight"));
        assert!(names.iter().any(|n| n == "model.embed_tokens.weight"));
        assert!(!names.iter().any(|n| n.starts_with("lm_head")));
        let config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap())
                .unwrap();
        assert_eq!(config["architectures"][0], VALUE_HEAD_ARCHITECTURE);

        // Near misses in the batches, scores at the results, a slower backbone, and the best
        // held-out weights kept: the saved model measures the curve's minimum.
        let tcfg = VerifierTrainConfig {
            steps: 6,
            batch_size: 4,
            warmup: 1,
            hold_out_every: 3,
            synthetic: 0.5,
            dense: true,
            backbone_lr_scale: 0.1,
            lr: 5e-2,
            eval_every: 1,
            patience: 2,
            ..Default::default()
        };
        let out = dir.path().join("prm-checker");
        let report = train(&tcfg, &out);
        // Half of each batch of 4 is synthetic, every step trained.
        let trained = report.held_out_curve.iter().map(|c| c.0).max().unwrap();
        assert_eq!(report.synthetic_samples, 2 * trained);
        let best = report.held_out_curve[1..]
            .iter()
            .map(|c| c.1)
            .fold(f32::INFINITY, f32::min);
        let kept = report
            .held_out_curve
            .iter()
            .find(|c| c.0 == report.kept_step)
            .unwrap();
        assert_eq!(kept.1, best);
        assert!((report.held_out_bce.1 - best).abs() < 1e-4, "{report:?}");
    }
}
