//! Window tests of the app: kittest drives the real panels.

mod compare;
mod dial;
mod files;
mod replay;
mod session;

use super::*;
use crate::analysis::reselect::Rule;
use crate::engine::default_policy_dir;
use crate::search::{Aggregation, StrategyKind};
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::time::{Duration, Instant};

/// Steps the window until `done` holds (at most 2 minutes).
pub(crate) fn step_until(harness: &mut Harness<'_, App>, what: &str, done: impl Fn(&App) -> bool) {
    let start = Instant::now();
    while !done(harness.state()) {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {what}"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(3);
}

/// The question of the first problem of `level`.
fn first_of_level(app: &App, level: u8) -> String {
    let p = app.problems.iter().find(|p| p.level == Some(level));
    p.map(|p| p.question.clone()).unwrap_or_default()
}

/// Clicks the problem whose question is `question`, then Run, and waits for the search.
fn search(harness: &mut Harness<'_, App>, question: &str) {
    harness.get_by_label_contains(question).click();
    harness.run_steps(2);
    harness.get_by_label("Run").click();
    harness.run_steps(2);
    step_until(harness, "the search to finish", |a| a.last.is_some());
}

/// The window on `app`, `width` points wide, once its policy has loaded.
pub(crate) fn loaded(app: App, width: f32) -> Harness<'static, App> {
    let mut harness = Harness::builder()
        .with_size([width, 800.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    step_until(&mut harness, "the policy to load", |a| {
        matches!(a.model, ModelStatus::Ready(..))
    });
    harness
}

/// The window after beam search (N = 16, aggregation last) against the noisy oracle at
/// `q` on the first level-4 problem, kept under `runs_dir` if given; and that problem's
/// index.
pub(crate) fn beam_searched(q: &str, runs_dir: Option<PathBuf>) -> (Harness<'static, App>, usize) {
    let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    app.runs_dir = runs_dir;
    let mut s = app.settings.clone();
    s.strategy = StrategyKind::Beam;
    s.aggregation = Aggregation::Last;
    s.verifier = VerifierSpec::NoisyOracle(crate::verify::noisy::NoisySpec::parse(q).unwrap());
    s.budget = 16;
    app.apply(Command::SetSettings(s));
    let i = app
        .problems
        .iter()
        .position(|p| p.level == Some(4))
        .unwrap();
    let mut harness = loaded(app, 1280.0);
    harness.state_mut().apply(Command::SelectProblem(i));
    harness.state_mut().apply(Command::Run);
    step_until(&mut harness, "the search", |a| a.last.is_some());
    (harness, i)
}

#[test]
fn the_run_button_stays_put_whatever_the_verifier_and_its_state() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let mut harness = loaded(app, 1280.0);
    let at = |h: &Harness<'_, App>| h.get_by_label("Run").rect().min;
    let first = at(&harness);
    for v in [
        VerifierSpec::NoisyOracle(crate::verify::noisy::NoisySpec::parse("0.97").unwrap()),
        VerifierSpec::ToyPrmChecker,
        VerifierSpec::Oracle,
    ] {
        let s = Settings {
            verifier: v.clone(),
            ..harness.state().settings.clone()
        };
        harness.state_mut().apply(Command::SetSettings(s));
        harness.run_steps(2);
        assert_eq!(at(&harness), first, "{v}");
    }
    // Majority reads no verifier: the hint goes, its room stays.
    let s = Settings {
        strategy: StrategyKind::Majority,
        ..harness.state().settings.clone()
    };
    harness.state_mut().apply(Command::SetSettings(s));
    harness.run_steps(2);
    assert_eq!(at(&harness), first);
}

#[test]
fn select_a_problem_press_run_and_find_the_result() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let question = app.problems[0].question.clone();
    let mut harness = loaded(app, 1280.0);

    harness.get_by_label_contains(&question).click();
    harness.run_steps(2);
    assert_eq!(harness.state().selected, Some(0));

    harness.get_by_label("Run").click();
    harness.run_steps(2);
    step_until(&mut harness, "the search to finish", |a| a.last.is_some());

    let app = harness.state();
    let record = app.last.as_ref().unwrap();
    assert_eq!(record.id, app.problems[0].id);
    assert_eq!(record.candidates.len(), app.settings.budget);
    assert!(
        app.tree.nodes.len() > 1,
        "the tree was built from the worker's events"
    );
    assert!(app.chosen_leaf.is_some());
    harness.get_by_label_contains("chosen answer");
}

