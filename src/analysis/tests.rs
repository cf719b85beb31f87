//! The numbers a researcher reports, against fixtures whose every value is worked out by hand
//! in the comments: a sweep's curves (majority with fractional tie credit, best-of-N and
//! weighted best-of-N below the bank's size, unbiased pass@n, points per level and per
//! difficulty bin, the 95% bands, tokens and FLOPs), its difficulty bins, compute-optimal
//! choices, efficiency gains and table; the AUCs; and the model-card evaluation.
//!
//! Where a curve is read from random subsets of a bank (a budget below the bank's size), the
//! exact expectation over all subsets is worked out here and the draws' mean must lie within
//! four standard deviations of it (the bound is derived where it is used); everything else is
//! exact.

use super::sweep::{curves, Series, SeriesPoint, SweepCurves};
use super::{auc, concordance, evaluation};
use crate::engine::ComputeMeter;
use crate::runner::sweep::{SweepConfig, SweepManifest, SweepRecord, SweepRun};
use crate::search::{Candidate, Step, StrategySpec};
use crate::store::{Judged, Record};

/// A config of a sweep from its JSON form (`sweep.json`'s `config`), defaults filled in.
fn config(json: serde_json::Value) -> SweepConfig {
    serde_json::from_value(json).expect("a valid sweep configuration")
}

fn manifest(config: SweepConfig) -> SweepManifest {
    SweepManifest {
        config,
        models: Vec::new(),
        policies: Vec::new(),
        thinkscale_version: "test".into(),
        problems: Vec::new(),
    }
}

/// A candidate without steps: its answer, whether that is right, its score.
fn sample(answer: Option<&str>, correct: bool, score: f32) -> Candidate {
    Candidate {
        steps: Vec::new(),
        answer: answer.map(Into::into),
        correct: Some(correct),
        score,
        tokens: 0,
        leaf: 0,
    }
}

fn record(id: &str, level: u8, reference: &str, candidates: Vec<Candidate>) -> Record {
    Record {
        id: id.into(),
        level: Some(level),
        question: String::new(),
        reference: reference.into(),
        answer: None,
        correct: false,
        candidates,
        compute: ComputeMeter::default(),
        seed: 0,
        tree: None,
        chosen: None,
        judged: Vec::new(),
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

// ---------------------------------------------------------------------------------------------
// The sweep fixture.
//
// Five problems, each with a bank of four samples (answer, score); a sample is right when its
// answer is the reference:
//
//   p0 (level 1, ref 10): 10 .9 | 10 .8 | 11 .7 | 12 .6          pass@1 = 2/4
//   p1 (level 1, ref 20): 20 .95 | 21 .3 | 21 .3 | 22 .1         pass@1 = 1/4
//   p2 (level 2, ref 30): 30 .4 | 30 .4 | 31 .7 | 30 .1          pass@1 = 3/4
//   p3 (level 2, ref 40): (none) 1.0 | 40 .5 | 41 .5 | 41 .25    pass@1 = 1/4
//   p4 (level 3, ref 50): 51 .6 | 52 .5 | 51 .4 | 53 .3          pass@1 = 0
//
// p3's first sample has no answer: it takes part in no choice (its 1.0 is never best).
//
// Per-subset credits (a tie among k answers, r of them right, is worth r/k):
//
// n = 4 (the whole bank; every draw is the same):
//              majority         best-of-N              weighted best-of-N
//   p0         10 (2 votes) 1   .9 right 1             10: 1.7 vs .7, .6 -> 1
//   p1         21 (2 votes) 0   .95 right 1            20: .95 vs 21: .6 -> 1
//   p2         30 (3 votes) 1   .7 wrong 0             30: .9 vs 31: .7 -> 1
//   p3         41 (2 votes) 0   .5 tie 40/41 -> 1/2    40: .5 vs 41: .75 -> 0
//   p4         0                0                      0
//   mean       2/5 = .4         2.5/5 = .5             3/5 = .6
//
// n = 3: the four subsets leave out one sample (s0, s1, s2, s3 in turn):
//   p0  majority [1/3, 1/3, 1, 1] = 2/3; best [1, 1, 1, 1] = 1;     weighted [1, 1, 1, 1] = 1
//   p1  majority [0, 1/3, 1/3, 0] = 1/6; best [0, 1, 1, 1] = 3/4;   weighted [0, 1, 1, 1] = 3/4
//   p2  majority [1, 1, 1, 1] = 1;       best [0, 0, 1, 0] = 1/4;   weighted [0, 0, 1, 1] = 1/2
//       (without s3: 30 has .4 + .4 = .8 > .7; without s0 or s1: .5 < .7)
//   p3  majority [0, 0, 1/2, 1/2] = 1/4; best [1/2, 0, 1, 1/2] = 1/2;
//       weighted [0, 0, 1, 1/2] = 3/8    (without s0: 40 .5 vs 41 .75; without s3: .5 vs .5)
//   mean majority (2/3 + 1/6 + 1 + 1/4) / 5 = 5/12; best 2.5/5 = .5; weighted 2.625/5 = .525
//
// n = 2: subsets {01, 02, 03, 12, 13, 23} (credits in that order, see MAJORITY_2):
//   best-of-N and weighted best-of-N agree on every pair (two samples of one answer are chosen
//   by both; of two answers, the higher score is also the larger sum):
//   p0 [1, 1, 1, 1, 1, 0] = 5/6; p1 [1, 1, 1, 0, 0, 0] = 1/2; p2 [1, 0, 1, 0, 1, 0] = 1/2;
//   p3 [1, 0, 0, 1/2, 1, 0] = 5/12  -> mean (5/6 + 1/2 + 1/2 + 5/12) / 5 = .45
//
// n = 1: every choice takes the one sample: the mean is pass@1, (2 + 1 + 3 + 1 + 0)/4/5 = .35.
//
// pass@n = 1 - C(s - r, n) / C(s, n) with s = 4:
//   n = 2: p0 1 - 1/6, p1 1 - 3/6, p2 1, p3 1 - 3/6, p4 0 -> 17/30
//   n = 3: p0 1, p1 1 - 1/4, p2 1, p3 1 - 1/4, p4 0      -> 3.5/5 = .7
//   n = 4: 4/5 = .8
// ---------------------------------------------------------------------------------------------

/// (reference, level, bank samples (answer, score)).
type Problem = (&'static str, u8, [(Option<&'static str>, f32); 4]);

