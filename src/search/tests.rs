//! The strategies on a scripted policy and verifier: deterministic tables of next steps and
//! step scores, with the trees, prunings, choices and counts worked out by hand.
//!
//! The script (`next` below) continues a prefix with its `i`-th continuation's step
//! `next[i mod len]` (temperature 0 takes `next[0]`); a `\boxed{}` step ends the solution.
//! Every character is a token; the policy counts 2 FLOPs per token, the verifier one token and
//! one FLOP per step it reads.

use super::*;
use crate::backend::{Extend, Until};
use crate::engine::{Cancelled, Generation};
use crate::verify::StepText;

fn next(path: &str) -> &'static [&'static str] {
    match path {
        "" => &["a1", "a2", "a3", "a4"],
        "a1" => &["b1", "b2"],
        "a2" => &["d1"],
        "a3" => &["c1", "\\boxed{5}"],
        "a4" => &["e1"],
        "a1 b1" => &["\\boxed{8}"],
        "a1 b2" => &["\\boxed{7}"],
        "a2 d1" => &["\\boxed{3}"],
        "a3 c1" => &["\\boxed{7}", "\\boxed{9}"],
        "a4 e1" => &["\\boxed{6}"],
        _ => &[],
    }
}

fn score_of(step: &str) -> f32 {
    match step {
        "a1" => 0.9,
        "a2" => 0.2,
        "a3" => 0.8,
        "a4" => 0.1,
        "b1" => 0.6,
        "b2" => 0.7,
        "c1" => 0.3,
        "d1" => 0.95,
        "e1" => 0.05,
        "\\boxed{5}" => 0.3,
        "\\boxed{7}" => 0.8,
        "\\boxed{8}" => 0.2,
        "\\boxed{9}" => 0.95,
        "\\boxed{3}" => 0.5,
        "\\boxed{6}" => 0.1,
        _ => 0.0,
    }
}

/// Follows the script; cancels `cancel_at` (if set) when asked for call number `cancel_on`.
#[derive(Default)]
struct Script {
    calls: usize,
    cancel_on: Option<(usize, CancelToken)>,
}

impl Policy for Script {
    fn name(&self) -> String {
        "script".into()
    }

    fn params(&self) -> Option<u64> {
        None
    }

    fn extend(
        &mut self,
        _: &Problem,
        requests: &[Extend<'_>],
        until: Until,
        delimiter: &str,
        sampling: &SamplingParams,
        meter: &mut ComputeMeter,
        cancel: &CancelToken,
    ) -> anyhow::Result<Vec<Vec<Generation>>> {
        self.calls += 1;
        if let Some((at, token)) = &self.cancel_on {
            if *at == self.calls {
                token.cancel();
            }
        }
        cancel.check()?;
        let steps = match until {
            Until::Step => 1,
            Until::Steps(k) => k,
            Until::End => usize::MAX,
        };
        Ok(requests
            .iter()
            .map(|r| {
                (0..r.n)
                    .map(|i| {
                        let mut path: Vec<String> = r
                            .prefix
                            .text
                            .split(delimiter)
                            .filter(|s| !s.is_empty())
                            .map(String::from)
                            .collect();
                        let mut g = Generation::default();
                        for _ in 0..steps {
                            let options = next(&path.join(" "));
                            if options.is_empty() {
                                g.ended = true;
                                break;
                            }
                            let pick = if sampling.temperature == 0.0 {
                                0
                            } else {
                                i % options.len()
                            };
                            let step = options[pick];
                            g.text.push_str(step);
                            g.tokens.extend(step.bytes().map(u32::from));
                            if step.contains("\\boxed") {
                                g.ended = true;
                                break;
                            }
                            g.text.push_str(delimiter);
                            g.tokens.extend(delimiter.bytes().map(u32::from));
                            g.step_ends.push(g.tokens.len());
                            path.push(step.to_string());
                        }
                        g.logprobs = vec![0.0; g.tokens.len()];
                        meter.generated_tokens += g.tokens.len() as u64;
                        meter.policy_flops += 2.0 * g.tokens.len() as f64;
                        g
                    })
                    .collect()
            })
            .collect())
    }
}

/// Scores each step by its text.
struct Table;

impl Verifier for Table {
    fn name(&self) -> String {
        "table".into()
    }

