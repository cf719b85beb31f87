#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Tiny random models written both in Hugging Face layout and as GGUF files, the way
//! llama.cpp's converter writes them (Llama's q/k rows permuted for interleaved RoPE, Llama 3's
//! scaling as `rope_freqs.weight`, Qwen2's biases kept): the GGUF loads to the same logits as
//! the HF directory, and every quantized type the engine reads loads and stays close.

mod common;

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use common::Tiny;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thinkscale::engine::tokenizer::toy_tokenizer_json;
use thinkscale::engine::transformer::{Config, RopeScaling};
use thinkscale::engine::{CausalLm, ComputeMeter, SamplingParams};

// K-quants work in blocks of 256, so every matrix's input width is a multiple of 256.
const TINY: Tiny = Tiny {
    hidden: 256,
    inter: 512,
    layers: 2,
    heads: 4,
    kv_heads: 2,
    vocab: 32,
    context: 128,
    scale: 0.1,
};
const HIDDEN: usize = TINY.hidden;
const INTER: usize = TINY.inter;
const LAYERS: usize = TINY.layers;
const HEADS: usize = TINY.heads;
const KV_HEADS: usize = TINY.kv_heads;
const HEAD_DIM: usize = HIDDEN / HEADS;
const VOCAB: usize = TINY.vocab;
const THETA: f64 = 10_000.0;

/// llama.cpp's `LlamaModel.permute`: the rows of each head reordered from halves to pairs,
/// so that interleaved RoPE on the result equals HF's half-split RoPE on the original.
fn permute(w: &Tensor, heads: usize) -> Tensor {
    let (rows, cols) = w.dims2().unwrap();
    w.reshape((heads, 2, rows / heads / 2, cols))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap()
        .reshape((rows, cols))
        .unwrap()
}

/// Writes the HF weights as a GGUF file with matrices stored as `dtype`, norms and biases as
/// F32, and the toy tokenizer.json beside it.
fn write_gguf(dir: &Path, arch: &str, w: &HashMap<String, Tensor>, dtype: GgmlDType) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tokenizer.json"), toy_tokenizer_json().to_string()).unwrap();
    let matrix = |t: &Tensor| QTensor::quantize(t, dtype).unwrap();
    let vector = |t: &Tensor| QTensor::quantize(t, GgmlDType::F32).unwrap();
    let mut tensors: Vec<(String, QTensor)> = vec![
        (
            "token_embd.weight".into(),
            matrix(&w["model.embed_tokens.weight"]),
        ),
        ("output_norm.weight".into(), vector(&w["model.norm.weight"])),
        ("output.weight".into(), matrix(&w["lm_head.weight"])),
    ];
    for i in 0..LAYERS {
        let (hf, gg) = (format!("model.layers.{i}"), format!("blk.{i}"));
        let mut q = w[&format!("{hf}.self_attn.q_proj.weight")].clone();
        let mut k = w[&format!("{hf}.self_attn.k_proj.weight")].clone();
        if arch == "llama" {
            q = permute(&q, HEADS);
            k = permute(&k, KV_HEADS);
        }
        tensors.push((format!("{gg}.attn_q.weight"), matrix(&q)));
        tensors.push((format!("{gg}.attn_k.weight"), matrix(&k)));
        for (h, g) in [
            ("self_attn.v_proj.weight", "attn_v.weight"),
            ("self_attn.o_proj.weight", "attn_output.weight"),
            ("mlp.gate_proj.weight", "ffn_gate.weight"),
            ("mlp.up_proj.weight", "ffn_up.weight"),
            ("mlp.down_proj.weight", "ffn_down.weight"),
        ] {
            tensors.push((format!("{gg}.{g}"), matrix(&w[&format!("{hf}.{h}")])));
        }
        for (h, g) in [
            ("input_layernorm.weight", "attn_norm.weight"),
            ("post_attention_layernorm.weight", "ffn_norm.weight"),
            ("self_attn.q_proj.bias", "attn_q.bias"),
            ("self_attn.k_proj.bias", "attn_k.bias"),
            ("self_attn.v_proj.bias", "attn_v.bias"),
        ] {
            if let Some(t) = w.get(&format!("{hf}.{h}")) {
                tensors.push((format!("{gg}.{g}"), vector(t)));
            }
        }
    }
    if arch == "llama" {
        // The converter stores Llama 3's scaling as per-frequency divisors.
        let base = Config {
            vocab_size: VOCAB,
            hidden_size: HIDDEN,
            intermediate_size: INTER,
            num_layers: LAYERS,
            num_heads: HEADS,
            num_kv_heads: KV_HEADS,
            head_dim: HEAD_DIM,
            rms_norm_eps: 1e-5,
            rope_theta: THETA,
            rope_scaling: RopeScaling::None,
            rope_interleaved: true,
            max_position_embeddings: 128,
            sliding_window: None,
        };
        let scaled = Config {
            rope_scaling: RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_position_embeddings: 16.0,
            },
            ..base.clone()
        };
        let factors: Vec<f32> = base
            .inv_freq()
            .iter()
            .zip(scaled.inv_freq())
            .map(|(b, s)| b / s)
            .collect();
        assert!(factors.iter().any(|&f| f > 1.5), "the scaling matters here");
        let t = Tensor::from_vec(factors, HEAD_DIM / 2, &Device::Cpu).unwrap();
        tensors.push(("rope_freqs.weight".into(), vector(&t)));
    }
    let key = |k: &str| format!("{arch}.{k}");
    let meta: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (key("context_length"), Value::U32(128)),
        (key("embedding_length"), Value::U32(HIDDEN as u32)),
        (key("feed_forward_length"), Value::U32(INTER as u32)),
        (key("block_count"), Value::U32(LAYERS as u32)),
        (key("attention.head_count"), Value::U32(HEADS as u32)),
        (key("attention.head_count_kv"), Value::U32(KV_HEADS as u32)),
        (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
        (key("rope.freq_base"), Value::F32(THETA as f32)),
        (key("rope.dimension_count"), Value::U32(HEAD_DIM as u32)),
        (key("vocab_size"), Value::U32(VOCAB as u32)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(0)),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(0)),
        ("tokenizer.ggml.add_bos_token".into(), Value::Bool(true)),
    ];
    let path = dir.join(format!("tiny-{arch}.gguf"));
    let mut f = std::fs::File::create(&path).unwrap();
    let meta_refs: Vec<(&str, &Value)> = meta.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(&mut f, &meta_refs, &tensor_refs).unwrap();
    path
}

