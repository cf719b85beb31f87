//! The verifier-quality dial: with `noisy-oracle` chosen as the verifier, Q (and the blind spot)
//! re-score the finished search on screen at once, with no new generation. The noisy oracle is
//! a function of (seed, problem, prefix), so every node and candidate of the stored search gets
//! the score a verifier of quality Q gives it; the choice, the verdict and the tree's colours
//! follow. The search's path stays the one its own verifier steered: Run searches with Q.

use super::app::App;
use crate::analysis::rescore::rescore;
use crate::analysis::reselect;
use crate::search::{NodeId, SearchTree};
use crate::store::Record;
use crate::verify::noisy::{NoisyOracle, NoisySpec};
use crate::verify::VerifierSpec;

/// The search on screen as its own verifier scored it, kept while the dial shows it re-scored.
#[derive(Debug, Clone)]
pub struct Dial {
    /// The noisy oracle the search on screen is re-scored by.
    pub by: NoisySpec,
    /// The verifier the search ran with.
    pub searched_with: VerifierSpec,
    /// Its record, tree and chosen leaf as the search left them.
    original: Box<(Record, SearchTree, Option<NodeId>)>,
}

impl App {
    /// The noisy oracle the settings ask the finished search on screen to be re-scored by:
    /// the settings' verifier, where it is a noisy oracle other than the one the search ran
    /// with and the search read a verifier.
    fn dial_wanted(&self) -> Option<NoisySpec> {
        if self.running.is_some() {
            return None;
        }
        let VerifierSpec::NoisyOracle(want) = &self.settings.verifier else {
            return None;
        };
        let (config, _) = self.tree_info.as_ref()?.run.as_ref()?;
        self.last.as_ref()?;
        let searched_with = match &self.dial {
            Some(d) => &d.searched_with,
            None => &config.verifier,
        };
        (config.strategy.uses_verifier() && searched_with != &self.settings.verifier)
            .then_some(*want)
    }

    /// Shows the finished search re-scored as the dial says, or as it ran; called after the
    /// settings change and when a search ends.
    pub fn apply_dial(&mut self) {
        let want = self.dial_wanted();
        if want == self.dial.as_ref().map(|d| d.by) {
            return;
        }
        self.rescore_as(want);
        self.refresh_view();
    }

    fn rescore_as(&mut self, want: Option<NoisySpec>) {
        self.dial_error = None;
        if let Some(d) = self.dial.take() {
            let (record, tree, leaf) = *d.original;
            self.last = Some(record);
            self.tree = tree;
            self.chosen_leaf = leaf;
        }
        let Some(spec) = want else {
            return;
        };
        let (Some((config, id)), Some(record)) = (
            self.tree_info.as_ref().and_then(|t| t.run.as_ref()),
            self.last.as_ref(),
        ) else {
            return;
        };
        let Some(problem) = self.problems.iter().find(|p| &p.id == id) else {
            self.dial_error = Some(format!(
                "problem {id} is not in the dataset on screen: the dial cannot re-score it"
            ));
            return;
        };
        let rule = reselect::own_rule(&config.strategy);
        match rescore(
            record,
            &self.tree,
            problem,
            &mut NoisyOracle::new(spec),
            config.strategy.aggregation(),
            rule,
        ) {
            Ok(r) => {
                let leaf = if rule.is_some() {
                    std::mem::replace(&mut self.chosen_leaf, r.chosen_leaf)
                } else {
                    self.chosen_leaf
                };
                let tree = std::mem::replace(&mut self.tree, r.tree);
                if let Some(record) = self.last.replace(r.record) {
                    self.dial = Some(Dial {
                        by: spec,
                        searched_with: config.verifier.clone(),
                        original: Box::new((record, tree, leaf)),
                    });
                }
            }
            Err(e) => {
                self.dial_error = Some(format!(
                    "the dial cannot re-score this search with {}: {e:#}",
                    VerifierSpec::NoisyOracle(spec)
                ))
            }
        }
    }

