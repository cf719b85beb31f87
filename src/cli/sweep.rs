//! `thinkscale sweep`: strategies x budgets x seeds as one resumable experiment, then every
//! curve, the difficulty bins and the compute-optimal table from its records.

use super::run::{
    parse_confidence, parse_exploration, parse_resample_temperature, parse_temperature,
};
use crate::analysis::sweep::{curves, SweepCurves};
use crate::data::jsonl::JsonlFormat;
use crate::data::revision::RevisionTemplate;
use crate::data::DatasetSpec;
use crate::engine::{beside_crate, default_policy_dir, PromptFormat, SamplingParams};
use crate::export::{write_figure_set, Format, Preset};
use crate::io::write_json;
use crate::runner::parallel::default_parallel;
use crate::runner::sweep::{
    self, AdaptiveParams, BeamWidth, SqrtTag, SweepConfig, SweepEvent, SweepOutcome, TypedModel,
    PAPER_EXCHANGE_RATIOS,
};
use crate::search::adaptive;
use crate::search::mcts::{self, MctsParams, MctsSelect, MctsValue, TreeRule};
use crate::search::revisions::RevisionSelection;
use crate::search::spec::{
    Confidence, Exploration, ResampleTemperature, Temperature, DEFAULT_MAX_ROUNDS,
};
use crate::search::{Aggregation, CancelToken, StrategyKind};
use crate::verify::{VerifierList, VerifierSpec};
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The sweep's configuration as TOML (the fields of `sweep.json`'s `config`); without it,
    /// the flags below describe the sweep.
    #[arg(long, conflicts_with_all = ["load", "preset"])]
    pub config: Option<PathBuf>,
    /// A ready-made sweep: `paper-toy`, the paper's design on the toy world (majority, weighted
    /// best-of-N, beam search M = 4 and sqrt(N), lookahead k = 1 and 3, DVTS; budgets 1 to 64;
    /// 5 difficulty bins; compute-optimal; the FLOPs exchange against the larger toy policy),
    /// writing the figure set. --limit, --verifier, --seeds, --out and --resume still apply.
    ///
    /// `search-zoo`: majority, weighted best-of-N, beam (M = 4), DVTS, MCTS (puct/step and
    /// uct/rollout), REBASE, particles and adaptive majority at budgets 1 to 64 against the
    /// noisy oracle at Q = 0.7, 0.8, 0.9 and the oracle (one sweep each, two at a time, in
    /// OUT/VERIFIER), then one figure at equal tokens and the findings (OUT/findings.md).
    #[arg(long, conflicts_with = "load", value_parser = ["paper-toy", "search-zoo"])]
    pub preset: Option<String>,
    /// Rebuild the curves of an existing sweep directory from its records (no model runs).
    #[arg(long)]
    pub load: Option<PathBuf>,
    /// Continue the sweep in --out: skip what is on disk, run the rest.
    #[arg(long)]
    pub resume: bool,
    /// Problems searched at once, their rounds sharing batched policy calls (the records are
    /// those of one at a time). Default: 8 on the local engine, --concurrency with a server. A
    /// small model on the CPU (the toy models) searches them in one group per core, each on
    /// an engine of its own.
    #[arg(long)]
    pub parallel_problems: Option<usize>,
    /// Output directory (empty or new; with --resume, the sweep's own). Default:
    /// runs/sweep-DATASET.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Strategies, comma-separated: majority, best-of-n, weighted-best-of-n (read from one bank
    /// of samples), beam, lookahead, dvts, revisions (run at every budget).
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = StrategyKind::parse,
        default_value = "majority,weighted-best-of-n,beam"
    )]
    pub strategies: Vec<StrategyKind>,
    /// Generation budgets N, comma-separated, each at most 65,536.
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = super::parse_budget,
        default_value = "1,2,4,8,16"
    )]
    pub budgets: Vec<usize>,
    /// Beam widths M of the tree searches: numbers or `sqrt` (M = floor(sqrt(N))).
    #[arg(long, value_delimiter = ',', value_parser = BeamWidth::parse, default_value = "4")]
    pub beam_widths: Vec<BeamWidth>,
    /// Parallel chains P of revisions: numbers or `sqrt` (P = floor(sqrt(N))); each chain
    /// holds N/P attempts.
    #[arg(long, value_delimiter = ',', value_parser = BeamWidth::parse, default_value = "1")]
    pub chains: Vec<BeamWidth>,
    /// How revisions choose their answer: majority or hierarchical (see `run`).
    #[arg(long, default_value = "majority", value_parser = RevisionSelection::parse)]
    pub revision_selection: RevisionSelection,
    /// How a revision sees earlier attempts: plain or prompted (see `run`).
    #[arg(long, default_value = "plain", value_parser = RevisionTemplate::parse)]
    pub revision_template: RevisionTemplate,
    /// Adaptive majority: samples drawn per round (see `run`).
    #[arg(long, default_value_t = adaptive::DEFAULT_BATCH)]
    pub batch: usize,
    /// Adaptive majority: the stopping confidence, above 0.5 and at most 1 (see `run`).
    #[arg(long, default_value_t = Confidence::default(), value_parser = parse_confidence)]
    pub confidence: Confidence,
    /// REBASE: the softmax temperature over the prefixes' scores (see `run`).
    #[arg(long, default_value_t = Temperature::default(), value_parser = parse_temperature)]
    pub rebase_temperature: Temperature,
    /// Particle filtering: the resampling temperature (see `run`).
    #[arg(long, default_value_t = ResampleTemperature::default(), value_parser = parse_resample_temperature)]
    pub resample_temperature: ResampleTemperature,
    /// MCTS: tree rules, comma-separated (puct, uct; see `run`); with --mcts-value, one series
    /// per pair.
    #[arg(long, value_delimiter = ',', value_parser = TreeRule::parse, default_value = "puct")]
    pub tree_rule: Vec<TreeRule>,
    /// MCTS: values backed up, comma-separated (step, rollout; see `run`).
    #[arg(long, value_delimiter = ',', value_parser = MctsValue::parse, default_value = "step")]
    pub mcts_value: Vec<MctsValue>,
    /// MCTS: W, next steps sampled per expanded leaf.
    #[arg(long, default_value_t = mcts::DEFAULT_EXPANSION_WIDTH)]
    pub expansion_width: usize,
    /// MCTS: UCT's exploration constant c.
    #[arg(long, default_value_t = Exploration::default(), value_parser = parse_exploration)]
    pub exploration: Exploration,
    /// MCTS: how the answer is chosen: vote, max-value or max-visits (see `run`).
    #[arg(long, default_value = "vote", value_parser = MctsSelect::parse)]
    pub mcts_select: MctsSelect,
    /// MCTS: P, paths selected per round.
    #[arg(long, default_value_t = mcts::DEFAULT_SELECTIONS)]
    pub selections_per_round: usize,
    /// Lookaheads k of lookahead search.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub lookaheads: Vec<usize>,
    /// Rounds of the tree searches.
    #[arg(long, default_value_t = DEFAULT_MAX_ROUNDS)]
    pub max_rounds: usize,
    /// How step scores become a solution score: last, min, prod, mean.
    #[arg(long, default_value = "last", value_parser = Aggregation::parse)]
    pub aggregation: Aggregation,
    /// Seeds, comma-separated; every run repeats per seed.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub seeds: Vec<u64>,
    /// Random subsets per budget when reading the bank of samples.
    #[arg(long, default_value_t = 1000)]
    pub draws: usize,
    /// Samples per problem behind the oracle difficulty bins (0: from the bank).
    #[arg(long, default_value_t = 64, value_parser = super::parse_budget_or_zero)]
    pub bin_samples: usize,
    /// Dataset: toy or a JSONL file.
    #[arg(long, default_value = "toy", value_parser = DatasetSpec::parse)]
    pub dataset: DatasetSpec,
    /// Format of a JSONL dataset (default: guessed).
    #[arg(long, value_parser = JsonlFormat::parse)]
    pub dataset_format: Option<JsonlFormat>,
    /// Only these levels.
    #[arg(long, value_delimiter = ',')]
    pub levels: Vec<u8>,
    /// Only these problems, by id, comma-separated (e.g. a difficulty bin of an earlier sweep).
    #[arg(long, value_delimiter = ',')]
    pub problem_ids: Vec<String>,
    /// At most this many problems.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Policy model, or an inference server remote:http://HOST:PORT (default: the toy policy).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub remote: super::remote::RemoteArgs,
    /// Verifier: oracle, logprob (and its readings: logprob-step-mean, logprob-step-min,
    /// logprob-argmax-gap, self-certainty), toy-prm, toy-orm, noisy-oracle:Q[,blind=..], or a PRM
    /// directory. Default: oracle (the paper-toy preset: its own).
    #[arg(long, value_parser = VerifierSpec::parse)]
    pub verifier: Option<VerifierSpec>,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Most tokens per solution.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Prompt format: auto, raw, chat.
    #[arg(long, default_value = "auto", value_parser = PromptFormat::parse)]
    pub prompt: PromptFormat,
    /// Device: cpu, cuda:N, metal.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// A larger policy for the FLOPs exchange: it answers each problem once, greedily, and is
    /// compared per difficulty bin with the policy's compute-optimal accuracy at equal FLOPs.
    #[arg(long)]
    pub larger_policy: Option<PathBuf>,
    /// Verifiers that judge the bank's samples without steering, comma-separated (their step
    /// scores are kept in the records; `evaluate` reads them).
    #[arg(long, value_parser = VerifierSpec::parse_list, default_value = "")]
    pub judges: VerifierList,
    /// Ratios R = D_inference / D_pretrain at which to report the FLOPs exchange (default the
    /// paper's 0.16, 0.79, 22; with --load, they replace the sweep's).
    #[arg(long, value_delimiter = ',')]
    pub exchange_ratios: Vec<f64>,
    /// A larger model typed in for the FLOPs exchange, instead of --larger-policy: its
    /// parameters (with --larger-accuracy; works with --load too).
    #[arg(long, requires = "larger_accuracy", conflicts_with = "larger_policy")]
    pub larger_params: Option<u64>,
    /// The typed-in larger model's greedy accuracy on these problems: one value, or six (all
    /// problems, then difficulty bins 1 to 5).
    #[arg(long, value_delimiter = ',', requires = "larger_params")]
    pub larger_accuracy: Vec<f64>,
    /// The typed-in larger model's pretraining tokens (default: as many as the policy's).
    #[arg(long, requires = "larger_params")]
    pub larger_pretrain_tokens: Option<u64>,
}

