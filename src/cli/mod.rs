//! The command line: subcommands run headless. Without a subcommand, [`main`] says so and the
//! binary opens the workbench window (this module does not know the window).

pub mod bench;
pub mod evaluate;
pub mod grade;
pub mod inspect;
pub mod plot;
pub mod remote;
pub mod reselect;
pub mod revisions;
pub mod run;
pub mod sweep;
pub mod train;
pub mod zoo;

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// thinkscale: scale test-time compute — search over a model's reasoning steps against a verifier.
#[derive(Debug, Parser)]
#[command(name = "thinkscale", version, about, long_about = None)]
pub struct Cli {
    /// CPU threads for tensor work. Default: all cores for the commands that run models (run,
    /// sweep, evaluate, revisions, train, bench), 1 for the rest and the window (whose drawing
    /// needs a core of its own). RAYON_NUM_THREADS, if set, wins.
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Search every selected problem with one strategy and budget; write config.json,
    /// records.jsonl and summary.json to the output directory.
    Run(Box<run::RunArgs>),
    /// Sweep strategies x budgets x seeds as one resumable experiment; write the records, every
    /// accuracy curve (overall, per level, per difficulty bin) and the compute-optimal table.
    Sweep(Box<sweep::SweepArgs>),
    /// Draw a sweep's paper figures (accuracy, optimal, bins, scores) as SVG or PNG, each with
    /// the CSV and JSON of the numbers it draws and the sweep's configuration in its metadata.
    Plot(plot::PlotArgs),
    /// Measure a policy: greedy, pass@1, majority@k and pass@k per level.
    Evaluate(evaluate::EvaluateArgs),
    /// The sequential:parallel ratio table of sequential revisions: at one budget, every split
    /// into chains, with majority and with hierarchical selection per verifier, per level.
    Revisions(revisions::RevisionsArgs),
    /// Recompute a run's or a sweep's accuracy under every choice rule (aggregation x
    /// selection, and majority) from its stored candidates and step scores: no generation.
    Reselect(reselect::ReselectArgs),
    /// Describe a model (HF directory, GGUF file or cached repo id) without loading its
    /// weights: architecture, parameters, stored types, context, vocabulary, special tokens.
    Inspect(inspect::InspectArgs),
    /// Train a toy model from scratch on the synthetic task.
    #[command(subcommand)]
    Train(train::TrainCommand),
    /// Grade a predicted answer against a gold answer: print both normal forms and the
    /// verdict; exit 0 when equivalent, 1 when not, 2 on a usage error.
    Grade(grade::GradeArgs),
    /// Measure the engine: prompt tokens/s, generation at 1/8/16/32 parallel sequences from a
    /// shared prompt, a beam-search-shaped workload; with --vs-server, the same against a
    /// llama.cpp server, side by side.
    Bench(bench::BenchArgs),
    /// Open the workbench window (what `thinkscale` alone does), on a given policy and
    /// verifier, with a sweep open in its Plots tab.
    Gui(GuiArgs),
}

/// What `thinkscale gui` opens the window with.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GuiArgs {
    /// Policy model: a directory in Hugging Face layout or a .gguf file. Default: the toy policy.
    #[arg(long)]
    pub policy: Option<std::path::PathBuf>,
    /// Verifier to start with (the names `run --verifier` takes); it replaces the saved one.
    #[arg(long, value_parser = crate::verify::VerifierSpec::parse)]
    pub verifier: Option<crate::verify::VerifierSpec>,
    /// A sweep or run directory to open in the Plots tab; with --problem (and no --run), that
    /// problem's stored search is shown in the tree, ready to replay round by round.
    #[arg(long)]
    pub open: Option<std::path::PathBuf>,
    /// A toy problem to select, by id (e.g. toy-eval-0042).
    #[arg(long)]
    pub problem: Option<String>,
    /// Search the selected problem with the saved settings as soon as the policy has loaded.
    #[arg(long, requires = "problem")]
    pub run: bool,
}

/// What the binary does after parsing: exit with a code, or open the window.
#[derive(Debug)]
pub enum Next {
    /// A command ran; exit with this code.
    Exit(ExitCode),
    /// Open the window with these choices (all empty: `thinkscale` alone).
    Window(GuiArgs),
}

/// Parses a budget flag (`--budget`, `--budgets`, `--samples`...): a whole number from 1 to
/// [`crate::search::MAX_BUDGET`]. Checked here, before anything is allocated, so clap refuses
/// an oversized budget with a message naming the flag and exit code 2.
pub fn parse_budget(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of generations"))?;
    crate::search::check_budget(n)
}

/// [`parse_budget`], where 0 means "none" (`--bin-samples 0`).
pub fn parse_budget_or_zero(s: &str) -> Result<usize, String> {
    if s.trim() == "0" {
        return Ok(0);
    }
    parse_budget(s)
}

/// A flag set by Ctrl-C, installed once; long commands poll it and stop cleanly.
pub fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        if let Err(e) = ctrlc::set_handler(move || {
            if f.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!(
                "\ninterrupted: finishing the current item and saving (Ctrl-C again to quit now)"
            );
        }) {
            eprintln!("warning: cannot install the Ctrl-C handler: {e}");
        }
        flag
    })
    .clone()
}

/// Parses the arguments and runs the command, or says to open the window (no subcommand, or
/// `gui`), with the thread count already set.
pub fn main() -> anyhow::Result<Next> {
    let cli = Cli::parse();
    let threads = match (&cli.command, cli.threads) {
        (_, Some(n)) => Some(n.max(1)),
        (
            Some(
                Command::Train(_)
                | Command::Bench(_)
                | Command::Run(_)
                | Command::Sweep(_)
                | Command::Evaluate(_)
                | Command::Revisions(_),
            ),
            None,
        ) => None,
        (_, None) => Some(1),
    };
    // All cores, spelled out: candle asks for the thread count at every operation, and without
    // the variable it reads /proc/cpuinfo each time (measured: 4% of a decode step).
    let threads = threads.or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()));
    if let (Some(n), None) = (threads, std::env::var_os("RAYON_NUM_THREADS")) {
        // candle reads this variable for every matrix product. Set here, before any other
        // thread exists, so no thread can be reading the environment at the same time.
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
    }
    let Some(command) = cli.command else {
        return Ok(Next::Window(GuiArgs::default()));
    };
    match command {
        Command::Run(args) => run::run(*args),
        Command::Sweep(args) => sweep::run(*args),
        Command::Plot(args) => plot::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Revisions(args) => revisions::run(args),
        Command::Reselect(args) => reselect::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Train(cmd) => train::run(cmd),
        Command::Grade(args) => grade::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Gui(args) => {
            if let Some(dir) = &args.open {
                if !dir.join("sweep.json").is_file() {
                    anyhow::bail!(
                        "--open {}: not a sweep directory (no sweep.json)",
                        dir.display()
                    );
                }
            }
            if let Some(id) = &args.problem {
                if !crate::data::toy::eval_split().iter().any(|p| &p.id == id) {
                    anyhow::bail!("--problem {id}: no toy problem has this id");
                }
            }
            return Ok(Next::Window(args));
        }
    }
    .map(Next::Exit)
}

/// A progress bar on standard error; hidden (and silent) when standard error is not a terminal.
pub fn progress_bar(len: u64, unit: &str) -> anyhow::Result<indicatif::ProgressBar> {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(indicatif::ProgressStyle::with_template(&format!(
        "{{bar:40}} {{pos}}/{{len}} {unit}  {{msg}}  [{{elapsed_precise}} < {{eta}}]"
    ))?);
    Ok(bar)
}