const BANKS: [Problem; 5] = [
    (
        "10",
        1,
        [
            (Some("10"), 0.9),
            (Some("10"), 0.8),
            (Some("11"), 0.7),
            (Some("12"), 0.6),
        ],
    ),
    (
        "20",
        1,
        [
            (Some("20"), 0.95),
            (Some("21"), 0.3),
            (Some("21"), 0.3),
            (Some("22"), 0.1),
        ],
    ),
    (
        "30",
        2,
        [
            (Some("30"), 0.4),
            (Some("30"), 0.4),
            (Some("31"), 0.7),
            (Some("30"), 0.1),
        ],
    ),
    (
        "40",
        2,
        [
            (None, 1.0),
            (Some("40"), 0.5),
            (Some("41"), 0.5),
            (Some("41"), 0.25),
        ],
    ),
    (
        "50",
        3,
        [
            (Some("51"), 0.6),
            (Some("52"), 0.5),
            (Some("51"), 0.4),
            (Some("53"), 0.3),
        ],
    ),
];

/// Majority's credit on each pair of samples, in the order {01, 02, 03, 12, 13, 23}:
///   p0: 10+10 -> 1; 10/11, 10/12, 10/11, 10/12 ties -> 1/2; 11/12 (both wrong) -> 0
///   p1: 20/21 ties x3 -> 1/2; 21+21 -> 0; 21/22, 21/22 -> 0
///   p2: 30+30 -> 1; 30/31 -> 1/2; 30+30 -> 1; 30/31 -> 1/2; 30+30 -> 1; 31/30 -> 1/2
///   p3: only 40 answered -> 1; only 41 -> 0, 0; 40/41 -> 1/2, 1/2; 41+41 -> 0
/// Means: 1/2, 1/4, 3/4, 1/3, 0; over problems 11/30.
const MAJORITY_2: [[f64; 6]; 5] = [
    [1.0, 0.5, 0.5, 0.5, 0.5, 0.0],
    [0.5, 0.5, 0.5, 0.0, 0.0, 0.0],
    [1.0, 0.5, 1.0, 0.5, 1.0, 0.5],
    [1.0, 0.0, 0.0, 0.5, 0.5, 0.0],
    [0.0; 6],
];

/// Whether each problem's beam search (M = 2) was right at N = 2 and N = 4.
const BEAM_2: [bool; 5] = [true, false, false, false, false];
const BEAM_4: [bool; 5] = [true, true, false, true, false];

/// Draws per budget: the draws' mean of one problem's credit (in [0, 1], variance at most
/// 1/4) has a standard deviation of at most 0.5 / sqrt(4000) = 0.0079; over five problems
/// drawn independently, at most sqrt(5 / 4 / 25 / 4000) = 0.0035. Four of them:
const DRAWS: usize = 4000;
const TOL_PROBLEM: f64 = 0.032;
const TOL_MEAN: f64 = 0.015;

fn sweep_config() -> SweepConfig {
    config(serde_json::json!({
        "dataset": {"kind": "toy"},
        "policy": "models/toy/policy",
        "verifier": "oracle",
        "strategies": ["majority", "best-of-n", "weighted-best-of-n", "beam"],
        "budgets": [1, 2, 3, 4],
        "beam_widths": [2],
        "seeds": [0],
        "draws": DRAWS,
        "bin_samples": 0,
    }))
}

/// The beam search setting the sweep runs at budget `n`.
fn beam_at(cfg: &SweepConfig, n: usize) -> StrategySpec {
    cfg.runs()
        .into_iter()
        .find_map(|r| match r {
            SweepRun::Search {
                strategy, budget, ..
            } if budget == n => Some(strategy),
            _ => None,
        })
        .expect("beam search runs at this budget")
}

/// The records of the fixture: a bank per problem, then beam search at N = 2 and 4.
///
/// Compute: problem i's bank record generated 40(i+1) tokens (10(i+1) per sample; 30 per
/// sample on average) and spent 1000(i+1) policy and 200(i+1) verifier FLOPs (900 per sample
/// on average); its beam record at N generated 20N + i tokens (20N + 2 on average) for 100N
/// policy FLOPs.
fn sweep_records(cfg: &SweepConfig) -> Vec<SweepRecord> {
    let mut out = Vec::new();
    for (i, (reference, level, samples)) in BANKS.iter().enumerate() {
        let candidates = samples
            .iter()
            .map(|&(a, s)| sample(a, a == Some(*reference), s))
            .collect();
        let mut r = record(&format!("p{i}"), *level, reference, candidates);
        let k = (i + 1) as u64;
        r.compute = ComputeMeter {
            generated_tokens: 40 * k,
            verifier_tokens: 7,
            policy_flops: 1000.0 * k as f64,
            verifier_flops: 200.0 * k as f64,
            ..Default::default()
        };
        out.push(SweepRecord {
            run: SweepRun::Bank { budget: 4, seed: 0 },
            record: r,
        });
    }
    for (n, right) in [(2, BEAM_2), (4, BEAM_4)] {
        for (i, (reference, level, _)) in BANKS.iter().enumerate() {
            let mut r = record(&format!("p{i}"), *level, reference, Vec::new());
            r.correct = right[i];
            r.compute = ComputeMeter {
                generated_tokens: (20 * n + i) as u64,
                policy_flops: 100.0 * n as f64,
                ..Default::default()
            };
            out.push(SweepRecord {
                run: SweepRun::Search {
                    strategy: beam_at(cfg, n),
                    budget: n,
                    seed: 0,
                },
                record: r,
            });
        }
    }
    out
}

fn fixture() -> SweepCurves {
    let cfg = sweep_config();
    let records = sweep_records(&cfg);
    curves(&manifest(cfg), &records)
}

fn series<'a>(c: &'a SweepCurves, label: &str) -> &'a Series {
    c.series
        .iter()
        .find(|s| s.label == label)
        .unwrap_or_else(|| panic!("no series {label}: {:?}", labels(c)))
}

fn labels(c: &SweepCurves) -> Vec<&str> {
    c.series.iter().map(|s| s.label.as_str()).collect()
}

fn at(s: &Series, n: usize) -> &SeriesPoint {
    s.points
        .iter()
        .find(|p| p.budget == n)
        .unwrap_or_else(|| panic!("{} has no point at {n}", s.label))
}

// The oracle bins come from the bank's pass@1 (no bins run): p2 .75 -> bin 1, p0 .5 -> 2,
// p1 .25 -> 3, p3 .25 -> 4 (a tie keeps the problems' order), p4 0 -> 5. One problem a bin, so
// a point's `per_bin` lists its problems' accuracies in the order p2, p0, p1, p3, p4.
const BIN_ORDER: [usize; 5] = [2, 0, 1, 3, 4];

