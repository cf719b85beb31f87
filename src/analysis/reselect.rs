//! Selection as an axis, with no new generation (`thinkscale reselect`): how a run's or a
//! sweep's accuracy changes with the rule that turns verifier scores into a choice — the
//! aggregation of a solution's step scores (last, min, mean, prod) crossed with the selection
//! among solutions (max: the single highest-scoring solution, best-of-N; vote: the answer whose
//! solutions' scores sum highest, weighted best-of-N) — as Liu et al. 2025 (arXiv 2502.06703,
//! table 2) compare PRM-Last-Max, PRM-Min-Vote and their kin. Majority voting, which reads no
//! score, is the baseline row.
//!
//! Every choice is recomputed from the stored candidates and their stored step scores:
//! - a **search** record (a tree search, or a sampling strategy run afresh as `thinkscale run`
//!   runs it) chooses among its finished candidates as the runs do (ties: the first), so the
//!   run's own rule gives back the run's own accuracy exactly; the search itself was steered
//!   by the rule it ran with, and only its final choice changes;
//! - a sweep's **bank** is read at every budget from the same random subsets as its curves
//!   ([`super::bank`]: fractional credit for ties), so the sweep's own rule gives back its
//!   best-of-N and weighted best-of-N curves exactly.
//!
//! Accuracy is over the problems a setting has records for.

use super::bank::{draw_all_credits, Bank, BankChoice};
use crate::runner::sweep::{SweepManifest, SweepRecord, SweepRun};
use crate::search::select::{choose_best, choose_majority, choose_weighted, Aggregation};
use crate::search::{Candidate, StrategySpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How the solutions' scores become a choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Selection {
    /// The highest-scoring solution (best-of-N).
    Max,
    /// The answer whose solutions' scores sum highest (weighted best-of-N).
    Vote,
}

impl Selection {
    /// Both, in the order tables show them.
    pub const ALL: [Selection; 2] = [Self::Max, Self::Vote];

    /// The name flags and tables use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Max => "max",
            Self::Vote => "vote",
        }
    }

    /// Parses `max` or `vote`.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown selection '{s}': use max or vote"))
    }
}

/// A rule: an aggregation and a selection, or majority voting (`None`: reads no score).
pub type Rule = Option<(Aggregation, Selection)>;

/// The rule a strategy chose its answer by, where it is one of these.
pub fn own_rule(spec: &StrategySpec) -> Option<Rule> {
    match *spec {
        StrategySpec::Majority => Some(None),
        StrategySpec::BestOfN { aggregation } => Some(Some((aggregation, Selection::Max))),
        StrategySpec::WeightedBestOfN { aggregation }
        | StrategySpec::Beam { aggregation, .. }
        | StrategySpec::Lookahead { aggregation, .. }
        | StrategySpec::Dvts { aggregation, .. }
        | StrategySpec::Rebase { aggregation, .. }
        | StrategySpec::Particles { aggregation, .. } => Some(Some((aggregation, Selection::Vote))),
        // Hierarchical revisions choose within chains first; adaptive majority's choice is
        // majority's over the samples it drew.
        StrategySpec::Revisions { .. } => None,
        StrategySpec::AdaptiveMajority { .. } => Some(None),
        // MCTS's own choice is one of these unless it walks the most-visited path.
        StrategySpec::Mcts {
            params,
            aggregation,
            ..
        } => match params.select {
            crate::search::mcts::MctsSelect::Vote => Some(Some((aggregation, Selection::Vote))),
            crate::search::mcts::MctsSelect::MaxValue => Some(Some((aggregation, Selection::Max))),
            crate::search::mcts::MctsSelect::MaxVisits => None,
        },
    }
}

/// One row of the table: a setting (the bank, or a search setting) under one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The setting: `samples (bank)` or the search setting's label.
    pub setting: String,
    /// The rule (`None`: majority).
    pub rule: Rule,
    /// Whether it is the rule the setting ran with (the sweep's aggregation, for a bank).
    pub own: bool,
    /// Per budget: accuracy and the problems behind it.
    pub points: BTreeMap<usize, (f64, usize)>,
}

/// Every rule's accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reselection {
    /// The budgets, as columns.
    pub budgets: Vec<usize>,
    /// The rows: per setting, majority then each aggregation x selection asked for.
    pub rows: Vec<Row>,
}

