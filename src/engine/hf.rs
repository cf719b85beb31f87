//! Models in Hugging Face layout: `config.json`, the weights in `model.safetensors` or in shards
//! named by `model.safetensors.index.json`, and the tokenizer's side files.
//!
//! Safetensors headers are read and checked here ([`read_header`]) before candle loads a file:
//! every tensor's dtype, shape and byte range must agree and lie inside the file, so a
//! truncated or corrupt file fails with its name and reason before gigabytes are read.

use super::transformer::{Config, RopeScaling};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Model families this build serves from `config.json`'s `model_type`.
pub const SUPPORTED: &str = "llama, mistral, qwen2";

/// The fields of `config.json` the engine reads (serde ignores the rest).
#[derive(Debug, Clone, Deserialize)]
pub struct HfConfig {
    /// `llama`, `mistral`, `qwen2`, ...
    pub model_type: String,
    /// Tokens in the embedding table.
    pub vocab_size: usize,
    /// Residual width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Decoder blocks.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads; absent means as many as query heads.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Head width; absent means hidden / heads.
    #[serde(default)]
    pub head_dim: Option<usize>,
    /// RMS-norm epsilon.
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// RoPE base.
    #[serde(default = "default_theta")]
    pub rope_theta: f64,
    /// RoPE scaling, as HF writes it.
    #[serde(default)]
    pub rope_scaling: Option<serde_json::Value>,
    /// Context length.
    pub max_position_embeddings: usize,
    /// Mistral's sliding attention window (null for none).
    #[serde(default)]
    pub sliding_window: Option<usize>,
    /// Qwen2: whether the window is used at all.
    #[serde(default)]
    pub use_sliding_window: Option<bool>,
    /// Stored weight type (`bfloat16`, `float32`, ...).
    #[serde(default)]
    pub torch_dtype: Option<String>,
}

fn default_eps() -> f64 {
    1e-6
}

fn default_theta() -> f64 {
    10_000.0
}

impl HfConfig {
    /// The transformer configuration, or why this build cannot serve it.
    pub fn transformer(&self) -> Result<Config, String> {
        let heads = self.num_attention_heads;
        let head_dim = match self.head_dim {
            Some(d) => d,
            None if heads > 0 && self.hidden_size.is_multiple_of(heads) => self.hidden_size / heads,
            None => {
                return Err(format!(
                    "hidden_size {} is not a multiple of num_attention_heads {heads}",
                    self.hidden_size
                ))
            }
        };
        let sliding_window = match self.model_type.as_str() {
            "mistral" => self.sliding_window,
            "qwen2" if self.use_sliding_window == Some(true) => self.sliding_window,
            _ => None,
        };
        let cfg = Config {
            vocab_size: self.vocab_size,
            hidden_size: self.hidden_size,
            intermediate_size: self.intermediate_size,
            num_layers: self.num_hidden_layers,
            num_heads: heads,
            num_kv_heads: self.num_key_value_heads.unwrap_or(heads),
            head_dim,
            rms_norm_eps: self.rms_norm_eps,
            rope_theta: self.rope_theta,
            rope_scaling: rope_scaling(self.rope_scaling.as_ref())?,
            rope_interleaved: false,
            max_position_embeddings: self.max_position_embeddings,
            sliding_window,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// Reads HF's `rope_scaling`: absent, `default`, `linear` or `llama3`.
fn rope_scaling(v: Option<&serde_json::Value>) -> Result<RopeScaling, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(RopeScaling::None);
    };
    let kind = v
        .get("rope_type")
        .or_else(|| v.get("type"))
        .and_then(|t| t.as_str())
        .unwrap_or("default");
    let num = |k: &str| -> Result<f64, String> {
        v.get(k)
            .and_then(|x| x.as_f64())
            .ok_or_else(|| format!("rope_scaling lacks the number `{k}`"))
    };
    match kind {
        "default" => Ok(RopeScaling::None),
        "linear" => Ok(RopeScaling::Linear {
            factor: num("factor")?,
        }),
        "llama3" => Ok(RopeScaling::Llama3 {
            factor: num("factor")?,
            low_freq_factor: num("low_freq_factor")?,
            high_freq_factor: num("high_freq_factor")?,
            original_max_position_embeddings: num("original_max_position_embeddings")?,
        }),
        other => Err(format!(
            "rope_scaling type '{other}' is not supported (default, linear, llama3)"
        )),
    }
}

/// Ids from `config.json` (and `generation_config.json`): `eos_token_id` may be a number or a
/// list (Llama 3.1 ends on any of three); the first is the end-of-sequence id.
pub fn token_ids(v: Option<&serde_json::Value>) -> Vec<u32> {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().map(|x| x as u32).into_iter().collect(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_u64().map(|x| x as u32))
            .collect(),
        _ => Vec::new(),
    }
}

