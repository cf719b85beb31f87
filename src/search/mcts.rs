//! Monte Carlo tree search over reasoning steps, with the tree rules of AlphaZero/OpenR (PUCT)
//! and rStar (UCT), a value read off the verifier's step score (OpenR) or off a real rollout
//! to the end of the solution, and batched rounds with a virtual loss.
//!
//! A node of the search is a step. Each node keeps a visit count N and a value sum; its value
//! is Q = sum / N. With budget N (finished candidates to reach), expansion width W, P
//! selections per round and round cap R, every round:
//! 1. **Selection.** P times, a path is walked from the root: at a node that has been expanded
//!    the walk moves to the open child with the highest tree-rule score (ties: the earlier
//!    child), and it stops at the first node not yet expanded (the leaf). A child is open
//!    unless it ends its solution or every child beneath it does (closed). After each walk a
//!    virtual loss of one visit with value 0 is put on every node of the path, so the next
//!    walk of the round leans elsewhere; a leaf reached twice in a round is expanded once.
//!    The virtual losses are taken back at the end of the round.
//!    - `puct`: Q_c + (ln((N_p + c_base + 1) / c_base) + c_init) · P_c · √N_p / (1 + N_c),
//!      c_base = 19652, c_init = 1.25, with the prior P_c the softmax, over the siblings, of
//!      each step's mean token log-probability under the policy;
//!    - `uct`: Q_c + c · √(ln N_p / N_c), c = `--exploration` (rStar's 2).
//! 2. **Expansion.** Each selected leaf is continued W times in one batched policy call: by
//!    one step (value `step`), or to the end of its solution (value `rollout`: the first step
//!    of each continuation is the new child, the rest its simulation). Samples that write the
//!    same step are one child.
//! 3. **Evaluation.** The new paths are scored in one verifier call. A sample's value v is its
//!    child's own step score (`step`, OpenR's choice), or the aggregation of the scores of its
//!    whole finished solution (`rollout`). A sample whose solution finished (a `\boxed{}`
//!    step, the end of the sequence, an empty step, the token limit; every rollout) is a
//!    finished candidate with the aggregated score of its path.
//! 4. **Backup.** For every sample, each node of the selected path and the new child gets
//!    N += 1 and sum += v. A new child's first Q is thus its own value: the verifier's score
//!    where nothing has been tried below it.
//! 5. The search stops when N candidates have finished, when every node is closed, or after
//!    round R, whose selected leaves are continued to the end of their solutions (whatever
//!    the value) so that they finish. As in beam search, when the last round finishes more
//!    than N, the N highest-scoring candidates are kept (ties: the one that finished first).
//! 6. **Choice** (`--mcts-select`): `vote`, a vote over the finished candidates weighted by
//!    their scores (weighted best-of-N); `max-value`, the highest-scoring candidate; or
//!    `max-visits`, a walk from the root along the most-visited child (ties: the higher Q, then
//!    the earlier) among those with an answered candidate beneath, to the highest-scoring
//!    answered candidate at or below where it ends.
//!
//! Every node's N and Q reach the tree as [`super::SearchEvent::NodeValued`], and each
//! round's paths as [`super::SearchEvent::Selected`], which the tree view draws.

use super::beam::keep_best;
use super::recorder::{ends_solution, sample_steps, Recorder};
use super::select::{choose_best, choose_weighted, Aggregation};
use super::{Candidate, Env, NodeId, Outcome, SearchContext, SearchTree};
use crate::backend::Until;
use crate::engine::ComputeMeter;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};

/// The default expansion width W (children sampled per expanded leaf).
pub const DEFAULT_EXPANSION_WIDTH: usize = 4;
/// The default selections per round P.
pub const DEFAULT_SELECTIONS: usize = 4;
/// The default UCT exploration constant c (rStar's).
pub const DEFAULT_EXPLORATION: f64 = 2.0;
/// PUCT's c_base (AlphaZero's pseudocode, OpenR).
pub const C_BASE: f64 = 19652.0;
/// PUCT's c_init.
pub const C_INIT: f64 = 1.25;

