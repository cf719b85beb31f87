//! The transformer backbone under the PRM heads: candle-transformers' own Qwen2 (hidden states
//! of all positions), with its `config.json` read the way Hugging Face reads it (missing optional
//! fields take their defaults).
//!
//! Weights load as f32, like the policy's (`engine::model`).

use super::checkpoint::Checkpoint;
use super::{Cost, PrmError, PrmFormat};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::qwen2;
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
