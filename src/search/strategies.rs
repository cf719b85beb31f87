//! The strategies: majority voting and best-of-N (naive and verifier-weighted).
//!
//! All three sample `budget` full solutions in parallel, score every step with the verifier,
//! and differ only in how they choose: the most frequent final answer (majority); the single
//! highest-scoring solution (best-of-N); or the answer whose solutions' scores sum highest
//! (weighted best-of-N, the paper's default). The choice functions are public so that analysis
//! can re-apply them to subsets of a bank of samples.

use super::{
    Cancelled, Candidate, Outcome, SearchContext, SearchEvent, SearchTree, Step, Strategy,
};
use crate::engine::ComputeMeter;
use crate::verify::grader;
use serde::{Deserialize, Serialize};

/// How a solution's step scores become one score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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

/// Which strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Most frequent final answer among `budget` samples.
    Majority,
    /// The single best-scoring sample.
    BestOfN,
    /// The answer with the largest sum of sample scores.
    WeightedBestOfN,
}

impl StrategyKind {
    /// All strategies, in the order menus show them.
    pub const ALL: [StrategyKind; 3] = [Self::Majority, Self::BestOfN, Self::WeightedBestOfN];

    /// The name as flags and files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Majority => "majority",
            Self::BestOfN => "best-of-n",
            Self::WeightedBestOfN => "weighted-best-of-n",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            format!("unknown strategy '{s}': the strategies are majority, best-of-n, weighted-best-of-n")
        })
    }

    /// Whether it uses the verifier's scores to choose.
    pub fn uses_verifier(self) -> bool {
        !matches!(self, Self::Majority)
    }
}

/// A strategy with its hyper-parameters; serialisable into a run's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategySpec {
    /// Which strategy.
    pub kind: StrategyKind,
    /// How step scores become a solution score.
    pub aggregation: Aggregation,
}

impl Strategy for StrategySpec {
    fn name(&self) -> String {
        self.kind.as_str().into()
    }

    fn run(&self, ctx: SearchContext<'_>) -> anyhow::Result<Outcome> {
        let mut ctx = ctx;
        let (tree, candidates, compute) = sample_candidates(&mut ctx, self.aggregation)?;
        let chosen = match self.kind {
            StrategyKind::Majority => choose_majority(&candidates),
            StrategyKind::BestOfN => choose_best(&candidates),
            StrategyKind::WeightedBestOfN => choose_weighted(&candidates),
        };
        let answer = chosen.and_then(|i| candidates[i].answer.clone());
        let correct = chosen.and_then(|i| candidates[i].correct);
        ctx.sink.event(&SearchEvent::Chosen {
            node: chosen.map(|i| candidates[i].leaf),
            answer: answer.clone(),
            correct,
        });
        Ok(Outcome {
            answer,
            correct,
            chosen,
            candidates,
            tree,
            compute,
        })
    }
}

/// Splits a generation into steps at `delimiter`, with the tokens of each step
/// (`step_ends` from the engine); empty pieces are dropped.
pub fn split_steps(
    text: &str,
    delimiter: &str,
    step_ends: &[usize],
    total_tokens: usize,
) -> Vec<(String, usize)> {
    let pieces: Vec<&str> = if delimiter.is_empty() {
        vec![text]
    } else {
        text.split(delimiter).collect()
    };
    let mut out = Vec::new();
    let mut prev = 0;
    for (k, piece) in pieces.iter().enumerate() {
        let end = step_ends
            .get(k)
            .copied()
            .unwrap_or(total_tokens)
            .min(total_tokens);
        let tokens = end.saturating_sub(prev);
        prev = end.max(prev);
        if !piece.trim().is_empty() {
            out.push((piece.to_string(), tokens));
        } else if let Some(last) = out.last_mut() {
            last.1 += tokens;
        }
    }
    out
}

