//! Training data of a revision model, built the way the paper builds it (Snell et al. 2024,
//! section 6.1): many attempts per training question are sampled from the policy at temperature
//! 1, and each correct attempt becomes the target of a trajectory whose context is 0 to 4
//! incorrect attempts at the same question. The last attempt of the context, the one the
//! reviser sees just before writing, is the incorrect attempt closest to the correct one by
//! character edit distance, so the reviser learns to turn a near miss into the right answer;
//! the others are drawn at random, in random order. The loss goes on the target alone.
//!
//! [`sample_attempts`] samples and grades the attempts (resumable, one JSON line per
//! question), [`trajectories`] builds the training examples, [`train_reviser`] fine-tunes the
//! policy on them at a longer context (the question, 4 earlier attempts and the new one do not
//! fit the policy's 512 tokens at level 5), and [`measure_reviser`] measures the result by
//! revision step for its model card.

use super::policy::{adamw, batch_of, masked_loss, warmup_cosine, Twin};
use super::reward::{mix, training_problems};
use crate::backend::{LocalPolicy, Policy};
use crate::data::revision::RevisionTemplate;
use crate::data::toy;
use crate::engine::chat::toy_prompt;
use crate::engine::tokenizer::{toy_vocab_size, TextTokenizer, TOY_EOS};
use crate::engine::toy::ToyArch;
use crate::engine::{ComputeMeter, SamplingParams};
use crate::grade;
use crate::search::recorder::gen_steps;
use crate::search::revisions::{attempt_of, attempt_text, RevisionSelection};
use crate::search::select::Aggregation;
use crate::search::{CancelToken, SearchContext, SearchEvent, Strategy, StrategySpec};
use crate::verify::VerifierSpec;
use anyhow::Context;
use candle_core::{DType, Device};
use candle_nn::{Optimizer, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The most incorrect attempts in a trajectory's context (the paper's 4).
pub const MAX_CONTEXT: usize = 4;

/// One sampled attempt at a question: its whole step-by-step solution, and whether its answer
/// is right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The full solution text.
    pub text: String,
    /// Whether its final answer is right.
    pub correct: bool,
}

/// One training example: earlier incorrect attempts, oldest first, and the correct attempt the
/// reviser learns to write after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trajectory {
    /// The incorrect attempts in context, oldest first; the last is the closest to `target`.
    pub context: Vec<String>,
    /// The correct attempt (the only tokens with a loss).
    pub target: String,
}

/// Levenshtein distance between `a` and `b` in characters (insertions, deletions and
/// substitutions each cost 1).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let next = (diagonal + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diagonal = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The trajectories of one question: one per distinct correct attempt, at most `per_question`
/// (the first ones sampled). Each draws how many incorrect attempts it holds uniformly from 0 to
/// [`MAX_CONTEXT`] (at most as many as there are distinct incorrect attempts); the last is the
/// incorrect attempt closest to the target by [`edit_distance`] (ties: the one sampled first),
/// the rest are drawn from the others and shuffled. A question without a correct attempt gives
/// none.
pub fn trajectories(
    attempts: &[Attempt],
    per_question: usize,
    rng: &mut impl Rng,
) -> Vec<Trajectory> {
    let distinct = |right: bool| -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        attempts
            .iter()
            .filter(|a| a.correct == right && seen.insert(a.text.as_str()))
            .map(|a| a.text.as_str())
            .collect()
    };
    let wrong = distinct(false);
    let mut out = Vec::new();
    for target in distinct(true).into_iter().take(per_question) {
        let k = rng.random_range(0..=MAX_CONTEXT.min(wrong.len()));
        let mut context = Vec::with_capacity(k);
        if k > 0 {
            let closest = (0..wrong.len())
                .min_by_key(|&i| (edit_distance(wrong[i], target), i))
                .unwrap_or(0);
            let mut others: Vec<&str> = wrong
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != closest)
                .map(|(_, w)| *w)
                .collect();
            others.shuffle(rng);
            context.extend(others.into_iter().take(k - 1).map(String::from));
            context.push(wrong[closest].to_string());
        }
        out.push(Trajectory {
            context,
            target: target.to_string(),
        });
    }
    out
}

