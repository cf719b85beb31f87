//! `thinkscale bench`: the engine's speed on the workloads test-time search is made of, and the
//! same workloads against a llama.cpp server, side by side in one run.
//!
//! Workloads (all on token ids, so both sides see exactly the same tokens):
//! - **prompt**: one prompt of `prompt_tokens` tokens processed from nothing (tokens/s);
//! - **generate xN**: N sequences continuing one shared prompt of `shared_tokens` tokens,
//!   `gen_tokens` each, greedy, the end-of-sequence token ignored (generated tokens/s over the
//!   wall time of the whole call, the shared prompt included);
//! - **beam search**: `beam_width` beams, each expanded `expansions` times by `step_tokens`
//!   sampled tokens for `steps` rounds; from beam `b` the sample `b mod expansions` is kept, so
//!   both sides walk the same shape of tree (generated tokens/s; the engine continues every
//!   kept step from its cache, the server from its slots' prompt cache).
//!
//! Timings on a shared machine are noisy: the table is a measurement, never an assertion.

pub mod llama_server;

use crate::engine::{CausalLm, ComputeMeter, GenRequest, SamplingParams};
use std::time::Instant;

/// The shape of the workloads.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchConfig {
    /// Tokens of the prompt-processing workload.
    pub prompt_tokens: usize,
    /// Tokens of the prompt the generation workloads share.
    pub shared_tokens: usize,
    /// Tokens each sequence generates.
    pub gen_tokens: usize,
    /// Parallel sequences of the generation workloads.
    pub parallel: Vec<usize>,
    /// Beams kept per round of the beam workload.
    pub beam_width: usize,
    /// Samples drawn per beam per round.
    pub expansions: usize,
    /// Rounds.
    pub steps: usize,
    /// Tokens per sampled step.
    pub step_tokens: usize,
    /// Seed of the sampled steps.
    pub seed: u64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            prompt_tokens: 512,
            shared_tokens: 64,
            gen_tokens: 64,
            parallel: vec![1, 8, 16, 32],
            beam_width: 4,
            expansions: 4,
            steps: 4,
            step_tokens: 16,
            seed: 0,
        }
    }
}

/// Tokens done in a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Tokens counted (prompt tokens for the prompt workload, generated tokens otherwise).
    pub tokens: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl Measured {
    /// Tokens per second.
    pub fn rate(&self) -> f64 {
        self.tokens as f64 / self.seconds.max(1e-9)
    }
}

/// One workload's result on the engine, and on the server where one was given.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchRow {
    /// The workload in words.
    pub workload: String,
    /// This engine.
    pub ours: Measured,
    /// The server, where one was given.
    pub server: Option<Measured>,
    /// What the engine's meter saw (prompt tokens run, served by the cache, recomputed).
    pub meter: ComputeMeter,
}

/// Text the benchmark prompts are cut from: math prose, so the tokens are typical ones.
const PROSE: &str = "Let x be the number of apples. Then 3x + 7 = 25, so 3x = 18 and x = 6. \
    We check: 3 * 6 + 7 = 18 + 7 = 25. The area of a circle of radius r is pi r^2; with r = 4 \
    it is 16 pi, about 50.27. If a train travels 120 km in 1.5 hours, its speed is 80 km/h. \
    The sum of the first n odd numbers is n^2, which we prove by induction on n. ";

/// A prompt of exactly `n` tokens: the model's BOS where it uses one, then prose.
pub fn prompt_ids(lm: &CausalLm, n: usize) -> anyhow::Result<Vec<u32>> {
    let tok = &lm.tokenizer;
    let mut ids: Vec<u32> = tok.bos_id.filter(|_| tok.add_bos).into_iter().collect();
    let chunk = tok.encode(PROSE)?;
    anyhow::ensure!(!chunk.is_empty(), "the tokenizer encodes text to nothing");
    while ids.len() < n {
        ids.extend(&chunk);
    }
    ids.truncate(n.max(1));
    Ok(ids)
}

fn greedy(max_tokens: usize) -> SamplingParams {
    SamplingParams {
        temperature: 0.0,
        max_tokens,
        ignore_eos: true,
        ..Default::default()
    }
}

/// Sampling of the beam workload's steps.
pub fn step_sampling(step_tokens: usize) -> SamplingParams {
    SamplingParams {
        temperature: 1.0,
        top_k: 40,
        max_tokens: step_tokens,
        ignore_eos: true,
        ..Default::default()
    }
}

/// The beams kept after a round: from beam `b`, its sample `b mod expansions`.
pub fn kept_beams(
    beams: &[Vec<u32>],
    children: &[Vec<Vec<u32>>],
    expansions: usize,
) -> Vec<Vec<u32>> {
    beams
        .iter()
        .zip(children)
        .enumerate()
        .filter_map(|(b, (beam, kids))| {
            kids.get(b % expansions.max(1)).map(|k| {
                let mut next = beam.clone();
                next.extend(k);
                next
            })
        })
        .collect()
}

