//! `thinkscale train`: train the toy models from scratch.

use crate::engine::train::{train_policy, TrainConfig};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Which model to train.
#[derive(Debug, Subcommand)]
pub enum TrainCommand {
    /// Train the toy policy (a tiny Qwen2 with a character tokenizer) on canonical solutions of
    /// fresh synthetic problems; the evaluation split is never trained on.
    Policy(TrainPolicyArgs),
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
        TrainCommand::Policy(a) => {
            if a.out.join("model.safetensors").exists() && !a.force {
                anyhow::bail!(
                    "{} already holds weights; pass --force to overwrite",
                    a.out.display()
                );
            }
            if a.steps == 0 || a.batch_size == 0 {
                anyhow::bail!("--steps and --batch-size must be at least 1");
            }
            let cfg = TrainConfig {
                seed: a.seed,
                steps: a.steps,
                batch_size: a.batch_size,
                lr: a.lr,
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
                    if bar.is_hidden() {
                        eprintln!("{line}");
                    } else {
                        bar.println(line);
                    }
                }
                !stop.load(std::sync::atomic::Ordering::SeqCst)
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
