//! GGUF files: a bounds-checked walk over the header before candle reads it, the model
//! configuration from the metadata, and the tokenizer built from the embedded vocabulary.
//!
//! candle 0.11's reader bounds strings and arrays by the file size, but a hostile header can
//! still make it panic (an alignment of 0 divides by zero; tensor dimensions whose product
//! overflows) or allocate many times the file's size. [`check_header`] walks the whole header
//! first without allocating more than a key at a time, and rejects anything that would reach
//! those paths: every length, count and tensor extent must fit inside the file.

use super::transformer::{Config, RopeScaling};
use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::GgmlDType;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

/// Most elements of one metadata array (the largest vocabularies have about 260k tokens).
const MAX_ARRAY: u64 = 1 << 24;
/// Deepest nesting of arrays (real files nest one level).
const MAX_DEPTH: usize = 4;
/// Most dimensions of a tensor (GGML_MAX_DIMS).
const MAX_DIMS: u32 = 4;

/// The GGML tensor types this build reads, by their id in the file.
pub fn ggml_dtype(id: u32) -> Option<GgmlDType> {
    Some(match id {
        0 => GgmlDType::F32,
        1 => GgmlDType::F16,
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        9 => GgmlDType::Q8_1,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        15 => GgmlDType::Q8K,
        30 => GgmlDType::BF16,
        _ => return None,
    })
}

/// Name of a GGML tensor type as llama.cpp prints it.
pub fn dtype_name(d: GgmlDType) -> &'static str {
    match d {
        GgmlDType::F32 => "F32",
        GgmlDType::F16 => "F16",
        GgmlDType::BF16 => "BF16",
        GgmlDType::Q4_0 => "Q4_0",
        GgmlDType::Q4_1 => "Q4_1",
        GgmlDType::Q5_0 => "Q5_0",
        GgmlDType::Q5_1 => "Q5_1",
        GgmlDType::Q8_0 => "Q8_0",
        GgmlDType::Q8_1 => "Q8_1",
        GgmlDType::Q2K => "Q2_K",
        GgmlDType::Q3K => "Q3_K",
        GgmlDType::Q4K => "Q4_K",
        GgmlDType::Q5K => "Q5_K",
        GgmlDType::Q6K => "Q6_K",
        GgmlDType::Q8K => "Q8_K",
    }
}

/// A reader that knows how many bytes are left and refuses to go past them.
struct Walk<R> {
    r: R,
    pos: u64,
    size: u64,
    wide: bool,
}

impl<R: Read + Seek> Walk<R> {
    fn need(&self, n: u64, what: &str) -> Result<(), String> {
        if n > self.size - self.pos {
            return Err(format!(
                "truncated: {what} needs {n} bytes at offset {}, the file has {} left",
                self.pos,
                self.size - self.pos
            ));
        }
        Ok(())
    }

    fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        self.need(N as u64, what)?;
        let mut b = [0u8; N];
        self.r
            .read_exact(&mut b)
            .map_err(|e| format!("{what}: {e}"))?;
        self.pos += N as u64;
        Ok(b)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.bytes::<4>(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.bytes::<8>(what)?))
    }

    /// A length or count: 32 bits in GGUF v1, 64 bits after.
    fn len(&mut self, what: &str) -> Result<u64, String> {
        if self.wide {
            self.u64(what)
        } else {
            self.u32(what).map(u64::from)
        }
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), String> {
        self.need(n, what)?;
        self.r
            .seek(SeekFrom::Current(n as i64))
            .map_err(|e| format!("{what}: {e}"))?;
        self.pos += n;
        Ok(())
    }

    fn string(&mut self, what: &str, keep: bool) -> Result<String, String> {
        let n = self.len(what)?;
        if !keep {
            self.skip(n, what)?;
            return Ok(String::new());
        }
        if n > 1 << 16 {
            return Err(format!("{what}: a name of {n} bytes"));
        }
        self.need(n, what)?;
        let mut b = vec![0u8; n as usize];
        self.r
            .read_exact(&mut b)
            .map_err(|e| format!("{what}: {e}"))?;
        self.pos += n;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Skips a value of type `ty`; returns it where it is an integer (for the alignment).
    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<Option<i128>, String> {
        let fixed = |ty: u32| -> Option<u64> {
            match ty {
                0 | 1 | 7 => Some(1),
                2 | 3 => Some(2),
                4..=6 => Some(4),
                10..=12 => Some(8),
                _ => None,
            }
        };
        match ty {
            0 | 7 => Ok(Some(self.bytes::<1>(key)?[0].into())),
            1 => Ok(Some(i8::from_le_bytes(self.bytes::<1>(key)?).into())),
            2 => Ok(Some(u16::from_le_bytes(self.bytes::<2>(key)?).into())),
            3 => Ok(Some(i16::from_le_bytes(self.bytes::<2>(key)?).into())),
            4 => Ok(Some(self.u32(key)?.into())),
            5 => Ok(Some(i32::from_le_bytes(self.bytes::<4>(key)?).into())),
            6 => self.skip(4, key).map(|_| None),
            10 => Ok(Some(self.u64(key)?.into())),
            11 => Ok(Some(i64::from_le_bytes(self.bytes::<8>(key)?).into())),
            12 => self.skip(8, key).map(|_| None),
            8 => self.string(key, false).map(|_| None),
            9 => {
                if depth >= MAX_DEPTH {
                    return Err(format!("{key}: arrays nested deeper than {MAX_DEPTH}"));
                }
                let elem = self.u32(key)?;
                let n = self.len(key)?;
                if n > MAX_ARRAY {
                    return Err(format!(
                        "{key}: array of {n} elements (at most {MAX_ARRAY})"
                    ));
                }
                match fixed(elem) {
                    Some(size) => self.skip(n * size, key)?,
                    None => {
                        // Every string or array element takes at least its length prefix.
                        self.need(n * if self.wide { 8 } else { 4 }, key)?;
                        for _ in 0..n {
                            self.value(elem, key, depth + 1)?;
                        }
                    }
                }
                Ok(None)
            }
            other => Err(format!("{key}: unknown value type {other}")),
        }
    }
}

