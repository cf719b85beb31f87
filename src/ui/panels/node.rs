//! Details of the node the user clicked: the whole step, its score, tokens and path.

use crate::search::NodeStatus;
use crate::ui::state::State;
use crate::ui::theme;

/// Draws the details.
pub fn ui(ui: &mut egui::Ui, app: &State) {
    ui.heading("Step");
    let Some(node) = app.selected_node.and_then(|id| app.tree.nodes.get(id)) else {
        ui.label("click a node of the tree");
        return;
    };
    let id = app.selected_node.unwrap_or_default();
    ui.label(format!(
        "depth {}, round {}, {} tokens, {} samples pass here",
        node.depth, node.round, node.token_count, node.visits
    ));
    if let Some(q) = node.q {
        ui.label(format!(
            "MCTS: {} visits, mean value Q {q:.3} (the values backed up through it)",
            node.visits
        ));
    }
    match node.score {
        Some(s) => ui.colored_label(
            theme::score_color(Some(s)),
            format!("verifier score {s:.3}"),
        ),
        None => ui.label("not scored"),
    };
    match &node.status {
        NodeStatus::Finished { answer, correct } => {
            ui.colored_label(
                theme::verdict_color(*correct),
                format!(
                    "final answer {}: {}",
                    answer.as_deref().unwrap_or("none"),
                    if *correct == Some(true) {
                        "correct"
                    } else {
                        "wrong"
                    }
                ),
            );
        }
        NodeStatus::Pruned { round } => {
            ui.label(format!("pruned in round {round}"));
        }
        NodeStatus::Expanded => {}
    }
    ui.separator();
    let flagged = super::step_scores::flagged_step(&app.tree, id);
    if let Some((_, k)) = flagged {
        ui.label(format!("the verifier scored step {k} lowest on this path"));
    }
    let slip = app
        .search_problem()
        .and_then(|p| super::step_scores::first_wrong_step(&app.tree, id, p));
    match (slip, flagged) {
        (Some((_, w)), Some((_, k))) => {
            let verdict = if k == w {
                "the verifier's lowest score is on it: it found the slip".to_string()
            } else if k < w {
                format!("the verifier's lowest score is on step {k}, before it: it missed the slip")
            } else {
                format!("the verifier's lowest score is on step {k}, after it: it was late")
            };
            ui.colored_label(
                theme::verdict_color(Some(k == w)),
                format!("the exact checker finds step {w} the first wrong one; {verdict}"),
            );
        }
        (Some((_, w)), None) => {
            ui.label(format!(
                "the exact checker finds step {w} the first wrong one"
            ));
        }
        (None, _) if app.search_problem().is_some_and(crate::data::toy::is_toy) => {
            ui.label("the exact checker finds every step on this path right");
        }
        (None, _) => {}
    }
    ui.label("Solution up to here, each step with its score:");
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (k, n) in app.tree.path(id).into_iter().skip(1).enumerate() {
            let step = &app.tree.nodes[n];
            let score = step
                .score
                .map(|s| format!("{s:.2}"))
                .unwrap_or_else(|| "  - ".into());
            let mut text = format!("{:>2} [{score}] {}", k + 1, step.text);
            if flagged.is_some_and(|f| f.0 == n) {
                text += "  <- lowest score";
            }
            if slip.is_some_and(|f| f.0 == n) {
                text += "  <- first wrong (checker)";
            }
            ui.colored_label(
                theme::score_color(step.score),
                egui::RichText::new(text).monospace(),
            );
        }
    });
}
