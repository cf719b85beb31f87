//! The tree recorder: a strategy adds, scores, prunes or finishes a node in one call, and the
//! change reaches both the tree and the sink as a [`SearchEvent`]. Beside the tree it keeps,
//! per node, what the search needs to continue and score it: the prefix (text and the policy's
//! token ids, so nothing is tokenised again) and the steps of its path with their
//! log-probabilities.
//!
//! It also holds the seams every strategy shares: [`Recorder::expand`] (one batched policy call
//! for many nodes, identical nodes merged so their samples draw distinct streams) and
//! [`Recorder::score`] (one verifier call for many nodes).

use super::{Candidate, Env, NodeId, Outcome, SearchEvent, SearchSink, SearchTree, Step};
use crate::backend::{Extend, Prefix, Until};
use crate::data::step_seed;
use crate::engine::{ComputeMeter, Generation, SamplingParams};
use crate::grade;
use crate::verify::{StepLogprob, StepText};
use std::collections::HashMap;

/// One step cut out of a generation: its text (without the delimiter), its tokens (with the
/// delimiter) and the log-probabilities of its content tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct GenStep {
    /// The step's text, without its delimiter.
    pub text: String,
    /// The policy's tokens of the step, its delimiter included.
    pub ids: Vec<u32>,
    /// Whether a delimiter ended it (else the generation ended inside it).
    pub delimited: bool,
    /// Log-probabilities of the step's tokens, the one that completed the delimiter excluded.
    pub logprob: StepLogprob,
}

/// The steps of a sample ([`gen_steps`]); a sample that wrote none (the model ended the
/// solution at once) gives one empty last step holding its tokens, so that it is a candidate,
/// without an answer, like any other sample rather than lost.
pub fn sample_steps(g: &Generation, delimiter: &str) -> Vec<GenStep> {
    let mut steps = gen_steps(g, delimiter);
    if steps.is_empty() {
        steps.push(GenStep {
            text: String::new(),
            ids: g.tokens.clone(),
            delimited: false,
            logprob: StepLogprob::empty(g.top_logprobs.is_some(), g.uniform_kls.is_some()),
        });
    }
    steps
}

/// Cuts a generation into steps at `delimiter` (with the token counts the engine recorded in
/// [`Generation::step_ends`]). A piece that is only white space joins the step before it; a
/// generation that is nothing but a delimiter gives one empty step (the search treats an empty
/// step as the end of a solution). Text after the last delimiter that has no tokens of its own
/// is dropped.
pub fn gen_steps(g: &Generation, delimiter: &str) -> Vec<GenStep> {
    let pieces: Vec<&str> = if delimiter.is_empty() {
        vec![g.text.as_str()]
    } else {
        g.text.split(delimiter).collect()
    };
    let total = g.tokens.len();
    let mut out: Vec<GenStep> = Vec::new();
    let mut prev = 0;
    for (k, piece) in pieces.iter().enumerate() {
        let delimited = k < g.step_ends.len();
        let end = g
            .step_ends
            .get(k)
            .copied()
            .unwrap_or(total)
            .clamp(prev, total);
        let ids = g.tokens[prev..end].to_vec();
        // The token that completed the delimiter says where the step ends, not what it says.
        let content = if delimited {
            end.saturating_sub(1).max(prev)
        } else {
            end
        };
        let logprob = step_logprob(g, prev..content);
        prev = end;
        if ids.is_empty() && !delimited {
            continue;
        }
        match out.last_mut() {
            Some(last) if piece.trim().is_empty() => {
                last.ids.extend(ids);
                last.delimited |= delimited;
                last.logprob.join(&logprob);
            }
            _ => out.push(GenStep {
                text: piece.to_string(),
                ids,
                delimited,
                logprob,
            }),
        }
    }
    out
}

/// The evidence of tokens `range` of `g`: their log-probabilities, and where the policy
/// reported them (for every one of its tokens), their gaps below the most likely token and
/// their divergences from uniform. Evidence shorter than the tokens counts as not reported.
fn step_logprob(g: &Generation, range: std::ops::Range<usize>) -> StepLogprob {
    let lps = &g.logprobs[range.clone()];
    StepLogprob {
        sum: lps.iter().map(|&x| f64::from(x)).sum(),
        tokens: lps.len(),
        min: lps
            .iter()
            .map(|&x| f64::from(x))
            .reduce(f64::min)
            .unwrap_or(0.0),
        gap_min: evidence_of(&g.top_logprobs, g.tokens.len(), range.clone()).map(|top| {
            lps.iter()
                .zip(top)
                // A top log-probability below the token's own (rounding, a server's
                // quirk) is no gap.
                .map(|(&lp, &top)| f64::from(lp - top).min(0.0))
                .fold(0.0, f64::min)
        }),
        uniform_kl_sum: evidence_of(&g.uniform_kls, g.tokens.len(), range)
            .map(|kl| kl.iter().map(|&x| f64::from(x)).sum()),
    }
}

