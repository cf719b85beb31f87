//! Tiny randomly-initialised checkpoints in each PRM format's exact layout (tensor names,
//! `config.json` fields, special tokens), and the direct computations the tests check scores
//! against: the stock candle model run afresh on each step's prefix (no KV cache, no chunking),
//! with the head or the `+`/`-` softmax applied by hand to weights read from the safetensors.

use crate::data::Problem;
use crate::engine::tokenizer::toy_tokenizer_json;
use crate::engine::toy::ToyArch;
use crate::engine::ComputeMeter;
use crate::verify::Verifier;
use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::{llama, mistral, qwen2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use tempfile::TempDir;

use super::PrmFormat;

/// Width of the tiny models.
pub const HIDDEN: usize = 16;
const INTERMEDIATE: usize = 32;
const LAYERS: usize = 2;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
/// Embedding rows beyond the tokenizer's vocabulary (real checkpoints pad them too).
const PADDING: usize = 3;
/// Context of the tiny models, in tokens.
pub const CONTEXT: usize = 256;

/// A toy-task problem.
pub fn problem(question: &str) -> Problem {
    crate::data::toy::problem("t".into(), 2, question.into(), 10)
}

/// The question every test candidate answers.
pub const QUESTION: &str = "(2+3)*2";

/// A 3-step candidate written in the toy tokenizer's characters.
pub fn steps() -> Vec<String> {
    ["2+3=5: 5*2", "5*2=10: 10", "\\boxed{10}"]
        .map(String::from)
        .to_vec()
}

/// Asserts that two score lists agree within 1e-4, and that the scores differ from step to
/// step (so the agreement is not that of saturated heads).
pub fn assert_scores(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-4, "{got:?} vs {want:?}");
    }
    assert!(
        got.windows(2).all(|p| (p[0] - p[1]).abs() > 1e-3),
        "scores barely vary: {got:?}"
    );
}

/// Seeded random weights, saved under their checkpoint names.
struct Weights {
    rng: ChaCha8Rng,
    tensors: HashMap<String, Tensor>,
}

impl Weights {
    fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            tensors: HashMap::new(),
        }
    }

    /// A tensor around `centre`, spread ±0.4.
    fn add(&mut self, name: &str, shape: &[usize], centre: f32) {
        let n = shape.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|_| centre + self.rng.random_range(-0.4..0.4))
            .collect();
        let t = Tensor::from_vec(v, shape, &Device::Cpu).unwrap();
        self.tensors.insert(name.into(), t);
    }

    /// The tensors of a decoder-only transformer in Hugging Face names (`model.*`), with
    /// biases on the query/key/value projections as Qwen2 has them.
    fn decoder(&mut self, vocab: usize, kv_heads: usize, qkv_bias: bool) {
        let (h, kv) = (HIDDEN, kv_heads * HIDDEN / HEADS);
        self.add("model.embed_tokens.weight", &[vocab, h], 0.0);
        self.add("model.norm.weight", &[h], 1.0);
        for l in 0..LAYERS {
            let p = format!("model.layers.{l}");
            for (name, out) in [("q_proj", h), ("k_proj", kv), ("v_proj", kv)] {
                self.add(&format!("{p}.self_attn.{name}.weight"), &[out, h], 0.0);
                if qkv_bias {
                    self.add(&format!("{p}.self_attn.{name}.bias"), &[out], 0.0);
                }
            }
            self.add(&format!("{p}.self_attn.o_proj.weight"), &[h, h], 0.0);
            self.add(
                &format!("{p}.mlp.gate_proj.weight"),
                &[INTERMEDIATE, h],
                0.0,
            );
            self.add(&format!("{p}.mlp.up_proj.weight"), &[INTERMEDIATE, h], 0.0);
            self.add(
                &format!("{p}.mlp.down_proj.weight"),
                &[h, INTERMEDIATE],
                0.0,
            );
            self.add(&format!("{p}.input_layernorm.weight"), &[h], 1.0);
            self.add(&format!("{p}.post_attention_layernorm.weight"), &[h], 1.0);
        }
    }

    fn save(&self, path: &Path) {
        candle_core::safetensors::save(&self.tensors, path).unwrap();
    }
}

