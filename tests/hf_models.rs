#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Tiny randomly initialised models in Hugging Face layout, written by the tests with the real
//! tensor names: Llama (with Llama 3 RoPE scaling and grouped-query attention), Mistral and
//! Qwen2 load and generate, from one safetensors file or from shards, and agree with
//! candle-transformers' own implementations on the same weights. Bad files fail with the file
//! and the reason.

mod common;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use common::Tiny;
use std::collections::HashMap;
use std::path::Path;
use thinkscale::engine::tokenizer::toy_vocab_size;
use thinkscale::engine::{CausalLm, ComputeMeter, SamplingParams};

const TINY: Tiny = Tiny::SMALL;

fn config(arch: &str) -> serde_json::Value {
    TINY.config(arch)
}

fn write_model(dir: &Path, arch: &str, shards: usize) -> HashMap<String, Tensor> {
    TINY.write(dir, arch, 7, shards)
}

fn ids(lm: &CausalLm, text: &str) -> Vec<u32> {
    let mut ids = vec![0];
    ids.extend(lm.tokenizer.encode(text).unwrap());
    ids
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn tiny_llama_matches_candles_llama_and_generates() {
    let tmp = tempfile::tempdir().unwrap();
    let w = write_model(tmp.path(), "llama", 1);
    let mut lm = CausalLm::load(tmp.path(), &Device::Cpu).unwrap();
    assert_eq!(lm.shape.architecture, "llama");
    assert_eq!(lm.context(), 64);
    assert_eq!(
        lm.params,
        w.values().map(|t| t.elem_count() as u64).sum::<u64>()
    );
    let input = ids(&lm, "(3+4)*12-5\n3+4=7: 7*12-5\n");
    assert!(
        input.len() > 16,
        "long enough for the scaled RoPE frequencies to matter"
    );

    // candle-transformers' own Llama on the same weights and config.
    let cfg: candle_transformers::models::llama::LlamaConfig =
        serde_json::from_value(config("llama")).unwrap();
    let cfg = cfg.into_config(false);
    let vb = VarBuilder::from_tensors(w, DType::F32, &Device::Cpu);
    let stock = candle_transformers::models::llama::Llama::load(vb, &cfg).unwrap();
    let mut cache =
        candle_transformers::models::llama::Cache::new(true, DType::F32, &cfg, &Device::Cpu)
            .unwrap();
    let x = Tensor::new(input.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let expected = stock
        .forward(&x, 0, &mut cache)
        .unwrap()
        .squeeze(0)
        .unwrap();
    let ours = lm.last_logits(&input).unwrap();
    let d = max_diff(&ours, &expected);
    assert!(d < 1e-4, "logits differ from candle's llama by {d}");

    let params = SamplingParams {
        max_tokens: 10,
        ..Default::default()
    };
    let mut meter = ComputeMeter::default();
    let gens = lm.generate(&input, 4, &params, 3, &mut meter).unwrap();
    assert_eq!(gens.len(), 4);
    assert!(gens
        .iter()
        .all(|g| g.tokens.len() <= 10 && g.tokens.len() == g.logprobs.len()));
    // The prompt runs once for the four samples.
    assert_eq!(meter.prompt_tokens, input.len() as u64);
}

/// f16 and bf16 weights and activations give the f32 logits to within their precision, and
/// generate (batched, with the prefix cache) like f32 does.
#[test]
fn half_precision_runs_close_to_f32() {
    let tmp = tempfile::tempdir().unwrap();
    write_model(tmp.path(), "llama", 1);
    let mut full = CausalLm::load(tmp.path(), &Device::Cpu).unwrap();
    let input = ids(&full, "(3+4)*12-5\n");
    let reference = full.last_logits(&input).unwrap();
    let scale = reference
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    for (dtype, tolerance) in [(DType::F16, 0.01), (DType::BF16, 0.05)] {
        let mut lm = CausalLm::load_as(tmp.path(), &Device::Cpu, dtype).unwrap();
        let d = max_diff(&lm.last_logits(&input).unwrap(), &reference);
        assert!(
            d < tolerance * scale,
            "{dtype:?}: logits differ by {d} (scale {scale})"
        );
        let params = SamplingParams {
            max_tokens: 6,
            ..Default::default()
        };
        let gens = lm
            .generate(&input, 3, &params, 1, &mut ComputeMeter::default())
            .unwrap();
        assert_eq!(gens.len(), 3);
        assert!(gens
            .iter()
            .all(|g| g.logprobs.iter().all(|l| l.is_finite())));
    }
}

#[test]
fn sharded_weights_load_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, three) = (tmp.path().join("one"), tmp.path().join("three"));
    write_model(&one, "llama", 1);
    write_model(&three, "llama", 3);
    assert!(!three.join("model.safetensors").exists());
    let mut a = CausalLm::load(&one, &Device::Cpu).unwrap();
    let mut b = CausalLm::load(&three, &Device::Cpu).unwrap();
    let input = ids(&a, "12+7\n");
    assert_eq!(
        max_diff(
            &a.last_logits(&input).unwrap(),
            &b.last_logits(&input).unwrap()
        ),
        0.0
    );
    assert_eq!(a.params, b.params);

    // A shard the index names but the directory lacks is named in the error.
    std::fs::remove_file(three.join("model-00002-of-00003.safetensors")).unwrap();
    let e = CausalLm::load(&three, &Device::Cpu)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("model-00002-of-00003.safetensors") && e.contains("missing"),
        "{e}"
    );
}

