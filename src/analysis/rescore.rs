//! A finished search scored again by another verifier, with no new generation: every scored
//! node of its tree and every step of its candidates gets the new verifier's score of the same
//! prefix, and the answer is chosen again by the search's own rule from those scores.
//!
//! The search's path stays the one its own verifier steered (which prefixes were expanded and
//! pruned); what changes is what the new verifier thinks of them and what it would choose among
//! the finished candidates. The window's verifier-quality dial uses it with the noisy oracle, a
//! pure function of (seed, problem, prefix), so dragging Q re-scores a run at once.

use super::reselect::{choose, Rule};
use crate::data::Problem;
use crate::engine::ComputeMeter;
use crate::search::{Aggregation, NodeId, SearchTree};
use crate::store::Record;
use crate::verify::{StepText, Verifier};

/// A search scored again: its record (step scores, aggregated scores, choice and verdict) and
/// its tree (node scores), and the leaf of the new choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Rescored {
    /// The record with the new scores and choice.
    pub record: Record,
    /// The tree with the new node scores.
    pub tree: SearchTree,
    /// The leaf of the chosen candidate.
    pub chosen_leaf: Option<NodeId>,
}

/// The steps from the root's child down to `id`.
fn path(tree: &SearchTree, id: NodeId) -> Vec<StepText> {
    let mut steps = Vec::new();
    let mut at = id;
    while let Some(parent) = tree.nodes[at].parent {
        steps.push(StepText::plain(&tree.nodes[at].text));
        at = parent;
    }
    steps.reverse();
    steps
}