macro_rules! named_choice {
    ($(#[$doc:meta])* $name:ident, $what:literal, [$($(#[$vdoc:meta])* $variant:ident = $s:literal),+ $(,)?]) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        #[serde(rename_all = "kebab-case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every choice, in the order menus show them.
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            /// The name as flags and files spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $s),+
                }
            }

            /// Parses a name.
            pub fn parse(s: &str) -> Result<Self, String> {
                Self::ALL.iter().copied().find(|x| x.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|x| x.as_str()).collect();
                    format!("unknown {} '{s}': use {}", $what, names.join(", "))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_choice!(
    /// How selection scores a child.
    TreeRule,
    "tree rule",
    [
        /// AlphaZero's PUCT with the policy's prior.
        #[default]
        Puct = "puct",
        /// UCT (UCB1) with exploration constant c.
        Uct = "uct"
    ]
);

named_choice!(
    /// What value an expansion backs up.
    MctsValue,
    "MCTS value",
    [
        /// The new child's own verifier score.
        #[default]
        Step = "step",
        /// The aggregated score of a simulation to the end of the solution.
        Rollout = "rollout"
    ]
);

named_choice!(
    /// How the answer is chosen at the end.
    MctsSelect,
    "MCTS selection",
    [
        /// Weighted vote over the finished candidates.
        #[default]
        Vote = "vote",
        /// The highest-scoring finished candidate.
        MaxValue = "max-value",
        /// The most-visited path's best candidate.
        MaxVisits = "max-visits"
    ]
);

/// What a node of the search keeps.
#[derive(Debug, Clone, Default)]
struct Stat {
    visits: usize,
    sum: f64,
    prior: f64,
    children: Vec<NodeId>,
    expanded: bool,
    terminal: bool,
    closed: bool,
}

impl Stat {
    fn q(&self) -> f64 {
        if self.visits == 0 {
            0.0
        } else {
            self.sum / self.visits as f64
        }
    }
}

/// The tree rule's score of a child with `nc` visits (virtual losses included), value sum
/// `sum` and prior `prior`, under a parent with `np` visits.
pub fn rule_score(rule: TreeRule, exploration: f64, np: f64, nc: f64, sum: f64, prior: f64) -> f64 {
    if nc <= 0.0 {
        return f64::INFINITY;
    }
    let q = sum / nc;
    match rule {
        TreeRule::Puct => {
            q + (((np + C_BASE + 1.0) / C_BASE).ln() + C_INIT) * prior * np.sqrt() / (1.0 + nc)
        }
        TreeRule::Uct => q + exploration * (np.max(1.0).ln() / nc).sqrt(),
    }
}

/// The softmax of `x` (the priors of siblings from their steps' mean log-probabilities).
pub fn softmax(x: &[f64]) -> Vec<f64> {
    let top = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|&v| (v - top).exp()).collect();
    let total: f64 = e.iter().sum();
    e.iter().map(|v| v / total).collect()
}

/// MCTS's parameters, beside the round cap and the aggregation every step search has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct MctsParams {
    /// W: children sampled per expanded leaf.
    pub expansion_width: usize,
    /// How selection scores a child.
    pub tree_rule: TreeRule,
    /// UCT's exploration constant c.
    pub exploration: super::spec::Exploration,
    /// What an expansion backs up.
    pub value: MctsValue,
    /// How the answer is chosen.
    pub select: MctsSelect,
    /// P: paths selected (leaves expanded) per round, with a virtual loss.
    pub selections_per_round: usize,
}

impl Default for MctsParams {
    fn default() -> Self {
        Self {
            expansion_width: DEFAULT_EXPANSION_WIDTH,
            tree_rule: TreeRule::default(),
            exploration: Default::default(),
            value: MctsValue::default(),
            select: MctsSelect::default(),
            selections_per_round: DEFAULT_SELECTIONS,
        }
    }
}

impl MctsParams {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), String> {
        if self.expansion_width == 0 {
            return Err("expansion width must be at least 1".into());
        }
        if self.selections_per_round == 0 {
            return Err("selections per round must be at least 1".into());
        }
        Ok(())
    }

    /// A short label: `puct, step, W = 4`, with the exploration constant for UCT and the
    /// selection and P where they are not the defaults.
    pub fn label(&self) -> String {
        let mut s = match self.tree_rule {
            TreeRule::Puct => "puct".to_string(),
            TreeRule::Uct => format!("uct c = {}", self.exploration),
        };
        s += &format!(", {}, W = {}", self.value, self.expansion_width);
        if self.selections_per_round != DEFAULT_SELECTIONS {
            s += &format!(", P = {}", self.selections_per_round);
        }
        if self.select != MctsSelect::default() {
            s += &format!(", {}", self.select);
        }
        s
    }
}