#[test]
fn llama_family_batches_scores_and_stops_like_one_sequence() {
    for arch in ["llama", "mistral"] {
        let tmp = tempfile::tempdir().unwrap();
        write_model(tmp.path(), arch, 1);
        let mut lm = CausalLm::load(tmp.path(), &Device::Cpu).unwrap();
        let input = ids(&lm, "2*3+1\n");
        let params = SamplingParams {
            max_tokens: 12,
            top_k: 8,
            ..Default::default()
        };
        let mut meter = ComputeMeter::default();
        let batched = lm.generate(&input, 5, &params, 9, &mut meter).unwrap();
        lm.set_max_batch(1);
        let alone = lm.generate(&input, 5, &params, 9, &mut meter).unwrap();
        assert_eq!((alone.len(), batched.len()), (5, 5), "{arch}");
        for (a, b) in alone.iter().zip(&batched) {
            assert_eq!(a.tokens, b.tokens, "{arch}");
            assert_eq!(a.step_ends, b.step_ends, "{arch}");
        }

        // Teacher-forced log-probabilities are the step-by-step next-token distributions.
        let mut seq = input.clone();
        seq.extend(&batched[0].tokens);
        let lp = lm.token_logprobs(&seq, &mut meter).unwrap();
        for i in 0..seq.len() - 1 {
            let logits = lm.last_logits(&seq[..=i]).unwrap();
            let logp = candle_nn::ops::log_softmax(&logits, 0).unwrap();
            let direct: f32 = logp.get(seq[i + 1] as usize).unwrap().to_scalar().unwrap();
            assert!(
                (direct - lp[i]).abs() < 1e-4,
                "{arch} position {i}: {direct} vs {}",
                lp[i]
            );
        }
        // And the sampled log-probabilities are the same numbers.
        for (k, x) in batched[0].logprobs.iter().enumerate() {
            let y = lp[input.len() - 1 + k];
            assert!((x - y).abs() < 1e-4, "{arch} token {k}: {x} vs {y}");
        }
    }
}

