//! The forward pass of small dense f32 models on the CPU (the toy policies and PRMs), on the
//! kernels of `thinkscale-dense`: weights packed once at load, every step a handful of calls
//! on plain buffers, attention read straight from the [`BatchKv`] buffers. A step of several
//! rows runs as one run of whole rows per thread (rows are independent sequences, each writing
//! its own part of the cache), so the threads meet once per step, not at every product.
//!
//! Why: on such a model every candle op's allocation and dispatch costs more than its
//! arithmetic, and the attention's batched products call `gemm` once per row and head; a
//! step of 32 rows of the toy policy spent two thirds of its time in `gemm` setup and packing
//! (issue 29). The results agree with candle's path to float rounding (the tests compare
//! logits and sampled tokens); [`super::qmatmul::set_fast_kernels`] turns it off, for A/B
//! timing, for models loaded afterwards.

use super::qmatmul::{CandlePool, FastQMatMul};
use super::transformer::{head_rows, BatchKv, Config, Embedding, Proj, Weights};
use candle_core::{bail, CpuStorage, DType, Device, InplaceOp1, Layout, Result, Tensor};
use std::ops::Range;
use std::sync::Arc;
use thinkscale_dense::{self as kernels, AttentionShape, Isa, Linear, Pool};

/// Models above this many parameters stay on candle's ops: their products are large enough
/// for `gemm`, and a packed copy of their weights would double their memory.
pub const MAX_PARAMS: u128 = 100_000_000;

static WHOLE_ROWS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Whether quantized models (GGUF Q4_1/Q8_0) run on these kernels too: only where the
/// environment sets `THINKSCALE_GGUF_KERNELS=1`. They run SmolLM2 1.6-2x faster than candle's
/// ops, but its logits then differ from candle's by up to about 1 (each quantized product
/// rounds its inputs to 8 bits, which turns float-order differences into whole steps, and 30
/// blocks compound them), and its greedy tokens part from llama.cpp's at a near tie where
/// candle's path matches them; so candle's ops stay the default for quantized models.
pub fn quantized_on_kernels() -> bool {
    std::env::var("THINKSCALE_GGUF_KERNELS").is_ok_and(|v| v == "1")
}

/// Lets a step run as one run of whole rows per thread where [`by_rows`] finds it pays (on by
/// default); off, every step splits each product and the attention over the threads, with a
/// hand-off between them. For A/B timing: the results are the same bit for bit.
pub fn set_whole_rows(enabled: bool) {
    WHOLE_ROWS.store(enabled, std::sync::atomic::Ordering::Relaxed);
}

/// Projections of one input whose outputs lie side by side in each row (q, k and v; gate and
/// up): dense f32 ones packed as one [`Linear`], or quantized ones each on
/// [`super::qmatmul`]'s kernels, with their biases.
#[derive(Debug, Clone)]
enum Lin {
    Packed(Linear),
    Quant(Vec<(Arc<FastQMatMul>, Option<Vec<f32>>)>),
}

impl Lin {
    /// From projections that are all dense f32 on the CPU, or all on the quantized kernels;
    /// `None` for any other.
    fn new(projs: &[&Proj]) -> Result<Option<Self>> {
        if let Some(parts) = projs.iter().map(|p| part(p)).collect::<Option<Vec<_>>>() {
            return Ok(Some(Self::Packed(stacked(&parts)?)));
        }
        let Some(parts) = projs
            .iter()
            .map(|p| p.fast_parts())
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        let mut quant = Vec::with_capacity(parts.len());
        for (w, bias) in parts {
            if w.in_features() != parts_k(&quant).unwrap_or(w.in_features()) {
                bail!("side-by-side projections of different inputs");
            }
            let bias = match bias {
                Some(b) if f32_cpu(b) => Some(values(b)?),
                Some(_) => return Ok(None),
                None => None,
            };
            quant.push((w.clone(), bias));
        }
        Ok(Some(Self::Quant(quant)))
    }