    fn score_many(
        &mut self,
        _: &Problem,
        solutions: &[&[StepText]],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        Ok(solutions
            .iter()
            .map(|steps| {
                meter.verifier_tokens += steps.len() as u64;
                meter.verifier_flops += steps.len() as f64;
                steps.iter().map(|s| score_of(&s.text)).collect()
            })
            .collect())
    }
}

fn problem() -> Problem {
    Problem {
        id: "p".into(),
        question: "scripted".into(),
        answer: "7".into(),
        level: Some(1),
        subject: String::new(),
    }
}

fn search(spec: StrategySpec, budget: usize, policy: &mut Script) -> (Outcome, Vec<SearchEvent>) {
    let p = problem();
    let mut events = Vec::new();
    let mut sink = |e: &SearchEvent| events.push(e.clone());
    let sampling = SamplingParams::default();
    let cancel = policy
        .cancel_on
        .as_ref()
        .map_or_else(CancelToken::new, |c| c.1.clone());
    let ctx = SearchContext {
        problem: &p,
        policy,
        verifier: &mut Table,
        budget,
        seed: 0,
        sampling: &sampling,
        delimiter: "\n",
        sink: &mut sink,
        cancel: &cancel,
    };
    let out = spec.run(ctx);
    (out.unwrap_or_else(|e| panic!("{e:#}")), events)
}

/// Node texts by id, pruned nodes with their round, finished nodes.
fn shape(t: &SearchTree) -> (Vec<&str>, Vec<(NodeId, usize)>, Vec<NodeId>) {
    let texts = t.nodes.iter().skip(1).map(|n| n.text.as_str()).collect();
    let mut pruned = Vec::new();
    let mut finished = Vec::new();
    for (i, n) in t.nodes.iter().enumerate() {
        match n.status {
            NodeStatus::Pruned { round } => pruned.push((i, round)),
            NodeStatus::Finished { .. } => finished.push(i),
            NodeStatus::Expanded => {}
        }
    }
    (texts, pruned, finished)
}

fn answers(out: &Outcome) -> Vec<&str> {
    out.candidates
        .iter()
        .map(|c| c.answer.as_deref().unwrap_or("-"))
        .collect()
}

fn assert_mirrored(out: &Outcome, events: &[SearchEvent]) {
    let mut mirror = SearchTree::new("");
    events.iter().for_each(|e| mirror.apply(e));
    assert_eq!(mirror, out.tree);
}

#[test]
fn beam_search_keeps_the_best_n_over_m_and_chooses_by_weighted_votes() {
    let spec = StrategyKind::Beam.with(Aggregation::Last, 2, 40, 0);
    let (out, events) = search(spec, 4, &mut Script::default());
    let (texts, pruned, finished) = shape(&out.tree);
    assert_eq!(
        texts,
        [
            "a1",
            "a2",
            "a3",
            "a4",
            "b1",
            "b2",
            "c1",
            "\\boxed{5}",
            "\\boxed{7}",
            "\\boxed{8}"
        ]
    );
    // Round 1 keeps a1 (0.9) and a3 (0.8); round 2 keeps b2 (0.7) and b1 (0.6) over c1.
    assert_eq!(pruned, [(2, 1), (4, 1), (7, 2)]);
    assert_eq!(finished, [8, 9, 10]);
    // Two samples of b2 wrote the same last step: one node visited twice, two candidates.
    assert_eq!(out.tree.nodes[9].visits, 2);
    assert_eq!(out.tree.nodes[9].round, 3);
    // Round 3 finished four (7, 7, 8, 8 at .8, .8, .2, .2) after round 2's 5 (.3): five for a
    // budget of four. The four highest-scoring stay, the tie at .2 to the 8 that finished
    // first; the other 8 ends at the same node, which stays finished.
    assert_eq!(answers(&out), ["5", "7", "7", "8"]);
    assert_eq!(out.answer.as_deref(), Some("7"));
    assert_eq!(out.chosen, Some(1));
    assert_eq!(out.correct, None, "strategies never grade");
    assert_eq!(out.candidates[1].score, 0.8);
    assert_eq!(out.candidates[1].steps.len(), 3);
    assert_eq!(out.candidates[1].tokens, 3 + 3 + 9);
    // Tokens: round 1 "aK\n" x4 = 12; round 2 b1, b2, c1 (3 each) + \boxed{5} (9) = 18;
    // round 3 four answers of 9 = 36.
    assert_eq!(out.compute.generated_tokens, 66);
    assert_eq!(out.compute.policy_flops, 132.0);
    assert_eq!(out.compute.generations, 4);
    // Steps read: 4 first steps; 4 two-step prefixes; 2 distinct three-step solutions.
    assert_eq!(out.compute.verifier_tokens, 4 + 8 + 6);
    assert_eq!(out.compute.verifier_flops, 18.0);
    assert_mirrored(&out, &events);
    assert!(events
        .iter()
        .any(|e| matches!(e, SearchEvent::NodePruned { id: 7, round: 2 })));
}

#[test]
fn beam_search_runs_the_survivors_to_the_end_at_max_rounds() {
    let spec = StrategyKind::Beam.with(Aggregation::Last, 2, 2, 0);
    let (out, _) = search(spec, 4, &mut Script::default());
    let (_, pruned, finished) = shape(&out.tree);
    assert_eq!(pruned, [(2, 1), (4, 1), (7, 2)]);
    // b2 and b1 each run once to the end, in one call, in round 3.
    assert_eq!(finished, [8, 9, 10]);
    assert_eq!(out.tree.nodes[9].visits, 1);
    assert_eq!(answers(&out), ["5", "7", "8"]);
    assert_eq!(out.answer.as_deref(), Some("7"));
    assert_eq!(out.compute.generated_tokens, 12 + 18 + 18);
}

#[test]
fn lookahead_scores_each_step_at_the_end_of_a_greedy_rollout() {
    let spec = StrategyKind::Lookahead.with(Aggregation::Last, 2, 40, 1);
    let (out, events) = search(spec, 4, &mut Script::default());
    let (texts, pruned, finished) = shape(&out.tree);
    // Round 1 rollouts: a1 -> b1 (0.6), a2 -> d1 (0.95), a3 -> c1 (0.3), a4 -> e1 (0.05), so
    // a2 and a1 are kept although a3 scores higher than a2 on its own.
    assert_eq!(
        texts,
        [
            "a1",
            "a2",
            "a3",
            "a4",
            "d1",
            "b1",
            "b2",
            "\\boxed{7}",
            "\\boxed{3}"
        ]
    );
    assert_eq!(pruned, [(3, 1), (4, 1), (6, 2)]);
    assert_eq!(finished, [8, 9]);
    // Nodes keep their own step's score, not the rollout's.
    assert_eq!(out.tree.nodes[2].score, Some(0.2));
    assert_eq!(answers(&out), ["7", "7", "3", "3"]);
    assert_eq!(out.answer.as_deref(), Some("7"));
    assert_eq!(out.chosen, Some(0));
    // Sampled 12 + 12 + 36, rolled out 12 (round 1) + 27 (round 2).
    assert_eq!(out.compute.generated_tokens, 60 + 39);
    assert_eq!(out.compute.generations, 8);
    assert_eq!(out.compute.verifier_tokens, 8 + 9 + 6);
    // No rollout step became a node.
    assert!(out.tree.nodes.iter().all(|n| n.text != "e1"));
    assert_mirrored(&out, &events);
}

#[test]
fn dvts_keeps_the_best_of_each_subtree_so_a_weaker_subtree_survives() {
    let spec = StrategyKind::Dvts.with(Aggregation::Last, 2, 40, 0);
    let (out, events) = search(spec, 4, &mut Script::default());
    let (texts, pruned, finished) = shape(&out.tree);
    assert_eq!(
        texts,
        [
            "a1",
            "a2",
            "a3",
            "a4",
            "b1",
            "b2",
            "c1",
            "\\boxed{5}",
            "\\boxed{7}",
            "\\boxed{7}",
            "\\boxed{9}"
        ]
    );
    // Subtrees {a1, a2} and {a3, a4}: c1 (0.3) continues in the second subtree, where beam
    // search pruned it for b1 (0.6) of the first. Round 3 takes the second subtree to 3
    // finished candidates (\boxed{5} from round 2, then 7 and 9) for its M = 2: it keeps 9
    // (0.95) and 7 (0.8), and \boxed{5} (0.3) is pruned in round 3, so the search ends with
    // N = 4 candidates, not 5.
    assert_eq!(pruned, [(2, 1), (4, 1), (5, 2), (8, 3)]);
    assert_eq!(finished, [9, 10, 11]);
    assert_eq!(answers(&out), ["7", "7", "7", "9"]);
    assert_eq!(out.answer.as_deref(), Some("7"));
    assert_eq!(out.chosen, Some(0));
    assert_eq!(out.compute.generated_tokens, 66);
    assert_eq!(out.compute.generations, 4);
    assert_eq!(out.compute.verifier_tokens, 4 + 8 + 9);
    assert_mirrored(&out, &events);
}

#[test]
fn sampling_strategies_choose_among_whole_samples() {
    // Sample i takes option i mod len at every step: a1 b1 8, a2 d1 3, a3 c1 7, a4 e1 6.
    let (maj, events) = search(StrategySpec::Majority, 4, &mut Script::default());
    assert_eq!(answers(&maj), ["8", "3", "7", "6"]);
    assert_eq!(maj.answer.as_deref(), Some("8"));
    let (w, _) = search(
        StrategyKind::WeightedBestOfN.with(Aggregation::Last, 4, 40, 0),
        4,
        &mut Script::default(),
    );
    // Last-step scores: 8 -> 0.2, 3 -> 0.5, 7 -> 0.8, 6 -> 0.1.
    assert_eq!(w.answer.as_deref(), Some("7"));
    let (min, _) = search(
        StrategyKind::BestOfN.with(Aggregation::Min, 4, 40, 0),
        4,
        &mut Script::default(),
    );
    // Min: a1 b1 8 -> 0.2, a2 d1 3 -> 0.2, a3 c1 7 -> 0.3, a4 e1 6 -> 0.05.
    assert_eq!(min.answer.as_deref(), Some("7"));
    assert_eq!(maj.compute.generations, 4);
    assert!(maj
        .tree
        .nodes
        .iter()
        .all(|n| !matches!(n.status, NodeStatus::Pruned { .. })));
    assert_mirrored(&maj, &events);
    assert!(events
        .iter()
        .any(|e| matches!(e, SearchEvent::Chosen { .. })));
}

/// Sample `i` answers `\boxed{7}` when `i` is even and writes nothing, not a token, when it is
/// odd (a model that ends at once with its end-of-sequence token not kept, or a server's empty
/// completion).
struct HalfSilent;

impl Policy for HalfSilent {
    fn name(&self) -> String {
        "half-silent".into()
    }

