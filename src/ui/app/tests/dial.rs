use super::beam_searched;
use crate::analysis::reselect::{choose, Selection};
use crate::engine::{default_policy_dir, ComputeMeter};
use crate::search::Aggregation;
use crate::ui::app::App;
use crate::verify::noisy::{NoisyOracle, NoisySpec};
use crate::verify::{Verifier, VerifierSpec};
use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

/// Focuses the Q slider once and presses `key` `times` times on it: the slider keeps the
/// keyboard while the search on screen is re-scored under it, as a user holding an arrow key
/// expects.
fn press(harness: &mut Harness<'_, App>, key: egui::Key, times: usize) {
    harness
        .get_by_role_and_label(Role::Slider, "Verifier quality Q")
        .focus();
    // egui locks the arrow keys to a slider from its second frame with the keyboard.
    harness.run_steps(2);
    for _ in 0..times {
        harness.key_press(key);
        harness.run_steps(1);
    }
    harness.run_steps(2);
}

#[test]
fn dragging_q_rescores_the_search_on_screen_at_once_and_back_restores_it() {
    // Beam search against the noisy oracle at Q = 0.6 on a level-4 problem.
    let (mut harness, i) = beam_searched("0.6", None);
    let problem = harness.state().problems[i].clone();
    let record = harness.state().last.clone().unwrap();
    let tree = harness.state().tree.clone();
    let leaf = harness.state().chosen_leaf;
    assert!(harness.state().dial.is_none());

    // Q up to 0.9 from the keyboard, as a user drags it: the search is re-scored at once,
    // with no new search.
    press(&mut harness, egui::Key::ArrowRight, 30);
    let app = harness.state();
    let q9 = NoisySpec::parse("0.9").unwrap();
    assert_eq!(app.settings.verifier, VerifierSpec::NoisyOracle(q9));
    assert!(app.running.is_none(), "no new search");
    assert_eq!(app.dial.as_ref().map(|d| d.by), Some(q9));
    let now = app.last.as_ref().unwrap();
    assert_eq!(now.compute, record.compute, "no new generation");
    let mut oracle = NoisyOracle::new(q9);
    for c in &now.candidates {
        let steps: Vec<String> = c.steps.iter().map(|s| s.text.clone()).collect();
        let want = oracle
            .score(&problem, &steps, &mut ComputeMeter::default())
            .unwrap();
        assert_eq!(c.steps.iter().map(|s| s.score).collect::<Vec<_>>(), want);
    }
    // The tree's colours are the new scores: some node changed, and no node's place did.
    assert_eq!(app.tree.nodes.len(), tree.nodes.len());
    assert!(app
        .tree
        .nodes
        .iter()
        .zip(&tree.nodes)
        .any(|(a, b)| a.score != b.score));
    // The choice is the run's own rule's over the new scores, and the tree marks it.
    let pick = choose(&now.candidates, Some((Aggregation::Last, Selection::Vote)));
    assert_eq!(now.chosen, pick);
    assert_eq!(app.chosen_leaf, pick.map(|i| now.candidates[i].leaf));
    let answer = now.answer.clone().unwrap_or_else(|| "none".into());
    harness.get_by_label_contains("Re-scored by noisy-oracle:0.9");
    harness.get_by_label_contains(&format!("chosen answer {answer}:"));

    // Back to the Q the search ran with: exactly the search as it ran.
    press(&mut harness, egui::Key::ArrowLeft, 30);
    let app = harness.state();
    assert!(app.dial.is_none());
    assert_eq!(app.last.as_ref(), Some(&record));
    assert_eq!(app.tree, tree);
    assert_eq!(app.chosen_leaf, leaf);
    assert!(harness.query_by_label_contains("Re-scored by").is_none());

    // A blind spot is another verifier: the search is re-scored by it.
    harness
        .get_by_role_and_label(Role::ComboBox, "Blind spot")
        .click();
    harness.run_steps(2);
    harness.get_by_label("subtraction").click();
    harness.run_steps(2);
    let by = harness.state().dial.as_ref().map(|d| d.by);
    assert_eq!(by, Some(NoisySpec::parse("0.6,blind=subtraction").unwrap()));
    // Another verifier in the list: the search as it ran.
    harness.get_by_label("Verifier").click();
    harness.run_steps(2);
    harness.get_by_label("oracle").click();
    harness.run_steps(2);
    assert!(harness.state().dial.is_none());
    assert_eq!(harness.state().last.as_ref(), Some(&record));
}

#[test]
fn picking_the_noisy_oracle_from_the_list_shows_its_dial() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let mut harness = Harness::builder()
        .with_size([1280.0, 720.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    harness.run_steps(2);
    assert!(harness
        .query_by_role_and_label(Role::Slider, "Verifier quality Q")
        .is_none());
    harness.get_by_label("Verifier").click();
    harness.run_steps(2);
    harness.get_by_label("noisy-oracle (synthetic)").click();
    harness.run_steps(2);
    assert_eq!(
        harness.state().settings.verifier,
        VerifierSpec::NoisyOracle(NoisySpec::parse("0.8").unwrap())
    );
    harness.get_by_role_and_label(Role::Slider, "Verifier quality Q");
    harness.get_by_role_and_label(Role::ComboBox, "Blind spot");
}
