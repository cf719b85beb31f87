//! One decoder-only transformer for the Llama family (Llama 2 and 3.x, SmolLM2, Mistral) and the
//! Qwen2 family, with weights from safetensors (dense) or GGUF (quantized or not).
//!
//! Why not candle-transformers' own `llama`, `mistral` and `quantized_llama`: they return only
//! the last position's logits (teacher-forced scoring would cost a forward pass per token),
//! the quantized one cannot process a prompt at batch size above 1 and ignores Llama 3's RoPE
//! frequency factors (`rope_freqs.weight`). This module is built from the same candle pieces
//! (`QMatMul`, the fused RoPE and RMS-norm kernels) in candle's style: a `Config`, blocks that
//! take their weights by the checkpoint's names, `forward(ids, offset)` and `clear_kv_cache`.
//! Tests check it against candle's stock `qwen2` and `quantized_llama` on the same weights, and
//! against llama.cpp's greedy tokens on the SmolLM2 GGUF.

use super::dense::DenseCpu;
use super::qmatmul::QLinear;
use candle_core::quantized::{gguf_file, QMatMul, QTensor};
use candle_core::{DType, Device, Result, Tensor};
use std::collections::HashMap;

/// How RoPE frequencies are scaled for long contexts.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    /// Plain RoPE.
    None,
    /// Positions divided by `factor` (all frequencies divided by it).
    Linear {
        /// The divisor.
        factor: f64,
    },
    /// Llama 3.1's scheme: low frequencies divided by `factor`, high ones kept, a smooth ramp
    /// between (HF `rope_type: "llama3"`).
    Llama3 {
        /// Divisor of the low frequencies.
        factor: f64,
        /// Wavelengths longer than `original / low_freq_factor` are divided by `factor`.
        low_freq_factor: f64,
        /// Wavelengths shorter than `original / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// The context the model was pretrained with.
        original_max_position_embeddings: f64,
    },
    /// Per-frequency divisors stored in the file (GGUF `rope_freqs.weight`).
    Factors(Vec<f32>),
}

/// The shape of a model: everything the forward pass needs besides the weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Tokens in the embedding table.
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Decoder blocks.
    pub num_layers: usize,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads (grouped-query attention when fewer than query heads).
    pub num_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Epsilon of the RMS norms.
    pub rms_norm_eps: f64,
    /// RoPE base.
    pub rope_theta: f64,
    /// RoPE frequency scaling.
    pub rope_scaling: RopeScaling,
    /// Interleaved RoPE (pairs `2i, 2i+1`, GGUF Llama's permuted weights) rather than halves
    /// (pairs `i, i + d/2`, HF layout and every Qwen2).
    pub rope_interleaved: bool,
    /// Longest sequence the model was trained for.
    pub max_position_embeddings: usize,
    /// Each token attends to at most this many tokens (itself included), if set.
    pub sliding_window: Option<usize>,
}

impl Config {
    /// Checks that the dimensions fit together.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let c = self;
        if c.vocab_size == 0 || c.hidden_size == 0 || c.num_layers == 0 || c.intermediate_size == 0
        {
            return Err("vocabulary, hidden size, layers and intermediate size must be > 0".into());
        }
        if c.num_heads == 0 || c.num_kv_heads == 0 || !c.num_heads.is_multiple_of(c.num_kv_heads) {
            return Err(format!(
                "{} attention heads cannot share {} key/value heads",
                c.num_heads, c.num_kv_heads
            ));
        }
        if c.head_dim == 0 || !c.head_dim.is_multiple_of(2) {
            return Err(format!("head dimension {} must be even", c.head_dim));
        }
        if let RopeScaling::Factors(f) = &c.rope_scaling {
            if f.len() != c.head_dim / 2 {
                return Err(format!(
                    "{} RoPE frequency factors for head dimension {}",
                    f.len(),
                    c.head_dim
                ));
            }
        }
        if c.max_position_embeddings == 0 {
            return Err("context length must be > 0".into());
        }
        // Sizes far beyond any real model come from a corrupt or hostile file; refusing them
        // here keeps the loader from reserving memory for them.
        let limits = [
            ("vocabulary", c.vocab_size, 1 << 22),
            ("hidden size", c.hidden_size, 1 << 16),
            ("intermediate size", c.intermediate_size, 1 << 18),
            ("layers", c.num_layers, 1 << 10),
            ("attention heads", c.num_heads, 1 << 10),
            ("head dimension", c.head_dim, 1 << 12),
            ("context length", c.max_position_embeddings, 1 << 24),
        ];
        for (what, v, max) in limits {
            if v > max {
                return Err(format!(
                    "{what} {v} is beyond any supported model (at most {max})"
                ));
            }
        }
        Ok(())
    }

    /// Parameters the shape implies (embeddings, blocks, norms and an untied head), computed
    /// without overflow however large the sizes.
    pub fn param_count(&self) -> u128 {
        let c = self;
        let (v, h, i) = (
            c.vocab_size as u128,
            c.hidden_size as u128,
            c.intermediate_size as u128,
        );
        let q = (c.num_heads * c.head_dim) as u128;
        let kv = (c.num_kv_heads * c.head_dim) as u128;
        let block = h * q + 2 * h * kv + q * h + 3 * h * i + 2 * h;
        2 * v * h + c.num_layers as u128 * block + h
    }

    /// The inverse frequencies of RoPE, `head_dim / 2` of them, scaling applied.
    pub fn inv_freq(&self) -> Vec<f32> {
        let d = self.head_dim as f64;
        let base: Vec<f64> = (0..self.head_dim / 2)
            .map(|i| 1.0 / self.rope_theta.powf(2.0 * i as f64 / d))
            .collect();
        let scaled: Vec<f64> = match &self.rope_scaling {
            RopeScaling::None => base,
            RopeScaling::Linear { factor } => base.iter().map(|f| f / factor).collect(),
            RopeScaling::Factors(fs) => base.iter().zip(fs).map(|(f, s)| f / *s as f64).collect(),
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings: orig,
            } => {
                let low_wavelen = orig / low_freq_factor;
                let high_wavelen = orig / high_freq_factor;
                base.iter()
                    .map(|&f| {
                        let wavelen = 2.0 * std::f64::consts::PI / f;
                        if wavelen < high_wavelen {
                            f
                        } else if wavelen > low_wavelen {
                            f / factor
                        } else {
                            let smooth = (orig / wavelen - low_freq_factor)
                                / (high_freq_factor - low_freq_factor);
                            (1.0 - smooth) * f / factor + smooth * f
                        }
                    })
                    .collect()
            }
        };
        scaled.into_iter().map(|f| f as f32).collect()
    }
}