/// A `tokenizer.json` of one token per character, like the toy tokenizer (a BPE model), with
/// `specials` first (as added special tokens), then `<unk>` unless it is a special, then the
/// characters, then the tokens `merges` make.
pub fn char_tokenizer(
    specials: &[&str],
    chars: &str,
    merges: &[(&str, &str)],
    extra: Value,
) -> Value {
    let mut vocab = serde_json::Map::new();
    let mut added = Vec::new();
    for s in specials {
        added.push(
            json!({"id": vocab.len(), "content": s, "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true}),
        );
        vocab.insert(s.to_string(), vocab.len().into());
    }
    let units = std::iter::once("<unk>".to_string())
        .chain(chars.chars().map(String::from))
        .chain(merges.iter().map(|(a, b)| format!("{a}{b}")));
    for u in units {
        if !vocab.contains_key(&u) {
            vocab.insert(u, vocab.len().into());
        }
    }
    let merges: Vec<Value> = merges.iter().map(|(a, b)| json!([a, b])).collect();
    let mut tok = json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": null, "post_processor": null,
        "decoder": {"type": "Fuse"},
        "model": {"type": "BPE", "dropout": null, "unk_token": "<unk>",
            "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
            "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": merges}
    });
    if let (Some(t), Some(e)) = (tok.as_object_mut(), extra.as_object()) {
        t.extend(e.clone());
    }
    tok
}

/// Printable ASCII and the newline: what the chat-format test tokenizers hold.
fn ascii() -> String {
    (' '..='~').chain(['\n']).collect()
}

fn vocab_size(tokenizer: &Value) -> usize {
    tokenizer["model"]["vocab"].as_object().unwrap().len()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// Writes a checkpoint directory.
fn write_checkpoint(
    config: Value,
    weights: &Weights,
    tokenizer: &Value,
    tokenizer_config: Option<Value>,
) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_json(&dir.path().join("config.json"), &config);
    write_json(&dir.path().join("tokenizer.json"), tokenizer);
    if let Some(tc) = tokenizer_config {
        write_json(&dir.path().join("tokenizer_config.json"), &tc);
    }
    weights.save(&dir.path().join("model.safetensors"));
    dir
}

/// Fields of a Qwen2 `config.json` as Qwen2.5 checkpoints write them.
fn qwen2_config(architecture: &str, vocab: usize) -> Value {
    json!({
        "architectures": [architecture], "model_type": "qwen2",
        "vocab_size": vocab, "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "max_position_embeddings": CONTEXT,
        "sliding_window": CONTEXT, "max_window_layers": LAYERS, "use_sliding_window": false,
        "tie_word_embeddings": false, "rope_theta": 10000.0, "rms_norm_eps": 1e-6,
        "hidden_act": "silu", "bos_token_id": 0, "eos_token_id": 1, "torch_dtype": "float32"
    })
}

/// The special tokens of Qwen2.5-Math-PRM's tokenizer that the format uses.
pub const QWEN_SPECIALS: [&str; 4] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<extra_0>"];

/// A tiny Qwen2.5-Math-PRM: Qwen2 backbone, `score.0`/`score.2` head, no `lm_head`.
pub fn write_qwen_math() -> TempDir {
    let tok = char_tokenizer(&QWEN_SPECIALS, &ascii(), &[], json!({}));
    let vocab = vocab_size(&tok) + PADDING;
    let mut w = Weights::new(1);
    w.decoder(vocab, KV_HEADS, true);
    w.add("score.0.weight", &[HIDDEN, HIDDEN], 0.0);
    w.add("score.0.bias", &[HIDDEN], 0.0);
    w.add("score.2.weight", &[2, HIDDEN], 0.0);
    w.add("score.2.bias", &[2], 0.0);
    let config = qwen2_config("Qwen2ForProcessRewardModel", vocab);
    write_checkpoint(config, &w, &tok, None)
}

