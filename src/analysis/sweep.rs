//! The numbers of a sweep, rebuilt from its records alone (no model): accuracy against budget
//! for every strategy setting, overall, per dataset level and per difficulty bin; the oracle
//! and predicted bins and how often they agree; compute-optimal accuracy per bin and budget
//! with cross-validation, and its efficiency gain over weighted best-of-N.
//!
//! Sampling strategies are read from the bank ([`super::bank`]): mean over draws, with the 95%
//! interval over draws. Tree searches ran at every budget: mean over problems and seeds, with
//! a normal 95% interval (1.96 standard errors over problems).
//!
//! A sweep still running (or stopped) has records for some problems of a setting and not
//! others: each point is the accuracy over the problems it has records for, and says how many
//! (`n`, and per bin `per_bin_n`), so an unfinished problem is never counted wrong. The
//! compute-optimal choices and the table read the problems that every setting has finished.

use super::bank::{draw_all_credits, per_draw, summarise, Bank, BankChoice};
use super::bins::{agreement, bin_sizes, quantile_bins, Agreement, BINS};
use super::exchange::{exchange, Exchange};
use super::optimal::{budget_to_reach, choose, compute_optimal, OptimalPoint, Setting};
use crate::runner::sweep::{OptimalTable, SweepManifest, SweepRecord, SweepRun, TableEntry};
use crate::search::{StrategyKind, StrategySpec};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Random halvings of the compute-optimal cross-validation.
pub const CV_SPLITS: usize = 20;

/// One budget of one strategy setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// The budget N.
    pub budget: usize,
    /// Its cost in generations.
    pub cost: f64,
    /// Accuracy over all problems.
    pub accuracy: f64,
    /// Lower end of the 95% interval.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Accuracy per oracle difficulty bin (index 0 is bin 1); 0 for a bin without a finished
    /// problem (see `per_bin_n`).
    pub per_bin: Vec<f64>,
    /// Accuracy per dataset level.
    pub per_level: BTreeMap<u8, f64>,
    /// Tokens the policy generated per problem at this budget, on average (read from the
    /// records: a bank's share of its samples, a search's own count); 0 in a `curves.json`
    /// written before this was kept (curves made again from the records have it).
    #[serde(default)]
    pub tokens: f64,
    /// Inference FLOPs per problem at this budget (policy and verifier), on average.
    #[serde(default)]
    pub flops: f64,
    /// Problems behind the point: those with a record of this setting (all of the sweep's
    /// once it is complete; fewer while it runs). 0 in a `curves.json` written before this
    /// was kept.
    #[serde(default)]
    pub n: usize,
    /// Problems behind each bin's accuracy (index 0 is bin 1).
    #[serde(default)]
    pub per_bin_n: Vec<usize>,
}

/// A strategy setting's curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// The setting, e.g. `beam (M = 4, last)`.
    pub label: String,
    /// The strategy.
    pub strategy: StrategyKind,
    /// Its points by budget.
    pub points: Vec<SeriesPoint>,
}

/// The difficulty bins of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinReport {
    /// Each problem's id with its oracle and predicted bin.
    pub problems: Vec<(String, usize, usize)>,
    /// Problems per oracle bin.
    pub oracle_sizes: Vec<usize>,
    /// Samples per problem behind the oracle bins.
    pub oracle_samples: usize,
    /// How often the predicted bin equals (or neighbours) the oracle one.
    pub agreement: Agreement,
    /// Verifier tokens spent on the predicted bins (the bank's scoring), apart from the rest.
    pub predicted_verifier_tokens: u64,
}

/// Compute-optimal against weighted best-of-N at one compute budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Efficiency {
    /// The compute budget, in generations.
    pub cost: f64,
    /// Compute-optimal accuracy (all bins, cross-validated).
    pub optimal: f64,
    /// The budget weighted best-of-N needs for it, divided by `cost`; `None` where weighted
    /// best-of-N never reaches it within the sweep.
    pub gain: Option<f64>,
}