    fn params(&self) -> Option<u64> {
        None
    }

    fn extend(
        &mut self,
        _: &Problem,
        requests: &[Extend<'_>],
        _: Until,
        _: &str,
        _: &SamplingParams,
        meter: &mut ComputeMeter,
        _: &CancelToken,
    ) -> anyhow::Result<Vec<Vec<Generation>>> {
        Ok(requests
            .iter()
            .map(|r| {
                (0..r.n)
                    .map(|i| {
                        let text = if i % 2 == 0 { "\\boxed{7}" } else { "" };
                        let tokens: Vec<u32> = text.bytes().map(u32::from).collect();
                        meter.generated_tokens += tokens.len() as u64;
                        Generation {
                            text: text.into(),
                            logprobs: vec![0.0; tokens.len()],
                            top_logprobs: None,
                            uniform_kls: None,
                            tokens,
                            ended: true,
                            ..Default::default()
                        }
                    })
                    .collect()
            })
            .collect())
    }
}

#[test]
fn a_sample_that_wrote_nothing_is_a_candidate_without_an_answer() {
    // Issue 27: such a sample was dropped, so a problem was judged over N - 1 samples while
    // its compute was counted. Four samples: two answer 7 (9 tokens each), two write nothing:
    // four candidates, the silent ones an empty step without an answer, as beam search keeps
    // them.
    let p = problem();
    let sampling = SamplingParams::default();
    let cancel = CancelToken::new();
    for spec in [
        StrategySpec::Majority,
        StrategyKind::BestOfN.with(Aggregation::Last, 4, 40, 0),
        StrategyKind::WeightedBestOfN.with(Aggregation::Min, 4, 40, 0),
    ] {
        let mut events = Vec::new();
        let mut sink = |e: &SearchEvent| events.push(e.clone());
        let ctx = SearchContext {
            problem: &p,
            policy: &mut HalfSilent,
            verifier: &mut Table,
            budget: 4,
            seed: 0,
            sampling: &sampling,
            delimiter: "\n",
            sink: &mut sink,
            cancel: &cancel,
        };
        let out = spec.run(ctx).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(answers(&out), ["7", "-", "7", "-"], "{spec}");
        let silent = &out.candidates[1];
        assert_eq!(silent.steps.len(), 1, "{spec} {silent:?}");
        assert_eq!(
            (silent.steps[0].text.as_str(), silent.tokens, silent.score),
            ("", 0, 0.0),
            "{spec}"
        );
        assert_eq!(out.candidates[0].tokens, 9);
        assert_eq!(out.compute.generated_tokens, 2 * 9);
        // Never chosen: the answer is the one that was written.
        assert_eq!(out.answer.as_deref(), Some("7"), "{spec}");
        assert_eq!(out.chosen, Some(0), "{spec}");
        // The tree: the root, the answer step and the empty step, both finished.
        let (texts, _, finished) = shape(&out.tree);
        assert_eq!(texts, ["\\boxed{7}", ""], "{spec}");
        assert_eq!(finished, [1, 2], "{spec}");
        assert_eq!(out.tree.nodes[2].visits, 2);
        assert_mirrored(&out, &events);
    }
}

#[test]
fn a_cancelled_search_stops_with_cancelled_and_a_consistent_partial_tree() {
    let token = CancelToken::new();
    let mut policy = Script {
        calls: 0,
        cancel_on: Some((2, token.clone())),
    };
    let p = problem();
    let mut events = Vec::new();
    let mut sink = |e: &SearchEvent| events.push(e.clone());
    let sampling = SamplingParams::default();
    let ctx = SearchContext {
        problem: &p,
        policy: &mut policy,
        verifier: &mut Table,
        budget: 4,
        seed: 0,
        sampling: &sampling,
        delimiter: "\n",
        sink: &mut sink,
        cancel: &token,
    };
    let err = StrategyKind::Beam
        .with(Aggregation::Last, 2, 40, 0)
        .run(ctx)
        .unwrap_err();
    assert!(err.is::<Cancelled>(), "{err:#}");
    // Round 1 is whole in the events: four scored nodes, two pruned, nothing half-added.
    let mut mirror = SearchTree::new("");
    events.iter().for_each(|e| mirror.apply(e));
    assert_eq!(mirror.nodes.len(), 5);
    assert!(mirror.nodes[1..].iter().all(|n| n.score.is_some()));
    let pruned = mirror
        .nodes
        .iter()
        .filter(|n| matches!(n.status, NodeStatus::Pruned { round: 1 }))
        .count();
    assert_eq!(pruned, 2);
}

/// The log-prob verifier's evidence, as the search cuts it out of a generation of the toy
/// model, equals the model's teacher-forced log-probabilities of the same tokens (delimiters
/// excluded): the verifier needs no second pass.
#[test]
fn step_logprobs_from_a_generation_equal_the_teacher_forced_ones() {
    use crate::backend::{LocalPolicy, Prefix};
    use crate::engine::{default_policy_dir, CausalLm};
    use crate::search::recorder::gen_steps;
    let p = crate::data::toy::problem("t".into(), 3, "(3+4)*12-5".into(), 79);
    let mut policy = LocalPolicy::load(&default_policy_dir(), &candle_core::Device::Cpu).unwrap();
    let g = policy
        .extend(
            &p,
            &[Extend::new(&Prefix::root(), 1, 5)],
            Until::End,
            "\n",
            &SamplingParams::default(),
            &mut ComputeMeter::default(),
            &CancelToken::new(),
        )
        .unwrap()
        .remove(0)
        .remove(0);
    let steps = gen_steps(&g, "\n");
    assert!(steps.len() >= 3, "{g:?}");
    let mut ids = policy.prompt_ids(&p, "").unwrap();
    let prompt = ids.len();
    ids.extend(&g.tokens);
    let mut lm = CausalLm::load(&default_policy_dir(), &candle_core::Device::Cpu).unwrap();
    let forced = lm
        .token_logprobs(&ids, &mut ComputeMeter::default())
        .unwrap();
    let mut at = prompt;
    for s in &steps {
        let content = s.logprob.tokens;
        // Token at position q is predicted by entry q - 1.
        let want: f64 = (at..at + content).map(|q| f64::from(forced[q - 1])).sum();
        assert!(
            (s.logprob.sum - want).abs() < 1e-3,
            "{}: {} vs {want}",
            s.text,
            s.logprob.sum
        );
        assert!(content + 1 >= s.ids.len() && content <= s.ids.len());
        at += s.ids.len();
    }
}

fn adaptive(batch: usize, confidence: f64) -> StrategySpec {
    StrategyKind::AdaptiveMajority
        .with(Aggregation::Last, 1, 1, 0)
        .with_adaptive(batch, spec::Confidence::new(confidence).unwrap())
}

/// Runs `spec` at `budget` with `policy` and the table verifier.
fn search_with(
    spec: StrategySpec,
    budget: usize,
    policy: &mut dyn Policy,
    cancel: &CancelToken,
) -> (anyhow::Result<Outcome>, Vec<SearchEvent>) {
    let p = problem();
    let mut events = Vec::new();
    let mut sink = |e: &SearchEvent| events.push(e.clone());
    let sampling = SamplingParams::default();
    let ctx = SearchContext {
        problem: &p,
        policy,
        verifier: &mut Table,
        budget,
        seed: 0,
        sampling: &sampling,
        delimiter: "\n",
        sink: &mut sink,
        cancel,
    };
    let out = spec.run(ctx);
    (out, events)
}

#[test]
fn adaptive_majority_stops_once_the_vote_is_settled() {
    // Every round of four samples from HalfSilent answers 7, -, 7, -: two votes for 7 a round
    // and none against. After round 1, P(Beta(3, 1) > 1/2) = 1 - 2^-3 = .875 < .95; after
    // round 2, P(Beta(5, 1) > 1/2) = 1 - 2^-5 = .96875 >= .95: it stops at 8 of 16.
    let cancel = CancelToken::new();
    let (out, events) = search_with(adaptive(4, 0.95), 16, &mut HalfSilent, &cancel);
    let out = out.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(answers(&out), ["7", "-", "7", "-", "7", "-", "7", "-"]);
    assert_eq!(out.answer.as_deref(), Some("7"));
    assert_eq!(out.compute.generations, 8);
    assert_eq!(out.compute.generated_tokens, 4 * 9);
    // Round 1 made both nodes; round 2 visited them again.
    let (texts, _, finished) = shape(&out.tree);
    assert_eq!(texts, ["\\boxed{7}", ""]);
    assert_eq!(finished, [1, 2]);
    assert_eq!((out.tree.nodes[1].visits, out.tree.nodes[1].round), (4, 1));
    assert_mirrored(&out, &events);
    // At .99 it needs six votes: 1 - 2^-7 = .9921875 after round 3, 12 samples.
    let (out, _) = search_with(adaptive(4, 0.99), 16, &mut HalfSilent, &cancel);
    assert_eq!(
        out.unwrap_or_else(|e| panic!("{e:#}")).compute.generations,
        12
    );
    // Batches of 3 (each round's samples 0, 1, 2: 7, -, 7): 2 votes, then 4: 6 samples. A
    // budget of 5 cuts round 2 to two samples (7, -): 3 votes, .9375, and the budget is spent.
    let (out, _) = search_with(adaptive(3, 0.95), 16, &mut HalfSilent, &cancel);
    assert_eq!(
        out.unwrap_or_else(|e| panic!("{e:#}")).compute.generations,
        6
    );
    let (out, _) = search_with(adaptive(3, 0.95), 5, &mut HalfSilent, &cancel);
    let out = out.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(answers(&out), ["7", "-", "7", "7", "-"]);
    assert_eq!(out.compute.generations, 5);
}

#[test]
fn adaptive_majority_spends_the_whole_budget_on_a_split_vote() {
    // The script's samples i = 0..3 answer 8, 3, 7, 6 every round: a four-way split never
    // settles (P = 1/2). Budget 6 in batches of 4: a round of 4, then a round of 2 (8, 3);
    // votes 8: 2, 3: 2, 7: 1, 6: 1; the tie goes to the answer seen first, 8.
    let cancel = CancelToken::new();
    let (out, events) = search_with(adaptive(4, 0.95), 6, &mut Script::default(), &cancel);
    let out = out.unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(answers(&out), ["8", "3", "7", "6", "8", "3"]);
    assert_eq!(out.answer.as_deref(), Some("8"));
    assert_eq!(out.compute.generations, 6);
    // Each sample of the script writes 3 + 3 + 9 tokens: 15 a sample.
    assert_eq!(out.compute.generated_tokens, 6 * 15);
    // It reads no score to choose, but the tree shows the verifier's.
    assert!(out.tree.nodes[1..].iter().all(|n| n.score.is_some()));
    assert!(events
        .iter()
        .any(|e| matches!(e, SearchEvent::Progress { done: 6, total: 6 })));
    assert_mirrored(&out, &events);
}

#[test]
fn a_cancelled_adaptive_majority_keeps_its_finished_rounds() {
    // Cancelled when the policy is asked for round 2: round 1's four samples are whole in the
    // events, nothing of round 2 is.
    let token = CancelToken::new();
    let mut policy = Script {
        calls: 0,
        cancel_on: Some((2, token.clone())),
    };
    let (out, events) = search_with(adaptive(4, 0.95), 16, &mut policy, &token);
    let err = out.unwrap_err();
    assert!(err.is::<Cancelled>(), "{err:#}");
    let mut mirror = SearchTree::new("");
    events.iter().for_each(|e| mirror.apply(e));
    let finished = mirror
        .nodes
        .iter()
        .filter(|n| matches!(n.status, NodeStatus::Finished { .. }))
        .count();
    assert_eq!(finished, 4);
    assert!(mirror.nodes[1..].iter().all(|n| n.score.is_some()));
    assert!(mirror.nodes.iter().all(|n| n.round <= 1));
}

#[test]
fn rebase_shares_the_width_by_a_softmax_of_the_scores() {
    // N = 4, T = .2. Round 1: a1 .9, a2 .2, a3 .8, a4 .1; the width 4 goes 3 to a1
    // (4 e^4.5 / (e^4.5 + e^4 + e^1 + e^.5) = 2.42 -> 3) and 1 to a3 (.93 -> 1); a2 and a4
    // get none and are pruned in round 1.
    // Round 2: a1's three children b1, b2, b1 (b1 .6 twice: one node, one prefix) and a3's c1
    // (.3). Ranked b2 .7, b1 .6, c1 .3: 4 e^3.5 / (e^3.5 + e^3 + e^1.5) = 2.30 -> 3 to b2,
    // .82 -> 1 to b1, none to c1 (pruned in round 2).
    // Round 3: b2's three children all end with \boxed{7} (.8), b1's with \boxed{8} (.2): four
    // finished, the width is spent. Weighted: 7 (2.4) over 8 (.2).
    let spec = StrategyKind::Rebase.with(Aggregation::Last, 1, 40, 0);
    let (out, events) = search(spec, 4, &mut Script::default());
    let (texts, pruned, finished) = shape(&out.tree);
    assert_eq!(
        texts,
        [
            "a1",
            "a2",
            "a3",
            "a4",
            "b1",
            "b2",
            "c1",
            "\\boxed{7}",
            "\\boxed{8}"
        ]
    );
    assert_eq!(pruned, [(2, 1), (4, 1), (7, 2)]);
    assert_eq!(finished, [8, 9]);
    assert_eq!(out.tree.nodes[5].visits, 2, "b1 drawn twice in round 2");
    assert_eq!(
        out.tree.nodes[8].visits, 3,
        "the answer 7 three times in round 3"
    );
    assert_eq!(answers(&out), ["7", "7", "7", "8"]);
    assert_eq!(out.answer.as_deref(), Some("7"));
    assert_eq!(out.chosen, Some(0));
    // Tokens: 4 first steps of 3, 4 second steps of 3, 4 answers of 9.
    assert_eq!(out.compute.generated_tokens, 12 + 12 + 36);
    assert_eq!(out.compute.generations, 4);
    // Steps read: 4 one-step prefixes; b1, b2, c1 (two steps each); two finished solutions of
    // three steps.
    assert_eq!(out.compute.verifier_tokens, 4 + 6 + 6);
    assert_mirrored(&out, &events);
    // A hot softmax (T = 1000) shares round 1 as 2, 1, 1, 0 (see `allocate`): only a4 is
    // pruned in round 1.
    let spec = StrategySpec::Rebase {
        temperature: spec::Temperature::new(1000.0).unwrap(),
        max_rounds: 40,
        aggregation: Aggregation::Last,
    };
    let (out, _) = search(spec, 4, &mut Script::default());
    let (_, pruned, _) = shape(&out.tree);
    let first: Vec<NodeId> = pruned
        .iter()
        .filter(|&&(_, r)| r == 1)
        .map(|&(n, _)| n)
        .collect();
    assert_eq!(first, [4]);
    assert_eq!(out.candidates.len(), 4);
}

#[test]
fn rebase_runs_the_allocated_prefixes_to_the_end_at_max_rounds() {
    // One round: a1 gets 3 and a3 1 (as above); they then run to the end in one call, a1's
    // three samples drawing b1, b2, b1 then their answers (8, 7, 8), a3's c1 then 7.
    let spec = StrategyKind::Rebase.with(Aggregation::Last, 1, 1, 0);
    let (out, events) = search(spec, 4, &mut Script::default());
    assert_eq!(answers(&out), ["8", "7", "8", "7"]);
    // Weighted: 8 (.2 + .2) against 7 (.8 + .8).
    assert_eq!(out.answer.as_deref(), Some("7"));
    assert_eq!(out.candidates.len(), 4);
    assert_mirrored(&out, &events);
}

fn particles(temperature: f64, max_rounds: usize) -> StrategySpec {
    StrategySpec::Particles {
        temperature: spec::ResampleTemperature::new(temperature).unwrap(),
        max_rounds,
        aggregation: Aggregation::Last,
    }
}

#[test]
fn particles_follow_the_heaviest_when_the_resampling_is_cold() {
    // N = 4 at T = .001: softmax(logit / T) puts every slot on the highest score.
    // Round 1: a1 .9 (logit 2.20) takes all four slots; a2, a3, a4 are pruned in round 1.
    // Round 2: a1's four particles write b1, b2, b1, b2; b2 .7 (logit .85) takes all four,
    // b1 .6 is pruned in round 2. Round 3: four \boxed{7}, all finished.
    let (out, events) = search(particles(0.001, 40), 4, &mut Script::default());
    let (texts, pruned, finished) = shape(&out.tree);
    assert_eq!(texts, ["a1", "a2", "a3", "a4", "b1", "b2", "\\boxed{7}"]);
    assert_eq!(pruned, [(2, 1), (3, 1), (4, 1), (5, 2)]);
    assert_eq!(finished, [7]);
    // b2 was resampled four times: one node, four particles, four children next round.
    assert_eq!(out.tree.nodes[7].visits, 4);
    assert_eq!(answers(&out), ["7", "7", "7", "7"]);
    assert_eq!(out.answer.as_deref(), Some("7"));
    assert_eq!(out.compute.generated_tokens, 12 + 12 + 36);
    // Steps read: 4 first steps; b1, b2 (two steps each); one distinct three-step solution.
    assert_eq!(out.compute.verifier_tokens, 4 + 4 + 3);
    assert_mirrored(&out, &events);
}

#[test]
fn particles_resample_reproducibly_and_finish_n_particles() {
    // At T = 1 the draws are random but seeded by the problem and round: two runs agree, and
    // every slot ends as a finished particle, N in all; at max rounds 1 the resampled
    // particles run to the end.
    let (a, _) = search(particles(1.0, 40), 8, &mut Script::default());
    let (b, _) = search(particles(1.0, 40), 8, &mut Script::default());
    assert_eq!(a.tree, b.tree);
    assert_eq!(a.candidates.len(), 8);
    let (c, events) = search(particles(1.0, 1), 8, &mut Script::default());
    assert_eq!(c.candidates.len(), 8);
    assert!(c.candidates.iter().all(|c| c.answer.is_some()));
    assert_mirrored(&c, &events);
}

fn mcts(params: mcts::MctsParams, max_rounds: usize) -> StrategySpec {
    StrategyKind::Mcts
        .with(Aggregation::Last, 1, max_rounds, 0)
        .with_mcts(params)
}

/// Each node's (visits, Q) as the tree holds them.
fn values(t: &SearchTree) -> Vec<(usize, Option<f32>)> {
    t.nodes.iter().map(|n| (n.visits, n.q)).collect()
}

fn selections(events: &[SearchEvent]) -> Vec<Vec<Vec<NodeId>>> {
    events
        .iter()
        .filter_map(|e| match e {
            SearchEvent::Selected { paths, .. } => Some(paths.clone()),
            _ => None,
        })
        .collect()
}

fn close(a: Option<f32>, b: f32) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-5)
}

