//! `thinkscale revisions`: the sequential:parallel ratio table (Snell et al. 2024, section
//! 6.2). At one budget N, every split of N into P chains of L attempts (N = L x P, from N
//! chains of 1 to 1 chain of N) is run on the same problems, with majority over all attempts
//! and with hierarchical selection by each verifier; accuracy per level says which ratio wins
//! where.

use crate::data::revision::RevisionTemplate;
use crate::data::DatasetSpec;
use crate::engine::{beside_crate, PromptFormat, SamplingParams};
use crate::runner::sweep::{self, BeamWidth, SweepConfig, SweepRun, PAPER_EXCHANGE_RATIOS};
use crate::search::revisions::{attempt_of, RevisionSelection};
use crate::search::select::choose_hierarchical;
use crate::search::spec::DEFAULT_MAX_ROUNDS;
use crate::search::Candidate;
use crate::search::{Aggregation, StrategyKind, StrategySpec};
use crate::store::Record;
use crate::verify::{VerifierList, VerifierSpec};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `revisions`.
#[derive(Debug, Args)]
pub struct RevisionsArgs {
    /// The reviser: a model trained to revise (default: the committed toy reviser,
    /// models/toy/reviser), or any policy with --revision-template prompted.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    #[command(flatten)]
    pub remote: super::remote::RemoteArgs,
    /// Budget N: attempts per problem, split into chains in every way that divides it.
    #[arg(long, default_value_t = 16, value_parser = super::parse_budget)]
    pub budget: usize,
    /// Problems searched at once, their rounds sharing batched policy calls (the records are
    /// those of one at a time). Default: 8 on the local engine, --concurrency with a server. A
    /// small model on the CPU (the toy models) searches them in one group per core, each on
    /// an engine of its own.
    #[arg(long)]
    pub parallel_problems: Option<usize>,
    /// Verifiers of hierarchical selection, comma-separated (see `run --verifier`); majority
    /// over all attempts is always run.
    #[arg(long, value_parser = VerifierSpec::parse_list, default_value = "oracle,toy-prm")]
    pub verifiers: VerifierList,
    /// How step scores become an attempt's score under hierarchical selection.
    #[arg(long, default_value = "last", value_parser = Aggregation::parse)]
    pub aggregation: Aggregation,
    /// How a revision sees earlier attempts: plain (the toy reviser's layout) or prompted.
    #[arg(long, default_value = "plain", value_parser = RevisionTemplate::parse)]
    pub revision_template: RevisionTemplate,
    /// Dataset: `toy` or the path of a JSONL file.
    #[arg(long, default_value = "toy", value_parser = DatasetSpec::parse)]
    pub dataset: DatasetSpec,
    /// At most this many problems (the toy split interleaves levels: 100 is 20 per level).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Most tokens per attempt.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Prompt format: raw, chat or auto.
    #[arg(long, default_value = "auto", value_parser = PromptFormat::parse)]
    pub prompt: PromptFormat,
    /// Device: cpu, cuda:N, metal.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Where the sweep (every ratio; majority's choice in the records, the verifiers' scores
    /// in the candidates and judgements) is written; an interrupted one resumes. Default:
    /// runs/revisions-DATASET-bBUDGET-sSEED.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the table as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Per level (0: all), (right, problems).
pub type LevelCells = BTreeMap<u8, (usize, usize)>;

/// One selection's accuracy per ratio and level.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SelectionTable {
    /// `majority`, or `hierarchical (VERIFIER)`.
    pub selection: String,
    /// Where its sweep is.
    pub dir: PathBuf,
    /// Per chains P (descending: N x 1 first), per level, (right, problems); level 0 is all.
    pub cells: Vec<(usize, LevelCells)>,
}

/// The ratio table: budget, ratios, and a table per selection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RatioTable {
    /// N.
    pub budget: usize,
    /// The sweeps' configurations are in their directories; the seed is here.
    pub seed: u64,
    /// One per selection.
    pub tables: Vec<SelectionTable>,
}