/// A tiny value-head PRM in the toy PRM's layout: the toy policy's `config.json` shape and
/// character tokenizer (`<|endoftext|>` = id 0 is BOS and EOS), an `lm_head`, and
/// `v_head.summary`.
pub fn write_value_head() -> TempDir {
    let arch = ToyArch {
        hidden_size: HIDDEN,
        intermediate_size: INTERMEDIATE,
        num_hidden_layers: LAYERS,
        num_attention_heads: HEADS,
        max_position_embeddings: CONTEXT,
    };
    let mut config = arch.config_json();
    config["architectures"] = json!([super::value_head::ARCHITECTURE]);
    let tok = toy_tokenizer_json();
    let vocab = vocab_size(&tok);
    let mut w = Weights::new(2);
    // The toy arch has as many key/value heads as heads.
    w.decoder(vocab, HEADS, true);
    w.add("lm_head.weight", &[vocab, HIDDEN], 0.0);
    w.add("v_head.summary.weight", &[1, HIDDEN], 0.0);
    w.add("v_head.summary.bias", &[1], 0.0);
    write_checkpoint(config, &w, &tok, None)
}

/// Fields of a Mistral or Llama `config.json`.
fn lm_config(architecture: &str, model_type: &str, vocab: usize, bos: u32, eos: Value) -> Value {
    let mut c = json!({
        "architectures": [architecture], "model_type": model_type,
        "vocab_size": vocab, "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "max_position_embeddings": CONTEXT,
        "rms_norm_eps": 1e-5, "hidden_act": "silu", "tie_word_embeddings": false,
        "bos_token_id": bos, "eos_token_id": eos, "torch_dtype": "float32"
    });
    if model_type == "mistral" {
        c["rope_theta"] = json!(10000.0);
        c["sliding_window"] = json!(4096);
    } else {
        c["rope_theta"] = json!(500000.0);
        c["rope_scaling"] = json!({"factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 64,
            "rope_type": "llama3"});
    }
    c
}

fn lm_weights(seed: u64, vocab: usize) -> Weights {
    let mut w = Weights::new(seed);
    w.decoder(vocab, KV_HEADS, false);
    w.add("lm_head.weight", &[vocab, HIDDEN], 0.0);
    w
}

