//! Analysis of a policy and of runs: the model-card table (greedy, pass@1, majority@k, pass@k
//! per level), and how well verifiers judge the same samples (step AUC against the exact
//! labels, best-of-k and weighted best-of-k accuracy); sample banks and their subsampled
//! accuracy curves ([`bank`]), difficulty bins ([`bins`]), compute-optimal selection with
//! cross-validation, the efficiency gain and the FLOPs exchange ([`optimal`]).

pub mod bank;
pub mod bins;
pub mod exchange;
pub mod optimal;
pub mod sweep;

use crate::backend::Policy;
use crate::data::{problem_seed, toy, Problem};
use crate::engine::{ComputeMeter, Generation, SamplingParams};
use crate::grade;
use crate::search::recorder::gen_steps;
use crate::search::select::{choose_best, choose_majority, choose_weighted};
use crate::search::{Aggregation, CancelToken, Cancelled, Candidate};
use crate::verify::{StepText, Verifier};
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
    /// How each verifier judged the same samples.
    #[serde(default)]
    pub verifiers: Vec<VerifierEval>,
    /// Compute spent.
    pub compute: ComputeMeter,
}

/// How one verifier judged the samples of an evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifierEval {
    /// The verifier.
    pub name: String,
    /// How its step scores became a solution's score.
    pub aggregation: String,
    /// Area under the ROC curve of its step scores against the exact step labels (a step is
    /// right when it and every step before it are); `None` where no exact labels exist.
    pub step_auc: Option<f64>,
    /// Steps scored for `step_auc`.
    pub steps: usize,
    /// Within one problem, the probability that a right sample outscores a wrong one (ties
    /// count half), over problems with both: what reranking needs.
    pub within_problem_auc: Option<f64>,
    /// Per level: accuracy of the highest-scored sample (best-of-k) and of the answer with the
    /// largest summed score (weighted best-of-k).
    pub per_level: BTreeMap<u8, (f64, f64)>,
}

