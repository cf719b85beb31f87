//! Causal language models: loading and batched generation.
//!
//! A model is a directory in Hugging Face layout (`config.json`, `*.safetensors`,
//! `tokenizer.json`) or a GGUF file (see [`super::source`]). Every model runs on
//! [`Transformer`] (pinned by tests to candle-transformers' Llama and Qwen2), which returns all
//! positions' hidden states, so teacher-forced scoring takes one forward pass for every
//! backend; small dense f32 models on the CPU, the toy models among them, run it on
//! [`super::dense`]'s kernels.

use super::cancel::{CancelToken, Cancelled};
use super::gguf::GgufFile;
use super::hf::{self, HfConfig};
use super::meter::{flops_per_token, ComputeMeter};
use super::prefix::{extend_hash, PrefixCache, SeenPrefixes};
use super::sample::{sample, Draw, SamplingParams};
use super::source::{self, ModelSource};
use super::tokenizer::{TextStream, TextTokenizer, TokenizerError};
use super::transformer::{self, RopeScaling, SeqKv, Transformer};
use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Most sequences run together in one batched forward pass.
pub const MAX_BATCH: usize = 64;

/// Positions scored per slice in [`CausalLm::token_logprobs`]: bounds the logits held at once
/// (a 150k vocabulary makes 600 kB of logits per position).
const SCORE_CHUNK: usize = 256;

/// Errors of model loading and inference.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file the model needs is not there.
    #[error("{path}: missing ({what})")]
    Missing { path: String, what: &'static str },
    /// A file is there but cannot be used.
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    /// The architecture is not one this build serves.
    #[error("{path}: unsupported architecture '{arch}' (supported: {supported})")]
    Unsupported {
        path: String,
        arch: String,
        supported: &'static str,
    },
    /// The model name leads to no files.
    #[error(transparent)]
    Source(#[from] source::SourceError),
    /// Tokenizer trouble.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// The prompt does not fit the model's context.
    #[error("prompt of {tokens} tokens does not fit the context of {context} tokens")]
    TooLong { tokens: usize, context: usize },
    /// A tensor operation failed.
    #[error("inference failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// Stopping was asked for ([`CancelToken`]).
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
}

fn invalid(path: &Path, reason: impl std::fmt::Display) -> ModelError {
    ModelError::Invalid {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// One sampled continuation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generation {
    /// The generated text (special tokens removed).
    pub text: String,
    /// The generated token ids.
    pub tokens: Vec<u32>,
    /// Log-probability of each generated token under the model.
    pub logprobs: Vec<f32>,
    /// Per generated token, the log-probability of the most likely token at its position
    /// (the `logprob-argmax-gap` verifier's evidence); `None` where the source does not report
    /// it (a server that returns no top log-probabilities, a scripted policy).
    pub top_logprobs: Option<Vec<f32>>,
    /// Per generated token, KL(U ‖ p) of the distribution it was drawn from, in nats (the
    /// `self-certainty` verifier's evidence, [`super::sample::Draw::uniform_kl`]); `None` where
    /// the whole distribution was not at hand (servers report a few top tokens at most).
    pub uniform_kls: Option<Vec<f32>>,
    /// Whether the model ended the sequence (end-of-sequence token) rather than a stop string
    /// or the token limit.
    pub ended: bool,
    /// For each step delimiter in `text`, the number of tokens up to and including it.
    pub step_ends: Vec<usize>,
}

/// What a loaded model is, for the compute meter and for people.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelShape {
    /// `llama`, `mistral`, `qwen2` (HF `model_type` or GGUF `general.architecture`).
    pub architecture: String,
    /// Decoder blocks.
    pub layers: usize,
    /// Residual width.
    pub hidden: usize,
    /// Rows of the embedding table.
    pub vocab_size: usize,
    /// Longest sequence, prompt and generation together.
    pub context: usize,
    /// The model's Jinja chat template, if it has one.
    pub chat_template: Option<String>,
}

/// One prompt to continue `n` times: sample `i` draws from its own generator seeded by
/// `(seed, i)`.
#[derive(Debug, Clone, Copy)]
pub struct GenRequest<'a> {
    /// Token ids, special tokens included.
    pub prompt: &'a [u32],
    /// Samples wanted.
    pub n: usize,
    /// Seed of the samples' generators.
    pub seed: u64,
    /// Most tokens generated per sample, where fewer than the sampling parameters allow (a
    /// step-wise search gives each partial solution what it has left).
    pub max_tokens: Option<usize>,
}

impl<'a> GenRequest<'a> {
    /// `n` samples of `prompt` seeded `seed`, within the sampling parameters' token limit.
    pub fn new(prompt: &'a [u32], n: usize, seed: u64) -> Self {
        Self {
            prompt,
            n,
            seed,
            max_tokens: None,
        }
    }
}

/// Where continuations stop, besides the end-of-sequence token and the token limit: after a
/// number of steps, or at the end of the solution. Step ends are found at `delimiter` either
/// way (and recorded in [`Generation::step_ends`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopAt {
    /// The text that ends a step (`"\n"`; `""` tracks no steps).
    pub delimiter: String,
    /// Stop once this many steps have ended (`None`: run to the end of the solution).
    pub steps: Option<usize>,
}

impl Default for StopAt {
    /// Run to the end; steps end at newlines.
    fn default() -> Self {
        Self::end("\n")
    }
}

impl StopAt {
    /// Run to the end of the solution, recording step ends at `delimiter`.
    pub fn end(delimiter: &str) -> Self {
        Self {
            delimiter: delimiter.to_string(),
            steps: None,
        }
    }
    /// Stop after `k` steps (at least one).
    pub fn steps(delimiter: &str, k: usize) -> Self {
        Self {
            delimiter: delimiter.to_string(),
            steps: Some(k.max(1)),
        }
    }
}

/// One search's requests in a call shared by several searches ([`CausalLm::generate_groups`]):
/// where its samples stop, and whose prefix cache they read and fill.
#[derive(Debug, Clone)]
pub struct GenGroup<'a> {
    /// The requests.
    pub requests: &'a [GenRequest<'a>],
    /// Where their samples stop.
    pub stop: StopAt,
    /// The search they belong to: searches in flight together keep their prefix caches and
    /// recomputation counters apart (0: the scope of calls made one search at a time).
    pub scope: u64,
}

/// A loaded causal language model with its tokenizer.
pub struct CausalLm {
    /// Where it was loaded from: the model directory or the GGUF file.
    pub dir: PathBuf,
    /// The tokenizer.
    pub tokenizer: TextTokenizer,
    /// Number of parameters.
    pub params: u64,
    /// Architecture, size and chat template.
    pub shape: ModelShape,
    model: Transformer,
    device: Device,
    max_batch: usize,
    /// Bytes each search's prefix cache may hold.
    prefix_budget: usize,
    /// Each search's prefixes, by scope ([`GenGroup::scope`]; 0 for calls of one search).
    scopes: std::collections::BTreeMap<u64, Scope>,
}

/// One search's share of the engine: the sequences it ran (what it continues without running
/// them again) and the hashes of every prefix it ran (what it ran twice). Searches in flight
/// together keep theirs apart, so each is charged what it costs alone.
#[derive(Debug, Default)]
struct Scope {
    prefixes: PrefixCache,
    seen: SeenPrefixes,
}

impl std::fmt::Debug for CausalLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CausalLm")
            .field("dir", &self.dir)
            .field("params", &self.params)
            .field("architecture", &self.shape.architecture)
            .finish()
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ModelError::Missing {
            path: path.display().to_string(),
            what: "a model directory holds config.json, model.safetensors and tokenizer.json",
        },
        _ => invalid(path, e),
    })?;
    serde_json::from_str(&text).map_err(|e| invalid(path, e))
}

/// Reads and checks a model directory's `config.json`: its parsed fields and the raw JSON.
pub fn read_config(dir: &Path) -> Result<(HfConfig, serde_json::Value), ModelError> {
    let path = dir.join("config.json");
    let raw = read_json(&path)?;
    let arch = raw
        .get("model_type")
        .and_then(|v| v.as_str())
        .ok_or_else(|| invalid(&path, "missing field `model_type`"))?;
    if !matches!(arch, "llama" | "mistral" | "qwen2") {
        return Err(ModelError::Unsupported {
            path: path.display().to_string(),
            arch: arch.into(),
            supported: hf::SUPPORTED,
        });
    }
    let config: HfConfig = serde_json::from_value(raw.clone()).map_err(|e| invalid(&path, e))?;
    let cfg = config.transformer().map_err(|e| invalid(&path, e))?;
    check_memory(&cfg, &path)?;
    Ok((config, raw))
}

