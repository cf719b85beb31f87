//! Compute-optimal scaling (Snell et al. 2024, section 3.1): for each difficulty bin and compute
//! budget, the strategy and hyper-parameters with the best accuracy, chosen without looking at
//! the problems they are scored on; the efficiency gain over best-of-N; and the FLOPs exchange
//! between test-time compute and a larger model.
//!
//! **Choice by 2-fold cross-validation.** The problems of each bin are split at random into two
//! halves; the setting with the best mean accuracy on one half is scored on the other, and the
//! halves swap; the two scores are averaged (weighted by the halves' sizes). This repeats over
//! many random splits; the result is the mean and the standard deviation over splits. At a
//! budget of C generations every setting that costs at most C competes (one never has to spend
//! the whole budget); ties go to the cheaper setting, then to the one listed first.
//!
//! **Efficiency gain** at budget B: the budget weighted best-of-N needs to reach the
//! compute-optimal accuracy at B, read off its curve with linear interpolation on the log2
//! budget axis, divided by B.
//!
//! **FLOPs exchange.** With inference FLOPs 2·P·tokens and pretraining 6·P·D, a model M times
//! larger decoding greedily spends as much as the small one sampling at a budget multiplier of
//! `M + 3(M - 1)/R`, R = D_inference / D_pretrain.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One strategy with its hyper-parameters at one budget, and its accuracy on every problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    /// What it is, e.g. `beam M=4` (the budget apart).
    pub label: String,
    /// Its generation budget N.
    pub budget: usize,
    /// What it costs, in generations (N, or N x (k + 1) for lookahead).
    pub cost: f64,
    /// Accuracy per problem (0..1; expected accuracy where it was estimated from draws).
    pub accuracy: Vec<f64>,
}

/// The compute-optimal result of one bin at one compute budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimalPoint {
    /// The compute budget, in generations.
    pub cost: f64,
    /// The bin (1-based); 0 for all problems together (each bin choosing its own setting).
    pub bin: usize,
    /// Cross-validated accuracy: mean over splits.
    pub accuracy: f64,
    /// Its standard deviation over splits.
    pub spread: f64,
    /// The setting chosen on all of the bin's problems (what a table of choices records).
    pub chosen: String,
    /// Its budget N.
    pub chosen_budget: usize,
}

/// Mean accuracy of setting `s` over `problems`.
fn mean_on(s: &Setting, problems: &[usize]) -> f64 {
    if problems.is_empty() {
        return 0.0;
    }
    problems.iter().map(|&p| s.accuracy[p]).sum::<f64>() / problems.len() as f64
}

/// The best of `candidates` (indices into `settings`) on `problems`: ties to the cheaper, then
/// to the earlier.
fn best(settings: &[Setting], candidates: &[usize], problems: &[usize]) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for &c in candidates {
        let a = mean_on(&settings[c], problems);
        let better = match best {
            None => true,
            Some((b, ba)) => {
                a > ba + 1e-12 || ((a - ba).abs() <= 1e-12 && settings[c].cost < settings[b].cost)
            }
        };
        if better {
            best = Some((c, a));
        }
    }
    best.map(|b| b.0)
}

/// The setting `settings` would choose at a compute budget of `cost` generations on
/// `problems` (the best mean accuracy among those costing at most `cost`; ties to the cheaper,
/// then the earlier).
pub fn choose(settings: &[Setting], cost: f64, problems: &[usize]) -> Option<usize> {
    let candidates: Vec<usize> = (0..settings.len())
        .filter(|&i| settings[i].cost <= cost)
        .collect();
    best(settings, &candidates, problems)
}