/// Samples `ctx.budget` full solutions, scores their steps, and builds the tree.
fn sample_candidates(
    ctx: &mut SearchContext<'_>,
    aggregation: Aggregation,
) -> anyhow::Result<(SearchTree, Vec<Candidate>, ComputeMeter)> {
    let problem = ctx.problem;
    let mut meter = ComputeMeter::default();
    let mut tree = SearchTree::new(&problem.question);
    ctx.sink.event(&SearchEvent::Started {
        question: problem.question.clone(),
    });
    ctx.sink.event(&SearchEvent::Progress {
        done: 0,
        total: ctx.budget,
    });
    if ctx.cancel.is_cancelled() {
        return Err(Cancelled.into());
    }
    let mut params = ctx.sampling.clone();
    params.stop_at_step = false;
    let gens = ctx
        .policy
        .generate(problem, "", ctx.budget, &params, ctx.seed, &mut meter)?;
    ctx.sink.event(&SearchEvent::Progress {
        done: gens.len(),
        total: ctx.budget,
    });
    let mut candidates = Vec::with_capacity(gens.len());
    for g in &gens {
        if ctx.cancel.is_cancelled() {
            return Err(Cancelled.into());
        }
        let steps = split_steps(
            &g.text,
            &params.step_delimiter,
            &g.step_ends,
            g.tokens.len(),
        );
        let texts: Vec<String> = steps.iter().map(|s| s.0.clone()).collect();
        let scores = ctx.verifier.score(problem, &texts, &mut meter)?;
        if scores.len() != texts.len() {
            anyhow::bail!(
                "verifier {} returned {} scores for {} steps",
                ctx.verifier.name(),
                scores.len(),
                texts.len()
            );
        }
        let mut node = SearchTree::ROOT;
        for ((text, tokens), score) in steps.iter().zip(&scores) {
            let ev = tree.add_step(node, text, *tokens, 0);
            if let SearchEvent::NodeAdded { id, .. } = ev {
                node = id;
            }
            ctx.sink.event(&ev);
            let ev = SearchEvent::NodeScored {
                id: node,
                score: *score,
            };
            tree.apply(&ev);
            ctx.sink.event(&ev);
        }
        let answer = grader::extract_answer(&g.text);
        let correct = answer
            .as_deref()
            .map(|a| grader::equivalent(&problem.answer, a));
        if node != SearchTree::ROOT {
            let ev = SearchEvent::NodeFinished {
                id: node,
                answer: answer.clone(),
                correct,
            };
            tree.apply(&ev);
            ctx.sink.event(&ev);
        }
        candidates.push(Candidate {
            steps: steps
                .iter()
                .zip(&scores)
                .map(|((text, tokens), &score)| Step {
                    text: text.clone(),
                    score,
                    tokens: *tokens,
                })
                .collect(),
            answer,
            correct,
            score: aggregation.apply(&scores),
            tokens: g.tokens.len(),
            leaf: node,
        });
    }
    Ok((tree, candidates, meter))
}

/// Groups candidates by equivalent answers: each group is the indices of its members, in order
/// of first appearance. Candidates without an answer belong to no group.
pub fn answer_groups(candidates: &[Candidate]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        let Some(a) = c.answer.as_deref() else {
            continue;
        };
        match groups.iter_mut().find(|g| {
            candidates[g[0]]
                .answer
                .as_deref()
                .is_some_and(|b| grader::equivalent(b, a))
        }) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
}

fn choose_group(candidates: &[Candidate], weight: impl Fn(&Candidate) -> f32) -> Option<usize> {
    let mut best: Option<(f32, usize)> = None;
    for g in answer_groups(candidates) {
        let w: f32 = g.iter().map(|&i| weight(&candidates[i])).sum();
        if best.is_none_or(|(bw, _)| w > bw) {
            best = Some((w, g[0]));
        }
    }
    best.map(|b| b.1)
}

/// Majority: the first candidate of the most frequent answer (ties: the answer seen first).
pub fn choose_majority(candidates: &[Candidate]) -> Option<usize> {
    choose_group(candidates, |_| 1.0)
}