/// One sample of an expansion.
struct Sample {
    /// The new child (the first step of the continuation; with `step`, the only one).
    child: NodeId,
    /// Where the continuation ended.
    end: NodeId,
    /// Whether the solution finished there.
    done: bool,
    /// The child's own verifier score.
    own: f32,
    /// The aggregation of the path's scores through `end`.
    value: f32,
}

/// Continues each leaf `width` times (one policy call), adds the samples to the tree, scores
/// them (one verifier call) and records the scores of the new nodes.
#[allow(clippy::too_many_arguments)]
fn expand(
    rec: &mut Recorder<'_>,
    env: &mut Env<'_>,
    leaves: &[NodeId],
    width: usize,
    until: Until,
    round: usize,
    aggregation: Aggregation,
    meter: &mut ComputeMeter,
) -> anyhow::Result<Vec<Vec<Sample>>> {
    let frontier: Vec<(NodeId, usize)> = leaves.iter().map(|&l| (l, width)).collect();
    let sampling = env.sampling.clone();
    let gens = rec.expand(env, &frontier, round, until, &sampling, meter)?;
    let mut raw: Vec<Vec<(NodeId, NodeId, bool)>> = Vec::with_capacity(leaves.len());
    for (&leaf, gs) in leaves.iter().zip(&gens) {
        let mut mine = Vec::with_capacity(gs.len());
        for g in gs {
            let steps = sample_steps(g, env.delimiter);
            let first = rec.add(leaf, &steps[0], round);
            let end = rec.add_all(first, &steps[1..], round);
            let done = until == Until::End || steps.last().is_some_and(|s| ends_solution(g, s));
            // A step-by-step expansion's child is where the sample ended.
            let child = if until == Until::Step { end } else { first };
            mine.push((child, end, done));
        }
        raw.push(mine);
    }
    let mut seen = HashSet::new();
    let ends: Vec<NodeId> = raw
        .iter()
        .flatten()
        .map(|&(_, end, _)| end)
        .filter(|&e| seen.insert(e))
        .collect();
    let asked: Vec<(NodeId, Vec<crate::verify::StepText>)> =
        ends.iter().map(|&e| (e, Vec::new())).collect();
    let scores = rec.score(env, &asked, meter)?;
    let mut by_end: HashMap<NodeId, Vec<f32>> = HashMap::new();
    for (&end, s) in ends.iter().zip(scores) {
        by_end.insert(end, s);
    }
    // Each new node's score: the nodes of the continuation, from its first step on.
    let mut scored = HashSet::new();
    for &(child, end, _) in raw.iter().flatten() {
        let from = rec.tree.nodes[child].depth.min(rec.tree.nodes[end].depth);
        let path = rec.tree.path(end);
        let s = &by_end[&end];
        for (&node, &x) in path.iter().skip(1).zip(s) {
            if rec.tree.nodes[node].depth >= from && scored.insert(node) {
                rec.set_score(node, x);
            }
        }
    }
    Ok(raw
        .into_iter()
        .map(|mine| {
            mine.into_iter()
                .map(|(child, end, done)| {
                    let s = &by_end[&end];
                    let depth = rec.tree.nodes[child].depth;
                    let own = depth
                        .checked_sub(1)
                        .and_then(|i| s.get(i))
                        .copied()
                        .unwrap_or(0.0);
                    Sample {
                        child,
                        end,
                        done,
                        own,
                        value: aggregation.apply(s),
                    }
                })
                .collect()
        })
        .collect())
}

/// The search's nodes and how they are walked.
struct Search {
    stats: HashMap<NodeId, Stat>,
    params: MctsParams,
}

impl Search {
    fn stat(&self, id: NodeId) -> &Stat {
        &self.stats[&id]
    }

    /// One walk from the root to a leaf, under the virtual losses `vl`; `None` when the root
    /// is closed.
    fn select(&self, vl: &HashMap<NodeId, usize>) -> Option<Vec<NodeId>> {
        let mut path = vec![SearchTree::ROOT];
        let mut node = SearchTree::ROOT;
        loop {
            let s = self.stat(node);
            if s.closed {
                return None;
            }
            if !s.expanded {
                return Some(path);
            }
            let np = (s.visits + vl.get(&node).copied().unwrap_or(0)) as f64;
            let mut best: Option<(f64, NodeId)> = None;
            for &c in &s.children {
                let cs = self.stat(c);
                if cs.closed {
                    continue;
                }
                let nc = (cs.visits + vl.get(&c).copied().unwrap_or(0)) as f64;
                let x = rule_score(
                    self.params.tree_rule,
                    self.params.exploration.get(),
                    np,
                    nc,
                    cs.sum,
                    cs.prior,
                );
                if best.is_none_or(|(b, _)| x > b) {
                    best = Some((x, c));
                }
            }
            let (_, c) = best?;
            path.push(c);
            node = c;
        }
    }

