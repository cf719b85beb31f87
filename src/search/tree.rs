//! The search tree: an arena of step nodes under a root that stands for the question.
//!
//! Samples that share their first steps share nodes, so the tree shows where solutions diverge.
//! Every change is also a [`SearchEvent`], and [`SearchTree::apply`] rebuilds a tree from its
//! events, which is how a window mirrors a search running on another thread.

use serde::{Deserialize, Serialize};

/// Index of a node in its tree.
pub type NodeId = usize;

/// What became of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeStatus {
    /// Generated and kept.
    Expanded,
    /// Dropped by the search in `round` (kept in the tree, not expanded further).
    Pruned {
        /// The round that pruned it.
        round: usize,
    },
    /// The last step of a solution.
    Finished {
        /// Extracted final answer.
        answer: Option<String>,
        /// Whether it matches the reference (filled in by whoever knows the reference: the
        /// runner, never the strategy).
        correct: Option<bool>,
    },
}

/// One step of a (partial) solution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Parent node; `None` only for the root.
    pub parent: Option<NodeId>,
    /// Steps from the root (the root is 0).
    pub depth: usize,
    /// The step's text (the question, for the root).
    pub text: String,
    /// Tokens the policy generated for this step.
    pub token_count: usize,
    /// The verifier's score of the solution up to this step, in [0, 1].
    pub score: Option<f32>,
    /// What became of it.
    pub status: NodeStatus,
    /// Search round in which it was generated.
    pub round: usize,
    /// How many sampled solutions pass through it (in MCTS: its visit count N, every
    /// simulation backed up through it).
    pub visits: usize,
    /// MCTS's value Q: the mean of the values backed up through it (other searches leave it
    /// unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<f32>,
    /// Children, in order of creation.
    pub children: Vec<NodeId>,
}

/// Something that happened during a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SearchEvent {
    /// A search began on a question.
    Started {
        /// The question (the root's text).
        question: String,
    },
    /// A step node was added (or an existing one visited again, `new == false`).
    NodeAdded {
        /// The node.
        id: NodeId,
        /// Its parent.
        parent: NodeId,
        /// The step text.
        text: String,
        /// Tokens generated for it.
        token_count: usize,
        /// Round of the search.
        round: usize,
        /// Whether the node is new.
        new: bool,
    },
    /// A node was scored by the verifier.
    NodeScored {
        /// The node.
        id: NodeId,
        /// Score in [0, 1].
        score: f32,
    },
    /// A node was pruned.
    NodePruned {
        /// The node.
        id: NodeId,
        /// The round that pruned it.
        round: usize,
    },
    /// A node ends a solution.
    NodeFinished {
        /// The node.
        id: NodeId,
        /// Extracted answer.
        answer: Option<String>,
        /// Whether it is right.
        correct: Option<bool>,
    },
    /// The search chose its answer; `node` is one leaf that carries it.
    Chosen {
        /// The leaf.
        node: Option<NodeId>,
        /// The chosen answer.
        answer: Option<String>,
        /// Whether it is right.
        correct: Option<bool>,
    },
    /// MCTS backed values up through a node: its visit count and mean value now.
    NodeValued {
        /// The node.
        id: NodeId,
        /// Visits N.
        visits: usize,
        /// Mean value Q.
        q: f32,
    },
    /// MCTS selected these paths (root first, each ending at the leaf it expands) in `round`.
    Selected {
        /// The round.
        round: usize,
        /// The paths.
        paths: Vec<Vec<NodeId>>,
    },
    /// Generations done so far out of the budget.
    Progress {
        /// Done.
        done: usize,
        /// Total.
        total: usize,
    },
}

/// An arena of nodes; node 0 is the root.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchTree {
    /// All nodes; ids index this vector.
    pub nodes: Vec<Node>,
    /// The paths MCTS selected in its latest round (root first), for the tree view.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selected: Vec<Vec<NodeId>>,
    /// Every round's selected paths, by round (MCTS), so that a replay shows each round's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selections: Vec<(usize, Vec<Vec<NodeId>>)>,
}

impl SearchTree {
    /// A tree holding only the root.
    pub fn new(question: &str) -> Self {
        Self {
            nodes: vec![Node {
                parent: None,
                depth: 0,
                text: question.to_string(),
                token_count: 0,
                score: None,
                status: NodeStatus::Expanded,
                round: 0,
                visits: 0,
                q: None,
                children: Vec::new(),
            }],
            selected: Vec::new(),
            selections: Vec::new(),
        }
    }

    /// The root's id.
    pub const ROOT: NodeId = 0;

