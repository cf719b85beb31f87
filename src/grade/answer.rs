//! The structure of an answer (tuples, intervals, sets, unions, matrices, equations, labelled
//! values, relations, single items) and the comparison of two structures, item by item.

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
/// Fewest significant digits with which a decimal stands for an exact value it only rounds or
/// truncates: `0.33333333` = `1/3`, but `0.3333333` ≠ `1/3`.
pub const MIN_DECIMAL_DIGITS: u32 = 8;
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
    Unordered {
        /// The items.
        items: Vec<Answer>,
        /// Whether it was written in braces, `\{1,2\}`: a set by its own notation.
        braced: bool,
    },
    /// `A \cup B \cup ...`, in any order.
    Union(Vec<Answer>),
    /// Rows of cells.
    Matrix(Vec<Vec<Answer>>),
    /// `lhs = rhs` (sides may swap) where neither side is a label.
    Equation(Box<Answer>, Box<Answer>),
    /// A value with a label: `x = 6`, `g(x) = 2x - 1`, `|CD| = 6`, `x \in (0, 1)`, and the
    /// inequalities of one variable, as intervals: `-2 < t \le 9` is `t \in (-2, 9]`.
    Labelled {
        /// The label without spaces: `x`, `(x,y)`, `g(x)`, `|CD|`.
        label: String,
        /// `=` or `\in`.
        kind: LabelKind,
        /// The value.
        value: Box<Answer>,
    },
    /// A chain of relations that is not one variable's interval, greater-than turned around:
    /// `x + y \le 3`, `x < y`.
    Relation {
        /// The sides, one more than the relations.
        sides: Vec<Answer>,
        /// The relations between neighbouring sides.
        ops: Vec<RelOp>,
    },
    /// One item.
    Leaf(Leaf),
}

/// How a label names its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelKind {
    /// `x = 6`.
    Equals,
    /// `x \in (0, 1)`, `x < 3`.
    Member,
}

/// A relation between two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelOp {
    /// `=`
    Eq,
    /// `<`, `\lt`
    Lt,
    /// `\le`, `\leq`, `<=`, `≤`
    Le,
    /// `>`, `\gt`
    Gt,
    /// `\ge`, `\geq`, `>=`, `≥`
    Ge,
    /// `\ne`, `\neq`, `!=`, `≠`
    Ne,
}

impl RelOp {
    /// The same relation with its sides swapped: `<` is `>` backwards.
    fn flipped(self) -> Self {
        match self {
            RelOp::Lt => RelOp::Gt,
            RelOp::Le => RelOp::Ge,
            RelOp::Gt => RelOp::Lt,
            RelOp::Ge => RelOp::Le,
            other => other,
        }
    }

    fn is_greater(self) -> bool {
        matches!(self, RelOp::Gt | RelOp::Ge)
    }

    fn is_less(self) -> bool {
        matches!(self, RelOp::Lt | RelOp::Le)
    }

    fn symbol(self) -> &'static str {
        match self {
            RelOp::Eq => "=",
            RelOp::Lt => "<",
            RelOp::Le => "\\le ",
            RelOp::Gt => ">",
            RelOp::Ge => "\\ge ",
            RelOp::Ne => "\\ne ",
        }
    }
}

/// One item of an answer.
#[derive(Debug, Clone)]
pub struct Leaf {
    form: String,
    is_text: bool,
    choice: Option<char>,
    math: Option<Scalar>,
}

/// What grading needs of an expression: its exact value, its values at the test points, and,
/// for a plain decimal literal, its digits.
#[derive(Debug, Clone, Copy)]
struct Scalar {
    exact: Option<Rational>,
    values: [f64; POINTS],
    has_variables: bool,
    decimal: Option<Decimal>,
}

/// The digits of a plain decimal literal such as `-0.3333333333`.
#[derive(Debug, Clone, Copy)]
struct Decimal {
    /// Digits after the point.
    places: u32,
    /// Digits from the first non-zero one.
    significant: u32,
    /// Whether it has a minus sign.
    negative: bool,
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