    /// The dial's line for the summary: what the search on screen is scored by.
    pub fn dial_line(&self) -> Option<String> {
        let d = self.dial.as_ref()?;
        Some(format!(
            "Re-scored by {} from the stored steps, with no new generation: the scores, the \
             choice and the colours are Q = {}'s; the search's path is the one {} steered \
             (Run to search with Q = {})",
            VerifierSpec::NoisyOracle(d.by),
            d.by.q,
            d.searched_with,
            d.by.q
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::reselect::{choose, Selection};
    use crate::engine::{default_policy_dir, ComputeMeter};
    use crate::search::Aggregation;
    use crate::ui::app::tests::beam_searched;
    use crate::ui::app::App;
    use crate::verify::noisy::{NoisyOracle, NoisySpec};
    use crate::verify::{Verifier, VerifierSpec};
    use egui::accesskit::Role;
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;

    /// Presses `key` `times` times on the Q slider.
    fn press(harness: &mut Harness<'_, App>, key: egui::Key, times: usize) {
        for _ in 0..times {
            harness
                .get_by_role_and_label(Role::Slider, "Verifier quality Q")
                .focus();
            harness.run_steps(1);
            harness.key_press(key);
            harness.run_steps(1);
        }
        harness.run_steps(2);
    }

    #[test]
    fn dragging_q_rescores_the_search_on_screen_at_once_and_back_restores_it() {
        // Beam search against the noisy oracle at Q = 0.6 on a level-4 problem.
        let (mut harness, i) = beam_searched("0.6", None);
        let problem = harness.state().problems[i].clone();
        let record = harness.state().last.clone().unwrap();
        let tree = harness.state().tree.clone();
        let leaf = harness.state().chosen_leaf;
        assert!(harness.state().dial.is_none());

        // Q up to 0.9 from the keyboard, as a user drags it: the search is re-scored at once,
        // with no new search.
        press(&mut harness, egui::Key::ArrowRight, 30);
        let app = harness.state();
        let q9 = NoisySpec::parse("0.9").unwrap();
        assert_eq!(app.settings.verifier, VerifierSpec::NoisyOracle(q9));
        assert!(app.running.is_none(), "no new search");
        assert_eq!(app.dial.as_ref().map(|d| d.by), Some(q9));
        let now = app.last.as_ref().unwrap();
        assert_eq!(now.compute, record.compute, "no new generation");
        let mut oracle = NoisyOracle::new(q9);
        for c in &now.candidates {
            let steps: Vec<String> = c.steps.iter().map(|s| s.text.clone()).collect();
            let want = oracle
                .score(&problem, &steps, &mut ComputeMeter::default())
                .unwrap();
            assert_eq!(c.steps.iter().map(|s| s.score).collect::<Vec<_>>(), want);
        }
        // The tree's colours are the new scores: some node changed, and no node's place did.
        assert_eq!(app.tree.nodes.len(), tree.nodes.len());
        assert!(app
            .tree
            .nodes
            .iter()
            .zip(&tree.nodes)
            .any(|(a, b)| a.score != b.score));
        // The choice is the run's own rule's over the new scores, and the tree marks it.
        let pick = choose(&now.candidates, Some((Aggregation::Last, Selection::Vote)));
        assert_eq!(now.chosen, pick);
        assert_eq!(app.chosen_leaf, pick.map(|i| now.candidates[i].leaf));
        let answer = now.answer.clone().unwrap_or_else(|| "none".into());
        harness.get_by_label_contains("Re-scored by noisy-oracle:0.9");
        harness.get_by_label_contains(&format!("chosen answer {answer}:"));

        // Back to the Q the search ran with: exactly the search as it ran.
        press(&mut harness, egui::Key::ArrowLeft, 30);
        let app = harness.state();
        assert!(app.dial.is_none());
        assert_eq!(app.last.as_ref(), Some(&record));
        assert_eq!(app.tree, tree);
        assert_eq!(app.chosen_leaf, leaf);
        assert!(harness.query_by_label_contains("Re-scored by").is_none());

        // A blind spot is another verifier: the search is re-scored by it.
        harness
            .get_by_role_and_label(Role::ComboBox, "Blind spot")
            .click();
        harness.run_steps(2);
        harness.get_by_label("subtraction").click();
        harness.run_steps(2);
        let by = harness.state().dial.as_ref().map(|d| d.by);
        assert_eq!(by, Some(NoisySpec::parse("0.6,blind=subtraction").unwrap()));
        // Another verifier in the list: the search as it ran.
        harness.get_by_label("Verifier").click();
        harness.run_steps(2);
        harness.get_by_label("oracle").click();
        harness.run_steps(2);
        assert!(harness.state().dial.is_none());
        assert_eq!(harness.state().last.as_ref(), Some(&record));
    }

    #[test]
    fn picking_the_noisy_oracle_from_the_list_shows_its_dial() {
        let app = App::new(&egui::Context::default(), default_policy_dir()).unwrap();
        let mut harness = Harness::builder()
            .with_size([1280.0, 720.0])
            .build_ui_state(|ui, app: &mut App| app.show(ui), app);
        harness.run_steps(2);
        assert!(harness
            .query_by_role_and_label(Role::Slider, "Verifier quality Q")
            .is_none());
        harness.get_by_label("Verifier").click();
        harness.run_steps(2);
        harness.get_by_label("noisy-oracle (synthetic)").click();
        harness.run_steps(2);
        assert_eq!(
            harness.state().settings.verifier,
            VerifierSpec::NoisyOracle(NoisySpec::parse("0.8").unwrap())
        );
        harness.get_by_role_and_label(Role::Slider, "Verifier quality Q");
        harness.get_by_role_and_label(Role::ComboBox, "Blind spot");
    }
}
