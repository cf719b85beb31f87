//! The transformer backbones under the PRM heads: candle-transformers' own Qwen2 (hidden states
//! of all positions, for the head formats), Mistral and Llama (logits of the last position of
//! each forward, for the token-probability formats), with their `config.json` read the way
//! Hugging Face reads it (missing optional fields take their defaults).
//!
//! Weights load as f32, like the policy's (`engine::model`).

use super::checkpoint::Checkpoint;
use super::{Cost, PrmError, PrmFormat};
use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{llama, mistral, qwen2};
use serde_json::{json, Value};

/// `config.json` with missing (or null) optional fields set to `defaults`.
fn with_defaults(ck: &Checkpoint, defaults: &[(&str, Value)]) -> Value {
    let mut cfg = ck.config.clone();
    for (key, value) in defaults {
        if cfg.get(key).is_none_or(Value::is_null) {
            cfg[*key] = value.clone();
        }
    }
    cfg
}

fn field(ck: &Checkpoint, key: &str) -> Result<usize, PrmError> {
    ck.config
        .get(key)
        .and_then(Value::as_u64)
        .map(|v| v as usize)
        .ok_or_else(|| ck.invalid_config(format!("missing or non-integer field `{key}`")))
}

fn parse<T: serde::de::DeserializeOwned>(ck: &Checkpoint, cfg: Value) -> Result<T, PrmError> {
    serde_json::from_value(cfg).map_err(|e| ck.invalid_config(e.to_string()))
}

/// Checks that attention heads divide the width and key/value heads divide the heads.
fn check_heads(ck: &Checkpoint, hidden: usize, heads: usize, kv: usize) -> Result<(), PrmError> {
    if hidden == 0
        || heads == 0
        || kv == 0
        || !hidden.is_multiple_of(heads)
        || !heads.is_multiple_of(kv)
    {
        return Err(ck.invalid_config(format!(
            "hidden_size {hidden}, num_attention_heads {heads} and num_key_value_heads {kv} do not divide"
        )));
    }
    Ok(())
}

pub(super) fn weights_error(ck: &Checkpoint, e: candle_core::Error) -> PrmError {
    PrmError::Invalid {
        path: ck.weights_path(),
        reason: format!("weights do not fit config.json: {e}"),
    }
}

/// A Qwen2 backbone that returns the final (normed) hidden state of every position.
pub(super) struct Qwen2Backbone {
    model: qwen2::Model,
    device: Device,
    /// The parsed configuration.
    pub config: qwen2::Config,
}

impl Qwen2Backbone {
    /// Reads a Qwen2 `config.json`. Without `use_sliding_window`, Hugging Face attends over
    /// the whole context, while candle always applies `sliding_window` in its causal mask, so
    /// the window is widened to the context.
    pub fn config(ck: &Checkpoint, format: PrmFormat) -> Result<qwen2::Config, PrmError> {
        ck.require_model_type(format, &["qwen2"])?;
        let layers = field(ck, "num_hidden_layers")?;
        let heads = field(ck, "num_attention_heads")?;
        let context = field(ck, "max_position_embeddings")?;
        let mut cfg: qwen2::Config = parse(
            ck,
            with_defaults(
                ck,
                &[
                    ("num_key_value_heads", json!(heads)),
                    ("sliding_window", json!(context)),
                    ("max_window_layers", json!(layers)),
                    ("use_sliding_window", json!(false)),
                    ("tie_word_embeddings", json!(false)),
                    ("rope_theta", json!(10000.0)),
                    ("rms_norm_eps", json!(1e-6)),
                    ("hidden_act", json!("silu")),
                ],
            ),
        )?;
        check_heads(
            ck,
            cfg.hidden_size,
            cfg.num_attention_heads,
            cfg.num_key_value_heads,
        )?;
        if !cfg.use_sliding_window {
            cfg.sliding_window = cfg.sliding_window.max(cfg.max_position_embeddings);
        }
        Ok(cfg)
    }

