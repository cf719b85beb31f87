//! The FLOPs exchange (Snell et al. 2024, section 7): at matched FLOPs, does a small policy
//! with test-time compute beat a larger policy answering greedily?
//!
//! Inference costs 2·P FLOPs a token and pretraining 6·P·D. A small policy of P parameters
//! pretrained on D_s tokens, answering with a budget of X generations, and a policy M·P large
//! pretrained on D_l tokens, answering once greedily, spend the same total when
//! `X = M + 3(M·D_l/D_s - 1)/R`, with R = D_inference / D_s the ratio of inference to
//! pretraining tokens. With D_l = D_s (the paper's setting) this is `M + 3(M - 1)/R`
//! ([`super::optimal::budget_multiplier`]). Verifier FLOPs are not counted: the paper's
//! exchange is the policy's.
//!
//! Per difficulty bin the small policy's side is its compute-optimal accuracy at X (read off
//! the cross-validated compute-optimal curve with linear interpolation on the log2 budget
//! axis); the larger policy's side is its greedy accuracy on the same problems.

use super::optimal::OptimalPoint;
use serde::{Deserialize, Serialize};

/// Which side of the exchange wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Winner {
    /// The small policy with test-time compute.
    TestTimeCompute,
    /// The larger policy.
    LargerModel,
    /// Equal accuracy.
    Tie,
    /// The matched budget lies beyond the sweep's largest and the small policy had not caught
    /// up there.
    BeyondSweep,
    /// The larger policy costs less than one generation of the small one (it was pretrained on
    /// so much less data): no budget of the small policy matches it.
    LargerCheaper,
}

impl Winner {
    /// Short name for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TestTimeCompute => "test-time compute",
            Self::LargerModel => "larger model",
            Self::Tie => "tie",
            Self::BeyondSweep => "beyond the sweep",
            Self::LargerCheaper => "larger model costs less",
        }
    }
}

/// One bin at one ratio R.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeCell {
    /// The bin (1-based); 0 for all problems.
    pub bin: usize,
    /// The small policy's compute-optimal accuracy at the matched budget; `None` beyond the
    /// sweep's largest budget.
    pub small: Option<f64>,
    /// The larger policy's greedy accuracy.
    pub larger: f64,
    /// Who wins.
    pub winner: Winner,
}

/// The exchange at one ratio R.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeRow {
    /// R = D_inference / D_pretrain.
    pub ratio: f64,
    /// The small policy's generation budget that matches the larger policy's FLOPs.
    pub budget: f64,
    /// All problems (bin 0), then bins 1..
    pub cells: Vec<ExchangeCell>,
}

/// The FLOPs exchange of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Parameters of the small policy.
    pub small_params: u64,
    /// Parameters of the larger policy.
    pub larger_params: u64,
    /// M = larger / small parameters.
    pub m: f64,
    /// Pretraining tokens of the small policy, where known.
    pub small_pretrain_tokens: Option<u64>,
    /// Pretraining tokens of the larger policy, where known.
    pub larger_pretrain_tokens: Option<u64>,
    /// D_l / D_s (1 where either is unknown: the paper's assumption of equal data).
    pub pretrain_ratio: f64,
    /// The larger policy's greedy accuracy: all problems (index 0), then per bin.
    pub larger_accuracy: Vec<f64>,
    /// One row per ratio R.
    pub rows: Vec<ExchangeRow>,
}

/// The small policy's budget X that spends as many FLOPs as a policy `m` times larger
/// answering greedily, at `r` = D_inference / D_small-pretrain and `d` = D_l / D_s.
pub fn matched_budget(m: f64, r: f64, d: f64) -> f64 {
    m + 3.0 * (m * d - 1.0) / r
}

/// `curve` (cost, accuracy; costs increasing) at `x`, linear on the log2 axis; below the
/// first cost the first accuracy; `None` beyond the last.
pub fn at_budget(curve: &[(f64, f64)], x: f64) -> Option<f64> {
    let first = curve.first()?;
    if x <= first.0 {
        return Some(first.1);
    }
    for w in curve.windows(2) {
        let ((b0, a0), (b1, a1)) = (w[0], w[1]);
        if x <= b1 {
            let t = (x.log2() - b0.log2()) / (b1.log2() - b0.log2());
            return Some(a0 + t * (a1 - a0));
        }
    }
    let last = curve.last()?;
    ((x - last.0).abs() < 1e-9).then_some(last.1)
}