/// How the attempts are sampled (the attempts file holds the configuration beside it and is
/// resumed only under the same one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptSampling {
    /// The policy that writes the attempts (and that the reviser starts from).
    pub policy: PathBuf,
    /// Seeds the questions and the samples.
    pub seed: u64,
    /// Training questions (fresh problems, levels in turn, none from the evaluation split).
    pub questions: usize,
    /// Attempts sampled per question (the paper's 64).
    pub attempts: usize,
    /// Their temperature (the paper's 1).
    pub temperature: f64,
}

/// One question's graded attempts: a line of the attempts file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionAttempts {
    /// Index among the training questions.
    pub question_index: usize,
    /// Its level.
    pub level: u8,
    /// The question.
    pub question: String,
    /// Its answer.
    pub answer: String,
    /// The attempts, in the order sampled.
    pub attempts: Vec<Attempt>,
}

/// Progress of [`sample_attempts`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SampleProgress {
    /// Questions done.
    pub questions: usize,
    /// Of their attempts, how many are right.
    pub correct: usize,
    /// Attempts sampled.
    pub attempts: usize,
}

/// Samples and grades `attempts` attempts at each training question, appending one JSON line
/// per question to `path` (its configuration beside it as `*.config.json`); a file of the same
/// configuration is resumed from its last whole question. `progress` may return `false` to
/// stop (what is written stays).
pub fn sample_attempts(
    cfg: &AttemptSampling,
    path: &Path,
    device: &Device,
    mut progress: impl FnMut(&SampleProgress) -> bool,
) -> anyhow::Result<Vec<QuestionAttempts>> {
    if cfg.questions == 0 || cfg.attempts == 0 {
        anyhow::bail!("questions and attempts must each be at least 1");
    }
    let cfg_path = path.with_extension("config.json");
    let mut done: Vec<QuestionAttempts> = Vec::new();
    if path.exists() {
        let old: Option<AttemptSampling> = std::fs::read_to_string(&cfg_path)
            .ok()
            .and_then(|s| serde_json::from_str(&s).ok());
        // The questions are drawn in order from the seed: a file of another count is a prefix
        // of the same sequence, so only the rest of the configuration must match.
        let same = |o: &AttemptSampling| {
            AttemptSampling {
                questions: cfg.questions,
                ..o.clone()
            } == *cfg
        };
        if !old.as_ref().is_some_and(same) {
            anyhow::bail!(
                "{} holds attempts sampled another way (see {}); choose another --attempts-file or delete it",
                path.display(),
                cfg_path.display()
            );
        }
        done = crate::io::read_jsonl_resumable(path, "not a question's attempts")?;
        if done.len() >= cfg.questions {
            done.truncate(cfg.questions);
            return Ok(done);
        }
    } else {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    crate::io::write_json(&cfg_path, cfg)?;
    crate::io::rewrite_jsonl(path, &done)?;
    let mut file = crate::io::JsonlAppender::open(path)?;
    let mut policy = LocalPolicy::load(&cfg.policy, device)
        .with_context(|| format!("cannot load policy {}", cfg.policy.display()))?;
    let params = SamplingParams {
        temperature: cfg.temperature,
        ..Default::default()
    };
    let mut stats = SampleProgress {
        questions: done.len(),
        attempts: done.iter().map(|q| q.attempts.len()).sum(),
        correct: done
            .iter()
            .flat_map(|q| &q.attempts)
            .filter(|a| a.correct)
            .count(),
    };
    let problems = training_problems(mix(cfg.seed, 0x7265_7669_7365), cfg.questions);
    for (qi, problem) in problems.iter().enumerate().skip(done.len()) {
        let mut meter = ComputeMeter::default();
        let gens = policy.generate(
            problem,
            "",
            cfg.attempts,
            &params,
            mix(cfg.seed, qi as u64),
            &mut meter,
        )?;
        let attempts: Vec<Attempt> = gens
            .iter()
            .map(|g| {
                let text = attempt_text(&gen_steps(g, "\n"), "\n");
                let correct = grade::extract_answer(&text)
                    .is_some_and(|a| grade::equivalent(&problem.answer, &a));
                Attempt { text, correct }
            })
            .collect();
        stats.questions += 1;
        stats.attempts += attempts.len();
        stats.correct += attempts.iter().filter(|a| a.correct).count();
        let line = QuestionAttempts {
            question_index: qi,
            level: problem.level.unwrap_or(0),
            question: problem.question.clone(),
            answer: problem.answer.clone(),
            attempts,
        };
        file.append(&line)?;
        done.push(line);
        if !progress(&stats) {
            break;
        }
    }
    Ok(done)
}

/// How the reviser is fine-tuned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviserTrainConfig {
    /// Seeds the trajectories and the batches.
    pub seed: u64,
    /// Trajectories per question at most (one per distinct correct attempt).
    pub per_question: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// Trajectories per step (all of one level, levels in turn).
    pub batch_size: usize,
    /// Peak learning rate (AdamW, linear warm-up, cosine decay to a tenth).
    pub lr: f64,
    /// Warm-up steps.
    pub warmup: usize,
    /// The reviser's context in tokens (the policy's is 512).
    pub context: usize,
}

