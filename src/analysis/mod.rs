//! Analysis of a policy and of runs: the model-card table (greedy, pass@1, majority@k, pass@k
//! per level).

use crate::data::Problem;
use crate::engine::{ComputeMeter, SamplingParams};
use crate::runner::problem_seed;
use crate::search::strategies::{choose_majority, split_steps};
use crate::search::{CancelToken, Cancelled, Candidate, Policy};
use crate::verify::grader;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One level's row of the model-card table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelEval {
    /// Problems.
    pub n: usize,
    /// Accuracy of the greedy (temperature 0) solution.
    pub greedy: f64,
    /// Mean accuracy of one sample at the sampling temperature.
    pub pass_at_1: f64,
    /// Accuracy of the most frequent answer of `k` samples.
    pub majority_at_k: f64,
    /// Fraction of problems with at least one right answer among `k` samples.
    pub pass_at_k: f64,
}

/// The whole table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyEval {
    /// Samples per problem.
    pub k: usize,
    /// Sampling temperature of the samples.
    pub temperature: f64,
    /// Seed.
    pub seed: u64,
    /// Rows by level.
    pub per_level: BTreeMap<u8, LevelEval>,
    /// Compute spent.
    pub compute: ComputeMeter,
}

impl PolicyEval {
    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        let k = self.k;
        let mut s =
            format!("| level | problems | greedy | pass@1 | majority@{k} | pass@{k} |\n|---|---|---|---|---|---|\n");
        for (level, r) in &self.per_level {
            s.push_str(&format!(
                "| {level} | {} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
                r.n, r.greedy, r.pass_at_1, r.majority_at_k, r.pass_at_k
            ));
        }
        s
    }
}

fn candidate(problem: &Problem, text: &str, delimiter: &str) -> Candidate {
    let answer = grader::extract_answer(text);
    let correct = answer
        .as_deref()
        .map(|a| grader::equivalent(&problem.answer, a));
    let steps = split_steps(text, delimiter, &[], 0)
        .into_iter()
        .map(|(text, tokens)| crate::search::Step {
            text,
            score: 0.0,
            tokens,
        })
        .collect();
    Candidate {
        steps,
        answer,
        correct,
        score: 0.0,
        tokens: 0,
        leaf: 0,
    }
}

/// Measures a policy on `problems`: greedy, pass@1, majority@k and pass@k per level.
/// `progress(done, total)` is called after each problem.
pub fn evaluate_policy(
    policy: &mut dyn Policy,
    problems: &[Problem],
    k: usize,
    sampling: &SamplingParams,
    seed: u64,
    cancel: &CancelToken,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<PolicyEval> {
    let mut meter = ComputeMeter::default();
    let mut sums: BTreeMap<u8, [f64; 5]> = BTreeMap::new();
    let greedy = SamplingParams {
        temperature: 0.0,
        ..sampling.clone()
    };
    for (i, p) in problems.iter().enumerate() {
        if cancel.is_cancelled() {
            return Err(Cancelled.into());
        }
        let s = problem_seed(seed, &p.id);
        let g = policy.generate(p, "", 1, &greedy, s, &mut meter)?;
        let samples = policy.generate(p, "", k, sampling, s, &mut meter)?;
        let cands: Vec<Candidate> = samples
            .iter()
            .map(|g| candidate(p, &g.text, &sampling.step_delimiter))
            .collect();
        let right = cands.iter().filter(|c| c.correct == Some(true)).count();
        let greedy_ok = g
            .first()
            .is_some_and(|g| candidate(p, &g.text, &sampling.step_delimiter).correct == Some(true));
        let maj_ok = choose_majority(&cands).is_some_and(|c| cands[c].correct == Some(true));
        let row = sums.entry(p.level.unwrap_or(0)).or_default();
        row[0] += 1.0;
        row[1] += greedy_ok as u8 as f64;
        row[2] += right as f64 / k.max(1) as f64;
        row[3] += maj_ok as u8 as f64;
        row[4] += (right > 0) as u8 as f64;
        progress(i + 1, problems.len());
    }
    let per_level = sums
        .into_iter()
        .map(|(l, r)| {
            let n = r[0];
            (
                l,
                LevelEval {
                    n: n as usize,
                    greedy: r[1] / n,
                    pass_at_1: r[2] / n,
                    majority_at_k: r[3] / n,
                    pass_at_k: r[4] / n,
                },
            )
        })
        .collect();
    Ok(PolicyEval {
        k,
        temperature: sampling.temperature,
        seed,
        per_level,
        compute: meter,
    })
}