/// `candidates` with each solution's score the aggregation `a` of its step scores.
fn rescored(candidates: &[Candidate], a: Aggregation) -> Vec<Candidate> {
    candidates
        .iter()
        .map(|c| {
            let scores: Vec<f32> = c.steps.iter().map(|s| s.score).collect();
            Candidate {
                score: a.apply(&scores),
                ..c.clone()
            }
        })
        .collect()
}

/// The candidate `rule` chooses among `candidates`, each rescored from its stored step scores
/// (ties: the first, as the runs do); `None` when none has an answer. The window's live
/// selection switch and the table both choose through this.
pub fn choose(candidates: &[Candidate], rule: Rule) -> Option<usize> {
    match rule {
        None => choose_majority(candidates),
        Some((a, s)) => {
            let c = rescored(candidates, a);
            match s {
                Selection::Max => choose_best(&c),
                Selection::Vote => choose_weighted(&c),
            }
        }
    }
}

/// A rule as the window names it: `last × vote`, or `majority`.
pub fn rule_name(rule: Rule) -> String {
    match rule {
        None => "majority".into(),
        Some((a, s)) => format!("{} × {}", a.as_str(), s.as_str()),
    }
}

/// Whether `rule` picks a right answer among `candidates` (ties: the first, as the runs do).
fn right(candidates: &[Candidate], rule: Rule) -> bool {
    choose(candidates, rule).is_some_and(|i| candidates[i].correct == Some(true))
}

fn rules(aggregations: &[Aggregation], selections: &[Selection]) -> Vec<Rule> {
    std::iter::once(None)
        .chain(
            aggregations
                .iter()
                .flat_map(|&a| selections.iter().map(move |&s| Some((a, s)))),
        )
        .collect()
}

/// A search setting's records' candidates, by budget.
type ByBudget<'a> = BTreeMap<usize, Vec<&'a [Candidate]>>;

/// The label of a bank's rows.
pub const BANK: &str = "samples (bank)";

/// Recomputes every rule's accuracy on a sweep's (or a run's: a sweep of one) records; see the
/// [module docs](self).
pub fn reselect(
    manifest: &SweepManifest,
    records: &[SweepRecord],
    aggregations: &[Aggregation],
    selections: &[Selection],
) -> Reselection {
    let cfg = &manifest.config;
    let rules = rules(aggregations, selections);
    let mut budgets: Vec<usize> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    // Problems numbered as the curves number them (a bank's random subsets are drawn per
    // problem number).
    let ids: Vec<&str> = super::sweep::numbered_problems(manifest, records)
        .iter()
        .map(|r| r.record.id.as_str())
        .collect();
    let index: std::collections::HashMap<&str, usize> =
        ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
    // Banks: per seed, each problem's candidates.
    let mut banks: BTreeMap<u64, BTreeMap<usize, &[Candidate]>> = BTreeMap::new();
    for r in records {
        if let SweepRun::Bank { seed, .. } = r.run {
            let p = index[r.record.id.as_str()];
            banks
                .entry(seed)
                .or_default()
                .insert(p, &r.record.candidates);
        }
    }
    if !banks.is_empty() {
        let mut bank_budgets = cfg.budgets.clone();
        bank_budgets.sort_unstable();
        bank_budgets.dedup();
        budgets.extend(&bank_budgets);
        for &rule in &rules {
            let choice = match rule {
                None => BankChoice::Majority,
                Some((_, Selection::Max)) => BankChoice::BestOfN,
                Some((_, Selection::Vote)) => BankChoice::WeightedBestOfN,
            };
            let k = BankChoice::ALL
                .iter()
                .position(|c| *c == choice)
                .unwrap_or(0);
            // The rule's banks, built once (grouping answers grades them) for every budget.
            let rule_banks: Vec<(u64, Vec<Bank>)> = banks
                .iter()
                .map(|(&seed, of_seed)| {
                    let mut bank = vec![Bank::default(); ids.len()];
                    for (&p, cands) in of_seed {
                        bank[p] = match rule {
                            Some((a, _)) => Bank::from_candidates(&rescored(cands, a)),
                            None => Bank::from_candidates(cands),
                        };
                    }
                    (seed, bank)
                })
                .collect();
            let mut points = BTreeMap::new();
            for &b in &bank_budgets {
                // Per problem, the mean over the seeds whose bank has it.
                let mut sum = vec![0.0; ids.len()];
                let mut seeds = vec![0usize; ids.len()];
                for (seed, bank) in &rule_banks {
                    let credits = draw_all_credits(bank, b, cfg.draws, *seed);
                    for &p in banks[seed].keys() {
                        let c = &credits[p][k];
                        sum[p] += c.iter().sum::<f64>() / c.len().max(1) as f64;
                        seeds[p] += 1;
                    }
                }
                let done: Vec<f64> = (0..ids.len())
                    .filter(|&p| seeds[p] > 0)
                    .map(|p| sum[p] / seeds[p] as f64)
                    .collect();
                let acc = done.iter().sum::<f64>() / done.len().max(1) as f64;
                points.insert(b, (acc, done.len()));
            }
            rows.push(Row {
                setting: BANK.into(),
                rule,
                own: rule.is_some_and(|(a, _)| a == cfg.aggregation),
                points,
            });
        }
    }
    // Searches: per setting, per budget, every record's choice.
    let mut searches: BTreeMap<String, (StrategySpec, ByBudget)> = BTreeMap::new();
    for r in records {
        if let SweepRun::Search {
            strategy, budget, ..
        } = &r.run
        {
            searches
                .entry(strategy.to_string())
                .or_insert_with(|| (*strategy, BTreeMap::new()))
                .1
                .entry(*budget)
                .or_default()
                .push(&r.record.candidates);
        }
    }
    for (label, (spec, by_budget)) in &searches {
        budgets.extend(by_budget.keys());
        let own = own_rule(spec);
        for &rule in &rules {
            let points = by_budget
                .iter()
                .map(|(&b, recs)| {
                    let hits = recs.iter().filter(|c| right(c, rule)).count();
                    (b, (hits as f64 / recs.len().max(1) as f64, recs.len()))
                })
                .collect();
            rows.push(Row {
                setting: label.clone(),
                rule,
                own: own == Some(rule),
                points,
            });
        }
    }
    budgets.sort_unstable();
    budgets.dedup();
    Reselection { budgets, rows }
}