/// Builds the exchange from the compute-optimal points (bin 0 and bins 1..=`bins`), the
/// larger policy's accuracy (index 0 all, then per bin), the two policies' sizes and
/// pretraining tokens, at each ratio of `ratios`.
pub fn exchange(
    optimal: &[OptimalPoint],
    bins: usize,
    larger_accuracy: Vec<f64>,
    small: (u64, Option<u64>),
    larger: (u64, Option<u64>),
    ratios: &[f64],
) -> Exchange {
    let m = larger.0 as f64 / small.0.max(1) as f64;
    let d = match (small.1, larger.1) {
        (Some(s), Some(l)) if s > 0 => l as f64 / s as f64,
        _ => 1.0,
    };
    let curve = |bin: usize| -> Vec<(f64, f64)> {
        let mut c: Vec<(f64, f64)> = optimal
            .iter()
            .filter(|o| o.bin == bin)
            .map(|o| (o.cost, o.accuracy))
            .collect();
        c.sort_by(|a, b| a.0.total_cmp(&b.0));
        c
    };
    let curves: Vec<Vec<(f64, f64)>> = (0..=bins).map(curve).collect();
    let rows = ratios
        .iter()
        .map(|&r| {
            let x = matched_budget(m, r, d);
            let cells = (0..=bins)
                .filter(|&b| !curves[b].is_empty() && b < larger_accuracy.len())
                .map(|b| {
                    let small = at_budget(&curves[b], x);
                    let big = larger_accuracy[b];
                    let best_small = curves[b].iter().map(|p| p.1).fold(f64::MIN, f64::max);
                    let small = small.filter(|_| x >= 1.0);
                    let winner = match small {
                        _ if x < 1.0 => Winner::LargerCheaper,
                        Some(s) if (s - big).abs() < 1e-9 => Winner::Tie,
                        Some(s) if s > big => Winner::TestTimeCompute,
                        Some(_) => Winner::LargerModel,
                        // Beyond the sweep: decided only if the small policy already wins
                        // within it (its compute-optimal curve never falls with budget).
                        None if best_small > big + 1e-9 => Winner::TestTimeCompute,
                        None => Winner::BeyondSweep,
                    };
                    ExchangeCell {
                        bin: b,
                        small,
                        larger: big,
                        winner,
                    }
                })
                .collect();
            ExchangeRow {
                ratio: r,
                budget: x,
                cells,
            }
        })
        .collect();
    Exchange {
        small_params: small.0,
        larger_params: larger.0,
        m,
        small_pretrain_tokens: small.1,
        larger_pretrain_tokens: larger.1,
        pretrain_ratio: d,
        larger_accuracy,
        rows,
    }
}