/// The generate workload of `n` sequences as problems in parallel run a small CPU model:
/// one [`CausalLm::twin`] per core, each working alone on its share of the rows; `None` where
/// the model has no twins, there is one core, or fewer rows than cores.
fn on_twins(
    lm: &CausalLm,
    shared: &[u32],
    n: usize,
    cfg: &BenchConfig,
) -> anyhow::Result<Option<BenchRow>> {
    let cores = crate::engine::qmatmul::pool_threads();
    if cores < 2 || n < cores {
        return Ok(None);
    }
    let Some(twins) = (0..cores).map(|_| lm.twin()).collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    let t = Instant::now();
    let done = std::thread::scope(|scope| {
        let handles: Vec<_> = twins
            .into_iter()
            .enumerate()
            .map(|(c, mut twin)| {
                let rows = n * (c + 1) / cores - n * c / cores;
                scope.spawn(move || {
                    crate::engine::qmatmul::alone(|| {
                        let mut meter = ComputeMeter::default();
                        let gens =
                            twin.generate(shared, rows, &greedy(cfg.gen_tokens), 0, &mut meter)?;
                        let tokens: u64 = gens.iter().map(|g| g.tokens.len() as u64).sum();
                        Ok::<_, anyhow::Error>((tokens, meter))
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a twin panicked")))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let seconds = t.elapsed().as_secs_f64();
    let mut meter = ComputeMeter::default();
    for (_, m) in &done {
        meter.add(m);
    }
    Ok(Some(BenchRow {
        workload: format!(
            "generate x{n} on {cores} twin engines, one per core (problems in parallel)"
        ),
        ours: Measured {
            tokens: done.iter().map(|(t, _)| t).sum(),
            seconds,
        },
        server: None,
        meter,
    }))
}

/// Runs every workload on the engine, and on `server` where one is given.
pub fn run(
    lm: &mut CausalLm,
    cfg: &BenchConfig,
    mut server: Option<&mut llama_server::LlamaServer>,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<Vec<BenchRow>> {
    let mut rows = Vec::new();
    let context = lm.context();
    anyhow::ensure!(
        cfg.prompt_tokens < context
            && cfg.shared_tokens + cfg.gen_tokens < context
            && cfg.shared_tokens + cfg.steps * cfg.step_tokens < context,
        "the workloads need more than the model's context of {context} tokens"
    );

    progress("prompt");
    let long = prompt_ids(lm, cfg.prompt_tokens)?;
    lm.clear_prefix_cache();
    let mut meter = ComputeMeter::default();
    let t = Instant::now();
    lm.generate(&long, 1, &greedy(1), 0, &mut meter)?;
    let ours = Measured {
        tokens: long.len() as u64,
        seconds: t.elapsed().as_secs_f64(),
    };
    let theirs = match server.as_deref_mut() {
        Some(s) => Some(s.prompt(&long)?),
        None => None,
    };
    rows.push(BenchRow {
        workload: format!("prompt, {} tokens", long.len()),
        ours,
        server: theirs,
        meter,
    });

    let shared = prompt_ids(lm, cfg.shared_tokens)?;
    for &n in &cfg.parallel {
        progress(&format!("generate x{n}"));
        lm.clear_prefix_cache();
        let mut meter = ComputeMeter::default();
        let t = Instant::now();
        let gens = lm.generate(&shared, n, &greedy(cfg.gen_tokens), 0, &mut meter)?;
        let ours = Measured {
            tokens: gens.iter().map(|g| g.tokens.len() as u64).sum(),
            seconds: t.elapsed().as_secs_f64(),
        };
        let theirs = match server.as_deref_mut() {
            Some(s) => Some(s.generate(&shared, n, cfg.gen_tokens)?),
            None => None,
        };
        rows.push(BenchRow {
            workload: format!(
                "generate x{n}, {} tokens each after {} shared",
                cfg.gen_tokens,
                shared.len()
            ),
            ours,
            server: theirs,
            meter,
        });
        if let Some(row) = on_twins(lm, &shared, n, cfg)? {
            rows.push(row);
        }
    }

    progress("beam search");
    lm.clear_prefix_cache();
    let params = step_sampling(cfg.step_tokens);
    let mut meter = ComputeMeter::default();
    let mut beams: Vec<Vec<u32>> = vec![shared.clone(); cfg.beam_width];
    let mut generated = 0u64;
    let t = Instant::now();
    for round in 0..cfg.steps {
        let requests: Vec<GenRequest> = beams
            .iter()
            .enumerate()
            .map(|(b, p)| {
                GenRequest::new(
                    p,
                    cfg.expansions,
                    cfg.seed ^ ((round * cfg.beam_width + b) as u64) << 8,
                )
            })
            .collect();
        let out = lm.generate_many(&requests, &params, &mut meter)?;
        generated += out
            .iter()
            .flatten()
            .map(|g| g.tokens.len() as u64)
            .sum::<u64>();
        let children: Vec<Vec<Vec<u32>>> = out
            .into_iter()
            .map(|gs| gs.into_iter().map(|g| g.tokens).collect())
            .collect();
        beams = kept_beams(&beams, &children, cfg.expansions);
    }
    let ours = Measured {
        tokens: generated,
        seconds: t.elapsed().as_secs_f64(),
    };
    let theirs = match server {
        Some(s) => Some(s.beam(&shared, cfg)?),
        None => None,
    };
    rows.push(BenchRow {
        workload: format!(
            "beam search: {} beams x {} samples, {} steps of {} tokens",
            cfg.beam_width, cfg.expansions, cfg.steps, cfg.step_tokens
        ),
        ours,
        server: theirs,
        meter,
    });
    Ok(rows)
}

/// The table `bench` prints: tokens/s of both sides and their ratio.
pub fn table(rows: &[BenchRow], server_name: Option<&str>) -> String {
    let mut out = String::new();
    let them = server_name.unwrap_or("server");
    let has_server = rows.iter().any(|r| r.server.is_some());
    out.push_str(&format!("{:<58} {:>12}", "workload", "thinkscale"));
    if has_server {
        out.push_str(&format!(" {:>12} {:>7}", them, "ratio"));
    }
    out.push('\n');
    for r in rows {
        out.push_str(&format!("{:<58} {:>8.1} t/s", r.workload, r.ours.rate()));
        if let Some(s) = r.server {
            out.push_str(&format!(
                " {:>8.1} t/s {:>6.2}x",
                s.rate(),
                r.ours.rate() / s.rate().max(1e-9)
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use candle_core::Device;

    #[test]
    fn workloads_run_on_the_toy_model_and_share_prefixes() {
        let mut lm = CausalLm::load(&default_policy_dir(), &Device::Cpu).unwrap();
        let cfg = BenchConfig {
            prompt_tokens: 40,
            shared_tokens: 10,
            gen_tokens: 5,
            parallel: vec![1, 3],
            beam_width: 2,
            expansions: 3,
            steps: 3,
            step_tokens: 4,
            seed: 1,
        };
        let mut seen = Vec::new();
        let rows = run(&mut lm, &cfg, None, |w| seen.push(w.to_string())).unwrap();
        assert_eq!(
            seen,
            ["prompt", "generate x1", "generate x3", "beam search"]
        );
        // With two or three cores, x3 also runs on twin engines (x1 has too few rows).
        let cores = crate::engine::qmatmul::pool_threads();
        let (twins, rows): (Vec<BenchRow>, Vec<BenchRow>) =
            rows.into_iter().partition(|r| r.workload.contains("twin"));
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].ours.tokens, 40);
        assert_eq!(rows[0].meter.prompt_tokens, 40);
        assert_eq!(
            rows[2].ours.tokens, 15,
            "EOS ignored: every sequence runs to the end"
        );
        assert_eq!(
            rows[2].meter.prompt_tokens, 10,
            "the shared prompt runs once"
        );
        match &twins[..] {
            [] => assert!(!(2..=3).contains(&cores), "no twin row on {cores} cores"),
            [t] => {
                let name = format!("generate x3 on {cores} twin");
                assert!(t.workload.starts_with(&name), "{}", t.workload);
                assert_eq!(t.ours.tokens, 15);
                assert_eq!(t.meter.prompt_tokens, 10 * cores as u64, "once per twin");
            }
            more => panic!("{} twin rows", more.len()),
        }
        let beam = &rows[3];
        assert_eq!(beam.ours.tokens, 2 * 3 * 3 * 4);
        // The prompt once, then one new token per kept beam per later round.
        assert_eq!(beam.meter.prompt_tokens, 10 + 2 * 2);
        assert_eq!(beam.meter.recomputed_tokens, 0);
        let text = table(&rows, None);
        assert!(text.contains("beam search: 2 beams x 3 samples"), "{text}");
        assert!(!text.contains("ratio"));
    }

    #[test]
    fn kept_beams_take_sample_b_mod_expansions() {
        let beams = vec![vec![1], vec![2]];
        let kids = vec![vec![vec![10], vec![11]], vec![vec![20], vec![21]]];
        assert_eq!(kept_beams(&beams, &kids, 2), [vec![1, 10], vec![2, 21]]);
    }
}
