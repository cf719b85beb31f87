//! Replaying and filtering the tree on screen, and showing stored searches
//! ([`crate::ui::state::replay`]).

use super::*;
use crate::ui::layout::layout;
use crate::ui::state::replay::Derived;

impl App {
    /// Shows the search on screen at the end of `round` (`None`, or a round at or past the
    /// last: as it is now, following a live search).
    pub fn set_replay(&mut self, round: Option<usize>) {
        self.replay = round.filter(|&r| r < self.tree.rounds());
        self.refresh_view();
    }

    /// Shows only the wrong candidates' paths, or everything.
    pub fn set_wrong_only(&mut self, on: bool) {
        self.wrong_only = on;
        self.refresh_view();
    }

    /// Makes the tree the view shows again after the tree, the round or the filter changed.
    pub fn refresh_view(&mut self) {
        self.derived = if self.replay.is_none() && !self.wrong_only {
            None
        } else {
            let mut tree = match self.replay {
                Some(r) => self.tree.at_round(r),
                None => self.tree.clone(),
            };
            if self.wrong_only {
                tree = tree.only_wrong();
            }
            let layout = layout(&tree, &self.collapsed);
            let steps = tree.reachable().len() - 1;
            Some(Derived {
                tree,
                layout,
                steps,
            })
        };
    }

    /// Shows record `k` of the open sweep as the search on screen, with its tree, choice and
    /// configuration, ready to replay.
    pub fn show_stored(&mut self, k: usize) {
        let Some(sweep) = self.sweep.clone() else {
            return;
        };
        let Some(stored) = sweep.records.get(k) else {
            return;
        };
        let record = &stored.record;
        let Some(tree) = record.tree.clone() else {
            self.error = Some(format!(
                "{}: the record of {} under {} has no tree (written before trees were kept)",
                sweep.dir.display(),
                record.id,
                stored.run
            ));
            return;
        };
        if self.running.is_some() {
            self.error = Some("a search is running: stop it to show a stored one".into());
            return;
        }
        if let Some(i) = self.problems.iter().position(|p| p.id == record.id) {
            self.selected = Some(i);
        }
        let config = sweep.manifest.config.run_config(&stored.run);
        self.fresh_tree(&record.question);
        self.tree = tree;
        self.chosen_leaf = record
            .chosen
            .and_then(|i| record.candidates.get(i))
            .map(|c| c.leaf);
        self.last = Some(record.clone());
        self.tree_info = Some(TreeInfo {
            header: format!(
                "stored: {} · verifier {} · from {}",
                stored.run,
                config.verifier,
                sweep.dir.display()
            ),
            scored: config.strategy.uses_verifier(),
            run: Some((Box::new(config), record.id.clone())),
        });
        self.stored = Some(k);
        self.view = View::Tree;
        self.after_tree_change();
    }
}
