//! The search tree: the question on the left, steps to the right, one row per leaf; each box
//! coloured by its verifier score (its value printed on it when zoomed in, a colour key above),
//! the chosen answer's path outlined, a header naming the search. Drag to pan, Ctrl+scroll (or
//! pinch, or the buttons) to zoom, "Fit" to see it whole; click a box to inspect it, right-click
//! to collapse or expand what grew from it; hover for its whole text. Until the user moves the
//! view it follows the search, fitted to the panel, so a tree that grows round by round stays
//! in sight. The layout is computed when the tree changes, and only what is on screen is
//! painted and made clickable.

use crate::search::{NodeStatus, SearchTree};
use crate::ui::layout::{layout, Camera, TreeLayout, SCORE_ZOOM};
use crate::ui::state::{Command, State};
use crate::ui::theme;
use egui::{vec2, Rect, Sense, Stroke, Vec2};
use std::collections::BTreeSet;
/// Below this zoom, boxes carry no text.
const TEXT_ZOOM: f32 = 0.4;

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

/// What the tree view draws: the tree, its cached layout, the camera, and what the header says.
pub struct TreeView<'a> {
    /// The tree.
    pub tree: &'a SearchTree,
    /// Its layout ([`layout`]), computed when the tree changed, not every frame.
    pub layout: &'a TreeLayout,
    /// How it is looked at.
    pub camera: Camera,
    /// The node that carries the chosen answer.
    pub chosen: Option<usize>,
    /// The node being inspected.
    pub selected: Option<usize>,
    /// Which search drew it: strategy, verifier, budget, seed.
    pub header: Option<&'a str>,
    /// Whether a verifier scored it (majority voting does not: its nodes are left grey).
    pub scored: bool,
    /// Whether some node is collapsed.
    pub any_collapsed: bool,
    /// Whether it is the pinned search of a comparison: it pans and zooms, and its toolbar
    /// offers nothing that acts on the search on screen.
    pub pinned: bool,
    /// Whether it is one of a comparison's two trees, which share one colour key above them.
    pub pinned_pair: bool,
}

impl<'a> TreeView<'a> {
    /// The app's tree as it is on screen.
    pub fn of(app: &'a State) -> Self {
        let (tree, layout) = match &app.derived {
            Some(d) => (&d.tree, &d.layout),
            None => (&app.tree, &app.tree_layout),
        };
        // Nothing was chosen before the last round.
        let chosen = match app.replay {
            Some(_) => None,
            None => app.shown_chosen_leaf(),
        };
        Self {
            tree,
            layout,
            camera: app.tree_camera,
            chosen,
            selected: app.selected_node,
            header: app.tree_info.as_ref().map(|i| i.header.as_str()),
            scored: app.tree_info.as_ref().is_none_or(|i| i.scored),
            any_collapsed: !app.collapsed.is_empty(),
            pinned: false,
            pinned_pair: false,
        }
    }

    /// The layout to draw: the cached one when it was made for the tree as it is, else one
    /// made now (a stale layout is never trusted).
    fn current_layout(&self) -> std::borrow::Cow<'_, TreeLayout> {
        if self.layout.fits(self.tree) {
            std::borrow::Cow::Borrowed(self.layout)
        } else {
            std::borrow::Cow::Owned(layout(self.tree, &BTreeSet::new()))
        }
    }
}

/// Samples of the batch under way listed at most.
const BATCH_SHOWN: usize = 6;

/// The samples that ended in the batch under way, before the search has turned them into
/// steps and scored them: a count and the latest few.
fn batch(ui: &mut egui::Ui, texts: &[String]) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.label(format!(
            "batch under way: {} sample{} ended (unscored; their steps join the tree when the \
             batch ends)",
            texts.len(),
            if texts.len() == 1 { "" } else { "s" }
        ));
        for t in texts.iter().rev().take(BATCH_SHOWN) {
            let one_line = t.trim().replace('\n', " | ");
            ui.weak(egui::RichText::new(shorten(&one_line, 110)).monospace())
                .on_hover_text(t);
        }
    });
}

/// Draws the tree of the app.
pub fn ui(ui: &mut egui::Ui, app: &State, cmds: &mut Vec<Command>) {
    if app.running.is_some() && !app.batch.is_empty() {
        batch(ui, &app.batch);
    }
    super::replay::bar(ui, app, cmds);
    draw(ui, &TreeView::of(app), cmds);
}