    /// Outputs per row.
    fn n(&self) -> usize {
        match self {
            Self::Packed(l) => l.n(),
            Self::Quant(parts) => parts.iter().map(|(w, _)| w.out_features()).sum(),
        }
    }

    /// Inputs per row.
    fn k(&self) -> usize {
        match self {
            Self::Packed(l) => l.k(),
            Self::Quant(parts) => parts_k(parts).unwrap_or(0),
        }
    }

    fn with_isa(self, isa: Isa) -> Self {
        match self {
            Self::Packed(l) => Self::Packed(l.with_isa(isa)),
            quant => quant,
        }
    }

    /// `y (m, n) = x (m, k) · wᵀ + b`, each part's outputs after the previous part's.
    fn matmul(&self, x: &[f32], m: usize, y: &mut [f32], pool: &dyn Pool) -> Result<()> {
        let parts = match self {
            Self::Packed(l) => {
                l.matmul(x, m, y, pool);
                return Ok(());
            }
            Self::Quant(parts) => parts,
        };
        let maps: Vec<&FastQMatMul> = parts.iter().map(|(w, _)| &**w).collect();
        FastQMatMul::side_by_side(&maps, x, m, y, pool)?;
        let (n, mut at) = (self.n(), 0);
        for (w, bias) in parts {
            let width = w.out_features();
            if let Some(b) = bias {
                for row in y.chunks_exact_mut(n) {
                    for (d, &b) in row[at..at + width].iter_mut().zip(b) {
                        *d += b;
                    }
                }
            }
            at += width;
        }
        Ok(())
    }
}

/// The inputs of the first of some quantized projections.
fn parts_k(parts: &[(Arc<FastQMatMul>, Option<Vec<f32>>)]) -> Option<usize> {
    parts.first().map(|(w, _)| w.in_features())
}

/// One decoder block, packed: q, k and v as one product, gate and up as another.
#[derive(Debug, Clone)]
struct Block {
    attn_norm: Vec<f32>,
    qkv: Lin,
    o: Lin,
    mlp_norm: Vec<f32>,
    gate_up: Lin,
    down: Lin,
}

/// The token embeddings: a dense f32 table, or a quantized one looked up row by row.
#[derive(Debug, Clone)]
enum Embed {
    Dense(Vec<f32>),
    Table(Embedding),
}

/// A small dense f32 model's weights, or a quantized one's, packed for the CPU kernels.
#[derive(Debug, Clone)]
pub struct DenseCpu {
    cfg: Config,
    embed: Embed,
    blocks: Vec<Block>,
    norm: Vec<f32>,
    head: Lin,
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
    /// Whether every projection, the output head's too, is packed dense f32 (none quantized).
    pub fn all_packed(&self) -> bool {
        self.blocks
            .iter()
            .flat_map(|b| [&b.qkv, &b.o, &b.gate_up, &b.down])
            .chain([&self.head])
            .all(|l| matches!(l, Lin::Packed(_)))
    }

    /// The packed model, where every projection is a dense f32 tensor on the CPU or (only
    /// where [`quantized_on_kernels`]) runs on [`super::qmatmul`]'s kernels (Q4_1, Q8_0), and
    /// the dense weights are few (see [`MAX_PARAMS`]); `None` otherwise.
    pub fn new(cfg: &Config, w: &Weights) -> Result<Option<Self>> {
        Self::pack(cfg, w, quantized_on_kernels())
    }

    /// [`Self::new`] for a quantized model whatever the environment says.
    #[cfg(test)]
    fn new_quantized(cfg: &Config, w: &Weights) -> Result<Option<Self>> {
        Self::pack(cfg, w, true)
    }

