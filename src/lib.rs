//! thinkscale: a research workbench for test-time compute.
//!
//! It runs language models locally with candle, searches over their reasoning steps against a
//! verifier (best-of-N, majority, and more to come), records every result on disk, and shows
//! the search in a desktop window. The data flow is one way:
//! [`data`] → [`engine`]/[`backend`] → [`search`] → [`runner`] → [`store`] → [`analysis`] → `ui`.
//! Only [`ui`] knows egui.

// Tests may unwrap: a failed unwrap is a failed test. Library code may not (Cargo.toml lints).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod analysis;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod data;
pub mod engine;
pub mod runner;
pub mod search;
pub mod store;
pub mod ui;
pub mod verify;
