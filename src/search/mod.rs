//! Search: the policy and verifier interfaces, the search tree and its events, cancellation,
//! and the strategies that spend a budget of generations on one problem.

pub mod strategies;
pub mod tree;

pub use strategies::{Aggregation, StrategyKind, StrategySpec};
pub use tree::{Node, NodeId, NodeStatus, SearchEvent, SearchTree};

use crate::data::Problem;
use crate::engine::{ComputeMeter, Generation, SamplingParams};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Samples continuations of partial solutions.
pub trait Policy {
    /// A short name for records and the window.
    fn name(&self) -> String;
    /// Samples `n` continuations of `prefix` (the solution so far, possibly empty) to
    /// `problem`. Continuation `i` depends only on `(seed, i)`, not on how many are drawn.
    fn generate(
        &mut self,
        problem: &Problem,
        prefix: &str,
        n: usize,
        params: &SamplingParams,
        seed: u64,
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Generation>>;
}

/// Scores every step of a partial or full solution.
pub trait Verifier {
    /// A short name for records and the window.
    fn name(&self) -> String;
    /// One score in [0, 1] per step: how likely the solution is still right after that step.
    fn score(
        &mut self,
        problem: &Problem,
        steps: &[String],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<f32>>;
}

/// A flag shared between whoever runs a search and whoever may stop it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Wraps an existing flag (for example the Ctrl-C flag).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Self(flag)
    }
    /// Clears a previous request to stop.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst)
    }
    /// Asks the search to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst)
    }
    /// Whether stopping was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

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
    /// Whether the answer matches the reference.
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
    /// Whether it is right.
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
    /// The problem.
    pub problem: &'a Problem,
    /// Where steps come from.
    pub policy: &'a mut dyn Policy,
    /// What scores them.
    pub verifier: &'a mut dyn Verifier,
    /// Generations to spend (full-solution equivalents).
    pub budget: usize,
    /// Seed of this problem's search.
    pub seed: u64,
    /// How to sample.
    pub sampling: &'a SamplingParams,
    /// Receives events.
    pub sink: &'a mut dyn SearchSink,
    /// Checked between phases; a cancelled search returns an error.
    pub cancel: &'a CancelToken,
}

/// The error a cancelled search returns.
#[derive(Debug, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// A way to spend a budget on one problem.
pub trait Strategy {
    /// Its name as the CLI spells it.
    fn name(&self) -> String;
    /// Searches one problem.
    fn run(&self, ctx: SearchContext<'_>) -> anyhow::Result<Outcome>;
}
