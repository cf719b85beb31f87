//! `thinkscale train`: train the toy models from scratch.

use crate::engine::toy::ToyArch;
use crate::train::policy::{train_policy, TrainConfig};
use crate::train::reviser::{
    measure_reviser, revision_steps_markdown, sample_attempts, train_reviser, AttemptSampling,
    ReviserTrainConfig,
};
use crate::train::reward::{
    label, train_verifier, LabelConfig, Labeller, VerifierKind, VerifierTrainConfig,
};
use clap::{Args, Subcommand};
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

/// Which model to train.
#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train the toy policy (a tiny Qwen2 with a character tokenizer) on canonical solutions of
    /// fresh synthetic problems; the evaluation split is never trained on.
    Policy(TrainPolicyArgs),
    /// Train the toy process reward model: label every step of policy samples by Monte Carlo
    /// rollouts (resumable, saved to --labels), then fit a value head on the soft labels.
    Prm(TrainVerifierArgs),
    /// Train the toy outcome reward model on the same labels: only whether each sample's final
    /// answer is right, read at its last step.
    Orm(TrainVerifierArgs),
    /// Train the toy reviser the paper's way (section 6.1): sample many attempts per question
    /// at temperature 1, build trajectories of 0-4 incorrect attempts followed by a correct
    /// one (the closest incorrect attempt by edit distance last), fine-tune the policy on them
    /// at a longer context with the loss on the correct attempt alone; then measure accuracy by
    /// revision step on the evaluation split.
    Reviser(TrainReviserArgs),
}

/// Flags of `train reviser`.
#[derive(Debug, Args)]
pub struct TrainReviserArgs {
    /// The policy that writes the attempts; the reviser starts from its weights.
    #[arg(long, default_value = "models/toy/policy")]
    pub policy: PathBuf,
    /// Seeds the questions, attempts, trajectories and batches.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training questions (fresh problems, levels in turn, none from the evaluation split).
    #[arg(long, default_value_t = 600)]
    pub questions: usize,
    /// Attempts sampled per question.
    #[arg(long, default_value_t = 64)]
    pub attempts: usize,
    /// Temperature of the attempts.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Where the graded attempts are kept (JSON lines; an interrupted sampling resumes from it).
    #[arg(long, default_value = "runs/labels/toy-reviser-attempts.jsonl")]
    pub attempts_file: PathBuf,
    /// Trajectories per question at most (one per distinct correct attempt).
    #[arg(long, default_value_t = 4)]
    pub per_question: usize,
    /// Optimiser steps.
    #[arg(long, default_value_t = 400)]
    pub steps: usize,
    /// Trajectories per step.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Peak learning rate (AdamW, warm-up then cosine decay).
    #[arg(long, default_value_t = 1e-4)]
    pub lr: f64,
    /// The reviser's context in tokens: the question, 4 earlier level-5 attempts and the new
    /// one need about 600.
    #[arg(long, default_value_t = 1024)]
    pub context: usize,
    /// Evaluation problems per level for the measurement by revision step (0: skip it).
    #[arg(long, default_value_t = 40)]
    pub measure_per_level: usize,
    /// Chains per problem in the measurement.
    #[arg(long, default_value_t = 4)]
    pub measure_chains: usize,
    /// Attempts per chain in the measurement (more than the 4 it was trained with).
    #[arg(long, default_value_t = 9)]
    pub measure_attempts: usize,
    /// Only measure the reviser already in --out.
    #[arg(long)]
    pub measure_only: bool,
    /// Where to save the reviser.
    #[arg(long, default_value = "models/toy/reviser")]
    pub out: PathBuf,
    /// Overwrite existing weights in --out.
    #[arg(long)]
    pub force: bool,
}

