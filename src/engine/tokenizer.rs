//! Tokenizers: loading `tokenizer.json`, and the character-level tokenizer of the toy models.

use std::path::Path;
use tokenizers::Tokenizer;

/// End-of-text token of the toy models; also used as their beginning-of-sequence token.
pub const TOY_EOS: &str = "<|endoftext|>";
/// Unknown-character token of the toy models.
pub const TOY_UNK: &str = "<unk>";
/// Every character the toy task uses, in vocabulary order after the two special tokens.
pub const TOY_CHARS: &str = "0123456789+-*()=: \n\\boxed{}";

/// Errors of tokenizer handling.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// The file could not be read or parsed.
    #[error("cannot load tokenizer {path}: {reason}")]
    Load { path: String, reason: String },
    /// A token the model needs is missing from the vocabulary.
    #[error("tokenizer {path} has no token '{token}'")]
    MissingToken { path: String, token: String },
    /// Encoding or decoding failed.
    #[error("tokenizer: {0}")]
    Codec(String),
}

/// Bytes a `tokenizer.json` may have. The largest real ones (Gemma's 256k vocabulary) are
/// about 35 MB; parsing takes a few times the file's size in memory.
pub const MAX_TOKENIZER_BYTES: u64 = 128 << 20;

/// Tokens a vocabulary may have. The largest real vocabularies have about 260k; the engine's
/// own limit on embedding rows is 4M.
pub const MAX_VOCAB: usize = 1 << 22;

/// Backtracking steps a tokenizer's regex may take on one match attempt of the probe texts.
/// The GPT-2, Llama 3 and Qwen2 pre-tokenizer patterns need a few thousand at most on them
/// (their lookahead `\s+(?!\S)` backtracks once per space); a pattern with nested
/// quantifiers that the backtracking engine runs (one with a backreference or a lookaround
/// around them) needs millions, and would stall every prompt.
pub const MAX_BACKTRACK: usize = 100_000;

/// Texts every tokenizer pattern is tried on: long runs of one kind of character with a
/// different one at the end, where nested quantifiers backtrack the most.
fn probes() -> Vec<String> {
    let mut v = Vec::new();
    for unit in ["a", "1", " ", "\n", "ab", "é", "a1", "aA"] {
        for end in ["!", "", " x"] {
            v.push(format!("{}{end}", unit.repeat(48)));
        }
    }
    v
}