/// Everything a sweep's records give.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepCurves {
    /// Problems with records.
    pub problems: usize,
    /// One curve per strategy setting (pass@n included, as the ceiling).
    pub series: Vec<Series>,
    /// The difficulty bins.
    pub bins: BinReport,
    /// Compute-optimal accuracy per bin (0: all) and compute budget.
    pub optimal: Vec<OptimalPoint>,
    /// The efficiency gain per compute budget.
    pub efficiency: Vec<Efficiency>,
    /// Compute-optimal accuracy per predicted bin (0: all) and compute budget: what a
    /// deployment that cannot see the ground truth gets, cross-validated the same way.
    #[serde(default)]
    pub optimal_predicted: Vec<OptimalPoint>,
    /// The table `run --strategy compute-optimal --table` reads.
    #[serde(default)]
    pub table: Option<OptimalTable>,
    /// The FLOPs exchange against the larger policy, when the sweep ran one.
    #[serde(default)]
    pub exchange: Option<Exchange>,
}

/// Cut points between quantile bins of `ease` (see [`quantile_bins`]): between bin b and b+1
/// the midpoint of the lowest ease in b and the highest in b+1, high to low.
fn thresholds(ease: &[f64], bins: &[usize], k: usize) -> Vec<f64> {
    (1..k)
        .filter_map(|b| {
            let lo = ease
                .iter()
                .zip(bins)
                .filter(|(_, &x)| x == b)
                .map(|(e, _)| *e)
                .fold(f64::INFINITY, f64::min);
            let hi = ease
                .iter()
                .zip(bins)
                .filter(|(_, &x)| x == b + 1)
                .map(|(e, _)| *e)
                .fold(f64::NEG_INFINITY, f64::max);
            (lo.is_finite() && hi.is_finite()).then_some((lo + hi) / 2.0)
        })
        .collect()
}

/// A tree-search setting at one budget: its strategy, cost, and per problem the verdicts of
/// its seeds.
type SearchTally = (StrategyKind, f64, Vec<Vec<f64>>);

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The accuracies of the problems that have one (`None`: no record of the setting yet).
fn finished(per_problem: &[Option<f64>]) -> Vec<f64> {
    per_problem.iter().flatten().copied().collect()
}

/// Per-problem accuracies to a point: mean, interval, per bin, per level, each over the
/// problems that have an accuracy.
fn point(
    budget: usize,
    cost: f64,
    per_problem: &[Option<f64>],
    interval: (f64, f64),
    bins: &[usize],
    levels: &[Option<u8>],
) -> SeriesPoint {
    let (per_bin, per_bin_n) = (1..=BINS)
        .map(|b| {
            let v: Vec<f64> = (0..per_problem.len())
                .filter(|&p| bins[p] == b)
                .filter_map(|p| per_problem[p])
                .collect();
            (mean(&v), v.len())
        })
        .unzip();
    let mut by_level: BTreeMap<u8, Vec<f64>> = BTreeMap::new();
    for (p, l) in levels.iter().enumerate() {
        if let (Some(l), Some(a)) = (l, per_problem[p]) {
            by_level.entry(*l).or_default().push(a);
        }
    }
    let done = finished(per_problem);
    SeriesPoint {
        budget,
        cost,
        accuracy: mean(&done),
        low: interval.0,
        high: interval.1,
        per_bin,
        per_level: by_level.into_iter().map(|(l, v)| (l, mean(&v))).collect(),
        tokens: 0.0,
        flops: 0.0,
        n: done.len(),
        per_bin_n,
    }
}

/// Tokens generated and FLOPs spent per sample of a bank record, or per search record: the
/// compute that a point of a curve averages.
fn record_cost(r: &crate::store::Record, per_sample: bool) -> (f64, f64) {
    let c = &r.compute;
    let k = if per_sample {
        r.candidates.len().max(1) as f64
    } else {
        1.0
    };
    (
        c.generated_tokens as f64 / k,
        (c.policy_flops + c.verifier_flops) / k,
    )
}

/// Each problem the manifest lists, with its place in the list.
fn listed_problems(manifest: &SweepManifest) -> HashMap<&str, usize> {
    (manifest.problems.iter().enumerate())
        .map(|(i, id)| (id.as_str(), i))
        .collect()
}

