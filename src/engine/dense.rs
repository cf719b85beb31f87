//! The forward pass of small dense f32 models on the CPU (the toy policies and PRMs), on the
//! kernels of `thinkscale-dense`: weights packed once at load, every step a handful of calls
//! on plain buffers, attention read straight from the [`BatchKv`] buffers.
//!
//! Why: on such a model every candle op's allocation and dispatch costs more than its
//! arithmetic, and the attention's batched products call `gemm` once per row and head; a
//! step of 32 rows of the toy policy spent two thirds of its time in `gemm` setup and packing
//! (issue 29). The results agree with candle's path to float rounding (the tests compare
//! logits and sampled tokens); [`super::qmatmul::set_fast_kernels`] turns it off, for A/B
//! timing, for models loaded afterwards.

use super::transformer::{head_rows, BatchKv, Config, Embedding, Proj, Weights};
use candle_core::{bail, CpuStorage, DType, Device, InplaceOp1, Layout, Result, Storage, Tensor};
use std::ops::Range;
use thinkscale_dense::{self as kernels, AttentionShape, Isa, Linear, Pool};

/// Models above this many parameters stay on candle's ops: their products are large enough
/// for `gemm`, and a packed copy of their weights would double their memory.
pub const MAX_PARAMS: u128 = 100_000_000;

/// Work split over candle's own CPU thread pool (the one its quantized matmul uses).
struct CandlePool;

impl Pool for CandlePool {
    fn run(&self, items: usize, f: &(dyn Fn(Range<usize>) + Sync)) {
        candle_core::utils::barrier_pool().execute_chunked(items, f);
    }
}

/// One decoder block, packed: q, k and v as one product, gate and up as another.
#[derive(Debug, Clone)]
struct Block {
    attn_norm: Vec<f32>,
    qkv: Linear,
    o: Linear,
    mlp_norm: Vec<f32>,
    gate_up: Linear,
    down: Linear,
}

/// A dense f32 model's weights, packed for the CPU kernels.
#[derive(Debug, Clone)]
pub struct DenseCpu {
    cfg: Config,
    embed: Vec<f32>,
    blocks: Vec<Block>,
    norm: Vec<f32>,
    head: Linear,
    inv_freq: Vec<f32>,
    isa: Isa,
}

fn f32_cpu(t: &Tensor) -> bool {
    t.dtype() == DType::F32 && t.device().is_cpu()
}

/// A projection's weight and bias, where it is dense f32 on the CPU.
fn part(p: &Proj) -> Option<(&Tensor, Option<&Tensor>)> {
    p.dense_parts()
        .filter(|(w, b)| f32_cpu(w) && b.is_none_or(f32_cpu))
}

fn values(t: &Tensor) -> Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// Stacks projections `(n_i, k)` (with their biases, zeros where one has none) into one.
fn stacked(parts: &[(&Tensor, Option<&Tensor>)]) -> Result<Linear> {
    let k = parts[0].0.dim(1)?;
    let (mut w, mut b, mut n) = (Vec::new(), Vec::new(), 0);
    let any_bias = parts.iter().any(|(_, b)| b.is_some());
    for (weight, bias) in parts {
        let (rows, cols) = weight.dims2()?;
        if cols != k {
            bail!("stacked projections of {k} and {cols} inputs");
        }
        w.extend(values(weight)?);
        match bias {
            Some(bias) => b.extend(values(bias)?),
            None => b.extend(std::iter::repeat_n(0f32, rows)),
        }
        n += rows;
    }
    Linear::new(&w, n, k, any_bias.then_some(b)).map_err(candle_core::Error::Msg)
}

impl DenseCpu {
    /// The packed model, where every weight is a dense f32 tensor on the CPU and the model is
    /// small (see [`MAX_PARAMS`]); `None` otherwise.
    pub fn new(cfg: &Config, w: &Weights) -> Result<Option<Self>> {
        if cfg.param_count() > MAX_PARAMS {
            return Ok(None);
        }
        let (Embedding::Dense(embed), Some(head)) = (&w.embed, part(&w.lm_head)) else {
            return Ok(None);
        };
        if !f32_cpu(embed) {
            return Ok(None);
        }
        let mut blocks = Vec::with_capacity(w.blocks.len());
        for b in &w.blocks {
            let parts = [&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down].map(part);
            let [Some(q), Some(k), Some(v), Some(o), Some(gate), Some(up), Some(down)] = parts
            else {
                return Ok(None);
            };
            blocks.push(Block {
                attn_norm: values(&b.attn_norm)?,
                qkv: stacked(&[q, k, v])?,
                o: stacked(&[o])?,
                mlp_norm: values(&b.mlp_norm)?,
                gate_up: stacked(&[gate, up])?,
                down: stacked(&[down])?,
            });
        }
        Ok(Some(Self {
            cfg: cfg.clone(),
            embed: values(embed)?,
            blocks,
            norm: values(&w.norm)?,
            head: stacked(&[head])?,
            inv_freq: cfg.inv_freq(),
            isa: Isa::best(),
        }))
    }