/// A linear map: dense or quantized weight `(out, in)`, optional bias.
#[derive(Debug, Clone)]
pub struct Proj {
    weight: QLinear,
    bias: Option<Tensor>,
}

impl Proj {
    /// A dense projection.
    pub fn dense(weight: Tensor, bias: Option<Tensor>) -> Self {
        Self {
            weight: QLinear::Candle(QMatMul::Tensor(weight)),
            bias,
        }
    }

    /// A projection from a GGUF tensor (F32/F16/BF16 are dequantized, as candle does; Q4_1 and
    /// Q8_0 on the CPU run on [`super::qmatmul`]'s kernels, with candle's results for Q4_1 and
    /// results within float rounding of candle's for Q8_0).
    pub fn quantized(weight: QTensor, bias: Option<Tensor>) -> Result<Self> {
        Self::quantized_arc(std::sync::Arc::new(weight), bias)
    }

    /// As [`Self::quantized`], for a tensor shared with another user (tied embeddings: the
    /// output head of SmolLM2's GGUF is its Q8_0 token embedding, so it takes the same fast
    /// path; the repacked copy is separate from the embedding's lookup table).
    pub fn quantized_arc(weight: std::sync::Arc<QTensor>, bias: Option<Tensor>) -> Result<Self> {
        Ok(Self {
            weight: QLinear::from_arc(weight)?,
            bias,
        })
    }

    /// The repacked quantized weight and the bias of a projection on [`super::qmatmul`]'s
    /// kernels; `None` for any other.
    pub(super) fn fast_parts(
        &self,
    ) -> Option<(
        &std::sync::Arc<super::qmatmul::FastQMatMul>,
        Option<&Tensor>,
    )> {
        match &self.weight {
            QLinear::Fast(w) => Some((w, self.bias.as_ref())),
            _ => None,
        }
    }

    /// The weight `(out, in)` and bias of a dense projection; `None` for a quantized one.
    pub fn dense_parts(&self) -> Option<(&Tensor, Option<&Tensor>)> {
        match &self.weight {
            QLinear::Candle(QMatMul::Tensor(w)) => Some((w, self.bias.as_ref())),
            _ => None,
        }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.weight.forward(x)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// The token embedding table, dense or quantized.
#[derive(Debug, Clone)]
pub enum Embedding {
    /// `(vocab, hidden)` in f32.
    Dense(Tensor),
    /// A GGUF tensor, looked up row by row without dequantizing the table.
    Quantized(std::sync::Arc<QTensor>),
}

impl Embedding {
    /// The rows of `ids` `(b, t)`: `(b, t, hidden)`.
    pub(super) fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        match self {
            Self::Dense(w) => {
                let (b, t) = ids.dims2()?;
                w.index_select(&ids.flatten_all()?, 0)?
                    .reshape((b, t, w.dim(1)?))
            }
            Self::Quantized(q) => q.embedding(ids)?.to_dtype(DType::F32),
        }
    }
}

/// The weights of one decoder block.
#[derive(Debug, Clone)]
pub struct Block {
    /// RMS-norm weight before attention.
    pub attn_norm: Tensor,
    /// Query projection.
    pub q: Proj,
    /// Key projection.
    pub k: Proj,
    /// Value projection.
    pub v: Proj,
    /// Output projection.
    pub o: Proj,
    /// RMS-norm weight before the MLP.
    pub mlp_norm: Tensor,
    /// MLP gate (SiLU).
    pub gate: Proj,
    /// MLP up projection.
    pub up: Proj,
    /// MLP down projection.
    pub down: Proj,
}

/// All weights of a model.
#[derive(Debug, Clone)]
pub struct Weights {
    /// Token embeddings.
    pub embed: Embedding,
    /// The decoder blocks.
    pub blocks: Vec<Block>,
    /// Final RMS-norm weight.
    pub norm: Tensor,
    /// Output head (the embeddings again where they are tied).
    pub lm_head: Proj,
}

/// The keys and values of one sequence: per block, keys and values
/// `(1, kv_heads, len, head_dim)`. Cloning shares the tensors (candle tensors are immutable
/// where they are shared), so a fork costs nothing until it is continued.
#[derive(Debug, Clone, Default)]
pub struct SeqKv {
    /// Per block: keys and values.
    pub layers: Vec<(Tensor, Tensor)>,
    /// Positions held.
    pub len: usize,
}

impl SeqKv {
    /// The first `len` positions (views, no copy): the cache of a prefix.
    pub fn prefix(&self, len: usize) -> Result<Self> {
        let len = len.min(self.len);
        let layers = self
            .layers
            .iter()
            .map(|(k, v)| Ok((k.narrow(2, 0, len)?, v.narrow(2, 0, len)?)))
            .collect::<Result<_>>()?;
        Ok(Self { layers, len })
    }

