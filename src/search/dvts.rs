//! Diverse verifier tree search (DVTS; Hugging Face search-and-learn): beam search split into
//! independent subtrees, so that one strong early prefix cannot take over the whole budget.
//!
//! With budget N and beam width M (M divides N):
//! 1. Round 1 samples N first steps from the question (the same samples as beam search's
//!    first round); subtree `i` gets samples `i·M .. i·M + M`, so each of the N/M subtrees
//!    starts from its own first steps.
//! 2. Every round scores the new steps of every subtree. In each subtree, steps that end their
//!    solution become finished candidates; of the others, the one with the highest aggregated
//!    score continues (greedy in the verifier; ties to the earlier node) and the rest are
//!    pruned in this round. The continuing prefix is expanded M times next round (one batched
//!    policy call for all subtrees).
//! 3. A subtree stops once it has M finished candidates or no active prefix. A round that
//!    takes a subtree past M finished candidates keeps its M highest-scoring ones (ties: the
//!    one that finished first; search-and-learn keeps N), so the search ends with at most N.
//!    At `max_rounds` each subtree's continuing prefix runs to the end of its solution in one
//!    last call.
//! 4. The answer is chosen among all finished candidates (at most N) by weighted best-of-N
//!    with the chosen aggregation.

use super::beam::{
    finish_done, finish_survivors, keep_mask, prune_except, ranked, step_round, Entry,
};
use super::recorder::Recorder;
use super::select::{choose_weighted, Aggregation};
use super::{Candidate, NodeId, Outcome, SearchContext, SearchTree};
use crate::engine::ComputeMeter;
use std::collections::HashSet;

/// One subtree while it searches.
#[derive(Debug, Clone, Copy)]
struct Subtree {
    /// The prefix it expands next round.
    node: NodeId,
    /// Candidates it has finished.
    finished: usize,
    /// Whether it still searches.
    active: bool,
}

/// DVTS; see the [module docs](self).
pub fn run(
    ctx: SearchContext<'_>,
    beam_width: usize,
    max_rounds: usize,
    aggregation: Aggregation,
) -> anyhow::Result<Outcome> {
    let (mut env, sink) = ctx.split();
    let n = env.budget;
    let m = beam_width.max(1);
    let mut meter = ComputeMeter {
        generations: n as u64,
        ..Default::default()
    };
    let mut rec = Recorder::new(&env.problem.question, env.delimiter, sink);
    rec.progress(0, n);
    let mut subtrees = vec![
        Subtree {
            node: SearchTree::ROOT,
            finished: 0,
            active: true,
        };
        n / m
    ];
    let mut finished: Vec<Candidate> = Vec::new();
    // The subtree each finished candidate came from.
    let mut owner: Vec<usize> = Vec::new();
    for round in 1..=max_rounds {
        env.cancel.check()?;
        // Round 1: one request of N from the root, shared out M per subtree.
        let frontier: Vec<(NodeId, usize)> = if round == 1 {
            vec![(SearchTree::ROOT, n)]
        } else {
            subtrees
                .iter()
                .filter(|t| t.active)
                .map(|t| (t.node, m))
                .collect()
        };
        let per_entry = step_round(
            &mut rec,
            &mut env,
            &frontier,
            round,
            0,
            aggregation,
            &mut meter,
        )?;
        let groups: Vec<Vec<Entry>> = if round == 1 {
            per_entry
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .chunks(m)
                .map(<[Entry]>::to_vec)
                .collect()
        } else {
            per_entry
        };
        let actives: Vec<usize> = (0..subtrees.len())
            .filter(|&i| subtrees[i].active)
            .collect();
        let mut continuing: HashSet<NodeId> = HashSet::new();
        let mut dropped: Vec<NodeId> = Vec::new();
        for (&t, group) in actives.iter().zip(&groups) {
            let done = finish_done(&mut rec, group);
            subtrees[t].finished += done.len();
            owner.extend(std::iter::repeat_n(t, done.len()));
            finished.extend(done);
            if subtrees[t].finished > m {
                // Keep the subtree's M best: every subtree spends at most its share of N.
                let mine: Vec<usize> = (0..finished.len()).filter(|&i| owner[i] == t).collect();
                let theirs: Vec<Candidate> = mine.iter().map(|&i| finished[i].clone()).collect();
                let keep = keep_mask(&mut rec, &theirs, m, round);
                let drop: HashSet<usize> = mine
                    .iter()
                    .zip(keep)
                    .filter_map(|(&i, k)| (!k).then_some(i))
                    .collect();
                let mut i = 0;
                finished.retain(|_| {
                    i += 1;
                    !drop.contains(&(i - 1))
                });
                let mut i = 0;
                owner.retain(|_| {
                    i += 1;
                    !drop.contains(&(i - 1))
                });
                subtrees[t].finished = m;
            }
            let open: Vec<Entry> = group.iter().filter(|e| !e.done).copied().collect();
            let order = ranked(&open);
            match order.first() {
                Some(best) if subtrees[t].finished < m => {
                    subtrees[t].node = best.node;
                    continuing.insert(best.node);
                }
                _ => subtrees[t].active = false,
            }
            let skip = usize::from(subtrees[t].active);
            dropped.extend(order.iter().skip(skip).map(|e| e.node));
        }
        prune_except(&mut rec, dropped, &continuing, round);
        rec.progress(finished.len().min(n), n);
        if subtrees.iter().all(|t| !t.active) {
            break;
        }
        if round == max_rounds {
            let survivors: Vec<(NodeId, usize)> = subtrees
                .iter()
                .filter(|t| t.active)
                .map(|t| (t.node, 1))
                .collect();
            let last = finish_survivors(
                &mut rec,
                &mut env,
                &survivors,
                round + 1,
                aggregation,
                &mut meter,
            )?;
            owner.extend(std::iter::repeat_n(usize::MAX, last.len()));
            finished.extend(last);
        }
    }
    rec.progress(finished.len().min(n), n);
    let chosen = choose_weighted(&finished);
    Ok(rec.outcome(finished, chosen, meter))
}