/// The colour key: the score scale, unscored, pruned and the chosen path.
pub fn legend(ui: &mut egui::Ui, scored: bool, mcts: bool) {
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
        if mcts {
            let (r, _) = ui.allocate_exact_size(vec2(18.0, 12.0), Sense::hover());
            ui.painter().line_segment(
                [r.left_center(), r.right_center()],
                Stroke::new(2.0, theme::SELECTED),
            );
            ui.label("paths selected in the latest round; N visits, Q mean value");
        }
    });
}

/// What hovering a node shows: its whole text, then its score, round, visits (with MCTS's
/// Q), tokens and what became of it.
pub fn hover_text(n: &crate::search::Node) -> String {
    let mut facts = Vec::new();
    if let Some(s) = n.score {
        facts.push(format!("verifier score {s:.3}"));
    }
    if n.parent.is_some() {
        facts.push(format!("round {}", n.round));
    }
    match n.q {
        Some(q) => facts.push(format!("{} visits, Q {q:.3}", n.visits)),
        None => facts.push(format!(
            "{} sample{} pass here",
            n.visits,
            if n.visits == 1 { "" } else { "s" }
        )),
    }
    if n.token_count > 0 {
        facts.push(format!("{} tokens", n.token_count));
    }
    match &n.status {
        NodeStatus::Pruned { round } => facts.push(format!("pruned in round {round}")),
        NodeStatus::Finished { answer, correct } => facts.push(format!(
            "answer {}{}",
            answer.as_deref().unwrap_or("none"),
            match correct {
                Some(true) => " (right)",
                Some(false) => " (wrong)",
                None => "",
            }
        )),
        NodeStatus::Expanded => {}
    }
    format!("{}\n{}", n.text, facts.join(" · "))
}

/// The nodes on the paths MCTS selected in its latest round.
fn on_selected(tree: &SearchTree) -> std::collections::HashSet<usize> {
    tree.selected.iter().flatten().copied().collect()
}

/// MCTS's visits and value of a node, as the boxes print them (`N4 Q.62`); other searches'
/// repeated visits as `x2`.
fn visits_label(n: &crate::search::Node) -> String {
    match n.q {
        Some(q) => format!(
            " N{} Q{}",
            n.visits,
            format!("{q:.2}").trim_start_matches('0')
        ),
        None if n.visits > 1 => format!(" x{}", n.visits),
        None => String::new(),
    }
}