#[test]
fn the_whole_bank_gives_exact_points_with_tie_credit_per_level_and_per_bin() {
    let c = fixture();
    assert_eq!(c.problems, 5);
    assert_eq!(
        labels(&c),
        [
            "majority",
            "best-of-n (last)",
            "weighted-best-of-n (last)",
            "pass@n",
            "beam (M = 2, last)"
        ]
    );
    // n = 4 reads the whole bank: every draw is the same subset, so the point is exact and
    // its band has no width.
    let exact = [
        // (series, accuracy, per problem p0..p4, per level 1, 2, 3)
        ("majority", 0.4, [1.0, 0.0, 1.0, 0.0, 0.0], [0.5, 0.5, 0.0]),
        (
            "best-of-n (last)",
            0.5,
            [1.0, 1.0, 0.0, 0.5, 0.0],
            [1.0, 0.25, 0.0],
        ),
        (
            "weighted-best-of-n (last)",
            0.6,
            [1.0, 1.0, 1.0, 0.0, 0.0],
            [1.0, 0.5, 0.0],
        ),
        ("pass@n", 0.8, [1.0, 1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0]),
    ];
    for (label, acc, per_problem, per_level) in exact {
        let p = at(series(&c, label), 4);
        assert!(close(p.accuracy, acc, 1e-12), "{label}: {p:?}");
        assert_eq!((p.low, p.high), (p.accuracy, p.accuracy), "{label}");
        let bins: Vec<f64> = BIN_ORDER.iter().map(|&i| per_problem[i]).collect();
        assert_eq!(p.per_bin, bins, "{label}");
        let levels: Vec<(u8, f64)> = p.per_level.iter().map(|(l, a)| (*l, *a)).collect();
        assert_eq!(
            levels,
            vec![(1, per_level[0]), (2, per_level[1]), (3, per_level[2])],
            "{label}"
        );
        assert_eq!(p.cost, 4.0);
    }
}

#[test]
fn budgets_below_the_bank_estimate_the_exact_expectation_over_all_subsets() {
    let c = fixture();
    let majority = series(&c, "majority");
    let best = series(&c, "best-of-n (last)");
    let weighted = series(&c, "weighted-best-of-n (last)");
    // (budget, series, exact mean, exact per problem p0..p4), worked out above.
    let cases: [(usize, &Series, f64, [f64; 5]); 9] = [
        (1, majority, 0.35, [0.5, 0.25, 0.75, 0.25, 0.0]),
        (1, best, 0.35, [0.5, 0.25, 0.75, 0.25, 0.0]),
        (1, weighted, 0.35, [0.5, 0.25, 0.75, 0.25, 0.0]),
        (2, majority, 11.0 / 30.0, [0.5, 0.25, 0.75, 1.0 / 3.0, 0.0]),
        (2, best, 0.45, [5.0 / 6.0, 0.5, 0.5, 5.0 / 12.0, 0.0]),
        (2, weighted, 0.45, [5.0 / 6.0, 0.5, 0.5, 5.0 / 12.0, 0.0]),
        (
            3,
            majority,
            5.0 / 12.0,
            [2.0 / 3.0, 1.0 / 6.0, 1.0, 0.25, 0.0],
        ),
        (3, best, 0.5, [1.0, 0.75, 0.25, 0.5, 0.0]),
        (3, weighted, 0.525, [1.0, 0.75, 0.5, 0.375, 0.0]),
    ];
    for (n, s, mean, per_problem) in cases {
        let p = at(s, n);
        assert!(
            close(p.accuracy, mean, TOL_MEAN),
            "{} at {n}: {} vs exact {mean}",
            s.label,
            p.accuracy
        );
        assert_eq!(p.per_bin.len(), 5);
        for (b, &i) in BIN_ORDER.iter().enumerate() {
            assert!(
                close(p.per_bin[b], per_problem[i], TOL_PROBLEM),
                "{} at {n}, p{i}: {} vs exact {}",
                s.label,
                p.per_bin[b],
                per_problem[i]
            );
        }
        // A credit that is the same on every subset is the same on every draw.
        for (b, &i) in BIN_ORDER.iter().enumerate() {
            if per_problem[i] == 0.0 || per_problem[i] == 1.0 {
                assert_eq!(p.per_bin[b], per_problem[i], "{} at {n}, p{i}", s.label);
            }
        }
        assert!(p.low <= p.accuracy && p.accuracy <= p.high, "{p:?}");
    }
    // At n = 1 every choice reads the same draws of one sample each: the same numbers.
    assert_eq!(at(majority, 1).per_bin, at(best, 1).per_bin);
    assert_eq!(at(best, 1).per_bin, at(weighted, 1).per_bin);
}

#[test]
fn the_band_of_a_bank_point_is_the_spread_of_its_draws() {
    // Majority at n = 2: a draw picks one of the six pairs of every problem independently, so
    // the per-draw accuracy (the mean over five problems) takes the distribution of
    // (c0 + c1 + c2 + c3 + c4) / 5 over the 6^5 equally likely choices of MAJORITY_2's
    // columns. The band is its 2.5th and 97.5th percentiles; the empirical ones of 4000 draws
    // lie between the exact 1st and 5th (95th and 99th) percentiles with overwhelming
    // probability (a binomial count of 4000 at 2.5% has standard deviation 9.9 of its 100).
    let mut values = Vec::with_capacity(6usize.pow(5));
    for k in 0..6usize.pow(5) {
        let mut sum = 0.0;
        let mut rest = k;
        for row in &MAJORITY_2 {
            sum += row[rest % 6];
            rest /= 6;
        }
        values.push(sum / 5.0);
    }
    values.sort_by(f64::total_cmp);
    let exact_mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!(close(exact_mean, 11.0 / 30.0, 1e-12));
    let q = |x: f64| values[((values.len() - 1) as f64 * x).round() as usize];
    let c = fixture();
    let p = at(series(&c, "majority"), 2);
    assert!(
        q(0.01) - 1e-9 <= p.low && p.low <= q(0.05) + 1e-9,
        "low {} not in [{}, {}]",
        p.low,
        q(0.01),
        q(0.05)
    );
    assert!(
        q(0.95) - 1e-9 <= p.high && p.high <= q(0.99) + 1e-9,
        "high {} not in [{}, {}]",
        p.high,
        q(0.95),
        q(0.99)
    );
    assert!(p.low < p.accuracy && p.accuracy < p.high);
    // Every credit is 0, 1/2 or 1, so a draw's accuracy is a multiple of 1/10.
    for v in [p.low, p.high] {
        assert!(close(v * 10.0, (v * 10.0).round(), 1e-9), "{v}");
    }
}

