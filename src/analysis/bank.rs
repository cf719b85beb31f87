//! Sample banks and the accuracy curves of the sampling strategies.
//!
//! Majority voting and best-of-N (naive and weighted) choose among independent samples, so one
//! bank of `s` samples per problem, drawn at the largest budget and scored once, answers every
//! smaller budget `n`: the strategy's accuracy at `n` is its expected accuracy on a random subset
//! of `n` samples of the bank, estimated from many random subsets (draws), with an interval
//! across draws. No model runs again.
//!
//! - **Ties** give fractional credit: where several answers tie for the most votes (majority),
//!   the largest score sum (weighted) or the highest score (best-of-N), the credit is the share
//!   of the tied choices that are right, the expected accuracy of a uniformly random tie-break.
//! - **pass@n** (at least one right sample among n) uses the unbiased estimator
//!   `1 - C(s - r, n) / C(s, n)` for a bank of `s` samples of which `r` are right, exactly, with
//!   no draws.
//!
//! Answers are grouped once per bank by the grader's equivalence (a bank stores each sample's
//! answer class), so a draw compares small integers.

use crate::search::select::answer_groups;
use crate::search::Candidate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One sample of a bank, reduced to what the choice functions read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BankSample {
    /// Its answer's class among the bank's answers (`None`: no answer).
    pub class: Option<u32>,
    /// Whether its answer is right.
    pub correct: bool,
    /// Its aggregated verifier score.
    pub score: f32,
}

/// The samples of one problem.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Bank {
    /// The samples, in the order they were drawn.
    pub samples: Vec<BankSample>,
}

impl Bank {
    /// The bank of a record's candidates (graded, scored), answers grouped by equivalence.
    pub fn from_candidates(candidates: &[Candidate]) -> Self {
        let mut class = vec![None; candidates.len()];
        for (k, group) in answer_groups(candidates).iter().enumerate() {
            for &i in group {
                class[i] = Some(k as u32);
            }
        }
        Self {
            samples: candidates
                .iter()
                .zip(class)
                .map(|(c, class)| BankSample {
                    class,
                    correct: c.correct == Some(true) && class.is_some(),
                    score: c.score,
                })
                .collect(),
        }
    }

    /// Samples in the bank.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the bank is empty.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Right samples in the bank.
    pub fn right(&self) -> usize {
        self.samples.iter().filter(|s| s.correct).count()
    }

    /// The unbiased pass@n of this bank: `1 - C(s - r, n) / C(s, n)`.
    pub fn pass_at(&self, n: usize) -> f64 {
        pass_at(self.len(), self.right(), n)
    }
}

/// The unbiased pass@n of a bank of `s` samples with `r` right: the chance that a random subset
/// of `n` holds a right one, `1 - C(s - r, n) / C(s, n)`, computed as a product (no overflow).
pub fn pass_at(s: usize, r: usize, n: usize) -> f64 {
    if n == 0 || s == 0 {
        return 0.0;
    }
    let n = n.min(s);
    if s - r < n {
        return 1.0;
    }
    // C(s - r, n) / C(s, n) = prod_{i=0}^{n-1} (s - r - i) / (s - i)
    let miss: f64 = (0..n)
        .map(|i| (s - r - i) as f64 / (s - i) as f64)
        .product();
    1.0 - miss
}

/// A choice among samples whose accuracy a bank can estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BankChoice {
    /// The most frequent answer.
    Majority,
    /// The highest-scoring sample.
    BestOfN,
    /// The answer with the largest score sum.
    WeightedBestOfN,
}

impl BankChoice {
    /// All of them.
    pub const ALL: [BankChoice; 3] = [Self::Majority, Self::BestOfN, Self::WeightedBestOfN];

    /// The name, as the strategies spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Majority => "majority",
            Self::BestOfN => "best-of-n",
            Self::WeightedBestOfN => "weighted-best-of-n",
        }
    }
}