    fn pack(cfg: &Config, w: &Weights, quantized_ok: bool) -> Result<Option<Self>> {
        let mut projs: Vec<&Proj> = vec![&w.lm_head];
        for b in &w.blocks {
            projs.extend([&b.q, &b.k, &b.v, &b.o, &b.gate, &b.up, &b.down]);
        }
        let embed = match &w.embed {
            Embedding::Dense(t) if f32_cpu(t) => Some(t),
            Embedding::Dense(_) => return Ok(None),
            Embedding::Quantized(_) => None,
        };
        let quantized = embed.is_none() || projs.iter().any(|p| p.fast_parts().is_some());
        if quantized && !quantized_ok {
            return Ok(None);
        }
        let dense: usize = projs
            .iter()
            .filter_map(|p| part(p))
            .map(|(w, _)| w.elem_count())
            .sum::<usize>()
            + embed.map_or(0, |e| e.elem_count());
        if dense as u128 > MAX_PARAMS {
            return Ok(None);
        }
        let Some(head) = Lin::new(&[&w.lm_head])? else {
            return Ok(None);
        };
        let mut blocks = Vec::with_capacity(w.blocks.len());
        for b in &w.blocks {
            let lins = [
                Lin::new(&[&b.q, &b.k, &b.v])?,
                Lin::new(&[&b.o])?,
                Lin::new(&[&b.gate, &b.up])?,
                Lin::new(&[&b.down])?,
            ];
            let [Some(qkv), Some(o), Some(gate_up), Some(down)] = lins else {
                return Ok(None);
            };
            blocks.push(Block {
                attn_norm: values(&b.attn_norm)?,
                qkv,
                o,
                mlp_norm: values(&b.mlp_norm)?,
                gate_up,
                down,
            });
        }
        Ok(Some(Self {
            cfg: cfg.clone(),
            embed: match embed {
                Some(e) => Embed::Dense(values(e)?),
                None => Embed::Table(w.embed.clone()),
            },
            blocks,
            norm: values(&w.norm)?,
            head,
            inv_freq: cfg.inv_freq(),
            isa: Isa::best(),
        }))
    }

    /// The same model on kernel `isa` (where this CPU runs it), for the tests.
    pub fn with_isa(mut self, isa: Isa) -> Self {
        let isa = if isa.available() { isa } else { Isa::best() };
        self.isa = isa;
        let set = |l: &mut Lin| *l = l.clone().with_isa(isa);
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
        self.forward_split(ids, kv, None)
    }

