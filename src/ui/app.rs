//! The app: state, the commands panels send, and the one place that applies them.

use super::panels;
use super::worker::{Job, Worker, WorkerEvent};
use crate::analysis::reselect::{self, Rule};
use crate::data::revision::RevisionTemplate;
use crate::data::{DatasetSpec, Problem};
use crate::engine::SamplingParams;
use crate::runner::RunConfig;
use crate::search::revisions::RevisionSelection;
use crate::search::spec::{DEFAULT_BEAM_WIDTH, DEFAULT_MAX_ROUNDS};
use crate::search::{Aggregation, NodeId, SearchEvent, SearchTree, StrategyKind, StrategySpec};
use crate::store::Record;
use crate::verify::VerifierSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The user's choices; what a future session restores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Strategy.
    pub strategy: StrategyKind,
    /// Step-score aggregation.
    pub aggregation: Aggregation,
    /// What scores the steps.
    pub verifier: VerifierSpec,
    /// Budget N.
    pub budget: usize,
    /// Beam width M of the tree searches.
    pub beam_width: usize,
    /// Rounds of the tree searches before the survivors run to the end.
    pub max_rounds: usize,
    /// Lookahead k of lookahead search.
    pub lookahead: usize,
    /// Parallel chains P of revisions (each of N/P attempts).
    pub chains: usize,
    /// How revisions choose their answer.
    pub revision_selection: RevisionSelection,
    /// How a revision sees its chain's earlier attempts.
    pub revision_template: RevisionTemplate,
    /// Adaptive majority: samples drawn per round.
    pub batch: usize,
    /// Adaptive majority: the stopping confidence.
    pub confidence: f64,
    /// REBASE: the softmax temperature over the prefixes' scores.
    pub rebase_temperature: f64,
    /// Particle filtering: the resampling temperature.
    pub resample_temperature: f64,
    /// MCTS: expansion width, tree rule, exploration, value, choice, selections per round.
    pub mcts: crate::search::mcts::MctsParams,
    /// Sampling temperature.
    pub temperature: f64,
    /// Seed.
    pub seed: u64,
    /// Show only this level in the problem list.
    pub level_filter: Option<u8>,
    /// Nucleus sampling: the smallest set of tokens whose probability reaches this.
    pub top_p: f64,
    /// The problems the window searches: the toy evaluation split or a JSONL file.
    pub dataset: DatasetSpec,
    /// The policy last chosen in the window (`None`: the embedded toy policy).
    pub policy: Option<PathBuf>,
    /// The strategies a sweep started in the window runs.
    pub sweep_strategies: Vec<StrategyKind>,
    /// How many problems a sweep started in the window runs.
    pub sweep_problems: usize,
    /// The budgets a sweep started in the window runs.
    pub sweep_budgets: Vec<usize>,
    /// A larger policy for a window sweep's FLOPs exchange.
    pub sweep_larger: Option<PathBuf>,
    /// The directory a path was last opened or written in (what path prompts start from).
    pub last_dir: Option<PathBuf>,
    /// What the window showed: the open sweep, the problem, the tab, the figure.
    pub session: super::session::Session,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            strategy: StrategyKind::WeightedBestOfN,
            aggregation: Aggregation::Last,
            verifier: VerifierSpec::Oracle,
            budget: 16,
            beam_width: DEFAULT_BEAM_WIDTH,
            max_rounds: DEFAULT_MAX_ROUNDS,
            lookahead: 1,
            chains: 4,
            revision_selection: RevisionSelection::Hierarchical,
            revision_template: RevisionTemplate::Plain,
            batch: crate::search::adaptive::DEFAULT_BATCH,
            confidence: crate::search::adaptive::DEFAULT_CONFIDENCE,
            rebase_temperature: crate::search::rebase::DEFAULT_TEMPERATURE,
            resample_temperature: crate::search::particles::DEFAULT_TEMPERATURE,
            mcts: Default::default(),
            temperature: 1.0,
            seed: 0,
            level_filter: None,
            top_p: 1.0,
            dataset: DatasetSpec::Toy,
            policy: None,
            sweep_strategies: vec![
                StrategyKind::Majority,
                StrategyKind::WeightedBestOfN,
                StrategyKind::Beam,
            ],
            sweep_problems: 20,
            sweep_budgets: vec![1, 2, 4, 8, 16],
            sweep_larger: None,
            last_dir: None,
            session: Default::default(),
        }
    }
}

impl Settings {
    /// The strategy with the parameters these settings give it.
    pub fn spec(&self) -> StrategySpec {
        self.strategy
            .with(
                self.aggregation,
                self.beam_width,
                self.max_rounds,
                self.lookahead,
            )
            .with_revisions(self.chains, self.revision_selection, self.revision_template)
            .with_adaptive(
                self.batch,
                crate::search::spec::Confidence::new(self.confidence).unwrap_or_default(),
            )
            .with_rebase(
                crate::search::spec::Temperature::new(self.rebase_temperature).unwrap_or_default(),
            )
            .with_particles(
                crate::search::spec::ResampleTemperature::new(self.resample_temperature)
                    .unwrap_or_default(),
            )
            .with_mcts(self.mcts)
    }
}

/// What panels ask for.
// A few commands a frame at most: their size does not matter, and whole settings are the
// simplest thing to send.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Select a problem (index into the dataset).
    SelectProblem(usize),
    /// Run the selected problem with the current settings.
    Run,
    /// Search the problems of this dataset.
    SetDataset(Box<DatasetSpec>),
    /// Load this policy (a directory or GGUF file) on a new worker.
    SetPolicy(PathBuf),
    /// Stop the running search.
    Cancel,
    /// Inspect a node of the tree.
    SelectNode(NodeId),
    /// Look at the tree this way.
    SetCamera(panels::tree_view::Camera),
    /// Collapse the branches under a node, or expand them again.
    ToggleCollapse(NodeId),
    /// Expand every collapsed branch.
    ExpandAll,
    /// Replace the settings.
    SetSettings(Settings),
    /// Write the figure set of the sweep in this directory (on a thread of its own).
    ExportFigures(PathBuf),
    /// Read a sweep directory for the Plots tab (on a thread of its own).
    OpenSweep(PathBuf),
    /// Read a second sweep to draw over the first.
    OpenOverlay(PathBuf),
    /// Stop drawing the overlay.
    CloseOverlay,
    /// Plot this difficulty bin (0: all problems).
    SetPlotBin(usize),
    /// Plot this figure.
    SetPlotFigure(Figure),
    /// Plot this panel of the figure (for figures whose panels are not bins).
    SetPlotPanel(usize),
    /// Write the figure on screen to this file (`.svg` or `.png`, with its CSV and JSON).
    ExportPlot(PathBuf),
    /// Write the tree on screen to this SVG file.
    ExportTree(PathBuf),
    /// Run this sweep into this directory (resuming it if it holds the same sweep).
    StartSweep(Box<crate::runner::sweep::SweepConfig>, PathBuf),
    /// Stop the sweep running from the window.
    CancelSweep,
    /// Show the tree or the plots in the centre.
    SetView(View),
    /// Filter the problem list by this text.
    SetProblemQuery(String),
    /// Show only this difficulty bin's problems (of the open sweep), or all.
    SetBinFilter(Option<usize>),
    /// Choose the finished search's answer again by this rule, from its candidates' stored
    /// step scores (no new generation); `None`: the run's own choice.
    SetSelectionRule(Option<Rule>),
    /// Show the search on screen at the end of this round (`None`: as it is now).
    SetReplay(Option<usize>),
    /// Show this record of the open sweep (index into its records) as the search on screen.
    ShowStored(usize),
    /// Show only the paths of wrong candidates in the tree, or everything.
    SetWrongOnly(bool),
    /// Ask for a path (a field, and the file dialog where there is one).
    AskPath(super::files::PathFor),
    /// The path prompt's field now holds this.
    SetPathText(String),
    /// Act on the path in the prompt.
    SubmitPath,
    /// Close the path prompt.
    CancelPath,
    /// Pick the prompt's path in the system's file dialog.
    BrowsePath,
    /// Keep the finished search on screen beside the next one, to compare them.
    Pin,
    /// Stop comparing.
    Unpin,
    /// Look at the pinned tree this way.
    SetPinnedCamera(panels::tree_view::Camera),
}

/// What the centre of the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum View {
    /// The search tree of the current problem.
    #[default]
    Tree,
    /// The curves of the open sweep.
    Plots,
}

pub use super::sweeps::LoadedSweep;
use super::sweeps::{read_sweep, Loading, SweepJob, Task};
use crate::export::Figure;
use std::sync::Arc;

/// State of the policy on the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelStatus {
    /// Being loaded.
    Loading,
    /// Ready: name and parameters.
    Ready(String, u64),
    /// Failed to load.
    Failed(String),
}

/// Which search drew the tree on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeInfo {
    /// Strategy with its parameters, verifier, budget, temperature and seed, in one line.
    pub header: String,
    /// Whether the strategy scored steps with the verifier.
    pub scored: bool,
    /// The configuration the search ran with and its problem's id (none for a tree not
    /// searched: what an export of the tree says made it).
    pub run: Option<(Box<RunConfig>, String)>,
}

impl TreeInfo {
    /// What `settings` run.
    pub fn of(settings: &Settings) -> Self {
        let s = settings;
        let mut h = s.strategy.as_str().to_string();
        if s.strategy.is_tree_search() {
            h += &format!(" (beam width {}, max rounds {}", s.beam_width, s.max_rounds);
            if s.strategy == StrategyKind::Lookahead {
                h += &format!(", lookahead {}", s.lookahead);
            }
            h += ")";
        }
        if s.strategy == StrategyKind::Revisions {
            h += &format!(
                " ({} chains x {} attempts, {}",
                s.chains,
                s.budget / s.chains.max(1),
                s.revision_selection.as_str()
            );
            if s.revision_template != RevisionTemplate::Plain {
                h += &format!(", {} template", s.revision_template.as_str());
            }
            h += ")";
        }
        if s.strategy == StrategyKind::Rebase {
            h += &format!(
                " (temperature {}, max rounds {})",
                s.rebase_temperature, s.max_rounds
            );
        }
        if s.strategy == StrategyKind::Particles {
            h += &format!(
                " (resample temperature {}, max rounds {})",
                s.resample_temperature, s.max_rounds
            );
        }
        if s.strategy == StrategyKind::Mcts {
            h += &format!(" ({}, max rounds {})", s.mcts.label(), s.max_rounds);
        }
        if s.strategy == StrategyKind::AdaptiveMajority {
            h += &format!(
                " (batch {}, confidence {}; stops once the vote is settled)",
                s.batch, s.confidence
            );
        }
        let scored = s.spec().uses_verifier();
        if scored {
            h += &format!(
                " · verifier {} ({} of step scores)",
                s.verifier,
                s.aggregation.as_str()
            );
        } else {
            h += " · no verifier";
        }
        h += &format!(" · budget N = {} · temperature {}", s.budget, s.temperature);
        if s.top_p < 1.0 {
            h += &format!(" · top-p {}", s.top_p);
        }
        h += &format!(" · seed {}", s.seed);
        Self {
            header: h,
            scored,
            run: None,
        }
    }
}

/// Results of this session, per level: (problems run, answered right).
pub type Tally = BTreeMap<u8, (usize, usize)>;