    /// The round's paths: up to P walks, each leaving a virtual loss on its path; a leaf
    /// reached again is not selected twice.
    fn select_round(&self) -> Vec<Vec<NodeId>> {
        let mut vl: HashMap<NodeId, usize> = HashMap::new();
        let mut leaves = HashSet::new();
        let mut paths = Vec::new();
        for _ in 0..self.params.selections_per_round {
            let Some(path) = self.select(&vl) else {
                break;
            };
            for &n in &path {
                *vl.entry(n).or_default() += 1;
            }
            if leaves.insert(*path.last().unwrap_or(&SearchTree::ROOT)) {
                paths.push(path);
            }
        }
        paths
    }

    /// Closes `path`'s nodes from the leaf up while all their children are closed.
    fn close_up(&mut self, path: &[NodeId]) {
        for &node in path.iter().rev() {
            let s = self.stat(node);
            let all = s.expanded && s.children.iter().all(|c| self.stat(*c).closed);
            if !all {
                break;
            }
            if let Some(s) = self.stats.get_mut(&node) {
                s.closed = true;
            }
        }
    }

    /// `max-visits`: walks the most-visited children that have an answered candidate beneath
    /// and returns the best answered candidate at or below where the walk ends.
    fn most_visited(&self, tree: &SearchTree, finished: &[Candidate]) -> Option<usize> {
        let answered: Vec<usize> = (0..finished.len())
            .filter(|&i| finished[i].answer.is_some())
            .collect();
        let mut beneath: HashSet<NodeId> = HashSet::new();
        for &i in &answered {
            beneath.extend(tree.path(finished[i].leaf));
        }
        let mut node = SearchTree::ROOT;
        loop {
            let mut best: Option<(usize, f64, NodeId)> = None;
            for &c in &self.stat(node).children {
                if !beneath.contains(&c) {
                    continue;
                }
                let cs = self.stat(c);
                let key = (cs.visits, cs.q());
                if best.is_none_or(|(v, q, _)| key.0 > v || (key.0 == v && key.1 > q)) {
                    best = Some((key.0, key.1, c));
                }
            }
            match best {
                Some((_, _, c)) => node = c,
                None => break,
            }
        }
        let mut pick: Option<usize> = None;
        for &i in &answered {
            if tree.path(finished[i].leaf).contains(&node)
                && pick.is_none_or(|b| finished[i].score > finished[b].score)
            {
                pick = Some(i);
            }
        }
        pick
    }
}

