//! How earlier attempts at a question are laid out before a revision (Snell et al. 2024,
//! section 6): the text that follows the prompt and precedes the new attempt. The trained toy
//! reviser (`thinkscale train reviser`) learns this layout, and the revisions strategy writes
//! it, so both read it from here.
//!
//! Two templates:
//! - `plain`: each earlier attempt, oldest first, followed by a blank line. The toy reviser is
//!   trained on it; a model never trained on it just sees solutions one after another.
//! - `prompted`: for models that were not fine-tuned to revise: each attempt is headed
//!   "Attempt n:", and a closing sentence asks for a corrected solution. It is a prompt, not a
//!   trained skill, and weaker than a fine-tuned reviser.

use serde::{Deserialize, Serialize};

/// The most recent attempts a revision sees (the paper's 4).
pub const WINDOW: usize = 4;

/// What separates attempts in the `plain` layout.
pub const SEPARATOR: &str = "\n\n";

/// How earlier attempts are laid out before a revision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevisionTemplate {
    /// Each attempt followed by a blank line: the layout the toy reviser is trained on.
    #[default]
    Plain,
    /// Each attempt headed "Attempt n:", then a request to correct them.
    Prompted,
}

impl RevisionTemplate {
    /// The names flags take.
    pub const NAMES: &'static str = "plain, prompted";

    /// The name as flags and files spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Prompted => "prompted",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "plain" => Ok(Self::Plain),
            "prompted" => Ok(Self::Prompted),
            _ => Err(format!(
                "unknown revision template '{s}': the templates are {}",
                Self::NAMES
            )),
        }
    }

    /// The text before a new attempt, given the earlier attempts of its chain (oldest first):
    /// the most recent [`WINDOW`] of them, laid out by this template. No attempts: no text (a
    /// chain's first attempt is a plain sample).
    pub fn context<S: AsRef<str>>(self, attempts: &[S]) -> String {
        let recent = &attempts[attempts.len().saturating_sub(WINDOW)..];
        if recent.is_empty() {
            return String::new();
        }
        let mut out = String::new();
        for (n, a) in recent.iter().enumerate() {
            let a = a.as_ref().trim_end();
            match self {
                Self::Plain => out.push_str(a),
                Self::Prompted => out.push_str(&format!("Attempt {}:\n{a}", n + 1)),
            }
            out.push_str(SEPARATOR);
        }
        if self == Self::Prompted {
            out.push_str(
                "The attempts above may contain mistakes. Check each step, then write a \
                 corrected step-by-step solution.\n",
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revision_sees_the_four_most_recent_attempts_of_its_chain() {
        let attempts = ["a\n\\boxed{1}\n", "b", "c", "d", "e"];
        assert_eq!(RevisionTemplate::Plain.context::<&str>(&[]), "");
        assert_eq!(
            RevisionTemplate::Plain.context(&attempts[..2]),
            "a\n\\boxed{1}\n\nb\n\n"
        );
        // The fifth attempt pushes the first out of the window.
        assert_eq!(
            RevisionTemplate::Plain.context(&attempts),
            "b\n\nc\n\nd\n\ne\n\n"
        );
        let p = RevisionTemplate::Prompted.context(&attempts[3..]);
        assert!(p.starts_with("Attempt 1:\nd\n\nAttempt 2:\ne\n\n"), "{p}");
        assert!(p.ends_with("solution.\n"));
        for t in [RevisionTemplate::Plain, RevisionTemplate::Prompted] {
            assert_eq!(RevisionTemplate::parse(t.as_str()), Ok(t));
        }
        assert!(RevisionTemplate::parse("chat").is_err());
    }
}
