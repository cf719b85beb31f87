use super::{beam_searched, loaded, step_until};
use crate::engine::default_policy_dir;
use crate::search::NodeStatus;
use crate::ui::app::*;
use crate::ui::panels::tree_view::TreeView;
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;

/// What the tree view draws, reachable from the root: (id, pruned in round).
fn drawn(app: &App) -> Vec<(usize, Option<usize>)> {
    let view = TreeView::of(app);
    let mut out: Vec<(usize, Option<usize>)> = view
        .tree
        .reachable()
        .into_iter()
        .map(|id| match view.tree.nodes[id].status {
            NodeStatus::Pruned { round } => (id, Some(round)),
            _ => (id, None),
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_search_replays_round_by_round_live_and_from_its_stored_record() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut harness, i) = beam_searched("0.7", Some(tmp.path().join("runs")));
    let last = harness.state().tree.rounds();
    assert!(last >= 3, "beam search ran {last} rounds");
    harness.get_by_label_contains(&format!("round {last} of {last}"));

    // Prev: the round before, with nothing chosen yet.
    harness.get_by_label("< Prev").click();
    harness.run_steps(2);
    let app = harness.state();
    assert_eq!(app.replay, Some(last - 1));
    assert_eq!(*TreeView::of(app).tree, app.tree.at_round(last - 1));
    assert_eq!(TreeView::of(app).chosen, None);
    harness.get_by_label_contains(&format!("round {} of {last}:", last - 1));

    // Round 1: only round 1's steps, and only round 1's prunings.
    harness.state_mut().apply(Command::SetReplay(Some(1)));
    harness.run_steps(2);
    let app = harness.state();
    let one = drawn(app);
    assert!(one.len() > 1);
    for &(id, pruned) in &one {
        assert!(app.tree.nodes[id].round <= 1, "node {id}");
        assert!(
            pruned.is_none_or(|r| r <= 1),
            "node {id} pruned in {pruned:?}"
        );
    }
    // The final tree has later steps and later prunings that round 1 does not show.
    assert!(app.tree.nodes.iter().any(|n| n.round > 1));

    // The arrow keys step while no widget holds the keyboard; Latest goes back.
    harness.key_press(egui::Key::ArrowRight);
    harness.run_steps(2);
    assert_eq!(harness.state().replay, Some(2));
    harness.key_press(egui::Key::ArrowLeft);
    harness.run_steps(2);
    assert_eq!(harness.state().replay, Some(1));
    harness.get_by_label("Latest").click();
    harness.run_steps(2);
    assert!(harness.state().replay.is_none());
    let tree = harness.state().tree.clone();
    let record = harness.state().last.clone().unwrap();

    // Stored: the run's directory, opened, shows the problem's record as it ran, and it
    // replays the same.
    let kept = harness.state().kept.clone().unwrap();
    harness.state_mut().apply(Command::OpenSweep(kept.clone()));
    step_until(&mut harness, "the run's directory", |a| a.sweep.is_some());
    harness.state_mut().apply(Command::SetView(View::Tree));
    harness.run_steps(2);
    harness
        .get_by_role_and_label(Role::ComboBox, "Stored")
        .click();
    harness.run_steps(2);
    let name = harness.state().stored_searches()[0].1.clone();
    harness.get_by_label(&name).click();
    harness.run_steps(2);
    let app = harness.state();
    assert_eq!(app.stored, Some(0));
    assert_eq!(app.tree, tree);
    assert_eq!(app.last.as_ref(), Some(&record));
    assert!(app
        .tree_info
        .as_ref()
        .unwrap()
        .header
        .starts_with("stored: "));
    harness.state_mut().apply(Command::SetReplay(Some(1)));
    harness.run_steps(2);
    assert_eq!(*TreeView::of(harness.state()).tree, tree.at_round(1));

    // `gui --open DIR --problem ID`: the problem's stored search, once the directory is read.
    let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    app.apply(Command::SelectProblem(i));
    app.show_stored_when_loaded = true;
    app.apply(Command::OpenSweep(kept));
    let mut harness = loaded(app, 1280.0);
    step_until(&mut harness, "the stored search", |a| a.last.is_some());
    assert_eq!(harness.state().tree, tree);
    assert_eq!(harness.state().view, View::Tree);
}
