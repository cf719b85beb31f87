//! Times candle's `QMatMul` against `engine::qmatmul` on SmolLM2-135M's Q4_1 shapes and its
//! Q8_0 tied output head, side by side, then whole forward passes of the SmolLM2 GGUF with each
//! (when the file is there).
//!
//!   nice cargo run --release --example qmatmul_bench
//!
//! Thread count: candle's (RAYON_NUM_THREADS / CANDLE_NUM_THREADS, else the physical cores).

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thinkscale::engine::qmatmul::{set_fast_kernels, FastQMatMul, Kernel};
use thinkscale::engine::{CausalLm, ComputeMeter, SamplingParams};

/// Median time of `f` over runs that together take about `budget`.
fn time(budget: Duration, mut f: impl FnMut()) -> Duration {
    f();
    let mut runs = Vec::new();
    let start = Instant::now();
    while runs.len() < 5 || (start.elapsed() < budget && runs.len() < 1000) {
        let t = Instant::now();
        f();
        runs.push(t.elapsed());
    }
    runs.sort();
    runs[runs.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> anyhow::Result<()> {
    println!(
        "threads: {}, kernel: {:?}",
        candle_core::utils::get_num_threads(),
        Kernel::best()
    );
    let dev = Device::Cpu;
    println!(
        "{:>14} {:>5} {:>11} {:>11} {:>7}",
        "shape", "rows", "candle ms", "fast ms", "ratio"
    );
    // (out, in): q/o, k/v, gate/up, down, tied lm_head (Q4_1 here; Q8_0 in the file).
    let shapes = [
        (576, 576),
        (192, 576),
        (1536, 576),
        (576, 1536),
        (49152, 576),
    ];
    for (out, inp) in shapes {
        let w = Tensor::randn(0f32, 0.05, (out, inp), &dev)?;
        let q = Arc::new(QTensor::quantize(&w, GgmlDType::Q4_1)?);
        let candle = QMatMul::from_arc(q.clone())?;
        let Some(fast) = FastQMatMul::new(&q)? else {
            anyhow::bail!("not a fast shape");
        };
        for rows in [1, 16, 128] {
            let x = Tensor::randn(0f32, 1.0, (rows, inp), &dev)?;
            let a = candle.forward(&x)?;
            let b = fast.forward(&x)?;
            anyhow::ensure!(
                a.flatten_all()?.to_vec1::<f32>()? == b.flatten_all()?.to_vec1::<f32>()?,
                "results differ"
            );
            let budget = Duration::from_millis(400);
            let tc = time(budget, || {
                let _ = candle.forward(&x);
            });
            let tf = time(budget, || {
                let _ = fast.forward(&x);
            });
            println!(
                "{:>14} {rows:>5} {:>11.3} {:>11.3} {:>6.1}x",
                format!("{inp}->{out}"),
                ms(tc),
                ms(tf),
                tc.as_secs_f64() / tf.as_secs_f64()
            );
        }
    }

    // Q8_0: the tied output head (token_embd.weight in the GGUF) and one hidden-size shape.
    // Results agree to float rounding, not bit for bit: print the largest relative error.
    println!(
        "\nQ8_0\n{:>14} {:>5} {:>11} {:>11} {:>7} {:>9}",
        "shape", "rows", "candle ms", "fast ms", "ratio", "rel err"
    );
    for (out, inp) in [(49152, 576), (576, 576)] {
        let w = Tensor::randn(0f32, 0.05, (out, inp), &dev)?;
        let q = Arc::new(QTensor::quantize(&w, GgmlDType::Q8_0)?);
        let candle = QMatMul::from_arc(q.clone())?;
        let Some(fast) = FastQMatMul::new(&q)? else {
            anyhow::bail!("not a fast shape");
        };
        for rows in [1, 16, 32, 128] {
            let x = Tensor::randn(0f32, 1.0, (rows, inp), &dev)?;
            let a = candle.forward(&x)?.to_vec2::<f32>()?;
            let b = fast.forward(&x)?.to_vec2::<f32>()?;
            let mut err = 0f32;
            for (a, b) in a.iter().zip(&b) {
                let scale = a.iter().fold(f32::MIN_POSITIVE, |m, v| m.max(v.abs()));
                let e = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                err = err.max(e / scale);
            }
            anyhow::ensure!(err <= 1e-5, "results differ: relative error {err:e}");
            let budget = Duration::from_millis(400);
            let tc = time(budget, || {
                let _ = candle.forward(&x);
            });
            let tf = time(budget, || {
                let _ = fast.forward(&x);
            });
            println!(
                "{:>14} {rows:>5} {:>11.3} {:>11.3} {:>6.1}x {err:>9.1e}",
                format!("{inp}->{out}"),
                ms(tc),
                ms(tf),
                tc.as_secs_f64() / tf.as_secs_f64()
            );
        }
    }

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
    if !path.is_file() {
        println!("{} missing: no whole-model timing", path.display());
        return Ok(());
    }
    println!("\nSmolLM2-135M-Instruct Q4_1, whole model:");
    let prompt: Vec<u32> = (0..128).map(|i| 200 + (i * 37) % 4000).collect();
    let params = SamplingParams {
        temperature: 0.0,
        max_tokens: 32,
        ..Default::default()
    };
    let mut results = Vec::new();
    for fast in [false, true] {
        set_fast_kernels(fast);
        let mut lm = CausalLm::load(&path, &dev)?;
        let prefill = time(Duration::from_secs(2), || {
            let _ = lm.last_logits(&prompt);
        });
        let mut decode = Vec::new();
        for n in [1, 16] {
            let mut meter = ComputeMeter::default();
            let t = Instant::now();
            let g = lm.generate(&prompt[..8], n, &params, 0, &mut meter)?;
            let tokens: usize = g.iter().map(|g| g.tokens.len()).sum();
            decode.push((
                n,
                tokens as f64 / t.elapsed().as_secs_f64(),
                g[0].tokens.clone(),
            ));
        }
        let name = if fast { "fast" } else { "candle" };
        println!(
            "  {name:>6}: prefill 128 tokens {:.1} ms ({:.0} tok/s); generate (8-token prompt, \
             32 tokens): 1 seq {:.0} tok/s, 16 seqs {:.0} tok/s",
            ms(prefill),
            128.0 / prefill.as_secs_f64(),
            decode[0].1,
            decode[1].1
        );
        results.push((prefill, decode));
    }
    let (c, f) = (&results[0], &results[1]);
    println!(
        "  ratio: prefill {:.1}x, 1 seq {:.1}x, 16 seqs {:.1}x; same tokens: {}",
        c.0.as_secs_f64() / f.0.as_secs_f64(),
        f.1[0].1 / c.1[0].1,
        f.1[1].1 / c.1[1].1,
        c.1.iter().zip(&f.1).all(|(a, b)| a.2 == b.2)
    );
    Ok(())
}
