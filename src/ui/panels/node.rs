//! Details of the node the user clicked: the whole step, its score, tokens and path.

use crate::search::NodeStatus;
use crate::ui::app::App;
use crate::ui::theme;

/// Draws the details.
pub fn ui(ui: &mut egui::Ui, app: &App) {
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
            ui.colored_label(
                theme::score_color(step.score),
                egui::RichText::new(text).monospace(),
            );
        }
    });
}
