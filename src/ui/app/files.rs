//! Acting on the path prompt ([`crate::ui::state::files`]): opening it, the file dialog, what
//! a submitted path does, the toasts.

use super::*;
use crate::data::DatasetSpec;
use crate::ui::state::files::*;
use crate::verify::VerifierSpec;
use std::path::Path;
use std::time::Instant;

impl App {
    /// Opens the path prompt for `what`, the field holding the last-used directory (and the
    /// export's suggested file name).
    pub fn ask_path(&mut self, what: PathFor) {
        let dir = self
            .settings
            .last_dir
            .clone()
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let text = match what.file_name(self) {
            Some(name) => dir.join(name),
            None => dir,
        };
        let mut text = text.display().to_string();
        if what.is_folder() && !text.ends_with(std::path::MAIN_SEPARATOR) {
            text.push(std::path::MAIN_SEPARATOR);
        }
        self.path_ask = Some(PathAsk { what, text });
    }

    /// Opens the system's file dialog for the prompt on screen; a path picked there is used at
    /// once. A dialog that returns at once without a path means none is available: the window
    /// says so once, and the field stays the way.
    pub fn browse(&mut self) {
        let Some(ask) = self.path_ask.clone() else {
            return;
        };
        let start = expand(&ask.text);
        let dir = if start.is_dir() {
            start.clone()
        } else {
            start.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let mut dialog = rfd::FileDialog::new()
            .set_title(ask.what.title())
            .set_directory(&dir);
        let began = Instant::now();
        let picked = match ask.what.pick() {
            Pick::Folder => dialog.pick_folder(),
            Pick::File(name, exts) => dialog.add_filter(name, exts).pick_file(),
            Pick::Save(name, exts) => {
                if let Some(file) = start.file_name() {
                    dialog = dialog.set_file_name(file.to_string_lossy());
                }
                dialog.add_filter(name, exts).save_file()
            }
        };
        match picked {
            Some(p) => {
                self.path_ask = Some(PathAsk {
                    what: ask.what,
                    text: p.display().to_string(),
                });
                self.submit_path();
            }
            None if began.elapsed() < NO_DIALOG_WITHIN => self.no_file_dialog(),
            None => {}
        }
    }

    /// Notes that no file dialog can open here, saying so once.
    pub fn no_file_dialog(&mut self) {
        if !self.no_dialog {
            self.no_dialog = true;
            self.toast(Err(NO_DIALOG.into()));
        }
    }

    /// Acts on the path in the prompt: opens, loads, runs or writes there.
    pub fn submit_path(&mut self) {
        let Some(ask) = self.path_ask.take() else {
            return;
        };
        if ask.text.trim().is_empty() {
            self.path_ask = Some(ask);
            return;
        }
        let path = expand(&ask.text);
        let dir = if ask.what.is_folder() {
            Some(path.clone())
        } else {
            path.parent().map(Path::to_path_buf)
        };
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            if self.settings.last_dir.as_ref() != Some(&dir) {
                let s = Settings {
                    last_dir: Some(dir),
                    ..self.settings.clone()
                };
                self.apply(Command::SetSettings(s));
            }
        }
        let cmd = match ask.what {
            PathFor::PolicyDir | PathFor::PolicyGguf => Command::SetPolicy(path),
            PathFor::PrmDir => Command::SetSettings(Settings {
                verifier: VerifierSpec::Prm(path),
                ..self.settings.clone()
            }),
            PathFor::Dataset => Command::SetDataset(Box::new(DatasetSpec::Jsonl {
                path,
                format: None,
                skip_bad_lines: true,
            })),
            PathFor::OpenSweep => Command::OpenSweep(path),
            PathFor::Overlay => Command::OpenOverlay(path),
            PathFor::ExportFigures => Command::ExportFigures(path),
            PathFor::ExportPlot => Command::ExportPlot(path),
            PathFor::RunSweep => Command::StartSweep(Box::new(self.sweep_config()), path),
            PathFor::ExportTree => Command::ExportTree(path),
        };
        self.apply(cmd);
    }

    /// Shows `outcome` in the window's corner for a few seconds.
    pub fn toast(&mut self, outcome: Result<String, String>) {
        let (text, error) = match outcome {
            Ok(t) => (t, false),
            Err(e) => (e, true),
        };
        self.toasts.push(Toast {
            text,
            error,
            until: Instant::now() + TOAST_FOR,
        });
    }
}