/// This machine's memory in bytes (Linux `/proc/meminfo`), if known.
fn machine_memory() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u128 = info
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Refuses, before anything is allocated, a configuration whose weights alone (at 2 bytes a
/// parameter, the smallest dense type) would not fit in this machine's memory: a corrupt or
/// hostile `config.json` must not make the loader reserve what the machine does not have.
fn check_memory(cfg: &transformer::Config, path: &Path) -> Result<(), ModelError> {
    let params = cfg.param_count();
    let bytes = params.saturating_mul(2);
    if let Some(memory) = machine_memory().filter(|&m| bytes > m) {
        return Err(invalid(
            path,
            format!(
                "describes a model of {params} parameters ({:.1} GB even at 2 bytes each), more \
                 than this machine's {:.1} GB of memory; refusing it before loading",
                bytes as f64 / 1e9,
                memory as f64 / 1e9
            ),
        ));
    }
    Ok(())
}

/// The tokenizer of a HF directory, with ids from `config.json`, `generation_config.json`
/// and `tokenizer_config.json`.
///
/// Whether a raw prompt starts with BOS: where `tokenizer.json`'s post-processor adds it
/// (Llama 3), yes; else `tokenizer_config.json`'s `add_bos_token` (absent: no, as Qwen2 and
/// SmolLM2); a directory without `tokenizer_config.json` (the toy models) starts with the BOS
/// that `config.json` names.
fn hf_tokenizer(
    dir: &Path,
    raw: &serde_json::Value,
    tokenizer_config: Option<&serde_json::Value>,
) -> Result<TextTokenizer, ModelError> {
    let path = dir.join("tokenizer.json");
    if !path.is_file() {
        return Err(ModelError::Missing {
            path: path.display().to_string(),
            what: "the tokenizer",
        });
    }
    let inner = TextTokenizer::read(&path)?;
    let by_name =
        |key: &str| hf::config_token(tokenizer_config, key).and_then(|t| inner.token_to_id(&t));
    let generation =
        hf::side_json(dir, "generation_config.json").map_err(|(p, e)| invalid(&p, e))?;
    let mut ends = hf::token_ids(raw.get("eos_token_id"));
    ends.extend(hf::token_ids(
        generation.as_ref().and_then(|g| g.get("eos_token_id")),
    ));
    let eos = ends
        .first()
        .copied()
        .or_else(|| by_name("eos_token"))
        .ok_or_else(|| {
            invalid(
                &dir.join("config.json"),
                "no `eos_token_id` here or in generation_config.json, and no `eos_token` in \
             tokenizer_config.json",
            )
        })?;
    let bos = hf::token_ids(raw.get("bos_token_id"))
        .first()
        .copied()
        .or_else(|| by_name("bos_token"));
    let framed = inner
        .encode("a", true)
        .map_err(|e| TokenizerError::Codec(e.to_string()))?;
    let add_bos = if bos.is_some() && framed.get_ids().first().copied() == bos {
        true
    } else if let Some(tc) = tokenizer_config {
        tc.get("add_bos_token")
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    } else {
        bos.is_some()
    };
    Ok(TextTokenizer::from_parts(
        inner,
        &path.display().to_string(),
        eos,
        bos,
        add_bos,
        &ends,
    )?)
}

fn check_vocab(tok: &TextTokenizer, model_vocab: usize, path: &Path) -> Result<(), ModelError> {
    if tok.vocab_size() > model_vocab {
        return Err(invalid(
            path,
            format!(
                "vocabulary of {} tokens does not match the model's {} embeddings",
                tok.vocab_size(),
                model_vocab
            ),
        ));
    }
    Ok(())
}

/// The weights a [`ModelHeader`] points at.
pub enum WeightSource {
    /// Safetensors files (one, or the shards of an index), with the raw `config.json`.
    Safetensors {
        /// The files, in order.
        files: Vec<PathBuf>,
        /// `config.json` as read.
        raw_config: serde_json::Value,
    },
    /// An open GGUF file.
    Gguf(Box<GgufFile>),
}

/// Everything the headers of a model's files say, read without loading the weights: what
/// `thinkscale inspect` prints, and the first half of [`CausalLm::load`].
pub struct ModelHeader {
    /// Where the model is.
    pub source: ModelSource,
    /// The transformer configuration.
    pub config: transformer::Config,
    /// Architecture, size, context and chat template.
    pub shape: ModelShape,
    /// The tokenizer with its special ids.
    pub tokenizer: TextTokenizer,
    /// Where the tokenizer came from (`tokenizer.json`, or the GGUF metadata).
    pub tokenizer_source: String,
    /// Number of parameters.
    pub params: u64,
    /// Parameters per stored type (`BF16`, `Q4_1`, ...).
    pub dtypes: std::collections::BTreeMap<String, u64>,
    /// `general.name` of a GGUF file.
    pub name: Option<String>,
    /// Format in words: `safetensors (1 file)`, `GGUF v3`.
    pub format: String,
    /// The weights.
    pub weights: WeightSource,
}

impl ModelHeader {
    /// Reads the headers of a model: a HF-layout directory, a GGUF file (or a directory holding
    /// one), or a Hugging Face repo id in the local cache.
    pub fn read(spec: &Path) -> Result<Self, ModelError> {
        match source::resolve(spec)? {
            ModelSource::HfDir(dir) => Self::read_hf(dir),
            ModelSource::Gguf(file) => Self::read_gguf(file),
        }
    }

    fn read_hf(dir: PathBuf) -> Result<Self, ModelError> {
        let (hf_cfg, raw) = read_config(&dir)?;
        let config_path = dir.join("config.json");
        let config = hf_cfg.transformer().map_err(|e| invalid(&config_path, e))?;
        let tokenizer_config =
            hf::side_json(&dir, "tokenizer_config.json").map_err(|(p, e)| invalid(&p, e))?;
        let tokenizer = hf_tokenizer(&dir, &raw, tokenizer_config.as_ref())?;
        let tokenizer_source = dir.join("tokenizer.json").display().to_string();
        check_vocab(&tokenizer, config.vocab_size, Path::new(&tokenizer_source))?;
        let files = hf::weight_files(&dir).map_err(|(p, e)| match p.exists() {
            true => invalid(&p, e),
            false => ModelError::Missing {
                path: p.display().to_string(),
                what: "the weights: model.safetensors, or shards named by model.safetensors.index.json",
            },
        })?;
        let mut dtypes = std::collections::BTreeMap::new();
        for f in &files {
            let header = hf::file_header(f)
                .map_err(|e| invalid(f, format!("not a valid safetensors file: {e}")))?;
            for t in header.values() {
                *dtypes.entry(t.dtype.clone()).or_insert(0) +=
                    t.shape.iter().map(|&d| d as u64).product::<u64>();
            }
        }
        // candle's Qwen2 always applies its sliding window: the context ends there.
        let context = match (hf_cfg.model_type.as_str(), hf_cfg.sliding_window) {
            ("qwen2", Some(w)) => config.max_position_embeddings.min(w.max(1)),
            _ => config.max_position_embeddings,
        };
        Ok(Self {
            shape: ModelShape {
                architecture: hf_cfg.model_type.clone(),
                layers: config.num_layers,
                hidden: config.hidden_size,
                vocab_size: config.vocab_size,
                context,
                chat_template: hf::chat_template(&dir, tokenizer_config.as_ref()),
            },
            config,
            tokenizer,
            tokenizer_source,
            params: dtypes.values().sum(),
            dtypes,
            name: None,
            format: match files.len() {
                1 => "safetensors (1 file)".to_string(),
                n => format!("safetensors ({n} shards)"),
            },
            weights: WeightSource::Safetensors {
                files,
                raw_config: raw,
            },
            source: ModelSource::HfDir(dir),
        })
    }

    fn read_gguf(path: PathBuf) -> Result<Self, ModelError> {
        let g = GgufFile::open(&path)
            .map_err(|e| invalid(&path, format!("not a valid GGUF file: {e}")))?;
        let arch = g.architecture().to_string();
        if !arch.is_empty() && !matches!(arch.as_str(), "llama" | "qwen2") {
            return Err(ModelError::Unsupported {
                path: path.display().to_string(),
                arch,
                supported: "llama (Llama, SmolLM2, Mistral), qwen2",
            });
        }
        let config = g.config().map_err(|e| invalid(&path, e))?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let beside = dir.join("tokenizer.json");
        let ids = g.special_ids();
        let eos = ids
            .eos
            .ok_or_else(|| invalid(&path, "metadata lacks tokenizer.ggml.eos_token_id"))?;
        let ends: Vec<u32> = [ids.eot, ids.eom].into_iter().flatten().collect();
        let (inner, tokenizer_source) = if beside.is_file() {
            (TextTokenizer::read(&beside)?, beside.display().to_string())
        } else {
            let t = g
                .tokenizer()
                .map_err(|e| invalid(&path, format!("tokenizer from metadata: {e}")))?;
            let pre = g.string("tokenizer.ggml.pre").unwrap_or("default");
            (
                t,
                format!("{} (GGUF metadata, pre-tokenizer {pre})", path.display()),
            )
        };
        let tokenizer =
            TextTokenizer::from_parts(inner, &tokenizer_source, eos, ids.bos, ids.add_bos, &ends)?;
        check_vocab(&tokenizer, config.vocab_size, &path)?;
        let chat_template = match g.chat_template() {
            Some(t) => Some(t.to_string()),
            None => {
                let tc = hf::side_json(&dir, "tokenizer_config.json")
                    .map_err(|(p, e)| invalid(&p, e))?;
                hf::chat_template(&dir, tc.as_ref())
            }
        };
        Ok(Self {
            shape: ModelShape {
                architecture: arch,
                layers: config.num_layers,
                hidden: config.hidden_size,
                vocab_size: config.vocab_size,
                context: config.max_position_embeddings,
                chat_template,
            },
            config,
            tokenizer,
            tokenizer_source,
            params: g.params(),
            dtypes: g.dtypes(),
            name: g.string("general.name").map(String::from),
            format: format!("GGUF v{}", g.version()),
            weights: WeightSource::Gguf(Box::new(g)),
            source: ModelSource::Gguf(path),
        })
    }
}

impl CausalLm {
    /// Loads a model onto `device`: a HF-layout directory, a GGUF file (or a directory holding
    /// one), or a Hugging Face repo id in the local cache.
    pub fn load(spec: &Path, device: &Device) -> Result<Self, ModelError> {
        Self::load_as(spec, device, DType::F32)
    }

    /// Loads a model with dense weights and activations of type `dtype` (f32, f16, bf16; the
    /// device must support it). GGUF files keep their stored weight types and f32 activations.
    pub fn load_as(spec: &Path, device: &Device, dtype: DType) -> Result<Self, ModelError> {
        Self::from_header_as(ModelHeader::read(spec)?, device, dtype)
    }

    /// The same model with its CPU kernels ([`super::dense`]) on instruction set `isa` where
    /// this CPU has it (for A/B timing; AVX2 and AVX-512 give the same results bit for bit).
    pub fn with_isa(mut self, isa: thinkscale_dense::Isa) -> Self {
        self.model = self.model.with_isa(isa);
        self
    }

    /// Loads the weights a header points at, in f32.
    pub fn from_header(h: ModelHeader, device: &Device) -> Result<Self, ModelError> {
        Self::from_header_as(h, device, DType::F32)
    }

    /// Loads the weights a header points at, dense ones as `dtype`.
    pub fn from_header_as(
        h: ModelHeader,
        device: &Device,
        dtype: DType,
    ) -> Result<Self, ModelError> {
        let path = h.source.path().to_path_buf();
        let mut cfg = h.config;
        let model = match h.weights {
            WeightSource::Safetensors { files, raw_config } => {
                let mut tensors = std::collections::HashMap::new();
                for f in &files {
                    let part = candle_core::safetensors::load(f, device)
                        .map_err(|e| invalid(f, format!("not a readable safetensors file: {e}")))?;
                    tensors.extend(part);
                }
                let weights_name = match &files[..] {
                    [one] => one.clone(),
                    _ => path.join("model.safetensors.index.json"),
                };
                let unfit = |e: candle_core::Error| {
                    invalid(
                        &weights_name,
                        format!("weights do not fit config.json: {e}"),
                    )
                };
                let _ = raw_config;
                let w = transformer::weights_from_hf(&cfg, tensors, dtype).map_err(unfit)?;
                Transformer::new(cfg, w, device)?
            }
            WeightSource::Gguf(g) => {
                let unfit = |e: candle_core::Error| {
                    invalid(&path, format!("weights do not fit the metadata: {e}"))
                };
                let GgufFile { content, mut file } = *g;
                if let RopeScaling::Factors(_) = cfg.rope_scaling {
                    let f = content
                        .tensor(&mut file, "rope_freqs.weight", device)
                        .and_then(|t| t.dequantize(device))
                        .and_then(|t| t.flatten_all())
                        .and_then(|t| t.to_vec1::<f32>())
                        .map_err(unfit)?;
                    cfg.rope_scaling = RopeScaling::Factors(f);
                }
                let w = transformer::weights_from_gguf(
                    &cfg,
                    transformer::gguf_reader(&content, &mut file, device),
                    device,
                )
                .map_err(unfit)?;
                Transformer::new(cfg, w, device)?
            }
        };
        Ok(Self {
            dir: path,
            tokenizer: h.tokenizer,
            params: h.params,
            shape: h.shape,
            model,
            device: device.clone(),
            max_batch: MAX_BATCH,
            prefix_budget: super::prefix::DEFAULT_BUDGET,
            scopes: Default::default(),
        })
    }

    /// Context length in tokens.
    pub fn context(&self) -> usize {
        self.shape.context
    }

    /// Runs at most `rows` sequences per forward pass (default [`MAX_BATCH`]; at least 1).
    /// Samples do not depend on it: it trades memory for speed.
    pub fn set_max_batch(&mut self, rows: usize) {
        self.max_batch = rows.max(1);
    }

    fn flops(&self, context: usize) -> f64 {
        flops_per_token(self.params, self.shape.layers, self.shape.hidden, context)
    }

    /// Bytes the prefix cache of each search may hold (default 1 GiB; 0 turns prefix sharing
    /// off). Samples do not depend on it.
    pub fn set_prefix_cache_bytes(&mut self, bytes: usize) {
        self.prefix_budget = bytes;
        for s in self.scopes.values_mut() {
            s.prefixes.set_budget(bytes);
        }
    }

    /// Another engine on the same weights (shared, not copied), with caches of its own and
    /// none of this one's searches, for a thread beside this one's: where the model runs on the
    /// CPU kernels with dense f32 weights, whose steps already run as whole rows per thread, so
    /// engines each [`super::qmatmul::alone`] on a core compute what one engine on all cores
    /// would, without waiting for each other. `None` for any other model (quantized weights and
    /// GPUs gain from one engine's wide products).
    pub fn twin(&self) -> Option<Self> {
        if !self.model.twins_pay() {
            return None;
        }
        Some(Self {
            dir: self.dir.clone(),
            tokenizer: self.tokenizer.clone(),
            params: self.params,
            shape: self.shape.clone(),
            model: self.model.clone(),
            device: self.device.clone(),
            max_batch: self.max_batch,
            prefix_budget: self.prefix_budget,
            scopes: Default::default(),
        })
    }

    /// Forgets every cached prefix and every prefix seen by the recomputation counter, of
    /// every search.
    pub fn clear_prefix_cache(&mut self) {
        self.scopes.clear();
    }

    /// Forgets what the search `scope` ran (its prefix cache and recomputation counter).
    pub fn clear_scope(&mut self, scope: u64) {
        self.scopes.remove(&scope);
    }

    fn scope(&mut self, scope: u64) -> &mut Scope {
        let budget = self.prefix_budget;
        self.scopes.entry(scope).or_insert_with(|| Scope {
            prefixes: PrefixCache::new(budget),
            seen: SeenPrefixes::default(),
        })
    }

    /// Samples `n` continuations of `prompt` (token ids, special tokens included). Sequence `i`
    /// draws from its own generator seeded by `(seed, i)`, so its tokens do not depend on how
    /// the `n` sequences are batched. The prompt runs through the model once for all `n`
    /// samples, and not at all where the prefix cache already holds it (see
    /// [`Self::generate_many`]).
    pub fn generate(
        &mut self,
        prompt: &[u32],
        n: usize,
        params: &SamplingParams,
        seed: u64,
        meter: &mut ComputeMeter,
    ) -> Result<Vec<Generation>, ModelError> {
        let mut out = self.generate_many(&[GenRequest::new(prompt, n, seed)], params, meter)?;
        Ok(out.pop().unwrap_or_default())
    }

    /// Samples the continuations of several prompts together: the rows of all requests decode
    /// side by side in one batched forward pass per token (at most [`Self::set_max_batch`]
    /// rows at once), whatever their lengths, and a row leaves the batch (freeing its memory)
    /// as soon as it ends.
    ///
    /// Each prompt runs only where no earlier sequence shares its tokens: the longest cached
    /// prefix is continued (see [`super::prefix`]), then the prompt's cache is kept, and so is
    /// each sample that stops at a step delimiter or the token limit (what a step-wise search
    /// continues next). The meter counts prompt tokens run, prompt tokens served by the cache,
    /// and tokens run again at a prefix already run.
    pub fn generate_many(
        &mut self,
        requests: &[GenRequest],
        params: &SamplingParams,
        meter: &mut ComputeMeter,
    ) -> Result<Vec<Vec<Generation>>, ModelError> {
        self.generate_steps(
            requests,
            params,
            &StopAt::default(),
            meter,
            &CancelToken::new(),
        )
    }

    /// [`Self::generate_many`], stopping where `stop` says, and checking `cancel` before every
    /// forward pass: a cancelled call returns [`ModelError::Cancelled`] within one pass.
    pub fn generate_steps(
        &mut self,
        requests: &[GenRequest],
        params: &SamplingParams,
        stop: &StopAt,
        meter: &mut ComputeMeter,
        cancel: &CancelToken,
    ) -> Result<Vec<Vec<Generation>>, ModelError> {
        let group = GenGroup {
            requests,
            stop: stop.clone(),
            scope: 0,
        };
        let mut out = self.generate_groups(&[group], params, &mut [meter], cancel)?;
        Ok(out.pop().unwrap_or_default())
    }

    /// The requests of several searches in one call: each group's rows decode side by side
    /// with the others', and each group stops where its own [`StopAt`] says, reads and fills
    /// its own search's prefix cache ([`GenGroup::scope`]) and charges `meters` at its index,
    /// exactly what the same call alone would have charged. A group's rows are cut into
    /// batches of at most [`Self::set_max_batch`] rows as they would be alone, and its batches
    /// run in order; batches of different groups share forward passes.
    pub fn generate_groups(
        &mut self,
        groups: &[GenGroup],
        params: &SamplingParams,
        meters: &mut [&mut ComputeMeter],
        cancel: &CancelToken,
    ) -> Result<Vec<Vec<Vec<Generation>>>, ModelError> {
        assert_eq!(groups.len(), meters.len(), "one meter per group");
        let context = self.context();
        for r in groups.iter().flat_map(|g| g.requests) {
            if r.prompt.is_empty() || r.prompt.len() >= context {
                return Err(ModelError::TooLong {
                    tokens: r.prompt.len(),
                    context,
                });
            }
        }
        // Every request once, with its group: what rows index.
        let flat: Vec<(usize, &GenRequest)> = groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| group.requests.iter().map(move |r| (g, r)))
            .collect();
        let mut first = 0;
        let mut chunks: Vec<Vec<Vec<(usize, usize)>>> = Vec::with_capacity(groups.len());
        for group in groups {
            let rows: Vec<(usize, usize)> = group
                .requests
                .iter()
                .enumerate()
                .flat_map(|(q, r)| (0..r.n).map(move |i| (first + q, i)))
                .collect();
            first += group.requests.len();
            chunks.push(rows.chunks(self.max_batch).map(<[_]>::to_vec).collect());
        }
        let mut out: Vec<Vec<Generation>> =
            flat.iter().map(|(_, r)| Vec::with_capacity(r.n)).collect();
        // Wave w runs every group's w-th batch, packed into passes of at most max_batch rows.
        let waves = chunks.iter().map(Vec::len).max().unwrap_or(0);
        for w in 0..waves {
            // Chunks of like prompt lengths share passes: rows pad each other's attention up
            // to the longest, and a pass lasts as long as its longest sample.
            let mut wave: Vec<&Vec<(usize, usize)>> =
                chunks.iter().filter_map(|c| c.get(w)).collect();
            let longest = |c: &Vec<(usize, usize)>| {
                c.iter()
                    .map(|&(q, _)| flat[q].1.prompt.len())
                    .max()
                    .unwrap_or(0)
            };
            wave.sort_by_cached_key(|c| longest(c));
            let mut batch: Vec<(usize, usize)> = Vec::new();
            for chunk in wave {
                if !batch.is_empty() && batch.len() + chunk.len() > self.max_batch {
                    let rows = std::mem::take(&mut batch);
                    self.decode_batch(&flat, groups, &rows, params, meters, cancel, &mut out)?;
                }
                batch.extend(chunk);
            }
            if !batch.is_empty() {
                self.decode_batch(&flat, groups, &batch, params, meters, cancel, &mut out)?;
            }
        }
        // Back into groups.
        let mut out = out.into_iter();
        Ok(groups
            .iter()
            .map(|g| out.by_ref().take(g.requests.len()).collect())
            .collect())
    }

    #[allow(clippy::too_many_arguments)]
    fn decode_batch(
        &mut self,
        flat: &[(usize, &GenRequest)],
        groups: &[GenGroup],
        rows: &[(usize, usize)],
        params: &SamplingParams,
        meters: &mut [&mut ComputeMeter],
        cancel: &CancelToken,
        out: &mut [Vec<Generation>],
    ) -> Result<(), ModelError> {
        let gens = self.decode_rows(flat, groups, rows, params, meters, cancel)?;
        for (&(q, _), g) in rows.iter().zip(gens) {
            out[q].push(g);
        }
        Ok(())
    }

    /// Runs `prompt` where the cache does not already hold it: its keys and values, the
    /// logits of the next token, and the hash of the whole prompt.
    fn prefill(
        &mut self,
        prompt: &[u32],
        scope: u64,
        meter: &mut ComputeMeter,
    ) -> Result<(SeqKv, Vec<f32>, u64), ModelError> {
        let hashes: Vec<u64> = prompt
            .iter()
            .scan(0u64, |h, &t| {
                *h = extend_hash(*h, t);
                Some(*h)
            })
            .collect();
        let hit = self.scope(scope).prefixes.lookup(prompt);
        let last_hash = *hashes.last().unwrap_or(&0);
        if let Some(super::prefix::Hit {
            kv,
            logits: Some(logits),
        }) = &hit
        {
            meter.prompt_tokens_cached += prompt.len() as u64;
            return Ok((kv.clone(), logits.clone(), last_hash));
        }
        let empty = SeqKv {
            layers: Vec::new(),
            len: 0,
        };
        // At least the last token runs: its logits are what sampling needs.
        let reuse = hit.as_ref().map_or(0, |h| h.kv.len.min(prompt.len() - 1));
        let start = match &hit {
            Some(h) if reuse > 0 => h.kv.prefix(reuse)?,
            _ => empty,
        };
        let mut kv = self
            .model
            .batch(&[&start], prompt.len() - reuse, &self.device)?;
        let input = Tensor::new(&prompt[reuse..], &self.device)?.unsqueeze(0)?;
        let hidden = self.model.forward(&input, &mut kv)?;
        let t = prompt.len() - reuse;
        let logits: Vec<f32> = self
            .model
            .logits(&hidden.narrow(1, t - 1, 1)?)?
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1()?;
        meter.prompt_tokens += t as u64;
        meter.prompt_tokens_cached += reuse as u64;
        meter.policy_flops += (reuse..prompt.len())
            .map(|c| self.flops(c + 1))
            .sum::<f64>();
        let again = self.scope(scope).seen.record_pass(&hashes[reuse..]) as u64;
        meter.recomputed_tokens += again;
        meter.recomputed_prefix_tokens += again;
        let seq = kv.row(0)?;
        self.scope(scope)
            .prefixes
            .insert(prompt.to_vec(), seq.clone(), Some(logits.clone()));
        Ok((seq, logits, last_hash))
    }

    fn decode_rows(
        &mut self,
        flat: &[(usize, &GenRequest)],
        groups: &[GenGroup],
        rows: &[(usize, usize)],
        params: &SamplingParams,
        meters: &mut [&mut ComputeMeter],
        cancel: &CancelToken,
    ) -> Result<Vec<Generation>, ModelError> {
        let requests: Vec<&GenRequest> = flat.iter().map(|(_, r)| *r).collect();
        let group_of: Vec<usize> = flat.iter().map(|(g, _)| *g).collect();
        let context = self.context();
        // Each prompt once, whatever the number of its rows.
        let mut prefilled: Vec<Option<(SeqKv, Vec<f32>, u64)>> = vec![None; requests.len()];
        for &(q, _) in rows {
            if prefilled[q].is_none() {
                cancel.check()?;
                let g = group_of[q];
                prefilled[q] =
                    Some(self.prefill(requests[q].prompt, groups[g].scope, &mut *meters[g])?);
            }
        }
        // The prompts run, in request order (rows need not be: passes pack groups by length),
        // and where each request's is among them.
        let mut slot_of = vec![usize::MAX; requests.len()];
        let mut next_slot = 0;
        for (q, p) in prefilled.iter().enumerate() {
            if p.is_some() {
                slot_of[q] = next_slot;
                next_slot += 1;
            }
        }
        let prefilled: Vec<(SeqKv, Vec<f32>, u64)> = prefilled.into_iter().flatten().collect();
        let mut state: Vec<RowState> = rows
            .iter()
            .map(|&(q, i)| {
                let mut rng = ChaCha8Rng::seed_from_u64(requests[q].seed);
                rng.set_stream(i as u64);
                let prompt = requests[q].prompt;
                RowState {
                    request: q,
                    rng,
                    // The engine has every distribution it draws from: the evidence is always
                    // there, if empty for a sample that ends at once.
                    gen: Generation {
                        top_logprobs: Some(Vec::new()),
                        uniform_kls: Some(Vec::new()),
                        ..Default::default()
                    },
                    stream: Default::default(),
                    scan: Default::default(),
                    fed: 0,
                    drawn: 0,
                    max_tokens: requests[q]
                        .max_tokens
                        .unwrap_or(params.max_tokens)
                        .min(params.max_tokens)
                        .min(context - prompt.len())
                        .max(1),
                    hash: prefilled[slot_of[q]].2,
                    first_step: None,
                }
            })
            .collect();
        let starts: Vec<&SeqKv> = rows
            .iter()
            .map(|&(q, _)| &prefilled[slot_of[q]].0)
            .collect();
        let mut kv = self.model.batch(&starts, 64, &self.device)?;
        drop(starts);
        // Rows still decoding, in batch order, and the logits each samples from next.
        let mut active: Vec<usize> = (0..rows.len()).collect();
        let mut logits: Vec<Vec<f32>> = rows
            .iter()
            .map(|&(q, _)| prefilled[slot_of[q]].1.clone())
            .collect();
        loop {
            let mut keep = Vec::new();
            let mut next = Vec::new();
            let draws = draw_rows(&active, &logits, &mut state, params);
            for ((slot, &r), draw) in active.iter().enumerate().zip(draws) {
                let row = &mut state[r];
                let prompt = requests[row.request].prompt;
                let g = group_of[row.request];
                let meter = &mut *meters[g];
                let delim = groups[g].stop.delimiter.as_str();
                let max_steps = groups[g].stop.steps.unwrap_or(usize::MAX);
                let tok = draw.token;
                row.drawn += 1;
                meter.generated_tokens += 1;
                cancel.count_tokens(1);
                meter.policy_flops += self.flops(prompt.len() + row.fed + 1);
                let mut finished = row.drawn >= row.max_tokens;
                if !params.ignore_eos && self.tokenizer.is_end(tok) {
                    row.gen.ended = true;
                    finished = true;
                } else {
                    row.gen.tokens.push(tok);
                    row.gen.logprobs.push(draw.logprob);
                    row.gen
                        .top_logprobs
                        .get_or_insert_with(Vec::new)
                        .push(draw.top_logprob);
                    row.gen
                        .uniform_kls
                        .get_or_insert_with(Vec::new)
                        .push(draw.uniform_kl);
                    let changed_from = row.stream.push(&self.tokenizer, tok)?;
                    let found =
                        row.scan
                            .advance(row.stream.text(), changed_from, delim, &mut row.gen);
                    finished |= found && row.gen.step_ends.len() >= max_steps;
                    if found && !finished && row.first_step.is_none() {
                        // A lookahead or a rollout continues past its first step, and a
                        // search goes on from that step next: keep what it samples from.
                        row.first_step = Some((prompt.len() + row.gen.step_ends[0], None));
                    }
                }
                if !finished {
                    keep.push(slot);
                    next.push(tok);
                    continue;
                }
                cancel.sample_ended(|| {
                    self.tokenizer
                        .decode(&row.gen.tokens)
                        .unwrap_or_else(|_| row.stream.text().to_string())
                });
                // A search may continue this sample, or (sequential revisions) write its next
                // attempt after it: keep what it ran. A sample that ended keeps everything
                // but the end token, which it never fed.
                let mut tokens = prompt.to_vec();
                tokens.extend(&row.gen.tokens[..row.fed]);
                let seq = kv.row(slot)?;
                let marks = match row.first_step.take() {
                    Some((len, Some(after))) => vec![(len, after)],
                    _ => Vec::new(),
                };
                self.scope(groups[g].scope).prefixes.insert_marked(
                    tokens,
                    seq,
                    Some(std::mem::take(&mut logits[slot])),
                    marks,
                );
            }
            if keep.is_empty() {
                break;
            }
            cancel.check()?;
            kv.retain(&keep);
            active = keep.iter().map(|&s| active[s]).collect();
            let input = Tensor::from_vec(next.clone(), (active.len(), 1), &self.device)?;
            let hidden = self.model.forward(&input, &mut kv)?;
            logits = self
                .model
                .logits(&hidden)?
                .squeeze(1)?
                .to_dtype(DType::F32)?
                .to_vec2()?;
            // Each group's hashes, in batch order: what it ran again, counted in its scope.
            let mut hashes: Vec<Vec<u64>> = vec![Vec::new(); groups.len()];
            for (slot, (&r, &tok)) in active.iter().zip(&next).enumerate() {
                let row = &mut state[r];
                row.fed += 1;
                row.hash = extend_hash(row.hash, tok);
                hashes[group_of[row.request]].push(row.hash);
                let fed_len = requests[row.request].prompt.len() + row.fed;
                if let Some((len, after @ None)) = &mut row.first_step {
                    if *len == fed_len {
                        *after = Some(logits[slot].clone());
                    }
                }
            }
            for (g, h) in hashes.iter().enumerate().filter(|(_, h)| !h.is_empty()) {
                meters[g].recomputed_tokens +=
                    self.scope(groups[g].scope).seen.record_pass(h) as u64;
            }
        }
        // One full decode per row: the text is exactly what decoding all tokens gives, even
        // where the stream still holds back an unfinished character.
        state
            .into_iter()
            .map(|row| {
                let mut g = row.gen;
                g.text = self.tokenizer.decode(&g.tokens)?;
                Ok(g)
            })
            .collect()
    }
}