/// Flags of `train prm` and `train orm`.
#[derive(Debug, Args)]
pub struct TrainVerifierArgs {
    /// The policy that samples the solutions and rollouts; the verifier starts from its weights.
    #[arg(long, default_value = "models/toy/policy")]
    pub policy: PathBuf,
    /// The model the verifier's backbone starts from (default: --policy); a larger toy policy
    /// (models/toy/policy-large) gives a larger value model.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// How steps are labelled: rollouts (Monte Carlo from the policy, the paper's recipe) or
    /// checker (the task's exact step checker, like human step labels; no rollouts).
    #[arg(long, default_value = "rollouts")]
    pub label_by: Labeller,
    /// Where the step labels are kept (JSON lines; an interrupted labelling resumes from it).
    /// Default: runs/labels/toy-prm-labels.jsonl (rollouts) or
    /// runs/labels/toy-prm-checker-labels.jsonl (checker).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Training questions to label (fresh problems, levels in turn).
    #[arg(long, default_value_t = 1500)]
    pub questions: usize,
    /// Solutions sampled per question.
    #[arg(long, default_value_t = 4)]
    pub samples: usize,
    /// Rollouts from each step to estimate its label.
    #[arg(long, default_value_t = 8)]
    pub rollouts: usize,
    /// Sampling temperature of solutions and rollouts.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Seeds the questions, samples, rollouts and the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Optimiser steps.
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Peak learning rate (AdamW, warm-up then cosine decay).
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    /// Weight of a pairwise loss between right and wrong samples of one question, added to the
    /// binary cross-entropy (0: cross-entropy alone, the paper's recipe).
    #[arg(long, default_value_t = 0.0)]
    pub pair_weight: f64,
    /// Share of each batch made of synthetic solutions to fresh problems: canonical ones beside
    /// near misses (a digit off, off by one, a wrong operand, a miscopied number), labelled by
    /// the exact checker (0: policy samples only).
    #[arg(long, default_value_t = 0.0)]
    pub synthetic: f64,
    /// The backbone's learning rate as a multiple of --lr (the head's).
    #[arg(long, default_value_t = 1.0)]
    pub backbone_lr_scale: f64,
    /// Also train a score at each step's result (the ':' after a op b=c), where the arithmetic's
    /// evidence is; scores are still read at the steps' ends.
    #[arg(long)]
    pub dense: bool,
    /// Every this many questions, one is held out (its samples measure the held-out loss).
    #[arg(long, default_value_t = 20)]
    pub hold_out_every: usize,
    /// Measure the held-out loss every this many steps and keep the best weights (0: keep the
    /// last).
    #[arg(long, default_value_t = 0)]
    pub eval_every: usize,
    /// Stop after this many held-out measurements without improvement (0: never early).
    #[arg(long, default_value_t = 0)]
    pub patience: usize,
    /// Where to save the verifier (default models/toy/prm, models/toy/prm-checker with
    /// --label-by checker, or models/toy/orm).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite existing weights in --out.
    #[arg(long)]
    pub force: bool,
}

/// Flags of `train policy`.
#[derive(Debug, Args)]
pub struct TrainPolicyArgs {
    /// Seeds weight initialisation and the training problems.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Optimiser steps (one batch of one level each, levels in turn).
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    /// Sequences per step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Peak learning rate (AdamW, warm-up then cosine decay).
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Width of the residual stream (the committed toy policy: 128).
    #[arg(long, default_value_t = 128)]
    pub hidden_size: usize,
    /// Width of the MLP (the committed toy policy: 512).
    #[arg(long, default_value_t = 512)]
    pub intermediate_size: usize,
    /// Transformer blocks (the committed toy policy: 4).
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    /// Attention heads; must divide --hidden-size (the committed toy policy: 4).
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Where to save the model (Hugging Face layout). Refuses to overwrite a directory that
    /// already holds weights unless --force.
    #[arg(long, default_value = "models/toy/policy")]
    pub out: PathBuf,
    /// Overwrite existing weights in --out.
    #[arg(long)]
    pub force: bool,
}

