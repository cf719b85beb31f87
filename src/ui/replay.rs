//! Replay: a round slider (with Prev/Next and the arrow keys) scrubs the search on screen
//! through its rounds, live or stored: the nodes that existed at the end of that round, which
//! were pruned by then, and what MCTS selected in it ([`SearchTree::at_round`]). A stored search
//! is any record of the open sweep or run directory with a tree (`gui --open DIR --problem ID`
//! shows the problem's first one).

use super::app::{App, Command, TreeInfo, View};
use super::panels::tree_view::{layout, TreeLayout};
use crate::search::SearchTree;

/// The tree as the view shows it when it is not the search as it is: at an earlier round,
/// cut down to the wrong candidates, or both; laid out once when the tree or the view changes.
#[derive(Debug, Clone)]
pub struct Derived {
    /// The tree shown.
    pub tree: SearchTree,
    /// Its layout.
    pub layout: TreeLayout,
    /// Steps in it (reachable from the root, the root not counted).
    pub steps: usize,
}

impl App {
    /// Shows the search on screen at the end of `round` (`None`, or a round at or past the
    /// last: as it is now, following a live search).
    pub fn set_replay(&mut self, round: Option<usize>) {
        self.replay = round.filter(|&r| r < self.tree.rounds());
        self.refresh_view();
    }

    /// Shows only the wrong candidates' paths, or everything.
    pub fn set_wrong_only(&mut self, on: bool) {
        self.wrong_only = on;
        self.refresh_view();
    }

    /// Makes the tree the view shows again after the tree, the round or the filter changed.
    pub fn refresh_view(&mut self) {
        self.derived = if self.replay.is_none() && !self.wrong_only {
            None
        } else {
            let mut tree = match self.replay {
                Some(r) => self.tree.at_round(r),
                None => self.tree.clone(),
            };
            if self.wrong_only {
                tree = tree.only_wrong();
            }
            let layout = layout(&tree, &self.collapsed);
            let steps = tree.reachable().len() - 1;
            Some(Derived {
                tree,
                layout,
                steps,
            })
        };
    }

    /// The records of the selected problem in the open sweep: (index into its records, what
    /// ran).
    pub fn stored_searches(&self) -> Vec<(usize, String)> {
        let (Some(sweep), Some(i)) = (&self.sweep, self.selected) else {
            return Vec::new();
        };
        let id = &self.problems[i].id;
        sweep
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| &r.record.id == id && r.record.tree.is_some())
            .map(|(k, r)| (k, r.run.to_string()))
            .collect()
    }

    /// Shows record `k` of the open sweep as the search on screen, with its tree, choice and
    /// configuration, ready to replay.
    pub fn show_stored(&mut self, k: usize) {
        let Some(sweep) = self.sweep.clone() else {
            return;
        };
        let Some(stored) = sweep.records.get(k) else {
            return;
        };
        let record = &stored.record;
        let Some(tree) = record.tree.clone() else {
            self.error = Some(format!(
                "{}: the record of {} under {} has no tree (written before trees were kept)",
                sweep.dir.display(),
                record.id,
                stored.run
            ));
            return;
        };
        if self.running.is_some() {
            self.error = Some("a search is running: stop it to show a stored one".into());
            return;
        }
        if let Some(i) = self.problems.iter().position(|p| p.id == record.id) {
            self.selected = Some(i);
        }
        let config = sweep.manifest.config.run_config(&stored.run);
        self.fresh_tree(&record.question);
        self.tree = tree;
        self.chosen_leaf = record
            .chosen
            .and_then(|i| record.candidates.get(i))
            .map(|c| c.leaf);
        self.last = Some(record.clone());
        self.tree_info = Some(TreeInfo {
            header: format!(
                "stored: {} · verifier {} · from {}",
                stored.run,
                config.verifier,
                sweep.dir.display()
            ),
            scored: config.strategy.uses_verifier(),
            run: Some((Box::new(config), record.id.clone())),
        });
        self.stored = Some(k);
        self.view = View::Tree;
        self.after_tree_change();
    }
}