impl SweepArgs {
    /// The MCTS settings: every tree rule with every value, the other parameters shared.
    fn mcts_settings(&self) -> Vec<MctsParams> {
        let mut out = Vec::new();
        for &tree_rule in &self.tree_rule {
            for &value in &self.mcts_value {
                out.push(MctsParams {
                    expansion_width: self.expansion_width,
                    tree_rule,
                    exploration: self.exploration,
                    value,
                    select: self.mcts_select,
                    selections_per_round: self.selections_per_round,
                });
            }
        }
        out
    }

    /// The configuration: from --config, a --preset, or the flags.
    pub fn sweep_config(&self) -> anyhow::Result<SweepConfig> {
        if self.preset.is_some() {
            return Ok(self.paper_toy());
        }
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            return toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
        }
        Ok(SweepConfig {
            dataset: self
                .dataset
                .clone()
                .with_options(self.dataset_format.clone(), false),
            levels: self.levels.clone(),
            problem_ids: self.problem_ids.clone(),
            limit: self.limit,
            policy: self.policy.clone().unwrap_or_else(default_policy_dir),
            remote: self.remote.options(),
            verifier: self.verifier.clone().unwrap_or(VerifierSpec::Oracle),
            strategies: self.strategies.clone(),
            budgets: self.budgets.clone(),
            beam_widths: self.beam_widths.clone(),
            lookaheads: self.lookaheads.clone(),
            chains: self.chains.clone(),
            revision_selection: self.revision_selection,
            revision_template: self.revision_template,
            adaptive: AdaptiveParams {
                batch: self.batch,
                confidence: self.confidence,
            },
            rebase_temperature: self.rebase_temperature,
            resample_temperature: self.resample_temperature,
            mcts: self.mcts_settings(),
            max_rounds: self.max_rounds,
            aggregation: self.aggregation,
            seeds: self.seeds.clone(),
            draws: self.draws,
            bin_samples: self.bin_samples,
            sampling: SamplingParams {
                temperature: self.temperature,
                max_tokens: self.max_tokens,
                ..Default::default()
            },
            step_delimiter: "\n".into(),
            prompt: self.prompt,
            device: self.device.clone(),
            dtype: "f32".into(),
            larger_policy: self.larger_policy.clone(),
            larger_typed: self.larger_typed(),
            exchange_ratios: self.exchange_ratios(),
            shared_bank: true,
            judges: self.judges.0.clone(),
            greedy: false,
        })
    }
}