/// Each active row's next token, drawn from its logits (`logits[slot]` for the row
/// `active[slot]`) with its own random stream. A row's draw depends only on its logits and its
/// stream, so where the rows' distributions are large (a real vocabulary: a softmax over tens
/// of thousands of logits per row) they are drawn on all threads, not on the calling thread
/// while the others wait.
fn draw_rows(
    active: &[usize],
    logits: &[Vec<f32>],
    state: &mut [RowState],
    params: &SamplingParams,
) -> Vec<Draw> {
    let work = active.len() * logits.first().map_or(0, Vec::len);
    if active.len() < 2
        || work < 1 << 16
        || rayon::current_num_threads() < 2
        || super::qmatmul::alone_here()
    {
        // Small vocabularies (the toy models) draw here: handing them out would cost more.
        return active
            .iter()
            .enumerate()
            .map(|(slot, &r)| sample(&logits[slot], params, &mut state[r].rng))
            .collect();
    }
    // Each active row's stream, once, in batch order.
    let mut rngs: Vec<Option<&mut ChaCha8Rng>> =
        state.iter_mut().map(|s| Some(&mut s.rng)).collect();
    let mine: Vec<(&[f32], &mut ChaCha8Rng)> = active
        .iter()
        .zip(logits)
        .filter_map(|(&r, l)| Some((l.as_slice(), rngs[r].take()?)))
        .collect();
    debug_assert_eq!(mine.len(), active.len(), "active rows are distinct");
    use rayon::prelude::*;
    mine.into_par_iter()
        .map(|(l, rng)| sample(l, params, rng))
        .collect()
}