/// The first record of each problem in `records`, in the order the curves number problems
/// (a number seeds the problem's draws from a bank): the dataset's order where the manifest
/// keeps it, then problems it does not list in the order they first appear.
pub(crate) fn numbered_problems<'a>(
    manifest: &SweepManifest,
    records: &'a [SweepRecord],
) -> Vec<&'a SweepRecord> {
    let listed = listed_problems(manifest);
    let mut firsts: Vec<&SweepRecord> = Vec::new();
    let mut present: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for r in records {
        if present.insert(r.record.id.as_str()) {
            firsts.push(r);
        }
    }
    firsts.sort_by_key(|r| {
        listed
            .get(r.record.id.as_str())
            .copied()
            .unwrap_or(usize::MAX)
    });
    firsts
}

/// `records` in the order one search at a time writes them, whatever order they landed in:
/// run by run as the configuration lists its runs, each run's problems in the dataset's order
/// (where the manifest keeps it). Sums over records then add in the same order every time.
/// Records of runs the configuration does not list, and problems the manifest does not, keep
/// their order after the others.
fn in_run_order<'a>(manifest: &SweepManifest, records: &'a [SweepRecord]) -> Vec<&'a SweepRecord> {
    let runs = manifest.config.runs();
    let problem = listed_problems(manifest);
    let mut ordered: Vec<&SweepRecord> = records.iter().collect();
    ordered.sort_by_cached_key(|r| {
        (
            runs.iter().position(|x| *x == r.run).unwrap_or(usize::MAX),
            problem
                .get(r.record.id.as_str())
                .copied()
                .unwrap_or(usize::MAX),
        )
    });
    ordered
}

