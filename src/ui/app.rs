//! The app: state, the commands panels send, and the one place that applies them.

use super::panels;
use super::worker::{Job, Worker, WorkerEvent};
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
    /// Sampling temperature.
    pub temperature: f64,
    /// Seed.
    pub seed: u64,
    /// Show only this level in the problem list.
    pub level_filter: Option<u8>,
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
            temperature: 1.0,
            seed: 0,
            level_filter: None,
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
    }
}

/// What panels ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Select a problem (index into the dataset).
    SelectProblem(usize),
    /// Run the selected problem with the current settings.
    Run,
    /// Stop the running search.
    Cancel,
    /// Inspect a node of the tree.
    SelectNode(NodeId),
    /// Replace the settings.
    SetSettings(Settings),
    /// Write the figure set of the sweep in this directory (on a thread of its own).
    ExportFigures(PathBuf),
    /// Read a sweep directory for the Plots tab (on a thread of its own).
    OpenSweep(PathBuf),
    /// Plot this difficulty bin (0: all problems).
    SetPlotBin(usize),
    /// Show the tree or the plots in the centre.
    SetView(View),
}

/// What the centre of the window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// The search tree of the current problem.
    #[default]
    Tree,
    /// The curves of the open sweep.
    Plots,
}

/// A sweep read for the Plots tab: its manifest and every curve.
pub struct LoadedSweep {
    /// Where it is.
    pub dir: PathBuf,
    /// Its `sweep.json`.
    pub manifest: crate::runner::sweep::SweepManifest,
    /// Its curves.
    pub curves: crate::analysis::sweep::SweepCurves,
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
        h += &format!(
            " · budget N = {} · temperature {} · seed {}",
            s.budget, s.temperature, s.seed
        );
        Self { header: h, scored }
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
    pub tree_pos: Vec<egui::Pos2>,
    /// Which search drew the tree.
    pub tree_info: Option<TreeInfo>,
    /// The last finished search.
    pub last: Option<Record>,
    /// The node that carries the chosen answer.
    pub chosen_leaf: Option<NodeId>,
    /// The node being inspected.
    pub selected_node: Option<NodeId>,
    /// Verdicts of problems run this session, by id.
    pub verdicts: BTreeMap<String, bool>,
    /// Accuracy of this session by level.
    pub tally: Tally,
    /// The last error, shown until the next run.
    pub error: Option<String>,
    /// The figure export under way (its result arrives here), and the last one's outcome.
    pub export: Option<std::sync::mpsc::Receiver<Result<String, String>>>,
    /// What the last figure export wrote, or why it failed.
    pub export_status: Option<Result<String, String>>,
    /// The sweep open in the Plots tab.
    pub sweep: Option<LoadedSweep>,
    /// The sweep being read.
    pub sweep_loading: Option<std::sync::mpsc::Receiver<Result<LoadedSweep, String>>>,
    /// The bin the Plots tab draws (0: all problems).
    pub plot_bin: usize,
    /// The centre's view.
    pub view: View,
    /// Where the settings are kept between launches (`None`: not kept).
    settings_path: Option<PathBuf>,
    policy: PathBuf,
    worker: Worker,
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
            Ok(s) => (s, None),
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
        let (settings, settings_error) = match &settings_path {
            Some(p) => Settings::load(p),
            None => (Settings::default(), None),
        };
        let problems = crate::data::toy::eval_split();
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
            tree_pos: Vec::new(),
            tree_info: None,
            last: None,
            chosen_leaf: None,
            selected_node: None,
            verdicts: BTreeMap::new(),
            tally: Tally::new(),
            error: settings_error,
            export: None,
            export_status: None,
            settings_path,
            sweep: None,
            sweep_loading: None,
            plot_bin: 0,
            view: View::Tree,
            policy,
            worker,
        })
    }

    /// The run configuration the settings describe (one problem at a time in the window).
    pub fn config_for(settings: &Settings, policy: &std::path::Path) -> RunConfig {
        RunConfig {
            dataset: DatasetSpec::Toy,
            levels: Vec::new(),
            limit: None,
            policy: policy.to_path_buf(),
            remote: Default::default(),
            verifier: settings.verifier.clone(),
            strategy: settings.spec(),
            budget: settings.budget,
            sampling: SamplingParams {
                temperature: settings.temperature,
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

    /// Applies one command.
    pub fn apply(&mut self, cmd: Command) {
        match cmd {
            Command::SelectProblem(i) if i < self.problems.len() => {
                self.selected = Some(i);
                if self.running.is_none() {
                    self.tree = SearchTree::new(&self.problems[i].question);
                    self.tree_pos = panels::tree_view::layout(&self.tree);
                    self.tree_info = None;
                    self.last = None;
                    self.chosen_leaf = None;
                    self.selected_node = None;
                }
            }
            Command::SelectProblem(_) => {}
            Command::Run => self.start_run(),
            Command::Cancel => self.worker.cancel(),
            Command::SelectNode(id) => self.selected_node = Some(id),
            Command::SetSettings(s) => {
                if let Some(p) = &self.settings_path {
                    if let Err(e) = s.save(p) {
                        self.error = Some(format!(
                            "cannot keep the settings in {}: {e:#}",
                            p.display()
                        ));
                    }
                }
                self.settings = s;
            }
            Command::ExportFigures(dir) => self.export_figures(dir),
            Command::OpenSweep(dir) => self.open_sweep(dir),
            Command::SetPlotBin(b) => self.plot_bin = b,
            Command::SetView(v) => self.view = v,
        }
    }

    /// Reads the sweep in `dir` (records and curves) on a thread of its own; the Plots tab
    /// shows it when it arrives, and a failure lands in `error`.
    pub fn open_sweep(&mut self, dir: PathBuf) {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("thinkscale-open-sweep".into())
            .spawn(move || {
                let loaded = crate::runner::sweep::load(&dir)
                    .map(|(manifest, records)| LoadedSweep {
                        curves: crate::analysis::sweep::curves(&manifest, &records),
                        manifest,
                        dir,
                    })
                    .map_err(|e| format!("{e:#}"));
                let _ = tx.send(loaded);
            });
        match spawned {
            Ok(_) => {
                self.sweep_loading = Some(rx);
                self.view = View::Plots;
            }
            Err(e) => self.error = Some(format!("cannot read the sweep: {e}")),
        }
    }

    /// Writes the figure set of the sweep in `dir` with the same function as `thinkscale
    /// plot` ([`crate::export::export_sweep`], double-column preset), on a thread of its own so
    /// the window keeps drawing; the outcome lands in `export_status`.
    pub fn export_figures(&mut self, dir: PathBuf) {
        if self.export.is_some() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.export_status = None;
        let spawned = std::thread::Builder::new()
            .name("thinkscale-export".into())
            .spawn(move || {
                let result = crate::export::export_sweep(&dir, crate::export::Preset::Double)
                    .map(|files| {
                        format!("{} files in {}", files.len(), dir.join("figures").display())
                    })
                    .map_err(|e| format!("{e:#}"));
                let _ = tx.send(result);
            });
        match spawned {
            Ok(_) => self.export = Some(rx),
            Err(e) => self.export_status = Some(Err(format!("cannot start the export: {e}"))),
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
            problem,
            config: Box::new(config),
        }) {
            Ok(()) => {
                self.tree_info = Some(TreeInfo::of(&self.settings));
                self.running = Some((i, 0, self.settings.budget));
                self.error = None;
                self.last = None;
                self.chosen_leaf = None;
                self.selected_node = None;
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Drains the worker's events into the state.
    pub fn drain(&mut self) {
        if let Some(rx) = &self.sweep_loading {
            match rx.try_recv() {
                Ok(Ok(s)) => {
                    self.sweep = Some(s);
                    self.sweep_loading = None;
                }
                Ok(Err(e)) => {
                    self.error = Some(e);
                    self.sweep_loading = None;
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.error = Some("reading the sweep stopped".into());
                    self.sweep_loading = None;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
        }
        if let Some(rx) = &self.export {
            match rx.try_recv() {
                Ok(r) => {
                    self.export_status = Some(r);
                    self.export = None;
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.export_status = Some(Err("the export stopped".into()));
                    self.export = None;
                }
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
        }
        let mut grew = false;
        for ev in self.worker.poll(4096) {
            match ev {
                WorkerEvent::Loaded { policy, params } => {
                    self.model = ModelStatus::Ready(policy, params)
                }
                WorkerEvent::LoadFailed(e) => self.model = ModelStatus::Failed(e),
                WorkerEvent::Search(e) => {
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
                WorkerEvent::Done(record) => {
                    self.running = None;
                    self.verdicts.insert(record.id.clone(), record.correct);
                    let t = self.tally.entry(record.level.unwrap_or(0)).or_default();
                    t.0 += 1;
                    t.1 += record.correct as usize;
                    self.last = Some(*record);
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
        if grew || self.tree_pos.len() != self.tree.nodes.len() {
            self.tree_pos = panels::tree_view::layout(&self.tree);
        }
    }

    /// Draws the whole window into `ui` and applies what the panels asked for.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.drain();
        let mut cmds = Vec::new();
        egui::Panel::top("controls").show(ui, |ui| panels::controls::ui(ui, self, &mut cmds));
        egui::Panel::left("problems")
            .default_size(330.0)
            .show(ui, |ui| panels::problems::ui(ui, self, &mut cmds));
        egui::Panel::bottom("summary")
            .default_size(210.0)
            .resizable(true)
            .show(ui, |ui| panels::summary::ui(ui, self));
        egui::Panel::right("node")
            .default_size(260.0)
            .show(ui, |ui| panels::node::ui(ui, self));
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
                View::Tree => panels::tree_view::ui(ui, self, &mut cmds),
                View::Plots => panels::plots::ui(ui, self, &mut cmds),
            }
        });
        for c in cmds {
            self.apply(c);
        }
        if self.running.is_some()
            || self.model == ModelStatus::Loading
            || self.export.is_some()
            || self.sweep_loading.is_some()
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
mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;
    use std::time::{Duration, Instant};

    fn step_until(harness: &mut Harness<'_, App>, what: &str, done: impl Fn(&App) -> bool) {
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

    /// The window on `app`, `width` points wide, once its policy has loaded.
    fn loaded(app: App, width: f32) -> Harness<'static, App> {
        let mut harness = Harness::builder()
            .with_size([width, 800.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        step_until(&mut harness, "the policy to load", |a| {
            matches!(a.model, ModelStatus::Ready(..))
        });
        harness
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
    fn choose_the_log_prob_verifier_and_its_scores_come_back() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let question = app.problems[2].question.clone();
        let mut harness = loaded(app, 1280.0);
        harness.get_by_label("Verifier").click();
        harness.run_steps(2);
        harness.get_by_label("logprob").click();
        harness.run_steps(2);
        assert_eq!(harness.state().settings.verifier, VerifierSpec::Logprob);

        harness.get_by_label_contains(&question).click();
        harness.run_steps(2);
        harness.get_by_label("Run").click();
        harness.run_steps(2);
        step_until(&mut harness, "the search to finish", |a| a.last.is_some());
        let record = harness.state().last.clone().unwrap();
        // Log-probability scores lie in (0, 1] and, unlike the oracle's, are not all 0 or 1.
        let scores: Vec<f32> = record
            .candidates
            .iter()
            .flat_map(|c| c.steps.iter().map(|s| s.score))
            .collect();
        assert!(scores.iter().all(|&s| s > 0.0 && s <= 1.0), "{scores:?}");
        assert!(scores.iter().any(|&s| s < 1.0), "{scores:?}");
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
        let index = app
            .problems
            .iter()
            .position(|p| p.level == Some(4))
            .unwrap();
        let question = app.problems[index].question.clone();
        let mut harness = loaded(app, 1280.0);
        harness.get_by_label("Strategy").click();
        harness.run_steps(2);
        harness.get_by_label("beam").click();
        harness.run_steps(2);
        assert_eq!(harness.state().settings.strategy, StrategyKind::Beam);
        // The tree searches' parameters appear once a tree search is chosen.
        harness.get_by_label("Beam width");
        harness.get_by_label_contains(&question).click();
        harness.run_steps(2);
        harness.get_by_label("Run").click();
        harness.run_steps(2);
        step_until(&mut harness, "the search to finish", |a| a.last.is_some());
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
        harness.get_by_label_contains(&question).click();
        harness.run_steps(2);
        harness.get_by_label("Run").click();
        harness.run_steps(2);
        step_until(&mut harness, "the search to finish", |a| a.last.is_some());
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
    fn toy_sweep(dir: &std::path::Path, strategies: &str, budgets: &str) {
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
        harness.get_by_label_contains("figures:");
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
            expected.iter().any(|(l, _)| l == "compute-optimal"),
            "{expected:?}"
        );
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
        assert!(again.error.is_none());
        drop(again);
        // A file that is not settings: the defaults, an error naming it, and the file kept.
        std::fs::write(&path, "{ not json").unwrap();
        let broken = App::with_settings(&ctx, default_policy_dir(), Some(path.clone())).unwrap();
        assert_eq!(broken.settings, Settings::default());
        assert!(broken
            .error
            .as_deref()
            .is_some_and(|e| e.contains("settings.json")));
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
    }
}