impl Reselection {
    /// The table as Markdown: a row per setting and rule, a column per budget; the rule each
    /// setting ran with is marked `*`.
    pub fn markdown(&self) -> String {
        let mut s = String::from("| setting | aggregation | selection |");
        for b in &self.budgets {
            s.push_str(&format!(" N={b} |"));
        }
        s.push_str("\n|---|---|---|");
        s.push_str(&"---|".repeat(self.budgets.len()));
        s.push('\n');
        for r in &self.rows {
            let (a, sel) = match r.rule {
                None => ("–", "majority"),
                Some((a, sel)) => (a.as_str(), sel.as_str()),
            };
            let mark = if r.own { " *" } else { "" };
            s.push_str(&format!("| {} | {a} | {sel}{mark} |", r.setting));
            for b in &self.budgets {
                match r.points.get(b) {
                    Some((acc, _)) => s.push_str(&format!(" {acc:.3} |")),
                    None => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
        s
    }

    /// The accuracy of `setting` under `rule` at `budget`.
    pub fn accuracy(&self, setting: &str, rule: Rule, budget: usize) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.setting == setting && r.rule == rule)
            .and_then(|r| r.points.get(&budget))
            .map(|p| p.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ComputeMeter;
    use crate::runner::sweep::SweepConfig;
    use crate::search::Step;
    use crate::store::Record;

    fn candidate(scores: &[f32], answer: &str, correct: bool) -> Candidate {
        Candidate {
            steps: scores
                .iter()
                .map(|&score| Step {
                    text: String::new(),
                    score,
                    tokens: 1,
                })
                .collect(),
            answer: Some(answer.into()),
            correct: Some(correct),
            score: 0.0,
            tokens: scores.len(),
            leaf: 0,
        }
    }

    #[test]
    fn choose_names_the_candidate_each_rule_picks() {
        // The four solutions of the table's test below: the stored scores (0) are ignored.
        let c = [
            candidate(&[0.9, 0.2], "5", false),
            candidate(&[0.5, 0.6], "7", true),
            candidate(&[0.8, 0.4], "5", false),
            candidate(&[0.3, 0.7], "7", true),
        ];
        use Aggregation::*;
        use Selection::*;
        assert_eq!(choose(&c, None), Some(0));
        assert_eq!(choose(&c, Some((Last, Max))), Some(3));
        assert_eq!(choose(&c, Some((Min, Max))), Some(1));
        assert_eq!(choose(&c, Some((Mean, Max))), Some(2));
        // Vote: the answer 7 (.51 against .50), carried by its best product, c1's .30.
        assert_eq!(choose(&c, Some((Prod, Vote))), Some(1));
        assert_eq!(choose(&[], Some((Last, Vote))), None);
        assert_eq!(rule_name(Some((Mean, Vote))), "mean × vote");
        assert_eq!(rule_name(None), "majority");
    }

    #[test]
    fn every_rule_is_recomputed_from_the_step_scores() {
        // Four solutions of one problem whose answer is 7 (step scores, answer):
        //   c0 [.9, .2] 5   last .2  min .2  mean .55  prod .18
        //   c1 [.5, .6] 7   last .6  min .5  mean .55  prod .30
        //   c2 [.8, .4] 5   last .4  min .4  mean .60  prod .32
        //   c3 [.3, .7] 7   last .7  min .3  mean .50  prod .21
        // majority: 5 and 7 tie, the first seen (5) wins: wrong.
        // last: max c3 (7, right); vote 5 .6 < 7 1.3 (right).
        // min:  max c1 (7, right); vote 5 .6 < 7 .8 (right).
        // mean: max c2 (5, wrong); vote 5 1.15 > 7 1.05 (wrong).
        // prod: max c2 (5, wrong); vote 5 .50 < 7 .51 (right).
        let spec = StrategySpec::WeightedBestOfN {
            aggregation: Aggregation::Last,
        };
        let config: SweepConfig = serde_json::from_value(serde_json::json!({
            "dataset": {"kind": "toy"},
            "policy": "models/toy/policy",
            "verifier": "oracle",
            "strategies": ["weighted-best-of-n"],
            "budgets": [4],
            "shared_bank": false,
        }))
        .unwrap();
        let manifest = SweepManifest {
            config,
            models: Vec::new(),
            policies: Vec::new(),
            thinkscale_version: "test".into(),
            problems: Vec::new(),
        };
        let record = Record {
            id: "p".into(),
            level: Some(1),
            question: String::new(),
            reference: "7".into(),
            answer: None,
            correct: false,
            candidates: vec![
                candidate(&[0.9, 0.2], "5", false),
                candidate(&[0.5, 0.6], "7", true),
                candidate(&[0.8, 0.4], "5", false),
                candidate(&[0.3, 0.7], "7", true),
            ],
            compute: ComputeMeter::default(),
            seed: 0,
            tree: None,
            chosen: None,
            judged: Vec::new(),
        };
        let records = vec![SweepRecord {
            run: SweepRun::Search {
                strategy: spec,
                budget: 4,
                seed: 0,
            },
            record,
        }];
        let t = reselect(&manifest, &records, &Aggregation::ALL, &Selection::ALL);
        assert_eq!(t.budgets, [4]);
        // Majority, then last, min, prod, mean (Aggregation::ALL) x max, vote.
        let got: Vec<(Rule, f64, bool)> = t
            .rows
            .iter()
            .map(|r| (r.rule, r.points[&4].0, r.own))
            .collect();
        use Aggregation::*;
        use Selection::*;
        assert_eq!(
            got,
            [
                (None, 0.0, false),
                (Some((Last, Max)), 1.0, false),
                (Some((Last, Vote)), 1.0, true),
                (Some((Min, Max)), 1.0, false),
                (Some((Min, Vote)), 1.0, false),
                (Some((Prod, Max)), 0.0, false),
                (Some((Prod, Vote)), 1.0, false),
                (Some((Mean, Max)), 0.0, false),
                (Some((Mean, Vote)), 0.0, false),
            ]
        );
        let md = t.markdown();
        assert!(
            md.contains("| weighted-best-of-n (last) | last | vote * | 1.000 |"),
            "{md}"
        );
        assert!(md.contains("| weighted-best-of-n (last) | – | majority | 0.000 |"));
        assert_eq!(
            t.accuracy("weighted-best-of-n (last)", Some((Mean, Vote)), 4),
            Some(0.0)
        );
    }
}
