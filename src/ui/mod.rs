//! The workbench window (eframe). Panels read the [`state`] and emit [`state::Command`]s; the
//! [`app`] applies them in one place. Models run on the [`worker`] thread; the window never
//! waits for them.
//!
//! Inside the window the modules are layered too (`tests/layering.rs` holds them to it): `theme`,
//! `layout`, `sweeps` and `worker` at the bottom; `state` on them; `panels` on the state; `app`
//! on top, the only module that sees the worker.

pub mod app;
pub mod layout;
pub mod panels;
pub mod state;
pub mod sweeps;
pub mod theme;
pub mod worker;

pub use app::App;

use crate::engine::default_policy_dir;

/// What the window opens with.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    /// The policy (default: the embedded toy policy).
    pub policy: Option<std::path::PathBuf>,
    /// The verifier, replacing the saved one.
    pub verifier: Option<crate::verify::VerifierSpec>,
    /// A sweep read into the Plots tab.
    pub open: Option<std::path::PathBuf>,
    /// A problem to select, by id.
    pub problem: Option<String>,
    /// Search it as soon as the policy has loaded.
    pub run: bool,
}

/// Opens the window as `launch` says. Runs started in it are kept under `runs/window`.
pub fn run(launch: Launch) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1440.0, 900.0])
            .with_title("thinkscale"),
        ..Default::default()
    };
    // The policy given, else the one last chosen in the window (where it still is), else
    // the embedded toy policy.
    // (Read without setting a broken file aside: the app does that, and says so.)
    let saved = app::settings_path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str::<app::Settings>(&t).ok())
        .and_then(|s| s.policy)
        .filter(|p| p.exists());
    let policy = launch
        .policy
        .clone()
        .or(saved)
        .unwrap_or_else(default_policy_dir);
    eframe::run_native(
        "thinkscale",
        options,
        Box::new(move |cc| {
            let mut app = App::with_settings(&cc.egui_ctx, policy, app::settings_path())?;
            app.runs_dir = Some(std::path::PathBuf::from("runs").join("window"));
            // What the last session showed, before the flags ask for something else.
            app.restore_session();
            if let Some(v) = launch.verifier {
                app.apply(app::Command::SetSettings(app::Settings {
                    verifier: v,
                    ..app.settings.clone()
                }));
            }
            if let Some(id) = &launch.problem {
                if let Some(i) = app.problems.iter().position(|p| &p.id == id) {
                    app.apply(app::Command::SelectProblem(i));
                    app.run_when_ready = launch.run;
                }
            }
            if let Some(dir) = launch.open {
                // With a problem chosen (and no new search asked for), its stored search is
                // shown once the directory has been read.
                app.show_stored_when_loaded = app.selected.is_some() && !launch.run;
                app.apply(app::Command::OpenSweep(dir));
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
