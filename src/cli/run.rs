//! `thinkscale run`: search every selected problem with one strategy and budget, and record it.

use crate::data::jsonl::JsonlFormat;
use crate::data::revision::RevisionTemplate;
use crate::data::DatasetSpec;
use crate::engine::default_policy_dir;
use crate::engine::{PromptFormat, SamplingParams};
use crate::runner::optimal::{self, OptimalRunConfig};
use crate::runner::sweep::{self as sweep_run, SweepConfig, SweepEvent};
use crate::runner::RunConfig;
use crate::search::adaptive;
use crate::search::mcts::{self, MctsParams, MctsSelect, MctsValue, TreeRule};
use crate::search::revisions::RevisionSelection;
use crate::search::spec::{
    Confidence, Exploration, ResampleTemperature, Temperature, DEFAULT_BEAM_WIDTH,
    DEFAULT_MAX_ROUNDS,
};
use crate::search::{Aggregation, CancelToken, StrategyKind};
use crate::store::Summary;
use crate::verify::VerifierSpec;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// The strategy of `run`: one of the search strategies, or a sweep's compute-optimal table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStrategy {
    /// One strategy.
    Kind(StrategyKind),
    /// Per problem, the table's choice for its predicted difficulty bin.
    ComputeOptimal,
}

impl RunStrategy {
    /// Parses a strategy name or `compute-optimal`.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.trim() == "compute-optimal" {
            return Ok(Self::ComputeOptimal);
        }
        StrategyKind::parse(s)
            .map(Self::Kind)
            .map_err(|e| format!("{e}, or compute-optimal (with --table)"))
    }
}

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
    /// tree search), revisions (parallel chains of sequential revisions, see --chains),
    /// adaptive-majority (majority voting that stops once the vote is settled, see
    /// --batch and --confidence), rebase (reward-balanced search, see
    /// --rebase-temperature), particles (particle filtering, see --resample-temperature), mcts
    /// (Monte Carlo tree search, see --tree-rule, --mcts-value, --expansion-width), or
    /// compute-optimal (the setting a sweep's --table chose for each
    /// problem's predicted difficulty bin). README defines each exactly.
    #[arg(long, default_value = "weighted-best-of-n", value_parser = RunStrategy::parse)]
    pub strategy: RunStrategy,
    /// The compute-optimal table a sweep wrote (`optimal-table.json`), for
    /// `--strategy compute-optimal`; the policy, verifier and sampling are the table's sweep's,
    /// and --budget is a compute budget in generations the table has choices for.
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// Samples per problem that predict its difficulty bin under `--strategy compute-optimal`
    /// (default: as many as the sweep used); their compute is reported apart.
    #[arg(long, value_parser = super::parse_budget)]
    pub predict_samples: Option<usize>,
    /// Budget N: generations (full-solution equivalents) per problem; for beam search and
    /// DVTS the number of beams. At most 65,536.
    #[arg(long, default_value_t = 16, value_parser = super::parse_budget)]
    pub budget: usize,
    /// Beam width M of beam, lookahead and dvts: each kept prefix is expanded M times, N/M
    /// prefixes are kept (beam) or N/M subtrees searched (dvts). Must divide the budget.
    #[arg(long, default_value_t = DEFAULT_BEAM_WIDTH)]
    pub beam_width: usize,
    /// Rounds (steps) of beam, lookahead, dvts, rebase and particles before the surviving
    /// prefixes are run to the end of their solutions; of mcts before the leaves it selects
    /// are.
    #[arg(long, default_value_t = DEFAULT_MAX_ROUNDS)]
    pub max_rounds: usize,
    /// Lookahead k of the lookahead strategy: steps rolled out greedily from each candidate
    /// step before the verifier scores it (costs N x (k + 1) generations).
    #[arg(long, default_value_t = 1)]
    pub lookahead: usize,
    /// P of revisions: parallel chains of sequential revisions, each of N/P attempts (must
    /// divide the budget). `--chains 1` spends the whole budget on one chain.
    #[arg(long, default_value_t = 1, conflicts_with = "revision_ratio")]
    pub chains: usize,
    /// The sequential:parallel ratio of revisions as L:P (attempts per chain : chains), e.g.
    /// 4:4 at budget 16; L x P must equal the budget. Instead of --chains.
    #[arg(long, value_parser = parse_ratio)]
    pub revision_ratio: Option<(usize, usize)>,
    /// How revisions choose their answer: majority (over every attempt of every chain) or
    /// hierarchical (weighted best-of-N by the verifier within each chain, then across the
    /// chains' winners).
    #[arg(long, default_value = "majority", value_parser = RevisionSelection::parse)]
    pub revision_selection: RevisionSelection,
    /// How a revision sees its chain's earlier attempts (the most recent 4): plain (each
    /// attempt and a blank line: what the toy reviser is trained on) or prompted (attempts
    /// headed "Attempt n:" and a request to correct them, for models not trained to revise).
    #[arg(long, default_value = "plain", value_parser = RevisionTemplate::parse)]
    pub revision_template: RevisionTemplate,
    /// Adaptive majority: samples drawn per round (round r draws min(batch, N - drawn)).
    #[arg(long, default_value_t = adaptive::DEFAULT_BATCH)]
    pub batch: usize,
    /// Adaptive majority: stop once the probability that a Beta(v1 + 1, v2 + 1) variable
    /// exceeds 1/2 (v1, v2 the votes of the two leading answers) reaches this, above 0.5 and at
    /// most 1.
    #[arg(long, default_value_t = Confidence::default(), value_parser = parse_confidence)]
    pub confidence: Confidence,
    /// REBASE: the temperature T of the softmax over the prefixes' scores that shares the
    /// width among them (lower: more to the best-scoring), above 0.
    #[arg(long, default_value_t = Temperature::default(), value_parser = parse_temperature)]
    pub rebase_temperature: Temperature,
    /// Particle filtering: the temperature T of the resampling softmax over the particles'
    /// logit(score) weights, above 0.
    #[arg(long, default_value_t = ResampleTemperature::default(), value_parser = parse_resample_temperature)]
    pub resample_temperature: ResampleTemperature,
    #[command(flatten)]
    pub mcts: MctsArgs,
    /// Verifier that scores every step: oracle (the toy task's exact checker, reads the
    /// reference), logprob (the policy's own token log-probabilities; also logprob-step-mean,
    /// logprob-step-min, logprob-argmax-gap, and self-certainty for local policies),
    /// toy-prm / toy-orm (the
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
    /// Only these problems, by id, comma-separated (e.g. a difficulty bin of an earlier sweep).
    #[arg(long, value_delimiter = ',')]
    pub problem_ids: Vec<String>,
    /// Seed of the run; every problem's search seed derives from it and the problem id.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Continue the run in --out (after an interruption or a failure, a server that went
    /// away say): problems on disk are kept, the rest run. The flags must describe the same run.
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Problems searched at once, their rounds sharing batched policy calls (the records are
    /// those of one at a time). Default: 8 on the local engine, --concurrency with a server. A
    /// small model on the CPU (the toy models) searches them in one group per core, each on
    /// an engine of its own.
    #[arg(long)]
    pub parallel_problems: Option<usize>,
    /// Output directory; must not exist (but with --resume). Default:
    /// runs/DATASET-STRATEGY-bBUDGET-sSEED (with a
    /// numeric suffix if taken).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Policy model: a directory in Hugging Face layout, a .gguf file, ORG/NAME in the local
    /// Hugging Face cache, or an inference server, remote:http://HOST:PORT (llama.cpp's
    /// llama-server, vLLM, SGLang). Default: the committed toy policy.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub remote: super::remote::RemoteArgs,
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

/// MCTS's flags (`run`; `sweep` takes lists of the tree rule and value).
#[derive(Debug, Args)]
pub struct MctsArgs {
    /// MCTS: W, next steps sampled when a leaf is expanded.
    #[arg(long, default_value_t = mcts::DEFAULT_EXPANSION_WIDTH)]
    pub expansion_width: usize,
    /// MCTS: how selection scores a child: puct (Q + (ln((N_p + 19653)/19652) + 1.25) P
    /// sqrt(N_p)/(1 + N_c), P the softmax over siblings of their steps' mean token
    /// log-probability) or uct (Q + c sqrt(ln N_p / N_c)).
    #[arg(long, default_value = "puct", value_parser = TreeRule::parse)]
    pub tree_rule: TreeRule,
    /// MCTS: UCT's exploration constant c, above 0 and at most 100.
    #[arg(long, default_value_t = Exploration::default(), value_parser = parse_exploration)]
    pub exploration: Exploration,
    /// MCTS: the value backed up: step (the new child's verifier score) or rollout (the
    /// aggregated score of a simulation to the end of the solution, kept as a candidate).
    #[arg(long, default_value = "step", value_parser = MctsValue::parse)]
    pub mcts_value: MctsValue,
    /// MCTS: how the answer is chosen: vote (weighted by the candidates' scores), max-value
    /// (the best-scoring candidate) or max-visits (the most-visited path's best candidate).
    #[arg(long, default_value = "vote", value_parser = MctsSelect::parse)]
    pub mcts_select: MctsSelect,
    /// MCTS: P, paths selected per round (a virtual loss spreads them), expanded in one
    /// batched policy call.
    #[arg(long, default_value_t = mcts::DEFAULT_SELECTIONS)]
    pub selections_per_round: usize,
}

impl MctsArgs {
    /// The parameters, with `tree_rule` and `value` as given.
    pub fn params(&self, tree_rule: TreeRule, value: MctsValue) -> MctsParams {
        MctsParams {
            expansion_width: self.expansion_width,
            tree_rule,
            exploration: self.exploration,
            value,
            select: self.mcts_select,
            selections_per_round: self.selections_per_round,
        }
    }
}

/// Parses `--exploration`: a number above 0 and at most 100.
pub(crate) fn parse_exploration(s: &str) -> Result<Exploration, String> {
    let c: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("exploration '{s}': a number such as 2"))?;
    Exploration::new(c)
}

