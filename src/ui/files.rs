//! Files without a portal: every open and export asks for its path in a small window with a
//! path field (the last-used directory filled in) and a "Browse…" button that opens the system's
//! file dialog where there is one. Without an XDG desktop portal (a plain X session, a remote
//! desktop, many tiling window managers) the dialog cannot open; the window says so once and the
//! field is the way. Every export ends with a toast naming the file written, or the error.

use super::app::{App, Command, Settings};
use crate::data::DatasetSpec;
use crate::verify::VerifierSpec;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a path is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathFor {
    /// A policy directory (Hugging Face layout).
    PolicyDir,
    /// A GGUF policy file.
    PolicyGguf,
    /// A process reward model directory.
    PrmDir,
    /// A JSONL dataset file.
    Dataset,
    /// A sweep (or run) directory to open in the Plots tab.
    OpenSweep,
    /// A sweep directory to draw over the open one.
    Overlay,
    /// A sweep directory whose figure set to write.
    ExportFigures,
    /// The file the figure on screen is written to (`.svg` or `.png`).
    ExportPlot,
    /// The directory a sweep from the window runs in.
    RunSweep,
    /// The SVG file the tree on screen is written to.
    ExportTree,
}

/// How the path is picked.
enum Pick {
    Folder,
    File(&'static str, &'static [&'static str]),
    Save(&'static str, &'static [&'static str]),
}

impl PathFor {
    /// The prompt's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::PolicyDir => "A policy directory (config.json, tokenizer.json, weights)",
            Self::PolicyGguf => "A GGUF policy file",
            Self::PrmDir => "A process reward model directory",
            Self::Dataset => "A JSONL dataset (MATH500, GSM8K)",
            Self::OpenSweep => "A sweep or run directory to open (holds sweep.json)",
            Self::Overlay => "A sweep directory to overlay (holds sweep.json)",
            Self::ExportFigures => "A sweep directory whose figures to write (holds sweep.json)",
            Self::ExportPlot => "The file to write the figure to (.svg or .png)",
            Self::RunSweep => "The sweep's directory (new, or the same sweep to resume)",
            Self::ExportTree => "The SVG file to write the tree to",
        }
    }

    fn pick(self) -> Pick {
        match self {
            Self::PolicyGguf => Pick::File("GGUF", &["gguf"]),
            Self::Dataset => Pick::File("JSONL", &["jsonl"]),
            Self::ExportPlot => Pick::Save("SVG or PNG", &["svg", "png"]),
            Self::ExportTree => Pick::Save("SVG", &["svg"]),
            _ => Pick::Folder,
        }
    }

    /// The file name an export suggests.
    fn file_name(self, app: &App) -> Option<String> {
        match self {
            Self::ExportPlot => Some(format!("{}.svg", app.plot_figure)),
            Self::ExportTree => Some("tree.svg".into()),
            _ => None,
        }
    }

    /// Whether the path names a directory (else a file).
    fn is_folder(self) -> bool {
        matches!(self.pick(), Pick::Folder)
    }
}

/// The path prompt on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct PathAsk {
    /// What the path is for.
    pub what: PathFor,
    /// What the field holds.
    pub text: String,
}

/// A message in the window's corner for a few seconds.
#[derive(Debug, Clone)]
pub struct Toast {
    /// What it says.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
    /// When it goes.
    pub until: Instant,
}

/// How long a toast stays.
const TOAST_FOR: Duration = Duration::from_secs(8);

/// A file dialog that returns sooner than this showed nothing: no dialog is available.
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(250);

/// What the window says once when no file dialog can open.
pub const NO_DIALOG: &str = "No file dialog is available here (no XDG desktop portal): type \
    the path in the field";

/// `~/` at the start of a typed path is the home directory.
fn expand(text: &str) -> PathBuf {
    let t = text.trim();
    match (t.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(t),
    }
}

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

/// The path prompt, where one is asked for.
pub fn prompt(ctx: &egui::Context, app: &App, cmds: &mut Vec<Command>) {
    let Some(ask) = &app.path_ask else {
        return;
    };
    egui::Window::new(ask.what.title())
        .id(egui::Id::unique("path-prompt"))
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| {
            let mut text = ask.text.clone();
            ui.horizontal(|ui| {
                let l = ui.label("Path");
                let field = ui
                    .add(egui::TextEdit::singleline(&mut text).desired_width(460.0))
                    .labelled_by(l.id);
                if field.changed() {
                    cmds.push(Command::SetPathText(text.clone()));
                }
                if !field.has_focus() && !field.lost_focus() {
                    field.request_focus();
                }
                if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    cmds.push(Command::SubmitPath);
                }
            });
            if app.no_dialog {
                ui.weak(NO_DIALOG);
            }
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!app.no_dialog, egui::Button::new("Browse…"))
                    .on_hover_text("Pick it in the system's file dialog")
                    .on_disabled_hover_text(NO_DIALOG)
                    .clicked()
                {
                    cmds.push(Command::BrowsePath);
                }
                if ui
                    .add_enabled(!ask.text.trim().is_empty(), egui::Button::new("OK"))
                    .clicked()
                {
                    cmds.push(Command::SubmitPath);
                }
                if ui.button("Cancel").clicked() || ui.input(|i| i.key_pressed(egui::Key::Escape)) {
                    cmds.push(Command::CancelPath);
                }
            });
        });
}