#[test]
fn a_band_is_the_2_5th_and_97_5th_percentile_of_the_draws() {
    // 1000 draws with accuracies 0, 0.001, ..., 0.999 in a scrambled order: the mean is 0.4995;
    // the percentiles are the sorted draws at ranks round(999 x 0.025) = 25 and
    // round(999 x 0.975) = 974, i.e. 0.025 and 0.974.
    let draws: Vec<f64> = (0..1000)
        .map(|i| ((i * 379) % 1000) as f64 / 1000.0)
        .collect();
    let p = super::bank::summarise(8, draws);
    assert_eq!(p.budget, 8);
    assert!(close(p.accuracy, 0.4995, 1e-12), "{p:?}");
    assert_eq!((p.low, p.high), (0.025, 0.974));
    // One draw: no spread. No draws: zeros.
    let one = super::bank::summarise(1, vec![0.25]);
    assert_eq!((one.accuracy, one.low, one.high), (0.25, 0.25, 0.25));
    let none = super::bank::summarise(1, Vec::new());
    assert_eq!((none.accuracy, none.low, none.high), (0.0, 0.0, 0.0));
}

#[test]
fn pass_at_n_is_exact_and_has_no_band() {
    let c = fixture();
    let pass = series(&c, "pass@n");
    for (n, exact) in [(1, 0.35), (2, 17.0 / 30.0), (3, 0.7), (4, 0.8)] {
        let p = at(pass, n);
        assert!(close(p.accuracy, exact, 1e-12), "pass@{n}: {p:?}");
        assert_eq!((p.low, p.high), (p.accuracy, p.accuracy));
    }
    // Per problem at n = 2 (bins in the order p2, p0, p1, p3, p4): 1, 5/6, 1/2, 1/2, 0.
    let want = [1.0, 5.0 / 6.0, 0.5, 0.5, 0.0];
    for (got, want) in at(pass, 2).per_bin.iter().zip(want) {
        assert!(close(*got, want, 1e-12), "{:?}", at(pass, 2).per_bin);
    }
}

#[test]
fn tree_searches_get_the_mean_over_problems_and_a_normal_band_clamped_to_0_1() {
    let c = fixture();
    let beam = series(&c, "beam (M = 2, last)");
    // Run at N = 2 and 4 only (M = 2 divides neither 1 nor 3).
    let budgets: Vec<usize> = beam.points.iter().map(|p| p.budget).collect();
    assert_eq!(budgets, [2, 4]);
    // N = 2: right on p0 alone. Mean 1/5; sample variance (.8^2 + 4 x .2^2) / 4 = .2; standard
    // error sqrt(.2 / 5) = .2; band .2 -/+ 1.96 x .2 = [-.192, .592], clamped below at 0.
    let p = at(beam, 2);
    assert!(close(p.accuracy, 0.2, 1e-12), "{p:?}");
    assert_eq!(p.low, 0.0);
    assert!(close(p.high, 0.592, 1e-12), "{p:?}");
    assert_eq!(p.per_bin, [0.0, 1.0, 0.0, 0.0, 0.0]);
    assert_eq!(p.cost, 2.0);
    // N = 4: right on p0, p1, p3. Mean 3/5; variance (3 x .4^2 + 2 x .6^2) / 4 = .3; standard
    // error sqrt(.06) = .244949; band [.6 - .480100, 1.080100] clamped above at 1.
    let p = at(beam, 4);
    assert!(close(p.accuracy, 0.6, 1e-12), "{p:?}");
    assert!(close(p.low, 0.6 - 1.96 * 0.06f64.sqrt(), 1e-12), "{p:?}");
    assert!(close(p.low, 0.119900, 1e-6), "{p:?}");
    assert_eq!(p.high, 1.0);
    assert_eq!(p.per_bin, [0.0, 1.0, 1.0, 1.0, 0.0]);
    let levels: Vec<(u8, f64)> = p.per_level.iter().map(|(l, a)| (*l, *a)).collect();
    assert_eq!(levels, [(1, 1.0), (2, 0.5), (3, 0.0)]);
}

#[test]
fn points_carry_tokens_and_flops_per_problem() {
    let c = fixture();
    // A bank point at n: n samples' worth, 30 tokens and 900 FLOPs a sample on average.
    for label in ["majority", "weighted-best-of-n (last)", "pass@n"] {
        for n in 1..=4 {
            let p = at(series(&c, label), n);
            assert!(close(p.tokens, 30.0 * n as f64, 1e-9), "{label} {p:?}");
            assert!(close(p.flops, 900.0 * n as f64, 1e-9), "{label} {p:?}");
        }
    }
    // A search point: its own records' mean, 20N + 2 tokens and 100N FLOPs.
    let beam = series(&c, "beam (M = 2, last)");
    assert!(close(at(beam, 2).tokens, 42.0, 1e-9));
    assert!(close(at(beam, 4).tokens, 82.0, 1e-9));
    assert!(close(at(beam, 4).flops, 400.0, 1e-9));
    // The predicted bins' scoring is the banks' verifier tokens: 7 per problem.
    assert_eq!(c.bins.predicted_verifier_tokens, 35);
}