/// A row of [`CausalLm::decode_rows`] while it decodes.
struct RowState {
    request: usize,
    rng: ChaCha8Rng,
    gen: Generation,
    stream: TextStream,
    scan: StepScan,
    /// Generated tokens run through the model (all but the last drawn).
    fed: usize,
    /// Tokens drawn, the end-of-sequence token included.
    drawn: usize,
    max_tokens: usize,
    /// Hash of the prompt and the tokens fed.
    hash: u64,
    /// Where the sample ran past the end of its first step: that prefix's length (prompt
    /// included) and, once the pass that feeds its last token has run, the logits after it.
    first_step: Option<(usize, Option<Vec<f32>>)>,
}

/// Finds step delimiters in a generation's growing text without rescanning it: a delimiter can
/// only begin in the last `delimiter.len() - 1` bytes already seen, or in the new text.
#[derive(Debug, Clone, Default)]
struct StepScan {
    /// Byte offset from which the text has not been searched.
    from: usize,
}

impl StepScan {
    /// Records in `g.step_ends` every delimiter completed in `text`, which changed from byte
    /// `changed_from` on; returns whether any was found. A token that completes two delimiters
    /// records two step ends with the same token count.
    fn advance(
        &mut self,
        text: &str,
        changed_from: usize,
        delim: &str,
        g: &mut Generation,
    ) -> bool {
        if delim.is_empty() {
            return false;
        }
        let before = g.step_ends.len();
        if changed_from < self.from {
            // The decoder rewrote earlier text (not prefix-stable): count again from the start.
            let mut end = 0;
            for (k, (i, _)) in text.match_indices(delim).enumerate() {
                end = i + delim.len();
                if k >= g.step_ends.len() {
                    g.step_ends.push(g.tokens.len());
                }
            }
            self.from = end;
        }
        while let Some(i) = text.get(self.from..).and_then(|rest| rest.find(delim)) {
            g.step_ends.push(g.tokens.len());
            self.from += i + delim.len();
        }
        let mut keep = text.len().saturating_sub(delim.len() - 1).max(self.from);
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        self.from = keep;
        g.step_ends.len() > before
    }
}