#[test]
fn the_selection_switch_chooses_again_as_reselect_does_and_marks_the_leaf() {
    use crate::analysis::reselect::{choose, rule_name, Selection};
    use crate::verify::noisy::NoisySpec;
    use egui::accesskit::Role;
    // Weighted best-of-N under mean step scores on a level-5 problem, against a noisy
    // verifier, so that the rules disagree; the run's own rule is not the switch's first.
    let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let mut s = app.settings.clone();
    s.strategy = StrategyKind::WeightedBestOfN;
    s.aggregation = Aggregation::Mean;
    s.verifier = VerifierSpec::NoisyOracle(NoisySpec::parse("0.6").unwrap());
    s.budget = 16;
    app.apply(Command::SetSettings(s));
    let question = first_of_level(&app, 5);
    let mut harness = loaded(app, 1280.0);
    search(&mut harness, &question);
    let own = Some((Aggregation::Mean, Selection::Vote));
    assert_eq!(harness.state().own_rule(), Some(own));
    let record = harness.state().last.clone().unwrap();
    let answer = record.answer.clone().unwrap_or_else(|| "none".into());
    // Before any switch: the run's own rule, labelled so, with the run's own answer and
    // leaf.
    harness.get_by_label_contains(&format!(
        "under mean × vote (the run's own rule): answer {answer}:"
    ));
    assert_eq!(
        panels::tree_view::TreeView::of(harness.state()).chosen,
        harness.state().chosen_leaf
    );
    let verdict = |c: &crate::search::Candidate| {
        if c.correct == Some(true) {
            "correct"
        } else {
            "wrong"
        }
    };
    let mut rules: Vec<Rule> = Vec::new();
    for a in [
        Aggregation::Last,
        Aggregation::Min,
        Aggregation::Mean,
        Aggregation::Prod,
    ] {
        for sel in Selection::ALL {
            rules.push(Some((a, sel)));
        }
    }
    rules.push(None);
    let mut answers = std::collections::BTreeSet::new();
    for rule in rules {
        let labels: Vec<&str> = match rule {
            Some((a, sel)) => vec![a.as_str(), sel.as_str()],
            None => vec!["majority"],
        };
        for label in labels {
            harness.get_by_role_and_label(Role::Button, label).click();
            harness.run_steps(2);
        }
        let app = harness.state();
        assert_eq!(app.selection_rule, Some(rule), "{}", rule_name(rule));
        // What the analysis chooses, shown and marked.
        let pick = choose(&record.candidates, rule).unwrap();
        let c = &record.candidates[pick];
        let shown = c.answer.clone().unwrap_or_else(|| "none".into());
        let mark = if rule == own {
            " (the run's own rule)"
        } else {
            ""
        };
        harness.get_by_label_contains(&format!(
            "under {}{mark}: answer {shown}: {}",
            rule_name(rule),
            verdict(c)
        ));
        assert_eq!(app.shown_chosen_leaf(), Some(c.leaf));
        assert_eq!(panels::tree_view::TreeView::of(app).chosen, Some(c.leaf));
        assert!(app.tree.nodes.get(c.leaf).is_some());
        if rule == own {
            assert_eq!(
                c.answer, record.answer,
                "the run's own rule, the run's answer"
            );
        }
        answers.insert(shown);
    }
    // Nothing was generated: the same record, the same tree.
    assert_eq!(harness.state().last.as_ref(), Some(&record));
    // An exported tree says which rule marked its leaf (the last one switched to).
    let tmp = tempfile::tempdir().unwrap();
    let svg_path = tmp.path().join("tree.svg");
    harness
        .state_mut()
        .apply(Command::ExportTree(svg_path.clone()));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.contains("&quot;selection&quot;:&quot;majority&quot;"));
    // The export's message moves the summary's widgets: let it lay out first.
    harness.run_steps(2);
    // Back to the run's own choice.
    harness.get_by_label("run's own").click();
    harness.run_steps(2);
    assert_eq!(harness.state().selection_rule, None);
    assert_eq!(
        harness.state().shown_chosen_leaf(),
        harness.state().chosen_leaf
    );
    // On this problem the rules disagree, so the switch changed the answer shown.
    assert!(answers.len() > 1, "{answers:?}");
}

#[test]
fn the_zoom_buttons_zoom_about_the_middle_of_the_tree_not_of_their_row() {
    // Issue 28: "+" zoomed about the toolbar row's centre (some 10 points down), so the
    // tree slid off screen. The point a zoom keeps in place, `at`, solves
    // at - offset' = (at - offset) k with k the zoom's factor.
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let question = app.problems[0].question.clone();
    let mut harness = loaded(app, 1280.0);
    search(&mut harness, &question);
    harness.get_by_label("+").click();
    harness.run_steps(2);
    let after = harness.state().tree_camera;
    harness.get_by_label("Fit").click();
    harness.run_steps(2);
    let fitted = harness.state().tree_camera;
    assert!(!after.follow && fitted.follow);
    let k = after.zoom / fitted.zoom;
    assert!((k - 1.25).abs() < 1e-4, "{k}");
    let at = (after.offset - fitted.offset * k) / (1.0 - k);
    // The canvas fills the centre panel below the header and toolbar: its middle lies
    // far below a toolbar row and right of the Fit button.
    assert!(at.y > 100.0 && at.x > 150.0, "{at:?}");
}

#[test]
fn choose_the_log_prob_verifier_and_its_scores_come_back() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let question = app.problems[2].question.clone();
    let mut harness = loaded(app, 1280.0);
    harness.get_by_label("Verifier").click();
    harness.run_steps(2);
    harness.get_by_label("logprob").click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings.verifier, VerifierSpec::Logprob);

    search(&mut harness, &question);
    let record = harness.state().last.clone().unwrap();
    // Log-probability scores lie in (0, 1] and, unlike the oracle's, are not all 0 or 1.
    let scores: Vec<f32> = record
        .candidates
        .iter()
        .flat_map(|c| c.steps.iter().map(|s| s.score))
        .collect();
    assert!(scores.iter().all(|&s| s > 0.0 && s <= 1.0), "{scores:?}");
    assert!(scores.iter().any(|&s| s < 1.0), "{scores:?}");
    assert_eq!(harness.state().verifier_loaded, Some(VerifierSpec::Logprob));
    harness.get_by_label("loaded");
}

#[test]
fn settings_changes_come_back_as_commands() {
    let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let s = Settings {
        budget: 64,
        strategy: StrategyKind::Majority,
        ..Settings::default()
    };
    app.apply(Command::SetSettings(s.clone()));
    assert_eq!(app.settings, s);
    let c = State::config_for(&app.settings, std::path::Path::new("p"));
    assert_eq!(c.budget, 64);
    assert_eq!(c.strategy.kind(), StrategyKind::Majority);
    // Run without a selection does nothing.
    app.apply(Command::Run);
    assert!(app.running.is_none());
}