/// A SentencePiece-like tokenizer as Mistral's `tokenizer.json` is built: spaces become `▁`
/// with one prepended, `<s>` added by the post-processor, and merges that make Mistral's
/// `▁ки`, `▁+` and `▁-` tokens.
pub fn shepherd_tokenizer(merges: &[(&str, &str)]) -> Value {
    let chars: String = ('!'..='~').chain(['\n', '▁', 'к', 'и']).collect();
    let mut all = vec![("▁", "к"), ("▁к", "и"), ("▁", "+"), ("▁", "-")];
    all.extend_from_slice(merges);
    char_tokenizer(
        &["<unk>", "<s>", "</s>"],
        &chars,
        &all,
        json!({
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": "▁"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
            "post_processor": {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                         {"Sequence": {"id": "A", "type_id": 0}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
            "decoder": {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
        }),
    )
}

/// A tiny Math-Shepherd: a Mistral causal LM with a SentencePiece-like tokenizer.
pub fn write_math_shepherd() -> TempDir {
    let tok = shepherd_tokenizer(&[]);
    let vocab = vocab_size(&tok) + PADDING;
    let config = lm_config("MistralForCausalLM", "mistral", vocab, 1, json!(2));
    let tc = json!({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": true});
    write_checkpoint(config, &lm_weights(3, vocab), &tok, Some(tc))
}

/// The special tokens of Llama 3's tokenizer that the RLHFlow format uses.
pub const LLAMA3_SPECIALS: [&str; 5] = [
    "<|begin_of_text|>",
    "<|end_of_text|>",
    "<|start_header_id|>",
    "<|end_header_id|>",
    "<|eot_id|>",
];

/// A tiny RLHFlow PRM: a Llama causal LM (Llama 3.1 rope scaling) with Llama 3's chat tokens,
/// a post-processor that adds `<|begin_of_text|>` (as Llama 3's does), a `\n\n` token, and a
/// `tokenizer_config.json` whose chat template is Llama 3.1's when `llama31`.
pub fn write_rlhflow(llama31: bool) -> TempDir {
    let tok = char_tokenizer(
        &LLAMA3_SPECIALS,
        &ascii(),
        &[("\n", "\n")],
        json!({"post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [0],
                "tokens": ["<|begin_of_text|>"]}}}}),
    );
    let vocab = vocab_size(&tok) + PADDING;
    let config = lm_config("LlamaForCausalLM", "llama", vocab, 0, json!([1, 4]));
    let template = if llama31 {
        "{{- bos_token }}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Cutting Knowledge Date: December 2023\\n\" }}…"
    } else {
        "{% set loop_messages = messages %}{% for message in loop_messages %}…"
    };
    let tc = json!({"bos_token": "<|begin_of_text|>", "chat_template": template});
    write_checkpoint(config, &lm_weights(4, vocab), &tok, Some(tc))
}

/// One tiny checkpoint of every format.
pub fn all_tiny_checkpoints() -> Vec<(PrmFormat, TempDir)> {
    vec![
        (PrmFormat::QwenMathPrm, write_qwen_math()),
        (PrmFormat::ValueHead, write_value_head()),
        (PrmFormat::MathShepherd, write_math_shepherd()),
        (PrmFormat::Rlhflow, write_rlhflow(true)),
    ]
}

/// Rewrites `config.json` in `dir`.
pub fn edit_config(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let path = dir.join("config.json");
    let mut c: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut c);
    write_json(&path, &c);
}

/// Replaces `tokenizer.json` in `dir`.
pub fn replace_tokenizer(dir: &Path, tokenizer: &Value) {
    write_json(&dir.join("tokenizer.json"), tokenizer);
}

/// Splits `model.safetensors` into two shards and a `model.safetensors.index.json`.
pub fn shard(dir: &Path) {
    let single = dir.join("model.safetensors");
    let tensors = candle_core::safetensors::load(&single, &Device::Cpu).unwrap();
    let (mut a, mut b, mut map) = (HashMap::new(), HashMap::new(), serde_json::Map::new());
    for (i, (name, t)) in tensors.into_iter().enumerate() {
        let (file, part) = if i % 2 == 0 {
            ("model-00001-of-00002.safetensors", &mut a)
        } else {
            ("model-00002-of-00002.safetensors", &mut b)
        };
        map.insert(name.clone(), file.into());
        part.insert(name, t);
    }
    candle_core::safetensors::save(&a, dir.join("model-00001-of-00002.safetensors")).unwrap();
    candle_core::safetensors::save(&b, dir.join("model-00002-of-00002.safetensors")).unwrap();
    write_json(
        &dir.join("model.safetensors.index.json"),
        &json!({"metadata": {}, "weight_map": map}),
    );
    std::fs::remove_file(single).unwrap();
}

/// The tokenizer of a checkpoint, loaded directly.
pub fn tokenizer(dir: &Path) -> tokenizers::Tokenizer {
    tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap()
}

/// Token ids of `text`, with or without the post-processor's tokens.
pub fn ids(dir: &Path, text: &str, add_special: bool) -> Vec<u32> {
    tokenizer(dir)
        .encode(text, add_special)
        .unwrap()
        .get_ids()
        .to_vec()
}

/// A tensor of the checkpoint as rows of floats.
pub fn matrix(dir: &Path, name: &str) -> Vec<Vec<f32>> {
    let t = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu)
        .unwrap()
        .remove(name)
        .unwrap();
    match t.rank() {
        1 => vec![t.to_vec1().unwrap()],
        _ => t.to_vec2().unwrap(),
    }
}