/// Problems of the paper-toy preset (30 per level: it finishes in under half an hour on two
/// cores; `--limit` changes it).
pub const PAPER_TOY_PROBLEMS: usize = 150;

/// The verifier of the paper-toy preset: a fallible PRM with a blind spot, as learned PRMs are
/// (synthetic, and labelled so everywhere); `--verifier toy-prm` runs the learned one.
pub const PAPER_TOY_VERIFIER: &str = "noisy-oracle:0.8,blind=last-digit";

impl SweepArgs {
    /// The ratios R asked for, or the paper's.
    fn exchange_ratios(&self) -> Vec<f64> {
        if self.exchange_ratios.is_empty() {
            PAPER_EXCHANGE_RATIOS.to_vec()
        } else {
            self.exchange_ratios.clone()
        }
    }

    /// The typed-in larger model of --larger-params.
    fn larger_typed(&self) -> Option<TypedModel> {
        self.larger_params.map(|params| TypedModel {
            params,
            pretrain_tokens: self.larger_pretrain_tokens,
            accuracy: self.larger_accuracy.clone(),
        })
    }

    /// The paper-toy preset (Snell et al. 2024's design on the toy world).
    fn paper_toy(&self) -> SweepConfig {
        let verifier = self.verifier.clone().unwrap_or_else(|| {
            VerifierSpec::parse(PAPER_TOY_VERIFIER).unwrap_or(VerifierSpec::Oracle)
        });
        SweepConfig {
            dataset: DatasetSpec::Toy,
            levels: Vec::new(),
            problem_ids: Vec::new(),
            limit: Some(self.limit.unwrap_or(PAPER_TOY_PROBLEMS)),
            policy: self.policy.clone().unwrap_or_else(default_policy_dir),
            remote: self.remote.options(),
            verifier,
            strategies: vec![
                StrategyKind::Majority,
                StrategyKind::WeightedBestOfN,
                StrategyKind::Beam,
                StrategyKind::Lookahead,
                StrategyKind::Dvts,
            ],
            budgets: vec![1, 2, 4, 8, 16, 32, 64],
            beam_widths: vec![BeamWidth::Fixed(4), BeamWidth::Sqrt(SqrtTag::Sqrt)],
            lookaheads: vec![1, 3],
            chains: self.chains.clone(),
            revision_selection: self.revision_selection,
            revision_template: self.revision_template,
            adaptive: AdaptiveParams {
                batch: self.batch,
                confidence: self.confidence,
            },
            rebase_temperature: self.rebase_temperature,
            resample_temperature: self.resample_temperature,
            mcts: self.mcts_settings(),
            max_rounds: DEFAULT_MAX_ROUNDS,
            aggregation: Aggregation::Last,
            seeds: self.seeds.clone(),
            draws: 1000,
            bin_samples: 64,
            sampling: SamplingParams {
                temperature: 1.0,
                max_tokens: 256,
                ..Default::default()
            },
            step_delimiter: "\n".into(),
            prompt: PromptFormat::Raw,
            device: self.device.clone(),
            dtype: "f32".into(),
            larger_policy: Some(
                self.larger_policy
                    .clone()
                    .unwrap_or_else(|| beside_crate("models/toy/policy-large")),
            ),
            larger_typed: None,
            exchange_ratios: self.exchange_ratios(),
            shared_bank: true,
            judges: Vec::new(),
            greedy: false,
        }
    }
}