/// Runs `train`.
pub fn run(cmd: TrainCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TrainCommand::Prm(a) => verifier(VerifierKind::Prm, a),
        TrainCommand::Orm(a) => verifier(VerifierKind::Orm, a),
        TrainCommand::Reviser(a) => reviser(a),
        TrainCommand::Policy(a) => {
            refuse_overwrite(&a.out, a.force)?;
            if a.steps == 0 || a.batch_size == 0 {
                anyhow::bail!("--steps and --batch-size must be at least 1");
            }
            if a.hidden_size == 0 || a.intermediate_size == 0 || a.layers == 0 || a.heads == 0 {
                anyhow::bail!(
                    "--hidden-size, --intermediate-size, --layers and --heads must be at least 1"
                );
            }
            if a.hidden_size % a.heads != 0 || (a.hidden_size / a.heads) % 2 != 0 {
                anyhow::bail!(
                    "--heads {} must divide --hidden-size {} into an even head width (RoPE rotates pairs)",
                    a.heads,
                    a.hidden_size
                );
            }
            let cfg = TrainConfig {
                seed: a.seed,
                steps: a.steps,
                batch_size: a.batch_size,
                lr: a.lr,
                arch: ToyArch {
                    hidden_size: a.hidden_size,
                    intermediate_size: a.intermediate_size,
                    num_hidden_layers: a.layers,
                    num_attention_heads: a.heads,
                    ..ToyArch::default()
                },
                ..Default::default()
            };
            let bar = super::progress_bar(cfg.steps as u64, "steps")?;
            let stop = super::interrupt_flag();
            let report = train_policy(&cfg, &a.out, |p| {
                bar.set_position(p.step as u64);
                bar.set_message(format!("loss {:.4}  {:.0} tok/s", p.loss, p.tokens_per_s));
                if p.step % 100 == 0 {
                    let line = format!(
                        "step {:5}  loss {:.4}  {:.0} tok/s",
                        p.step, p.loss, p.tokens_per_s
                    );
                    log_line(&bar, line);
                }
                !stop.load(Ordering::SeqCst)
            })?;
            bar.finish();
            println!(
                "trained {} parameters for {:.0} s on {} tokens; saved to {}",
                report.params,
                report.seconds,
                report.tokens,
                a.out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn refuse_overwrite(out: &Path, force: bool) -> anyhow::Result<()> {
    if out.join("model.safetensors").exists() && !force {
        anyhow::bail!(
            "{} already holds weights; pass --force to overwrite",
            out.display()
        );
    }
    Ok(())
}

fn log_line(bar: &indicatif::ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

fn verifier(kind: VerifierKind, a: TrainVerifierArgs) -> anyhow::Result<ExitCode> {
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(match (kind, a.label_by) {
            (VerifierKind::Prm, Labeller::Checker) => "models/toy/prm-checker".to_string(),
            _ => format!("models/toy/{kind}"),
        })
    });
    refuse_overwrite(&out, a.force)?;
    let labels_cfg = LabelConfig {
        policy: a.policy.clone(),
        seed: a.seed,
        questions: a.questions,
        samples: a.samples,
        rollouts: a.rollouts,
        temperature: a.temperature,
        labeller: a.label_by,
    };
    let labels_path = a.labels.clone().unwrap_or_else(|| {
        PathBuf::from(match a.label_by {
            Labeller::Rollouts => "runs/labels/toy-prm-labels.jsonl",
            Labeller::Checker => "runs/labels/toy-prm-checker-labels.jsonl",
        })
    });
    let stop = super::interrupt_flag();
    let bar = super::progress_bar(a.questions as u64, "questions")?;
    let started = std::time::Instant::now();
    let samples = label(&labels_cfg, &labels_path, &candle_core::Device::Cpu, |p| {
        bar.set_position(p.questions as u64);
        bar.set_message(format!("{} samples, {} rollouts", p.samples, p.rollouts));
        !stop.load(Ordering::SeqCst)
    })?;
    bar.finish();
    if stop.load(Ordering::SeqCst) {
        eprintln!(
            "interrupted while labelling: {} samples kept in {}; the same command resumes",
            samples.len(),
            labels_path.display()
        );
        return Ok(ExitCode::from(130));
    }
    let steps_labelled: usize = samples.iter().map(|s| s.steps.len()).sum();
    let right = samples.iter().filter(|s| s.correct).count();
    println!(
        "labels: {} samples ({} right), {} steps, in {} ({:.0} s this run)",
        samples.len(),
        right,
        steps_labelled,
        labels_path.display(),
        started.elapsed().as_secs_f64()
    );
    let cfg = VerifierTrainConfig {
        kind,
        seed: a.seed,
        steps: a.steps,
        batch_size: a.batch_size,
        lr: a.lr,
        pair_weight: a.pair_weight,
        synthetic: a.synthetic,
        backbone_lr_scale: a.backbone_lr_scale,
        dense: a.dense,
        hold_out_every: a.hold_out_every,
        eval_every: a.eval_every,
        patience: a.patience,
        ..Default::default()
    };
    let bar = super::progress_bar(cfg.steps as u64, "steps")?;
    let report = train_verifier(
        &cfg,
        &samples,
        Some(&labels_cfg),
        a.init.as_deref().unwrap_or(&a.policy),
        &out,
        |p| {
            bar.set_position(p.step as u64);
            bar.set_message(format!("loss {:.4}", p.loss));
            if let Some((bce, auc)) = p.held_out {
                let auc = auc.map_or("–".to_string(), |v| format!("{v:.3}"));
                log_line(
                    &bar,
                    format!(
                        "step {:5}  loss {:.4}  held-out loss {bce:.4}  within-problem AUC {auc}",
                        p.step, p.loss
                    ),
                );
            } else if p.step % 100 == 0 {
                log_line(&bar, format!("step {:5}  loss {:.4}", p.step, p.loss));
            }
            !stop.load(Ordering::SeqCst)
        },
    )?;
    bar.finish();
    println!(
        "trained the {kind} ({} parameters) for {:.0} s on {} labelled and {} synthetic samples; kept step {}; held-out loss {:.4} -> {:.4}; saved to {}",
        report.params,
        report.seconds,
        report.train_samples,
        report.synthetic_samples,
        report.kept_step,
        report.held_out_bce.0,
        report.held_out_bce.1,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn reviser(a: TrainReviserArgs) -> anyhow::Result<ExitCode> {
    let stop = super::interrupt_flag();
    if !a.measure_only {
        refuse_overwrite(&a.out, a.force)?;
        let sampling = AttemptSampling {
            policy: a.policy.clone(),
            seed: a.seed,
            questions: a.questions,
            attempts: a.attempts,
            temperature: a.temperature,
        };
        let bar = super::progress_bar(a.questions as u64, "questions")?;
        let started = std::time::Instant::now();
        let questions = sample_attempts(
            &sampling,
            &a.attempts_file,
            &candle_core::Device::Cpu,
            |p| {
                bar.set_position(p.questions as u64);
                bar.set_message(format!(
                    "{} attempts, {:.3} right",
                    p.attempts,
                    p.correct as f64 / p.attempts.max(1) as f64
                ));
                !stop.load(Ordering::SeqCst)
            },
        )?;
        bar.finish();
        if stop.load(Ordering::SeqCst) {
            eprintln!(
                "interrupted while sampling: {} questions kept in {}; the same command resumes",
                questions.len(),
                a.attempts_file.display()
            );
            return Ok(ExitCode::from(130));
        }
        println!(
            "attempts: {} questions x {} in {} ({:.0} s this run)",
            questions.len(),
            a.attempts,
            a.attempts_file.display(),
            started.elapsed().as_secs_f64()
        );
        let cfg = ReviserTrainConfig {
            seed: a.seed,
            per_question: a.per_question,
            steps: a.steps,
            batch_size: a.batch_size,
            lr: a.lr,
            context: a.context,
            ..Default::default()
        };
        let bar = super::progress_bar(cfg.steps as u64, "steps")?;
        let report = train_reviser(&sampling, &cfg, &questions, &a.out, |step, loss| {
            bar.set_position(step as u64);
            bar.set_message(format!("loss {loss:.4}"));
            if step % 50 == 0 {
                log_line(&bar, format!("step {step:5}  loss {loss:.4}"));
            }
            !stop.load(Ordering::SeqCst)
        })?;
        bar.finish();
        println!(
            "fine-tuned the reviser for {:.0} s on {} target tokens; trajectories by incorrect \
             attempts in context (0-4): {:?}; saved to {}",
            report.seconds,
            report.tokens,
            report.trajectories_by_context,
            a.out.display()
        );
    }
    if a.measure_per_level == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    if a.measure_chains == 0 || a.measure_attempts == 0 {
        anyhow::bail!("--measure-chains and --measure-attempts must be at least 1");
    }
    let total = a.measure_per_level * crate::data::toy::LEVELS as usize;
    let bar = super::progress_bar(total as u64, "problems")?;
    let rows = measure_reviser(
        &a.out,
        a.measure_per_level,
        a.measure_chains,
        a.measure_attempts,
        a.seed,
        |done, _| {
            bar.set_position(done as u64);
            !stop.load(Ordering::SeqCst)
        },
    )?;
    bar.finish();
    let path = a.out.join("revision-steps.json");
    crate::io::write_json(&path, &rows)?;
    println!(
        "accuracy by revision step (attempt 0 is a plain sample), {} chains per problem, seed {}:",
        a.measure_chains, a.seed
    );
    print!("{}", revision_steps_markdown(&rows));
    println!("saved to {}", path.display());
    Ok(ExitCode::SUCCESS)
}