/// The expected accuracy of `choice` on the samples `subset` of `bank`: 1 or 0, or the share of
/// right choices among tied ones.
pub fn choice_credit(bank: &Bank, subset: &[usize], choice: BankChoice) -> f64 {
    match choice {
        BankChoice::BestOfN => {
            let mut best = f32::NEG_INFINITY;
            let (mut tied, mut right) = (0usize, 0usize);
            for &i in subset {
                let s = &bank.samples[i];
                if s.class.is_none() {
                    continue;
                }
                if s.score > best {
                    best = s.score;
                    tied = 0;
                    right = 0;
                }
                if s.score == best {
                    tied += 1;
                    right += s.correct as usize;
                }
            }
            if tied == 0 {
                0.0
            } else {
                right as f64 / tied as f64
            }
        }
        BankChoice::Majority | BankChoice::WeightedBestOfN => {
            // Per answer class: its weight and whether it is right. Banks are small (<= a few
            // hundred samples), so a linear map beats hashing.
            let mut classes: Vec<(u32, f64, bool)> = Vec::new();
            for &i in subset {
                let s = &bank.samples[i];
                let Some(c) = s.class else { continue };
                let w = if choice == BankChoice::Majority {
                    1.0
                } else {
                    f64::from(s.score)
                };
                match classes.iter_mut().find(|e| e.0 == c) {
                    Some(e) => e.1 += w,
                    None => classes.push((c, w, s.correct)),
                }
            }
            let Some(max) = classes.iter().map(|e| e.1).reduce(f64::max) else {
                return 0.0;
            };
            let tied: Vec<&(u32, f64, bool)> = classes.iter().filter(|e| e.1 == max).collect();
            tied.iter().filter(|e| e.2).count() as f64 / tied.len() as f64
        }
    }
}

/// A point of an accuracy curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// The budget n.
    pub budget: usize,
    /// Mean accuracy over problems and draws.
    pub accuracy: f64,
    /// 2.5th percentile of the per-draw accuracy (over problems).
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
}

/// Reusable buffers of [`credits_of_subset`], sized to one bank's answer classes.
#[derive(Default)]
struct Tally {
    /// Per class: votes in the subset.
    votes: Vec<u32>,
    /// Per class: score sum in the subset.
    sums: Vec<f64>,
    /// Per class: whether its answer is right.
    right: Vec<bool>,
    /// The classes the subset touched (to reset them).
    touched: Vec<u32>,
}

impl Tally {
    /// Buffers for `bank`.
    fn of(bank: &Bank) -> Self {
        let k = bank
            .samples
            .iter()
            .filter_map(|s| s.class)
            .max()
            .map_or(0, |c| c as usize + 1);
        let mut right = vec![false; k];
        for s in &bank.samples {
            if let Some(c) = s.class {
                right[c as usize] = s.correct;
            }
        }
        Self {
            votes: vec![0; k],
            sums: vec![0.0; k],
            right,
            touched: Vec::with_capacity(k),
        }
    }
}

/// The credit of every [`BankChoice`] (in [`BankChoice::ALL`] order) on one subset, in one
/// pass over it.
fn credits_of_subset(bank: &Bank, subset: &[usize], t: &mut Tally) -> [f64; 3] {
    let mut best = f32::NEG_INFINITY;
    let (mut tied, mut right) = (0usize, 0usize);
    for &i in subset {
        let s = &bank.samples[i];
        let Some(c) = s.class else { continue };
        if s.score > best {
            best = s.score;
            tied = 0;
            right = 0;
        }
        if s.score == best {
            tied += 1;
            right += usize::from(s.correct);
        }
        let c = c as usize;
        if t.votes[c] == 0 {
            t.touched.push(c as u32);
        }
        t.votes[c] += 1;
        t.sums[c] += f64::from(s.score);
    }
    let (mut max_votes, mut max_sum) = (0u32, f64::NEG_INFINITY);
    for &c in &t.touched {
        max_votes = max_votes.max(t.votes[c as usize]);
        max_sum = max_sum.max(t.sums[c as usize]);
    }
    let (mut mv, mut mr, mut wv, mut wr) = (0usize, 0usize, 0usize, 0usize);
    for &c in &t.touched {
        let c = c as usize;
        if t.votes[c] == max_votes {
            mv += 1;
            mr += usize::from(t.right[c]);
        }
        if t.sums[c] == max_sum {
            wv += 1;
            wr += usize::from(t.right[c]);
        }
        t.votes[c] = 0;
        t.sums[c] = 0.0;
    }
    t.touched.clear();
    let share = |n: usize, r: usize| if n == 0 { 0.0 } else { r as f64 / n as f64 };
    [share(mv, mr), share(tied, right), share(wv, wr)]
}

