//! Choosing an answer among finished candidates, and aggregating step scores: the functions
//! every strategy ends with, public so that analysis can re-apply them to subsets of a bank of
//! samples.
//!
//! - **Majority**: the most frequent final answer (ties: the answer seen first).
//! - **Best-of-N**: the single highest-scoring candidate.
//! - **Weighted best-of-N** (the paper's default): the answer whose candidates' scores sum
//!   highest.
//!
//! Answers are grouped by the grader's equivalence ([`grade::equivalent`]), so `1/2` and `0.5`
//! vote together.

use super::Candidate;
use crate::grade;
use serde::{Deserialize, Serialize};

/// How a solution's step scores become one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Aggregation {
    /// The last step's score (the paper's choice).
    #[default]
    Last,
    /// The lowest step score.
    Min,
    /// The product of step scores.
    Prod,
    /// The mean step score.
    Mean,
}

impl Aggregation {
    /// All aggregations, in the order menus show them.
    pub const ALL: [Aggregation; 4] = [Self::Last, Self::Min, Self::Prod, Self::Mean];

    /// Aggregates step scores; an empty solution scores 0.
    pub fn apply(self, scores: &[f32]) -> f32 {
        if scores.is_empty() {
            return 0.0;
        }
        match self {
            Self::Last => scores[scores.len() - 1],
            Self::Min => scores.iter().copied().fold(f32::INFINITY, f32::min),
            Self::Prod => scores.iter().product(),
            Self::Mean => scores.iter().sum::<f32>() / scores.len() as f32,
        }
    }

    /// The name as flags and files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Last => "last",
            Self::Min => "min",
            Self::Prod => "prod",
            Self::Mean => "mean",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown aggregation '{s}': use last, min, prod or mean"))
    }
}

/// Groups candidates by equivalent answers: each group is the indices of its members, in order
/// of first appearance. Candidates without an answer belong to no group. An answer spelt
/// exactly like an earlier one joins that one's group without grading (equivalence is
/// reflexive and a group's first member never changes, so the grouping is the same), which
/// leaves one grader call per distinct spelling and group.
pub fn answer_groups(candidates: &[Candidate]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        let Some(a) = c.answer.as_deref() else {
            continue;
        };
        if let Some(&g) = seen.get(a) {
            groups[g].push(i);
            continue;
        }
        let g = match groups.iter().position(|g| {
            candidates[g[0]]
                .answer
                .as_deref()
                .is_some_and(|b| grade::equivalent(b, a))
        }) {
            Some(g) => {
                groups[g].push(i);
                g
            }
            None => {
                groups.push(vec![i]);
                groups.len() - 1
            }
        };
        seen.insert(a, g);
    }
    groups
}

/// The answer group of largest total `weight` (ties: the group seen first), represented by its
/// highest-scoring member (ties: the first): of several solutions reaching the chosen answer,
/// the one the verifier trusts most, not merely the first sampled, which can be a wrong chain
/// whose errors cancel.
fn choose_group(candidates: &[Candidate], weight: impl Fn(&Candidate) -> f32) -> Option<usize> {
    let mut best: Option<(f32, usize)> = None;
    for g in answer_groups(candidates) {
        let w: f32 = g.iter().map(|&i| weight(&candidates[i])).sum();
        if best.is_none_or(|(bw, _)| w > bw) {
            let top = g.iter().copied().fold(g[0], |b, i| {
                if candidates[i].score > candidates[b].score {
                    i
                } else {
                    b
                }
            });
            best = Some((w, top));
        }
    }
    best.map(|b| b.1)
}

/// Majority: the most frequent answer (ties: the answer seen first), represented by its
/// highest-scoring candidate.
pub fn choose_majority(candidates: &[Candidate]) -> Option<usize> {
    choose_group(candidates, |_| 1.0)
}

/// Weighted best-of-N: the answer whose candidates' scores sum highest, represented by its
/// highest-scoring candidate.
pub fn choose_weighted(candidates: &[Candidate]) -> Option<usize> {
    choose_group(candidates, |c| c.score)
}

/// Best-of-N: the highest-scoring candidate with an answer (ties: the first).
pub fn choose_best(candidates: &[Candidate]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        if c.answer.is_some() && best.is_none_or(|b| c.score > candidates[b].score) {
            best = Some(i);
        }
    }
    best
}

