//! Times the toy policy on candle's ops against the packed CPU kernels (`engine::dense`), side
//! by side in one run: a prompt, then 1 to 64 sequences sampling 64 tokens each from a shared
//! 64-token prompt, rounds interleaved (candle, kernels, candle, ...), medians printed with
//! their ratio. The two also sample the same tokens (checked: the logits agree to float
//! rounding, so a sample can only differ where a draw lands within rounding of a boundary).
//!
//!   cargo run --release --example dense_bench [-- ROUNDS]
//!
//! Thread count: RAYON_NUM_THREADS (or CANDLE_NUM_THREADS), else all cores.

use candle_core::Device;
use std::time::Instant;
use thinkscale::engine::qmatmul::set_fast_kernels;
use thinkscale::engine::{default_policy_dir, CausalLm, ComputeMeter, SamplingParams};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = match std::env::args().nth(1) {
        Some(r) => r.parse()?,
        None => 5,
    };
    let dir = default_policy_dir();
    set_fast_kernels(false);
    let mut candle = CausalLm::load(&dir, &Device::Cpu)?;
    set_fast_kernels(true);
    let mut kernels = CausalLm::load(&dir, &Device::Cpu)?;
    let vocab = candle.shape.vocab_size as u32;
    println!(
        "{} ({} parameters), {} threads, {rounds} rounds",
        dir.display(),
        candle.params,
        candle_core::utils::get_num_threads()
    );
    let prompt: Vec<u32> = (0..256).map(|i| 1 + (i * 7) % (vocab - 1)).collect();
    let shared = &prompt[..64];
    let gen = SamplingParams {
        max_tokens: 64,
        ignore_eos: true,
        ..Default::default()
    };
    let one = SamplingParams {
        max_tokens: 1,
        ..Default::default()
    };
    println!("| workload | candle ops, tokens/s | kernels, tokens/s | kernels / candle |");
    println!("|---|---|---|---|");
    let workloads: Vec<(String, usize)> = std::iter::once(("prompt, 256 tokens".to_string(), 0))
        .chain([1, 8, 16, 32, 64].map(|n| (format!("generate x{n}, 64 tokens"), n)))
        .collect();
    for (name, n) in workloads {
        let mut rates = [Vec::new(), Vec::new()];
        for round in 0..rounds {
            for (which, lm) in [&mut candle, &mut kernels].into_iter().enumerate() {
                // A new seed per round: nothing comes from the prefix cache of an earlier one.
                let seed = round as u64;
                let mut meter = ComputeMeter::default();
                let t = Instant::now();
                let tokens = if n == 0 {
                    let mut p = prompt.clone();
                    p[0] = 1 + (round as u32 % (vocab - 1));
                    lm.generate(&p, 1, &one, seed, &mut meter)?;
                    p.len()
                } else {
                    let mut p = shared.to_vec();
                    p[0] = 1 + (round as u32 % (vocab - 1));
                    let g = lm.generate(&p, n, &gen, seed, &mut meter)?;
                    g.iter().map(|g| g.tokens.len()).sum::<usize>() + p.len()
                };
                rates[which].push(tokens as f64 / t.elapsed().as_secs_f64());
            }
        }
        let (c, k) = (median(rates[0].clone()), median(rates[1].clone()));
        println!("| {name} | {c:.0} | {k:.0} | {:.2}x |", k / c);
    }
    Ok(())
}
