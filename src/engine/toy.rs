//! The shape of the toy models thinkscale trains (a small Qwen2 with a character vocabulary),
//! and the `config.json` that makes them load like any Hugging Face checkpoint.

use super::tokenizer::toy_vocab_size;
use serde::{Deserialize, Serialize};

/// Shape of a toy model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ToyArch {
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the MLP.
    pub intermediate_size: usize,
    /// Transformer blocks.
    pub num_hidden_layers: usize,
    /// Attention heads (and key/value heads).
    pub num_attention_heads: usize,
    /// Longest sequence in tokens.
    pub max_position_embeddings: usize,
}

impl Default for ToyArch {
    fn default() -> Self {
        Self {
            hidden_size: 128,
            intermediate_size: 512,
            num_hidden_layers: 4,
            num_attention_heads: 4,
            max_position_embeddings: 512,
        }
    }
}

impl ToyArch {
    /// The model's `config.json`, in the Hugging Face Qwen2 layout.
    pub fn config_json(&self) -> serde_json::Value {
        serde_json::json!({
            "architectures": ["Qwen2ForCausalLM"],
            "model_type": "qwen2",
            "vocab_size": toy_vocab_size(),
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_attention_heads,
            "max_position_embeddings": self.max_position_embeddings,
            "sliding_window": self.max_position_embeddings,
            "max_window_layers": self.num_hidden_layers,
            "use_sliding_window": false,
            "tie_word_embeddings": false,
            "rope_theta": 10000.0,
            "rms_norm_eps": 1e-6,
            "hidden_act": "silu",
            "bos_token_id": 0,
            "eos_token_id": 0,
            "torch_dtype": "float32",
        })
    }
}
