//! The structure of an answer (tuples, intervals, sets, unions, matrices, equations, single
//! items) and the comparison of two structures, item by item.

use super::expr::{self, Expr, POINTS};
use super::normalize::{self, split_top, wrapped};
use super::rational::Rational;
use super::Rule;
use std::fmt;

/// Deepest nesting of structure (a set of tuples of sets...) that is split; deeper text is
/// one item.
pub const MAX_NESTING: usize = 16;
/// Longest set matched element by element; longer sets compare their sorted normal forms.
pub const MAX_MATCHED_ITEMS: usize = 64;
/// Test points on which two expressions with variables must both be defined to be equal.
const MIN_AGREEING_POINTS: usize = 3;

/// A parsed answer.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Items in order between brackets: a tuple `(1,2)` or an interval `(1,2]`.
    Ordered {
        /// `(` or `[`.
        open: char,
        /// `)` or `]`.
        close: char,
        /// The items.
        items: Vec<Answer>,
    },
    /// Items in any order: a set `\{1,2\}` or a list `1, 2`.
    Unordered(Vec<Answer>),
    /// `A \cup B \cup ...`, in any order.
    Union(Vec<Answer>),
    /// Rows of cells.
    Matrix(Vec<Vec<Answer>>),
    /// `lhs = rhs` (sides may swap).
    Equation(Box<Answer>, Box<Answer>),
    /// One item.
    Leaf(Leaf),
}

/// One item of an answer.
#[derive(Debug, Clone)]
pub struct Leaf {
    form: String,
    is_text: bool,
    choice: Option<char>,
    math: Option<Scalar>,
}

/// What grading needs of an expression: its exact value and its values at the test points.
#[derive(Debug, Clone, Copy)]
struct Scalar {
    exact: Option<Rational>,
    values: [f64; POINTS],
    has_variables: bool,
}

/// The outcome of one comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Whether the two are equivalent.
    pub equal: bool,
    /// The rule that decided.
    pub rule: Rule,
    /// What the rule saw, e.g. `rationals 1/2 = 1/2`.
    pub detail: String,
}

impl Outcome {
    fn new(equal: bool, rule: Rule, detail: String) -> Self {
        Self {
            equal,
            rule,
            detail,
        }
    }
}

fn op(equal: bool) -> &'static str {
    if equal {
        "="
    } else {
        "!="
    }
}

impl Answer {
    /// Normalises and parses an answer.
    pub fn parse(answer: &str) -> Self {
        parse_at(&normalize::normalize_whole(answer), 0)
    }

    fn kind(&self) -> &'static str {
        match self {
            Answer::Ordered { .. } => "a tuple or interval",
            Answer::Unordered(_) => "a set or list",
            Answer::Union(_) => "a union",
            Answer::Matrix(_) => "a matrix",
            Answer::Equation(..) => "an equation",
            Answer::Leaf(_) => "a single item",
        }
    }
}

fn parse_at(s: &str, depth: usize) -> Answer {
    let s = s.trim();
    if depth >= MAX_NESTING {
        return Answer::Leaf(leaf(s));
    }
    let next = depth + 1;
    let all = |items: Vec<&str>| items.iter().map(|i| parse_at(i, next)).collect();
    if let Some(value) = strip_name_prefix(s) {
        return parse_at(value, next);
    }
    for (open, close) in [("\\{", "\\}"), ("{", "}")] {
        if let Some(inner) = wrapped(s, open, close) {
            let items = split_top(inner, ",");
            return if items.len() >= 2 {
                Answer::Unordered(all(items))
            } else {
                parse_at(inner, next)
            };
        }
    }
    if let Some(rows) = matrix_rows(s) {
        return Answer::Matrix(rows.into_iter().map(all).collect());
    }
    let parts = split_top(s, "\\cup");
    if parts.len() >= 2 {
        return Answer::Union(all(parts));
    }
    if let Some((open, inner, close)) = bracketed(s) {
        let items = split_top(inner, ",");
        if items.len() >= 2 {
            return Answer::Ordered {
                open,
                close,
                items: all(items),
            };
        }
    }
    if let Some(inner) = wrapped(s, "\\langle", "\\rangle") {
        let items = split_top(inner, ",");
        return if items.len() >= 2 {
            Answer::Ordered {
                open: '(',
                close: ')',
                items: all(items),
            }
        } else {
            parse_at(inner, next)
        };
    }
    let items = split_top(s, ",");
    if items.len() >= 2 {
        return Answer::Unordered(all(items));
    }
    if let [before, after] = split_top(s, "\\pm").as_slice() {
        return Answer::Unordered(vec![
            parse_at(&format!("{before}+{after}"), next),
            parse_at(&format!("{before}-{after}"), next),
        ]);
    }
    if let [lhs, rhs] = split_top(s, "=").as_slice() {
        return Answer::Equation(Box::new(parse_at(lhs, next)), Box::new(parse_at(rhs, next)));
    }
    Answer::Leaf(leaf(s))
}