    /// Whether the answer is a list or set (or one with a label, `x = 1, 2`): then several
    /// boxes of the other answer are read together.
    pub fn is_list(&self) -> bool {
        match self {
            Answer::Unordered { .. } => true,
            Answer::Labelled { value, .. } => value.is_list(),
            _ => false,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Answer::Ordered { .. } => "a tuple or interval",
            Answer::Unordered { .. } => "a set or list",
            Answer::Union(_) => "a union",
            Answer::Matrix(_) => "a matrix",
            Answer::Equation(..) => "an equation",
            Answer::Labelled { .. } => "a labelled value",
            Answer::Relation { .. } => "a relation",
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
    // `p = 5, q = 2; p = 7, q = 2`: semicolons separate the items of a list of groups.
    let groups = split_top(s, ";");
    if groups.len() >= 2 {
        // One label before them all names the whole list: `x = 1; 2`.
        if let [lhs, rest] = split_top(s, "=").as_slice() {
            if let Some(label) = label_of(lhs) {
                return labelled(label, LabelKind::Equals, parse_at(rest, next));
            }
        }
        let groups: Vec<&str> = groups
            .into_iter()
            .filter(|g| !g.trim().is_empty())
            .collect();
        return match groups.as_slice() {
            [one] => parse_at(one, next),
            _ => list(all(groups)),
        };
    }
    if let Some(exact) = without_approximation(s) {
        return parse_at(&exact, next);
    }
    if let [lhs, rhs] = split_top(s, "\\in").as_slice() {
        if let Some(label) = label_of(lhs) {
            return labelled(label, LabelKind::Member, parse_at(rhs, next));
        }
    }
    let (sides, ops) = split_relations(s);
    if !ops.is_empty() {
        if let Some(relation) = relation(&sides, &ops, next) {
            return relation;
        }
    }
    for (open, close) in [("\\{", "\\}"), ("{", "}")] {
        if let Some(inner) = wrapped(s, open, close) {
            if inner.trim().is_empty() {
                return Answer::Leaf(leaf("\\emptyset"));
            }
            let items = split_top(inner, ",");
            return if items.len() >= 2 {
                Answer::Unordered {
                    items: all(items),
                    braced: true,
                }
            } else {
                parse_at(inner, next)
            };
        }
    }
    if let Some(result) = matrix_arithmetic(s) {
        return result;
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
        let items: Vec<Answer> = all(items);
        if let Some(groups) = assignment_groups(&items) {
            return groups;
        }
        return union_of_memberships(&items).unwrap_or_else(|| list(items));
    }
    if let Some(tuples) = juxtaposed_tuples(s) {
        return list(all(tuples));
    }
    if let [before, after] = split_top(s, "\\pm").as_slice() {
        return list(vec![
            parse_at(&format!("{before}+{after}"), next),
            parse_at(&format!("{before}-{after}"), next),
        ]);
    }
    if let Some(quotient) = ratio(s) {
        return Answer::Leaf(leaf(&quotient));
    }
    if let [lhs, rhs] = split_top(s, "=").as_slice() {
        let (lhs, rhs) = (parse_at(lhs, next), parse_at(rhs, next));
        // An equation of constants is a computation: `4 + 5 = 9` answers 9.
        if is_constant(&lhs) && is_constant(&rhs) {
            return rhs;
        }
        return Answer::Equation(Box::new(lhs), Box::new(rhs));
    }
    Answer::Leaf(leaf(s))
}

/// A list without braces.
fn list(items: Vec<Answer>) -> Answer {
    Answer::Unordered {
        items,
        braced: false,
    }
}

/// Whether `s` is a plain decimal or integer literal, `0.43`, `-12`.
fn is_plain_number(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix('-').unwrap_or(s);
    !s.is_empty()
        && s.chars().any(|c| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_digit() || c == '.')
        && s.matches('.').count() <= 1
}

/// The exact side of an approximation: `x = 3/7 \approx 0.43` → `x = 3/7`,
/// `0.43 \approx \frac{3}{7}` → `\frac{3}{7}`; an answer that is only approximate keeps its
/// approximate value: `\approx 0.43` → `0.43`, `x \approx 0.43` → `x = 0.43`. `\sim` counts
/// as `\approx` only before a number (`\triangle ABC \sim \triangle DEF` is similarity).
/// `None` when there is no approximation, or for a list (each item is read on its own).
fn without_approximation(s: &str) -> Option<String> {
    if split_top(s, ",").len() >= 2 {
        return None;
    }
    let mut parts = split_top(s, "\\approx");
    if parts.len() < 2 {
        parts = split_top(s, "\\sim");
        let numbers = parts.get(1..).unwrap_or_default();
        if numbers.is_empty() || !numbers.iter().all(|p| is_plain_number(p)) {
            return None;
        }
    }
    let first = parts.first()?.trim();
    // Empty sides (`x \approx`) say nothing.
    let approximations: Vec<&str> = parts
        .iter()
        .skip(1)
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    let Some(&last) = approximations.last() else {
        return Some(first.to_string());
    };
    if first.is_empty() {
        return Some(last.to_string());
    }
    if let Some(label) = first.strip_suffix('=') {
        return Some(format!("{label} = {last}"));
    }
    if label_of(first).is_some() {
        return Some(format!("{first} = {last}"));
    }
    // A label on the first side names every side: `x = 3/7 \approx 0.43`.
    let (label, first) = match split_top(first, "=").as_slice() {
        [lhs, value] if label_of(lhs).is_some() => (Some(lhs.trim()), value.trim()),
        _ => (None, first),
    };
    // The exact side: the first that is not a plain decimal.
    let mut sides = std::iter::once(first).chain(approximations.iter().copied());
    let exact = sides
        .find(|p| !(p.contains('.') && is_plain_number(p)))
        .unwrap_or(first);
    Some(match label {
        Some(label) => format!("{label} = {exact}"),
        None => exact.to_string(),
    })
}

/// `(1,2) (3,4)`: bracketed tuples side by side, separated by spaces only (`(1,2)\ (3,4)`),
/// are a list. `None` otherwise (`(x+1)(x-1)` is a product).
fn juxtaposed_tuples(s: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = split_top(s, " ")
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .collect();
    let tuple = |p: &&str| {
        let p = p.trim();
        bracketed(p).is_some_and(|(_, inner, _)| split_top(inner, ",").len() >= 2)
            || wrapped(p, "\\{", "\\}").is_some()
    };
    (parts.len() >= 2 && parts.iter().all(tuple)).then_some(parts)
}

/// `11 : 21` → `\frac{11}{21}`: a ratio of two numbers or expressions is their quotient.
fn ratio(s: &str) -> Option<String> {
    let [a, b] = split_top(s, ":").try_into().ok()?;
    let (a, b) = (a.trim(), b.trim());
    let math = |t: &str| !t.is_empty() && !t.contains('=') && expr::parse(t).is_some();
    (math(a) && math(b)).then(|| format!("\\frac{{{a}}}{{{b}}}"))
}

/// Largest side of a literal matrix that is added or multiplied before comparison.
const MAX_MATRIX_SIDE: usize = 8;
/// Most literal matrices in one sum or product.
const MAX_MATRIX_TERMS: usize = 8;

/// A sum or product of literal matrices with exact entries, evaluated:
/// `\begin{pmatrix}1&2\\3&4\end{pmatrix}\begin{pmatrix}1\\1\end{pmatrix}` is the column
/// `3, 7`. Products bind before sums. `None` unless every term is a literal matrix of at most
/// [`MAX_MATRIX_SIDE`] rows and columns with rational entries, there are two to
/// [`MAX_MATRIX_TERMS`] terms, and the shapes fit.
fn matrix_arithmetic(s: &str) -> Option<Answer> {
    if !s.contains("\\begin") {
        return None;
    }
    let terms = matrix_terms(s)?;
    if terms.len() < 2 || terms.len() > MAX_MATRIX_TERMS {
        return None;
    }
    // Sums of products, left to right; `pending` is the product being built and its sign.
    let mut total: Option<Grid> = None;
    let mut pending: Option<(bool, Grid)> = None;
    for (op, text) in terms {
        let m = literal_matrix(text)?;
        if op == '*' {
            let (subtract, p) = pending?;
            pending = Some((subtract, multiply(&p, &m)?));
            continue;
        }
        if let Some((subtract, p)) = pending.take() {
            total = Some(match total {
                None if !subtract => p,
                None => return None,
                Some(t) => add(&t, &p, subtract)?,
            });
        }
        pending = Some((op == '-', m));
    }
    let result = match (total, pending?) {
        (None, (false, p)) => p,
        (Some(t), (subtract, p)) => add(&t, &p, subtract)?,
        (None, (true, _)) => return None,
    };
    Some(Answer::Matrix(
        result
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|v| Answer::Leaf(leaf(&v.to_string())))
                    .collect()
            })
            .collect(),
    ))
}