    /// Block `l`'s keys and values.
    pub fn layer(&self, l: usize) -> Result<&(Tensor, Tensor)> {
        self.layers
            .get(l)
            .ok_or_else(|| candle_core::Error::Msg(format!("cached sequence lacks block {l}")))
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|(k, v)| (k.elem_count() + v.elem_count()) * k.dtype().size_in_bytes())
            .sum()
    }
}

/// The key/value cache of a batch of sequences that decode together, owned by the caller.
///
/// Per block one buffer `(rows, kv_heads, capacity, head_dim)`, written in place as tokens
/// arrive (no copy of the cache per token). Rows may hold sequences of different lengths: a
/// shorter row is left-padded, its first `pad[r]` columns masked out of attention, and its
/// positions (RoPE) count from its own start. Rows are dropped with [`BatchKv::retain`], which
/// copies nothing: candle's ops, which need the rows side by side, move them first
/// ([`BatchKv::compact`]); the CPU kernels ([`super::dense`]) read them where they are.
#[derive(Debug, Clone)]
pub struct BatchKv {
    pub(super) layers: Vec<(Tensor, Tensor)>,
    /// Columns in use (the longest row's length).
    pub(super) cols: usize,
    /// Per row: leading columns that hold nothing.
    pub(super) pad: Vec<usize>,
    /// Per row: the buffer row that holds it.
    pub(super) slot: Vec<usize>,
    /// Per row: the sequence it continues, read in place, its buffer columns holding only
    /// what came after ([`BatchKv::continuing`]); empty where the buffers hold the whole row.
    pub(super) base: Vec<SeqKv>,
}

impl BatchKv {
    /// Rows continuing the given sequences (an empty [`SeqKv`] starts from nothing), keys and
    /// values of type `dtype`; room for `reserve` more tokens before the buffers grow.
    pub fn from_rows(
        cfg: &Config,
        rows: &[&SeqKv],
        reserve: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let shape = (cfg.num_layers, cfg.num_kv_heads, cfg.head_dim);
        Self::build(shape, rows, reserve, dtype, device)
    }

    /// Rows continuing the given sequences, which on the CPU in f32 are read where they are
    /// (by [`super::dense`]'s kernels; candle's ops copy them in first, [`Self::compact`]):
    /// the buffers hold only the tokens that come after, with room for `reserve` of them.
    /// Elsewhere, as [`Self::from_rows`].
    pub fn continuing(
        cfg: &Config,
        rows: &[&SeqKv],
        reserve: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let whole = |r: &&SeqKv| r.len == 0 || r.layers.len() == cfg.num_layers;
        if !device.is_cpu() || dtype != DType::F32 || !rows.iter().all(whole) {
            return Self::from_rows(cfg, rows, reserve, dtype, device);
        }
        let empty = SeqKv::default();
        let mut kv = Self::from_rows(cfg, &vec![&empty; rows.len()], reserve, dtype, device)?;
        kv.base = rows.iter().map(|r| (*r).clone()).collect();
        Ok(kv)
    }

    /// [`Self::from_rows`] for `(layers, kv_heads, head_dim)`.
    fn build(
        (num_layers, heads, head_dim): (usize, usize, usize),
        rows: &[&SeqKv],
        reserve: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let cols = rows.iter().map(|r| r.len).max().unwrap_or(0);
        let cap = cols + reserve.max(1);
        let shape = (rows.len(), heads, cap, head_dim);
        let pad = rows.iter().map(|r| cols - r.len).collect();
        let slot = (0..rows.len()).collect();
        let base = vec![SeqKv::default(); rows.len()];
        let dims = (num_layers, heads, head_dim);
        if let Some(layers) = Self::gather_f32(dims, rows, cap, dtype, device)? {
            return Ok(Self {
                layers,
                cols,
                pad,
                slot,
                base,
            });
        }
        let mut layers = Vec::with_capacity(num_layers);
        for l in 0..num_layers {
            let k = Tensor::zeros(shape, dtype, device)?;
            let v = Tensor::zeros(shape, dtype, device)?;
            for (r, row) in rows.iter().enumerate() {
                if row.len == 0 {
                    continue;
                }
                let (rk, rv) = row.layer(l)?;
                let off = cols - row.len;
                k.narrow(0, r, 1)?.slice_set(&rk.contiguous()?, 2, off)?;
                v.narrow(0, r, 1)?.slice_set(&rv.contiguous()?, 2, off)?;
            }
            layers.push((k, v));
        }
        Ok(Self {
            layers,
            cols,
            pad,
            slot,
            base,
        })
    }