#[test]
fn tiny_qwen2_agrees_with_candles_qwen2() {
    use candle_transformers::models::qwen2;
    let tmp = tempfile::tempdir().unwrap();
    let w = write_model(tmp.path(), "qwen2", 1);
    let mut lm = CausalLm::load(tmp.path(), &Device::Cpu).unwrap();
    assert_eq!(lm.shape.architecture, "qwen2");
    let input = ids(&lm, "(3+4)*12-5\n");
    let ours = lm.last_logits(&input).unwrap();

    // The same weights through candle-transformers' own Qwen2.
    let qcfg: qwen2::Config = serde_json::from_value(config("qwen2")).unwrap();
    let vb = VarBuilder::from_tensors(w, DType::F32, &Device::Cpu);
    let mut stock = qwen2::ModelForCausalLM::new(&qcfg, vb).unwrap();
    let x = Tensor::new(input.as_slice(), &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap();
    let stock = stock.forward(&x, 0).unwrap().flatten_all().unwrap();
    let d = max_diff(&ours, &stock);
    assert!(d < 1e-4, "transformer and candle's qwen2 differ by {d}");

    let gens = lm
        .generate(
            &input,
            2,
            &SamplingParams::default(),
            1,
            &mut ComputeMeter::default(),
        )
        .unwrap();
    assert_eq!(gens.len(), 2);
}

#[test]
fn bad_directories_name_the_file_and_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let load = |dir: &Path| CausalLm::load(dir, &Device::Cpu).unwrap_err().to_string();

    // Unsupported architecture.
    let d = tmp.path().join("gpt2");
    write_model(&d, "llama", 1);
    let mut c = config("llama");
    c["model_type"] = "gpt2".into();
    std::fs::write(d.join("config.json"), c.to_string()).unwrap();
    let e = load(&d);
    assert!(
        e.contains("config.json")
            && e.contains("unsupported architecture 'gpt2'")
            && e.contains("llama, mistral, qwen2"),
        "{e}"
    );

    // Truncated weights: the header promises more bytes than the file holds.
    let d = tmp.path().join("truncated");
    write_model(&d, "llama", 1);
    let f = d.join("model.safetensors");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 100]).unwrap();
    let e = load(&d);
    assert!(
        e.contains("model.safetensors") && e.contains("truncated"),
        "{e}"
    );

    // Not a safetensors file at all.
    std::fs::write(&f, b"this is not a model").unwrap();
    let e = load(&d);
    assert!(
        e.contains("model.safetensors") && e.contains("not a valid safetensors"),
        "{e}"
    );

    // A tensor missing from otherwise good weights.
    let d = tmp.path().join("missing-tensor");
    let mut w = write_model(&d, "llama", 1);
    w.remove("model.layers.1.mlp.up_proj.weight");
    candle_core::safetensors::save(&w, d.join("model.safetensors")).unwrap();
    let e = load(&d);
    assert!(e.contains("model.layers.1.mlp.up_proj.weight"), "{e}");

    // The tokenizer has more tokens than the model has embeddings.
    let d = tmp.path().join("small-vocab");
    write_model(&d, "llama", 1);
    let mut c = config("llama");
    c["vocab_size"] = 16.into();
    std::fs::write(d.join("config.json"), c.to_string()).unwrap();
    let e = load(&d);
    assert!(
        e.contains("tokenizer.json")
            && e.contains(&format!("{} tokens", toy_vocab_size()))
            && e.contains("16"),
        "{e}"
    );

    // Heads that do not divide.
    let d = tmp.path().join("heads");
    write_model(&d, "llama", 1);
    let mut c = config("llama");
    c["num_key_value_heads"] = 3.into();
    std::fs::write(d.join("config.json"), c.to_string()).unwrap();
    let e = load(&d);
    assert!(
        e.contains("config.json") && e.contains("key/value heads"),
        "{e}"
    );

    // A prompt longer than the context is refused, not truncated.
    let d = tmp.path().join("ok");
    write_model(&d, "llama", 1);
    let mut lm = CausalLm::load(&d, &Device::Cpu).unwrap();
    let long = vec![3u32; 80];
    let e = lm
        .generate(
            &long,
            1,
            &SamplingParams::default(),
            0,
            &mut ComputeMeter::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("80 tokens") && e.contains("context of 64"),
        "{e}"
    );
}