/// A matrix of exact entries.
type Grid = Vec<Vec<Rational>>;

fn add(a: &Grid, b: &Grid, subtract: bool) -> Option<Grid> {
    if a.len() != b.len() {
        return None;
    }
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if x.len() != y.len() {
                return None;
            }
            x.iter()
                .zip(y)
                .map(|(p, q)| {
                    if subtract {
                        p.checked_sub(*q)
                    } else {
                        p.checked_add(*q)
                    }
                })
                .collect()
        })
        .collect()
}

fn multiply(a: &Grid, b: &Grid) -> Option<Grid> {
    let inner = b.len();
    let columns = b.first()?.len();
    a.iter()
        .map(|row| {
            if row.len() != inner {
                return None;
            }
            (0..columns)
                .map(|j| {
                    row.iter()
                        .zip(b)
                        .try_fold(Rational::integer(0)?, |sum, (x, b_row)| {
                            sum.checked_add(x.checked_mul(*b_row.get(j)?)?)
                        })
                })
                .collect()
        })
        .collect()
}

/// The entries of one literal matrix, when they are all exact and it is small and rectangular.
fn literal_matrix(text: &str) -> Option<Grid> {
    let rows = matrix_rows(text)?;
    let width = rows.first()?.len();
    if rows.len() > MAX_MATRIX_SIDE || width > MAX_MATRIX_SIDE {
        return None;
    }
    rows.iter()
        .map(|row| {
            if row.len() != width {
                return None;
            }
            row.iter()
                .map(|cell| expr::parse(&normalize::normalize_leaf(cell).text)?.exact())
                .collect()
        })
        .collect()
}

/// `A + B C - D` with literal matrices `A`..`D` → `('+', A), ('+', B), ('*', C), ('-', D)`;
/// `\cdot`, `\times` and `*` are products, as is nothing between two matrices.
fn matrix_terms(s: &str) -> Option<Vec<(char, &str)>> {
    let mut terms = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let mut op = if terms.is_empty() { '+' } else { '*' };
        for (symbol, meaning) in [
            ("+", '+'),
            ("-", '-'),
            ("\\cdot", '*'),
            ("\\times", '*'),
            ("*", '*'),
        ] {
            if let Some(after) = rest.strip_prefix(symbol) {
                op = meaning;
                rest = after.trim_start();
                break;
            }
        }
        let length = matrix_literal_length(rest)?;
        terms.push((op, rest.get(..length)?));
        rest = rest.get(length..)?.trim_start();
        if terms.len() > MAX_MATRIX_TERMS {
            return None;
        }
    }
    Some(terms)
}

/// The length in bytes of the literal matrix `s` starts with: `\begin{K}...\end{K}`, or one in
/// brackets, `[\begin{array}{cc}...\end{array}]`.
fn matrix_literal_length(s: &str) -> Option<usize> {
    if let Some(rest) = s.strip_prefix("\\begin{") {
        let kind = rest.get(..rest.find('}')?)?;
        let end = format!("\\end{{{kind}}}");
        return Some(s.find(&end)? + end.len());
    }
    s.chars().next().filter(|c| matches!(c, '(' | '['))?;
    if !s.get(1..)?.trim_start().starts_with("\\begin{") {
        return None;
    }
    let mut depth = 0i64;
    for (i, c) in s.char_indices() {
        depth += normalize::depth_step(c);
        if depth == 0 {
            return Some(i + c.len_utf8());
        }
    }
    None
}

