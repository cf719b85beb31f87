//! Times the toy policy on candle's ops against the packed CPU kernels (`engine::dense`), side
//! by side in one run: a prompt, then 1 to 64 sequences sampling 64 tokens each from a shared
//! 64-token prompt, rounds interleaved, medians printed with their ratios. Three engines:
//! candle's ops; the kernels as first built (each product and the attention split over the
//! threads, AVX2); and the kernels now (a decoding step as one run of whole rows per thread,
//! the products on AVX-512 where the CPU has it). The kernels give the same results either
//! way, bit for bit; against candle the logits agree to float rounding.
//!
//!   cargo run --release --example dense_bench [-- ROUNDS]
//!
//! Thread count: RAYON_NUM_THREADS (or CANDLE_NUM_THREADS), else all cores.

use candle_core::Device;
use std::time::Instant;
use thinkscale::engine::dense::set_whole_rows;
use thinkscale::engine::qmatmul::set_fast_kernels;
use thinkscale::engine::{default_policy_dir, CausalLm, ComputeMeter, SamplingParams};
use thinkscale_dense::Isa;

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
    let mut first = CausalLm::load(&dir, &Device::Cpu)?.with_isa(Isa::Avx2);
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
    println!(
        "| workload | candle ops | kernels, products split (AVX2) | kernels now ({:?}) | \
         now / candle | now / split |",
        Isa::best()
    );
    println!("|---|---|---|---|---|---|");
    let workloads: Vec<(String, usize)> = std::iter::once(("prompt, 256 tokens".to_string(), 0))
        .chain([1, 8, 16, 32, 64].map(|n| (format!("generate x{n}, 64 tokens"), n)))
        .collect();
    for (name, n) in workloads {
        let mut rates = [Vec::new(), Vec::new(), Vec::new()];
        for round in 0..rounds {
            let engines = [&mut candle, &mut first, &mut kernels];
            for (which, lm) in engines.into_iter().enumerate() {
                set_whole_rows(which == 2);
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
        let [c, f, k] = rates.map(median);
        println!(
            "| {name} | {c:.0} | {f:.0} | {k:.0} | {:.2}x | {:.2}x |",
            k / c,
            k / f
        );
    }
    Ok(())
}
