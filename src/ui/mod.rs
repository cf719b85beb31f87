//! The workbench window (eframe). Panels read state and emit [`app::Command`]s; the app applies
//! them in one place. Models run on the [`worker`] thread; the window never waits for them.

pub mod app;
pub mod panels;
pub mod theme;
pub mod worker;

pub use app::App;

use crate::engine::default_policy_dir;

/// Opens the window on `policy` (default: the embedded toy policy), with `verifier` replacing
/// the saved one where given, and the sweep in `open` read into the Plots tab.
pub fn run(
    policy: Option<std::path::PathBuf>,
    verifier: Option<crate::verify::VerifierSpec>,
    open: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_title("thinkscale"),
        ..Default::default()
    };
    let policy = policy.unwrap_or_else(default_policy_dir);
    eframe::run_native(
        "thinkscale",
        options,
        Box::new(move |cc| {
            let mut app = App::with_settings(&cc.egui_ctx, policy, app::settings_path())?;
            if let Some(v) = verifier {
                app.apply(app::Command::SetSettings(app::Settings {
                    verifier: v,
                    ..app.settings.clone()
                }));
            }
            if let Some(dir) = open {
                app.apply(app::Command::OpenSweep(dir));
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