    /// The same model on kernel `isa` (where this CPU runs it), for the tests.
    pub fn with_isa(mut self, isa: Isa) -> Self {
        let isa = if isa.available() { isa } else { Isa::best() };
        self.isa = isa;
        let set = |l: &mut Linear| *l = l.clone().with_isa(isa);
        for b in &mut self.blocks {
            for l in [&mut b.qkv, &mut b.o, &mut b.gate_up, &mut b.down] {
                set(l);
            }
        }
        set(&mut self.head);
        self
    }

    /// As [`super::transformer::Transformer::forward`]: `ids` `(rows, time)` continue the rows
    /// of `kv`; returns the normed hidden states `(rows, time, hidden)`.
    pub fn forward(&self, ids: &Tensor, kv: &mut BatchKv) -> Result<Tensor> {
        let c = &self.cfg;
        let (b, t) = ids.dims2()?;
        let ids = ids.flatten_all()?.to_vec1::<u32>()?;
        let (hidden, d) = (c.hidden_size, c.head_dim);
        if let Some(&bad) = ids.iter().find(|&&i| i as usize >= c.vocab_size) {
            bail!("token id {bad} outside the vocabulary of {}", c.vocab_size);
        }
        kv.reserve(t)?;
        let m = b * t;
        let mut x = Vec::with_capacity(m * hidden);
        for &id in &ids {
            x.extend_from_slice(&self.embed[id as usize * hidden..][..hidden]);
        }
        let pos: Vec<f32> = (0..b)
            .flat_map(|r| {
                let start = kv.len(r);
                (start..start + t).map(|p| p as f32)
            })
            .collect();
        let (cos, sin) = kernels::rope_tables(&pos, &self.inv_freq);
        let (qw, kw) = (c.num_heads * d, c.num_kv_heads * d);
        let eps = c.rms_norm_eps as f32;
        let pool = CandlePool;
        let mut h = vec![0f32; m * hidden];
        let mut qkv = vec![0f32; m * (qw + 2 * kw)];
        let (mut q, mut k, mut v) = (vec![0f32; m * qw], vec![0f32; m * kw], vec![0f32; m * kw]);
        let mut att = vec![0f32; m * qw];
        let mut y = vec![0f32; m * hidden];
        let inter = c.intermediate_size;
        let mut gu = vec![0f32; m * 2 * inter];
        let mut act = vec![0f32; m * inter];
        let cols = kv.cols;
        for (l, block) in self.blocks.iter().enumerate() {
            kernels::rms_norm(&x, &block.attn_norm, eps, &mut h);
            block.qkv.matmul(&h, m, &mut qkv, &pool);
            for (row, ((qr, kr), vr)) in qkv.chunks_exact(qw + 2 * kw).zip(
                q.chunks_exact_mut(qw)
                    .zip(k.chunks_exact_mut(kw))
                    .zip(v.chunks_exact_mut(kw)),
            ) {
                qr.copy_from_slice(&row[..qw]);
                kr.copy_from_slice(&row[qw..qw + kw]);
                vr.copy_from_slice(&row[qw + kw..]);
            }
            let il = c.rope_interleaved;
            kernels::rope(&mut q, c.num_heads, d, &cos, &sin, il);
            kernels::rope(&mut k, c.num_kv_heads, d, &cos, &sin, il);
            let (ck, cv) = &kv.layers[l];
            let slot = &kv.slot;
            ck.inplace_op1(&WriteColumns {
                src: &k,
                t,
                cols,
                slot,
            })?;
            cv.inplace_op1(&WriteColumns {
                src: &v,
                t,
                cols,
                slot,
            })?;
            {
                let (ks, kl) = ck.storage_and_layout();
                let (vs, vl) = cv.storage_and_layout();
                let (kc, cap) = cpu_f32(&ks, kl)?;
                let (vc, _) = cpu_f32(&vs, vl)?;
                let shape = AttentionShape {
                    rows: b,
                    t,
                    heads: c.num_heads,
                    kv_heads: c.num_kv_heads,
                    head_dim: d,
                    cap,
                    cols,
                    window: c.sliding_window,
                };
                // The sequences the rows continue, read where they are.
                let guards: Vec<_> = kv
                    .base
                    .iter()
                    .map(|b| {
                        b.layers.get(l).filter(|_| b.len > 0).map(|(k, v)| {
                            let (ks, kl) = k.storage_and_layout();
                            let (vs, vl) = v.storage_and_layout();
                            (ks, kl, vs, vl, b.len)
                        })
                    })
                    .collect();
                let mut base = Vec::with_capacity(guards.len());
                for g in &guards {
                    base.push(match g {
                        Some((ks, kl, vs, vl, len)) => {
                            let (Some((k, head_stride)), Some((v, vstride))) =
                                (head_rows(ks, kl, *len, d), head_rows(vs, vl, *len, d))
                            else {
                                bail!("a continued sequence's keys are not whole head rows");
                            };
                            if vstride != head_stride {
                                bail!("a continued sequence's keys and values differ in layout");
                            }
                            kernels::Base {
                                k,
                                v,
                                len: *len,
                                head_stride,
                            }
                        }
                        None => kernels::Base::default(),
                    });
                }
                let rows = kernels::CacheRows {
                    pad: &kv.pad,
                    slot: &kv.slot,
                    base: &base,
                };
                kernels::attention(&q, kc, vc, rows, shape, &mut att, self.isa, &pool);
            }
            block.o.matmul(&att, m, &mut y, &pool);
            kernels::add_in_place(&mut x, &y);
            kernels::rms_norm(&x, &block.mlp_norm, eps, &mut h);
            block.gate_up.matmul(&h, m, &mut gu, &pool);
            kernels::silu_mul(&gu, inter, &mut act, &pool);
            block.down.matmul(&act, m, &mut y, &pool);
            kernels::add_in_place(&mut x, &y);
        }
        kv.cols += t;
        kernels::rms_norm(&x, &self.norm, eps, &mut h);
        Tensor::from_vec(h, (b, t, hidden), &Device::Cpu)
    }

