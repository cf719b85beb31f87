//! Problems and where they come from.
//!
//! A [`Problem`] is one question with a reference answer. The only dataset so far is the
//! built-in synthetic task ([`toy`]): seeded arithmetic with five difficulty levels and an exact
//! step checker, which doubles as the oracle verifier.

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
#[serde(rename_all = "kebab-case")]
pub enum DatasetSpec {
    /// The fixed evaluation split of the synthetic arithmetic task (500 problems).
    Toy,
}

impl DatasetSpec {
    /// Parses a `--dataset` value.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "toy" => Ok(Self::Toy),
            other => Err(format!("unknown dataset '{other}': the datasets are: toy")),
        }
    }

    /// Loads the problems.
    pub fn load(&self) -> Vec<Problem> {
        match self {
            Self::Toy => toy::eval_split(),
        }
    }
}

impl std::fmt::Display for DatasetSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Toy => write!(f, "toy"),
        }
    }
}