/// Builds every curve of a sweep from its manifest and records.
pub fn curves(manifest: &SweepManifest, records: &[SweepRecord]) -> SweepCurves {
    let cfg = &manifest.config;
    let firsts = numbered_problems(manifest, records);
    let ids: Vec<String> = firsts.iter().map(|r| r.record.id.clone()).collect();
    let levels: Vec<Option<u8>> = firsts.iter().map(|r| r.record.level).collect();
    let index: HashMap<String, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();
    let n = ids.len();
    let records = in_run_order(manifest, records);
    // Banks per seed, in seed order, and which problems each seed's bank has.
    let mut banks: BTreeMap<u64, Vec<Bank>> = BTreeMap::new();
    let mut bank_has: BTreeMap<u64, Vec<bool>> = BTreeMap::new();
    let mut oracle_banks: Vec<Bank> = vec![Bank::default(); n];
    let mut predicted_tokens = 0u64;
    let mut searches: BTreeMap<(String, usize), SearchTally> = BTreeMap::new();
    let mut specs: HashMap<String, StrategySpec> = HashMap::new();
    let mut larger: Vec<Option<f64>> = vec![None; n];
    // Per sample of the banks: (tokens, FLOPs) summed over records, and how many.
    let mut bank_cost = (0.0f64, 0.0f64, 0usize);
    // Per search setting and budget: the same over its records.
    let mut search_cost: HashMap<(String, usize), (f64, f64, usize)> = HashMap::new();
    let mut bins_run = false;
    for r in records {
        let p = index[&r.record.id];
        match &r.run {
            SweepRun::Bank { seed, .. } => {
                let b = banks
                    .entry(*seed)
                    .or_insert_with(|| vec![Bank::default(); n]);
                b[p] = Bank::from_candidates(&r.record.candidates);
                bank_has.entry(*seed).or_insert_with(|| vec![false; n])[p] = true;
                predicted_tokens += r.record.compute.verifier_tokens;
                let (t, f) = record_cost(&r.record, true);
                bank_cost = (bank_cost.0 + t, bank_cost.1 + f, bank_cost.2 + 1);
            }
            SweepRun::Bins { .. } => {
                bins_run = true;
                oracle_banks[p] = Bank::from_candidates(&r.record.candidates);
            }
            SweepRun::Larger => larger[p] = Some(f64::from(u8::from(r.record.correct))),
            // The policy's greedy answer belongs to the model card (`evaluate`), not a curve.
            SweepRun::Greedy => {}
            SweepRun::Search {
                strategy, budget, ..
            } => {
                specs.insert(strategy.to_string(), *strategy);
                let e = searches
                    .entry((strategy.to_string(), *budget))
                    .or_insert_with(|| {
                        (
                            strategy.kind(),
                            strategy.generations(*budget) as f64,
                            vec![Vec::new(); n],
                        )
                    });
                e.2[p].push(f64::from(u8::from(r.record.correct)));
                let (t, f) = record_cost(&r.record, false);
                let c = search_cost
                    .entry((strategy.to_string(), *budget))
                    .or_default();
                *c = (c.0 + t, c.1 + f, c.2 + 1);
            }
        }
    }
    let first_bank = banks.values().next().cloned().unwrap_or_default();
    if !bins_run {
        oracle_banks = first_bank.clone();
    }
    oracle_banks.resize(n, Bank::default());
    // Oracle bins: pass@1; predicted: the mean score of the bank's answered samples.
    let ease: Vec<f64> = oracle_banks
        .iter()
        .map(|b| b.right() as f64 / b.len().max(1) as f64)
        .collect();
    let predicted: Vec<f64> = (0..n)
        .map(|p| {
            let scores: Vec<f64> = first_bank
                .get(p)
                .map(|b| {
                    b.samples
                        .iter()
                        .filter(|s| s.class.is_some())
                        .map(|s| f64::from(s.score))
                        .collect()
                })
                .unwrap_or_default();
            mean(&scores)
        })
        .collect();
    let oracle_bins = quantile_bins(&ease, BINS);
    let predicted_bins = quantile_bins(&predicted, BINS);
    let bins = BinReport {
        problems: ids
            .iter()
            .enumerate()
            .map(|(p, id)| (id.clone(), oracle_bins[p], predicted_bins[p]))
            .collect(),
        oracle_sizes: bin_sizes(&oracle_bins, BINS),
        oracle_samples: oracle_banks.iter().map(Bank::len).max().unwrap_or(0),
        agreement: agreement(&oracle_bins, &predicted_bins),
        predicted_verifier_tokens: predicted_tokens,
    };
    let mut budgets = cfg.budgets.clone();
    budgets.sort_unstable();
    budgets.dedup();
    let mut series = Vec::new();
    let mut settings = Vec::new();
    let mut setting_specs: Vec<StrategySpec> = Vec::new();
    // Per setting, the accuracy of each problem it has finished (its `accuracy` is filled in
    // below with the problems every setting has finished).
    let mut partial: Vec<Vec<Option<f64>>> = Vec::new();
    // The sampling strategies, from the banks of every seed: every choice reads the same
    // draws, computed once per (seed, budget).
    let wanted = |choice: BankChoice| {
        StrategyKind::parse(choice.as_str()).is_ok_and(|k| cfg.strategies.contains(&k))
    };
    let credits: HashMap<(u64, usize), Vec<[Vec<f64>; 3]>> =
        if BankChoice::ALL.into_iter().any(wanted) {
            banks
                .iter()
                .flat_map(|(seed, bank)| {
                    budgets
                        .iter()
                        .map(move |&b| ((*seed, b), draw_all_credits(bank, b, cfg.draws, *seed)))
                })
                .collect()
        } else {
            HashMap::new()
        };
    let per_bank_sample = (
        bank_cost.0 / bank_cost.2.max(1) as f64,
        bank_cost.1 / bank_cost.2.max(1) as f64,
    );
    for (k, choice) in BankChoice::ALL.into_iter().enumerate() {
        let kind = StrategyKind::parse(choice.as_str()).unwrap_or(StrategyKind::Majority);
        if !cfg.strategies.contains(&kind) || banks.is_empty() {
            continue;
        }
        let label = if choice == BankChoice::Majority {
            choice.as_str().to_string()
        } else {
            format!("{} ({})", choice.as_str(), cfg.aggregation.as_str())
        };
        let mut points = Vec::with_capacity(budgets.len());
        for &b in &budgets {
            // Per problem: the mean over the seeds whose bank has it.
            let mut sum = vec![0.0; n];
            let mut seeds_of = vec![0usize; n];
            let mut draws_all = Vec::new();
            for (seed, has) in &bank_has {
                let Some(all) = credits.get(&(*seed, b)) else {
                    continue;
                };
                let of_choice: Vec<Vec<f64>> = all
                    .iter()
                    .zip(has)
                    .filter(|(_, &h)| h)
                    .map(|(c, _)| c[k].clone())
                    .collect();
                for (p, c) in all.iter().enumerate().filter(|(p, _)| has[*p]) {
                    sum[p] += mean(&c[k]);
                    seeds_of[p] += 1;
                }
                draws_all.extend(per_draw(&of_choice));
            }
            let per_problem: Vec<Option<f64>> = (0..n)
                .map(|p| (seeds_of[p] > 0).then(|| sum[p] / seeds_of[p] as f64))
                .collect();
            let s = summarise(b, draws_all);
            points.push(SeriesPoint {
                tokens: b as f64 * per_bank_sample.0,
                flops: b as f64 * per_bank_sample.1,
                ..point(
                    b,
                    b as f64,
                    &per_problem,
                    (s.low, s.high),
                    &oracle_bins,
                    &levels,
                )
            });
            settings.push(Setting {
                label: label.clone(),
                budget: b,
                cost: b as f64,
                accuracy: Vec::new(),
            });
            partial.push(per_problem);
            setting_specs.push(match choice {
                BankChoice::Majority => StrategySpec::Majority,
                BankChoice::BestOfN => StrategySpec::BestOfN {
                    aggregation: cfg.aggregation,
                },
                BankChoice::WeightedBestOfN => StrategySpec::WeightedBestOfN {
                    aggregation: cfg.aggregation,
                },
            });
        }
        series.push(Series {
            label,
            strategy: kind,
            points,
        });
    }
    // pass@n, the ceiling of choosing among n samples.
    if !banks.is_empty() {
        let points = budgets
            .iter()
            .map(|&b| {
                let per_problem: Vec<Option<f64>> = (0..n)
                    .map(|p| {
                        let of_seeds: Vec<f64> = banks
                            .iter()
                            .filter(|(seed, _)| bank_has.get(*seed).is_some_and(|h| h[p]))
                            .map(|(_, bk)| bk[p].pass_at(b))
                            .collect();
                        (!of_seeds.is_empty()).then(|| mean(&of_seeds))
                    })
                    .collect();
                let m = mean(&finished(&per_problem));
                SeriesPoint {
                    tokens: b as f64 * per_bank_sample.0,
                    flops: b as f64 * per_bank_sample.1,
                    ..point(b, b as f64, &per_problem, (m, m), &oracle_bins, &levels)
                }
            })
            .collect();
        series.push(Series {
            label: "pass@n".into(),
            strategy: StrategyKind::Majority,
            points,
        });
    }
    // Tree searches (and sampling strategies run afresh, as `run` does), at each budget.
    let mut pts: HashMap<(String, usize), (StrategyKind, SeriesPoint)> = HashMap::new();
    for ((label, budget), (kind, cost, per)) in &searches {
        let per_problem: Vec<Option<f64>> = per
            .iter()
            .map(|v| (!v.is_empty()).then(|| mean(v)))
            .collect();
        let done = finished(&per_problem);
        let m = mean(&done);
        let var =
            done.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (done.len().max(2) - 1) as f64;
        let half = 1.96 * (var / done.len().max(1) as f64).sqrt();
        let spent = search_cost
            .get(&(label.clone(), *budget))
            .copied()
            .unwrap_or_default();
        let pt = SeriesPoint {
            tokens: spent.0 / spent.2.max(1) as f64,
            flops: spent.1 / spent.2.max(1) as f64,
            ..point(
                *budget,
                *cost,
                &per_problem,
                ((m - half).max(0.0), (m + half).min(1.0)),
                &oracle_bins,
                &levels,
            )
        };
        settings.push(Setting {
            label: label.clone(),
            budget: *budget,
            cost: *cost,
            accuracy: Vec::new(),
        });
        partial.push(per_problem);
        setting_specs.push(specs.get(label).copied().unwrap_or(StrategySpec::Majority));
        pts.insert((label.clone(), *budget), (*kind, pt));
    }
    // One series per configured setting (a beam width of sqrt is one series across budgets,
    // its M growing with N); a run that feeds two series (sqrt(16) = 4) is in both.
    let mut used: std::collections::HashSet<(String, usize)> = Default::default();
    for (label, kind, members) in cfg.series_settings() {
        let points: Vec<SeriesPoint> = members
            .iter()
            .filter_map(|(n, spec)| {
                let key = (spec.to_string(), *n);
                let p = pts.get(&key).map(|p| p.1.clone());
                used.insert(key);
                p
            })
            .collect();
        if !points.is_empty() {
            series.push(Series {
                label,
                strategy: kind,
                points,
            });
        }
    }
    // Records of settings the configuration does not name (an edited sweep.json).
    let mut rest: BTreeMap<String, (StrategyKind, Vec<SeriesPoint>)> = BTreeMap::new();
    for (key, (kind, p)) in &pts {
        if !used.contains(key) {
            rest.entry(key.0.clone())
                .or_insert_with(|| (*kind, Vec::new()))
                .1
                .push(p.clone());
        }
    }
    for (label, (kind, mut points)) in rest {
        points.sort_by_key(|p| p.budget);
        series.push(Series {
            label,
            strategy: kind,
            points,
        });
    }
    // Compute-optimal choices compare settings on the same problems: those every setting has
    // finished (all of them, once the sweep is complete).
    let complete: Vec<usize> = (0..n)
        .filter(|&p| partial.iter().all(|acc| acc[p].is_some()))
        .collect();
    for (s, acc) in settings.iter_mut().zip(&partial) {
        s.accuracy = complete.iter().filter_map(|&p| acc[p]).collect();
    }
    let oracle_bins_c: Vec<usize> = complete.iter().map(|&p| oracle_bins[p]).collect();
    let predicted_bins_c: Vec<usize> = complete.iter().map(|&p| predicted_bins[p]).collect();
    let optimal = compute_optimal(&settings, &oracle_bins_c, BINS, CV_SPLITS, 0);
    let bon: Vec<(f64, f64)> = series
        .iter()
        .find(|s| s.strategy == StrategyKind::WeightedBestOfN)
        .map(|s| s.points.iter().map(|p| (p.cost, p.accuracy)).collect())
        .unwrap_or_default();
    let efficiency = optimal
        .iter()
        .filter(|o| o.bin == 0)
        .map(|o| Efficiency {
            cost: o.cost,
            optimal: o.accuracy,
            gain: budget_to_reach(&bon, o.accuracy).map(|b| b / o.cost),
        })
        .collect();
    let optimal_predicted = compute_optimal(&settings, &predicted_bins_c, BINS, CV_SPLITS, 0);
    // The table: per predicted bin and budget, the choice on all of the bin's problems.
    let table = (!settings.is_empty() && !banks.is_empty()).then(|| {
        let mut costs: Vec<f64> = settings.iter().map(|s| s.cost).collect();
        costs.sort_by(f64::total_cmp);
        costs.dedup();
        let mut entries = Vec::new();
        for &cost in &costs {
            for b in 1..=BINS {
                let members: Vec<usize> = (0..complete.len())
                    .filter(|&p| predicted_bins_c[p] == b)
                    .collect();
                if members.is_empty() {
                    continue;
                }
                if let Some(c) = choose(&settings, cost, &members) {
                    entries.push(TableEntry {
                        cost,
                        bin: b,
                        strategy: setting_specs[c],
                        budget: settings[c].budget,
                        accuracy: mean(
                            &members
                                .iter()
                                .map(|&p| settings[c].accuracy[p])
                                .collect::<Vec<_>>(),
                        ),
                    });
                }
            }
        }
        OptimalTable {
            sweep: cfg.clone(),
            thresholds: thresholds(&predicted, &predicted_bins, BINS),
            predict_samples: first_bank.iter().map(Bank::len).max().unwrap_or(0),
            entries,
        }
    });
    // The FLOPs exchange: the larger policy's greedy accuracy per oracle bin.
    let facts = |role: &str| manifest.policies.iter().find(|f| f.role == role);
    // A model typed in (for `--load`, asked for now) comes before a larger policy's run.
    let exchange = match (facts("policy"), facts("larger-policy"), &cfg.larger_typed) {
        (Some(s), _, Some(t)) => Some(exchange(
            &optimal,
            BINS,
            t.accuracy.clone(),
            (s.params, s.pretrain_tokens),
            (t.params, t.pretrain_tokens),
            &cfg.exchange_ratios,
        )),
        (Some(s), Some(l), None) if larger.iter().any(Option::is_some) => {
            let acc = |bin: usize| {
                mean(
                    &(0..n)
                        .filter(|&p| bin == 0 || oracle_bins[p] == bin)
                        .filter_map(|p| larger[p])
                        .collect::<Vec<_>>(),
                )
            };
            Some(exchange(
                &optimal,
                BINS,
                (0..=BINS).map(acc).collect(),
                (s.params, s.pretrain_tokens),
                (l.params, l.pretrain_tokens),
                &cfg.exchange_ratios,
            ))
        }
        _ => None,
    };
    SweepCurves {
        problems: n,
        series,
        bins,
        optimal,
        efficiency,
        optimal_predicted,
        table,
        exchange,
    }
}

