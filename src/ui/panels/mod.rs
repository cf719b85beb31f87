//! The window's panels, one per file; each reads the app and pushes commands.

pub mod controls;
pub mod node;
pub mod plots;
pub mod problems;
pub mod step_scores;
pub mod summary;
pub mod tree_view;