impl RatioTable {
    /// Levels present, in order (without the "all" row).
    fn levels(&self) -> Vec<u8> {
        let mut l: Vec<u8> = self
            .tables
            .iter()
            .flat_map(|t| t.cells.iter().flat_map(|(_, m)| m.keys().copied()))
            .filter(|&l| l > 0)
            .collect();
        l.sort_unstable();
        l.dedup();
        l
    }

    /// The tables as Markdown: per selection, a row per ratio and a column per level (the
    /// best ratio of each level in bold); then the winning ratio per level and selection.
    pub fn markdown(&self) -> String {
        let levels = self.levels();
        let acc = |c: Option<&(usize, usize)>| c.map(|&(r, n)| r as f64 / n.max(1) as f64);
        let ratio = |p: usize| format!("{}:{}", self.budget / p, p);
        let mut s = String::new();
        let mut winners: Vec<(String, Vec<String>)> = Vec::new();
        for t in &self.tables {
            s.push_str(&format!(
                "\n{} — accuracy at N = {} (L:P = attempts per chain : chains)\n\n| L:P |",
                t.selection, self.budget
            ));
            for l in &levels {
                s.push_str(&format!(" level {l} |"));
            }
            s.push_str(" all |\n|---|");
            s.push_str(&"---|".repeat(levels.len() + 1));
            s.push('\n');
            let best: Vec<f64> = levels
                .iter()
                .chain(std::iter::once(&0))
                .map(|l| {
                    t.cells
                        .iter()
                        .filter_map(|(_, m)| acc(m.get(l)))
                        .fold(f64::NEG_INFINITY, f64::max)
                })
                .collect();
            for (p, m) in &t.cells {
                s.push_str(&format!("| {} |", ratio(*p)));
                for (i, l) in levels.iter().chain(std::iter::once(&0)).enumerate() {
                    match acc(m.get(l)) {
                        Some(a) if (a - best[i]).abs() < 1e-12 => {
                            s.push_str(&format!(" **{a:.2}** |"))
                        }
                        Some(a) => s.push_str(&format!(" {a:.2} |")),
                        None => s.push_str(" – |"),
                    }
                }
                s.push('\n');
            }
            // The winning ratios per level: every ratio tied at the best.
            let per_level = levels
                .iter()
                .chain(std::iter::once(&0))
                .enumerate()
                .map(|(i, l)| {
                    t.cells
                        .iter()
                        .filter(|(_, m)| acc(m.get(l)).is_some_and(|a| (a - best[i]).abs() < 1e-12))
                        .map(|(p, _)| ratio(*p))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            winners.push((t.selection.clone(), per_level));
        }
        s.push_str("\nthe best L:P per level (ties listed)\n\n| selection |");
        for l in &levels {
            s.push_str(&format!(" level {l} |"));
        }
        s.push_str(" all |\n|---|");
        s.push_str(&"---|".repeat(levels.len() + 1));
        s.push('\n');
        for (name, w) in winners {
            s.push_str(&format!("| {name} |"));
            for x in w {
                s.push_str(&format!(" {x} |"));
            }
            s.push('\n');
        }
        s
    }
}

/// Whether each selection is right on one record of a revisions run chosen by majority: the
/// run's own choice, then hierarchical selection by the run's verifier (the candidates'
/// scores) and by each judge (`verifiers - 1` of them, in order), step scores aggregated by
/// `aggregation`.
pub fn selections_right(record: &Record, aggregation: Aggregation, verifiers: usize) -> Vec<bool> {
    let tree = record.tree.as_ref();
    let chain_of = |c: &Candidate| {
        tree.and_then(|t| attempt_of(t, c.leaf))
            .map_or(0, |(chain, _)| chain)
    };
    let mut out = vec![record.correct];
    for v in 0..verifiers {
        let scored: Vec<Candidate> = record
            .candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                if v > 0 {
                    let steps = record
                        .judged
                        .get(v - 1)
                        .and_then(|j| j.scores.get(i))
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    c.score = aggregation.apply(steps);
                }
                c
            })
            .collect();
        let mut chains: BTreeMap<usize, Vec<Candidate>> = BTreeMap::new();
        for c in scored {
            chains.entry(chain_of(&c)).or_default().push(c);
        }
        let chains: Vec<Vec<Candidate>> = chains.into_values().collect();
        let ok = choose_hierarchical(&chains)
            .and_then(|(c, i)| chains[c][i].correct)
            .unwrap_or(false);
        out.push(ok);
    }
    out
}

