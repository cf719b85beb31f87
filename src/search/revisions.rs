//! Sequential revisions (Snell et al. 2024, section 6): the budget N is spent as P parallel
//! chains of L = N / P attempts. A chain's first attempt is a plain sample; each later attempt
//! is written after the chain's most recent [`WINDOW`] attempts, laid out by a
//! [`RevisionTemplate`], so a model trained to revise (the toy reviser) can correct them.
//!
//! Round k continues all P chains' contexts in one policy call (each to the end of a solution),
//! scores the P new attempts in one verifier call, and records them. In the tree every chain is
//! a path of attempt nodes under the root (`chain c · attempt k`), and each attempt's steps hang
//! beneath its node. The context is the node's prefix: the policy tokenises it and its prefix
//! cache serves what an earlier round of the chain already ran; every context token it runs is
//! metered as prompt compute.
//!
//! The answer is chosen by majority over all attempts, or by hierarchical selection (weighted
//! best-of-N within each chain, then across chains' winners; [`choose_hierarchical`]).

use super::recorder::{gen_steps, GenStep, Recorder};
use super::select::{choose_hierarchical, choose_majority, Aggregation};
use super::{Candidate, NodeId, Outcome, SearchContext, SearchTree};
use crate::backend::{Prefix, Until};
use crate::data::revision::RevisionTemplate;
#[cfg(doc)]
use crate::data::revision::WINDOW;
use crate::engine::ComputeMeter;
use serde::{Deserialize, Serialize};

/// The least room (tokens) a revision's context must leave for the new attempt, where the
/// token limit is larger: earlier attempts are dropped, oldest first, until it is there.
pub const ROOM_FLOOR: usize = 256;

/// How the answer is chosen among all attempts of all chains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevisionSelection {
    /// The most frequent answer over every attempt (reads no scores).
    #[default]
    Majority,
    /// Weighted best-of-N within each chain, then weighted best-of-N across the chains'
    /// winners (the paper's hierarchical selection).
    Hierarchical,
}

impl RevisionSelection {
    /// The names flags take.
    pub const NAMES: &'static str = "majority, hierarchical";

    /// The name as flags and files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Majority => "majority",
            Self::Hierarchical => "hierarchical",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "majority" => Ok(Self::Majority),
            "hierarchical" => Ok(Self::Hierarchical),
            _ => Err(format!(
                "unknown revision selection '{s}': the selections are {}",
                Self::NAMES
            )),
        }
    }
}

/// The label of a chain's attempt node (both 1-based, as the window shows them).
pub fn attempt_label(chain: usize, attempt: usize) -> String {
    format!("chain {chain} · attempt {attempt}")
}

/// An attempt as a later revision sees it: its steps joined by the delimiter (what training
/// data of the toy reviser holds too).
pub fn attempt_text(steps: &[GenStep], delimiter: &str) -> String {
    steps
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(delimiter)
}

/// The chain and attempt (both 1-based) a solution's leaf belongs to, read from the label of
/// the attempt node above it; `None` for a tree that is not a revisions search.
pub fn attempt_of(tree: &SearchTree, leaf: NodeId) -> Option<(usize, usize)> {
    let mut at = Some(leaf);
    while let Some(id) = at {
        let node = tree.nodes.get(id)?;
        if let Some((c, k)) = node
            .text
            .strip_prefix("chain ")
            .and_then(|rest| rest.split_once(" · attempt "))
        {
            if let (Ok(c), Ok(k)) = (c.parse(), k.parse()) {
                return Some((c, k));
            }
        }
        at = node.parent;
    }
    None
}