impl CausalLm {
    /// Final hidden states `(len, hidden)` of one sequence run from the start on a cache of its
    /// own (scoring: the prefix cache is neither read nor filled).
    fn hidden_of(&self, ids: &[u32]) -> Result<Tensor, ModelError> {
        let mut kv = self.model.empty_kv(1, ids.len(), &self.device)?;
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        Ok(self.model.forward(&input, &mut kv)?.squeeze(0)?)
    }

    /// Logits of the next token after `ids` (one sequence), for tests and scoring.
    pub fn last_logits(&mut self, ids: &[u32]) -> Result<Tensor, ModelError> {
        let hidden = self.hidden_of(ids)?;
        Ok(self
            .model
            .logits(&hidden.narrow(0, ids.len() - 1, 1)?)?
            .squeeze(0)?
            .to_dtype(DType::F32)?)
    }

    /// Teacher-forced log-probabilities: entry `i` is `log p(ids[i + 1] | ids[..=i])`, so the
    /// result has `ids.len() - 1` entries. One forward pass over the whole sequence; the head
    /// and the softmax run over slices of positions. Its tokens are added to the meter as
    /// verifier tokens (this is scoring, not generation).
    pub fn token_logprobs(
        &mut self,
        ids: &[u32],
        meter: &mut ComputeMeter,
    ) -> Result<Vec<f32>, ModelError> {
        let context = self.context();
        if ids.len() < 2 || ids.len() > context {
            return Err(ModelError::TooLong {
                tokens: ids.len(),
                context,
            });
        }
        let hidden = self.hidden_of(ids)?;
        let n = ids.len() - 1;
        let mut picked = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let len = SCORE_CHUNK.min(n - start);
            let logits = self.model.logits(&hidden.narrow(0, start, len)?)?;
            let logp = candle_nn::ops::log_softmax(&logits.to_dtype(DType::F32)?, 1)?;
            let targets =
                Tensor::new(&ids[start + 1..start + 1 + len], &self.device)?.unsqueeze(1)?;
            picked.extend(logp.gather(&targets, 1)?.squeeze(1)?.to_vec1::<f32>()?);
            start += len;
        }
        meter.verifier_tokens += ids.len() as u64;
        meter.verifier_flops += (0..ids.len()).map(|c| self.flops(c + 1)).sum::<f64>();
        Ok(picked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::default_policy_dir;
    use rand::{Rng, RngCore};

    /// Rows drawn side by side (a vocabulary large enough to share out) draw what each row's
    /// own stream draws alone, row for row, whichever rows are still active.
    #[test]
    fn rows_drawn_on_all_threads_draw_what_each_draws_alone() {
        let vocab = 20_000;
        let mut noise = ChaCha8Rng::seed_from_u64(7);
        let row = |i: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(3);
            rng.set_stream(i);
            RowState {
                request: 0,
                rng,
                gen: Generation::default(),
                stream: Default::default(),
                scan: Default::default(),
                fed: 0,
                drawn: 0,
                max_tokens: 8,
                hash: 0,
                first_step: None,
            }
        };
        let params = SamplingParams::default();
        let mut state: Vec<RowState> = (0..6).map(row).collect();
        let mut alone: Vec<ChaCha8Rng> = state.iter().map(|s| s.rng.clone()).collect();
        for active in [vec![0, 1, 2, 3, 4, 5], vec![1, 3, 4], vec![5]] {
            let logits: Vec<Vec<f32>> = active
                .iter()
                .map(|_| (0..vocab).map(|_| noise.random_range(-8.0..8.0)).collect())
                .collect();
            let drawn = draw_rows(&active, &logits, &mut state, &params);
            let want: Vec<Draw> = active
                .iter()
                .zip(&logits)
                .map(|(&r, l)| sample(l, &params, &mut alone[r]))
                .collect();
            assert_eq!(drawn, want, "rows {active:?}");
        }
        for (s, a) in state.iter_mut().zip(&mut alone) {
            assert_eq!(s.rng.next_u64(), a.next_u64());
        }
    }