/// Walks a GGUF header from `r` (of `size` bytes) and checks that candle can read it safely:
/// magic and version, every string and array inside the file, a power-of-two alignment, known
/// tensor types, and every tensor's data inside the file. Returns a one-line reason otherwise.
pub fn check_header<R: Read + Seek>(r: R, size: u64) -> Result<(), String> {
    let mut w = Walk {
        r,
        pos: 0,
        size,
        wide: true,
    };
    let magic = w.bytes::<4>("magic")?;
    if &magic != b"GGUF" {
        return Err(format!(
            "not a GGUF file (magic {magic:02x?}, expected \"GGUF\")"
        ));
    }
    let version = w.u32("version")?;
    if !(1..=3).contains(&version) {
        return Err(format!(
            "unsupported GGUF version {version} (1 to 3 are read)"
        ));
    }
    w.wide = version >= 2;
    let tensors = w.len("tensor count")?;
    let kvs = w.len("metadata count")?;
    // Each entry takes at least a few bytes: the counts must fit in the file.
    let min_entry = if w.wide { 8 + 4 } else { 4 + 4 };
    if tensors.saturating_add(kvs).saturating_mul(min_entry) > size - w.pos {
        return Err(format!(
            "header declares {tensors} tensors and {kvs} metadata entries, more than the file holds"
        ));
    }
    let mut alignment = 32u64;
    for _ in 0..kvs {
        let key = w.string("metadata key", true)?;
        let ty = w.u32(&key)?;
        let v = w.value(ty, &key, 0)?;
        // As candle reads it: 8-, 16- and 32-bit integers (non-negative), else the default.
        if key == "general.alignment" && matches!(ty, 0..=5) {
            alignment = v.and_then(|v| u64::try_from(v).ok()).unwrap_or(32);
        }
    }
    if alignment == 0 || !alignment.is_power_of_two() {
        return Err(format!(
            "general.alignment {alignment} is not a power of two"
        ));
    }
    let mut extents = Vec::new();
    for _ in 0..tensors {
        let name = w.string("tensor name", true)?;
        let dims = w.u32(&name)?;
        if dims > MAX_DIMS {
            return Err(format!(
                "tensor {name}: {dims} dimensions (at most {MAX_DIMS})"
            ));
        }
        let mut elems: u64 = 1;
        for _ in 0..dims {
            let d = if w.wide {
                w.u64(&name)?
            } else {
                u64::from(w.u32(&name)?)
            };
            elems = elems
                .checked_mul(d)
                .ok_or_else(|| format!("tensor {name}: dimensions overflow"))?;
        }
        let ty = w.u32(&name)?;
        let dtype =
            ggml_dtype(ty).ok_or_else(|| format!("tensor {name}: unknown tensor type {ty}"))?;
        let block = dtype.block_size() as u64;
        if !elems.is_multiple_of(block) {
            return Err(format!(
                "tensor {name}: {elems} elements do not fill {} blocks of {block}",
                dtype_name(dtype)
            ));
        }
        let bytes = (elems / block)
            .checked_mul(dtype.type_size() as u64)
            .ok_or_else(|| format!("tensor {name}: size overflows"))?;
        let offset = w.u64(&name)?;
        extents.push((name, offset, bytes));
    }
    let data = w.pos.div_ceil(alignment).saturating_mul(alignment);
    for (name, offset, bytes) in extents {
        let end = data.checked_add(offset).and_then(|s| s.checked_add(bytes));
        if end.is_none_or(|e| e > size) {
            return Err(format!(
                "truncated: tensor {name} needs {bytes} bytes at offset {}, the file has {size}",
                data.saturating_add(offset)
            ));
        }
    }
    Ok(())
}

/// An open GGUF file whose header has been checked and read.
pub struct GgufFile {
    /// The parsed header.
    pub content: Content,
    /// The file, for reading tensors.
    pub file: std::io::BufReader<std::fs::File>,
}