/// Writes `curves.json`, `curves.csv` and `optimal.md` beside the records and prints the
/// tables.
fn report(dir: &Path, c: &SweepCurves) -> anyhow::Result<()> {
    write_json(&dir.join("curves.json"), c)?;
    std::fs::write(dir.join("curves.csv"), c.csv())
        .with_context(|| format!("cannot write {}", dir.join("curves.csv").display()))?;
    std::fs::write(dir.join("optimal.md"), c.optimal_markdown())
        .with_context(|| format!("cannot write {}", dir.join("optimal.md").display()))?;
    println!("accuracy by budget ({} problems):", c.problems);
    print!("{}", c.markdown());
    println!(
        "\ndifficulty bins (oracle, pass@1 of {} samples): sizes {:?}; predicted bins agree on \
         {:.0}% ({:.0}% within one bin)",
        c.bins.oracle_samples,
        c.bins.oracle_sizes,
        100.0 * c.bins.agreement.same,
        100.0 * c.bins.agreement.within_one
    );
    println!("\ncompute-optimal by oracle bin (2-fold cross-validation, 20 splits):");
    print!("{}", c.optimal_markdown());
    let mut written = vec!["curves.json", "curves.csv", "optimal.md"];
    if let Some(t) = &c.table {
        write_json(&dir.join("optimal-table.json"), t)?;
        written.push("optimal-table.json");
        let all: Vec<String> = c
            .optimal_predicted
            .iter()
            .filter(|o| o.bin == 0)
            .map(|o| format!("{} {:.3}", o.cost, o.accuracy))
            .collect();
        println!(
            "compute-optimal by predicted bin (no ground truth; generations accuracy): {}",
            all.join(", ")
        );
    }
    if let Some(e) = &c.exchange {
        let md = format!(
            "FLOPs exchange: larger policy {} parameters vs {} (M = {:.2}), pretraining tokens {} vs \
             {} (ratio {:.2}); greedy accuracy of the larger policy against the policy's \
             compute-optimal accuracy at the matched budget M + 3(M*D_l/D_s - 1)/R, per oracle \
             bin:\n\n{}",
            e.larger_params,
            e.small_params,
            e.m,
            e.larger_pretrain_tokens
                .map_or("unknown".into(), |t| t.to_string()),
            e.small_pretrain_tokens
                .map_or("unknown".into(), |t| t.to_string()),
            e.pretrain_ratio,
            e.markdown()
        );
        std::fs::write(dir.join("exchange.md"), &md)
            .with_context(|| format!("cannot write {}", dir.join("exchange.md").display()))?;
        written.push("exchange.md");
        println!("\n{md}");
    }
    println!("\nwritten: {} ({})", dir.display(), written.join(", "));
    Ok(())
}