/// A list of assignments whose variables repeat in a cycle, `p = 5, q = 2, p = 7, q = 2`, is a
/// list of groups, one per solution: `\{\{p = 5, q = 2\}, \{p = 7, q = 2\}\}`.
fn assignment_groups(items: &[Answer]) -> Option<Answer> {
    let labels: Vec<&str> = items
        .iter()
        .map(|item| match item {
            Answer::Labelled {
                label,
                kind: LabelKind::Equals,
                ..
            } if is_name(label) => Some(label.as_str()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let first = labels.first()?;
    let period = labels.iter().skip(1).position(|l| l == first)? + 1;
    let cycle = labels.get(..period)?;
    let distinct = cycle
        .iter()
        .enumerate()
        .all(|(k, l)| !cycle.get(..k).unwrap_or_default().contains(l));
    if period < 2 || !distinct || !labels.len().is_multiple_of(period) {
        return None;
    }
    if !labels.chunks(period).all(|chunk| chunk == cycle) {
        return None;
    }
    Some(list(
        items
            .chunks(period)
            .map(|chunk| list(chunk.to_vec()))
            .collect(),
    ))
}

/// The values of a list of assignments to different variables, in order: `p = 5, q = 2` →
/// `5`, `2`; `None` for anything else.
fn assignment_values(items: &[Answer]) -> Option<Vec<&Answer>> {
    let mut names: Vec<&str> = Vec::new();
    items
        .iter()
        .map(|item| match item {
            Answer::Labelled {
                label,
                kind: LabelKind::Equals,
                value,
            } if is_name(label) && !names.contains(&label.as_str()) => {
                names.push(label);
                Some(value.as_ref())
            }
            _ => None,
        })
        .collect()
}

fn labelled(label: String, kind: LabelKind, value: Answer) -> Answer {
    Answer::Labelled {
        label,
        kind,
        value: Box::new(value),
    }
}

fn is_constant(a: &Answer) -> bool {
    matches!(a, Answer::Leaf(Leaf { math: Some(m), is_text: false, .. }) if !m.has_variables)
}

/// The sides and relations of `s` outside all brackets: `-2 < t \le 9` → `-2`, `t`, `9` and
/// `<`, `\le`. Relations have been spelt `=`, `<`, `>`, `\le`, `\ge`, `\ne` by normalisation.
fn split_relations(s: &str) -> (Vec<&str>, Vec<RelOp>) {
    let mut sides = Vec::new();
    let mut ops = Vec::new();
    let mut depth = 0i64;
    let mut start = 0;
    let mut skip_until = 0;
    for (i, c) in s.char_indices() {
        if i < skip_until {
            continue;
        }
        if depth == 0 {
            let rest = s.get(i..).unwrap_or_default();
            let found = match c {
                '=' => Some((RelOp::Eq, 1)),
                '<' => Some((RelOp::Lt, 1)),
                '>' => Some((RelOp::Gt, 1)),
                '\\' => [
                    ("\\le", RelOp::Le),
                    ("\\ge", RelOp::Ge),
                    ("\\ne", RelOp::Ne),
                ]
                .iter()
                .find(|(name, _)| {
                    rest.strip_prefix(name)
                        .is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_alphabetic()))
                })
                .map(|(_, op)| (*op, 3)),
                _ => None,
            };
            if let Some((op, len)) = found {
                sides.push(s.get(start..i).unwrap_or_default());
                ops.push(op);
                start = i + len;
                skip_until = start;
                continue;
            }
        }
        depth += normalize::depth_step(c);
    }
    sides.push(s.get(start..).unwrap_or_default());
    (sides, ops)
}

/// An equation with a label, an `=` chain, or an inequality; `None` when the text is better
/// read another way (a list of equations `x = 1, y = 2`, an equation of two expressions).
fn relation(sides: &[&str], ops: &[RelOp], next: usize) -> Option<Answer> {
    let has_comma = |s: &str| split_top(s, ",").len() >= 2;
    if ops.iter().all(|o| *o == RelOp::Eq) {
        return match sides {
            [lhs, rhs] => {
                if let Some(label) = label_of(lhs) {
                    Some(labelled(label, LabelKind::Equals, parse_at(rhs, next)))
                } else if !has_comma(lhs) && !has_comma(rhs) {
                    let label = label_of(rhs)?;
                    Some(labelled(label, LabelKind::Equals, parse_at(lhs, next)))
                } else {
                    None
                }
            }
            // A chain `z = 4 + 5 = 9` is judged by its last side.
            [first, .., last] if !sides.iter().any(|s| has_comma(s)) => {
                let value = parse_at(last, next);
                Some(match label_of(first) {
                    Some(label) => labelled(label, LabelKind::Equals, value),
                    None => value,
                })
            }
            _ => None,
        };
    }
    if sides.iter().any(|s| has_comma(s)) {
        return None;
    }
    if let Some(negated) = negated_relation(sides, ops) {
        return Some(parse_at(&negated, next));
    }
    let part = |s: &str| parse_at(s, next);
    match (sides, ops) {
        ([a, b], [op]) => match (label_of(a), label_of(b)) {
            (Some(label), None) => {
                Some(labelled(label, LabelKind::Member, half_line(*op, part(b))))
            }
            (None, Some(label)) => Some(labelled(
                label,
                LabelKind::Member,
                half_line(op.flipped(), part(a)),
            )),
            _ => Some(general_relation(sides, ops, next)),
        },
        ([a, m, b], [o1, o2])
            if (o1.is_less() && o2.is_less()) || (o1.is_greater() && o2.is_greater()) =>
        {
            match (label_of(a), label_of(m), label_of(b)) {
                (None, Some(label), None) => {
                    // `9 \ge t > -2` is `-2 < t \le 9`.
                    let (low, high, o1, o2) = if o1.is_less() {
                        (a, b, *o1, *o2)
                    } else {
                        (b, a, o2.flipped(), o1.flipped())
                    };
                    let interval = Answer::Ordered {
                        open: if o1 == RelOp::Lt { '(' } else { '[' },
                        close: if o2 == RelOp::Lt { ')' } else { ']' },
                        items: vec![part(low), part(high)],
                    };
                    Some(labelled(label, LabelKind::Member, interval))
                }
                _ => Some(general_relation(sides, ops, next)),
            }
        }
        _ => Some(general_relation(sides, ops, next)),
    }
}

/// An inequality about a negated variable, multiplied by -1: `-x > -1` → `x < -(-1)`,
/// `1 < -t \le 3` → `-(1) > t \ge -(3)`. `None` unless exactly one side is `-label` and no
/// other side is a label, and every relation is an inequality.
fn negated_relation(sides: &[&str], ops: &[RelOp]) -> Option<String> {
    if ops.contains(&RelOp::Eq) {
        return None;
    }
    fn negated(s: &str) -> Option<&str> {
        s.trim()
            .strip_prefix('-')
            .filter(|rest| label_of(rest).is_some())
    }
    let mut found = None;
    for (k, side) in sides.iter().enumerate() {
        if negated(side).is_some() {
            if found.is_some() {
                return None;
            }
            found = Some(k);
        } else if label_of(side).is_some() {
            return None;
        }
    }
    let found = found?;
    let mut out = String::new();
    for (k, side) in sides.iter().enumerate() {
        if let Some(op) = k.checked_sub(1).and_then(|k| ops.get(k)) {
            out.push_str(op.flipped().symbol());
        }
        let side = side.trim();
        match negated(side).filter(|_| k == found) {
            Some(name) => out.push_str(name),
            None => out.push_str(&negative_of(side)),
        }
    }
    Some(out)
}

/// `-s`, written plainly for a number: `3` → `-3`, `-1` → `1`, `x + 1` → `-(x + 1)`.
fn negative_of(s: &str) -> String {
    match s.strip_prefix('-') {
        Some(rest) if is_plain_number(rest) => rest.to_string(),
        _ if is_plain_number(s) => format!("-{s}"),
        _ => format!("-({s})"),
    }
}

/// The set of `x` with `x op value`: `x < 3` is `(-\infty, 3)`, `x \ne 3` is
/// `(-\infty, 3) \cup (3, \infty)`.
fn half_line(op: RelOp, value: Answer) -> Answer {
    let infinity =
        |negative: bool| Answer::Leaf(leaf(if negative { "-\\infty" } else { "\\infty" }));
    let interval = |open: char, close: char, low: Answer, high: Answer| Answer::Ordered {
        open,
        close,
        items: vec![low, high],
    };
    match op {
        RelOp::Lt => interval('(', ')', infinity(true), value),
        RelOp::Le => interval('(', ']', infinity(true), value),
        RelOp::Gt => interval('(', ')', value, infinity(false)),
        RelOp::Ge => interval('[', ')', value, infinity(false)),
        RelOp::Ne | RelOp::Eq => Answer::Union(vec![
            interval('(', ')', infinity(true), value.clone()),
            interval('(', ')', value, infinity(false)),
        ]),
    }
}

/// A relation that is not an interval, turned to read left to right when every relation is a
/// greater-than: `3 \ge x + y` is `x + y \le 3`.
fn general_relation(sides: &[&str], ops: &[RelOp], next: usize) -> Answer {
    let mut sides: Vec<Answer> = sides.iter().map(|s| parse_at(s, next)).collect();
    let mut ops = ops.to_vec();
    if ops.iter().all(|o| o.is_greater()) {
        sides.reverse();
        ops.reverse();
        for o in &mut ops {
            *o = o.flipped();
        }
    }
    Answer::Relation { sides, ops }
}

/// A list of intervals of one variable is their union: `x < 2 or x > 5` is
/// `x \in (-\infty, 2) \cup (5, \infty)`.
fn union_of_memberships(items: &[Answer]) -> Option<Answer> {
    let mut label = None;
    let mut parts = Vec::new();
    for item in items {
        let Answer::Labelled {
            label: l,
            kind: LabelKind::Member,
            value,
        } = item
        else {
            return None;
        };
        if label.get_or_insert(l) != &l {
            return None;
        }
        match value.as_ref() {
            Answer::Ordered { items, .. } if items.len() == 2 => parts.push(value.as_ref().clone()),
            Answer::Union(more) => parts.extend(more.iter().cloned()),
            _ => return None,
        }
    }
    Some(labelled(
        label?.clone(),
        LabelKind::Member,
        Answer::Union(parts),
    ))
}

/// The label when `s` names a value rather than computes one: a variable or a tuple of them
/// (`x`, `(x, y)`), a function of variables or numbers (`f(x)`, `g(x, y)`, `f^{-1}(x)`,
/// `P(2)`), a named length, angle or area (`CD`, `|CD|`, `\overline{CD}`, `\angle ABC`,
/// `m\angle A`, `[ABC]`), or a `\text{...}` name. Spaces are dropped but after a command.
fn label_of(s: &str) -> Option<String> {
    let s = s.trim();
    let named = is_name_or_names(s)
        || is_function_of_names(s)
        || is_geometric_name(s)
        || is_ratio_of_names(s)
        || normalize::text_argument(s).is_some_and(|t| {
            t.chars().any(|c| c.is_ascii_alphabetic())
                && t.chars().all(|c| c.is_ascii_alphabetic() || c == ' ')
        });
    named.then(|| normalize::squash_spaces(s))
}

fn is_name(s: &str) -> bool {
    matches!(expr::parse(s.trim()), Some(Expr::Var(_)))
}

fn is_name_or_names(s: &str) -> bool {
    match wrapped(s, "(", ")") {
        Some(inner) => {
            let names = split_top(inner, ",");
            names.len() >= 2 && names.iter().all(|n| is_name(n))
        }
        None => is_name(s),
    }
}

/// `f(x)`, `g(x, y)`, `f'(x)`, `f^{-1}(x)`, `P(2)`: one of the letters people name functions
/// with, applied to variables or integers.
fn is_function_of_names(s: &str) -> bool {
    let Some(open) = s.find('(') else {
        return false;
    };
    let (Some(head), Some(call)) = (s.get(..open), s.get(open..)) else {
        return false;
    };
    let Some(arguments) = wrapped(call.trim_end(), "(", ")") else {
        return false;
    };
    let mut head = head.chars().filter(|c| !c.is_whitespace());
    let name_ok = head.next().is_some_and(|f| "fghpqrFGHPQR".contains(f));
    let rest: String = head.collect();
    let arguments = split_top(arguments, ",");
    name_ok
        && matches!(rest.as_str(), "" | "'" | "''" | "^{-1}" | "^-1")
        && arguments
            .iter()
            .all(|a| is_name(a) || a.trim().parse::<i64>().is_ok())
}

/// `CD`, `|CD|`, `\overline{CD}`, `\angle ABC`, `m\angle A`, `[ABC]`: points named by capital
/// letters.
fn is_geometric_name(s: &str) -> bool {
    let points = |t: &str, fewest: usize, most: usize| {
        let t = t.trim();
        (fewest..=most).contains(&t.len()) && t.chars().all(|c| c.is_ascii_uppercase())
    };
    let s = s.trim();
    let angle = s
        .strip_prefix('m')
        .map(str::trim_start)
        .filter(|r| r.starts_with("\\angle"))
        .unwrap_or(s);
    if let Some(vertices) = angle.strip_prefix("\\angle") {
        return points(vertices, 1, 3);
    }
    if let Some(inner) = s.strip_prefix('|').and_then(|r| r.strip_suffix('|')) {
        return points(inner, 2, 2);
    }
    if let Some(inner) = s
        .strip_prefix("\\overline{")
        .and_then(|r| r.strip_suffix('}'))
    {
        return points(inner, 2, 2);
    }
    if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        return points(inner, 3, 4);
    }
    points(s, 2, 3)
}