    /// Logits `(..., vocab)` of hidden states `(..., hidden)`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let dims = hidden.dims();
        let k = self.head.k();
        if dims.last() != Some(&k) {
            bail!("hidden states {dims:?} for a head of {k} inputs");
        }
        let x = values(&hidden.to_dtype(DType::F32)?)?;
        let m = x.len() / k;
        let mut y = vec![0f32; m * self.head.n()];
        self.head.matmul(&x, m, &mut y, &CandlePool);
        let mut shape = dims.to_vec();
        *shape.last_mut().unwrap_or(&mut 0) = self.head.n();
        Tensor::from_vec(y, shape, &Device::Cpu)
    }
}

/// The f32 values of a contiguous `(rows, kv_heads, cap, head_dim)` CPU buffer from its
/// first element, and `cap`.
fn cpu_f32<'a>(s: &'a Storage, l: &Layout) -> Result<(&'a [f32], usize)> {
    let (Storage::Cpu(CpuStorage::F32(v)), true) = (s, l.is_contiguous()) else {
        bail!("the key/value cache is not a contiguous f32 CPU buffer");
    };
    let (_, _, cap, _) = l.shape().dims4()?;
    Ok((&v[l.start_offset()..], cap))
}

/// Writes new keys or values, `(rows · t, kv_heads · head_dim)`, into a cache buffer
/// `(buffer rows, kv_heads, cap, head_dim)` at columns `cols..cols + t`, row `r` into buffer
/// row `slot[r]`.
struct WriteColumns<'a> {
    src: &'a [f32],
    t: usize,
    cols: usize,
    slot: &'a [usize],
}