/// One tensor as a safetensors header describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorEntry {
    /// `F32`, `BF16`, ...
    pub dtype: String,
    /// Dimensions.
    pub shape: Vec<usize>,
}

/// Bytes per element of a safetensors dtype.
fn dtype_size(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" => 1,
        "U16" | "I16" | "F16" | "BF16" => 2,
        "U32" | "I32" | "F32" => 4,
        "U64" | "I64" | "F64" => 8,
        _ => return None,
    })
}

/// Largest header the safetensors format allows (as the `safetensors` crate).
const MAX_HEADER: u64 = 100_000_000;

/// Reads and checks the header of a safetensors file of `size` bytes from `r`: the tensors by
/// name. Every tensor's byte range must match its dtype and shape and lie inside the file.
pub fn read_header(mut r: impl Read, size: u64) -> Result<BTreeMap<String, TensorEntry>, String> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)
        .map_err(|_| format!("truncated: {size} bytes, shorter than the 8-byte header length"))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER {
        return Err(format!(
            "header length {n} is larger than the format allows"
        ));
    }
    if n > size - 8 {
        return Err(format!(
            "truncated: header of {n} bytes, the file has {} after the length",
            size - 8
        ));
    }
    let mut header = vec![0u8; n as usize];
    r.read_exact(&mut header)
        .map_err(|e| format!("reading the header: {e}"))?;
    let json: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| format!("header is not valid JSON: {e}"))?;
    let data = size - 8 - n;
    let mut out = BTreeMap::new();
    for (name, v) in json {
        if name == "__metadata__" {
            continue;
        }
        let dtype = v
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| format!("tensor {name}: no dtype"))?;
        let elem =
            dtype_size(dtype).ok_or_else(|| format!("tensor {name}: unknown dtype {dtype}"))?;
        let shape: Vec<usize> = v
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|s| {
                s.iter()
                    .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
                    .collect()
            })
            .ok_or_else(|| format!("tensor {name}: no shape"))?;
        let offsets: Vec<u64> = v
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|s| s.iter().map(|d| d.as_u64()).collect())
            .ok_or_else(|| format!("tensor {name}: no data_offsets"))?;
        let [start, end] = offsets[..] else {
            return Err(format!("tensor {name}: data_offsets is not [start, end]"));
        };
        let bytes = shape
            .iter()
            .try_fold(elem, |acc, &d| acc.checked_mul(d as u64))
            .ok_or_else(|| format!("tensor {name}: shape {shape:?} overflows"))?;
        if end < start || end - start != bytes {
            return Err(format!(
                "tensor {name}: {dtype} {shape:?} needs {bytes} bytes, data_offsets give [{start}, {end}]"
            ));
        }
        if end > data {
            return Err(format!(
                "truncated: tensor {name} ends at byte {end} of the data, which holds {data}"
            ));
        }
        out.insert(
            name,
            TensorEntry {
                dtype: dtype.to_string(),
                shape,
            },
        );
    }
    Ok(out)
}