#[test]
fn mcts_selects_by_puct_expands_scores_and_backs_up_the_step_values() {
    // One selection a round, W = 4, N = 4. The script's steps all have log-prob 0, so the
    // priors are even: 1/4 under the root, 1/2 under a1.
    let params = mcts::MctsParams {
        selections_per_round: 1,
        ..Default::default()
    };
    let (out, events) = search(mcts(params, 40), 4, &mut Script::default());
    // Round 1 expands the root: a1 .9, a2 .2, a3 .8, a4 .1 (root N = 4, sum 2).
    // Round 2, N_p = 4: every child has N = 1, so the exploration terms are equal and a1 (.9)
    // goes: b1, b2, b1, b2 (.6, .7, .6, .7).
    // Round 3, N_p = 8, E = (ln(19661/19652) + 1.25) x 1/4 x sqrt 8 = .8843: a1 (N 5, Q .7)
    // .7 + E/6 = .847; a2 .2 + E/2 = .642; a3 .8 + E/2 = 1.242; a4 .542: a3 goes: c1,
    // \boxed{5}, c1, \boxed{5} (.3 each); the two 5s finish.
    // Round 4, N_p = 12, E = 1.0831: a1 (N 5, Q .7) .881; a2 .742; a3 (N 5, Q .4) .581; a4
    // .642: a1, then under it (N_p = 5, E = 1.250305 x 1/2 x sqrt 5 = 1.3979) b1 .6 + E/3 =
    // 1.066 and b2 .7 + E/3 = 1.166: b2 goes and writes \boxed{7} four times (.8): six
    // finished, four kept.
    assert_eq!(
        selections(&events),
        [
            vec![vec![0]],
            vec![vec![0, 1]],
            vec![vec![0, 3]],
            vec![vec![0, 1, 6]]
        ]
    );
    let (texts, pruned, finished) = shape(&out.tree);
    assert_eq!(
        texts,
        [
            "a1",
            "a2",
            "a3",
            "a4",
            "b1",
            "b2",
            "c1",
            "\\boxed{5}",
            "\\boxed{7}"
        ]
    );
    // The four 7s (.8) are kept over the two 5s (.3), whose leaf is pruned in round 4.
    assert_eq!(pruned, [(8, 4)]);
    assert_eq!(finished, [9]);
    assert_eq!(answers(&out), ["7", "7", "7", "7"]);
    assert_eq!(out.answer.as_deref(), Some("7"));
    // Visits and Q: the root saw 16 simulations worth 2 + 2.6 + 1.2 + 3.2 = 9.
    let v = values(&out.tree);
    assert_eq!(v[0].0, 16);
    assert!(close(v[0].1, 9.0 / 16.0), "{v:?}");
    // a1: .9 + 2.6 + 3.2 over 9; a2 and a4 once; a3: .8 + 1.2 over 5.
    assert_eq!(v[1].0, 9);
    assert!(close(v[1].1, 6.7 / 9.0));
    assert_eq!(v[2].0, 1);
    assert!(close(v[2].1, 0.2));
    assert_eq!(v[3].0, 5);
    assert!(close(v[3].1, 0.4));
    // b1 twice at .6; b2 twice at .7 then four 7s at .8; c1 and the 5 twice at .3; the 7 four
    // times at .8.
    assert_eq!(v[5].0, 2);
    assert!(close(v[5].1, 0.6));
    assert_eq!(v[6].0, 6);
    assert!(close(v[6].1, 4.6 / 6.0));
    assert_eq!((v[7].0, v[8].0, v[9].0), (2, 2, 4));
    assert!(close(v[9].1, 0.8));
    // Tokens: 12, 12, 6 + 18, 36. The verifier read 4 one-step, 2 + 2 two-step and 1
    // three-step paths.
    assert_eq!(out.compute.generated_tokens, 84);
    assert_eq!(out.compute.verifier_tokens, 4 + 4 + 4 + 3);
    assert_eq!(out.compute.generations, 4);
    assert_mirrored(&out, &events);
    // The tree view's selection: the latest round's path.
    assert_eq!(out.tree.selected, [vec![0, 1, 6]]);
}