/// Compute-optimal accuracy per bin and compute budget, cross-validated over `splits` random
/// bin-stratified halvings seeded by `seed`. `bins` gives each problem's bin (1..=k). The
/// budgets are the distinct costs of the settings. Also returns, per budget, the accuracy over
/// all problems (bin 0) with every bin choosing its own setting.
pub fn compute_optimal(
    settings: &[Setting],
    bins: &[usize],
    k: usize,
    splits: usize,
    seed: u64,
) -> Vec<OptimalPoint> {
    let mut costs: Vec<f64> = settings.iter().map(|s| s.cost).collect();
    costs.sort_by(f64::total_cmp);
    costs.dedup();
    let members: Vec<Vec<usize>> = (1..=k)
        .map(|b| (0..bins.len()).filter(|&p| bins[p] == b).collect())
        .collect();
    let total = bins.len().max(1) as f64;
    let mut out = Vec::new();
    for &cost in &costs {
        let candidates: Vec<usize> = (0..settings.len())
            .filter(|&i| settings[i].cost <= cost)
            .collect();
        // Per split: per bin the cross-validated accuracy.
        let mut per_bin: Vec<Vec<f64>> = vec![Vec::new(); k];
        let mut overall = Vec::new();
        for r in 0..splits.max(1) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(r as u64);
            let mut sum = 0.0;
            for (b, probs) in members.iter().enumerate() {
                if probs.is_empty() {
                    continue;
                }
                let mut shuffled = probs.clone();
                shuffled.shuffle(&mut rng);
                let (a, z) = shuffled.split_at(shuffled.len() / 2);
                let score = |train: &[usize], test: &[usize]| -> f64 {
                    if test.is_empty() {
                        return 0.0;
                    }
                    // With nothing to train on, choose on the test half itself (one problem).
                    let train = if train.is_empty() { test } else { train };
                    best(settings, &candidates, train)
                        .map_or(0.0, |c| mean_on(&settings[c], test) * test.len() as f64)
                };
                let acc = (score(a, z) + score(z, a)) / probs.len() as f64;
                per_bin[b].push(acc);
                sum += acc * probs.len() as f64;
            }
            overall.push(sum / total);
        }
        let stats = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
            let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len().max(1) as f64;
            (m, var.sqrt())
        };
        for (b, v) in per_bin.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            let (m, sd) = stats(v);
            let chosen = best(settings, &candidates, &members[b]);
            out.push(OptimalPoint {
                cost,
                bin: b + 1,
                accuracy: m,
                spread: sd,
                chosen: chosen.map_or_else(String::new, |c| settings[c].label.clone()),
                chosen_budget: chosen.map_or(0, |c| settings[c].budget),
            });
        }
        let (m, sd) = stats(&overall);
        out.push(OptimalPoint {
            cost,
            bin: 0,
            accuracy: m,
            spread: sd,
            chosen: "per bin".into(),
            chosen_budget: 0,
        });
    }
    out
}

/// The budget a strategy with accuracy curve `curve` (budget, accuracy; budgets increasing)
/// needs to reach `target`, by linear interpolation on the log2 budget axis; `None` where the
/// curve never reaches it.
pub fn budget_to_reach(curve: &[(f64, f64)], target: f64) -> Option<f64> {
    let first = curve.first()?;
    if first.1 >= target {
        return Some(first.0);
    }
    for w in curve.windows(2) {
        let ((b0, a0), (b1, a1)) = (w[0], w[1]);
        if a1 >= target && a1 > a0 {
            let t = (target - a0) / (a1 - a0);
            let l = b0.log2() + t * (b1.log2() - b0.log2());
            return Some(l.exp2());
        }
    }
    None
}

/// The efficiency gain at budget `budget`: the budget best-of-N (`bon` curve) needs to reach
/// `accuracy`, divided by `budget`. `None` where best-of-N never reaches it on its curve.
pub fn efficiency_gain(bon: &[(f64, f64)], accuracy: f64, budget: f64) -> Option<f64> {
    budget_to_reach(bon, accuracy).map(|b| b / budget)
}

