//! `thinkscale sweep --preset search-zoo`: the search strategies side by side at equal tokens,
//! one sweep per verifier quality, then one figure (a panel per verifier) and the findings.

use super::sweep::{follow, interrupted, SweepArgs};
use crate::analysis::sweep::{curves, SweepCurves};
use crate::analysis::zoo::{findings, Part};
use crate::data::DatasetSpec;
use crate::engine::{default_policy_dir, PromptFormat, SamplingParams};
use crate::export::{write_search_zoo, Preset};
use crate::io::write_json;
use crate::runner::sweep::{
    self, AdaptiveParams, BeamWidth, SweepConfig, SweepManifest, SweepOutcome, SweepRecord,
};
use crate::search::mcts::{MctsParams, MctsValue, TreeRule};
use crate::search::spec::DEFAULT_MAX_ROUNDS;
use crate::search::{Aggregation, CancelToken, StrategyKind};
use crate::verify::VerifierSpec;
use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

/// Problems of the search zoo (30 per level).
pub const ZOO_PROBLEMS: usize = 150;

/// The verifiers of the search zoo: the calibrated noisy oracle at three qualities, and the
/// oracle itself.
pub const ZOO_VERIFIERS: [&str; 4] = [
    "noisy-oracle:0.7",
    "noisy-oracle:0.8",
    "noisy-oracle:0.9",
    "oracle",
];

/// The strategies of the search zoo.
pub const ZOO_STRATEGIES: [StrategyKind; 8] = [
    StrategyKind::Majority,
    StrategyKind::WeightedBestOfN,
    StrategyKind::Beam,
    StrategyKind::Dvts,
    StrategyKind::Mcts,
    StrategyKind::Rebase,
    StrategyKind::Particles,
    StrategyKind::AdaptiveMajority,
];

/// The sweeps run at once (each decodes on one core: the toy policy runs fastest on one
/// thread).
const AT_ONCE: usize = 2;

/// The zoo's sweeps: per verifier, its directory's name and configuration.
pub fn configs(args: &SweepArgs) -> anyhow::Result<Vec<(String, SweepConfig)>> {
    ZOO_VERIFIERS
        .iter()
        .map(|v| {
            let verifier = VerifierSpec::parse(v).map_err(anyhow::Error::msg)?;
            let config = SweepConfig {
                dataset: DatasetSpec::Toy,
                levels: Vec::new(),
                problem_ids: Vec::new(),
                limit: Some(args.limit.unwrap_or(ZOO_PROBLEMS)),
                policy: args.policy.clone().unwrap_or_else(default_policy_dir),
                remote: args.remote.options(),
                verifier,
                strategies: ZOO_STRATEGIES.to_vec(),
                budgets: vec![1, 2, 4, 8, 16, 32, 64],
                beam_widths: vec![BeamWidth::Fixed(4)],
                lookaheads: vec![1],
                chains: vec![BeamWidth::Fixed(1)],
                revision_selection: Default::default(),
                revision_template: Default::default(),
                adaptive: AdaptiveParams::default(),
                rebase_temperature: Default::default(),
                resample_temperature: Default::default(),
                mcts: vec![
                    MctsParams::default(),
                    MctsParams {
                        tree_rule: TreeRule::Uct,
                        value: MctsValue::Rollout,
                        ..Default::default()
                    },
                ],
                max_rounds: DEFAULT_MAX_ROUNDS,
                aggregation: Aggregation::Last,
                seeds: args.seeds.clone(),
                draws: 200,
                // The oracle bins from the bank's 64 samples: no extra sampling.
                bin_samples: 0,
                sampling: SamplingParams {
                    temperature: 1.0,
                    max_tokens: 256,
                    ..Default::default()
                },
                step_delimiter: "\n".into(),
                prompt: PromptFormat::Raw,
                device: args.device.clone(),
                dtype: "f32".into(),
                larger_policy: None,
                larger_typed: None,
                exchange_ratios: Vec::new(),
                shared_bank: true,
                judges: Vec::new(),
                greedy: false,
            };
            Ok((v.replace(':', "-"), config))
        })
        .collect()
}

