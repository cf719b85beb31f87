//! Re-scoring the search on screen as the dial says ([`crate::ui::state::dial`]).

use super::*;
use crate::analysis::rescore::rescore;
use crate::ui::state::dial::Dial;
use crate::verify::noisy::{NoisyOracle, NoisySpec};

impl App {
    /// The noisy oracle the settings ask the finished search on screen to be re-scored by:
    /// the settings' verifier, where it is a noisy oracle other than the one the search ran
    /// with and the search read a verifier.
    fn dial_wanted(&self) -> Option<NoisySpec> {
        if self.state.running.is_some() {
            return None;
        }
        let VerifierSpec::NoisyOracle(want) = &self.state.settings.verifier else {
            return None;
        };
        let (config, _) = self.state.tree_info.as_ref()?.run.as_ref()?;
        self.state.last.as_ref()?;
        let searched_with = match &self.state.dial {
            Some(d) => &d.searched_with,
            None => &config.verifier,
        };
        (config.strategy.uses_verifier() && searched_with != &self.state.settings.verifier)
            .then_some(*want)
    }

    /// Shows the finished search re-scored as the dial says, or as it ran; called after the
    /// settings change and when a search ends.
    pub fn apply_dial(&mut self) {
        let want = self.dial_wanted();
        if want == self.state.dial.as_ref().map(|d| d.by) {
            return;
        }
        self.rescore_as(want);
        self.refresh_view();
    }

    fn rescore_as(&mut self, want: Option<NoisySpec>) {
        self.state.dial_error = None;
        if let Some(d) = self.state.dial.take() {
            let (record, tree, leaf) = *d.original;
            self.state.last = Some(record);
            self.state.tree = tree;
            self.state.chosen_leaf = leaf;
        }
        let Some(spec) = want else {
            return;
        };
        let (Some((config, id)), Some(record)) = (
            self.state.tree_info.as_ref().and_then(|t| t.run.as_ref()),
            self.state.last.as_ref(),
        ) else {
            return;
        };
        let Some(problem) = self.state.problems.iter().find(|p| &p.id == id) else {
            self.state.dial_error = Some(format!(
                "problem {id} is not in the dataset on screen: the dial cannot re-score it"
            ));
            return;
        };
        let rule = reselect::own_rule(&config.strategy);
        match rescore(
            record,
            &self.state.tree,
            problem,
            &mut NoisyOracle::new(spec),
            config.strategy.aggregation(),
            rule,
        ) {
            Ok(r) => {
                let leaf = if rule.is_some() {
                    std::mem::replace(&mut self.state.chosen_leaf, r.chosen_leaf)
                } else {
                    self.state.chosen_leaf
                };
                let tree = std::mem::replace(&mut self.state.tree, r.tree);
                if let Some(record) = self.state.last.replace(r.record) {
                    self.state.dial = Some(Dial {
                        by: spec,
                        searched_with: config.verifier.clone(),
                        original: Box::new((record, tree, leaf)),
                    });
                }
            }
            Err(e) => {
                self.state.dial_error = Some(format!(
                    "the dial cannot re-score this search with {}: {e:#}",
                    VerifierSpec::NoisyOracle(spec)
                ))
            }
        }
    }
}