/// The credit of every choice (in [`BankChoice::ALL`] order) on `draws` random subsets of `n`
/// samples of one bank `p`: entry `[c][d]` is choice `c` on draw `d`. Every choice sees the
/// same subsets. The draws come from one random stream seeded by `(seed, p, n)` (so adding
/// budgets or banks changes no other entry), each a partial Fisher–Yates shuffle of the
/// previous draw's order. A budget of at least the bank's size uses the whole bank.
pub fn bank_credits(bank: &Bank, p: usize, n: usize, draws: usize, seed: u64) -> [Vec<f64>; 3] {
    let s = bank.len();
    let draws = draws.max(1);
    if s == 0 {
        return std::array::from_fn(|_| vec![0.0; draws]);
    }
    let mut t = Tally::of(bank);
    if n >= s {
        let all: Vec<usize> = (0..s).collect();
        let c = credits_of_subset(bank, &all, &mut t);
        return std::array::from_fn(|k| vec![c[k]; draws]);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed ^ (p as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (n as u64).rotate_left(32),
    );
    let mut order: Vec<usize> = (0..s).collect();
    let mut out: [Vec<f64>; 3] = std::array::from_fn(|_| Vec::with_capacity(draws));
    // Banks are far smaller than 2^32: 32-bit draws take half the random stream.
    let top = u32::try_from(s).unwrap_or(u32::MAX);
    for _ in 0..draws {
        for i in 0..n {
            let j = rng.random_range(i as u32..top) as usize;
            order.swap(i, j);
        }
        let c = credits_of_subset(bank, &order[..n], &mut t);
        for k in 0..3 {
            out[k].push(c[k]);
        }
    }
    out
}

/// [`bank_credits`] of every bank (one per problem), the banks spread over threads.
pub fn draw_all_credits(banks: &[Bank], n: usize, draws: usize, seed: u64) -> Vec<[Vec<f64>; 3]> {
    use rayon::prelude::*;
    banks
        .par_iter()
        .enumerate()
        .map(|(p, bank)| bank_credits(bank, p, n, draws, seed))
        .collect()
}

/// The credit of `choice` on `draws` random subsets of `n` samples of every bank: entry
/// `[p][d]` is draw `d` of bank `p` (see [`bank_credits`]).
pub fn draw_credits(
    banks: &[Bank],
    n: usize,
    draws: usize,
    seed: u64,
    choice: BankChoice,
) -> Vec<Vec<f64>> {
    let k = BankChoice::ALL
        .iter()
        .position(|c| *c == choice)
        .unwrap_or(0);
    draw_all_credits(banks, n, draws, seed)
        .into_iter()
        .map(|mut c| std::mem::take(&mut c[k]))
        .collect()
}

/// The accuracy of `choice` at each of `budgets` on `banks` (one per problem): for every budget,
/// `draws` random subsets of that size per problem ([`draw_credits`]), the accuracy of draw `d`
/// averaged over problems, then the mean and the 95% interval over draws.
pub fn curve(
    banks: &[Bank],
    budgets: &[usize],
    draws: usize,
    seed: u64,
    choice: BankChoice,
) -> Vec<CurvePoint> {
    budgets
        .iter()
        .map(|&n| summarise(n, per_draw(&draw_credits(banks, n, draws, seed, choice))))
        .collect()
}

/// Per draw, the credit averaged over problems.
pub fn per_draw(credits: &[Vec<f64>]) -> Vec<f64> {
    let draws = credits.first().map_or(0, Vec::len);
    (0..draws)
        .map(|d| credits.iter().map(|c| c[d]).sum::<f64>() / credits.len().max(1) as f64)
        .collect()
}

/// The mean and 95% interval (2.5th and 97.5th percentiles) of per-draw accuracies.
pub fn summarise(budget: usize, mut per_draw: Vec<f64>) -> CurvePoint {
    let accuracy = per_draw.iter().sum::<f64>() / per_draw.len().max(1) as f64;
    per_draw.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if per_draw.is_empty() {
            return 0.0;
        }
        let i = ((per_draw.len() - 1) as f64 * q).round() as usize;
        per_draw[i]
    };
    CurvePoint {
        budget,
        accuracy,
        low: at(0.025),
        high: at(0.975),
    }
}