    /// [`Self::from_rows`]' buffers on the CPU in f32, each row's keys and values copied once
    /// straight from the views they are (candle's `slice_set` would first make each view
    /// contiguous, then copy it again into a zeroed buffer); `None` elsewhere, or where a row
    /// is not a view of whole head rows.
    fn gather_f32(
        (num_layers, heads, d): (usize, usize, usize),
        rows: &[&SeqKv],
        cap: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Option<Vec<(Tensor, Tensor)>>> {
        if !device.is_cpu() || dtype != DType::F32 {
            return Ok(None);
        }
        let cols = rows.iter().map(|r| r.len).max().unwrap_or(0);
        let per_row = heads * cap * d;
        let mut layers = Vec::with_capacity(num_layers);
        for l in 0..num_layers {
            let mut k = vec![0f32; rows.len() * per_row];
            let mut v = vec![0f32; rows.len() * per_row];
            for (r, row) in rows.iter().enumerate() {
                if row.len == 0 {
                    continue;
                }
                let (rk, rv) = row.layer(l)?;
                let off = cols - row.len;
                let dst = r * per_row..(r + 1) * per_row;
                if !copy_heads(rk, &mut k[dst.clone()], cap, off)?
                    || !copy_heads(rv, &mut v[dst], cap, off)?
                {
                    return Ok(None);
                }
            }
            let shape = (rows.len(), heads, cap, d);
            layers.push((
                Tensor::from_vec(k, shape, device)?,
                Tensor::from_vec(v, shape, device)?,
            ));
        }
        Ok(Some(layers))
    }

    /// Rows in the batch.
    pub fn rows(&self) -> usize {
        self.pad.len()
    }

    /// Length of row `r`.
    pub fn len(&self, r: usize) -> usize {
        self.base[r].len + self.cols - self.pad[r]
    }

    /// Whether the batch has no rows.
    pub fn is_empty(&self) -> bool {
        self.pad.is_empty()
    }

    /// Row `r` as a sequence of its own (a copy: it outlives the batch's buffers).
    pub fn row(&self, r: usize) -> Result<SeqKv> {
        let (pad, own, base) = (self.pad[r], self.cols - self.pad[r], &self.base[r]);
        let layers = self
            .layers
            .iter()
            .enumerate()
            .map(|(l, (k, v))| {
                let take = |t: &Tensor, before: Option<&Tensor>| {
                    let t = t.narrow(0, self.slot[r], 1)?.narrow(2, pad, own)?;
                    match before {
                        Some(b) => Tensor::cat(&[b, &t], 2),
                        None => t.force_contiguous(),
                    }
                };
                let before = base.layers.get(l).filter(|_| base.len > 0);
                Ok((
                    take(k, before.map(|b| &b.0))?,
                    take(v, before.map(|b| &b.1))?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(SeqKv {
            layers,
            len: self.len(r),
        })
    }

    /// Keeps only the rows `keep` (in that order). Nothing moves: the rows that left keep
    /// their place in the buffers (which the batch holds anyway from its start) until
    /// [`Self::compact`] or the end of the batch.
    pub fn retain(&mut self, keep: &[usize]) {
        self.pad = keep.iter().map(|&r| self.pad[r]).collect();
        self.slot = keep.iter().map(|&r| self.slot[r]).collect();
        self.base = keep.iter().map(|&r| self.base[r].clone()).collect();
    }

    /// Whether row `r` sits in buffer row `r` for every row, as candle's ops need.
    pub fn is_compact(&self) -> bool {
        let held = self.layers.first().map_or(0, |(k, _)| k.dims()[0]);
        held == self.rows()
            && self.slot.iter().enumerate().all(|(i, &s)| i == s)
            && self.base.iter().all(|b| b.len == 0)
    }

    /// Moves the rows into buffers of their own, row `r` in buffer row `r`, dropping the
    /// columns every row leaves empty.
    pub fn compact(&mut self) -> Result<()> {
        if self.is_compact() {
            return Ok(());
        }
        if let Some((k, _)) = self
            .layers
            .first()
            .filter(|_| self.base.iter().any(|b| b.len > 0))
        {
            // The sequences continued move in: every row whole, with the room it had.
            let (_, heads, cap, d) = k.dims4()?;
            let (dtype, device) = (k.dtype(), k.device().clone());
            let rows = (0..self.rows())
                .map(|r| self.row(r))
                .collect::<Result<Vec<_>>>()?;
            let rows: Vec<&SeqKv> = rows.iter().collect();
            let shape = (self.layers.len(), heads, d);
            *self = Self::build(shape, &rows, cap - self.cols, dtype, &device)?;
            return Ok(());
        }
        let device = self
            .layers
            .first()
            .map(|(k, _)| k.device().clone())
            .unwrap_or(Device::Cpu);
        let idx = Tensor::from_vec(
            self.slot.iter().map(|&r| r as u32).collect::<Vec<_>>(),
            self.slot.len(),
            &device,
        )?;
        // Columns every row leaves empty are dropped too.
        let trim = self.pad.iter().copied().min().unwrap_or(0);
        for (k, v) in &mut self.layers {
            let cap = k.dim(2)? - trim;
            *k = k
                .index_select(&idx, 0)?
                .narrow(2, trim, cap)?
                .contiguous()?;
            *v = v
                .index_select(&idx, 0)?
                .narrow(2, trim, cap)?
                .contiguous()?;
        }
        self.pad.iter_mut().for_each(|p| *p -= trim);
        self.slot = (0..self.pad.len()).collect();
        self.cols -= trim;
        Ok(())
    }

    /// Makes room for `t` more columns, doubling the buffers where they are full.
    pub(super) fn reserve(&mut self, t: usize) -> Result<()> {
        for (k, v) in &mut self.layers {
            let cap = k.dim(2)?;
            if self.cols + t <= cap {
                continue;
            }
            let new_cap = (self.cols + t).max(2 * cap);
            let (b, h, _, d) = k.dims4()?;
            let grow = |old: &Tensor| -> Result<Tensor> {
                let t = Tensor::zeros((b, h, new_cap, d), old.dtype(), old.device())?;
                t.slice_set(&old.narrow(2, 0, self.cols)?.contiguous()?, 2, 0)?;
                Ok(t)
            };
            *k = grow(k)?;
            *v = grow(v)?;
        }
        Ok(())
    }
}

/// Keys or values `(1, heads, len', head_dim)` on the CPU in f32 whose heads are runs of whole
/// rows (a cached sequence, or a prefix of one): the values from head 0's first, and the
/// stride between heads, where the first `len` rows of every head lie inside; `None` for any
/// other layout.
pub(super) fn head_rows<'a>(
    s: &'a candle_core::Storage,
    l: &candle_core::Layout,
    len: usize,
    d: usize,
) -> Option<(&'a [f32], usize)> {
    let candle_core::Storage::Cpu(candle_core::CpuStorage::F32(v)) = s else {
        return None;
    };
    let [one, heads, held, dim] = *l.dims() else {
        return None;
    };
    let stride = l.stride();
    let fits = one == 1 && heads > 0 && held >= len && dim == d && stride[3] == 1 && stride[2] == d;
    let end = l.start_offset() + heads.saturating_sub(1) * stride[1] + len * d;
    (fits && end <= v.len()).then(|| (&v[l.start_offset()..], stride[1]))
}

/// Copies `src`, keys or values `(1, heads, len, head_dim)` as [`head_rows`] reads them, into
/// `dst` laid out `(heads, cap, head_dim)`, from column `off`; `false` (nothing copied) where
/// `src` is not such a view or does not fit.
fn copy_heads(src: &Tensor, dst: &mut [f32], cap: usize, off: usize) -> Result<bool> {
    let (storage, layout) = src.storage_and_layout();
    let [_, heads, len, d] = *layout.dims() else {
        return Ok(false);
    };
    let Some((data, head_stride)) = head_rows(&storage, layout, len, d) else {
        return Ok(false);
    };
    if off + len > cap || dst.len() < heads * cap * d {
        return Ok(false);
    }
    for h in 0..heads {
        let at = (h * cap + off) * d;
        dst[at..at + len * d].copy_from_slice(&data[h * head_stride..][..len * d]);
    }
    Ok(true)
}

/// A loaded model. The key/value cache belongs to the caller ([`BatchKv`]), so one model
/// serves any number of sequences, forked and continued in any order.
#[derive(Debug, Clone)]
pub struct Transformer {
    cfg: Config,
    w: Weights,
    inv_freq: Tensor,
    /// Type of the activations and the cache: the dense weights' type, f32 for GGUF.
    dtype: DType,
    /// The same weights packed for the CPU kernels, for a small dense f32 model on the CPU
    /// ([`super::dense`]).
    dense: Option<std::sync::Arc<DenseCpu>>,
}

impl Transformer {
    /// Builds the model from its configuration and weights.
    pub fn new(cfg: Config, w: Weights, device: &Device) -> Result<Self> {
        let inv = cfg.inv_freq();
        let inv_freq = Tensor::from_vec(inv, (1, cfg.head_dim / 2), device)?;
        let dtype = match &w.embed {
            Embedding::Dense(t) => t.dtype(),
            Embedding::Quantized(_) => DType::F32,
        };
        let dense = match device.is_cpu() && super::qmatmul::fast_kernels() {
            true => DenseCpu::new(&cfg, &w)?.map(std::sync::Arc::new),
            false => None,
        };
        Ok(Self {
            cfg,
            w,
            inv_freq,
            dtype,
            dense,
        })
    }

    /// The same model on candle's ops only (no packed CPU kernels): the reference the
    /// kernels are checked against.
    pub fn without_dense(mut self) -> Self {
        self.dense = None;
        self
    }

    /// The same model on `packed`, the kernels' copy of its weights.
    #[cfg(test)]
    pub(super) fn with_dense(mut self, packed: DenseCpu) -> Self {
        self.dense = Some(std::sync::Arc::new(packed));
        self
    }

    /// The packed model the CPU kernels run, where they run it.
    #[cfg(test)]
    pub(super) fn dense(&self) -> Option<&DenseCpu> {
        self.dense.as_deref()
    }

    /// Whether the forward pass runs on [`super::dense`]'s CPU kernels.
    pub fn is_dense(&self) -> bool {
        self.dense.is_some()
    }

    /// Whether engines on these weights gain from running one per core side by side
    /// ([`super::CausalLm::twin`]): the forward pass runs on the CPU kernels with every weight
    /// dense f32.
    pub fn twins_pay(&self) -> bool {
        self.dense.as_ref().is_some_and(|d| d.all_packed())
    }

    /// The same model with its CPU kernels on `isa` (where this CPU runs it), for the tests.
    pub fn with_isa(mut self, isa: thinkscale_dense::Isa) -> Self {
        self.dense = self
            .dense
            .map(|d| std::sync::Arc::new((*d).clone().with_isa(isa)));
        self
    }

    /// Type of the activations and the key/value cache.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// A batch continuing `rows`, laid out for this model's forward pass: read where they are
    /// by the CPU kernels ([`BatchKv::continuing`]), copied in for candle's ops
    /// ([`BatchKv::from_rows`]); room for `reserve` more tokens.
    pub fn batch(&self, rows: &[&SeqKv], reserve: usize, device: &Device) -> Result<BatchKv> {
        match self.dense.is_some() && device.is_cpu() {
            true => BatchKv::continuing(&self.cfg, rows, reserve, self.dtype, device),
            false => BatchKv::from_rows(&self.cfg, rows, reserve, self.dtype, device),
        }
    }

    /// An empty cache for `rows` new sequences, with room for `reserve` tokens.
    pub fn empty_kv(&self, rows: usize, reserve: usize, device: &Device) -> Result<BatchKv> {
        let empty = SeqKv {
            layers: Vec::new(),
            len: 0,
        };
        BatchKv::from_rows(&self.cfg, &vec![&empty; rows], reserve, self.dtype, device)
    }

    /// Runs `ids` `(rows, time)`: row `r`'s tokens continue row `r` of `kv` (at its own
    /// positions), and their keys and values are appended to it. Returns the final hidden
    /// states `(rows, time, hidden)` (normed, before the head).
    pub fn forward(&self, ids: &Tensor, kv: &mut BatchKv) -> Result<Tensor> {
        let (b, t) = ids.dims2()?;
        if b != kv.rows() {
            candle_core::bail!("{b} rows of tokens for a cache of {} rows", kv.rows());
        }
        if kv.layers.len() != self.w.blocks.len() {
            candle_core::bail!(
                "cache of {} blocks for a model of {}",
                kv.layers.len(),
                self.w.blocks.len()
            );
        }
        if let (Some(dense), true) = (&self.dense, ids.device().is_cpu()) {
            return dense.forward(ids, kv);
        }
        let device = ids.device();
        kv.compact()?;
        kv.reserve(t)?;
        let (cos, sin) = self.rope_tables(kv, t, device)?;
        let mask = self.mask(kv, t, device)?;
        let mut x = self.w.embed.forward(ids)?;
        for (i, block) in self.w.blocks.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &block.attn_norm, self.cfg.rms_norm_eps as f32)?;
            let a = attention(
                &self.cfg,
                block,
                &h,
                &cos,
                &sin,
                mask.as_ref(),
                &kv.layers[i],
                kv.cols,
            )?;
            x = (x + a)?;
            let h = candle_nn::ops::rms_norm(&x, &block.mlp_norm, self.cfg.rms_norm_eps as f32)?;
            let m = block.down.forward(
                &(candle_nn::ops::silu(&block.gate.forward(&h)?)? * block.up.forward(&h)?)?,
            )?;
            x = (x + m)?;
        }
        kv.cols += t;
        candle_nn::ops::rms_norm(&x, &self.w.norm, self.cfg.rms_norm_eps as f32)
    }

    /// Logits `(..., vocab)` of hidden states `(..., hidden)`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        if let (Some(dense), true) = (&self.dense, hidden.device().is_cpu()) {
            return dense.logits(hidden);
        }
        self.w.lm_head.forward(&hidden.contiguous()?)
    }