/// Runs `chains` chains of `budget / chains` attempts each.
pub fn run(
    ctx: SearchContext<'_>,
    chains: usize,
    selection: RevisionSelection,
    aggregation: Aggregation,
    template: RevisionTemplate,
) -> anyhow::Result<Outcome> {
    let (mut ctx, sink) = ctx.split();
    let mut meter = ComputeMeter {
        generations: ctx.budget as u64,
        ..Default::default()
    };
    let length = ctx.budget / chains.max(1);
    let mut rec = Recorder::new(&ctx.problem.question, ctx.delimiter, sink);
    rec.progress(0, ctx.budget);
    let sampling = ctx.sampling.clone();
    // Per chain: its last attempt node, its attempts' texts, its finished attempts.
    let mut heads = vec![SearchTree::ROOT; chains];
    let mut texts: Vec<Vec<String>> = vec![Vec::new(); chains];
    let mut finished: Vec<Vec<Candidate>> = vec![Vec::new(); chains];
    for round in 1..=length {
        ctx.cancel.check()?;
        let mut nodes = Vec::with_capacity(chains);
        for c in 0..chains {
            // The most recent attempts (at most the template's window) that leave the context
            // room for a new attempt: `max_tokens`, or ROOM_FLOOR tokens if fewer. Attempts that
            // ran to their token limit could otherwise fill the context on their own.
            let mut from = 0;
            let text = loop {
                let text = template.context(&texts[c][from..]);
                if from == texts[c].len() {
                    break text;
                }
                match ctx.policy.room_after(ctx.problem, &text)? {
                    Some(room) if room < sampling.max_tokens.min(ROOM_FLOOR) => from += 1,
                    _ => break text,
                }
            };
            let context = Prefix {
                text,
                ids: Vec::new(),
            };
            nodes.push(rec.add_context(heads[c], &attempt_label(c + 1, round), context, round));
        }
        heads.clone_from(&nodes);
        let frontier: Vec<(usize, usize)> = nodes.iter().map(|&n| (n, 1)).collect();
        let gens = rec.expand(
            &mut ctx,
            &frontier,
            round,
            Until::End,
            &sampling,
            &mut meter,
        )?;
        ctx.cancel.check()?;
        let mut leaves = Vec::with_capacity(chains);
        for (c, (&node, g)) in nodes.iter().zip(&gens).enumerate() {
            let Some(g) = g.first() else { continue };
            let steps = gen_steps(g, ctx.delimiter);
            let leaf = rec.add_all(node, &steps, round);
            if leaf != node {
                texts[c].push(attempt_text(&steps, ctx.delimiter));
                leaves.push((c, leaf));
            }
        }
        let scored: Vec<(usize, Vec<_>)> = leaves.iter().map(|&(_, l)| (l, Vec::new())).collect();
        let scores = rec.score(&mut ctx, &scored, &mut meter)?;
        for (&(c, leaf), s) in leaves.iter().zip(&scores) {
            let path = rec.tree.path(leaf);
            for (&n, &x) in path[path.len() - s.len()..].iter().zip(s) {
                rec.set_score(n, x);
            }
            finished[c].push(rec.finish(leaf, aggregation.apply(s)));
        }
        rec.progress(round * chains, ctx.budget);
    }
    // Candidates chain by chain, attempts in order.
    let offsets: Vec<usize> = finished
        .iter()
        .scan(0, |acc, chain| {
            let at = *acc;
            *acc += chain.len();
            Some(at)
        })
        .collect();
    let chosen = match selection {
        RevisionSelection::Majority => choose_majority(&finished.concat()),
        RevisionSelection::Hierarchical => {
            choose_hierarchical(&finished).map(|(c, i)| offsets[c] + i)
        }
    };
    Ok(rec.outcome(finished.concat(), chosen, meter))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Extend, Policy};
    use crate::data::Problem;
    use crate::engine::{CancelToken, Generation, SamplingParams};
    use crate::search::{NodeStatus, SearchEvent, Strategy, StrategySpec};
    use crate::verify::{StepText, Verifier};

    /// Round k's call continues chain i with `attempts[k][i]`, one character per token; it
    /// keeps every context it was handed and meters each context character as a prompt token.
    struct Reviser {
        attempts: Vec<Vec<&'static str>>,
        seen: Vec<Vec<String>>,
        /// The context's size in tokens (characters), where the reviser says it.
        context: Option<usize>,
    }

    impl Policy for Reviser {
        fn name(&self) -> String {
            "reviser".into()
        }

        fn params(&self) -> Option<u64> {
            None
        }

        fn room_after(&mut self, _: &Problem, prefix: &str) -> anyhow::Result<Option<usize>> {
            Ok(self.context.map(|c| c.saturating_sub(prefix.len())))
        }

        fn extend(
            &mut self,
            _: &Problem,
            requests: &[Extend<'_>],
            until: Until,
            delimiter: &str,
            _: &SamplingParams,
            meter: &mut ComputeMeter,
            _: &CancelToken,
        ) -> anyhow::Result<Vec<Vec<Generation>>> {
            assert_eq!(until, Until::End);
            let round = self.seen.len();
            self.seen
                .push(requests.iter().map(|r| r.prefix.text.clone()).collect());
            Ok(requests
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    assert_eq!(r.n, 1);
                    assert!(
                        r.prefix.ids.is_empty(),
                        "a context is tokenised by the policy"
                    );
                    meter.prompt_tokens += r.prefix.text.len() as u64;
                    let text = self.attempts[round][i];
                    meter.generated_tokens += text.len() as u64;
                    let tokens: Vec<u32> = text.bytes().map(u32::from).collect();
                    let step_ends = text
                        .match_indices(delimiter)
                        .map(|(at, d)| at + d.len())
                        .collect();
                    vec![Generation {
                        text: text.into(),
                        logprobs: vec![0.0; tokens.len()],
                        top_logprobs: None,
                        uniform_kls: None,
                        tokens,
                        ended: true,
                        step_ends,
                    }]
                })
                .collect())
        }
    }

    /// Scores a step by its first word: `a1` 0.9, `a2` 0.4, ... (see `score`).
    struct Scores;

    fn score(step: &str) -> f32 {
        match step.split(' ').next().unwrap_or("") {
            "a1" => 0.9,
            "a2" | "a3" => 0.4,
            "b1" | "b2" => 0.3,
            "b3" => 0.2,
            _ => 0.5,
        }
    }

    impl Verifier for Scores {
        fn name(&self) -> String {
            "scores".into()
        }

        fn score_many(
            &mut self,
            _: &Problem,
            solutions: &[&[StepText]],
            meter: &mut ComputeMeter,
        ) -> anyhow::Result<Vec<Vec<f32>>> {
            meter.verifier_tokens += solutions.iter().map(|s| s.len() as u64).sum::<u64>();
            Ok(solutions
                .iter()
                .map(|s| s.iter().map(|t| score(&t.text)).collect())
                .collect())
        }
    }

    fn search(
        reviser: &mut Reviser,
        budget: usize,
        chains: usize,
        selection: RevisionSelection,
    ) -> (Outcome, Vec<SearchEvent>) {
        let problem = Problem {
            id: "p".into(),
            question: "q".into(),
            answer: "7".into(),
            level: Some(1),
            subject: String::new(),
        };
        let spec = StrategySpec::Revisions {
            chains,
            selection,
            template: RevisionTemplate::Plain,
            aggregation: Aggregation::Last,
        };
        let mut events = Vec::new();
        let mut sink = |e: &SearchEvent| events.push(e.clone());
        let ctx = SearchContext {
            problem: &problem,
            policy: reviser,
            verifier: &mut Scores,
            budget,
            seed: 0,
            sampling: &SamplingParams::default(),
            delimiter: "\n",
            sink: &mut sink,
            cancel: &CancelToken::new(),
        };
        let out = spec.run(ctx).unwrap_or_else(|e| panic!("{e:#}"));
        (out, events)
    }

    /// Two chains of three attempts. Chain 1 answers 5, 7, 7 (scores 0.9, 0.4, 0.4); chain 2
    /// answers 6, 6, 7 (0.3, 0.3, 0.2).
    fn two_chains() -> Reviser {
        Reviser {
            attempts: vec![
                vec!["s\na1 \\boxed{5}", "t\nb1 \\boxed{6}"],
                vec!["s\na2 \\boxed{7}", "t\nb2 \\boxed{6}"],
                vec!["u\na3 \\boxed{7}", "b3 \\boxed{7}"],
            ],
            seen: Vec::new(),
            context: None,
        }
    }

    #[test]
    fn chains_revise_their_own_attempts_and_the_tree_holds_each_chain_as_a_path() {
        let mut reviser = two_chains();
        let (out, events) = search(&mut reviser, 6, 2, RevisionSelection::Majority);
        // One call per round, one context per chain: nothing before the first attempt, then
        // the chain's own attempts, each followed by a blank line.
        assert_eq!(
            reviser.seen,
            [
                vec!["", ""],
                vec!["s\na1 \\boxed{5}\n\n", "t\nb1 \\boxed{6}\n\n"],
                vec![
                    "s\na1 \\boxed{5}\n\ns\na2 \\boxed{7}\n\n",
                    "t\nb1 \\boxed{6}\n\nt\nb2 \\boxed{6}\n\n"
                ],
            ]
        );
        // Candidates chain by chain; each holds its own steps and tokens only.
        let answers: Vec<&str> = out
            .candidates
            .iter()
            .map(|c| c.answer.as_deref().unwrap())
            .collect();
        assert_eq!(answers, ["5", "7", "7", "6", "6", "7"]);
        let c = &out.candidates[1];
        assert_eq!(
            c.steps.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
            ["s", "a2 \\boxed{7}"]
        );
        assert_eq!(c.tokens, "s\na2 \\boxed{7}".len());
        assert_eq!(c.score, 0.4);
        // Majority: "7" three times against two "6" and one "5"; carried by its first
        // highest-scoring attempt (chain 1's second, 0.4).
        assert_eq!(out.answer.as_deref(), Some("7"));
        assert_eq!(out.chosen, Some(1));
        // The compute: every context character ran as a prompt token; the budget is N.
        let contexts: usize = reviser.seen.iter().flatten().map(String::len).sum();
        assert_eq!(out.compute.prompt_tokens, contexts as u64);
        let written: usize = reviser.attempts.iter().flatten().map(|a| a.len()).sum();
        assert_eq!(out.compute.generated_tokens, written as u64);
        assert_eq!(out.compute.generations, 6);
        // The tree: root -> chain c · attempt 1 -> attempt 2 -> attempt 3, each attempt's
        // steps beneath its node; step nodes scored, attempt nodes not.
        let t = &out.tree;
        let node = |text: &str| t.nodes.iter().position(|n| n.text == text).unwrap();
        let a1 = node("chain 1 · attempt 1");
        let a2 = node("chain 1 · attempt 2");
        let a3 = node("chain 1 · attempt 3");
        assert_eq!(t.nodes[a1].parent, Some(SearchTree::ROOT));
        assert_eq!(t.nodes[a2].parent, Some(a1));
        assert_eq!(t.nodes[a3].parent, Some(a2));
        assert_eq!(t.nodes[node("chain 2 · attempt 1")].parent, Some(0));
        let texts = |id: usize| -> Vec<&str> {
            t.nodes[id]
                .children
                .iter()
                .map(|&c| t.nodes[c].text.as_str())
                .collect()
        };
        assert_eq!(texts(a1), ["s", "chain 1 · attempt 2"]);
        assert_eq!(texts(a3), ["u"]);
        assert!(t.nodes[a1].score.is_none());
        let leaf = out.candidates[0].leaf;
        assert_eq!(t.nodes[leaf].text, "a1 \\boxed{5}");
        assert_eq!(t.nodes[leaf].score, Some(0.9));
        assert!(matches!(t.nodes[leaf].status, NodeStatus::Finished { .. }));
        assert_eq!(t.path(leaf), [0, a1, t.nodes[a1].children[0], leaf]);
        assert_eq!(attempt_of(t, leaf), Some((1, 1)));
        assert_eq!(attempt_of(t, out.candidates[5].leaf), Some((2, 3)));
        assert_eq!(attempt_of(t, SearchTree::ROOT), None);
        // Events arrive as attempts finish, and rebuild the tree.
        let mut mirror = SearchTree::new("");
        events.iter().for_each(|e| mirror.apply(e));
        assert_eq!(&mirror, t);
        let progress: Vec<usize> = events
            .iter()
            .filter_map(|e| match e {
                SearchEvent::Progress { done, .. } => Some(*done),
                _ => None,
            })
            .collect();
        assert_eq!(progress, [0, 2, 4, 6]);
    }

    #[test]
    fn hierarchical_selection_votes_within_chains_then_across_them() {
        // Within chain 1: "5" 0.9 against "7" 0.4 + 0.4 = 0.8: "5". Within chain 2: "6"
        // 0.3 + 0.3 = 0.6 against "7" 0.2: "6", carried by its first attempt. Across: "5" 0.9
        // against "6" 0.3: "5", chain 1's first attempt. Majority says "7", and so would flat
        // weighted best-of-N ("7" 0.4 + 0.4 + 0.2 = 1.0 against "5" 0.9).
        let (out, _) = search(&mut two_chains(), 6, 2, RevisionSelection::Hierarchical);
        assert_eq!(out.answer.as_deref(), Some("5"));
        assert_eq!(out.chosen, Some(0));
        let flat = crate::search::select::choose_weighted(&out.candidates);
        assert_eq!(out.candidates[flat.unwrap()].answer.as_deref(), Some("7"));
    }

    #[test]
    fn a_revision_sees_only_the_four_most_recent_attempts_of_its_chain() {
        let attempts = [
            "a\n\\boxed{1}",
            "b\n\\boxed{2}",
            "c\n\\boxed{3}",
            "d\n\\boxed{4}",
        ];
        let mut reviser = Reviser {
            attempts: (0..6)
                .map(|k| vec![attempts[k % 4], attempts[(k + 1) % 4]])
                .collect(),
            seen: Vec::new(),
            context: None,
        };
        let (out, _) = search(&mut reviser, 12, 2, RevisionSelection::Majority);
        assert_eq!(out.candidates.len(), 12);
        // Chain 1 wrote a, b, c, d, a, b: its sixth attempt sees b, c, d, a.
        assert_eq!(
            reviser.seen[5][0],
            "b\n\\boxed{2}\n\nc\n\\boxed{3}\n\nd\n\\boxed{4}\n\na\n\\boxed{1}\n\n"
        );
        assert_eq!(reviser.seen[4][0].matches("\\boxed").count(), 4);
        assert_eq!(reviser.seen[3][0].matches("\\boxed").count(), 3);
        // A context of 270 tokens leaves the 256 a new attempt may take after one earlier
        // attempt (13 characters) but not after two: every revision sees only the latest.
        let mut tight = Reviser {
            attempts: reviser.attempts.clone(),
            seen: Vec::new(),
            context: Some(270),
        };
        search(&mut tight, 12, 2, RevisionSelection::Majority);
        assert_eq!(tight.seen[5][0], "a\n\\boxed{1}\n\n");
        assert_eq!(tight.seen[1][1], "b\n\\boxed{2}\n\n");
        assert_eq!(tight.seen[0][0], "");
        // A budget the chains do not divide is refused before anything runs.
        let spec = StrategySpec::Revisions {
            chains: 5,
            selection: RevisionSelection::Majority,
            template: RevisionTemplate::Plain,
            aggregation: Aggregation::Last,
        };
        assert!(spec
            .validate(12)
            .unwrap_err()
            .contains("divide the budget 12"));
        assert!(spec.validate(10).is_ok());
    }
}
