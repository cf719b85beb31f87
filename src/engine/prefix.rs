//! Prefix sharing: the keys and values of sequences already run, kept so that a later prompt
//! that starts the same way continues from them instead of running its prefix again.
//!
//! The cache is content-addressed by token ids: an entry's keys and values at position `i`
//! depend only on its tokens `0..=i` (the model is causal), so any entry that shares the first
//! `l` tokens of a new prompt serves those `l` positions. A beam search that expands a step,
//! keeps it and expands again therefore only ever runs each step's tokens once; so do the `n`
//! samples of one prompt, and the prompts of one problem that share a chat template's system
//! prompt. Entries are dropped least recently used first when the cache passes its byte
//! budget.
//!
//! [`SeenPrefixes`] is the counter that proves it: it remembers (by a 64-bit hash) every
//! prefix the model has run, so a token run again at a position it has already been run at
//! (same prefix) is counted as recomputed.

use super::transformer::SeqKv;

/// Default byte budget of the prefix cache.
pub const DEFAULT_BUDGET: usize = 1 << 30;

/// One cached sequence.
#[derive(Debug)]
struct Entry {
    tokens: Vec<u32>,
    kv: SeqKv,
    /// Logits of the token after the last, where known.
    logits: Option<Vec<f32>>,
    /// Logits after shorter prefixes of `tokens`, by prefix length: where a sample ran past
    /// the end of its first step, what a search continuing from that step samples from.
    marks: Vec<(usize, Vec<f32>)>,
    bytes: usize,
    used: u64,
}

/// What a lookup found: the cache of the longest shared prefix.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Keys and values of the shared prefix (views of the cached entry).
    pub kv: SeqKv,
    /// Logits after the whole query, where the entry is the query itself.
    pub logits: Option<Vec<f32>>,
}

/// Keys and values of sequences already run, by their tokens (see the module documentation).
#[derive(Debug)]
pub struct PrefixCache {
    entries: Vec<Entry>,
    budget: usize,
    bytes: usize,
    clock: u64,
}

impl Default for PrefixCache {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET)
    }
}

impl Entry {
    /// The logits after the first `len` tokens, where known.
    fn logits_at(&self, len: usize) -> Option<&Vec<f32>> {
        if len == self.tokens.len() {
            return self.logits.as_ref();
        }
        self.marks.iter().find(|(l, _)| *l == len).map(|(_, l)| l)
    }
}

fn shared_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl PrefixCache {
    /// An empty cache holding at most `budget` bytes (0 turns sharing off).
    pub fn new(budget: usize) -> Self {
        Self {
            entries: Vec::new(),
            budget,
            bytes: 0,
            clock: 0,
        }
    }

    /// The byte budget.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Changes the byte budget, dropping entries to fit it.
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        self.evict();
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Sequences held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// The longest cached prefix of `tokens` (at least one token), if any; among entries that
    /// hold all of `tokens`, one that knows the logits after them.
    pub fn lookup(&mut self, tokens: &[u32]) -> Option<Hit> {
        let (best, len, _) = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let l = shared_prefix(&e.tokens, tokens);
                (i, l, l == tokens.len() && e.logits_at(l).is_some())
            })
            .max_by_key(|&(i, l, known)| (l, known, std::cmp::Reverse(i)))?;
        if len == 0 {
            return None;
        }
        self.clock += 1;
        let e = &mut self.entries[best];
        e.used = self.clock;
        let logits = if len == tokens.len() {
            e.logits_at(len).cloned()
        } else {
            None
        };
        Some(Hit {
            kv: e.kv.prefix(len).ok()?,
            logits,
        })
    }

    /// Remembers the keys and values of `tokens` (and the logits after them, if known). An
    /// entry for the same tokens is replaced.
    pub fn insert(&mut self, tokens: Vec<u32>, kv: SeqKv, logits: Option<Vec<f32>>) {
        self.insert_marked(tokens, kv, logits, Vec::new());
    }

    /// [`Self::insert`], also remembering the logits after some shorter prefixes (`marks`:
    /// prefix length and logits; a length outside `1..tokens.len()` is ignored).
    pub fn insert_marked(
        &mut self,
        tokens: Vec<u32>,
        kv: SeqKv,
        logits: Option<Vec<f32>>,
        mut marks: Vec<(usize, Vec<f32>)>,
    ) {
        if kv.len != tokens.len() {
            return;
        }
        marks.retain(|(l, _)| (1..tokens.len()).contains(l));
        let bytes = kv.bytes()
            + logits.as_ref().map_or(0, |l| l.len() * 4)
            + marks.iter().map(|(_, l)| l.len() * 4).sum::<usize>();
        if bytes > self.budget {
            return;
        }
        if let Some(i) = self.entries.iter().position(|e| e.tokens == tokens) {
            let old = self.entries.swap_remove(i);
            self.bytes -= old.bytes;
        }
        self.clock += 1;
        self.bytes += bytes;
        self.entries.push(Entry {
            tokens,
            kv,
            logits,
            marks,
            bytes,
            used: self.clock,
        });
        self.evict();
    }

    fn evict(&mut self) {
        while self.bytes > self.budget {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.used)
                .map(|(i, _)| i)
            else {
                break;
            };
            let e = self.entries.swap_remove(oldest);
            self.bytes -= e.bytes;
        }
    }
}