/// `V_1 : V_2`, `AO : OB`, `\frac{AO}{OB}`, `a/b`: a ratio or quotient of two different
/// names, which names a value as a length does.
fn is_ratio_of_names(s: &str) -> bool {
    let name = |t: &str| is_name(t) || is_geometric_name(t);
    let pair = |a: &str, b: &str| name(a) && name(b) && a.trim() != b.trim();
    if let [a, b] = split_top(s, ":").as_slice() {
        return pair(a, b);
    }
    if let [a, b] = split_top(s, "/").as_slice() {
        return pair(a, b);
    }
    let Some(rest) = s.trim().strip_prefix("\\frac{") else {
        return false;
    };
    let Some(close) = rest.find('}') else {
        return false;
    };
    let (a, b) = (rest.get(..close), rest.get(close + 1..));
    match (a, b.and_then(|b| b.strip_prefix('{')?.strip_suffix('}'))) {
        (Some(a), Some(b)) => !b.contains(['{', '}']) && pair(a, b),
        _ => false,
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
/// `matrix`, `array`...), row by row; an environment in brackets
/// (`\left[\begin{array}{cc}...\end{array}\right]`) is the same matrix.
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
    let s = bracketed(s)
        .filter(|(_, inner, _)| inner.trim_start().starts_with("\\begin{"))
        .map_or(s, |(_, inner, _)| inner.trim());
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
        expr::parse(&text).map(|e| Scalar::of(&e, decimal_digits(&text)))
    };
    Leaf {
        form: text,
        is_text,
        choice,
        math,
    }
}