/// The workbench.
pub struct App {
    /// User choices.
    pub settings: Settings,
    /// The dataset's problems.
    pub problems: Vec<Problem>,
    /// Selected problem.
    pub selected: Option<usize>,
    /// The policy's state.
    pub model: ModelStatus,
    /// Progress of the running search: (problem index, done, total).
    pub running: Option<(usize, usize, usize)>,
    /// The tree of the current (or last) search, mirrored from events.
    pub tree: SearchTree,
    /// The tree's layout, recomputed when events change it (not every frame).
    pub tree_layout: panels::tree_view::TreeLayout,
    /// How the tree is looked at.
    pub tree_camera: panels::tree_view::Camera,
    /// Nodes whose branches are collapsed.
    pub collapsed: std::collections::BTreeSet<NodeId>,
    /// Which search drew the tree.
    pub tree_info: Option<TreeInfo>,
    /// Samples that ended in the policy call under way, before its events arrive: what the
    /// tree view shows while a batch runs.
    pub batch: Vec<String>,
    /// The last finished search.
    pub last: Option<Record>,
    /// The node that carries the chosen answer.
    pub chosen_leaf: Option<NodeId>,
    /// The rule the summary chooses the last search's answer by instead of the run's own
    /// (`None`: the run's own choice); reset by the next run.
    pub selection_rule: Option<Rule>,
    /// The node being inspected.
    pub selected_node: Option<NodeId>,
    /// Verdicts of problems run this session, by the settings they ran under (the tree
    /// header, [`TreeInfo::of`]), then problem id; a rerun replaces the earlier verdict.
    pub verdicts: BTreeMap<String, BTreeMap<String, bool>>,
    /// What the problem list's search box holds.
    pub problem_query: String,
    /// Show only the problems of this difficulty bin of the open sweep.
    pub bin_filter: Option<usize>,
    /// The last error, shown until the next run.
    pub error: Option<String>,
    /// What went wrong reading the kept settings (or dataset) at launch: shown until the
    /// settings change, a Run notwithstanding.
    pub notice: Option<String>,
    /// The figure export under way (its result arrives here), and the last one's outcome.
    pub export: Option<Task<String>>,
    /// What the last figure export wrote, or why it failed.
    pub export_status: Option<Result<String, String>>,
    /// The sweep open in the Plots tab.
    pub sweep: Option<Arc<LoadedSweep>>,
    /// The sweep being read.
    pub sweep_loading: Option<Loading>,
    /// A second sweep drawn over the first (faded), to compare two.
    pub overlay: Option<Arc<LoadedSweep>>,
    /// The overlay being read.
    pub overlay_loading: Option<Loading>,
    /// The sweep running from the window.
    pub sweep_job: Option<SweepJob>,
    /// When the running sweep's curves were last re-read.
    last_reload: Option<std::time::Instant>,
    /// Records landed since the curves were last re-read.
    reload_pending: bool,
    /// The bin the Plots tab draws (0: all problems).
    pub plot_bin: usize,
    /// The figure the Plots tab draws.
    pub plot_figure: Figure,
    /// The panel it draws, for figures whose panels are not bins (the exchange's ratio R).
    pub plot_panel: usize,
    /// The plot or tree export under way.
    pub plot_export: Option<Task<String>>,
    /// What the last plot or tree export wrote, or why it failed.
    pub plot_status: Option<Result<String, String>>,
    /// The centre's view.
    pub view: View,
    /// Where runs started in the window are kept (`None`: not kept): a sweep directory per
    /// configuration under it ([`crate::runner::sweep::record_one`]).
    pub runs_dir: Option<PathBuf>,
    /// The sweep directory the last run was kept in.
    pub kept: Option<PathBuf>,
    /// The verifier the worker holds loaded (it loads on the first search that uses it).
    pub verifier_loaded: Option<VerifierSpec>,
    /// Run the selected problem as soon as the policy has loaded (`thinkscale gui --run`).
    pub run_when_ready: bool,
    /// The round the tree view replays ([`super::replay`]); `None`: the search as it is now.
    pub replay: Option<usize>,
    /// Whether the tree view shows only the paths of wrong candidates.
    pub wrong_only: bool,
    /// The tree the view shows when it is not the search as it is (replayed, filtered).
    pub derived: Option<super::replay::Derived>,
    /// The record of the open sweep shown as the search on screen (index into its records).
    pub stored: Option<usize>,
    /// Show the selected problem's first stored search once the open sweep has been read
    /// (`gui --open DIR --problem ID`).
    pub show_stored_when_loaded: bool,
    /// The path prompt on screen ([`super::files`]).
    pub path_ask: Option<super::files::PathAsk>,
    /// Whether a file dialog was found unable to open (no desktop portal).
    pub no_dialog: bool,
    /// Messages in the window's corner: what an export wrote, or why it failed.
    pub toasts: Vec<super::files::Toast>,
    /// The search pinned beside the one on screen, to compare them ([`super::compare`]).
    pub pinned: Option<Box<super::compare::Pinned>>,
    /// The verifier-quality dial's re-scoring of the search on screen ([`super::dial`]).
    pub dial: Option<super::dial::Dial>,
    /// Why the dial could not re-score the search on screen.
    pub dial_error: Option<String>,
    /// Where the settings are kept between launches (`None`: not kept).
    settings_path: Option<PathBuf>,
    policy: PathBuf,
    worker: Worker,
    ctx: egui::Context,
}

/// The problems of `dataset`, with a note on the lines it skipped; an error names the file
/// and line when it cannot be read or holds no problem.
pub fn load_problems(dataset: &DatasetSpec) -> Result<(Vec<Problem>, Option<String>), String> {
    let loaded = dataset
        .load()
        .map_err(|e| format!("dataset {dataset}: {e}"))?;
    if loaded.problems.is_empty() {
        return Err(format!("dataset {dataset}: no problems"));
    }
    let note = loaded.skipped.first().map(|b| {
        format!(
            "dataset {dataset}: skipped {} bad line(s), the first {}: {}",
            loaded.skipped.len(),
            b.line,
            b.reason
        )
    });
    Ok((loaded.problems, note))
}

/// Where the window keeps its settings between launches: `$THINKSCALE_SETTINGS`, else
/// `$XDG_CONFIG_HOME/thinkscale/settings.json`, else `~/.config/thinkscale/settings.json`.
pub fn settings_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("THINKSCALE_SETTINGS") {
        return Some(PathBuf::from(p));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("thinkscale").join("settings.json"))
}

impl Settings {
    /// The settings kept at `path`: the defaults where there is no file; a file that cannot be
    /// read is set aside as `settings.json.bad` (never lost) and named in the error.
    pub fn load(path: &std::path::Path) -> (Self, Option<String>) {
        let Ok(text) = std::fs::read_to_string(path) else {
            return (Self::default(), None);
        };
        match serde_json::from_str::<Self>(&text) {
            Ok(s) => s.with_a_budget_it_can_run(path),
            Err(e) => {
                let bad = path.with_extension("json.bad");
                let _ = std::fs::rename(path, &bad);
                (
                    Self::default(),
                    Some(format!(
                        "settings {} unreadable ({e}); started from the defaults and kept the \
                         file as {}",
                        path.display(),
                        bad.display()
                    )),
                )
            }
        }
    }

    /// The settings read from `path`, with a budget the window can run: a budget of 0 or over
    /// [`crate::search::MAX_BUDGET`] (a hand-edited or foreign file; the controls would build
    /// lists as long as it, and a run would abort on its buffers) becomes the default, and the
    /// message names the file and the budget.
    fn with_a_budget_it_can_run(mut self, path: &std::path::Path) -> (Self, Option<String>) {
        match crate::search::check_budget(self.budget) {
            Ok(_) => (self, None),
            Err(why) => {
                let default = Self::default().budget;
                let message = format!(
                    "settings {}: budget {}: {why}; using budget {default}",
                    path.display(),
                    self.budget
                );
                self.budget = default;
                (self, Some(message))
            }
        }
    }

    /// Keeps the settings at `path` (written whole, then renamed into place).
    pub fn save(&self, path: &std::path::Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("json.tmp");
        crate::io::write_json(&tmp, self)?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    }
}

impl App {
    /// Creates the app and starts its worker on `policy`; its settings are not kept.
    pub fn new(ctx: &egui::Context, policy: PathBuf) -> std::io::Result<Self> {
        Self::with_settings(ctx, policy, None)
    }

    /// Creates the app with the settings kept at `settings` (restored now, saved on every
    /// change), and starts its worker on `policy`.
    pub fn with_settings(
        ctx: &egui::Context,
        policy: PathBuf,
        settings_path: Option<PathBuf>,
    ) -> std::io::Result<Self> {
        let (mut settings, mut settings_error) = match &settings_path {
            Some(p) => Settings::load(p),
            None => (Settings::default(), None),
        };
        let problems = match load_problems(&settings.dataset) {
            Ok((p, _)) => p,
            Err(e) => {
                // The saved dataset is gone or broken: say so and start on the toy split.
                settings_error = Some(e);
                settings.dataset = DatasetSpec::Toy;
                crate::data::toy::eval_split()
            }
        };
        let wake_ctx = ctx.clone();
        let config = Self::config_for(&settings, &policy);
        let worker = Worker::spawn(config, move || wake_ctx.request_repaint())?;
        Ok(Self {
            settings,
            problems,
            selected: None,
            model: ModelStatus::Loading,
            running: None,
            tree: SearchTree::new(""),
            tree_layout: Default::default(),
            tree_camera: Default::default(),
            collapsed: Default::default(),
            tree_info: None,
            batch: Vec::new(),
            last: None,
            chosen_leaf: None,
            selection_rule: None,
            selected_node: None,
            verdicts: BTreeMap::new(),
            problem_query: String::new(),
            bin_filter: None,
            error: None,
            notice: settings_error,
            export: None,
            export_status: None,
            path_ask: None,
            no_dialog: false,
            toasts: Vec::new(),
            replay: None,
            wrong_only: false,
            derived: None,
            pinned: None,
            stored: None,
            show_stored_when_loaded: false,
            dial: None,
            dial_error: None,
            settings_path,
            runs_dir: None,
            kept: None,
            verifier_loaded: None,
            run_when_ready: false,
            sweep: None,
            sweep_loading: None,
            overlay: None,
            overlay_loading: None,
            sweep_job: None,
            last_reload: None,
            reload_pending: false,
            plot_bin: 0,
            plot_figure: Figure::Accuracy,
            plot_panel: 0,
            plot_export: None,
            plot_status: None,
            view: View::Tree,
            policy,
            worker,
            ctx: ctx.clone(),
        })
    }

    /// The run configuration the settings describe (one problem at a time in the window).
    pub fn config_for(settings: &Settings, policy: &std::path::Path) -> RunConfig {
        RunConfig {
            dataset: settings.dataset.clone(),
            levels: Vec::new(),
            limit: None,
            policy: policy.to_path_buf(),
            remote: Default::default(),
            verifier: settings.verifier.clone(),
            strategy: settings.spec(),
            budget: settings.budget,
            sampling: SamplingParams {
                temperature: settings.temperature,
                top_p: settings.top_p,
                ..Default::default()
            },
            step_delimiter: "\n".into(),
            prompt: Default::default(),
            seed: settings.seed,
            device: "cpu".into(),
            dtype: "f32".into(),
            thinkscale_version: env!("CARGO_PKG_VERSION").into(),
        }
    }