#[test]
fn mcts_spreads_a_rounds_selections_with_a_virtual_loss() {
    // P = 4 selections a round. Round 1: the root is the only leaf (selected once).
    // Round 2: a1 (.9 + E/2); then, a virtual loss on a1 (N 2, Q .45), a3; then a1 and a3
    // again, which are not selected twice. Round 3 (root N 12, sum 5.8): a1 -> b2 as before;
    // then with a1 at N 6 (Q .583 + 1.1274/7 = .744) a2 (.2 + 1.1274/2 = .764) leads; then a1
    // (.750), under which b2 carries a loss (N 3, Q .467 + 1.5314/4 = .850) and b1 (.6 +
    // 1.5314/3 = 1.110) goes; then a1 at N 7 (.651) yields to a4 (.1 + 1.2111/2 = .706).
    let (out, events) = search(mcts(Default::default(), 40), 4, &mut Script::default());
    assert_eq!(
        selections(&events),
        [
            vec![vec![0]],
            vec![vec![0, 1], vec![0, 3]],
            vec![vec![0, 1, 6], vec![0, 2], vec![0, 1, 5], vec![0, 4]]
        ]
    );
    // Round 3 finishes four 7s and four 8s after round 2's two 5s: the four 7s are kept.
    assert_eq!(answers(&out), ["7", "7", "7", "7"]);
    // Tokens: 12; 12 + 24; 36 (b2's 7s) + 12 (d1) + 36 (b1's 8s) + 12 (e1).
    assert_eq!(out.compute.generated_tokens, 12 + 36 + 96);
    // The losses are taken back: visits count only simulations, the root's 4 + 8 + 16.
    assert_eq!(out.tree.nodes[0].visits, 28);
    assert_mirrored(&out, &events);
}

