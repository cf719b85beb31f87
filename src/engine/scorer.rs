//! Teacher-forced scoring on the engine's transformer with a prefix cache: a reward model reads
//! a sequence whose beginning it has already read (the same partial solution, one step longer)
//! by continuing the cached keys and values, so each token runs through the model once however
//! many times a search asks about the prefixes that contain it.
//!
//! Many sequences are read together ([`PrefixScorer::run_many`]): they are cut at the points
//! where they part from each other (the branch points of their trie) into segments, each
//! distinct segment runs once, and all segments whose beginning is known run side by side in
//! one batched forward pass (rows continue cached prefixes of different lengths, left-padded
//! in the cache; shorter segments are right-padded, which cannot change a causal model's
//! outputs at the real positions). Sibling steps that share their first tokens read them once.

use super::meter::flops_per_token;
use super::prefix::extend_hash;
use super::prefix::PrefixCache;
use super::transformer::{SeqKv, Transformer};
use candle_core::{DType, Device, Tensor};
use std::collections::HashMap;

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

/// What [`PrefixScorer::run_many`] ran.
#[derive(Debug)]
pub struct RunMany {
    /// Per input, the hidden states of its positions from where the cache left off.
    pub rans: Vec<Ran>,
    /// Tokens run (each distinct one once).
    pub tokens: usize,
    /// Their FLOPs.
    pub flops: f64,
}

/// A transformer that remembers what it read.
pub struct PrefixScorer {
    model: Transformer,
    device: Device,
    cache: PrefixCache,
    params: u64,
}

impl PrefixScorer {
    /// Another scorer on the same weights with an empty cache, for another thread, where
    /// the model gains from engines side by side ([`super::CausalLm::twin`]).
    pub fn twin(&self) -> Option<Self> {
        self.model.twins_pay().then(|| Self {
            model: self.model.clone(),
            device: self.device.clone(),
            cache: PrefixCache::new(self.cache.budget()),
            params: self.params,
        })
    }

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

    /// Exchanges what this scorer has read with `cache` (another search's, set aside).
    pub fn swap_cache(&mut self, cache: &mut PrefixCache) {
        std::mem::swap(&mut self.cache, cache);
    }

    /// An empty cache of the size this scorer's starts with.
    pub fn empty_cache() -> PrefixCache {
        PrefixCache::new(DEFAULT_SCORER_CACHE_BYTES)
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
        let mut kv = self
            .model
            .batch(&[&start], ids.len() - reused, &self.device)?;
        let input = Tensor::new(&ids[reused..], &self.device)?.unsqueeze(0)?;
        let hidden = self.model.forward(&input, &mut kv)?.squeeze(0)?;
        self.cache.insert(ids.to_vec(), kv.row(0)?, None);
        Ok(Ran {
            reused,
            hidden: hidden.to_dtype(DType::F32)?,
        })
    }