impl Default for ReviserTrainConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            per_question: 4,
            steps: 400,
            batch_size: 8,
            lr: 1e-4,
            warmup: 30,
            context: 1024,
        }
    }
}

/// The record of a reviser's training, saved as `training.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviserReport {
    /// How the attempts were sampled.
    pub sampling: AttemptSampling,
    /// How it was fine-tuned.
    pub config: ReviserTrainConfig,
    /// Trajectories per number of incorrect attempts in context (0 to 4).
    pub trajectories_by_context: Vec<usize>,
    /// Loss every 25 steps.
    pub loss_curve: Vec<(usize, f32)>,
    /// Wall-clock seconds of the fine-tuning.
    pub seconds: f64,
    /// Target tokens trained on.
    pub tokens: usize,
}

/// The token ids of a trajectory (BOS, the question's prompt, its context laid out by the
/// plain template, the target and EOS) and the index of the first target token's prediction.
pub fn trajectory_ids(
    tok: &TextTokenizer,
    question: &str,
    t: &Trajectory,
) -> anyhow::Result<(Vec<u32>, usize)> {
    let bos = tok.bos_id.unwrap_or(tok.eos_id);
    let mut ids = vec![bos];
    ids.extend(tok.encode(&toy_prompt(question))?);
    ids.extend(tok.encode(&RevisionTemplate::Plain.context(&t.context))?);
    let first = ids.len() - 1;
    ids.extend(tok.encode(&t.target)?);
    ids.push(tok.eos_id);
    Ok((ids, first))
}