/// pass@n at each budget, exact (unbiased estimator), averaged over banks.
pub fn pass_curve(banks: &[Bank], budgets: &[usize]) -> Vec<CurvePoint> {
    budgets
        .iter()
        .map(|&n| {
            let acc = banks.iter().map(|b| b.pass_at(n)).sum::<f64>() / banks.len().max(1) as f64;
            CurvePoint {
                budget: n,
                accuracy: acc,
                low: acc,
                high: acc,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(samples: &[(Option<u32>, bool, f32)]) -> Bank {
        Bank {
            samples: samples
                .iter()
                .map(|&(class, correct, score)| BankSample {
                    class,
                    correct,
                    score,
                })
                .collect(),
        }
    }

    #[test]
    fn pass_at_n_is_the_unbiased_estimator() {
        // s = 4, r = 1: pass@1 = 1/4, pass@2 = 1 - C(3,2)/C(4,2) = 1 - 3/6.
        assert!((pass_at(4, 1, 1) - 0.25).abs() < 1e-12);
        assert!((pass_at(4, 1, 2) - 0.5).abs() < 1e-12);
        assert_eq!(pass_at(4, 1, 4), 1.0);
        assert_eq!(pass_at(4, 0, 3), 0.0);
        assert_eq!(pass_at(4, 3, 2), 1.0);
        // Against brute force over all subsets of size 3 of 6 samples with 2 right.
        let mut hit = 0;
        let mut all = 0;
        for mask in 0u32..64 {
            if mask.count_ones() == 3 {
                all += 1;
                hit += (mask & 0b11 != 0) as u32;
            }
        }
        assert!((pass_at(6, 2, 3) - f64::from(hit) / f64::from(all)).abs() < 1e-12);
        // Large banks do not overflow.
        assert!(pass_at(2048, 3, 1000) > 0.8);
    }

    #[test]
    fn ties_give_fractional_credit() {
        // Two answers with two votes each, one right: majority credit 1/2.
        let b = bank(&[
            (Some(0), true, 0.1),
            (Some(1), false, 0.9),
            (Some(0), true, 0.2),
            (Some(1), false, 0.3),
            (None, false, 1.0),
        ]);
        let all: Vec<usize> = (0..5).collect();
        assert_eq!(choice_credit(&b, &all, BankChoice::Majority), 0.5);
        // Weighted: 0.3 vs 1.2 -> the wrong answer.
        assert_eq!(choice_credit(&b, &all, BankChoice::WeightedBestOfN), 0.0);
        // Best-of-N ignores the unanswered sample's 1.0; the best answered one is wrong.
        assert_eq!(choice_credit(&b, &all, BankChoice::BestOfN), 0.0);
        assert_eq!(choice_credit(&b, &[0, 2], BankChoice::BestOfN), 1.0);
        let tie = bank(&[(Some(0), true, 0.5), (Some(1), false, 0.5)]);
        assert_eq!(choice_credit(&tie, &[0, 1], BankChoice::BestOfN), 0.5);
        assert_eq!(choice_credit(&tie, &[], BankChoice::Majority), 0.0);
    }

    #[test]
    fn curves_estimate_expected_subset_accuracy_with_intervals() {
        // One right sample among four, all different answers: majority at n = 1 is right with
        // chance 1/4, at n = 4 it is a four-way tie (credit 1/4) — expected 1/4 everywhere.
        let b = bank(&[
            (Some(0), true, 0.9),
            (Some(1), false, 0.1),
            (Some(2), false, 0.1),
            (Some(3), false, 0.1),
        ]);
        let banks = vec![b; 50];
        let c = curve(&banks, &[1, 2, 4, 8], 400, 7, BankChoice::Majority);
        for p in &c {
            assert!((p.accuracy - 0.25).abs() < 0.02, "{p:?}");
            assert!(p.low <= p.accuracy && p.accuracy <= p.high);
        }
        // Best-of-N finds the high-scoring right sample whenever it is drawn: pass@n exactly.
        let best = curve(&banks, &[1, 2, 4], 400, 7, BankChoice::BestOfN);
        let pass = pass_curve(&banks, &[1, 2, 4]);
        assert_eq!((best.len(), pass.len()), (3, 3));
        for (a, b) in best.iter().zip(&pass) {
            assert!((a.accuracy - b.accuracy).abs() < 0.02, "{a:?} vs {b:?}");
        }
        assert_eq!(pass[2].accuracy, 1.0);
        // Same seed, same curve.
        assert_eq!(
            c,
            curve(&banks, &[1, 2, 4, 8], 400, 7, BankChoice::Majority)
        );
    }

    #[test]
    fn one_pass_credits_equal_each_choice_alone() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..300 {
            let s = rng.random_range(1..40);
            let samples: Vec<(Option<u32>, bool, f32)> = (0..s)
                .map(|_| {
                    let class = rng.random_bool(0.9).then(|| rng.random_range(0..4u32));
                    // Class 0 is the right answer; scores on a coarse grid so ties happen.
                    let score = f32::from(rng.random_range(0..5u8)) / 4.0;
                    (class, class == Some(0), score)
                })
                .collect();
            let b = bank(&samples);
            let n = rng.random_range(1..=s);
            let mut order: Vec<usize> = (0..s).collect();
            for i in 0..n {
                let j = rng.random_range(i..s);
                order.swap(i, j);
            }
            let subset = &order[..n];
            let all = credits_of_subset(&b, subset, &mut Tally::of(&b));
            for (k, choice) in BankChoice::ALL.into_iter().enumerate() {
                assert_eq!(
                    all[k],
                    choice_credit(&b, subset, choice),
                    "{choice:?} {samples:?}"
                );
            }
        }
    }
}