/// Hierarchical selection over sequential revisions (the paper's section 6.2): within each
/// chain of attempts, weighted best-of-N picks the chain's answer, carried by its
/// highest-scoring attempt; across chains, weighted best-of-N over those carriers picks the
/// answer. Returns (chain, attempt) of the carrier of the chosen answer; chains without an
/// answered attempt take no part.
pub fn choose_hierarchical(chains: &[Vec<Candidate>]) -> Option<(usize, usize)> {
    let winners: Vec<(usize, usize)> = chains
        .iter()
        .enumerate()
        .filter_map(|(c, chain)| choose_weighted(chain).map(|i| (c, i)))
        .collect();
    let carriers: Vec<Candidate> = winners.iter().map(|&(c, i)| chains[c][i].clone()).collect();
    choose_weighted(&carriers).map(|w| winners[w])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(answer: Option<&str>, score: f32) -> Candidate {
        Candidate {
            steps: Vec::new(),
            answer: answer.map(String::from),
            correct: None,
            score,
            tokens: 0,
            leaf: 0,
        }
    }

    #[test]
    fn aggregations() {
        let s = [0.9, 0.5, 0.8];
        assert_eq!(Aggregation::Last.apply(&s), 0.8);
        assert_eq!(Aggregation::Min.apply(&s), 0.5);
        assert!((Aggregation::Prod.apply(&s) - 0.36).abs() < 1e-6);
        assert!((Aggregation::Mean.apply(&s) - 2.2 / 3.0).abs() < 1e-6);
        assert_eq!(Aggregation::Last.apply(&[]), 0.0);
        assert_eq!(Aggregation::parse("prod"), Ok(Aggregation::Prod));
        assert!(Aggregation::parse("max").is_err());
    }

    #[test]
    fn the_three_choices_differ_where_they_should() {
        // "8" once with a high score; "7" twice (once written 7.0) with middling scores.
        let c = [
            cand(Some("7"), 0.6),
            cand(Some("8"), 0.9),
            cand(None, 1.0),
            cand(Some("7.0"), 0.6),
        ];
        assert_eq!(choose_majority(&c), Some(0));
        assert_eq!(choose_best(&c), Some(1));
        assert_eq!(choose_weighted(&c), Some(0));
        assert_eq!(answer_groups(&c), vec![vec![0, 3], vec![1]]);
        assert_eq!(choose_weighted(&[cand(None, 1.0)]), None);
        // Ties: the answer seen first.
        assert_eq!(choose_majority(&c[..2]), Some(0));
    }

    #[test]
    fn the_chosen_answer_is_carried_by_its_highest_scoring_candidate() {
        // "7" wins both ways; its second sample is the one the verifier trusts.
        let c = [
            cand(Some("7"), 0.2),
            cand(Some("8"), 0.7),
            cand(Some("7.0"), 0.9),
            cand(Some("7"), 0.9),
        ];
        assert_eq!(choose_majority(&c), Some(2));
        assert_eq!(choose_weighted(&c), Some(2));
        assert_eq!(
            c[choose_weighted(&c).unwrap()].answer.as_deref(),
            Some("7.0")
        );
    }

    #[test]
    fn hierarchical_selection_votes_within_chains_then_across() {
        // Worked by hand. Chain 0: "5" (0.3 + 0.3 = 0.6) beats "6" (0.5); carrier 0.3.
        // Chain 1: "6" alone, 0.8. Chain 2: "5" (0.4) beats "7" (0.35); carrier 0.4.
        // Across: "6" 0.8 against "5" 0.3 + 0.4 = 0.7: "6", carried by chain 1's attempt 1.
        let chains = vec![
            vec![
                cand(Some("5"), 0.3),
                cand(Some("6"), 0.5),
                cand(Some("5"), 0.3),
            ],
            vec![cand(None, 0.9), cand(Some("6"), 0.8)],
            vec![cand(Some("7"), 0.35), cand(Some("5"), 0.4)],
            vec![cand(None, 1.0)],
        ];
        assert_eq!(choose_hierarchical(&chains), Some((1, 1)));
        let all: Vec<Candidate> = chains.concat();
        let answer = |i: Option<usize>| all[i.unwrap()].answer.clone().unwrap();
        // Majority over all attempts says "5" (3 votes against 2).
        assert_eq!(answer(choose_majority(&all)), "5");
        // Flat weighted best-of-N says "6" (1.3 against 1.0), as the hierarchy does here.
        assert_eq!(answer(choose_weighted(&all)), "6");
        // Chain 1's attempt lowered to 0.6: across chains "5" (0.7) now beats "6" (0.6),
        // carried by chain 2's attempt (0.4 > 0.3), while flat weighted still says "6" (1.1
        // against 1.0): the two selections differ.
        let mut lower = chains.clone();
        lower[1][1].score = 0.6;
        assert_eq!(choose_hierarchical(&lower), Some((2, 1)));
        let flat: Vec<Candidate> = lower.concat();
        assert_eq!(
            flat[choose_weighted(&flat).unwrap()].answer.as_deref(),
            Some("6")
        );
        assert_eq!(choose_hierarchical(&[]), None);
        assert_eq!(choose_hierarchical(&[vec![cand(None, 1.0)]]), None);
    }
}