impl Exchange {
    /// The exchange as Markdown: a row per R, a column per bin ("small vs larger: winner").
    pub fn markdown(&self) -> String {
        let bins = self.rows.first().map_or(0, |r| r.cells.len());
        let mut s = String::from("| R | matched budget |");
        for b in 0..bins {
            match self.rows[0].cells[b].bin {
                0 => s.push_str(" all |"),
                k => s.push_str(&format!(" bin {k} |")),
            }
        }
        s.push_str("\n|---|---|");
        s.push_str(&"---|".repeat(bins));
        s.push('\n');
        for row in &self.rows {
            s.push_str(&format!("| {} | {:.1} |", row.ratio, row.budget));
            for c in &row.cells {
                let small = c.small.map_or("–".to_string(), |a| format!("{a:.3}"));
                s.push_str(&format!(
                    " {small} vs {:.3}: {} |",
                    c.larger,
                    c.winner.as_str()
                ));
            }
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(cost: f64, bin: usize, accuracy: f64) -> OptimalPoint {
        OptimalPoint {
            cost,
            bin,
            accuracy,
            spread: 0.0,
            chosen: String::new(),
            chosen_budget: 0,
        }
    }

    #[test]
    fn matched_budget_is_the_papers_multiplier_with_equal_data() {
        // M = 14: about 258, 63 and 16 generations at R = 0.16, 0.79 and 22 (the check).
        let x: Vec<f64> = [0.16, 0.79, 22.0]
            .iter()
            .map(|&r| matched_budget(14.0, r, 1.0))
            .collect();
        assert!((x[0] - 257.75).abs() < 1e-9, "{x:?}");
        assert!((x[1] - 63.37).abs() < 0.01, "{x:?}");
        assert!((x[2] - 15.77).abs() < 0.01, "{x:?}");
        for r in [0.16, 0.79, 22.0] {
            let a = matched_budget(14.0, r, 1.0);
            let b = super::super::optimal::budget_multiplier(14.0, r);
            assert!((a - b).abs() < 1e-12);
        }
        // A larger model pretrained on twice the data costs more to match.
        assert!((matched_budget(4.0, 1.0, 2.0) - (4.0 + 3.0 * 7.0)).abs() < 1e-12);
    }

    #[test]
    fn interpolates_on_the_log2_axis() {
        let c = [(1.0, 0.2), (4.0, 0.6), (16.0, 0.8)];
        assert_eq!(at_budget(&c, 0.5), Some(0.2));
        assert!((at_budget(&c, 2.0).unwrap() - 0.4).abs() < 1e-12);
        assert!((at_budget(&c, 8.0).unwrap() - 0.7).abs() < 1e-12);
        assert_eq!(at_budget(&c, 16.0), Some(0.8));
        assert_eq!(at_budget(&c, 17.0), None);
    }

    #[test]
    fn winners_per_bin_and_ratio() {
        // Bin 1 (easy) reaches 0.95 with budget; bin 2 (hard) stays at 0.3.
        let optimal = vec![
            pt(1.0, 0, 0.5),
            pt(4.0, 0, 0.6),
            pt(16.0, 0, 0.62),
            pt(1.0, 1, 0.8),
            pt(4.0, 1, 0.9),
            pt(16.0, 1, 0.95),
            pt(1.0, 2, 0.2),
            pt(4.0, 2, 0.3),
            pt(16.0, 2, 0.3),
        ];
        // M = 2 with equal data: X = 2 + 3/R: 5 at R = 1, 2.3 at R = 10, 32 at R = 0.1.
        let e = exchange(
            &optimal,
            2,
            vec![0.65, 0.9, 0.4],
            (100, Some(1000)),
            (200, Some(1000)),
            &[1.0, 10.0, 0.1],
        );
        assert_eq!(e.m, 2.0);
        assert_eq!(e.rows.len(), 3);
        let r1 = &e.rows[0];
        assert!((r1.budget - 5.0).abs() < 1e-12);
        // Bin 1 at X = 5: 0.9 + (log2 5 - 2)/2 * 0.05 > 0.9: test-time compute wins.
        assert_eq!(r1.cells[1].winner, Winner::TestTimeCompute);
        // Bin 2: 0.3 < 0.4: the larger model wins; overall 0.6.. < 0.65 too.
        assert_eq!(r1.cells[2].winner, Winner::LargerModel);
        assert_eq!(r1.cells[0].winner, Winner::LargerModel);
        // R = 10: X = 2.3, bin 1 reads 0.8 + 0.1 * log2(2.3) / 2 < 0.9: larger wins.
        assert_eq!(e.rows[1].cells[1].winner, Winner::LargerModel);
        // R = 0.1: X = 32 lies beyond the sweep: bin 1 already wins inside it, bin 2 never does.
        let r3 = &e.rows[2];
        assert_eq!(r3.cells[1].small, None);
        assert_eq!(r3.cells[1].winner, Winner::TestTimeCompute);
        assert_eq!(r3.cells[2].winner, Winner::BeyondSweep);
        // A larger model pretrained on a tenth of the data costs less than one generation.
        let cheap = exchange(
            &optimal,
            2,
            vec![0.0; 3],
            (100, Some(1000)),
            (200, Some(100)),
            &[1.0],
        );
        assert!(cheap.rows[0].budget < 1.0);
        assert!(cheap.rows[0]
            .cells
            .iter()
            .all(|c| c.winner == Winner::LargerCheaper && c.small.is_none()));
        let md = e.markdown();
        assert!(
            md.contains("| bin 2 |") && md.contains("beyond the sweep"),
            "{md}"
        );
    }
}
