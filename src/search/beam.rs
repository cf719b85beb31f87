//! Beam search and lookahead search against a process verifier (Snell et al. 2024, section
//! 5.2; Hugging Face search-and-learn's `beam_search.py`).
//!
//! **Beam search** with budget N and beam width M (M divides N):
//! 1. Round 1 samples N first steps from the question.
//! 2. Every round scores the new steps. A prefix whose newest step ends the solution (the model
//!    ended the sequence, the step is the `\boxed{...}` answer line, the step is empty, or the
//!    solution reached its token limit) leaves the active set as a finished candidate.
//! 3. The search stops when N candidates have finished or no prefix is active. Otherwise it
//!    keeps the N/M active prefixes with the highest aggregated score (ties: the earlier node),
//!    marks the others pruned in this round, and expands each kept prefix M times (one batched
//!    policy call for the whole round).
//! 4. At `max_rounds` the kept prefixes (the survivors) run to the end of their solutions in
//!    one last call and finish.
//! 5. The round that reaches N finished candidates can finish more than N (every prefix it
//!    expanded may end): as in search-and-learn, the N highest-scoring finished candidates are
//!    kept (ties: the one that finished first), in the order they finished; a leaf that no
//!    kept candidate ends at is marked pruned in that round.
//! 6. The answer is chosen among the finished candidates by weighted best-of-N with the
//!    chosen aggregation.
//!
//! Two samples of one prefix with the same text are one node in the tree, but stay two
//! entries of the beam (as two samples do in search-and-learn without duplicate filtering).
//!
//! **Lookahead search** (`k` steps) is beam search in which every candidate step that does not
//! end its solution is scored at the end of a greedy (temperature 0) rollout of k more steps
//! from it: the verifier reads the rollout's text, and the prefix's value is the aggregation of
//! the scores of its steps and the rollout's. The rollout is not kept as steps, but its tokens
//! count as policy compute; the recorded budget is N x (k + 1) generations. A node's own score
//! in the tree is the verifier's score of its step.

use super::recorder::{ends_solution, gen_steps, sample_steps, Recorder};
use super::select::{choose_weighted, Aggregation};
use super::{Candidate, Env, NodeId, Outcome, SearchContext, SearchTree};
use crate::backend::Until;
use crate::engine::{ComputeMeter, SamplingParams};
use crate::verify::StepText;
use std::collections::{HashMap, HashSet};

/// A new step of a search round.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    /// Its node.
    pub node: NodeId,
    /// Whether it ends its solution.
    pub done: bool,
    /// The aggregated score that ranks it (with lookahead, of its rollout).
    pub value: f32,
}

/// One round of a step-by-step search: continues every frontier entry (node, n) by one step
/// n times in one policy call, adds the continuations to the tree, rolls each new step that
/// does not end its solution `lookahead` steps further where asked, scores them all in one
/// verifier call, and records each node's score. Returns the entries per frontier entry.
#[allow(clippy::too_many_arguments)]
pub(super) fn step_round(
    rec: &mut Recorder<'_>,
    env: &mut Env<'_>,
    frontier: &[(NodeId, usize)],
    round: usize,
    lookahead: usize,
    aggregation: Aggregation,
    meter: &mut ComputeMeter,
) -> anyhow::Result<Vec<Vec<Entry>>> {
    let sampling = env.sampling.clone();
    let gens = rec.expand(env, frontier, round, Until::Step, &sampling, meter)?;
    let mut entries: Vec<Vec<Entry>> = Vec::with_capacity(frontier.len());
    for (&(parent, _), gs) in frontier.iter().zip(&gens) {
        let mut mine = Vec::with_capacity(gs.len());
        for g in gs {
            let steps = sample_steps(g, env.delimiter);
            let node = rec.add_all(parent, &steps, round);
            let done = steps.last().is_some_and(|s| ends_solution(g, s));
            mine.push(Entry {
                node,
                done,
                value: 0.0,
            });
        }
        entries.push(mine);
    }
    // Each distinct node once, in order of first appearance.
    let mut seen = HashSet::new();
    let distinct: Vec<Entry> = entries
        .iter()
        .flatten()
        .filter(|e| seen.insert(e.node))
        .copied()
        .collect();
    let mut rollouts: HashMap<NodeId, Vec<StepText>> = HashMap::new();
    if lookahead > 0 {
        let open: Vec<(NodeId, usize)> = distinct
            .iter()
            .filter(|e| !e.done)
            .map(|e| (e.node, 1))
            .collect();
        if !open.is_empty() {
            let greedy = SamplingParams {
                temperature: 0.0,
                ..env.sampling.clone()
            };
            let outs = rec.expand(env, &open, round, Until::Steps(lookahead), &greedy, meter)?;
            for (&(node, _), out) in open.iter().zip(outs) {
                let steps = out
                    .iter()
                    .flat_map(|g| gen_steps(g, env.delimiter))
                    .map(|s| StepText {
                        text: s.text,
                        logprob: Some(s.logprob),
                    })
                    .collect();
                rollouts.insert(node, steps);
            }
        }
    }
    let asked: Vec<(NodeId, Vec<StepText>)> = distinct
        .iter()
        .map(|e| (e.node, rollouts.remove(&e.node).unwrap_or_default()))
        .collect();
    let scores = rec.score(env, &asked, meter)?;
    let mut value: HashMap<NodeId, f32> = HashMap::new();
    for ((node, _), s) in asked.iter().zip(&scores) {
        let own = rec.path(*node).len();
        if let Some(&x) = own.checked_sub(1).and_then(|i| s.get(i)) {
            rec.set_score(*node, x);
        }
        value.insert(*node, aggregation.apply(s));
    }
    for e in entries.iter_mut().flatten() {
        e.value = value.get(&e.node).copied().unwrap_or(0.0);
    }
    Ok(entries)
}