/// `A`, `(b)`, `B)` → a multiple-choice letter A–E, upper case; so is a capital letter in
/// parentheses followed by its option's value, `(B)12`, `(B)\frac{1}{2}`, `(B)Monday` (spaces
/// are gone by now), but not by one more letter, `(A)x`, which is a product.
fn choice_letter(s: &str) -> Option<char> {
    if let Some(rest) = s.strip_prefix('(') {
        let mut chars = rest.chars();
        if let (Some(c @ 'A'..='E'), Some(')')) = (chars.next(), chars.next()) {
            let value = chars.as_str();
            let number = value.starts_with(|n: char| n.is_ascii_digit() || n == '\\' || n == '-');
            let word = value.len() >= 2 && value.chars().all(|n| n.is_ascii_alphabetic());
            if (number || word) && !value.contains('(') {
                return Some(c);
            }
        }
    }
    let s = s
        .strip_suffix(')')
        .filter(|t| !t.contains('('))
        .unwrap_or(s);
    let s = wrapped(s, "(", ")").unwrap_or(s);
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if matches!(c.to_ascii_uppercase(), 'A'..='E') => {
            Some(c.to_ascii_uppercase())
        }
        _ => None,
    }
}

/// The digits of a plain decimal literal (`0.5`, `-3.14159265`, `.25`); `None` for anything
/// else (`3`, `1.5e3`, `0.\overline{3}`, `2x`).
fn decimal_digits(s: &str) -> Option<Decimal> {
    let (negative, unsigned) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (whole, fraction) = unsigned.split_once('.')?;
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let all = whole.chars().chain(fraction.chars());
    let significant = all.skip_while(|c| *c == '0').count();
    Some(Decimal {
        places: u32::try_from(fraction.len()).ok()?,
        significant: u32::try_from(significant).ok()?,
        negative,
    })
}

impl Scalar {
    fn of(e: &Expr, decimal: Option<Decimal>) -> Self {
        // `e` is Euler's number in an expression with no other variable.
        let euler;
        let e = if e.has_variables() && e.only_variable_is("e") {
            euler = e.with_euler();
            &euler
        } else {
            e
        };
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
            decimal,
        }
    }
}