#[test]
fn oracle_and_predicted_bins_and_their_agreement() {
    let c = fixture();
    // Predicted difficulty: the mean score of a problem's answered bank samples:
    //   p0 (.9 + .8 + .7 + .6) / 4 = .75;  p1 (.95 + .3 + .3 + .1) / 4 = .4125;
    //   p2 (.4 + .4 + .7 + .1) / 4 = .4;   p3 (.5 + .5 + .25) / 3 = .41667 (the unanswered
    //   sample's 1.0 left out);            p4 (.6 + .5 + .4 + .3) / 4 = .45
    // -> bins p0 1, p4 2, p3 3, p1 4, p2 5.
    let bins: Vec<(String, usize, usize)> = c.bins.problems.clone();
    assert_eq!(
        bins,
        [
            ("p0".to_string(), 2, 1),
            ("p1".to_string(), 3, 4),
            ("p2".to_string(), 1, 5),
            ("p3".to_string(), 4, 3),
            ("p4".to_string(), 5, 2),
        ]
    );
    assert_eq!(c.bins.oracle_sizes, [1, 1, 1, 1, 1]);
    assert_eq!(c.bins.oracle_samples, 4);
    // No problem in the same bin; p0, p1 and p3 one apart: 3 of 5.
    assert_eq!(c.bins.agreement.same, 0.0);
    assert!(close(c.bins.agreement.within_one, 0.6, 1e-12));
    // The table's cuts: midpoints between neighbouring bins' scores, high to low:
    //   (.75 + .45)/2 = .6, (.45 + .41667)/2 = .43333, (.41667 + .4125)/2 = .41458,
    //   (.4125 + .4)/2 = .40625 (scores are f32, hence the tolerance).
    let table = c.table.as_ref().expect("a table");
    let want = [0.6, 0.433_333, 0.414_583, 0.406_25];
    assert_eq!(table.thresholds.len(), 4);
    for (got, want) in table.thresholds.iter().zip(want) {
        assert!(close(*got, want, 1e-6), "{:?}", table.thresholds);
    }
    assert_eq!(table.predict_samples, 4);
    // Each problem's own mean falls in its own bin.
    for (p, b) in [(0.75, 1), (0.45, 2), (0.4167, 3), (0.4125, 4), (0.4, 5)] {
        assert_eq!(table.bin_of(p), b, "{p}");
    }
}

#[test]
fn compute_optimal_chooses_per_bin_with_ties_to_the_cheaper_and_reports_its_gain() {
    let c = fixture();
    // At 4 generations every setting competes. One problem per bin, so each bin's choice is
    // the best on its problem (cross-validation falls back to it, there being nothing else to
    // train on); among equals the cheaper, then the first listed (majority, best-of-N,
    // weighted, by budget, then the searches):
    //   bin 1 (p2): majority at 3 (right on every triple), cheaper than majority or weighted
    //               at 4;
    //   bin 2 (p0): beam at N = 2 (right), cheaper than every right choice at 3 or 4;
    //   bin 3 (p1): best-of-N at 4 (first of best-of-N, weighted and beam at 4);
    //   bin 4 (p3): beam at 4, the only one right on it;
    //   bin 5 (p4): nothing is ever right: majority at 1, the cheapest.
    let chosen: Vec<(usize, &str, usize, f64)> = c
        .optimal
        .iter()
        .filter(|o| o.cost == 4.0)
        .map(|o| {
            let acc = (o.accuracy * 1e9).round() / 1e9;
            (o.bin, o.chosen.as_str(), o.chosen_budget, acc)
        })
        .collect();
    assert_eq!(
        chosen,
        [
            (1, "majority", 3, 1.0),
            (2, "beam (M = 2, last)", 2, 1.0),
            (3, "best-of-n (last)", 4, 1.0),
            (4, "beam (M = 2, last)", 4, 1.0),
            (5, "majority", 1, 0.0),
            (0, "per bin", 0, 0.8),
        ]
    );
    let all4 = c.optimal.iter().find(|o| o.cost == 4.0 && o.bin == 0);
    assert!(all4.is_some_and(|o| o.spread < 1e-12), "{all4:?}");
    // Efficiency against weighted best-of-N (curve (1, .35), (2, ~.45), (3, ~.525), (4, .6)):
    let gain = |cost: f64| {
        c.efficiency
            .iter()
            .find(|e| e.cost == cost)
            .unwrap_or_else(|| panic!("no efficiency at {cost}"))
    };
    // At 1 generation the optimum is the same draws as weighted best-of-N's: a gain of 1.
    let g1 = gain(1.0);
    assert!(close(g1.optimal, 0.35, TOL_MEAN));
    assert!(close(g1.gain.unwrap_or(f64::NAN), 1.0, 1e-9), "{g1:?}");
    // At 4 the optimum, .8, is beyond weighted best-of-N's best (.6): not reached.
    assert_eq!(gain(4.0).gain, None);
    assert!(close(gain(4.0).optimal, 0.8, 1e-12));
    // At 2 the optimum takes each problem's best setting costing at most 2: p0 beam 1, p1
    // ~1/2, p2 ~3/4, p3 ~5/12, p4 0, about 2.667 / 5 = .533; weighted best-of-N crosses it
    // between its points at 3 (~.525) and 4 (.6) or, by chance of the draws, between 2 and 3.
    // The budget it needs is read on the log2 axis: 2^(log2 b0 + t (log2 b1 - log2 b0)).
    let g2 = gain(2.0);
    assert!(close(g2.optimal, 2.667 / 5.0, 0.03), "{g2:?}");
    let w: Vec<(f64, f64)> = series(&c, "weighted-best-of-n (last)")
        .points
        .iter()
        .map(|p| (p.cost, p.accuracy))
        .collect();
    let seg = w
        .windows(2)
        .find(|s| s[0].1 < g2.optimal && s[1].1 >= g2.optimal)
        .expect("weighted best-of-N crosses the optimum at 2");
    let t = (g2.optimal - seg[0].1) / (seg[1].1 - seg[0].1);
    let needed = (seg[0].0.log2() + t * (seg[1].0.log2() - seg[0].0.log2())).exp2();
    assert!(
        close(g2.gain.unwrap_or(f64::NAN), needed / 2.0, 1e-9),
        "{g2:?}"
    );
    assert!((1.25..=1.6).contains(&(needed / 2.0)), "{needed}");
    // The table says "not reached" where it was not.
    let md = c.optimal_markdown();
    let row4 = md.lines().find(|l| l.starts_with("| 4 |")).unwrap_or("");
    assert!(row4.ends_with("| 0.800 | not reached |"), "{md}");
}