/// Weighted best-of-N: the first candidate of the answer whose candidates' scores sum highest.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Problem;
    use crate::engine::{Generation, SamplingParams};
    use crate::search::{CancelToken, Policy, Verifier};

    /// Returns scripted solutions in order, cycling.
    struct Scripted(Vec<&'static str>);

    impl Policy for Scripted {
        fn name(&self) -> String {
            "scripted".into()
        }
        fn generate(
            &mut self,
            _: &Problem,
            _: &str,
            n: usize,
            _: &SamplingParams,
            _: u64,
            meter: &mut ComputeMeter,
        ) -> anyhow::Result<Vec<Generation>> {
            Ok((0..n)
                .map(|i| {
                    let text = self.0[i % self.0.len()].to_string();
                    let tokens: Vec<u32> = text.bytes().map(u32::from).collect();
                    let step_ends = text.match_indices('\n').map(|(k, _)| k + 1).collect();
                    meter.generated_tokens += tokens.len() as u64;
                    Generation {
                        text,
                        logprobs: vec![0.0; tokens.len()],
                        tokens,
                        ended: true,
                        step_ends,
                    }
                })
                .collect())
        }
    }

    /// Scores a step by a table keyed on its text; unknown steps score 0.5.
    struct Table(Vec<(&'static str, f32)>);

    impl Verifier for Table {
        fn name(&self) -> String {
            "table".into()
        }
        fn score(
            &mut self,
            _: &Problem,
            steps: &[String],
            _: &mut ComputeMeter,
        ) -> anyhow::Result<Vec<f32>> {
            Ok(steps
                .iter()
                .map(|s| self.0.iter().find(|t| t.0 == s).map_or(0.5, |t| t.1))
                .collect())
        }
    }

    fn problem() -> Problem {
        Problem {
            id: "p".into(),
            question: "2*3+1".into(),
            answer: "7".into(),
            level: Some(2),
            subject: String::new(),
        }
    }

    const RIGHT: &str = "2*3=6: 6+1\n6+1=7: 7\n\\boxed{7}";
    const WRONG_A: &str = "2*3=5: 5+1\n5+1=6: 6\n\\boxed{6}";
    const WRONG_B: &str = "2*3=6: 6+1\n6+1=8: 8\n\\boxed{8}";

    fn run(
        kind: StrategyKind,
        aggregation: Aggregation,
        script: Vec<&'static str>,
        table: Vec<(&'static str, f32)>,
        budget: usize,
    ) -> (Outcome, Vec<SearchEvent>) {
        let p = problem();
        let mut policy = Scripted(script);
        let mut verifier = Table(table);
        let mut events = Vec::new();
        let mut sink = |e: &SearchEvent| events.push(e.clone());
        let sampling = SamplingParams::default();
        let cancel = CancelToken::new();
        let ctx = SearchContext {
            problem: &p,
            policy: &mut policy,
            verifier: &mut verifier,
            budget,
            seed: 0,
            sampling: &sampling,
            sink: &mut sink,
            cancel: &cancel,
        };
        let out = StrategySpec { kind, aggregation }.run(ctx).unwrap();
        (out, events)
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
    fn majority_picks_the_most_frequent_answer() {
        // Two wrong "6", one right "7": majority is wrong, exactly.
        let (out, _) = run(
            StrategyKind::Majority,
            Aggregation::Last,
            vec![WRONG_A, RIGHT, WRONG_A],
            vec![],
            3,
        );
        assert_eq!(out.answer.as_deref(), Some("6"));
        assert_eq!(out.correct, Some(false));
        assert_eq!(out.chosen, Some(0));
        assert_eq!(out.candidates.len(), 3);
    }

    #[test]
    fn naive_best_of_n_takes_the_single_best_and_weighted_sums() {
        // "8" once with a high last score; "7" twice with middling scores.
        let table = vec![("\\boxed{8}", 0.9), ("\\boxed{7}", 0.6)];
        let script = vec![RIGHT, WRONG_B, RIGHT];
        let (best, _) = run(
            StrategyKind::BestOfN,
            Aggregation::Last,
            script.clone(),
            table.clone(),
            3,
        );
        assert_eq!(best.answer.as_deref(), Some("8"));
        assert_eq!(best.chosen, Some(1));
        let (weighted, _) = run(
            StrategyKind::WeightedBestOfN,
            Aggregation::Last,
            script,
            table,
            3,
        );
        assert_eq!(weighted.answer.as_deref(), Some("7"));
        assert_eq!(weighted.correct, Some(true));
        assert_eq!(weighted.chosen, Some(0));
    }

    #[test]
    fn aggregation_changes_the_choice() {
        // Under "min", the early low step of RIGHT sinks it; under "last" it wins.
        let table = vec![
            ("2*3=6: 6+1", 0.1),
            ("\\boxed{7}", 0.9),
            ("\\boxed{6}", 0.5),
            ("2*3=5: 5+1", 0.5),
        ];
        let script = vec![RIGHT, WRONG_A];
        let (last, _) = run(
            StrategyKind::BestOfN,
            Aggregation::Last,
            script.clone(),
            table.clone(),
            2,
        );
        assert_eq!(last.answer.as_deref(), Some("7"));
        let (min, _) = run(StrategyKind::BestOfN, Aggregation::Min, script, table, 2);
        assert_eq!(min.answer.as_deref(), Some("6"));
    }

    #[test]
    fn the_tree_merges_shared_steps_and_events_mirror_it() {
        let (out, events) = run(
            StrategyKind::Majority,
            Aggregation::Last,
            vec![RIGHT, WRONG_B, RIGHT],
            vec![],
            3,
        );
        // root, shared "2*3=6: 6+1", then two branches of two steps each.
        assert_eq!(out.tree.nodes.len(), 6);
        assert_eq!(out.tree.nodes[1].visits, 3);
        let mut mirror = SearchTree::new("");
        events.iter().for_each(|e| mirror.apply(e));
        assert_eq!(mirror, out.tree);
        assert!(matches!(
            events.last(),
            Some(SearchEvent::Chosen {
                correct: Some(true),
                ..
            })
        ));
        let c = &out.candidates[0];
        assert_eq!(c.steps.len(), 3);
        assert_eq!(c.steps.iter().map(|s| s.tokens).sum::<usize>(), RIGHT.len());
    }

    #[test]
    fn no_answer_means_no_choice() {
        let (out, _) = run(
            StrategyKind::WeightedBestOfN,
            Aggregation::Last,
            vec!["2*3=6: 6+1"],
            vec![],
            2,
        );
        assert_eq!(out.answer, None);
        assert_eq!(out.chosen, None);
        assert_eq!(out.correct, None);
    }

    #[test]
    fn split_steps_counts_tokens_per_step() {
        let s = split_steps("a\nbb\n\nc", "\n", &[2, 5, 6], 7);
        assert_eq!(s, vec![("a".into(), 2), ("bb".into(), 4), ("c".into(), 1)]);
    }
}
