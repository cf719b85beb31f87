//! The search zoo's findings: several sweeps of the same strategies, one per verifier quality,
//! compared at equal tokens — which strategy wins at which verifier and difficulty bin, whether
//! MCTS ever beats weighted best-of-N, and what the trees say about why.
//!
//! "At T tokens" means with at most T tokens generated per problem (averaged over all
//! problems): a series' accuracy there is the best of its points that spent no more, as a
//! researcher who can afford T would pick its budget. The token levels are what weighted
//! best-of-N spends at N = 4, 16 and 64 under each verifier.

use super::sweep::{Series, SweepCurves};
use crate::runner::sweep::{SweepRecord, SweepRun};
use crate::search::StrategyKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// The budgets of weighted best-of-N whose tokens are the comparison's levels.
pub const LEVELS: [usize; 3] = [4, 16, 64];

/// One sweep of the zoo: its verifier's name, curves and records.
pub struct Part<'a> {
    /// The verifier, as the figure and table name it.
    pub verifier: String,
    /// The sweep's curves.
    pub curves: &'a SweepCurves,
    /// The sweep's records.
    pub records: &'a [SweepRecord],
}

/// The winner at one verifier, bin and token level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// The verifier.
    pub verifier: String,
    /// The difficulty bin (0: all problems).
    pub bin: usize,
    /// Weighted best-of-N's budget whose tokens set the level.
    pub level: usize,
    /// The level: tokens per problem.
    pub tokens: f64,
    /// The best setting there and its accuracy (ties: the earlier series).
    pub winner: String,
    /// Its accuracy.
    pub accuracy: f64,
    /// Weighted best-of-N's accuracy there.
    pub weighted: Option<f64>,
    /// The best MCTS setting there and its accuracy.
    pub mcts: Option<(String, f64)>,
}

/// What the trees of one setting at its largest budget look like, averaged over problems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeStats {
    /// The verifier.
    pub verifier: String,
    /// The setting.
    pub setting: String,
    /// The budget N.
    pub budget: usize,
    /// Problems behind the numbers.
    pub problems: usize,
    /// Finished candidates per problem.
    pub candidates: f64,
    /// Distinct answers among them.
    pub distinct_answers: f64,
    /// Nodes of the tree (steps; the root not counted).
    pub nodes: f64,
    /// Depth of the deepest node.
    pub depth: f64,
    /// Tokens generated per problem.
    pub tokens: f64,
    /// MCTS: the share of the root's visits that went to its most-visited child.
    pub top_child_share: Option<f64>,
}

/// The zoo's findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// Winners per verifier, bin and level.
    pub cells: Vec<Cell>,
    /// Tree statistics per verifier and setting, at each setting's largest budget.
    pub trees: Vec<TreeStats>,
}

/// A series' accuracy with at most `tokens` per problem, on `bin` (0: all problems).
pub fn accuracy_within(series: &Series, bin: usize, tokens: f64) -> Option<f64> {
    series
        .points
        .iter()
        .filter(|p| p.tokens > 0.0 && p.tokens <= tokens * (1.0 + 1e-9))
        .filter_map(|p| match bin {
            0 => Some(p.accuracy),
            b => (p.per_bin_n.get(b - 1).copied().unwrap_or(0) > 0)
                .then(|| p.per_bin.get(b - 1).copied())
                .flatten(),
        })
        .reduce(f64::max)
}

/// Every bin with problems, all problems (0) first.
fn bins(curves: &SweepCurves) -> Vec<usize> {
    std::iter::once(0)
        .chain(
            curves
                .bins
                .oracle_sizes
                .iter()
                .enumerate()
                .filter(|(_, &n)| n > 0)
                .map(|(i, _)| i + 1),
        )
        .collect()
}

