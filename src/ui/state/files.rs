//! Files without a portal: every open and export asks for its path in a small window with a
//! path field (the last-used directory filled in) and a "Browse…" button that opens the system's
//! file dialog where there is one. Without an XDG desktop portal (a plain X session, a remote
//! desktop, many tiling window managers) the dialog cannot open; the window says so once and the
//! field is the way. Every export ends with a toast naming the file written, or the error.
//!
//! This module holds what the prompt is and what it asks for; `app::files` acts on it and
//! `panels::files` draws it.

use super::State;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What a path is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathFor {
    /// A policy directory (Hugging Face layout).
    PolicyDir,
    /// A GGUF policy file.
    PolicyGguf,
    /// A process reward model directory.
    PrmDir,
    /// A JSONL dataset file.
    Dataset,
    /// A sweep (or run) directory to open in the Plots tab.
    OpenSweep,
    /// A sweep directory to draw over the open one.
    Overlay,
    /// A sweep directory whose figure set to write.
    ExportFigures,
    /// The file the figure on screen is written to (`.svg` or `.png`).
    ExportPlot,
    /// The directory a sweep from the window runs in.
    RunSweep,
    /// The SVG file the tree on screen is written to.
    ExportTree,
}

/// How the path is picked.
pub(crate) enum Pick {
    Folder,
    File(&'static str, &'static [&'static str]),
    Save(&'static str, &'static [&'static str]),
}

impl PathFor {
    /// The prompt's title.
    pub fn title(self) -> &'static str {
        match self {
            Self::PolicyDir => "A policy directory (config.json, tokenizer.json, weights)",
            Self::PolicyGguf => "A GGUF policy file",
            Self::PrmDir => "A process reward model directory",
            Self::Dataset => "A JSONL dataset (MATH500, GSM8K)",
            Self::OpenSweep => "A sweep or run directory to open (holds sweep.json)",
            Self::Overlay => "A sweep directory to overlay (holds sweep.json)",
            Self::ExportFigures => "A sweep directory whose figures to write (holds sweep.json)",
            Self::ExportPlot => "The file to write the figure to (.svg or .png)",
            Self::RunSweep => "The sweep's directory (new, or the same sweep to resume)",
            Self::ExportTree => "The SVG file to write the tree to",
        }
    }

    pub(crate) fn pick(self) -> Pick {
        match self {
            Self::PolicyGguf => Pick::File("GGUF", &["gguf"]),
            Self::Dataset => Pick::File("JSONL", &["jsonl"]),
            Self::ExportPlot => Pick::Save("SVG or PNG", &["svg", "png"]),
            Self::ExportTree => Pick::Save("SVG", &["svg"]),
            _ => Pick::Folder,
        }
    }

    /// The file name an export suggests.
    pub(crate) fn file_name(self, app: &State) -> Option<String> {
        match self {
            Self::ExportPlot => Some(format!("{}.svg", app.plot_figure)),
            Self::ExportTree => Some("tree.svg".into()),
            _ => None,
        }
    }

    /// Whether the path names a directory (else a file).
    pub(crate) fn is_folder(self) -> bool {
        matches!(self.pick(), Pick::Folder)
    }
}

/// The path prompt on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct PathAsk {
    /// What the path is for.
    pub what: PathFor,
    /// What the field holds.
    pub text: String,
}

/// A message in the window's corner for a few seconds.
#[derive(Debug, Clone)]
pub struct Toast {
    /// What it says.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
    /// When it goes.
    pub until: Instant,
}

/// How long a toast stays.
pub(crate) const TOAST_FOR: Duration = Duration::from_secs(8);

/// A file dialog that returns sooner than this showed nothing: no dialog is available.
pub(crate) const NO_DIALOG_WITHIN: Duration = Duration::from_millis(250);

/// What the window says once when no file dialog can open.
pub const NO_DIALOG: &str = "No file dialog is available here (no XDG desktop portal): type \
    the path in the field";

/// `~/` at the start of a typed path is the home directory.
pub(crate) fn expand(text: &str) -> PathBuf {
    let t = text.trim();
    match (t.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(t),
    }
}