    fn toy() -> CausalLm {
        CausalLm::load(&default_policy_dir(), &Device::Cpu).unwrap()
    }

    fn toy_prompt_ids(lm: &CausalLm, question: &str) -> Vec<u32> {
        let mut ids = vec![lm.tokenizer.eos_id];
        ids.extend(lm.tokenizer.encode(&format!("{question}\n")).unwrap());
        ids
    }

    /// Tokens and step ends of the toy policy on a fixed prompt and seed, recorded with the
    /// engine as it was before decoding became incremental (it decoded every row's whole text
    /// after each token): the incremental decoder must not change a single token.
    #[test]
    fn incremental_decoding_keeps_the_recorded_tokens() {
        let mut lm = toy();
        let ids = toy_prompt_ids(&lm, "(3+4)*12-5");
        let params = SamplingParams {
            max_tokens: 40,
            ..Default::default()
        };
        let gens = lm
            .generate(&ids, 3, &params, 7, &mut ComputeMeter::default())
            .unwrap();
        let recorded: [(&[u32], &str); 3] = [
            (
                &[
                    5, 12, 6, 17, 9, 18, 19, 9, 14, 3, 4, 13, 7, 20, 9, 14, 3, 4, 17, 11, 6, 18,
                    19, 11, 6, 13, 7, 20, 11, 6, 13, 7, 17, 10, 11, 18, 19, 10, 11, 20,
                ],
                "3+4=7: 7*12-5\n7*12=94: 94-5\n94-5=89: 89\n",
            ),
            (
                &[
                    5, 12, 6, 17, 9, 18, 19, 9, 14, 3, 4, 13, 7, 20, 9, 14, 3, 4, 17, 10, 6, 18,
                    19, 10, 6, 13, 7, 20, 10, 6, 13, 7, 17, 9, 11, 18, 19, 9, 11, 20,
                ],
                "3+4=7: 7*12-5\n7*12=84: 84-5\n84-5=79: 79\n",
            ),
            (
                &[
                    5, 12, 6, 17, 9, 18, 19, 9, 14, 3, 4, 13, 7, 20, 9, 14, 3, 4, 17, 10, 6, 18,
                    19, 10, 6, 13, 7, 20, 10, 6, 13, 7, 17, 9, 11, 18, 19, 9, 11, 20,
                ],
                "3+4=7: 7*12-5\n7*12=84: 84-5\n84-5=79: 79\n",
            ),
        ];
        assert_eq!(gens.len(), recorded.len());
        for (g, (tokens, text)) in gens.iter().zip(recorded) {
            assert_eq!(g.tokens, tokens);
            assert_eq!(g.text, text);
            assert_eq!(g.step_ends, [14, 28, 40]);
        }
        // Stopping at the first step stops on the same token.
        let first = lm
            .generate_steps(
                &[GenRequest::new(&ids, 3, 7)],
                &params,
                &StopAt::steps("\n", 1),
                &mut ComputeMeter::default(),
                &CancelToken::new(),
            )
            .unwrap()
            .remove(0);
        assert_eq!(first.len(), recorded.len());
        for (g, (tokens, _)) in first.iter().zip(recorded) {
            assert_eq!(g.tokens, tokens[..14]);
            assert_eq!(g.step_ends, [14]);
        }
    }

