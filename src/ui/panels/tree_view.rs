//! The search tree: the question on the left, steps to the right, one row per leaf; each box
//! coloured by its verifier score (its value printed on it, a colour key above), the chosen
//! answer's path outlined, a header naming the search. Click a box to inspect it; hover for its
//! whole text. The layout is computed when the tree changes, and only what is on screen is
//! painted.

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

/// A tree of `branching`^1 + … + `branching`^`depth` steps under the root, scored in a
/// repeating pattern: the shape of a large search, for tests and the frame-time benchmark.
pub fn synthetic_tree(branching: usize, depth: usize) -> SearchTree {
    let mut t = SearchTree::new("(3+4)*12-5");
    let mut level = vec![SearchTree::ROOT];
    for d in 0..depth {
        let mut next = Vec::with_capacity(level.len() * branching);
        for &p in &level {
            for b in 0..branching {
                let ev = t.add_step(p, &format!("{d}.{b} 3+4=7: 7*12-5 step of node {p}"), 8, d);
                if let crate::search::SearchEvent::NodeAdded { id, .. } = ev {
                    t.nodes[id].score = Some(((id * 37) % 101) as f32 / 100.0);
                    next.push(id);
                }
            }
        }
        level = next;
    }
    t
}

/// What the tree view draws: the tree, its cached layout, and what the header says.
pub struct TreeView<'a> {
    /// The tree.
    pub tree: &'a SearchTree,
    /// Its layout ([`layout`]), computed when the tree changed, not every frame.
    pub pos: &'a [egui::Pos2],
    /// The node that carries the chosen answer.
    pub chosen: Option<usize>,
    /// The node being inspected.
    pub selected: Option<usize>,
    /// Which search drew it: strategy, verifier, budget, seed.
    pub header: Option<&'a str>,
    /// Whether a verifier scored it (majority voting does not: its nodes are left grey).
    pub scored: bool,
}

/// Draws the tree of the app.
pub fn ui(ui: &mut egui::Ui, app: &App, cmds: &mut Vec<Command>) {
    let view = TreeView {
        tree: &app.tree,
        pos: &app.tree_pos,
        chosen: app.chosen_leaf,
        selected: app.selected_node,
        header: app.tree_info.as_ref().map(|i| i.header.as_str()),
        scored: app.tree_info.as_ref().is_none_or(|i| i.scored),
    };
    draw(ui, &view, cmds);
}

/// The colour key: the score scale, unscored, pruned and the chosen path.
fn legend(ui: &mut egui::Ui, scored: bool) {
    ui.horizontal_wrapped(|ui| {
        let swatch = |ui: &mut egui::Ui, fill: egui::Color32| {
            let (r, _) = ui.allocate_exact_size(vec2(14.0, 12.0), Sense::hover());
            ui.painter().rect_filled(r, 2.0, fill);
        };
        if scored {
            ui.label("verifier score: 0");
            for k in 0..=4 {
                swatch(ui, theme::score_color(Some(k as f32 / 4.0)));
            }
            ui.label("1");
        } else {
            ui.label("no verifier: steps are not scored");
        }
        ui.add_space(8.0);
        swatch(ui, theme::UNSCORED);
        ui.label("unscored");
        swatch(
            ui,
            theme::score_color(Some(0.5)).gamma_multiply(theme::PRUNED_ALPHA),
        );
        ui.label("pruned");
        let (r, _) = ui.allocate_exact_size(vec2(18.0, 12.0), Sense::hover());
        ui.painter().line_segment(
            [r.left_center(), r.right_center()],
            Stroke::new(2.5, theme::CHOSEN),
        );
        ui.label("chosen path (the winning answer's highest-scoring candidate)");
    });
}