/// The toasts still due, in the window's lower right corner.
pub fn toasts(ctx: &egui::Context, app: &App) {
    let now = Instant::now();
    let live: Vec<&Toast> = app.toasts.iter().filter(|t| t.until > now).collect();
    if live.is_empty() {
        return;
    }
    egui::Area::new(egui::Id::unique("toasts"))
        .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -12.0))
        .order(egui::Order::Foreground)
        .interactable(false)
        .show(ctx, |ui| {
            for t in live {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_max_width(520.0);
                    if t.error {
                        ui.colored_label(crate::ui::theme::BAD, &t.text);
                    } else {
                        ui.label(&t.text);
                    }
                });
            }
        });
    ctx.request_repaint_after(Duration::from_millis(500));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use crate::ui::app::tests::{beam_searched, step_until, toy_sweep};
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;

    /// Empties the prompt's field and types `text` into it, as a user does.
    fn type_path(harness: &mut Harness<'_, App>, text: &str) {
        harness
            .state_mut()
            .apply(Command::SetPathText(String::new()));
        harness.run_steps(2);
        harness
            .get_by_role_and_label(Role::TextInput, "Path")
            .type_text(text);
        harness.run_steps(2);
    }

    #[test]
    fn a_sweep_opens_from_a_typed_path_and_the_next_prompt_starts_there() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sweep");
        toy_sweep(&dir, "\"majority\"", "1, 2");
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut harness = Harness::builder()
            .with_size([1280.0, 720.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        harness.run_steps(2);
        harness.get_by_label("Open sweep…").click();
        harness.run_steps(4);
        // The prompt: a path field and Browse…, OK, Cancel.
        assert_eq!(
            harness.state().path_ask.as_ref().map(|a| a.what),
            Some(PathFor::OpenSweep)
        );
        harness.get_by_label("Browse…");
        type_path(&mut harness, &dir.display().to_string());
        assert_eq!(
            harness.state().path_ask.as_ref().map(|a| a.text.clone()),
            Some(dir.display().to_string())
        );
        harness.get_by_label("OK").click();
        harness.run_steps(2);
        assert!(harness.state().path_ask.is_none());
        step_until(&mut harness, "the sweep to open", |a| a.sweep.is_some());
        assert_eq!(harness.state().sweep.as_ref().unwrap().dir, dir);
        // The next prompt starts in that directory.
        assert_eq!(harness.state().settings.last_dir.as_ref(), Some(&dir));
        harness.get_by_label("Export figures…").click();
        harness.run_steps(4);
        let text = harness.state().path_ask.as_ref().unwrap().text.clone();
        assert_eq!(PathBuf::from(text.trim_end_matches('/')), dir);
        // Escape (or Cancel) closes it, and nothing is written.
        harness.get_by_label("Cancel").click();
        harness.run_steps(2);
        assert!(harness.state().path_ask.is_none());
        assert!(!dir.join("figures").exists());
    }

    #[test]
    fn an_exported_tree_says_where_it_went_and_a_failed_one_why() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut harness, _) = beam_searched("0.8", None);
        harness.get_by_label("Export tree…").click();
        harness.run_steps(4);
        // The suggested name in the last-used directory.
        let text = harness.state().path_ask.as_ref().unwrap().text.clone();
        assert!(text.ends_with("tree.svg"), "{text}");
        let path = tmp.path().join("beam.svg");
        type_path(&mut harness, &path.display().to_string());
        harness.get_by_label("OK").click();
        harness.run_steps(2);
        assert!(path.is_file());
        let written = format!("tree written to {}", path.display());
        harness.get_by_label(&written);
        assert!(harness
            .state()
            .toasts
            .iter()
            .any(|t| t.text == written && !t.error));
        // A directory that does not exist: the error, named, in a toast.
        harness.get_by_label("Export tree…").click();
        harness.run_steps(4);
        let bad = tmp.path().join("missing").join("tree.svg");
        type_path(&mut harness, &bad.display().to_string());
        harness.key_press(egui::Key::Enter);
        harness.run_steps(2);
        let app = harness.state();
        assert!(app.path_ask.is_none());
        let t = app.toasts.last().unwrap();
        assert!(
            t.error && t.text.contains(&bad.display().to_string()),
            "{}",
            t.text
        );
    }

    #[test]
    fn a_dialog_that_cannot_open_is_said_once_and_the_field_stays() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut harness = Harness::builder()
            .with_size([1280.0, 720.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        harness.get_by_label("Open sweep…").click();
        harness.run_steps(2);
        harness.state_mut().no_file_dialog();
        harness.state_mut().no_file_dialog();
        harness.run_steps(2);
        let app = harness.state();
        assert_eq!(app.toasts.iter().filter(|t| t.text == NO_DIALOG).count(), 1);
        assert!(app.path_ask.is_some());
        // Browse… is off and says why; the field is the way.
        {
            use egui_kittest::kittest::NodeT;
            assert!(harness
                .get_by_label("Browse…")
                .accesskit_node()
                .is_disabled());
        }
        harness.get_by_role_and_label(Role::TextInput, "Path");
    }
}