#[test]
fn beam_search_from_the_window_prunes_and_finishes() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    // A level-4 problem: several rounds.
    let question = first_of_level(&app, 4);
    let mut harness = loaded(app, 1280.0);
    harness.get_by_label("Strategy").click();
    harness.run_steps(2);
    harness.get_by_label("beam").click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings.strategy, StrategyKind::Beam);
    // The tree searches' parameters appear once a tree search is chosen.
    harness.get_by_label("Beam width");
    search(&mut harness, &question);
    let app = harness.state();
    let record = app.last.as_ref().unwrap();
    let tree = record.tree.as_ref().unwrap();
    assert_eq!(
        app.tree, *tree,
        "the window's mirror equals the recorded tree"
    );
    assert!(tree
        .nodes
        .iter()
        .any(|n| matches!(n.status, crate::search::NodeStatus::Pruned { .. })));
    assert_eq!(record.compute.generations, 16);
}

#[test]
fn adaptive_majority_from_the_window_stops_early_on_an_easy_problem() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    // A level-1 problem, which the toy policy answers alike nearly every time.
    let question = first_of_level(&app, 1);
    let mut harness = loaded(app, 1280.0);
    harness.get_by_label("Strategy").click();
    harness.run_steps(2);
    harness.get_by_label("adaptive-majority").click();
    harness.run_steps(2);
    assert_eq!(
        harness.state().settings.strategy,
        StrategyKind::AdaptiveMajority
    );
    // Its own parameters, and no beam width.
    for name in ["Batch", "Confidence"] {
        assert!(harness.query_all_by_label(name).count() > 0, "{name}");
    }
    assert!(harness.query_by_label("Beam width").is_none());
    search(&mut harness, &question);
    let app = harness.state();
    let record = app.last.as_ref().unwrap();
    assert_eq!(app.tree, *record.tree.as_ref().unwrap());
    let used = record.candidates.len();
    assert_eq!(record.compute.generations, used as u64);
    assert!(
        used < app.settings.budget,
        "{used} of {}",
        app.settings.budget
    );
    let header = app
        .tree_info
        .as_ref()
        .map(|t| t.header.clone())
        .unwrap_or_default();
    assert!(header.contains("batch 4, confidence 0.95"), "{header}");
}

#[test]
fn rebase_and_particles_from_the_window_show_their_own_controls_and_trees() {
    for (kind, control, said) in [
        (
            StrategyKind::Rebase,
            "Temperature (REBASE)",
            "temperature 0.2",
        ),
        (
            StrategyKind::Particles,
            "Resample temperature",
            "resample temperature 1",
        ),
    ] {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let question = first_of_level(&app, 4);
        let mut harness = loaded(app, 1280.0);
        harness.get_by_label("Strategy").click();
        harness.run_steps(2);
        harness.get_by_label(kind.as_str()).click();
        harness.run_steps(2);
        assert_eq!(harness.state().settings.strategy, kind);
        assert!(harness.query_all_by_label(control).count() > 0, "{control}");
        assert!(harness.query_by_label("Beam width").is_none());
        search(&mut harness, &question);
        let app = harness.state();
        let record = app.last.as_ref().unwrap();
        assert_eq!(app.tree, *record.tree.as_ref().unwrap());
        assert_eq!(record.candidates.len(), app.settings.budget);
        let header = app
            .tree_info
            .as_ref()
            .map(|t| t.header.clone())
            .unwrap_or_default();
        assert!(header.contains(said), "{header}");
    }
}

#[test]
fn mcts_from_the_window_shows_its_controls_and_a_tree_with_visits_and_values() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let question = first_of_level(&app, 4);
    let mut harness = loaded(app, 1280.0);
    harness.get_by_label("Strategy").click();
    harness.run_steps(2);
    harness.get_by_label("mcts").click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings.strategy, StrategyKind::Mcts);
    for name in [
        "Expansion width",
        "Tree rule",
        "Value",
        "Choice",
        "Selections per round",
        "Max rounds",
    ] {
        assert!(harness.query_all_by_label(name).count() > 0, "{name}");
    }
    assert!(harness.query_by_label("Beam width").is_none());
    // UCT's exploration constant appears with UCT only.
    assert!(harness.query_by_label("Exploration").is_none());
    harness.get_by_label("Tree rule").click();
    harness.run_steps(2);
    harness.get_by_label("uct").click();
    harness.run_steps(2);
    assert_eq!(
        harness.state().settings.mcts.tree_rule,
        crate::search::mcts::TreeRule::Uct
    );
    assert!(harness.query_all_by_label("Exploration").count() > 0);
    harness.get_by_label("Value").click();
    harness.run_steps(2);
    harness.get_by_label("rollout").click();
    harness.run_steps(2);
    search(&mut harness, &question);
    let app = harness.state();
    let record = app.last.as_ref().unwrap();
    assert_eq!(
        app.settings.spec().mcts_params().map(|p| p.value),
        Some(crate::search::mcts::MctsValue::Rollout)
    );
    assert_eq!(app.tree, *record.tree.as_ref().unwrap());
    assert!((1..=app.settings.budget).contains(&record.candidates.len()));
    // The window's tree holds every node's visits and Q and the latest round's paths.
    assert!(app.tree.nodes[0].visits >= record.candidates.len());
    assert!(app.tree.nodes[0].q.is_some());
    assert!(!app.tree.selected.is_empty());
    let header = app
        .tree_info
        .as_ref()
        .map(|t| t.header.clone())
        .unwrap_or_default();
    assert!(header.contains("uct c = 2, rollout, W = 4"), "{header}");
}