    /// [`Self::forward`], its work split over the threads by whole rows (`Some(true)`), by
    /// products and attention heads (`Some(false)`) or as [`by_rows`] chooses (`None`). The
    /// results are the same bit for bit.
    fn forward_split(&self, ids: &Tensor, kv: &mut BatchKv, rows: Option<bool>) -> Result<Tensor> {
        let c = &self.cfg;
        let (b, t) = ids.dims2()?;
        let table = ids;
        let ids = ids.flatten_all()?.to_vec1::<u32>()?;
        let (hidden, d) = (c.hidden_size, c.head_dim);
        if let Some(&bad) = ids.iter().find(|&&i| i as usize >= c.vocab_size) {
            bail!("token id {bad} outside the vocabulary of {}", c.vocab_size);
        }
        if b != kv.slot.len() || kv.layers.len() != self.blocks.len() {
            bail!(
                "{b} rows of tokens for a batch of {} rows and {} blocks",
                kv.slot.len(),
                kv.layers.len()
            );
        }
        kv.reserve(t)?;
        let x = match &self.embed {
            Embed::Dense(e) => {
                let mut x = Vec::with_capacity(b * t * hidden);
                for &id in &ids {
                    x.extend_from_slice(&e[id as usize * hidden..][..hidden]);
                }
                x
            }
            Embed::Table(e) => values(&e.forward(table)?)?,
        };
        let pos: Vec<f32> = (0..b)
            .flat_map(|r| {
                let start = kv.len(r);
                (start..start + t).map(|p| p as f32)
            })
            .collect();
        let (cos, sin) = kernels::rope_tables(&pos, &self.inv_freq);
        // The sequences the rows continue, read where they are: per row, per block.
        let guards: Vec<Vec<_>> = kv
            .base
            .iter()
            .map(|b| match (b.len, b.layers.len()) {
                (0, _) => Ok(Vec::new()),
                (_, n) if n != self.blocks.len() => {
                    bail!(
                        "a continued sequence of {n} blocks for a model of {}",
                        self.blocks.len()
                    )
                }
                _ => Ok(b
                    .layers
                    .iter()
                    .map(|(k, v)| (k.storage_and_layout(), v.storage_and_layout(), b.len))
                    .collect()),
            })
            .collect::<Result<_>>()?;
        let mut base = Vec::with_capacity(b);
        for g in &guards {
            let mut layers = vec![kernels::Base::default(); self.blocks.len()];
            for (slot, ((ks, kl), (vs, vl), len)) in layers.iter_mut().zip(g) {
                let (Some((k, head_stride)), Some((v, vstride))) =
                    (head_rows(ks, kl, *len, d), head_rows(vs, vl, *len, d))
                else {
                    bail!("a continued sequence's keys are not whole head rows");
                };
                if vstride != head_stride {
                    bail!("a continued sequence's keys and values differ in layout");
                }
                *slot = kernels::Base {
                    k,
                    v,
                    len: *len,
                    head_stride,
                };
            }
            base.push(layers);
        }
        let cap = kv.layers[0].0.dim(2)?;
        let (cols, pad, slot) = (kv.cols, &kv.pad, &kv.slot);
        let per_row = c.num_kv_heads * cap * d;
        let mut out = vec![0f32; b * t * hidden];
        let buffers: Vec<&Tensor> = kv.layers.iter().flat_map(|(k, v)| [k, v]).collect();
        with_buffers(&buffers, &mut |bufs| {
            let mut cache = row_regions(bufs, slot, per_row)?.into_iter();
            let pool = CandlePool;
            let threads = pool.threads();
            let step = Step { t, cols, cap };
            let whole = WHOLE_ROWS.load(std::sync::atomic::Ordering::Relaxed);
            if !rows.unwrap_or_else(|| whole && by_rows(b, t, threads)) {
                let rows = Rows {
                    x: &x,
                    cos: &cos,
                    sin: &sin,
                    pad,
                    base: &base,
                    cache: cache.collect(),
                    out: &mut out,
                };
                return self.run_rows(rows, step, &pool);
            }
            // One item per thread, each a run of whole rows through every block: rows are
            // independent, so no thread waits for another between blocks.
            let half = d / 2;
            let mut rest: &mut [f32] = &mut out;
            let mut parts = Vec::with_capacity(threads);
            for p in 0..threads {
                let r = p * b / threads..(p + 1) * b / threads;
                let tok = r.start * t..r.end * t;
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut(r.len() * t * hidden);
                rest = tail;
                parts.push(std::sync::Mutex::new(Some(Rows {
                    x: &x[tok.start * hidden..tok.end * hidden],
                    cos: &cos[tok.start * half..tok.end * half],
                    sin: &sin[tok.start * half..tok.end * half],
                    pad: &pad[r.clone()],
                    base: &base[r.clone()],
                    cache: cache.by_ref().take(r.len()).collect(),
                    out: mine,
                })));
            }
            let failed = std::sync::Mutex::new(None);
            pool.run(parts.len(), &|items: Range<usize>| {
                for p in items {
                    let rows = parts[p].lock().ok().and_then(|mut rows| rows.take());
                    if let Some(Err(e)) =
                        rows.map(|rows| self.run_rows(rows, step, &kernels::Serial))
                    {
                        if let Ok(mut failed) = failed.lock() {
                            failed.get_or_insert(e);
                        }
                    }
                }
            });
            match failed.into_inner() {
                Ok(Some(e)) => Err(e),
                _ => Ok(()),
            }
        })?;
        drop(base);
        drop(guards);
        kv.cols += t;
        Tensor::from_vec(out, (b, t, hidden), &Device::Cpu)
    }

