//! Run records on disk: `config.json` (the full run configuration), `records.jsonl` (one line
//! per problem, appended and flushed as each finishes, so an interrupted run keeps every
//! finished problem) and `summary.json`.

use crate::engine::ComputeMeter;
use crate::io::read_jsonl;
use crate::search::{Candidate, SearchTree};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One problem's result: a line of `records.jsonl`. The names `id`, `level`, `answer`, `correct`
/// and `candidates` are stable; other tools read them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Problem id.
    pub id: String,
    /// The dataset's level, if any.
    pub level: Option<u8>,
    /// The question.
    pub question: String,
    /// The reference answer.
    pub reference: String,
    /// The chosen answer.
    pub answer: Option<String>,
    /// Whether the chosen answer is right (`false` when there is none).
    pub correct: bool,
    /// Every candidate with its steps, step scores and token counts.
    pub candidates: Vec<Candidate>,
    /// Compute used on this problem.
    pub compute: ComputeMeter,
    /// The seed this problem's search used.
    pub seed: u64,
    /// The whole search tree: every step with its score, the round that made it, the round
    /// that pruned it, and the finished leaves graded, so a window can replay the search.
    /// (Records written before trees were kept have none.)
    #[serde(default)]
    pub tree: Option<SearchTree>,
    /// Index into `candidates` of one candidate that carries the chosen answer.
    #[serde(default)]
    pub chosen: Option<usize>,
    /// Other verifiers' step scores of the same candidates (a sweep's `judges`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub judged: Vec<Judged>,
}

/// One verifier's judgement of a record's candidates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    /// The verifier.
    pub verifier: String,
    /// Per candidate (in the record's order), a score per step.
    pub scores: Vec<Vec<f32>>,
}

/// Accuracy of one group of problems.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LevelSummary {
    /// Problems.
    pub n: usize,
    /// Problems answered right.
    pub correct: usize,
    /// `correct / n`.
    pub accuracy: f64,
}

/// `summary.json`: accuracy overall and per level, and compute. `accuracy` (0..1) and
/// `per_level` are stable names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Fraction of problems answered right.
    pub accuracy: f64,
    /// Problems done.
    pub n: usize,
    /// Problems answered right.
    pub correct: usize,
    /// Per level, keyed by the level number (`"none"` for problems without one).
    pub per_level: BTreeMap<String, LevelSummary>,
    /// Total compute.
    pub compute: ComputeMeter,
    /// Whether every problem of the run was done (false after an interruption).
    pub complete: bool,
    /// Wall-clock seconds (not reproducible; everything else is).
    pub elapsed_s: f64,
}

impl Summary {
    /// Summarises records.
    pub fn from_records(records: &[Record], complete: bool, elapsed_s: f64) -> Self {
        let mut s = Summary {
            complete,
            elapsed_s,
            ..Default::default()
        };
        for r in records {
            s.n += 1;
            s.correct += r.correct as usize;
            s.compute.add(&r.compute);
            let key = r
                .level
                .map_or_else(|| "none".to_string(), |l| l.to_string());
            let l = s.per_level.entry(key).or_default();
            l.n += 1;
            l.correct += r.correct as usize;
        }
        s.accuracy = ratio(s.correct, s.n);
        for l in s.per_level.values_mut() {
            l.accuracy = ratio(l.correct, l.n);
        }
        s
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Reads `records.jsonl`; a malformed line is an error naming the file and line.
pub fn read_records(path: &Path) -> anyhow::Result<Vec<Record>> {
    read_jsonl(path, "malformed record")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::JsonlAppender;

    fn rec(id: &str, level: u8, correct: bool) -> Record {
        Record {
            id: id.into(),
            level: Some(level),
            question: "1+1".into(),
            reference: "2".into(),
            answer: Some("2".into()),
            correct,
            candidates: vec![],
            compute: ComputeMeter {
                generated_tokens: 10,
                ..Default::default()
            },
            seed: 1,
            tree: None,
            chosen: None,
            judged: vec![],
        }
    }

    #[test]
    fn records_append_and_read_back_and_summaries_count() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut file = JsonlAppender::open(&dir.join("records.jsonl")).unwrap();
        let recs = vec![rec("a", 1, true), rec("b", 1, false), rec("c", 2, true)];
        for r in &recs {
            file.append(r).unwrap();
        }
        assert_eq!(read_records(&dir.join("records.jsonl")).unwrap(), recs);
        let s = Summary::from_records(&recs, true, 0.0);
        assert!((s.accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.per_level["1"].accuracy, 0.5);
        assert_eq!(s.compute.generated_tokens, 30);
        std::fs::write(dir.join("bad.jsonl"), "{\"id\":1}\n").unwrap();
        let err = read_records(&dir.join("bad.jsonl")).unwrap_err();
        assert!(format!("{err:#}").contains("bad.jsonl:1"));
    }
}