#[test]
fn revisions_from_the_window_show_each_chain_as_a_path_of_attempts() {
    let reviser = crate::engine::beside_crate("models/toy/reviser");
    let app = App::new(&egui::Context::default(), reviser).unwrap();
    let question = app.problems[0].question.clone();
    let mut harness = loaded(app, 1600.0);
    harness.get_by_label("Strategy").click();
    harness.run_steps(2);
    harness.get_by_label("revisions").click();
    harness.run_steps(2);
    assert_eq!(harness.state().settings.strategy, StrategyKind::Revisions);
    // Its own parameters appear; the tree searches' do not.
    harness.get_by_label("Chains");
    harness.get_by_label("Selection");
    harness.get_by_label("Template");
    assert!(harness.query_by_label("Beam width").is_none());
    search(&mut harness, &question);
    let app = harness.state();
    let record = app.last.as_ref().unwrap();
    // The default split: 4 chains of 4 attempts at budget 16, chosen hierarchically.
    assert!((1..=16).contains(&record.candidates.len()));
    assert_eq!(record.compute.generations, 16);
    let labels: Vec<&str> = app
        .tree
        .nodes
        .iter()
        .map(|n| n.text.as_str())
        .filter(|t| t.starts_with("chain "))
        .collect();
    assert_eq!(labels.len(), 16);
    assert!(labels.contains(&"chain 4 · attempt 4"));
    assert!(TreeInfo::of(&app.settings)
        .header
        .starts_with("revisions (4 chains x 4 attempts, hierarchical)"));
}

#[test]
fn a_hostile_chat_template_fails_the_load_and_the_window_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(default_policy_dir()).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(
        dir.path().join("chat_template.jinja"),
        "{% for i in range(10000) %}{% for j in range(10000) %}{{ i }}{% endfor %}{% endfor %}",
    )
    .unwrap();
    let app = App::new(&egui::Context::default(), dir.path().to_path_buf()).unwrap();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    step_until(&mut harness, "the load to fail", |a| {
        matches!(a.model, ModelStatus::Failed(..))
    });
    let ModelStatus::Failed(e) = &harness.state().model else {
        unreachable!()
    };
    assert!(
        e.contains("chat template") && e.contains("steps of work"),
        "{e}"
    );
    // Still drawing and taking input.
    let question = harness.state().problems[0].question.clone();
    harness.get_by_label_contains(&question).click();
    harness.run_steps(2);
    assert_eq!(harness.state().selected, Some(0));
    harness.get_by_label_contains("policy failed to load");
}

/// A small sweep of the toy policy in `dir` (5 problems, oracle, beam width 2).
pub(crate) fn toy_sweep(dir: &std::path::Path, strategies: &str, budgets: &str) {
    let config: crate::runner::sweep::SweepConfig = toml::from_str(&format!(
        "dataset = {{ kind = \"toy\" }}\npolicy = {:?}\nverifier = \"oracle\"\n\
         strategies = [{strategies}]\nbudgets = [{budgets}]\nbeam_widths = [2]\n\
         limit = 5\nbin_samples = 0\ndraws = 10\n",
        default_policy_dir()
    ))
    .unwrap();
    crate::runner::sweep::run(
        &config,
        dir,
        false,
        &crate::search::CancelToken::new(),
        &mut |_| {},
    )
    .unwrap();
}

#[test]
fn the_window_exports_a_sweeps_figures_without_waiting_for_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    toy_sweep(&dir, "\"majority\", \"weighted-best-of-n\"", "1, 2");
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    harness
        .state_mut()
        .apply(Command::ExportFigures(dir.clone()));
    assert!(harness.state().export.is_some());
    step_until(&mut harness, "the export", |a| a.export_status.is_some());
    let status = harness.state().export_status.clone().unwrap();
    assert!(
        status.as_ref().is_ok_and(|m| m.contains("figures")),
        "{status:?}"
    );
    for f in [
        "accuracy.svg",
        "accuracy.png",
        "accuracy.csv",
        "scores.json",
    ] {
        assert!(dir.join("figures").join(f).exists(), "{f}");
    }
    // In the top bar and in a toast.
    assert_eq!(harness.get_all_by_label_contains("figures:").count(), 2);
    // A directory that is not a sweep says so in the window.
    harness
        .state_mut()
        .apply(Command::ExportFigures(tmp.path().to_path_buf()));
    step_until(&mut harness, "the failed export", |a| {
        a.export_status.is_some()
    });
    let status = harness.state().export_status.clone().unwrap();
    assert!(
        status.as_ref().is_err_and(|e| e.contains("not a sweep")),
        "{status:?}"
    );
    harness.get_by_label_contains("export failed");
}