    /// cos and sin of the new tokens' positions: `(time, head_dim / 2)` where every row starts
    /// at the same position, else `(rows, time, head_dim / 2)`.
    fn rope_tables(&self, kv: &BatchKv, t: usize, device: &Device) -> Result<(Tensor, Tensor)> {
        let starts: Vec<usize> = (0..kv.rows()).map(|r| kv.len(r)).collect();
        let same = starts.windows(2).all(|w| w[0] == w[1]);
        let rows: &[usize] = if same {
            &starts[..starts.len().min(1)]
        } else {
            &starts
        };
        let pos: Vec<f32> = rows
            .iter()
            .flat_map(|&s| (s..s + t).map(|p| p as f32))
            .collect();
        let n = pos.len();
        let angles = Tensor::from_vec(pos, (n, 1), device)?.matmul(&self.inv_freq)?;
        let (cos, sin) = (
            angles.cos()?.to_dtype(self.dtype)?,
            angles.sin()?.to_dtype(self.dtype)?,
        );
        if same {
            Ok((cos, sin))
        } else {
            let shape = (rows.len(), t, self.cfg.head_dim / 2);
            Ok((cos.reshape(shape)?, sin.reshape(shape)?))
        }
    }

    /// The additive mask `(rows or 1, 1, time, cols + time)` over the cache's columns and the
    /// new tokens: causal, left padding hidden, and within the sliding window where there is
    /// one; `None` where nothing is masked.
    fn mask(&self, kv: &BatchKv, t: usize, device: &Device) -> Result<Option<Tensor>> {
        let cols = kv.cols + t;
        let longest = kv.cols + t;
        let window = self.cfg.sliding_window.filter(|&w| w < longest);
        let padded = kv.pad.iter().any(|&p| p > 0);
        if t == 1 && window.is_none() && !padded {
            return Ok(None);
        }
        let rows: Vec<usize> = if padded { kv.pad.clone() } else { vec![0] };
        let mut mask = Vec::with_capacity(rows.len() * t * cols);
        for &pad in &rows {
            for i in 0..t {
                // Column j holds position j - pad; query i sits at position kv.cols - pad + i.
                let q = kv.cols + i;
                for j in 0..cols {
                    let visible = j >= pad && j <= q && window.is_none_or(|w| j + w > q);
                    mask.push(if visible { 0.0 } else { f32::NEG_INFINITY });
                }
            }
        }
        Ok(Some(
            Tensor::from_vec(mask, (rows.len(), 1, t, cols), device)?.to_dtype(self.dtype)?,
        ))
    }
}

