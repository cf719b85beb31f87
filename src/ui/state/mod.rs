//! The window's state: the user's choices ([`Settings`]), what the panels ask for ([`Command`])
//! and everything they draw ([`State`]). Panels read it and send commands; only the app
//! ([`crate::ui::app`]) changes it. Its parts that belong to one feature live in submodules.

pub mod compare;
pub mod dial;
pub mod files;
pub mod replay;
pub mod session;

use crate::analysis::reselect::{self, Rule};
use crate::data::revision::RevisionTemplate;
use crate::data::{DatasetSpec, Problem};
use crate::engine::SamplingParams;
use crate::export::Figure;
use crate::runner::RunConfig;
use crate::search::revisions::RevisionSelection;
use crate::search::spec::{DEFAULT_BEAM_WIDTH, DEFAULT_MAX_ROUNDS};
use crate::search::{Aggregation, NodeId, SearchTree, StrategyKind, StrategySpec};
use crate::store::Record;
use crate::ui::layout::{Camera, TreeLayout};
use crate::ui::sweeps::{Loading, SweepJob, Task};
use crate::verify::VerifierSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::ui::sweeps::LoadedSweep;

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
    pub session: session::Session,
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
    SetCamera(Camera),
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
    AskPath(files::PathFor),
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
    SetPinnedCamera(Camera),
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

/// What the window shows and the user chose: everything the panels read (they never see the
/// worker or the other threads; [`crate::ui::app::App`] owns those and this).
pub struct State {
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
    pub tree_layout: TreeLayout,
    /// How the tree is looked at.
    pub tree_camera: Camera,
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
    /// The round the tree view replays ([`replay`]); `None`: the search as it is now.
    pub replay: Option<usize>,
    /// Whether the tree view shows only the paths of wrong candidates.
    pub wrong_only: bool,
    /// The tree the view shows when it is not the search as it is (replayed, filtered).
    pub derived: Option<replay::Derived>,
    /// The record of the open sweep shown as the search on screen (index into its records).
    pub stored: Option<usize>,
    /// Show the selected problem's first stored search once the open sweep has been read
    /// (`gui --open DIR --problem ID`).
    pub show_stored_when_loaded: bool,
    /// The path prompt on screen ([`files`]).
    pub path_ask: Option<files::PathAsk>,
    /// Whether a file dialog was found unable to open (no desktop portal).
    pub no_dialog: bool,
    /// Messages in the window's corner: what an export wrote, or why it failed.
    pub toasts: Vec<files::Toast>,
    /// The search pinned beside the one on screen, to compare them ([`compare`]).
    pub pinned: Option<Box<compare::Pinned>>,
    /// The verifier-quality dial's re-scoring of the search on screen ([`dial`]).
    pub dial: Option<dial::Dial>,
    /// Why the dial could not re-score the search on screen.
    pub dial_error: Option<String>,
    /// Where the settings are kept between launches (`None`: not kept).
    /// The policy the worker runs.
    pub policy: PathBuf,
    /// Tokens the policy has sampled in the running search so far (read from the worker once a
    /// frame).
    pub tokens: u64,
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

impl State {
    /// The run configuration the settings describe (one problem at a time in the window).
    pub fn config_for(settings: &Settings, policy: &std::path::Path) -> RunConfig {
        RunConfig {
            dataset: settings.dataset.clone(),
            levels: Vec::new(),
            problem_ids: Vec::new(),
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
        if let Some((_, ids)) = self.bin_problems() {
            c.problem_ids = ids;
        }
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

    /// The problem list's difficulty-bin filter and the ids of the problems it lets through
    /// (of the open sweep's bins): what a sweep started from the window is limited to.
    pub fn bin_problems(&self) -> Option<(usize, Vec<String>)> {
        let b = self.bin_filter?;
        let ids = self
            .problems
            .iter()
            .filter(|p| self.bin_of(&p.id) == Some(b))
            .map(|p| p.id.clone())
            .collect();
        Some((b, ids))
    }

    /// The policy the worker runs.
    pub fn policy(&self) -> &std::path::Path {
        &self.policy
    }
}