#[test]
fn a_sweep_opens_in_the_plots_tab_and_the_budget_slider_moves_its_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("sweep");
    toy_sweep(
        &dir,
        "\"majority\", \"weighted-best-of-n\", \"beam\"",
        "1, 2, 4",
    );
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    harness.state_mut().apply(Command::OpenSweep(dir.clone()));
    assert_eq!(harness.state().view, View::Plots);
    step_until(&mut harness, "the sweep to load", |a| a.sweep.is_some());
    // The default budget (16) is not one of this sweep's: the reading says so.
    harness.get_by_label_contains("at N = 16: no curve has this budget");
    // Move the budget slider to 4: the marker and the readings follow at once.
    let mut s = harness.state().settings.clone();
    s.budget = 4;
    harness.state_mut().apply(Command::SetSettings(s));
    harness.run_steps(2);
    // A label keeps its text as its value.
    let text = harness
        .get_by_label_contains("at N = 4:")
        .value()
        .unwrap_or_default();
    assert!(
        text.contains("majority") && text.contains("beam (M = 2, last)"),
        "{text}"
    );
    let expected = panels::plots::at_budget(harness.state().sweep.as_ref().unwrap(), 0, 4);
    assert!(
        expected
            .iter()
            .any(|(l, _)| l == "compute-optimal (cross-validated)"),
        "{expected:?}"
    );
    // The slider itself, moved from the keyboard: one step down is N = 2, and the
    // readings follow.
    harness.get_by_label("Budget N = 4").focus();
    harness.run_steps(1);
    harness.key_press(egui::Key::ArrowLeft);
    harness.run_steps(2);
    assert_eq!(harness.state().settings.budget, 2);
    harness.get_by_label_contains("at N = 2:");
    let mut s = harness.state().settings.clone();
    s.budget = 4;
    harness.state_mut().apply(Command::SetSettings(s));
    harness.run_steps(2);
    // Another bin redraws from the same curves.
    harness.state_mut().apply(Command::SetPlotBin(5));
    harness.run_steps(2);
    let bin5 = panels::plots::at_budget(harness.state().sweep.as_ref().unwrap(), 5, 4);
    let shown = harness
        .get_by_label_contains("at N = 4:")
        .value()
        .unwrap_or_default();
    for (label, acc) in &bin5 {
        assert!(shown.contains(&format!("{label} {acc:.3}")), "{shown}");
    }
    // The bin's own size in the header, and on the compute-optimal figure the bin's own
    // numbers, the cross-validation said, and the gain said to be all problems'.
    let n5 = harness
        .state()
        .sweep
        .as_ref()
        .unwrap()
        .curves
        .bins
        .oracle_sizes[4];
    harness.get_by_label_contains(&format!("(difficulty bin 5: {n5})"));
    harness
        .state_mut()
        .apply(Command::SetPlotFigure(Figure::Optimal));
    harness.run_steps(2);
    harness.get_by_label_contains("compute-optimal is cross-validated");
    harness.get_by_label_contains(&format!("bin 5 ({n5} problems) at N = 4: compute-optimal"));
    harness
        .state_mut()
        .apply(Command::SetPlotFigure(Figure::Accuracy));
    harness.run_steps(2);
    // A directory that is not a sweep is an error in the window, not a panic.
    harness
        .state_mut()
        .apply(Command::OpenSweep(tmp.path().to_path_buf()));
    step_until(&mut harness, "the failed open", |a| {
        a.sweep_loading.is_none()
    });
    assert!(harness
        .state()
        .error
        .as_deref()
        .is_some_and(|e| e.contains("not a sweep")));
}

#[test]
fn every_control_is_named_by_the_label_before_it() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let mut harness = Harness::builder()
        .with_size([1600.0, 800.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    harness.run_steps(2);
    // The budget's label says the budget and names its slider (not the temperature's).
    let budget = {
        use egui_kittest::kittest::NodeT;
        harness
            .get_by_label("Budget N = 16")
            .accesskit_node()
            .role()
    };
    assert_eq!(budget, egui::accesskit::Role::Slider);
    for name in ["Strategy", "Verifier", "Aggregation", "Temperature", "Seed"] {
        assert!(harness.query_all_by_label(name).count() > 0, "{name}");
    }
    // A tree search shows its own parameters, each named the same way.
    let mut s = harness.state().settings.clone();
    s.strategy = crate::search::StrategyKind::Lookahead;
    harness.state_mut().apply(Command::SetSettings(s));
    harness.run_steps(2);
    for name in ["Beam width", "Lookahead", "Max rounds"] {
        assert!(harness.query_all_by_label(name).count() > 0, "{name}");
    }
}

#[test]
fn settings_survive_a_restart_and_a_broken_file_is_kept_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("thinkscale").join("settings.json");
    let ctx = egui::Context::default();
    let mut app = App::with_settings(&ctx, default_policy_dir(), Some(path.clone())).unwrap();
    assert_eq!(app.settings, Settings::default());
    let mut s = app.settings.clone();
    s.strategy = crate::search::StrategyKind::Beam;
    s.budget = 64;
    s.seed = 7;
    app.apply(Command::SetSettings(s.clone()));
    drop(app);
    let again = App::with_settings(&ctx, default_policy_dir(), Some(path.clone())).unwrap();
    assert_eq!(again.settings, s);
    assert!(again.error.is_none() && again.notice.is_none());
    drop(again);
    // A file that is not settings: the defaults, an error naming it, and the file kept.
    std::fs::write(&path, "{ not json").unwrap();
    let mut broken = App::with_settings(&ctx, default_policy_dir(), Some(path.clone())).unwrap();
    assert_eq!(broken.settings, Settings::default());
    let named = |a: &App| {
        a.notice
            .as_deref()
            .is_some_and(|e| e.contains("settings.json"))
    };
    assert!(named(&broken));
    // It stays through what the launch does next (the session, a problem selected and
    // searched), until the settings change.
    broken.restore_session();
    broken.apply(Command::SelectProblem(0));
    assert!(named(&broken));
    assert_eq!(
        std::fs::read_to_string(path.with_extension("json.bad")).unwrap(),
        "{ not json"
    );
    // Fields added later read as their defaults: an older file still loads.
    std::fs::write(&path, "{\"seed\": 3}").unwrap();
    let (old, err) = Settings::load(&path);
    assert_eq!(old.seed, 3);
    assert_eq!(old.budget, Settings::default().budget);
    assert!(err.is_none());
    // A budget whose buffers cannot be allocated: the default, and a message naming it.
    std::fs::write(&path, "{\"seed\": 3, \"budget\": 1000000000}").unwrap();
    let (huge, err) = Settings::load(&path);
    assert_eq!((huge.seed, huge.budget), (3, Settings::default().budget));
    let err = err.unwrap();
    assert!(
        err.contains("budget 1000000000") && err.contains("65536"),
        "{err}"
    );
}

