//! `thinkscale evaluate`: the model-card table of a policy (greedy, pass@1, majority@k, pass@k
//! per level) and how verifiers judge the same samples, computed from the records of a sweep.

use crate::analysis::evaluation;
use crate::data::DatasetSpec;
use crate::engine::default_policy_dir;
use crate::engine::{PromptFormat, SamplingParams};
use crate::runner::sweep::{self, SweepConfig, PAPER_EXCHANGE_RATIOS};
use crate::search::spec::DEFAULT_MAX_ROUNDS;
use crate::search::{Aggregation, StrategyKind};
use crate::verify::{VerifierList, VerifierSpec};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Policy model: a directory in Hugging Face layout, a .gguf file, ORG/NAME in the local
    /// Hugging Face cache, or an inference server, remote:http://HOST:PORT (llama.cpp's
    /// llama-server, vLLM, SGLang). Default: the committed toy policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub remote: super::remote::RemoteArgs,
    /// Dataset: `toy` or the path of a JSONL file (MATH500 or GSM8K schema).
    #[arg(long, default_value = "toy", value_parser = DatasetSpec::parse)]
    pub dataset: DatasetSpec,
    /// Samples per problem (k of majority@k and pass@k), at most 65,536.
    #[arg(long, default_value_t = 16, value_parser = super::parse_budget)]
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
    /// Where the evaluation's sweep (records of every sample and judgement) is written.
    /// Default: runs/evaluate-DATASET-kK-tT-sSEED.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue an interrupted evaluation in --out.
    #[arg(long)]
    pub resume: bool,
    /// Problems searched at once, their rounds sharing batched policy calls (the records are
    /// those of one at a time). Default: 8 on the local engine, --concurrency with a server. A
    /// small model on the CPU (the toy models) searches them in one group per core, each on
    /// an engine of its own.
    #[arg(long)]
    pub parallel_problems: Option<usize>,
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

/// Runs `evaluate`: a sweep (a bank of `--samples` samples per problem judged by every
/// `--verifiers`, and a greedy answer) whose tables are computed from its records.
pub fn run(a: EvaluateArgs) -> anyhow::Result<ExitCode> {
    if a.samples == 0 {
        anyhow::bail!("--samples must be at least 1");
    }
    let policy = a.policy.clone().unwrap_or_else(default_policy_dir);
    let config = SweepConfig {
        dataset: a.dataset.clone(),
        levels: Vec::new(),
        problem_ids: Vec::new(),
        limit: a.limit,
        policy: policy.clone(),
        remote: a.remote.options(),
        // Steers nothing (the bank is plain samples); free: it reads the sampled log-probs.
        verifier: VerifierSpec::Logprob,
        strategies: vec![StrategyKind::Majority],
        budgets: vec![a.samples],
        beam_widths: Vec::new(),
        lookaheads: Vec::new(),
        chains: Vec::new(),
        revision_selection: Default::default(),
        revision_template: Default::default(),
        adaptive: Default::default(),
        rebase_temperature: Default::default(),
        resample_temperature: Default::default(),
        mcts: vec![Default::default()],
        max_rounds: DEFAULT_MAX_ROUNDS,
        aggregation: a.aggregation,
        seeds: vec![a.seed],
        draws: 1,
        bin_samples: 0,
        sampling: SamplingParams {
            temperature: a.temperature,
            top_k: a.top_k,
            ..Default::default()
        },
        step_delimiter: "\n".into(),
        prompt: a.prompt,
        device: a.device.clone(),
        dtype: a.dtype.clone(),
        larger_policy: None,
        larger_typed: None,
        exchange_ratios: PAPER_EXCHANGE_RATIOS.to_vec(),
        shared_bank: true,
        judges: a.verifiers.0.clone(),
        greedy: true,
    };
    let out = match &a.out {
        Some(o) => o.clone(),
        None => {
            let base = format!(
                "runs/evaluate-{}-k{}-t{}-s{}",
                a.dataset.short_name(),
                a.samples,
                a.temperature,
                a.seed
            );
            let mut dir = PathBuf::from(&base);
            let mut n = 2;
            while dir.exists() && !a.resume {
                dir = PathBuf::from(format!("{base}-{n}"));
                n += 1;
            }
            dir
        }
    };
    let outcome = super::sweep::run_with_progress(&config, &out, a.resume, a.parallel_problems)?;
    if let Some(code) = super::sweep::interrupted(&outcome, &out) {
        return Ok(code);
    }
    let (manifest, records) = sweep::load(&out)?;
    let eval = evaluation(&manifest.config, &records);
    println!(
        "policy {} on {} (T = {}, k = {}, seed {})",
        policy.display(),
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
    println!("records: {}", out.display());
    if let Some(path) = &a.json {
        crate::io::write_json(path, &eval)?;
    }
    Ok(ExitCode::SUCCESS)
}