/// MCTS; see the [module docs](self).
pub fn run(
    ctx: SearchContext<'_>,
    params: MctsParams,
    max_rounds: usize,
    aggregation: Aggregation,
) -> anyhow::Result<Outcome> {
    params.validate().map_err(anyhow::Error::msg)?;
    let (mut env, sink) = ctx.split();
    let n = env.budget;
    let mut meter = ComputeMeter {
        generations: n as u64,
        ..Default::default()
    };
    let mut rec = Recorder::new(&env.problem.question, env.delimiter, sink);
    rec.progress(0, n);
    let mut search = Search {
        stats: HashMap::from([(SearchTree::ROOT, Stat::default())]),
        params,
    };
    let mut finished: Vec<Candidate> = Vec::new();
    let mut last = 0;
    for round in 1..=max_rounds {
        env.cancel.check()?;
        let paths = search.select_round();
        if paths.is_empty() {
            break;
        }
        last = round;
        rec.selected(round, paths.clone());
        let leaves: Vec<NodeId> = paths.iter().filter_map(|p| p.last().copied()).collect();
        let until = if round == max_rounds || params.value == MctsValue::Rollout {
            Until::End
        } else {
            Until::Step
        };
        let samples = expand(
            &mut rec,
            &mut env,
            &leaves,
            params.expansion_width,
            until,
            round,
            aggregation,
            &mut meter,
        )?;
        let mut touched: BTreeSet<NodeId> = BTreeSet::new();
        for (path, mine) in paths.iter().zip(&samples) {
            let leaf = *path.last().unwrap_or(&SearchTree::ROOT);
            search.stats.entry(leaf).or_default().expanded = true;
            for s in mine {
                let terminal = s.done && s.child == s.end;
                let st = search.stats.entry(s.child).or_default();
                st.terminal |= terminal;
                st.closed |= terminal;
                if !search.stats[&leaf].children.contains(&s.child) {
                    if let Some(l) = search.stats.get_mut(&leaf) {
                        l.children.push(s.child);
                    }
                }
                let v = match params.value {
                    MctsValue::Step => f64::from(s.own),
                    MctsValue::Rollout => f64::from(s.value),
                };
                for &node in path.iter().chain(std::iter::once(&s.child)) {
                    if let Some(x) = search.stats.get_mut(&node) {
                        x.visits += 1;
                        x.sum += v;
                    }
                    touched.insert(node);
                }
                if s.done {
                    finished.push(rec.finish(s.end, s.value));
                }
            }
            // The priors: a softmax over the siblings of their steps' mean log-probabilities.
            let children = search.stats[&leaf].children.clone();
            let means: Vec<f64> = children
                .iter()
                .map(|&c| {
                    rec.path(c)
                        .last()
                        .and_then(|s| s.logprob)
                        .filter(|l| l.tokens > 0)
                        .map_or(0.0, |l| l.sum / l.tokens as f64)
                })
                .collect();
            for (c, p) in children.iter().zip(softmax(&means)) {
                if let Some(x) = search.stats.get_mut(c) {
                    x.prior = p;
                }
            }
            search.close_up(path);
        }
        for node in touched {
            let s = search.stat(node);
            let (visits, q) = (s.visits, s.q() as f32);
            rec.set_value(node, visits, q);
        }
        rec.progress(finished.len().min(n), n);
        if finished.len() >= n {
            break;
        }
    }
    let finished = keep_best(&mut rec, finished, n, last);
    rec.progress(finished.len(), n);
    let chosen = match params.select {
        MctsSelect::Vote => choose_weighted(&finished),
        MctsSelect::MaxValue => choose_best(&finished),
        MctsSelect::MaxVisits => search.most_visited(&rec.tree, &finished),
    };
    Ok(rec.outcome(finished, chosen, meter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_rules_follow_their_formulas() {
        // PUCT at N_p = 4, N_c = 1, Q = .5, P = .25: (ln(19657/19652) + 1.25) x .25 x 2 / 2.
        let explore = ((19657.0f64 / 19652.0).ln() + 1.25) * 0.25 * 2.0 / 2.0;
        let x = rule_score(TreeRule::Puct, 2.0, 4.0, 1.0, 0.5, 0.25);
        assert!((x - (0.5 + explore)).abs() < 1e-12, "{x}");
        // UCT at N_p = 4, N_c = 2, sum 1 (Q = .5), c = 2: .5 + 2 sqrt(ln 4 / 2).
        let x = rule_score(TreeRule::Uct, 2.0, 4.0, 2.0, 1.0, 0.0);
        assert!((x - (0.5 + 2.0 * (4f64.ln() / 2.0).sqrt())).abs() < 1e-12);
        // A single visit to the parent gives UCT no exploration term; an unvisited child
        // goes first.
        assert_eq!(rule_score(TreeRule::Uct, 2.0, 1.0, 1.0, 0.3, 0.0), 0.3);
        assert_eq!(
            rule_score(TreeRule::Puct, 2.0, 3.0, 0.0, 0.0, 0.1),
            f64::INFINITY
        );
    }

    #[test]
    fn priors_are_a_softmax_of_mean_logprobs() {
        let p = softmax(&[-1.0, -1.0 - 2f64.ln()]);
        assert!((p[0] - 2.0 / 3.0).abs() < 1e-12 && (p[1] - 1.0 / 3.0).abs() < 1e-12);
        let p = softmax(&[-1e4, -1e4]);
        assert_eq!(p, [0.5, 0.5]);
    }

    #[test]
    fn choices_parse_and_print_as_flags_spell_them() {
        for r in TreeRule::ALL {
            assert_eq!(TreeRule::parse(r.as_str()), Ok(*r));
        }
        assert_eq!(MctsValue::parse("rollout"), Ok(MctsValue::Rollout));
        assert_eq!(MctsSelect::parse("max-visits"), Ok(MctsSelect::MaxVisits));
        let err = MctsSelect::parse("best").unwrap_err();
        assert!(err.contains("vote, max-value, max-visits"), "{err}");
        let p = MctsParams {
            tree_rule: TreeRule::Uct,
            value: MctsValue::Rollout,
            ..Default::default()
        };
        assert_eq!(p.label(), "uct c = 2, rollout, W = 4");
        assert_eq!(MctsParams::default().label(), "puct, step, W = 4");
    }
}
