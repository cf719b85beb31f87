//! Parallel sampling: majority voting, best-of-N and weighted best-of-N.
//!
//! All three sample N whole solutions from the question in one policy call (sample `i` from
//! stream `i` of the problem's seed), score every step of all of them in one verifier call, and
//! differ only in how they choose ([`super::select`]). Majority reads no scores; its samples
//! are still scored, so the tree shows the verifier's view. Every sample is a candidate, one
//! that wrote nothing too (an empty step, no answer, never chosen): a problem is judged over
//! the N samples its compute paid for.

use super::recorder::{sample_steps, Recorder};
use super::select::{choose_best, choose_majority, choose_weighted, Aggregation};
use super::{Outcome, SearchContext, SearchTree};
use crate::backend::Until;
use crate::engine::ComputeMeter;

/// How the answer is chosen among the N samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// The most frequent answer.
    Majority,
    /// The single best-scoring sample.
    Best,
    /// The answer with the largest sum of scores.
    Weighted,
}

/// Samples N solutions and chooses among them.
pub fn run(
    ctx: SearchContext<'_>,
    choice: Choice,
    aggregation: Aggregation,
) -> anyhow::Result<Outcome> {
    let (mut ctx, sink) = ctx.split();
    let mut meter = ComputeMeter {
        generations: ctx.budget as u64,
        ..Default::default()
    };
    let mut rec = Recorder::new(&ctx.problem.question, ctx.delimiter, sink);
    rec.progress(0, ctx.budget);
    ctx.cancel.check()?;
    let sampling = ctx.sampling.clone();
    let budget = ctx.budget;
    let gens = rec
        .expand(
            &mut ctx,
            &[(SearchTree::ROOT, budget)],
            1,
            Until::End,
            &sampling,
            &mut meter,
        )?
        .pop()
        .unwrap_or_default();
    rec.progress(gens.len(), ctx.budget);
    ctx.cancel.check()?;
    let leaves: Vec<usize> = gens
        .iter()
        .map(|g| rec.add_all(SearchTree::ROOT, &sample_steps(g, ctx.delimiter), 1))
        .collect();
    let scored: Vec<(usize, Vec<_>)> = leaves.iter().map(|&leaf| (leaf, Vec::new())).collect();
    let scores = rec.score(&mut ctx, &scored, &mut meter)?;
    let mut candidates = Vec::with_capacity(leaves.len());
    for (&leaf, s) in leaves.iter().zip(&scores) {
        let path = rec.tree.path(leaf);
        for (&node, &x) in path[1..].iter().zip(s) {
            rec.set_score(node, x);
        }
        candidates.push(rec.finish(leaf, aggregation.apply(s)));
    }
    let chosen = match choice {
        Choice::Majority => choose_majority(&candidates),
        Choice::Best => choose_best(&candidates),
        Choice::Weighted => choose_weighted(&candidates),
    };
    Ok(rec.outcome(candidates, chosen, meter))
}
