//! Session restore: what the user was looking at — the open sweep, the selected problem, the
//! tab, the figure and its bin — is kept with the settings as soon as it changes (not only on
//! exit, so a SIGTERM or a crash loses nothing), and comes back at the next launch.

use super::app::{App, Command, View};
use crate::export::Figure;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the window showed, kept with the settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Session {
    /// The sweep open in the Plots tab.
    pub open_sweep: Option<PathBuf>,
    /// The selected problem, by id.
    pub problem: Option<String>,
    /// The tab in the centre.
    pub view: View,
    /// The figure the Plots tab draws.
    pub figure: Figure,
    /// Its difficulty bin (0: all problems).
    pub plot_bin: usize,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            open_sweep: None,
            problem: None,
            view: View::Tree,
            figure: Figure::Accuracy,
            plot_bin: 0,
        }
    }
}

impl App {
    /// The session as the window shows it now.
    fn session_now(&self) -> Session {
        Session {
            open_sweep: self
                .sweep
                .as_ref()
                .map(|s| s.dir.clone())
                .or_else(|| self.settings.session.open_sweep.clone()),
            problem: self
                .selected
                .and_then(|i| self.problems.get(i))
                .map(|p| p.id.clone()),
            view: self.view,
            figure: self.plot_figure,
            plot_bin: self.plot_bin,
        }
    }

    /// Keeps the session with the settings where it changed.
    pub fn keep_session(&mut self) {
        let now = self.session_now();
        if now != self.settings.session {
            self.settings.session = now;
            self.save_settings();
        }
    }

    /// Brings the kept session back: the problem, the tab, the figure and its bin at once, the
    /// sweep once it has been read again (a directory that is gone is skipped).
    pub fn restore_session(&mut self) {
        let s = self.settings.session.clone();
        if let Some(i) = s
            .problem
            .as_ref()
            .and_then(|id| self.problems.iter().position(|p| &p.id == id))
        {
            self.apply(Command::SelectProblem(i));
        }
        self.view = s.view;
        self.plot_figure = s.figure;
        self.plot_bin = s.plot_bin;
        if let Some(dir) = s.open_sweep.filter(|d| d.join("sweep.json").is_file()) {
            self.open_sweep(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use crate::ui::app::tests::{step_until, toy_sweep};
    use egui_kittest::Harness;

    fn window(settings: &std::path::Path) -> Harness<'static, App> {
        let mut app = App::with_settings(
            &egui::Context::default(),
            default_policy_dir(),
            Some(settings.to_path_buf()),
        )
        .unwrap();
        app.restore_session();
        Harness::builder()
            .with_size([1280.0, 720.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app)
    }

    #[test]
    fn the_open_sweep_problem_tab_and_figure_come_back_without_a_clean_exit() {
        let tmp = tempfile::tempdir().unwrap();
        let settings = tmp.path().join("settings.json");
        let dir = tmp.path().join("sweep");
        toy_sweep(&dir, "\"majority\", \"weighted-best-of-n\"", "1, 2");
        let mut harness = window(&settings);
        harness.run_steps(2);
        harness.state_mut().apply(Command::SelectProblem(3));
        harness.state_mut().apply(Command::OpenSweep(dir.clone()));
        step_until(&mut harness, "the sweep", |a| a.sweep.is_some());
        harness.state_mut().apply(Command::SetView(View::Plots));
        harness
            .state_mut()
            .apply(Command::SetPlotFigure(Figure::ComputeTokens));
        harness.state_mut().apply(Command::SetPlotBin(2));
        harness.run_steps(2);
        let problem = harness.state().problems[3].id.clone();
        // No exit: the window is dropped as a SIGTERM would leave it.
        drop(harness);

        let mut harness = window(&settings);
        step_until(&mut harness, "the sweep again", |a| a.sweep.is_some());
        let app = harness.state();
        assert_eq!(app.selected, Some(3));
        assert_eq!(app.problems[3].id, problem);
        assert_eq!(app.view, View::Plots);
        assert_eq!(app.plot_figure, Figure::ComputeTokens);
        assert_eq!(app.plot_bin, 2);
        assert_eq!(app.sweep.as_ref().unwrap().dir, dir);

        // A sweep directory that is gone is skipped; the rest still comes back.
        drop(harness);
        std::fs::remove_dir_all(&dir).unwrap();
        let mut harness = window(&settings);
        harness.run_steps(3);
        let app = harness.state();
        assert!(app.sweep.is_none() && app.sweep_loading.is_none());
        assert_eq!(app.selected, Some(3));
        assert_eq!(app.view, View::Plots);
    }
}
