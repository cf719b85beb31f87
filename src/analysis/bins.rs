//! Difficulty bins (Snell et al. 2024, section 3): problems cut into quantile bins of how hard
//! they are for the policy, bin 1 the easiest.
//!
//! - **Oracle** difficulty: a problem's pass@1, estimated from many samples with the ground
//!   truth.
//! - **Predicted** difficulty: the mean verifier score of the final answers of its samples, no
//!   ground truth needed.
//!
//! Both cut the same way ([`quantile_bins`]); [`agreement`] says how often they agree.

use serde::{Deserialize, Serialize};

/// The paper's number of bins.
pub const BINS: usize = 5;

/// Bins of `ease` (higher is easier: pass@1 or mean verifier score), `k` quantile bins of
/// (nearly) equal size: the easiest problems get bin 1, the hardest bin `k`. Ties in `ease`
/// keep the problems' order, so the cut is deterministic. Returns each problem's bin (1-based).
pub fn quantile_bins(ease: &[f64], k: usize) -> Vec<usize> {
    let n = ease.len();
    let k = k.max(1);
    let mut order: Vec<usize> = (0..n).collect();
    // Easiest first; NaN counts as hardest.
    order.sort_by(|&a, &b| {
        let (x, y) = (ease[a], ease[b]);
        let x = if x.is_nan() { f64::NEG_INFINITY } else { x };
        let y = if y.is_nan() { f64::NEG_INFINITY } else { y };
        y.total_cmp(&x).then(a.cmp(&b))
    });
    let mut bins = vec![0; n];
    for (rank, &p) in order.iter().enumerate() {
        bins[p] = rank * k / n.max(1) + 1;
    }
    bins
}

/// How many problems each bin holds (index 0 is bin 1).
pub fn bin_sizes(bins: &[usize], k: usize) -> Vec<usize> {
    let mut sizes = vec![0; k];
    for &b in bins {
        if (1..=k).contains(&b) {
            sizes[b - 1] += 1;
        }
    }
    sizes
}

/// How two binnings agree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// Share of problems in the same bin.
    pub same: f64,
    /// Share of problems at most one bin apart.
    pub within_one: f64,
}

/// How often `a` and `b` put a problem in the same bin, or in neighbouring ones.
pub fn agreement(a: &[usize], b: &[usize]) -> Agreement {
    let n = a.len().min(b.len()).max(1) as f64;
    let same = a.iter().zip(b).filter(|(x, y)| x == y).count() as f64;
    let near = a
        .iter()
        .zip(b)
        .filter(|(x, y)| x.abs_diff(**y) <= 1)
        .count() as f64;
    Agreement {
        same: same / n,
        within_one: near / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_bins_put_the_easiest_first_in_equal_shares() {
        let ease = [0.9, 0.1, 0.5, 0.7, 0.3, 1.0, 0.0, 0.6, 0.2, 0.8];
        let bins = quantile_bins(&ease, 5);
        assert_eq!(bins, vec![1, 5, 3, 2, 4, 1, 5, 3, 4, 2]);
        assert_eq!(bin_sizes(&bins, 5), vec![2; 5]);
        // Ties keep the problems' order; uneven counts spread by rank.
        let flat = quantile_bins(&[0.5; 7], 5);
        assert_eq!(flat, vec![1, 1, 2, 3, 3, 4, 5]);
        assert_eq!(bin_sizes(&flat, 5).iter().sum::<usize>(), 7);
        assert_eq!(quantile_bins(&[f64::NAN, 1.0], 2), vec![2, 1]);
        assert!(quantile_bins(&[], 5).is_empty());
    }

    #[test]
    fn agreement_counts_same_and_neighbouring_bins() {
        let a = agreement(&[1, 2, 3, 4], &[1, 3, 5, 4]);
        assert_eq!(a.same, 0.5);
        assert_eq!(a.within_one, 0.75);
    }
}
