//! `thinkscale run`: search every selected problem with one strategy and budget, and record it.

use crate::data::jsonl::JsonlFormat;
use crate::data::DatasetSpec;
use crate::engine::default_policy_dir;
use crate::engine::{PromptFormat, SamplingParams};
use crate::runner::{self, RunConfig, RunEvent};
use crate::search::spec::{DEFAULT_BEAM_WIDTH, DEFAULT_MAX_ROUNDS};
use crate::search::{Aggregation, CancelToken, StrategyKind};
use crate::verify::VerifierSpec;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Dataset: `toy` (the fixed 500-problem evaluation split of the synthetic task) or the
    /// path of a JSONL file (MATH500 or GSM8K schema, guessed from the first line).
    #[arg(long, default_value = "toy", value_parser = DatasetSpec::parse)]
    pub dataset: DatasetSpec,
    /// Format of a JSONL dataset: math500, gsm8k, or a field mapping
    /// question=FIELD,answer=FIELD[,level=FIELD][,id=FIELD]. Default: guessed.
    #[arg(long, value_parser = JsonlFormat::parse)]
    pub dataset_format: Option<JsonlFormat>,
    /// Skip (and report) malformed lines of a JSONL dataset instead of failing.
    #[arg(long)]
    pub skip_bad_lines: bool,
    /// Strategy: majority, best-of-n, weighted-best-of-n (N whole samples), beam (beam search),
    /// lookahead (beam search scored after --lookahead greedy steps), dvts (diverse verifier
    /// tree search). README defines each exactly.
    #[arg(long, default_value = "weighted-best-of-n", value_parser = StrategyKind::parse)]
    pub strategy: StrategyKind,
    /// Budget N: generations (full-solution equivalents) per problem; for beam search and
    /// DVTS the number of beams.
    #[arg(long, default_value_t = 16)]
    pub budget: usize,
    /// Beam width M of beam, lookahead and dvts: each kept prefix is expanded M times, N/M
    /// prefixes are kept (beam) or N/M subtrees searched (dvts). Must divide the budget.
    #[arg(long, default_value_t = DEFAULT_BEAM_WIDTH)]
    pub beam_width: usize,
    /// Rounds (steps) of beam, lookahead and dvts before the surviving prefixes are run to the
    /// end of their solutions.
    #[arg(long, default_value_t = DEFAULT_MAX_ROUNDS)]
    pub max_rounds: usize,
    /// Lookahead k of the lookahead strategy: steps rolled out greedily from each candidate
    /// step before the verifier scores it (costs N x (k + 1) generations).
    #[arg(long, default_value_t = 1)]
    pub lookahead: usize,
    /// Verifier that scores every step: oracle (the toy task's exact checker, reads the
    /// reference), logprob (the policy's own token log-probabilities), toy-prm / toy-orm (the
    /// committed toy reward models), or the directory of a PRM checkpoint (Qwen2.5-Math-PRM,
    /// Skywork PRM, Math-Shepherd, RLHFlow; the format is read from the checkpoint).
    #[arg(long, default_value = "oracle", value_parser = VerifierSpec::parse)]
    pub verifier: VerifierSpec,
    /// How step scores become a solution's score: last, min, prod, mean.
    #[arg(long, default_value = "last", value_parser = Aggregation::parse)]
    pub aggregation: Aggregation,
    /// At most this many problems, in dataset order (the toy split interleaves levels).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Only these levels, comma-separated (e.g. 3,4,5).
    #[arg(long, value_delimiter = ',')]
    pub levels: Vec<u8>,
    /// Seed of the run; every problem's search seed derives from it and the problem id.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory; must not exist. Default: runs/DATASET-STRATEGY-bBUDGET-sSEED (with a
    /// numeric suffix if taken).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Policy model: a directory in Hugging Face layout, a .gguf file, or ORG/NAME in the local
    /// Hugging Face cache. Default: the committed toy policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Nucleus sampling threshold in (0, 1].
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f64,
    /// Sample only among the K most likely tokens (applied before --top-p); 0 keeps all.
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Most tokens per generation.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Prompt format: raw (BOS, question, newline: the toy models' format), chat (the model's
    /// chat template with a step-by-step system prompt), or auto (chat where the model has a
    /// template, else raw).
    #[arg(long, default_value = "auto", value_parser = PromptFormat::parse)]
    pub prompt: PromptFormat,
    /// Step delimiter; `\n` and `\n\n` are written with backslashes.
    #[arg(long, default_value = "\\n")]
    pub step_delimiter: String,
    /// Device: cpu, cuda:N, metal.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Type of a dense (safetensors) model's weights and activations: f32, f16 or bf16 (where
    /// the device supports it). GGUF models keep their stored types.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
}