/// The divisors of `n`, largest first: the chain counts P from N chains of 1 to 1 chain of N.
pub fn chain_counts(n: usize) -> Vec<usize> {
    (1..=n).rev().filter(|p| n.is_multiple_of(*p)).collect()
}

/// Runs `revisions`.
pub fn run(a: RevisionsArgs) -> anyhow::Result<ExitCode> {
    if a.budget == 0 {
        anyhow::bail!("--budget must be at least 1");
    }
    let policy = a
        .policy
        .clone()
        .unwrap_or_else(|| beside_crate("models/toy/reviser"));
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "runs/revisions-{}-b{}-s{}",
            a.dataset.short_name(),
            a.budget,
            a.seed
        ))
    });
    let chains = chain_counts(a.budget);
    let Some((steering, judges)) = a.verifiers.0.split_first() else {
        anyhow::bail!("--verifiers: give at least one verifier (hierarchical selection needs one)");
    };
    // One sweep: every ratio, chosen by majority; the attempts do not depend on the verifier,
    // so each verifier's hierarchical choice is made from the same attempts, the first
    // verifier's scores kept in the candidates and the others' as judgements.
    let config = SweepConfig {
        dataset: a.dataset.clone(),
        levels: Vec::new(),
        problem_ids: Vec::new(),
        limit: Some(a.limit),
        policy: policy.clone(),
        remote: a.remote.options(),
        verifier: steering.clone(),
        strategies: vec![StrategyKind::Revisions],
        budgets: vec![a.budget],
        beam_widths: Vec::new(),
        lookaheads: Vec::new(),
        chains: chains.iter().map(|&p| BeamWidth::Fixed(p)).collect(),
        revision_selection: RevisionSelection::Majority,
        revision_template: a.revision_template,
        adaptive: Default::default(),
        rebase_temperature: Default::default(),
        resample_temperature: Default::default(),
        mcts: vec![Default::default()],
        max_rounds: DEFAULT_MAX_ROUNDS,
        aggregation: a.aggregation,
        seeds: vec![a.seed],
        draws: 1,
        bin_samples: 0,
        sampling: SamplingParams {
            temperature: a.temperature,
            max_tokens: a.max_tokens,
            ..Default::default()
        },
        step_delimiter: "\n".into(),
        prompt: a.prompt,
        device: a.device.clone(),
        dtype: "f32".into(),
        larger_policy: None,
        larger_typed: None,
        exchange_ratios: PAPER_EXCHANGE_RATIOS.to_vec(),
        shared_bank: true,
        judges: judges.to_vec(),
        greedy: false,
    };
    let resume = out.join("sweep.json").exists();
    let outcome = super::sweep::run_with_progress(&config, &out, resume, a.parallel_problems)?;
    if let Some(code) = super::sweep::interrupted(&outcome, &out) {
        return Ok(code);
    }
    let (_, records) = sweep::load(&out)?;
    let names: Vec<String> = std::iter::once("majority".to_string())
        .chain(a.verifiers.0.iter().map(|v| format!("hierarchical ({v})")))
        .collect();
    let mut tables: Vec<SelectionTable> = names
        .into_iter()
        .map(|selection| SelectionTable {
            selection,
            dir: out.clone(),
            cells: chains.iter().map(|&p| (p, BTreeMap::new())).collect(),
        })
        .collect();
    for r in &records {
        let SweepRun::Search {
            strategy: StrategySpec::Revisions { chains: p, .. },
            ..
        } = r.run
        else {
            continue;
        };
        let right = selections_right(&r.record, a.aggregation, a.verifiers.0.len());
        for (t, ok) in tables.iter_mut().zip(right) {
            let Some((_, m)) = t.cells.iter_mut().find(|(q, _)| *q == p) else {
                continue;
            };
            // Its level's cell and the "all" cell (0); a problem without a level counts in
            // "all" alone.
            for level in r.record.level.filter(|&l| l > 0).into_iter().chain([0]) {
                let cell = m.entry(level).or_insert((0, 0));
                cell.0 += usize::from(ok);
                cell.1 += 1;
            }
        }
    }
    let table = RatioTable {
        budget: a.budget,
        seed: a.seed,
        tables,
    };
    println!(
        "sequential revisions with {} on {} ({} problems, seed {})",
        policy.display(),
        a.dataset,
        a.limit,
        a.seed
    );
    print!("{}", table.markdown());
    crate::io::write_json(&out.join("ratios.json"), &table)?;
    if let Some(path) = &a.json {
        crate::io::write_json(path, &table)?;
    }
    println!("records: {}", out.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_verifiers_hierarchical_choice_is_made_from_the_same_attempts() {
        use crate::search::{SearchEvent, SearchTree};
        use crate::store::Judged;
        // Two chains of two attempts, answers 5, 7 | 7, 6; the reference is 7 and majority
        // chose it. Each attempt is one step under its chain's attempt node.
        let mut tree = SearchTree::new("q");
        let mut leaves = Vec::new();
        for chain in 1..=2 {
            let mut head = SearchTree::ROOT;
            for k in 1..=2 {
                let label = crate::search::revisions::attempt_label(chain, k);
                let SearchEvent::NodeAdded { id, .. } = tree.add_step(head, &label, 0, k) else {
                    unreachable!()
                };
                head = id;
                let SearchEvent::NodeAdded { id, .. } = tree.add_step(head, "x", 1, k) else {
                    unreachable!()
                };
                leaves.push(id);
            }
        }
        let cand = |answer: &str, score: f32, leaf: usize| Candidate {
            steps: Vec::new(),
            answer: Some(answer.into()),
            correct: Some(answer == "7"),
            score,
            tokens: 1,
            leaf,
        };
        // The run's verifier: chain 1 says "5" (0.9 against 0.2), chain 2 says "6" (0.8
        // against 0.1); across, "5" wins. The judge: chain 1 "7" (0.6), chain 2 "7" (0.9).
        let record = Record {
            id: "p".into(),
            level: Some(1),
            question: "q".into(),
            reference: "7".into(),
            answer: Some("7".into()),
            correct: true,
            candidates: vec![
                cand("5", 0.9, leaves[0]),
                cand("7", 0.2, leaves[1]),
                cand("7", 0.1, leaves[2]),
                cand("6", 0.8, leaves[3]),
            ],
            compute: Default::default(),
            seed: 0,
            tree: Some(tree),
            chosen: Some(1),
            judged: vec![Judged {
                verifier: "judge".into(),
                scores: vec![vec![0.3], vec![0.6], vec![0.9], vec![0.2]],
            }],
        };
        assert_eq!(
            selections_right(&record, Aggregation::Last, 2),
            [true, false, true]
        );
    }

    #[test]
    fn every_split_of_the_budget_is_a_ratio_and_the_table_marks_the_winners() {
        assert_eq!(chain_counts(16), [16, 8, 4, 2, 1]);
        assert_eq!(chain_counts(6), [6, 3, 2, 1]);
        let cells = |a: [(usize, usize); 2]| -> LevelCells {
            [
                (1, a[0]),
                (2, a[1]),
                (0, (a[0].0 + a[1].0, a[0].1 + a[1].1)),
            ]
            .into_iter()
            .collect()
        };
        let table = RatioTable {
            budget: 4,
            seed: 0,
            tables: vec![SelectionTable {
                selection: "majority".into(),
                dir: PathBuf::new(),
                cells: vec![
                    (4, cells([(3, 4), (1, 4)])),
                    (2, cells([(4, 4), (2, 4)])),
                    (1, cells([(4, 4), (1, 4)])),
                ],
            }],
        };
        let md = table.markdown();
        assert!(md.contains("| 1:4 | 0.75 | 0.25 | 0.50 |"), "{md}");
        assert!(
            md.contains("| 2:2 | **1.00** | **0.50** | **0.75** |"),
            "{md}"
        );
        assert!(md.contains("| 4:1 | **1.00** | 0.25 | 0.62 |"), "{md}");
        assert!(md.contains("| majority | 2:2, 4:1 | 2:2 | 2:2 |"), "{md}");
    }
}