/// Refuses a `tokenizer.json` holding a regex (in its normalizer or pre-tokenizer) that does
/// not compile or that backtracks past [`MAX_BACKTRACK`] steps on the [`probes`]: tokenizers
/// would otherwise give up on such a pattern silently, mid-text.
fn check_patterns(json: &serde_json::Value) -> Result<(), String> {
    fn walk<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    match (k.as_str(), x) {
                        ("Regex", serde_json::Value::String(r)) => out.push(r),
                        // The vocabulary and merges hold no patterns: skip their bulk.
                        ("vocab" | "merges", _) => {}
                        _ => walk(x, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut patterns = Vec::new();
    for key in ["normalizer", "pre_tokenizer"] {
        if let Some(v) = json.get(key) {
            walk(v, &mut patterns);
        }
    }
    let probes = probes();
    for p in patterns {
        let re = fancy_regex::RegexBuilder::new(p)
            .backtrack_limit(MAX_BACKTRACK)
            .build()
            .map_err(|e| format!("pattern {p:?} does not compile: {e}"))?;
        for text in &probes {
            for m in re.find_iter(text) {
                if let Err(e) = m {
                    return Err(format!(
                        "pattern {p:?} backtracks past {MAX_BACKTRACK} steps (the limit) on a \
                         {}-character probe text: {e}; refusing it, as it would stall on real text",
                        text.chars().count()
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A loaded tokenizer with the ids the engine needs.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    /// End-of-sequence id.
    pub eos_id: u32,
    /// Beginning-of-sequence id, if the model has one.
    pub bos_id: Option<u32>,
    /// Whether a raw prompt starts with the beginning-of-sequence token.
    pub add_bos: bool,
    /// Every id that ends a generation: `eos_id` first, then end-of-turn ids of chat models.
    pub end_ids: Vec<u32>,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("vocab", &self.vocab_size())
            .field("eos_id", &self.eos_id)
            .field("bos_id", &self.bos_id)
            .field("add_bos", &self.add_bos)
            .field("end_ids", &self.end_ids)
            .finish()
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json` and looks up the end-of-sequence token `eos` (and `bos`, if given;
    /// prompts then start with it).
    pub fn load(path: &Path, eos: &str, bos: Option<&str>) -> Result<Self, TokenizerError> {
        let p = path.display().to_string();
        let inner = Self::read(path)?;
        let id = |t: &str| {
            inner
                .token_to_id(t)
                .ok_or_else(|| TokenizerError::MissingToken {
                    path: p.clone(),
                    token: t.into(),
                })
        };
        let eos_id = id(eos)?;
        let bos_id = bos.map(id).transpose()?;
        Ok(Self {
            inner,
            eos_id,
            bos_id,
            add_bos: bos_id.is_some(),
            end_ids: vec![eos_id],
        })
    }

    /// Wraps a tokenizer with ids taken from the model's configuration; fails (naming `source`)
    /// if the vocabulary does not hold them. `end_ids` are further ids that end a generation.
    pub fn from_parts(
        inner: Tokenizer,
        source: &str,
        eos_id: u32,
        bos_id: Option<u32>,
        add_bos: bool,
        end_ids: &[u32],
    ) -> Result<Self, TokenizerError> {
        let mut ends = vec![eos_id];
        for &id in end_ids {
            if !ends.contains(&id) {
                ends.push(id);
            }
        }
        for &id in ends.iter().chain(&bos_id) {
            if inner.id_to_token(id).is_none() {
                return Err(TokenizerError::MissingToken {
                    path: source.into(),
                    token: format!("id {id} (named by the model's configuration)"),
                });
            }
        }
        Ok(Self {
            inner,
            eos_id,
            bos_id,
            add_bos: add_bos && bos_id.is_some(),
            end_ids: ends,
        })
    }

    /// Reads `tokenizer.json`.
    pub fn read(path: &Path) -> Result<Tokenizer, TokenizerError> {
        let fail = |reason: String| TokenizerError::Load {
            path: path.display().to_string(),
            reason,
        };
        // Parsing takes several times the file's size in memory: refuse a file far larger
        // than any real tokenizer before reading it.
        let size = std::fs::metadata(path)
            .map_err(|e| fail(e.to_string()))?
            .len();
        if size > MAX_TOKENIZER_BYTES {
            return Err(fail(format!(
                "{size} bytes, more than the {MAX_TOKENIZER_BYTES} a tokenizer.json may have \
                 (the largest real ones are about 35 MB)"
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) {
            check_patterns(&json).map_err(fail)?;
        }
        let t: Tokenizer = text
            .parse()
            .map_err(|e: tokenizers::Error| fail(e.to_string()))?;
        let vocab = t.get_vocab_size(true);
        if vocab > MAX_VOCAB {
            return Err(fail(format!(
                "a vocabulary of {vocab} tokens, more than the {MAX_VOCAB} allowed"
            )));
        }
        Ok(t)
    }

    /// Whether `id` ends a generation.
    pub fn is_end(&self, id: u32) -> bool {
        self.end_ids.contains(&id)
    }

    /// The vocabulary entry of `id`.
    pub fn token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The special tokens (control tokens, skipped when decoding), by id.
    pub fn special_tokens(&self) -> Vec<(u32, String)> {
        let mut v: Vec<(u32, String)> = self
            .inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, t)| (id, t.content))
            .collect();
        v.sort();
        v
    }

    /// Token ids of `text` as the tokenizer's post-processor frames them (BOS added where
    /// `tokenizer.json` says so).
    pub fn encode_framed(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| TokenizerError::Codec(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Number of tokens, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Token ids of `text`, without special tokens added.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| TokenizerError::Codec(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Text of `ids`, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| TokenizerError::Codec(e.to_string()))
    }
}

/// Decodes a growing token sequence a token at a time, in time independent of its length.
///
/// Each step decodes only a short window: the tokens since the previous emitted piece plus the
/// one before them, so decoders that treat the first token specially (SentencePiece's leading
/// space) see the same context as in a full decode. A window that ends in the middle of a
/// UTF-8 character (U+FFFD) is held back until the character completes. Where a decoder is not
/// prefix-stable (the window's text does not extend the previous window's), it falls back to a
/// full decode, so [`TextStream::text`] always equals decoding every token at once.
#[derive(Debug, Clone, Default)]
pub struct TextStream {
    tokens: Vec<u32>,
    text: String,
    /// Start of the decode window.
    prefix: usize,
    /// Tokens already reflected in `text`.
    read: usize,
    /// Text of `tokens[prefix..read]`.
    prefix_text: String,
}

impl TextStream {
    /// The text decoded so far (special tokens skipped).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The tokens pushed so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Appends `id`; returns the byte offset in [`Self::text`] from which the text may have
    /// changed (the old length, unless a full-decode fallback rewrote earlier text).
    pub fn push(&mut self, tok: &TextTokenizer, id: u32) -> Result<usize, TokenizerError> {
        self.tokens.push(id);
        let now = tok.decode(&self.tokens[self.prefix..])?;
        if now.len() <= self.prefix_text.len() || now.ends_with('\u{FFFD}') {
            return Ok(self.text.len());
        }
        let changed_from = match now.strip_prefix(self.prefix_text.as_str()) {
            Some(new) => {
                let from = self.text.len();
                self.text.push_str(new);
                from
            }
            None => {
                let full = tok.decode(&self.tokens)?;
                let common = self
                    .text
                    .char_indices()
                    .zip(full.chars())
                    .find(|((_, a), b)| a != b)
                    .map_or(self.text.len().min(full.len()), |((i, _), _)| i);
                self.text = full;
                common
            }
        };
        self.prefix = self.read;
        self.read = self.tokens.len();
        self.prefix_text = tok.decode(&self.tokens[self.prefix..self.read])?;
        Ok(changed_from)
    }
}

/// The toy models' `tokenizer.json`: one token per character of [`TOY_CHARS`], after
/// `<|endoftext|>` (id 0) and `<unk>` (id 1). A BPE model without merges is exactly a character
/// tokenizer, and the `Fuse` decoder joins characters back without spaces.
pub fn toy_tokenizer_json() -> serde_json::Value {
    let special = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    let mut vocab = serde_json::Map::new();
    vocab.insert(TOY_EOS.into(), 0.into());
    vocab.insert(TOY_UNK.into(), 1.into());
    let mut seen = std::collections::HashSet::new();
    for c in TOY_CHARS.chars().filter(|c| seen.insert(*c)) {
        let id = vocab.len();
        vocab.insert(c.to_string(), id.into());
    }
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, TOY_EOS), special(1, TOY_UNK)],
        "normalizer": null, "pre_tokenizer": null, "post_processor": null,
        "decoder": {"type": "Fuse"},
        "model": {"type": "BPE", "dropout": null, "unk_token": TOY_UNK,
            "continuing_subword_prefix": null, "end_of_word_suffix": null, "fuse_unk": false,
            "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": []}
    })
}

/// Number of tokens in the toy vocabulary.
pub fn toy_vocab_size() -> usize {
    let mut seen = std::collections::HashSet::new();
    2 + TOY_CHARS.chars().filter(|c| seen.insert(*c)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toy_tokenizer_is_character_level_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, toy_tokenizer_json().to_string()).unwrap();
        let tok = TextTokenizer::load(&path, TOY_EOS, Some(TOY_EOS)).unwrap();
        assert_eq!(tok.vocab_size(), toy_vocab_size());
        assert_eq!(tok.eos_id, 0);
        let text = "(3+4)*12-5\n3+4=7: 7*12-5\n\\boxed{79}";
        let ids = tok.encode(text).unwrap();
        assert_eq!(ids.len(), text.chars().count());
        assert!(!ids.contains(&1), "no unknown characters");
        assert_eq!(tok.decode(&ids).unwrap(), text);
        assert_eq!(tok.decode(&[0]).unwrap(), "");
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = TextTokenizer::load(Path::new("/nonexistent/tokenizer.json"), TOY_EOS, None)
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/tokenizer.json"));
    }
}
