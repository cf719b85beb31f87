//! Calibrates the noisy oracle (`noisy-oracle:Q`) on the evaluation split: for each Q of a
//! grid, the gap μ at which the realised within-problem AUC of the default noise (seed 0, no
//! blind spot) on the toy policy's samples equals Q, by bisection (the AUC never falls as μ
//! grows: each right-versus-wrong pair's order depends on μ + ε₁ − ε₂). Prints the table that
//! `src/verify/noisy.rs` keeps as `CALIBRATION`.
//!
//! ```sh
//! thinkscale evaluate --samples 16 --out runs/evaluate-calibration
//! cargo run --release --example calibrate_noisy -- runs/evaluate-calibration
//! ```

use thinkscale::data::toy;
use thinkscale::engine::ComputeMeter;
use thinkscale::runner::sweep::{load, SweepRun};
use thinkscale::verify::noisy::{NoisyOracle, NoisySpec};
use thinkscale::verify::Verifier;

/// One problem's samples: the steps of each and whether its answer is right.
struct Problem {
    problem: thinkscale::data::Problem,
    samples: Vec<(Vec<String>, bool)>,
}

/// The realised within-problem AUC of last-step scores at gap `mu`.
fn realised(problems: &[Problem], mu: f64) -> anyhow::Result<f64> {
    let spec = NoisySpec::parse("0.75").map_err(anyhow::Error::msg)?;
    let mut v = NoisyOracle::with_mu(spec, mu);
    let mut meter = ComputeMeter::default();
    let (mut hits, mut pairs) = (0.0f64, 0.0f64);
    for p in problems {
        let mut scored = Vec::with_capacity(p.samples.len());
        for (steps, right) in &p.samples {
            let s = v.score(&p.problem, steps, &mut meter)?;
            scored.push((s.last().copied().unwrap_or(0.0), *right));
        }
        for a in scored.iter().filter(|s| s.1) {
            for b in scored.iter().filter(|s| !s.1) {
                pairs += 1.0;
                hits += match a.0.total_cmp(&b.0) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                };
            }
        }
    }
    Ok(hits / pairs.max(1.0))
}

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: calibrate_noisy EVALUATE_DIR"))?;
    let (manifest, records) = load(std::path::Path::new(&dir))?;
    let seed = manifest.config.seeds.first().copied().unwrap_or(0);
    let mut problems = Vec::new();
    for r in &records {
        if r.run
            != (SweepRun::Bank {
                budget: manifest.config.budgets[0],
                seed,
            })
        {
            continue;
        }
        let rec = &r.record;
        let value: i64 = rec.reference.trim().parse()?;
        problems.push(Problem {
            problem: toy::problem(
                rec.id.clone(),
                rec.level.unwrap_or(1),
                rec.question.clone(),
                value,
            ),
            samples: rec
                .candidates
                .iter()
                .map(|c| {
                    (
                        c.steps.iter().map(|s| s.text.clone()).collect(),
                        c.correct == Some(true),
                    )
                })
                .collect(),
        });
    }
    println!(
        "{} problems x {} samples (T = {}, seed {seed})",
        problems.len(),
        manifest.config.budgets[0],
        manifest.config.sampling.temperature
    );
    println!("const CALIBRATION: [(f64, f64); 9] = [");
    for i in 0..9 {
        let q = 0.55 + 0.05 * i as f64;
        let (mut lo, mut hi) = (0.0f64, 8.0f64);
        for _ in 0..40 {
            let mid = 0.5 * (lo + hi);
            if realised(&problems, mid)? < q {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mu = 0.5 * (lo + hi);
        let analytic = NoisySpec::parse(&format!("{q:.2}"))
            .map_err(anyhow::Error::msg)?
            .analytic_mu();
        println!(
            "    ({q:.2}, {mu:.4}), // realised {:.4}; analytic mu {analytic:.4} realises {:.4}",
            realised(&problems, mu)?,
            realised(&problems, analytic)?
        );
    }
    println!("];");
    Ok(())
}
