//! How long a sweep's curves take to compute from its records: 500 problems, a bank of 256
//! samples each, 9 budgets (1 to 256), 1000 random subsets per budget, for majority, best-of-N
//! and weighted best-of-N, with pass@n, the difficulty bins and compute-optimal selection.
//!
//! `cargo run --release --example curves_bench`

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use thinkscale::analysis::sweep::curves;
use thinkscale::engine::ComputeMeter;
use thinkscale::runner::sweep::{SweepConfig, SweepManifest, SweepRecord, SweepRun};
use thinkscale::search::{Candidate, Step};
use thinkscale::store::Record;

const PROBLEMS: usize = 500;
const SAMPLES: usize = 256;

fn main() -> anyhow::Result<()> {
    let config: SweepConfig = toml::from_str(
        "dataset = { kind = \"toy\" }\npolicy = \"models/toy/policy\"\nverifier = \"oracle\"\n\
         strategies = [\"majority\", \"best-of-n\", \"weighted-best-of-n\"]\n\
         budgets = [1, 2, 4, 8, 16, 32, 64, 128, 256]\ndraws = 1000\nbin_samples = 0\n",
    )?;
    let manifest = SweepManifest {
        config,
        models: Vec::new(),
        policies: Vec::new(),
        thinkscale_version: env!("CARGO_PKG_VERSION").into(),
        problems: Vec::new(),
    };
    // Problems of graded difficulty; a sample is right with the problem's pass@1, wrong answers
    // spread over a few values so majority voting has something to count; scores lean right.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let records: Vec<SweepRecord> = (0..PROBLEMS)
        .map(|p| {
            let pass = (p as f64 + 0.5) / PROBLEMS as f64;
            let candidates = (0..SAMPLES)
                .map(|_| {
                    let right = rng.random_bool(pass);
                    let answer = if right {
                        "42".to_string()
                    } else {
                        format!("{}", rng.random_range(0..6))
                    };
                    let score: f32 = if right {
                        rng.random_range(0.3..1.0)
                    } else {
                        rng.random_range(0.0..0.8)
                    };
                    Candidate {
                        steps: vec![Step {
                            text: format!("\\boxed{{{answer}}}"),
                            score,
                            tokens: 8,
                        }],
                        answer: Some(answer),
                        correct: Some(right),
                        score,
                        tokens: 8,
                        leaf: 0,
                    }
                })
                .collect();
            SweepRecord {
                run: SweepRun::Bank {
                    budget: SAMPLES,
                    seed: 0,
                },
                record: Record {
                    id: format!("p{p}"),
                    level: Some((p % 5) as u8 + 1),
                    question: String::new(),
                    reference: "42".into(),
                    answer: None,
                    correct: false,
                    candidates,
                    compute: ComputeMeter::default(),
                    seed: 0,
                    tree: None,
                    chosen: None,
                    judged: Vec::new(),
                },
            }
        })
        .collect();
    for round in 1..=3 {
        let start = Instant::now();
        let c = curves(&manifest, &records);
        let secs = start.elapsed().as_secs_f64();
        let points: usize = c.series.iter().map(|s| s.points.len()).sum();
        println!(
            "round {round}: curves of {PROBLEMS} problems x {SAMPLES} samples x 9 budgets x 1000 \
             draws ({} series, {points} points, {} compute-optimal points) in {secs:.3} s",
            c.series.len(),
            c.optimal.len()
        );
    }
    Ok(())
}