/// Parses `--confidence`: a probability above 0.5 and at most 1.
pub(crate) fn parse_confidence(s: &str) -> Result<Confidence, String> {
    let p: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("confidence '{s}': a number such as 0.95"))?;
    Confidence::new(p)
}

/// Parses `--rebase-temperature`: a number above 0.
pub(crate) fn parse_temperature(s: &str) -> Result<Temperature, String> {
    let t: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("REBASE temperature '{s}': a number such as 0.2"))?;
    Temperature::new(t)
}

/// Parses `--resample-temperature`: a number above 0.
pub(crate) fn parse_resample_temperature(s: &str) -> Result<ResampleTemperature, String> {
    let t: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("resample temperature '{s}': a number such as 1"))?;
    ResampleTemperature::new(t)
}

/// Parses a sequential:parallel ratio `L:P` (attempts per chain : chains).
pub fn parse_ratio(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("revision ratio '{s}': write L:P, attempts per chain : chains, e.g. 4:4");
    let (l, p) = s.split_once(':').ok_or_else(bad)?;
    let l: usize = l.trim().parse().map_err(|_| bad())?;
    let p: usize = p.trim().parse().map_err(|_| bad())?;
    if l == 0 || p == 0 {
        return Err(bad());
    }
    Ok((l, p))
}