/// Fine-tunes the policy of `sampling` into a reviser on the trajectories of `questions`, with
/// the loss on each trajectory's target alone, and saves it in Hugging Face layout under `out`
/// (its context raised to `cfg.context`). `progress(step, loss)` may return `false` to stop
/// early (the weights so far are saved).
pub fn train_reviser(
    sampling: &AttemptSampling,
    cfg: &ReviserTrainConfig,
    questions: &[QuestionAttempts],
    out: &Path,
    mut progress: impl FnMut(usize, f32) -> bool,
) -> anyhow::Result<ReviserReport> {
    if cfg.steps == 0 || cfg.batch_size == 0 || cfg.per_question == 0 {
        anyhow::bail!("steps, batch size and trajectories per question must each be at least 1");
    }
    let device = Device::Cpu;
    let config_path = sampling.policy.join("config.json");
    let base: ToyArch = serde_json::from_str(
        &std::fs::read_to_string(&config_path)
            .with_context(|| format!("cannot read {}", config_path.display()))?,
    )
    .with_context(|| format!("{}: not a toy model's config", config_path.display()))?;
    let arch = ToyArch {
        max_position_embeddings: cfg.context.max(base.max_position_embeddings),
        ..base
    };
    super::policy::write_toy_model_files(out, &arch)?;
    let tok = TextTokenizer::load(&out.join("tokenizer.json"), TOY_EOS, Some(TOY_EOS))?;
    // Trajectories, by level; none longer than the context.
    let mut rng = ChaCha8Rng::seed_from_u64(mix(cfg.seed, 0x7472_616a));
    let mut by_level: Vec<Vec<(Vec<u32>, usize)>> = vec![Vec::new(); toy::LEVELS as usize];
    let mut by_context = vec![0usize; super::reviser::MAX_CONTEXT + 1];
    for q in questions {
        for t in trajectories(&q.attempts, cfg.per_question, &mut rng) {
            let (ids, first) = trajectory_ids(&tok, &q.question, &t)?;
            if ids.len() > arch.max_position_embeddings {
                continue;
            }
            by_context[t.context.len()] += 1;
            let level = usize::from(q.level.clamp(1, toy::LEVELS)) - 1;
            by_level[level].push((ids, first));
        }
    }
    if by_level.iter().all(Vec::is_empty) {
        anyhow::bail!("no trajectories: no question has a correct attempt");
    }
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let twin = Twin::new(&arch, toy_vocab_size(), vb)?;
    let weights = sampling.policy.join("model.safetensors");
    let mut varmap = varmap;
    varmap
        .load(&weights)
        .with_context(|| format!("cannot read {}", weights.display()))?;
    let (mut opt, _) = adamw(&varmap, cfg.lr)?;
    let start = Instant::now();
    let mut tokens = 0;
    let mut curve = Vec::new();
    let levels: Vec<usize> = (0..by_level.len())
        .filter(|&l| !by_level[l].is_empty())
        .collect();
    for step in 0..cfg.steps {
        let pool = &by_level[levels[step % levels.len()]];
        let picks: Vec<&(Vec<u32>, usize)> = (0..cfg.batch_size)
            .map(|_| &pool[rng.random_range(0..pool.len())])
            .collect();
        let batch = batch_of(&picks, tok.eos_id, &device)?;
        let loss = masked_loss(&twin.forward(&batch.inputs)?, &batch)?;
        opt.set_learning_rate(warmup_cosine(cfg.lr, cfg.warmup, cfg.steps, step));
        opt.backward_step(&loss)?;
        tokens += batch.tokens;
        let loss = loss.to_scalar::<f32>()?;
        if !loss.is_finite() {
            anyhow::bail!("fine-tuning diverged at step {step} (loss {loss})");
        }
        if step % 25 == 0 || step + 1 == cfg.steps {
            curve.push((step, loss));
        }
        if !progress(step + 1, loss) {
            break;
        }
    }
    let path = out.join("model.safetensors");
    varmap
        .save(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let report = ReviserReport {
        sampling: sampling.clone(),
        config: cfg.clone(),
        trajectories_by_context: by_context,
        loss_curve: curve,
        seconds: start.elapsed().as_secs_f64(),
        tokens,
    };
    crate::io::write_json(&out.join("training.json"), &report)?;
    Ok(report)
}

/// A reviser measured on one level: accuracy by revision step, and how often a revision turns
/// its predecessor's answer around.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisionSteps {
    /// The level.
    pub level: u8,
    /// Problems of the level.
    pub problems: usize,
    /// Chains per problem.
    pub chains: usize,
    /// Per attempt (0: the first, a plain sample; k: the k-th revision), the share of chains
    /// whose attempt is right.
    pub accuracy: Vec<f64>,
    /// Among revisions whose predecessor was wrong, the share that are right.
    pub wrong_to_right: f64,
    /// Among revisions whose predecessor was right, the share that are wrong.
    pub right_to_wrong: f64,
    /// Revisions after a wrong attempt, and after a right one.
    pub after_wrong: usize,
    /// Revisions after a right attempt.
    pub after_right: usize,
}

