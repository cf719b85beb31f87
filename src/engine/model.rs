//! Causal language models in Hugging Face layout (`config.json`, `model.safetensors`,
//! `tokenizer.json`), served by candle-transformers' own Qwen2 implementation so that the toy
//! models and real Qwen2-family checkpoints take the same code path.

use super::meter::{flops_per_token, ComputeMeter};
use super::sample::{sample, SamplingParams};
use super::tokenizer::{TextStream, TextTokenizer, TokenizerError};
use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use candle_transformers::models::qwen2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

/// Most sequences run together in one batched forward pass.
pub const MAX_BATCH: usize = 64;

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
    #[error("{path}: unsupported architecture '{arch}' (supported: qwen2)")]
    Unsupported { path: String, arch: String },
    /// Tokenizer trouble.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// The prompt does not fit the model's context.
    #[error("prompt of {tokens} tokens does not fit the context of {context} tokens")]
    TooLong { tokens: usize, context: usize },
    /// A tensor operation failed.
    #[error("inference failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// One sampled continuation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// The generated text (special tokens removed).
    pub text: String,
    /// The generated token ids.
    pub tokens: Vec<u32>,
    /// Log-probability of each generated token under the model.
    pub logprobs: Vec<f32>,
    /// Whether the model ended the sequence (end-of-sequence token) rather than a stop string
    /// or the token limit.
    pub ended: bool,
    /// For each step delimiter in `text`, the number of tokens up to and including it.
    pub step_ends: Vec<usize>,
}

/// A loaded causal language model with its tokenizer.
pub struct CausalLm {
    /// Where it was loaded from.
    pub dir: PathBuf,
    /// The parsed configuration.
    pub config: qwen2::Config,
    /// The tokenizer.
    pub tokenizer: TextTokenizer,
    /// Number of parameters.
    pub params: u64,
    model: qwen2::Model,
    lm_head: Linear,
    device: Device,
}

impl std::fmt::Debug for CausalLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CausalLm")
            .field("dir", &self.dir)
            .field("params", &self.params)
            .finish()
    }
}