/// Turns `\n` and `\t` written on a command line into the characters.
pub fn unescape(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\t", "\t")
}

impl RunArgs {
    /// The run configuration these flags describe (with `kind` as the strategy).
    pub fn config(&self, kind: StrategyKind) -> RunConfig {
        RunConfig {
            dataset: self
                .dataset
                .clone()
                .with_options(self.dataset_format.clone(), self.skip_bad_lines),
            levels: self.levels.clone(),
            problem_ids: self.problem_ids.clone(),
            limit: self.limit,
            policy: self.policy.clone().unwrap_or_else(default_policy_dir),
            remote: self.remote.options(),
            verifier: self.verifier.clone(),
            strategy: kind
                .with(
                    self.aggregation,
                    self.beam_width,
                    self.max_rounds,
                    self.lookahead,
                )
                .with_revisions(
                    self.revision_ratio.map_or(self.chains, |(_, p)| p),
                    self.revision_selection,
                    self.revision_template,
                )
                .with_adaptive(self.batch, self.confidence)
                .with_rebase(self.rebase_temperature)
                .with_particles(self.resample_temperature)
                .with_mcts(self.mcts.params(self.mcts.tree_rule, self.mcts.mcts_value)),
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

    fn out_dir(&self, strategy: &str) -> PathBuf {
        if let Some(out) = &self.out {
            return out.clone();
        }
        let base = format!(
            "runs/{}-{}-b{}-s{}",
            self.dataset.short_name(),
            strategy,
            self.budget,
            self.seed
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

/// Runs `run`: a sweep of one (see [`SweepConfig::single`]); the directory holds the sweep's
/// `sweep.json` and `records.jsonl` and the run's `config.json` and `summary.json`.
pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let kind = match args.strategy {
        RunStrategy::Kind(k) => k,
        RunStrategy::ComputeOptimal => return run_optimal(&args),
    };
    if args.table.is_some() || args.predict_samples.is_some() {
        anyhow::bail!("--table and --predict-samples go with --strategy compute-optimal");
    }
    let config = args.config(kind);
    if let Some((l, p)) = args.revision_ratio {
        if kind != StrategyKind::Revisions {
            anyhow::bail!("--revision-ratio goes with --strategy revisions");
        }
        if l * p != args.budget {
            anyhow::bail!(
                "--revision-ratio {l}:{p} spends {} generations, but --budget is {}",
                l * p,
                args.budget
            );
        }
    }
    config.validate()?;
    let out = args.out_dir(kind.as_str());
    if out.exists() && !args.resume {
        anyhow::bail!(
            "output directory {} already exists; choose another --out, or --resume it",
            out.display()
        );
    }
    let sweep = SweepConfig::single(&config);
    let cancel = CancelToken::from_flag(super::interrupt_flag());
    let bar = super::progress_bar(0, "problems")?;
    let mut correct = 0usize;
    let mut finished = 0usize;
    let mut config_written: anyhow::Result<()> = Ok(());
    let start = Instant::now();
    let parallel = super::sweep::parallel_problems(args.parallel_problems, &sweep);
    let result = sweep_run::run_with(
        &sweep,
        &out,
        args.resume,
        parallel,
        &cancel,
        &mut |e| match e {
            SweepEvent::Started { total, done } => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                finished = done;
                config_written = crate::io::write_json(&out.join("config.json"), &config);
            }
            SweepEvent::Done { correct: c, .. } => {
                correct += usize::from(c);
                finished += 1;
                bar.set_position(finished as u64);
                bar.set_message(format!("accuracy {:.3}", correct as f64 / finished as f64));
            }
        },
    );
    bar.finish_and_clear();
    config_written?;
    // The summary of whatever is on disk, also when the run failed or was interrupted.
    let records: Vec<_> = match sweep_run::load(&out) {
        Ok((_, r)) => r.into_iter().map(|r| r.record).collect(),
        Err(_) => Vec::new(),
    };
    let complete = result.as_ref().is_ok_and(|o| !o.cancelled);
    let s = Summary::from_records(&records, complete, start.elapsed().as_secs_f64());
    if out.exists() {
        crate::io::write_json(&out.join("summary.json"), &s)?;
    }
    let outcome = result?;
    println!(
        "{} on {}, budget {}, verifier {}, seed {}",
        config.strategy, config.dataset, config.budget, config.verifier, config.seed
    );
    print_summary(&s);
    println!("results: {}", out.display());
    if outcome.cancelled {
        eprintln!(
            "interrupted: {} finished problems kept in {}; --resume continues",
            s.n,
            out.display()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &Summary) {
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
}

/// `run --strategy compute-optimal --table FILE`.
fn run_optimal(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let Some(path) = &args.table else {
        anyhow::bail!(
            "--strategy compute-optimal needs --table FILE (a sweep writes optimal-table.json)"
        );
    };
    let (table, sha) = optimal::read_table(path)?;
    let cfg = OptimalRunConfig {
        table: path.clone(),
        table_sha256: sha,
        cost: args.budget as f64,
        predict_samples: args.predict_samples.unwrap_or(table.predict_samples),
        dataset: args
            .dataset
            .clone()
            .with_options(args.dataset_format.clone(), args.skip_bad_lines),
        levels: args.levels.clone(),
        limit: args.limit,
        seed: args.seed,
        thinkscale_version: env!("CARGO_PKG_VERSION").into(),
    };
    let out = args.out_dir("compute-optimal");
    let cancel = CancelToken::from_flag(super::interrupt_flag());
    let bar = super::progress_bar(0, "problems")?;
    let mut correct = 0usize;
    let (summary, cancelled) = optimal::run(&cfg, &table, &out, &cancel, &mut |i, total, r| {
        bar.set_length(total as u64);
        bar.set_position(i as u64 + 1);
        correct += usize::from(r.record.correct);
        bar.set_message(format!("accuracy {:.3}", correct as f64 / (i + 1) as f64));
    })?;
    bar.finish_and_clear();
    println!(
        "compute-optimal at {} generations (table {}), bins predicted from {} samples per \
         problem; problems per predicted bin {:?}",
        cfg.cost,
        path.display(),
        cfg.predict_samples,
        summary.bin_sizes
    );
    print_summary(&summary.summary);
    let p = &summary.prediction;
    println!(
        "bin prediction, apart: {} generations, {} generated tokens, {:.3e} policy FLOPs, {} \
         verifier tokens",
        p.generations, p.generated_tokens, p.policy_flops, p.verifier_tokens
    );
    println!("results: {}", out.display());
    if cancelled {
        eprintln!(
            "interrupted: {} finished problems kept in {}",
            summary.summary.n,
            out.display()
        );
        return Ok(ExitCode::from(130));
    }
    Ok(ExitCode::SUCCESS)
}