    /// Runs several sequences at once, each token of their union once (see the module docs):
    /// for every input, the hidden states of the positions from the longest prefix already
    /// cached (at least the last position) to its end; and the tokens and FLOPs actually run.
    /// Every input is cached afterwards.
    pub fn run_many(&mut self, inputs: &[&[u32]]) -> candle_core::Result<RunMany> {
        if inputs.iter().any(|i| i.is_empty()) {
            candle_core::bail!("nothing to score");
        }
        // Where each input's own work starts: after its longest cached prefix, at least at
        // its last position.
        let starts: Vec<usize> = inputs
            .iter()
            .map(|ids| {
                self.cache
                    .lookup(ids)
                    .map_or(0, |h| h.kv.len)
                    .min(ids.len() - 1)
            })
            .collect();
        // Cut points: the start, every point where it parts from another input, the end.
        let lcp = |a: &[u32], b: &[u32]| a.iter().zip(b).take_while(|(x, y)| x == y).count();
        let cuts: Vec<Vec<usize>> = inputs
            .iter()
            .enumerate()
            .map(|(i, ids)| {
                let mut c: Vec<usize> = vec![starts[i], ids.len()];
                for (j, other) in inputs.iter().enumerate() {
                    let l = lcp(ids, other);
                    if j != i && l > starts[i] && l < ids.len() {
                        c.push(l);
                    }
                }
                c.sort_unstable();
                c.dedup();
                c
            })
            .collect();
        // Hashes of every prefix, to name segments by the tokens up to their end.
        let hashes: Vec<Vec<u64>> = inputs
            .iter()
            .map(|ids| {
                ids.iter()
                    .scan(0u64, |h, &t| {
                        *h = extend_hash(*h, t);
                        Some(*h)
                    })
                    .collect()
            })
            .collect();
        // Segment hidden states by (end, hash of the tokens up to the end).
        let mut done: HashMap<(usize, u64), Tensor> = HashMap::new();
        let (mut tokens, mut flops) = (0usize, 0f64);
        let mut next = vec![0usize; inputs.len()]; // index into cuts of the next segment start
        loop {
            // Every input's next segment, each distinct one once.
            let mut wave: Vec<(usize, usize, usize)> = Vec::new(); // (input, from, to)
            let mut seen = std::collections::HashSet::new();
            for (i, c) in cuts.iter().enumerate() {
                if next[i] + 1 >= c.len() {
                    continue;
                }
                let (from, to) = (c[next[i]], c[next[i] + 1]);
                if seen.insert((to, hashes[i][to - 1]))
                    && !done.contains_key(&(to, hashes[i][to - 1]))
                {
                    wave.push((i, from, to));
                }
            }
            if wave.is_empty() && cuts.iter().enumerate().all(|(i, c)| next[i] + 1 >= c.len()) {
                break;
            }
            if !wave.is_empty() {
                for &(_, from, to) in &wave {
                    tokens += to - from;
                    flops += self.flops(from, to);
                }
                self.run_wave(inputs, &wave, &hashes, &mut done)?;
            }
            for (i, c) in cuts.iter().enumerate() {
                if next[i] + 1 < c.len() {
                    next[i] += 1;
                }
            }
        }
        let rans = inputs
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let parts: Vec<Tensor> = cuts[i]
                    .windows(2)
                    .map(|w| {
                        done.get(&(w[1], hashes[i][w[1] - 1]))
                            .cloned()
                            .ok_or_else(|| candle_core::Error::Msg("segment not run".into()))
                    })
                    .collect::<candle_core::Result<_>>()?;
                Ok(Ran {
                    reused: starts[i],
                    hidden: Tensor::cat(&parts, 0)?,
                })
            })
            .collect::<candle_core::Result<_>>()?;
        Ok(RunMany {
            rans,
            tokens,
            flops,
        })
    }

    /// Runs the segments `wave` (input, from, to) in one forward pass, each continuing the
    /// cached keys and values of its input's first `from` tokens; caches each input's first
    /// `to` tokens and keeps the segment's hidden states in `done`.
    fn run_wave(
        &mut self,
        inputs: &[&[u32]],
        wave: &[(usize, usize, usize)],
        hashes: &[Vec<u64>],
        done: &mut HashMap<(usize, u64), Tensor>,
    ) -> candle_core::Result<()> {
        let empty = SeqKv {
            layers: Vec::new(),
            len: 0,
        };
        let mut rows = Vec::with_capacity(wave.len());
        for &(i, from, _) in wave {
            let kv = if from == 0 {
                empty.clone()
            } else {
                match self.cache.lookup(&inputs[i][..from]) {
                    Some(h) if h.kv.len >= from => h.kv.prefix(from)?,
                    _ => candle_core::bail!("the prefix of a segment left the cache"),
                }
            };
            rows.push(kv);
        }
        let longest = wave.iter().map(|&(_, f, t)| t - f).max().unwrap_or(1);
        let refs: Vec<&SeqKv> = rows.iter().collect();
        let mut kv = self.model.batch(&refs, longest, &self.device)?;
        // Right-pad every segment to the longest with its own last token (any id would do).
        let mut ids = Vec::with_capacity(wave.len() * longest);
        for &(i, from, to) in wave {
            let seg = &inputs[i][from..to];
            ids.extend_from_slice(seg);
            ids.extend(std::iter::repeat_n(seg[seg.len() - 1], longest - seg.len()));
        }
        let input = Tensor::from_vec(ids, (wave.len(), longest), &self.device)?;
        let hidden = self.model.forward(&input, &mut kv)?.to_dtype(DType::F32)?;
        for (r, &(i, from, to)) in wave.iter().enumerate() {
            let seq = kv.row(r)?.prefix(to)?;
            self.cache.insert(inputs[i][..to].to_vec(), seq, None);
            let h = hidden.get(r)?.narrow(0, 0, to - from)?;
            done.insert((to, hashes[i][to - 1]), h);
        }
        Ok(())
    }

    /// The language-model head's logits `(rows, vocab)` of hidden states `(rows, hidden)`.
    pub fn logits(&self, hidden: &Tensor) -> candle_core::Result<Tensor> {
        self.model
            .logits(&hidden.to_dtype(self.model.dtype())?)?
            .to_dtype(DType::F32)
    }
}
