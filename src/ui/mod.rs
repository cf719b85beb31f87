//! The workbench window (eframe). Panels read state and emit [`app::Command`]s; the app applies
//! them in one place. Models run on the [`worker`] thread; the window never waits for them.

pub mod app;
pub mod panels;
pub mod theme;
pub mod worker;

pub use app::App;

use crate::engine::default_policy_dir;

/// Opens the window on the embedded default (the toy policy and the oracle verifier).
pub fn run() -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1280.0, 800.0])
            .with_title("thinkscale"),
        ..Default::default()
    };
    let policy = default_policy_dir();
    eframe::run_native(
        "thinkscale",
        options,
        Box::new(move |cc| {
            Ok(Box::new(App::with_settings(
                &cc.egui_ctx,
                policy,
                app::settings_path(),
            )?))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
