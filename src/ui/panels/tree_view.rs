//! The search tree: the question on the left, steps to the right, one row per leaf; each box
//! coloured by its verifier score, the chosen answer's path outlined. Click a box to inspect it.

use crate::search::{NodeStatus, SearchTree};
use crate::ui::app::{App, Command};
use crate::ui::theme;
use egui::{pos2, vec2, Rect, Sense, Stroke};

/// Top-left corners of every node's box, in the tree's own coordinates.
pub fn layout(tree: &SearchTree) -> Vec<egui::Pos2> {
    let mut pos = vec![pos2(0.0, 0.0); tree.nodes.len()];
    let mut next_row = 0.0f32;
    // Iterative post-order walk: leaves take rows in order, parents centre on their children.
    let mut stack = vec![(SearchTree::ROOT, false)];
    while let Some((id, visited)) = stack.pop() {
        let node = &tree.nodes[id];
        let x = node.depth as f32 * (theme::NODE_W + theme::GAP_X);
        if node.children.is_empty() {
            pos[id] = pos2(x, next_row * theme::ROW_H);
            next_row += 1.0;
        } else if visited {
            let first = pos[node.children[0]].y;
            let last = pos[node.children[node.children.len() - 1]].y;
            pos[id] = pos2(x, (first + last) / 2.0);
        } else {
            stack.push((id, true));
            for &c in node.children.iter().rev() {
                stack.push((c, false));
            }
        }
    }
    pos
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max.saturating_sub(1)).collect::<String>() + "…"
    }
}

/// Draws the tree.
pub fn ui(ui: &mut egui::Ui, app: &App, cmds: &mut Vec<Command>) {
    let tree = &app.tree;
    if tree.nodes.len() <= 1 && tree.nodes.first().is_none_or(|n| n.text.is_empty()) {
        ui.centered_and_justified(|ui| ui.label("The search tree appears here."));
        return;
    }
    let pos = layout(tree);
    let chosen: Vec<usize> = app.chosen_leaf.map(|l| tree.path(l)).unwrap_or_default();
    let width = (tree.depth() + 1) as f32 * (theme::NODE_W + theme::GAP_X);
    let height = pos.iter().map(|p| p.y).fold(0.0, f32::max) + theme::ROW_H;
    egui::ScrollArea::both()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let (area, _) = ui.allocate_exact_size(vec2(width, height), Sense::hover());
            let origin = area.min + vec2(4.0, 4.0);
            let rect_of = |i: usize| {
                Rect::from_min_size(
                    origin + pos[i].to_vec2(),
                    vec2(theme::NODE_W, theme::NODE_H),
                )
            };
            let painter = ui.painter_at(area);
            for (i, n) in tree.nodes.iter().enumerate() {
                if let Some(p) = n.parent {
                    let on_path = chosen.contains(&i);
                    let stroke = if on_path {
                        Stroke::new(2.5, theme::CHOSEN)
                    } else {
                        Stroke::new(1.0, ui.visuals().weak_text_color())
                    };
                    painter.line_segment(
                        [rect_of(p).right_center(), rect_of(i).left_center()],
                        stroke,
                    );
                }
            }
            for (i, n) in tree.nodes.iter().enumerate() {
                let rect = rect_of(i);
                let fill = if i == SearchTree::ROOT {
                    ui.visuals().widgets.inactive.bg_fill
                } else if let NodeStatus::Pruned { .. } = n.status {
                    // Pruned steps fade, so the surviving beams stand out.
                    theme::score_color(n.score).gamma_multiply(theme::PRUNED_ALPHA)
                } else {
                    theme::score_color(n.score)
                };
                let mut label = shorten(&n.text, 26);
                if let NodeStatus::Finished { correct, .. } = &n.status {
                    label = format!(
                        "{label} {}",
                        if *correct == Some(true) {
                            "(right)"
                        } else {
                            "(wrong)"
                        }
                    );
                }
                if let NodeStatus::Pruned { round } = n.status {
                    label = format!("{label} (pruned r{round})");
                }
                if n.visits > 1 {
                    label = format!("{label} x{}", n.visits);
                }
                painter.rect_filled(rect, 4.0, fill);
                let border = if chosen.contains(&i) {
                    Stroke::new(2.5, theme::CHOSEN)
                } else if app.selected_node == Some(i) {
                    Stroke::new(2.0, ui.visuals().strong_text_color())
                } else {
                    Stroke::new(0.5, ui.visuals().weak_text_color())
                };
                painter.rect_stroke(rect, 4.0, border, egui::StrokeKind::Inside);
                let text_color = if i == SearchTree::ROOT {
                    ui.visuals().text_color()
                } else {
                    theme::NODE_TEXT
                };
                painter.text(
                    rect.left_center() + vec2(6.0, 0.0),
                    egui::Align2::LEFT_CENTER,
                    label,
                    egui::FontId::monospace(11.0),
                    text_color,
                );
                let resp = ui
                    .interact(rect, ui.scope_id().with(("node", i)), Sense::click())
                    .on_hover_text(&n.text);
                if resp.clicked() {
                    cmds.push(Command::SelectNode(i));
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_take_rows_and_parents_centre_on_children() {
        let mut t = SearchTree::new("q");
        t.add_step(0, "a", 1, 0); // 1
        t.add_step(1, "b", 1, 0); // 2
        t.add_step(1, "c", 1, 0); // 3
        t.add_step(0, "d", 1, 0); // 4
        let p = layout(&t);
        assert_eq!(p[2].y, 0.0);
        assert_eq!(p[3].y, theme::ROW_H);
        assert_eq!(p[4].y, 2.0 * theme::ROW_H);
        assert_eq!(p[1].y, theme::ROW_H / 2.0);
        assert_eq!(p[0].y, (p[1].y + p[4].y) / 2.0);
        assert!(p[2].x > p[1].x && p[1].x > p[0].x);
    }
}