#[test]
fn mcts_with_rollouts_keeps_each_simulation_as_a_candidate_and_backs_up_its_value() {
    // UCT (c = 2), W = 2, one selection a round, rollouts to the end. Round 1: the root's two
    // rollouts a1 b1 \boxed{8} (last .2) and a2 d1 \boxed{3} (.5): a1 and a2 are the
    // children, with Q .2 and .5. Round 2, N_p = 2: both explore by 2 sqrt(ln 2) = 1.665, so a2
    // (.5) goes: two rollouts d1 \boxed{3} (.5): four candidates.
    let params = mcts::MctsParams {
        tree_rule: mcts::TreeRule::Uct,
        value: mcts::MctsValue::Rollout,
        expansion_width: 2,
        selections_per_round: 1,
        ..Default::default()
    };
    let (out, events) = search(mcts(params, 40), 4, &mut Script::default());
    assert_eq!(selections(&events), [vec![vec![0]], vec![vec![0, 4]]]);
    let (texts, _, finished) = shape(&out.tree);
    assert_eq!(texts, ["a1", "b1", "\\boxed{8}", "a2", "d1", "\\boxed{3}"]);
    assert_eq!(finished, [3, 6]);
    assert_eq!(answers(&out), ["8", "3", "3", "3"]);
    // Every node of a rollout is scored: b1 .6, d1 .95.
    assert_eq!(out.tree.nodes[2].score, Some(0.6));
    assert_eq!(out.tree.nodes[5].score, Some(0.95));
    let v = values(&out.tree);
    // Root: .2 + .5 + .5 + .5 over 4; a2: .5 three times; d1 (round 2's child) twice; a1 once.
    assert_eq!(v[0].0, 4);
    assert!(close(v[0].1, 1.7 / 4.0));
    assert_eq!(v[4].0, 3);
    assert!(close(v[4].1, 0.5));
    assert_eq!(v[5].0, 2);
    assert_eq!(v[1].0, 1);
    assert!(close(v[1].1, 0.2));
    // b1 is a rollout's step, not a node of the search: no Q.
    assert_eq!(v[2].1, None);
    // Weighted vote: 3 (1.5) over 8 (.2).
    assert_eq!(out.answer.as_deref(), Some("3"));
    // Tokens: two rollouts of 15, then two of 12.
    assert_eq!(out.compute.generated_tokens, 30 + 24);
    assert_eq!(out.compute.verifier_tokens, 3 + 3 + 3);
    assert_mirrored(&out, &events);
}