/// Equal within a relative 1e-9 (plus 1e-12 absolute, for round-off around zero); infinities
/// equal themselves; NaN equals nothing.
fn close(a: f64, b: f64) -> bool {
    a == b
        || (a.is_finite() && b.is_finite() && (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12)
}

/// A decimal literal against an exact value that is not one (see the module's decimal rule).
fn compare_decimal(d: &Scalar, digits: Decimal, v: &Scalar) -> Outcome {
    let (x, y) = (d.values[0], v.values[0]);
    if let (Some(p), Some(q)) = (d.exact, v.exact) {
        if p == q {
            return Outcome::new(true, Rule::Rationals, format!("rationals {p} = {q}"));
        }
    }
    // An irrational value equals a decimal only to floating-point precision.
    let slack = 8.0 * f64::EPSILON * x.abs().max(y.abs());
    if v.exact.is_none() && (x - y).abs() <= slack {
        return Outcome::new(true, Rule::Numbers, format!("numbers {x} = {y}"));
    }
    let places = digits.places;
    if digits.significant < MIN_DECIMAL_DIGITS {
        return Outcome::new(
            false,
            Rule::Decimals,
            format!(
                "decimals: {x} has {} significant digits, fewer than {MIN_DECIMAL_DIGITS}, and is not {y}",
                digits.significant
            ),
        );
    }
    let states = rounds_or_truncates(d, digits, v).unwrap_or_else(|| {
        // Beyond exact arithmetic: the same test on floats, to their precision.
        let unit = 10f64.powi(-i32::try_from(places).unwrap_or(i32::MAX));
        let above = if digits.negative { x - y } else { y - x };
        above >= -unit / 2.0 - slack && above < unit + slack
    });
    let verdict = if states { "is" } else { "is not" };
    Outcome::new(
        states,
        Rule::Decimals,
        format!("decimals: {x} {verdict} {y} rounded or truncated to {places} places"),
    )
}

/// Whether the exact value rounded or truncated to the decimal's places is the decimal, in
/// exact arithmetic: the value lies in `[d - u/2, d + u)` away from zero, `u = 10^-places`.
/// `None` when the numbers do not fit.
fn rounds_or_truncates(d: &Scalar, digits: Decimal, v: &Scalar) -> Option<bool> {
    let (p, q) = (d.exact?, v.exact?);
    let unit = Rational::integer(10)?
        .pow(i128::from(digits.places))?
        .recip()?;
    let half = unit.checked_div(Rational::integer(2)?)?;
    let above = q.checked_sub(p)?;
    let above = if digits.negative { -above } else { above };
    Some(above.checked_add(half)?.numer() >= 0 && above.checked_sub(unit)?.numer() < 0)
}

/// Compares two numbers or expressions: a decimal against an exact value by the decimal rule,
/// else exactly when both are rational, else numerically, else at the test points. `None`
/// when none of these can decide (e.g. both undefined).
fn compare_scalars(a: &Scalar, b: &Scalar) -> Option<Outcome> {
    let constant = |s: &Scalar| !s.has_variables && s.values[0].is_finite();
    match (a.decimal, b.decimal) {
        (Some(digits), None) if constant(a) && constant(b) => {
            return Some(compare_decimal(a, digits, b))
        }
        (None, Some(digits)) if constant(a) && constant(b) => {
            return Some(compare_decimal(b, digits, a))
        }
        _ => {}
    }
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
    if same_up_to_order(&a.form, &b.form) {
        return Outcome::new(
            true,
            Rule::Expressions,
            "expressions equal up to the order of terms and factors".into(),
        );
    }
    let equal = a.form == b.form;
    Outcome::new(
        equal,
        Rule::Strings,
        format!("strings '{}' {} '{}'", a.form, op(equal), b.form),
    )
}

/// Whether two normal forms differ only in the order of the terms of sums and the factors of
/// products: `\sqrt{x-50} + \sqrt{y}` = `\sqrt{y} + \sqrt{x-50}` where the test points cannot
/// decide (both are undefined there). Expressions compare by a canonical order of their parse
/// trees; other text by the sorted terms of its top-level sum. Sorting, not search: linear
/// times a logarithm in the size.
fn same_up_to_order(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (expr::parse(a), expr::parse(b)) {
        (Some(x), Some(y)) => x.canonical() == y.canonical(),
        (None, None) => {
            let (x, y) = (sorted_terms(a), sorted_terms(b));
            x.len() >= 2 && x == y
        }
        _ => false,
    }
}

/// The signed terms of the top-level sum of `s`, sorted: `b-a+c` → `+b`, `+c`, `-a`.
fn sorted_terms(s: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut term = String::from("+");
    let mut depth = 0i64;
    let mut previous = ' ';
    for c in s.chars() {
        let splits = depth == 0
            && matches!(c, '+' | '-')
            && !matches!(previous, '^' | '_' | '\\' | ' ')
            && term.len() > 1;
        if splits {
            terms.push(std::mem::replace(&mut term, c.to_string()));
        } else if matches!(c, '+' | '-') && term == "+" {
            term = c.to_string();
        } else {
            term.push(c);
        }
        depth += normalize::depth_step(c);
        previous = c;
    }
    terms.push(term);
    terms.sort();
    terms
}

/// The values of `lhs - rhs` at the test points, when both sides are math.
fn difference(lhs: &Answer, rhs: &Answer) -> Option<([f64; POINTS], [f64; POINTS])> {
    let (Answer::Leaf(l), Answer::Leaf(r)) = (lhs, rhs) else {
        return None;
    };
    let (l, r) = (l.math.as_ref()?, r.math.as_ref()?);
    let mut difference = [f64::NAN; POINTS];
    let mut size = [f64::NAN; POINTS];
    for k in 0..POINTS {
        difference[k] = l.values[k] - r.values[k];
        size[k] = l.values[k].abs() + r.values[k].abs();
    }
    Some((difference, size))
}

/// Whether `f = c g` for one constant `c != 0` at every test point where both are defined (at
/// least three), with `f`, `g` the differences of the sides: then the two equations have the
/// same solutions (`4a + 2b = 6` and `b = 3 - 2a`). Checked both ways round, so symmetric.
fn proportional(f: &([f64; POINTS], [f64; POINTS]), g: &([f64; POINTS], [f64; POINTS])) -> bool {
    let one_way = |(f, fs): &([f64; POINTS], [f64; POINTS]),
                   (g, gs): &([f64; POINTS], [f64; POINTS])| {
        let defined: Vec<usize> = (0..POINTS)
            .filter(|&k| {
                f[k].is_finite() && g[k].is_finite() && fs[k].is_finite() && gs[k].is_finite()
            })
            .collect();
        if defined.len() < MIN_AGREEING_POINTS {
            return false;
        }
        let Some(&pivot) = defined
            .iter()
            .max_by(|&&i, &&j| f[i].abs().total_cmp(&f[j].abs()))
        else {
            return false;
        };
        let c = g[pivot] / f[pivot];
        let tolerance = |k: usize| 1e-9 * (gs[k] + c.abs() * fs[k]) + 1e-12;
        c.is_finite()
            && c != 0.0
            && defined
                .iter()
                .all(|&k| (g[k] - c * f[k]).abs() <= tolerance(k))
    };
    let identity = |(f, fs): &([f64; POINTS], [f64; POINTS])| {
        (0..POINTS).all(|k| !f[k].is_finite() || f[k].abs() <= 1e-9 * fs[k] + 1e-12)
    };
    // Two identities (true everywhere) have the same solutions; one of them does not.
    match (identity(f), identity(g)) {
        (true, true) => true,
        (false, false) => one_way(f, g) && one_way(g, f),
        _ => false,
    }
}

/// Two equations: side by side, swapped, or with proportional differences of their sides.
fn compare_equations(l1: &Answer, r1: &Answer, l2: &Answer, r2: &Answer) -> Outcome {
    let same = compare(l1, l2).equal && compare(r1, r2).equal;
    let swapped = !same && compare(l1, r2).equal && compare(r1, l2).equal;
    let multiple = !same
        && !swapped
        && match (difference(l1, r1), difference(l2, r2)) {
            (Some(f), Some(g)) => proportional(&f, &g),
            _ => false,
        };
    let detail = if same {
        "equations: both sides equal"
    } else if swapped {
        "equations: sides equal, swapped"
    } else if multiple {
        "equations: one is a multiple of the other, so they have the same solutions"
    } else {
        "equations: sides differ"
    };
    Outcome::new(same || swapped || multiple, Rule::Equations, detail.into())
}

/// A labelled value against a bare one: the value decides.
fn compare_value(label: &str, value: &Answer, other: &Answer, label_first: bool) -> Outcome {
    let o = if label_first {
        compare(value, other)
    } else {
        compare(other, value)
    };
    Outcome::new(o.equal, o.rule, format!("{label} dropped: {}", o.detail))
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
        (Answer::Unordered { items: x, .. }, Answer::Unordered { items: y, .. }) => {
            compare_any_order(x, y, Rule::Sets, "sets")
        }
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
        (Answer::Equation(l1, r1), Answer::Equation(l2, r2)) => compare_equations(l1, r1, l2, r2),
        (
            Answer::Labelled {
                label: l1,
                kind: k1,
                value: v1,
            },
            Answer::Labelled {
                label: l2,
                kind: k2,
                value: v2,
            },
        ) => {
            if l1 == l2 {
                let o = compare(v1, v2);
                return Outcome::new(o.equal, o.rule, format!("both {l1}: {}", o.detail));
            }
            if (*k1, *k2) == (LabelKind::Equals, LabelKind::Equals) {
                let (n1, n2) = (Answer::Leaf(leaf(l1)), Answer::Leaf(leaf(l2)));
                let o = compare_equations(&n1, v1, &n2, v2);
                if o.equal {
                    return o;
                }
            }
            Outcome::new(false, Rule::Labels, format!("labels {l1} != {l2}"))
        }
        (
            Answer::Labelled {
                label,
                kind: LabelKind::Equals,
                value,
            },
            Answer::Equation(l, r),
        ) => compare_equations(&Answer::Leaf(leaf(label)), value, l, r),
        (
            Answer::Equation(l, r),
            Answer::Labelled {
                label,
                kind: LabelKind::Equals,
                value,
            },
        ) => compare_equations(l, r, &Answer::Leaf(leaf(label)), value),
        (Answer::Labelled { label, value, .. }, other) => compare_value(label, value, other, true),
        (other, Answer::Labelled { label, value, .. }) => compare_value(label, value, other, false),
        (Answer::Relation { sides: s1, ops: o1 }, Answer::Relation { sides: s2, ops: o2 }) => {
            let (x, y): (Vec<_>, Vec<_>) = (s1.iter().collect(), s2.iter().collect());
            let in_order = o1 == o2 && compare_in_order(&x, &y, Rule::Relations, "relations").equal;
            // `a \ne b` is `b \ne a`.
            let swapped =
                !in_order && o1 == o2 && matches!(o1.as_slice(), [RelOp::Ne | RelOp::Eq]) && {
                    let y: Vec<_> = s2.iter().rev().collect();
                    compare_in_order(&x, &y, Rule::Relations, "relations").equal
                };
            let detail = if in_order || swapped {
                "relations: same relations, sides equal"
            } else {
                "relations: relations or sides differ"
            };
            Outcome::new(in_order || swapped, Rule::Relations, detail.into())
        }
        (
            Answer::Ordered {
                open: '(',
                close: ')',
                items: tuple,
            },
            Answer::Unordered { items, braced },
        )
        | (
            Answer::Unordered { items, braced },
            Answer::Ordered {
                open: '(',
                close: ')',
                items: tuple,
            },
        ) => tuple_against_list(tuple, items, *braced).unwrap_or_else(|| {
            Outcome::new(false, Rule::Shapes, format!("{} vs {}", a.kind(), b.kind()))
        }),
        _ => Outcome::new(false, Rule::Shapes, format!("{} vs {}", a.kind(), b.kind())),
    }
}