/// Measures a reviser on the first `per_level` evaluation problems of each level: `chains`
/// chains of `attempts` attempts per problem (the strategy `revisions`, plain template), seeded
/// `seed`. `progress(done, total)` is called per problem and may return `false` to stop.
pub fn measure_reviser(
    reviser: &Path,
    per_level: usize,
    chains: usize,
    attempts: usize,
    seed: u64,
    mut progress: impl FnMut(usize, usize) -> bool,
) -> anyhow::Result<Vec<RevisionSteps>> {
    let device = Device::Cpu;
    let mut policy = LocalPolicy::load(reviser, &device)
        .with_context(|| format!("cannot load reviser {}", reviser.display()))?;
    let mut verifier = VerifierSpec::Oracle.build(&device)?;
    let spec = StrategySpec::Revisions {
        chains,
        selection: RevisionSelection::Majority,
        template: RevisionTemplate::Plain,
        aggregation: Aggregation::Last,
    };
    let problems: Vec<_> = toy::eval_split();
    let mut out = Vec::new();
    let total = per_level * toy::LEVELS as usize;
    let mut done = 0;
    for level in 1..=toy::LEVELS {
        // right[chain][attempt] per problem, flattened over problems.
        let mut right: Vec<Vec<bool>> = Vec::new();
        let picked: Vec<_> = problems
            .iter()
            .filter(|p| p.level == Some(level))
            .take(per_level)
            .collect();
        for p in &picked {
            let sampling = SamplingParams::default();
            let mut sink = |_: &SearchEvent| {};
            let ctx = SearchContext {
                problem: p,
                policy: &mut policy,
                verifier: verifier.as_mut(),
                budget: chains * attempts,
                seed: crate::data::problem_seed(seed, &p.id),
                sampling: &sampling,
                delimiter: "\n",
                sink: &mut sink,
                cancel: &CancelToken::new(),
            };
            let outcome = spec.run(ctx)?;
            let mut grid = vec![vec![false; attempts]; chains];
            for c in &outcome.candidates {
                let ok = c
                    .answer
                    .as_deref()
                    .is_some_and(|a| grade::equivalent(&p.answer, a));
                if let Some((chain, k)) = attempt_of(&outcome.tree, c.leaf) {
                    if let Some(cell) = grid.get_mut(chain - 1).and_then(|g| g.get_mut(k - 1)) {
                        *cell = ok;
                    }
                }
            }
            right.extend(grid);
            done += 1;
            if !progress(done, total) {
                anyhow::bail!("interrupted");
            }
        }
        let n = right.len().max(1) as f64;
        let accuracy = (0..attempts)
            .map(|k| right.iter().filter(|g| g[k]).count() as f64 / n)
            .collect();
        let (mut after_wrong, mut after_right, mut fixed, mut broken) = (0, 0, 0, 0);
        for g in &right {
            for k in 1..attempts {
                if g[k - 1] {
                    after_right += 1;
                    broken += usize::from(!g[k]);
                } else {
                    after_wrong += 1;
                    fixed += usize::from(g[k]);
                }
            }
        }
        out.push(RevisionSteps {
            level,
            problems: picked.len(),
            chains,
            accuracy,
            wrong_to_right: fixed as f64 / after_wrong.max(1) as f64,
            right_to_wrong: broken as f64 / after_right.max(1) as f64,
            after_wrong,
            after_right,
        });
    }
    Ok(out)
}