#[test]
fn mcts_runs_the_last_rounds_leaves_to_the_end_and_chooses_by_its_rule() {
    // Round cap 2, one selection a round: round 2 continues a1 to the end four times (b1 8,
    // b2 7, b1 8, b2 7); with the step value, b1 and b2 back up their own .6 and .7.
    let params = mcts::MctsParams {
        selections_per_round: 1,
        ..Default::default()
    };
    let (out, events) = search(mcts(params, 2), 4, &mut Script::default());
    assert_eq!(selections(&events).len(), 2);
    assert_eq!(answers(&out), ["8", "7", "8", "7"]);
    assert_eq!(out.answer.as_deref(), Some("7"));
    let b1 = out.tree.nodes.iter().position(|n| n.text == "b1").unwrap();
    assert_eq!(out.tree.nodes[b1].visits, 2);
    assert!(close(out.tree.nodes[b1].q, 0.6));
    // max-value picks the best-scoring candidate; max-visits walks a1 (N 5) then the more
    // visited of b1 and b2 (2 each; b2 has the higher Q) to its candidate.
    for (select, want) in [
        (mcts::MctsSelect::MaxValue, 1),
        (mcts::MctsSelect::MaxVisits, 1),
    ] {
        let p = mcts::MctsParams { select, ..params };
        let (out, _) = search(mcts(p, 2), 4, &mut Script::default());
        assert_eq!(out.chosen, Some(want), "{select}");
    }
    // The expansion width and the selections must be at least 1.
    let zero = mcts::MctsParams {
        expansion_width: 0,
        ..params
    };
    assert!(mcts(zero, 2).validate(4).is_err());
}

