//! `thinkscale evaluate`: the model-card table of a policy (greedy, pass@1, majority@k, pass@k
//! per level).

use crate::analysis::evaluate_policy;
use crate::backend::LocalPolicy;
use crate::data::DatasetSpec;
use crate::engine::default_policy_dir;
use crate::engine::device::{parse_device, parse_dtype};
use crate::engine::{PromptFormat, SamplingParams};
use crate::search::{Aggregation, CancelToken};
use crate::verify::{VerifierList, VerifierSpec};
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Policy model: a directory in Hugging Face layout, a .gguf file, or ORG/NAME in the local
    /// Hugging Face cache. Default: the committed toy policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Dataset: `toy` or the path of a JSONL file (MATH500 or GSM8K schema).
    #[arg(long, default_value = "toy", value_parser = DatasetSpec::parse)]
    pub dataset: DatasetSpec,
    /// Samples per problem (k of majority@k and pass@k).
    #[arg(long, default_value_t = 16)]
    pub samples: usize,
    /// Temperature of the samples.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Sample only among the K most likely tokens; 0 keeps all.
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// At most this many problems (the toy split interleaves levels).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the table as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Also judge the same samples with these verifiers, comma-separated (see `run --verifier`;
    /// a noisy oracle's `,blind=` and `,seed=` stay with it): step AUC against the exact labels,
    /// best-of-k and weighted best-of-k accuracy per level.
    #[arg(long, value_parser = VerifierSpec::parse_list, default_value = "")]
    pub verifiers: VerifierList,
    /// How the verifiers' step scores become a solution's score: last, min, prod, mean.
    #[arg(long, default_value = "last", value_parser = Aggregation::parse)]
    pub aggregation: Aggregation,
    /// Prompt format: raw, chat or auto (chat where the model has a chat template).
    #[arg(long, default_value = "auto", value_parser = PromptFormat::parse)]
    pub prompt: PromptFormat,
    /// Device: cpu, cuda:N, metal.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Type of a dense (safetensors) model's weights and activations: f32, f16 or bf16 (where
    /// the device supports it). GGUF models keep their stored types.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
}

/// Runs `evaluate`.
pub fn run(a: EvaluateArgs) -> anyhow::Result<ExitCode> {
    if a.samples == 0 {
        anyhow::bail!("--samples must be at least 1");
    }
    let dir = a.policy.clone().unwrap_or_else(default_policy_dir);
    let device = parse_device(&a.device)?;
    let mut policy = LocalPolicy::load_with(&dir, &device, a.prompt, parse_dtype(&a.dtype)?)
        .with_context(|| format!("cannot load policy {}", dir.display()))?;
    let mut problems = a.dataset.load()?.problems;
    if let Some(k) = a.limit {
        problems.truncate(k);
    }
    let sampling = SamplingParams {
        temperature: a.temperature,
        top_k: a.top_k,
        ..Default::default()
    };
    let mut verifiers = a
        .verifiers
        .0
        .iter()
        .map(|v| {
            v.build(&device)
                .with_context(|| format!("cannot load verifier {v}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bar = super::progress_bar(problems.len() as u64, "problems")?;
    let cancel = CancelToken::from_flag(super::interrupt_flag());
    let eval = evaluate_policy(
        &mut policy,
        &problems,
        a.samples,
        &sampling,
        "\n",
        a.seed,
        &mut verifiers,
        a.aggregation,
        &cancel,
        |d, _| bar.set_position(d as u64),
    )?;
    bar.finish_and_clear();
    println!(
        "policy {} on {} (T = {}, k = {}, seed {})",
        dir.display(),
        a.dataset,
        a.temperature,
        a.samples,
        a.seed
    );
    print!("{}", eval.markdown());
    if !eval.verifiers.is_empty() {
        println!(
            "\nverifiers on the same samples: weighted best-of-{k} accuracy (best-of-{k} in brackets)",
            k = a.samples
        );
        print!("{}", eval.verifier_markdown());
    }
    if let Some(path) = &a.json {
        crate::io::write_json(path, &eval)?;
    }
    Ok(ExitCode::SUCCESS)
}