/// `w · x + b`, by hand.
pub fn affine(w: &[Vec<f32>], b: &[f32], x: &[f32]) -> Vec<f32> {
    w.iter()
        .zip(b)
        .map(|(row, bias)| row.iter().zip(x).map(|(a, c)| a * c).sum::<f32>() + bias)
        .collect()
}

fn vars(dir: &Path) -> (Value, VarBuilder<'static>) {
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu);
    let vb = VarBuilder::from_tensors(tensors.unwrap(), DType::F32, &Device::Cpu);
    (config, vb)
}

fn input(ids: &[u32]) -> Tensor {
    Tensor::new(ids, &Device::Cpu)
        .unwrap()
        .unsqueeze(0)
        .unwrap()
}

/// The final hidden state at the last of `ids`, from a fresh stock Qwen2 model.
pub fn qwen2_last_hidden(dir: &Path, ids: &[u32]) -> Vec<f32> {
    let (config, vb) = vars(dir);
    let cfg: qwen2::Config = serde_json::from_value(config).unwrap();
    let mut model = qwen2::Model::new(&cfg, vb).unwrap();
    let h = model.forward(&input(ids), 0, None).unwrap();
    h.i((0, ids.len() - 1)).unwrap().to_vec1().unwrap()
}

/// P(`good`) against `bad` for the token after `ids`, from a fresh stock Mistral or Llama fed
/// the whole prefix at once.
pub fn next_token_prob(dir: &Path, ids: &[u32], good: u32, bad: u32) -> f32 {
    let (config, vb) = vars(dir);
    let logits: Vec<f32> = if config["model_type"] == "mistral" {
        let cfg: mistral::Config = serde_json::from_value(config).unwrap();
        let mut model = mistral::Model::new(&cfg, vb).unwrap();
        model.forward(&input(ids), 0).unwrap()
    } else {
        let raw: llama::LlamaConfig = serde_json::from_value(config).unwrap();
        let cfg = raw.into_config(false);
        let model = llama::Llama::load(vb, &cfg).unwrap();
        let mut cache = llama::Cache::new(false, DType::F32, &cfg, &Device::Cpu).unwrap();
        model.forward(&input(ids), 0, &mut cache).unwrap()
    }
    .flatten_all()
    .unwrap()
    .to_vec1()
    .unwrap();
    let (g, b) = (logits[good as usize], logits[bad as usize]);
    g.exp() / (g.exp() + b.exp())
}

/// Loads the PRM in `dir` on the CPU.
pub fn load_prm(dir: &Path) -> Box<dyn Verifier + Send> {
    super::load(dir, &Device::Cpu).unwrap()
}

/// The error that loading `dir` gives, as text.
pub fn load_error(dir: &Path) -> String {
    super::load(dir, &Device::Cpu).err().unwrap().to_string()
}

/// The direct computation's shape: `score` runs on each prefix of `steps` (steps 1..=k) and
/// returns that prefix's score and token count; the result is every score and the tokens of
/// the whole candidate.
pub fn by_prefix(
    steps: &[String],
    mut score: impl FnMut(&[String]) -> (f32, usize),
) -> (Vec<f32>, usize) {
    let (scores, tokens): (Vec<f32>, Vec<usize>) =
        (1..=steps.len()).map(|k| score(&steps[..k])).unzip();
    (scores, tokens.last().copied().unwrap_or(0))
}

/// Scores `steps` of [`QUESTION`] with the PRM in `dir` and checks the scores and the metered
/// tokens against `want` (from [`by_prefix`]).
pub fn check_against(dir: &Path, steps: &[String], (want, tokens): (Vec<f32>, usize)) {
    let mut meter = ComputeMeter::default();
    let got = load_prm(dir)
        .score(&problem(QUESTION), steps, &mut meter)
        .unwrap();
    assert_scores(&got, &want);
    assert_eq!(meter.verifier_tokens, tokens as u64);
}