/// Hash of a prefix extended by one token.
pub fn extend_hash(h: u64, token: u32) -> u64 {
    // SplitMix64's finaliser over the previous hash and the token.
    let mut z = h ^ (token as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Every prefix the model has run, by hash: the counter of recomputed tokens.
#[derive(Debug, Default)]
pub struct SeenPrefixes {
    seen: std::collections::HashSet<u64>,
}

/// Prefixes remembered before the set starts over (about 100 MB).
const SEEN_LIMIT: usize = 1 << 22;

impl SeenPrefixes {
    /// Records that the prefix with hash `h` ran; returns whether it had run before.
    pub fn record(&mut self, h: u64) -> bool {
        if self.seen.len() >= SEEN_LIMIT {
            self.seen.clear();
        }
        !self.seen.insert(h)
    }

    /// Records the prefixes one forward pass ran; returns how many of them had run in an
    /// earlier pass. Rows of one pass that coincide (samples that drew the same tokens) are
    /// not counted: they ran side by side, not again.
    pub fn record_pass(&mut self, hashes: &[u64]) -> usize {
        let before = hashes.iter().filter(|h| self.seen.contains(h)).count();
        for &h in hashes {
            self.record(h);
        }
        before
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device, Tensor};

    fn seq(len: usize) -> SeqKv {
        let t = Tensor::zeros((1, 1, len, 2), DType::F32, &Device::Cpu).unwrap();
        SeqKv {
            layers: vec![(t.clone(), t)],
            len,
        }
    }

    #[test]
    fn finds_the_longest_shared_prefix_and_evicts_the_least_recently_used() {
        let mut c = PrefixCache::new(1000);
        c.insert(vec![1, 2, 3], seq(3), Some(vec![0.5]));
        c.insert(vec![1, 2, 7, 8], seq(4), None);
        assert!(c.lookup(&[9]).is_none());
        let hit = c.lookup(&[1, 2, 7, 9]).unwrap();
        assert_eq!(hit.kv.len, 3);
        assert!(hit.logits.is_none());
        // The whole of an entry brings its logits.
        let hit = c.lookup(&[1, 2, 3]).unwrap();
        assert_eq!((hit.kv.len, hit.logits), (3, Some(vec![0.5])));
        assert_eq!(c.lookup(&[1, 2, 3, 4]).unwrap().kv.len, 3);
        // 16 bytes a position (keys and values, two f32 each): [1, 2, 7, 8] was used last
        // longest ago and goes first.
        assert_eq!(c.bytes(), 3 * 16 + 4 + 4 * 16);
        c.set_budget(60);
        assert_eq!(c.len(), 1);
        assert_eq!(c.lookup(&[1, 2, 7]).unwrap().kv.len, 2);
        // Too big for the budget at all: not kept.
        c.insert(vec![5; 10], seq(10), None);
        assert!(c.lookup(&[5]).is_none());
    }

    #[test]
    fn a_mark_gives_the_logits_after_a_shorter_prefix() {
        let mut c = PrefixCache::new(10_000);
        c.insert(vec![1, 2], seq(2), None);
        c.insert_marked(
            vec![1, 2, 3, 4, 5],
            seq(5),
            Some(vec![0.5]),
            vec![(3, vec![0.25, 0.75]), (9, vec![1.0])],
        );
        // The mark at 9 lies outside the entry and is dropped; the one at 3 is counted.
        assert_eq!(c.bytes(), 2 * 16 + 5 * 16 + 4 + 8);
        let hit = c.lookup(&[1, 2, 3]).unwrap();
        assert_eq!((hit.kv.len, hit.logits), (3, Some(vec![0.25, 0.75])));
        // No mark at 4, and none after a prefix the query only shares.
        assert_eq!(c.lookup(&[1, 2, 3, 4]).unwrap().logits, None);
        assert_eq!(c.lookup(&[1, 2, 3, 9]).unwrap().logits, None);
        // An entry holding the whole query but no logits loses to one that knows them.
        c.insert(vec![1, 2, 3, 7], seq(4), None);
        assert_eq!(c.lookup(&[1, 2, 3]).unwrap().logits, Some(vec![0.25, 0.75]));
    }

    #[test]
    fn seen_prefixes_count_repeats() {
        let mut s = SeenPrefixes::default();
        let a = extend_hash(extend_hash(0, 1), 2);
        let b = extend_hash(extend_hash(0, 2), 1);
        assert_ne!(a, b);
        assert!(!s.record(a));
        assert!(s.record(a));
        assert!(!s.record(b));
        let c = extend_hash(a, 3);
        assert_eq!(s.record_pass(&[a, c, c]), 1);
    }
}