/// The generation budget at which a small model spends as many inference FLOPs as a model `m`
/// times larger decoding greedily, with `r` = D_inference / D_pretrain: `m + 3(m - 1)/r`.
pub fn budget_multiplier(m: f64, r: f64) -> f64 {
    m + 3.0 * (m - 1.0) / r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(label: &str, budget: usize, cost: f64, accuracy: &[f64]) -> Setting {
        Setting {
            label: label.into(),
            budget,
            cost,
            accuracy: accuracy.to_vec(),
        }
    }

    #[test]
    fn the_flops_exchange_matches_the_papers_numbers() {
        // M = 14: about 258, 63 and 16 generations at R = 0.16, 0.79, 22.
        assert!((budget_multiplier(14.0, 0.16) - 257.75).abs() < 1e-9);
        assert_eq!(budget_multiplier(14.0, 0.79).round(), 63.0);
        assert_eq!(budget_multiplier(14.0, 22.0).round(), 16.0);
        assert_eq!(budget_multiplier(1.0, 0.5), 1.0);
    }

    #[test]
    fn budgets_to_reach_interpolate_on_the_log2_axis() {
        let bon = [(1.0, 0.2), (4.0, 0.4), (16.0, 0.6)];
        assert_eq!(budget_to_reach(&bon, 0.1), Some(1.0));
        // Halfway from 4 to 16 on log2: 8.
        assert!((budget_to_reach(&bon, 0.5).unwrap() - 8.0).abs() < 1e-9);
        assert_eq!(budget_to_reach(&bon, 0.7), None);
        assert!((efficiency_gain(&bon, 0.5, 2.0).unwrap() - 4.0).abs() < 1e-9);
    }

    #[test]
    fn each_bin_gets_its_own_setting_chosen_on_other_problems() {
        // Problems 0-3 in bin 1, 4-7 in bin 2. "seq" wins bin 1, "par" bin 2; "cheap" costs
        // less and ties "seq" nowhere.
        let bins = [1, 1, 1, 1, 2, 2, 2, 2];
        let settings = vec![
            setting("par", 4, 4.0, &[0.5, 0.5, 0.5, 0.5, 0.9, 0.8, 0.9, 0.8]),
            setting("seq", 4, 4.0, &[1.0, 0.9, 1.0, 0.9, 0.1, 0.2, 0.1, 0.2]),
            setting("cheap", 1, 1.0, &[0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]),
        ];
        let points = compute_optimal(&settings, &bins, 2, 20, 3);
        let at = |cost: f64, bin: usize| {
            points
                .iter()
                .find(|p| p.cost == cost && p.bin == bin)
                .unwrap()
                .clone()
        };
        assert_eq!(at(4.0, 1).chosen, "seq");
        assert_eq!(at(4.0, 2).chosen, "par");
        // Consistent winners: cross-validation loses nothing.
        assert!((at(4.0, 1).accuracy - 0.95).abs() < 1e-9);
        assert!((at(4.0, 2).accuracy - 0.85).abs() < 1e-9);
        assert!((at(4.0, 0).accuracy - 0.9).abs() < 1e-9);
        assert!(at(4.0, 0).spread < 1e-9);
        // At a budget of one generation only "cheap" competes.
        assert_eq!(at(1.0, 1).chosen, "cheap");
        // Ties go to the cheaper setting.
        let tied = vec![
            setting("big", 8, 8.0, &[0.5, 0.5]),
            setting("small", 2, 2.0, &[0.5, 0.5]),
        ];
        let p = compute_optimal(&tied, &[1, 1], 1, 5, 0);
        assert_eq!(
            p.iter()
                .find(|p| p.cost == 8.0 && p.bin == 1)
                .unwrap()
                .chosen,
            "small"
        );
    }

    #[test]
    fn each_half_is_scored_with_the_choice_made_on_the_other() {
        // Bin 1 holds p0 and p1, bin 2 holds p2 and p3. Halving each bin puts one problem on
        // each side, so every split gives the same numbers:
        // - bin 1: X is right on p0 alone, Y on p1 alone. Chosen on p0, X scores 0 on p1;
        //   chosen on p1, Y scores 0 on p0: 0, where choosing in hindsight would claim 1/2.
        // - bin 2: X (1, 1) beats Y (1/2, 1/2) on either half and scores 1 on the other.
        // - all problems: (0 x 2 + 1 x 2) / 4 = 1/2, with no spread over the splits.
        // Halves cut across bins instead (say p0, p1 | p2, p3) would leave a bin without a
        // training half on some splits and give other numbers.
        let settings = vec![
            setting("X", 4, 4.0, &[1.0, 0.0, 1.0, 1.0]),
            setting("Y", 4, 4.0, &[0.0, 1.0, 0.5, 0.5]),
        ];
        let points = compute_optimal(&settings, &[1, 1, 2, 2], 2, 20, 9);
        let got: Vec<(usize, f64, f64, &str)> = points
            .iter()
            .map(|p| (p.bin, p.accuracy, p.spread, p.chosen.as_str()))
            .collect();
        // On all of bin 1, X and Y tie at 1/2 at the same cost: the first listed, X.
        assert_eq!(
            got,
            [
                (1, 0.0, 0.0, "X"),
                (2, 1.0, 0.0, "X"),
                (0, 0.5, 0.0, "per bin")
            ]
        );
    }

    #[test]
    fn cross_validation_does_not_reward_a_lucky_choice() {
        // Two settings that are each right on half of the problems at random: on its own
        // problems either looks better, but chosen on one half and scored on the other the
        // expected accuracy stays near 0.5, below the best in hindsight.
        let n = 40;
        let a: Vec<f64> = (0..n).map(|p| ((p * 7 + 3) % 5 < 2) as u8 as f64).collect();
        let b: Vec<f64> = (0..n).map(|p| ((p * 3 + 1) % 4 < 2) as u8 as f64).collect();
        let hindsight = mean_on(&setting("a", 1, 1.0, &a), &(0..n).collect::<Vec<_>>()).max(
            mean_on(&setting("b", 1, 1.0, &b), &(0..n).collect::<Vec<_>>()),
        );
        let settings = vec![setting("a", 1, 1.0, &a), setting("b", 1, 1.0, &b)];
        let bins = vec![1; n];
        let p = compute_optimal(&settings, &bins, 1, 20, 11);
        let all = p.iter().find(|p| p.bin == 0).unwrap();
        assert!(
            all.accuracy <= hindsight + 1e-9,
            "{} vs {hindsight}",
            all.accuracy
        );
        assert!(all.spread > 0.0);
    }
}
