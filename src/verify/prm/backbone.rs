//! The transformer under every PRM format: the engine's own ([`Transformer`], the one the
//! policy runs on) behind a [`PrefixScorer`], so a partial solution whose beginning the PRM has
//! read is continued from the cached keys and values instead of read again. `config.json` is
//! read the way Hugging Face reads it (missing optional fields take their defaults).
//!
//! Weights load as f32, like the policy's safetensors models by default.

use super::checkpoint::Checkpoint;
use super::{PrmError, PrmFormat};
use crate::engine::hf::HfConfig;
use crate::engine::scorer::PrefixScorer;
use crate::engine::transformer::{self, Config, Transformer};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde_json::{json, Value};
use std::collections::HashMap;

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

/// A PRM's transformer configuration, read before any weights.
#[derive(Debug, Clone)]
pub(super) struct BackboneConfig {
    /// The engine's view of it.
    pub transformer: Config,
    /// Rows of the embedding table.
    pub vocab_size: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// Longest input the PRM scores.
    pub context: usize,
}

impl BackboneConfig {
    /// Reads `config.json` for `format`, whose model type must be one of `types`.
    pub fn read(ck: &Checkpoint, format: PrmFormat, types: &[&str]) -> Result<Self, PrmError> {
        let model_type = ck.require_model_type(format, types)?.to_string();
        let heads = field(ck, "num_attention_heads")?;
        field(ck, "num_hidden_layers")?;
        field(ck, "max_position_embeddings")?;
        let raw = with_defaults(
            ck,
            &[
                ("num_key_value_heads", json!(heads)),
                ("rope_theta", json!(10000.0)),
                ("rms_norm_eps", json!(1e-6)),
            ],
        );
        let hf: HfConfig =
            serde_json::from_value(raw).map_err(|e| ck.invalid_config(e.to_string()))?;
        check_heads(
            ck,
            hf.hidden_size,
            hf.num_attention_heads,
            hf.num_key_value_heads.unwrap_or(heads),
        )?;
        let transformer = hf.transformer().map_err(|e| ck.invalid_config(e))?;
        // A Mistral window shorter than the context bounds what is scored exactly.
        let context = match (model_type.as_str(), hf.sliding_window) {
            ("mistral", Some(w)) => hf.max_position_embeddings.min(w),
            _ => hf.max_position_embeddings,
        };
        Ok(Self {
            vocab_size: hf.vocab_size,
            hidden_size: hf.hidden_size,
            context,
            transformer,
        })
    }

    /// The vocabulary size.
    pub fn vocab(&self) -> usize {
        self.vocab_size
    }
}

/// A loaded PRM transformer with what the verifier needs to know about it.
pub(super) struct Backbone {
    /// The transformer with its prefix cache.
    pub scorer: PrefixScorer,
    /// Longest input, in tokens.
    pub context: usize,
}

/// Loads the transformer (`model.*`, and `lm_head.*` with `keep_lm_head`) and the head tensors
/// `head`, which must have the given shapes. Returns the backbone, a variable builder over the
/// head tensors, and the parameter count.
pub(super) fn load(
    ck: &Checkpoint,
    config: BackboneConfig,
    head: &[(String, Vec<usize>)],
    keep_lm_head: bool,
    device: &Device,
) -> Result<(Backbone, VarBuilder<'static>, u64), PrmError> {
    ck.expect_shapes(head)?;
    let (mut tensors, params) =
        ck.load_tensors(device, |n| keep_lm_head || !n.starts_with("lm_head."))?;
    let head_tensors: HashMap<String, Tensor> = head
        .iter()
        .filter_map(|(name, _)| tensors.remove_entry(name))
        .collect();
    let vb = VarBuilder::from_tensors(head_tensors, DType::F32, device);
    let w = transformer::weights_from_hf(&config.transformer, tensors, DType::F32)
        .map_err(|e| weights_error(ck, e))?;
    let model =
        Transformer::new(config.transformer, w, device).map_err(|e| weights_error(ck, e))?;
    let backbone = Backbone {
        scorer: PrefixScorer::new(model, device, params),
        context: config.context,
    };
    Ok((backbone, vb, params))
}