/// The weight files of a model directory: `model.safetensors`, or the shards an index names
/// (`model.safetensors.index.json`), in order.
pub fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, (PathBuf, String)> {
    let single = dir.join("model.safetensors");
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    if !index.is_file() {
        return Err((
            single,
            "missing (and no model.safetensors.index.json naming shards)".into(),
        ));
    }
    let text = std::fs::read_to_string(&index).map_err(|e| (index.clone(), e.to_string()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| (index.clone(), e.to_string()))?;
    let map = json
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| (index.clone(), "no weight_map object".to_string()))?;
    let mut files: Vec<String> = map
        .values()
        .map(|v| {
            v.as_str().map(String::from).ok_or_else(|| {
                (
                    index.clone(),
                    "a weight_map value is not a file name".into(),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    files.sort();
    files.dedup();
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        if f.contains('/') || f.contains('\\') || f.starts_with('.') {
            return Err((
                index.clone(),
                format!("shard name '{f}' leaves the directory"),
            ));
        }
        let p = dir.join(&f);
        if !p.is_file() {
            return Err((p, "missing (named by model.safetensors.index.json)".into()));
        }
        out.push(p);
    }
    if out.is_empty() {
        return Err((index, "weight_map names no files".into()));
    }
    Ok(out)
}

/// The header of a safetensors file on disk, checked ([`read_header`]).
pub fn file_header(path: &Path) -> Result<BTreeMap<String, TensorEntry>, String> {
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let size = f.metadata().map_err(|e| e.to_string())?.len();
    read_header(std::io::BufReader::new(f), size)
}

/// A side file's JSON (`tokenizer_config.json`, `generation_config.json`), `None` if absent.
pub fn side_json(dir: &Path, name: &str) -> Result<Option<serde_json::Value>, (PathBuf, String)> {
    let p = dir.join(name);
    match std::fs::read_to_string(&p) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| (p, format!("not valid JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err((p, e.to_string())),
    }
}

/// The chat template of a HF directory: `chat_template.jinja`, else `tokenizer_config.json`'s
/// `chat_template` (a string, or a list of named templates of which `default` is taken).
pub fn chat_template(dir: &Path, tokenizer_config: Option<&serde_json::Value>) -> Option<String> {
    if let Ok(t) = std::fs::read_to_string(dir.join("chat_template.jinja")) {
        return Some(t);
    }
    match tokenizer_config?.get("chat_template")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(list) => list
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
            .or_else(|| list.first())
            .and_then(|t| t.get("template"))
            .and_then(|t| t.as_str())
            .map(String::from),
        _ => None,
    }
}

/// A special token named in `tokenizer_config.json` (`"bos_token": "<s>"` or
/// `{"content": "<s>", ...}`).
pub fn config_token(tokenizer_config: Option<&serde_json::Value>, key: &str) -> Option<String> {
    match tokenizer_config?.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        v => v.get("content")?.as_str().map(String::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};
    use proptest::prelude::*;

    fn tiny_safetensors() -> Vec<u8> {
        let mut m = std::collections::HashMap::new();
        m.insert(
            "a".to_string(),
            Tensor::arange(0f32, 12.0, &Device::Cpu)
                .unwrap()
                .reshape((3, 4))
                .unwrap(),
        );
        m.insert(
            "b".to_string(),
            Tensor::arange(0u32, 5, &Device::Cpu).unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.safetensors");
        candle_core::safetensors::save(&m, &p).unwrap();
        std::fs::read(p).unwrap()
    }

    /// What loading does with a file's bytes: check the header, then let candle load it.
    fn load(bytes: &[u8]) -> Result<usize, String> {
        let h = read_header(bytes, bytes.len() as u64)?;
        let t = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
            .map_err(|e| e.to_string())?;
        assert_eq!(h.len(), t.len(), "checked header and candle disagree");
        Ok(t.len())
    }

    #[test]
    fn headers_are_checked_against_the_file() {
        let good = tiny_safetensors();
        assert_eq!(load(&good), Ok(2));
        let h = read_header(good.as_slice(), good.len() as u64).unwrap();
        assert_eq!(h["a"].shape, [3, 4]);
        assert_eq!(h["b"].dtype, "U32");
        for n in 0..good.len() {
            assert!(load(&good[..n]).is_err(), "truncated at {n} accepted");
        }
        let e = load(&good[..good.len() - 4]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let mut huge = 1u64 << 62;
        let e = read_header(huge.to_le_bytes().as_slice(), 8).unwrap_err();
        assert!(e.contains("larger than the format allows"), "{e}");
        huge = 1000;
        let e = read_header(
            [huge.to_le_bytes().as_slice(), b"{}"].concat().as_slice(),
            10,
        )
        .unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let lie =
            br#"{"a":{"dtype":"F32","shape":[1099511627776,1099511627776],"data_offsets":[0,4]}}"#;
        let mut v = (lie.len() as u64).to_le_bytes().to_vec();
        v.extend(lie);
        v.extend([0u8; 4]);
        let e = load(&v).unwrap_err();
        assert!(e.contains("overflows"), "{e}");
    }

    #[test]
    fn rope_scaling_reads_hf_spellings() {
        assert_eq!(rope_scaling(None), Ok(RopeScaling::None));
        let v = serde_json::json!({"type": "linear", "factor": 2.0});
        assert_eq!(
            rope_scaling(Some(&v)),
            Ok(RopeScaling::Linear { factor: 2.0 })
        );
        let v = serde_json::json!({"rope_type": "yarn", "factor": 4.0});
        assert!(rope_scaling(Some(&v)).unwrap_err().contains("'yarn'"));
        assert_eq!(token_ids(Some(&serde_json::json!([1, 2]))), [1, 2]);
        assert_eq!(token_ids(Some(&serde_json::json!(7))), [7]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = load(&bytes);
            // The same bytes behind a plausible header length.
            let mut v = (bytes.len() as u64 / 2).to_le_bytes().to_vec();
            v.extend(&bytes);
            let _ = load(&v);
        }

        #[test]
        fn corrupted_files_never_panic(
            cut in 0usize..400,
            flips in proptest::collection::vec((0usize..400, any::<u8>()), 1..8),
        ) {
            let mut v = tiny_safetensors();
            for (at, b) in flips {
                let n = v.len();
                v[at % n] = b;
            }
            v.truncate(cut.max(1).min(v.len()));
            let _ = load(&v);
        }
    }
}