/// Area under the ROC curve of `scores` against `labels` (Mann–Whitney, ties count half).
/// `None` when either class is empty.
pub fn auc(pairs: &[(f32, bool)]) -> Option<f64> {
    let pos = pairs.iter().filter(|p| p.1).count();
    let neg = pairs.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut sorted: Vec<(f32, bool)> = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the positives' ranks, tied scores sharing their mean rank.
    let mut rank_sum = 0f64;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].0.total_cmp(&sorted[i].0).is_eq() {
            j += 1;
        }
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += mean_rank * sorted[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    let (pos, neg) = (pos as f64, neg as f64);
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

/// Running sums of one verifier's evaluation.
#[derive(Default)]
struct VerifierTally {
    steps: Vec<(f32, bool)>,
    concordant: f64,
    pairs: f64,
    per_level: BTreeMap<u8, [f64; 3]>,
}

impl PolicyEval {
    /// The verifiers' table as Markdown: step AUC, within-problem AUC, and per level the
    /// weighted best-of-k accuracy (best-of-k in brackets) beside majority@k.
    pub fn verifier_markdown(&self) -> String {
        let k = self.k;
        let levels: Vec<u8> = self.per_level.keys().copied().collect();
        let mut s = String::from("| verifier | step AUC | within-problem AUC |");
        for l in &levels {
            s.push_str(&format!(" L{l} |"));
        }
        s.push_str("\n|---|---|---|");
        s.push_str(&"---|".repeat(levels.len()));
        s.push('\n');
        let fmt = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.3}"));
        s.push_str(&format!("| majority@{k} (no verifier) | – | – |"));
        for l in &levels {
            s.push_str(&format!(" {:.2} |", self.per_level[l].majority_at_k));
        }
        s.push('\n');
        for v in &self.verifiers {
            s.push_str(&format!(
                "| {} ({}) | {} | {} |",
                v.name,
                v.aggregation,
                fmt(v.step_auc),
                fmt(v.within_problem_auc)
            ));
            for l in &levels {
                let (best, weighted) = v.per_level.get(l).copied().unwrap_or_default();
                s.push_str(&format!(" {weighted:.2} ({best:.2}) |"));
            }
            s.push('\n');
        }
        s
    }

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

/// A sample as a graded candidate, with its steps as the verifiers read them.
fn candidate(problem: &Problem, g: &Generation, delimiter: &str) -> (Candidate, Vec<StepText>) {
    let answer = grade::extract_answer(&g.text);
    let correct = answer
        .as_deref()
        .map(|a| grade::equivalent(&problem.answer, a));
    let pieces = gen_steps(g, delimiter);
    let steps = pieces
        .iter()
        .map(|s| crate::search::Step {
            text: s.text.clone(),
            score: 0.0,
            tokens: s.ids.len(),
        })
        .collect();
    let texts = pieces
        .into_iter()
        .map(|s| StepText {
            text: s.text,
            logprob: Some(s.logprob),
        })
        .collect();
    let c = Candidate {
        steps,
        answer,
        correct,
        score: 0.0,
        tokens: g.tokens.len(),
        leaf: 0,
    };
    (c, texts)
}

/// Measures a policy on `problems`: greedy, pass@1, majority@k and pass@k per level; and each
/// of `verifiers` on the same samples (its step scores aggregated by `aggregation`).
/// `progress(done, total)` is called after each problem.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_policy(
    policy: &mut dyn Policy,
    problems: &[Problem],
    k: usize,
    sampling: &SamplingParams,
    delimiter: &str,
    seed: u64,
    verifiers: &mut [Box<dyn Verifier + Send>],
    aggregation: Aggregation,
    cancel: &CancelToken,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<PolicyEval> {
    let mut meter = ComputeMeter::default();
    let mut tallies: Vec<VerifierTally> = verifiers.iter().map(|_| Default::default()).collect();
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
        let (mut cands, texts): (Vec<Candidate>, Vec<Vec<StepText>>) =
            samples.iter().map(|g| candidate(p, g, delimiter)).unzip();
        let right = cands.iter().filter(|c| c.correct == Some(true)).count();
        let greedy_ok = g
            .first()
            .is_some_and(|g| candidate(p, g, delimiter).0.correct == Some(true));
        let maj_ok = choose_majority(&cands).is_some_and(|c| cands[c].correct == Some(true));
        let row = sums.entry(p.level.unwrap_or(0)).or_default();
        row[0] += 1.0;
        row[1] += greedy_ok as u8 as f64;
        row[2] += right as f64 / k.max(1) as f64;
        row[3] += maj_ok as u8 as f64;
        row[4] += (right > 0) as u8 as f64;
        // Exact step labels exist for the toy task only.
        let target: Option<i64> = toy::is_toy(p)
            .then(|| p.answer.trim().parse().ok())
            .flatten();
        for (v, tally) in verifiers.iter_mut().zip(&mut tallies) {
            let refs: Vec<&[StepText]> = texts.iter().map(Vec::as_slice).collect();
            let all = v.score_many(p, &refs, &mut meter)?;
            for (c, scores) in cands.iter_mut().zip(all) {
                let steps: Vec<String> = c.steps.iter().map(|s| s.text.clone()).collect();
                if let Some(t) = target {
                    tally
                        .steps
                        .extend(scores.iter().copied().zip(toy::check_steps(&steps, t)));
                }
                for (step, score) in c.steps.iter_mut().zip(&scores) {
                    step.score = *score;
                }
                c.score = aggregation.apply(&scores);
            }
            for a in cands.iter().filter(|c| c.correct == Some(true)) {
                for b in cands.iter().filter(|c| c.correct != Some(true)) {
                    tally.pairs += 1.0;
                    tally.concordant += match a.score.total_cmp(&b.score) {
                        std::cmp::Ordering::Greater => 1.0,
                        std::cmp::Ordering::Equal => 0.5,
                        std::cmp::Ordering::Less => 0.0,
                    };
                }
            }
            let ok = |c: Option<usize>| c.is_some_and(|c| cands[c].correct == Some(true));
            let row = tally.per_level.entry(p.level.unwrap_or(0)).or_default();
            row[0] += 1.0;
            row[1] += ok(choose_best(&cands)) as u8 as f64;
            row[2] += ok(choose_weighted(&cands)) as u8 as f64;
        }
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
    let verifiers = verifiers
        .iter()
        .zip(tallies)
        .map(|(v, t)| VerifierEval {
            name: v.name(),
            aggregation: aggregation.as_str().to_string(),
            step_auc: auc(&t.steps),
            steps: t.steps.len(),
            within_problem_auc: (t.pairs > 0.0).then(|| t.concordant / t.pairs),
            per_level: t
                .per_level
                .into_iter()
                .map(|(l, r)| (l, (r[1] / r[0], r[2] / r[0])))
                .collect(),
        })
        .collect();
    Ok(PolicyEval {
        k,
        temperature: sampling.temperature,
        seed,
        per_level,
        verifiers,
        compute: meter,
    })
}
