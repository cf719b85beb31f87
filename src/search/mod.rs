//! Search: the strategies that spend a budget of generations on one problem, the choice
//! functions, the search tree and its events.
//!
//! A strategy talks to the policy through [`Policy::extend`] (many prefixes continued in one
//! batched call) and to the verifier through [`Verifier::score_many`] (many partial solutions
//! scored in one call), and records what it does in a [`SearchTree`] through a
//! [`recorder::Recorder`], whose every change is also a [`SearchEvent`] sent to the sink. A
//! strategy never sees the reference answer: the runner grades what it chose.
//!
//! One file per strategy: [`best_of_n`] (majority, best-of-N, weighted best-of-N), [`beam`]
//! (beam search, and lookahead search as beam search with rollouts), [`dvts`],
//! [`revisions`] (sequential revisions in parallel chains), [`adaptive`] (adaptive
//! self-consistency: majority voting that stops once the vote is settled), [`rebase`]
//! (reward-balanced search: the width shared by a softmax of the scores) and [`particles`]
//! (particle filtering: particles resampled by their scores every step) and [`mcts`] (Monte
//! Carlo tree search: selection by PUCT or UCT, expansion, a step or rollout value backed up
//! the path). Their
//! parameters are the variants of [`StrategySpec`].

pub mod adaptive;
pub mod beam;
pub mod best_of_n;
pub mod dvts;
pub mod mcts;
pub mod particles;
pub mod rebase;
pub mod recorder;
pub mod revisions;
pub mod select;
pub mod spec;
pub mod tree;

#[cfg(test)]
mod tests;

pub use crate::engine::{CancelToken, Cancelled};
pub use select::Aggregation;
pub use spec::{StrategyKind, StrategySpec};
pub use tree::{Node, NodeId, NodeStatus, SearchEvent, SearchTree};

use crate::backend::Policy;
use crate::data::Problem;
use crate::engine::{ComputeMeter, SamplingParams};
use crate::verify::Verifier;
use serde::{Deserialize, Serialize};

/// Receives a search's events.
pub trait SearchSink {
    /// Called for every event, in order.
    fn event(&mut self, event: &SearchEvent);
}

impl<F: FnMut(&SearchEvent)> SearchSink for F {
    fn event(&mut self, event: &SearchEvent) {
        self(event)
    }
}

/// One step of a candidate solution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The step's text, without its delimiter.
    pub text: String,
    /// The verifier's score after this step.
    pub score: f32,
    /// Tokens generated for it.
    pub tokens: usize,
}

/// A full solution the search produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Its steps.
    pub steps: Vec<Step>,
    /// The extracted final answer.
    pub answer: Option<String>,
    /// Whether the answer matches the reference (set by the runner, which knows it).
    pub correct: Option<bool>,
    /// The step scores aggregated into one (see [`Aggregation`]).
    pub score: f32,
    /// Tokens generated for it.
    pub tokens: usize,
    /// Its last node in the tree.
    pub leaf: NodeId,
}

/// What a search produced for one problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The chosen answer.
    pub answer: Option<String>,
    /// Whether it is right (set by the runner).
    pub correct: Option<bool>,
    /// Index of a candidate that carries the chosen answer.
    pub chosen: Option<usize>,
    /// Every finished candidate.
    pub candidates: Vec<Candidate>,
    /// The search tree.
    pub tree: SearchTree,
    /// Compute spent.
    pub compute: ComputeMeter,
}

/// Everything a strategy needs to search one problem.
pub struct SearchContext<'a> {
    /// The problem (a strategy reads its question, never its answer).
    pub problem: &'a Problem,
    /// Where steps come from.
    pub policy: &'a mut dyn Policy,
    /// What scores them.
    pub verifier: &'a mut dyn Verifier,
    /// Generations to spend (full-solution equivalents): N.
    pub budget: usize,
    /// Seed of this problem's search.
    pub seed: u64,
    /// How to sample.
    pub sampling: &'a SamplingParams,
    /// The text that ends a step.
    pub delimiter: &'a str,
    /// Receives events.
    pub sink: &'a mut dyn SearchSink,
    /// Checked between rounds and, by the engine, between forward passes; a cancelled search
    /// returns [`Cancelled`].
    pub cancel: &'a CancelToken,
}

/// A [`SearchContext`] without its sink: what a strategy works with once the sink is handed to
/// its [`recorder::Recorder`].
pub struct Env<'a> {
    /// The problem (a strategy reads its question, never its answer).
    pub problem: &'a Problem,
    /// Where steps come from.
    pub policy: &'a mut dyn Policy,
    /// What scores them.
    pub verifier: &'a mut dyn Verifier,
    /// Generations to spend: N.
    pub budget: usize,
    /// Seed of this problem's search.
    pub seed: u64,
    /// How to sample.
    pub sampling: &'a SamplingParams,
    /// The text that ends a step.
    pub delimiter: &'a str,
    /// Checked between rounds and between forward passes.
    pub cancel: &'a CancelToken,
}

impl<'a> SearchContext<'a> {
    /// Separates the sink from the rest.
    pub fn split(self) -> (Env<'a>, &'a mut dyn SearchSink) {
        (
            Env {
                problem: self.problem,
                policy: self.policy,
                verifier: self.verifier,
                budget: self.budget,
                seed: self.seed,
                sampling: self.sampling,
                delimiter: self.delimiter,
                cancel: self.cancel,
            },
            self.sink,
        )
    }
}

/// The largest budget N thinkscale runs: 65,536 generations per problem, 256 times the
/// paper's largest (256) and above the 10,000 samples of the largest repeated-sampling
/// studies. A strategy holds per-generation buffers (prefixes, candidates, tree nodes) for
/// the whole budget, so a budget far beyond this would ask for more memory than a machine has
/// and abort the process (`--budget 1000000000` asked for 16 GB at once); it is refused first,
/// by the CLI's flags, by [`crate::runner::RunConfig::validate`] (sweeps, the window) and when
/// the window's settings are read.
pub const MAX_BUDGET: usize = 65_536;

/// Checks a budget (or a sample count that is one): at least 1 and at most [`MAX_BUDGET`].
/// The error says why, for a message that names the flag or field around it.
pub fn check_budget(budget: usize) -> Result<usize, String> {
    match budget {
        0 => Err("a budget must be at least 1".into()),
        n if n > MAX_BUDGET => Err(format!(
            "{n} is over the largest budget thinkscale runs, {MAX_BUDGET} generations per \
             problem (its buffers would not fit in memory)"
        )),
        n => Ok(n),
    }
}

/// A way to spend a budget on one problem.
pub trait Strategy {
    /// Its name as the CLI spells it.
    fn name(&self) -> String;
    /// Searches one problem.
    fn run(&self, ctx: SearchContext<'_>) -> anyhow::Result<Outcome>;
}