#[test]
fn a_run_is_kept_on_disk_and_its_tree_zooms_collapses_and_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    app.runs_dir = Some(tmp.path().join("runs"));
    let question = first_of_level(&app, 4);
    let mut harness = loaded(app, 1600.0);
    let mut s = harness.state().settings.clone();
    s.strategy = StrategyKind::Beam;
    harness.state_mut().apply(Command::SetSettings(s));
    search(&mut harness, &question);
    // Kept through the runner as a sweep of one, readable like any sweep.
    let kept = harness.state().kept.clone().expect("the run was kept");
    assert!(kept.starts_with(tmp.path().join("runs")));
    let (manifest, records) = crate::runner::sweep::load(&kept).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].record, *harness.state().last.as_ref().unwrap());
    assert_eq!(manifest.config.strategies, vec![StrategyKind::Beam]);
    harness.get_by_label_contains("kept in");
    // The view follows the search, fitted; zooming leaves it where the user put it.
    assert!(harness.state().tree_camera.follow);
    harness.get_by_label("+").click();
    harness.run_steps(2);
    let cam = harness.state().tree_camera;
    assert!(!cam.follow && cam.zoom > 0.0);
    harness.get_by_label("Fit").click();
    harness.run_steps(2);
    assert!(harness.state().tree_camera.follow);
    // Collapse the root's first child: its subtree leaves the layout.
    let first = harness.state().tree.nodes[0].children[0];
    harness.state_mut().apply(Command::ToggleCollapse(first));
    harness.run_steps(2);
    let lay = harness.state().tree_layout.clone();
    assert!(lay.hidden[first] > 0);
    assert_eq!(lay.shown.iter().filter(|s| !**s).count(), lay.hidden[first]);
    harness.get_by_label("Expand all").click();
    harness.run_steps(2);
    assert!(harness.state().collapsed.is_empty());
    // The tree exports as SVG with the configuration of the search that drew it and its
    // problem, even after the settings changed (issue 28: the export wrote the settings
    // of the moment, `problem: null`).
    let id = harness.state().last.as_ref().unwrap().id.clone();
    let mut changed = harness.state().settings.clone();
    changed.strategy = StrategyKind::Majority;
    changed.budget = 4;
    harness.state_mut().apply(Command::SetSettings(changed));
    let svg_path = tmp.path().join("tree.svg");
    harness
        .state_mut()
        .apply(Command::ExportTree(svg_path.clone()));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
    assert!(svg.contains("&quot;seed&quot;:0") && svg.contains("beam (beam width 4"));
    assert!(
        svg.contains(&format!("&quot;problem&quot;:&quot;{id}&quot;")),
        "{id}"
    );
    assert!(svg.contains("&quot;kind&quot;:&quot;beam&quot;"));
    assert!(!svg.contains("&quot;kind&quot;:&quot;majority&quot;"));
    assert_eq!(
        svg.matches("<rect x=").count(),
        harness.state().tree.nodes.len()
    );
}

#[test]
fn a_wrong_leaf_shows_the_step_its_verifier_scored_lowest() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    // A level-5 problem at N = 16: some candidates are wrong.
    let question = first_of_level(&app, 5);
    let mut harness = loaded(app, 1600.0);
    search(&mut harness, &question);
    let tree = harness.state().tree.clone();
    let traces = panels::step_scores::traces(&tree);
    assert_eq!(traces.len(), tree.leaves().len().min(traces.len()));
    assert!(!traces.is_empty(), "the chart has a line per candidate");
    // A wrong candidate whose slip the oracle caught (one that ran out of tokens with
    // every step right is wrong too, but has no wrong step).
    let wrong = traces
        .iter()
        .find(|t| t.correct == Some(false) && t.scores.iter().any(|s| s.1 == 0.0))
        .expect("a wrong candidate with a wrong step at level 5");
    harness.state_mut().apply(Command::SelectNode(wrong.leaf));
    harness.run_steps(2);
    // The oracle scores the first wrong step 0: that is the step flagged.
    let (node, k) = panels::step_scores::flagged_step(&tree, wrong.leaf).unwrap();
    assert_eq!(tree.nodes[node].score, Some(0.0));
    harness.get_by_label_contains(&format!("the verifier scored step {k} lowest"));
    harness.get_by_label_contains("<- lowest score");
    harness.get_by_label_contains("Step scores");
    // The exact checker agrees with the oracle: its first wrong step is the flagged one.
    harness.get_by_label_contains(&format!(
        "the exact checker finds step {k} the first wrong one; the verifier's lowest score \
         is on it: it found the slip"
    ));
    harness.get_by_label_contains("<- first wrong (checker)");
}

#[test]
fn a_weak_verifier_missing_the_slip_is_marked_and_wrong_candidates_can_stand_alone() {
    // Beam search against a weak noisy oracle on a level-4 problem: find a wrong candidate
    // whose lowest score is not on its first wrong step.
    let (mut harness, i) = beam_searched("0.6", None);
    let problem = harness.state().problems[i].clone();
    let tree = harness.state().tree.clone();
    let mut found = None;
    for id in 1..tree.nodes.len() {
        let slip = panels::step_scores::first_wrong_step(&tree, id, &problem);
        let low = panels::step_scores::flagged_step(&tree, id);
        if let (Some((_, w)), Some((_, k))) = (slip, low) {
            if found.is_none() || w != k {
                found = Some((id, w, k));
            }
        }
    }
    let (leaf, w, k) = found.expect("a path with a wrong step");
    harness.state_mut().apply(Command::SelectNode(leaf));
    harness.run_steps(2);
    harness.get_by_label_contains(&format!(
        "the exact checker finds step {w} the first wrong one"
    ));
    if w != k {
        harness.get_by_label_contains(if k < w {
            "it missed the slip"
        } else {
            "it was late"
        });
    }
    // Wrong candidates only: every finished leaf left in view is wrong, and every wrong one
    // is there.
    harness.get_by_label("Wrong candidates only").click();
    harness.run_steps(2);
    let app = harness.state();
    assert!(app.wrong_only);
    let shown = panels::tree_view::TreeView::of(app).tree.clone();
    let wrong_leaves: std::collections::BTreeSet<usize> = tree
        .reachable()
        .into_iter()
        .filter(|&id| {
            matches!(&tree.nodes[id].status,
                crate::search::NodeStatus::Finished { correct, .. } if *correct != Some(true))
        })
        .collect();
    let shown_leaves: std::collections::BTreeSet<usize> = shown
        .reachable()
        .into_iter()
        .filter(|&id| {
            matches!(
                shown.nodes[id].status,
                crate::search::NodeStatus::Finished { .. }
            )
        })
        .collect();
    assert_eq!(shown_leaves, wrong_leaves);
    harness.get_by_label("Wrong candidates only").click();
    harness.run_steps(2);
    assert!(harness.state().derived.is_none());
}

