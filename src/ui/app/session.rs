//! Keeping and restoring the session ([`crate::ui::state::session`]).

use super::*;
use crate::ui::state::session::Session;

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