impl SweepCurves {
    /// Every series point as CSV: `strategy,budget,cost,accuracy,low,high,bin1..bin5`.
    pub fn csv(&self) -> String {
        let mut s = String::from("strategy,budget,generations,accuracy,low,high");
        for b in 1..=BINS {
            s.push_str(&format!(",bin{b}"));
        }
        s.push('\n');
        for series in &self.series {
            for p in &series.points {
                s.push_str(&format!(
                    "\"{}\",{},{},{:.6},{:.6},{:.6}",
                    series.label, p.budget, p.cost, p.accuracy, p.low, p.high
                ));
                for a in &p.per_bin {
                    s.push_str(&format!(",{a:.6}"));
                }
                s.push('\n');
            }
        }
        s
    }

    /// The accuracy table as Markdown: a row per setting, a column per budget; a point that
    /// not every problem has finished yet says over how many it is (`0.500 (n = 4)`).
    pub fn markdown(&self) -> String {
        let mut budgets: Vec<usize> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.budget))
            .collect();
        budgets.sort_unstable();
        budgets.dedup();
        let mut s = String::from("| strategy |");
        for b in &budgets {
            s.push_str(&format!(" N={b} |"));
        }
        s.push_str("\n|---|");
        s.push_str(&"---|".repeat(budgets.len()));
        s.push('\n');
        for series in &self.series {
            s.push_str(&format!("| {} |", series.label));
            for b in &budgets {
                match series.points.iter().find(|p| p.budget == *b) {
                    Some(p) if p.n > 0 && p.n < self.problems => {
                        s.push_str(&format!(" {:.3} (n = {}) |", p.accuracy, p.n))
                    }
                    Some(p) => s.push_str(&format!(" {:.3} |", p.accuracy)),
                    None => s.push_str(" – |"),
                }
            }
            s.push('\n');
        }
        s
    }

    /// The compute-optimal table as Markdown: per compute budget, the chosen setting and the
    /// cross-validated accuracy of each bin, then all bins and the efficiency gain.
    pub fn optimal_markdown(&self) -> String {
        let mut s = String::from("| generations |");
        for b in 1..=BINS {
            s.push_str(&format!(" bin {b} |"));
        }
        s.push_str(" all | gain vs weighted best-of-N |\n|---|");
        s.push_str(&"---|".repeat(BINS + 2));
        s.push('\n');
        for e in &self.efficiency {
            s.push_str(&format!("| {} |", e.cost));
            for b in 1..=BINS {
                match self.optimal.iter().find(|o| o.cost == e.cost && o.bin == b) {
                    Some(o) => s.push_str(&format!(" {:.3} {} |", o.accuracy, o.chosen)),
                    None => s.push_str(" – |"),
                }
            }
            s.push_str(&format!(
                " {:.3} | {} |\n",
                e.optimal,
                e.gain
                    .map_or("not reached".to_string(), |g| format!("{g:.2}x"))
            ));
        }
        s
    }
}