    /// Runs `rows` through every block and the final norm, products and attention spread
    /// over `pool`; their new keys and values go into their cache regions.
    fn run_rows(&self, rows: Rows, step: Step, pool: &dyn Pool) -> Result<()> {
        let c = &self.cfg;
        let Step { t, cols, cap } = step;
        let (hidden, d, kvh) = (c.hidden_size, c.head_dim, c.num_kv_heads);
        let Rows {
            x,
            cos,
            sin,
            pad,
            base,
            mut cache,
            out,
        } = rows;
        let (n, m) = (pad.len(), x.len() / hidden);
        let mut x = x.to_vec();
        let (qw, kw) = (c.num_heads * d, kvh * d);
        let eps = c.rms_norm_eps as f32;
        let mut h = vec![0f32; m * hidden];
        let mut qkv = vec![0f32; m * (qw + 2 * kw)];
        let (mut q, mut k, mut v) = (vec![0f32; m * qw], vec![0f32; m * kw], vec![0f32; m * kw]);
        let mut att = vec![0f32; m * qw];
        let mut y = vec![0f32; m * hidden];
        let inter = c.intermediate_size;
        let mut gu = vec![0f32; m * 2 * inter];
        let mut act = vec![0f32; m * inter];
        let shape = AttentionShape {
            rows: n,
            t,
            heads: c.num_heads,
            kv_heads: kvh,
            head_dim: d,
            cap,
            cols,
            window: c.sliding_window,
        };
        let il = c.rope_interleaved;
        for (l, block) in self.blocks.iter().enumerate() {
            kernels::rms_norm(&x, &block.attn_norm, eps, &mut h);
            block.qkv.matmul(&h, m, &mut qkv, pool)?;
            for (row, ((qr, kr), vr)) in qkv.chunks_exact(qw + 2 * kw).zip(
                q.chunks_exact_mut(qw)
                    .zip(k.chunks_exact_mut(kw))
                    .zip(v.chunks_exact_mut(kw)),
            ) {
                qr.copy_from_slice(&row[..qw]);
                kr.copy_from_slice(&row[qw..qw + kw]);
                vr.copy_from_slice(&row[qw + kw..]);
            }
            kernels::rope(&mut q, c.num_heads, d, cos, sin, il);
            kernels::rope(&mut k, kvh, d, cos, sin, il);
            for (r, regions) in cache.iter_mut().enumerate() {
                let new = r * t * kw..(r + 1) * t * kw;
                kernels::write_columns(&k[new.clone()], regions[2 * l], kvh, d, cols);
                kernels::write_columns(&v[new], regions[2 * l + 1], kvh, d, cols);
            }
            let seen: Vec<_> = cache
                .iter()
                .zip(pad.iter().zip(base))
                .map(|(regions, (&pad, base))| kernels::CacheRow {
                    k: &*regions[2 * l],
                    v: &*regions[2 * l + 1],
                    pad,
                    base: base[l],
                })
                .collect();
            kernels::attention(&q, &seen, shape, &mut att, self.isa, pool);
            block.o.matmul(&att, m, &mut y, pool)?;
            kernels::add_in_place(&mut x, &y);
            kernels::rms_norm(&x, &block.mlp_norm, eps, &mut h);
            block.gate_up.matmul(&h, m, &mut gu, pool)?;
            kernels::silu_mul(&gu, inter, &mut act, pool);
            block.down.matmul(&act, m, &mut y, pool)?;
            kernels::add_in_place(&mut x, &y);
        }
        kernels::rms_norm(&x, &self.norm, eps, out);
        Ok(())
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
        self.head.matmul(&x, m, &mut y, &CandlePool)?;
        let mut shape = dims.to_vec();
        *shape.last_mut().unwrap_or(&mut 0) = self.head.n();
        Tensor::from_vec(y, shape, &Device::Cpu)
    }
}

/// Where a step stands in the cache: `t` new tokens after `cols` columns of buffers of `cap`.
#[derive(Debug, Clone, Copy)]
struct Step {
    t: usize,
    cols: usize,
    cap: usize,
}