fn read_json(path: &Path) -> Result<serde_json::Value, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ModelError::Missing {
            path: path.display().to_string(),
            what: "a model directory holds config.json, model.safetensors and tokenizer.json",
        },
        _ => ModelError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        },
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::Invalid {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads and checks a Qwen2 `config.json`.
pub fn read_config(dir: &Path) -> Result<(qwen2::Config, serde_json::Value), ModelError> {
    let path = dir.join("config.json");
    let raw = read_json(&path)?;
    let arch = raw
        .get("model_type")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ModelError::Invalid {
            path: path.display().to_string(),
            reason: "missing field `model_type`".into(),
        })?;
    if arch != "qwen2" {
        return Err(ModelError::Unsupported {
            path: path.display().to_string(),
            arch: arch.into(),
        });
    }
    let config: qwen2::Config =
        serde_json::from_value(raw.clone()).map_err(|e| ModelError::Invalid {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    if config.hidden_size == 0
        || config.num_attention_heads == 0
        || config.num_key_value_heads == 0
        || !config
            .hidden_size
            .is_multiple_of(config.num_attention_heads)
        || !config
            .num_attention_heads
            .is_multiple_of(config.num_key_value_heads)
    {
        return Err(ModelError::Invalid {
            path: path.display().to_string(),
            reason: "hidden_size, num_attention_heads and num_key_value_heads do not divide".into(),
        });
    }
    Ok((config, raw))
}

impl CausalLm {
    /// Loads a model directory onto `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self, ModelError> {
        if !dir.is_dir() {
            return Err(ModelError::Missing {
                path: dir.display().to_string(),
                what: "not a directory; a model directory holds config.json, model.safetensors and tokenizer.json",
            });
        }
        let (config, raw) = read_config(dir)?;
        let id = |key: &str| raw.get(key).and_then(|v| v.as_u64()).map(|v| v as u32);
        let eos_id = id("eos_token_id").ok_or_else(|| ModelError::Invalid {
            path: dir.join("config.json").display().to_string(),
            reason: "missing field `eos_token_id`".into(),
        })?;
        let tokenizer =
            TextTokenizer::load_with_ids(&dir.join("tokenizer.json"), eos_id, id("bos_token_id"))?;
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(ModelError::Invalid {
                path: dir.join("tokenizer.json").display().to_string(),
                reason: format!(
                    "vocabulary of {} tokens does not match the model's {}",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            });
        }
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(ModelError::Missing {
                path: weights.display().to_string(),
                what: "the weights",
            });
        }
        let tensors =
            candle_core::safetensors::load(&weights, device).map_err(|e| ModelError::Invalid {
                path: weights.display().to_string(),
                reason: format!("not a readable safetensors file: {e}"),
            })?;
        let params = tensors.values().map(|t| t.elem_count() as u64).sum();
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        let unfit = |e: candle_core::Error| ModelError::Invalid {
            path: weights.display().to_string(),
            reason: format!("weights do not fit config.json: {e}"),
        };
        let model = qwen2::Model::new(&config, vb.clone()).map_err(unfit)?;
        // As candle-transformers' ModelForCausalLM: a separate head, else tied embeddings.
        let lm_head = if vb.contains_tensor("lm_head.weight") {
            candle_nn::linear_no_bias(config.hidden_size, config.vocab_size, vb.pp("lm_head"))
                .map_err(unfit)?
        } else {
            let embed = vb
                .pp("model.embed_tokens")
                .get((config.vocab_size, config.hidden_size), "weight")
                .map_err(unfit)?;
            Linear::new(embed, None)
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            tokenizer,
            params,
            model,
            lm_head,
            device: device.clone(),
        })
    }

    /// Context length in tokens.
    pub fn context(&self) -> usize {
        self.config
            .max_position_embeddings
            .min(self.config.sliding_window.max(1))
    }

    fn flops(&self, context: usize) -> f64 {
        flops_per_token(
            self.params,
            self.config.num_hidden_layers,
            self.config.hidden_size,
            context,
        )
    }

    /// Samples `n` continuations of `prompt` (token ids, special tokens included). Sequence `i`
    /// draws from its own generator seeded by `(seed, i)`, so its tokens do not depend on how
    /// the `n` sequences are batched. The prompt runs through the model once per batch row.
    pub fn generate(
        &mut self,
        prompt: &[u32],
        n: usize,
        params: &SamplingParams,
        seed: u64,
        meter: &mut ComputeMeter,
    ) -> Result<Vec<Generation>, ModelError> {
        let context = self.context();
        if prompt.is_empty() || prompt.len() >= context {
            return Err(ModelError::TooLong {
                tokens: prompt.len(),
                context,
            });
        }
        let max_tokens = params.max_tokens.min(context - prompt.len());
        let mut out = Vec::with_capacity(n);
        let mut start = 0;
        while start < n {
            let rows = (n - start).min(MAX_BATCH);
            out.extend(self.generate_batch(prompt, start, rows, max_tokens, params, seed, meter)?);
            start += rows;
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn generate_batch(
        &mut self,
        prompt: &[u32],
        first_row: usize,
        rows: usize,
        max_tokens: usize,
        params: &SamplingParams,
        seed: u64,
        meter: &mut ComputeMeter,
    ) -> Result<Vec<Generation>, ModelError> {
        let mut rngs: Vec<ChaCha8Rng> = (0..rows)
            .map(|r| {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                rng.set_stream((first_row + r) as u64);
                rng
            })
            .collect();
        let mut gens: Vec<Generation> = (0..rows)
            .map(|_| Generation {
                text: String::new(),
                tokens: Vec::new(),
                logprobs: Vec::new(),
                ended: false,
                step_ends: Vec::new(),
            })
            .collect();
        let mut streams: Vec<(TextStream, StepScan)> = vec![Default::default(); rows];
        let mut done = vec![false; rows];
        self.model.clear_kv_cache();
        let ids: Vec<u32> = (0..rows).flat_map(|_| prompt.iter().copied()).collect();
        let input = Tensor::from_vec(ids, (rows, prompt.len()), &self.device)?;
        let mut logits = self.next_logits(&input, 0)?;
        meter.prompt_tokens += (rows * prompt.len()) as u64;
        meter.flops += (0..prompt.len()).map(|c| self.flops(c + 1)).sum::<f64>() * rows as f64;
        let eos = self.tokenizer.eos_id;
        let delim = params.step_delimiter.as_str();
        for t in 0..max_tokens {
            let rows_logits: Vec<Vec<f32>> = logits.squeeze(1)?.to_dtype(DType::F32)?.to_vec2()?;
            let mut next = vec![eos; rows];
            for r in 0..rows {
                if done[r] {
                    continue;
                }
                let (tok, lp) = sample(&rows_logits[r], params, &mut rngs[r]);
                next[r] = tok;
                meter.generated_tokens += 1;
                meter.flops += self.flops(prompt.len() + t + 1);
                let g = &mut gens[r];
                if tok == eos {
                    g.ended = true;
                    done[r] = true;
                    continue;
                }
                g.tokens.push(tok);
                g.logprobs.push(lp);
                let (stream, scan) = &mut streams[r];
                let changed_from = stream.push(&self.tokenizer, tok)?;
                let found = scan.advance(stream.text(), changed_from, delim, g);
                if found && params.stop_at_step {
                    done[r] = true;
                }
            }
            if done.iter().all(|&d| d) || t + 1 == max_tokens {
                break;
            }
            let input = Tensor::from_vec(next, (rows, 1), &self.device)?;
            logits = self.next_logits(&input, prompt.len() + t)?;
        }
        // One full decode per row: the text is exactly what decoding all tokens gives, even
        // where the stream still holds back an unfinished character.
        for g in &mut gens {
            g.text = self.tokenizer.decode(&g.tokens)?;
        }
        self.model.clear_kv_cache();
        Ok(gens)
    }
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
    /// Logits `(batch, 1, vocab)` of the token after the last of `input` `(batch, time)`,
    /// continuing the KV cache at position `offset`.
    fn next_logits(&mut self, input: &Tensor, offset: usize) -> Result<Tensor, ModelError> {
        let t = input.dim(1)?;
        let hidden = self.model.forward(input, offset, None)?;
        Ok(self.lm_head.forward(&hidden.narrow(1, t - 1, 1)?)?)
    }

    /// Logits of the next token after `ids` (one sequence), for tests and scoring.
    pub fn last_logits(&mut self, ids: &[u32]) -> Result<Tensor, ModelError> {
        self.model.clear_kv_cache();
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let logits = self.next_logits(&input, 0);
        self.model.clear_kv_cache();
        Ok(logits?.squeeze(0)?.squeeze(0)?)
    }

    /// Teacher-forced log-probabilities: entry `i` is `log p(ids[i + 1] | ids[..=i])`, so the
    /// result has `ids.len() - 1` entries. One forward pass over the whole sequence; its tokens
    /// are added to the meter as verifier tokens (this is scoring, not generation).
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
        self.model.clear_kv_cache();
        let input = Tensor::new(ids, &self.device)?.unsqueeze(0)?;
        let hidden = self.model.forward(&input, 0, None);
        self.model.clear_kv_cache();
        let logits = self.lm_head.forward(&hidden?.squeeze(0)?)?;
        let logp = candle_nn::ops::log_softmax(&logits.to_dtype(DType::F32)?, 1)?;
        let targets = Tensor::new(&ids[1..], &self.device)?.unsqueeze(1)?;
        let picked = logp
            .narrow(0, 0, ids.len() - 1)?
            .gather(&targets, 1)?
            .squeeze(1)?
            .to_vec1::<f32>()?;
        meter.verifier_tokens += ids.len() as u64;
        meter.flops += (0..ids.len()).map(|c| self.flops(c + 1)).sum::<f64>();
        Ok(picked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::default_policy_dir;

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
        for (g, (tokens, text)) in gens.iter().zip(recorded) {
            assert_eq!(g.tokens, tokens);
            assert_eq!(g.text, text);
            assert_eq!(g.step_ends, [14, 28, 40]);
        }
        // Stopping at the first step stops on the same token.
        let first = lm
            .generate(
                &ids,
                3,
                &SamplingParams {
                    stop_at_step: true,
                    ..params
                },
                7,
                &mut ComputeMeter::default(),
            )
            .unwrap();
        for (g, (tokens, _)) in first.iter().zip(recorded) {
            assert_eq!(g.tokens, tokens[..14]);
            assert_eq!(g.step_ends, [14]);
        }
    }

    #[test]
    fn step_scan_finds_delimiters_across_and_within_tokens() {
        let delim = "\n\n";
        let mut g = Generation {
            text: String::new(),
            tokens: Vec::new(),
            logprobs: Vec::new(),
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
