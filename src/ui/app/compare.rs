//! Pinning a search to compare ([`crate::ui::state::compare`]).

use super::*;
use crate::ui::layout::Camera;
use crate::ui::state::compare::Pinned;

impl App {
    /// Pins the finished search on screen (as the dial and the selection switch show it).
    pub fn pin(&mut self) {
        let Some(record) = self.last.clone() else {
            return;
        };
        if self.running.is_some() {
            return;
        }
        self.pinned = Some(Box::new(Pinned {
            tree: self.tree.clone(),
            layout: self.tree_layout.clone(),
            camera: Camera::default(),
            info: self.tree_info.clone(),
            record,
            chosen: self.shown_chosen_leaf(),
        }));
    }
}
