//! Problems and where they come from.
//!
//! A [`Problem`] is one question with a reference answer. The only dataset so far is the
//! built-in synthetic task ([`toy`]): seeded arithmetic with five difficulty levels and an exact
//! step checker, which doubles as the oracle verifier.

pub mod jsonl;
pub mod revision;
pub mod toy;

use serde::{Deserialize, Serialize};

/// One problem of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// Stable identifier, unique within its dataset (e.g. `toy-L3-042`).
    pub id: String,
    /// The question as the policy sees it.
    pub question: String,
    /// The reference final answer.
    pub answer: String,
    /// The dataset's own difficulty level (1..=5 for the toy task), if it has one.
    pub level: Option<u8>,
    /// Subject or category, if the dataset has one.
    pub subject: String,
}

/// Which problems a run uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DatasetSpec {
    /// The fixed evaluation split of the synthetic arithmetic task (500 problems).
    Toy,
    /// A JSONL file (MATH500, GSM8K, or mapped fields).
    Jsonl {
        /// The file.
        path: std::path::PathBuf,
        /// Its format; `None` guesses from the first line.
        format: Option<jsonl::JsonlFormat>,
        /// Skip bad lines (reported) instead of failing.
        skip_bad_lines: bool,
    },
}

impl DatasetSpec {
    /// Parses a `--dataset` value: `toy` or the path of a JSONL file.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "toy" => Ok(Self::Toy),
            path if path.ends_with(".jsonl") || std::path::Path::new(path).is_file() => {
                Ok(Self::Jsonl {
                    path: path.into(),
                    format: None,
                    skip_bad_lines: false,
                })
            }
            other => Err(format!(
                "unknown dataset '{other}': use toy or the path of a .jsonl file"
            )),
        }
    }

    /// Loads the problems; skipped bad lines (with `skip_bad_lines`) are returned too.
    pub fn load(&self) -> Result<jsonl::Loaded, jsonl::JsonlError> {
        match self {
            Self::Toy => Ok(jsonl::Loaded {
                problems: toy::eval_split(),
                skipped: Vec::new(),
            }),
            Self::Jsonl {
                path,
                format,
                skip_bad_lines,
            } => jsonl::load(path, format.as_ref(), *skip_bad_lines),
        }
    }

    /// The same dataset with a format and the bad-line policy set (for JSONL files).
    pub fn with_options(self, format: Option<jsonl::JsonlFormat>, skip_bad_lines: bool) -> Self {
        match self {
            Self::Jsonl { path, .. } => Self::Jsonl {
                path,
                format,
                skip_bad_lines,
            },
            toy => toy,
        }
    }
}

impl std::fmt::Display for DatasetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Toy => write!(f, "toy"),
            Self::Jsonl { path, .. } => write!(f, "{}", path.display()),
        }
    }
}

impl DatasetSpec {
    /// A short name for default output directories.
    pub fn short_name(&self) -> String {
        match self {
            Self::Toy => "toy".into(),
            Self::Jsonl { path, .. } => path
                .file_stem()
                .map_or("jsonl".into(), |s| s.to_string_lossy().into_owned()),
        }
    }
}

/// The seed of one problem's search: a mix of the run's seed and the problem id, so a problem's
/// result does not depend on which other problems the run includes.
pub fn problem_seed(seed: u64, id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in id.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    splitmix(h)
}

/// The seed of the steps sampled in `round` from the tree node `parent` of a search seeded
/// `seed` (child `i` of the expansion then draws from stream `i` of it). The first round from
/// the root uses `seed` itself, so every strategy's first samples are the very samples
/// best-of-N draws; every other (round, parent) gets its own seed, so a step never depends on
/// which other prefixes were expanded in the same batch.
pub fn step_seed(seed: u64, round: usize, parent: usize) -> u64 {
    if round <= 1 && parent == 0 {
        return seed;
    }
    splitmix(splitmix(seed ^ (round as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) ^ parent as u64)
}

/// The splitmix64 finaliser: a bijective mix of 64 bits.
fn splitmix(mut h: u64) -> u64 {
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod seed_tests {
    use super::*;

    #[test]
    fn problem_seeds_are_stable_and_distinct() {
        assert_eq!(problem_seed(0, "toy-L1-000"), problem_seed(0, "toy-L1-000"));
        assert_ne!(problem_seed(0, "toy-L1-000"), problem_seed(1, "toy-L1-000"));
        assert_ne!(problem_seed(0, "toy-L1-000"), problem_seed(0, "toy-L1-001"));
    }

    #[test]
    fn step_seeds_differ_by_round_and_parent() {
        assert_eq!(step_seed(7, 1, 0), 7);
        let seeds = [
            step_seed(7, 2, 0),
            step_seed(7, 1, 3),
            step_seed(7, 2, 3),
            step_seed(7, 3, 3),
            step_seed(8, 2, 3),
        ];
        for (i, a) in seeds.iter().enumerate() {
            for b in &seeds[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
