//! Step scores beside the tree: the verifier's score by step for every candidate (every
//! finished leaf of the tree on screen), right and wrong coloured apart, the candidates through
//! the selected node drawn bold, so a researcher sees where a solution went wrong and whether
//! the verifier noticed. Clicking a line selects its candidate's leaf.

use crate::search::{NodeId, NodeStatus, SearchTree};
use crate::ui::state::{Command, State};
use crate::ui::theme;
use egui_plot::{Line, Plot, PlotPoints};

/// One candidate's scores by step.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Its leaf.
    pub leaf: NodeId,
    /// (step number from 1, score) for each scored step.
    pub scores: Vec<(usize, f32)>,
    /// Whether its answer is right.
    pub correct: Option<bool>,
}

/// The traces of every finished leaf of `tree`, in the order of the leaves.
pub fn traces(tree: &SearchTree) -> Vec<Trace> {
    tree.nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match &n.status {
            NodeStatus::Finished { correct, .. } => Some(Trace {
                leaf: i,
                scores: tree
                    .path(i)
                    .into_iter()
                    .skip(1)
                    .enumerate()
                    .filter_map(|(k, id)| {
                        tree.nodes[id]
                            .score
                            .filter(|s| !s.is_nan())
                            .map(|s| (k + 1, s))
                    })
                    .collect(),
                correct: *correct,
            }),
            _ => None,
        })
        .collect()
}

/// The step the verifier scored lowest on the path to `node` (its first, if tied): the node
/// and its step number from 1. `None` when nothing on the path is scored.
pub fn flagged_step(tree: &SearchTree, node: NodeId) -> Option<(NodeId, usize)> {
    let mut best: Option<(NodeId, usize, f32)> = None;
    for (k, id) in tree.path(node).into_iter().skip(1).enumerate() {
        if let Some(s) = tree.nodes[id].score.filter(|s| !s.is_nan()) {
            if best.is_none_or(|b| s < b.2) {
                best = Some((id, k + 1, s));
            }
        }
    }
    best.map(|b| (b.0, b.1))
}

/// The first step the exact checker finds wrong on the path to `node` (the node and its step
/// number from 1), where `problem` has a step checker (the toy task's arithmetic; other datasets
/// have none) and some step is wrong.
pub fn first_wrong_step(
    tree: &SearchTree,
    node: NodeId,
    problem: &crate::data::Problem,
) -> Option<(NodeId, usize)> {
    if !crate::data::toy::is_toy(problem) {
        return None;
    }
    let target: i64 = problem.answer.trim().parse().ok()?;
    let path: Vec<NodeId> = tree.path(node).into_iter().skip(1).collect();
    let texts: Vec<&str> = path
        .iter()
        .map(|&id| tree.nodes[id].text.as_str())
        .collect();
    let labels = crate::data::toy::check_steps(&texts, target);
    let k = labels.iter().position(|ok| !ok)?;
    Some((path[k], k + 1))
}

/// The most candidates the chart draws (those through the selected step first); a search
/// spends at most a few hundred generations, so this binds only on synthetic trees.
pub const MAX_TRACES: usize = 512;

/// Draws the chart of the app's tree.
pub fn ui(ui: &mut egui::Ui, app: &State, cmds: &mut Vec<Command>) {
    let scored = app.tree_info.as_ref().is_none_or(|i| i.scored);
    let all = traces(&app.tree);
    ui.horizontal_wrapped(|ui| {
        ui.strong("Step scores");
        ui.weak(if !scored {
            "majority voting scores no step".to_string()
        } else if all.is_empty() {
            "each candidate's verifier score by step appears here as it finishes".to_string()
        } else {
            format!(
                "{} candidates{}: right in green, wrong in vermillion; bold: through the \
                 selected step; click a line to select its candidate",
                all.len(),
                if all.len() > MAX_TRACES {
                    format!(" ({MAX_TRACES} drawn)")
                } else {
                    String::new()
                }
            )
        });
    });
    if !scored || all.is_empty() {
        return;
    }
    let through: std::collections::HashSet<NodeId> = match app.selected_node {
        Some(sel) => all
            .iter()
            .filter(|t| app.tree.path(t.leaf).contains(&sel))
            .map(|t| t.leaf)
            .collect(),
        None => Default::default(),
    };
    // At least 160 points high: the panel holding it sizes itself around it.
    let height = ui.available_height().max(160.0);
    let resp = Plot::new("step-scores")
        .height(height)
        // No legend box over the lines: the header above names the colours.
        .x_axis_label("step")
        .y_axis_label("verifier score")
        .include_y(0.0)
        .include_y(1.0)
        .include_x(1.0)
        .allow_scroll(false)
        .show(ui, |p| {
            // Faint lines first, bold ones on top.
            let mut order: Vec<&Trace> = all.iter().collect();
            // The bold ones are kept when there are too many to draw; they go on top.
            order.sort_by_key(|t| !through.contains(&t.leaf));
            order.truncate(MAX_TRACES);
            order.reverse();
            for t in order {
                let bold = through.contains(&t.leaf);
                let base = theme::verdict_color(t.correct);
                let colour = if bold || through.is_empty() {
                    base
                } else {
                    base.gamma_multiply(0.35)
                };
                let name = match t.correct {
                    Some(true) => "right",
                    Some(false) => "wrong",
                    None => "ungraded",
                };
                let pts: Vec<[f64; 2]> = t
                    .scores
                    .iter()
                    .map(|&(k, s)| [k as f64, f64::from(s)])
                    .collect();
                p.line(
                    Line::new(name, PlotPoints::from(pts))
                        .id(("candidate", t.leaf))
                        .color(colour)
                        .width(if bold { 3.0 } else { 1.2 }),
                );
            }
        });
    if resp.response.clicked() {
        if let Some(hit) = resp.hovered_plot_item {
            if let Some(t) = all
                .iter()
                .find(|t| hit == egui_plot::ItemId::new(("candidate", t.leaf)))
            {
                cmds.push(Command::SelectNode(t.leaf));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_finished_leaf_is_a_trace_and_the_lowest_step_is_flagged() {
        let mut t = SearchTree::new("q");
        t.add_step(0, "a", 1, 0); // 1
        t.add_step(1, "b", 1, 0); // 2
        t.add_step(2, "c", 1, 0); // 3
        t.add_step(1, "d", 1, 0); // 4
        for (id, s) in [(1, 0.9), (2, 0.2), (3, 0.6), (4, 0.8)] {
            t.nodes[id].score = Some(s);
        }
        t.nodes[3].status = NodeStatus::Finished {
            answer: Some("1".into()),
            correct: Some(false),
        };
        t.nodes[4].status = NodeStatus::Finished {
            answer: Some("2".into()),
            correct: Some(true),
        };
        let tr = traces(&t);
        assert_eq!(tr.len(), 2);
        assert_eq!(tr[0].leaf, 3);
        assert_eq!(tr[0].scores, vec![(1, 0.9), (2, 0.2), (3, 0.6)]);
        assert_eq!(tr[0].correct, Some(false));
        assert_eq!(tr[1].scores, vec![(1, 0.9), (2, 0.8)]);
        // The wrong solution fell at its second step.
        assert_eq!(flagged_step(&t, 3), Some((2, 2)));
        assert_eq!(flagged_step(&t, 4), Some((4, 2)));
        // Nothing scored: nothing flagged.
        assert_eq!(flagged_step(&SearchTree::new("q"), 0), None);
    }
}