/// The value of `x = value` or `x \in value` when the left side is a variable name or a tuple
/// of names (`(x, y) = (1, 2)`).
fn strip_name_prefix(s: &str) -> Option<&str> {
    ["=", "\\in"]
        .iter()
        .find_map(|sep| match split_top(s, sep).as_slice() {
            [lhs, rhs] if is_name_or_names(lhs.trim()) => Some(*rhs),
            _ => None,
        })
}

fn is_name_or_names(s: &str) -> bool {
    let is_name = |s: &str| matches!(expr::parse(s), Some(Expr::Var(_)));
    match wrapped(s, "(", ")") {
        Some(inner) => {
            let names = split_top(inner, ",");
            names.len() >= 2 && names.iter().all(|n| is_name(n.trim()))
        }
        None => is_name(s),
    }
}

/// `(`..`)`, `[`..`]` or a mix (an interval), with the opener matched by the final closer.
fn bracketed(s: &str) -> Option<(char, &str, char)> {
    let open = s.chars().next().filter(|c| matches!(c, '(' | '['))?;
    let close = s.chars().next_back().filter(|c| matches!(c, ')' | ']'))?;
    let inner = wrapped(s, &open.to_string(), &close.to_string())?;
    Some((open, inner, close))
}

/// The cells of `\begin{pmatrix} a & b \\ c & d \end{pmatrix}` (or `bmatrix`, `vmatrix`,
/// `matrix`, `array`...), row by row.
fn matrix_rows(s: &str) -> Option<Vec<Vec<&str>>> {
    const KINDS: &[&str] = &[
        "pmatrix",
        "bmatrix",
        "Bmatrix",
        "vmatrix",
        "Vmatrix",
        "matrix",
        "smallmatrix",
        "array",
    ];
    let body = KINDS.iter().find_map(|kind| {
        s.strip_prefix(&format!("\\begin{{{kind}}}"))?
            .strip_suffix(&format!("\\end{{{kind}}}"))
            .map(|body| (*kind, body))
    })?;
    let inner = match body {
        // `\begin{array}{cc}`: skip the column spec.
        ("array", body) => {
            let body = body.trim_start();
            let spec_end = body.find('}').filter(|_| body.starts_with('{'))?;
            body.get(spec_end + 1..)?
        }
        (_, body) => body,
    };
    let mut rows: Vec<&str> = split_top(inner, "\\\\");
    if rows.len() > 1 && rows.last().is_some_and(|r| r.trim().is_empty()) {
        rows.pop();
    }
    Some(rows.into_iter().map(|r| split_top(r, "&")).collect())
}

fn leaf(s: &str) -> Leaf {
    let normalize::LeafText { text, is_text } = normalize::normalize_leaf(s);
    let choice = choice_letter(&text);
    let math = if is_text {
        None
    } else {
        expr::parse(&text).map(|e| Scalar::of(&e))
    };
    Leaf {
        form: text,
        is_text,
        choice,
        math,
    }
}

/// `A`, `(b)` → a multiple-choice letter A–E, upper case.
fn choice_letter(s: &str) -> Option<char> {
    let s = wrapped(s, "(", ")").unwrap_or(s);
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if matches!(c.to_ascii_uppercase(), 'A'..='E') => {
            Some(c.to_ascii_uppercase())
        }
        _ => None,
    }
}

impl Scalar {
    fn of(e: &Expr) -> Self {
        let has_variables = e.has_variables();
        let exact = e.exact();
        let mut values = [f64::NAN; POINTS];
        if has_variables {
            for (point, v) in values.iter_mut().enumerate() {
                *v = e.value(point);
            }
        } else {
            values = [exact.map_or_else(|| e.value(0), Rational::to_f64); POINTS];
        }
        Self {
            exact,
            values,
            has_variables,
        }
    }
}