/// The replay bar above the tree: the round slider, Prev/Next, Latest, and stored searches of
/// the selected problem when a sweep is open.
pub fn bar(ui: &mut egui::Ui, app: &App, cmds: &mut Vec<Command>) {
    let last = app.tree.rounds();
    let shown = app.replay.unwrap_or(last);
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Round").on_hover_text(TIP_ROUND);
        let mut r = shown;
        let slider = ui
            .add_enabled(
                last > 0,
                egui::Slider::new(&mut r, 0..=last.max(1)).integer(),
            )
            .labelled_by(l.id)
            .on_hover_text(TIP_ROUND);
        if slider.changed() && r != shown {
            cmds.push(Command::SetReplay(Some(r)));
        }
        if ui
            .add_enabled(shown > 0, egui::Button::new("< Prev"))
            .on_hover_text("The round before (←)")
            .clicked()
        {
            cmds.push(Command::SetReplay(Some(shown - 1)));
        }
        if ui
            .add_enabled(shown < last, egui::Button::new("Next >"))
            .on_hover_text("The round after (→)")
            .clicked()
        {
            cmds.push(Command::SetReplay(Some(shown + 1)));
        }
        if ui
            .add_enabled(app.replay.is_some(), egui::Button::new("Latest"))
            .on_hover_text("The search as it is now (a live search is followed again)")
            .clicked()
        {
            cmds.push(Command::SetReplay(None));
        }
        match (app.replay, &app.derived) {
            (Some(r), Some(d)) => {
                ui.label(format!(
                    "round {r} of {last}: {} steps by then; visits and Q as they ended are \
                     shown at the last round",
                    d.steps
                ));
            }
            _ if app.running.is_some() => {
                ui.weak(format!("round {last}, live"));
            }
            _ => {
                ui.weak(format!("round {last} of {last}"));
            }
        }
        ui.separator();
        let mut wrong = app.wrong_only;
        if ui
            .checkbox(&mut wrong, "Wrong candidates only")
            .on_hover_text(
                "Show only the paths to finished candidates whose answer is wrong (or missing): \
                 where the search went astray",
            )
            .changed()
        {
            cmds.push(Command::SetWrongOnly(wrong));
        }
        if app.pinned.is_none() {
            ui.separator();
            if ui
                .add_enabled(
                    app.last.is_some() && app.running.is_none(),
                    egui::Button::new("Pin"),
                )
                .on_hover_text(
                    "Keep this search beside the next one of the same problem: the two trees \
                     side by side with their compute and answers",
                )
                .on_disabled_hover_text("no finished search on screen")
                .clicked()
            {
                cmds.push(Command::Pin);
            }
        }
        let stored = app.stored_searches();
        if !stored.is_empty() {
            ui.separator();
            let l = ui.label("Stored").on_hover_text(TIP_STORED);
            let current = app
                .stored
                .and_then(|k| stored.iter().find(|(i, _)| *i == k))
                .map_or("choose…".to_string(), |(_, name)| name.clone());
            egui::ComboBox::from_id_salt("stored-search")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    for (k, name) in &stored {
                        if ui.selectable_label(app.stored == Some(*k), name).clicked() {
                            cmds.push(Command::ShowStored(*k));
                        }
                    }
                })
                .response
                .labelled_by(l.id)
                .on_hover_text(TIP_STORED);
        }
    });
    // The arrow keys step through the rounds while no widget holds the keyboard.
    let free = ui.memory(|m| m.focused().is_none());
    if free && last > 0 {
        let (left, right) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::ArrowRight),
            )
        });
        if left && shown > 0 {
            cmds.push(Command::SetReplay(Some(shown - 1)));
        } else if right && shown < last {
            cmds.push(Command::SetReplay(Some(shown + 1)));
        }
    }
}

const TIP_ROUND: &str = "Replay: the search at the end of this round — the steps that existed, \
    which were pruned by then, and what MCTS selected in it. Round 0 is the question alone; the \
    last is the search as it ended (← and → step through the rounds)";
const TIP_STORED: &str = "The searches of this problem kept in the open sweep or run directory: \
    show one's tree, choice and configuration, and replay it";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use crate::search::NodeStatus;
    use crate::ui::app::tests::{beam_searched, loaded, step_until};
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
}