    /// The child of `parent` with `text`, created if missing. Returns the event that says so.
    pub fn add_step(
        &mut self,
        parent: NodeId,
        text: &str,
        token_count: usize,
        round: usize,
    ) -> SearchEvent {
        if let Some(&id) = self.nodes[parent]
            .children
            .iter()
            .find(|&&c| self.nodes[c].text == text)
        {
            let ev = SearchEvent::NodeAdded {
                id,
                parent,
                text: text.into(),
                token_count,
                round,
                new: false,
            };
            self.apply(&ev);
            return ev;
        }
        let ev = SearchEvent::NodeAdded {
            id: self.nodes.len(),
            parent,
            text: text.into(),
            token_count,
            round,
            new: true,
        };
        self.apply(&ev);
        ev
    }

    /// Applies an event; events that name nodes the tree lacks are ignored.
    pub fn apply(&mut self, ev: &SearchEvent) {
        match ev {
            SearchEvent::Started { question } => *self = Self::new(question),
            SearchEvent::NodeAdded {
                id,
                parent,
                text,
                token_count,
                round,
                new,
            } => {
                if *new && *id == self.nodes.len() && *parent < self.nodes.len() {
                    let depth = self.nodes[*parent].depth + 1;
                    self.nodes.push(Node {
                        parent: Some(*parent),
                        depth,
                        text: text.clone(),
                        token_count: *token_count,
                        score: None,
                        status: NodeStatus::Expanded,
                        round: *round,
                        visits: 1,
                        q: None,
                        children: Vec::new(),
                    });
                    self.nodes[*parent].children.push(*id);
                } else if !*new {
                    if let Some(n) = self.nodes.get_mut(*id) {
                        n.visits += 1;
                    }
                }
            }
            SearchEvent::NodeScored { id, score } => {
                if let Some(n) = self.nodes.get_mut(*id) {
                    n.score = Some(*score);
                }
            }
            SearchEvent::NodePruned { id, round } => {
                if let Some(n) = self.nodes.get_mut(*id) {
                    n.status = NodeStatus::Pruned { round: *round };
                }
            }
            SearchEvent::NodeFinished {
                id,
                answer,
                correct,
            } => {
                if let Some(n) = self.nodes.get_mut(*id) {
                    n.status = NodeStatus::Finished {
                        answer: answer.clone(),
                        correct: *correct,
                    };
                }
            }
            SearchEvent::NodeValued { id, visits, q } => {
                if let Some(n) = self.nodes.get_mut(*id) {
                    n.visits = *visits;
                    n.q = Some(*q);
                }
            }
            SearchEvent::Selected { round, paths } => {
                self.selected = paths
                    .iter()
                    .filter(|p| p.iter().all(|&id| id < self.nodes.len()))
                    .cloned()
                    .collect();
                self.selections.push((*round, self.selected.clone()));
            }
            SearchEvent::Chosen { .. } | SearchEvent::Progress { .. } => {}
        }
    }

