//! Session restore: what the user was looking at — the open sweep, the selected problem, the
//! tab, the figure and its bin — is kept with the settings as soon as it changes (not only on
//! exit, so a SIGTERM or a crash loses nothing), and comes back at the next launch.

use super::View;
use crate::export::Figure;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the window showed, kept with the settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Session {
    /// The sweep open in the Plots tab.
    pub open_sweep: Option<PathBuf>,
    /// The selected problem, by id.
    pub problem: Option<String>,
    /// The tab in the centre.
    pub view: View,
    /// The figure the Plots tab draws.
    pub figure: Figure,
    /// Its difficulty bin (0: all problems).
    pub plot_bin: usize,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            open_sweep: None,
            problem: None,
            view: View::Tree,
            figure: Figure::Accuracy,
            plot_bin: 0,
        }
    }
}
