//! thinkscale: a research workbench for test-time compute.
//!
//! It runs language models locally with candle, searches over their reasoning steps against a
//! verifier (majority, best-of-N, weighted best-of-N, beam search, lookahead search, DVTS),
//! records every result on disk, and shows the search in a desktop window.
//!
//! The modules stand on floors; a module imports only modules on lower floors (a test,
//! `tests/layering.rs`, reads every `crate::` path and holds the house to it):
//!
//! | floor | modules |
//! |---|---|
//! | 1 | [`data`] (problems, datasets, seeds), [`grade`] (answer extraction and equivalence), [`io`] (JSON files) |
//! | 2 | [`engine`] (models, tokenizers, prompts, sampling, caches, batched generation, meter, cancellation) |
//! | 3 | [`backend`] (the `Policy` trait, the local engine policy), [`bench`] (engine benchmarks) |
//! | 4 | [`verify`] (the `Verifier` trait, oracle, log-prob, PRM adapters) |
//! | 5 | [`search`] (strategies, choice functions, the search tree) |
//! | 6 | [`store`] (run records on disk) |
//! | 7 | [`runner`] (one way to run an experiment; grading) |
//! | 8 | [`analysis`] (evaluation tables) |
//! | 9 | [`export`] (paper figures and their data), [`train`] (the toy models) |
//! | 10 | [`cli`], `ui` (the faces; `main.rs` chooses between them) |
//!
//! Data flows one way: data → engine/backend → verify → search (emits events) → runner →
//! store → analysis → export → cli/ui. Only `ui` knows egui.

// Tests may unwrap: a failed unwrap is a failed test. Library code may not (Cargo.toml lints).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod analysis;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod data;
pub mod engine;
pub mod export;
pub mod grade;
pub mod io;
pub mod runner;
pub mod search;
pub mod store;
pub mod train;
pub mod ui;
pub mod verify;