/// Runs `sweep`.
pub fn run(args: SweepArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.load {
        let (mut manifest, records) = sweep::load(dir)?;
        // An exchange asked for now: new ratios, or a larger model typed in.
        if !args.exchange_ratios.is_empty() {
            manifest.config.exchange_ratios = args.exchange_ratios.clone();
        }
        if let Some(t) = args.larger_typed() {
            t.validate()?;
            manifest.config.larger_typed = Some(t);
        }
        report(dir, &curves(&manifest, &records))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.preset.as_deref() == Some("search-zoo") {
        return super::zoo::run(&args);
    }
    let config = args.sweep_config()?;
    config.validate()?;
    let out = match &args.out {
        Some(o) => o.clone(),
        None => {
            let base = format!("runs/sweep-{}", config.dataset.short_name());
            let mut dir = PathBuf::from(&base);
            let mut k = 2;
            while dir.exists() && !args.resume {
                dir = PathBuf::from(format!("{base}-{k}"));
                k += 1;
            }
            dir
        }
    };
    let outcome = run_with_progress(&config, &out, args.resume, args.parallel_problems)?;
    let (manifest, records) = sweep::load(&out)?;
    let c = curves(&manifest, &records);
    report(&out, &c)?;
    if args.preset.is_some() && !outcome.cancelled {
        let mut n = 0;
        for format in [Format::Svg, Format::Png] {
            n += write_figure_set(&out, &manifest, &c, &records, Preset::Double, format)?.len();
        }
        println!(
            "figures: {} ({n} files: SVG and PNG, each with the CSV and JSON of its numbers)",
            out.join("figures").display()
        );
    }
    Ok(interrupted(&outcome, &out).unwrap_or(ExitCode::SUCCESS))
}

/// Moves a sweep's progress bar on one of its events: its length and position when it
/// starts (a resumed sweep starts part-way), one step and the run's name per record.
pub fn follow(bar: &indicatif::ProgressBar, e: SweepEvent) {
    match e {
        SweepEvent::Started { total, done } => {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.reset_eta();
        }
        SweepEvent::Done { run, .. } => {
            bar.inc(1);
            bar.set_message(run.to_string());
        }
    }
}

/// How many problems a run searches at once: `flag`'s number, else the backend's
/// ([`default_parallel`]), said on stderr.
pub fn parallel_problems(flag: Option<usize>, config: &SweepConfig) -> usize {
    let k = flag.unwrap_or_else(|| default_parallel(config)).max(1);
    eprintln!(
        "searching {k} problem{} at once (--parallel-problems)",
        if k == 1 { "" } else { "s" }
    );
    k
}

/// Runs (or resumes) a sweep with a progress bar (ETA; Ctrl-C stops after the records in
/// flight), `parallel` problems at once (see [`parallel_problems`]).
pub fn run_with_progress(
    config: &SweepConfig,
    out: &Path,
    resume: bool,
    parallel: Option<usize>,
) -> anyhow::Result<SweepOutcome> {
    let cancel = CancelToken::from_flag(super::interrupt_flag());
    let parallel = parallel_problems(parallel, config);
    let bar = super::progress_bar(0, "runs x problems")?;
    let outcome = sweep::run_with(config, out, resume, parallel, &cancel, &mut |e| {
        follow(&bar, e)
    })?;
    bar.finish_and_clear();
    Ok(outcome)
}

/// For an interrupted sweep: says what is on disk and how to go on, and gives exit code 130.
pub fn interrupted(outcome: &SweepOutcome, out: &Path) -> Option<ExitCode> {
    outcome.cancelled.then(|| {
        eprintln!(
            "interrupted: {} of {} runs x problems on disk in {}; --resume continues",
            outcome.done,
            outcome.total,
            out.display()
        );
        ExitCode::from(130)
    })
}
