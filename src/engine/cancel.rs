//! Cancellation: a flag shared between whoever runs a search and whoever may stop it. The
//! engine checks it between decode steps, so a cancelled search stops within one forward pass.
//! The same handle carries a count of the tokens sampled so far, which the engine bumps at
//! every decode step: whoever holds a clone sees a batch progress while it runs, before any of
//! its samples ends (the window's progress bar reads it). A holder that asks to watch
//! ([`CancelToken::watch_samples`]) also gets the text of every sample as it ends, inside a
//! batch, before the call returns (the window shows them while the batch runs).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Ended samples kept for a watcher at most, until it takes them.
pub const WATCHED_SAMPLES: usize = 4096;

/// The texts of samples that ended, kept only while someone watches.
#[derive(Debug, Default)]
struct Watch {
    on: AtomicBool,
    ended: Mutex<Vec<String>>,
}

/// A flag shared between whoever runs a search and whoever may stop it, with the count of
/// tokens sampled under it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    tokens: Arc<AtomicU64>,
    watch: Arc<Watch>,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Wraps an existing flag (for example the Ctrl-C flag).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Self {
            flag,
            tokens: Default::default(),
            watch: Default::default(),
        }
    }
    /// Clears a previous request to stop, the token count and the ended samples not taken.
    pub fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
        self.tokens.store(0, Ordering::Relaxed);
        self.take_ended();
    }
    /// From now on, keep the text of each sample that ends (up to [`WATCHED_SAMPLES`] until
    /// they are taken).
    pub fn watch_samples(&self) {
        self.watch.on.store(true, Ordering::Relaxed);
    }
    /// A sample ended with the text `text` gives; kept only while someone watches.
    pub fn sample_ended(&self, text: impl FnOnce() -> String) {
        if !self.watch.on.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(mut v) = self.watch.ended.lock() {
            if v.len() < WATCHED_SAMPLES {
                v.push(text());
            }
        }
    }
    /// The texts of the samples that ended since the last call, in the order they ended.
    pub fn take_ended(&self) -> Vec<String> {
        self.watch
            .ended
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
    /// Asks the search to stop.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst)
    }
    /// Whether stopping was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
    /// Counts `n` tokens sampled.
    pub fn count_tokens(&self, n: u64) {
        self.tokens.fetch_add(n, Ordering::Relaxed);
    }
    /// Tokens sampled since the last [`Self::reset`].
    pub fn tokens(&self) -> u64 {
        self.tokens.load(Ordering::Relaxed)
    }
    /// `Err(Cancelled)` once stopping was asked for.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// The error a cancelled search or generation returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;