    /// The evidence beside each token: the most likely token's log-probability is at least the
    /// written one's, equal to it under greedy sampling, and the divergence from uniform is
    /// finite and positive (a trained model is far from uniform).
    #[test]
    fn each_token_comes_with_the_top_log_probability_and_the_divergence_from_uniform() {
        let mut lm = toy();
        let ids = toy_prompt_ids(&lm, "(3+4)*12-5");
        for temperature in [1.0, 0.0] {
            let params = SamplingParams {
                temperature,
                max_tokens: 40,
                ..Default::default()
            };
            let gens = lm
                .generate(&ids, 3, &params, 7, &mut ComputeMeter::default())
                .unwrap();
            let mut strayed = false;
            for g in &gens {
                let top = g.top_logprobs.as_ref().unwrap();
                let kl = g.uniform_kls.as_ref().unwrap();
                assert_eq!((top.len(), kl.len()), (g.tokens.len(), g.tokens.len()));
                for ((&lp, &t), &k) in g.logprobs.iter().zip(top).zip(kl) {
                    assert!(t >= lp, "{t} < {lp}");
                    assert!(k.is_finite() && k > 0.0, "{k}");
                    if temperature == 0.0 {
                        assert_eq!(t, lp);
                    }
                    strayed |= t > lp;
                }
            }
            // At T = 1 some sample somewhere left the argmax (the recorded samples above do).
            assert_eq!(strayed, temperature > 0.0);
        }
    }

    /// A watcher of the cancel token gets each sample's text as it ends, the same texts the
    /// call returns; nobody watching, nothing is kept.
    #[test]
    fn a_watched_token_hands_over_each_sample_as_it_ends() {
        let mut lm = toy();
        let ids = toy_prompt_ids(&lm, "(3+4)*12-5");
        let params = SamplingParams {
            max_tokens: 60,
            ..Default::default()
        };
        let token = CancelToken::new();
        token.watch_samples();
        let gens = lm
            .generate_steps(
                &[GenRequest::new(&ids, 4, 7)],
                &params,
                &StopAt::default(),
                &mut ComputeMeter::default(),
                &token,
            )
            .unwrap()
            .remove(0);
        let mut ended = token.take_ended();
        let mut texts: Vec<String> = gens.iter().map(|g| g.text.clone()).collect();
        ended.sort();
        texts.sort();
        assert_eq!(ended, texts);
        assert!(token.take_ended().is_empty(), "taken once");
        let quiet = CancelToken::new();
        lm.generate_steps(
            &[GenRequest::new(&ids, 2, 7)],
            &params,
            &StopAt::default(),
            &mut ComputeMeter::default(),
            &quiet,
        )
        .unwrap();
        assert!(quiet.take_ended().is_empty());
    }

    /// A beam search scripted at the token level: expand the prompt, keep two of its steps,
    /// expand each (rows of different lengths decode together), keep one child of each and
    /// expand again. Every prefix runs exactly once, and every expansion gives the tokens it
    /// gives alone on a fresh engine.
    #[test]
    fn beam_expansion_never_recomputes_a_prefix() {
        let mut lm = toy();
        let prompt = toy_prompt_ids(&lm, "(3+4)*12-5");
        let params = SamplingParams {
            max_tokens: 30,
            ..Default::default()
        };
        let one_step = StopAt::steps("\n", 1);
        let mut meter = ComputeMeter::default();
        // Two problems searched side by side: prompts of different lengths from the start.
        let other = toy_prompt_ids(&lm, "17+25*2");
        assert_ne!(other.len(), prompt.len());
        let mut beams: Vec<Vec<u32>> = vec![prompt.clone(), other.clone()];
        let mut runs = Vec::new();
        let mut expected_run = 0;
        for round in 0..3 {
            let requests: Vec<GenRequest> = beams
                .iter()
                .enumerate()
                .map(|(b, p)| GenRequest::new(p, 3, 10 * round + b as u64))
                .collect();
            // A new beam's last token was drawn but never run: that one token is new.
            expected_run += if round == 0 {
                // The two prompts share their first token(s): those run once.
                let shared = prompt
                    .iter()
                    .zip(&other)
                    .take_while(|(a, b)| a == b)
                    .count();
                prompt.len() + other.len() - shared
            } else {
                beams.len()
            };
            let out = lm
                .generate_steps(
                    &requests,
                    &params,
                    &one_step,
                    &mut meter,
                    &CancelToken::new(),
                )
                .unwrap();
            assert_eq!(meter.recomputed_tokens, 0, "round {round}");
            assert_eq!(meter.prompt_tokens as usize, expected_run, "round {round}");
            runs.push((
                requests
                    .iter()
                    .map(|r| (r.prompt.to_vec(), r.seed))
                    .collect::<Vec<_>>(),
                out.clone(),
            ));
            // Keep the first distinct sample that did not end, of each problem.
            let mut next: Vec<Vec<u32>> = Vec::new();
            assert_eq!(out.len(), beams.len(), "round {round}");
            for (p, gens) in beams.iter().zip(&out) {
                for g in gens.iter().filter(|g| !g.ended) {
                    let mut b = p.clone();
                    b.extend(&g.tokens);
                    if !next.iter().any(|n| n[..4] == b[..4]) {
                        next.push(b);
                    }
                }
            }
            assert!(!next.is_empty(), "round {round}: every sample ended");
            beams = next;
        }
        for (requests, _) in &runs {
            assert!(requests.len() == 2 && requests[0].0.len() != requests[1].0.len());
        }
        // Each expansion alone, from scratch, one row at a time.
        for (requests, out) in runs {
            assert_eq!(out.len(), requests.len());
            for ((p, seed), gens) in requests.iter().zip(out) {
                let mut alone = toy();
                alone.set_max_batch(1);
                let mut m = ComputeMeter::default();
                let solo = alone
                    .generate_steps(
                        &[GenRequest::new(p, 3, *seed)],
                        &params,
                        &one_step,
                        &mut m,
                        &CancelToken::new(),
                    )
                    .unwrap()
                    .remove(0);
                assert_eq!(m.prompt_tokens as usize, p.len());
                assert_eq!(solo.len(), gens.len());
                for (a, b) in solo.iter().zip(&gens) {
                    assert_eq!(a.tokens, b.tokens);
                    assert_eq!(a.step_ends, b.step_ends);
                }
            }
        }
    }