#[test]
fn a_cancelled_mcts_keeps_its_finished_rounds() {
    let token = CancelToken::new();
    let mut policy = Script {
        calls: 0,
        cancel_on: Some((2, token.clone())),
    };
    let (out, events) = search_with(mcts(Default::default(), 40), 4, &mut policy, &token);
    assert!(out.unwrap_err().is::<Cancelled>());
    // Round 1 is whole: four scored children with their visits and Q, the root at N = 4.
    let mut mirror = SearchTree::new("");
    events.iter().for_each(|e| mirror.apply(e));
    assert_eq!(mirror.nodes.len(), 5);
    assert!(mirror.nodes[1..]
        .iter()
        .all(|n| n.score.is_some() && n.q.is_some()));
    assert_eq!(mirror.nodes[0].visits, 4);
}

#[test]
fn mcts_stops_when_every_path_of_its_tree_has_ended() {
    // Budget 64 is more than the script's tree holds: once every expanded node's children
    // have all ended their solutions, the root is closed and the search stops, short of N
    // and of its round cap, having expanded every node of the script once.
    let (out, events) = search(mcts(Default::default(), 40), 64, &mut Script::default());
    let rounds = selections(&events).len();
    assert!(rounds < 40, "{rounds}");
    // Every step the script can write is in the tree, and every open node was expanded.
    let (texts, _, _) = shape(&out.tree);
    for t in [
        "b1",
        "b2",
        "c1",
        "d1",
        "e1",
        "\\boxed{3}",
        "\\boxed{6}",
        "\\boxed{9}",
    ] {
        assert!(texts.contains(&t), "{t} missing from {texts:?}");
    }
    for (i, n) in out.tree.nodes.iter().enumerate() {
        let ended = matches!(
            n.status,
            NodeStatus::Finished { .. } | NodeStatus::Pruned { .. }
        );
        assert!(ended || !n.children.is_empty(), "node {i} {n:?} left open");
    }
    assert!(out.candidates.len() < 64);
    assert!(out.answer.is_some());
}
