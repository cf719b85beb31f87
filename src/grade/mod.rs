//! The answer grader: finds the final answer in a solution and decides whether it is
//! equivalent to the reference, the way the MATH grader (Hendrycks et al., `math_equivalence`)
//! and PRM800K's `grader.py` do, but with exact arithmetic instead of sympy.
//! `thinkscale grade GOLD PRED` runs it from the command line.
//!
//! # Extraction ([`extract_answer`], [`extract`])
//!
//! Rules are tried in this order; the first that finds a non-empty answer wins
//! ([`ExtractOptions`] turns each on or off):
//! 1. **boxed** — the content of the last `\boxed{...}` or `\fbox{...}`, braces balanced:
//!    `... so \boxed{\frac{1}{2}}` → `\frac{1}{2}`. If the last box is not closed (a cut-off
//!    solution), this rule finds nothing. With no braced box, `$\boxed 5$` → `5`.
//! 2. **answer phrase** — after the last "answer is" or "answer:" (any case): a `$...$` right
//!    after it, else the rest of the sentence: `The final answer is $12$. I hope it is
//!    correct.` → `12`; `So the answer is 3.5.` → `3.5`.
//! 3. **GSM8K** — the rest of the line after the last `####`: `#### 1,000` → `1,000`.
//! 4. **last number** (off by default) — `... 3 apples and -4.5 pears` → `-4.5`.
//!
//! [`extract_answer`] uses the default options: all but the last number. A solution cut off
//! before its answer then has no answer (it cannot vote in majority voting), instead of
//! answering with whatever number it stopped at. The toy task's solutions end in `\boxed{N}`
//! and its vocabulary has no other marker, so its grading is exactly the old box-only rule.
//!
//! # Normalisation ([`normalize`])
//!
//! Both answers are rewritten before they are compared:
//! - math delimiters and wrappers go: `$x$`, `\(x\)`, `\boxed{x}` → `x`;
//! - `\dfrac`, `\tfrac` and `\cfrac` are `\frac`, `\dbinom` and `\tbinom` are `\binom`:
//!   `\dfrac12` = `\frac{1}{2}`;
//! - `\left`, `\right`, `\big` and friends, `\displaystyle` go: `\left(1,2\right]` = `(1,2]`;
//! - spacing goes: `\!`, `\,`, `\;`, `\:`, `\ `, `~`, `\quad` and white space:
//!   `1,\!000` = `1000`, `x + 1` = `x+1`;
//! - degrees go: `90^\circ` = `90^{\circ}` = `90°` = `90`;
//! - percent and dollar signs go: `10\%` = `10` (not `0.1`, as in the MATH grader), `\$5` = `5`;
//! - `\text{...}` (and `\textbf`, `\mbox`, `\mathrm`...) is unwrapped: `\text{(A)}` = `(A)`;
//! - trailing units go when something is left: `5\text{ cm}` = `5 cm` = `5`,
//!   `12 square feet` = `12`, `3\text{ cm}^2` = `3` (the word list follows PRM800K: lengths,
//!   times, degrees, dollars, units...); `\text{second}` alone stays;
//! - thousands separators go outside brackets: `1,000` = `1000`, `12,345.5` = `12345.5`;
//!   `(1,100)` and `[0,100]` keep their commas;
//! - mixed numbers are whole plus fraction: `2 1/2` = `2\frac{1}{2}` = `5/2`;
//! - a variable prefix goes: `x = 3` = `3`, `x \in (0,1)` = `(0,1)`, `(x,y) = (1,2)` = `(1,2)`;
//! - `\frac12` = `\frac{1}{2}`, `\sqrt3` = `\sqrt{3}`; `\\frac` (a doubled backslash) = `\frac`;
//! - a trailing period goes: `42.` = `42`;
//! - Unicode math is LaTeX: `π` = `\pi`, `−1` = `-1`, `∞` = `\infty`.
//!
//! # Structure
//!
//! A normalised answer is split, outside brackets, into one of:
//! - **tuples and intervals**, in order, brackets must match: `(1,2)` ≠ `(2,1)`;
//!   `(1,2]` = `(1, 2]` but ≠ `[1,2]`; `(-\infty, 3)` is an interval; `\langle 1,2\rangle` =
//!   `(1,2)`;
//! - **sets and lists**, in any order: `\{1,2\}` = `{2,1}` = `2, 1` = `1 \text{ and } 2`;
//!   `\pm` makes two items: `1 \pm \sqrt{2}` = `1-\sqrt{2}, 1+\sqrt{2}`; a one-item set is its
//!   item: `\{5\}` = `5`;
//! - **unions**, in any order: `(1,2) \cup (3,4)` = `(3,4) \cup (1,2)`;
//! - **matrices** (`pmatrix`, `bmatrix`, `matrix`, `array`...), entry by entry:
//!   `\begin{pmatrix}1&2\\3&4\end{pmatrix}` = `\begin{bmatrix}1&2\\3&4\end{bmatrix}`;
//! - **equations**, side by side or swapped: `x+y=3` = `3=y+x`;
//! - **single items**, compared by the rules below.
//!
//! Two different shapes are never equal: `(1,2)` ≠ `1, 2`.
//!
//! # Single items
//!
//! The first rule that applies decides:
//! 1. **choices** — a lone letter A–E, with or without parentheses or `\text`, is a
//!    multiple-choice answer, case-insensitive: `\text{(A)}` = `(a)` = `A`;
//! 2. **text** — a `\text{...}` with a word of two letters or more, or bare words with one of
//!    three or more, compares as text, case-insensitive and without spaces:
//!    `\text{Monday}` = `monday`, `\text{no}` = `No`;
//! 3. **rationals** — when both are exact rationals (integers, decimals, fractions, and
//!    `+ - * / ^`, roots, `!`, `\binom`, `\log_b` where the result is rational), they must be
//!    equal exactly: `\frac{1}{2}` = `0.5` = `1/2`, `3.0` = `3`, `012` = `12`, `\sqrt{4}` = `2`,
//!    `0.\overline{3}` = `1/3`, but `0.333` ≠ `1/3`;
//! 4. **numbers** — otherwise, when neither has a variable, their values must agree to a
//!    relative 1e-9: `2\sqrt{2}` = `\sqrt{8}`, `\pi/2` = `\frac{\pi}{2}`, `\infty` = `\infty`,
//!    but `3.14` ≠ `\pi`;
//! 5. **expressions** — with variables, both are evaluated at ten fixed points (from 0.3 to
//!    2.1 in size, seven positive and three negative, six inside (-1, 1), each variable
//!    jittered by its own 5%) and must agree wherever both are defined, at three points at
//!    least: `2x+1` = `1+2x`, `x^2+2x+1` = `(x+1)^2`, `\frac{x}{2}` = `x/2`, `2+3i` = `3i+2`,
//!    but `\sqrt{x^2}` ≠ `x`;
//! 6. **strings** — otherwise, the normal forms must be identical.
//!
//! The expression language ([`expr`] module) reads LaTeX and ASCII: `\frac`, `\sqrt[n]{}`,
//! `^`, `\cdot`, `\times`, `\div`, `*`, `/`, implicit products (`2x`, `2\sqrt{2}`,
//! `(x+1)(x-1)`), `\pi`, `\infty`, `e` and `i` as variables (not Euler's number and the
//! imaginary unit), Greek letters, `x_1`, `\sin`…`\arctan` (`\sin 2x` = `\sin(2x)`), `\ln`,
//! `\log`, `\exp`, `|x|`, `\lfloor\rfloor`, `\lceil\rceil`, `n!`, `\binom`, scientific `1.5e3`,
//! and mixed numbers `2\frac{1}{2}` = `5/2`. `2^10` is 1024.
//!
//! # Bounded work
//!
//! Grading never panics and its work is bounded for any input: answers over
//! [`MAX_ANSWER_BYTES`] are compared as strings without white space; structure deeper than
//! [`answer::MAX_NESTING`] and expressions deeper than [`expr::MAX_DEPTH`] are not parsed;
//! exact arithmetic is checked `i128` that falls back to floats on overflow; powers,
//! factorials and binomials are cut off; sets longer than [`answer::MAX_MATCHED_ITEMS`] compare
//! sorted normal forms instead of matching items. `equivalent(a, a)` always holds and
//! `equivalent(a, b) == equivalent(b, a)`; property tests and a libFuzzer target check both.
//! (The fuzz target includes these files by path, so outside its tests the grader uses nothing
//! from the rest of the crate.)