/// Entries `range` of per-token evidence `v`, where it was reported for all `tokens`.
fn evidence_of(
    v: &Option<Vec<f32>>,
    tokens: usize,
    range: std::ops::Range<usize>,
) -> Option<&[f32]> {
    v.as_deref()
        .filter(|v| v.len() >= tokens)
        .map(|v| &v[range])
}

/// What the recorder keeps per node beside the tree.
#[derive(Debug, Clone, Default)]
struct NodeInfo {
    /// The solution up to and including this node's step and its delimiter.
    prefix: Prefix,
    /// The steps of the path from the root, this node's last.
    path: Vec<StepText>,
    /// Tokens of the path.
    tokens: usize,
}

/// A search tree being built, mirrored to a sink.
pub struct Recorder<'s> {
    /// The tree so far.
    pub tree: SearchTree,
    sink: &'s mut dyn SearchSink,
    info: Vec<NodeInfo>,
    delimiter: String,
}

impl<'s> Recorder<'s> {
    /// A tree holding the question; sends [`SearchEvent::Started`].
    pub fn new(question: &str, delimiter: &str, sink: &'s mut dyn SearchSink) -> Self {
        sink.event(&SearchEvent::Started {
            question: question.to_string(),
        });
        Self {
            tree: SearchTree::new(question),
            sink,
            info: vec![NodeInfo::default()],
            delimiter: delimiter.to_string(),
        }
    }

    fn emit(&mut self, ev: SearchEvent) {
        self.tree.apply(&ev);
        self.sink.event(&ev);
    }

    /// Sends a progress event.
    pub fn progress(&mut self, done: usize, total: usize) {
        self.sink.event(&SearchEvent::Progress { done, total });
    }

    /// Adds `step` under `parent` in `round` (or visits the child with the same text); returns
    /// the node.
    pub fn add(&mut self, parent: NodeId, step: &GenStep, round: usize) -> NodeId {
        let ev = self
            .tree
            .add_step(parent, &step.text, step.ids.len(), round);
        let SearchEvent::NodeAdded { id, new, .. } = ev else {
            return parent;
        };
        self.sink.event(&ev);
        if new {
            let base = &self.info[parent];
            let mut prefix = base.prefix.clone();
            prefix.text.push_str(&step.text);
            if step.delimited {
                prefix.text.push_str(&self.delimiter);
            }
            // Ids follow only where the parent's are known (a context node's text is
            // tokenised by the policy; its continuation's ids alone would be wrong).
            if !prefix.ids.is_empty() || base.prefix.text.is_empty() {
                prefix.ids.extend(&step.ids);
            }
            let mut path = base.path.clone();
            path.push(StepText {
                text: step.text.clone(),
                logprob: Some(step.logprob),
            });
            let tokens = base.tokens + step.ids.len();
            self.info.push(NodeInfo {
                prefix,
                path,
                tokens,
            });
        }
        id
    }

    /// Adds under `parent` a node that starts a new attempt rather than continuing a solution
    /// (sequential revisions): its text is a label (`"chain 2 · attempt 3"`), its prefix is
    /// `context` (the earlier attempts the policy sees, laid out by the strategy), and the path
    /// of the steps beneath it starts empty, so they are scored, counted and finished as a
    /// solution of their own.
    pub fn add_context(
        &mut self,
        parent: NodeId,
        label: &str,
        context: Prefix,
        round: usize,
    ) -> NodeId {
        let ev = self.tree.add_step(parent, label, 0, round);
        let SearchEvent::NodeAdded { id, new, .. } = ev else {
            return parent;
        };
        self.sink.event(&ev);
        if new {
            self.info.push(NodeInfo {
                prefix: context,
                path: Vec::new(),
                tokens: 0,
            });
        }
        id
    }