    /// Two searches' calls, in two steps each (a step, then the rest from it), run alone and
    /// then together in shared calls: the same samples, and each search charged exactly what it
    /// was charged alone.
    #[test]
    fn searches_sharing_calls_get_their_own_samples_stops_caches_and_meters() {
        let params = SamplingParams {
            max_tokens: 40,
            ..Default::default()
        };
        let mut lm = toy();
        // Two searches of one problem (two settings of a sweep, say): A takes a step from the
        // question, B two (its rows cut into batches of 5). Neither may read what the other ran.
        let a = toy_prompt_ids(&lm, "(3+4)*12-5");
        let b = a.clone();
        let stops = [StopAt::steps("\n", 1), StopAt::steps("\n", 2)];
        lm.set_max_batch(5);
        // Alone: each search's two calls back to back on an empty cache.
        let mut alone_first = Vec::new();
        let mut alone_second = Vec::new();
        let mut alone_meters = Vec::new();
        for (g, stop) in stops.iter().enumerate() {
            lm.clear_prefix_cache();
            let p = if g == 0 { &a } else { &b };
            let mut m = ComputeMeter::default();
            let req = [GenRequest::new(p, if g == 0 { 3 } else { 7 }, g as u64 + 1)];
            let f = lm
                .generate_steps(&req, &params, stop, &mut m, &CancelToken::new())
                .unwrap();
            let mut ids = p.clone();
            ids.extend(&f[0][0].tokens);
            let req2 = [GenRequest::new(&ids, 2, g as u64 + 3)];
            let end = StopAt::end("\n");
            let s2 = lm
                .generate_steps(&req2, &params, &end, &mut m, &CancelToken::new())
                .unwrap();
            alone_first.push(f);
            alone_second.push(s2);
            alone_meters.push(m);
        }
        // Together: both searches' calls shared, each search in its own scope.
        lm.clear_prefix_cache();
        let mut meters = [ComputeMeter::default(), ComputeMeter::default()];
        let reqs = [[GenRequest::new(&a, 3, 1)], [GenRequest::new(&b, 7, 2)]];
        let groups: Vec<GenGroup> = (0..2)
            .map(|g| GenGroup {
                requests: &reqs[g],
                stop: stops[g].clone(),
                scope: g as u64 + 1,
            })
            .collect();
        let [ma, mb] = &mut meters;
        let first = lm
            .generate_groups(&groups, &params, &mut [ma, mb], &CancelToken::new())
            .unwrap();
        let cont: Vec<Vec<u32>> = [&a, &b]
            .iter()
            .zip(&first)
            .map(|(p, f)| {
                let mut ids = (*p).clone();
                ids.extend(&f[0][0].tokens);
                ids
            })
            .collect();
        let reqs2 = [
            [GenRequest::new(&cont[0], 2, 3)],
            [GenRequest::new(&cont[1], 2, 4)],
        ];
        let groups: Vec<GenGroup> = (0..2)
            .map(|g| GenGroup {
                requests: &reqs2[g],
                stop: StopAt::end("\n"),
                scope: g as u64 + 1,
            })
            .collect();
        let [ma, mb] = &mut meters;
        let second = lm
            .generate_groups(&groups, &params, &mut [ma, mb], &CancelToken::new())
            .unwrap();
        // Tokens, step ends and whether each ended, flattened in order.
        let tokens = |x: &Vec<Vec<Vec<Generation>>>| -> Vec<(Vec<u32>, Vec<usize>, bool)> {
            x.iter()
                .flatten()
                .flatten()
                .map(|s| (s.tokens.clone(), s.step_ends.clone(), s.ended))
                .collect()
        };
        assert_eq!(tokens(&first), tokens(&alone_first));
        assert_eq!(tokens(&second), tokens(&alone_second));
        // A took one step, B two (where the model did not end first).
        assert!(first[0][0].iter().all(|s| s.step_ends.len() <= 1));
        assert!(first[1][0].iter().any(|s| s.step_ends.len() == 2));
        for g in 0..2 {
            let (m, want) = (&meters[g], &alone_meters[g]);
            assert_eq!(
                (
                    m.prompt_tokens,
                    m.prompt_tokens_cached,
                    m.generated_tokens,
                    m.recomputed_tokens,
                    m.recomputed_prefix_tokens
                ),
                (
                    want.prompt_tokens,
                    want.prompt_tokens_cached,
                    want.generated_tokens,
                    want.recomputed_tokens,
                    want.recomputed_prefix_tokens
                ),
                "search {g}"
            );
            assert!((m.policy_flops - want.policy_flops).abs() <= 1e-6 * want.policy_flops);
            // The second call continued from the cache: its prompt was not run again.
            assert!(m.prompt_tokens_cached > 0, "search {g}");
        }
    }

    /// Groups whose prompts are packed into one pass out of request order (the shorter
    /// first) still continue their own prompts.
    #[test]
    fn groups_packed_out_of_order_continue_their_own_prompts() {
        let params = SamplingParams {
            max_tokens: 30,
            ..Default::default()
        };
        let mut lm = toy();
        let long = toy_prompt_ids(&lm, "(18*4+14-30)+12*14");
        let short = toy_prompt_ids(&lm, "8*11");
        assert!(long.len() > short.len());
        let stop = StopAt::steps("\n", 1);
        let alone: Vec<Vec<Vec<u32>>> = [(&long, 5u64), (&short, 6)]
            .iter()
            .map(|(p, seed)| {
                lm.clear_prefix_cache();
                let req = [GenRequest::new(p, 3, *seed)];
                let g = lm
                    .generate_steps(
                        &req,
                        &params,
                        &stop,
                        &mut ComputeMeter::default(),
                        &CancelToken::new(),
                    )
                    .unwrap();
                g[0].iter().map(|s| s.tokens.clone()).collect()
            })
            .collect();
        lm.clear_prefix_cache();
        let reqs = [
            [GenRequest::new(&long, 3, 5)],
            [GenRequest::new(&short, 3, 6)],
        ];
        let groups: Vec<GenGroup> = (0..2)
            .map(|g| GenGroup {
                requests: &reqs[g],
                stop: stop.clone(),
                scope: g as u64 + 1,
            })
            .collect();
        let (mut ma, mut mb) = (ComputeMeter::default(), ComputeMeter::default());
        let together = lm
            .generate_groups(
                &groups,
                &params,
                &mut [&mut ma, &mut mb],
                &CancelToken::new(),
            )
            .unwrap();
        let together: Vec<Vec<Vec<u32>>> = together
            .iter()
            .map(|g| g[0].iter().map(|s| s.tokens.clone()).collect())
            .collect();
        assert_eq!(together, alone);
    }

    #[test]
    fn a_prompt_asked_again_runs_no_token() {
        let mut lm = toy();
        let prompt = toy_prompt_ids(&lm, "12*3");
        let params = SamplingParams {
            max_tokens: 8,
            ..Default::default()
        };
        let mut first = ComputeMeter::default();
        let a = lm.generate(&prompt, 2, &params, 1, &mut first).unwrap();
        assert_eq!(first.prompt_tokens as usize, prompt.len());
        assert_eq!(first.prompt_tokens_cached, 0);
        let mut again = ComputeMeter::default();
        let b = lm.generate(&prompt, 2, &params, 1, &mut again).unwrap();
        assert_eq!(a, b);
        assert_eq!(again.prompt_tokens, 0);
        assert_eq!(again.prompt_tokens_cached as usize, prompt.len());
        // Without a cache the prompt runs again, and the counter says so.
        lm.set_prefix_cache_bytes(0);
        let mut off = ComputeMeter::default();
        let c = lm.generate(&prompt, 2, &params, 1, &mut off).unwrap();
        assert_eq!(a, c);
        // Everything ran before: the prompt, and every drawn token but each row's last.
        assert_eq!(off.prompt_tokens as usize, prompt.len());
        assert_eq!(
            off.recomputed_tokens,
            off.prompt_tokens + off.generated_tokens - 2
        );
    }

    #[test]
    fn step_scan_finds_delimiters_across_and_within_tokens() {
        let delim = "\n\n";
        let mut g = Generation {
            text: String::new(),
            tokens: Vec::new(),
            logprobs: Vec::new(),
            top_logprobs: None,
            uniform_kls: None,
            ended: false,
            step_ends: Vec::new(),
        };
        let mut scan = StepScan::default();
        let mut text = String::new();
        // Pieces as tokens would add them: a delimiter split over two tokens, then a token
        // holding two whole delimiters, then multi-byte characters.
        for piece in ["a", "\n", "\nb", "\n\n\n\n", "é", "ü\n", "\n"] {
            let from = text.len();
            text.push_str(piece);
            g.tokens.push(0);
            scan.advance(&text, from, delim, &mut g);
        }
        assert_eq!(g.step_ends, [3, 4, 4, 7]);
        assert_eq!(text.matches(delim).count(), g.step_ends.len());
    }
}