pub mod answer;
pub mod expr;
pub mod extract;
pub mod normalize;
pub mod rational;

#[cfg(test)]
mod props;

pub use extract::{extract, ExtractOptions, ExtractRule, Extracted};

use answer::Answer;
use std::fmt;

/// Longest answer, in bytes, that is normalised and parsed; longer ones are compared as
/// strings without white space. MATH's longest reference answers are a few hundred bytes.
pub const MAX_ANSWER_BYTES: usize = 2048;

/// The rule that decided a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The normal forms are identical.
    NormalForm,
    /// Exact rational values.
    Rationals,
    /// Numeric values without variables.
    Numbers,
    /// Values at test points.
    Expressions,
    /// Multiple-choice letters.
    Choices,
    /// Text, case-insensitive.
    Text,
    /// Normal forms as strings (nothing else could decide, or an answer is too long).
    Strings,
    /// Tuples and intervals, item by item.
    Tuples,
    /// Sets and lists, matched in any order.
    Sets,
    /// Unions of sets, matched in any order.
    Unions,
    /// Matrices, entry by entry.
    Matrices,
    /// Equations, side by side.
    Equations,
    /// The answers have different shapes (a tuple and a number...).
    Shapes,
}

impl Rule {
    /// The rule's name as the grader prints it.
    pub fn name(self) -> &'static str {
        match self {
            Rule::NormalForm => "normal form",
            Rule::Rationals => "rationals",
            Rule::Numbers => "numbers",
            Rule::Expressions => "expressions",
            Rule::Choices => "choices",
            Rule::Text => "text",
            Rule::Strings => "strings",
            Rule::Tuples => "tuples/intervals",
            Rule::Sets => "sets",
            Rule::Unions => "unions",
            Rule::Matrices => "matrices",
            Rule::Equations => "equations",
            Rule::Shapes => "shapes",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A graded pair of answers: both normal forms, the verdict and the rule that decided it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The reference answer's normal form.
    pub reference: String,
    /// The predicted answer's normal form.
    pub predicted: String,
    /// Whether the answers are equivalent.
    pub equal: bool,
    /// The rule that decided.
    pub rule: Rule,
    /// What the rule saw, e.g. `rationals 1/2 = 1/2`.
    pub detail: String,
}

impl fmt::Display for Verdict {
    /// `equal: rationals 1/2 = 1/2` or `not equal: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.equal { "equal" } else { "not equal" };
        write!(f, "{verdict}: {}", self.detail)
    }
}