/// The zoom and fit buttons; what they ask for goes to `cmds`. The buttons zoom about the
/// centre of the canvas (`canvas`: its size), not of the toolbar's row.
fn toolbar(
    ui: &mut egui::Ui,
    view: &TreeView<'_>,
    fitted: Camera,
    canvas: Vec2,
    cmds: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        let cam = view.camera;
        if ui
            .add_enabled(!cam.follow, egui::Button::new("Fit"))
            .on_hover_text("Show the whole tree, and follow it as the search grows it")
            .on_disabled_hover_text("the view follows the search, fitted to the panel")
            .clicked()
        {
            cmds.push(Command::SetCamera(fitted));
        }
        let shown = if cam.follow { fitted } else { cam };
        let centre = canvas / 2.0;
        if ui.button("−").on_hover_text("Zoom out").clicked() {
            cmds.push(Command::SetCamera(shown.zoomed(1.0 / 1.25, centre)));
        }
        ui.label(format!("{:.0}%", shown.zoom * 100.0))
            .on_hover_text("Zoom: Ctrl+scroll or pinch over the tree; drag to pan");
        if ui.button("+").on_hover_text("Zoom in").clicked() {
            cmds.push(Command::SetCamera(shown.zoomed(1.25, centre)));
        }
        if view.pinned {
            return;
        }
        if ui
            .add_enabled(view.any_collapsed, egui::Button::new("Expand all"))
            .on_hover_text("Show every collapsed branch again")
            .clicked()
        {
            cmds.push(Command::ExpandAll);
        }
        if ui
            .button("Export tree…")
            .on_hover_text("Write the whole tree as SVG, the run's configuration in its metadata")
            .clicked()
        {
            cmds.push(Command::AskPath(
                crate::ui::state::files::PathFor::ExportTree,
            ));
        }
        ui.weak("(?)").on_hover_text(
            "drag: pan · Ctrl+scroll: zoom · click: inspect · right-click: collapse",
        );
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
    if !view.pinned_pair {
        legend(ui, view.scored, tree.nodes.iter().any(|n| n.q.is_some()));
    }
    let lay = view.current_layout();
    // The canvas takes what is left; the toolbar's row is reserved above it.
    let row = ui.spacing().interact_size.y + ui.spacing().item_spacing.y;
    let canvas = vec2(
        ui.available_width(),
        (ui.available_height() - row).max(40.0),
    );
    let fitted = Camera::fit(lay.size, canvas);
    toolbar(ui, view, fitted, canvas, cmds);
    let (area, resp) = ui.allocate_exact_size(canvas, Sense::click_and_drag());
    let mut cam = if view.camera.follow {
        fitted
    } else {
        view.camera
    };
    // Pan by dragging or scrolling, zoom with Ctrl+scroll or a pinch, about the pointer.
    let (zoom, scroll, pointer) = ui.input(|i| {
        (
            i.zoom_delta(),
            i.smooth_scroll_delta(),
            i.pointer.hover_pos(),
        )
    });
    let over = pointer.filter(|p| area.contains(*p));
    let mut moved = false;
    if resp.dragged() {
        cam.offset += resp.drag_delta();
        moved = true;
    }
    if let Some(p) = over {
        if zoom != 1.0 {
            cam = cam.zoomed(zoom, p - area.min);
            moved = true;
        } else if scroll != Vec2::ZERO {
            cam.offset += scroll;
            moved = true;
        }
    }
    if moved {
        cam.follow = false;
        cmds.push(Command::SetCamera(cam));
    }
    let on_chosen: std::collections::HashSet<usize> = view
        .chosen
        .map(|l| tree.path(l).into_iter().collect())
        .unwrap_or_default();
    let on_selected = on_selected(tree);
    let z = cam.zoom;
    let origin = area.min + cam.offset;
    let size = vec2(theme::NODE_W, theme::NODE_H) * z;
    let rect_of = |i: usize| Rect::from_min_size(origin + lay.pos[i].to_vec2() * z, size);
    let painter = ui.painter_at(area);
    let weak = ui.visuals().weak_text_color();
    for (i, n) in tree.nodes.iter().enumerate() {
        let Some(p) = n.parent else { continue };
        if !lay.shown[i] {
            continue;
        }
        let (a, b) = (rect_of(p).right_center(), rect_of(i).left_center());
        if !area.intersects(Rect::from_two_pos(a, b).expand(2.0)) {
            continue;
        }
        let stroke = if on_chosen.contains(&i) {
            Stroke::new(2.5 * z.max(0.4), theme::CHOSEN)
        } else if on_selected.contains(&i) {
            Stroke::new(2.0 * z.max(0.4), theme::SELECTED)
        } else {
            Stroke::new(z.clamp(0.3, 1.0), weak)
        };
        painter.line_segment([a, b], stroke);
    }
    // Boxes too small to read or hit are painted as bare marks.
    let detailed = size.y >= 6.0;
    let font = 11.0 * z;
    for (i, n) in tree.nodes.iter().enumerate() {
        if !lay.shown[i] {
            continue;
        }
        let rect = rect_of(i);
        if !area.intersects(rect) {
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
        let radius = 4.0 * z.min(1.0);
        painter.rect_filled(rect, radius, fill);
        if !detailed {
            continue;
        }
        let border = if on_chosen.contains(&i) {
            Stroke::new(2.5, theme::CHOSEN)
        } else if view.selected == Some(i) {
            Stroke::new(2.0, ui.visuals().strong_text_color())
        } else if lay.hidden[i] > 0 {
            Stroke::new(1.5, ui.visuals().strong_text_color())
        } else {
            Stroke::new(0.5, weak)
        };
        painter.rect_stroke(rect, radius, border, egui::StrokeKind::Inside);
        if z >= TEXT_ZOOM {
            let shown = score.filter(|s| !s.is_nan() && i != SearchTree::ROOT && z >= SCORE_ZOOM);
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
            suffix += &visits_label(n);
            if lay.hidden[i] > 0 {
                suffix += &format!(" [+{}]", lay.hidden[i]);
            }
            // The step's text gets what the suffix and the printed score leave of the box.
            let room = 26usize
                .saturating_sub(suffix.chars().count())
                .saturating_sub(if shown.is_some() { 5 } else { 0 })
                .max(6);
            let text_color = if i == SearchTree::ROOT {
                ui.visuals().text_color()
            } else {
                theme::NODE_TEXT
            };
            painter.text(
                rect.left_center() + vec2(6.0 * z, 0.0),
                egui::Align2::LEFT_CENTER,
                shorten(&n.text, room) + &suffix,
                egui::FontId::monospace(font),
                text_color,
            );
            if let Some(s) = shown {
                painter.text(
                    rect.right_center() - vec2(5.0 * z, 0.0),
                    egui::Align2::RIGHT_CENTER,
                    format!("{s:.2}"),
                    egui::FontId::monospace(10.0 * z),
                    theme::NODE_TEXT,
                );
            }
        }
        let resp = ui
            .interact(rect, ui.scope_id().with(("node", i)), Sense::click())
            .on_hover_text(hover_text(n));
        if resp.clicked() {
            cmds.push(Command::SelectNode(i));
        }
        if resp.secondary_clicked() && !n.children.is_empty() {
            cmds.push(Command::ToggleCollapse(i));
        }
    }
}

/// The tree as an SVG file, the whole of it at natural size: boxes coloured by score with
/// their scores, the chosen path outlined, the header as its title, and `metadata` (the run
/// configuration, as JSON) in its `<metadata>`.
pub fn tree_svg(view: &TreeView<'_>, metadata: &str) -> String {
    let tree = view.tree;
    let lay = view.current_layout();
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let hex = |c: egui::Color32| format!("#{:02x}{:02x}{:02x}", c.r(), c.g(), c.b());
    let top = 30.0;
    let (w, h) = (lay.size.x + 16.0, lay.size.y + top + 8.0);
    let on_chosen: std::collections::HashSet<usize> = view
        .chosen
        .map(|l| tree.path(l).into_iter().collect())
        .unwrap_or_default();
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
         viewBox=\"0 0 {w:.0} {h:.0}\" font-family=\"monospace\" font-size=\"11\">\n\
         <metadata>{}</metadata>\n<title>{}</title>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"8\" y=\"18\" font-size=\"12\" font-weight=\"bold\">{}</text>\n",
        esc(metadata),
        esc(view.header.unwrap_or("search tree")),
        esc(view.header.unwrap_or("search tree")),
    );
    let on_selected = on_selected(tree);
    let at = |i: usize| (lay.pos[i].x + 8.0, lay.pos[i].y + top);
    for (i, n) in tree.nodes.iter().enumerate() {
        let (Some(p), true) = (n.parent, lay.shown[i]) else {
            continue;
        };
        let (px, py) = at(p);
        let (x, y) = at(i);
        let (colour, width) = if on_chosen.contains(&i) {
            (hex(theme::CHOSEN), 2.5)
        } else if on_selected.contains(&i) {
            (hex(theme::SELECTED), 2.0)
        } else {
            ("#999999".to_string(), 1.0)
        };
        out += &format!(
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"{colour}\" \
             stroke-width=\"{width}\"/>\n",
            px + theme::NODE_W,
            py + theme::NODE_H / 2.0,
            y + theme::NODE_H / 2.0
        );
    }
    for (i, n) in tree.nodes.iter().enumerate() {
        if !lay.shown[i] {
            continue;
        }
        let (x, y) = at(i);
        let score = if view.scored { n.score } else { None };
        let (fill, opacity) = match n.status {
            _ if i == SearchTree::ROOT => ("#e6e6e6".to_string(), 1.0),
            NodeStatus::Pruned { .. } => (hex(theme::score_color(score)), theme::PRUNED_ALPHA),
            _ => (hex(theme::score_color(score)), 1.0),
        };
        let stroke = if on_chosen.contains(&i) {
            format!("stroke=\"{}\" stroke-width=\"2.5\"", hex(theme::CHOSEN))
        } else {
            "stroke=\"#666666\" stroke-width=\"0.5\"".to_string()
        };
        let visits = visits_label(n);
        let mut label = shorten(&n.text, 24usize.saturating_sub(visits.len()).max(8)) + &visits;
        if let NodeStatus::Finished { correct, .. } = &n.status {
            label += if *correct == Some(true) {
                " (right)"
            } else {
                " (wrong)"
            };
        }
        if lay.hidden[i] > 0 {
            label += &format!(" [+{}]", lay.hidden[i]);
        }
        out += &format!(
            "<g><title>{}</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{}\" height=\"{}\" \
             rx=\"4\" fill=\"{fill}\" fill-opacity=\"{opacity}\" {stroke}/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            esc(&n.text),
            theme::NODE_W,
            theme::NODE_H,
            x + 6.0,
            y + 15.0,
            esc(&label)
        );
        if let Some(s) = score.filter(|s| !s.is_nan() && i != SearchTree::ROOT) {
            out += &format!(
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"10\">{s:.2}</text>",
                x + theme::NODE_W - 5.0,
                y + 15.0
            );
        }
        out += "</g>\n";
    }
    out += "</svg>\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::layout::ZOOM_RANGE;
    use egui::pos2;

    fn small() -> SearchTree {
        let mut t = SearchTree::new("q");
        t.add_step(0, "a", 1, 0); // 1
        t.add_step(1, "b", 1, 0); // 2
        t.add_step(1, "c", 1, 0); // 3
        t.add_step(0, "d", 1, 0); // 4
        t
    }

    #[test]
    fn leaves_take_rows_and_parents_centre_on_children() {
        let t = small();
        let l = layout(&t, &BTreeSet::new());
        let p = &l.pos;
        assert_eq!(p[2].y, 0.0);
        assert_eq!(p[3].y, theme::ROW_H);
        assert_eq!(p[4].y, 2.0 * theme::ROW_H);
        assert_eq!(p[1].y, theme::ROW_H / 2.0);
        assert_eq!(p[0].y, (p[1].y + p[4].y) / 2.0);
        assert!(p[2].x > p[1].x && p[1].x > p[0].x);
        assert!(l.shown.iter().all(|&s| s));
        assert_eq!(l.size.y, 3.0 * theme::ROW_H);
        assert_eq!(l.size.x, 3.0 * (theme::NODE_W + theme::GAP_X));
    }

    #[test]
    fn a_collapsed_node_is_a_leaf_that_counts_what_it_hides() {
        let t = small();
        let l = layout(&t, &BTreeSet::from([1]));
        assert_eq!(l.shown, vec![true, true, false, false, true]);
        assert_eq!(l.hidden, vec![0, 2, 0, 0, 0]);
        // Two rows now: the collapsed node and its sibling.
        assert_eq!(l.pos[1].y, 0.0);
        assert_eq!(l.pos[4].y, theme::ROW_H);
        assert_eq!(l.size.y, 2.0 * theme::ROW_H);
        // Collapsing the root hides everything under it.
        let all = layout(&t, &BTreeSet::from([0]));
        assert_eq!(all.hidden[0], 4);
        assert_eq!(all.shown.iter().filter(|&&s| s).count(), 1);
    }

    #[test]
    fn fit_shows_the_whole_tree_and_zoom_keeps_the_point_under_the_pointer() {
        let size = vec2(2000.0, 4000.0);
        let view = vec2(1000.0, 800.0);
        let c = Camera::fit(size, view);
        assert!(c.follow);
        assert!(size.x * c.zoom <= view.x && size.y * c.zoom <= view.y);
        assert!(
            (size.y * c.zoom - (view.y - 16.0)).abs() < 1e-3,
            "fills the height"
        );
        // A small tree is not enlarged.
        assert_eq!(Camera::fit(vec2(100.0, 50.0), view).zoom, 1.0);
        // Zooming about a point keeps the tree point under it in place.
        let at = vec2(300.0, 200.0);
        let tree_point = (at - c.offset) / c.zoom;
        let z = c.zoomed(2.0, at);
        assert!(!z.follow);
        assert!((z.zoom - 2.0 * c.zoom).abs() < 1e-6);
        let again = (at - z.offset) / z.zoom;
        assert!((again - tree_point).length() < 1e-3);
        assert_eq!(c.zoomed(1e9, at).zoom, ZOOM_RANGE.1);
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
        let lay = layout(&tree, &BTreeSet::new());
        let settings = crate::ui::state::Settings {
            strategy: crate::search::StrategyKind::Beam,
            budget: 64,
            ..Default::default()
        };
        let info = crate::ui::state::TreeInfo::of(&settings);
        assert_eq!(
            info.header,
            "beam (beam width 4, max rounds 40) · verifier oracle (last of step scores) · \
             budget N = 64 · temperature 1 · seed 0"
        );
        let view = TreeView {
            tree: &tree,
            layout: &lay,
            camera: Camera {
                follow: false,
                ..Camera::default()
            },
            chosen: Some(tree.nodes.len() - 1),
            selected: None,
            header: Some(&info.header),
            scored: info.scored,
            any_collapsed: false,
            pinned: false,
            pinned_pair: false,
        };
        // 11,111 boxes and their edges, but at most a screenful is painted: about 28 rows.
        let shapes = frame(&view);
        assert!((30..1000).contains(&shapes), "{shapes} shapes");
        // A layout that does not fit the tree (stale) is recomputed, not trusted.
        let stale_layout = TreeLayout::default();
        let stale = TreeView {
            layout: &stale_layout,
            ..view
        };
        assert_eq!(frame(&stale), shapes);
        // Zoomed out, more of it is on screen, with fewer details per box.
        let far = TreeView {
            camera: Camera {
                zoom: 0.1,
                ..view.camera
            },
            ..view
        };
        assert!(frame(&far) > shapes);
        let majority = crate::ui::state::TreeInfo::of(&crate::ui::state::Settings {
            strategy: crate::search::StrategyKind::Majority,
            ..Default::default()
        });
        assert!(!majority.scored && majority.header.contains("no verifier"));
    }

    #[test]
    fn the_tree_exports_as_svg_with_its_scores_and_configuration() {
        let mut t = small();
        t.nodes[2].score = Some(0.25);
        t.nodes[2].status = NodeStatus::Finished {
            answer: Some("7".into()),
            correct: Some(false),
        };
        t.nodes[4].text = "x<y & \"z\"".into();
        let lay = layout(&t, &BTreeSet::new());
        let view = TreeView {
            tree: &t,
            layout: &lay,
            camera: Camera::default(),
            chosen: Some(2),
            selected: None,
            header: Some("beam · budget N = 4"),
            scored: true,
            any_collapsed: false,
            pinned: false,
            pinned_pair: false,
        };
        let svg = tree_svg(&view, "{\"seed\":3}");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<metadata>{&quot;seed&quot;:3}</metadata>"));
        assert_eq!(svg.matches("<rect x=").count(), 5, "one box per node");
        assert_eq!(svg.matches("<line ").count(), 4, "one edge per step");
        assert!(svg.contains(">0.25</text>"));
        assert!(svg.contains("b (wrong)"));
        assert!(svg.contains("x&lt;y &amp; &quot;z&quot;"));
        assert!(svg.contains("beam · budget N = 4"));
    }

    #[test]
    fn mcts_trees_print_visits_and_q_and_draw_the_latest_selections() {
        let mut t = small();
        t.apply(&crate::search::SearchEvent::NodeValued {
            id: 1,
            visits: 4,
            q: 0.625,
        });
        t.apply(&crate::search::SearchEvent::Selected {
            round: 3,
            paths: vec![vec![0, 1, 3]],
        });
        // Events naming missing nodes are ignored.
        let mut u = t.clone();
        u.apply(&crate::search::SearchEvent::Selected {
            round: 4,
            paths: vec![vec![0, 99]],
        });
        assert!(u.selected.is_empty());
        assert_eq!(visits_label(&t.nodes[1]), " N4 Q.62");
        // Beam search's repeated visits stay as they were.
        t.nodes[2].visits = 3;
        assert_eq!(visits_label(&t.nodes[2]), " x3");
        assert_eq!(visits_label(&t.nodes[4]), "");
        // Hovering tells the whole story of a node.
        t.nodes[1].score = Some(0.5);
        assert_eq!(
            hover_text(&t.nodes[1]),
            "a\nverifier score 0.500 · round 0 · 4 visits, Q 0.625 · 1 tokens"
        );
        t.nodes[2].status = NodeStatus::Finished {
            answer: Some("7".into()),
            correct: Some(false),
        };
        assert_eq!(
            hover_text(&t.nodes[2]),
            "b\nround 0 · 3 samples pass here · 1 tokens · answer 7 (wrong)"
        );
        let lay = layout(&t, &BTreeSet::new());
        let view = TreeView {
            tree: &t,
            layout: &lay,
            camera: Camera::default(),
            chosen: None,
            selected: None,
            header: Some("mcts"),
            scored: true,
            any_collapsed: false,
            pinned: false,
            pinned_pair: false,
        };
        let svg = tree_svg(&view, "{}");
        assert!(svg.contains("a N4 Q.62<"), "{svg}");
        let purple = {
            let c = theme::SELECTED;
            format!("stroke=\"#{:02x}{:02x}{:02x}\"", c.r(), c.g(), c.b())
        };
        // The edges into nodes 1 and 3 lie on the selected path.
        assert_eq!(svg.matches(&purple).count(), 2, "{svg}");
    }
}