impl GgufFile {
    /// Opens `path`, checks its header ([`check_header`]) and reads it.
    pub fn open(path: &Path) -> Result<Self, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        let mut file = std::io::BufReader::new(file);
        check_header(&mut file, size)?;
        file.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
        let content = Content::read(&mut file).map_err(|e| e.to_string())?;
        Ok(Self { content, file })
    }

    /// The metadata value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    /// An integer metadata value.
    pub fn uint(&self, key: &str) -> Option<u64> {
        value_u64(self.get(key)?)
    }

    /// A float metadata value.
    pub fn float(&self, key: &str) -> Option<f64> {
        match self.get(key)? {
            Value::F32(v) => Some(f64::from(*v)),
            Value::F64(v) => Some(*v),
            other => value_u64(other).map(|v| v as f64),
        }
    }

    /// A string metadata value.
    pub fn string(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The GGUF version (1 to 3).
    pub fn version(&self) -> u32 {
        match self.content.magic {
            candle_core::quantized::gguf_file::VersionedMagic::GgufV1 => 1,
            candle_core::quantized::gguf_file::VersionedMagic::GgufV2 => 2,
            candle_core::quantized::gguf_file::VersionedMagic::GgufV3 => 3,
        }
    }

    /// `general.architecture`.
    pub fn architecture(&self) -> &str {
        self.string("general.architecture").unwrap_or("")
    }

    /// Number of parameters (elements of every tensor).
    pub fn params(&self) -> u64 {
        self.content
            .tensor_infos
            .values()
            .map(|t| t.shape.elem_count() as u64)
            .sum()
    }

    /// Parameters per tensor type, e.g. `{"Q4_1": 106M, "F32": 35k}`.
    pub fn dtypes(&self) -> std::collections::BTreeMap<String, u64> {
        let mut m = std::collections::BTreeMap::new();
        for t in self.content.tensor_infos.values() {
            *m.entry(dtype_name(t.ggml_dtype).to_string()).or_insert(0) +=
                t.shape.elem_count() as u64;
        }
        m
    }

    /// The transformer configuration in the metadata. Supported architectures: `llama` (Llama,
    /// SmolLM2, Mistral) and `qwen2`.
    pub fn config(&self) -> Result<Config, String> {
        let arch = self.architecture().to_string();
        let rope_interleaved = match arch.as_str() {
            "llama" => true,
            "qwen2" => false,
            "" => return Err("no general.architecture in the metadata".into()),
            other => {
                return Err(format!(
                    "unsupported architecture '{other}' (supported: llama, qwen2)"
                ))
            }
        };
        let key = |k: &str| format!("{arch}.{k}");
        let need = |k: &str| -> Result<u64, String> {
            self.uint(&key(k))
                .ok_or_else(|| format!("metadata lacks {}", key(k)))
        };
        let hidden = need("embedding_length")? as usize;
        let heads = need("attention.head_count")? as usize;
        let kv_heads = self
            .uint(&key("attention.head_count_kv"))
            .map_or(heads, |v| v as usize);
        let head_dim = match self.uint(&key("attention.key_length")) {
            Some(d) => d as usize,
            None if heads > 0 => hidden / heads,
            None => 0,
        };
        if let Some(rope) = self.uint(&key("rope.dimension_count")) {
            if rope as usize != head_dim {
                return Err(format!(
                    "partial RoPE ({rope} of {head_dim} dimensions) is not supported"
                ));
            }
        }
        let vocab = match self.uint(&key("vocab_size")) {
            Some(v) => v as usize,
            None => match self.get("tokenizer.ggml.tokens") {
                Some(Value::Array(a)) => a.len(),
                _ => return Err(format!("metadata lacks {}", key("vocab_size"))),
            },
        };
        let rope_scaling = if let Some(info) = self.content.tensor_infos.get("rope_freqs.weight") {
            if info.shape.elem_count() != head_dim / 2 {
                return Err(format!(
                    "rope_freqs.weight has {} entries for head dimension {head_dim}",
                    info.shape.elem_count()
                ));
            }
            // Read later with the weights; a placeholder of the right length until then.
            RopeScaling::Factors(vec![1.0; head_dim / 2])
        } else {
            match self.string(&key("rope.scaling.type")) {
                None | Some("none") => RopeScaling::None,
                Some("linear") => RopeScaling::Linear {
                    factor: self.float(&key("rope.scaling.factor")).unwrap_or(1.0),
                },
                Some(other) => return Err(format!("unsupported RoPE scaling '{other}'")),
            }
        };
        let cfg = Config {
            vocab_size: vocab,
            hidden_size: hidden,
            intermediate_size: need("feed_forward_length")? as usize,
            num_layers: need("block_count")? as usize,
            num_heads: heads,
            num_kv_heads: kv_heads,
            head_dim,
            rms_norm_eps: self
                .float(&key("attention.layer_norm_rms_epsilon"))
                .unwrap_or(1e-5),
            rope_theta: self.float(&key("rope.freq_base")).unwrap_or(10_000.0),
            rope_scaling,
            rope_interleaved,
            max_position_embeddings: need("context_length")? as usize,
            sliding_window: None,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// The special token ids of the embedded vocabulary.
    pub fn special_ids(&self) -> SpecialIds {
        let id = |k: &str| self.uint(k).map(|v| v as u32);
        let model = self.string("tokenizer.ggml.model").unwrap_or("");
        SpecialIds {
            bos: id("tokenizer.ggml.bos_token_id"),
            eos: id("tokenizer.ggml.eos_token_id"),
            eot: id("tokenizer.ggml.eot_token_id"),
            eom: id("tokenizer.ggml.eom_token_id"),
            add_bos: match self.get("tokenizer.ggml.add_bos_token") {
                Some(Value::Bool(b)) => *b,
                // llama.cpp's defaults: SentencePiece vocabularies add BOS, BPE ones do not.
                _ => model == "llama",
            },
        }
    }

    /// The chat template, if the file has one.
    pub fn chat_template(&self) -> Option<&str> {
        self.string("tokenizer.chat_template")
    }

    /// The embedded vocabulary, as strings.
    pub fn tokens(&self) -> Result<Vec<String>, String> {
        string_array(self.get("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens")
    }

    /// The tokenizer described by the metadata ([`tokenizer_from_metadata`]).
    pub fn tokenizer(&self) -> Result<Tokenizer, String> {
        tokenizer_from_metadata(&self.content.metadata)
    }
}

/// Special token ids from GGUF metadata.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecialIds {
    /// Beginning of sequence.
    pub bos: Option<u32>,
    /// End of sequence.
    pub eos: Option<u32>,
    /// End of turn (chat models).
    pub eot: Option<u32>,
    /// End of message (Llama 3.1 tool calls).
    pub eom: Option<u32>,
    /// Whether a prompt starts with BOS.
    pub add_bos: bool,
}

fn value_u64(v: &Value) -> Option<u64> {
    match *v {
        Value::U8(x) => Some(u64::from(x)),
        Value::U16(x) => Some(u64::from(x)),
        Value::U32(x) => Some(u64::from(x)),
        Value::U64(x) => Some(x),
        Value::I8(x) => u64::try_from(x).ok(),
        Value::I16(x) => u64::try_from(x).ok(),
        Value::I32(x) => u64::try_from(x).ok(),
        Value::I64(x) => u64::try_from(x).ok(),
        _ => None,
    }
}

fn string_array(v: Option<&Value>, key: &str) -> Result<Vec<String>, String> {
    let Some(Value::Array(items)) = v else {
        return Err(format!("metadata lacks the array {key}"));
    };
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("{key}: element {other:?} is not a string")),
        })
        .collect()
}

