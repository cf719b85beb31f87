use super::{beam_searched, step_until, toy_sweep};
use crate::engine::default_policy_dir;
use crate::ui::app::*;
use crate::ui::state::files::{PathFor, NO_DIALOG};
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
