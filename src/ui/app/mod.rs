//! The app: the window's state ([`crate::ui::state`]) with the worker thread and the window's
//! other threads that change it. The one place that applies the panels' commands is
//! [`commands`]; the glue to the threads is [`glue`]; each feature's actions have a file.

mod commands;
mod compare;
mod dial;
mod files;
mod glue;
mod replay;
mod session;

use crate::analysis::reselect;
use crate::data::DatasetSpec;
use crate::export::Figure;
use crate::search::{SearchEvent, SearchTree};
use crate::ui::panels;
use crate::ui::sweeps::{read_sweep, Loading, SweepJob, Task};
use crate::ui::worker::{Job, Worker, WorkerEvent};
use crate::verify::VerifierSpec;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

pub use crate::ui::state::{
    load_problems, settings_path, Command, LoadedSweep, ModelStatus, Settings, State, Tally,
    TreeInfo, View,
};

/// The workbench: the state the panels draw, and the worker and threads that change it.
pub struct App {
    /// What the window shows; panels read it (the app derefs to it).
    pub state: State,
    /// When the running sweep's curves were last re-read.
    last_reload: Option<std::time::Instant>,
    /// Records landed since the curves were last re-read.
    reload_pending: bool,
    /// Where the settings are kept between launches (`None`: not kept).
    settings_path: Option<PathBuf>,
    worker: Worker,
    ctx: egui::Context,
}

// The app is its state plus the machinery that changes it; reading `app.tree` for
// `app.state.tree` keeps the command handler and the tests in the state's words.
impl std::ops::Deref for App {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl std::ops::DerefMut for App {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.state
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
        let config = State::config_for(&settings, &policy);
        let worker = Worker::spawn(config, move || wake_ctx.request_repaint())?;
        let state = State {
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
            runs_dir: None,
            kept: None,
            verifier_loaded: None,
            run_when_ready: false,
            sweep: None,
            sweep_loading: None,
            overlay: None,
            overlay_loading: None,
            sweep_job: None,
            plot_bin: 0,
            plot_figure: Figure::Accuracy,
            plot_panel: 0,
            plot_export: None,
            plot_status: None,
            view: View::Tree,
            policy,
            tokens: 0,
        };
        Ok(Self {
            state,
            last_reload: None,
            reload_pending: false,
            settings_path,
            worker,
            ctx: ctx.clone(),
        })
    }

    /// Draws the whole window into `ui` and applies what the panels asked for.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.drain();
        self.state.tokens = self.worker.tokens();
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
        egui::Panel::top("controls")
            .show(ui, |ui| panels::controls::top(ui, &self.state, &mut cmds));
        egui::Panel::left("problems")
            .default_size(330.0)
            .show(ui, |ui| panels::problems::ui(ui, &self.state, &mut cmds));
        egui::Panel::bottom("summary")
            .default_size(160.0)
            .resizable(true)
            .show(ui, |ui| panels::summary::ui(ui, &self.state, &mut cmds));
        egui::Panel::right("strategy-and-node")
            .default_size(300.0)
            .resizable(true)
            .show(ui, |ui| {
                panels::controls::strategy(ui, &self.state, &mut cmds);
                ui.separator();
                panels::node::ui(ui, &self.state);
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
                        .show(ui, |ui| panels::step_scores::ui(ui, &self.state, &mut cmds));
                    match &self.state.pinned {
                        Some(p) => {
                            panels::replay::bar(ui, &self.state, &mut cmds);
                            panels::compare::ui(ui, &self.state, p, &mut cmds)
                        }
                        None => panels::tree_view::ui(ui, &self.state, &mut cmds),
                    }
                }
                View::Plots => panels::plots::ui(ui, &self.state, &mut cmds),
            }
        });
        panels::files::prompt(ui.ctx(), &self.state, &mut cmds);
        panels::files::toasts(ui.ctx(), &self.state);
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
pub(crate) mod tests;