/// llama.cpp's pre-tokenizer regex for `llama-bpe` (Llama 3).
const LLAMA3_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// llama.cpp's pre-tokenizer regex for `qwen2`.
const QWEN2_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Builds the tokenizer of a GGUF vocabulary as llama.cpp tokenizes it. SentencePiece
/// (`tokenizer.ggml.model = llama`) is described at `spm_tokenizer`; byte-level BPE
/// (`tokenizer.ggml.model = gpt2`) goes by `tokenizer.ggml.pre`:
/// - `smollm`: every digit alone, then GPT-2's byte-level split, no prefix space;
/// - `llama-bpe` / `llama3` / `smaug-bpe`: Llama 3's regex (digits in runs of up to three);
/// - `qwen2`: NFC, then Qwen2's regex (digits alone);
/// - `gpt2` / `default` / absent: GPT-2's byte-level split, no prefix space.
///
/// candle's own builder (`TokenizerFromGguf`) adds a prefix space and keeps digits together
/// for `smollm`, and treats `llama-bpe` as GPT-2: ids then differ from llama.cpp's.
/// Control tokens (type 3) become special tokens: recognised in text, skipped when decoding.
pub fn tokenizer_from_metadata(md: &HashMap<String, Value>) -> Result<Tokenizer, String> {
    let model = match md.get("tokenizer.ggml.model") {
        Some(Value::String(s)) => s.as_str(),
        _ => return Err("metadata lacks tokenizer.ggml.model".into()),
    };
    if model == "llama" {
        return spm_tokenizer(md);
    }
    if model != "gpt2" {
        return Err(format!(
            "tokenizer.ggml.model '{model}' is not built from GGUF metadata (byte-level BPE, \
             'gpt2', and SentencePiece, 'llama', are); put the model's tokenizer.json beside \
             the file"
        ));
    }
    let tokens = string_array(md.get("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens")?;
    let merges = string_array(md.get("tokenizer.ggml.merges"), "tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| format!("tokenizer.ggml.merges: malformed entry '{m}'"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let vocab = vocab_of(&tokens)?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("vocabulary and merges do not fit: {e}"))?;
    let mut tok = Tokenizer::new(bpe);
    let pre = match md.get("tokenizer.ggml.pre") {
        Some(Value::String(s)) => s.as_str(),
        _ => "default",
    };
    let split = |regex: &str| {
        Split::new(
            SplitPattern::Regex(regex.into()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| format!("pre-tokenizer regex: {e}"))
    };
    // add_prefix_space = false, trim_offsets = true, use_regex as given.
    let byte_level = |use_regex: bool| ByteLevel::new(false, true, use_regex);
    match pre {
        "smollm" => {
            tok.with_pre_tokenizer(Some(Sequence::new(vec![
                Digits::new(true).into(),
                byte_level(true).into(),
            ])));
        }
        "llama-bpe" | "llama3" | "smaug-bpe" => {
            tok.with_pre_tokenizer(Some(Sequence::new(vec![
                split(LLAMA3_REGEX)?.into(),
                byte_level(false).into(),
            ])));
        }
        "qwen2" => {
            tok.with_normalizer(Some(NFC))
                .map_err(|e| format!("normalizer: {e}"))?;
            tok.with_pre_tokenizer(Some(Sequence::new(vec![
                split(QWEN2_REGEX)?.into(),
                byte_level(false).into(),
            ])));
        }
        "default" | "gpt2" | "gpt-2" => {
            tok.with_pre_tokenizer(Some(byte_level(true)));
        }
        other => {
            return Err(format!(
                "tokenizer.ggml.pre '{other}' is not supported (smollm, llama-bpe, qwen2, gpt2); \
                 put the model's tokenizer.json beside the file"
            ))
        }
    }
    tok.with_decoder(Some(ByteLevelDecoder::default()));
    add_control_tokens(&mut tok, md, &tokens)?;
    Ok(tok)
}

/// Token ids by token text; duplicates are an error.
fn vocab_of(tokens: &[String]) -> Result<tokenizers::models::bpe::Vocab, String> {
    let vocab: tokenizers::models::bpe::Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    if vocab.len() != tokens.len() {
        return Err("tokenizer.ggml.tokens holds duplicate tokens".into());
    }
    Ok(vocab)
}

/// Control tokens (`tokenizer.ggml.token_type` 3) as special added tokens.
fn add_control_tokens(
    tok: &mut Tokenizer,
    md: &HashMap<String, Value>,
    tokens: &[String],
) -> Result<(), String> {
    if let Some(Value::Array(types)) = md.get("tokenizer.ggml.token_type") {
        let specials: Vec<AddedToken> = types
            .iter()
            .zip(tokens)
            .filter(|(t, _)| value_u64(t) == Some(3))
            .map(|(_, s)| AddedToken::from(s.clone(), true))
            .collect();
        tok.add_special_tokens(specials)
            .map_err(|e| format!("special tokens: {e}"))?;
    }
    Ok(())
}

/// A SentencePiece vocabulary (`tokenizer.ggml.model = llama`: Llama 2, Mistral) as llama.cpp
/// runs it: pieces merged pairwise, the highest-scoring merged piece first, with `▁` for spaces
/// (one prepended where `tokenizer.ggml.add_space_prefix` is not false) and unknown characters
/// spelled as `<0xNN>` byte tokens. Built as a BPE whose merges are every split of a piece into
/// two pieces, ranked by the piece's score (how Hugging Face converts SentencePiece models).
fn spm_tokenizer(md: &HashMap<String, Value>) -> Result<Tokenizer, String> {
    use tokenizers::decoders::{
        byte_fallback::ByteFallback, fuse::Fuse, sequence::Sequence as DecoderSequence,
        strip::Strip,
    };
    use tokenizers::normalizers::{Prepend, Replace, Sequence as NormalizerSequence};
    let tokens = string_array(md.get("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens")?;
    let scores: Vec<f32> = match md.get("tokenizer.ggml.scores") {
        Some(Value::Array(v)) => v
            .iter()
            .map(|x| match x {
                Value::F32(f) => Ok(*f),
                other => Err(format!("tokenizer.ggml.scores: {other:?} is not an f32")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("metadata lacks the array tokenizer.ggml.scores".into()),
    };
    if scores.len() != tokens.len() {
        return Err(format!(
            "{} scores for {} tokens in tokenizer.ggml.scores",
            scores.len(),
            tokens.len()
        ));
    }
    let vocab = vocab_of(&tokens)?;
    // Every split of a piece into two pieces, ordered by the piece's score (stable: ties keep
    // the order of the pieces' ids, then of the halves' ids).
    let mut merges: Vec<(f32, String, String)> = Vec::new();
    for (piece, &score) in tokens.iter().zip(&scores) {
        let mut local: Vec<(u32, u32, &str, &str)> = piece
            .char_indices()
            .skip(1)
            .filter_map(|(i, _)| {
                let (l, r) = piece.split_at(i);
                Some((*vocab.get(l)?, *vocab.get(r)?, l, r))
            })
            .collect();
        local.sort();
        merges.extend(
            local
                .into_iter()
                .map(|(_, _, l, r)| (score, l.to_string(), r.to_string())),
        );
    }
    merges.sort_by(|a, b| b.0.total_cmp(&a.0));
    let merges: Vec<(String, String)> = merges.into_iter().map(|(_, l, r)| (l, r)).collect();
    let unk = md
        .get("tokenizer.ggml.unknown_token_id")
        .and_then(value_u64)
        .and_then(|i| tokens.get(i as usize))
        .cloned()
        .unwrap_or_else(|| "<unk>".into());
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .unk_token(unk)
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|e| format!("vocabulary and merges do not fit: {e}"))?;
    let mut tok = Tokenizer::new(bpe);
    let prefix = !matches!(
        md.get("tokenizer.ggml.add_space_prefix"),
        Some(Value::Bool(false))
    );
    let space = Replace::new(" ", "▁").map_err(|e| format!("normalizer: {e}"))?;
    let normalizer = if prefix {
        NormalizerSequence::new(vec![Prepend::new("▁".into()).into(), space.into()])
    } else {
        NormalizerSequence::new(vec![space.into()])
    };
    tok.with_normalizer(Some(normalizer))
        .map_err(|e| format!("normalizer: {e}"))?;
    let unspace = tokenizers::decoders::DecoderWrapper::Replace(
        Replace::new("▁", " ").map_err(|e| format!("decoder: {e}"))?,
    );
    let mut decoders = vec![unspace, ByteFallback::new().into(), Fuse::new().into()];
    if prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }
    tok.with_decoder(Some(DecoderSequence::new(decoders)));
    add_control_tokens(&mut tok, md, &tokens)?;
    Ok(tok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{gguf_file, QTensor};
    use candle_core::{Device, Tensor};
    use proptest::prelude::*;
    use std::io::Cursor;

    /// A small valid GGUF: metadata of every kind, an F32 and a Q8_0 tensor.
    fn tiny_gguf() -> Vec<u8> {
        let f = Tensor::arange(0f32, 32.0, &Device::Cpu)
            .unwrap()
            .reshape((4, 8))
            .unwrap();
        let q = Tensor::arange(0f32, 64.0, &Device::Cpu)
            .unwrap()
            .reshape((2, 32))
            .unwrap();
        let f = QTensor::quantize(&f, GgmlDType::F32).unwrap();
        let q = QTensor::quantize(&q, GgmlDType::Q8_0).unwrap();
        let arch = Value::String("llama".into());
        let align = Value::U32(32);
        let tokens = Value::Array(vec![Value::String("a".into()), Value::String("b".into())]);
        let nested = Value::Array(vec![Value::Array(vec![Value::U8(1)]), Value::Array(vec![])]);
        let eps = Value::F32(1e-5);
        let mut out = Cursor::new(Vec::new());
        gguf_file::write(
            &mut out,
            &[
                ("general.architecture", &arch),
                ("general.alignment", &align),
                ("tokenizer.ggml.tokens", &tokens),
                ("x.nested", &nested),
                ("llama.attention.layer_norm_rms_epsilon", &eps),
            ],
            &[("a.weight", &f), ("b.weight", &q)],
        )
        .unwrap();
        out.into_inner()
    }

    /// What loading does with the bytes of a file: check, then let candle read the header and
    /// every tensor. Must never panic.
    fn read_all(bytes: &[u8]) -> Result<(), String> {
        check_header(Cursor::new(bytes), bytes.len() as u64)?;
        let mut c = Cursor::new(bytes);
        let content = Content::read(&mut c).map_err(|e| e.to_string())?;
        for name in content.tensor_infos.keys() {
            content
                .tensor(&mut c, name, &Device::Cpu)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    #[test]
    fn a_valid_file_passes_and_hostile_headers_fail_cleanly() {
        let good = tiny_gguf();
        read_all(&good).unwrap();
        let err = |bytes: &[u8]| read_all(bytes).unwrap_err();
        assert!(err(b"").contains("truncated"));
        assert!(err(b"GGML\x03\0\0\0").contains("not a GGUF"));
        let mut v = good.clone();
        v[4] = 9;
        assert!(err(&v).contains("version 9"));
        // Every truncation that cuts into the header or a tensor fails with a reason (the
        // writer pads the end to the alignment; cutting padding loses nothing).
        let content = Content::read(&mut Cursor::new(&good)).unwrap();
        let end = content
            .tensor_infos
            .values()
            .map(|t| {
                let bytes =
                    t.shape.elem_count() / t.ggml_dtype.block_size() * t.ggml_dtype.type_size();
                content.tensor_data_offset + t.offset + bytes as u64
            })
            .max()
            .unwrap() as usize;
        for n in 0..end {
            assert!(read_all(&good[..n]).is_err(), "truncated at {n} accepted");
        }
        // Alignment 0 would make candle divide by zero.
        let mut w = Cursor::new(Vec::new());
        let zero = Value::U32(0);
        gguf_file::write(&mut w, &[("general.alignment", &zero)], &[]).unwrap();
        assert!(err(w.get_ref()).contains("power of two"));
        // Tensor dimensions whose product overflows.
        let mut h = Vec::new();
        h.extend(b"GGUF");
        h.extend(3u32.to_le_bytes());
        h.extend(1u64.to_le_bytes());
        h.extend(0u64.to_le_bytes());
        h.extend(1u64.to_le_bytes());
        h.push(b't');
        h.extend(3u32.to_le_bytes());
        for _ in 0..3 {
            h.extend((1u64 << 40).to_le_bytes());
        }
        h.extend(0u32.to_le_bytes());
        h.extend(0u64.to_le_bytes());
        assert!(err(&h).contains("overflow"));
        // A string length larger than the file.
        let mut s = Vec::new();
        s.extend(b"GGUF");
        s.extend(3u32.to_le_bytes());
        s.extend(0u64.to_le_bytes());
        s.extend(1u64.to_le_bytes());
        s.extend(u64::MAX.to_le_bytes());
        s.extend([0u8; 16]);
        assert!(err(&s).contains("metadata key"), "{}", err(&s));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = read_all(&bytes);
            let mut with_magic = b"GGUF\x03\0\0\0".to_vec();
            with_magic.extend(&bytes);
            let _ = read_all(&with_magic);
        }

        #[test]
        fn corrupted_files_never_panic(
            cut in 0usize..2000,
            flips in proptest::collection::vec((0usize..2000, any::<u8>()), 1..8),
        ) {
            let mut v = tiny_gguf();
            for (at, b) in flips {
                let n = v.len();
                v[at % n] = b;
            }
            v.truncate(cut.max(1).min(v.len()));
            let _ = read_all(&v);
        }
    }
}