/// Draws `view`: only the boxes and edges inside the visible part are painted and made
/// clickable, so a tree of thousands of nodes costs what fits on screen.
pub fn draw(ui: &mut egui::Ui, view: &TreeView<'_>, cmds: &mut Vec<Command>) {
    let tree = view.tree;
    if tree.nodes.len() <= 1 && tree.nodes.first().is_none_or(|n| n.text.is_empty()) {
        ui.centered_and_justified(|ui| ui.label("The search tree appears here."));
        return;
    }
    if let Some(h) = view.header {
        ui.label(egui::RichText::new(h).strong());
    }
    legend(ui, view.scored);
    let fresh;
    let pos = if view.pos.len() == tree.nodes.len() {
        view.pos
    } else {
        fresh = layout(tree);
        &fresh
    };
    let on_chosen: std::collections::HashSet<usize> = view
        .chosen
        .map(|l| tree.path(l).into_iter().collect())
        .unwrap_or_default();
    let width = (tree.depth() + 1) as f32 * (theme::NODE_W + theme::GAP_X);
    let height = pos.iter().map(|p| p.y).fold(0.0, f32::max) + theme::ROW_H;
    egui::ScrollArea::both()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let (area, _) = ui.allocate_exact_size(vec2(width, height), Sense::hover());
            let visible = ui.clip_rect();
            let origin = area.min + vec2(4.0, 4.0);
            let rect_of = |i: usize| {
                Rect::from_min_size(
                    origin + pos[i].to_vec2(),
                    vec2(theme::NODE_W, theme::NODE_H),
                )
            };
            let painter = ui.painter_at(area);
            for (i, n) in tree.nodes.iter().enumerate() {
                let Some(p) = n.parent else { continue };
                let (a, b) = (rect_of(p).right_center(), rect_of(i).left_center());
                if !visible.intersects(Rect::from_two_pos(a, b).expand(2.0)) {
                    continue;
                }
                let stroke = if on_chosen.contains(&i) {
                    Stroke::new(2.5, theme::CHOSEN)
                } else {
                    Stroke::new(1.0, ui.visuals().weak_text_color())
                };
                painter.line_segment([a, b], stroke);
            }
            for (i, n) in tree.nodes.iter().enumerate() {
                let rect = rect_of(i);
                if !visible.intersects(rect) {
                    continue;
                }
                let score = if view.scored { n.score } else { None };
                let fill = if i == SearchTree::ROOT {
                    ui.visuals().widgets.inactive.bg_fill
                } else if let NodeStatus::Pruned { .. } = n.status {
                    // Pruned steps fade, so the surviving beams stand out.
                    theme::score_color(score).gamma_multiply(theme::PRUNED_ALPHA)
                } else {
                    theme::score_color(score)
                };
                let shown = score.filter(|s| !s.is_nan() && i != SearchTree::ROOT);
                let mut suffix = String::new();
                if let NodeStatus::Finished { correct, .. } = &n.status {
                    suffix += if *correct == Some(true) {
                        " (right)"
                    } else {
                        " (wrong)"
                    };
                }
                if let NodeStatus::Pruned { round } = n.status {
                    suffix += &format!(" (pruned r{round})");
                }
                if n.visits > 1 {
                    suffix += &format!(" x{}", n.visits);
                }
                // The step's text gets what the suffix and the printed score leave of the box.
                let room = 26usize
                    .saturating_sub(suffix.chars().count())
                    .saturating_sub(if shown.is_some() { 5 } else { 0 })
                    .max(6);
                let label = shorten(&n.text, room) + &suffix;
                painter.rect_filled(rect, 4.0, fill);
                let border = if on_chosen.contains(&i) {
                    Stroke::new(2.5, theme::CHOSEN)
                } else if view.selected == Some(i) {
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
                if let Some(s) = shown {
                    painter.text(
                        rect.right_center() - vec2(5.0, 0.0),
                        egui::Align2::RIGHT_CENTER,
                        format!("{s:.2}"),
                        egui::FontId::monospace(10.0),
                        theme::NODE_TEXT,
                    );
                }
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

    /// One frame of `view` in a 1200 x 800 window: the shapes painted.
    fn frame(view: &TreeView<'_>) -> usize {
        let ctx = egui::Context::default();
        let input = egui::RawInput {
            screen_rect: Some(Rect::from_min_size(pos2(0.0, 0.0), vec2(1200.0, 800.0))),
            ..Default::default()
        };
        let mut cmds = Vec::new();
        let mut out = ctx.run_ui(input, |ui| draw(ui, view, &mut cmds));
        out.textures_delta.clear();
        out.shapes.len()
    }

    #[test]
    fn only_what_is_on_screen_is_painted_and_the_header_names_the_search() {
        let tree = synthetic_tree(10, 4);
        assert_eq!(tree.nodes.len(), 11_111);
        let pos = layout(&tree);
        let settings = crate::ui::app::Settings {
            strategy: crate::search::StrategyKind::Beam,
            budget: 64,
            ..Default::default()
        };
        let info = crate::ui::app::TreeInfo::of(&settings);
        assert_eq!(
            info.header,
            "beam (beam width 4, max rounds 40) · verifier oracle (last of step scores) · \
             budget N = 64 · temperature 1 · seed 0"
        );
        let view = TreeView {
            tree: &tree,
            pos: &pos,
            chosen: Some(tree.nodes.len() - 1),
            selected: None,
            header: Some(&info.header),
            scored: info.scored,
        };
        // 11,111 boxes and their edges, but at most a screenful is painted: about 28 rows.
        let shapes = frame(&view);
        assert!((30..1000).contains(&shapes), "{shapes} shapes");
        // A layout that does not fit the tree (stale) is recomputed, not trusted.
        let stale = TreeView {
            pos: &pos[..10],
            ..view
        };
        assert_eq!(frame(&stale), shapes);
        let majority = crate::ui::app::TreeInfo::of(&crate::ui::app::Settings {
            strategy: crate::search::StrategyKind::Majority,
            ..Default::default()
        });
        assert!(!majority.scored && majority.header.contains("no verifier"));
    }
}