/// Turns `\n` and `\t` written on a command line into the characters.
pub fn unescape(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\t", "\t")
}

impl RunArgs {
    /// The run configuration these flags describe.
    pub fn config(&self) -> RunConfig {
        RunConfig {
            dataset: self
                .dataset
                .clone()
                .with_options(self.dataset_format.clone(), self.skip_bad_lines),
            levels: self.levels.clone(),
            limit: self.limit,
            policy: self.policy.clone().unwrap_or_else(default_policy_dir),
            verifier: self.verifier.clone(),
            strategy: self.strategy.with(
                self.aggregation,
                self.beam_width,
                self.max_rounds,
                self.lookahead,
            ),
            budget: self.budget,
            sampling: SamplingParams {
                temperature: self.temperature,
                top_p: self.top_p,
                top_k: self.top_k,
                max_tokens: self.max_tokens,
                ignore_eos: false,
            },
            step_delimiter: unescape(&self.step_delimiter),
            prompt: self.prompt,
            seed: self.seed,
            device: self.device.clone(),
            dtype: self.dtype.clone(),
            thinkscale_version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    fn out_dir(&self, config: &RunConfig) -> PathBuf {
        if let Some(out) = &self.out {
            return out.clone();
        }
        let base = format!(
            "runs/{}-{}-b{}-s{}",
            config.dataset.short_name(),
            config.strategy.kind().as_str(),
            config.budget,
            config.seed
        );
        let mut dir = PathBuf::from(&base);
        let mut k = 2;
        while dir.exists() {
            dir = PathBuf::from(format!("{base}-{k}"));
            k += 1;
        }
        dir
    }
}

/// Runs `run`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let config = args.config();
    config.validate()?;
    let out = args.out_dir(&config);
    if out.exists() {
        anyhow::bail!(
            "output directory {} already exists; choose another --out",
            out.display()
        );
    }
    let cancel = CancelToken::from_flag(super::interrupt_flag());
    let bar = super::progress_bar(0, "problems")?;
    let mut correct = 0usize;
    let result = runner::run(&config, &out, &cancel, &mut |e| match e {
        RunEvent::Started { total } => bar.set_length(total as u64),
        RunEvent::ProblemDone { index, record } => {
            correct += record.correct as usize;
            bar.set_position(index as u64 + 1);
            bar.set_message(format!(
                "accuracy {:.3}",
                correct as f64 / (index + 1) as f64
            ));
        }
        RunEvent::Search { .. } => {}
    })?;
    bar.finish_and_clear();
    let s = &result.summary;
    println!(
        "{} on {}, budget {}, verifier {}, seed {}",
        config.strategy, config.dataset, config.budget, config.verifier, config.seed
    );
    println!("{:<8} {:>8} {:>9}", "level", "problems", "accuracy");
    for (level, l) in &s.per_level {
        println!("{:<8} {:>8} {:>9.3}", level, l.n, l.accuracy);
    }
    println!("{:<8} {:>8} {:>9.3}", "all", s.n, s.accuracy);
    println!(
        "compute: {} generations; policy {} prompt ({} more from the prefix cache, {} \
         recomputed) + {} generated tokens, {:.3e} FLOPs; verifier {} tokens, {:.3e} FLOPs; \
         {:.1} s",
        s.compute.generations,
        s.compute.prompt_tokens,
        s.compute.prompt_tokens_cached,
        s.compute.recomputed_tokens,
        s.compute.generated_tokens,
        s.compute.policy_flops,
        s.compute.verifier_tokens,
        s.compute.verifier_flops,
        s.elapsed_s
    );
    println!("results: {}", out.display());
    if result.cancelled {
        eprintln!(
            "interrupted: {} finished problems kept in {}",
            s.n,
            out.display()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}
