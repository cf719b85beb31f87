//! Problems and where they come from.
//!
//! A [`Problem`] is one question with a reference answer. The only dataset so far is the
//! built-in synthetic task ([`toy`]): seeded arithmetic with five difficulty levels and an exact
//! step checker, which doubles as the oracle verifier.

pub mod jsonl;
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
