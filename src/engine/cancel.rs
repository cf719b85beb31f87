//! Cancellation: a flag shared between whoever runs a search and whoever may stop it. The
//! engine checks it between decode steps, so a cancelled search stops within one forward pass.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag shared between whoever runs a search and whoever may stop it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }
    /// Wraps an existing flag (for example the Ctrl-C flag).
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Self(flag)
    }
    /// Clears a previous request to stop.
    pub fn reset(&self) {
        self.0.store(false, Ordering::SeqCst)
    }
    /// Asks the search to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst)
    }
    /// Whether stopping was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
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