/// The final answer of a solution by the default rules (see the module documentation).
pub fn extract_answer(text: &str) -> Option<String> {
    extract(text, &ExtractOptions::default()).map(|e| e.answer)
}

/// Whether a predicted answer is equivalent to the reference (see the module's rules).
pub fn equivalent(reference: &str, predicted: &str) -> bool {
    grade(reference, predicted).equal
}

/// The normal form of an answer, as [`grade`] reports it: `\left( \dfrac12, 5\text{ cm}
/// \right)` → `(\frac{1}{2},5)`.
pub fn normalize(answer: &str) -> String {
    if answer.len() > MAX_ANSWER_BYTES {
        return without_white_space(answer);
    }
    Answer::parse(answer).to_string()
}

/// Grades a predicted answer against the reference: both normal forms, the verdict, and the
/// rule that decided.
pub fn grade(reference: &str, predicted: &str) -> Verdict {
    if reference.len() > MAX_ANSWER_BYTES || predicted.len() > MAX_ANSWER_BYTES {
        let (reference, predicted) = (
            without_white_space(reference),
            without_white_space(predicted),
        );
        let equal = reference == predicted;
        return Verdict {
            equal,
            rule: Rule::Strings,
            detail: format!(
                "strings: answers over {MAX_ANSWER_BYTES} bytes compare without white space"
            ),
            reference,
            predicted,
        };
    }
    let (a, b) = (Answer::parse(reference), Answer::parse(predicted));
    let (reference, predicted) = (a.to_string(), b.to_string());
    let outcome = if reference == predicted {
        answer::Outcome {
            equal: true,
            rule: Rule::NormalForm,
            detail: "same normal form".into(),
        }
    } else {
        answer::compare(&a, &b)
    };
    Verdict {
        reference,
        predicted,
        equal: outcome.equal,
        rule: outcome.rule,
        detail: outcome.detail,
    }
}