/// Equal within a relative 1e-9 (plus 1e-12 absolute, for round-off around zero); infinities
/// equal themselves; NaN equals nothing.
fn close(a: f64, b: f64) -> bool {
    a == b
        || (a.is_finite() && b.is_finite() && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12)
}

/// Compares two numbers or expressions: exactly when both are rational, else numerically,
/// else at the test points. `None` when none of these can decide (e.g. both undefined).
fn compare_scalars(a: &Scalar, b: &Scalar) -> Option<Outcome> {
    if let (Some(x), Some(y)) = (a.exact, b.exact) {
        let equal = x == y;
        return Some(Outcome::new(
            equal,
            Rule::Rationals,
            format!("rationals {x} {} {y}", op(equal)),
        ));
    }
    if !a.has_variables && !b.has_variables {
        let (x, y) = (a.values[0], b.values[0]);
        if x.is_nan() || y.is_nan() {
            return None;
        }
        let equal = close(x, y);
        return Some(Outcome::new(
            equal,
            Rule::Numbers,
            format!("numbers {x} {} {y}", op(equal)),
        ));
    }
    let mut agreeing = 0;
    for (x, y) in a.values.iter().zip(&b.values) {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        if !close(*x, *y) {
            return Some(Outcome::new(
                false,
                Rule::Expressions,
                format!("expressions differ at a test point: {x} != {y}"),
            ));
        }
        agreeing += 1;
    }
    (agreeing >= MIN_AGREEING_POINTS).then(|| {
        Outcome::new(
            true,
            Rule::Expressions,
            format!("expressions agree at {agreeing} test points"),
        )
    })
}

fn compare_leaves(a: &Leaf, b: &Leaf) -> Outcome {
    if let (Some(x), Some(y)) = (a.choice, b.choice) {
        let equal = x == y;
        return Outcome::new(
            equal,
            Rule::Choices,
            format!("choices {x} {} {y}", op(equal)),
        );
    }
    if a.is_text || b.is_text {
        let (x, y) = (a.form.to_lowercase(), b.form.to_lowercase());
        let equal = x == y;
        return Outcome::new(equal, Rule::Text, format!("text '{x}' {} '{y}'", op(equal)));
    }
    if let (Some(x), Some(y)) = (&a.math, &b.math) {
        if let Some(outcome) = compare_scalars(x, y) {
            return outcome;
        }
    }
    let equal = a.form == b.form;
    Outcome::new(
        equal,
        Rule::Strings,
        format!("strings '{}' {} '{}'", a.form, op(equal), b.form),
    )
}

/// Compares two parsed answers (see the rules in the module above).
pub fn compare(a: &Answer, b: &Answer) -> Outcome {
    match (a, b) {
        (Answer::Leaf(x), Answer::Leaf(y)) => compare_leaves(x, y),
        (
            Answer::Ordered {
                open: o1,
                close: c1,
                items: x,
            },
            Answer::Ordered {
                open: o2,
                close: c2,
                items: y,
            },
        ) => {
            if (o1, c1) != (o2, c2) {
                return Outcome::new(
                    false,
                    Rule::Tuples,
                    format!("tuples/intervals: brackets {o1}..{c1} != {o2}..{c2}"),
                );
            }
            let (x, y): (Vec<_>, Vec<_>) = (x.iter().collect(), y.iter().collect());
            compare_in_order(&x, &y, Rule::Tuples, "tuples/intervals")
        }
        (Answer::Unordered(x), Answer::Unordered(y)) => compare_any_order(x, y, Rule::Sets, "sets"),
        (Answer::Union(x), Answer::Union(y)) => compare_any_order(x, y, Rule::Unions, "unions"),
        (Answer::Matrix(x), Answer::Matrix(y)) => {
            let shape = |m: &[Vec<Answer>]| m.iter().map(Vec::len).collect::<Vec<_>>();
            if shape(x) != shape(y) {
                return Outcome::new(false, Rule::Matrices, "matrices of different shapes".into());
            }
            let (x, y): (Vec<_>, Vec<_>) =
                (x.iter().flatten().collect(), y.iter().flatten().collect());
            compare_in_order(&x, &y, Rule::Matrices, "matrices")
        }
        (Answer::Equation(l1, r1), Answer::Equation(l2, r2)) => {
            let same = compare(l1, l2).equal && compare(r1, r2).equal;
            let swapped = !same && compare(l1, r2).equal && compare(r1, l2).equal;
            let detail = if swapped {
                "equations: sides equal, swapped"
            } else if same {
                "equations: both sides equal"
            } else {
                "equations: sides differ"
            };
            Outcome::new(same || swapped, Rule::Equations, detail.into())
        }
        _ => Outcome::new(false, Rule::Shapes, format!("{} vs {}", a.kind(), b.kind())),
    }
}

