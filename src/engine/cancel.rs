//! Cancellation: a flag shared between whoever runs a search and whoever may stop it. The
//! engine checks it between decode steps, so a cancelled search stops within one forward pass.
//! The same handle carries a count of the tokens sampled so far, which the engine bumps at
//! every decode step: whoever holds a clone sees a batch progress while it runs, before any of
//! its samples ends (the window's progress bar reads it).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A flag shared between whoever runs a search and whoever may stop it, with the count of
/// tokens sampled under it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    tokens: Arc<AtomicU64>,
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
        }
    }
    /// Clears a previous request to stop, and the token count.
    pub fn reset(&self) {
        self.flag.store(false, Ordering::SeqCst);
        self.tokens.store(0, Ordering::Relaxed);
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