fn without_white_space(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn same(a: &str, b: &str) {
        let v = grade(a, b);
        assert!(
            v.equal,
            "{a:?} vs {b:?}: {v} ({} | {})",
            v.reference, v.predicted
        );
        assert!(equivalent(b, a), "not symmetric: {b:?} vs {a:?}");
    }

    #[track_caller]
    fn differ(a: &str, b: &str) {
        let v = grade(a, b);
        assert!(
            !v.equal,
            "{a:?} vs {b:?}: {v} ({} | {})",
            v.reference, v.predicted
        );
        assert!(!equivalent(b, a), "not symmetric: {b:?} vs {a:?}");
    }

    #[track_caller]
    fn decided_by(a: &str, b: &str, rule: Rule) {
        assert_eq!(grade(a, b).rule, rule, "{a:?} vs {b:?}: {}", grade(a, b));
    }

    #[test]
    fn extraction_keeps_its_two_old_examples() {
        assert_eq!(extract_answer("so \\boxed{12}").as_deref(), Some("12"));
        assert_eq!(extract_answer("no box"), None);
        assert_eq!(extract_answer("\\boxed{}"), None);
        assert_eq!(extract_answer("#### 72").as_deref(), Some("72"));
        assert_eq!(extract_answer("I think 5"), None);
    }

    #[test]
    fn the_old_rules_still_hold() {
        same("12", "012");
        same("12", "3*4");
        same("0.50", ".5");
        same("x + 1", "x+1");
        differ("12", "13");
        differ("x", "y");
    }

    #[test]
    fn toy_answers_grade_as_before() {
        for (a, b) in [
            ("-12", "-12"),
            ("12", "012"),
            ("7", "7"),
            ("0", "-0"),
            ("45", "9*5"),
        ] {
            same(a, b);
        }
        for (a, b) in [("-12", "12"), ("12", "120"), ("7", "")] {
            differ(a, b);
        }
    }

    #[test]
    fn normalisation_rules() {
        same("\\frac{1}{2}", "\\dfrac12");
        same("\\frac{1}{2}", "\\tfrac{1}{2}");
        same("\\frac{1}{3}", "\\cfrac{1}{3}");
        same("28\\%", "28 percent");
        same("28\\%", "28 pct");
        same("$\\frac{1}{2}$", "\\boxed{\\frac{1}{2}}");
        same("(1,2]", "\\left( 1 , 2 \\right]");
        same("x+1", "x\\!+\\,1");
        same("90", "90^\\circ");
        same("90", "90^{\\circ}");
        same("90", "90°");
        same("10", "10\\%");
        differ("10\\%", "0.1");
        same("5", "\\$5");
        same("5", "5\\text{ cm}");
        same("12", "12 square feet");
        same("3", "3\\text{ cm}^2");
        same("1000", "1,000");
        same("1000000", "1,000,000");
        same("12345.5", "12,345.5");
        differ("(1,100)", "(1100)");
        same("3", "x=3");
        same("3", "x = 3");
        same("2x+1", "y = 2x + 1");
        same("(0,1)", "x \\in (0,1)");
        same("(1,2)", "(x,y) = (1,2)");
        same("\\frac52", "2\\frac{1}{2}");
        same("\\frac52", "2 1/2");
        same("-\\frac52", "-2\\frac{1}{2}");
        same("\\frac{1}{72}", "\\frac1{72}");
        same("\\sqrt{3}", "\\sqrt3");
        same("42", "42.");
        same("\\pi", "π");
        same("-1", "\u{2212}1");
        same("\\frac{1}{2}", "\\\\frac{1}{2}");
    }

    #[test]
    fn number_rules() {
        for (a, b) in [
            ("\\frac{1}{2}", "0.5"),
            ("0.5", "1/2"),
            ("\\frac{1}{2}", "1/2"),
            ("3.0", "3"),
            ("\\sqrt{4}", "2"),
            ("0.\\overline{3}", "\\frac13"),
            ("1.5e3", "1500"),
            ("2^{10}", "1024"),
            ("\\binom{5}{2}", "10"),
            ("5!", "120"),
        ] {
            same(a, b);
            decided_by(a, b, Rule::Rationals);
        }
        differ("0.333", "1/3");
        decided_by("0.333", "1/3", Rule::Rationals);
        differ("1/2", "-1/2");
        for (a, b) in [
            ("2\\sqrt{2}", "\\sqrt{8}"),
            ("\\pi/2", "\\frac{\\pi}{2}"),
            ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"),
            ("\\sqrt[3]{2}", "2^{1/3}"),
            ("\\infty", "+\\infty"),
            ("\\log_2 10", "\\frac{\\ln 10}{\\ln 2}"),
        ] {
            same(a, b);
        }
        decided_by("2\\sqrt{2}", "\\sqrt{8}", Rule::Numbers);
        differ("3.14", "\\pi");
        differ("\\infty", "-\\infty");
        differ("\\sqrt{2}", "1.41421356");
    }

    #[test]
    fn expression_rules() {
        same("2x+1", "1+2x");
        same("x^2+2x+1", "(x+1)^2");
        same("\\frac{x}{2}", "x/2");
        same("\\frac{x}{2}", "0.5x");
        same("\\sin^2\\theta+\\cos^2\\theta", "1");
        same("a_1 + a_2", "a_2 + a_1");
        same("2+3i", "3i+2");
        same("\\arcsin x", "\\arcsin(x)");
        same("\\sin 2x", "2\\sin x\\cos x");
        differ("x^{100}", "x^{101}");
        decided_by("2x+1", "1+2x", Rule::Expressions);
        differ("\\sqrt{x^2}", "x");
        differ("x^2", "x^3");
        differ("2x", "2y");
        differ("x", "X");
    }

    #[test]
    fn structure_rules() {
        same("(1,2]", "(1, 2]");
        differ("(1,2]", "[1,2]");
        differ("(1,2)", "(2,1)");
        same("(1,2)", "(1,\\frac{4}{2})");
        same("\\{1,2\\}", "\\{2,1\\}");
        same("{1,2}", "{2,1}");
        same("1,2", "2, 1");
        same("1, 2", "1 \\text{ and } 2");
        same("\\{5\\}", "5");
        differ("\\{1,2\\}", "\\{1,3\\}");
        differ("\\{1,1,2\\}", "\\{1,2,2\\}");
        differ("(1,2)", "1,2");
        decided_by("(1,2)", "1,2", Rule::Shapes);
        same("1\\pm\\sqrt{2}", "1-\\sqrt{2}, 1+\\sqrt{2}");
        same("\\pm 2", "-2,2");
        same(
            "(-\\infty, 3] \\cup (4, \\infty)",
            "(4,\\infty)\\cup(-\\infty,3]",
        );
        differ(
            "(-\\infty, 3] \\cup (4, \\infty)",
            "(-\\infty, 3) \\cup (4, \\infty)",
        );
        same("\\langle 1, 2 \\rangle", "(1,2)");
        same(
            "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
            "\\begin{bmatrix}1&2\\\\3&\\frac{8}{2}\\end{bmatrix}",
        );
        differ(
            "\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}",
            "\\begin{pmatrix} 1 & 3 \\\\ 2 & 4 \\end{pmatrix}",
        );
        differ(
            "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}",
            "\\begin{pmatrix} 1 & 2 \\end{pmatrix}",
        );
        same(
            "\\begin{array}{cc} 1 & 2 \\end{array}",
            "\\begin{pmatrix} 1 & 2 \\end{pmatrix}",
        );
        same("x+y=3", "y+x=3");
        same("x+y=3", "3=x+y");
        differ("x+y=3", "x-y=3");
        same("((1,2),(3,4))", "((1,2),(3,\\frac{8}{2}))");
        same("\\{(1,2),(3,4)\\}", "\\{(3,4),(1,2)\\}");
    }

    #[test]
    fn text_and_choice_rules() {
        same("\\text{Monday}", "monday");
        same("\\text{Monday}", "\\textbf{MONDAY}");
        same("\\text{no}", "No");
        differ("\\text{yes}", "\\text{no}");
        same("\\text{(A)}", "A");
        same("\\text{(A)}", "(a)");
        same("(C)", "\\textbf{(C)}");
        differ("\\text{(A)}", "(B)");
        decided_by("\\text{(A)}", "A", Rule::Choices);
        same("\\text{second}", "second");
        differ("\\text{east}", "\\text{west}");
    }

    #[test]
    fn verdicts_name_their_rule_and_forms() {
        let v = grade("\\frac{1}{2}", "0.5");
        assert_eq!(v.to_string(), "equal: rationals 1/2 = 1/2");
        assert_eq!(
            (v.reference.as_str(), v.predicted.as_str()),
            ("\\frac{1}{2}", "0.5")
        );
        assert_eq!(grade("\\dfrac12", "\\frac{1}{2}").rule, Rule::NormalForm);
        assert_eq!(
            grade("(1,2]", "[1,2]").to_string(),
            "not equal: tuples/intervals: brackets (..] != [..]"
        );
        assert_eq!(
            normalize("\\left( \\dfrac12, 5\\text{ cm} \\right)"),
            "(\\frac{1}{2},5)"
        );
        assert_eq!(normalize("2, 1"), "\\{2,1\\}");
        assert_eq!(normalize("\\text{Monday}"), "\\text{monday}");
    }

    /// Inputs on which the decorations property failed before the fixes in normalize.rs.
    #[test]
    fn decoration_regressions_found_by_the_property() {
        // Padding used to turn a final backslash into the space command `\ `.
        same("0+0+\\", "  0+0+\\ ");
        // `\boxed{}` with unbalanced parentheses inside stayed boxed.
        same("((,0]\\cup 0", "\\boxed{((,0]\\cup 0}");
        // `{,}` was read as a thousands separator inside `\boxed{,}`.
        same(",", "\\boxed{,}");
        // `\\dfrac` (a JSON-doubled backslash) did not become `\frac`.
        same("0, \\\\frac{0}{0}", "0, \\\\dfrac{0}{0}");
    }

    #[test]
    fn long_answers_compare_as_strings() {
        let long = "1".repeat(MAX_ANSWER_BYTES + 1);
        assert!(equivalent(&long, &long));
        assert!(equivalent(&long, &format!(" {long} ")));
        assert!(!equivalent(&long, "1"));
        assert_eq!(grade(&long, "1").rule, Rule::Strings);
    }
}
