use super::{step_until, toy_sweep};
use crate::engine::default_policy_dir;
use crate::ui::app::*;
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
