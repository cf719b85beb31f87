//! The files of a checkpoint directory: `config.json`, the safetensors weights (one
//! `model.safetensors`, or shards listed by `model.safetensors.index.json`), `tokenizer.json`
//! and the optional `tokenizer_config.json`. Opening reads only `config.json` and the
//! safetensors headers, so detection is cheap and a corrupt file is named before any weights
//! are read.

use super::{PrmError, PrmFormat};
use crate::engine::hf;
use candle_core::{Device, Tensor};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

/// An opened checkpoint directory.
pub(super) struct Checkpoint {
    /// The directory.
    pub dir: PathBuf,
    /// `config.json`, parsed.
    pub config: Value,
    /// Shape of every tensor, from the safetensors headers.
    shapes: BTreeMap<String, Vec<usize>>,
    /// The safetensors files.
    shards: Vec<PathBuf>,
}

fn show(path: &Path) -> String {
    path.display().to_string()
}

fn invalid(path: &Path, reason: impl Into<String>) -> PrmError {
    PrmError::Invalid {
        path: show(path),
        reason: reason.into(),
    }
}

fn read_text(path: &Path, what: &str) -> Result<String, PrmError> {
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PrmError::Missing {
            path: show(path),
            what: what.into(),
        },
        _ => invalid(path, e.to_string()),
    })
}

fn read_json(path: &Path, what: &str) -> Result<Value, PrmError> {
    serde_json::from_str(&read_text(path, what)?).map_err(|e| invalid(path, e.to_string()))
}

