//! Replay: a round slider (with Prev/Next and the arrow keys) scrubs the search on screen
//! through its rounds, live or stored: the nodes that existed at the end of that round, which
//! were pruned by then, and what MCTS selected in it ([`SearchTree::at_round`]). A stored search
//! is any record of the open sweep or run directory with a tree (`gui --open DIR --problem ID`
//! shows the problem's first one).

use super::State;
use crate::search::SearchTree;
use crate::ui::layout::TreeLayout;

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

impl State {
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
}