#[test]
fn a_sweep_runs_from_the_window_its_figures_draw_and_export_and_another_overlays() {
    let tmp = tempfile::tempdir().unwrap();
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    let mut s = harness.state().settings.clone();
    s.budget = 64;
    s.sweep_budgets = vec![1, 2, 4];
    s.sweep_problems = 4;
    s.sweep_strategies = vec![StrategyKind::Majority, StrategyKind::Beam];
    s.beam_width = 2;
    s.level_filter = Some(3);
    harness.state_mut().apply(Command::SetSettings(s.clone()));
    // The sweep's own budgets, not the budget slider's; the list's level filter.
    let config = harness.state().sweep_config();
    assert_eq!(config.budgets, vec![1, 2, 4]);
    assert_eq!(config.levels, vec![3]);
    s.level_filter = None;
    s.budget = 4;
    harness.state_mut().apply(Command::SetSettings(s));
    let config = harness.state().sweep_config();
    assert!(config.levels.is_empty());
    assert_eq!(config.budgets, vec![1, 2, 4]);
    // A folder that holds something else gets the sweep in a directory inside it.
    std::fs::write(tmp.path().join("notes.txt"), "x").unwrap();
    harness.state_mut().apply(Command::StartSweep(
        Box::new(config),
        tmp.path().to_path_buf(),
    ));
    assert_eq!(harness.state().view, View::Plots);
    step_until(&mut harness, "the sweep to finish", |a| {
        a.sweep_job.as_ref().is_some_and(|j| !j.running()) && a.sweep_loading.is_none()
    });
    let job = harness.state().sweep_job.as_ref().unwrap();
    assert!(
        matches!(&job.outcome, Some(Ok(m)) if m.contains("pairs on disk")),
        "{:?}",
        job.outcome
    );
    assert_eq!(job.done, job.total);
    let dir = job.dir.clone();
    assert!(dir.starts_with(tmp.path()) && dir != tmp.path());
    // The curves were read from its records (all 4 problems).
    step_until(&mut harness, "the final curves", |a| {
        a.sweep.as_ref().is_some_and(|s| s.curves.problems == 4)
    });
    harness.get_by_label_contains("pairs on disk");
    // Every figure of the tab draws from the same numbers as `thinkscale plot`.
    for f in [
        Figure::ComputeTokens,
        Figure::ComputeFlops,
        Figure::Optimal,
        Figure::Bins,
        Figure::Accuracy,
    ] {
        harness.state_mut().apply(Command::SetPlotFigure(f));
        harness.run_steps(2);
    }
    let text = harness
        .get_by_label_contains("at N = 4:")
        .value()
        .unwrap_or_default();
    assert!(text.contains("majority"), "{text}");
    harness
        .state_mut()
        .apply(Command::SetPlotFigure(Figure::ComputeTokens));
    harness.run_steps(2);
    harness.get_by_label_contains("at N = 4 (ringed):");
    // Export the figure on screen as SVG and as PNG, each with its CSV and JSON.
    for name in ["tokens.svg", "tokens.png"] {
        let out = tmp.path().join(name);
        harness.state_mut().apply(Command::ExportPlot(out.clone()));
        step_until(&mut harness, "the export", |a| a.plot_export.is_none());
        let status = harness.state().plot_status.clone().unwrap();
        assert!(status.is_ok(), "{status:?}");
        let bytes = std::fs::read(&out).unwrap();
        if name.ends_with(".svg") {
            let svg = String::from_utf8(bytes).unwrap();
            assert!(svg.contains("<svg") && svg.contains("<metadata>"));
        } else {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        }
        assert!(out.with_extension("csv").exists() && out.with_extension("json").exists());
    }
    // A second sweep overlays the first.
    let other = tmp.path().join("other");
    toy_sweep(&other, "\"majority\"", "1, 2, 4");
    harness.state_mut().apply(Command::OpenOverlay(other));
    step_until(&mut harness, "the overlay", |a| a.overlay.is_some());
    harness.get_by_label_contains("overlay (faded)");
    harness.state_mut().apply(Command::CloseOverlay);
    harness.run_steps(2);
    assert!(harness.state().overlay.is_none());
    // The bins of the sweep now filter the problem list.
    harness.state_mut().apply(Command::SetBinFilter(Some(1)));
    harness.run_steps(2);
    let shown = panels::problems::visible(harness.state());
    assert!(!shown.is_empty() && shown.len() < 4, "{shown:?}");
    // A sweep started now runs that bin's problems only, and says so.
    let ids: Vec<String> = shown
        .iter()
        .map(|&i| harness.state().problems[i].id.clone())
        .collect();
    let config = harness.state().sweep_config();
    assert_eq!(config.problem_ids, ids);
    let problems = config.run_config(&config.runs()[0]).problems().unwrap();
    assert_eq!(
        problems.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
        ids
    );
    harness.get_by_label_contains("in difficulty bin 1 of the open sweep");
}