/// A tuple in parentheses against a list: assignments to different variables are the tuple of
/// their values in order (`p = 5, q = 2` = `(5, 2)`); a set in braces has the tuple's items in
/// any order (`\{1, 3\}` = `(3, 1)`), unless the tuple has an infinite end (an interval). A
/// bare list without braces never equals a tuple (`1, 2` ≠ `(1, 2)`). `None`: different shapes.
fn tuple_against_list(tuple: &[Answer], items: &[Answer], braced: bool) -> Option<Outcome> {
    if let Some(values) = assignment_values(items) {
        let tuple: Vec<&Answer> = tuple.iter().collect();
        let o = compare_in_order(&tuple, &values, Rule::Tuples, "assignments as a tuple");
        return Some(o);
    }
    let infinite = |a: &Answer| matches!(a, Answer::Leaf(Leaf { math: Some(m), .. }) if m.values[0].is_infinite());
    (braced && !tuple.iter().any(infinite))
        .then(|| compare_any_order(tuple, items, Rule::Sets, "a tuple against a set"))
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
            Answer::Unordered { items, .. } => {
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
            Answer::Labelled {
                label,
                kind: LabelKind::Equals,
                value,
            } => write!(f, "{label}={value}"),
            Answer::Labelled {
                label,
                kind: LabelKind::Member,
                value,
            } => write!(f, "{label}\\in {value}"),
            Answer::Relation { sides, ops } => {
                for (k, side) in sides.iter().enumerate() {
                    if let Some(op) = k.checked_sub(1).and_then(|k| ops.get(k)) {
                        f.write_str(op.symbol())?;
                    }
                    write!(f, "{side}")?;
                }
                Ok(())
            }
            Answer::Leaf(leaf) if leaf.is_text => write!(f, "\\text{{{}}}", leaf.form),
            Answer::Leaf(leaf) => f.write_str(&leaf.form),
        }
    }
}