#[test]
fn the_table_holds_each_predicted_bins_choice_on_its_problems() {
    let c = fixture();
    let table = c.table.as_ref().expect("a table");
    // Four costs x five predicted bins, one problem each.
    assert_eq!(table.costs(), [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(table.entries.len(), 20);
    // At 4 generations (predicted bins: p0 1, p4 2, p3 3, p1 4, p2 5), the same choices as the
    // oracle bins above, now by predicted bin.
    let cfg = sweep_config();
    let want = [
        (1, beam_at(&cfg, 2), 2, 1.0),
        (2, StrategySpec::Majority, 1, 0.0),
        (3, beam_at(&cfg, 4), 4, 1.0),
        (
            4,
            StrategySpec::BestOfN {
                aggregation: Default::default(),
            },
            4,
            1.0,
        ),
        (5, StrategySpec::Majority, 3, 1.0),
    ];
    for (bin, strategy, budget, accuracy) in want {
        let e = table.choice(4.0, bin).expect("a choice");
        assert_eq!(
            (e.strategy, e.budget, e.accuracy),
            (strategy, budget, accuracy),
            "bin {bin}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// AUCs.
// ---------------------------------------------------------------------------------------------

#[test]
fn auc_counts_pairs_with_ties_as_half() {
    // Positives .8, .4; negatives .4, .2, .9. Pairs (positive above negative):
    //   .8: above .4 and .2, below .9 -> 2;  .4: tie with .4 (1/2), above .2 -> 1.5
    //   -> 3.5 of 6.
    let pairs = [
        (0.8, true),
        (0.4, false),
        (0.4, true),
        (0.2, false),
        (0.9, false),
    ];
    assert!(close(auc(&pairs).unwrap_or(f64::NAN), 3.5 / 6.0, 1e-12));
    // Perfect, reversed, and all equal.
    assert_eq!(auc(&[(0.9, true), (0.1, false)]), Some(1.0));
    assert_eq!(auc(&[(0.1, true), (0.9, false)]), Some(0.0));
    assert_eq!(
        auc(&[(0.5, true), (0.5, false), (0.5, true), (0.5, false)]),
        Some(0.5)
    );
    // One class empty, or nothing: no AUC.
    assert_eq!(auc(&[(0.3, true), (0.7, true)]), None);
    assert_eq!(auc(&[(0.3, false)]), None);
    assert_eq!(auc(&[]), None);
    // The same pairs counted one by one.
    assert_eq!(concordance(&pairs), (3.5, 6.0));
    assert_eq!(concordance(&[(0.5, true), (0.5, false)]), (0.5, 1.0));
    assert_eq!(concordance(&[(0.5, true)]), (0.0, 0.0));
}

// ---------------------------------------------------------------------------------------------
// The model-card evaluation.
// ---------------------------------------------------------------------------------------------

/// A toy candidate: its steps (text, judge score), its answer, whether it is right.
fn solution(steps: &[(&str, f32)], answer: &str, correct: bool) -> Candidate {
    Candidate {
        steps: steps
            .iter()
            .map(|&(text, _)| Step {
                text: text.into(),
                score: 0.0,
                tokens: 1,
            })
            .collect(),
        answer: Some(answer.into()),
        correct: Some(correct),
        score: 0.0,
        tokens: steps.len(),
        leaf: 0,
    }
}

/// The evaluation fixture: three toy problems, k = 3 samples at most, one judge `j` whose
/// step scores are given beside each step. Exact step labels come from the toy checker: a
/// step is right when it and every step before it are.
///
///   A (level 1, 3+4*2 = 11): greedy right
///     a0 "4*2=8: 3+8" .9 | "3+8=11: 11" .8 | "\boxed{11}" .8    labels T T T, answer 11
///     a1 "4*2=9: 3+9" .3 | "3+9=12: 12" .2 | "\boxed{12}" .85   labels F F F, answer 12
///     a2 "4*2=8: 3+8" .6 | "3+8=11: 11" .6 | "\boxed{11}" .2    labels T T T, answer 11
///   B (level 1, 2+3 = 5): greedy wrong
///     b0 "2+3=6: 6" .5 | "\boxed{6}" .4                        labels F F, answer 6
///     b1 "2+3=5: 5" .5 | "\boxed{5}" .7                        labels T T, answer 5
///   C (level 2, 9-2 = 7): greedy right
///     c0 "9-2=7: 7" .8 | "\boxed{8}" .3                        labels T F, answer 8
///     c1 "9-2=6: 6" .2 | "\boxed{6}" .1                        labels F F, answer 6
///
/// A second seed's bank of A (all wrong) must be left out: the table reads the first seed.
/// A solution of the evaluation fixture: steps (text, judge score), answer, right.
type Solution = (Vec<(&'static str, f32)>, &'static str, bool);

fn evaluation_records() -> Vec<SweepRecord> {
    let a = [
        (
            vec![
                ("4*2=8: 3+8", 0.9),
                ("3+8=11: 11", 0.8),
                ("\\boxed{11}", 0.8),
            ],
            "11",
            true,
        ),
        (
            vec![
                ("4*2=9: 3+9", 0.3),
                ("3+9=12: 12", 0.2),
                ("\\boxed{12}", 0.85),
            ],
            "12",
            false,
        ),
        (
            vec![
                ("4*2=8: 3+8", 0.6),
                ("3+8=11: 11", 0.6),
                ("\\boxed{11}", 0.2),
            ],
            "11",
            true,
        ),
    ];
    let b = [
        (vec![("2+3=6: 6", 0.5), ("\\boxed{6}", 0.4)], "6", false),
        (vec![("2+3=5: 5", 0.5), ("\\boxed{5}", 0.7)], "5", true),
    ];
    let c = [
        (vec![("9-2=7: 7", 0.8), ("\\boxed{8}", 0.3)], "8", false),
        (vec![("9-2=6: 6", 0.2), ("\\boxed{6}", 0.1)], "6", false),
    ];
    let bank = |id: &str, level: u8, reference: &str, samples: &[Solution]| {
        let mut r = record(
            id,
            level,
            reference,
            samples
                .iter()
                .map(|(steps, ans, ok)| solution(steps, ans, *ok))
                .collect(),
        );
        r.judged = vec![Judged {
            verifier: "j".into(),
            scores: samples
                .iter()
                .map(|(steps, _, _)| steps.iter().map(|s| s.1).collect())
                .collect(),
        }];
        r.compute.generated_tokens = 100;
        r
    };
    let greedy = |id: &str, level: u8, right: bool| {
        let mut r = record(id, level, "", Vec::new());
        r.correct = right;
        r.compute.generated_tokens = 10;
        SweepRecord {
            run: SweepRun::Greedy,
            record: r,
        }
    };
    let seed = |s: u64| SweepRun::Bank { budget: 3, seed: s };
    let mut wrong_a = bank("A", 1, "11", &a[1..2]);
    wrong_a.candidates = vec![wrong_a.candidates[0].clone(); 3];
    wrong_a.judged[0].scores = vec![wrong_a.judged[0].scores[0].clone(); 3];
    vec![
        greedy("A", 1, true),
        greedy("B", 1, false),
        greedy("C", 2, true),
        SweepRecord {
            run: seed(0),
            record: bank("A", 1, "11", &a),
        },
        SweepRecord {
            run: seed(0),
            record: bank("B", 1, "5", &b),
        },
        SweepRecord {
            run: seed(0),
            record: bank("C", 2, "7", &c),
        },
        SweepRecord {
            run: seed(1),
            record: wrong_a,
        },
    ]
}

#[test]
fn the_model_card_and_the_verifier_table_follow_their_definitions() {
    let cfg = config(serde_json::json!({
        "dataset": {"kind": "toy"},
        "policy": "models/toy/policy",
        "verifier": "oracle",
        "strategies": ["majority"],
        "budgets": [3],
        "seeds": [0, 1],
    }));
    let e = evaluation(&cfg, &evaluation_records());
    assert_eq!(e.k, 3);
    assert_eq!(e.seed, 0);
    // Level 1 (A, B): greedy 1/2; pass@1 (2/3 + 1/2) / 2 = 7/12; majority@k: A's 11 has two
    // votes (right), B ties 6 and 5 and takes the answer seen first, 6 (wrong): 1/2; pass@k 1.
    // Level 2 (C): greedy 1; nothing else right.
    let l1 = &e.per_level[&1];
    assert_eq!(l1.n, 2);
    assert_eq!(l1.greedy, 0.5);
    assert!(close(l1.pass_at_1, 7.0 / 12.0, 1e-12), "{l1:?}");
    assert_eq!(l1.majority_at_k, 0.5);
    assert_eq!(l1.pass_at_k, 1.0);
    let l2 = &e.per_level[&2];
    assert_eq!(
        (
            l2.n,
            l2.greedy,
            l2.pass_at_1,
            l2.majority_at_k,
            l2.pass_at_k
        ),
        (1, 1.0, 0.0, 0.0, 0.0)
    );
    assert_eq!(e.per_level.len(), 2);
    // Compute: three greedy records (10 tokens) and the first seed's three banks (100 each).
    assert_eq!(e.compute.generated_tokens, 330);

    assert_eq!(e.verifiers.len(), 1);
    let j = &e.verifiers[0];
    assert_eq!((j.name.as_str(), j.aggregation.as_str()), ("j", "last"));
    // Step AUC over 17 steps, 9 right (T) and 8 wrong (F):
    //   right .9 .8 .8 .6 .6 .2 .5 .7 .8; wrong .3 .2 .85 .5 .4 .3 .2 .1
    //   above (ties half): .9 -> 8; .8 x3 -> 7 each (not .85); .7 -> 7; .6 x2 -> 7 each;
    //   .5 -> 6 + 1/2; .2 -> 1 + 2 x 1/2  =>  58.5 / 72 = .8125
    assert_eq!(j.steps, 17);
    assert!(
        close(j.step_auc.unwrap_or(f64::NAN), 0.8125, 1e-12),
        "{j:?}"
    );
    // Within a problem, by last-step score: A's right .8 and .2 both below its wrong .85 (0 of
    // 2); B's right .7 above its wrong .4 (1 of 1); C has no right one: 1/3.
    assert!(
        close(j.within_problem_auc.unwrap_or(f64::NAN), 1.0 / 3.0, 1e-12),
        "{j:?}"
    );
    // Best-of-k takes A's .85 (wrong) and B's .7 (right): level 1 1/2; weighted sums A's 11 to
    // .8 + .2 = 1.0 > .85 (right) and B's 5 .7 > .4 (right): 1. Level 2: 0 and 0.
    assert_eq!(j.per_level[&1], (0.5, 1.0));
    assert_eq!(j.per_level[&2], (0.0, 0.0));
}

#[test]
fn a_sweep_still_running_counts_only_finished_problems() {
    // The fixture without p4's bank and without p3's beam search at N = 4, as a sweep reads
    // while it runs. Oracle bins are unchanged (p4's missing bank has pass@1 0, as its bank
    // had): p2 1, p0 2, p1 3, p3 4, p4 5.
    let cfg = sweep_config();
    let records: Vec<SweepRecord> = sweep_records(&cfg)
        .into_iter()
        .filter(|r| {
            let id = r.record.id.as_str();
            match &r.run {
                SweepRun::Bank { .. } => id != "p4",
                SweepRun::Search { budget, .. } => !(id == "p3" && *budget == 4),
                _ => true,
            }
        })
        .collect();
    let c = curves(&manifest(cfg), &records);
    assert_eq!(c.problems, 5);
    // Majority at 4 over p0..p3: 1, 0, 1, 0 -> 1/2 (counting p4 wrong would give 2/5).
    let p = at(series(&c, "majority"), 4);
    assert_eq!((p.accuracy, p.n), (0.5, 4));
    assert_eq!(p.per_bin, [1.0, 1.0, 0.0, 0.0, 0.0]);
    assert_eq!(p.per_bin_n, [1, 1, 1, 1, 0]);
    // Weighted best-of-N at 4: 1, 1, 1, 0 -> 3/4; pass@4: 1, 1, 1, 1 -> 1.
    assert_eq!(
        at(series(&c, "weighted-best-of-n (last)"), 4).accuracy,
        0.75
    );
    assert_eq!(at(series(&c, "pass@n"), 4).accuracy, 1.0);
    assert_eq!(at(series(&c, "pass@n"), 4).n, 4);
    // Beam at N = 4 over p0, p1, p2, p4: 1, 1, 0, 0 -> 1/2; sample variance 1/3, standard
    // error sqrt(1/12) = .2887, band .5 -/+ .5658, clamped to [0, 1]. Bin 4 (p3) is empty.
    let p = at(series(&c, "beam (M = 2, last)"), 4);
    assert_eq!((p.accuracy, p.n, p.low, p.high), (0.5, 4, 0.0, 1.0));
    assert_eq!(p.per_bin_n, [1, 1, 1, 0, 1]);
    // N = 2 has every problem.
    assert_eq!(at(series(&c, "beam (M = 2, last)"), 2).n, 5);
    // Compute-optimal compares settings on the problems all of them finished: p0, p1, p2
    // (oracle bins 2, 3, 1), each with a setting right on it at 4 generations.
    let at4: Vec<(usize, f64)> = c
        .optimal
        .iter()
        .filter(|o| o.cost == 4.0)
        .map(|o| (o.bin, o.accuracy))
        .collect();
    assert_eq!(at4, [(1, 1.0), (2, 1.0), (3, 1.0), (0, 1.0)]);
    // The table, likewise: p0, p1, p2 in predicted bins 1, 3, 4 (p4, without a bank, scores 0
    // and takes bin 5; p3 .41667 bin 2).
    let table = c.table.as_ref().expect("a table");
    let bins: Vec<usize> = table
        .entries
        .iter()
        .filter(|e| e.cost == 4.0)
        .map(|e| e.bin)
        .collect();
    assert_eq!(bins, [1, 3, 4]);
    assert_eq!(table.choice(4.0, 4).map(|e| e.budget), Some(3));
    // The printed table says which points are partial.
    let md = c.markdown();
    let row = |label: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {label} |")))
            .unwrap_or_default()
    };
    assert!(row("majority").ends_with("| 0.500 (n = 4) |"), "{md}");
    assert_eq!(row("majority").matches("(n = 4)").count(), 4, "{md}");
    // Beam search: N = 2 complete, N = 4 not; M = 2 runs at neither 1 nor 3.
    assert_eq!(
        row("beam (M = 2, last)"),
        "| beam (M = 2, last) | – | 0.200 | – | 0.500 (n = 4) |",
        "{md}"
    );
}

/// A point of a hand-made series: accuracy `a` over all problems and `bin1` on bin 1 (one
/// problem), at `tokens` per problem.
fn zoo_point(budget: usize, tokens: f64, a: f64, bin1: f64) -> SeriesPoint {
    SeriesPoint {
        budget,
        cost: budget as f64,
        accuracy: a,
        low: a,
        high: a,
        per_bin: vec![bin1, 0.0, 0.0, 0.0, 0.0],
        per_level: Default::default(),
        tokens,
        flops: 0.0,
        n: 5,
        per_bin_n: vec![1, 0, 0, 0, 0],
    }
}

#[test]
fn the_zoo_compares_settings_at_the_tokens_weighted_best_of_n_spends() {
    use super::zoo::{accuracy_within, findings, Part};
    use crate::search::StrategyKind;
    let mut c = fixture();
    let s = |label: &str, strategy, points| Series {
        label: label.into(),
        strategy,
        points,
    };
    // Weighted best-of-N spends 100, 400 and 1600 tokens at N = 4, 16, 64: the levels.
    // MCTS is cheap and plateaus; beam search is best but needs 110 tokens at its smallest.
    c.series = vec![
        s(
            "weighted-best-of-n (last)",
            StrategyKind::WeightedBestOfN,
            vec![
                zoo_point(4, 100.0, 0.5, 1.0),
                zoo_point(16, 400.0, 0.6, 1.0),
                zoo_point(64, 1600.0, 0.7, 1.0),
            ],
        ),
        s(
            "mcts (puct, step, W = 4, last)",
            StrategyKind::Mcts,
            vec![
                zoo_point(4, 50.0, 0.55, 0.0),
                zoo_point(16, 120.0, 0.66, 0.0),
                zoo_point(64, 130.0, 0.65, 0.0),
            ],
        ),
        s(
            "beam (M = 4, last)",
            StrategyKind::Beam,
            vec![zoo_point(4, 110.0, 0.9, 1.0)],
        ),
        s(
            "pass@n",
            StrategyKind::Majority,
            vec![zoo_point(4, 1.0, 1.0, 1.0)],
        ),
    ];
    c.bins.oracle_sizes = vec![1, 0, 0, 0, 0];
    // With at most T tokens: the best point that spent no more.
    assert_eq!(accuracy_within(&c.series[1], 0, 125.0), Some(0.66));
    assert_eq!(accuracy_within(&c.series[1], 0, 40.0), None);
    assert_eq!(accuracy_within(&c.series[2], 1, 110.0), Some(1.0));
    let f = findings(&[Part {
        verifier: "noisy-oracle:0.8".into(),
        curves: &c,
        records: &[],
    }]);
    let cell = |bin: usize, level: usize| {
        f.cells
            .iter()
            .find(|x| x.bin == bin && x.level == level)
            .unwrap_or_else(|| panic!("no cell {bin} {level}: {:?}", f.cells))
    };
    // At 100 tokens beam search cannot run yet: MCTS (.55) beats weighted best-of-N (.5); the
    // ceiling is never a contender.
    assert_eq!(cell(0, 4).winner, "mcts (puct, step, W = 4, last)");
    assert_eq!(cell(0, 4).weighted, Some(0.5));
    assert_eq!(cell(0, 16).winner, "beam (M = 4, last)");
    assert_eq!(cell(0, 16).accuracy, 0.9);
    assert_eq!(
        cell(0, 64).mcts,
        Some(("mcts (puct, step, W = 4, last)".into(), 0.66))
    );
    // On bin 1 weighted best-of-N is right at every level and MCTS never is: ties go to the
    // earlier series.
    assert_eq!(cell(1, 4).winner, "weighted-best-of-n (last)");
    assert_eq!(f.cells.len(), 6, "two bins (all, 1) x three levels");
    let md = f.markdown();
    // MCTS wins the first two cells of all problems (.55 > .5, .66 > .6), not the third
    // (.66 < .7), and no cell of bin 1.
    assert!(
        md.contains("| noisy-oracle:0.8 | all | +0.05 | +0.06 | -0.04 |"),
        "{md}"
    );
    assert!(
        md.contains("MCTS beats weighted best-of-N in 2 of 6 cells."),
        "{md}"
    );
}

#[test]
fn the_curves_do_not_depend_on_the_order_records_land_in() {
    // Problems searched at once (or on a server) write their records in the order they
    // finish. The manifest's list of problems numbers them (a number seeds a problem's draws
    // from its bank: budgets 1 to 3 are below the bank's 4) and the records are summed run by
    // run, so any landing order gives the curves of one problem at a time.
    let cfg = sweep_config();
    let mut records = sweep_records(&cfg);
    // FLOPs whose sums round differently in another order.
    for (i, r) in records.iter_mut().enumerate() {
        r.record.compute.policy_flops = 0.1 + 1e16 * (i % 3) as f64 + 0.7 * i as f64;
    }
    let sequential = curves(&manifest(cfg.clone()), &records);
    let mut listed = manifest(cfg.clone());
    listed.problems = (0..BANKS.len()).map(|i| format!("p{i}")).collect();
    assert_eq!(curves(&listed, &records), sequential);
    // Rotated (problems first met in another order) and each run's records reversed.
    let mut landed = records.clone();
    landed.rotate_left(7);
    landed.reverse();
    assert_eq!(curves(&listed, &landed), sequential);
    // Without the list, problems count in the order they first appear: the draws move (this
    // is what the list is for).
    assert_ne!(curves(&manifest(cfg), &landed), sequential);
}