    /// Adds every step of a continuation of `parent`; returns the last node (`parent` where
    /// the continuation holds no step).
    pub fn add_all(&mut self, parent: NodeId, steps: &[GenStep], round: usize) -> NodeId {
        steps
            .iter()
            .fold(parent, |node, s| self.add(node, s, round))
    }

    /// Records a node's score.
    pub fn set_score(&mut self, id: NodeId, score: f32) {
        self.emit(SearchEvent::NodeScored { id, score });
    }

    /// Records a node's visit count and mean value (MCTS).
    pub fn set_value(&mut self, id: NodeId, visits: usize, q: f32) {
        self.emit(SearchEvent::NodeValued { id, visits, q });
    }

    /// Records the paths selected in `round` (MCTS).
    pub fn selected(&mut self, round: usize, paths: Vec<Vec<NodeId>>) {
        self.emit(SearchEvent::Selected { round, paths });
    }

    /// Marks a node pruned in `round`.
    pub fn prune(&mut self, id: NodeId, round: usize) {
        self.emit(SearchEvent::NodePruned { id, round });
    }

    /// Marks `id` as the end of a solution and returns its candidate, with the answer extracted
    /// from the whole solution and `score` its aggregated score. Correctness is left unknown.
    pub fn finish(&mut self, id: NodeId, score: f32) -> Candidate {
        let text = self.info[id]
            .path
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(&self.delimiter);
        let answer = grade::extract_answer(&text);
        self.emit(SearchEvent::NodeFinished {
            id,
            answer: answer.clone(),
            correct: None,
        });
        // The solution's own steps: below the root, or below the context node it started at.
        let path = self.tree.path(id);
        let own = self.info[id].path.len().min(path.len().saturating_sub(1));
        let steps = path[path.len() - own..]
            .iter()
            .map(|&n| Step {
                text: self.tree.nodes[n].text.clone(),
                score: self.tree.nodes[n].score.unwrap_or(0.0),
                tokens: self.tree.nodes[n].token_count,
            })
            .collect();
        Candidate {
            steps,
            answer,
            correct: None,
            score,
            tokens: self.info[id].tokens,
            leaf: id,
        }
    }

    /// Ends the search: sends the choice among `candidates` (an index into them) and returns
    /// the outcome with the tree and the compute spent.
    pub fn outcome(
        self,
        candidates: Vec<Candidate>,
        chosen: Option<usize>,
        compute: ComputeMeter,
    ) -> Outcome {
        let answer = chosen.and_then(|i| candidates[i].answer.clone());
        self.sink.event(&SearchEvent::Chosen {
            node: chosen.map(|i| candidates[i].leaf),
            answer: answer.clone(),
            correct: None,
        });
        Outcome {
            answer,
            correct: None,
            chosen,
            candidates,
            tree: self.tree,
            compute,
        }
    }

    /// The prefix of a node: what the policy continues.
    pub fn prefix(&self, id: NodeId) -> &Prefix {
        &self.info[id].prefix
    }

    /// The steps of a node's path.
    pub fn path(&self, id: NodeId) -> &[StepText] {
        &self.info[id].path
    }

    /// Tokens of a node's path.
    pub fn path_tokens(&self, id: NodeId) -> usize {
        self.info[id].tokens
    }