/// Some rows of a step: their embedded tokens `(rows · t, hidden)`, RoPE tables, padding, the sequences they
/// continue (per block), their cache regions (per block: keys, then values) and their output.
struct Rows<'a> {
    x: &'a [f32],
    cos: &'a [f32],
    sin: &'a [f32],
    pad: &'a [usize],
    base: &'a [Vec<kernels::Base<'a>>],
    cache: Vec<Vec<&'a mut [f32]>>,
    out: &'a mut [f32],
}

/// Whether a step of `rows` sequences of `t` new tokens runs as one work item per thread, each
/// a run of whole rows through every block, rather than each product and attention split over
/// the threads with a hand-off between them (about 25 per step). Whole rows idle a thread
/// where the rows do not divide evenly, which costs only where a row is long (a prompt).
fn by_rows(rows: usize, t: usize, threads: usize) -> bool {
    threads > 1
        && rows >= threads
        && (t <= 16 || rows.is_multiple_of(threads) || rows >= 4 * threads)
}

/// Runs `f` with the f32 CPU values of every tensor (contiguous, from its first element)
/// borrowed mutably at once: each tensor's write lock is held, one inside the other, while
/// `f` runs. The tensors must not share storage (a batch's buffers never do).
fn with_buffers(
    tensors: &[&Tensor],
    f: &mut dyn FnMut(Vec<&mut [f32]>) -> Result<()>,
) -> Result<()> {
    let held = std::cell::RefCell::new(Vec::with_capacity(tensors.len()));
    let f = std::cell::RefCell::new(f);
    descend(tensors, &held, &f)
}

type Held = std::cell::RefCell<Vec<(*mut f32, usize)>>;
type Body<'f> = std::cell::RefCell<&'f mut dyn FnMut(Vec<&mut [f32]>) -> Result<()>>;

fn descend(rest: &[&Tensor], held: &Held, f: &Body) -> Result<()> {
    let Some((first, rest)) = rest.split_first() else {
        let bufs = held
            .borrow()
            .iter()
            // SAFETY: each pointer and length is a distinct tensor's storage, borrowed
            // mutably by a `Borrow::cpu_fwd` further up this call stack that is still running
            // (so its write lock is held and nothing else reads or writes it).
            .map(|&(p, n)| unsafe { std::slice::from_raw_parts_mut(p, n) })
            .collect();
        return (f.borrow_mut())(bufs);
    };
    first.inplace_op1(&Borrow { rest, held, f })
}

/// One level of [`with_buffers`]: holds one tensor's storage and descends to the next.
struct Borrow<'a, 'f> {
    rest: &'a [&'a Tensor],
    held: &'a Held,
    f: &'a Body<'f>,
}

impl InplaceOp1 for Borrow<'_, '_> {
    fn name(&self) -> &'static str {
        "borrow-kv-buffers"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let (CpuStorage::F32(data), true) = (storage, layout.is_contiguous()) else {
            bail!("the key/value cache is not a contiguous f32 CPU buffer");
        };
        let range = layout.start_offset()..layout.start_offset() + layout.shape().elem_count();
        let Some(data) = data.get_mut(range) else {
            bail!("the key/value cache is shorter than its shape");
        };
        self.held.borrow_mut().push((data.as_mut_ptr(), data.len()));
        descend(self.rest, self.held, self.f)
    }
}