    /// The last round in which a node was made or pruned (0 for a tree holding only its
    /// root).
    pub fn rounds(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match n.status {
                NodeStatus::Pruned { round } => round.max(n.round),
                _ => n.round,
            })
            .max()
            .unwrap_or(0)
    }

    /// The tree as it stood at the end of `round`, for a replay: nodes made in a later round
    /// leave their parents' children (they keep their ids, out of reach from the root), a node
    /// pruned in a later round is open again, and MCTS's selected paths are that round's.
    /// Visits and MCTS's values are kept only as they ended, so before the last round they are
    /// left out (one visit, no Q); a finished candidate a later round dropped (beam's and
    /// DVTS's keep-the-best-N) shows as an open step.
    pub fn at_round(&self, round: usize) -> SearchTree {
        let mut t = self.clone();
        if round >= self.rounds() {
            return t;
        }
        for id in 0..t.nodes.len() {
            let made = t.nodes[id].round;
            let n = &mut t.nodes[id];
            n.visits = 1;
            n.q = None;
            if matches!(n.status, NodeStatus::Pruned { round: p } if p > round) {
                n.status = NodeStatus::Expanded;
            }
            if made > round {
                n.score = None;
            }
        }
        let late: Vec<bool> = t.nodes.iter().map(|n| n.round > round).collect();
        for n in &mut t.nodes {
            n.children.retain(|&c| !late[c]);
        }
        t.selected = self
            .selections
            .iter()
            .rev()
            .find(|(r, _)| *r <= round)
            .map(|(_, paths)| paths.clone())
            .unwrap_or_default();
        t.selections.retain(|(r, _)| *r <= round);
        t
    }

    /// The tree cut down to the paths of its wrong finished candidates (a finished step whose
    /// answer is not known right): every other node leaves its parent's children (ids stay).
    pub fn only_wrong(&self) -> SearchTree {
        let mut t = self.clone();
        // Children come after their parents, so one backward pass sees a node's subtree whole.
        let mut keep = vec![false; t.nodes.len()];
        for id in (0..t.nodes.len()).rev() {
            let n = &t.nodes[id];
            keep[id] |=
                matches!(n.status, NodeStatus::Finished { correct, .. } if correct != Some(true));
            if keep[id] {
                if let Some(p) = n.parent {
                    keep[p] = true;
                }
            }
        }
        for n in &mut t.nodes {
            n.children.retain(|&c| keep[c]);
        }
        t.selected.retain(|p| p.iter().all(|&id| keep[id]));
        t
    }

    /// Ids from the root to `id`, root first.
    pub fn path(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = vec![id];
        let mut cur = id;
        while let Some(p) = self.nodes.get(cur).and_then(|n| n.parent) {
            out.push(p);
            cur = p;
        }
        out.reverse();
        out
    }

    /// The nodes reachable from the root, root first (a replayed or filtered tree keeps the
    /// ids of the nodes it leaves out, out of reach).
    pub fn reachable(&self) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut stack = vec![Self::ROOT];
        while let Some(id) = stack.pop() {
            out.push(id);
            stack.extend(&self.nodes[id].children);
        }
        out
    }

    /// Leaves (nodes without children), in id order.
    pub fn leaves(&self) -> Vec<NodeId> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].children.is_empty())
            .collect()
    }

    /// Deepest depth.
    pub fn depth(&self) -> usize {
        self.nodes.iter().map(|n| n.depth).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_prefixes_share_nodes_and_events_rebuild_the_tree() {
        let mut t = SearchTree::new("1+2*3");
        let mut events = vec![SearchEvent::Started {
            question: "1+2*3".into(),
        }];
        for path in [["2*3=6: 1+6", "1+6=7: 7"], ["2*3=6: 1+6", "1+6=8: 8"]] {
            let mut parent = SearchTree::ROOT;
            for s in path {
                let ev = t.add_step(parent, s, 3, 0);
                if let SearchEvent::NodeAdded { id, .. } = ev {
                    parent = id;
                }
                events.push(ev);
            }
        }
        assert_eq!(t.nodes.len(), 4);
        assert_eq!(t.nodes[1].visits, 2);
        assert_eq!(t.leaves(), vec![2, 3]);
        assert_eq!(t.path(3), vec![0, 1, 3]);
        let mut mirror = SearchTree::new("");
        events.iter().for_each(|e| mirror.apply(e));
        assert_eq!(mirror, t);
    }

    #[test]
    fn a_tree_at_an_earlier_round_shows_what_existed_then() {
        // Round 1: a and b; round 2: a is expanded to c (finished), b pruned; MCTS-style
        // selections in rounds 1 and 2.
        let mut t = SearchTree::new("q");
        let events = [
            SearchEvent::Selected {
                round: 1,
                paths: vec![vec![0]],
            },
            t.add_step(0, "a", 1, 1),
            t.add_step(0, "b", 1, 1),
            SearchEvent::NodeScored { id: 1, score: 0.9 },
            SearchEvent::NodeScored { id: 2, score: 0.2 },
            SearchEvent::Selected {
                round: 2,
                paths: vec![vec![0, 1]],
            },
            t.add_step(1, "c", 1, 2),
            SearchEvent::NodeScored { id: 3, score: 0.7 },
            SearchEvent::NodePruned { id: 2, round: 2 },
            SearchEvent::NodeFinished {
                id: 3,
                answer: Some("7".into()),
                correct: Some(true),
            },
            SearchEvent::NodeValued {
                id: 1,
                visits: 3,
                q: 0.8,
            },
        ];
        let mut t = SearchTree::new("q");
        events.iter().for_each(|e| t.apply(e));
        assert_eq!(t.rounds(), 2);
        assert_eq!(t.selections.len(), 2);
        // The last round (and any later) is the tree itself.
        assert_eq!(t.at_round(2), t);
        assert_eq!(t.at_round(9), t);
        let one = t.at_round(1);
        assert_eq!(one.nodes.len(), 4, "ids stay");
        assert_eq!(one.nodes[0].children, [1, 2]);
        assert_eq!(one.reachable(), [0, 2, 1]);
        assert!(one.nodes[1].children.is_empty(), "c was made in round 2");
        assert_eq!(
            one.nodes[2].status,
            NodeStatus::Expanded,
            "pruned in round 2"
        );
        assert_eq!(
            (one.nodes[1].score, one.nodes[2].score),
            (Some(0.9), Some(0.2))
        );
        assert_eq!(one.nodes[3].score, None);
        assert_eq!((one.nodes[1].visits, one.nodes[1].q), (1, None));
        assert_eq!(one.selected, [vec![0]]);
        // Only the wrong candidates: c is right, so nothing is left under the root.
        assert!(t.only_wrong().nodes[0].children.is_empty());
        let mut w = t.clone();
        w.apply(&SearchEvent::NodeFinished {
            id: 3,
            answer: Some("8".into()),
            correct: Some(false),
        });
        let wrong = w.only_wrong();
        assert_eq!(wrong.nodes[0].children, [1]);
        assert_eq!(wrong.nodes[1].children, [3]);
        // Before anything: the root alone.
        let zero = t.at_round(0);
        assert!(zero.nodes[0].children.is_empty());
        assert!(zero.selected.is_empty());
    }
}
