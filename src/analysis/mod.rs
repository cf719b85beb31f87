//! Analysis of a policy and of runs: the model-card table (greedy, pass@1, majority@k, pass@k
//! per level), and how well verifiers judge the same samples (step AUC against the exact
//! labels, best-of-k and weighted best-of-k accuracy); sample banks and their subsampled
//! accuracy curves ([`bank`]), difficulty bins ([`bins`]), compute-optimal selection with
//! cross-validation, the efficiency gain and the FLOPs exchange ([`optimal`]).

pub mod bank;
pub mod bins;
pub mod exchange;
pub mod optimal;
pub mod rescore;
pub mod reselect;
pub mod sweep;
#[cfg(test)]
mod tests;
pub mod zoo;

use crate::data::{toy, DatasetSpec};
use crate::engine::ComputeMeter;
use crate::runner::sweep::{SweepConfig, SweepRecord, SweepRun};
use crate::search::select::{choose_best, choose_majority, choose_weighted};
use crate::search::Candidate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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

/// Among `scored` samples of one problem, pairs of a right and a wrong one, and how many of
/// them the right one outscores (ties count half): (concordant, pairs).
pub fn concordance(scored: &[(f32, bool)]) -> (f64, f64) {
    let (mut concordant, mut pairs) = (0f64, 0f64);
    for (a, _) in scored.iter().filter(|s| s.1) {
        for (b, _) in scored.iter().filter(|s| !s.1) {
            pairs += 1.0;
            concordant += match a.total_cmp(b) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            };
        }
    }
    (concordant, pairs)
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

/// The model-card table and the verifier tables of an evaluation sweep (`thinkscale
/// evaluate`): greedy accuracy from the policy's greedy run, pass@1, majority@k and pass@k
/// from the first seed's bank of k samples, and for each judge its step scores of the very
/// same samples: step AUC against the exact step labels (toy task only), within-problem AUC,
/// best-of-k and weighted best-of-k per level (step scores aggregated by the sweep's
/// aggregation).
pub fn evaluation(cfg: &SweepConfig, records: &[SweepRecord]) -> PolicyEval {
    let seed = cfg.seeds.first().copied().unwrap_or(0);
    let greedy: HashMap<&str, bool> = records
        .iter()
        .filter(|r| r.run == SweepRun::Greedy)
        .map(|r| (r.record.id.as_str(), r.record.correct))
        .collect();
    let mut meter = ComputeMeter::default();
    for r in records.iter().filter(|r| r.run == SweepRun::Greedy) {
        meter.add(&r.record.compute);
    }
    let mut names: Vec<String> = Vec::new();
    let mut tallies: Vec<VerifierTally> = Vec::new();
    let mut sums: BTreeMap<u8, [f64; 5]> = BTreeMap::new();
    let mut k = 0;
    let toy = cfg.dataset == DatasetSpec::Toy;
    for r in records {
        if !matches!(r.run, SweepRun::Bank { seed: s, .. } if s == seed) {
            continue;
        }
        let rec = &r.record;
        meter.add(&rec.compute);
        let cands = &rec.candidates;
        k = k.max(cands.len());
        let right = cands.iter().filter(|c| c.correct == Some(true)).count();
        let ok =
            |cs: &[Candidate], c: Option<usize>| c.is_some_and(|c| cs[c].correct == Some(true));
        let level = rec.level.unwrap_or(0);
        let row = sums.entry(level).or_default();
        row[0] += 1.0;
        row[1] += f64::from(u8::from(greedy.get(rec.id.as_str()) == Some(&true)));
        row[2] += right as f64 / cands.len().max(1) as f64;
        row[3] += f64::from(u8::from(ok(cands, choose_majority(cands))));
        row[4] += f64::from(u8::from(right > 0));
        // Exact step labels exist for the toy task only.
        let target: Option<i64> = toy.then(|| rec.reference.trim().parse().ok()).flatten();
        for j in &rec.judged {
            let t = match names.iter().position(|n| *n == j.verifier) {
                Some(t) => t,
                None => {
                    names.push(j.verifier.clone());
                    tallies.push(VerifierTally::default());
                    names.len() - 1
                }
            };
            let tally = &mut tallies[t];
            let mut judged = cands.clone();
            for (c, scores) in judged.iter_mut().zip(&j.scores) {
                if let Some(t) = target {
                    let steps: Vec<String> = c.steps.iter().map(|s| s.text.clone()).collect();
                    tally
                        .steps
                        .extend(scores.iter().copied().zip(toy::check_steps(&steps, t)));
                }
                for (step, score) in c.steps.iter_mut().zip(scores) {
                    step.score = *score;
                }
                c.score = cfg.aggregation.apply(scores);
            }
            let scored: Vec<(f32, bool)> = judged
                .iter()
                .map(|c| (c.score, c.correct == Some(true)))
                .collect();
            let (concordant, pairs) = concordance(&scored);
            tally.concordant += concordant;
            tally.pairs += pairs;
            let row = tally.per_level.entry(level).or_default();
            row[0] += 1.0;
            row[1] += f64::from(u8::from(ok(&judged, choose_best(&judged))));
            row[2] += f64::from(u8::from(ok(&judged, choose_weighted(&judged))));
        }
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
    let verifiers = names
        .into_iter()
        .zip(tallies)
        .map(|(name, t)| VerifierEval {
            name,
            aggregation: cfg.aggregation.as_str().to_string(),
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
    PolicyEval {
        k,
        temperature: cfg.sampling.temperature,
        seed,
        per_level,
        verifiers,
        compute: meter,
    }
}