/// The buffers of a batch (per block: keys, values; each `(buffer rows, kv_heads, cap,
/// head_dim)`) cut into each row's own region of `per_row` values: per row, per buffer.
fn row_regions<'a>(
    bufs: Vec<&'a mut [f32]>,
    slot: &[usize],
    per_row: usize,
) -> Result<Vec<Vec<&'a mut [f32]>>> {
    let mut by_slot: Vec<Vec<Option<&mut [f32]>>> = bufs
        .into_iter()
        .map(|b| b.chunks_exact_mut(per_row).map(Some).collect())
        .collect();
    let mut rows = Vec::with_capacity(slot.len());
    for &s in slot {
        let mut regions = Vec::with_capacity(by_slot.len());
        for buf in &mut by_slot {
            let Some(region) = buf.get_mut(s).and_then(Option::take) else {
                bail!("batch row {s} is missing or held by two rows");
            };
            regions.push(region);
        }
        rows.push(regions);
    }
    Ok(rows)
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
        // Every kernel this CPU has.
        for isa in [Isa::Avx512, Isa::Avx2, Isa::Scalar] {
            if isa.available() {
                agree(&fast.clone().with_isa(isa), &slow);
            }
        }
    }

    /// A step split by whole rows per thread computes what the same step split by products
    /// and attention heads computes, bit for bit: hidden states, and the keys and values
    /// cached, through prompts of several tokens, rows continuing cached prefixes of
    /// different lengths, decoding, and rows leaving the batch.
    #[test]
    fn whole_rows_per_thread_compute_what_split_products_compute() {
        let (fast, _) = both(&default_policy_dir(), None);
        let dense = fast.dense().expect("the toy policy runs on the kernels");
        let (cfg, dev) = (fast.config(), Device::Cpu);
        let vocab = cfg.vocab_size as u32;
        let tokens = |n: usize, salt: u32| -> Vec<u32> {
            (0..n as u32).map(|i| (i * 7 + salt) % vocab).collect()
        };
        let run = |split: bool| -> (Vec<Vec<f32>>, Vec<Vec<f32>>) {
            let mut seen = Vec::new();
            let mut step = |kv: &mut BatchKv, ids: Vec<u32>, t: usize| {
                let rows = ids.len() / t;
                let ids = Tensor::from_vec(ids, (rows, t), &dev).unwrap();
                let h = dense.forward_split(&ids, kv, Some(split)).unwrap();
                seen.push(h.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            };
            let empty = SeqKv::default();
            let mut first = BatchKv::continuing(cfg, &[&empty; 4], 2, DType::F32, &dev).unwrap();
            step(&mut first, tokens(4 * 9, 3), 9);
            let prompts: Vec<SeqKv> = (0..4).map(|r| first.row(r).unwrap()).collect();
            // Five rows continuing prefixes of 9, 4, 7, 9 and 1 tokens.
            let prefixes: Vec<SeqKv> = [(0, 9), (1, 4), (2, 7), (3, 9), (0, 1)]
                .iter()
                .map(|&(r, len)| prompts[r].prefix(len).unwrap())
                .collect();
            let refs: Vec<&SeqKv> = prefixes.iter().collect();
            let mut kv = BatchKv::continuing(cfg, &refs, 2, DType::F32, &dev).unwrap();
            step(&mut kv, tokens(5 * 3, 1), 3);
            for i in 0..6u32 {
                if i == 3 {
                    kv.retain(&[0, 2, 3, 4]);
                }
                let rows = kv.rows();
                step(&mut kv, tokens(rows, i), 1);
            }
            let cached = (0..kv.rows())
                .flat_map(|r| kv.row(r).unwrap().layers)
                .flat_map(|(k, v)| [k, v])
                .map(|t| t.flatten_all().unwrap().to_vec1::<f32>().unwrap())
                .collect();
            (seen, cached)
        };
        assert!(run(true) == run(false), "the two splits differ");
    }

    /// SmolLM2's Q4_1 GGUF (where `scripts/fetch-models.sh` fetched it): loaded twice, on the
    /// kernels (quantized products on `qmatmul`'s kernels, the rest here) and on candle's ops.
    fn smollm2() -> Option<(Transformer, Transformer)> {
        let path = crate::engine::beside_crate("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf");
        if !path.exists() {
            assert!(
                std::env::var_os("THINKSCALE_REQUIRE_MODELS").is_none(),
                "{} is missing (scripts/fetch-models.sh)",
                path.display()
            );
            eprintln!("skipped: {} is missing", path.display());
            return None;
        }
        let header = ModelHeader::read(&path).unwrap();
        let WeightSource::Gguf(g) = header.weights else {
            panic!("a GGUF file");
        };
        let crate::engine::gguf::GgufFile { content, mut file } = *g;
        let dev = Device::Cpu;
        let cfg = header.config.clone();
        let w = transformer::weights_from_gguf(
            &cfg,
            transformer::gguf_reader(&content, &mut file, &dev),
            &dev,
        )
        .unwrap();
        let packed = DenseCpu::new_quantized(&cfg, &w)
            .unwrap()
            .expect("SmolLM2 packs");
        let slow = Transformer::new(cfg, w, &dev).unwrap().without_dense();
        let fast = slow.clone().with_dense(packed);
        Some((fast, slow))
    }

    /// SmolLM2 on the kernels against candle's ops, greedy from a chat prompt for 40 tokens:
    /// the logits stay within 2 of candle's (each quantized product rounds its inputs to 8
    /// bits, so float-order differences grow through 30 blocks to about 1; a wrong head
    /// grouping or RoPE gives 10 and more), and the greedy token is candle's wherever candle's
    /// margin between its first two exceeds twice that distance. Then 4 rows continuing the
    /// prompt: split by whole rows and by products, the same numbers bit for bit.
    #[test]
    fn smollm2_on_the_kernels_computes_what_candle_computes() {
        let Some((fast, slow)) = smollm2() else {
            return;
        };
        let dev = Device::Cpu;
        let prompt: Vec<u32> = vec![
            1, 4093, 198, 2683, 314, 216, 33, 39, 284, 216, 34, 37, 47, 2, 198, 1, 520, 9531, 198,
        ];
        let mut kvs: Vec<BatchKv> = [&fast, &slow]
            .iter()
            .map(|m| m.batch(&[&SeqKv::default()], 64, &dev).unwrap())
            .collect();
        let mut next = prompt.clone();
        for step in 0..40 {
            let ids = Tensor::from_vec(next.clone(), (1, next.len()), &dev).unwrap();
            let (hf, hs) = (
                fast.forward(&ids, &mut kvs[0]).unwrap(),
                slow.forward(&ids, &mut kvs[1]).unwrap(),
            );
            let last = |h: &Tensor| h.narrow(1, next.len() - 1, 1).unwrap();
            let (lf, ls) = (
                fast.logits(&last(&hf)).unwrap(),
                slow.logits(&last(&hs)).unwrap(),
            );
            let diff = max_diff(&lf, &ls);
            assert!(diff < 2.0, "step {step}: logits differ by {diff}");
            let mut top: Vec<(f32, u32)> = ls
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .zip(0..)
                .collect();
            top.sort_by(|a, b| b.0.total_cmp(&a.0));
            let ours = lf
                .flatten_all()
                .unwrap()
                .argmax(0)
                .unwrap()
                .to_scalar::<u32>()
                .unwrap();
            if top[0].0 - top[1].0 > 2.0 * diff {
                assert_eq!(ours, top[0].1, "step {step}: a clear greedy token differs");
            }
            next = vec![top[0].1];
        }
        let dense = fast.dense().unwrap();
        let prompt_kv = kvs[0].row(0).unwrap();
        let run = |split: bool| -> Vec<Vec<f32>> {
            let rows = [&prompt_kv; 4];
            let mut kv = BatchKv::continuing(fast.config(), &rows, 4, DType::F32, &dev).unwrap();
            let mut seen = Vec::new();
            for (i, t) in [3usize, 1, 1].into_iter().enumerate() {
                let ids: Vec<u32> = (0..4 * t as u32).map(|j| 100 + 37 * j + i as u32).collect();
                let ids = Tensor::from_vec(ids, (4, t), &dev).unwrap();
                let h = dense.forward_split(&ids, &mut kv, Some(split)).unwrap();
                seen.push(h.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            }
            seen
        };
        assert!(run(true) == run(false), "the two splits differ on SmolLM2");
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
                let mut wide: Option<Vec<f32>> = None;
                for isa in [Isa::Scalar, Isa::Avx2, Isa::Avx512]
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
                    // AVX2 and AVX-512 run the same chain of fused multiply-adds per output.
                    if isa != Isa::Scalar {
                        match &wide {
                            Some(prev) => assert!(prev == &y, "{isa:?} differs from AVX2"),
                            None => wide = Some(y),
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