/// Finishes the candidates whose newest step ended their solution.
pub(super) fn finish_done(rec: &mut Recorder<'_>, entries: &[Entry]) -> Vec<Candidate> {
    entries
        .iter()
        .filter(|e| e.done)
        .map(|e| rec.finish(e.node, e.value))
        .collect()
}

/// Runs `survivors` to the end of their solutions in one call, each as many times as it is
/// paired with, scores them and finishes them.
pub(super) fn finish_survivors(
    rec: &mut Recorder<'_>,
    env: &mut Env<'_>,
    survivors: &[(NodeId, usize)],
    round: usize,
    aggregation: Aggregation,
    meter: &mut ComputeMeter,
) -> anyhow::Result<Vec<Candidate>> {
    if survivors.is_empty() {
        return Ok(Vec::new());
    }
    env.cancel.check()?;
    let frontier: Vec<(NodeId, usize)> = survivors.to_vec();
    let sampling = env.sampling.clone();
    let gens = rec.expand(env, &frontier, round, Until::End, &sampling, meter)?;
    let leaves: Vec<NodeId> = frontier
        .iter()
        .zip(&gens)
        .flat_map(|(&(node, _), gs)| {
            gs.iter()
                .map(|g| rec.add_all(node, &gen_steps(g, env.delimiter), round))
                .collect::<Vec<_>>()
        })
        .collect();
    let asked: Vec<(NodeId, Vec<StepText>)> = leaves.iter().map(|&l| (l, Vec::new())).collect();
    let scores = rec.score(env, &asked, meter)?;
    let mut out = Vec::with_capacity(leaves.len());
    for (&leaf, s) in leaves.iter().zip(&scores) {
        let path = rec.tree.path(leaf);
        for (&node, &x) in path[1..].iter().zip(s) {
            rec.set_score(node, x);
        }
        out.push(rec.finish(leaf, aggregation.apply(s)));
    }
    Ok(out)
}

/// Marks `nodes` pruned in `round`, each once, except those in `keep` (an entry dropped from
/// the beam whose node another kept entry shares stays unpruned).
pub(super) fn prune_except(
    rec: &mut Recorder<'_>,
    nodes: impl IntoIterator<Item = NodeId>,
    keep: &HashSet<NodeId>,
    round: usize,
) {
    let mut pruned = HashSet::new();
    for node in nodes {
        if !keep.contains(&node) && pruned.insert(node) {
            rec.prune(node, round);
        }
    }
}

/// At most `n` of `finished`: the highest-scoring (ties: the one that finished first), in the
/// order they finished. The leaves of those left out are marked pruned in `round`, unless a
/// kept candidate ends at the same node.
pub(super) fn keep_best(
    rec: &mut Recorder<'_>,
    finished: Vec<Candidate>,
    n: usize,
    round: usize,
) -> Vec<Candidate> {
    let keep = keep_mask(rec, &finished, n, round);
    finished
        .into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect()
}

/// Which of `finished` [`keep_best`] keeps (all where there are at most `n`), marking the
/// leaves of the others pruned in `round`.
pub(super) fn keep_mask(
    rec: &mut Recorder<'_>,
    finished: &[Candidate],
    n: usize,
    round: usize,
) -> Vec<bool> {
    if finished.len() <= n {
        return vec![true; finished.len()];
    }
    let mut order: Vec<usize> = (0..finished.len()).collect();
    order.sort_by(|&a, &b| {
        finished[b]
            .score
            .total_cmp(&finished[a].score)
            .then(a.cmp(&b))
    });
    let mut keep = vec![false; finished.len()];
    for &i in &order[..n] {
        keep[i] = true;
    }
    let kept: HashSet<NodeId> = finished
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .map(|(c, _)| c.leaf)
        .collect();
    let dropped: Vec<NodeId> = finished
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| !k)
        .map(|(c, _)| c.leaf)
        .collect();
    prune_except(rec, dropped, &kept, round);
    keep
}