fn compare_in_order(x: &[&Answer], y: &[&Answer], rule: Rule, what: &str) -> Outcome {
    if x.len() != y.len() {
        return Outcome::new(
            false,
            rule,
            format!("{what}: {} items != {} items", x.len(), y.len()),
        );
    }
    for (k, (a, b)) in x.iter().zip(y).enumerate() {
        let o = compare(a, b);
        if !o.equal {
            return Outcome::new(false, rule, format!("{what}: item {}: {}", k + 1, o.detail));
        }
    }
    Outcome::new(
        true,
        rule,
        format!("{what}: {} items equal in order", x.len()),
    )
}

/// Equal when the items pair up one to one (a maximum bipartite matching, so the answer does
/// not depend on which side is the reference).
fn compare_any_order(x: &[Answer], y: &[Answer], rule: Rule, what: &str) -> Outcome {
    if x.len() != y.len() {
        return Outcome::new(
            false,
            rule,
            format!("{what}: {} items != {} items", x.len(), y.len()),
        );
    }
    if x.len() > MAX_MATCHED_ITEMS {
        let sorted = |items: &[Answer]| {
            let mut forms: Vec<String> = items.iter().map(Answer::to_string).collect();
            forms.sort();
            forms
        };
        let equal = sorted(x) == sorted(y);
        return Outcome::new(
            equal,
            rule,
            format!(
                "{what}: over {MAX_MATCHED_ITEMS} items, normal forms compared as sorted lists"
            ),
        );
    }
    let equal: Vec<Vec<bool>> = x
        .iter()
        .map(|a| y.iter().map(|b| compare(a, b).equal).collect())
        .collect();
    let mut partner: Vec<Option<usize>> = vec![None; y.len()];
    for i in 0..x.len() {
        let mut seen = vec![false; y.len()];
        if !augment(i, &equal, &mut partner, &mut seen) {
            return Outcome::new(
                false,
                rule,
                format!("{what}: item {} has no equal partner", i + 1),
            );
        }
    }
    Outcome::new(
        true,
        rule,
        format!("{what}: {} items match one to one", x.len()),
    )
}

/// Kuhn's augmenting path from left item `i`; recursion depth is at most the item count.
fn augment(
    i: usize,
    equal: &[Vec<bool>],
    partner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    let Some(row) = equal.get(i) else {
        return false;
    };
    for (j, &edge) in row.iter().enumerate() {
        if !edge || seen.get(j).copied().unwrap_or(true) {
            continue;
        }
        if let Some(s) = seen.get_mut(j) {
            *s = true;
        }
        let current = partner.get(j).copied().flatten();
        if current.is_none_or(|k| augment(k, equal, partner, seen)) {
            if let Some(p) = partner.get_mut(j) {
                *p = Some(i);
            }
            return true;
        }
    }
    false
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, items: &[Answer], sep: &str| -> fmt::Result {
            for (k, item) in items.iter().enumerate() {
                if k > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{item}")?;
            }
            Ok(())
        };
        match self {
            Answer::Ordered { open, close, items } => {
                write!(f, "{open}")?;
                join(f, items, ",")?;
                write!(f, "{close}")
            }
            Answer::Unordered(items) => {
                f.write_str("\\{")?;
                join(f, items, ",")?;
                f.write_str("\\}")
            }
            Answer::Union(parts) => join(f, parts, "\\cup "),
            Answer::Matrix(rows) => {
                f.write_str("\\begin{pmatrix}")?;
                for (k, row) in rows.iter().enumerate() {
                    if k > 0 {
                        f.write_str("\\\\")?;
                    }
                    join(f, row, "&")?;
                }
                f.write_str("\\end{pmatrix}")
            }
            Answer::Equation(lhs, rhs) => write!(f, "{lhs}={rhs}"),
            Answer::Leaf(leaf) if leaf.is_text => write!(f, "\\text{{{}}}", leaf.form),
            Answer::Leaf(leaf) => f.write_str(&leaf.form),
        }
    }
}
