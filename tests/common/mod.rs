//! Tiny randomly initialised models in Hugging Face layout, with the real tensor names, for
//! the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::Path;
use thinkscale::engine::tokenizer::toy_tokenizer_json;

/// The shape of a tiny model.
#[derive(Debug, Clone, Copy)]
pub struct Tiny {
    pub hidden: usize,
    pub inter: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub vocab: usize,
    pub context: usize,
    /// Matrices are uniform in ±scale.
    pub scale: f32,
}

impl Tiny {
    /// Small enough to run in milliseconds; grouped-query attention (4 heads, 2 kv heads).
    pub const SMALL: Tiny = Tiny {
        hidden: 32,
        inter: 64,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        vocab: 32,
        context: 64,
        scale: 0.3,
    };

    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// `config.json` for `arch` (llama with Llama 3 RoPE scaling from an original context of
    /// 16, mistral, qwen2). Token 0 (`<|endoftext|>` of the toy tokenizer) is BOS and EOS.
    pub fn config(&self, arch: &str) -> serde_json::Value {
        let mut c = serde_json::json!({
            "model_type": arch, "vocab_size": self.vocab, "hidden_size": self.hidden,
            "intermediate_size": self.inter, "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads, "num_key_value_heads": self.kv_heads,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
            "max_position_embeddings": self.context, "bos_token_id": 0, "eos_token_id": 0,
            "tie_word_embeddings": false, "torch_dtype": "float32"
        });
        match arch {
            "llama" => {
                c["rope_scaling"] = serde_json::json!({
                    "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                    "high_freq_factor": 4.0, "original_max_position_embeddings": 16
                });
            }
            "mistral" => c["sliding_window"] = 4096.into(),
            "qwen2" => {
                c["sliding_window"] = self.context.into();
                c["max_window_layers"] = self.layers.into();
                c["use_sliding_window"] = false.into();
                c["hidden_act"] = "silu".into();
            }
            _ => {}
        }
        c
    }

    /// Weights with the checkpoints' names, drawn from a seeded generator; Qwen2 gets q/k/v
    /// biases.
    pub fn weights(&self, arch: &str, seed: u64) -> HashMap<String, Tensor> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut t = HashMap::new();
        let mut put = |name: String, shape: &[usize], scale: f32| {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|_| (rng.random::<f32>() * 2.0 - 1.0) * scale)
                .collect();
            t.insert(name, Tensor::from_vec(v, shape, &Device::Cpu).unwrap());
        };
        let (h, s) = (self.hidden, self.scale);
        let (q, kv) = (
            self.heads * self.head_dim(),
            self.kv_heads * self.head_dim(),
        );
        put("model.embed_tokens.weight".into(), &[self.vocab, h], 1.0);
        for i in 0..self.layers {
            let p = format!("model.layers.{i}");
            put(format!("{p}.self_attn.q_proj.weight"), &[q, h], s);
            put(format!("{p}.self_attn.k_proj.weight"), &[kv, h], s);
            put(format!("{p}.self_attn.v_proj.weight"), &[kv, h], s);
            put(format!("{p}.self_attn.o_proj.weight"), &[h, q], s);
            if arch == "qwen2" {
                put(format!("{p}.self_attn.q_proj.bias"), &[q], 0.3);
                put(format!("{p}.self_attn.k_proj.bias"), &[kv], 0.3);
                put(format!("{p}.self_attn.v_proj.bias"), &[kv], 0.3);
            }
            put(format!("{p}.mlp.gate_proj.weight"), &[self.inter, h], s);
            put(format!("{p}.mlp.up_proj.weight"), &[self.inter, h], s);
            put(format!("{p}.mlp.down_proj.weight"), &[h, self.inter], s);
            put(format!("{p}.input_layernorm.weight"), &[h], 1.0);
            put(format!("{p}.post_attention_layernorm.weight"), &[h], 1.0);
        }
        put("model.norm.weight".into(), &[h], 1.0);
        put("lm_head.weight".into(), &[self.vocab, h], 1.0);
        t
    }

    /// Writes a model of `arch` into `dir` (config.json, the toy tokenizer.json, the weights;
    /// `shards` > 1 splits them and writes model.safetensors.index.json); returns the weights.
    pub fn write(
        &self,
        dir: &Path,
        arch: &str,
        seed: u64,
        shards: usize,
    ) -> HashMap<String, Tensor> {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("config.json"), self.config(arch).to_string()).unwrap();
        std::fs::write(dir.join("tokenizer.json"), toy_tokenizer_json().to_string()).unwrap();
        let w = self.weights(arch, seed);
        if shards == 1 {
            candle_core::safetensors::save(&w, dir.join("model.safetensors")).unwrap();
            return w;
        }
        let mut names: Vec<&String> = w.keys().collect();
        names.sort();
        let mut map = serde_json::Map::new();
        for s in 0..shards {
            let file = format!("model-{:05}-of-{shards:05}.safetensors", s + 1);
            let part: HashMap<String, Tensor> = names
                .iter()
                .enumerate()
                .filter(|(i, _)| i % shards == s)
                .map(|(_, n)| {
                    map.insert((*n).clone(), file.clone().into());
                    ((*n).clone(), w[*n].clone())
                })
                .collect();
            candle_core::safetensors::save(&part, dir.join(&file)).unwrap();
        }
        let index = serde_json::json!({"metadata": {}, "weight_map": map});
        std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
        w
    }
}