    /// The sweep "Run sweep" starts: the window's settings at the budgets up to the budget
    /// slider's, for the chosen strategies, on the first problems of the toy evaluation split;
    /// sampling strategies read one shared bank of samples.
    pub fn sweep_config(&self) -> crate::runner::sweep::SweepConfig {
        let s = &self.settings;
        let mut c = crate::runner::sweep::SweepConfig::single(&Self::config_for(s, &self.policy));
        c.strategies = s.sweep_strategies.clone();
        c.budgets = s.sweep_budgets.clone();
        c.levels = s.level_filter.into_iter().collect();
        c.limit = Some(s.sweep_problems.max(1));
        c.larger_policy = s.sweep_larger.clone();
        c.shared_bank = true;
        c.draws = 20;
        c.adaptive = crate::runner::sweep::AdaptiveParams {
            batch: s.batch,
            confidence: crate::search::spec::Confidence::new(s.confidence).unwrap_or_default(),
        };
        c.rebase_temperature =
            crate::search::spec::Temperature::new(s.rebase_temperature).unwrap_or_default();
        c.resample_temperature =
            crate::search::spec::ResampleTemperature::new(s.resample_temperature)
                .unwrap_or_default();
        c.mcts = vec![s.mcts];
        c
    }

    /// Applies one command.
    pub fn apply(&mut self, cmd: Command) {
        // What the window shows is kept as soon as it changes (settings keep themselves).
        let keep = self.settings_path.is_some() && !matches!(cmd, Command::SetSettings(_));
        self.apply_one(cmd);
        if keep {
            self.keep_session();
        }
    }

    fn apply_one(&mut self, cmd: Command) {
        match cmd {
            Command::SelectProblem(i) if i < self.problems.len() => {
                self.selected = Some(i);
                if self.running.is_none() {
                    let question = self.problems[i].question.clone();
                    self.fresh_tree(&question);
                }
            }
            Command::SelectProblem(_) => {}
            Command::Run => self.start_run(),
            Command::SetPolicy(p) => self.set_policy(p),
            Command::SetDataset(d) => self.set_dataset(*d),
            Command::Cancel => self.worker.cancel(),
            Command::SelectNode(id) => self.selected_node = Some(id),
            Command::SetCamera(c) => self.tree_camera = c,
            Command::ToggleCollapse(id) => {
                if !self.collapsed.remove(&id) {
                    self.collapsed.insert(id);
                }
                self.after_tree_change();
            }
            Command::SetSelectionRule(r) => self.selection_rule = r,
            Command::SetReplay(r) => self.set_replay(r),
            Command::SetWrongOnly(on) => self.set_wrong_only(on),
            Command::ShowStored(k) => self.show_stored(k),
            Command::AskPath(what) => self.ask_path(what),
            Command::SetPathText(t) => {
                if let Some(a) = self.path_ask.as_mut() {
                    a.text = t;
                }
            }
            Command::SubmitPath => self.submit_path(),
            Command::CancelPath => self.path_ask = None,
            Command::BrowsePath => self.browse(),
            Command::Pin => self.pin(),
            Command::Unpin => self.pinned = None,
            Command::SetPinnedCamera(c) => {
                if let Some(p) = self.pinned.as_mut() {
                    p.camera = c;
                }
            }
            Command::ExpandAll => {
                self.collapsed.clear();
                self.after_tree_change();
            }
            Command::SetSettings(s) => {
                self.settings = s;
                self.save_settings();
                self.notice = None;
                self.apply_dial();
            }
            Command::ExportFigures(dir) => self.export_figures(dir),
            Command::OpenSweep(dir) => self.open_sweep(dir),
            Command::OpenOverlay(dir) => {
                let ctx = self.ctx.clone();
                match read_sweep(dir, move || ctx.request_repaint()) {
                    Ok(l) => self.overlay_loading = Some(l),
                    Err(e) => self.error = Some(e),
                }
            }
            Command::CloseOverlay => self.overlay = None,
            Command::SetPlotBin(b) => self.plot_bin = b,
            Command::SetPlotFigure(f) => {
                self.plot_figure = f;
                self.plot_panel = 0;
            }
            Command::SetPlotPanel(p) => self.plot_panel = p,
            Command::ExportPlot(path) => self.export_plot(path),
            Command::ExportTree(path) => self.export_tree(&path),
            Command::StartSweep(config, dir) => self.start_sweep(*config, dir),
            Command::CancelSweep => {
                if let Some(j) = &self.sweep_job {
                    j.cancel();
                }
            }
            Command::SetView(v) => self.view = v,
            Command::SetProblemQuery(q) => self.problem_query = q,
            Command::SetBinFilter(b) => self.bin_filter = b,
        }
    }

    /// Keeps the settings in their file, where they are kept.
    pub(super) fn save_settings(&mut self) {
        if let Some(p) = &self.settings_path {
            if let Err(e) = self.settings.save(p) {
                self.error = Some(format!(
                    "cannot keep the settings in {}: {e:#}",
                    p.display()
                ));
            }
        }
    }