#[test]
fn a_policy_change_loads_the_new_policy_and_search_filters_the_list() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let mut harness = loaded(app, 1400.0);
    let ModelStatus::Ready(_, small) = harness.state().model.clone() else {
        unreachable!()
    };
    let large = crate::engine::beside_crate("models/toy/policy-large");
    harness.state_mut().apply(Command::SetPolicy(large.clone()));
    assert_eq!(harness.state().model, ModelStatus::Loading);
    step_until(&mut harness, "the new policy", |a| {
        matches!(a.model, ModelStatus::Ready(..))
    });
    let ModelStatus::Ready(name, params) = harness.state().model.clone() else {
        unreachable!()
    };
    assert!(name.contains("policy-large"), "{name}");
    assert!(params > small, "{params} vs {small}");
    assert_eq!(harness.state().policy(), large.as_path());
    assert_eq!(
        harness.state().settings.policy.as_deref(),
        Some(large.as_path())
    );
    // The search box narrows the list to the problems that contain its text.
    let id = harness.state().problems[7].id.clone();
    harness
        .state_mut()
        .apply(Command::SetProblemQuery(id.clone()));
    harness.run_steps(2);
    let shown = panels::problems::visible(harness.state());
    assert!(shown.contains(&7));
    assert!(shown
        .iter()
        .all(|&i| harness.state().problems[i].id.contains(&id)));
}

#[test]
fn a_jsonl_dataset_replaces_the_list_and_a_broken_one_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("math.jsonl");
    std::fs::write(
        &file,
        "{\"problem\": \"What is $1+1$?\", \"answer\": \"2\", \"level\": 1, \"unique_id\": \"a/1\"}\n\
         {\"problem\": 7}\n\
         {\"problem\": \"Compute $3 \\\\cdot 4$.\", \"answer\": \"12\", \"level\": \"Level 2\", \"unique_id\": \"a/2\"}\n",
    )
    .unwrap();
    let settings_file = tmp.path().join("settings.json");
    let ctx = egui::Context::default();
    let mut app =
        App::with_settings(&ctx, default_policy_dir(), Some(settings_file.clone())).unwrap();
    app.apply(Command::SelectProblem(3));
    let jsonl = DatasetSpec::Jsonl {
        path: file.clone(),
        format: None,
        skip_bad_lines: true,
    };
    app.apply(Command::SetDataset(Box::new(jsonl.clone())));
    assert_eq!(app.problems.len(), 2);
    assert_eq!(app.problems[1].id, "a/2");
    assert_eq!(app.problems[1].level, Some(2));
    assert_eq!(app.selected, None);
    let note = app.error.clone().unwrap();
    assert!(
        note.contains("skipped 1 bad line") && note.contains("2"),
        "{note}"
    );
    assert_eq!(State::config_for(&app.settings, &app.policy).dataset, jsonl);
    drop(app);
    // The choice is kept: the next launch opens on the same file.
    let again =
        App::with_settings(&ctx, default_policy_dir(), Some(settings_file.clone())).unwrap();
    assert_eq!(again.problems.len(), 2);
    drop(again);
    // A file that is gone: the next launch says so and starts on the toy split.
    std::fs::remove_file(&file).unwrap();
    let gone = App::with_settings(&ctx, default_policy_dir(), Some(settings_file)).unwrap();
    assert_eq!(gone.problems.len(), crate::data::toy::eval_split().len());
    assert!(gone
        .notice
        .as_deref()
        .is_some_and(|e| e.contains("math.jsonl")));
    // Choosing a missing file leaves the list as it was.
    let mut app = gone;
    app.apply(Command::SetDataset(Box::new(jsonl)));
    assert_eq!(app.problems.len(), crate::data::toy::eval_split().len());
    assert!(app
        .error
        .as_deref()
        .is_some_and(|e| e.contains("math.jsonl")));
}

#[test]
fn a_problem_chosen_at_launch_runs_once_the_policy_has_loaded() {
    // What `thinkscale gui --problem ID --run` does.
    let mut app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let i = app
        .problems
        .iter()
        .position(|p| p.id == "toy-L2-001")
        .unwrap();
    app.apply(Command::SelectProblem(i));
    app.run_when_ready = true;
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_ui_state(|ui, app: &mut App| app.show(ui), app);
    step_until(&mut harness, "the search started at launch", |a| {
        a.last.is_some()
    });
    assert_eq!(harness.state().last.as_ref().unwrap().id, "toy-L2-001");
    assert!(!harness.state().run_when_ready);
}

#[test]
fn samples_show_as_they_end_while_their_batch_runs() {
    let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
    let question = first_of_level(&app, 5);
    let mut harness = loaded(app, 1400.0);
    let mut s = harness.state().settings.clone();
    s.budget = 64;
    harness.state_mut().apply(Command::SetSettings(s));
    harness.get_by_label_contains(&question).click();
    harness.run_steps(2);
    harness.get_by_label("Run").click();
    // One batch of 64 whole solutions: samples end one by one before the tree has a step.
    let start = Instant::now();
    let mut seen = 0;
    while harness.state().last.is_none() {
        assert!(start.elapsed() < Duration::from_secs(120), "timed out");
        harness.step();
        let a = harness.state();
        if a.tree.nodes.len() <= 1 {
            seen = seen.max(a.batch.len());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        (1..=64).contains(&seen),
        "{seen} samples seen before the tree grew"
    );
    // Once the batch's events arrive, its steps are in the tree and the list is gone.
    assert!(harness.state().batch.is_empty());
    assert!(harness.state().tree.nodes.len() > 1);
}