/// Attention of `x` `(rows, time, hidden)` over the cache `(keys, values)` (buffers of which the
/// first `cols` columns are in use) and itself; the new keys and values are written into the
/// buffers at column `cols`. Grouped-query heads attend without copying the keys: the query
/// heads sharing a key/value head are stacked along the time axis.
#[allow(clippy::too_many_arguments)]
fn attention(
    cfg: &Config,
    block: &Block,
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    mask: Option<&Tensor>,
    cache: &(Tensor, Tensor),
    cols: usize,
) -> Result<Tensor> {
    let (b, t, _) = x.dims3()?;
    let heads = |p: &Proj, n: usize| -> Result<Tensor> {
        p.forward(x)?
            .reshape((b, t, n, cfg.head_dim))?
            .transpose(1, 2)?
            .contiguous()
    };
    let rope = |x: Tensor| -> Result<Tensor> {
        if cfg.rope_interleaved {
            candle_nn::rotary_emb::rope_i(&x, cos, sin)
        } else {
            candle_nn::rotary_emb::rope(&x, cos, sin)
        }
    };
    let q = rope(heads(&block.q, cfg.num_heads)?)?;
    let k = rope(heads(&block.k, cfg.num_kv_heads)?)?;
    let v = heads(&block.v, cfg.num_kv_heads)?;
    let (ck, cv) = cache;
    ck.slice_set(&k, 2, cols)?;
    cv.slice_set(&v, 2, cols)?;
    let n = cols + t;
    let k = ck.narrow(2, 0, n)?;
    let v = cv.narrow(2, 0, n)?;
    let (kvh, groups, d) = (
        cfg.num_kv_heads,
        cfg.num_heads / cfg.num_kv_heads,
        cfg.head_dim,
    );
    // (b, heads, t, d) -> (b, kv_heads, groups * t, d): heads h*groups..(h+1)*groups share h.
    let q = q.reshape((b, kvh, groups * t, d))?;
    let scale = 1.0 / (d as f64).sqrt();
    let mut att = (q.matmul(&k.t()?)? * scale)?;
    if let Some(m) = mask {
        // (rows, 1, t, n) -> (rows, 1, 1, t, n) against (b, kv_heads, groups, t, n).
        let m = m.unsqueeze(2)?;
        att = att
            .reshape((b, kvh, groups, t, n))?
            .broadcast_add(&m)?
            .reshape((b, kvh, groups * t, n))?;
    }
    let att = candle_nn::ops::softmax_last_dim(&att)?;
    let y = att
        .matmul(&v)?
        .reshape((b, cfg.num_heads, t, d))?
        .transpose(1, 2)?
        .reshape((b, t, cfg.num_heads * d))?;
    block.o.forward(&y)
}