    /// Reads the sweep in `dir` (records and curves) on a thread of its own; the Plots tab
    /// shows it when it arrives, and a failure lands in `error`.
    pub fn open_sweep(&mut self, dir: PathBuf) {
        let ctx = self.ctx.clone();
        match read_sweep(dir, move || ctx.request_repaint()) {
            Ok(l) => {
                self.sweep_loading = Some(l);
                self.view = View::Plots;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Starts `config` running into `dir` on a thread of its own, and opens `dir` in the Plots
    /// tab as its first records arrive.
    fn start_sweep(&mut self, config: crate::runner::sweep::SweepConfig, dir: PathBuf) {
        if self.sweep_job.as_ref().is_some_and(SweepJob::running) {
            self.error = Some("a sweep is already running; cancel it first".into());
            return;
        }
        if let Err(e) = config.validate() {
            self.error = Some(format!("{e:#}"));
            return;
        }
        // A folder that holds other things gets the sweep in a new directory inside it.
        let occupied = std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some());
        let dir = if occupied && !dir.join("sweep.json").exists() {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            dir.join(format!("sweep-{secs}"))
        } else {
            dir
        };
        let resume = dir.join("sweep.json").exists();
        let ctx = self.ctx.clone();
        match SweepJob::start(config, dir, resume, move || ctx.request_repaint()) {
            Ok(j) => {
                self.sweep_job = Some(j);
                self.last_reload = None;
                self.view = View::Plots;
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Writes the figure on screen, from the open sweep, to `path` with the same function as
    /// `thinkscale plot --figure` (double-column preset), on a thread of its own.
    fn export_plot(&mut self, path: PathBuf) {
        let Some(sweep) = self.sweep.clone() else {
            self.plot_status = Some(Err("no sweep is open".into()));
            self.toast(Err("no sweep is open: nothing to export".into()));
            return;
        };
        let figure = self.plot_figure;
        self.plot_status = None;
        let ctx = self.ctx.clone();
        let started = Task::start(
            "the export",
            move || ctx.request_repaint(),
            move || {
                crate::export::write_figure(
                    figure,
                    &sweep.manifest,
                    &sweep.curves,
                    &sweep.records,
                    crate::export::Preset::Double,
                    &path,
                )
                .map(|files| {
                    let names: Vec<String> =
                        files.iter().map(|f| f.display().to_string()).collect();
                    format!("figure written: {}", names.join(", "))
                })
                .map_err(|e| format!("{e:#}"))
            },
        );
        match started {
            Ok(t) => self.plot_export = Some(t),
            Err(e) => {
                self.toast(Err(e.clone()));
                self.plot_status = Some(Err(e));
            }
        }
    }

    /// Writes the tree on screen as SVG to `path`, with the configuration of the search that
    /// drew it (seed included) and its problem's id in its metadata — not the settings as
    /// they are now, which may have changed since.
    pub fn export_tree(&mut self, path: &std::path::Path) {
        let info = TreeInfo::of(&self.settings);
        let shown = self.tree_info.as_ref().unwrap_or(&info);
        let header = shown.header.as_str();
        let (config, problem) = match &shown.run {
            Some((config, id)) => (config.as_ref().clone(), Some(id.clone())),
            None => (Self::config_for(&self.settings, &self.policy), None),
        };
        let meta = serde_json::json!({
            "software": format!("thinkscale {}", env!("CARGO_PKG_VERSION")),
            "problem": problem,
            "config": config,
            // The marked leaf is the switched rule's choice, where the summary switched it.
            "selection": self.selection_rule.map(reselect::rule_name),
        });
        let view = panels::tree_view::TreeView {
            selected: None,
            header: Some(header),
            ..panels::tree_view::TreeView::of(self)
        };
        let svg = panels::tree_view::tree_svg(&view, &meta.to_string());
        let outcome = crate::io::write_atomic(path, svg.as_bytes())
            .map(|()| format!("tree written to {}", path.display()))
            .map_err(|e| format!("cannot write {}: {e:#}", path.display()));
        self.toast(outcome.clone());
        self.plot_status = Some(outcome);
    }

    /// Writes the figure set of the sweep in `dir` with the same function as `thinkscale
    /// plot` ([`crate::export::export_sweep`], double-column preset), on a thread of its own so
    /// the window keeps drawing; the outcome lands in `export_status`.
    pub fn export_figures(&mut self, dir: PathBuf) {
        if self.export.is_some() {
            return;
        }
        self.export_status = None;
        let ctx = self.ctx.clone();
        let started = Task::start(
            "the export",
            move || ctx.request_repaint(),
            move || {
                crate::export::export_sweep(&dir, crate::export::Preset::Double)
                    .map(|files| {
                        format!("{} files in {}", files.len(), dir.join("figures").display())
                    })
                    .map_err(|e| format!("{e:#}"))
            },
        );
        match started {
            Ok(t) => self.export = Some(t),
            Err(e) => {
                self.toast(Err(e.clone()));
                self.export_status = Some(Err(e));
            }
        }
    }

    fn start_run(&mut self) {
        let (Some(i), None, ModelStatus::Ready(..)) = (self.selected, self.running, &self.model)
        else {
            return;
        };
        let config = Self::config_for(&self.settings, &self.policy);
        if let Err(e) = config.validate() {
            self.error = Some(format!("{e:#}"));
            return;
        }
        let problem = self.problems[i].clone();
        match self.worker.submit(Job::Search {
            problem: Box::new(problem),
            config: Box::new(config.clone()),
            keep_in: self.runs_dir.clone(),
        }) {
            Ok(()) => {
                let question = self.problems[i].question.clone();
                self.fresh_tree(&question);
                self.tree_info = Some(TreeInfo {
                    run: Some((Box::new(config), self.problems[i].id.clone())),
                    ..TreeInfo::of(&self.settings)
                });
                self.running = Some((i, 0, self.settings.budget));
                self.batch.clear();
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Drains the worker's events into the state.
    pub fn drain(&mut self) {
        if let Some(r) = self.sweep_loading.as_ref().and_then(Loading::poll) {
            self.sweep_loading = None;
            match r {
                Ok(s) => self.sweep = Some(Arc::new(s)),
                Err(e) => self.error = Some(e),
            }
            if self.settings_path.is_some() {
                self.keep_session();
            }
            if std::mem::take(&mut self.show_stored_when_loaded) {
                match self.stored_searches().first() {
                    Some(&(k, _)) => self.show_stored(k),
                    None => {
                        self.error = Some(
                            "the open directory holds no search of this problem with a tree".into(),
                        )
                    }
                }
            }
        }
        if let Some(r) = self.overlay_loading.as_ref().and_then(Loading::poll) {
            self.overlay_loading = None;
            match r {
                Ok(s) => self.overlay = Some(Arc::new(s)),
                Err(e) => self.error = Some(e),
            }
        }
        // A running sweep's curves are re-read as records land, at most every 2 s (and once
        // more when it ends), so they fill in while it runs.
        if let Some(job) = self.sweep_job.as_mut() {
            let fresh = job.poll();
            self.reload_pending |= fresh;
            let ended = !job.running();
            let due = self
                .last_reload
                .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(2));
            if self.reload_pending && self.sweep_loading.is_none() && job.done > 0 && (due || ended)
            {
                self.reload_pending = false;
                let dir = job.dir.clone();
                self.last_reload = Some(std::time::Instant::now());
                let ctx = self.ctx.clone();
                match read_sweep(dir, move || ctx.request_repaint()) {
                    Ok(l) => self.sweep_loading = Some(l),
                    Err(e) => self.error = Some(e),
                }
            }
            if let Some(Err(e)) = &job.outcome {
                if self.error.as_deref() != Some(e) && fresh {
                    self.error = Some(e.clone());
                }
            }
        }
        if let Some(r) = self.plot_export.as_ref().and_then(Task::poll) {
            self.plot_export = None;
            self.toast(r.clone());
            self.plot_status = Some(r);
        }
        if let Some(r) = self.export.as_ref().and_then(Task::poll) {
            self.export = None;
            self.toast(r.clone().map(|m| format!("figures: {m}")));
            self.export_status = Some(r);
        }
        let now = std::time::Instant::now();
        self.toasts.retain(|t| t.until > now);
        let mut grew = false;
        // Texts first: the events of the same batch, drained next, then replace them.
        if self.running.is_some() {
            self.batch.extend(self.worker.take_ended());
        }
        for ev in self.worker.poll(4096) {
            match ev {
                WorkerEvent::Loaded { policy, params } => {
                    self.model = ModelStatus::Ready(policy, params);
                    if std::mem::take(&mut self.run_when_ready) {
                        self.start_run();
                    }
                }
                WorkerEvent::LoadFailed(e) => self.model = ModelStatus::Failed(e),
                WorkerEvent::VerifierLoaded(v) => self.verifier_loaded = Some(v),
                WorkerEvent::Search(e) => {
                    if matches!(e, SearchEvent::NodeAdded { .. }) {
                        self.batch.clear();
                    }
                    match &e {
                        SearchEvent::Progress { done, total } => {
                            if let Some(r) = self.running.as_mut() {
                                r.1 = *done;
                                r.2 = *total;
                            }
                        }
                        SearchEvent::Chosen { node, .. } => self.chosen_leaf = *node,
                        _ => {}
                    }
                    self.tree.apply(&e);
                    grew = true;
                }
                WorkerEvent::Done { record, kept } => {
                    self.running = None;
                    self.batch.clear();
                    match kept {
                        Some(Ok(dir)) => self.kept = Some(dir),
                        Some(Err(e)) => {
                            self.error = Some(format!("the result was not kept on disk: {e}"))
                        }
                        None => {}
                    }
                    let header = self
                        .tree_info
                        .as_ref()
                        .map(|i| i.header.clone())
                        .unwrap_or_default();
                    self.verdicts
                        .entry(header)
                        .or_default()
                        .insert(record.id.clone(), record.correct);
                    self.last = Some(*record);
                    self.apply_dial();
                }
                WorkerEvent::Failed(e) => {
                    self.running = None;
                    self.error = Some(e);
                }
                WorkerEvent::Cancelled => {
                    self.running = None;
                    self.error = Some("cancelled".into());
                }
            }
        }
        if grew || !self.tree_layout.fits(&self.tree) {
            self.after_tree_change();
        }
    }

    /// Lays the tree (and the replayed round) out again after the tree changed.
    pub(super) fn after_tree_change(&mut self) {
        self.relayout();
        self.refresh_view();
    }

    /// The rule the last search chose its answer by, where it is one the selection switch
    /// offers (revisions choose hierarchically, MCTS's max-visits by its tree: `None`).
    pub fn own_rule(&self) -> Option<Rule> {
        let (config, _) = self.tree_info.as_ref()?.run.as_ref()?;
        reselect::own_rule(&config.strategy)
    }

    /// The last search's choice under the switched rule: the rule and the candidate it picks
    /// (`None` inside: no candidate has an answer); `None` while the run's own choice stands.
    pub fn reselected(&self) -> Option<(Rule, Option<usize>)> {
        let record = self.last.as_ref()?;
        let rule = self.selection_rule?;
        Some((rule, reselect::choose(&record.candidates, rule)))
    }

    /// The leaf the tree marks as chosen: the switched rule's pick, or the run's own.
    pub fn shown_chosen_leaf(&self) -> Option<NodeId> {
        match self.reselected() {
            Some((_, pick)) => {
                let record = self.last.as_ref()?;
                pick.and_then(|i| record.candidates.get(i)).map(|c| c.leaf)
            }
            None => self.chosen_leaf,
        }
    }

    /// The problem of the search on screen (the selected one where no search drew the tree).
    pub fn search_problem(&self) -> Option<&Problem> {
        match self.tree_info.as_ref().and_then(|t| t.run.as_ref()) {
            Some((_, id)) => self.problems.iter().find(|p| &p.id == id),
            None => self.selected.and_then(|i| self.problems.get(i)),
        }
    }

    /// The verdicts of the problems run under the current settings, by problem id.
    pub fn verdicts_now(&self) -> Option<&BTreeMap<String, bool>> {
        self.verdicts.get(&TreeInfo::of(&self.settings).header)
    }

    /// This session's results under the current settings, by level: (problems run, right);
    /// each problem counts once, with its latest verdict.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::new();
        let Some(now) = self.verdicts_now() else {
            return t;
        };
        for p in &self.problems {
            if let Some(&ok) = now.get(&p.id) {
                let e = t.entry(p.level.unwrap_or(0)).or_default();
                e.0 += 1;
                e.1 += usize::from(ok);
            }
        }
        t
    }

    /// The difficulty bin of problem `id` in the open sweep (oracle bins), if it has one.
    pub fn bin_of(&self, id: &str) -> Option<usize> {
        self.sweep.as_ref().and_then(|s| {
            s.curves
                .bins
                .problems
                .iter()
                .find(|(p, _, _)| p == id)
                .map(|b| b.1)
        })
    }

    /// Replaces the problem list with `dataset`'s (its skipped bad lines, or why it cannot
    /// be read, are reported; a dataset that cannot be read leaves the list as it was).
    fn set_dataset(&mut self, dataset: DatasetSpec) {
        match load_problems(&dataset) {
            Ok((problems, note)) => {
                self.problems = problems;
                self.selected = None;
                self.bin_filter = None;
                self.error = note;
                if self.running.is_none() {
                    self.fresh_tree("");
                }
                let s = Settings {
                    dataset,
                    ..self.settings.clone()
                };
                self.apply(Command::SetSettings(s));
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// The policy the worker runs.
    pub fn policy(&self) -> &std::path::Path {
        &self.policy
    }

    /// Replaces the worker with one that loads `policy` (the running search, if any, is
    /// cancelled; the tree on screen stays until the next run).
    fn set_policy(&mut self, policy: PathBuf) {
        let ctx = self.ctx.clone();
        let config = Self::config_for(&self.settings, &policy);
        match Worker::spawn(config, move || ctx.request_repaint()) {
            Ok(w) => {
                // The old worker is cancelled and let go when dropped.
                self.worker = w;
                self.policy = policy.clone();
                self.model = ModelStatus::Loading;
                self.running = None;
                self.verifier_loaded = None;
                let s = Settings {
                    policy: Some(policy),
                    ..self.settings.clone()
                };
                self.apply(Command::SetSettings(s));
            }
            Err(e) => self.error = Some(format!("cannot start the worker: {e}")),
        }
    }

    /// Tokens the policy sampled in the running search so far.
    pub fn tokens(&self) -> u64 {
        self.worker.tokens()
    }

    /// An empty tree on `question` in a fresh view: nothing collapsed, the camera following,
    /// no result, node or header from the tree before.
    pub(super) fn fresh_tree(&mut self, question: &str) {
        self.tree = SearchTree::new(question);
        self.replay = None;
        self.derived = None;
        self.stored = None;
        self.dial = None;
        self.dial_error = None;
        self.tree_info = None;
        self.last = None;
        self.chosen_leaf = None;
        self.selection_rule = None;
        self.selected_node = None;
        self.collapsed.clear();
        self.tree_camera = Default::default();
        self.relayout();
    }

    /// Lays the tree out again (after it grew, or a branch was collapsed).
    pub(super) fn relayout(&mut self) {
        self.tree_layout = panels::tree_view::layout(&self.tree, &self.collapsed);
    }

    /// Draws the whole window into `ui` and applies what the panels asked for.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.drain();
        // A sweep directory dropped on the window opens in the Plots tab.
        let dropped: Vec<PathBuf> = ui.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        for path in dropped {
            let dir = if path.is_file() {
                path.parent().map(PathBuf::from).unwrap_or(path)
            } else {
                path
            };
            self.apply(Command::OpenSweep(dir));
        }
        let mut cmds = Vec::new();
        egui::Panel::top("controls").show(ui, |ui| panels::controls::top(ui, self, &mut cmds));
        egui::Panel::left("problems")
            .default_size(330.0)
            .show(ui, |ui| panels::problems::ui(ui, self, &mut cmds));
        egui::Panel::bottom("summary")
            .default_size(160.0)
            .resizable(true)
            .show(ui, |ui| panels::summary::ui(ui, self, &mut cmds));
        egui::Panel::right("strategy-and-node")
            .default_size(300.0)
            .resizable(true)
            .show(ui, |ui| {
                panels::controls::strategy(ui, self, &mut cmds);
                ui.separator();
                panels::node::ui(ui, self);
            });
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                for (v, name) in [(View::Tree, "Tree"), (View::Plots, "Plots")] {
                    if ui.selectable_label(self.view == v, name).clicked() {
                        cmds.push(Command::SetView(v));
                    }
                }
            });
            ui.separator();
            match self.view {
                View::Tree => {
                    egui::Panel::bottom("step-scores")
                        .default_size(230.0)
                        .resizable(true)
                        .show(ui, |ui| panels::step_scores::ui(ui, self, &mut cmds));
                    match &self.pinned {
                        Some(p) => {
                            super::replay::bar(ui, self, &mut cmds);
                            super::compare::ui(ui, self, p, &mut cmds)
                        }
                        None => panels::tree_view::ui(ui, self, &mut cmds),
                    }
                }
                View::Plots => panels::plots::ui(ui, self, &mut cmds),
            }
        });
        super::files::prompt(ui.ctx(), self, &mut cmds);
        super::files::toasts(ui.ctx(), self);
        for c in cmds {
            self.apply(c);
        }
        if self.running.is_some()
            || self.model == ModelStatus::Loading
            || self.export.is_some()
            || self.sweep_loading.is_some()
            || self.overlay_loading.is_some()
            || self.plot_export.is_some()
            || self.sweep_job.as_ref().is_some_and(SweepJob::running)
            || self.reload_pending
        {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
    }
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;
    use std::time::{Duration, Instant};

    /// Steps the window until `done` holds (at most 2 minutes).
    pub(crate) fn step_until(
        harness: &mut Harness<'_, App>,
        what: &str,
        done: impl Fn(&App) -> bool,
    ) {
        let start = Instant::now();
        while !done(harness.state()) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "timed out waiting for {what}"
            );
            harness.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        harness.run_steps(3);
    }

    /// The question of the first problem of `level`.
    fn first_of_level(app: &App, level: u8) -> String {
        let p = app.problems.iter().find(|p| p.level == Some(level));
        p.map(|p| p.question.clone()).unwrap_or_default()
    }

    /// Clicks the problem whose question is `question`, then Run, and waits for the search.
    fn search(harness: &mut Harness<'_, App>, question: &str) {
        harness.get_by_label_contains(question).click();
        harness.run_steps(2);
        harness.get_by_label("Run").click();
        harness.run_steps(2);
        step_until(harness, "the search to finish", |a| a.last.is_some());
    }

    /// The window on `app`, `width` points wide, once its policy has loaded.
    pub(crate) fn loaded(app: App, width: f32) -> Harness<'static, App> {
        let mut harness = Harness::builder()
            .with_size([width, 800.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        step_until(&mut harness, "the policy to load", |a| {
            matches!(a.model, ModelStatus::Ready(..))
        });
        harness
    }

    /// The window after beam search (N = 16, aggregation last) against the noisy oracle at
    /// `q` on the first level-4 problem, kept under `runs_dir` if given; and that problem's
    /// index.
    pub(crate) fn beam_searched(
        q: &str,
        runs_dir: Option<PathBuf>,
    ) -> (Harness<'static, App>, usize) {
        let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        app.runs_dir = runs_dir;
        let mut s = app.settings.clone();
        s.strategy = StrategyKind::Beam;
        s.aggregation = Aggregation::Last;
        s.verifier = VerifierSpec::NoisyOracle(crate::verify::noisy::NoisySpec::parse(q).unwrap());
        s.budget = 16;
        app.apply(Command::SetSettings(s));
        let i = app
            .problems
            .iter()
            .position(|p| p.level == Some(4))
            .unwrap();
        let mut harness = loaded(app, 1280.0);
        harness.state_mut().apply(Command::SelectProblem(i));
        harness.state_mut().apply(Command::Run);
        step_until(&mut harness, "the search", |a| a.last.is_some());
        (harness, i)
    }

    #[test]
    fn the_run_button_stays_put_whatever_the_verifier_and_its_state() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut harness = loaded(app, 1280.0);
        let at = |h: &Harness<'_, App>| h.get_by_label("Run").rect().min;
        let first = at(&harness);
        for v in [
            VerifierSpec::NoisyOracle(crate::verify::noisy::NoisySpec::parse("0.97").unwrap()),
            VerifierSpec::ToyPrmChecker,
            VerifierSpec::Oracle,
        ] {
            let s = Settings {
                verifier: v.clone(),
                ..harness.state().settings.clone()
            };
            harness.state_mut().apply(Command::SetSettings(s));
            harness.run_steps(2);
            assert_eq!(at(&harness), first, "{v}");
        }
        // Majority reads no verifier: the hint goes, its room stays.
        let s = Settings {
            strategy: StrategyKind::Majority,
            ..harness.state().settings.clone()
        };
        harness.state_mut().apply(Command::SetSettings(s));
        harness.run_steps(2);
        assert_eq!(at(&harness), first);
    }

    #[test]
    fn select_a_problem_press_run_and_find_the_result() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let question = app.problems[0].question.clone();
        let mut harness = loaded(app, 1280.0);

        harness.get_by_label_contains(&question).click();
        harness.run_steps(2);
        assert_eq!(harness.state().selected, Some(0));

        harness.get_by_label("Run").click();
        harness.run_steps(2);
        step_until(&mut harness, "the search to finish", |a| a.last.is_some());

        let app = harness.state();
        let record = app.last.as_ref().unwrap();
        assert_eq!(record.id, app.problems[0].id);
        assert_eq!(record.candidates.len(), app.settings.budget);
        assert!(
            app.tree.nodes.len() > 1,
            "the tree was built from the worker's events"
        );
        assert!(app.chosen_leaf.is_some());
        harness.get_by_label_contains("chosen answer");
    }

    #[test]
    fn the_selection_switch_chooses_again_as_reselect_does_and_marks_the_leaf() {
        use crate::analysis::reselect::{choose, rule_name, Selection};
        use crate::verify::noisy::NoisySpec;
        use egui::accesskit::Role;
        // Weighted best-of-N under mean step scores on a level-5 problem, against a noisy
        // verifier, so that the rules disagree; the run's own rule is not the switch's first.
        let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut s = app.settings.clone();
        s.strategy = StrategyKind::WeightedBestOfN;
        s.aggregation = Aggregation::Mean;
        s.verifier = VerifierSpec::NoisyOracle(NoisySpec::parse("0.6").unwrap());
        s.budget = 16;
        app.apply(Command::SetSettings(s));
        let question = first_of_level(&app, 5);
        let mut harness = loaded(app, 1280.0);
        search(&mut harness, &question);
        let own = Some((Aggregation::Mean, Selection::Vote));
        assert_eq!(harness.state().own_rule(), Some(own));
        let record = harness.state().last.clone().unwrap();
        let answer = record.answer.clone().unwrap_or_else(|| "none".into());
        // Before any switch: the run's own rule, labelled so, with the run's own answer and
        // leaf.
        harness.get_by_label_contains(&format!(
            "under mean × vote (the run's own rule): answer {answer}:"
        ));
        assert_eq!(
            panels::tree_view::TreeView::of(harness.state()).chosen,
            harness.state().chosen_leaf
        );
        let verdict = |c: &crate::search::Candidate| {
            if c.correct == Some(true) {
                "correct"
            } else {
                "wrong"
            }
        };
        let mut rules: Vec<Rule> = Vec::new();
        for a in [
            Aggregation::Last,
            Aggregation::Min,
            Aggregation::Mean,
            Aggregation::Prod,
        ] {
            for sel in Selection::ALL {
                rules.push(Some((a, sel)));
            }
        }
        rules.push(None);
        let mut answers = std::collections::BTreeSet::new();
        for rule in rules {
            let labels: Vec<&str> = match rule {
                Some((a, sel)) => vec![a.as_str(), sel.as_str()],
                None => vec!["majority"],
            };
            for label in labels {
                harness.get_by_role_and_label(Role::Button, label).click();
                harness.run_steps(2);
            }
            let app = harness.state();
            assert_eq!(app.selection_rule, Some(rule), "{}", rule_name(rule));
            // What the analysis chooses, shown and marked.
            let pick = choose(&record.candidates, rule).unwrap();
            let c = &record.candidates[pick];
            let shown = c.answer.clone().unwrap_or_else(|| "none".into());
            let mark = if rule == own {
                " (the run's own rule)"
            } else {
                ""
            };
            harness.get_by_label_contains(&format!(
                "under {}{mark}: answer {shown}: {}",
                rule_name(rule),
                verdict(c)
            ));
            assert_eq!(app.shown_chosen_leaf(), Some(c.leaf));
            assert_eq!(panels::tree_view::TreeView::of(app).chosen, Some(c.leaf));
            assert!(app.tree.nodes.get(c.leaf).is_some());
            if rule == own {
                assert_eq!(
                    c.answer, record.answer,
                    "the run's own rule, the run's answer"
                );
            }
            answers.insert(shown);
        }
        // Nothing was generated: the same record, the same tree.
        assert_eq!(harness.state().last.as_ref(), Some(&record));
        // An exported tree says which rule marked its leaf (the last one switched to).
        let tmp = tempfile::tempdir().unwrap();
        let svg_path = tmp.path().join("tree.svg");
        harness
            .state_mut()
            .apply(Command::ExportTree(svg_path.clone()));
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        assert!(svg.contains("&quot;selection&quot;:&quot;majority&quot;"));
        // The export's message moves the summary's widgets: let it lay out first.
        harness.run_steps(2);
        // Back to the run's own choice.
        harness.get_by_label("run's own").click();
        harness.run_steps(2);
        assert_eq!(harness.state().selection_rule, None);
        assert_eq!(
            harness.state().shown_chosen_leaf(),
            harness.state().chosen_leaf
        );
        // On this problem the rules disagree, so the switch changed the answer shown.
        assert!(answers.len() > 1, "{answers:?}");
    }

    #[test]
    fn the_zoom_buttons_zoom_about_the_middle_of_the_tree_not_of_their_row() {
        // Issue 28: "+" zoomed about the toolbar row's centre (some 10 points down), so the
        // tree slid off screen. The point a zoom keeps in place, `at`, solves
        // at - offset' = (at - offset) k with k the zoom's factor.
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let question = app.problems[0].question.clone();
        let mut harness = loaded(app, 1280.0);
        search(&mut harness, &question);
        harness.get_by_label("+").click();
        harness.run_steps(2);
        let after = harness.state().tree_camera;
        harness.get_by_label("Fit").click();
        harness.run_steps(2);
        let fitted = harness.state().tree_camera;
        assert!(!after.follow && fitted.follow);
        let k = after.zoom / fitted.zoom;
        assert!((k - 1.25).abs() < 1e-4, "{k}");
        let at = (after.offset - fitted.offset * k) / (1.0 - k);
        // The canvas fills the centre panel below the header and toolbar: its middle lies
        // far below a toolbar row and right of the Fit button.
        assert!(at.y > 100.0 && at.x > 150.0, "{at:?}");
    }

    #[test]
    fn choose_the_log_prob_verifier_and_its_scores_come_back() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let question = app.problems[2].question.clone();
        let mut harness = loaded(app, 1280.0);
        harness.get_by_label("Verifier").click();
        harness.run_steps(2);
        harness.get_by_label("logprob").click();
        harness.run_steps(2);
        assert_eq!(harness.state().settings.verifier, VerifierSpec::Logprob);

        search(&mut harness, &question);
        let record = harness.state().last.clone().unwrap();
        // Log-probability scores lie in (0, 1] and, unlike the oracle's, are not all 0 or 1.
        let scores: Vec<f32> = record
            .candidates
            .iter()
            .flat_map(|c| c.steps.iter().map(|s| s.score))
            .collect();
        assert!(scores.iter().all(|&s| s > 0.0 && s <= 1.0), "{scores:?}");
        assert!(scores.iter().any(|&s| s < 1.0), "{scores:?}");
        assert_eq!(harness.state().verifier_loaded, Some(VerifierSpec::Logprob));
        harness.get_by_label("loaded");
    }

    #[test]
    fn settings_changes_come_back_as_commands() {
        let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let s = Settings {
            budget: 64,
            strategy: StrategyKind::Majority,
            ..Settings::default()
        };
        app.apply(Command::SetSettings(s.clone()));
        assert_eq!(app.settings, s);
        let c = App::config_for(&app.settings, std::path::Path::new("p"));
        assert_eq!(c.budget, 64);
        assert_eq!(c.strategy.kind(), StrategyKind::Majority);
        // Run without a selection does nothing.
        app.apply(Command::Run);
        assert!(app.running.is_none());
    }

    #[test]
    fn beam_search_from_the_window_prunes_and_finishes() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        // A level-4 problem: several rounds.
        let question = first_of_level(&app, 4);
        let mut harness = loaded(app, 1280.0);
        harness.get_by_label("Strategy").click();
        harness.run_steps(2);
        harness.get_by_label("beam").click();
        harness.run_steps(2);
        assert_eq!(harness.state().settings.strategy, StrategyKind::Beam);
        // The tree searches' parameters appear once a tree search is chosen.
        harness.get_by_label("Beam width");
        search(&mut harness, &question);
        let app = harness.state();
        let record = app.last.as_ref().unwrap();
        let tree = record.tree.as_ref().unwrap();
        assert_eq!(
            app.tree, *tree,
            "the window's mirror equals the recorded tree"
        );
        assert!(tree
            .nodes
            .iter()
            .any(|n| matches!(n.status, crate::search::NodeStatus::Pruned { .. })));
        assert_eq!(record.compute.generations, 16);
    }

    #[test]
    fn adaptive_majority_from_the_window_stops_early_on_an_easy_problem() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        // A level-1 problem, which the toy policy answers alike nearly every time.
        let question = first_of_level(&app, 1);
        let mut harness = loaded(app, 1280.0);
        harness.get_by_label("Strategy").click();
        harness.run_steps(2);
        harness.get_by_label("adaptive-majority").click();
        harness.run_steps(2);
        assert_eq!(
            harness.state().settings.strategy,
            StrategyKind::AdaptiveMajority
        );
        // Its own parameters, and no beam width.
        for name in ["Batch", "Confidence"] {
            assert!(harness.query_all_by_label(name).count() > 0, "{name}");
        }
        assert!(harness.query_by_label("Beam width").is_none());
        search(&mut harness, &question);
        let app = harness.state();
        let record = app.last.as_ref().unwrap();
        assert_eq!(app.tree, *record.tree.as_ref().unwrap());
        let used = record.candidates.len();
        assert_eq!(record.compute.generations, used as u64);
        assert!(
            used < app.settings.budget,
            "{used} of {}",
            app.settings.budget
        );
        let header = app
            .tree_info
            .as_ref()
            .map(|t| t.header.clone())
            .unwrap_or_default();
        assert!(header.contains("batch 4, confidence 0.95"), "{header}");
    }