/// Runs the search zoo.
pub fn run(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let configs = configs(args)?;
    for (_, c) in &configs {
        c.validate()?;
    }
    let out = match &args.out {
        Some(o) => o.clone(),
        None => {
            let mut dir = PathBuf::from("runs/search-zoo");
            let mut k = 2;
            while dir.exists() && !args.resume {
                dir = PathBuf::from(format!("runs/search-zoo-{k}"));
                k += 1;
            }
            dir
        }
    };
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let cancel = CancelToken::from_flag(super::interrupt_flag());
    // Each of the sweeps running at once searches this many problems at once.
    let parallel = match configs.first() {
        Some((_, c)) => super::sweep::parallel_problems(args.parallel_problems, c),
        None => 1,
    };
    // Where the sweeps at once have a core each (or fewer), each keeps its engines' work on
    // its own thread, rather than all of them handing steps to one shared pool.
    let alone = crate::engine::qmatmul::pool_threads() <= AT_ONCE;
    let bars = indicatif::MultiProgress::new();
    let queue: Mutex<Vec<usize>> = Mutex::new((0..configs.len()).rev().collect());
    let outcomes: Mutex<Vec<Option<anyhow::Result<SweepOutcome>>>> =
        Mutex::new((0..configs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE {
            scope.spawn(|| loop {
                let Some(i) = queue.lock().ok().and_then(|mut q| q.pop()) else {
                    return;
                };
                let (name, config) = &configs[i];
                let bar = bars.add(indicatif::ProgressBar::new(0));
                if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
                    "{name:<18} {{bar:30}} {{pos}}/{{len}} runs x problems  {{msg}}  \
                     [{{elapsed_precise}} < {{eta}}]"
                )) {
                    bar.set_style(style);
                }
                let sweep = || {
                    sweep::run_with(
                        config,
                        &out.join(name),
                        args.resume,
                        parallel,
                        &cancel,
                        &mut |e| follow(&bar, e),
                    )
                };
                let result = if alone {
                    crate::engine::qmatmul::alone(sweep)
                } else {
                    sweep()
                };
                bar.finish();
                if let Ok(mut o) = outcomes.lock() {
                    o[i] = Some(result);
                }
            });
        }
    });
    let outcomes = outcomes
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a sweep of the zoo panicked"))?;
    let mut loaded: Vec<(String, SweepManifest, Vec<SweepRecord>)> = Vec::new();
    for ((name, config), outcome) in configs.iter().zip(outcomes) {
        let dir = out.join(name);
        let outcome = outcome
            .unwrap_or_else(|| Err(anyhow::anyhow!("the sweep did not run")))
            .with_context(|| format!("sweep {} ({})", dir.display(), config.verifier))?;
        if let Some(code) = interrupted(&outcome, &dir) {
            eprintln!(
                "the search zoo resumes with the same command and --resume --out {}",
                out.display()
            );
            return Ok(code);
        }
        let (manifest, records) = sweep::load(&dir)?;
        loaded.push((config.verifier.to_string(), manifest, records));
    }
    let all: Vec<SweepCurves> = loaded.iter().map(|(_, m, r)| curves(m, r)).collect();
    for ((name, _), c) in configs.iter().zip(&all) {
        let dir = out.join(name);
        write_json(&dir.join("curves.json"), c)?;
        std::fs::write(dir.join("curves.csv"), c.csv())
            .with_context(|| format!("cannot write {}", dir.join("curves.csv").display()))?;
    }
    let parts: Vec<Part<'_>> = loaded
        .iter()
        .zip(&all)
        .map(|((v, _, r), c)| Part {
            verifier: v.clone(),
            curves: c,
            records: r,
        })
        .collect();
    let f = findings(&parts);
    write_json(&out.join("findings.json"), &f)?;
    let md = f.markdown();
    std::fs::write(out.join("findings.md"), &md)
        .with_context(|| format!("cannot write {}", out.join("findings.md").display()))?;
    let figure_parts: Vec<(String, &SweepManifest, &SweepCurves)> = loaded
        .iter()
        .zip(&all)
        .map(|((v, m, _), c)| (v.clone(), m, c))
        .collect();
    let written = write_search_zoo(&out.join("figures"), &figure_parts, Preset::Double)?;
    println!("{md}");
    println!(
        "written: {} (per verifier: records, curves; findings.md and .json; {} figure files)",
        out.display(),
        written.len()
    );
    Ok(ExitCode::SUCCESS)
}
