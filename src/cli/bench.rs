//! `thinkscale bench`: prompt processing, generation at 1 to 32 parallel sequences from a
//! shared prompt, and a beam-search-shaped workload, on the engine and (with `--vs-server`) on
//! a llama.cpp server, printed side by side (see [`crate::bench`]).

use crate::bench::{self, llama_server::LlamaServer, BenchConfig};
use crate::engine::default_policy_dir;
use crate::engine::device::{parse_device, parse_dtype};
use crate::engine::CausalLm;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The model: a directory in Hugging Face layout, a .gguf file, or ORG/NAME in the local
    /// Hugging Face cache. Default: the committed toy policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// cpu, cuda:N or metal (GPU devices need a build with the matching feature).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Type of a dense (safetensors) model's weights and activations: f32, f16 or bf16 (where
    /// the device supports it). GGUF models keep their stored types.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Tokens of the prompt-processing workload.
    #[arg(long, default_value_t = 512)]
    pub prompt_tokens: usize,
    /// Tokens of the prompt the generation and beam workloads start from.
    #[arg(long, default_value_t = 64)]
    pub shared_tokens: usize,
    /// Tokens each sequence generates.
    #[arg(long, default_value_t = 64)]
    pub gen_tokens: usize,
    /// Parallel sequences of the generation workloads.
    #[arg(long, value_delimiter = ',', default_value = "1,8,16,32")]
    pub parallel: Vec<usize>,
    /// Beams kept per step of the beam workload.
    #[arg(long, default_value_t = 4)]
    pub beam_width: usize,
    /// Samples drawn from each beam per step.
    #[arg(long, default_value_t = 4)]
    pub expansions: usize,
    /// Steps of the beam workload.
    #[arg(long, default_value_t = 4)]
    pub steps: usize,
    /// Tokens per step.
    #[arg(long, default_value_t = 16)]
    pub step_tokens: usize,
    /// Seed of the sampled steps.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also run every workload against the llama.cpp server at this URL
    /// (http://HOST:PORT, serving the same model file) and print the ratios.
    #[arg(long)]
    pub vs_server: Option<String>,
    /// Print JSON (configuration, threads, every measurement) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let policy = args.policy.clone().unwrap_or_else(default_policy_dir);
    let device = parse_device(&args.device)?;
    let mut server = match &args.vs_server {
        Some(url) => Some(LlamaServer::connect(url)?),
        None => None,
    };
    let widest = args.parallel.iter().copied().max().unwrap_or(1);
    let widest = widest.max(args.beam_width * args.expansions);
    if let Some(slots) = server.as_ref().and_then(|s| s.slots) {
        if slots < widest {
            eprintln!(
                "warning: the server has {slots} slots and the widest workload sends {widest} \
                 requests at once; start it with -np {widest}"
            );
        }
    }
    let mut lm = CausalLm::load_as(&policy, &device, parse_dtype(&args.dtype)?)
        .map_err(|e| anyhow::anyhow!("cannot load {}: {e}", policy.display()))?;
    let cfg = BenchConfig {
        prompt_tokens: args.prompt_tokens,
        shared_tokens: args.shared_tokens,
        gen_tokens: args.gen_tokens,
        parallel: args.parallel.clone(),
        beam_width: args.beam_width,
        expansions: args.expansions,
        steps: args.steps,
        step_tokens: args.step_tokens,
        seed: args.seed,
    };
    let threads = candle_core::utils::get_num_threads();
    eprintln!(
        "{} ({} parameters) on {} ({}), {threads} threads{}",
        lm.dir.display(),
        lm.params,
        args.device,
        args.dtype,
        server
            .as_ref()
            .map(|s| format!(
                "; against llama.cpp at {} serving {}",
                args.vs_server.as_deref().unwrap_or_default(),
                s.model.as_deref().unwrap_or("?")
            ))
            .unwrap_or_default()
    );
    let bar = super::progress_bar(4 + cfg.parallel.len() as u64, "workloads")?;
    let rows = bench::run(&mut lm, &cfg, server.as_mut(), |w| {
        bar.set_message(w.to_string());
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    if args.json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "workload": r.workload,
                    "tokens": r.ours.tokens,
                    "seconds": r.ours.seconds,
                    "tokens_per_second": r.ours.rate(),
                    "server": r.server.map(|s| serde_json::json!({
                        "tokens": s.tokens, "seconds": s.seconds,
                        "tokens_per_second": s.rate(),
                    })),
                    "compute": r.meter,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "policy": lm.dir,
                "parameters": lm.params,
                "device": args.device,
                "dtype": args.dtype,
                "threads": threads,
                "server": args.vs_server,
                "config": {
                    "prompt_tokens": cfg.prompt_tokens, "shared_tokens": cfg.shared_tokens,
                    "gen_tokens": cfg.gen_tokens, "parallel": cfg.parallel,
                    "beam_width": cfg.beam_width, "expansions": cfg.expansions,
                    "steps": cfg.steps, "step_tokens": cfg.step_tokens, "seed": cfg.seed,
                },
                "results": rows,
            }))?
        );
    } else {
        print!("{}", bench::table(&rows, Some("llama.cpp")));
        if let Some(beam) = rows.last() {
            let m = &beam.meter;
            println!(
                "beam search prompt tokens: {} run, {} from the prefix cache, {} recomputed",
                m.prompt_tokens, m.prompt_tokens_cached, m.recomputed_tokens
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