    #[test]
    fn rebase_and_particles_from_the_window_show_their_own_controls_and_trees() {
        for (kind, control, said) in [
            (
                StrategyKind::Rebase,
                "Temperature (REBASE)",
                "temperature 0.2",
            ),
            (
                StrategyKind::Particles,
                "Resample temperature",
                "resample temperature 1",
            ),
        ] {
            let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
            let question = first_of_level(&app, 4);
            let mut harness = loaded(app, 1280.0);
            harness.get_by_label("Strategy").click();
            harness.run_steps(2);
            harness.get_by_label(kind.as_str()).click();
            harness.run_steps(2);
            assert_eq!(harness.state().settings.strategy, kind);
            assert!(harness.query_all_by_label(control).count() > 0, "{control}");
            assert!(harness.query_by_label("Beam width").is_none());
            search(&mut harness, &question);
            let app = harness.state();
            let record = app.last.as_ref().unwrap();
            assert_eq!(app.tree, *record.tree.as_ref().unwrap());
            assert_eq!(record.candidates.len(), app.settings.budget);
            let header = app
                .tree_info
                .as_ref()
                .map(|t| t.header.clone())
                .unwrap_or_default();
            assert!(header.contains(said), "{header}");
        }
    }

    #[test]
    fn mcts_from_the_window_shows_its_controls_and_a_tree_with_visits_and_values() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let question = first_of_level(&app, 4);
        let mut harness = loaded(app, 1280.0);
        harness.get_by_label("Strategy").click();
        harness.run_steps(2);
        harness.get_by_label("mcts").click();
        harness.run_steps(2);
        assert_eq!(harness.state().settings.strategy, StrategyKind::Mcts);
        for name in [
            "Expansion width",
            "Tree rule",
            "Value",
            "Choice",
            "Selections per round",
            "Max rounds",
        ] {
            assert!(harness.query_all_by_label(name).count() > 0, "{name}");
        }
        assert!(harness.query_by_label("Beam width").is_none());
        // UCT's exploration constant appears with UCT only.
        assert!(harness.query_by_label("Exploration").is_none());
        harness.get_by_label("Tree rule").click();
        harness.run_steps(2);
        harness.get_by_label("uct").click();
        harness.run_steps(2);
        assert_eq!(
            harness.state().settings.mcts.tree_rule,
            crate::search::mcts::TreeRule::Uct
        );
        assert!(harness.query_all_by_label("Exploration").count() > 0);
        harness.get_by_label("Value").click();
        harness.run_steps(2);
        harness.get_by_label("rollout").click();
        harness.run_steps(2);
        search(&mut harness, &question);
        let app = harness.state();
        let record = app.last.as_ref().unwrap();
        assert_eq!(
            app.settings.spec().mcts_params().map(|p| p.value),
            Some(crate::search::mcts::MctsValue::Rollout)
        );
        assert_eq!(app.tree, *record.tree.as_ref().unwrap());
        assert!((1..=app.settings.budget).contains(&record.candidates.len()));
        // The window's tree holds every node's visits and Q and the latest round's paths.
        assert!(app.tree.nodes[0].visits >= record.candidates.len());
        assert!(app.tree.nodes[0].q.is_some());
        assert!(!app.tree.selected.is_empty());
        let header = app
            .tree_info
            .as_ref()
            .map(|t| t.header.clone())
            .unwrap_or_default();
        assert!(header.contains("uct c = 2, rollout, W = 4"), "{header}");
    }

    #[test]
    fn revisions_from_the_window_show_each_chain_as_a_path_of_attempts() {
        let reviser = crate::engine::beside_crate("models/toy/reviser");
        let app = App::new(&egui::Context::default(), reviser).unwrap();
        let question = app.problems[0].question.clone();
        let mut harness = loaded(app, 1600.0);
        harness.get_by_label("Strategy").click();
        harness.run_steps(2);
        harness.get_by_label("revisions").click();
        harness.run_steps(2);
        assert_eq!(harness.state().settings.strategy, StrategyKind::Revisions);
        // Its own parameters appear; the tree searches' do not.
        harness.get_by_label("Chains");
        harness.get_by_label("Selection");
        harness.get_by_label("Template");
        assert!(harness.query_by_label("Beam width").is_none());
        search(&mut harness, &question);
        let app = harness.state();
        let record = app.last.as_ref().unwrap();
        // The default split: 4 chains of 4 attempts at budget 16, chosen hierarchically.
        assert!((1..=16).contains(&record.candidates.len()));
        assert_eq!(record.compute.generations, 16);
        let labels: Vec<&str> = app
            .tree
            .nodes
            .iter()
            .map(|n| n.text.as_str())
            .filter(|t| t.starts_with("chain "))
            .collect();
        assert_eq!(labels.len(), 16);
        assert!(labels.contains(&"chain 4 · attempt 4"));
        assert!(TreeInfo::of(&app.settings)
            .header
            .starts_with("revisions (4 chains x 4 attempts, hierarchical)"));
    }

    #[test]
    fn a_hostile_chat_template_fails_the_load_and_the_window_keeps_working() {
        let dir = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(default_policy_dir()).unwrap() {
            let f = f.unwrap().path();
            if f.is_file() {
                std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
            }
        }
        std::fs::write(
            dir.path().join("chat_template.jinja"),
            "{% for i in range(10000) %}{% for j in range(10000) %}{{ i }}{% endfor %}{% endfor %}",
        )
        .unwrap();
        let app = App::new(&egui::Context::default(), dir.path().to_path_buf()).unwrap();
        let mut harness = Harness::builder()
            .with_size([1280.0, 800.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        step_until(&mut harness, "the load to fail", |a| {
            matches!(a.model, ModelStatus::Failed(..))
        });
        let ModelStatus::Failed(e) = &harness.state().model else {
            unreachable!()
        };
        assert!(
            e.contains("chat template") && e.contains("steps of work"),
            "{e}"
        );
        // Still drawing and taking input.
        let question = harness.state().problems[0].question.clone();
        harness.get_by_label_contains(&question).click();
        harness.run_steps(2);
        assert_eq!(harness.state().selected, Some(0));
        harness.get_by_label_contains("policy failed to load");
    }

    /// A small sweep of the toy policy in `dir` (5 problems, oracle, beam width 2).
    pub(crate) fn toy_sweep(dir: &std::path::Path, strategies: &str, budgets: &str) {
        let config: crate::runner::sweep::SweepConfig = toml::from_str(&format!(
            "dataset = {{ kind = \"toy\" }}\npolicy = {:?}\nverifier = \"oracle\"\n\
             strategies = [{strategies}]\nbudgets = [{budgets}]\nbeam_widths = [2]\n\
             limit = 5\nbin_samples = 0\ndraws = 10\n",
            default_policy_dir()
        ))
        .unwrap();
        crate::runner::sweep::run(
            &config,
            dir,
            false,
            &crate::search::CancelToken::new(),
            &mut |_| {},
        )
        .unwrap();
    }

    #[test]
    fn the_window_exports_a_sweeps_figures_without_waiting_for_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sweep");
        toy_sweep(&dir, "\"majority\", \"weighted-best-of-n\"", "1, 2");
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut harness = Harness::builder()
            .with_size([1280.0, 800.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        harness
            .state_mut()
            .apply(Command::ExportFigures(dir.clone()));
        assert!(harness.state().export.is_some());
        step_until(&mut harness, "the export", |a| a.export_status.is_some());
        let status = harness.state().export_status.clone().unwrap();
        assert!(
            status.as_ref().is_ok_and(|m| m.contains("figures")),
            "{status:?}"
        );
        for f in [
            "accuracy.svg",
            "accuracy.png",
            "accuracy.csv",
            "scores.json",
        ] {
            assert!(dir.join("figures").join(f).exists(), "{f}");
        }
        // In the top bar and in a toast.
        assert_eq!(harness.get_all_by_label_contains("figures:").count(), 2);
        // A directory that is not a sweep says so in the window.
        harness
            .state_mut()
            .apply(Command::ExportFigures(tmp.path().to_path_buf()));
        step_until(&mut harness, "the failed export", |a| {
            a.export_status.is_some()
        });
        let status = harness.state().export_status.clone().unwrap();
        assert!(
            status.as_ref().is_err_and(|e| e.contains("not a sweep")),
            "{status:?}"
        );
        harness.get_by_label_contains("export failed");
    }

    #[test]
    fn a_sweep_opens_in_the_plots_tab_and_the_budget_slider_moves_its_marker() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sweep");
        toy_sweep(
            &dir,
            "\"majority\", \"weighted-best-of-n\", \"beam\"",
            "1, 2, 4",
        );
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut harness = Harness::builder()
            .with_size([1280.0, 800.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        harness.state_mut().apply(Command::OpenSweep(dir.clone()));
        assert_eq!(harness.state().view, View::Plots);
        step_until(&mut harness, "the sweep to load", |a| a.sweep.is_some());
        // The default budget (16) is not one of this sweep's: the reading says so.
        harness.get_by_label_contains("at N = 16: no curve has this budget");
        // Move the budget slider to 4: the marker and the readings follow at once.
        let mut s = harness.state().settings.clone();
        s.budget = 4;
        harness.state_mut().apply(Command::SetSettings(s));
        harness.run_steps(2);
        // A label keeps its text as its value.
        let text = harness
            .get_by_label_contains("at N = 4:")
            .value()
            .unwrap_or_default();
        assert!(
            text.contains("majority") && text.contains("beam (M = 2, last)"),
            "{text}"
        );
        let expected = panels::plots::at_budget(harness.state().sweep.as_ref().unwrap(), 0, 4);
        assert!(
            expected
                .iter()
                .any(|(l, _)| l == "compute-optimal (cross-validated)"),
            "{expected:?}"
        );
        // The slider itself, moved from the keyboard: one step down is N = 2, and the
        // readings follow.
        harness.get_by_label("Budget N = 4").focus();
        harness.run_steps(1);
        harness.key_press(egui::Key::ArrowLeft);
        harness.run_steps(2);
        assert_eq!(harness.state().settings.budget, 2);
        harness.get_by_label_contains("at N = 2:");
        let mut s = harness.state().settings.clone();
        s.budget = 4;
        harness.state_mut().apply(Command::SetSettings(s));
        harness.run_steps(2);
        // Another bin redraws from the same curves.
        harness.state_mut().apply(Command::SetPlotBin(5));
        harness.run_steps(2);
        let bin5 = panels::plots::at_budget(harness.state().sweep.as_ref().unwrap(), 5, 4);
        let shown = harness
            .get_by_label_contains("at N = 4:")
            .value()
            .unwrap_or_default();
        for (label, acc) in &bin5 {
            assert!(shown.contains(&format!("{label} {acc:.3}")), "{shown}");
        }
        // The bin's own size in the header, and on the compute-optimal figure the bin's own
        // numbers, the cross-validation said, and the gain said to be all problems'.
        let n5 = harness
            .state()
            .sweep
            .as_ref()
            .unwrap()
            .curves
            .bins
            .oracle_sizes[4];
        harness.get_by_label_contains(&format!("(difficulty bin 5: {n5})"));
        harness
            .state_mut()
            .apply(Command::SetPlotFigure(Figure::Optimal));
        harness.run_steps(2);
        harness.get_by_label_contains("compute-optimal is cross-validated");
        harness.get_by_label_contains(&format!("bin 5 ({n5} problems) at N = 4: compute-optimal"));
        harness
            .state_mut()
            .apply(Command::SetPlotFigure(Figure::Accuracy));
        harness.run_steps(2);
        // A directory that is not a sweep is an error in the window, not a panic.
        harness
            .state_mut()
            .apply(Command::OpenSweep(tmp.path().to_path_buf()));
        step_until(&mut harness, "the failed open", |a| {
            a.sweep_loading.is_none()
        });
        assert!(harness
            .state()
            .error
            .as_deref()
            .is_some_and(|e| e.contains("not a sweep")));
    }

    #[test]
    fn every_control_is_named_by_the_label_before_it() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut harness = Harness::builder()
            .with_size([1600.0, 800.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        harness.run_steps(2);
        // The budget's label says the budget and names its slider (not the temperature's).
        let budget = {
            use egui_kittest::kittest::NodeT;
            harness
                .get_by_label("Budget N = 16")
                .accesskit_node()
                .role()
        };
        assert_eq!(budget, egui::accesskit::Role::Slider);
        for name in ["Strategy", "Verifier", "Aggregation", "Temperature", "Seed"] {
            assert!(harness.query_all_by_label(name).count() > 0, "{name}");
        }
        // A tree search shows its own parameters, each named the same way.
        let mut s = harness.state().settings.clone();
        s.strategy = crate::search::StrategyKind::Lookahead;
        harness.state_mut().apply(Command::SetSettings(s));
        harness.run_steps(2);
        for name in ["Beam width", "Lookahead", "Max rounds"] {
            assert!(harness.query_all_by_label(name).count() > 0, "{name}");
        }
    }

    #[test]
    fn settings_survive_a_restart_and_a_broken_file_is_kept_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("thinkscale").join("settings.json");
        let ctx = egui::Context::default();
        let mut app = App::with_settings(&ctx, default_policy_dir(), Some(path.clone())).unwrap();
        assert_eq!(app.settings, Settings::default());
        let mut s = app.settings.clone();
        s.strategy = crate::search::StrategyKind::Beam;
        s.budget = 64;
        s.seed = 7;
        app.apply(Command::SetSettings(s.clone()));
        drop(app);
        let again = App::with_settings(&ctx, default_policy_dir(), Some(path.clone())).unwrap();
        assert_eq!(again.settings, s);
        assert!(again.error.is_none() && again.notice.is_none());
        drop(again);
        // A file that is not settings: the defaults, an error naming it, and the file kept.
        std::fs::write(&path, "{ not json").unwrap();
        let mut broken =
            App::with_settings(&ctx, default_policy_dir(), Some(path.clone())).unwrap();
        assert_eq!(broken.settings, Settings::default());
        let named = |a: &App| {
            a.notice
                .as_deref()
                .is_some_and(|e| e.contains("settings.json"))
        };
        assert!(named(&broken));
        // It stays through what the launch does next (the session, a problem selected and
        // searched), until the settings change.
        broken.restore_session();
        broken.apply(Command::SelectProblem(0));
        assert!(named(&broken));
        assert_eq!(
            std::fs::read_to_string(path.with_extension("json.bad")).unwrap(),
            "{ not json"
        );
        // Fields added later read as their defaults: an older file still loads.
        std::fs::write(&path, "{\"seed\": 3}").unwrap();
        let (old, err) = Settings::load(&path);
        assert_eq!(old.seed, 3);
        assert_eq!(old.budget, Settings::default().budget);
        assert!(err.is_none());
        // A budget whose buffers cannot be allocated: the default, and a message naming it.
        std::fs::write(&path, "{\"seed\": 3, \"budget\": 1000000000}").unwrap();
        let (huge, err) = Settings::load(&path);
        assert_eq!((huge.seed, huge.budget), (3, Settings::default().budget));
        let err = err.unwrap();
        assert!(
            err.contains("budget 1000000000") && err.contains("65536"),
            "{err}"
        );
    }

    #[test]
    fn a_run_is_kept_on_disk_and_its_tree_zooms_collapses_and_exports() {
        let tmp = tempfile::tempdir().unwrap();
        let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        app.runs_dir = Some(tmp.path().join("runs"));
        let question = first_of_level(&app, 4);
        let mut harness = loaded(app, 1600.0);
        let mut s = harness.state().settings.clone();
        s.strategy = StrategyKind::Beam;
        harness.state_mut().apply(Command::SetSettings(s));
        search(&mut harness, &question);
        // Kept through the runner as a sweep of one, readable like any sweep.
        let kept = harness.state().kept.clone().expect("the run was kept");
        assert!(kept.starts_with(tmp.path().join("runs")));
        let (manifest, records) = crate::runner::sweep::load(&kept).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].record, *harness.state().last.as_ref().unwrap());
        assert_eq!(manifest.config.strategies, vec![StrategyKind::Beam]);
        harness.get_by_label_contains("kept in");
        // The view follows the search, fitted; zooming leaves it where the user put it.
        assert!(harness.state().tree_camera.follow);
        harness.get_by_label("+").click();
        harness.run_steps(2);
        let cam = harness.state().tree_camera;
        assert!(!cam.follow && cam.zoom > 0.0);
        harness.get_by_label("Fit").click();
        harness.run_steps(2);
        assert!(harness.state().tree_camera.follow);
        // Collapse the root's first child: its subtree leaves the layout.
        let first = harness.state().tree.nodes[0].children[0];
        harness.state_mut().apply(Command::ToggleCollapse(first));
        harness.run_steps(2);
        let lay = harness.state().tree_layout.clone();
        assert!(lay.hidden[first] > 0);
        assert_eq!(lay.shown.iter().filter(|s| !**s).count(), lay.hidden[first]);
        harness.get_by_label("Expand all").click();
        harness.run_steps(2);
        assert!(harness.state().collapsed.is_empty());
        // The tree exports as SVG with the configuration of the search that drew it and its
        // problem, even after the settings changed (issue 28: the export wrote the settings
        // of the moment, `problem: null`).
        let id = harness.state().last.as_ref().unwrap().id.clone();
        let mut changed = harness.state().settings.clone();
        changed.strategy = StrategyKind::Majority;
        changed.budget = 4;
        harness.state_mut().apply(Command::SetSettings(changed));
        let svg_path = tmp.path().join("tree.svg");
        harness
            .state_mut()
            .apply(Command::ExportTree(svg_path.clone()));
        let svg = std::fs::read_to_string(&svg_path).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
        assert!(svg.contains("&quot;seed&quot;:0") && svg.contains("beam (beam width 4"));
        assert!(
            svg.contains(&format!("&quot;problem&quot;:&quot;{id}&quot;")),
            "{id}"
        );
        assert!(svg.contains("&quot;kind&quot;:&quot;beam&quot;"));
        assert!(!svg.contains("&quot;kind&quot;:&quot;majority&quot;"));
        assert_eq!(
            svg.matches("<rect x=").count(),
            harness.state().tree.nodes.len()
        );
    }

    #[test]
    fn a_wrong_leaf_shows_the_step_its_verifier_scored_lowest() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        // A level-5 problem at N = 16: some candidates are wrong.
        let question = first_of_level(&app, 5);
        let mut harness = loaded(app, 1600.0);
        search(&mut harness, &question);
        let tree = harness.state().tree.clone();
        let traces = panels::step_scores::traces(&tree);
        assert_eq!(traces.len(), tree.leaves().len().min(traces.len()));
        assert!(!traces.is_empty(), "the chart has a line per candidate");
        // A wrong candidate whose slip the oracle caught (one that ran out of tokens with
        // every step right is wrong too, but has no wrong step).
        let wrong = traces
            .iter()
            .find(|t| t.correct == Some(false) && t.scores.iter().any(|s| s.1 == 0.0))
            .expect("a wrong candidate with a wrong step at level 5");
        harness.state_mut().apply(Command::SelectNode(wrong.leaf));
        harness.run_steps(2);
        // The oracle scores the first wrong step 0: that is the step flagged.
        let (node, k) = panels::step_scores::flagged_step(&tree, wrong.leaf).unwrap();
        assert_eq!(tree.nodes[node].score, Some(0.0));
        harness.get_by_label_contains(&format!("the verifier scored step {k} lowest"));
        harness.get_by_label_contains("<- lowest score");
        harness.get_by_label_contains("Step scores");
        // The exact checker agrees with the oracle: its first wrong step is the flagged one.
        harness.get_by_label_contains(&format!(
            "the exact checker finds step {k} the first wrong one; the verifier's lowest score \
             is on it: it found the slip"
        ));
        harness.get_by_label_contains("<- first wrong (checker)");
    }

    #[test]
    fn a_weak_verifier_missing_the_slip_is_marked_and_wrong_candidates_can_stand_alone() {
        // Beam search against a weak noisy oracle on a level-4 problem: find a wrong candidate
        // whose lowest score is not on its first wrong step.
        let (mut harness, i) = beam_searched("0.6", None);
        let problem = harness.state().problems[i].clone();
        let tree = harness.state().tree.clone();
        let mut found = None;
        for id in 1..tree.nodes.len() {
            let slip = panels::step_scores::first_wrong_step(&tree, id, &problem);
            let low = panels::step_scores::flagged_step(&tree, id);
            if let (Some((_, w)), Some((_, k))) = (slip, low) {
                if found.is_none() || w != k {
                    found = Some((id, w, k));
                }
            }
        }
        let (leaf, w, k) = found.expect("a path with a wrong step");
        harness.state_mut().apply(Command::SelectNode(leaf));
        harness.run_steps(2);
        harness.get_by_label_contains(&format!(
            "the exact checker finds step {w} the first wrong one"
        ));
        if w != k {
            harness.get_by_label_contains(if k < w {
                "it missed the slip"
            } else {
                "it was late"
            });
        }
        // Wrong candidates only: every finished leaf left in view is wrong, and every wrong one
        // is there.
        harness.get_by_label("Wrong candidates only").click();
        harness.run_steps(2);
        let app = harness.state();
        assert!(app.wrong_only);
        let shown = panels::tree_view::TreeView::of(app).tree.clone();
        let reach = |t: &SearchTree| {
            let mut out = Vec::new();
            let mut stack = vec![SearchTree::ROOT];
            while let Some(id) = stack.pop() {
                out.push(id);
                stack.extend(&t.nodes[id].children);
            }
            out
        };
        let wrong_leaves: std::collections::BTreeSet<usize> = reach(&tree)
            .into_iter()
            .filter(|&id| {
                matches!(&tree.nodes[id].status,
                    crate::search::NodeStatus::Finished { correct, .. } if *correct != Some(true))
            })
            .collect();
        let shown_leaves: std::collections::BTreeSet<usize> = reach(&shown)
            .into_iter()
            .filter(|&id| {
                matches!(
                    shown.nodes[id].status,
                    crate::search::NodeStatus::Finished { .. }
                )
            })
            .collect();
        assert_eq!(shown_leaves, wrong_leaves);
        harness.get_by_label("Wrong candidates only").click();
        harness.run_steps(2);
        assert!(harness.state().derived.is_none());
    }

    #[test]
    fn a_sweep_runs_from_the_window_its_figures_draw_and_export_and_another_overlays() {
        let tmp = tempfile::tempdir().unwrap();
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut harness = Harness::builder()
            .with_size([1400.0, 900.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        let mut s = harness.state().settings.clone();
        s.budget = 64;
        s.sweep_budgets = vec![1, 2, 4];
        s.sweep_problems = 4;
        s.sweep_strategies = vec![StrategyKind::Majority, StrategyKind::Beam];
        s.beam_width = 2;
        s.level_filter = Some(3);
        harness.state_mut().apply(Command::SetSettings(s.clone()));
        // The sweep's own budgets, not the budget slider's; the list's level filter.
        let config = harness.state().sweep_config();
        assert_eq!(config.budgets, vec![1, 2, 4]);
        assert_eq!(config.levels, vec![3]);
        s.level_filter = None;
        s.budget = 4;
        harness.state_mut().apply(Command::SetSettings(s));
        let config = harness.state().sweep_config();
        assert!(config.levels.is_empty());
        assert_eq!(config.budgets, vec![1, 2, 4]);
        // A folder that holds something else gets the sweep in a directory inside it.
        std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
        harness.state_mut().apply(Command::StartSweep(
            Box::new(config),
            tmp.path().to_path_buf(),
        ));
        assert_eq!(harness.state().view, View::Plots);
        step_until(&mut harness, "the sweep to finish", |a| {
            a.sweep_job.as_ref().is_some_and(|j| !j.running()) && a.sweep_loading.is_none()
        });
        let job = harness.state().sweep_job.as_ref().unwrap();
        assert!(
            matches!(&job.outcome, Some(Ok(m)) if m.contains("pairs on disk")),
            "{:?}",
            job.outcome
        );
        assert_eq!(job.done, job.total);
        let dir = job.dir.clone();
        assert!(dir.starts_with(tmp.path()) && dir != tmp.path());
        // The curves were read from its records (all 4 problems).
        step_until(&mut harness, "the final curves", |a| {
            a.sweep.as_ref().is_some_and(|s| s.curves.problems == 4)
        });
        harness.get_by_label_contains("pairs on disk");
        // Every figure of the tab draws from the same numbers as `thinkscale plot`.
        for f in [
            Figure::ComputeTokens,
            Figure::ComputeFlops,
            Figure::Optimal,
            Figure::Bins,
            Figure::Accuracy,
        ] {
            harness.state_mut().apply(Command::SetPlotFigure(f));
            harness.run_steps(2);
        }
        let text = harness
            .get_by_label_contains("at N = 4:")
            .value()
            .unwrap_or_default();
        assert!(text.contains("majority"), "{text}");
        harness
            .state_mut()
            .apply(Command::SetPlotFigure(Figure::ComputeTokens));
        harness.run_steps(2);
        harness.get_by_label_contains("at N = 4 (ringed):");
        // Export the figure on screen as SVG and as PNG, each with its CSV and JSON.
        for name in ["tokens.svg", "tokens.png"] {
            let out = tmp.path().join(name);
            harness.state_mut().apply(Command::ExportPlot(out.clone()));
            step_until(&mut harness, "the export", |a| a.plot_export.is_none());
            let status = harness.state().plot_status.clone().unwrap();
            assert!(status.is_ok(), "{status:?}");
            let bytes = std::fs::read(&out).unwrap();
            if name.ends_with(".svg") {
                let svg = String::from_utf8(bytes).unwrap();
                assert!(svg.contains("<svg") && svg.contains("<metadata>"));
            } else {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
            }
            assert!(out.with_extension("csv").exists() && out.with_extension("json").exists());
        }
        // A second sweep overlays the first.
        let other = tmp.path().join("other");
        toy_sweep(&other, "\"majority\"", "1, 2, 4");
        harness.state_mut().apply(Command::OpenOverlay(other));
        step_until(&mut harness, "the overlay", |a| a.overlay.is_some());
        harness.get_by_label_contains("overlay (faded)");
        harness.state_mut().apply(Command::CloseOverlay);
        harness.run_steps(2);
        assert!(harness.state().overlay.is_none());
        // The bins of the sweep now filter the problem list.
        harness.state_mut().apply(Command::SetBinFilter(Some(1)));
        harness.run_steps(2);
        let shown = panels::problems::visible(harness.state());
        assert!(!shown.is_empty() && shown.len() < 4, "{shown:?}");
    }

    #[test]
    fn a_policy_change_loads_the_new_policy_and_search_filters_the_list() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut harness = loaded(app, 1400.0);
        let ModelStatus::Ready(_, small) = harness.state().model.clone() else {
            unreachable!()
        };
        let large = crate::engine::beside_crate("models/toy/policy-large");
        harness.state_mut().apply(Command::SetPolicy(large.clone()));
        assert_eq!(harness.state().model, ModelStatus::Loading);
        step_until(&mut harness, "the new policy", |a| {
            matches!(a.model, ModelStatus::Ready(..))
        });
        let ModelStatus::Ready(name, params) = harness.state().model.clone() else {
            unreachable!()
        };
        assert!(name.contains("policy-large"), "{name}");
        assert!(params > small, "{params} vs {small}");
        assert_eq!(harness.state().policy(), large.as_path());
        assert_eq!(
            harness.state().settings.policy.as_deref(),
            Some(large.as_path())
        );
        // The search box narrows the list to the problems that contain its text.
        let id = harness.state().problems[7].id.clone();
        harness
            .state_mut()
            .apply(Command::SetProblemQuery(id.clone()));
        harness.run_steps(2);
        let shown = panels::problems::visible(harness.state());
        assert!(shown.contains(&7));
        assert!(shown
            .iter()
            .all(|&i| harness.state().problems[i].id.contains(&id)));
    }

    #[test]
    fn a_jsonl_dataset_replaces_the_list_and_a_broken_one_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("math.jsonl");
        std::fs::write(
            &file,
            "{\"problem\": \"What is $1+1$?\", \"answer\": \"2\", \"level\": 1, \"unique_id\": \"a/1\"}\n\
             {\"problem\": 7}\n\
             {\"problem\": \"Compute $3 \\\\cdot 4$.\", \"answer\": \"12\", \"level\": \"Level 2\", \"unique_id\": \"a/2\"}\n",
        )
        .unwrap();
        let settings_file = tmp.path().join("settings.json");
        let ctx = egui::Context::default();
        let mut app =
            App::with_settings(&ctx, default_policy_dir(), Some(settings_file.clone())).unwrap();
        app.apply(Command::SelectProblem(3));
        let jsonl = DatasetSpec::Jsonl {
            path: file.clone(),
            format: None,
            skip_bad_lines: true,
        };
        app.apply(Command::SetDataset(Box::new(jsonl.clone())));
        assert_eq!(app.problems.len(), 2);
        assert_eq!(app.problems[1].id, "a/2");
        assert_eq!(app.problems[1].level, Some(2));
        assert_eq!(app.selected, None);
        let note = app.error.clone().unwrap();
        assert!(
            note.contains("skipped 1 bad line") && note.contains("2"),
            "{note}"
        );
        assert_eq!(App::config_for(&app.settings, &app.policy).dataset, jsonl);
        drop(app);
        // The choice is kept: the next launch opens on the same file.
        let again =
            App::with_settings(&ctx, default_policy_dir(), Some(settings_file.clone())).unwrap();
        assert_eq!(again.problems.len(), 2);
        drop(again);
        // A file that is gone: the next launch says so and starts on the toy split.
        std::fs::remove_file(&file).unwrap();
        let gone = App::with_settings(&ctx, default_policy_dir(), Some(settings_file)).unwrap();
        assert_eq!(gone.problems.len(), crate::data::toy::eval_split().len());
        assert!(gone
            .notice
            .as_deref()
            .is_some_and(|e| e.contains("math.jsonl")));
        // Choosing a missing file leaves the list as it was.
        let mut app = gone;
        app.apply(Command::SetDataset(Box::new(jsonl)));
        assert_eq!(app.problems.len(), crate::data::toy::eval_split().len());
        assert!(app
            .error
            .as_deref()
            .is_some_and(|e| e.contains("math.jsonl")));
    }

    #[test]
    fn a_problem_chosen_at_launch_runs_once_the_policy_has_loaded() {
        // What `thinkscale gui --problem ID --run` does.
        let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let i = app
            .problems
            .iter()
            .position(|p| p.id == "toy-L2-001")
            .unwrap();
        app.apply(Command::SelectProblem(i));
        app.run_when_ready = true;
        let mut harness = Harness::builder()
            .with_size([1400.0, 900.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        step_until(&mut harness, "the search started at launch", |a| {
            a.last.is_some()
        });
        assert_eq!(harness.state().last.as_ref().unwrap().id, "toy-L2-001");
        assert!(!harness.state().run_when_ready);
    }

    #[test]
    fn samples_show_as_they_end_while_their_batch_runs() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let question = first_of_level(&app, 5);
        let mut harness = loaded(app, 1400.0);
        let mut s = harness.state().settings.clone();
        s.budget = 64;
        harness.state_mut().apply(Command::SetSettings(s));
        harness.get_by_label_contains(&question).click();
        harness.run_steps(2);
        harness.get_by_label("Run").click();
        // One batch of 64 whole solutions: samples end one by one before the tree has a step.
        let start = Instant::now();
        let mut seen = 0;
        while harness.state().last.is_none() {
            assert!(start.elapsed() < Duration::from_secs(120), "timed out");
            harness.step();
            let a = harness.state();
            if a.tree.nodes.len() <= 1 {
                seen = seen.max(a.batch.len());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            (1..=64).contains(&seen),
            "{seen} samples seen before the tree grew"
        );
        // Once the batch's events arrive, its steps are in the tree and the list is gone.
        assert!(harness.state().batch.is_empty());
        assert!(harness.state().tree.nodes.len() > 1);
    }
}