    /// Continues each `(node, n)` of `frontier` `n` times in one policy call, `until` a step,
    /// k steps or the end, with `sampling` (its token limit counting the whole solution: a
    /// node's continuations get what its path has left). Entries naming the same node are merged into one request, so their
    /// continuations draw distinct streams of the node's seed ([`step_seed`]); results come
    /// back per entry, in order.
    pub fn expand(
        &self,
        env: &mut Env<'_>,
        frontier: &[(NodeId, usize)],
        round: usize,
        until: Until,
        sampling: &SamplingParams,
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<Generation>>> {
        // Distinct nodes in order of first appearance, with their total count.
        let mut order: Vec<(NodeId, usize)> = Vec::new();
        let mut slot: HashMap<NodeId, usize> = HashMap::new();
        for &(node, n) in frontier {
            match slot.get(&node) {
                Some(&i) => order[i].1 += n,
                None => {
                    slot.insert(node, order.len());
                    order.push((node, n));
                }
            }
        }
        // One call for all of them; the token limit is per solution.
        let requests: Vec<Extend> = order
            .iter()
            .map(|&(node, n)| Extend {
                prefix: self.prefix(node),
                n,
                seed: step_seed(env.seed, round, node),
                max_tokens: Some(
                    sampling
                        .max_tokens
                        .saturating_sub(self.path_tokens(node))
                        .max(1),
                ),
            })
            .collect();
        let merged = env.policy.extend(
            env.problem,
            &requests,
            until,
            env.delimiter,
            sampling,
            meter,
            env.cancel,
        )?;
        // Hand each entry its share, in order.
        let mut taken = vec![0usize; order.len()];
        Ok(frontier
            .iter()
            .map(|&(node, n)| {
                let i = slot[&node];
                let part = merged[i]
                    .get(taken[i]..taken[i] + n)
                    .map(<[Generation]>::to_vec)
                    .unwrap_or_default();
                taken[i] += n;
                part
            })
            .collect())
    }

    /// Scores the paths of `nodes` (each followed by its `extra` steps, for lookahead
    /// rollouts) in one verifier call: per node, one score per step of the path and the extra
    /// steps.
    pub fn score(
        &self,
        env: &mut Env<'_>,
        nodes: &[(NodeId, Vec<StepText>)],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let full: Vec<Vec<StepText>> = nodes
            .iter()
            .map(|(node, extra)| {
                let mut p = self.path(*node).to_vec();
                p.extend(extra.iter().cloned());
                p
            })
            .collect();
        let refs: Vec<&[StepText]> = full.iter().map(Vec::as_slice).collect();
        let scores = env.verifier.score_many(env.problem, &refs, meter)?;
        if scores.len() != refs.len() || scores.iter().zip(&refs).any(|(s, r)| s.len() != r.len()) {
            anyhow::bail!(
                "verifier {} returned scores that do not match the steps it was given",
                env.verifier.name()
            );
        }
        Ok(scores)
    }
}

/// Whether the newest step of a solution ends it: the model ended the sequence, the step is
/// the `\boxed{...}` answer line, the step is empty, or the solution reached its token limit
/// (no delimiter ended the step).
pub fn ends_solution(g: &Generation, step: &GenStep) -> bool {
    g.ended || step.text.trim().is_empty() || step.text.contains("\\boxed") || !step.delimited
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(text: &str, tokens: Vec<u32>, step_ends: Vec<usize>, ended: bool) -> Generation {
        let logprobs = (0..tokens.len()).map(|i| -(i as f32) - 1.0).collect();
        Generation {
            text: text.into(),
            tokens,
            logprobs,
            top_logprobs: None,
            uniform_kls: None,
            ended,
            step_ends,
        }
    }

    #[test]
    fn generations_cut_into_steps_with_their_tokens_and_logprobs() {
        // "ab\n" "c\n" "\n" "d": tokens a b \n c \n \n d.
        let g = gen(
            "ab\nc\n\nd",
            vec![1, 2, 10, 3, 10, 10, 4],
            vec![3, 5, 6],
            true,
        );
        let s = gen_steps(&g, "\n");
        let texts: Vec<&str> = s.iter().map(|x| x.text.as_str()).collect();
        assert_eq!(texts, ["ab", "c", "d"]);
        assert_eq!(s[0].ids, [1, 2, 10]);
        // The empty piece's newline joins "c".
        assert_eq!(s[1].ids, [3, 10, 10]);
        assert_eq!(s[2].ids, [4]);
        assert!(s[0].delimited && s[1].delimited && !s[2].delimited);
        // Step 1's content: tokens 0 and 1 (log-probs -1, -2); its newline excluded.
        let lp = |sum, tokens, min| StepLogprob {
            sum,
            tokens,
            min,
            gap_min: None,
            uniform_kl_sum: None,
        };
        assert_eq!(s[0].logprob, lp(-3.0, 2, -2.0));
        // The empty piece's newline (log-prob -6) is a delimiter, not content.
        assert_eq!(s[1].logprob, lp(-4.0, 1, -4.0));
        assert_eq!(s[2].logprob, lp(-7.0, 1, -7.0));
        // A step cut at the delimiter, and a lone delimiter.
        let one = gen("ab\n", vec![1, 2, 10], vec![3], false);
        assert_eq!(gen_steps(&one, "\n").len(), 1);
        let lone = gen("\n", vec![10], vec![1], false);
        let e = gen_steps(&lone, "\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].text, "");
        assert!(ends_solution(&lone, &e[0]));
        assert!(!ends_solution(&one, &gen_steps(&one, "\n")[0]));
        let boxed = gen("\\boxed{3}\n", vec![1, 10], vec![2], false);
        assert!(ends_solution(&boxed, &gen_steps(&boxed, "\n")[0]));
    }

    #[test]
    fn steps_carry_their_gaps_below_the_argmax_and_their_divergences_from_uniform() {
        // Tokens a b \n c \n \n d with log-probs -1..-7 as above; the most likely tokens' give
        // gaps 0, -1, (-2: a delimiter), -2, (-4, -5: delimiters), -1.
        let mut g = gen(
            "ab\nc\n\nd",
            vec![1, 2, 10, 3, 10, 10, 4],
            vec![3, 5, 6],
            true,
        );
        g.top_logprobs = Some(vec![-1.0, -1.0, -1.0, -2.0, -1.0, -1.0, -6.0]);
        g.uniform_kls = Some(vec![0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let s = gen_steps(&g, "\n");
        let got: Vec<_> = s
            .iter()
            .map(|x| (x.logprob.gap_min, x.logprob.uniform_kl_sum))
            .collect();
        assert_eq!(
            got,
            [
                (Some(-1.0), Some(1.5)),
                (Some(-2.0), Some(3.0)),
                (Some(-1.0), Some(6.0))
            ]
        );
        // A top log-probability below the token's own is no gap (0, not positive).
        g.top_logprobs = Some(vec![-2.0; 7]);
        assert_eq!(gen_steps(&g, "\n")[0].logprob.gap_min, Some(0.0));
        // Evidence the policy did not report, or reported for only some tokens, is `None`.
        g.top_logprobs = Some(vec![-1.0; 3]);
        g.uniform_kls = None;
        for step in gen_steps(&g, "\n") {
            assert_eq!(step.logprob.gap_min, None);
            assert_eq!(step.logprob.uniform_kl_sum, None);
        }
        // A sample that wrote no step keeps what its policy reports.
        let mut empty = gen("", vec![], vec![], true);
        empty.top_logprobs = Some(Vec::new());
        let e = sample_steps(&empty, "\n");
        assert_eq!(e[0].logprob, StepLogprob::empty(true, false));
        assert_eq!(e[0].logprob.gap_min, Some(0.0));
    }

    /// Hand-worked, from a generation to step scores: two steps "ab" and "c" (tokens a b \n c),
    /// log-probs -0.5 -1 (-3) -0.2, the most likely tokens' -0.5 -0.25 (-0.1) -0.2, KL from
    /// uniform 2 4 (9) 3 nats (the delimiter's numbers in brackets are not counted).
    #[test]
    fn a_generation_scores_exactly_under_the_evidence_verifiers() {
        use crate::verify::logprob::{self, LogprobVerifier};
        let g = Generation {
            text: "ab\nc".into(),
            tokens: vec![1, 2, 10, 3],
            logprobs: vec![-0.5, -1.0, -3.0, -0.2],
            top_logprobs: Some(vec![-0.5, -0.25, -0.1, -0.2]),
            uniform_kls: Some(vec![2.0, 4.0, 9.0, 3.0]),
            ended: true,
            step_ends: vec![3],
        };
        let steps: Vec<StepText> = gen_steps(&g, "\n")
            .into_iter()
            .map(|s| StepText {
                text: s.text,
                logprob: Some(s.logprob),
            })
            .collect();
        let close = |got: Vec<f32>, want: [f64; 2]| {
            for (a, b) in got.iter().zip(want) {
                assert!((f64::from(*a) - b).abs() < 1e-6, "{got:?} vs {want:?}");
            }
        };
        // Gaps 0, -0.75 in step 1; 0 in step 2: the running minimum stays exp(-0.75).
        let gap = logprob::scores(LogprobVerifier::ArgmaxGap, &steps).unwrap();
        close(gap, [(-0.75f64).exp(), (-0.75f64).exp()]);
        // Mean KL 3 after step 1, (2 + 4 + 3) / 3 = 3 after step 2: 3 / 4 both times.
        let certainty = logprob::scores(LogprobVerifier::SelfCertainty, &steps).unwrap();
        close(certainty, [0.75, 0.75]);
        // The geometric mean reading of the same generation, for comparison.
        let running = logprob::scores(LogprobVerifier::Running, &steps).unwrap();
        close(running, [(-0.75f64).exp(), (-1.7f64 / 3.0).exp()]);
    }
}