    /// Loads the backbone (`model.*`) and the head tensors, which must have the given shapes;
    /// the unused `lm_head` is not loaded. Returns the head's variables and the parameters.
    pub fn load(
        ck: &Checkpoint,
        config: qwen2::Config,
        head: &[(String, Vec<usize>)],
        device: &Device,
    ) -> Result<(Self, VarBuilder<'static>, u64), PrmError> {
        ck.expect_shapes(head)?;
        let (tensors, params) = ck.load_tensors(device, |n| !n.starts_with("lm_head."))?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let model = qwen2::Model::new(&config, vb.clone()).map_err(|e| weights_error(ck, e))?;
        let backbone = Self {
            model,
            device: device.clone(),
            config,
        };
        Ok((backbone, vb, params))
    }

    /// Context length in tokens.
    pub fn context(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// Size for the compute meter.
    pub fn cost(&self, params: u64) -> Cost {
        Cost {
            params,
            layers: self.config.num_hidden_layers,
            hidden: self.config.hidden_size,
        }
    }

    /// Hidden states `[positions, hidden_size]` at `positions` of one forward pass over `ids`.
    pub fn hidden_at(&mut self, ids: &[u32], positions: &[usize]) -> candle_core::Result<Tensor> {
        self.model.clear_kv_cache();
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let hidden = self.model.forward(&input, 0, None);
        self.model.clear_kv_cache();
        let index: Vec<u32> = positions.iter().map(|&p| p as u32).collect();
        hidden?
            .squeeze(0)?
            .index_select(&Tensor::new(index, &self.device)?, 0)
    }
}

/// A causal LM that returns the logits of the last position it is fed.
pub(super) struct CausalLm {
    model: Lm,
    device: Device,
}

enum Lm {
    /// candle's Mistral.
    Mistral(mistral::Model),
    /// candle's Llama, with an empty cache to start each pass from.
    Llama {
        model: llama::Llama,
        fresh: llama::Cache,
        cache: llama::Cache,
    },
}

/// A loaded causal LM with what the verifier needs to know about it.
pub(super) struct LoadedLm {
    pub lm: CausalLm,
    pub context: usize,
    pub cost: Cost,
}

/// The configuration of a causal LM backbone, read before any weights.
pub(super) enum LmConfig {
    /// `model_type` `mistral`.
    Mistral(mistral::Config),
    /// `model_type` `llama`.
    Llama(llama::Config),
}

impl LmConfig {
    /// Reads a `mistral` or `llama` `config.json` for `format`.
    pub fn read(ck: &Checkpoint, format: PrmFormat) -> Result<Self, PrmError> {
        let model_type = ck.require_model_type(format, &["mistral", "llama"])?;
        let heads = field(ck, "num_attention_heads")?;
        let cfg = with_defaults(
            ck,
            &[
                ("num_key_value_heads", json!(heads)),
                ("rope_theta", json!(10000.0)),
            ],
        );
        let (config, dims) = if model_type == "mistral" {
            let c: mistral::Config = parse(ck, cfg)?;
            let dims = (c.hidden_size, c.num_attention_heads, c.num_key_value_heads);
            (Self::Mistral(c), dims)
        } else {
            let c = parse::<llama::LlamaConfig>(ck, cfg)?.into_config(false);
            let dims = (c.hidden_size, c.num_attention_heads, c.num_key_value_heads);
            (Self::Llama(c), dims)
        };
        check_heads(ck, dims.0, dims.1, dims.2)?;
        Ok(config)
    }

    /// The model's vocabulary size.
    pub fn vocab(&self) -> usize {
        match self {
            Self::Mistral(c) => c.vocab_size,
            Self::Llama(c) => c.vocab_size,
        }
    }

