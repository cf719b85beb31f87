//! The window's panels, one per file; each reads the state ([`crate::ui::state::State`]) and pushes
//! commands; none sees the app or its worker.

pub mod compare;
pub mod controls;
pub mod files;
pub mod node;
pub mod plots;
pub mod problems;
pub mod replay;
pub mod step_scores;
pub mod summary;
pub mod tree_view;