impl Checkpoint {
    /// Reads `config.json` and the safetensors headers of `dir`.
    pub fn open(dir: &Path) -> Result<Self, PrmError> {
        let config = read_json(
            &dir.join("config.json"),
            "a PRM directory holds config.json, model.safetensors (or model.safetensors.index.json and its shards) and tokenizer.json",
        )?;
        if !config.is_object() {
            return Err(invalid(&dir.join("config.json"), "not a JSON object"));
        }
        // The same shard discovery and checked header reading as the policy's loader.
        let shards = hf::weight_files(dir).map_err(|(path, reason)| invalid(&path, reason))?;
        let mut shapes = BTreeMap::new();
        for shard in &shards {
            let header = hf::file_header(shard)
                .map_err(|e| invalid(shard, format!("not a safetensors file: {e}")))?;
            shapes.extend(header.into_iter().map(|(name, t)| (name, t.shape)));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            shapes,
            shards,
        })
    }

    /// The directory's last component, for the verifier's name.
    pub fn dir_name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| show(&self.dir))
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// An error about `config.json`.
    pub fn invalid_config(&self, reason: impl Into<String>) -> PrmError {
        invalid(&self.config_path(), reason)
    }

    /// An "unsupported format" error about `config.json`.
    pub fn unsupported(&self, found: String) -> PrmError {
        PrmError::Unsupported {
            path: show(&self.config_path()),
            found,
        }
    }

    /// `config.json`'s `architectures`, as written there.
    pub fn architectures(&self) -> String {
        self.config
            .get("architectures")
            .map(Value::to_string)
            .unwrap_or_else(|| "(none)".into())
    }

    /// `config.json`'s `model_type`.
    pub fn model_type(&self) -> Result<&str, PrmError> {
        self.config
            .get("model_type")
            .and_then(Value::as_str)
            .ok_or_else(|| self.invalid_config("missing field `model_type`"))
    }

    /// Fails unless `model_type` is one of `types`; `format` reads only those backbones.
    pub fn require_model_type(&self, format: PrmFormat, types: &[&str]) -> Result<&str, PrmError> {
        let t = self.model_type()?;
        if types.contains(&t) {
            Ok(t)
        } else {
            Err(self.unsupported(format!(
                "the {format} format on a {t:?} backbone (it reads model_type {})",
                types.join(" or ")
            )))
        }
    }

    /// Whether the weights hold a tensor of that name.
    pub fn has_tensor(&self, name: &str) -> bool {
        self.shapes.contains_key(name)
    }

    /// Fails, naming the weights, unless every `(name, shape)` is there with that shape. Run
    /// before building a model whose loader would panic on a missing or misshapen tensor.
    pub fn expect_shapes(&self, expected: &[(String, Vec<usize>)]) -> Result<(), PrmError> {
        for (name, shape) in expected {
            match self.shapes.get(name) {
                Some(s) if s == shape => {}
                found => {
                    return Err(invalid(
                        &self.shards[0],
                        format!(
                            "weights do not fit config.json: tensor {name} should have shape {shape:?}, found {}",
                            found.map_or("no such tensor".into(), |s| format!("{s:?}"))
                        ),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Loads the tensors whose names pass `keep` onto `device`, and counts their parameters.
    pub fn load_tensors(
        &self,
        device: &Device,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(HashMap<String, Tensor>, u64), PrmError> {
        let mut all = HashMap::new();
        for shard in &self.shards {
            let tensors = candle_core::safetensors::load(shard, device)
                .map_err(|e| invalid(shard, format!("not a readable safetensors file: {e}")))?;
            all.extend(tensors.into_iter().filter(|(n, _)| keep(n)));
        }
        let params = all.values().map(|t| t.elem_count() as u64).sum();
        Ok((all, params))
    }

    /// Where the weights are, for errors about them.
    pub fn weights_path(&self) -> String {
        show(&self.shards[0])
    }

    fn tokenizer_path(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }

    /// Loads `tokenizer.json`.
    pub fn tokenizer(&self) -> Result<Tokenizer, PrmError> {
        let path = self.tokenizer_path();
        if !path.is_file() {
            return Err(PrmError::Missing {
                path: show(&path),
                what: "the tokenizer".into(),
            });
        }
        Tokenizer::from_file(&path).map_err(|e| invalid(&path, format!("cannot load: {e}")))
    }

    /// Loads `tokenizer.json` and checks that its ids all index the model's `vocab`
    /// embeddings.
    pub fn tokenizer_for(&self, vocab: usize) -> Result<Tokenizer, PrmError> {
        let tok = self.tokenizer()?;
        let tokens = tok.get_vocab_size(true);
        if tokens > vocab {
            return Err(PrmError::VocabMismatch {
                path: show(&self.tokenizer_path()),
                tokens,
                vocab,
            });
        }
        Ok(tok)
    }

    /// `tokenizer_config.json`, if there is one.
    pub fn tokenizer_config(&self) -> Result<Option<Value>, PrmError> {
        let path = self.dir.join("tokenizer_config.json");
        if !path.is_file() {
            return Ok(None);
        }
        read_json(&path, "the tokenizer configuration").map(Some)
    }

    /// The id of the special token `token`.
    pub fn special_id(
        &self,
        tok: &Tokenizer,
        format: PrmFormat,
        token: &str,
    ) -> Result<u32, PrmError> {
        tok.token_to_id(token)
            .ok_or_else(|| self.missing_token(format, token, "does not hold"))
    }

    /// The last token id of `text` (how the reference code finds a step tag's id), checked to
    /// decode back to the end of `text` rather than to an unknown-token placeholder.
    pub fn last_id(&self, tok: &Tokenizer, format: PrmFormat, text: &str) -> Result<u32, PrmError> {
        let ids = encode(tok, text, false)?.get_ids().to_vec();
        let id = ids
            .last()
            .copied()
            .ok_or_else(|| self.missing_token(format, text, "encodes to nothing"))?;
        let back = tok
            .decode(&[id], false)
            .map_err(|e| PrmError::Codec(e.to_string()))?;
        let fits = !back.is_empty()
            && (text.ends_with(&back)
                || (!back.trim().is_empty() && text.trim_end().ends_with(back.trim())));
        if fits {
            Ok(id)
        } else {
            Err(self.missing_token(
                format,
                text,
                &format!("lacks (it encodes to {:?}, which decodes to {back:?})", ids),
            ))
        }
    }

    /// A "token missing from the tokenizer" error.
    pub fn missing_token(&self, format: PrmFormat, token: &str, why: &str) -> PrmError {
        PrmError::MissingToken {
            path: show(&self.tokenizer_path()),
            format,
            token: token.into(),
            why: why.into(),
        }
    }

    /// The beginning-of-sequence id: `tokenizer_config.json`'s `bos_token` (what the reference
    /// code's `tokenizer.bos_token` reads), else `config.json`'s `bos_token_id`.
    pub fn bos_id(&self, tok: &Tokenizer, format: PrmFormat) -> Result<u32, PrmError> {
        let named = self.tokenizer_config()?.and_then(|c| {
            let bos = c.get("bos_token")?;
            bos.as_str()
                .or_else(|| bos.get("content").and_then(Value::as_str))
                .map(String::from)
        });
        if let Some(name) = named {
            return self.special_id(tok, format, &name);
        }
        let id = self
            .config
            .get("bos_token_id")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                self.invalid_config(format!(
                    "the {format} format starts with a beginning-of-sequence token, but neither \
                     config.json `bos_token_id` nor tokenizer_config.json `bos_token` names one"
                ))
            })? as u32;
        if tok.id_to_token(id).is_none() {
            return Err(self.missing_token(
                format,
                &format!("id {id} (config.json bos_token_id)"),
                "does not hold",
            ));
        }
        Ok(id)
    }
}

/// Encodes `text`; `add_special` lets the tokenizer's post-processor add its tokens.
pub(super) fn encode(
    tok: &Tokenizer,
    text: &str,
    add_special: bool,
) -> Result<tokenizers::Encoding, PrmError> {
    tok.encode(text, add_special)
        .map_err(|e| PrmError::Codec(e.to_string()))
}