/// Reads weights in Hugging Face layout (`model.layers.N.self_attn.q_proj.weight`, ...) from
/// `tensors`, converted to `dtype`; biases are used where present (Qwen2's q/k/v), the head is
/// the embeddings where `lm_head.weight` is absent.
pub fn weights_from_hf(
    cfg: &Config,
    mut tensors: HashMap<String, Tensor>,
    dtype: DType,
) -> Result<Weights> {
    let take = |tensors: &mut HashMap<String, Tensor>, name: &str, shape: &[usize]| {
        take_as(tensors, name, shape, dtype)
    };
    fn take_as(
        tensors: &mut HashMap<String, Tensor>,
        name: &str,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
        let t = tensors
            .remove(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))?;
        if t.dims() != shape {
            candle_core::bail!("tensor {name} has shape {:?}, expected {shape:?}", t.dims());
        }
        t.to_dtype(dtype)
    }
    let (h, kvd, qd) = (
        cfg.hidden_size,
        cfg.num_kv_heads * cfg.head_dim,
        cfg.num_heads * cfg.head_dim,
    );
    let t = &mut tensors;
    let embed = take(t, "model.embed_tokens.weight", &[cfg.vocab_size, h])?;
    let mut blocks = Vec::new();
    for i in 0..cfg.num_layers {
        let p = format!("model.layers.{i}");
        let mut proj = |name: &str, out: usize, inp: usize| -> Result<Proj> {
            let w = take(t, &format!("{p}.{name}.weight"), &[out, inp])?;
            let bias_name = format!("{p}.{name}.bias");
            let bias = if t.contains_key(&bias_name) {
                Some(take(t, &bias_name, &[out])?)
            } else {
                None
            };
            Ok(Proj::dense(w, bias))
        };
        let q = proj("self_attn.q_proj", qd, h)?;
        let k = proj("self_attn.k_proj", kvd, h)?;
        let v = proj("self_attn.v_proj", kvd, h)?;
        let o = proj("self_attn.o_proj", h, qd)?;
        let gate = proj("mlp.gate_proj", cfg.intermediate_size, h)?;
        let up = proj("mlp.up_proj", cfg.intermediate_size, h)?;
        let down = proj("mlp.down_proj", h, cfg.intermediate_size)?;
        blocks.push(Block {
            attn_norm: take(t, &format!("{p}.input_layernorm.weight"), &[h])?,
            mlp_norm: take(t, &format!("{p}.post_attention_layernorm.weight"), &[h])?,
            q,
            k,
            v,
            o,
            gate,
            up,
            down,
        });
    }
    let norm = take(t, "model.norm.weight", &[h])?;
    let lm_head = if t.contains_key("lm_head.weight") {
        Proj::dense(take(t, "lm_head.weight", &[cfg.vocab_size, h])?, None)
    } else {
        Proj::dense(embed.clone(), None)
    };
    Ok(Weights {
        embed: Embedding::Dense(embed),
        blocks,
        norm,
        lm_head,
    })
}

