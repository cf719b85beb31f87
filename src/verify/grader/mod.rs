//! Answer extraction and equivalence.
//!
//! Rules, each with an example:
//! - the final answer is the content of the last `\boxed{...}` (braces balanced):
//!   `... \boxed{12}` → `12`; text without a box has no answer;
//! - two answers that both evaluate as integer expressions are equal when their values are:
//!   `012` = `12`, `3*4` = `12`;
//! - two decimal numbers are equal within a relative 1e-9: `0.50` = `.5`;
//! - otherwise they are equal when they match with white space removed: `x + 1` = `x+1`.

pub mod expr;
pub mod rational;

use crate::data::toy;

/// The final answer of a solution: the content of its last `\boxed{}`.
pub fn extract_answer(text: &str) -> Option<String> {
    toy::extract_boxed(text).filter(|a| !a.is_empty())
}

/// Whether a predicted answer is equivalent to the reference (see the module's rules).
pub fn equivalent(reference: &str, predicted: &str) -> bool {
    if let (Some(a), Some(b)) = (toy::evaluate(reference), toy::evaluate(predicted)) {
        return a == b;
    }
    if let (Ok(a), Ok(b)) = (
        reference.trim().parse::<f64>(),
        predicted.trim().parse::<f64>(),
    ) {
        if a.is_finite() && b.is_finite() {
            return (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
        }
    }
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    squash(reference) == squash(predicted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_hold_with_their_examples() {
        assert_eq!(extract_answer("so \\boxed{12}").as_deref(), Some("12"));
        assert_eq!(extract_answer("no box"), None);
        assert_eq!(extract_answer("\\boxed{}"), None);
        assert!(equivalent("12", "012"));
        assert!(equivalent("12", "3*4"));
        assert!(equivalent("0.50", ".5"));
        assert!(equivalent("x + 1", "x+1"));
        assert!(!equivalent("12", "13"));
        assert!(!equivalent("x", "y"));
    }
}