    /// Loads the weights.
    pub fn load(self, ck: &Checkpoint, device: &Device) -> Result<LoadedLm, PrmError> {
        let (model, context, layers, hidden, params) = match self {
            Self::Mistral(cfg) => {
                let (tensors, params) = ck.load_tensors(device, |_| true)?;
                let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
                let model = mistral::Model::new(&cfg, vb).map_err(|e| weights_error(ck, e))?;
                // Chunks after the first see earlier chunks through the cache without candle's
                // sliding-window mask, so the context stops at the window to stay exact.
                let context = cfg
                    .max_position_embeddings
                    .min(cfg.sliding_window.unwrap_or(usize::MAX));
                let (layers, hidden) = (cfg.num_hidden_layers, cfg.hidden_size);
                (Lm::Mistral(model), context, layers, hidden, params)
            }
            Self::Llama(cfg) => {
                // candle's Llama loader panics on a missing or misshapen block tensor: check
                // first.
                ck.expect_shapes(&llama_shapes(&cfg))?;
                let (tensors, params) = ck.load_tensors(device, |_| true)?;
                let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
                let model = llama::Llama::load(vb, &cfg).map_err(|e| weights_error(ck, e))?;
                let fresh = llama::Cache::new(true, DType::F32, &cfg, device)?;
                let lm = Lm::Llama {
                    model,
                    cache: fresh.clone(),
                    fresh,
                };
                let (layers, hidden) = (cfg.num_hidden_layers, cfg.hidden_size);
                (lm, cfg.max_position_embeddings, layers, hidden, params)
            }
        };
        Ok(LoadedLm {
            lm: CausalLm {
                model,
                device: device.clone(),
            },
            context,
            cost: Cost {
                params,
                layers,
                hidden,
            },
        })
    }
}

impl CausalLm {
    fn reset(&mut self) {
        match &mut self.model {
            Lm::Mistral(m) => m.clear_kv_cache(),
            Lm::Llama { fresh, cache, .. } => *cache = fresh.clone(),
        }
    }

    /// For each of `positions` (increasing), the logits of the two tokens `pair` predicted after
    /// it. The sequence runs once, in chunks that end at the positions, through the KV cache.
    pub fn pair_logits(
        &mut self,
        ids: &[u32],
        positions: &[usize],
        pair: [u32; 2],
    ) -> candle_core::Result<Vec<[f32; 2]>> {
        self.reset();
        let out = self.pair_logits_from_empty_cache(ids, positions, pair);
        self.reset();
        out
    }

    fn pair_logits_from_empty_cache(
        &mut self,
        ids: &[u32],
        positions: &[usize],
        [good, bad]: [u32; 2],
    ) -> candle_core::Result<Vec<[f32; 2]>> {
        let mut out = Vec::with_capacity(positions.len());
        let mut start = 0;
        for &end in positions {
            let chunk = ids.get(start..=end).ok_or_else(|| {
                candle_core::Error::Msg(format!("position {end} is outside the input"))
            })?;
            let input = Tensor::new(chunk, &self.device)?.unsqueeze(0)?;
            let logits = match &mut self.model {
                Lm::Mistral(m) => m.forward(&input, start)?,
                Lm::Llama { model, cache, .. } => model.forward(&input, start, cache)?,
            }
            .flatten_all()?
            .to_dtype(DType::F32)?;
            out.push([
                logits.i(good as usize)?.to_scalar::<f32>()?,
                logits.i(bad as usize)?.to_scalar::<f32>()?,
            ]);
            start = end + 1;
        }
        Ok(out)
    }
}

/// Every tensor candle's Llama loader reads, with its shape.
fn llama_shapes(cfg: &llama::Config) -> Vec<(String, Vec<usize>)> {
    let (h, i, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
    let head = h / cfg.num_attention_heads;
    let kv = cfg.num_key_value_heads * head;
    let mut shapes = vec![
        ("model.embed_tokens.weight".to_string(), vec![v, h]),
        ("model.norm.weight".to_string(), vec![h]),
    ];
    if !cfg.tie_word_embeddings {
        shapes.push(("lm_head.weight".into(), vec![v, h]));
    }
    for l in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{l}");
        shapes.extend([
            (format!("{p}.self_attn.q_proj.weight"), vec![h, h]),
            (format!("{p}.self_attn.k_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.v_proj.weight"), vec![kv, h]),
            (format!("{p}.self_attn.o_proj.weight"), vec![h, h]),
            (format!("{p}.mlp.gate_proj.weight"), vec![i, h]),
            (format!("{p}.mlp.up_proj.weight"), vec![i, h]),
            (format!("{p}.mlp.down_proj.weight"), vec![h, i]),
            (format!("{p}.input_layernorm.weight"), vec![h]),
            (format!("{p}.post_attention_layernorm.weight"), vec![h]),
        ]);
    }
    shapes
}
