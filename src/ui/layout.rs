//! Where the tree's boxes go and how the view looks at them: computed when the tree changes,
//! kept in the state, drawn by the tree view.

use crate::search::{NodeId, SearchTree};
use crate::ui::theme;
use egui::{pos2, vec2, Pos2, Vec2};
use std::collections::BTreeSet;

/// Where every box of a tree goes, in the tree's own coordinates (zoom 1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TreeLayout {
    /// Top-left corner of each node's box.
    pub pos: Vec<Pos2>,
    /// Whether each node is shown (not under a collapsed node).
    pub shown: Vec<bool>,
    /// Steps hidden under each collapsed node (0 for the others).
    pub hidden: Vec<usize>,
    /// The extent of the shown boxes.
    pub size: Vec2,
}

impl TreeLayout {
    /// Whether this layout was made for `tree` as it is now.
    pub fn fits(&self, tree: &SearchTree) -> bool {
        self.pos.len() == tree.nodes.len()
    }
}

/// Lays out `tree` with the nodes in `collapsed` drawn as leaves (what grew from them hidden):
/// leaves take rows in order, parents centre on their children.
pub fn layout(tree: &SearchTree, collapsed: &BTreeSet<NodeId>) -> TreeLayout {
    let n = tree.nodes.len();
    let mut pos = vec![pos2(0.0, 0.0); n];
    let mut shown = vec![false; n];
    let mut next_row = 0.0f32;
    let mut depth = 0usize;
    // Iterative post-order walk.
    let mut stack = vec![(SearchTree::ROOT, false)];
    while let Some((id, visited)) = stack.pop() {
        let node = &tree.nodes[id];
        shown[id] = true;
        depth = depth.max(node.depth);
        let x = node.depth as f32 * (theme::NODE_W + theme::GAP_X);
        if node.children.is_empty() || collapsed.contains(&id) {
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
    // Descendants per node: a node is always added after its parent.
    let mut below = vec![0usize; n];
    for id in (1..n).rev() {
        if let Some(p) = tree.nodes[id].parent {
            below[p] += below[id] + 1;
        }
    }
    let hidden = (0..n)
        .map(|i| if collapsed.contains(&i) { below[i] } else { 0 })
        .collect();
    TreeLayout {
        pos,
        shown,
        hidden,
        size: vec2(
            (depth + 1) as f32 * (theme::NODE_W + theme::GAP_X),
            next_row.max(1.0) * theme::ROW_H,
        ),
    }
}

/// How the tree is looked at: its scale and where its origin sits in the view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Scale (1: boxes at their natural size).
    pub zoom: f32,
    /// The tree's origin, from the view's top-left corner, in points.
    pub offset: Vec2,
    /// Whether the view keeps the whole tree fitted (until the user pans or zooms).
    pub follow: bool,
}

impl Default for Camera {
    fn default() -> Self {
        Self {
            zoom: 1.0,
            offset: vec2(8.0, 8.0),
            follow: true,
        }
    }
}

/// The smallest and largest zoom.
pub const ZOOM_RANGE: (f32, f32) = (0.02, 4.0);
/// From this zoom on, boxes print their scores.
pub const SCORE_ZOOM: f32 = 0.75;

impl Camera {
    /// The camera that shows all of a tree `size` big in a view `view` big, never enlarging it
    /// beyond its natural size.
    pub fn fit(size: Vec2, view: Vec2) -> Self {
        let margin = 16.0;
        let zoom = ((view.x - margin) / size.x.max(1.0))
            .min((view.y - margin) / size.y.max(1.0))
            .clamp(ZOOM_RANGE.0, 1.0);
        let used = size * zoom;
        Self {
            zoom,
            offset: vec2(margin / 2.0, ((view.y - used.y) / 2.0).max(margin / 2.0)),
            follow: true,
        }
    }

    /// This camera zoomed by `factor` about `at` (a point of the view, from its corner).
    pub fn zoomed(self, factor: f32, at: Vec2) -> Self {
        let zoom = (self.zoom * factor).clamp(ZOOM_RANGE.0, ZOOM_RANGE.1);
        let k = zoom / self.zoom;
        Self {
            zoom,
            offset: at - (at - self.offset) * k,
            follow: false,
        }
    }
}
