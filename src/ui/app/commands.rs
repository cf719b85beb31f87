//! The command handler: every command a panel sends, applied to the app's state in one place.

use super::*;

impl App {
    /// Applies one command.
    pub fn apply(&mut self, cmd: Command) {
        // What the window shows is kept as soon as it changes (settings keep themselves).
        let keep = self.settings_path.is_some() && !matches!(cmd, Command::SetSettings(_));
        self.apply_one(cmd);
        if keep {
            self.keep_session();
        }
    }

    pub(super) fn apply_one(&mut self, cmd: Command) {
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
    pub(in crate::ui) fn save_settings(&mut self) {
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
    pub(super) fn start_sweep(&mut self, config: crate::runner::sweep::SweepConfig, dir: PathBuf) {
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
    pub(super) fn export_plot(&mut self, path: PathBuf) {
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
            None => (State::config_for(&self.settings, &self.policy), None),
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

    pub(super) fn start_run(&mut self) {
        let (Some(i), None, ModelStatus::Ready(..)) = (self.selected, self.running, &self.model)
        else {
            return;
        };
        let config = State::config_for(&self.settings, &self.policy);
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

    /// Lays the tree (and the replayed round) out again after the tree changed.
    pub(in crate::ui) fn after_tree_change(&mut self) {
        self.relayout();
        self.refresh_view();
    }

    /// Replaces the problem list with `dataset`'s (its skipped bad lines, or why it cannot
    /// be read, are reported; a dataset that cannot be read leaves the list as it was).
    pub(super) fn set_dataset(&mut self, dataset: DatasetSpec) {
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

    /// Replaces the worker with one that loads `policy` (the running search, if any, is
    /// cancelled; the tree on screen stays until the next run).
    pub(super) fn set_policy(&mut self, policy: PathBuf) {
        let ctx = self.ctx.clone();
        let config = State::config_for(&self.settings, &policy);
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

    /// An empty tree on `question` in a fresh view: nothing collapsed, the camera following,
    /// no result, node or header from the tree before.
    pub(in crate::ui) fn fresh_tree(&mut self, question: &str) {
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
    pub(in crate::ui) fn relayout(&mut self) {
        self.tree_layout = crate::ui::layout::layout(&self.tree, &self.collapsed);
    }
}