/// The measurement as a Markdown table: a row per level, a column per revision step.
pub fn revision_steps_markdown(rows: &[RevisionSteps]) -> String {
    let attempts = rows.first().map_or(0, |r| r.accuracy.len());
    let mut s = String::from("| level | problems x chains |");
    for k in 0..attempts {
        s.push_str(&format!(" {k} |"));
    }
    s.push_str(" wrong → right | right → wrong |\n|---|---|");
    s.push_str(&"---|".repeat(attempts + 2));
    s.push('\n');
    for r in rows {
        s.push_str(&format!("| {} | {} x {} |", r.level, r.problems, r.chains));
        for a in &r.accuracy {
            s.push_str(&format!(" {a:.2} |"));
        }
        s.push_str(&format!(
            " {:.3} ({}) | {:.3} ({}) |\n",
            r.wrong_to_right, r.after_wrong, r.right_to_wrong, r.after_right
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn attempt(text: &str, correct: bool) -> Attempt {
        Attempt {
            text: text.into(),
            correct,
        }
    }

    #[test]
    fn trajectories_are_laid_out_as_revisions_are_and_only_targets_are_learned() {
        let dir = tempfile::tempdir().unwrap();
        super::super::policy::write_toy_model_files(dir.path(), &ToyArch::default()).unwrap();
        let tok = TextTokenizer::load(&dir.path().join("tokenizer.json"), TOY_EOS, Some(TOY_EOS))
            .unwrap();
        let t = Trajectory {
            context: vec!["1+2=4: 4\n\\boxed{4}".into(), "x".into()],
            target: "1+2=3: 3\n\\boxed{3}".into(),
        };
        let (ids, first) = trajectory_ids(&tok, "1+2", &t).unwrap();
        // BOS, the question and its newline, the attempts each followed by a blank line: what
        // the policy is handed when the strategy revises (its prompt, then the context).
        let text = tok.decode(&ids[1..first + 1]).unwrap();
        assert_eq!(
            text,
            format!("1+2\n{}", RevisionTemplate::Plain.context(&t.context))
        );
        assert_eq!(ids[0], tok.eos_id);
        assert_eq!(*ids.last().unwrap(), tok.eos_id);
        assert_eq!(
            tok.decode(&ids[first + 1..ids.len() - 1]).unwrap(),
            t.target
        );
        // The loss mask covers the target and its end, nothing of the context.
        let other = trajectory_ids(
            &tok,
            "1+2",
            &Trajectory {
                context: Vec::new(),
                target: t.target.clone(),
            },
        )
        .unwrap();
        let batch = batch_of(&[&(ids.clone(), first), &other], tok.eos_id, &Device::Cpu).unwrap();
        assert_eq!(batch.tokens, 2 * (t.target.chars().count() + 1));
        let mask: Vec<Vec<f32>> = batch.mask.to_vec2().unwrap();
        assert_eq!(mask[0].iter().position(|&m| m > 0.0), Some(first));
        assert_eq!(mask[1].iter().position(|&m| m > 0.0), Some(other.1));
        assert_eq!(
            mask[0].iter().sum::<f32>() as usize,
            t.target.chars().count() + 1
        );
    }

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "ab"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("2+3=5: 5", "2+3=6: 6"), 2);
        // Characters, not bytes.
        assert_eq!(edit_distance("ки", "кa"), 1);
    }

    #[test]
    fn the_last_attempt_in_context_is_the_closest_wrong_one() {
        let right = "3*4=12: 2+12\n2+12=14: 14\n\\boxed{14}";
        let attempts = [
            attempt("3*4=7: 2+7\n2+7=9: 9\n\\boxed{9}", false),
            attempt(right, true),
            attempt("3*4=12: 2+12\n2+12=15: 15\n\\boxed{15}", false),
            attempt("2+3=5: 5*4\n5*4=20: 20\n\\boxed{20}", false),
            attempt(right, true),
            attempt("3*4=13: 2+13\n2+13=15: 15\n\\boxed{15}", false),
            attempt("3*4=7: 2+7\n2+7=9: 9\n\\boxed{9}", false),
        ];
        let mut sizes = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let t = trajectories(&attempts, 8, &mut rng);
            // One trajectory per distinct correct attempt.
            assert_eq!(t.len(), 1);
            let t = &t[0];
            assert_eq!(t.target, right);
            assert!(t.context.len() <= MAX_CONTEXT);
            sizes.insert(t.context.len());
            if let Some(last) = t.context.last() {
                assert_eq!(last, "3*4=12: 2+12\n2+12=15: 15\n\\boxed{15}");
            }
            // Distinct, all wrong, none the target.
            let mut ctx = t.context.clone();
            ctx.sort();
            ctx.dedup();
            assert_eq!(ctx.len(), t.context.len());
            assert!(t.context.iter().all(|c| c != right));
        }
        // Every size from 0 to 4 occurs (4 distinct wrong attempts are there).
        assert_eq!(sizes, (0..=MAX_CONTEXT).collect());
    }

    #[test]
    fn few_wrong_attempts_cap_the_context_and_no_right_one_gives_nothing() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let only_right = [attempt("a", true), attempt("b", true)];
        let t = trajectories(&only_right, 8, &mut rng);
        assert_eq!(t.len(), 2);
        assert!(t.iter().all(|t| t.context.is_empty()));
        assert_eq!(trajectories(&only_right, 1, &mut rng).len(), 1);
        let one_wrong = [attempt("x", false), attempt("a", true)];
        for _ in 0..16 {
            let t = trajectories(&one_wrong, 8, &mut rng);
            assert!(t[0].context.len() <= 1);
        }
        assert!(trajectories(&[attempt("x", false)], 8, &mut rng).is_empty());
        // The same seed, the same trajectories.
        let a = trajectories(&one_wrong, 8, &mut ChaCha8Rng::seed_from_u64(7));
        let b = trajectories(&one_wrong, 8, &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a, b);
    }
}
