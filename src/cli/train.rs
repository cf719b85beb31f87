//! `thinkscale train`: train the toy models from scratch.

use crate::engine::toy::ToyArch;
use crate::train::policy::{train_policy, TrainConfig};
use crate::train::reward::{label, train_verifier, LabelConfig, VerifierKind, VerifierTrainConfig};
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
}

/// Flags of `train prm` and `train orm`.
#[derive(Debug, Args)]
pub struct TrainVerifierArgs {
    /// The policy that samples the solutions and rollouts; the verifier starts from its weights.
    #[arg(long, default_value = "models/toy/policy")]
    pub policy: PathBuf,
    /// Where the step labels are kept (JSON lines; an interrupted labelling resumes from it).
    #[arg(long, default_value = "runs/labels/toy-prm-labels.jsonl")]
    pub labels: PathBuf,
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
    /// Where to save the verifier (default models/toy/prm or models/toy/orm).
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
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("models/toy/{kind}")));
    refuse_overwrite(&out, a.force)?;
    let labels_cfg = LabelConfig {
        policy: a.policy.clone(),
        seed: a.seed,
        questions: a.questions,
        samples: a.samples,
        rollouts: a.rollouts,
        temperature: a.temperature,
    };
    let stop = super::interrupt_flag();
    let bar = super::progress_bar(a.questions as u64, "questions")?;
    let started = std::time::Instant::now();
    let samples = label(&labels_cfg, &a.labels, &candle_core::Device::Cpu, |p| {
        bar.set_position(p.questions as u64);
        bar.set_message(format!("{} samples, {} rollouts", p.samples, p.rollouts));
        !stop.load(Ordering::SeqCst)
    })?;
    bar.finish();
    if stop.load(Ordering::SeqCst) {
        eprintln!(
            "interrupted while labelling: {} samples kept in {}; the same command resumes",
            samples.len(),
            a.labels.display()
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
        a.labels.display(),
        started.elapsed().as_secs_f64()
    );
    let cfg = VerifierTrainConfig {
        kind,
        seed: a.seed,
        steps: a.steps,
        batch_size: a.batch_size,
        lr: a.lr,
        pair_weight: a.pair_weight,
        ..Default::default()
    };
    let bar = super::progress_bar(cfg.steps as u64, "steps")?;
    let report = train_verifier(
        &cfg,
        &samples,
        Some(&labels_cfg),
        &a.policy,
        &out,
        |step, loss| {
            bar.set_position(step as u64);
            bar.set_message(format!("loss {loss:.4}"));
            if step % 100 == 0 {
                log_line(&bar, format!("step {step:5}  loss {loss:.4}"));
            }
            !stop.load(Ordering::SeqCst)
        },
    )?;
    bar.finish();
    println!(
        "trained the {kind} ({} parameters) for {:.0} s on {} samples; held-out loss {:.4} -> {:.4}; saved to {}",
        report.params,
        report.seconds,
        report.train_samples,
        report.held_out_bce.0,
        report.held_out_bce.1,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
