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

    /// A projection from a GGUF tensor (F32/F16/BF16 are dequantized, as candle does; Q4_1 on
    /// the CPU runs on [`super::qmatmul`]'s kernels, with candle's results).
    pub fn quantized(weight: QTensor, bias: Option<Tensor>) -> Result<Self> {
        Self::quantized_arc(std::sync::Arc::new(weight), bias)
    }

    /// As [`Self::quantized`], for a tensor shared with another user (tied embeddings).
    pub fn quantized_arc(weight: std::sync::Arc<QTensor>, bias: Option<Tensor>) -> Result<Self> {
        Ok(Self {
            weight: QLinear::from_arc(weight)?,
            bias,
        })
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
    fn forward(&self, ids: &Tensor) -> Result<Tensor> {
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

/// A loaded model with its key/value cache.
#[derive(Debug, Clone)]
pub struct Transformer {
    cfg: Config,
    w: Weights,
    inv_freq: Tensor,
    /// Per block: keys and values `(batch, kv_heads, positions, head_dim)` so far.
    cache: Vec<Option<(Tensor, Tensor)>>,
}

impl Transformer {
    /// Builds the model from its configuration and weights.
    pub fn new(cfg: Config, w: Weights, device: &Device) -> Result<Self> {
        let inv = cfg.inv_freq();
        let inv_freq = Tensor::from_vec(inv, (1, cfg.head_dim / 2), device)?;
        let cache = vec![None; w.blocks.len()];
        Ok(Self {
            cfg,
            w,
            inv_freq,
            cache,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Forgets every cached key and value.
    pub fn clear_kv_cache(&mut self) {
        self.cache.iter_mut().for_each(|c| *c = None);
    }

    /// Runs `ids` `(batch, time)` at positions `offset..offset + time`, continuing the cache;
    /// returns the final hidden states `(batch, time, hidden)` (normed, before the head).
    pub fn forward(&mut self, ids: &Tensor, offset: usize) -> Result<Tensor> {
        let (_, t) = ids.dims2()?;
        let device = ids.device();
        let positions = Tensor::arange(offset as u32, (offset + t) as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((t, 1))?;
        let angles = positions.matmul(&self.inv_freq)?;
        let (cos, sin) = (angles.cos()?, angles.sin()?);
        let mask = self.mask(t, offset, device)?;
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
                &mut self.cache[i],
            )?;
            x = (x + a)?;
            let h = candle_nn::ops::rms_norm(&x, &block.mlp_norm, self.cfg.rms_norm_eps as f32)?;
            let m = block.down.forward(
                &(candle_nn::ops::silu(&block.gate.forward(&h)?)? * block.up.forward(&h)?)?,
            )?;
            x = (x + m)?;
        }
        candle_nn::ops::rms_norm(&x, &self.w.norm, self.cfg.rms_norm_eps as f32)
    }

    /// Logits `(..., vocab)` of hidden states `(..., hidden)`.
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.w.lm_head.forward(&hidden.contiguous()?)
    }

    /// The additive mask `(1, 1, time, offset + time)`: causal, and within the sliding window
    /// where there is one; `None` where nothing is masked (one new token, no window in reach).
    fn mask(&self, t: usize, offset: usize, device: &Device) -> Result<Option<Tensor>> {
        let kv = offset + t;
        let window = self.cfg.sliding_window.filter(|&w| w < kv);
        if t == 1 && window.is_none() {
            return Ok(None);
        }
        let mask: Vec<f32> = (0..t)
            .flat_map(|i| {
                (0..kv).map(move |j| {
                    let q = offset + i;
                    let visible = j <= q && window.is_none_or(|w| j + w > q);
                    if visible {
                        0.0
                    } else {
                        f32::NEG_INFINITY
                    }
                })
            })
            .collect();
        Ok(Some(Tensor::from_vec(mask, (1, 1, t, kv), device)?))
    }
}

fn attention(
    cfg: &Config,
    block: &Block,
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
    mask: Option<&Tensor>,
    cache: &mut Option<(Tensor, Tensor)>,
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
    let (k, v) = match cache.take() {
        Some((ck, cv)) => (Tensor::cat(&[&ck, &k], 2)?, Tensor::cat(&[&cv, &v], 2)?),
        None => (k, v),
    };
    *cache = Some((k.clone(), v.clone()));
    let groups = cfg.num_heads / cfg.num_kv_heads;
    let k = candle_transformers::utils::repeat_kv(k, groups)?.contiguous()?;
    let v = candle_transformers::utils::repeat_kv(v, groups)?.contiguous()?;
    let scale = 1.0 / (cfg.head_dim as f64).sqrt();
    let mut att = (q.matmul(&k.t()?)? * scale)?;
    if let Some(m) = mask {
        att = att.broadcast_add(m)?;
    }
    let att = candle_nn::ops::softmax_last_dim(&att)?;
    let y = att
        .matmul(&v)?
        .transpose(1, 2)?
        .reshape((b, t, cfg.num_heads * cfg.head_dim))?;
    block.o.forward(&y)
}

/// Reads weights in Hugging Face layout (`model.layers.N.self_attn.q_proj.weight`, ...) from
/// `tensors`; biases are used where present (Qwen2's q/k/v), the head is the embeddings where
/// `lm_head.weight` is absent.
pub fn weights_from_hf(cfg: &Config, mut tensors: HashMap<String, Tensor>) -> Result<Weights> {
    fn take(tensors: &mut HashMap<String, Tensor>, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = tensors
            .remove(name)
            .ok_or_else(|| candle_core::Error::Msg(format!("missing tensor {name}")))?;
        if t.dims() != shape {
            candle_core::bail!("tensor {name} has shape {:?}, expected {shape:?}", t.dims());
        }
        t.to_dtype(DType::F32)
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
