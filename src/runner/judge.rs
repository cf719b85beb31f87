//! Judges: other verifiers that score exactly the candidates a search's verifier scored, with
//! the same step texts and log-probabilities, without steering the search. `thinkscale
//! evaluate --verifiers` is a sweep whose bank is judged this way; the judgements are kept in
//! each record (`judged`), so the verifier tables are computed from records like every curve.

use crate::data::Problem;
use crate::engine::ComputeMeter;
use crate::store::{Judged, Record};
use crate::verify::{StepText, Verifier};
use std::collections::HashMap;

/// A verifier that answers with `main` and has every judge score the same solutions aside.
pub struct Judging<'a> {
    main: &'a mut dyn Verifier,
    judges: &'a mut [Box<dyn Verifier + Send>],
    /// Per solution (its step texts), each judge's step scores.
    seen: HashMap<Vec<String>, Vec<Vec<f32>>>,
    /// What the judges spent (not the search's compute).
    pub meter: ComputeMeter,
}

impl<'a> Judging<'a> {
    /// `main` steers; `judges` watch.
    pub fn new(main: &'a mut dyn Verifier, judges: &'a mut [Box<dyn Verifier + Send>]) -> Self {
        Self {
            main,
            judges,
            seen: HashMap::new(),
            meter: ComputeMeter::default(),
        }
    }

    /// Attaches the judges' scores of `record`'s candidates to it.
    pub fn attach(&self, record: &mut Record) {
        record.judged = self
            .judges
            .iter()
            .enumerate()
            .map(|(j, v)| Judged {
                verifier: v.name(),
                scores: record
                    .candidates
                    .iter()
                    .map(|c| {
                        let key: Vec<String> = c.steps.iter().map(|s| s.text.clone()).collect();
                        self.seen
                            .get(&key)
                            .and_then(|per| per.get(j).cloned())
                            .unwrap_or_default()
                    })
                    .collect(),
            })
            .collect();
    }
}

impl Verifier for Judging<'_> {
    fn name(&self) -> String {
        self.main.name()
    }

    fn score_many(
        &mut self,
        problem: &Problem,
        solutions: &[&[StepText]],
        meter: &mut ComputeMeter,
    ) -> anyhow::Result<Vec<Vec<f32>>> {
        let out = self.main.score_many(problem, solutions, meter)?;
        let mut per_judge = Vec::with_capacity(self.judges.len());
        for j in self.judges.iter_mut() {
            per_judge.push(j.score_many(problem, solutions, &mut self.meter)?);
        }
        for (i, sol) in solutions.iter().enumerate() {
            let key: Vec<String> = sol.iter().map(|s| s.text.clone()).collect();
            let scores = per_judge
                .iter()
                .map(|p| p.get(i).cloned().unwrap_or_default())
                .collect();
            self.seen.insert(key, scores);
        }
        Ok(out)
    }

    fn start_search(&mut self) {
        self.main.start_search();
        for j in self.judges.iter_mut() {
            j.start_search();
        }
    }
}