fn logits(lm: &mut CausalLm) -> Vec<f32> {
    // Longer than Llama 3's original context of 16 here, so the scaled frequencies matter.
    let mut ids = vec![0];
    ids.extend(lm.tokenizer.encode("(3+4)*12-5\n3+4=7: 7*12-5\n").unwrap());
    lm.last_logits(&ids).unwrap().to_vec1().unwrap()
}

#[test]
fn gguf_files_give_the_logits_of_their_hf_checkpoint() {
    for arch in ["llama", "qwen2"] {
        let tmp = tempfile::tempdir().unwrap();
        let w = TINY.write(&tmp.path().join("hf"), arch, 5, 1);
        let mut hf = CausalLm::load(&tmp.path().join("hf"), &Device::Cpu).unwrap();
        let expected = logits(&mut hf);
        let file = write_gguf(&tmp.path().join("f32"), arch, &w, GgmlDType::F32);
        let mut gg = CausalLm::load(&file, &Device::Cpu).unwrap();
        assert_eq!(gg.shape.architecture, arch);
        assert_eq!(gg.params, hf.params + if arch == "llama" { 32 } else { 0 });
        let got = logits(&mut gg);
        assert_eq!(got.len(), expected.len(), "{arch}");
        let d = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(d < 1e-3, "{arch}: GGUF and HF logits differ by {d}");
    }
}

#[test]
fn every_quantized_type_loads_and_stays_close() {
    let tmp = tempfile::tempdir().unwrap();
    let w = TINY.weights("llama", 5);
    let f32_file = write_gguf(&tmp.path().join("f32"), "llama", &w, GgmlDType::F32);
    let reference = logits(&mut CausalLm::load(&f32_file, &Device::Cpu).unwrap());
    let spread = reference.iter().map(|x| x.abs()).fold(0f32, f32::max);
    for (dtype, name, tolerance) in [
        (GgmlDType::F16, "F16", 0.01),
        (GgmlDType::Q8_0, "Q8_0", 0.05),
        (GgmlDType::Q6K, "Q6_K", 0.1),
        (GgmlDType::Q5K, "Q5_K", 0.15),
        (GgmlDType::Q4K, "Q4_K", 0.25),
        (GgmlDType::Q4_0, "Q4_0", 0.3),
        (GgmlDType::Q4_1, "Q4_1", 0.3),
    ] {
        let file = write_gguf(&tmp.path().join(name), "llama", &w, dtype);
        let mut lm = CausalLm::load(&file, &Device::Cpu).unwrap();
        let got = logits(&mut lm);
        assert_eq!(got.len(), reference.len(), "{name}");
        let d = got
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        println!(
            "{name}: largest logit error {:.4} of the largest logit",
            d / spread
        );
        assert!(
            d < tolerance * spread,
            "{name}: logits off by {d} (largest logit {spread})"
        );
        let g = lm
            .generate(
                &[0, 3, 4],
                2,
                &SamplingParams {
                    max_tokens: 6,
                    ..Default::default()
                },
                0,
                &mut ComputeMeter::default(),
            )
            .unwrap();
        assert_eq!(g.len(), 2, "{name}");
        // inspect names the type the matrices are stored in.
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_thinkscale"))
            .args(["inspect", "--json"])
            .arg(&file)
            .output()
            .unwrap();
        let info: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(info["dtypes"][name].as_u64().unwrap() > 0, "{name}: {info}");
    }
}