impl InplaceOp1 for WriteColumns<'_> {
    fn name(&self) -> &'static str {
        "write-kv-columns"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let (CpuStorage::F32(data), true) = (storage, layout.is_contiguous()) else {
            bail!("the key/value cache is not a contiguous f32 CPU buffer");
        };
        let (held, heads, cap, d) = layout.shape().dims4()?;
        let (t, rows) = (self.t, self.slot.len());
        if self.cols + t > cap
            || self.src.len() != rows * t * heads * d
            || self.slot.iter().any(|&s| s >= held)
        {
            bail!(
                "{} new values do not fit the cache {held}x{heads}x{cap}x{d}",
                self.src.len()
            );
        }
        let data = &mut data[layout.start_offset()..];
        for (r, &b) in self.slot.iter().enumerate() {
            for i in 0..t {
                let src = &self.src[(r * t + i) * heads * d..][..heads * d];
                for (h, head) in src.chunks_exact(d).enumerate() {
                    let at = ((b * heads + h) * cap + self.cols + i) * d;
                    data[at..at + d].copy_from_slice(head);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use crate::engine::model::{ModelHeader, WeightSource};
    use crate::engine::transformer::{self, SeqKv, Transformer};
    use std::path::Path;

    /// A committed toy model, loaded twice: on the packed kernels and on candle's ops.
    fn both(dir: &Path, window: Option<usize>) -> (Transformer, Transformer) {
        let header = ModelHeader::read(dir).unwrap();
        let WeightSource::Safetensors { files, .. } = &header.weights else {
            panic!("the toy models are safetensors");
        };
        let mut tensors = std::collections::HashMap::new();
        for f in files {
            tensors.extend(candle_core::safetensors::load(f, &Device::Cpu).unwrap());
        }
        let mut cfg = header.config.clone();
        cfg.sliding_window = window;
        let w = transformer::weights_from_hf(&cfg, tensors, DType::F32).unwrap();
        let fast = Transformer::new(cfg, w, &Device::Cpu).unwrap();
        assert!(fast.is_dense(), "a toy model runs on the packed kernels");
        let slow = fast.clone().without_dense();
        assert!(!slow.is_dense());
        (fast, slow)
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Rows of different lengths (left padding for candle, the prompts read in place by the
    /// kernels), prompts run several tokens at a time, then decoding token by token, a row
    /// leaving the batch half way, and every row taken out whole at the end: every hidden
    /// state, logit and cached key of the packed kernels is candle's to float rounding.
    fn agree(fast: &Transformer, slow: &Transformer) {
        let dev = Device::Cpu;
        let vocab = fast.config().vocab_size as u32;
        let prompts: [Vec<u32>; 3] = [
            (0..9).map(|i| (i * 7 + 3) % vocab).collect(),
            (0..4).map(|i| (i * 5 + 1) % vocab).collect(),
            (0..13).map(|i| (i * 3 + 2) % vocab).collect(),
        ];
        let mut kvs = Vec::new();
        for m in [fast, slow] {
            // Each prompt alone, then the three continue as one batch.
            let mut seqs = Vec::new();
            for p in &prompts {
                let mut kv = m.empty_kv(1, p.len(), &dev).unwrap();
                let ids = Tensor::new(p.as_slice(), &dev)
                    .unwrap()
                    .unsqueeze(0)
                    .unwrap();
                let h = m.forward(&ids, &mut kv).unwrap();
                seqs.push((kv.row(0).unwrap(), m.logits(&h).unwrap()));
            }
            // The kernels read the prompts in place; candle's ops get them copied in.
            let rows: Vec<&SeqKv> = seqs.iter().map(|(s, _)| s).collect();
            let kv = match m.is_dense() {
                true => BatchKv::continuing(m.config(), &rows, 2, DType::F32, &dev),
                false => BatchKv::from_rows(m.config(), &rows, 2, DType::F32, &dev),
            }
            .unwrap();
            kvs.push((kv, seqs.into_iter().map(|(_, l)| l).collect::<Vec<_>>()));
        }
        for ((_, a), (_, b)) in kvs.iter().take(1).zip(kvs.iter().skip(1)) {
            for (a, b) in a.iter().zip(b) {
                assert!(
                    max_diff(a, b) < 1e-4,
                    "prompt logits differ by {}",
                    max_diff(a, b)
                );
            }
        }
        let (mut kf, mut ks) = {
            let mut it = kvs.into_iter();
            (it.next().unwrap().0, it.next().unwrap().0)
        };
        let mut next: Vec<u32> = vec![5, 9, 2];
        for step in 0..12 {
            if step == 6 {
                kf.retain(&[0, 2]);
                ks.retain(&[0, 2]);
                next = vec![next[0], next[2]];
            }
            let ids = Tensor::from_vec(next.clone(), (next.len(), 1), &dev).unwrap();
            let (hf, hs) = (
                fast.forward(&ids, &mut kf).unwrap(),
                slow.forward(&ids, &mut ks).unwrap(),
            );
            assert!(
                max_diff(&hf, &hs) < 1e-4,
                "step {step}: hidden differs by {}",
                max_diff(&hf, &hs)
            );
            let (lf, ls) = (fast.logits(&hf).unwrap(), slow.logits(&hs).unwrap());
            assert!(
                max_diff(&lf, &ls) < 1e-4,
                "step {step}: logits differ by {}",
                max_diff(&lf, &ls)
            );
            next = lf
                .squeeze(1)
                .unwrap()
                .argmax(1)
                .unwrap()
                .to_vec1::<u32>()
                .unwrap();
        }
        // Taken out whole, the rows hold the same keys and values.
        for r in 0..kf.rows() {
            let (a, b) = (kf.row(r).unwrap(), ks.row(r).unwrap());
            assert_eq!((a.len, a.layers.len()), (b.len, b.layers.len()));
            for ((ka, va), (kb, vb)) in a.layers.iter().zip(&b.layers) {
                assert!(
                    max_diff(ka, kb) < 1e-4 && max_diff(va, vb) < 1e-4,
                    "row {r}"
                );
            }
        }
    }

    #[test]
    fn the_packed_toy_policy_computes_what_candle_computes() {
        let (fast, slow) = both(&default_policy_dir(), None);
        agree(&fast, &slow);
        // Every kernel this CPU has: the plain one too.
        agree(&fast.with_isa(Isa::Scalar), &slow);
    }

    #[test]
    fn a_sliding_window_hides_the_same_columns_as_candles_mask() {
        let (fast, slow) = both(&default_policy_dir(), Some(5));
        agree(&fast, &slow);
        agree(&fast.with_isa(Isa::Scalar), &slow);
    }

    #[test]
    fn the_packed_toy_prm_and_larger_policy_compute_what_candle_computes() {
        let toy = default_policy_dir();
        let toy = toy.parent().unwrap();
        for name in ["prm", "policy-large"] {
            let (fast, slow) = both(&toy.join(name), None);
            agree(&fast, &slow);
        }
    }

    /// The packed matmul against a plain sum, on shapes that leave partial panels and row
    /// groups, with and without a bias, on every kernel this CPU has.
    #[test]
    fn the_packed_matmul_is_the_plain_sum() {
        for (m, n, k) in [(1, 29, 128), (5, 17, 3), (37, 64, 40), (4, 16, 1)] {
            let w: Vec<f32> = (0..n * k)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                .collect();
            let x: Vec<f32> = (0..m * k)
                .map(|i| ((i * 53 % 89) as f32 - 44.0) / 44.0)
                .collect();
            let bias: Vec<f32> = (0..n).map(|i| i as f32 / 10.0).collect();
            for with_bias in [false, true] {
                for isa in [Isa::Scalar, Isa::Avx2]
                    .into_iter()
                    .filter(|i| i.available())
                {
                    let lin = Linear::new(&w, n, k, with_bias.then(|| bias.clone()))
                        .unwrap()
                        .with_isa(isa);
                    let mut y = vec![0f32; m * n];
                    lin.matmul(&x, m, &mut y, &CandlePool);
                    for r in 0..m {
                        for c in 0..n {
                            let want: f64 = (0..k)
                                .map(|i| x[r * k + i] as f64 * w[c * k + i] as f64)
                                .sum::<f64>()
                                + if with_bias { bias[c] as f64 } else { 0.0 };
                            let got = y[r * n + c] as f64;
                            assert!(
                                (got - want).abs() < 1e-4,
                                "{isa:?} ({m},{n},{k}) [{r},{c}]: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
        assert!(
            Linear::new(&[1.0; 5], 2, 3, None).is_err(),
            "a weight of the wrong size"
        );
    }

    /// The MLP's activation (vectorized `exp` where the CPU has AVX2) against the formula, over
    /// gates from -100 to 100 and a row length that leaves a remainder.
    #[test]
    fn silu_times_up_is_the_formula() {
        let n = 803;
        let gate: Vec<f32> = (0..n).map(|i| (i as f32 - 401.0) / 4.0).collect();
        let up: Vec<f32> = (0..n).map(|i| 1.0 + i as f32 / 100.0).collect();
        let gate_up: Vec<f32> = gate.iter().chain(&up).copied().collect();
        let mut out = vec![0f32; n];
        kernels::silu_mul(&gate_up, n, &mut out, &CandlePool);
        for ((&g, &u), &o) in gate.iter().zip(&up).zip(&out) {
            let want = g / (1.0 + (-g).exp()) * u;
            assert!(
                // Relative, and absolute below exp's range (silu(-100) is -3.7e-42).
                (o - want).abs() <= 4.0 * f32::EPSILON * want.abs() + 1e-30,
                "silu({g}) * {u}: {o} vs {want}"
            );
        }
    }

    /// A token id outside the vocabulary is an error, not a panic.
    #[test]
    fn a_token_outside_the_vocabulary_is_an_error() {
        let (fast, _) = both(&default_policy_dir(), None);
        let mut kv = fast.empty_kv(1, 1, &Device::Cpu).unwrap();
        let ids = Tensor::new(&[[1000u32]], &Device::Cpu).unwrap();
        let e = fast.forward(&ids, &mut kv).unwrap_err().to_string();
        assert!(e.contains("outside the vocabulary"), "{e}");
    }
}