/// The findings of the zoo's sweeps.
pub fn findings(parts: &[Part<'_>]) -> Findings {
    let mut cells = Vec::new();
    let mut trees = Vec::new();
    for part in parts {
        let series: Vec<&Series> = part
            .curves
            .series
            .iter()
            // pass@n is the ceiling no strategy reaches without the reference.
            .filter(|s| !s.label.starts_with("pass@"))
            .collect();
        let Some(weighted) = series
            .iter()
            .find(|s| s.strategy == StrategyKind::WeightedBestOfN)
        else {
            continue;
        };
        for level in LEVELS {
            let Some(tokens) = weighted
                .points
                .iter()
                .find(|p| p.budget == level)
                .map(|p| p.tokens)
            else {
                continue;
            };
            for bin in bins(part.curves) {
                let mut best: Option<(&str, f64)> = None;
                let mut mcts: Option<(String, f64)> = None;
                for s in &series {
                    let Some(a) = accuracy_within(s, bin, tokens) else {
                        continue;
                    };
                    if best.is_none_or(|(_, b)| a > b + 1e-12) {
                        best = Some((&s.label, a));
                    }
                    if s.strategy == StrategyKind::Mcts
                        && mcts.as_ref().is_none_or(|(_, b)| a > *b + 1e-12)
                    {
                        mcts = Some((s.label.clone(), a));
                    }
                }
                let Some((winner, accuracy)) = best else {
                    continue;
                };
                cells.push(Cell {
                    verifier: part.verifier.clone(),
                    bin,
                    level,
                    tokens,
                    winner: winner.to_string(),
                    accuracy,
                    weighted: accuracy_within(weighted, bin, tokens),
                    mcts,
                });
            }
        }
        trees.extend(tree_stats(&part.verifier, part.records));
    }
    Findings { cells, trees }
}

/// Per search setting (and the bank, read as weighted best-of-N at the same budget), the trees
/// at the setting's largest budget.
fn tree_stats(verifier: &str, records: &[SweepRecord]) -> Vec<TreeStats> {
    let mut by: BTreeMap<String, (usize, Vec<&SweepRecord>)> = BTreeMap::new();
    let mut bank_budget = 0;
    for r in records {
        match &r.run {
            SweepRun::Search {
                strategy, budget, ..
            } => {
                let e = by.entry(strategy.to_string()).or_insert((0, Vec::new()));
                if *budget > e.0 {
                    *e = (*budget, Vec::new());
                }
                if *budget == e.0 {
                    e.1.push(r);
                }
            }
            SweepRun::Bank { budget, .. } => bank_budget = bank_budget.max(*budget),
            _ => {}
        }
    }
    let mut out: Vec<TreeStats> = by
        .into_iter()
        .map(|(setting, (budget, rs))| stats_of(verifier, &setting, budget, &rs))
        .collect();
    let bank: Vec<&SweepRecord> = records
        .iter()
        .filter(|r| matches!(r.run, SweepRun::Bank { budget, .. } if budget == bank_budget))
        .collect();
    if !bank.is_empty() {
        let setting = format!("{} samples", StrategyKind::WeightedBestOfN.as_str());
        out.insert(0, stats_of(verifier, &setting, bank_budget, &bank));
    }
    out
}

fn stats_of(verifier: &str, setting: &str, budget: usize, rs: &[&SweepRecord]) -> TreeStats {
    let n = rs.len().max(1) as f64;
    let mean = |f: &dyn Fn(&SweepRecord) -> f64| rs.iter().map(|r| f(r)).sum::<f64>() / n;
    let share: Vec<f64> = rs
        .iter()
        .filter_map(|r| {
            let t = r.record.tree.as_ref()?;
            let root = &t.nodes[0];
            root.q?;
            let top = root.children.iter().map(|&c| t.nodes[c].visits).max()?;
            (root.visits > 0).then(|| top as f64 / root.visits as f64)
        })
        .collect();
    TreeStats {
        verifier: verifier.to_string(),
        setting: setting.to_string(),
        budget,
        problems: rs.len(),
        candidates: mean(&|r| r.record.candidates.len() as f64),
        distinct_answers: mean(&|r| {
            r.record
                .candidates
                .iter()
                .filter_map(|c| c.answer.as_deref())
                .collect::<HashSet<_>>()
                .len() as f64
        }),
        nodes: mean(&|r| {
            r.record
                .tree
                .as_ref()
                .map_or(0.0, |t| t.nodes.len().saturating_sub(1) as f64)
        }),
        depth: mean(&|r| r.record.tree.as_ref().map_or(0.0, |t| t.depth() as f64)),
        tokens: mean(&|r| r.record.compute.generated_tokens as f64),
        top_child_share: (!share.is_empty())
            .then(|| share.iter().sum::<f64>() / share.len() as f64),
    }
}

fn bin_name(b: usize) -> String {
    if b == 0 {
        "all".into()
    } else {
        format!("bin {b}")
    }
}

impl Findings {
    /// The bins a verifier's cells cover, in order of first appearance.
    fn bins_of(&self, verifier: &str) -> Vec<usize> {
        let mut seen = HashSet::new();
        self.cells
            .iter()
            .filter(|c| c.verifier == verifier)
            .map(|c| c.bin)
            .filter(|b| seen.insert(*b))
            .collect()
    }

    /// The findings as Markdown: the winners, MCTS against weighted best-of-N, the trees.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let verifiers: Vec<&str> = {
            let mut v: Vec<&str> = Vec::new();
            for c in &self.cells {
                if !v.contains(&c.verifier.as_str()) {
                    v.push(&c.verifier);
                }
            }
            v
        };
        out += "Best setting with at most the tokens per problem that weighted best-of-N \
                spends at N = 4 / 16 / 64 (accuracy; bins 1 easiest to 5 hardest):\n\n";
        out += "| verifier | bin | N = 4 | N = 16 | N = 64 |\n|---|---|---|---|---|\n";
        for v in &verifiers {
            for b in self.bins_of(v) {
                out += &format!("| {v} | {} |", bin_name(b));
                for level in LEVELS {
                    match self
                        .cells
                        .iter()
                        .find(|c| c.verifier == *v && c.bin == b && c.level == level)
                    {
                        Some(c) => out += &format!(" {} ({:.2}) |", c.winner, c.accuracy),
                        None => out += " – |",
                    }
                }
                out += "\n";
            }
        }
        out += "\nMCTS against weighted best-of-N at the same levels: the best MCTS setting's \
                accuracy minus weighted best-of-N's (positive: MCTS wins):\n\n";
        out += "| verifier | bin | N = 4 | N = 16 | N = 64 |\n|---|---|---|---|---|\n";
        let mut wins = 0;
        let mut total = 0;
        for v in &verifiers {
            for b in self.bins_of(v) {
                out += &format!("| {v} | {} |", bin_name(b));
                for level in LEVELS {
                    let cell = self
                        .cells
                        .iter()
                        .find(|c| c.verifier == *v && c.bin == b && c.level == level);
                    match cell.and_then(|c| Some((c.mcts.as_ref()?.1, c.weighted?))) {
                        Some((m, w)) => {
                            total += 1;
                            if m > w + 1e-12 {
                                wins += 1;
                            }
                            out += &format!(" {:+.2} |", m - w);
                        }
                        None => out += " – |",
                    }
                }
                out += "\n";
            }
        }
        out += &format!("\nMCTS beats weighted best-of-N in {wins} of {total} cells.\n\n");
        out += "The trees at each setting's largest budget (means per problem; the bank's \
                samples for weighted best-of-N):\n\n";
        out += "| verifier | setting | N | candidates | distinct answers | nodes | depth | \
                tokens | top child's share of root visits |\n\
                |---|---|---|---|---|---|---|---|---|\n";
        for t in &self.trees {
            out += &format!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.0} | {:.1} | {:.0} | {} |\n",
                t.verifier,
                t.setting,
                t.budget,
                t.candidates,
                t.distinct_answers,
                t.nodes,
                t.depth,
                t.tokens,
                t.top_child_share.map_or("–".into(), |s| format!("{s:.2}"))
            );
        }
        out
    }
}