/// Reads weights in GGUF naming (`blk.N.attn_q.weight`, ...) through `read`, which returns the
/// tensor of a name or `None` where the file lacks it.
pub fn weights_from_gguf(
    cfg: &Config,
    mut read: impl FnMut(&str) -> Result<Option<QTensor>>,
    device: &Device,
) -> Result<Weights> {
    fn need(
        read: &mut impl FnMut(&str) -> Result<Option<QTensor>>,
        name: &str,
        shape: &[usize],
    ) -> Result<QTensor> {
        let t =
            read(name)?.ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))?;
        if t.shape().dims() != shape {
            candle_core::bail!(
                "tensor {name} has shape {:?}, expected {shape:?}",
                t.shape().dims()
            );
        }
        Ok(t)
    }
    let read = &mut read;
    let (h, kvd, qd) = (
        cfg.hidden_size,
        cfg.num_kv_heads * cfg.head_dim,
        cfg.num_heads * cfg.head_dim,
    );
    let embed = std::sync::Arc::new(need(read, "token_embd.weight", &[cfg.vocab_size, h])?);
    let mut blocks = Vec::new();
    for i in 0..cfg.num_layers {
        let p = format!("blk.{i}");
        let mut proj = |name: &str, out: usize, inp: usize| -> Result<Proj> {
            let w = need(read, &format!("{p}.{name}.weight"), &[out, inp])?;
            let bias = match read(&format!("{p}.{name}.bias"))? {
                Some(b) if b.shape().dims() == [out] => Some(b.dequantize(device)?),
                Some(b) => candle_core::bail!(
                    "tensor {p}.{name}.bias has shape {:?}, expected [{out}]",
                    b.shape().dims()
                ),
                None => None,
            };
            Proj::quantized(w, bias)
        };
        let q = proj("attn_q", qd, h)?;
        let k = proj("attn_k", kvd, h)?;
        let v = proj("attn_v", kvd, h)?;
        let o = proj("attn_output", h, qd)?;
        let gate = proj("ffn_gate", cfg.intermediate_size, h)?;
        let up = proj("ffn_up", cfg.intermediate_size, h)?;
        let down = proj("ffn_down", h, cfg.intermediate_size)?;
        blocks.push(Block {
            attn_norm: need(read, &format!("{p}.attn_norm.weight"), &[h])?.dequantize(device)?,
            mlp_norm: need(read, &format!("{p}.ffn_norm.weight"), &[h])?.dequantize(device)?,
            q,
            k,
            v,
            o,
            gate,
            up,
            down,
        });
    }
    let norm = need(read, "output_norm.weight", &[h])?.dequantize(device)?;
    let lm_head = match read("output.weight")? {
        Some(w) => Proj::quantized(w, None)?,
        None => Proj::quantized_arc(embed.clone(), None)?,
    };
    Ok(Weights {
        embed: Embedding::Quantized(embed),
        blocks,
        norm,
        lm_head,
    })
}

/// Reads a GGUF tensor by name, `None` where the file lacks it.
pub fn gguf_reader<'a, R: std::io::Read + std::io::Seek>(
    content: &'a gguf_file::Content,
    reader: &'a mut R,
    device: &'a Device,
) -> impl FnMut(&str) -> Result<Option<QTensor>> + 'a {
    move |name| {
        if content.tensor_infos.contains_key(name) {
            content.tensor(reader, name, device).map(Some)
        } else {
            Ok(None)
        }
    }
}