/// Scores `record`'s candidates and `tree`'s scored nodes with `verifier` (one batched call
/// each), aggregates each candidate's step scores with `aggregation`, and chooses the answer by
/// `rule` (`None`: the search's own choice stands, as for hierarchical revisions and MCTS's
/// most-visited path). Nodes the search did not score (the root, MCTS's simulation steps) stay
/// unscored.
pub fn rescore(
    record: &Record,
    tree: &SearchTree,
    problem: &Problem,
    verifier: &mut dyn Verifier,
    aggregation: Aggregation,
    rule: Option<Rule>,
) -> anyhow::Result<Rescored> {
    let mut meter = ComputeMeter::default();
    let mut tree = tree.clone();
    let scored: Vec<NodeId> = (1..tree.nodes.len())
        .filter(|&id| tree.nodes[id].score.is_some())
        .collect();
    let paths: Vec<Vec<StepText>> = scored.iter().map(|&id| path(&tree, id)).collect();
    let refs: Vec<&[StepText]> = paths.iter().map(Vec::as_slice).collect();
    let scores = verifier.score_many(problem, &refs, &mut meter)?;
    for (&id, s) in scored.iter().zip(scores) {
        tree.nodes[id].score = s.last().copied();
    }
    let mut record = record.clone();
    let steps: Vec<Vec<StepText>> = record
        .candidates
        .iter()
        .map(|c| c.steps.iter().map(|s| StepText::plain(&s.text)).collect())
        .collect();
    let refs: Vec<&[StepText]> = steps.iter().map(Vec::as_slice).collect();
    let scores = verifier.score_many(problem, &refs, &mut meter)?;
    for (c, s) in record.candidates.iter_mut().zip(scores) {
        for (step, v) in c.steps.iter_mut().zip(&s) {
            step.score = *v;
        }
        c.score = aggregation.apply(&s);
    }
    if let Some(rule) = rule {
        record.chosen = choose(&record.candidates, rule);
        let pick = record.chosen.map(|i| &record.candidates[i]);
        record.answer = pick.and_then(|c| c.answer.clone());
        record.correct = pick.is_some_and(|c| c.correct == Some(true));
    }
    if record.tree.is_some() {
        record.tree = Some(tree.clone());
    }
    let chosen_leaf = record
        .chosen
        .and_then(|i| record.candidates.get(i))
        .map(|c| c.leaf);
    Ok(Rescored {
        record,
        tree,
        chosen_leaf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::reselect::Selection;
    use crate::runner::{load_policy, load_verifier, search_problem, RunConfig};
    use crate::search::StrategyKind;
    use crate::verify::noisy::{NoisyOracle, NoisySpec};
    use crate::verify::VerifierSpec;

    fn noisy(q: &str) -> NoisySpec {
        NoisySpec::parse(q).unwrap()
    }

    /// Beam search against the noisy oracle at Q = 0.6 on a level-4 toy problem, kept as the
    /// runner records it.
    fn searched() -> (Record, SearchTree, Problem) {
        let cfg = RunConfig {
            dataset: crate::data::DatasetSpec::Toy,
            levels: Vec::new(),
            problem_ids: Vec::new(),
            limit: None,
            policy: crate::engine::default_policy_dir(),
            remote: Default::default(),
            verifier: VerifierSpec::NoisyOracle(noisy("0.6")),
            strategy: StrategyKind::Beam.with(Aggregation::Last, 4, 40, 0),
            budget: 16,
            sampling: Default::default(),
            step_delimiter: "\n".into(),
            prompt: crate::engine::PromptFormat::Auto,
            seed: 0,
            device: "cpu".into(),
            dtype: "f32".into(),
            thinkscale_version: String::new(),
        };
        let problems = cfg.problems().unwrap();
        let problem = problems
            .iter()
            .find(|p| p.level == Some(4))
            .unwrap()
            .clone();
        let mut policy = load_policy(&cfg).unwrap();
        let mut verifier = load_verifier(&cfg).unwrap();
        let record = search_problem(
            &cfg,
            &problem,
            policy.as_mut(),
            verifier.as_mut(),
            &mut |_: &crate::search::SearchEvent| {},
            &crate::engine::CancelToken::new(),
        )
        .unwrap();
        let tree = record.tree.clone().unwrap();
        (record, tree, problem)
    }

    #[test]
    fn a_search_rescored_by_its_own_verifier_is_unchanged_and_by_another_takes_its_scores() {
        let (record, tree, problem) = searched();
        let own: Rule = Some((Aggregation::Last, Selection::Vote));
        let rule = Some(own);
        // The same noisy oracle gives back every score and the choice.
        let same = rescore(
            &record,
            &tree,
            &problem,
            &mut NoisyOracle::new(noisy("0.6")),
            Aggregation::Last,
            rule,
        )
        .unwrap();
        assert_eq!(same.record, record);
        assert_eq!(same.tree, tree);
        // Another Q: each scored node gets the new oracle's score of its own prefix, each
        // candidate's steps theirs, and the choice follows the new scores.
        let mut better = NoisyOracle::new(noisy("0.95"));
        let r = rescore(
            &record,
            &tree,
            &problem,
            &mut better,
            Aggregation::Last,
            rule,
        )
        .unwrap();
        let mut changed = 0;
        for id in 1..tree.nodes.len() {
            let old = tree.nodes[id].score;
            let new = r.tree.nodes[id].score;
            assert_eq!(old.is_some(), new.is_some(), "node {id}");
            if old.is_some() {
                let texts = path(&tree, id);
                let want = better
                    .score_many(&problem, &[&texts], &mut ComputeMeter::default())
                    .unwrap()[0]
                    .last()
                    .copied();
                assert_eq!(new, want, "node {id}");
                changed += usize::from(new != old);
            }
            // Only scores change: the search's own path stands.
            let (mut a, mut b) = (tree.nodes[id].clone(), r.tree.nodes[id].clone());
            a.score = None;
            b.score = None;
            assert_eq!(a, b);
        }
        assert!(changed > 0);
        for (c, old) in r.record.candidates.iter().zip(&record.candidates) {
            let steps: Vec<String> = c.steps.iter().map(|s| s.text.clone()).collect();
            let want = better
                .score(&problem, &steps, &mut ComputeMeter::default())
                .unwrap();
            let got: Vec<f32> = c.steps.iter().map(|s| s.score).collect();
            assert_eq!(got, want);
            assert_eq!(c.score, Aggregation::Last.apply(&want));
            assert_eq!(
                (&c.answer, c.correct, c.leaf),
                (&old.answer, old.correct, old.leaf)
            );
        }
        let pick = choose(&r.record.candidates, own);
        assert_eq!(r.record.chosen, pick);
        let c = &r.record.candidates[pick.unwrap()];
        assert_eq!(r.record.answer, c.answer);
        assert_eq!(r.record.correct, c.correct == Some(true));
        assert_eq!(r.chosen_leaf, Some(c.leaf));
        assert_eq!(
            r.record.compute, record.compute,
            "no new generation is charged"
        );
        // Without a rule the search's own choice stands.
        let own = rescore(
            &record,
            &tree,
            &problem,
            &mut better,
            Aggregation::Last,
            None,
        )
        .unwrap();
        assert_eq!(
            (own.record.chosen, own.record.answer, own.record.correct),
            (record.chosen, record.answer.clone(), record.correct)
        );
    }

    #[test]
    fn a_problem_the_noisy_oracle_cannot_read_is_an_error_not_a_panic() {
        let (record, tree, mut problem) = searched();
        problem.answer = "x + 1".into();
        let err = rescore(
            &record,
            &tree,
            &problem,
            &mut NoisyOracle::new(noisy("0.9")),
            Aggregation::Last,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("noisy oracle"), "{err:#}");
    }
}
