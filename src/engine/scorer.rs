//! Teacher-forced scoring on the engine's transformer with a prefix cache: a reward model reads
//! a sequence whose beginning it has already read (the same partial solution, one step longer)
//! by continuing the cached keys and values, so each token runs through the model once however
//! many times a search asks about the prefixes that contain it.

use super::meter::flops_per_token;
use super::prefix::PrefixCache;
use super::transformer::{BatchKv, SeqKv, Transformer};
use candle_core::{DType, Device, Tensor};

/// Bytes of keys and values a scorer keeps by default (the policy's prefix cache holds 1 GiB).
pub const DEFAULT_SCORER_CACHE_BYTES: usize = 512 << 20;

/// The hidden states of the positions a call ran.
#[derive(Debug)]
pub struct Ran {
    /// Leading positions served by the cache (not run).
    pub reused: usize,
    /// Final hidden states `(len - reused, hidden)` of the positions run.
    pub hidden: Tensor,
}

/// A transformer that remembers what it read.
pub struct PrefixScorer {
    model: Transformer,
    device: Device,
    cache: PrefixCache,
    params: u64,
}

impl PrefixScorer {
    /// Wraps a loaded transformer of `params` parameters.
    pub fn new(model: Transformer, device: &Device, params: u64) -> Self {
        Self {
            model,
            device: device.clone(),
            cache: PrefixCache::new(DEFAULT_SCORER_CACHE_BYTES),
            params,
        }
    }

    /// Context length in tokens.
    pub fn context(&self) -> usize {
        self.model.config().max_position_embeddings
    }

    /// Forgets everything read.
    pub fn clear(&mut self) {
        self.cache.clear();
    }

    /// The FLOPs of running positions `from..to` (context grows with the position).
    pub fn flops(&self, from: usize, to: usize) -> f64 {
        let cfg = self.model.config();
        (from..to)
            .map(|c| flops_per_token(self.params, cfg.num_layers, cfg.hidden_size, c + 1))
            .sum()
    }

    /// Runs `ids`, continuing the longest cached prefix of them (with `fresh`, from nothing),
    /// and caches the whole sequence; returns the hidden states of the positions run. At least
    /// the last position runs.
    pub fn run(&mut self, ids: &[u32], fresh: bool) -> candle_core::Result<Ran> {
        if ids.is_empty() {
            candle_core::bail!("nothing to score");
        }
        let hit = if fresh { None } else { self.cache.lookup(ids) };
        let reused = hit.as_ref().map_or(0, |h| h.kv.len.min(ids.len() - 1));
        let start = match &hit {
            Some(h) if reused > 0 => h.kv.prefix(reused)?,
            _ => SeqKv {
                layers: Vec::new(),
                len: 0,
            },
        };
        let mut kv = BatchKv::from_rows(
            self.model.config(),
            &[&start],
            ids.len() - reused,
            self.model.dtype(),
            &self.device,
        )?;
        let input = Tensor::new(&ids[reused..], &self.device)?.unsqueeze(0)?;
        let hidden = self.model.forward(&input, &mut kv)?.squeeze(0)?;
        self.cache.insert(ids.to_vec(), kv.row(0)?, None);
        Ok(Ran {
            reused,
            hidden: hidden.to_dtype(DType::F32)?,
        })
    }

    /// The language-model head's logits `(rows, vocab)` of hidden states `(rows, hidden)`.
    pub fn logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.model
            .logits(&hidden.to_dtype(self.model.dtype())?)?
            .to_dtype(DType::F32)
    }
}