/// A step-by-step search whose budget N is shared out anew every round (REBASE, particle
/// filtering). Round 1 samples N first steps. Every round scores the new steps; each one
/// that ends its solution finishes a candidate and spends one of the N. The distinct active
/// prefixes, ranked (highest value first, ties to the earlier node), then receive
/// `share(values, width, round, seed)` children each, `width` being the N not yet spent; a
/// prefix given none is pruned in that round. Each is continued by one step that many times
/// in one policy call; at `max_rounds` the prefixes given children run to the end instead.
/// The answer is weighted best-of-N over the finished candidates.
pub(super) fn share_out(
    ctx: SearchContext<'_>,
    max_rounds: usize,
    aggregation: Aggregation,
    share: impl Fn(&[f32], usize, usize, u64) -> Vec<usize>,
) -> anyhow::Result<Outcome> {
    let (mut env, sink) = ctx.split();
    let n = env.budget;
    let mut meter = ComputeMeter {
        generations: n as u64,
        ..Default::default()
    };
    let mut rec = Recorder::new(&env.problem.question, env.delimiter, sink);
    rec.progress(0, n);
    let mut frontier: Vec<(NodeId, usize)> = vec![(SearchTree::ROOT, n)];
    let mut finished: Vec<Candidate> = Vec::new();
    for round in 1..=max_rounds {
        env.cancel.check()?;
        let entries: Vec<Entry> = step_round(
            &mut rec,
            &mut env,
            &frontier,
            round,
            0,
            aggregation,
            &mut meter,
        )?
        .into_iter()
        .flatten()
        .collect();
        finished.extend(finish_done(&mut rec, &entries));
        // Each finished candidate spends one of the N.
        let width = n.saturating_sub(finished.len());
        rec.progress(finished.len().min(n), n);
        let mut seen = HashSet::new();
        let active: Vec<Entry> = ranked(&entries)
            .into_iter()
            .filter(|e| !e.done && seen.insert(e.node))
            .collect();
        let values: Vec<f32> = active.iter().map(|e| e.value).collect();
        let shares = share(&values, width, round, env.seed);
        let next: Vec<(NodeId, usize)> = active
            .iter()
            .zip(&shares)
            .filter(|(_, &w)| w > 0)
            .map(|(e, &w)| (e.node, w))
            .collect();
        let kept: HashSet<NodeId> = next.iter().map(|&(node, _)| node).collect();
        prune_except(&mut rec, active.iter().map(|e| e.node), &kept, round);
        if next.is_empty() {
            break;
        }
        if round == max_rounds {
            finished.extend(finish_survivors(
                &mut rec,
                &mut env,
                &next,
                round + 1,
                aggregation,
                &mut meter,
            )?);
            break;
        }
        frontier = next;
    }
    rec.progress(finished.len().min(n), n);
    let chosen = choose_weighted(&finished);
    Ok(rec.outcome(finished, chosen, meter))
}

/// The entries in rank order: highest value first, ties to the earlier node.
pub(super) fn ranked(entries: &[Entry]) -> Vec<Entry> {
    let mut r = entries.to_vec();
    r.sort_by(|a, b| b.value.total_cmp(&a.value).then(a.node.cmp(&b.node)));
    r
}

/// Beam search (`lookahead` 0) or lookahead search; see the [module docs](self).
pub fn run(
    ctx: SearchContext<'_>,
    beam_width: usize,
    max_rounds: usize,
    lookahead: usize,
    aggregation: Aggregation,
) -> anyhow::Result<Outcome> {
    let (mut env, sink) = ctx.split();
    let n = env.budget;
    let keep = (n / beam_width.max(1)).max(1);
    let mut meter = ComputeMeter {
        generations: (n * (lookahead + 1)) as u64,
        ..Default::default()
    };
    let mut rec = Recorder::new(&env.problem.question, env.delimiter, sink);
    rec.progress(0, n);
    let mut frontier: Vec<(NodeId, usize)> = vec![(SearchTree::ROOT, n)];
    let mut finished: Vec<Candidate> = Vec::new();
    // The round the last candidates finished in.
    let mut last = 0;
    for round in 1..=max_rounds {
        last = round;
        env.cancel.check()?;
        let entries: Vec<Entry> = step_round(
            &mut rec,
            &mut env,
            &frontier,
            round,
            lookahead,
            aggregation,
            &mut meter,
        )?
        .into_iter()
        .flatten()
        .collect();
        finished.extend(finish_done(&mut rec, &entries));
        rec.progress(finished.len().min(n), n);
        let active: Vec<Entry> = entries.into_iter().filter(|e| !e.done).collect();
        if finished.len() >= n || active.is_empty() {
            break;
        }
        let order = ranked(&active);
        let kept = &order[..keep.min(order.len())];
        let kept_nodes: HashSet<NodeId> = kept.iter().map(|e| e.node).collect();
        prune_except(
            &mut rec,
            order[kept.len()..].iter().map(|e| e.node),
            &kept_nodes,
            round,
        );
        if round == max_rounds {
            last = round + 1;
            let survivors: Vec<(NodeId, usize)> = kept.iter().map(|e| (e.node, 1)).collect();
            finished.extend(finish_survivors(
                &mut rec,
                &mut env,
                &survivors,
                round + 1,
                aggregation,
                &mut meter,
            )?);
            break;
        }
        frontier = kept.iter().map(|e| (e.node, beam_width)).collect();
    }
    let finished = keep_best(&mut rec, finished, n, last);
    rec.progress(finished.len(), n);
    let chosen = choose_weighted(&finished);
    Ok(rec.outcome(finished, chosen, meter))
}
